//! Loading never blocks other loads, and every path is safe to open.

#![allow(unsafe_code, reason = "opening a native library is unsafe by nature")]

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::time::Duration;

use wasmplug::{Error, Plugin, Runtime};
use wasmplug_contracts::Demo;
use wasmplug_contracts::DemoNative;
use wasmplug_native::{NativeError, NativeLoader, NativePlugin};

use crate::custom_contract::{Counter, on_greeting};
use crate::support::{native, runtime, wasm};

#[test]
fn a_held_back_init_does_not_block_other_opens() {
    let rt = runtime();
    let (entered, is_entered) = mpsc::channel::<()>();
    let (release, held) = mpsc::channel::<()>();
    let held = Arc::new(std::sync::Mutex::new(held));
    let slow = std::thread::spawn({
        let rt = rt.clone();
        move || {
            on_greeting(move || {
                entered.send(()).unwrap();
                held.lock().unwrap().recv().unwrap();
            });
            rt.loader::<Counter>()
                .config("greet", "in init")
                .open(wasm("counter"))
        }
    });
    // The counter's `init` is now inside the host import, held.
    is_entered
        .recv_timeout(Duration::from_secs(60))
        .expect("the counter's init called the host");
    // Another plugin opens to completion meanwhile, in this thread.
    let demo = rt.open::<Demo>(wasm("demo1")).unwrap();
    demo.call(|d, s| d.wasmplug_demo_api().call_set_v(s, 3))
        .unwrap();
    assert!(!slow.is_finished(), "the held init finished early");
    assert_eq!(rt.live_plugins(), 1);
    release.send(()).unwrap();
    let counter = slow.join().unwrap().unwrap();
    assert_eq!(
        counter
            .call(|c, s| c.acme_counter_counter().call_total(s))
            .unwrap(),
        0
    );
    assert_eq!(rt.live_plugins(), 2);
}

#[test]
fn one_plugin_opened_from_eight_threads_compiles_and_inits_once() {
    let cache = tempfile::tempdir().unwrap();
    let rt = Runtime::builder()
        .max_instances(16)
        .cache_dir(cache.path())
        .build()
        .unwrap();
    let inits = Arc::new(AtomicUsize::new(0));
    let barrier = Arc::new(Barrier::new(8));
    let plugins: Vec<Plugin<Counter>> = (0..8)
        .map(|_| {
            let (rt, inits, barrier) = (rt.clone(), Arc::clone(&inits), Arc::clone(&barrier));
            std::thread::spawn(move || {
                // Counts the `init`s (each calls the host once), slowed so
                // the other threads arrive while it runs.
                on_greeting(move || {
                    inits.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(50));
                });
                barrier.wait();
                rt.loader::<Counter>()
                    .config("greet", "in init")
                    .open(wasm("counter"))
                    .unwrap()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().unwrap())
        .collect();
    assert!(plugins.iter().all(|p| Plugin::ptr_eq(p, &plugins[0])));
    assert_eq!(inits.load(Ordering::SeqCst), 1, "init ran once");
    let stats = rt.cache_stats().unwrap();
    assert_eq!(stats.hits + stats.misses, 1, "compiled once: {stats:?}");
    assert_eq!(rt.live_plugins(), 1);
}

/// Runs `f` on a thread of its own and fails if it takes a minute: a path
/// that hangs the loader must fail the test, not hang the suite.
fn promptly<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(f()).unwrap());
    rx.recv_timeout(Duration::from_secs(60))
        .expect("opening the path returned promptly")
}

fn mkfifo(path: &Path) {
    let status = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
}

#[test]
fn paths_that_are_not_regular_files_are_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("plugin.wasm");
    mkfifo(&fifo);
    let rt = runtime();
    for (path, kind) in [
        (fifo.clone(), "FIFO"),
        (dir.path().to_owned(), "directory"),
        ("/dev/zero".into(), "character device"),
    ] {
        let err = promptly({
            let (rt, path) = (rt.clone(), path.clone());
            move || rt.open::<Demo>(&path).err().unwrap()
        });
        match &err {
            Error::NotAFile { path: p, kind: k } => {
                assert_eq!((p, *k), (&path, kind));
            }
            other => panic!("{}: expected NotAFile, got {other:?}", path.display()),
        }
        assert_eq!(
            err.to_string(),
            format!("{} is a {kind}, not a plugin file", path.display())
        );
    }
    // A directory scan skips the FIFO and finds the plugin beside it.
    std::fs::copy(wasm("demo1"), dir.path().join("demo1.wasm")).unwrap();
    let found = promptly({
        let (rt, dir) = (rt.clone(), dir.path().to_owned());
        move || rt.scan::<Demo>(&dir).unwrap()
    });
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].name, "demo1");

    // A manifest that is a FIFO is refused the same way, naming it.
    let plugin = dir.path().join("demo1.wasm");
    mkfifo(&dir.path().join("demo1.toml"));
    let err = promptly(move || rt.open::<Demo>(&plugin).err().unwrap());
    assert!(
        matches!(&err, Error::NotAFile { path, kind: "FIFO" } if path.ends_with("demo1.toml")),
        "{err:?}"
    );

    // Native libraries too.
    for path in [fifo, dir.path().to_owned()] {
        let err = promptly(move || {
            // SAFETY: nothing is loaded: the path is refused first.
            unsafe { NativePlugin::<DemoNative>::open(&path) }
                .err()
                .unwrap()
        });
        assert!(matches!(err, NativeError::NotAFile { .. }), "{err:?}");
    }
}

#[test]
fn files_over_the_size_cap_are_refused_unread() {
    let size = std::fs::metadata(wasm("demo1")).unwrap().len();
    let rt = Runtime::builder()
        .max_instances(4)
        .max_plugin_size(size - 1)
        .build()
        .unwrap();
    let err = rt.open::<Demo>(wasm("demo1")).err().unwrap();
    match err {
        Error::TooLarge { size: s, max, .. } => assert_eq!((s, max), (size, size - 1)),
        other => panic!("expected TooLarge, got {other:?}"),
    }
    // At the cap exactly, it loads.
    let rt = Runtime::builder()
        .max_instances(4)
        .max_plugin_size(size)
        .build()
        .unwrap();
    rt.open::<Demo>(wasm("demo1")).unwrap();

    let library = native("demo1");
    let len = std::fs::metadata(&library).unwrap().len();
    // SAFETY: nothing is loaded: the file is refused first.
    let err = unsafe {
        NativeLoader::new()
            .max_size(len - 1)
            .open::<DemoNative>(&library)
    }
    .err()
    .unwrap();
    assert!(
        matches!(err, NativeError::TooLarge { size, max, .. } if size == len && max == len - 1),
        "{err:?}"
    );
}
