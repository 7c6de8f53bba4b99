//! The same components on every target. The bundled components open and
//! answer here, and every built component's SHA-256 — for the opened ones,
//! the digest the runtime computed from the bytes it loaded — is written to
//! `target/portability/wasm-digests-<target>.txt`, so a run on x86_64 and
//! one of the cross-built suite under qemu-aarch64 can be compared
//! (`.ci/arm64.sh` does, and fails if they differ).

use std::fmt::Write as _;

use wasmplug::Digest;
use wasmplug_contracts::gateway::wasmplug::gateway::types::Verdict;
use wasmplug_contracts::{Demo, DemoApi, GatewayFilter, GatewayFilterApi, InitProbe, InitProbeApi};

use crate::gateway::request;
use crate::support::{runtime, wasm};

#[test]
fn the_bundled_components_answer_and_their_digests_are_recorded() {
    let rt = runtime();
    let mut opened = Vec::new();

    let demo = rt.open::<Demo>(wasm("demo1")).unwrap();
    demo.set_v(15).unwrap();
    assert_eq!(demo.get_v().unwrap(), 15);
    opened.push(("demo1", demo.digest()));

    let probe = rt.open::<InitProbe>(wasm("init-probe")).unwrap();
    assert_eq!(probe.init_count().unwrap(), 1);
    opened.push(("init-probe", probe.digest()));

    let filter = rt
        .loader::<GatewayFilter>()
        .config("deny", "mallory")
        .open(wasm("auth-filter"))
        .unwrap();
    assert!(matches!(
        filter
            .on_request(&request("/api", Some("Bearer alice")))
            .unwrap(),
        Verdict::Rewrite(_)
    ));
    assert!(matches!(
        filter
            .on_request(&request("/api", Some("Bearer mallory")))
            .unwrap(),
        Verdict::Reject(_)
    ));
    opened.push(("auth-filter", filter.digest()));

    // Every component the builder made, by file.
    let dir = xtask::build_guests().unwrap().dir().to_owned();
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        // The builder's intermediate: whichever release of the versioned
        // fixture cargo built last (each is kept as versioned-<v>.wasm).
        .filter(|p| !p.ends_with("versioned.wasm"))
        .collect();
    files.sort();
    let mut out = String::new();
    for path in &files {
        let digest = Digest::of(&std::fs::read(path).unwrap());
        let name = path.file_name().unwrap().to_string_lossy();
        writeln!(out, "{digest:#}  {name}").unwrap();
    }
    for (name, digest) in &opened {
        assert_eq!(*digest, Digest::of(&std::fs::read(wasm(name)).unwrap()));
        writeln!(out, "{digest:#}  loaded:{name}").unwrap();
    }
    let report = xtask::workspace_root().join("target").join("portability");
    std::fs::create_dir_all(&report).unwrap();
    let file = report.join(format!("wasm-digests-{}.txt", wasmplug_native::abi::TARGET));
    std::fs::write(&file, out).unwrap();
}
