//! # wasmplug
//!
//! A plugin runtime for Rust hosts. Plugins implement a WIT contract and are
//! WebAssembly components (built for `wasm32-wasip2`); the host loads them on
//! wasmtime and calls them through typed bindings generated from the same
//! WIT. It is the portable answer to Go's `plugin` package:
//!
//! - **instantiate-once**: opening the same plugin twice returns the same
//!   live [`Plugin`], and its `init` ran once ([`Runtime::open`]);
//! - **typed exports**: calls go through `bindgen!`-generated Rust functions;
//!   the dynamic [`Plugin::lookup`] checks the signature and returns
//!   [`Error::Signature`] instead of panicking on a wrong type assertion;
//! - **typed errors** for every bad input: not Wasm, a core module, a
//!   truncated file, a missing or mistyped export, an unsupported contract
//!   version, a second file claiming a loaded name and version
//!   (see [`Error`]);
//! - **any contract**: bring your own WIT world with [`contract!`] (or a
//!   small [`Contract`] impl); the bundled [`contracts`] are examples.
//!
//! The expensive steps are split from the cheap ones, as in wasmtime:
//! [`Runtime`] (engine) → [`PluginPre`] (compiled, checked,
//! pre-instantiated, once per plugin) → [`Instance`] (a store, cheap) and
//! [`Plugin`] (the shared, initialised live instance).
//!
//! Plugins run sandboxed: no filesystem, environment, arguments, network or
//! stdio unless [`Capabilities`] grant them. [`Limits`] cap each plugin's
//! memory and tables, and each call's time (a deadline, by epoch
//! interruption) or fuel; running into one is [`Error::LimitExceeded`]. Their
//! `log` import goes to the `tracing` facade (target `wasmplug::guest`) with
//! the plugin's `name@version`; WASI calls are traced inside a `plugin` span.
//!
//! **After a fault** (a trap, a guest panic, an exceeded limit) an instance
//! is never reused: the live [`Plugin`] discards it and makes a fresh one on
//! the next call (its `init` runs again, and a warning is logged); a private
//! [`Instance`] refuses further calls.
//!
//! # Examples
//!
//! ```no_run
//! use wasmplug::contracts::Demo;
//! use wasmplug::Runtime;
//!
//! # fn main() -> Result<(), wasmplug::Error> {
//! let runtime = Runtime::new()?;
//! let plugin = runtime.open::<Demo>("demo1.wasm")?;
//! // Opening it again returns the same live plugin; `init` ran once.
//! let again = runtime.open::<Demo>("demo1.wasm")?;
//! assert!(wasmplug::Plugin::ptr_eq(&plugin, &again));
//!
//! // Typed calls through the contract's generated bindings.
//! plugin.call(|demo, store| demo.wasmplug_demo_api().call_set_v(store, 15))?;
//! let report = plugin.call(|demo, store| demo.wasmplug_demo_api().call_f(store))?;
//! assert_eq!(report, "plugin1: public integer variable V=15");
//!
//! // Go's `Lookup`, with the signature checked instead of type-asserted.
//! let get_v = plugin.lookup::<(), (i64,)>("wasmplug:demo/api@1.0.0#get-v")?;
//! assert_eq!(get_v.call(())?, (15,));
//! # Ok(())
//! # }
//! ```

// Lets `contract!` name this crate as `::wasmplug` here too (bindgen! cannot
// take `$crate` paths).
extern crate self as wasmplug;

mod bindings;
mod cache;
mod capabilities;
mod contract;
pub mod contracts;
mod digest;
mod directory;
mod error;
mod inspect;
mod limits;
mod manifest;
mod metadata;
mod plugin;
mod registry;
mod reload;
mod runtime;
mod setup;
mod signature;
mod state;

pub use cache::CacheStats;
pub use capabilities::{Capabilities, Captured, DirAccess, Output};
pub use contract::Contract;
pub use digest::Digest;
pub use directory::{Available, Spec};
pub use error::{Conflict, Error, Origin, Result};
pub use limits::{Limit, Limits};
pub use metadata::Metadata;
pub use plugin::{Instance, Plugin, PluginPre, TypedExport};
pub use reload::Reloadable;
pub use runtime::{Loader, OnConflict, Runtime, RuntimeBuilder};
pub use signature::ExportedFunc;
pub use state::PluginState;
/// The wasmtime this crate is built on; contract bindings use its types.
pub use wasmtime;

#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::wasmplug::plugin::log;
}
