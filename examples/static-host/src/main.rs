//! A small wasmplug host: loads the bundled components from a directory,
//! calls each, prints what they answered and their digests, and tries the
//! native backend on a native plugin library.
//!
//! ```text
//! static-host <components-dir> [<native-demo1-library>]
//! ```
//!
//! Built for `x86_64-unknown-linux-musl` it is one static executable
//! (`.ci/static-host.sh`): Wasm plugins load and run in it, being data the
//! runtime compiles. Native plugins cannot: a static executable has no
//! dynamic loader, so `dlopen` fails (musl: "Dynamic loading not
//! supported") and opening one is the typed error `NativeError::Load`, not
//! a crash. Built normally (dynamically linked) the same library loads.
//! Exits non-zero if anything behaves otherwise.

#![allow(unsafe_code, reason = "opening a native library is unsafe by nature")]

use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use wasmplug::{Plugin, Runtime};
use wasmplug_native::{NativeError, NativePlugin};

// The bundled contracts, bound for both backends, as the workspace's
// other hosts use them.
use wasmplug_contracts::gateway::wasmplug::gateway::types::{Request, Verdict};
use wasmplug_contracts::{Demo, DemoApi, DemoNative, GatewayFilter, GatewayFilterApi};

/// Whether this executable was linked statically (no dynamic loader).
const STATIC: bool = cfg!(target_feature = "crt-static");

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args_os().skip(1);
    let Some(dir) = args.next().map(PathBuf::from) else {
        bail!("usage: static-host <components-dir> [<native-demo1-library>]");
    };
    let native = args.next().map(PathBuf::from);
    println!(
        "static-host: {}-{}, {} executable",
        std::env::consts::ARCH,
        std::env::consts::OS,
        if STATIC {
            "static"
        } else {
            "dynamically linked"
        }
    );

    // Compile every component here (no precompiled cache): Cranelift runs
    // inside the static binary.
    let runtime = Runtime::builder().cache(false).build()?;

    let demo: Plugin<Demo> = runtime.open(dir.join("demo1.wasm"))?;
    demo.set_v(15)?;
    ensure!(demo.get_v()? == 15, "demo1 lost V");
    println!("demo1 {:#}: f() = {:?}", demo.digest(), demo.f()?);

    let filter: Plugin<GatewayFilter> = runtime
        .loader()
        .config("deny", "mallory")
        .open(dir.join("auth_filter.wasm"))?;
    let allowed = filter.on_request(&request("Bearer alice"))?;
    let denied = filter.on_request(&request("Bearer mallory"))?;
    ensure!(
        matches!(allowed, Verdict::Rewrite(_)),
        "alice refused: {allowed:?}"
    );
    ensure!(
        matches!(denied, Verdict::Reject(_)),
        "mallory let in: {denied:?}"
    );
    println!(
        "auth-filter {:#}: alice allowed, mallory rejected",
        filter.digest()
    );

    if let Some(library) = native {
        native_backend(&library)?;
    }
    println!("static-host: ok");
    Ok(())
}

/// A GET request with an `authorization` header.
fn request(auth: &str) -> Request {
    Request {
        method: "GET".into(),
        path: "/v1/items".into(),
        headers: vec![
            ("host".into(), "gw.test".into()),
            ("authorization".into(), auth.into()),
        ],
        body: Vec::new(),
    }
}

/// Opens demo1's native library: a typed `Load` error in a static
/// executable, a working plugin otherwise.
fn native_backend(library: &Path) -> anyhow::Result<()> {
    // SAFETY: the bundled demo1 guest built as a native library from this
    // repository by the native generator.
    let opened = unsafe { NativePlugin::<DemoNative>::open(library) };
    match (opened, STATIC) {
        (Err(err @ NativeError::Load { .. }), true) => {
            println!("native backend: unavailable in a static executable: {err}");
            Ok(())
        }
        (Ok(plugin), false) => {
            plugin.set_v(15)?;
            ensure!(plugin.get_v()? == 15, "native demo1 lost V");
            println!("native backend: demo1 f() = {:?}", plugin.f()?);
            Ok(())
        }
        (Ok(_), true) => bail!("a native library loaded into a static executable"),
        (Err(err), _) => Err(err).with_context(|| format!("opening {}", library.display())),
    }
}
