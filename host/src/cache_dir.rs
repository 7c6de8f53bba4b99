//! The precompiled cache as files, for listing and pruning it
//! ([`CacheDir`]): the runtime only adds entries, so a tool (or a cron
//! job) removes the old ones.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::cache;
use crate::runtime::Runtime;

/// A precompiled-cache directory: `<root>/<engine>/<key>.cwasm` (see
/// [`RuntimeBuilder::cache_dir`](crate::RuntimeBuilder::cache_dir)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheDir {
    root: PathBuf,
}

/// One file of the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheEntry {
    /// Where it is.
    pub path: PathBuf,
    /// The engine configuration it was compiled by (a hash of wasmtime's
    /// compatibility hash, the entry's directory name).
    pub engine: String,
    /// The hex SHA-256 of the component's wasm, or a snapshot's key.
    pub key: String,
    /// Whether it is a snapshot taken after `init`
    /// ([`PluginPre::snapshot`](crate::PluginPre::snapshot)).
    pub snapshot: bool,
    /// Its size in bytes.
    pub size: u64,
    /// When it was written.
    pub modified: SystemTime,
}

impl CacheDir {
    /// The cache a [`Runtime`] uses by default (the per-user cache
    /// directory, see [`RuntimeBuilder::cache_dir`](crate::RuntimeBuilder::cache_dir)),
    /// if the platform has one.
    pub fn default_location() -> Option<Self> {
        cache::default_root().map(Self::at)
    }

    /// The cache under `root`.
    pub fn at(root: impl Into<PathBuf>) -> Self {
        CacheDir { root: root.into() }
    }

    /// Its root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Every entry, by engine then key. A missing root is an empty cache.
    ///
    /// # Errors
    ///
    /// When a directory of the cache cannot be read.
    pub fn entries(&self) -> io::Result<Vec<CacheEntry>> {
        let mut out = Vec::new();
        let engines = match fs::read_dir(&self.root) {
            Ok(dir) => dir,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(with_path(&self.root, e)),
        };
        for engine in engines {
            let engine = engine.map_err(|e| with_path(&self.root, e))?;
            let name = engine.file_name().to_string_lossy().into_owned();
            if !engine.file_type().is_ok_and(|t| t.is_dir()) || !is_engine_key(&name) {
                continue;
            }
            let dir = engine.path();
            for file in fs::read_dir(&dir).map_err(|e| with_path(&dir, e))? {
                let file = file.map_err(|e| with_path(&dir, e))?;
                let file_name = file.file_name().to_string_lossy().into_owned();
                let Some(stem) = file_name.strip_suffix(".cwasm") else {
                    continue;
                };
                let (key, snapshot) = match stem.strip_suffix(".snapshot") {
                    Some(key) => (key, true),
                    None => (stem, false),
                };
                let Ok(meta) = file.metadata() else { continue };
                if !meta.is_file() {
                    continue;
                }
                out.push(CacheEntry {
                    path: file.path(),
                    engine: name.clone(),
                    key: key.to_owned(),
                    snapshot,
                    size: meta.len(),
                    modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                });
            }
        }
        out.sort_by(|a, b| (&a.engine, &a.key, a.snapshot).cmp(&(&b.engine, &b.key, b.snapshot)));
        Ok(out)
    }

    /// Removes the entries written more than `age` ago and returns them.
    ///
    /// # Errors
    ///
    /// When the cache cannot be read or an entry cannot be removed.
    pub fn prune(&self, age: Duration) -> io::Result<Vec<CacheEntry>> {
        let now = SystemTime::now();
        self.remove_where(|e| now.duration_since(e.modified).is_ok_and(|d| d > age))
    }

    /// Removes every entry and returns them. Only cache entries are
    /// removed: other files under the root stay.
    ///
    /// # Errors
    ///
    /// As [`prune`](Self::prune).
    pub fn clear(&self) -> io::Result<Vec<CacheEntry>> {
        self.remove_where(|_| true)
    }

    fn remove_where(&self, doomed: impl Fn(&CacheEntry) -> bool) -> io::Result<Vec<CacheEntry>> {
        let mut removed = Vec::new();
        for entry in self.entries()? {
            if doomed(&entry) {
                match fs::remove_file(&entry.path) {
                    Ok(()) => removed.push(entry),
                    // Removed meanwhile (another process pruning).
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(with_path(&entry.path, e)),
                }
            }
        }
        Ok(removed)
    }
}

impl Runtime {
    /// The name of this runtime's engine configuration in its cache (the
    /// [`CacheEntry::engine`] of the entries it writes and reads), if the
    /// cache is on.
    pub fn cache_engine(&self) -> Option<String> {
        let entry = self.cache_entry(b"")?;
        let dir = entry.parent()?.file_name()?;
        Some(dir.to_string_lossy().into_owned())
    }
}

/// Engine directories are 16 hex digits (see `cache.rs`).
fn is_engine_key(name: &str) -> bool {
    name.len() == 16 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

fn with_path(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_prunes_and_clears_only_entries() {
        let root = std::env::temp_dir().join(format!("wasmplug-cache-dir-{}", std::process::id()));
        let engine = root.join("0123456789abcdef");
        fs::create_dir_all(&engine).unwrap();
        fs::write(engine.join("aa.cwasm"), b"12345").unwrap();
        fs::write(engine.join("bb.snapshot.cwasm"), b"1").unwrap();
        fs::write(engine.join("notes.txt"), b"kept").unwrap();
        fs::create_dir_all(root.join("other")).unwrap();
        fs::write(root.join("other/cc.cwasm"), b"kept").unwrap();
        let cache = CacheDir::at(&root);
        let entries = cache.entries().unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!((entries[0].key.as_str(), entries[0].size), ("aa", 5));
        assert!(entries[1].snapshot);
        assert!(cache.prune(Duration::from_secs(3600)).unwrap().is_empty());
        assert_eq!(cache.clear().unwrap().len(), 2);
        assert!(engine.join("notes.txt").exists() && root.join("other/cc.cwasm").exists());
        fs::remove_dir_all(&root).unwrap();
    }
}
