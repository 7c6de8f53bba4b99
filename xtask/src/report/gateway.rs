//! The gateway under load (`cargo run --release -p xtask -- gateway`):
//! what was measured ([`GatewayReport`]), as a terminal table and a
//! Markdown section, and its two targets.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::machine::Machine;

/// The file the gateway job writes beside the report.
pub const GATEWAY_FILE: &str = "gateway.json";

/// Markers around the gateway section in `report.md`.
pub const GATEWAY_BEGIN: &str = "<!-- gateway:begin -->";
/// The end marker.
pub const GATEWAY_END: &str = "<!-- gateway:end -->";

/// Everything the gateway job measured, in one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayReport {
    /// Where and when.
    pub machine: Machine,
    /// Connections sending at once.
    pub concurrency: usize,
    /// One row per chain and backend.
    pub rows: Vec<LoadRow>,
    /// No filter and one filter on each backend, on one connection: the
    /// latency without queueing.
    pub latency: Vec<LoadRow>,
    /// The auth filter reloaded every second, alternating two versions.
    pub reload: ReloadRun,
    /// A filter trapping on 1 % of requests.
    pub faults: FaultRun,
}

/// One chain under load.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadRow {
    /// `no filter`, `1 filter`, `3 filters`.
    pub chain: String,
    /// `–`, `wasm` or `native`.
    pub backend: String,
    /// Answered requests.
    pub requests: u64,
    /// Requests answered with another status than 200, or not at all.
    pub errors: u64,
    /// Answered requests per second.
    pub rate: f64,
    /// Median latency, µs.
    pub p50_us: f64,
    /// 99th percentile latency, µs.
    pub p99_us: f64,
    /// Mean time inside the filters per request, µs (the gateway's own
    /// histogram), if there are filters.
    pub in_filters_us: Option<f64>,
}

/// The 30 s run with a reload every second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReloadRun {
    /// Seconds of load.
    pub seconds: f64,
    /// Requests sent.
    pub requests: u64,
    /// Requests not answered 200 (or not answered at all).
    pub failed: u64,
    /// Reloads that swapped the filter.
    pub reloads: u64,
    /// Responses by the filter version that stamped them.
    pub by_version: BTreeMap<String, u64>,
    /// Responses stamped by no version or by more than one.
    pub not_exactly_one: u64,
}

/// The 30 s run with a filter trapping on every 100th request id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultRun {
    /// Seconds of load.
    pub seconds: f64,
    /// Requests sent.
    pub requests: u64,
    /// Requests whose id is a multiple of 100: those that must get 500.
    pub expected_500: u64,
    /// Of those, the ones that got 500.
    pub got_500: u64,
    /// All others, and how many of them got 200.
    pub others: u64,
    /// Of the others, those answered 200.
    pub others_200: u64,
    /// Requests without a response.
    pub failed: u64,
    /// Resident memory after the first second, KiB.
    pub rss_start_kib: u64,
    /// Resident memory half-way, KiB.
    pub rss_middle_kib: u64,
    /// Resident memory at the end, KiB.
    pub rss_end_kib: u64,
}

impl GatewayReport {
    fn row(&self, chain: &str, backend: &str) -> Option<&LoadRow> {
        find(&self.rows, chain, backend)
    }

    /// Three Wasm filters' throughput over no filter's (target ≥ 0.5).
    pub fn chain_ratio(&self) -> Option<f64> {
        Some(self.row("3 filters", "wasm")?.rate / self.row("no filter", "–")?.rate)
    }

    /// The Wasm filter's added median latency over the native filter's
    /// (target ≤ 3), measured on one connection (at 64 connections the
    /// median is mostly queueing), and both added latencies in µs; the
    /// ratio is NaN when either filter added nothing above the noise.
    pub fn added_p50(&self) -> Option<(f64, f64, f64)> {
        let base = find(&self.latency, "no filter", "–")?.p50_us;
        let wasm = find(&self.latency, "1 filter", "wasm")?.p50_us - base;
        let native = find(&self.latency, "1 filter", "native")?.p50_us - base;
        let ratio = if native > 0.0 && wasm > 0.0 {
            wasm / native
        } else {
            f64::NAN
        };
        Some((wasm, native, ratio))
    }

    /// The section as Markdown, between [`GATEWAY_BEGIN`] and
    /// [`GATEWAY_END`].
    pub fn markdown(&self) -> String {
        format!(
            "{GATEWAY_BEGIN}\n## Gateway under load\n\n\
             **Machine:** {} · **Date:** {} · loopback; the gateway, the echo upstream \
             and the load generator share one process and one 2-worker tokio runtime \
             on a shared machine\n\n\
             ### {} connections\n\n{}\n\
             ### One connection (latency without queueing)\n\n{}\n{}\n{GATEWAY_END}\n",
            self.machine.description,
            self.machine.date,
            self.concurrency,
            markdown_rows(&self.rows),
            markdown_rows(&self.latency),
            self.runs_text()
        )
    }

    /// The two 30 s runs and the targets, as lines (Markdown and terminal
    /// alike).
    pub fn runs_text(&self) -> String {
        let r = &self.reload;
        let versions: Vec<String> = r
            .by_version
            .iter()
            .map(|(v, n)| format!("{v}: {n}"))
            .collect();
        let f = &self.faults;
        let mib = |kib: u64| kib as f64 / 1024.0;
        let mut out = format!(
            "- Reload every second for {:.0} s, alternating auth-filter 1.0.0 and 1.1.0: \
             {} requests, **{} failed**, {} reloads applied; responses by version: {}; \
             stamped by no or several versions: {}.\n\
             - fault-filter trapping on every 100th request id for {:.0} s: {} requests; \
             **{} of the {} expected got 500**, {} of the {} others got 200, {} without response; \
             resident memory {:.1} MiB after the first second, {:.1} MiB half-way, \
             {:.1} MiB at the end ({:+.1} MiB in the second half).\n",
            r.seconds,
            r.requests,
            r.failed,
            r.reloads,
            versions.join(", "),
            r.not_exactly_one,
            f.seconds,
            f.requests,
            f.got_500,
            f.expected_500,
            f.others_200,
            f.others,
            f.failed,
            mib(f.rss_start_kib),
            mib(f.rss_middle_kib),
            mib(f.rss_end_kib),
            mib(f.rss_end_kib) - mib(f.rss_middle_kib),
        );
        if let Some(ratio) = self.chain_ratio() {
            out.push_str(&format!(
                "- Target: three Wasm filters keep ≥ 50 % of no filter's throughput: {:.0} % ({}).\n",
                ratio * 100.0,
                if ratio >= 0.5 { "met" } else { "missed" }
            ));
        }
        if let Some((wasm, native, ratio)) = self.added_p50() {
            let status = if ratio.is_nan() {
                "not measurable: a filter added nothing above the noise".to_owned()
            } else if ratio <= 3.0 {
                format!("{ratio:.2}×, met")
            } else {
                format!("{ratio:.2}×, missed")
            };
            out.push_str(&format!(
                "- Target: the Wasm filter's added p50 ≤ 3× the native filter's (one connection): \
                 {wasm:.1} µs vs {native:.1} µs ({status}).\n"
            ));
        }
        out
    }

    /// The load tables for the terminal.
    pub fn text(&self) -> String {
        format!(
            "{} connections\n{}\n1 connection\n{}\n{}",
            self.concurrency,
            text_rows(&self.rows),
            text_rows(&self.latency),
            self.runs_text()
        )
    }
}

fn find<'r>(rows: &'r [LoadRow], chain: &str, backend: &str) -> Option<&'r LoadRow> {
    rows.iter()
        .find(|r| r.chain == chain && r.backend == backend)
}

fn in_filters(r: &LoadRow) -> String {
    r.in_filters_us
        .map_or_else(|| "–".to_owned(), |us| format!("{us:.1} µs"))
}

fn markdown_rows(rows: &[LoadRow]) -> String {
    let mut out =
        "| chain | backend | requests | errors | requests/s | p50 | p99 | in filters (mean) |\n\
                   | :--- | :--- | ---: | ---: | ---: | ---: | ---: | ---: |\n"
            .to_owned();
    for r in rows {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {:.0} | {:.0} µs | {:.0} µs | {} |\n",
            r.chain,
            r.backend,
            r.requests,
            r.errors,
            r.rate,
            r.p50_us,
            r.p99_us,
            in_filters(r)
        ));
    }
    out
}

fn text_rows(rows: &[LoadRow]) -> String {
    let mut out = format!(
        "{:<10} {:<7} {:>9} {:>7} {:>11} {:>9} {:>9} {:>11}\n",
        "chain", "backend", "requests", "errors", "requests/s", "p50", "p99", "in filters"
    );
    for r in rows {
        out.push_str(&format!(
            "{:<10} {:<7} {:>9} {:>7} {:>11.0} {:>6.0} µs {:>6.0} µs {:>11}\n",
            r.chain,
            r.backend,
            r.requests,
            r.errors,
            r.rate,
            r.p50_us,
            r.p99_us,
            in_filters(r)
        ));
    }
    out
}

/// `report` with its gateway section replaced by `section` (or appended).
pub fn with_gateway_section(report: &str, section: &str) -> String {
    match (report.find(GATEWAY_BEGIN), report.find(GATEWAY_END)) {
        (Some(begin), Some(end)) if begin < end => {
            let end = end + GATEWAY_END.len();
            let rest = report[end..].strip_prefix('\n').unwrap_or(&report[end..]);
            format!("{}{section}{rest}", &report[..begin])
        }
        _ => {
            let mut out = report.trim_end().to_owned();
            if !out.is_empty() {
                out.push_str("\n\n");
            }
            out.push_str(section);
            out
        }
    }
}

/// A made-up run, for tests of what reads it.
#[cfg(test)]
pub(super) fn sample() -> GatewayReport {
    let row = |chain: &str, backend: &str, rate: f64, p50: f64| LoadRow {
        chain: chain.into(),
        backend: backend.into(),
        requests: 1000,
        errors: 0,
        rate,
        p50_us: p50,
        p99_us: p50 * 3.0,
        in_filters_us: None,
    };
    GatewayReport {
        machine: Machine {
            description: "Test CPU, 2 cores".into(),
            date: "2026-11-25".into(),
            mode: "gateway".into(),
        },
        concurrency: 64,
        rows: vec![
            row("no filter", "–", 10_000.0, 100.0),
            row("1 filter", "wasm", 8_000.0, 130.0),
            row("1 filter", "native", 9_500.0, 110.0),
            row("3 filters", "wasm", 6_000.0, 170.0),
        ],
        latency: vec![
            row("no filter", "–", 5_000.0, 100.0),
            row("1 filter", "wasm", 4_000.0, 130.0),
            row("1 filter", "native", 4_500.0, 110.0),
        ],
        reload: ReloadRun {
            seconds: 30.0,
            requests: 10,
            failed: 0,
            reloads: 30,
            by_version: BTreeMap::from([("1.0.0".into(), 5), ("1.1.0".into(), 5)]),
            not_exactly_one: 0,
        },
        faults: FaultRun {
            seconds: 30.0,
            requests: 1000,
            expected_500: 10,
            got_500: 10,
            others: 990,
            others_200: 990,
            failed: 0,
            rss_start_kib: 1024,
            rss_middle_kib: 2048,
            rss_end_kib: 2048,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_the_section_round_trip() {
        let r = sample();
        assert_eq!(r.chain_ratio(), Some(0.6));
        let (wasm, native, ratio) = r.added_p50().unwrap();
        assert_eq!((wasm, native, ratio), (30.0, 10.0, 3.0));
        let md = r.markdown();
        assert!(
            md.contains("| 3 filters | wasm | 1000 | 0 | 6000 | 170 µs | 510 µs | – |"),
            "{md}"
        );
        assert!(md.contains("60 % (met)"), "{md}");
        assert!(md.contains("3.00×, met"), "{md}");
        let once = with_gateway_section("# report\n\ntext\n", &md);
        let twice = with_gateway_section(&once, &md);
        assert_eq!(once, twice);
        assert!(once.starts_with("# report\n\ntext\n\n<!-- gateway:begin -->"));
    }
}
