//! `wasmplug call` and `wasmplug bench`: one export called with WAVE
//! arguments, once or many times.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use wasmplug::wasmtime::component::Val;
use wasmplug::wasmtime::component::wasm_wave;
use wasmplug::wasmtime::component::wasm_wave::untyped::UntypedFuncCall;
use wasmplug::{Capabilities, DirAccess, DynamicPlugin, Limits, Output, Runtime};

use crate::failure::{Failure, Outcome};
use crate::inspect::is_native_library;
use crate::native::{NativeCall, WitOptions};
use crate::units;

/// How the plugin is opened: its settings, grants and limits.
#[derive(Debug, Args)]
pub(crate) struct PluginOptions {
    /// A setting for the plugin's `init` (repeatable).
    #[arg(long = "config", value_name = "KEY=VALUE", value_parser = key_value)]
    config: Vec<(String, String)>,
    /// Grants a host directory as a guest path, read-only unless `:rw`
    /// (repeatable).
    #[arg(long = "dir", value_name = "HOST::GUEST[:rw]")]
    dirs: Vec<String>,
    /// An environment variable the plugin sees (repeatable).
    #[arg(long = "env", value_name = "KEY=VALUE", value_parser = key_value)]
    env: Vec<(String, String)>,
    /// Where the plugin's stdout goes: `inherit` (this terminal) or `null`
    /// (the default).
    #[arg(long, value_name = "inherit|null", default_value = "null")]
    stdout: String,
    /// Where the plugin's stderr goes: `inherit` or `null` (the default).
    #[arg(long, value_name = "inherit|null", default_value = "null")]
    stderr: String,
    /// Each call's deadline (e.g. `500ms`); exceeding it is exit code 4.
    #[arg(long, value_name = "DURATION", value_parser = units::duration)]
    deadline: Option<Duration>,
    /// The most linear memory the plugin may grow to (e.g. `64MiB`).
    #[arg(long, value_name = "SIZE", value_parser = units::size)]
    max_memory: Option<usize>,
}

fn key_value(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{text}` is not KEY=VALUE"))
}

impl PluginOptions {
    /// The settings for `init`.
    pub(crate) fn config(&self) -> &[(String, String)] {
        &self.config
    }

    /// The first grant or limit given, which only a sandbox can honour.
    pub(crate) fn sandbox_flag(&self) -> Option<&'static str> {
        [
            ("--dir", !self.dirs.is_empty()),
            ("--env", !self.env.is_empty()),
            ("--stdout", self.stdout != "null"),
            ("--stderr", self.stderr != "null"),
            ("--deadline", self.deadline.is_some()),
            ("--max-memory", self.max_memory.is_some()),
        ]
        .into_iter()
        .find_map(|(flag, given)| given.then_some(flag))
    }

    fn capabilities(&self) -> Outcome<Option<Capabilities>> {
        let mut caps = Capabilities::none();
        let mut any = false;
        for spec in &self.dirs {
            let (host, rest) = spec
                .split_once("::")
                .ok_or_else(|| Failure::usage(format!("--dir `{spec}` is not HOST::GUEST[:rw]")))?;
            let (guest, access) = match rest.strip_suffix(":rw") {
                Some(guest) => (guest, DirAccess::ReadWrite),
                None => (
                    rest.strip_suffix(":ro").unwrap_or(rest),
                    DirAccess::ReadOnly,
                ),
            };
            caps = caps.dir(PathBuf::from(host), guest, access);
            any = true;
        }
        for (k, v) in &self.env {
            caps = caps.env(k, v);
            any = true;
        }
        for (flag, value) in [("stdout", &self.stdout), ("stderr", &self.stderr)] {
            match value.as_str() {
                "inherit" if flag == "stdout" => caps = caps.stdout(Output::Inherit),
                "inherit" => caps = caps.stderr(Output::Inherit),
                "null" => continue,
                other => {
                    return Err(Failure::usage(format!(
                        "--{flag} `{other}`: expected `inherit` or `null`"
                    )));
                }
            }
            any = true;
        }
        Ok(any.then_some(caps))
    }

    /// A runtime fit for these options (epoch interruption only when a
    /// deadline asks for it: it slows guest code down).
    pub(crate) fn runtime(&self) -> Outcome<Runtime> {
        Ok(Runtime::builder()
            .epoch_interruption(self.deadline.is_some())
            .build()?)
    }

    /// Opens the plugin at `path` with these options and runs its `init`.
    pub(crate) fn open(&self, runtime: &Runtime, path: &Path) -> Outcome<DynamicPlugin> {
        let mut loader = runtime.dynamic();
        for (k, v) in &self.config {
            loader = loader.config(k, v);
        }
        if let Some(caps) = self.capabilities()? {
            loader = loader.capabilities(caps);
        }
        let mut limits = Limits::new();
        if let Some(deadline) = self.deadline {
            limits = limits.deadline(deadline);
        }
        if let Some(max) = self.max_memory {
            limits = limits.max_memory(max);
        }
        let mut plugin = loader.limits(limits).open(path)?;
        plugin.init()?;
        Ok(plugin)
    }
}

/// A parsed `export(args)`: the export's full name and its arguments.
pub(crate) struct Call {
    pub(crate) export: String,
    pub(crate) params: Vec<Val>,
}

/// Parses `expression` (`f(1, "x")`, or a bare `f` for no arguments)
/// against the plugin's export of that name.
pub(crate) fn parse(plugin: &DynamicPlugin, expression: &str) -> Outcome<Call> {
    let (name, args) = split_call(expression);
    let args = args.as_str();
    let (export, ty) = plugin.resolve(name.trim())?;
    let source = format!("f{args}");
    let call = UntypedFuncCall::parse(&source)
        .map_err(|e| Failure::usage(format!("cannot parse the arguments `{args}`: {e}")))?;
    let types: Vec<_> = ty.params().map(|(_, t)| t).collect();
    let params = call.to_wasm_params::<Val>(types.iter()).map_err(|e| {
        Failure::usage(format!(
            "the arguments do not fit `{export}: {}`: {e}",
            signature(plugin, &export)
        ))
    })?;
    Ok(Call { export, params })
}

/// `export(args)` split into the export's name and `(args)`; a bare name
/// gets `()`. WAVE names are kebab-case identifiers, so an
/// `interface#function` name is split off before the arguments are parsed.
pub(crate) fn split_call(expression: &str) -> (String, String) {
    let expression = expression.trim();
    let with_parens = if expression.ends_with(')') {
        expression.to_owned()
    } else {
        format!("{expression}()")
    };
    let open = with_parens.find('(').unwrap_or(with_parens.len());
    let (name, args) = with_parens.split_at(open);
    (name.to_owned(), args.to_owned())
}

fn signature(plugin: &DynamicPlugin, export: &str) -> String {
    plugin
        .exports()
        .into_iter()
        .find(|f| f.name == export)
        .map_or_else(String::new, |f| f.signature)
}

/// Results as WAVE, one per line.
pub(crate) fn show(results: &[Val]) -> Outcome<String> {
    results
        .iter()
        .map(|v| {
            wasm_wave::to_string(v)
                .map_err(|e| Failure::other(format!("cannot print a result as WAVE: {e}")))
        })
        .collect::<Outcome<Vec<_>>>()
        .map(|lines| lines.join("\n"))
}

/// `wasmplug call`: on a component, or on a native library through the
/// `--wit` world.
pub(crate) fn run(
    path: &Path,
    expression: &str,
    options: &PluginOptions,
    wit: &WitOptions,
) -> Outcome {
    let shown = if is_native_library(path)? {
        NativeCall::open(path, expression, wit, options)?.call()?
    } else {
        wit.refuse_for_component()?;
        let runtime = options.runtime()?;
        let mut plugin = options.open(&runtime, path)?;
        let call = parse(&plugin, expression)?;
        let results = plugin.call(&call.export, &call.params)?;
        show(&results)?
    };
    if !shown.is_empty() {
        crate::say!("{shown}");
    }
    Ok(())
}

/// What `wasmplug bench` times.
pub(crate) struct BenchOptions<'a> {
    pub(crate) iterations: usize,
    pub(crate) quiet: bool,
    /// The component's native library, timed after it through `wit`.
    pub(crate) native: Option<&'a Path>,
    pub(crate) wit: &'a WitOptions,
}

/// `wasmplug bench`: `iterations` calls after a warm-up, timed one by one;
/// of a component (and its native library, if given, then both medians
/// compared) or of a native library.
pub(crate) fn bench(
    path: &Path,
    expression: &str,
    options: &PluginOptions,
    bench: &BenchOptions<'_>,
) -> Outcome {
    if is_native_library(path)? {
        if bench.native.is_some() {
            return Err(Failure::usage(
                "--native names a component's native library: FILE is one already",
            ));
        }
        time_native(path, expression, options, bench)?;
        return Ok(());
    }
    match (bench.native, options.sandbox_flag()) {
        (None, _) => bench.wit.refuse_for_component()?,
        // Refused before any timing, rather than after the component's.
        (Some(_), Some(flag)) => {
            return Err(Failure::usage(format!(
                "{flag} cannot apply to the native library that --native names (its code \
                 runs unsandboxed in this process): time the component alone for it"
            )));
        }
        (Some(_), None) => {}
    }
    let runtime = options.runtime()?;
    let started = Instant::now();
    let mut plugin = options.open(&runtime, path)?;
    let open_time = started.elapsed();
    let call = parse(&plugin, expression)?;
    let wasm = time(&call.export, "component", open_time, bench, || {
        plugin.call(&call.export, &call.params).map(drop)?;
        Ok(())
    })?;
    if let Some(native) = bench.native {
        let native = time_native(native, expression, options, bench)?;
        crate::say!(
            "component / native library: {:.2}x (medians)",
            wasm.median.as_secs_f64() / native.median.as_secs_f64().max(1e-12)
        );
    }
    Ok(())
}

fn time_native(
    path: &Path,
    expression: &str,
    options: &PluginOptions,
    bench: &BenchOptions<'_>,
) -> Outcome<Stats> {
    let started = Instant::now();
    let call = NativeCall::open(path, expression, bench.wit, options)?;
    let open_time = started.elapsed();
    let export = call.export().name().to_owned();
    time(&export, "native library", open_time, bench, || {
        call.call().map(drop)
    })
}

/// Times `f`: a warm-up, then `iterations` calls one by one, with a
/// progress bar unless quiet; prints and returns the statistics.
fn time(
    export: &str,
    what: &str,
    open_time: Duration,
    bench: &BenchOptions<'_>,
    mut f: impl FnMut() -> Outcome,
) -> Outcome<Stats> {
    let iterations = bench.iterations.max(1);
    let warmup = (iterations / 10).clamp(1, 1000);
    for _ in 0..warmup {
        f()?;
    }
    let bar = if bench.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        let bar = indicatif::ProgressBar::new(iterations as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} calls, {eta} left")
                .expect("a valid template"),
        );
        bar
    };
    let mut times = Vec::with_capacity(iterations);
    for i in 0..iterations {
        let start = Instant::now();
        f()?;
        times.push(start.elapsed());
        if i % 64 == 0 {
            bar.set_position(i as u64);
        }
    }
    bar.finish_and_clear();
    let stats = Stats::of(&mut times);
    crate::say!(
        "{export} ({what}): {iterations} calls (after {warmup} warm-up calls); open + init {}",
        units::show_time(open_time)
    );
    crate::say!(
        "  median {} ± {} (MAD), min {}, p90 {}, max {}",
        units::show_time(stats.median),
        units::show_time(stats.mad),
        units::show_time(stats.min),
        units::show_time(stats.p90),
        units::show_time(stats.max)
    );
    Ok(stats)
}

/// Median, median absolute deviation and a few order statistics.
struct Stats {
    median: Duration,
    mad: Duration,
    min: Duration,
    p90: Duration,
    max: Duration,
}

impl Stats {
    fn of(times: &mut [Duration]) -> Stats {
        times.sort();
        let at =
            |times: &[Duration], q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
        let median = at(times, 0.5);
        let mut deviations: Vec<Duration> = times.iter().map(|t| t.abs_diff(median)).collect();
        deviations.sort();
        Stats {
            median,
            mad: at(&deviations, 0.5),
            min: times[0],
            p90: at(times, 0.9),
            max: times[times.len() - 1],
        }
    }
}
