//! Errors of the native backend.

use std::path::PathBuf;

use wasmplug_core::Conflict;

/// [`NativeError::MalformedHeader`]'s `what` when the header's size is too
/// small (any other `what` names a string that is not UTF-8).
pub(crate) const HEADER_SIZE: &str = "header size";

/// What can go wrong opening or calling a native plugin. Each variant names
/// the library and what was wrong with it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NativeError {
    /// The file cannot be read.
    #[error("cannot read native plugin {}: {source}", path.display())]
    Io {
        /// The path as given.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },

    /// The path is not a regular file (a directory, FIFO, socket or
    /// device): refused before anything is read from it.
    #[error("{} is a {kind}, not a native plugin file", path.display())]
    NotAFile {
        /// The path as given.
        path: PathBuf,
        /// What it is instead.
        kind: &'static str,
    },

    /// The file is larger than the loader's cap
    /// ([`NativeLoader::max_size`](crate::NativeLoader::max_size)): refused
    /// before it is read.
    #[error("{} is {size} bytes, over the {max}-byte limit for a native plugin", path.display())]
    TooLarge {
        /// The path as given.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// The cap.
        max: u64,
    },

    /// The plugin's `get-metadata` returned an unusable name or version.
    #[error("native plugin {}: {reason}", path.display())]
    Metadata {
        /// The library.
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },

    /// The dynamic loader refused the file (not a shared library, missing
    /// dependencies, another architecture).
    #[error("cannot load {} as a shared library: {reason}", path.display())]
    Load {
        /// The library.
        path: PathBuf,
        /// What the dynamic loader said.
        reason: String,
    },

    /// A shared library without the wasmplug header: not a wasmplug plugin
    /// (a system library, a plain C library).
    #[error("{} is not a wasmplug plugin: it has no `WASMPLUG_HEADER` symbol", path.display())]
    NotAPlugin {
        /// The library.
        path: PathBuf,
    },

    /// The header symbol is there but does not start with the magic bytes.
    #[error("{} has a `WASMPLUG_HEADER` symbol that is not a wasmplug header", path.display())]
    BadMagic {
        /// The library.
        path: PathBuf,
    },

    /// The plugin speaks another version of the native ABI.
    #[error("{} uses native ABI version {found}; this host speaks version {supported}", path.display())]
    AbiVersion {
        /// The library.
        path: PathBuf,
        /// The plugin's ABI version.
        found: u32,
        /// The host's.
        supported: u32,
    },

    /// The plugin was built for another target.
    #[error("{} was built for {found}; this host is {host}", path.display())]
    Target {
        /// The library.
        path: PathBuf,
        /// The plugin's target triple.
        found: String,
        /// The host's.
        host: String,
    },

    /// The plugin implements a contract version the host does not support.
    #[error(
        "{} implements world `{world}` of `{found}`, but this host expects world \
         `{supported_world}` of `{supported}` (or a semver-compatible version)",
        path.display()
    )]
    Contract {
        /// The library.
        path: PathBuf,
        /// The plugin's contract, `ns:pkg@version`.
        found: String,
        /// The plugin's world.
        world: String,
        /// The host's contract.
        supported: String,
        /// The host's world.
        supported_world: String,
    },

    /// Same contract version, different WIT: the contract changed without a
    /// version bump.
    #[error(
        "{} implements `{contract}` from a different WIT (digest {found}, host {expected}): \
         the contract changed without a version bump",
        path.display()
    )]
    WitDigest {
        /// The library.
        path: PathBuf,
        /// The contract both claim.
        contract: String,
        /// The plugin's WIT digest (hex).
        found: String,
        /// The host's WIT digest (hex).
        expected: String,
    },

    /// An entry point the contract needs is not exported.
    #[error("{} has no entry point `{symbol}` for export `{export}`", path.display())]
    MissingEntryPoint {
        /// The library.
        path: PathBuf,
        /// The WIT export.
        export: String,
        /// The mangled symbol looked up.
        symbol: String,
    },

    /// The header's size is smaller than this ABI version's header, or a
    /// header string is not valid UTF-8.
    #[error(
        "{} has a malformed header: its {what} {}",
        path.display(),
        if *what == HEADER_SIZE { "is smaller than this ABI's header" } else { "is not UTF-8" }
    )]
    MalformedHeader {
        /// The library.
        path: PathBuf,
        /// Which field: `header size`, or the string that is not UTF-8.
        what: &'static str,
    },

    /// The plugin panicked in an export; the panic was caught at the
    /// boundary and the host keeps running.
    #[error("native plugin {plugin} panicked in `{export}`: {message}")]
    Panic {
        /// `name@version`.
        plugin: String,
        /// The export.
        export: String,
        /// The panic message.
        message: String,
    },

    /// The plugin's `get-metadata` names another plugin or version than its
    /// header (which the generator fills from the crate's name and
    /// version): the library's identity is ambiguous.
    #[error(
        "{}: its header says {header} but its `get-metadata` says {metadata}: \
         the plugin crate's name and version must be the ones its metadata gives",
        path.display()
    )]
    MetadataMismatch {
        /// The library.
        path: PathBuf,
        /// `name@version` from the header.
        header: String,
        /// `name@version` from `get-metadata`.
        metadata: String,
    },

    /// The plugin is disabled
    /// ([`NativePlugin::disable`](crate::NativePlugin::disable)).
    #[error("native plugin {plugin} is disabled")]
    Disabled {
        /// `name@version`.
        plugin: String,
    },

    /// The plugin's `init` refused its configuration.
    #[error("native plugin {plugin} refused to initialise: {message}")]
    Init {
        /// `name@version`.
        plugin: String,
        /// What its `init` returned.
        message: String,
    },

    /// Another library with the same plugin name and version, but other
    /// content, is open (Go's `plugin.Open` panics here).
    #[error("{0}")]
    Conflict(Box<Conflict>),

    /// The plugin returned a value that is not valid for its WIT type
    /// (e.g. a string that is not UTF-8).
    #[error("native plugin {plugin} returned an invalid value from `{export}`: {reason}")]
    InvalidResult {
        /// `name@version`.
        plugin: String,
        /// The export.
        export: String,
        /// What was wrong.
        reason: String,
    },

    /// A world read at run time that a dynamic host cannot serve
    /// ([`NativeLoader::open_dynamic`](crate::NativeLoader::open_dynamic)).
    #[error("world `{world}` cannot be called dynamically: {reason}")]
    UnsupportedWorld {
        /// `ns:pkg/world`.
        world: String,
        /// Why.
        reason: String,
    },

    /// No export of that name (dynamic calls), or a bare name that several
    /// interfaces export.
    #[error(
        "native plugin {plugin} has no export `{export}`{}",
        if candidates.is_empty() { String::new() } else { format!(" (it has: {})", candidates.join(", ")) }
    )]
    NoSuchExport {
        /// `name@version`.
        plugin: String,
        /// The name asked for.
        export: String,
        /// The exports it could mean, or all of them.
        candidates: Vec<String>,
    },

    /// An export that cannot be called dynamically (its parameters or
    /// result are resource handles).
    #[error("`{export}` of native plugin {plugin} cannot be called dynamically: {reason}")]
    UnsupportedExport {
        /// `name@version`.
        plugin: String,
        /// The export.
        export: String,
        /// Why.
        reason: String,
    },

    /// Arguments of a dynamic call that do not fit the export's
    /// parameters.
    #[error("invalid arguments for `{export}` of native plugin {plugin}: {reason}")]
    InvalidArgument {
        /// `name@version`.
        plugin: String,
        /// The export.
        export: String,
        /// What does not fit.
        reason: String,
    },
}
