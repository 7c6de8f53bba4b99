//! The runtime: one wasmtime engine, its configuration, and the table of
//! live plugins.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread;
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// At most how much of a pooled instance's memory (and of its tables) is
/// zeroed and kept resident for the next instance, when the kernel tells
/// which pages were dirtied; the rest goes back to the kernel.
const KEEP_RESIDENT: usize = 1 << 20;

use crate::bindings::wasmplug::plugin::log;
use crate::cache::{self, Cache, CacheStats};
use crate::capabilities::Capabilities;
use crate::contract::Contract;
use crate::digest::Digest;
use crate::directory::{self, Available, Spec};
use crate::error::{Error, Origin, Result, chain};
use crate::limits::Limits;
use crate::manifest::Manifest;
use crate::plugin::{Instance, Plugin, PluginPre};
use crate::registry::Registry;
use crate::setup::{Features, Options, Setup};
use crate::state::PluginState;

/// Configures a [`Runtime`]. Every default is the fast one for synchronous
/// embedding; each is documented on its setter.
#[derive(Debug, Clone)]
pub struct RuntimeBuilder {
    max_instances: u32,
    pooling: bool,
    concurrency: bool,
    epoch_tick: Option<Duration>,
    fuel: bool,
    cache: CacheSetting,
}

#[derive(Debug, Clone)]
enum CacheSetting {
    Default,
    Dir(PathBuf),
    Off,
}

impl Default for RuntimeBuilder {
    fn default() -> Self {
        RuntimeBuilder {
            max_instances: 128,
            pooling: true,
            concurrency: false,
            epoch_tick: None,
            fuel: false,
            cache: CacheSetting::Default,
        }
    }
}

impl RuntimeBuilder {
    /// Whether instances come from a pre-allocated pool (wasmtime's pooling
    /// allocator): instantiation is faster (~11 µs against ~18 µs measured),
    /// at the price of reserving virtual address space for
    /// [`max_instances`](Self::max_instances) up front.
    ///
    /// Default: `true`.
    pub fn pooling(mut self, enable: bool) -> Self {
        self.pooling = enable;
        self
    }

    /// How many plugin instances can be alive at once when pooling. Each
    /// reserves (but does not commit) address space for its linear memories.
    /// Instantiating beyond it fails with [`Error::Trap`] on `instantiate`.
    ///
    /// Default: 128.
    pub fn max_instances(mut self, count: u32) -> Self {
        self.max_instances = count.max(1);
        self
    }

    /// Whether wasmtime's support for concurrent (async) component calls is
    /// on. wasmplug calls plugins synchronously; leaving it off makes every
    /// call about three times cheaper (~510 ns to ~170 ns measured).
    ///
    /// Default: `false`.
    pub fn concurrency_support(mut self, enable: bool) -> Self {
        self.concurrency = enable;
        self
    }

    /// Whether plugins can be given a per-call deadline
    /// ([`Limits::deadline`](crate::Limits::deadline)). Turns on wasmtime's
    /// epoch interruption, which makes guest code about 10% slower, and
    /// starts a ticker thread (one per runtime, stopped when the runtime and
    /// its plugins are dropped) that advances the epoch every `tick`
    /// (1 ms unless [`epoch_tick`](Self::epoch_tick) says otherwise).
    ///
    /// Default: `false`.
    pub fn epoch_interruption(mut self, enable: bool) -> Self {
        self.epoch_tick = match (enable, self.epoch_tick) {
            (false, _) => None,
            (true, Some(tick)) => Some(tick),
            (true, None) => Some(Duration::from_millis(1)),
        };
        self
    }

    /// The epoch ticker's period: the precision of deadlines. Implies
    /// [`epoch_interruption(true)`](Self::epoch_interruption).
    pub fn epoch_tick(mut self, tick: Duration) -> Self {
        self.epoch_tick = Some(tick.max(Duration::from_micros(100)));
        self
    }

    /// Whether plugins can be given fuel per call
    /// ([`Limits::fuel`](crate::Limits::fuel)). Turns on fuel metering,
    /// which makes guest code about 25% slower.
    ///
    /// Default: `false`.
    pub fn fuel(mut self, enable: bool) -> Self {
        self.fuel = enable;
        self
    }

    /// Keeps precompiled plugins in `dir` (created `0700` if missing; a
    /// directory other users can write into is refused and the cache
    /// disabled, with a warning). Loads of a plugin already compiled by an
    /// engine with the same settings then take well under a millisecond
    /// instead of tens.
    ///
    /// Default: the per-user cache directory (`$XDG_CACHE_HOME/wasmplug`,
    /// `~/.cache/wasmplug`, or `~/Library/Caches/wasmplug` on macOS).
    /// Entries are never evicted: delete the directory to reclaim space.
    pub fn cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache = CacheSetting::Dir(dir.into());
        self
    }

    /// Whether to use the precompiled cache at all.
    ///
    /// Default: `true` (see [`cache_dir`](Self::cache_dir)).
    pub fn cache(mut self, enable: bool) -> Self {
        self.cache = match (enable, self.cache) {
            (false, _) => CacheSetting::Off,
            (true, CacheSetting::Off) => CacheSetting::Default,
            (true, setting) => setting,
        };
        self
    }

    /// Creates the runtime.
    ///
    /// # Errors
    ///
    /// [`Error::Engine`] if wasmtime refuses the configuration (for example
    /// when the pool cannot reserve its address space).
    pub fn build(self) -> Result<Runtime> {
        let mut config = Config::new();
        config.concurrency_support(self.concurrency);
        config.epoch_interruption(self.epoch_tick.is_some());
        config.consume_fuel(self.fuel);
        if self.pooling {
            let n = self.max_instances;
            let mut pool = PoolingAllocationConfig::new();
            // A Rust wasm32-wasip2 component has one memory, one or two
            // tables and a handful of core instances; leave headroom for
            // guests from other toolchains.
            pool.total_component_instances(n)
                .total_core_instances(n.saturating_mul(8))
                .total_memories(n.saturating_mul(2))
                .total_tables(n.saturating_mul(4))
                .total_stacks(n);
            // Where the kernel can say which pages a freed instance dirtied
            // (Linux 6.7+, PAGEMAP_SCAN), zero just those and keep them
            // resident: the next instance then takes no page faults and no
            // `madvise` runs (instantiation 13.8 -> 6.2 µs). Elsewhere,
            // keeping memory resident would mean zeroing all of it each
            // time: freed memory goes back to the kernel instead.
            if PoolingAllocationConfig::is_pagemap_scan_available() {
                pool.pagemap_scan(Enabled::Yes)
                    .linear_memory_keep_resident(KEEP_RESIDENT)
                    .table_keep_resident(KEEP_RESIDENT);
            }
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        }
        let engine = Engine::new(&config).map_err(|e| Error::Engine { reason: chain(&e) })?;
        let root = match self.cache {
            CacheSetting::Default => cache::default_root(),
            CacheSetting::Dir(dir) => Some(dir),
            CacheSetting::Off => None,
        };
        let cache = root.and_then(|root| match Cache::open(&root, &engine) {
            Ok(cache) => Some(Arc::new(cache)),
            Err(e) => {
                tracing::warn!(target: "wasmplug", dir = %root.display(), "precompiled cache disabled: {e}");
                None
            }
        });
        let ticker = self
            .epoch_tick
            .map(|tick| Ticker::start(engine.clone(), tick))
            .transpose()?;
        Ok(Runtime {
            inner: Arc::new(RuntimeInner {
                engine,
                cache,
                features: Features {
                    epoch_tick: self.epoch_tick,
                    fuel: self.fuel,
                },
                registry: Registry::default(),
                linkers: Mutex::new(HashMap::new()),
                _ticker: ticker,
            }),
        })
    }
}

/// The plugin runtime: an engine, its configuration and the live plugins.
/// Cheap to clone (shared); `Send + Sync`.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<RuntimeInner>,
}

struct RuntimeInner {
    engine: Engine,
    cache: Option<Arc<Cache>>,
    features: Features,
    registry: Registry,
    /// One linker per contract type, built on first use.
    linkers: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
    _ticker: Option<Ticker>,
}

/// Advances the engine's epoch every tick, on a thread of its own, until
/// dropped.
struct Ticker {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Ticker {
    fn start(engine: Engine, tick: Duration) -> Result<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = thread::Builder::new()
            .name("wasmplug-epoch".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(tick) {
                    engine.increment_epoch();
                }
            })
            .map_err(|e| Error::Engine {
                reason: format!("cannot start the epoch ticker: {e}"),
            })?;
        Ok(Ticker {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Runtime {
    /// A runtime with the default configuration (see [`RuntimeBuilder`]).
    ///
    /// # Errors
    ///
    /// [`Error::Engine`] as in [`RuntimeBuilder::build`].
    pub fn new() -> Result<Self> {
        RuntimeBuilder::default().build()
    }

    /// Starts configuring a runtime.
    pub fn builder() -> RuntimeBuilder {
        RuntimeBuilder::default()
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    /// Opens the plugin at `path` for contract `C`, with no configuration.
    /// See [`Loader::open`].
    ///
    /// # Errors
    ///
    /// As [`Loader::open`].
    pub fn open<C: Contract>(&self, path: impl AsRef<Path>) -> Result<Plugin<C>> {
        self.loader::<C>().open(path)
    }

    /// Starts loading a plugin for contract `C`, with options.
    pub fn loader<C: Contract>(&self) -> Loader<'_, C> {
        Loader {
            runtime: self,
            options: Options::default(),
            on_conflict: OnConflict::default(),
            manifest: None,
            _contract: PhantomData,
        }
    }

    /// Every plugin for contract `C` directly in `dir` (`*.wasm` files),
    /// with the name and version each declares, sorted by name and then
    /// newest first. Files that are not plugins for `C` are skipped (logged
    /// at debug level). Each file is compiled to read its metadata (through
    /// the precompiled cache, when on); none is initialised.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if `dir` cannot be read.
    pub fn scan<C: Contract>(&self, dir: impl AsRef<Path>) -> Result<Vec<Available>> {
        let mut found = Vec::new();
        self.loader::<C>().scan(dir.as_ref(), |candidate| {
            found.push(candidate.available);
        })?;
        found.sort_by(|a, b| a.name.cmp(&b.name).then(b.version.cmp(&a.version)));
        Ok(found)
    }

    /// Opens the newest plugin in `dir` that satisfies `spec`, with no
    /// configuration. See [`Loader::open_in`].
    ///
    /// # Errors
    ///
    /// As [`Loader::open_in`].
    pub fn open_in<C: Contract>(&self, dir: impl AsRef<Path>, spec: &str) -> Result<Plugin<C>> {
        self.loader::<C>().open_in(dir, spec)
    }

    /// Where the precompiled cache keeps (or would keep) the entry for
    /// `wasm`, if the cache is on.
    pub fn cache_entry(&self, wasm: &[u8]) -> Option<PathBuf> {
        self.inner
            .cache
            .as_ref()
            .map(|c| c.entry_path(Digest::of(wasm)))
    }

    /// How the precompiled cache has fared, if it is on.
    pub fn cache_stats(&self) -> Option<CacheStats> {
        self.inner.cache.as_ref().map(|c| c.stats())
    }

    /// How many plugins are loaded and alive.
    pub fn live_plugins(&self) -> usize {
        self.inner.registry.live()
    }

    fn linker<C: Contract>(&self) -> Result<Arc<Linker<PluginState>>> {
        let mut linkers = self
            .inner
            .linkers
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(linker) = linkers.get(&TypeId::of::<C>())
            && let Ok(linker) = Arc::clone(linker).downcast::<Linker<PluginState>>()
        {
            return Ok(linker);
        }
        let mut linker = Linker::new(&self.inner.engine);
        let engine_err = |e: wasmtime::Error| Error::Engine { reason: chain(&e) };
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(engine_err)?;
        log::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut linker, |s| s)
            .map_err(engine_err)?;
        C::add_to_linker(&mut linker).map_err(engine_err)?;
        let linker = Arc::new(linker);
        linkers.insert(
            TypeId::of::<C>(),
            Arc::clone(&linker) as Arc<dyn Any + Send + Sync>,
        );
        Ok(linker)
    }
}

/// What opening a plugin does when another live plugin has the same name
/// and version but different content (Go's `plugin.Open` panics the
/// process). See [`Loader::on_conflict`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnConflict {
    /// Refuse the new content with [`Error::Conflict`]; the loaded plugin
    /// keeps serving. The default.
    #[default]
    Refuse,
    /// Load the new content as a plugin of its own, alongside the loaded
    /// one: both serve, each with its own code and state, told apart by
    /// their digests.
    LoadAlongside,
}

/// Loads one plugin for contract `C`; made by [`Runtime::loader`].
#[must_use = "a loader does nothing until `open` or `open_bytes`"]
pub struct Loader<'r, C: Contract> {
    runtime: &'r Runtime,
    options: Options,
    on_conflict: OnConflict,
    manifest: Option<Manifest>,
    _contract: PhantomData<fn() -> C>,
}

impl<C: Contract> Loader<'_, C> {
    /// Adds a setting passed to the plugin's `init`.
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.config.push((key.into(), value.into()));
        self
    }

    /// What the plugin may reach. Default: [`Capabilities::none`].
    pub fn capabilities(mut self, capabilities: Capabilities) -> Self {
        self.options.capabilities = capabilities;
        self
    }

    /// The plugin's resource limits. Default: none.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.options.limits = limits;
        self
    }

    /// What to do when a plugin with the same name and version but other
    /// content is live. Default: [`OnConflict::Refuse`].
    pub fn on_conflict(mut self, on_conflict: OnConflict) -> Self {
        self.on_conflict = on_conflict;
        self
    }

    /// Opens the newest plugin in `dir` that satisfies `spec`: `auth@1` is
    /// the newest `auth` 1.x there, by the versions the plugins declare
    /// (file names do not matter). See [`Spec`] for the syntax. Upgrading
    /// is dropping a newer file into the directory: the next `open_in`
    /// loads it, while plugins already open keep running.
    ///
    /// # Errors
    ///
    /// [`Error::Spec`] if `spec` does not parse, [`Error::Io`] if `dir`
    /// cannot be read, [`Error::NotFound`] (listing what is there) if no
    /// plugin matches, and otherwise as [`open`](Self::open).
    pub fn open_in(self, dir: impl AsRef<Path>, spec: &str) -> Result<Plugin<C>> {
        let dir = dir.as_ref();
        let spec: Spec = spec.parse()?;
        let mut available = Vec::new();
        let mut best: Option<Candidate<C>> = None;
        self.reborrow().scan(dir, |candidate| {
            available.push(candidate.available.clone());
            if directory::better(
                &spec,
                &candidate.available,
                best.as_ref().map(|b| &b.available),
            ) {
                best = Some(candidate);
            }
        })?;
        let Some(best) = best else {
            return Err(Error::NotFound {
                dir: dir.to_owned(),
                spec: spec.to_string(),
                available: available.iter().map(ToString::to_string).collect(),
            });
        };
        // The bytes and compilation the scan made: what was chosen is what
        // loads, even if the file changes meanwhile.
        let Candidate {
            available,
            pre,
            first,
            ..
        } = best;
        let registry = &self.runtime.inner.registry;
        registry.open(available.digest, self.on_conflict, || Ok((pre, first)))
    }

    /// A loader with the same options.
    fn reborrow(&self) -> Self {
        Loader {
            runtime: self.runtime,
            options: self.options.clone(),
            on_conflict: self.on_conflict,
            manifest: self.manifest.clone(),
            _contract: PhantomData,
        }
    }

    /// Applies the manifest beside the plugin file `path`, if any: its
    /// configuration under the embedder's, its capabilities unless the
    /// embedder chose some, and the checks that need no compiling.
    fn with_manifest_for(mut self, path: &Path) -> Result<Self> {
        let manifest = Manifest::beside(path)?;
        if let Some(m) = &manifest {
            self.options.config = m.config(&self.options.config);
            if self.options.capabilities.is_none() {
                self.options.capabilities = m.capabilities();
            }
            m.kind().clone_into(&mut self.options.kind);
            m.check_before_compile(C::PACKAGE, &self.options.config)?;
        }
        self.manifest = manifest;
        Ok(self)
    }

    /// Compiles each `*.wasm` file in `dir` for `C` with these options and
    /// hands over those that are plugins for `C`.
    fn scan(self, dir: &Path, mut found: impl FnMut(Candidate<C>)) -> Result<()> {
        for path in directory::wasm_files(dir)? {
            let bytes = match std::fs::read(&path) {
                Ok(bytes) => bytes,
                Err(e) => {
                    tracing::debug!(target: "wasmplug", file = %path.display(), "skipped: {e}");
                    continue;
                }
            };
            let digest = Digest::of(&bytes);
            let origin = Origin::File(path.clone());
            let compiled = self
                .reborrow()
                .with_manifest_for(&path)
                .and_then(|loader| loader.compile_origin(origin, &bytes, digest));
            match compiled {
                Ok((pre, first)) => found(Candidate {
                    available: Available {
                        name: pre.metadata().name.clone(),
                        version: pre.metadata().version.clone(),
                        path,
                        digest,
                    },
                    pre,
                    first,
                }),
                Err(e) => {
                    tracing::debug!(target: "wasmplug", file = %path.display(), "skipped: {e}");
                }
            }
        }
        Ok(())
    }

    /// Opens the plugin file at `path`: instantiate-once, as Go's
    /// `plugin.Open`. If a plugin with the same content is already live for
    /// contract `C`, that plugin is returned and nothing runs (its `init` ran
    /// once, with the configuration, capabilities and limits it was first
    /// opened with: those of later openings are ignored). Otherwise the
    /// file is compiled, checked against `C`, instantiated, and its `init`
    /// runs.
    ///
    /// # Errors
    ///
    /// - [`Error::Io`]: the file cannot be read;
    /// - [`Error::NotWasm`], [`Error::CoreModule`], [`Error::Truncated`],
    ///   [`Error::Malformed`]: it is not a usable component;
    /// - [`Error::NotImplemented`], [`Error::UnsupportedContract`],
    ///   [`Error::Export`], [`Error::Import`]: it does not implement `C` as
    ///   this host knows it;
    /// - [`Error::Metadata`]: its name or version is unusable;
    /// - [`Error::Conflict`]: another live plugin has the same name and
    ///   version but different content (unless
    ///   [`on_conflict`](Self::on_conflict) says to load it alongside);
    /// - [`Error::Init`], [`Error::Trap`]: its `init` refused or trapped.
    pub fn open(self, path: impl AsRef<Path>) -> Result<Plugin<C>> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })?;
        let origin = Origin::File(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned()));
        self.with_manifest_for(path)?.open_origin(origin, &bytes)
    }

    /// Like [`open`](Self::open), from bytes in memory; `label` names them in
    /// errors and logs until the plugin's metadata is known.
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open), without [`Error::Io`].
    pub fn open_bytes(self, label: impl Into<String>, bytes: &[u8]) -> Result<Plugin<C>> {
        self.open_origin(Origin::Bytes(label.into()), bytes)
    }

    /// Compiles and checks a plugin without registering or initialising it,
    /// for embedders who manage instances themselves
    /// ([`PluginPre::instantiate`] runs `init` on each).
    ///
    /// # Errors
    ///
    /// As [`open_bytes`](Self::open_bytes), without [`Error::Conflict`],
    /// [`Error::Init`].
    pub fn compile(self, label: impl Into<String>, bytes: &[u8]) -> Result<PluginPre<C>> {
        let origin = Origin::Bytes(label.into());
        let (pre, _uninitialised) = self.compile_origin(origin, bytes, Digest::of(bytes))?;
        Ok(pre)
    }

    fn open_origin(self, origin: Origin, bytes: &[u8]) -> Result<Plugin<C>> {
        let digest = Digest::of(bytes);
        let registry = &self.runtime.inner.registry;
        let on_conflict = self.on_conflict;
        registry.open(digest, on_conflict, || {
            self.compile_origin(origin, bytes, digest)
        })
    }

    fn compile_origin(
        self,
        origin: Origin,
        bytes: &[u8],
        digest: Digest,
    ) -> Result<(PluginPre<C>, Instance<C>)> {
        let runtime = self.runtime;
        let linker = runtime.linker::<C>()?;
        let keepalive: Arc<dyn Any + Send + Sync> = runtime.inner.clone();
        let setup = Setup::new(
            runtime.engine().clone(),
            runtime.inner.cache.clone(),
            runtime.inner.features,
            self.options,
            keepalive,
            &origin,
        )?;
        let (pre, first) = PluginPre::compile(setup, &linker, origin, bytes, digest)?;
        if let Some(manifest) = &self.manifest {
            manifest.check_metadata(pre.metadata())?;
        }
        Ok((pre, first))
    }
}

/// A plugin file compiled during a directory scan.
struct Candidate<C: Contract> {
    available: Available,
    pre: PluginPre<C>,
    first: Instance<C>,
}
