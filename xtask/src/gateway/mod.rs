//! The gateway job (`cargo run --release -p xtask -- gateway`): the
//! gateway under load on loopback, in this process, with the echo
//! upstream and a bounded load generator ([`load`]), for no filter, one
//! filter and three, on each backend; then the two 30 s runs (the auth
//! filter reloaded every second; a filter trapping on 1 % of requests).

pub mod load;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use tokio::net::TcpListener;
use wasmplug_gateway::{Backend, Config, FilterConfig, Gateway, GatewayHandle};

use crate::Guests;
use crate::report::{FaultRun, GatewayReport, LoadRow, Machine, ReloadRun};
use load::Limits;

/// How long and how much each run of the job is.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Connections sending at once.
    pub concurrency: usize,
    /// Each load-table row: at most this many requests ...
    pub row_requests: u64,
    /// ... and at most this long.
    pub row_time: Duration,
    /// The reload and fault runs' length.
    pub long_time: Duration,
}

impl Plan {
    /// The job's plan: 64 connections, rows of at most 100 000 requests or
    /// 5 s, the two long runs 30 s.
    pub fn standard() -> Plan {
        Plan {
            concurrency: 64,
            row_requests: 100_000,
            row_time: Duration::from_secs(5),
            long_time: Duration::from_secs(30),
        }
    }
}

/// A plugin directory with the bundled filters in it, under `root`.
struct Plugins {
    dir: PathBuf,
    auth_v1: Vec<u8>,
    auth_v2: Vec<u8>,
}

impl Plugins {
    fn new(guests: &Guests, root: &Path) -> Result<Plugins> {
        let dir = root.join("plugins");
        std::fs::create_dir_all(&dir)?;
        let auth_v1 = std::fs::read(guests.wasm("auth-filter"))?;
        let auth_v2 = std::fs::read(guests.wasm("auth-filter-next"))?;
        std::fs::write(dir.join("auth-filter.wasm"), &auth_v1)?;
        std::fs::copy(guests.wasm("fault-filter"), dir.join("fault-filter.wasm"))?;
        for name in ["auth-filter", "fault-filter"] {
            let from = guests.native(name);
            std::fs::copy(&from, dir.join(from.file_name().expect("a file")))?;
        }
        Ok(Plugins {
            dir,
            auth_v1,
            auth_v2,
        })
    }

    /// Makes `auth-filter.wasm` release 1.0.0 (`false`) or 1.1.0 (`true`),
    /// atomically.
    fn set_auth(&self, next: bool) -> Result<()> {
        let tmp = self.dir.join("auth-filter.wasm.tmp");
        std::fs::write(&tmp, if next { &self.auth_v2 } else { &self.auth_v1 })?;
        std::fs::rename(&tmp, self.dir.join("auth-filter.wasm"))?;
        Ok(())
    }
}

/// A filter of the job's chains.
fn filter(plugin: &str, backend: Backend, settings: &[(&str, &str)]) -> FilterConfig {
    let file = match (backend, plugin) {
        (Backend::Native, "auth-filter@1") => Some(native_file("auth-filter")),
        (Backend::Native, _) => Some(native_file("fault-filter")),
        _ => None,
    };
    let text = format!("plugin = \"{plugin}\"\nbackend = \"{backend}\"\n");
    let mut config: FilterConfig = toml::from_str(&text).expect("a valid filter");
    config.file = file;
    config.settings = settings
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    config
}

fn native_file(name: &str) -> PathBuf {
    PathBuf::from(format!(
        "{}{}{}",
        std::env::consts::DLL_PREFIX,
        name.replace('-', "_"),
        std::env::consts::DLL_SUFFIX
    ))
}

/// A gateway on a free loopback port in front of `upstream`.
async fn start(
    plugins: &Plugins,
    upstream: SocketAddr,
    filters: Vec<FilterConfig>,
) -> Result<(
    SocketAddr,
    GatewayHandle,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
)> {
    let text = format!(
        "listen = \"127.0.0.1:0\"\nupstream = \"http://{upstream}\"\nplugin_dir = \"{}\"\n",
        plugins.dir.display()
    );
    let mut config = Config::parse(&text, Path::new("(xtask gateway)"), &plugins.dir)?;
    config.filters = filters;
    let gateway = Gateway::new(config).await?;
    let addr = gateway.local_addr();
    let handle = gateway.handle();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let served = tokio::spawn(async move {
        let _ = gateway
            .serve(async {
                let _ = stopped.await;
            })
            .await;
    });
    Ok((addr, handle, stop, served))
}

/// Runs the job on a 2-worker tokio runtime.
///
/// # Errors
///
/// If a gateway cannot start or a plugin cannot load.
pub fn run(guests: &Guests, plan: Plan, machine: Machine) -> Result<GatewayReport> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting tokio")?;
    runtime.block_on(run_async(guests, plan, machine))
}

async fn run_async(guests: &Guests, plan: Plan, machine: Machine) -> Result<GatewayReport> {
    let root = tempfile::tempdir().context("a scratch directory")?;
    let plugins = Plugins::new(guests, root.path())?;
    let upstream_listener = TcpListener::bind("127.0.0.1:0").await?;
    let upstream = upstream_listener.local_addr()?;
    let (stop_upstream, upstream_stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(wasmplug_gateway::serve_echo(upstream_listener, async {
        let _ = upstream_stopped.await;
    }));

    let limits = Limits {
        concurrency: plan.concurrency,
        requests: plan.row_requests,
        time: plan.row_time,
        latencies: true,
    };
    let pass = [("trap-every", "0")];
    let three = |backend| {
        vec![
            filter("auth-filter@1", backend, &[]),
            filter("fault-filter@1", backend, &pass),
            filter("fault-filter@1", backend, &pass),
        ]
    };
    let chains: Vec<(&str, &str, Vec<FilterConfig>)> = vec![
        ("no filter", "–", vec![]),
        (
            "1 filter",
            "wasm",
            vec![filter("auth-filter@1", Backend::Wasm, &[])],
        ),
        (
            "1 filter",
            "native",
            vec![filter("auth-filter@1", Backend::Native, &[])],
        ),
        ("3 filters", "wasm", three(Backend::Wasm)),
        ("3 filters", "native", three(Backend::Native)),
    ];
    let mut rows = Vec::new();
    for (chain, backend, filters) in &chains {
        eprintln!(
            "gateway: {chain}, {backend}, {} connections ...",
            limits.concurrency
        );
        rows.push(measure(&plugins, upstream, chain, backend, filters.clone(), limits).await?);
    }
    // One connection: the latency a filter adds without queueing behind
    // the other connections' requests.
    let one = Limits {
        concurrency: 1,
        requests: plan.row_requests / 5,
        time: plan.row_time / 2,
        latencies: true,
    };
    let mut latency = Vec::new();
    for (chain, backend, filters) in chains.iter().take(3) {
        eprintln!("gateway: {chain}, {backend}, 1 connection ...");
        latency.push(measure(&plugins, upstream, chain, backend, filters.clone(), one).await?);
    }

    eprintln!(
        "gateway: reloading every second for {:?} ...",
        plan.long_time
    );
    let reload = reload_run(&plugins, upstream, plan).await?;
    eprintln!(
        "gateway: a filter trapping on 1 % of requests for {:?} ...",
        plan.long_time
    );
    let faults = fault_run(&plugins, upstream, plan).await?;
    let _ = stop_upstream.send(());
    Ok(GatewayReport {
        machine,
        concurrency: plan.concurrency,
        rows,
        latency,
        reload,
        faults,
    })
}

/// One row: a gateway with `filters`, warmed up, then under `limits`.
async fn measure(
    plugins: &Plugins,
    upstream: SocketAddr,
    chain: &str,
    backend: &str,
    filters: Vec<FilterConfig>,
    limits: Limits,
) -> Result<LoadRow> {
    let specs: Vec<String> = filters.iter().map(|f| f.plugin.clone()).collect();
    let (addr, handle, stop, served) = start(plugins, upstream, filters).await?;
    let warm = Limits {
        requests: 2_000,
        latencies: false,
        ..limits
    };
    let _ = load::run(addr, "/v1/items", warm, None).await;
    let (calls_before, time_before) = in_filters(&handle, &specs);
    let outcome = load::run(addr, "/v1/items", limits, None).await;
    let (calls, time) = in_filters(&handle, &specs);
    let per_request = (!specs.is_empty()).then(|| {
        // Each request calls every filter once.
        let requests = (calls - calls_before) as f64 / specs.len() as f64;
        (time - time_before).as_secs_f64() * 1e6 / requests.max(1.0)
    });
    let _ = stop.send(());
    served.await?;
    let ok = outcome.statuses.get(&200).copied().unwrap_or(0);
    Ok(LoadRow {
        chain: chain.to_owned(),
        backend: backend.to_owned(),
        requests: outcome.answered,
        errors: outcome.sent - ok,
        rate: outcome.rate(),
        p50_us: outcome.quantile(0.5).as_secs_f64() * 1e6,
        p99_us: outcome.quantile(0.99).as_secs_f64() * 1e6,
        in_filters_us: per_request,
    })
}

/// Calls made and time spent in all of the chain's filters so far.
fn in_filters(handle: &GatewayHandle, specs: &[String]) -> (u64, Duration) {
    specs
        .iter()
        .enumerate()
        .filter_map(|(i, spec)| handle.metrics().filter_time(&format!("{i}:{spec}")))
        .fold((0, Duration::ZERO), |(n, t), (calls, time)| {
            (n + calls, t + time)
        })
}

/// The auth filter (stamping its version) reloaded every second, its file
/// alternating between releases 1.0.0 and 1.1.0, under load.
async fn reload_run(plugins: &Plugins, upstream: SocketAddr, plan: Plan) -> Result<ReloadRun> {
    plugins.set_auth(false)?;
    let filters = vec![filter(
        "auth-filter@1",
        Backend::Wasm,
        &[("version-header", "x-auth-version")],
    )];
    let (addr, handle, stop, served) = start(plugins, upstream, filters).await?;
    let limits = Limits {
        concurrency: plan.concurrency,
        requests: u64::MAX,
        time: plan.long_time,
        latencies: false,
    };
    let by_version = Arc::new(Mutex::new(BTreeMap::<String, u64>::new()));
    let not_exactly_one = Arc::new(AtomicU64::new(0));
    let observer: load::Observer = {
        let by_version = Arc::clone(&by_version);
        let not_exactly_one = Arc::clone(&not_exactly_one);
        Arc::new(move |seen: &load::Seen| match seen.versions.as_slice() {
            [one] => {
                *by_version
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .entry(one.clone())
                    .or_default() += 1;
            }
            _ if seen.status == Some(200) => {
                not_exactly_one.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        })
    };
    let load = tokio::spawn(load::run(addr, "/v1/items", limits, Some(observer)));
    let mut next = true;
    while !load.is_finished() {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if load.is_finished() {
            break;
        }
        plugins.set_auth(next)?;
        let report = handle.reload().await?;
        ensure!(
            report.replaced.len() == 1,
            "a reload swapped nothing: {report:?}"
        );
        next = !next;
    }
    let outcome = load.await?;
    let _ = stop.send(());
    served.await?;
    let by_version = by_version
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    Ok(ReloadRun {
        seconds: outcome.elapsed.as_secs_f64(),
        requests: outcome.sent,
        failed: outcome.sent - outcome.statuses.get(&200).copied().unwrap_or(0),
        reloads: handle.metrics().reloads(),
        by_version,
        not_exactly_one: not_exactly_one.load(Ordering::Relaxed),
    })
}

/// The fault filter trapping on every 100th request id, under load; the
/// load generator keeps counters only, so that resident memory is the
/// gateway's.
async fn fault_run(plugins: &Plugins, upstream: SocketAddr, plan: Plan) -> Result<FaultRun> {
    let filters = vec![filter(
        "fault-filter@1",
        Backend::Wasm,
        &[("trap-every", "100")],
    )];
    let (addr, _handle, stop, served) = start(plugins, upstream, filters).await?;
    let limits = Limits {
        concurrency: plan.concurrency,
        requests: u64::MAX,
        time: plan.long_time,
        latencies: false,
    };
    // Expected 500, got 500, others, others 200, no response.
    let counts: Arc<[AtomicU64; 5]> = Arc::new(Default::default());
    let observer: load::Observer = {
        let counts = Arc::clone(&counts);
        Arc::new(move |seen: &load::Seen| {
            let add = |i: usize| {
                counts[i].fetch_add(1, Ordering::Relaxed);
            };
            if seen.status.is_none() {
                add(4);
            }
            if seen.id.is_multiple_of(100) {
                add(0);
                if seen.status == Some(500) {
                    add(1);
                }
            } else {
                add(2);
                if seen.status == Some(200) {
                    add(3);
                }
            }
        })
    };
    let load = tokio::spawn(load::run(addr, "/v1/items", limits, Some(observer)));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_start_kib = rss_kib();
    tokio::time::sleep(plan.long_time / 2).await;
    let rss_middle_kib = rss_kib();
    let outcome = load.await?;
    let rss_end_kib = rss_kib();
    let _ = stop.send(());
    served.await?;
    let count = |i: usize| counts[i].load(Ordering::Relaxed);
    Ok(FaultRun {
        seconds: outcome.elapsed.as_secs_f64(),
        requests: outcome.sent,
        expected_500: count(0),
        got_500: count(1),
        others: count(2),
        others_200: count(3),
        failed: count(4),
        rss_start_kib,
        rss_middle_kib,
        rss_end_kib,
    })
}

/// This process's resident memory, KiB (0 where `/proc` has no answer).
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}
