//! A gateway filter: bearer-token authentication with a deny list.
//!
//! Configuration (`init`):
//! - `deny`: comma-separated tokens to refuse with 403;
//! - `public-prefix`: paths under it pass without a token (default `/public/`);
//! - `version-header`: a header name; when set, every rewrite also sets it
//!   to this filter's version, so a gateway's responses say which release
//!   of the filter decided them (the gateway's reload tests use it).
//!
//! The same source is released twice: as `auth-filter` 1.0.0 (this crate)
//! and as 1.1.0 (`guests/auth-filter-next`, whose library is this file), so
//! that a host can swap one release for the other.
//!
//! Requests without `authorization: Bearer <token>` get 401; a denied token
//! gets 403; any other token is forwarded with `x-auth-user: <token>` set and
//! the `authorization` header removed.

use std::sync::{LazyLock, RwLock};

use exports::wasmplug::gateway::filter::Guest as Filter;
use exports::wasmplug::plugin::plugin::{Guest as Plugin, Metadata};
use wasmplug::gateway::types::{Rejection, Request, Rewrite, Verdict};
use wasmplug::plugin::log::{Level, log};

// One source, two artifacts: wit-bindgen's bindings for the component,
// the native ABI's for the shared library.
wasmplug_native::plugin!({
    path: ["../../wit/plugin", "../../wit/gateway"],
    world: "wasmplug:gateway/gateway-filter",
    generate_all,
});

struct Settings {
    deny: Vec<String>,
    public_prefix: String,
    version_header: Option<String>,
}

// Process-wide, not `thread_local!`: as a native library the filter runs on
// the host's threads, and `init` and the calls need not share one.
static SETTINGS: LazyLock<RwLock<Settings>> = LazyLock::new(|| {
    RwLock::new(Settings {
        deny: Vec::new(),
        public_prefix: "/public/".into(),
        version_header: None,
    })
});

fn settings() -> std::sync::RwLockReadGuard<'static, Settings> {
    SETTINGS
        .read()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

struct AuthFilter;

impl Plugin for AuthFilter {
    fn get_metadata() -> Metadata {
        Metadata {
            name: "auth-filter".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Bearer-token authentication with a deny list".into(),
        }
    }

    fn init(config: Vec<(String, String)>) -> Result<(), String> {
        let mut s = SETTINGS
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (key, value) in config {
            match key.as_str() {
                "deny" => {
                    s.deny = value
                        .split(',')
                        .map(str::trim)
                        .filter(|t| !t.is_empty())
                        .map(String::from)
                        .collect();
                }
                "public-prefix" => s.public_prefix = value,
                "version-header" => s.version_header = Some(value.to_ascii_lowercase()),
                other => return Err(format!("unknown setting `{other}`")),
            }
        }
        log(
            Level::Debug,
            &format!("auth-filter: {} denied tokens", s.deny.len()),
        );
        Ok(())
    }

    fn shutdown() {}
}

impl Filter for AuthFilter {
    fn on_request(req: Request) -> Verdict {
        let s = settings();
        if req.path.starts_with(&s.public_prefix) {
            return Verdict::Allow;
        }
        let token = req
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("authorization"))
            .and_then(|(_, value)| value.strip_prefix("Bearer "));
        match token {
            None => Verdict::Reject(Rejection {
                status: 401,
                reason: "missing bearer token".into(),
            }),
            Some(token) if s.deny.iter().any(|d| d == token) => Verdict::Reject(Rejection {
                status: 403,
                reason: format!("token `{token}` is denied"),
            }),
            Some(token) => {
                let mut set_headers = vec![("x-auth-user".into(), token.into())];
                if let Some(name) = &s.version_header {
                    set_headers.push((name.clone(), env!("CARGO_PKG_VERSION").into()));
                }
                Verdict::Rewrite(Rewrite {
                    path: None,
                    set_headers,
                    remove_headers: vec!["authorization".into()],
                })
            }
        }
    }
}

export!(AuthFilter);
