//! The gateway's typed errors ([`GatewayError`]) and how a filter's
//! failure answers a request ([`FilterFault`]).

use std::path::PathBuf;

use hyper::StatusCode;

/// What went wrong starting, configuring or reloading the gateway.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GatewayError {
    /// The configuration file cannot be read.
    #[error("cannot read the configuration {}: {source}", path.display())]
    ConfigRead {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The configuration is not valid TOML for the gateway's schema; the
    /// message names the field (an unknown backend, a missing key, ...).
    #[error("bad configuration {}: {message}", path.display())]
    ConfigParse {
        /// The file.
        path: PathBuf,
        /// The parser's message, with line and field.
        message: String,
    },
    /// The configuration parses but one of its values does not work.
    #[error("bad configuration {}: `{field}`: {reason}", path.display())]
    ConfigInvalid {
        /// The file.
        path: PathBuf,
        /// The field, e.g. `filter[1].file`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No plugin in the plugin directory satisfies a filter's spec.
    #[error("filter[{index}] `{spec}`: no {backend} plugin in {} satisfies it (found: {})", dir.display(), if found.is_empty() { "none".to_owned() } else { found.join(", ") })]
    PluginNotFound {
        /// The filter's position in the chain.
        index: usize,
        /// Its spec.
        spec: String,
        /// `wasm` or `native`.
        backend: &'static str,
        /// The plugin directory.
        dir: PathBuf,
        /// What is there.
        found: Vec<String>,
    },
    /// A Wasm filter failed to load.
    #[error("filter[{index}] `{spec}`: {source}")]
    Wasm {
        /// The filter's position in the chain.
        index: usize,
        /// Its spec.
        spec: String,
        /// The runtime's error.
        #[source]
        source: Box<wasmplug::Error>,
    },
    /// A native filter failed to load.
    #[error("filter[{index}] `{spec}`: {source}")]
    Native {
        /// The filter's position in the chain.
        index: usize,
        /// Its spec.
        spec: String,
        /// The bridge's error.
        #[source]
        source: Box<wasmplug_native::NativeError>,
    },
    /// The Wasm runtime could not be made.
    #[error("cannot make the Wasm runtime: {0}")]
    Runtime(#[source] Box<wasmplug::Error>),
    /// A listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A filter that failed on one request, and the status that answers it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FilterFault {
    /// The Wasm filter failed (a trap, an exceeded limit, a full pool).
    #[error(transparent)]
    Wasm(#[from] wasmplug::Error),
    /// The native filter failed (a caught panic, a disabled plugin).
    #[error(transparent)]
    Native(#[from] wasmplug_native::NativeError),
}

impl FilterFault {
    /// 504 for a filter over its deadline, 503 when every pooled instance
    /// stayed busy, 500 for anything else (a trap, a panic).
    pub fn status(&self) -> StatusCode {
        match self {
            FilterFault::Wasm(wasmplug::Error::LimitExceeded {
                limit: wasmplug::Limit::Deadline(_),
                ..
            }) => StatusCode::GATEWAY_TIMEOUT,
            FilterFault::Wasm(wasmplug::Error::PoolExhausted { .. }) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// A short label for metrics: `deadline`, `busy`, `trap` or `error`.
    pub fn kind(&self) -> &'static str {
        match self {
            FilterFault::Wasm(wasmplug::Error::LimitExceeded {
                limit: wasmplug::Limit::Deadline(_),
                ..
            }) => "deadline",
            FilterFault::Wasm(wasmplug::Error::PoolExhausted { .. }) => "busy",
            FilterFault::Wasm(wasmplug::Error::Trap { .. })
            | FilterFault::Native(wasmplug_native::NativeError::Panic { .. }) => "trap",
            _ => "error",
        }
    }
}
