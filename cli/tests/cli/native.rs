//! `call` and `bench` on a native library, through the world of the WIT
//! given with `--wit`: the same answers as the plugin's component, and a
//! typed failure for each way the library and the WIT can disagree.

use std::path::{Path, PathBuf};

use crate::{BAD_PLUGIN, Cli, FAULT, USAGE, arg, guests};

fn wit(name: &str) -> String {
    xtask::workspace_root()
        .join("wit")
        .join(name)
        .display()
        .to_string()
}

/// `call LIB EXPR --wit plugin --wit PACKAGE [extra…]`.
fn native_call(lib: &Path, package: &str, expression: &str, extra: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "call".into(),
        arg(lib).into(),
        expression.into(),
        "--wit".into(),
        wit("plugin"),
        "--wit".into(),
        wit(package),
    ];
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

fn request(token: &str, id: u32) -> String {
    format!(
        r#"on-request({{method: "POST", path: "/api", headers: [("authorization", "Bearer {token}"), ("x-request-id", "{id}")], body: [1, 2, 3]}})"#
    )
}

#[test]
fn a_native_library_answers_as_its_component() {
    let cli = Cli::new();
    let wasm = guests().wasm("auth-filter");
    let lib = guests().native("auth-filter");
    for token in ["alice", "mallory"] {
        let expression = request(token, 1);
        let config = ["--config", "deny=mallory"];
        let mut component = vec!["call", arg(&wasm), &expression];
        component.extend(config);
        let from_wasm = cli.ok(&component);
        let native = native_call(&lib, "gateway", &expression, &config);
        let from_native = cli.ok(&strs(&native));
        assert_eq!(from_native, from_wasm, "for {token}");
    }
    // A string result, made after a call to the host's `log` import.
    let demo = guests().native("demo1");
    let args = native_call(&demo, "demo", "f", &["--world", "demo"]);
    assert_eq!(
        cli.ok(&strs(&args)).trim(),
        r#""plugin1: public integer variable V=0""#
    );
}

#[test]
fn native_call_failures_say_what_disagrees() {
    let cli = Cli::new();
    let lib = guests().native("auth-filter");
    let expression = request("alice", 1);

    let e = cli.fails(USAGE, &["call", arg(&lib), &expression]);
    assert!(e.contains("give the world's WIT with --wit"), "{e}");
    let args = native_call(&lib, "gateway", &expression, &["--deadline", "1s"]);
    let e = cli.fails(USAGE, &strs(&args));
    assert!(
        e.contains("--deadline does not apply to a native library"),
        "{e}"
    );
    let e = cli.fails(
        USAGE,
        &[
            "call",
            arg(&guests().wasm("demo1")),
            "get-v",
            "--wit",
            &wit("demo"),
        ],
    );
    assert!(e.contains("a component carries its own WIT"), "{e}");

    // The WIT of another world, then of the same contract changed without
    // a version bump.
    let args = native_call(&lib, "demo", &expression, &["--world", "demo"]);
    let e = cli.fails(BAD_PLUGIN, &strs(&args));
    assert!(
        e.contains("but this host expects world `wasmplug:demo/demo`"),
        "{e}"
    );
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(PathBuf::from(wit("gateway")).join("gateway.wit")).unwrap();
    std::fs::write(
        dir.path().join("gateway.wit"),
        text.replacen("reason: string", "reason: list<u8>", 1),
    )
    .unwrap();
    let changed = [
        "call",
        arg(&lib),
        &expression,
        "--wit",
        &wit("plugin"),
        "--wit",
        arg(dir.path()),
    ];
    let e = cli.fails(BAD_PLUGIN, &changed);
    assert!(
        e.contains("the contract changed without a version bump"),
        "{e}"
    );

    // A panic in the plugin is a fault; a resource cannot be passed.
    let faulty = guests().native("fault-filter");
    let args = native_call(
        &faulty,
        "gateway",
        &request("x", 6),
        &["--config", "trap-every=3"],
    );
    let e = cli.fails(FAULT, &strs(&args));
    assert!(
        e.starts_with(
            "error: native plugin fault-filter@1.0.0 panicked in \
             `wasmplug:gateway/filter#on-request`: fault-filter: request 6 is a multiple of 3 \
             (at fault-filter/src/lib.rs:"
        ),
        "{e}"
    );
    let demo = guests().native("demo1");
    let args = native_call(&demo, "demo", "get-foo", &["--world", "demo"]);
    let e = cli.fails(BAD_PLUGIN, &strs(&args));
    assert!(e.contains("cannot be called dynamically"), "{e}");
}

#[test]
fn inspect_checks_a_native_library_against_its_wit() {
    let cli = Cli::new();
    let lib = guests().native("auth-filter");
    let gateway = [
        "--wit".to_owned(),
        wit("plugin"),
        "--wit".to_owned(),
        wit("gateway"),
    ];
    let mut args = vec!["inspect", arg(&lib)];
    args.extend(gateway.iter().map(String::as_str));
    let text = cli.ok(&args);
    assert!(
        text.contains("wasmplug:gateway/gateway-filter of wasmplug:gateway@1.0.0 (sha256:af7e4af2"),
        "{text}"
    );
    assert!(text.contains("): matches the header"), "{text}");
    assert!(
        text.contains("  export      wasmplug:gateway/filter#on-request: func(req: record {"),
        "{text}"
    );
    args.insert(1, "--json");
    let json: serde_json::Value = serde_json::from_str(&cli.ok(&args)).unwrap();
    assert_eq!(json["wit"]["matches"], true);
    assert_eq!(
        json["wit"]["exports"][0]["name"],
        "wasmplug:gateway/filter#on-request"
    );

    // Another world's WIT: the header is still shown, then the error.
    let demo = guests().native("demo1");
    let mut args = vec!["inspect", arg(&demo)];
    args.extend(gateway.iter().map(String::as_str));
    let e = cli.fails(BAD_PLUGIN, &args);
    assert!(e.contains("implements world `wasmplug:demo/demo`"), "{e}");
    let e = cli.fails(
        USAGE,
        &[
            "inspect",
            arg(&guests().wasm("demo1")),
            "--wit",
            &wit("demo"),
        ],
    );
    assert!(e.contains("a component carries its own WIT"), "{e}");
}

#[test]
fn bench_compares_a_component_with_its_native_library() {
    let cli = Cli::new();
    let out = cli.ok(&[
        "bench",
        arg(&guests().wasm("demo1")),
        "get-v",
        "-q",
        "-n",
        "300",
        "--native",
        arg(&guests().native("demo1")),
        "--wit",
        &wit("plugin"),
        "--wit",
        &wit("demo"),
        "--world",
        "demo",
    ]);
    assert!(out.contains("#get-v (component): 300 calls"), "{out}");
    assert!(out.contains("#get-v (native library): 300 calls"), "{out}");
    assert!(out.contains("component / native library: "), "{out}");

    // A limit that only the component could honour is refused up front.
    let e = cli.fails(
        USAGE,
        &[
            "bench",
            arg(&guests().wasm("demo1")),
            "get-v",
            "--deadline",
            "1s",
            "--native",
            arg(&guests().native("demo1")),
            "--wit",
            &wit("demo"),
        ],
    );
    assert!(
        e.contains("--deadline cannot apply to the native library"),
        "{e}"
    );
}
