//! The live plugin ([`Plugin`]): one initialised instance shared by
//! everyone who opened the same plugin, with its lifecycle (disable,
//! enable, reconfigure, flush) and its recovery after a fault.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use wasmtime::Store;

use crate::concurrency::{Concurrency, PoolConfig};
use crate::contract::Contract;
use crate::error::{Error, Origin, Result};
use crate::instance::PluginInstance;
use crate::pool::{Lease, Pool};
use crate::pre::PluginPre;
use crate::signature::ExportedFunc;
use crate::state::PluginState;
use wasmplug_core::{Digest, Metadata};

/// The live plugin: one initialised instance shared by everyone who opened
/// the same plugin. Cloning is cheap and shares it; calls are serialised.
///
/// After a trap the instance is discarded and the next call runs on a fresh
/// one (its `init` runs again); the trap itself is returned as
/// [`Error::Trap`]. The plugin is unloaded when the last clone is dropped.
pub struct Plugin<C: Contract> {
    pub(crate) inner: Arc<PluginInner<C>>,
}

impl<C: Contract> Clone for Plugin<C> {
    fn clone(&self) -> Self {
        Plugin {
            inner: Arc::clone(&self.inner),
        }
    }
}

pub(crate) struct PluginInner<C: Contract> {
    pub(crate) pre: PluginPre<C>,
    serving: Serving<C>,
    enabled: AtomicBool,
}

/// How the plugin's instances serve callers (see [`Concurrency`]).
enum Serving<C: Contract> {
    Shared(Mutex<Live<C>>),
    Pooled(Pool<C>),
}

/// The instance one call runs on: the shared one, locked, or one lent by
/// the pool.
pub(crate) enum Checkout<'p, C: Contract> {
    Shared(MutexGuard<'p, Live<C>>),
    Pooled(Lease<'p, C>),
}

impl<C: Contract> Checkout<'_, C> {
    pub(crate) fn instance(&mut self) -> &mut PluginInstance<C> {
        match self {
            Checkout::Shared(live) => &mut live.instance,
            Checkout::Pooled(lease) => lease.instance(),
        }
    }
}

pub(crate) struct Live<C: Contract> {
    pub(crate) instance: PluginInstance<C>,
    /// Bumped each time the instance is replaced (after a trap, or by
    /// [`Plugin::reconfigure`]).
    pub(crate) generation: u64,
    /// What the live instance's `init` got; a replacement gets the same.
    config: Arc<[(String, String)]>,
}

impl<C: Contract> Plugin<C> {
    /// Runs `init` on the first instance and makes it the live one (or the
    /// first of the pool).
    pub(crate) fn start(
        pre: PluginPre<C>,
        mut first: PluginInstance<C>,
    ) -> Result<Arc<PluginInner<C>>> {
        let config = Arc::clone(pre.config());
        let serving = match pre.sandbox().options.concurrency {
            Concurrency::Shared => {
                first.init(&config)?;
                Serving::Shared(Mutex::new(Live {
                    instance: first,
                    generation: 0,
                    config,
                }))
            }
            Concurrency::Pooled(pool) => {
                let (first, source) = pool_start(&pre, pool, first, &config)?;
                Serving::Pooled(Pool::new(pool, first, config, source))
            }
        };
        Ok(Arc::new(PluginInner {
            pre,
            serving,
            enabled: AtomicBool::new(true),
        }))
    }

    /// How the plugin serves concurrent callers.
    pub fn concurrency(&self) -> Concurrency {
        self.inner.pre.sandbox().options.concurrency
    }

    /// For a pooled plugin, how many instances are alive (idle or running
    /// a call) and how many of them are idle; `None` for a shared one.
    pub fn pool_counts(&self) -> Option<(usize, usize)> {
        match &self.inner.serving {
            Serving::Shared(_) => None,
            Serving::Pooled(pool) => Some(pool.counts()),
        }
    }

    pub(crate) fn from_inner(inner: Arc<PluginInner<C>>) -> Self {
        Plugin { inner }
    }

    /// Asks the live instance to write out what it buffers (the optional
    /// `flush` hook of `wasmplug:plugin/lifecycle`). Returns whether the
    /// plugin has the hook; a plugin without it has nothing to flush.
    ///
    /// # Errors
    ///
    /// [`Error::Hook`] if the plugin reports a failure, [`Error::Trap`] if
    /// it traps (the instance is then replaced, as after any trap).
    pub fn flush(&self) -> Result<bool> {
        match &self.inner.serving {
            Serving::Shared(_) => self.live()?.instance.flush(),
            Serving::Pooled(pool) => {
                let flushed = pool.for_each_idle(PluginInstance::flush)?;
                Ok(flushed.iter().any(|&had_hook| had_hook))
            }
        }
    }

    /// Stops serving without unloading, as a disabled plugin in TiDB's
    /// framework: calls fail with [`Error::Disabled`] without running guest
    /// code, and the instance keeps its state until
    /// [`enable`](Self::enable). Returns whether the plugin was enabled.
    pub fn disable(&self) -> bool {
        self.inner.enabled.swap(false, Ordering::AcqRel)
    }

    /// Serves again after [`disable`](Self::disable), with the state it
    /// had. Returns whether the plugin was disabled.
    pub fn enable(&self) -> bool {
        !self.inner.enabled.swap(true, Ordering::AcqRel)
    }

    /// Whether the plugin serves calls (see [`disable`](Self::disable)).
    pub fn is_enabled(&self) -> bool {
        self.inner.enabled.load(Ordering::Acquire)
    }

    /// `Err(Disabled)` when the plugin is disabled; every call checks it.
    #[inline]
    pub(crate) fn check_enabled(&self) -> Result<()> {
        if self.is_enabled() {
            Ok(())
        } else {
            Err(Error::Disabled {
                plugin: self.inner.pre.label().to_string(),
            })
        }
    }

    /// Applies a new configuration: a fresh instance runs `init(config)`
    /// (settled as at load: the manifest's values and defaults, and the
    /// defaults the plugin declares, filled in under it);
    /// when it accepts, it becomes the live instance (a call in progress
    /// finishes first) and the replaced instance's `shutdown` runs, once.
    /// When it refuses, nothing changes: the live instance serves on with
    /// its configuration and state. A reconfigured plugin starts from a
    /// fresh state, as after a reload.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if `config` has a setting the plugin does not
    /// declare, [`Error::Manifest`] if one its manifest does not declare,
    /// [`Error::MissingSetting`] if it lacks one the plugin or its manifest
    /// requires, [`Error::Hook`] if the plugin's optional `validate` hook
    /// refuses `config`, [`Error::Init`] if its `init` does,
    /// [`Error::Trap`] or [`Error::LimitExceeded`] if instantiation or
    /// `init` fails.
    pub fn reconfigure<K, V>(&self, config: impl IntoIterator<Item = (K, V)>) -> Result<()>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let config: Vec<(String, String)> = config
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let config = self.inner.pre.settle(&config)?;
        // `init` runs outside the lock: calls go on meanwhile.
        match &self.inner.serving {
            Serving::Shared(shared) => {
                let fresh = self.inner.pre.instantiate_with(&config)?;
                let replaced = {
                    let mut live = lock(shared);
                    live.generation += 1;
                    live.config = config;
                    std::mem::replace(&mut live.instance, fresh)
                };
                // Outside the lock: the replaced instance's `shutdown`.
                drop(replaced);
            }
            Serving::Pooled(pool) => {
                // A new snapshot for the new settings, when the pool uses one.
                let Concurrency::Pooled(pool_config) = self.concurrency() else {
                    unreachable!("a pooled plugin's concurrency is Pooled")
                };
                let source = if pool_config.from_snapshot {
                    self.inner.pre.snapshot_with(&config)?
                } else {
                    self.inner.pre.clone()
                };
                let fresh = source.instantiate_with(&config)?;
                pool.reconfigure(config, fresh, source);
            }
        }
        Ok(())
    }

    /// The plugin's checked metadata.
    pub fn metadata(&self) -> &Metadata {
        self.inner.pre.metadata()
    }

    /// SHA-256 of the plugin's bytes: its identity.
    pub fn digest(&self) -> Digest {
        self.inner.pre.digest()
    }

    /// Where the plugin was loaded from.
    pub fn origin(&self) -> &Origin {
        self.inner.pre.origin()
    }

    /// The compiled plugin, to make more (private) instances cheaply.
    pub fn pre(&self) -> &PluginPre<C> {
        &self.inner.pre
    }

    /// Every function the plugin exports, with its WIT signature.
    pub fn exports(&self) -> Vec<ExportedFunc> {
        self.inner.pre.exports()
    }

    /// Whether `a` and `b` are the same live plugin.
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }

    /// Calls the plugin through its typed exports: `f` gets the contract's
    /// generated bindings and the store to pass to them.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), wasmplug::Error> {
    /// # wasmplug::contract! {
    /// #     pub struct Demo {
    /// #         package: "wasmplug:demo@1.0.0",
    /// #         world: "wasmplug:demo/demo",
    /// #         path: ["wit/plugin", "../wit/demo"],
    /// #         bindings: demo::{Demo, DemoIndices},
    /// #     }
    /// # }
    /// # let plugin = wasmplug::Runtime::new()?.open::<Demo>("demo1.wasm")?;
    /// let v = plugin.call(|demo, store| demo.wasmplug_demo_api().call_get_v(store))?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Trap`] if the guest traps. The trapped instance is dropped;
    /// the next call instantiates a fresh one, whose `init` may fail with
    /// [`Error::Init`].
    pub fn call<T>(
        &self,
        f: impl FnOnce(&C::Exports, &mut Store<PluginState>) -> wasmtime::Result<T>,
    ) -> Result<T> {
        self.check_enabled()?;
        self.checkout()?.instance().call(f)
    }

    /// The instance for one call: the shared one (locked, replaced first if
    /// a fault poisoned it), or one from the pool.
    pub(crate) fn checkout(&self) -> Result<Checkout<'_, C>> {
        match &self.inner.serving {
            Serving::Shared(_) => self.live().map(Checkout::Shared),
            Serving::Pooled(pool) => pool.checkout(self.inner.pre.label()).map(Checkout::Pooled),
        }
    }

    /// Locks the shared instance, replacing it first if a trap poisoned it.
    ///
    /// # Panics
    ///
    /// On a pooled plugin (a bug in this crate).
    pub(crate) fn live(&self) -> Result<MutexGuard<'_, Live<C>>> {
        let Serving::Shared(shared) = &self.inner.serving else {
            unreachable!("only a shared plugin has one live instance")
        };
        let mut live = lock(shared);
        if live.instance.poisoned {
            tracing::warn!(
                target: "wasmplug",
                plugin = &**self.inner.pre.label(),
                "replacing an instance that trapped; init runs again"
            );
            live.instance = self.inner.pre.instantiate_with(&live.config)?;
            live.generation += 1;
        }
        Ok(live)
    }
}

/// A pool's first instance and what it makes the others from: a snapshot
/// taken after `init` ran once (the default; the uninitialised `first` is
/// dropped, and `init` runs inside the snapshot), or the plugin itself,
/// each instance running `init`.
fn pool_start<C: Contract>(
    pre: &PluginPre<C>,
    pool: PoolConfig,
    mut first: PluginInstance<C>,
    config: &Arc<[(String, String)]>,
) -> Result<(PluginInstance<C>, PluginPre<C>)> {
    if pool.from_snapshot {
        drop(first);
        let snapshot = pre.snapshot_with(config)?;
        let first = snapshot.instantiate_with(config)?;
        Ok((first, snapshot))
    } else {
        first.init(config)?;
        Ok((first, pre.clone()))
    }
}

/// Locks the shared instance as it is.
fn lock<C: Contract>(shared: &Mutex<Live<C>>) -> MutexGuard<'_, Live<C>> {
    shared.lock().unwrap_or_else(|poisoned| {
        // A panic while the lock was held (in a caller's closure or a host
        // import) may have left the store mid-call: do not reuse it.
        shared.clear_poison();
        let mut live = poisoned.into_inner();
        live.instance.poisoned = true;
        live
    })
}

impl<C: Contract> std::fmt::Debug for Plugin<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("plugin", &self.inner.pre.label())
            .field("digest", &self.inner.pre.digest())
            .field("origin", self.inner.pre.origin())
            .finish_non_exhaustive()
    }
}
