//! The switching function: a device's calls as the phone keeps them.
//!
//! A [`Device`] is one line of a phone or gateway with `CALLS` call slots. It is
//! driven from two sides:
//!
//! - the uaCSTA session hands it CSTA requests ([`Device::handle_request`]); every
//!   request gets exactly one [`Reply`]. Requests that need the SIP side (make, answer,
//!   hold, transfer, ...) are answered positively when they are valid in the current
//!   state, and queue a [`Command`] for the owner;
//! - the owner (handset or SIP side) reports what really happens: new calls
//!   ([`Device::off_hook`], [`Device::incoming`], [`Device::forwarded`]), their
//!   progress ([`Device::handle_progress`] with a [`Progress`]), consultations made
//!   on the handset ([`Device::link_calls`]) and feature changes
//!   made on the handset ([`Device::handset_do_not_disturb`],
//!   [`Device::handset_forwarding`]).
//!
//! Output is polled: [`Device::poll_command`] for what the owner must do,
//! [`Device::poll_event`] for the CSTA events to send (one per started monitor; none
//! while no monitor is started, though the state still changes). After every input,
//! poll both until they return `None`.
//!
//! # Events
//!
//! Each event carries the monitor's `monitorCrossRefID`, the subject connection, the
//! devices, `localConnectionInfo` (the device's own connection state after the event)
//! and a cause, in the sequences of ECMA-269 as a phone emits them:
//!
//! - MakeCall: `ServiceInitiated(initiated, makeCall)` at once, then as reported
//!   `Originated(connected, makeCall)`, `Delivered` and `Established` at the far end
//!   (local `connected`), `ConnectionCleared(null, normalClearing)`; a failure is
//!   `Failed(fail, cause of the SIP status)` and, once cleared, `ConnectionCleared`.
//! - Incoming: `Delivered(alerting, newCall)`, `Established(connected)`,
//!   `ConnectionCleared`; given up while ringing: `ConnectionCleared(callCancelled)`.
//! - Consultation: `Held(C1, consultation)` and `ServiceInitiated(C2, consultation)`
//!   when the hold is reported, then C2's progress. Transfer: one
//!   `TransferedEvent(null, transfer)` and no `ConnectionCleared`; single step:
//!   `TransferedEvent(null, singleStepTransfer)`. Conference:
//!   `ConferencedEvent(connected, conference)`, the pair continuing as the held call.
//!   AlternateCall and ReconnectCall are a hold/clear and a retrieve for the owner,
//!   reported as `Held` / `ConnectionCleared` and `Retrieved`.
//! - Deflect and forwarding: `DivertedEvent(null)` with `redirected` or
//!   `callForwardImmediate` / `callForwardBusy` / `callForwardNoAnswer`.
//! - Do-not-disturb and forwarding changes (requested or on the handset):
//!   `DoNotDisturbEvent`, `ForwardingEvent`.
//!
//! A monitor's `requestedMonitorFilter` is honoured (a `true` flag suppresses the
//! event) and echoed as `actualMonitorFilter`. The responses to TransferCall and
//! SingleStepTransferCall name the resulting call by the first call's ID and the
//! transferred-to device; transferred and conference connection lists name each far
//! end's connection.
//!
//! `SnapshotDevice` lists one item per call whose connection is not `null`, at most
//! [`SNAPSHOT_MAX`](crate::message::monitor::SNAPSHOT_MAX) of them.
//!
//! # Memory
//!
//! Everything is inline: an [`EventOut`] is about 1.5 KiB (it owns its identifiers),
//! so the event queue dominates (`Device<4>` with the default queues is about
//! 30 KiB on a 64-bit host); firmware shrinks `EVENTS`.
//!
//! # Queue policy
//!
//! Events and commands wait in fixed-capacity queues (`EVENTS`, `COMMANDS`). An input
//! whose outputs would not fit changes nothing: a report from the owner fails with
//! [`ModelError::QueueFull`] (poll, then report again), a request is answered
//! `systemResourceAvailibility/resourceBusy`. Nothing is dropped.
//!
//! # Identifiers
//!
//! The device assigns call IDs (a counter written in decimal) and monitor
//! cross-reference IDs (another counter). A connection is `{callID, deviceID}`; the
//! device's own connections carry its own ID, the far end's (in `DeliveredEvent` and
//! `EstablishedEvent` of an outgoing call) the far end's. Requests name connections by
//! `callID`; the `deviceID` in them and the device named by device-scoped requests are
//! not compared with the device's ID (the uaCSTA session is the device's own).

mod event;
mod reply;

use core::fmt::{self, Write as _};

use heapless::{Deque, Vec};
use sip_lite::zeroed::ZeroOption;

use crate::flags::MonitorFilter;
use crate::message::call::{ConnectionList, ConnectionListItem};
use crate::message::monitor::MonitorObject;
use crate::message::{ErrorCode, Message};
use crate::names::{
    ConnectionState, EventCause, ForwardingType, Operation, StateIncompatibility,
    SystemResourceAvailability,
};
use crate::types::{ConnectionId, DeviceId};
use crate::xml::Text;

use super::{CallIdBuf, CrossRefIdBuf, to_owned};

/// The longest device identifier the phone model keeps (its own, the far ends',
/// forwarding targets), in octets; a longer one in a request is refused. Half of what
/// the codec reads ([`crate::types::DEVICE_ID_MAX`]): a phone's event queue holds
/// several per event, and numbers, SIP users and `sip:` URIs fit.
pub const PHONE_DEVICE_ID_MAX: usize = 128;

/// A device identifier as the phone model owns it.
pub type DeviceIdBuf = heapless::String<PHONE_DEVICE_ID_MAX>;

pub use event::EventOut;
pub use reply::{Reply, SUPPORTED_EVENTS, SUPPORTED_SERVICES};

use event::EventKind;
use reply::{ConnectionReply, FlagReply, ReplyBody, SimpleReply};

/// Most monitors a device can hand out at once, whatever its configured limit.
pub const MONITORS_MAX: usize = 4;
/// Longest digit string a `GenerateDigits` request may carry.
pub const DIGITS_MAX: usize = 32;
/// Default capacity of the event queue.
pub const EVENTS_DEFAULT: usize = 16;
/// Default capacity of the command queue.
pub const COMMANDS_DEFAULT: usize = 8;

/// A handle to one call of a [`Device`]: a slot and the slot's generation, so a
/// handle to a call that ended never acts on a later call in the same slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct CallRef {
    index: u16,
    generation: u32,
}

impl CallRef {
    /// The slot index.
    pub const fn index(self) -> usize {
        self.index as usize
    }

    /// The slot's generation when the call was created.
    pub const fn generation(self) -> u32 {
        self.generation
    }
}

/// Why a report from the owner (or a construction) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ModelError {
    /// Every call slot is in use (answer a new INVITE with 486).
    NoFreeSlot,
    /// The handle names a call that has ended (its slot may hold another call now).
    StaleCall,
    /// The report does not fit the call's connection state.
    InvalidState(ConnectionState),
    /// The call is not part of a held + active pair (transfer, conference).
    NoPartner,
    /// The event or command queue has no room for the outputs; nothing changed.
    QueueFull,
    /// An identifier does not fit its owned buffer.
    TooLong,
}

impl fmt::Display for ModelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ModelError::NoFreeSlot => f.write_str("no free call slot"),
            ModelError::StaleCall => f.write_str("the call has ended"),
            ModelError::InvalidState(s) => write!(f, "not valid in connection state {s}"),
            ModelError::NoPartner => f.write_str("the call has no held/active partner"),
            ModelError::QueueFull => f.write_str("event or command queue full"),
            ModelError::TooLong => f.write_str("identifier too long"),
        }
    }
}

impl core::error::Error for ModelError {}

/// The forwarding settings a device keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Forward {
    /// `forwardImmediate`.
    Immediate,
    /// `forwardBusy`.
    Busy,
    /// `forwardNoAns`.
    NoAnswer,
    /// `forwardDND`.
    DoNotDisturb,
}

impl Forward {
    /// Every setting, in the order `GetForwardingResponse` lists them.
    pub const ALL: [Forward; 4] = [
        Forward::Immediate,
        Forward::Busy,
        Forward::NoAnswer,
        Forward::DoNotDisturb,
    ];

    /// The wire forwarding type.
    pub const fn forwarding_type(self) -> ForwardingType<'static> {
        match self {
            Forward::Immediate => ForwardingType::ForwardImmediate,
            Forward::Busy => ForwardingType::ForwardBusy,
            Forward::NoAnswer => ForwardingType::ForwardNoAns,
            Forward::DoNotDisturb => ForwardingType::ForwardDnd,
        }
    }

    /// The setting for a wire forwarding type (`None` for the internal/external
    /// variants, which a device does not keep apart).
    pub fn from_forwarding_type(t: &ForwardingType<'_>) -> Option<Forward> {
        match t {
            ForwardingType::ForwardImmediate => Some(Forward::Immediate),
            ForwardingType::ForwardBusy => Some(Forward::Busy),
            ForwardingType::ForwardNoAns => Some(Forward::NoAnswer),
            ForwardingType::ForwardDnd => Some(Forward::DoNotDisturb),
            _ => None,
        }
    }

    const fn index(self) -> usize {
        match self {
            Forward::Immediate => 0,
            Forward::Busy => 1,
            Forward::NoAnswer => 2,
            Forward::DoNotDisturb => 3,
        }
    }
}

/// How a call left the device for another destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Divert {
    /// Deflected on request or from the handset (302): cause `redirected`.
    Deflected,
    /// Forwarded by immediate forwarding: cause `callForwardImmediate`.
    ForwardImmediate,
    /// Forwarded because the device was busy: cause `callForwardBusy`.
    ForwardBusy,
    /// Forwarded because nobody answered: cause `callForwardNoAnswer`.
    ForwardNoAnswer,
}

impl Divert {
    /// The cause `DivertedEvent` carries.
    pub const fn cause(self) -> EventCause<'static> {
        match self {
            Divert::Deflected => EventCause::Redirected,
            Divert::ForwardImmediate => EventCause::CallForwardImmediate,
            Divert::ForwardBusy => EventCause::CallForwardBusy,
            Divert::ForwardNoAnswer => EventCause::CallForwardNoAnswer,
        }
    }
}

/// The cause of a `FailedEvent` for a SIP final status of an outgoing call: 486 and
/// 600 `busy`; 408 and 480 `callNotAnswered`; 404 and 604 `numberUnallocated`; 484
/// `invalidNumberFormat`; 487 `callCancelled`; anything else `destNotObtainable`.
pub const fn failure_cause(status: u16) -> EventCause<'static> {
    match status {
        486 | 600 => EventCause::Busy,
        408 | 480 => EventCause::CallNotAnswered,
        404 | 604 => EventCause::NumberUnallocated,
        484 => EventCause::InvalidNumberFormat,
        487 => EventCause::CallCancelled,
        _ => EventCause::DestNotObtainable,
    }
}

/// What happened on a call, as the owner reports it ([`Device::handle_progress`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress<'a> {
    /// Dialling is complete and the INVITE is out: `OriginatedEvent` (preceded by
    /// `ServiceInitiatedEvent` for a consultation call not yet reported).
    Originated {
        /// The number called.
        called: &'a str,
    },
    /// The far end is alerted (180/183): `DeliveredEvent` at the far end; the local
    /// connection stays `connected`.
    Ringing,
    /// The call was answered: by the far end (200 to an outgoing call) or here (the
    /// handset, or after [`Command::Answer`]): `EstablishedEvent`.
    Answered,
    /// The call ended (BYE either way, or a failed call cleared):
    /// `ConnectionClearedEvent` with `normalClearing`. A consultation call that was
    /// never started (its hold did not happen) ends without an event.
    Cleared {
        /// Whether the far end released (else this device did).
        remote: bool,
    },
    /// The caller gave up while this device was ringing (CANCEL):
    /// `ConnectionClearedEvent` with `callCancelled`.
    Cancelled,
    /// The outgoing call failed with a SIP final status: `FailedEvent` with
    /// [`failure_cause`]; the call stays (state `fail`) until reported
    /// [`Cleared`](Progress::Cleared).
    Failed {
        /// The SIP status code.
        status: u16,
    },
    /// The call is on hold: `HeldEvent`.
    Held,
    /// The held call is connected again: `RetrievedEvent`.
    Retrieved,
    /// The held + active pair this call belongs to was transferred (REFER with
    /// Replaces done): `TransferedEvent` with `transfer`; both calls end without
    /// `ConnectionClearedEvent`.
    Transferred,
    /// The call was transferred without consultation (REFER done):
    /// `TransferedEvent` with `singleStepTransfer`; the call ends.
    SingleStepTransferred {
        /// Where it went.
        to: &'a str,
    },
    /// The held + active pair this call belongs to became a conference:
    /// `ConferencedEvent`; the pair continues as the held call's call.
    Conferenced,
    /// The alerting call went elsewhere (302): `DivertedEvent`; the call ends here.
    Diverted {
        /// Where it went.
        to: &'a str,
        /// Why.
        how: Divert,
    },
}

/// What the owner must do on the SIP side. Carries the call handles concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Place a call (INVITE) to `to`.
    Originate {
        /// The new call.
        call: CallRef,
        /// The number to call.
        to: DeviceIdBuf,
    },
    /// Answer the alerting call (200 to the INVITE).
    Answer {
        /// The call.
        call: CallRef,
    },
    /// Release the call (BYE, CANCEL or a final error for an alerting call).
    Clear {
        /// The call.
        call: CallRef,
    },
    /// Put the call on hold (re-INVITE, sendonly).
    Hold {
        /// The call.
        call: CallRef,
    },
    /// Retrieve the held call (re-INVITE, sendrecv).
    Retrieve {
        /// The call.
        call: CallRef,
    },
    /// Hold `held` and place the consultation call `call` to `to`.
    Consult {
        /// The call to hold.
        held: CallRef,
        /// The new consultation call.
        call: CallRef,
        /// The number to call.
        to: DeviceIdBuf,
    },
    /// Join `held` and `active` and leave (REFER with Replaces).
    Transfer {
        /// The held call.
        held: CallRef,
        /// The active call.
        active: CallRef,
    },
    /// Transfer the call to `to` (REFER).
    SingleStepTransfer {
        /// The call.
        call: CallRef,
        /// The destination.
        to: DeviceIdBuf,
    },
    /// Send the alerting call to `to` (302).
    Deflect {
        /// The call.
        call: CallRef,
        /// The destination.
        to: DeviceIdBuf,
    },
    /// Join `held` and `active` into a conference.
    Conference {
        /// The held call.
        held: CallRef,
        /// The active call.
        active: CallRef,
    },
    /// Send digits (DTMF) on the call.
    SendDigits {
        /// The call.
        call: CallRef,
        /// The digits.
        digits: heapless::String<DIGITS_MAX>,
    },
    /// Do-not-disturb was switched (already in force in the model).
    SetDoNotDisturb {
        /// On or off.
        on: bool,
    },
    /// A forwarding setting changed (already in force in the model).
    SetForwarding {
        /// Which one.
        forward: Forward,
        /// On or off.
        on: bool,
        /// The destination.
        to: Option<DeviceIdBuf>,
    },
    /// Light or clear the message waiting indicator.
    SetMessageWaiting {
        /// Lit or not.
        on: bool,
    },
    /// Mute or unmute the speaker.
    SetSpeakerMute {
        /// Muted or not.
        on: bool,
    },
    /// Set the speaker volume (0 to 100).
    SetSpeakerVolume {
        /// The volume.
        volume: u32,
    },
    /// Mute or unmute the microphone.
    SetMicrophoneMute {
        /// Muted or not.
        on: bool,
    },
}

/// Who started a call, which decides the causes of its first events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    MakeCall,
    Consultation,
    Handset,
    Incoming,
}

#[derive(Debug, Clone)]
struct Call {
    id: CallIdBuf,
    state: ConnectionState,
    far: DeviceIdBuf,
    called: DeviceIdBuf,
    origin: Origin,
    /// Whether the far end answered (or this device answered an incoming call).
    established: bool,
    /// The other call of a held + active pair (consultation, or named by a transfer or
    /// conference request).
    partner: Option<CallRef>,
}

impl Call {
    fn outgoing(&self) -> bool {
        self.origin != Origin::Incoming
    }
}

#[derive(Debug, Clone)]
struct Slot {
    generation: u32,
    /// A [`ZeroOption`]: an unconfigured device is all zero bits.
    call: ZeroOption<Call>,
}

#[derive(Debug, Clone)]
struct Monitor {
    id: CrossRefIdBuf,
    /// Events not to report (a `true` flag filters its event out).
    filter: MonitorFilter,
}

#[derive(Debug, Clone, Default)]
struct ForwardSetting {
    on: bool,
    to: Option<DeviceIdBuf>,
}

/// One device (a phone's line) with `CALLS` call slots, an event queue of `EVENTS`
/// and a command queue of `COMMANDS`. See the [module docs](self).
#[derive(Debug)]
pub struct Device<
    const CALLS: usize,
    const EVENTS: usize = EVENTS_DEFAULT,
    const COMMANDS: usize = COMMANDS_DEFAULT,
> {
    id: DeviceIdBuf,
    slots: [Slot; CALLS],
    next_call_id: u32,
    next_monitor_id: u32,
    monitor_limit: usize,
    monitors: Vec<Monitor, MONITORS_MAX>,
    events: Deque<EventOut, EVENTS>,
    commands: Deque<Command, COMMANDS>,
    do_not_disturb: bool,
    forwarding: [ForwardSetting; 4],
    message_waiting: bool,
    speaker_mute: bool,
    speaker_volume: u32,
    microphone_mute: bool,
}

fn owned<const N: usize>(s: &str) -> Result<heapless::String<N>, ModelError> {
    let mut out = heapless::String::new();
    out.push_str(s).map_err(|_| ModelError::TooLong)?;
    Ok(out)
}

const fn op(v: Operation<'static>) -> ErrorCode<'static> {
    ErrorCode::Operation(v)
}
const fn state_err(v: StateIncompatibility<'static>) -> ErrorCode<'static> {
    ErrorCode::StateIncompatibility(v)
}
const RESOURCE_BUSY: ErrorCode<'static> =
    ErrorCode::SystemResourceAvailability(SystemResourceAvailability::ResourceBusy);

impl<const CALLS: usize, const EVENTS: usize, const COMMANDS: usize>
    Device<CALLS, EVENTS, COMMANDS>
{
    /// A device with ID `id`, no calls, and a limit of one monitor.
    ///
    /// # Errors
    ///
    /// [`ModelError::TooLong`] when `id` does not fit a [`DeviceIdBuf`].
    pub fn new(id: &str) -> Result<Self, ModelError> {
        Self::with_monitor_limit(id, 1)
    }

    /// A device with ID `id` handing out at most `limit` monitors (capped at
    /// [`MONITORS_MAX`]).
    ///
    /// # Errors
    ///
    /// [`ModelError::TooLong`] when `id` does not fit a [`DeviceIdBuf`].
    pub fn with_monitor_limit(id: &str, limit: usize) -> Result<Self, ModelError> {
        let mut d = Self::unconfigured();
        d.configure(id, limit)?;
        Ok(d)
    }

    /// A device without an ID that hands out no monitor, for firmware that keeps it in
    /// a `static` and configures it in place ([`Device::configure`]): all zero bits,
    /// so the static goes to `.bss`.
    pub const fn unconfigured() -> Self {
        Device {
            id: heapless::String::new(),
            slots: [const {
                Slot {
                    generation: 0,
                    call: ZeroOption::None,
                }
            }; CALLS],
            // Zero, as everything here; the configuration starts them at 1.
            next_call_id: 0,
            next_monitor_id: 0,
            monitor_limit: 0,
            monitors: Vec::new(),
            events: Deque::new(),
            commands: Deque::new(),
            do_not_disturb: false,
            forwarding: [const {
                ForwardSetting {
                    on: false,
                    to: None,
                }
            }; 4],
            message_waiting: false,
            speaker_mute: false,
            speaker_volume: 0,
            microphone_mute: false,
        }
    }

    /// Gives the device the ID `id` and a limit of `monitor_limit` monitors (capped
    /// at [`MONITORS_MAX`]), in place, and starts it over: calls, monitors, queued
    /// events and commands are dropped without an event, the features are off, and
    /// the device is as [`Device::with_monitor_limit`] made it, except that the
    /// [`CallRef`]s of the calls it had are stale.
    ///
    /// # Errors
    ///
    /// [`ModelError::TooLong`] when `id` does not fit a [`DeviceIdBuf`]; the device is
    /// unchanged then.
    pub fn configure(&mut self, id: &str, monitor_limit: usize) -> Result<(), ModelError> {
        self.id = owned(id)?;
        for slot in &mut self.slots {
            if slot.call.take().is_some() {
                slot.generation = slot.generation.wrapping_add(1);
            }
        }
        self.next_call_id = 1;
        self.next_monitor_id = 1;
        self.monitor_limit = monitor_limit.min(MONITORS_MAX);
        self.monitors.clear();
        self.events.clear();
        self.commands.clear();
        self.do_not_disturb = false;
        for f in &mut self.forwarding {
            *f = ForwardSetting::default();
        }
        self.message_waiting = false;
        self.speaker_mute = false;
        self.speaker_volume = 50;
        self.microphone_mute = false;
        Ok(())
    }

    /// The device's ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether at least one monitor is started (events are produced).
    pub fn is_monitored(&self) -> bool {
        !self.monitors.is_empty()
    }

    /// Ends every monitor and drops the events not yet polled: the session that
    /// carried them is gone (uaCSTA monitors live as long as their dialog). Calls
    /// and features are kept; a new session starts its own monitor.
    pub fn stop_monitors(&mut self) {
        self.monitors.clear();
        self.events.clear();
    }

    /// Whether do-not-disturb is on.
    pub fn do_not_disturb(&self) -> bool {
        self.do_not_disturb
    }

    /// A forwarding setting: whether it is on, and its destination.
    pub fn forwarding(&self, forward: Forward) -> (bool, Option<&str>) {
        let s = &self.forwarding[forward.index()];
        (s.on, s.to.as_deref())
    }

    /// How many call slots are in use.
    pub fn calls_in_use(&self) -> usize {
        self.slots.iter().filter(|s| s.call.is_some()).count()
    }

    /// The local connection state of a call.
    ///
    /// # Errors
    ///
    /// [`ModelError::StaleCall`] when the call has ended.
    pub fn state(&self, call: CallRef) -> Result<ConnectionState, ModelError> {
        Ok(self.call(call)?.state)
    }

    /// The CSTA call ID of a call.
    ///
    /// # Errors
    ///
    /// [`ModelError::StaleCall`] when the call has ended.
    pub fn call_id(&self, call: CallRef) -> Result<&str, ModelError> {
        Ok(&self.call(call)?.id)
    }

    /// The far end of a call (the number called, or the caller).
    ///
    /// # Errors
    ///
    /// [`ModelError::StaleCall`] when the call has ended.
    pub fn far_end(&self, call: CallRef) -> Result<&str, ModelError> {
        Ok(&self.call(call)?.far)
    }

    /// The call with CSTA call ID `call_id`.
    pub fn find(&self, call_id: &str) -> Option<CallRef> {
        self.slots.iter().enumerate().find_map(|(i, s)| {
            let c = s.call.as_ref()?;
            (c.id == call_id).then_some(CallRef {
                index: i as u16,
                generation: s.generation,
            })
        })
    }

    /// The next CSTA event to send, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<EventOut> {
        self.events.pop_front()
    }

    /// The next thing the owner must do on the SIP side, if any.
    #[must_use]
    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    // --- storage -----------------------------------------------------------------

    fn call(&self, r: CallRef) -> Result<&Call, ModelError> {
        let slot = self.slots.get(r.index()).ok_or(ModelError::StaleCall)?;
        if slot.generation != r.generation {
            return Err(ModelError::StaleCall);
        }
        slot.call.as_ref().ok_or(ModelError::StaleCall)
    }

    fn call_mut(&mut self, r: CallRef) -> Result<&mut Call, ModelError> {
        let slot = self.slots.get_mut(r.index()).ok_or(ModelError::StaleCall)?;
        if slot.generation != r.generation {
            return Err(ModelError::StaleCall);
        }
        slot.call.as_mut().ok_or(ModelError::StaleCall)
    }

    fn free_slot(&self) -> Option<usize> {
        self.slots.iter().position(|s| s.call.is_none())
    }

    /// Puts `call` in slot `index` (known free) and returns its handle.
    fn occupy(&mut self, index: usize, call: Call) -> CallRef {
        let mut generation = 0;
        if let Some(slot) = self.slots.get_mut(index) {
            slot.call = ZeroOption::Some(call);
            generation = slot.generation;
        }
        CallRef {
            index: index as u16,
            generation,
        }
    }

    fn release(&mut self, r: CallRef) {
        if let Some(slot) = self.slots.get_mut(r.index())
            && slot.generation == r.generation
            && slot.call.is_some()
        {
            slot.call = ZeroOption::None;
            slot.generation = slot.generation.wrapping_add(1);
        }
    }

    fn new_call_id(&mut self) -> CallIdBuf {
        let mut id = CallIdBuf::new();
        // A u32 in decimal always fits CALL_ID_MAX.
        let _ = write!(id, "{}", self.next_call_id);
        self.next_call_id = self.next_call_id.wrapping_add(1).max(1);
        id
    }

    fn new_call(
        &mut self,
        state: ConnectionState,
        far: DeviceIdBuf,
        called: DeviceIdBuf,
        origin: Origin,
    ) -> Result<CallRef, ModelError> {
        let index = self.free_slot().ok_or(ModelError::NoFreeSlot)?;
        let id = self.new_call_id();
        Ok(self.occupy(
            index,
            Call {
                id,
                state,
                far,
                called,
                origin,
                established: false,
                partner: None,
            },
        ))
    }

    // --- queues --------------------------------------------------------------------

    /// Whether `events` events (per monitor) and `commands` commands fit.
    fn room(&self, events: usize, commands: usize) -> bool {
        let events = events * self.monitors.len();
        EVENTS - self.events.len() >= events && COMMANDS - self.commands.len() >= commands
    }

    fn check_room(&self, events: usize, commands: usize) -> Result<(), ModelError> {
        if self.room(events, commands) {
            Ok(())
        } else {
            Err(ModelError::QueueFull)
        }
    }

    /// Queues `kind` once per monitor whose filter lets it through (room was
    /// checked).
    fn emit(&mut self, kind: EventKind) {
        let (category, flag) = kind.filter_flag();
        for monitor in &self.monitors {
            if monitor.filter.get(category, flag) == Some(true) {
                continue;
            }
            let _ = self.events.push_back(EventOut {
                monitor: monitor.id.clone(),
                device: self.id.clone(),
                kind: kind.clone(),
            });
        }
    }

    fn command(&mut self, command: Command) {
        let _ = self.commands.push_back(command);
    }

    // --- reports from the owner ----------------------------------------------------

    /// The handset went off-hook: a new call in state `initiated`,
    /// `ServiceInitiatedEvent`.
    ///
    /// # Errors
    ///
    /// [`ModelError::NoFreeSlot`] or [`ModelError::QueueFull`].
    pub fn off_hook(&mut self) -> Result<CallRef, ModelError> {
        self.free_slot().ok_or(ModelError::NoFreeSlot)?;
        self.check_room(1, 0)?;
        let r = self.new_call(
            ConnectionState::Initiated,
            DeviceIdBuf::new(),
            DeviceIdBuf::new(),
            Origin::Handset,
        )?;
        let id = self.call(r)?.id.clone();
        self.emit(EventKind::ServiceInitiated {
            call: id,
            cause: None,
        });
        Ok(r)
    }

    /// The handset made `held` and `active` one consultation pair (the user held a
    /// call and placed or took another on the phone itself, not through
    /// `ConsultationCall`): a later [`Progress::Transferred`] or
    /// [`Progress::Conferenced`] on either joins these two. Each call's previous
    /// pairing ends.
    ///
    /// # Errors
    ///
    /// [`ModelError::StaleCall`], [`ModelError::NoPartner`] when both are the same
    /// call, [`ModelError::InvalidState`] unless `held` is held and `active` is
    /// neither held nor idle. Nothing changes on error.
    pub fn link_calls(&mut self, held: CallRef, active: CallRef) -> Result<(), ModelError> {
        use ConnectionState as S;
        let h = self.call(held)?.state;
        let a = self.call(active)?.state;
        if held == active {
            return Err(ModelError::NoPartner);
        }
        if h != S::Hold {
            return Err(ModelError::InvalidState(h));
        }
        if matches!(a, S::Hold | S::Null) {
            return Err(ModelError::InvalidState(a));
        }
        for r in [held, active] {
            if let Ok(Some(p)) = self.call(r).map(|c| c.partner)
                && let Ok(pc) = self.call_mut(p)
                && pc.partner == Some(r)
            {
                pc.partner = None;
            }
        }
        self.link(held, active);
        Ok(())
    }

    /// A call arrived (INVITE) from `calling` for `called`: a new call in state
    /// `alerting`, `DeliveredEvent` with `newCall`.
    ///
    /// # Errors
    ///
    /// [`ModelError::NoFreeSlot`] (answer 486), [`ModelError::QueueFull`] or
    /// [`ModelError::TooLong`].
    pub fn incoming(&mut self, calling: &str, called: &str) -> Result<CallRef, ModelError> {
        let far = owned(calling)?;
        let called = owned(called)?;
        self.free_slot().ok_or(ModelError::NoFreeSlot)?;
        self.check_room(1, 0)?;
        let r = self.new_call(ConnectionState::Alerting, far, called, Origin::Incoming)?;
        let info = self.info(r)?;
        self.emit(EventKind::Delivered {
            info,
            cause: Some(EventCause::NewCall),
        });
        Ok(r)
    }

    /// A call from `calling` for `called` was forwarded to `to` without alerting here
    /// (immediate or busy forwarding): `DivertedEvent` with the cause of `how`. The
    /// call gets a call ID but takes no slot.
    ///
    /// # Errors
    ///
    /// [`ModelError::QueueFull`] or [`ModelError::TooLong`].
    pub fn forwarded(
        &mut self,
        calling: &str,
        called: &str,
        to: &str,
        how: Divert,
    ) -> Result<(), ModelError> {
        let info = event::CallInfo {
            id: CallIdBuf::new(),
            far: owned(calling)?,
            called: owned(called)?,
            outgoing: false,
        };
        let to = owned(to)?;
        self.check_room(1, 0)?;
        let info = event::CallInfo {
            id: self.new_call_id(),
            ..info
        };
        self.emit(EventKind::Diverted {
            info,
            to,
            cause: how.cause(),
        });
        Ok(())
    }

    /// Do-not-disturb was switched on the handset: `DoNotDisturbEvent`.
    ///
    /// # Errors
    ///
    /// [`ModelError::QueueFull`].
    pub fn handset_do_not_disturb(&mut self, on: bool) -> Result<(), ModelError> {
        self.check_room(1, 0)?;
        self.do_not_disturb = on;
        self.emit(EventKind::DoNotDisturb { on });
        Ok(())
    }

    /// A forwarding setting was changed on the handset: `ForwardingEvent`.
    ///
    /// # Errors
    ///
    /// [`ModelError::QueueFull`] or [`ModelError::TooLong`].
    pub fn handset_forwarding(
        &mut self,
        forward: Forward,
        on: bool,
        to: Option<&str>,
    ) -> Result<(), ModelError> {
        let to = to.map(owned).transpose()?;
        self.check_room(1, 0)?;
        self.set_forward(forward, on, to);
        Ok(())
    }

    fn set_forward(&mut self, forward: Forward, on: bool, to: Option<DeviceIdBuf>) {
        if let Some(s) = self.forwarding.get_mut(forward.index()) {
            s.on = on;
            if to.is_some() {
                s.to = to;
            }
        }
        let to = self.forwarding[forward.index()].to.clone();
        self.emit(EventKind::Forwarding { forward, on, to });
    }

    fn info(&self, r: CallRef) -> Result<event::CallInfo, ModelError> {
        let c = self.call(r)?;
        Ok(event::CallInfo {
            id: c.id.clone(),
            far: c.far.clone(),
            called: c.called.clone(),
            outgoing: c.outgoing(),
        })
    }

    /// Reports what happened on `call`.
    ///
    /// # Errors
    ///
    /// [`ModelError::StaleCall`] for a call that ended,
    /// [`ModelError::InvalidState`] when the report does not fit the call's state,
    /// [`ModelError::NoPartner`] for a transfer or conference of a call without a
    /// held/active partner, [`ModelError::QueueFull`], [`ModelError::TooLong`].
    /// Nothing changes on error.
    pub fn handle_progress(
        &mut self,
        call: CallRef,
        progress: Progress<'_>,
    ) -> Result<(), ModelError> {
        use ConnectionState as S;
        let c = self.call(call)?;
        let state = c.state;
        let wrong = Err(ModelError::InvalidState(state));
        match progress {
            Progress::Originated { called } => {
                if !matches!(state, S::Initiated | S::Null) {
                    return wrong;
                }
                let called = owned(called)?;
                let pending = state == S::Null;
                self.check_room(1 + usize::from(pending), 0)?;
                let origin = c.origin;
                let id = c.id.clone();
                if pending {
                    self.emit(EventKind::ServiceInitiated {
                        call: id.clone(),
                        cause: origin_cause(origin),
                    });
                }
                let c = self.call_mut(call)?;
                c.state = S::Connected;
                c.far = called.clone();
                c.called = called.clone();
                self.emit(EventKind::Originated {
                    call: id,
                    called,
                    cause: origin_cause(origin),
                });
            }
            Progress::Ringing => {
                if state != S::Connected || !c.outgoing() || c.established {
                    return wrong;
                }
                self.check_room(1, 0)?;
                let info = self.info(call)?;
                self.emit(EventKind::Delivered { info, cause: None });
            }
            Progress::Answered => {
                let ok = match state {
                    S::Alerting => !c.outgoing(),
                    S::Connected => c.outgoing() && !c.established,
                    _ => false,
                };
                if !ok {
                    return wrong;
                }
                self.check_room(1, 0)?;
                let info = self.info(call)?;
                let c = self.call_mut(call)?;
                c.state = S::Connected;
                c.established = true;
                self.emit(EventKind::Established { info });
            }
            Progress::Cleared { remote } => {
                if state == S::Null {
                    // A consultation call that never started: gone without events.
                    self.end(call);
                    return Ok(());
                }
                self.check_room(1, 0)?;
                let releasing = remote.then(|| c.far.clone());
                let id = c.id.clone();
                self.end(call);
                self.emit(EventKind::Cleared {
                    call: id,
                    releasing,
                    cause: EventCause::NormalClearing,
                });
            }
            Progress::Cancelled => {
                if state != S::Alerting {
                    return wrong;
                }
                self.check_room(1, 0)?;
                let releasing = Some(c.far.clone());
                let id = c.id.clone();
                self.end(call);
                self.emit(EventKind::Cleared {
                    call: id,
                    releasing,
                    cause: EventCause::CallCancelled,
                });
            }
            Progress::Failed { status } => {
                if !matches!(state, S::Initiated | S::Connected) || !c.outgoing() || c.established {
                    return wrong;
                }
                self.check_room(1, 0)?;
                let info = self.info(call)?;
                self.call_mut(call)?.state = S::Fail;
                self.emit(EventKind::Failed {
                    info,
                    cause: failure_cause(status),
                });
            }
            Progress::Held => {
                if state != S::Connected {
                    return wrong;
                }
                // A consultation waiting for this hold starts now.
                let consult = c.partner.filter(|p| {
                    self.call(*p)
                        .is_ok_and(|p| p.state == S::Null && p.origin == Origin::Consultation)
                });
                self.check_room(1 + usize::from(consult.is_some()), 0)?;
                let id = c.id.clone();
                self.call_mut(call)?.state = S::Hold;
                self.emit(EventKind::Held {
                    call: id,
                    cause: consult.map(|_| EventCause::Consultation),
                });
                if let Some(p) = consult {
                    let pc = self.call_mut(p)?;
                    pc.state = S::Initiated;
                    let id = pc.id.clone();
                    self.emit(EventKind::ServiceInitiated {
                        call: id,
                        cause: Some(EventCause::Consultation),
                    });
                }
            }
            Progress::Retrieved => {
                if state != S::Hold {
                    return wrong;
                }
                self.check_room(1, 0)?;
                let id = c.id.clone();
                self.call_mut(call)?.state = S::Connected;
                self.emit(EventKind::Retrieved { call: id });
            }
            Progress::Transferred => {
                let (held, active) = self.pair(call)?;
                self.check_room(1, 0)?;
                let h = self.call(held)?;
                let a = self.call(active)?;
                let kind = EventKind::Transfered {
                    primary: h.id.clone(),
                    secondary: Some(a.id.clone()),
                    to: a.far.clone(),
                    parties: parties(&[(&h.id, &h.far), (&a.id, &a.far)]),
                    cause: EventCause::Transfer,
                };
                self.end(held);
                self.end(active);
                self.emit(kind);
            }
            Progress::SingleStepTransferred { to } => {
                if !matches!(state, S::Connected | S::Hold) {
                    return wrong;
                }
                let to = owned(to)?;
                self.check_room(1, 0)?;
                let kind = EventKind::Transfered {
                    primary: c.id.clone(),
                    secondary: None,
                    parties: parties(&[(&c.id, &c.far)]),
                    to,
                    cause: EventCause::SingleStepTransfer,
                };
                self.end(call);
                self.emit(kind);
            }
            Progress::Conferenced => {
                let (held, active) = self.pair(call)?;
                self.check_room(1, 0)?;
                let h = self.call(held)?;
                let a = self.call(active)?;
                let kind = EventKind::Conferenced {
                    primary: h.id.clone(),
                    secondary: a.id.clone(),
                    added: a.far.clone(),
                    parties: parties(&[(&h.id, &h.far), (&h.id, &a.far)]),
                };
                self.end(active);
                let h = self.call_mut(held)?;
                h.state = S::Connected;
                h.partner = None;
                self.emit(kind);
            }
            Progress::Diverted { to, how } => {
                if state != S::Alerting {
                    return wrong;
                }
                let to = owned(to)?;
                self.check_room(1, 0)?;
                let info = self.info(call)?;
                self.end(call);
                self.emit(EventKind::Diverted {
                    info,
                    to,
                    cause: how.cause(),
                });
            }
        }
        Ok(())
    }

    /// The held and the active call of the pair `call` belongs to.
    fn pair(&self, call: CallRef) -> Result<(CallRef, CallRef), ModelError> {
        let c = self.call(call)?;
        let partner = c.partner.ok_or(ModelError::NoPartner)?;
        let p = self.call(partner).map_err(|_| ModelError::NoPartner)?;
        if p.partner != Some(call) {
            return Err(ModelError::NoPartner);
        }
        match (c.state, p.state) {
            (ConnectionState::Hold, s) if s != ConnectionState::Hold => Ok((call, partner)),
            (s, ConnectionState::Hold) if s != ConnectionState::Hold => Ok((partner, call)),
            _ => Err(ModelError::NoPartner),
        }
    }

    /// Ends a call: frees its slot and unlinks its partner.
    fn end(&mut self, call: CallRef) {
        if let Ok(Some(p)) = self.call(call).map(|c| c.partner)
            && let Ok(pc) = self.call_mut(p)
            && pc.partner == Some(call)
        {
            pc.partner = None;
        }
        self.release(call);
    }

    // --- requests ------------------------------------------------------------------

    /// Answers one CSTA request (see the module docs for what each does).
    pub fn handle_request(&mut self, request: &Message<'_>) -> Reply {
        let body = match self.request(request) {
            Ok(body) => body,
            Err(code) => ReplyBody::Error(code),
        };
        Reply {
            device: self.id.clone(),
            body,
        }
    }

    /// The call a request's connection names.
    fn named(&self, connection: &ConnectionId<'_>) -> Result<CallRef, ErrorCode<'static>> {
        let Some(call_id) = connection.call_id else {
            return Err(op(Operation::InvalidConnectionId));
        };
        let mut buf = [0u8; crate::types::CALL_ID_MAX];
        let id = call_id
            .decode(&mut buf)
            .map_err(|_| op(Operation::InvalidCallId))?;
        self.find(id).ok_or(op(Operation::InvalidCallId))
    }

    fn named_in(
        &self,
        connection: &ConnectionId<'_>,
        states: &[ConnectionState],
        error: StateIncompatibility<'static>,
    ) -> Result<CallRef, ErrorCode<'static>> {
        let r = self.named(connection)?;
        let state = self
            .call(r)
            .map(|c| c.state)
            .unwrap_or(ConnectionState::Null);
        if states.contains(&state) {
            Ok(r)
        } else {
            Err(state_err(error))
        }
    }

    fn need(&self, events: usize, commands: usize) -> Result<(), ErrorCode<'static>> {
        if self.room(events, commands) {
            Ok(())
        } else {
            Err(RESOURCE_BUSY)
        }
    }

    fn connection_reply(&self, kind: ConnectionReply, call: CallRef) -> ReplyBody {
        let id = self.call(call).map(|c| c.id.clone()).unwrap_or_default();
        ReplyBody::Connection {
            kind,
            call: id,
            device: None,
        }
    }

    fn request(&mut self, request: &Message<'_>) -> Result<ReplyBody, ErrorCode<'static>> {
        use ConnectionState as S;
        use StateIncompatibility as St;
        let body = match request {
            Message::MakeCall(m) => {
                let to = device_owned(&m.called_directory_number)?;
                if self.free_slot().is_none() {
                    return Err(RESOURCE_BUSY);
                }
                self.need(1, 1)?;
                let r = self
                    .new_call(S::Initiated, to.clone(), to.clone(), Origin::MakeCall)
                    .map_err(|_| RESOURCE_BUSY)?;
                let id = self.call(r).map(|c| c.id.clone()).unwrap_or_default();
                self.emit(EventKind::ServiceInitiated {
                    call: id,
                    cause: Some(EventCause::MakeCall),
                });
                self.command(Command::Originate { call: r, to });
                self.connection_reply(ConnectionReply::MakeCall, r)
            }
            Message::AnswerCall(m) => {
                let r =
                    self.named_in(&m.call_to_be_answered, &[S::Alerting], St::NoCallToAnswer)?;
                if self.call(r).is_ok_and(|c| c.outgoing()) {
                    return Err(state_err(St::NoCallToAnswer));
                }
                self.need(0, 1)?;
                self.command(Command::Answer { call: r });
                ReplyBody::Simple(SimpleReply::AnswerCall)
            }
            Message::ClearConnection(m) => {
                let r = self.named_in(
                    &m.connection_to_be_cleared,
                    &[
                        S::Initiated,
                        S::Alerting,
                        S::Connected,
                        S::Hold,
                        S::Fail,
                        S::Queued,
                    ],
                    St::InvalidConnectionState,
                )?;
                self.need(0, 1)?;
                self.command(Command::Clear { call: r });
                ReplyBody::Simple(SimpleReply::ClearConnection)
            }
            Message::HoldCall(m) => {
                let r = self.named_in(
                    &m.call_to_be_held,
                    &[S::Connected],
                    St::InvalidConnectionState,
                )?;
                self.need(0, 1)?;
                self.command(Command::Hold { call: r });
                ReplyBody::Simple(SimpleReply::HoldCall)
            }
            Message::RetrieveCall(m) => {
                let r = self.named_in(&m.call_to_be_retrieved, &[S::Hold], St::NoHeldCall)?;
                self.need(0, 1)?;
                self.command(Command::Retrieve { call: r });
                ReplyBody::Simple(SimpleReply::RetrieveCall)
            }
            Message::ConsultationCall(m) => {
                let held = self.named_in(&m.existing_call, &[S::Connected], St::NoActiveCall)?;
                let to = device_owned(&m.consulted_device)?;
                if self.free_slot().is_none() {
                    return Err(RESOURCE_BUSY);
                }
                self.need(0, 1)?;
                let r = self
                    .new_call(S::Null, to.clone(), to.clone(), Origin::Consultation)
                    .map_err(|_| RESOURCE_BUSY)?;
                if let Ok(c) = self.call_mut(r) {
                    c.partner = Some(held);
                }
                if let Ok(c) = self.call_mut(held) {
                    c.partner = Some(r);
                }
                self.command(Command::Consult { held, call: r, to });
                self.connection_reply(ConnectionReply::Consultation, r)
            }
            Message::TransferCall(m) => {
                let (held, active) = self.held_active(&m.held_call, &m.active_call)?;
                self.need(0, 1)?;
                self.link(held, active);
                self.command(Command::Transfer { held, active });
                let mut body = self.connection_reply(ConnectionReply::Transfer, held);
                if let ReplyBody::Connection { device, .. } = &mut body {
                    *device = self.call(active).ok().map(|c| c.far.clone());
                }
                body
            }
            Message::ConferenceCall(m) => {
                let (held, active) = self.held_active(&m.held_call, &m.active_call)?;
                self.need(0, 1)?;
                self.link(held, active);
                self.command(Command::Conference { held, active });
                self.connection_reply(ConnectionReply::Conference, held)
            }
            Message::AlternateCall(m) => {
                let (held, active) = self.held_active(&m.held_call, &m.active_call)?;
                self.need(0, 2)?;
                self.command(Command::Hold { call: active });
                self.command(Command::Retrieve { call: held });
                ReplyBody::Simple(SimpleReply::AlternateCall)
            }
            Message::ReconnectCall(m) => {
                let held = self.named_in(&m.held_call, &[S::Hold], St::NoHeldCall)?;
                let active = self.named_in(
                    &m.active_call,
                    &[S::Initiated, S::Connected, S::Fail],
                    St::NoActiveCall,
                )?;
                self.need(0, 2)?;
                self.command(Command::Clear { call: active });
                self.command(Command::Retrieve { call: held });
                ReplyBody::Simple(SimpleReply::ReconnectCall)
            }
            Message::DeflectCall(m) => {
                let r = self.named_in(
                    &m.call_to_be_diverted,
                    &[S::Alerting],
                    St::InvalidConnectionState,
                )?;
                let to = device_owned(&m.new_destination)?;
                self.need(0, 1)?;
                self.command(Command::Deflect { call: r, to });
                ReplyBody::Simple(SimpleReply::DeflectCall)
            }
            Message::SingleStepTransferCall(m) => {
                let r = self.named_in(
                    &m.active_call,
                    &[S::Connected, S::Hold],
                    St::InvalidConnectionState,
                )?;
                let to = device_owned(&m.transferred_to)?;
                self.need(0, 1)?;
                let id = self.call(r).map(|c| c.id.clone()).unwrap_or_default();
                self.command(Command::SingleStepTransfer {
                    call: r,
                    to: to.clone(),
                });
                ReplyBody::Connection {
                    kind: ConnectionReply::SingleStepTransfer,
                    call: id,
                    device: Some(to),
                }
            }
            Message::GenerateDigits(m) => {
                let r = self.named_in(
                    &m.connection_to_send_digits,
                    &[S::Connected],
                    St::InvalidConnectionState,
                )?;
                let digits: heapless::String<DIGITS_MAX> =
                    to_owned(&m.characters_to_send).map_err(|_| op(Operation::ValueOutOfRange))?;
                if digits.is_empty() {
                    return Err(op(Operation::InvalidParameterValue));
                }
                self.need(0, 1)?;
                self.command(Command::SendDigits { call: r, digits });
                ReplyBody::Simple(SimpleReply::GenerateDigits)
            }
            Message::GetDoNotDisturb(_) => {
                ReplyBody::Flag(FlagReply::DoNotDisturb, self.do_not_disturb)
            }
            Message::SetDoNotDisturb(m) => {
                self.need(1, 1)?;
                let on = m.do_not_disturb_on;
                self.do_not_disturb = on;
                self.emit(EventKind::DoNotDisturb { on });
                self.command(Command::SetDoNotDisturb { on });
                ReplyBody::Simple(SimpleReply::SetDoNotDisturb)
            }
            Message::GetForwarding(_) => {
                let mut list = Vec::new();
                for f in Forward::ALL {
                    let s = &self.forwarding[f.index()];
                    let _ = list.push((f, s.on, s.to.clone()));
                }
                ReplyBody::Forwarding(list)
            }
            Message::SetForwarding(m) => {
                let forward = Forward::from_forwarding_type(&m.forwarding_type)
                    .ok_or(op(Operation::InvalidForwardingType))?;
                let to = m.forward_dn.as_ref().map(device_owned).transpose()?;
                let to = to.filter(|t| !t.is_empty());
                if m.activate_forward
                    && to.is_none()
                    && self.forwarding[forward.index()].to.is_none()
                {
                    return Err(op(Operation::InvalidForwardingDestination));
                }
                self.need(1, 1)?;
                self.set_forward(forward, m.activate_forward, to);
                let to = self.forwarding[forward.index()].to.clone();
                self.command(Command::SetForwarding {
                    forward,
                    on: m.activate_forward,
                    to,
                });
                ReplyBody::Simple(SimpleReply::SetForwarding)
            }
            Message::GetMessageWaitingIndicator(_) => {
                ReplyBody::Flag(FlagReply::MessageWaiting, self.message_waiting)
            }
            Message::SetMessageWaitingIndicator(m) => {
                self.need(0, 1)?;
                self.message_waiting = m.message_waiting_on;
                self.command(Command::SetMessageWaiting {
                    on: m.message_waiting_on,
                });
                ReplyBody::Simple(SimpleReply::SetMessageWaiting)
            }
            Message::GetSpeakerMute(_) => {
                ReplyBody::Flag(FlagReply::SpeakerMute, self.speaker_mute)
            }
            Message::SetSpeakerMute(m) => {
                self.need(0, 1)?;
                self.speaker_mute = m.speaker_mute_on;
                self.command(Command::SetSpeakerMute {
                    on: m.speaker_mute_on,
                });
                ReplyBody::Simple(SimpleReply::SetSpeakerMute)
            }
            Message::GetSpeakerVolume(_) => ReplyBody::Volume(self.speaker_volume),
            Message::SetSpeakerVolume(m) => {
                if m.speaker_volume > 100 {
                    return Err(op(Operation::ValueOutOfRange));
                }
                self.need(0, 1)?;
                self.speaker_volume = m.speaker_volume;
                self.command(Command::SetSpeakerVolume {
                    volume: m.speaker_volume,
                });
                ReplyBody::Simple(SimpleReply::SetSpeakerVolume)
            }
            Message::GetMicrophoneMute(_) => {
                ReplyBody::Flag(FlagReply::MicrophoneMute, self.microphone_mute)
            }
            Message::SetMicrophoneMute(m) => {
                self.need(0, 1)?;
                self.microphone_mute = m.microphone_mute_on;
                self.command(Command::SetMicrophoneMute {
                    on: m.microphone_mute_on,
                });
                ReplyBody::Simple(SimpleReply::SetMicrophoneMute)
            }
            Message::MonitorStart(m) => {
                if !matches!(m.monitor_object, MonitorObject::Device(_)) {
                    return Err(op(Operation::InvalidMonitorObject));
                }
                if self.monitors.len() >= self.monitor_limit {
                    return Err(ErrorCode::SystemResourceAvailability(
                        SystemResourceAvailability::OverallMonitorLimitExceeded,
                    ));
                }
                let mut id = CrossRefIdBuf::new();
                let _ = write!(id, "{}", self.next_monitor_id);
                self.next_monitor_id = self.next_monitor_id.wrapping_add(1).max(1);
                let filter = m.requested_monitor_filter.unwrap_or_default();
                self.monitors
                    .push(Monitor {
                        id: id.clone(),
                        filter,
                    })
                    .map_err(|_| RESOURCE_BUSY)?;
                ReplyBody::MonitorStarted(id, m.requested_monitor_filter)
            }
            Message::MonitorStop(m) => {
                let pos = self
                    .monitors
                    .iter()
                    .position(|mon| m.monitor_cross_ref_id.0.eq_str(&mon.id))
                    .ok_or(op(Operation::InvalidMonitorCrossRefId))?;
                self.monitors.remove(pos);
                ReplyBody::Simple(SimpleReply::MonitorStop)
            }
            Message::SnapshotDevice(_) => {
                let mut items = Vec::new();
                for c in self.slots.iter().filter_map(|s| s.call.as_ref()) {
                    if c.state != S::Null {
                        let _ = items.push((c.id.clone(), c.state));
                    }
                }
                ReplyBody::Snapshot(items)
            }
            Message::GetCSTAFeatures(_) => ReplyBody::Features,
            Message::RequestSystemStatus(_) => ReplyBody::SystemStatus,
            _ => return Err(op(Operation::ServiceNotSupported)),
        };
        Ok(body)
    }

    /// The held and the active call a transfer, conference or alternate names.
    fn held_active(
        &self,
        held: &ConnectionId<'_>,
        active: &ConnectionId<'_>,
    ) -> Result<(CallRef, CallRef), ErrorCode<'static>> {
        use ConnectionState as S;
        let h = self.named_in(held, &[S::Hold], StateIncompatibility::NoHeldCall)?;
        let a = self.named_in(active, &[S::Connected], StateIncompatibility::NoActiveCall)?;
        if h == a {
            return Err(state_err(StateIncompatibility::NoActiveCall));
        }
        Ok((h, a))
    }

    fn link(&mut self, held: CallRef, active: CallRef) {
        if let Ok(c) = self.call_mut(held) {
            c.partner = Some(active);
        }
        if let Ok(c) = self.call_mut(active) {
            c.partner = Some(held);
        }
    }
}

fn origin_cause(origin: Origin) -> Option<EventCause<'static>> {
    match origin {
        Origin::MakeCall => Some(EventCause::MakeCall),
        Origin::Consultation => Some(EventCause::Consultation),
        Origin::Handset | Origin::Incoming => None,
    }
}

fn device_owned(d: &DeviceId<'_>) -> Result<DeviceIdBuf, ErrorCode<'static>> {
    to_owned(&d.id).map_err(|_| op(Operation::InvalidDeviceId))
}

/// The far ends of the calls a transfer or conference joins, as (call, device).
fn parties(list: &[(&CallIdBuf, &DeviceIdBuf)]) -> Vec<(CallIdBuf, DeviceIdBuf), 2> {
    list.iter()
        .take(2)
        .map(|(c, d)| ((*c).clone(), (*d).clone()))
        .collect()
}

/// A connection list item naming the far end `device` in `call`.
fn party_item<'a>(call: &'a str, device: &'a str) -> ConnectionListItem<'a> {
    ConnectionListItem {
        new_connection: Some(ConnectionId::new(call, device)),
        old_connection: None,
        endpoint: Some(crate::types::DeviceRef::id(device)),
    }
}

fn party_list(parties: &[(CallIdBuf, DeviceIdBuf)]) -> ConnectionList<'_> {
    ConnectionList {
        items: parties.iter().map(|(c, d)| party_item(c, d)).collect(),
    }
}

fn text(s: &str) -> Text<'_> {
    Text::new(s)
}
