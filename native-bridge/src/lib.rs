//! Native backend: loads `.so`/`.dylib` plugins through the same WIT contracts.
//!
//! Not implemented yet: see the project issues. This crate exists so the
//! workspace layout is fixed from the start.
