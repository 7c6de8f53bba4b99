//! What the report shows: a section per kind of result (calls, load,
//! throughput, memory, runtime configurations) and one for the targets.

use super::format::{
    cell, format_bytes, format_change, format_rate, format_ratio, or_na, ratio_cell,
};
use super::results::{Memory, Results, ordered};
use super::table::{Section, Table};
use super::targets::Target;
use super::throughput::{requests_per_second, scaling};
use crate::bench_id::{
    CONCURRENCY_SUPPORT, CONFIG_GROUPS, CONFIG_INSTANTIATE, CONFIG_SCALAR, CONFIG_SUM, CONFIGS,
    DEADLINE, DEFAULT, EPOCHS, FUEL, FUEL_LIMIT, LOAD, NATIVE_BRIDGE, NO_POOLING, THROUGHPUT,
    WASM_COMPILE, WASM_FROM_CACHE, WASMPLUG, parse_throughput_run,
};

/// The sections for the results: calls, load, throughput (those measured),
/// memory, and the runtime configurations (if measured).
pub(super) fn sections(results: &Results) -> Vec<Section> {
    [
        calls_section(results),
        load_section(results),
        throughput_section(results),
        Some(memory_section(&results.memory)),
        config_section(results),
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
    let mut notes = vec![
        "An iteration is one request on each thread (on each task, for the async run).".to_owned(),
    ];
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

/// What each runtime configuration costs (the `limits` bench): a row per
/// configuration, a column per measure with its ratio to the default; the
/// notes spell out the costs the runtime's docs quote.
fn config_section(results: &Results) -> Option<Section> {
    let groups: Vec<&str> = CONFIG_GROUPS
        .into_iter()
        .filter(|g| results.group(g).next().is_some())
        .collect();
    if groups.is_empty() {
        return None;
    }
    let configs = ordered(
        &CONFIGS,
        groups
            .iter()
            .flat_map(|g| results.group(g))
            .map(|m| m.function.as_str()),
    );
    let mut header = vec!["configuration"];
    for group in &groups {
        // The column names the measure; the table says it is per
        // configuration.
        header.extend([group.strip_prefix("config: ").unwrap_or(group), "× default"]);
    }
    let mut table = Table::new(&header);
    for config in &configs {
        let mut row = vec![(*config).to_owned()];
        for group in &groups {
            row.push(cell(results.get(group, config)));
            row.push(ratio_cell(vs_default(results, group, config)));
        }
        table.rows.push(row);
    }
    let mut notes = vec![
        "`× default`: this configuration's median over the default runtime's \
         (pooling, concurrency support, epochs and fuel off, no limits)."
            .to_owned(),
    ];
    let ratio = |group, config| vs_default(results, group, config).map(format_ratio);
    if let Some(r) = ratio(CONFIG_SCALAR, CONCURRENCY_SUPPORT) {
        notes.push(format!(
            "Concurrency support on: a scalar call takes {r} as long as with it off."
        ));
    }
    let slowdowns: Vec<String> = [EPOCHS, DEADLINE, FUEL, FUEL_LIMIT]
        .into_iter()
        .filter_map(|config| {
            let r = vs_default(results, CONFIG_SUM, config)?;
            Some(format!("{config} {}", format_change(r)))
        })
        .collect();
    if !slowdowns.is_empty() {
        notes.push(format!(
            "Guest code (the 64 KB sum) under instrumentation: {}.",
            slowdowns.join(", ")
        ));
    }
    if let Some(r) = ratio(CONFIG_INSTANTIATE, NO_POOLING) {
        notes.push(format!(
            "Instantiation without pooling takes {r} as long as with it."
        ));
    }
    notes.push(
        "Not measured: pooling without keeping freed slots resident (`PAGEMAP_SCAN`); \
         no public setting turns that off."
            .to_owned(),
    );
    Some(Section {
        title: "Runtime configuration (wasmplug, median ± MAD per iteration)",
        table,
        notes,
    })
}

/// `config`'s median in `group` over the default configuration's.
fn vs_default(results: &Results, group: &str, config: &str) -> Option<f64> {
    results.ratio((group, config), (group, DEFAULT))
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

    #[test]
    fn configurations_are_compared_with_the_default() {
        let dir = full_dir();
        let text = table(&load(dir.path()).unwrap());
        let calls = text.split("Load").next().unwrap();
        assert!(
            !calls.contains("config"),
            "configurations in the call table:\n{calls}"
        );
        // A row's cells: the columns are at least two spaces apart.
        let row = |name: &str| -> Vec<&str> {
            let line = text.lines().find(|l| l.starts_with(name)).unwrap();
            line.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        };
        assert_eq!(
            row("configuration"),
            [
                "configuration",
                "scalar call",
                "× default",
                "64 KB sum",
                "× default",
                "instantiate",
                "× default"
            ]
        );
        assert_eq!(row("default")[1..3], ["160 ns ± 1.00 ns", "1.00×"]);
        assert_eq!(
            row("concurrency support on")[1..3],
            ["480 ns ± 1.00 ns", "3.00×"]
        );
        assert_eq!(row("no pooling")[5..], ["7.50 µs ± 1.00 ns", "1.50×"]);
        for note in [
            "Concurrency support on: a scalar call takes 3.00× as long",
            "epoch interruption on +10%, deadline 1 s +12%, fuel metering on +25%, fuel limit +30%",
            "Instantiation without pooling takes 1.50× as long",
            "Not measured: pooling without keeping freed slots resident",
        ] {
            assert!(text.contains(note), "no {note:?} in\n{text}");
        }
    }

    #[test]
    fn without_the_limits_bench_there_is_no_configuration_table() {
        let dir = tempfile::tempdir().unwrap();
        bench(dir.path(), "scalar", "wasmplug", 160.0, 3.0);
        let text = table(&load(dir.path()).unwrap());
        assert!(!text.contains("Runtime configuration"), "{text}");
    }
}
