//! Loads a greeter plugin (`acme:greeter/greeter`, `../wit`), calls it, and
//! shows what the typed errors look like. Exits non-zero if anything is not
//! as expected.
//!
//! Usage: `greeter-host <plugin.wasm>`

use anyhow::{Context, Result, bail, ensure};
use wasmplug::{Error, Plugin, Runtime};

wasmplug::contract! {
    /// The greeter contract. Its package and version
    /// (`acme:greeter@0.1.0`) are read from the WIT.
    pub struct Greeter {
        world: "acme:greeter/greeter",
        path: "../wit",
        bindings: greeter::{Greeter, GreeterIndices},
    }
}

fn main() -> Result<()> {
    let path = std::env::args_os()
        .nth(1)
        .context("usage: greeter-host <plugin.wasm>")?;

    // Compile (or load from the cache), check the contract, instantiate,
    // and run the plugin's `init` with its settings.
    let runtime = Runtime::new()?;
    let plugin = runtime
        .loader::<Greeter>()
        .config("greeting", "Hello")
        .open(&path)?;
    let meta = plugin.metadata();
    println!(
        "loaded {} {}: {}",
        meta.name, meta.version, meta.description
    );

    // Typed calls through the bindings `contract!` generated.
    let hello = |who: &str| plugin.call(|g, store| g.acme_greeter_greet().call_hello(store, who));
    let greeting = hello("Ada")?;
    println!("{greeting}");
    ensure!(
        greeting == "Hello, Ada!",
        "unexpected greeting `{greeting}`"
    );
    hello("Grace")?;
    let count = plugin.call(|g, store| g.acme_greeter_greet().call_count(store))?;
    ensure!(
        count == 2,
        "expected 2 greetings, the plugin counted {count}"
    );

    // Opening it again with the same settings returns the live plugin...
    let again = runtime
        .loader::<Greeter>()
        .config("greeting", "Hello")
        .open(&path)?;
    ensure!(
        Plugin::ptr_eq(&plugin, &again),
        "reopening loaded the plugin again"
    );
    // ...and with other settings is an error, never the old settings.
    match runtime
        .loader::<Greeter>()
        .config("greeting", "Hi")
        .open(&path)
    {
        Err(e @ Error::SettingsDiffer { .. }) => println!("as expected: {e}"),
        other => bail!("reopening with other settings gave {other:?}"),
    }

    // A dynamic lookup checks the name and the signature.
    let hello_fn = plugin.lookup::<(String,), (String,)>("acme:greeter/greet@0.1.0#hello")?;
    let (greeting,) = hello_fn.call(("Linus".to_owned(),))?;
    ensure!(
        greeting == "Hello, Linus!",
        "unexpected greeting `{greeting}`"
    );
    match plugin.lookup::<(String,), (String,)>("acme:greeter/greet@0.1.0#helo") {
        Err(e @ Error::NoSuchExport { .. }) => println!("as expected: {e}"),
        other => bail!("looking up a misspelt export gave {:?}", other.err()),
    }

    // Anything that is not a component for this contract is a typed error.
    match runtime.open::<Greeter>("Cargo.toml") {
        Err(e @ Error::NotWasm { .. }) => println!("as expected: {e}"),
        other => bail!("opening Cargo.toml gave {:?}", other.err()),
    }
    println!("all good");
    Ok(())
}

#[cfg(test)]
mod tests {
    /// The plugin's copy of the base WIT is the one this wasmplug ships.
    #[test]
    fn base_wit_is_current() {
        let copy = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../wit/deps/wasmplug-plugin/plugin.wit"
        );
        let text = std::fs::read_to_string(copy).unwrap_or_default();
        assert!(
            text == wasmplug::BASE_WIT,
            "{copy} is not wasmplug's base WIT: run `cargo run --example base-wit`"
        );
    }
}
