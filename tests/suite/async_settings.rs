//! Reconfiguring a plugin on the async path: shared and pooled (a new
//! snapshot), refused settings changing nothing.

use std::time::Duration;

use wasmplug::{AsyncPlugin, Concurrency, Error, PoolConfig, Runtime};

use crate::support::wasm;

wasmplug::contract! {
    /// The gateway filter contract bound for the async path.
    pub struct FilterAsync {
        package: "wasmplug:gateway@1.0.0",
        world: "wasmplug:gateway/gateway-filter",
        path: ["../wit/plugin", "../wit/gateway"],
        bindings: filter_async::{GatewayFilter, GatewayFilterIndices},
        async: true,
    }
}

use filter_async::wasmplug::gateway::types::{Request, Verdict};

/// A runtime without the cache: snapshots are made, not loaded.
fn runtime() -> Runtime {
    Runtime::builder()
        .max_instances(16)
        .cache(false)
        .build()
        .unwrap()
}

/// The auth filter's verdict on a request bearing `token`: its status if
/// it rejects, 200 otherwise.
async fn status(plugin: &AsyncPlugin<FilterAsync>, token: &str) -> u16 {
    let request = Request {
        method: "GET".into(),
        path: "/api".into(),
        headers: vec![("authorization".into(), format!("Bearer {token}"))],
        body: Vec::new(),
    };
    let verdict = plugin
        .call_async(move |f, s| {
            Box::pin(async move {
                f.wasmplug_gateway_filter()
                    .call_on_request(s, &request)
                    .await
            })
        })
        .await
        .unwrap();
    match verdict {
        Verdict::Reject(rejection) => rejection.status,
        Verdict::Allow | Verdict::Rewrite(_) => 200,
    }
}

async fn reconfigured_on(concurrency: Concurrency) {
    let rt = runtime();
    let plugin = rt
        .loader::<FilterAsync>()
        .config("deny", "mallory")
        .concurrency(concurrency)
        .open_async(wasm("auth-filter"))
        .await
        .unwrap();
    assert_eq!(status(&plugin, "mallory").await, 403);
    assert_eq!(status(&plugin, "eve").await, 200);

    plugin.reconfigure([("deny", "eve")]).await.unwrap();
    assert!(plugin.config().contains(&("deny".into(), "eve".into())));
    // Every instance serves the new settings: as many calls at once as a
    // pool holds.
    let (a, b) = tokio::join!(status(&plugin, "eve"), status(&plugin, "eve"));
    assert_eq!((a, b), (403, 403));
    assert_eq!(status(&plugin, "mallory").await, 200);

    // A setting the plugin does not know: its `init` refuses, and nothing
    // changes.
    let err = plugin
        .reconfigure([("deny", "trent"), ("no-such-setting", "x")])
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Init { message, .. } if message.contains("no-such-setting")),
        "{err:?}"
    );
    assert_eq!(status(&plugin, "eve").await, 403);
    assert_eq!(status(&plugin, "trent").await, 200);
    if let Some((alive, idle)) = plugin.pool_counts() {
        assert_eq!(alive, idle, "no call holds an instance");
        assert!(alive <= 2);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_shared_async_plugin_is_reconfigured() {
    reconfigured_on(Concurrency::Shared).await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_pooled_async_plugin_is_reconfigured_from_a_new_snapshot() {
    reconfigured_on(Concurrency::Pooled(
        PoolConfig::new(2).wait(Duration::from_secs(5)),
    ))
    .await;
}

#[tokio::test(flavor = "current_thread")]
async fn a_pooled_async_plugin_without_snapshots_is_reconfigured() {
    reconfigured_on(Concurrency::Pooled(
        PoolConfig::new(2)
            .wait(Duration::from_secs(5))
            .from_snapshot(false),
    ))
    .await;
}
