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
/// `native: MarkerName`; `host: TraitName` when the world imports more than
/// `wasmplug:plugin/log` (the trait of those imports the embedder
/// implements for native plugins); optionally `types: absolute::path` (a module
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

/// What the generators refuse, and how they say it: each unsupported WIT
/// construct is a compile error naming the function and the type.
#[cfg(test)]
mod tests {
    use proc_macro2::TokenStream;
    use quote::quote;

    /// A fresh directory with `files` (name, text) in it.
    fn wit_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        dir
    }

    fn base() -> String {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../wit/plugin");
        root.canonicalize().unwrap().display().to_string()
    }

    /// `generate!` on a world `t:t/w` made of `items`, with interface `i`
    /// holding `iface`.
    fn guest(iface: &str, items: &str) -> Result<TokenStream, String> {
        let text =
            format!("package t:t@1.0.0;\ninterface i {{\n{iface}\n}}\nworld w {{\n{items}\n}}\n");
        let dir = wit_dir(&[("t.wit", &text)]);
        let path = dir.path().display().to_string();
        let opts = crate::options::Guest::parse(quote!({ path: #path, world: "w" }))
            .map_err(|e| e.to_string())?;
        crate::guest::generate(&opts).map_err(|e| e.to_string())
    }

    /// `bindings!` on a world `t:t/w` that includes the base world.
    fn host(iface: &str, items: &str, extra: TokenStream) -> Result<TokenStream, String> {
        let text = format!(
            "package t:t@1.0.0;\ninterface i {{\n{iface}\n}}\nworld w {{\ninclude wasmplug:plugin/base@1.0.0;\n{items}\n}}\n"
        );
        let dir = wit_dir(&[("t.wit", &text)]);
        let (base, path) = (base(), dir.path().display().to_string());
        let opts = crate::options::Host::parse(
            quote!({ path: [#base, #path], world: "w", api: Api, native: Native, #extra }),
        )
        .map_err(|e| e.to_string())?;
        crate::host::generate(&opts).map_err(|e| e.to_string())
    }

    fn refused(result: Result<TokenStream, String>) -> String {
        match result {
            Ok(_) => panic!("generated code for an unsupported world"),
            Err(message) => message,
        }
    }

    #[test]
    fn the_supported_types_generate() {
        let iface = "record r { a: u8, b: list<string>, c: option<tuple<s64, char>> }
                     variant v { none, one(r), two(result<f64, string>) }
                     enum e { x, y }
                     resource res { m: func(n: u32) -> string; }
                     f: func(r: r, v: v, e: e, b: list<u8>) -> result<list<r>, e>;
                     g: func() -> res;";
        guest(iface, "export i;").unwrap();
        host(iface, "export i;", quote!()).unwrap();
    }

    #[test]
    fn unsupported_types_are_errors_that_name_them() {
        let cases = [
            (
                "flags perms { read, write }\nf: func(p: perms);",
                "`t:t/i#f`: WIT type `flags perms` is not supported by the native ABI (v1)",
            ),
            (
                "f: func() -> tuple<u8, u8, u8, u8, u8>;",
                "`t:t/i#f`: WIT type `tuple of more than 4` is not supported by the native ABI (v1)",
            ),
            (
                "resource r;\nrecord holder { r: r }\nf: func(h: holder);",
                "`t:t/i#f`: resource handles are supported as parameters and results only, not inside `holder`",
            ),
            (
                "resource r { constructor(); }",
                "`t:t/i#[constructor]r`: only plain functions and resource methods are supported by \
                 the native ABI (not constructors, static or async functions)",
            ),
        ];
        for (iface, message) in cases {
            assert_eq!(refused(guest(iface, "export i;")), message, "{iface}");
            assert_eq!(
                refused(host(iface, "export i;", quote!())),
                message,
                "{iface}"
            );
        }
    }

    #[test]
    fn world_shapes_the_abi_cannot_carry_are_errors() {
        assert_eq!(
            refused(guest("", "export f: func();")),
            "world-level function `f`: the native ABI supports functions in interfaces only"
        );
        assert_eq!(
            refused(guest("", "export inline: interface { f: func(); }")),
            "inline interface `inline` in the world: the native ABI needs named interfaces"
        );
        assert_eq!(
            refused(guest("resource r;\nf: func() -> r;", "import i;")),
            "`t:t/i#f`: imported resources (resources the host implements) are not supported \
             by the native ABI (v1)"
        );
    }

    #[test]
    fn host_imports_need_a_host_trait_and_only_then() {
        let iface = "now: func() -> u64;";
        assert_eq!(
            refused(host(iface, "import i;", quote!())),
            "world `t:t/w` imports `t:t/i#now`: name the trait the embedder implements for its \
             imports with `host: SomeHost`"
        );
        host(iface, "import i;", quote!(host: Clock)).unwrap();
        assert_eq!(
            refused(host(iface, "export i;", quote!(host: Clock))),
            "world `t:t/w` has no host imports besides `wasmplug:plugin/log`: remove `host`"
        );
        assert_eq!(
            refused(host(
                iface,
                "import i;\nexport f: func();",
                quote!(host: Clock)
            )),
            "world-level function `f`: the native ABI supports functions in interfaces only"
        );
    }
}
