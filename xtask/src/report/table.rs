//! Tables and titled sections, rendered as aligned plain text for the
//! terminal or as GitHub-flavoured Markdown.

/// A table, rendered as plain text or Markdown.
pub(super) struct Table {
    pub(super) header: Vec<String>,
    pub(super) rows: Vec<Vec<String>>,
}

impl Table {
    pub(super) fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    /// Aligned columns: the first left-aligned, the others right-aligned.
    pub(super) fn text(&self) -> String {
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
    pub(super) fn markdown(&self) -> String {
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
pub(super) struct Section {
    pub(super) title: &'static str,
    pub(super) table: Table,
    pub(super) notes: Vec<String>,
}

impl Section {
    pub(super) fn text(&self) -> String {
        let mut out = format!("{}\n\n{}", self.title, self.table.text());
        for note in &self.notes {
            out.push_str(note);
            out.push('\n');
        }
        out
    }

    /// The section under a heading of `level` (`##` for 2).
    pub(super) fn markdown(&self, level: usize) -> String {
        let hashes = "#".repeat(level);
        let mut out = format!("{hashes} {}\n\n{}", self.title, self.table.markdown());
        for note in &self.notes {
            out.push('\n');
            out.push_str(note);
            out.push('\n');
        }
        out
    }
}
