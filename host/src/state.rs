//! What every plugin's store holds: its WASI context, resource table and
//! identity, and the host side of the logging import.

use std::sync::Arc;

use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};

use crate::bindings::wasmplug::plugin::log;
use crate::limits::Limiter;

/// Log messages longer than this are cut: a plugin cannot flood the host's
/// logs (its memory limit bounds what it can send at all).
const MAX_LOG_MESSAGE: usize = 16 * 1024;

/// The data of each plugin instance's [`wasmtime::Store`].
///
/// Contract-specific host imports are implemented on this type (see
/// [`Contract::add_to_linker`](crate::Contract::add_to_linker)).
pub struct PluginState {
    wasi: WasiCtx,
    table: ResourceTable,
    label: Arc<str>,
    limiter: Limiter,
}

impl PluginState {
    pub(crate) fn new(label: Arc<str>, wasi: WasiCtx, limiter: Limiter) -> Self {
        PluginState {
            wasi,
            table: ResourceTable::new(),
            label,
            limiter,
        }
    }

    pub(crate) fn limiter(&mut self) -> &mut Limiter {
        &mut self.limiter
    }

    /// `name@version` of the plugin (its origin until metadata is read).
    pub fn plugin(&self) -> &str {
        &self.label
    }

    pub(crate) fn set_label(&mut self, label: Arc<str>) {
        self.label = label;
    }

    /// The store's resource table, for contract host imports with resources.
    pub fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

impl WasiView for PluginState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// Plugin log records go to the `tracing` facade, target `wasmplug::guest`,
/// with the plugin's `name@version` in the `plugin` field.
impl log::Host for PluginState {
    fn log(&mut self, level: log::Level, mut message: String) {
        if message.len() > MAX_LOG_MESSAGE {
            let mut cut = MAX_LOG_MESSAGE;
            while !message.is_char_boundary(cut) {
                cut -= 1;
            }
            let dropped = message.len() - cut;
            message.truncate(cut);
            message.push_str(&format!("… ({dropped} more bytes dropped)"));
        }
        let plugin = &*self.label;
        match level {
            log::Level::Trace => tracing::trace!(target: "wasmplug::guest", plugin, "{message}"),
            log::Level::Debug => tracing::debug!(target: "wasmplug::guest", plugin, "{message}"),
            log::Level::Info => tracing::info!(target: "wasmplug::guest", plugin, "{message}"),
            log::Level::Warn => tracing::warn!(target: "wasmplug::guest", plugin, "{message}"),
            log::Level::Error => tracing::error!(target: "wasmplug::guest", plugin, "{message}"),
        }
    }
}
