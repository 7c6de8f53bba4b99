//! The fault suite: a plugin that misbehaves on request never takes the
//! host down, gets the typed error its fault deserves, and leaks nothing.

use std::time::Duration;

use wasmplug::wasmtime::Trap;
use wasmplug::{Capabilities, Captured, DirAccess, Error, Limit, Limits, Output, Plugin, Runtime};
use wasmplug_contracts::Demo;

use crate::support::{capture_logs, runtime, wasm};

wasmplug::contract! {
    /// The test-only fault contract.
    pub struct Faults {
        package: "acme:faults@1.0.0",
        world: "acme:faults/misbehaving",
        path: ["../wit/plugin", "wit/faults"],
        bindings: faults::{Misbehaving, MisbehavingIndices},
    }
}

pub(crate) use faults::exports::acme::faults::faults::Fault;

const MAX_MEMORY: usize = 64 << 20;
const DEADLINE: Duration = Duration::from_millis(200);

fn guarded_runtime() -> Runtime {
    Runtime::builder()
        .max_instances(16)
        .epoch_interruption(true)
        .build()
        .unwrap()
}

fn open_guarded(rt: &Runtime) -> Plugin<Faults> {
    rt.loader::<Faults>()
        .limits(Limits::new().max_memory(MAX_MEMORY).deadline(DEADLINE))
        .open(wasm("misbehave"))
        .unwrap()
}

pub(crate) fn misbehave(plugin: &Plugin<Faults>, fault: Fault) -> wasmplug::Result<Vec<u8>> {
    plugin.call(|f, s| f.acme_faults_faults().call_misbehave(s, fault))
}

fn ping(plugin: &Plugin<Faults>) -> u32 {
    plugin
        .call(|f, s| f.acme_faults_faults().call_ping(s, 41))
        .unwrap()
}

/// Resident memory of this process, in bytes (Linux).
pub(crate) fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn every_fault_is_a_typed_error_and_the_host_keeps_serving() {
    let rt = guarded_runtime();
    let plugin = open_guarded(&rt);
    let bystander = rt.open::<Demo>(wasm("demo1")).unwrap();
    bystander
        .call(|d, s| d.wasmplug_demo_api().call_set_v(s, 5))
        .unwrap();

    let trap =
        |code: Trap| move |e: &Error| matches!(e, Error::Trap { code: Some(c), .. } if *c == code);
    type Check = Box<dyn Fn(&Error) -> bool>;
    let cases: Vec<(Fault, Check)> = vec![
        // Rust checks divisions: dividing by zero is a panic, and with
        // `panic = "abort"` a panic is an `unreachable` trap.
        (
            Fault::DivideByZero,
            Box::new(trap(Trap::UnreachableCodeReached)),
        ),
        (
            Fault::Unreachable,
            Box::new(trap(Trap::UnreachableCodeReached)),
        ),
        (Fault::Panic, Box::new(trap(Trap::UnreachableCodeReached))),
        // Rust keeps large frames on a shadow stack in linear memory, which
        // runs out (an out-of-bounds access below address 0) before
        // wasmtime's own stack limit; small frames hit that limit instead.
        (
            Fault::RecurseForever,
            Box::new(|e| {
                matches!(
                    e,
                    Error::Trap {
                        code: Some(Trap::StackOverflow | Trap::MemoryOutOfBounds),
                        ..
                    }
                )
            }),
        ),
        (
            Fault::InfiniteLoop,
            Box::new(
                |e| matches!(e, Error::LimitExceeded { limit: Limit::Deadline(d), .. } if *d == DEADLINE),
            ),
        ),
        (
            Fault::AllocateForever,
            Box::new(
                |e| matches!(e, Error::LimitExceeded { limit: Limit::Memory { max, .. }, .. } if *max == MAX_MEMORY),
            ),
        ),
        (
            Fault::OutOfRangeList,
            Box::new(
                |e| matches!(e, Error::Trap { reason, .. } if reason.contains("out of bounds")),
            ),
        ),
    ];
    for (fault, expected) in cases {
        let err = misbehave(&plugin, fault).expect_err("a fault is an error");
        assert!(expected(&err), "{fault:?} gave: {err}");
        assert!(
            err.to_string().contains("misbehave@1.0.0"),
            "names the plugin: {err}"
        );
        // The faulted instance was discarded; the plugin and its neighbours serve on.
        assert_eq!(ping(&plugin), 42, "after {fault:?}");
        assert_eq!(
            bystander
                .call(|d, s| d.wasmplug_demo_api().call_get_v(s))
                .unwrap(),
            5
        );
    }

    let err = plugin
        .call(|f, s| f.acme_faults_faults().call_invalid_utf8(s))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Trap { code: None, reason, .. } if reason.contains("utf-8")),
        "{err}"
    );
    assert_eq!(ping(&plugin), 42);
}

#[test]
fn a_trap_carries_the_guest_backtrace_with_function_names() {
    let rt = runtime();
    let plugin = rt.open::<Faults>(wasm("misbehave")).unwrap();
    let err = misbehave(&plugin, Fault::Unreachable).unwrap_err();
    let Error::Trap { reason, .. } = &err else {
        panic!("expected a trap: {err}")
    };
    assert!(reason.contains("wasm backtrace"), "{reason}");
    assert!(
        reason.contains("misbehave"),
        "names the guest's functions: {reason}"
    );
}

#[test]
fn fuel_bounds_a_call() {
    let rt = Runtime::builder()
        .max_instances(8)
        .fuel(true)
        .build()
        .unwrap();
    let plugin = rt
        .loader::<Faults>()
        .limits(Limits::new().fuel(5_000_000))
        .open(wasm("misbehave"))
        .unwrap();
    let err = misbehave(&plugin, Fault::InfiniteLoop).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LimitExceeded {
                limit: Limit::Fuel(5_000_000),
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(ping(&plugin), 42, "fuel is per call");
}

#[test]
fn limits_the_engine_cannot_enforce_are_refused_at_load() {
    let rt = runtime();
    let err = rt
        .loader::<Faults>()
        .limits(Limits::new().deadline(Duration::from_secs(1)))
        .open(wasm("misbehave"))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config { reason, .. }
            if reason == "a deadline needs a runtime built with `epoch_interruption(true)`"),
        "{err}"
    );
    let err = rt
        .loader::<Faults>()
        .limits(Limits::new().fuel(1))
        .open(wasm("misbehave"))
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config { reason, .. }
            if reason == "a fuel limit needs a runtime built with `fuel(true)`"),
        "{err}"
    );
    assert_eq!(rt.live_plugins(), 0);
}

#[test]
fn files_outside_the_grant_are_refused_inside_the_plugin_and_seen_by_the_host() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hello.txt"), "hi").unwrap();
    let rt = runtime();
    let plugin = rt
        .loader::<Faults>()
        .capabilities(Capabilities::none().dir(dir.path(), "/data", DirAccess::ReadOnly))
        .open(wasm("misbehave"))
        .unwrap();

    let (report, records) = capture_logs(|| misbehave(&plugin, Fault::OpenOutsideGrant).unwrap());
    let report = String::from_utf8(report).unwrap();
    let lines: Vec<&str> = report.lines().collect();
    assert!(lines[0].starts_with("/etc/passwd: refused"), "{report}");
    assert!(
        lines[1].starts_with("/data/../../etc/passwd: refused"),
        "{report}"
    );
    assert_eq!(lines[2], "/data/hello.txt: allowed (\"hi\")");
    // The escape attempt reached the host, which refused it; the host's
    // WASI trace shows it, attributed to the plugin.
    assert!(
        records.iter().any(|r| r.plugin == "misbehave@1.0.0"
            && r.message.contains("open-at")
            && r.message.contains("Err")),
        "{records:#?}"
    );

    let write = String::from_utf8(misbehave(&plugin, Fault::WriteReadOnly).unwrap()).unwrap();
    assert!(write.starts_with("write /data/new.txt: refused"), "{write}");
    assert!(!dir.path().join("new.txt").exists());
}

#[test]
fn nothing_is_granted_by_default() {
    let rt = runtime();
    let plugin = rt.open::<Faults>(wasm("misbehave")).unwrap();
    let report = String::from_utf8(misbehave(&plugin, Fault::OpenOutsideGrant).unwrap()).unwrap();
    assert_eq!(report.matches(": refused").count(), 3, "{report}");
}

#[test]
fn copying_more_than_the_transfer_limit_out_of_a_guest_is_a_named_limit() {
    let rt = runtime();
    let plugin = rt
        .loader::<Faults>()
        .limits(Limits::new().max_transfer(1 << 20))
        .open(wasm("misbehave"))
        .unwrap();
    // The 4 MiB log message, passed to the host's `log` import.
    let err = misbehave(&plugin, Fault::HugeLog).unwrap_err();
    match &err {
        Error::LimitExceeded { limit, .. } => {
            assert_eq!(*limit, Limit::Transfer { max: 1 << 20 });
        }
        other => panic!("expected LimitExceeded(Transfer), got {other:?}"),
    }
    assert!(
        err.to_string().contains("transfer limit of 1048576 bytes"),
        "{err}"
    );
    // A fresh instance serves on.
    assert_eq!(ping(&plugin), 42);
}

#[test]
fn a_huge_log_message_is_cut_and_the_host_serves_on() {
    let rt = runtime();
    let plugin = rt.open::<Faults>(wasm("misbehave")).unwrap();
    let (out, records) = capture_logs(|| misbehave(&plugin, Fault::HugeLog).unwrap());
    assert_eq!(out, b"logged");
    let logged = records
        .iter()
        .find(|r| r.plugin == "misbehave@1.0.0")
        .unwrap();
    assert!(
        logged.message.len() < 17 * 1024,
        "{} bytes logged",
        logged.message.len()
    );
    assert!(logged.message.ends_with("more bytes dropped)"));
    assert_eq!(ping(&plugin), 42);
}

/// Runs the named test alone in a child process (so other tests' memory
/// does not blur its measurement) and asserts it passed.
pub(crate) fn in_child_process(test: &str) -> bool {
    if std::env::var_os("WASMPLUG_CHILD").is_some() {
        return false;
    }
    // Built here, once: the child only finds them.
    xtask::build_guests().expect("guests build");
    let out = crate::support::this_test_binary()
        .args(["--exact", test, "--test-threads=1", "--nocapture"])
        .env("WASMPLUG_CHILD", "1")
        .env(xtask::GUESTS_BUILT_ENV, "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{test} failed in its child process:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("1 passed"),
        "the child ran the test"
    );
    true
}

#[test]
fn memory_returns_to_its_level_after_1000_of_each_fault() {
    if in_child_process("faults::memory_returns_to_its_level_after_1000_of_each_fault") {
        return;
    }
    // Fuel, not a deadline, stops the loops here: a thousand deadlines
    // short enough to be quick would fire spuriously on a loaded machine.
    // One runtime each: a runtime opens a plugin once, with the limits of
    // its first opening.
    let open = |max_memory: usize, fuel: u64| {
        let rt = Runtime::builder()
            .max_instances(4)
            .fuel(true)
            .build()
            .unwrap();
        rt.loader::<Faults>()
            .limits(Limits::new().max_memory(max_memory).fuel(fuel))
            .open(wasm("misbehave"))
            .unwrap()
    };
    let general = open(16 << 20, 500_000_000);
    // A small cap keeps a thousand allocation bombs quick, and little fuel
    // a thousand infinite loops.
    let bomb = open(4 << 20, 500_000_000);
    let looper = open(16 << 20, 2_000_000);

    type Run = Box<dyn Fn() -> wasmplug::Result<()>>;
    let fault = |plugin: &Plugin<Faults>, fault: Fault| -> Run {
        let plugin = plugin.clone();
        Box::new(move || misbehave(&plugin, fault).map(drop))
    };
    let utf8 = {
        let plugin = general.clone();
        Box::new(move || {
            plugin
                .call(|f, s| f.acme_faults_faults().call_invalid_utf8(s))
                .map(drop)
        }) as Run
    };
    let cases: Vec<(&str, &Plugin<Faults>, Run)> = vec![
        (
            "divide by zero",
            &general,
            fault(&general, Fault::DivideByZero),
        ),
        ("unreachable", &general, fault(&general, Fault::Unreachable)),
        ("panic", &general, fault(&general, Fault::Panic)),
        (
            "infinite loop",
            &looper,
            fault(&looper, Fault::InfiniteLoop),
        ),
        (
            "allocate forever",
            &bomb,
            fault(&bomb, Fault::AllocateForever),
        ),
        (
            "unbounded recursion",
            &general,
            fault(&general, Fault::RecurseForever),
        ),
        (
            "out-of-range list",
            &general,
            fault(&general, Fault::OutOfRangeList),
        ),
        ("invalid UTF-8", &general, utf8),
        ("4 MiB log line", &general, fault(&general, Fault::HugeLog)),
    ];
    for (name, plugin, run) in cases {
        let round = |n: usize| -> String {
            let mut seen = String::new();
            for _ in 0..n {
                seen = match run() {
                    Ok(()) => "ok".to_owned(),
                    Err(Error::Trap { code, .. }) => format!("Trap({code:?})"),
                    Err(Error::LimitExceeded { limit, .. }) => format!("LimitExceeded({limit:?})"),
                    Err(other) => panic!("{name}: unexpected {other}"),
                };
                assert_eq!(ping(plugin), 42, "{name}: the plugin serves on");
            }
            seen
        };
        // Warm up: pool slots, allocator arenas, lazily initialised state.
        round(20);
        let before = rss();
        let seen = round(1000);
        let after = rss();
        eprintln!(
            "| {name} | {seen} | yes | {} KiB -> {} KiB |",
            before >> 10,
            after >> 10
        );
        let growth = after.saturating_sub(before);
        assert!(
            growth < 8 << 20,
            "{name}: resident memory grew by {} KiB over 1,000 faults",
            growth >> 10
        );
    }
}

#[test]
fn an_instance_count_limit_is_enforced_at_instantiation() {
    let rt = runtime();
    let err = rt
        .loader::<Faults>()
        .limits(Limits::new().max_instances(1))
        .open(wasm("misbehave"))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::LimitExceeded {
                limit: Limit::Instances { max: 1 },
                ..
            }
        ),
        "{err}"
    );
    // A generous limit loads and serves.
    let plugin = rt
        .loader::<Faults>()
        .limits(Limits::new().max_instances(64))
        .open(wasm("misbehave"))
        .unwrap();
    assert_eq!(ping(&plugin), 42);
}

/// The most elements any table defined in `component` starts with (over
/// all its core modules: the plugin's, the WASI adapter's, the shims').
fn largest_table(component: &[u8]) -> usize {
    let mut largest = 0;
    for payload in wasmparser::Parser::new(0).parse_all(component) {
        if let wasmparser::Payload::TableSection(tables) = payload.unwrap() {
            for table in tables {
                let initial = usize::try_from(table.unwrap().ty.initial).unwrap();
                largest = largest.max(initial);
            }
        }
    }
    largest
}

/// A Rust plugin's tables (its function pointers, for indirect calls) are
/// all made at instantiation and never grow after: the limit applies there,
/// to the exact element.
#[test]
fn a_table_elements_limit_is_enforced_to_the_element() {
    let bytes = crate::support::wasm_bytes("misbehave");
    let needed = largest_table(&bytes);
    assert!(needed > 1, "the plugin has a function table ({needed})");
    let open = |max: usize| {
        runtime()
            .loader::<Faults>()
            .limits(Limits::new().max_table_elements(max))
            .open(wasm("misbehave"))
    };
    for max in [1, needed - 1] {
        match open(max) {
            Err(Error::LimitExceeded {
                plugin,
                export,
                limit,
            }) => {
                assert_eq!(limit, Limit::TableElements { max });
                assert_eq!(export, "`instantiate`");
                assert_eq!(plugin, "misbehave");
            }
            other => panic!("max {max} of {needed}: expected LimitExceeded, got {other:?}"),
        }
    }
    // Exactly enough loads and serves, faults included.
    let plugin = open(needed).unwrap();
    assert_eq!(ping(&plugin), 42);
    let err = misbehave(&plugin, Fault::Panic).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Trap {
                code: Some(Trap::UnreachableCodeReached),
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(ping(&plugin), 42, "a fresh instance within the limit");
}

#[test]
fn environment_arguments_and_stdio_only_as_granted() {
    let report = |plugin: &Plugin<Faults>| {
        String::from_utf8(misbehave(plugin, Fault::ReportEnvironment).unwrap()).unwrap()
    };
    // Nothing by default: no arguments, no variables (not even the host's
    // PATH), and the output goes nowhere.
    let rt = runtime();
    let plain = rt.open::<Faults>(wasm("misbehave")).unwrap();
    assert_eq!(report(&plain), "");

    let stdout = Captured::new(1 << 16);
    let stderr = Captured::new(1 << 16);
    let rt = runtime();
    let granted = rt
        .loader::<Faults>()
        .capabilities(
            Capabilities::none()
                .arg("misbehave")
                .arg("--verbose")
                .env("GREETING", "hi")
                .stdout(Output::Capture(stdout.clone()))
                .stderr(Output::Capture(stderr.clone())),
        )
        .open(wasm("misbehave"))
        .unwrap();
    assert_eq!(
        report(&granted),
        "arg misbehave\narg --verbose\nenv GREETING=hi"
    );
    assert_eq!(stdout.contents(), b"hello stdout\n");
    assert_eq!(stderr.contents(), b"hello stderr\n");
}
