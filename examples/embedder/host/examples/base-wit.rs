//! Writes wasmplug's base WIT (`wasmplug::BASE_WIT`, the version of the
//! wasmplug this crate depends on) where the plugin's WIT expects it:
//! `../wit/deps/wasmplug-plugin/plugin.wit`. Run it once, and again after
//! upgrading wasmplug (`cargo test` says when).

use std::path::Path;

fn main() -> std::io::Result<()> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit/deps/wasmplug-plugin");
    std::fs::create_dir_all(&dir)?;
    std::fs::write(dir.join("plugin.wit"), wasmplug::BASE_WIT)?;
    println!("wrote {}", dir.join("plugin.wit").display());
    Ok(())
}
