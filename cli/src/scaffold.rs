//! `wasmplug new` and `wasmplug build`: a plugin started from a WIT world
//! (its directory, its WIT, the base contract beside it) in Rust
//! ([`rust`]), Go ([`go`]) or Python ([`python`]), and built by the tools
//! of its language.

use std::path::{Path, PathBuf};
use std::process::Command;

use wit_parser::{InterfaceId, Resolve, WorldItem};

use crate::failure::{Failure, Outcome};

mod go;
mod python;
mod rust;

/// The language a plugin is written in.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Lang {
    /// A Rust crate: a component and a native library from one source.
    Rust,
    /// A Go module (`wit-bindgen go`, Go's `wasip1` port): a component.
    Go,
    /// A Python module (`componentize-py`): a component.
    Python,
}

/// The file `new` writes into a Go or Python plugin for `build` to read
/// (a Rust plugin has its Cargo.toml).
const BUILD_FILE: &str = "wasmplug.toml";

/// What `build` reads from [`BUILD_FILE`].
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct BuildFile {
    /// The plugin's name (the component is `target/NAME.wasm`).
    name: String,
    /// `go` or `python`.
    language: Lang,
    /// The world it implements.
    world: String,
}

/// The new plugin's directory with its WIT in place, and that WIT read.
pub(super) struct Prepared {
    dest: PathBuf,
    resolve: Resolve,
    world: wit_parser::WorldId,
    /// `ns:pkg/world`.
    world_name: String,
}

impl Prepared {
    /// Writes `contents` to `relative` in the plugin's directory.
    fn write(&self, relative: &str, contents: &str) -> Outcome {
        let path = self.dest.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .map_err(|e| Failure::other(format!("cannot create {}: {e}", parent.display())))?;
        }
        std::fs::write(&path, contents)
            .map_err(|e| Failure::other(format!("cannot write {}: {e}", path.display())))
    }
}

/// `wasmplug new NAME --wit DIR --world W [--lang L] [--path DEST]`.
pub(crate) fn new(name: &str, wit: &Path, world: &str, lang: Lang, dest: Option<&Path>) -> Outcome {
    let prepared = prepare(name, wit, world, dest)?;
    let written = match lang {
        Lang::Rust => rust::new(name, &prepared),
        Lang::Go => go::new(name, &prepared),
        Lang::Python => python::new(name, &prepared),
    };
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&prepared.dest);
        return Err(e);
    }
    if lang != Lang::Rust {
        let build = BuildFile {
            name: name.to_owned(),
            language: lang,
            world: prepared.world_name.clone(),
        };
        let text = toml::to_string(&build).map_err(|e| Failure::other(e.to_string()))?;
        prepared.write(
            BUILD_FILE,
            &format!("# What `wasmplug build` builds (written by `wasmplug new`).\n{text}"),
        )?;
    }
    crate::say!(
        "created {} (world {}): implement the stubs in {}, then `wasmplug build {}`",
        prepared.dest.display(),
        prepared.world_name,
        match lang {
            Lang::Rust => "src/lib.rs",
            Lang::Go => "its export_* packages",
            Lang::Python => "app.py",
        },
        prepared.dest.display()
    );
    Ok(())
}

/// Checks the name, creates the directory, copies the WIT (and the base
/// contract beside it) and reads the world.
fn prepare(name: &str, wit: &Path, world: &str, dest: Option<&Path>) -> Outcome<Prepared> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        || !name.starts_with(|c: char| c.is_ascii_lowercase())
    {
        return Err(Failure::usage(format!(
            "`{name}` is not a plugin name: lowercase letters, digits, `-` and `_`, starting with a letter"
        )));
    }
    let dest = dest.map_or_else(|| PathBuf::from(name), Path::to_owned);
    if dest.exists() {
        return Err(Failure::usage(format!(
            "{} already exists: choose another NAME or --path",
            dest.display()
        )));
    }
    let io = |what: &Path, e: std::io::Error| {
        Failure::other(format!("cannot write {}: {e}", what.display()))
    };
    // The WIT first: the user's files, then the base contract beside them.
    let wit_dest = dest.join("wit");
    copy_wit(wit, &wit_dest)?;
    let base = wit_dest.join("deps/wasmplug-plugin");
    std::fs::create_dir_all(&base).map_err(|e| io(&base, e))?;
    std::fs::write(base.join("plugin.wit"), wasmplug::BASE_WIT).map_err(|e| io(&base, e))?;

    let mut resolve = Resolve::new();
    let (package, _) = resolve.push_dir(&wit_dest).map_err(|e| {
        let _ = std::fs::remove_dir_all(&dest);
        Failure::usage(format!("cannot read the WIT in {}: {e:#}", wit.display()))
    })?;
    let world_id = resolve.select_world(&[package], Some(world)).map_err(|e| {
        let _ = std::fs::remove_dir_all(&dest);
        Failure::usage(format!("no world `{world}` in {}: {e:#}", wit.display()))
    })?;
    let world_name = format!(
        "{}/{}",
        resolve.packages[package]
            .name
            .clone()
            .to_string()
            .split('@')
            .next()
            .unwrap_or_default(),
        resolve.worlds[world_id].name
    );
    Ok(Prepared {
        dest,
        resolve,
        world: world_id,
        world_name,
    })
}

/// The exported interfaces of `world`, with their names in the world.
fn exported_interfaces(
    resolve: &Resolve,
    world: wit_parser::WorldId,
) -> Outcome<Vec<(String, InterfaceId)>> {
    resolve.worlds[world]
        .exports
        .iter()
        .map(|(key, item)| match item {
            WorldItem::Interface { id, .. } => Ok((resolve.name_world_key(key), *id)),
            WorldItem::Function(_) | WorldItem::Type { .. } => Err(Failure::usage(format!(
                "the world exports a bare function or type (`{}`): only interfaces are scaffolded",
                resolve.name_world_key(key)
            ))),
        })
        .collect()
}

fn copy_wit(from: &Path, to: &Path) -> Outcome {
    let entries = std::fs::read_dir(from).map_err(|e| {
        Failure::usage(format!("cannot read WIT directory {}: {e}", from.display()))
    })?;
    std::fs::create_dir_all(to)
        .map_err(|e| Failure::other(format!("cannot create {}: {e}", to.display())))?;
    for entry in entries.flatten() {
        let path = entry.path();
        let target = to.join(entry.file_name());
        let copied = if path.is_dir() {
            copy_wit(&path, &target)
        } else if path.extension().is_some_and(|e| e == "wit") {
            std::fs::copy(&path, &target)
                .map(drop)
                .map_err(|e| Failure::other(format!("cannot copy {}: {e}", path.display())))
        } else {
            Ok(())
        };
        copied?;
    }
    Ok(())
}

/// `wasmplug build [DIR]`: a Rust crate's component and native library, or
/// a Go or Python plugin's component.
pub(crate) fn build(dir: &Path) -> Outcome {
    let build_file = dir.join(BUILD_FILE);
    if build_file.is_file() {
        let text = std::fs::read_to_string(&build_file)
            .map_err(|e| Failure::usage(format!("cannot read {}: {e}", build_file.display())))?;
        let plugin: BuildFile = toml::from_str(&text)
            .map_err(|e| Failure::usage(format!("{} is not valid: {e}", build_file.display())))?;
        // Absolute: the tools run in directories of their own.
        let dir = dir
            .canonicalize()
            .map_err(|e| Failure::usage(format!("cannot read {}: {e}", dir.display())))?;
        let out = dir.join("target");
        std::fs::create_dir_all(&out)
            .map_err(|e| Failure::other(format!("cannot create {}: {e}", out.display())))?;
        let wasm = out.join(format!("{}.wasm", plugin.name));
        match plugin.language {
            Lang::Go => go::build(&dir, &plugin.world, &wasm)?,
            Lang::Python => python::build(&dir, &plugin.world, &wasm)?,
            // A Rust plugin is built from its Cargo.toml.
            Lang::Rust => return rust::build(&dir),
        }
        crate::say!("component       {}", wasm.display());
        return Ok(());
    }
    rust::build(dir)
}

/// A WIT name in snake case.
fn snake(name: &str) -> String {
    name.replace('-', "_")
}

/// A WIT name in UpperCamelCase.
fn camel(name: &str) -> String {
    name.split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// A tool `build` runs: `$ENV` if set, else `name` found on `PATH`.
fn tool(env: &str, name: &str, install: &str) -> Outcome<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Ok(PathBuf::from(path));
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| {
            Failure::other(format!(
                "`{name}` is not on PATH: {install}, or set {env} to its path"
            ))
        })
}

/// Runs `command`; a failure carries its output.
fn run_tool(command: &mut Command, what: &str) -> Outcome {
    let output = command
        .output()
        .map_err(|e| Failure::other(format!("cannot run {what}: {e}")))?;
    if output.status.success() {
        return Ok(());
    }
    Err(Failure::other(format!(
        "{what} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )))
}
