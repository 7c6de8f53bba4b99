//! Safe code cannot make a native `Resource` from a number: the plugin
//! would dereference and free it when the resource is dropped.

use wasmplug_native::Resource;

fn main() {
    let forged = Resource::from_handle(0xdead_beef);
    println!("{forged:?}");
}
