//! Native plugins of a world read at run time (`NativeLoader::open_dynamic`,
//! what `wasmplug call` uses on a native library): the same answers as the
//! plugin's component, and typed errors for a library that does not match
//! the WIT it is called through.

#![allow(unsafe_code, reason = "opening native libraries is unsafe by nature")]

use std::path::Path;

use wasm_wave::value::Value;
use wasm_wave::wasm::{WasmFunc, WasmValue};
use wasmplug::wasmtime::component::Val;
use wasmplug_native::{DynamicNativePlugin, NativeError, NativeLoader};
use wit_parser::{Resolve, WorldId};

use crate::support::{native, runtime, wasm};

/// The repository's WIT packages in `dirs` (the world's package last), and
/// `world` in the last one.
fn world(dirs: &[&Path], world: &str) -> (Resolve, WorldId) {
    let mut resolve = Resolve::default();
    let mut last = None;
    for dir in dirs {
        last = Some(resolve.push_path(dir).unwrap().0);
    }
    let id = resolve
        .select_world(&last.into_iter().collect::<Vec<_>>(), Some(world))
        .unwrap();
    (resolve, id)
}

fn wit(name: &str) -> std::path::PathBuf {
    xtask::workspace_root().join("wit").join(name)
}

fn gateway_world() -> (Resolve, WorldId) {
    world(&[&wit("plugin"), &wit("gateway")], "gateway-filter")
}

fn open(
    name: &str,
    loader: NativeLoader,
    (resolve, id): &(Resolve, WorldId),
) -> DynamicNativePlugin {
    // SAFETY: the bundled plugins, built by the guest builder.
    unsafe { loader.open_dynamic(native(name), resolve, *id) }.unwrap()
}

/// Calls `export` with WAVE arguments and gives the result as WAVE.
fn call(plugin: &DynamicNativePlugin, export: &str, args: &[&str]) -> Result<String, NativeError> {
    let export = plugin.resolve(export)?;
    // An export without a type (resources) is called without arguments,
    // for its error.
    let args: Vec<Value> = match export.ty() {
        Ok(ty) => ty
            .params()
            .zip(args)
            .map(|(t, a)| wasm_wave::from_str(&t, a).unwrap())
            .collect(),
        Err(_) => Vec::new(),
    };
    Ok(plugin
        .call(export, &args)?
        .map(|v| wasm_wave::to_string(&v).unwrap())
        .unwrap_or_default())
}

#[test]
fn a_native_library_called_dynamically_answers_as_its_component() {
    let _lock = crate::support::native_lock();
    let filter = open(
        "auth-filter",
        NativeLoader::new().config("deny", "mallory"),
        &gateway_world(),
    );
    assert_eq!(filter.metadata().name, "auth-filter");
    assert_eq!(
        filter
            .exports()
            .iter()
            .map(|e| e.name())
            .collect::<Vec<_>>(),
        ["wasmplug:gateway/filter#on-request"]
    );

    let runtime = runtime();
    let mut component = runtime
        .dynamic()
        .config("deny", "mallory")
        .open(wasm("auth-filter"))
        .unwrap();
    component.init().unwrap();
    let (_, ty) = component.resolve("on-request").unwrap();
    let request_type = ty.params().next().unwrap().1;

    let requests = [
        r#"{method: "GET", path: "/", headers: [], body: []}"#,
        r#"{method: "GET", path: "/x", headers: [("authorization", "Bearer alice")], body: [1, 2]}"#,
        r#"{method: "POST", path: "/y", headers: [("authorization", "Bearer mallory"), ("x-a", "ü")], body: []}"#,
    ];
    let mut verdicts = Vec::new();
    for request in requests {
        let native = call(&filter, "on-request", &[request]).unwrap();
        let arg: Val = wasm_wave::from_str(&request_type, request).unwrap();
        let wasm = component.call("on-request", &[arg]).unwrap();
        assert_eq!(
            native,
            wasm_wave::to_string(&wasm[0]).unwrap(),
            "for {request}"
        );
        verdicts.push(native);
    }
    // Three different verdicts: the variant's cases and payloads made it.
    assert!(verdicts[0].starts_with("reject("), "{}", verdicts[0]);
    assert!(verdicts[1].starts_with("rewrite("), "{}", verdicts[1]);
    assert!(verdicts[2].starts_with("reject("), "{}", verdicts[2]);
    assert_ne!(verdicts[0], verdicts[2]);
}

#[test]
fn scalars_strings_and_the_log_import_work_and_resources_are_refused() {
    let _lock = crate::support::native_lock();
    let demo = open(
        "demo1",
        NativeLoader::new(),
        &world(&[&wit("plugin"), &wit("demo")], "demo"),
    );
    // A full name with the interface's version resolves as the bare one.
    assert_eq!(
        call(&demo, "wasmplug:demo/api@1.0.0#set-v", &["15"]).unwrap(),
        ""
    );
    assert_eq!(call(&demo, "get-v", &[]).unwrap(), "15");
    // `f` logs through the host's `log` import, then answers.
    assert_eq!(
        call(&demo, "f", &[]).unwrap(),
        r#""plugin1: public integer variable V=15""#
    );
    let Err(NativeError::UnsupportedExport { export, reason, .. }) = call(&demo, "get-foo", &[])
    else {
        panic!("a function returning a resource cannot be called dynamically");
    };
    assert_eq!(export, "wasmplug:demo/api#get-foo");
    assert!(reason.contains("resource"), "{reason}");
    let Err(NativeError::NoSuchExport { candidates, .. }) = call(&demo, "set-w", &["1"]) else {
        panic!("an unknown name is NoSuchExport");
    };
    assert!(candidates.contains(&"wasmplug:demo/api#set-v".to_owned()));
    // Arguments of the wrong number or type are refused before the call.
    let set_v = demo.resolve("set-v").unwrap();
    let Err(NativeError::InvalidArgument { reason, .. }) = demo.call(set_v, &[]) else {
        panic!("a missing argument is InvalidArgument");
    };
    assert_eq!(reason, "0 arguments given, it takes 1");
    let text = Value::make_string("x".into());
    let Err(NativeError::InvalidArgument { reason, .. }) = demo.call(set_v, &[text]) else {
        panic!("a string for an s64 is InvalidArgument");
    };
    assert_eq!(reason, "argument 1: a string where a s64 is expected");
    assert_eq!(call(&demo, "get-v", &[]).unwrap(), "15");
}

#[test]
fn a_panic_in_a_dynamic_call_is_a_typed_error_and_the_plugin_stays_usable() {
    let _lock = crate::support::native_lock();
    let filter = open(
        "fault-filter",
        NativeLoader::new().config("trap-every", "2"),
        &gateway_world(),
    );
    let request = |id: u32| {
        format!(r#"{{method: "GET", path: "/", headers: [("x-request-id", "{id}")], body: []}}"#)
    };
    let Err(NativeError::Panic {
        export, message, ..
    }) = call(&filter, "on-request", &[&request(4)])
    else {
        panic!("a panic is NativeError::Panic");
    };
    assert_eq!(export, "wasmplug:gateway/filter#on-request");
    assert!(
        message.contains("request 4 is a multiple of 2"),
        "{message}"
    );
    assert!(
        call(&filter, "on-request", &[&request(3)])
            .unwrap()
            .starts_with("rewrite(")
    );
}

#[test]
fn a_library_that_does_not_match_the_wit_is_refused_before_it_runs() {
    let _lock = crate::support::native_lock();
    let open_err = |name: &str, (resolve, id): &(Resolve, WorldId)| {
        // SAFETY: the bundled plugins, built by the guest builder.
        unsafe { NativeLoader::new().open_dynamic(native(name), resolve, *id) }.unwrap_err()
    };
    // Another world.
    let err = open_err("demo1", &gateway_world());
    assert!(matches!(err, NativeError::Contract { .. }), "{err}");

    // The same package and version, one type changed: the digest says so.
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(wit("gateway").join("gateway.wit")).unwrap();
    let changed = text.replacen("status: u16", "status: u32", 1);
    assert_ne!(changed, text);
    std::fs::write(dir.path().join("gateway.wit"), changed).unwrap();
    let err = open_err(
        "auth-filter",
        &world(&[&wit("plugin"), dir.path()], "gateway-filter"),
    );
    assert!(matches!(err, NativeError::WitDigest { .. }), "{err}");

    // A world with host imports of its own: a dynamic host has only `log`.
    let err = open_err(
        "bench",
        &world(&[&wit("plugin"), &wit("bench")], "bench-plugin"),
    );
    let NativeError::UnsupportedWorld { reason, .. } = &err else {
        panic!("{err}");
    };
    assert!(reason.contains("wasmplug:bench/host#bump"), "{reason}");
}
