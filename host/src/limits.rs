//! Per-plugin resource limits: linear memory, table elements, a per-call
//! deadline (epoch interruption) and per-call fuel.
//!
//! Every limit is off by default. Memory and table limits cost nothing until
//! a memory or table grows. Deadlines and fuel need engine support that makes
//! all guest code slower (the main job's runtime configuration table
//! measures by how much), so they are switched on per runtime with
//! [`RuntimeBuilder::epoch_interruption`](crate::RuntimeBuilder::epoch_interruption)
//! and [`RuntimeBuilder::fuel`](crate::RuntimeBuilder::fuel) and then set per
//! plugin here.

use std::fmt;
use std::time::Duration;

use wasmtime::ResourceLimiter;

/// The limits of one plugin's instances. Each applies to every instance of
/// the plugin separately; the deadline and fuel to every call separately.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Limits {
    max_memory: Option<usize>,
    max_table_elements: Option<usize>,
    max_instances: Option<usize>,
    deadline: Option<Duration>,
    fuel: Option<u64>,
    max_transfer: Option<usize>,
}

/// How many bytes one call may copy from a guest to the host unless
/// [`Limits::max_transfer`] says otherwise: wasmtime's own default.
pub const DEFAULT_MAX_TRANSFER: usize = 128 << 20;

impl Limits {
    /// No limits.
    pub fn new() -> Self {
        Limits::default()
    }

    /// Caps each linear memory of an instance at `bytes`. A guest growing
    /// past it traps with [`Limit::Memory`].
    pub fn max_memory(mut self, bytes: usize) -> Self {
        self.max_memory = Some(bytes);
        self
    }

    /// Caps each table of an instance at `elements`.
    pub fn max_table_elements(mut self, elements: usize) -> Self {
        self.max_table_elements = Some(elements);
        self
    }

    /// Caps how many core instances, and as many memories and tables, one
    /// instance of the plugin may create (a component is made of several
    /// core instances; a Rust plugin uses a handful). Exceeding it fails
    /// instantiation.
    pub fn max_instances(mut self, count: usize) -> Self {
        self.max_instances = Some(count);
        self
    }

    /// Interrupts a call (including `init`) still running after `deadline`,
    /// with [`Limit::Deadline`]. Needs a runtime built with
    /// [`epoch_interruption`](crate::RuntimeBuilder::epoch_interruption);
    /// the precision is its tick.
    ///
    /// On the sync path ([`Plugin`](crate::Plugin)) epoch interruption stops
    /// guest code only: a guest blocked inside a host call (a WASI sleep or
    /// poll, a slow host import) is stopped when that call returns. On the
    /// async path ([`AsyncPlugin`](crate::AsyncPlugin)) the deadline holds
    /// whatever the guest does: the call's future is cancelled at the
    /// deadline, and the deadline also covers waiting for the instance.
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// Gives each call `units` of fuel (about one per Wasm instruction);
    /// running out traps with [`Limit::Fuel`]. Needs a runtime built with
    /// [`fuel`](crate::RuntimeBuilder::fuel).
    pub fn fuel(mut self, units: u64) -> Self {
        self.fuel = Some(units);
        self
    }

    /// Caps how many bytes one call may copy out of the guest: the
    /// strings and lists a guest returns from an export or passes to a host
    /// import, counted per call (wasmtime's "hostcall fuel"). A call over it
    /// fails with [`Limit::Transfer`]. It bounds what a plugin can make the
    /// host allocate; raise it for plugins that legitimately return more.
    ///
    /// Default: [`DEFAULT_MAX_TRANSFER`] (128 MiB).
    pub fn max_transfer(mut self, bytes: usize) -> Self {
        self.max_transfer = Some(bytes);
        self
    }

    pub(crate) fn get_max_transfer(&self) -> Option<usize> {
        self.max_transfer
    }

    pub(crate) fn get_deadline(&self) -> Option<Duration> {
        self.deadline
    }

    pub(crate) fn get_max_instances(&self) -> Option<usize> {
        self.max_instances
    }

    pub(crate) fn get_fuel(&self) -> Option<u64> {
        self.fuel
    }
}

/// The limits that are set, e.g. `deadline 20ms, max memory 67108864 bytes`,
/// or `none`.
impl fmt::Display for Limits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut set = Vec::new();
        if let Some(bytes) = self.max_memory {
            set.push(format!("max memory {bytes} bytes"));
        }
        if let Some(n) = self.max_table_elements {
            set.push(format!("max table elements {n}"));
        }
        if let Some(n) = self.max_instances {
            set.push(format!("max instances {n}"));
        }
        if let Some(d) = self.deadline {
            set.push(format!("deadline {d:?}"));
        }
        if let Some(units) = self.fuel {
            set.push(format!("fuel {units}"));
        }
        if let Some(bytes) = self.max_transfer {
            set.push(format!("max transfer {bytes} bytes"));
        }
        if set.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&set.join(", "))
        }
    }
}

/// A limit a plugin ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// A linear memory would have grown past `max` bytes.
    Memory {
        /// The configured maximum.
        max: usize,
        /// The size the guest asked for.
        requested: usize,
    },
    /// A table would have grown past `max` elements.
    TableElements {
        /// The configured maximum.
        max: usize,
    },
    /// Instantiation would have created more core instances, memories or
    /// tables than `max`.
    Instances {
        /// The configured maximum.
        max: usize,
    },
    /// The call ran past its deadline.
    Deadline(Duration),
    /// The call used up its fuel.
    Fuel(u64),
    /// The call tried to copy more than `max` bytes out of the guest (see
    /// [`Limits::max_transfer`]).
    Transfer {
        /// The configured (or default) maximum.
        max: usize,
    },
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Memory { max, requested } => {
                write!(f, "memory limit of {max} bytes (it asked for {requested})")
            }
            Limit::TableElements { max } => write!(f, "table limit of {max} elements"),
            Limit::Transfer { max } => write!(
                f,
                "transfer limit of {max} bytes copied out of the guest in one call \
                 (`Limits::max_transfer`)"
            ),
            Limit::Instances { max } => {
                write!(f, "limit of {max} core instances, memories or tables")
            }
            Limit::Deadline(d) => write!(f, "deadline of {d:?} per call"),
            Limit::Fuel(units) => write!(f, "fuel limit of {units} units per call"),
        }
    }
}

/// Carried through wasmtime as the trap's error, to be recognised again.
#[derive(Debug)]
pub(crate) struct Exceeded(pub(crate) Limit);

impl fmt::Display for Exceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exceeded its {}", self.0)
    }
}

impl std::error::Error for Exceeded {}

/// The store's resource limiter, enforcing [`Limits`].
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    max_memory: Option<usize>,
    max_table_elements: Option<usize>,
    max_instances: Option<usize>,
}

impl Limiter {
    pub(crate) fn new(limits: &Limits) -> Self {
        Limiter {
            max_memory: limits.max_memory,
            max_table_elements: limits.max_table_elements,
            max_instances: limits.max_instances,
        }
    }

    pub(crate) fn is_active(&self) -> bool {
        self.max_memory.is_some()
            || self.max_table_elements.is_some()
            || self.max_instances.is_some()
    }

    /// wasmtime's own default for the counts.
    const DEFAULT_COUNT: usize = 10_000;
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        match self.max_memory {
            Some(max) if desired > max => Err(wasmtime::Error::new(Exceeded(Limit::Memory {
                max,
                requested: desired,
            }))),
            _ => Ok(true),
        }
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        match self.max_table_elements {
            Some(max) if desired > max => {
                Err(wasmtime::Error::new(Exceeded(Limit::TableElements { max })))
            }
            _ => Ok(true),
        }
    }

    fn instances(&self) -> usize {
        self.max_instances.unwrap_or(Self::DEFAULT_COUNT)
    }

    fn memories(&self) -> usize {
        self.max_instances.unwrap_or(Self::DEFAULT_COUNT)
    }

    fn tables(&self) -> usize {
        self.max_instances.unwrap_or(Self::DEFAULT_COUNT)
    }
}
