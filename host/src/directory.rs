//! Plugins addressed by name and version in a directory: the soname
//! analogue of the Go article's demo5 (`libfoo.so -> libfoo.so.1 ->
//! libfoo.so.1.2`), without symlinks. `auth@1` is the newest `auth` 1.x in
//! the directory, by the versions the plugins declare, not by file names.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{Error, Result};
use wasmplug_core::Digest;

/// What to open: a plugin name and which of its versions will do.
///
/// Written `name` (any version), `name@1` (any 1.x), `name@1.2` (1.2 or a
/// later 1.x), `name@=1.2.0` (exactly), or `name@` followed by any other
/// cargo-style requirement (`auth@>=1.1, <3`). The newest matching version
/// wins; pre-releases match only when the requirement names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Spec {
    /// The plugin's name, as its metadata declares it.
    pub name: String,
    /// Which versions will do.
    pub requirement: semver::VersionReq,
}

impl Spec {
    /// Whether a plugin `name@version` satisfies this spec.
    pub fn matches(&self, name: &str, version: &semver::Version) -> bool {
        self.name == name && self.requirement.matches(version)
    }
}

impl FromStr for Spec {
    type Err = Error;

    fn from_str(spec: &str) -> Result<Self> {
        let bad = |reason: String| Error::Spec {
            spec: spec.to_owned(),
            reason,
        };
        let (name, requirement) = match spec.split_once('@') {
            Some((name, req)) => (
                name,
                semver::VersionReq::parse(req)
                    .map_err(|e| bad(format!("`{req}` is not a version requirement: {e}")))?,
            ),
            None => (spec, semver::VersionReq::STAR),
        };
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(bad("the plugin name is empty or has spaces".into()));
        }
        Ok(Spec {
            name: name.to_owned(),
            requirement,
        })
    }
}

impl fmt::Display for Spec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.requirement)
    }
}

/// A plugin file found in a directory by
/// [`Runtime::scan`](crate::Runtime::scan), with what it declares.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Available {
    /// The plugin's name.
    pub name: String,
    /// The plugin's version.
    pub version: semver::Version,
    /// The file.
    pub path: PathBuf,
    /// SHA-256 of the file.
    pub digest: Digest,
}

/// `name@version (file)`.
impl fmt::Display for Available {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}@{} ({})",
            self.name,
            self.version,
            self.path.file_name().map_or_else(
                || self.path.display().to_string(),
                |n| n.to_string_lossy().into_owned()
            )
        )
    }
}

/// The `.wasm` files directly in `dir`, sorted by path.
pub(crate) fn wasm_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let io = |source| Error::Io {
        path: dir.to_owned(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.extension().is_some_and(|e| e == "wasm") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Whether `candidate` satisfies `spec` and is newer than `best`, the
/// choice so far: scanning in path order, the first file of the newest
/// matching version wins, for a stable choice.
pub(crate) fn better(spec: &Spec, candidate: &Available, best: Option<&Available>) -> bool {
    spec.matches(&candidate.name, &candidate.version)
        && best.is_none_or(|b| candidate.version > b.version)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn available(name: &str, version: &str) -> Available {
        Available {
            name: name.into(),
            version: version.parse().unwrap(),
            path: PathBuf::from(format!("{name}-{version}.wasm")),
            digest: Digest::of(format!("{name}{version}").as_bytes()),
        }
    }

    #[test]
    fn specs_parse_as_cargo_requirements() {
        let spec: Spec = "auth@1".parse().unwrap();
        assert_eq!(spec.name, "auth");
        assert!(spec.matches("auth", &"1.9.3".parse().unwrap()));
        assert!(!spec.matches("auth", &"2.0.0".parse().unwrap()));
        assert!(!spec.matches("other", &"1.0.0".parse().unwrap()));
        let any: Spec = "auth".parse().unwrap();
        assert!(any.matches("auth", &"7.0.0".parse().unwrap()));
        let exact: Spec = "auth@=1.1.0".parse().unwrap();
        assert!(!exact.matches("auth", &"1.1.1".parse().unwrap()));
        for bad in ["auth@one", "@1", "a b@1"] {
            match bad.parse::<Spec>() {
                Err(Error::Spec { spec, .. }) => assert_eq!(spec, bad),
                other => panic!("{bad}: expected Error::Spec, got {other:?}"),
            }
        }
    }

    #[test]
    fn the_newest_matching_version_wins() {
        let all = [
            available("auth", "1.1.0"),
            available("auth", "1.2.0"),
            available("auth", "2.0.0"),
            available("auth", "1.3.0-beta.1"),
            available("other", "1.9.0"),
        ];
        let pick = |spec: &str| {
            let spec: Spec = spec.parse().unwrap();
            all.iter()
                .fold(None, |best, a| {
                    if better(&spec, a, best) {
                        Some(a)
                    } else {
                        best
                    }
                })
                .map(|a| a.version.to_string())
        };
        assert_eq!(pick("auth@1").as_deref(), Some("1.2.0"));
        assert_eq!(pick("auth").as_deref(), Some("2.0.0"));
        assert_eq!(pick("auth@1.1").as_deref(), Some("1.2.0"));
        assert_eq!(pick("auth@~1.1").as_deref(), Some("1.1.0"));
        assert_eq!(pick("auth@1.3.0-beta.1").as_deref(), Some("1.3.0-beta.1"));
        assert_eq!(pick("auth@3"), None);
        assert_eq!(pick("missing"), None);
    }
}
