//! A library shared by several plugins, like the seed article's
//! `github.com/bigwhite/common`, whose Go `init` ran once per process: the
//! host's copy initialised it and the plugin's copy never ran.
//!
//! In wasmplug every component carries its own copy, so [`init`] runs once
//! *per plugin instance*, whoever else links this crate.

use std::sync::Once;
use std::sync::atomic::{AtomicU32, Ordering};

static INIT: Once = Once::new();
static INIT_COUNT: AtomicU32 = AtomicU32::new(0);

/// Initialises this copy of the library, once; `on_init` observes the one
/// time it actually runs.
pub fn init(on_init: impl FnOnce(&str)) {
    INIT.call_once(|| {
        INIT_COUNT.fetch_add(1, Ordering::SeqCst);
        on_init("common: initialised");
    });
}

/// How many times this copy of the library ran its initialisation (0 or 1).
pub fn init_count() -> u32 {
    INIT_COUNT.load(Ordering::SeqCst)
}
