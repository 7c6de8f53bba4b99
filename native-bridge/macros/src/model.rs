//! The WIT world, loaded, and what both sides generate from it: names,
//! Rust types, and the lowering of named types.

use std::path::PathBuf;

use heck::{ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Ident, LitStr};
use wasmplug_native_wit::AbiWorld;
use wit_parser::{Function, FunctionKind, InterfaceId, Resolve, Type, TypeId, WorldId};

use crate::options::Source;

mod types;

pub(crate) use wasmplug_native_wit::{BASE, Func, LOG};

/// A loaded world.
pub(crate) struct World {
    pub(crate) resolve: Resolve,
    pub(crate) id: WorldId,
    /// Every WIT file read, to rebuild when one changes.
    pub(crate) files: Vec<PathBuf>,
    pub(crate) span: Span,
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

    /// The world as the native ABI reads it (shared with run-time callers).
    pub(crate) fn abi(&self) -> AbiWorld<'_> {
        AbiWorld::new(&self.resolve, self.id)
    }

    /// `ns:pkg@1.2.3` of the world's package.
    pub(crate) fn contract(&self) -> String {
        self.abi().contract()
    }

    /// `ns:pkg/world`.
    pub(crate) fn world_name(&self) -> String {
        self.abi().world_name()
    }

    /// `ns:pkg/iface`, without the version.
    pub(crate) fn iface_id(&self, iface: InterfaceId) -> String {
        self.abi().iface_id(iface)
    }

    /// `ns:pkg/iface#name`.
    pub(crate) fn export_name(&self, f: &Func<'_>) -> String {
        self.abi().export_name(f)
    }

    /// The interfaces the world imports (`exported == false`) or exports.
    pub(crate) fn interfaces(&self, exported: bool) -> syn::Result<Vec<InterfaceId>> {
        self.abi().interfaces(exported).map_err(|e| self.error(e))
    }

    /// Every function of the interfaces the world imports or exports, in
    /// world order.
    pub(crate) fn functions(&self, exported: bool) -> syn::Result<Vec<Func<'_>>> {
        self.abi().functions(exported).map_err(|e| self.error(e))
    }

    /// The WIT digest the header records.
    pub(crate) fn digest(&self) -> syn::Result<[u8; 32]> {
        self.abi().digest().map_err(|e| self.error(e))
    }

    pub(crate) fn is_exported(&self, iface: InterfaceId) -> bool {
        self.abi().is_exported(iface)
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
        self.abi().canonical(ty)
    }

    /// For a handle type, its resource and whether it is owned.
    pub(crate) fn handle(&self, ty: &Type) -> Option<(TypeId, bool)> {
        self.abi().handle(ty)
    }

    /// Whether values of `ty` own memory (a string or list inside).
    pub(crate) fn has_list(&self, ty: &Type) -> bool {
        self.abi().has_list(ty)
    }

    /// Checks every parameter and result of `f`, and its kind.
    pub(crate) fn check_function(&self, f: &Func<'_>) -> syn::Result<()> {
        self.abi().check_function(f).map_err(|e| self.error(e))
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
