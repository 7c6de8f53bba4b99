//! Plugins of any contract through `Runtime::dynamic` (what the command
//! line uses): no contract type, calls with `Val`s.

use wasmplug::wasmtime::component::Val;
use wasmplug::{Error, Limits};

use crate::support::{runtime, wasm};

#[test]
fn opens_any_contract_and_calls_with_vals() {
    let runtime = runtime();
    let mut demo = runtime.dynamic().open(wasm("demo1")).unwrap();
    assert_eq!(demo.metadata().name, "demo1");
    assert_eq!(demo.contract(), Some("wasmplug:demo@1.0.0"));
    assert!(demo.init().unwrap().is_empty());
    // A bare function name resolves when one interface has it.
    assert_eq!(
        demo.resolve("set-v").unwrap().0,
        "wasmplug:demo/api@1.0.0#set-v"
    );
    demo.call("set-v", &[Val::S64(15)]).unwrap();
    assert_eq!(
        demo.call("wasmplug:demo/api@1.0.0#get-v", &[]).unwrap(),
        vec![Val::S64(15)]
    );
    assert_eq!(
        demo.call("f", &[]).unwrap(),
        vec![Val::String("plugin1: public integer variable V=15".into())]
    );
}

#[test]
fn wrong_names_and_arguments_are_typed_errors() {
    let runtime = runtime();
    let mut demo = runtime.dynamic().open(wasm("demo1")).unwrap();
    demo.init().unwrap();
    let Err(Error::NoSuchExport { similar, .. }) = demo.call("set-w", &[Val::S64(1)]) else {
        panic!("a typo is NoSuchExport");
    };
    assert_eq!(similar[0], "wasmplug:demo/api@1.0.0#set-v");
    assert!(matches!(
        demo.call("set-v", &[]),
        Err(Error::Signature { .. })
    ));
    // The count was checked before the call: the instance is still good.
    demo.call("set-v", &[Val::S64(2)]).unwrap();
    assert!(matches!(
        demo.call("set-v", &[Val::String("two".into())]),
        Err(Error::Signature { .. })
    ));
}

#[test]
fn faults_poison_the_instance() {
    let runtime = wasmplug::Runtime::builder()
        .epoch_interruption(true)
        .build()
        .unwrap();
    let mut faulty = runtime
        .dynamic()
        .limits(Limits::new().deadline(std::time::Duration::from_millis(100)))
        .open(wasm("misbehave"))
        .unwrap();
    faulty.init().unwrap();
    let (_, ty) = faulty.resolve("misbehave").unwrap();
    let wasmplug::wasmtime::component::types::Type::Enum(faults) = ty.params().next().unwrap().1
    else {
        panic!("misbehave takes an enum");
    };
    assert!(faults.names().any(|n| n == "infinite-loop"));
    let spin = Val::Enum("infinite-loop".into());
    assert!(matches!(
        faulty.call("misbehave", &[spin]),
        Err(Error::LimitExceeded { .. })
    ));
    assert!(matches!(
        faulty.call("ping", &[Val::U32(1)]),
        Err(Error::Trap { .. })
    ));
}

#[test]
fn a_component_without_the_base_contract_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bare.wasm");
    std::fs::write(&path, b"\0asm\x0d\0\x01\0").unwrap();
    let err = runtime().dynamic().open(&path).unwrap_err();
    assert!(matches!(err, Error::NotImplemented { .. }), "{err}");
}
