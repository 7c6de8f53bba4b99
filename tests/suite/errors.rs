//! Every bad input gives its typed error; nothing panics, and what was
//! loaded keeps working.

use wasmplug::{Error, Plugin};
use wasmplug_contracts::{Demo, GatewayFilter, InitProbe};

use crate::support::{runtime, wasm, wasm_bytes};

/// Appends a custom section: same code and metadata, different digest (a
/// rebuilt plugin whose author forgot to bump the version).
pub(crate) fn with_custom_section(mut bytes: Vec<u8>) -> Vec<u8> {
    let name = b"rebuilt";
    let payload = b"2026-11-25";
    bytes.push(0); // custom section id
    bytes.push((1 + name.len() + payload.len()) as u8);
    bytes.push(name.len() as u8);
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(payload);
    bytes
}

#[test]
fn a_missing_file_is_an_io_error() {
    let err = runtime()
        .open::<Demo>("/nonexistent/plugin.wasm")
        .err()
        .unwrap();
    assert!(
        matches!(&err, Error::Io { path, .. } if path.ends_with("plugin.wasm")),
        "{err}"
    );
}

#[test]
fn a_file_that_is_not_wasm() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plugin.so");
    std::fs::write(&path, b"\x7fELF\x02\x01\x01\0").unwrap();
    let err = runtime().open::<Demo>(&path).err().unwrap();
    assert!(
        matches!(&err, Error::NotWasm { head, .. } if head.starts_with(b"\x7fELF")),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("plugin.so is not a WebAssembly file"),
        "{err}"
    );

    let err = runtime()
        .loader::<Demo>()
        .open_bytes("empty", b"")
        .err()
        .unwrap();
    assert!(matches!(err, Error::NotWasm { .. }), "{err}");
}

#[test]
fn a_core_module_instead_of_a_component() {
    let err = runtime()
        .loader::<Demo>()
        .open_bytes("core", b"\0asm\x01\0\0\0")
        .err()
        .unwrap();
    assert!(matches!(err, Error::CoreModule { .. }), "{err}");
    assert!(
        err.to_string().contains("wasm32-wasip2"),
        "the message says what to do: {err}"
    );
}

#[test]
fn a_truncated_file_at_any_cut() {
    let bytes = wasm_bytes("demo1");
    for cut in [
        3,
        7,
        9,
        64,
        bytes.len() / 3,
        bytes.len() / 2,
        bytes.len() - 1,
    ] {
        let err = runtime()
            .loader::<Demo>()
            .open_bytes("cut", &bytes[..cut])
            .err()
            .unwrap();
        assert!(
            matches!(err, Error::Truncated { len, .. } if len == cut),
            "cut at {cut}: {err}"
        );
    }
    // Cut right after the header, what is left is a complete, empty component.
    let err = runtime()
        .loader::<Demo>()
        .open_bytes("header", &bytes[..8])
        .err()
        .unwrap();
    assert!(matches!(err, Error::NotImplemented { .. }), "{err}");
}

#[test]
fn a_malformed_component() {
    // A complete component binary holding a section with an unknown id.
    let bytes = b"\0asm\x0d\0\x01\0\x7f\x01\0";
    let err = runtime()
        .loader::<Demo>()
        .open_bytes("garbage", bytes)
        .err()
        .unwrap();
    assert!(matches!(err, Error::Malformed { .. }), "{err}");
}

#[test]
fn a_component_of_another_contract() {
    let err = runtime().open::<Demo>(wasm("auth-filter")).err().unwrap();
    match &err {
        Error::NotImplemented {
            contract, exports, ..
        } => {
            assert_eq!(contract, "wasmplug:demo@1.0.0");
            assert!(
                exports.contains("wasmplug:gateway/filter@1.0.0"),
                "{exports}"
            );
        }
        other => panic!("expected NotImplemented, got {other}"),
    }
}

#[test]
fn a_missing_export_is_named() {
    // init-probe exports wasmplug:demo/probe but not wasmplug:demo/api.
    let err = runtime().open::<Demo>(wasm("init-probe")).err().unwrap();
    assert!(matches!(err, Error::Export { .. }), "{err}");
    assert!(err.to_string().contains("wasmplug:demo/api@1.0.0"), "{err}");
}

#[test]
fn a_mistyped_export_is_named() {
    // `get-v` returns s32 where the contract says s64.
    let err = runtime().open::<Demo>(wasm("mistyped")).err().unwrap();
    assert!(matches!(err, Error::Export { .. }), "{err}");
    assert!(err.to_string().contains("get-v"), "{err}");
}

#[test]
fn an_unsupported_contract_version() {
    let err = runtime().open::<Demo>(wasm("demo-v2")).err().unwrap();
    match &err {
        Error::UnsupportedContract {
            found, supported, ..
        } => {
            assert_eq!(found, "wasmplug:demo/api@2.0.0");
            assert_eq!(supported, "wasmplug:demo@1.0.0");
        }
        other => panic!("expected UnsupportedContract, got {other}"),
    }
}

#[test]
fn an_import_the_host_does_not_provide_is_named() {
    let err = runtime()
        .open::<InitProbe>(wasm("needs-import"))
        .err()
        .unwrap();
    assert!(matches!(err, Error::Import { .. }), "{err}");
    assert!(err.to_string().contains("acme:needs-import/thing"), "{err}");
}

#[test]
fn an_init_that_refuses() {
    let err = runtime()
        .loader::<GatewayFilter>()
        .config("bogus", "1")
        .open(wasm("auth-filter"))
        .err()
        .unwrap();
    match &err {
        Error::Init { plugin, message } => {
            assert_eq!(plugin, "auth-filter@1.0.0");
            assert_eq!(message, "unknown setting `bogus`");
        }
        other => panic!("expected Init, got {other}"),
    }
}

#[test]
fn same_name_and_version_with_other_content_is_refused_not_a_panic() {
    let rt = runtime();
    let original = rt.open::<Demo>(wasm("demo1")).unwrap();
    original
        .call(|d, s| d.wasmplug_demo_api().call_set_v(s, 7))
        .unwrap();

    let rebuilt = with_custom_section(wasm_bytes("demo1"));
    let err = rt
        .loader::<Demo>()
        .open_bytes("rebuilt demo1", &rebuilt)
        .err()
        .unwrap();
    match &err {
        Error::Conflict(conflict) => {
            assert_eq!(
                (
                    conflict.name.as_str(),
                    conflict.version.to_string().as_str()
                ),
                ("demo1", "1.0.0")
            );
            assert_eq!(conflict.loaded, original.digest());
            assert_eq!(conflict.new, wasmplug::Digest::of(&rebuilt));
            let text = err.to_string();
            assert!(text.contains(&conflict.loaded.to_string()), "{text}");
            assert!(text.contains(&conflict.new.to_string()), "{text}");
        }
        other => panic!("expected Conflict, got {other}"),
    }
    // The loaded plugin is untouched and still serving.
    assert_eq!(
        original
            .call(|d, s| d.wasmplug_demo_api().call_get_v(s))
            .unwrap(),
        7
    );

    // Once the original is unloaded, the rebuilt file loads.
    drop(original);
    let replacement = rt
        .loader::<Demo>()
        .open_bytes("rebuilt demo1", &rebuilt)
        .unwrap();
    assert_eq!(replacement.digest(), wasmplug::Digest::of(&rebuilt));
}

#[test]
fn a_lookup_with_the_wrong_signature() {
    let plugin = runtime().open::<Demo>(wasm("demo1")).unwrap();
    let err = plugin
        .lookup::<(), (i32,)>("wasmplug:demo/api@1.0.0#get-v")
        .err()
        .unwrap();
    match &err {
        Error::Signature {
            export,
            expected,
            actual,
            ..
        } => {
            assert_eq!(export, "wasmplug:demo/api@1.0.0#get-v");
            assert_eq!(actual, "func() -> s64");
            assert!(expected.contains("i32"), "{expected}");
        }
        other => panic!("expected Signature, got {other}"),
    }
    let err = plugin
        .lookup::<(String,), ()>("wasmplug:demo/api@1.0.0#set-v")
        .err()
        .unwrap();
    assert!(matches!(err, Error::Signature { .. }), "{err}");

    // The plugin is unharmed by the failed lookups.
    plugin
        .call(|d, s| d.wasmplug_demo_api().call_set_v(s, 12))
        .unwrap();
    let get_v = plugin
        .lookup::<(), (i64,)>("wasmplug:demo/api@1.0.0#get-v")
        .unwrap();
    assert_eq!(get_v.call(()).unwrap(), (12,));
}

#[test]
fn a_lookup_of_a_missing_export() {
    let plugin = runtime().open::<Demo>(wasm("demo1")).unwrap();
    for name in [
        "wasmplug:demo/api@1.0.0#nope",
        "nope",
        "wasmplug:demo/nope@1.0.0#f",
    ] {
        let err = plugin.lookup::<(), ()>(name).err().unwrap();
        assert!(
            matches!(&err, Error::NoSuchExport { export, .. } if export == name),
            "{err}"
        );
    }
    // A near miss names the close exports.
    let err = plugin
        .lookup::<(), (i64,)>("wasmplug:demo/api@1.0.0#get-w")
        .err()
        .unwrap();
    match &err {
        Error::NoSuchExport { similar, .. } => {
            assert_eq!(similar[0], "wasmplug:demo/api@1.0.0#get-v", "{similar:?}");
        }
        other => panic!("expected NoSuchExport, got {other:?}"),
    }
    assert!(
        err.to_string()
            .contains("(did you mean `wasmplug:demo/api@1.0.0#get-v`"),
        "{err}"
    );
}

#[test]
fn errors_leave_the_runtime_serving() {
    let rt = runtime();
    let good = rt.open::<Demo>(wasm("demo1")).unwrap();
    for bad in ["auth-filter", "init-probe", "mistyped", "demo-v2"] {
        let err = rt.open::<Demo>(wasm(bad)).unwrap_err();
        let expected = match bad {
            "auth-filter" => matches!(err, Error::NotImplemented { .. }),
            "demo-v2" => matches!(err, Error::UnsupportedContract { .. }),
            _ => matches!(err, Error::Export { .. }),
        };
        assert!(expected, "{bad}: {err:?}");
    }
    assert_eq!(rt.live_plugins(), 1);
    let again = rt.open::<Demo>(wasm("demo1")).unwrap();
    assert!(Plugin::ptr_eq(&good, &again));
}

#[test]
fn a_trap_is_an_error_and_the_next_call_gets_a_fresh_instance() {
    let rt = runtime();
    let plugin = rt.open::<InitProbe>(wasm("faulty")).unwrap();
    let inits =
        |p: &Plugin<InitProbe>| p.call(|f, s| f.wasmplug_demo_probe().call_common_init_count(s));
    assert_eq!(inits(&plugin).unwrap(), 1);

    let err = plugin
        .call(|f, s| f.wasmplug_demo_probe().call_init_count(s))
        .err()
        .unwrap();
    match &err {
        Error::Trap { plugin, code, .. } => {
            assert_eq!(plugin, "faulty@1.0.0");
            assert_eq!(
                *code,
                Some(wasmplug::wasmtime::Trap::UnreachableCodeReached)
            );
        }
        other => panic!("expected Trap, got {other}"),
    }
    // The trapped instance is discarded: the next call runs on a fresh one,
    // whose `init` ran (once, in it).
    assert_eq!(inits(&plugin).unwrap(), 1);
    // A private instance that trapped refuses further calls instead.
    let mut private = plugin.pre().instantiate().unwrap();
    assert!(!private.is_poisoned());
    let err = private
        .call(|f, s| f.wasmplug_demo_probe().call_init_count(s))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Trap {
                code: Some(wasmplug::wasmtime::Trap::UnreachableCodeReached),
                ..
            }
        ),
        "{err}"
    );
    assert!(private.is_poisoned());
    assert!(matches!(
        private.call(|f, s| f.wasmplug_demo_probe().call_common_init_count(s)),
        Err(Error::Trap { code: None, .. })
    ));
}

#[test]
fn a_panic_in_the_callers_closure_does_not_leave_a_half_used_instance() {
    let rt = runtime();
    let plugin = rt.open::<Demo>(wasm("demo1")).unwrap();
    plugin
        .call(|d, s| d.wasmplug_demo_api().call_set_v(s, 9))
        .unwrap();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        plugin.call(|_, _| -> wasmplug::wasmtime::Result<()> { panic!("embedder bug") })
    }));
    let payload = panicked.expect_err("the closure's panic reaches the caller");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"embedder bug"));
    // The next call runs on a fresh instance (V is back to 0), no deadlock.
    assert_eq!(
        plugin
            .call(|d, s| d.wasmplug_demo_api().call_get_v(s))
            .unwrap(),
        0
    );
}
