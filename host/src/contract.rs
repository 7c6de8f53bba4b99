//! Contracts: the WIT worlds plugins implement, bound to Rust types.

use wasmtime::component::{Component, Instance, InstancePre, Linker};
use wasmtime::{Engine, Store};

use crate::error::{Error, Origin, Result, chain};
use crate::signature::exported_funcs;
use crate::state::PluginState;
use wasmplug_core::PackageId;

/// A WIT world that plugins implement and the host calls, bound to the Rust
/// types wasmtime's `bindgen!` generated for it.
///
/// The world must `include wasmplug:plugin/base@1.0.0` (the metadata and
/// lifecycle every plugin exports). Everything else — loading, the contract
/// version check, instantiate-once, typed calls, typed errors — comes from
/// the runtime for any world.
///
/// Implement it with the [`contract!`](crate::contract!) macro, which runs
/// `bindgen!` and writes this impl, or by hand around your own `bindgen!`
/// output (`Exports` is the world's struct, `Indices` its `…Indices`).
pub trait Contract: Send + Sync + 'static {
    /// The WIT package and version the host was built against, e.g.
    /// `wasmplug:demo@1.0.0`. Plugins exporting this package at a
    /// semver-compatible version are accepted; other versions are refused
    /// with [`Error::UnsupportedContract`](crate::Error::UnsupportedContract).
    const PACKAGE: &'static str;

    /// Whether the contract is bound with async exports and async host
    /// imports (`contract!`'s `async: true`, i.e. `bindgen!`'s
    /// `imports: { default: async }, exports: { default: async }`). Such
    /// plugins are opened with [`Loader::open_async`](crate::Loader::open_async)
    /// and called with [`AsyncPlugin::call_async`](crate::AsyncPlugin::call_async);
    /// WASI is added to their linker with wasmtime-wasi's async functions.
    /// Default: `false`.
    const ASYNC: bool = false;

    /// The typed exports of one instance (`bindgen!`'s world struct).
    type Exports: Send + Sync + 'static;

    /// Export indices resolved once per plugin (`bindgen!`'s `…Indices`).
    type Indices: Send + Sync + 'static;

    /// Adds the contract's own host imports to `linker`. WASI and the base
    /// contract's `log` import are already there. The default adds nothing.
    ///
    /// # Errors
    ///
    /// Whatever defining the imports reports (e.g. a name defined twice).
    fn add_to_linker(linker: &mut Linker<PluginState>) -> wasmtime::Result<()> {
        let _ = linker;
        Ok(())
    }

    /// Resolves the contract's exports in a pre-instantiated component.
    ///
    /// # Errors
    ///
    /// When an export the world requires is missing.
    fn indices(pre: &InstancePre<PluginState>) -> wasmtime::Result<Self::Indices>;

    /// Loads the typed exports of a fresh instance.
    ///
    /// # Errors
    ///
    /// When an export has another type than the world says.
    fn load(
        indices: &Self::Indices,
        store: &mut Store<PluginState>,
        instance: &Instance,
    ) -> wasmtime::Result<Self::Exports>;
}

/// Binds a WIT world to a [`Contract`] type: runs wasmtime's `bindgen!` for
/// it into a module and implements [`Contract`] for a new unit struct.
///
/// ```no_run
/// wasmplug::contract! {
///     /// Our gateway's request filters.
///     pub struct Filters {
///         world: "wasmplug:gateway/gateway-filter",
///         path: ["wit/plugin", "../wit/gateway"],
///         bindings: filters::{GatewayFilter, GatewayFilterIndices},
///         derives: [PartialEq],
///     }
/// }
///
/// # fn main() -> Result<(), wasmplug::Error> {
/// let runtime = wasmplug::Runtime::new()?;
/// let plugin = runtime.open::<Filters>("auth-filter.wasm")?;
/// # Ok(())
/// # }
/// ```
///
/// The contract's package and version ([`Contract::PACKAGE`], what plugins
/// are checked against) are read from the WIT at compile time: the package
/// of the interfaces the world exports (its own package, or the one other
/// package it exports interfaces of). `package: "ns:name@x.y.z"` (optional,
/// first) states it as well, and must agree: a typo is a compile error
/// naming both, never a contract that refuses every plugin at run time.
///
/// ```compile_fail
/// wasmplug::contract! {
///     pub struct Filters {
///         package: "wasmplug:gateway@2.0.0", // the WIT says 1.0.0
///         world: "wasmplug:gateway/gateway-filter",
///         path: ["wit/plugin", "../wit/gateway"],
///         bindings: filters::{GatewayFilter, GatewayFilterIndices},
///     }
/// }
/// ```
///
/// `path` (one directory as a string, or a list of them) is relative to
/// the calling crate's `Cargo.toml`, and must reach
/// `wasmplug:plugin` (the base contract) as well as the world's package.
/// `bindings` names the module to generate and, inside it, the world's
/// struct and its `…Indices` (the world's name in UpperCamelCase).
/// `imports` (optional) lists the world's own imported interfaces, by their
/// module path inside `bindings`; their generated `Host` traits must be
/// implemented for [`PluginState`](crate::PluginState). `derives`
/// (optional) adds derives to every generated type, e.g. `[PartialEq]`.
/// `with` (optional, after `imports`) reuses bindings generated elsewhere
/// for some interfaces, as `bindgen!`'s option of that name does:
/// `with: { "ns:pkg/types": crate::sync_bindings::ns::pkg::types }` makes
/// the types of `ns:pkg/types` the ones another `contract!` generated, so
/// that one value serves a contract bound twice (sync and async) and the
/// native backend.
/// `async: true` (optional, after `bindings`) binds the world with async
/// exports and async host imports (the `Host` traits then have `async fn`s
/// that may await real I/O); such a contract is opened with
/// [`Loader::open_async`](crate::Loader::open_async) (see
/// [`AsyncPlugin`](crate::AsyncPlugin)).
/// The generated module reuses wasmplug's own binding of the `log` import.
/// The calling crate must depend on this crate under the name `wasmplug`.
#[macro_export]
macro_rules! contract {
    (
        $(#[$meta:meta])*
        $vis:vis struct $name:ident {
            $(package: $package:literal,)?
            world: $world:literal,
            path: $path:tt,
            bindings: $module:ident :: { $exports:ident, $indices:ident }
            $(, async: $async:tt)?
            $(, imports: [$($($import:ident)::+),* $(,)?])?
            $(, with: { $($with_name:literal : $($with_path:ident)::+),* $(,)? })?
            $(, derives: [$($derive:path),* $(,)?])? $(,)?
        }
    ) => {
        #[allow(missing_docs, unreachable_pub, reason = "generated by bindgen!")]
        $vis mod $module {
            $crate::__contract_bindgen!([$($async)?] {
                path: $path,
                world: $world,
                wasmtime_crate: ::wasmplug::wasmtime,
                with: {
                    "wasmplug:plugin/log": ::wasmplug::__private::log,
                    $($($with_name: $($with_path)::+,)*)?
                },
                $(additional_derives: [$($derive),*],)?
            });
        }

        $(#[$meta])*
        #[derive(Debug, Clone, Copy)]
        $vis struct $name;

        impl $crate::Contract for $name {
            const PACKAGE: &'static str = $crate::__private::contract_package!(
                world: $world,
                path: $path
                $(, package: $package)?
            );
            const ASYNC: bool = $crate::__contract_bindgen!(@async [$($async)?]);
            type Exports = $module::$exports;
            type Indices = $module::$indices;

            fn add_to_linker(
                linker: &mut $crate::wasmtime::component::Linker<$crate::PluginState>,
            ) -> $crate::wasmtime::Result<()> {
                let _ = &linker;
                $($(
                    $module $(:: $import)+ ::add_to_linker::<
                        $crate::PluginState,
                        $crate::wasmtime::component::HasSelf<$crate::PluginState>,
                    >(linker, |state| state)?;
                )*)?
                Ok(())
            }

            fn indices(
                pre: &$crate::wasmtime::component::InstancePre<$crate::PluginState>,
            ) -> $crate::wasmtime::Result<Self::Indices> {
                $module::$indices::new(pre)
            }

            fn load(
                indices: &Self::Indices,
                store: &mut $crate::wasmtime::Store<$crate::PluginState>,
                instance: &$crate::wasmtime::component::Instance,
            ) -> $crate::wasmtime::Result<Self::Exports> {
                indices.load(store, instance)
            }
        }
    };
}

/// `contract!`'s `bindgen!` call, with the async options when asked for.
#[doc(hidden)]
#[macro_export]
macro_rules! __contract_bindgen {
    (@async [true]) => { true };
    (@async [false]) => { false };
    (@async []) => { false };
    ([true] { $($options:tt)* }) => {
        $crate::wasmtime::component::bindgen!({
            $($options)*
            imports: { default: async },
            exports: { default: async },
        });
    };
    ([$(false)?] { $($options:tt)* }) => {
        $crate::wasmtime::component::bindgen!({ $($options)* });
    };
}

/// The base contract every plugin implements.
pub(crate) const BASE_PACKAGE: &str = "wasmplug:plugin@1.0.0";

/// Checks that the component exports `package` at a version compatible with
/// the one the host was built against.
pub(crate) fn check_package(
    engine: &Engine,
    origin: &Origin,
    component: &Component,
    package: &str,
) -> Result<()> {
    let host = PackageId::parse(package)
        .unwrap_or_else(|| panic!("contract package `{package}` is not `ns:name@semver`"));
    let ty = component.component_type();
    let mut names = Vec::new();
    let mut found = false;
    for (name, _) in ty.exports(engine) {
        names.push(name.to_owned());
        let Some(id) = PackageId::parse(name) else {
            continue;
        };
        if id.name != host.name {
            continue;
        }
        if !id.serves(&host) {
            return Err(Error::UnsupportedContract {
                origin: origin.clone(),
                found: name.to_owned(),
                supported: package.to_owned(),
            });
        }
        found = true;
    }
    if found {
        Ok(())
    } else {
        Err(Error::NotImplemented {
            origin: origin.clone(),
            contract: package.to_owned(),
            exports: if names.is_empty() {
                "nothing".into()
            } else {
                names.join(", ")
            },
        })
    }
}

/// wasmtime's type-check error says what differs (`expected `s64` found
/// `s32``) but not in which function: name the contract's functions whose
/// signature in the plugin has the type found, so the author can find it.
pub(crate) fn explain_mismatch<C: Contract>(
    engine: &Engine,
    component: &Component,
    err: &wasmtime::Error,
) -> String {
    let message = chain(err);
    let Some(found) = message
        .rsplit_once("found `")
        .and_then(|(_, rest)| rest.split_once('`'))
        .map(|(t, _)| t)
    else {
        return message;
    };
    let package = PackageId::parse(C::PACKAGE)
        .map(|p| p.name)
        .unwrap_or_default();
    let suspects: Vec<String> = exported_funcs(engine, &component.component_type())
        .into_iter()
        .filter(|f| {
            let interface = f.name.split_once('#').map_or(f.name.as_str(), |(i, _)| i);
            PackageId::parse(interface).is_some_and(|p| p.name == package)
        })
        .filter(|f| {
            f.signature
                .split(|c: char| !(c.is_alphanumeric() || c == '-'))
                .any(|word| word == found)
        })
        .map(|f| format!("`{}`: {}", f.name, f.signature))
        .collect();
    if suspects.is_empty() {
        message
    } else {
        format!(
            "{message} (the plugin's functions with `{found}`: {})",
            suspects.join("; ")
        )
    }
}
