//! Plugins written in Go and Python (guests/go, guests/python, and fault
//! fixtures in tests/fixtures/{go,python}), built by the guest builder,
//! through the same contracts and the same tests as the Rust guests.

#![allow(unsafe_code, reason = "opening the native Rust filter to compare")]

use std::time::Duration;

use wasmplug::wasmtime::Trap;
use wasmplug::wasmtime::component::ResourceAny;
use wasmplug::{Error, Limit, Limits, Plugin, Runtime};
use wasmplug_contracts::gateway::wasmplug::gateway::types::{Rejection, Request, Verdict};
use wasmplug_contracts::{Demo, DemoApi, GatewayFilter, GatewayFilterApi, GatewayFilterNative};
use wasmplug_native::NativeLoader;

use crate::backends::{auth_filter_contract, demo1_contract};
use crate::faults::{Fault, Faults};
use crate::gateway::request;
use crate::support::{capture_logs, count, native, native_lock, runtime, wasm};

// ---- the seed's demo tests on the Go plugin --------------------------------

#[test]
fn go_demo_passes_the_demo1_contract() {
    let rt = runtime();
    let (_, logs) = capture_logs(|| {
        let plugin: Plugin<Demo> = rt.open(wasm("go-demo")).unwrap();
        assert_eq!(plugin.metadata().name, "go-demo");
        demo1_contract(&plugin);
    });
    assert_eq!(
        count(
            &logs,
            "go-demo@1.0.0",
            "plugin1: public integer variable V=15"
        ),
        1,
        "{logs:?}"
    );
    assert_eq!(count(&logs, "go-demo@1.0.0", "plugin1 init"), 1, "{logs:?}");
    assert_eq!(
        count(&logs, "go-demo@1.0.0", "plugin1: invoke foo.M1 (call 2)"),
        1,
        "{logs:?}"
    );
}

#[test]
fn go_demo_foo_m1_through_the_hosts_interface_type_and_typed_lookup() {
    let rt = runtime();
    let plugin = rt.open::<Demo>(wasm("go-demo")).unwrap();
    let foo: ResourceAny = plugin
        .call(|d, s| d.wasmplug_demo_api().call_get_foo(s))
        .unwrap();
    let m1 = || {
        plugin
            .call(|d, s| d.wasmplug_demo_api().foo().call_m1(s, foo))
            .unwrap()
    };
    assert_eq!(m1(), "plugin1: invoke foo.M1 (call 1)");
    assert_eq!(m1(), "plugin1: invoke foo.M1 (call 2)");
    plugin.call(|_, s| foo.resource_drop(s)).unwrap();

    // Go's `plugin.Lookup("V")` and a type assertion, typed here.
    let set_v = plugin
        .lookup::<(i64,), ()>("wasmplug:demo/api@1.0.0#set-v")
        .unwrap();
    let f = plugin
        .lookup::<(), (String,)>("wasmplug:demo/api@1.0.0#f")
        .unwrap();
    set_v.call((-3,)).unwrap();
    assert_eq!(
        f.call(()).unwrap().0,
        "plugin1: public integer variable V=-3"
    );
    // A wrong "type assertion" is an error, not a panic.
    let looked_up = plugin.lookup::<(String,), ()>("wasmplug:demo/api@1.0.0#set-v");
    assert!(
        matches!(looked_up, Err(Error::Signature { .. })),
        "a mistyped lookup must be Error::Signature"
    );
    assert_eq!(
        plugin
            .exports()
            .iter()
            .find(|e| e.name == "wasmplug:demo/api@1.0.0#get-v")
            .map(|e| e.signature.as_str()),
        Some("func() -> s64")
    );
}

#[test]
fn go_demo_opened_twice_is_one_plugin_and_inits_once_per_instance() {
    let rt = runtime();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.wasm");
    std::fs::copy(wasm("go-demo"), &copy).unwrap();
    let ((first, second), logs) = capture_logs(|| {
        let first = rt.open::<Demo>(wasm("go-demo")).unwrap();
        let second = rt.open::<Demo>(&copy).unwrap();
        (first, second)
    });
    assert!(Plugin::ptr_eq(&first, &second));
    assert_eq!(count(&logs, "go-demo@1.0.0", "plugin1 init"), 1);
    // Go's package `init` ran once when the instance started, the
    // contract's `init` once after it.
    assert_eq!(second.init_count().unwrap(), 1);
    assert_eq!(second.common_init_count().unwrap(), 1);

    // A private instance is another Go runtime, with its own `V`.
    let mut private = first.pre().instantiate().unwrap();
    private
        .call(|d, s| d.wasmplug_demo_api().call_set_v(s, 7))
        .unwrap();
    assert_eq!(first.get_v().unwrap(), 0);
    assert_eq!(
        private
            .call(|d, s| d.wasmplug_demo_probe().call_common_init_count(s))
            .unwrap(),
        1
    );
}

#[test]
fn go_demo_unloads_with_its_last_handle_and_reloads_afresh() {
    let rt = runtime();
    let (_, logs) = capture_logs(|| {
        let plugin = rt.open::<Demo>(wasm("go-demo")).unwrap();
        plugin.set_v(99).unwrap();
        drop(plugin);
        assert_eq!(rt.live_plugins(), 0);
        let reopened = rt.open::<Demo>(wasm("go-demo")).unwrap();
        assert_eq!(reopened.get_v().unwrap(), 0);
    });
    assert_eq!(count(&logs, "go-demo@1.0.0", "plugin1 init"), 2);
    assert_eq!(count(&logs, "go-demo@1.0.0", "plugin1 shutdown"), 2);
}

// ---- the gateway filter in four builds -------------------------------------

/// The filters in other languages, by guest name.
const FILTERS: &[&str] = &["go-auth-filter", "py-auth-filter"];

fn open_filter(rt: &Runtime, name: &str, deny: &str) -> Plugin<GatewayFilter> {
    rt.loader::<GatewayFilter>()
        .config("deny", deny)
        .open(wasm(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn go_and_python_filters_pass_the_auth_filter_table() {
    let rt = runtime();
    for name in FILTERS {
        auth_filter_contract(&open_filter(&rt, name, "mallory, eve"));
    }
}

/// Requests on the edges of the filter's rules.
fn edge_requests() -> Vec<Request> {
    let with = |path: &str, headers: &[(&str, &str)]| Request {
        method: "POST".into(),
        path: path.into(),
        headers: headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect(),
        body: b"{}".to_vec(),
    };
    vec![
        request("/public/", None),
        request("/public", None),
        request("/assets/x.css", None),
        request("/v1", Some("Bearer alice")),
        request("/v1", Some("Bearer ")),
        request("/v1", Some("bearer alice")),
        request("/v1", Some("Bearer mallory")),
        request("/v1", Some("Bearer  mallory")),
        request("/v1", Some("Bearer eve")),
        request("/v1", Some("Bearer évè")),
        with("/v1", &[("AUTHORIZATION", "Bearer carol")]),
        with(
            "/v1",
            &[("authorization", "Basic x"), ("authorization", "Bearer a")],
        ),
        with(
            "/v1",
            &[("x-a", "1"), ("Authorization", "Bearer eve"), ("y", "2")],
        ),
        with("/v1?token=alice", &[]),
        with("", &[]),
    ]
}

#[test]
fn rust_go_python_and_native_filters_give_identical_verdicts() {
    let rt = runtime();
    let deny = "mallory, eve,,évè";
    let rust = open_filter(&rt, "auth-filter", deny);
    let go = open_filter(&rt, "go-auth-filter", deny);
    let python = open_filter(&rt, "py-auth-filter", deny);
    let _lock = native_lock();
    // SAFETY: the bundled filter, built from this repository.
    let native = unsafe {
        NativeLoader::new()
            .config("deny", deny)
            .open::<GatewayFilterNative>(&native("auth-filter"))
    }
    .unwrap();

    let mut kinds = std::collections::BTreeSet::new();
    for req in edge_requests() {
        let expected = rust.on_request(&req).unwrap();
        kinds.insert(match &expected {
            Verdict::Allow => "allow".to_owned(),
            Verdict::Reject(Rejection { status, .. }) => status.to_string(),
            Verdict::Rewrite(_) => "rewrite".to_owned(),
        });
        assert_eq!(go.on_request(&req).unwrap(), expected, "Go, {req:?}");
        assert_eq!(
            python.on_request(&req).unwrap(),
            expected,
            "Python, {req:?}"
        );
        assert_eq!(
            native.on_request(&req).unwrap(),
            expected,
            "native, {req:?}"
        );
    }
    // The table reaches every kind of verdict.
    assert_eq!(
        kinds.into_iter().collect::<Vec<_>>(),
        ["401", "403", "allow", "rewrite"]
    );
}

#[test]
fn go_and_python_filters_take_configuration_and_refuse_unknown_settings() {
    let rt = runtime();
    for name in FILTERS {
        let plugin = rt
            .loader::<GatewayFilter>()
            .config("public-prefix", "/assets/")
            .open(wasm(name))
            .unwrap();
        assert_eq!(
            plugin.on_request(&request("/assets/app.js", None)).unwrap(),
            Verdict::Allow
        );
        assert!(matches!(
            plugin.on_request(&request("/public/x", None)).unwrap(),
            Verdict::Reject(_)
        ));
        drop(plugin);

        let err = rt
            .loader::<GatewayFilter>()
            .config("bogus", "1")
            .open(wasm(name))
            .unwrap_err();
        match err {
            Error::Init { plugin, message } => {
                assert_eq!(plugin, format!("{name}@1.0.0"));
                assert_eq!(message, "unknown setting `bogus`");
            }
            other => panic!("{name}: expected Init, got {other}"),
        }
    }
}

#[test]
fn a_go_or_python_filter_is_not_a_demo_plugin() {
    let rt = runtime();
    for name in FILTERS {
        let err = rt.open::<Demo>(wasm(name)).unwrap_err();
        assert!(matches!(err, Error::NotImplemented { .. }), "{name}: {err}");
    }
}

// ---- faults: a panic, an exception, a runaway are typed errors -------------

const MAX_MEMORY: usize = 128 << 20;
const DEADLINE: Duration = Duration::from_secs(1);

fn open_misbehaving(rt: &Runtime, name: &str) -> Plugin<Faults> {
    rt.loader::<Faults>()
        .limits(Limits::new().max_memory(MAX_MEMORY).deadline(DEADLINE))
        .open(wasm(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn ping(plugin: &Plugin<Faults>) -> u32 {
    plugin
        .call(|f, s| f.acme_faults_faults().call_ping(s, 41))
        .unwrap()
}

#[test]
fn go_and_python_faults_are_typed_errors_and_the_plugin_serves_on() {
    let rt = Runtime::builder()
        .max_instances(16)
        .epoch_interruption(true)
        .build()
        .unwrap();
    for name in ["go-misbehave", "py-misbehave"] {
        let plugin = open_misbehaving(&rt, name);
        let label = format!("{name}@1.0.0");
        assert_eq!(ping(&plugin), 42);
        // Go: a panic (and a runtime error, which is one) aborts through
        // the runtime into `unreachable`, with the Go frames in the
        // backtrace; Go's own stack check is past wasmtime's limit.
        // Python: an exception escaping an export aborts componentize-py's
        // runtime, also `unreachable`; so does a RecursionError.
        let go = name.starts_with("go");
        let cases = [
            (Fault::Panic, Trap::UnreachableCodeReached),
            (Fault::DivideByZero, Trap::UnreachableCodeReached),
            (
                Fault::RecurseForever,
                if go {
                    Trap::StackOverflow
                } else {
                    Trap::UnreachableCodeReached
                },
            ),
        ];
        for (fault, code) in cases {
            let err = crate::faults::misbehave(&plugin, fault).unwrap_err();
            match &err {
                Error::Trap {
                    plugin,
                    code: Some(c),
                    reason,
                    ..
                } => {
                    assert_eq!(*plugin, label);
                    assert_eq!(*c, code, "{name} {fault:?}: {err}");
                    if go && code == Trap::UnreachableCodeReached {
                        assert!(reason.contains("runtime.gopanic"), "{reason}");
                        assert!(reason.contains("faults.Misbehave"), "{reason}");
                    }
                }
                other => panic!("{name} {fault:?}: expected a trap, got {other}"),
            }
            assert_eq!(ping(&plugin), 42, "{name} after {fault:?}");
        }
        let err = crate::faults::misbehave(&plugin, Fault::AllocateForever).unwrap_err();
        assert!(
            matches!(&err, Error::LimitExceeded { limit: Limit::Memory { max, .. }, .. } if *max == MAX_MEMORY),
            "{name}: {err}"
        );
        assert_eq!(ping(&plugin), 42, "{name} after running out of memory");
        let err = crate::faults::misbehave(&plugin, Fault::InfiniteLoop).unwrap_err();
        assert!(
            matches!(&err, Error::LimitExceeded { limit: Limit::Deadline(d), .. } if *d == DEADLINE),
            "{name}: {err}"
        );
        assert_eq!(ping(&plugin), 42, "{name} after the deadline");
    }
}

/// Go's garbage collector reads the clock, a WASI import; when a collection
/// finishes inside `cabi_realloc` (the host lowering a request into Go's
/// memory), that import is forbidden and the call traps with "cannot leave
/// component instance" (wasmtime#14318, open). The Go filter runs its
/// collections itself, inside its export, where imports are allowed (see
/// docs/go.md): many large requests in a row pass.
#[test]
fn the_go_filter_survives_garbage_collection_under_load() {
    let rt = runtime();
    let filter = open_filter(&rt, "go-auth-filter", "mallory");
    let mut req = request("/v1/upload", Some("Bearer bob"));
    req.headers
        .extend((0..14).map(|i| (format!("x-h{i}"), "v".repeat(40))));
    req.body = vec![0xab; 1024];
    for i in 0..20_000 {
        let verdict = filter
            .on_request(&req)
            .unwrap_or_else(|e| panic!("request {i}: {e}"));
        assert!(matches!(verdict, Verdict::Rewrite(_)), "{verdict:?}");
    }
}
