//! Runs the example host on the bundled plugins, as built for this
//! platform (dynamically linked: the native backend loads). The static musl
//! build is run by `.ci/static-host.sh`.

use std::process::Command;

#[test]
fn the_host_loads_and_calls_the_bundled_plugins() {
    let guests = xtask::build_guests().unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(env!("CARGO_BIN_EXE_static-host"))
        .arg(guests.dir())
        .arg(guests.native("demo1"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("alice allowed, mallory rejected"),
        "{stdout}"
    );
    assert!(stdout.contains("native backend: demo1 f() = "), "{stdout}");
    assert!(stdout.ends_with("static-host: ok\n"), "{stdout}");
}
