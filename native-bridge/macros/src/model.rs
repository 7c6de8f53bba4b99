//! The WIT world, loaded, and what both sides generate from it: names,
//! Rust types, and the lowering of named types.

use std::path::PathBuf;

use heck::{ToSnakeCase, ToUpperCamelCase};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{Ident, LitStr};
use wit_parser::{
    Function, FunctionKind, Handle, InterfaceId, Resolve, Type, TypeDefKind, TypeId, TypeOwner,
    WorldId, WorldItem, WorldKey,
};

use crate::options::Source;

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

    /// The resource a handle type points to.
    pub(crate) fn handle(&self, ty: &Type) -> Option<(TypeId, bool)> {
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

    pub(crate) fn type_name(&self, id: TypeId) -> Ident {
        camel(self.resolve.types[id].name.as_deref().unwrap_or("anon"))
    }

    /// The path of a named type below the bindings root.
    pub(crate) fn named_path(&self, root: &TokenStream, id: TypeId) -> TokenStream {
        let def = &self.resolve.types[id];
        let name = self.type_name(id);
        match def.owner {
            TypeOwner::Interface(iface) => {
                let path = self.iface_path(iface);
                quote!(#root::#path::#name)
            }
            _ => quote!(#root::#name),
        }
    }

    /// The owned Rust type of `ty`: wit-bindgen's and wasmtime's (`String`,
    /// `Vec<T>`, records by their name, …). `resource` renders a handle.
    pub(crate) fn owned(
        &self,
        root: &TokenStream,
        ty: &Type,
        resource: &dyn Fn(TypeId, bool) -> TokenStream,
    ) -> TokenStream {
        match ty {
            Type::Bool => quote!(bool),
            Type::U8 => quote!(u8),
            Type::U16 => quote!(u16),
            Type::U32 => quote!(u32),
            Type::U64 => quote!(u64),
            Type::S8 => quote!(i8),
            Type::S16 => quote!(i16),
            Type::S32 => quote!(i32),
            Type::S64 => quote!(i64),
            Type::F32 => quote!(f32),
            Type::F64 => quote!(f64),
            Type::Char => quote!(char),
            Type::String => quote!(::std::string::String),
            Type::ErrorContext => quote!(()),
            Type::Id(id) => {
                if let Some((r, own)) = self.handle(ty) {
                    return resource(r, own);
                }
                let def = &self.resolve.types[*id];
                if def.name.is_some() {
                    return match self.canonical(*ty) {
                        Type::Id(c) if self.resolve.types[c].name.is_some() => {
                            self.named_path(root, c)
                        }
                        other => self.owned(root, &other, resource),
                    };
                }
                match &def.kind {
                    TypeDefKind::List(t) => {
                        let t = self.owned(root, t, resource);
                        quote!(::std::vec::Vec<#t>)
                    }
                    TypeDefKind::Option(t) => {
                        let t = self.owned(root, t, resource);
                        quote!(::std::option::Option<#t>)
                    }
                    TypeDefKind::Result(r) => {
                        let ok = self.optional(root, r.ok.as_ref(), resource);
                        let err = self.optional(root, r.err.as_ref(), resource);
                        quote!(::std::result::Result<#ok, #err>)
                    }
                    TypeDefKind::Tuple(t) => {
                        let ts = t.types.iter().map(|t| self.owned(root, t, resource));
                        quote!((#(#ts,)*))
                    }
                    TypeDefKind::Type(t) => self.owned(root, t, resource),
                    _ => quote!(()),
                }
            }
        }
    }

    fn optional(
        &self,
        root: &TokenStream,
        ty: Option<&Type>,
        resource: &dyn Fn(TypeId, bool) -> TokenStream,
    ) -> TokenStream {
        ty.map_or_else(|| quote!(()), |t| self.owned(root, t, resource))
    }

    /// Every named record, variant and enum reachable from `funcs`, each
    /// once, dependencies first.
    pub(crate) fn named_types(&self, funcs: &[Func<'_>]) -> Vec<TypeId> {
        let mut out = Vec::new();
        for f in funcs {
            for ty in f.func.params.iter().map(|p| &p.ty).chain(&f.func.result) {
                self.collect(ty, &mut out);
            }
        }
        out
    }

    fn collect(&self, ty: &Type, out: &mut Vec<TypeId>) {
        let Type::Id(id) = self.canonical(*ty) else {
            return;
        };
        let def = &self.resolve.types[id];
        let children: Vec<Type> = match &def.kind {
            TypeDefKind::Record(r) => r.fields.iter().map(|f| f.ty).collect(),
            TypeDefKind::Variant(v) => v.cases.iter().filter_map(|c| c.ty).collect(),
            TypeDefKind::Tuple(t) => t.types.clone(),
            TypeDefKind::List(t) | TypeDefKind::Option(t) => vec![*t],
            TypeDefKind::Result(r) => [r.ok, r.err].into_iter().flatten().collect(),
            _ => Vec::new(),
        };
        for child in &children {
            self.collect(child, out);
        }
        let named = matches!(
            def.kind,
            TypeDefKind::Record(_) | TypeDefKind::Variant(_) | TypeDefKind::Enum(_)
        );
        if named && !out.contains(&id) {
            out.push(id);
        }
    }

    /// `Lower` and `Lift` for the named type `id` found at `self_path`, with
    /// its lowered struct named `lowered` (defined here too). `root` is the
    /// bindings root for the types of its fields.
    pub(crate) fn lowering(
        &self,
        id: TypeId,
        self_path: &TokenStream,
        lowered: &Ident,
        root: &TokenStream,
        krate: &TokenStream,
    ) -> TokenStream {
        let no_resource = |_: TypeId, _: bool| quote!(());
        let lower = quote!(#krate::__private::Lower);
        let lift = quote!(#krate::__private::Lift);
        let def = &self.resolve.types[id];
        let wit_name = def.name.clone().unwrap_or_default();
        match &def.kind {
            TypeDefKind::Record(r) => {
                let names: Vec<Ident> = r.fields.iter().map(|f| snake(&f.name)).collect();
                let tys: Vec<TokenStream> = r
                    .fields
                    .iter()
                    .map(|f| self.owned(root, &f.ty, &no_resource))
                    .collect();
                quote! {
                    #[doc(hidden)]
                    #[repr(C)]
                    #[derive(Clone, Copy)]
                    pub struct #lowered {
                        #(pub #names: <#tys as #lower>::Lowered,)*
                    }
                    impl #lower for #self_path {
                        type Lowered = #lowered;
                        fn lower(&self, arena: &mut #krate::__private::Arena) -> #lowered {
                            #lowered { #(#names: #lower::lower(&self.#names, arena),)* }
                        }
                    }
                    impl #lift for #self_path {
                        unsafe fn lift(
                            lowered: &#lowered,
                        ) -> ::std::result::Result<Self, #krate::__private::LiftError> {
                            ::std::result::Result::Ok(Self {
                                // SAFETY: forwarded to the caller, field by field.
                                #(#names: unsafe { <#tys as #lift>::lift(&lowered.#names) }?,)*
                            })
                        }
                    }
                }
            }
            TypeDefKind::Variant(v) => {
                let payload = format_ident!("{}Payload", lowered);
                let mut fields = Vec::new();
                let mut lowers = Vec::new();
                let mut lifts = Vec::new();
                for (i, case) in v.cases.iter().enumerate() {
                    let tag = u32::try_from(i).expect("fewer than 2^32 cases");
                    let name = camel(&case.name);
                    let field = format_ident!("c{}", i);
                    match &case.ty {
                        Some(t) => {
                            let t = self.owned(root, t, &no_resource);
                            fields.push(quote!(pub #field: <#t as #lower>::Lowered,));
                            lowers.push(quote! {
                                Self::#name(value) => #lowered {
                                    tag: #tag,
                                    payload: #payload { #field: #lower::lower(value, arena) },
                                },
                            });
                            lifts.push(quote! {
                                // SAFETY: the tag says which field was written;
                                // its pointers are the caller's to guarantee.
                                #tag => Self::#name(unsafe { <#t as #lift>::lift(&lowered.payload.#field) }?),
                            });
                        }
                        None => {
                            lowers.push(quote! {
                                Self::#name => #lowered { tag: #tag, payload: #payload { none: () } },
                            });
                            lifts.push(quote!(#tag => Self::#name,));
                        }
                    }
                }
                quote! {
                    #[doc(hidden)]
                    #[repr(C)]
                    #[derive(Clone, Copy)]
                    pub union #payload {
                        pub none: (),
                        #(#fields)*
                    }
                    #[doc(hidden)]
                    #[repr(C)]
                    #[derive(Clone, Copy)]
                    pub struct #lowered {
                        pub tag: u32,
                        pub payload: #payload,
                    }
                    impl #lower for #self_path {
                        type Lowered = #lowered;
                        fn lower(&self, arena: &mut #krate::__private::Arena) -> #lowered {
                            let _ = &arena;
                            match self { #(#lowers)* }
                        }
                    }
                    impl #lift for #self_path {
                        #[allow(unused_unsafe, reason = "generated")]
                        unsafe fn lift(
                            lowered: &#lowered,
                        ) -> ::std::result::Result<Self, #krate::__private::LiftError> {
                            ::std::result::Result::Ok(match lowered.tag {
                                #(#lifts)*
                                tag => {
                                    return ::std::result::Result::Err(#krate::__private::LiftError::new(
                                        ::std::format!("{tag} is not a case of variant `{}`", #wit_name),
                                    ));
                                }
                            })
                        }
                    }
                }
            }
            TypeDefKind::Enum(e) => {
                let cases: Vec<Ident> = e.cases.iter().map(|c| camel(&c.name)).collect();
                let tags: Vec<u32> = (0..e.cases.len())
                    .map(|i| u32::try_from(i).expect("fewer than 2^32 cases"))
                    .collect();
                quote! {
                    impl #lower for #self_path {
                        type Lowered = u32;
                        fn lower(&self, _: &mut #krate::__private::Arena) -> u32 {
                            match self { #(Self::#cases => #tags,)* }
                        }
                    }
                    impl #lift for #self_path {
                        unsafe fn lift(
                            lowered: &u32,
                        ) -> ::std::result::Result<Self, #krate::__private::LiftError> {
                            ::std::result::Result::Ok(match *lowered {
                                #(#tags => Self::#cases,)*
                                tag => {
                                    return ::std::result::Result::Err(#krate::__private::LiftError::new(
                                        ::std::format!("{tag} is not a case of enum `{}`", #wit_name),
                                    ));
                                }
                            })
                        }
                    }
                }
            }
            _ => TokenStream::new(),
        }
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
