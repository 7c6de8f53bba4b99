//! A private instance of a plugin: its own store, memory and state
//! ([`PluginInstance`]), made cheaply from a [`PluginPre`].

use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::{Instance as WasmInstance, InstancePre};

use crate::bindings::hooks::exports::wasmplug::plugin::lifecycle as hooks;
use crate::bindings::{Base, BaseIndices};
use wasmplug_core::{Digest, Metadata};
use wasmtime::component::{Component, Linker};

use crate::bindings::hooks::exports::wasmplug::plugin::declaration;
use crate::contract::{BASE_PACKAGE, Contract, check_package, explain_mismatch};
use crate::error::{Error, Origin, Result, chain};
use crate::manifest::{self, Declared};
use crate::pre::PluginPre;
use crate::pre::{PreInner, Source};
use crate::sandbox::Sandbox;
use crate::state::PluginState;

/// An instance before it knows its [`PluginPre`] (while the pre is built).
pub(crate) struct RawInstance<C: Contract> {
    pub(crate) store: Store<PluginState>,
    pub(crate) instance: WasmInstance,
    pub(crate) base: Base,
    hooks: Option<hooks::Guest>,
    exports: C::Exports,
}

impl<C: Contract> RawInstance<C> {
    pub(crate) fn into_instance(self, pre: PluginPre<C>) -> PluginInstance<C> {
        PluginInstance {
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
pub struct PluginInstance<C: Contract> {
    pub(crate) store: Store<PluginState>,
    pub(crate) instance: WasmInstance,
    base: Base,
    hooks: Option<hooks::Guest>,
    exports: C::Exports,
    pre: PluginPre<C>,
    initialised: bool,
    pub(crate) poisoned: bool,
}

impl<C: Contract> PluginInstance<C> {
    pub(crate) fn raw(
        sandbox: &Sandbox,
        pre: &InstancePre<PluginState>,
        (base, hooks): (&BaseIndices, Option<&hooks::GuestIndices>),
        indices: &C::Indices,
        origin: &Origin,
        label: &Arc<str>,
    ) -> Result<RawInstance<C>> {
        let mut store = sandbox.store(origin, Arc::clone(label))?;
        let instance = pre
            .instantiate(&mut store)
            .map_err(|e| sandbox.fault(label, Some("instantiate"), &e))?;
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
            reason: explain_mismatch::<C>(&sandbox.engine, pre.component(), &e),
        })?;
        Ok(RawInstance {
            store,
            instance,
            base,
            hooks,
            exports,
        })
    }

    pub(crate) fn init(&mut self, config: &[(String, String)]) -> Result<()> {
        self.hook("validate", |hooks, store| {
            hooks.call_validate(store, config)
        })?;
        let sandbox = self.pre.sandbox();
        sandbox.arm(&mut self.store);
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
                Err(sandbox.fault(self.pre.label(), Some("init"), &e))
            }
        }
    }

    /// For an instance made from a snapshot taken after `init`: its state is
    /// already `init`'s, so `init` does not run again, and its `shutdown`
    /// runs when it is dropped.
    pub(crate) fn assume_initialised(&mut self) {
        self.initialised = true;
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
        let sandbox = self.pre.sandbox();
        sandbox.arm(&mut self.store);
        match call(hooks, &mut self.store) {
            Ok(Ok(())) => Ok(true),
            Ok(Err(message)) => Err(Error::Hook {
                plugin: self.pre.label().to_string(),
                hook: name,
                message,
            }),
            Err(e) => {
                self.poisoned = true;
                Err(sandbox.fault(self.pre.label(), Some(name), &e))
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
        let sandbox = self.pre.sandbox();
        sandbox.arm(&mut self.store);
        // Attributes what host imports trace (wasmtime-wasi traces every
        // WASI call, e.g. a refused `open-at`) to this plugin. Nearly free
        // when no subscriber wants TRACE.
        let _span =
            tracing::trace_span!(target: "wasmplug", "plugin", plugin = &**self.pre.label())
                .entered();
        f(&self.exports, &mut self.store).map_err(|e| {
            self.poisoned = true;
            sandbox.fault(self.pre.label(), None, &e)
        })
    }

    fn poisoned_error(&self) -> Error {
        Error::Trap {
            plugin: self.pre.label().to_string(),
            export: "a call on this instance".into(),
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

impl<C: Contract> Drop for PluginInstance<C> {
    fn drop(&mut self) {
        if !self.initialised || self.poisoned {
            return;
        }
        self.pre.sandbox().arm(&mut self.store);
        if let Err(e) = self
            .base
            .wasmplug_plugin_plugin()
            .call_shutdown(&mut self.store)
        {
            tracing::warn!(target: "wasmplug", plugin = &**self.pre.label(), "shutdown failed: {e:#}");
        }
    }
}

impl<C: Contract> std::fmt::Debug for PluginInstance<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginInstance")
            .field("plugin", self.pre.label())
            .field("initialised", &self.initialised)
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

/// Making instances: the first, uninitialised one that reads what the
/// plugin says about itself, and the initialised ones.
impl<C: Contract> PluginPre<C> {
    /// Checks a compiled component against the base contract and `C`,
    /// pre-instantiates it, and makes the first (uninitialised) instance to
    /// read what the plugin says about itself: its metadata (checked
    /// against its manifest, if any) and its optional declaration. Settles
    /// the configuration `init` will get.
    ///
    /// For an async contract, `probe` (synchronous WASI, the contract's own
    /// imports trapping) makes that first instance: `linker`'s instances
    /// require async calls throughout.
    pub(crate) fn new(
        sandbox: Sandbox,
        linker: &Linker<PluginState>,
        probe: Option<&Linker<PluginState>>,
        origin: Origin,
        component: &Component,
        digest: Digest,
        source: Source,
    ) -> Result<(Self, PluginInstance<C>)> {
        let engine = &sandbox.engine;
        check_package(engine, &origin, component, BASE_PACKAGE)?;
        check_package(engine, &origin, component, C::PACKAGE)?;
        let import_err = |e: wasmtime::Error| Error::Import {
            origin: origin.clone(),
            reason: chain(&e),
        };
        let pre = linker.instantiate_pre(component).map_err(import_err)?;
        let probe = probe
            .map(|probe| probe.instantiate_pre(component))
            .transpose()
            .map_err(import_err)?;
        let export_err = |e: wasmtime::Error| Error::Export {
            origin: origin.clone(),
            reason: chain(&e),
        };
        let base = BaseIndices::new(&pre).map_err(export_err)?;
        let hooks = hooks::GuestIndices::new(&pre).ok();
        let indices = C::indices(&pre).map_err(export_err)?;

        let label: Arc<str> = Arc::from(origin.short_name());
        let mut first = PluginInstance::<C>::raw(
            &sandbox,
            probe.as_ref().unwrap_or(&pre),
            (&base, hooks.as_ref()),
            &indices,
            &origin,
            &label,
        )?;
        sandbox.arm(&mut first.store);
        let wit = first
            .base
            .wasmplug_plugin_plugin()
            .call_get_metadata(&mut first.store)
            .map_err(|e| sandbox.fault(&label, Some("get-metadata"), &e))?;
        let mut metadata =
            Metadata::new(&wit.name, &wit.version, wit.description).map_err(|reason| {
                Error::Metadata {
                    origin: origin.clone(),
                    reason,
                }
            })?;
        let manifest = sandbox.options.manifest.clone();
        if let Some(manifest) = &manifest {
            manifest.check_metadata(&metadata)?;
        }
        let label: Arc<str> = Arc::from(metadata.to_string());
        first.store.data_mut().set_label(Arc::clone(&label));

        // The plugin's own declaration, if it makes one: checked, like a
        // manifest file, before any `init`.
        let declared = match declaration::GuestIndices::new(&pre) {
            Ok(indices) => {
                let guest = indices
                    .load(&mut first.store, &first.instance)
                    .map_err(export_err)?;
                sandbox.arm(&mut first.store);
                let declared = guest
                    .call_declare(&mut first.store)
                    .map_err(|e| sandbox.fault(&label, Some("declare"), &e))?;
                Some(Declared::from(declared))
            }
            Err(_) => None,
        };
        if let Some(declared) = &declared {
            manifest::check_contract(declared.contract.as_deref(), C::PACKAGE).map_err(
                |problem| match problem {
                    // The plugin's own declaration is malformed.
                    manifest::Problem::BadContract(reason) => Error::Metadata {
                        origin: origin.clone(),
                        reason: format!("its declaration: {reason}"),
                    },
                    _ => Error::UnsupportedContract {
                        origin: origin.clone(),
                        found: declared.contract.clone().unwrap_or_default(),
                        supported: C::PACKAGE.to_owned(),
                    },
                },
            )?;
        }
        // The kind: the manifest's, else the plugin's own declaration's.
        metadata.kind = manifest
            .as_ref()
            .map(|m| m.kind())
            .filter(|kind| !kind.is_empty())
            .or(declared.as_ref().map(|d| d.kind.as_str()))
            .unwrap_or_default()
            .to_owned();
        let config = manifest::settle_config(
            manifest.as_deref(),
            declared.as_ref(),
            C::PACKAGE,
            &label,
            &origin,
            &sandbox.options.config,
        )?;

        let plugin_pre = PluginPre {
            inner: Arc::new(PreInner {
                sandbox,
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
                source,
                snapshot: None,
            }),
        };
        let first = first.into_instance(plugin_pre.clone());
        Ok((plugin_pre, first))
    }

    /// Makes a fresh private instance and runs its `init` with the plugin's
    /// configuration. Memory and state are not shared with other instances.
    /// On a [`snapshot`](Self::snapshot), the instance starts from the
    /// snapshot's state instead, and `init` does not run.
    ///
    /// # Errors
    ///
    /// [`Error::Hook`] if the plugin's optional `validate` hook refuses the
    /// configuration, [`Error::Init`] if its `init` refuses, [`Error::Trap`]
    /// or [`Error::LimitExceeded`] if instantiation or `init` fails,
    /// [`Error::CallingPath`] for an async contract (see
    /// [`AsyncPlugin`](crate::AsyncPlugin)).
    pub fn instantiate(&self) -> Result<PluginInstance<C>> {
        self.instantiate_with(&self.inner.config)
    }

    /// [`instantiate`](Self::instantiate), with `config` for `init` instead
    /// of the plugin's own.
    pub(crate) fn instantiate_with(
        &self,
        config: &[(String, String)],
    ) -> Result<PluginInstance<C>> {
        if C::ASYNC {
            return Err(crate::calling::calling_path::<C>());
        }
        let i = &self.inner;
        // A snapshot holds `init`'s state for its own configuration only.
        let from_snapshot = match &i.snapshot {
            Some(snapshot) if config != &*i.config => {
                return snapshot.of.instantiate_with(config);
            }
            Some(_) => true,
            None => false,
        };
        let raw = PluginInstance::<C>::raw(
            &i.sandbox,
            &i.pre,
            (&i.base, i.hooks.as_ref()),
            &i.indices,
            &i.origin,
            &i.label,
        )?;
        let mut instance = raw.into_instance(self.clone());
        if from_snapshot {
            instance.assume_initialised();
        } else {
            instance.init(config)?;
        }
        Ok(instance)
    }
}
