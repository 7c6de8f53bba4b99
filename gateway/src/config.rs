//! The gateway's configuration: a TOML file ([`Config`]).
//!
//! ```toml
//! listen = "127.0.0.1:8080"          # where clients connect
//! upstream = "http://127.0.0.1:9000" # where allowed requests go
//! plugin_dir = "plugins"             # relative to this file
//! admin = "127.0.0.1:9901"           # optional: GET /metrics, POST /reload
//!
//! [[filter]]                         # run in this order
//! plugin = "auth-filter@1"           # name@version-requirement, as `open_in`
//! backend = "wasm"                   # or "native" (then `file` is required)
//! settings = { deny = "mallory" }    # passed to the plugin's `init`
//! limits = { deadline_ms = 50, max_memory_mib = 16 }
//! capabilities = { env = { LANG = "C" } }
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hyper::Uri;
use serde::Deserialize;

use crate::error::GatewayError;

/// The whole configuration file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The address clients connect to (`127.0.0.1:0`: any free port).
    pub listen: SocketAddr,
    /// The upstream base URL (`http://host:port`, no path): allowed
    /// requests are forwarded there with their (rewritten) path and query.
    #[serde(with = "uri")]
    pub upstream: Uri,
    /// The directory filters are resolved in; relative paths are relative
    /// to the configuration file.
    pub plugin_dir: PathBuf,
    /// The admin listener (`GET /metrics`, `POST /reload`), if any.
    #[serde(default)]
    pub admin: Option<SocketAddr>,
    /// The largest request body the gateway reads (filters see the whole
    /// body), in bytes; a larger one is answered with 413. Default: 1 MiB.
    #[serde(default = "default_max_body")]
    pub max_body: usize,
    /// How long a graceful shutdown waits for requests in flight, in
    /// milliseconds. Default: 10 000.
    #[serde(default = "default_drain_ms")]
    pub drain_ms: u64,
    /// The filter chain, run in order on every request.
    #[serde(default, rename = "filter")]
    pub filters: Vec<FilterConfig>,
}

/// One filter of the chain.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// `name@requirement` (`auth-filter@1`, `auth-filter@=1.1.0`): the
    /// newest plugin in the plugin directory whose metadata satisfies it.
    pub plugin: String,
    /// Which backend runs it.
    #[serde(default)]
    pub backend: Backend,
    /// For a native filter, its library file in the plugin directory (a
    /// native library cannot be inspected without running its code, so it
    /// is named rather than found by scanning); its metadata must satisfy
    /// `plugin`.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// Settings passed to the plugin's `init`.
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// Wasm only: how many pooled instances serve concurrent requests.
    /// Default: 16.
    #[serde(default = "default_pool")]
    pub pool: usize,
    /// Wasm only: the plugin's limits.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Wasm only: what the plugin may reach (nothing by default).
    #[serde(default)]
    pub capabilities: CapabilitiesConfig,
}

/// Where a filter runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// A Wasm component on the async path, sandboxed, with limits.
    #[default]
    Wasm,
    /// A native library through `wasmplug-native`: no sandbox, no limits.
    Native,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Wasm => "wasm",
            Backend::Native => "native",
        })
    }
}

/// A Wasm filter's limits (see `wasmplug::Limits`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Each call's deadline in milliseconds; past it the request gets 504.
    pub deadline_ms: Option<u64>,
    /// Each instance's linear memory cap, in MiB.
    pub max_memory_mib: Option<usize>,
}

/// A Wasm filter's capabilities (see `wasmplug::Capabilities`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CapabilitiesConfig {
    /// Environment variables the plugin sees.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Host directories it may read, by guest path (`"/data" = "host/dir"`,
    /// the host path relative to the configuration file).
    #[serde(default)]
    pub read_dirs: BTreeMap<String, PathBuf>,
}

fn default_max_body() -> usize {
    1 << 20
}

fn default_drain_ms() -> u64 {
    10_000
}

fn default_pool() -> usize {
    16
}

impl Config {
    /// Reads and checks the configuration file at `path`; relative paths
    /// in it are made relative to its directory.
    ///
    /// # Errors
    ///
    /// [`GatewayError::ConfigRead`] if the file cannot be read,
    /// [`GatewayError::ConfigParse`] if it is not valid TOML for this
    /// schema (the message names the field: an unknown backend, a missing
    /// `listen`, ...), [`GatewayError::ConfigInvalid`] if it parses but
    /// does not make sense.
    pub fn load(path: &Path) -> Result<Config, GatewayError> {
        let text = std::fs::read_to_string(path).map_err(|source| GatewayError::ConfigRead {
            path: path.to_owned(),
            source,
        })?;
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        Config::parse(&text, path, base)
    }

    /// Parses configuration text; `path` names it in errors and relative
    /// paths are resolved against `base`.
    ///
    /// # Errors
    ///
    /// As [`load`](Self::load), without [`GatewayError::ConfigRead`].
    pub fn parse(text: &str, path: &Path, base: &Path) -> Result<Config, GatewayError> {
        let mut config: Config = toml::from_str(text).map_err(|e| GatewayError::ConfigParse {
            path: path.to_owned(),
            message: e.to_string(),
        })?;
        config.plugin_dir = base.join(&config.plugin_dir);
        for filter in &mut config.filters {
            for dir in filter.capabilities.read_dirs.values_mut() {
                *dir = base.join(&*dir);
            }
        }
        config.check(path)?;
        Ok(config)
    }

    fn check(&self, path: &Path) -> Result<(), GatewayError> {
        let invalid = |field: String, reason: String| GatewayError::ConfigInvalid {
            path: path.to_owned(),
            field,
            reason,
        };
        if self.upstream.scheme_str() != Some("http") || self.upstream.authority().is_none() {
            return Err(invalid(
                "upstream".into(),
                format!("`{}` is not an `http://host:port` URL", self.upstream),
            ));
        }
        if self.upstream.path() != "/" && !self.upstream.path().is_empty() {
            return Err(invalid(
                "upstream".into(),
                format!("`{}` has a path; give `http://host:port`", self.upstream),
            ));
        }
        if !self.plugin_dir.is_dir() {
            return Err(invalid(
                "plugin_dir".into(),
                format!("{} is not a directory", self.plugin_dir.display()),
            ));
        }
        for (i, filter) in self.filters.iter().enumerate() {
            let field = |name: &str| format!("filter[{i}].{name}");
            if let Err(e) = filter.plugin.parse::<wasmplug::Spec>() {
                return Err(invalid(field("plugin"), e.to_string()));
            }
            match (filter.backend, &filter.file) {
                (Backend::Native, None) => {
                    return Err(invalid(
                        field("file"),
                        "a native filter names its library file".into(),
                    ));
                }
                (Backend::Wasm, Some(_)) => {
                    return Err(invalid(
                        field("file"),
                        "Wasm filters are found by `plugin` in `plugin_dir`; `file` is for native ones".into(),
                    ));
                }
                _ => {}
            }
            if filter.backend == Backend::Native
                && (filter.limits != LimitsConfig::default()
                    || filter.capabilities != CapabilitiesConfig::default())
            {
                return Err(invalid(
                    field("limits"),
                    "a native filter cannot be limited or sandboxed (it is the host's own code)"
                        .into(),
                ));
            }
            if filter.pool == 0 {
                return Err(invalid(field("pool"), "must be at least 1".into()));
            }
        }
        Ok(())
    }

    /// Whether any filter has a deadline (the runtime then needs epoch
    /// interruption, which slows guest code by about 10 %).
    pub fn needs_deadlines(&self) -> bool {
        self.filters.iter().any(|f| f.limits.deadline_ms.is_some())
    }
}

/// `Uri` from and to a TOML string.
mod uri {
    use hyper::Uri;
    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Uri, D::Error> {
        let text = String::deserialize(d)?;
        text.parse()
            .map_err(|e| serde::de::Error::custom(format!("`{text}` is not a URL: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, GatewayError> {
        let dir = std::env::temp_dir();
        Config::parse(text, Path::new("gateway.toml"), &dir)
    }

    const HEAD: &str =
        "listen = \"127.0.0.1:0\"\nupstream = \"http://127.0.0.1:9\"\nplugin_dir = \".\"\n";

    #[test]
    fn a_chain_parses_with_defaults() {
        let config = parse(&format!(
            "{HEAD}[[filter]]\nplugin = \"auth-filter@1\"\nsettings = {{ deny = \"eve\" }}\n\
             [[filter]]\nplugin = \"fault-filter\"\nbackend = \"native\"\nfile = \"libf.so\"\n"
        ))
        .unwrap();
        assert_eq!(config.filters.len(), 2);
        assert_eq!(config.filters[0].backend, Backend::Wasm);
        assert_eq!(config.filters[0].pool, 16);
        assert_eq!(config.filters[0].settings["deny"], "eve");
        assert_eq!(config.filters[1].backend, Backend::Native);
        assert_eq!(config.max_body, 1 << 20);
        assert!(!config.needs_deadlines());
    }

    #[test]
    fn bad_configurations_name_the_field() {
        let cases = [
            (
                format!("{HEAD}[[filter]]\nplugin = \"a\"\nbackend = \"jvm\"\n"),
                "jvm",
            ),
            ("listen = \"127.0.0.1:0\"\n".to_owned(), "upstream"),
            (format!("{HEAD}colour = \"blue\"\n"), "colour"),
            (
                format!("{HEAD}[[filter]]\nplugin = \"a\"\nbackend = \"native\"\n"),
                "filter[0].file",
            ),
            (
                format!("{HEAD}[[filter]]\nplugin = \"a@one\"\n"),
                "filter[0].plugin",
            ),
            (HEAD.replace("http://127.0.0.1:9", "ftp://x"), "upstream"),
            (HEAD.replace("\".\"", "\"/no/such/dir\""), "plugin_dir"),
            ("listen = [".to_owned(), "gateway.toml"),
        ];
        for (text, needle) in cases {
            let err = parse(&text).unwrap_err().to_string();
            assert!(
                err.contains(needle),
                "{text:?}: `{err}` should name `{needle}`"
            );
            assert!(err.contains("gateway.toml"), "{err}");
        }
    }
}
