//! Manifests beside plugin files (`versioned.toml` for `versioned.wasm`):
//! what the plugin is, its settings and their values, its capabilities —
//! all checked before its `init` runs.

use std::path::{Path, PathBuf};

use wasmplug::{Error, Plugin};

use crate::custom_contract::Counter;
use crate::faults::{Fault, Faults, misbehave};
use crate::support::{capture_logs, count, runtime, wasm};
use wasmplug_contracts::Demo;

const MANIFEST: &str = r#"
[plugin]
name = "versioned"
version = "1.1.0"
kind = "tally"
contract = "acme:counter@^0.3"

[settings.start]
description = "where the count starts"
required = true

[config]
start = "40"
"#;

/// `versioned` 1.1.0 installed in `dir` with `manifest` beside it.
fn install(dir: &Path, manifest: &str) -> PathBuf {
    let release = match xtask::build_guests() {
        Ok(guests) => guests.versioned("1.1.0"),
        Err(message) => panic!("the guest plugins could not be built:\n{message}"),
    };
    let plugin = dir.join("versioned.wasm");
    std::fs::copy(release, &plugin).unwrap();
    std::fs::write(dir.join("versioned.toml"), manifest).unwrap();
    plugin
}

fn add(plugin: &Plugin<Counter>, n: u32) -> u64 {
    plugin
        .call(|c, s| c.acme_counter_counter().call_add(s, n))
        .unwrap()
}

#[test]
fn a_manifest_configures_the_plugin_and_the_embedder_has_the_last_word() {
    let dir = tempfile::tempdir().unwrap();
    let path = install(dir.path(), MANIFEST);
    let plugin = runtime().open::<Counter>(&path).unwrap();
    // The manifest's kind wins over the one the plugin declares.
    assert_eq!(plugin.metadata().kind, "tally");
    assert_eq!(add(&plugin, 2), 42);

    let plugin = runtime()
        .loader::<Counter>()
        .config("start", "100")
        .open(&path)
        .unwrap();
    assert_eq!(add(&plugin, 1), 101);

    // The same holds when the plugin is found by `name@version`.
    let plugin = runtime()
        .open_in::<Counter>(dir.path(), "versioned@1")
        .unwrap();
    assert_eq!(add(&plugin, 2), 42);
}

/// Opens `versioned` with `manifest`, expecting an error; asserts that the
/// plugin's `init` never ran and nothing stayed loaded.
fn refused(manifest: &str) -> Error {
    let dir = tempfile::tempdir().unwrap();
    let path = install(dir.path(), manifest);
    let runtime = runtime();
    let (result, logs) = capture_logs(|| runtime.open::<Counter>(&path));
    assert_eq!(count(&logs, "versioned@1.1.0", "init"), 0, "{logs:?}");
    assert_eq!(runtime.live_plugins(), 0);
    result.unwrap_err()
}

#[test]
fn each_manifest_problem_is_a_typed_error_before_init() {
    match refused(&MANIFEST.replace("start = \"40\"", "")) {
        Error::MissingSetting {
            plugin,
            setting,
            description,
        } => {
            assert_eq!(plugin, "versioned@1.1.0");
            assert_eq!(setting, "start");
            assert_eq!(description, "where the count starts");
        }
        other => panic!("expected MissingSetting, got {other}"),
    }
    let reason = |manifest: String| match refused(&manifest) {
        Error::Manifest { path, reason } => {
            assert_eq!(path.file_name().unwrap(), "versioned.toml");
            reason
        }
        other => panic!("expected Manifest, got {other}"),
    };
    assert_eq!(
        reason(MANIFEST.replace("name = \"versioned\"", "name = \"other\"")),
        "it describes other@1.1.0, but the plugin is versioned@1.1.0"
    );
    assert_eq!(
        reason(MANIFEST.replace("acme:counter@^0.3", "acme:counter@^0.4")),
        "the plugin is for contract `acme:counter@^0.4`, this host's is `acme:counter@0.3.0`"
    );
    assert!(reason(MANIFEST.replace("1.1.0", "1.1")).contains("is not semver"));
    assert!(reason(MANIFEST.replace("[config]", "[konfig]")).contains("konfig"));
    assert!(
        reason(format!("{MANIFEST}colour = \"blue\"\n"))
            .contains("setting `colour` is not declared (declared: start)")
    );
}

#[test]
fn a_manifest_grants_capabilities_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("misbehave.wasm");
    std::fs::copy(wasm("misbehave"), &path).unwrap();
    std::fs::write(
        dir.path().join("misbehave.toml"),
        r#"
[plugin]
name = "misbehave"
version = "1.0.0"
kind = "test"

[capabilities]
args = ["misbehave", "--verbose"]
env = { GREETING = "hi" }
"#,
    )
    .unwrap();
    let plugin = runtime().open::<Faults>(&path).unwrap();
    let report = String::from_utf8(misbehave(&plugin, Fault::ReportEnvironment).unwrap()).unwrap();
    assert_eq!(report, "arg misbehave\narg --verbose\nenv GREETING=hi");
}

#[test]
fn a_non_wasm_file_named_like_a_manifest_is_not_wasm() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plugin.toml");
    std::fs::write(&path, "[plugin]\nname = \"x\"\nversion = \"not semver\"\n").unwrap();
    let err = runtime().open::<Demo>(&path).err().unwrap();
    assert!(matches!(err, Error::NotWasm { .. }), "{err:?}");
}

#[test]
fn a_manifest_reads_on_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("auth.toml");
    std::fs::write(
        &path,
        "[plugin]\nname = \"auth-filter\"\nversion = \"1.2.0\"\nkind = \"gateway-filter\"\n\
         contract = \"wasmplug:gateway@^1\"\n\n[settings.deny]\nrequired = true\n\n\
         [config]\ndeny = \"mallory\"\n",
    )
    .unwrap();
    let manifest = wasmplug::Manifest::from_file(&path).unwrap();
    assert_eq!(
        (manifest.name(), manifest.version(), manifest.kind()),
        ("auth-filter", "1.2.0", "gateway-filter")
    );
    assert_eq!(manifest.contract(), Some("wasmplug:gateway@^1"));
    assert!(manifest.settings()["deny"].required);
    assert_eq!(manifest.config_values()["deny"], "mallory");
    std::fs::write(&path, "[plugin]\nname = \"x\"\n").unwrap();
    let err = wasmplug::Manifest::from_file(&path).unwrap_err();
    assert!(
        matches!(&err, Error::Manifest { path: p, .. } if *p == path),
        "{err:?}"
    );
}

/// The manifest is part of every configuration `init` gets, not only the
/// first: a reconfiguration settles the new settings under it again.
#[test]
fn reconfigure_applies_the_manifest_again() {
    let dir = tempfile::tempdir().unwrap();
    // `start` is required and set by [config]; `step` defaults to 5 here
    // (the plugin's own declared default is 1).
    let manifest = format!("{MANIFEST}\n[settings.step]\ndefault = \"5\"\n");
    let path = install(dir.path(), &manifest);
    let runtime = runtime();
    let plugin = runtime.open::<Counter>(&path).unwrap();
    assert_eq!(add(&plugin, 1), 45, "start 40 from [config], step 5");

    // Nothing given: [config] and the manifest's default, again, on a
    // fresh instance.
    let ((), logs) = capture_logs(|| plugin.reconfigure::<String, String>([]).unwrap());
    assert_eq!(count(&logs, "versioned@1.1.0", "init"), 1);
    assert_eq!(add(&plugin, 1), 45);

    // The embedder's values win over the manifest's, setting by setting.
    plugin.reconfigure([("step", "2")]).unwrap();
    assert_eq!(add(&plugin, 1), 42, "start 40 from [config], step 2");
    plugin.reconfigure([("start", "7")]).unwrap();
    assert_eq!(add(&plugin, 1), 12, "start 7, step 5 by the manifest");

    // A setting the manifest does not declare is refused by it, before
    // any `init`; the live instance serves on with its state.
    let (refused, logs) = capture_logs(|| plugin.reconfigure([("colour", "blue")]));
    match refused {
        Err(Error::Manifest { path: p, reason }) => {
            assert_eq!(p, path.with_extension("toml"));
            assert_eq!(
                reason,
                "setting `colour` is not declared (declared: start, step)"
            );
        }
        other => panic!("expected Manifest, got {other:?}"),
    }
    assert_eq!(count(&logs, "versioned@1.1.0", "init"), 0);
    assert_eq!(add(&plugin, 1), 17);
}

#[test]
fn reconfigure_checks_the_settings_the_manifest_requires() {
    let dir = tempfile::tempdir().unwrap();
    // `start` required, and no [config] to give it; `step` declared, with
    // the plugin's own default (1).
    let manifest = MANIFEST.replace("[config]\nstart = \"40\"\n", "[settings.step]\n");
    let path = install(dir.path(), &manifest);
    let runtime = runtime();
    match runtime.open::<Counter>(&path) {
        Err(Error::MissingSetting {
            plugin, setting, ..
        }) => {
            assert_eq!(
                (plugin.as_str(), setting.as_str()),
                ("versioned@1.1.0", "start")
            );
        }
        other => panic!("expected MissingSetting, got {other:?}"),
    }
    let plugin = runtime
        .loader::<Counter>()
        .config("start", "10")
        .open(&path)
        .unwrap();
    assert_eq!(add(&plugin, 1), 11);

    let (refused, logs) = capture_logs(|| plugin.reconfigure([("step", "3")]));
    match refused {
        Err(Error::MissingSetting {
            plugin,
            setting,
            description,
        }) => {
            assert_eq!(
                (plugin.as_str(), setting.as_str()),
                ("versioned@1.1.0", "start")
            );
            assert_eq!(description, "where the count starts");
        }
        other => panic!("expected MissingSetting, got {other:?}"),
    }
    assert_eq!(count(&logs, "versioned@1.1.0", "init"), 0);
    assert_eq!(add(&plugin, 1), 12, "the live instance serves on");

    plugin
        .reconfigure([("start", "100"), ("step", "3")])
        .unwrap();
    assert_eq!(add(&plugin, 1), 103);
}
