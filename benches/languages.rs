//! The same gateway filter in Rust (component and native library), Go and
//! Python, measured side by side for the report's per-language rows.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Instant;

use wasmplug::Runtime;
use wasmplug_contracts::{GatewayFilter, GatewayFilterApi, GatewayFilterNative};
use wasmplug_native::NativePlugin;

use crate::{FILTER_CONFIG, gateway_request};

/// The same gateway filter in Rust (component and native library), Go and
/// Python: size, compile, cached load, new instance, request. Timed here
/// rather than by criterion (compiling the Python component takes
/// seconds); written to `languages.json` for the report
/// (`xtask::languages`). Under `cargo test`, each step runs once and the
/// uncached compile is skipped.
pub fn measure(native_filter: &NativePlugin<GatewayFilterNative>, guests: &xtask::Guests) {
    use xtask::languages::{Row, Timing};

    let bench_mode = std::env::args().any(|a| a == "--bench");
    let req = gateway_request();
    let (key, value) = FILTER_CONFIG;
    let expected = native_filter.on_request(&req).expect("native filter");
    let size = |path: PathBuf| std::fs::metadata(path).expect("built").len();
    let elapsed_ns = |start: Instant| start.elapsed().as_secs_f64() * 1e9;
    // Per-call time over batches of `batch` calls, `samples` times.
    let per_call = |samples: usize, batch: u32, call: &dyn Fn()| {
        Timing::of(
            (0..samples)
                .map(|_| {
                    let start = Instant::now();
                    for _ in 0..batch {
                        call();
                    }
                    elapsed_ns(start) / f64::from(batch)
                })
                .collect(),
        )
    };
    let runs = |bench: usize| if bench_mode { bench } else { 1 };

    let mut rows = vec![Row {
        language: "Rust (native library)".into(),
        source: "guests/auth-filter".into(),
        size_bytes: size(guests.native("auth-filter")),
        compile: None,
        cached_load: None,
        new_instance: None,
        snapshot_instance: None,
        request: per_call(runs(30), 10_000, &|| {
            black_box(native_filter.on_request(black_box(&req)).unwrap());
        }),
    }];

    let cache = tempfile::tempdir().expect("temp dir");
    let uncached = Runtime::builder().cache(false).build().expect("runtime");
    let cached = Runtime::builder()
        .cache_dir(cache.path())
        .build()
        .expect("runtime");
    // (row, guest, source, compiles, cached loads, instances, request batch)
    let builds = [
        (
            "Rust (component)",
            "auth-filter",
            "guests/auth-filter",
            10,
            20,
            200,
            1000,
        ),
        (
            "Go (component)",
            "go-auth-filter",
            "guests/go/auth-filter",
            5,
            10,
            50,
            1000,
        ),
        (
            "Python (component)",
            "py-auth-filter",
            "guests/python/auth-filter",
            3,
            5,
            20,
            100,
        ),
    ];
    for (language, guest, source, compiles, loads, instances, batch) in builds {
        let path = guests.wasm(guest);
        let wasm = std::fs::read(&path).expect("component");
        let loader = || cached.loader::<GatewayFilter>();
        let compile = Timing::of(
            (0..if bench_mode { compiles } else { 0 })
                .map(|_| {
                    let start = Instant::now();
                    let pre = uncached
                        .loader::<GatewayFilter>()
                        .compile(guest, black_box(&wasm))
                        .expect("compiles");
                    let t = elapsed_ns(start);
                    drop(pre);
                    t
                })
                .collect(),
        );
        drop(loader().compile(guest, &wasm).expect("fills the cache"));
        let cached_load = Timing::of(
            (0..runs(loads))
                .map(|_| {
                    let start = Instant::now();
                    let pre = loader().compile(guest, black_box(&wasm)).expect("loads");
                    let t = elapsed_ns(start);
                    drop(pre);
                    t
                })
                .collect(),
        );
        let filter = loader()
            .config(key, value)
            .open_bytes(guest, &wasm)
            .expect("opens");
        assert_eq!(filter.on_request(&req).unwrap(), expected, "{language}");
        let pre = filter.pre();
        let new_instance = Timing::of(
            (0..runs(instances))
                .map(|_| {
                    let start = Instant::now();
                    let instance = pre.instantiate().expect("instantiates");
                    let t = elapsed_ns(start);
                    drop(instance);
                    t
                })
                .collect(),
        );
        // Taken once (`init` runs: ~10 s for Python), so only when
        // measuring, not in the test suite's single run.
        let snapshot = bench_mode.then(|| pre.snapshot().expect("snapshots"));
        let snapshot_instance = snapshot.and_then(|snapshot| {
            Timing::of(
                (0..runs(instances))
                    .map(|_| {
                        let start = Instant::now();
                        let instance = snapshot.instantiate().expect("instantiates");
                        let t = elapsed_ns(start);
                        drop(instance);
                        t
                    })
                    .collect(),
            )
        });
        let request = per_call(runs(30), batch, &|| {
            black_box(filter.on_request(black_box(&req)).unwrap());
        });
        rows.push(Row {
            language: language.into(),
            source: source.into(),
            size_bytes: size(path),
            compile,
            cached_load,
            new_instance,
            snapshot_instance,
            request,
        });
    }
    println!("{}", xtask::languages::text(&rows));
    if let Some(dir) = std::env::var_os("CRITERION_HOME") {
        xtask::languages::write(dir.as_ref(), &rows).expect("writes languages.json");
    }
}
