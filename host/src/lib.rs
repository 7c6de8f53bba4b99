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
//!   small [`Contract`] impl); the crate `wasmplug-contracts` has examples.
//!
//! The expensive steps are split from the cheap ones, as in wasmtime:
//! [`Runtime`] (engine) → [`PluginPre`] (compiled, checked,
//! pre-instantiated, once per plugin) → [`PluginInstance`] (a store, cheap) and
//! [`Plugin`] (the live plugin: one shared instance, or a pool of them —
//! see [`Concurrency`]).
//! [`PluginPre::snapshot`] runs `init` once and makes a pre whose instances
//! start from the initialised state, without running `init` again.
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
//! [`PluginInstance`] refuses further calls.
//!
//! # Sync and async
//!
//! Two calling paths, chosen per contract:
//!
//! - **sync** (the default): [`Runtime::open`] and [`Plugin::call`], no
//!   async runtime needed, the cheapest calls. Host imports are plain
//!   functions. A [deadline](Limits::deadline) is enforced by epoch
//!   interruption, which stops guest *code*: a guest blocked inside a host
//!   call (a WASI sleep or poll, a slow host import) is interrupted only
//!   when that call returns. Every Rust `wasm32-wasip2` plugin imports
//!   `wasi:io/poll` and `wasi:io/streams`, so no deadline could be set at
//!   all if those were refused: the sync path documents the limit instead.
//! - **async** (a contract bound with `async: true`, see [`contract!`]):
//!   [`Runtime::open_async`] and [`AsyncPlugin::call_async`] on tokio. Host
//!   imports are `async fn`s that await real I/O without blocking a
//!   runtime thread, and other tasks (other plugins' calls) run while one
//!   awaits. A deadline holds whatever the guest does: the call is a
//!   future under `tokio::time::timeout`, cancelled at the deadline even
//!   when the guest is blocked in a host call, and a spinning guest yields
//!   to tokio at every epoch tick. See [`AsyncPlugin`] for the rest of the
//!   differences.
//!
//! Opening a contract on the other path is [`Error::CallingPath`].
//!
//! # Examples
//!
//! ```no_run
//! use wasmplug::Runtime;
//!
//! // A contract: the plugin's WIT world, bound with `bindgen!` (see
//! // `contract!`). This one is the Go article's demo plugin.
//! wasmplug::contract! {
//!     pub struct Demo {
//!         package: "wasmplug:demo@1.0.0",
//!         world: "wasmplug:demo/demo",
//!         path: ["wit/plugin", "../wit/demo"],
//!         bindings: demo::{Demo, DemoIndices},
//!     }
//! }
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

mod async_instance;
mod async_lookup;
mod async_plugin;
mod async_pool;
mod bindings;
mod builder;
mod cache;
mod cache_dir;
mod calling;
mod capabilities;
mod concurrency;
mod contract;
mod directory;
mod dynamic;
mod error;
mod inspect;
mod instance;
mod limits;
mod loader;
mod lookup;
mod manifest;
mod plugin;
mod pool;
mod pre;
mod reload;
mod runtime;
mod sandbox;
mod signature;
mod snapshot;
mod state;
mod ticker;

pub use async_lookup::AsyncTypedExport;
pub use async_plugin::{AsyncPlugin, CallFuture};
pub use builder::RuntimeBuilder;
pub use cache::CacheStats;
pub use cache_dir::{CacheDir, CacheEntry};
pub use capabilities::{Capabilities, Captured, DirAccess, Output};
pub use concurrency::{Concurrency, PoolConfig};
pub use contract::Contract;
pub use directory::{Available, Spec};
pub use dynamic::{DynamicLoader, DynamicPlugin};
pub use error::{Error, Result};
pub use instance::PluginInstance;
pub use limits::{DEFAULT_MAX_TRANSFER, Limit, Limits};
pub use loader::{Loader, OnDifferentSettings};
pub use lookup::TypedExport;
pub use manifest::{Manifest, Setting};
pub use plugin::Plugin;
pub use pre::PluginPre;
pub use reload::{AsyncReloadable, Reloadable};
pub use runtime::Runtime;
pub use signature::ExportedFunc;
pub use state::PluginState;
pub use wasmplug_core::{Conflict, Digest, Metadata, OnConflict, Origin};
/// The base contract's WIT (`wasmplug:plugin@1.0.0`, one file): the
/// package every plugin's world includes (`include
/// wasmplug:plugin/base@1.0.0;`), with the optional lifecycle hooks and
/// declaration. It ships inside this crate (`wit/plugin/plugin.wit`); a
/// plugin and its host keep a copy in their `wit/deps/`, written from this
/// constant by a small program of the host and checked by a test of it
/// (`docs/writing-a-plugin.md` shows both):
///
/// ```no_run
/// std::fs::create_dir_all("wit/deps/wasmplug-plugin")?;
/// std::fs::write("wit/deps/wasmplug-plugin/plugin.wit", wasmplug::BASE_WIT)?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub const BASE_WIT: &str = include_str!("../wit/plugin/plugin.wit");

/// The wasmtime this crate is built on; contract bindings use its types.
pub use wasmtime;

#[doc(hidden)]
pub mod __private {
    pub use crate::bindings::wasmplug::plugin::log;
    pub use wasmplug_macros::contract_package;
}
