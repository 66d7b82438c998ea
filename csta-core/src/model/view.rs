//! The computing function's view of one monitored device.
//!
//! A [`DeviceView`] is what the uaCSTA server keeps per phone: it is fed every CSTA
//! message the phone sends about itself (events, and the responses to the server's
//! requests) through [`DeviceView::handle_message`], and exposes the device's calls
//! ([`CallView`]: state, peer, direction, consultation and conference relations, last
//! cause, TAPI call state), its do-not-disturb setting and its forwarding list. It
//! keeps fixed-capacity, owned state: at most `CALLS` calls, identifiers copied out of
//! the messages.
//!
//! ```
//! use csta_core::decode;
//! use csta_core::model::view::{DeviceView, TapiCallState};
//! use csta_core::names::ConnectionState;
//!
//! let mut view = DeviceView::<4>::new("sip:201@pbx").unwrap();
//! let delivered = br#"<DeliveredEvent><monitorCrossRefID>1</monitorCrossRefID>
//!   <connection><callID>7</callID><deviceID>sip:201@pbx</deviceID></connection>
//!   <alertingDevice><deviceIdentifier>sip:201@pbx</deviceIdentifier></alertingDevice>
//!   <callingDevice><deviceIdentifier>sip:202@pbx</deviceIdentifier></callingDevice>
//!   <calledDevice><deviceIdentifier>201</deviceIdentifier></calledDevice>
//!   <localConnectionInfo>alerting</localConnectionInfo><cause>newCall</cause>
//! </DeliveredEvent>"#;
//! view.handle_message(&decode(delivered).unwrap().message).unwrap();
//! let call = view.call("7").unwrap();
//! assert_eq!(call.local_state(), ConnectionState::Alerting);
//! assert_eq!(call.peer(), Some("sip:202@pbx"));
//! assert_eq!(call.tapi_state(), TapiCallState::Offering);
//! ```
//!
//! # Which connection is the device's own
//!
//! A phone names itself in many forms (`sip:201@host`, `201`, `tel:201;phone-context=x`,
//! `N<201>;noa=nk`). Two identifiers name the same device when their *user parts* are
//! equal ignoring ASCII case and the visual separators space, `-`, `.`, `(` and `)`
//! ([`same_device`]). The user part is: inside `N<..>` for the switching-function form;
//! the part before `@` (and before any `;` parameter) of a `sip:`/`sips:` URI; the
//! number before any `;` of a `tel:` URI; the text before any `;` otherwise. There is no
//! dial plan: `+49891234201` and `201` are different devices.
//!
//! Matching is only a fallback: the event's `localConnectionInfo`, when present, is
//! the device's own connection state and decides. Without it, the view infers from
//! the event type and the devices it names (e.g. a `DeliveredEvent` whose alerting
//! device is not this device is the far end ringing: this device's own connection is
//! `connected`).
//!
//! # Tolerance
//!
//! - An event for a call the view does not know creates it (calls that existed before
//!   the monitor, lost events), except events that end a call (`ConnectionCleared`,
//!   `CallCleared`, a `Transfered` or `Diverted` that takes the device out), which are
//!   ignored for unknown calls.
//! - Re-sent or duplicate events are idempotent: the returned [`Change`] is empty when
//!   nothing changed.
//! - `TransferedEvent` removes the transferring device's calls without waiting for a
//!   `ConnectionClearedEvent` (phones do not send one); a late one is ignored. The
//!   device is the transferring one when `localConnectionInfo` is `null`, or, without
//!   it, when the transferring device or the primary old call's device is this device.
//! - A connection without a `callID` (some simulators) is the call with the empty ID.
//! - Full call table: a new call first evicts a stale call (local state `null` or
//!   `fail`, whose clear never came); if there is none, the event is refused with
//!   [`ViewError::TableFull`] and the view is left unchanged.
//! - `SnapshotDeviceResponse` replaces the calls with the snapshot's (keeping what the
//!   view knew of calls still present: peer, direction, relations).
//! - `SetDoNotDisturb`/`SetForwarding` requests, when fed, are remembered; their
//!   positive response applies them (phones answer before acting, so the matching event
//!   may come later, or never); a `CSTAErrorCode` drops them.
//! - Device-level events (`DoNotDisturbEvent`, `ForwardingEvent`) are taken as this
//!   device's: the view is fed one device's monitor.
//!
//! # TAPI call states
//!
//! [`CallView::tapi_state`] derives the `LINECALLSTATE_*` value from the local
//! connection state and the last event:
//!
//! | CSTA                                                   | TAPI                          |
//! |--------------------------------------------------------|-------------------------------|
//! | `ServiceInitiated` (local `initiated`)                 | `DIALTONE`                    |
//! | `DigitsGenerated` while `initiated`                    | `DIALING`                     |
//! | `Originated`, `NetworkReached` (local `connected`)     | `PROCEEDING`                  |
//! | `Delivered`, local `alerting`                          | `OFFERING`                    |
//! | `Delivered`, local `connected` (far end rings)         | `RINGBACK`                    |
//! | `Established`, `Retrieved`, snapshot `connected`       | `CONNECTED`                   |
//! | `Held` (local `hold`)                                  | `ONHOLD`                      |
//! | `Held` of a call being consulted from                  | `ONHOLDPENDTRANSFER` (or `ONHOLDPENDCONF`, see [`DeviceView::set_consultation_purpose`]) |
//! | `Conferenced` (and later `connected` in the conference)| `CONFERENCED`                 |
//! | `Failed` with cause `busy` (or `callForwardBusy`, `trunksBusy`, `selectedTrunkBusy`, `recallBusy`) | `BUSY` |
//! | `Failed` with any other cause                          | `DISCONNECTED` + [`DisconnectMode`] |
//! | local `queued`                                         | `PROCEEDING`                  |
//! | `ConnectionCleared` of the other party, local still `connected` (not a conference) | `DISCONNECTED` + [`DisconnectMode`] |
//! | `ConnectionCleared` / `CallCleared`                    | `DISCONNECTED` + mode, then `IDLE` (call removed, [`RemovedCall::disconnect_mode`] is `Some`) |
//! | `Transfered` at the transferring device, `Diverted` away | `IDLE` (call removed, no disconnect mode) |
//!
//! The disconnect mode comes from the cause ([`DisconnectMode::from_cause`]):
//!
//! | cause                                                         | `LINEDISCONNECTMODE_*` |
//! |---------------------------------------------------------------|------------------------|
//! | none, `normalClearing`, `normal`, `transfer`, `singleStepTransfer`, `conference`, `consultation`, `newCall`, `makeCall` | `NORMAL` |
//! | `busy`, `callForwardBusy`, `recallBusy`                       | `BUSY`                 |
//! | `callNotAnswered`, `alertTimeExpired`, `timeout`, `callForwardNoAnswer`, `recallNoAnswer` | `NOANSWER` |
//! | `numberUnallocated`, `invalidNumberFormat`, `destNotObtainable` | `BADADDRESS`         |
//! | `numberChanged`                                               | `NUMBERCHANGED`        |
//! | `destOutOfOrder`, `networkOutOfOrder`                         | `OUTOFORDER`           |
//! | `networkNotObtainable`                                        | `UNREACHABLE`          |
//! | `networkCongestion`, `trunksBusy`, `selectedTrunkBusy`, `capacityOverflow`, `resourcesNotAvailable`, `reorderTone` | `CONGESTION` |
//! | `incompatibleDestination`, `notAvailableBearerService`, `notSupportedBearerService`, `unauthorisedBearerService` | `INCOMPATIBLE` |
//! | `callPickup`                                                  | `PICKUP`               |
//! | `redirected`, `callForward`, `callForwardImmediate`           | `FORWARDED`            |
//! | `callCancelled`                                               | `CANCELLED`            |
//! | `doNotDisturb`                                                | `DONOTDISTURB`         |
//! | `blocked`, `lockout`                                          | `BLOCKED`              |
//! | anything else (including unknown causes)                      | `UNKNOWN`              |
//!
//! Unknown cause spellings that differ from a known cause only in ASCII case and spaces
//! (`Normal Clearing`, sent by an Asterisk-based PBX) count as that cause.

use core::fmt;

use heapless::{String, Vec};

use crate::message::Message;
use crate::message::call::ConnectionList;
use crate::message::device::{FORWARDING_LIST_MAX, ForwardListItem};
use crate::message::event::{
    ConferencedEvent, ConnectionClearedEvent, DeliveredEvent, DivertedEvent, EstablishedEvent,
    FailedEvent, HeldEvent, RetrievedEvent, TransferedEvent,
};
use crate::model::{CallIdBuf, CrossRefIdBuf, DeviceIdBuf, to_owned};
use crate::names::{ConnectionState, EventCause, ForwardingType};
use crate::types::{ConnectionId, DEVICE_ID_MAX, DeviceId, DeviceRef};
use crate::xml::Text;

/// Longest cause kept per call, in bytes; longer (unknown) causes are cut.
pub const CAUSE_MAX: usize = 48;
/// Longest forwarding type kept, in bytes; longer (unknown) types are cut.
pub const FORWARDING_TYPE_MAX: usize = 32;
/// Capacity of [`Change`]'s lists.
pub const CHANGE_MAX: usize = 3;
/// Other parties of a conference the view tracks per call.
pub const CONFERENCE_PARTIES_MAX: usize = 6;

/// An owned event cause (its wire spelling).
type CauseBuf = String<CAUSE_MAX>;

/// Why the view refused a message or an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ViewError {
    /// The device ID given to [`DeviceView::new`] is empty.
    EmptyDeviceId,
    /// An identifier is longer than the view stores.
    IdTooLong,
    /// A new call does not fit: every slot holds a live call. The view is unchanged.
    TableFull,
    /// A new forwarding type does not fit in the forwarding list. The view is
    /// unchanged.
    ForwardingFull,
}

impl fmt::Display for ViewError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ViewError::EmptyDeviceId => "empty device ID",
            ViewError::IdTooLong => "identifier too long",
            ViewError::TableFull => "call table full",
            ViewError::ForwardingFull => "forwarding list full",
        })
    }
}

impl core::error::Error for ViewError {}

/// A TAPI call state (`LINECALLSTATE_*`); the discriminant is the TAPI value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u32)]
pub enum TapiCallState {
    /// `LINECALLSTATE_IDLE`.
    Idle = 0x1,
    /// `LINECALLSTATE_OFFERING`.
    Offering = 0x2,
    /// `LINECALLSTATE_ACCEPTED`.
    Accepted = 0x4,
    /// `LINECALLSTATE_DIALTONE`.
    Dialtone = 0x8,
    /// `LINECALLSTATE_DIALING`.
    Dialing = 0x10,
    /// `LINECALLSTATE_RINGBACK`.
    Ringback = 0x20,
    /// `LINECALLSTATE_BUSY`.
    Busy = 0x40,
    /// `LINECALLSTATE_SPECIALINFO`.
    SpecialInfo = 0x80,
    /// `LINECALLSTATE_CONNECTED`.
    Connected = 0x100,
    /// `LINECALLSTATE_PROCEEDING`.
    Proceeding = 0x200,
    /// `LINECALLSTATE_ONHOLD`.
    OnHold = 0x400,
    /// `LINECALLSTATE_CONFERENCED`.
    Conferenced = 0x800,
    /// `LINECALLSTATE_ONHOLDPENDCONF`.
    OnHoldPendConf = 0x1000,
    /// `LINECALLSTATE_ONHOLDPENDTRANSFER`.
    OnHoldPendTransfer = 0x2000,
    /// `LINECALLSTATE_DISCONNECTED`.
    Disconnected = 0x4000,
    /// `LINECALLSTATE_UNKNOWN`.
    Unknown = 0x8000,
}

impl TapiCallState {
    /// The `LINECALLSTATE_*` value.
    pub const fn value(self) -> u32 {
        self as u32
    }
}

/// Why a call was disconnected (`LINEDISCONNECTMODE_*`); the discriminant is the TAPI
/// value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[repr(u32)]
pub enum DisconnectMode {
    /// `LINEDISCONNECTMODE_NORMAL`.
    Normal = 0x1,
    /// `LINEDISCONNECTMODE_UNKNOWN`.
    Unknown = 0x2,
    /// `LINEDISCONNECTMODE_REJECT`.
    Reject = 0x4,
    /// `LINEDISCONNECTMODE_PICKUP`.
    Pickup = 0x8,
    /// `LINEDISCONNECTMODE_FORWARDED`.
    Forwarded = 0x10,
    /// `LINEDISCONNECTMODE_BUSY`.
    Busy = 0x20,
    /// `LINEDISCONNECTMODE_NOANSWER`.
    NoAnswer = 0x40,
    /// `LINEDISCONNECTMODE_BADADDRESS`.
    BadAddress = 0x80,
    /// `LINEDISCONNECTMODE_UNREACHABLE`.
    Unreachable = 0x100,
    /// `LINEDISCONNECTMODE_CONGESTION`.
    Congestion = 0x200,
    /// `LINEDISCONNECTMODE_INCOMPATIBLE`.
    Incompatible = 0x400,
    /// `LINEDISCONNECTMODE_UNAVAIL`.
    Unavail = 0x800,
    /// `LINEDISCONNECTMODE_NODIALTONE`.
    NoDialtone = 0x1000,
    /// `LINEDISCONNECTMODE_NUMBERCHANGED` (TAPI 2.0).
    NumberChanged = 0x2000,
    /// `LINEDISCONNECTMODE_OUTOFORDER` (TAPI 2.0).
    OutOfOrder = 0x4000,
    /// `LINEDISCONNECTMODE_TEMPFAILURE` (TAPI 2.0).
    TempFailure = 0x8000,
    /// `LINEDISCONNECTMODE_BLOCKED` (TAPI 2.0).
    Blocked = 0x2_0000,
    /// `LINEDISCONNECTMODE_DONOTDISTURB` (TAPI 2.0).
    DoNotDisturb = 0x4_0000,
    /// `LINEDISCONNECTMODE_CANCELLED` (TAPI 2.0).
    Cancelled = 0x8_0000,
}

impl DisconnectMode {
    /// The `LINEDISCONNECTMODE_*` value.
    pub const fn value(self) -> u32 {
        self as u32
    }

    /// The mode matching an event cause (table in the [module docs](self)).
    pub fn from_cause(cause: Option<&EventCause<'_>>) -> DisconnectMode {
        use EventCause as C;
        let Some(cause) = cause else {
            return DisconnectMode::Normal;
        };
        match lenient_cause(cause) {
            C::NormalClearing
            | C::Normal
            | C::Transfer
            | C::SingleStepTransfer
            | C::Conference
            | C::Consultation
            | C::NewCall
            | C::MakeCall => DisconnectMode::Normal,
            C::Busy | C::CallForwardBusy | C::RecallBusy => DisconnectMode::Busy,
            C::CallNotAnswered
            | C::AlertTimeExpired
            | C::Timeout
            | C::CallForwardNoAnswer
            | C::RecallNoAnswer => DisconnectMode::NoAnswer,
            C::NumberUnallocated | C::InvalidNumberFormat | C::DestNotObtainable => {
                DisconnectMode::BadAddress
            }
            C::NumberChanged => DisconnectMode::NumberChanged,
            C::DestOutOfOrder | C::NetworkOutOfOrder => DisconnectMode::OutOfOrder,
            C::NetworkNotObtainable => DisconnectMode::Unreachable,
            C::NetworkCongestion
            | C::TrunksBusy
            | C::SelectedTrunkBusy
            | C::CapacityOverflow
            | C::ResourcesNotAvailable
            | C::ReorderTone => DisconnectMode::Congestion,
            C::IncompatibleDestination
            | C::NotAvailableBearerService
            | C::NotSupportedBearerService
            | C::UnauthorisedBearerService => DisconnectMode::Incompatible,
            C::CallPickup => DisconnectMode::Pickup,
            C::Redirected | C::CallForward | C::CallForwardImmediate => DisconnectMode::Forwarded,
            C::CallCancelled => DisconnectMode::Cancelled,
            C::DoNotDisturb => DisconnectMode::DoNotDisturb,
            C::Blocked | C::Lockout => DisconnectMode::Blocked,
            _ => DisconnectMode::Unknown,
        }
    }
}

/// A known cause for an unknown spelling that differs from a known one only in ASCII
/// case and spaces (`Normal Clearing`), else the cause itself.
fn lenient_cause<'a>(cause: &EventCause<'a>) -> EventCause<'a> {
    let EventCause::Other(text) = cause else {
        return *cause;
    };
    let squeezed = || {
        text.chars()
            .filter(|c| *c != ' ')
            .map(|c| c.to_ascii_lowercase())
    };
    EventCause::ALL
        .iter()
        .find(|known| {
            let name = known.as_text();
            name.raw()
                .chars()
                .map(|c| c.to_ascii_lowercase())
                .eq(squeezed())
        })
        .copied()
        .unwrap_or(*cause)
}

/// Whether a failure cause means "busy" (TAPI `BUSY` rather than `DISCONNECTED`).
fn is_busy(cause: Option<&EventCause<'_>>) -> bool {
    matches!(
        cause.map(lenient_cause),
        Some(
            EventCause::Busy
                | EventCause::CallForwardBusy
                | EventCause::TrunksBusy
                | EventCause::SelectedTrunkBusy
                | EventCause::RecallBusy
        )
    )
}

/// Who started a call, as far as the view knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Direction {
    /// The device placed the call.
    Outgoing,
    /// The call came to the device.
    Incoming,
    /// Not known (e.g. a call learnt from a snapshot).
    Unknown,
}

/// The last event that moved a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LastEvent {
    /// `ServiceInitiatedEvent`.
    ServiceInitiated,
    /// `OriginatedEvent`.
    Originated,
    /// `DeliveredEvent`.
    Delivered,
    /// `EstablishedEvent`.
    Established,
    /// `HeldEvent`.
    Held,
    /// `RetrievedEvent`.
    Retrieved,
    /// `ConferencedEvent`.
    Conferenced,
    /// `TransferedEvent` (the device stayed in the call).
    Transfered,
    /// `DivertedEvent` (the device stayed in the call).
    Diverted,
    /// `FailedEvent`.
    Failed,
    /// `NetworkReachedEvent`.
    NetworkReached,
    /// `DigitsGeneratedEvent`.
    DigitsGenerated,
    /// `ConnectionClearedEvent` of another party (the device stayed in the call).
    ConnectionCleared,
    /// A `SnapshotDeviceResponse`.
    Snapshot,
}

/// What a consultation is for: decides the TAPI state of the held call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ConsultationPurpose {
    /// A transfer (`ONHOLDPENDTRANSFER`), the default.
    Transfer,
    /// A conference (`ONHOLDPENDCONF`).
    Conference,
}

/// One call at the device, as the view knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallView {
    call_id: CallIdBuf,
    local_state: ConnectionState,
    peer: Option<DeviceIdBuf>,
    direction: Direction,
    consultation_of: Option<CallIdBuf>,
    consulted_by: Option<CallIdBuf>,
    held_for_consultation: bool,
    purpose: ConsultationPurpose,
    conference: bool,
    /// Fingerprints of the conference's other parties ([`party_key`]).
    parties: Vec<u32, CONFERENCE_PARTIES_MAX>,
    cause: CauseBuf,
    last_event: LastEvent,
}

impl CallView {
    fn new(call_id: CallIdBuf, last_event: LastEvent) -> Self {
        CallView {
            call_id,
            local_state: ConnectionState::Null,
            peer: None,
            direction: Direction::Unknown,
            consultation_of: None,
            consulted_by: None,
            held_for_consultation: false,
            purpose: ConsultationPurpose::Transfer,
            conference: false,
            parties: Vec::new(),
            cause: CauseBuf::new(),
            last_event,
        }
    }

    /// The call's ID (decoded; empty when the phone sent none).
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// The device's own connection state in the call.
    pub fn local_state(&self) -> ConnectionState {
        self.local_state
    }

    /// The other party: the caller of an incoming call, the called (alerting,
    /// answering) device of an outgoing one; `None` when not known or restricted. In a
    /// conference, the party of the primary call (`None` once it left).
    pub fn peer(&self) -> Option<&str> {
        self.peer.as_deref()
    }

    /// Who started the call.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// For a consultation call: the held call it consults from.
    pub fn consultation_of(&self) -> Option<&str> {
        self.consultation_of.as_deref()
    }

    /// For a call held for a consultation: the consultation call.
    pub fn consulted_by(&self) -> Option<&str> {
        self.consulted_by.as_deref()
    }

    /// Whether the call is a conference: it was conferenced and at least two other
    /// parties remain.
    pub fn in_conference(&self) -> bool {
        self.conference && self.parties.len() >= 2
    }

    /// The number of other parties in the conference (0 when
    /// [`in_conference`](Self::in_conference) is false). Parties are counted from the
    /// `ConferencedEvent`'s connection list (at most [`CONFERENCE_PARTIES_MAX`]) and
    /// removed by their `ConnectionClearedEvent`.
    pub fn conference_parties(&self) -> usize {
        if self.in_conference() {
            self.parties.len()
        } else {
            0
        }
    }

    /// The cause of the last event that gave one (unknown causes as
    /// [`EventCause::Other`]).
    pub fn cause(&self) -> Option<EventCause<'_>> {
        (!self.cause.is_empty()).then(|| EventCause::from_text(Text::new(&self.cause)))
    }

    /// The last event that moved the call.
    pub fn last_event(&self) -> LastEvent {
        self.last_event
    }

    /// The TAPI call state (table in the [module docs](self)).
    pub fn tapi_state(&self) -> TapiCallState {
        use ConnectionState as S;
        match self.local_state {
            S::Null => TapiCallState::Idle,
            S::Initiated => match self.last_event {
                LastEvent::DigitsGenerated => TapiCallState::Dialing,
                _ => TapiCallState::Dialtone,
            },
            S::Alerting => TapiCallState::Offering,
            S::Queued => TapiCallState::Proceeding,
            S::Fail => {
                if is_busy(self.cause().as_ref()) {
                    TapiCallState::Busy
                } else {
                    TapiCallState::Disconnected
                }
            }
            S::Hold => {
                if self.held_for_consultation || self.consulted_by.is_some() {
                    match self.purpose {
                        ConsultationPurpose::Transfer => TapiCallState::OnHoldPendTransfer,
                        ConsultationPurpose::Conference => TapiCallState::OnHoldPendConf,
                    }
                } else {
                    TapiCallState::OnHold
                }
            }
            S::Connected => match self.last_event {
                LastEvent::Originated | LastEvent::NetworkReached => TapiCallState::Proceeding,
                LastEvent::Delivered => TapiCallState::Ringback,
                _ if self.in_conference() => TapiCallState::Conferenced,
                // The other party left and the device's connection lingers (a
                // conference down to two parties is an ordinary connected call).
                LastEvent::ConnectionCleared if !self.conference => TapiCallState::Disconnected,
                _ => TapiCallState::Connected,
            },
        }
    }

    /// The TAPI disconnect mode while [`tapi_state`](Self::tapi_state) is
    /// `DISCONNECTED`.
    pub fn disconnect_mode(&self) -> Option<DisconnectMode> {
        (self.tapi_state() == TapiCallState::Disconnected)
            .then(|| DisconnectMode::from_cause(self.cause().as_ref()))
    }
}

/// A call that left the view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedCall {
    call_id: CallIdBuf,
    disconnect_mode: Option<DisconnectMode>,
}

impl RemovedCall {
    /// The call's ID.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// `Some` when the call was disconnected (`ConnectionCleared`, `CallCleared`,
    /// eviction of a stale call): TAPI reports `DISCONNECTED` with this mode, then
    /// `IDLE`. `None` when it left by transfer, diversion or snapshot: TAPI reports
    /// `IDLE`.
    pub fn disconnect_mode(&self) -> Option<DisconnectMode> {
        self.disconnect_mode
    }
}

/// What one message changed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Change {
    updated: Vec<CallIdBuf, CHANGE_MAX>,
    removed: Vec<RemovedCall, CHANGE_MAX>,
    device: bool,
    resynchronised: bool,
}

impl Change {
    /// Whether nothing changed (an ignored, duplicate or irrelevant message).
    pub fn is_empty(&self) -> bool {
        self.updated.is_empty() && self.removed.is_empty() && !self.device && !self.resynchronised
    }

    /// The calls created or changed, by ID (see [`DeviceView::call`]).
    pub fn updated(&self) -> impl Iterator<Item = &str> {
        self.updated.iter().map(|id| id.as_str())
    }

    /// The calls that left the view.
    pub fn removed(&self) -> &[RemovedCall] {
        &self.removed
    }

    /// Whether a device setting (do-not-disturb, forwarding, monitor) changed.
    pub fn device(&self) -> bool {
        self.device
    }

    /// Whether the calls were replaced wholesale (snapshot, [`DeviceView::reset`]): the
    /// consumer should compare [`DeviceView::calls`] with what it had.
    pub fn resynchronised(&self) -> bool {
        self.resynchronised
    }

    fn update(&mut self, id: &CallIdBuf) {
        if !self.updated.contains(id) {
            // Capacity: no message touches more than CHANGE_MAX calls.
            let _ = self.updated.push(id.clone());
        }
    }

    fn remove(&mut self, call_id: CallIdBuf, disconnect_mode: Option<DisconnectMode>) {
        self.updated.retain(|id| *id != call_id);
        let _ = self.removed.push(RemovedCall {
            call_id,
            disconnect_mode,
        });
    }
}

/// One forwarding setting of the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forwarding {
    kind: String<FORWARDING_TYPE_MAX>,
    on: bool,
    destination: Option<DeviceIdBuf>,
    ring_count: Option<u32>,
}

impl Forwarding {
    /// Which forwarding.
    pub fn forwarding_type(&self) -> ForwardingType<'_> {
        ForwardingType::from_text(Text::new(&self.kind))
    }

    /// Whether it is on.
    pub fn is_on(&self) -> bool {
        self.on
    }

    /// Where calls go.
    pub fn destination(&self) -> Option<&str> {
        self.destination.as_deref()
    }

    /// Rings before forwarding on no answer.
    pub fn ring_count(&self) -> Option<u32> {
        self.ring_count
    }
}

/// The computing function's picture of one monitored device: its calls, do-not-disturb
/// and forwarding. `CALLS` is the call capacity.
#[derive(Debug, Clone)]
pub struct DeviceView<const CALLS: usize> {
    device: DeviceIdBuf,
    calls: Vec<CallView, CALLS>,
    dnd: Option<bool>,
    forwarding: Vec<Forwarding, FORWARDING_LIST_MAX>,
    monitor_cross_ref_id: Option<CrossRefIdBuf>,
    monitor_existing_calls: Option<bool>,
    pending_dnd: Option<bool>,
    pending_forwarding: Option<Forwarding>,
}

/// Copies `s` into a string of capacity `N`, cut at a character boundary when longer.
fn cut<const N: usize>(s: &str) -> String<N> {
    let mut out = String::new();
    for c in s.chars() {
        if out.push(c).is_err() {
            break;
        }
    }
    out
}

/// Copies decoded text into a string of capacity `N`, cut when longer.
fn cut_text<const N: usize>(text: &Text<'_>) -> String<N> {
    let mut out = String::new();
    for c in text.chars() {
        if out.push(c).is_err() {
            break;
        }
    }
    out
}

fn cause_buf(cause: Option<&EventCause<'_>>) -> CauseBuf {
    cause.map_or_else(CauseBuf::new, |c| cut_text(&c.as_text()))
}

/// The user part of a device identifier (see the [module docs](self)).
fn user_part(s: &str) -> &str {
    let s = s.trim_ascii();
    let s = s.strip_prefix('<').unwrap_or(s);
    if let Some(rest) = s.strip_prefix("N<").or_else(|| s.strip_prefix("n<")) {
        return rest.split('>').next().unwrap_or(rest);
    }
    let scheme_end = s.find(':');
    if let Some(colon) = scheme_end {
        let (scheme, rest) = (&s[..colon], &s[colon + 1..]);
        if scheme.eq_ignore_ascii_case("sip") || scheme.eq_ignore_ascii_case("sips") {
            let user = match rest.find('@') {
                Some(at) => &rest[..at],
                None => rest,
            };
            return user.split([';', '?', '>']).next().unwrap_or(user);
        }
        if scheme.eq_ignore_ascii_case("tel") {
            return rest.split([';', '>']).next().unwrap_or(rest);
        }
    }
    s.split([';', '>']).next().unwrap_or(s)
}

fn significant(s: &str) -> impl Iterator<Item = char> + '_ {
    user_part(s)
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .map(|c| c.to_ascii_lowercase())
}

/// Whether two device identifiers name the same device: equal user parts, ignoring
/// ASCII case and visual separators (rules in the [module docs](self)). Empty user
/// parts match nothing.
pub fn same_device(a: &str, b: &str) -> bool {
    significant(a).next().is_some() && significant(a).eq(significant(b))
}

impl<const CALLS: usize> DeviceView<CALLS> {
    /// An empty view of the device `device_id` (any of its forms).
    ///
    /// # Errors
    ///
    /// [`ViewError::EmptyDeviceId`] for an empty ID, [`ViewError::IdTooLong`] beyond
    /// [`DEVICE_ID_MAX`] bytes.
    pub fn new(device_id: &str) -> Result<Self, ViewError> {
        if significant(device_id).next().is_none() {
            return Err(ViewError::EmptyDeviceId);
        }
        let mut device = DeviceIdBuf::new();
        device
            .push_str(device_id)
            .map_err(|_| ViewError::IdTooLong)?;
        Ok(DeviceView {
            device,
            calls: Vec::new(),
            dnd: None,
            forwarding: Vec::new(),
            monitor_cross_ref_id: None,
            monitor_existing_calls: None,
            pending_dnd: None,
            pending_forwarding: None,
        })
    }

    /// The device's ID as given to [`new`](Self::new).
    pub fn device_id(&self) -> &str {
        &self.device
    }

    /// Whether `id` names this device ([`same_device`]).
    pub fn is_own(&self, id: &str) -> bool {
        same_device(&self.device, id)
    }

    /// The calls, oldest first.
    pub fn calls(&self) -> impl Iterator<Item = &CallView> {
        self.calls.iter()
    }

    /// The call with ID `call_id`.
    pub fn call(&self, call_id: &str) -> Option<&CallView> {
        self.calls.iter().find(|c| c.call_id == call_id)
    }

    /// Whether do-not-disturb is on; `None` until an event or response said.
    pub fn dnd(&self) -> Option<bool> {
        self.dnd
    }

    /// The forwarding settings known, in the order learnt.
    pub fn forwarding(&self) -> &[Forwarding] {
        &self.forwarding
    }

    /// The monitor's cross-reference ID from the last `MonitorStartResponse`.
    pub fn monitor_cross_ref_id(&self) -> Option<&str> {
        self.monitor_cross_ref_id.as_deref()
    }

    /// `monitorExistingCalls` from the last `MonitorStartResponse`.
    pub fn monitor_existing_calls(&self) -> Option<bool> {
        self.monitor_existing_calls
    }

    /// Forgets everything learnt (the session or monitor was lost): no calls, DND and
    /// forwarding unknown, no monitor. The returned change is marked resynchronised
    /// and lists the first [`CHANGE_MAX`] calls dropped (without disconnect mode).
    pub fn reset(&mut self) -> Change {
        let mut change = Change {
            resynchronised: true,
            device: true,
            ..Change::default()
        };
        for call in self.calls.iter().take(CHANGE_MAX) {
            change.remove(call.call_id.clone(), None);
        }
        self.calls.clear();
        self.dnd = None;
        self.forwarding.clear();
        self.monitor_cross_ref_id = None;
        self.monitor_existing_calls = None;
        self.pending_dnd = None;
        self.pending_forwarding = None;
        change
    }

    /// Records what a consultation from the held call `call_id` is for (the TSP knows
    /// whether it set up a transfer or a conference); returns whether the call exists.
    pub fn set_consultation_purpose(
        &mut self,
        call_id: &str,
        purpose: ConsultationPurpose,
    ) -> bool {
        match self.calls.iter_mut().find(|c| c.call_id == call_id) {
            Some(call) => {
                call.purpose = purpose;
                true
            }
            None => false,
        }
    }

    /// Feeds one message the device sent (or a request the server sent it, for
    /// `SetDoNotDisturb`/`SetForwarding`). Irrelevant messages are ignored.
    ///
    /// # Errors
    ///
    /// [`ViewError::TableFull`] when a new call does not fit,
    /// [`ViewError::ForwardingFull`] when a new forwarding type does not fit,
    /// [`ViewError::IdTooLong`] for a call ID beyond [`crate::types::CALL_ID_MAX`]
    /// bytes. On error the view is unchanged.
    pub fn handle_message(&mut self, message: &Message<'_>) -> Result<Change, ViewError> {
        let mut change = Change::default();
        match message {
            Message::ServiceInitiatedEvent(e) => {
                let id = call_id(&e.initiated_connection)?;
                let state = e
                    .local_connection_info
                    .unwrap_or(ConnectionState::Initiated);
                let cause = e.cause.as_ref();
                let index =
                    self.upsert(&mut change, id, LastEvent::ServiceInitiated, |call, _| {
                        call.local_state = state;
                        call.direction = Direction::Outgoing;
                        set_cause(call, cause);
                    })?;
                self.link_consultation(&mut change, index, cause);
            }
            Message::OriginatedEvent(e) => {
                let id = call_id(&e.originated_connection)?;
                let state = e
                    .local_connection_info
                    .unwrap_or(ConnectionState::Connected);
                let peer = peer_of(&e.called_device);
                let cause = e.cause.as_ref();
                let index = self.upsert(&mut change, id, LastEvent::Originated, |call, _| {
                    call.local_state = state;
                    call.direction = Direction::Outgoing;
                    set_peer(call, peer);
                    set_cause(call, cause);
                })?;
                self.link_consultation(&mut change, index, cause);
            }
            Message::DeliveredEvent(e) => self.delivered(&mut change, e)?,
            Message::EstablishedEvent(e) => self.established(&mut change, e)?,
            Message::NetworkReachedEvent(e) => {
                let id = call_id(&e.outbound_connection)?;
                let state = e
                    .local_connection_info
                    .unwrap_or(ConnectionState::Connected);
                let cause = e.cause.as_ref();
                let peer = peer_of(&e.called_device);
                self.upsert(&mut change, id, LastEvent::NetworkReached, |call, _| {
                    call.local_state = state;
                    if call.direction == Direction::Unknown {
                        call.direction = Direction::Outgoing;
                    }
                    if call.peer.is_none() {
                        set_peer(call, peer);
                    }
                    set_cause(call, cause);
                })?;
            }
            Message::HeldEvent(e) => self.held(&mut change, e)?,
            Message::RetrievedEvent(e) => self.retrieved(&mut change, e)?,
            Message::FailedEvent(e) => self.failed(&mut change, e)?,
            Message::ConnectionClearedEvent(e) => self.connection_cleared(&mut change, e)?,
            Message::CallClearedEvent(e) => {
                let id = call_id(&e.cleared_call)?;
                let mode = DisconnectMode::from_cause(e.cause.as_ref());
                self.remove_call(&mut change, &id, Some(mode));
            }
            Message::TransferedEvent(e) => self.transfered(&mut change, e)?,
            Message::ConferencedEvent(e) => self.conferenced(&mut change, e)?,
            Message::DivertedEvent(e) => self.diverted(&mut change, e)?,
            Message::DigitsGeneratedEvent(e) => {
                let id = call_id(&e.connection)?;
                if let Some(call) = self.calls.iter_mut().find(|c| c.call_id == id)
                    && call.last_event != LastEvent::DigitsGenerated
                    && call.local_state == ConnectionState::Initiated
                {
                    call.last_event = LastEvent::DigitsGenerated;
                    change.update(&id);
                }
            }
            Message::DoNotDisturbEvent(e) => self.set_dnd(&mut change, e.do_not_disturb_on),
            Message::GetDoNotDisturbResponse(r) => {
                self.set_dnd(&mut change, r.do_not_disturb_on);
            }
            Message::SetDoNotDisturb(r) => self.pending_dnd = Some(r.do_not_disturb_on),
            Message::SetDoNotDisturbResponse(_) => {
                if let Some(on) = self.pending_dnd.take() {
                    self.set_dnd(&mut change, on);
                }
            }
            Message::ForwardingEvent(e) => {
                let entry = forwarding_entry(
                    e.forwarding_type.as_ref(),
                    e.forward_status,
                    e.forward_to.as_ref(),
                    e.ring_count,
                );
                self.set_forwarding(&mut change, entry)?;
            }
            Message::SetForwarding(r) => {
                self.pending_forwarding = Some(forwarding_entry(
                    Some(&r.forwarding_type),
                    r.activate_forward,
                    r.forward_dn.as_ref(),
                    r.ring_count,
                ));
            }
            Message::SetForwardingResponse(_) => {
                if let Some(entry) = self.pending_forwarding.take() {
                    self.set_forwarding(&mut change, entry)?;
                }
            }
            Message::GetForwardingResponse(r) => {
                let items = r.forwarding_list.as_ref().map_or(&[][..], |l| &l.items[..]);
                self.replace_forwarding(&mut change, items);
            }
            Message::CSTAErrorCode(_) => {
                self.pending_dnd = None;
                self.pending_forwarding = None;
            }
            Message::MonitorStartResponse(r) => {
                let id: CrossRefIdBuf = cut_text(&r.monitor_cross_ref_id.0);
                if self.monitor_cross_ref_id.as_ref() != Some(&id)
                    || self.monitor_existing_calls != r.monitor_existing_calls
                {
                    self.monitor_cross_ref_id = Some(id);
                    self.monitor_existing_calls = r.monitor_existing_calls;
                    change.device = true;
                }
            }
            Message::SnapshotDeviceResponse(r) => {
                let deferred = r.service_cross_ref_id.is_some()
                    || r.cross_ref_id_or_snapshot_data
                        .as_ref()
                        .is_some_and(|c| c.service_cross_ref_id.is_some());
                let has_calls = r.calls().iter().any(|i| i.connection_identifier.is_some());
                if deferred && !has_calls {
                    // The snapshot follows as events.
                    return Ok(change);
                }
                self.snapshot(&mut change, r.calls())?;
            }
            _ => {}
        }
        Ok(change)
    }

    fn set_dnd(&mut self, change: &mut Change, on: bool) {
        if self.dnd != Some(on) {
            self.dnd = Some(on);
            change.device = true;
        }
    }

    fn set_forwarding(&mut self, change: &mut Change, entry: Forwarding) -> Result<(), ViewError> {
        match self.forwarding.iter_mut().find(|f| f.kind == entry.kind) {
            Some(f) => {
                if *f != entry {
                    *f = entry;
                    change.device = true;
                }
            }
            None => {
                self.forwarding
                    .push(entry)
                    .map_err(|_| ViewError::ForwardingFull)?;
                change.device = true;
            }
        }
        Ok(())
    }

    fn replace_forwarding(&mut self, change: &mut Change, items: &[ForwardListItem<'_>]) {
        let mut list = Vec::new();
        for item in items {
            // Same capacity as the message's list.
            let _ = list.push(forwarding_entry(
                Some(&item.forwarding_type),
                item.forward_status,
                item.forward_dn.as_ref(),
                item.ring_count,
            ));
        }
        if list != self.forwarding {
            self.forwarding = list;
            change.device = true;
        }
    }

    fn index(&self, id: &str) -> Option<usize> {
        self.calls.iter().position(|c| c.call_id == id)
    }

    /// Updates the call `id` with `f`, creating it (evicting a stale call if needed)
    /// when unknown. `f` gets the call and whether it was just created. Records the
    /// call in `change` when it differs afterwards.
    fn upsert(
        &mut self,
        change: &mut Change,
        id: CallIdBuf,
        last: LastEvent,
        f: impl FnOnce(&mut CallView, bool),
    ) -> Result<usize, ViewError> {
        let index = match self.index(&id) {
            Some(i) => i,
            None => {
                if self.calls.is_full() {
                    let stale = self.calls.iter().position(|c| {
                        matches!(c.local_state, ConnectionState::Null | ConnectionState::Fail)
                    });
                    let Some(stale) = stale else {
                        return Err(ViewError::TableFull);
                    };
                    let evicted = self.calls[stale].clone();
                    let mode = DisconnectMode::from_cause(evicted.cause().as_ref());
                    self.remove_call(change, &evicted.call_id, Some(mode));
                }
                let call = CallView::new(id.clone(), last);
                self.calls.push(call).map_err(|_| ViewError::TableFull)?;
                change.update(&id);
                let i = self.calls.len() - 1;
                if let Some(call) = self.calls.get_mut(i) {
                    f(call, true);
                }
                return Ok(i);
            }
        };
        if let Some(call) = self.calls.get_mut(index) {
            let before = call.clone();
            call.last_event = last;
            f(call, false);
            if *call != before {
                change.update(&id);
            }
        }
        Ok(index)
    }

    /// Removes the call `id` if known, unlinking consultation relations.
    fn remove_call(&mut self, change: &mut Change, id: &str, mode: Option<DisconnectMode>) {
        let Some(index) = self.index(id) else {
            return;
        };
        let call = self.calls.remove(index);
        for other in self.calls.iter_mut() {
            if other.consultation_of.as_deref() == Some(id) {
                other.consultation_of = None;
                change.update(&other.call_id);
            }
            if other.consulted_by.as_deref() == Some(id) {
                other.consulted_by = None;
                other.held_for_consultation = false;
                change.update(&other.call_id);
            }
        }
        change.remove(call.call_id, mode);
    }

    /// Links a new outgoing call to a held call awaiting a consultation.
    fn link_consultation(
        &mut self,
        change: &mut Change,
        index: usize,
        cause: Option<&EventCause<'_>>,
    ) {
        let Some(new_id) = self.calls.get(index).map(|c| c.call_id.clone()) else {
            return;
        };
        if self
            .calls
            .get(index)
            .is_some_and(|c| c.consultation_of.is_some())
        {
            return;
        }
        let consultation = matches!(cause, Some(EventCause::Consultation));
        let primary = self.calls.iter().position(|c| {
            c.call_id != new_id
                && c.local_state == ConnectionState::Hold
                && c.consulted_by.is_none()
                && (c.held_for_consultation || consultation)
        });
        let Some(primary) = primary else {
            return;
        };
        let Some(primary_id) = self.calls.get_mut(primary).map(|p| {
            p.consulted_by = Some(new_id.clone());
            p.held_for_consultation = true;
            p.call_id.clone()
        }) else {
            return;
        };
        change.update(&primary_id);
        if let Some(call) = self.calls.get_mut(index) {
            call.consultation_of = Some(primary_id);
            change.update(&new_id);
        }
    }

    fn delivered(&mut self, change: &mut Change, e: &DeliveredEvent<'_>) -> Result<(), ViewError> {
        let id = call_id(&e.connection)?;
        let alerting_is_own = e
            .alerting_device
            .as_ref()
            .and_then(|d| d.device_id())
            .map(|d| self.is_own_id(d));
        let state = match (e.local_connection_info, alerting_is_own) {
            (Some(state), _) => state,
            (None, Some(true)) => ConnectionState::Alerting,
            (None, Some(false)) => ConnectionState::Connected,
            (None, None) => {
                if self.is_own_connection(&e.connection) {
                    ConnectionState::Alerting
                } else {
                    ConnectionState::Connected
                }
            }
        };
        let incoming = state == ConnectionState::Alerting;
        let peer = if incoming {
            peer_of(&e.calling_device)
        } else {
            e.alerting_device
                .as_ref()
                .and_then(peer_of)
                .or_else(|| peer_of(&e.called_device))
        };
        let cause = e.cause.as_ref();
        let index = self.upsert(change, id, LastEvent::Delivered, |call, _| {
            call.local_state = state;
            call.direction = if incoming {
                Direction::Incoming
            } else {
                Direction::Outgoing
            };
            set_peer(call, peer);
            set_cause(call, cause);
        })?;
        if !incoming {
            self.link_consultation(change, index, cause);
        }
        Ok(())
    }

    fn established(
        &mut self,
        change: &mut Change,
        e: &EstablishedEvent<'_>,
    ) -> Result<(), ViewError> {
        let id = call_id(&e.established_connection)?;
        let state = e
            .local_connection_info
            .unwrap_or(ConnectionState::Connected);
        let answering_is_own = e
            .answering_device
            .device_id()
            .map(|d| self.is_own_id(d))
            .unwrap_or_else(|| self.is_own_connection(&e.established_connection));
        let known = self.call(&id).map(|c| c.direction);
        let direction = match known {
            Some(d @ (Direction::Incoming | Direction::Outgoing)) => d,
            _ if answering_is_own => Direction::Incoming,
            _ => Direction::Outgoing,
        };
        let peer = match direction {
            Direction::Incoming => peer_of(&e.calling_device),
            _ => peer_of(&e.answering_device).or_else(|| peer_of(&e.called_device)),
        };
        let cause = e.cause.as_ref();
        self.upsert(change, id, LastEvent::Established, |call, _| {
            call.local_state = state;
            call.direction = direction;
            set_peer(call, peer);
            set_cause(call, cause);
        })?;
        Ok(())
    }

    fn held(&mut self, change: &mut Change, e: &HeldEvent<'_>) -> Result<(), ViewError> {
        let id = call_id(&e.held_connection)?;
        let by_us = e
            .holding_device
            .device_id()
            .is_some_and(|d| self.is_own_id(d))
            || self.is_own_connection(&e.held_connection);
        let state = match e.local_connection_info {
            Some(state) => Some(state),
            None if by_us => Some(ConnectionState::Hold),
            // The far end put the device on hold: its own connection stays connected.
            None => None,
        };
        let consultation = matches!(e.cause, Some(EventCause::Consultation));
        let cause = e.cause.as_ref();
        self.upsert(change, id, LastEvent::Held, |call, created| {
            match state {
                Some(state) => call.local_state = state,
                None if created => call.local_state = ConnectionState::Connected,
                None => {}
            }
            if consultation && call.local_state == ConnectionState::Hold {
                call.held_for_consultation = true;
            }
            set_cause(call, cause);
        })?;
        Ok(())
    }

    fn retrieved(&mut self, change: &mut Change, e: &RetrievedEvent<'_>) -> Result<(), ViewError> {
        let id = call_id(&e.retrieved_connection)?;
        let by_us = e
            .retrieving_device
            .device_id()
            .is_some_and(|d| self.is_own_id(d))
            || self.is_own_connection(&e.retrieved_connection);
        let state = match e.local_connection_info {
            Some(state) => Some(state),
            None if by_us => Some(ConnectionState::Connected),
            None => None,
        };
        let cause = e.cause.as_ref();
        self.upsert(change, id, LastEvent::Retrieved, |call, created| {
            match state {
                Some(state) => call.local_state = state,
                None if created => call.local_state = ConnectionState::Connected,
                None => {}
            }
            if call.local_state != ConnectionState::Hold && call.consulted_by.is_none() {
                call.held_for_consultation = false;
            }
            set_cause(call, cause);
        })?;
        Ok(())
    }

    fn failed(&mut self, change: &mut Change, e: &FailedEvent<'_>) -> Result<(), ViewError> {
        let id = call_id(&e.failed_connection)?;
        let state = e.local_connection_info.unwrap_or(ConnectionState::Fail);
        let failing_is_own = e
            .failing_device
            .device_id()
            .is_some_and(|d| self.is_own_id(d));
        let peer = if failing_is_own {
            None
        } else {
            peer_of(&e.failing_device).or_else(|| peer_of(&e.called_device))
        };
        let cause = e.cause.as_ref();
        self.upsert(change, id, LastEvent::Failed, |call, created| {
            call.local_state = state;
            if created {
                call.direction = Direction::Outgoing;
            }
            if call.peer.is_none() {
                set_peer(call, peer);
            }
            set_cause(call, cause);
        })?;
        Ok(())
    }

    fn connection_cleared(
        &mut self,
        change: &mut Change,
        e: &ConnectionClearedEvent<'_>,
    ) -> Result<(), ViewError> {
        let id = call_id(&e.dropped_connection)?;
        let Some(index) = self.index(&id) else {
            return Ok(());
        };
        let own = self.is_own_connection(&e.dropped_connection);
        let stays = match e.local_connection_info {
            Some(ConnectionState::Null) => None,
            Some(state) => Some(state),
            // Another party left a conference: the device stays in it.
            None if !own && self.calls.get(index).is_some_and(|c| c.in_conference()) => {
                Some(ConnectionState::Connected)
            }
            None => None,
        };
        match stays {
            None => {
                let mode = DisconnectMode::from_cause(e.cause.as_ref());
                self.remove_call(change, &id, Some(mode));
            }
            Some(state) => {
                let cause = e.cause.as_ref();
                let left = if own {
                    None
                } else {
                    e.dropped_connection
                        .device_id
                        .as_ref()
                        .map(|d| party_key(&d.id))
                };
                self.upsert(change, id, LastEvent::ConnectionCleared, |call, _| {
                    call.local_state = state;
                    if let Some(left) = left
                        && call.conference
                    {
                        call.parties.retain(|p| *p != left);
                        // The party that left was the one named as peer.
                        if call
                            .peer
                            .as_ref()
                            .is_some_and(|p| party_key(&Text::new(p)) == left)
                        {
                            call.peer = None;
                        }
                    }
                    set_cause(call, cause);
                })?;
            }
        }
        Ok(())
    }

    fn transfered(
        &mut self,
        change: &mut Change,
        e: &TransferedEvent<'_>,
    ) -> Result<(), ViewError> {
        let primary = call_id(&e.primary_old_call)?;
        let secondary = match &e.secondary_old_call {
            Some(c) => Some(call_id(c)?),
            None => None,
        };
        let transferring_is_own = e
            .transferring_device
            .device_id()
            .is_some_and(|d| self.is_own_id(d));
        // At the transferring device the old calls are named by its own connections.
        let old_is_own = e
            .primary_old_call
            .device_id
            .as_ref()
            .is_some_and(|d| self.is_own_id(d));
        let leaves = match e.local_connection_info {
            Some(ConnectionState::Null) => true,
            Some(_) => false,
            None => transferring_is_own || old_is_own,
        };
        if leaves {
            self.remove_call(change, &primary, None);
            if let Some(secondary) = &secondary {
                self.remove_call(change, secondary, None);
            }
            return Ok(());
        }
        // The device stays: its call is renamed into the resulting call.
        let old = if self.index(&primary).is_some() {
            Some(primary)
        } else {
            secondary.filter(|s| self.index(s).is_some())
        };
        let new_id = self.renamed(e.transferred_connections.as_ref(), old.as_deref())?;
        let target = new_id.clone().or_else(|| old.clone());
        let Some(target) = target else {
            return Ok(());
        };
        if let (Some(old), Some(new)) = (&old, &new_id)
            && old != new
        {
            self.rename(change, old, new);
        }
        let to_is_own = e
            .transferred_to_device
            .device_id()
            .is_some_and(|d| self.is_own_id(d));
        let peer = if to_is_own {
            self.other_endpoint(e.transferred_connections.as_ref())
        } else {
            peer_of(&e.transferred_to_device)
        };
        let state = e.local_connection_info;
        let cause = e.cause.as_ref();
        self.upsert(change, target, LastEvent::Transfered, |call, created| {
            match state {
                Some(state) => call.local_state = state,
                None if created => call.local_state = ConnectionState::Connected,
                None => {}
            }
            if peer.is_some() {
                set_peer(call, peer);
            }
            set_cause(call, cause);
        })?;
        Ok(())
    }

    fn conferenced(
        &mut self,
        change: &mut Change,
        e: &ConferencedEvent<'_>,
    ) -> Result<(), ViewError> {
        let primary = call_id(&e.primary_old_call)?;
        let secondary = match &e.secondary_old_call {
            Some(c) => Some(call_id(c)?),
            None => None,
        };
        if e.local_connection_info == Some(ConnectionState::Null) {
            let mode = Some(DisconnectMode::from_cause(e.cause.as_ref()));
            self.remove_call(change, &primary, mode);
            if let Some(secondary) = &secondary {
                self.remove_call(change, secondary, mode);
            }
            return Ok(());
        }
        let known_primary = self.index(&primary).is_some();
        let old = if known_primary {
            Some(primary.clone())
        } else {
            secondary.clone().filter(|s| self.index(s).is_some())
        };
        let new_id = self
            .renamed(e.conference_connections.as_ref(), old.as_deref())?
            .unwrap_or_else(|| primary.clone());
        // The other old call merges into the conference.
        for merged in [Some(&primary), secondary.as_ref()].into_iter().flatten() {
            if Some(merged) != old.as_ref() && *merged != new_id {
                self.remove_call(change, merged, None);
            }
        }
        if let Some(old) = &old
            && *old != new_id
        {
            self.rename(change, old, &new_id);
        }
        let state = e
            .local_connection_info
            .unwrap_or(ConnectionState::Connected);
        let cause = e.cause.as_ref();
        let mut parties: Vec<u32, CONFERENCE_PARTIES_MAX> = Vec::new();
        if let Some(list) = &e.conference_connections {
            for item in &list.items {
                let device = item
                    .endpoint
                    .as_ref()
                    .and_then(|d| d.device_id())
                    .or_else(|| item.new_connection.as_ref()?.device_id.as_ref())
                    .or_else(|| item.old_connection.as_ref()?.device_id.as_ref());
                if let Some(device) = device {
                    self.add_party(&mut parties, device);
                }
            }
        }
        if let Some(added) = e.added_party.device_id() {
            self.add_party(&mut parties, added);
        }
        let known_peer = self
            .call(old.as_deref().unwrap_or(&new_id))
            .and_then(|c| c.peer.clone());
        if parties.len() < 2
            && let Some(peer) = &known_peer
        {
            self.add_party(&mut parties, &DeviceId::new(peer));
        }
        self.upsert(change, new_id, LastEvent::Conferenced, |call, _| {
            call.local_state = state;
            call.conference = true;
            call.parties = parties;
            call.consultation_of = None;
            call.consulted_by = None;
            call.held_for_consultation = false;
            set_cause(call, cause);
        })?;
        Ok(())
    }

    fn diverted(&mut self, change: &mut Change, e: &DivertedEvent<'_>) -> Result<(), ViewError> {
        let id = call_id(&e.connection)?;
        let diverting_is_own = e
            .diverting_device
            .device_id()
            .is_some_and(|d| self.is_own_id(d));
        let leaves = match e.local_connection_info {
            Some(ConnectionState::Null) => true,
            Some(_) => false,
            None => diverting_is_own || self.is_own_connection(&e.connection),
        };
        if leaves {
            self.remove_call(change, &id, None);
            return Ok(());
        }
        // The far end diverted the device's call: it now goes to the new destination.
        let peer = e.new_destination.as_ref().and_then(peer_of);
        let state = e.local_connection_info;
        let cause = e.cause.as_ref();
        self.upsert(change, id, LastEvent::Diverted, |call, created| {
            match state {
                Some(state) => call.local_state = state,
                None if created => call.local_state = ConnectionState::Connected,
                None => {}
            }
            if peer.is_some() {
                set_peer(call, peer);
            }
            set_cause(call, cause);
        })?;
        Ok(())
    }

    fn snapshot(
        &mut self,
        change: &mut Change,
        items: &[crate::message::monitor::SnapshotDeviceResponseInfo<'_>],
    ) -> Result<(), ViewError> {
        let mut calls: Vec<CallView, CALLS> = Vec::new();
        for item in items {
            let Some(connection) = &item.connection_identifier else {
                continue;
            };
            let id = call_id(connection)?;
            if calls.iter().any(|c| c.call_id == id) {
                continue;
            }
            let state = item
                .local_call_state
                .as_ref()
                .and_then(|s| s.compound_call_state.as_ref())
                .and_then(|s| s.states.first().copied())
                .unwrap_or(ConnectionState::Connected);
            let mut call = match self.call(&id) {
                Some(known) => known.clone(),
                None => CallView::new(id.clone(), LastEvent::Snapshot),
            };
            if call.local_state != state {
                call.local_state = state;
                call.last_event = LastEvent::Snapshot;
            }
            calls.push(call).map_err(|_| ViewError::TableFull)?;
        }
        // Relations to calls the snapshot no longer has are dropped.
        let ids: Vec<CallIdBuf, CALLS> = calls.iter().map(|c| c.call_id.clone()).collect();
        for call in calls.iter_mut() {
            if call
                .consultation_of
                .as_ref()
                .is_some_and(|p| !ids.contains(p))
            {
                call.consultation_of = None;
            }
            if call.consulted_by.as_ref().is_some_and(|p| !ids.contains(p)) {
                call.consulted_by = None;
                call.held_for_consultation = false;
            }
        }
        if calls != self.calls {
            self.calls = calls;
            change.resynchronised = true;
        }
        Ok(())
    }

    /// The new call ID of the device's connection `old` in a renaming list.
    fn renamed(
        &self,
        list: Option<&ConnectionList<'_>>,
        old: Option<&str>,
    ) -> Result<Option<CallIdBuf>, ViewError> {
        let Some(list) = list else {
            return Ok(None);
        };
        for item in &list.items {
            let Some(new) = item.new_connection.as_ref() else {
                continue;
            };
            if new.call_id.is_none() {
                continue;
            }
            let old_matches = match (&item.old_connection, old) {
                (Some(o), Some(old)) => call_id(o)? == old && self.is_own_connection(o),
                _ => false,
            };
            if old_matches || (self.is_own_connection(new) && new.device_id.is_some()) {
                return call_id(new).map(Some);
            }
        }
        Ok(None)
    }

    /// Adds another party's fingerprint to a conference's parties.
    fn add_party(&self, parties: &mut Vec<u32, CONFERENCE_PARTIES_MAX>, id: &DeviceId<'_>) {
        let key = party_key(&id.id);
        if !self.is_own_id(id) && !parties.contains(&key) {
            // Beyond the capacity parties are not counted.
            let _ = parties.push(key);
        }
    }

    /// The first endpoint of a renaming list that is not this device.
    fn other_endpoint(&self, list: Option<&ConnectionList<'_>>) -> Option<DeviceIdBuf> {
        list?.items.iter().find_map(|item| {
            let endpoint = item.endpoint.as_ref()?;
            let id = endpoint.device_id()?;
            if self.is_own_id(id) {
                None
            } else {
                peer_of(endpoint)
            }
        })
    }

    fn rename(&mut self, change: &mut Change, old: &str, new: &CallIdBuf) {
        if self.index(new).is_some() {
            // The new ID is already known: the old call merges into it.
            self.remove_call(change, old, None);
            return;
        }
        for call in self.calls.iter_mut() {
            if call.call_id == old {
                call.call_id = new.clone();
            }
            if call.consultation_of.as_deref() == Some(old) {
                call.consultation_of = Some(new.clone());
            }
            if call.consulted_by.as_deref() == Some(old) {
                call.consulted_by = Some(new.clone());
            }
        }
        let mut old_id = CallIdBuf::new();
        let _ = old_id.push_str(old);
        change.remove(old_id, None);
        change.update(new);
    }

    fn is_own_id(&self, id: &DeviceId<'_>) -> bool {
        match id.id.as_str() {
            Some(s) => self.is_own(s),
            None => {
                let s: DeviceIdBuf = cut_text(&id.id);
                self.is_own(&s)
            }
        }
    }

    /// Whether a connection is the device's own (a connection without a device ID is
    /// taken as the device's own: the monitor reports its device).
    fn is_own_connection(&self, connection: &ConnectionId<'_>) -> bool {
        connection
            .device_id
            .as_ref()
            .is_none_or(|d| self.is_own_id(d))
    }
}

/// A fingerprint of a device identifier's significant characters (FNV-1a), so that
/// the forms of one device give the same key.
fn party_key(id: &Text<'_>) -> u32 {
    let buf: DeviceIdBuf = cut_text(id);
    significant(&buf).fold(0x811c_9dc5_u32, |hash, c| {
        (hash ^ u32::from(c)).wrapping_mul(0x0100_0193)
    })
}

/// The call ID of a connection (empty when absent).
fn call_id(connection: &ConnectionId<'_>) -> Result<CallIdBuf, ViewError> {
    match &connection.call_id {
        Some(text) => to_owned(&text.trim()).map_err(|_| ViewError::IdTooLong),
        None => Ok(CallIdBuf::new()),
    }
}

/// A peer's owned ID; `None` when not known, restricted or too long.
fn peer_of(device: &DeviceRef<'_>) -> Option<DeviceIdBuf> {
    device.device_id().and_then(|d| to_owned(&d.id).ok())
}

fn set_peer(call: &mut CallView, peer: Option<DeviceIdBuf>) {
    if peer.is_some() || call.peer.is_none() {
        call.peer = peer;
    }
}

fn set_cause(call: &mut CallView, cause: Option<&EventCause<'_>>) {
    if cause.is_some() {
        call.cause = cause_buf(cause);
    }
}

fn forwarding_entry(
    kind: Option<&ForwardingType<'_>>,
    on: bool,
    destination: Option<&DeviceId<'_>>,
    ring_count: Option<u32>,
) -> Forwarding {
    let kind = kind.map_or_else(
        || cut(ForwardingType::ForwardImmediate.as_text().raw()),
        |k| cut_text(&k.as_text()),
    );
    Forwarding {
        kind,
        on,
        destination: destination
            .filter(|d| !d.id.is_empty())
            .map(|d| cut_text::<DEVICE_ID_MAX>(&d.id)),
        ring_count,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_same_device_forms() {
        assert!(same_device("sip:201@pbx", "201"));
        assert!(same_device(
            "sip:201@pbx",
            "SIP:201@other:5060;transport=tcp"
        ));
        assert!(same_device(
            "tel:+49-89-1234;phone-context=x",
            "+49 89 1234"
        ));
        assert!(same_device("N<+49 89 1234>;noa=nk", "tel:+49891234"));
        assert!(same_device("<sip:201;user=phone@pbx>", "201"));
        assert!(same_device("N<302118840100>;noa=nk", "302118840100"));
        assert!(!same_device("sip:201@pbx", "sip:202@pbx"));
        assert!(!same_device("+49891234201", "201"));
        assert!(!same_device("", ""));
        assert!(!same_device("N<>", "N<>"));
    }

    #[test]
    fn test_disconnect_mode_values() {
        assert_eq!(DisconnectMode::Normal.value(), 0x1);
        assert_eq!(DisconnectMode::NoDialtone.value(), 0x1000);
        assert_eq!(DisconnectMode::Cancelled.value(), 0x8_0000);
        assert_eq!(TapiCallState::OnHoldPendTransfer.value(), 0x2000);
        assert_eq!(TapiCallState::Unknown.value(), 0x8000);
        assert_eq!(
            DisconnectMode::from_cause(Some(&EventCause::Other(Text::new("Normal Clearing")))),
            DisconnectMode::Normal
        );
        assert_eq!(
            DisconnectMode::from_cause(Some(&EventCause::Other(Text::new("Answered elsewhere")))),
            DisconnectMode::Unknown
        );
        assert_eq!(
            DisconnectMode::from_cause(Some(&EventCause::NumberUnallocated)),
            DisconnectMode::BadAddress
        );
        assert_eq!(DisconnectMode::from_cause(None), DisconnectMode::Normal);
    }

    #[test]
    fn test_new_rejects_bad_ids() {
        assert_eq!(
            DeviceView::<2>::new("").err(),
            Some(ViewError::EmptyDeviceId)
        );
        let long = "1".repeat(DEVICE_ID_MAX + 1);
        assert_eq!(
            DeviceView::<2>::new(&long).err(),
            Some(ViewError::IdTooLong)
        );
    }
}
