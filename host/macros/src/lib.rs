//! Compile-time help for `wasmplug::contract!`. Use it through `wasmplug`,
//! not directly.
//!
//! `contract_package!` reads the contract's WIT world with `wit-parser`, as
//! wasmtime's `bindgen!` does, and expands to the package and version the
//! plugins must export (`"acme:greeter@0.1.0"`), so a contract cannot name
//! another package than its WIT: given one, it must agree, or compilation
//! fails naming both.

mod package;

use proc_macro::TokenStream;

/// The contract package of a WIT world, as a string literal.
///
/// Input: `world: "ns:pkg/world", path: "dir"` (or a list of directories,
/// relative to the calling crate's `Cargo.toml`), and optionally
/// `package: "ns:pkg@x.y.z"`, which must be what the WIT says.
#[proc_macro]
pub fn contract_package(input: TokenStream) -> TokenStream {
    syn::parse::<package::Input>(input)
        .and_then(|input| package::expand(&input))
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
