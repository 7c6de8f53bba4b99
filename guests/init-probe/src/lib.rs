//! The seed article's demo2 plugin: nothing but an initialisation with an
//! observable side effect, and a dependency (`common`) it shares with others.

use std::sync::atomic::{AtomicU32, Ordering};

use exports::wasmplug::demo::probe::Guest as Probe;
use exports::wasmplug::plugin::plugin::{Guest as Plugin, Metadata};
use wasmplug::plugin::log::{Level, log};

// One source, two artifacts: wit-bindgen's bindings for the component,
// the native ABI's for the shared library.
wasmplug_native::plugin!({
    path: ["../../wit/plugin", "../../wit/demo"],
    world: "wasmplug:demo/init-probe",
    generate_all,
});

static INITS: AtomicU32 = AtomicU32::new(0);

struct InitProbe;

impl Plugin for InitProbe {
    fn get_metadata() -> Metadata {
        Metadata {
            name: "init-probe".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "The seed's demo2 plugin: init with a visible side effect".into(),
        }
    }

    fn init(_config: Vec<(String, String)>) -> Result<(), String> {
        let n = INITS.fetch_add(1, Ordering::SeqCst) + 1;
        common::init(|msg| log(Level::Info, msg));
        log(Level::Info, &format!("init-probe: init #{n}"));
        Ok(())
    }

    fn shutdown() {}
}

impl Probe for InitProbe {
    fn init_count() -> u32 {
        INITS.load(Ordering::SeqCst)
    }

    fn common_init_count() -> u32 {
        common::init_count()
    }
}

export!(InitProbe);
