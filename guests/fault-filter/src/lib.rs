//! A gateway filter that faults when asked to, deterministically: the
//! fixture for a gateway's fault handling.
//!
//! Configuration (`init`):
//! - `trap-every`: `N`; a request whose `x-request-id` header is a
//!   multiple of `N` makes the filter panic (a trap in the component, a
//!   caught panic in the native library). Default `0`: never;
//! - `spin-header`: a header name; a request carrying it makes the filter
//!   loop forever (only a deadline stops it: use it on the Wasm backend).
//!
//! Every other request is forwarded with `x-fault-filter: passed` set, so
//! a chain shows the filter ran.

use std::sync::{LazyLock, RwLock};

use exports::wasmplug::gateway::filter::Guest as Filter;
use exports::wasmplug::plugin::plugin::{Guest as Plugin, Metadata};
use wasmplug::gateway::types::{Request, Rewrite, Verdict};

wasmplug_native::plugin!({
    path: ["../../wit/plugin", "../../wit/gateway"],
    world: "wasmplug:gateway/gateway-filter",
    generate_all,
});

struct Settings {
    trap_every: u64,
    spin_header: Option<String>,
}

static SETTINGS: LazyLock<RwLock<Settings>> = LazyLock::new(|| {
    RwLock::new(Settings {
        trap_every: 0,
        spin_header: None,
    })
});

struct FaultFilter;

impl Plugin for FaultFilter {
    fn get_metadata() -> Metadata {
        Metadata {
            name: "fault-filter".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            description: "Faults on chosen requests (a test fixture)".into(),
        }
    }

    fn init(config: Vec<(String, String)>) -> Result<(), String> {
        let mut s = SETTINGS
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (key, value) in config {
            match key.as_str() {
                "trap-every" => {
                    s.trap_every = value
                        .parse()
                        .map_err(|e| format!("`trap-every = {value}`: {e}"))?;
                }
                "spin-header" => s.spin_header = Some(value.to_ascii_lowercase()),
                other => return Err(format!("unknown setting `{other}`")),
            }
        }
        Ok(())
    }

    fn shutdown() {}
}

fn header<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

impl Filter for FaultFilter {
    fn on_request(req: Request) -> Verdict {
        let (trap_every, spin) = {
            let s = SETTINGS
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let spin = s
                .spin_header
                .as_deref()
                .is_some_and(|name| header(&req, name).is_some());
            (s.trap_every, spin)
        };
        if spin {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        let id = header(&req, "x-request-id").and_then(|v| v.parse::<u64>().ok());
        if let Some(id) = id
            && trap_every > 0
            && id % trap_every == 0
        {
            panic!("fault-filter: request {id} is a multiple of {trap_every}");
        }
        Verdict::Rewrite(Rewrite {
            path: None,
            set_headers: vec![("x-fault-filter".into(), "passed".into())],
            remove_headers: Vec::new(),
        })
    }
}

export!(FaultFilter);
