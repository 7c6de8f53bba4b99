//! The report as Markdown: the machine, the section tables and the
//! targets.

use super::machine::Machine;
use super::results::Results;
use super::sections::{sections, targets_section};
use super::targets::targets;

/// The report as Markdown: the machine, the call, load, throughput,
/// memory and configuration tables, and the targets.
pub fn markdown(results: &Results, machine: &Machine) -> String {
    format!(
        "# wasmplug: Wasm vs native\n\n\
         **Machine:** {} · **Date:** {} · **Mode:** {}\n\n\
         Times are criterion's medians ± median absolute deviation.\n{}",
        machine.description,
        machine.date,
        machine.mode,
        sections_markdown(results, 2)
    )
}

/// Every section and the targets, each under a heading of `level` and
/// after a blank line.
pub(super) fn sections_markdown(results: &Results, level: usize) -> String {
    let mut out = String::new();
    for section in sections(results)
        .iter()
        .chain([&targets_section(&targets(results))])
    {
        out.push('\n');
        out.push_str(&section.markdown(level));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::criterion::load;
    use super::super::fixture::full_dir;
    use super::*;

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
            "## Runtime configuration",
            "| configuration | scalar call | × default | 64 KB sum | × default | instantiate | × default |",
            "## Targets",
            "| wasm scalar call (wasmplug) | ≤ 150 ns | 160 ns | missed |",
        ] {
            assert!(md.contains(needle), "no {needle:?} in\n{md}");
        }
    }
}
