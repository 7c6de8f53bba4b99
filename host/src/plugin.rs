//! Compiled plugins, their instances, and the shared live plugin handle.
//!
//! The cost structure is in the types: [`PluginPre`] is compiled, checked
//! against its contract and pre-instantiated once; [`Instance`] is a cheap
//! private instance made from it; [`Plugin`] is the one live, initialised
//! instance the [`Runtime`](crate::Runtime) hands to every opener.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{
    Component, ComponentExportIndex, ComponentNamedList, Instance as WasmInstance, InstancePre,
    Lift, Linker, Lower, TypedFunc,
};
use wasmtime::{Engine, Store};

use crate::bindings::hooks::exports::wasmplug::plugin::declaration;
use crate::bindings::hooks::exports::wasmplug::plugin::lifecycle as hooks;
use crate::bindings::{Base, BaseIndices};
use crate::contract::{Contract, PackageId};
use crate::digest::Digest;
use crate::error::{Error, Origin, Result, chain};
use crate::inspect;
use crate::manifest::{self, Declared};
use crate::metadata::Metadata;
use crate::setup::Setup;
use crate::signature::{ExportedFunc, exported_funcs, func_signature};
use crate::state::PluginState;

/// The base contract every plugin implements.
pub(crate) const BASE_PACKAGE: &str = "wasmplug:plugin@1.0.0";

/// A plugin compiled, checked against its contract and pre-instantiated:
/// everything expensive is done, and [`instantiate`](Self::instantiate) is
/// cheap. Cloning shares it.
pub struct PluginPre<C: Contract> {
    inner: Arc<PreInner<C>>,
}

impl<C: Contract> Clone for PluginPre<C> {
    fn clone(&self) -> Self {
        PluginPre {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct PreInner<C: Contract> {
    setup: Setup,
    pre: InstancePre<PluginState>,
    base: BaseIndices,
    /// The optional lifecycle hooks, when the plugin exports them.
    hooks: Option<hooks::GuestIndices>,
    /// What the plugin declares about itself, when it does.
    declared: Option<Declared>,
    /// What `init` gets: the embedder's configuration with the declared
    /// defaults.
    config: Arc<[(String, String)]>,
    indices: C::Indices,
    origin: Origin,
    digest: Digest,
    metadata: Metadata,
    label: Arc<str>,
}

impl<C: Contract> PluginPre<C> {
    /// Compiles and checks `bytes`, and makes the first (uninitialised)
    /// instance to read the plugin's metadata.
    pub(crate) fn compile(
        setup: Setup,
        linker: &Linker<PluginState>,
        origin: Origin,
        bytes: &[u8],
        digest: Digest,
    ) -> Result<(Self, Instance<C>)> {
        inspect::check(&origin, bytes)?;
        let engine = &setup.engine;
        let component = setup.compile(bytes, digest).map_err(|e| Error::Malformed {
            origin: origin.clone(),
            reason: chain(&e),
        })?;
        check_package(engine, &origin, &component, BASE_PACKAGE)?;
        check_package(engine, &origin, &component, C::PACKAGE)?;
        let pre = linker
            .instantiate_pre(&component)
            .map_err(|e| Error::Import {
                origin: origin.clone(),
                reason: chain(&e),
            })?;
        let export_err = |e: wasmtime::Error| Error::Export {
            origin: origin.clone(),
            reason: chain(&e),
        };
        let base = BaseIndices::new(&pre).map_err(export_err)?;
        let hooks = hooks::GuestIndices::new(&pre).ok();
        let indices = C::indices(&pre).map_err(export_err)?;

        let label: Arc<str> = Arc::from(origin_label(&origin));
        let mut first = Instance::<C>::raw(
            &setup,
            &pre,
            (&base, hooks.as_ref()),
            &indices,
            &origin,
            &label,
        )?;
        setup.arm(&mut first.store);
        let wit_metadata = first
            .base
            .wasmplug_plugin_plugin()
            .call_get_metadata(&mut first.store)
            .map_err(|e| setup.fault(&label, Some("get-metadata"), &e))?;
        let mut metadata = Metadata::check(&origin, wit_metadata)?;
        let label: Arc<str> = Arc::from(metadata.to_string());
        first.store.data_mut().set_label(Arc::clone(&label));

        // The plugin's own declaration, if it makes one: checked, like a
        // manifest file, before any `init`.
        let declared = match declaration::GuestIndices::new(&pre) {
            Ok(indices) => {
                let guest = indices
                    .load(&mut first.store, &first.instance)
                    .map_err(export_err)?;
                setup.arm(&mut first.store);
                let declared = guest
                    .call_declare(&mut first.store)
                    .map_err(|e| setup.fault(&label, Some("declare"), &e))?;
                Some(Declared::from(declared))
            }
            Err(_) => None,
        };
        let mut config = setup.options.config.clone();
        if let Some(declared) = &declared {
            manifest::check_contract(declared.contract.as_deref(), C::PACKAGE).map_err(|_| {
                Error::UnsupportedContract {
                    origin: origin.clone(),
                    found: declared.contract.clone().unwrap_or_default(),
                    supported: C::PACKAGE.to_owned(),
                }
            })?;
            config = declared.config(&label, &origin, &config)?;
        }
        metadata.kind = if setup.options.kind.is_empty() {
            declared
                .as_ref()
                .map(|d| d.kind.clone())
                .unwrap_or_default()
        } else {
            setup.options.kind.clone()
        };

        let plugin_pre = PluginPre {
            inner: Arc::new(PreInner {
                setup,
                pre,
                base,
                hooks,
                declared,
                config: config.into(),
                indices,
                origin,
                digest,
                metadata,
                label,
            }),
        };
        let first = first.into_instance(plugin_pre.clone());
        Ok((plugin_pre, first))
    }

    /// Makes a fresh private instance and runs its `init` with the plugin's
    /// configuration. Memory and state are not shared with other instances.
    ///
    /// # Errors
    ///
    /// [`Error::Hook`] if the plugin's optional `validate` hook refuses the
    /// configuration, [`Error::Init`] if its `init` refuses, [`Error::Trap`]
    /// or [`Error::LimitExceeded`] if instantiation or `init` fails.
    pub fn instantiate(&self) -> Result<Instance<C>> {
        self.instantiate_with(&self.inner.config)
    }

    /// [`instantiate`](Self::instantiate), with `config` for `init` instead
    /// of the plugin's own.
    fn instantiate_with(&self, config: &[(String, String)]) -> Result<Instance<C>> {
        let i = &self.inner;
        let raw = Instance::<C>::raw(
            &i.setup,
            &i.pre,
            (&i.base, i.hooks.as_ref()),
            &i.indices,
            &i.origin,
            &i.label,
        )?;
        let mut instance = raw.into_instance(self.clone());
        instance.init(config)?;
        Ok(instance)
    }

    /// The plugin's checked metadata.
    pub fn metadata(&self) -> &Metadata {
        &self.inner.metadata
    }

    /// SHA-256 of the plugin's bytes.
    pub fn digest(&self) -> Digest {
        self.inner.digest
    }

    /// Where the plugin was loaded from.
    pub fn origin(&self) -> &Origin {
        &self.inner.origin
    }

    /// Every function the component exports, with its WIT signature.
    pub fn exports(&self) -> Vec<ExportedFunc> {
        exported_funcs(
            &self.inner.setup.engine,
            &self.inner.pre.component().component_type(),
        )
    }

    /// The wasmtime pre-instance, for embedders who need the raw API.
    pub fn instance_pre(&self) -> &InstancePre<PluginState> {
        &self.inner.pre
    }

    fn label(&self) -> &Arc<str> {
        &self.inner.label
    }
}

/// Checks that the component exports `package` at a version compatible with
/// the one the host was built against.
fn check_package(
    engine: &Engine,
    origin: &Origin,
    component: &Component,
    package: &str,
) -> Result<()> {
    let host = PackageId::parse(package)
        .unwrap_or_else(|| panic!("contract package `{package}` is not `ns:name@semver`"));
    let ty = component.component_type();
    let mut names = Vec::new();
    let mut found = false;
    for (name, _) in ty.exports(engine) {
        names.push(name.to_owned());
        let Some(id) = PackageId::parse(name) else {
            continue;
        };
        if id.name != host.name {
            continue;
        }
        if !id.serves(&host) {
            return Err(Error::UnsupportedContract {
                origin: origin.clone(),
                found: name.to_owned(),
                supported: package.to_owned(),
            });
        }
        found = true;
    }
    if found {
        Ok(())
    } else {
        Err(Error::NotImplemented {
            origin: origin.clone(),
            contract: package.to_owned(),
            exports: if names.is_empty() {
                "nothing".into()
            } else {
                names.join(", ")
            },
        })
    }
}

/// wasmtime's type-check error says what differs (`expected `s64` found
/// `s32``) but not in which function: name the contract's functions whose
/// signature in the plugin has the type found, so the author can find it.
fn explain_mismatch<C: Contract>(
    engine: &Engine,
    component: &Component,
    err: &wasmtime::Error,
) -> String {
    let message = chain(err);
    let Some(found) = message
        .rsplit_once("found `")
        .and_then(|(_, rest)| rest.split_once('`'))
        .map(|(t, _)| t)
    else {
        return message;
    };
    let package = PackageId::parse(C::PACKAGE)
        .map(|p| p.name)
        .unwrap_or_default();
    let suspects: Vec<String> = exported_funcs(engine, &component.component_type())
        .into_iter()
        .filter(|f| {
            let interface = f.name.split_once('#').map_or(f.name.as_str(), |(i, _)| i);
            PackageId::parse(interface).is_some_and(|p| p.name == package)
        })
        .filter(|f| {
            f.signature
                .split(|c: char| !(c.is_alphanumeric() || c == '-'))
                .any(|word| word == found)
        })
        .map(|f| format!("`{}`: {}", f.name, f.signature))
        .collect();
    if suspects.is_empty() {
        message
    } else {
        format!(
            "{message} (the plugin's functions with `{found}`: {})",
            suspects.join("; ")
        )
    }
}

fn origin_label(origin: &Origin) -> String {
    match origin {
        Origin::File(path) => path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        ),
        Origin::Bytes(label) => label.clone(),
    }
}

/// An instance before it knows its [`PluginPre`] (while the pre is built).
struct RawInstance<C: Contract> {
    store: Store<PluginState>,
    instance: WasmInstance,
    base: Base,
    hooks: Option<hooks::Guest>,
    exports: C::Exports,
}

impl<C: Contract> RawInstance<C> {
    fn into_instance(self, pre: PluginPre<C>) -> Instance<C> {
        Instance {
            store: self.store,
            instance: self.instance,
            base: self.base,
            hooks: self.hooks,
            exports: self.exports,
            pre,
            initialised: false,
            poisoned: false,
        }
    }
}

/// One instance of a plugin: its own store, memory and state. Made by
/// [`PluginPre::instantiate`]; runs the plugin's `shutdown` when dropped.
pub struct Instance<C: Contract> {
    store: Store<PluginState>,
    instance: WasmInstance,
    base: Base,
    hooks: Option<hooks::Guest>,
    exports: C::Exports,
    pre: PluginPre<C>,
    initialised: bool,
    poisoned: bool,
}

impl<C: Contract> Instance<C> {
    fn raw(
        setup: &Setup,
        pre: &InstancePre<PluginState>,
        (base, hooks): (&BaseIndices, Option<&hooks::GuestIndices>),
        indices: &C::Indices,
        origin: &Origin,
        label: &Arc<str>,
    ) -> Result<RawInstance<C>> {
        let mut store = setup.store(origin, Arc::clone(label))?;
        let instance = pre
            .instantiate(&mut store)
            .map_err(|e| setup.fault(label, Some("instantiate"), &e))?;
        let export_err = |e: wasmtime::Error| Error::Export {
            origin: origin.clone(),
            reason: chain(&e),
        };
        let base = base.load(&mut store, &instance).map_err(export_err)?;
        let hooks = hooks
            .map(|h| h.load(&mut store, &instance))
            .transpose()
            .map_err(export_err)?;
        let exports = C::load(indices, &mut store, &instance).map_err(|e| Error::Export {
            origin: origin.clone(),
            reason: explain_mismatch::<C>(&setup.engine, pre.component(), &e),
        })?;
        Ok(RawInstance {
            store,
            instance,
            base,
            hooks,
            exports,
        })
    }

    fn init(&mut self, config: &[(String, String)]) -> Result<()> {
        self.hook("validate", |hooks, store| {
            hooks.call_validate(store, config)
        })?;
        let setup = &self.pre.inner.setup;
        setup.arm(&mut self.store);
        let outcome = self
            .base
            .wasmplug_plugin_plugin()
            .call_init(&mut self.store, config);
        match outcome {
            Ok(Ok(())) => {
                self.initialised = true;
                Ok(())
            }
            Ok(Err(message)) => Err(Error::Init {
                plugin: self.pre.label().to_string(),
                message,
            }),
            Err(e) => {
                self.poisoned = true;
                Err(setup.fault(self.pre.label(), Some("init"), &e))
            }
        }
    }

    /// Runs lifecycle hook `name` if the plugin exports the hooks; returns
    /// whether it did. A refusal is [`Error::Hook`]; a trap poisons the
    /// instance.
    fn hook(
        &mut self,
        name: &'static str,
        call: impl FnOnce(
            &hooks::Guest,
            &mut Store<PluginState>,
        ) -> wasmtime::Result<std::result::Result<(), String>>,
    ) -> Result<bool> {
        let Some(hooks) = &self.hooks else {
            return Ok(false);
        };
        let setup = &self.pre.inner.setup;
        setup.arm(&mut self.store);
        match call(hooks, &mut self.store) {
            Ok(Ok(())) => Ok(true),
            Ok(Err(message)) => Err(Error::Hook {
                plugin: self.pre.label().to_string(),
                hook: name,
                message,
            }),
            Err(e) => {
                self.poisoned = true;
                Err(setup.fault(self.pre.label(), Some(name), &e))
            }
        }
    }

    /// Asks the plugin to write out what it buffers (its `flush` hook).
    /// Returns whether the plugin has the hook.
    ///
    /// # Errors
    ///
    /// [`Error::Hook`] if the plugin reports a failure, [`Error::Trap`] if
    /// it traps.
    pub fn flush(&mut self) -> Result<bool> {
        if self.poisoned {
            return Err(self.poisoned_error());
        }
        self.hook("flush", |hooks, store| hooks.call_flush(store))
    }

    /// Calls the plugin through its typed exports. `f` gets the contract's
    /// generated bindings and the store to pass to them. The plugin's
    /// deadline and fuel (see [`Limits`](crate::Limits)) apply to the whole
    /// of `f`.
    ///
    /// # Errors
    ///
    /// [`Error::Trap`] if the guest traps, [`Error::LimitExceeded`] if it
    /// runs into one of its limits; the instance is then poisoned and every
    /// later call fails without running guest code (a trapped instance may
    /// be in any state).
    pub fn call<T>(
        &mut self,
        f: impl FnOnce(&C::Exports, &mut Store<PluginState>) -> wasmtime::Result<T>,
    ) -> Result<T> {
        if self.poisoned {
            return Err(self.poisoned_error());
        }
        let setup = &self.pre.inner.setup;
        setup.arm(&mut self.store);
        // Attributes what host imports trace (wasmtime-wasi traces every
        // WASI call, e.g. a refused `open-at`) to this plugin. Nearly free
        // when no subscriber wants TRACE.
        let _span =
            tracing::trace_span!(target: "wasmplug", "plugin", plugin = &**self.pre.label())
                .entered();
        f(&self.exports, &mut self.store).map_err(|e| {
            self.poisoned = true;
            setup.fault(self.pre.label(), None, &e)
        })
    }

    fn poisoned_error(&self) -> Error {
        Error::Trap {
            plugin: self.pre.label().to_string(),
            export: "a typed call".into(),
            code: None,
            reason: "this instance trapped earlier and is not reused".into(),
        }
    }

    /// The plugin this is an instance of.
    pub fn pre(&self) -> &PluginPre<C> {
        &self.pre
    }

    /// Whether a trap left this instance unusable.
    pub fn is_poisoned(&self) -> bool {
        self.poisoned
    }
}

impl<C: Contract> Drop for Instance<C> {
    fn drop(&mut self) {
        if !self.initialised || self.poisoned {
            return;
        }
        self.pre.inner.setup.arm(&mut self.store);
        if let Err(e) = self
            .base
            .wasmplug_plugin_plugin()
            .call_shutdown(&mut self.store)
        {
            tracing::warn!(target: "wasmplug", plugin = &*self.pre.inner.label, "shutdown failed: {e:#}");
        }
    }
}

/// The live plugin: one initialised instance shared by everyone who opened
/// the same plugin. Cloning is cheap and shares it; calls are serialised.
///
/// After a trap the instance is discarded and the next call runs on a fresh
/// one (its `init` runs again); the trap itself is returned as
/// [`Error::Trap`]. The plugin is unloaded when the last clone is dropped.
pub struct Plugin<C: Contract> {
    inner: Arc<PluginInner<C>>,
}

impl<C: Contract> Clone for Plugin<C> {
    fn clone(&self) -> Self {
        Plugin {
            inner: Arc::clone(&self.inner),
        }
    }
}

struct PluginInner<C: Contract> {
    pre: PluginPre<C>,
    live: Mutex<Live<C>>,
    enabled: AtomicBool,
}

struct Live<C: Contract> {
    instance: Instance<C>,
    /// Bumped each time the instance is replaced (after a trap, or by
    /// [`Plugin::reconfigure`]).
    generation: u64,
    /// What the live instance's `init` got; a replacement gets the same.
    config: Arc<[(String, String)]>,
}

impl<C: Contract> Plugin<C> {
    /// Runs `init` on the first instance and makes it the live one.
    pub(crate) fn start(pre: PluginPre<C>, mut first: Instance<C>) -> Result<Self> {
        let config = Arc::clone(&pre.inner.config);
        first.init(&config)?;
        Ok(Plugin {
            inner: Arc::new(PluginInner {
                pre,
                live: Mutex::new(Live {
                    instance: first,
                    generation: 0,
                    config,
                }),
                enabled: AtomicBool::new(true),
            }),
        })
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
        self.live()?.instance.flush()
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
    fn check_enabled(&self) -> Result<()> {
        if self.is_enabled() {
            Ok(())
        } else {
            Err(Error::Disabled {
                plugin: self.inner.pre.label().to_string(),
            })
        }
    }

    /// Applies a new configuration: a fresh instance runs `init(config)`
    /// (with the defaults the plugin declares filled in);
    /// when it accepts, it becomes the live instance (a call in progress
    /// finishes first) and the replaced instance's `shutdown` runs, once.
    /// When it refuses, nothing changes: the live instance serves on with
    /// its configuration and state. A reconfigured plugin starts from a
    /// fresh state, as after a reload.
    ///
    /// # Errors
    ///
    /// [`Error::Config`] if `config` has a setting the plugin does not
    /// declare, [`Error::MissingSetting`] if it lacks one the plugin
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
        let pre = &self.inner.pre.inner;
        let config: Arc<[(String, String)]> = match &pre.declared {
            Some(declared) => declared.config(&pre.label, &pre.origin, &config)?.into(),
            None => config.into(),
        };
        // `init` runs outside the lock: calls go on meanwhile.
        let fresh = self.inner.pre.instantiate_with(&config)?;
        let replaced = {
            let mut live = self.lock();
            live.generation += 1;
            live.config = config;
            std::mem::replace(&mut live.instance, fresh)
        };
        // Outside the lock: the replaced instance's `shutdown`.
        drop(replaced);
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

    pub(crate) fn downgrade(&self) -> std::sync::Weak<dyn std::any::Any + Send + Sync> {
        let weak: std::sync::Weak<PluginInner<C>> = Arc::downgrade(&self.inner);
        weak
    }

    pub(crate) fn from_any(any: Arc<dyn std::any::Any + Send + Sync>) -> Option<Self> {
        any.downcast::<PluginInner<C>>()
            .ok()
            .map(|inner| Plugin { inner })
    }

    /// Calls the plugin through its typed exports: `f` gets the contract's
    /// generated bindings and the store to pass to them.
    ///
    /// ```no_run
    /// # fn main() -> Result<(), wasmplug::Error> {
    /// # let plugin = wasmplug::Runtime::new()?.open::<wasmplug::contracts::Demo>("demo1.wasm")?;
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
        let mut live = self.live()?;
        live.instance.call(f)
    }

    /// Locks the live instance as it is.
    fn lock(&self) -> MutexGuard<'_, Live<C>> {
        self.inner.live.lock().unwrap_or_else(|poisoned| {
            // A panic while the lock was held (in a caller's closure or a
            // host import) may have left the store mid-call: do not reuse it.
            self.inner.live.clear_poison();
            let mut live = poisoned.into_inner();
            live.instance.poisoned = true;
            live
        })
    }

    /// Locks the live instance, replacing it first if a trap poisoned it.
    fn live(&self) -> Result<MutexGuard<'_, Live<C>>> {
        let mut live = self.lock();
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

    /// Go's `Lookup`, typed: finds the function export `name`
    /// (`interface#function`, e.g. `wasmplug:demo/api@1.0.0#get-v`, or a
    /// world-level `function`) and checks it has the signature `fn(P) -> R`.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchExport`] if there is no such function,
    /// [`Error::Signature`] (expected and actual signatures) if its type
    /// differs.
    pub fn lookup<P, R>(&self, name: &str) -> Result<TypedExport<'_, C, P, R>>
    where
        P: ComponentNamedList + Lower + Send + Sync + 'static,
        R: ComponentNamedList + Lift + Send + Sync + 'static,
    {
        let label = self.inner.pre.label();
        let component = self.inner.pre.inner.pre.component();
        let no_such = || Error::NoSuchExport {
            plugin: label.to_string(),
            export: name.to_owned(),
        };
        let (item, index) = match name.split_once('#') {
            Some((iface, func)) => {
                let parent = component
                    .get_export_index(None, iface)
                    .ok_or_else(no_such)?;
                component
                    .get_export(Some(&parent), func)
                    .ok_or_else(no_such)?
            }
            None => component.get_export(None, name).ok_or_else(no_such)?,
        };
        let ComponentItem::ComponentFunc(func_ty) = item else {
            return Err(no_such());
        };
        let mut live = self.live()?;
        let generation = live.generation;
        let instance = live.instance.instance;
        let func = instance
            .get_typed_func::<P, R>(&mut live.instance.store, &index)
            .map_err(|_| Error::Signature {
                plugin: label.to_string(),
                export: name.to_owned(),
                expected: format!(
                    "fn{} -> {}",
                    std::any::type_name::<P>(),
                    std::any::type_name::<R>()
                ),
                actual: func_signature(&func_ty),
            })?;
        Ok(TypedExport {
            plugin: self,
            name: name.to_owned(),
            index,
            func,
            generation,
            _types: PhantomData,
        })
    }
}

/// A function export found by [`Plugin::lookup`], with its signature checked.
pub struct TypedExport<'p, C: Contract, P, R> {
    plugin: &'p Plugin<C>,
    name: String,
    index: ComponentExportIndex,
    func: TypedFunc<P, R>,
    generation: u64,
    _types: PhantomData<fn(P) -> R>,
}

impl<C: Contract, P, R> TypedExport<'_, C, P, R>
where
    P: ComponentNamedList + Lower + Send + Sync + 'static,
    R: ComponentNamedList + Lift + Send + Sync + 'static,
{
    /// Calls the export on the plugin's live instance.
    ///
    /// # Errors
    ///
    /// [`Error::Trap`] if the guest traps (see [`Plugin::call`]).
    pub fn call(&self, params: P) -> Result<R> {
        let label = self.plugin.inner.pre.label();
        self.plugin.check_enabled()?;
        let mut live = self.plugin.live()?;
        let Live {
            instance,
            generation,
            ..
        } = &mut *live;
        let func = if *generation == self.generation {
            self.func
        } else {
            // The instance was replaced (after a trap, or reconfigured):
            // resolve again (same component, so the type check cannot fail
            // differently).
            instance
                .instance
                .get_typed_func::<P, R>(&mut instance.store, &self.index)
                .map_err(|e| instance.pre.inner.setup.fault(label, Some(&self.name), &e))?
        };
        let setup = &instance.pre.inner.setup;
        setup.arm(&mut instance.store);
        let _span = tracing::trace_span!(target: "wasmplug", "plugin", plugin = &**label).entered();
        func.call(&mut instance.store, params).map_err(|e| {
            instance.poisoned = true;
            setup.fault(label, Some(&self.name), &e)
        })
    }

    /// The name it was looked up by.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl<C: Contract> std::fmt::Debug for PluginPre<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginPre")
            .field("plugin", &self.inner.label)
            .field("digest", &self.inner.digest)
            .field("origin", &self.inner.origin)
            .finish_non_exhaustive()
    }
}

impl<C: Contract> std::fmt::Debug for Instance<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instance")
            .field("plugin", &self.pre.inner.label)
            .field("initialised", &self.initialised)
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

impl<C: Contract> std::fmt::Debug for Plugin<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin")
            .field("plugin", &self.inner.pre.inner.label)
            .field("digest", &self.inner.pre.inner.digest)
            .field("origin", &self.inner.pre.inner.origin)
            .finish_non_exhaustive()
    }
}
