//! The script language of `phone-sim --script`.
//!
//! One command per line; `#` at the start of a word starts a comment; blank lines are ignored. A line may start
//! with `NAME:` to address one phone; without it the line goes to the first phone (the
//! one given on the command line, or the first `phone` line).
//!
//! | Line | What the phone does |
//! |------|---------------------|
//! | `phone NAME USER [PASSWORD]` | declares another phone in the process (before its first use) |
//! | `register` / `unregister` | REGISTER (digest, refresh) / remove the binding |
//! | `call NUMBER` | places a call (INVITE with SDP through the outbound proxy) |
//! | `offhook` / `dial NUMBER` | lifts the handset (answers a ringing call, or starts dialling) / dials in the call it started |
//! | `digits DIGITS` | sends DTMF in the connected call (one INFO `application/dtmf-relay` per digit) |
//! | `answer` | answers the ringing call (200 with SDP) |
//! | `hangup` | clears the newest call (BYE, CANCEL, 486 when ringing; ends dialling) |
//! | `hold` / `retrieve` | re-INVITE `a=sendonly` / `a=sendrecv` |
//! | `transfer NUMBER` | single-step transfer of the active call (REFER) |
//! | `transfer` | consultation transfer: joins the held and the connected call's parties (REFER with Replaces to the held party) |
//! | `conference` | joins the held and the connected call (reported to the call model; no mixing) |
//! | `deflect NUMBER` | sends the ringing call to NUMBER (302) |
//! | `dnd on` / `dnd off` | do-not-disturb (incoming calls get 486) |
//! | `forward immediate\|busy\|noanswer NUMBER` / `forward immediate\|busy\|noanswer off` | forwarding (immediate: 302 to NUMBER) |
//! | `auto-answer on\|off` | answer incoming calls at once |
//! | `wait STATE [TIMEOUT]` | waits until the phone is in STATE (see below), default 5s |
//! | `expect NAME [TIMEOUT]` | waits for a report whose `event` or `name` is NAME, default 5s |
//! | `sleep DURATION` | pauses the script |
//! | `quit` | ends the script (phones unregister) |
//!
//! States for `wait`: `registered`, `unregistered`, `csta` (a CSTA session is up),
//! `idle` (no call), `dialing`, `calling`, `ringback`, `ringing`, `connected`, `held`.
//! Durations are a number with `ms` or `s`: `500ms`, `2s`.
//!
//! Every notable happening is one JSON line on stdout (see [`crate::report::Report`]).

use std::fmt;
use std::time::Duration;

use crate::phone::Action;

/// A state a `wait` line waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitState {
    /// The registration is in force.
    Registered,
    /// No binding.
    Unregistered,
    /// A uaCSTA session is up.
    Csta,
    /// No call.
    Idle,
    /// The handset is off hook, nothing dialled yet.
    Dialing,
    /// An outgoing call was sent, nothing heard yet.
    Calling,
    /// An outgoing call rings at the far end.
    Ringback,
    /// An incoming call rings here.
    Ringing,
    /// A call is connected.
    Connected,
    /// A call is on hold.
    Held,
}

impl WaitState {
    fn parse(word: &str) -> Option<WaitState> {
        Some(match word {
            "registered" => WaitState::Registered,
            "unregistered" => WaitState::Unregistered,
            "csta" => WaitState::Csta,
            "idle" => WaitState::Idle,
            "dialing" => WaitState::Dialing,
            "calling" => WaitState::Calling,
            "ringback" => WaitState::Ringback,
            "ringing" => WaitState::Ringing,
            "connected" => WaitState::Connected,
            "held" => WaitState::Held,
            _ => return None,
        })
    }
}

/// What one script line asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Something the phone does.
    Act(Action),
    /// Wait for a state.
    Wait(WaitState, Duration),
    /// Wait for a report with this `event` or `name`.
    Expect(String, Duration),
    /// Pause.
    Sleep(Duration),
    /// End the script.
    Quit,
}

/// A script line after parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The line number, from 1.
    pub number: usize,
    /// The phone addressed by `NAME:`, if any.
    pub phone: Option<String>,
    /// What to do.
    pub step: Step,
}

/// A phone declared by a `phone` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneDecl {
    /// The name lines address it by.
    pub name: String,
    /// The SIP user (AOR user part and digest user name).
    pub user: String,
    /// The digest password, when it differs from the command line's.
    pub password: Option<String>,
}

/// A parsed script.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Script {
    /// Phones declared by `phone` lines, in order.
    pub phones: Vec<PhoneDecl>,
    /// The other lines, in order.
    pub lines: Vec<Line>,
}

/// Why a script does not parse: the line and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ScriptError {
    /// The line number, from 1.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

/// The default timeout of `wait` and `expect`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Parses a duration: digits followed by `ms` or `s`.
///
/// # Errors
/// A message saying what is wrong.
pub fn parse_duration(word: &str) -> Result<Duration, String> {
    let (digits, unit) = match word.strip_suffix("ms") {
        Some(d) => (d, 1),
        None => match word.strip_suffix('s') {
            Some(d) => (d, 1000),
            None => return Err(format!("`{word}` is not a duration (use 500ms or 2s)")),
        },
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("`{word}` is not a duration (use 500ms or 2s)"))?;
    Ok(Duration::from_millis(n.saturating_mul(unit)))
}

fn on_off(word: Option<&str>, what: &str) -> Result<bool, String> {
    match word {
        Some("on") => Ok(true),
        Some("off") => Ok(false),
        Some(other) => Err(format!("`{what}` takes on or off, not `{other}`")),
        None => Err(format!("`{what}` takes on or off")),
    }
}

fn number(word: Option<&str>, what: &str) -> Result<String, String> {
    match word {
        Some(n) => Ok(n.to_owned()),
        None => Err(format!("`{what}` needs a number")),
    }
}

fn timeout(word: Option<&str>) -> Result<Duration, String> {
    word.map_or(Ok(DEFAULT_TIMEOUT), parse_duration)
}

/// The line without its comment: from a `#` at its start or after white space (a
/// `#` inside a word, as in `digits 12#`, is a DTMF digit).
fn strip_comment(line: &str) -> &str {
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        if c == '#' && prev_space {
            return &line[..i];
        }
        prev_space = c.is_whitespace();
    }
    line
}

fn parse_line(words: &[&str]) -> Result<Step, String> {
    let (&command, args) = words
        .split_first()
        .ok_or_else(|| "empty command".to_owned())?;
    let arg = |i: usize| args.get(i).copied();
    let max_args = |n: usize| {
        if args.len() > n {
            Err(format!(
                "`{command}` takes at most {n} argument(s), got {}",
                args.len()
            ))
        } else {
            Ok(())
        }
    };
    let step = match command {
        "register" => {
            max_args(0)?;
            Step::Act(Action::Register)
        }
        "unregister" => {
            max_args(0)?;
            Step::Act(Action::Unregister)
        }
        "call" => {
            max_args(1)?;
            Step::Act(Action::Call(number(arg(0), command)?))
        }
        "offhook" => {
            max_args(0)?;
            Step::Act(Action::OffHook)
        }
        "dial" => {
            max_args(1)?;
            Step::Act(Action::Dial(number(arg(0), command)?))
        }
        "digits" => {
            max_args(1)?;
            Step::Act(Action::Digits(number(arg(0), command)?))
        }
        "answer" => {
            max_args(0)?;
            Step::Act(Action::Answer)
        }
        "hangup" => {
            max_args(0)?;
            Step::Act(Action::Hangup)
        }
        "hold" => {
            max_args(0)?;
            Step::Act(Action::Hold)
        }
        "retrieve" => {
            max_args(0)?;
            Step::Act(Action::Retrieve)
        }
        "transfer" => {
            max_args(1)?;
            match arg(0) {
                Some(n) => Step::Act(Action::Transfer(n.to_owned())),
                None => Step::Act(Action::CompleteTransfer),
            }
        }
        "conference" => {
            max_args(0)?;
            Step::Act(Action::Conference)
        }
        "deflect" => {
            max_args(1)?;
            Step::Act(Action::Deflect(number(arg(0), command)?))
        }
        "dnd" => {
            max_args(1)?;
            Step::Act(Action::DoNotDisturb(on_off(arg(0), command)?))
        }
        "auto-answer" => {
            max_args(1)?;
            Step::Act(Action::AutoAnswer(on_off(arg(0), command)?))
        }
        "forward" => {
            max_args(2)?;
            let kind = match arg(0) {
                Some("immediate") => crate::phone::ForwardKind::Immediate,
                Some("busy") => crate::phone::ForwardKind::Busy,
                Some("noanswer") => crate::phone::ForwardKind::NoAnswer,
                Some(other) => {
                    return Err(format!(
                        "`forward` takes immediate, busy or noanswer, not `{other}`"
                    ));
                }
                None => return Err("`forward` takes immediate, busy or noanswer".to_owned()),
            };
            let to = match arg(1) {
                Some("off") => None,
                Some(n) => Some(n.to_owned()),
                None => return Err("`forward` needs a number or off".to_owned()),
            };
            Step::Act(Action::Forward(kind, to))
        }
        "wait" => {
            max_args(2)?;
            let state = arg(0).ok_or_else(|| "`wait` needs a state".to_owned())?;
            let state = WaitState::parse(state).ok_or_else(|| {
                format!(
                    "unknown state `{state}` (registered, unregistered, csta, idle, calling, \
                     ringback, ringing, connected, held)"
                )
            })?;
            Step::Wait(state, timeout(arg(1))?)
        }
        "expect" => {
            max_args(2)?;
            let name = arg(0).ok_or_else(|| "`expect` needs an event name".to_owned())?;
            Step::Expect(name.to_owned(), timeout(arg(1))?)
        }
        "sleep" => {
            max_args(1)?;
            let d = arg(0).ok_or_else(|| "`sleep` needs a duration".to_owned())?;
            Step::Sleep(parse_duration(d)?)
        }
        "quit" => {
            max_args(0)?;
            Step::Quit
        }
        other => return Err(format!("unknown command `{other}`")),
    };
    Ok(step)
}

/// Parses a whole script.
///
/// # Errors
/// The first line that does not parse, with its number: an unknown command, a
/// missing or extra argument, a bad duration or state, a `phone` line that repeats a
/// name or comes after its first use, a line addressed to an undeclared phone.
pub fn parse(text: &str) -> Result<Script, ScriptError> {
    let mut script = Script::default();
    let mut used: Vec<String> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let number = i + 1;
        let err = |message: String| ScriptError {
            line: number,
            message,
        };
        let content = strip_comment(raw).trim();
        if content.is_empty() {
            continue;
        }
        let mut words: Vec<&str> = content.split_whitespace().collect();
        let mut phone = None;
        if let Some(first) = words.first()
            && let Some(name) = first.strip_suffix(':')
        {
            if name.is_empty() {
                return Err(err("empty phone name before `:`".to_owned()));
            }
            phone = Some(name.to_owned());
            words.remove(0);
        }
        if words.first() == Some(&"phone") {
            if phone.is_some() {
                return Err(err("a `phone` line takes no `NAME:` prefix".to_owned()));
            }
            let (name, user) = match (words.get(1), words.get(2)) {
                (Some(n), Some(u)) => (*n, *u),
                _ => return Err(err("`phone` needs a name and a user".to_owned())),
            };
            if words.len() > 4 {
                return Err(err(
                    "`phone` takes a name, a user and a password at most".to_owned()
                ));
            }
            if script.phones.iter().any(|p| p.name == name) {
                return Err(err(format!("phone `{name}` is declared twice")));
            }
            if used.iter().any(|u| u == name) {
                return Err(err(format!(
                    "phone `{name}` is declared after lines that use it"
                )));
            }
            script.phones.push(PhoneDecl {
                name: name.to_owned(),
                user: user.to_owned(),
                password: words.get(3).map(|p| (*p).to_owned()),
            });
            continue;
        }
        if let Some(name) = &phone {
            if !script.phones.iter().any(|p| &p.name == name) {
                return Err(err(format!("phone `{name}` is not declared")));
            }
            used.push(name.clone());
        }
        let step = parse_line(&words).map_err(err)?;
        script.lines.push(Line {
            number,
            phone,
            step,
        });
    }
    Ok(script)
}

impl fmt::Display for WaitState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WaitState::Registered => "registered",
            WaitState::Unregistered => "unregistered",
            WaitState::Csta => "csta",
            WaitState::Idle => "idle",
            WaitState::Dialing => "dialing",
            WaitState::Calling => "calling",
            WaitState::Ringback => "ringback",
            WaitState::Ringing => "ringing",
            WaitState::Connected => "connected",
            WaitState::Held => "held",
        })
    }
}
