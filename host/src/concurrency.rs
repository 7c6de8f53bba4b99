//! How a plugin serves concurrent callers: one shared instance, or a pool.

use std::time::Duration;

/// How a plugin serves concurrent callers. See [`Loader::concurrency`](crate::Loader::concurrency).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Concurrency {
    /// One instance; calls take turns (Go's model: one plugin state, seen
    /// by every call). The default.
    #[default]
    Shared,
    /// Each call on an instance of its own from a pool (see [`PoolConfig`]):
    /// calls run in parallel; state is per instance.
    Pooled(PoolConfig),
}

/// The size of a plugin's pool, and how long a caller waits for a free
/// instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PoolConfig {
    pub(crate) size: usize,
    pub(crate) wait: Duration,
    pub(crate) from_snapshot: bool,
}

impl PoolConfig {
    /// A pool of at most `size` instances (at least 1), made as callers
    /// need them. A caller finding all of them busy waits up to 1 s (see
    /// [`wait`](Self::wait)). Each instance counts against the runtime's
    /// [`max_instances`](crate::RuntimeBuilder::max_instances).
    pub fn new(size: usize) -> Self {
        PoolConfig {
            size: size.max(1),
            wait: Duration::from_secs(1),
            from_snapshot: true,
        }
    }

    /// How long a caller waits for a free instance before
    /// [`Error::PoolExhausted`](crate::Error::PoolExhausted). Default: 1 s.
    #[must_use]
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// Whether the pool's instances start from one snapshot taken after the
    /// plugin's `init` ran once ([`PluginPre::snapshot`](crate::PluginPre::snapshot)):
    /// `init` then runs once for the whole pool, as Go's promise has it,
    /// and a new instance costs a copy-on-write mapping instead of an
    /// `init`. A plugin that cannot be snapshotted (its `init` leaves host
    /// resources open) then fails to open with
    /// [`Error::Snapshot`](crate::Error::Snapshot); with `false`, each
    /// instance runs `init` itself instead. On the async path the
    /// snapshot's `init` runs synchronously when the plugin opens, with
    /// WASI and `log` but not the contract's own (async) imports, which
    /// trap there ([`Error::Snapshot`](crate::Error::Snapshot) says so): a
    /// plugin whose `init` needs them is pooled with `false`.
    ///
    /// Default: `true`.
    #[must_use]
    pub fn from_snapshot(mut self, enable: bool) -> Self {
        self.from_snapshot = enable;
        self
    }

    /// The most instances the pool holds.
    pub fn size(&self) -> usize {
        self.size
    }
}
