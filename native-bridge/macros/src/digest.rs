//! The WIT digest of the native ABI header: SHA-256 of a canonical
//! description of the world: each imported and exported interface (without
//! version), each of its functions with the structure of every parameter
//! and result type, by name. Documentation, parameter names and unused
//! types do not count; anything that changes what crosses the ABI does.

use sha2::{Digest, Sha256};
use wit_parser::{Handle, Type, TypeDefKind};

use crate::model::World;

pub(crate) fn digest(world: &World) -> syn::Result<[u8; 32]> {
    let mut text = format!("world {}\n", world.world_name());
    for (exported, word) in [(false, "import"), (true, "export")] {
        for iface in world.interfaces(exported)? {
            text.push_str(&format!("{word} {}\n", world.iface_id(iface)));
            for func in world.resolve.interfaces[iface].functions.values() {
                let params: Vec<String> =
                    func.params.iter().map(|p| describe(world, &p.ty)).collect();
                let result = func
                    .result
                    .as_ref()
                    .map_or_else(|| "_".to_owned(), |r| describe(world, r));
                text.push_str(&format!(
                    "  func {}({}) -> {}\n",
                    func.name,
                    params.join(", "),
                    result
                ));
            }
        }
    }
    Ok(Sha256::digest(text.as_bytes()).into())
}

fn describe(world: &World, ty: &Type) -> String {
    let ty = world.canonical(*ty);
    let Type::Id(id) = ty else {
        return format!("{ty:?}").to_lowercase();
    };
    let def = &world.resolve.types[id];
    let name = def.name.as_deref().unwrap_or("");
    let list = |tys: &[Type]| -> String {
        tys.iter()
            .map(|t| describe(world, t))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &def.kind {
        TypeDefKind::Record(r) => {
            let fields: Vec<String> = r
                .fields
                .iter()
                .map(|f| format!("{}: {}", f.name, describe(world, &f.ty)))
                .collect();
            format!("record {name} {{{}}}", fields.join(", "))
        }
        TypeDefKind::Variant(v) => {
            let cases: Vec<String> = v
                .cases
                .iter()
                .map(|c| match &c.ty {
                    Some(t) => format!("{}({})", c.name, describe(world, t)),
                    None => c.name.clone(),
                })
                .collect();
            format!("variant {name} {{{}}}", cases.join(", "))
        }
        TypeDefKind::Enum(e) => {
            let cases: Vec<&str> = e.cases.iter().map(|c| c.name.as_str()).collect();
            format!("enum {name} {{{}}}", cases.join(", "))
        }
        TypeDefKind::Flags(f) => {
            let flags: Vec<&str> = f.flags.iter().map(|c| c.name.as_str()).collect();
            format!("flags {name} {{{}}}", flags.join(", "))
        }
        TypeDefKind::Resource => format!("resource {name}"),
        TypeDefKind::Handle(Handle::Own(r)) => {
            format!("own<{}>", describe(world, &Type::Id(*r)))
        }
        TypeDefKind::Handle(Handle::Borrow(r)) => {
            format!("borrow<{}>", describe(world, &Type::Id(*r)))
        }
        TypeDefKind::Tuple(t) => format!("tuple<{}>", list(&t.types)),
        TypeDefKind::Option(t) => format!("option<{}>", describe(world, t)),
        TypeDefKind::Result(r) => format!(
            "result<{}, {}>",
            r.ok.as_ref().map_or("_".into(), |t| describe(world, t)),
            r.err.as_ref().map_or("_".into(), |t| describe(world, t))
        ),
        TypeDefKind::List(t) => format!("list<{}>", describe(world, t)),
        other => format!("{} {name}", other.as_str()),
    }
}
