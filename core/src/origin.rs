//! Where a plugin's bytes came from.

use std::fmt;
use std::path::PathBuf;

/// Where a plugin's bytes came from, for error messages and logs.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Origin {
    /// A file, by the path it was opened with (canonicalised when possible).
    File(PathBuf),
    /// Bytes handed over in memory, with the label the embedder gave them.
    Bytes(String),
}

impl Origin {
    /// A short name for logs until the plugin's metadata is known: the
    /// file's stem, or the label.
    pub fn short_name(&self) -> String {
        match self {
            Origin::File(path) => path.file_stem().map_or_else(
                || path.display().to_string(),
                |s| s.to_string_lossy().into_owned(),
            ),
            Origin::Bytes(label) => label.clone(),
        }
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::Bytes(label) => write!(f, "<bytes: {label}>"),
        }
    }
}
