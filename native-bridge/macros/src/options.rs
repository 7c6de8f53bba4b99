//! The macros' options: `{ key: value, flag, … }`.

use proc_macro2::{Span, TokenStream};
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Ident, LitStr, Path, Token, braced, bracketed};

/// One `key: value` or bare `flag`.
enum Item {
    Paths(Vec<LitStr>),
    World(LitStr),
    Ident(Ident, Ident),
    Path(Ident, Path),
    Flag(Ident),
}

impl Parse for Item {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let key: Ident = input.parse()?;
        if !input.peek(Token![:]) {
            return Ok(Item::Flag(key));
        }
        input.parse::<Token![:]>()?;
        match key.to_string().as_str() {
            "path" => {
                if input.peek(syn::token::Bracket) {
                    let content;
                    bracketed!(content in input);
                    let paths: Punctuated<LitStr, Token![,]> =
                        content.parse_terminated(|p| p.parse(), Token![,])?;
                    Ok(Item::Paths(paths.into_iter().collect()))
                } else {
                    Ok(Item::Paths(vec![input.parse()?]))
                }
            }
            "world" => Ok(Item::World(input.parse()?)),
            "api" | "native" | "host" => Ok(Item::Ident(key, input.parse()?)),
            "types" | "wasm" => Ok(Item::Path(key, input.parse()?)),
            _ => Err(syn::Error::new(
                key.span(),
                format!("unknown option `{key}`"),
            )),
        }
    }
}

struct Items(Vec<Item>);

impl Parse for Items {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let body = if input.peek(syn::token::Brace) {
            let content;
            braced!(content in input);
            content.parse_terminated(Item::parse, Token![,])?
        } else {
            input.parse_terminated(Item::parse, Token![,])?
        };
        Ok(Items(body.into_iter().collect()))
    }
}

/// Where the WIT is and which world.
pub(crate) struct Source {
    pub(crate) paths: Vec<LitStr>,
    pub(crate) world: LitStr,
}

/// `generate!`'s options.
pub(crate) struct Guest {
    pub(crate) source: Source,
}

/// `bindings!`'s options.
pub(crate) struct Host {
    pub(crate) source: Source,
    pub(crate) api: Ident,
    pub(crate) native: Ident,
    pub(crate) host: Option<Ident>,
    pub(crate) types: Option<Path>,
    pub(crate) wasm: Option<Path>,
}

fn source(paths: Option<Vec<LitStr>>, world: Option<LitStr>) -> syn::Result<Source> {
    let missing = |what: &str| syn::Error::new(Span::call_site(), format!("missing `{what}`"));
    Ok(Source {
        paths: paths.ok_or_else(|| missing("path"))?,
        world: world.ok_or_else(|| missing("world"))?,
    })
}

impl Guest {
    pub(crate) fn parse(input: TokenStream) -> syn::Result<Self> {
        let Items(items) = syn::parse2(input)?;
        let (mut paths, mut world) = (None, None);
        for item in items {
            match item {
                Item::Paths(p) => paths = Some(p),
                Item::World(w) => world = Some(w),
                // wit-bindgen's: everything is always generated here.
                Item::Flag(f) if f == "generate_all" => {}
                Item::Flag(k) | Item::Ident(k, _) | Item::Path(k, _) => {
                    return Err(syn::Error::new(
                        k.span(),
                        format!("option `{k}` is not supported by the native generator"),
                    ));
                }
            }
        }
        Ok(Guest {
            source: source(paths, world)?,
        })
    }
}

impl Host {
    pub(crate) fn parse(input: TokenStream) -> syn::Result<Self> {
        let Items(items) = syn::parse2(input)?;
        let (mut paths, mut world, mut api, mut native, mut host, mut types, mut wasm) =
            (None, None, None, None, None, None, None);
        for item in items {
            match item {
                Item::Paths(p) => paths = Some(p),
                Item::World(w) => world = Some(w),
                Item::Ident(k, v) if k == "api" => api = Some(v),
                Item::Ident(k, v) if k == "host" => host = Some(v),
                Item::Ident(_, v) => native = Some(v),
                Item::Path(k, v) if k == "types" => types = Some(v),
                Item::Path(_, v) => wasm = Some(v),
                Item::Flag(k) => {
                    return Err(syn::Error::new(k.span(), format!("unknown option `{k}`")));
                }
            }
        }
        let missing = |what: &str| syn::Error::new(Span::call_site(), format!("missing `{what}`"));
        if wasm.is_some() && types.is_none() {
            return Err(missing("types (wasmtime's bindings, needed by `wasm`)"));
        }
        Ok(Host {
            source: source(paths, world)?,
            api: api.ok_or_else(|| missing("api"))?,
            native: native.ok_or_else(|| missing("native"))?,
            host,
            types,
            wasm,
        })
    }
}
