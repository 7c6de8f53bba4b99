//! A plugin's identity, as it declares it.

use std::fmt;

use crate::bindings::exports::wasmplug::plugin::plugin::Metadata as WitMetadata;
use crate::error::{Error, Origin};

/// What a plugin says about itself (the base contract's `get-metadata`),
/// checked: a non-empty name and a semver version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// Registry name, e.g. `auth-filter`.
    pub name: String,
    /// The plugin's own version.
    pub version: semver::Version,
    /// One line for people.
    pub description: String,
    /// What kind of plugin it is, as its manifest says (e.g.
    /// `gateway-filter`); empty without a manifest.
    pub kind: String,
}

impl Metadata {
    pub(crate) fn check(origin: &Origin, wit: WitMetadata) -> Result<Self, Error> {
        let bad = |reason: String| Error::Metadata {
            origin: origin.clone(),
            reason,
        };
        let name = wit.name.trim();
        if name.is_empty() || name.contains(char::is_whitespace) || name.contains('@') {
            return Err(bad(format!(
                "plugin name `{}` must be non-empty, without spaces or `@`",
                wit.name
            )));
        }
        let version = semver::Version::parse(&wit.version)
            .map_err(|e| bad(format!("version `{}` is not semver: {e}", wit.version)))?;
        Ok(Metadata {
            name: name.to_owned(),
            version,
            description: wit.description,
            kind: String::new(),
        })
    }
}

/// `name@version`.
impl fmt::Display for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}
