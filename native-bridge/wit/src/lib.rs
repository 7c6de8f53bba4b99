//! How the wasmplug native ABI reads a WIT world: the names of its entry
//! points, which types ABI v1 carries, and the WIT digest every plugin's
//! header records. The code generator (`wasmplug-native-macros`, at compile
//! time) and dynamic callers (`wasmplug-native`'s `dynamic` feature, at run
//! time) both use this crate, so that a world read either way has the same
//! digest and the same entry points.

use sha2::{Digest, Sha256};
use wit_parser::{
    Function, FunctionKind, Handle, InterfaceId, Resolve, Type, TypeDefKind, TypeId, WorldId,
    WorldItem, WorldKey,
};

/// The interface every plugin exports: its lifecycle.
pub const BASE: &str = "wasmplug:plugin/plugin";
/// The one host import ABI v1 hosts provide.
pub const LOG: &str = "wasmplug:plugin/log";

/// A world of a resolved WIT package set, as the native ABI sees it.
#[derive(Clone, Copy)]
pub struct AbiWorld<'a> {
    /// Every package read.
    pub resolve: &'a Resolve,
    /// The world.
    pub id: WorldId,
}

/// A function the world imports or exports, with its interface.
#[derive(Clone, Copy, Debug)]
pub struct Func<'a> {
    /// The interface it belongs to.
    pub iface: InterfaceId,
    /// The function.
    pub func: &'a Function,
}

impl<'a> AbiWorld<'a> {
    /// `world` of `resolve`.
    pub fn new(resolve: &'a Resolve, id: WorldId) -> Self {
        AbiWorld { resolve, id }
    }

    /// `ns:pkg@1.2.3` of the world's package.
    pub fn contract(&self) -> String {
        let pkg = self.resolve.worlds[self.id]
            .package
            .expect("a package's world");
        self.resolve.packages[pkg].name.to_string()
    }

    /// `ns:pkg/world`.
    pub fn world_name(&self) -> String {
        let world = &self.resolve.worlds[self.id];
        let pkg = &self.resolve.packages[world.package.expect("a package's world")].name;
        format!("{}:{}/{}", pkg.namespace, pkg.name, world.name)
    }

    /// `ns:pkg/iface`, without the version: symbol names and export names
    /// of the native ABI do not carry versions (the header does).
    pub fn iface_id(&self, iface: InterfaceId) -> String {
        let i = &self.resolve.interfaces[iface];
        let pkg = &self.resolve.packages[i.package.expect("a package's interface")].name;
        format!(
            "{}:{}/{}",
            pkg.namespace,
            pkg.name,
            i.name.as_deref().unwrap_or("?")
        )
    }

    /// `ns:pkg/iface#name`: the export's name in the ABI.
    pub fn export_name(&self, f: &Func<'_>) -> String {
        format!("{}#{}", self.iface_id(f.iface), f.func.name)
    }

    /// The interfaces the world imports (`exported == false`) or exports.
    ///
    /// # Errors
    ///
    /// An inline interface or a world-level function (the ABI names
    /// functions by interface).
    pub fn interfaces(&self, exported: bool) -> Result<Vec<InterfaceId>, String> {
        let world = &self.resolve.worlds[self.id];
        let items = if exported {
            &world.exports
        } else {
            &world.imports
        };
        let mut out = Vec::new();
        for (key, item) in items {
            match item {
                WorldItem::Interface { id, .. } => {
                    if matches!(key, WorldKey::Name(_)) {
                        return Err(format!(
                            "inline interface `{}` in the world: the native ABI needs named \
                             interfaces",
                            self.resolve.name_world_key(key)
                        ));
                    }
                    out.push(*id);
                }
                WorldItem::Function(f) => {
                    return Err(format!(
                        "world-level function `{}`: the native ABI supports functions in \
                         interfaces only",
                        f.name
                    ));
                }
                WorldItem::Type { .. } => {}
            }
        }
        Ok(out)
    }

    /// Every function of the interfaces the world imports or exports, in
    /// world order.
    ///
    /// # Errors
    ///
    /// As [`interfaces`](Self::interfaces).
    pub fn functions(&self, exported: bool) -> Result<Vec<Func<'a>>, String> {
        let mut out = Vec::new();
        for iface in self.interfaces(exported)? {
            for func in self.resolve.interfaces[iface].functions.values() {
                out.push(Func { iface, func });
            }
        }
        Ok(out)
    }

    /// Whether the world exports `iface`.
    pub fn is_exported(&self, iface: InterfaceId) -> bool {
        self.resolve.worlds[self.id]
            .exports
            .values()
            .any(|item| matches!(item, WorldItem::Interface { id, .. } if *id == iface))
    }

    /// Follows type aliases (`use`, `type x = y`) to the defining type.
    pub fn canonical(&self, ty: Type) -> Type {
        match ty {
            Type::Id(id) => match &self.resolve.types[id].kind {
                TypeDefKind::Type(inner) => self.canonical(*inner),
                _ => ty,
            },
            other => other,
        }
    }

    /// For a handle type, its resource and whether it is owned.
    pub fn handle(&self, ty: &Type) -> Option<(TypeId, bool)> {
        let Type::Id(id) = self.canonical(*ty) else {
            return None;
        };
        match self.resolve.types[id].kind {
            TypeDefKind::Handle(Handle::Own(r)) => Some((self.resource(r), true)),
            TypeDefKind::Handle(Handle::Borrow(r)) => Some((self.resource(r), false)),
            _ => None,
        }
    }

    fn resource(&self, id: TypeId) -> TypeId {
        match self.resolve.types[id].kind {
            TypeDefKind::Type(Type::Id(inner)) => self.resource(inner),
            _ => id,
        }
    }

    /// Whether values of `ty` own memory (a string or list inside): their
    /// results are kept until post-call.
    pub fn has_list(&self, ty: &Type) -> bool {
        match self.canonical(*ty) {
            Type::String => true,
            Type::Id(id) => match &self.resolve.types[id].kind {
                TypeDefKind::List(_) => true,
                TypeDefKind::Record(r) => r.fields.iter().any(|f| self.has_list(&f.ty)),
                TypeDefKind::Variant(v) => v
                    .cases
                    .iter()
                    .any(|c| c.ty.as_ref().is_some_and(|t| self.has_list(t))),
                TypeDefKind::Tuple(t) => t.types.iter().any(|t| self.has_list(t)),
                TypeDefKind::Option(t) => self.has_list(t),
                TypeDefKind::Result(r) => [r.ok, r.err].iter().flatten().any(|t| self.has_list(t)),
                _ => false,
            },
            _ => false,
        }
    }

    /// Refuses what ABI v1 cannot carry, naming it. `within` is the type
    /// `ty` is part of (none for a parameter or result).
    ///
    /// # Errors
    ///
    /// The first type of `ty` that ABI v1 does not carry.
    pub fn check_supported(
        &self,
        ty: &Type,
        context: &str,
        within: Option<&str>,
    ) -> Result<(), String> {
        let unsupported = |what: &str| {
            Err(format!(
                "{context}: WIT type `{what}` is not supported by the native ABI (v1)"
            ))
        };
        match ty {
            Type::ErrorContext => unsupported("error-context"),
            Type::Id(id) => {
                let def = &self.resolve.types[*id];
                let name = def.name.clone().unwrap_or_else(|| def.kind.as_str().into());
                match &def.kind {
                    TypeDefKind::Flags(_) => unsupported(&format!("flags {name}")),
                    TypeDefKind::Map(..) => unsupported("map"),
                    TypeDefKind::FixedLengthList(..) => unsupported("fixed-length list"),
                    TypeDefKind::Future(_) => unsupported("future"),
                    TypeDefKind::Stream(_) => unsupported("stream"),
                    TypeDefKind::Unknown => unsupported("unknown"),
                    TypeDefKind::Handle(_) if within.is_some() => Err(format!(
                        "{context}: resource handles are supported as parameters and results \
                         only, not inside `{}`",
                        within.unwrap_or_default()
                    )),
                    TypeDefKind::Handle(_) | TypeDefKind::Resource => Ok(()),
                    TypeDefKind::Type(t) => self.check_supported(t, context, within),
                    TypeDefKind::List(t) | TypeDefKind::Option(t) => {
                        self.check_supported(t, context, Some(&name))
                    }
                    TypeDefKind::Record(r) => r
                        .fields
                        .iter()
                        .try_for_each(|f| self.check_supported(&f.ty, context, Some(&name))),
                    TypeDefKind::Variant(v) => v
                        .cases
                        .iter()
                        .filter_map(|c| c.ty.as_ref())
                        .try_for_each(|t| self.check_supported(t, context, Some(&name))),
                    TypeDefKind::Tuple(t) if t.types.len() > 4 => {
                        unsupported("tuple of more than 4")
                    }
                    TypeDefKind::Tuple(t) => t
                        .types
                        .iter()
                        .try_for_each(|t| self.check_supported(t, context, Some(&name))),
                    TypeDefKind::Result(r) => [r.ok, r.err]
                        .iter()
                        .flatten()
                        .try_for_each(|t| self.check_supported(t, context, Some(&name))),
                    TypeDefKind::Enum(_) => Ok(()),
                }
            }
            _ => Ok(()),
        }
    }

    /// Checks every parameter and result of `f`, and its kind.
    ///
    /// # Errors
    ///
    /// What ABI v1 does not carry, naming the function.
    pub fn check_function(&self, f: &Func<'_>) -> Result<(), String> {
        let context = format!("`{}`", self.export_name(f));
        match f.func.kind {
            FunctionKind::Freestanding | FunctionKind::Method(_) => {}
            _ => {
                return Err(format!(
                    "{context}: only plain functions and resource methods are supported by \
                     the native ABI (not constructors, static or async functions)"
                ));
            }
        }
        for p in &f.func.params {
            self.check_supported(&p.ty, &context, None)?;
        }
        if let Some(r) = &f.func.result {
            self.check_supported(r, &context, None)?;
        }
        let types = f.func.params.iter().map(|p| &p.ty).chain(&f.func.result);
        let handles = matches!(f.func.kind, FunctionKind::Method(_))
            || types.into_iter().any(|t| self.handle(t).is_some());
        if handles && !self.is_exported(f.iface) {
            return Err(format!(
                "{context}: imported resources (resources the host implements) are not \
                 supported by the native ABI (v1)"
            ));
        }
        Ok(())
    }

    /// The WIT digest of the native ABI header: SHA-256 of a canonical
    /// description of the world: each imported and exported interface
    /// (without version), each of its functions with the structure of every
    /// parameter and result type, by name. Documentation, parameter names
    /// and unused types do not count; anything that changes what crosses
    /// the ABI does.
    ///
    /// # Errors
    ///
    /// As [`interfaces`](Self::interfaces).
    pub fn digest(&self) -> Result<[u8; 32], String> {
        let mut text = format!("world {}\n", self.world_name());
        for (exported, word) in [(false, "import"), (true, "export")] {
            for iface in self.interfaces(exported)? {
                text.push_str(&format!("{word} {}\n", self.iface_id(iface)));
                for func in self.resolve.interfaces[iface].functions.values() {
                    let params: Vec<String> =
                        func.params.iter().map(|p| self.describe(&p.ty)).collect();
                    let result = func
                        .result
                        .as_ref()
                        .map_or_else(|| "_".to_owned(), |r| self.describe(r));
                    text.push_str(&format!(
                        "  func {}({}) -> {}\n",
                        func.name,
                        params.join(", "),
                        result
                    ));
                }
            }
        }
        Ok(Sha256::digest(text.as_bytes()).into())
    }

    fn describe(&self, ty: &Type) -> String {
        let ty = self.canonical(*ty);
        let Type::Id(id) = ty else {
            return format!("{ty:?}").to_lowercase();
        };
        let def = &self.resolve.types[id];
        let name = def.name.as_deref().unwrap_or("");
        let list = |tys: &[Type]| -> String {
            tys.iter()
                .map(|t| self.describe(t))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match &def.kind {
            TypeDefKind::Record(r) => {
                let fields: Vec<String> = r
                    .fields
                    .iter()
                    .map(|f| format!("{}: {}", f.name, self.describe(&f.ty)))
                    .collect();
                format!("record {name} {{{}}}", fields.join(", "))
            }
            TypeDefKind::Variant(v) => {
                let cases: Vec<String> = v
                    .cases
                    .iter()
                    .map(|c| match &c.ty {
                        Some(t) => format!("{}({})", c.name, self.describe(t)),
                        None => c.name.clone(),
                    })
                    .collect();
                format!("variant {name} {{{}}}", cases.join(", "))
            }
            TypeDefKind::Enum(e) => {
                let cases: Vec<&str> = e.cases.iter().map(|c| c.name.as_str()).collect();
                format!("enum {name} {{{}}}", cases.join(", "))
            }
            TypeDefKind::Flags(f) => {
                let flags: Vec<&str> = f.flags.iter().map(|c| c.name.as_str()).collect();
                format!("flags {name} {{{}}}", flags.join(", "))
            }
            TypeDefKind::Resource => format!("resource {name}"),
            TypeDefKind::Handle(Handle::Own(r)) => {
                format!("own<{}>", self.describe(&Type::Id(*r)))
            }
            TypeDefKind::Handle(Handle::Borrow(r)) => {
                format!("borrow<{}>", self.describe(&Type::Id(*r)))
            }
            TypeDefKind::Tuple(t) => format!("tuple<{}>", list(&t.types)),
            TypeDefKind::Option(t) => format!("option<{}>", self.describe(t)),
            TypeDefKind::Result(r) => format!(
                "result<{}, {}>",
                r.ok.as_ref().map_or("_".into(), |t| self.describe(t)),
                r.err.as_ref().map_or("_".into(), |t| self.describe(t))
            ),
            TypeDefKind::List(t) => format!("list<{}>", self.describe(t)),
            other => format!("{} {name}", other.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn world(dirs: &[&str], name: &str) -> (Resolve, WorldId) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut resolve = Resolve::default();
        let mut last = None;
        for dir in dirs {
            last = Some(resolve.push_path(root.join(dir)).unwrap().0);
        }
        let id = resolve
            .select_world(&last.into_iter().collect::<Vec<_>>(), Some(name))
            .unwrap();
        (resolve, id)
    }

    fn hex(bytes: [u8; 32]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The digest is in every plugin built so far: a change to how it is
    /// computed refuses all of them (`WitDigest`). This pins it.
    #[test]
    fn the_digest_of_a_world_does_not_change() {
        let (resolve, id) = world(&["wit/plugin", "wit/gateway"], "gateway-filter");
        let abi = AbiWorld::new(&resolve, id);
        assert_eq!(abi.contract(), "wasmplug:gateway@1.0.0");
        assert_eq!(abi.world_name(), "wasmplug:gateway/gateway-filter");
        assert_eq!(
            hex(abi.digest().unwrap()),
            "af7e4af28412bce209428af677c044fdb42a35c304d21a6d6e941f1a79afa8fe"
        );
    }

    #[test]
    fn names_are_the_abis() {
        let (resolve, id) = world(&["wit/plugin", "wit/demo"], "demo");
        let abi = AbiWorld::new(&resolve, id);
        let exports: Vec<String> = abi
            .functions(true)
            .unwrap()
            .iter()
            .map(|f| abi.export_name(f))
            .collect();
        assert!(exports.contains(&"wasmplug:demo/api#[method]foo.m1".to_owned()));
        assert!(exports.contains(&"wasmplug:plugin/plugin#init".to_owned()));
        let imports: Vec<String> = abi
            .functions(false)
            .unwrap()
            .iter()
            .map(|f| abi.export_name(f))
            .collect();
        assert_eq!(imports, ["wasmplug:plugin/log#log"]);
    }
}
