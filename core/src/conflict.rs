//! Two plugins claiming one name and version.

use std::fmt;

use crate::digest::Digest;
use crate::origin::Origin;

/// Two plugins with different content claiming the same name and version
/// (Go's `plugin.Open` panics the process on this). Both backends report it
/// with this.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Conflict {
    /// The plugin name both claim.
    pub name: String,
    /// The version both claim.
    pub version: semver::Version,
    /// Digest of the plugin that is loaded.
    pub loaded: Digest,
    /// Where the loaded plugin came from.
    pub loaded_origin: Origin,
    /// Digest of the plugin that was refused.
    pub new: Digest,
    /// Where the refused plugin came from.
    pub new_origin: Origin,
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "plugin {}@{} is already loaded from {} (sha256 {}); {} claims the same name and \
             version with different content (sha256 {}): give it a new version",
            self.name, self.version, self.loaded_origin, self.loaded, self.new_origin, self.new
        )
    }
}

/// What opening a plugin does when another live plugin has the same name
/// and version but different content.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum OnConflict {
    /// Refuse the new content with a [`Conflict`]; the loaded plugin keeps
    /// serving. The default.
    #[default]
    Refuse,
    /// Load the new content as a plugin of its own, alongside the loaded
    /// one: both serve, each with its own code and state, told apart by
    /// their digests.
    LoadAlongside,
}
