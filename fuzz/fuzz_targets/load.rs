//! Loads arbitrary bytes as a plugin: a typed error or a working plugin,
//! never a panic or a crash. Seed the corpus with the bundled plugins
//! (`target/guests/wasm32-wasip2/release/*.wasm`) to start from valid files.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use wasmplug::Runtime;
use wasmplug_contracts::Demo;

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| Runtime::builder().max_instances(8).build().expect("runtime"))
}

fuzz_target!(|bytes: &[u8]| {
    if let Ok(plugin) = runtime().loader::<Demo>().open_bytes("fuzz", bytes) {
        let _ = plugin.call(|d, s| d.wasmplug_demo_api().call_get_v(s));
    }
});
