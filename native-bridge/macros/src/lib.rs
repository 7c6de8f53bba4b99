//! Code generation for wasmplug's native ABI (`wasmplug_native::abi`),
//! from a WIT world read with `wit-parser`. Use it through
//! `wasmplug-native`, which re-exports both macros:
//!
//! - `generate!` — the plugin side: the same modules, types, `Guest`
//!   traits, import functions and `export!` macro as wit-bindgen's
//!   `generate!`, so plugin code written for wit-bindgen builds as a native
//!   library unchanged; `export!` defines the header and one C-ABI entry
//!   point per export.
//! - `bindings!` — the host side: one trait per world (the world's exports
//!   as typed methods), its implementation for `NativePlugin<World>`, and
//!   optionally for the Wasm backend's `wasmplug::Plugin`.

mod digest;
mod guest;
mod host;
mod model;
mod options;

use proc_macro::TokenStream;

/// Plugin-side bindings for a WIT world: wit-bindgen's API, native ABI.
/// Options as wit-bindgen's: `path` (a string or a list, relative to the
/// crate's `Cargo.toml`), `world`; `generate_all` is accepted (everything
/// is always generated). Invoke it at the crate root.
#[proc_macro]
pub fn generate(input: TokenStream) -> TokenStream {
    options::Guest::parse(input.into())
        .and_then(|opts| guest::generate(&opts))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Host-side bindings for a WIT world: `path`, `world`, `api: TraitName`,
/// `native: MarkerName`; optionally `types: absolute::path` (a module
/// laid out as wasmtime's `bindgen!` output whose types to use, instead of
/// generating them) and `wasm: absolute::path::Contract` (implement the
/// trait for `wasmplug::Plugin<Contract>` too, through wasmtime's
/// bindings in `types`).
#[proc_macro]
pub fn bindings(input: TokenStream) -> TokenStream {
    options::Host::parse(input.into())
        .and_then(|opts| host::generate(&opts))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
