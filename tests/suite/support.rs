//! Fixtures: built guest components, runtimes, and captured plugin logs.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tracing::field::{Field, Visit};
use tracing_subscriber::Layer;
use tracing_subscriber::layer::{Context, SubscriberExt};
use wasmplug::Runtime;

/// The component built from guest crate `name`, building all guests on
/// first use.
pub(crate) fn wasm(name: &str) -> PathBuf {
    match xtask::build_guests() {
        Ok(guests) => guests.wasm(name),
        Err(message) => panic!("the guest plugins could not be built:\n{message}"),
    }
}

/// The bytes of guest `name`.
pub(crate) fn wasm_bytes(name: &str) -> Vec<u8> {
    std::fs::read(wasm(name)).expect("read a built guest")
}

/// A fresh runtime with the defaults: each test gets its own registry.
pub(crate) fn runtime() -> Runtime {
    Runtime::builder()
        .max_instances(16)
        .build()
        .expect("default runtime")
}

/// One log record a plugin emitted through the `log` import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub(crate) plugin: String,
    pub(crate) message: String,
}

/// Runs `f` with plugin log records captured (on this thread).
pub(crate) fn capture_logs<T>(f: impl FnOnce() -> T) -> (T, Vec<Record>) {
    let records = Arc::new(Mutex::new(Vec::new()));
    let subscriber = tracing_subscriber::registry().with(Capture {
        records: Arc::clone(&records),
    });
    let out = tracing::subscriber::with_default(subscriber, f);
    let records = records.lock().unwrap().clone();
    (out, records)
}

/// How many captured records from `plugin` say exactly `message`.
pub(crate) fn count(records: &[Record], plugin: &str, message: &str) -> usize {
    records
        .iter()
        .filter(|r| r.plugin == plugin && r.message == message)
        .count()
}

struct Capture {
    records: Arc<Mutex<Vec<Record>>>,
}

impl<S: tracing::Subscriber> Layer<S> for Capture {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        if event.metadata().target() != "wasmplug::guest" {
            return;
        }
        let mut visitor = Fields::default();
        event.record(&mut visitor);
        self.records.lock().unwrap().push(Record {
            plugin: visitor.plugin,
            message: visitor.message,
        });
    }
}

#[derive(Default)]
struct Fields {
    plugin: String,
    message: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "plugin" {
            self.plugin = value.to_owned();
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "plugin" => self.plugin = format!("{value:?}"),
            _ => {}
        }
    }
}
