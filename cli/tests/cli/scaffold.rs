//! `new` and `build`: a plugin started in Rust, Python or Go, built, then
//! called.

use crate::{Cli, FAULT, arg};

/// `new greeter` for the greeter fixture's world, in `lang`, at `dest`.
fn new_greeter<'a>(lang: &'a str, dest: &'a Path) -> [&'a str; 10] {
    const WIT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/greeter-wit");
    [
        "new",
        "greeter",
        "--lang",
        lang,
        "--wit",
        WIT,
        "--world",
        "acme:greeter/greeter",
        "--path",
        arg(dest),
    ]
}
use assert_cmd::Command;
use std::path::{Path, PathBuf};

/// `new`, then `build`, then `call` on what it built. The build compiles
/// wit-bindgen and the native bridge for both targets: about a minute the
/// first time on a 2-core VM, seconds afterwards (its target directory,
/// `target/cli-scaffold`, is kept).
#[test]
fn new_then_build_then_call() {
    let cli = Cli::new();
    let dir = tempfile::tempdir().unwrap();
    let crate_dir = dir.path().join("greeter");
    cli.ok(&new_greeter("rust", &crate_dir));
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
    // The native library, called through the crate's own WIT: its stub
    // panics, a fault with the export's name.
    let e = cli.fails(
        FAULT,
        &[
            "call",
            arg(&native),
            "--wit",
            arg(&crate_dir.join("wit")),
            r#"hello({name: "Ada", tags: ["x"]})"#,
        ],
    );
    assert!(e.contains("panicked in `acme:greeter/greet#hello`"), "{e}");
}

/// `new --lang python` and `--lang go`, then `build`, then `call`: the
/// base interface answers, a stub traps. The tools are the guest
/// builder's (componentize-py, Go, wit-bindgen, the bindings' Go package),
/// given to `build` through the variables it reads; the Go module proxy
/// is not used.
#[test]
fn new_then_build_then_call_in_python_and_go() {
    let tools = xtask::polyglot::install().expect("the guest builder's tools");
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
        let made = tool(&new_greeter(lang, &plugin));
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
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("greeter");
    let cli = Cli::new();
    cli.ok(&new_greeter("python", &plugin));
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
