//! The precompiled-component cache.
//!
//! Compiling a component takes tens of milliseconds (seconds for a large
//! guest such as a Python one); loading wasmtime's precompiled form of it
//! takes well under one. Entries live in
//! `<root>/<engine>/<sha256 of the wasm>.cwasm`, where `<engine>` hashes
//! [`Engine::precompile_compatibility_hash`] so that engines with other
//! settings or another wasmtime never share an entry.
//!
//! Deserialising precompiled code is `unsafe`: wasmtime trusts it to be its
//! own output. So the cache trusts nothing it reads: the root directory must
//! not be writable by other users (it is created `0700`), entries are
//! written `0600` and atomically (temporary file, then rename), and each
//! entry records the SHA-256 of the wasm it was compiled from and a
//! checksum of its payload (XXH3-128), both checked before deserialising.
//! A corrupt, truncated or foreign entry is discarded and rebuilt, and
//! counted in [`CacheStats::discarded`]. The checksum is there for damage
//! (a disk error, a truncated copy), not for an attacker, who could
//! rewrite it as easily as the payload: the directory's permissions keep
//! others out. So it is a fast non-cryptographic hash, about twenty times
//! faster than SHA-256 on the payload, which was half of a cached load.
//!
//! Snapshots of initialised plugins ([`PluginPre::snapshot`](crate::PluginPre::snapshot))
//! are kept beside them, compiled, as `<root>/<engine>/<key>.snapshot.cwasm`,
//! in the same layout with the snapshot's key (see `snapshot.rs`: the
//! wasm's digest, the configuration `init` got and what else `init` could
//! see) where a component's entry records its wasm's digest.

#![allow(
    unsafe_code,
    reason = "deserialising precompiled code; see `Cache::component`"
)]

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::Engine;
use wasmtime::component::Component;
use xxhash_rust::xxh3::xxh3_128;

use wasmplug_core::Digest;

const MAGIC: &[u8; 8] = b"WPLGCWSM";
/// Bumped when the entry layout changes (2: the payload's checksum is
/// XXH3-128, it was SHA-256).
const FORMAT: u32 = 2;
/// Magic, format, SHA-256 of the source wasm, XXH3-128 of the artifact.
const HEADER: usize = 8 + 4 + 32 + 16;

/// How often the cache served, missed and threw away entries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Loads served from a valid entry.
    pub hits: u64,
    /// Loads that compiled (and wrote an entry).
    pub misses: u64,
    /// Entries found corrupt, truncated or foreign, deleted and rebuilt.
    pub discarded: u64,
    /// Snapshots after `init` loaded from a valid entry (`init` did not
    /// run).
    pub snapshot_hits: u64,
    /// Snapshots that were made (`init` ran once) and stored.
    pub snapshot_misses: u64,
}

/// A directory of precompiled components for one engine configuration.
#[derive(Debug)]
pub(crate) struct Cache {
    dir: PathBuf,
    hits: AtomicU64,
    misses: AtomicU64,
    discarded: AtomicU64,
    snapshot_hits: AtomicU64,
    snapshot_misses: AtomicU64,
}

/// The platform's per-user cache directory for wasmplug, if there is one:
/// `$XDG_CACHE_HOME/wasmplug`, else `~/Library/Caches/wasmplug` on macOS,
/// `~/.cache/wasmplug` elsewhere.
pub(crate) fn default_root() -> Option<PathBuf> {
    if let Some(xdg) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return Some(PathBuf::from(xdg).join("wasmplug"));
    }
    let home = std::env::home_dir()?;
    if cfg!(target_os = "macos") {
        Some(home.join("Library/Caches/wasmplug"))
    } else {
        Some(home.join(".cache/wasmplug"))
    }
}

impl Cache {
    /// Opens (creating it if needed) the cache under `root` for `engine`.
    pub(crate) fn open(root: &Path, engine: &Engine) -> io::Result<Self> {
        create_private_dir(root)?;
        check_private(root)?;
        let dir = root.join(engine_key(engine));
        create_private_dir(&dir)?;
        Ok(Cache {
            dir,
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            discarded: AtomicU64::new(0),
            snapshot_hits: AtomicU64::new(0),
            snapshot_misses: AtomicU64::new(0),
        })
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            discarded: self.discarded.load(Ordering::Relaxed),
            snapshot_hits: self.snapshot_hits.load(Ordering::Relaxed),
            snapshot_misses: self.snapshot_misses.load(Ordering::Relaxed),
        }
    }

    /// The entry for the wasm with this digest.
    pub(crate) fn entry_path(&self, digest: Digest) -> PathBuf {
        self.dir.join(format!("{}.cwasm", digest.to_hex()))
    }

    /// The component for `wasm` (whose SHA-256 is `digest`): from a valid
    /// entry, or compiled and stored.
    ///
    /// # Errors
    ///
    /// Only compilation errors: cache I/O problems fall back to compiling.
    pub(crate) fn component(
        &self,
        engine: &Engine,
        wasm: &[u8],
        digest: Digest,
    ) -> wasmtime::Result<Component> {
        let path = self.entry_path(digest);
        if let Some(component) = self.load(engine, &path, digest) {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(component);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let component = Component::new(engine, wasm)?;
        match component.serialize() {
            Ok(artifact) => {
                if let Err(e) = store(&path, digest, &artifact) {
                    tracing::warn!(target: "wasmplug", path = %path.display(), "cannot write cache entry: {e}");
                }
            }
            Err(e) => {
                tracing::warn!(target: "wasmplug", "cannot serialise a compiled component: {e}")
            }
        }
        Ok(component)
    }

    /// The component in the valid entry at `path` recorded for `key`, if
    /// there is one; an invalid entry is discarded.
    fn load(&self, engine: &Engine, path: &Path, key: Digest) -> Option<Component> {
        match fs::read(path) {
            Ok(entry) => match payload(&entry, key) {
                Some(artifact) => {
                    // SAFETY: `artifact` is exactly what `Component::serialize`
                    // produced for this engine configuration: the entry sits
                    // in a directory only this user can write, was written
                    // whole by `store` (temporary file, then rename), and its
                    // checksum matches the one recorded beside it, so it was
                    // neither truncated nor damaged since. The engine
                    // compatibility hash in the path, and wasmtime's own
                    // header check, rule out another configuration's code.
                    match unsafe { Component::deserialize(engine, artifact) } {
                        Ok(component) => return Some(component),
                        Err(e) => self.discard(path, &format!("wasmtime refused it: {e}")),
                    }
                }
                None => self.discard(path, "bad header or checksum"),
            },
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(target: "wasmplug", path = %path.display(), "cannot read cache entry: {e}")
            }
        }
        None
    }

    /// The entry for the snapshot with this key.
    pub(crate) fn snapshot_path(&self, key: Digest) -> PathBuf {
        self.dir.join(format!("{}.snapshot.cwasm", key.to_hex()))
    }

    /// The compiled snapshot with this key, from a valid entry.
    pub(crate) fn load_snapshot(&self, engine: &Engine, key: Digest) -> Option<Component> {
        let component = self.load(engine, &self.snapshot_path(key), key)?;
        self.snapshot_hits.fetch_add(1, Ordering::Relaxed);
        Some(component)
    }

    /// Stores a snapshot just made and compiled. I/O problems are logged:
    /// the next snapshot is made again.
    pub(crate) fn store_snapshot(&self, key: Digest, component: &Component) {
        self.snapshot_misses.fetch_add(1, Ordering::Relaxed);
        let path = self.snapshot_path(key);
        match component.serialize() {
            Ok(artifact) => {
                if let Err(e) = store(&path, key, &artifact) {
                    tracing::warn!(target: "wasmplug", path = %path.display(), "cannot write cache entry: {e}");
                }
            }
            Err(e) => {
                tracing::warn!(target: "wasmplug", "cannot serialise a compiled snapshot: {e}")
            }
        }
    }

    fn discard(&self, path: &Path, why: &str) {
        self.discarded.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(target: "wasmplug", path = %path.display(), "discarding cache entry: {why}");
        let _ = fs::remove_file(path);
    }
}

/// The artifact inside a well-formed entry for the wasm with `digest`,
/// whose checksum matches.
fn payload(entry: &[u8], digest: Digest) -> Option<&[u8]> {
    if entry.len() < HEADER || &entry[..8] != MAGIC || entry[8..12] != FORMAT.to_le_bytes() {
        return None;
    }
    let (source, rest) = entry[12..].split_at(32);
    let (sum, artifact) = rest.split_at(16);
    (source == digest.as_bytes() && checksum(artifact) == sum).then_some(artifact)
}

/// The payload's checksum, as the entry records it.
fn checksum(artifact: &[u8]) -> [u8; 16] {
    xxh3_128(artifact).to_le_bytes()
}

/// Writes an entry atomically, readable and writable by this user only.
fn store(path: &Path, digest: Digest, artifact: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".tmp-{}-{:x}", std::process::id(), rand_suffix()));
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let written = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(MAGIC)?;
        file.write_all(&FORMAT.to_le_bytes())?;
        file.write_all(digest.as_bytes())?;
        file.write_all(&checksum(artifact))?;
        file.write_all(artifact)?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    written
}

fn rand_suffix() -> u64 {
    use std::collections::hash_map::RandomState;
    use std::hash::BuildHasher;
    RandomState::new().hash_one(std::time::SystemTime::now())
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)
}

/// Refuses a cache root that other users could write into.
fn check_private(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir)?.permissions().mode();
        if mode & 0o022 != 0 {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                format!(
                    "{} is writable by other users (mode {:o})",
                    dir.display(),
                    mode & 0o777
                ),
            ));
        }
    }
    Ok(())
}

/// A stable name for the engine's compatibility hash.
fn engine_key(engine: &Engine) -> String {
    use sha2::{Digest as _, Sha256};
    struct Sha(Sha256);
    impl Hasher for Sha {
        fn finish(&self) -> u64 {
            0
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
    }
    let mut hasher = Sha(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut hasher);
    let sum = hasher.0.finalize();
    sum[..8].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_checks_header_and_checksum() {
        let artifact = b"compiled code";
        let source = Digest::of(b"the wasm");
        let mut entry = MAGIC.to_vec();
        entry.extend_from_slice(&FORMAT.to_le_bytes());
        entry.extend_from_slice(source.as_bytes());
        entry.extend_from_slice(&checksum(artifact));
        entry.extend_from_slice(artifact);
        assert_eq!(payload(&entry, source), Some(&artifact[..]));
        assert_eq!(payload(&entry, Digest::of(b"other wasm")), None);

        let mut flipped = entry.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(payload(&flipped, source), None);
        assert_eq!(payload(&entry[..entry.len() - 1], source), None);
        assert_eq!(payload(&entry[..HEADER - 1], source), None);
        let mut foreign = entry.clone();
        foreign[..8].copy_from_slice(b"NOTOURS!");
        assert_eq!(payload(&foreign, source), None);
    }
}
