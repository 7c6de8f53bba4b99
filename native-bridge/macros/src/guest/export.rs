//! `export!(Type)`: the plugin's header and native entry points.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::LitStr;
use wit_parser::{FunctionKind, TypeDefKind, TypeId};

use super::krate;
use crate::model::{Func, World, camel, snake};

/// `export!(Type)`: the header, the runtime entry points, and one entry
/// point per exported function and resource drop.
pub(super) fn export_macro(world: &World, exports: &[Func<'_>]) -> syn::Result<TokenStream> {
    let krate = krate();
    let root = quote!(crate);
    let contract = LitStr::new(&world.contract(), world.span);
    let world_name = LitStr::new(&world.world_name(), world.span);
    let digest = world.digest()?;
    let handle = |_: TypeId, _: bool| quote!(u64);
    let mut entries = Vec::new();
    for f in exports {
        let export = world.export_name(f);
        let symbol = format_ident!("{}", wasmplug_core::abi::mangle(&export));
        let dynamic = format_ident!("{}", wasmplug_core::abi::dynamic_symbol(&export));
        let iface_path = world.iface_path(f.iface);
        let guest = quote!(<$ty as #root::#iface_path::Guest>);
        let mut params = Vec::new();
        let mut param_tys = Vec::new();
        let mut lifts = Vec::new();
        let mut args = Vec::new();
        let is_method = matches!(f.func.kind, FunctionKind::Method(_));
        for (i, p) in f.func.params.iter().enumerate() {
            let a = format_ident!("a{}", i);
            if let Some((r, own)) = world.handle(&p.ty) {
                params.push(quote!(#a: u64));
                param_tys.push(quote!(u64));
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
                param_tys.push(quote!(<#t as #krate::__private::Lower>::Lowered));
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
        let (out_param, out_arg, write) = match &f.func.result {
            None => (quote!(), quote!(), quote!(#call;)),
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
                    quote!(out.cast()),
                    quote! {
                        let result = #call;
                        let lowered = #lower;
                        // SAFETY: the host passes a writable `out`.
                        unsafe { out.write(lowered) };
                    },
                )
            }
        };
        let indices = 0..param_tys.len();
        entries.push(quote! {
            #[unsafe(no_mangle)]
            #[doc(hidden)]
            pub unsafe extern "C" fn #symbol(#(#params,)* #out_param) -> #krate::abi::Status {
                #krate::__private::guest::call(move || {
                    #(#lifts)*
                    #write
                })
            }

            #[unsafe(no_mangle)]
            #[doc(hidden)]
            pub unsafe extern "C" fn #dynamic(
                args: *const *const ::core::ffi::c_void,
                out: *mut ::core::ffi::c_void,
            ) -> #krate::abi::Status {
                let _ = (&args, &out);
                // SAFETY: the ABI's dynamic entry points: `args` holds one
                // pointer per parameter, each to a value of its lowered
                // type, and `out` is as for the entry point.
                unsafe { #symbol(#(::core::ptr::read((*args.add(#indices)).cast::<#param_tys>()),)* #out_arg) }
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
