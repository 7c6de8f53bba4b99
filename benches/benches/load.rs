//! What loading costs: compiling a plugin, loading it from the precompiled
//! cache, and making a fresh instance from the pre-instance. Creation only;
//! calls are timed elsewhere.
//!
//! `cargo bench -p wasmplug-benches --bench load`

use std::hint::black_box;

use criterion::{Criterion, criterion_main};
use wasmplug::Runtime;
use wasmplug::contracts::Demo;

fn bench(c: &mut Criterion) {
    let guests = xtask::build_guests().expect("guests build");
    let bytes = std::fs::read(guests.wasm("demo1")).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let uncached = Runtime::builder().cache(false).build().unwrap();
    let cached = Runtime::builder().cache_dir(cache.path()).build().unwrap();
    // Fill the cache.
    cached.loader::<Demo>().compile("demo1", &bytes).unwrap();

    let mut group = c.benchmark_group("load demo1");
    group.bench_function("compile (no cache)", |b| {
        b.iter(|| {
            uncached
                .loader::<Demo>()
                .compile("demo1", black_box(&bytes))
                .unwrap()
        })
    });
    group.bench_function("from the cache", |b| {
        b.iter(|| {
            cached
                .loader::<Demo>()
                .compile("demo1", black_box(&bytes))
                .unwrap()
        })
    });
    group.finish();

    let pre = cached.loader::<Demo>().compile("demo1", &bytes).unwrap();
    c.bench_function("instantiate demo1 (fresh store, init)", |b| {
        b.iter(|| pre.instantiate().unwrap())
    });
}

#[allow(missing_docs, reason = "criterion_group! generates an undocumented fn")]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
use group::benches;
criterion_main!(benches);
