//! A plugin's manifest, beside its file: see [`Manifest`] for the format.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use wasmplug_core::{Metadata, Origin, PackageId};

use crate::capabilities::{Capabilities, DirAccess};
use crate::error::{Error, Result};

/// The largest manifest file read: a manifest is a few lines of TOML.
const MAX_MANIFEST_SIZE: u64 = 1 << 20;

/// What a plugin declares about itself (`wasmplug:plugin/declaration`).
#[derive(Debug, Clone)]
pub(crate) struct Declared {
    pub(crate) kind: String,
    pub(crate) contract: Option<String>,
    pub(crate) settings: BTreeMap<String, Setting>,
}

impl From<crate::bindings::hooks::exports::wasmplug::plugin::declaration::Declared> for Declared {
    fn from(d: crate::bindings::hooks::exports::wasmplug::plugin::declaration::Declared) -> Self {
        Declared {
            kind: d.kind,
            contract: Some(d.contract).filter(|c| !c.is_empty()),
            settings: d
                .settings
                .into_iter()
                .map(|s| {
                    (
                        s.name,
                        Setting {
                            description: s.description,
                            required: s.required,
                            default: s.default,
                        },
                    )
                })
                .collect(),
        }
    }
}

impl Declared {
    /// The configuration `init` gets from `config`: the declared defaults
    /// added, then checked against the declared settings.
    pub(crate) fn config(
        &self,
        plugin: &str,
        origin: &Origin,
        config: &[(String, String)],
    ) -> Result<Vec<(String, String)>> {
        let config = with_defaults(&self.settings, config);
        check_settings(&self.settings, &config).map_err(|problem| match problem {
            Problem::Missing(setting) => Error::MissingSetting {
                plugin: plugin.to_owned(),
                description: self.settings[&setting].description.clone(),
                setting,
            },
            other => Error::Config {
                origin: origin.clone(),
                reason: other.to_string(),
            },
        })?;
        Ok(config)
    }
}

/// The configuration `init` gets from the embedder's `config`: the
/// manifest's values and defaults under it, checked against the manifest
/// (its contract range, its settings), then the plugin's declared defaults
/// under that, checked against its declaration. At load and on every
/// reconfigure alike.
pub(crate) fn settle_config(
    manifest: Option<&Manifest>,
    declared: Option<&Declared>,
    contract: &str,
    plugin: &str,
    origin: &Origin,
    config: &[(String, String)],
) -> Result<Vec<(String, String)>> {
    let config = match manifest {
        Some(m) => {
            let config = m.config(config);
            m.check_before_compile(contract, &config)?;
            config
        }
        None => config.to_vec(),
    };
    match declared {
        Some(d) => d.config(plugin, origin, &config),
        None => Ok(config),
    }
}

/// A plugin's manifest: a TOML file beside the plugin file, named like it
/// (`auth.toml` for `auth.wasm`), read by [`Loader::open`](crate::Loader::open)
/// and [`Loader::open_in`](crate::Loader::open_in) whenever it is there.
/// Whoever installs the plugin says in it what the plugin is and which
/// settings it takes, sets its configuration and grants its capabilities
/// (TiDB's plugin manifest, outside the binary):
///
/// ```toml
/// [plugin]
/// name = "auth-filter"                  # must match the plugin's metadata
/// version = "1.0.0"                     # must match too
/// kind = "gateway-filter"               # shown as Metadata::kind
/// description = "Bearer-token authentication"
/// contract = "wasmplug:gateway@^1.0"    # the host's contract must satisfy it
/// pool = 8                              # serve from a pool of 8 instances
///                                       # (a stateless plugin; the default
///                                       # is one shared instance)
///
/// [settings.deny]                       # the settings `init` takes
/// description = "comma-separated tokens to refuse"
/// required = true
///
/// [settings.public-prefix]
/// default = "/public/"                  # used when nobody sets it
///
/// [config]                              # values (the embedder's win)
/// deny = "mallory"
///
/// [capabilities]                        # grants, unless the embedder sets its own
/// env = { TZ = "UTC" }
/// args = ["--verbose"]
/// dirs = [{ host = "/srv/data", guest = "/data", write = false }]
/// ```
///
/// Only `[plugin]` with `name` and `version` is required; unknown keys are
/// errors. Everything is checked before the plugin's `init` runs, and a
/// problem is [`Error::Manifest`] (naming the file) or
/// [`Error::MissingSetting`]; nothing is loaded. The settings `init` gets
/// are: the plugin's own declared defaults, under the manifest's defaults
/// and `[config]`, under the embedder's [`Loader::config`](crate::Loader::config).
/// [`Manifest::from_file`] reads one on its own (for tools).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
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
    /// Serve from a pool of this many instances (the embedder's
    /// `Loader::concurrency` wins).
    pool: Option<usize>,
}

/// A setting `init` takes, as a manifest or the plugin declares it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Setting {
    /// What it is for, for people.
    #[serde(default)]
    pub description: String,
    /// Whether `init` must get it.
    #[serde(default)]
    pub required: bool,
    /// Its value when nobody sets it.
    pub default: Option<String>,
}

/// What is wrong with a configuration or a contract, against what a
/// manifest or a plugin declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Problem {
    /// The declared contract range is not a requirement.
    BadContract(String),
    /// The host's contract is not in the declared range.
    Contract { declared: String, host: String },
    /// A setting is given that is not declared.
    Undeclared {
        setting: String,
        declared: Vec<String>,
    },
    /// A required setting has no value.
    Missing(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::BadContract(reason) => f.write_str(reason),
            Problem::Contract { declared, host } => write!(
                f,
                "the plugin is for contract `{declared}`, this host's is `{host}`"
            ),
            Problem::Undeclared { setting, declared } => write!(
                f,
                "setting `{setting}` is not declared (declared: {})",
                declared.join(", ")
            ),
            Problem::Missing(setting) => write!(f, "setting `{setting}` is required"),
        }
    }
}

/// Whether the host's `contract` (`ns:pkg@x.y.z`) is in `declared`
/// (`ns:pkg@requirement`; `None` or empty: any).
pub(crate) fn check_contract(declared: Option<&str>, contract: &str) -> Result<(), Problem> {
    let Some(declared) = declared.filter(|d| !d.is_empty()) else {
        return Ok(());
    };
    let (package, requirement) = declared.split_once('@').unwrap_or((declared, "*"));
    let requirement = semver::VersionReq::parse(requirement).map_err(|e| {
        Problem::BadContract(format!(
            "contract `{declared}`: `{requirement}` is not a version requirement: {e}"
        ))
    })?;
    let host = PackageId::parse(contract).expect("a contract package id");
    let fits = host.name == package && host.version.as_ref().is_none_or(|v| requirement.matches(v));
    if fits {
        Ok(())
    } else {
        Err(Problem::Contract {
            declared: declared.to_owned(),
            host: contract.to_owned(),
        })
    }
}

/// Whether `config` gives only declared settings and every required one
/// (no declared settings: anything goes).
pub(crate) fn check_settings(
    settings: &BTreeMap<String, Setting>,
    config: &[(String, String)],
) -> Result<(), Problem> {
    if !settings.is_empty()
        && let Some((key, _)) = config.iter().find(|(k, _)| !settings.contains_key(k))
    {
        return Err(Problem::Undeclared {
            setting: key.clone(),
            declared: settings.keys().cloned().collect(),
        });
    }
    match settings
        .iter()
        .find(|(name, s)| s.required && !config.iter().any(|(k, _)| k == *name))
    {
        Some((name, _)) => Err(Problem::Missing(name.clone())),
        None => Ok(()),
    }
}

/// `config` with the declared defaults of the settings it does not give.
pub(crate) fn with_defaults(
    settings: &BTreeMap<String, Setting>,
    config: &[(String, String)],
) -> Vec<(String, String)> {
    let mut all = config.to_vec();
    for (name, setting) in settings {
        if let Some(default) = &setting.default
            && !config.iter().any(|(k, _)| k == name)
        {
            all.push((name.clone(), default.clone()));
        }
    }
    all
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
    /// Reads and checks the manifest at `path`.
    ///
    /// # Errors
    ///
    /// [`Error::Manifest`] when it does not parse or its version is not
    /// semver; [`Error::Io`], [`Error::NotAFile`], [`Error::TooLarge`]
    /// (over 1 MiB) when it cannot be read.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes =
            wasmplug_core::read_file(path, MAX_MANIFEST_SIZE).map_err(|e| Error::file(path, e))?;
        let text = String::from_utf8(bytes).map_err(|e| Error::Manifest {
            path: path.to_owned(),
            reason: format!("not UTF-8: {e}"),
        })?;
        Self::parse(path, &text)
    }

    /// The plugin's name, as the manifest says.
    pub fn name(&self) -> &str {
        &self.plugin.name
    }

    /// The plugin's version, as the manifest says (checked to be semver).
    pub fn version(&self) -> &str {
        &self.plugin.version
    }

    /// The contract range the plugin needs (`ns:pkg@requirement`), if given.
    pub fn contract(&self) -> Option<&str> {
        self.plugin.contract.as_deref()
    }

    /// The pool it asks to be served from, if any: see
    /// [`Concurrency::Pooled`](crate::Concurrency::Pooled).
    pub fn pool(&self) -> Option<usize> {
        self.plugin.pool
    }

    /// The settings it declares, by name.
    pub fn settings(&self) -> &BTreeMap<String, Setting> {
        &self.settings
    }

    /// The values its `[config]` sets.
    pub fn config_values(&self) -> &BTreeMap<String, String> {
        &self.config
    }

    /// Where it was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The manifest beside the plugin file `plugin` (same name, `.toml`),
    /// if there is one.
    pub(crate) fn beside(plugin: &Path) -> Result<Option<Self>> {
        let path = plugin.with_extension("toml");
        match wasmplug_core::read_file(&path, MAX_MANIFEST_SIZE) {
            Ok(bytes) => {
                let text = String::from_utf8(bytes).map_err(|e| Error::Manifest {
                    path: path.clone(),
                    reason: format!("not UTF-8: {e}"),
                })?;
                Self::parse(&path, &text).map(Some)
            }
            Err(wasmplug_core::FileError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(None)
            }
            Err(e) => Err(Error::file(&path, e)),
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
            .config
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        config.extend(embedder.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let config: Vec<(String, String)> = config
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        with_defaults(&self.settings, &config)
    }

    /// What kind of plugin the manifest says this is (empty when it does
    /// not say).
    pub fn kind(&self) -> &str {
        &self.plugin.kind
    }

    /// The capabilities the manifest grants.
    pub fn capabilities(&self) -> Capabilities {
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
        let problem = check_contract(self.plugin.contract.as_deref(), contract)
            .and_then(|()| check_settings(&self.settings, config));
        problem.map_err(|problem| match problem {
            Problem::Missing(setting) => Error::MissingSetting {
                plugin: self.label(),
                description: self.settings[&setting].description.clone(),
                setting,
            },
            other => self.error(other.to_string()),
        })
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
