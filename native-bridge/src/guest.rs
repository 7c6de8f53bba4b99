//! The plugin side of the ABI: what every native plugin links in. Generated
//! plugin code uses these, through `__private::guest`; plugins do not call
//! them directly.
//!
//! What is safe here cannot break the ABI's promises: results are kept as
//! their lowered form (raw pointers, read only under `unsafe`), never as a
//! reference safe code could hold past post-call; whatever frees them, or
//! trusts a pointer from the host, is `unsafe` and says when it may be
//! called.

#![allow(unsafe_code, reason = "results, imports and resources cross the C ABI")]

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::ffi::c_void;
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::abi::{Status, Str, guard};
use crate::value::{Kept, Lower};

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
    static RESULTS: RefCell<Vec<Kept>> = const { RefCell::new(Vec::new()) };
    /// Whether this thread is running an entry point's body.
    static IN_CALL: Cell<bool> = const { Cell::new(false) };
    /// Where the panic being caught in an entry point happened.
    static PANIC_AT: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// Runs an entry point's body: a panic becomes [`Status::PANIC`] and its
/// message, with where it happened, is kept for [`last_error`].
#[inline]
pub fn call(body: impl FnOnce()) -> Status {
    IN_CALL.with(|in_call| {
        let outer = in_call.replace(true);
        let status = guard(body, |message| {
            let message = match PANIC_AT.take() {
                Some(at) => format!("{message} (at {at})"),
                None => message,
            };
            LAST_ERROR.with_borrow_mut(|last| *last = message);
        });
        in_call.set(outer);
        status
    })
}

/// Reports panics in entry points only through the ABI: the host gets the
/// message and where it happened in its error, and the plugin does not
/// print to the host's stderr (a Wasm plugin's panic goes to its own
/// stderr, which is not the host's unless granted). Panics anywhere else
/// (a thread the plugin started) go to the hook there was before. A plugin
/// that sets a hook of its own in `init` replaces this one. Installed when
/// the host hands over its imports, which the ABI has it do before any
/// export: a host that skips that gets std's hook (messages without where).
fn report_panics_through_the_abi() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_CALL.get() {
                PANIC_AT.set(info.location().map(ToString::to_string));
            } else {
                previous(info);
            }
        }));
    });
}

/// The message of this thread's last panic, valid until this thread's next
/// panic. Backs [`LAST_ERROR_SYMBOL`](crate::abi::LAST_ERROR_SYMBOL).
pub fn last_error() -> Str {
    LAST_ERROR.with_borrow(|last| Str::new(last))
}

/// Lowers a result that owns memory (a string or list somewhere in it) for
/// the host, and keeps it and the arrays it was lowered into until this
/// thread's next [`post_call`]. Only the lowered form comes back: raw
/// pointers, which nothing reads without `unsafe`, so no reference to the
/// kept value outlives the post-call that frees it.
pub fn keep<T: Lower + 'static>(value: T) -> T::Lowered {
    let (kept, lowered) = Kept::new(value);
    RESULTS.with_borrow_mut(|results| results.push(kept));
    lowered
}

static IMPORTS: AtomicPtr<c_void> = AtomicPtr::new(std::ptr::null_mut());

/// Records the host's import table. Backs
/// [`IMPORTS_SYMBOL`](crate::abi::IMPORTS_SYMBOL).
///
/// # Safety
///
/// `table` must be the host's import table for the plugin's world, valid
/// for the rest of the process (the ABI): generated imports read it as such
/// through [`imports`].
pub unsafe fn set_imports(table: *const c_void) {
    IMPORTS.store(table.cast_mut(), Ordering::Release);
    // Called once, before any export (the ABI), so before `init`. Not in
    // `call`: checking there costs a scalar call half its time (measured,
    // 2.1 → 3.3 ns).
    report_panics_through_the_abi();
}

/// The host's import table, as the generated `T` (a `#[repr(C)]` struct of
/// the world's imports).
///
/// # Safety
///
/// `T` must be the layout the host's table has: the one generated from the
/// same world (the header's WIT digest check guarantees it).
///
/// # Panics
///
/// If the host called an export before handing over its imports, which
/// the ABI forbids.
pub unsafe fn imports<T>() -> &'static T {
    let table = IMPORTS.load(Ordering::Acquire);
    assert!(
        !table.is_null(),
        "the host called an import before passing its import table"
    );
    // SAFETY: the host's table lives as long as the process (ABI), and the
    // caller guarantees its type.
    unsafe { &*table.cast::<T>() }
}

/// Fails the export that made a failed host import: an unwind carrying the
/// host's message, which the export's `catch_unwind` reports to the host
/// (no panic hook runs: nothing is printed, no location is added).
///
/// # Safety
///
/// `last_error` must be the `last_error` of the host's import table, called
/// on the thread whose import call just failed, with no import call since:
/// its message is then valid (the ABI).
///
/// # Panics
///
/// Always: that is its purpose.
#[cold]
#[inline(never)]
pub unsafe fn import_failed(import: &str, last_error: unsafe extern "C" fn() -> Str) -> ! {
    // SAFETY: the host's `last_error` (guaranteed by the caller).
    let message = unsafe { last_error() };
    // SAFETY: valid until the thread's next import call; copied at once.
    let message = unsafe { message.as_str() }
        .unwrap_or("(the host's message is not UTF-8)")
        .to_owned();
    // Unwinds without the panic hook: where this line is says nothing, and
    // the message is the host's, reported with the export's failure.
    PANIC_AT.set(None);
    std::panic::resume_unwind(Box::new(format!(
        "the host's import `{import}` failed: {message}"
    )))
}

/// A new resource handle owning `value`: ownership passes to the host,
/// which releases it with the resource's drop entry point.
pub fn resource_new<T: 'static>(value: T) -> u64 {
    let boxed: Box<Box<dyn Any>> = Box::new(Box::new(value));
    Box::into_raw(boxed) as usize as u64
}

/// The value behind `handle`.
///
/// # Safety
///
/// `handle` must come from [`resource_new`] and not have been dropped with
/// [`resource_drop`]; the returned reference must not outlive it.
///
/// # Panics
///
/// If the handle holds another type than `T` (a plugin that made a handle
/// of another resource type).
pub unsafe fn resource<'a, T: 'static>(handle: u64) -> &'a T {
    // SAFETY: guaranteed by the caller.
    let value: &Box<dyn Any> = unsafe { &*(handle as usize as *const Box<dyn Any>) };
    value
        .downcast_ref::<T>()
        .expect("resource handle of another type: the plugin returned a handle made from a type other than its resource's")
}

/// Releases the value behind `handle`.
///
/// # Safety
///
/// As [`resource`]; `handle` is invalid afterwards.
pub unsafe fn resource_drop(handle: u64) {
    // SAFETY: guaranteed by the caller: a live handle from `resource_new`.
    drop(unsafe { Box::from_raw(handle as usize as *mut Box<dyn Any>) });
}

/// Frees the results of this thread's calls. Backs
/// [`POST_CALL_SYMBOL`](crate::abi::POST_CALL_SYMBOL).
///
/// # Safety
///
/// Nothing may read a lowered result [`keep`] returned on this thread
/// afterwards: the host calls it (through the ABI) once it has copied the
/// results out.
pub unsafe fn post_call() {
    RESULTS.with_borrow_mut(Vec::clear);
}

/// Defines a plugin's header static, `WASMPLUG_HEADER`, with this crate's
/// target and compiler.
#[macro_export]
macro_rules! header {
    (
        contract: $contract:literal,
        world: $world:literal,
        wit_digest: $digest:expr,
        name: $name:expr,
        version: $version:expr $(,)?
    ) => {
        #[unsafe(no_mangle)]
        #[used]
        pub static WASMPLUG_HEADER: $crate::abi::Header = $crate::abi::Header {
            magic: $crate::abi::MAGIC,
            abi_version: $crate::abi::ABI_VERSION,
            header_size: ::core::mem::size_of::<$crate::abi::Header>() as u32,
            contract: $crate::abi::Str::new($contract),
            world: $crate::abi::Str::new($world),
            wit_digest: $digest,
            target: $crate::abi::Str::new($crate::abi::TARGET),
            rustc: $crate::abi::Str::new($crate::abi::RUSTC),
            plugin_name: $crate::abi::Str::new($name),
            plugin_version: $crate::abi::Str::new($version),
        };
    };
}

/// Defines the entry points every plugin exports besides its contract's:
/// `wasmplug_last_error`, `wasmplug_post_call` and `wasmplug_imports`.
#[macro_export]
macro_rules! plugin_runtime {
    () => {
        /// ABI: the message of this thread's last panic.
        #[unsafe(no_mangle)]
        pub extern "C" fn wasmplug_last_error() -> $crate::abi::Str {
            $crate::__private::guest::last_error()
        }

        /// ABI: frees the results of this thread's calls.
        ///
        /// # Safety
        ///
        /// The host no longer reads the results of this thread's calls.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn wasmplug_post_call() {
            // SAFETY: guaranteed by the caller, the host (the ABI).
            unsafe { $crate::__private::guest::post_call() }
        }

        /// ABI: receives the host's import table.
        ///
        /// # Safety
        ///
        /// `table` is the host's import table for this plugin's world,
        /// valid for the rest of the process.
        #[unsafe(no_mangle)]
        pub unsafe extern "C" fn wasmplug_imports(table: *const ::core::ffi::c_void) {
            // SAFETY: guaranteed by the caller, the host (the ABI).
            unsafe { $crate::__private::guest::set_imports(table) }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::Lift;

    #[test]
    fn a_panic_in_an_entry_point_is_reported_with_where_it_happened() {
        report_panics_through_the_abi();
        assert_eq!(call(|| panic!("boom")), Status::PANIC);
        let message = last_error();
        // SAFETY: just written, read on the same thread.
        let message = unsafe { message.as_str() }.unwrap();
        assert!(
            message.starts_with("boom (at native-bridge/src/guest.rs:"),
            "{message}"
        );
        assert_eq!(call(|| {}), Status::OK);
    }

    #[test]
    fn a_kept_result_lives_until_post_call() {
        let lowered = keep(vec!["a".to_owned(), "bc".to_owned()]);
        assert_eq!(RESULTS.with_borrow(Vec::len), 1);
        // SAFETY: kept until the post-call below.
        let lifted = unsafe { Vec::<String>::lift(&lowered) }.unwrap();
        assert_eq!(lifted, ["a", "bc"]);
        // SAFETY: `lowered` is not read again.
        unsafe { post_call() };
        assert_eq!(RESULTS.with_borrow(Vec::len), 0);
    }
}
