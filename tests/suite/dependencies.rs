//! Plugins built differently from each other and from the host load side
//! by side: the seed article's demo3 (a dependency at other versions) and
//! demo4 (another toolchain setup), both refused by Go's `plugin.Open`
//! ("plugin was built with a different version of package ...").

use unicode_width::UnicodeWidthStr;
use wasmplug::Plugin;

use crate::custom_contract::Counter;
use crate::support::{runtime, wasm};

fn greet(plugin: &Plugin<Counter>) -> String {
    plugin
        .call(|c, s| c.acme_counter_counter().call_greet(s))
        .expect("greet")
}

/// The dependencies of fixture `package` as the fixtures' lock file
/// resolved them for its build, e.g. `wit-bindgen 0.41.0`.
fn locked_dependencies(package: &str) -> Vec<String> {
    let lock = xtask::workspace_root().join("tests/fixtures/Cargo.lock");
    let lock = std::fs::read_to_string(&lock).expect("the fixtures' lock file");
    let block = lock
        .split("[[package]]")
        .find(|b| b.contains(&format!("name = \"{package}\"\n")))
        .unwrap_or_else(|| panic!("{package} is not in the lock file"));
    block
        .lines()
        .skip_while(|l| !l.starts_with("dependencies"))
        .filter_map(|l| l.trim().strip_prefix('"')?.strip_suffix("\","))
        .map(str::to_owned)
        .collect()
}

#[test]
fn plugins_built_against_different_versions_of_a_crate_each_see_their_own() {
    let runtime = runtime();
    // unicode-width 0.1.10 (Unicode 15.0), 0.1.14 (15.1: a compatible
    // upgrade, which Go refuses as "a different version of package"),
    // and 0.2.0 (a major upgrade that changed the width of "\r\n").
    let plugins: Vec<(&str, Plugin<Counter>)> = ["width-old", "width-mid", "width-new"]
        .into_iter()
        .map(|name| (name, runtime.open::<Counter>(wasm(name)).unwrap()))
        .collect();
    let seen: Vec<String> = plugins.iter().map(|(_, p)| greet(p)).collect();
    assert_eq!(
        seen,
        [
            "unicode 15.0.0, crlf width 0",
            "unicode 15.1.0, crlf width 0",
            "unicode 15.1.0, crlf width 1",
        ]
    );
    // All three are live at once, and the host has a copy of its own.
    assert_eq!(runtime.live_plugins(), 3);
    let (major, minor, patch) = unicode_width::UNICODE_VERSION;
    let host = format!(
        "unicode {major}.{minor}.{patch}, crlf width {}",
        "\r\n".width()
    );
    assert!(!seen.contains(&host), "the host's own copy: {host}");
}

#[test]
fn a_plugin_built_with_another_wit_bindgen_and_other_compiler_settings_loads_beside_the_rest() {
    // Each was built with its own wit-bindgen: 0.41 for one, 0.61 for the
    // others (and, in the fixtures' profiles, opt-level 1 with overflow
    // checks and debug assertions for the old one, "s" for the others).
    assert!(
        locked_dependencies("old-bindgen").contains(&"wit-bindgen 0.41.0".to_owned()),
        "{:?}",
        locked_dependencies("old-bindgen")
    );
    assert!(
        locked_dependencies("counter")
            .iter()
            .any(|d| d.starts_with("wit-bindgen 0.61.")),
        "{:?}",
        locked_dependencies("counter")
    );

    let runtime = runtime();
    let old = runtime.open::<Counter>(wasm("old-bindgen")).unwrap();
    let current = runtime.open::<Counter>(wasm("counter")).unwrap();
    assert_eq!(
        greet(&old),
        "old-bindgen says: hello from the host to old-bindgen@0.1.0"
    );
    assert_eq!(
        greet(&current),
        "counter says: hello from the host to counter@0.3.1"
    );
    assert_eq!(
        old.call(|c, s| c.acme_counter_counter().call_add(s, 1))
            .unwrap(),
        2
    );
}
