//! Imported functions on the plugin side: lowering the arguments and
//! calling through the host's table.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::Ident;
use wit_parser::{Type, TypeDefKind, TypeId};

use super::{docs_of, krate};
use crate::model::{Func, World, snake};

/// An imported function: lowers its arguments and calls the host's table.
pub(super) fn import_function(
    world: &World,
    f: &Func<'_>,
    index: usize,
    root: &TokenStream,
) -> TokenStream {
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
