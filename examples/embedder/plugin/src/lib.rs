//! A greeter plugin: implements `acme:greeter/greeter` (`../wit`).

use std::cell::{Cell, RefCell};

use exports::acme::greeter::greet::Guest as Greet;
use exports::wasmplug::plugin::plugin::{Guest as Plugin, Metadata};
use wasmplug::plugin::log::{Level, log};

wit_bindgen::generate!({
    path: "../wit",
    world: "acme:greeter/greeter",
    // The world imports `wasmplug:plugin/log`, from another package:
    // generate its bindings here too.
    generate_all,
});

thread_local! {
    static GREETING: RefCell<String> = RefCell::new("Hello".into());
    static COUNT: Cell<u32> = const { Cell::new(0) };
}

struct Greeter;

impl Plugin for Greeter {
    fn get_metadata() -> Metadata {
        Metadata {
            name: "greeter".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Greets people".into(),
        }
    }

    fn init(config: Vec<(String, String)>) -> Result<(), String> {
        for (key, value) in config {
            match key.as_str() {
                "greeting" if value.is_empty() => return Err("`greeting` is empty".into()),
                "greeting" => GREETING.with(|g| *g.borrow_mut() = value),
                other => return Err(format!("unknown setting `{other}`")),
            }
        }
        log(Level::Info, "greeter ready");
        Ok(())
    }

    fn shutdown() {}
}

impl Greet for Greeter {
    fn hello(who: String) -> String {
        COUNT.with(|c| c.set(c.get() + 1));
        GREETING.with(|g| format!("{}, {who}!", g.borrow()))
    }

    fn count() -> u32 {
        COUNT.with(Cell::get)
    }
}

export!(Greeter);
