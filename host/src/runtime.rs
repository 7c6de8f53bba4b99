//! The runtime: one wasmtime engine, the table of live plugins, and the
//! entry points for opening them.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use wasmplug_core::{Digest, Registry};
use wasmtime::Engine;
use wasmtime::component::{Component, HasSelf, Linker};

use crate::bindings::wasmplug::plugin::log;
use crate::cache::{Cache, CacheStats};
use crate::contract::Contract;
use crate::error::{Error, Origin, Result, chain};
use crate::sandbox::{Features, Options, Sandbox};
use crate::state::PluginState;
use crate::ticker::Ticker;

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
    max_plugin_size: u64,
    registry: Registry,
    /// One linker per contract type, built on first use.
    linkers: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
    _ticker: Option<Ticker>,
}

impl Runtime {
    pub(crate) fn from_parts(
        engine: Engine,
        cache: Option<Arc<Cache>>,
        features: Features,
        max_plugin_size: u64,
        ticker: Option<Ticker>,
    ) -> Self {
        Runtime {
            inner: Arc::new(RuntimeInner {
                engine,
                cache,
                features,
                max_plugin_size,
                registry: Registry::default(),
                linkers: Mutex::new(HashMap::new()),
                _ticker: ticker,
            }),
        }
    }

    /// The wasmtime engine.
    pub fn engine(&self) -> &Engine {
        &self.inner.engine
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

    pub(crate) fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    pub(crate) fn max_plugin_size(&self) -> u64 {
        self.inner.max_plugin_size
    }

    /// Compiles `wasm` (whose SHA-256 is `digest`), through the cache when
    /// there is one.
    pub(crate) fn compile(&self, wasm: &[u8], digest: Digest) -> wasmtime::Result<Component> {
        match &self.inner.cache {
            Some(cache) => cache.component(&self.inner.engine, wasm, digest),
            None => Component::new(&self.inner.engine, wasm),
        }
    }

    /// The precompiled cache, if it is on.
    pub(crate) fn cache(&self) -> Option<&Cache> {
        self.inner.cache.as_deref()
    }

    /// The sandbox for a plugin opened with `options`; it keeps the
    /// runtime (and its epoch ticker) alive as long as the plugin lives.
    pub(crate) fn sandbox(&self, options: Options, origin: &Origin) -> Result<Sandbox> {
        let keepalive: Arc<dyn Any + Send + Sync> = self.inner.clone();
        Sandbox::new(
            self.inner.engine.clone(),
            self.inner.features,
            options,
            keepalive,
            origin,
        )
    }

    pub(crate) fn linker<C: Contract>(&self) -> Result<Arc<Linker<PluginState>>> {
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
        if C::ASYNC {
            wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(engine_err)?;
        } else {
            wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(engine_err)?;
        }
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
