//! Opening one plugin: the embedder's options for it, the manifest beside
//! its file, a directory of versions, and instantiate-once through the
//! runtime's registry ([`Loader`]).

use std::any::Any;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::Arc;

use wasmplug_core::{Claim, Digest, OnConflict, Request};

use crate::capabilities::Capabilities;
use crate::concurrency::{Concurrency, PoolConfig};
use crate::contract::Contract;
use crate::directory::{self, Available, Spec};
use crate::error::{Error, Origin, Result, chain};
use crate::inspect;
use crate::instance::PluginInstance;
use crate::limits::Limits;
use crate::manifest::Manifest;
use crate::plugin::{Plugin, PluginInner};
use crate::pre::PluginPre;
use crate::pre::Source;
use crate::runtime::Runtime;
use crate::sandbox::Options;

/// Loads one plugin for contract `C`; made by [`Runtime::loader`].
#[must_use = "a loader does nothing until `open` or `open_bytes`"]
pub struct Loader<'r, C: Contract> {
    runtime: &'r Runtime,
    options: Options,
    on_conflict: OnConflict,
    on_different_settings: OnDifferentSettings,
    /// Whether the embedder chose the concurrency (over the manifest).
    concurrency_chosen: bool,
    _contract: PhantomData<fn() -> C>,
}

/// What opening a plugin does when the same plugin (the same content, for
/// the same contract) is already live with other settings, capabilities or
/// limits. See [`Loader::on_different_settings`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnDifferentSettings {
    /// Refuse with [`Error::SettingsDiffer`], naming what differs; the live
    /// plugin is untouched. The default: settings, grants and limits are
    /// never silently dropped.
    #[default]
    Refuse,
    /// Load a separate live plugin for these settings: its own instance,
    /// state and `init`, beside the other. Opening again with the same
    /// settings returns it.
    LoadSeparately,
}

impl<'r, C: Contract> Loader<'r, C> {
    pub(crate) fn new(runtime: &'r Runtime) -> Self {
        Loader {
            runtime,
            options: Options::default(),
            on_conflict: OnConflict::default(),
            on_different_settings: OnDifferentSettings::default(),
            concurrency_chosen: false,
            _contract: PhantomData,
        }
    }

    /// Adds a setting passed to the plugin's `init`.
    pub fn config(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.options.config.push((key.into(), value.into()));
        self
    }

    /// What the plugin may reach. Default: [`Capabilities::none`].
    pub fn capabilities(mut self, capabilities: Capabilities) -> Self {
        self.options.capabilities = capabilities;
        self
    }

    /// The plugin's resource limits. Default: none.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.options.limits = limits;
        self
    }

    /// What to do when a plugin with the same name and version but other
    /// content is live. Default: [`OnConflict::Refuse`].
    pub fn on_conflict(mut self, on_conflict: OnConflict) -> Self {
        self.on_conflict = on_conflict;
        self
    }

    /// How the plugin serves concurrent callers: one shared instance whose
    /// calls take turns (the default: one plugin state, as Go's), or a pool
    /// of instances, each call on one of its own (calls run in parallel;
    /// state is per instance). See [`Concurrency`].
    pub fn concurrency(mut self, concurrency: Concurrency) -> Self {
        self.options.concurrency = concurrency;
        self.concurrency_chosen = true;
        self
    }

    /// What to do when this plugin is already live with other settings,
    /// capabilities or limits than this loader's (the manifest beside the
    /// file included). Default: [`OnDifferentSettings::Refuse`].
    pub fn on_different_settings(mut self, choice: OnDifferentSettings) -> Self {
        self.on_different_settings = choice;
        self
    }

    /// Opens the newest plugin in `dir` that satisfies `spec`: `auth@1` is
    /// the newest `auth` 1.x there, by the versions the plugins declare
    /// (file names do not matter). See [`Spec`] for the syntax. Upgrading
    /// is dropping a newer file into the directory: the next `open_in`
    /// loads it, while plugins already open keep running.
    ///
    /// # Errors
    ///
    /// [`Error::Spec`] if `spec` does not parse, [`Error::Io`] if `dir`
    /// cannot be read, [`Error::NotFound`] (listing what is there) if no
    /// plugin matches, and otherwise as [`open`](Self::open).
    pub fn open_in(self, dir: impl AsRef<Path>, spec: &str) -> Result<Plugin<C>> {
        refuse_async::<C>()?;
        let dir = dir.as_ref();
        let spec: Spec = spec.parse()?;
        let mut available = Vec::new();
        let mut best: Option<Candidate<C>> = None;
        self.reborrow().scan(dir, |candidate| {
            available.push(candidate.available.clone());
            if directory::better(
                &spec,
                &candidate.available,
                best.as_ref().map(|b| &b.available),
            ) {
                best = Some(candidate);
            }
        })?;
        let Some(best) = best else {
            return Err(Error::NotFound {
                dir: dir.to_owned(),
                spec: spec.to_string(),
                available: available.iter().map(ToString::to_string).collect(),
            });
        };
        // The bytes and compilation the scan made: what was chosen is what
        // loads, even if the file changes meanwhile.
        let Candidate {
            available,
            pre,
            first,
            ..
        } = best;
        self.register(
            available.digest,
            || Ok((pre, first)),
            sync_pre,
            Plugin::start,
        )
        .map(Plugin::from_inner)
    }

    /// A loader with the same options.
    fn reborrow(&self) -> Self {
        Loader {
            runtime: self.runtime,
            options: self.options.clone(),
            on_conflict: self.on_conflict,
            on_different_settings: self.on_different_settings,
            concurrency_chosen: self.concurrency_chosen,
            _contract: PhantomData,
        }
    }

    /// Applies the manifest beside the plugin file `path`, if any: its
    /// configuration under the embedder's, its capabilities unless the
    /// embedder chose some, and the checks that need no compiling.
    fn with_manifest_for(mut self, path: &Path) -> Result<Self> {
        let manifest = Manifest::beside(path)?;
        if let Some(m) = &manifest {
            if self.options.capabilities.is_none() {
                self.options.capabilities = m.capabilities();
            }
            if let Some(size) = m.pool()
                && !self.concurrency_chosen
            {
                self.options.concurrency = Concurrency::Pooled(PoolConfig::new(size));
            }
            // What needs no compiling is checked before compiling.
            m.check_before_compile(C::PACKAGE, &m.config(&self.options.config))?;
        }
        self.options.manifest = manifest.map(Arc::new);
        Ok(self)
    }

    /// Compiles each `*.wasm` file in `dir` for `C` with these options and
    /// hands over those that are plugins for `C`.
    pub(crate) fn scan(self, dir: &Path, mut found: impl FnMut(Candidate<C>)) -> Result<()> {
        let max = self.runtime.max_plugin_size();
        for path in directory::wasm_files(dir)? {
            let bytes = match wasmplug_core::read_file(&path, max) {
                Ok(bytes) => bytes,
                Err(e) => {
                    tracing::debug!(target: "wasmplug", file = %path.display(), "skipped: {e}");
                    continue;
                }
            };
            let digest = Digest::of(&bytes);
            let origin = Origin::File(path.clone());
            let compiled = inspect::check(&origin, &bytes)
                .and_then(|()| self.reborrow().with_manifest_for(&path))
                .and_then(|loader| loader.compile_origin(origin, &bytes, digest));
            match compiled {
                Ok((pre, first)) => found(Candidate {
                    available: Available {
                        name: pre.metadata().name.clone(),
                        version: pre.metadata().version.clone(),
                        path,
                        digest,
                    },
                    pre,
                    first,
                }),
                Err(e) => {
                    tracing::debug!(target: "wasmplug", file = %path.display(), "skipped: {e}");
                }
            }
        }
        Ok(())
    }

    /// Opens the plugin file at `path`: instantiate-once, as Go's
    /// `plugin.Open`. If the same plugin (the same content, for contract
    /// `C`, with the same settings, capabilities and limits) is already
    /// live, that plugin is returned and nothing runs: its `init` ran once.
    /// Otherwise the file is checked and compiled, the [`Manifest`] beside
    /// it (`name.toml` for `name.wasm`), if any, is applied and checked, the
    /// component is checked against `C`, instantiated, and its `init` runs.
    ///
    /// # Errors
    ///
    /// - [`Error::Io`], [`Error::NotAFile`], [`Error::TooLarge`]: the file
    ///   (or its manifest) cannot be read, is not a regular file, or is too
    ///   large;
    /// - [`Error::NotWasm`], [`Error::CoreModule`], [`Error::Truncated`],
    ///   [`Error::Malformed`]: it is not a usable component (checked before
    ///   anything else, the manifest included);
    /// - [`Error::Manifest`], [`Error::MissingSetting`], [`Error::Config`]:
    ///   its manifest, or the settings, do not fit what the plugin or its
    ///   manifest declare;
    /// - [`Error::NotImplemented`], [`Error::UnsupportedContract`],
    ///   [`Error::Export`], [`Error::Import`]: it does not implement `C` as
    ///   this host knows it;
    /// - [`Error::Metadata`]: its name or version is unusable;
    /// - [`Error::Conflict`]: another live plugin has the same name and
    ///   version but different content (unless
    ///   [`on_conflict`](Self::on_conflict) says to load it alongside);
    /// - [`Error::SettingsDiffer`]: the same plugin is live with other
    ///   settings, capabilities or limits (unless
    ///   [`on_different_settings`](Self::on_different_settings) says to
    ///   load it separately);
    /// - [`Error::Hook`], [`Error::Init`], [`Error::Trap`],
    ///   [`Error::LimitExceeded`]: its `validate` hook or `init` refused, or
    ///   it trapped.
    /// - [`Error::CallingPath`]: `C` is an async contract (use
    ///   [`open_async`](Self::open_async)).
    pub fn open(self, path: impl AsRef<Path>) -> Result<Plugin<C>> {
        refuse_async::<C>()?;
        self.open_path(path.as_ref(), sync_pre, Plugin::start)
            .map(Plugin::from_inner)
    }

    /// Reads, checks and opens the plugin file `path` (see
    /// [`open`](Self::open)), made live by `start`: the sync and async
    /// paths' shared steps.
    pub(crate) fn open_path<T: Any + Send + Sync>(
        self,
        path: &Path,
        pre_of: fn(&T) -> &PluginPre<C>,
        start: impl FnOnce(PluginPre<C>, PluginInstance<C>) -> Result<Arc<T>>,
    ) -> Result<Arc<T>> {
        let bytes = wasmplug_core::read_file(path, self.runtime.max_plugin_size())
            .map_err(|e| Error::file(path, e))?;
        let origin = Origin::File(std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned()));
        // The file itself first: a non-Wasm file is `NotWasm`, even one
        // named like its own manifest.
        inspect::check(&origin, &bytes)?;
        self.with_manifest_for(path)?
            .open_origin(origin, &bytes, pre_of, start)
    }

    /// Like [`open`](Self::open), from bytes in memory; `label` names them in
    /// errors and logs until the plugin's metadata is known.
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open), without [`Error::Io`].
    pub fn open_bytes(self, label: impl Into<String>, bytes: &[u8]) -> Result<Plugin<C>> {
        refuse_async::<C>()?;
        let origin = Origin::Bytes(label.into());
        inspect::check(&origin, bytes)?;
        self.open_origin(origin, bytes, sync_pre, Plugin::start)
            .map(Plugin::from_inner)
    }

    /// Compiles and checks a plugin without registering or initialising it,
    /// for embedders who manage instances themselves
    /// ([`PluginPre::instantiate`] runs `init` on each).
    ///
    /// # Errors
    ///
    /// As [`open_bytes`](Self::open_bytes), without [`Error::Conflict`],
    /// [`Error::Init`].
    pub fn compile(self, label: impl Into<String>, bytes: &[u8]) -> Result<PluginPre<C>> {
        let origin = Origin::Bytes(label.into());
        inspect::check(&origin, bytes)?;
        let (pre, _uninitialised) = self.compile_origin(origin, bytes, Digest::of(bytes))?;
        Ok(pre)
    }

    pub(crate) fn open_origin<T: Any + Send + Sync>(
        self,
        origin: Origin,
        bytes: &[u8],
        pre_of: fn(&T) -> &PluginPre<C>,
        start: impl FnOnce(PluginPre<C>, PluginInstance<C>) -> Result<Arc<T>>,
    ) -> Result<Arc<T>> {
        let digest = Digest::of(bytes);
        self.register(
            digest,
            || self.compile_origin(origin, bytes, digest),
            pre_of,
            start,
        )
    }

    /// Returns the live plugin with `digest` and these options, or makes it
    /// live: `compile` (only if it is not live, and not loading in another
    /// thread), the name and version checked against the other live
    /// plugins, then `init`. The same content live with other options is
    /// [`Error::SettingsDiffer`] unless the embedder chose to load it
    /// separately.
    fn register<T: Any + Send + Sync>(
        &self,
        digest: Digest,
        compile: impl FnOnce() -> Result<(PluginPre<C>, PluginInstance<C>)>,
        pre_of: fn(&T) -> &PluginPre<C>,
        start: impl FnOnce(PluginPre<C>, PluginInstance<C>) -> Result<Arc<T>>,
    ) -> Result<Arc<T>> {
        let request = Request {
            digest,
            variant: self.options.fingerprint(),
            on_conflict: self.on_conflict,
        };
        let other_settings = |live: Arc<T>| match self.on_different_settings {
            OnDifferentSettings::Refuse => Some(Error::SettingsDiffer {
                plugin: pre_of(&live).label().to_string(),
                differences: pre_of(&live).sandbox().options.differences(&self.options),
            }),
            OnDifferentSettings::LoadSeparately => None,
        };
        self.runtime.registry().open(
            request,
            other_settings,
            compile,
            |(pre, _)| Claim {
                name: pre.metadata().name.clone(),
                version: pre.metadata().version.clone(),
                origin: pre.origin().clone(),
            },
            |(pre, first)| start(pre, first),
            |conflict| Error::Conflict(Box::new(conflict)),
        )
    }

    /// Compiles and checks `bytes`, which the caller has already checked
    /// to be a whole component ([`inspect::check`]: once per load).
    fn compile_origin(
        &self,
        origin: Origin,
        bytes: &[u8],
        digest: Digest,
    ) -> Result<(PluginPre<C>, PluginInstance<C>)> {
        let runtime = self.runtime;
        let linker = runtime.linker::<C>()?;
        let sandbox = runtime.sandbox(self.options.clone(), &origin)?;
        let component = runtime
            .compile(bytes, digest)
            .map_err(|e| Error::Malformed {
                origin: origin.clone(),
                reason: chain(&e),
            })?;
        let probe = if C::ASYNC {
            Some(crate::calling::probe_linker(runtime.engine(), &component)?)
        } else {
            None
        };
        let source = Source::new(runtime.clone(), bytes);
        PluginPre::new(
            sandbox,
            &linker,
            probe.as_ref(),
            origin,
            &component,
            digest,
            source,
        )
    }
}

/// Opening plugins.
impl Runtime {
    /// Opens the plugin at `path` for contract `C`, with no configuration.
    /// See [`Loader::open`].
    ///
    /// # Errors
    ///
    /// As [`Loader::open`].
    pub fn open<C: Contract>(&self, path: impl AsRef<Path>) -> Result<Plugin<C>> {
        self.loader::<C>().open(path)
    }

    /// Starts loading a plugin for contract `C`, with options.
    pub fn loader<C: Contract>(&self) -> Loader<'_, C> {
        Loader::new(self)
    }

    /// Every plugin for contract `C` directly in `dir` (`*.wasm` files),
    /// with the name and version each declares, sorted by name and then
    /// newest first. Files that are not plugins for `C` are skipped (logged
    /// at debug level). Each file is compiled to read its metadata (through
    /// the precompiled cache, when on); none is initialised.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if `dir` cannot be read.
    pub fn scan<C: Contract>(&self, dir: impl AsRef<Path>) -> Result<Vec<Available>> {
        let mut found = Vec::new();
        self.loader::<C>().scan(dir.as_ref(), |candidate| {
            found.push(candidate.available);
        })?;
        found.sort_by(|a, b| a.name.cmp(&b.name).then(b.version.cmp(&a.version)));
        Ok(found)
    }

    /// Opens the newest plugin in `dir` that satisfies `spec`, with no
    /// configuration. See [`Loader::open_in`].
    ///
    /// # Errors
    ///
    /// As [`Loader::open_in`].
    pub fn open_in<C: Contract>(&self, dir: impl AsRef<Path>, spec: &str) -> Result<Plugin<C>> {
        self.loader::<C>().open_in(dir, spec)
    }
}

/// A plugin file compiled during a directory scan.
pub(crate) struct Candidate<C: Contract> {
    pub(crate) available: Available,
    pre: PluginPre<C>,
    first: PluginInstance<C>,
}

/// The shared plugin's compiled half, for [`Loader::register`].
fn sync_pre<C: Contract>(inner: &PluginInner<C>) -> &PluginPre<C> {
    &inner.pre
}

/// `Err(CallingPath)` for an async contract on the sync path.
fn refuse_async<C: Contract>() -> Result<()> {
    if C::ASYNC {
        Err(crate::calling::calling_path::<C>())
    } else {
        Ok(())
    }
}
