//! Nothing lost under concurrency: many tokio tasks call one pooled plugin
//! on the async path while some of their calls trap or run past their
//! deadline on purpose. Every call returns its result or a typed error (the
//! counts add up), the pool ends with every place free, and resident
//! memory ends where it started.
//!
//! A test binary of its own: resident memory is the process's, and the
//! suite's other tests would move it.

use std::collections::BTreeMap;
use std::time::Duration;

use wasmplug::{AsyncPlugin, Concurrency, Error, Limit, Limits, PluginState, PoolConfig, Runtime};

wasmplug::contract! {
    /// The test-only key-value contract (`tests/wit/kv`), bound for the
    /// async path.
    pub struct Kv {
        package: "acme:kv@1.0.0",
        world: "acme:kv/kv-plugin",
        path: ["../wit/plugin", "wit/kv"],
        bindings: kv::{KvPlugin, KvPluginIndices},
        async: true,
        imports: [acme::kv::store],
    }
}

/// The host's store answers after a short wait on a timer, so calls are
/// in flight together.
impl kv::acme::kv::store::Host for PluginState {
    async fn get(&mut self, key: String) -> Option<String> {
        tokio::time::sleep(Duration::from_millis(1)).await;
        Some(key.to_uppercase())
    }
}

const POOL: usize = 4;
const DEADLINE: Duration = Duration::from_millis(250);

/// What a task asks of the plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Ask {
    /// A lookup through the async host import: answers.
    Describe,
    /// A panic in the guest: [`Error::Trap`].
    Crash,
    /// A 30 s WASI sleep, blocked in the host: cut at the deadline.
    Sleep,
    /// An endless loop: cut at the deadline.
    Spin,
}

impl Ask {
    fn of(task: usize) -> Ask {
        match task % 16 {
            3 | 11 => Ask::Crash,
            7 => Ask::Sleep,
            13 => Ask::Spin,
            _ => Ask::Describe,
        }
    }
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    Answered,
    Trapped,
    /// Past its deadline, in the guest or waiting for a free instance.
    Deadline,
    /// No instance came free within the pool's wait.
    Exhausted,
}

async fn call(plugin: &AsyncPlugin<Kv>, task: usize) -> (Ask, Outcome) {
    let ask = Ask::of(task);
    let key = format!("key-{task}");
    let result = match ask {
        Ask::Describe => {
            let key = key.clone();
            plugin
                .call_async(move |kv, store| {
                    Box::pin(async move { kv.acme_kv_api().call_describe(store, &key).await })
                })
                .await
        }
        Ask::Crash => plugin
            .call_async(|kv, store| Box::pin(kv.acme_kv_api().call_crash(store)))
            .await
            .map(|()| String::new()),
        Ask::Sleep => plugin
            .call_async(|kv, store| Box::pin(kv.acme_kv_api().call_sleep(store, 30_000)))
            .await
            .map(|ms| ms.to_string()),
        Ask::Spin => plugin
            .call_async(|kv, store| Box::pin(kv.acme_kv_api().call_spin(store)))
            .await
            .map(|()| String::new()),
    };
    let outcome = match result {
        Ok(answer) => {
            assert_eq!(ask, Ask::Describe, "{ask:?} answered {answer:?}");
            assert_eq!(answer, format!("{key}={}", key.to_uppercase()));
            Outcome::Answered
        }
        // A Rust panic in the guest ends in `unreachable`.
        Err(Error::Trap {
            code: Some(wasmplug::wasmtime::Trap::UnreachableCodeReached),
            ..
        }) => Outcome::Trapped,
        Err(Error::LimitExceeded {
            limit: Limit::Deadline(deadline),
            ..
        }) => {
            assert_eq!(deadline, DEADLINE);
            Outcome::Deadline
        }
        Err(Error::PoolExhausted { size, .. }) => {
            assert_eq!(size, POOL);
            Outcome::Exhausted
        }
        Err(other) => panic!("{ask:?} ended with an unexpected error: {other:?}"),
    };
    (ask, outcome)
}

/// Runs `tasks` calls on one plugin from as many tokio tasks at once, and
/// counts how they ended, by what they asked.
async fn wave(
    plugin: &AsyncPlugin<Kv>,
    first: usize,
    tasks: usize,
) -> BTreeMap<(Ask, Outcome), usize> {
    let handles: Vec<_> = (first..first + tasks)
        .map(|task| {
            let plugin = plugin.clone();
            tokio::spawn(async move { call(&plugin, task).await })
        })
        .collect();
    let mut counts = BTreeMap::new();
    for handle in handles {
        let ended = handle.await.expect("a calling task panicked");
        *counts.entry(ended).or_default() += 1;
    }
    assert_eq!(
        counts.values().sum::<usize>(),
        tasks,
        "calls lost: {counts:?}"
    );
    counts
}

/// As many calls at once as the pool has instances, so that none waits:
/// each ends exactly as its ask says.
async fn exact_wave(plugin: &AsyncPlugin<Kv>, first: usize) {
    for batch in (first..first + 64).step_by(POOL) {
        let counts = wave(plugin, batch, POOL).await;
        for ((ask, outcome), n) in counts {
            let expected = match ask {
                Ask::Describe => Outcome::Answered,
                Ask::Crash => Outcome::Trapped,
                Ask::Sleep | Ask::Spin => Outcome::Deadline,
            };
            assert_eq!(outcome, expected, "{n} × {ask:?}");
        }
    }
}

/// Far more calls at once than the pool has instances: a call that waits
/// past its deadline or the pool's wait gets that typed error, every other
/// ends as its ask says.
async fn crowded_wave(plugin: &AsyncPlugin<Kv>, first: usize) -> usize {
    let counts = wave(plugin, first, 160).await;
    let mut answered = 0;
    for (&(ask, outcome), &n) in &counts {
        let as_asked = match ask {
            Ask::Describe => outcome == Outcome::Answered,
            Ask::Crash => outcome == Outcome::Trapped,
            Ask::Sleep | Ask::Spin => false,
        };
        let waited_too_long = matches!(outcome, Outcome::Deadline | Outcome::Exhausted);
        assert!(
            as_asked || waited_too_long,
            "{n} × {ask:?} ended {outcome:?}"
        );
        if outcome == Outcome::Answered {
            answered += n;
        }
    }
    answered
}

/// The pool has every place free: no call holds one, and as many calls at
/// once as it has instances all answer.
async fn assert_pool_full(plugin: &AsyncPlugin<Kv>) {
    let (alive, idle) = plugin.pool_counts().expect("a pooled plugin");
    assert_eq!(alive, idle, "{} calls still hold an instance", alive - idle);
    assert!(alive <= POOL);
    // Tasks 14, 15, 16 and 17 (mod 16) are lookups.
    let counts = wave(plugin, 16 * 1_000 + 14, POOL).await;
    assert_eq!(
        counts.get(&(Ask::Describe, Outcome::Answered)),
        Some(&POOL),
        "{counts:?}"
    );
}

/// Resident memory of this process, in bytes (Linux).
fn resident() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096)
}

/// Runs this test again in a child process through `WASMPLUG_TEST_RUNNER`
/// (`.ci/arm64.sh` sets it to qemu with its translated-code cache capped,
/// which would otherwise count in resident memory), as the suite's
/// resident-memory tests do. Returns whether this is the child.
fn in_child(test: &str) -> bool {
    if std::env::var_os("WASMPLUG_CHILD").is_some() {
        return true;
    }
    // Natively, resident memory is this process's own: no child needed.
    if std::env::var_os("WASMPLUG_TEST_RUNNER").is_none() {
        return true;
    }
    let out = wasmplug_tests::this_test_binary()
        .args(["--exact", test, "--nocapture"])
        .env("WASMPLUG_CHILD", "1")
        // Built by the parent: the child only finds them.
        .env(xtask::GUESTS_BUILT_ENV, "1")
        .output()
        .unwrap();
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "{test} failed in its child process:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

#[test]
fn many_tasks_one_pooled_plugin_nothing_lost() {
    let kv = xtask::build_guests()
        .unwrap_or_else(|message| panic!("the guest plugins could not be built:\n{message}"))
        .wasm("kv");
    if !in_child("many_tasks_one_pooled_plugin_nothing_lost") {
        return;
    }
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    tokio.block_on(async {
        let runtime = Runtime::builder()
            .max_instances(4 * POOL as u32)
            .epoch_interruption(true)
            .build()
            .unwrap();
        let plugin = runtime
            .loader::<Kv>()
            .limits(Limits::new().deadline(DEADLINE))
            .concurrency(Concurrency::Pooled(
                PoolConfig::new(POOL).wait(Duration::from_secs(2)),
            ))
            .open_async(&kv)
            .await
            .unwrap();

        // Warm up: every instance slot used, allocator arenas grown.
        let mut next = 0;
        for _ in 0..2 {
            exact_wave(&plugin, next).await;
            next += 64;
            crowded_wave(&plugin, next).await;
            next += 160;
        }
        assert_pool_full(&plugin).await;
        let start = resident();

        let mut answered = 0;
        for _ in 0..3 {
            exact_wave(&plugin, next).await;
            next += 64;
            answered += crowded_wave(&plugin, next).await;
            next += 160;
        }
        assert!(answered > 0, "no crowded call answered");
        assert_pool_full(&plugin).await;

        if let (Some(start), Some(end)) = (start, resident()) {
            let grown = end.saturating_sub(start);
            eprintln!(
                "resident memory: {:.1} MiB → {:.1} MiB",
                start as f64 / 1048576.0,
                end as f64 / 1048576.0
            );
            assert!(
                grown < 8 << 20,
                "resident memory grew by {:.1} MiB over {next} calls",
                grown as f64 / 1048576.0
            );
        }
    });
}
