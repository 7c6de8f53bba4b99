//! The gateway (`wasmplug-gateway`) serving real HTTP on loopback, in
//! front of the echo upstream: verdicts, rewrites, a Wasm and a native
//! filter in one chain, faults answered 500/504, reloads under concurrent
//! requests with no request failed, metrics, graceful shutdown.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use wasmplug_gateway::{Gateway, GatewayError, GatewayHandle, serve_echo};

use crate::support::{native, native_lock, wasm};

/// A response, read whole.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: hyper::HeaderMap,
    body: String,
}

impl Answer {
    fn header_values(&self, name: &str) -> Vec<String> {
        self.headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }
}

/// Sends one request on a fresh connection.
async fn send(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<Answer, String> {
    let stream = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| e.to_string())?;
    tokio::spawn(connection);
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "gateway.test");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(Full::new(Bytes::new())).unwrap();
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok(Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

async fn get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Answer {
    send(addr, "GET", path, headers).await.unwrap()
}

/// The echo upstream on a free port; it stops when the sender is dropped.
async fn upstream() -> (SocketAddr, oneshot::Sender<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(serve_echo(listener, async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// A gateway serving on a task; stop it with the sender.
struct Running {
    addr: SocketAddr,
    admin: Option<SocketAddr>,
    handle: GatewayHandle,
    stop: oneshot::Sender<()>,
    served: tokio::task::JoinHandle<Result<(), GatewayError>>,
}

async fn serve(config: &Path) -> Running {
    let gateway = Gateway::from_file(config).await.unwrap();
    let addr = gateway.local_addr();
    let admin = gateway.admin_addr();
    let handle = gateway.handle();
    let (stop, stopped) = oneshot::channel::<()>();
    let served = tokio::spawn(gateway.serve(async {
        let _ = stopped.await;
    }));
    Running {
        addr,
        admin,
        handle,
        stop,
        served,
    }
}

/// Writes `plugins/` (the given files) and `gateway.toml` (`head` then
/// `filters`) into `dir`; returns the configuration's path.
fn layout(
    dir: &Path,
    upstream: SocketAddr,
    files: &[(&Path, &str)],
    filters: &str,
) -> std::path::PathBuf {
    let plugins = dir.join("plugins");
    std::fs::create_dir_all(&plugins).unwrap();
    for (from, name) in files {
        std::fs::copy(from, plugins.join(name)).unwrap();
    }
    let config = dir.join("gateway.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\nupstream = \"http://{upstream}\"\n\
             plugin_dir = \"plugins\"\nadmin = \"127.0.0.1:0\"\n\n{filters}"
        ),
    )
    .unwrap();
    config
}

/// Replaces `to` with `from`'s bytes atomically (a reader sees one file or
/// the other).
fn swap_file(from: &Path, to: &Path) {
    let tmp = to.with_extension("tmp");
    std::fs::copy(from, &tmp).unwrap();
    std::fs::rename(&tmp, to).unwrap();
}

const CHAIN: &str = r#"
[[filter]]
plugin = "auth-filter@1"
settings = { deny = "mallory", version-header = "x-auth-version" }
pool = 8

[[filter]]
plugin = "fault-filter@1"
backend = "native"
file = "libfault_filter.so"
settings = { trap-every = "1000" }
"#;

#[test]
fn a_wasm_and_a_native_filter_serve_reload_under_load_fault_and_drain() {
    let _lock = native_lock();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (upstream, _stop_upstream) = upstream().await;
        let native_file = native("fault-filter");
        let config = layout(
            dir.path(),
            upstream,
            &[
                (&wasm("auth-filter"), "auth-filter.wasm"),
                (
                    &native_file,
                    native_file.file_name().unwrap().to_str().unwrap(),
                ),
            ],
            CHAIN,
        );
        let gw = serve(&config).await;
        let addr = gw.addr;

        // Verdicts: the Wasm auth filter's rejections, with its status and
        // reason.
        let missing = get(addr, "/v1/items", &[]).await;
        assert_eq!(missing.status, 401, "{missing:?}");
        assert!(missing.body.contains("missing bearer token"), "{missing:?}");
        let denied = get(addr, "/v1/items", &[("authorization", "Bearer mallory")]).await;
        assert_eq!(denied.status, 403, "{denied:?}");
        assert!(denied.body.contains("`mallory` is denied"), "{denied:?}");

        // Rewrites, from both filters, reach the upstream.
        let alice = get(
            addr,
            "/v1/items?limit=2",
            &[("authorization", "Bearer alice")],
        )
        .await;
        assert_eq!(alice.status, 200, "{alice:?}");
        assert!(
            alice.body.starts_with("GET /v1/items?limit=2\n"),
            "{}",
            alice.body
        );
        assert!(
            alice.body.contains("x-auth-user: alice\n"),
            "{}",
            alice.body
        );
        assert!(
            alice.body.contains("x-fault-filter: passed\n"),
            "{}",
            alice.body
        );
        assert!(!alice.body.contains("authorization"), "{}", alice.body);
        assert_eq!(alice.header_values("x-auth-version"), ["1.0.0"]);
        let public = get(addr, "/public/logo.png", &[]).await;
        assert_eq!(public.status, 200, "{public:?}");

        // The native filter panics on request 1000: that request gets 500,
        // the next ones are served.
        let faulted = get(
            addr,
            "/v1/items",
            &[("authorization", "Bearer alice"), ("x-request-id", "1000")],
        )
        .await;
        assert_eq!(faulted.status, 500, "{faulted:?}");
        let after = get(
            addr,
            "/v1/items",
            &[("authorization", "Bearer alice"), ("x-request-id", "1001")],
        )
        .await;
        assert_eq!(after.status, 200, "{after:?}");
        assert_eq!(gw.handle.metrics().faults("1:fault-filter@1"), 1);

        reloads_under_load(&gw, dir.path()).await;

        // Metrics, in Prometheus' text format.
        let admin = gw.admin.unwrap();
        let metrics = get(admin, "/metrics", &[]).await;
        assert_eq!(metrics.status, 200);
        for line in [
            "gateway_reloads_total{outcome=\"applied\"} 4",
            "gateway_plugin_faults_total{filter=\"1:fault-filter@1\",kind=\"trap\"} 1",
            "gateway_filter_rejections_total{filter=\"0:auth-filter@1\"} 2",
            "gateway_responses_total{status=\"500\"} 1",
        ] {
            assert!(
                metrics.body.lines().any(|l| l == line),
                "no `{line}` in\n{}",
                metrics.body
            );
        }
        assert!(metrics.body.contains(
            "gateway_filter_duration_seconds_bucket{filter=\"0:auth-filter@1\",le=\"+Inf\"}"
        ));

        graceful_shutdown(gw).await;
    });
}

/// Four reloads (two through the admin endpoint) while eight tasks send
/// requests: none fails, each response was stamped by exactly one of the
/// two releases, and after each reload the new release answers.
async fn reloads_under_load(gw: &Running, dir: &Path) {
    let plugin = dir.join("plugins").join("auth-filter.wasm");
    let stop = Arc::new(AtomicBool::new(false));
    let mut senders = Vec::new();
    for _ in 0..8 {
        let stop = Arc::clone(&stop);
        let addr = gw.addr;
        senders.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            // Bounded: stops at the flag or after 2 000 requests.
            for _ in 0..2_000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let answer =
                    send(addr, "GET", "/v1/items", &[("authorization", "Bearer bob")]).await;
                seen.push(answer.map(|a| (a.status, a.header_values("x-auth-version"))));
            }
            seen
        }));
    }
    let releases = [
        (wasm("auth-filter-next"), "1.1.0"),
        (wasm("auth-filter"), "1.0.0"),
    ];
    for round in 0..4 {
        let (file, version) = &releases[round % 2];
        swap_file(file, &plugin);
        if round < 2 {
            let answer = send(gw.admin.unwrap(), "POST", "/reload", &[])
                .await
                .unwrap();
            assert_eq!(answer.status, 200, "{answer:?}");
            assert!(answer.body.contains(version), "{answer:?}");
        } else {
            let report = gw.handle.reload().await.unwrap();
            assert_eq!(report.replaced.len(), 1, "{report:?}");
        }
        let now = get(gw.addr, "/v1/items", &[("authorization", "Bearer bob")]).await;
        assert_eq!(now.header_values("x-auth-version"), [*version], "{now:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    let mut by_version = std::collections::BTreeMap::<String, usize>::new();
    for sender in senders {
        for outcome in sender.await.unwrap() {
            let (status, versions) = outcome.expect("no request fails during a reload");
            assert_eq!(status, 200);
            assert_eq!(
                versions.len(),
                1,
                "stamped by exactly one release: {versions:?}"
            );
            *by_version.entry(versions[0].clone()).or_default() += 1;
        }
    }
    assert!(
        by_version.keys().all(|v| v == "1.0.0" || v == "1.1.0"),
        "{by_version:?}"
    );
}

/// A request in flight when shutdown starts is answered; then the
/// listener is closed and `serve` returns.
async fn graceful_shutdown(gw: Running) {
    let before = gw.handle.metrics().requests();
    let addr = gw.addr;
    let slow = tokio::spawn(async move {
        send(
            addr,
            "GET",
            "/v1/items",
            &[
                ("authorization", "Bearer alice"),
                ("x-echo-delay-ms", "300"),
            ],
        )
        .await
    });
    // Shut down once the gateway has the request.
    for _ in 0..1_000 {
        if gw.handle.metrics().requests() > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        gw.handle.metrics().requests() > before,
        "the slow request arrived"
    );
    gw.stop.send(()).unwrap();
    let answered = slow
        .await
        .unwrap()
        .expect("the request in flight is answered");
    assert_eq!(answered.status, 200, "{answered:?}");
    gw.served.await.unwrap().unwrap();
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "the listener is closed after shutdown"
    );
}

const FAULTS: &str = r#"
[[filter]]
plugin = "fault-filter@1"
settings = { trap-every = "7", spin-header = "x-spin" }
limits = { deadline_ms = 200 }
pool = 4
"#;

#[test]
fn a_trapping_or_spinning_wasm_filter_answers_500_or_504_and_the_gateway_keeps_serving() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let (upstream, _stop_upstream) = upstream().await;
        let config = layout(
            dir.path(),
            upstream,
            &[(&wasm("fault-filter"), "fault-filter.wasm")],
            FAULTS,
        );
        let gw = serve(&config).await;
        for id in 1..=21u32 {
            let id = id.to_string();
            let answer = get(gw.addr, "/x", &[("x-request-id", &id)]).await;
            let expected = if id.parse::<u32>().unwrap() % 7 == 0 {
                500
            } else {
                200
            };
            assert_eq!(answer.status, expected, "request {id}: {answer:?}");
        }
        let spun = get(gw.addr, "/x", &[("x-spin", "1")]).await;
        assert_eq!(spun.status, 504, "{spun:?}");
        assert_eq!(
            get(gw.addr, "/x", &[("x-request-id", "8")]).await.status,
            200
        );
        assert_eq!(gw.handle.metrics().faults("0:fault-filter@1"), 4);
        gw.stop.send(()).unwrap();
        gw.served.await.unwrap().unwrap();
    });
}

#[test]
fn bad_configurations_are_typed_errors_naming_the_file_and_field() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let upstream: SocketAddr = "127.0.0.1:9".parse().unwrap();
        // A filter no plugin in the directory satisfies: named with the
        // directory and what is there.
        let config = layout(
            dir.path(),
            upstream,
            &[(&wasm("auth-filter"), "auth-filter.wasm")],
            "[[filter]]\nplugin = \"auth-filter@2\"\n",
        );
        match Gateway::from_file(&config).await {
            Err(e @ GatewayError::PluginNotFound { .. }) => {
                let message = e.to_string();
                assert!(message.contains("auth-filter@2"), "{message}");
                assert!(message.contains("auth-filter@1.0.0"), "{message}");
                assert!(message.contains("plugins"), "{message}");
            }
            other => panic!("expected PluginNotFound, got {other:?}"),
        }
        // An unknown backend, bad TOML: the parser's message, with the file.
        for (filters, needle) in [
            (
                "[[filter]]\nplugin = \"auth-filter@1\"\nbackend = \"jvm\"\n",
                "jvm",
            ),
            ("[[filter]\n", "gateway.toml"),
        ] {
            let config = layout(dir.path(), upstream, &[], filters);
            match Gateway::from_file(&config).await {
                Err(e @ GatewayError::ConfigParse { .. }) => {
                    let message = e.to_string();
                    assert!(message.contains(needle), "{message}");
                    assert!(message.contains("gateway.toml"), "{message}");
                }
                other => panic!("expected ConfigParse, got {other:?}"),
            }
        }
        // A missing file.
        match Gateway::from_file(&dir.path().join("nope.toml")).await {
            Err(e @ GatewayError::ConfigRead { .. }) => {
                assert!(e.to_string().contains("nope.toml"), "{e}");
            }
            other => panic!("expected ConfigRead, got {other:?}"),
        }
    });
}
