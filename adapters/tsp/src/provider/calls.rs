//! TAPI calls: what the provider keeps per call and which features each state offers.

use csta_core::model::view::ConsultationPurpose;
use csta_core::types::DeviceRef;

use super::events::Claim;
use crate::dial::DialBuffer;
use crate::tapi;

/// Generations are 24 bits (see [`CallHandle::to_raw`]).
pub(crate) const GENERATION_MASK: u32 = 0x00FF_FFFF;

/// A handle to one call of a [`Provider`](super::Provider): a slot and its generation,
/// so a handle to a closed call never reaches a later call in the same slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallHandle {
    pub(crate) slot: u32,
    pub(crate) generation: u32,
}

impl CallHandle {
    /// The handle as one number (never 0, below 2^56 so that the TSPI layer can tag
    /// it with its provider instance), for `HDRVCALL`.
    pub const fn to_raw(self) -> u64 {
        (((self.generation & GENERATION_MASK) as u64) << 32) | (self.slot as u64 + 1)
    }

    /// The handle [`to_raw`](Self::to_raw) made; `None` for 0 or a slot out of range.
    pub const fn from_raw(raw: u64) -> Option<CallHandle> {
        let slot = (raw & 0xFFFF_FFFF) as u32;
        if slot == 0 {
            return None;
        }
        Some(CallHandle {
            slot: slot - 1,
            generation: (raw >> 32) as u32,
        })
    }
}

/// What a TAPI call stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Kind {
    /// One CSTA call at the line's device (or, before it is bound, the call a request
    /// is making).
    Plain,
    /// The consultation call of `of` (lineSetupTransfer, lineSetupConference,
    /// linePrepareAddToConference).
    Consult {
        of: CallHandle,
        purpose: ConsultationPurpose,
    },
    /// A conference made through TAPI (lineSetupConference, lineCompleteTransfer in
    /// conference mode): its members are [`Kind::Member`] calls.
    Conference,
    /// One party of `conf`. While the conference is being set up the member is the
    /// original call and keeps its CSTA binding; afterwards it is the `party` device's
    /// connection in the conference's CSTA call.
    Member {
        conf: CallHandle,
        party: Option<String>,
    },
}

/// A party of a call as `LINECALLINFO` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Party {
    /// The device ID as CSTA gave it.
    pub(crate) id: Option<String>,
    /// `LINECALLPARTYID_*`; 0 when nothing is known yet.
    pub(crate) flags: u32,
}

impl Party {
    pub(crate) fn from_ref(device: &DeviceRef<'_>) -> Party {
        match device {
            DeviceRef::DeviceIdentifier(d) | DeviceRef::NumberDialed(d) => {
                let id = d.id.to_string();
                if id.is_empty() {
                    Party {
                        id: None,
                        flags: tapi::LINECALLPARTYID_UNKNOWN,
                    }
                } else {
                    Party {
                        id: Some(id),
                        flags: tapi::LINECALLPARTYID_ADDRESS,
                    }
                }
            }
            DeviceRef::Restricted => Party {
                id: None,
                flags: tapi::LINECALLPARTYID_BLOCKED,
            },
            DeviceRef::NotKnown => Party {
                id: None,
                flags: tapi::LINECALLPARTYID_UNKNOWN,
            },
            DeviceRef::NotRequired | DeviceRef::NotSpecified => Party {
                id: None,
                flags: tapi::LINECALLPARTYID_UNAVAIL,
            },
        }
    }

    pub(crate) fn address(id: &str) -> Party {
        Party {
            id: Some(id.to_owned()),
            flags: tapi::LINECALLPARTYID_ADDRESS,
        }
    }
}

/// The parties of a call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Parties {
    pub(crate) caller: Party,
    pub(crate) called: Party,
    pub(crate) connected: Party,
    pub(crate) redirection: Party,
    pub(crate) redirecting: Party,
}

/// One TAPI call.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) generation: u32,
    /// The line's index.
    pub(crate) line: u32,
    /// TAPI's handle (`HTAPICALL`); 0 until TAPI gave one.
    pub(crate) ht_call: usize,
    /// Whether TAPI knows the call (created by a request, or offered by
    /// `LINE_NEWCALL`).
    pub(crate) known_to_tapi: bool,
    /// The CSTA call ID the call follows at the line's device.
    pub(crate) csta: Option<String>,
    pub(crate) kind: Kind,
    /// The request that created the call and has not completed yet: no events for the
    /// call until it has (TSPI rule).
    pub(crate) quiet_until: Option<u32>,
    /// The state (and mode) last reported.
    pub(crate) reported: Option<(u32, u32)>,
    /// A state the provider holds itself while no CSTA call stands for the call
    /// (`DIALTONE` of a consultation call before it dials, a conference being set up).
    pub(crate) synthetic: Option<u32>,
    pub(crate) origin: u32,
    pub(crate) reason: u32,
    pub(crate) parties: Parties,
    pub(crate) app_specific: u32,
    /// `LINECALLINFO.dwCallID`.
    pub(crate) call_id: u32,
    /// The related call (consultation of, conference of).
    pub(crate) related: Option<CallHandle>,
    /// A consultation made through TAPI from this (held) call, and what it is for.
    pub(crate) consultation: Option<(CallHandle, ConsultationPurpose)>,
    /// Partial dialling (`;`) collected by lineMakeCall / lineDial.
    pub(crate) dial: DialBuffer,
    /// Digits to send as DTMF once the call is connected (after a pause in the dial
    /// string).
    pub(crate) post_dial: Option<String>,
    /// `LINECALLINFOSTATE_*` changes not reported yet.
    pub(crate) info_changed: u32,
    /// IDLE was reported; the call waits for TSPI_lineCloseCall.
    pub(crate) idle: bool,
    /// The number dialled, for the called party until CSTA names it.
    pub(crate) dialled: Option<String>,
    /// Waiting for a CSTA call of this direction to stand for it (a MakeCall or pickup
    /// in flight).
    pub(crate) claim: Option<Claim>,
    /// TAPI answered `LINE_NEWCALL` without a handle: followed quietly until it ends.
    pub(crate) declined: bool,
    /// The call ended while quiet (its request not yet complete), with this disconnect
    /// mode: reported after the completion.
    pub(crate) gone_quietly: Option<Option<u32>>,
    /// When (in the provider's bind count) the call got its CSTA call: a snapshot
    /// asked for before that does not know it.
    pub(crate) bound_at: u64,
}

impl Call {
    pub(crate) fn new(generation: u32, line: u32, call_id: u32) -> Call {
        Call {
            generation,
            line,
            ht_call: 0,
            known_to_tapi: false,
            csta: None,
            kind: Kind::Plain,
            quiet_until: None,
            reported: None,
            synthetic: None,
            origin: tapi::LINECALLORIGIN_UNKNOWN,
            reason: tapi::LINECALLREASON_DIRECT,
            parties: Parties::default(),
            app_specific: 0,
            call_id,
            related: None,
            consultation: None,
            dial: DialBuffer::default(),
            post_dial: None,
            info_changed: 0,
            idle: false,
            dialled: None,
            claim: None,
            declined: false,
            bound_at: 0,
            gone_quietly: None,
        }
    }

    /// The state last reported, `IDLE` when none was.
    pub(crate) fn state(&self) -> u32 {
        self.reported.map_or(tapi::LINECALLSTATE_IDLE, |(s, _)| s)
    }
}

/// What one call state lets the application do (`LINECALLSTATUS.dwCallFeatures`),
/// given what else is on the line.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Context {
    /// Another call on the line is on hold (lineSwapHold, lineCompleteTransfer).
    pub(crate) other_held: bool,
    /// Another call on the line is active (lineSwapHold from the held side).
    pub(crate) other_active: bool,
    /// The call is a consultation (lineCompleteTransfer, lineAddToConference).
    pub(crate) consult: Option<ConsultationPurpose>,
    /// The call is a bound CSTA call (DIAL needs a synthetic dial tone).
    pub(crate) bound: bool,
    /// The call is a conference member.
    pub(crate) member: bool,
    /// The call is a TAPI conference.
    pub(crate) conference: bool,
}

/// `LINECALLFEATURE_*` and `LINECALLFEATURE2_*` of a call in `state`.
pub(crate) fn features(state: u32, cx: Context) -> (u32, u32) {
    use tapi::*;
    let mut f = 0;
    let mut f2 = 0;
    match state {
        LINECALLSTATE_OFFERING | LINECALLSTATE_ACCEPTED => {
            f |= LINECALLFEATURE_ANSWER | LINECALLFEATURE_DROP | LINECALLFEATURE_REDIRECT;
        }
        LINECALLSTATE_DIALTONE => {
            f |= LINECALLFEATURE_DROP;
            if !cx.bound {
                f |= LINECALLFEATURE_DIAL;
            }
        }
        LINECALLSTATE_DIALING | LINECALLSTATE_PROCEEDING | LINECALLSTATE_RINGBACK => {
            f |= LINECALLFEATURE_DROP;
            if cx.consult.is_some() {
                // Transfer while the consulted party still rings.
                f |= LINECALLFEATURE_COMPLETETRANSF;
                f2 |= LINECALLFEATURE2_TRANSFERNORM;
            }
        }
        LINECALLSTATE_CONNECTED => {
            f |= LINECALLFEATURE_DROP | LINECALLFEATURE_GENERATEDIGITS;
            if cx.conference {
                f |= LINECALLFEATURE_PREPAREADDCONF;
            } else {
                f |= LINECALLFEATURE_HOLD | LINECALLFEATURE_BLINDTRANSFER;
                f2 |= LINECALLFEATURE2_ONESTEPTRANSFER;
                if cx.consult.is_none() && !cx.other_held {
                    f |= LINECALLFEATURE_SETUPTRANSFER | LINECALLFEATURE_SETUPCONF;
                }
            }
            if cx.other_held {
                f |= LINECALLFEATURE_SWAPHOLD;
            }
            match cx.consult {
                Some(ConsultationPurpose::Transfer) => {
                    f |= LINECALLFEATURE_COMPLETETRANSF;
                    f2 |= LINECALLFEATURE2_TRANSFERNORM | LINECALLFEATURE2_TRANSFERCONF;
                }
                Some(ConsultationPurpose::Conference) => f |= LINECALLFEATURE_ADDTOCONF,
                None if cx.other_held => {
                    f |= LINECALLFEATURE_COMPLETETRANSF;
                    f2 |= LINECALLFEATURE2_TRANSFERNORM | LINECALLFEATURE2_TRANSFERCONF;
                }
                None => {}
            }
        }
        LINECALLSTATE_ONHOLD | LINECALLSTATE_ONHOLDPENDTRANSFER => {
            f |= LINECALLFEATURE_DROP | LINECALLFEATURE_UNHOLD;
            if cx.other_active {
                f |= LINECALLFEATURE_SWAPHOLD | LINECALLFEATURE_COMPLETETRANSF;
                f2 |= LINECALLFEATURE2_TRANSFERNORM | LINECALLFEATURE2_TRANSFERCONF;
            }
        }
        LINECALLSTATE_ONHOLDPENDCONF => {
            f |= LINECALLFEATURE_DROP;
            if cx.other_active {
                f |= LINECALLFEATURE_ADDTOCONF;
            }
        }
        LINECALLSTATE_CONFERENCED => {
            if cx.member {
                f |= LINECALLFEATURE_REMOVEFROMCONF | LINECALLFEATURE_DROP;
            } else {
                f |= LINECALLFEATURE_DROP;
            }
        }
        LINECALLSTATE_BUSY | LINECALLSTATE_DISCONNECTED | LINECALLSTATE_SPECIALINFO => {
            f |= LINECALLFEATURE_DROP;
        }
        _ => {}
    }
    (f, f2)
}

/// The number to show for a device ID: the user part of a SIP URI, the number of a
/// TEL URI, the inside of `N<..>`, else the ID itself.
pub(crate) fn display_number(id: &str) -> &str {
    let s = id.trim();
    let s = s
        .strip_prefix('<')
        .map_or(s, |r| r.strip_suffix('>').unwrap_or(r));
    if let Some(rest) = s.strip_prefix("N<").or_else(|| s.strip_prefix("n<")) {
        return rest.split('>').next().unwrap_or(rest).trim();
    }
    if let Some(colon) = s.find(':') {
        let (scheme, rest) = (&s[..colon], &s[colon + 1..]);
        if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
            if let Some(at) = rest.find('@') {
                let user = &rest[..at];
                return user.split(';').next().unwrap_or(user);
            }
            return rest.split([';', '?']).next().unwrap_or(rest);
        }
        if scheme.eq_ignore_ascii_case("tel") {
            return rest.split(';').next().unwrap_or(rest);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_handles_round_trip_and_reject_zero() {
        let h = CallHandle {
            slot: 5,
            generation: 9,
        };
        assert_eq!(CallHandle::from_raw(h.to_raw()), Some(h));
        assert_eq!(CallHandle::from_raw(0), None);
        assert_ne!(h.to_raw(), 0);
    }

    #[test]
    fn test_display_number() {
        for (id, shown) in [
            ("sip:201@localhost", "201"),
            ("sips:alice;x=1@example.com", "alice"),
            ("<sip:202@h;transport=tcp>", "202"),
            ("tel:+4989123;phone-context=x", "+4989123"),
            ("N<+49 89 1234>;noa=nk", "+49 89 1234"),
            ("200", "200"),
        ] {
            assert_eq!(display_number(id), shown, "{id}");
        }
    }

    #[test]
    fn test_every_live_state_can_drop() {
        use tapi::*;
        for state in [
            LINECALLSTATE_OFFERING,
            LINECALLSTATE_DIALTONE,
            LINECALLSTATE_DIALING,
            LINECALLSTATE_PROCEEDING,
            LINECALLSTATE_RINGBACK,
            LINECALLSTATE_CONNECTED,
            LINECALLSTATE_ONHOLD,
            LINECALLSTATE_ONHOLDPENDTRANSFER,
            LINECALLSTATE_ONHOLDPENDCONF,
            LINECALLSTATE_BUSY,
            LINECALLSTATE_DISCONNECTED,
        ] {
            let (f, _) = features(state, Context::default());
            assert_ne!(f & LINECALLFEATURE_DROP, 0, "{}", call_state_name(state));
        }
        assert_eq!(features(LINECALLSTATE_IDLE, Context::default()).0, 0);
    }
}
