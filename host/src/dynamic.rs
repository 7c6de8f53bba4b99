//! Plugins of any contract, without a contract type: [`DynamicLoader`]
//! opens a component with the runtime's sandbox, limits and cache and
//! checks only the base contract; [`DynamicPlugin`] lists its exports and
//! calls them with [`Val`]s. For tools (the `wasmplug` command line) that
//! know a plugin's contract only when they read the plugin.
//!
//! Imports of the plugin's own contract (beyond WASI and the base `log`)
//! are linked as functions that trap when called: a plugin that needs its
//! host's own imports opens, and fails with [`Error::Trap`] only if it
//! calls one.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use wasmtime::Store;
use wasmtime::component::types::{ComponentFunc, ComponentItem};
use wasmtime::component::{Component, Func, HasSelf, Instance, Linker, Val};

use crate::bindings::hooks::exports::wasmplug::plugin::declaration;
use crate::bindings::wasmplug::plugin::log;
use crate::bindings::{Base, BaseIndices};
use crate::calling::stub_contract_imports;
use crate::capabilities::Capabilities;
use crate::contract::{BASE_PACKAGE, check_package};
use crate::error::{Error, Origin, Result, chain};
use crate::inspect;
use crate::limits::Limits;
use crate::lookup::{find_export, similar_names};
use crate::manifest::{self, Declared, Manifest, Setting};
use crate::runtime::Runtime;
use crate::sandbox::{Options, Sandbox};
use crate::signature::{ExportedFunc, exported_funcs, func_signature};
use crate::state::PluginState;
use wasmplug_core::{Digest, Metadata, PackageId};

/// Opens a plugin of any contract, for tools that learn the contract from
/// the plugin: only the base contract is checked, and calls take and
/// return [`Val`]s. Made by [`Runtime::dynamic`]. Defaults: no settings,
/// no capabilities (unless a manifest beside the file grants some), no
/// limits; the runtime's sandbox, limits and precompiled cache apply as
/// for [`Loader`](crate::Loader).
///
/// Imports of the plugin's own contract (beyond WASI and the base `log`)
/// are functions that trap, naming the import, when called: a plugin that
/// needs its host's own imports opens, and fails with [`Error::Trap`] only
/// if it calls one.
///
/// # Examples
///
/// ```no_run
/// use wasmplug::Runtime;
/// use wasmplug::wasmtime::component::Val;
///
/// # fn main() -> Result<(), wasmplug::Error> {
/// let runtime = Runtime::new()?;
/// let mut plugin = runtime.dynamic().config("greeting", "Hi").open("greeter.wasm")?;
/// plugin.init()?;
/// println!("{} implements {:?}", plugin.metadata(), plugin.contract());
/// let results = plugin.call("hello", &[Val::String("Ada".into())])?;
/// # Ok(())
/// # }
/// ```
pub struct DynamicLoader<'r> {
    runtime: &'r Runtime,
    options: Options,
}

impl Runtime {
    /// Starts opening a plugin whose contract is not known at compile time.
    pub fn dynamic(&self) -> DynamicLoader<'_> {
        DynamicLoader {
            runtime: self,
            options: Options::default(),
        }
    }
}

impl DynamicLoader<'_> {
    /// Adds a setting for the plugin's `init`.
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.config.push((key.into(), value.into()));
        self
    }

    /// What the plugin may reach (default: nothing, or the manifest's
    /// grants when there is a manifest).
    pub fn capabilities(mut self, capabilities: Capabilities) -> Self {
        self.options.capabilities = capabilities;
        self
    }

    /// The plugin's limits (default: none).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.options.limits = limits;
        self
    }

    /// Reads the plugin file at `path` (and the manifest beside it),
    /// compiles it through the runtime's cache, checks that it exports the
    /// base contract, instantiates it and reads its metadata and optional
    /// declaration. `init` has not run: see [`DynamicPlugin::init`].
    ///
    /// # Errors
    ///
    /// As [`Loader::open`](crate::Loader::open), except that no contract
    /// beyond the base one is checked, nothing is registered (so no
    /// [`Error::Conflict`] or [`Error::SettingsDiffer`]), and `init` does
    /// not run.
    pub fn open(mut self, path: impl AsRef<Path>) -> Result<DynamicPlugin> {
        let path = path.as_ref();
        let runtime = self.runtime;
        let bytes = wasmplug_core::read_file(path, runtime.max_plugin_size())
            .map_err(|e| Error::file(path, e))?;
        let origin = Origin::File(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned()));
        inspect::check(&origin, &bytes)?;
        let manifest = Manifest::beside(path)?;
        if let Some(m) = &manifest
            && self.options.capabilities.is_none()
        {
            self.options.capabilities = m.capabilities();
        }
        self.options.manifest = manifest.map(Arc::new);
        let digest = Digest::of(&bytes);
        let sandbox = runtime.sandbox(self.options, &origin)?;
        let component = runtime
            .compile(&bytes, digest)
            .map_err(|e| Error::Malformed {
                origin: origin.clone(),
                reason: chain(&e),
            })?;
        DynamicPlugin::new(sandbox, origin, component, digest)
    }
}

/// A plugin of any contract, one instance of it (see [`DynamicLoader`]).
/// Its `shutdown` runs when it is dropped, if its `init` ran and it did
/// not fault.
pub struct DynamicPlugin {
    sandbox: Sandbox,
    store: Store<PluginState>,
    instance: Instance,
    base: Base,
    component: Component,
    origin: Origin,
    digest: Digest,
    metadata: Metadata,
    contract: Option<String>,
    declared: Option<Declared>,
    initialised: bool,
    poisoned: bool,
    /// `name@version`, for errors and traces.
    label: Arc<str>,
    /// Functions resolved by [`call`](Self::call), by the name it got.
    funcs: HashMap<String, (String, Func, ComponentFunc)>,
}

impl DynamicPlugin {
    fn new(sandbox: Sandbox, origin: Origin, component: Component, digest: Digest) -> Result<Self> {
        let engine = sandbox.engine.clone();
        check_package(&engine, &origin, &component, BASE_PACKAGE)?;
        let engine_err = |e: wasmtime::Error| Error::Engine { reason: chain(&e) };
        let mut linker = Linker::<PluginState>::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(engine_err)?;
        log::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut linker, |s| s)
            .map_err(engine_err)?;
        let import_err = |e: wasmtime::Error| Error::Import {
            origin: origin.clone(),
            reason: chain(&e),
        };
        let pre = match linker.instantiate_pre(&component) {
            Ok(pre) => pre,
            // Imports of the plugin's own contract: stubbed, then checked
            // again (a WASI import of an unknown version stays an error).
            Err(_) => {
                stub_contract_imports(&engine, &mut linker, &component, &|path| {
                    format!(
                        "`{path}` is an import of the plugin's contract, which this host does not provide"
                    )
                })
                .map_err(import_err)?;
                linker.instantiate_pre(&component).map_err(import_err)?
            }
        };
        let export_err = |e: wasmtime::Error| Error::Export {
            origin: origin.clone(),
            reason: chain(&e),
        };
        let base_indices = BaseIndices::new(&pre).map_err(export_err)?;
        let label: Arc<str> = Arc::from(origin.short_name());
        let mut store = sandbox.store(&origin, Arc::clone(&label))?;
        let instance = pre
            .instantiate(&mut store)
            .map_err(|e| sandbox.fault(&label, Some("instantiate"), &e))?;
        let base = base_indices
            .load(&mut store, &instance)
            .map_err(export_err)?;
        sandbox.arm(&mut store);
        let wit = base
            .wasmplug_plugin_plugin()
            .call_get_metadata(&mut store)
            .map_err(|e| sandbox.fault(&label, Some("get-metadata"), &e))?;
        let mut metadata =
            Metadata::new(&wit.name, &wit.version, wit.description).map_err(|reason| {
                Error::Metadata {
                    origin: origin.clone(),
                    reason,
                }
            })?;
        if let Some(manifest) = &sandbox.options.manifest {
            manifest.check_metadata(&metadata)?;
        }
        let label: Arc<str> = Arc::from(metadata.to_string());
        store.data_mut().set_label(Arc::clone(&label));
        let declared = match declaration::GuestIndices::new(&pre) {
            Ok(indices) => {
                let guest = indices.load(&mut store, &instance).map_err(export_err)?;
                sandbox.arm(&mut store);
                let declared = guest
                    .call_declare(&mut store)
                    .map_err(|e| sandbox.fault(&label, Some("declare"), &e))?;
                Some(Declared::from(declared))
            }
            Err(_) => None,
        };
        metadata.kind = sandbox
            .options
            .manifest
            .as_ref()
            .map(|m| m.kind())
            .filter(|kind| !kind.is_empty())
            .or(declared.as_ref().map(|d| d.kind.as_str()))
            .unwrap_or_default()
            .to_owned();
        let contract = contract_of(&engine, &component);
        Ok(DynamicPlugin {
            sandbox,
            store,
            instance,
            base,
            component,
            origin,
            digest,
            metadata,
            contract,
            declared,
            initialised: false,
            poisoned: false,
            funcs: HashMap::new(),
            label,
        })
    }

    /// Runs the plugin's `init` with the loader's settings, the manifest's
    /// and the plugin's declared defaults added and checked, as
    /// [`Loader::open`](crate::Loader::open) does. Returns the settings
    /// `init` got.
    ///
    /// # Errors
    ///
    /// [`Error::Manifest`], [`Error::MissingSetting`], [`Error::Config`]
    /// if the settings do not fit the manifest or the declaration;
    /// [`Error::Init`] if the plugin refuses; [`Error::Trap`] or
    /// [`Error::LimitExceeded`] if it faults.
    pub fn init(&mut self) -> Result<Vec<(String, String)>> {
        let label = self.metadata.to_string();
        let contract = self.contract.as_deref().unwrap_or(BASE_PACKAGE);
        let config = manifest::settle_config(
            self.sandbox.options.manifest.as_deref(),
            self.declared.as_ref(),
            contract,
            &label,
            &self.origin,
            &self.sandbox.options.config,
        )?;
        self.check_usable()?;
        self.sandbox.arm(&mut self.store);
        match self
            .base
            .wasmplug_plugin_plugin()
            .call_init(&mut self.store, &config)
        {
            Ok(Ok(())) => {
                self.initialised = true;
                Ok(config)
            }
            Ok(Err(message)) => Err(Error::Init {
                plugin: label,
                message,
            }),
            Err(e) => {
                self.poisoned = true;
                Err(self.sandbox.fault(&label, Some("init"), &e))
            }
        }
    }

    /// The plugin's metadata (its kind from the manifest or its
    /// declaration).
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// SHA-256 of the plugin file.
    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// The contract package the plugin implements, `ns:name@x.y.z`: the
    /// package of the interfaces it exports other than the base contract's
    /// (`None` when it exports only those).
    pub fn contract(&self) -> Option<&str> {
        self.contract.as_deref()
    }

    /// The settings the plugin declares (`wasmplug:plugin/declaration`),
    /// by name; empty when it declares none.
    pub fn declared_settings(&self) -> BTreeMap<String, Setting> {
        self.declared
            .as_ref()
            .map(|d| d.settings.clone())
            .unwrap_or_default()
    }

    /// The manifest beside the plugin file, if there is one.
    pub fn manifest(&self) -> Option<&Manifest> {
        self.sandbox.options.manifest.as_deref()
    }

    /// The compiled component, for its types.
    pub fn component(&self) -> &Component {
        &self.component
    }

    /// Every function the plugin exports, with its WIT signature.
    pub fn exports(&self) -> Vec<ExportedFunc> {
        exported_funcs(&self.sandbox.engine, &self.component.component_type())
    }

    /// The names of everything the plugin imports (interfaces and
    /// functions), in the component's order.
    pub fn imports(&self) -> Vec<String> {
        self.component
            .component_type()
            .imports(&self.sandbox.engine)
            .map(|(name, _)| name.to_owned())
            .collect()
    }

    /// The full name (`interface#function`) of the export `name` refers
    /// to: the full name itself, or a bare function name that only one
    /// exported interface has, with the function's type.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchExport`] (with close names) when there is no such
    /// function, or a bare name is in several interfaces.
    pub fn resolve(&self, name: &str) -> Result<(String, ComponentFunc)> {
        let exports = self.exports();
        let full = if name.contains('#') || exports.iter().any(|f| f.name == name) {
            name.to_owned()
        } else {
            let matching: Vec<&ExportedFunc> = exports
                .iter()
                .filter(|f| {
                    f.name
                        .rsplit_once('#')
                        .is_some_and(|(_, func)| func == name)
                })
                .collect();
            match matching.as_slice() {
                [one] => one.name.clone(),
                _ => {
                    return Err(Error::NoSuchExport {
                        plugin: self.metadata.to_string(),
                        export: name.to_owned(),
                        similar: if matching.is_empty() {
                            similar_names(name, exports.into_iter().map(|f| f.name))
                        } else {
                            matching.iter().map(|f| f.name.clone()).collect()
                        },
                    });
                }
            }
        };
        match find_export(&self.component, &full) {
            Some((ComponentItem::ComponentFunc(ty), _)) => Ok((full, ty)),
            _ => Err(Error::NoSuchExport {
                plugin: self.metadata.to_string(),
                similar: similar_names(&full, exports.into_iter().map(|f| f.name)),
                export: full,
            }),
        }
    }

    /// Calls export `name` (see [`resolve`](Self::resolve)) with `params`
    /// and returns its results. The deadline and fuel apply to the call.
    ///
    /// # Errors
    ///
    /// [`Error::NoSuchExport`]; [`Error::Signature`] if `params` do not
    /// fit the function's type; [`Error::Trap`] or [`Error::LimitExceeded`]
    /// if the plugin faults. After a fault, and after arguments of the
    /// wrong type (found while lowering them, when the guest's allocator
    /// may have run), every call fails without running guest code.
    pub fn call(&mut self, name: &str, params: &[Val]) -> Result<Vec<Val>> {
        self.check_usable()?;
        let (full, func, ty) = self.func(name)?;
        let label = Arc::clone(&self.label);
        let signature_error = |given: String| Error::Signature {
            plugin: label.to_string(),
            export: full.clone(),
            expected: given,
            actual: func_signature(&ty),
        };
        if params.len() != ty.params().len() {
            return Err(signature_error(format!("{} argument(s)", params.len())));
        }
        let mut results = vec![Val::Bool(false); ty.results().len()];
        self.sandbox.arm(&mut self.store);
        let _span = tracing::trace_span!(target: "wasmplug", "plugin", plugin = &*label).entered();
        match func.call(&mut self.store, params, &mut results) {
            Ok(()) => Ok(results),
            Err(e) => {
                // Even an argument of the wrong type is found only while
                // lowering, after the guest's allocator may have run.
                self.poisoned = true;
                let message = chain(&e);
                if e.downcast_ref::<wasmtime::Trap>().is_none()
                    && message.starts_with("type mismatch")
                {
                    Err(signature_error(format!("{params:?} ({message})")))
                } else {
                    Err(self.sandbox.fault(&label, Some(&full), &e))
                }
            }
        }
    }

    /// The function `name` resolves to, looked up once per name: a call
    /// then costs what wasmtime's dynamic call costs.
    fn func(&mut self, name: &str) -> Result<(String, Func, ComponentFunc)> {
        if let Some(found) = self.funcs.get(name) {
            return Ok(found.clone());
        }
        let (full, ty) = self.resolve(name)?;
        let (iface, func) = match full.split_once('#') {
            Some((iface, func)) => (Some(iface), func),
            None => (None, full.as_str()),
        };
        let parent = iface.and_then(|i| self.instance.get_export_index(&mut self.store, None, i));
        let func = self
            .instance
            .get_export_index(&mut self.store, parent.as_ref(), func)
            .and_then(|index| self.instance.get_func(&mut self.store, index))
            .ok_or_else(|| Error::NoSuchExport {
                plugin: self.metadata.to_string(),
                export: full.clone(),
                similar: Vec::new(),
            })?;
        let found = (full, func, ty);
        self.funcs.insert(name.to_owned(), found.clone());
        Ok(found)
    }

    fn check_usable(&self) -> Result<()> {
        if self.poisoned {
            return Err(Error::Trap {
                plugin: self.metadata.to_string(),
                export: "a call on this instance".into(),
                code: None,
                reason: "this instance trapped earlier and is not reused".into(),
            });
        }
        Ok(())
    }
}

impl Drop for DynamicPlugin {
    fn drop(&mut self) {
        if !self.initialised || self.poisoned {
            return;
        }
        self.sandbox.arm(&mut self.store);
        if let Err(e) = self
            .base
            .wasmplug_plugin_plugin()
            .call_shutdown(&mut self.store)
        {
            tracing::warn!(target: "wasmplug", plugin = %self.metadata, "shutdown failed: {}", chain(&e));
        }
    }
}

impl std::fmt::Debug for DynamicPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamicPlugin")
            .field("plugin", &self.metadata.to_string())
            .field("digest", &self.digest)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

/// The package of the exported interfaces other than the base contract's.
fn contract_of(engine: &wasmtime::Engine, component: &Component) -> Option<String> {
    let base = PackageId::parse(BASE_PACKAGE)?;
    component
        .component_type()
        .exports(engine)
        .filter_map(|(name, _)| {
            let id = PackageId::parse(name)?;
            (id.name != base.name).then(|| id.to_string())
        })
        .next()
}
