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
        }
    }

    /// How long a caller waits for a free instance before
    /// [`Error::PoolExhausted`](crate::Error::PoolExhausted). Default: 1 s.
    #[must_use]
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// The most instances the pool holds.
    pub fn size(&self) -> usize {
        self.size
    }
}
