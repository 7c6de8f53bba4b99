//! Hot reload: a slot whose plugin can be replaced while calls run, on the
//! sync path ([`Reloadable`]) and the async one ([`AsyncReloadable`]).

use std::sync::{PoisonError, RwLock};

use wasmtime::Store;

use crate::async_plugin::{AsyncPlugin, CallFuture};
use crate::contract::Contract;
use crate::error::Result;
use crate::plugin::Plugin;
use crate::state::PluginState;

/// The swap both slots share: a handle read by every call, replaced
/// atomically. The lock is held only to clone or swap the handle, never
/// during a call: a replace does not wait for calls, and calls do not wait
/// for a replace.
struct Slot<P: Clone>(RwLock<P>);

impl<P: Clone> Slot<P> {
    fn new(plugin: P) -> Self {
        Slot(RwLock::new(plugin))
    }

    fn current(&self) -> P {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn replace(&self, plugin: P) -> P {
        let mut current = self.0.write().unwrap_or_else(PoisonError::into_inner);
        std::mem::replace(&mut *current, plugin)
    }
}

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
    current: Slot<Plugin<C>>,
}

impl<C: Contract> Reloadable<C> {
    /// A slot serving `plugin`.
    pub fn new(plugin: Plugin<C>) -> Self {
        Reloadable {
            current: Slot::new(plugin),
        }
    }

    /// The plugin new calls go to. A call made through the returned handle
    /// stays on that plugin, whatever replaces it meanwhile.
    pub fn current(&self) -> Plugin<C> {
        self.current.current()
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
        self.current().call(f)
    }

    /// Makes `plugin` current and returns the plugin it replaces. Dropping
    /// the returned handle lets the old plugin unload once calls in flight
    /// on it end.
    pub fn replace(&self, plugin: Plugin<C>) -> Plugin<C> {
        self.current.replace(plugin)
    }
}

impl<C: Contract> std::fmt::Debug for Reloadable<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reloadable")
            .field("current", &self.current())
            .finish()
    }
}

/// [`Reloadable`] for the async path: an [`AsyncPlugin`] that can be
/// replaced while calls run, with the same promises. A call already
/// running (or waiting for one of the old plugin's pooled instances)
/// finishes on the plugin it started on; new calls go to the new plugin;
/// the replaced plugin's `shutdown` runs (on a task of the tokio runtime
/// where its last handle is dropped) once its last call and handle are
/// gone.
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
/// use wasmplug::{AsyncReloadable, Runtime};
/// let runtime = Runtime::new()?;
/// let slot = AsyncReloadable::new(runtime.open_async::<Kv>("kv-1.1.wasm").await?);
/// let answer = slot
///     .call_async(|kv, store| Box::pin(kv.acme_kv_api().call_describe(store, "user")))
///     .await?;
/// // A new release; calls in flight finish on the old one.
/// drop(slot.replace(runtime.open_async::<Kv>("kv-1.2.wasm").await?));
/// # Ok(())
/// # }
/// ```
pub struct AsyncReloadable<C: Contract> {
    current: Slot<AsyncPlugin<C>>,
}

impl<C: Contract> AsyncReloadable<C> {
    /// A slot serving `plugin`.
    pub fn new(plugin: AsyncPlugin<C>) -> Self {
        AsyncReloadable {
            current: Slot::new(plugin),
        }
    }

    /// The plugin new calls go to. A call made through the returned handle
    /// stays on that plugin, whatever replaces it meanwhile.
    pub fn current(&self) -> AsyncPlugin<C> {
        self.current.current()
    }

    /// Calls the current plugin: see [`AsyncPlugin::call_async`]. The call
    /// runs on the plugin that was current when it started, to the end.
    ///
    /// # Errors
    ///
    /// As [`AsyncPlugin::call_async`].
    pub async fn call_async<T, F>(&self, f: F) -> Result<T>
    where
        T: Send,
        F: for<'a> FnOnce(&'a C::Exports, &'a mut Store<PluginState>) -> CallFuture<'a, T> + Send,
    {
        self.current().call_async(f).await
    }

    /// Makes `plugin` current and returns the plugin it replaces. Dropping
    /// the returned handle lets the old plugin unload once calls in flight
    /// on it end.
    pub fn replace(&self, plugin: AsyncPlugin<C>) -> AsyncPlugin<C> {
        self.current.replace(plugin)
    }
}

impl<C: Contract> std::fmt::Debug for AsyncReloadable<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncReloadable")
            .field("current", &self.current())
            .finish()
    }
}
