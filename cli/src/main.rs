//! `wasmplug`, the command line of the wasmplug plugin runtime: look
//! inside a plugin, call one export, start and build a plugin crate, fill
//! and prune the precompiled cache, time calls. Works for any contract:
//! it reads the contract from the plugin.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cache;
mod call;
mod failure;
mod inspect;
mod native;
mod scaffold;
mod units;

use failure::{EXIT_CODES_HELP, Outcome};

/// Inspect, call, compile and bench wasmplug plugins (Wasm components and
/// native libraries), whatever their contract.
#[derive(Debug, Parser)]
#[command(name = "wasmplug", version, after_help = EXIT_CODES_HELP)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Shows what a plugin is: its world, contract, metadata, settings,
    /// manifest, digest and cache state; for a native library its header,
    /// read from the file without loading it.
    #[command(after_help = EXIT_CODES_HELP)]
    Inspect {
        /// A component (`.wasm`) or a native plugin library (`.so`).
        file: PathBuf,
        /// Prints JSON instead of text.
        #[arg(long)]
        json: bool,
        /// For a native library: also checks its header against this WIT
        /// (exit code 3 when it is for another world or WIT) and lists the
        /// world's exports, still without loading it.
        #[command(flatten)]
        wit: native::WitOptions,
    },
    /// Calls one export with WAVE arguments and prints its results as
    /// WAVE, after running the plugin's `init`.
    ///
    /// Example: wasmplug call demo1.wasm 'set-v(15)'
    ///
    /// A native library is called through the world of its WIT (`--wit`):
    /// wasmplug call libdemo1.so --wit wit/ 'get-v'
    #[command(after_help = EXIT_CODES_HELP)]
    Call {
        /// The component, or a native plugin library (with `--wit`).
        file: PathBuf,
        /// `export(args…)`: a full name (`ns:pkg/iface@1.0.0#func`) or a
        /// function name that only one interface exports; arguments are
        /// WAVE values (`1`, `"text"`, `[1, 2]`, `{name: "x"}`, `some(3)`).
        call: String,
        #[command(flatten)]
        options: call::PluginOptions,
        #[command(flatten)]
        wit: native::WitOptions,
    },
    /// Starts a plugin for a WIT world: its base interface implemented,
    /// every other export a stub; the base WIT is written into its
    /// `wit/deps/`. In Rust (the default) it builds to a component and a
    /// native library from one source; in Go or Python to a component.
    ///
    /// Go needs `wit-bindgen` (0.63, Go generator) here already: the stubs
    /// are its `--generate-stubs`.
    #[command(after_help = EXIT_CODES_HELP)]
    New {
        /// The plugin's name (the crate's or module's, and its metadata's).
        name: String,
        /// The directory with the world's WIT files.
        #[arg(long)]
        wit: PathBuf,
        /// The world the plugin implements, e.g. `acme:greeter/greeter`.
        #[arg(long)]
        world: String,
        /// The language to write it in.
        #[arg(long, value_enum, default_value_t = scaffold::Lang::Rust)]
        lang: scaffold::Lang,
        /// Where to create it (default: `./NAME`).
        #[arg(long)]
        path: Option<PathBuf>,
    },
    /// Builds a plugin made by `new`: a Rust crate to its component
    /// (`wasm32-wasip2`) and its native library, both in release mode; a
    /// Go or Python plugin to its component, `target/NAME.wasm`.
    ///
    /// The tools it runs, each found on PATH or where its variable says:
    /// Rust: cargo, with the wasm32-wasip2 target. Python: componentize-py
    /// 0.25 (WASMPLUG_COMPONENTIZE_PY). Go: go 1.25 or later (WASMPLUG_GO)
    /// and wit-bindgen 0.63 with its Go generator (WASMPLUG_WIT_BINDGEN);
    /// WASMPLUG_GO_PKG names a local copy of go.bytecodealliance.org/pkg
    /// where the Go module proxy is out of reach.
    #[command(after_help = EXIT_CODES_HELP)]
    Build {
        /// The plugin's directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
    /// Compiles components into the precompiled cache.
    #[command(after_help = EXIT_CODES_HELP)]
    Compile {
        /// The components.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Lists the precompiled cache (sizes, ages), or clears or prunes it.
    #[command(after_help = EXIT_CODES_HELP)]
    Cache {
        #[command(subcommand)]
        command: Option<cache::CacheCommand>,
    },
    /// Times calls of one export: median and spread. With `--native` (and
    /// `--wit`), the component's native library too, and both compared.
    #[command(after_help = EXIT_CODES_HELP)]
    Bench {
        /// The component, or a native plugin library (with `--wit`).
        file: PathBuf,
        /// `export(args…)`, as for `call`.
        call: String,
        /// How many timed calls.
        #[arg(long, short = 'n', default_value_t = 10_000)]
        iterations: usize,
        /// No progress bar.
        #[arg(long, short)]
        quiet: bool,
        /// The component's native library, timed after it (needs `--wit`).
        #[arg(long, value_name = "LIB")]
        native: Option<PathBuf>,
        #[command(flatten)]
        options: call::PluginOptions,
        #[command(flatten)]
        wit: native::WitOptions,
    },
}

/// `println!` for command output: a reader that went away (`| head`) ends
/// the program quietly instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::say_line(::std::format_args!($($arg)*))
    };
}
pub(crate) use say;

fn say_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(args).and_then(|()| out.write_all(b"\n")) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to stdout: {e}");
        std::process::exit(failure::EXIT_OTHER);
    }
}

fn run(cli: Cli) -> Outcome {
    match cli.command {
        Command::Inspect { file, json, wit } => inspect::run(&file, json, &wit),
        Command::Call {
            file,
            call,
            options,
            wit,
        } => call::run(&file, &call, &options, &wit),
        Command::New {
            name,
            wit,
            world,
            lang,
            path,
        } => scaffold::new(&name, &wit, &world, lang, path.as_deref()),
        Command::Build { dir } => scaffold::build(&dir),
        Command::Compile { files } => cache::compile(&files),
        Command::Cache { command } => cache::run(command),
        Command::Bench {
            file,
            call,
            iterations,
            quiet,
            native,
            options,
            wit,
        } => call::bench(
            &file,
            &call,
            &options,
            &call::BenchOptions {
                iterations,
                quiet,
                native: native.as_deref(),
                wit: &wit,
            },
        ),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {failure}");
            ExitCode::from(u8::try_from(failure.code).unwrap_or(1))
        }
    }
}
