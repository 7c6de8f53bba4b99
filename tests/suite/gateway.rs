//! The gateway filter contract with the bundled auth filter, on the Wasm
//! backend (its decisions on both backends: `backends.rs`).

use wasmplug::Plugin;
use wasmplug_contracts::GatewayFilter;
use wasmplug_contracts::gateway::wasmplug::gateway::types::{Request, Verdict};

use crate::support::{runtime, wasm};

/// A GET request for `path`, with an `authorization` header if `auth`.
pub(crate) fn request(path: &str, auth: Option<&str>) -> Request {
    let mut headers = vec![("host".to_owned(), "gw.test".to_owned())];
    if let Some(value) = auth {
        headers.push(("authorization".into(), value.into()));
    }
    Request {
        method: "GET".into(),
        path: path.into(),
        headers,
        body: b"{}".to_vec(),
    }
}

fn filter(plugin: &Plugin<GatewayFilter>, req: &Request) -> Verdict {
    plugin
        .call(|f, s| f.wasmplug_gateway_filter().call_on_request(s, req))
        .unwrap()
}

#[test]
fn configuration_reaches_init() {
    let rt = runtime();
    let plugin = rt
        .loader::<GatewayFilter>()
        .config("public-prefix", "/assets/")
        .open(wasm("auth-filter"))
        .unwrap();
    assert_eq!(
        filter(&plugin, &request("/assets/app.js", None)),
        Verdict::Allow
    );
    assert!(matches!(
        filter(&plugin, &request("/public/x", None)),
        Verdict::Reject(_)
    ));
}
