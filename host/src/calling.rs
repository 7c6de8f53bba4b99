//! The two calling paths, sync and async: which one a contract is bound
//! for, and the linker that reads an async plugin's metadata synchronously.

use wasmtime::Engine;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, HasSelf, Linker, LinkerInstance, ResourceType};

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

/// A linker that runs an async-contract plugin synchronously (to read its
/// metadata and declaration, and to run `init` for a snapshot):
/// synchronous WASI and `log`, and every other import of `component` (the
/// contract's own, which are async) defined to trap.
///
/// Not `Linker::define_unknown_imports_as_traps`: it stubs by exact name,
/// so a WASI import of another 0.2.x version than wasmtime-wasi's (which
/// the linker would resolve by semver) would be stubbed too.
pub(crate) fn probe_linker(engine: &Engine, component: &Component) -> Result<Linker<PluginState>> {
    let engine_err = |e: wasmtime::Error| Error::Engine { reason: chain(&e) };
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(engine_err)?;
    log::add_to_linker::<PluginState, HasSelf<PluginState>>(&mut linker, |s| s)
        .map_err(engine_err)?;
    stub_contract_imports(engine, &mut linker, component, &|path| {
        format!(
            "`{path}` is one of the contract's own (async) imports, which a plugin \
             cannot call while it runs synchronously (reading its metadata, or `init` \
             for a snapshot)"
        )
    })
    .map_err(engine_err)?;
    Ok(linker)
}

/// Defines every import of `component` other than WASI and the base
/// contract's as functions that trap with `why(path)`, resources that
/// cannot be made, and instances of those.
pub(crate) fn stub_contract_imports(
    engine: &Engine,
    linker: &mut Linker<PluginState>,
    component: &Component,
    why: &dyn Fn(&str) -> String,
) -> wasmtime::Result<()> {
    for (name, item) in component.component_type().imports(engine) {
        if name.starts_with("wasi:") || name.starts_with("wasmplug:plugin/") {
            continue;
        }
        stub(engine, &mut linker.root(), name, name, item.ty, why)?;
    }
    Ok(())
}

/// Defines `item` (named `name`, `path` in messages) as functions that
/// trap, resources that cannot be made, and instances of those.
fn stub(
    engine: &Engine,
    linker: &mut LinkerInstance<'_, PluginState>,
    name: &str,
    path: &str,
    item: ComponentItem,
    why: &dyn Fn(&str) -> String,
) -> wasmtime::Result<()> {
    match item {
        ComponentItem::ComponentFunc(_) => {
            let what = why(path);
            linker.func_new(name, move |_, _, _, _| Err(wasmtime::format_err!("{what}")))
        }
        ComponentItem::ComponentInstance(instance) => {
            let mut inner = linker.instance(name)?;
            for (export, item) in instance.exports(engine) {
                stub(
                    engine,
                    &mut inner,
                    export,
                    &format!("{path}#{export}"),
                    item.ty,
                    why,
                )?;
            }
            Ok(())
        }
        ComponentItem::Resource(_) => {
            linker.resource(name, ResourceType::host::<()>(), |_, _| Ok(()))
        }
        _ => Ok(()),
    }
}
