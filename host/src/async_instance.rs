//! One instance on the async path, and what instances are made from (the
//! plugin, or its snapshot after `init`).

use std::sync::Arc;

use wasmtime::Store;

use crate::bindings::asynchronous::hooks::exports::wasmplug::plugin::lifecycle as hooks;
use crate::bindings::asynchronous::{Base, BaseIndices};
use crate::contract::Contract;
use crate::error::{Error, Result, chain};
use crate::pre::PluginPre;
use crate::state::PluginState;

/// What instances are made from, with the async bindings' export indices
/// for it (a snapshot is another component, with indices of its own).
pub(crate) struct Maker<C: Contract> {
    pub(crate) pre: PluginPre<C>,
    base: BaseIndices,
    hooks: Option<hooks::GuestIndices>,
}

impl<C: Contract> Maker<C> {
    /// Whether the plugin exports the optional lifecycle hooks.
    pub(crate) fn has_hooks(&self) -> bool {
        self.hooks.is_some()
    }

    pub(crate) fn of(pre: PluginPre<C>) -> Result<Self> {
        let base = BaseIndices::new(pre.instance_pre()).map_err(|e| Error::Export {
            origin: pre.origin().clone(),
            reason: chain(&e),
        })?;
        let hooks = hooks::GuestIndices::new(pre.instance_pre()).ok();
        Ok(Maker { pre, base, hooks })
    }

    /// A new instance, initialised with `config`: from a snapshot (taken
    /// after `init` with that configuration) it starts initialised,
    /// otherwise its `init` runs. `generation` is the plugin's
    /// configuration generation it belongs to.
    pub(crate) async fn fresh(
        &self,
        config: &[(String, String)],
        generation: u64,
    ) -> Result<AsyncInstance<C>> {
        let mut fresh = self.instantiate(generation).await?;
        if self.pre.is_snapshot() {
            fresh.initialised = true;
        } else {
            fresh.init(&self.pre, config).await?;
        }
        Ok(fresh)
    }

    async fn instantiate(&self, generation: u64) -> Result<AsyncInstance<C>> {
        let pre = &self.pre;
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
        let base = self.base.load(&mut store, &instance).map_err(export_err)?;
        let hooks = self
            .hooks
            .as_ref()
            .map(|h| h.load(&mut store, &instance))
            .transpose()
            .map_err(export_err)?;
        let exports = C::load(pre.indices(), &mut store, &instance).map_err(export_err)?;
        Ok(AsyncInstance {
            store,
            instance,
            base,
            hooks,
            exports,
            poisoned: false,
            initialised: false,
            generation,
        })
    }
}

/// One instance on the async path.
pub(crate) struct AsyncInstance<C: Contract> {
    pub(crate) store: Store<PluginState>,
    /// The instance in `store`, for exports found by name.
    pub(crate) instance: wasmtime::component::Instance,
    base: Base,
    hooks: Option<hooks::Guest>,
    pub(crate) exports: C::Exports,
    /// Set while guest code runs and cleared when it returns normally: a
    /// call that trapped, or whose future was dropped mid-call (its
    /// deadline passed, or its caller gave up), leaves it set, and the
    /// instance is not reused.
    pub(crate) poisoned: bool,
    pub(crate) initialised: bool,
    /// The configuration generation it was made for: after a
    /// `reconfigure`, instances of an older one are not reused.
    pub(crate) generation: u64,
}

impl<C: Contract> AsyncInstance<C> {
    /// Whether it may serve another call of generation `current`.
    pub(crate) fn reusable(&self, current: u64) -> bool {
        !self.poisoned && self.generation == current
    }

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

    /// Runs the optional `flush` hook; `Ok(false)` when the plugin has
    /// none. A fault (or this future dropped mid-call) poisons the
    /// instance.
    pub(crate) async fn flush(&mut self, pre: &PluginPre<C>) -> Result<bool> {
        let Some(hooks) = &self.hooks else {
            return Ok(false);
        };
        let sandbox = pre.sandbox();
        let label = pre.label();
        sandbox.arm_async(&mut self.store);
        self.poisoned = true;
        match hooks.call_flush(&mut self.store).await {
            Ok(Ok(())) => {
                self.poisoned = false;
                Ok(true)
            }
            Ok(Err(message)) => {
                self.poisoned = false;
                Err(Error::Hook {
                    plugin: label.to_string(),
                    hook: "flush",
                    message,
                })
            }
            Err(e) => Err(sandbox.fault(label, Some("flush"), &e)),
        }
    }

    /// Whether its `shutdown` should run: it was initialised and is intact.
    pub(crate) fn owes_shutdown(&self) -> bool {
        self.initialised && !self.poisoned
    }

    /// Runs the plugin's `shutdown`, under its deadline.
    pub(crate) async fn shutdown(mut self, pre: PluginPre<C>) {
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

/// Runs the `shutdown` of each of `instances` that owes one, on tasks of
/// the current tokio runtime; outside one, they do not run (a warning is
/// logged).
pub(crate) fn shut_down<C: Contract>(pre: &PluginPre<C>, instances: Vec<AsyncInstance<C>>) {
    let instances: Vec<_> = instances
        .into_iter()
        .filter(AsyncInstance::owes_shutdown)
        .collect();
    if instances.is_empty() {
        return;
    }
    match tokio::runtime::Handle::try_current() {
        Ok(handle) => {
            for instance in instances {
                handle.spawn(instance.shutdown(pre.clone()));
            }
        }
        Err(_) => tracing::warn!(
            target: "wasmplug",
            plugin = &**pre.label(),
            "dropped outside a tokio runtime: shutdown does not run"
        ),
    }
}
