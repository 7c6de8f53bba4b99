//! The two calling paths, sync and async: which one a contract is bound
//! for, and the linker that reads an async plugin's metadata synchronously.

use wasmtime::Engine;
use wasmtime::component::{Component, HasSelf, Linker};

use crate::bindings::wasmplug::plugin::log;
use crate::contract::Contract;
use crate::error::{Error, Result, chain};
use crate::state::PluginState;

/// The error for contract `C` opened on the other calling path.
pub(crate) fn calling_path<C: Contract>() -> Error {
    if C::ASYNC {
        Error::CallingPath {
            contract: C::PACKAGE.to_owned(),
            bound: "with async: true",
            instead: "Loader::open_async",
        }
    } else {
        Error::CallingPath {
            contract: C::PACKAGE.to_owned(),
            bound: "synchronously",
            instead: "Loader::open",
        }
    }
}

/// A linker for reading an async-contract plugin's metadata and
/// declaration synchronously: synchronous WASI and `log`, and every other
/// import of `component` (the contract's own) defined to trap.
pub(crate) fn probe_linker(engine: &Engine, component: &Component) -> Result<Linker<PluginState>> {
    let engine_err = |e: wasmtime::Error| Error::Engine { reason: chain(&e) };
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(engine_err)?;
    log::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut linker, |s| s)
        .map_err(engine_err)?;
    linker
        .define_unknown_imports_as_traps(component)
        .map_err(engine_err)?;
    Ok(linker)
}
