//! wasmplug's main job: builds the bundled plugins, loads each, and shows
//! what it exports and a sample call.
//!
//! `cargo run --release -p xtask`

use anyhow::{Context, Result};
use wasmplug::contracts::gateway::wasmplug::gateway::types::{Request, Verdict};
use wasmplug::contracts::{Demo, GatewayFilter, InitProbe};
use wasmplug::{ExportedFunc, Runtime};

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();

    eprintln!("building the bundled plugins for {} ...", xtask::TARGET);
    let guests = xtask::build_guests().map_err(anyhow::Error::msg)?;
    let runtime = Runtime::new().context("creating the runtime")?;

    let demo = runtime.open::<Demo>(guests.wasm("demo1"))?;
    show(demo.metadata(), &demo.exports());
    demo.call(|d, s| d.wasmplug_demo_api().call_set_v(s, 15))?;
    let report = demo.call(|d, s| d.wasmplug_demo_api().call_f(s))?;
    println!("  set-v(15); f() -> {report:?}");
    let m1 = demo.call(|d, s| {
        let api = d.wasmplug_demo_api();
        let value = api.call_get_foo(&mut *s)?;
        let out = api.foo().call_m1(&mut *s, value)?;
        value.resource_drop(s)?;
        Ok(out)
    })?;
    println!("  get-foo().m1() -> {m1:?}");

    let probe = runtime.open::<InitProbe>(guests.wasm("init-probe"))?;
    let again = runtime.open::<InitProbe>(guests.wasm("init-probe"))?;
    show(probe.metadata(), &probe.exports());
    let inits = again.call(|p, s| p.wasmplug_demo_probe().call_init_count(s))?;
    println!("  opened twice; init-count() -> {inits}");

    let filter = runtime
        .loader::<GatewayFilter>()
        .config("deny", "mallory")
        .open(guests.wasm("auth-filter"))?;
    show(filter.metadata(), &filter.exports());
    for (path, token) in [
        ("/public/logo.png", None),
        ("/v1/items", None),
        ("/v1/items", Some("mallory")),
        ("/v1/items", Some("alice")),
    ] {
        let mut headers = vec![("host".to_owned(), "example.test".to_owned())];
        if let Some(token) = token {
            headers.push(("authorization".into(), format!("Bearer {token}")));
        }
        let req = Request {
            method: "GET".into(),
            path: path.into(),
            headers,
            body: Vec::new(),
        };
        let verdict = filter.call(|f, s| f.wasmplug_gateway_filter().call_on_request(s, &req))?;
        println!(
            "  on-request(GET {path}, token {token:?}) -> {}",
            describe(&verdict)
        );
    }
    Ok(())
}

fn show(metadata: &wasmplug::Metadata, exports: &[ExportedFunc]) {
    println!("\n{metadata} — {}", metadata.description);
    for export in exports {
        println!("  export {}: {}", export.name, export.signature);
    }
}

fn describe(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Allow => "allow".into(),
        Verdict::Reject(r) => format!("reject {} ({})", r.status, r.reason),
        Verdict::Rewrite(r) => format!(
            "rewrite set {:?} remove {:?}",
            r.set_headers, r.remove_headers
        ),
    }
}
