//! The native plugin ABI, version 1. This file is its specification.
//!
//! A native plugin is a shared library (`.so` on Linux and FreeBSD, `.dylib`
//! on macOS) built from the same Rust source as the plugin's Wasm component.
//! Everything the host and the plugin exchange crosses a C ABI defined here;
//! nothing depends on both sides using the same compiler or dependency
//! versions (unlike Go's `plugin` package).
//!
//! # The header
//!
//! Every plugin exports a static named [`HEADER_SYMBOL`] (`WASMPLUG_HEADER`)
//! of type [`Header`]. The host reads and checks it before calling any
//! plugin code, in this order:
//!
//! 1. `magic` is [`MAGIC`] (`b"WASMPLUG"`): otherwise this is not a
//!    wasmplug plugin;
//! 2. `abi_version` is [`ABI_VERSION`], and `header_size` at least
//!    `size_of::<Header>()`: later versions may append fields;
//! 3. `target` is the host's own target triple (a plugin for another
//!    architecture or OS cannot be called);
//! 4. `contract` (`ns:pkg@semver`) is semver-compatible with the contract
//!    the host was built against, and `world` is the same world;
//! 5. `wit_digest` equals the host's: a SHA-256 over a canonical
//!    description of the world (every function and type, by name and
//!    structure), so a contract that changed without a version bump is
//!    caught.
//!
//! `rustc` and `plugin_name`/`plugin_version` are informational (shown in
//! errors and logs): the C ABI does not require host and plugin to share a
//! compiler.
//!
//! (Loading a library runs its static initialisers before any of this can
//! be checked; that is inherent to native plugins. See the crate docs.)
//!
//! # Entry points
//!
//! Each function a plugin exports (`interface#function`, the interface
//! named without its version — `wasmplug:demo/api#get-v`: the header
//! carries the contract's version — with the component model's names for
//! resource functions:
//! `iface#[method]foo.m1`, and `iface#[resource-drop]foo` to release a
//! handle) is one C-ABI symbol, named by [`mangle`]: WIT names contain `:`,
//! `/`, `@`, `.`, `#`, `[` and `]`, which native symbol tables and linker
//! version scripts reject. Every entry point has the signature
//!
//! ```text
//! unsafe extern "C" fn(param0: L0, param1: L1, …, out: *mut LR) -> Status
//! ```
//!
//! where `Ln` is the lowered form of parameter `n` (see *Values*), passed by
//! value, and `out` — present only when the function has a result — is
//! where the plugin writes the lowered result. It returns a [`Status`]:
//! [`Status::OK`], or [`Status::PANIC`] when the plugin panicked (every
//! entry point runs under `catch_unwind`; the panic message is then read
//! with [`LAST_ERROR_SYMBOL`], ending with ` (at file:line:column)` where
//! the plugin's panic hook saw it) and nothing was written. The generated
//! plugin prints nothing for such a panic (its hook, set when the imports
//! arrive, only records where): the host reports it.
//!
//! Arguments are borrowed for the duration of the call: the plugin copies
//! what it keeps. Results are owned by the plugin until the host calls
//! [`POST_CALL_SYMBOL`] on the same thread, which it does right after
//! copying them out.
//!
//! ## Dynamic entry points
//!
//! Each exported function (not a resource drop) also has a *dynamic* entry
//! point, named by [`dynamic_symbol`]:
//!
//! ```text
//! unsafe extern "C" fn(args: *const *const c_void, out: *mut c_void) -> Status
//! ```
//!
//! `args` points to one pointer per parameter, each to a value of the
//! parameter's lowered type; `out` is as for the entry point (unused when
//! the function has no result). It calls the entry point with those
//! values, so everything else (borrowing, post-call, status) is the same.
//! It is for callers that know the world only at run time (`wasmplug call`
//! on a native library): they lay values out in memory from the WIT, but
//! could not make a C call that passes structs of a run-time layout by
//! value without a dynamic FFI library. Typed hosts never use it.
//!
//! Every plugin also exports the lifecycle of the base contract
//! (`wasmplug:plugin/plugin@1.x.y#get-metadata`, `#init`, `#shutdown`) by
//! the same rules.
//!
//! # Values
//!
//! Each WIT type has a C-layout lowered form, made and read by the
//! generated code:
//!
//! | WIT | lowered |
//! |---|---|
//! | `u8`…`u64`, `s8`…`s64`, `f32`, `f64` | the same C type |
//! | `bool` | `u8`, 0 or 1 |
//! | `char` | `u32`, a Unicode scalar value |
//! | `string` | [`Str`]: pointer and length of UTF-8 bytes |
//! | `list<T>` | [`Slice`] of the lowered `T` (a `list<u8>` is the bytes themselves) |
//! | `tuple<A, …>` | [`Tuple1`] … [`Tuple4`]: a C struct of the lowered fields |
//! | `record` | a C struct of the lowered fields, in WIT order |
//! | `variant` | a C struct `{ u32 tag; union { … } payload }`, tags in WIT order |
//! | `enum` | `u32`, cases in WIT order |
//! | `option<T>` | [`Opt`]: `{ u8 is_some; T value }` |
//! | `result<T, E>` | [`Res`]: `{ u8 is_err; T ok; E err }` (a missing `T`/`E` is a `u8`) |
//! | `own<r>`, `borrow<r>` | `u64`: a handle the plugin made, released by `[resource-drop]r` |
//!
//! `flags`, `map`, fixed-length lists, `future`, `stream` and
//! `error-context` are not in ABI v1: the generator refuses them with a
//! compile error naming the type.
//!
//! # Host imports
//!
//! The functions a world imports reach the plugin as a table passed to
//! [`IMPORTS_SYMBOL`] (`extern "C" fn(table: *const c_void)`) once, right
//! after the header is checked and before any export is called. The table
//! is a C struct: a context pointer, a `last_error` function, then one
//! function pointer per imported function, in the world's order
//! (`wasmplug:plugin/log#log` among them),
//!
//! ```text
//! struct Imports {
//!     ctx: *const c_void,
//!     last_error: unsafe extern "C" fn() -> Str,
//!     f0: unsafe extern "C" fn(ctx: *const c_void, param0: L0, …, out: *mut LR) -> Status,
//!     …
//! }
//! ```
//!
//! Each import is called with the context from the table, its arguments
//! borrowed as for exports. On [`Status::OK`] the host wrote its result to
//! `out`, which stays valid until the plugin's next import call on the same
//! thread (the plugin copies it right away). Any other status means the
//! host failed the call (it panicked, or found an argument invalid) and
//! wrote nothing; `last_error` then returns the host's message, valid until
//! the next import call on the thread. The generated plugin code turns that
//! into a panic, which the export's `catch_unwind` reports to the host: a
//! failed host import fails the export that made it, as a trap in a host
//! import fails a Wasm export.
//!
//! The table stays valid for the life of the process. Imported resources
//! are not in ABI v1 (the generator refuses them).

#![allow(unsafe_code, reason = "the ABI is raw pointers across a C boundary")]

use std::panic::{AssertUnwindSafe, catch_unwind};

pub use wasmplug_core::abi::{
    ABI_VERSION, HEADER_SYMBOL, Header, IMPORTS_SYMBOL, LAST_ERROR_SYMBOL, MAGIC, POST_CALL_SYMBOL,
    Str, dynamic_symbol, mangle,
};

/// The target triple this crate was built for (the plugin's, in a plugin;
/// the host's, in the host).
pub const TARGET: &str = env!("WASMPLUG_TARGET");

/// `rustc -V` of the compiler this crate was built with.
pub const RUSTC: &str = env!("WASMPLUG_RUSTC");

/// A borrowed list: a pointer to `len` elements of the element's lowered
/// type.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Slice<T> {
    /// First element; dangling (never null) when `len` is 0.
    pub ptr: *const T,
    /// Number of elements.
    pub len: usize,
}

/// A lowered `tuple<A>`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Tuple1<A>(pub A);

/// A lowered `tuple<A, B>`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Tuple2<A, B>(pub A, pub B);

/// A lowered `tuple<A, B, C>`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Tuple3<A, B, C>(pub A, pub B, pub C);

/// A lowered `tuple<A, B, C, D>`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct Tuple4<A, B, C, D>(pub A, pub B, pub C, pub D);

/// A lowered `option<T>`.
#[repr(C)]
pub struct Opt<T> {
    /// 1 when `value` holds a value, else 0.
    pub is_some: u8,
    /// The value, initialised when `is_some` is 1.
    pub value: std::mem::MaybeUninit<T>,
}

/// A lowered `result<T, E>`.
#[repr(C)]
pub struct Res<T, E> {
    /// 1 for an error, 0 for success.
    pub is_err: u8,
    /// The success value, initialised when `is_err` is 0.
    pub ok: std::mem::MaybeUninit<T>,
    /// The error value, initialised when `is_err` is 1.
    pub err: std::mem::MaybeUninit<E>,
}

impl<T: Copy> Clone for Opt<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: Copy> Copy for Opt<T> {}

impl<T: Copy, E: Copy> Clone for Res<T, E> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T: Copy, E: Copy> Copy for Res<T, E> {}

/// What an entry point returns.
#[repr(transparent)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status(pub u32);

impl Status {
    /// The call returned; its result was written.
    pub const OK: Status = Status(0);
    /// The plugin panicked; nothing was written.
    pub const PANIC: Status = Status(1);
}

/// Runs an entry point's body under `catch_unwind`, so that a panic never
/// unwinds into the host (undefined behaviour across `extern "C"`). Used by
/// generated plugin code; `record` keeps the panic message for
/// [`LAST_ERROR_SYMBOL`].
#[inline]
pub fn guard(body: impl FnOnce(), record: impl FnOnce(String)) -> Status {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(()) => Status::OK,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic with a non-string payload".to_owned());
            record(message);
            Status::PANIC
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guard_catches_panics() {
        let mut message = None;
        assert_eq!(guard(|| {}, |_| unreachable!()), Status::OK);
        let status = guard(|| panic!("boom {}", 7), |m| message = Some(m));
        assert_eq!(status, Status::PANIC);
        assert_eq!(message.as_deref(), Some("boom 7"));
    }

    #[test]
    fn target_and_compiler_are_recorded() {
        assert!(TARGET.contains('-'), "{TARGET}");
        assert!(RUSTC.starts_with("rustc "), "{RUSTC}");
    }
}
