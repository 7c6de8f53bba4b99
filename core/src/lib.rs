//! # wasmplug-core
//!
//! What both of wasmplug's backends — the Wasm host (`wasmplug`) and the
//! native bridge (`wasmplug-native`) — and its generator agree on, with no
//! knowledge of either: a plugin's identity ([`Digest`], [`Metadata`],
//! [`Origin`]), contract ids and their semver rule ([`PackageId`]), what
//! happens when two plugins claim one name ([`Conflict`], [`OnConflict`]),
//! the instantiate-once table ([`Registry`]), bounded reads of plugin files
//! ([`read_file`]) and the native ABI's header layout and symbol names
//! ([`abi`]).
//!
//! Embedders do not need this crate directly: both backends re-export what
//! they use of it.

pub mod abi;
mod conflict;
mod contract_id;
mod digest;
mod file;
mod metadata;
mod origin;
mod registry;

pub use conflict::{Conflict, OnConflict};
pub use contract_id::PackageId;
pub use digest::Digest;
pub use file::{DEFAULT_MAX_SIZE, FileError, read_file};
pub use metadata::Metadata;
pub use origin::Origin;
pub use registry::{Claim, Registry, Request};
pub use semver;

/// Renders an error and its sources on one line, `outer: inner: …` (a
/// loader's own message is often only the outer one, e.g. "dlopen failed").
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut out = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        out.push_str(": ");
        out.push_str(&e.to_string());
        source = e.source();
    }
    out
}
