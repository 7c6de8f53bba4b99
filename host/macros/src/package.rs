//! The contract package of a WIT world, derived at compile time, and the
//! check of a `package:` given beside it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, LitStr, Token, bracketed};
use wit_parser::{PackageName, Resolve, WorldItem, WorldKey};

/// The base contract's package: every world includes it, none is bound by
/// it.
const BASE: (&str, &str) = ("wasmplug", "plugin");

/// `world: "…", path: "…" | ["…", …], package: "…"` (`package` optional),
/// in any order.
pub(crate) struct Input {
    world: LitStr,
    paths: Vec<LitStr>,
    package: Option<LitStr>,
}

impl Parse for Input {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let (mut world, mut paths, mut package) = (None, None, None);
        while !input.is_empty() {
            let key: Ident = input.parse()?;
            input.parse::<Token![:]>()?;
            match key.to_string().as_str() {
                "world" => world = Some(input.parse::<LitStr>()?),
                "package" => package = Some(input.parse::<LitStr>()?),
                "path" if input.peek(syn::token::Bracket) => {
                    let list;
                    bracketed!(list in input);
                    let items = list.parse_terminated(<LitStr as Parse>::parse, Token![,])?;
                    paths = Some(items.into_iter().collect());
                }
                "path" => paths = Some(vec![input.parse::<LitStr>()?]),
                other => {
                    return Err(syn::Error::new(
                        key.span(),
                        format!("unknown option `{other}`: expected `world`, `path` or `package`"),
                    ));
                }
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        let missing = |what: &str| syn::Error::new(Span::call_site(), format!("missing `{what}`"));
        Ok(Input {
            world: world.ok_or_else(|| missing("world"))?,
            paths: paths.ok_or_else(|| missing("path"))?,
            package,
        })
    }
}

/// The package as a string literal, or a compile error on the option it
/// concerns.
pub(crate) fn expand(input: &Input) -> syn::Result<TokenStream> {
    let root = std::env::var("CARGO_MANIFEST_DIR")
        .map_err(|e| syn::Error::new(Span::call_site(), format!("CARGO_MANIFEST_DIR: {e}")))?;
    let paths: Vec<String> = input.paths.iter().map(LitStr::value).collect();
    let world = input.world.value();
    let given = input.package.as_ref().map(LitStr::value);
    match contract_package(Path::new(&root), &paths, &world, given.as_deref()) {
        Ok(package) => Ok(quote!(#package)),
        Err(Problem::Given(msg)) => Err(syn::Error::new(
            input
                .package
                .as_ref()
                .map_or_else(Span::call_site, LitStr::span),
            msg,
        )),
        Err(Problem::Wit(msg)) => Err(syn::Error::new(input.world.span(), msg)),
    }
}

/// What is wrong, and with which option.
#[derive(Debug, PartialEq)]
pub(crate) enum Problem {
    /// The `package:` given disagrees with the WIT.
    Given(String),
    /// The WIT cannot be read, or says no single contract package.
    Wit(String),
}

/// The package (`ns:name@version`) plugins of `world` export, read from the
/// WIT under `paths` (relative to `root`); if `given`, it must be that.
pub(crate) fn contract_package(
    root: &Path,
    paths: &[String],
    world: &str,
    given: Option<&str>,
) -> Result<String, Problem> {
    let mut resolve = Resolve::default();
    let mut main = None;
    for path in paths {
        let full = PathBuf::from(root).join(path);
        let (pkg, _) = resolve
            .push_path(&full)
            .map_err(|e| Problem::Wit(format!("reading `{}`: {e:#}", full.display())))?;
        main = Some(pkg);
    }
    let id = resolve
        .select_world(&main.into_iter().collect::<Vec<_>>(), Some(world))
        .map_err(|e| Problem::Wit(format!("{e:#}")))?;
    let wit_world = &resolve.worlds[id];
    let own = wit_world
        .package
        .map(|p| resolve.packages[p].name.clone())
        .ok_or_else(|| Problem::Wit(format!("world `{world}` is in no package")))?;

    // The packages whose interfaces the world exports: what a plugin's
    // component exports, and what the host looks for in it.
    let exported: BTreeSet<String> = wit_world
        .exports
        .iter()
        .filter_map(|(key, item)| match (key, item) {
            (WorldKey::Interface(id), _) | (WorldKey::Name(_), WorldItem::Interface { id, .. }) => {
                resolve.interfaces[*id].package
            }
            _ => None,
        })
        .map(|p| &resolve.packages[p].name)
        .filter(|name| (name.namespace.as_str(), name.name.as_str()) != BASE)
        .map(PackageName::to_string)
        .collect();

    let derived = if exported.contains(&own.to_string()) {
        own.to_string()
    } else if exported.len() == 1 {
        exported.iter().next().cloned().unwrap_or_default()
    } else if exported.is_empty() {
        return Err(Problem::Wit(format!(
            "world `{world}` exports no interface beyond the base contract: plugins are told \
             apart by the package of the interfaces they export"
        )));
    } else {
        let list = exported.iter().cloned().collect::<Vec<_>>().join("`, `");
        return match given {
            Some(given) if exported.contains(given) => Ok(given.to_owned()),
            Some(given) => Err(Problem::Given(format!(
                "`package: \"{given}\"` disagrees with the WIT: world `{world}` exports \
                 interfaces of `{list}`; name one of them"
            ))),
            None => Err(Problem::Wit(format!(
                "world `{world}` exports interfaces of several packages (`{list}`): say which \
                 is the contract with `package:`"
            ))),
        };
    };
    if !derived.contains('@') {
        return Err(Problem::Wit(format!(
            "package `{derived}` (world `{world}`) has no version: a contract needs one \
             (`package {derived}@0.1.0;`), plugins are checked against it by semver"
        )));
    }
    match given {
        Some(given) if given != derived => Err(Problem::Given(format!(
            "`package: \"{given}\"` disagrees with the WIT: world `{world}` is bound to \
             `{derived}`; remove `package:` (it is read from the WIT) or write \
             `package: \"{derived}\"`"
        ))),
        _ => Ok(derived),
    }
}

#[cfg(test)]
mod tests {
    use super::{Problem, contract_package};

    fn base() -> String {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit/plugin");
        dir.canonicalize().unwrap().display().to_string()
    }

    /// `contract_package` on one WIT file beside the base contract.
    fn package_of(wit: &str, world: &str, given: Option<&str>) -> Result<String, Problem> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("g.wit"), wit).unwrap();
        let paths = [base(), dir.path().display().to_string()];
        contract_package(dir.path(), &paths, world, given)
    }

    const GREETER: &str = "package acme:greeter@0.1.0;
        interface greet { hello: func(who: string) -> string; }
        world greeter { include wasmplug:plugin/base@1.0.0; export greet; }";

    #[test]
    fn derives_the_worlds_package_and_checks_a_given_one() {
        let derived = package_of(GREETER, "acme:greeter/greeter", None);
        assert_eq!(derived, Ok("acme:greeter@0.1.0".to_owned()));
        let same = package_of(GREETER, "acme:greeter/greeter", Some("acme:greeter@0.1.0"));
        assert_eq!(same, Ok("acme:greeter@0.1.0".to_owned()));

        let Err(Problem::Given(msg)) =
            package_of(GREETER, "acme:greeter/greeter", Some("acme:greeter@0.2.0"))
        else {
            panic!("a mismatching version was accepted");
        };
        assert!(
            msg.contains("acme:greeter@0.2.0") && msg.contains("acme:greeter@0.1.0"),
            "{msg}"
        );
        let Err(Problem::Given(msg)) =
            package_of(GREETER, "acme:greeter/greeter", Some("acme:greter@0.1.0"))
        else {
            panic!("a mismatching name was accepted");
        };
        assert!(msg.contains("acme:greter@0.1.0"), "{msg}");
    }

    #[test]
    fn a_world_exporting_another_packages_interface_is_bound_to_it() {
        let wit = "package acme:app@2.0.0;
            world filter { include wasmplug:plugin/base@1.0.0; export acme:greeter/greet@0.1.0; }";
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("greeter")).unwrap();
        std::fs::create_dir(dir.path().join("app")).unwrap();
        std::fs::write(dir.path().join("greeter/g.wit"), GREETER).unwrap();
        std::fs::write(dir.path().join("app/a.wit"), wit).unwrap();
        let paths = [base(), "greeter".to_owned(), "app".to_owned()];
        let package = contract_package(dir.path(), &paths, "acme:app/filter", None);
        assert_eq!(package, Ok("acme:greeter@0.1.0".to_owned()));
    }

    #[test]
    fn refuses_what_no_plugin_could_satisfy() {
        let unversioned = GREETER.replace("@0.1.0;", ";");
        let Err(Problem::Wit(msg)) = package_of(&unversioned, "acme:greeter/greeter", None) else {
            panic!("an unversioned package was accepted");
        };
        assert!(msg.contains("no version"), "{msg}");

        let bare = "package acme:bare@1.0.0; world bare { include wasmplug:plugin/base@1.0.0; }";
        let Err(Problem::Wit(msg)) = package_of(bare, "acme:bare/bare", None) else {
            panic!("a world exporting nothing of its own was accepted");
        };
        assert!(msg.contains("exports no interface"), "{msg}");

        let Err(Problem::Wit(msg)) = package_of(GREETER, "acme:greeter/nope", None) else {
            panic!("a missing world was accepted");
        };
        assert!(msg.contains("nope"), "{msg}");
    }
}
