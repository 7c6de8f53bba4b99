//! Records the target triple and compiler this crate is built with, for the
//! ABI header (`abi::TARGET`, `abi::RUSTC`).

use std::process::Command;

fn main() {
    let target = std::env::var("TARGET").expect("cargo sets TARGET");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = Command::new(rustc)
        .arg("-V")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=WASMPLUG_TARGET={target}");
    println!("cargo:rustc-env=WASMPLUG_RUSTC={version}");
    println!("cargo:rerun-if-env-changed=RUSTC");
}
