//! The comparison report: reads the results criterion 0.7 wrote for the
//! `compare` benches (and the bench's `memory.json`) and renders them as a
//! terminal table, a Markdown report and an SVG chart, and checks them
//! against the design doc's targets.
//!
//! Criterion writes, for every benchmark,
//! `<dir>/<group>/<function>/new/benchmark.json` (the benchmark's id) and
//! `.../new/estimates.json` (mean, median, MAD, ... in nanoseconds per
//! iteration). Directory names are sanitised, so the names shown here are
//! the `group_id` / `function_id` inside `benchmark.json`.

use std::ffi::OsStr;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde::Deserialize;
use serde::de::DeserializeOwned;

/// The group timing plugin loading; its functions are [`LOAD_STEPS`].
const LOAD: &str = "load";
/// The group timing instantiation (a row of the call table).
const INSTANTIATE: &str = "instantiate";
/// The group timing requests on 1 and 2 threads; its functions are
/// [`THROUGHPUT_RUNS`].
const THROUGHPUT: &str = "throughput";
/// The scalar call case, which most targets are about.
const SCALAR: &str = "scalar";

/// Every known group, in report order; unknown groups come after them.
const GROUPS: [&str; 8] = [
    LOAD,
    SCALAR,
    "string 1 KB",
    "bytes 64 KB",
    "gateway request",
    "host import x100",
    INSTANTIATE,
    THROUGHPUT,
];

const IN_PROCESS: &str = "in-process";
const DIRECT_FN_POINTER: &str = "direct fn pointer";
const NATIVE_BRIDGE: &str = "native bridge";
const RAW_WASMTIME: &str = "raw wasmtime";
const WASMPLUG: &str = "wasmplug";

/// The backends of the call cases (columns of the call table), in order.
const BACKENDS: [&str; 5] = [
    IN_PROCESS,
    DIRECT_FN_POINTER,
    NATIVE_BRIDGE,
    RAW_WASMTIME,
    WASMPLUG,
];

const WASM_COMPILE: &str = "wasm compile";
const WASM_FROM_CACHE: &str = "wasm from cache";

/// The functions of the `load` group, in order.
const LOAD_STEPS: [&str; 4] = [
    WASM_COMPILE,
    WASM_FROM_CACHE,
    "wasm open from cache",
    "native open",
];

/// The functions of the `throughput` group, in order.
const THROUGHPUT_RUNS: [&str; 4] = [
    "native 1 thread",
    "native 2 threads",
    "wasmplug 1 thread",
    "wasmplug 2 threads",
];

/// The file the bench writes its memory measurements to, in criterion's
/// output directory.
const MEMORY_FILE: &str = "memory.json";

/// Shown in a table cell that has no measurement.
const MISSING: &str = "–";

// ---------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------

/// One benchmark's result; times are nanoseconds per iteration.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// Criterion's group id, e.g. `scalar`.
    pub group: String,
    /// Criterion's function id, e.g. `wasmplug`.
    pub function: String,
    /// Median time.
    pub median_ns: f64,
    /// Median absolute deviation.
    pub mad_ns: f64,
    /// Lower bound of the median's confidence interval.
    pub median_low_ns: f64,
    /// Upper bound of the median's confidence interval.
    pub median_high_ns: f64,
    /// Mean time.
    pub mean_ns: f64,
}

/// The bench's memory measurements (`memory.json`); `None` when it did not
/// measure one (or wrote no file at all).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct Memory {
    /// How many instances were measured.
    pub instances: Option<u64>,
    /// Memory per Wasm instance, in bytes.
    pub wasm_bytes_per_instance: Option<u64>,
    /// Memory of the native plugin, in bytes.
    pub native_bytes: Option<u64>,
}

/// Everything the bench measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Results {
    /// Every benchmark, in report order: known groups and functions in the
    /// order of the bench's contract, unknown ones after them by name.
    pub measurements: Vec<Measurement>,
    /// The memory measurements.
    pub memory: Memory,
}

impl Results {
    /// The result of `function` in `group`, if it was measured.
    pub fn get(&self, group: &str, function: &str) -> Option<&Measurement> {
        self.measurements
            .iter()
            .find(|m| m.group == group && m.function == function)
    }

    /// The median of `function` in `group`, in nanoseconds.
    pub fn median(&self, group: &str, function: &str) -> Option<f64> {
        self.get(group, function).map(|m| m.median_ns)
    }

    /// `numerator`'s median over `denominator`'s, both `(group, function)`.
    fn ratio(&self, numerator: (&str, &str), denominator: (&str, &str)) -> Option<f64> {
        let denominator = self.median(denominator.0, denominator.1)?;
        let numerator = self.median(numerator.0, numerator.1)?;
        (denominator > 0.0).then(|| numerator / denominator)
    }

    /// The measurements of `group`, in order.
    fn group(&self, group: &str) -> impl Iterator<Item = &Measurement> {
        self.measurements.iter().filter(move |m| m.group == group)
    }

    /// The call cases (rows of the call table): every group but `load` and
    /// `throughput`, in order.
    fn call_cases(&self) -> Vec<&str> {
        let groups = self.measurements.iter().map(|m| m.group.as_str());
        ordered(&GROUPS, groups)
            .into_iter()
            .filter(|g| *g != LOAD && *g != THROUGHPUT)
            .collect()
    }

    /// The backends measured in `cases` (columns of the call table).
    fn backends(&self, cases: &[&str]) -> Vec<&str> {
        let functions = self
            .measurements
            .iter()
            .filter(|m| cases.contains(&m.group.as_str()))
            .map(|m| m.function.as_str());
        ordered(&BACKENDS, functions)
    }
}

/// `names` without repeats: those in `known` first, in `known`'s order, the
/// others after them in the order they came.
fn ordered<'a>(known: &[&str], names: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut seen: Vec<&str> = Vec::new();
    for name in names {
        if !seen.contains(&name) {
            seen.push(name);
        }
    }
    seen.sort_by_key(|name| rank(known, name));
    seen
}

/// `name`'s position in `known`, or after all of them.
fn rank(known: &[&str], name: &str) -> usize {
    known.iter().position(|k| *k == name).unwrap_or(known.len())
}

/// The known functions of `group`, in order.
fn known_functions(group: &str) -> &'static [&'static str] {
    match group {
        LOAD => &LOAD_STEPS,
        THROUGHPUT => &THROUGHPUT_RUNS,
        _ => &BACKENDS,
    }
}

// ---------------------------------------------------------------------------
// Loading criterion's output
// ---------------------------------------------------------------------------

/// The fields used of criterion's `BenchmarkId` (`benchmark.json`).
#[derive(Deserialize)]
struct BenchmarkFile {
    group_id: String,
    function_id: Option<String>,
    value_str: Option<String>,
}

/// The fields used of criterion's `Estimates` (`estimates.json`).
#[derive(Deserialize)]
struct EstimatesFile {
    mean: Estimate,
    median: Estimate,
    median_abs_dev: Estimate,
}

/// Criterion's `Estimate`.
#[derive(Deserialize)]
struct Estimate {
    point_estimate: f64,
    confidence_interval: ConfidenceInterval,
}

/// Criterion's `ConfidenceInterval`.
#[derive(Deserialize)]
struct ConfidenceInterval {
    lower_bound: f64,
    upper_bound: f64,
}

/// Reads the results criterion wrote to `dir` (its `CRITERION_HOME`) and
/// the bench's `memory.json` there, if any.
///
/// Benchmarks whose files do not parse are skipped with a warning.
///
/// # Errors
///
/// If `dir` cannot be read, holds no results, or `memory.json` is there but
/// unreadable.
pub fn load(dir: &Path) -> Result<Results> {
    let mut files = Vec::new();
    find_benchmarks(dir, &mut files)?;
    let mut measurements: Vec<Measurement> = files
        .iter()
        .filter_map(|file| {
            read_measurement(file)
                .inspect_err(|e| tracing::warn!("skipping a benchmark: {e:#}"))
                .ok()
        })
        .collect();
    if measurements.is_empty() {
        bail!(
            "no criterion results (`*/new/benchmark.json` with `estimates.json`) in {}",
            dir.display()
        );
    }
    measurements.sort_by(|a, b| report_order(a).cmp(&report_order(b)));
    let memory = read_memory(&dir.join(MEMORY_FILE))?;
    Ok(Results {
        measurements,
        memory,
    })
}

/// The sort key putting measurements in report order.
fn report_order(m: &Measurement) -> (usize, &str, usize, &str) {
    (
        rank(&GROUPS, &m.group),
        &m.group,
        rank(known_functions(&m.group), &m.function),
        &m.function,
    )
}

/// Collects every `new/benchmark.json` below `dir`, skipping criterion's
/// HTML `report/` directories.
fn find_benchmarks(dir: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    let entries = fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("reading {}", dir.display()))?;
        let path = entry.path();
        let is_dir = entry
            .file_type()
            .with_context(|| format!("reading {}", path.display()))?
            .is_dir();
        if is_dir && entry.file_name() != "report" {
            find_benchmarks(&path, found)?;
        } else if !is_dir && is_new_benchmark(&path) {
            found.push(path);
        }
    }
    Ok(())
}

/// Whether `path` is a `benchmark.json` of the latest run (in `new/`, not
/// in a baseline's directory).
fn is_new_benchmark(path: &Path) -> bool {
    path.file_name() == Some(OsStr::new("benchmark.json"))
        && path.parent().and_then(Path::file_name) == Some(OsStr::new("new"))
}

/// Reads the benchmark whose id is in `benchmark_json`, and the estimates
/// next to it.
fn read_measurement(benchmark_json: &Path) -> Result<Measurement> {
    let id: BenchmarkFile = read_json(benchmark_json)?;
    let estimates: EstimatesFile = read_json(&benchmark_json.with_file_name("estimates.json"))?;
    let function = function_name(&id);
    Ok(Measurement {
        group: id.group_id,
        function,
        median_ns: estimates.median.point_estimate,
        mad_ns: estimates.median_abs_dev.point_estimate,
        median_low_ns: estimates.median.confidence_interval.lower_bound,
        median_high_ns: estimates.median.confidence_interval.upper_bound,
        mean_ns: estimates.mean.point_estimate,
    })
}

/// The name a benchmark is shown under in its group: its function id (with
/// its parameter, if it has one).
fn function_name(id: &BenchmarkFile) -> String {
    match (&id.function_id, &id.value_str) {
        (Some(function), Some(value)) => format!("{function}/{value}"),
        (Some(name), None) | (None, Some(name)) => name.clone(),
        (None, None) => id.group_id.clone(),
    }
}

/// The memory measurements in `path`; all `None` when there is no such file.
fn read_memory(path: &Path) -> Result<Memory> {
    if path.exists() {
        read_json(path)
    } else {
        Ok(Memory::default())
    }
}

/// Reads and parses the JSON file at `path`.
fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
}

// ---------------------------------------------------------------------------
// Targets
// ---------------------------------------------------------------------------

/// What a target's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// A ratio of two medians.
    Ratio,
    /// A median time, in nanoseconds.
    Time,
}

impl Quantity {
    /// `value` with its unit, e.g. `1.07×` or `160 ns`.
    pub fn format(self, value: f64) -> String {
        match self {
            Self::Ratio => format_ratio(value),
            Self::Time => format_ns(value),
        }
    }
}

/// A target's goal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    /// The value must be at most this.
    AtMost(f64),
    /// The value must be at least this.
    AtLeast(f64),
    /// Not a target: shown for comparison.
    Informative,
}

impl Goal {
    /// Whether `measured` meets the goal.
    fn status(self, measured: Option<f64>) -> Status {
        match (self, measured) {
            (Self::Informative, _) => Status::Informative,
            (_, None) => Status::NotMeasured,
            (Self::AtMost(goal), Some(value)) => Status::met_if(value <= goal),
            (Self::AtLeast(goal), Some(value)) => Status::met_if(value >= goal),
        }
    }
}

/// Whether a target is met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The measured value meets the goal.
    Met,
    /// The measured value misses the goal.
    Missed,
    /// A result the target needs is missing.
    NotMeasured,
    /// Not a target ([`Goal::Informative`]).
    Informative,
}

impl Status {
    /// [`Status::Met`] if `met`, else [`Status::Missed`].
    fn met_if(met: bool) -> Self {
        if met { Self::Met } else { Self::Missed }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Self::Met => "met",
            Self::Missed => "missed",
            Self::NotMeasured => "not measured",
            Self::Informative => "informative",
        })
    }
}

/// One of the design doc's performance targets, checked against the results.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// What is measured, e.g. `wasm scalar call: wasmplug / raw wasmtime`.
    pub name: &'static str,
    /// What kind of value [`Target::measured`] is.
    pub quantity: Quantity,
    /// The goal.
    pub goal: Goal,
    /// The measured value (a ratio, or nanoseconds); `None` if not measured.
    pub measured: Option<f64>,
    /// Whether the goal is met.
    pub status: Status,
}

impl Target {
    fn new(name: &'static str, quantity: Quantity, goal: Goal, measured: Option<f64>) -> Self {
        Self {
            name,
            quantity,
            goal,
            measured,
            status: goal.status(measured),
        }
    }

    /// The goal with its unit, e.g. `≤ 1.10×`.
    pub fn goal_text(&self) -> String {
        match self.goal {
            Goal::AtMost(goal) => format!("≤ {}", self.quantity.format(goal)),
            Goal::AtLeast(goal) => format!("≥ {}", self.quantity.format(goal)),
            Goal::Informative => MISSING.to_owned(),
        }
    }

    /// The measured value with its unit, or `n/a`.
    pub fn measured_text(&self) -> String {
        self.measured
            .map_or_else(|| "n/a".to_owned(), |value| self.quantity.format(value))
    }
}

/// The design doc's targets, computed from `results`.
pub fn targets(results: &Results) -> Vec<Target> {
    use Quantity::{Ratio, Time};
    vec![
        Target::new(
            "wasm scalar call: wasmplug / raw wasmtime",
            Ratio,
            Goal::AtMost(1.1),
            results.ratio((SCALAR, WASMPLUG), (SCALAR, RAW_WASMTIME)),
        ),
        Target::new(
            "wasm scalar call (wasmplug)",
            Time,
            Goal::AtMost(150.0),
            results.median(SCALAR, WASMPLUG),
        ),
        Target::new(
            "native scalar call: native bridge / direct fn pointer",
            Ratio,
            Goal::AtMost(1.5),
            results.ratio((SCALAR, NATIVE_BRIDGE), (SCALAR, DIRECT_FN_POINTER)),
        ),
        Target::new(
            "load: wasm compile / wasm from cache",
            Ratio,
            Goal::AtLeast(20.0),
            results.ratio((LOAD, WASM_COMPILE), (LOAD, WASM_FROM_CACHE)),
        ),
        Target::new(
            "load: wasm from cache",
            Time,
            Goal::AtMost(1e6),
            results.median(LOAD, WASM_FROM_CACHE),
        ),
        Target::new(
            "instantiate (wasmplug)",
            Time,
            Goal::AtMost(10e3),
            results.median(INSTANTIATE, WASMPLUG),
        ),
        Target::new(
            "throughput 1 → 2 threads (wasmplug)",
            Ratio,
            Goal::AtLeast(1.8),
            scaling(results, WASMPLUG),
        ),
        Target::new(
            "throughput 1 → 2 threads (native)",
            Ratio,
            Goal::Informative,
            scaling(results, "native"),
        ),
    ]
}

// ---------------------------------------------------------------------------
// Throughput
// ---------------------------------------------------------------------------

/// Splits a throughput function id, e.g. `wasmplug 2 threads`, into its
/// backend and thread count.
fn threads(function: &str) -> Option<(&str, u32)> {
    let rest = function
        .strip_suffix(" threads")
        .or_else(|| function.strip_suffix(" thread"))?;
    let (backend, count) = rest.rsplit_once(' ')?;
    Some((backend, count.parse().ok()?))
}

/// Requests per second of a throughput run: an iteration is one request on
/// each thread.
fn requests_per_second(m: &Measurement) -> Option<f64> {
    let requests = threads(&m.function).map_or(1, |(_, count)| count);
    (m.median_ns > 0.0).then(|| f64::from(requests) * 1e9 / m.median_ns)
}

/// How much `backend`'s throughput grows from 1 to 2 threads (2·t1/t2).
fn scaling(results: &Results, backend: &str) -> Option<f64> {
    let rate = |run: String| results.get(THROUGHPUT, &run).and_then(requests_per_second);
    let one = rate(format!("{backend} 1 thread"))?;
    let two = rate(format!("{backend} 2 threads"))?;
    Some(two / one)
}

// ---------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------

/// `value` rounded to 3 significant digits.
fn round3(value: f64) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    let scale = 10f64.powi(value.abs().log10().floor() as i32 - 2);
    (value / scale).round() * scale
}

/// `value` with 3 significant digits, e.g. `1.07`, `14.2`, `160`.
fn sig3(value: f64) -> String {
    let value = round3(value);
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let decimals = (2 - value.abs().log10().floor() as i32).clamp(0, 9);
    format!("{value:.*}", decimals as usize)
}

/// `ns` in the largest unit (ns, µs, ms, s) that keeps it ≥ 1.
fn scale_ns(ns: f64) -> (f64, &'static str) {
    let ns = round3(ns);
    [(1e9, "s"), (1e6, "ms"), (1e3, "µs")]
        .into_iter()
        .find(|(scale, _)| ns.abs() >= *scale)
        .map_or((ns, "ns"), |(scale, unit)| (ns / scale, unit))
}

/// A time with 3 significant digits and a human unit, e.g. `1.52 µs`.
fn format_ns(ns: f64) -> String {
    let (value, unit) = scale_ns(ns);
    format!("{} {unit}", sig3(value))
}

/// A time for an axis label: like [`format_ns`] without trailing zeros.
fn axis_ns(ns: f64) -> String {
    let (value, unit) = scale_ns(ns);
    let digits = sig3(value);
    let digits = if digits.contains('.') {
        digits.trim_end_matches('0').trim_end_matches('.')
    } else {
        &digits
    };
    format!("{digits} {unit}")
}

/// A ratio, e.g. `14.2×`.
fn format_ratio(ratio: f64) -> String {
    format!("{}×", sig3(ratio))
}

/// A rate with 3 significant digits and an SI prefix, e.g. `6.25 M`.
fn format_rate(rate: f64) -> String {
    let rate = round3(rate);
    [(1e9, " G"), (1e6, " M"), (1e3, " k")]
        .into_iter()
        .find(|(scale, _)| rate >= *scale)
        .map_or_else(
            || sig3(rate),
            |(scale, prefix)| format!("{}{prefix}", sig3(rate / scale)),
        )
}

/// A byte count with 3 significant digits and a binary unit, e.g. `121 KiB`.
fn format_bytes(bytes: u64) -> String {
    let bytes = bytes as f64;
    [(1u64 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        .into_iter()
        .map(|(scale, unit)| (scale as f64, unit))
        .find(|(scale, _)| bytes >= *scale)
        .map_or_else(
            || format!("{bytes} B"),
            |(scale, unit)| format!("{} {unit}", sig3(bytes / scale)),
        )
}

/// A table cell: `median ± MAD`, or [`MISSING`].
fn cell(m: Option<&Measurement>) -> String {
    m.map_or_else(
        || MISSING.to_owned(),
        |m| format!("{} ± {}", format_ns(m.median_ns), format_ns(m.mad_ns)),
    )
}

/// A ratio cell, or [`MISSING`].
fn ratio_cell(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| MISSING.to_owned(), format_ratio)
}

/// An optional number, or `n/a`.
fn or_na<T>(value: Option<T>, format: impl FnOnce(T) -> String) -> String {
    value.map_or_else(|| "n/a".to_owned(), format)
}

// ---------------------------------------------------------------------------
// Tables
// ---------------------------------------------------------------------------

/// A table, rendered as plain text or Markdown.
struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Aligned columns: the first left-aligned, the others right-aligned.
    fn text(&self) -> String {
        let widths: Vec<usize> = (0..self.header.len())
            .map(|column| {
                self.lines()
                    .map(|line| line.get(column).map_or(0, |c| c.chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let render = |line: &[String]| {
            let cells: Vec<String> = line
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(column, (cell, width))| match column {
                    0 => format!("{cell:<width$}"),
                    _ => format!("{cell:>width$}"),
                })
                .collect();
            cells.join("  ").trim_end().to_owned()
        };
        let rule = "-".repeat(widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1));
        let mut out = vec![render(&self.header), rule];
        out.extend(self.rows.iter().map(|row| render(row)));
        out.join("\n") + "\n"
    }

    /// A GitHub-flavoured Markdown table, the first column left-aligned,
    /// the others right-aligned.
    fn markdown(&self) -> String {
        let render = |line: &[String]| {
            let cells: Vec<String> = line.iter().map(|c| c.replace('|', "\\|")).collect();
            format!("| {} |", cells.join(" | "))
        };
        let alignment: Vec<&str> = (0..self.header.len())
            .map(|column| if column == 0 { ":---" } else { "---:" })
            .collect();
        let mut out = vec![
            render(&self.header),
            format!("| {} |", alignment.join(" | ")),
        ];
        out.extend(self.rows.iter().map(|row| render(row)));
        out.join("\n") + "\n"
    }

    fn lines(&self) -> impl Iterator<Item = &Vec<String>> {
        std::iter::once(&self.header).chain(&self.rows)
    }
}

/// A titled table with notes under it.
struct Section {
    title: &'static str,
    table: Table,
    notes: Vec<String>,
}

impl Section {
    fn text(&self) -> String {
        let mut out = format!("{}\n\n{}", self.title, self.table.text());
        for note in &self.notes {
            out.push_str(note);
            out.push('\n');
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = format!("## {}\n\n{}", self.title, self.table.markdown());
        for note in &self.notes {
            out.push('\n');
            out.push_str(note);
            out.push('\n');
        }
        out
    }
}

/// The sections for the results: calls, load, throughput (those measured)
/// and memory.
fn sections(results: &Results) -> Vec<Section> {
    [
        calls_section(results),
        load_section(results),
        throughput_section(results),
        Some(memory_section(&results.memory)),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The call cases (and instantiation): a row per case, a column per backend.
fn calls_section(results: &Results) -> Option<Section> {
    let cases = results.call_cases();
    if cases.is_empty() {
        return None;
    }
    let backends = results.backends(&cases);
    let mut header = vec!["case"];
    header.extend(&backends);
    header.push("wasm/native");
    let mut table = Table::new(&header);
    for case in &cases {
        let mut row = vec![(*case).to_owned()];
        row.extend(backends.iter().map(|b| cell(results.get(case, b))));
        row.push(ratio_cell(
            results.ratio((case, WASMPLUG), (case, NATIVE_BRIDGE)),
        ));
        table.rows.push(row);
    }
    Some(Section {
        title: "Calls (median ± MAD per iteration)",
        table,
        notes: vec!["wasm/native = wasmplug / native bridge (medians).".to_owned()],
    })
}

/// The load steps, and how much the cache saves.
fn load_section(results: &Results) -> Option<Section> {
    let mut table = Table::new(&["step", "median ± MAD"]);
    table.rows = results
        .group(LOAD)
        .map(|m| vec![m.function.clone(), cell(Some(m))])
        .collect();
    if table.rows.is_empty() {
        return None;
    }
    let speedup = results.ratio((LOAD, WASM_COMPILE), (LOAD, WASM_FROM_CACHE));
    Some(Section {
        title: "Load",
        table,
        notes: speedup
            .map(|s| format!("compile / cache: {}", format_ratio(s)))
            .into_iter()
            .collect(),
    })
}

/// The throughput runs as requests/s, and each backend's 1 → 2 threads
/// scaling.
fn throughput_section(results: &Results) -> Option<Section> {
    let mut table = Table::new(&["run", "median ± MAD per iteration", "requests/s"]);
    table.rows = results
        .group(THROUGHPUT)
        .map(|m| {
            let rate = or_na(requests_per_second(m), format_rate);
            vec![m.function.clone(), cell(Some(m)), rate]
        })
        .collect();
    if table.rows.is_empty() {
        return None;
    }
    let backends = ordered(
        &[],
        results
            .group(THROUGHPUT)
            .filter_map(|m| threads(&m.function).map(|(backend, _)| backend)),
    );
    let scalings: Vec<String> = backends
        .iter()
        .filter_map(|b| scaling(results, b).map(|s| format!("{b} {}", format_ratio(s))))
        .collect();
    let mut notes = vec!["An iteration is one request on each thread.".to_owned()];
    if !scalings.is_empty() {
        notes.push(format!(
            "Scaling 1 → 2 threads (2·t1/t2): {}",
            scalings.join(", ")
        ));
    }
    Some(Section {
        title: "Throughput",
        table,
        notes,
    })
}

/// The memory measurements.
fn memory_section(memory: &Memory) -> Section {
    let mut table = Table::new(&["instances", "wasm per instance", "native"]);
    table.rows.push(vec![
        or_na(memory.instances, |n| n.to_string()),
        or_na(memory.wasm_bytes_per_instance, format_bytes),
        or_na(memory.native_bytes, format_bytes),
    ]);
    Section {
        title: "Memory",
        table,
        notes: Vec::new(),
    }
}

/// The targets and whether they are met.
fn targets_section(targets: &[Target]) -> Section {
    let mut table = Table::new(&["target", "goal", "measured", "status"]);
    table.rows = targets
        .iter()
        .map(|t| {
            vec![
                t.name.to_owned(),
                t.goal_text(),
                t.measured_text(),
                t.status.to_string(),
            ]
        })
        .collect();
    Section {
        title: "Targets",
        table,
        notes: Vec::new(),
    }
}

/// The results as plain-text tables for the terminal: calls, load,
/// throughput and memory.
pub fn table(results: &Results) -> String {
    let sections: Vec<String> = sections(results).iter().map(Section::text).collect();
    sections.join("\n")
}

/// The targets as a plain-text table for the terminal.
pub fn targets_table(targets: &[Target]) -> String {
    targets_section(targets).text()
}

// ---------------------------------------------------------------------------
// Machine
// ---------------------------------------------------------------------------

/// Where and how the benches ran, for the report's header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Machine {
    /// CPU, cores and OS, e.g. `AMD EPYC 7B13, 2 cores, linux/x86_64`.
    pub description: String,
    /// The date of the run, `YYYY-MM-DD` (UTC).
    pub date: String,
    /// The run's mode, e.g. `quick` or `full`.
    pub mode: String,
}

/// Describes this machine (CPU model from `/proc/cpuinfo`, available cores,
/// OS and architecture) and today's date, for a run in `mode`.
pub fn machine(mode: &str) -> Machine {
    let cpu = cpu_model().unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let (os, arch) = (std::env::consts::OS, std::env::consts::ARCH);
    Machine {
        description: format!("{cpu}, {cores} cores, {os}/{arch}"),
        date: today(),
        mode: mode.to_owned(),
    }
}

/// The CPU's model name, from `/proc/cpuinfo`.
fn cpu_model() -> Option<String> {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").ok()?;
    cpuinfo.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        (key.trim() == "model name").then(|| value.trim().to_owned())
    })
}

/// Today's date (UTC), `YYYY-MM-DD`.
fn today() -> String {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (year, month, day) = civil_from_days((seconds / 86_400) as i64);
    format!("{year:04}-{month:02}-{day:02}")
}

/// The proleptic Gregorian date `days` days after 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

// ---------------------------------------------------------------------------
// Markdown
// ---------------------------------------------------------------------------

/// The report as Markdown: the machine, the call, load, throughput and
/// memory tables, and the targets.
pub fn markdown(results: &Results, machine: &Machine) -> String {
    let mut out = format!(
        "# wasmplug: Wasm vs native\n\n\
         **Machine:** {} · **Date:** {} · **Mode:** {}\n\n\
         Times are criterion's medians ± median absolute deviation.\n",
        machine.description, machine.date, machine.mode
    );
    for section in sections(results)
        .iter()
        .chain([&targets_section(&targets(results))])
    {
        out.push('\n');
        out.push_str(&section.markdown());
    }
    out
}

// ---------------------------------------------------------------------------
// SVG
// ---------------------------------------------------------------------------

/// The chart's size in pixels.
const SIZE: (u32, u32) = (1100, 560);
/// The width of the legend on the chart's right.
const LEGEND_WIDTH: u32 = 190;
const FONT: &str = "sans-serif";

/// Draws the call cases as an SVG bar chart at `path`: a group of bars per
/// case, a bar per backend, on a log time axis.
///
/// # Errors
///
/// If the chart cannot be drawn or the file cannot be written.
pub fn svg(results: &Results, path: &Path) -> Result<()> {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    draw(&root, results).with_context(|| format!("drawing {}", path.display()))?;
    root.present()
        .with_context(|| format!("writing {}", path.display()))
}

/// The drawing backend's error.
type DrawError<DB> = DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>;

/// Draws the chart, or a note when there is nothing to chart.
fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    results: &Results,
) -> Result<(), DrawError<DB>> {
    root.fill(&WHITE)?;
    let cases = results.call_cases();
    let backends = results.backends(&cases);
    let medians = results
        .measurements
        .iter()
        .filter(|m| cases.contains(&m.group.as_str()) && m.median_ns > 0.0)
        .map(|m| m.median_ns);
    let Some(range) = log_range(medians) else {
        return root.draw(&Text::new("no call results", (20, 20), (FONT, 20)));
    };
    let (chart_area, legend_area) = root.split_horizontally(SIZE.0 - LEGEND_WIDTH);
    draw_bars(&chart_area, results, &cases, &backends, range)?;
    draw_legend(&legend_area, &backends)
}

/// Whole decades around `values`, the lowest strictly below the smallest
/// value so that its bar shows; `None` if there are none.
fn log_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (low, high) = values.fold(None, |range: Option<(f64, f64)>, v| {
        Some(range.map_or((v, v), |(low, high)| (low.min(v), high.max(v))))
    })?;
    let low = 10f64.powf(low.log10().ceil() - 1.0);
    let high = 10f64.powf(high.log10().floor() + 1.0);
    Some((low, high))
}

/// The bars: case `c`'s slot is `c..c+1` on the x axis, its bars share 80%
/// of it; the case names go under the slots.
fn draw_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    results: &Results,
    cases: &[&str],
    backends: &[&str],
    (low, high): (f64, f64),
) -> Result<(), DrawError<DB>> {
    let mut chart = ChartBuilder::on(area)
        .caption("wasmplug: time per call (median, log scale)", (FONT, 22))
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..cases.len() as f64, (low..high).log_scale())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_label_formatter(&|y| axis_ns(*y))
        .y_desc("time per iteration")
        .label_style((FONT, 14))
        .draw()?;
    let width = 0.8 / backends.len() as f64;
    for (b, backend) in backends.iter().enumerate() {
        let style = backend_color(b).filled();
        let bars = cases.iter().enumerate().filter_map(|(c, case)| {
            let median = results.median(case, backend)?;
            let left = c as f64 + 0.1 + b as f64 * width;
            Some(Rectangle::new([(left, low), (left + width, median)], style))
        });
        chart.draw_series(bars)?;
    }
    // Plotters' own tick labels cannot name the slots of an `f64` axis.
    let label_style = TextStyle::from((FONT, 14)).pos(Pos::new(HPos::Center, VPos::Top));
    for (c, case) in cases.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(c as f64 + 0.5, low));
        area.draw(&Text::new(*case, (x, y + 8), label_style.clone()))?;
    }
    Ok(())
}

/// A swatch and name per backend.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    backends: &[&str],
) -> Result<(), DrawError<DB>> {
    for (b, backend) in backends.iter().enumerate() {
        let y = 60 + 24 * b as i32;
        area.draw(&Rectangle::new(
            [(10, y), (24, y + 14)],
            backend_color(b).filled(),
        ))?;
        area.draw(&Text::new(*backend, (32, y), (FONT, 15)))?;
    }
    Ok(())
}

/// The colour of the `index`th backend.
fn backend_color(index: usize) -> PaletteColor<Palette99> {
    Palette99::pick(index)
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/// Writes `report.md` and `report.svg` to `out_dir` (created if missing)
/// and returns their paths.
///
/// # Errors
///
/// If `out_dir` cannot be created or a file cannot be written.
pub fn write(results: &Results, machine: &Machine, out_dir: &Path) -> Result<(PathBuf, PathBuf)> {
    fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let report = out_dir.join("report.md");
    fs::write(&report, markdown(results, machine))
        .with_context(|| format!("writing {}", report.display()))?;
    let chart = out_dir.join("report.svg");
    svg(results, &chart)?;
    Ok((report, chart))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes a benchmark the way criterion 0.7 does: `benchmark.json` and
    /// `estimates.json` in `<group>/<function>/new/` (sanitised names).
    fn bench(dir: &Path, group: &str, function: &str, median: f64, mad: f64) {
        let safe = |s: &str| s.replace(['/', ':', '?', '*', '<', '>', '|', '"', '\\', '^'], "_");
        let new = dir.join(safe(group)).join(safe(function)).join("new");
        fs::create_dir_all(&new).unwrap();
        let id = serde_json::json!({
            "group_id": group,
            "function_id": function,
            "value_str": null,
            "throughput": null,
            "full_id": format!("{group}/{function}"),
            "directory_name": format!("{}/{}", safe(group), safe(function)),
            "title": format!("{group}/{function}"),
        });
        let estimate = |point: f64| {
            serde_json::json!({
                "confidence_interval": {
                    "confidence_level": 0.95,
                    "lower_bound": point * 0.98,
                    "upper_bound": point * 1.02,
                },
                "point_estimate": point,
                "standard_error": point * 0.01,
            })
        };
        let estimates = serde_json::json!({
            "mean": estimate(median * 1.01),
            "median": estimate(median),
            "median_abs_dev": estimate(mad),
            "slope": estimate(median),
            "std_dev": estimate(mad * 1.5),
        });
        fs::write(new.join("benchmark.json"), id.to_string()).unwrap();
        fs::write(new.join("estimates.json"), estimates.to_string()).unwrap();
        // What else criterion writes, which must be ignored.
        fs::write(new.join("sample.json"), r#"{"iters":[1.0],"times":[2.0]}"#).unwrap();
        fs::write(new.join("tukey.json"), "[1.0,2.0,3.0,4.0]").unwrap();
    }

    /// A full set of results with known numbers.
    fn full_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        bench(d, "load", "wasm compile", 50e6, 1e6);
        bench(d, "load", "wasm from cache", 500e3, 10e3);
        bench(d, "load", "wasm open from cache", 400e3, 10e3);
        bench(d, "load", "native open", 100e3, 5e3);
        bench(d, "instantiate", "raw wasmtime", 4e3, 100.0);
        bench(d, "instantiate", "wasmplug", 5e3, 100.0);
        for (case, scale) in [
            ("scalar", 1.0),
            ("string 1 KB", 4.0),
            ("bytes 64 KB", 100.0),
            ("gateway request", 10.0),
            ("host import x100", 50.0),
        ] {
            bench(d, case, "in-process", 1.0 * scale, 0.1);
            bench(d, case, "direct fn pointer", 2.0 * scale, 0.1);
            bench(d, case, "native bridge", 10.0 * scale, 0.5);
            bench(d, case, "raw wasmtime", 150.0 * scale, 3.0);
            bench(d, case, "wasmplug", 160.0 * scale, 3.0);
        }
        bench(d, "throughput", "native 1 thread", 100.0, 1.0);
        bench(d, "throughput", "native 2 threads", 105.0, 1.0);
        bench(d, "throughput", "wasmplug 1 thread", 200.0, 2.0);
        bench(d, "throughput", "wasmplug 2 threads", 250.0, 2.0);
        // Criterion's HTML reports and a baseline: ignored.
        fs::create_dir_all(d.join("report")).unwrap();
        fs::write(d.join("report/index.html"), "<html></html>").unwrap();
        let base = d.join("scalar/wasmplug/base");
        fs::create_dir_all(&base).unwrap();
        fs::write(base.join("benchmark.json"), "not json").unwrap();
        fs::write(
            d.join("memory.json"),
            r#"{"instances": 1000, "wasm_bytes_per_instance": 131072, "native_bytes": null}"#,
        )
        .unwrap();
        dir
    }

    fn target<'a>(targets: &'a [Target], name: &str) -> &'a Target {
        targets.iter().find(|t| t.name == name).unwrap()
    }

    #[test]
    fn load_reads_every_result_by_group_and_function() {
        let dir = full_dir();
        let results = load(dir.path()).unwrap();
        assert_eq!(results.measurements.len(), 4 + 2 + 5 * 5 + 4);
        let m = results.get("string 1 KB", "wasmplug").unwrap();
        assert_eq!(m.median_ns, 640.0);
        assert_eq!(m.mad_ns, 3.0);
        assert_eq!(m.median_low_ns, 640.0 * 0.98);
        assert_eq!(m.median_high_ns, 640.0 * 1.02);
        assert_eq!(m.mean_ns, 640.0 * 1.01);
        assert_eq!(results.median("load", "wasm open from cache"), Some(400e3));
        assert_eq!(
            results.memory,
            Memory {
                instances: Some(1000),
                wasm_bytes_per_instance: Some(131_072),
                native_bytes: None,
            }
        );
        // Report order: the contract's, whatever the directory order.
        let order: Vec<(&str, &str)> = results
            .measurements
            .iter()
            .map(|m| (m.group.as_str(), m.function.as_str()))
            .take(7)
            .collect();
        assert_eq!(
            order,
            [
                ("load", "wasm compile"),
                ("load", "wasm from cache"),
                ("load", "wasm open from cache"),
                ("load", "native open"),
                ("scalar", "in-process"),
                ("scalar", "direct fn pointer"),
                ("scalar", "native bridge"),
            ]
        );
    }

    #[test]
    fn names_come_from_benchmark_json_not_directories() {
        let dir = tempfile::tempdir().unwrap();
        bench(dir.path(), "odd: group", "a/b", 10.0, 1.0);
        let results = load(dir.path()).unwrap();
        assert!(results.get("odd: group", "a/b").is_some());
        assert_eq!(results.memory, Memory::default());
    }

    #[test]
    fn unparsable_benchmarks_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        bench(dir.path(), "scalar", "wasmplug", 160.0, 3.0);
        bench(dir.path(), "scalar", "raw wasmtime", 150.0, 3.0);
        fs::write(
            dir.path().join("scalar/raw wasmtime/new/estimates.json"),
            "{}",
        )
        .unwrap();
        let results = load(dir.path()).unwrap();
        assert_eq!(results.measurements.len(), 1);
        assert!(results.get("scalar", "wasmplug").is_some());
    }

    #[test]
    fn an_empty_or_missing_dir_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = load(dir.path()).unwrap_err();
        assert!(
            format!("{err:#}").contains("no criterion results"),
            "{err:#}"
        );
        let missing = dir.path().join("missing");
        let err = load(&missing).unwrap_err();
        assert!(format!("{err:#}").contains("missing"), "{err:#}");
    }

    #[test]
    fn a_broken_memory_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        bench(dir.path(), "scalar", "wasmplug", 160.0, 3.0);
        fs::write(dir.path().join("memory.json"), "{").unwrap();
        let err = load(dir.path()).unwrap_err();
        assert!(format!("{err:#}").contains("memory.json"), "{err:#}");
    }

    #[test]
    fn table_shows_cells_ratios_load_and_throughput() {
        let dir = full_dir();
        let text = table(&load(dir.path()).unwrap());
        let header = text.lines().find(|l| l.starts_with("case")).unwrap();
        let columns = [
            "in-process",
            "direct fn pointer",
            "native bridge",
            "raw wasmtime",
            "wasmplug",
            "wasm/native",
        ];
        let positions: Vec<usize> = columns.iter().map(|c| header.find(c).unwrap()).collect();
        assert!(positions.is_sorted(), "{header}");
        let scalar = text.lines().find(|l| l.starts_with("scalar")).unwrap();
        assert!(scalar.contains("160 ns ± 3.00 ns"), "{scalar}");
        assert!(scalar.contains("16.0×"), "{scalar}");
        let bytes = text.lines().find(|l| l.starts_with("bytes 64 KB")).unwrap();
        assert!(bytes.contains("16.0 µs ± 3.00 ns"), "{bytes}");
        let instantiate = text.lines().find(|l| l.starts_with("instantiate")).unwrap();
        assert!(instantiate.contains("5.00 µs ± 100 ns"), "{instantiate}");
        assert!(instantiate.trim_end().ends_with(MISSING), "{instantiate}");
        assert!(text.contains("wasm compile"), "{text}");
        assert!(text.contains("50.0 ms ± 1.00 ms"), "{text}");
        assert!(text.contains("compile / cache: 100×"), "{text}");
        // 1 request per 200 ns = 5 M/s; 2 per 250 ns = 8 M/s.
        let one = text
            .lines()
            .find(|l| l.starts_with("wasmplug 1 thread"))
            .unwrap();
        assert!(one.ends_with("5.00 M"), "{one}");
        let two = text
            .lines()
            .find(|l| l.starts_with("wasmplug 2 threads"))
            .unwrap();
        assert!(two.ends_with("8.00 M"), "{two}");
        assert!(text.contains("native 1.90×, wasmplug 1.60×"), "{text}");
        assert!(text.contains("128 KiB"), "{text}");
        assert!(text.contains("n/a"), "{text}");
    }

    #[test]
    fn unknown_groups_and_functions_are_appended() {
        let dir = tempfile::tempdir().unwrap();
        bench(dir.path(), "zzz new case", "wasmplug", 1.0, 0.1);
        bench(dir.path(), "scalar", "wasmplug", 1.0, 0.1);
        bench(dir.path(), "scalar", "another backend", 1.0, 0.1);
        let text = table(&load(dir.path()).unwrap());
        let header = text.lines().find(|l| l.starts_with("case")).unwrap();
        assert!(
            header.find("wasmplug") < header.find("another backend"),
            "{header}"
        );
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("scalar") || l.starts_with("zzz"))
            .collect();
        assert_eq!(rows.len(), 2, "{text}");
        assert!(rows[0].starts_with("scalar"), "{text}");
    }

    #[test]
    fn targets_are_computed_from_the_results() {
        let dir = full_dir();
        let targets = targets(&load(dir.path()).unwrap());
        let t = target(&targets, "wasm scalar call: wasmplug / raw wasmtime");
        assert_eq!(t.measured, Some(160.0 / 150.0));
        assert_eq!(t.measured_text(), "1.07×");
        assert_eq!(t.goal_text(), "≤ 1.10×");
        assert_eq!(t.status, Status::Met);
        let t = target(&targets, "wasm scalar call (wasmplug)");
        assert_eq!(t.measured_text(), "160 ns");
        assert_eq!(t.status, Status::Missed);
        let t = target(
            &targets,
            "native scalar call: native bridge / direct fn pointer",
        );
        assert_eq!(t.measured, Some(5.0));
        assert_eq!(t.status, Status::Missed);
        let t = target(&targets, "load: wasm compile / wasm from cache");
        assert_eq!(t.measured, Some(100.0));
        assert_eq!(t.status, Status::Met);
        let t = target(&targets, "load: wasm from cache");
        assert_eq!(t.status, Status::Met);
        assert_eq!(t.goal_text(), "≤ 1.00 ms");
        let t = target(&targets, "instantiate (wasmplug)");
        assert_eq!(t.status, Status::Met);
        let t = target(&targets, "throughput 1 → 2 threads (wasmplug)");
        assert!((t.measured.unwrap() - 1.6).abs() < 1e-9);
        assert_eq!(t.status, Status::Missed);
        let t = target(&targets, "throughput 1 → 2 threads (native)");
        assert!((t.measured.unwrap() - 200.0 / 105.0).abs() < 1e-9);
        assert_eq!(t.status, Status::Informative);
        let text = targets_table(&targets);
        assert!(text.contains("1.07×") && text.contains("missed"), "{text}");
    }

    #[test]
    fn missing_results_are_not_measured() {
        let dir = tempfile::tempdir().unwrap();
        bench(dir.path(), "scalar", "wasmplug", 140.0, 3.0);
        let targets = targets(&load(dir.path()).unwrap());
        let t = target(&targets, "wasm scalar call (wasmplug)");
        assert_eq!(t.status, Status::Met);
        let t = target(&targets, "wasm scalar call: wasmplug / raw wasmtime");
        assert_eq!(t.status, Status::NotMeasured);
        assert_eq!(t.measured_text(), "n/a");
        let not_measured = targets
            .iter()
            .filter(|t| t.status == Status::NotMeasured)
            .count();
        assert_eq!(not_measured, 6);
    }

    #[test]
    fn markdown_has_every_section() {
        let dir = full_dir();
        let results = load(dir.path()).unwrap();
        let machine = Machine {
            description: "Test CPU, 2 cores, linux/x86_64".to_owned(),
            date: "2024-01-01".to_owned(),
            mode: "quick".to_owned(),
        };
        let md = markdown(&results, &machine);
        for needle in [
            "# wasmplug",
            "Test CPU, 2 cores",
            "2024-01-01",
            "quick",
            "## Calls",
            "| case | in-process |",
            "| :--- | ---: |",
            "## Load",
            "## Throughput",
            "## Memory",
            "## Targets",
            "| wasm scalar call (wasmplug) | ≤ 150 ns | 160 ns | missed |",
        ] {
            assert!(md.contains(needle), "no {needle:?} in\n{md}");
        }
    }

    #[test]
    fn svg_is_written_with_labels() {
        let dir = full_dir();
        let results = load(dir.path()).unwrap();
        let out = tempfile::tempdir().unwrap();
        let path = out.path().join("chart.svg");
        svg(&results, &path).unwrap();
        let svg = fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        for label in [
            "scalar",
            "gateway request",
            "host import x100",
            "instantiate",
        ] {
            assert!(svg.contains(&format!("\n{label}\n")), "no case {label:?}");
        }
        for backend in BACKENDS {
            assert!(svg.contains(&format!("\n{backend}\n")), "no {backend:?}");
        }
        assert!(svg.contains("<rect"), "no bars");
    }

    #[test]
    fn write_writes_both_files() {
        let dir = tempfile::tempdir().unwrap();
        bench(dir.path(), "load", "wasm compile", 1e6, 1e3);
        let results = load(dir.path()).unwrap();
        let out = dir.path().join("out");
        let (md, svg) = write(&results, &machine("quick"), &out).unwrap();
        assert!(fs::read_to_string(md).unwrap().contains("wasm compile"));
        assert!(fs::read_to_string(svg).unwrap().contains("no call results"));
    }

    #[test]
    fn formatting() {
        assert_eq!(format_ns(0.512), "0.512 ns");
        assert_eq!(format_ns(999.6), "1.00 µs");
        assert_eq!(format_ns(12_345.0), "12.3 µs");
        assert_eq!(format_ns(2.5e9), "2.50 s");
        assert_eq!(axis_ns(1e4), "10 µs");
        assert_eq!(axis_ns(0.5), "0.5 ns");
        assert_eq!(format_ratio(14.249), "14.2×");
        assert_eq!(format_ratio(9.996), "10.0×");
        assert_eq!(format_bytes(789), "789 B");
        assert_eq!(format_bytes(3 << 20), "3.00 MiB");
        assert_eq!(threads("wasmplug 2 threads"), Some(("wasmplug", 2)));
        assert_eq!(threads("native 1 thread"), Some(("native", 1)));
        assert_eq!(threads("native"), None);
    }

    #[test]
    fn chart_range_keeps_every_bar_visible() {
        assert_eq!(log_range([1.0, 1000.0].into_iter()), Some((0.1, 1e4)));
        assert_eq!(log_range([1.5, 999.0].into_iter()), Some((1.0, 1e3)));
        assert_eq!(log_range(std::iter::empty()), None);
    }

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        let m = machine("full");
        assert_eq!(m.date.len(), 10);
        assert!(m.description.contains(std::env::consts::OS));
    }
}
