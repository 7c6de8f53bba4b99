//! Builds the plugins in `guests/` (and the test-only ones in
//! `tests/fixtures/`) for `wasm32-wasip2`, once per process, and the
//! bundled guests also as native shared libraries, from the same source.
//!
//! Fresh machines lack the `wasm32-wasip2` target: the builder adds it with
//! `rustup` when it is missing, and fails with a message saying what to run
//! when it cannot.

pub mod bench_id;
pub mod gateway;
pub mod languages;
pub mod polyglot;
pub mod report;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The Wasm target plugins are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// The target native guests and fixtures are built for when this crate was
/// cross-compiled (e.g. `aarch64-unknown-linux-gnu` for a test suite run
/// under qemu): the target of the process that loads them, not that of the
/// machine running cargo. `None` in a native build.
pub const NATIVE_TARGET: Option<&str> = if env!("XTASK_CROSS_TARGET").is_empty() {
    None
} else {
    Some(env!("XTASK_CROSS_TARGET"))
};

/// Where cargo puts a native build of `profile` under `target_dir`.
fn native_out(target_dir: &Path, profile: &str) -> PathBuf {
    match NATIVE_TARGET {
        Some(target) => target_dir.join(target).join(profile),
        None => target_dir.join(profile),
    }
}

/// The repository root.
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the root")
}

/// Built plugin components and native libraries, by crate name.
#[derive(Debug, Clone)]
pub struct Guests {
    dir: PathBuf,
    native_dir: PathBuf,
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

    /// The native shared library built from guest crate `name`, from the
    /// same source as its component (`lib<name>.so`, `.dylib` on macOS).
    ///
    /// # Panics
    ///
    /// If no such library was built.
    pub fn native(&self, name: &str) -> PathBuf {
        let path = self.native_dir.join(format!(
            "{}{}{}",
            std::env::consts::DLL_PREFIX,
            name.replace('-', "_"),
            std::env::consts::DLL_SUFFIX
        ));
        assert!(
            path.is_file(),
            "no native guest {} (is `{name}` a guest crate?)",
            path.display()
        );
        path
    }

    /// The directory holding every built component.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The test fixture `versioned` built as `version` (one of
    /// [`VERSIONED_RELEASES`]): `versioned-<version>.wasm`.
    ///
    /// # Panics
    ///
    /// If that release was not built.
    pub fn versioned(&self, version: &str) -> PathBuf {
        let path = self.dir.join(format!("versioned-{version}.wasm"));
        assert!(
            path.is_file(),
            "no release {version} of the versioned fixture (built: {VERSIONED_RELEASES:?})"
        );
        path
    }

    /// The test fixture `versioned` built as `variant` (one of
    /// [`VERSIONED_VARIANTS`]): `versioned-<variant>.wasm`, release 1.1.0
    /// with a wrong declaration.
    ///
    /// # Panics
    ///
    /// If that variant was not built.
    pub fn versioned_variant(&self, variant: &str) -> PathBuf {
        let path = self.dir.join(format!("versioned-{variant}.wasm"));
        assert!(
            path.is_file(),
            "no variant {variant} of the versioned fixture (built: {VERSIONED_VARIANTS:?})"
        );
        path
    }
}

/// The releases of the test fixture `versioned` the builder makes, with
/// the cargo feature that selects each (the default build is 1.1.0).
pub const VERSIONED_RELEASES: &[(&str, Option<&str>)] = &[
    ("1.1.0", None),
    ("1.2.0", Some("v1_2")),
    ("2.0.0", Some("v2_0")),
];

/// Variants of release 1.1.0 of the test fixture `versioned` whose own
/// declaration is wrong, with the cargo feature that selects each.
pub const VERSIONED_VARIANTS: &[(&str, &str)] = &[
    ("declares-contract-2", "declares_contract_2"),
    ("declares-bad-contract", "declares_bad_contract"),
    ("declares-step-required", "declares_step_required"),
];

/// The guest workspaces the builder compiles, relative to the root.
const WORKSPACES: &[&str] = &["guests", "tests/fixtures", "tests/fixtures/width-mid"];

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

/// Set (to anything) in the environment of a child process whose parent
/// has built the guests: [`build_guests`] then only finds them, and never
/// rewrites a file the parent may be reading.
pub const GUESTS_BUILT_ENV: &str = "WASMPLUG_GUESTS_BUILT";

fn build() -> Result<Guests, String> {
    let target_dir = workspace_root().join("target").join("guests");
    let guests = Guests {
        dir: target_dir.join(TARGET).join("release"),
        native_dir: native_out(&target_dir, "native"),
    };
    if std::env::var_os(GUESTS_BUILT_ENV).is_some() {
        return Ok(guests);
    }
    ensure_target()?;
    for workspace in WORKSPACES {
        cargo_build(workspace, Some(TARGET), "release", &target_dir, &[])?;
    }
    // One fixture source released as several versions, and variants of one
    // release: each build is kept under its version's or variant's name
    // (cargo caches each feature set's build).
    let wasm_dir = target_dir.join(TARGET).join("release");
    let builds = VERSIONED_RELEASES
        .iter()
        .copied()
        .chain(VERSIONED_VARIANTS.iter().map(|&(name, f)| (name, Some(f))));
    for (name, feature) in builds {
        let mut args = vec!["--package", "versioned"];
        args.extend(feature.iter().flat_map(|f| ["--features", *f]));
        cargo_build(
            "tests/fixtures",
            Some(TARGET),
            "release",
            &target_dir,
            &args,
        )?;
        let release = wasm_dir.join(format!("versioned-{name}.wasm"));
        copy_atomically(&wasm_dir.join("versioned.wasm"), &release)
            .map_err(|e| format!("cannot copy {}: {e}", release.display()))?;
    }
    // The same guests as native libraries; the `native` profile unwinds
    // (see guests/Cargo.toml).
    cargo_build("guests", NATIVE_TARGET, "native", &target_dir, &[])?;
    // Of the test fixtures, those built from one source for both.
    cargo_build(
        "tests/fixtures",
        NATIVE_TARGET,
        "native",
        &target_dir,
        &["--package", "counter", "--package", "echo"],
    )?;
    // The guests written in Go and Python, beside the Rust components.
    polyglot::build(&wasm_dir)?;
    Ok(guests)
}

/// Copies `from` to `to` so that a reader of `to` sees the old file or the
/// new one, never a partial one; leaves `to` alone when it already holds
/// the same bytes.
fn copy_atomically(from: &Path, to: &Path) -> std::io::Result<()> {
    let bytes = std::fs::read(from)?;
    if std::fs::read(to).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    let tmp = to.with_extension(format!("tmp-{}", std::process::id()));
    std::fs::write(&tmp, &bytes)?;
    std::fs::rename(&tmp, to)
}

/// Builds the native (host-target) `cdylib` crate at `crate_dir` (relative
/// to the root, a workspace of its own) in release mode, and returns the
/// shared library `lib<name>.so` (`.dylib` on macOS).
///
/// # Errors
///
/// A message with cargo's output when the build fails.
pub fn build_native(crate_dir: &str, name: &str) -> Result<PathBuf, String> {
    let target_dir = workspace_root()
        .join("target")
        .join("native-fixtures")
        .join("cargo");
    cargo_build(crate_dir, NATIVE_TARGET, "release", &target_dir, &[])?;
    let file = format!(
        "{}{name}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    );
    Ok(native_out(&target_dir, "release").join(file))
}

/// `cargo build --profile <profile> --locked <args>` of the workspace at
/// `dir`.
fn cargo_build(
    dir: &str,
    target: Option<&str>,
    profile: &str,
    target_dir: &Path,
    args: &[&str],
) -> Result<(), String> {
    let manifest = workspace_root().join(dir).join("Cargo.toml");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .args([
            "build",
            "--profile",
            profile,
            "--locked",
            "--quiet",
            "--manifest-path",
        ])
        .arg(&manifest);
    if let Some(target) = target {
        command.args(["--target", target]);
    }
    command.args(args);
    let output = command
        .env("CARGO_TARGET_DIR", target_dir)
        // Flags meant for the host build must not leak into the plugins'.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .output()
        .map_err(|e| format!("cannot run cargo to build {}: {e}", manifest.display()))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "building {} ({}) failed:\n{}",
            manifest.display(),
            target.unwrap_or("host target"),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
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
