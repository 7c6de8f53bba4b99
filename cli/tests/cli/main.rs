//! The `wasmplug` binary, run on the bundled plugins (built once by the
//! guest builder) and on hostile files.

use std::path::Path;
use std::process::Output;

use assert_cmd::Command;

mod call;
mod inspect;
mod native;
mod scaffold;

/// Exit codes (see `wasmplug --help`).
pub(crate) const USAGE: i32 = 2;
pub(crate) const BAD_PLUGIN: i32 = 3;
pub(crate) const FAULT: i32 = 4;

pub(crate) fn guests() -> &'static xtask::Guests {
    xtask::build_guests().expect("the guest builder builds the bundled plugins")
}

/// The binary with a private, empty precompiled cache.
pub(crate) struct Cli {
    cache: tempfile::TempDir,
}

impl Cli {
    pub(crate) fn new() -> Self {
        Cli {
            cache: tempfile::tempdir().unwrap(),
        }
    }

    pub(crate) fn run(&self, args: &[&str]) -> Output {
        Command::cargo_bin("wasmplug")
            .unwrap()
            .env("XDG_CACHE_HOME", self.cache.path())
            .env_remove("RUST_LOG")
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs and expects success; returns stdout.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "wasmplug {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs and expects exit code `code`; returns stderr.
    pub(crate) fn fails(&self, code: i32, args: &[&str]) -> String {
        let out = self.run(args);
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(
            out.status.code(),
            Some(code),
            "wasmplug {args:?}: stdout {}, stderr {stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(stderr.starts_with("error: "), "{stderr}");
        stderr
    }
}

pub(crate) fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}
