//! `wasmplug compile` and `wasmplug cache`: filling, listing and pruning
//! the precompiled cache.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use clap::Subcommand;
use wasmplug::{CacheDir, Runtime};

use crate::failure::{Failure, Outcome};
use crate::units;

/// What `wasmplug cache` does.
#[derive(Debug, Subcommand)]
pub(crate) enum CacheCommand {
    /// Lists the entries with their sizes and ages (the default).
    List,
    /// Removes every entry.
    Clear,
    /// Removes the entries older than an age.
    Prune {
        /// E.g. `30d`, `12h`.
        #[arg(long, value_name = "AGE", value_parser = units::duration)]
        older_than: Duration,
    },
}

/// `wasmplug compile FILE…`: each file through the cache (a valid entry
/// is reused; a component never seen is compiled and stored).
pub(crate) fn compile(files: &[PathBuf]) -> Outcome {
    let runtime = Runtime::new()?;
    if runtime.cache_engine().is_none() {
        return Err(Failure::other(
            "the precompiled cache is off: no per-user cache directory (set XDG_CACHE_HOME or HOME)",
        ));
    }
    let mut failures = Vec::new();
    for file in files {
        let before = runtime.cache_stats().unwrap_or_default();
        match runtime.dynamic().open(file) {
            Ok(plugin) => {
                let after = runtime.cache_stats().unwrap_or_default();
                let what = if after.hits > before.hits {
                    "already precompiled"
                } else {
                    "compiled"
                };
                crate::say!("{}: {} ({what})", file.display(), plugin.metadata());
            }
            Err(e) => {
                eprintln!("error: {e}");
                failures.push(Failure::from(e));
            }
        }
    }
    match failures.into_iter().next() {
        // The first failure's class decides the exit code.
        Some(first) if files.len() == 1 => Err(first),
        Some(first) => Err(Failure {
            code: first.code,
            message: "some files were not compiled (see above)".into(),
        }),
        None => Ok(()),
    }
}

/// `wasmplug cache …`.
pub(crate) fn run(command: Option<CacheCommand>) -> Outcome {
    let cache = CacheDir::default_location().ok_or_else(|| {
        Failure::other("no per-user cache directory (set XDG_CACHE_HOME or HOME)")
    })?;
    let io = |e: std::io::Error| Failure::other(format!("cache {}: {e}", cache.root().display()));
    match command.unwrap_or(CacheCommand::List) {
        CacheCommand::List => {
            let entries = cache.entries().map_err(io)?;
            let current = Runtime::builder()
                .cache_dir(cache.root())
                .build()
                .ok()
                .and_then(|r| r.cache_engine());
            crate::say!("{}", cache.root().display());
            let now = SystemTime::now();
            let mut total = 0;
            for e in &entries {
                total += e.size;
                let age = now.duration_since(e.modified).unwrap_or_default();
                crate::say!(
                    "  {}/{}{}  {:>10}  {:>4} old{}",
                    e.engine,
                    e.key,
                    if e.snapshot { " (snapshot)" } else { "" },
                    units::show_size(e.size),
                    units::show_age(age),
                    if current.as_deref() == Some(e.engine.as_str()) {
                        ""
                    } else {
                        "  (another engine)"
                    }
                );
            }
            crate::say!(
                "{}, {}",
                entries_count(entries.len()),
                units::show_size(total)
            );
        }
        CacheCommand::Clear => {
            let removed = cache.clear().map_err(io)?;
            report_removed(&removed);
        }
        CacheCommand::Prune { older_than } => {
            let removed = cache.prune(older_than).map_err(io)?;
            report_removed(&removed);
        }
    }
    Ok(())
}

fn report_removed(removed: &[wasmplug::CacheEntry]) {
    let size: u64 = removed.iter().map(|e| e.size).sum();
    crate::say!(
        "removed {}, {}",
        entries_count(removed.len()),
        units::show_size(size)
    );
}

fn entries_count(n: usize) -> String {
    if n == 1 {
        "1 entry".into()
    } else {
        format!("{n} entries")
    }
}
