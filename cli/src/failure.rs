//! What went wrong, sorted into the classes the exit code tells apart.

use std::fmt;

/// The command line was wrong (also clap's own code for bad arguments).
pub(crate) const EXIT_USAGE: i32 = 2;
/// The file is not a usable plugin (unreadable, not Wasm, another
/// contract, a bad manifest, no such export).
pub(crate) const EXIT_BAD_PLUGIN: i32 = 3;
/// The plugin ran and failed (a trap or a native panic, an exceeded limit,
/// `init` refused).
pub(crate) const EXIT_FAULT: i32 = 4;
/// Anything else (the cache directory, a build, the engine).
pub(crate) const EXIT_OTHER: i32 = 1;

/// The exit codes, for `--help`.
pub(crate) const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  other failure (the cache directory, a cargo build, the engine)
  2  usage: bad arguments, an unparsable WAVE value, a missing setting
  3  bad plugin: unreadable, not a component, another contract or WIT, a bad manifest or header, no such export
  4  plugin fault: a trap or a native panic, an exceeded limit (deadline, memory), init refused

Environment:
  WASMPLUG_BACKTRACE=1  a trap's message carries the guest's whole backtrace
  XDG_CACHE_HOME        the precompiled cache is $XDG_CACHE_HOME/wasmplug (else ~/.cache/wasmplug)";

/// A failure with its class; printed as one sentence.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: i32,
    pub(crate) message: String,
}

impl Failure {
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }

    pub(crate) fn bad_plugin(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_BAD_PLUGIN,
            message: message.into(),
        }
    }

    pub(crate) fn other(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_OTHER,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<wasmplug::Error> for Failure {
    fn from(e: wasmplug::Error) -> Self {
        use wasmplug::Error as E;
        let code = match &e {
            E::Trap { .. }
            | E::LimitExceeded { .. }
            | E::Init { .. }
            | E::Hook { .. }
            | E::Snapshot { .. } => EXIT_FAULT,
            E::MissingSetting { .. } | E::Config { .. } => EXIT_USAGE,
            E::Engine { .. } => EXIT_OTHER,
            _ => EXIT_BAD_PLUGIN,
        };
        let message = match &e {
            E::Trap {
                plugin,
                export,
                reason,
                ..
            } if !verbose() => trap_sentence(plugin, export, reason),
            _ => e.to_string(),
        };
        Failure { code, message }
    }
}

/// Whether `WASMPLUG_BACKTRACE` asks for the guest's whole backtrace.
fn verbose() -> bool {
    std::env::var_os("WASMPLUG_BACKTRACE").is_some_and(|v| v != "0")
}

/// A trap in one sentence: wasmtime's message puts the guest's backtrace
/// between the context and the cause; keep the cause.
fn trap_sentence(plugin: &str, export: &str, reason: &str) -> String {
    let mut lines = reason.lines();
    let first = lines.next().unwrap_or_default();
    let cause = match lines.last() {
        Some(last) if first.ends_with("backtrace:") => last
            .split_once(" - ")
            .and_then(|(_, frame)| frame.split_once(": "))
            .map_or(last.trim(), |(_, cause)| cause),
        _ => reason,
    };
    let hint = if cause.contains("`unreachable`") {
        " (a guest that panics, aborts or raises an uncaught exception ends so: `--stderr inherit` shows what it printed)"
    } else {
        ""
    };
    format!(
        "plugin {plugin} trapped in {export}: {cause}{hint}; WASMPLUG_BACKTRACE=1 shows the guest's backtrace"
    )
}

impl From<wasmplug_native::NativeError> for Failure {
    fn from(e: wasmplug_native::NativeError) -> Self {
        use wasmplug_native::NativeError as E;
        let code = match &e {
            E::Panic { .. } | E::InvalidResult { .. } | E::Init { .. } => EXIT_FAULT,
            E::InvalidArgument { .. } => EXIT_USAGE,
            _ => EXIT_BAD_PLUGIN,
        };
        let mut message = e.to_string();
        if let E::MissingEntryPoint { symbol, .. } = &e
            && symbol.starts_with("wasmplugdyn_")
        {
            message.push_str(
                ": a dynamic entry point, which libraries built with an older \
                 wasmplug-native lack; rebuild the plugin",
            );
        }
        Failure { code, message }
    }
}

/// `Result` with a [`Failure`].
pub(crate) type Outcome<T = ()> = Result<T, Failure>;
