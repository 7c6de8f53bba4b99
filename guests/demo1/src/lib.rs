//! The seed article's demo1 plugin (`plugin1.go`): a public integer `V`, a
//! function `F` that reports it, and a value `Foo` with a method `M1`.

use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU32, Ordering};

use exports::wasmplug::demo::api::{Guest as Api, GuestFoo};
use exports::wasmplug::demo::probe::Guest as Probe;
use exports::wasmplug::plugin::plugin::{Guest as Plugin, Metadata};
use wasmplug::plugin::log::{Level, log};

// One source, two artifacts: wit-bindgen's bindings for the component,
// the native ABI's for the shared library.
wasmplug_native::plugin!({
    path: ["../../wit/plugin", "../../wit/demo"],
    world: "wasmplug:demo/demo",
    generate_all,
});

static V: AtomicI64 = AtomicI64::new(0);
static INITS: AtomicU32 = AtomicU32::new(0);

struct Demo1;

impl Plugin for Demo1 {
    fn get_metadata() -> Metadata {
        Metadata {
            name: "demo1".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "The seed's plugin1: V, F and Foo.M1".into(),
        }
    }

    fn init(_config: Vec<(String, String)>) -> Result<(), String> {
        INITS.fetch_add(1, Ordering::SeqCst);
        common::init(|msg| log(Level::Info, msg));
        log(Level::Info, "plugin1 init");
        Ok(())
    }

    fn shutdown() {
        log(Level::Info, "plugin1 shutdown");
    }
}

impl Api for Demo1 {
    type Foo = Foo;

    fn set_v(v: i64) {
        V.store(v, Ordering::SeqCst);
    }

    fn get_v() -> i64 {
        V.load(Ordering::SeqCst)
    }

    fn f() -> String {
        let line = format!(
            "plugin1: public integer variable V={}",
            V.load(Ordering::SeqCst)
        );
        log(Level::Info, &line);
        line
    }

    fn get_foo() -> exports::wasmplug::demo::api::Foo {
        exports::wasmplug::demo::api::Foo::new(Foo {
            calls: Cell::new(0),
        })
    }
}

impl Probe for Demo1 {
    fn init_count() -> u32 {
        INITS.load(Ordering::SeqCst)
    }

    fn common_init_count() -> u32 {
        common::init_count()
    }
}

/// Go's `type foo struct{}`; counts its calls so the host can see it is one
/// live value.
struct Foo {
    calls: Cell<u32>,
}

impl GuestFoo for Foo {
    fn m1(&self) -> String {
        self.calls.set(self.calls.get() + 1);
        let line = format!("plugin1: invoke foo.M1 (call {})", self.calls.get());
        log(Level::Info, &line);
        line
    }
}

export!(Demo1);
