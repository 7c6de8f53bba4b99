//! What the comparison benches (`benches/compare.rs`) share: the bench
//! contract on both backends, the baselines (raw wasmtime on the same
//! component and engine, the plugin's logic called in-process), the
//! gateway request, and what criterion does not measure (memory).
//!
//! The main job (`cargo run --release -p xtask`) runs the benches and
//! reports them; see the README.

#![allow(unsafe_code, reason = "opening native plugins is unsafe by nature")]

use std::path::Path;

use wasmplug::{Plugin, PluginState, Runtime};
use wasmplug_contracts::gateway::wasmplug::gateway::types::Request;
use wasmplug_contracts::{GatewayFilter, GatewayFilterNative};
use wasmplug_native::{NativeLoader, NativePlugin};
use xtask::bench_id::MEMORY_FILE;
use xtask::report;

/// The bench plugin's logic, the very file the plugin is built from: the
/// in-process baseline runs exactly what the plugin runs.
#[path = "../guests/bench/src/ops.rs"]
pub mod ops;

pub mod concurrency;
pub mod languages;
pub mod raw;

wasmplug::contract! {
    /// The benches' contract (`wasmplug:bench/bench-plugin`, `wit/bench`).
    pub struct Bench {
        package: "wasmplug:bench@1.0.0",
        world: "wasmplug:bench/bench-plugin",
        path: ["../wit/plugin", "../wit/bench"],
        bindings: bench::{BenchPlugin, BenchPluginIndices},
        imports: [wasmplug::bench::host],
    }
}

wasmplug::contract! {
    /// The same contract bound for the async path (`async: true`), to
    /// compare an async call with a sync one on the same plugin.
    pub struct BenchAsync {
        package: "wasmplug:bench@1.0.0",
        world: "wasmplug:bench/bench-plugin",
        path: ["../wit/plugin", "../wit/bench"],
        bindings: bench_async::{BenchPlugin, BenchPluginIndices},
        async: true,
        imports: [wasmplug::bench::host],
    }
}

/// `bump` for Wasm plugins on the async path.
impl bench_async::wasmplug::bench::host::Host for PluginState {
    async fn bump(&mut self, x: u64) -> u64 {
        bump(x)
    }
}

wasmplug_native::bindings!({
    path: ["../wit/plugin", "../wit/bench"],
    world: "wasmplug:bench/bench-plugin",
    api: BenchApi,
    native: BenchNative,
    host: BenchHost,
    types: crate::bench,
    wasm: crate::Bench,
});

/// The host's `bump` import, on every backend: `x + 1`.
#[inline(never)]
pub fn bump(x: u64) -> u64 {
    x.wrapping_add(1)
}

/// `bump` for Wasm plugins (wasmplug).
impl bench::wasmplug::bench::host::Host for PluginState {
    fn bump(&mut self, x: u64) -> u64 {
        bump(x)
    }
}

/// `bump` for native plugins.
#[derive(Debug, Default, Clone, Copy)]
pub struct Bumper;

impl BenchHost for Bumper {
    fn bump(&self, _plugin: &str, x: u64) -> u64 {
        bump(x)
    }
}

/// The auth filter's configuration in every bench: one denied token.
pub const FILTER_CONFIG: (&str, &str) = ("deny", "mallory");

/// The gateway request the benches filter: 16 headers (one a valid bearer
/// token, so the filter rewrites the request) and a 1 KB body.
pub fn gateway_request() -> Request {
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), "api.example.test".into()),
        ("authorization".into(), "Bearer alice".into()),
        ("content-type".into(), "application/json".into()),
        ("accept".into(), "application/json".into()),
        ("user-agent".into(), "wasmplug-bench/1.0".into()),
    ];
    headers.extend((headers.len()..16).map(|i| (format!("x-trace-{i}"), format!("{i:016x}"))));
    Request {
        method: "POST".into(),
        path: "/v1/items?limit=10".into(),
        headers,
        body: vec![b'x'; 1024],
    }
}

/// The bundled plugins the benches use, on both backends.
pub struct Plugins {
    /// The bench plugin as a component, through wasmplug.
    pub wasm: Plugin<Bench>,
    /// The same source as a native library, through the bridge.
    pub native: NativePlugin<BenchNative>,
    /// The auth filter as a component.
    pub filter: Plugin<GatewayFilter>,
    /// The auth filter as a native library.
    pub native_filter: NativePlugin<GatewayFilterNative>,
}

impl Plugins {
    /// Opens the bench plugin and the auth filter on both backends.
    ///
    /// # Panics
    ///
    /// If a plugin does not load: the benches cannot run without it.
    pub fn open(runtime: &Runtime, guests: &xtask::Guests) -> Self {
        let (key, value) = FILTER_CONFIG;
        // SAFETY: built from this repository's guests by the native
        // generator; trusted code.
        let (native, native_filter) = unsafe {
            (
                NativeLoader::new()
                    .open_with::<BenchNative>(guests.native("bench"), Box::new(Bumper))
                    .expect("the bench plugin loads natively"),
                NativeLoader::new()
                    .config(key, value)
                    .open::<GatewayFilterNative>(guests.native("auth-filter"))
                    .expect("the auth filter loads natively"),
            )
        };
        Plugins {
            wasm: runtime
                .open::<Bench>(guests.wasm("bench"))
                .expect("the bench plugin loads"),
            native,
            filter: runtime
                .loader::<GatewayFilter>()
                .config(key, value)
                .open(guests.wasm("auth-filter"))
                .expect("the auth filter loads"),
            native_filter,
        }
    }
}

/// This process's resident memory, in bytes (Linux; `None` elsewhere).
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: u64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib * 1024)
}

/// Resident memory of live instances, as the report shows it.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// How many Wasm instances were live at once.
    pub instances: usize,
    /// Resident memory per live Wasm instance (initialised, called once).
    pub wasm_bytes_per_instance: Option<u64>,
    /// Resident memory the native plugin added when opened (one per process).
    pub native_bytes: Option<u64>,
}

impl Memory {
    /// Measures `instances` live instances of the bench component (each
    /// initialised and called once) on a runtime of its own, and opening
    /// the bench plugin's native library. Call it before anything else
    /// loads the native bench plugin: it is never unloaded.
    ///
    /// # Panics
    ///
    /// If a plugin fails to load or a call fails.
    pub fn measure(guests: &xtask::Guests, instances: usize) -> Self {
        let runtime = Runtime::builder()
            .max_instances(u32::try_from(instances + 16).expect("a sane count"))
            .cache(false)
            .build()
            .expect("runtime");
        let plugin = runtime.open::<Bench>(guests.wasm("bench")).expect("loads");
        let before = resident_bytes();
        let live: Vec<_> = (0..instances)
            .map(|_| {
                let mut instance = plugin.pre().instantiate().expect("instantiates");
                let two = instance
                    .call(|b, s| b.wasmplug_bench_ops().call_add_one(s, 1))
                    .expect("calls");
                assert_eq!(two, 2);
                instance
            })
            .collect();
        let after = resident_bytes();
        drop(live);
        let wasm_bytes_per_instance = before
            .zip(after)
            .map(|(b, a)| a.saturating_sub(b) / instances.max(1) as u64);

        let before = resident_bytes();
        // SAFETY: built from this repository by the native generator.
        let native = unsafe {
            NativeLoader::new().open_with::<BenchNative>(guests.native("bench"), Box::new(Bumper))
        }
        .expect("the bench plugin loads natively");
        let native_bytes = before
            .zip(resident_bytes())
            .map(|(b, a)| a.saturating_sub(b));
        drop(native);
        Memory {
            instances,
            wasm_bytes_per_instance,
            native_bytes,
        }
    }

    /// Writes the measurement into `dir` as the report reads it from
    /// criterion's output directory ([`MEMORY_FILE`], in the report's own
    /// [`report::Memory`] format).
    ///
    /// # Errors
    ///
    /// When the file cannot be written.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let memory = report::Memory {
            instances: Some(self.instances as u64),
            wasm_bytes_per_instance: self.wasm_bytes_per_instance,
            native_bytes: self.native_bytes,
        };
        let json = serde_json::to_string_pretty(&memory).map_err(std::io::Error::other)?;
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join(MEMORY_FILE), json + "\n")
    }
}

impl std::fmt::Display for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kib =
            |b: Option<u64>| b.map_or_else(|| "n/a".to_owned(), |b| format!("{} KiB", b / 1024));
        write!(
            f,
            "memory: {} per live Wasm instance ({} instances); native plugin: {} once per process",
            kib(self.wasm_bytes_per_instance),
            self.instances,
            kib(self.native_bytes)
        )
    }
}
