//! Configuring a [`Runtime`]: the engine's settings, the precompiled
//! cache, and the epoch ticker that deadlines need.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use wasmtime::{Config, Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::cache::{self, Cache};
use crate::error::{Error, Result, chain};
use crate::runtime::Runtime;
use crate::sandbox::Features;
use crate::ticker::Ticker;

/// At most how much of a pooled instance's memory (and of its tables) is
/// zeroed and kept resident for the next instance, when the kernel tells
/// which pages were dirtied; the rest goes back to the kernel.
const KEEP_RESIDENT: usize = 1 << 20;

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
    max_plugin_size: u64,
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
            max_plugin_size: wasmplug_core::DEFAULT_MAX_SIZE,
        }
    }
}

impl RuntimeBuilder {
    /// Whether instances come from a pre-allocated pool (wasmtime's pooling
    /// allocator): instantiation is faster (the `no pooling` row of the main
    /// job's runtime configuration table measures by how much),
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
    /// on. wasmplug calls plugins without it; off, every component call is
    /// cheaper (about three times, measured on a wasmtime built with
    /// `component-model-async`: `cargo bench -p wasmplug-benches --features
    /// concurrency --bench limits`). This crate's wasmtime is built without
    /// that feature, so `true` makes [`build`](Self::build) fail with
    /// [`Error::Engine`].
    ///
    /// Default: `false`.
    pub fn concurrency_support(mut self, enable: bool) -> Self {
        self.concurrency = enable;
        self
    }

    /// Whether plugins can be given a per-call deadline
    /// ([`Limits::deadline`](crate::Limits::deadline)). Turns on wasmtime's
    /// epoch interruption, which slows guest code down (the `epoch
    /// interruption on` row of the main job's configuration table), and
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
    /// which slows guest code down more than epochs do (the `fuel metering
    /// on` row of the main job's configuration table).
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

    /// The largest plugin file the runtime reads (a manifest: 1 MiB). A
    /// larger file is [`Error::TooLarge`], and a path that is not a regular
    /// file (a directory, FIFO or device) [`Error::NotAFile`], both before
    /// anything is read.
    ///
    /// Default: 256 MiB.
    pub fn max_plugin_size(mut self, bytes: u64) -> Self {
        self.max_plugin_size = bytes;
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
            // `madvise` runs. Elsewhere,
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
        Ok(Runtime::from_parts(
            engine,
            cache,
            Features {
                epoch_tick: self.epoch_tick,
                fuel: self.fuel,
            },
            self.max_plugin_size,
            ticker,
        ))
    }
}

/// Making a runtime.
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
}
