//! The handset: text commands in (a serial console, buttons mapped to words), one
//! line per change out.
//!
//! | command | what the line does |
//! |---|---|
//! | `offhook` | lifts the handset: answers the ringing call, or starts dialling |
//! | `onhook` / `hangup` | puts it down: ends the newest call |
//! | `dial NUMBER` | dials in the call the handset started (or places a new one) |
//! | `call NUMBER` | off hook and dial at once |
//! | `answer` | answers the ringing call |
//! | `hold` / `retrieve` | holds the connected call / takes the held one back |
//! | `transfer NUMBER` / `transfer` | single-step transfer / joins the held and the connected call's parties |
//! | `conference` | joins the held and the connected call |
//! | `deflect NUMBER` | sends the ringing call on |
//! | `digits DIGITS` | DTMF in the connected call |
//! | `dnd on\|off` | do-not-disturb |
//! | `forward immediate\|busy\|noanswer NUMBER\|off` | forwarding |
//! | `autoanswer on\|off` | answers incoming calls at once |
//! | `register` / `unregister` | a new registration / removes it |
//! | `status` | prints the line's state |

use core::fmt;

use ucsta_phone::{Action, Forward};

/// What a handset line asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command<'a> {
    /// Something for the phone.
    Act(Action<'a>),
    /// Print the state.
    Status,
}

/// Why a handset line was not understood.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum HandsetError<'a> {
    /// Nothing but white space.
    Empty,
    /// Not a command.
    Unknown(&'a str),
    /// The command needs a (different) argument.
    Usage(&'static str),
}

impl fmt::Display for HandsetError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandsetError::Empty => f.write_str("empty line"),
            HandsetError::Unknown(w) => write!(f, "unknown command `{w}`"),
            HandsetError::Usage(u) => write!(f, "usage: {u}"),
        }
    }
}

/// Parses one handset line.
///
/// # Errors
/// [`HandsetError`] for an empty line, an unknown command or a wrong argument.
pub fn parse(line: &str) -> Result<Command<'_>, HandsetError<'_>> {
    let mut words = line.split_ascii_whitespace();
    let command = words.next().ok_or(HandsetError::Empty)?;
    let (a, b) = (words.next(), words.next());
    if words.next().is_some() {
        return Err(HandsetError::Usage("at most two arguments"));
    }
    let none = |usage| match a {
        None => Ok(()),
        Some(_) => Err(HandsetError::Usage(usage)),
    };
    let one = |usage| match (a, b) {
        (Some(n), None) => Ok(n),
        _ => Err(HandsetError::Usage(usage)),
    };
    let switch = |usage| match one(usage)? {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err(HandsetError::Usage(usage)),
    };
    let act = match command {
        "offhook" => none("offhook").map(|()| Action::OffHook)?,
        "onhook" | "hangup" => none("onhook").map(|()| Action::Hangup)?,
        "dial" => Action::Dial(one("dial NUMBER")?),
        "call" => Action::Call(one("call NUMBER")?),
        "answer" => none("answer").map(|()| Action::Answer)?,
        "hold" => none("hold").map(|()| Action::Hold)?,
        "retrieve" => none("retrieve").map(|()| Action::Retrieve)?,
        "transfer" => match (a, b) {
            (Some(n), None) => Action::Transfer(n),
            (None, _) => Action::CompleteTransfer,
            _ => return Err(HandsetError::Usage("transfer [NUMBER]")),
        },
        "conference" => none("conference").map(|()| Action::Conference)?,
        "deflect" => Action::Deflect(one("deflect NUMBER")?),
        "digits" => Action::Digits(one("digits DIGITS")?),
        "dnd" => Action::DoNotDisturb(switch("dnd on|off")?),
        "autoanswer" => Action::AutoAnswer(switch("autoanswer on|off")?),
        "forward" => {
            const USAGE: &str = "forward immediate|busy|noanswer NUMBER|off";
            let kind = match a {
                Some("immediate") => Forward::Immediate,
                Some("busy") => Forward::Busy,
                Some("noanswer") => Forward::NoAnswer,
                _ => return Err(HandsetError::Usage(USAGE)),
            };
            match b {
                Some("off") => Action::Forward(kind, None),
                Some(n) => Action::Forward(kind, Some(n)),
                None => return Err(HandsetError::Usage(USAGE)),
            }
        }
        "register" => none("register").map(|()| Action::Register)?,
        "unregister" => none("unregister").map(|()| Action::Unregister)?,
        "status" => {
            none("status")?;
            return Ok(Command::Status);
        }
        other => return Err(HandsetError::Unknown(other)),
    };
    Ok(Command::Act(act))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands() {
        let ok = |l| parse(l).unwrap();
        assert_eq!(ok("offhook"), Command::Act(Action::OffHook));
        assert_eq!(ok("  dial   202 "), Command::Act(Action::Dial("202")));
        assert_eq!(ok("onhook"), Command::Act(Action::Hangup));
        assert_eq!(ok("transfer"), Command::Act(Action::CompleteTransfer));
        assert_eq!(ok("transfer 203"), Command::Act(Action::Transfer("203")));
        assert_eq!(ok("dnd on"), Command::Act(Action::DoNotDisturb(true)));
        assert_eq!(
            ok("forward busy 204"),
            Command::Act(Action::Forward(Forward::Busy, Some("204")))
        );
        assert_eq!(
            ok("forward immediate off"),
            Command::Act(Action::Forward(Forward::Immediate, None))
        );
        assert_eq!(ok("digits 12#*"), Command::Act(Action::Digits("12#*")));
        assert_eq!(ok("status"), Command::Status);
    }

    #[test]
    fn errors() {
        assert_eq!(parse(" \r"), Err(HandsetError::Empty));
        assert_eq!(parse("fly"), Err(HandsetError::Unknown("fly")));
        assert_eq!(parse("dial"), Err(HandsetError::Usage("dial NUMBER")));
        assert_eq!(parse("hold 1"), Err(HandsetError::Usage("hold")));
        assert_eq!(parse("dnd maybe"), Err(HandsetError::Usage("dnd on|off")));
        assert!(parse("forward sideways 1").is_err());
        assert!(parse("call 1 2 3").is_err());
    }
}
