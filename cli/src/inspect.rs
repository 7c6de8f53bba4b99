//! `wasmplug inspect`: what a component or a native library is.

use std::fmt::Write as _;
use std::path::Path;

use serde_json::{Value, json};
use wasmplug::{DynamicPlugin, Runtime};

use crate::failure::{Failure, Outcome};
use crate::native::WitOptions;
use crate::units::show_size;
use wasmplug_native::{NativeError, WitWorld};

/// What `inspect` prints about a component, before it is formatted.
struct Component {
    file: String,
    size: u64,
    plugin: DynamicPlugin,
    cached: bool,
    engine: Option<String>,
    world: Result<String, String>,
}

/// Inspects `path`: a component (the default) or, when it starts with an
/// object file's magic, a native library (read, never loaded).
pub(crate) fn run(path: &Path, json: bool, wit: &WitOptions) -> Outcome {
    let head = read_head(path)?;
    let text = if is_object_file(&head) {
        let info = wasmplug_native::read_header(path, u64::MAX)?;
        let file = file_name(path);
        // The `--wit` world, and whether the header is for it.
        let checked = if wit.given() {
            let (resolve, id) = wit.world()?;
            let world = WitWorld::read(&resolve, id)?;
            let check = world.expected().check(path, &info);
            Some((world, check))
        } else {
            None
        };
        let text = if json {
            let mut value = native_json(&file, &info);
            if let Some((world, check)) = &checked {
                value["wit"] = wit_json(world, check);
            }
            serde_json::to_string_pretty(&value).expect("JSON of strings")
        } else {
            let mut text = native_text(&file, &info);
            if let Some((world, check)) = &checked {
                text.push_str(&wit_text(world, check));
            }
            text
        };
        // The header is shown either way; a mismatch is then the error.
        if let Some((_, Err(e))) = checked {
            crate::say!("{}", text.trim_end());
            return Err(e.into());
        }
        text
    } else {
        wit.refuse_for_component()?;
        let component = open(path)?;
        if json {
            serde_json::to_string_pretty(&component_json(&component)).expect("JSON of strings")
        } else {
            component_text(&component)
        }
    };
    crate::say!("{}", text.trim_end());
    Ok(())
}

/// The first bytes of `path`, through the same checks as a plugin load
/// (a directory or a FIFO is refused before it is opened).
fn read_head(path: &Path) -> Outcome<Vec<u8>> {
    let meta = std::fs::metadata(path).map_err(|e| {
        Failure::bad_plugin(format!("cannot read plugin file {}: {e}", path.display()))
    })?;
    if !meta.is_file() {
        return Err(Failure::bad_plugin(format!(
            "{} is a {}, not a plugin file",
            path.display(),
            if meta.is_dir() {
                "directory"
            } else {
                "special file"
            }
        )));
    }
    use std::io::Read as _;
    let mut head = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(4).read_to_end(&mut head))
        .map_err(|e| {
            Failure::bad_plugin(format!("cannot read plugin file {}: {e}", path.display()))
        })?;
    Ok(head)
}

/// Whether `path` is a native library (an object file, by its magic)
/// rather than a component.
pub(crate) fn is_native_library(path: &Path) -> Outcome<bool> {
    Ok(is_object_file(&read_head(path)?))
}

fn is_object_file(head: &[u8]) -> bool {
    const MAGICS: [&[u8]; 5] = [
        b"\x7fELF",
        &[0xcf, 0xfa, 0xed, 0xfe],
        &[0xce, 0xfa, 0xed, 0xfe],
        &[0xca, 0xfe, 0xba, 0xbe],
        b"MZ",
    ];
    MAGICS.iter().any(|m| head.starts_with(m))
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into(),
    )
}

fn open(path: &Path) -> Outcome<Component> {
    let runtime = Runtime::new()?;
    let bytes = std::fs::read(path).map_err(|e| {
        Failure::bad_plugin(format!("cannot read plugin file {}: {e}", path.display()))
    })?;
    // Whether it was in the cache before this run compiled it.
    let cached = runtime.cache_entry(&bytes).is_some_and(|p| p.is_file());
    let plugin = runtime.dynamic().open(path)?;
    Ok(Component {
        file: file_name(path),
        size: bytes.len() as u64,
        plugin,
        cached,
        engine: runtime.cache_engine(),
        world: world_wit(&bytes),
    })
}

/// The component's world as WIT: its imports and exports by name.
fn world_wit(bytes: &[u8]) -> Result<String, String> {
    let decoded = wit_component::decode(bytes).map_err(|e| e.to_string())?;
    let wit_component::DecodedWasm::Component(resolve, world) = decoded else {
        return Err("not a component".into());
    };
    let package = resolve.worlds[world]
        .package
        .ok_or_else(|| "the world has no package".to_owned())?;
    // The packages of the plugin's contracts, inline; WASI's only by name.
    let nested: Vec<_> = resolve
        .packages
        .iter()
        .filter(|(id, p)| *id != package && p.name.namespace != "wasi")
        .map(|(id, _)| id)
        .collect();
    let mut printer = wit_component::WitPrinter::default();
    printer
        .print(&resolve, package, &nested)
        .map_err(|e| e.to_string())?;
    Ok(printer.output.to_string())
}

fn component_text(c: &Component) -> String {
    let p = &c.plugin;
    let m = p.metadata();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: WebAssembly component, {}",
        c.file,
        show_size(c.size)
    );
    let _ = writeln!(out, "  digest      sha256:{}", p.digest().to_hex());
    let _ = writeln!(out, "  plugin      {} {}", m.name, m.version);
    if !m.description.is_empty() {
        let _ = writeln!(out, "  description {}", m.description);
    }
    if !m.kind.is_empty() {
        let _ = writeln!(out, "  kind        {}", m.kind);
    }
    let _ = writeln!(
        out,
        "  contract    {}",
        p.contract().unwrap_or("(only the base contract)")
    );
    let _ = writeln!(
        out,
        "  manifest    {}",
        p.manifest()
            .map_or_else(|| "none".to_owned(), |m| file_name(m.path()))
    );
    let _ = writeln!(
        out,
        "  cache       {} (engine {})",
        if c.cached {
            "precompiled"
        } else {
            "not precompiled before this run"
        },
        c.engine.as_deref().unwrap_or("none: cache off")
    );
    if let Some(manifest) = p.manifest() {
        for (name, s) in manifest.settings() {
            let _ = writeln!(out, "    setting   {}", setting_line(name, s));
        }
        for (key, value) in manifest.config_values() {
            let _ = writeln!(out, "    config    {key} = {value:?}");
        }
    }
    let settings = p.declared_settings();
    if settings.is_empty() {
        let _ = writeln!(out, "  settings    none declared");
    } else {
        let _ = writeln!(out, "  settings");
        for (name, s) in &settings {
            let _ = writeln!(out, "    {}", setting_line(name, s));
        }
    }
    let _ = writeln!(out, "\nexports");
    for f in p.exports() {
        let _ = writeln!(out, "  {}: {}", f.name, f.signature);
    }
    let _ = writeln!(out, "\nwit (the world, and the packages of its contracts)");
    match &c.world {
        Ok(wit) => {
            for line in wit.lines() {
                let _ = writeln!(out, "{}", format!("  {line}").trim_end());
            }
        }
        Err(e) => {
            let _ = writeln!(out, "  (cannot decode the world: {e})");
        }
    }
    out
}

/// `name (required) = "default"  # description`.
fn setting_line(name: &str, s: &wasmplug::Setting) -> String {
    let mut line = name.to_owned();
    if s.required {
        line.push_str(" (required)");
    }
    if let Some(default) = &s.default {
        let _ = write!(line, " = {default:?}");
    }
    if !s.description.is_empty() {
        let _ = write!(line, "  # {}", s.description);
    }
    line
}

fn component_json(c: &Component) -> Value {
    let p = &c.plugin;
    let m = p.metadata();
    let settings: serde_json::Map<String, Value> = p
        .declared_settings()
        .into_iter()
        .map(|(name, s)| {
            let v = json!({ "description": s.description, "required": s.required, "default": s.default });
            (name, v)
        })
        .collect();
    json!({
        "file": c.file,
        "format": "component",
        "size": c.size,
        "digest": format!("sha256:{}", p.digest().to_hex()),
        "name": m.name,
        "version": m.version,
        "description": m.description,
        "kind": m.kind,
        "contract": p.contract(),
        "manifest": p.manifest().map(|m| json!({
            "file": file_name(m.path()),
            "settings": m.settings().iter().map(|(k, s)| (k.clone(), json!({ "description": s.description, "required": s.required, "default": s.default }))).collect::<serde_json::Map<_, _>>(),
            "config": m.config_values(),
        })),
        "cached": c.cached,
        "engine": c.engine,
        "settings": settings,
        "exports": p.exports().into_iter().map(|f| json!({ "name": f.name, "signature": f.signature })).collect::<Vec<_>>(),
        "imports": p.imports(),
        "world": c.world.as_ref().ok(),
    })
}

const NOT_LOADED: &str = "read from the file without loading it: none of the library's code (its initialisers included) ran";

fn native_text(file: &str, h: &wasmplug_native::HeaderInfo) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{file}: native plugin library");
    let _ = writeln!(out, "  plugin      {} {}", h.name, h.version);
    let _ = writeln!(out, "  contract    {}", h.contract);
    let _ = writeln!(out, "  world       {}", h.world);
    let _ = writeln!(out, "  wit digest  sha256:{}", h.wit_digest.to_hex());
    let _ = writeln!(
        out,
        "  abi         version {}",
        wasmplug_native::abi::ABI_VERSION
    );
    let _ = writeln!(out, "  target      {}", h.target);
    let _ = writeln!(out, "  compiler    {}", h.rustc);
    let _ = writeln!(out, "  ({NOT_LOADED})");
    out
}

/// The `--wit` world's lines: whether the header is for it, and its
/// exports with their types.
fn wit_text(world: &WitWorld, check: &Result<(), NativeError>) -> String {
    let mut out = String::new();
    let verdict = match check {
        Ok(()) => "matches the header".to_owned(),
        Err(_) => "does NOT match the header (the error says how)".to_owned(),
    };
    let _ = writeln!(
        out,
        "  --wit       {} of {} (sha256:{}): {verdict}",
        world.world(),
        world.contract(),
        world.wit_digest().to_hex()
    );
    for export in world.exports() {
        match export.ty() {
            Ok(ty) => {
                let _ = writeln!(out, "  export      {}: {ty}", export.name());
            }
            Err(reason) => {
                let _ = writeln!(out, "  export      {} ({reason})", export.name());
            }
        }
    }
    out
}

fn wit_json(world: &WitWorld, check: &Result<(), NativeError>) -> Value {
    json!({
        "world": world.world(),
        "contract": world.contract(),
        "wit_digest": format!("sha256:{}", world.wit_digest().to_hex()),
        "matches": check.is_ok(),
        "mismatch": check.as_ref().err().map(ToString::to_string),
        "exports": world.exports().iter().map(|e| match e.ty() {
            Ok(ty) => json!({ "name": e.name(), "signature": ty.to_string() }),
            Err(reason) => json!({ "name": e.name(), "unsupported": reason }),
        }).collect::<Vec<_>>(),
    })
}

fn native_json(file: &str, h: &wasmplug_native::HeaderInfo) -> Value {
    json!({
        "file": file,
        "format": "native",
        "name": h.name,
        "version": h.version,
        "contract": h.contract,
        "world": h.world,
        "wit_digest": format!("sha256:{}", h.wit_digest.to_hex()),
        "abi_version": wasmplug_native::abi::ABI_VERSION,
        "target": h.target,
        "compiler": h.rustc,
        "loaded": false,
        "note": NOT_LOADED,
    })
}
