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

/// Every type the native ABI carries, nested, through the test-only echo
/// plugin's generated code and back: what a dynamic caller lays out is
/// what the generated code reads, and the other way round. The component
/// built from the same source answers the same.
#[test]
fn every_type_of_the_abi_makes_the_round_trip_through_generated_code() {
    let _lock = crate::support::native_lock();
    let echo_wit = xtask::workspace_root().join("tests/wit/echo");
    let echo = open(
        "echo",
        NativeLoader::new(),
        &world(&[&wit("plugin"), &echo_wit], "echo-plugin"),
    );
    let runtime = runtime();
    let mut component = runtime.dynamic().open(wasm("echo")).unwrap();
    component.init().unwrap();

    let scalars = r#"{a: -128, b: 255, c: -32768, d: 65535, e: -2147483648, f: 4294967295, g: -9223372036854775808, h: 18446744073709551615, i: 1.5, j: -0.25, k: '🦀', l: true}"#;
    let bag = r#"{name: "n", items: [["a", "b"], [], [""]], maybe: some(none), outcome: err("bad"), count: ok(3), shapes: [empty, text("t"), colors([]), pair((1, "p"))], bytes: [0, 255], triple: (false, -3.5, 'z'), tinies: [off, level(200), code(65535)], last: code(7), byte-ok: err, byte-err: err(9)}"#;
    let other_bag = r#"{name: "", items: [], maybe: some(some(-1)), outcome: ok, count: err, shapes: [], bytes: [], triple: (true, 0.0, '\u{0}'), tinies: [], last: off, byte-ok: ok(1), byte-err: ok}"#;
    let cases: &[(&str, &[&str])] = &[
        ("echo-scalars", &[scalars]),
        ("echo-shape", &["empty"]),
        ("echo-shape", &["byte(7)"]),
        ("echo-shape", &["wide(18446744073709551615)"]),
        ("echo-shape", &[r#"text("ünïcödé")"#]),
        ("echo-shape", &[r#"pair((3, "x"))"#]),
        ("echo-shape", &["nested(none)"]),
        ("echo-shape", &["nested(some(ok(5)))"]),
        ("echo-shape", &[r#"nested(some(err("e")))"#]),
        ("echo-shape", &["colors([red, blue, green])"]),
        ("echo-bag", &[bag]),
        ("echo-bag", &[other_bag]),
        ("echo-color", &["green"]),
        ("echo-many", &["9", r#""many""#, "[1, 65535]", "some(42)"]),
        ("echo-many", &["0", r#""""#, "[]", "none"]),
        ("nothing", &[]),
    ];
    for &(function, args) in cases {
        let native = call(&echo, function, args).unwrap();

        let (_, ty) = component.resolve(function).unwrap();
        let params: Vec<Val> = ty
            .params()
            .zip(args)
            .map(|((_, t), a)| wasm_wave::from_str(&t, a).unwrap())
            .collect();
        let results = component.call(function, &params).unwrap();
        let from_wasm = results
            .first()
            .map(|v| wasm_wave::to_string(v).unwrap())
            .unwrap_or_default();
        assert_eq!(native, from_wasm, "{function}{args:?}");

        // What came back is what went in (as WAVE prints it).
        let expected = match (ty.results().next(), args) {
            (None, _) => String::new(),
            (Some(t), [one]) => {
                wasm_wave::to_string(&wasm_wave::from_str::<Val>(&t, one).unwrap()).unwrap()
            }
            (Some(t), many) => {
                let tuple = format!("({})", many.join(", "));
                wasm_wave::to_string(&wasm_wave::from_str::<Val>(&t, &tuple).unwrap()).unwrap()
            }
        };
        assert_eq!(native, expected, "{function}{args:?}");
    }
}
