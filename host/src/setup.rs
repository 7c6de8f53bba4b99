//! How a plugin's instances are made and guarded: its options (config,
//! capabilities, limits) joined with what the engine supports.

use std::sync::Arc;
use std::time::Duration;

use wasmtime::component::Component;
use wasmtime::{Engine, Store};

use crate::cache::Cache;
use crate::digest::Digest;

use crate::capabilities::Capabilities;
use crate::error::{Error, Origin, Result, chain};
use crate::limits::{Exceeded, Limit, Limiter, Limits};
use crate::state::PluginState;

/// What the embedder chose for one plugin (see [`Loader`](crate::Loader)).
#[derive(Debug, Clone, Default)]
pub(crate) struct Options {
    pub(crate) config: Vec<(String, String)>,
    pub(crate) capabilities: Capabilities,
    pub(crate) limits: Limits,
    /// The plugin's kind, from its manifest.
    pub(crate) kind: String,
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
pub(crate) struct Setup {
    pub(crate) engine: Engine,
    cache: Option<Arc<Cache>>,
    pub(crate) options: Options,
    features: Features,
    /// The deadline in epoch ticks, when one is set.
    deadline_ticks: Option<u64>,
    /// Keeps the runtime (and its epoch ticker) alive while the plugin is.
    _runtime: Arc<dyn std::any::Any + Send + Sync>,
}

impl Setup {
    pub(crate) fn new(
        engine: Engine,
        cache: Option<Arc<Cache>>,
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
        Ok(Setup {
            engine,
            cache,
            options,
            features,
            deadline_ticks,
            _runtime: runtime,
        })
    }

    /// Compiles `wasm` (whose SHA-256 is `digest`), through the cache when
    /// there is one.
    pub(crate) fn compile(&self, wasm: &[u8], digest: Digest) -> wasmtime::Result<Component> {
        match &self.cache {
            Some(cache) => cache.component(&self.engine, wasm, digest),
            None => Component::new(&self.engine, wasm),
        }
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

    /// Turns a failed guest call into the error that says why.
    pub(crate) fn fault(&self, label: &str, export: Option<&str>, err: &wasmtime::Error) -> Error {
        let export = export.map_or_else(|| "a typed call".to_owned(), |e| format!("`{e}`"));
        let code = err.downcast_ref::<wasmtime::Trap>().copied();
        let limit = if let Some(Exceeded(limit)) = err.downcast_ref::<Exceeded>() {
            Some(*limit)
        } else {
            match code {
                Some(wasmtime::Trap::Interrupt) => {
                    self.options.limits.get_deadline().map(Limit::Deadline)
                }
                Some(wasmtime::Trap::OutOfFuel) => self.options.limits.get_fuel().map(Limit::Fuel),
                // wasmtime reports exceeded counts only in its message.
                None if format!("{err:#}").contains("resource limit exceeded:") => self
                    .options
                    .limits
                    .get_max_instances()
                    .map(|max| Limit::Instances { max }),
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
