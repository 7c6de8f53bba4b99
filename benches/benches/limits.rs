//! What the runtime's configuration and each limit cost, on the bench
//! plugin through wasmplug: its scalar call (`add-one`: the call path), its
//! 64 KB sum (mostly the guest's own loop: what instrumentation such as
//! epoch checks and fuel metering does to guest code) and a fresh instance
//! (store, instantiation, `init`). A configuration per function, [`DEFAULT`]
//! first; each has a runtime of its own, since a runtime opens a plugin
//! once, with the limits of its first opening.
//!
//! Group and function names are the ids in `xtask::bench_id`; the main job
//! (`cargo run --release -p xtask`) runs this bench after `compare` and
//! reports it as the "Runtime configuration" table.
//! `cargo bench -p wasmplug-benches --bench limits` runs it alone.
//!
//! Concurrency support is measured only with this crate's `concurrency`
//! feature (`cargo bench -p wasmplug-benches --features concurrency --bench
//! limits`): it needs wasmtime's `component-model-async`, which the
//! workspace does not build, so every configuration of that run (the
//! default included) runs on a differently built wasmtime.
//!
//! Not measured here: pooling *without* keeping freed slots resident
//! (`PAGEMAP_SCAN`). wasmplug turns that on whenever the kernel has it, and
//! no public setting turns it off.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_main};
use wasmplug::{Limits, Plugin, Runtime, RuntimeBuilder};
use wasmplug_benches::{Bench, BenchApi, ops};
use xtask::bench_id::{
    CONFIG_INSTANTIATE, CONFIG_SCALAR, CONFIG_SUM, DEADLINE, DEFAULT, EPOCHS, FUEL, FUEL_LIMIT,
    MEMORY_LIMIT, NO_POOLING, PRIVATE_INSTANCE,
};

/// Ample for one 64 KB sum (a few instructions a byte), so the limit is
/// checked but never hit.
const FUEL_PER_CALL: u64 = 100_000_000;

/// One configuration: a runtime built for it and the bench plugin opened
/// on it with its limits.
struct Configured {
    id: &'static str,
    plugin: Plugin<Bench>,
}

impl Configured {
    fn new(id: &'static str, builder: RuntimeBuilder, limits: Limits) -> Self {
        let guests = xtask::build_guests().expect("guests build");
        let runtime = builder.build().expect("runtime");
        let plugin = runtime
            .loader::<Bench>()
            .limits(limits)
            .open(guests.wasm("bench"))
            .expect("the bench plugin loads");
        Configured { id, plugin }
    }
}

/// Every configuration but [`PRIVATE_INSTANCE`] (which is [`DEFAULT`]'s
/// plugin called on an instance of its own), [`DEFAULT`] first.
fn configurations() -> Vec<Configured> {
    let default = Runtime::builder;
    vec![
        Configured::new(DEFAULT, default(), Limits::new()),
        // Only in a wasmtime built with `component-model-async`: elsewhere
        // the runtime refuses `concurrency_support(true)` (`Error::Engine`).
        #[cfg(feature = "concurrency")]
        Configured::new(
            xtask::bench_id::CONCURRENCY_SUPPORT,
            default().concurrency_support(true),
            Limits::new(),
        ),
        Configured::new(NO_POOLING, default().pooling(false), Limits::new()),
        Configured::new(EPOCHS, default().epoch_interruption(true), Limits::new()),
        Configured::new(
            DEADLINE,
            default().epoch_interruption(true),
            Limits::new().deadline(Duration::from_secs(1)),
        ),
        Configured::new(FUEL, default().fuel(true), Limits::new()),
        Configured::new(
            FUEL_LIMIT,
            default().fuel(true),
            Limits::new().fuel(FUEL_PER_CALL),
        ),
        Configured::new(MEMORY_LIMIT, default(), Limits::new().max_memory(64 << 20)),
    ]
}

fn bench(c: &mut Criterion) {
    let configs = configurations();
    let bytes: Vec<u8> = (0..64 * 1024).map(|i| i as u8).collect();
    let expected = ops::sum(&bytes);
    for config in &configs {
        assert_eq!(config.plugin.add_one(41).unwrap(), 42, "{}", config.id);
        assert_eq!(
            config.plugin.sum(&bytes).unwrap(),
            expected,
            "{}",
            config.id
        );
    }
    let mut private = configs[0].plugin.pre().instantiate().expect("instance");
    let add_one = |instance: &mut wasmplug::PluginInstance<Bench>, x| {
        instance.call(|b, s| b.wasmplug_bench_ops().call_add_one(s, x))
    };
    assert_eq!(add_one(&mut private, 41).unwrap(), 42);

    let mut group = c.benchmark_group(CONFIG_SCALAR);
    for config in &configs {
        group.bench_function(config.id, |b| {
            b.iter(|| config.plugin.add_one(black_box(7)).unwrap())
        });
    }
    group.bench_function(PRIVATE_INSTANCE, |b| {
        b.iter(|| add_one(&mut private, black_box(7)).unwrap())
    });
    group.finish();

    let mut group = c.benchmark_group(CONFIG_SUM);
    for config in &configs {
        group.bench_function(config.id, |b| {
            b.iter(|| config.plugin.sum(black_box(&bytes)).unwrap())
        });
    }
    group.finish();

    // As `compare`'s `instantiate`: instances are dropped outside the
    // timing, a hundred at a time.
    let mut group = c.benchmark_group(CONFIG_INSTANTIATE);
    for config in &configs {
        let pre = config.plugin.pre();
        group.bench_function(config.id, |b| {
            b.iter_batched(
                || (),
                |()| pre.instantiate().expect("instantiates"),
                BatchSize::NumIterations(100),
            )
        });
    }
    group.finish();
}

#[allow(missing_docs, reason = "criterion_group! generates an undocumented fn")]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
use group::benches;
criterion_main!(benches);
