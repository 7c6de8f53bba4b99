//! The gateway job (`cargo run --release -p xtask -- gateway`): the
//! gateway under load on loopback, in this process, with the echo
//! upstream and a bounded load generator ([`load`]), for no filter, one
//! filter and three, on each backend; then the two 30 s runs (the auth
//! filter reloaded every second; a filter trapping on 1 % of requests).

pub mod load;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, ensure};
use tokio::net::TcpListener;
use wasmplug_gateway::{Backend, Config, FilterConfig, Gateway, GatewayHandle};

use crate::Guests;
use crate::report::{FaultRun, GatewayReport, LoadRow, Machine, ReloadRun};
use load::{Limits, Outcome};

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
    };
    let pass = [("trap-every", "0")];
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
        (
            "3 filters",
            "wasm",
            vec![
                filter("auth-filter@1", Backend::Wasm, &[]),
                filter("fault-filter@1", Backend::Wasm, &pass),
                filter("fault-filter@1", Backend::Wasm, &pass),
            ],
        ),
        (
            "3 filters",
            "native",
            vec![
                filter("auth-filter@1", Backend::Native, &[]),
                filter("fault-filter@1", Backend::Native, &pass),
                filter("fault-filter@1", Backend::Native, &pass),
            ],
        ),
    ];
    let mut rows = Vec::new();
    for (chain, backend, filters) in chains {
        eprintln!("gateway: {chain}, {backend} ...");
        let count = filters.len();
        let specs: Vec<String> = filters.iter().map(|f| f.plugin.clone()).collect();
        let (addr, handle, stop, served) = start(&plugins, upstream, filters).await?;
        // Warm the pools and connections first.
        let _ = load::run(
            addr,
            "/v1/items",
            Limits {
                requests: 2_000,
                ..limits
            },
            false,
        )
        .await;
        let outcome = load::run(addr, "/v1/items", limits, false).await;
        let in_filters = (count > 0).then(|| {
            specs
                .iter()
                .enumerate()
                .filter_map(|(i, spec)| handle.metrics().filter_time(&format!("{i}:{spec}")))
                .map(|(n, total)| total.as_secs_f64() * 1e6 / n.max(1) as f64)
                .sum::<f64>()
        });
        rows.push(row(chain, backend, &outcome, in_filters));
        let _ = stop.send(());
        served.await?;
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
        reload,
        faults,
    })
}

fn row(chain: &str, backend: &str, o: &Outcome, in_filters_us: Option<f64>) -> LoadRow {
    let ok = o.statuses.get(&200).copied().unwrap_or(0);
    LoadRow {
        chain: chain.to_owned(),
        backend: backend.to_owned(),
        requests: o.latencies.len() as u64,
        errors: o.sent - ok,
        rate: o.rate(),
        p50_us: o.quantile(0.5).as_secs_f64() * 1e6,
        p99_us: o.quantile(0.99).as_secs_f64() * 1e6,
        in_filters_us,
    }
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
    };
    let load = tokio::spawn(load::run(addr, "/v1/items", limits, true));
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
    let mut by_version = BTreeMap::new();
    let mut not_exactly_one = 0;
    for seen in &outcome.seen {
        match seen.versions.as_slice() {
            [one] => *by_version.entry(one.clone()).or_default() += 1,
            _ if seen.status == Some(200) => not_exactly_one += 1,
            _ => {}
        }
    }
    Ok(ReloadRun {
        seconds: outcome.elapsed.as_secs_f64(),
        requests: outcome.sent,
        failed: outcome.sent - outcome.statuses.get(&200).copied().unwrap_or(0),
        reloads: handle.metrics().reloads(),
        by_version,
        not_exactly_one,
    })
}

/// The fault filter trapping on every 100th request id, under load.
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
    };
    let load = tokio::spawn(load::run(addr, "/v1/items", limits, true));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_start_kib = rss_kib();
    let outcome = load.await?;
    let rss_end_kib = rss_kib();
    let _ = stop.send(());
    served.await?;
    let mut run = FaultRun {
        seconds: outcome.elapsed.as_secs_f64(),
        requests: outcome.sent,
        expected_500: 0,
        got_500: 0,
        others: 0,
        others_200: 0,
        failed: 0,
        rss_start_kib,
        rss_end_kib,
    };
    for seen in &outcome.seen {
        if seen.status.is_none() {
            run.failed += 1;
        }
        if seen.id % 100 == 0 {
            run.expected_500 += 1;
            run.got_500 += u64::from(seen.status == Some(500));
        } else {
            run.others += 1;
            run.others_200 += u64::from(seen.status == Some(200));
        }
    }
    Ok(run)
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
