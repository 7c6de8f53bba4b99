//! Host bindings for the base contract, `wasmplug:plugin@1.0.0`, generated
//! by wasmtime's `bindgen!`. Every contract world `include`s this one; the
//! runtime drives metadata and lifecycle through these bindings whatever the
//! contract.

#![allow(missing_docs, reason = "generated code; the WIT carries the docs")]
#![allow(unreachable_pub, reason = "generated code")]

wasmtime::component::bindgen!({
    path: "wit/plugin",
    world: "wasmplug:plugin/base",
});

/// The optional lifecycle hooks (`wasmplug:plugin/lifecycle`), found in a
/// plugin when it exports them.
pub mod hooks {
    wasmtime::component::bindgen!({
        path: "wit/plugin",
        world: "wasmplug:plugin/hooks",
    });
}
