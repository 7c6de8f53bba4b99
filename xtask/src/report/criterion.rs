//! Reading what criterion 0.7 wrote. For every benchmark it writes
//! `<dir>/<group>/<function>/new/benchmark.json` (the benchmark's id) and
//! `.../new/estimates.json` (mean, median, MAD, ... in nanoseconds per
//! iteration). Directory names are sanitised, so the names the report
//! shows are the `group_id` / `function_id` inside `benchmark.json`.

use std::ffi::OsStr;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::results::{Measurement, Memory, Results, report_order};
use crate::bench_id::MEMORY_FILE;

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

#[cfg(test)]
mod tests {
    use std::fs;

    use super::super::fixture::{bench, full_dir};
    use super::*;

    #[test]
    fn load_reads_every_result_by_group_and_function() {
        let dir = full_dir();
        let results = load(dir.path()).unwrap();
        // load, instantiate, 5 call cases × 5 backends, 7 throughput runs,
        // snapshot, pool, async vs sync, 3 limits groups × 9 configurations.
        assert_eq!(
            results.measurements.len(),
            4 + 2 + 5 * 5 + 7 + 3 + 2 + 4 + 3 * 9
        );
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
}
