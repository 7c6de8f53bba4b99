//! wasmplug's integration tests: one binary. The guest plugins are built
//! once per run by `xtask::build_guests` (see `support`).

mod backends;
mod cache;
mod custom_contract;
mod demo;
mod dependencies;
mod errors;
mod faults;
mod gateway;
mod hostile;
mod lifecycle;
mod manifest;
mod native;
mod portability;
mod support;
mod versions;
