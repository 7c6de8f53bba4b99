//! Pooled plugins: one plugin serving many concurrent callers, each call on
//! an instance of its own, taken from a bounded pool and given back after
//! the call (chosen with [`Concurrency::Pooled`](crate::Concurrency::Pooled)).
//!
//! What it means for plugin state: every instance has its own memory, so
//! state a call leaves behind is seen only by later calls that happen to get
//! the same instance. Plugins that keep state across calls (a counter, a
//! cache that must be coherent) want [`Concurrency::Shared`](crate::Concurrency::Shared); stateless
//! request handlers (filters, transforms) want a pool.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use crate::concurrency::PoolConfig;
use crate::contract::Contract;
use crate::error::{Error, Result};
use crate::instance::PluginInstance;
use crate::pre::PluginPre;

/// A bounded pool of initialised instances of one plugin.
pub(crate) struct Pool<C: Contract> {
    config: PoolConfig,
    state: Mutex<State<C>>,
    /// Signalled when an instance is given back or its slot freed.
    freed: Condvar,
}

struct State<C: Contract> {
    /// What instances are made from: the plugin, or its snapshot after
    /// `init`.
    source: PluginPre<C>,
    idle: Vec<PluginInstance<C>>,
    /// Instances alive, idle or lent: never more than the pool's size.
    alive: usize,
    /// What each instance's `init` gets; bumped by reconfiguring.
    settings: Arc<[(String, String)]>,
    generation: u64,
    /// Callers waiting on `freed`: giving an instance back wakes one only
    /// when there is one (a wake-up is a system call, with or without a
    /// waiter).
    waiting: usize,
}

/// An instance lent to one call; given back (or discarded, if it faulted or
/// the plugin was reconfigured meanwhile) when dropped.
pub(crate) struct Lease<'p, C: Contract> {
    pool: &'p Pool<C>,
    instance: Option<PluginInstance<C>>,
    generation: u64,
}

impl<C: Contract> Pool<C> {
    /// A pool holding `first` (initialised with `settings`), making more
    /// from `source`.
    pub(crate) fn new(
        config: PoolConfig,
        first: PluginInstance<C>,
        settings: Arc<[(String, String)]>,
        source: PluginPre<C>,
    ) -> Self {
        Pool {
            config,
            state: Mutex::new(State {
                source,
                idle: vec![first],
                alive: 1,
                settings,
                generation: 0,
                waiting: 0,
            }),
            freed: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<C>> {
        // Nothing runs guest code under this lock: its state is consistent.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lends an idle instance, makes a new one if the pool is not full, or
    /// waits for one to be given back.
    ///
    /// # Errors
    ///
    /// [`Error::PoolExhausted`] when none frees up within the pool's wait;
    /// what making an instance fails with ([`Error::Init`], …).
    pub(crate) fn checkout(&self, label: &str) -> Result<Lease<'_, C>> {
        let deadline = Instant::now() + self.config.wait;
        let mut state = self.lock();
        loop {
            if let Some(instance) = state.idle.pop() {
                return Ok(Lease {
                    pool: self,
                    instance: Some(instance),
                    generation: state.generation,
                });
            }
            if state.alive < self.config.size {
                state.alive += 1;
                let (settings, generation) = (Arc::clone(&state.settings), state.generation);
                let source = state.source.clone();
                drop(state);
                // Made outside the lock (`init` may run): other callers go on.
                return match source.instantiate_with(&settings) {
                    Ok(instance) => Ok(Lease {
                        pool: self,
                        instance: Some(instance),
                        generation,
                    }),
                    Err(e) => {
                        let mut state = self.lock();
                        state.alive -= 1;
                        self.wake_one(state);
                        Err(e)
                    }
                };
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Error::PoolExhausted {
                    plugin: label.to_owned(),
                    size: self.config.size,
                    waited: self.config.wait,
                });
            }
            state.waiting += 1;
            state = self
                .freed
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            state.waiting -= 1;
        }
    }

    /// Releases `state` and wakes one waiting caller, if any.
    fn wake_one(&self, state: MutexGuard<'_, State<C>>) {
        let wake = state.waiting > 0;
        drop(state);
        if wake {
            self.freed.notify_one();
        }
    }

    /// Makes later instances start with `settings`, with `fresh` (already
    /// initialised with them) as the first; instances made with the old
    /// settings are discarded, idle ones now and lent ones when given back.
    pub(crate) fn reconfigure(
        &self,
        settings: Arc<[(String, String)]>,
        fresh: PluginInstance<C>,
        source: PluginPre<C>,
    ) {
        let replaced = {
            let mut state = self.lock();
            state.generation += 1;
            state.settings = settings;
            state.source = source;
            let replaced = std::mem::take(&mut state.idle);
            state.alive = state.alive - replaced.len() + 1;
            state.idle.push(fresh);
            replaced
        };
        self.freed.notify_all();
        // Outside the lock: their `shutdown`s.
        drop(replaced);
    }

    /// Runs `f` on every idle instance (for `flush`).
    pub(crate) fn for_each_idle<T>(
        &self,
        mut f: impl FnMut(&mut PluginInstance<C>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut state = self.lock();
        state.idle.iter_mut().map(&mut f).collect()
    }

    /// How many instances are alive (idle or lent) and idle.
    pub(crate) fn counts(&self) -> (usize, usize) {
        let state = self.lock();
        (state.alive, state.idle.len())
    }
}

impl<C: Contract> Lease<'_, C> {
    pub(crate) fn instance(&mut self) -> &mut PluginInstance<C> {
        self.instance
            .as_mut()
            .expect("a lease holds its instance until dropped")
    }
}

impl<C: Contract> Drop for Lease<'_, C> {
    fn drop(&mut self) {
        let Some(instance) = self.instance.take() else {
            return;
        };
        let mut state = self.pool.lock();
        if instance.poisoned || self.generation != state.generation || std::thread::panicking() {
            // A faulted instance is never reused, nor one a panic left
            // mid-call; one from before a reconfigure has the old settings.
            state.alive -= 1;
            self.pool.wake_one(state);
            drop(instance);
        } else {
            state.idle.push(instance);
            self.pool.wake_one(state);
        }
    }
}
