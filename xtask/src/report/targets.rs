//! The design doc's performance targets, checked against the results.

use std::fmt;

use super::format::{MISSING, format_ns, format_ratio};
use super::results::Results;
use super::throughput::{requests_per_second, scaling};
use crate::bench_id::{
    ASYNC, ASYNC_SCALAR, DIRECT_FN_POINTER, INSTANTIATE, LOAD, NATIVE, NATIVE_BRIDGE, POOL,
    POOL_CHECKOUT_CALL, POOL_PRIVATE_CALL, POOLED, POOLED_ASYNC_RUN, RAW_WASMTIME, SCALAR,
    SYNC_SCALAR, THROUGHPUT, WASM_COMPILE, WASM_FROM_CACHE, WASMPLUG, throughput_run,
};

/// What a target's value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// A ratio of two medians.
    Ratio,
    /// A median time, in nanoseconds.
    Time,
}

impl Quantity {
    /// `value` with its unit, e.g. `1.07×` or `160 ns`.
    pub fn format(self, value: f64) -> String {
        match self {
            Self::Ratio => format_ratio(value),
            Self::Time => format_ns(value),
        }
    }
}

/// A target's goal.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Goal {
    /// The value must be at most this.
    AtMost(f64),
    /// The value must be at least this.
    AtLeast(f64),
    /// Not a target: shown for comparison.
    Informative,
}

impl Goal {
    /// Whether `measured` meets the goal.
    fn status(self, measured: Option<f64>) -> Status {
        match (self, measured) {
            (Self::Informative, _) => Status::Informative,
            (_, None) => Status::NotMeasured,
            (Self::AtMost(goal), Some(value)) => Status::met_if(value <= goal),
            (Self::AtLeast(goal), Some(value)) => Status::met_if(value >= goal),
        }
    }
}

/// Whether a target is met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// The measured value meets the goal.
    Met,
    /// The measured value misses the goal.
    Missed,
    /// A result the target needs is missing.
    NotMeasured,
    /// Not a target ([`Goal::Informative`]).
    Informative,
}

impl Status {
    /// [`Status::Met`] if `met`, else [`Status::Missed`].
    fn met_if(met: bool) -> Self {
        if met { Self::Met } else { Self::Missed }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(match self {
            Self::Met => "met",
            Self::Missed => "missed",
            Self::NotMeasured => "not measured",
            Self::Informative => "informative",
        })
    }
}

/// One of the design doc's performance targets, checked against the results.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// What is measured, e.g. `wasm scalar call: wasmplug / raw wasmtime`.
    pub name: &'static str,
    /// What kind of value [`Target::measured`] is.
    pub quantity: Quantity,
    /// The goal.
    pub goal: Goal,
    /// The measured value (a ratio, or nanoseconds); `None` if not measured.
    pub measured: Option<f64>,
    /// Whether the goal is met.
    pub status: Status,
}

impl Target {
    fn new(name: &'static str, quantity: Quantity, goal: Goal, measured: Option<f64>) -> Self {
        Self {
            name,
            quantity,
            goal,
            measured,
            status: goal.status(measured),
        }
    }

    /// The goal with its unit, e.g. `≤ 1.10×`.
    pub fn goal_text(&self) -> String {
        match self.goal {
            Goal::AtMost(goal) => format!("≤ {}", self.quantity.format(goal)),
            Goal::AtLeast(goal) => format!("≥ {}", self.quantity.format(goal)),
            Goal::Informative => MISSING.to_owned(),
        }
    }

    /// The measured value with its unit, or `n/a`.
    pub fn measured_text(&self) -> String {
        self.measured
            .map_or_else(|| "n/a".to_owned(), |value| self.quantity.format(value))
    }
}

/// The design doc's targets, computed from `results`.
pub fn targets(results: &Results) -> Vec<Target> {
    use Quantity::{Ratio, Time};
    vec![
        Target::new(
            "wasm scalar call: wasmplug / raw wasmtime",
            Ratio,
            Goal::AtMost(1.1),
            results.ratio((SCALAR, WASMPLUG), (SCALAR, RAW_WASMTIME)),
        ),
        Target::new(
            "wasm scalar call (wasmplug)",
            Time,
            Goal::AtMost(150.0),
            results.median(SCALAR, WASMPLUG),
        ),
        Target::new(
            "native scalar call: native bridge / direct fn pointer",
            Ratio,
            Goal::AtMost(1.5),
            results.ratio((SCALAR, NATIVE_BRIDGE), (SCALAR, DIRECT_FN_POINTER)),
        ),
        Target::new(
            "load: wasm compile / wasm from cache",
            Ratio,
            Goal::AtLeast(20.0),
            results.ratio((LOAD, WASM_COMPILE), (LOAD, WASM_FROM_CACHE)),
        ),
        Target::new(
            "load: wasm from cache",
            Time,
            Goal::AtMost(0.25e6),
            results.median(LOAD, WASM_FROM_CACHE),
        ),
        Target::new(
            "instantiate (wasmplug)",
            Time,
            Goal::AtMost(10e3),
            results.median(INSTANTIATE, WASMPLUG),
        ),
        Target::new(
            "throughput 1 → 2 threads (wasmplug)",
            Ratio,
            Goal::AtLeast(1.8),
            scaling(results, WASMPLUG),
        ),
        Target::new(
            "one pooled plugin, 1 → 2 threads",
            Ratio,
            Goal::AtLeast(1.8),
            scaling(results, POOLED),
        ),
        Target::new(
            "one pooled plugin, 64 tokio tasks (2 workers) / 2 threads",
            Ratio,
            Goal::AtLeast(0.9),
            results
                .get(THROUGHPUT, POOLED_ASYNC_RUN)
                .and_then(requests_per_second)
                .zip(
                    results
                        .get(THROUGHPUT, &throughput_run(POOLED, 2))
                        .and_then(requests_per_second),
                )
                .map(|(tasks, threads)| tasks / threads),
        ),
        Target::new(
            "pool checkout + call / private instance call",
            Ratio,
            Goal::AtMost(1.15),
            results.ratio((POOL, POOL_CHECKOUT_CALL), (POOL, POOL_PRIVATE_CALL)),
        ),
        Target::new(
            "async call / sync call, scalar",
            Ratio,
            Goal::AtMost(1.5),
            results.ratio((ASYNC, ASYNC_SCALAR), (ASYNC, SYNC_SCALAR)),
        ),
        Target::new(
            "throughput 1 → 2 threads (native)",
            Ratio,
            Goal::Informative,
            scaling(results, NATIVE),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::super::criterion::load;
    use super::super::fixture::{bench, full_dir};
    use super::*;

    fn target<'a>(targets: &'a [Target], name: &str) -> &'a Target {
        targets.iter().find(|t| t.name == name).unwrap()
    }

    #[test]
    fn targets_are_computed_from_the_results() {
        let dir = full_dir();
        let targets = targets(&load(dir.path()).unwrap());
        let t = target(&targets, "wasm scalar call: wasmplug / raw wasmtime");
        assert_eq!(t.measured, Some(160.0 / 150.0));
        assert_eq!(t.measured_text(), "1.07×");
        assert_eq!(t.goal_text(), "≤ 1.10×");
        assert_eq!(t.status, Status::Met);
        let t = target(&targets, "wasm scalar call (wasmplug)");
        assert_eq!(t.measured_text(), "160 ns");
        assert_eq!(t.status, Status::Missed);
        let t = target(
            &targets,
            "native scalar call: native bridge / direct fn pointer",
        );
        assert_eq!(t.measured, Some(5.0));
        assert_eq!(t.status, Status::Missed);
        let t = target(&targets, "load: wasm compile / wasm from cache");
        assert_eq!(t.measured, Some(100.0));
        assert_eq!(t.status, Status::Met);
        let t = target(&targets, "load: wasm from cache");
        assert_eq!(t.status, Status::Missed, "500 µs in the fixture");
        assert_eq!(t.goal_text(), "≤ 250 µs");
        let t = target(&targets, "instantiate (wasmplug)");
        assert_eq!(t.status, Status::Met);
        let t = target(&targets, "throughput 1 → 2 threads (wasmplug)");
        assert!((t.measured.unwrap() - 1.6).abs() < 1e-9);
        assert_eq!(t.status, Status::Missed);
        let t = target(&targets, "throughput 1 → 2 threads (native)");
        assert!((t.measured.unwrap() - 200.0 / 105.0).abs() < 1e-9);
        assert_eq!(t.status, Status::Informative);
    }

    #[test]
    fn missing_results_are_not_measured() {
        let dir = tempfile::tempdir().unwrap();
        bench(dir.path(), "scalar", "wasmplug", 140.0, 3.0);
        let targets = targets(&load(dir.path()).unwrap());
        let t = target(&targets, "wasm scalar call (wasmplug)");
        assert_eq!(t.status, Status::Met);
        let t = target(&targets, "wasm scalar call: wasmplug / raw wasmtime");
        assert_eq!(t.status, Status::NotMeasured);
        assert_eq!(t.measured_text(), "n/a");
        let not_measured = targets
            .iter()
            .filter(|t| t.status == Status::NotMeasured)
            .count();
        // The partial run has neither the pooled throughputs, the pool nor
        // the async group: those four are not measured either.
        assert_eq!(not_measured, 10);
    }
}
