//! Go's `Lookup`, typed: a function export found by name, its signature
//! checked against the Rust types asked for ([`TypedExport`]).

use std::marker::PhantomData;

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{ComponentExportIndex, ComponentNamedList, Lift, Lower, TypedFunc};

use crate::contract::Contract;
use crate::error::{Error, Result};
use crate::plugin::{Checkout, Plugin};
use crate::signature::func_signature;

impl<C: Contract> Plugin<C> {
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
        let component = self.inner.pre.instance_pre().component();
        let no_such = || Error::NoSuchExport {
            plugin: label.to_string(),
            export: name.to_owned(),
            similar: similar_names(name, self.exports().into_iter().map(|f| f.name)),
        };
        let (item, _) = find_export(component, name).ok_or_else(no_such)?;
        let ComponentItem::ComponentFunc(func_ty) = item else {
            return Err(no_such());
        };
        let mut checkout = self.checkout()?;
        // A function handle belongs to one instance's store: it is kept for
        // the shared instance (until replaced), resolved per call otherwise.
        let generation = match &checkout {
            Checkout::Shared(live) => Some(live.generation),
            Checkout::Pooled(_) => None,
        };
        let instance = checkout.instance();
        let handle = instance.instance;
        // The index in the component the instance was made from (a pooled
        // instance may come from a snapshot: another component).
        let (_, index) =
            find_export(instance.pre().instance_pre().component(), name).ok_or_else(no_such)?;
        let func = handle
            .get_typed_func::<P, R>(&mut instance.store, &index)
            .map_err(|_| signature_error::<P, R>(label, name, &func_ty))?;
        Ok(TypedExport {
            plugin: self,
            name: name.to_owned(),
            index,
            func: generation.map(|generation| (generation, func)),
            _types: PhantomData,
        })
    }
}

/// A function export found by [`Plugin::lookup`], with its signature checked.
pub struct TypedExport<'p, C: Contract, P, R> {
    plugin: &'p Plugin<C>,
    name: String,
    index: ComponentExportIndex,
    /// The shared instance's handle, with the generation it belongs to.
    func: Option<(u64, TypedFunc<P, R>)>,
    _types: PhantomData<fn(P) -> R>,
}

impl<C: Contract, P, R> TypedExport<'_, C, P, R>
where
    P: ComponentNamedList + Lower + Send + Sync + 'static,
    R: ComponentNamedList + Lift + Send + Sync + 'static,
{
    /// Calls the export on the plugin's live instance (or, for a pooled
    /// plugin, on an instance from its pool).
    ///
    /// # Errors
    ///
    /// [`Error::Trap`] if the guest traps (see [`Plugin::call`]).
    pub fn call(&self, params: P) -> Result<R> {
        let label = self.plugin.inner.pre.label();
        self.plugin.check_enabled()?;
        let mut checkout = self.plugin.checkout()?;
        let cached = match (&checkout, self.func) {
            (Checkout::Shared(live), Some((generation, func))) if live.generation == generation => {
                Some(func)
            }
            _ => None,
        };
        let instance = checkout.instance();
        let func = match cached {
            Some(func) => func,
            // Another instance (pooled, or the shared one replaced after a
            // trap or a reconfigure): resolve again (same component, so the
            // type check cannot fail differently).
            None => {
                let handle = instance.instance;
                let index = match find_export(instance.pre().instance_pre().component(), &self.name)
                {
                    Some((_, index)) => index,
                    None => self.index,
                };
                handle
                    .get_typed_func::<P, R>(&mut instance.store, &index)
                    .map_err(|e| {
                        self.plugin
                            .inner
                            .pre
                            .sandbox()
                            .fault(label, Some(&self.name), &e)
                    })?
            }
        };
        let sandbox = self.plugin.inner.pre.sandbox();
        sandbox.arm(&mut instance.store);
        let _span = tracing::trace_span!(target: "wasmplug", "plugin", plugin = &**label).entered();
        func.call(&mut instance.store, params).map_err(|e| {
            instance.poisoned = true;
            sandbox.fault(label, Some(&self.name), &e)
        })
    }

    /// The name it was looked up by.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// The item and index of function export `name` (`interface#function`, or
/// a world-level `function`) in `component`.
pub(crate) fn find_export(
    component: &wasmtime::component::Component,
    name: &str,
) -> Option<(ComponentItem, ComponentExportIndex)> {
    match name.split_once('#') {
        Some((iface, func)) => {
            let parent = component.get_export_index(None, iface)?;
            component.get_export(Some(&parent), func)
        }
        None => component.get_export(None, name),
    }
}

/// [`Error::Signature`]: export `name` of `plugin` is not `fn(P) -> R`
/// but `actual`.
pub(crate) fn signature_error<P, R>(
    plugin: &str,
    name: &str,
    actual: &wasmtime::component::types::ComponentFunc,
) -> Error {
    Error::Signature {
        plugin: plugin.to_owned(),
        export: name.to_owned(),
        expected: format!(
            "fn{} -> {}",
            std::any::type_name::<P>(),
            std::any::type_name::<R>()
        ),
        actual: func_signature(actual),
    }
}

/// The names among `names` close to `wanted` (a typo, another version, the
/// function without its interface), closest first, at most five.
pub(crate) fn similar_names(wanted: &str, names: impl Iterator<Item = String>) -> Vec<String> {
    let function = |n: &str| n.rsplit_once('#').map_or(n, |(_, f)| f).to_owned();
    let wanted_fn = function(wanted);
    let mut scored: Vec<(usize, String)> = names
        .filter_map(|name| {
            let whole = edit_distance(wanted, &name);
            let by_fn = edit_distance(&wanted_fn, &function(&name));
            let score = whole.min(by_fn);
            (score <= 3.max(wanted_fn.len() / 3)).then_some((score, name))
        })
        .collect();
    scored.sort();
    scored.into_iter().take(5).map(|(_, name)| name).collect()
}

/// Levenshtein distance, by characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let here = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(row[j]).min(row[j + 1])
            };
            prev = here;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::{edit_distance, similar_names};

    #[test]
    fn close_names_are_suggested() {
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        let names = [
            "wasmplug:demo/api@1.0.0#get-v",
            "wasmplug:demo/api@1.0.0#set-v",
            "wasmplug:demo/api@1.0.0#f",
            "wasmplug:plugin/plugin@1.0.0#get-metadata",
        ]
        .map(String::from);
        let similar = |w: &str| similar_names(w, names.iter().cloned());
        // A typo in the function, the function alone, a wrong version.
        assert_eq!(
            similar("wasmplug:demo/api@1.0.0#get-w")[0],
            "wasmplug:demo/api@1.0.0#get-v"
        );
        assert_eq!(similar("get-v")[0], "wasmplug:demo/api@1.0.0#get-v");
        assert_eq!(
            similar("wasmplug:demo/api@1.1.0#get-v")[0],
            "wasmplug:demo/api@1.0.0#get-v"
        );
        assert!(similar("something-else-entirely").is_empty());
    }
}
