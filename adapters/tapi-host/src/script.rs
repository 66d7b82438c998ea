//! The scenario language: one command per line (see the crate's README for the whole
//! table).
//!
//! ```text
//! wait inservice 201
//! makecall 201 202            # the new call is $cN, N its htCall; also @201
//! wait callstate 202 OFFERING 5s
//! callinfo 202
//! answer 202
//! wait callstate 201 CONNECTED
//! drop 201
//! expect completion ok
//! wait idle 201
//! ```
//!
//! [`parse`] reads a whole script (every error with its line number, before anything
//! runs); [`parse_line`] reads one line (for a script read from a pipe as it comes).

use std::fmt;
use std::time::Duration;

use ucsta_tsp::tapi;

use crate::names;

/// The default time a `wait` or `expect completion` waits.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A call, as a command names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallRef {
    /// `$cN` (or `$N`): the call whose `HTAPICALL` is N (the `call` of the JSON lines).
    Handle(usize),
    /// `201`, `@201`, `@201.last`, `@201.first`, `@201.onhold`: a call of the line
    /// with this address.
    Line {
        /// The line's address (number) or name.
        addr: String,
        /// Which of its calls.
        select: Select,
    },
}

/// Which call of a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Select {
    /// The newest live call in a state the command expects (an offering call for
    /// `answer`, a held one for `unhold`, ...), else the newest live call.
    Default,
    /// The newest live call.
    Last,
    /// The oldest live call.
    First,
    /// The newest live call in this `LINECALLSTATE_*`.
    State(u32),
}

/// `lineCompleteTransfer`'s mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferMode {
    /// `LINETRANSFERMODE_TRANSFER`.
    Transfer,
    /// `LINETRANSFERMODE_CONFERENCE`.
    Conference,
}

/// What `linePickup` picks up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PickupTarget {
    /// A call ringing at this number (directed pickup).
    Number(String),
    /// A call ringing in this group (`None`: the line's own group).
    Group(Option<String>),
}

/// What `lineForward` sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ForwardSetting {
    /// One entry: a `LINEFORWARDMODE_*` to a number.
    To {
        /// `LINEFORWARDMODE_*`.
        mode: u32,
        /// The destination.
        dest: String,
        /// `dwNumRingsNoAnswer`.
        rings: u32,
    },
    /// Do not disturb: `UNCOND` without a destination.
    Dnd,
    /// Every forwarding off: a null list.
    Off,
}

/// The result `expect completion` wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expected {
    /// 0.
    Ok,
    /// This `LINEERR_*` (negative).
    Error(i32),
}

/// One command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `wait inservice ADDR [TIMEOUT]`.
    WaitInService(String, Duration),
    /// `wait outofservice ADDR [TIMEOUT]`.
    WaitOutOfService(String, Duration),
    /// `wait callstate CALL STATE [TIMEOUT]`.
    WaitCallState(CallRef, u32, Duration),
    /// `wait idle ADDR [TIMEOUT]`: the line has no call that is not idle.
    WaitIdle(String, Duration),
    /// `wait message NAME [ADDR] [TIMEOUT]`: a message of this name (`LINE_CREATE`,
    /// `LINE_GENERATE`, `CALLINFO`, ...), on this line if given.
    WaitMessage(String, Option<String>, Duration),
    /// `makecall ADDR [NUMBER]`.
    MakeCall(String, Option<String>),
    /// `dial CALL NUMBER`.
    Dial(CallRef, String),
    /// `answer CALL`.
    Answer(CallRef),
    /// `drop CALL`.
    Drop(CallRef),
    /// `hold CALL`.
    Hold(CallRef),
    /// `unhold CALL`.
    Unhold(CallRef),
    /// `swaphold ACTIVE HELD` (a line alone: its connected and its held call).
    SwapHold(CallRef, Option<CallRef>),
    /// `blindtransfer CALL NUMBER`.
    BlindTransfer(CallRef, String),
    /// `redirect CALL NUMBER`.
    Redirect(CallRef, String),
    /// `setuptransfer CALL`.
    SetupTransfer(CallRef),
    /// `completetransfer CALL [CONSULT] transfer|conference`.
    CompleteTransfer(CallRef, Option<CallRef>, TransferMode),
    /// `setupconference CALL`.
    SetupConference(CallRef),
    /// `prepareaddtoconference CONF`.
    PrepareAddToConference(CallRef),
    /// `addtoconference CONF [CONSULT]`.
    AddToConference(CallRef, Option<CallRef>),
    /// `removefromconference CALL`.
    RemoveFromConference(CallRef),
    /// `pickup ADDR NUMBER` or `pickup ADDR group [GROUP]`.
    Pickup(String, PickupTarget),
    /// `forward ADDR uncond|busy|noanswer|busyna NUMBER [RINGS]`, `forward ADDR dnd`,
    /// `forward ADDR off`.
    Forward(String, ForwardSetting),
    /// `digits CALL DIGITS [dtmf|pulse]`.
    Digits(CallRef, String, u32),
    /// `callinfo CALL`.
    CallInfo(CallRef),
    /// `callstatus CALL`.
    CallStatus(CallRef),
    /// `addressstatus ADDR`.
    AddressStatus(String),
    /// `devstatus ADDR`.
    DevStatus(String),
    /// `devcaps ADDR`.
    DevCaps(String),
    /// `expect completion ok|LINEERR_* [TIMEOUT]`: the last request's result.
    ExpectCompletion(Expected, Duration),
    /// `expect no-message DURATION`: no TAPI message or completion comes meanwhile.
    ExpectNoMessage(Duration),
    /// `sleep DURATION` (messages are still taken and printed).
    Sleep(Duration),
    /// `mark NAME`: prints `{"msg":"MARK","name":NAME}` (a driver waits for it).
    Mark(String),
    /// `shutdown`: the end (`TSPI_providerShutdown`); also done after the last line.
    Shutdown,
}

impl Command {
    /// Whether the command changes something (a request). The waits look at the
    /// messages since the last such command.
    pub fn is_action(&self) -> bool {
        !matches!(
            self,
            Command::WaitInService(..)
                | Command::WaitOutOfService(..)
                | Command::WaitCallState(..)
                | Command::WaitIdle(..)
                | Command::WaitMessage(..)
                | Command::CallInfo(_)
                | Command::CallStatus(_)
                | Command::AddressStatus(_)
                | Command::DevStatus(_)
                | Command::DevCaps(_)
                | Command::ExpectCompletion(..)
                | Command::ExpectNoMessage(_)
                | Command::Sleep(_)
                | Command::Mark(_)
        )
    }
}

/// A line that is not a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The line number (from 1).
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "script line {}: {}", self.line, self.message)
    }
}

impl std::error::Error for ParseError {}

/// `300ms`, `5s`, `2m`.
pub fn duration(s: &str) -> Option<Duration> {
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit())?);
    let n: u64 = digits.parse().ok()?;
    match unit {
        "ms" => Some(Duration::from_millis(n)),
        "s" => Some(Duration::from_secs(n)),
        "m" => Some(Duration::from_secs(n * 60)),
        _ => None,
    }
}

/// A call reference (see [`CallRef`]).
pub fn call_ref(s: &str) -> Option<CallRef> {
    if let Some(n) = s.strip_prefix("$c").or(s.strip_prefix('$')) {
        return n.parse().ok().map(CallRef::Handle);
    }
    let s = s.strip_prefix('@').unwrap_or(s);
    if s.is_empty() {
        return None;
    }
    let (addr, select) = match s.split_once('.') {
        None => (s, Select::Default),
        Some((addr, sel)) => {
            let select = match sel.to_ascii_lowercase().as_str() {
                "last" => Select::Last,
                "first" => Select::First,
                state => Select::State(names::value_of(names::LINECALLSTATE, state)?),
            };
            (addr, select)
        }
    };
    if addr.is_empty() {
        return None;
    }
    Some(CallRef::Line {
        addr: addr.to_owned(),
        select,
    })
}

struct Words<'a> {
    words: Vec<&'a str>,
    at: usize,
}

impl<'a> Words<'a> {
    fn next(&mut self, what: &str) -> Result<&'a str, String> {
        let w = self
            .words
            .get(self.at)
            .copied()
            .ok_or_else(|| format!("{what} expected"))?;
        self.at += 1;
        Ok(w)
    }

    fn peek(&self) -> Option<&'a str> {
        self.words.get(self.at).copied()
    }

    fn call(&mut self) -> Result<CallRef, String> {
        let w = self.next("a call")?;
        call_ref(w)
            .ok_or_else(|| format!("`{w}` is not a call ($cN, ADDR, @ADDR.last|first|STATE)"))
    }

    /// An optional call: the next word when it is not one of `keywords`.
    fn optional_call(&mut self, keywords: &[&str]) -> Result<Option<CallRef>, String> {
        match self.peek() {
            Some(w) if !keywords.iter().any(|k| k.eq_ignore_ascii_case(w)) => self.call().map(Some),
            _ => Ok(None),
        }
    }

    /// The optional trailing timeout.
    fn timeout(&mut self) -> Result<Duration, String> {
        match self.peek() {
            None => Ok(DEFAULT_TIMEOUT),
            Some(w) => {
                self.at += 1;
                duration(w).ok_or_else(|| format!("`{w}` is not a duration (300ms, 5s, 2m)"))
            }
        }
    }

    fn end(&self) -> Result<(), String> {
        match self.peek() {
            None => Ok(()),
            Some(w) => Err(format!("unexpected `{w}`")),
        }
    }
}

/// Reads one line; `Ok(None)` for a blank line or a comment.
///
/// # Errors
///
/// What is wrong with the line (the caller adds the line number).
pub fn parse_line(line: &str) -> Result<Option<Command>, String> {
    let text = match line.find('#') {
        Some(i) => &line[..i],
        None => line,
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        return Ok(None);
    }
    let mut w = Words { words, at: 1 };
    let cmd = match w.words[0].to_ascii_lowercase().as_str() {
        "wait" => match w.next("what to wait for")?.to_ascii_lowercase().as_str() {
            "inservice" => Command::WaitInService(w.next("a line")?.into(), w.timeout()?),
            "outofservice" => Command::WaitOutOfService(w.next("a line")?.into(), w.timeout()?),
            "idle" => Command::WaitIdle(w.next("a line")?.into(), w.timeout()?),
            "callstate" => {
                let call = w.call()?;
                let s = w.next("a call state")?;
                let state = names::value_of(names::LINECALLSTATE, s)
                    .ok_or_else(|| format!("`{s}` is not a LINECALLSTATE"))?;
                Command::WaitCallState(call, state, w.timeout()?)
            }
            "message" => {
                let name = w.next("a message name")?.to_owned();
                let addr = match w.peek() {
                    Some(a) if duration(a).is_none() => {
                        w.at += 1;
                        Some(a.to_owned())
                    }
                    _ => None,
                };
                Command::WaitMessage(name, addr, w.timeout()?)
            }
            other => {
                return Err(format!(
                    "`wait {other}`: inservice, outofservice, idle, callstate or message"
                ));
            }
        },
        "makecall" => {
            let addr = w.next("a line")?.to_owned();
            let number = w.peek().map(str::to_owned);
            if number.is_some() {
                w.at += 1;
            }
            Command::MakeCall(addr, number)
        }
        "dial" => Command::Dial(w.call()?, w.next("a number")?.into()),
        "answer" => Command::Answer(w.call()?),
        "drop" => Command::Drop(w.call()?),
        "hold" => Command::Hold(w.call()?),
        "unhold" => Command::Unhold(w.call()?),
        "swaphold" => Command::SwapHold(w.call()?, w.optional_call(&[])?),
        "blindtransfer" => Command::BlindTransfer(w.call()?, w.next("a number")?.into()),
        "redirect" => Command::Redirect(w.call()?, w.next("a number")?.into()),
        "setuptransfer" => Command::SetupTransfer(w.call()?),
        "completetransfer" => {
            let call = w.call()?;
            let consult = w.optional_call(&["transfer", "conference"])?;
            let mode = match w
                .next("transfer or conference")?
                .to_ascii_lowercase()
                .as_str()
            {
                "transfer" => TransferMode::Transfer,
                "conference" => TransferMode::Conference,
                other => return Err(format!("`{other}`: transfer or conference")),
            };
            Command::CompleteTransfer(call, consult, mode)
        }
        "setupconference" => Command::SetupConference(w.call()?),
        "prepareaddtoconference" => Command::PrepareAddToConference(w.call()?),
        "addtoconference" => Command::AddToConference(w.call()?, w.optional_call(&[])?),
        "removefromconference" => Command::RemoveFromConference(w.call()?),
        "pickup" => {
            let addr = w.next("a line")?.to_owned();
            let target = w.next("a number or `group`")?;
            let target = if target.eq_ignore_ascii_case("group") {
                let group = w.peek().map(str::to_owned);
                if group.is_some() {
                    w.at += 1;
                }
                PickupTarget::Group(group)
            } else {
                PickupTarget::Number(target.to_owned())
            };
            Command::Pickup(addr, target)
        }
        "forward" => {
            let addr = w.next("a line")?.to_owned();
            let what = w.next("uncond, busy, noanswer, busyna, dnd or off")?;
            let setting = match what.to_ascii_lowercase().as_str() {
                "dnd" => ForwardSetting::Dnd,
                "off" => ForwardSetting::Off,
                mode => {
                    let mode = match mode {
                        "uncond" => tapi::LINEFORWARDMODE_UNCOND,
                        "busy" => tapi::LINEFORWARDMODE_BUSY,
                        "noanswer" | "noansw" => tapi::LINEFORWARDMODE_NOANSW,
                        "busyna" => tapi::LINEFORWARDMODE_BUSYNA,
                        other => {
                            return Err(format!(
                                "`{other}`: uncond, busy, noanswer, busyna, dnd or off"
                            ));
                        }
                    };
                    let dest = w.next("a destination")?.to_owned();
                    let rings = match w.peek() {
                        Some(r) => {
                            w.at += 1;
                            r.parse()
                                .map_err(|_| format!("`{r}` is not a ring count"))?
                        }
                        None => 0,
                    };
                    ForwardSetting::To { mode, dest, rings }
                }
            };
            Command::Forward(addr, setting)
        }
        "digits" => {
            let call = w.call()?;
            let digits = w.next("digits")?.to_owned();
            let mode = match w.peek().map(str::to_ascii_lowercase).as_deref() {
                None => tapi::LINEDIGITMODE_DTMF,
                Some(m) => {
                    w.at += 1;
                    match m {
                        "dtmf" => tapi::LINEDIGITMODE_DTMF,
                        "pulse" => tapi::LINEDIGITMODE_PULSE,
                        other => return Err(format!("`{other}`: dtmf or pulse")),
                    }
                }
            };
            Command::Digits(call, digits, mode)
        }
        "callinfo" => Command::CallInfo(w.call()?),
        "callstatus" => Command::CallStatus(w.call()?),
        "addressstatus" => Command::AddressStatus(w.next("a line")?.into()),
        "devstatus" => Command::DevStatus(w.next("a line")?.into()),
        "devcaps" => Command::DevCaps(w.next("a line")?.into()),
        "expect" => match w.next("what to expect")?.to_ascii_lowercase().as_str() {
            "completion" => {
                let r = w.next("ok or a LINEERR_ name")?;
                let want = if r.eq_ignore_ascii_case("ok") || r == "0" {
                    Expected::Ok
                } else {
                    Expected::Error(
                        names::lineerr_value(r)
                            .ok_or_else(|| format!("`{r}` is not a LINEERR_ name"))?,
                    )
                };
                Command::ExpectCompletion(want, w.timeout()?)
            }
            "no-message" => {
                let d = w.next("a duration")?;
                Command::ExpectNoMessage(
                    duration(d).ok_or_else(|| format!("`{d}` is not a duration"))?,
                )
            }
            other => return Err(format!("`expect {other}`: completion or no-message")),
        },
        "sleep" => {
            let d = w.next("a duration")?;
            Command::Sleep(duration(d).ok_or_else(|| format!("`{d}` is not a duration"))?)
        }
        "mark" => Command::Mark(w.next("a name")?.into()),
        "shutdown" => Command::Shutdown,
        other => return Err(format!("unknown command `{other}`")),
    };
    w.end()?;
    Ok(Some(cmd))
}

/// Reads a whole script: its commands with their line numbers.
///
/// # Errors
///
/// The first line that is not a command.
pub fn parse(text: &str) -> Result<Vec<(usize, Command)>, ParseError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        match parse_line(line) {
            Ok(Some(c)) => out.push((i + 1, c)),
            Ok(None) => {}
            Err(message) => {
                return Err(ParseError {
                    line: i + 1,
                    message,
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Command as C;

    fn line(addr: &str, select: Select) -> CallRef {
        CallRef::Line {
            addr: addr.into(),
            select,
        }
    }

    const T: Duration = DEFAULT_TIMEOUT;

    #[test]
    fn test_parse_commands() {
        let cases: Vec<(&str, Command)> = vec![
            ("wait inservice 201", C::WaitInService("201".into(), T)),
            (
                "wait outofservice 201 30s",
                C::WaitOutOfService("201".into(), Duration::from_secs(30)),
            ),
            ("wait idle 202", C::WaitIdle("202".into(), T)),
            (
                "wait callstate 202 OFFERING",
                C::WaitCallState(
                    line("202", Select::Default),
                    tapi::LINECALLSTATE_OFFERING,
                    T,
                ),
            ),
            (
                "wait callstate $c3 idle 500ms",
                C::WaitCallState(
                    CallRef::Handle(3),
                    tapi::LINECALLSTATE_IDLE,
                    Duration::from_millis(500),
                ),
            ),
            (
                "wait message LINE_CREATE",
                C::WaitMessage("LINE_CREATE".into(), None, T),
            ),
            (
                "wait message LINE_GENERATE 201 2s",
                C::WaitMessage(
                    "LINE_GENERATE".into(),
                    Some("201".into()),
                    Duration::from_secs(2),
                ),
            ),
            (
                "makecall 201 202",
                C::MakeCall("201".into(), Some("202".into())),
            ),
            ("makecall 201", C::MakeCall("201".into(), None)),
            (
                "dial @201.dialtone 203",
                C::Dial(
                    line("201", Select::State(tapi::LINECALLSTATE_DIALTONE)),
                    "203".into(),
                ),
            ),
            ("answer 202", C::Answer(line("202", Select::Default))),
            ("drop @201.last", C::Drop(line("201", Select::Last))),
            ("drop $c1", C::Drop(CallRef::Handle(1))),
            ("drop $7", C::Drop(CallRef::Handle(7))),
            ("hold 201", C::Hold(line("201", Select::Default))),
            ("unhold @201.first", C::Unhold(line("201", Select::First))),
            (
                "swaphold 201",
                C::SwapHold(line("201", Select::Default), None),
            ),
            (
                "swaphold $c4 $c1",
                C::SwapHold(CallRef::Handle(4), Some(CallRef::Handle(1))),
            ),
            (
                "blindtransfer 201 203",
                C::BlindTransfer(line("201", Select::Default), "203".into()),
            ),
            (
                "redirect 202 203",
                C::Redirect(line("202", Select::Default), "203".into()),
            ),
            (
                "setuptransfer 201",
                C::SetupTransfer(line("201", Select::Default)),
            ),
            (
                "completetransfer 201 transfer",
                C::CompleteTransfer(line("201", Select::Default), None, TransferMode::Transfer),
            ),
            (
                "completetransfer $c1 $c3 CONFERENCE",
                C::CompleteTransfer(
                    CallRef::Handle(1),
                    Some(CallRef::Handle(3)),
                    TransferMode::Conference,
                ),
            ),
            (
                "setupconference 201",
                C::SetupConference(line("201", Select::Default)),
            ),
            (
                "prepareaddtoconference $c5",
                C::PrepareAddToConference(CallRef::Handle(5)),
            ),
            (
                "addtoconference 201",
                C::AddToConference(line("201", Select::Default), None),
            ),
            (
                "removefromconference @201.conferenced",
                C::RemoveFromConference(line(
                    "201",
                    Select::State(tapi::LINECALLSTATE_CONFERENCED),
                )),
            ),
            (
                "pickup 203 202",
                C::Pickup("203".into(), PickupTarget::Number("202".into())),
            ),
            (
                "pickup 203 group",
                C::Pickup("203".into(), PickupTarget::Group(None)),
            ),
            (
                "pickup 203 group sales",
                C::Pickup("203".into(), PickupTarget::Group(Some("sales".into()))),
            ),
            (
                "forward 201 uncond 203",
                C::Forward(
                    "201".into(),
                    ForwardSetting::To {
                        mode: tapi::LINEFORWARDMODE_UNCOND,
                        dest: "203".into(),
                        rings: 0,
                    },
                ),
            ),
            (
                "forward 201 noanswer 203 4",
                C::Forward(
                    "201".into(),
                    ForwardSetting::To {
                        mode: tapi::LINEFORWARDMODE_NOANSW,
                        dest: "203".into(),
                        rings: 4,
                    },
                ),
            ),
            (
                "forward 201 dnd",
                C::Forward("201".into(), ForwardSetting::Dnd),
            ),
            (
                "forward 201 off",
                C::Forward("201".into(), ForwardSetting::Off),
            ),
            (
                "digits 201 123",
                C::Digits(
                    line("201", Select::Default),
                    "123".into(),
                    tapi::LINEDIGITMODE_DTMF,
                ),
            ),
            (
                "digits $c2 9 pulse",
                C::Digits(CallRef::Handle(2), "9".into(), tapi::LINEDIGITMODE_PULSE),
            ),
            ("callinfo 202", C::CallInfo(line("202", Select::Default))),
            ("callstatus $c2", C::CallStatus(CallRef::Handle(2))),
            ("addressstatus 201", C::AddressStatus("201".into())),
            ("devstatus 201", C::DevStatus("201".into())),
            ("devcaps 201", C::DevCaps("201".into())),
            ("expect completion ok", C::ExpectCompletion(Expected::Ok, T)),
            (
                "expect completion LINEERR_INVALCALLSTATE 3s",
                C::ExpectCompletion(
                    Expected::Error(tapi::LINEERR_INVALCALLSTATE as i32),
                    Duration::from_secs(3),
                ),
            ),
            (
                "expect no-message 300ms",
                C::ExpectNoMessage(Duration::from_millis(300)),
            ),
            ("sleep 2s", C::Sleep(Duration::from_secs(2))),
            ("mark ready", C::Mark("ready".into())),
            ("  shutdown   # the end", C::Shutdown),
            ("WAIT INSERVICE 201", C::WaitInService("201".into(), T)),
        ];
        for (text, want) in cases {
            assert_eq!(parse_line(text), Ok(Some(want)), "{text}");
        }
    }

    #[test]
    fn test_parse_blank_and_comments() {
        for text in ["", "   ", "# a comment", "\t# indented"] {
            assert_eq!(parse_line(text), Ok(None), "{text:?}");
        }
    }

    #[test]
    fn test_parse_errors() {
        let cases = [
            ("fly 201", "unknown command `fly`"),
            ("wait", "what to wait for expected"),
            (
                "wait ringing 201",
                "`wait ringing`: inservice, outofservice, idle, callstate or message",
            ),
            (
                "wait callstate 202 RINGING",
                "`RINGING` is not a LINECALLSTATE",
            ),
            (
                "wait inservice 201 soon",
                "`soon` is not a duration (300ms, 5s, 2m)",
            ),
            ("answer", "a call expected"),
            (
                "answer $cX",
                "`$cX` is not a call ($cN, ADDR, @ADDR.last|first|STATE)",
            ),
            (
                "answer @201.ringing",
                "`@201.ringing` is not a call ($cN, ADDR, @ADDR.last|first|STATE)",
            ),
            ("drop 201 202", "unexpected `202`"),
            ("completetransfer 201", "transfer or conference expected"),
            (
                "completetransfer 201 $c2 merge",
                "`merge`: transfer or conference",
            ),
            (
                "forward 201 sometimes 203",
                "`sometimes`: uncond, busy, noanswer, busyna, dnd or off",
            ),
            ("forward 201 uncond", "a destination expected"),
            ("forward 201 busy 203 many", "`many` is not a ring count"),
            ("digits 201 12 tone", "`tone`: dtmf or pulse"),
            (
                "expect completion LINEERR_NOPE",
                "`LINEERR_NOPE` is not a LINEERR_ name",
            ),
            (
                "expect everything",
                "`expect everything`: completion or no-message",
            ),
            ("expect no-message", "a duration expected"),
            ("sleep 5", "`5` is not a duration"),
            ("sleep 5h", "`5h` is not a duration"),
        ];
        for (text, want) in cases {
            assert_eq!(parse_line(text), Err(want.to_owned()), "{text}");
        }
    }

    #[test]
    fn test_parse_script_numbers_lines() {
        let script = "# make a call\nwait inservice 201\n\nmakecall 201 202\n";
        let parsed = parse(script).unwrap();
        assert_eq!(
            parsed,
            vec![
                (2, C::WaitInService("201".into(), T)),
                (4, C::MakeCall("201".into(), Some("202".into()))),
            ]
        );
        assert_eq!(
            parse("wait inservice 201\nexplode\n"),
            Err(ParseError {
                line: 2,
                message: "unknown command `explode`".into()
            })
        );
        assert_eq!(
            parse("x").unwrap_err().to_string(),
            "script line 1: unknown command `x`"
        );
    }

    #[test]
    fn test_durations() {
        let cases = [
            ("300ms", Some(Duration::from_millis(300))),
            ("5s", Some(Duration::from_secs(5))),
            ("2m", Some(Duration::from_secs(120))),
            ("5", None),
            ("ms", None),
            ("1.5s", None),
        ];
        for (text, want) in cases {
            assert_eq!(duration(text), want, "{text}");
        }
    }

    #[test]
    fn test_actions() {
        assert!(C::MakeCall("201".into(), None).is_action());
        assert!(C::Forward("201".into(), ForwardSetting::Off).is_action());
        assert!(!C::WaitIdle("201".into(), T).is_action());
        assert!(!C::CallInfo(CallRef::Handle(1)).is_action());
    }
}
