//! Init once, for every instance: a plugin snapshotted after `init`
//! (`PluginPre::snapshot`) makes instances that start initialised.

use wasmplug::{CacheStats, Capabilities, DirAccess, Error, PluginPre, Runtime};
use wasmplug_contracts::gateway::wasmplug::gateway::types::{Rejection, Verdict};
use wasmplug_contracts::{Demo, GatewayFilter, InitProbe};

use crate::gateway::request;
use crate::support::{capture_logs, count, wasm_bytes};

/// A runtime without the precompiled cache: a snapshot cached by an
/// earlier run would be loaded, and `init` would not run at all.
fn runtime() -> Runtime {
    Runtime::builder()
        .max_instances(16)
        .cache(false)
        .build()
        .unwrap()
}

fn init_count(instance: &mut wasmplug::PluginInstance<InitProbe>) -> u32 {
    instance
        .call(|p, s| p.wasmplug_demo_probe().call_init_count(s))
        .unwrap()
}

/// Records whose message starts with `prefix`.
fn starting(records: &[crate::support::Record], prefix: &str) -> usize {
    records
        .iter()
        .filter(|r| r.message.starts_with(prefix))
        .count()
}

#[test]
fn ten_instances_from_a_snapshot_see_that_init_ran_once() {
    let rt = runtime();
    let pre = rt
        .loader::<InitProbe>()
        .compile("init-probe", &wasm_bytes("init-probe"))
        .unwrap();
    let ((), records) = capture_logs(|| {
        let snapshot = pre.snapshot().unwrap();
        assert!(snapshot.is_snapshot() && !pre.is_snapshot());
        let mut instances: Vec<_> = (0..10).map(|_| snapshot.instantiate().unwrap()).collect();
        for instance in &mut instances {
            assert_eq!(init_count(instance), 1);
            let common = instance
                .call(|p, s| p.wasmplug_demo_probe().call_common_init_count(s))
                .unwrap();
            assert_eq!(
                common, 1,
                "the shared dependency's init is in the snapshot too"
            );
        }
    });
    // `init` ran once in all, while the snapshot was taken.
    assert_eq!(
        count(&records, "init-probe@1.0.0", "init-probe: init #1"),
        1
    );
    assert_eq!(starting(&records, "init-probe: init #"), 1, "{records:?}");

    // Without the snapshot, each instance runs its own `init`.
    let mut plain = pre.instantiate().unwrap();
    assert_eq!(init_count(&mut plain), 1);
}

#[test]
fn shutdown_runs_once_per_instance_from_a_snapshot() {
    let rt = runtime();
    let pre = rt
        .loader::<InitProbe>()
        .config("rounds", "1")
        .compile("heavy-init", &wasm_bytes("heavy-init"))
        .unwrap();
    let (table, records) = capture_logs(|| {
        let snapshot = pre.snapshot().unwrap();
        let tables: Vec<u32> = (0..10)
            .map(|_| {
                let mut instance = snapshot.instantiate().unwrap();
                assert_eq!(init_count(&mut instance), 1);
                // The fixture answers with the first entry of the table its
                // `init` filled.
                instance
                    .call(|p, s| p.wasmplug_demo_probe().call_common_init_count(s))
                    .unwrap()
            })
            .collect();
        assert!(tables.windows(2).all(|w| w[0] == w[1]));
        tables[0]
    });
    assert_ne!(table, 0, "the table `init` filled is in every instance");
    assert_eq!(starting(&records, "heavy-init: init #"), 1, "{records:?}");
    // The instance that ran `init` for the snapshot is thrown away without
    // `shutdown`; each of the ten runs its own.
    assert_eq!(
        count(&records, "heavy-init@1.0.0", "heavy-init: shutdown"),
        10
    );
}

#[test]
fn the_configuration_given_at_snapshot_time_holds_in_every_instance() {
    let rt = runtime();
    let pre = rt
        .loader::<GatewayFilter>()
        .config("deny", "mallory,eve")
        .compile("auth-filter", &wasm_bytes("auth-filter"))
        .unwrap();
    let snapshot = pre.snapshot().unwrap();
    for _ in 0..5 {
        let mut filter = snapshot.instantiate().unwrap();
        let mut on = |auth: &str| {
            filter
                .call(|f, s| {
                    f.wasmplug_gateway_filter()
                        .call_on_request(s, &request("/api", Some(auth)))
                })
                .unwrap()
        };
        assert!(
            matches!(
                on("Bearer mallory"),
                Verdict::Reject(Rejection { status: 403, .. })
            ),
            "a denied token is rejected"
        );
        assert!(matches!(
            on("Bearer eve"),
            Verdict::Reject(Rejection { status: 403, .. })
        ));
        assert!(matches!(on("Bearer alice"), Verdict::Rewrite(_)));
    }
}

#[test]
fn instances_from_one_snapshot_do_not_share_state() {
    let rt = runtime();
    let snapshot = rt
        .loader::<Demo>()
        .compile("demo1", &wasm_bytes("demo1"))
        .unwrap()
        .snapshot()
        .unwrap();
    let mut a = snapshot.instantiate().unwrap();
    let mut b = snapshot.instantiate().unwrap();
    a.call(|d, s| d.wasmplug_demo_api().call_set_v(s, 7))
        .unwrap();
    assert_eq!(
        b.call(|d, s| d.wasmplug_demo_api().call_get_v(s)).unwrap(),
        0
    );
    assert_eq!(
        a.call(|d, s| d.wasmplug_demo_api().call_get_v(s)).unwrap(),
        7
    );
    // A snapshot of a snapshot is itself.
    assert!(snapshot.snapshot().unwrap().is_snapshot());
}

fn cached_runtime(root: &std::path::Path) -> Runtime {
    Runtime::builder()
        .max_instances(8)
        .cache_dir(root)
        .build()
        .unwrap()
}

fn heavy(rt: &Runtime, rounds: &str) -> PluginPre<InitProbe> {
    rt.loader::<InitProbe>()
        .config("rounds", rounds)
        .compile("heavy-init", &wasm_bytes("heavy-init"))
        .unwrap()
}

#[test]
fn a_second_runtime_loads_the_snapshot_from_the_cache_without_running_init() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("cache");
    let snapshot_stats = |hits, misses| {
        let mut s = CacheStats::default();
        s.snapshot_hits = hits;
        s.snapshot_misses = misses;
        s
    };
    let just_snapshots = |rt: &Runtime| {
        let s = rt.cache_stats().unwrap();
        snapshot_stats(s.snapshot_hits, s.snapshot_misses)
    };

    let first = cached_runtime(&root);
    let (_, records) = capture_logs(|| heavy(&first, "2").snapshot().unwrap());
    assert_eq!(starting(&records, "heavy-init: init #"), 1);
    assert_eq!(just_snapshots(&first), snapshot_stats(0, 1));

    let second = cached_runtime(&root);
    let (mut instance, records) = capture_logs(|| {
        let snapshot = heavy(&second, "2").snapshot().unwrap();
        snapshot.instantiate().unwrap()
    });
    assert_eq!(starting(&records, "heavy-init: init #"), 0, "{records:?}");
    assert_eq!(just_snapshots(&second), snapshot_stats(1, 0));
    assert_eq!(init_count(&mut instance), 1);

    // Another configuration is another snapshot: `init` runs for it.
    let (_, records) = capture_logs(|| heavy(&second, "3").snapshot().unwrap());
    assert_eq!(starting(&records, "heavy-init: init #"), 1);
    assert_eq!(just_snapshots(&second), snapshot_stats(1, 1));
}

#[test]
fn init_refusing_at_snapshot_time_is_the_usual_init_error() {
    let rt = runtime();
    let pre = rt
        .loader::<InitProbe>()
        .config("no-such-setting", "x")
        .compile("heavy-init", &wasm_bytes("heavy-init"))
        .unwrap();
    match pre.snapshot() {
        Err(Error::Init { plugin, message }) => {
            assert_eq!(plugin, "heavy-init@1.0.0");
            assert!(message.contains("no-such-setting"), "{message}");
        }
        other => panic!("expected Error::Init, got {other:?}"),
    }
}

#[test]
fn a_file_init_keeps_open_cannot_be_snapshotted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hello").unwrap();
    let rt = runtime();
    let pre = rt
        .loader::<InitProbe>()
        .config("rounds", "1")
        .config("keep-open", "/data/hello.txt")
        .capabilities(Capabilities::none().dir(dir.path(), "/data", DirAccess::ReadOnly))
        .compile("heavy-init", &wasm_bytes("heavy-init"))
        .unwrap();
    match pre.snapshot() {
        Err(Error::Snapshot { plugin, reason }) => {
            assert_eq!(plugin, "heavy-init@1.0.0");
            assert!(reason.contains("host resource"), "{reason}");
        }
        other => panic!("expected Error::Snapshot, got {other:?}"),
    }
    // The plugin itself works: each instance runs `init`.
    let mut instance = pre.instantiate().unwrap();
    assert_eq!(init_count(&mut instance), 1);
}

wasmplug::contract! {
    /// The init-probe contract bound for the async path.
    pub struct InitProbeAsync {
        package: "wasmplug:demo@1.0.0",
        world: "wasmplug:demo/init-probe",
        path: ["../wit/plugin", "../wit/demo"],
        bindings: init_probe_async::{InitProbe, InitProbeIndices},
        async: true,
    }
}

/// Opens init-probe pooled on the async path, makes four calls at once
/// (so four instances), and returns what `init-count` answered on each
/// and how many times `init` ran on this thread (from its log lines).
fn four_async_pooled_calls(from_snapshot: bool) -> (Vec<u32>, usize) {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let rt = runtime();
    let (counts, records) = capture_logs(|| {
        tokio.block_on(async {
            let plugin = rt
                .loader::<InitProbeAsync>()
                .concurrency(wasmplug::Concurrency::Pooled(
                    wasmplug::PoolConfig::new(4).from_snapshot(from_snapshot),
                ))
                .open_async(crate::support::wasm("init-probe"))
                .await
                .unwrap();
            let call = || {
                plugin.call_async(|p, s| {
                    Box::pin(async move {
                        // Holds its instance across an await, so the four
                        // calls need four instances.
                        let count = p.wasmplug_demo_probe().call_init_count(&mut *s).await;
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        count
                    })
                })
            };
            let (a, b, c, d) = tokio::join!(call(), call(), call(), call());
            assert_eq!(plugin.pool_counts(), Some((4, 4)));
            vec![a.unwrap(), b.unwrap(), c.unwrap(), d.unwrap()]
        })
    });
    (counts, starting(&records, "init-probe: init #"))
}

#[test]
fn async_pooled_instances_start_from_one_snapshot() {
    let (counts, inits) = four_async_pooled_calls(true);
    // Each instance saw one `init`, and none ran it: `init` ran for the
    // snapshot, on a blocking-pool thread (whose logs are not captured).
    assert_eq!(counts, [1, 1, 1, 1]);
    assert_eq!(inits, 0, "no instance ran init");
}

#[test]
fn async_pooled_instances_without_a_snapshot_each_run_init() {
    let (counts, inits) = four_async_pooled_calls(false);
    assert_eq!(counts, [1, 1, 1, 1]);
    assert_eq!(inits, 4);
}
