//! The lifecycle of a loaded plugin, after TiDB's plugin framework:
//! validate → init (with its configuration) → serve → reconfigure / flush
//! → disable / enable → shutdown. Each hook runs exactly once per
//! transition, observed through the `versioned` fixture's logs ("init",
//! "flush", "shutdown"). `validate` and `flush` are optional exports
//! (`wasmplug:plugin/lifecycle`), as is the plugin's declaration of its
//! kind, contract range and settings (`wasmplug:plugin/declaration`):
//! `versioned` has them, `counter` not.

use wasmplug::{Error, Plugin};

use crate::custom_contract::Counter;
use crate::support::{capture_logs, count, runtime};

const PLUGIN: &str = "versioned@1.1.0";

fn release() -> std::path::PathBuf {
    match xtask::build_guests() {
        Ok(guests) => guests.versioned("1.1.0"),
        Err(message) => panic!("the guest plugins could not be built:\n{message}"),
    }
}

fn add(plugin: &Plugin<Counter>, n: u32) -> wasmplug::Result<u64> {
    plugin.call(|c, s| c.acme_counter_counter().call_add(s, n))
}

#[test]
fn each_hook_runs_once_per_transition() {
    let runtime = runtime();
    let (plugin, logs) = capture_logs(|| {
        runtime
            .loader::<Counter>()
            .config("start", "10")
            .open(release())
            .unwrap()
    });
    assert_eq!(count(&logs, PLUGIN, "init"), 1);
    assert_eq!(add(&plugin, 1).unwrap(), 11);

    // Disabled: still loaded, skipped, its state kept.
    let (changed, logs) = capture_logs(|| (plugin.disable(), plugin.disable()));
    assert_eq!(changed, (true, false), "only the first is a transition");
    assert!(logs.is_empty(), "disabling runs no plugin code: {logs:?}");
    assert!(!plugin.is_enabled());
    match add(&plugin, 1) {
        Err(Error::Disabled { plugin }) => assert_eq!(plugin, PLUGIN),
        other => panic!("expected Disabled, got {other:?}"),
    }
    let typed = plugin
        .lookup::<(u32,), (u64,)>("acme:counter/counter@0.3.0#add")
        .unwrap();
    assert!(matches!(typed.call((1,)), Err(Error::Disabled { .. })));
    assert_eq!(runtime.live_plugins(), 1);
    assert!(plugin.enable());
    assert!(!plugin.enable());
    assert_eq!(add(&plugin, 1).unwrap(), 12, "the state survived");
    assert_eq!(typed.call((1,)).unwrap(), (13,));

    // Reconfigured: a fresh instance initialised with the new settings
    // takes over; the old one shuts down, once.
    let ((), logs) = capture_logs(|| plugin.reconfigure([("start", "500")]).unwrap());
    assert_eq!(count(&logs, PLUGIN, "init"), 1);
    assert_eq!(count(&logs, PLUGIN, "shutdown"), 1);
    assert_eq!(add(&plugin, 1).unwrap(), 501);
    assert_eq!(
        typed.call((1,)).unwrap(),
        (502,),
        "a looked-up export follows"
    );

    // Refused settings change nothing: a setting the plugin does not
    // declare is refused by the host, a value its `validate` hook does not
    // accept by the hook, both before any `init`; the live instance serves
    // on with its state.
    let (refused, logs) = capture_logs(|| {
        (
            plugin.reconfigure([("colour", "blue")]),
            plugin.reconfigure([("start", "2000000")]),
        )
    });
    match refused.0 {
        Err(Error::Config { reason, .. }) => {
            assert_eq!(
                reason,
                "setting `colour` is not declared (declared: start, step)"
            );
        }
        other => panic!("expected Config, got {other:?}"),
    }
    match refused.1 {
        Err(Error::Hook {
            plugin,
            hook,
            message,
        }) => {
            assert_eq!((plugin.as_str(), hook), (PLUGIN, "validate"));
            assert_eq!(message, "start 2000000 is over a million");
        }
        other => panic!("expected Hook, got {other:?}"),
    }
    assert_eq!(count(&logs, PLUGIN, "init"), 0);
    assert_eq!(count(&logs, PLUGIN, "shutdown"), 0);
    assert_eq!(add(&plugin, 1).unwrap(), 503);

    // Flushed on request: the hook runs once.
    let (flushed, logs) = capture_logs(|| plugin.flush().unwrap());
    assert!(flushed);
    assert_eq!(count(&logs, PLUGIN, "flush"), 1);

    // Unloaded: shutdown, once.
    drop(typed);
    let ((), logs) = capture_logs(|| drop(plugin));
    assert_eq!(count(&logs, PLUGIN, "shutdown"), 1);
    assert_eq!(runtime.live_plugins(), 0);
}

#[test]
fn validate_refuses_settings_before_init_and_plugins_without_hooks_load_as_before() {
    let runtime = runtime();
    let (refused, logs) = capture_logs(|| {
        runtime
            .loader::<Counter>()
            .config("start", "2000000")
            .open(release())
    });
    match refused {
        Err(Error::Hook { hook, message, .. }) => {
            assert_eq!(hook, "validate");
            assert_eq!(message, "start 2000000 is over a million");
        }
        other => panic!("expected Hook, got {other:?}"),
    }
    assert_eq!(count(&logs, PLUGIN, "init"), 0);
    assert_eq!(runtime.live_plugins(), 0);

    let counter = runtime
        .open::<Counter>(crate::support::wasm("counter"))
        .unwrap();
    assert!(!counter.flush().unwrap(), "no hooks, nothing to flush");
    counter.reconfigure([("start", "5")]).unwrap();
    assert_eq!(
        counter
            .call(|c, s| c.acme_counter_counter().call_total(s))
            .unwrap(),
        5
    );
}

#[test]
fn a_plugin_declares_its_kind_and_settings_and_the_host_applies_them_before_init() {
    let runtime = runtime();
    // No configuration: the declared default `step = 1` is filled in
    // (versioned's `init` refuses to run without a step).
    let plugin = runtime.open::<Counter>(release()).unwrap();
    assert_eq!(plugin.metadata().kind, "counter");
    assert_eq!(add(&plugin, 2).unwrap(), 2);
    plugin.reconfigure([("step", "10")]).unwrap();
    assert_eq!(add(&plugin, 2).unwrap(), 20);
    drop(plugin);

    let (refused, logs) = capture_logs(|| {
        runtime
            .loader::<Counter>()
            .config("colour", "blue")
            .open(release())
    });
    match refused {
        Err(Error::Config { reason, .. }) => {
            assert_eq!(
                reason,
                "setting `colour` is not declared (declared: start, step)"
            );
        }
        other => panic!("expected Config, got {other:?}"),
    }
    assert_eq!(count(&logs, PLUGIN, "init"), 0);
    assert_eq!(runtime.live_plugins(), 0);
}

fn variant(name: &str) -> std::path::PathBuf {
    match xtask::build_guests() {
        Ok(guests) => guests.versioned_variant(name),
        Err(message) => panic!("the guest plugins could not be built:\n{message}"),
    }
}

/// Opens `variant` with `config`; returns what the open gave and how many
/// times `init` ran.
fn open_variant(name: &str, config: &[(&str, &str)]) -> (wasmplug::Result<Plugin<Counter>>, usize) {
    let runtime = runtime();
    let (opened, logs) = capture_logs(|| {
        let mut loader = runtime.loader::<Counter>();
        for (key, value) in config {
            loader = loader.config(*key, *value);
        }
        loader.open(variant(name))
    });
    if opened.is_err() {
        assert_eq!(runtime.live_plugins(), 0, "{name}: nothing stays loaded");
    }
    (opened, count(&logs, PLUGIN, "init"))
}

#[test]
fn a_plugin_declaring_a_contract_range_outside_the_hosts_is_refused_before_init() {
    let (opened, inits) = open_variant("declares-contract-2", &[]);
    match opened {
        Err(Error::UnsupportedContract {
            origin,
            found,
            supported,
        }) => {
            assert_eq!(found, "acme:counter@^2");
            assert_eq!(supported, "acme:counter@0.3.0");
            assert!(
                origin
                    .to_string()
                    .contains("versioned-declares-contract-2.wasm"),
                "{origin}"
            );
        }
        other => panic!("expected UnsupportedContract, got {other:?}"),
    }
    assert_eq!(inits, 0, "init never ran");
}

#[test]
fn a_malformed_requirement_in_a_plugins_declaration_is_its_metadata_error_before_init() {
    let (opened, inits) = open_variant("declares-bad-contract", &[]);
    match opened {
        Err(Error::Metadata { reason, .. }) => assert!(
            reason.starts_with(
                "its declaration: contract `acme:counter@two`: `two` is not a version requirement"
            ),
            "{reason}"
        ),
        other => panic!("expected Metadata, got {other:?}"),
    }
    assert_eq!(inits, 0, "init never ran");
}

#[test]
fn a_setting_a_plugin_declares_required_must_be_given_before_init() {
    let (opened, inits) = open_variant("declares-step-required", &[("start", "5")]);
    match opened {
        Err(Error::MissingSetting {
            plugin,
            setting,
            description,
        }) => {
            assert_eq!(
                (plugin.as_str(), setting.as_str(), description.as_str()),
                (PLUGIN, "step", "what add(1) adds")
            );
        }
        other => panic!("expected MissingSetting, got {other:?}"),
    }
    assert_eq!(inits, 0, "init never ran");

    // Given, it loads and is used.
    let (opened, inits) = open_variant("declares-step-required", &[("start", "5"), ("step", "3")]);
    let plugin = opened.unwrap();
    assert_eq!(inits, 1);
    assert_eq!(add(&plugin, 2).unwrap(), 11);
    // A reconfiguration without it is refused too, and changes nothing.
    match plugin.reconfigure([("start", "0")]) {
        Err(Error::MissingSetting { setting, .. }) => assert_eq!(setting, "step"),
        other => panic!("expected MissingSetting, got {other:?}"),
    }
    assert_eq!(add(&plugin, 1).unwrap(), 14);
}
