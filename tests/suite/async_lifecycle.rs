//! The lifecycle of a plugin on the async path, as `lifecycle` checks it
//! on the sync one: disable / enable keep the state and skip the plugin,
//! `flush` runs the optional hook (on the shared instance, or on each idle
//! instance of a pool), a plugin without hooks has nothing to flush.

use wasmplug::{AsyncPlugin, Concurrency, Error, PluginState, PoolConfig};

use crate::support::{capture_logs, count, runtime};

const PLUGIN: &str = "versioned@1.1.0";

wasmplug::contract! {
    /// The counter contract bound for the async path.
    pub struct CounterAsync {
        package: "acme:counter@0.3.0",
        world: "acme:counter/counter-plugin",
        path: ["../wit/plugin", "wit/counter"],
        bindings: counter_async::{CounterPlugin, CounterPluginIndices},
        async: true,
        imports: [acme::counter::host_info],
    }
}

impl counter_async::acme::counter::host_info::Host for PluginState {
    async fn greeting(&mut self) -> String {
        format!("hello from the host to {}", self.plugin())
    }
}

fn release() -> std::path::PathBuf {
    match xtask::build_guests() {
        Ok(guests) => guests.versioned("1.1.0"),
        Err(message) => panic!("the guest plugins could not be built:\n{message}"),
    }
}

async fn add(plugin: &AsyncPlugin<CounterAsync>, n: u32) -> wasmplug::Result<u64> {
    plugin
        .call_async(move |c, s| Box::pin(c.acme_counter_counter().call_add(s, n)))
        .await
}

fn tokio() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn disabled_enabled_and_flushed(concurrency: Concurrency) {
    let tokio = tokio();
    let runtime = runtime();
    let plugin = tokio
        .block_on(
            runtime
                .loader::<CounterAsync>()
                .config("start", "10")
                .concurrency(concurrency)
                .open_async(release()),
        )
        .unwrap();
    assert_eq!(tokio.block_on(add(&plugin, 1)).unwrap(), 11);

    // Disabled: skipped without running guest code, its state kept.
    let (changed, logs) = capture_logs(|| (plugin.disable(), plugin.disable()));
    assert_eq!(changed, (true, false), "only the first is a transition");
    assert!(logs.is_empty(), "disabling runs no plugin code: {logs:?}");
    assert!(!plugin.is_enabled());
    match tokio.block_on(add(&plugin, 1)) {
        Err(Error::Disabled { plugin }) => assert_eq!(plugin, PLUGIN),
        other => panic!("expected Disabled, got {other:?}"),
    }
    assert!(plugin.enable());
    assert!(!plugin.enable());
    assert_eq!(
        tokio.block_on(add(&plugin, 1)).unwrap(),
        12,
        "the state survived"
    );

    // Flushed on request: the hook runs once (one instance serves here,
    // the pool's included: its calls came one at a time).
    let (flushed, logs) = capture_logs(|| tokio.block_on(plugin.flush()));
    assert!(flushed.unwrap(), "the plugin has the hook");
    assert_eq!(count(&logs, PLUGIN, "flush"), 1, "{logs:?}");
    assert_eq!(tokio.block_on(add(&plugin, 1)).unwrap(), 13);
    if let Concurrency::Pooled(_) = concurrency {
        assert_eq!(plugin.pool_counts(), Some((1, 1)), "flushed and given back");
    }
}

#[test]
fn a_shared_async_plugin_is_disabled_enabled_and_flushed() {
    disabled_enabled_and_flushed(Concurrency::Shared);
}

#[test]
fn a_pooled_async_plugin_is_disabled_enabled_and_flushed() {
    disabled_enabled_and_flushed(Concurrency::Pooled(PoolConfig::new(2)));
}

#[test]
fn an_async_plugin_without_hooks_has_nothing_to_flush() {
    let tokio = tokio();
    let runtime = runtime();
    for concurrency in [Concurrency::Shared, Concurrency::Pooled(PoolConfig::new(2))] {
        let plugin = tokio
            .block_on(
                runtime
                    .loader::<CounterAsync>()
                    .concurrency(concurrency)
                    .open_async(crate::support::wasm("counter")),
            )
            .unwrap();
        assert!(!tokio.block_on(plugin.flush()).unwrap());
        drop(plugin);
    }
}

/// `lookup` on the async path: the export found by name with its
/// signature checked, called with `.await` on the shared instance or a
/// pooled one, refused while the plugin is disabled, following a
/// reconfigure; a wrong name or signature is a typed error.
#[test]
fn a_looked_up_export_is_typed_and_follows_the_plugin() {
    let tokio = tokio();
    let runtime = runtime();
    for concurrency in [Concurrency::Shared, Concurrency::Pooled(PoolConfig::new(2))] {
        let plugin = tokio
            .block_on(
                runtime
                    .loader::<CounterAsync>()
                    .config("start", "10")
                    .concurrency(concurrency)
                    .open_async(release()),
            )
            .unwrap();
        let add = tokio
            .block_on(plugin.lookup::<(u32,), (u64,)>("acme:counter/counter@0.3.0#add"))
            .unwrap();
        assert_eq!(add.name(), "acme:counter/counter@0.3.0#add");
        assert_eq!(tokio.block_on(add.call((1,))).unwrap(), (11,));
        // The same instance state as the bindings see.
        assert_eq!(tokio.block_on(self::add(&plugin, 1)).unwrap(), 12);
        // It owns its plugin handle: it moves into a task.
        let moved = add.clone();
        let answer = tokio
            .block_on(tokio.spawn(async move { moved.call((1,)).await }))
            .unwrap()
            .unwrap();
        assert_eq!(answer, (13,));

        plugin.disable();
        assert!(matches!(
            tokio.block_on(add.call((1,))),
            Err(Error::Disabled { .. })
        ));
        plugin.enable();
        tokio
            .block_on(plugin.reconfigure([("start", "500")]))
            .unwrap();
        assert_eq!(tokio.block_on(add.call((1,))).unwrap(), (501,));

        match tokio.block_on(plugin.lookup::<(u32,), (u32,)>("acme:counter/counter@0.3.0#add")) {
            Err(Error::Signature { export, actual, .. }) => {
                assert_eq!(export, "acme:counter/counter@0.3.0#add");
                assert_eq!(actual, "func(n: u32) -> u64");
            }
            other => panic!("expected Signature, got {other:?}"),
        }
        match tokio.block_on(plugin.lookup::<(u32,), (u64,)>("acme:counter/counter@0.3.0#ad")) {
            Err(Error::NoSuchExport { similar, .. }) => {
                assert!(
                    similar.contains(&"acme:counter/counter@0.3.0#add".to_owned()),
                    "{similar:?}"
                );
            }
            other => panic!("expected NoSuchExport, got {other:?}"),
        }
    }
}
