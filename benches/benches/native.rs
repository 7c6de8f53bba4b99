//! The native backend's call overhead: the same scalar export (`demo1`'s
//! `get-v`) through the generated bridge (`DemoApi` on
//! `NativePlugin<DemoNative>`), through the plugin's raw entry point as a
//! plain function pointer, and a direct `extern "C"` call through a fn
//! pointer in this binary (the floor). The Wasm backend's call, through
//! the same trait, is alongside for scale.
//!
//! `cargo bench -p wasmplug-benches --bench native`

#![allow(unsafe_code, reason = "calling native plugin code")]

use std::hint::black_box;

use criterion::{Criterion, criterion_main};
use wasmplug::Runtime;
use wasmplug::contracts::{Demo, DemoApi, DemoNative};
use wasmplug_native::NativePlugin;
use wasmplug_native::abi::Status;

static V: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(7);

/// The floor: what `get-v` does, as a plain C-ABI function of this binary.
#[inline(never)]
extern "C" fn direct_get_v() -> i64 {
    V.load(std::sync::atomic::Ordering::SeqCst)
}

type GetV = unsafe extern "C" fn(*mut i64) -> Status;

fn bench(c: &mut Criterion) {
    let guests = xtask::build_guests().expect("guests build");
    // SAFETY: demo1, built from this repository by the native generator.
    let native: NativePlugin<DemoNative> =
        unsafe { NativePlugin::open(guests.native("demo1")) }.expect("demo1 loads natively");
    // SAFETY: the ABI's type for `get-v`; the library is never unloaded.
    let entry: GetV = unsafe { native.library().entry("wasmplug:demo/api#get-v") }.unwrap();
    let runtime = Runtime::new().unwrap();
    let wasm = runtime.open::<Demo>(guests.wasm("demo1")).unwrap();

    let mut group = c.benchmark_group("scalar call");
    let direct: extern "C" fn() -> i64 = black_box(direct_get_v);
    group.bench_function("direct extern \"C\" fn pointer", |b| {
        b.iter(|| black_box(direct()))
    });
    let entry = black_box(entry);
    group.bench_function("native entry point, raw fn pointer", |b| {
        b.iter(|| {
            let mut v = 0;
            // SAFETY: `v` is a valid out-pointer.
            let status = unsafe { entry(&mut v) };
            black_box((status, v))
        })
    });
    group.bench_function("native through the bridge (DemoApi)", |b| {
        b.iter(|| black_box(native.get_v().unwrap()))
    });
    group.bench_function("wasm through the same trait (DemoApi)", |b| {
        b.iter(|| black_box(wasm.get_v().unwrap()))
    });
    group.finish();
}

fn benches() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
}

criterion_main!(benches);
