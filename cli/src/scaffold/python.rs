//! `wasmplug new --lang python` and the build of what it made: an `app`
//! module with a class per exported interface and resource, made a
//! component by `componentize-py`.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

use wit_parser::{Function, FunctionKind, TypeDefKind};

use super::{Prepared, camel, exported_interfaces, run_tool, snake, tool};
use crate::failure::Outcome;

/// The componentize-py release the bundled Python plugins are built with.
const COMPONENTIZE_PY: &str = "0.25.1";

/// Writes `app.py` and `.gitignore`.
pub(super) fn new(name: &str, prepared: &Prepared) -> Outcome {
    prepared.write("app.py", &app(name, prepared)?)?;
    prepared.write(".gitignore", "/target\n__pycache__/\n/wit_world/\n")
}

/// `app.py`: the base interface implemented, every other export a stub
/// that raises (a trap, to the host).
fn app(name: &str, prepared: &Prepared) -> Outcome<String> {
    let resolve = &prepared.resolve;
    let world = &prepared.world_name;
    let mut out = format!(
        r#""""The {name} plugin ({world}), in Python.

`wasmplug build` makes it a component with componentize-py, which generates
the `wit_world` package from `wit/`. For an editor, have it beside this file:

    componentize-py -d wit -w {world} bindings .

Each class below implements a Protocol of `wit_world.exports`; their
signatures there give every parameter's and result's Python type. Module
state lives as long as the instance: `init` runs once per instance (or once
for a pool, whose instances start from a snapshot taken after it), and an
instance serves one call at a time.
"""

import wit_world
"#
    );
    let exports = exported_interfaces(resolve, prepared.world)?;
    let modules: Vec<String> = exports.iter().map(|(_, id)| module(resolve, *id)).collect();
    let _ = writeln!(
        out,
        "from wit_world.exports import {}\n",
        modules.join(", ")
    );
    for ((key, id), module) in exports.iter().zip(&modules) {
        let iface = &resolve.interfaces[*id];
        let base = key.starts_with("wasmplug:plugin/plugin@");
        let in_base_package = key.starts_with("wasmplug:plugin/");
        let _ = writeln!(
            out,
            "\nclass {}(wit_world.exports.{}):",
            camel(iface.name.as_deref().unwrap_or("interface")),
            camel(iface.name.as_deref().unwrap_or("interface"))
        );
        let mut any = false;
        for func in iface.functions.values() {
            if !matches!(func.kind, FunctionKind::Freestanding) {
                continue;
            }
            any = true;
            let body = if base {
                base_body(&func.name, name, module)
            } else if in_base_package {
                // `validate`, `flush`: nothing to refuse.
                "return None".to_owned()
            } else {
                stub(func)
            };
            method(&mut out, func, &body);
        }
        if !any {
            out.push_str("    pass\n");
        }
        for (resource, ty) in &iface.types {
            if !matches!(resolve.types[*ty].kind, TypeDefKind::Resource) {
                continue;
            }
            let class = camel(resource);
            let _ = writeln!(out, "\n\nclass {class}({module}.{class}):");
            let mut any = false;
            for func in iface.functions.values() {
                let owner = match func.kind {
                    FunctionKind::Method(r)
                    | FunctionKind::Static(r)
                    | FunctionKind::Constructor(r) => r,
                    _ => continue,
                };
                if owner == *ty {
                    any = true;
                    method(&mut out, func, &stub(func));
                }
            }
            if !any {
                out.push_str("    pass\n");
            }
        }
    }
    // One blank line between methods, none after a class line, two
    // between classes (as black writes them).
    Ok(out
        .replace(":\n\n    def", ":\n    def")
        .replace(":\n\n    @staticmethod", ":\n    @staticmethod")
        .replace("\n\nclass ", "\n\n\nclass ")
        .replace("\n\n\n\nclass ", "\n\n\nclass "))
}

/// The module componentize-py generates for an exported interface.
fn module(resolve: &wit_parser::Resolve, id: wit_parser::InterfaceId) -> String {
    snake(
        resolve.interfaces[id]
            .name
            .as_deref()
            .unwrap_or("interface"),
    )
}

fn base_body(func: &str, name: &str, module: &str) -> String {
    match func {
        "get-metadata" => {
            format!("return {module}.Metadata(name={name:?}, version=\"0.1.0\", description=\"\")")
        }
        "init" => "# A setting the plugin does not know should refuse the load:\n        \
                   # raise componentize_py_types.Err(f\"unknown setting `{key}`\")\n        \
                   for _key, _value in config:\n            pass"
            .to_owned(),
        _ => "pass".to_owned(),
    }
}

/// A method (or `__init__`, or a static method) of a class.
fn method(out: &mut String, func: &Function, body: &str) {
    let mut params = Vec::new();
    let mut decorator = "";
    match func.kind {
        FunctionKind::Static(_) => decorator = "    @staticmethod\n",
        _ => params.push("self".to_owned()),
    }
    let skip = usize::from(matches!(func.kind, FunctionKind::Method(_)));
    params.extend(func.params.iter().skip(skip).map(|p| python_name(&p.name)));
    let name = match func.kind {
        FunctionKind::Constructor(_) => "__init__".to_owned(),
        _ => python_name(func.item_name()),
    };
    let _ = writeln!(
        out,
        "\n{decorator}    def {name}({}):\n        {body}",
        params.join(", ")
    );
}

/// A body that raises: the call traps, the host gets `Error::Trap`.
fn stub(func: &Function) -> String {
    // `[method]counter.next` is `counter.next`; a constructor, `counter`.
    let name = func
        .name
        .split_once(']')
        .map_or(func.name.as_str(), |(_, rest)| rest);
    format!("raise NotImplementedError(\"`{name}`\")")
}

/// A WIT name as componentize-py spells it: snake case, a trailing `_`
/// after a Python keyword.
fn python_name(name: &str) -> String {
    const KEYWORDS: &[&str] = &[
        "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
        "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
        "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return",
        "try", "while", "with", "yield",
    ];
    let name = snake(name);
    if KEYWORDS.contains(&name.as_str()) {
        name + "_"
    } else {
        name
    }
}

/// One `componentize-py` run over `dir`'s `app` module and `wit/`.
pub(super) fn build(dir: &Path, world: &str, wasm: &Path) -> Outcome {
    let componentize_py = tool(
        "WASMPLUG_COMPONENTIZE_PY",
        "componentize-py",
        &format!("`pip install componentize-py=={COMPONENTIZE_PY}`"),
    )?;
    run_tool(
        Command::new(componentize_py)
            .arg("-d")
            .arg(dir.join("wit"))
            .args(["-w", world, "componentize", "-p"])
            .arg(dir)
            .args(["app", "-o"])
            .arg(wasm),
        "componentize-py",
    )
}
