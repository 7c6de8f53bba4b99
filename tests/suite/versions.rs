//! Versions side by side: `name@requirement` resolution in a directory (the
//! seed article's demo5, an upgrade from 1.1 to 1.2 through a soname
//! symlink, here without symlinks and without touching the host), and
//! "same name, different content", which makes Go's `plugin.Open` panic.
//!
//! Also hot reload ([`Reloadable`]), which Go plugins cannot do at all.
//!
//! The `versioned` fixture is one source released as 1.1.0, 1.2.0 and
//! 2.0.0; each release's `add` counts from its own start (0, 1000, 2000).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;

use wasmplug::{Error, OnConflict, Plugin, Reloadable, Runtime};

use crate::custom_contract::Counter;
use crate::errors::with_custom_section;
use crate::faults::{in_child_process, rss};
use crate::support::{Record, capture_logs, capture_logs_into, count, runtime, wasm};

fn release(version: &str) -> PathBuf {
    match xtask::build_guests() {
        Ok(guests) => guests.versioned(version),
        Err(message) => panic!("the guest plugins could not be built:\n{message}"),
    }
}

/// Copies release `version` into `dir` as `file`.
fn install(dir: &Path, version: &str, file: &str) {
    std::fs::copy(release(version), dir.join(file)).expect("copy a release");
}

fn add(plugin: &Plugin<Counter>, n: u32) -> u64 {
    plugin
        .call(|c, s| c.acme_counter_counter().call_add(s, n))
        .expect("add")
}

fn greet(plugin: &Plugin<Counter>) -> String {
    plugin
        .call(|c, s| c.acme_counter_counter().call_greet(s))
        .expect("greet")
}

fn open(runtime: &Runtime, dir: &Path, spec: &str) -> Plugin<Counter> {
    runtime
        .open_in::<Counter>(dir, spec)
        .unwrap_or_else(|e| panic!("{spec}: {e}"))
}

#[test]
fn name_at_major_opens_the_newest_compatible_release_and_upgrades_without_touching_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let runtime = runtime();
    install(dir, "1.1.0", "versioned-1.1.0.wasm");
    // File names do not decide: this one claims 9.9.9 and holds 1.1.0.
    install(dir, "1.1.0", "versioned-9.9.9.wasm");
    // Not plugins for this contract: skipped.
    std::fs::write(dir.join("notes.wasm"), b"not wasm").unwrap();
    std::fs::copy(wasm("demo1"), dir.join("demo1.wasm")).unwrap();

    let versions = |runtime: &Runtime| -> Vec<String> {
        let found = runtime.scan::<Counter>(dir).unwrap();
        found
            .iter()
            .map(|a| format!("{}@{}", a.name, a.version))
            .collect()
    };
    assert_eq!(versions(&runtime), ["versioned@1.1.0", "versioned@1.1.0"]);
    let old = open(&runtime, dir, "versioned@1");
    assert_eq!(old.metadata().version.to_string(), "1.1.0");
    assert_eq!(add(&old, 1), 1);

    // The upgrade: a new file in the directory, and the next open.
    install(dir, "1.2.0", "versioned-1.2.0.wasm");
    install(dir, "2.0.0", "versioned-2.0.0.wasm");
    assert_eq!(
        versions(&runtime),
        [
            "versioned@2.0.0",
            "versioned@1.2.0",
            "versioned@1.1.0",
            "versioned@1.1.0"
        ]
    );
    let new = open(&runtime, dir, "versioned@1");
    assert_eq!(new.metadata().version.to_string(), "1.2.0");
    assert!(greet(&new).starts_with("versioned 1.2.0 says: hello from the host"));

    // Side by side: the old release keeps serving, with its own state.
    assert_eq!(add(&new, 1), 1001);
    assert_eq!(add(&old, 1), 2);
    let major2 = open(&runtime, dir, "versioned@2");
    assert_eq!(add(&major2, 1), 2001);
    assert_eq!(runtime.live_plugins(), 3);

    // An exact version is the live one: instantiate-once, as ever.
    let again = open(&runtime, dir, "versioned@=1.1.0");
    assert!(Plugin::ptr_eq(&again, &old));
    assert_eq!(add(&again, 1), 3);
    assert!(Plugin::ptr_eq(&open(&runtime, dir, "versioned@~1.2"), &new));
    assert!(Plugin::ptr_eq(&open(&runtime, dir, "versioned"), &major2));

    drop((old, again));
    assert_eq!(runtime.live_plugins(), 2);
}

#[test]
fn no_match_and_bad_specs_are_typed_errors_that_say_what_is_there() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime();
    match runtime.open_in::<Counter>(dir.path(), "versioned@1") {
        Err(Error::NotFound { available, .. }) => assert!(available.is_empty()),
        other => panic!("expected NotFound, got {other:?}"),
    }
    install(dir.path(), "1.1.0", "a.wasm");
    install(dir.path(), "2.0.0", "b.wasm");
    let err = runtime
        .open_in::<Counter>(dir.path(), "versioned@3")
        .unwrap_err();
    match &err {
        Error::NotFound {
            spec, available, ..
        } => {
            assert_eq!(spec, "versioned@^3");
            assert_eq!(available.len(), 2);
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("no plugin versioned@^3 in")
            && message.contains("versioned@1.1.0 (a.wasm)")
            && message.contains("versioned@2.0.0 (b.wasm)"),
        "{message}"
    );
    assert!(matches!(
        runtime.open_in::<Counter>(dir.path(), "other@1"),
        Err(Error::NotFound { .. })
    ));
    for spec in ["versioned@one", "@1", ""] {
        match runtime.open_in::<Counter>(dir.path(), spec) {
            Err(Error::Spec { spec: s, .. }) => assert_eq!(s, spec),
            other => panic!("{spec:?}: expected Spec, got {other:?}"),
        }
    }
    match runtime.open_in::<Counter>(dir.path().join("missing"), "versioned") {
        Err(Error::Io { .. }) => {}
        other => panic!("expected Io, got {other:?}"),
    }
}

#[test]
fn same_name_and_version_with_other_content_is_refused_or_loaded_alongside_by_choice() {
    let runtime = runtime();
    let original = std::fs::read(release("1.1.0")).unwrap();
    let rebuilt = with_custom_section(original.clone());
    let loaded = runtime
        .loader::<Counter>()
        .open_bytes("original", &original)
        .unwrap();
    assert_eq!(add(&loaded, 5), 5);

    // Go: "plugin already loaded" panics the host. Here, by default, a
    // typed refusal, and the loaded plugin keeps serving.
    match runtime.loader::<Counter>().open_bytes("rebuilt", &rebuilt) {
        Err(Error::Conflict(conflict)) => {
            assert_eq!(conflict.name, "versioned");
            assert_eq!(conflict.loaded, loaded.digest());
        }
        other => panic!("expected Conflict, got {other:?}"),
    }
    assert_eq!(add(&loaded, 1), 6);

    // Or, by the embedder's choice, the new content loads as a plugin of
    // its own: same name and version, another digest, its own state.
    let alongside = runtime
        .loader::<Counter>()
        .on_conflict(OnConflict::LoadAlongside)
        .open_bytes("rebuilt", &rebuilt)
        .unwrap();
    assert_eq!(alongside.metadata(), loaded.metadata());
    assert_ne!(alongside.digest(), loaded.digest());
    assert_eq!(add(&alongside, 1), 1);
    assert_eq!(add(&loaded, 1), 7);
    assert_eq!(runtime.live_plugins(), 2);
}

#[test]
fn hot_reload_lets_calls_in_flight_finish_on_the_old_plugin_whose_shutdown_runs_once_drained() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let runtime = runtime();
    install(dir, "1.1.0", "versioned-1.1.0.wasm");
    let (slot, logs) = capture_logs(|| Reloadable::new(open(&runtime, dir, "versioned@1")));
    assert_eq!(count(&logs, "versioned@1.1.0", "init"), 1);
    assert_eq!(
        slot.call(|c, s| c.acme_counter_counter().call_add(s, 1))
            .unwrap(),
        1
    );

    // 1.2 arrives. The reload happens while a call is in flight on 1.1:
    // that call goes on on 1.1, new calls go to 1.2, and 1.1 shuts down
    // when the call ends.
    install(dir, "1.2.0", "versioned-1.2.0.wasm");
    let (in_flight, logs) = capture_logs(|| {
        slot.call(|c, s| {
            let counter = c.acme_counter_counter();
            let before = counter.call_add(&mut *s, 1)?;
            let old = slot.replace(open(&runtime, dir, "versioned@1"));
            drop(old); // the reloader lets go; this call still holds 1.1
            assert_eq!(
                slot.call(|c, s| c.acme_counter_counter().call_add(s, 1))
                    .unwrap(),
                1001,
                "a new call goes to 1.2"
            );
            let after = counter.call_add(&mut *s, 1)?;
            Ok((before, after))
        })
    });
    assert_eq!(
        in_flight.unwrap(),
        (2, 3),
        "the call in flight stayed on 1.1"
    );
    assert_eq!(count(&logs, "versioned@1.2.0", "init"), 1);
    assert_eq!(count(&logs, "versioned@1.1.0", "shutdown"), 1);
    assert_eq!(runtime.live_plugins(), 1);
    assert_eq!(slot.current().metadata().version.to_string(), "1.2.0");

    // The last handle gone, 1.2 shuts down too, once.
    let ((), logs) = capture_logs(|| drop(slot));
    assert_eq!(count(&logs, "versioned@1.2.0", "shutdown"), 1);
    assert_eq!(runtime.live_plugins(), 0);
}

/// An embedder's reload: the next release is opened, and only if it loads
/// does it replace the current one (which is returned).
fn reload(
    slot: &Reloadable<Counter>,
    next: wasmplug::Result<Plugin<Counter>>,
) -> wasmplug::Result<Plugin<Counter>> {
    next.map(|plugin| slot.replace(plugin))
}

#[test]
fn a_failed_reload_leaves_the_current_plugin_serving() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let runtime = runtime();
    install(dir, "1.1.0", "versioned-1.1.0.wasm");
    let current = open(&runtime, dir, "versioned@1");
    let slot = Reloadable::new(current.clone());
    let add_through = |slot: &Reloadable<Counter>| {
        slot.call(|c, s| c.acme_counter_counter().call_add(s, 1))
            .unwrap()
    };
    assert_eq!(add_through(&slot), 1);

    // Reloads that fail, each further along: a file that is not a valid
    // component; the next release compiled but refused by its `validate`
    // hook (never live); a rebuild under the live plugin's name and
    // version (refused by the registry holding it).
    install(dir, "1.2.0", "versioned-1.2.0.wasm");
    std::fs::write(dir.join("broken.wasm"), b"\0asm\x0d\0\x01\0\x7f\x01\0").unwrap();
    let rebuilt = with_custom_section(std::fs::read(release("1.1.0")).unwrap());
    let (failed, logs) = capture_logs(|| {
        [
            reload(&slot, runtime.open::<Counter>(dir.join("broken.wasm"))),
            reload(
                &slot,
                runtime
                    .loader::<Counter>()
                    .config("start", "2000000")
                    .open(dir.join("versioned-1.2.0.wasm")),
            ),
            reload(
                &slot,
                runtime.loader::<Counter>().open_bytes("rebuilt", &rebuilt),
            ),
        ]
    });
    let [broken, refused, conflict] = failed;
    assert!(matches!(broken, Err(Error::Malformed { .. })), "{broken:?}");
    assert!(
        matches!(
            refused,
            Err(Error::Hook {
                hook: "validate",
                ..
            })
        ),
        "{refused:?}"
    );
    assert!(matches!(conflict, Err(Error::Conflict(_))), "{conflict:?}");
    // None of them ran `init`, and the current plugin was not touched:
    // the same plugin, with its state, never re-initialised or shut down.
    for plugin in ["versioned@1.1.0", "versioned@1.2.0"] {
        assert_eq!(count(&logs, plugin, "init"), 0, "{logs:?}");
        assert_eq!(count(&logs, plugin, "shutdown"), 0, "{logs:?}");
    }
    assert!(Plugin::ptr_eq(&slot.current(), &current));
    assert_eq!(add_through(&slot), 2);
    assert_eq!(runtime.live_plugins(), 1);

    // A reload that works still replaces it.
    let old = reload(
        &slot,
        runtime.open::<Counter>(dir.join("versioned-1.2.0.wasm")),
    )
    .unwrap();
    assert!(Plugin::ptr_eq(&old, &current));
    assert_eq!(add_through(&slot), 1001);
}

/// Where the replacement in the concurrent reload test counts from: far
/// above anything the replaced plugin reaches.
const NEW_START: u64 = 1_000_000;

/// Records `message` in the shared `log`, between the plugins' records.
fn mark(log: &Mutex<Vec<Record>>, message: String) {
    log.lock().unwrap().push(Record {
        plugin: "test".to_owned(),
        message,
    });
}

#[test]
fn concurrent_callers_through_a_reload_each_finish_on_one_plugin_and_the_old_one_shuts_down_once_drained()
 {
    const CALLERS: usize = 4;
    let runtime = runtime();
    let old = runtime.open::<Counter>(release("1.1.0")).unwrap();
    let new = runtime
        .loader::<Counter>()
        .config("start", NEW_START.to_string())
        .open(release("1.2.0"))
        .unwrap();
    let slot = Reloadable::new(old);
    // One log for every thread, in the order things happened: each call
    // records the total it got from inside the call (so before the call
    // lets go of its plugin), and the plugins record `shutdown`.
    let log = Arc::new(Mutex::new(Vec::new()));
    let calls_on_old = AtomicUsize::new(0);

    let (callers, long) = thread::scope(|scope| {
        // Callers: each goes on until it has made three calls on the new
        // plugin.
        let callers: Vec<_> = (0..CALLERS)
            .map(|_| {
                scope.spawn(|| {
                    capture_logs_into(&log, || {
                        let mut totals = Vec::new();
                        while totals.iter().filter(|&&t| t > NEW_START).count() < 3 {
                            let total = slot
                                .call(|c, s| {
                                    let total = c.acme_counter_counter().call_add(s, 1)?;
                                    mark(&log, format!("call {total}"));
                                    Ok(total)
                                })
                                .unwrap();
                            if total < NEW_START {
                                calls_on_old.fetch_add(1, Ordering::SeqCst);
                            }
                            totals.push(total);
                        }
                        totals
                    })
                })
            })
            .collect();
        while calls_on_old.load(Ordering::SeqCst) < 20 {
            thread::yield_now();
        }

        // A long call, in flight on the old plugin while it is replaced.
        let (in_flight_tx, in_flight) = mpsc::channel();
        let (replaced_tx, replaced) = mpsc::channel();
        let (log, slot) = (&log, &slot);
        let long = scope.spawn(move || {
            capture_logs_into(log, || {
                slot.call(|c, s| {
                    let counter = c.acme_counter_counter();
                    let before = counter.call_add(&mut *s, 1)?;
                    mark(log, format!("call {before}"));
                    in_flight_tx.send(()).unwrap();
                    replaced.recv().unwrap();
                    let after = counter.call_add(&mut *s, 1)?;
                    mark(log, format!("call {after}"));
                    Ok((before, after))
                })
                .unwrap()
            })
        });
        in_flight.recv().unwrap();
        capture_logs_into(log, || {
            let old = slot.replace(new);
            mark(log, "replaced".to_owned());
            drop(old);
        });
        replaced_tx.send(()).unwrap();
        let callers: Vec<Vec<u64>> = callers.into_iter().map(|h| h.join().unwrap()).collect();
        (callers, long.join().unwrap())
    });

    // The long call ran on the old plugin from start to end, alone.
    let (before, after) = long;
    assert!(after < NEW_START, "the call in flight stayed on 1.1");
    assert_eq!(after, before + 1);
    // Every call ran on exactly one of the two, once: the old plugin's
    // totals are 1, 2, 3, …, the new one's NEW_START + 1, + 2, …; and a
    // caller that reached the new plugin never went back.
    let mut on_old = vec![before, after];
    let mut on_new: Vec<u64> = Vec::new();
    for totals in &callers {
        let first_new = totals.iter().position(|&t| t > NEW_START).unwrap();
        assert!(
            totals[first_new..].iter().all(|&t| t > NEW_START),
            "{totals:?}"
        );
        on_old.extend(&totals[..first_new]);
        on_new.extend(&totals[first_new..]);
    }
    on_old.sort_unstable();
    on_new.sort_unstable();
    assert_eq!(on_old, (1..=on_old.len() as u64).collect::<Vec<_>>());
    assert_eq!(
        on_new,
        (NEW_START + 1..=NEW_START + on_new.len() as u64).collect::<Vec<_>>()
    );
    assert!(on_new.len() >= 3 * CALLERS);

    // The old plugin shut down once, after the replace and after the last
    // call on it; the new one serves on.
    let log = log.lock().unwrap().clone();
    let shutdowns: Vec<usize> = (0..log.len())
        .filter(|&i| log[i] == record("versioned@1.1.0", "shutdown"))
        .collect();
    assert_eq!(shutdowns.len(), 1, "{log:?}");
    let position = |message: &str| log.iter().position(|r| r == &record("test", message));
    assert!(shutdowns[0] > position("replaced").unwrap());
    let last_on_old = position(&format!("call {}", on_old.last().unwrap())).unwrap();
    assert!(shutdowns[0] > last_on_old, "{log:?}");
    assert_eq!(count(&log, "versioned@1.2.0", "shutdown"), 0);
    assert_eq!(count(&log, "versioned@1.1.0", "init"), 0);
    assert_eq!(count(&log, "versioned@1.2.0", "init"), 0);
    assert_eq!(runtime.live_plugins(), 1);
    assert_eq!(slot.current().metadata().version.to_string(), "1.2.0");
}

fn record(plugin: &str, message: &str) -> Record {
    Record {
        plugin: plugin.to_owned(),
        message: message.to_owned(),
    }
}

#[test]
fn memory_returns_after_1000_reloads() {
    if in_child_process("versions::memory_returns_after_1000_reloads") {
        return;
    }
    let runtime = runtime();
    let releases = [release("1.1.0"), release("1.2.0")];
    let open = |i: usize| runtime.open::<Counter>(&releases[i % 2]).unwrap();
    let slot = Reloadable::new(open(0));
    let cycle = |i: usize| {
        // Each replaced plugin is the last handle to its release: dropping
        // it unloads it (shutdown, instance and memory freed).
        drop(slot.replace(open(i)));
        let total = slot
            .call(|c, s| c.acme_counter_counter().call_add(s, 1))
            .unwrap();
        assert_eq!(total, if i.is_multiple_of(2) { 1 } else { 1001 });
        assert_eq!(runtime.live_plugins(), 1);
    };
    // Warm up: pool slots, allocator arenas, the precompiled cache.
    (1..=20).for_each(cycle);
    let before = rss();
    (1..=1000).for_each(cycle);
    let after = rss();
    eprintln!("1,000 reloads: {} KiB -> {} KiB", before >> 10, after >> 10);
    assert!(
        after.saturating_sub(before) < 8 << 20,
        "resident memory grew by {} KiB over 1,000 reloads",
        after.saturating_sub(before) >> 10
    );
}
