//! What the report shows: a section per kind of result (calls, load,
//! throughput, memory) and one for the targets.

use super::format::{cell, format_bytes, format_rate, format_ratio, or_na, ratio_cell};
use super::results::{Memory, Results, ordered};
use super::table::{Section, Table};
use super::targets::Target;
use super::throughput::{requests_per_second, scaling};
use crate::bench_id::{
    LOAD, NATIVE_BRIDGE, THROUGHPUT, WASM_COMPILE, WASM_FROM_CACHE, WASMPLUG, parse_throughput_run,
};

/// The sections for the results: calls, load, throughput (those measured)
/// and memory.
pub(super) fn sections(results: &Results) -> Vec<Section> {
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
            .filter_map(|m| parse_throughput_run(&m.function).map(|(backend, _)| backend)),
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
pub(super) fn targets_section(targets: &[Target]) -> Section {
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

#[cfg(test)]
mod tests {
    use super::super::criterion::load;
    use super::super::fixture::{bench, full_dir};
    use super::super::format::MISSING;
    use super::super::targets::targets;
    use super::*;

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
    fn targets_table_shows_values_and_statuses() {
        let dir = full_dir();
        let text = targets_table(&targets(&load(dir.path()).unwrap()));
        assert!(text.contains("1.07×") && text.contains("missed"), "{text}");
    }
}
