//! The gateway filter contract with the bundled auth filter.

use wasmplug::Plugin;
use wasmplug::contracts::GatewayFilter;
use wasmplug::contracts::gateway::wasmplug::gateway::types::{
    Rejection, Request, Rewrite, Verdict,
};

use crate::support::{runtime, wasm};

fn request(path: &str, auth: Option<&str>) -> Request {
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
fn the_auth_filter_allows_rejects_and_rewrites() {
    let rt = runtime();
    let plugin = rt
        .loader::<GatewayFilter>()
        .config("deny", "mallory, eve")
        .open(wasm("auth-filter"))
        .unwrap();

    assert_eq!(
        filter(&plugin, &request("/public/index.html", None)),
        Verdict::Allow
    );
    assert_eq!(
        filter(&plugin, &request("/v1/items", None)),
        Verdict::Reject(Rejection {
            status: 401,
            reason: "missing bearer token".into()
        })
    );
    assert_eq!(
        filter(&plugin, &request("/v1/items", Some("Basic YWxpY2U6"))),
        Verdict::Reject(Rejection {
            status: 401,
            reason: "missing bearer token".into()
        })
    );
    for denied in ["mallory", "eve"] {
        let verdict = filter(
            &plugin,
            &request("/v1/items", Some(&format!("Bearer {denied}"))),
        );
        assert!(
            matches!(verdict, Verdict::Reject(Rejection { status: 403, .. })),
            "{denied}: {verdict:?}"
        );
    }
    assert_eq!(
        filter(&plugin, &request("/v1/items", Some("Bearer alice"))),
        Verdict::Rewrite(Rewrite {
            path: None,
            set_headers: vec![("x-auth-user".into(), "alice".into())],
            remove_headers: vec!["authorization".into()],
        })
    );
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
