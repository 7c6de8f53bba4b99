//! WIT-style rendering of component function types, for error messages and
//! for listing what a plugin exports.

use std::fmt::Write as _;

use wasmtime::component::types::{ComponentFunc, ComponentItem, Type};

/// One function a plugin exports, with its WIT signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportedFunc {
    /// `interface#function` (or just `function` for a world-level export),
    /// the form [`Plugin::lookup`](crate::Plugin::lookup) takes.
    pub name: String,
    /// E.g. `func(v: s64) -> string`.
    pub signature: String,
}

pub(crate) fn exported_funcs(
    engine: &wasmtime::Engine,
    component: &wasmtime::component::types::Component,
) -> Vec<ExportedFunc> {
    let mut out = Vec::new();
    for (name, export) in component.exports(engine) {
        match export.ty {
            ComponentItem::ComponentFunc(func) => {
                out.push(ExportedFunc {
                    name: name.to_owned(),
                    signature: func_signature(&func),
                });
            }
            ComponentItem::ComponentInstance(instance) => {
                for (fname, item) in instance.exports(engine) {
                    if let ComponentItem::ComponentFunc(func) = item.ty {
                        out.push(ExportedFunc {
                            name: format!("{name}#{fname}"),
                            signature: func_signature(&func),
                        });
                    }
                }
            }
            _ => {}
        }
    }
    out
}

pub(crate) fn func_signature(func: &ComponentFunc) -> String {
    let mut out = String::from("func(");
    for (i, (name, ty)) in func.params().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        let _ = write!(out, "{name}: {}", wit_type(&ty));
    }
    out.push(')');
    let results: Vec<String> = func.results().map(|ty| wit_type(&ty)).collect();
    if !results.is_empty() {
        let _ = write!(out, " -> {}", results.join(", "));
    }
    out
}

fn wit_type(ty: &Type) -> String {
    match ty {
        Type::List(list) => format!("list<{}>", wit_type(&list.ty())),
        Type::Option(opt) => format!("option<{}>", wit_type(&opt.ty())),
        Type::Result(res) => {
            let part = |t: Option<Type>| t.map_or_else(|| "_".to_owned(), |t| wit_type(&t));
            format!("result<{}, {}>", part(res.ok()), part(res.err()))
        }
        Type::Tuple(tuple) => {
            let items: Vec<String> = tuple.types().map(|t| wit_type(&t)).collect();
            format!("tuple<{}>", items.join(", "))
        }
        Type::Record(record) => {
            let fields: Vec<String> = record
                .fields()
                .map(|f| format!("{}: {}", f.name, wit_type(&f.ty)))
                .collect();
            format!("record {{ {} }}", fields.join(", "))
        }
        Type::Variant(variant) => {
            let cases: Vec<String> = variant
                .cases()
                .map(|c| match c.ty {
                    Some(t) => format!("{}({})", c.name, wit_type(&t)),
                    None => c.name.to_owned(),
                })
                .collect();
            format!("variant {{ {} }}", cases.join(", "))
        }
        Type::Enum(e) => format!("enum {{ {} }}", e.names().collect::<Vec<_>>().join(", ")),
        Type::Flags(f) => format!("flags {{ {} }}", f.names().collect::<Vec<_>>().join(", ")),
        Type::Own(_) => "own<resource>".to_owned(),
        Type::Borrow(_) => "borrow<resource>".to_owned(),
        Type::Bool => "bool".to_owned(),
        Type::S8 => "s8".to_owned(),
        Type::U8 => "u8".to_owned(),
        Type::S16 => "s16".to_owned(),
        Type::U16 => "u16".to_owned(),
        Type::S32 => "s32".to_owned(),
        Type::U32 => "u32".to_owned(),
        Type::S64 => "s64".to_owned(),
        Type::U64 => "u64".to_owned(),
        Type::Float32 => "f32".to_owned(),
        Type::Float64 => "f64".to_owned(),
        Type::Char => "char".to_owned(),
        Type::String => "string".to_owned(),
        other => format!("{other:?}"),
    }
}
