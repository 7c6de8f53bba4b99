//! `generate!`: the plugin side. Mirrors wit-bindgen's module layout and
//! names (`exports::ns::pkg::iface::Guest`, `GuestFoo`, `ns::pkg::iface`
//! for imports, `export!`), with native-ABI entry points behind them.

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Ident, LitStr};
use wit_parser::{FunctionKind, InterfaceId, Type, TypeDefKind, TypeId};

use crate::model::{Func, World, camel, snake, supers};
use crate::options;

fn krate() -> TokenStream {
    quote!(::wasmplug_native)
}

pub(crate) fn generate(opts: &options::Guest) -> syn::Result<TokenStream> {
    let world = World::load(&opts.source)?;
    let imports = world.functions(false)?;
    let exports = world.functions(true)?;
    for f in imports.iter().chain(&exports) {
        world.check_function(f)?;
    }

    // ns -> pkg -> interface modules, for imports and for exports.
    let mut import_mods: Tree = BTreeMap::new();
    let mut export_mods: Tree = BTreeMap::new();
    for iface in world.interfaces(false)? {
        let body = interface(&world, iface, false, &imports, false)?;
        insert(&mut import_mods, &world, iface, body);
    }
    for iface in world.interfaces(true)? {
        let body = interface(&world, iface, true, &imports, false)?;
        insert(&mut export_mods, &world, iface, body);
    }
    let import_mods = render(import_mods);
    let export_mods = render(export_mods);

    let table = import_table(
        &world,
        &imports,
        &quote!(self),
        &format_ident!("__WasmplugImports"),
        false,
    );
    let export_macro = export_macro(&world, &exports)?;
    let track = world.track_files();
    Ok(quote! {
        #track
        #import_mods
        #[allow(missing_docs, reason = "generated from WIT")]
        pub mod exports {
            #export_mods
        }
        #table
        #export_macro
    })
}

pub(crate) type Tree = BTreeMap<String, BTreeMap<String, Vec<(Ident, TokenStream)>>>;

pub(crate) fn insert(tree: &mut Tree, world: &World, iface: InterfaceId, body: TokenStream) {
    let (ns, pkg, name) = world.iface_segments(iface);
    tree.entry(ns.to_string())
        .or_default()
        .entry(pkg.to_string())
        .or_default()
        .push((name, body));
}

pub(crate) fn render(tree: Tree) -> TokenStream {
    let nss = tree.into_iter().map(|(ns, pkgs)| {
        let ns = format_ident!("{}", ns);
        let pkgs = pkgs.into_iter().map(|(pkg, ifaces)| {
            let pkg = format_ident!("{}", pkg);
            let ifaces = ifaces.into_iter().map(|(name, body)| {
                quote! {
                    #[allow(missing_docs, dead_code, reason = "generated from WIT")]
                    pub mod #name { #body }
                }
            });
            quote!(pub mod #pkg { #(#ifaces)* })
        });
        quote! {
            #[allow(missing_docs, reason = "generated from WIT")]
            pub mod #ns { #(#pkgs)* }
        }
    });
    quote!(#(#nss)*)
}

/// The body of an interface's module: its types, and either its import
/// functions or its `Guest` traits and resource handles.
pub(crate) fn interface(
    world: &World,
    iface: InterfaceId,
    exported: bool,
    imports: &[Func<'_>],
    types_only: bool,
) -> syn::Result<TokenStream> {
    let krate = krate();
    let root = supers(if exported { 4 } else { 3 });
    let resource = |r: TypeId, _own: bool| world.named_path(&root, r);
    let mut items = Vec::new();
    let mut resources = Vec::new();
    for (name, &id) in &world.resolve.interfaces[iface].types {
        let def = &world.resolve.types[id];
        let ident = camel(name);
        let docs = docs_of(def.docs.contents.as_deref());
        match &def.kind {
            TypeDefKind::Record(r) => {
                let fields = r.fields.iter().map(|f| {
                    let n = snake(&f.name);
                    let t = world.owned(&root, &f.ty, &resource);
                    let d = docs_of(f.docs.contents.as_deref());
                    quote!(#d pub #n: #t,)
                });
                items.push(quote! {
                    #docs
                    #[derive(Clone, Debug, PartialEq)]
                    pub struct #ident { #(#fields)* }
                });
            }
            TypeDefKind::Variant(v) => {
                let cases = v.cases.iter().map(|c| {
                    let n = camel(&c.name);
                    let d = docs_of(c.docs.contents.as_deref());
                    match &c.ty {
                        Some(t) => {
                            let t = world.owned(&root, t, &resource);
                            quote!(#d #n(#t),)
                        }
                        None => quote!(#d #n,),
                    }
                });
                items.push(quote! {
                    #docs
                    #[derive(Clone, Debug, PartialEq)]
                    pub enum #ident { #(#cases)* }
                });
            }
            TypeDefKind::Enum(e) => {
                let cases = e.cases.iter().map(|c| {
                    let n = camel(&c.name);
                    let d = docs_of(c.docs.contents.as_deref());
                    quote!(#d #n,)
                });
                items.push(quote! {
                    #docs
                    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
                    pub enum #ident { #(#cases)* }
                });
            }
            TypeDefKind::Resource if exported => resources.push((id, ident.clone())),
            TypeDefKind::Resource => {}
            TypeDefKind::Type(_)
            | TypeDefKind::List(_)
            | TypeDefKind::Option(_)
            | TypeDefKind::Result(_)
            | TypeDefKind::Tuple(_)
            | TypeDefKind::Handle(_) => {
                // An alias (`use`, `type x = y`), or a named anonymous type
                // (`type headers = list<…>`) rendered from its structure.
                let t = match &def.kind {
                    TypeDefKind::Type(t) => world.owned(&root, t, &resource),
                    _ => anonymous(world, &root, id, &resource),
                };
                items.push(quote!(#docs pub type #ident = #t;));
            }
            _ => {}
        }
        if matches!(
            def.kind,
            TypeDefKind::Record(_) | TypeDefKind::Variant(_) | TypeDefKind::Enum(_)
        ) {
            let lowered = format_ident!("__Lowered{}", ident);
            items.push(world.lowering(id, &quote!(#ident), &lowered, &root, &krate));
        }
    }

    if types_only {
        // The host's copy of the types: no traits, no imports.
    } else if exported {
        items.push(guest_traits(world, iface, &root, &resources));
    } else {
        for (index, f) in imports.iter().enumerate() {
            if f.iface == iface {
                items.push(import_function(world, f, index, &root));
            }
        }
    }
    Ok(quote!(#(#items)*))
}

/// The Rust type of an anonymous type definition that has a name (e.g.
/// `type headers = list<…>`), rendered from its structure.
fn anonymous(
    world: &World,
    root: &TokenStream,
    id: TypeId,
    resource: &dyn Fn(TypeId, bool) -> TokenStream,
) -> TokenStream {
    let def = &world.resolve.types[id];
    let owned = |t: &Type| world.owned(root, t, resource);
    match &def.kind {
        TypeDefKind::List(t) => {
            let t = owned(t);
            quote!(::std::vec::Vec<#t>)
        }
        TypeDefKind::Option(t) => {
            let t = owned(t);
            quote!(::std::option::Option<#t>)
        }
        TypeDefKind::Result(r) => {
            let ok = r.ok.as_ref().map_or_else(|| quote!(()), owned);
            let err = r.err.as_ref().map_or_else(|| quote!(()), owned);
            quote!(::std::result::Result<#ok, #err>)
        }
        TypeDefKind::Tuple(t) => {
            let ts = t.types.iter().map(owned);
            quote!((#(#ts,)*))
        }
        TypeDefKind::Handle(_) => world.owned(root, &Type::Id(id), resource),
        _ => quote!(()),
    }
}

/// `Guest` (the interface's plain functions), and per resource its
/// `GuestFoo` trait and `Foo` handle.
fn guest_traits(
    world: &World,
    iface: InterfaceId,
    root: &TokenStream,
    resources: &[(TypeId, Ident)],
) -> TokenStream {
    let krate = krate();
    let resource = |r: TypeId, _own: bool| world.named_path(root, r);
    let i = &world.resolve.interfaces[iface];
    let signature = |f: &wit_parser::Function, skip_self: bool| {
        let params = f.params.iter().skip(usize::from(skip_self)).map(|p| {
            let n = snake(&p.name);
            let t = world.owned(root, &p.ty, &resource);
            quote!(#n: #t)
        });
        let result = f.result.as_ref().map(|r| {
            let t = world.owned(root, r, &resource);
            quote!(-> #t)
        });
        (quote!(#(#params),*), result)
    };

    let assoc = resources.iter().map(|(_, name)| {
        let guest = format_ident!("Guest{}", name);
        quote!(type #name: #guest;)
    });
    let fns = i
        .functions
        .values()
        .filter(|f| matches!(f.kind, FunctionKind::Freestanding))
        .map(|f| {
            let n = snake(&f.name);
            let (params, result) = signature(f, false);
            let d = docs_of(f.docs.contents.as_deref());
            quote!(#d fn #n(#params) #result;)
        });
    let mut out = vec![quote! {
        /// The interface's exports, implemented by the plugin.
        pub trait Guest {
            #(#assoc)*
            #(#fns)*
        }
    }];
    for (id, name) in resources {
        let guest = format_ident!("Guest{}", name);
        let methods = i
            .functions
            .values()
            .filter(|f| matches!(f.kind, FunctionKind::Method(r) if r == *id))
            .map(|f| {
                let n = snake(f.item_name());
                let (params, result) = signature(f, true);
                let d = docs_of(f.docs.contents.as_deref());
                let comma = if params.is_empty() {
                    quote!()
                } else {
                    quote!(,)
                };
                quote!(#d fn #n(&self #comma #params) #result;)
            });
        out.push(quote! {
            /// The resource's methods, implemented by the plugin's type.
            pub trait #guest: 'static {
                #(#methods)*
            }

            /// An owned handle to the resource: return it to the host to
            /// pass ownership.
            #[derive(Debug)]
            pub struct #name {
                handle: u64,
            }

            impl #name {
                /// Makes a handle owning `value`.
                pub fn new<T: #guest>(value: T) -> Self {
                    #name { handle: #krate::__private::guest::resource_new(value) }
                }

                /// A handle the host passed back.
                ///
                /// # Safety
                ///
                /// `handle` must be a live handle of this resource, made
                /// by [`new`](Self::new) and given up by its owner: the
                /// plugin dereferences and frees it.
                #[doc(hidden)]
                pub unsafe fn from_handle(handle: u64) -> Self {
                    #name { handle }
                }
            }

            impl #krate::__private::Lower for #name {
                type Lowered = u64;
                fn lower(&self, _: &mut #krate::__private::Arena) -> u64 {
                    self.handle
                }
            }
        });
    }
    quote!(#(#out)*)
}

/// An imported function: lowers its arguments and calls the host's table.
fn import_function(world: &World, f: &Func<'_>, index: usize, root: &TokenStream) -> TokenStream {
    let krate = krate();
    let resource = |r: TypeId, _: bool| world.named_path(root, r);
    let slot = format_ident!("f{}", index);
    let name = snake(&f.func.name);
    let params: Vec<TokenStream> = f
        .func
        .params
        .iter()
        .map(|p| {
            let n = snake(&p.name);
            let t = import_param(world, root, &p.ty, &resource);
            quote!(#n: #t)
        })
        .collect();
    let lowers = f.func.params.iter().enumerate().map(|(i, p)| {
        let n = snake(&p.name);
        let a = format_ident!("a{}", i);
        quote!(let #a = #krate::__private::Lower::lower(&#n, &mut arena);)
    });
    let args: Vec<Ident> = (0..f.func.params.len())
        .map(|i| format_ident!("a{}", i))
        .collect();
    let export = world.export_name(f);
    let d = docs_of(f.func.docs.contents.as_deref());
    let failed = quote! {
        if status != #krate::abi::Status::OK {
            // SAFETY: the table's `last_error`, right after the failed call.
            unsafe { #krate::__private::guest::import_failed(#export, table.last_error) };
        }
    };
    let body = match &f.func.result {
        None => quote! {
            // SAFETY: the table's slot has this world's signature (the
            // header's digest check), its arguments live for the call.
            let status = unsafe { (table.#slot)(table.ctx, #(#args,)*) };
            #failed
        },
        Some(r) => {
            let t = world.owned(root, r, &resource);
            quote! {
                let mut out = ::core::mem::MaybeUninit::uninit();
                // SAFETY: as above; the host writes `out` on success.
                let status = unsafe { (table.#slot)(table.ctx, #(#args,)* out.as_mut_ptr()) };
                #failed
                // SAFETY: written by the host, valid until its next import call.
                unsafe { <#t as #krate::__private::Lift>::lift(out.assume_init_ref()) }
                    .unwrap_or_else(|e| ::core::panic!("the host returned an invalid value from `{}`: {e}", #export))
            }
        }
    };
    let result = f.func.result.as_ref().map(|r| {
        let t = world.owned(root, r, &resource);
        quote!(-> #t)
    });
    quote! {
        #d
        #[allow(clippy::all, reason = "generated")]
        pub fn #name(#(#params),*) #result {
            // SAFETY: the table is the one generated for this world.
            let table = unsafe { #krate::__private::guest::imports::<#root::__WasmplugImports>() };
            let mut arena = #krate::__private::Arena::new();
            #(#lowers)*
            let _ = &mut arena;
            #body
        }
    }
}

/// How an import takes a parameter: scalars and plain values by value,
/// `&str`, `&[T]`, and anything else that owns memory by reference.
fn import_param(
    world: &World,
    root: &TokenStream,
    ty: &Type,
    resource: &dyn Fn(TypeId, bool) -> TokenStream,
) -> TokenStream {
    match world.canonical(*ty) {
        Type::String => quote!(&str),
        Type::Id(id) if world.has_list(ty) => match &world.resolve.types[id].kind {
            TypeDefKind::List(t) => {
                let t = world.owned(root, t, resource);
                quote!(&[#t])
            }
            _ => {
                let t = world.owned(root, ty, resource);
                quote!(&#t)
            }
        },
        _ => world.owned(root, ty, resource),
    }
}

/// The C layout of the host's import table (see the ABI): a context, the
/// host's `last_error`, then one slot per imported function in world order.
/// `root` is where the world's types are, from where the struct is defined.
pub(crate) fn import_table(
    world: &World,
    imports: &[Func<'_>],
    root: &TokenStream,
    name: &Ident,
    fixed_log: bool,
) -> TokenStream {
    let krate = krate();
    let root = root.clone();
    let none = |_: TypeId, _: bool| quote!(u64);
    let slots = imports.iter().enumerate().map(|(i, f)| {
        let slot = format_ident!("f{}", i);
        if fixed_log && world.iface_id(f.iface) == crate::model::LOG {
            // `log(level, message)`, `level` an enum: the runtime's own
            // `log` has this type whatever the bindings call the enum.
            return quote! {
                pub #slot: unsafe extern "C" fn(
                    *const ::core::ffi::c_void, u32, #krate::abi::Str,
                ) -> #krate::abi::Status,
            };
        }
        let params = f.func.params.iter().map(|p| {
            let t = world.owned(&root, &p.ty, &none);
            quote!(<#t as #krate::__private::Lower>::Lowered)
        });
        let out = f.func.result.as_ref().map(|r| {
            let t = world.owned(&root, r, &none);
            quote!(*mut <#t as #krate::__private::Lower>::Lowered)
        });
        quote!(pub #slot: unsafe extern "C" fn(*const ::core::ffi::c_void, #(#params,)* #out) -> #krate::abi::Status,)
    });
    quote! {
        #[doc(hidden)]
        #[repr(C)]
        #[allow(missing_docs, reason = "the ABI's import table")]
        pub struct #name {
            pub ctx: *const ::core::ffi::c_void,
            pub last_error: unsafe extern "C" fn() -> #krate::abi::Str,
            #(#slots)*
        }
    }
}

/// `export!(Type)`: the header, the runtime entry points, and one entry
/// point per exported function and resource drop.
fn export_macro(world: &World, exports: &[Func<'_>]) -> syn::Result<TokenStream> {
    let krate = krate();
    let root = quote!(crate);
    let contract = LitStr::new(&world.contract(), world.span);
    let world_name = LitStr::new(&world.world_name(), world.span);
    let digest = crate::digest::digest(world)?;
    let handle = |_: TypeId, _: bool| quote!(u64);
    let mut entries = Vec::new();
    for f in exports {
        let export = world.export_name(f);
        let symbol = format_ident!("{}", wasmplug_core::abi::mangle(&export));
        let iface_path = world.iface_path(f.iface);
        let guest = quote!(<$ty as #root::#iface_path::Guest>);
        let mut params = Vec::new();
        let mut lifts = Vec::new();
        let mut args = Vec::new();
        let is_method = matches!(f.func.kind, FunctionKind::Method(_));
        for (i, p) in f.func.params.iter().enumerate() {
            let a = format_ident!("a{}", i);
            if let Some((r, own)) = world.handle(&p.ty) {
                params.push(quote!(#a: u64));
                let rname = world.type_name(r);
                if is_method && i == 0 {
                    lifts.push(quote! {
                        // SAFETY: the host passes handles this plugin made
                        // and has not dropped.
                        let #a = unsafe { #krate::__private::guest::resource::<#guest::#rname>(#a) };
                    });
                } else if own {
                    let path = world.named_path(&root, r);
                    lifts.push(quote! {
                        // SAFETY: the host passes an owned handle this
                        // plugin made, and gives it up.
                        let #a = unsafe { #path::from_handle(#a) };
                    });
                } else {
                    return Err(world.error(format!(
                        "`{export}`: borrowed handles are supported as `self` only"
                    )));
                }
            } else {
                let t = world.owned(&root, &p.ty, &handle);
                params.push(quote!(#a: <#t as #krate::__private::Lower>::Lowered));
                lifts.push(quote! {
                    // SAFETY: the host lends its arguments for the call.
                    let #a: #t = unsafe { #krate::__private::Lift::lift(&#a) }
                        .unwrap_or_else(|e| ::core::panic!("`{}`: invalid argument: {e}", #export));
                });
            }
            args.push(a);
        }
        let call = match &f.func.kind {
            FunctionKind::Method(r) => {
                let rname = world.type_name(*r);
                let gname = format_ident!("Guest{}", rname);
                let method = snake(f.func.item_name());
                let this = &args[0];
                let rest = &args[1..];
                quote!(<#guest::#rname as #root::#iface_path::#gname>::#method(#this, #(#rest),*))
            }
            _ => {
                let name = snake(&f.func.name);
                quote!(#guest::#name(#(#args),*))
            }
        };
        let (out_param, write) = match &f.func.result {
            None => (quote!(), quote!(#call;)),
            Some(r) => {
                let owned_handle = world.handle(r).is_some();
                let t = if owned_handle {
                    quote!(u64)
                } else {
                    let t = world.owned(&root, r, &handle);
                    quote!(<#t as #krate::__private::Lower>::Lowered)
                };
                // A result that owns memory is kept until post-call (the
                // host then calls it); any other lowers to plain values.
                let lower = if world.has_list(r) {
                    quote!(#krate::__private::guest::keep(result))
                } else {
                    quote!(#krate::__private::Lower::lower(&result, &mut #krate::__private::Arena::new()))
                };
                (
                    quote!(out: *mut #t),
                    quote! {
                        let result = #call;
                        let lowered = #lower;
                        // SAFETY: the host passes a writable `out`.
                        unsafe { out.write(lowered) };
                    },
                )
            }
        };
        entries.push(quote! {
            #[unsafe(no_mangle)]
            #[doc(hidden)]
            pub unsafe extern "C" fn #symbol(#(#params,)* #out_param) -> #krate::abi::Status {
                #krate::__private::guest::call(move || {
                    #(#lifts)*
                    #write
                })
            }
        });
    }
    // A drop entry point per exported resource.
    for iface in world.interfaces(true)? {
        for (name, &id) in &world.resolve.interfaces[iface].types {
            if !matches!(world.resolve.types[id].kind, TypeDefKind::Resource) {
                continue;
            }
            let export = format!("{}#[resource-drop]{}", world.iface_id(iface), name);
            let symbol = format_ident!("{}", wasmplug_core::abi::mangle(&export));
            let iface_path = world.iface_path(iface);
            let rname = camel(name);
            entries.push(quote! {
                #[unsafe(no_mangle)]
                #[doc(hidden)]
                pub unsafe extern "C" fn #symbol(handle: u64) -> #krate::abi::Status {
                    #krate::__private::guest::call(move || {
                        // SAFETY: the host drops each handle it got once.
                        let _ = unsafe { #krate::__private::guest::resource::<<$ty as #root::#iface_path::Guest>::#rname>(handle) };
                        // SAFETY: as above; the handle is not used again.
                        unsafe { #krate::__private::guest::resource_drop(handle) };
                    })
                }
            });
        }
    }
    let digest = digest.iter();
    Ok(quote! {
        /// Exports `$ty`'s implementation of the world as a native plugin:
        /// the header, the runtime and one entry point per export.
        #[allow(unused_macros, reason = "invoked by the plugin")]
        macro_rules! export {
            ($ty:ty) => {
                #krate::header! {
                    contract: #contract,
                    world: #world_name,
                    wit_digest: [#(#digest),*],
                    name: ::core::env!("CARGO_PKG_NAME"),
                    version: ::core::env!("CARGO_PKG_VERSION"),
                }
                #krate::plugin_runtime!();
                #(#entries)*
            };
        }
    })
}

pub(crate) fn docs_of(text: Option<&str>) -> TokenStream {
    match text {
        Some(t) => {
            let lines = t.lines().map(|l| format!(" {l}"));
            quote!(#(#[doc = #lines])*)
        }
        None => quote!(),
    }
}
