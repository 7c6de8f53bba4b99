//! The gateway's counters and latency histograms, exposed in Prometheus'
//! text format ([`Metrics`]). Hand-written: a few atomics per filter, no
//! registry crate.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds: 5 µs to 1 s.
const BUCKETS: [f64; 14] = [
    0.000_005, 0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005,
    0.01, 0.05, 0.25, 1.0,
];

/// Every metric the gateway keeps. Cheap to share (`Arc` inside its users);
/// counters are relaxed atomics.
#[derive(Debug, Default)]
pub struct Metrics {
    requests: AtomicU64,
    upstream_errors: AtomicU64,
    reloads_ok: AtomicU64,
    reloads_failed: AtomicU64,
    responses: Mutex<BTreeMap<u16, u64>>,
    filters: Mutex<BTreeMap<String, Arc<FilterMetrics>>>,
}

/// One filter's counters and latency histogram.
#[derive(Debug, Default)]
pub(crate) struct FilterMetrics {
    rejections: AtomicU64,
    faults: Mutex<BTreeMap<&'static str, u64>>,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

impl FilterMetrics {
    /// Records one call's duration.
    pub(crate) fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|&le| seconds <= le) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_nanos.fetch_add(
            u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX),
            Relaxed,
        );
    }

    /// Counts a rejection.
    pub(crate) fn rejected(&self) {
        self.rejections.fetch_add(1, Relaxed);
    }

    /// Counts a fault of `kind` (`trap`, `deadline`, ...).
    pub(crate) fn faulted(&self, kind: &'static str) {
        *self
            .faults
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(kind)
            .or_default() += 1;
    }
}

impl Metrics {
    /// The metrics of the filter called `name`, made on first use: a
    /// reloaded filter keeps counting where it was.
    pub(crate) fn filter(&self, name: &str) -> Arc<FilterMetrics> {
        let mut filters = self.filters.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(filters.entry(name.to_owned()).or_default())
    }

    /// Counts a request received.
    pub(crate) fn request(&self) {
        self.requests.fetch_add(1, Relaxed);
    }

    /// Counts a response sent with `status`.
    pub(crate) fn response(&self, status: u16) {
        *self
            .responses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(status)
            .or_default() += 1;
    }

    /// Counts a request the upstream did not answer.
    pub(crate) fn upstream_error(&self) {
        self.upstream_errors.fetch_add(1, Relaxed);
    }

    /// Counts a reload, applied or refused.
    pub(crate) fn reload(&self, ok: bool) {
        if ok {
            &self.reloads_ok
        } else {
            &self.reloads_failed
        }
        .fetch_add(1, Relaxed);
    }

    /// Reloads applied so far.
    pub fn reloads(&self) -> u64 {
        self.reloads_ok.load(Relaxed)
    }

    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Relaxed)
    }

    /// Faults of filter `name` so far, of every kind.
    pub fn faults(&self, name: &str) -> u64 {
        self.filters
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .map_or(0, |f| {
                f.faults
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .values()
                    .sum()
            })
    }

    /// Filter `name`'s calls so far and the time they took in all, if it
    /// was called.
    pub fn filter_time(&self, name: &str) -> Option<(u64, Duration)> {
        let filters = self.filters.lock().unwrap_or_else(PoisonError::into_inner);
        let f = filters.get(name)?;
        Some((
            f.count.load(Relaxed),
            Duration::from_nanos(f.sum_nanos.load(Relaxed)),
        ))
    }

    /// Everything, in Prometheus' text exposition format (version 0.0.4).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let counter = |out: &mut String, name: &str, help: &str| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
        };
        counter(&mut out, "gateway_requests_total", "Requests received.");
        let _ = writeln!(
            out,
            "gateway_requests_total {}",
            self.requests.load(Relaxed)
        );
        counter(
            &mut out,
            "gateway_responses_total",
            "Responses sent, by status.",
        );
        for (status, n) in &*self
            .responses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
        {
            let _ = writeln!(out, "gateway_responses_total{{status=\"{status}\"}} {n}");
        }
        counter(
            &mut out,
            "gateway_upstream_errors_total",
            "Requests the upstream did not answer (502).",
        );
        let _ = writeln!(
            out,
            "gateway_upstream_errors_total {}",
            self.upstream_errors.load(Relaxed)
        );
        counter(&mut out, "gateway_reloads_total", "Reloads, by outcome.");
        let _ = writeln!(
            out,
            "gateway_reloads_total{{outcome=\"applied\"}} {}\ngateway_reloads_total{{outcome=\"failed\"}} {}",
            self.reloads_ok.load(Relaxed),
            self.reloads_failed.load(Relaxed)
        );
        let filters = self.filters.lock().unwrap_or_else(PoisonError::into_inner);
        counter(
            &mut out,
            "gateway_filter_rejections_total",
            "Requests a filter rejected.",
        );
        for (name, f) in &*filters {
            let _ = writeln!(
                out,
                "gateway_filter_rejections_total{{filter=\"{}\"}} {}",
                escape(name),
                f.rejections.load(Relaxed)
            );
        }
        counter(
            &mut out,
            "gateway_plugin_faults_total",
            "Filter calls that failed, by kind (trap, deadline, busy, error).",
        );
        for (name, f) in &*filters {
            for (kind, n) in &*f.faults.lock().unwrap_or_else(PoisonError::into_inner) {
                let _ = writeln!(
                    out,
                    "gateway_plugin_faults_total{{filter=\"{}\",kind=\"{kind}\"}} {n}",
                    escape(name)
                );
            }
        }
        let name = "gateway_filter_duration_seconds";
        let _ = writeln!(
            out,
            "# HELP {name} Time in each filter per request.\n# TYPE {name} histogram"
        );
        for (filter, f) in &*filters {
            let filter = escape(filter);
            let mut cumulative = 0;
            for (le, bucket) in BUCKETS.iter().zip(&f.buckets) {
                cumulative += bucket.load(Relaxed);
                let _ = writeln!(
                    out,
                    "{name}_bucket{{filter=\"{filter}\",le=\"{le}\"}} {cumulative}"
                );
            }
            let count = f.count.load(Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{filter=\"{filter}\",le=\"+Inf\"}} {count}\n{name}_sum{{filter=\"{filter}\"}} {}\n{name}_count{{filter=\"{filter}\"}} {count}",
                Duration::from_nanos(f.sum_nanos.load(Relaxed)).as_secs_f64()
            );
        }
        out
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_exposition_has_every_family_and_cumulative_buckets() {
        let m = Metrics::default();
        m.request();
        m.response(200);
        let f = m.filter("0:auth@1");
        f.observe(Duration::from_micros(3));
        f.observe(Duration::from_micros(30));
        f.rejected();
        f.faulted("trap");
        m.reload(true);
        let text = m.render();
        for line in [
            "gateway_requests_total 1",
            "gateway_responses_total{status=\"200\"} 1",
            "gateway_filter_rejections_total{filter=\"0:auth@1\"} 1",
            "gateway_plugin_faults_total{filter=\"0:auth@1\",kind=\"trap\"} 1",
            "gateway_reloads_total{outcome=\"applied\"} 1",
            "gateway_filter_duration_seconds_bucket{filter=\"0:auth@1\",le=\"0.000005\"} 1",
            "gateway_filter_duration_seconds_bucket{filter=\"0:auth@1\",le=\"0.00005\"} 2",
            "gateway_filter_duration_seconds_bucket{filter=\"0:auth@1\",le=\"+Inf\"} 2",
            "gateway_filter_duration_seconds_count{filter=\"0:auth@1\"} 2",
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "missing `{line}` in\n{text}"
            );
        }
        assert_eq!(m.faults("0:auth@1"), 1);
    }
}
