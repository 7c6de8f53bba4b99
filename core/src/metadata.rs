//! A plugin's identity, as it declares it.

use std::fmt;

/// What a plugin says about itself (the base contract's `get-metadata`),
/// checked: a name without spaces or `@`, and a semver version. The same
/// on both backends.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metadata {
    /// Registry name, e.g. `auth-filter`.
    pub name: String,
    /// The plugin's own version.
    pub version: semver::Version,
    /// One line for people.
    pub description: String,
    /// What kind of plugin it is (e.g. `gateway-filter`), as its manifest
    /// or its own declaration says; empty when neither does.
    pub kind: String,
}

impl Metadata {
    /// Checks what a plugin reported: a non-empty `name` without whitespace
    /// or `@`, and a semver `version`. `kind` starts empty.
    ///
    /// # Errors
    ///
    /// The reason, for the caller's typed error.
    pub fn new(name: &str, version: &str, description: String) -> Result<Self, String> {
        let trimmed = name.trim();
        if trimmed.is_empty() || trimmed.contains(char::is_whitespace) || trimmed.contains('@') {
            return Err(format!(
                "plugin name `{name}` must be non-empty, without spaces or `@`"
            ));
        }
        let version = semver::Version::parse(version)
            .map_err(|e| format!("version `{version}` is not semver: {e}"))?;
        Ok(Metadata {
            name: trimmed.to_owned(),
            version,
            description,
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

#[cfg(test)]
mod tests {
    use super::Metadata;

    #[test]
    fn checks_name_and_version() {
        let m = Metadata::new(" auth ", "1.2.0", "x".into()).unwrap();
        assert_eq!(m.to_string(), "auth@1.2.0");
        assert!(Metadata::new("", "1.0.0", String::new()).is_err());
        assert!(Metadata::new("a b", "1.0.0", String::new()).is_err());
        assert!(Metadata::new("a@1", "1.0.0", String::new()).is_err());
        let err = Metadata::new("a", "one", String::new()).unwrap_err();
        assert!(err.contains("`one` is not semver"), "{err}");
    }
}
