//! wasmplug's main job: the Wasm-vs-native comparison on the bundled
//! plugins. Runs the `compare` and `limits` benches (quick by default,
//! `--full` for criterion's full statistics), shows progress, prints the
//! tables and the targets, and writes a Markdown report and an SVG chart;
//! with `--update-readme`, also the README's comparison tables.
//!
//! `cargo run --release -p xtask` (the comparison), `... -- --full`,
//! `... -- --update-readme`, `... -- demo` (load each bundled plugin
//! and show a sample call), and `... -- gateway` (the gateway under load).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use wasmplug::{ExportedFunc, Runtime};
use wasmplug_contracts::gateway::wasmplug::gateway::types::{Request, Verdict};
use wasmplug_contracts::{Demo, GatewayFilter, InitProbe};
use xtask::report;

/// wasmplug's main job: Wasm vs native on the same plugins.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Criterion's full run (3 s warm-up, 5 s and 100 samples per case)
    /// instead of the quick one (0.5 s, 1.5 s, 30 samples).
    #[arg(long)]
    full: bool,
    /// Where the report goes (default: `target/wasmplug-report`).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Also write the report's tables into README.md, between its
    /// `<!-- report:begin -->` and `<!-- report:end -->` lines.
    #[arg(long)]
    update_readme: bool,
    /// Report the results of the last run (in `--out`) again instead of
    /// running the benches.
    #[arg(long)]
    reuse: bool,
    #[command(subcommand)]
    command: Option<Cmd>,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Load each bundled plugin, show its exports and a sample call.
    Demo,
    /// The gateway under load on loopback: no filter, one, three, on each
    /// backend; then 30 s with a reload every second and 30 s with a filter
    /// trapping on 1 % of requests. Adds its section to the report.
    Gateway,
}

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_target(false)
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Some(Cmd::Demo) => demo(),
        Some(Cmd::Gateway) => gateway(&cli),
        None => compare(&cli),
    }
}

/// The copy of the chart the README shows (`--update-readme` writes it).
const README_CHART: &str = "docs/report.svg";

/// Runs the benches (unless `--reuse`) and reports them.
fn compare(cli: &Cli) -> Result<()> {
    let out = cli
        .out
        .clone()
        .unwrap_or_else(|| xtask::workspace_root().join("target/wasmplug-report"));
    let criterion = out.join("criterion");
    let log = out.join("criterion.log");
    // Where and how the results were measured, for `--reuse`.
    let machine_file = out.join("machine.json");
    if !cli.reuse {
        // Results of an earlier run must not mix into this one's.
        if criterion.exists() {
            std::fs::remove_dir_all(&criterion)
                .with_context(|| format!("removing {}", criterion.display()))?;
        }
        std::fs::create_dir_all(&criterion)
            .with_context(|| format!("creating {}", criterion.display()))?;
        let machine = report::machine(if cli.full { "full" } else { "quick" });
        let json = serde_json::to_string_pretty(&machine).context("describing the machine")?;
        std::fs::write(&machine_file, json)
            .with_context(|| format!("writing {}", machine_file.display()))?;
        eprintln!(
            "building the bundled plugins for {} and natively ...",
            xtask::TARGET
        );
        xtask::build_guests().map_err(anyhow::Error::msg)?;
        run_benches(cli.full, &criterion, &log)?;
    }

    let results = report::load(&criterion)
        .with_context(|| format!("reading the results in {}", criterion.display()))?;
    let machine: report::Machine = std::fs::read_to_string(&machine_file)
        .map_err(anyhow::Error::from)
        .and_then(|json| Ok(serde_json::from_str(&json)?))
        .with_context(|| format!("reading {}", machine_file.display()))?;
    println!("\n{}", report::table(&results));
    println!("{}", report::targets_table(&report::targets(&results)));
    // The gateway job's section and chart panel, from its last run, if any.
    let gateway = report::read_gateway(&out)?;
    let (markdown, svg) = report::write(&results, &machine, gateway.as_ref(), &out)?;
    // The per-language rows (the same filter in Rust, Go, Python).
    if let Some(rows) = xtask::languages::read(&criterion)? {
        println!("{}", xtask::languages::text(&rows));
        let mut text = std::fs::read_to_string(&markdown)?;
        text.push('\n');
        text.push_str(&xtask::languages::markdown(&rows));
        std::fs::write(&markdown, text)?;
    }
    println!(
        "report: {}\nchart:  {}\ncriterion's output: {}",
        markdown.display(),
        svg.display(),
        log.display()
    );
    if cli.update_readme {
        let path = xtask::workspace_root().join("README.md");
        let readme = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        let section = report::readme_section(&results, &machine);
        let updated = report::replace_section(&readme, &section)
            .with_context(|| format!("updating {}", path.display()))?;
        std::fs::write(&path, updated).with_context(|| format!("writing {}", path.display()))?;
        // The chart the README shows, from the same run.
        let chart = xtask::workspace_root().join(README_CHART);
        std::fs::copy(&svg, &chart).with_context(|| format!("writing {}", chart.display()))?;
        println!("README: {} (chart {})", path.display(), chart.display());
    }
    Ok(())
}

/// The gateway job: runs the load, prints the table and the two long
/// runs, and writes `gateway.json` and the report's gateway section.
fn gateway(cli: &Cli) -> Result<()> {
    let out = cli
        .out
        .clone()
        .unwrap_or_else(|| xtask::workspace_root().join("target/wasmplug-report"));
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    eprintln!(
        "building the bundled plugins for {} and natively ...",
        xtask::TARGET
    );
    let guests = xtask::build_guests().map_err(anyhow::Error::msg)?;
    let plan = xtask::gateway::Plan::standard();
    let result = xtask::gateway::run(guests, plan, report::machine("gateway"))?;
    println!("\n{}", result.text());
    let json = out.join(report::GATEWAY_FILE);
    std::fs::write(&json, serde_json::to_string_pretty(&result)?)
        .with_context(|| format!("writing {}", json.display()))?;
    let markdown = out.join("report.md");
    let text = std::fs::read_to_string(&markdown).unwrap_or_default();
    std::fs::write(
        &markdown,
        report::with_gateway_section(&text, &result.markdown()),
    )
    .with_context(|| format!("writing {}", markdown.display()))?;
    // The chart again, its call panel from the main job's last results
    // (if it ran), with the gateway panel under it.
    let criterion = out.join("criterion");
    let results = if criterion.is_dir() {
        report::load(&criterion)
            .with_context(|| format!("reading the results in {}", criterion.display()))?
    } else {
        report::Results::default()
    };
    let chart = out.join("report.svg");
    report::svg(&results, Some(&result), &chart)?;
    println!("chart:  {}", chart.display());
    println!("report: {}", markdown.display());
    Ok(())
}

/// `cargo bench --bench compare --bench limits`, with a spinner that names
/// the case being measured; criterion's own output goes to `log`.
fn run_benches(full: bool, criterion: &Path, log: &Path) -> Result<()> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(xtask::workspace_root())
        .args([
            "bench",
            "--locked",
            "-p",
            "wasmplug-benches",
            "--bench",
            "compare",
            "--bench",
            "limits",
            "--",
        ])
        .env("CRITERION_HOME", criterion)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if !full {
        command.args(QUICK);
    }
    let mut child = command.spawn().context("running cargo bench")?;
    let spinner = ProgressBar::new_spinner().with_style(
        ProgressStyle::with_template("{spinner} [{elapsed}] {pos} measured · {msg}")
            .expect("a valid template"),
    );
    spinner.enable_steady_tick(Duration::from_millis(120));
    spinner.set_message("building the benches (the first time builds wasmtime: minutes)");

    let stdout = child.stdout.take().expect("piped");
    let stderr = child.stderr.take().expect("piped");
    let mut log_file =
        std::fs::File::create(log).with_context(|| format!("creating {}", log.display()))?;
    let status = std::thread::scope(|s| -> Result<_> {
        // Criterion's status lines ("Benchmarking x: Warming up") and
        // cargo's build output arrive on stderr.
        let status_lines = s.spawn(|| {
            let mut last = Vec::new();
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let line = line.trim().to_owned();
                if let Some(case) = line.strip_prefix("Benchmarking ") {
                    spinner.set_message(case.to_owned());
                } else if !line.is_empty() {
                    spinner.set_message(line.clone());
                }
                last.push(line);
                if last.len() > 40 {
                    last.remove(0);
                }
            }
            last
        });
        // Results ("x  time: [..]") on stdout.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            use std::io::Write;
            writeln!(log_file, "{line}").context("writing criterion's log")?;
            if line.contains("time:") {
                spinner.inc(1);
            }
            if line.starts_with("memory:") {
                spinner.println(&line);
            }
        }
        let status = child.wait().context("waiting for cargo bench")?;
        let last = status_lines.join().expect("the reader does not panic");
        Ok((status, last))
    })?;
    spinner.finish_and_clear();
    let (status, last) = status;
    if !status.success() {
        bail!("cargo bench failed ({status}):\n{}", last.join("\n"));
    }
    Ok(())
}

/// Criterion's options for the quick run: shorter, still with confidence
/// intervals from 30 samples per case.
const QUICK: &[&str] = &[
    "--warm-up-time",
    "0.5",
    "--measurement-time",
    "1.5",
    "--sample-size",
    "30",
];

fn demo() -> Result<()> {
    eprintln!("building the bundled plugins for {} ...", xtask::TARGET);
    let guests = xtask::build_guests().map_err(anyhow::Error::msg)?;
    let runtime = Runtime::new().context("creating the runtime")?;

    let demo = runtime.open::<Demo>(guests.wasm("demo1"))?;
    show(demo.metadata(), &demo.exports());
    demo.call(|d, s| d.wasmplug_demo_api().call_set_v(s, 15))?;
    let report = demo.call(|d, s| d.wasmplug_demo_api().call_f(s))?;
    println!("  set-v(15); f() -> {report:?}");
    let m1 = demo.call(|d, s| {
        let api = d.wasmplug_demo_api();
        let value = api.call_get_foo(&mut *s)?;
        let out = api.foo().call_m1(&mut *s, value)?;
        value.resource_drop(s)?;
        Ok(out)
    })?;
    println!("  get-foo().m1() -> {m1:?}");

    let probe = runtime.open::<InitProbe>(guests.wasm("init-probe"))?;
    let again = runtime.open::<InitProbe>(guests.wasm("init-probe"))?;
    show(probe.metadata(), &probe.exports());
    let inits = again.call(|p, s| p.wasmplug_demo_probe().call_init_count(s))?;
    println!("  opened twice; init-count() -> {inits}");

    let filter = runtime
        .loader::<GatewayFilter>()
        .config("deny", "mallory")
        .open(guests.wasm("auth-filter"))?;
    show(filter.metadata(), &filter.exports());
    for (path, token) in [
        ("/public/logo.png", None),
        ("/v1/items", None),
        ("/v1/items", Some("mallory")),
        ("/v1/items", Some("alice")),
    ] {
        let mut headers = vec![("host".to_owned(), "example.test".to_owned())];
        if let Some(token) = token {
            headers.push(("authorization".into(), format!("Bearer {token}")));
        }
        let req = Request {
            method: "GET".into(),
            path: path.into(),
            headers,
            body: Vec::new(),
        };
        let verdict = filter.call(|f, s| f.wasmplug_gateway_filter().call_on_request(s, &req))?;
        println!(
            "  on-request(GET {path}, token {token:?}) -> {}",
            describe(&verdict)
        );
    }
    Ok(())
}

fn show(metadata: &wasmplug::Metadata, exports: &[ExportedFunc]) {
    println!("\n{metadata} — {}", metadata.description);
    for export in exports {
        println!("  export {}: {}", export.name, export.signature);
    }
}

fn describe(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Allow => "allow".into(),
        Verdict::Reject(r) => format!("reject {} ({})", r.status, r.reason),
        Verdict::Rewrite(r) => format!(
            "rewrite set {:?} remove {:?}",
            r.set_headers, r.remove_headers
        ),
    }
}
