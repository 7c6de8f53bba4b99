//! Pooled plugins: many callers, each call on an instance of its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use wasmplug::{Concurrency, Error, Limit, Limits, Plugin, PoolConfig, Runtime};

use crate::custom_contract::{Counter, on_greeting};
use crate::faults::{Fault, Faults, in_child_process, misbehave, rss};
use crate::support::wasm;

fn pooled_counter(rt: &Runtime, pool: PoolConfig) -> Plugin<Counter> {
    rt.loader::<Counter>()
        .concurrency(Concurrency::Pooled(pool))
        .open(wasm("counter"))
        .unwrap()
}

fn greet(plugin: &Plugin<Counter>) -> wasmplug::Result<String> {
    plugin.call(|c, s| c.acme_counter_counter().call_greet(s))
}

fn rt() -> Runtime {
    Runtime::builder().max_instances(32).build().unwrap()
}

#[test]
fn a_pooled_plugin_runs_calls_at_once_where_a_shared_one_serialises() {
    // Two calls meet inside the plugin (in its host import) only if they
    // run at the same time.
    let meet = |plugin: Plugin<Counter>| {
        let inside = Arc::new(AtomicUsize::new(0));
        let met = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..2)
            .map(|_| {
                let (plugin, inside, met) = (plugin.clone(), Arc::clone(&inside), Arc::clone(&met));
                std::thread::spawn(move || {
                    on_greeting(move || {
                        inside.fetch_add(1, Ordering::SeqCst);
                        // Waits a while for the other call to be inside too.
                        for _ in 0..100 {
                            if inside.load(Ordering::SeqCst) == 2 {
                                met.fetch_add(1, Ordering::SeqCst);
                                break;
                            }
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        // Both see each other before either leaves.
                        std::thread::sleep(Duration::from_millis(20));
                        inside.fetch_sub(1, Ordering::SeqCst);
                    });
                    greet(&plugin).unwrap();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        met.load(Ordering::SeqCst)
    };
    let rt = rt();
    assert_eq!(
        meet(pooled_counter(&rt, PoolConfig::new(2))),
        2,
        "pooled: both calls inside at once"
    );
    let shared = rt.open::<Counter>(wasm("counter")).unwrap();
    assert_eq!(shared.concurrency(), Concurrency::Shared);
    assert_eq!(shared.pool_counts(), None);
    assert_eq!(meet(shared), 0, "shared: one call at a time");
}

#[test]
fn a_caller_waits_for_a_free_instance_then_gets_a_typed_error() {
    let rt = rt();
    let plugin = pooled_counter(&rt, PoolConfig::new(1).wait(Duration::from_millis(50)));
    let (entered, is_entered) = std::sync::mpsc::channel::<()>();
    let (release, held) = std::sync::mpsc::channel::<()>();
    let held = Arc::new(std::sync::Mutex::new(held));
    let busy = std::thread::spawn({
        let plugin = plugin.clone();
        move || {
            on_greeting(move || {
                entered.send(()).unwrap();
                held.lock().unwrap().recv().unwrap();
            });
            greet(&plugin)
        }
    });
    is_entered.recv().unwrap();
    // The one instance is busy for longer than a caller waits.
    let err = plugin
        .call(|c, s| c.acme_counter_counter().call_total(s))
        .unwrap_err();
    match &err {
        Error::PoolExhausted {
            plugin,
            size,
            waited,
        } => {
            assert_eq!((plugin.as_str(), *size), ("counter@0.3.1", 1));
            assert_eq!(*waited, Duration::from_millis(50));
        }
        other => panic!("expected PoolExhausted, got {other:?}"),
    }
    release.send(()).unwrap();
    busy.join().unwrap().unwrap();
    // Free again: the next caller gets it.
    plugin
        .call(|c, s| c.acme_counter_counter().call_total(s))
        .unwrap();
    assert_eq!(plugin.pool_counts(), Some((1, 1)));
}

#[test]
fn a_faulted_pooled_instance_is_discarded_and_replaced() {
    let rt = rt();
    let plugin = rt
        .loader::<Faults>()
        .concurrency(Concurrency::Pooled(PoolConfig::new(2)))
        .open(wasm("misbehave"))
        .unwrap();
    let err = misbehave(&plugin, Fault::Unreachable).unwrap_err();
    assert!(matches!(err, Error::Trap { .. }), "{err:?}");
    assert_eq!(
        plugin.pool_counts(),
        Some((0, 0)),
        "the faulted instance is gone"
    );
    assert_eq!(
        plugin
            .call(|f, s| f.acme_faults_faults().call_ping(s, 1))
            .unwrap(),
        2
    );
    assert_eq!(plugin.pool_counts(), Some((1, 1)));
    // Lookups work on pooled instances too.
    let ping = plugin
        .lookup::<(u32,), (u32,)>("acme:faults/faults@1.0.0#ping")
        .unwrap();
    assert_eq!(ping.call((6,)).unwrap(), (7,));
}

#[test]
fn reconfiguring_a_pool_gives_every_later_call_the_new_settings() {
    let rt = rt();
    let plugin = rt
        .loader::<Counter>()
        .config("start", "5")
        .concurrency(Concurrency::Pooled(PoolConfig::new(3)))
        .open(wasm("counter"))
        .unwrap();
    let total = |p: &Plugin<Counter>| {
        p.call(|c, s| c.acme_counter_counter().call_total(s))
            .unwrap()
    };
    assert_eq!(total(&plugin), 5);
    plugin.reconfigure([("start", "70")]).unwrap();
    assert_eq!(total(&plugin), 70);
    assert_eq!(plugin.pool_counts(), Some((1, 1)));
}

/// Many threads calling one pooled plugin, some calls trapping or running
/// out of time on purpose: every call returns its result or the typed error
/// its fault deserves, the pool ends full, memory ends where it started.
#[test]
fn nothing_is_lost_when_many_callers_share_a_pool() {
    if in_child_process("pool::nothing_is_lost_when_many_callers_share_a_pool") {
        return;
    }
    const THREADS: usize = 8;
    const CALLS: usize = 150;
    const SIZE: usize = 4;
    // Long enough that a ping descheduled on a busy two-core machine does
    // not run out of time (a 20 ms deadline did, once, in CI); the loops
    // that must run out of it are few, so the test stays quick.
    const DEADLINE: Duration = Duration::from_millis(250);
    let rt = Runtime::builder()
        .max_instances(32)
        .epoch_interruption(true)
        .build()
        .unwrap();
    let plugin = rt
        .loader::<Faults>()
        .limits(Limits::new().deadline(DEADLINE))
        .concurrency(Concurrency::Pooled(
            PoolConfig::new(SIZE).wait(Duration::from_secs(30)),
        ))
        .open(wasm("misbehave"))
        .unwrap();
    let run = |round: usize| {
        let counts: Vec<[usize; 3]> = (0..THREADS)
            .map(|t| {
                let plugin = plugin.clone();
                std::thread::spawn(move || {
                    let mut counts = [0usize; 3];
                    for i in 0..CALLS {
                        match (t + i + round) % 10 {
                            0 => {
                                let err = misbehave(&plugin, Fault::Unreachable).unwrap_err();
                                assert!(matches!(err, Error::Trap { .. }), "{err:?}");
                                counts[1] += 1;
                            }
                            5 if i % 9 == 0 => {
                                let err = misbehave(&plugin, Fault::InfiniteLoop).unwrap_err();
                                assert!(
                                    matches!(
                                        err,
                                        Error::LimitExceeded {
                                            limit: Limit::Deadline(d),
                                            ..
                                        } if d == DEADLINE
                                    ),
                                    "{err:?}"
                                );
                                counts[2] += 1;
                            }
                            _ => {
                                let n = u32::try_from(i).unwrap();
                                let got = plugin
                                    .call(|f, s| f.acme_faults_faults().call_ping(s, n))
                                    .unwrap();
                                assert_eq!(got, n + 1);
                                counts[0] += 1;
                            }
                        }
                    }
                    counts
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        let sum = counts
            .iter()
            .fold([0; 3], |a, c| [a[0] + c[0], a[1] + c[1], a[2] + c[2]]);
        assert_eq!(sum.iter().sum::<usize>(), THREADS * CALLS, "{sum:?}");
        assert!(sum[1] > 0 && sum[2] > 0, "faults happened: {sum:?}");
        let (alive, idle) = plugin.pool_counts().unwrap();
        assert_eq!(alive, idle, "every instance is back in the pool");
        assert!(alive <= SIZE);
    };
    run(0);
    let before = rss();
    for round in 1..4 {
        run(round);
    }
    let after = rss();
    assert!(
        after < before + (32 << 20),
        "resident memory grew from {before} to {after} bytes"
    );
}

/// Pooled instances start from one snapshot taken after `init` ran once:
/// three instances serving at once, and `init` (which calls the host)
/// never ran on the threads that made them. Without the snapshot, each
/// new instance runs `init` on the thread that needed it.
#[test]
fn a_pool_starts_every_instance_from_one_init() {
    let run = |from_snapshot: bool| -> (usize, Vec<usize>) {
        // No precompiled cache: a snapshot cached by an earlier run would
        // be loaded, and `init` would not run at all.
        let rt = Runtime::builder()
            .max_instances(32)
            .cache(false)
            .build()
            .unwrap();
        let opener_greetings = Arc::new(AtomicUsize::new(0));
        let plugin = {
            let seen = Arc::clone(&opener_greetings);
            on_greeting(move || {
                seen.fetch_add(1, Ordering::SeqCst);
            });
            let plugin = rt
                .loader::<Counter>()
                .config("greet", "in init")
                .concurrency(Concurrency::Pooled(
                    PoolConfig::new(3).from_snapshot(from_snapshot),
                ))
                .open(wasm("counter"))
                .unwrap();
            on_greeting(|| {});
            plugin
        };
        let inside = Arc::new(AtomicUsize::new(0));
        let per_thread: Vec<usize> = (0..3)
            .map(|_| {
                let (plugin, inside) = (plugin.clone(), Arc::clone(&inside));
                std::thread::spawn(move || {
                    let greetings = Arc::new(AtomicUsize::new(0));
                    let seen = Arc::clone(&greetings);
                    on_greeting(move || {
                        seen.fetch_add(1, Ordering::SeqCst);
                    });
                    // Three calls at once: three instances.
                    plugin
                        .call(|c, s| {
                            inside.fetch_add(1, Ordering::SeqCst);
                            for _ in 0..200 {
                                if inside.load(Ordering::SeqCst) == 3 {
                                    break;
                                }
                                std::thread::sleep(Duration::from_millis(5));
                            }
                            c.acme_counter_counter().call_greet(s)
                        })
                        .unwrap();
                    greetings.load(Ordering::SeqCst)
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect();
        assert_eq!(plugin.pool_counts(), Some((3, 3)));
        (opener_greetings.load(Ordering::SeqCst), per_thread)
    };
    // From the snapshot: `init` ran once, on the opener's thread; each
    // caller's thread saw only its own call's greeting.
    assert_eq!(run(true), (1, vec![1, 1, 1]));
    // Without it: the first instance's `init` on the opener's thread, and
    // one on each thread that needed a new instance.
    let (opener, mut callers) = run(false);
    callers.sort_unstable();
    assert_eq!((opener, callers), (1, vec![1, 2, 2]));
}
