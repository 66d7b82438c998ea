//! The `csta-server` binary: loads the configuration, starts the server, stops it on
//! SIGINT or SIGTERM and reloads the configuration file on SIGHUP.
//!
//! A reload reads the same `--config` file again (with the same `--data-dir` and
//! `--dev-tls` overrides) and applies its SIP users, `[[csta_lines]]` and
//! `[[client_users]]` (see `ServerHandle::reload`); a file that cannot be read, parsed
//! or validated is logged and changes nothing.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use csta_server::{Config, Server};

/// The uaCSTA server: SIP registrar and proxy for desk phones, uaCSTA session manager
/// and CSTA client interface.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// TOML configuration file (see csta-server.example.toml); without it the embedded
    /// defaults listen on loopback.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory of the embedded database; overrides `data_dir` of the configuration.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// For trying TLS out: use a self-signed certificate generated at start (written to
    /// the data directory, fingerprint in the log) instead of the `[tls]` files, and
    /// listen for SIP over TLS on 127.0.0.1:5061 when `sip.tls` lists no address.
    #[arg(long)]
    dev_tls: bool,
    /// Log filter: a level (error, warn, info, debug, trace) or a tracing filter
    /// directive such as `csta_server=debug`.
    #[arg(long, value_name = "LEVEL", default_value = "info")]
    log: String,
}

/// Reads the configuration as the command line says: the file (or the defaults), then
/// the overrides of the command line, validated.
fn load(args: &Args) -> Result<Config, String> {
    let mut config = match &args.config {
        Some(path) => Config::read(path).map_err(|e| e.to_string())?,
        None => Config::default(),
    };
    if let Some(dir) = &args.data_dir {
        config.data_dir.clone_from(dir);
    }
    if args.dev_tls {
        config.enable_dev_tls();
    }
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = match tracing_subscriber::EnvFilter::try_new(&args.log) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("csta-server: invalid --log value `{}`: {e}", args.log);
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();

    let config = match load(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("csta-server: {e}");
            return ExitCode::from(2);
        }
    };

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("csta-server: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(config, &args))
}

async fn run(config: Config, args: &Args) -> ExitCode {
    let data_dir = config.data_dir.clone();
    let server = match Server::start(config).await {
        Ok(s) => s,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("csta-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    for a in server.sip_udp_addrs() {
        tracing::info!("SIP UDP listening on {a}");
    }
    for a in server.sip_tcp_addrs() {
        tracing::info!("SIP TCP listening on {a}");
    }
    for a in server.sip_tls_addrs() {
        tracing::info!("SIP TLS listening on {a}");
    }
    if let Some(a) = server.client_tcp_addr() {
        tracing::info!("CSTA clients (XML over TCP) listening on {a}");
    }
    if let Some(a) = server.client_tls_addr() {
        tracing::info!("CSTA clients (XML over TLS) listening on {a}");
    }
    if let Some(a) = server.client_websocket_addr() {
        tracing::info!("CSTA clients (JSON over WebSocket) listening on ws://{a}/");
    }
    if let Some(a) = server.http_addr() {
        tracing::info!("HTTP listening on http://{a}/metrics and http://{a}/health");
    }
    tracing::info!("data directory {}", data_dir.display());
    // The handlers are in place before "ready" is announced, so a signal sent as soon
    // as it is seen is caught.
    match Signals::new() {
        Ok(mut signals) => {
            tracing::info!("ready");
            while signals.wait().await == Signal::Reload {
                if args.config.is_none() {
                    tracing::warn!("SIGHUP: no --config file to reload");
                    continue;
                }
                match load(args) {
                    Ok(config) => {
                        tracing::info!("SIGHUP: reloading the configuration");
                        server.reload(config).await;
                    }
                    Err(e) => tracing::error!("SIGHUP: configuration not reloaded: {e}"),
                }
            }
        }
        Err(e) => {
            tracing::info!("ready");
            tracing::error!("cannot wait for signals: {e}");
        }
    }
    tracing::info!("shutting down");
    match server.shutdown().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// What a signal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    /// SIGINT, SIGTERM (Ctrl-C elsewhere): stop.
    Stop,
    /// SIGHUP: reload the configuration.
    Reload,
}

/// SIGINT, SIGTERM and SIGHUP (Ctrl-C elsewhere), caught from the moment this exists.
#[cfg(unix)]
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
    hangup: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn new() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    async fn wait(&mut self) -> Signal {
        tokio::select! {
            _ = self.interrupt.recv() => Signal::Stop,
            _ = self.terminate.recv() => Signal::Stop,
            _ = self.hangup.recv() => Signal::Reload,
        }
    }
}

/// Ctrl-C.
#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn new() -> std::io::Result<Signals> {
        Ok(Signals)
    }

    async fn wait(&mut self) -> Signal {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!("cannot wait for Ctrl-C: {e}");
        }
        Signal::Stop
    }
}
