//! A private instance of a plugin: its own store, memory and state
//! ([`PluginInstance`]), made cheaply from a [`PluginPre`].

use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::{Instance as WasmInstance, InstancePre};

use crate::bindings::hooks::exports::wasmplug::plugin::lifecycle as hooks;
use crate::bindings::{Base, BaseIndices};
use crate::contract::{Contract, explain_mismatch};
use crate::error::{Error, Origin, Result, chain};
use crate::pre::PluginPre;
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
