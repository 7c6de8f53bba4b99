//! A bounded HTTP/1.1 load generator on hyper: `concurrency` connections,
//! each sending one request after another, until a request count or a
//! time limit is reached ([`run`]).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// How much load, for how long.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Connections sending at once.
    pub concurrency: usize,
    /// Requests in all, at most.
    pub requests: u64,
    /// Time, at most.
    pub time: Duration,
    /// Whether to keep every latency (16 bytes a request; off for the long
    /// runs, whose memory is measured).
    pub latencies: bool,
}

/// Sees every response (or failure) as it arrives, from every connection.
pub type Observer = Arc<dyn Fn(&Seen) + Send + Sync>;

/// What one response said, for the caller's checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The request's id (its `x-request-id`).
    pub id: u64,
    /// The response status, or `None` if the request failed (connection
    /// error).
    pub status: Option<u16>,
    /// Every value of the `x-auth-version` response header.
    pub versions: Vec<String>,
}

/// What a run measured.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Requests sent.
    pub sent: u64,
    /// Responses by status.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests that got no response (a connection error).
    pub failed: u64,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// Requests answered.
    pub answered: u64,
    /// Latency of every answered request, sorted (when kept).
    pub latencies: Vec<Duration>,
}

impl Outcome {
    /// Answered requests per second.
    pub fn rate(&self) -> f64 {
        self.answered as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// The `q` quantile of the latencies (0.5: the median).
    pub fn quantile(&self, q: f64) -> Duration {
        if self.latencies.is_empty() {
            return Duration::ZERO;
        }
        let i = ((self.latencies.len() - 1) as f64 * q).round() as usize;
        self.latencies[i.min(self.latencies.len() - 1)]
    }
}

/// Sends `GET path` with `authorization: Bearer alice` and
/// `x-request-id: <n>` (n counting from 1) to `addr` under `limits`;
/// `observer`, if any, sees each response.
pub async fn run(
    addr: SocketAddr,
    path: &str,
    limits: Limits,
    observer: Option<Observer>,
) -> Outcome {
    let next = Arc::new(AtomicU64::new(1));
    let started = Instant::now();
    let deadline = started + limits.time;
    let mut workers = Vec::new();
    for _ in 0..limits.concurrency {
        let next = Arc::clone(&next);
        let path = path.to_owned();
        let observer = observer.clone();
        workers.push(tokio::spawn(async move {
            worker(addr, &path, &next, limits, deadline, observer.as_deref()).await
        }));
    }
    let mut total = Outcome::default();
    for worker in workers {
        let part = worker.await.expect("a load worker panicked");
        total.sent += part.sent;
        total.failed += part.failed;
        for (status, n) in part.statuses {
            *total.statuses.entry(status).or_default() += n;
        }
        total.answered += part.answered;
        total.latencies.extend(part.latencies);
    }
    total.elapsed = started.elapsed();
    total.latencies.sort_unstable();
    total
}

type Sender = hyper::client::conn::http1::SendRequest<Empty<Bytes>>;

async fn connect(addr: SocketAddr) -> Option<Sender> {
    let stream = TcpStream::connect(addr).await.ok()?;
    stream.set_nodelay(true).ok()?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(connection);
    Some(sender)
}

async fn worker(
    addr: SocketAddr,
    path: &str,
    next: &AtomicU64,
    limits: Limits,
    deadline: Instant,
    observer: Option<&(dyn Fn(&Seen) + Send + Sync)>,
) -> Outcome {
    let max = limits.requests;
    let mut out = Outcome::default();
    let mut sender = None;
    loop {
        if Instant::now() >= deadline {
            break;
        }
        let id = next.fetch_add(1, Ordering::Relaxed);
        if id > max {
            break;
        }
        out.sent += 1;
        if sender.is_none() {
            sender = connect(addr).await;
        }
        let Some(s) = sender.as_mut() else {
            out.failed += 1;
            if let Some(observe) = observer {
                observe(&Seen {
                    id,
                    status: None,
                    versions: Vec::new(),
                });
            }
            continue;
        };
        let request = hyper::Request::get(path)
            .header("host", "gateway.test")
            .header("authorization", "Bearer alice")
            .header("x-request-id", id.to_string())
            .body(Empty::new())
            .expect("a valid request");
        let started = Instant::now();
        let answered = async {
            s.ready().await?;
            let response = s.send_request(request).await?;
            let status = response.status().as_u16();
            let versions = response
                .headers()
                .get_all("x-auth-version")
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect::<Vec<_>>();
            response.into_body().collect().await?;
            Ok::<_, hyper::Error>((status, versions))
        }
        .await;
        match answered {
            Ok((status, versions)) => {
                out.answered += 1;
                if limits.latencies {
                    out.latencies.push(started.elapsed());
                }
                *out.statuses.entry(status).or_default() += 1;
                if let Some(observe) = observer {
                    observe(&Seen {
                        id,
                        status: Some(status),
                        versions,
                    });
                }
            }
            Err(_) => {
                out.failed += 1;
                sender = None;
                if let Some(observe) = observer {
                    observe(&Seen {
                        id,
                        status: None,
                        versions: Vec::new(),
                    });
                }
            }
        }
    }
    out
}
