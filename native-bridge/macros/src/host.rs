//! `bindings!`: the host side. One trait per world, implemented for the
//! native backend (and, on request, for the Wasm backend).

use heck::ToSnakeCase;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Ident, LitStr};
use wit_parser::{FunctionKind, Type, TypeDefKind, TypeId};

use crate::guest::{Tree, docs_of, insert, interface, render};
use crate::model::{BASE, Func, LOG, World, camel, method_name, snake};
use crate::options;

pub(crate) fn generate(opts: &options::Host) -> syn::Result<TokenStream> {
    let world = World::load(&opts.source)?;
    let krate = quote!(::wasmplug_native);

    let imports = world.functions(false)?;
    for f in &imports {
        world.check_function(f)?;
    }
    let all = world.functions(true)?;
    if !all.iter().any(|f| world.iface_id(f.iface) == BASE) {
        return Err(world.error(format!(
            "world `{}` does not include `wasmplug:plugin/base`: every plugin exports `{BASE}`",
            world.world_name()
        )));
    }
    let exports: Vec<Func<'_>> = all
        .into_iter()
        .filter(|f| world.iface_id(f.iface) != BASE)
        .collect();
    for f in &exports {
        world.check_function(f)?;
    }

    // Where the types are: the embedder's (wasmtime's bindgen output), or
    // generated here.
    let (root, own_types, lowering) = match &opts.types {
        Some(path) => {
            let root = quote!(#path);
            let module = format_ident!("__{}_lowered", opts.api.to_string().to_snake_case());
            // Logging's types are the runtime's business (and often shared
            // between worlds through wasmtime's `with`).
            let used: Vec<Func<'_>> = exports
                .iter()
                .chain(imports.iter().filter(|f| world.iface_id(f.iface) != LOG))
                .copied()
                .collect();
            let impls = world
                .named_types(&used)
                .into_iter()
                .enumerate()
                .map(|(i, id)| {
                    let lowered = format_ident!("Lowered{}{}", world.type_name(id), i);
                    world.lowering(id, &world.named_path(&root, id), &lowered, &root, &krate)
                });
            let lowering = quote! {
                #[doc(hidden)]
                #[allow(missing_docs, unsafe_code, reason = "generated lowering")]
                pub mod #module { #(#impls)* }
            };
            (root, TokenStream::new(), lowering)
        }
        None => {
            let mut imports: Tree = Default::default();
            let mut exported: Tree = Default::default();
            for iface in world.interfaces(false)? {
                let body = interface(&world, iface, false, &[], true)?;
                insert(&mut imports, &world, iface, body);
            }
            for iface in world.interfaces(true)? {
                let body = interface(&world, iface, true, &[], true)?;
                insert(&mut exported, &world, iface, body);
            }
            let (imports, exported) = (render(imports), render(exported));
            let types = quote! {
                /// The world's types, generated from its WIT.
                #[allow(missing_docs, unsafe_code, reason = "generated from WIT")]
                pub mod types {
                    #imports
                    pub mod exports { #exported }
                }
            };
            (quote!(self::types), types, TokenStream::new())
        }
    };

    let api = &opts.api;
    let native = &opts.native;
    let entries_ty = format_ident!("{}Entries", native);
    let trait_res = |r: TypeId, own: bool| {
        let name = world.type_name(r);
        if own {
            quote!(Self::#name)
        } else {
            quote!(&Self::#name)
        }
    };
    let native_res = |_: TypeId, _: bool| quote!(#krate::Resource);

    // Resources of the exported interfaces: an associated type each.
    let mut resources: Vec<(TypeId, String, Ident)> = Vec::new();
    for iface in world.interfaces(true)? {
        if world.iface_id(iface) == BASE {
            continue;
        }
        for (name, &id) in &world.resolve.interfaces[iface].types {
            if matches!(world.resolve.types[id].kind, TypeDefKind::Resource) {
                resources.push((
                    id,
                    format!("{}#[resource-drop]{}", world.iface_id(iface), name),
                    camel(name),
                ));
            }
        }
    }

    let mut methods = Vec::new();
    let mut native_fns = Vec::new();
    let mut wasm_fns = Vec::new();
    let mut entry_fields = Vec::new();
    let mut entry_inits = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (index, f) in exports.iter().enumerate() {
        let name = method_name(&world.resolve, f.func);
        if !names.insert(name.to_string()) {
            return Err(world.error(format!(
                "two exports map to the trait method `{name}`: rename one in the WIT"
            )));
        }
        let export = world.export_name(f);
        let export_lit = LitStr::new(&export, world.span);
        let slot = format_ident!("f{}", index);
        let pnames: Vec<Ident> = f
            .func
            .params
            .iter()
            .map(|p| {
                if p.name == "self" {
                    format_ident!("this")
                } else {
                    snake(&p.name)
                }
            })
            .collect();
        let ptys: Vec<TokenStream> = f
            .func
            .params
            .iter()
            .map(|p| param(&world, &root, &p.ty, &trait_res))
            .collect();
        let ret = f
            .func
            .result
            .as_ref()
            .map_or_else(|| quote!(()), |r| world.owned(&root, r, &trait_res));
        let d = docs_of(f.func.docs.contents.as_deref());
        let sig = quote!(fn #name(&self, #(#pnames: #ptys),*) -> ::std::result::Result<#ret, Self::Error>);
        methods.push(quote!(#d #sig;));

        // The native entry point's type and the call through it.
        let lowered_params: Vec<TokenStream> = f
            .func
            .params
            .iter()
            .map(|p| {
                let t = world.owned(&root, &p.ty, &native_res);
                quote!(<#t as #krate::__private::Lower>::Lowered)
            })
            .collect();
        let args: Vec<Ident> = (0..pnames.len()).map(|i| format_ident!("a{}", i)).collect();
        let body = match &f.func.result {
            None => {
                entry_fields.push(quote! {
                    pub #slot: unsafe extern "C" fn(#(#lowered_params),*) -> #krate::abi::Status,
                });
                quote! {
                    // SAFETY: the entry point has this type (the header's
                    // digest matched); the arguments live for the call.
                    let status = unsafe { (#krate::__private::host::entries(self).#slot)(#(#args),*) };
                    #krate::__private::host::finish_unit(self, status, #export_lit)
                }
            }
            Some(r) => {
                let t = world.owned(&root, r, &native_res);
                let release = world.has_list(r);
                entry_fields.push(quote! {
                    pub #slot: unsafe extern "C" fn(
                        #(#lowered_params,)*
                        *mut <#t as #krate::__private::Lower>::Lowered,
                    ) -> #krate::abi::Status,
                });
                quote! {
                    let mut out = ::core::mem::MaybeUninit::uninit();
                    // SAFETY: as above; `out` is writable.
                    let status = unsafe { (#krate::__private::host::entries(self).#slot)(#(#args,)* out.as_mut_ptr()) };
                    // SAFETY: on success the plugin wrote `out`.
                    unsafe { #krate::__private::host::finish::<_, #t>(self, status, #export_lit, &out, #release) }
                }
            }
        };
        entry_inits.push(quote! {
            // SAFETY: the field's type is the ABI's for this export.
            #slot: unsafe { library.entry(#export_lit) }?,
        });
        native_fns.push(quote! {
            // Inlined into the caller: the call is then the entry point's
            // indirect call and a status check.
            #[inline]
            #sig {
                #krate::__private::host::check_enabled(self)?;
                let mut arena = #krate::__private::Arena::new();
                #(let #args = #krate::__private::Lower::lower(&#pnames, &mut arena);)*
                let _ = &mut arena;
                #body
            }
        });

        // The Wasm backend, through wasmtime's bindings.
        let (ns, pkg, iface) = world.iface_segments(f.iface);
        let accessor = format_ident!("{}_{}_{}", ns, pkg, iface);
        let wasm_args: Vec<TokenStream> = f
            .func
            .params
            .iter()
            .zip(&pnames)
            .map(|(p, n)| match world.handle(&p.ty) {
                Some((_, false)) => quote!(*#n),
                _ => quote!(#n),
            })
            .collect();
        let call = match &f.func.kind {
            FunctionKind::Method(r) => {
                let resource = snake(world.resolve.types[*r].name.as_deref().unwrap_or("r"));
                let method = format_ident!("call_{}", f.func.item_name().to_snake_case());
                quote!(exports.#accessor().#resource().#method(store, #(#wasm_args),*))
            }
            _ => {
                let method = format_ident!("call_{}", f.func.name.to_snake_case());
                quote!(exports.#accessor().#method(store, #(#wasm_args),*))
            }
        };
        wasm_fns.push(quote! {
            #sig {
                self.call(|exports, store| #call)
            }
        });
    }

    let mut assoc = Vec::new();
    let mut native_assoc = Vec::new();
    let mut wasm_assoc = Vec::new();
    for (index, (_, export, name)) in resources.iter().enumerate() {
        let drop = format_ident!("drop_{}", name.to_string().to_snake_case());
        let slot = format_ident!("r{}", index);
        let export_lit = LitStr::new(export, world.span);
        assoc.push(quote! {
            /// A handle to the plugin's resource.
            type #name;
        });
        methods.push(quote! {
            /// Releases a handle.
            fn #drop(&self, this: Self::#name) -> ::std::result::Result<(), Self::Error>;
        });
        native_assoc.push(quote!(type #name = #krate::Resource;));
        wasm_assoc.push(quote!(type #name = ::wasmplug::wasmtime::component::ResourceAny;));
        entry_fields.push(quote!(pub #slot: unsafe extern "C" fn(u64) -> #krate::abi::Status,));
        entry_inits.push(quote! {
            // SAFETY: the field's type is the ABI's for a resource drop.
            #slot: unsafe { library.entry(#export_lit) }?,
        });
        native_fns.push(quote! {
            fn #drop(&self, this: Self::#name) -> ::std::result::Result<(), Self::Error> {
                #krate::__private::host::check_enabled(self)?;
                // SAFETY: the handle came from this plugin and is consumed.
                let status = unsafe { (#krate::__private::host::entries(self).#slot)(#krate::__private::host::into_handle(this)) };
                #krate::__private::host::finish_unit(self, status, #export_lit)
            }
        });
        wasm_fns.push(quote! {
            fn #drop(&self, this: Self::#name) -> ::std::result::Result<(), Self::Error> {
                self.call(|_, store| this.resource_drop(store))
            }
        });
    }

    let host = host_imports(&world, opts, &imports, &root)?;
    let host_trait = &host.definition;
    let host_ty = &host.ty;
    let import_fns = &host.functions;
    let import_table = &host.table;
    let wasm_impl = opts.wasm.as_ref().map(|contract| {
        quote! {
            #[allow(clippy::all, reason = "generated")]
            impl #api for ::wasmplug::Plugin<#contract> {
                type Error = ::wasmplug::Error;
                #(#wasm_assoc)*
                #(#wasm_fns)*
            }
        }
    });

    let contract = LitStr::new(&world.contract(), world.span);
    let world_name = LitStr::new(&world.world_name(), world.span);
    let digest = world.digest()?;
    let digest = digest.iter();
    let track = world.track_files();
    let api_doc = format!(
        " The exports of world `{}`, whichever backend serves them.",
        world.world_name()
    );
    let native_doc = format!(
        " World `{}` on the native backend: open plugins as `NativePlugin<{native}>`.",
        world.world_name()
    );
    Ok(quote! {
        #track
        #own_types
        #lowering

        #[doc = #api_doc]
        pub trait #api {
            /// The backend's error.
            type Error: ::std::error::Error + ::std::marker::Send + ::std::marker::Sync + 'static;
            #(#assoc)*
            #(#methods)*
        }

        #[doc = #native_doc]
        #[derive(Debug, Clone, Copy)]
        pub enum #native {}

        #[doc(hidden)]
        #[allow(missing_docs, reason = "generated")]
        pub struct #entries_ty {
            #(#entry_fields)*
        }

        #[allow(unsafe_code, reason = "resolving native entry points")]
        impl #krate::World for #native {
            const CONTRACT: &'static str = #contract;
            const WORLD: &'static str = #world_name;
            const WIT_DIGEST: #krate::Digest = #krate::Digest::from_bytes([#(#digest),*]);
            type Entries = #entries_ty;
            type Host = #host_ty;

            fn import_table(
                context: &'static #krate::ImportContext<Self::Host>,
            ) -> *const ::core::ffi::c_void {
                #import_table
            }

            unsafe fn resolve(
                library: &#krate::NativeLibrary,
            ) -> ::std::result::Result<#entries_ty, #krate::NativeError> {
                ::std::result::Result::Ok(#entries_ty { #(#entry_inits)* })
            }
        }

        #host_trait
        #(#import_fns)*

        #[allow(unsafe_code, clippy::all, reason = "calls through the native ABI")]
        impl #api for #krate::NativePlugin<#native> {
            type Error = #krate::NativeError;
            #(#native_assoc)*
            #(#native_fns)*
        }

        #wasm_impl
    })
}

/// How the trait takes a parameter: as wasmtime's bindings do (scalars and
/// plain values by value, `&str`, `&[T]`, types that own memory by
/// reference), so both backends pass it through unchanged.
fn param(
    world: &World,
    root: &TokenStream,
    ty: &Type,
    resource: &dyn Fn(TypeId, bool) -> TokenStream,
) -> TokenStream {
    if let Some((r, own)) = world.handle(ty) {
        return resource(r, own);
    }
    match ty {
        Type::String => quote!(&str),
        Type::Id(id) => {
            let def = &world.resolve.types[*id];
            if def.name.is_some() {
                let t = world.owned(root, ty, resource);
                return if world.has_list(ty) { quote!(&#t) } else { t };
            }
            match &def.kind {
                TypeDefKind::List(t) => {
                    let t = world.owned(root, t, resource);
                    quote!(&[#t])
                }
                TypeDefKind::Option(t) => {
                    let t = param(world, root, t, resource);
                    quote!(::std::option::Option<#t>)
                }
                TypeDefKind::Result(r) => {
                    let ok =
                        r.ok.as_ref()
                            .map_or_else(|| quote!(()), |t| param(world, root, t, resource));
                    let err = r
                        .err
                        .as_ref()
                        .map_or_else(|| quote!(()), |t| param(world, root, t, resource));
                    quote!(::std::result::Result<#ok, #err>)
                }
                TypeDefKind::Tuple(t) => {
                    let ts = t.types.iter().map(|t| param(world, root, t, resource));
                    quote!((#(#ts,)*))
                }
                TypeDefKind::Type(t) => param(world, root, t, resource),
                _ => world.owned(root, ty, resource),
            }
        }
        _ => world.owned(root, ty, resource),
    }
}

/// The host side of a world's imports.
struct HostImports {
    /// The trait the embedder implements (none for logging alone).
    definition: TokenStream,
    /// `World::Host`.
    ty: TokenStream,
    /// One `extern "C"` trampoline per import, from the plugin to the trait.
    functions: Vec<TokenStream>,
    /// The body of `World::import_table`.
    table: TokenStream,
}

fn host_imports(
    world: &World,
    opts: &options::Host,
    imports: &[Func<'_>],
    root: &TokenStream,
) -> syn::Result<HostImports> {
    let krate = quote!(::wasmplug_native);
    let own: Vec<&Func<'_>> = imports
        .iter()
        .filter(|f| world.iface_id(f.iface) != LOG)
        .collect();
    let host_trait = match (&opts.host, own.first()) {
        (Some(name), Some(_)) => name.clone(),
        (None, Some(f)) => {
            return Err(world.error(format!(
                "world `{}` imports `{}`: name the trait the embedder implements for its \
                 imports with `host: SomeHost`",
                world.world_name(),
                world.export_name(f)
            )));
        }
        (Some(name), None) => {
            return Err(syn::Error::new(
                name.span(),
                format!(
                    "world `{}` has no host imports besides `{LOG}`: remove `host`",
                    world.world_name()
                ),
            ));
        }
        (None, None) => format_ident!("__NoHost"),
    };
    let ty = if own.is_empty() {
        quote!(())
    } else {
        quote!(::std::boxed::Box<dyn #host_trait>)
    };
    let none = |_: TypeId, _: bool| quote!(u64);

    let mut methods = Vec::new();
    let mut functions = Vec::new();
    let mut slots = Vec::new();
    let mut names = std::collections::HashSet::new();
    for (index, f) in imports.iter().enumerate() {
        let slot = format_ident!("f{}", index);
        if world.iface_id(f.iface) == LOG {
            slots.push(quote!(#slot: #krate::__private::host::log,));
            continue;
        }
        let name = snake(&f.func.name);
        if !names.insert(name.to_string()) {
            return Err(world.error(format!(
                "two imports map to the host trait method `{name}`: rename one in the WIT"
            )));
        }
        let trampoline = format_ident!(
            "__wasmplug_{}_import_{}",
            opts.native.to_string().to_snake_case(),
            index
        );
        let pnames: Vec<Ident> = f.func.params.iter().map(|p| snake(&p.name)).collect();
        let ptys: Vec<TokenStream> = f
            .func
            .params
            .iter()
            .map(|p| world.owned(root, &p.ty, &none))
            .collect();
        let args: Vec<Ident> = (0..pnames.len()).map(|i| format_ident!("a{}", i)).collect();
        let ret = f.func.result.as_ref().map(|r| world.owned(root, r, &none));
        let d = docs_of(f.func.docs.contents.as_deref());
        let ret_sig = ret.as_ref().map(|t| quote!(-> #t));
        methods.push(quote! {
            #d
            fn #name(&self, plugin: &str, #(#pnames: #ptys),*) #ret_sig;
        });
        let out_param = ret
            .as_ref()
            .map(|t| quote!(out: *mut <#t as #krate::__private::Lower>::Lowered));
        let lifts = pnames.iter().zip(&ptys).zip(&args).map(|((n, t), a)| {
            let what = format!("invalid argument `{n}`: {{e}}");
            quote! {
                // SAFETY: the plugin lends its arguments for the call.
                let #n = unsafe { <#t as #krate::__private::Lift>::lift(&#a) }
                    .map_err(|e| ::std::format!(#what))?;
            }
        });
        let write = match (&f.func.result, &ret) {
            (Some(r), Some(t)) if world.has_list(r) => quote! {
                // SAFETY: `out` is writable (the ABI); the value it points
                // into is kept until the plugin's next import call.
                unsafe { out.write(#krate::__private::host::keep::<#t>(result)) };
            },
            (Some(_), Some(_)) => quote! {
                // SAFETY: `out` is writable (the ABI).
                unsafe { out.write(#krate::__private::Lower::lower(&result, &mut #krate::__private::Arena::new())) };
            },
            _ => quote!(let () = result;),
        };
        functions.push(quote! {
            #[allow(unsafe_code, clippy::all, reason = "a host import called by plugin code")]
            unsafe extern "C" fn #trampoline(
                ctx: *const ::core::ffi::c_void,
                #(#args: <#ptys as #krate::__private::Lower>::Lowered,)*
                #out_param
            ) -> #krate::abi::Status {
                #krate::__private::host::call(|| {
                    // SAFETY: the context of the table built for this world.
                    let context = unsafe { #krate::__private::host::context::<#ty>(ctx) };
                    #(#lifts)*
                    let result = context.host().#name(context.plugin(), #(#pnames),*);
                    #write
                    ::std::result::Result::Ok(())
                })
            }
        });
        slots.push(quote!(#slot: #trampoline,));
    }

    let definition = if own.is_empty() {
        TokenStream::new()
    } else {
        let doc = format!(
            " The host imports of world `{}` for native plugins: implement it, and \
             give a box of it to `NativeLoader::open_with`. Each method receives the \
             calling plugin's `name@version`; it may run on several threads at once.",
            world.world_name()
        );
        quote! {
            #[doc = #doc]
            pub trait #host_trait: ::std::marker::Send + ::std::marker::Sync + 'static {
                #(#methods)*
            }
        }
    };
    let table_ty = format_ident!("__{}Imports", opts.native);
    let layout = crate::guest::import_table(world, imports, root, &table_ty, true);
    let table = quote! {
        #layout
        let table: &'static #table_ty = ::std::boxed::Box::leak(::std::boxed::Box::new(#table_ty {
            ctx: ::core::ptr::from_ref(context).cast(),
            last_error: #krate::__private::host::last_error,
            #(#slots)*
        }));
        ::core::ptr::from_ref(table).cast()
    };
    Ok(HostImports {
        definition,
        ty,
        functions,
        table,
    })
}
