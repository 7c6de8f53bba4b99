//! The plugin side of the ABI: what every native plugin links in. Generated
//! plugin code uses these; plugins do not call them directly.

use std::any::Any;
use std::cell::RefCell;

use crate::abi::{Status, Str, guard};

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
    static RESULTS: RefCell<Vec<Box<dyn Any>>> = const { RefCell::new(Vec::new()) };
}

/// Runs an entry point's body: a panic becomes [`Status::PANIC`] and its
/// message is kept for [`last_error`].
pub fn call(body: impl FnOnce()) -> Status {
    guard(body, |message| {
        LAST_ERROR.with_borrow_mut(|last| *last = message)
    })
}

/// The message of this thread's last panic, valid until this thread's next
/// panic. Backs [`LAST_ERROR_SYMBOL`](crate::abi::LAST_ERROR_SYMBOL).
pub fn last_error() -> Str {
    LAST_ERROR.with_borrow(|last| Str::new(last))
}

/// Keeps `value` (a result's owned data) alive until this thread's next
/// [`post_call`], and returns it.
pub fn keep<T: 'static>(value: T) -> &'static T {
    let boxed = Box::new(value);
    let ptr: *const T = &*boxed;
    RESULTS.with_borrow_mut(|results| results.push(boxed));
    // SAFETY: the box is owned by RESULTS until `post_call` clears it; the
    // ABI forbids the host to use a result after calling `post_call`, and the
    // heap allocation does not move when the Vec grows.
    #[allow(unsafe_code, reason = "results live until post_call")]
    unsafe {
        &*ptr
    }
}

/// Frees the results of this thread's calls. Backs
/// [`POST_CALL_SYMBOL`](crate::abi::POST_CALL_SYMBOL).
pub fn post_call() {
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
/// `wasmplug_last_error` and `wasmplug_post_call`.
#[macro_export]
macro_rules! plugin_runtime {
    () => {
        /// ABI: the message of this thread's last panic.
        #[unsafe(no_mangle)]
        pub extern "C" fn wasmplug_last_error() -> $crate::abi::Str {
            $crate::guest::last_error()
        }

        /// ABI: frees the results of this thread's calls.
        #[unsafe(no_mangle)]
        pub extern "C" fn wasmplug_post_call() {
            $crate::guest::post_call()
        }
    };
}
