//! `sip-parse`: shows how `sip-lite` reads one SIP message.
//!
//! ```text
//! sip-parse [--stream] [--validate] FILE|-
//! ```
//!
//! The message is framed as a datagram, or as the first message of a stream with
//! `--stream`. The start line, every header line with the typed form `sip-lite` parses it
//! into (or the reason it does not parse) and the body length go to standard output. A
//! message that cannot be framed is reported on standard error with the answer a server
//! gives it (`ParseError::reaction`), and so is a failed `--validate`.
//!
//! Exit status: 0 the message parsed (and validated); 1 it did not; 2 bad usage, an
//! unreadable input or an unwritable output.

mod args;
mod show;

use std::fs;
use std::io::{self, Read, Write};
use std::process::ExitCode;

use sip_lite::wire::{HeaderIndex, Message, Policy, Reaction, Status};

use args::{Command, Input};

/// Header lines a message may have; more is [`sip_lite::ParseError::TooManyHeaders`].
const MAX_HEADERS: usize = 256;

fn main() -> ExitCode {
    let stdout = io::stdout();
    let stderr = io::stderr();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut err = stderr.lock();
    let code = match args::parse(std::env::args_os().skip(1)) {
        Ok(Command::Help) => writeln!(out, "{}", args::USAGE).map(|()| 0),
        Ok(Command::Parse {
            stream,
            validate,
            input,
        }) => run(stream, validate, &input, &mut out, &mut err),
        Err(e) => writeln!(err, "sip-parse: {e}\n\n{}", args::USAGE).map(|()| 2),
    };
    // Output that cannot be written (a closed pipe: `sip-parse x | head -1`) ends the run
    // quietly: there is nowhere left to report it.
    let code = code.and_then(|c| out.flush().map(|()| c)).unwrap_or(2);
    ExitCode::from(code)
}

/// Reads, parses and shows the message; returns the exit status.
fn run(
    stream: bool,
    validate: bool,
    input: &Input,
    out: &mut impl Write,
    err: &mut impl Write,
) -> io::Result<u8> {
    let (name, bytes) = match input {
        Input::Stdin => {
            let mut buf = Vec::new();
            let r = io::stdin().lock().read_to_end(&mut buf);
            ("standard input".into(), r.map(|_| buf))
        }
        Input::File(path) => (path.display().to_string(), fs::read(path)),
    };
    let bytes = match bytes {
        Ok(b) => b,
        Err(e) => {
            writeln!(err, "sip-parse: cannot read {name}: {e}")?;
            return Ok(2);
        }
    };

    let mut headers = vec![HeaderIndex::EMPTY; MAX_HEADERS];
    let parsed = if stream {
        Message::parse_stream(&bytes, &mut headers).map(|s| match s {
            Status::Complete((msg, used)) => Some((msg, used)),
            Status::Partial => None,
        })
    } else {
        Message::parse(&bytes, &mut headers).map(|msg| Some((msg, bytes.len())))
    };
    let (msg, used) = match parsed {
        Ok(Some(m)) => m,
        Ok(None) => {
            writeln!(
                err,
                "error: incomplete message ({} octets read; the stream needs more)",
                bytes.len()
            )?;
            return Ok(1);
        }
        Err(e) => {
            writeln!(err, "error: {e} -> {}", reaction(e.reaction(&bytes)))?;
            return Ok(1);
        }
    };

    show::message(out, &msg)?;
    if stream && used < bytes.len() {
        writeln!(
            out,
            "stream: the message ends at octet {used}; {} octets follow",
            bytes.len() - used
        )?;
    }
    if validate {
        match msg.validate(&Policy::DEFAULT) {
            Ok(()) => writeln!(out, "validation: ok")?,
            Err(e) => {
                out.flush()?;
                writeln!(
                    err,
                    "error: validation failed: {e} -> {}",
                    reaction(e.reaction(msg.is_request()))
                )?;
                return Ok(1);
            }
        }
    }
    Ok(0)
}

/// `respond 400 Bad Request` or `drop`.
fn reaction(r: Reaction) -> String {
    match r {
        Reaction::Respond(status) => format!("respond {status} {}", status.default_reason()),
        Reaction::Drop => "drop".into(),
    }
}
