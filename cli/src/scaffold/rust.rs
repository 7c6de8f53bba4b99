//! `wasmplug new` and `wasmplug build` for Rust: a plugin crate that
//! builds to a component and a native library from one source (the layout
//! of `docs/writing-a-plugin.md`, with the native bridge's `plugin!`).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use wit_parser::{
    Function, FunctionKind, Handle, InterfaceId, Resolve, Type, TypeDefKind, TypeId, TypeOwner,
    WorldItem, WorldKey,
};

use super::{Prepared, camel, snake};
use crate::failure::{Failure, Outcome};

/// The native bridge the scaffolded crate depends on: this repository's,
/// as the CLI was built from it (`wasmplug-native` is not published).
const NATIVE_BRIDGE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../native-bridge");

/// A Rust crate: Cargo.toml and src/lib.rs.
pub(super) fn new(name: &str, prepared: &Prepared) -> Outcome {
    let stubs = Stubs::new(&prepared.resolve, prepared.world, name);
    let native_gaps = stubs.native_gaps();
    let lib = stubs.source(&prepared.world_name)?;
    prepared.write("Cargo.toml", &cargo_toml(name))?;
    prepared.write("src/lib.rs", &lib)?;
    // Tidy, when rustfmt is there; the code is valid either way.
    let _ = Command::new("rustfmt")
        .args(["--edition", "2024"])
        .arg(prepared.dest.join("src/lib.rs"))
        .status();
    prepared.write(".gitignore", "/target\n")?;
    for gap in native_gaps {
        eprintln!(
            "note: {gap}: native ABI v1 has no constructors or static functions, so only the component will build"
        );
    }
    Ok(())
}

fn cargo_toml(name: &str) -> String {
    let bridge = Path::new(NATIVE_BRIDGE);
    let bridge = bridge.canonicalize().unwrap_or_else(|_| bridge.to_owned());
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2024"

# One source, two artifacts: `wasmplug build` makes the component
# (wasm32-wasip2, wit-bindgen) and the native library (wasmplug-native).
[lib]
crate-type = ["cdylib"]

[dependencies]
wasmplug-native = {{ path = {bridge:?}, default-features = false }}

[target.'cfg(target_arch = "wasm32")'.dependencies]
wit-bindgen = "0.61"

[profile.release]
opt-level = "s"
strip = "debuginfo"

# A crate of its own, not a member of an enclosing workspace.
[workspace]
"#,
        bridge = bridge.display().to_string()
    )
}

/// Writes the plugin's `src/lib.rs`: the base interface implemented, every
/// other export a stub.
struct Stubs<'a> {
    resolve: &'a Resolve,
    world: wit_parser::WorldId,
    name: &'a str,
    out: String,
}

impl<'a> Stubs<'a> {
    fn new(resolve: &'a Resolve, world: wit_parser::WorldId, name: &'a str) -> Self {
        Stubs {
            resolve,
            world,
            name,
            out: String::new(),
        }
    }

    /// The exported functions the native bridge's generator refuses.
    fn native_gaps(&self) -> Vec<String> {
        let world = &self.resolve.worlds[self.world];
        world
            .exports
            .iter()
            .filter_map(|(key, item)| match item {
                WorldItem::Interface { id, .. } => Some((key, *id)),
                _ => None,
            })
            .flat_map(|(key, id)| {
                let name = self.resolve.name_world_key(key);
                self.resolve.interfaces[id]
                    .functions
                    .values()
                    .filter(|f| {
                        matches!(
                            f.kind,
                            FunctionKind::Constructor(_) | FunctionKind::Static(_)
                        )
                    })
                    .map(move |f| format!("`{name}#{}`", f.name))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    fn source(mut self, world_name: &str) -> Outcome<String> {
        let _ = writeln!(
            self.out,
            "//! The {} plugin: one source for its component and its native library.\n\n\
             wasmplug_native::plugin!({{\n    path: \"wit\",\n    world: {world_name:?},\n    generate_all,\n}});\n\n\
             /// The plugin.\nstruct Plugin;",
            self.name
        );
        let exports: Vec<(WorldKey, WorldItem)> = self.resolve.worlds[self.world]
            .exports
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (key, item) in exports {
            match item {
                WorldItem::Interface { id, .. } => self.interface(&key, id)?,
                WorldItem::Function(_) | WorldItem::Type { .. } => {
                    return Err(Failure::usage(format!(
                        "world `{world_name}` exports a bare function or type (`{}`): only interfaces are scaffolded",
                        self.resolve.name_world_key(&key)
                    )));
                }
            }
        }
        let _ = writeln!(self.out, "\nexport!(Plugin);");
        Ok(self.out)
    }

    /// The Rust module path of an interface's bindings.
    fn module(&self, id: InterfaceId) -> String {
        let iface = &self.resolve.interfaces[id];
        let exported = self.resolve.worlds[self.world]
            .exports
            .values()
            .any(|item| matches!(item, WorldItem::Interface { id: e, .. } if *e == id));
        let mut path = if exported {
            "exports::".to_owned()
        } else {
            String::new()
        };
        if let Some(package) = iface.package {
            let name = &self.resolve.packages[package].name;
            let _ = write!(path, "{}::{}::", snake(&name.namespace), snake(&name.name));
        }
        path.push_str(&snake(iface.name.as_deref().unwrap_or("interface")));
        path
    }

    fn interface(&mut self, key: &WorldKey, id: InterfaceId) -> Outcome {
        let module = self.module(id);
        let iface = &self.resolve.interfaces[id];
        let is_base = self
            .resolve
            .name_world_key(key)
            .starts_with("wasmplug:plugin/plugin@");
        let in_base_package = self
            .resolve
            .name_world_key(key)
            .starts_with("wasmplug:plugin/");
        let resources: Vec<(String, TypeId)> = iface
            .types
            .iter()
            .filter(|(_, t)| matches!(self.resolve.types[**t].kind, TypeDefKind::Resource))
            .map(|(n, t)| (n.clone(), *t))
            .collect();
        let _ = writeln!(self.out, "\nimpl {module}::Guest for Plugin {{");
        for (name, _) in &resources {
            let _ = writeln!(
                self.out,
                "    type {} = {};",
                camel(name),
                self.resource_impl(&module, name)
            );
        }
        for func in iface.functions.values() {
            if matches!(func.kind, FunctionKind::Freestanding) {
                let body = if is_base {
                    self.base_body(&func.name, &module)
                } else if in_base_package && self.returns_result(func) {
                    "Ok(())".to_owned()
                } else {
                    stub(func)
                };
                self.function(func, &body, "    ");
            }
        }
        let _ = writeln!(self.out, "}}");
        for (name, ty) in resources {
            let struct_name = self.resource_impl(&module, &name);
            let _ = writeln!(
                self.out,
                "\n/// The `{name}` resource.\nstruct {struct_name};"
            );
            let _ = writeln!(
                self.out,
                "\nimpl {module}::Guest{} for {struct_name} {{",
                camel(&name)
            );
            for func in iface.functions.values() {
                let owner = match func.kind {
                    FunctionKind::Method(r)
                    | FunctionKind::Static(r)
                    | FunctionKind::Constructor(r) => r,
                    _ => continue,
                };
                if owner == ty {
                    self.function(func, &stub(func), "    ");
                }
            }
            let _ = writeln!(self.out, "}}");
        }
        Ok(())
    }

    fn resource_impl(&self, module: &str, name: &str) -> String {
        let iface = module.rsplit("::").next().unwrap_or(module);
        format!("{}{}", camel(iface), camel(name))
    }

    fn returns_result(&self, func: &Function) -> bool {
        matches!(func.result, Some(Type::Id(id)) if matches!(self.resolve.types[id].kind, TypeDefKind::Result(_)))
    }

    fn base_body(&self, func: &str, module: &str) -> String {
        match func {
            "get-metadata" => format!(
                "{module}::Metadata {{\n            name: {:?}.into(),\n            version: env!(\"CARGO_PKG_VERSION\").into(),\n            description: String::new(),\n        }}",
                self.name
            ),
            "init" => "let _ = config;\n        Ok(())".to_owned(),
            _ => String::new(),
        }
    }

    fn function(&mut self, func: &Function, body: &str, indent: &str) {
        let name = match &func.kind {
            FunctionKind::Constructor(_) => "new".to_owned(),
            _ => snake(func.item_name()),
        };
        let mut params = Vec::new();
        for (i, param) in func.params.iter().enumerate() {
            if i == 0 && matches!(func.kind, FunctionKind::Method(_)) {
                params.push("&self".to_owned());
                continue;
            }
            params.push(format!("{}: {}", snake(&param.name), self.rust(&param.ty)));
        }
        let result = match (&func.kind, &func.result) {
            (FunctionKind::Constructor(_), _) => " -> Self".to_owned(),
            (_, Some(ty)) => format!(" -> {}", self.rust(ty)),
            (_, None) => String::new(),
        };
        let body = if body.is_empty() {
            String::new()
        } else {
            format!("{indent}    {body}\n")
        };
        let _ = writeln!(
            self.out,
            "{indent}fn {name}({}){result} {{\n{body}{indent}}}",
            params.join(", ")
        );
    }

    /// The Rust type wit-bindgen uses for `ty` in an export's signature.
    fn rust(&self, ty: &Type) -> String {
        match ty {
            Type::Bool => "bool".into(),
            Type::U8 => "u8".into(),
            Type::U16 => "u16".into(),
            Type::U32 => "u32".into(),
            Type::U64 => "u64".into(),
            Type::S8 => "i8".into(),
            Type::S16 => "i16".into(),
            Type::S32 => "i32".into(),
            Type::S64 => "i64".into(),
            Type::F32 => "f32".into(),
            Type::F64 => "f64".into(),
            Type::Char => "char".into(),
            Type::String => "String".into(),
            Type::ErrorContext => "wit_bindgen::ErrorContext".into(),
            Type::Id(id) => self.rust_id(*id),
        }
    }

    fn rust_id(&self, id: TypeId) -> String {
        let def = &self.resolve.types[id];
        let named = |name: String| match (&def.name, def.owner) {
            (Some(_), TypeOwner::Interface(owner)) => format!("{}::{name}", self.module(owner)),
            _ => name,
        };
        if let Some(name) = &def.name
            && !matches!(def.kind, TypeDefKind::Type(_))
        {
            return named(camel(name));
        }
        match &def.kind {
            TypeDefKind::List(t) => format!("Vec<{}>", self.rust(t)),
            TypeDefKind::Option(t) => format!("Option<{}>", self.rust(t)),
            TypeDefKind::Result(r) => format!(
                "Result<{}, {}>",
                r.ok.as_ref().map_or("()".into(), |t| self.rust(t)),
                r.err.as_ref().map_or("()".into(), |t| self.rust(t))
            ),
            TypeDefKind::Tuple(t) => {
                let items: Vec<String> = t.types.iter().map(|t| self.rust(t)).collect();
                if items.len() == 1 {
                    format!("({},)", items[0])
                } else {
                    format!("({})", items.join(", "))
                }
            }
            TypeDefKind::Handle(Handle::Own(r)) => self.rust_id(*r),
            TypeDefKind::Handle(Handle::Borrow(r)) => {
                format!("{}Borrow<'_>", self.rust_id(*r))
            }
            TypeDefKind::Type(t) => match &def.name {
                Some(name) => named(camel(name)),
                None => self.rust(t),
            },
            _ => "()".into(),
        }
    }
}

/// A body that uses the parameters (no warnings) and panics.
fn stub(func: &Function) -> String {
    let used: Vec<String> = func
        .params
        .iter()
        .filter(|p| !(p.name == "self" && matches!(func.kind, FunctionKind::Method(_))))
        .map(|p| snake(&p.name))
        .collect();
    let unused = match used.as_slice() {
        [] => String::new(),
        [one] => format!("let _ = {one};\n        "),
        many => format!("let _ = ({});\n        ", many.join(", ")),
    };
    format!("{unused}unimplemented!(\"`{}`\")", func.name)
}

/// `wasmplug build [DIR]` of a Rust crate: its component and its native
/// library.
pub(super) fn build(dir: &Path) -> Outcome {
    let manifest = dir.join("Cargo.toml");
    if !manifest.is_file() {
        return Err(Failure::usage(format!(
            "{} has no Cargo.toml or {}: give the directory `wasmplug new` made",
            dir.display(),
            super::BUILD_FILE
        )));
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let target_dir =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| dir.join("target"), PathBuf::from);
    let name = crate_name(&manifest)?;
    let artifact = name.replace('-', "_");
    for target in [Some("wasm32-wasip2"), None] {
        let mut command = Command::new(&cargo);
        command
            .arg("build")
            .arg("--release")
            .arg("--manifest-path")
            .arg(&manifest)
            .env("CARGO_TARGET_DIR", &target_dir);
        if let Some(target) = target {
            command.args(["--target", target]);
        }
        let status = command
            .status()
            .map_err(|e| Failure::other(format!("cannot run cargo: {e}")))?;
        if !status.success() {
            return Err(Failure::other(format!(
                "cargo build{} of {} failed ({status})",
                target.map_or(String::new(), |t| format!(" --target {t}")),
                manifest.display()
            )));
        }
    }
    let wasm = target_dir.join(format!("wasm32-wasip2/release/{artifact}.wasm"));
    let native = target_dir.join(format!(
        "release/{}{artifact}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    ));
    crate::say!("component       {}", wasm.display());
    crate::say!("native library  {}", native.display());
    Ok(())
}

/// The `[package] name` of a Cargo.toml.
fn crate_name(manifest: &Path) -> Outcome<String> {
    #[derive(serde::Deserialize)]
    struct Manifest {
        package: Package,
    }
    #[derive(serde::Deserialize)]
    struct Package {
        name: String,
    }
    let text = std::fs::read_to_string(manifest)
        .map_err(|e| Failure::usage(format!("cannot read {}: {e}", manifest.display())))?;
    let parsed: Manifest = toml::from_str(&text)
        .map_err(|e| Failure::usage(format!("{} has no package name: {e}", manifest.display())))?;
    Ok(parsed.package.name)
}
