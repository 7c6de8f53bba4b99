//! Hostile files and hostile timing: mutated and truncated plugins load or
//! fail with a typed error, never a panic; many threads opening, calling and
//! dropping plugins at once all get answers.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use proptest::prelude::*;
use wasmplug::{Error, Limits, Runtime};
use wasmplug_contracts::{Demo, InitProbe};

use crate::support::{wasm, wasm_bytes};

/// A mutation of a valid plugin file.
#[derive(Debug, Clone)]
enum Mutation {
    Truncate(usize),
    Flip { at: usize, bits: u8 },
    Insert { at: usize, bytes: Vec<u8> },
    Overwrite { at: usize, bytes: Vec<u8> },
}

fn mutation(len: usize) -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0..len).prop_map(Mutation::Truncate),
        (0..len, 1u8..=255).prop_map(|(at, bits)| Mutation::Flip { at, bits }),
        (0..len, prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Mutation::Insert { at, bytes }),
        (0..len, prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(at, bytes)| Mutation::Overwrite { at, bytes }),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len().max(1);
        match m {
            Mutation::Truncate(n) => bytes.truncate(*n % len),
            Mutation::Flip { at, bits } => {
                if let Some(b) = bytes.get_mut(at % len) {
                    *b ^= bits;
                }
            }
            Mutation::Insert { at, bytes: new } => {
                let at = (at % len).min(bytes.len());
                bytes.splice(at..at, new.iter().copied());
            }
            Mutation::Overwrite { at, bytes: new } => {
                for (i, b) in new.iter().enumerate() {
                    if let Some(slot) = bytes.get_mut((at + i) % len) {
                        *slot = *b;
                    }
                }
            }
        }
    }
    bytes
}

/// Whether `err` is what a malformed, truncated or mistyped plugin file
/// gives, or a fault of its code while loading (at `get-metadata`, `init`).
fn is_load_error(err: &Error) -> bool {
    matches!(
        err,
        Error::NotWasm { .. }
            | Error::CoreModule { .. }
            | Error::Truncated { .. }
            | Error::Malformed { .. }
            | Error::NotImplemented { .. }
            | Error::UnsupportedContract { .. }
            | Error::Export { .. }
            | Error::Import { .. }
            | Error::Metadata { .. }
            | Error::Init { .. }
            | Error::Trap { .. }
            | Error::LimitExceeded { .. }
    )
}

/// Whether `err` is what a call into a (loaded) mutant can give: a fault.
fn is_call_error(err: &Error) -> bool {
    matches!(
        err,
        Error::Trap { .. } | Error::LimitExceeded { .. } | Error::Init { .. }
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mutated_plugins_load_or_fail_with_a_typed_error(
        mutations in prop::collection::vec(mutation(60_000), 1..4)
    ) {
        let original = wasm_bytes("demo1");
        let bytes = apply(original, &mutations);
        // No cache: mutants would fill it with entries never used again.
        // A deadline and a memory cap: a mutant may loop or allocate.
        let rt = Runtime::builder()
            .max_instances(4)
            .cache(false)
            .epoch_interruption(true)
            .build()
            .unwrap();
        let limits = Limits::new()
            .deadline(Duration::from_secs(5))
            .max_memory(64 << 20);
        match rt.loader::<Demo>().limits(limits.clone()).open_bytes("mutant", &bytes) {
            // A mutation in a custom section or in unused code can leave a
            // working plugin: then each call gives a value or a fault.
            Ok(plugin) => {
                for v in [7, -3] {
                    match plugin.call(|d, s| {
                        d.wasmplug_demo_api().call_set_v(&mut *s, v)?;
                        d.wasmplug_demo_api().call_get_v(s)
                    }) {
                        Ok(_) => {}
                        Err(err) => prop_assert!(is_call_error(&err), "a call gave {err:?}"),
                    }
                }
            }
            Err(err) => {
                // Every error renders; the variant says which check caught it.
                prop_assert!(is_load_error(&err), "the load gave {err:?}");
                prop_assert!(!err.to_string().is_empty());
            }
        }
        // Whatever the mutant did, the runtime serves the good plugin (the
        // mutant, under the same name and version, is gone: no conflict).
        prop_assert_eq!(rt.live_plugins(), 0);
        let good = rt
            .loader::<Demo>()
            .limits(limits)
            .open(wasm("demo1"))
            .unwrap();
        let v = good.call(|d, s| {
            d.wasmplug_demo_api().call_set_v(&mut *s, 41)?;
            d.wasmplug_demo_api().call_get_v(s)
        });
        prop_assert_eq!(v.unwrap(), 41);
    }
}

#[test]
fn many_threads_open_call_and_drop_plugins_at_once() {
    const THREADS: usize = 8;
    const ROUNDS: usize = 25;
    let rt = Runtime::builder().max_instances(64).build().unwrap();
    let start = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let rt = rt.clone();
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait();
                let mut answered = 0;
                for round in 0..ROUNDS {
                    if (t + round) % 2 == 0 {
                        let plugin = rt.open::<Demo>(wasm("demo1")).unwrap();
                        plugin
                            .call(|d, s| d.wasmplug_demo_api().call_get_v(s))
                            .unwrap();
                        // A private instance too: instantiate and drop.
                        let mut own = plugin.pre().instantiate().unwrap();
                        own.call(|d, s| d.wasmplug_demo_api().call_set_v(s, t as i64))
                            .unwrap();
                        answered += 1;
                    } else {
                        let plugin = rt.open::<InitProbe>(wasm("init-probe")).unwrap();
                        let inits = plugin
                            .call(|p, s| p.wasmplug_demo_probe().call_init_count(s))
                            .unwrap();
                        assert_eq!(inits, 1, "a live plugin's init ran once");
                        answered += 1;
                    }
                    // And a bad one, which must not disturb the others.
                    let bad = rt.open::<Demo>(wasm("init-probe"));
                    assert!(matches!(bad, Err(Error::Export { .. })));
                }
                answered
            })
        })
        .collect();
    let answered: usize = handles
        .into_iter()
        .map(|h| h.join().expect("no thread panicked"))
        .sum();
    assert_eq!(answered, THREADS * ROUNDS);
}
