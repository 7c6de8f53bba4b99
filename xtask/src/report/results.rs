//! What the benches measured, as the report reads it: one
//! [`Measurement`] per benchmark, the memory figures, and lookups by id.

use serde::{Deserialize, Serialize};

use crate::bench_id::{self, BACKENDS, CALL_CASES, GROUPS};

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

/// The bench's memory measurements ([`MEMORY_FILE`](crate::bench_id::MEMORY_FILE),
/// written by the `compare` bench in this format); `None` when it did not
/// measure one (or wrote no file at all).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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
    pub(super) fn ratio(&self, numerator: (&str, &str), denominator: (&str, &str)) -> Option<f64> {
        let denominator = self.median(denominator.0, denominator.1)?;
        let numerator = self.median(numerator.0, numerator.1)?;
        (denominator > 0.0).then(|| numerator / denominator)
    }

    /// The measurements of `group`, in order.
    pub(super) fn group(&self, group: &str) -> impl Iterator<Item = &Measurement> {
        self.measurements.iter().filter(move |m| m.group == group)
    }

    /// The call cases (rows of the call table): the known ones in order,
    /// then groups no other table shows.
    pub(super) fn call_cases(&self) -> Vec<&str> {
        let groups = self.measurements.iter().map(|m| m.group.as_str());
        ordered(&GROUPS, groups)
            .into_iter()
            .filter(|g| CALL_CASES.contains(g) || !GROUPS.contains(g))
            .collect()
    }

    /// The backends measured in `cases` (columns of the call table).
    pub(super) fn backends(&self, cases: &[&str]) -> Vec<&str> {
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
pub(super) fn ordered<'a>(
    known: &[&str],
    names: impl IntoIterator<Item = &'a str>,
) -> Vec<&'a str> {
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

/// The sort key putting measurements in report order: known groups and
/// functions in [`bench_id`]'s order, unknown ones after them by name.
pub(super) fn report_order(m: &Measurement) -> (usize, &str, usize, &str) {
    (
        rank(&GROUPS, &m.group),
        &m.group,
        rank(bench_id::functions(&m.group), &m.function),
        &m.function,
    )
}
