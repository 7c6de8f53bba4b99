//! Instantiate-once: the table of live plugins, keyed by content digest.
//!
//! Go's `plugin.Open` returns the already-loaded plugin when the same file is
//! opened again, and its `init` does not run twice; wasmplug does the same,
//! keyed by the bytes' SHA-256 (the same bytes through a symlink, another
//! relative path or a copy are the same plugin) and the contract type.
//! Entries are weak: dropping the last [`Plugin`] handle unloads the plugin,
//! and a later open loads it afresh.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError, Weak};

use crate::contract::Contract;
use crate::digest::Digest;
use crate::error::{Conflict, Error, Origin, Result};
use crate::plugin::{Instance, Plugin, PluginPre};
use crate::runtime::OnConflict;

#[derive(Default)]
pub(crate) struct Registry {
    // Held for a whole load, so two threads opening the same plugin cannot
    // both run its `init`. Loads are serialised; calls are not.
    entries: Mutex<HashMap<(Digest, TypeId), Entry>>,
}

struct Entry {
    plugin: Weak<dyn Any + Send + Sync>,
    name: String,
    version: semver::Version,
    origin: Origin,
}

impl Registry {
    /// Returns the live plugin with `digest` for contract `C`, or loads it.
    /// `compile` is called only when the plugin is not live.
    pub(crate) fn open<C: Contract>(
        &self,
        digest: Digest,
        on_conflict: OnConflict,
        compile: impl FnOnce() -> Result<(PluginPre<C>, Instance<C>)>,
    ) -> Result<Plugin<C>> {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.retain(|_, e| e.plugin.strong_count() > 0);
        let key = (digest, TypeId::of::<C>());
        if let Some(plugin) = entries
            .get(&key)
            .and_then(|e| e.plugin.upgrade())
            .and_then(Plugin::from_any)
        {
            return Ok(plugin);
        }

        let (pre, first) = compile()?;
        let metadata = pre.metadata().clone();
        let clash = entries.iter().find(|((d, _), e)| {
            *d != digest && e.name == metadata.name && e.version == metadata.version
        });
        if let Some(((loaded, _), entry)) = clash.filter(|_| on_conflict == OnConflict::Refuse) {
            return Err(Error::Conflict(Box::new(Conflict {
                name: metadata.name,
                version: metadata.version.to_string(),
                loaded: *loaded,
                loaded_origin: entry.origin.clone(),
                new: digest,
                new_origin: pre.origin().clone(),
            })));
        }

        let origin = pre.origin().clone();
        let plugin = Plugin::start(pre, first)?;
        entries.insert(
            key,
            Entry {
                plugin: plugin.downgrade(),
                name: metadata.name,
                version: metadata.version,
                origin,
            },
        );
        Ok(plugin)
    }

    /// How many plugins are live.
    pub(crate) fn live(&self) -> usize {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .values()
            .filter(|e| e.plugin.strong_count() > 0)
            .count()
    }
}
