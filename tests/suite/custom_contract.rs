//! A contract that exists only here (`tests/wit/counter`), used through the
//! public API: once with the `contract!` macro, once with a hand-written
//! `Contract` impl.

use wasmplug::wasmtime::Store;
use wasmplug::wasmtime::component::{Instance, InstancePre};
use wasmplug::{Contract, Error, Plugin, PluginState};

use crate::support::{runtime, wasm};

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

/// The embedder's host import, on the runtime's store data.
impl counter::acme::counter::host_info::Host for PluginState {
    fn greeting(&mut self) -> String {
        format!("hello from the host to {}", self.plugin())
    }
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
    let again = rt.open::<Counter>(wasm("counter")).unwrap();
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
