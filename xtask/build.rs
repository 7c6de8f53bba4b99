//! Records the target this crate is compiled for when it differs from the
//! build machine's, so that a cross-built test suite (say for aarch64, run
//! under qemu) builds the native guests and fixtures for its own target
//! rather than for the machine running cargo.

fn main() {
    let target = std::env::var("TARGET").expect("cargo sets TARGET");
    let host = std::env::var("HOST").expect("cargo sets HOST");
    let cross = if target == host { "" } else { target.as_str() };
    println!("cargo:rustc-env=XTASK_CROSS_TARGET={cross}");
    println!("cargo:rerun-if-changed=build.rs");
}
