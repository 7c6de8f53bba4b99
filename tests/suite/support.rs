//! Fixtures: built guest components, runtimes, and captured plugin logs.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Once};

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

/// The native library built from guest `name`'s source (the same source
/// as its component).
pub(crate) fn native(name: &str) -> PathBuf {
    match xtask::build_guests() {
        Ok(guests) => guests.native(name),
        Err(message) => panic!("the guest plugins could not be built:\n{message}"),
    }
}

/// Serialises the tests that open the bundled native plugins: a native
/// library's state is the process's, and opening the same content twice
/// shares it (as opening a Wasm plugin twice in one runtime does).
pub(crate) fn native_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
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

thread_local! {
    static SINK: RefCell<Option<Arc<Mutex<Vec<Record>>>>> = const { RefCell::new(None) };
}

/// Runs `f` with plugin log records captured (those emitted on this thread).
///
/// One global subscriber serves every test: thread-scoped subscribers
/// (`with_default`) can miss events when tests on other threads register
/// the same callsites concurrently (tracing caches callsite interest).
pub(crate) fn capture_logs<T>(f: impl FnOnce() -> T) -> (T, Vec<Record>) {
    let records = Arc::new(Mutex::new(Vec::new()));
    let out = capture_logs_into(&records, f);
    let records = records.lock().unwrap().clone();
    (out, records)
}

/// Runs `f` with plugin log records emitted on this thread appended to
/// `records`: threads sharing `records` get one log, in the order the
/// records were emitted.
pub(crate) fn capture_logs_into<T>(records: &Arc<Mutex<Vec<Record>>>, f: impl FnOnce() -> T) -> T {
    install_capture();
    // A callsite first hit on another thread while the subscriber was
    // being installed may have cached "no interest" (a race in
    // tracing-core's registry, seen under qemu where everything is slow):
    // ask every callsite again.
    tracing::callsite::rebuild_interest_cache();
    SINK.with(|sink| *sink.borrow_mut() = Some(Arc::clone(records)));
    let out = f();
    SINK.with(|sink| *sink.borrow_mut() = None);
    out
}

/// Installs the one global subscriber that captures plugin log records,
/// once per process.
fn install_capture() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let subscriber = tracing_subscriber::registry().with(Capture);
        tracing::subscriber::set_global_default(subscriber).expect("no other global subscriber");
    });
}

/// On Linux (where the suite runs, natively and under qemu) the subscriber
/// is installed before `main`, so that no test can hit a log callsite
/// before there is a subscriber to be interested in it.
#[cfg(target_os = "linux")]
#[allow(
    unsafe_code,
    reason = "an ELF constructor: installing a tracing subscriber needs nothing from main"
)]
#[used]
#[unsafe(link_section = ".init_array")]
static INSTALL_CAPTURE_BEFORE_MAIN: extern "C" fn() = {
    extern "C" fn install() {
        install_capture();
    }
    install
};

/// How many captured records from `plugin` say exactly `message`.
pub(crate) fn count(records: &[Record], plugin: &str, message: &str) -> usize {
    records
        .iter()
        .filter(|r| r.plugin == plugin && r.message == message)
        .count()
}

struct Capture;

impl<S> Layer<S> for Capture
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        let mut visitor = Fields::default();
        attrs.record(&mut visitor);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(visitor);
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let target = event.metadata().target();
        let mut visitor = Fields::default();
        event.record(&mut visitor);
        let record = if target == "wasmplug::guest" {
            Record {
                plugin: visitor.plugin,
                message: visitor.message,
            }
        } else if target.starts_with("wasmtime_wasi") {
            // WASI calls are traced inside the span of the plugin calling,
            // in a span naming the WASI function.
            let mut plugin = String::new();
            let mut function = String::new();
            for span in ctx.event_scope(event).into_iter().flatten() {
                if let Some(fields) = span.extensions().get::<Fields>() {
                    if plugin.is_empty() && !fields.plugin.is_empty() {
                        plugin = fields.plugin.clone();
                    }
                    if function.is_empty() {
                        function = fields.all.join(" ");
                    }
                }
            }
            Record {
                plugin,
                message: format!("wasi {function}: {}", visitor.all.join(" ")),
            }
        } else {
            return;
        };
        SINK.with(|sink| {
            if let Some(records) = &*sink.borrow() {
                records.lock().unwrap().push(record);
            }
        });
    }
}

#[derive(Default)]
struct Fields {
    plugin: String,
    message: String,
    all: Vec<String>,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.all.push(format!("{}={value}", field.name()));
        if field.name() == "plugin" {
            self.plugin = value.to_owned();
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.all.push(format!("{}={value:?}", field.name()));
        match field.name() {
            "message" => self.message = format!("{value:?}"),
            "plugin" => self.plugin = format!("{value:?}"),
            _ => {}
        }
    }
}

/// The C compiler for the target this suite was built for: `CC_<target>`
/// (the variable the `cc` crate reads) when set, else `cc`. A suite
/// cross-built for another architecture (`.ci/arm64.sh`) must build its C
/// fixtures with that target's compiler.
pub(crate) fn c_compiler() -> std::process::Command {
    let var = format!("CC_{}", wasmplug_native::abi::TARGET.replace('-', "_"));
    std::process::Command::new(std::env::var_os(var).unwrap_or_else(|| "cc".into()))
}

pub(crate) use wasmplug_tests::this_test_binary;

/// The capture subscriber is there before any test runs (this test calls
/// nothing that would install it).
#[cfg(target_os = "linux")]
#[test]
fn the_log_capture_is_installed_before_any_test_runs() {
    assert!(tracing::dispatcher::has_been_set());
}
