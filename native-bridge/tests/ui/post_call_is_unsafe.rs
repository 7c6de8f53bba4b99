//! Freeing a thread's kept results is `unsafe`: only the host, once it has
//! copied them out, may (the ABI), so safe code cannot free a result that
//! is still to be read.

use wasmplug_native::__private::guest;

fn main() {
    let lowered = guest::keep(String::from("a result"));
    guest::post_call();
    let _ = lowered;
}
