//! The expensive half of loading: a plugin compiled, checked against its
//! contract and pre-instantiated, once per plugin ([`PluginPre`]).

use std::sync::Arc;

use wasmtime::component::InstancePre;

use crate::bindings::BaseIndices;
use crate::bindings::hooks::exports::wasmplug::plugin::lifecycle as hooks;
use crate::contract::Contract;
use crate::error::{Origin, Result};
use crate::manifest::{self, Declared};
use crate::runtime::Runtime;
use crate::sandbox::Sandbox;
use crate::signature::{ExportedFunc, exported_funcs};
use crate::state::PluginState;
use wasmplug_core::{Digest, Metadata};

/// A plugin compiled, checked against its contract and pre-instantiated:
/// everything expensive is done, and [`instantiate`](Self::instantiate) is
/// cheap. Cloning shares it.
pub struct PluginPre<C: Contract> {
    pub(crate) inner: Arc<PreInner<C>>,
}

impl<C: Contract> Clone for PluginPre<C> {
    fn clone(&self) -> Self {
        PluginPre {
            inner: Arc::clone(&self.inner),
        }
    }
}

pub(crate) struct PreInner<C: Contract> {
    pub(crate) sandbox: Sandbox,
    pub(crate) pre: InstancePre<PluginState>,
    pub(crate) base: BaseIndices,
    /// The optional lifecycle hooks, when the plugin exports them.
    pub(crate) hooks: Option<hooks::GuestIndices>,
    /// What the plugin declares about itself, when it does.
    pub(crate) declared: Option<Declared>,
    /// What `init` gets: the embedder's configuration with the declared
    /// defaults.
    pub(crate) config: Arc<[(String, String)]>,
    pub(crate) indices: C::Indices,
    pub(crate) origin: Origin,
    pub(crate) digest: Digest,
    pub(crate) metadata: Metadata,
    pub(crate) label: Arc<str>,
    /// What [`snapshot`](PluginPre::snapshot) starts from.
    pub(crate) source: Source,
    /// Set when this pre makes instances from a snapshot taken after
    /// `init` (see `snapshot.rs`).
    pub(crate) snapshot: Option<Snapshotted<C>>,
}

impl<C: Contract> PluginPre<C> {
    /// The configuration `init` gets when the embedder gives `config`
    /// instead of what the plugin was opened with: settled as at load (the
    /// manifest's values and defaults, the plugin's declared defaults, and
    /// their checks).
    pub(crate) fn settle(&self, config: &[(String, String)]) -> Result<Arc<[(String, String)]>> {
        let i = &self.inner;
        manifest::settle_config(
            i.sandbox.options.manifest.as_deref(),
            i.declared.as_ref(),
            C::PACKAGE,
            &i.label,
            &i.origin,
            config,
        )
        .map(Into::into)
    }

    pub(crate) fn source(&self) -> &Source {
        &self.inner.source
    }

    pub(crate) fn snapshotted(&self) -> Option<&Snapshotted<C>> {
        self.inner.snapshot.as_ref()
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
            &self.inner.sandbox.engine,
            &self.inner.pre.component().component_type(),
        )
    }

    /// The wasmtime pre-instance, for embedders who need the raw API.
    pub fn instance_pre(&self) -> &InstancePre<PluginState> {
        &self.inner.pre
    }

    pub(crate) fn label(&self) -> &Arc<str> {
        &self.inner.label
    }

    pub(crate) fn sandbox(&self) -> &Sandbox {
        &self.inner.sandbox
    }

    /// The contract's export indices.
    pub(crate) fn indices(&self) -> &C::Indices {
        &self.inner.indices
    }

    /// The configuration its instances' `init` gets.
    pub(crate) fn config(&self) -> &Arc<[(String, String)]> {
        &self.inner.config
    }
}

impl<C: Contract> std::fmt::Debug for PluginPre<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginPre")
            .field("plugin", &self.inner.label)
            .field("digest", &self.inner.digest)
            .field("origin", &self.inner.origin)
            .field("snapshot", &self.inner.snapshot.is_some())
            .finish_non_exhaustive()
    }
}

/// What a snapshot is made from: the plugin's bytes (wizer rewrites them)
/// and the runtime that loaded it (its linker for the contract and its
/// cache). Kept by every [`PluginPre`]; cloning shares it.
#[derive(Clone)]
pub(crate) struct Source {
    pub(crate) runtime: Runtime,
    pub(crate) wasm: Arc<[u8]>,
}

impl Source {
    pub(crate) fn new(runtime: Runtime, wasm: &[u8]) -> Self {
        Source {
            runtime,
            wasm: wasm.into(),
        }
    }
}

/// What makes a [`PluginPre`] a snapshot's.
pub(crate) struct Snapshotted<C: Contract> {
    /// The plugin as loaded: an instance for another configuration (a
    /// reconfiguration) starts from it and runs `init`.
    pub(crate) of: PluginPre<C>,
    /// What `init` got before the snapshot.
    pub(crate) config: Arc<[(String, String)]>,
}
