//! wasmplug's integration tests live in `suite/` (one binary) and
//! `stress/` (a process of its own); this library holds what both use.

/// A command running this test binary again. Under user-mode emulation the
/// emulator cannot exec a foreign binary by itself (that needs binfmt_misc),
/// so `.ci/arm64.sh` names its runner in `WASMPLUG_TEST_RUNNER` (e.g.
/// `qemu-aarch64 -L /usr/aarch64-linux-gnu`) and the child runs through it.
pub fn this_test_binary() -> std::process::Command {
    let exe = std::env::current_exe().expect("the test binary's path");
    let runner = std::env::var("WASMPLUG_TEST_RUNNER").unwrap_or_default();
    let mut words = runner.split_whitespace();
    match words.next() {
        Some(program) => {
            let mut command = std::process::Command::new(program);
            command.args(words).arg(exe);
            command
        }
        None => std::process::Command::new(exe),
    }
}
