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

/// The base contract and its hooks bound with async exports, for plugins
/// whose contract is async ([`Contract::ASYNC`](crate::Contract::ASYNC)):
/// their stores require `*_async` calls for everything, `get-metadata`,
/// `init` and `shutdown` included. The `log` import stays the synchronous
/// one above (a store may mix synchronous and async host functions).
pub mod asynchronous {
    wasmtime::component::bindgen!({
        path: "wit/plugin",
        world: "wasmplug:plugin/base",
        exports: { default: async },
        with: { "wasmplug:plugin/log": crate::bindings::wasmplug::plugin::log },
    });

    /// The optional lifecycle hooks, async.
    pub mod hooks {
        wasmtime::component::bindgen!({
            path: "wit/plugin",
            world: "wasmplug:plugin/hooks",
            exports: { default: async },
        });
    }
}
