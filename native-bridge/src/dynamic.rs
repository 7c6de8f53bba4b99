//! Native plugins of a world known only at run time (read from WIT, not
//! compiled in): [`DynamicNativePlugin`], what `wasmplug call` uses on a
//! native library. Arguments and results are WAVE values; each call goes
//! through the export's dynamic entry point (see the ABI), with the values
//! laid out as the generated code lays them out.

#![allow(unsafe_code, reason = "calling into native plugin code")]

use std::ffi::c_void;
use std::fmt;
use std::path::Path;

use wasm_wave::value::{FuncType, Type, Value};
use wasm_wave::wasm::WasmFunc;
use wasmplug_core::{Digest, Metadata};
use wasmplug_native_wit::{AbiWorld, BASE, LOG};
use wit_parser::{FunctionKind, Resolve, WorldId};

use crate::abi::{self, Status, Str};
use crate::error::NativeError;
use crate::imports::ImportContext;
use crate::library::{Expected, NativeLibrary};
use crate::loader::{NativeLoader, load};
use crate::plugin::{PostCall, Shutdown};

mod layout;

use layout::{Arena, aligned, layout};

type DynamicEntry = unsafe extern "C" fn(args: *const *const c_void, out: *mut c_void) -> Status;

/// A native plugin opened against a world read at run time
/// ([`NativeLoader::open_dynamic`]), called by export name with WAVE
/// values.
///
/// Unlike [`NativePlugin`](crate::NativePlugin), each open loads its own
/// copy of the library and runs `init` (nothing is shared with other opens
/// of the same file). Calls are not serialised: plugin code runs on the
/// calling thread. When it is dropped the plugin's `shutdown` runs.
pub struct DynamicNativePlugin {
    library: NativeLibrary,
    metadata: Metadata,
    label: String,
    digest: Digest,
    post_call: PostCall,
    shutdown: Shutdown,
    exports: Vec<DynamicExport>,
}

/// An export of a [`DynamicNativePlugin`]: its name, and its type when it
/// can be called dynamically.
#[derive(Clone)]
pub struct DynamicExport {
    name: String,
    ty: Result<Signature, String>,
    entry: Option<DynamicEntry>,
}

/// An export's type, with each parameter's and the result's type and
/// lowered size: worked out once, when the world is read.
#[derive(Clone)]
struct Signature {
    ty: FuncType,
    params: Vec<(Type, usize)>,
    result: Option<(Type, usize)>,
}

impl Signature {
    fn new(ty: FuncType) -> Result<Signature, String> {
        let sized = |t: Type| layout(&t).map(|l| (t, l.size));
        let params = ty.params().map(sized).collect::<Result<_, _>>()?;
        let result = ty.results().next().map(sized).transpose()?;
        Ok(Signature { ty, params, result })
    }
}

impl DynamicExport {
    /// `ns:pkg/iface#function` (without the interface's version, as the
    /// native ABI names exports).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its type, or why it cannot be called dynamically (resource handles).
    ///
    /// # Errors
    ///
    /// The reason, as text.
    pub fn ty(&self) -> Result<&FuncType, &str> {
        self.ty.as_ref().map(|s| &s.ty).map_err(String::as_str)
    }
}

/// A world read from WIT, as the native ABI sees it: what the header of a
/// library built for it says (contract, world, WIT digest) and its exports.
/// [`NativeLoader::open_dynamic`] opens a library against one;
/// [`expected`](Self::expected) checks a header read without loading the
/// library ([`read_header`](crate::read_header)).
#[derive(Debug, Clone)]
pub struct WitWorld {
    contract: String,
    world: String,
    wit_digest: Digest,
    exports: Vec<DynamicExport>,
}

impl WitWorld {
    /// Reads `world` of `resolve`.
    ///
    /// # Errors
    ///
    /// [`NativeError::UnsupportedWorld`] for a world the native ABI cannot
    /// name (inline interfaces, world-level functions).
    pub fn read(resolve: &Resolve, world: WorldId) -> Result<WitWorld, NativeError> {
        let abi = AbiWorld::new(resolve, world);
        let unsupported = |reason: String| NativeError::UnsupportedWorld {
            world: abi.world_name(),
            reason,
        };
        let wit_digest = abi.digest().map_err(unsupported)?;
        let mut exports = Vec::new();
        for f in abi.functions(true).map_err(unsupported)? {
            if abi.iface_id(f.iface) == BASE {
                continue;
            }
            let handles = matches!(f.func.kind, FunctionKind::Method(_))
                || f.func
                    .params
                    .iter()
                    .map(|p| &p.ty)
                    .chain(&f.func.result)
                    .any(|t| abi.handle(t).is_some());
            let ty = abi
                .check_function(&f)
                .and_then(|()| {
                    if handles {
                        Err("resource handles cannot be passed in a dynamic call".to_owned())
                    } else {
                        wasm_wave::value::resolve_wit_func_type(resolve, f.func)
                            .map_err(|e| e.to_string())
                    }
                })
                // Every type must have a lowered layout.
                .and_then(Signature::new);
            exports.push(DynamicExport {
                name: abi.export_name(&f),
                ty,
                entry: None,
            });
        }
        Ok(WitWorld {
            contract: abi.contract(),
            world: abi.world_name(),
            wit_digest: Digest::from_bytes(wit_digest),
            exports,
        })
    }

    /// `ns:pkg@1.2.3`.
    pub fn contract(&self) -> &str {
        &self.contract
    }

    /// `ns:pkg/world`.
    pub fn world(&self) -> &str {
        &self.world
    }

    /// SHA-256 of the world's canonical description.
    pub fn wit_digest(&self) -> Digest {
        self.wit_digest
    }

    /// What a library's header must say to be for this world
    /// ([`Expected::check`]).
    pub fn expected(&self) -> Expected<'_> {
        Expected {
            contract: &self.contract,
            world: &self.world,
            wit_digest: self.wit_digest,
        }
    }

    /// Every export but the base lifecycle, in world order, with its type
    /// or why it cannot be called dynamically.
    pub fn exports(&self) -> &[DynamicExport] {
        &self.exports
    }

    fn unsupported(&self, reason: String) -> NativeError {
        NativeError::UnsupportedWorld {
            world: self.world.clone(),
            reason,
        }
    }
}

/// The import table of a world that imports nothing but logging (see the
/// ABI): the context, the host's `last_error`, and `log`.
#[repr(C)]
struct LogTable {
    ctx: *const c_void,
    last_error: extern "C" fn() -> Str,
    log: unsafe extern "C" fn(*const c_void, u32, Str) -> Status,
}

impl NativeLoader {
    /// Opens the native plugin library at `path` for `world` of `resolve`
    /// (read from WIT at run time): checks its header against the world's
    /// contract and WIT digest, as [`open`](Self::open) does for a world
    /// compiled in, finds every export's dynamic entry point, hands it
    /// logging as its only import, and runs its `init` with this
    /// configuration.
    ///
    /// # Safety
    ///
    /// As [`open`](Self::open): the caller trusts the library's code.
    ///
    /// # Errors
    ///
    /// [`NativeError::UnsupportedWorld`] when the world imports anything
    /// but `wasmplug:plugin/log` or cannot be read as the native ABI reads
    /// it; every error of [`open`](Self::open) but
    /// [`Conflict`](NativeError::Conflict); [`NativeError::MissingEntryPoint`]
    /// naming a dynamic entry point when the library was built before they
    /// existed.
    pub unsafe fn open_dynamic(
        &self,
        path: impl AsRef<Path>,
        resolve: &Resolve,
        world: WorldId,
    ) -> Result<DynamicNativePlugin, NativeError> {
        let wit = WitWorld::read(resolve, world)?;
        let abi = AbiWorld::new(resolve, world);
        for f in abi
            .functions(false)
            .map_err(|reason| wit.unsupported(reason))?
        {
            if abi.iface_id(f.iface) != LOG || f.func.name != "log" {
                return Err(wit.unsupported(format!(
                    "it imports `{}`, and a dynamic host provides only `{LOG}`",
                    abi.export_name(&f)
                )));
            }
        }
        let mut exports = wit.exports.clone();

        let (source, bytes, digest) = self.read(path.as_ref())?;
        let expected = wit.expected();
        let resolve_entries = |library: &NativeLibrary| {
            for export in exports.iter_mut().filter(|e| e.ty.is_ok()) {
                // SAFETY: the header matched the world, whose exports have
                // dynamic entry points of this type (the ABI).
                export.entry = Some(unsafe { library.dynamic_entry(&export.name) }?);
            }
            Ok(())
        };
        let table = |label: &str| {
            let ctx = ImportContext::leak(label, ());
            let table = LogTable {
                ctx: std::ptr::from_ref(ctx).cast(),
                last_error: crate::imports::last_error,
                log: crate::imports::log,
            };
            // A world that does not import `log` reads only the first two.
            std::ptr::from_ref(Box::leak(Box::new(table))).cast()
        };
        // SAFETY: forwarded to the caller; the entries and the table are
        // the ABI's for any library whose header matches `expected`.
        let loaded = unsafe { load(&source, &bytes, digest, &expected, resolve_entries, table) }?;
        // SAFETY: `load` checked it.
        unsafe { self.init(&loaded) }?;
        Ok(DynamicNativePlugin {
            label: loaded.metadata.to_string(),
            library: loaded.library,
            metadata: loaded.metadata,
            digest: loaded.digest,
            post_call: loaded.post_call,
            shutdown: loaded.shutdown,
            exports,
        })
    }
}

impl DynamicNativePlugin {
    /// The plugin's metadata (from its `get-metadata`).
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// `name@version`.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// SHA-256 of the library file.
    pub fn digest(&self) -> Digest {
        self.digest
    }

    /// The loaded library and its header.
    pub fn library(&self) -> &NativeLibrary {
        &self.library
    }

    /// Every export of the world but the base lifecycle, in world order.
    pub fn exports(&self) -> &[DynamicExport] {
        &self.exports
    }

    /// The export `name` refers to: its full name (`ns:pkg/iface#f`, the
    /// interface's `@version` allowed), or a bare function name that only
    /// one exported interface has.
    ///
    /// # Errors
    ///
    /// [`NativeError::NoSuchExport`] with the exports it could mean.
    pub fn resolve(&self, name: &str) -> Result<&DynamicExport, NativeError> {
        let wanted = without_version(name);
        let matching: Vec<&DynamicExport> = if wanted.contains('#') {
            self.exports.iter().filter(|e| e.name == wanted).collect()
        } else {
            self.exports
                .iter()
                .filter(|e| e.name.rsplit_once('#').is_some_and(|(_, f)| f == wanted))
                .collect()
        };
        match matching.as_slice() {
            [one] => Ok(one),
            _ => Err(NativeError::NoSuchExport {
                plugin: self.label.clone(),
                export: name.to_owned(),
                candidates: if matching.is_empty() {
                    self.exports.iter().map(|e| e.name.clone()).collect()
                } else {
                    matching.iter().map(|e| e.name.clone()).collect()
                },
            }),
        }
    }

    /// Calls `export` with `args` (values of its parameter types) and
    /// returns its result, if it has one.
    ///
    /// # Errors
    ///
    /// [`NativeError::UnsupportedExport`] for an export that cannot be
    /// called dynamically; [`NativeError::InvalidArgument`] when `args` do
    /// not fit its parameters; [`NativeError::Panic`] when the plugin
    /// panics; [`NativeError::InvalidResult`] for a result that is not
    /// valid for its type.
    pub fn call(
        &self,
        export: &DynamicExport,
        args: &[Value],
    ) -> Result<Option<Value>, NativeError> {
        let name = &export.name;
        // Only this plugin's exports have its entry points.
        let entry = match export.entry {
            Some(entry) if self.exports.iter().any(|e| std::ptr::eq(e, export)) => entry,
            _ => {
                return Err(match &export.ty {
                    Err(reason) => NativeError::UnsupportedExport {
                        plugin: self.label.clone(),
                        export: name.clone(),
                        reason: reason.clone(),
                    },
                    Ok(_) => NativeError::NoSuchExport {
                        plugin: self.label.clone(),
                        export: name.clone(),
                        candidates: Vec::new(),
                    },
                });
            }
        };
        let Ok(sig) = &export.ty else {
            unreachable!("an export with an entry point has a type")
        };
        let invalid = |reason: String| NativeError::InvalidArgument {
            plugin: self.label.clone(),
            export: name.clone(),
            reason,
        };
        if sig.params.len() != args.len() {
            return Err(invalid(format!(
                "{} arguments given, it takes {}",
                args.len(),
                sig.params.len()
            )));
        }
        let mut arena = Arena::default();
        let mut lowered = Vec::with_capacity(args.len());
        for (i, ((t, size), v)) in sig.params.iter().zip(args).enumerate() {
            let mut bytes = vec![0; *size];
            layout::lower(t, v, &mut bytes, &mut arena)
                .map_err(|e| invalid(format!("argument {}: {e}", i + 1)))?;
            lowered.push(aligned(&bytes));
        }
        let pointers: Vec<*const c_void> = lowered.iter().map(|b| b.as_ptr().cast()).collect();
        let size = sig.result.as_ref().map_or(0, |(_, size)| *size);
        let mut out = vec![0u64; size.div_ceil(8).max(1)];
        // SAFETY: the export's dynamic entry point (its header matched the
        // world), with one pointer per parameter to its lowered value (kept
        // alive, with what it points to, by `lowered` and `arena`), and an
        // `out` large and aligned enough for the lowered result.
        let status = unsafe { entry(pointers.as_ptr(), out.as_mut_ptr().cast()) };
        if status != Status::OK {
            return Err(self.library.failure(status, name));
        }
        let Some((t, _)) = &sig.result else {
            return Ok(None);
        };
        let bytes: Vec<u8> = out.iter().flat_map(|w| w.to_ne_bytes()).collect();
        // SAFETY: on OK the plugin wrote its lowered result to `out`; what
        // it points to stays valid until post-call, which runs next.
        let value = unsafe { layout::lift(t, &bytes[..size]) };
        // SAFETY: the ABI's post-call, on the thread that made the call.
        unsafe { (self.post_call)() };
        value
            .map(Some)
            .map_err(|reason| NativeError::InvalidResult {
                plugin: self.label.clone(),
                export: name.clone(),
                reason,
            })
    }
}

/// `ns:pkg/iface@1.2.3#f` as the native ABI names it, `ns:pkg/iface#f`.
fn without_version(name: &str) -> String {
    match (name.find('@'), name.find('#')) {
        (Some(at), Some(hash)) if at < hash => format!("{}{}", &name[..at], &name[hash..]),
        _ => name.to_owned(),
    }
}

impl fmt::Debug for DynamicExport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("DynamicExport");
        d.field("name", &self.name);
        match &self.ty {
            Ok(sig) => d.field("ty", &sig.ty.to_string()),
            Err(reason) => d.field("unsupported", reason),
        };
        d.finish()
    }
}

impl fmt::Debug for DynamicNativePlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DynamicNativePlugin")
            .field("plugin", &self.label)
            .field("path", &self.library.path())
            .finish_non_exhaustive()
    }
}

impl Drop for DynamicNativePlugin {
    fn drop(&mut self) {
        // SAFETY: the ABI's `shutdown`, once, after the last call.
        let status = unsafe { (self.shutdown)() };
        if let Err(e) = self.library.check(status, &format!("{BASE}#shutdown")) {
            tracing::warn!(target: "wasmplug", plugin = &*self.label, "shutdown failed: {e}");
        }
    }
}

impl NativeLibrary {
    /// The dynamic entry point of export `export` (see the ABI).
    ///
    /// # Safety
    ///
    /// The library's header matched a world that exports `export`.
    unsafe fn dynamic_entry(&self, export: &str) -> Result<DynamicEntry, NativeError> {
        let symbol = abi::dynamic_symbol(export);
        // SAFETY: the ABI gives the symbol this type (the caller's
        // guarantee).
        unsafe { self.symbol::<DynamicEntry>(&symbol) }.map_err(|_| {
            NativeError::MissingEntryPoint {
                path: self.path().to_owned(),
                export: export.to_owned(),
                symbol,
            }
        })
    }
}
