//! `generate!`: the plugin side. Mirrors wit-bindgen's module layout and
//! names (`exports::ns::pkg::iface::Guest`, `GuestFoo`, `ns::pkg::iface`
//! for imports, `export!`), with native-ABI entry points behind them.

use std::collections::BTreeMap;

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::Ident;
use wit_parser::{FunctionKind, InterfaceId, Type, TypeDefKind, TypeId};

use crate::model::{Func, World, camel, snake, supers};
use crate::options;

mod export;
mod imports;

use export::export_macro;
use imports::import_function;
pub(crate) use imports::import_table;

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

pub(crate) fn docs_of(text: Option<&str>) -> TokenStream {
    match text {
        Some(t) => {
            let lines = t.lines().map(|l| format!(" {l}"));
            quote!(#(#[doc = #lines])*)
        }
        None => quote!(),
    }
}
