//! Init once, for every instance: a plugin snapshotted after its `init`
//! ([`PluginPre::snapshot`]), so that new instances start initialised.
//!
//! wasmtime-wizer does the two halves that need to know the component's
//! insides: it instruments the component (an extra export that reads
//! every core instance's memories and globals) and, after `init` ran,
//! rewrites it with that state as its initial state. Between the two,
//! wasmplug runs the plugin itself, as it runs any instance: in the
//! plugin's sandbox, with its linker (so WASI and `log` work during
//! `init`), its `validate` hook first, its limits, and its typed errors.
//! wizer's own driver (`Wizer::run_component`) would do the same through
//! an async call of an init function written as a WAVE string; running
//! `init` through the contract's bindings keeps `Error::Init` and
//! `Error::Hook` what they are for every other instance.
//!
//! What a snapshot cannot carry is refused, never half-kept: host
//! resources (a WASI file, directory or stream handle) still open when
//! `init` returns live in the host's table, not in the guest's memory, so
//! an instance from the snapshot would hold handles to nothing.

use std::future::Future;
use std::hash::{Hash, Hasher};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use wasmtime::Store;
use wasmtime::component::{Component, Instance as WasmInstance, Lift, Linker, WasmList};
use wasmtime_wizer::{ComponentInstanceState, Wizer};

use crate::bindings::BaseIndices;
use crate::bindings::hooks::exports::wasmplug::plugin::lifecycle as hooks;
use crate::capabilities::Capabilities;
use crate::contract::Contract;
use crate::error::{Error, Result, chain};
use crate::instance::PluginInstance;
use crate::pre::{PluginPre, PreInner, Snapshotted};
use crate::sandbox::Sandbox;
use crate::state::PluginState;
use wasmplug_core::Digest;

/// Where a snapshot being made is (see [`PluginPre::snapshot_observed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// The plugin's `validate` and `init` start.
    Init,
    /// They returned; what is left is reading the state and compiling.
    Rest,
}

/// Bumped when what a snapshot holds, or how its key is made, changes:
/// older cache entries are then never found.
const KEY_FORMAT: &[u8] = b"wasmplug-snapshot/1 wasmtime-wizer/48\0";

impl<C: Contract> PluginPre<C> {
    /// The same plugin, making its instances from the pre-instantiated
    /// `component`: a snapshot of it taken after `init` (see
    /// [`snapshot`](Self::snapshot)).
    pub(crate) fn with_snapshot(
        &self,
        sandbox: Sandbox,
        linker: &Linker<PluginState>,
        component: &Component,
        snapshot: Snapshotted<C>,
    ) -> Result<Self> {
        let i = &self.inner;
        let pre = linker
            .instantiate_pre(component)
            .map_err(|e| Error::Import {
                origin: i.origin.clone(),
                reason: chain(&e),
            })?;
        let export_err = |e: wasmtime::Error| Error::Export {
            origin: i.origin.clone(),
            reason: chain(&e),
        };
        let base = BaseIndices::new(&pre).map_err(export_err)?;
        let hooks = hooks::GuestIndices::new(&pre).ok();
        let indices = C::indices(&pre).map_err(export_err)?;
        Ok(PluginPre {
            inner: Arc::new(PreInner {
                sandbox,
                pre,
                base,
                hooks,
                declared: i.declared.clone(),
                config: Arc::clone(&snapshot.config),
                indices,
                origin: i.origin.clone(),
                digest: i.digest,
                metadata: i.metadata.clone(),
                label: Arc::clone(&i.label),
                source: i.source.clone(),
                snapshot: Some(snapshot),
            }),
        })
    }

    /// Runs the plugin's `init` once, with its configuration (its
    /// `validate` hook first, if it has one), snapshots the initialised
    /// state, and returns the plugin making every instance from that
    /// snapshot: [`instantiate`](Self::instantiate) then starts each new
    /// instance initialised, without running `init` again, as if it were a
    /// copy of the instance that ran it (its memory copy-on-write, from the
    /// compiled snapshot). Each instance's `shutdown` still runs when it is
    /// dropped. This is Go's `init runs once` kept across many instances,
    /// e.g. a pool.
    ///
    /// The snapshot is compiled and kept in the precompiled cache, keyed by
    /// the plugin's digest, the configuration `init` got, the capabilities
    /// (environment, arguments, directories) it could see and the engine's
    /// settings: taking the same snapshot again, in this process or another,
    /// loads it and does not run `init` (see [`CacheStats::snapshot_hits`](crate::CacheStats::snapshot_hits)).
    /// Taking it costs one `init` and two compilations (tens of
    /// milliseconds for the bundled plugins); loading it, well under one.
    ///
    /// What the snapshot freezes, every instance shares as its starting
    /// point: whatever `init` computed, but also any randomness it drew
    /// (e.g. hash-map seeds) and clock readings it took. On a snapshot,
    /// `snapshot` returns it again.
    ///
    /// ```no_run
    /// # wasmplug::contract! {
    /// #     pub struct Demo {
    /// #         package: "wasmplug:demo@1.0.0",
    /// #         world: "wasmplug:demo/demo",
    /// #         path: ["wit/plugin", "../wit/demo"],
    /// #         bindings: demo::{Demo, DemoIndices},
    /// #     }
    /// # }
    /// # fn main() -> Result<(), wasmplug::Error> {
    /// let runtime = wasmplug::Runtime::new()?;
    /// let bytes = std::fs::read("demo1.wasm").expect("the plugin");
    /// let pre = runtime.loader::<Demo>().compile("demo1", &bytes)?;
    /// let snapshot = pre.snapshot()?; // `init` runs here, once
    /// for _ in 0..10 {
    ///     let instance = snapshot.instantiate()?; // no `init`: it starts initialised
    /// #   drop(instance);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As `init` on any instance: [`Error::Hook`] if the `validate` hook
    /// refuses the configuration, [`Error::Init`] if `init` does,
    /// [`Error::Trap`] or [`Error::LimitExceeded`] if it traps or runs into
    /// a limit. [`Error::Snapshot`] if the plugin cannot be snapshotted:
    /// its `init` left host resources open, or wasmtime-wizer refused the
    /// component; the plugin still works without a snapshot.
    pub fn snapshot(&self) -> Result<PluginPre<C>> {
        let config = Arc::clone(self.config());
        self.snapshot_with(&config)
    }

    /// Whether this plugin makes its instances from a snapshot taken after
    /// `init` (see [`snapshot`](Self::snapshot)).
    pub fn is_snapshot(&self) -> bool {
        self.snapshotted().is_some()
    }

    /// [`snapshot`](Self::snapshot) after an `init` with `config` (settled:
    /// see [`settle`](Self::settle)) instead of the plugin's own: a
    /// reconfiguration makes a new snapshot.
    pub(crate) fn snapshot_with(&self, config: &Arc<[(String, String)]>) -> Result<PluginPre<C>> {
        self.snapshot_observed(config, &mut |_| true)
    }

    /// [`snapshot_with`](Self::snapshot_with), telling `observe` when the
    /// plugin's `init` starts ([`Phase::Init`]) and when it has returned
    /// ([`Phase::Rest`]; answering `false` abandons the snapshot, which is
    /// then neither made nor cached). Neither is told when the snapshot
    /// comes from the cache. The async path times the `init` alone against
    /// the plugin's deadline this way: compiling is not the plugin's time.
    pub(crate) fn snapshot_observed(
        &self,
        config: &Arc<[(String, String)]>,
        observe: &mut (dyn FnMut(Phase) -> bool + Send),
    ) -> Result<PluginPre<C>> {
        if let Some(snapshotted) = self.snapshotted() {
            if snapshotted.config == *config {
                return Ok(self.clone());
            }
            return snapshotted.of.snapshot_observed(config, observe);
        }
        let runtime = &self.source().runtime;
        let engine = &self.sandbox().engine;
        let key = key(self.digest(), config, &self.sandbox().options.capabilities);
        let cached = runtime
            .cache()
            .and_then(|cache| cache.load_snapshot(engine, key));
        let component = match cached {
            Some(component) => component,
            None => {
                let wasm = self.take_snapshot(config, observe)?;
                let component = Component::new(engine, &wasm).map_err(|e| {
                    self.snapshot_error(format!(
                        "wasmtime cannot compile the snapshot: {}",
                        chain(&e)
                    ))
                })?;
                if let Some(cache) = runtime.cache() {
                    cache.store_snapshot(key, &component);
                }
                component
            }
        };
        let linker = runtime.linker::<C>()?;
        let sandbox = runtime.sandbox(self.sandbox().options.clone(), self.origin())?;
        self.with_snapshot(
            sandbox,
            &linker,
            &component,
            Snapshotted {
                of: self.clone(),
                config: Arc::clone(config),
            },
        )
    }

    /// Runs `init(config)` on an instance of the instrumented plugin and
    /// returns the plugin rewritten with the state it left.
    fn take_snapshot(
        &self,
        config: &[(String, String)],
        observe: &mut (dyn FnMut(Phase) -> bool + Send),
    ) -> Result<Vec<u8>> {
        let wizer = Wizer::new();
        let (cx, instrumented) = unwound(|| wizer.instrument_component(&self.source().wasm))
            .map_err(|panic| self.snapshot_error(format!("wasmtime-wizer failed: {panic}")))?
            .map_err(|e| {
                self.snapshot_error(format!("wasmtime-wizer refused it: {}", chain(&e)))
            })?;
        let sandbox: &Sandbox = self.sandbox();
        let instrumented = Component::new(&sandbox.engine, &instrumented).map_err(|e| {
            self.snapshot_error(format!(
                "wasmtime cannot compile it instrumented for the snapshot: {}",
                chain(&e)
            ))
        })?;
        // `init` runs here synchronously. An async contract's own imports
        // are async: they trap during the snapshot's `init` (WASI and `log`
        // work, as on the probe that read its metadata).
        let pre = if C::ASYNC {
            crate::calling::probe_linker(&sandbox.engine, &instrumented)?
                .instantiate_pre(&instrumented)
        } else {
            self.source()
                .runtime
                .linker::<C>()?
                .instantiate_pre(&instrumented)
        }
        .map_err(|e| self.snapshot_error(chain(&e)))?;
        let export_err = |e: wasmtime::Error| self.snapshot_error(chain(&e));
        let base = BaseIndices::new(&pre).map_err(export_err)?;
        let hooks = hooks::GuestIndices::new(&pre).ok();
        let indices = C::indices(&pre).map_err(export_err)?;
        let raw = PluginInstance::<C>::raw(
            sandbox,
            &pre,
            (&base, hooks.as_ref()),
            &indices,
            self.origin(),
            self.label(),
        )?;
        let mut instance = raw.into_instance(self.clone());
        let before = open_resources(&mut instance.store);
        observe(Phase::Init);
        let initialised = instance.init(config);
        if !observe(Phase::Rest) {
            return Err(
                self.snapshot_error("abandoned: its `init` ran past the plugin's deadline".into())
            );
        }
        initialised.map_err(|e| match e {
            Error::Trap { reason, .. } if C::ASYNC => self.snapshot_error(format!(
                "its `init` trapped while the snapshot was made: {reason}; on the async \
                 path that `init` runs with WASI and `log` only (the contract's own \
                 imports trap): if it needs them, pool it with \
                 `PoolConfig::from_snapshot(false)`"
            )),
            other => other,
        })?;
        // Thrown away without `shutdown`: its state lives on in the
        // snapshot's instances, each of which runs `shutdown` once.
        instance.poisoned = true;
        let left_open = open_resources(&mut instance.store).saturating_sub(before);
        if left_open > 0 {
            return Err(self.snapshot_error(format!(
                "its `init` left {left_open} host resource(s) open (a WASI file, directory, \
                 stream or other handle, e.g. kept by the guest's libc after it touched the \
                 filesystem); a snapshot holds the guest's memory, not the host's resources, \
                 so its instances would hold dangling handles"
            )));
        }
        let mut access = Access {
            sandbox,
            store: &mut instance.store,
            instance: instance.instance,
            failed: None,
        };
        let snapshot = unwound(|| poll_once(wizer.snapshot_component(&cx, &mut access)))
            .map_err(|panic| self.snapshot_error(format!("wasmtime-wizer failed: {panic}")))?;
        if let Some(failed) = access.failed {
            return Err(self.snapshot_error(failed));
        }
        match snapshot {
            Some(Ok(wasm)) => Ok(wasm),
            Some(Err(e)) => {
                Err(self.snapshot_error(format!("wasmtime-wizer refused it: {}", chain(&e))))
            }
            None => Err(self.snapshot_error(
                "wasmtime-wizer's snapshot did not complete (it waited on something)".into(),
            )),
        }
    }

    fn snapshot_error(&self, reason: String) -> Error {
        Error::Snapshot {
            plugin: self.label().to_string(),
            reason,
        }
    }
}

/// The snapshot's cache key: the plugin's digest, the configuration `init`
/// got, and the capabilities it could read (environment, arguments,
/// directories). The engine is in the cache's directory name.
fn key(digest: Digest, config: &[(String, String)], capabilities: &Capabilities) -> Digest {
    let mut bytes = KeyBytes(KEY_FORMAT.to_vec());
    bytes.0.extend_from_slice(digest.as_bytes());
    config.hash(&mut bytes);
    capabilities.hash(&mut bytes);
    Digest::of(&bytes.0)
}

/// Collects what `Hash` feeds it; hashed whole into the key.
struct KeyBytes(Vec<u8>);

impl Hasher for KeyBytes {
    fn finish(&self) -> u64 {
        0
    }
    fn write(&mut self, bytes: &[u8]) {
        self.0.extend_from_slice(bytes);
    }
}

/// How many host resources (WASI handles) the instance holds.
fn open_resources(store: &mut Store<PluginState>) -> usize {
    store.data_mut().table().iter_mut().count()
}

/// Runs `f`, turning a panic inside wasmtime-wizer (it asserts what it
/// expects of a component) into its message.
fn unwound<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|panic| {
        panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "it panicked".into())
    })
}

/// Polls `future` once. wizer's snapshot is async only because its state
/// reader may be; [`Access`] answers at once, so one poll completes it.
fn poll_once<F: Future>(future: F) -> Option<F::Output> {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// Reads the instrumented instance's state for wizer, synchronously. A
/// failure is kept (wizer's interface has no errors) and answered with
/// empty values; the snapshot is then refused.
struct Access<'a> {
    sandbox: &'a Sandbox,
    store: &'a mut Store<PluginState>,
    instance: WasmInstance,
    failed: Option<String>,
}

impl Access<'_> {
    /// Calls `instance#func`, which returns one `R`.
    fn call<R: Lift + 'static>(&mut self, instance: &str, func: &str) -> Option<R> {
        if self.failed.is_some() {
            return None;
        }
        let store = &mut *self.store;
        let result = (|| {
            let (_, outer) = self
                .instance
                .get_export(&mut *store, None, instance)
                .ok_or_else(|| wasmtime::format_err!("no export `{instance}`"))?;
            let (_, index) = self
                .instance
                .get_export(&mut *store, Some(&outer), func)
                .ok_or_else(|| wasmtime::format_err!("no export `{func}`"))?;
            let func = self
                .instance
                .get_typed_func::<(), (R,)>(&mut *store, index)?;
            self.sandbox.arm(store);
            func.call(&mut *store, ()).map(|(r,)| r)
        })();
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                self.failed = Some(format!(
                    "reading its state through `{instance}#{func}` failed: {}",
                    chain(&e)
                ));
                None
            }
        }
    }
}

impl ComponentInstanceState for Access<'_> {
    fn call_func_ret_list_u8(
        &mut self,
        instance: &str,
        func: &str,
        contents: impl FnOnce(&[u8]) + Send,
    ) -> impl Future<Output = ()> + Send {
        match self.call::<WasmList<u8>>(instance, func) {
            Some(list) => contents(list.as_le_slice(&*self.store)),
            None => contents(&[]),
        }
        std::future::ready(())
    }

    fn call_func_ret_s32(
        &mut self,
        instance: &str,
        func: &str,
    ) -> impl Future<Output = i32> + Send {
        std::future::ready(self.call(instance, func).unwrap_or_default())
    }

    fn call_func_ret_s64(
        &mut self,
        instance: &str,
        func: &str,
    ) -> impl Future<Output = i64> + Send {
        std::future::ready(self.call(instance, func).unwrap_or_default())
    }

    fn call_func_ret_f32(
        &mut self,
        instance: &str,
        func: &str,
    ) -> impl Future<Output = u32> + Send {
        let value: Option<f32> = self.call(instance, func);
        std::future::ready(value.unwrap_or_default().to_bits())
    }

    fn call_func_ret_f64(
        &mut self,
        instance: &str,
        func: &str,
    ) -> impl Future<Output = u64> + Send {
        let value: Option<f64> = self.call(instance, func);
        std::future::ready(value.unwrap_or_default().to_bits())
    }
}
