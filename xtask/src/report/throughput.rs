//! Throughput runs as rates: requests per second, and how they scale
//! from 1 to 2 threads.

use super::results::{Measurement, Results};
use crate::bench_id::{THROUGHPUT, parse_throughput_run, throughput_run};

/// Requests per second of a throughput run: an iteration is one request on
/// each thread.
pub(super) fn requests_per_second(m: &Measurement) -> Option<f64> {
    let requests = parse_throughput_run(&m.function).map_or(1, |(_, count)| count);
    (m.median_ns > 0.0).then(|| f64::from(requests) * 1e9 / m.median_ns)
}

/// How much `backend`'s throughput grows from 1 to 2 threads (2·t1/t2).
pub(super) fn scaling(results: &Results, backend: &str) -> Option<f64> {
    let rate = |run: String| results.get(THROUGHPUT, &run).and_then(requests_per_second);
    let one = rate(throughput_run(backend, 1))?;
    let two = rate(throughput_run(backend, 2))?;
    Some(two / one)
}
