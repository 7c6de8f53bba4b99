//! The async path on tokio: async host imports that await real I/O, two
//! plugins' calls in flight at once on one thread, and deadlines that hold
//! whatever the guest does; and what a deadline cannot do on the sync path.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use wasmplug::{AsyncPlugin, Error, Limit, Limits, PluginState, Runtime};

use crate::support::wasm;

wasmplug::contract! {
    /// The test-only key-value contract, bound for the async path.
    pub struct Kv {
        package: "acme:kv@1.0.0",
        world: "acme:kv/kv-plugin",
        path: ["../wit/plugin", "wit/kv"],
        bindings: kv::{KvPlugin, KvPluginIndices},
        async: true,
        imports: [acme::kv::store],
    }
}

wasmplug::contract! {
    /// The same contract bound for the sync path.
    pub struct KvSync {
        package: "acme:kv@1.0.0",
        world: "acme:kv/kv-plugin",
        path: ["../wit/plugin", "wit/kv"],
        bindings: kv_sync::{KvPlugin, KvPluginIndices},
        imports: [acme::kv::store],
    }
}

/// How long the host's store takes to answer a lookup.
const ANSWER_DELAY: Duration = Duration::from_millis(200);

/// What the async host import did, in order: `start <key>`, `end <key>`.
static EVENTS: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn event(what: String) {
    EVENTS.lock().unwrap().push(what);
}

/// The async host import: another tokio task answers after a delay,
/// through a channel; this call awaits it without blocking the thread.
impl kv::acme::kv::store::Host for PluginState {
    async fn get(&mut self, key: String) -> Option<String> {
        event(format!("start {key}"));
        let (answer, answered) = tokio::sync::oneshot::channel();
        let asked = key.clone();
        tokio::spawn(async move {
            tokio::time::sleep(ANSWER_DELAY).await;
            let _ = answer.send(asked.to_uppercase());
        });
        let value = answered.await.ok();
        event(format!("end {key}"));
        value
    }
}

/// The sync host import answers at once.
impl kv_sync::acme::kv::store::Host for PluginState {
    fn get(&mut self, key: String) -> Option<String> {
        Some(key.to_uppercase())
    }
}

fn runtime() -> Runtime {
    Runtime::builder()
        .max_instances(16)
        .epoch_interruption(true)
        .build()
        .unwrap()
}

async fn ask(plugin: &AsyncPlugin<Kv>, key: &str) -> wasmplug::Result<String> {
    let key = key.to_owned();
    plugin
        .call_async(move |kv, store| {
            Box::pin(async move { kv.acme_kv_api().call_describe(store, &key).await })
        })
        .await
}

async fn sleep_in_guest(plugin: &AsyncPlugin<Kv>, ms: u64) -> wasmplug::Result<u64> {
    plugin
        .call_async(move |kv, store| Box::pin(kv.acme_kv_api().call_sleep(store, ms)))
        .await
}

#[tokio::test(flavor = "current_thread")]
async fn two_plugins_calls_interleave_on_one_thread() {
    // Two plugins (two runtimes: each has its own live instance).
    let (rt_a, rt_b) = (runtime(), runtime());
    let a = rt_a.open_async::<Kv>(wasm("kv")).await.unwrap();
    let b = rt_b.open_async::<Kv>(wasm("kv")).await.unwrap();
    let (x, y) = tokio::join!(ask(&a, "interleave-a"), ask(&b, "interleave-b"));
    assert_eq!(x.unwrap(), "interleave-a=INTERLEAVE-A");
    assert_eq!(y.unwrap(), "interleave-b=INTERLEAVE-B");
    let events: Vec<String> = EVENTS
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.contains("interleave-"))
        .cloned()
        .collect();
    // Both calls were inside the host import at once: both started before
    // either was answered.
    let position = |what: &str| events.iter().position(|e| e == what).unwrap();
    let last_start = position("start interleave-a").max(position("start interleave-b"));
    let first_end = position("end interleave-a").min(position("end interleave-b"));
    assert!(last_start < first_end, "not interleaved: {events:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_call_is_send_and_can_be_spawned() {
    let rt = runtime();
    let plugin = rt.open_async::<Kv>(wasm("kv")).await.unwrap();
    let tasks: Vec<_> = (0..4)
        .map(|i| {
            let plugin = plugin.clone();
            tokio::spawn(async move { ask(&plugin, &format!("spawned-{i}")).await })
        })
        .collect();
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(
            task.await.unwrap().unwrap(),
            format!("spawned-{i}=SPAWNED-{i}")
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_contract_opens_only_on_its_own_path() {
    let rt = runtime();
    let err = rt.open::<Kv>(wasm("kv")).unwrap_err();
    assert!(
        matches!(&err, Error::CallingPath { contract, .. } if contract == "acme:kv@1.0.0"),
        "{err}"
    );
    assert!(err.to_string().contains("open_async"), "{err}");
    let err = rt.open_async::<KvSync>(wasm("kv")).await.unwrap_err();
    assert!(matches!(err, Error::CallingPath { .. }), "{err}");
    // Compiled and checked (its metadata read on a probe instance), but a
    // private instance of an async contract would need async calls.
    let pre = rt
        .loader::<Kv>()
        .compile("kv", &crate::support::wasm_bytes("kv"))
        .unwrap();
    assert_eq!(pre.metadata().name, "kv");
    let err = pre.instantiate().unwrap_err();
    assert!(matches!(err, Error::CallingPath { .. }), "{err}");
    // The same plugin file serves both, each on its own path.
    let plugin = rt.open::<KvSync>(wasm("kv")).unwrap();
    let answer = plugin
        .call(|kv, store| kv.acme_kv_api().call_describe(store, "sync"))
        .unwrap();
    assert_eq!(answer, "sync=SYNC");
}

const DEADLINE: Duration = Duration::from_millis(100);

fn is_deadline(err: &Error) -> bool {
    matches!(err, Error::LimitExceeded { limit: Limit::Deadline(d), .. } if *d == DEADLINE)
}

#[tokio::test(flavor = "current_thread")]
async fn a_deadline_ends_a_call_blocked_in_a_host_call() {
    let rt = runtime();
    let plugin = rt
        .loader::<Kv>()
        .limits(Limits::new().deadline(DEADLINE))
        .open_async(wasm("kv"))
        .await
        .unwrap();
    // A bystander on another runtime, called while the guest sleeps.
    let other_rt = runtime();
    let bystander = other_rt.open_async::<Kv>(wasm("kv")).await.unwrap();

    let started = Instant::now();
    let (slept, looked_up) = tokio::join!(
        sleep_in_guest(&plugin, 30_000),
        ask(&bystander, "bystander")
    );
    let elapsed = started.elapsed();
    let err = slept.unwrap_err();
    assert!(is_deadline(&err), "{err}");
    assert!(err.to_string().contains("kv@1.0.0"), "{err}");
    assert!(
        elapsed < Duration::from_secs(1),
        "a 30 s sleep under a 100 ms deadline took {elapsed:?}"
    );
    assert_eq!(looked_up.unwrap(), "bystander=BYSTANDER");
    // The cancelled instance was discarded: the next call gets a fresh one.
    assert_eq!(sleep_in_guest(&plugin, 1).await.unwrap(), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_deadline_ends_init_blocked_in_a_host_call() {
    let rt = runtime();
    let started = Instant::now();
    let err = rt
        .loader::<Kv>()
        .config("sleep-ms", "30000")
        .limits(Limits::new().deadline(DEADLINE))
        .open_async(wasm("kv"))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(is_deadline(&err), "{err}");
    assert!(err.to_string().contains("`init`"), "{err}");
    assert!(
        elapsed < Duration::from_secs(1),
        "a 30 s sleep in init under a 100 ms deadline took {elapsed:?}"
    );
    assert_eq!(
        rt.live_plugins(),
        0,
        "a plugin whose init failed is not live"
    );
}

/// A pooled plugin's `init` runs once, for the snapshot its instances
/// start from, on a blocking-pool thread: the open still ends at its
/// deadline, counted from when `init` starts (compiling the plugin for the
/// snapshot, before, is not the plugin's time), long before the guest's
/// 6 s sleep ends. (The thread finishes the sleep afterwards; the runtime
/// waits for it when it shuts down. The snapshot is abandoned, not cached.)
#[tokio::test(flavor = "current_thread")]
async fn a_deadline_ends_a_pooled_plugins_snapshot_init_blocked_in_a_host_call() {
    let rt = runtime();
    let started = Instant::now();
    let err = rt
        .loader::<Kv>()
        .config("sleep-ms", "6000")
        .limits(Limits::new().deadline(DEADLINE))
        .concurrency(pooled(2, Duration::from_secs(5)))
        .open_async(wasm("kv"))
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(is_deadline(&err), "{err}");
    assert!(err.to_string().contains("`init`"), "{err}");
    assert!(
        elapsed < Duration::from_secs(4),
        "a 6 s sleep in init under a 100 ms deadline took {elapsed:?}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_spinning_guest_yields_to_other_tasks() {
    // A coarse tick, so that the bound below ("a few ticks") stays clear
    // of the scheduling noise of a loaded machine.
    const TICK: Duration = Duration::from_millis(20);
    const SPIN_DEADLINE: Duration = Duration::from_secs(1);
    let rt = Runtime::builder()
        .max_instances(8)
        .epoch_tick(TICK)
        .build()
        .unwrap();
    let plugin = rt
        .loader::<Kv>()
        .limits(Limits::new().deadline(SPIN_DEADLINE))
        .open_async(wasm("kv"))
        .await
        .unwrap();
    // A timer task on the same thread: how late does each 10 ms sleep wake?
    let timer = tokio::spawn(async {
        let mut worst = Duration::ZERO;
        for _ in 0..40 {
            let asked = Instant::now();
            tokio::time::sleep(Duration::from_millis(10)).await;
            worst = worst.max(asked.elapsed().saturating_sub(Duration::from_millis(10)));
        }
        worst
    });
    tokio::task::yield_now().await;
    let err = plugin
        .call_async(|kv, store| Box::pin(kv.acme_kv_api().call_spin(store)))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::LimitExceeded { limit: Limit::Deadline(d), .. } if d == SPIN_DEADLINE),
        "{err}"
    );
    let worst = timer.await.unwrap();
    // Without yielding, the timer would wake after the whole 1 s spin.
    assert!(
        worst < TICK * 5,
        "a timer on the spinning guest's thread woke {worst:?} late"
    );
    // The plugin serves again, on a fresh instance.
    assert_eq!(
        ask(&plugin, "after-spin").await.unwrap(),
        "after-spin=AFTER-SPIN"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_fault_is_typed_and_the_next_call_gets_a_fresh_instance() {
    let rt = Runtime::builder()
        .max_instances(8)
        .fuel(true)
        .build()
        .unwrap();
    let plugin = rt
        .loader::<Kv>()
        .limits(Limits::new().fuel(5_000_000))
        .open_async(wasm("kv"))
        .await
        .unwrap();
    let err = plugin
        .call_async(|kv, store| Box::pin(kv.acme_kv_api().call_spin(store)))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::LimitExceeded {
                limit: Limit::Fuel(5_000_000),
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("kv@1.0.0"), "{err}");
    assert_eq!(
        ask(&plugin, "after-fuel").await.unwrap(),
        "after-fuel=AFTER-FUEL"
    );
}

/// The sync path's limit, documented in the crate docs: epoch interruption
/// stops guest code, not a host call the guest is blocked in. The deadline
/// is reported once the sleep returns.
#[test]
fn on_the_sync_path_a_deadline_waits_for_a_blocking_host_call() {
    let rt = runtime();
    let plugin = rt
        .loader::<KvSync>()
        .limits(Limits::new().deadline(DEADLINE))
        .open(wasm("kv"))
        .unwrap();
    let started = Instant::now();
    let outcome = plugin.call(|kv, store| kv.acme_kv_api().call_sleep(store, 1_000));
    let elapsed = started.elapsed();
    // Past its deadline when the sleep returns, the guest traps at its next
    // epoch check, or returns first if it reaches none.
    match outcome {
        Ok(slept) => assert_eq!(slept, 1_000),
        Err(err) => assert!(is_deadline(&err), "{err}"),
    }
    assert!(
        elapsed >= Duration::from_secs(1),
        "the sleep was cut short after {elapsed:?}: update the docs"
    );
}

fn pooled(size: usize, wait: Duration) -> wasmplug::Concurrency {
    wasmplug::Concurrency::Pooled(wasmplug::PoolConfig::new(size).wait(wait))
}

#[tokio::test(flavor = "current_thread")]
async fn one_pooled_plugin_runs_calls_at_once_on_one_thread() {
    let rt = runtime();
    let plugin = rt
        .loader::<Kv>()
        .concurrency(pooled(2, Duration::from_secs(5)))
        .open_async(wasm("kv"))
        .await
        .unwrap();
    let (x, y) = tokio::join!(ask(&plugin, "pooled-a"), ask(&plugin, "pooled-b"));
    assert_eq!(x.unwrap(), "pooled-a=POOLED-A");
    assert_eq!(y.unwrap(), "pooled-b=POOLED-B");
    let events: Vec<String> = EVENTS
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.contains("pooled-"))
        .cloned()
        .collect();
    // One plugin, both calls inside the host import at once: each on an
    // instance of its own.
    let position = |what: &str| events.iter().position(|e| e == what).unwrap();
    let last_start = position("start pooled-a").max(position("start pooled-b"));
    let first_end = position("end pooled-a").min(position("end pooled-b"));
    assert!(last_start < first_end, "not at once: {events:?}");
    assert_eq!(plugin.idle_instances(), Some(2));
}

#[tokio::test(flavor = "current_thread")]
async fn a_pooled_call_waits_for_a_free_instance_then_gets_a_typed_error() {
    let rt = runtime();
    let plugin = rt
        .loader::<Kv>()
        .concurrency(pooled(1, Duration::from_millis(50)))
        .open_async(wasm("kv"))
        .await
        .unwrap();
    // The one instance is busy (its call awaits the host for 200 ms) for
    // longer than a caller waits.
    let (busy, waiting) = tokio::join!(ask(&plugin, "busy"), async {
        tokio::task::yield_now().await;
        ask(&plugin, "waiting").await
    });
    assert_eq!(busy.unwrap(), "busy=BUSY");
    match waiting.unwrap_err() {
        Error::PoolExhausted { size, waited, .. } => {
            assert_eq!((size, waited), (1, Duration::from_millis(50)));
        }
        other => panic!("expected PoolExhausted, got {other:?}"),
    }
    assert_eq!(ask(&plugin, "later").await.unwrap(), "later=LATER");
}

#[tokio::test(flavor = "current_thread")]
async fn a_pooled_call_cancelled_at_its_deadline_discards_its_instance() {
    let rt = runtime();
    let plugin = rt
        .loader::<Kv>()
        .limits(Limits::new().deadline(Duration::from_millis(100)))
        .concurrency(pooled(2, Duration::from_secs(5)))
        .open_async(wasm("kv"))
        .await
        .unwrap();
    let started = Instant::now();
    let err = sleep_in_guest(&plugin, 30_000).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        matches!(
            err,
            Error::LimitExceeded {
                limit: Limit::Deadline(_),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(
        plugin.idle_instances(),
        Some(0),
        "the cancelled instance is gone"
    );
    assert_eq!(sleep_in_guest(&plugin, 1).await.unwrap(), 1);
    assert_eq!(plugin.idle_instances(), Some(1));
}
