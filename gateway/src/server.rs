//! The HTTP side: the proxy listener, the admin listener, forwarding to
//! the upstream and graceful shutdown ([`Gateway`]).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::service::service_fn;
use hyper::{Method, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use wasmplug_contracts::gateway::wasmplug::gateway::types::Request;

use crate::chain::{Decision, Pipeline, ReloadReport, runtime_for};
use crate::config::Config;
use crate::error::GatewayError;
use crate::metrics::Metrics;

/// A response body: the upstream's, streamed, or one of the gateway's own.
type Body = BoxBody<Bytes, hyper::Error>;

/// Headers that describe one connection, not the request: never forwarded.
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "host",
    "content-length",
];

/// A gateway, bound and with its filters loaded, not yet serving.
///
/// ```no_run
/// # async fn run() -> Result<(), wasmplug_gateway::GatewayError> {
/// let gateway = wasmplug_gateway::Gateway::from_file("gateway.toml".as_ref()).await?;
/// println!("listening on {}", gateway.local_addr());
/// gateway.serve(async { tokio::signal::ctrl_c().await.ok(); }).await
/// # }
/// ```
pub struct Gateway {
    shared: Arc<Shared>,
    listener: TcpListener,
    admin: Option<TcpListener>,
}

/// What every connection task shares.
struct Shared {
    pipeline: Pipeline,
    client: Client<HttpConnector, Full<Bytes>>,
    upstream: Uri,
    max_body: usize,
}

/// A handle on a serving gateway: reload it, read its metrics.
#[derive(Clone)]
pub struct GatewayHandle {
    shared: Arc<Shared>,
}

impl GatewayHandle {
    /// Reloads the configuration and the filters' plugins; see
    /// [`Gateway`]'s reload notes. The same as `POST /reload` on the admin
    /// listener.
    ///
    /// # Errors
    ///
    /// Any error loading the configuration or a plugin; the running chain
    /// then keeps serving, unchanged.
    pub async fn reload(&self) -> Result<ReloadReport, GatewayError> {
        self.shared.pipeline.reload().await
    }

    /// The gateway's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.shared.pipeline.metrics
    }
}

impl std::fmt::Debug for GatewayHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayHandle")
            .field("upstream", &self.shared.upstream)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("listen", &self.listener.local_addr().ok())
            .field("admin", &self.admin_addr())
            .field("upstream", &self.shared.upstream)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// Loads the configuration at `path`, opens every filter and binds the
    /// listeners. Reloads read `path` again.
    ///
    /// # Errors
    ///
    /// A bad configuration, a plugin that cannot be found or loaded, or an
    /// address that cannot be bound.
    pub async fn from_file(path: &Path) -> Result<Gateway, GatewayError> {
        let config = Config::load(path)?;
        Gateway::start(config, Some(path.to_owned())).await
    }

    /// [`from_file`](Self::from_file) with a configuration in memory;
    /// reloads keep it and re-resolve its plugins.
    ///
    /// # Errors
    ///
    /// As [`from_file`](Self::from_file).
    pub async fn new(config: Config) -> Result<Gateway, GatewayError> {
        Gateway::start(config, None).await
    }

    async fn start(
        config: Config,
        path: Option<std::path::PathBuf>,
    ) -> Result<Gateway, GatewayError> {
        let runtime = runtime_for(&config)?;
        let bind = |addr: SocketAddr| async move {
            TcpListener::bind(addr)
                .await
                .map_err(|source| GatewayError::Bind { addr, source })
        };
        let listener = bind(config.listen).await?;
        let admin = match config.admin {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        let upstream = config.upstream.clone();
        let max_body = config.max_body;
        let pipeline = Pipeline::new(runtime, config, path).await?;
        Ok(Gateway {
            shared: Arc::new(Shared {
                pipeline,
                client,
                upstream,
                max_body,
            }),
            listener,
            admin,
        })
    }

    /// Where clients connect.
    ///
    /// # Panics
    ///
    /// If the socket has no local address (it was bound, so it has one).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener")
    }

    /// Where the admin listener is, if there is one.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// A handle for reloads and metrics, usable while it serves.
    pub fn handle(&self) -> GatewayHandle {
        GatewayHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    /// Serves until `shutdown` completes, then stops accepting, lets the
    /// requests in flight finish (up to the configuration's `drain_ms`)
    /// and returns. Idle keep-alive connections are closed at once.
    ///
    /// # Errors
    ///
    /// None today: failed connections and requests are logged, not
    /// returned. The `Result` leaves room for listener failures.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), GatewayError> {
        let graceful = GracefulShutdown::new();
        let drain = Duration::from_millis(self.shared.pipeline.config().drain_ms);
        tracing::info!(
            listen = %self.local_addr(),
            admin = ?self.admin_addr(),
            upstream = %self.shared.upstream,
            "serving"
        );
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => self.connection(&graceful, stream, false),
                    Err(e) => accept_failed(&e).await,
                },
                accepted = accept(self.admin.as_ref()) => match accepted {
                    Ok((stream, _)) => self.connection(&graceful, stream, true),
                    Err(e) => accept_failed(&e).await,
                },
                () = &mut shutdown => break,
            }
        }
        drop(self.listener);
        drop(self.admin);
        tracing::info!("shutting down: draining requests in flight");
        match tokio::time::timeout(drain, graceful.shutdown()).await {
            Ok(()) => tracing::info!("drained; stopped"),
            Err(_) => tracing::warn!(
                ?drain,
                "requests still in flight after the drain time; stopped"
            ),
        }
        Ok(())
    }

    /// Serves one accepted connection on a task of its own, watched by
    /// `graceful`.
    fn connection(&self, graceful: &GracefulShutdown, stream: TcpStream, admin: bool) {
        // Small request/response exchanges: Nagle's delay would dominate.
        let _ = stream.set_nodelay(true);
        let shared = Arc::clone(&self.shared);
        let service = service_fn(move |req| {
            let shared = Arc::clone(&shared);
            async move {
                Ok::<_, Infallible>(if admin {
                    admin_request(&shared, req).await
                } else {
                    proxy(&shared, req).await
                })
            }
        });
        let connection = hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), service);
        let watched = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = watched.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
}

async fn accept(listener: Option<&TcpListener>) -> std::io::Result<(TcpStream, SocketAddr)> {
    match listener {
        Some(listener) => listener.accept().await,
        None => std::future::pending().await,
    }
}

/// Out of file descriptors and the like: say so, and do not spin.
async fn accept_failed(e: &std::io::Error) {
    tracing::warn!(error = %e, "accept failed");
    tokio::time::sleep(Duration::from_millis(10)).await;
}

/// One client request: read it, run the chain, forward or answer.
async fn proxy(shared: &Shared, req: hyper::Request<Incoming>) -> hyper::Response<Body> {
    let metrics = &shared.pipeline.metrics;
    metrics.request();
    let response = proxy_unmetered(shared, req).await;
    metrics.response(response.status().as_u16());
    response
}

async fn proxy_unmetered(shared: &Shared, req: hyper::Request<Incoming>) -> hyper::Response<Body> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, shared.max_body).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            return text(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
        }
        Err(e) => {
            return text(
                StatusCode::BAD_REQUEST,
                &format!("cannot read the body: {e}"),
            );
        }
    };
    let request = Request {
        method: parts.method.as_str().to_owned(),
        path: parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned()),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                (name.as_str().to_owned(), value)
            })
            .collect(),
        body: body.into(),
    };
    let chain = shared.pipeline.chain();
    match chain.run(Arc::new(request)).await {
        Decision::Answer(status, reason) => text(status, &reason),
        Decision::Forward(req) => forward(shared, Arc::unwrap_or_clone(req)).await,
    }
}

/// Sends the (rewritten) request upstream and streams its answer back.
async fn forward(shared: &Shared, req: Request) -> hyper::Response<Body> {
    let upstream = &shared.upstream;
    let Ok(uri) = format!(
        "{}://{}{}",
        upstream.scheme_str().unwrap_or("http"),
        upstream.authority().map_or("", |a| a.as_str()),
        req.path
    )
    .parse::<Uri>() else {
        return text(
            StatusCode::BAD_REQUEST,
            "the rewritten path is not a valid URI",
        );
    };
    let Ok(method) = Method::from_bytes(req.method.as_bytes()) else {
        return text(StatusCode::BAD_REQUEST, "bad method");
    };
    let mut outgoing = hyper::Request::new(Full::new(Bytes::from(req.body)));
    *outgoing.method_mut() = method;
    *outgoing.uri_mut() = uri;
    let headers = outgoing.headers_mut();
    for (name, value) in req.headers {
        if HOP_BY_HOP.contains(&name.as_str()) {
            continue;
        }
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            (Ok(name), Ok(value)) => {
                headers.append(name, value);
            }
            _ => {
                return text(
                    StatusCode::BAD_REQUEST,
                    &format!("header `{name}` is not valid HTTP"),
                );
            }
        }
    }
    match shared.client.request(outgoing).await {
        Ok(response) => {
            let mut response = response.map(BodyExt::boxed);
            for name in &HOP_BY_HOP[..7] {
                response.headers_mut().remove(*name);
            }
            response
        }
        Err(e) => {
            shared.pipeline.metrics.upstream_error();
            tracing::warn!(error = %e, upstream = %upstream, "upstream failed");
            text(StatusCode::BAD_GATEWAY, "upstream unavailable")
        }
    }
}

/// `GET /metrics`, `POST /reload`.
async fn admin_request(shared: &Shared, req: hyper::Request<Incoming>) -> hyper::Response<Body> {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/metrics") => {
            let mut response = text(StatusCode::OK, &shared.pipeline.metrics.render());
            response.headers_mut().insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/plain; version=0.0.4"),
            );
            response
        }
        (&Method::POST, "/reload") => match shared.pipeline.reload().await {
            Ok(report) => text(StatusCode::OK, &format!("{report:?}")),
            Err(e) => text(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        },
        _ => text(StatusCode::NOT_FOUND, "admin: GET /metrics, POST /reload"),
    }
}

/// A plain-text response of the gateway's own.
pub(crate) fn text(status: StatusCode, body: &str) -> hyper::Response<Body> {
    let mut response = hyper::Response::new(
        Full::new(Bytes::from(format!("{body}\n")))
            .map_err(|never| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}
