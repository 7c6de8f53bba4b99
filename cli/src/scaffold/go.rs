//! `wasmplug new --lang go` and the build of what it made: a Go module
//! whose `export_*` packages hold the plugin's code (the stubs
//! `wit-bindgen go --generate-stubs` writes, taken apart from the
//! generated glue, which `build` generates again), made a core module by
//! Go's `wasip1` port and a component here, with wasmtime's preview 1
//! reactor adapter.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Prepared, run_tool, tool};
use crate::failure::{Failure, Outcome};

/// The wit-bindgen release the bundled Go plugins are bound with.
const WIT_BINDGEN: &str = "0.63.0";

fn wit_bindgen() -> Outcome<PathBuf> {
    tool(
        "WASMPLUG_WIT_BINDGEN",
        "wit-bindgen",
        &format!(
            "`cargo install wit-bindgen-cli@{WIT_BINDGEN} --no-default-features --features go`"
        ),
    )
}

/// Runs `wit-bindgen go` for `world` over `wit` into `out`.
fn bind(wit: &Path, world: &str, out: &Path, stubs: bool) -> Outcome {
    let mut command = Command::new(wit_bindgen()?);
    command.arg("go");
    if stubs {
        command.arg("--generate-stubs");
    }
    command
        .args(["--world", world, "--out-dir"])
        .arg(out)
        .arg(wit);
    run_tool(&mut command, "wit-bindgen go")
}

/// Writes `go.mod` and one file per exported interface (its package
/// `export_…`, with the stubs), the base interface implemented.
pub(super) fn new(name: &str, prepared: &Prepared) -> Outcome {
    let scratch = prepared.dest.join("target/wasmplug-new");
    let (stubbed, glue) = (scratch.join("stubs"), scratch.join("glue"));
    let wit = prepared.dest.join("wit");
    bind(&wit, &prepared.world_name, &stubbed, true)?;
    bind(&wit, &prepared.world_name, &glue, false)?;
    let read = |path: &Path| {
        std::fs::read_to_string(path)
            .map_err(|e| Failure::other(format!("cannot read {}: {e}", path.display())))
    };
    let mut packages: Vec<String> = std::fs::read_dir(&stubbed)
        .map_err(|e| Failure::other(format!("cannot read {}: {e}", stubbed.display())))?
        .flatten()
        .filter_map(|entry| entry.file_name().into_string().ok())
        .filter(|name| name.starts_with("export_"))
        .collect();
    packages.sort();
    for package in &packages {
        let file = Path::new(package).join("wit_bindings.go");
        let stub = read(&stubbed.join(&file))?;
        let generated = glue
            .join(&file)
            .is_file()
            .then(|| read(&glue.join(&file)))
            .transpose()?;
        let mut user = user_part(&stub, generated.as_deref()).ok_or_else(|| {
            Failure::other(format!(
                "cannot tell the stubs from the generated code in {}",
                stubbed.join(&file).display()
            ))
        })?;
        if package.starts_with("export_wasmplug_plugin_") {
            user = base(&user, name);
        }
        let source = format!(
            "// Package {package} is the plugin's implementation of one exported\n\
             // interface: replace each stub's panic with its code. `wasmplug build`\n\
             // generates the rest of the package (wit_bindings.go) beside this file.\n\
             package {package}\n\n{}\n{}",
            imports(&stub, &user),
            tidy(user.trim_start())
        );
        let short = package.rsplit('_').next().unwrap_or(package);
        prepared.write(&format!("{package}/{short}.go"), &source)?;
    }
    // The generated go.mod names the module and the bindings' Go package.
    let go_mod = read(&glue.join("go.mod"))?;
    prepared.write("go.mod", &go_mod)?;
    prepared.write(".gitignore", "/target\n")?;
    let _ = std::fs::remove_dir_all(&scratch);
    if packages.is_empty() {
        return Err(Failure::usage(format!(
            "world {} exports nothing to implement",
            prepared.world_name
        )));
    }
    Ok(())
}

/// What `--generate-stubs` adds to the generated package: the text after
/// the imports that the plain generation does not have.
fn user_part(stub: &str, generated: Option<&str>) -> Option<String> {
    let body = |text: &str| -> Option<String> {
        let start = text.find("import (")?;
        let end = start + text[start..].find("\n)")? + 2;
        Some(text[end..].to_owned())
    };
    let stub = body(stub)?;
    match generated {
        None => Some(stub),
        Some(generated) => stub
            .strip_prefix(body(generated)?.trim_end())
            .map(str::to_owned),
    }
}

/// What gofmt would make of the stubs (it is not always installed): tabs
/// for the generator's eight-space indents, single spaces before `{`, a
/// blank line between declarations.
fn tidy(code: &str) -> String {
    let mut out = String::new();
    let mut previous = "";
    for line in code.lines() {
        let trimmed = line.trim_start_matches(' ');
        let tabs = (line.len() - trimmed.len()) / 8;
        let top_level = tabs == 0 && !trimmed.is_empty() && !trimmed.starts_with('}');
        if top_level && previous == "}" {
            out.push('\n');
        }
        out.push_str(&"\t".repeat(tabs));
        out.push_str(&trimmed.replace(")  {", ") {"));
        out.push('\n');
        previous = line;
    }
    out
}

/// The imports of `stub` that `user` uses.
fn imports(stub: &str, user: &str) -> String {
    let Some(start) = stub.find("import (") else {
        return String::new();
    };
    let Some(len) = stub[start..].find("\n)") else {
        return String::new();
    };
    let used: Vec<String> = stub[start + "import (".len()..start + len]
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .filter(|line| {
            let (alias, path) = line.split_once(' ').unwrap_or(("", line));
            let path = path.trim_matches('"');
            let name = if alias.is_empty() {
                path.rsplit('/').next().unwrap_or(path)
            } else {
                alias
            };
            user.contains(&format!("{name}."))
        })
        .map(|line| format!("\t{line}\n"))
        .collect();
    if used.is_empty() {
        String::new()
    } else {
        format!("import (\n{})\n", used.concat())
    }
}

/// The base interface's stubs given bodies: the metadata, an `init` that
/// takes any settings, a `shutdown` with nothing to release, lifecycle
/// hooks that refuse nothing.
fn base(user: &str, name: &str) -> String {
    const OK: &str = "witTypes.Result[witTypes.Unit, string]";
    let mut out = String::new();
    let mut signature: Option<String> = None;
    for line in user.lines() {
        if line.starts_with("func ") {
            signature = Some(line.to_owned());
        }
        if line.trim() == "panic(\"not implemented\")"
            && let Some(sig) = signature.take()
        {
            let indent = &line[..line.len() - line.trim_start().len()];
            if sig.starts_with("func GetMetadata()") {
                let ty = sig
                    .trim_end_matches('{')
                    .trim()
                    .rsplit(' ')
                    .next()
                    .unwrap_or("Metadata");
                out.push_str(&format!(
                    "{indent}return {ty}{{Name: {name:?}, Version: \"0.1.0\", Description: \"\"}}\n"
                ));
                continue;
            }
            if sig.starts_with("func Init(") {
                out.push_str(&format!(
                    "{indent}// A setting the plugin does not know should refuse the load:\n\
                     {indent}// return witTypes.Err[witTypes.Unit, string](\"unknown setting `\" + key + \"`\")\n\
                     {indent}for range config {{\n{indent}}}\n"
                ));
            }
            if sig.contains(OK) {
                out.push_str(&format!(
                    "{indent}return witTypes.Ok[witTypes.Unit, string](witTypes.Unit{{}})\n"
                ));
                continue;
            }
            if sig
                .trim_end()
                .trim_end_matches('{')
                .trim_end()
                .ends_with(')')
            {
                // No result: nothing to do.
                continue;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out.replace("// TODO: Implement\n", "")
        .replace("func Init(_config ", "func Init(config ")
}

/// Binds, compiles and componentizes the Go module in `dir`.
pub(super) fn build(dir: &Path, world: &str, wasm: &Path) -> Outcome {
    let go = tool(
        "WASMPLUG_GO",
        "go",
        "install Go 1.25 or later (its wasip1/wasm port)",
    )?;
    let work = dir.join("target/wasmplug-build");
    let _ = std::fs::remove_dir_all(&work);
    let module = work.join("module");
    let io = |e: std::io::Error| Failure::other(format!("cannot prepare {}: {e}", work.display()));
    copy_sources(dir, &module).map_err(io)?;
    let generated = work.join("generated");
    bind(&dir.join("wit"), world, &generated, false)?;
    // The plugin's own go.mod is kept.
    let _ = std::fs::remove_file(generated.join("go.mod"));
    copy_sources(&generated, &module).map_err(io)?;

    let go_command = |args: &[&str]| {
        let mut command = Command::new(&go);
        command
            .args(args)
            .current_dir(&module)
            .env("GOOS", "wasip1")
            .env("GOARCH", "wasm");
        command
    };
    // Where the module proxy is out of reach, a local copy of the
    // bindings' Go package (it ships in the crates.io crate
    // wit-bindgen-go, under src/pkg).
    if let Some(pkg) = std::env::var_os("WASMPLUG_GO_PKG") {
        let replace = format!(
            "-replace=go.bytecodealliance.org/pkg={}",
            Path::new(&pkg).display()
        );
        run_tool(&mut go_command(&["mod", "edit", &replace]), "go mod edit")?;
    }
    let core = work.join("core.wasm");
    run_tool(
        go_command(&[
            "build",
            "-mod=mod",
            "-buildmode=c-shared",
            "-ldflags=-checklinkname=0",
            "-trimpath",
            "-o",
        ])
        .arg(&core),
        "go build",
    )?;
    let module_bytes = std::fs::read(&core)
        .map_err(|e| Failure::other(format!("cannot read {}: {e}", core.display())))?;
    let component = componentize(module_bytes, &dir.join("wit"), world).map_err(|e| {
        Failure::other(format!(
            "cannot make a component of {}: {e:#}",
            core.display()
        ))
    })?;
    std::fs::write(wasm, component)
        .map_err(|e| Failure::other(format!("cannot write {}: {e}", wasm.display())))
}

/// The Go module's files (not `target/`), copied into `to`.
fn copy_sources(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "target" || name == "wit" || name.to_string_lossy().starts_with('.') {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type()?.is_dir() {
            copy_sources(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// A Go core module with its WIT embedded and WASI preview 1 adapted, as a
/// component.
fn componentize(mut module: Vec<u8>, wit: &Path, world: &str) -> anyhow::Result<Vec<u8>> {
    let mut resolve = wit_parser::Resolve::default();
    let (package, _) = resolve.push_dir(wit)?;
    let world = resolve.select_world(&[package], Some(world))?;
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
