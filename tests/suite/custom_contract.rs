//! A contract that exists only here (`tests/wit/counter`), used through the
//! public API: once with the `contract!` macro, once with a hand-written
//! `Contract` impl, and on both backends through the trait the native
//! generator makes of it (`CounterApi`), with its own host import on each.

#![allow(unsafe_code, reason = "opening a native library is unsafe by nature")]

use wasmplug::wasmtime::Store;
use wasmplug::wasmtime::component::{Instance, InstancePre};
use wasmplug::{Contract, Error, Plugin, PluginState};

use wasmplug_native::{NativeError, NativeLoader, NativePlugin};

use crate::support::{native, runtime, wasm};

wasmplug::contract! {
    /// The test-only counter contract, with a host import of its own.
    pub struct Counter {
        package: "acme:counter@0.3.0",
        world: "acme:counter/counter-plugin",
        path: ["../wit/plugin", "wit/counter"],
        bindings: counter::{CounterPlugin, CounterPluginIndices},
        imports: [acme::counter::host_info],
    }
}

wasmplug_native::bindings!({
    path: ["../wit/plugin", "wit/counter"],
    world: "acme:counter/counter-plugin",
    api: CounterApi,
    native: CounterNative,
    host: CounterHost,
    types: crate::custom_contract::counter,
    wasm: crate::custom_contract::Counter,
});

fn greeting(plugin: &str) -> String {
    format!("hello from the host to {plugin}")
}

thread_local! {
    /// What the Wasm `greeting` import does first, on this thread: the
    /// loading tests hold a plugin's `init` back here.
    static ON_GREETING: std::cell::RefCell<Option<Box<dyn Fn()>>> =
        const { std::cell::RefCell::new(None) };
}

/// Makes the Wasm `greeting` import run `hook` first, on this thread.
pub(crate) fn on_greeting(hook: impl Fn() + 'static) {
    ON_GREETING.with(|h| *h.borrow_mut() = Some(Box::new(hook)));
}

/// The embedder's host import, on the runtime's store data (Wasm).
impl counter::acme::counter::host_info::Host for PluginState {
    fn greeting(&mut self) -> String {
        ON_GREETING.with(|h| {
            if let Some(hook) = h.borrow().as_ref() {
                hook();
            }
        });
        greeting(self.plugin())
    }
}

/// The same import for native plugins.
struct Greeter;

impl CounterHost for Greeter {
    fn greeting(&self, plugin: &str) -> String {
        greeting(plugin)
    }
}

/// A host whose import fails.
struct Broken;

impl CounterHost for Broken {
    fn greeting(&self, plugin: &str) -> String {
        panic!("no greeting for {plugin}")
    }
}

/// The counter world's contract, written once: `start` is the configured
/// total.
fn counter_contract<P: CounterApi>(plugin: &P, start: u64) {
    assert_eq!(plugin.add(2).unwrap(), start + 2);
    assert_eq!(
        plugin.add(u32::MAX).unwrap(),
        start + 2 + u64::from(u32::MAX)
    );
    assert_eq!(plugin.total().unwrap(), start + 2 + u64::from(u32::MAX));
    assert_eq!(
        plugin.greet().unwrap(),
        "counter says: hello from the host to counter@0.3.1"
    );
}

#[test]
fn the_embedders_world_runs_on_both_backends_with_its_host_import() {
    let wasm_plugin: Plugin<Counter> = runtime()
        .loader::<Counter>()
        .config("start", "7")
        .open(wasm("counter"))
        .unwrap();
    counter_contract(&wasm_plugin, 7);

    let library = native("counter");
    let loader = NativeLoader::new().config("start", "7");
    // SAFETY: the fixture, built from this repository by the generator.
    let plugin = unsafe { loader.open_with::<CounterNative>(&library, Box::new(Greeter)) }.unwrap();
    counter_contract(&plugin, 7);
    // Opened again: the same plugin, its state and its host.
    // SAFETY: as above.
    let again = unsafe { loader.open_with::<CounterNative>(&library, Box::new(Broken)) }.unwrap();
    assert!(NativePlugin::ptr_eq(&plugin, &again));
    assert!(again.greet().unwrap().ends_with("counter@0.3.1"));
    drop((plugin, again));

    // A failing host import fails the export that called it, with the
    // host's message; the plugin and the host carry on. (Another content:
    // the plugin above, closed, was never unloaded.)
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join(library.file_name().unwrap());
    let mut bytes = std::fs::read(&library).unwrap();
    bytes.push(0);
    std::fs::write(&copy, bytes).unwrap();
    // SAFETY: as above.
    let broken =
        unsafe { NativeLoader::new().open_with::<CounterNative>(&copy, Box::new(Broken)) }.unwrap();
    let err = broken.greet().unwrap_err();
    assert_eq!(
        err.to_string(),
        "native plugin counter@0.3.1 panicked in `acme:counter/counter#greet`: the host's import \
         `acme:counter/host-info#greeting` failed: the host panicked: no greeting for \
         counter@0.3.1"
    );
    assert!(matches!(err, NativeError::Panic { .. }), "{err:?}");
    assert_eq!(broken.add(1).unwrap(), 1);
}

#[test]
fn a_contract_defined_by_the_embedder_gets_the_full_api() {
    let rt = runtime();
    let plugin = rt
        .loader::<Counter>()
        .config("start", "40")
        .open(wasm("counter"))
        .unwrap();
    assert_eq!(plugin.metadata().to_string(), "counter@0.3.1");
    assert_eq!(
        plugin
            .call(|c, s| c.acme_counter_counter().call_add(s, 2))
            .unwrap(),
        42
    );
    assert_eq!(
        plugin
            .call(|c, s| c.acme_counter_counter().call_greet(s))
            .unwrap(),
        "counter says: hello from the host to counter@0.3.1"
    );

    // Instantiate-once, dynamic lookup and typed errors work the same.
    let again = rt
        .loader::<Counter>()
        .config("start", "40")
        .open(wasm("counter"))
        .unwrap();
    assert!(Plugin::ptr_eq(&plugin, &again));
    let total = again
        .lookup::<(), (u64,)>("acme:counter/counter@0.3.0#total")
        .unwrap();
    assert_eq!(total.call(()).unwrap(), (42,));
    let err = again
        .lookup::<(u64,), (u64,)>("acme:counter/counter@0.3.0#add")
        .err()
        .unwrap();
    assert!(matches!(err, Error::Signature { .. }), "{err}");
    let err = rt.open::<Counter>(wasm("demo1")).err().unwrap();
    assert!(matches!(err, Error::NotImplemented { .. }), "{err}");
}

/// The same world bound by hand, claiming a newer 0.x minor: the plugin
/// (0.3.0) is not compatible with it under semver's 0.x rule.
struct CounterV04;

impl Contract for CounterV04 {
    const PACKAGE: &'static str = "acme:counter@0.4.0";
    type Exports = counter::CounterPlugin;
    type Indices = counter::CounterPluginIndices;

    fn add_to_linker(
        linker: &mut wasmplug::wasmtime::component::Linker<PluginState>,
    ) -> wasmplug::wasmtime::Result<()> {
        <Counter as Contract>::add_to_linker(linker)
    }

    fn indices(pre: &InstancePre<PluginState>) -> wasmplug::wasmtime::Result<Self::Indices> {
        counter::CounterPluginIndices::new(pre)
    }

    fn load(
        indices: &Self::Indices,
        store: &mut Store<PluginState>,
        instance: &Instance,
    ) -> wasmplug::wasmtime::Result<Self::Exports> {
        indices.load(store, instance)
    }
}

#[test]
fn a_hand_written_contract_impl_checks_0x_semver() {
    let err = runtime().open::<CounterV04>(wasm("counter")).err().unwrap();
    match &err {
        Error::UnsupportedContract {
            found, supported, ..
        } => {
            assert_eq!(found, "acme:counter/counter@0.3.0");
            assert_eq!(supported, "acme:counter@0.4.0");
        }
        other => panic!("expected UnsupportedContract, got {other}"),
    }
}
