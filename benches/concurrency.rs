//! The async path under load: the gateway filter bound with async exports,
//! one pooled plugin called from many tokio tasks at once, and a request
//! awaited against the same request called synchronously.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmplug::{AsyncPlugin, Concurrency, PoolConfig, Runtime};

use crate::gateway_request;

wasmplug::contract! {
    /// The gateway filter contract (`wasmplug:gateway/gateway-filter`)
    /// bound for the async path.
    pub struct GatewayAsync {
        package: "wasmplug:gateway@1.0.0",
        world: "wasmplug:gateway/gateway-filter",
        path: ["../wit/plugin", "../wit/gateway"],
        bindings: gateway_async::{GatewayFilter, GatewayFilterIndices},
        async: true,
    }
}

/// The benches' gateway request in the async bindings' own types.
pub fn async_request() -> gateway_async::wasmplug::gateway::types::Request {
    let r = gateway_request();
    gateway_async::wasmplug::gateway::types::Request {
        method: r.method,
        path: r.path,
        headers: r.headers,
        body: r.body,
    }
}

/// The auth filter opened on the async path, served by `pool` instances
/// (each call waits up to 10 s for one).
pub async fn open_filter(
    runtime: &Runtime,
    wasm: &std::path::Path,
    pool: usize,
) -> AsyncPlugin<GatewayAsync> {
    runtime
        .loader::<GatewayAsync>()
        .config("deny", "mallory")
        .concurrency(Concurrency::Pooled(
            PoolConfig::new(pool).wait(Duration::from_secs(10)),
        ))
        .open_async(wasm)
        .await
        .expect("the auth filter opens on the async path")
}

/// One request through the async filter. (Shared, not borrowed: a
/// `call_async` future borrows only the instance's exports and store.)
pub async fn filter_once(
    plugin: &AsyncPlugin<GatewayAsync>,
    request: &Arc<gateway_async::wasmplug::gateway::types::Request>,
) {
    let request = Arc::clone(request);
    let verdict = plugin
        .call_async(move |f, store| {
            Box::pin(async move {
                f.wasmplug_gateway_filter()
                    .call_on_request(store, &request)
                    .await
            })
        })
        .await
        .expect("the filter answers");
    black_box(verdict);
}

/// `tasks` tokio tasks on `tokio` each send `iters` requests through
/// `plugin`, all at once; returns the time it took (an iteration is one
/// request on each task).
pub fn on_tasks(
    tokio: &tokio::runtime::Runtime,
    plugin: &AsyncPlugin<GatewayAsync>,
    tasks: u32,
    iters: u64,
) -> Duration {
    tokio.block_on(async {
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                let plugin = plugin.clone();
                tokio::spawn(async move {
                    let request = Arc::new(async_request());
                    for _ in 0..iters {
                        filter_once(&plugin, &request).await;
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.await.expect("a request task panicked");
        }
        start.elapsed()
    })
}
