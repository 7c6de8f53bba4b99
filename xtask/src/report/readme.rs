//! The report's section of the README: the tables between two marker
//! comments, written by the main job (`--update-readme`) and never by hand,
//! and a check that what is there has the report's shape (titles, columns,
//! rows and the kind of each cell; not the numbers).

use anyhow::{Result, bail, ensure};

use super::machine::Machine;
use super::markdown::sections_markdown;
use super::results::Results;

/// The line before the report's section in the README.
pub const BEGIN: &str = "<!-- report:begin -->";
/// The line after it.
pub const END: &str = "<!-- report:end -->";

/// The section's heading level: the tables sit under the README's
/// `## The comparison`.
const LEVEL: usize = 3;

/// The report's README section for `results`, markers included: where
/// and how it was measured, then the report's tables and the targets.
pub fn readme_section(results: &Results, machine: &Machine) -> String {
    format!(
        "{BEGIN}\n\
         <!-- written by `cargo run --release -p xtask -- --update-readme`: do not edit by hand -->\n\n\
         **Machine:** {} · **Date:** {} · **Mode:** {}\n\
         {}{END}\n",
        machine.description,
        machine.date,
        machine.mode,
        sections_markdown(results, LEVEL),
    )
}

/// `readme` with the text between its markers (the markers included)
/// replaced by `section` (a [`readme_section`]).
///
/// # Errors
///
/// If the markers are missing, repeated or out of order.
pub fn replace_section(readme: &str, section: &str) -> Result<String> {
    let (start, end) = section_span(readme)?;
    Ok(format!("{}{section}{}", &readme[..start], &readme[end..]))
}

/// The byte range of the section in `readme`, from the start of the begin
/// marker to the end of the end marker's line.
fn section_span(readme: &str) -> Result<(usize, usize)> {
    let once = |marker: &str| -> Result<usize> {
        let mut found = readme.match_indices(marker).map(|(i, _)| i);
        match (found.next(), found.next()) {
            (Some(i), None) => Ok(i),
            (None, _) => bail!("the README has no `{marker}` line"),
            (Some(_), Some(_)) => bail!("the README has `{marker}` more than once"),
        }
    };
    let start = once(BEGIN)?;
    let end = once(END)?;
    ensure!(start < end, "`{END}` comes before `{BEGIN}` in the README");
    let end = end + END.len();
    let end = readme[end..]
        .find('\n')
        .map_or(readme.len(), |n| end + n + 1);
    Ok((start, end))
}

/// What a table in the section looks like, numbers aside.
#[derive(Debug, Clone, PartialEq, Eq)]
struct TableShape {
    /// The heading above it.
    title: String,
    /// The header row.
    header: Vec<String>,
    /// Each row: its first cell, then the kind of each other cell.
    rows: Vec<(String, Vec<CellKind>)>,
}

/// What a cell holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CellKind {
    /// `median ± MAD`, e.g. `187 ns ± 1.20 ns`.
    TimeSpread,
    /// A time, e.g. `187 ns`.
    Time,
    /// A ratio, e.g. `1.11×`.
    Ratio,
    /// A count or a rate, e.g. `1000`, `775 k`.
    Number,
    /// A size, e.g. `23.6 KiB`.
    Bytes,
    /// Not measured: `–` or `n/a`.
    Missing,
    /// Words (a target's name or status).
    Text,
}

/// Checks that the section between the markers in `readme` has the shape
/// of `expected` (a [`readme_section`] of a run that measured everything):
/// the same tables with the same headers, rows the report writes in the
/// order it writes them, each cell holding the same kind of value or none.
/// The numbers are not compared.
///
/// # Errors
///
/// Naming the first difference.
pub fn check_section(readme: &str, expected: &str) -> Result<()> {
    let (start, end) = section_span(readme)?;
    let found = shapes(&readme[start..end])?;
    let expected = shapes(expected)?;
    ensure!(
        titles(&found) == titles(&expected),
        "the README's report section has tables {:?}, the report {:?}",
        titles(&found),
        titles(&expected)
    );
    for (found, expected) in found.iter().zip(&expected) {
        let title = &found.title;
        ensure!(
            found.header == expected.header,
            "{title}: the README's columns are {:?}, the report's {:?}",
            found.header,
            expected.header
        );
        // Each row of the README's is one of the report's, in its order
        // (a run may measure fewer configurations than the report knows).
        let mut expected_rows = expected.rows.iter();
        for (name, cells) in &found.rows {
            let Some((_, kinds)) = expected_rows.by_ref().find(|(n, _)| same_row(n, name)) else {
                bail!(
                    "{title}: the README has a row {name:?} the report does not write there \
                     (or not in that order)"
                );
            };
            for (column, (cell, kind)) in cells.iter().zip(kinds).enumerate() {
                ensure!(
                    cell == kind || *cell == CellKind::Missing,
                    "{title}, row {name:?}, column {:?}: {cell:?} where the report writes {kind:?}",
                    found.header[column + 1]
                );
            }
        }
    }
    Ok(())
}

/// Whether rows named `a` and `b` are the same row: the same name, or the
/// same kind of value where the first cell is one (the memory table's
/// instance count).
fn same_row(a: &str, b: &str) -> bool {
    match (kind(a), kind(b)) {
        (CellKind::Text, _) | (_, CellKind::Text) => a == b,
        (a, b) => a == b,
    }
}

fn titles(shapes: &[TableShape]) -> Vec<&str> {
    shapes.iter().map(|s| s.title.as_str()).collect()
}

/// The tables in `markdown`, each under the nearest heading above it.
fn shapes(markdown: &str) -> Result<Vec<TableShape>> {
    let mut shapes: Vec<TableShape> = Vec::new();
    let mut title = None;
    let mut lines = markdown.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(heading) = line.strip_prefix('#') {
            title = Some(heading.trim_start_matches('#').trim().to_owned());
        } else if line.starts_with('|') {
            let Some(title) = title.take() else {
                bail!("a table with no heading above it: {line}");
            };
            let header = cells(line);
            let rule = lines.next().unwrap_or_default();
            ensure!(
                cells(rule)
                    .iter()
                    .all(|c| c.trim_matches(':').chars().all(|c| c == '-')),
                "{title}: no alignment row under the header"
            );
            let mut rows = Vec::new();
            while let Some(row) = lines.next_if(|l| l.starts_with('|')) {
                let row = cells(row);
                ensure!(
                    row.len() == header.len(),
                    "{title}: a row of {} cells under {} columns: {row:?}",
                    row.len(),
                    header.len()
                );
                let kinds = row[1..].iter().map(|c| kind(c)).collect();
                rows.push((row[0].clone(), kinds));
            }
            shapes.push(TableShape {
                title,
                header,
                rows,
            });
        }
    }
    Ok(shapes)
}

/// The cells of a Markdown table row (`\|` is a `|` inside a cell).
fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut cells = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                cells.last_mut().expect("one at least").push('|');
            }
            '|' => cells.push(String::new()),
            c => cells.last_mut().expect("one at least").push(c),
        }
    }
    cells.iter().map(|c| c.trim().to_owned()).collect()
}

/// What `cell` holds.
fn kind(cell: &str) -> CellKind {
    let number = |s: &str| s.parse::<f64>().is_ok();
    let quantity = |s: &str, units: &[&str]| {
        s.split_once(' ')
            .is_some_and(|(n, unit)| number(n) && units.contains(&unit))
    };
    let time = |s: &str| quantity(s, &["ns", "µs", "ms", "s"]);
    if cell == super::format::MISSING || cell == "n/a" {
        CellKind::Missing
    } else if let Some((median, mad)) = cell.split_once(" ± ") {
        if time(median) && time(mad) {
            CellKind::TimeSpread
        } else {
            CellKind::Text
        }
    } else if time(cell) {
        CellKind::Time
    } else if cell.strip_suffix('×').is_some_and(number) {
        CellKind::Ratio
    } else if quantity(cell, &["B", "KiB", "MiB", "GiB"]) {
        CellKind::Bytes
    } else if number(cell) || quantity(cell, &["k", "M", "G"]) {
        CellKind::Number
    } else {
        CellKind::Text
    }
}

#[cfg(test)]
mod tests {
    use super::super::criterion::load;
    use super::super::fixture::full_dir;
    use super::*;

    fn machine() -> Machine {
        Machine {
            description: "Test CPU, 2 cores, linux/x86_64".to_owned(),
            date: "2024-01-01".to_owned(),
            mode: "full".to_owned(),
        }
    }

    /// The section for a run that measured every known benchmark and
    /// both memory figures.
    fn expected() -> String {
        let dir = full_dir();
        std::fs::write(
            dir.path().join(crate::bench_id::MEMORY_FILE),
            r#"{"instances": 1000, "wasm_bytes_per_instance": 24166, "native_bytes": 266240}"#,
        )
        .unwrap();
        readme_section(&load(dir.path()).unwrap(), &machine())
    }

    #[test]
    fn cells_are_classified() {
        assert_eq!(kind("187 ns ± 1.20 ns"), CellKind::TimeSpread);
        assert_eq!(kind("5.49 µs"), CellKind::Time);
        assert_eq!(kind("70.7×"), CellKind::Ratio);
        assert_eq!(kind("775 k"), CellKind::Number);
        assert_eq!(kind("1000"), CellKind::Number);
        assert_eq!(kind("23.6 KiB"), CellKind::Bytes);
        assert_eq!(kind("–"), CellKind::Missing);
        assert_eq!(kind("n/a"), CellKind::Missing);
        assert_eq!(kind("missed"), CellKind::Text);
        assert_eq!(cells(r"| a \| b | c |"), ["a | b", "c"]);
    }

    #[test]
    fn a_section_replaces_the_old_one_and_passes_its_own_check() {
        let readme = format!("# x\n\nbefore\n\n{BEGIN}\nold\n{END}\n\nafter\n");
        let section = expected();
        let updated = replace_section(&readme, &section).unwrap();
        assert!(updated.starts_with("# x\n\nbefore\n\n<!-- report:begin -->\n"));
        assert!(
            updated.ends_with("<!-- report:end -->\n\nafter\n"),
            "{updated}"
        );
        assert!(!updated.contains("old"));
        check_section(&updated, &section).unwrap();
        // Idempotent.
        assert_eq!(replace_section(&updated, &section).unwrap(), updated);
    }

    #[test]
    fn markers_must_be_there_once_and_in_order() {
        for readme in [
            "no markers\n".to_owned(),
            format!("{END}\n{BEGIN}\n"),
            format!("{BEGIN}\n{BEGIN}\n{END}\n"),
            format!("{BEGIN}\n"),
        ] {
            assert!(replace_section(&readme, "x").is_err(), "{readme}");
        }
    }

    #[test]
    fn a_hand_edited_section_fails_the_check() {
        let section = expected();
        let readme = |section: &str| format!("intro\n{section}outro\n");
        // A renamed row, a column too many, a number where a ratio was,
        // rows out of order.
        for (from, to) in [
            ("| scalar |", "| scalar (`add-one`) |"),
            ("| case |", "| case | extra |"),
            ("| 16.0× |", "| 16 |"),
            ("| string 1 KB |", "| scalar |"),
        ] {
            assert!(section.contains(from), "{from}");
            let edited = section.replacen(from, to, 1);
            let err = check_section(&readme(&edited), &section).unwrap_err();
            assert!(!format!("{err}").is_empty());
        }
        // A missing measurement or configuration is still the report's
        // shape.
        let missing = section.replacen("| 16.0× |", "| – |", 1);
        check_section(&readme(&missing), &section).unwrap();
        let fewer: String = section
            .lines()
            .filter(|l| !l.starts_with("| concurrency support on |"))
            .map(|l| format!("{l}\n"))
            .collect();
        assert_ne!(fewer, section);
        check_section(&readme(&fewer), &section).unwrap();
    }

    /// The README's comparison is the report's own output: its section
    /// parses as what the report writes (numbers not compared).
    #[test]
    fn the_readme_section_is_the_reports_output() {
        let path = crate::workspace_root().join("README.md");
        let readme = std::fs::read_to_string(&path).unwrap();
        check_section(&readme, &expected()).unwrap_or_else(|e| {
            panic!(
                "{}: {e:#}\nregenerate it with `cargo run --release -p xtask -- --update-readme`",
                path.display()
            )
        });
    }
}
