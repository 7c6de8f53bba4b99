//! Text read from a `Str` borrows the `Str`: it cannot outlive it, as it
//! could when `as_str` returned any lifetime the caller asked for.

use wasmplug_native::abi::Str;

fn main() {
    let text;
    {
        let owned = String::from("lent for the call");
        let raw = Str::new(&owned);
        // SAFETY: `owned` is alive while `raw` is.
        text = unsafe { raw.as_str() }.unwrap();
    }
    println!("{text}");
}
