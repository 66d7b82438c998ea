//! The `phone-sim` binary: a script of phone actions (from a file or stdin), or many
//! phones at once for load. Reports are JSON lines on stdout; logs go to stderr.

use std::io::Read as _;
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use phone_sim::runner::{Common, Load, run_load, run_script};
use phone_sim::script;

/// Simulated uaCSTA SIP phones (signalling only).
#[derive(Debug, Parser)]
#[command(name = "phone-sim", version)]
struct Cli {
    /// The server: registrar and outbound proxy.
    #[arg(long, default_value = "127.0.0.1:5060")]
    server: SocketAddr,
    /// The SIP domain (AORs are sip:USER@DOMAIN).
    #[arg(long, default_value = "localhost")]
    domain: String,
    /// The phone's user (the first phone of a script).
    #[arg(long)]
    user: Option<String>,
    /// The digest password (of every phone that names none).
    #[arg(long, default_value = "")]
    password: String,
    /// The local IP address the phones bind to.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
    /// The registration expiry, seconds.
    #[arg(long, default_value_t = 3600)]
    expires: u32,
    /// Answer incoming calls at once.
    #[arg(long)]
    auto_answer: bool,
    /// Do not register at start (scripts then say `register`).
    #[arg(long)]
    no_register: bool,
    /// The script to run; `-` (the default) reads stdin.
    #[arg(long)]
    script: Option<String>,
    /// Load mode: run this many phones.
    #[arg(long)]
    phones: Option<u32>,
    /// Load mode: users are PREFIX followed by a zero-padded index (prefix 1 and 1000
    /// phones: 1000 to 1999).
    #[arg(long, default_value_t = 1)]
    user_prefix: u64,
    /// Load mode: new calls per second between random pairs.
    #[arg(long, default_value_t = 0.0)]
    call_rate: f64,
    /// Load mode: how long each call stays up, milliseconds.
    #[arg(long, default_value_t = 2000)]
    call_hold_ms: u64,
    /// Load mode: how long calls are generated, seconds.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Load mode: print every report, not only the summary.
    #[arg(long)]
    verbose: bool,
}

fn print(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cli = Cli::parse();
    let common = Common {
        server: cli.server,
        domain: cli.domain.clone(),
        password: cli.password.clone(),
        bind_ip: cli.bind,
        expires: cli.expires,
        auto_answer: cli.auto_answer,
        register: !cli.no_register,
    };
    if let Some(n) = cli.phones {
        let width = n.saturating_sub(1).max(1).to_string().len() as u32;
        let load = Load {
            phones: n,
            first_user: cli.user_prefix.saturating_mul(10u64.saturating_pow(width)),
            call_rate: cli.call_rate,
            hold: Duration::from_millis(cli.call_hold_ms),
            duration: Duration::from_secs(cli.duration),
            register_timeout: Duration::from_secs(30),
        };
        return match run_load(&common, &load, cli.verbose, |t| print(&t.to_json_line())).await {
            Ok(summary) => {
                print(&summary.to_json().to_string());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("phone-sim: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let text = match cli.script.as_deref() {
        None | Some("-") => {
            let mut s = String::new();
            if let Err(e) = std::io::stdin().read_to_string(&mut s) {
                eprintln!("phone-sim: cannot read stdin: {e}");
                return ExitCode::FAILURE;
            }
            s
        }
        Some(path) => match std::fs::read_to_string(path) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("phone-sim: cannot read {path}: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let parsed = match script::parse(&text) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("phone-sim: script {e}");
            return ExitCode::from(2);
        }
    };
    if cli.user.is_none() && parsed.phones.is_empty() {
        eprintln!("phone-sim: give --user or declare a phone in the script");
        return ExitCode::from(2);
    }
    let first = cli.user.as_deref().map(|u| (u, None));
    match run_script(&parsed, &common, first, |t| print(&t.to_json_line())).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("phone-sim: {e}");
            ExitCode::FAILURE
        }
    }
}
