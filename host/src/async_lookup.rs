//! Go's `Lookup`, typed, on the async path: a function export found by
//! name, its signature checked against the Rust types asked for
//! ([`AsyncTypedExport`]), called with `.await`.

use std::marker::PhantomData;
use std::sync::Arc;

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{ComponentNamedList, Lift, Lower, TypedFunc};

use crate::async_instance::AsyncInstance;
use crate::async_plugin::AsyncPlugin;
use crate::contract::Contract;
use crate::error::{Error, Result};
use crate::lookup::{find_export, signature_error, similar_names};

impl<C: Contract> AsyncPlugin<C> {
    /// Go's `Lookup`, typed, as [`Plugin::lookup`](crate::Plugin::lookup):
    /// finds the function export `name` (`interface#function`, e.g.
    /// `wasmplug:demo/api@1.0.0#get-v`, or a world-level `function`) and
    /// checks it has the signature `fn(P) -> R`, on an instance (the
    /// shared one, or one from the pool, under the deadline as a call).
    /// The export it returns owns a handle to the plugin: it can move into
    /// a task.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchExport`] if there is no such function,
    /// [`Error::Signature`] (expected and actual signatures) if its type
    /// differs, and what getting an instance fails with
    /// ([`Error::Disabled`], [`Error::PoolExhausted`], …).
    pub async fn lookup<P, R>(&self, name: &str) -> Result<AsyncTypedExport<C, P, R>>
    where
        P: ComponentNamedList + Lower + Send + Sync + 'static,
        R: ComponentNamedList + Lift + Send + Sync + 'static,
    {
        let pre = self.pre();
        let label = pre.label();
        let no_such = || Error::NoSuchExport {
            plugin: label.to_string(),
            export: name.to_owned(),
            similar: similar_names(name, pre.exports().into_iter().map(|f| f.name)),
        };
        let (item, _) = find_export(pre.instance_pre().component(), name).ok_or_else(no_such)?;
        let ComponentItem::ComponentFunc(func_ty) = item else {
            return Err(no_such());
        };
        let owned: Arc<str> = Arc::from(name);
        let typed = self
            .run(Some(name), move |instance| {
                Box::pin(async move { Ok(typed_func::<C, P, R>(instance, &owned).is_ok()) })
            })
            .await?;
        if !typed {
            return Err(signature_error::<P, R>(label, name, &func_ty));
        }
        Ok(AsyncTypedExport {
            plugin: self.clone(),
            name: Arc::from(name),
            _types: PhantomData,
        })
    }
}

/// A function export found by [`AsyncPlugin::lookup`], with its signature
/// checked.
pub struct AsyncTypedExport<C: Contract, P, R> {
    plugin: AsyncPlugin<C>,
    name: Arc<str>,
    _types: PhantomData<fn(P) -> R>,
}

impl<C: Contract, P, R> AsyncTypedExport<C, P, R>
where
    P: ComponentNamedList + Lower + Send + Sync + 'static,
    R: ComponentNamedList + Lift + Send + Sync + 'static,
{
    /// Calls the export as [`AsyncPlugin::call_async`] calls: on the
    /// shared instance or one from the pool, under the plugin's deadline.
    /// The function is found on that instance by name for each call (a
    /// pooled or replaced instance is another instance).
    ///
    /// # Errors
    ///
    /// As [`AsyncPlugin::call_async`]: [`Error::Trap`],
    /// [`Error::LimitExceeded`], [`Error::Disabled`], …
    pub async fn call(&self, params: P) -> Result<R> {
        let name = Arc::clone(&self.name);
        self.plugin
            .run(Some(&self.name), move |instance| {
                Box::pin(async move {
                    let func = typed_func::<C, P, R>(instance, &name)?;
                    func.call_async(&mut instance.store, params).await
                })
            })
            .await
    }

    /// The name it was looked up by.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl<C: Contract, P, R> Clone for AsyncTypedExport<C, P, R> {
    fn clone(&self) -> Self {
        AsyncTypedExport {
            plugin: self.plugin.clone(),
            name: Arc::clone(&self.name),
            _types: PhantomData,
        }
    }
}

impl<C: Contract, P, R> std::fmt::Debug for AsyncTypedExport<C, P, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncTypedExport")
            .field("plugin", &self.plugin.pre().label())
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The export `name` of `instance`, typed `fn(P) -> R`.
fn typed_func<C: Contract, P, R>(
    instance: &mut AsyncInstance<C>,
    name: &str,
) -> wasmtime::Result<TypedFunc<P, R>>
where
    P: ComponentNamedList + Lower + Send + Sync + 'static,
    R: ComponentNamedList + Lift + Send + Sync + 'static,
{
    let handle = instance.instance;
    let store = &mut instance.store;
    let index = match name.split_once('#') {
        Some((iface, func)) => handle
            .get_export_index(&mut *store, None, iface)
            .and_then(|parent| handle.get_export_index(&mut *store, Some(&parent), func)),
        None => handle.get_export_index(&mut *store, None, name),
    }
    .ok_or_else(|| wasmtime::Error::msg(format!("the instance has no export `{name}`")))?;
    handle.get_typed_func::<P, R>(store, &index)
}
