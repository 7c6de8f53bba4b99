//! The one error type of the crate.

use std::path::PathBuf;

pub(crate) use wasmplug_core::{Conflict, Origin};

/// Everything that can go wrong loading or calling a plugin.
///
/// Every variant names the plugin (by origin before its metadata is known, by
/// `name@version` after) and what was wrong with it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The plugin file could not be read.
    #[error("cannot read plugin file {}: {source}", path.display())]
    Io {
        /// The path as given.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The path is not a regular file (a directory, FIFO, socket or
    /// device): refused before anything is read from it.
    #[error("{} is a {kind}, not a plugin file", path.display())]
    NotAFile {
        /// The path as given.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },

    /// The file is larger than the runtime's cap
    /// ([`RuntimeBuilder::max_plugin_size`](crate::RuntimeBuilder::max_plugin_size)):
    /// refused before it is read.
    #[error("{} is {size} bytes, over the {max}-byte limit for a plugin file", path.display())]
    TooLarge {
        /// The path as given.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The cap.
        max: u64,
    },

    /// The bytes are not WebAssembly at all (no `\0asm` magic).
    #[error(
        "{origin} is not a WebAssembly file (it starts with {head:02x?}, not the `\\0asm` magic)"
    )]
    NotWasm {
        /// Where the bytes came from.
        origin: Origin,
        /// The first bytes found instead of the magic.
        head: Vec<u8>,
    },

    /// The file is a core Wasm module, not a component.
    #[error(
        "{origin} is a core WebAssembly module, not a component: build the plugin for \
         `wasm32-wasip2` (or wrap it with `wasm-tools component new`)"
    )]
    CoreModule {
        /// Where the bytes came from.
        origin: Origin,
    },

    /// The file ends in the middle of the binary: a partial copy or download.
    #[error("{origin} is truncated: {len} bytes, but the binary needs more ({detail})")]
    Truncated {
        /// Where the bytes came from.
        origin: Origin,
        /// How many bytes there were.
        len: usize,
        /// Where the parser ran out.
        detail: String,
    },

    /// The component is not valid (wasmtime refused to compile it).
    #[error("{origin} is not a valid component: {reason}")]
    Malformed {
        /// Where the bytes came from.
        origin: Origin,
        /// What the validator or compiler said.
        reason: String,
    },

    /// The component exports no interface of the contract's package.
    #[error(
        "{origin} does not implement contract `{contract}`: it exports no interface of \
         that package (it exports: {exports})"
    )]
    NotImplemented {
        /// Where the bytes came from.
        origin: Origin,
        /// The contract the host asked for, e.g. `wasmplug:demo@1.0.0`.
        contract: String,
        /// The component's top-level export names, comma separated.
        exports: String,
    },

    /// The component implements the contract's package at a version the host
    /// does not support (a different semver-major, or 0.x minor).
    #[error(
        "{origin} implements `{found}`, but this host supports `{supported}` \
         (semver-compatible versions only)"
    )]
    UnsupportedContract {
        /// Where the bytes came from.
        origin: Origin,
        /// What the plugin exports, e.g. `wasmplug:demo/api@2.0.0`.
        found: String,
        /// What the host was built against, e.g. `wasmplug:demo@1.0.0`.
        supported: String,
    },

    /// An export the contract requires is missing or has another type.
    #[error("{origin} does not match its contract's exports: {reason}")]
    Export {
        /// Where the bytes came from.
        origin: Origin,
        /// Which export is missing or mistyped, as wasmtime reported it.
        reason: String,
    },

    /// The component imports something the host does not provide, or
    /// provides with another type.
    #[error("{origin} imports what this host does not provide: {reason}")]
    Import {
        /// Where the bytes came from.
        origin: Origin,
        /// Which import failed to resolve, as wasmtime reported it.
        reason: String,
    },

    /// The plugin's metadata is unusable (empty name, version not semver).
    #[error("{origin} has invalid metadata: {reason}")]
    Metadata {
        /// Where the bytes came from.
        origin: Origin,
        /// What is wrong with it.
        reason: String,
    },

    /// A different file already claims this plugin's name and version.
    ///
    /// Go's `plugin.Open` panics the process on this ("plugin already loaded");
    /// wasmplug refuses the second file and keeps serving the first.
    #[error("{0}")]
    Conflict(Box<Conflict>),

    /// The plugin is already live with other settings, capabilities or
    /// limits than it was asked for now (see
    /// [`Loader::on_different_settings`](crate::Loader::on_different_settings)).
    /// Nothing is dropped silently: the live plugin is untouched and this
    /// open is refused.
    #[error(
        "plugin {plugin} is already live with other options ({}): open it with the same \
         settings, capabilities and limits, or load it separately with \
         `Loader::on_different_settings(OnDifferentSettings::LoadSeparately)`",
        differences.join("; ")
    )]
    SettingsDiffer {
        /// `name@version`.
        plugin: String,
        /// What differs, one line each (settings, capabilities, limits).
        differences: Vec<String>,
    },

    /// Every instance of a pooled plugin stayed busy for as long as the
    /// caller may wait ([`PoolConfig::wait`](crate::PoolConfig::wait)).
    #[error(
        "plugin {plugin}: all {size} pooled instances stayed busy for {waited:?}: \
         give the pool more instances or callers more time (`PoolConfig`)"
    )]
    PoolExhausted {
        /// `name@version`.
        plugin: String,
        /// The pool's size.
        size: usize,
        /// How long the caller waited.
        waited: std::time::Duration,
    },

    /// A plugin spec (`name@requirement`) that does not parse.
    #[error(
        "`{spec}` is not a plugin spec (`name`, `name@1`, `name@1.2`, `name@=1.2.0`): {reason}"
    )]
    Spec {
        /// The spec as given.
        spec: String,
        /// What is wrong with it.
        reason: String,
    },

    /// No plugin in a directory satisfies a spec.
    #[error(
        "no plugin {spec} in {}{}",
        dir.display(),
        if available.is_empty() {
            " (it holds no plugin for this contract)".to_owned()
        } else {
            format!(" (it holds: {})", available.join(", "))
        }
    )]
    NotFound {
        /// The directory searched.
        dir: PathBuf,
        /// The spec, normalised (`auth@^1`).
        spec: String,
        /// Every plugin found there for the contract, as `name@version (file)`.
        available: Vec<String>,
    },

    /// The manifest beside a plugin file is malformed, or does not fit the
    /// plugin, the host's contract or the configuration.
    #[error("manifest {}: {reason}", path.display())]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },

    /// A setting the plugin's manifest requires has no value.
    #[error(
        "plugin {plugin} needs setting `{setting}`{}: set it in its manifest's \
         [config] or with `Loader::config`",
        if description.is_empty() { String::new() } else { format!(" ({description})") }
    )]
    MissingSetting {
        /// `name@version`, as the manifest declares it.
        plugin: String,
        /// The setting.
        setting: String,
        /// What the manifest says it is for.
        description: String,
    },

    /// A lifecycle hook (`validate`, `flush`) reported a failure. A refused
    /// `validate` means `init` did not run.
    #[error("plugin {plugin}'s `{hook}` hook refused: {message}")]
    Hook {
        /// `name@version`.
        plugin: String,
        /// The hook, e.g. `validate`.
        hook: &'static str,
        /// The plugin's own error text.
        message: String,
    },

    /// The plugin is disabled ([`Plugin::disable`](crate::Plugin::disable)):
    /// it stays loaded but serves no calls until enabled.
    #[error("plugin {plugin} is disabled")]
    Disabled {
        /// `name@version`.
        plugin: String,
    },

    /// The plugin's `init` returned an error; the plugin was not loaded.
    #[error("plugin {plugin} refused to initialise: {message}")]
    Init {
        /// `name@version`.
        plugin: String,
        /// The plugin's own error text.
        message: String,
    },

    /// The plugin cannot be snapshotted after `init`
    /// ([`PluginPre::snapshot`](crate::PluginPre::snapshot)): its `init`
    /// left state a snapshot cannot carry (an open host resource, such as a
    /// file, directory or stream handle), or wasmtime-wizer refused the
    /// component (e.g. it mutates tables). The plugin itself is unharmed:
    /// its instances can still run `init` each
    /// ([`PluginPre::instantiate`](crate::PluginPre::instantiate)).
    #[error("plugin {plugin} cannot be snapshotted after init: {reason}")]
    Snapshot {
        /// `name@version`.
        plugin: String,
        /// Why, in words.
        reason: String,
    },

    /// Guest code trapped (or a host call failed) while running `export`.
    /// The instance that trapped is not reused.
    #[error("plugin {plugin} trapped in {export}: {reason}")]
    Trap {
        /// `name@version`.
        plugin: String,
        /// The export being called (or `instantiate`).
        export: String,
        /// The trap code, if the failure was a Wasm trap.
        code: Option<wasmtime::Trap>,
        /// The full error, with the guest backtrace where available.
        reason: String,
    },

    /// The plugin ran into one of its [`Limits`](crate::Limits). The
    /// instance is not reused.
    #[error("plugin {plugin} exceeded its {limit} in {export}")]
    LimitExceeded {
        /// `name@version`.
        plugin: String,
        /// The export being called (or `instantiate`).
        export: String,
        /// Which limit, with its configured value.
        limit: crate::Limit,
    },

    /// The plugin's options cannot be applied: a deadline without epoch
    /// interruption, fuel without fuel metering, a directory that cannot be
    /// granted.
    #[error("cannot load {origin} with these options: {reason}")]
    Config {
        /// Where the bytes came from.
        origin: Origin,
        /// What is wrong.
        reason: String,
    },

    /// A contract opened on the other calling path: one bound with
    /// `async: true` (see [`contract!`](crate::contract!)) opened with the
    /// synchronous [`Loader::open`](crate::Loader::open), or a synchronous
    /// one with [`Loader::open_async`](crate::Loader::open_async). An async
    /// contract's instances need `*_async` calls for everything, and a
    /// synchronous contract's bindings have no async calls.
    #[error("contract `{contract}` is bound {bound}: open it with `{instead}`")]
    CallingPath {
        /// The contract's package, e.g. `acme:kv@1.0.0`.
        contract: String,
        /// How it is bound: `"with async: true"` or `"synchronously"`.
        bound: &'static str,
        /// The entry point to use instead.
        instead: &'static str,
    },

    /// A dynamic lookup named an export the plugin does not have.
    #[error(
        "plugin {plugin} has no function export `{export}`{}",
        if similar.is_empty() {
            String::new()
        } else {
            format!(" (did you mean {}?)", similar.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", "))
        }
    )]
    NoSuchExport {
        /// `name@version`.
        plugin: String,
        /// The name looked up.
        export: String,
        /// The plugin's function exports whose names are close to it, the
        /// closest first (at most five).
        similar: Vec<String>,
    },

    /// A dynamic lookup asked for a signature the export does not have.
    #[error(
        "plugin {plugin}: export `{export}` has signature `{actual}`, \
         but the host asked for `{expected}`"
    )]
    Signature {
        /// `name@version`.
        plugin: String,
        /// The export looked up.
        export: String,
        /// The Rust types the host asked for.
        expected: String,
        /// The export's WIT signature.
        actual: String,
    },

    /// The engine could not be created or configured.
    #[error("cannot configure the wasmtime engine: {reason}")]
    Engine {
        /// What wasmtime said.
        reason: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Renders a wasmtime error with its whole context chain on one line.
pub(crate) fn chain(err: &wasmtime::Error) -> String {
    wasmplug_core::chain(&**err)
}

impl Error {
    /// The error for a plugin or manifest file that could not be read.
    pub(crate) fn file(path: &std::path::Path, error: wasmplug_core::FileError) -> Self {
        use wasmplug_core::FileError;
        let path = path.to_owned();
        match error {
            FileError::NotAFile { kind } => Error::NotAFile { path, kind },
            FileError::TooLarge { size, max } => Error::TooLarge { path, size, max },
            FileError::Io(source) => Error::Io { path, source },
            other => Error::Io {
                path,
                source: std::io::Error::other(other.to_string()),
            },
        }
    }
}
