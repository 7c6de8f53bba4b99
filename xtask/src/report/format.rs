//! Numbers as the report shows them: 3 significant digits, human units.

use super::results::Measurement;

/// Shown in a table cell that has no measurement.
pub(super) const MISSING: &str = "–";

/// `value` rounded to 3 significant digits.
fn round3(value: f64) -> f64 {
    if value == 0.0 || !value.is_finite() {
        return value;
    }
    let scale = 10f64.powi(value.abs().log10().floor() as i32 - 2);
    (value / scale).round() * scale
}

/// `value` with 3 significant digits, e.g. `1.07`, `14.2`, `160`.
fn sig3(value: f64) -> String {
    let value = round3(value);
    if value == 0.0 || !value.is_finite() {
        return format!("{value}");
    }
    let decimals = (2 - value.abs().log10().floor() as i32).clamp(0, 9);
    format!("{value:.*}", decimals as usize)
}

/// `ns` in the largest unit (ns, µs, ms, s) that keeps it ≥ 1.
fn scale_ns(ns: f64) -> (f64, &'static str) {
    let ns = round3(ns);
    [(1e9, "s"), (1e6, "ms"), (1e3, "µs")]
        .into_iter()
        .find(|(scale, _)| ns.abs() >= *scale)
        .map_or((ns, "ns"), |(scale, unit)| (ns / scale, unit))
}

/// A time with 3 significant digits and a human unit, e.g. `1.52 µs`.
pub(super) fn format_ns(ns: f64) -> String {
    let (value, unit) = scale_ns(ns);
    format!("{} {unit}", sig3(value))
}

/// A time for an axis label: like [`format_ns`] without trailing zeros.
pub(super) fn axis_ns(ns: f64) -> String {
    let (value, unit) = scale_ns(ns);
    let digits = sig3(value);
    let digits = if digits.contains('.') {
        digits.trim_end_matches('0').trim_end_matches('.')
    } else {
        &digits
    };
    format!("{digits} {unit}")
}

/// A ratio, e.g. `14.2×`.
pub(super) fn format_ratio(ratio: f64) -> String {
    format!("{}×", sig3(ratio))
}

/// A rate with 3 significant digits and an SI prefix, e.g. `6.25 M`.
pub(super) fn format_rate(rate: f64) -> String {
    let rate = round3(rate);
    [(1e9, " G"), (1e6, " M"), (1e3, " k")]
        .into_iter()
        .find(|(scale, _)| rate >= *scale)
        .map_or_else(
            || sig3(rate),
            |(scale, prefix)| format!("{}{prefix}", sig3(rate / scale)),
        )
}

/// A ratio as a change in percent, e.g. `+12%` for 1.12.
pub(super) fn format_change(ratio: f64) -> String {
    format!("{:+.0}%", (ratio - 1.0) * 100.0)
}

/// A byte count with 3 significant digits and a binary unit, e.g. `121 KiB`.
pub(super) fn format_bytes(bytes: u64) -> String {
    let bytes = bytes as f64;
    [(1u64 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")]
        .into_iter()
        .map(|(scale, unit)| (scale as f64, unit))
        .find(|(scale, _)| bytes >= *scale)
        .map_or_else(
            || format!("{bytes} B"),
            |(scale, unit)| format!("{} {unit}", sig3(bytes / scale)),
        )
}

/// A table cell: `median ± MAD`, or [`MISSING`].
pub(super) fn cell(m: Option<&Measurement>) -> String {
    m.map_or_else(
        || MISSING.to_owned(),
        |m| format!("{} ± {}", format_ns(m.median_ns), format_ns(m.mad_ns)),
    )
}

/// A ratio cell, or [`MISSING`].
pub(super) fn ratio_cell(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| MISSING.to_owned(), format_ratio)
}

/// An optional number, or `n/a`.
pub(super) fn or_na<T>(value: Option<T>, format: impl FnOnce(T) -> String) -> String {
    value.map_or_else(|| "n/a".to_owned(), format)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting() {
        assert_eq!(format_ns(0.512), "0.512 ns");
        assert_eq!(format_ns(999.6), "1.00 µs");
        assert_eq!(format_ns(12_345.0), "12.3 µs");
        assert_eq!(format_ns(2.5e9), "2.50 s");
        assert_eq!(axis_ns(1e4), "10 µs");
        assert_eq!(axis_ns(0.5), "0.5 ns");
        assert_eq!(format_ratio(14.249), "14.2×");
        assert_eq!(format_ratio(9.996), "10.0×");
        assert_eq!(format_bytes(789), "789 B");
        assert_eq!(format_bytes(3 << 20), "3.00 MiB");
        assert_eq!(format_change(1.124), "+12%");
        assert_eq!(format_change(0.97), "-3%");
    }
}
