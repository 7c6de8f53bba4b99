//! The plugin the comparison benches load on both backends
//! (`wasmplug:bench/bench-plugin`). Its logic is in `ops.rs`, which the
//! benches also call in-process as the no-boundary baseline.

use exports::wasmplug::bench::ops::Guest as Ops;
use exports::wasmplug::plugin::plugin::{Guest as Plugin, Metadata};
use wasmplug::bench::host::bump;

mod ops;

// One source, two artifacts: wit-bindgen's bindings for the component,
// the native ABI's for the shared library.
wasmplug_native::plugin!({
    path: ["../../wit/plugin", "../../wit/bench"],
    world: "wasmplug:bench/bench-plugin",
    generate_all,
});

struct Bench;

impl Plugin for Bench {
    fn get_metadata() -> Metadata {
        Metadata {
            name: "bench".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "The comparison benches' plugin".into(),
        }
    }

    fn init(config: Vec<(String, String)>) -> Result<(), String> {
        match config.first() {
            Some((key, _)) => Err(format!("unknown setting `{key}`")),
            None => Ok(()),
        }
    }

    fn shutdown() {}
}

impl Ops for Bench {
    fn add_one(x: u64) -> u64 {
        ops::add_one(x)
    }

    fn echo(s: String) -> String {
        ops::echo(s)
    }

    fn sum(data: Vec<u8>) -> u64 {
        ops::sum(&data)
    }

    fn call_host(n: u32) -> u64 {
        ops::call_host(n, bump)
    }
}

export!(Bench);
