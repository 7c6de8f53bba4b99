//! The Rust types both sides generate for WIT types: handles, named
//! types and their paths, owned parameter types, and the lowering of
//! named types.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::Ident;
use wit_parser::{Type, TypeDefKind, TypeId, TypeOwner};

use super::{Func, World, camel, snake};

impl World {
    /// A named type's Rust name.
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
