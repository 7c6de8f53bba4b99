//! The sandbox a plugin's instances run in: the embedder's options for it
//! (settings, capabilities, limits, the manifest beside it) joined with
//! what the engine supports, and the rules that make a failed call a typed
//! error.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::{Engine, Store};

use crate::capabilities::Capabilities;
use crate::concurrency::Concurrency;
use crate::error::{Error, Origin, Result, chain};
use crate::limits::{DEFAULT_MAX_TRANSFER, Exceeded, Limit, Limiter, Limits};
use crate::manifest::Manifest;
use crate::state::PluginState;

/// What the embedder chose for one plugin (see [`Loader`](crate::Loader)).
#[derive(Debug, Clone, Default)]
pub(crate) struct Options {
    /// The embedder's settings for `init` (the manifest's and the plugin's
    /// declared defaults are added under them).
    pub(crate) config: Vec<(String, String)>,
    pub(crate) capabilities: Capabilities,
    pub(crate) limits: Limits,
    /// The manifest beside the plugin file, if any.
    pub(crate) manifest: Option<Arc<Manifest>>,
    /// Shared or pooled.
    pub(crate) concurrency: Concurrency,
}

impl Options {
    /// The settings `init` is asked for before the plugin's own declared
    /// defaults: the embedder's over the manifest's, in a canonical order.
    fn requested_config(&self) -> Vec<(String, String)> {
        let mut config = match &self.manifest {
            Some(m) => m.config(&self.config),
            None => self.config.clone(),
        };
        config.sort();
        config
    }

    /// Equal for options that make the same plugin (same settings,
    /// capabilities and limits), whatever order they were given in.
    pub(crate) fn fingerprint(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        self.requested_config().hash(&mut hasher);
        self.capabilities.hash(&mut hasher);
        self.limits.hash(&mut hasher);
        self.concurrency.hash(&mut hasher);
        hasher.finish()
    }

    /// What differs between the options a plugin is live with (`self`) and
    /// those it is asked for again with (`requested`), one line each.
    pub(crate) fn differences(&self, requested: &Options) -> Vec<String> {
        let mut out = Vec::new();
        let (live, asked) = (self.requested_config(), requested.requested_config());
        if live != asked {
            out.push(format!(
                "settings: live with {}, asked for {}",
                show_config(&live),
                show_config(&asked)
            ));
        }
        if self.capabilities != requested.capabilities {
            out.push(format!(
                "capabilities: live with {:?}, asked for {:?}",
                self.capabilities, requested.capabilities
            ));
        }
        if self.concurrency != requested.concurrency {
            out.push(format!(
                "concurrency: live {:?}, asked for {:?}",
                self.concurrency, requested.concurrency
            ));
        }
        if self.limits != requested.limits {
            out.push(format!(
                "limits: live with {}, asked for {}",
                self.limits, requested.limits
            ));
        }
        out
    }
}

/// The export a failed call entered the guest through, from the guest's
/// backtrace: the outermost frame whose name is an export's
/// (`interface#function`, as wit-bindgen names the function it exports).
fn export_in_backtrace(err: &wasmtime::Error) -> Option<String> {
    let backtrace = err.downcast_ref::<wasmtime::WasmBacktrace>()?;
    backtrace
        .frames()
        .iter()
        .rev()
        .find_map(|frame| frame.func_name().filter(|name| name.contains('#')))
        .map(str::to_owned)
}

fn show_config(config: &[(String, String)]) -> String {
    if config.is_empty() {
        return "none".into();
    }
    let pairs: Vec<String> = config.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", pairs.join(", "))
}

/// Engine features a runtime was built with.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Features {
    /// The epoch ticker's period, when epoch interruption is on.
    pub(crate) epoch_tick: Option<Duration>,
    /// Whether fuel metering is on.
    pub(crate) fuel: bool,
}

/// A deadline far enough away to never fire, without overflowing the epoch.
const NO_DEADLINE: u64 = u64::MAX / 2;

/// Everything needed to make and guard one plugin's instances.
pub(crate) struct Sandbox {
    pub(crate) engine: Engine,
    pub(crate) options: Options,
    features: Features,
    /// The deadline in epoch ticks, when one is set.
    deadline_ticks: Option<u64>,
    /// Keeps the runtime (and its epoch ticker) alive while the plugin is.
    _runtime: Arc<dyn std::any::Any + Send + Sync>,
}

impl Sandbox {
    pub(crate) fn new(
        engine: Engine,
        features: Features,
        options: Options,
        runtime: Arc<dyn std::any::Any + Send + Sync>,
        origin: &Origin,
    ) -> Result<Self> {
        let config_err = |reason: &str| Error::Config {
            origin: origin.clone(),
            reason: reason.to_owned(),
        };
        let deadline_ticks = match (options.limits.get_deadline(), features.epoch_tick) {
            (None, _) => None,
            (Some(_), None) => {
                return Err(config_err(
                    "a deadline needs a runtime built with `epoch_interruption(true)`",
                ));
            }
            // One tick more than the deadline spans: the epoch may advance
            // right after the deadline is set.
            (Some(deadline), Some(tick)) => {
                Some((deadline.as_nanos() / tick.as_nanos().max(1)) as u64 + 1)
            }
        };
        if options.limits.get_fuel().is_some() && !features.fuel {
            return Err(config_err(
                "a fuel limit needs a runtime built with `fuel(true)`",
            ));
        }
        Ok(Sandbox {
            engine,
            options,
            features,
            deadline_ticks,
            _runtime: runtime,
        })
    }

    /// A fresh store for one instance, with its capabilities and limits.
    pub(crate) fn store(&self, origin: &Origin, label: Arc<str>) -> Result<Store<PluginState>> {
        let wasi = self
            .options
            .capabilities
            .wasi()
            .map_err(|e| Error::Config {
                origin: origin.clone(),
                reason: e.to_string(),
            })?;
        let limiter = Limiter::new(&self.options.limits);
        let limited = limiter.is_active();
        let mut store = Store::new(&self.engine, PluginState::new(label, wasi, limiter));
        if limited {
            store.limiter(|state| state.limiter());
        }
        if let Some(max) = self.options.limits.get_max_transfer() {
            store.set_hostcall_fuel(max);
        }
        if self.features.epoch_tick.is_some() {
            store.epoch_deadline_trap();
            store.set_epoch_deadline(NO_DEADLINE);
        }
        if self.features.fuel {
            // Cannot fail: fuel metering is on for this engine.
            let _ = store.set_fuel(u64::MAX);
        }
        Ok(store)
    }

    /// Resets the per-call deadline and fuel before a call into the guest.
    #[inline]
    pub(crate) fn arm(&self, store: &mut Store<PluginState>) {
        if let Some(ticks) = self.deadline_ticks {
            store.set_epoch_deadline(ticks);
        }
        if let Some(fuel) = self.options.limits.get_fuel() {
            let _ = store.set_fuel(fuel);
        }
    }

    /// A fresh store for an instance on the async path: as [`store`](Self::store),
    /// but when epochs tick the guest yields to the async runtime at every
    /// tick instead of trapping at the deadline (the deadline is a timeout
    /// around the call, which also ends calls blocked in host imports).
    pub(crate) fn async_store(
        &self,
        origin: &Origin,
        label: Arc<str>,
    ) -> Result<Store<PluginState>> {
        let mut store = self.store(origin, label)?;
        if self.features.epoch_tick.is_some() {
            // tokio's own yield, which lets a current-thread runtime poll
            // its timers before the guest runs again (a plain wake does
            // not, for dozens of polls).
            store.epoch_deadline_callback(|_| {
                Ok(wasmtime::UpdateDeadline::YieldCustom(
                    1,
                    Box::pin(tokio::task::yield_now()),
                ))
            });
            store.set_epoch_deadline(1);
        }
        Ok(store)
    }

    /// Resets the per-call fuel before an async call into the guest (its
    /// deadline is the caller's timeout, see [`async_store`](Self::async_store)).
    #[inline]
    pub(crate) fn arm_async(&self, store: &mut Store<PluginState>) {
        if let Some(fuel) = self.options.limits.get_fuel() {
            let _ = store.set_fuel(fuel);
        }
    }

    /// The per-call deadline, if one is set.
    pub(crate) fn deadline(&self) -> Option<Duration> {
        self.options.limits.get_deadline()
    }

    /// Turns a failed guest call into the error that says why.
    pub(crate) fn fault(&self, label: &str, export: Option<&str>, err: &wasmtime::Error) -> Error {
        self.fault_through("Plugin::call", label, export, err)
    }

    /// [`fault`](Self::fault), naming `entry` (e.g. `Plugin::call`) when
    /// neither `export` nor the guest's backtrace names the export.
    pub(crate) fn fault_through(
        &self,
        entry: &str,
        label: &str,
        export: Option<&str>,
        err: &wasmtime::Error,
    ) -> Error {
        let export = match export
            .map(str::to_owned)
            .or_else(|| export_in_backtrace(err))
        {
            Some(name) => format!("`{name}`"),
            None => format!("a call through `{entry}`"),
        };
        let code = err.downcast_ref::<wasmtime::Trap>().copied();
        let limit = if let Some(Exceeded(limit)) = err.downcast_ref::<Exceeded>() {
            Some(*limit)
        } else {
            match code {
                Some(wasmtime::Trap::Interrupt) => {
                    self.options.limits.get_deadline().map(Limit::Deadline)
                }
                Some(wasmtime::Trap::OutOfFuel) => self.options.limits.get_fuel().map(Limit::Fuel),
                // wasmtime reports these only in its message.
                None => {
                    let message = chain(err);
                    if message.contains("resource limit exceeded:") {
                        self.options
                            .limits
                            .get_max_instances()
                            .map(|max| Limit::Instances { max })
                    } else if message.contains("fuel allocated for hostcalls has been exhausted") {
                        Some(Limit::Transfer {
                            max: self
                                .options
                                .limits
                                .get_max_transfer()
                                .unwrap_or(DEFAULT_MAX_TRANSFER),
                        })
                    } else {
                        None
                    }
                }
                _ => None,
            }
        };
        match limit {
            Some(limit) => Error::LimitExceeded {
                plugin: label.to_owned(),
                export,
                limit,
            },
            None => Error::Trap {
                plugin: label.to_owned(),
                export,
                code,
                reason: chain(err),
            },
        }
    }
}
