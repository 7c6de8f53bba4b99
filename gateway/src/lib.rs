//! # wasmplug-gateway
//!
//! An HTTP reverse proxy whose request filters are wasmplug plugins: each
//! request runs through a chain of `wasmplug:gateway` filters, Wasm
//! components (sandboxed, limited, called on the async path from a pool of
//! instances) or native libraries (the same plugin source, through
//! `wasmplug-native`), then goes to the upstream.
//!
//! - [`Config`]: the TOML configuration (listen, upstream, plugin
//!   directory, the chain: `name@version`, backend, settings, limits,
//!   capabilities);
//! - [`Gateway`]: binds, loads the chain, serves until told to stop, then
//!   drains the requests in flight ([`Gateway::serve`]);
//! - [`GatewayHandle`]: reload (also `POST /reload` on the admin listener,
//!   and `SIGHUP` to the binary) and [`Metrics`] (also `GET /metrics`, in
//!   Prometheus' text format);
//! - [`serve_echo`]: a tiny upstream for tests and trying it out.
//!
//! A rejection answers with the filter's status and reason; a rewrite is
//! applied before the next filter and before forwarding; a filter that
//! traps answers 500, one past its deadline 504, and the error is logged
//! (with `tracing`) as the typed error it is: the gateway keeps serving.
//!
//! A reload re-reads the configuration and re-resolves every filter; the
//! plugins that changed are swapped in (`wasmplug::AsyncReloadable`) while
//! requests run: a request in flight finishes on the plugins it started
//! on, new requests get the new ones, and no request fails for it.
//!
//! ```no_run
//! # async fn run() -> Result<(), wasmplug_gateway::GatewayError> {
//! let gateway = wasmplug_gateway::Gateway::from_file("gateway.toml".as_ref()).await?;
//! let handle = gateway.handle();
//! let served = tokio::spawn(gateway.serve(async {
//!     tokio::signal::ctrl_c().await.ok();
//! }));
//! handle.reload().await?; // after a plugin file changed
//! # Ok(())
//! # }
//! ```

mod chain;
mod config;
mod echo;
mod error;
mod filter;
mod metrics;
mod server;

pub use chain::ReloadReport;
pub use config::{Backend, CapabilitiesConfig, Config, FilterConfig, LimitsConfig};
pub use echo::serve_echo;
pub use error::{FilterFault, GatewayError};
pub use metrics::Metrics;
pub use server::{Gateway, GatewayHandle};
