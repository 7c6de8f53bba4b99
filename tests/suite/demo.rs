//! The seed article's demo1 and demo2, against the Wasm backend.

use wasmplug::wasmtime::component::ResourceAny;
use wasmplug::{Plugin, Result};
use wasmplug_contracts::{Demo, InitProbe};

use crate::support::{capture_logs, count, runtime, wasm};

/// Go's demo1 `MyInterface`: the host's own interface type that the plugin's
/// `Foo` is used through.
trait MyInterface {
    fn m1(&self) -> Result<String>;
}

/// The plugin's `Foo` resource, seen through the host's interface.
struct PluginFoo<'p> {
    plugin: &'p Plugin<Demo>,
    foo: ResourceAny,
}

impl MyInterface for PluginFoo<'_> {
    fn m1(&self) -> Result<String> {
        self.plugin
            .call(|demo, store| demo.wasmplug_demo_api().foo().call_m1(store, self.foo))
    }
}

impl Drop for PluginFoo<'_> {
    fn drop(&mut self) {
        let resource = self.foo;
        self.plugin
            .call(|_, store| resource.resource_drop(store))
            .expect("drop Foo");
    }
}

#[test]
fn demo1_host_sets_v_and_f_reports_it() {
    let rt = runtime();
    let (_, logs) = capture_logs(|| {
        let plugin = rt.open::<Demo>(wasm("demo1")).unwrap();
        plugin
            .call(|d, s| d.wasmplug_demo_api().call_set_v(s, 15))
            .unwrap();
        assert_eq!(
            plugin
                .call(|d, s| d.wasmplug_demo_api().call_get_v(s))
                .unwrap(),
            15
        );
        let line = plugin.call(|d, s| d.wasmplug_demo_api().call_f(s)).unwrap();
        assert_eq!(line, "plugin1: public integer variable V=15");
    });
    // F also reported through the host's log, tagged with the plugin.
    assert_eq!(
        count(
            &logs,
            "demo1@1.0.0",
            "plugin1: public integer variable V=15"
        ),
        1
    );
    assert_eq!(count(&logs, "demo1@1.0.0", "plugin1 init"), 1);
}

#[test]
fn demo1_foo_m1_through_the_hosts_interface_type() {
    let rt = runtime();
    let plugin = rt.open::<Demo>(wasm("demo1")).unwrap();
    let resource = plugin
        .call(|d, s| d.wasmplug_demo_api().call_get_foo(s))
        .unwrap();
    // Go: `p.(MyInterface).M1()`; here the host's interface type wraps the
    // plugin's resource, no assertion involved.
    let value: Box<dyn MyInterface + '_> = Box::new(PluginFoo {
        plugin: &plugin,
        foo: resource,
    });
    assert_eq!(value.m1().unwrap(), "plugin1: invoke foo.M1 (call 1)");
    // One live value in the plugin: its state persists between calls.
    assert_eq!(value.m1().unwrap(), "plugin1: invoke foo.M1 (call 2)");
}

#[test]
fn demo1_dynamic_lookup_is_typed() {
    let rt = runtime();
    let plugin = rt.open::<Demo>(wasm("demo1")).unwrap();
    let set_v = plugin
        .lookup::<(i64,), ()>("wasmplug:demo/api@1.0.0#set-v")
        .unwrap();
    let get_v = plugin
        .lookup::<(), (i64,)>("wasmplug:demo/api@1.0.0#get-v")
        .unwrap();
    let f = plugin
        .lookup::<(), (String,)>("wasmplug:demo/api@1.0.0#f")
        .unwrap();
    set_v.call((-3,)).unwrap();
    assert_eq!(get_v.call(()).unwrap(), (-3,));
    assert_eq!(
        f.call(()).unwrap().0,
        "plugin1: public integer variable V=-3"
    );
}

#[test]
fn demo2_opening_twice_returns_the_same_plugin_and_init_runs_once() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy-of-init-probe.wasm");
    std::fs::copy(wasm("init-probe"), &copy).unwrap();

    let ((first, second, third), logs) = capture_logs(|| {
        let first = rt.open::<InitProbe>(wasm("init-probe")).unwrap();
        let second = rt.open::<InitProbe>(wasm("init-probe")).unwrap();
        // The same bytes at another path are the same plugin (content digest).
        let third = rt.open::<InitProbe>(&copy).unwrap();
        (first, second, third)
    });
    assert!(Plugin::ptr_eq(&first, &second));
    assert!(Plugin::ptr_eq(&first, &third));
    assert_eq!(count(&logs, "init-probe@1.0.0", "init-probe: init #1"), 1);
    assert_eq!(
        logs.iter()
            .filter(|r| r.message.starts_with("init-probe: init"))
            .count(),
        1
    );
    assert_eq!(
        second
            .call(|p, s| p.wasmplug_demo_probe().call_init_count(s))
            .unwrap(),
        1
    );
    assert_eq!(rt.live_plugins(), 1);
}

#[test]
fn demo2_shared_dependency_is_initialised_per_plugin() {
    // The host links `common` too, and initialises its own copy first: in Go
    // that copy is the only one, and the plugins' `init` of it never runs.
    common::init(|_| {});
    assert_eq!(common::init_count(), 1);

    let rt = runtime();
    let ((demo, probe), logs) = capture_logs(|| {
        let demo = rt.open::<Demo>(wasm("demo1")).unwrap();
        let probe = rt.open::<InitProbe>(wasm("init-probe")).unwrap();
        (demo, probe)
    });
    // Each component carries its own `common`, initialised once inside it.
    assert_eq!(
        demo.call(|d, s| d.wasmplug_demo_probe().call_common_init_count(s))
            .unwrap(),
        1
    );
    assert_eq!(
        probe
            .call(|p, s| p.wasmplug_demo_probe().call_common_init_count(s))
            .unwrap(),
        1
    );
    assert_eq!(count(&logs, "demo1@1.0.0", "common: initialised"), 1);
    assert_eq!(count(&logs, "init-probe@1.0.0", "common: initialised"), 1);
    // ... and the host's copy was not touched by either.
    assert_eq!(common::init_count(), 1);
}

#[test]
fn dropping_the_last_handle_unloads_and_a_later_open_loads_afresh() {
    let rt = runtime();
    let (_, logs) = capture_logs(|| {
        let plugin = rt.open::<Demo>(wasm("demo1")).unwrap();
        plugin
            .call(|d, s| d.wasmplug_demo_api().call_set_v(s, 99))
            .unwrap();
        let clone = plugin.clone();
        drop(plugin);
        assert_eq!(rt.live_plugins(), 1, "a clone keeps it alive");
        drop(clone);
        assert_eq!(rt.live_plugins(), 0);

        let reopened = rt.open::<Demo>(wasm("demo1")).unwrap();
        assert_eq!(
            reopened
                .call(|d, s| d.wasmplug_demo_api().call_get_v(s))
                .unwrap(),
            0
        );
    });
    assert_eq!(count(&logs, "demo1@1.0.0", "plugin1 init"), 2);
    assert_eq!(
        count(&logs, "demo1@1.0.0", "plugin1 shutdown"),
        2,
        "shutdown ran on each unload"
    );
}

#[test]
fn instances_from_the_pre_instance_are_private() {
    let rt = runtime();
    let plugin = rt.open::<Demo>(wasm("demo1")).unwrap();
    let mut a = plugin.pre().instantiate().unwrap();
    let mut b = plugin.pre().instantiate().unwrap();
    a.call(|d, s| d.wasmplug_demo_api().call_set_v(s, 1))
        .unwrap();
    b.call(|d, s| d.wasmplug_demo_api().call_set_v(s, 2))
        .unwrap();
    assert_eq!(
        a.call(|d, s| d.wasmplug_demo_api().call_get_v(s)).unwrap(),
        1
    );
    assert_eq!(
        b.call(|d, s| d.wasmplug_demo_api().call_get_v(s)).unwrap(),
        2
    );
    assert_eq!(
        plugin
            .call(|d, s| d.wasmplug_demo_api().call_get_v(s))
            .unwrap(),
        0
    );
    assert_eq!(
        a.call(|d, s| d.wasmplug_demo_probe().call_init_count(s))
            .unwrap(),
        1
    );
}

#[test]
fn exports_are_listed_with_wit_signatures() {
    let rt = runtime();
    let plugin = rt.open::<Demo>(wasm("demo1")).unwrap();
    let exports = plugin.exports();
    let find = |name: &str| {
        exports
            .iter()
            .find(|e| e.name == name)
            .map(|e| e.signature.as_str())
    };
    assert_eq!(find("wasmplug:demo/api@1.0.0#set-v"), Some("func(v: s64)"));
    assert_eq!(find("wasmplug:demo/api@1.0.0#f"), Some("func() -> string"));
    assert_eq!(
        find("wasmplug:plugin/plugin@1.0.0#init"),
        Some("func(config: list<tuple<string, string>>) -> result<_, string>")
    );
}
