//! Hot reload: a slot whose plugin can be replaced while calls run.

use std::sync::{PoisonError, RwLock};

use wasmtime::Store;

use crate::contract::Contract;
use crate::error::Result;
use crate::plugin::Plugin;
use crate::state::PluginState;

/// A plugin that can be replaced at run time (hot reload).
///
/// New calls go to the current plugin. [`replace`](Self::replace) swaps it
/// atomically: a call already running finishes on the plugin it started
/// on, and the replaced plugin's `shutdown` runs once the last call on it
/// (and the last other handle to it) is gone — not before, and exactly
/// once. Go plugins cannot be replaced at all: a changed plugin under the
/// same path panics the host.
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
/// use wasmplug::{Reloadable, Runtime};
/// let runtime = Runtime::new()?;
/// let plugin = Reloadable::new(runtime.open::<Demo>("plugins/demo-1.1.wasm")?);
/// // ... later, when a new release arrives; if it does not load, the
/// // current plugin stays:
/// let old = plugin.replace(runtime.open::<Demo>("plugins/demo-1.2.wasm")?);
/// drop(old); // its shutdown runs when calls in flight on it end
/// # Ok(())
/// # }
/// ```
pub struct Reloadable<C: Contract> {
    current: RwLock<Plugin<C>>,
}

impl<C: Contract> Reloadable<C> {
    /// A slot serving `plugin`.
    pub fn new(plugin: Plugin<C>) -> Self {
        Reloadable {
            current: RwLock::new(plugin),
        }
    }

    /// The plugin new calls go to. A call made through the returned handle
    /// stays on that plugin, whatever replaces it meanwhile.
    pub fn current(&self) -> Plugin<C> {
        self.current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Calls the current plugin: see [`Plugin::call`]. The call runs on the
    /// plugin that was current when it started, to the end.
    ///
    /// # Errors
    ///
    /// As [`Plugin::call`].
    pub fn call<T>(
        &self,
        f: impl FnOnce(&C::Exports, &mut Store<PluginState>) -> wasmtime::Result<T>,
    ) -> Result<T> {
        // The slot's lock is not held during the call: a replace does not
        // wait for calls, and calls do not wait for a replace.
        self.current().call(f)
    }

    /// Makes `plugin` current and returns the plugin it replaces. Dropping
    /// the returned handle lets the old plugin unload once calls in flight
    /// on it end.
    pub fn replace(&self, plugin: Plugin<C>) -> Plugin<C> {
        let mut current = self.current.write().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *current, plugin)
    }
}

impl<C: Contract> std::fmt::Debug for Reloadable<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloadable")
            .field("current", &self.current())
            .finish()
    }
}
