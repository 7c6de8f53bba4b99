//! The expensive half of loading: a plugin compiled, checked against its
//! contract and pre-instantiated, once per plugin ([`PluginPre`]).

use std::sync::Arc;

use wasmtime::component::{Component, InstancePre, Linker};

use crate::bindings::BaseIndices;
use crate::bindings::hooks::exports::wasmplug::plugin::declaration;
use crate::bindings::hooks::exports::wasmplug::plugin::lifecycle as hooks;
use crate::contract::{BASE_PACKAGE, Contract, check_package};
use crate::error::{Error, Origin, Result, chain};
use crate::instance::PluginInstance;
use crate::manifest::{self, Declared};
use crate::sandbox::Sandbox;
use crate::signature::{ExportedFunc, exported_funcs};
use crate::snapshot::{Snapshotted, Source};
use crate::state::PluginState;
use wasmplug_core::{Digest, Metadata};

/// A plugin compiled, checked against its contract and pre-instantiated:
/// everything expensive is done, and [`instantiate`](Self::instantiate) is
/// cheap. Cloning shares it.
pub struct PluginPre<C: Contract> {
    inner: Arc<PreInner<C>>,
}

impl<C: Contract> Clone for PluginPre<C> {
    fn clone(&self) -> Self {
        PluginPre {
            inner: Arc::clone(&self.inner),
        }
    }
}

pub(crate) struct PreInner<C: Contract> {
    sandbox: Sandbox,
    pre: InstancePre<PluginState>,
    base: BaseIndices,
    /// The optional lifecycle hooks, when the plugin exports them.
    hooks: Option<hooks::GuestIndices>,
    /// What the plugin declares about itself, when it does.
    declared: Option<Declared>,
    /// What `init` gets: the embedder's configuration with the declared
    /// defaults.
    config: Arc<[(String, String)]>,
    indices: C::Indices,
    origin: Origin,
    digest: Digest,
    metadata: Metadata,
    label: Arc<str>,
    /// What [`snapshot`](PluginPre::snapshot) starts from.
    source: Source,
    /// Set when this pre makes instances from a snapshot taken after
    /// `init` (see `snapshot.rs`).
    snapshot: Option<Snapshotted<C>>,
}

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
            return Err(crate::async_plugin::calling_path::<C>());
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

    /// The same plugin, making its instances from the pre-instantiated
    /// `component`: a snapshot of it taken after `init` (see
    /// [`snapshot`](Self::snapshot)).
    pub(crate) fn with_snapshot(
        &self,
        sandbox: Sandbox,
        linker: &Linker<PluginState>,
        component: &Component,
        snapshot: Snapshotted<C>,
    ) -> Result<Self> {
        let i = &self.inner;
        let pre = linker
            .instantiate_pre(component)
            .map_err(|e| Error::Import {
                origin: i.origin.clone(),
                reason: chain(&e),
            })?;
        let export_err = |e: wasmtime::Error| Error::Export {
            origin: i.origin.clone(),
            reason: chain(&e),
        };
        let base = BaseIndices::new(&pre).map_err(export_err)?;
        let hooks = hooks::GuestIndices::new(&pre).ok();
        let indices = C::indices(&pre).map_err(export_err)?;
        Ok(PluginPre {
            inner: Arc::new(PreInner {
                sandbox,
                pre,
                base,
                hooks,
                declared: i.declared.clone(),
                config: Arc::clone(&snapshot.config),
                indices,
                origin: i.origin.clone(),
                digest: i.digest,
                metadata: i.metadata.clone(),
                label: Arc::clone(&i.label),
                source: i.source.clone(),
                snapshot: Some(snapshot),
            }),
        })
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
