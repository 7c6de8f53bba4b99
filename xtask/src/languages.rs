//! The per-language rows of the comparison: the gateway filter written in
//! Rust (as a component and as a native library), Go and Python, measured
//! by the `compare` bench (its `languages` step) and written to
//! `languages.json` beside criterion's results; the main job prints them
//! and appends them to the report.
//!
//! Each row: the artifact's size, compiling the component (Cranelift, no
//! cache), loading it from the precompiled cache, a new instance (store,
//! instantiate, the language's own start-up, `init`), and one gateway
//! request (16 headers, 1 KB body). Medians ± median absolute deviation
//! over the samples the bench took (`samples`).

use std::path::Path;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// The file the bench writes into its `CRITERION_HOME`.
pub const LANGUAGES_FILE: &str = "languages.json";

/// A median and its median absolute deviation, in nanoseconds.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct Timing {
    /// Median.
    pub median_ns: f64,
    /// Median absolute deviation.
    pub mad_ns: f64,
    /// How many samples.
    pub samples: usize,
}

impl Timing {
    /// The median and MAD of `samples` (nanoseconds); `None` if empty.
    pub fn of(mut samples: Vec<f64>) -> Option<Self> {
        if samples.is_empty() {
            return None;
        }
        let median = median(&mut samples);
        let mut deviations: Vec<f64> = samples.iter().map(|s| (s - median).abs()).collect();
        Some(Timing {
            median_ns: median,
            mad_ns: median_of(&mut deviations),
            samples: samples.len(),
        })
    }
}

fn median(samples: &mut [f64]) -> f64 {
    median_of(samples)
}

fn median_of(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// One language's row.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Row {
    /// e.g. `Go (component)`.
    pub language: String,
    /// The guest it was built from, e.g. `guests/go/auth-filter`.
    pub source: String,
    /// The artifact's size in bytes.
    pub size_bytes: u64,
    /// Compiling the component without the cache.
    pub compile: Option<Timing>,
    /// Loading the compiled component from the cache.
    pub cached_load: Option<Timing>,
    /// A new instance with `init`.
    pub new_instance: Option<Timing>,
    /// A new instance from the snapshot taken after `init` (no `init`).
    #[serde(default)]
    pub snapshot_instance: Option<Timing>,
    /// One gateway request.
    pub request: Option<Timing>,
}

/// Writes `rows` to `dir/languages.json`.
///
/// # Errors
///
/// If the file cannot be written.
pub fn write(dir: &Path, rows: &[Row]) -> Result<()> {
    let path = dir.join(LANGUAGES_FILE);
    let json = serde_json::to_string_pretty(rows).context("serialising the language rows")?;
    std::fs::write(&path, json).with_context(|| format!("writing {}", path.display()))
}

/// Reads `dir/languages.json`; `None` if the bench did not write one.
///
/// # Errors
///
/// If the file is there but unreadable.
pub fn read(dir: &Path) -> Result<Option<Vec<Row>>> {
    let path = dir.join(LANGUAGES_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("parsing {}", path.display()))
        .map(Some)
}

const HEADER: [&str; 7] = [
    "gateway filter in",
    "size",
    "compile",
    "cached load",
    "new instance",
    "from snapshot",
    "request",
];

fn cells(row: &Row) -> [String; 7] {
    [
        row.language.clone(),
        format_bytes(row.size_bytes),
        timing(row.compile),
        timing(row.cached_load),
        timing(row.new_instance),
        timing(row.snapshot_instance),
        timing(row.request),
    ]
}

/// The rows as a Markdown section (title, table, note).
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from("## Languages\n\n");
    out.push_str(&format!("| {} |\n", HEADER.join(" | ")));
    out.push_str("| :--- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for row in rows {
        out.push_str(&format!("| {} |\n", cells(row).join(" | ")));
    }
    out.push_str(NOTE);
    out
}

/// The rows as an aligned text table.
pub fn text(rows: &[Row]) -> String {
    let all: Vec<[String; 7]> = std::iter::once(HEADER.map(str::to_owned))
        .chain(rows.iter().map(cells))
        .collect();
    let widths: Vec<usize> = (0..HEADER.len())
        .map(|i| all.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::from("Languages (the same gateway filter)\n");
    for row in &all {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (cell, w))| {
                if i == 0 {
                    format!("{cell:<w$}")
                } else {
                    format!("{cell:>w$}")
                }
            })
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

const NOTE: &str = "\nThe same auth filter in each language (one table test checks \
identical verdicts). Compile: Cranelift on the component, no cache; cached \
load: from the precompiled cache; new instance: store, instantiate (Go's \
runtime and Python's interpreter start here) and `init`; from snapshot: a \
new instance of the snapshot taken after `init` (wasmtime-wizer), which \
starts initialised; request: 16 headers, 1 KB body, through wasmplug \
(native: the bridge). Medians ± MAD.\n";

fn timing(t: Option<Timing>) -> String {
    t.map_or_else(
        || "–".to_owned(),
        |t| format!("{} ± {}", format_ns(t.median_ns), format_ns(t.mad_ns)),
    )
}

fn format_ns(ns: f64) -> String {
    let (value, unit) = if ns >= 1e9 {
        (ns / 1e9, "s")
    } else if ns >= 1e6 {
        (ns / 1e6, "ms")
    } else if ns >= 1e3 {
        (ns / 1e3, "µs")
    } else {
        (ns, "ns")
    };
    if value >= 100.0 {
        format!("{value:.0} {unit}")
    } else if value >= 10.0 {
        format!("{value:.1} {unit}")
    } else {
        format!("{value:.2} {unit}")
    }
}

fn format_bytes(bytes: u64) -> String {
    #[allow(clippy::cast_precision_loss, reason = "sizes far below 2^52")]
    let b = bytes as f64;
    if b >= 1e6 {
        format!("{:.1} MB", b / 1e6)
    } else {
        format!("{:.0} KB", b / 1e3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_mad() {
        let t = Timing::of(vec![5.0, 1.0, 3.0, 100.0]).unwrap();
        assert_eq!(t.median_ns, 4.0);
        // Deviations 1, 3, 1, 96: median 2.
        assert_eq!(t.mad_ns, 2.0);
        assert_eq!(t.samples, 4);
        assert!(Timing::of(Vec::new()).is_none());
    }

    #[test]
    fn rows_round_trip_and_render() {
        let dir = tempfile::tempdir().unwrap();
        let rows = vec![Row {
            language: "Go (component)".into(),
            source: "guests/go/auth-filter".into(),
            size_bytes: 2_606_670,
            compile: Timing::of(vec![3.6e9]),
            cached_load: Timing::of(vec![2.0e6, 2.2e6]),
            new_instance: None,
            snapshot_instance: Timing::of(vec![90e3]),
            request: Timing::of(vec![3150.0]),
        }];
        write(dir.path(), &rows).unwrap();
        assert_eq!(read(dir.path()).unwrap(), Some(rows.clone()));
        let md = markdown(&rows);
        assert!(
            md.contains("| Go (component) | 2.6 MB | 3.60 s ± 0.00 ns | 2.10 ms ± 100 µs | – | 90.0 µs ± 0.00 ns | 3.15 µs ± 0.00 ns |"),
            "{md}"
        );
        assert!(
            text(&rows)
                .lines()
                .nth(2)
                .unwrap()
                .starts_with("Go (component)")
        );
        assert_eq!(read(&dir.path().join("nowhere")).unwrap(), None);
    }
}
