//! wasmplug's integration tests: one binary. The guest plugins are built
//! once per run by `xtask::build_guests` (see `support`).

mod async_lifecycle;
mod async_path;
mod async_settings;
mod backends;
mod cache;
mod custom_contract;
mod demo;
mod dependencies;
mod dynamic;
mod errors;
mod faults;
mod gateway;
mod gateway_server;
mod hostile;
mod lifecycle;
mod loading;
mod manifest;
mod native;
mod native_dynamic;
mod polyglot;
mod pool;
mod portability;
mod settings;
mod snapshot;
mod support;
mod versions;
