//! The `wasmplug` binary, run on the bundled plugins (built once by the
//! guest builder) and on hostile files.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

/// Exit codes (see `wasmplug --help`).
const USAGE: i32 = 2;
const BAD_PLUGIN: i32 = 3;
const FAULT: i32 = 4;

fn guests() -> &'static xtask::Guests {
    xtask::build_guests().expect("the guest builder builds the bundled plugins")
}

/// The binary with a private, empty precompiled cache.
struct Cli {
    cache: tempfile::TempDir,
}

impl Cli {
    fn new() -> Self {
        Cli {
            cache: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::cargo_bin("wasmplug")
            .unwrap()
            .env("XDG_CACHE_HOME", self.cache.path())
            .env_remove("RUST_LOG")
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs and expects success; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "wasmplug {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and expects exit code `code`; returns stderr.
    fn fails(&self, code: i32, args: &[&str]) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "wasmplug {args:?}: stdout {}, stderr {stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(stderr.starts_with("error: "), "{stderr}");
        stderr
    }
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// `inspect`'s text with what depends on the build and the machine (the
/// digest, the size, the engine hash) replaced by placeholders, after
/// checking the digest against the file.
fn redacted(text: &str, file: &Path) -> String {
    let digest = wasmplug::Digest::of(&std::fs::read(file).unwrap()).to_hex();
    assert!(
        text.contains(&format!("digest      sha256:{digest}")),
        "{text}"
    );
    text.lines()
        .map(|line| {
            if line.starts_with("  digest ") {
                "  digest      sha256:<digest>".to_owned()
            } else if let Some((head, _)) = line.split_once(": WebAssembly component, ") {
                format!("{head}: WebAssembly component, <size>")
            } else if let Some((head, _)) = line.split_once("(engine ") {
                format!("{head}(engine <engine>)")
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Compares with `tests/expected/<name>`; `WASMPLUG_UPDATE_EXPECTED=1`
/// rewrites it.
fn expect_file(name: &str, actual: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/expected")
        .join(name);
    if std::env::var_os("WASMPLUG_UPDATE_EXPECTED").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_default();
    assert_eq!(
        actual, expected,
        "{name} differs (WASMPLUG_UPDATE_EXPECTED=1 rewrites it)"
    );
}

#[test]
fn inspect_demo1() {
    let wasm = guests().wasm("demo1");
    let out = Cli::new().ok(&["inspect", arg(&wasm)]);
    expect_file("inspect-demo1.txt", &redacted(&out, &wasm));
}

#[test]
fn inspect_auth_filter() {
    let wasm = guests().wasm("auth-filter");
    let out = Cli::new().ok(&["inspect", arg(&wasm)]);
    expect_file("inspect-auth-filter.txt", &redacted(&out, &wasm));
}

#[test]
fn inspect_json_and_the_cache() {
    let cli = Cli::new();
    let wasm = guests().wasm("demo1");
    let json = |cli: &Cli| -> serde_json::Value {
        serde_json::from_str(&cli.ok(&["inspect", "--json", arg(&wasm)])).unwrap()
    };
    let first = json(&cli);
    assert_eq!(first["name"], "demo1");
    assert_eq!(first["contract"], "wasmplug:demo@1.0.0");
    assert_eq!(first["cached"], false);
    // Inspecting compiled it through the cache: the next run finds it.
    assert_eq!(json(&cli)["cached"], true);

    let listed = cli.ok(&["cache"]);
    assert!(listed.contains("1 entry,"), "{listed}");
    assert!(
        cli.ok(&["compile", arg(&wasm)])
            .contains("already precompiled")
    );
    let pruned = cli.ok(&["cache", "prune", "--older-than", "30d"]);
    assert!(pruned.contains("removed 0 entries"), "{pruned}");
    let cleared = cli.ok(&["cache", "clear"]);
    assert!(cleared.contains("removed 1 entry"), "{cleared}");
    assert!(cli.ok(&["compile", arg(&wasm)]).contains("(compiled)"));
    assert_eq!(json(&cli)["cached"], true);
}

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
fn native_header_is_read_without_loading_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let lib = dir.path().join("libctor.so");
    let manifest_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let constructor = manifest_dir.join("tests/fixtures/constructor.c");
    let header = manifest_dir.join("../tests/native/header.c");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".into());
    let status = std::process::Command::new(cc)
        .args(["-shared", "-fPIC", "-o"])
        .arg(&lib)
        .args([
            r#"-DCONTRACT="acme:ctor@1.2.0""#,
            r#"-DWORLD="acme:ctor/ctor""#,
            "-DDIGEST_BYTE=0x2a",
            r#"-DTARGET="x86_64-unknown-linux-gnu""#,
            r#"-DPLUGIN_NAME="ctor-fixture""#,
            r#"-DPLUGIN_VERSION="0.3.1""#,
        ])
        .arg(&header)
        .arg(&constructor)
        .status()
        .unwrap();
    assert!(status.success());
    let proof = dir.path().join("constructor-ran");

    let out = Command::cargo_bin("wasmplug")
        .unwrap()
        .env("WASMPLUG_CTOR_PROOF", &proof)
        .args(["inspect", arg(&lib)])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("plugin      ctor-fixture 0.3.1"), "{text}");
    assert!(text.contains("contract    acme:ctor@1.2.0"), "{text}");
    assert!(
        text.contains(&format!("sha256:{}", "2a".repeat(32))),
        "{text}"
    );
    assert!(text.contains("without loading it"), "{text}");
    assert!(!proof.exists(), "inspect ran the library's constructor");

    // The control: loading the library does run it.
    let status = std::process::Command::new("/bin/true")
        .env("LD_PRELOAD", &lib)
        .env("WASMPLUG_CTOR_PROOF", &proof)
        .status()
        .unwrap();
    assert!(status.success());
    assert!(proof.exists(), "the fixture's constructor never runs");
}

#[test]
fn native_header_of_a_rust_guest() {
    let native = guests().native("demo1");
    let out = Cli::new().ok(&["inspect", "--json", arg(&native)]);
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["name"], "demo1");
    assert_eq!(json["contract"], "wasmplug:demo@1.0.0");
    assert_eq!(json["world"], "wasmplug:demo/demo");
    assert_eq!(json["loaded"], false);
}

#[test]
fn bench_reports_median_and_spread() {
    let demo = guests().wasm("demo1");
    let out = Cli::new().ok(&["bench", arg(&demo), "get-v", "-n", "200", "--quiet"]);
    assert!(out.contains("200 calls"), "{out}");
    assert!(out.contains("median") && out.contains("(MAD)"), "{out}");
}

/// `new`, then `build`, then `call` on what it built. The build compiles
/// wit-bindgen and the native bridge for both targets: about a minute the
/// first time on a 2-core VM, seconds afterwards (its target directory,
/// `target/cli-scaffold`, is kept).
#[test]
fn new_then_build_then_call() {
    let cli = Cli::new();
    let dir = tempfile::tempdir().unwrap();
    let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/greeter-wit");
    let crate_dir = dir.path().join("greeter");
    cli.ok(&[
        "new",
        "greeter",
        "--wit",
        arg(&wit),
        "--world",
        "acme:greeter/greeter",
        "--path",
        arg(&crate_dir),
    ]);
    let base =
        std::fs::read_to_string(crate_dir.join("wit/deps/wasmplug-plugin/plugin.wit")).unwrap();
    assert_eq!(base, wasmplug::BASE_WIT);

    // The bundled guests' lock file pins wit-bindgen and the bridge's
    // dependencies: no index update, the versions CI already has.
    std::fs::copy(
        xtask::workspace_root().join("guests/Cargo.lock"),
        crate_dir.join("Cargo.lock"),
    )
    .unwrap();
    let target: PathBuf = xtask::workspace_root().join("target/cli-scaffold");
    let out = Command::cargo_bin("wasmplug")
        .unwrap()
        .env("CARGO_TARGET_DIR", &target)
        .args(["build", arg(&crate_dir)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wasm = target.join("wasm32-wasip2/release/greeter.wasm");
    let native = target.join("release/libgreeter.so");
    assert!(wasm.is_file() && native.is_file());

    let meta = cli.ok(&["call", arg(&wasm), "get-metadata()"]);
    assert_eq!(
        meta.trim(),
        r#"{name: "greeter", version: "0.1.0", description: ""}"#
    );
    // The stubs (records, variants, a resource) compiled; calling one traps.
    let e = cli.fails(
        FAULT,
        &["call", arg(&wasm), r#"hello({name: "Ada", tags: ["x"]})"#],
    );
    assert!(e.contains("acme:greeter/greet@0.1.0#hello"), "{e}");
    let header = cli.ok(&["inspect", arg(&native)]);
    assert!(
        header.contains("contract    acme:greeter@0.1.0"),
        "{header}"
    );
}

/// `new --lang python` and `--lang go`, then `build`, then `call`: the
/// base interface answers, a stub traps. The tools are the guest
/// builder's (componentize-py, Go, wit-bindgen, the bindings' Go package),
/// given to `build` through the variables it reads; the Go module proxy
/// is not used.
#[test]
fn new_then_build_then_call_in_python_and_go() {
    let tools = xtask::polyglot::install().expect("the guest builder's tools");
    let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/greeter-wit");
    let cli = Cli::new();
    for lang in ["python", "go"] {
        let dir = tempfile::tempdir().unwrap();
        let plugin = dir.path().join(format!("greeter-{lang}"));
        let tool = |args: &[&str]| {
            Command::cargo_bin("wasmplug")
                .unwrap()
                .env("WASMPLUG_COMPONENTIZE_PY", &tools.componentize_py)
                .env("WASMPLUG_GO", &tools.go)
                .env("WASMPLUG_WIT_BINDGEN", &tools.wit_bindgen)
                .env("WASMPLUG_GO_PKG", &tools.go_pkg)
                .env("GOPROXY", "off")
                .env("GOTOOLCHAIN", "local")
                .env("GOCACHE", tools.dir.join("go-cache"))
                .env("GOPATH", tools.dir.join("go-path"))
                .args(args)
                .output()
                .unwrap()
        };
        let made = tool(&[
            "new",
            "greeter",
            "--lang",
            lang,
            "--wit",
            arg(&wit),
            "--world",
            "acme:greeter/greeter",
            "--path",
            arg(&plugin),
        ]);
        assert!(made.status.success(), "new --lang {lang}: {made:?}");
        let source = match lang {
            "python" => plugin.join("app.py"),
            _ => plugin.join("export_acme_greeter_greet/greet.go"),
        };
        let source = std::fs::read_to_string(source).unwrap();
        assert!(source.contains("not implemented") || source.contains("NotImplementedError"));
        let built = tool(&["build", arg(&plugin)]);
        assert!(
            built.status.success(),
            "build --lang {lang}: {}",
            String::from_utf8_lossy(&built.stderr)
        );
        let wasm = plugin.join("target/greeter.wasm");
        let meta = cli.ok(&["call", arg(&wasm), "get-metadata()"]);
        assert_eq!(
            meta.trim(),
            r#"{name: "greeter", version: "0.1.0", description: ""}"#,
            "{lang}"
        );
        // The stubs (records, variants, a resource) bound; calling one traps.
        let e = cli.fails(
            FAULT,
            &["call", arg(&wasm), r#"hello({name: "Ada", tags: ["x"]})"#],
        );
        assert!(e.contains("acme:greeter/greet@0.1.0#hello"), "{lang}: {e}");
    }
}

/// Without its tool, `build` says which one and how to get it.
#[test]
fn a_missing_build_tool_is_named() {
    let wit = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/greeter-wit");
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("greeter");
    let cli = Cli::new();
    cli.ok(&[
        "new",
        "greeter",
        "--lang",
        "python",
        "--wit",
        arg(&wit),
        "--world",
        "acme:greeter/greeter",
        "--path",
        arg(&plugin),
    ]);
    let out = Command::cargo_bin("wasmplug")
        .unwrap()
        .env("PATH", dir.path())
        .env_remove("WASMPLUG_COMPONENTIZE_PY")
        .args(["build", arg(&plugin)])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("`componentize-py` is not on PATH")
            && stderr.contains("pip install componentize-py==0.25.1"),
        "{stderr}"
    );
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

#[test]
fn inspect_shows_the_manifest_beside_the_plugin() {
    let cli = Cli::new();
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("auth.wasm");
    std::fs::copy(guests().wasm("auth-filter"), &wasm).unwrap();
    std::fs::write(
        dir.path().join("auth.toml"),
        r#"[plugin]
name = "auth-filter"
version = "1.0.0"
kind = "gateway-filter"

[settings.deny]
description = "tokens to refuse"
required = true

[config]
deny = "mallory"
"#,
    )
    .unwrap();
    let out = cli.ok(&["inspect", arg(&wasm)]);
    assert!(out.contains("  kind        gateway-filter"), "{out}");
    assert!(out.contains("  manifest    auth.toml"), "{out}");
    assert!(
        out.contains("    setting   deny (required)  # tokens to refuse"),
        "{out}"
    );
    assert!(out.contains("    config    deny = \"mallory\""), "{out}");
    // The manifest's config reaches `init`.
    let request = r#"on-request({method: "GET", path: "/", headers: [("authorization", "Bearer mallory")], body: []})"#;
    assert!(
        cli.ok(&["call", arg(&wasm), request])
            .starts_with("reject(")
    );

    std::fs::write(dir.path().join("auth.toml"), "[plugin]\nname = 3\n").unwrap();
    let e = cli.fails(BAD_PLUGIN, &["inspect", arg(&wasm)]);
    assert!(e.contains("auth.toml"), "{e}");
}
