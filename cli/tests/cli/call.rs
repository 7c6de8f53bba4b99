//! `call` and `bench`: WAVE arguments and results, grants, and every class
//! of failure as its exit code with a message.

use crate::{BAD_PLUGIN, Cli, FAULT, USAGE, arg, guests};

#[test]
fn call_with_a_record_and_a_list() {
    let cli = Cli::new();
    let wasm = guests().wasm("auth-filter");
    let request = |token: &str| {
        format!(
            r#"on-request({{method: "GET", path: "/api/items", headers: [("authorization", "Bearer {token}")], body: [104, 105]}})"#
        )
    };
    let allowed = cli.ok(&[
        "call",
        arg(&wasm),
        &request("alice"),
        "--config",
        "deny=mallory",
    ]);
    assert_eq!(
        allowed.trim(),
        r#"rewrite({set-headers: [("x-auth-user", "alice")], remove-headers: ["authorization"]})"#
    );
    let refused = cli.ok(&[
        "call",
        arg(&wasm),
        &request("mallory"),
        "--config",
        "deny=mallory",
    ]);
    assert!(refused.starts_with("reject({status: 403"), "{refused}");

    // The demo plugin: a full name, and a function with no arguments.
    let demo = guests().wasm("demo1");
    let out = cli.ok(&["call", arg(&demo), "wasmplug:demo/api@1.0.0#get-v()"]);
    assert_eq!(out.trim(), "0");
}

#[test]
fn call_errors_are_usage_errors() {
    let cli = Cli::new();
    let demo = guests().wasm("demo1");
    let e = cli.fails(USAGE, &["call", arg(&demo), r#"set-v("not a number")"#]);
    assert!(e.contains("set-v"), "{e}");
    let e = cli.fails(BAD_PLUGIN, &["call", arg(&demo), "set-w(1)"]);
    assert!(
        e.contains("did you mean `wasmplug:demo/api@1.0.0#set-v`"),
        "{e}"
    );
    // The plugin's own `init` refuses it: a fault of the plugin's.
    let e = cli.fails(
        FAULT,
        &[
            "call",
            arg(&guests().wasm("auth-filter")),
            "on-request({})",
            "--config",
            "colour=red",
        ],
    );
    assert!(e.contains("colour"), "{e}");
}

#[test]
fn a_trap_and_a_deadline_are_plugin_faults() {
    let cli = Cli::new();
    let faulty = guests().wasm("misbehave");
    let e = cli.fails(FAULT, &["call", arg(&faulty), "misbehave(divide-by-zero)"]);
    assert!(
        e.contains("trapped in `acme:faults/faults@1.0.0#misbehave`: wasm trap"),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "one sentence, no backtrace: {e}");
    let e = cli.fails(
        FAULT,
        &[
            "call",
            arg(&faulty),
            "misbehave(infinite-loop)",
            "--deadline",
            "200ms",
        ],
    );
    assert!(e.contains("exceeded its deadline"), "{e}");
    let e = cli.fails(
        FAULT,
        &[
            "call",
            arg(&faulty),
            "misbehave(allocate-forever)",
            "--max-memory",
            "16MiB",
        ],
    );
    assert!(e.contains("memory"), "{e}");
    assert_eq!(cli.ok(&["call", arg(&faulty), "ping(41)"]).trim(), "42");
}

#[test]
fn hostile_files() {
    let cli = Cli::new();
    let dir = tempfile::tempdir().unwrap();
    let e = cli.fails(BAD_PLUGIN, &["inspect", arg(dir.path())]);
    assert!(e.contains("is a directory, not a plugin file"), "{e}");
    let missing = dir.path().join("missing.wasm");
    let e = cli.fails(BAD_PLUGIN, &["inspect", arg(&missing)]);
    assert!(
        e.contains("missing.wasm") && e.contains("No such file"),
        "{e}"
    );

    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let empty = write("empty.wasm", b"");
    let e = cli.fails(BAD_PLUGIN, &["inspect", arg(&empty)]);
    assert!(e.contains("empty.wasm is not a WebAssembly file"), "{e}");
    let garbage = write("garbage.wasm", b"#!/bin/sh\necho hello\n");
    let e = cli.fails(BAD_PLUGIN, &["call", arg(&garbage), "f()"]);
    assert!(e.contains("garbage.wasm is not a WebAssembly file"), "{e}");
    let core = write("core.wasm", b"\0asm\x01\0\0\0");
    let e = cli.fails(BAD_PLUGIN, &["inspect", arg(&core)]);
    assert!(e.contains("wasm32-wasip2"), "{e}");
    // A valid component that implements no wasmplug contract.
    let bare = write("bare.wasm", b"\0asm\x0d\0\x01\0");
    let e = cli.fails(BAD_PLUGIN, &["inspect", arg(&bare)]);
    assert!(
        e.contains("bare.wasm") && e.contains("wasmplug:plugin@1.0.0"),
        "{e}"
    );
    let elf = write("libnot-a-plugin.so", b"\x7fELF garbage");
    let e = cli.fails(BAD_PLUGIN, &["inspect", arg(&elf)]);
    assert!(e.contains("libnot-a-plugin.so"), "{e}");
    cli.fails(USAGE, &["frobnicate"]);
}

#[test]
fn bench_reports_median_and_spread() {
    let demo = guests().wasm("demo1");
    let out = Cli::new().ok(&["bench", arg(&demo), "get-v", "-n", "200", "--quiet"]);
    assert!(out.contains("200 calls"), "{out}");
    assert!(out.contains("median") && out.contains("(MAD)"), "{out}");
}

#[test]
fn grants_reach_the_plugin() {
    let cli = Cli::new();
    let faulty = guests().wasm("misbehave");
    let data = tempfile::tempdir().unwrap();
    let dir = format!("{}::/data", data.path().display());
    let out = cli.ok(&[
        "call",
        arg(&faulty),
        "misbehave(report-environment)",
        "--env",
        "GREETING=hi",
        "--stdout",
        "inherit",
        "--dir",
        &dir,
    ]);
    // The guest's own line on stdout, then the result: a list of bytes.
    let (printed, result) = out.split_once('\n').unwrap();
    assert_eq!(printed, "hello stdout");
    let bytes: Vec<u8> = result
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(", ")
        .map(|b| b.parse().unwrap())
        .collect();
    let report = String::from_utf8(bytes).unwrap();
    assert_eq!(report, "env GREETING=hi");

    // Without grants the plugin sees nothing and prints nowhere.
    let out = cli.ok(&["call", arg(&faulty), "misbehave(report-environment)"]);
    assert_eq!(out.trim(), "[]");
    let e = cli.fails(USAGE, &["call", arg(&faulty), "ping(1)", "--dir", "/tmp"]);
    assert!(e.contains("HOST::GUEST"), "{e}");
    let e = cli.run(&["call", arg(&faulty), "ping(1)", "--deadline", "soon"]);
    assert_eq!(e.status.code(), Some(USAGE));
}

#[test]
fn imports_of_another_contract_trap_only_when_called() {
    let cli = Cli::new();
    let kv = guests().wasm("kv");
    let out = cli.ok(&["inspect", arg(&kv)]);
    assert!(out.contains("import acme:kv/store@1.0.0;"), "{out}");
    assert_eq!(cli.ok(&["call", arg(&kv), "sleep(1)"]).trim(), "1");
    let e = cli.fails(FAULT, &["call", arg(&kv), r#"describe("a")"#]);
    assert!(
        e.contains("`acme:kv/store@1.0.0#get` is an import of the plugin's contract"),
        "{e}"
    );
}
