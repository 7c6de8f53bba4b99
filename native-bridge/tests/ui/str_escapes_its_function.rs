//! A function cannot hand out text read from a `Str` it was lent.

use wasmplug_native::abi::Str;

fn text(raw: Str) -> &'static str {
    // SAFETY: the caller lends `raw` for the call.
    unsafe { raw.as_str() }.unwrap()
}

fn main() {
    let owned = String::from("lent for the call");
    println!("{}", text(Str::new(&owned)));
}
