//! What a plugin may reach outside its sandbox. Nothing, by default.

use std::path::PathBuf;

use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtx, WasiCtxBuilder};

/// How a preopened directory may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DirAccess {
    /// List and read files.
    ReadOnly,
    /// Also create, write, rename and remove.
    ReadWrite,
}

/// Where a plugin's stdout or stderr goes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum Output {
    /// Discarded (the default).
    #[default]
    Discard,
    /// The host process's own stream.
    Inherit,
    /// Kept in memory; read it with [`Captured::contents`].
    Capture(Captured),
}

/// Output captured from a plugin, shared by every instance of it. Two
/// captures are equal when they are clones of one (they share a buffer).
#[derive(Debug, Clone)]
pub struct Captured {
    pipe: MemoryOutputPipe,
    /// The buffer's identity (`MemoryOutputPipe` does not expose its own).
    id: std::sync::Arc<()>,
}

impl PartialEq for Captured {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.id, &other.id)
    }
}

impl Eq for Captured {}

impl std::hash::Hash for Captured {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        std::sync::Arc::as_ptr(&self.id).hash(state);
    }
}

impl Captured {
    /// A buffer holding at most `capacity` bytes; writes beyond it fail in
    /// the guest.
    pub fn new(capacity: usize) -> Self {
        Captured {
            pipe: MemoryOutputPipe::new(capacity),
            id: std::sync::Arc::new(()),
        }
    }

    /// Everything written so far.
    pub fn contents(&self) -> Vec<u8> {
        self.pipe.contents().to_vec()
    }
}

/// The capabilities granted to a plugin. [`Capabilities::default`] grants
/// nothing: no filesystem, no environment variables, no arguments, no
/// network, stdin empty, stdout and stderr discarded. Wall and monotonic
/// clocks and randomness are always available (they cannot reach anything).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Capabilities {
    dirs: Vec<(PathBuf, String, DirAccess)>,
    env: Vec<(String, String)>,
    args: Vec<String>,
    stdout: Output,
    stderr: Output,
}

impl Capabilities {
    /// Grants nothing.
    pub fn none() -> Self {
        Capabilities::default()
    }

    /// Makes host directory `host` visible to the plugin as `guest` (an
    /// absolute guest path such as `/data`). Paths outside every granted
    /// directory cannot be opened, and the plugin sees an error: a `..`
    /// escape from a grant is refused by the host, which traces the refused
    /// WASI call inside the calling plugin's `plugin` span (TRACE level); a
    /// path under no grant at all is refused by the guest's own libc before
    /// any host call is made.
    pub fn dir(
        mut self,
        host: impl Into<PathBuf>,
        guest: impl Into<String>,
        access: DirAccess,
    ) -> Self {
        self.dirs.push((host.into(), guest.into(), access));
        self
    }

    /// Sets environment variable `key` for the plugin. The host's own
    /// environment is never inherited.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Appends a command-line argument the plugin sees.
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Where the plugin's stdout goes.
    pub fn stdout(mut self, output: Output) -> Self {
        self.stdout = output;
        self
    }

    /// Where the plugin's stderr goes.
    pub fn stderr(mut self, output: Output) -> Self {
        self.stderr = output;
        self
    }

    pub(crate) fn is_none(&self) -> bool {
        self.dirs.is_empty()
            && self.env.is_empty()
            && self.args.is_empty()
            && matches!(self.stdout, Output::Discard)
            && matches!(self.stderr, Output::Discard)
    }

    /// Builds the WASI context of one instance.
    pub(crate) fn wasi(&self) -> std::io::Result<WasiCtx> {
        let mut builder = WasiCtxBuilder::new();
        if self.is_none() {
            return Ok(builder.build());
        }
        for (host, guest, access) in &self.dirs {
            let perms = match access {
                DirAccess::ReadOnly => FsPerms::ReadOnly,
                DirAccess::ReadWrite => FsPerms::ReadWrite,
            };
            builder.preopened_dir(host, guest, perms).map_err(|e| {
                std::io::Error::other(format!("cannot grant {}: {e:#}", host.display()))
            })?;
        }
        builder.envs(&self.env).args(&self.args);
        match &self.stdout {
            Output::Discard => {}
            Output::Inherit => {
                builder.inherit_stdout();
            }
            Output::Capture(c) => {
                builder.stdout(c.pipe.clone());
            }
        }
        match &self.stderr {
            Output::Discard => {}
            Output::Inherit => {
                builder.inherit_stderr();
            }
            Output::Capture(c) => {
                builder.stderr(c.pipe.clone());
            }
        }
        Ok(builder.build())
    }
}
