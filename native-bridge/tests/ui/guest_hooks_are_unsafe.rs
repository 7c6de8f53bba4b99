//! The plugin-side hooks that trust the host, or free what it reads, are
//! `unsafe`: safe code cannot install a bogus import table or run a failed
//! import's message reader of its choosing.

use wasmplug_native::__private::guest;
use wasmplug_native::abi::Str;

unsafe extern "C" fn not_the_hosts() -> Str {
    Str::new("")
}

fn main() {
    guest::set_imports(std::ptr::null());
    guest::import_failed("wasmplug:demo/api#f", not_the_hosts);
}
