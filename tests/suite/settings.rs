//! Reopening a live plugin with other settings, capabilities or limits is
//! never silently the old plugin: a typed error naming what differs, or,
//! by the embedder's choice, a separate live plugin for those settings.

use std::time::Duration;

use wasmplug::{Capabilities, Error, Limit, Limits, OnDifferentSettings, Plugin, Runtime};
use wasmplug_contracts::GatewayFilter;
use wasmplug_contracts::gateway::wasmplug::gateway::types::Verdict;

use crate::faults::{Fault, Faults, misbehave};
use crate::gateway::request;
use crate::support::{runtime, wasm};

fn verdict(plugin: &Plugin<GatewayFilter>, token: &str) -> Verdict {
    plugin
        .call(|f, s| {
            f.wasmplug_gateway_filter()
                .call_on_request(s, &request("/x", Some(&format!("Bearer {token}"))))
        })
        .unwrap()
}

fn differences(err: Error) -> Vec<String> {
    match err {
        Error::SettingsDiffer {
            plugin,
            differences,
        } => {
            assert_eq!(plugin, "auth-filter@1.0.0");
            differences
        }
        other => panic!("expected SettingsDiffer, got {other:?}"),
    }
}

fn open_deny(rt: &Runtime, deny: &str) -> wasmplug::Result<Plugin<GatewayFilter>> {
    rt.loader::<GatewayFilter>()
        .config("deny", deny)
        .open(wasm("auth-filter"))
}

#[test]
fn other_settings_are_refused_naming_them() {
    let rt = runtime();
    let live = open_deny(&rt, "mallory").unwrap();
    let err = open_deny(&rt, "eve").err().unwrap();
    let text = err.to_string();
    assert_eq!(
        differences(err),
        [r#"settings: live with {deny="mallory"}, asked for {deny="eve"}"#]
    );
    assert!(
        text.contains("OnDifferentSettings::LoadSeparately"),
        "{text}"
    );
    // The live plugin is untouched; the same settings (in any order) are
    // the same plugin.
    assert!(matches!(verdict(&live, "mallory"), Verdict::Reject(_)));
    assert!(!matches!(verdict(&live, "eve"), Verdict::Reject(_)));
    let again = rt
        .loader::<GatewayFilter>()
        .config("deny", "mallory")
        .open(wasm("auth-filter"))
        .unwrap();
    assert!(Plugin::ptr_eq(&live, &again));
    assert_eq!(rt.live_plugins(), 1);
}

#[test]
fn a_copy_with_its_own_manifest_is_refused() {
    let rt = runtime();
    let _live = open_deny(&rt, "mallory").unwrap();
    // The same bytes in another directory, with a manifest of its own.
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("auth.wasm");
    std::fs::copy(wasm("auth-filter"), &copy).unwrap();
    std::fs::write(
        dir.path().join("auth.toml"),
        "[plugin]\nname = \"auth-filter\"\nversion = \"1.0.0\"\n\n[config]\ndeny = \"eve\"\n",
    )
    .unwrap();
    let err = rt.loader::<GatewayFilter>().open(&copy).err().unwrap();
    assert_eq!(
        differences(err),
        [r#"settings: live with {deny="mallory"}, asked for {deny="eve"}"#]
    );
}

#[test]
fn other_capabilities_are_refused_naming_them() {
    let rt = runtime();
    let _live = open_deny(&rt, "mallory").unwrap();
    let err = rt
        .loader::<GatewayFilter>()
        .config("deny", "mallory")
        .capabilities(Capabilities::none().env("TZ", "UTC"))
        .open(wasm("auth-filter"))
        .err()
        .unwrap();
    let diffs = differences(err);
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    assert!(diffs[0].starts_with("capabilities: live with"), "{diffs:?}");
    assert!(diffs[0].contains("TZ"), "{diffs:?}");
}

#[test]
fn other_limits_are_refused_naming_them() {
    let rt = Runtime::builder()
        .max_instances(8)
        .epoch_interruption(true)
        .build()
        .unwrap();
    let _live = open_deny(&rt, "mallory").unwrap();
    let err = rt
        .loader::<GatewayFilter>()
        .config("deny", "mallory")
        .limits(Limits::new().deadline(Duration::from_millis(20)))
        .open(wasm("auth-filter"))
        .err()
        .unwrap();
    let diffs = differences(err);
    assert_eq!(diffs.len(), 1, "{diffs:?}");
    assert_eq!(diffs[0], "limits: live with none, asked for deadline 20ms");
}

#[test]
fn loading_separately_gives_the_new_settings_a_plugin_of_their_own() {
    let rt = runtime();
    let mallory = open_deny(&rt, "mallory").unwrap();
    let eve = rt
        .loader::<GatewayFilter>()
        .config("deny", "eve")
        .on_different_settings(OnDifferentSettings::LoadSeparately)
        .open(wasm("auth-filter"))
        .unwrap();
    assert!(!Plugin::ptr_eq(&mallory, &eve));
    assert_eq!(rt.live_plugins(), 2);
    assert!(!matches!(verdict(&eve, "mallory"), Verdict::Reject(_)));
    assert!(matches!(verdict(&eve, "eve"), Verdict::Reject(_)));
    assert!(matches!(verdict(&mallory, "mallory"), Verdict::Reject(_)));
    // Each set of settings reopens its own plugin.
    let eve_again = rt
        .loader::<GatewayFilter>()
        .config("deny", "eve")
        .open(wasm("auth-filter"))
        .unwrap();
    assert!(Plugin::ptr_eq(&eve, &eve_again));
}

/// The case that was silently wrong: a copy opened with a 20 ms deadline
/// got the live plugin without one, and a spin ran to completion.
#[test]
fn a_deadline_asked_for_is_never_dropped() {
    let rt = Runtime::builder()
        .max_instances(8)
        .epoch_interruption(true)
        .build()
        .unwrap();
    let _unlimited = rt.open::<Faults>(wasm("misbehave")).unwrap();
    let limits = Limits::new().deadline(Duration::from_millis(20));
    let err = rt
        .loader::<Faults>()
        .limits(limits.clone())
        .open(wasm("misbehave"))
        .err()
        .unwrap();
    assert!(matches!(err, Error::SettingsDiffer { .. }), "{err:?}");
    let limited = rt
        .loader::<Faults>()
        .limits(limits)
        .on_different_settings(OnDifferentSettings::LoadSeparately)
        .open(wasm("misbehave"))
        .unwrap();
    let err = misbehave(&limited, Fault::InfiniteLoop).unwrap_err();
    assert!(
        matches!(
            err,
            Error::LimitExceeded {
                limit: Limit::Deadline(d),
                ..
            } if d == Duration::from_millis(20)
        ),
        "{err:?}"
    );
    // The error names the export the call entered, though the call went
    // through `Plugin::call` (found in the guest's backtrace).
    assert!(
        err.to_string()
            .contains("`acme:faults/faults@1.0.0#misbehave`"),
        "{err}"
    );
}
