//! What each limit costs a call: the same scalar call (`demo1`'s `get-v`)
//! on runtimes with and without epoch interruption and fuel metering, and
//! with each limit set.
//!
//! `cargo bench -p wasmplug-benches --bench limits`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_main};
use wasmplug::{Limits, OnDifferentSettings, Plugin, Runtime};
use wasmplug_contracts::Demo;

fn plugin(runtime: &Runtime, limits: Limits) -> Plugin<Demo> {
    let guests = xtask::build_guests().expect("guests build");
    runtime
        .loader::<Demo>()
        .limits(limits)
        // One plugin per set of limits, each with its own.
        .on_different_settings(OnDifferentSettings::LoadSeparately)
        .open(guests.wasm("demo1"))
        .expect("demo1 loads")
}

fn bench(c: &mut Criterion) {
    let plain = Runtime::new().unwrap();
    let epochs = Runtime::builder().epoch_interruption(true).build().unwrap();
    let fuel = Runtime::builder().fuel(true).build().unwrap();
    let cases = [
        ("no limits", plugin(&plain, Limits::new())),
        (
            "memory limit",
            plugin(&plain, Limits::new().max_memory(64 << 20)),
        ),
        ("epochs on, no deadline", plugin(&epochs, Limits::new())),
        (
            "deadline 1s",
            plugin(&epochs, Limits::new().deadline(Duration::from_secs(1))),
        ),
        ("fuel metering on, no limit", plugin(&fuel, Limits::new())),
        (
            "fuel 1M per call",
            plugin(&fuel, Limits::new().fuel(1_000_000)),
        ),
    ];
    let mut group = c.benchmark_group("scalar call");
    for (name, plugin) in &cases {
        group.bench_function(*name, |b| {
            b.iter(|| {
                plugin
                    .call(|d, s| d.wasmplug_demo_api().call_get_v(s))
                    .map(black_box)
            })
        });
    }
    let mut private = cases[0].1.pre().instantiate().unwrap();
    group.bench_function("no limits, private instance (no lock)", |b| {
        b.iter(|| {
            private
                .call(|d, s| d.wasmplug_demo_api().call_get_v(s))
                .map(black_box)
        })
    });
    group.finish();
}

#[allow(missing_docs, reason = "criterion_group! generates an undocumented fn")]
mod group {
    criterion::criterion_group!(benches, super::bench);
}
use group::benches;
criterion_main!(benches);
