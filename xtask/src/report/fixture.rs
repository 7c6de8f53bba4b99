//! Criterion output written by hand, for the report's unit tests.

use std::fs;
use std::path::Path;

/// Writes a benchmark the way criterion 0.7 does: `benchmark.json` and
/// `estimates.json` in `<group>/<function>/new/` (sanitised names).
pub(super) fn bench(dir: &Path, group: &str, function: &str, median: f64, mad: f64) {
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
pub(super) fn full_dir() -> tempfile::TempDir {
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
    bench(d, "throughput", "pooled 1 thread", 220.0, 2.0);
    bench(d, "throughput", "pooled 2 threads", 260.0, 2.0);
    bench(d, "throughput", "pooled async 64 tasks", 9e3, 50.0);
    bench(d, "snapshot", "instantiate + init", 10e6, 1e5);
    bench(d, "snapshot", "instantiate from snapshot", 5e3, 100.0);
    bench(d, "snapshot", "take snapshot", 60e6, 1e6);
    bench(d, "pool", "checkout + call", 2.4e3, 20.0);
    bench(d, "pool", "private instance call", 2.2e3, 20.0);
    bench(d, "async vs sync", "async scalar", 300.0, 3.0);
    bench(d, "async vs sync", "sync scalar", 150.0, 2.0);
    bench(d, "async vs sync", "async gateway request", 2.6e3, 20.0);
    bench(d, "async vs sync", "sync gateway request", 2.2e3, 20.0);
    // The `limits` bench: each configuration a multiple of the default.
    for (group, default) in [
        ("config: scalar call", 160.0),
        ("config: 64 KB sum", 30e3),
        ("config: instantiate", 5e3),
    ] {
        for (config, factor) in [
            ("default", 1.0),
            ("concurrency support on", 3.0),
            ("no pooling", 1.5),
            ("epoch interruption on", 1.1),
            ("deadline 1 s", 1.12),
            ("fuel metering on", 1.25),
            ("fuel limit", 1.3),
            ("memory limit", 1.0),
            ("private instance", 0.9),
        ] {
            bench(d, group, config, default * factor, 1.0);
        }
    }
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
