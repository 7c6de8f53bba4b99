//! The async calling path, on tokio ([`AsyncPlugin`]): plugins whose
//! contract is bound with async exports and async host imports
//! ([`Contract::ASYNC`]), called with `.await`, with deadlines that hold
//! whatever the guest does.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, PoisonError};

use tokio::sync::{Mutex, SemaphorePermit};
use wasmtime::Store;

use crate::bindings::asynchronous::hooks::exports::wasmplug::plugin::lifecycle as hooks;
use crate::bindings::asynchronous::{Base, BaseIndices};
use crate::concurrency::{Concurrency, PoolConfig};
use crate::contract::Contract;
use crate::error::{Error, Origin, Result, chain};
use crate::instance::PluginInstance;
use crate::limits::Limit;
use crate::loader::Loader;
use crate::pre::PluginPre;
use crate::runtime::Runtime;
use crate::state::PluginState;
use wasmplug_core::{Digest, Metadata};

/// How errors name a call whose export is not known.
const CALL: &str = "AsyncPlugin::call_async";

/// The future a [`AsyncPlugin::call_async`] closure returns: boxed, `Send`,
/// borrowing the exports and the store for `'a`.
pub type CallFuture<'a, T> = Pin<Box<dyn Future<Output = wasmtime::Result<T>> + Send + 'a>>;

/// A live plugin on the async path: one initialised instance shared by
/// everyone who opened the same plugin, called with
/// [`call_async`](Self::call_async). Made by
/// [`Loader::open_async`]/[`Runtime::open_async`] for a contract bound with
/// `async: true` (see [`contract!`](crate::contract!)). Cloning is cheap and
/// shares it; calls are serialised by an async lock, so a caller waiting
/// for the instance does not block a runtime thread.
///
/// What differs from the synchronous [`Plugin`](crate::Plugin):
///
/// - host imports are `async fn`s that may await real I/O; while one
///   awaits, other tasks (other plugins' calls among them) run on the same
///   thread;
/// - a [deadline](crate::Limits::deadline) holds whatever the guest does:
///   the call is a future under `tokio::time::timeout`, so a guest blocked
///   in a host import (a WASI sleep, a slow lookup) is cancelled at its
///   deadline, and a spinning guest yields to tokio at every epoch tick
///   (so it cannot starve other tasks) until its deadline cancels it. The
///   deadline covers waiting for the shared instance and, after a fault,
///   making its replacement;
/// - it needs a tokio runtime with its time driver (`enable_time`) when a
///   deadline is set, and for whatever the contract's imports await;
/// - opening is `async` only for `init`: reading and compiling the file
///   block the calling thread as in [`Loader::open`] (tens of ms for a
///   compile, under a millisecond from the cache);
/// - the plugin's `get-metadata` and optional `declare` run at load on a
///   probe instance whose contract-specific imports trap (synchronous WASI
///   only), so they must not call the contract's own imports;
/// - when the last clone is dropped inside a tokio runtime, the instance's
///   `shutdown` runs on a task spawned there; dropped outside one, it does
///   not run (a warning is logged);
/// - served shared (one instance, calls take turns on a `tokio` mutex) or
///   pooled ([`Concurrency::Pooled`]: each call takes one of the pool's
///   permits, then an idle instance or a fresh one; waiting for a permit
///   counts against the call's deadline and ends with
///   [`Error::PoolExhausted`] after the pool's wait). A pool's instances
///   start from one snapshot taken after `init` ran once, as on the sync
///   path ([`PoolConfig::from_snapshot`]); that `init` runs when the plugin
///   opens, synchronously on tokio's blocking pool (the open's deadline
///   still holds; the snapshot is cached), with WASI and `log` but with the
///   contract's own async imports trapping, so a plugin whose `init` needs
///   them opens with `from_snapshot(false)`;
/// - no `lookup`, `flush`, `disable`/`enable` or `reconfigure` yet.
///
/// After a fault (a trap, an exceeded limit, a call cancelled at its
/// deadline or dropped by its caller) the instance is discarded and the
/// next call runs on a fresh one, whose `init` runs again.
pub struct AsyncPlugin<C: Contract> {
    inner: Arc<AsyncInner<C>>,
}

impl<C: Contract> Clone for AsyncPlugin<C> {
    fn clone(&self) -> Self {
        AsyncPlugin {
            inner: Arc::clone(&self.inner),
        }
    }
}

pub(crate) struct AsyncInner<C: Contract> {
    pre: PluginPre<C>,
    /// Makes the shared instance (from `pre`; it runs `init`).
    maker: Maker<C>,
    /// The shared instance; `None` until `init` first succeeds.
    live: Mutex<Option<AsyncInstance<C>>>,
    /// For a pooled plugin: its idle instances, and a permit per instance
    /// it may have (each call holds one).
    pool: Option<AsyncPool<C>>,
}

struct AsyncPool<C: Contract> {
    config: PoolConfig,
    /// Makes the pool's instances: from the snapshot taken after `init`
    /// ran once, or (without [`PoolConfig::from_snapshot`]) from the plugin,
    /// each running `init`. Set when the plugin opens (the snapshot is made
    /// then, under the open's deadline); a later call retries if that
    /// failed.
    maker: tokio::sync::OnceCell<Maker<C>>,
    idle: std::sync::Mutex<Vec<AsyncInstance<C>>>,
    permits: tokio::sync::Semaphore,
}

/// What instances are made from, with the async bindings' export indices
/// for it (a snapshot is another component, with indices of its own).
struct Maker<C: Contract> {
    pre: PluginPre<C>,
    base: BaseIndices,
    hooks: Option<hooks::GuestIndices>,
}

impl<C: Contract> Maker<C> {
    fn of(pre: PluginPre<C>) -> Result<Self> {
        let base = BaseIndices::new(pre.instance_pre()).map_err(|e| Error::Export {
            origin: pre.origin().clone(),
            reason: chain(&e),
        })?;
        let hooks = hooks::GuestIndices::new(pre.instance_pre()).ok();
        Ok(Maker { pre, base, hooks })
    }
}

/// One instance on the async path.
struct AsyncInstance<C: Contract> {
    store: Store<PluginState>,
    base: Base,
    hooks: Option<hooks::Guest>,
    exports: C::Exports,
    /// Set while guest code runs and cleared when it returns normally: a
    /// call that trapped, or whose future was dropped mid-call (its
    /// deadline passed, or its caller gave up), leaves it set, and the
    /// instance is not reused.
    poisoned: bool,
    initialised: bool,
}

impl Runtime {
    /// Opens the plugin at `path` for the async contract `C`, with no
    /// configuration. See [`Loader::open_async`].
    ///
    /// # Errors
    ///
    /// As [`Loader::open_async`].
    pub async fn open_async<C: Contract>(&self, path: impl AsRef<Path>) -> Result<AsyncPlugin<C>> {
        self.loader::<C>().open_async(path).await
    }
}

impl<C: Contract> Loader<'_, C> {
    /// [`open`](Self::open) for a contract bound with `async: true`: the
    /// same checks, instantiate-once and errors, and the plugin's `init`
    /// awaited (under the plugin's deadline, if it has one).
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open); [`Error::CallingPath`] if `C` is not an
    /// async contract; [`Error::LimitExceeded`] if `init` runs past the
    /// deadline, whatever it is doing.
    pub async fn open_async(self, path: impl AsRef<Path>) -> Result<AsyncPlugin<C>> {
        if !C::ASYNC {
            return Err(crate::calling::calling_path::<C>());
        }
        let inner = self.open_path(path.as_ref(), AsyncInner::pre_of, AsyncInner::start)?;
        let plugin = AsyncPlugin { inner };
        plugin
            .within_deadline("`init`", async {
                match &plugin.inner.pool {
                    // The pool's first instance, idle: `init` (or the
                    // snapshot) is known to work before the first call.
                    Some(pool) => {
                        let maker = plugin.pool_maker(pool).await?;
                        let first = plugin.fresh(maker).await?;
                        pool.idle
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .push(first);
                        Ok(())
                    }
                    None => {
                        let mut live = plugin.inner.live.lock().await;
                        plugin.ready(&mut live).await.map(|_| ())
                    }
                }
            })
            .await?;
        Ok(plugin)
    }
}

impl<C: Contract> AsyncInner<C> {
    fn pre_of(inner: &Self) -> &PluginPre<C> {
        &inner.pre
    }

    /// Makes the plugin live, without an instance yet: the first one is
    /// made (and its `init` awaited) by whoever locks it first.
    fn start(pre: PluginPre<C>, probe: PluginInstance<C>) -> Result<Arc<Self>> {
        // The probe's store cannot make async calls; it was only for the
        // metadata and declaration (it never ran `init`).
        drop(probe);
        let pool = match pre.sandbox().options.concurrency {
            Concurrency::Shared => None,
            Concurrency::Pooled(config) => Some(AsyncPool {
                config,
                maker: tokio::sync::OnceCell::new(),
                idle: std::sync::Mutex::new(Vec::new()),
                permits: tokio::sync::Semaphore::new(config.size),
            }),
        };
        Ok(Arc::new(AsyncInner {
            maker: Maker::of(pre.clone())?,
            pre,
            live: Mutex::new(None),
            pool,
        }))
    }
}

impl<C: Contract> AsyncPlugin<C> {
    /// Calls the plugin through its typed (async) exports: `f` gets the
    /// contract's generated bindings and the store to pass to them, and
    /// returns a boxed future borrowing both. The resulting future is
    /// `Send`: it can be `tokio::spawn`ed.
    ///
    /// ```no_run
    /// # wasmplug::contract! {
    /// #     pub struct Kv {
    /// #         package: "acme:kv@1.0.0",
    /// #         world: "acme:kv/kv-plugin",
    /// #         path: ["wit/plugin", "../tests/wit/kv"],
    /// #         bindings: kv::{KvPlugin, KvPluginIndices},
    /// #         async: true,
    /// #     }
    /// # }
    /// # async fn run() -> Result<(), wasmplug::Error> {
    /// let runtime = wasmplug::Runtime::builder().epoch_interruption(true).build()?;
    /// let plugin = runtime
    ///     .loader::<Kv>()
    ///     .limits(wasmplug::Limits::new().deadline(std::time::Duration::from_millis(100)))
    ///     .open_async("kv.wasm")
    ///     .await?;
    /// let answer = plugin
    ///     .call_async(|kv, store| Box::pin(kv.acme_kv_api().call_describe(store, "user")))
    ///     .await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Trap`] if the guest traps, [`Error::LimitExceeded`] if it
    /// runs into one of its limits, its deadline included (counted from
    /// the call, waiting for the instance included). The instance is then
    /// discarded; the next call makes a fresh one, whose `init` may fail
    /// with [`Error::Init`].
    pub async fn call_async<T, F>(&self, f: F) -> Result<T>
    where
        T: Send,
        F: for<'a> FnOnce(&'a C::Exports, &'a mut Store<PluginState>) -> CallFuture<'a, T> + Send,
    {
        let sandbox = self.inner.pre.sandbox();
        let label = self.inner.pre.label();
        if let Some(pool) = &self.inner.pool {
            return self
                .within_deadline(&format!("a call through `{CALL}`"), async {
                    // Held for the call: a cancelled call gives it back too.
                    let _permit = self.permit(pool).await?;
                    let idle = pool
                        .idle
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .pop();
                    let mut instance = match idle {
                        Some(instance) => instance,
                        None => self.fresh(self.pool_maker(pool).await?).await?,
                    };
                    sandbox.arm_async(&mut instance.store);
                    // Owned by this future: if it is dropped mid-call (its
                    // deadline, or its caller gave up), so is the instance.
                    let outcome = f(&instance.exports, &mut instance.store).await;
                    match outcome {
                        Ok(value) => {
                            pool.idle
                                .lock()
                                .unwrap_or_else(PoisonError::into_inner)
                                .push(instance);
                            Ok(value)
                        }
                        Err(e) => Err(sandbox.fault_through(CALL, label, None, &e)),
                    }
                })
                .await;
        }
        self.within_deadline(&format!("a call through `{CALL}`"), async {
            let mut live = self.inner.live.lock().await;
            let instance = self.ready(&mut live).await?;
            sandbox.arm_async(&mut instance.store);
            instance.poisoned = true;
            let outcome = f(&instance.exports, &mut instance.store).await;
            match outcome {
                Ok(value) => {
                    instance.poisoned = false;
                    Ok(value)
                }
                Err(e) => Err(sandbox.fault_through(CALL, label, None, &e)),
            }
        })
        .await
    }

    /// Runs `work` under the plugin's deadline, if it has one: past it, the
    /// future is dropped (whatever the guest was doing) and the call is
    /// [`Error::LimitExceeded`].
    async fn within_deadline<T>(
        &self,
        export: &str,
        work: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let Some(deadline) = self.inner.pre.sandbox().deadline() else {
            return work.await;
        };
        match tokio::time::timeout(deadline, work).await {
            Ok(outcome) => outcome,
            Err(_elapsed) => Err(Error::LimitExceeded {
                plugin: self.inner.pre.label().to_string(),
                export: export.to_owned(),
                limit: Limit::Deadline(deadline),
            }),
        }
    }

    /// A permit for one of the pool's instances, waited for at most the
    /// pool's wait.
    async fn permit<'p>(&self, pool: &'p AsyncPool<C>) -> Result<SemaphorePermit<'p>> {
        let exhausted = || Error::PoolExhausted {
            plugin: self.inner.pre.label().to_string(),
            size: pool.config.size,
            waited: pool.config.wait,
        };
        match tokio::time::timeout(pool.config.wait, pool.permits.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            // The semaphore is never closed; a timeout is the pool's wait.
            Ok(Err(_)) | Err(_) => Err(exhausted()),
        }
    }

    /// For a pooled plugin, its idle instances (made as calls need them,
    /// at most the pool's size); `None` for a shared one.
    pub fn idle_instances(&self) -> Option<usize> {
        self.inner.pool.as_ref().map(|pool| {
            pool.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len()
        })
    }

    /// For a pooled plugin, how many instances are alive (idle or running
    /// a call) and how many of them are idle, as
    /// [`Plugin::pool_counts`](crate::Plugin::pool_counts); `None` for a
    /// shared one. A call holds its place in the pool from the moment it
    /// gets one until it returns, faults or is cancelled: once every call
    /// has ended, none is counted as running.
    pub fn pool_counts(&self) -> Option<(usize, usize)> {
        self.inner.pool.as_ref().map(|pool| {
            let idle = pool
                .idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .len();
            let running = pool.config.size - pool.permits.available_permits();
            (idle + running, idle)
        })
    }

    /// The live instance, made first (and its `init` run) when there is
    /// none or the last one faulted.
    async fn ready<'l>(
        &self,
        live: &'l mut Option<AsyncInstance<C>>,
    ) -> Result<&'l mut AsyncInstance<C>> {
        if live.as_ref().is_none_or(|instance| instance.poisoned) {
            if live.take().is_some() {
                tracing::warn!(
                    target: "wasmplug",
                    plugin = &**self.inner.pre.label(),
                    "replacing an instance that faulted; init runs again"
                );
            }
            *live = Some(self.fresh(&self.inner.maker).await?);
        }
        match live {
            Some(instance) => Ok(instance),
            None => unreachable!("an instance was made above"),
        }
    }

    /// What the pool makes its instances from: with
    /// [`PoolConfig::from_snapshot`], the snapshot taken after `init`, made
    /// (or loaded from the cache) the first time. Its `init` runs
    /// synchronously, so on a blocking-pool thread: a deadline ends the
    /// wait for it even while that `init` is blocked in a host call (the
    /// thread then finishes it, and its result is dropped).
    async fn pool_maker<'p>(&self, pool: &'p AsyncPool<C>) -> Result<&'p Maker<C>> {
        pool.maker
            .get_or_try_init(|| async {
                let pre = self.inner.pre.clone();
                if !pool.config.from_snapshot {
                    return Maker::of(pre);
                }
                let label = pre.label().to_string();
                let snapshot = tokio::task::spawn_blocking(move || pre.snapshot())
                    .await
                    .map_err(|e| Error::Snapshot {
                        plugin: label,
                        reason: format!("the thread making it failed: {e}"),
                    })??;
                Maker::of(snapshot)
            })
            .await
    }

    /// A new instance, initialised: it starts from a snapshot taken after
    /// `init`, or runs `init` itself.
    async fn fresh(&self, maker: &Maker<C>) -> Result<AsyncInstance<C>> {
        let mut fresh = self.instantiate(maker).await?;
        if maker.pre.is_snapshot() {
            fresh.initialised = true;
        } else {
            fresh.init(&maker.pre, maker.pre.config()).await?;
        }
        Ok(fresh)
    }

    async fn instantiate(&self, maker: &Maker<C>) -> Result<AsyncInstance<C>> {
        let pre = &maker.pre;
        let sandbox = pre.sandbox();
        let label = pre.label();
        let mut store = sandbox.async_store(pre.origin(), Arc::clone(label))?;
        let instance = pre
            .instance_pre()
            .instantiate_async(&mut store)
            .await
            .map_err(|e| sandbox.fault(label, Some("instantiate"), &e))?;
        let export_err = |e: wasmtime::Error| Error::Export {
            origin: pre.origin().clone(),
            reason: chain(&e),
        };
        let base = maker.base.load(&mut store, &instance).map_err(export_err)?;
        let hooks = maker
            .hooks
            .as_ref()
            .map(|h| h.load(&mut store, &instance))
            .transpose()
            .map_err(export_err)?;
        let exports = C::load(pre.indices(), &mut store, &instance).map_err(export_err)?;
        Ok(AsyncInstance {
            store,
            base,
            hooks,
            exports,
            poisoned: false,
            initialised: false,
        })
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

    /// The compiled plugin.
    pub fn pre(&self) -> &PluginPre<C> {
        &self.inner.pre
    }

    /// Whether `a` and `b` are the same live plugin.
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }
}

impl<C: Contract> AsyncInstance<C> {
    /// Runs the optional `validate` hook, then `init`.
    async fn init(&mut self, pre: &PluginPre<C>, config: &[(String, String)]) -> Result<()> {
        let sandbox = pre.sandbox();
        let label = pre.label();
        if let Some(hooks) = &self.hooks {
            sandbox.arm_async(&mut self.store);
            self.poisoned = true;
            match hooks.call_validate(&mut self.store, config).await {
                Ok(Ok(())) => self.poisoned = false,
                Ok(Err(message)) => {
                    self.poisoned = false;
                    return Err(Error::Hook {
                        plugin: label.to_string(),
                        hook: "validate",
                        message,
                    });
                }
                Err(e) => return Err(sandbox.fault(label, Some("validate"), &e)),
            }
        }
        sandbox.arm_async(&mut self.store);
        self.poisoned = true;
        let outcome = self
            .base
            .wasmplug_plugin_plugin()
            .call_init(&mut self.store, config)
            .await;
        match outcome {
            Ok(Ok(())) => {
                self.poisoned = false;
                self.initialised = true;
                Ok(())
            }
            Ok(Err(message)) => {
                self.poisoned = false;
                Err(Error::Init {
                    plugin: label.to_string(),
                    message,
                })
            }
            Err(e) => Err(sandbox.fault(label, Some("init"), &e)),
        }
    }

    /// Runs the plugin's `shutdown`, under its deadline.
    async fn shutdown(mut self, pre: PluginPre<C>) {
        let sandbox = pre.sandbox();
        sandbox.arm_async(&mut self.store);
        let call = self
            .base
            .wasmplug_plugin_plugin()
            .call_shutdown(&mut self.store);
        let outcome = match sandbox.deadline() {
            Some(deadline) => tokio::time::timeout(deadline, call)
                .await
                .unwrap_or_else(|_| Err(wasmtime::Error::msg("ran past its deadline"))),
            None => call.await,
        };
        if let Err(e) = outcome {
            tracing::warn!(target: "wasmplug", plugin = &**pre.label(), "shutdown failed: {e:#}");
        }
    }
}

impl<C: Contract> Drop for AsyncInner<C> {
    fn drop(&mut self) {
        let mut instances: Vec<AsyncInstance<C>> = self.live.get_mut().take().into_iter().collect();
        if let Some(pool) = &mut self.pool {
            instances.append(pool.idle.get_mut().unwrap_or_else(PoisonError::into_inner));
        }
        instances.retain(|instance| instance.initialised && !instance.poisoned);
        if instances.is_empty() {
            return;
        }
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                for instance in instances {
                    handle.spawn(instance.shutdown(self.pre.clone()));
                }
            }
            Err(_) => tracing::warn!(
                target: "wasmplug",
                plugin = &**self.pre.label(),
                "dropped outside a tokio runtime: shutdown does not run"
            ),
        }
    }
}

impl<C: Contract> std::fmt::Debug for AsyncPlugin<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncPlugin")
            .field("plugin", self.inner.pre.label())
            .field("digest", &self.inner.pre.digest())
            .field("origin", self.inner.pre.origin())
            .finish_non_exhaustive()
    }
}
