//! The command line: `sip-parse [--stream] [--validate] FILE|-`.

use std::ffi::OsString;
use std::path::PathBuf;

/// The usage text, for `--help` and for mistakes.
pub(crate) const USAGE: &str = "\
usage: sip-parse [--stream] [--validate] FILE|-

Parses one SIP message from FILE (or standard input for -) and shows its start line,
every header with its typed form, and the body length.

options:
  --stream    frame the input as a stream (TCP/TLS): Content-Length is required and
              a message cut short is an error (\"incomplete message\")
  --validate  also apply the checks a user agent server makes before acting
              (sip_lite::wire::Policy::DEFAULT)
  -h, --help  show this text

exit status: 0 the message parsed (and validated), 1 it did not, 2 bad usage,
unreadable input or unwritable output";

/// Where the message comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Input {
    /// Standard input (`-`).
    Stdin,
    /// A file.
    File(PathBuf),
}

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// Print the usage text.
    Help,
    /// Parse a message.
    Parse {
        /// Stream framing instead of a datagram.
        stream: bool,
        /// Validate after parsing.
        validate: bool,
        /// The message source.
        input: Input,
    },
}

/// Reads the arguments that follow the program name.
///
/// # Errors
/// A one-line description of the mistake.
pub(crate) fn parse(args: impl IntoIterator<Item = OsString>) -> Result<Command, String> {
    let mut stream = false;
    let mut validate = false;
    let mut input = None;
    let mut options_done = false;
    for arg in args {
        let positional = if options_done {
            true
        } else {
            match arg.to_str() {
                Some("--") => {
                    options_done = true;
                    continue;
                }
                Some("-h" | "--help") => return Ok(Command::Help),
                Some("--stream") => {
                    stream = true;
                    continue;
                }
                Some("--validate") => {
                    validate = true;
                    continue;
                }
                Some("-") => true,
                Some(s) if s.starts_with('-') => return Err(format!("unknown option '{s}'")),
                _ => true,
            }
        };
        if positional {
            if input.is_some() {
                return Err("more than one input given".into());
            }
            input = Some(if arg == "-" && !options_done {
                Input::Stdin
            } else {
                Input::File(PathBuf::from(arg))
            });
        }
    }
    let input = input.ok_or("no input given (a file name, or - for standard input)")?;
    Ok(Command::Parse {
        stream,
        validate,
        input,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Command, String> {
        parse(args.iter().map(OsString::from))
    }

    #[test]
    fn test_parse_args() {
        assert_eq!(
            run(&["--validate", "a.sip", "--stream"]),
            Ok(Command::Parse {
                stream: true,
                validate: true,
                input: Input::File("a.sip".into()),
            })
        );
        assert_eq!(
            run(&["-"]),
            Ok(Command::Parse {
                stream: false,
                validate: false,
                input: Input::Stdin,
            })
        );
        assert_eq!(
            run(&["--", "--stream"]),
            Ok(Command::Parse {
                stream: false,
                validate: false,
                input: Input::File("--stream".into()),
            })
        );
        assert_eq!(run(&["x", "--help"]), Ok(Command::Help));
        assert!(run(&[]).is_err());
        assert!(run(&["a", "b"]).is_err());
        assert!(run(&["--strem", "a"]).is_err());
    }
}
