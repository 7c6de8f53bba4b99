//! wasmplug's integration tests live in `suite/`; this library is empty.
