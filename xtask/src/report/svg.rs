//! The report's SVG chart: the call cases as a group of bars per case, a
//! bar per backend, on a log time axis; below them, when the gateway job
//! has run, the gateway's throughput per chain and backend.

use std::path::Path;

use anyhow::{Context, Result};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::format::axis_ns;
use super::gateway::GatewayReport;
use super::results::Results;
use crate::bench_id::{BACKENDS, NATIVE_BRIDGE, WASMPLUG};

/// The call chart's size in pixels.
const SIZE: (u32, u32) = (1100, 560);
/// The height of the gateway panel under it.
const GATEWAY_HEIGHT: u32 = 420;
/// The width of the legend on the chart's right.
const LEGEND_WIDTH: u32 = 190;
const FONT: &str = "sans-serif";

/// Draws the chart at `path`: the call cases as a group of bars per case,
/// a bar per backend, on a log time axis; under them the gateway's
/// throughput per chain and backend, if `gateway` is given.
///
/// # Errors
///
/// If the chart cannot be drawn or the file cannot be written.
pub fn svg(results: &Results, gateway: Option<&GatewayReport>, path: &Path) -> Result<()> {
    let height = SIZE.1 + gateway.map_or(0, |_| GATEWAY_HEIGHT);
    let root = SVGBackend::new(path, (SIZE.0, height)).into_drawing_area();
    let drawn = root.fill(&WHITE).and_then(|()| {
        let (calls, below) = root.split_vertically(SIZE.1);
        draw(&calls, results)?;
        gateway.map_or(Ok(()), |gateway| draw_gateway(&below, gateway))
    });
    drawn.with_context(|| format!("drawing {}", path.display()))?;
    root.present()
        .with_context(|| format!("writing {}", path.display()))
}

/// The drawing backend's error.
type DrawError<DB> = DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>;

/// Draws the chart, or a note when there is nothing to chart.
fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    results: &Results,
) -> Result<(), DrawError<DB>> {
    let cases = results.call_cases();
    let backends = results.backends(&cases);
    let medians = results
        .measurements
        .iter()
        .filter(|m| cases.contains(&m.group.as_str()) && m.median_ns > 0.0)
        .map(|m| m.median_ns);
    let Some(range) = log_range(medians) else {
        return root.draw(&Text::new("no call results", (20, 20), (FONT, 20)));
    };
    let (chart_area, legend_area) = root.split_horizontally(SIZE.0 - LEGEND_WIDTH);
    draw_bars(&chart_area, results, &cases, &backends, range)?;
    draw_legend(&legend_area, &backends)
}

/// Whole decades around `values`, the lowest strictly below the smallest
/// value so that its bar shows; `None` if there are none.
fn log_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (low, high) = values.fold(None, |range: Option<(f64, f64)>, v| {
        Some(range.map_or((v, v), |(low, high)| (low.min(v), high.max(v))))
    })?;
    let low = 10f64.powf(low.log10().ceil() - 1.0);
    let high = 10f64.powf(high.log10().floor() + 1.0);
    Some((low, high))
}

/// The bars: case `c`'s slot is `c..c+1` on the x axis, its bars share 80%
/// of it; the case names go under the slots.
fn draw_bars<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    results: &Results,
    cases: &[&str],
    backends: &[&str],
    (low, high): (f64, f64),
) -> Result<(), DrawError<DB>> {
    let mut chart = ChartBuilder::on(area)
        .caption("wasmplug: time per call (median, log scale)", (FONT, 22))
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..cases.len() as f64, (low..high).log_scale())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_label_formatter(&|y| axis_ns(*y))
        .y_desc("time per iteration")
        .label_style((FONT, 14))
        .draw()?;
    let width = 0.8 / backends.len() as f64;
    for (b, backend) in backends.iter().enumerate() {
        let style = backend_color(b).filled();
        let bars = cases.iter().enumerate().filter_map(|(c, case)| {
            let median = results.median(case, backend)?;
            let left = c as f64 + 0.1 + b as f64 * width;
            Some(Rectangle::new([(left, low), (left + width, median)], style))
        });
        chart.draw_series(bars)?;
    }
    // Plotters' own tick labels cannot name the slots of an `f64` axis.
    let label_style = TextStyle::from((FONT, 14)).pos(Pos::new(HPos::Center, VPos::Top));
    for (c, case) in cases.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(c as f64 + 0.5, low));
        area.draw(&Text::new(*case, (x, y + 8), label_style.clone()))?;
    }
    Ok(())
}

/// The gateway's load rows as bars of requests per second, one slot per
/// chain and backend, each with its rate and latencies written over it.
fn draw_gateway<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    gateway: &GatewayReport,
) -> Result<(), DrawError<DB>> {
    let rows = &gateway.rows;
    let top = rows.iter().map(|r| r.rate).fold(0.0, f64::max).max(1.0) * 1.25;
    let (chart_area, legend_area) = area.split_horizontally(SIZE.0 - LEGEND_WIDTH);
    let mut chart = ChartBuilder::on(&chart_area)
        .caption(
            format!(
                "gateway under load: requests/s at {} connections (p50 / p99 over each bar)",
                gateway.concurrency
            ),
            (FONT, 20),
        )
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..rows.len().max(1) as f64, 0.0..top)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_label_formatter(&|y| format!("{y:.0}"))
        .y_desc("requests/s")
        .label_style((FONT, 14))
        .draw()?;
    chart.draw_series(rows.iter().enumerate().map(|(i, row)| {
        let style = gateway_color(&row.backend).filled();
        Rectangle::new([(i as f64 + 0.2, 0.0), (i as f64 + 0.8, row.rate)], style)
    }))?;
    let above = TextStyle::from((FONT, 13)).pos(Pos::new(HPos::Center, VPos::Bottom));
    let under = TextStyle::from((FONT, 14)).pos(Pos::new(HPos::Center, VPos::Top));
    // `backend_coord` is in the whole chart's pixels; text on the panel
    // is placed from the panel's corner.
    let (left, top) = chart_area.get_base_pixel();
    let at = |x: f64, y: f64| {
        let (x, y) = chart.backend_coord(&(x, y));
        (x - left, y - top)
    };
    for (i, row) in rows.iter().enumerate() {
        let (x, y) = at(i as f64 + 0.5, row.rate);
        let latency = format!("{:.0} / {:.0} µs", row.p50_us, row.p99_us);
        chart_area.draw(&Text::new(latency, (x, y - 4), above.clone()))?;
        chart_area.draw(&Text::new(
            format!("{:.0}/s", row.rate),
            (x, y - 20),
            above.clone(),
        ))?;
        let (x, y) = at(i as f64 + 0.5, 0.0);
        let label = if row.backend == "–" {
            row.chain.clone()
        } else {
            format!("{}, {}", row.chain, row.backend)
        };
        chart_area.draw(&Text::new(label, (x, y + 8), under.clone()))?;
    }
    for (b, backend) in ["wasm", "native"].iter().enumerate() {
        let y = 60 + 24 * b as i32;
        legend_area.draw(&Rectangle::new(
            [(10, y), (24, y + 14)],
            gateway_color(backend).filled(),
        ))?;
        legend_area.draw(&Text::new(
            format!("{backend} filters"),
            (32, y),
            (FONT, 15),
        ))?;
    }
    Ok(())
}

/// The gateway bars' colour: no filter grey, Wasm and native filters as
/// the call chart's `wasmplug` and `native bridge` bars (when it shows
/// every backend).
fn gateway_color(backend: &str) -> RGBAColor {
    let index = |id: &str| BACKENDS.iter().position(|b| *b == id).unwrap_or(0);
    match backend {
        "wasm" => backend_color(index(WASMPLUG)).to_rgba(),
        "native" => backend_color(index(NATIVE_BRIDGE)).to_rgba(),
        _ => RGBColor(150, 150, 150).to_rgba(),
    }
}

/// A swatch and name per backend.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    backends: &[&str],
) -> Result<(), DrawError<DB>> {
    for (b, backend) in backends.iter().enumerate() {
        let y = 60 + 24 * b as i32;
        area.draw(&Rectangle::new(
            [(10, y), (24, y + 14)],
            backend_color(b).filled(),
        ))?;
        area.draw(&Text::new(*backend, (32, y), (FONT, 15)))?;
    }
    Ok(())
}

/// The colour of the `index`th backend.
fn backend_color(index: usize) -> PaletteColor<Palette99> {
    Palette99::pick(index)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::super::criterion::load;
    use super::super::fixture::full_dir;
    use super::*;

    #[test]
    fn svg_is_written_with_labels() {
        let dir = full_dir();
        let results = load(dir.path()).unwrap();
        let out = tempfile::tempdir().unwrap();
        let path = out.path().join("chart.svg");
        svg(&results, None, &path).unwrap();
        let svg = fs::read_to_string(&path).unwrap();
        assert!(svg.starts_with("<svg"), "{svg}");
        for label in [
            "scalar",
            "gateway request",
            "host import x100",
            "instantiate",
        ] {
            assert!(svg.contains(&format!("\n{label}\n")), "no case {label:?}");
        }
        for backend in BACKENDS {
            assert!(svg.contains(&format!("\n{backend}\n")), "no {backend:?}");
        }
        assert!(svg.contains("<rect"), "no bars");
    }

    #[test]
    fn the_gateway_panel_shows_every_row() {
        let dir = full_dir();
        let results = load(dir.path()).unwrap();
        let out = tempfile::tempdir().unwrap();
        let path = out.path().join("chart.svg");
        let gateway = crate::report::gateway::sample();
        svg(&results, Some(&gateway), &path).unwrap();
        let svg = fs::read_to_string(&path).unwrap();
        assert!(svg.contains("height=\"980\""), "taller: {}", &svg[..200]);
        assert!(svg.contains("requests/s at 64 connections"));
        for label in [
            "no filter",
            "1 filter, wasm",
            "1 filter, native",
            "3 filters, wasm",
        ] {
            assert!(svg.contains(&format!("\n{label}\n")), "no row {label:?}");
        }
        assert!(svg.contains("\n6000/s\n"), "the three filters' rate");
        assert!(svg.contains("\n170 / 510 µs\n"), "their latencies");
        // Without the gateway's figures, the chart is the call chart alone.
        svg_without(&results, &path);
    }

    fn svg_without(results: &Results, path: &Path) {
        svg(results, None, path).unwrap();
        let svg = fs::read_to_string(path).unwrap();
        assert!(!svg.contains("requests/s at"));
    }

    #[test]
    fn chart_range_keeps_every_bar_visible() {
        assert_eq!(log_range([1.0, 1000.0].into_iter()), Some((0.1, 1e4)));
        assert_eq!(log_range([1.5, 999.0].into_iter()), Some((1.0, 1e3)));
        assert_eq!(log_range(std::iter::empty()), None);
    }
}
