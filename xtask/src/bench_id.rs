//! The ids of the criterion benches in `benches/`: their group and
//! function names. The benches name what they measure with these, and the
//! report ([`crate::report`]) finds the results by them, so each id is
//! spelled once. (The benches crate depends on this one for the guest
//! builder already; the ids live here so that neither crate depends on the
//! other's benches.)
//!
//! Lists are in the order the report shows them.

// --- `compare`: the Wasm-vs-native comparison --------------------------------

/// Loading the bench plugin; its functions are [`LOAD_STEPS`].
pub const LOAD: &str = "load";
/// The scalar call (`add-one`), which most targets are about.
pub const SCALAR: &str = "scalar";
/// A 1 KB string in and out (`echo`).
pub const STRING_1KB: &str = "string 1 KB";
/// 64 KB of bytes in, summed (`sum`).
pub const BYTES_64KB: &str = "bytes 64 KB";
/// The auth filter on a request with 16 headers and a 1 KB body.
pub const GATEWAY_REQUEST: &str = "gateway request";
/// 100 calls of a host import (`call-host`).
pub const HOST_IMPORT_X100: &str = "host import x100";
/// A fresh instance: store, instantiation and `init`.
pub const INSTANTIATE: &str = "instantiate";
/// Requests on 1 and 2 threads; its functions are [`THROUGHPUT_RUNS`].
pub const THROUGHPUT: &str = "throughput";

/// The call cases: a row each in the report's call table, a function per
/// backend ([`BACKENDS`]).
pub const CALL_CASES: [&str; 6] = [
    SCALAR,
    STRING_1KB,
    BYTES_64KB,
    GATEWAY_REQUEST,
    HOST_IMPORT_X100,
    INSTANTIATE,
];

/// The plugin's logic called in-process, no boundary.
pub const IN_PROCESS: &str = "in-process";
/// A plain `extern "C"` function of the bench binary, through a fn pointer.
pub const DIRECT_FN_POINTER: &str = "direct fn pointer";
/// The native library through wasmplug's native bridge.
pub const NATIVE_BRIDGE: &str = "native bridge";
/// The component through wasmtime's own `bindgen!`, on wasmplug's engine.
pub const RAW_WASMTIME: &str = "raw wasmtime";
/// The component through wasmplug.
pub const WASMPLUG: &str = "wasmplug";

/// The backends of the call cases (columns of the call table).
pub const BACKENDS: [&str; 5] = [
    IN_PROCESS,
    DIRECT_FN_POINTER,
    NATIVE_BRIDGE,
    RAW_WASMTIME,
    WASMPLUG,
];

/// Compiling the component.
pub const WASM_COMPILE: &str = "wasm compile";
/// Loading the component from the precompiled cache.
pub const WASM_FROM_CACHE: &str = "wasm from cache";
/// Opening it from the cache: load, instantiate, `init`.
pub const WASM_OPEN_FROM_CACHE: &str = "wasm open from cache";
/// Opening the native library: copy, `dlopen`, header checks, `init`.
pub const NATIVE_OPEN: &str = "native open";

/// The functions of [`LOAD`].
pub const LOAD_STEPS: [&str; 4] = [
    WASM_COMPILE,
    WASM_FROM_CACHE,
    WASM_OPEN_FROM_CACHE,
    NATIVE_OPEN,
];

/// The native backend in [`THROUGHPUT`] runs (one plugin per process).
pub const NATIVE: &str = "native";

/// One pooled Wasm plugin shared by the threads of a [`THROUGHPUT`] run
/// (each call on an instance from its pool).
pub const POOLED: &str = "pooled";

/// One pooled Wasm plugin on the async path, called by [`ASYNC_TASKS`]
/// tokio tasks on a runtime with 2 worker threads.
pub const POOLED_ASYNC: &str = "pooled async";

/// How many tokio tasks call the [`POOLED_ASYNC`] plugin at once.
pub const ASYNC_TASKS: u32 = 64;

/// The [`THROUGHPUT`] run of [`POOLED_ASYNC`].
pub const POOLED_ASYNC_RUN: &str = "pooled async 64 tasks";

/// The functions of [`THROUGHPUT`]: [`throughput_run`] of each backend
/// on 1 and 2 threads, then the async run (an iteration is one request on
/// each thread, or on each task).
pub const THROUGHPUT_RUNS: [&str; 7] = [
    "native 1 thread",
    "native 2 threads",
    "wasmplug 1 thread",
    "wasmplug 2 threads",
    "pooled 1 thread",
    "pooled 2 threads",
    POOLED_ASYNC_RUN,
];

/// A gateway request through a pooled plugin against one on a private
/// instance: what the pool's checkout costs.
pub const POOL: &str = "pool";
/// Checking an instance out of a pooled plugin, the call, giving it back.
pub const POOL_CHECKOUT_CALL: &str = "checkout + call";
/// The same call on a private instance, no pool.
pub const POOL_PRIVATE_CALL: &str = "private instance call";

/// A call on the async path against the same call on the sync path, one
/// plugin each, shared instance: what the async path costs.
pub const ASYNC: &str = "async vs sync";
/// `add-one` awaited on a current-thread tokio runtime.
pub const ASYNC_SCALAR: &str = "async scalar";
/// `add-one` called synchronously.
pub const SYNC_SCALAR: &str = "sync scalar";
/// A gateway filter's `on-request` awaited on a current-thread tokio
/// runtime.
pub const ASYNC_GATEWAY: &str = "async gateway request";
/// The same request called synchronously.
pub const SYNC_GATEWAY: &str = "sync gateway request";

/// The functions of [`ASYNC`].
pub const ASYNC_CALLS: [&str; 4] = [ASYNC_SCALAR, SYNC_SCALAR, ASYNC_GATEWAY, SYNC_GATEWAY];

/// The functions of [`POOL`].
pub const POOL_CALLS: [&str; 2] = [POOL_CHECKOUT_CALL, POOL_PRIVATE_CALL];

/// The [`THROUGHPUT`] function of `backend` on `threads` threads, e.g.
/// `wasmplug 2 threads`.
pub fn throughput_run(backend: &str, threads: u32) -> String {
    let plural = if threads == 1 { "" } else { "s" };
    format!("{backend} {threads} thread{plural}")
}

/// Splits a [`throughput_run`] id (or [`POOLED_ASYNC_RUN`]) into its
/// backend and how many threads (or tasks) each make one request an
/// iteration.
pub fn parse_throughput_run(function: &str) -> Option<(&str, u32)> {
    let rest = function
        .strip_suffix(" threads")
        .or_else(|| function.strip_suffix(" thread"))
        .or_else(|| function.strip_suffix(" tasks"))?;
    let (backend, count) = rest.rsplit_once(' ')?;
    Some((backend, count.parse().ok()?))
}

/// The file `compare` writes its memory measurement to, in criterion's
/// output directory (`CRITERION_HOME`).
pub const MEMORY_FILE: &str = "memory.json";

// --- `limits`: what the runtime's configuration and its limits cost ----------

/// A scalar call (`add-one`) through wasmplug, per configuration: the call
/// path's cost.
pub const CONFIG_SCALAR: &str = "config: scalar call";
/// Summing 64 KB in the guest (`sum`), per configuration: mostly guest
/// code, so it shows how much instrumentation slows the guest down.
pub const CONFIG_SUM: &str = "config: 64 KB sum";
/// A fresh instance (store, instantiation, `init`), per configuration.
pub const CONFIG_INSTANTIATE: &str = "config: instantiate";

/// The groups of the `limits` bench: a column each in the report's
/// configuration table, a function per configuration ([`CONFIGS`]).
pub const CONFIG_GROUPS: [&str; 3] = [CONFIG_SCALAR, CONFIG_SUM, CONFIG_INSTANTIATE];

/// `Runtime::new()`: pooling (with freed slots kept resident where Linux
/// has `PAGEMAP_SCAN`), concurrency support off, no epochs, no fuel.
pub const DEFAULT: &str = "default";
/// `concurrency_support(true)`.
pub const CONCURRENCY_SUPPORT: &str = "concurrency support on";
/// `pooling(false)`: instances allocated on demand.
pub const NO_POOLING: &str = "no pooling";
/// `epoch_interruption(true)`, no deadline set.
pub const EPOCHS: &str = "epoch interruption on";
/// `epoch_interruption(true)` and a 1 s deadline per call.
pub const DEADLINE: &str = "deadline 1 s";
/// `fuel(true)`, no fuel limit set.
pub const FUEL: &str = "fuel metering on";
/// `fuel(true)` and a fuel limit per call (ample for the call).
pub const FUEL_LIMIT: &str = "fuel limit";
/// A 64 MiB memory limit.
pub const MEMORY_LIMIT: &str = "memory limit";
/// The default runtime, called on a private instance
/// (`PluginPre::instantiate`: no shared instance's lock).
pub const PRIVATE_INSTANCE: &str = "private instance";

/// The functions of the `limits` groups: the configurations, [`DEFAULT`]
/// first (the others are compared with it).
pub const CONFIGS: [&str; 9] = [
    DEFAULT,
    CONCURRENCY_SUPPORT,
    NO_POOLING,
    EPOCHS,
    DEADLINE,
    FUEL,
    FUEL_LIMIT,
    MEMORY_LIMIT,
    PRIVATE_INSTANCE,
];

/// Every group, in report order.
pub const GROUPS: [&str; 13] = [
    LOAD,
    SCALAR,
    STRING_1KB,
    BYTES_64KB,
    GATEWAY_REQUEST,
    HOST_IMPORT_X100,
    INSTANTIATE,
    THROUGHPUT,
    POOL,
    ASYNC,
    CONFIG_SCALAR,
    CONFIG_SUM,
    CONFIG_INSTANTIATE,
];

/// The known functions of `group`, in report order.
pub fn functions(group: &str) -> &'static [&'static str] {
    match group {
        LOAD => &LOAD_STEPS,
        THROUGHPUT => &THROUGHPUT_RUNS,
        POOL => &POOL_CALLS,
        ASYNC => &ASYNC_CALLS,
        CONFIG_SCALAR | CONFIG_SUM | CONFIG_INSTANTIATE => &CONFIGS,
        _ => &BACKENDS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn throughput_runs_are_what_throughput_run_names() {
        let runs: Vec<String> = [NATIVE, WASMPLUG, POOLED]
            .into_iter()
            .flat_map(|backend| [1, 2].map(|threads| throughput_run(backend, threads)))
            .collect();
        assert_eq!(runs, THROUGHPUT_RUNS[..6]);
        assert_eq!(
            POOLED_ASYNC_RUN,
            format!("{POOLED_ASYNC} {ASYNC_TASKS} tasks")
        );
        assert_eq!(
            parse_throughput_run(POOLED_ASYNC_RUN),
            Some((POOLED_ASYNC, ASYNC_TASKS))
        );
        for &run in &THROUGHPUT_RUNS[..6] {
            let (backend, threads) = parse_throughput_run(run).unwrap();
            assert_eq!(throughput_run(backend, threads), run);
        }
        assert_eq!(parse_throughput_run("native"), None);
    }

    #[test]
    fn ids_are_unique_within_their_lists() {
        for list in [&GROUPS[..], &BACKENDS, &LOAD_STEPS, &CONFIGS] {
            for (i, id) in list.iter().enumerate() {
                assert!(!list[i + 1..].contains(id), "{id:?} twice");
            }
        }
    }
}
