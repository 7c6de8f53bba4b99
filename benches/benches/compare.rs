//! The comparison: the same plugins as Wasm components (through wasmplug)
//! and as native libraries (through the bridge), next to the baselines —
//! raw wasmtime on the same component and engine, a direct `extern "C"`
//! call, and the plugin's logic called in-process.
//!
//! Creation is timed apart from calls. Group and function names are the
//! ids in `xtask::bench_id`, by which the report (`xtask::report`) finds
//! the results.
//!
//! `cargo run --release -p xtask` runs this and writes the report;
//! `cargo bench -p wasmplug-benches --bench compare` runs it alone.

#![allow(unsafe_code, reason = "opening native plugins is unsafe by nature")]

use std::hint::black_box;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, SamplingMode, Throughput, criterion_main};
use wasmplug::{Concurrency, OnDifferentSettings, Plugin, PluginInstance, PoolConfig, Runtime};
use wasmplug_benches::concurrency;
use wasmplug_benches::raw::{BenchPre, GatewayPre};
use wasmplug_benches::{
    Bench, BenchApi, BenchAsync, BenchNative, Bumper, FILTER_CONFIG, Memory, Plugins,
    gateway_request, ops,
};
use wasmplug_contracts::gateway::wasmplug::gateway::types::Verdict;
use wasmplug_contracts::{GatewayFilter, GatewayFilterApi, GatewayFilterNative, InitProbe};
use wasmplug_native::{NativeLoader, NativePlugin};
use xtask::bench_id as id;

/// The floor: the plugin's `add-one` as a plain C-ABI function of this
/// binary, called through a function pointer.
extern "C" fn direct_add_one(x: u64) -> u64 {
    ops::add_one(x)
}

/// How many live Wasm instances the memory measurement holds at once.
const MEMORY_INSTANCES: usize = 1000;

struct Setup {
    plugins: Plugins,
    raw_bench: BenchPre,
    raw_gateway: GatewayPre,
    filter_config: Vec<(String, String)>,
    /// The auth filter served from a pool of two instances.
    pooled_filter: Plugin<GatewayFilter>,
}

impl Setup {
    fn new() -> Self {
        let guests = xtask::build_guests().expect("guests build");
        let runtime = Runtime::new().expect("runtime");
        let plugins = Plugins::open(&runtime, guests);
        let engine = runtime.engine();
        let read = |name: &str| std::fs::read(guests.wasm(name)).expect("component");
        let (key, value) = FILTER_CONFIG;
        let pooled_filter = runtime
            .loader::<GatewayFilter>()
            .config(key, value)
            .concurrency(Concurrency::Pooled(PoolConfig::new(2)))
            // The shared one is live too: this is a plugin of its own.
            .on_different_settings(OnDifferentSettings::LoadSeparately)
            .open(guests.wasm("auth-filter"))
            .expect("the pooled auth filter loads");
        Setup {
            pooled_filter,
            raw_bench: BenchPre::new(engine, &read("bench")).expect("raw bench links"),
            raw_gateway: GatewayPre::new(engine, &read("auth-filter")).expect("raw filter links"),
            plugins,
            filter_config: vec![(key.into(), value.into())],
        }
    }
}

/// Loading the bench plugin: compiling its component, loading it from the precompiled cache,
/// opening it (cache, instantiate, `init`), and opening a native library.
fn load(c: &mut Criterion, guests: &xtask::Guests) {
    let wasm = std::fs::read(guests.wasm("bench")).expect("component");
    let cache = tempfile::tempdir().expect("temp dir");
    let uncached = Runtime::builder().cache(false).build().expect("runtime");
    let cached = Runtime::builder()
        .cache_dir(cache.path())
        .build()
        .expect("runtime");
    cached
        .loader::<Bench>()
        .compile("bench", &wasm)
        .expect("fills the cache");

    let mut group = c.benchmark_group(id::LOAD);
    // Compiling takes tens of milliseconds: few, equal samples.
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    // What is loaded is dropped outside the timing, fifty at a time.
    let batch = BatchSize::NumIterations(50);
    group.bench_function(id::WASM_COMPILE, |b| {
        b.iter_batched(
            || (),
            |()| {
                uncached
                    .loader::<Bench>()
                    .compile("bench", black_box(&wasm))
            },
            batch,
        )
    });
    group.bench_function(id::WASM_FROM_CACHE, |b| {
        b.iter_batched(
            || (),
            |()| cached.loader::<Bench>().compile("bench", black_box(&wasm)),
            batch,
        )
    });
    // One at a time: while an opened plugin is live, opening it again
    // returns it (instantiate-once) instead of loading it.
    group.bench_function(id::WASM_OPEN_FROM_CACHE, |b| {
        b.iter_batched(
            || (),
            |()| {
                cached
                    .loader::<Bench>()
                    .open_bytes("bench", black_box(&wasm))
            },
            BatchSize::PerIteration,
        )
    });

    // A native library is never unloaded: every open maps a new one. Each
    // iteration opens a different file (the library plus a counter, so its
    // digest differs), and the timings are kept few: about 20 libraries.
    group
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_millis(1));
    let library = std::fs::read(guests.native("bench")).expect("library");
    let dir = tempfile::tempdir().expect("temp dir");
    let mut n = 0u64;
    let mut fresh_copy = || -> PathBuf {
        n += 1;
        let path = dir
            .path()
            .join(format!("bench-{n}{}", std::env::consts::DLL_SUFFIX));
        let mut bytes = library.clone();
        bytes.extend_from_slice(&n.to_le_bytes());
        std::fs::write(&path, bytes).expect("writes a copy");
        path
    };
    group.bench_function(id::NATIVE_OPEN, |b| {
        b.iter_batched(
            &mut fresh_copy,
            |path| {
                // SAFETY: a copy of the bench plugin, built from this
                // repository (trailing bytes do not change the code).
                unsafe { NativeLoader::new().open_with::<BenchNative>(path, Box::new(Bumper)) }
                    .expect("opens")
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

/// A fresh instance from the pre-instance: a new store, instantiation and
/// `init`. Instances are dropped outside the timing, a hundred at a time.
fn instantiate(c: &mut Criterion, setup: &Setup) {
    let mut group = c.benchmark_group(id::INSTANTIATE);
    let pre = setup.plugins.wasm.pre();
    group.bench_function(id::RAW_WASMTIME, |b| {
        b.iter_batched(
            || (),
            |()| setup.raw_bench.instantiate().expect("instantiates"),
            BatchSize::NumIterations(100),
        )
    });
    group.bench_function(id::WASMPLUG, |b| {
        b.iter_batched(
            || (),
            |()| pre.instantiate().expect("instantiates"),
            BatchSize::NumIterations(100),
        )
    });
    group.finish();
}

/// Init once, for every instance: a new instance of a plugin whose `init`
/// works about 10 ms (the test fixture `heavy-init`), made from its
/// snapshot after `init` against made and initialised, and what taking the
/// snapshot costs (cache off: `init` once, two compilations). Instances are
/// dropped (their `shutdown` runs) outside the timing.
fn snapshot(c: &mut Criterion, guests: &xtask::Guests) {
    let wasm = std::fs::read(guests.wasm("heavy-init")).expect("component");
    let runtime = Runtime::builder().cache(false).build().expect("runtime");
    let pre = runtime
        .loader::<InitProbe>()
        .compile("heavy-init", &wasm)
        .expect("compiles");
    let snapshot = pre.snapshot().expect("snapshots");

    let mut group = c.benchmark_group("snapshot");
    group.bench_function("instantiate from snapshot", |b| {
        b.iter_batched(
            || (),
            |()| snapshot.instantiate().expect("instantiates"),
            BatchSize::NumIterations(100),
        )
    });
    // Each iteration runs `init` (~10 ms) or takes a snapshot: few, equal
    // samples.
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    group.bench_function("instantiate + init", |b| {
        b.iter_batched(
            || (),
            |()| pre.instantiate().expect("instantiates"),
            BatchSize::NumIterations(10),
        )
    });
    group.bench_function("take snapshot", |b| {
        b.iter_batched(
            || (),
            |()| pre.snapshot().expect("snapshots"),
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

/// One call case on every backend: `in_process` is the plugin's logic
/// without a boundary, `run` calls through a backend's trait.
fn calls(c: &mut Criterion, setup: &Setup) {
    let Plugins { wasm, native, .. } = &setup.plugins;
    let mut raw = setup.raw_bench.instantiate().expect("raw instance");
    let string = "x".repeat(1024);
    let bytes: Vec<u8> = (0..64 * 1024).map(|i| i as u8).collect();

    // Every backend computes the same thing before anything is timed.
    let ops_raw = raw.exports.wasmplug_bench_ops();
    let expected = (
        ops::add_one(41),
        ops::echo(string.as_str()),
        ops::sum(&bytes),
        ops::call_host(100, wasmplug_benches::bump),
    );
    for (backend, got) in [
        (
            "native",
            (
                native.add_one(41).unwrap(),
                native.echo(&string).unwrap(),
                native.sum(&bytes).unwrap(),
                native.call_host(100).unwrap(),
            ),
        ),
        (
            "wasm",
            (
                wasm.add_one(41).unwrap(),
                wasm.echo(&string).unwrap(),
                wasm.sum(&bytes).unwrap(),
                wasm.call_host(100).unwrap(),
            ),
        ),
        (
            "raw wasmtime",
            (
                ops_raw.call_add_one(&mut raw.store, 41).unwrap(),
                ops_raw.call_echo(&mut raw.store, &string).unwrap(),
                ops_raw.call_sum(&mut raw.store, &bytes).unwrap(),
                ops_raw.call_call_host(&mut raw.store, 100).unwrap(),
            ),
        ),
    ] {
        assert_eq!(
            got, expected,
            "{backend} disagrees with the in-process logic"
        );
    }

    let mut group = c.benchmark_group(id::SCALAR);
    group.bench_function(id::IN_PROCESS, |b| b.iter(|| ops::add_one(black_box(7))));
    let direct: extern "C" fn(u64) -> u64 = black_box(direct_add_one);
    group.bench_function(id::DIRECT_FN_POINTER, |b| b.iter(|| direct(black_box(7))));
    group.bench_function(id::NATIVE_BRIDGE, |b| {
        b.iter(|| native.add_one(black_box(7)).unwrap())
    });
    group.bench_function(id::RAW_WASMTIME, |b| {
        b.iter(|| ops_raw.call_add_one(&mut raw.store, black_box(7)).unwrap())
    });
    group.bench_function(id::WASMPLUG, |b| {
        b.iter(|| wasm.add_one(black_box(7)).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group(id::STRING_1KB);
    group.throughput(Throughput::Bytes(string.len() as u64));
    group.bench_function(id::IN_PROCESS, |b| {
        b.iter(|| ops::echo(black_box(string.as_str())))
    });
    group.bench_function(id::NATIVE_BRIDGE, |b| {
        b.iter(|| native.echo(black_box(&string)).unwrap())
    });
    group.bench_function(id::RAW_WASMTIME, |b| {
        b.iter(|| {
            ops_raw
                .call_echo(&mut raw.store, black_box(&string))
                .unwrap()
        })
    });
    group.bench_function(id::WASMPLUG, |b| {
        b.iter(|| wasm.echo(black_box(&string)).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group(id::BYTES_64KB);
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function(id::IN_PROCESS, |b| b.iter(|| ops::sum(black_box(&bytes))));
    group.bench_function(id::NATIVE_BRIDGE, |b| {
        b.iter(|| native.sum(black_box(&bytes)).unwrap())
    });
    group.bench_function(id::RAW_WASMTIME, |b| {
        b.iter(|| ops_raw.call_sum(&mut raw.store, black_box(&bytes)).unwrap())
    });
    group.bench_function(id::WASMPLUG, |b| {
        b.iter(|| wasm.sum(black_box(&bytes)).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group(id::HOST_IMPORT_X100);
    group.bench_function(id::IN_PROCESS, |b| {
        b.iter(|| ops::call_host(black_box(100), wasmplug_benches::bump))
    });
    group.bench_function(id::NATIVE_BRIDGE, |b| {
        b.iter(|| native.call_host(black_box(100)).unwrap())
    });
    group.bench_function(id::RAW_WASMTIME, |b| {
        b.iter(|| {
            ops_raw
                .call_call_host(&mut raw.store, black_box(100))
                .unwrap()
        })
    });
    group.bench_function(id::WASMPLUG, |b| {
        b.iter(|| wasm.call_host(black_box(100)).unwrap())
    });
    group.finish();
}

/// The auth filter on a realistic request: 16 headers and a 1 KB body.
fn gateway(c: &mut Criterion, setup: &Setup) {
    let Plugins {
        filter,
        native_filter,
        ..
    } = &setup.plugins;
    let req = gateway_request();
    let mut raw = setup
        .raw_gateway
        .instantiate(&setup.filter_config)
        .expect("raw filter");
    let raw_filter = raw.exports.wasmplug_gateway_filter();

    let verdict = filter.on_request(&req).unwrap();
    assert!(matches!(verdict, Verdict::Rewrite(_)), "{verdict:?}");
    assert_eq!(native_filter.on_request(&req).unwrap(), verdict);
    assert_eq!(
        raw_filter.call_on_request(&mut raw.store, &req).unwrap(),
        verdict
    );

    let mut group = c.benchmark_group(id::GATEWAY_REQUEST);
    group.bench_function(id::NATIVE_BRIDGE, |b| {
        b.iter(|| native_filter.on_request(black_box(&req)).unwrap())
    });
    group.bench_function(id::RAW_WASMTIME, |b| {
        b.iter(|| {
            raw_filter
                .call_on_request(&mut raw.store, black_box(&req))
                .unwrap()
        })
    });
    group.bench_function(id::WASMPLUG, |b| {
        b.iter(|| filter.on_request(black_box(&req)).unwrap())
    });
    group.finish();
}

/// Filters `iters` requests on each of `threads` threads at once; returns
/// the wall time. `filter` runs one request with thread `i`'s state.
fn on_threads(threads: usize, iters: u64, filter: impl Fn(usize) + Sync) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for i in 0..threads {
            let filter = &filter;
            s.spawn(move || (0..iters).for_each(|_| filter(i)));
        }
    });
    start.elapsed()
}

/// Requests per second with one and two threads: one Wasm instance per
/// thread; the native plugin is one per process, shared.
fn throughput(c: &mut Criterion, setup: &Setup) {
    let req = gateway_request();
    let native: &NativePlugin<GatewayFilterNative> = &setup.plugins.native_filter;
    let pre = setup.plugins.filter.pre();
    let instances: Vec<Mutex<PluginInstance<GatewayFilter>>> = (0..2)
        .map(|_| Mutex::new(pre.instantiate().expect("instance")))
        .collect();

    let mut group = c.benchmark_group(id::THROUGHPUT);
    for threads in [1u32, 2] {
        group.throughput(Throughput::Elements(u64::from(threads)));
        group.bench_function(id::throughput_run(id::NATIVE, threads), |b| {
            b.iter_custom(|iters| {
                on_threads(threads as usize, iters, |_| {
                    black_box(native.on_request(&req).unwrap());
                })
            })
        });
        group.bench_function(id::throughput_run(id::WASMPLUG, threads), |b| {
            b.iter_custom(|iters| {
                on_threads(threads as usize, iters, |i| {
                    let mut instance = instances[i].lock().unwrap();
                    let verdict = instance
                        .call(|f, s| f.wasmplug_gateway_filter().call_on_request(s, &req))
                        .unwrap();
                    black_box(verdict);
                })
            })
        });
        // One plugin, every thread calling it: the pool lends each call an
        // instance.
        group.bench_function(id::throughput_run(id::POOLED, threads), |b| {
            b.iter_custom(|iters| {
                on_threads(threads as usize, iters, |_| {
                    let verdict = setup
                        .pooled_filter
                        .call(|f, s| f.wasmplug_gateway_filter().call_on_request(s, &req))
                        .unwrap();
                    black_box(verdict);
                })
            })
        });
    }
    // One pooled plugin on the async path, 64 tokio tasks calling it on
    // two worker threads (a server's shape): an iteration is one request
    // on each task.
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("tokio runtime");
    let guests = xtask::build_guests().expect("guests build");
    let runtime = Runtime::new().expect("runtime");
    let plugin = tokio.block_on(concurrency::open_filter(
        &runtime,
        &guests.wasm("auth-filter"),
        4,
    ));
    group.throughput(Throughput::Elements(u64::from(id::ASYNC_TASKS)));
    group.bench_function(id::POOLED_ASYNC_RUN, |b| {
        b.iter_custom(|iters| concurrency::on_tasks(&tokio, &plugin, id::ASYNC_TASKS, iters))
    });
    group.finish();
}

/// The gateway request through a pooled plugin (checkout, call, give
/// back) against the same call on a private instance.
fn pool(c: &mut Criterion, setup: &Setup) {
    let req = gateway_request();
    let mut private = setup.plugins.filter.pre().instantiate().expect("instance");
    let mut group = c.benchmark_group(id::POOL);
    group.bench_function(id::POOL_CHECKOUT_CALL, |b| {
        b.iter(|| {
            setup
                .pooled_filter
                .call(|f, s| f.wasmplug_gateway_filter().call_on_request(s, &req))
                .unwrap()
        });
    });
    group.bench_function(id::POOL_PRIVATE_CALL, |b| {
        b.iter(|| {
            private
                .call(|f, s| f.wasmplug_gateway_filter().call_on_request(s, &req))
                .unwrap()
        });
    });
    group.finish();
}

/// `add-one` on the async path (awaited on a current-thread tokio
/// runtime) against the same call on the sync path.
fn async_vs_sync(c: &mut Criterion, setup: &Setup) {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("tokio runtime");
    let guests = xtask::build_guests().expect("guests build");
    let runtime = Runtime::new().expect("runtime");
    let plugin = tokio
        .block_on(runtime.open_async::<BenchAsync>(guests.wasm("bench")))
        .expect("the bench plugin opens on the async path");
    let mut group = c.benchmark_group(id::ASYNC);
    // The calls are awaited inside one `block_on`, as a server's are
    // inside its runtime: entering the runtime for every call would be
    // measured too (about a third of the async call's cost).
    group.bench_function(id::ASYNC_SCALAR, |b| {
        b.iter_custom(|iters| {
            tokio.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    let answer = plugin
                        .call_async(|bench, store| {
                            Box::pin(
                                bench
                                    .wasmplug_bench_ops()
                                    .call_add_one(store, black_box(41)),
                            )
                        })
                        .await;
                    black_box(answer.expect("add-one answers"));
                }
                start.elapsed()
            })
        });
    });
    group.bench_function(id::SYNC_SCALAR, |b| {
        b.iter(|| {
            setup.plugins.wasm.call(|bench, store| {
                bench
                    .wasmplug_bench_ops()
                    .call_add_one(store, black_box(41))
            })
        });
    });
    // A gateway request: one instance each (a pool of one), so that only
    // the calling path differs.
    let filter = tokio.block_on(concurrency::open_filter(
        &runtime,
        &guests.wasm("auth-filter"),
        1,
    ));
    let request = std::sync::Arc::new(gateway_request());
    group.bench_function(id::ASYNC_GATEWAY, |b| {
        b.iter_custom(|iters| {
            tokio.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    concurrency::filter_once(&filter, &request).await;
                }
                start.elapsed()
            })
        });
    });
    let req = gateway_request();
    let mut private = setup.plugins.filter.pre().instantiate().expect("instance");
    group.bench_function(id::SYNC_GATEWAY, |b| {
        b.iter(|| {
            private
                .call(|f, s| f.wasmplug_gateway_filter().call_on_request(s, &req))
                .unwrap()
        });
    });
    group.finish();
}

fn benches() {
    let guests = xtask::build_guests().expect("guests build");
    // Memory first, before anything else maps the native bench plugin.
    let memory = Memory::measure(guests, MEMORY_INSTANCES);
    println!("{memory}");
    if let Some(dir) = std::env::var_os("CRITERION_HOME") {
        memory.write(dir.as_ref()).expect("writes memory.json");
    }

    let mut c = Criterion::default().configure_from_args();
    // Before the setup opens the bench plugin: a native library with the
    // same name and version as a live one is refused (`Conflict`).
    load(&mut c, guests);
    let setup = Setup::new();
    instantiate(&mut c, &setup);
    snapshot(&mut c, guests);
    calls(&mut c, &setup);
    gateway(&mut c, &setup);
    throughput(&mut c, &setup);
    pool(&mut c, &setup);
    async_vs_sync(&mut c, &setup);
    wasmplug_benches::languages::measure(&setup.plugins.native_filter, guests);
}

criterion_main!(benches);
