//! `csta-decode`: shows how `csta-core` reads CSTA XML (ECMA-323).
//!
//! ```text
//! csta-decode [--framed] [--encode ed3|ed4|ed5|ed6] FILE|-
//! ```
//!
//! The input is one XML message, or with `--framed` a byte stream of ECMA-323 Annex J.2
//! frames (CSTA over TCP). Each message is printed as one line of JSON,
//! `{"invokeID":"9999","edition":"ed4","message":{...}}` (`invokeID` only with
//! `--framed`, `edition` `null` when the namespace names none), or with `--encode` as
//! the message re-encoded in that edition, one XML document per line.
//!
//! Exit status: 0 every message decoded; 1 one did not (`error: ...` on standard
//! error); 2 bad usage, an unreadable input or an unwritable output.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use csta_core::framing::{self, InvokeId, MAX_FRAME_LEN, Status};
use csta_core::{Edition, EncodeOptions};

/// The usage text, for `--help` and for mistakes.
const USAGE: &str = "\
usage: csta-decode [--framed] [--encode ed3|ed4|ed5|ed6] FILE|-

Decodes CSTA XML (ECMA-323) from FILE (or standard input for -) and prints each
message as one line of JSON: {\"invokeID\":..,\"edition\":..,\"message\":{..}}.

options:
  --framed       the input is a stream of ECMA-323 Annex J.2 frames (CSTA over
                 TCP: 8-octet header, then the XML); every frame is decoded and
                 the JSON carries its invokeID
  --encode EDN   print each message re-encoded as XML in edition EDN (ed3 to ed6),
                 one document per line, instead of JSON
  -h, --help     show this text

exit status: 0 every message decoded, 1 one did not, 2 bad usage, unreadable
input or unwritable output";

/// The JSON of one message must fit in this many octets.
const JSON_LIMIT: usize = 64 * 1024;

/// Where the input comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Input {
    /// Standard input (`-`).
    Stdin,
    /// A file.
    File(PathBuf),
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Command {
    /// Print the usage text.
    Help,
    /// Decode the input.
    Decode {
        /// Annex J.2 frames instead of one document.
        framed: bool,
        /// Re-encode in this edition instead of printing JSON.
        encode: Option<Edition>,
        /// The input.
        input: Input,
    },
}

fn main() -> ExitCode {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut err = io::stderr().lock();
    let code = match parse_args(std::env::args_os().skip(1)) {
        Ok(Command::Help) => writeln!(out, "{USAGE}").map(|()| 0),
        Ok(Command::Decode {
            framed,
            encode,
            input,
        }) => run(framed, encode, &input, &mut out, &mut err),
        Err(e) => writeln!(err, "csta-decode: {e}\n\n{USAGE}").map(|()| 2),
    };
    // Output that cannot be written (a closed pipe) ends the run quietly.
    let code = code.and_then(|c| out.flush().map(|()| c)).unwrap_or(2);
    ExitCode::from(code)
}

/// Reads the arguments that follow the program name.
fn parse_args(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let mut framed = false;
    let mut encode = None;
    let mut input = None;
    let mut options_done = false;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if !options_done {
            let inline = arg.to_str().and_then(|s| s.strip_prefix("--encode="));
            let edition = match arg.to_str() {
                _ if inline.is_some() => inline.map(OsString::from),
                Some("--") => {
                    options_done = true;
                    continue;
                }
                Some("-h" | "--help") => return Ok(Command::Help),
                Some("--framed") => {
                    framed = true;
                    continue;
                }
                Some("--encode") => Some(args.next().ok_or("--encode needs an edition")?),
                Some(s) if s.starts_with('-') && s != "-" => {
                    return Err(format!("unknown option '{s}'"));
                }
                _ => None,
            };
            if let Some(name) = edition {
                encode = Some(parse_edition(&name)?);
                continue;
            }
        }
        if input.is_some() {
            return Err("more than one input given".into());
        }
        input = Some(if arg == "-" && !options_done {
            Input::Stdin
        } else {
            Input::File(PathBuf::from(arg))
        });
    }
    let input = input.ok_or("no input given (a file name, or - for standard input)")?;
    Ok(Command::Decode {
        framed,
        encode,
        input,
    })
}

/// `ed3` to `ed6`: the editions `csta-core` encodes.
fn parse_edition(name: &OsString) -> Result<Edition, String> {
    match name.to_str() {
        Some("ed3") => Ok(Edition::Ed3),
        Some("ed4") => Ok(Edition::Ed4),
        Some("ed5") => Ok(Edition::Ed5),
        Some("ed6") => Ok(Edition::Ed6),
        _ => Err(format!(
            "unknown edition '{}' (ed3, ed4, ed5 or ed6)",
            name.to_string_lossy()
        )),
    }
}

/// Reads, decodes and prints; returns the exit status.
fn run(
    framed: bool,
    encode: Option<Edition>,
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
            writeln!(err, "csta-decode: cannot read {name}: {e}")?;
            return Ok(2);
        }
    };

    let result = if framed {
        each_frame(&bytes, |invoke_id, body| {
            show(Some(invoke_id), body, encode, out)
        })
    } else {
        show(None, &bytes, encode, out)
    };
    match result {
        Ok(()) => Ok(0),
        Err(Failure::Io(e)) => Err(e),
        Err(Failure::Message(e)) => {
            out.flush()?;
            writeln!(err, "error: {e}")?;
            Ok(1)
        }
    }
}

/// Why a run stopped.
enum Failure {
    /// The input is bad: reported as `error: ...`, exit status 1.
    Message(String),
    /// Standard output failed.
    Io(io::Error),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Io(e)
    }
}

/// Splits `bytes` into Annex J.2 frames and calls `f` on each; a frame cut short at the
/// end is an error.
fn each_frame(
    bytes: &[u8],
    mut f: impl FnMut(InvokeId, &[u8]) -> Result<(), Failure>,
) -> Result<(), Failure> {
    let mut offset = 0;
    let mut index = 1;
    while offset < bytes.len() {
        let rest = &bytes[offset..];
        let at = |e: &dyn std::fmt::Display| format!("frame {index} at octet {offset}: {e}");
        match framing::decode(rest, MAX_FRAME_LEN) {
            Ok(Status::Complete((frame, used))) => {
                f(frame.invoke_id, frame.body).map_err(|e| match e {
                    Failure::Message(m) => Failure::Message(at(&m)),
                    io => io,
                })?;
                offset += used;
                index += 1;
            }
            Ok(Status::Partial) => {
                return Err(Failure::Message(at(&format_args!(
                    "incomplete frame: the input ends after {} of its octets",
                    rest.len()
                ))));
            }
            Err(e) => return Err(Failure::Message(at(&e))),
        }
    }
    Ok(())
}

/// Decodes one XML document and prints it as JSON or, with `encode`, as XML.
fn show(
    invoke_id: Option<InvokeId>,
    xml: &[u8],
    encode: Option<Edition>,
    out: &mut impl Write,
) -> Result<(), Failure> {
    let decoded = csta_core::decode(xml).map_err(|e| Failure::Message(e.to_string()))?;
    if let Some(edition) = encode {
        let options = EncodeOptions {
            edition,
            declaration: true,
        };
        let mut buf = vec![0u8; decoded.message.buffer_len(&options)];
        let n = decoded
            .message
            .encode_with(&options, &mut buf)
            .map_err(|e| Failure::Message(format!("cannot encode in {edition}: {e}")))?;
        out.write_all(&buf[..n])?;
        out.write_all(b"\n")?;
        return Ok(());
    }

    let mut buf = vec![0u8; JSON_LIMIT];
    let n = csta_core::json::to_slice(&decoded.message, &mut buf).map_err(|e| {
        Failure::Message(format!(
            "cannot write the JSON ({e}; the limit is {JSON_LIMIT} octets)"
        ))
    })?;
    out.write_all(b"{")?;
    if let Some(id) = invoke_id {
        write!(out, "\"invokeID\":\"{id}\",")?;
    }
    match decoded.edition {
        Some(edition) => write!(out, "\"edition\":\"{edition}\",")?,
        None => out.write_all(b"\"edition\":null,")?,
    }
    out.write_all(b"\"message\":")?;
    out.write_all(&buf[..n])?;
    out.write_all(b"}\n")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Command, String> {
        parse_args(args.iter().map(OsString::from))
    }

    #[test]
    fn test_parse_args() {
        assert_eq!(
            run(&["--encode", "ed5", "a.xml", "--framed"]),
            Ok(Command::Decode {
                framed: true,
                encode: Some(Edition::Ed5),
                input: Input::File("a.xml".into()),
            })
        );
        assert_eq!(
            run(&["--encode=ed3", "-"]),
            Ok(Command::Decode {
                framed: false,
                encode: Some(Edition::Ed3),
                input: Input::Stdin,
            })
        );
        assert_eq!(
            run(&["--", "--framed"]),
            Ok(Command::Decode {
                framed: false,
                encode: None,
                input: Input::File("--framed".into()),
            })
        );
        assert_eq!(run(&["x", "--help"]), Ok(Command::Help));
        assert!(run(&[]).is_err());
        assert!(run(&["a", "b"]).is_err());
        assert!(run(&["--encode"]).is_err());
        assert!(run(&["--encode", "ed2", "a"]).is_err());
        assert!(run(&["--frame", "a"]).is_err());
    }
}
