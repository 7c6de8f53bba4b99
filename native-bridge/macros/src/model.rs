//! The WIT world, loaded, and what both sides generate from it: names,
//! Rust types, and the lowering of named types.

use std::path::PathBuf;

use heck::{ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Ident, LitStr};
use wit_parser::{
    Function, FunctionKind, InterfaceId, Resolve, Type, TypeDefKind, WorldId, WorldItem, WorldKey,
};

use crate::options::Source;

mod types;

/// The interface every plugin exports: its lifecycle.
pub(crate) const BASE: &str = "wasmplug:plugin/plugin";
/// The one host import ABI v1 hosts provide.
pub(crate) const LOG: &str = "wasmplug:plugin/log";

/// A loaded world.
pub(crate) struct World {
    pub(crate) resolve: Resolve,
    pub(crate) id: WorldId,
    /// Every WIT file read, to rebuild when one changes.
    pub(crate) files: Vec<PathBuf>,
    pub(crate) span: Span,
}

/// A function the world imports or exports, with its interface.
#[derive(Clone, Copy)]
pub(crate) struct Func<'a> {
    pub(crate) iface: InterfaceId,
    pub(crate) func: &'a Function,
}

impl World {
    pub(crate) fn load(source: &Source) -> syn::Result<Self> {
        let span = source.world.span();
        let err = |msg: String| syn::Error::new(span, msg);
        let root = std::env::var("CARGO_MANIFEST_DIR").map_err(|e| err(e.to_string()))?;
        let mut resolve = Resolve::default();
        let mut packages = Vec::new();
        let mut files = Vec::new();
        for path in &source.paths {
            let full = PathBuf::from(&root).join(path.value());
            let (pkg, sources) = resolve
                .push_path(&full)
                .map_err(|e| syn::Error::new(path.span(), format!("{e:#}")))?;
            packages.push(pkg);
            files.extend(sources.paths().map(PathBuf::from));
        }
        // The last path holds the world, as with wit-bindgen.
        let main = packages.last().copied().into_iter().collect::<Vec<_>>();
        let id = resolve
            .select_world(&main, Some(&source.world.value()))
            .map_err(|e| err(format!("{e:#}")))?;
        Ok(World {
            resolve,
            id,
            files,
            span,
        })
    }

    pub(crate) fn error(&self, msg: impl Into<String>) -> syn::Error {
        syn::Error::new(self.span, msg.into())
    }

    /// `include_bytes!` of every WIT file: the crate rebuilds when one
    /// changes.
    pub(crate) fn track_files(&self) -> TokenStream {
        let files = self.files.iter().map(|f| {
            let f = LitStr::new(&f.display().to_string(), Span::call_site());
            quote!(
                const _: &[u8] = include_bytes!(#f);
            )
        });
        quote!(#(#files)*)
    }

    /// `ns:pkg@1.2.3` of the world's package.
    pub(crate) fn contract(&self) -> String {
        let pkg = self.resolve.worlds[self.id]
            .package
            .expect("a package's world");
        self.resolve.packages[pkg].name.to_string()
    }

    /// `ns:pkg/world`.
    pub(crate) fn world_name(&self) -> String {
        let world = &self.resolve.worlds[self.id];
        let pkg = &self.resolve.packages[world.package.expect("a package's world")].name;
        format!("{}:{}/{}", pkg.namespace, pkg.name, world.name)
    }

    /// `ns:pkg/iface`, without the version: symbol names and export names
    /// of the native ABI do not carry versions (the header does).
    pub(crate) fn iface_id(&self, iface: InterfaceId) -> String {
        let i = &self.resolve.interfaces[iface];
        let pkg = &self.resolve.packages[i.package.expect("a package's interface")].name;
        format!(
            "{}:{}/{}",
            pkg.namespace,
            pkg.name,
            i.name.as_deref().unwrap_or("?")
        )
    }

    /// `ns:pkg/iface#name`.
    pub(crate) fn export_name(&self, f: &Func<'_>) -> String {
        format!("{}#{}", self.iface_id(f.iface), f.func.name)
    }

    /// The interfaces the world imports (`exported == false`) or exports.
    pub(crate) fn interfaces(&self, exported: bool) -> syn::Result<Vec<InterfaceId>> {
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
                        return Err(self.error(format!(
                            "inline interface `{}` in the world: the native generator needs \
                             named interfaces",
                            self.resolve.name_world_key(key)
                        )));
                    }
                    out.push(*id);
                }
                WorldItem::Function(f) => {
                    return Err(self.error(format!(
                        "world-level function `{}`: the native generator supports functions \
                         in interfaces only",
                        f.name
                    )));
                }
                WorldItem::Type { .. } => {}
            }
        }
        Ok(out)
    }

    /// Every function of the interfaces the world imports or exports, in
    /// world order.
    pub(crate) fn functions(&self, exported: bool) -> syn::Result<Vec<Func<'_>>> {
        let mut out = Vec::new();
        for iface in self.interfaces(exported)? {
            for func in self.resolve.interfaces[iface].functions.values() {
                out.push(Func { iface, func });
            }
        }
        Ok(out)
    }

    pub(crate) fn is_exported(&self, iface: InterfaceId) -> bool {
        self.resolve.worlds[self.id]
            .exports
            .values()
            .any(|item| matches!(item, WorldItem::Interface { id, .. } if *id == iface))
    }

    /// The module path of an interface below the bindings' root:
    /// `[exports::]ns::pkg::iface`, as wit-bindgen and wasmtime lay it out.
    pub(crate) fn iface_path(&self, iface: InterfaceId) -> TokenStream {
        let (ns, pkg, name) = self.iface_segments(iface);
        if self.is_exported(iface) {
            quote!(exports::#ns::#pkg::#name)
        } else {
            quote!(#ns::#pkg::#name)
        }
    }

    pub(crate) fn iface_segments(&self, iface: InterfaceId) -> (Ident, Ident, Ident) {
        let i = &self.resolve.interfaces[iface];
        let pkg = &self.resolve.packages[i.package.expect("a package's interface")].name;
        (
            snake(&pkg.namespace),
            snake(&pkg.name),
            snake(i.name.as_deref().unwrap_or("anon")),
        )
    }

    /// Follows type aliases (`use`, `type x = y`) to the defining type.
    pub(crate) fn canonical(&self, ty: Type) -> Type {
        match ty {
            Type::Id(id) => match &self.resolve.types[id].kind {
                TypeDefKind::Type(inner) => self.canonical(*inner),
                _ => ty,
            },
            other => other,
        }
    }

    /// Whether values of `ty` own memory (a string or list inside): their
    /// results are kept until post-call, and wasmtime passes them borrowed.
    pub(crate) fn has_list(&self, ty: &Type) -> bool {
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

    /// Refuses what ABI v1 cannot carry, naming it.
    /// `within` is the type `ty` is part of (none for a parameter or result).
    pub(crate) fn check_supported(
        &self,
        ty: &Type,
        context: &str,
        within: Option<&str>,
    ) -> syn::Result<()> {
        let unsupported = |what: &str| {
            Err(self.error(format!(
                "{context}: WIT type `{what}` is not supported by the native ABI (v1)"
            )))
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
                    TypeDefKind::Handle(_) if within.is_some() => Err(self.error(format!(
                        "{context}: resource handles are supported as parameters and results \
                         only, not inside `{}`",
                        within.unwrap_or_default()
                    ))),
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
    pub(crate) fn check_function(&self, f: &Func<'_>) -> syn::Result<()> {
        let context = format!("`{}`", self.export_name(f));
        match f.func.kind {
            FunctionKind::Freestanding | FunctionKind::Method(_) => {}
            _ => {
                return Err(self.error(format!(
                    "{context}: only plain functions and resource methods are supported by \
                     the native generator (not constructors, static or async functions)"
                )));
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
            return Err(self.error(format!(
                "{context}: imported resources (resources the host implements) are not \
                 supported by the native ABI (v1)"
            )));
        }
        Ok(())
    }
}

const KEYWORDS: &[&str] = &[
    "as", "async", "await", "break", "const", "continue", "crate", "dyn", "else", "enum", "extern",
    "false", "fn", "for", "if", "impl", "in", "let", "loop", "match", "mod", "move", "mut", "pub",
    "ref", "return", "self", "Self", "static", "struct", "super", "trait", "true", "type",
    "unsafe", "use", "where", "while", "abstract", "become", "box", "do", "final", "macro",
    "override", "priv", "try", "typeof", "unsized", "virtual", "yield", "gen",
];

/// A WIT name in snake case, a keyword escaped with `_` as wit-bindgen does.
pub(crate) fn snake(name: &str) -> Ident {
    let s = name.to_snake_case();
    if KEYWORDS.contains(&s.as_str()) {
        format_ident!("{}_", s)
    } else {
        format_ident!("{}", s)
    }
}

/// A WIT name in UpperCamelCase.
pub(crate) fn camel(name: &str) -> Ident {
    format_ident!("{}", name.to_upper_camel_case())
}

/// `super::super::…` up `depth` modules.
pub(crate) fn supers(depth: usize) -> TokenStream {
    let s = std::iter::repeat_n(quote!(super), depth);
    quote!(#(#s)::*)
}

/// The name a resource method or plain function has in a trait.
pub(crate) fn method_name(resolve: &Resolve, func: &Function) -> Ident {
    match &func.kind {
        FunctionKind::Method(r) => {
            let resource = resolve.types[*r].name.as_deref().unwrap_or("resource");
            format_ident!(
                "{}_{}",
                resource.to_snake_case(),
                func.item_name().to_snake_case()
            )
        }
        _ => snake(&func.name),
    }
}
