//! `wasmplug-gateway <config.toml>`: serves until SIGTERM or ctrl-c, then
//! drains; `SIGHUP` reloads (as `POST /reload` on the admin listener).
//! `wasmplug-gateway echo <addr>` runs the echo upstream instead.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use tokio::signal::unix::{SignalKind, signal};
use tracing_subscriber::EnvFilter;
use wasmplug_gateway::{Gateway, serve_echo};

#[tokio::main]
async fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [echo, addr] if echo == "echo" => {
            let addr: std::net::SocketAddr = addr.parse().context("the echo address")?;
            let listener = tokio::net::TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding {addr}"))?;
            tracing::info!(%addr, "echo upstream");
            serve_echo(listener, stopped()).await;
            Ok(())
        }
        [config] => serve(PathBuf::from(config)).await,
        _ => bail!("usage: wasmplug-gateway <config.toml> | wasmplug-gateway echo <addr>"),
    }
}

async fn serve(config: PathBuf) -> Result<()> {
    let gateway = Gateway::from_file(&config).await?;
    let handle = gateway.handle();
    let mut hangup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    tokio::spawn(async move {
        while hangup.recv().await.is_some() {
            // Errors are logged by the reload itself.
            let _ = handle.reload().await;
        }
    });
    gateway.serve(stopped()).await?;
    Ok(())
}

/// Completes on SIGTERM or ctrl-c.
async fn stopped() {
    let Ok(mut term) = signal(SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM"),
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted"),
    }
}
