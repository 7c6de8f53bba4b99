//! The bundled plugins' contracts, written once against the per-world
//! traits (`DemoApi`, `InitProbeApi`, `GatewayFilterApi`) and run on both
//! backends: the Wasm component, and the native library built from the
//! same plugin source by the native generator.

#![allow(unsafe_code, reason = "opening native libraries is unsafe by nature")]

use std::path::Path;

use wasmplug::{Plugin, Runtime};
use wasmplug_contracts::gateway::wasmplug::gateway::types::{Rejection, Rewrite, Verdict};
use wasmplug_contracts::{
    Demo, DemoApi, DemoNative, GatewayFilter, GatewayFilterApi, GatewayFilterNative, InitProbe,
    InitProbeApi, InitProbeNative,
};
use wasmplug_native::{NativeError, NativeLoader, NativePlugin, World};

use crate::gateway::request;
use crate::support::{capture_logs, count, native, native_lock, runtime, wasm};

/// Opens a bundled native plugin.
fn open_native<W: World<Host = ()>>(
    path: &Path,
    config: &[(&str, &str)],
) -> Result<NativePlugin<W>, NativeError> {
    let loader = config
        .iter()
        .fold(NativeLoader::new(), |l, (k, v)| l.config(*k, *v));
    // SAFETY: the bundled guests, built from this repository by the native
    // generator, or C fixtures built here.
    unsafe { loader.open::<W>(path) }
}

// ---- demo1 (the seed's plugin1): V, F, Foo.M1 ------------------------------

pub(crate) fn demo1_contract<P: DemoApi>(plugin: &P) {
    plugin.set_v(15).unwrap();
    assert_eq!(plugin.get_v().unwrap(), 15);
    assert_eq!(plugin.f().unwrap(), "plugin1: public integer variable V=15");
    let first = plugin.get_foo().unwrap();
    assert_eq!(
        plugin.foo_m1(&first).unwrap(),
        "plugin1: invoke foo.M1 (call 1)"
    );
    assert_eq!(
        plugin.foo_m1(&first).unwrap(),
        "plugin1: invoke foo.M1 (call 2)"
    );
    // Another `Foo` is another value.
    let other = plugin.get_foo().unwrap();
    assert_eq!(
        plugin.foo_m1(&other).unwrap(),
        "plugin1: invoke foo.M1 (call 1)"
    );
    plugin.drop_foo(first).unwrap();
    plugin.drop_foo(other).unwrap();
    // init ran once, and so did the shared `common` crate's own init.
    assert_eq!(plugin.init_count().unwrap(), 1);
    assert_eq!(plugin.common_init_count().unwrap(), 1);
}

fn assert_demo1_logged(logs: &[crate::support::Record]) {
    assert_eq!(
        count(logs, "demo1@1.0.0", "plugin1: public integer variable V=15"),
        1,
        "{logs:?}"
    );
    assert_eq!(count(logs, "demo1@1.0.0", "plugin1 init"), 1, "{logs:?}");
}

#[test]
fn demo1_on_wasm() {
    let rt = runtime();
    let (_, logs) = capture_logs(|| {
        let plugin: Plugin<Demo> = rt.open(wasm("demo1")).unwrap();
        demo1_contract(&plugin);
    });
    assert_demo1_logged(&logs);
}

#[test]
fn demo1_on_native() {
    let _lock = native_lock();
    let (_, logs) = capture_logs(|| {
        let plugin = open_native::<DemoNative>(&native("demo1"), &[]).unwrap();
        assert_eq!(plugin.metadata().name, "demo1");
        assert_eq!(plugin.label(), "demo1@1.0.0");
        demo1_contract(&plugin);
    });
    assert_demo1_logged(&logs);
}

// ---- demo2 (init-probe): opening twice runs init once ----------------------

fn opened_twice<P: InitProbeApi>(first: &P, second: &P) {
    assert_eq!(first.init_count().unwrap(), 1);
    assert_eq!(second.init_count().unwrap(), 1);
    assert_eq!(second.common_init_count().unwrap(), 1);
}

#[test]
fn opening_twice_runs_init_once_on_wasm() {
    let rt = runtime();
    let (_, logs) = capture_logs(|| {
        let a: Plugin<InitProbe> = rt.open(wasm("init-probe")).unwrap();
        let b: Plugin<InitProbe> = rt.open(wasm("init-probe")).unwrap();
        assert!(Plugin::ptr_eq(&a, &b));
        opened_twice(&a, &b);
    });
    assert_eq!(count(&logs, "init-probe@1.0.0", "init-probe: init #1"), 1);
}

#[test]
fn opening_twice_runs_init_once_on_native() {
    let _lock = native_lock();
    let (_, logs) = capture_logs(|| {
        let a = open_native::<InitProbeNative>(&native("init-probe"), &[]).unwrap();
        let b = open_native::<InitProbeNative>(&native("init-probe"), &[]).unwrap();
        assert!(NativePlugin::ptr_eq(&a, &b));
        opened_twice(&a, &b);
    });
    assert_eq!(count(&logs, "init-probe@1.0.0", "init-probe: init #1"), 1);
}

// ---- the gateway filter ----------------------------------------------------

/// Configured with `deny = "mallory, eve"`.
pub(crate) fn auth_filter_contract<P: GatewayFilterApi>(filter: &P) {
    let verdict = |path: &str, auth: Option<&str>| filter.on_request(&request(path, auth)).unwrap();
    assert_eq!(verdict("/public/index.html", None), Verdict::Allow);
    let missing = Verdict::Reject(Rejection {
        status: 401,
        reason: "missing bearer token".into(),
    });
    assert_eq!(verdict("/v1/items", None), missing);
    assert_eq!(verdict("/v1/items", Some("Basic YWxpY2U6")), missing);
    for denied in ["mallory", "eve"] {
        assert_eq!(
            verdict("/v1/items", Some(&format!("Bearer {denied}"))),
            Verdict::Reject(Rejection {
                status: 403,
                reason: format!("token `{denied}` is denied"),
            })
        );
    }
    assert_eq!(
        verdict("/v1/items", Some("Bearer alice")),
        Verdict::Rewrite(Rewrite {
            path: None,
            set_headers: vec![("x-auth-user".into(), "alice".into())],
            remove_headers: vec!["authorization".into()],
        })
    );
    // A large request crosses intact: 16 headers and a 1 KiB body.
    let mut big = request("/v1/upload", Some("Bearer bob"));
    big.headers
        .extend((0..14).map(|i| (format!("x-h{i}"), "v".repeat(40))));
    big.body = vec![0xab; 1024];
    assert!(matches!(
        filter.on_request(&big).unwrap(),
        Verdict::Rewrite(Rewrite { ref set_headers, .. }) if set_headers[0].1 == "bob"
    ));
}

#[test]
fn auth_filter_on_wasm() {
    let rt = runtime();
    let plugin = rt
        .loader::<GatewayFilter>()
        .config("deny", "mallory, eve")
        .open(wasm("auth-filter"))
        .unwrap();
    auth_filter_contract(&plugin);
}

#[test]
fn auth_filter_on_native() {
    let _lock = native_lock();
    let plugin =
        open_native::<GatewayFilterNative>(&native("auth-filter"), &[("deny", "mallory, eve")])
            .unwrap();
    auth_filter_contract(&plugin);
}

/// Disabled, the filter runs no code and each backend says so with its
/// typed error; enabled again, it serves as before.
fn disabled_then_enabled<P: GatewayFilterApi>(
    filter: &P,
    disable: impl Fn() -> bool,
    enable: impl Fn() -> bool,
) -> String {
    let req = request("/v1/items", Some("Bearer mallory"));
    let before = filter.on_request(&req).unwrap();
    assert!(disable());
    let err = filter.on_request(&req).unwrap_err().to_string();
    assert!(enable());
    assert_eq!(filter.on_request(&req).unwrap(), before);
    err
}

#[test]
fn a_disabled_filter_stays_loaded_and_is_skipped_on_both_backends() {
    let rt = runtime();
    let wasm_filter = rt
        .loader::<GatewayFilter>()
        .config("deny", "mallory")
        .open(wasm("auth-filter"))
        .unwrap();
    let err = disabled_then_enabled(
        &wasm_filter,
        || wasm_filter.disable(),
        || wasm_filter.enable(),
    );
    assert_eq!(err, "plugin auth-filter@1.0.0 is disabled");

    let _lock = native_lock();
    let native_filter =
        open_native::<GatewayFilterNative>(&native("auth-filter"), &[("deny", "mallory")]).unwrap();
    let err = disabled_then_enabled(
        &native_filter,
        || native_filter.disable(),
        || native_filter.enable(),
    );
    assert_eq!(err, "native plugin auth-filter@1.0.0 is disabled");
}

#[test]
fn auth_filter_serves_two_threads_on_both_backends() {
    fn serve<P: GatewayFilterApi + Sync>(filter: &P) {
        std::thread::scope(|s| {
            for t in 0..2 {
                s.spawn(move || {
                    for i in 0..200 {
                        let token = format!("Bearer user{t}-{i}");
                        let v = filter.on_request(&request("/v1/x", Some(&token))).unwrap();
                        assert!(matches!(v, Verdict::Rewrite(_)), "{v:?}");
                    }
                });
            }
        });
    }
    let rt: Runtime = runtime();
    serve(&rt.open::<GatewayFilter>(wasm("auth-filter")).unwrap());
    let _lock = native_lock();
    serve(&open_native::<GatewayFilterNative>(&native("auth-filter"), &[]).unwrap());
}

// ---- native typed errors ---------------------------------------------------

#[test]
fn native_typed_errors() {
    let _lock = native_lock();

    // A plugin of another world of the same contract package.
    let err = open_native::<DemoNative>(&native("init-probe"), &[]).unwrap_err();
    assert!(matches!(err, NativeError::Contract { .. }), "{err}");
    assert!(
        err.to_string().contains("world `wasmplug:demo/init-probe`"),
        "{err}"
    );

    // `init` refuses the configuration.
    let err =
        open_native::<GatewayFilterNative>(&native("auth-filter"), &[("bogus", "1")]).unwrap_err();
    match &err {
        NativeError::Init { plugin, message } => {
            assert_eq!(plugin, "auth-filter@1.0.0");
            assert_eq!(message, "unknown setting `bogus`");
        }
        other => panic!("expected Init, got {other}"),
    }

    // A library whose header is right for the world (real digest) but that
    // has none of its entry points.
    let lib = crate::native::cc("hdr-no-entries", "header.c", &c_header::<DemoNative>());
    let err = open_native::<DemoNative>(&lib, &[]).unwrap_err();
    assert!(
        matches!(err, NativeError::MissingEntryPoint { .. }),
        "{err}"
    );

    // A file that is not a library at all.
    let err = open_native::<DemoNative>(&wasm("demo1"), &[]).unwrap_err();
    assert!(matches!(err, NativeError::Load { .. }), "{err}");
    // The dynamic loader's own reason, not just "dlopen failed".
    assert!(err.to_string().contains("dlopen failed: "), "{err}");
}

/// The header defines of a C fixture of world `W`.
fn c_header<W: World>() -> Vec<String> {
    let digest: Vec<String> = W::WIT_DIGEST
        .as_bytes()
        .iter()
        .map(|b| format!("{b:#04x}"))
        .collect();
    vec![
        format!("-DTARGET=\"{}\"", wasmplug_native::abi::TARGET),
        format!("-DWORLD=\"{}\"", W::WORLD),
        format!("-DDIGEST_BYTES={}", digest.join(",")),
    ]
}

#[test]
fn a_plugin_written_in_c_follows_the_same_abi() {
    let _lock = native_lock();
    let lib = crate::native::cc("c-probe", "probe.c", &c_header::<InitProbeNative>());
    let (plugin, logs) = capture_logs(|| open_native::<InitProbeNative>(&lib, &[]).unwrap());
    assert_eq!(plugin.metadata().name, "c-fixture");
    assert_eq!(plugin.metadata().description, "init-probe in C");
    assert_eq!(plugin.init_count().unwrap(), 1);
    // Its call of the host's log import went through the import table.
    assert_eq!(
        count(&logs, "c-fixture@1.0.0", "c plugin init"),
        1,
        "{logs:?}"
    );
    drop(plugin);

    // The same code whose metadata claims another version than its header.
    let mut defines = c_header::<InitProbeNative>();
    defines.push("-DMETADATA_VERSION=\"2.0.0\"".to_owned());
    let lib = crate::native::cc("c-probe-v2", "probe.c", &defines);
    let err = open_native::<InitProbeNative>(&lib, &[]).unwrap_err();
    match &err {
        NativeError::MetadataMismatch {
            header, metadata, ..
        } => {
            assert_eq!(header, "c-fixture@1.0.0");
            assert_eq!(metadata, "c-fixture@2.0.0");
        }
        other => panic!("expected MetadataMismatch, got {other}"),
    }
}

#[test]
fn a_changed_native_library_is_a_new_version_or_a_typed_error_never_the_old_one_patched() {
    let _lock = native_lock();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("libdemo1.so");
    std::fs::copy(native("demo1"), &path).unwrap();

    let first = open_native::<DemoNative>(&path, &[]).unwrap();
    first.set_v(41).unwrap();

    // Rebuilt in place: same name and version, other bytes (trailing bytes
    // change the digest and leave the library loadable).
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"rebuilt");
    std::fs::write(&path, &bytes).unwrap();
    let err = open_native::<DemoNative>(&path, &[]).unwrap_err();
    match &err {
        NativeError::Conflict(c) => {
            assert_eq!(format!("{}@{}", c.name, c.version), "demo1@1.0.0");
            assert_ne!(c.new, c.loaded);
            assert_eq!(c.new, wasmplug_native::Digest::of(&bytes));
        }
        other => panic!("expected Conflict, got {other}"),
    }
    // The open plugin runs on, untouched: it was loaded from a private copy.
    assert_eq!(first.get_v().unwrap(), 41);

    // Once it is closed, the new content loads, as a new library with its
    // own state.
    drop(first);
    let second = open_native::<DemoNative>(&path, &[]).unwrap();
    assert_eq!(second.get_v().unwrap(), 0);
    assert_eq!(second.init_count().unwrap(), 1);
}
