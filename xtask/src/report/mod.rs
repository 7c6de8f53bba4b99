//! The comparison report: reads the results criterion 0.7 wrote for the
//! benches in `benches/` (and the `compare` bench's `memory.json`), renders
//! them as terminal tables, a Markdown report and an SVG chart, and checks
//! them against the design doc's targets.
//!
//! One file per step: `criterion` reads the results into [`Results`]
//! (`results`); `targets` checks them against the design doc; `sections`
//! lays them out as tables (`table`); `markdown` and `svg` render them;
//! `format` formats numbers, `throughput` turns runs into rates, and
//! `machine` describes where they were measured; `gateway` renders the
//! gateway job's load figures (`xtask gateway`); `readme` writes and
//! checks the README's copy of the tables. Results are found by the
//! ids in [`crate::bench_id`], which the benches name them with.

mod criterion;
mod format;
mod gateway;
mod machine;
mod markdown;
mod readme;
mod results;
mod sections;
mod svg;
mod table;
mod targets;
mod throughput;

#[cfg(test)]
mod fixture;

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

pub use criterion::load;
pub use gateway::{
    FaultRun, GATEWAY_BEGIN, GATEWAY_END, GATEWAY_FILE, GatewayReport, LoadRow, ReloadRun,
    with_gateway_section,
};
pub use machine::{Machine, machine};
pub use markdown::markdown;
pub use readme::{BEGIN, END, check_section, readme_section, replace_section};
pub use results::{Measurement, Memory, Results};
pub use sections::{table, targets_table};
pub use svg::svg;
pub use targets::{Goal, Quantity, Status, Target, targets};

/// Writes `report.md` and `report.svg` to `out_dir` (created if missing),
/// with the gateway job's section and chart panel if `gateway` is given,
/// and returns their paths.
///
/// # Errors
///
/// If `out_dir` cannot be created or a file cannot be written.
pub fn write(
    results: &Results,
    machine: &Machine,
    gateway: Option<&GatewayReport>,
    out_dir: &Path,
) -> Result<(PathBuf, PathBuf)> {
    fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let report = out_dir.join("report.md");
    let mut text = markdown(results, machine);
    if let Some(gateway) = gateway {
        text = with_gateway_section(&text, &gateway.markdown());
    }
    fs::write(&report, text).with_context(|| format!("writing {}", report.display()))?;
    let chart = out_dir.join("report.svg");
    svg(results, gateway, &chart)?;
    Ok((report, chart))
}

/// The gateway job's last run written in `out_dir`, if any.
///
/// # Errors
///
/// If the file is there but cannot be read or parsed.
pub fn read_gateway(out_dir: &Path) -> Result<Option<GatewayReport>> {
    let path = out_dir.join(GATEWAY_FILE);
    if !path.is_file() {
        return Ok(None);
    }
    let json = fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&json)
        .map(Some)
        .with_context(|| format!("parsing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::fixture::bench;
    use super::*;

    #[test]
    fn write_writes_both_files() {
        let dir = tempfile::tempdir().unwrap();
        bench(dir.path(), "load", "wasm compile", 1e6, 1e3);
        let results = load(dir.path()).unwrap();
        let out = dir.path().join("out");
        let (md, svg) = write(&results, &machine("quick"), None, &out).unwrap();
        assert!(fs::read_to_string(md).unwrap().contains("wasm compile"));
        assert!(fs::read_to_string(svg).unwrap().contains("no call results"));
        assert_eq!(read_gateway(&out).unwrap(), None);
        let gateway = gateway::sample();
        fs::write(
            out.join(GATEWAY_FILE),
            serde_json::to_string(&gateway).unwrap(),
        )
        .unwrap();
        let read = read_gateway(&out).unwrap().unwrap();
        assert_eq!(read, gateway);
        let (md, svg) = write(&results, &machine("quick"), Some(&read), &out).unwrap();
        assert!(fs::read_to_string(md).unwrap().contains(GATEWAY_BEGIN));
        assert!(
            fs::read_to_string(svg)
                .unwrap()
                .contains("requests/s at 64")
        );
    }
}
