//! The async path under load: the gateway filter bound with async exports
//! ([`GatewayFilterAsync`]), one pooled plugin called from many tokio tasks
//! at once, and a request awaited against the same request called
//! synchronously.

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmplug::{AsyncPlugin, Concurrency, PoolConfig, Runtime};

use wasmplug_contracts::GatewayFilterAsync;
use wasmplug_contracts::gateway::wasmplug::gateway::types::Request;

use crate::gateway_request;

/// The auth filter opened on the async path, served by `pool` instances
/// (each call waits up to 10 s for one).
pub async fn open_filter(
    runtime: &Runtime,
    wasm: &std::path::Path,
    pool: usize,
) -> AsyncPlugin<GatewayFilterAsync> {
    runtime
        .loader::<GatewayFilterAsync>()
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
pub async fn filter_once(plugin: &AsyncPlugin<GatewayFilterAsync>, request: &Arc<Request>) {
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
    plugin: &AsyncPlugin<GatewayFilterAsync>,
    tasks: u32,
    iters: u64,
) -> Duration {
    tokio.block_on(async {
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                let plugin = plugin.clone();
                tokio::spawn(async move {
                    let request = Arc::new(gateway_request());
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
