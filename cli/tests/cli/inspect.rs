//! `inspect`: a component's world, contract and cache state, compared with
//! `tests/expected/`; a native library's header, read without loading it.

use crate::{BAD_PLUGIN, Cli, arg, guests};
use assert_cmd::Command;
use std::path::Path;

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

    // Checked against a WIT it was not built for: refused, still unloaded.
    let wit = manifest_dir.join("../wit");
    let out = Command::cargo_bin("wasmplug")
        .unwrap()
        .env("WASMPLUG_CTOR_PROOF", &proof)
        .args(["inspect", arg(&lib), "--wit"])
        .arg(wit.join("plugin"))
        .arg("--wit")
        .arg(wit.join("demo"))
        .args(["--world", "demo"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("does NOT match the header"), "{text}");
    assert!(
        !proof.exists(),
        "inspect --wit ran the library's constructor"
    );

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
