//! One filter of the chain: a Wasm component called on the async path from
//! a pool of instances, or a native library called in place, behind a slot
//! a reload can swap ([`Filter`]).

use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use wasmplug::{
    AsyncPlugin, AsyncReloadable, Capabilities, Concurrency, DirAccess, Limits, OnConflict,
    OnDifferentSettings, PoolConfig, Runtime, Spec,
};
use wasmplug_contracts::gateway::wasmplug::gateway::types::{Request, Verdict};
use wasmplug_contracts::{GatewayFilterApi, GatewayFilterAsync, GatewayFilterNative};
use wasmplug_native::{NativeLoader, NativePlugin};

use crate::config::{Backend, FilterConfig};
use crate::error::{FilterFault, GatewayError};

/// A filter plugin, opened but not yet serving: what a reload prepares
/// for every filter before it swaps any of them in.
#[derive(Debug)]
pub(crate) enum Opened {
    /// A Wasm filter (pooled, async).
    Wasm(AsyncPlugin<GatewayFilterAsync>),
    /// A native filter.
    Native(NativePlugin<GatewayFilterNative>),
}

impl Opened {
    /// `name@version` of the plugin.
    pub(crate) fn label(&self) -> String {
        match self {
            Opened::Wasm(p) => p.metadata().to_string(),
            Opened::Native(p) => p.label().to_owned(),
        }
    }

    /// Whether `self` and `other` are the same live plugin.
    fn same(&self, other: &Opened) -> bool {
        match (self, other) {
            (Opened::Wasm(a), Opened::Wasm(b)) => AsyncPlugin::ptr_eq(a, b),
            (Opened::Native(a), Opened::Native(b)) => NativePlugin::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// A filter of the chain, as configured, serving whichever plugin it was
/// last given.
///
/// A Wasm filter lives in an [`AsyncReloadable`]: a request in flight
/// finishes on the plugin it started on, and the replaced plugin's pool
/// is dropped (its instances' `shutdown` run) once its last call ends. A
/// native filter lives in a plain slot of its own: the bridge never
/// unloads a library (see `wasmplug-native`), so a replaced native plugin
/// only stops getting new calls.
pub(crate) struct Filter {
    /// The metrics label: `<position>:<spec>`.
    pub(crate) name: String,
    slot: Slot,
}

enum Slot {
    Wasm(AsyncReloadable<GatewayFilterAsync>),
    Native(RwLock<NativePlugin<GatewayFilterNative>>),
}

impl Filter {
    /// A filter serving `opened`.
    pub(crate) fn new(index: usize, config: &FilterConfig, opened: Opened) -> Filter {
        let slot = match opened {
            Opened::Wasm(p) => Slot::Wasm(AsyncReloadable::new(p)),
            Opened::Native(p) => Slot::Native(RwLock::new(p)),
        };
        Filter {
            name: format!("{index}:{}", config.plugin),
            slot,
        }
    }

    /// The plugin serving new calls.
    pub(crate) fn current(&self) -> Opened {
        match &self.slot {
            Slot::Wasm(slot) => Opened::Wasm(slot.current()),
            Slot::Native(slot) => {
                Opened::Native(slot.read().unwrap_or_else(PoisonError::into_inner).clone())
            }
        }
    }

    /// Makes `opened` serve new calls; `false` (and nothing changes) when
    /// it is the plugin already serving.
    pub(crate) fn replace(&self, opened: Opened) -> bool {
        if self.current().same(&opened) {
            return false;
        }
        match (&self.slot, opened) {
            (Slot::Wasm(slot), Opened::Wasm(p)) => drop(slot.replace(p)),
            (Slot::Native(slot), Opened::Native(p)) => {
                *slot.write().unwrap_or_else(PoisonError::into_inner) = p;
            }
            // A filter's backend is part of its configuration: a change of
            // backend builds a new chain instead.
            _ => unreachable!("a filter's backend does not change in place"),
        }
        true
    }

    /// Runs the filter on `req`.
    ///
    /// A Wasm filter is called on the async path: the request is handed
    /// to one of the pool's instances, and a spinning guest yields at every
    /// epoch tick until its deadline cancels it. A native filter is a plain
    /// function call on this runtime thread: microseconds for a filter like
    /// the bundled ones, but nothing can interrupt it, so a native filter
    /// that blocks or loops stalls this worker thread.
    pub(crate) async fn on_request(&self, req: &Arc<Request>) -> Result<Verdict, FilterFault> {
        match &self.slot {
            Slot::Wasm(slot) => {
                let req = Arc::clone(req);
                let verdict = slot
                    .call_async(move |filter, store| {
                        Box::pin(async move {
                            filter
                                .wasmplug_gateway_filter()
                                .call_on_request(store, &req)
                                .await
                        })
                    })
                    .await?;
                Ok(verdict)
            }
            Slot::Native(slot) => {
                let plugin = slot.read().unwrap_or_else(PoisonError::into_inner).clone();
                Ok(plugin.on_request(req)?)
            }
        }
    }
}

/// Opens the plugin `config` names, from `dir`.
///
/// A Wasm filter is the newest component in `dir` satisfying the spec (as
/// `Loader::open_in` resolves, by the versions plugins declare), opened
/// pooled with the filter's settings, limits and capabilities. A native
/// filter is the library `config.file`, whose metadata must satisfy the
/// spec.
pub(crate) async fn open(
    runtime: &Runtime,
    dir: &Path,
    index: usize,
    config: &FilterConfig,
) -> Result<Opened, GatewayError> {
    let wasm_err = |source| GatewayError::Wasm {
        index,
        spec: config.plugin.clone(),
        source: Box::new(source),
    };
    let spec: Spec = config.plugin.parse().map_err(wasm_err)?;
    match config.backend {
        Backend::Wasm => {
            let available = runtime.scan::<GatewayFilterAsync>(dir).map_err(wasm_err)?;
            // `scan` sorts by name, newest first.
            let Some(best) = available.iter().find(|a| spec.matches(&a.name, &a.version)) else {
                return Err(GatewayError::PluginNotFound {
                    index,
                    spec: config.plugin.clone(),
                    backend: "wasm",
                    dir: dir.to_owned(),
                    found: available.iter().map(ToString::to_string).collect(),
                });
            };
            let loader = runtime
                .loader::<GatewayFilterAsync>()
                .capabilities(capabilities(config))
                .limits(limits(config))
                .concurrency(Concurrency::Pooled(PoolConfig::new(config.pool)))
                // A rebuilt plugin that kept its version still reloads,
                // beside the one serving; and the same plugin in two
                // places of the chain with other settings is two plugins.
                .on_conflict(OnConflict::LoadAlongside)
                .on_different_settings(OnDifferentSettings::LoadSeparately);
            let loader = config
                .settings
                .iter()
                .fold(loader, |l, (k, v)| l.config(k.clone(), v.clone()));
            let plugin = loader.open_async(&best.path).await.map_err(wasm_err)?;
            Ok(Opened::Wasm(plugin))
        }
        Backend::Native => {
            let Some(file) = &config.file else {
                unreachable!("the configuration check requires `file` for native filters")
            };
            let path = dir.join(file);
            let loader = config
                .settings
                .iter()
                .fold(NativeLoader::new(), |l, (k, v)| {
                    l.config(k.clone(), v.clone())
                });
            // SAFETY: the operator names this library in the gateway's
            // configuration, trusting it as code of the gateway itself
            // (documented in the gateway's README).
            #[allow(unsafe_code, reason = "loading a native filter runs its code")]
            let plugin =
                unsafe { loader.open::<GatewayFilterNative>(&path) }.map_err(|source| {
                    GatewayError::Native {
                        index,
                        spec: config.plugin.clone(),
                        source: Box::new(source),
                    }
                })?;
            let metadata = plugin.metadata();
            if !spec.matches(&metadata.name, &metadata.version) {
                return Err(GatewayError::PluginNotFound {
                    index,
                    spec: config.plugin.clone(),
                    backend: "native",
                    dir: dir.to_owned(),
                    found: vec![format!("{metadata} ({})", file.display())],
                });
            }
            Ok(Opened::Native(plugin))
        }
    }
}

fn limits(config: &FilterConfig) -> Limits {
    let mut limits = Limits::new();
    if let Some(ms) = config.limits.deadline_ms {
        limits = limits.deadline(Duration::from_millis(ms));
    }
    if let Some(mib) = config.limits.max_memory_mib {
        limits = limits.max_memory(mib << 20);
    }
    limits
}

fn capabilities(config: &FilterConfig) -> Capabilities {
    let caps = &config.capabilities;
    let with_env = caps.env.iter().fold(Capabilities::none(), |c, (k, v)| {
        c.env(k.clone(), v.clone())
    });
    caps.read_dirs.iter().fold(with_env, |c, (guest, host)| {
        c.dir(host.clone(), guest.clone(), DirAccess::ReadOnly)
    })
}
