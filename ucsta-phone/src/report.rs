//! What a phone tells its owner: one [`Report`] per notable happening.

use core::fmt;

use csta_core::uacsta::phone::PhoneEnd;
use sip_lite::registration::FailureReason;

/// A user, a number or a target as reports carry it (longer ones are cut).
pub type Name = heapless::String<64>;

/// Where a call stands, as the phone sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum CallState {
    /// The handset is off hook, no number dialled yet.
    Dialing,
    /// The INVITE is out, nothing heard yet.
    Calling,
    /// The far end rings (180/183).
    Ringback,
    /// An incoming call rings here.
    Ringing,
    /// The call is connected.
    Connected,
    /// The call is on hold (held here).
    Held,
    /// The call is over.
    Ended,
}

impl CallState {
    /// The name in reports (`connected`).
    pub const fn as_str(self) -> &'static str {
        match self {
            CallState::Dialing => "dialing",
            CallState::Calling => "calling",
            CallState::Ringback => "ringback",
            CallState::Ringing => "ringing",
            CallState::Connected => "connected",
            CallState::Held => "held",
            CallState::Ended => "ended",
        }
    }
}

impl fmt::Display for CallState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What moved a call to its new state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Cause {
    /// The handset went off hook.
    OffHook,
    /// We placed the call.
    Originated,
    /// A REFER told us to place it.
    Referred,
    /// A 3xx sent the call to a new target.
    Redirected,
    /// The far end rings.
    Ringing,
    /// A call came in.
    Incoming,
    /// Answered (here or there).
    Answered,
    /// Held by us.
    Hold,
    /// Retrieved by us.
    Retrieve,
    /// We hung up a connected or held call.
    Hangup,
    /// The handset went on hook before a number was dialled.
    Abandoned,
    /// We turned a ringing call away (486).
    Rejected,
    /// The call was cancelled before it was answered (by us or by the caller).
    Cancelled,
    /// The far end hung up.
    Bye,
    /// An INVITE with Replaces took this call's place.
    Replaced,
    /// The call was transferred.
    Transferred,
    /// We sent the ringing call elsewhere (302).
    Deflected,
    /// The ACK for our 2xx never came: the call was given up with a BYE.
    NoAck,
    /// The call failed with this SIP status (408 when nothing answered).
    Failed(u16),
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Cause::OffHook => "offhook",
            Cause::Originated => "originated",
            Cause::Referred => "referred",
            Cause::Redirected => "redirected",
            Cause::Ringing => "ringing",
            Cause::Incoming => "incoming",
            Cause::Answered => "answered",
            Cause::Hold => "hold",
            Cause::Retrieve => "retrieve",
            Cause::Hangup => "hangup",
            Cause::Abandoned => "abandoned",
            Cause::Rejected => "rejected",
            Cause::Cancelled => "cancelled",
            Cause::Bye => "bye",
            Cause::Replaced => "replaced",
            Cause::Transferred => "transferred",
            Cause::Deflected => "deflected",
            Cause::NoAck => "no-ack",
            Cause::Failed(s) => return write!(f, "{s}"),
        };
        f.write_str(s)
    }
}

/// One notable happening of a phone, from [`crate::Phone::poll_report`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Report {
    /// The registrar accepted the binding.
    Registered {
        /// The granted expiry in seconds.
        expires: u32,
    },
    /// A REGISTER failed; the phone retries later when `retrying`.
    RegistrationFailed {
        /// Why.
        reason: FailureReason,
        /// Whether another attempt follows.
        retrying: bool,
    },
    /// The binding was removed.
    Unregistered,
    /// A uaCSTA session was accepted.
    CstaUp,
    /// The uaCSTA session ended.
    CstaDown {
        /// Why.
        reason: PhoneEnd,
    },
    /// A CSTA request was served.
    CstaRequest {
        /// The request's element name (`MakeCall`).
        name: &'static str,
        /// The answer's element name (`MakeCallResponse`, `CSTAErrorCode`).
        answer: &'static str,
    },
    /// A CSTA event was queued to the application.
    CstaEvent {
        /// The event's element name (`DeliveredEvent`).
        name: &'static str,
    },
    /// The application refused an event INFO.
    CstaEventRejected {
        /// The SIP status, if any came.
        status: Option<u16>,
    },
    /// A call changed state.
    Call {
        /// The phone's own number for the call (1, 2, ...).
        call: u32,
        /// The new state.
        state: CallState,
        /// The far end's number (empty while dialling).
        peer: Name,
        /// What moved it.
        cause: Cause,
    },
    /// An incoming call was turned away or sent on without ringing here.
    Rejected {
        /// The caller.
        from: Name,
        /// The SIP status sent: 486 (do not disturb, no free line) or 302.
        status: u16,
        /// Where it was sent (302).
        to: Option<Name>,
    },
    /// Something went wrong that the phone survived.
    Warning {
        /// What the phone was doing (`hold`, `send INVITE`, `call model`).
        what: &'static str,
        /// Why it failed, cut to fit.
        why: heapless::String<80>,
    },
}

impl Report {
    /// A short name of the kind of report (`registered`, `call`, `warning`).
    pub const fn event(&self) -> &'static str {
        match self {
            Report::Registered { .. } => "registered",
            Report::RegistrationFailed { .. } => "registration_failed",
            Report::Unregistered => "unregistered",
            Report::CstaUp => "csta_up",
            Report::CstaDown { .. } => "csta_down",
            Report::CstaRequest { .. } => "csta_request",
            Report::CstaEvent { .. } => "csta_event",
            Report::CstaEventRejected { .. } => "csta_event_rejected",
            Report::Call { .. } => "call",
            Report::Rejected { .. } => "rejected",
            Report::Warning { .. } => "warning",
        }
    }
}

impl fmt::Display for Report {
    /// One line, as a handset display or a serial console shows it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.event())?;
        match self {
            Report::Registered { expires } => write!(f, " expires={expires}"),
            Report::RegistrationFailed { reason, retrying } => {
                f.write_str(" reason=")?;
                failure_reason(f, reason)?;
                f.write_str(if *retrying {
                    " retrying=true"
                } else {
                    " retrying=false"
                })
            }
            Report::Unregistered | Report::CstaUp => Ok(()),
            Report::CstaDown { reason } => {
                f.write_str(" reason=")?;
                f.write_str(phone_end(*reason))
            }
            Report::CstaRequest { name, answer } => write!(f, " {name} -> {answer}"),
            Report::CstaEvent { name } => write!(f, " {name}"),
            Report::CstaEventRejected { status: Some(s) } => write!(f, " status={s}"),
            Report::CstaEventRejected { status: None } => Ok(()),
            Report::Call {
                call,
                state,
                peer,
                cause,
            } => write!(f, " {call} {state} peer={peer} cause={cause}"),
            Report::Rejected { from, status, to } => {
                write!(f, " from={from} status={status}")?;
                match to {
                    Some(t) => write!(f, " to={t}"),
                    None => Ok(()),
                }
            }
            Report::Warning { what, why } => write!(f, " {what}: {why}"),
        }
    }
}

/// `reason` as its `Debug` shows it (`Status(StatusCode(404))`), written without the
/// `Debug` machinery (tuple builders, padding adapters, hexadecimal integers).
fn failure_reason(f: &mut fmt::Formatter<'_>, reason: &FailureReason) -> fmt::Result {
    let (name, status) = match *reason {
        FailureReason::Status(s) => ("Status", Some(s)),
        FailureReason::Timeout => ("Timeout", None),
        FailureReason::Transport => ("Transport", None),
        FailureReason::AuthRejected(s) => ("AuthRejected", Some(s)),
        FailureReason::Challenge(s) => ("Challenge", Some(s)),
        FailureReason::NotBound => ("NotBound", None),
        // A reason added later: the compiler drops this arm while there is none.
        _ => return write!(f, "{reason:?}"),
    };
    f.write_str(name)?;
    match status {
        Some(s) => write!(f, "(StatusCode({}))", s.0),
        None => Ok(()),
    }
}

/// `reason` as its `Debug` shows it (`Bye`).
const fn phone_end(reason: PhoneEnd) -> &'static str {
    match reason {
        PhoneEnd::Bye => "Bye",
        PhoneEnd::Replaced => "Replaced",
        PhoneEnd::Expired => "Expired",
        PhoneEnd::Lost => "Lost",
        PhoneEnd::NoAck => "NoAck",
        PhoneEnd::Closed => "Closed",
    }
}

/// Writes what fits of a [`fmt::Display`] into a fixed string: a report is never lost
/// because its text is long.
pub(crate) fn cut<const N: usize>(value: impl fmt::Display) -> heapless::String<N> {
    let mut out = heapless::String::new();
    let _ = cut_into(out.as_mut_view(), format_args!("{value}"));
    out
}

/// [`cut`] for strings of any capacity: one copy of the code, not one per `N`. `false`
/// when the text was cut (or a value failed to format).
pub(crate) fn cut_into(out: &mut heapless::string::StringView, args: fmt::Arguments<'_>) -> bool {
    struct Cut<'a>(&'a mut heapless::string::StringView);
    impl fmt::Write for Cut<'_> {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            // The longest prefix that fits and ends on a character boundary.
            let mut end = s.len().min(self.0.capacity() - self.0.len());
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            let (head, tail) = s.split_at(end);
            let _ = self.0.push_str(head);
            if tail.is_empty() {
                Ok(())
            } else {
                Err(fmt::Error)
            }
        }
    }
    fmt::write(&mut Cut(out), args).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_keeps_what_fits() {
        let s: heapless::String<5> = cut("abcdefgh");
        assert_eq!(s.as_str(), "abcde");
        let s: heapless::String<8> = cut(Cause::Failed(486));
        assert_eq!(s.as_str(), "486");
    }

    #[test]
    fn cut_ends_on_a_character_boundary() {
        let s: heapless::String<4> = cut("a\u{e9}\u{20ac}");
        assert_eq!(s.as_str(), "a\u{e9}");
        let s: heapless::String<6> = cut("a\u{e9}\u{20ac}");
        assert_eq!(s.as_str(), "a\u{e9}\u{20ac}");
    }

    #[test]
    fn reasons_read_as_their_debug() {
        use sip_lite::wire::StatusCode;
        let reasons = [
            FailureReason::Status(StatusCode(404)),
            FailureReason::Timeout,
            FailureReason::Transport,
            FailureReason::AuthRejected(StatusCode(401)),
            FailureReason::Challenge(StatusCode(407)),
            FailureReason::NotBound,
        ];
        for (reason, retrying) in reasons.into_iter().zip([true, false].into_iter().cycle()) {
            let r = Report::RegistrationFailed { reason, retrying };
            let s: heapless::String<80> = cut(&r);
            let want: heapless::String<80> = cut(format_args!(
                "registration_failed reason={reason:?} retrying={retrying}"
            ));
            assert_eq!(s, want);
        }
        let ends = [
            PhoneEnd::Bye,
            PhoneEnd::Replaced,
            PhoneEnd::Expired,
            PhoneEnd::Lost,
            PhoneEnd::NoAck,
            PhoneEnd::Closed,
        ];
        for reason in ends {
            let s: heapless::String<40> = cut(Report::CstaDown { reason });
            let want: heapless::String<40> = cut(format_args!("csta_down reason={reason:?}"));
            assert_eq!(s, want);
        }
    }

    #[test]
    fn display_is_one_line() {
        let r = Report::Call {
            call: 2,
            state: CallState::Connected,
            peer: cut("202"),
            cause: Cause::Answered,
        };
        let s: heapless::String<80> = cut(&r);
        assert_eq!(s.as_str(), "call 2 connected peer=202 cause=answered");
    }
}
