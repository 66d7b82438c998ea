//! `tapi-host`: runs a TAPI service provider as the Telephony service would and prints
//! every TAPI message as one JSON line on standard output.
//!
//! ```text
//! tapi-host [--tsp PATH] [--provider-id N] [--device-id-base N] [--script FILE|-]
//! tapi-host --tsp PATH --check-exports
//! ```
//!
//! On Windows `--tsp` names the provider DLL (`ucsta.tsp`), loaded with
//! `LoadLibraryW`; elsewhere the provider linked into the program is used and `--tsp`
//! only serves `--check-exports`, which reads the DLL's export table (and on Windows
//! also looks every name up with `GetProcAddress`), prints the result as one JSON
//! line and exits. The script (see the README) comes from `--script FILE`, or from
//! standard input (`-`, the default), where each line runs as soon as it is read.
//!
//! Exit status: 0 when the script ran to its end without a contract violation; 1 when
//! a wait timed out, an expectation failed or the provider broke the TSPI contract;
//! 2 for a usage or script error; 3 when the provider could not be loaded or started.
#![allow(clippy::print_stdout)]

use std::io::BufRead;
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;
use tapi_host::host::{Host, Options};
use tapi_host::out::Output;
use tapi_host::pe::{Exports, Status};
use tapi_host::run::Runner;
use tapi_host::script::{self, Command};
use tapi_host::table::Tspi;

const USAGE: &str =
    "usage: tapi-host [--tsp PATH] [--provider-id N] [--device-id-base N] [--script FILE|-]
       tapi-host --tsp PATH --check-exports";

struct Args {
    tsp: Option<PathBuf>,
    provider_id: u32,
    device_id_base: u32,
    script: Option<PathBuf>,
    check_exports: bool,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut a = Args {
        tsp: None,
        provider_id: 1,
        device_id_base: 100,
        script: None,
        check_exports: false,
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--tsp" => a.tsp = Some(value("--tsp")?.into()),
            "--provider-id" => {
                let v = value("--provider-id")?;
                a.provider_id = v.parse().map_err(|_| format!("bad provider id `{v}`"))?;
            }
            "--device-id-base" => {
                let v = value("--device-id-base")?;
                a.device_id_base = v.parse().map_err(|_| format!("bad device ID `{v}`"))?;
            }
            "--script" => {
                let v = value("--script")?;
                a.script = (v != "-").then(|| v.into());
            }
            "--check-exports" => a.check_exports = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    Ok(a)
}

/// `--check-exports`: the PE export table, and on Windows `GetProcAddress` too.
fn check_exports(tsp: &std::path::Path) -> ExitCode {
    let required = ucsta_tsp::tspi::EXPORTS;
    let bytes = match std::fs::read(tsp) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("tapi-host: {}: {e}", tsp.display());
            return ExitCode::from(3);
        }
    };
    let (table, missing, decorated, error) = match Exports::parse(&bytes) {
        Ok(e) => {
            let problems = e.check(required);
            let of = |s: Status| -> Vec<&str> {
                problems
                    .iter()
                    .filter(|(_, st)| *st == s)
                    .map(|(n, _)| *n)
                    .collect()
            };
            let (m, d) = (of(Status::Missing), of(Status::Decorated));
            (Some(e), m, d, None)
        }
        Err(e) => (None, Vec::new(), Vec::new(), Some(e.to_string())),
    };
    #[cfg(windows)]
    let loaded: serde_json::Value = match tapi_host::load::Library::open(tsp) {
        Ok(lib) => json!({"ok": true, "missing": lib.missing(required)}),
        Err(e) => json!({"ok": false, "error": e.to_string()}),
    };
    #[cfg(not(windows))]
    let loaded = serde_json::Value::Null;
    let ok = error.is_none()
        && missing.is_empty()
        && decorated.is_empty()
        && (loaded.is_null()
            || (loaded["ok"] == true
                && loaded["missing"].as_array().is_some_and(|m| m.is_empty())));
    let line = json!({
        "msg": "EXPORTS",
        "file": tsp.display().to_string(),
        "ok": ok,
        "error": error,
        "machine": table.as_ref().map(|t| format!("0x{:04X}", t.machine)),
        "pe32_plus": table.as_ref().map(|t| t.pe32_plus),
        "dll_name": table.as_ref().map(|t| t.dll_name.clone()),
        "exported": table.as_ref().map(|t| t.names.len()),
        "required": required.len(),
        "missing": missing,
        "decorated": decorated,
        "getprocaddress": loaded,
    });
    println!("{line}");
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// The provider's function table.
fn table(tsp: Option<&std::path::Path>) -> Result<Tspi, String> {
    #[cfg(windows)]
    {
        let tsp = tsp.ok_or("--tsp PATH is needed on Windows")?;
        let lib = tapi_host::load::Library::open(tsp).map_err(|e| e.to_string())?;
        // `Library` never unloads: the provider stays loaded until the process ends.
        lib.table().map_err(|e| e.to_string())
    }
    #[cfg(not(windows))]
    {
        if let Some(tsp) = tsp {
            eprintln!(
                "tapi-host: the provider linked into this program is used; {} is only read by --check-exports",
                tsp.display()
            );
        }
        Ok(Tspi::linked())
    }
}

/// Runs the script; `Err(status)` for the exit status of a failure.
fn run(args: &Args) -> Result<(), ExitCode> {
    // A script file is read whole before anything starts: a wrong line is refused
    // with its number.
    let parsed = match &args.script {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                eprintln!("tapi-host: {}: {e}", path.display());
                ExitCode::from(2)
            })?;
            Some(script::parse(&text).map_err(|e| {
                eprintln!("tapi-host: {}: {e}", path.display());
                ExitCode::from(2)
            })?)
        }
        None => None,
    };
    let tspi = table(args.tsp.as_deref()).map_err(|e| {
        eprintln!("tapi-host: {e}");
        ExitCode::from(3)
    })?;
    let options = Options {
        provider_id: args.provider_id,
        device_id_base: args.device_id_base,
    };
    let host = Host::start(tspi, options, Output::new()).map_err(|e| {
        eprintln!("tapi-host: {e}");
        ExitCode::from(3)
    })?;
    let mut runner = Runner::new(host);
    let mut status = Ok(());
    let mut step = |runner: &mut Runner, line: usize, cmd: &Command| -> bool {
        match runner.run(line, cmd) {
            Ok(()) => !runner.host.is_down(),
            Err(e) => {
                eprintln!("tapi-host: {e}");
                status = Err(ExitCode::from(1));
                false
            }
        }
    };
    match parsed {
        Some(commands) => {
            for (line, cmd) in &commands {
                if !step(&mut runner, *line, cmd) {
                    break;
                }
            }
        }
        None => {
            let stdin = std::io::stdin();
            for (i, text) in stdin.lock().lines().enumerate() {
                let Ok(text) = text else { break };
                match script::parse_line(&text) {
                    Ok(None) => {}
                    Ok(Some(cmd)) => {
                        if !step(&mut runner, i + 1, &cmd) {
                            break;
                        }
                    }
                    Err(e) => {
                        eprintln!("tapi-host: script line {}: {e}", i + 1);
                        runner.host.note(
                            "ERROR",
                            vec![("error", format!("script line {}: {e}", i + 1).into())],
                        );
                        status = Err(ExitCode::from(2));
                        break;
                    }
                }
            }
        }
    }
    let took = runner.host.shutdown();
    eprintln!(
        "tapi-host: TSPI_providerShutdown took {:.1} ms",
        took.as_secs_f64() * 1000.0
    );
    let violations = runner
        .host
        .out
        .lines()
        .iter()
        .filter(|l| l["msg"] == "VIOLATION")
        .count();
    if violations > 0 {
        eprintln!("tapi-host: the provider broke the TSPI contract {violations} times");
        status = status.and(Err(ExitCode::from(1)));
    }
    status
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    if args.check_exports {
        let Some(tsp) = &args.tsp else {
            eprintln!("--check-exports needs --tsp PATH");
            return ExitCode::from(2);
        };
        return check_exports(tsp);
    }
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(code) => code,
    }
}
