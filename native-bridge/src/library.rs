//! Opening a native plugin library and checking its header.

#![allow(unsafe_code, reason = "loading native code and reading its header")]

use std::path::{Path, PathBuf};

use wasmplug_core::{Digest, PackageId, chain};

use crate::abi::{self, Header, Status, Str};
use crate::error::NativeError;

/// What the host expects of a plugin: the contract it was built against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected<'a> {
    /// `ns:pkg@1.2.3`.
    pub contract: &'a str,
    /// `ns:pkg/world`.
    pub world: &'a str,
    /// SHA-256 of the world's canonical description.
    pub wit_digest: Digest,
}

impl Expected<'_> {
    /// Whether `info`, the header of the library at `path`, is for this
    /// world: the same world, a semver-compatible contract, the same WIT
    /// digest (the last checks [`NativeLibrary::open`] makes).
    ///
    /// # Errors
    ///
    /// [`NativeError::Contract`], [`NativeError::WitDigest`].
    pub fn check(&self, path: &Path, info: &HeaderInfo) -> Result<(), NativeError> {
        if info.world != self.world || !PackageId::compatible(&info.contract, self.contract) {
            return Err(NativeError::Contract {
                path: path.to_owned(),
                found: info.contract.clone(),
                world: info.world.clone(),
                supported: self.contract.to_owned(),
                supported_world: self.world.to_owned(),
            });
        }
        if info.wit_digest != self.wit_digest {
            return Err(NativeError::WitDigest {
                path: path.to_owned(),
                contract: info.contract.clone(),
                found: info.wit_digest.to_hex(),
                expected: self.wit_digest.to_hex(),
            });
        }
        Ok(())
    }
}

/// A plugin's header, read and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderInfo {
    /// The contract it implements, `ns:pkg@1.2.3`.
    pub contract: String,
    /// Its world.
    pub world: String,
    /// SHA-256 of its world's canonical description.
    pub wit_digest: Digest,
    /// The target it was built for.
    pub target: String,
    /// The compiler it was built with.
    pub rustc: String,
    /// The plugin's name.
    pub name: String,
    /// The plugin's version.
    pub version: String,
}

/// A loaded native plugin library whose header matched the host's contract.
///
/// Native libraries are never unloaded: see the crate documentation for why.
#[derive(Debug)]
pub struct NativeLibrary {
    path: PathBuf,
    info: HeaderInfo,
    // Keeps the library mapped. Dropping a `NativeLibrary` does not unmap it
    // (see `open`).
    _library: &'static libloading::Library,
}

impl NativeLibrary {
    /// Loads the shared library at `path` and checks its header against
    /// `expected`, in the order the ABI specifies (magic, ABI version,
    /// target, contract, WIT digest). No plugin entry point runs.
    ///
    /// The library stays loaded for the life of the process, even when
    /// this value is dropped: code of a native library cannot be proven
    /// unused (a thread, a callback or a thread-local destructor may still
    /// point into it), and unmapping it under them crashes the host.
    ///
    /// # Safety
    ///
    /// Loading runs the library's initialisation routines (static
    /// constructors), with the host's privileges, before anything can be
    /// checked. The caller must trust `path` to be a library that either has
    /// no `WASMPLUG_HEADER` symbol or follows the wasmplug native ABI: a
    /// header that lies about its own layout cannot be detected.
    ///
    /// # Errors
    ///
    /// [`NativeError::Io`], [`NativeError::Load`], [`NativeError::NotAPlugin`],
    /// [`NativeError::BadMagic`], [`NativeError::AbiVersion`],
    /// [`NativeError::Target`], [`NativeError::Contract`],
    /// [`NativeError::WitDigest`], [`NativeError::MalformedHeader`].
    pub unsafe fn open(
        path: impl AsRef<Path>,
        expected: &Expected<'_>,
    ) -> Result<Self, NativeError> {
        let path = path.as_ref();
        let path = std::fs::canonicalize(path).map_err(|source| NativeError::Io {
            path: path.to_owned(),
            source,
        })?;
        // SAFETY: forwarded to the caller.
        unsafe { Self::open_copy(&path, &path, expected) }
    }

    /// [`open`](Self::open), loading the library from `copy` (a private
    /// copy of `path`'s bytes) while errors and [`path`](Self::path) name
    /// `path`.
    ///
    /// # Safety
    ///
    /// As [`open`](Self::open).
    pub(crate) unsafe fn open_copy(
        path: &Path,
        copy: &Path,
        expected: &Expected<'_>,
    ) -> Result<Self, NativeError> {
        let path = path.to_owned();
        // SAFETY: the caller accepts that the library's initialisers run.
        let library = unsafe { libloading::Library::new(copy) }.map_err(|e| NativeError::Load {
            path: path.clone(),
            reason: chain(&e),
        })?;
        // Never unloaded (see above): leaking the handle keeps it mapped.
        let library: &'static libloading::Library = Box::leak(Box::new(library));

        // SAFETY: we only take the symbol's address here; it is read below,
        // field by field, after the magic and size say it is a header.
        let symbol = unsafe { library.get::<*const Header>(abi::HEADER_SYMBOL.as_bytes()) };
        let Ok(symbol) = symbol else {
            return Err(NativeError::NotAPlugin { path });
        };
        let header: *const Header = *symbol;
        // SAFETY: a symbol named WASMPLUG_HEADER is, by the caller's
        // guarantee, either a wasmplug header or at least 16 readable bytes
        // of data we inspect before trusting it: magic (8), ABI version (4)
        // and header size (4) come first in every ABI version.
        let (magic, abi_version, header_size) = unsafe {
            (
                (*header).magic,
                (*header).abi_version,
                (*header).header_size,
            )
        };
        if magic != abi::MAGIC {
            return Err(NativeError::BadMagic { path });
        }
        if abi_version != abi::ABI_VERSION {
            return Err(NativeError::AbiVersion {
                path,
                found: abi_version,
                supported: abi::ABI_VERSION,
            });
        }
        if (header_size as usize) < std::mem::size_of::<Header>() {
            return Err(NativeError::MalformedHeader {
                path,
                what: crate::error::HEADER_SIZE,
            });
        }
        // SAFETY: magic, version and size say this is a version-1 header of
        // at least our size; its strings point into the library's static
        // data, which stays mapped (the library is never unloaded).
        let info =
            unsafe { read_header(&*header) }.map_err(|what| NativeError::MalformedHeader {
                path: path.clone(),
                what,
            })?;

        if info.target != abi::TARGET {
            return Err(NativeError::Target {
                path,
                found: info.target,
                host: abi::TARGET.to_owned(),
            });
        }
        expected.check(&path, &info)?;
        Ok(NativeLibrary {
            path,
            info,
            _library: library,
        })
    }

    /// The plugin's header.
    pub fn info(&self) -> &HeaderInfo {
        &self.info
    }

    /// The canonical path it was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The entry point of export `export` (`interface#function`), as a
    /// function pointer of type `F`.
    ///
    /// # Safety
    ///
    /// `F` must be the `extern "C"` function pointer type the ABI gives this
    /// export's signature (generated bindings guarantee it).
    ///
    /// # Errors
    ///
    /// [`NativeError::MissingEntryPoint`] naming the export and the symbol.
    pub unsafe fn entry<F: Copy>(&self, export: &str) -> Result<F, NativeError> {
        let symbol = abi::mangle(export);
        // SAFETY: the caller guarantees `F` is the entry point's type; the
        // library outlives the returned pointer (it is never unloaded).
        unsafe { self._library.get::<F>(symbol.as_bytes()) }
            .map(|s| *s)
            .map_err(|_| NativeError::MissingEntryPoint {
                path: self.path.clone(),
                export: export.to_owned(),
                symbol,
            })
    }

    /// The ABI symbol `name` (not mangled: `wasmplug_post_call`, …), as a
    /// function pointer of type `F`.
    ///
    /// # Safety
    ///
    /// `F` must be the type the ABI gives the symbol.
    ///
    /// # Errors
    ///
    /// [`NativeError::MissingEntryPoint`] naming the symbol.
    pub(crate) unsafe fn symbol<F: Copy>(&self, name: &str) -> Result<F, NativeError> {
        // SAFETY: the caller guarantees `F`; the library is never unloaded.
        unsafe { self._library.get::<F>(name.as_bytes()) }
            .map(|s| *s)
            .map_err(|_| NativeError::MissingEntryPoint {
                path: self.path.clone(),
                export: name.to_owned(),
                symbol: name.to_owned(),
            })
    }

    /// Turns an entry point's [`Status`] into a result: on
    /// [`Status::PANIC`], the panic message the plugin recorded (through
    /// [`LAST_ERROR_SYMBOL`](abi::LAST_ERROR_SYMBOL), on this thread) in a
    /// [`NativeError::Panic`] naming the plugin and `export`.
    ///
    /// # Errors
    ///
    /// [`NativeError::Panic`] for any status but [`Status::OK`].
    pub fn check(&self, status: Status, export: &str) -> Result<(), NativeError> {
        if status == Status::OK {
            return Ok(());
        }
        Err(self.failure(status, export))
    }

    /// The error for a call that returned `status` (not OK).
    #[cold]
    pub(crate) fn failure(&self, status: Status, export: &str) -> NativeError {
        let message = self
            .last_error()
            .unwrap_or_else(|| format!("status {}", status.0));
        NativeError::Panic {
            plugin: format!("{}@{}", self.info.name, self.info.version),
            export: export.to_owned(),
            message,
        }
    }

    fn last_error(&self) -> Option<String> {
        // SAFETY: the ABI gives `wasmplug_last_error` this type; the library
        // is never unloaded.
        let last_error = unsafe {
            self._library
                .get::<extern "C" fn() -> Str>(abi::LAST_ERROR_SYMBOL.as_bytes())
        }
        .ok()?;
        let message = last_error();
        // SAFETY: the plugin keeps the message alive until its next call on
        // this thread, and none happens before we copy it.
        unsafe { message.as_str() }.ok().map(str::to_owned)
    }
}

/// # Safety
///
/// Every `Str` in `header` must point to `len` readable bytes that outlive
/// the call.
unsafe fn read_header(header: &Header) -> Result<HeaderInfo, &'static str> {
    // SAFETY: guaranteed by the caller for every string of the header.
    let text =
        |s: &Str, what: &'static str| unsafe { s.as_str() }.map(str::to_owned).map_err(|_| what);
    Ok(HeaderInfo {
        contract: text(&header.contract, "contract")?,
        world: text(&header.world, "world")?,
        wit_digest: Digest::from_bytes(header.wit_digest),
        target: text(&header.target, "target")?,
        rustc: text(&header.rustc, "rustc")?,
        name: text(&header.plugin_name, "plugin name")?,
        version: text(&header.plugin_version, "plugin version")?,
    })
}
