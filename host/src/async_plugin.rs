//! The async calling path, on tokio ([`AsyncPlugin`]): plugins whose
//! contract is bound with async exports and async host imports
//! ([`Contract::ASYNC`]), called with `.await`, with deadlines that hold
//! whatever the guest does.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};

use tokio::sync::Mutex;
use wasmtime::Store;

use crate::async_instance::{AsyncInstance, Maker, shut_down};
use crate::async_pool::AsyncPool;
use crate::concurrency::Concurrency;
use crate::contract::Contract;
use crate::error::{Error, Origin, Result};
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
///   path ([`PoolConfig::from_snapshot`](crate::PoolConfig::from_snapshot)); that `init` runs when the plugin
///   opens, synchronously on tokio's blocking pool (the deadline times
///   that `init`, not the compiling around it; the snapshot is cached), with WASI and `log` but with the
///   contract's own async imports trapping, so a plugin whose `init` needs
///   them opens with `from_snapshot(false)`;
/// - [`reconfigure`](Self::reconfigure), [`flush`](Self::flush),
///   [`disable`](Self::disable)/[`enable`](Self::enable) and
///   [`lookup`](Self::lookup) as on the sync path (a pooled plugin's
///   instances then start from a new snapshot; a pool's flush reaches its
///   idle instances; a looked-up export is found on each call's instance
///   by name, and owns a handle to the plugin).
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
    /// The configuration instances start with, and its generation.
    settings: std::sync::Mutex<Settings>,
    /// `settings`' generation, read without the lock by every pooled call
    /// (written under it, by `reconfigure`).
    generation: AtomicU64,
    /// The shared instance; `None` until `init` first succeeds.
    live: Mutex<Option<AsyncInstance<C>>>,
    /// For a pooled plugin: its idle instances, and a permit per instance
    /// it may have (each call holds one).
    pool: Option<AsyncPool<C>>,
    /// Cleared by [`AsyncPlugin::disable`]: calls are refused.
    enabled: AtomicBool,
}

/// The configuration new instances start with; `generation` counts
/// [`AsyncPlugin::reconfigure`]s, and an instance made for an older one is
/// not reused.
#[derive(Clone)]
struct Settings {
    config: Arc<[(String, String)]>,
    generation: u64,
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
        if let Some(pool) = &plugin.inner.pool {
            // The pool's snapshot: its `init` is timed against the deadline
            // there, the compiling around it is not.
            pool.maker(&plugin.inner.pre, &plugin.inner.settings().config)
                .await?;
        }
        plugin
            .within_deadline(Work::Init, async {
                match &plugin.inner.pool {
                    // The pool's first instance, idle: `init` (or the
                    // snapshot) is known to work before the first call.
                    Some(pool) => {
                        let first = plugin.fresh_pooled(pool).await?;
                        pool.add_idle(first);
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
    /// made (and its `init` awaited) by `open_async`.
    fn start(pre: PluginPre<C>, probe: PluginInstance<C>) -> Result<Arc<Self>> {
        // The probe's store cannot make async calls; it was only for the
        // metadata and declaration (it never ran `init`).
        drop(probe);
        let pool = match pre.sandbox().options.concurrency {
            Concurrency::Shared => None,
            Concurrency::Pooled(config) => Some(AsyncPool::new(config)),
        };
        Ok(Arc::new(AsyncInner {
            maker: Maker::of(pre.clone())?,
            settings: std::sync::Mutex::new(Settings {
                config: Arc::clone(pre.config()),
                generation: 0,
            }),
            generation: AtomicU64::new(0),
            pre,
            live: Mutex::new(None),
            pool,
            enabled: AtomicBool::new(true),
        }))
    }

    fn settings(&self) -> Settings {
        self.settings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
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
        self.run(None, move |instance| {
            let AsyncInstance { exports, store, .. } = instance;
            f(exports, store)
        })
        .await
    }

    /// Runs `f` on an instance, as [`call_async`](Self::call_async)
    /// describes: the shared one, or one from the pool; under the deadline;
    /// the instance discarded if `f` faults or is cancelled. `export` names
    /// the export in errors, when known.
    pub(crate) async fn run<T, F>(&self, export: Option<&str>, f: F) -> Result<T>
    where
        T: Send,
        F: for<'a> FnOnce(&'a mut AsyncInstance<C>) -> CallFuture<'a, T> + Send,
    {
        self.check_enabled()?;
        let sandbox = self.inner.pre.sandbox();
        let label = self.inner.pre.label();
        if let Some(pool) = &self.inner.pool {
            return self
                .within_deadline(Work::Call, async {
                    // Held for the call: a cancelled call gives it back too.
                    let _permit = pool.permit(label).await?;
                    let generation = self.inner.generation.load(Ordering::Acquire);
                    let mut instance = match pool.take_idle(generation) {
                        Some(instance) => instance,
                        None => self.fresh_pooled(pool).await?,
                    };
                    sandbox.arm_async(&mut instance.store);
                    // Owned by this future: if it is dropped mid-call (its
                    // deadline, or its caller gave up), so is the instance.
                    instance.poisoned = true;
                    let outcome = f(&mut instance).await;
                    match outcome {
                        Ok(value) => {
                            instance.poisoned = false;
                            let current = self.inner.generation.load(Ordering::Acquire);
                            pool.give_back(&self.inner.pre, instance, current);
                            Ok(value)
                        }
                        Err(e) => Err(sandbox.fault_through(CALL, label, export, &e)),
                    }
                })
                .await;
        }
        self.within_deadline(Work::Call, async {
            let mut live = self.inner.live.lock().await;
            let instance = self.ready(&mut live).await?;
            sandbox.arm_async(&mut instance.store);
            instance.poisoned = true;
            let outcome = f(instance).await;
            match outcome {
                Ok(value) => {
                    instance.poisoned = false;
                    Ok(value)
                }
                Err(e) => Err(sandbox.fault_through(CALL, label, export, &e)),
            }
        })
        .await
    }

    /// Applies a new configuration, as [`Plugin::reconfigure`](crate::Plugin::reconfigure)
    /// does on the sync path: settled the same way, then a fresh instance
    /// runs `init(config)` (for a pool that starts from a snapshot, a new
    /// snapshot is taken after it). When it accepts, new calls get
    /// instances with the new configuration: the shared instance is
    /// replaced once the call in progress on it ends, a pool's idle
    /// instances are replaced and those running calls are retired when
    /// their calls end; each replaced instance's `shutdown` runs, once.
    /// When it refuses, nothing changes. Under the plugin's deadline.
    ///
    /// # Errors
    ///
    /// As [`Plugin::reconfigure`](crate::Plugin::reconfigure), and
    /// [`Error::Snapshot`] if the pool's new snapshot cannot be taken.
    pub async fn reconfigure<K, V>(&self, config: impl IntoIterator<Item = (K, V)>) -> Result<()>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let config: Vec<(String, String)> = config
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let inner = &self.inner;
        let config = inner.pre.settle(&config)?;
        // A pool's new snapshot: its `init` is timed against the deadline
        // there, the compiling around it is not.
        let maker = match &inner.pool {
            Some(pool) => Some(pool.make(&inner.pre, &config).await?),
            None => None,
        };
        self.within_deadline(Work::Init, async {
            match (&inner.pool, maker) {
                (Some(pool), Some(maker)) => {
                    // `init` is known to work (or ran for the snapshot).
                    let mut first = maker.fresh(&config, 0).await?;
                    first.generation = self.commit(config);
                    pool.replace(&inner.pre, maker, first).await;
                }
                _ => {
                    let mut fresh = inner.maker.fresh(&config, 0).await?;
                    // Waits for a call in progress on the shared instance.
                    let mut live = inner.live.lock().await;
                    fresh.generation = self.commit(config);
                    let replaced = live.replace(fresh);
                    drop(live);
                    shut_down(&inner.pre, replaced.into_iter().collect());
                }
            }
            Ok(())
        })
        .await
    }

    /// Makes `config` the one new instances start with; returns its
    /// generation.
    fn commit(&self, config: Arc<[(String, String)]>) -> u64 {
        let mut settings = self
            .inner
            .settings
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        settings.generation += 1;
        settings.config = config;
        self.inner
            .generation
            .store(settings.generation, Ordering::Release);
        settings.generation
    }

    /// A new instance for `pool`, with the current configuration.
    async fn fresh_pooled(&self, pool: &AsyncPool<C>) -> Result<AsyncInstance<C>> {
        let Settings { config, generation } = self.inner.settings();
        let maker = pool.maker(&self.inner.pre, &config).await?;
        maker.fresh(&config, generation).await
    }

    /// Runs `work` under the plugin's deadline, if it has one: past it, the
    /// future is dropped (whatever the guest was doing) and the call is
    /// [`Error::LimitExceeded`].
    async fn within_deadline<T>(
        &self,
        work: Work,
        future: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let Some(deadline) = self.inner.pre.sandbox().deadline() else {
            return future.await;
        };
        match tokio::time::timeout(deadline, future).await {
            Ok(outcome) => outcome,
            Err(_elapsed) => Err(Error::LimitExceeded {
                plugin: self.inner.pre.label().to_string(),
                // Named only when it ran out: no text made per call.
                export: match work {
                    Work::Init => "`init`".to_owned(),
                    Work::Flush => "`flush`".to_owned(),
                    Work::Call => format!("a call through `{CALL}`"),
                },
                limit: Limit::Deadline(deadline),
            }),
        }
    }

    /// Asks the plugin to write out what it buffers (the optional `flush`
    /// hook of `wasmplug:plugin/lifecycle`), as
    /// [`Plugin::flush`](crate::Plugin::flush) does: the shared instance,
    /// or each idle instance of a pool (those running a call are not
    /// flushed). Each flush is under the plugin's deadline. Returns whether
    /// the plugin has the hook; a plugin without it has nothing to flush.
    ///
    /// # Errors
    ///
    /// [`Error::Hook`] if the plugin reports a failure, [`Error::Trap`] or
    /// [`Error::LimitExceeded`] if it faults (the instance is then
    /// discarded, as after any fault); for a pool, the first of these, the
    /// other idle instances flushed all the same.
    pub async fn flush(&self) -> Result<bool> {
        let pre = &self.inner.pre;
        if let Some(pool) = &self.inner.pool {
            if !self.inner.maker.has_hooks() {
                return Ok(false);
            }
            let mut first_error = None;
            for mut instance in pool.take_all_idle() {
                let flushed = self.within_deadline(Work::Flush, instance.flush(pre)).await;
                if let Err(e) = flushed {
                    first_error.get_or_insert(e);
                }
                let current = self.inner.generation.load(Ordering::Acquire);
                pool.give_back(pre, instance, current);
            }
            return first_error.map_or(Ok(true), Err);
        }
        self.within_deadline(Work::Flush, async {
            let mut live = self.inner.live.lock().await;
            self.ready(&mut live).await?.flush(pre).await
        })
        .await
    }

    /// Stops serving without unloading, as
    /// [`Plugin::disable`](crate::Plugin::disable): calls fail with
    /// [`Error::Disabled`] without running guest code, and the instances
    /// keep their state until [`enable`](Self::enable). Returns whether
    /// the plugin was enabled.
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
    fn check_enabled(&self) -> Result<()> {
        if self.is_enabled() {
            Ok(())
        } else {
            Err(Error::Disabled {
                plugin: self.inner.pre.label().to_string(),
            })
        }
    }

    /// For a pooled plugin, its idle instances (made as calls need them,
    /// at most the pool's size); `None` for a shared one.
    pub fn idle_instances(&self) -> Option<usize> {
        self.pool_counts().map(|(_, idle)| idle)
    }

    /// For a pooled plugin, how many instances are alive (idle or running
    /// a call) and how many of them are idle, as
    /// [`Plugin::pool_counts`](crate::Plugin::pool_counts); `None` for a
    /// shared one. A call holds its place in the pool from the moment it
    /// gets one until it returns, faults or is cancelled: once every call
    /// has ended, none is counted as running.
    pub fn pool_counts(&self) -> Option<(usize, usize)> {
        self.inner.pool.as_ref().map(AsyncPool::counts)
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
            let Settings { config, generation } = self.inner.settings();
            *live = Some(self.inner.maker.fresh(&config, generation).await?);
        }
        match live {
            Some(instance) => Ok(instance),
            None => unreachable!("an instance was made above"),
        }
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

    /// The configuration new instances start with (settled: the manifest's
    /// values and the declared defaults filled in), after any
    /// [`reconfigure`](Self::reconfigure).
    pub fn config(&self) -> Arc<[(String, String)]> {
        self.inner.settings().config
    }

    /// Whether `a` and `b` are the same live plugin.
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }
}

impl<C: Contract> Drop for AsyncInner<C> {
    fn drop(&mut self) {
        let mut instances: Vec<AsyncInstance<C>> = self.live.get_mut().take().into_iter().collect();
        if let Some(pool) = &mut self.pool {
            instances.append(&mut pool.drain());
        }
        shut_down(&self.pre, instances);
    }
}

/// What a deadline cut short, for its error.
#[derive(Debug, Clone, Copy)]
enum Work {
    /// The plugin's `init`.
    Init,
    /// The plugin's `flush` hook.
    Flush,
    /// A call through [`AsyncPlugin::call_async`].
    Call,
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
