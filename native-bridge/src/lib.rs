//! # wasmplug-native
//!
//! The native backend of wasmplug: plugins built from the same source as
//! their Wasm components, as shared libraries (`.so` on Linux and FreeBSD,
//! `.dylib` on macOS, amd64 and arm64), loaded with `libloading` through the
//! same WIT contract. It exists so that Wasm and native can be compared on
//! the same plugin logic.
//!
//! The ABI between host and plugin is specified in [`abi`]. This crate
//! builds in two flavours: with the default `host` feature it is the loader
//! ([`NativeLibrary`]); plugins depend on it with `default-features = false`
//! for the ABI definitions alone.
//!
//! ## What native plugins cannot do that Wasm plugins can
//!
//! A native plugin is machine code in the host's own address space, with
//! the host's privileges. Therefore:
//!
//! - **no unloading**: code of a shared library cannot be proven unused (a
//!   thread it started, a callback, a thread-local destructor), and
//!   `dlclose` under them crashes the host, so libraries stay mapped until
//!   the process exits;
//! - **no sandbox**: it can open any file, socket or environment variable
//!   the host can; capabilities cannot be withheld;
//! - **no memory or time limits**: its allocations are the host's, and a
//!   loop cannot be interrupted safely;
//! - **no isolation from crashes**: a panic is caught at the boundary and
//!   becomes an error, but a segfault or an `abort` kills the host process;
//! - **its initialisers run on load**, before the header can be checked;
//! - **one build per target**: the library only loads on the OS and
//!   architecture it was compiled for.
//!
//! What it does offer: no compiler or dependency lock-step with the host
//! (the ABI is plain C), typed errors for foreign or mismatched libraries,
//! and the speed of a direct call.

pub mod abi;
#[cfg(feature = "host")]
mod error;
pub mod guest;
#[cfg(feature = "host")]
pub mod imports;
#[cfg(feature = "host")]
mod library;
#[cfg(feature = "host")]
mod loader;
#[cfg(feature = "host")]
mod plugin;
pub mod value;

pub use wasmplug_native_macros::{bindings, generate};

#[cfg(feature = "host")]
pub use error::NativeError;
#[cfg(feature = "host")]
pub use imports::ImportContext;
#[cfg(feature = "host")]
pub use library::{Expected, HeaderInfo, NativeLibrary};
#[cfg(feature = "host")]
pub use loader::NativeLoader;
#[cfg(feature = "host")]
pub use plugin::{NativePlugin, Resource, World};
pub use wasmplug_core::{Conflict, Digest, Metadata, Origin};

/// A plugin's bindings for whichever artifact is being built: wit-bindgen's
/// for `wasm32` (a component), this crate's [`generate!`] otherwise (a
/// native library), from the same options. Plugin code written against
/// wit-bindgen's API then builds to both, unchanged.
///
/// The plugin crate depends on `wit-bindgen` (for `wasm32`) and on this
/// crate with `default-features = false`, and invokes this at its root.
#[macro_export]
macro_rules! plugin {
    ($($options:tt)*) => {
        #[cfg(target_arch = "wasm32")]
        ::wit_bindgen::generate!($($options)*);
        #[cfg(not(target_arch = "wasm32"))]
        $crate::generate!($($options)*);
    };
}
