//! A pooled plugin on the async path: a permit per instance it may have,
//! its idle instances, and what it makes new ones from.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError};

use tokio::sync::SemaphorePermit;

use crate::async_instance::{AsyncInstance, Maker, shut_down};
use crate::concurrency::PoolConfig;
use crate::contract::Contract;
use crate::error::{Error, Result};
use crate::limits::Limit;
use crate::pre::PluginPre;
use crate::snapshot::Phase;

pub(crate) struct AsyncPool<C: Contract> {
    pub(crate) config: PoolConfig,
    /// Makes the pool's instances: from the snapshot taken after `init`
    /// ran once, or (without [`PoolConfig::from_snapshot`]) from the plugin,
    /// each running `init`. Made when the plugin opens (under the open's
    /// deadline; a later call retries if that failed) and anew by
    /// `reconfigure`.
    maker: tokio::sync::Mutex<Option<Arc<Maker<C>>>>,
    idle: std::sync::Mutex<Vec<AsyncInstance<C>>>,
    permits: tokio::sync::Semaphore,
}

impl<C: Contract> AsyncPool<C> {
    pub(crate) fn new(config: PoolConfig) -> Self {
        AsyncPool {
            config,
            maker: tokio::sync::Mutex::new(None),
            idle: std::sync::Mutex::new(Vec::new()),
            permits: tokio::sync::Semaphore::new(config.size),
        }
    }

    /// A permit for one of the pool's instances, waited for at most the
    /// pool's wait.
    pub(crate) async fn permit(&self, plugin: &str) -> Result<SemaphorePermit<'_>> {
        // A free place needs no timer (making one reads the clock and the
        // runtime's handle).
        if let Ok(permit) = self.permits.try_acquire() {
            return Ok(permit);
        }
        match tokio::time::timeout(self.config.wait, self.permits.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            // The semaphore is never closed; a timeout is the pool's wait.
            Ok(Err(_)) | Err(_) => Err(Error::PoolExhausted {
                plugin: plugin.to_owned(),
                size: self.config.size,
                waited: self.config.wait,
            }),
        }
    }

    /// An idle instance of configuration generation `current`, if any.
    pub(crate) fn take_idle(&self, current: u64) -> Option<AsyncInstance<C>> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        while let Some(instance) = idle.pop() {
            if instance.reusable(current) {
                return Some(instance);
            }
        }
        None
    }

    /// Every idle instance, taken out of the pool (for `flush`; each is
    /// given back after).
    pub(crate) fn take_all_idle(&self) -> Vec<AsyncInstance<C>> {
        std::mem::take(&mut *self.idle.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Takes `instance` back after a call that returned normally: kept
    /// while it belongs to generation `current`, else its `shutdown` runs.
    pub(crate) fn give_back(&self, pre: &PluginPre<C>, instance: AsyncInstance<C>, current: u64) {
        if instance.reusable(current) {
            self.idle
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(instance);
        } else {
            shut_down(pre, vec![instance]);
        }
    }

    /// Instances alive (idle or running a call) and idle.
    pub(crate) fn counts(&self) -> (usize, usize) {
        let idle = self
            .idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        let running = self.config.size - self.permits.available_permits();
        (idle + running, idle)
    }

    /// What the pool makes its instances from, made the first time for
    /// `config` (see [`make`](Self::make)).
    pub(crate) async fn maker(
        &self,
        pre: &PluginPre<C>,
        config: &Arc<[(String, String)]>,
    ) -> Result<Arc<Maker<C>>> {
        let mut maker = self.maker.lock().await;
        if let Some(maker) = &*maker {
            return Ok(Arc::clone(maker));
        }
        let made = Arc::new(self.make(pre, config).await?);
        *maker = Some(Arc::clone(&made));
        Ok(made)
    }

    /// A maker for `config`: with [`PoolConfig::from_snapshot`], the
    /// snapshot taken after `init(config)` (or loaded from the cache).
    ///
    /// Making it runs on tokio's blocking pool, synchronously. The
    /// plugin's deadline covers its `init`, not the compiling around it:
    /// past the deadline this returns [`Error::LimitExceeded`] even while
    /// that `init` is blocked in a host call (the thread then finishes it,
    /// and the snapshot is abandoned, not cached).
    pub(crate) async fn make(
        &self,
        pre: &PluginPre<C>,
        config: &Arc<[(String, String)]>,
    ) -> Result<Maker<C>> {
        if !self.config.from_snapshot {
            return Maker::of(pre.clone());
        }
        let (of, config) = (pre.clone(), Arc::clone(config));
        let (started_tx, started) = tokio::sync::oneshot::channel();
        let (ended_tx, ended) = tokio::sync::oneshot::channel();
        let abandoned = Arc::new(AtomicBool::new(false));
        let abandon = Arc::clone(&abandoned);
        let (mut started_tx, mut ended_tx) = (Some(started_tx), Some(ended_tx));
        let making = tokio::task::spawn_blocking(move || {
            of.snapshot_observed(&config, &mut move |phase| {
                match phase {
                    Phase::Init => started_tx.take().map(|tx| tx.send(())),
                    Phase::Rest => ended_tx.take().map(|tx| tx.send(())),
                };
                !abandon.load(Ordering::SeqCst)
            })
        });
        // Not told when the snapshot comes from the cache, or failed first.
        if let (Some(deadline), Ok(())) = (pre.sandbox().deadline(), started.await)
            && tokio::time::timeout(deadline, ended).await.is_err()
        {
            abandoned.store(true, Ordering::SeqCst);
            return Err(Error::LimitExceeded {
                plugin: pre.label().to_string(),
                export: "`init`".into(),
                limit: Limit::Deadline(deadline),
            });
        }
        let snapshot = making.await.map_err(|e| Error::Snapshot {
            plugin: pre.label().to_string(),
            reason: format!("the thread making it failed: {e}"),
        })??;
        Maker::of(snapshot)
    }

    /// Makes `maker` the pool's, with `first` as its only idle instance;
    /// the idle instances it replaces run their `shutdown`.
    pub(crate) async fn replace(
        &self,
        pre: &PluginPre<C>,
        maker: Maker<C>,
        first: AsyncInstance<C>,
    ) {
        *self.maker.lock().await = Some(Arc::new(maker));
        let replaced = std::mem::replace(
            &mut *self.idle.lock().unwrap_or_else(PoisonError::into_inner),
            vec![first],
        );
        shut_down(pre, replaced);
    }

    /// Every idle instance, taken out (when the plugin is dropped).
    pub(crate) fn drain(&mut self) -> Vec<AsyncInstance<C>> {
        std::mem::take(self.idle.get_mut().unwrap_or_else(PoisonError::into_inner))
    }

    /// Puts `first` among the idle instances.
    pub(crate) fn add_idle(&self, first: AsyncInstance<C>) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(first);
    }
}
