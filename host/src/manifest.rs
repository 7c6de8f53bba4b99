//! A plugin's manifest: a TOML file beside the plugin (`auth.toml` for
//! `auth.wasm`) in which whoever installs the plugin declares what it is
//! and which settings it takes, sets its configuration and grants its
//! capabilities — TiDB's plugin manifest, outside the binary.
//!
//! ```toml
//! [plugin]
//! name = "auth-filter"                  # must match the plugin's metadata
//! version = "1.0.0"                     # must match too
//! kind = "gateway-filter"
//! description = "Bearer-token authentication"
//! contract = "wasmplug:gateway@^1.0"    # the host's contract must satisfy it
//!
//! [settings.deny]                       # the settings `init` takes
//! description = "comma-separated tokens to refuse"
//! required = true
//!
//! [config]                              # values for them (the embedder's win)
//! deny = "mallory"
//!
//! [capabilities]                        # grants; none unless listed
//! env = { TZ = "UTC" }
//! args = ["--verbose"]
//! dirs = [{ host = "/srv/data", guest = "/data", write = false }]
//! ```
//!
//! Everything is checked before the plugin's `init` runs; a problem is
//! [`Error::Manifest`] or [`Error::MissingSetting`], and nothing is loaded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::capabilities::{Capabilities, DirAccess};
use crate::contract::PackageId;
use crate::error::{Error, Result};
use crate::metadata::Metadata;

/// A parsed manifest; see the [module docs](self).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Manifest {
    #[serde(skip)]
    path: PathBuf,
    plugin: PluginSection,
    #[serde(default)]
    settings: BTreeMap<String, Setting>,
    #[serde(default)]
    config: BTreeMap<String, String>,
    #[serde(default)]
    capabilities: CapabilitySection,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginSection {
    name: String,
    version: String,
    #[serde(default)]
    kind: String,
    /// For people reading the file; the plugin's own metadata has one too.
    #[serde(default)]
    #[allow(dead_code, reason = "documentation for whoever reads the manifest")]
    description: String,
    contract: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Setting {
    #[serde(default)]
    description: String,
    #[serde(default)]
    required: bool,
    default: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CapabilitySection {
    #[serde(default)]
    env: BTreeMap<String, String>,
    #[serde(default)]
    args: Vec<String>,
    #[serde(default)]
    dirs: Vec<DirGrant>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct DirGrant {
    host: PathBuf,
    guest: String,
    #[serde(default)]
    write: bool,
}

impl Manifest {
    /// The manifest beside the plugin file `plugin` (same name, `.toml`),
    /// if there is one.
    pub(crate) fn beside(plugin: &Path) -> Result<Option<Self>> {
        let path = plugin.with_extension("toml");
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::parse(&path, &text).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(Error::Io { path, source }),
        }
    }

    fn parse(path: &Path, text: &str) -> Result<Self> {
        let mut manifest: Manifest = toml::from_str(text).map_err(|e| Error::Manifest {
            path: path.to_owned(),
            reason: e.message().to_owned(),
        })?;
        manifest.path = path.to_owned();
        if let Err(e) = semver::Version::parse(&manifest.plugin.version) {
            return Err(manifest.error(format!(
                "version `{}` is not semver: {e}",
                manifest.plugin.version
            )));
        }
        Ok(manifest)
    }

    fn error(&self, reason: String) -> Error {
        Error::Manifest {
            path: self.path.clone(),
            reason,
        }
    }

    fn label(&self) -> String {
        format!("{}@{}", self.plugin.name, self.plugin.version)
    }

    /// The configuration `init` gets: the manifest's values and the
    /// declared defaults, overridden by the embedder's `config`.
    pub(crate) fn config(&self, embedder: &[(String, String)]) -> Vec<(String, String)> {
        let mut config: BTreeMap<&str, &str> = self
            .settings
            .iter()
            .filter_map(|(name, s)| Some((name.as_str(), s.default.as_deref()?)))
            .collect();
        config.extend(self.config.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        config.extend(embedder.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        config
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// What kind of plugin the manifest says this is.
    pub(crate) fn kind(&self) -> &str {
        &self.plugin.kind
    }

    /// The capabilities the manifest grants.
    pub(crate) fn capabilities(&self) -> Capabilities {
        let grants = &self.capabilities;
        let mut caps = Capabilities::none();
        for (key, value) in &grants.env {
            caps = caps.env(key, value);
        }
        for arg in &grants.args {
            caps = caps.arg(arg);
        }
        for dir in &grants.dirs {
            let access = if dir.write {
                DirAccess::ReadWrite
            } else {
                DirAccess::ReadOnly
            };
            caps = caps.dir(&dir.host, &dir.guest, access);
        }
        caps
    }

    /// Checks the manifest against the host's contract (`ns:pkg@x.y.z`)
    /// and the configuration `init` will get.
    pub(crate) fn check_before_compile(
        &self,
        contract: &str,
        config: &[(String, String)],
    ) -> Result<()> {
        if let Some(declared) = &self.plugin.contract {
            let (package, requirement) = declared.split_once('@').unwrap_or((declared, "*"));
            let requirement = semver::VersionReq::parse(requirement).map_err(|e| {
                self.error(format!(
                    "contract `{declared}`: `{requirement}` is not a version requirement: {e}"
                ))
            })?;
            let host = PackageId::parse(contract).expect("a contract package id");
            let fits = host.name == package
                && host.version.as_ref().is_none_or(|v| requirement.matches(v));
            if !fits {
                return Err(self.error(format!(
                    "the plugin is for contract `{declared}`, this host's is `{contract}`"
                )));
            }
        }
        if !self.settings.is_empty()
            && let Some((key, _)) = config.iter().find(|(k, _)| !self.settings.contains_key(k))
        {
            let declared: Vec<&str> = self.settings.keys().map(String::as_str).collect();
            return Err(self.error(format!(
                "setting `{key}` is not declared (declared: {})",
                declared.join(", ")
            )));
        }
        for (name, setting) in &self.settings {
            if setting.required && !config.iter().any(|(k, _)| k == name) {
                return Err(Error::MissingSetting {
                    plugin: self.label(),
                    setting: name.clone(),
                    description: setting.description.clone(),
                });
            }
        }
        Ok(())
    }

    /// Checks that the plugin is the one the manifest describes.
    pub(crate) fn check_metadata(&self, metadata: &Metadata) -> Result<()> {
        let claimed = metadata.to_string();
        if claimed == self.label() {
            Ok(())
        } else {
            Err(self.error(format!(
                "it describes {}, but the plugin is {claimed}",
                self.label()
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTRACT: &str = "wasmplug:gateway@1.0.0";

    fn parse(text: &str) -> Result<Manifest> {
        Manifest::parse(Path::new("auth.toml"), text)
    }

    fn config(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    const FULL: &str = r#"
        [plugin]
        name = "auth"
        version = "1.2.0"
        kind = "gateway-filter"
        contract = "wasmplug:gateway@^1.0"

        [settings.deny]
        required = true
        description = "tokens to refuse"

        [settings.public-prefix]
        default = "/public/"

        [config]
        deny = "mallory"
    "#;

    #[test]
    fn configuration_merges_defaults_manifest_and_embedder_in_that_order() {
        let m = parse(FULL).unwrap();
        assert_eq!(m.kind(), "gateway-filter");
        assert_eq!(
            m.config(&[]),
            config(&[("deny", "mallory"), ("public-prefix", "/public/")])
        );
        assert_eq!(
            m.config(&config(&[("deny", "eve")])),
            config(&[("deny", "eve"), ("public-prefix", "/public/")])
        );
        m.check_before_compile(CONTRACT, &m.config(&[])).unwrap();
    }

    #[test]
    fn each_problem_is_a_typed_error() {
        let manifest_error = |r: Result<Manifest>| match r {
            Err(Error::Manifest { reason, .. }) => reason,
            other => panic!("expected Error::Manifest, got {other:?}"),
        };
        assert!(manifest_error(parse("[plugin]\nname = \"auth\"\n")).contains("version"));
        assert!(
            manifest_error(parse("[plugin]\nname = \"a\"\nversion = \"1.x\"\n"))
                .contains("not semver")
        );
        assert!(
            manifest_error(parse(
                "[plugin]\nname = \"a\"\nversion = \"1.0.0\"\ncolour = \"red\"\n"
            ))
            .contains("colour")
        );

        let m = parse(&FULL.replace("[config]\n        deny = \"mallory\"", "")).unwrap();
        match m.check_before_compile(CONTRACT, &m.config(&[])) {
            Err(Error::MissingSetting {
                plugin,
                setting,
                description,
            }) => {
                assert_eq!((plugin.as_str(), setting.as_str()), ("auth@1.2.0", "deny"));
                assert_eq!(description, "tokens to refuse");
            }
            other => panic!("expected MissingSetting, got {other:?}"),
        }
        let full = parse(FULL).unwrap();
        let err = full
            .check_before_compile(CONTRACT, &config(&[("deny", "x"), ("colour", "red")]))
            .unwrap_err();
        assert!(
            err.to_string().contains("setting `colour` is not declared"),
            "{err}"
        );
        let err = full
            .check_before_compile("wasmplug:gateway@2.0.0", &full.config(&[]))
            .unwrap_err();
        assert!(
            err.to_string().contains(
                "for contract `wasmplug:gateway@^1.0`, this host's is `wasmplug:gateway@2.0.0`"
            ),
            "{err}"
        );
        let err = full
            .check_before_compile("acme:other@1.0.0", &full.config(&[]))
            .unwrap_err();
        assert!(matches!(err, Error::Manifest { .. }), "{err}");
    }
}
