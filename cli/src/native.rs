//! `call` and `bench` on a native plugin library: through the world of the
//! WIT given with `--wit` (a library carries only its world's digest, not
//! its WIT), with WAVE values as for a component.

use std::path::{Path, PathBuf};

use clap::Args;
use wasmplug::wasmtime::component::wasm_wave;
use wasmplug::wasmtime::component::wasm_wave::untyped::UntypedFuncCall;
use wasmplug::wasmtime::component::wasm_wave::value::Value;
use wasmplug::wasmtime::component::wasm_wave::wasm::WasmFunc;
use wasmplug_native::{DynamicExport, DynamicNativePlugin, NativeLoader};
use wit_parser::Resolve;

use crate::call::{PluginOptions, split_call};
use crate::failure::{Failure, Outcome};

/// Where a native library's world comes from.
#[derive(Debug, Args)]
pub(crate) struct WitOptions {
    /// For a native library: the WIT of its world, a directory (with its
    /// `deps/`) or a `.wit` file; repeatable, the world's package last.
    #[arg(long = "wit", value_name = "PATH")]
    wit: Vec<PathBuf>,
    /// The world in the last `--wit` package, when it has several.
    #[arg(long = "world", value_name = "NAME")]
    world: Option<String>,
}

/// A native library opened for one export, with its parsed arguments.
pub(crate) struct NativeCall {
    plugin: DynamicNativePlugin,
    export: usize,
    args: Vec<Value>,
}

impl NativeCall {
    /// Opens `path` through the `--wit` world, runs its `init` with the
    /// settings of `options` and parses `expression` against its export.
    pub(crate) fn open(
        path: &Path,
        expression: &str,
        wit: &WitOptions,
        options: &PluginOptions,
    ) -> Outcome<NativeCall> {
        if let Some(flag) = options.sandbox_flag() {
            return Err(Failure::usage(format!(
                "{flag} does not apply to a native library: its code runs in this process, \
                 with this process's privileges and no limits"
            )));
        }
        let (resolve, world) = wit.world()?;
        let mut loader = NativeLoader::new();
        for (k, v) in options.config() {
            loader = loader.config(k, v);
        }
        // SAFETY: the user asked to run this library's code.
        #[allow(unsafe_code, reason = "running a native library is what was asked")]
        let plugin = unsafe { loader.open_dynamic(path, &resolve, world) }?;
        let (name, source) = split_call(expression);
        let export = plugin.resolve(name.trim())?;
        let ty = export.ty().map_err(|reason| {
            Failure::bad_plugin(format!(
                "`{}` cannot be called dynamically: {reason}",
                export.name()
            ))
        })?;
        let text = format!("f{source}");
        let parsed = UntypedFuncCall::parse(&text)
            .map_err(|e| Failure::usage(format!("cannot parse the arguments `{source}`: {e}")))?;
        let types: Vec<_> = ty.params().collect();
        let args = parsed.to_wasm_params::<Value>(types.iter()).map_err(|e| {
            Failure::usage(format!(
                "the arguments do not fit `{}: {ty}`: {e}",
                export.name()
            ))
        })?;
        let index = plugin
            .exports()
            .iter()
            .position(|e| e.name() == export.name())
            .expect("a resolved export is one of them");
        Ok(NativeCall {
            plugin,
            export: index,
            args,
        })
    }

    /// The export's full name.
    pub(crate) fn export(&self) -> &DynamicExport {
        &self.plugin.exports()[self.export]
    }

    /// One call; its result as WAVE (empty without one).
    pub(crate) fn call(&self) -> Outcome<String> {
        let result = self.plugin.call(self.export(), &self.args)?;
        result.map_or_else(
            || Ok(String::new()),
            |v| {
                wasm_wave::to_string(&v)
                    .map_err(|e| Failure::other(format!("cannot print a result as WAVE: {e}")))
            },
        )
    }
}

impl WitOptions {
    /// `--wit` and `--world` are for native libraries only: refused for a
    /// component (which carries its WIT) rather than ignored.
    pub(crate) fn refuse_for_component(&self) -> Outcome {
        if self.wit.is_empty() && self.world.is_none() {
            return Ok(());
        }
        Err(Failure::usage(
            "--wit and --world are for a native library: a component carries its own WIT",
        ))
    }

    /// Whether `--wit` was given.
    pub(crate) fn given(&self) -> bool {
        !self.wit.is_empty()
    }

    /// The world the `--wit` packages give.
    pub(crate) fn world(&self) -> Outcome<(Resolve, wit_parser::WorldId)> {
        if self.wit.is_empty() {
            return Err(Failure::usage(
                "a native library carries only its world's digest, not its WIT: give the \
                 world's WIT with --wit DIR (the plugin's `wit/` directory)",
            ));
        }
        let mut resolve = Resolve::default();
        let mut last = None;
        for path in &self.wit {
            let (package, _) = resolve.push_path(path).map_err(|e| {
                Failure::usage(format!("cannot read the WIT at {}: {e:#}", path.display()))
            })?;
            last = Some(package);
        }
        let packages: Vec<_> = last.into_iter().collect();
        let world = resolve
            .select_world(&packages, self.world.as_deref())
            .map_err(|e| Failure::usage(format!("{e:#} (name one with --world)")))?;
        Ok((resolve, world))
    }
}
