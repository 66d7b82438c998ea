//! The hub: the client side of the server's CSTA logic.
//!
//! The hub speaks ECMA-323 XML with the client applications (each message arrives as a
//! [`ClientInput`], complete with its invokeID) and reaches the phones only through
//! [`Devices`]. It is synchronous and does no I/O: every input is a method call that
//! carries the time, and what is to be sent is polled.
//!
//! ```text
//! loop {
//!     hub.handle_input(now, input, &mut devices);   // or device_news / handle_timeout
//!     hub.drive_devices(now, &mut devices);         // after a batch of device news
//!     while let Some(out) = hub.poll_output() { send(out) }
//!     arm_timer(hub.poll_timeout());
//! }
//! ```
//!
//! # What it does
//!
//! - **Application sessions (ECMA-354).** A client first sends
//!   `StartApplicationSession` with a user name and password in
//!   `applicationSpecificInfo`; they are checked against the configured client users
//!   (passwords compared in constant time). The session's duration is the client's
//!   `requestedSessionDuration` bounded to
//!   [`HubConfig::min_session_duration`]..=[`HubConfig::max_session_duration`]
//!   ([`HubConfig::default_session_duration`] when none is asked for).
//!   `ResetApplicationSessionTimer` restarts the timer (other traffic does not, as in
//!   ECMA-354); when it runs out the client gets `ApplicationSessionTerminated` with
//!   `sessionTimerExpired` and the connection is closed. A client that has not started
//!   a session within [`HubConfig::login_timeout`] of its accept
//!   ([`ClientInfo::opened`]; `timers.client_login_timeout`, default 5 s), or fails
//!   [`HubConfig::max_login_failures`] times, is closed. [`Hub::has_session`] tells
//!   the connection layer which connections have logged in (they keep their place
//!   when the connections run short, see [`crate::admission`]). Failed logins and
//!   login timeouts are logged at most
//!   [`LINES_PER_SECOND`](crate::lograte::LINES_PER_SECOND) times a second each, with
//!   the number of lines left out. Wrong passwords are counted by address and by user
//!   across connections ([`crate::guard`], default: 10 a minute block for 30 s,
//!   doubling up to 15 min); while blocked, a login is answered
//!   `serverResourcesBusy` without its password being checked, except for a user at an
//!   address it logged in from within the last day.
//! - **Protocol version.** The first version of `requestedProtocolVersions` this
//!   crate can write (ECMA-323 editions 3 to 6) is chosen and returned in
//!   `actualProtocolVersion`; none of them → `requestedProtocolVersionNotSupported`.
//!   Without a list the session starts in [`HubConfig::default_edition`]. Every answer
//!   is written in the edition of the request it answers; events are written in the
//!   negotiated edition or, when the client negotiated none, in the edition of its
//!   latest request.
//! - **Access control.** A user sees the devices listed in its configuration (`"*"`:
//!   all).
//! - **Monitors.** `MonitorStart` on a device gives the client a monitorCrossRefID of
//!   its own (unique in the hub) on the server's single monitor of the phone; every
//!   event of the phone goes to every client monitoring it, with the client's
//!   monitorCrossRefID, in the client's edition, invokeID 9999, unless the client's
//!   `requestedMonitorFilter` filters it out (the filter is applied by the hub and
//!   returned as `actualMonitorFilter`). While the phone is
//!   offline its monitors report `OutOfServiceEvent`, and `BackInServiceEvent` when it
//!   is back (ECMA-269 device maintenance events).
//! - **Requests** are passed to the phone the request names and the answer goes back
//!   with the request's invokeID. `SnapshotDevice`, `GetDoNotDisturb` and
//!   `GetForwarding` are answered from [`Devices::view`] when the view knows the
//!   answer; `RequestSystemStatus` and `GetCSTAFeatures` (what the hub offers) are
//!   answered by the hub.
//! - **Fairness between clients.** Each phone's uaCSTA session queues at most
//!   [`QUEUE`](crate::sessions::QUEUE) requests, and a request that finds the queue
//!   full is refused (`resourceBusy`). So that one client cannot keep a phone's queue
//!   full and lock the other clients out of that phone, a client may have at most
//!   [`HubConfig::max_pending_per_client_device`] requests waiting for any one phone
//!   (default [`DEVICE_SHARE`], half the queue: two clients always get a full share,
//!   and one client never takes every place), besides
//!   [`HubConfig::max_pending_per_client`] over all phones. A request beyond either
//!   is refused with `outstandingReqLimitExceeded`: the limit is the client's, and it
//!   may send again once the phone has answered. A pickup's `DeflectCall` and
//!   `AnswerCall` count as its client's requests with the phone they go to while they
//!   wait for its answer. A request leaves the counts when the phone answers it (or
//!   the session manager answers it as failed: a SIP error or timeout), when the phone
//!   goes offline, and when its client's session ends or the connection closes.
//!   A fixed share was chosen over sending the clients' requests round-robin: the
//!   queue lives in the session manager and the hub does not hold requests, so
//!   round-robin would need a second queue per phone in the hub (bounded, timed out,
//!   emptied on a client's disconnect) and delayed answers, while a share keeps the
//!   refusal immediate and costs a counter per client and phone. Clients that need
//!   more than their share of one phone send the rest after the answers come. (The
//!   share is per connection: the phone still holds the requests of a client that
//!   disconnected until it answers them or they time out.)
//! - **Devices.** `GetSwitchingFunctionDevices` is answered by the hub from the
//!   user's access list and the controlled devices ([`Devices::all`]): a
//!   `GetSwitchingFunctionDevicesResponse` with a serviceCrossRefID (`D1`, `D2`, ...),
//!   then the list in `SwitchingFunctionDevices` requests of the server (its own
//!   invokeIDs, 1 to 9998 in turn), [`HubConfig::segment_size`] devices each,
//!   `segmentID` from 1, `lastSegment` true on the last; no device is one empty
//!   segment. Every device is listed by its canonical ID with `deviceCategory`
//!   `station`; `requestedDeviceID` narrows the list to that device (checked like any
//!   device), a `requestedDeviceCategory` other than `station` empties it. The
//!   client's `SwitchingFunctionDevicesResponse`s are taken silently.
//! - **System registrations.** `SystemRegister` gets a `SystemRegisterResponse` with
//!   a sysStatRegisterID unique in the hub (at most
//!   [`HubConfig::max_registrations_per_client`] per client);
//!   `SystemRegisterCancel` ends one. A registration that asked for
//!   `switchingFunctionDevicesChanged` gets `SwitchingFunctionDevicesChanged` (a
//!   request of the server) with its sysStatRegisterID whenever the set of devices
//!   its client may see changes ([`Hub::devices_changed`], [`Hub::reconfigure`]: a
//!   configuration reload). Registrations end with the client's session.
//! - **Reloads.** [`Hub::reconfigure`] takes new client users and pick-up groups:
//!   sessions of removed users get `ApplicationSessionTerminated`
//!   (`nonStandardTermReason` `clientUserRemoved`) and are closed; monitors on devices
//!   that are gone or no longer in the access list are ended by a `MonitorStop` from
//!   the server (after `OutOfServiceEvent` when the line was removed).
//! - **Pickups.** `DirectedPickupCall` and `GroupPickupCall` are carried out by the
//!   hub with `DeflectCall` to the ringing phone and `AnswerCall` to the picking one
//!   (see the `pickup` module source for the steps); `GroupPickupCall` picks the call
//!   that started alerting first at another device of the pick group
//!   (`pickup_group` of the lines, [`HubConfig::pickup_groups`]) that `pickGroup`
//!   names or the picking device belongs to.
//!
//! # Negative answers
//!
//! Every refused request gets a `CSTAErrorCode` (ECMA-269 clause 9.3) with the
//! request's invokeID, and the client stays connected:
//!
//! | Situation | `CSTAErrorCode` |
//! |---|---|
//! | No application session yet | `security/generic`: the client has not authenticated, which is a security check ECMA-269 has no more specific value for (`securityInfoViolated` is about a message's security data). |
//! | XML not well-formed, value not allowed | `operation/invalidParameterValue` |
//! | A required element missing | `operation/atLeastOneConditionalParameterNotProvided` |
//! | Unknown root element, or a service the server does not offer | `operation/serviceNotSupported` |
//! | A device outside the user's access list, known or not | `operation/privilegeViolationSpecifiedDevice`; unknown and known devices get the same answer, so a client cannot probe which devices exist. |
//! | A device in the access list that the server does not control | `operation/invalidDeviceID` |
//! | A connection without `deviceID` | `operation/invalidConnectionID` |
//! | The phone is offline | `systemResourceAvailibility/deviceOutOfService` |
//! | The phone's queue is full (other clients hold the rest of it) | `systemResourceAvailibility/resourceBusy` |
//! | The request cannot be written for the phone | `operation/invalidParameterValue` |
//! | The phone gave no CSTA answer (SIP error, timeout, undecodable answer) | `systemResourceAvailibility/generic`: the failure is in the path to the device, not in the request. |
//! | Too many requests outstanding for the client ([`HubConfig::max_pending_per_client`]), or for the client at one phone ([`HubConfig::max_pending_per_client_device`], its share of the phone's queue) | `subscribedResourceAvailability/outstandingReqLimitExceeded`: the limit is the client's own (ECMA-269's "outstanding requests limit exceeded" for a subscriber), not the phone's. |
//! | Too many monitors for the client ([`HubConfig::max_monitors_per_client`]) | `subscribedResourceAvailability/objectMonitorLimitExceeded` |
//! | `MonitorStop` of a monitor the client does not have | `operation/invalidMonitorCrossRefID` |
//! | `MonitorStart` on a call (`callObject`) | `operation/invalidMonitorObject` |
//! | `SystemRegisterCancel` of a registration the client does not have | `operation/invalidCrossRefID` |
//! | Too many registrations for the client | `subscribedResourceAvailability/objectRegistrationLimitExceeded` |
//! | Pickup: a connection without call ID or device, or a call the device's view does not have | `operation/invalidConnectionID` |
//! | Pickup: the picking device is the ringing one | `operation/notDifferentDevices` |
//! | Directed pickup: the call does not alert at the device | `stateIncompatibility/invalidConnectionState` |
//! | Group pickup: no call alerts at another device of the group that the client may control | `stateIncompatibility/noCallToAnswer` |
//! | Group pickup: no `pickGroup` and the picking device is in no group | `operation/requestIncompatibleWithObject` |
//! | Group pickup: `pickGroup` names no configured group | `operation/invalidDeviceID` |
//! | Pickup: a phone refuses the `DeflectCall` or the `AnswerCall` | the phone's `CSTAErrorCode`, as it is |
//! | Pickup: the call does not alert at the picking device within [`HubConfig::pickup_timeout`] of the deflection, or a phone gives no answer within [`PHONE_ANSWER_TIMEOUT`] | `systemResourceAvailibility/generic` |
//! | Pickup: the picking phone goes offline while waiting for the call | `systemResourceAvailibility/deviceOutOfService` |
//!
//! Negative answers to the ECMA-354 messages are their own `...NegResponse`s:
//! `invalidApplicationInfo` for a missing or wrong user or password,
//! `requestedProtocolVersionNotSupported`, `invalidSessionID` for a stop or reset
//! naming another session, and `nonStandardError` `sessionAlreadyStarted` for a second
//! start.
//!
//! Messages with invokeID 9999 (events) and responses from a client are ignored with a
//! debug log. The server's own requests to clients (`SwitchingFunctionDevices`,
//! `SwitchingFunctionDevicesChanged`, the `MonitorStop` of a monitor it ends, the
//! `StopApplicationSession` of [`Hub::shutdown`]) carry invokeIDs it numbers 1 to
//! 9998 in turn; their answers are not awaited.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use csta_core::DecodeError;
use csta_core::Edition;
use csta_core::flags::{MonitorFilter, SupportedEvents, SupportedServices};
use csta_core::framing::InvokeId;
use csta_core::message::device::{
    ForwardListItem, ForwardingList, GetDoNotDisturbResponse, GetForwardingResponse,
};
use csta_core::message::event::{BackInServiceEvent, OutOfServiceEvent};
use csta_core::message::monitor::{
    CompoundCallState, LocalCallState, MonitorObject, MonitorStartResponse, MonitorStopResponse,
    SnapshotData, SnapshotDeviceResponse, SnapshotDeviceResponseInfo,
};
use csta_core::message::session::{
    ApplicationSessionTerminated, ResetApplicationSessionTimerNegResponse,
    ResetApplicationSessionTimerPosResponse, SessionEndReason, SessionError, SessionTermReason,
    StartApplicationSessionNegResponse, StartApplicationSessionPosResponse, StopApplicationSession,
    StopApplicationSessionNegResponse, StopApplicationSessionPosResponse,
};
use csta_core::message::system::{GetCSTAFeaturesResponse, RequestSystemStatusResponse};
use csta_core::message::{EncodeOptions, ErrorCode, Kind, Message, decode};
use csta_core::model::view::same_device;
use csta_core::names::{
    self, ApplicationSessionError, Operation, Security, SubscribedResourceAvailability,
    SystemResourceAvailability,
};
use csta_core::types::{ConnectionId, CrossRefId, DeviceId, DeviceRef};
use csta_core::uacsta::app::RequestId;
use csta_core::xml::Text;
use sha2::{Digest, Sha256};

use crate::config::{ClientUser, Config};
use crate::guard::{AuthGuard, GuardConfig, GuardStats, Verdict};
use crate::interface::{
    Answer, ClientId, ClientInfo, ClientInput, ClientOutput, DeviceNews, DeviceStatus, Devices,
    SendError,
};
use crate::lograte::LogRate;

/// The hub's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubConfig {
    /// The client applications' accounts.
    pub users: Vec<ClientUser>,
    /// The shortest session duration granted, in seconds (default 30).
    pub min_session_duration: u32,
    /// The longest session duration granted, in seconds (default 3600).
    pub max_session_duration: u32,
    /// The duration granted when the client asks for none, in seconds (default 300).
    pub default_session_duration: u32,
    /// How long a connection may go without starting a session, counted from
    /// [`ClientInfo::opened`] (default 5 s; `timers.client_login_timeout`).
    pub login_timeout: Duration,
    /// Failed `StartApplicationSession`s after which the connection is closed
    /// (default 3).
    pub max_login_failures: u32,
    /// Monitors one client may hold (default 256; `limits.max_monitors_per_client`).
    pub max_monitors_per_client: usize,
    /// Requests one client may have waiting for a phone's answer, all phones
    /// together (default 64).
    pub max_pending_per_client: usize,
    /// Requests one client may have waiting for the answer of one phone (default
    /// [`DEVICE_SHARE`]; `limits.max_pending_per_client_device`): a client's share of
    /// the phone's request queue ([`QUEUE`](crate::sessions::QUEUE)), so that it
    /// cannot fill the queue and starve the other clients of that phone.
    pub max_pending_per_client_device: usize,
    /// The edition of clients that negotiate none and have not sent a CSTA request
    /// yet (default edition 3, the uaCSTA default).
    pub default_edition: Edition,
    /// The most devices in one `SwitchingFunctionDevices` segment (default 32, at most
    /// [`DEVICE_LIST_MAX`](csta_core::message::system::DEVICE_LIST_MAX), at least 1).
    pub segment_size: usize,
    /// How long a pickup waits, after the ringing phone accepted the `DeflectCall`,
    /// for the call to alert at the picking device (default 5 s).
    pub pickup_timeout: Duration,
    /// The pick(-up) group of each controlled device that has one: canonical device
    /// ID (the line's address-of-record) to group name (`pickup_group` of the
    /// `[[csta_lines]]`).
    pub pickup_groups: BTreeMap<String, String>,
    /// `SystemRegister` registrations one client may hold (default 16).
    pub max_registrations_per_client: usize,
}

impl HubConfig {
    /// The defaults with these users.
    pub fn new(users: Vec<ClientUser>) -> Self {
        HubConfig {
            users,
            min_session_duration: 30,
            max_session_duration: 3600,
            default_session_duration: 300,
            login_timeout: Duration::from_secs(5),
            max_login_failures: 3,
            max_monitors_per_client: 256,
            max_pending_per_client: 64,
            max_pending_per_client_device: DEVICE_SHARE,
            default_edition: Edition::Ed3,
            segment_size: 32,
            pickup_timeout: Duration::from_secs(5),
            pickup_groups: BTreeMap::new(),
            max_registrations_per_client: 16,
        }
    }

    /// The defaults with the client users, the login timeout and the per-client
    /// limits of the server's configuration (monitors, requests per phone).
    pub fn from_config(config: &Config) -> Self {
        HubConfig {
            login_timeout: Duration::from_secs(config.timers.client_login_timeout.into()),
            max_monitors_per_client: config.limits.max_monitors_per_client,
            max_pending_per_client_device: config.limits.max_pending_per_client_device,
            pickup_groups: pickup_groups(config),
            ..HubConfig::new(config.client_users.clone())
        }
    }
}

/// The default of [`HubConfig::max_pending_per_client_device`]: half of a phone's
/// request queue ([`QUEUE`](crate::sessions::QUEUE)), so that two clients each get a
/// full share however many requests they send.
pub const DEVICE_SHARE: usize = crate::sessions::QUEUE / 2;

/// The pick-up group of each line that has one.
pub fn pickup_groups(config: &Config) -> BTreeMap<String, String> {
    config
        .csta_lines
        .iter()
        .filter_map(|l| Some((l.aor.clone(), l.pickup_group.clone()?)))
        .collect()
}

/// Counters for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HubStats {
    /// Client connections open.
    pub clients: usize,
    /// Application sessions started.
    pub sessions: usize,
    /// Client monitors.
    pub monitors: usize,
    /// Requests waiting for a phone's answer.
    pub pending: usize,
    /// Requests passed to phones since the start.
    pub requests_forwarded: u64,
    /// Answers given from the server's view of a device since the start.
    pub answered_from_view: u64,
    /// Events sent to clients since the start.
    pub events_delivered: u64,
    /// Failed `StartApplicationSession`s since the start.
    pub login_failures: u64,
    /// Messages from clients that did not decode since the start.
    pub malformed: u64,
}

/// Where a client connection stands.
#[derive(Debug)]
enum Stage {
    /// Connected, no session yet.
    Connected { deadline: Instant, failures: u32 },
    /// The session is up.
    Session(Session),
    /// Told to close; everything from it is ignored.
    Closing,
}

#[derive(Debug)]
struct Session {
    id: String,
    /// Index into the configured users.
    user: usize,
    duration: Duration,
    expires: Instant,
    /// Whether the client chose the edition in `requestedProtocolVersions`.
    negotiated: bool,
}

#[derive(Debug)]
struct Client {
    stage: Stage,
    /// The edition events are written in.
    edition: Edition,
    /// Its monitors' numbers.
    monitors: Vec<u64>,
    /// Its requests waiting for a phone (a pickup counts as one from start to end).
    pending: usize,
    /// Its requests with each phone (canonical device ID), the phone requests of its
    /// pickups included: the entries of `Hub::pending` and `Hub::pickup_requests` that
    /// are its. A device is removed when its count is back to zero.
    per_device: HashMap<String, usize>,
    /// The address it connected from (for the limits on wrong passwords).
    peer: std::net::IpAddr,
}

impl Client {
    /// The client's requests with `device`.
    fn at_device(&self, device: &str) -> usize {
        self.per_device.get(device).copied().unwrap_or(0)
    }

    /// One more request with `device`.
    fn hold(&mut self, device: &str) {
        match self.per_device.get_mut(device) {
            Some(n) => *n += 1,
            None => {
                self.per_device.insert(device.to_owned(), 1);
            }
        }
    }

    /// One request with `device` less.
    fn release(&mut self, device: &str) {
        if let Some(n) = self.per_device.get_mut(device) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_device.remove(device);
            }
        }
    }

    /// Whether a new request to `device` would exceed one of the client's limits.
    fn over_limit(&self, config: &HubConfig, device: &str) -> bool {
        self.pending >= config.max_pending_per_client
            || self.at_device(device) >= config.max_pending_per_client_device
    }
}

#[derive(Debug)]
struct Monitor {
    client: ClientId,
    /// The canonical device ID.
    device: String,
    /// The device as the client named it.
    name: String,
    /// Events not to report (`requestedMonitorFilter`).
    filter: Option<MonitorFilter>,
}

#[derive(Debug)]
struct Pending {
    client: ClientId,
    invoke_id: InvokeId,
    edition: Edition,
}

/// The client side of the server (see the [module docs](self)).
#[derive(Debug)]
pub struct Hub {
    config: HubConfig,
    clients: BTreeMap<ClientId, Client>,
    /// Monitors by number; the monitorCrossRefID is the number in decimal.
    monitors: BTreeMap<u64, Monitor>,
    /// Monitor numbers by canonical device ID, oldest first.
    by_device: HashMap<String, Vec<u64>>,
    /// Requests waiting for a phone, by canonical device ID and request.
    pending: HashMap<(String, RequestId), Pending>,
    next_monitor: u64,
    next_session: u64,
    next_invoke: u16,
    out: VecDeque<ClientOutput>,
    stats: HubStats,
    /// `SystemRegister` registrations by number (the sysStatRegisterID in decimal).
    registrations: BTreeMap<u64, system::Registration>,
    next_registration: u64,
    /// Numbers the serviceCrossRefIDs of `GetSwitchingFunctionDevices`.
    next_service_ref: u64,
    /// Directed and group pickups under way, by number.
    pickups: BTreeMap<u64, pickup::Pickup>,
    next_pickup: u64,
    /// The hub's own requests to phones (for pickups): device and request to pickup.
    pickup_requests: HashMap<(String, RequestId), u64>,
    /// Pickups whose call alerts at the picking device, waiting for their `AnswerCall`
    /// ([`Hub::drive_devices`]).
    ready: Vec<u64>,
    /// When each call alerting at a device was first reported (canonical device ID,
    /// call ID): the oldest is picked first by `GroupPickupCall`.
    alerting_since: HashMap<(String, String), Instant>,
    /// Log lines of failed logins.
    login_failure_log: LogRate,
    /// Wrong passwords by address and by user ([`crate::guard`]), on a clock of
    /// seconds from `guard_epoch`.
    guard: AuthGuard,
    guard_epoch: Option<Instant>,
    /// Log lines of connections closed for not logging in in time.
    login_timeout_log: LogRate,
}

mod pickup;
mod system;

pub use pickup::PHONE_ANSWER_TIMEOUT;

/// An error answer: a `CSTAErrorCode` with only `'static` texts.
type Refusal = ErrorCode<'static>;

const fn operation(o: Operation<'static>) -> Refusal {
    ErrorCode::Operation(o)
}

const fn system(s: SystemResourceAvailability<'static>) -> Refusal {
    ErrorCode::SystemResourceAvailability(s)
}

/// The answer to a request the phone could not be given.
fn send_refusal(e: SendError) -> Refusal {
    match e {
        SendError::UnknownDevice => operation(Operation::InvalidDeviceId),
        SendError::Offline => system(SystemResourceAvailability::DeviceOutOfService),
        SendError::Busy => system(SystemResourceAvailability::ResourceBusy),
        SendError::Encode => operation(Operation::InvalidParameterValue),
    }
}

/// The answer to a message that did not decode.
fn decode_refusal(e: &DecodeError) -> Refusal {
    match e {
        DecodeError::UnknownMessage { .. } => operation(Operation::ServiceNotSupported),
        DecodeError::MissingElement { .. } => {
            operation(Operation::AtLeastOneConditionalParameterNotProvided)
        }
        _ => operation(Operation::InvalidParameterValue),
    }
}

/// Compares two secrets in time that depends on neither's content: both are hashed
/// to equal length and the hashes compared without an early exit.
fn secret_eq(a: &str, b: &str) -> bool {
    let a = Sha256::digest(a.as_bytes());
    let b = Sha256::digest(b.as_bytes());
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

fn owned(t: &Text<'_>) -> String {
    t.chars().collect()
}

/// The device a request forwarded to a phone acts on: `Some(Some(id))` for a device
/// ID, `Some(None)` for a connection without `deviceID`, `None` for a service the hub
/// does not pass on.
fn target(m: &Message<'_>) -> Option<Option<String>> {
    fn connection(c: &ConnectionId<'_>) -> Option<String> {
        c.device_id.as_ref().map(|d| owned(&d.id))
    }
    fn device(d: &DeviceId<'_>) -> Option<String> {
        Some(owned(&d.id))
    }
    Some(match m {
        Message::MakeCall(r) => device(&r.calling_device),
        Message::AnswerCall(r) => connection(&r.call_to_be_answered),
        Message::ClearConnection(r) => connection(&r.connection_to_be_cleared),
        Message::HoldCall(r) => connection(&r.call_to_be_held),
        Message::RetrieveCall(r) => connection(&r.call_to_be_retrieved),
        Message::ConsultationCall(r) => connection(&r.existing_call),
        Message::TransferCall(r) => connection(&r.held_call),
        Message::ConferenceCall(r) => connection(&r.held_call),
        Message::AlternateCall(r) => connection(&r.active_call),
        Message::ReconnectCall(r) => connection(&r.active_call),
        Message::DeflectCall(r) => connection(&r.call_to_be_diverted),
        Message::SingleStepTransferCall(r) => connection(&r.active_call),
        Message::GenerateDigits(r) => connection(&r.connection_to_send_digits),
        Message::GetDoNotDisturb(r) => device(&r.device),
        Message::SetDoNotDisturb(r) => device(&r.device),
        Message::GetForwarding(r) => device(&r.device),
        Message::SetForwarding(r) => device(&r.device),
        Message::GetMessageWaitingIndicator(r) => device(&r.device),
        Message::SetMessageWaitingIndicator(r) => device(&r.device),
        Message::GetSpeakerMute(r) => device(&r.device),
        Message::SetSpeakerMute(r) => device(&r.device),
        Message::GetSpeakerVolume(r) => device(&r.device),
        Message::SetSpeakerVolume(r) => device(&r.device),
        Message::GetMicrophoneMute(r) => device(&r.device),
        Message::SetMicrophoneMute(r) => device(&r.device),
        Message::SnapshotDevice(r) => device(&r.snapshot_object),
        _ => return None,
    })
}

/// The monitorCrossRefID slot of an event.
fn monitor_slot<'m, 'a>(m: &'m mut Message<'a>) -> Option<&'m mut Option<CrossRefId<'a>>> {
    Some(match m {
        Message::ServiceInitiatedEvent(e) => &mut e.monitor_cross_ref_id,
        Message::OriginatedEvent(e) => &mut e.monitor_cross_ref_id,
        Message::DeliveredEvent(e) => &mut e.monitor_cross_ref_id,
        Message::EstablishedEvent(e) => &mut e.monitor_cross_ref_id,
        Message::ConnectionClearedEvent(e) => &mut e.monitor_cross_ref_id,
        Message::CallClearedEvent(e) => &mut e.monitor_cross_ref_id,
        Message::HeldEvent(e) => &mut e.monitor_cross_ref_id,
        Message::RetrievedEvent(e) => &mut e.monitor_cross_ref_id,
        Message::TransferedEvent(e) => &mut e.monitor_cross_ref_id,
        Message::ConferencedEvent(e) => &mut e.monitor_cross_ref_id,
        Message::DivertedEvent(e) => &mut e.monitor_cross_ref_id,
        Message::FailedEvent(e) => &mut e.monitor_cross_ref_id,
        Message::NetworkReachedEvent(e) => &mut e.monitor_cross_ref_id,
        Message::DigitsGeneratedEvent(e) => &mut e.monitor_cross_ref_id,
        Message::DoNotDisturbEvent(e) => &mut e.monitor_cross_ref_id,
        Message::ForwardingEvent(e) => &mut e.monitor_cross_ref_id,
        Message::MessageWaitingEvent(e) => &mut e.monitor_cross_ref_id,
        Message::CallInformationEvent(e) => &mut e.monitor_cross_ref_id,
        Message::OutOfServiceEvent(e) => &mut e.monitor_cross_ref_id,
        Message::BackInServiceEvent(e) => &mut e.monitor_cross_ref_id,
        _ => return None,
    })
}

/// The services a client can use through the hub (`supportedServices` category and
/// element).
const SERVICES: &[(&str, &str)] = &[
    ("capExchangeServList", "getCSTAFeatures"),
    ("capExchangeServList", "getSwitchingFunctionDevices"),
    ("capExchangeServList", "switchingFunctionDevices"),
    ("systemStatServList", "systemRegister"),
    ("systemStatServList", "systemStatusRegisterCancel"),
    ("systemStatServList", "swFunctionDevicesChanged"),
    ("systemStatServList", "requestSystemStatus"),
    ("monitoringServList", "monitorStart"),
    ("monitoringServList", "monitorStop"),
    ("snapshotServList", "snapshotDevice"),
    ("callControlServList", "alternateCall"),
    ("callControlServList", "answerCall"),
    ("callControlServList", "clearConnection"),
    ("callControlServList", "conferenceCall"),
    ("callControlServList", "consultationCall"),
    ("callControlServList", "deflectCall"),
    ("callControlServList", "directedPickupCall"),
    ("callControlServList", "groupPickupCall"),
    ("callControlServList", "holdCall"),
    ("callControlServList", "makeCall"),
    ("callControlServList", "reconnectCall"),
    ("callControlServList", "retrieveCall"),
    ("callControlServList", "singleStepTransfer"),
    ("callControlServList", "transferCall"),
    ("callAssociatedServList", "generateDigits"),
    ("physDevServList", "getMessageWaitingIndicator"),
    ("physDevServList", "getMicrophoneMute"),
    ("physDevServList", "getSpeakerMute"),
    ("physDevServList", "getSpeakerVolume"),
    ("physDevServList", "setMsgWaitingIndicator"),
    ("physDevServList", "setMicrophoneMute"),
    ("physDevServList", "setSpeakerMute"),
    ("physDevServList", "setSpeakerVolume"),
    ("logicalServList", "getDoNotDisturb"),
    ("logicalServList", "getForwarding"),
    ("logicalServList", "setDoNotDisturb"),
    ("logicalServList", "setForwarding"),
];

/// The events the hub passes on (`supportedEvents` category and flag).
const EVENTS: &[(&str, &str)] = &[
    ("callControlEvtsList", "callCleared"),
    ("callControlEvtsList", "conferenced"),
    ("callControlEvtsList", "connectionCleared"),
    ("callControlEvtsList", "delivered"),
    ("callControlEvtsList", "diverted"),
    ("callControlEvtsList", "established"),
    ("callControlEvtsList", "failed"),
    ("callControlEvtsList", "held"),
    ("callControlEvtsList", "networkReached"),
    ("callControlEvtsList", "originated"),
    ("callControlEvtsList", "retrieved"),
    ("callControlEvtsList", "serviceInitiated"),
    ("callControlEvtsList", "transferred"),
    ("callAssociatedEvtsList", "callInformation"),
    ("callAssociatedEvtsList", "digitsGenerated"),
    ("physDevEvtsList", "messageWaiting"),
    ("logicalEvtsList", "doNotDisturb"),
    ("logicalEvtsList", "forwarding"),
    ("deviceMaintEvtsList", "backInService"),
    ("deviceMaintEvtsList", "outOfService"),
];

/// The answer to `GetCSTAFeatures`: what the hub offers (the phones may support less;
/// they answer for themselves).
fn features() -> Message<'static> {
    let mut services = SupportedServices::new();
    for (category, service) in SERVICES {
        services.set(category, service, true);
    }
    let mut events = SupportedEvents::new();
    for (category, event) in EVENTS {
        events.set(category, event, true);
    }
    Message::GetCSTAFeaturesResponse(GetCSTAFeaturesResponse {
        supported_services: Some(services),
        supported_events: Some(events),
    })
}

/// Whether `filter` asks that the event named `event` is not reported. The filter
/// flag is the event's name without `Event`, starting lower-case (`transferred` for
/// `TransferedEvent`), in whichever category of ECMA-269's monitor filter lists it.
fn filtered(filter: Option<&MonitorFilter>, event: &str) -> bool {
    let Some(filter) = filter else {
        return false;
    };
    let Some(base) = event.strip_suffix("Event") else {
        return false;
    };
    let flag = if base == "Transfered" {
        "transferred".to_owned()
    } else {
        let mut chars = base.chars();
        chars.next().map_or_else(String::new, |c| {
            c.to_ascii_lowercase().to_string() + chars.as_str()
        })
    };
    names::MONITOR_FILTER
        .iter()
        .find(|c| c.flags.contains(&flag.as_str()))
        .and_then(|c| filter.get(c.element, &flag))
        == Some(true)
}

/// The edition named by a protocol version (an ECMA-323 namespace URI, or `ed3` ..),
/// when this crate writes it.
fn writable_edition(version: &str) -> Option<Edition> {
    match Edition::from_namespace(version.trim()) {
        Some(Edition::Ed2) | None => None,
        Some(e) => Some(e),
    }
}

/// Writes `m` in `edition`.
fn encode(m: &Message<'_>, edition: Edition) -> Result<Vec<u8>, csta_core::message::EncodeError> {
    let options = EncodeOptions {
        edition,
        declaration: true,
    };
    let mut buf = vec![0; m.buffer_len(&options)];
    let n = m.encode_with(&options, &mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

impl fmt::Display for HubStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} clients, {} sessions, {} monitors, {} pending, {} forwarded, {} events",
            self.clients,
            self.sessions,
            self.monitors,
            self.pending,
            self.requests_forwarded,
            self.events_delivered
        )
    }
}

impl Hub {
    /// A hub with no clients.
    pub fn new(config: HubConfig) -> Self {
        Hub {
            config,
            clients: BTreeMap::new(),
            monitors: BTreeMap::new(),
            by_device: HashMap::new(),
            pending: HashMap::new(),
            next_monitor: 1,
            next_session: 1,
            next_invoke: 1,
            out: VecDeque::new(),
            stats: HubStats::default(),
            registrations: BTreeMap::new(),
            next_registration: 1,
            next_service_ref: 1,
            pickups: BTreeMap::new(),
            next_pickup: 1,
            pickup_requests: HashMap::new(),
            ready: Vec::new(),
            alerting_since: HashMap::new(),
            login_failure_log: LogRate::per_second(),
            guard: AuthGuard::new(GuardConfig::default()),
            guard_epoch: None,
            login_timeout_log: LogRate::per_second(),
        }
    }

    /// Takes one input from the client connections. Poll [`poll_output`](Self::poll_output)
    /// afterwards.
    pub fn handle_input(&mut self, now: Instant, input: ClientInput, devices: &mut dyn Devices) {
        match input {
            ClientInput::Connected { client, info } => self.connected(now, client, info),
            ClientInput::Closed { client } => {
                if self.clients.remove(&client).is_some() {
                    self.forget(client);
                    tracing::debug!(client = client.0, "client gone");
                }
            }
            ClientInput::Frame {
                client,
                invoke_id,
                body,
            } => self.frame(now, client, invoke_id, &body, devices),
        }
    }

    /// Takes one piece of news from the session manager. Poll
    /// [`poll_output`](Self::poll_output) afterwards.
    pub fn device_news(&mut self, now: Instant, news: DeviceNews<'_>) {
        match news {
            DeviceNews::Online { device } => self.service_change(device, true),
            DeviceNews::Offline { device } => {
                // Requests still open are answered before this news; anything left is
                // answered here.
                let stale: Vec<_> = self
                    .pending
                    .keys()
                    .filter(|(d, _)| d == device)
                    .cloned()
                    .collect();
                for key in stale {
                    if let Some(p) = self.take_pending(&key) {
                        let refusal = system(SystemResourceAvailability::DeviceOutOfService);
                        self.refuse(p.client, p.invoke_id, p.edition, refusal);
                    }
                }
                self.pickup_offline(device);
                self.service_change(device, false);
            }
            DeviceNews::Event { device, event } => {
                self.pickup_event(now, device, event);
                self.fan_out(device, event);
            }
            DeviceNews::Answer { device, id, answer } => {
                if let Some(n) = self.take_pickup_request(&(device.to_owned(), id)) {
                    self.pickup_answer(now, n, answer);
                } else {
                    self.answer(device, id, answer);
                }
            }
        }
    }

    /// Sends the requests the hub decided on while taking [`device_news`](Self::device_news)
    /// (the `AnswerCall` of a pickup whose call now alerts at the picking device). Call
    /// it after each batch of device news; poll [`poll_output`](Self::poll_output)
    /// afterwards.
    pub fn drive_devices(&mut self, now: Instant, devices: &mut dyn Devices) {
        for n in std::mem::take(&mut self.ready) {
            self.pickup_answer_call(now, n, devices);
        }
    }

    /// Whether [`drive_devices`](Self::drive_devices) has something to do.
    pub fn wants_devices(&self) -> bool {
        !self.ready.is_empty()
    }

    /// The settings.
    pub fn config(&self) -> &HubConfig {
        &self.config
    }

    /// The next message or close for a client connection.
    #[must_use]
    pub fn poll_output(&mut self) -> Option<ClientOutput> {
        self.out.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is due next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.clients
            .values()
            .filter_map(|c| match &c.stage {
                Stage::Connected { deadline, .. } => Some(*deadline),
                Stage::Session(s) => Some(s.expires),
                Stage::Closing => None,
            })
            .chain(self.pickups.values().map(|p| p.deadline))
            .min()
    }

    /// Ends the sessions whose timer ran out (`ApplicationSessionTerminated` with
    /// `sessionTimerExpired`, then close) and closes connections that did not start a
    /// session in time.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.pickup_timeouts(now);
        let due: Vec<ClientId> = self
            .clients
            .iter()
            .filter(|(_, c)| match &c.stage {
                Stage::Connected { deadline, .. } => *deadline <= now,
                Stage::Session(s) => s.expires <= now,
                Stage::Closing => false,
            })
            .map(|(id, _)| *id)
            .collect();
        for id in due {
            let Some(client) = self.clients.get_mut(&id) else {
                continue;
            };
            let stage = std::mem::replace(&mut client.stage, Stage::Closing);
            if let Stage::Session(s) = stage {
                tracing::info!(client = id.0, session = %s.id, "application session timer expired");
                let m = Message::ApplicationSessionTerminated(ApplicationSessionTerminated {
                    session_id: CrossRefId::new(&s.id),
                    session_term_reason: SessionTermReason {
                        defined_term_reason: Some(names::SessionTermReason::SessionTimerExpired),
                        non_standard_term_reason: None,
                    },
                });
                let edition = client.edition;
                self.send(id, InvokeId::EVENT, edition, &m);
            } else if let Some(suppressed) = self.login_timeout_log.allow(now) {
                tracing::info!(
                    client = id.0,
                    suppressed,
                    "no application session started in time; closed"
                );
            }
            self.forget(id);
            self.out.push_back(ClientOutput::Close { client: id });
        }
    }

    /// Tells every client the server stops (`StopApplicationSession` with
    /// `definedEndReason` `normal`, ECMA-354's way for either side to end a session;
    /// no answer is awaited) and closes every connection.
    pub fn shutdown(&mut self) {
        let ids: Vec<ClientId> = self.clients.keys().copied().collect();
        for id in ids {
            let Some(client) = self.clients.get_mut(&id) else {
                continue;
            };
            let stage = std::mem::replace(&mut client.stage, Stage::Closing);
            match stage {
                Stage::Closing => continue,
                Stage::Session(s) => {
                    let m = Message::StopApplicationSession(StopApplicationSession {
                        session_id: CrossRefId::new(&s.id),
                        session_end_reason: Some(SessionEndReason {
                            defined_end_reason: Some(names::SessionEndReason::Normal),
                            non_standard_end_reason: None,
                        }),
                    });
                    let edition = client.edition;
                    let invoke_id = self.invoke_id();
                    self.send(id, invoke_id, edition, &m);
                }
                Stage::Connected { .. } => {}
            }
            self.forget(id);
            self.out.push_back(ClientOutput::Close { client: id });
        }
    }

    /// Whether `client` has started an application session (a successful
    /// `StartApplicationSession`) that is still up.
    pub fn has_session(&self, client: ClientId) -> bool {
        self.clients
            .get(&client)
            .is_some_and(|c| matches!(c.stage, Stage::Session(_)))
    }

    /// What the guard against wrong passwords did so far.
    pub fn guard_stats(&self) -> GuardStats {
        self.guard.stats()
    }

    /// The counters.
    pub fn stats(&self) -> HubStats {
        HubStats {
            clients: self.clients.len(),
            sessions: self
                .clients
                .values()
                .filter(|c| matches!(c.stage, Stage::Session(_)))
                .count(),
            monitors: self.monitors.len(),
            pending: self.pending.len() + self.pickups.len(),
            ..self.stats
        }
    }

    fn connected(&mut self, now: Instant, client: ClientId, info: ClientInfo) {
        if self.clients.contains_key(&client) {
            tracing::warn!(client = client.0, "client connected twice; ignored");
            return;
        }
        tracing::debug!(client = client.0, peer = %info.peer, tls = info.tls, "client connected");
        self.clients.insert(
            client,
            Client {
                stage: Stage::Connected {
                    // Time spent in a TLS or WebSocket handshake counts; an `opened`
                    // in the future (another clock) counts from now.
                    deadline: info.opened.min(now) + self.config.login_timeout,
                    failures: 0,
                },
                edition: self.config.default_edition,
                monitors: Vec::new(),
                pending: 0,
                per_device: HashMap::new(),
                peer: info.peer.ip(),
            },
        );
    }

    /// A server-originated invokeID, 1 to 9998 in turn.
    fn invoke_id(&mut self) -> InvokeId {
        let id = InvokeId::new(self.next_invoke).unwrap_or(InvokeId::MAX_REQUEST);
        self.next_invoke = if self.next_invoke >= InvokeId::MAX_REQUEST.get() {
            1
        } else {
            self.next_invoke + 1
        };
        id
    }

    /// Queues `m` for `client`.
    fn send(&mut self, client: ClientId, invoke_id: InvokeId, edition: Edition, m: &Message<'_>) {
        match encode(m, edition) {
            Ok(body) => self.out.push_back(ClientOutput::Frame {
                client,
                invoke_id,
                body,
            }),
            Err(e) => {
                tracing::warn!(client = client.0, message = m.name(), error = %e, "cannot encode for client");
                // A request still gets an answer; an event is dropped.
                if !invoke_id.is_event()
                    && m.kind() != Kind::Error
                    && let Ok(body) = encode(
                        &Message::CSTAErrorCode(operation(Operation::Generic)),
                        edition,
                    )
                {
                    self.out.push_back(ClientOutput::Frame {
                        client,
                        invoke_id,
                        body,
                    });
                }
            }
        }
    }

    fn refuse(&mut self, client: ClientId, invoke_id: InvokeId, edition: Edition, e: Refusal) {
        tracing::debug!(client = client.0, category = e.category(), value = %e.value(), "request refused");
        self.send(client, invoke_id, edition, &Message::CSTAErrorCode(e));
    }

    /// Drops the client's monitors and pending requests.
    fn forget(&mut self, client: ClientId) {
        let monitors = match self.clients.get_mut(&client) {
            Some(c) => {
                c.pending = 0;
                c.per_device.clear();
                std::mem::take(&mut c.monitors)
            }
            None => self
                .monitors
                .iter()
                .filter(|(_, m)| m.client == client)
                .map(|(n, _)| *n)
                .collect(),
        };
        for n in monitors {
            self.drop_monitor(n);
        }
        self.pending.retain(|_, p| p.client != client);
        self.registrations.retain(|_, r| r.client != client);
        let gone: Vec<u64> = self
            .pickups
            .iter()
            .filter(|(_, p)| p.client == client)
            .map(|(n, _)| *n)
            .collect();
        for n in gone {
            self.pickups.remove(&n);
        }
        let pickups = &self.pickups;
        self.pickup_requests.retain(|_, n| pickups.contains_key(n));
        self.ready.retain(|n| pickups.contains_key(n));
    }

    fn drop_monitor(&mut self, n: u64) {
        if let Some(m) = self.monitors.remove(&n)
            && let Some(list) = self.by_device.get_mut(&m.device)
        {
            list.retain(|x| *x != n);
            if list.is_empty() {
                self.by_device.remove(&m.device);
            }
        }
    }

    /// One request (or pickup) of `client` less waiting for a phone.
    fn unpend(&mut self, client: ClientId) {
        if let Some(c) = self.clients.get_mut(&client) {
            c.pending = c.pending.saturating_sub(1);
        }
    }

    /// Removes a client's request waiting for a phone, and counts it off the
    /// client's limits.
    fn take_pending(&mut self, key: &(String, RequestId)) -> Option<Pending> {
        let p = self.pending.remove(key)?;
        if let Some(c) = self.clients.get_mut(&p.client) {
            c.pending = c.pending.saturating_sub(1);
            c.release(&key.0);
        }
        Some(p)
    }

    /// Records a phone request of pickup `n`, counted as its client's request with
    /// the phone.
    fn add_pickup_request(&mut self, key: (String, RequestId), n: u64) {
        if let Some(client) = self.pickups.get(&n).map(|p| p.client)
            && let Some(c) = self.clients.get_mut(&client)
        {
            c.hold(&key.0);
        }
        if let Some(old) = self.pickup_requests.insert(key.clone(), n)
            && let Some(client) = self.pickups.get(&old).map(|p| p.client)
            && let Some(c) = self.clients.get_mut(&client)
        {
            // A request ID given twice: the older request's answer cannot be told
            // apart; it is counted off (its pickup ends at its deadline).
            c.release(&key.0);
        }
    }

    /// Removes a phone request of a pickup and counts it off the pickup's client;
    /// the pickup's number.
    fn take_pickup_request(&mut self, key: &(String, RequestId)) -> Option<u64> {
        let n = self.pickup_requests.remove(key)?;
        if let Some(client) = self.pickups.get(&n).map(|p| p.client)
            && let Some(c) = self.clients.get_mut(&client)
        {
            c.release(&key.0);
        }
        Some(n)
    }

    fn frame(
        &mut self,
        now: Instant,
        id: ClientId,
        invoke_id: InvokeId,
        body: &[u8],
        devices: &mut dyn Devices,
    ) {
        let Some(client) = self.clients.get_mut(&id) else {
            tracing::debug!(client = id.0, "frame from an unknown client; dropped");
            return;
        };
        if matches!(client.stage, Stage::Closing) {
            return;
        }
        if invoke_id.is_event() {
            tracing::debug!(
                client = id.0,
                "message with the event invokeID 9999 from a client; ignored"
            );
            return;
        }
        let decoded = match decode(body) {
            Ok(d) => d,
            Err(e) => {
                self.stats.malformed += 1;
                tracing::debug!(client = id.0, error = %e, "message from client does not decode");
                let edition = client.edition;
                self.refuse(id, invoke_id, edition, decode_refusal(&e));
                return;
            }
        };
        let message = decoded.message;
        let edition = EncodeOptions::same_as_peer(decoded.edition, client.edition).edition;
        if message.kind() != Kind::Request {
            tracing::debug!(
                client = id.0,
                message = message.name(),
                "unsolicited non-request from client; ignored"
            );
            return;
        }
        match &message {
            Message::StartApplicationSession(r) => {
                return self.start_session(now, id, invoke_id, r);
            }
            Message::StopApplicationSession(r) => {
                return self.stop_session(id, invoke_id, &owned(&r.session_id.0));
            }
            Message::ResetApplicationSessionTimer(r) => {
                return self.reset_timer(
                    now,
                    id,
                    invoke_id,
                    &owned(&r.session_id.0),
                    r.requested_session_duration,
                );
            }
            _ => {}
        }
        let Stage::Session(session) = &client.stage else {
            return self.refuse(
                id,
                invoke_id,
                edition,
                ErrorCode::Security(Security::Generic),
            );
        };
        if !session.negotiated && decoded.edition.is_some() {
            client.edition = edition;
        }
        let user = session.user;
        self.request(id, user, invoke_id, edition, &message, devices, now);
    }

    fn start_session(
        &mut self,
        now: Instant,
        id: ClientId,
        invoke_id: InvokeId,
        r: &csta_core::message::session::StartApplicationSession<'_>,
    ) {
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        let edition = client.edition;
        let failures = match &client.stage {
            Stage::Connected { failures, .. } => *failures,
            _ => {
                let m = Message::StartApplicationSessionNegResponse(
                    StartApplicationSessionNegResponse {
                        error_code: SessionError::NonStandard(Text::new("sessionAlreadyStarted")),
                    },
                );
                return self.send(id, invoke_id, edition, &m);
            }
        };
        let peer = client.peer;
        let info = r.application_info.application_specific_info.as_ref();
        let name = info.and_then(|i| i.user.as_ref()).map(owned);
        let password = info.and_then(|i| i.password.as_ref()).map(owned);
        let epoch = *self.guard_epoch.get_or_insert(now);
        let t = now.saturating_duration_since(epoch).as_secs();
        let blocked = matches!(
            self.guard.check(t, peer, name.as_deref().unwrap_or("")),
            Verdict::Blocked { .. }
        );
        let user = name
            .as_deref()
            .and_then(|n| self.config.users.iter().position(|u| u.name == n));
        // Compare even for an unknown user, so that the time taken does not say
        // whether the user exists.
        let expected = user.map_or("", |u| self.config.users[u].password.as_str());
        // `&`, not `&&`: the comparison runs whether a password was given or not.
        let password_ok =
            password.is_some() & secret_eq(expected, password.as_deref().unwrap_or(""));
        let mut error = None;
        let mut chosen = None;
        match user {
            // Too many wrong passwords from here or for this user: not checked.
            _ if blocked => error = Some(ApplicationSessionError::ServerResourcesBusy),
            Some(_) if password_ok => {
                self.guard.success(t, peer, name.as_deref().unwrap_or(""));
            }
            _ => {
                self.guard.failure(t, peer, name.as_deref().unwrap_or(""));
                error = Some(ApplicationSessionError::InvalidApplicationInfo);
            }
        }
        if error.is_none()
            && let Some(versions) = &r.requested_protocol_versions
            && !versions.versions.is_empty()
        {
            chosen = versions
                .versions
                .iter()
                .find_map(|v| writable_edition(&owned(v)));
            if chosen.is_none() {
                error = Some(ApplicationSessionError::RequestedProtocolVersionNotSupported);
            }
        }
        let Some(user) = user.filter(|_| error.is_none()) else {
            let failures = failures + 1;
            self.stats.login_failures += 1;
            if let Some(suppressed) = self.login_failure_log.allow(now) {
                tracing::info!(
                    client = id.0,
                    user = name.as_deref().unwrap_or(""),
                    failures,
                    suppressed,
                    "application session refused"
                );
            }
            let m =
                Message::StartApplicationSessionNegResponse(StartApplicationSessionNegResponse {
                    error_code: SessionError::Defined(
                        error.unwrap_or(ApplicationSessionError::InvalidApplicationInfo),
                    ),
                });
            self.send(id, invoke_id, edition, &m);
            if let Some(client) = self.clients.get_mut(&id) {
                if failures >= self.config.max_login_failures {
                    client.stage = Stage::Closing;
                    self.out.push_back(ClientOutput::Close { client: id });
                } else if let Stage::Connected { failures: f, .. } = &mut client.stage {
                    *f = failures;
                }
            }
            return;
        };
        let seconds =
            r.requested_session_duration
                .map_or(self.config.default_session_duration, |d| {
                    d.clamp(
                        self.config.min_session_duration,
                        self.config.max_session_duration,
                    )
                });
        let duration = Duration::from_secs(seconds.into());
        let session_id = format!("S{}", self.next_session);
        self.next_session += 1;
        let edition = chosen.unwrap_or(edition);
        client.edition = edition;
        client.stage = Stage::Session(Session {
            id: session_id.clone(),
            user,
            duration,
            expires: now + duration,
            negotiated: chosen.is_some(),
        });
        tracing::info!(client = id.0, user = %self.config.users[user].name, session = %session_id, %edition, seconds, "application session started");
        let m = Message::StartApplicationSessionPosResponse(StartApplicationSessionPosResponse {
            session_id: CrossRefId::new(&session_id),
            actual_protocol_version: Text::new(edition.namespace()),
            actual_session_duration: Some(seconds),
        });
        self.send(id, invoke_id, edition, &m);
    }

    fn stop_session(&mut self, id: ClientId, invoke_id: InvokeId, session_id: &str) {
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        let edition = client.edition;
        match &client.stage {
            Stage::Session(s) if s.id == session_id => {
                tracing::info!(client = id.0, session = %s.id, "application session stopped");
                client.stage = Stage::Closing;
                self.forget(id);
                let m = Message::StopApplicationSessionPosResponse(
                    StopApplicationSessionPosResponse {},
                );
                self.send(id, invoke_id, edition, &m);
                self.out.push_back(ClientOutput::Close { client: id });
            }
            _ => {
                let m =
                    Message::StopApplicationSessionNegResponse(StopApplicationSessionNegResponse {
                        error_code: SessionError::Defined(
                            ApplicationSessionError::InvalidSessionId,
                        ),
                    });
                self.send(id, invoke_id, edition, &m);
            }
        }
    }

    fn reset_timer(
        &mut self,
        now: Instant,
        id: ClientId,
        invoke_id: InvokeId,
        session_id: &str,
        requested: Option<u32>,
    ) {
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        let edition = client.edition;
        let (min, max) = (
            self.config.min_session_duration,
            self.config.max_session_duration,
        );
        let m = match &mut client.stage {
            Stage::Session(s) if s.id == session_id => {
                if let Some(d) = requested {
                    s.duration = Duration::from_secs(d.clamp(min, max).into());
                }
                s.expires = now + s.duration;
                let seconds = u32::try_from(s.duration.as_secs()).unwrap_or(max);
                Message::ResetApplicationSessionTimerPosResponse(
                    ResetApplicationSessionTimerPosResponse {
                        actual_session_duration: Some(seconds),
                    },
                )
            }
            _ => Message::ResetApplicationSessionTimerNegResponse(
                ResetApplicationSessionTimerNegResponse {
                    error_code: SessionError::Defined(ApplicationSessionError::InvalidSessionId),
                },
            ),
        };
        self.send(id, invoke_id, edition, &m);
    }

    /// Checks `name` against the user's access list and finds the controlled device it
    /// names (its canonical ID).
    fn device_for(
        &self,
        user: usize,
        name: &str,
        devices: &dyn Devices,
    ) -> Result<String, Refusal> {
        let acl = &self.config.users[user].devices;
        let allowed = |id: &str| acl.iter().any(|d| d == "*" || same_device(d, id));
        if !allowed(name) {
            return Err(operation(Operation::PrivilegeViolationSpecifiedDevice));
        }
        match devices.resolve(name) {
            Some(canonical) if allowed(canonical) => Ok(canonical.to_owned()),
            Some(_) => Err(operation(Operation::PrivilegeViolationSpecifiedDevice)),
            None => Err(operation(Operation::InvalidDeviceId)),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn request(
        &mut self,
        id: ClientId,
        user: usize,
        invoke_id: InvokeId,
        edition: Edition,
        message: &Message<'_>,
        devices: &mut dyn Devices,
        now: Instant,
    ) {
        match message {
            Message::MonitorStart(r) => {
                let MonitorObject::Device(d) = &r.monitor_object else {
                    return self.refuse(
                        id,
                        invoke_id,
                        edition,
                        operation(Operation::InvalidMonitorObject),
                    );
                };
                let name = owned(&d.id);
                let filter = r.requested_monitor_filter;
                return match self.device_for(user, &name, devices) {
                    Ok(device) => {
                        let monitor = Monitor {
                            client: id,
                            device,
                            name,
                            filter,
                        };
                        self.monitor_start(invoke_id, edition, monitor, devices)
                    }
                    Err(e) => self.refuse(id, invoke_id, edition, e),
                };
            }
            Message::MonitorStop(r) => {
                return self.monitor_stop(
                    id,
                    invoke_id,
                    edition,
                    &owned(&r.monitor_cross_ref_id.0),
                );
            }
            Message::GetCSTAFeatures(_) => {
                return self.send(id, invoke_id, edition, &features());
            }
            Message::RequestSystemStatus(_) => {
                let m = Message::RequestSystemStatusResponse(RequestSystemStatusResponse {
                    system_status: names::SystemStatus::Normal,
                });
                return self.send(id, invoke_id, edition, &m);
            }
            Message::GetSwitchingFunctionDevices(r) => {
                return self.switching_function_devices(id, user, invoke_id, edition, r, devices);
            }
            Message::SystemRegister(r) => {
                return self.system_register(id, user, invoke_id, edition, r, devices);
            }
            Message::SystemRegisterCancel(r) => {
                return self.system_register_cancel(
                    id,
                    invoke_id,
                    edition,
                    &owned(&r.sys_stat_register_id.0),
                );
            }
            Message::DirectedPickupCall(r) => {
                return self.directed_pickup(now, id, user, invoke_id, edition, r, devices);
            }
            Message::GroupPickupCall(r) => {
                return self.group_pickup(now, id, user, invoke_id, edition, r, devices);
            }
            _ => {}
        }
        let name = match target(message) {
            None => {
                return self.refuse(
                    id,
                    invoke_id,
                    edition,
                    operation(Operation::ServiceNotSupported),
                );
            }
            Some(None) => {
                return self.refuse(
                    id,
                    invoke_id,
                    edition,
                    operation(Operation::InvalidConnectionId),
                );
            }
            Some(Some(name)) => name,
        };
        let device = match self.device_for(user, &name, devices) {
            Ok(d) => d,
            Err(e) => return self.refuse(id, invoke_id, edition, e),
        };
        if devices.status(&device) == DeviceStatus::Offline {
            let e = system(SystemResourceAvailability::DeviceOutOfService);
            return self.refuse(id, invoke_id, edition, e);
        }
        if let Some(view) = devices.view(&device)
            && let Some(body) = answer_from_view(message, view, edition)
        {
            self.stats.answered_from_view += 1;
            self.out.push_back(ClientOutput::Frame {
                client: id,
                invoke_id,
                body,
            });
            return;
        }
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        if client.over_limit(&self.config, &device) {
            let e = ErrorCode::SubscribedResourceAvailability(
                SubscribedResourceAvailability::OutstandingReqLimitExceeded,
            );
            return self.refuse(id, invoke_id, edition, e);
        }
        match devices.send(now, &device, message) {
            Ok(request) => {
                client.pending += 1;
                client.hold(&device);
                self.stats.requests_forwarded += 1;
                tracing::debug!(client = id.0, message = message.name(), device = %device, "request passed to the phone");
                let key = (device, request);
                // A request ID the session manager gave twice would leave the first
                // request unanswerable; it is answered now and counted off.
                if let Some(old) = self.take_pending(&key) {
                    self.refuse(
                        old.client,
                        old.invoke_id,
                        old.edition,
                        system(SystemResourceAvailability::Generic),
                    );
                }
                let pending = Pending {
                    client: id,
                    invoke_id,
                    edition,
                };
                self.pending.insert(key, pending);
            }
            Err(e) => self.refuse(id, invoke_id, edition, send_refusal(e)),
        }
    }

    fn monitor_start(
        &mut self,
        invoke_id: InvokeId,
        edition: Edition,
        monitor: Monitor,
        devices: &dyn Devices,
    ) {
        let id = monitor.client;
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        if client.monitors.len() >= self.config.max_monitors_per_client {
            let e = ErrorCode::SubscribedResourceAvailability(
                SubscribedResourceAvailability::ObjectMonitorLimitExceeded,
            );
            return self.refuse(id, invoke_id, edition, e);
        }
        let n = self.next_monitor;
        self.next_monitor += 1;
        client.monitors.push(n);
        let events = client.edition;
        let offline = devices.status(&monitor.device) == DeviceStatus::Offline;
        self.by_device
            .entry(monitor.device.clone())
            .or_default()
            .push(n);
        tracing::debug!(client = id.0, device = %monitor.device, monitor = n, "monitor started");
        let name = monitor.name.clone();
        let filter = monitor.filter;
        self.monitors.insert(n, monitor);
        let xref = n.to_string();
        let m = Message::MonitorStartResponse(MonitorStartResponse {
            monitor_cross_ref_id: CrossRefId::new(&xref),
            actual_monitor_filter: filter,
            monitor_existing_calls: None,
        });
        self.send(id, invoke_id, edition, &m);
        if offline && !filtered(filter.as_ref(), "OutOfServiceEvent") {
            let m = Message::OutOfServiceEvent(OutOfServiceEvent {
                monitor_cross_ref_id: Some(CrossRefId::new(&xref)),
                device: DeviceRef::id(&name),
                cause: None,
            });
            self.stats.events_delivered += 1;
            self.send(id, InvokeId::EVENT, events, &m);
        }
    }

    fn monitor_stop(&mut self, id: ClientId, invoke_id: InvokeId, edition: Edition, xref: &str) {
        let n = xref
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| self.monitors.get(n).is_some_and(|m| m.client == id));
        let Some(n) = n else {
            return self.refuse(
                id,
                invoke_id,
                edition,
                operation(Operation::InvalidMonitorCrossRefId),
            );
        };
        self.drop_monitor(n);
        if let Some(c) = self.clients.get_mut(&id) {
            c.monitors.retain(|x| *x != n);
        }
        tracing::debug!(client = id.0, monitor = n, "monitor stopped");
        self.send(
            id,
            invoke_id,
            edition,
            &Message::MonitorStopResponse(MonitorStopResponse {}),
        );
    }

    /// The clients monitoring `device` in a session that want the event `event`:
    /// (client, monitor number, edition).
    fn watchers(&self, device: &str, event: &str) -> Vec<(ClientId, u64, Edition)> {
        self.by_device.get(device).map_or_else(Vec::new, |list| {
            list.iter()
                .filter_map(|n| {
                    let m = self.monitors.get(n)?;
                    if filtered(m.filter.as_ref(), event) {
                        return None;
                    }
                    let c = self.clients.get(&m.client)?;
                    matches!(c.stage, Stage::Session(_)).then_some((m.client, *n, c.edition))
                })
                .collect()
        })
    }

    fn fan_out(&mut self, device: &str, event: &Message<'_>) {
        if event.kind() != Kind::Event {
            tracing::debug!(
                device,
                message = event.name(),
                "not an event; not passed to clients"
            );
            return;
        }
        let watchers: Vec<(ClientId, String, Edition)> = self
            .watchers(device, event.name())
            .into_iter()
            .map(|(c, n, e)| (c, n.to_string(), e))
            .collect();
        let mut copy = event.clone();
        for (client, xref, edition) in &watchers {
            match monitor_slot(&mut copy) {
                Some(slot) => *slot = Some(CrossRefId::new(xref)),
                None => {
                    tracing::debug!(
                        device,
                        message = event.name(),
                        "event without a monitor; not passed to clients"
                    );
                    return;
                }
            }
            self.stats.events_delivered += 1;
            self.send(*client, InvokeId::EVENT, *edition, &copy);
        }
    }

    /// Reports a device going out of (`online == false`) or back into service to its
    /// monitors.
    fn service_change(&mut self, device: &str, online: bool) {
        let event = if online {
            "BackInServiceEvent"
        } else {
            "OutOfServiceEvent"
        };
        let watchers = self.watchers(device, event);
        for (client, n, edition) in watchers {
            let Some(m) = self.monitors.get(&n) else {
                continue;
            };
            let xref = n.to_string();
            let name = m.name.clone();
            let m = if online {
                Message::BackInServiceEvent(BackInServiceEvent {
                    monitor_cross_ref_id: Some(CrossRefId::new(&xref)),
                    device: DeviceRef::id(&name),
                    cause: None,
                })
            } else {
                Message::OutOfServiceEvent(OutOfServiceEvent {
                    monitor_cross_ref_id: Some(CrossRefId::new(&xref)),
                    device: DeviceRef::id(&name),
                    cause: None,
                })
            };
            self.stats.events_delivered += 1;
            self.send(client, InvokeId::EVENT, edition, &m);
        }
    }

    fn answer(&mut self, device: &str, id: RequestId, answer: Answer<'_>) {
        let Some(p) = self.take_pending(&(device.to_owned(), id)) else {
            tracing::debug!(
                device,
                request = id.0,
                "answer for no waiting client; dropped"
            );
            return;
        };
        match answer {
            Answer::Message(m) => self.send(p.client, p.invoke_id, p.edition, m),
            Answer::Failed => self.refuse(
                p.client,
                p.invoke_id,
                p.edition,
                system(SystemResourceAvailability::Generic),
            ),
        }
    }
}

/// The answer to `request` from the server's view of its device, written in
/// `edition`, when the view knows it: do-not-disturb once known, forwarding once any
/// setting is known (an empty list may mean "not read yet", so the phone is asked),
/// and the calls of an online device.
fn answer_from_view(
    request: &Message<'_>,
    view: &crate::interface::View,
    edition: Edition,
) -> Option<Vec<u8>> {
    let m = match request {
        Message::GetDoNotDisturb(_) => Message::GetDoNotDisturbResponse(GetDoNotDisturbResponse {
            do_not_disturb_on: view.dnd()?,
        }),
        Message::GetForwarding(_) => {
            if view.forwarding().is_empty() {
                return None;
            }
            let mut list = ForwardingList {
                items: Default::default(),
            };
            for f in view.forwarding() {
                let item = ForwardListItem {
                    forwarding_type: f.forwarding_type(),
                    forward_status: f.is_on(),
                    forward_dn: f.destination().map(DeviceId::new),
                    forward_default: None,
                    ring_count: f.ring_count(),
                    ring_duration: None,
                };
                if list.items.push(item).is_err() {
                    break;
                }
            }
            Message::GetForwardingResponse(GetForwardingResponse {
                forwarding_list: Some(list),
            })
        }
        Message::SnapshotDevice(_) => {
            let mut data = SnapshotData {
                items: Default::default(),
            };
            for call in view.calls() {
                let mut states = CompoundCallState {
                    states: Default::default(),
                };
                let _ = states.states.push(call.local_state());
                let item = SnapshotDeviceResponseInfo {
                    connection_identifier: Some(ConnectionId::new(
                        call.call_id(),
                        view.device_id(),
                    )),
                    local_call_state: Some(LocalCallState {
                        compound_call_state: Some(states),
                    }),
                };
                if data.items.push(item).is_err() {
                    break;
                }
            }
            Message::SnapshotDeviceResponse(SnapshotDeviceResponse::new(data))
        }
        _ => return None,
    };
    encode(&m, edition).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_secret_eq() {
        assert!(secret_eq("s3cret", "s3cret"));
        assert!(secret_eq("", ""));
        assert!(!secret_eq("s3cret", "s3creT"));
        assert!(!secret_eq("s3cret", "s3cret "));
        assert!(!secret_eq("s3cret", ""));
    }

    #[test]
    fn test_target() {
        let ed3 = "http://www.ecma-international.org/standards/ecma-323/csta/ed3";
        let cases = [
            (
                format!(
                    r#"<MakeCall xmlns="{ed3}"><callingDevice>201</callingDevice><calledDirectoryNumber>N&lt;+49 89&gt;</calledDirectoryNumber></MakeCall>"#
                ),
                Some(Some("201")),
            ),
            (
                format!(
                    r#"<DeflectCall xmlns="{ed3}"><callToBeDiverted><callID>C1</callID><deviceID>202</deviceID></callToBeDiverted><newDestination>203</newDestination></DeflectCall>"#
                ),
                Some(Some("202")),
            ),
            (
                format!(
                    r#"<SingleStepTransferCall xmlns="{ed3}"><activeCall><callID>C1</callID></activeCall><transferredTo>203</transferredTo></SingleStepTransferCall>"#
                ),
                Some(None),
            ),
            (
                format!(
                    r#"<SetForwarding xmlns="{ed3}"><device>sip:201@x</device><forwardingType>forwardBusy</forwardingType><activateForward>true</activateForward></SetForwarding>"#
                ),
                Some(Some("sip:201@x")),
            ),
            (format!(r#"<GetCSTAFeatures xmlns="{ed3}"/>"#), None),
        ];
        for (xml, expected) in cases {
            let m = decode(xml.as_bytes()).unwrap().message;
            assert_eq!(target(&m), expected.map(|o| o.map(str::to_owned)), "{xml}");
        }
    }

    #[test]
    fn test_features_tables() {
        let mut services = SupportedServices::new();
        for (category, service) in SERVICES {
            assert!(
                services.set(category, service, true),
                "{category}/{service}"
            );
        }
        let mut events = SupportedEvents::new();
        for (category, event) in EVENTS {
            assert!(events.set(category, event, true), "{category}/{event}");
        }
        let Message::GetCSTAFeaturesResponse(r) = features() else {
            panic!("not a GetCSTAFeaturesResponse");
        };
        assert_eq!(
            r.supported_services.map(|s| s.iter().count()),
            Some(SERVICES.len())
        );
        assert_eq!(
            r.supported_events.map(|e| e.count_true()),
            Some(EVENTS.len())
        );
    }

    #[test]
    fn test_filtered() {
        let mut filter = MonitorFilter::new();
        assert!(filter.set("callcontrol", "transferred", true));
        assert!(filter.set("callcontrol", "held", false));
        assert!(filter.set("logicalDeviceFeature", "doNotDisturb", true));
        assert!(filtered(Some(&filter), "TransferedEvent"));
        assert!(filtered(Some(&filter), "DoNotDisturbEvent"));
        assert!(!filtered(Some(&filter), "HeldEvent"));
        assert!(!filtered(Some(&filter), "DeliveredEvent"));
        assert!(!filtered(Some(&filter), "NoSuchEvent"));
        assert!(!filtered(None, "TransferedEvent"));
    }

    #[test]
    fn test_writable_edition() {
        assert_eq!(
            writable_edition(" http://www.ecma-international.org/standards/ecma-323/csta/ed6 "),
            Some(Edition::Ed6)
        );
        assert_eq!(writable_edition("ed4"), Some(Edition::Ed4));
        assert_eq!(
            writable_edition("http://www.ecma.ch/standards/ecma-323/csta/ed2"),
            None
        );
        assert_eq!(writable_edition("urn:nothing"), None);
    }
}
