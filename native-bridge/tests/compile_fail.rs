//! The native guest API's contracts hold in its types: what used to let safe
//! code reach freed memory, or stretch a borrowed string past its source, no
//! longer compiles (`native-bridge/tests/ui/*.rs`, each with the compiler's verdict in its
//! `.stderr`; `TRYBUILD=overwrite` rewrites them after a deliberate change).
//! A test of this crate rather than of the suite: trybuild then builds only
//! `wasmplug-native`, not wasmtime.

#[test]
fn escapes_from_the_native_guest_api_do_not_compile() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("ui/*.rs");
}
