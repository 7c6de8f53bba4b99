//! A small upstream that echoes what it receives ([`serve_echo`]): for
//! the gateway's tests, the load job, and trying the gateway out.

use std::convert::Infallible;
use std::fmt::Write as _;
use std::future::Future;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Serves `listener` until `shutdown` completes. Every request is
/// answered 200 with:
///
/// - `x-echo-path`: the path and query it was sent to;
/// - every request header whose name starts with `x-`, copied;
/// - a body of lines: the method and path, then each header as
///   `name: value`, then an empty line and the request body.
///
/// A request with `x-echo-delay-ms: N` is answered after N milliseconds
/// (a slow upstream, for shutdown tests).
pub async fn serve_echo(listener: TcpListener, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let service = service_fn(|req| async { Ok::<_, Infallible>(echo(req).await) });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
            () = &mut shutdown => return,
        }
    }
}

async fn echo(req: hyper::Request<hyper::body::Incoming>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|c| c.to_bytes())
        .unwrap_or_default();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut text = format!("{} {path}\n", parts.method);
    for (name, value) in &parts.headers {
        let _ = writeln!(
            text,
            "{name}: {}",
            String::from_utf8_lossy(value.as_bytes())
        );
    }
    text.push('\n');
    text.push_str(&String::from_utf8_lossy(&body));
    let mut response = hyper::Response::new(Full::new(Bytes::from(text)));
    let headers = response.headers_mut();
    if let Ok(value) = path.parse() {
        headers.insert("x-echo-path", value);
    }
    for (name, value) in &parts.headers {
        if name.as_str().starts_with("x-") {
            headers.append(name.clone(), value.clone());
        }
    }
    response
}
