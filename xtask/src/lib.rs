//! Builds the plugins in `guests/` (and the test-only ones in
//! `tests/fixtures/`) for `wasm32-wasip2`, once per process.
//!
//! Fresh machines lack the `wasm32-wasip2` target: the builder adds it with
//! `rustup` when it is missing, and fails with a message saying what to run
//! when it cannot.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The Wasm target plugins are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// The repository root.
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the root")
}

/// Built plugin components, by crate name.
#[derive(Debug, Clone)]
pub struct Guests {
    dir: PathBuf,
}

impl Guests {
    /// The component built from guest crate `name` (e.g. `demo1`,
    /// `auth-filter`).
    ///
    /// # Panics
    ///
    /// If no such component was built: a typo in a test.
    pub fn wasm(&self, name: &str) -> PathBuf {
        let path = self.dir.join(format!("{}.wasm", name.replace('-', "_")));
        assert!(
            path.is_file(),
            "no guest component {} (is `{name}` a guest crate?)",
            path.display()
        );
        path
    }

    /// The directory holding every built component.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// The guest workspaces the builder compiles, relative to the root.
const WORKSPACES: &[&str] = &["guests", "tests/fixtures"];

/// Builds every guest (release, `wasm32-wasip2`) once per process and
/// returns where the components are. Later calls return the first result.
///
/// # Errors
///
/// A message naming what failed: adding the target, or compiling a guest.
pub fn build_guests() -> Result<&'static Guests, String> {
    static BUILT: OnceLock<Result<Guests, String>> = OnceLock::new();
    BUILT.get_or_init(build).as_ref().map_err(Clone::clone)
}

fn build() -> Result<Guests, String> {
    ensure_target()?;
    let root = workspace_root();
    let target_dir = root.join("target").join("guests");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    for workspace in WORKSPACES {
        let manifest = root.join(workspace).join("Cargo.toml");
        let output = Command::new(&cargo)
            .args([
                "build",
                "--release",
                "--locked",
                "--quiet",
                "--target",
                TARGET,
                "--manifest-path",
            ])
            .arg(&manifest)
            .env("CARGO_TARGET_DIR", &target_dir)
            // Flags meant for the host build must not leak into the guests'.
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_BUILD_TARGET")
            .env_remove("RUSTC_WORKSPACE_WRAPPER")
            .output()
            .map_err(|e| format!("cannot run cargo to build the guests: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "building the guests in {} for {TARGET} failed:\n{}",
                manifest.display(),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    Ok(Guests {
        dir: target_dir.join(TARGET).join("release"),
    })
}

/// Adds the `wasm32-wasip2` target with rustup if the toolchain lacks it.
fn ensure_target() -> Result<(), String> {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let libdir = Command::new(&rustc)
        .args(["--print", "target-libdir", "--target", TARGET])
        .output()
        .map_err(|e| format!("cannot run rustc: {e}"))?;
    let installed = libdir.status.success()
        && Path::new(String::from_utf8_lossy(&libdir.stdout).trim()).is_dir();
    if installed {
        return Ok(());
    }
    let added = Command::new("rustup")
        .args(["target", "add", TARGET])
        .output()
        .map_err(|e| format!("the {TARGET} target is missing and rustup cannot be run ({e}); install it with `rustup target add {TARGET}`"))?;
    if added.status.success() {
        Ok(())
    } else {
        Err(format!(
            "the {TARGET} target is missing and `rustup target add {TARGET}` failed:\n{}",
            String::from_utf8_lossy(&added.stderr)
        ))
    }
}
