//! A native plugin that faults on request, to show what the native boundary
//! can and cannot contain. Its entry points are written out by hand, in the
//! ABI's mangling (`wasmplug_native::abi::mangle`), standing in for what the
//! generator emits.

use wasmplug_native::abi::Status;
use wasmplug_native::__private::guest::call;

wasmplug_native::header! {
    contract: "wasmplug:demo@1.0.0",
    world: "wasmplug:demo/demo",
    wit_digest: [0x11; 32],
    name: "faulty-native",
    version: env!("CARGO_PKG_VERSION"),
}

wasmplug_native::plugin_runtime!();

unsafe extern "C" {
    fn raise(signal: i32) -> i32;
    fn signal(signum: i32, handler: usize) -> usize;
}

const SIGSEGV: i32 = 11;
const SIG_DFL: usize = 0;

/// `wasmplug:demo/api#get-v`: panics.
///
/// # Safety
///
/// `out` must be valid for writes (the ABI's out-pointer).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasmplug_wasmplug_0demo_1api_4get_v(out: *mut i64) -> Status {
    call(|| {
        let _ = out;
        panic!("deliberate native panic");
    })
}

/// `wasmplug:demo/probe#init-count`: behaves, returns 7.
///
/// # Safety
///
/// `out` must be valid for writes (the ABI's out-pointer).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn wasmplug_wasmplug_0demo_1probe_4init_count(out: *mut u32) -> Status {
    // SAFETY: the caller passes a valid, aligned out-pointer.
    call(|| unsafe { out.write(7) })
}

/// `wasmplug:demo/api#set-v`: a segmentation fault.
///
/// A real invalid access would be undefined behaviour to write on purpose,
/// so the fault is raised. Rust's runtime handles SIGSEGV (to report stack
/// overflows) by restoring the default action and returning, which kills
/// the process on a real fault but not on a raised one: restore the default
/// action first, as that handler does.
#[unsafe(no_mangle)]
pub extern "C" fn wasmplug_wasmplug_0demo_1api_4set_v(_v: i64) -> Status {
    // SAFETY: setting a signal's default action and raising it are defined
    // behaviour; the signal is the fault.
    call(|| unsafe {
        signal(SIGSEGV, SIG_DFL);
        raise(SIGSEGV);
    })
}

/// `wasmplug:demo/api#f`: aborts the process.
#[unsafe(no_mangle)]
pub extern "C" fn wasmplug_wasmplug_0demo_1api_4f() -> Status {
    call(|| std::process::abort())
}
