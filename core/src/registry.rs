//! Instantiate-once: the table of live plugins, keyed by content digest,
//! shared by both backends.
//!
//! Go's `plugin.Open` returns the already-loaded plugin when the same file
//! is opened again, and its `init` does not run twice; wasmplug does the
//! same, keyed by the bytes' SHA-256 (the same bytes through a symlink,
//! another path or a copy are the same plugin) and the plugin's Rust type
//! (one per contract). Entries are weak: dropping the last handle unloads
//! the plugin, and a later open loads it afresh.
//!
//! The table's lock is held only to look up, claim and publish entries,
//! never while a plugin compiles or runs its `init`: a slow or stuck load
//! delays only those opening that same plugin, who wait for it and then
//! share its result.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};

use crate::conflict::{Conflict, OnConflict};
use crate::digest::Digest;
use crate::origin::Origin;

/// A plugin's claim to a name and version, made once it is compiled and
/// before its `init` runs, so two contents claiming one name are caught
/// even while both are loading.
#[derive(Debug, Clone)]
pub struct Claim {
    /// The plugin's name.
    pub name: String,
    /// Its version.
    pub version: semver::Version,
    /// Where it came from.
    pub origin: Origin,
}

type Key = (Digest, TypeId, u64);

/// Which plugin an [`open`](Registry::open) asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// The SHA-256 of its bytes.
    pub digest: Digest,
    /// Tells apart live plugins of the same content opened with different
    /// settings (the caller's fingerprint of them); 0 when there is one
    /// kind only.
    pub variant: u64,
    /// What to do when another content claims the same name and version.
    pub on_conflict: OnConflict,
}

enum Slot {
    /// Being loaded by some thread; `claim` once it is compiled.
    Loading { claim: Option<Claim> },
    Live {
        plugin: Weak<dyn Any + Send + Sync>,
        claim: Claim,
    },
}

impl Slot {
    fn claim(&self) -> Option<&Claim> {
        match self {
            Slot::Loading { claim } => claim.as_ref(),
            Slot::Live { plugin, claim } => (plugin.strong_count() > 0).then_some(claim),
        }
    }
}

/// The table of live plugins: instantiate-once, keyed by the plugin's
/// content digest, its Rust type (one per contract) and a variant (the
/// caller's fingerprint of its settings). Entries are weak: dropping the
/// last handle unloads the plugin. The lock is held only to look up, claim
/// and publish entries, never while a plugin compiles or runs its `init`.
#[derive(Default)]
pub struct Registry {
    slots: Mutex<HashMap<Key, Slot>>,
    /// Signalled whenever a load finishes, well or not.
    settled: Condvar,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("live", &self.live())
            .finish_non_exhaustive()
    }
}

impl Registry {
    /// Returns the live plugin of type `T` with the request's digest and
    /// variant, or loads it. If the same content is live under another
    /// variant, `other_variant` decides: an error refuses the request,
    /// `None` loads this variant beside it. Loading is
    /// `compile` (once per content and variant, whatever number of threads
    /// asks at once), then `claim` (checked against every other live or loading
    /// plugin: the same name and version with another digest is `conflict`
    /// unless the request says to load alongside), then `start` (the
    /// plugin's `init`). A thread asking for a plugin another thread is
    /// loading waits for that load: it gets the plugin it made or, if that
    /// load failed, loads it itself.
    ///
    /// # Errors
    ///
    /// Whatever `compile` or `start` return, or `conflict`'s error.
    #[allow(
        clippy::too_many_arguments,
        reason = "each step of a load is the caller's"
    )]
    pub fn open<T, P, E>(
        &self,
        request: Request,
        other_variant: impl FnOnce(Arc<T>) -> Option<E>,
        compile: impl FnOnce() -> Result<P, E>,
        claim: impl FnOnce(&P) -> Claim,
        start: impl FnOnce(P) -> Result<Arc<T>, E>,
        conflict: impl FnOnce(Conflict) -> E,
    ) -> Result<Arc<T>, E>
    where
        T: Any + Send + Sync,
    {
        let Request {
            digest,
            variant,
            on_conflict,
        } = request;
        let key = (digest, TypeId::of::<T>(), variant);
        let mut other_variant = Some(other_variant);
        let mut slots = self.lock();
        loop {
            slots.retain(|_, slot| match slot {
                Slot::Live { plugin, .. } => plugin.strong_count() > 0,
                Slot::Loading { .. } => true,
            });
            match slots.get(&key) {
                Some(Slot::Live { plugin, .. }) => {
                    if let Some(live) = plugin.upgrade()
                        && let Ok(live) = live.downcast::<T>()
                    {
                        return Ok(live);
                    }
                    // Dropped since the retain: load afresh.
                }
                Some(Slot::Loading { .. }) => {
                    slots = self
                        .settled
                        .wait(slots)
                        .unwrap_or_else(PoisonError::into_inner);
                    continue;
                }
                None => {}
            }
            let sibling = slots.iter().find_map(|(k, slot)| match slot {
                Slot::Live { plugin, .. } if k.0 == digest && k.1 == key.1 && k.2 != variant => {
                    plugin.upgrade()?.downcast::<T>().ok()
                }
                _ => None,
            });
            // The caller decides once, without the lock (it may look at
            // the plugin); then the table is looked at again.
            if let Some(sibling) = sibling
                && let Some(decide) = other_variant.take()
            {
                drop(slots);
                if let Some(refused) = decide(sibling) {
                    return Err(refused);
                }
                slots = self.lock();
                continue;
            }
            break;
        }
        slots.insert(key, Slot::Loading { claim: None });
        drop(slots);
        // Until published, a failure (an error or a panic) withdraws the
        // slot and wakes whoever waits for it.
        let mut loading = Loading {
            registry: self,
            key,
            published: false,
        };

        let compiled = compile()?;
        let claimed = claim(&compiled);
        {
            let mut slots = self.lock();
            let clash = slots.iter().find_map(|((d, _, _), slot)| {
                let other = slot.claim()?;
                (*d != digest && other.name == claimed.name && other.version == claimed.version)
                    .then(|| (*d, other.origin.clone()))
            });
            if let Some((loaded, loaded_origin)) = clash
                && on_conflict == OnConflict::Refuse
            {
                return Err(conflict(Conflict {
                    name: claimed.name,
                    version: claimed.version,
                    loaded,
                    loaded_origin,
                    new: digest,
                    new_origin: claimed.origin,
                }));
            }
            slots.insert(
                key,
                Slot::Loading {
                    claim: Some(claimed.clone()),
                },
            );
        }

        let plugin = start(compiled)?;
        let weak: Weak<T> = Arc::downgrade(&plugin);
        self.lock().insert(
            key,
            Slot::Live {
                plugin: weak,
                claim: claimed,
            },
        );
        loading.published = true;
        self.settled.notify_all();
        Ok(plugin)
    }

    /// How many plugins are live.
    pub fn live(&self) -> usize {
        self.lock()
            .values()
            .filter(|slot| matches!(slot, Slot::Live { plugin, .. } if plugin.strong_count() > 0))
            .count()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Slot>> {
        // The table is consistent between statements: a panic elsewhere
        // while it was locked leaves nothing half-done.
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A load in progress; withdraws its slot unless published.
struct Loading<'r> {
    registry: &'r Registry,
    key: Key,
    published: bool,
}

impl Drop for Loading<'_> {
    fn drop(&mut self) {
        if !self.published {
            let mut slots = self.registry.lock();
            if matches!(slots.get(&self.key), Some(Slot::Loading { .. })) {
                slots.remove(&self.key);
            }
            drop(slots);
            self.registry.settled.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::{Barrier, mpsc};
    use std::time::Duration;

    fn claim(name: &str, version: &str) -> Claim {
        Claim {
            name: name.into(),
            version: version.parse().unwrap(),
            origin: Origin::Bytes(name.into()),
        }
    }

    fn request(bytes: &[u8]) -> Request {
        Request {
            digest: Digest::of(bytes),
            variant: 0,
            on_conflict: OnConflict::Refuse,
        }
    }

    fn open(
        registry: &Registry,
        bytes: &[u8],
        name: &str,
        version: &str,
    ) -> Result<Arc<String>, String> {
        registry.open(
            request(bytes),
            |_| None,
            || Ok::<_, String>(String::from_utf8_lossy(bytes).into_owned()),
            |_| claim(name, version),
            |p| Ok(Arc::new(p)),
            |c| c.to_string(),
        )
    }

    #[test]
    fn same_content_is_one_plugin_until_dropped() {
        let registry = Registry::default();
        let a = open(&registry, b"a", "p", "1.0.0").unwrap();
        let again = open(&registry, b"a", "p", "1.0.0").unwrap();
        assert!(Arc::ptr_eq(&a, &again));
        assert_eq!(registry.live(), 1);
        drop((a, again));
        assert_eq!(registry.live(), 0);
    }

    #[test]
    fn another_content_under_a_live_name_conflicts() {
        let registry = Registry::default();
        let _a = open(&registry, b"a", "p", "1.0.0").unwrap();
        let err = open(&registry, b"b", "p", "1.0.0").unwrap_err();
        assert!(err.contains("plugin p@1.0.0 is already loaded"), "{err}");
        assert!(open(&registry, b"c", "p", "1.0.1").is_ok());
    }

    #[test]
    fn another_variant_of_live_content_is_the_callers_choice() {
        let registry = Registry::default();
        let a = open(&registry, b"a", "p", "1.0.0").unwrap();
        let variant = Request {
            variant: 7,
            ..request(b"a")
        };
        let load = || Ok("a, variant 7".to_owned());
        let refused = registry.open(
            variant,
            |live: Arc<String>| Some(format!("live as {live}")),
            load,
            |_| claim("p", "1.0.0"),
            |p| Ok(Arc::new(p)),
            |c| c.to_string(),
        );
        assert_eq!(refused.unwrap_err(), "live as a");
        // Loaded beside it when the caller says so: same content and
        // name, no conflict.
        let beside = registry
            .open(
                variant,
                |_: Arc<String>| None,
                load,
                |_| claim("p", "1.0.0"),
                |p| Ok(Arc::new(p)),
                |c| c.to_string(),
            )
            .unwrap();
        assert_eq!(*beside, "a, variant 7");
        assert!(!Arc::ptr_eq(&a, &beside));
        assert_eq!(registry.live(), 2);
    }

    #[test]
    fn concurrent_opens_of_one_plugin_load_it_once() {
        let registry = Registry::default();
        let compiles = AtomicUsize::new(0);
        let barrier = Barrier::new(8);
        let plugins: Vec<Arc<String>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    s.spawn(|| {
                        barrier.wait();
                        registry
                            .open(
                                request(b"x"),
                                |_| None,
                                || {
                                    compiles.fetch_add(1, Ordering::SeqCst);
                                    std::thread::sleep(Duration::from_millis(20));
                                    Ok::<_, String>("x".to_owned())
                                },
                                |_| claim("x", "1.0.0"),
                                |p| Ok(Arc::new(p)),
                                |c| c.to_string(),
                            )
                            .unwrap()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(compiles.load(Ordering::SeqCst), 1);
        assert!(plugins.iter().all(|p| Arc::ptr_eq(p, &plugins[0])));
    }

    #[test]
    fn a_stuck_load_does_not_block_other_plugins() {
        let registry = &Registry::default();
        let (release, held) = mpsc::channel::<()>();
        let (started, is_started) = mpsc::channel::<()>();
        std::thread::scope(|s| {
            let slow = s.spawn(move || {
                registry.open(
                    request(b"slow"),
                    |_| None,
                    || Ok::<_, String>(()),
                    |_| claim("slow", "1.0.0"),
                    |()| {
                        started.send(()).unwrap();
                        held.recv().unwrap();
                        Ok(Arc::new("slow".to_owned()))
                    },
                    |c| c.to_string(),
                )
            });
            is_started.recv().unwrap();
            // While `slow` is inside its start, another plugin opens.
            assert_eq!(*open(registry, b"fast", "fast", "1.0.0").unwrap(), "fast");
            release.send(()).unwrap();
            assert_eq!(*slow.join().unwrap().unwrap(), "slow");
        });
    }

    #[test]
    fn a_failed_or_panicking_load_lets_the_next_one_try() {
        let registry = Registry::default();
        let failed: Result<Arc<String>, String> = registry.open(
            request(b"a"),
            |_| None,
            || Err("no".to_owned()),
            |_: &()| unreachable!(),
            |()| unreachable!(),
            |c| c.to_string(),
        );
        assert_eq!(failed.unwrap_err(), "no");
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _ = registry.open::<String, (), String>(
                request(b"a"),
                |_| None,
                || Ok(()),
                |_| claim("a", "1.0.0"),
                |()| panic!("init panicked"),
                |c| c.to_string(),
            );
        }));
        assert!(panicked.is_err());
        assert_eq!(*open(&registry, b"a", "a", "1.0.0").unwrap(), "a");
    }
}
