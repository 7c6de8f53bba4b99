//! The filter chain and its reload ([`Chain`], [`Pipeline`]).

use std::path::PathBuf;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Instant;

use hyper::StatusCode;
use wasmplug::Runtime;
use wasmplug_contracts::gateway::wasmplug::gateway::types::{Request, Verdict};

use crate::config::{Config, FilterConfig};
use crate::error::GatewayError;
use crate::filter::{self, Filter};
use crate::metrics::{FilterMetrics, Metrics};

/// The filters, in order.
pub(crate) struct Chain {
    filters: Vec<(Filter, Arc<FilterMetrics>)>,
}

/// What the chain decided about a request.
pub(crate) enum Decision {
    /// Forward it (rewritten by the filters that asked).
    Forward(Arc<Request>),
    /// Answer it here.
    Answer(StatusCode, String),
}

impl Chain {
    /// Runs every filter on `req`, in order; each sees the request as the
    /// filters before it rewrote it. The first rejection or fault answers
    /// the request.
    pub(crate) async fn run(&self, mut req: Arc<Request>) -> Decision {
        for (filter, metrics) in &self.filters {
            let started = Instant::now();
            let verdict = filter.on_request(&req).await;
            metrics.observe(started.elapsed());
            match verdict {
                Ok(Verdict::Allow) => {}
                Ok(Verdict::Reject(rejection)) => {
                    metrics.rejected();
                    let status = StatusCode::from_u16(rejection.status)
                        .ok()
                        .filter(|s| s.is_client_error() || s.is_server_error())
                        .unwrap_or(StatusCode::FORBIDDEN);
                    return Decision::Answer(status, rejection.reason);
                }
                Ok(Verdict::Rewrite(rewrite)) => {
                    // The call's own handle on the request is gone by now:
                    // no copy unless a caller still holds one.
                    let req = Arc::make_mut(&mut req);
                    if let Some(path) = rewrite.path {
                        req.path = path;
                    }
                    req.headers.retain(|(name, _)| {
                        !rewrite
                            .remove_headers
                            .iter()
                            .chain(rewrite.set_headers.iter().map(|(n, _)| n))
                            .any(|r| r.eq_ignore_ascii_case(name))
                    });
                    req.headers.extend(rewrite.set_headers);
                }
                Err(fault) => {
                    metrics.faulted(fault.kind());
                    let status = fault.status();
                    tracing::error!(
                        filter = %filter.name,
                        plugin = %filter.current().label(),
                        kind = fault.kind(),
                        %status,
                        error = %fault,
                        "filter failed; answering {status}"
                    );
                    return Decision::Answer(status, format!("filter {} failed", filter.name));
                }
            }
        }
        Decision::Forward(req)
    }
}

/// The live chain and what reloads it: the runtime, the configuration's
/// source, and the metrics the filters report to.
pub(crate) struct Pipeline {
    pub(crate) runtime: Runtime,
    pub(crate) metrics: Arc<Metrics>,
    /// The file reloads read again; `None` for a gateway made from a
    /// configuration in memory (reloads then re-resolve its plugins).
    config_path: Option<PathBuf>,
    config: RwLock<Config>,
    chain: RwLock<Arc<Chain>>,
    /// One reload at a time.
    reloading: tokio::sync::Mutex<()>,
}

/// What a reload changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReloadReport {
    /// Filters now served by another plugin, as `position:spec -> name@version`.
    pub replaced: Vec<String>,
    /// Whether the chain itself was rebuilt (filters added, removed,
    /// reordered or reconfigured).
    pub rebuilt: bool,
}

impl Pipeline {
    /// Opens every filter of `config`.
    pub(crate) async fn new(
        runtime: Runtime,
        config: Config,
        config_path: Option<PathBuf>,
    ) -> Result<Pipeline, GatewayError> {
        let metrics = Arc::new(Metrics::default());
        let chain = build(&runtime, &metrics, &config).await?;
        Ok(Pipeline {
            runtime,
            metrics,
            config_path,
            config: RwLock::new(config),
            chain: RwLock::new(Arc::new(chain)),
            reloading: tokio::sync::Mutex::new(()),
        })
    }

    /// The chain new requests run through.
    pub(crate) fn chain(&self) -> Arc<Chain> {
        Arc::clone(&self.chain.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The configuration in force.
    pub(crate) fn config(&self) -> Config {
        self.config
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Reads the configuration again (from its file, if it came from one)
    /// and re-resolves every filter's plugin. When the chain's shape (its
    /// filters, their settings, limits and backends) is unchanged, each
    /// filter whose resolved plugin differs is swapped in place; otherwise
    /// a new chain replaces the old. Every plugin is opened before any is
    /// swapped in: a reload that fails changes nothing. Requests in flight
    /// finish on the plugins they started on.
    pub(crate) async fn reload(&self) -> Result<ReloadReport, GatewayError> {
        let _one_at_a_time = self.reloading.lock().await;
        let outcome = self.reload_locked().await;
        self.metrics.reload(outcome.is_ok());
        match &outcome {
            Ok(report) => tracing::info!(?report, "reloaded"),
            Err(e) => tracing::error!(error = %e, "reload failed; the running chain keeps serving"),
        }
        outcome
    }

    async fn reload_locked(&self) -> Result<ReloadReport, GatewayError> {
        let old = self.config();
        let new = match &self.config_path {
            Some(path) => Config::load(path)?,
            None => old.clone(),
        };
        if new.listen != old.listen || new.upstream != old.upstream || new.admin != old.admin {
            tracing::warn!("`listen`, `upstream` and `admin` take effect on restart only");
        }
        let chain = self.chain();
        let mut report = ReloadReport::default();
        let same_shape = new.plugin_dir == old.plugin_dir && new.filters == old.filters;
        if same_shape {
            let mut opened = Vec::new();
            for (index, config) in new.filters.iter().enumerate() {
                opened.push(filter::open(&self.runtime, &new.plugin_dir, index, config).await?);
            }
            for ((filter, _), opened) in chain.filters.iter().zip(opened) {
                let label = opened.label();
                if filter.replace(opened) {
                    report.replaced.push(format!("{} -> {label}", filter.name));
                }
            }
        } else {
            let rebuilt = build(&self.runtime, &self.metrics, &new).await?;
            *self.chain.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(rebuilt);
            report.rebuilt = true;
        }
        *self.config.write().unwrap_or_else(PoisonError::into_inner) = new;
        Ok(report)
    }
}

/// Opens every filter of `config` into a new chain.
async fn build(
    runtime: &Runtime,
    metrics: &Metrics,
    config: &Config,
) -> Result<Chain, GatewayError> {
    let mut filters = Vec::new();
    for (index, filter_config) in config.filters.iter().enumerate() {
        let opened = filter::open(runtime, &config.plugin_dir, index, filter_config).await?;
        tracing::info!(
            filter = index,
            spec = %filter_config.plugin,
            plugin = %opened.label(),
            backend = %filter_config.backend,
            "filter loaded"
        );
        let filter = Filter::new(index, filter_config, opened);
        let m = metrics.filter(&filter.name);
        filters.push((filter, m));
    }
    Ok(Chain { filters })
}

/// The runtime a gateway with `config` needs: epoch interruption only when
/// a filter has a deadline (it slows guest code), and room in the
/// instance pool for every filter's pool twice over (a reload keeps the
/// old pool until its calls drain).
pub(crate) fn runtime_for(config: &Config) -> Result<Runtime, GatewayError> {
    let pooled: usize = config.filters.iter().map(|f: &FilterConfig| f.pool).sum();
    let mut builder =
        Runtime::builder().max_instances(u32::try_from(2 * pooled + 16).unwrap_or(u32::MAX));
    if config.needs_deadlines() {
        builder = builder.epoch_interruption(true);
    }
    builder
        .build()
        .map_err(|e| GatewayError::Runtime(Box::new(e)))
}
