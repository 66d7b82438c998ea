//! The provider model: TAPI lines and calls over a CSTA link, sans I/O.
//!
//! A [`Provider`] is one provider instance (one `dwPermanentProviderID`). It owns the
//! lines (one per CSTA device), their calls with the handles TAPI and the provider
//! give them, the CSTA application session with the server and every request in
//! flight. It has no Windows types, no threads, no sockets and no clock: the TSPI
//! layer and the link driver call it and poll it.
//!
//! ```text
//! TSPI exports ──► provider.make_call(now, request_id, ..) ─┐
//! link driver  ──► provider.handle_frame(now, invoke_id, xml)├─► state
//! timer        ──► provider.handle_timeout(now)             ─┘
//!
//! while let Some(m) = provider.poll_tapi()     { deliver to TAPI (one thread, no lock held) }
//! while let Some(t) = provider.poll_transmit() { write the CSTA frame }
//! while let Some(c) = provider.poll_link()     { connect or close the link }
//! while let Some(e) = provider.poll_event()    { log, store the device list }
//! arm the timer at provider.poll_timeout()
//! ```
//!
//! After every input, poll until nothing is left.
//!
//! # Lines
//!
//! Each line is one CSTA device: the configured one (client role), the configured
//! list (remote) or the server's list (multi-line, read with
//! `GetSwitchingFunctionDevices` and re-read when the server reports
//! `SwitchingFunctionDevicesChanged`). When the session is up every line is
//! synchronised: `MonitorStart`, then `SnapshotDevice` (its calls), `GetDoNotDisturb`
//! and `GetForwarding`; the line is in service once the snapshot is in. A link that
//! goes down puts every line out of service (`LINE_LINEDEVSTATE` `OUTOFSERVICE`, every
//! call `IDLE`); after the next session's resynchronisation they are back in service
//! (`INSERVICE`) and the calls the snapshot shows are offered anew (`LINE_NEWCALL`).
//! Applications keep their lines open throughout.
//!
//! # Calls
//!
//! The call picture is csta-core's [`DeviceView`]: every CSTA event of a line is fed
//! to the line's view and the TAPI state of each call comes from
//! [`CallView::tapi_state`](csta_core::model::view::CallView::tapi_state) (the table
//! is in [`csta_core::model::view`]), with the provider's own knowledge on top:
//! consultation calls made through TAPI (`ONHOLDPENDTRANSFER`, `ONHOLDPENDCONF`),
//! TAPI conferences (the conference call `CONNECTED`, its members `CONFERENCED`),
//! and calls that exist in TAPI before a CSTA call stands for them (`DIALTONE`).
//!
//! A call made on the handset, by another application or by the server appears as
//! `LINE_NEWCALL` followed by `LINE_CALLSTATE`, exactly like one made through TAPI. A
//! call created by a TAPI request gets no events until that request has completed.
//!
//! # Requests
//!
//! | TSPI | CSTA |
//! |---|---|
//! | lineMakeCall (with a number) | `MakeCall` (`doNotPrompt`) |
//! | lineMakeCall (no number), then lineDial | a `DIALTONE` call, then `MakeCall` |
//! | lineAnswer | `AnswerCall` |
//! | lineDrop | `ClearConnection` (in a conference: of that party) |
//! | lineHold / lineUnhold | `HoldCall` / `RetrieveCall` |
//! | lineSwapHold | `AlternateCall` |
//! | lineBlindTransfer | `SingleStepTransferCall` |
//! | lineSetupTransfer, lineDial, lineCompleteTransfer | `HoldCall`, `MakeCall`, then `TransferCall` (or `ConferenceCall` in conference mode) |
//! | lineSetupConference / linePrepareAddToConference, lineDial, lineAddToConference | `HoldCall`, `MakeCall`, `ConferenceCall` |
//! | lineRemoveFromConference | `ClearConnection` of the party's connection |
//! | lineRedirect | `DeflectCall` |
//! | linePickup | `DirectedPickupCall` (a number given) or `GroupPickupCall` |
//! | lineForward | `SetForwarding` per entry, `SetDoNotDisturb` (`UNCOND` to no address is do-not-disturb, as TAPI 3 writes it) |
//! | lineGenerateDigits | `GenerateDigits`, then `LINE_GENERATE` |
//!
//! Every asynchronous request completes exactly once: with 0 when the CSTA answer is
//! positive, with the `LINEERR_*` of [`LineError::from_csta`] when it is a
//! `CSTAErrorCode`, with `LINEERR_OPERATIONFAILED` when no answer comes within the
//! configured `request_timeout` or the link goes down first. CSTA requests go out at
//! most `max_outstanding` at a time; the rest wait in order. invokeIDs run from 1 to
//! 9998 and are correlated with the `dwRequestID`s.

mod calls;
mod devices;
pub mod errors;
mod events;
mod link;
mod query;
mod requests;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use csta_core::framing::InvokeId;
use csta_core::message::session::{
    ApplicationInfo, ApplicationSpecificInfo, ProtocolVersions, ResetApplicationSessionTimer,
    StartApplicationSession, StopApplicationSession, StopApplicationSessionPosResponse,
};
use csta_core::message::{Edition, EncodeOptions, Kind as MessageKind, Message, decode};
use csta_core::model::view::{DeviceView, same_device};
use csta_core::types::CrossRefId;
use csta_core::xml::Text;

use crate::config::{ProviderConfig, Role};
use crate::tapi;

pub use calls::CallHandle;
pub use errors::LineError;
pub use query::{
    AddressCaps, AddressStatus, CallInfo, CallStatus, ForwardEntry, LineDevCaps, LineDevStatus,
    PartyInfo,
};

use calls::{Call, Kind};
use link::{Backoff, Rng};

/// The calls one line's view tracks at once.
pub const VIEW_CALLS: usize = 8;

/// A line's call picture.
type View = DeviceView<VIEW_CALLS>;

/// The protocol editions the provider asks for, best first.
const EDITIONS: [Edition; 4] = [Edition::Ed6, Edition::Ed5, Edition::Ed4, Edition::Ed3];

/// How long the transport may take to connect before the attempt counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a line waits before starting its monitor again after the server refused.
const LINE_RETRY: Duration = Duration::from_secs(30);

/// A line of a provider: its index, stable for the provider's life (removed lines keep
/// their index).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LineId(pub(crate) u32);

impl LineId {
    /// The index (the line's position in the provider's list).
    pub const fn index(self) -> usize {
        self.0 as usize
    }

    /// The line with index `index`.
    pub const fn new(index: u32) -> LineId {
        LineId(index)
    }
}

/// Something to hand to TAPI, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TapiOutput {
    /// `LINEEVENT(ht_line, ht_call, msg, p1, p2, p3)` on an open line. For
    /// `LINE_GENERATE`, `p3` is 0: the caller fills in the tick count.
    Event {
        /// The line.
        line: LineId,
        /// TAPI's line handle.
        ht_line: usize,
        /// TAPI's call handle (0 for line and address messages).
        ht_call: usize,
        /// The message.
        msg: u32,
        /// The parameters.
        params: [usize; 3],
    },
    /// `LINE_NEWCALL`: call `LINEEVENT(ht_line, 0, LINE_NEWCALL, call.to_raw(),
    /// &mut ht_call, 0)`, then tell [`Provider::new_call_delivered`] what TAPI wrote.
    NewCall {
        /// The line.
        line: LineId,
        /// TAPI's line handle.
        ht_line: usize,
        /// The provider's handle of the new call.
        call: CallHandle,
    },
    /// `LINE_CREATE` through the provider's create callback (`p1` = `hProvider`, `p2` =
    /// `temp_id`); TAPI answers with `TSPI_providerCreateLineDevice(temp_id, ..)`.
    CreateLine {
        /// The temporary ID: the line's index.
        temp_id: u32,
    },
    /// `LINE_REMOVE` through the provider's create callback (`p1` = the device ID).
    RemoveLine {
        /// The removed line's TAPI device ID.
        device_id: u32,
    },
    /// `ASYNC_COMPLETION(request_id, result)`.
    Completion {
        /// The `dwRequestID`.
        request_id: u32,
        /// 0 or a `LINEERR_*` (negative).
        result: i32,
    },
}

/// A CSTA message to send: the ECMA-323 XML and its invokeID (Annex J.2 framing is the
/// link's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The invokeID.
    pub invoke_id: InvokeId,
    /// The XML.
    pub body: Vec<u8>,
}

/// What the link driver must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkCommand {
    /// Open the transport (TCP, TLS) to the server; report
    /// [`Provider::handle_link_up`] or [`Provider::handle_link_down`].
    Connect,
    /// Close the transport; the provider already counts it as down.
    Close,
}

/// Why the link went down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DownReason {
    /// The transport could not be opened or broke.
    Transport,
    /// The server refused the account (wrong user or password, no such session).
    LoginRefused,
    /// The server did not answer in time (log-in, keep-alive).
    Timeout,
    /// The server ended the session.
    ServerEnded,
    /// The server sent something that is not CSTA.
    Protocol,
    /// The provider is shutting down.
    Shutdown,
}

/// What the provider reports about itself (for the log and the configuration store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProviderEvent {
    /// The application session is up.
    SessionUp {
        /// The session ID.
        session_id: String,
        /// The edition the server chose.
        edition: Edition,
    },
    /// The link is down; the next attempt is after `retry_in`.
    LinkDown {
        /// Why.
        reason: DownReason,
        /// The delay before the next attempt.
        retry_in: Duration,
    },
    /// Multi-line: the server's device list, to store for the next start (so that
    /// `providerEnumDevices` knows the lines before the link is up).
    DeviceList(Vec<String>),
    /// A line could not be monitored (the server refused `MonitorStart`).
    LineRefused {
        /// The line.
        line: LineId,
        /// The TAPI error that best says why.
        error: LineError,
    },
    /// All lines are synchronised after the session came up.
    Synchronised,
}

/// One line.
#[derive(Debug)]
struct Line {
    /// The CSTA device ID.
    device: String,
    name: String,
    permanent_id: u32,
    /// TAPI's device ID once known.
    device_id: Option<u32>,
    removed: bool,
    /// LINE_CREATE sent, TSPI_providerCreateLineDevice not yet called.
    creating: bool,
    open: Option<Open>,
    /// The call picture, while the line has calls (kept small when idle).
    view: Option<Box<View>>,
    /// The monitor's cross-reference ID from the server.
    xref: Option<String>,
    sync: Sync,
    /// Whether TAPI was told the line is in service.
    reported_in_service: bool,
    dnd: bool,
    /// Forwarding settings that are on: CSTA type and destination.
    forwarding: Vec<(String, Option<String>)>,
    retry_at: Option<Instant>,
    /// The bind count when the line's last snapshot was asked for.
    snapshot_from: u64,
}

/// Where a line's synchronisation stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sync {
    /// Nothing asked yet (link down, or waiting for its turn).
    Idle,
    /// MonitorStart sent.
    Monitoring,
    /// SnapshotDevice sent.
    Snapshot,
    /// In service.
    Ready,
    /// The device is out of service at the server (OutOfServiceEvent).
    OutOfService,
    /// The server refused the monitor; retried at `retry_at`.
    Refused,
}

#[derive(Debug, Clone, Copy)]
struct Open {
    ht_line: usize,
    line_states: u32,
    address_states: u32,
    media_modes: u32,
}

/// Where the CSTA link stands.
#[derive(Debug)]
enum Session {
    /// Not started (before `init`) or shut down.
    Stopped,
    /// Waiting to connect.
    Waiting { at: Instant },
    /// The driver is connecting.
    Connecting { deadline: Instant },
    /// `StartApplicationSession` is out.
    Starting { deadline: Instant },
    /// The session is up.
    Up {
        session_id: String,
        edition: Edition,
        keepalive_at: Instant,
        keepalive_pending: bool,
        duration: u32,
    },
}

/// What an answered CSTA request was for.
#[derive(Debug, Clone)]
pub(crate) enum Waiting {
    Start,
    KeepAlive,
    Stop,
    /// An answer nobody waits for (MonitorStop of a removed line).
    Ignore,
    Monitor(u32),
    Snapshot(u32),
    GetDnd(u32),
    GetForwarding(u32),
    Devices,
    Register,
    /// A TAPI request (or part of one).
    Request {
        job: u32,
        op: Op,
    },
    /// Digits (lineGenerateDigits, or post-dial digits when `end_to_end` is `None`).
    Digits {
        call: CallHandle,
        end_to_end: Option<u32>,
    },
}

/// What a TAPI request's CSTA request does when it is answered.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// Completes the job; nothing else.
    Plain,
    /// MakeCall / pickup: the response names the new call.
    Bind(CallHandle),
    /// HoldCall of a consultation set-up (lineSetupTransfer, lineSetupConference,
    /// linePrepareAddToConference); on failure the calls it created go and `primary`
    /// gets back its kind.
    ConsultReady {
        primary: CallHandle,
        created: Vec<CallHandle>,
        restore: Kind,
    },
    /// ConferenceCall: the conference is formed; on failure the calls get back the
    /// kinds they had.
    Conference {
        conf: CallHandle,
        restore: Vec<(CallHandle, Kind)>,
    },
    /// SetDoNotDisturb of lineForward.
    Dnd { line: u32, on: bool },
    /// SetForwarding of lineForward.
    Forward {
        line: u32,
        kind: String,
        dest: Option<String>,
        on: bool,
    },
}

#[derive(Debug)]
struct Pending {
    deadline: Instant,
    waiting: Waiting,
}

/// A TAPI request that may span several CSTA requests.
#[derive(Debug)]
struct Job {
    request_id: u32,
    remaining: u32,
    result: i32,
}

/// A TAPI output as queued; TAPI's handles are filled in when it is polled, so that a
/// `LINE_NEWCALL` answered in between is honoured.
#[derive(Debug)]
enum Out {
    Call {
        call: CallHandle,
        msg: u32,
        params: [usize; 3],
    },
    Line {
        line: u32,
        msg: u32,
        params: [usize; 3],
    },
    NewCall {
        line: u32,
        call: CallHandle,
    },
    Plain(TapiOutput),
}

/// A CSTA request waiting for its turn.
#[derive(Debug)]
struct Queued {
    body: Vec<u8>,
    waiting: Waiting,
}

/// One provider instance (see the [module docs](self)).
#[derive(Debug)]
pub struct Provider {
    config: ProviderConfig,
    lines: Vec<Line>,
    calls: Vec<Option<Call>>,
    free: Vec<u32>,
    generations: Vec<u32>,
    session: Session,
    backoff: Backoff,
    rng: Rng,
    pending: HashMap<u16, Pending>,
    queue: VecDeque<Queued>,
    jobs: HashMap<u32, Job>,
    next_job: u32,
    next_invoke: u16,
    next_call_id: u32,
    tapi: VecDeque<Out>,
    transmit: VecDeque<Transmit>,
    link: VecDeque<LinkCommand>,
    events: VecDeque<ProviderEvent>,
    /// Device IDs by line start at this base (`TSPI_providerInit`).
    device_id_base: Option<u32>,
    /// Multi-line: the device list being read.
    device_list: Option<devices::Reading>,
    /// Multi-line: the list changed while being read: read it again.
    reread: bool,
    /// Multi-line: the server reports no changes; the list is read periodically.
    poll_devices: bool,
    /// Multi-line: the list was read at least once (and stored).
    listed: bool,
    /// Multi-line: when the list is read again.
    refresh_at: Option<Instant>,
    /// `TSPI_providerShutdown` was called.
    shut_down: bool,
    /// [`ProviderEvent::Synchronised`] was reported since a line last started
    /// synchronising.
    synchronised: bool,
    /// Set by [`Provider::unconfigured`]: the link never starts.
    unconfigured: Option<String>,
    /// Counts calls getting their CSTA call (see `Call::bound_at`).
    binds: u64,
}

impl Provider {
    /// A provider for `config` with these lines (the configured devices, or a
    /// multi-line provider's stored list). `seed` drives the reconnect jitter.
    pub fn new(config: ProviderConfig, devices: &[String], seed: u64) -> Provider {
        let mut provider = Provider {
            backoff: Backoff::new(config.reconnect_min, config.reconnect_max),
            config,
            lines: Vec::new(),
            calls: Vec::new(),
            free: Vec::new(),
            generations: Vec::new(),
            session: Session::Stopped,
            rng: Rng::new(seed),
            pending: HashMap::new(),
            queue: VecDeque::new(),
            jobs: HashMap::new(),
            next_job: 1,
            next_invoke: 1,
            next_call_id: 1,
            tapi: VecDeque::new(),
            transmit: VecDeque::new(),
            link: VecDeque::new(),
            events: VecDeque::new(),
            device_id_base: None,
            device_list: None,
            reread: false,
            poll_devices: false,
            listed: false,
            refresh_at: None,
            shut_down: false,
            synchronised: false,
            unconfigured: None,
            binds: 0,
        };
        let devices: Vec<String> = if provider.config.role == Role::MultiLine {
            devices.to_vec()
        } else {
            provider.config.devices.clone()
        };
        for device in devices {
            provider.add_line(&device);
        }
        provider
    }

    /// The configuration.
    pub fn config(&self) -> &ProviderConfig {
        &self.config
    }

    /// The number of lines `TSPI_providerEnumDevices` reports.
    pub fn line_count(&self) -> u32 {
        self.lines.len() as u32
    }

    /// `TSPI_providerInit`: the lines get device IDs from `device_id_base` and the link
    /// starts at once.
    pub fn init(&mut self, now: Instant, device_id_base: u32) {
        self.device_id_base = Some(device_id_base);
        for (i, line) in self.lines.iter_mut().enumerate() {
            line.device_id = Some(device_id_base + i as u32);
        }
        self.shut_down = false;
        if self.unconfigured.is_none() {
            self.session = Session::Waiting { at: now };
        }
    }

    /// A provider whose configuration could not be read: one line, named after the
    /// problem, that stays out of service (the Telephony service keeps running; the
    /// log says what to fix).
    pub fn unconfigured(problem: &str) -> Provider {
        let mut config = ProviderConfig::new(Role::Client, "", "", "");
        config.line_name = format!("uCSTA TSP: {problem}");
        config.devices = vec!["unconfigured".to_owned()];
        let mut provider = Provider::new(config, &[], 0);
        provider.unconfigured = Some(problem.to_owned());
        provider
    }

    /// Why the provider has no usable configuration ([`unconfigured`](Self::unconfigured)).
    pub fn configuration_problem(&self) -> Option<&str> {
        self.unconfigured.as_deref()
    }

    /// `TSPI_providerShutdown`: the session is stopped (`StopApplicationSession`, then
    /// the link is closed), every request still open completes with
    /// `LINEERR_OPERATIONFAILED`.
    pub fn shutdown(&mut self, now: Instant) {
        if let Session::Up { session_id, .. } = &self.session {
            let id = session_id.clone();
            let m = Message::StopApplicationSession(StopApplicationSession {
                session_id: CrossRefId(Text::new(&id)),
                session_end_reason: None,
            });
            self.send_now(now, &m, Waiting::Stop);
        }
        self.link_down(now, DownReason::Shutdown);
        self.session = Session::Stopped;
        self.shut_down = true;
    }

    /// The line TAPI knows by `device_id`.
    ///
    /// # Errors
    ///
    /// `LINEERR_BADDEVICEID` for a device ID the provider does not have,
    /// `LINEERR_NODEVICE` for a removed line.
    pub fn line_by_device_id(&self, device_id: u32) -> Result<LineId, LineError> {
        let index = self
            .lines
            .iter()
            .position(|l| l.device_id == Some(device_id))
            .ok_or(LineError::BadDeviceId)?;
        if self.lines[index].removed {
            return Err(LineError::NoDevice);
        }
        Ok(LineId(index as u32))
    }

    /// `TSPI_providerCreateLineDevice(temp_id, device_id)`: the line created with
    /// `LINE_CREATE` gets its device ID.
    ///
    /// # Errors
    ///
    /// `LINEERR_BADDEVICEID` for a temporary ID the provider did not hand out.
    pub fn create_line_device(&mut self, temp_id: u32, device_id: u32) -> Result<(), LineError> {
        let line = self
            .lines
            .get_mut(temp_id as usize)
            .filter(|l| l.creating)
            .ok_or(LineError::BadDeviceId)?;
        line.creating = false;
        line.device_id = Some(device_id);
        Ok(())
    }

    /// The CSTA device of a line.
    pub fn line_device(&self, line: LineId) -> Option<&str> {
        self.lines.get(line.index()).map(|l| l.device.as_str())
    }

    /// The lines that are not removed, with their TAPI device IDs once known.
    pub fn lines(&self) -> impl Iterator<Item = (LineId, &str, Option<u32>)> {
        self.lines
            .iter()
            .enumerate()
            .filter(|(_, l)| !l.removed)
            .map(|(i, l)| (LineId(i as u32), l.device.as_str(), l.device_id))
    }

    /// Whether the line is in service (monitored and synchronised).
    pub fn in_service(&self, line: LineId) -> bool {
        self.lines
            .get(line.index())
            .is_some_and(|l| l.sync == Sync::Ready && !l.removed)
    }

    /// Whether the application session is up.
    pub fn session_up(&self) -> bool {
        matches!(self.session, Session::Up { .. })
    }

    // ---------------------------------------------------------------- link

    /// The transport is open: the provider starts the application session.
    pub fn handle_link_up(&mut self, now: Instant) {
        if !matches!(self.session, Session::Connecting { .. }) {
            return;
        }
        let user = self.config.user.clone();
        let password = self.config.password.clone();
        let versions: heapless::Vec<Text<'_>, 4> =
            EDITIONS.iter().map(|e| Text::new(e.namespace())).collect();
        let m = Message::StartApplicationSession(StartApplicationSession {
            application_info: ApplicationInfo {
                application_id: Some(Text::new("uCSTA TSP")),
                application_specific_info: Some(ApplicationSpecificInfo {
                    user: Some(Text::new(&user)),
                    password: Some(Text::new(&password)),
                }),
            },
            requested_protocol_versions: Some(ProtocolVersions { versions }),
            requested_session_duration: Some(self.config.session_duration),
        });
        self.send_now(now, &m, Waiting::Start);
        self.session = Session::Starting {
            deadline: now + self.config.request_timeout,
        };
    }

    /// The transport failed to open, broke or was closed by the server.
    pub fn handle_link_down(&mut self, now: Instant) {
        if matches!(self.session, Session::Stopped | Session::Waiting { .. }) {
            return;
        }
        self.link_down(now, DownReason::Transport);
    }

    /// Tears the session down: every line out of service, every call IDLE, every
    /// request completed with `LINEERR_OPERATIONFAILED`; the next attempt scheduled.
    fn link_down(&mut self, now: Instant, reason: DownReason) {
        let was_connected = !matches!(self.session, Session::Stopped | Session::Waiting { .. });
        if was_connected && reason != DownReason::Transport {
            self.link.push_back(LinkCommand::Close);
        }
        // In the order they were sent (the map has none): TAPI sees the completions
        // in a stable order.
        let mut pending: Vec<(u16, Pending)> = self.pending.drain().collect();
        pending.sort_by_key(|(id, p)| (p.deadline, *id));
        let pending: Vec<Pending> = pending.into_iter().map(|(_, p)| p).collect();
        let queued: Vec<Queued> = self.queue.drain(..).collect();
        for waiting in pending
            .into_iter()
            .map(|p| p.waiting)
            .chain(queued.into_iter().map(|q| q.waiting))
        {
            self.fail_waiting(now, waiting, LineError::OperationFailed);
        }
        for index in 0..self.lines.len() {
            self.line_out_of_service(index as u32, Sync::Idle);
        }
        self.device_list = None;
        self.reread = false;
        self.refresh_at = None;
        if reason == DownReason::LoginRefused {
            self.backoff.give_up_fast();
        }
        let retry_in = self.backoff.next_delay(&mut self.rng);
        self.session = Session::Waiting { at: now + retry_in };
        if reason != DownReason::Shutdown {
            self.events
                .push_back(ProviderEvent::LinkDown { reason, retry_in });
        }
    }

    /// A complete CSTA message from the server.
    pub fn handle_frame(&mut self, now: Instant, invoke_id: InvokeId, body: &[u8]) {
        let decoded = match decode(body) {
            Ok(d) => d,
            Err(e) => {
                log::warn!("undecodable CSTA message from the server: {e}");
                // An answer we cannot read still answers its request: a positive
                // response that lacks an element (a vendor's empty
                // `<TransferCallResponse/>`) means the service was done; anything
                // else fails the request.
                if !invoke_id.is_event()
                    && let Some(p) = self.pending.remove(&invoke_id.get())
                {
                    match (p.waiting, is_positive_response(body)) {
                        (Waiting::Request { job, op: Op::Plain }, true) => {
                            self.finish_job(job, Ok(()))
                        }
                        (waiting, _) => self.fail_waiting(now, waiting, LineError::OperationFailed),
                    }
                    self.pump(now);
                }
                return;
            }
        };
        let message = decoded.message;
        match message.kind() {
            MessageKind::Event => self.handle_event(now, &message),
            MessageKind::Response | MessageKind::Error => {
                if invoke_id.is_event() {
                    log::debug!("answer {} with the event invokeID ignored", message.name());
                    return;
                }
                match self.pending.remove(&invoke_id.get()) {
                    Some(p) => self.handle_answer(now, p.waiting, &message),
                    None => log::debug!(
                        "answer {} to no request (invokeID {})",
                        message.name(),
                        invoke_id.get()
                    ),
                }
                self.pump(now);
            }
            MessageKind::Request => self.handle_server_request(now, invoke_id, &message),
        }
    }

    /// A request the server sent (session stop, device lists).
    fn handle_server_request(&mut self, now: Instant, invoke_id: InvokeId, message: &Message<'_>) {
        match message {
            Message::StopApplicationSession(_) => {
                let answer = Message::StopApplicationSessionPosResponse(
                    StopApplicationSessionPosResponse {},
                );
                self.answer_server(invoke_id, &answer);
                self.link_down(now, DownReason::ServerEnded);
            }
            Message::MonitorStop(r) => {
                // The server ended a line's monitor (the device left its
                // configuration): the line is out of service and asks again later
                // (multi-line: the device list change that follows removes it).
                use csta_core::message::monitor::MonitorStopResponse;
                self.answer_server(
                    invoke_id,
                    &Message::MonitorStopResponse(MonitorStopResponse {}),
                );
                let xref = r.monitor_cross_ref_id.0.to_string();
                if let Some(line) = self.line_by_xref(&xref) {
                    log::info!(
                        "the server stopped the monitor of line {}",
                        crate::logging::Pii(&self.lines[line as usize].name)
                    );
                    self.line_out_of_service(line, Sync::Refused);
                    self.lines[line as usize].retry_at = Some(now + LINE_RETRY);
                }
            }
            Message::SystemStatus(_) => {
                use csta_core::message::system::SystemStatusResponse;
                self.answer_server(
                    invoke_id,
                    &Message::SystemStatusResponse(SystemStatusResponse {}),
                );
            }
            _ => {
                if !self.handle_device_list_request(now, invoke_id, message) {
                    log::debug!("request {} from the server ignored", message.name());
                }
            }
        }
    }

    /// Sends an answer to a server request with its invokeID.
    fn answer_server(&mut self, invoke_id: InvokeId, message: &Message<'_>) {
        let edition = self.edition();
        if let Some(body) = encode(message, edition) {
            self.transmit.push_back(Transmit { invoke_id, body });
        }
    }

    /// Timers: reconnect, log-in and keep-alive, request deadlines, line retries.
    pub fn handle_timeout(&mut self, now: Instant) {
        match &mut self.session {
            Session::Waiting { at } if *at <= now && !self.shut_down => {
                self.session = Session::Connecting {
                    deadline: now + CONNECT_TIMEOUT,
                };
                self.link.push_back(LinkCommand::Connect);
            }
            Session::Connecting { deadline } | Session::Starting { deadline }
                if *deadline <= now =>
            {
                self.link_down(now, DownReason::Timeout);
                return;
            }
            Session::Up {
                session_id,
                keepalive_at,
                keepalive_pending,
                duration,
                ..
            } if *keepalive_at <= now => {
                if *keepalive_pending {
                    // The last reset went unanswered for half a session: the server
                    // or the path to it is gone.
                    self.link_down(now, DownReason::Timeout);
                    return;
                }
                *keepalive_pending = true;
                *keepalive_at = now + Duration::from_secs(u64::from(*duration).max(2) / 2);
                let id = session_id.clone();
                let duration = *duration;
                let m = Message::ResetApplicationSessionTimer(ResetApplicationSessionTimer {
                    session_id: CrossRefId(Text::new(&id)),
                    requested_session_duration: Some(duration),
                });
                self.send_now(now, &m, Waiting::KeepAlive);
            }
            _ => {}
        }
        let mut expired: Vec<(Instant, u16)> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, p)| (p.deadline, *id))
            .collect();
        expired.sort();
        for (_, id) in expired {
            if let Some(p) = self.pending.remove(&id) {
                log::warn!("CSTA request {id} got no answer in time");
                // An unanswered keep-alive means the server or the path to it is gone:
                // waiting for the next one would keep the lines in service on a
                // session the server may have dropped already.
                if matches!(p.waiting, Waiting::Start | Waiting::KeepAlive) {
                    self.link_down(now, DownReason::Timeout);
                    return;
                }
                self.fail_waiting(now, p.waiting, LineError::OperationFailed);
            }
        }
        if self.session_up() {
            for index in 0..self.lines.len() {
                let line = &self.lines[index];
                if line.sync == Sync::Refused && line.retry_at.is_some_and(|t| t <= now) {
                    self.lines[index].retry_at = None;
                    self.start_line(now, index as u32);
                }
            }
            if self.refresh_at.is_some_and(|t| t <= now) {
                self.refresh_at = None;
                self.request_devices(now);
            }
        }
        self.pump(now);
    }

    /// When [`handle_timeout`](Self::handle_timeout) wants to run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let session = match &self.session {
            Session::Stopped => None,
            Session::Waiting { at } => Some(*at),
            Session::Connecting { deadline } | Session::Starting { deadline } => Some(*deadline),
            Session::Up { keepalive_at, .. } => Some(*keepalive_at),
        };
        let pending = self.pending.values().map(|p| p.deadline).min();
        let retries = self.lines.iter().filter_map(|l| l.retry_at).min();
        [session, pending, retries, self.refresh_at]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next thing to hand to TAPI. Deliver each before polling the next: a
    /// `LINE_NEWCALL`'s answer ([`new_call_delivered`](Self::new_call_delivered)) gives
    /// the later messages their call handle.
    pub fn poll_tapi(&mut self) -> Option<TapiOutput> {
        while let Some(out) = self.tapi.pop_front() {
            let resolved = match out {
                Out::Plain(o) => Some(o),
                Out::Line { line, msg, params } => {
                    self.lines[line as usize]
                        .open
                        .map(|open| TapiOutput::Event {
                            line: LineId(line),
                            ht_line: open.ht_line,
                            ht_call: 0,
                            msg,
                            params,
                        })
                }
                Out::NewCall { line, call } => match self.lines[line as usize].open {
                    Some(open) if self.call(call).is_some_and(|c| c.known_to_tapi) => {
                        Some(TapiOutput::NewCall {
                            line: LineId(line),
                            ht_line: open.ht_line,
                            call,
                        })
                    }
                    _ => None,
                },
                Out::Call { call, msg, params } => self.call(call).and_then(|c| {
                    let open = self.lines[c.line as usize].open?;
                    (c.known_to_tapi && c.ht_call != 0).then_some(TapiOutput::Event {
                        line: LineId(c.line),
                        ht_line: open.ht_line,
                        ht_call: c.ht_call,
                        msg,
                        params,
                    })
                }),
            };
            if resolved.is_some() {
                return resolved;
            }
        }
        None
    }

    /// The next CSTA message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmit.pop_front()
    }

    /// The next thing the link driver must do.
    pub fn poll_link(&mut self) -> Option<LinkCommand> {
        self.link.pop_front()
    }

    /// The next report about the provider itself.
    pub fn poll_event(&mut self) -> Option<ProviderEvent> {
        self.events.pop_front()
    }

    // ------------------------------------------------------------- sending

    /// The edition the server chose (ed3 before the session is up).
    fn edition(&self) -> Edition {
        match &self.session {
            Session::Up { edition, .. } => *edition,
            _ => Edition::Ed3,
        }
    }

    /// Queues a CSTA request; it goes out when fewer than `max_outstanding` are in
    /// flight.
    fn send(&mut self, now: Instant, message: &Message<'_>, waiting: Waiting) {
        match encode(message, self.edition()) {
            Some(body) => {
                self.queue.push_back(Queued { body, waiting });
                self.pump(now);
            }
            None => self.fail_waiting(now, waiting, LineError::InvalParam),
        }
    }

    /// Sends a CSTA request at once, ahead of the queue (session management).
    fn send_now(&mut self, now: Instant, message: &Message<'_>, waiting: Waiting) {
        match encode(message, self.edition()) {
            Some(body) => self.transmit_request(now, body, waiting),
            None => self.fail_waiting(now, waiting, LineError::InvalParam),
        }
    }

    fn transmit_request(&mut self, now: Instant, body: Vec<u8>, waiting: Waiting) {
        let Some(id) = self.invoke_id() else {
            // Every invokeID is taken (only session requests bypass the window, so this
            // takes 9,998 of them in flight): refuse rather than reuse one.
            self.fail_waiting(now, waiting, LineError::ResourceUnavail);
            return;
        };
        self.pending.insert(
            id.get(),
            Pending {
                deadline: now + self.config.request_timeout,
                waiting,
            },
        );
        self.transmit.push_back(Transmit {
            invoke_id: id,
            body,
        });
    }

    /// Sends queued requests while there is room.
    fn pump(&mut self, now: Instant) {
        if !self.session_up() {
            return;
        }
        while self.pending.len() < self.config.max_outstanding {
            let Some(q) = self.queue.pop_front() else {
                break;
            };
            self.transmit_request(now, q.body, q.waiting);
        }
    }

    /// The next free invokeID (1..=9998).
    fn invoke_id(&mut self) -> Option<InvokeId> {
        for _ in 0..InvokeId::MAX_REQUEST.get() {
            let id = self.next_invoke;
            self.next_invoke = if id >= InvokeId::MAX_REQUEST.get() {
                1
            } else {
                id + 1
            };
            if !self.pending.contains_key(&id) {
                return InvokeId::new(id);
            }
        }
        None
    }

    // ------------------------------------------------------------ answers

    fn handle_answer(&mut self, now: Instant, waiting: Waiting, message: &Message<'_>) {
        match waiting {
            Waiting::Start => self.session_answer(now, message),
            Waiting::KeepAlive => {
                if let Session::Up {
                    keepalive_pending, ..
                } = &mut self.session
                {
                    *keepalive_pending = false;
                }
                if let Message::ResetApplicationSessionTimerNegResponse(_) = message {
                    log::warn!("the server refused to extend the session");
                    self.link_down(now, DownReason::ServerEnded);
                }
            }
            Waiting::Stop | Waiting::Ignore => {}
            Waiting::Monitor(line) => self.monitor_answer(now, line, message),
            Waiting::Snapshot(line) => self.snapshot_answer(now, line, message),
            Waiting::GetDnd(line) => {
                if let Message::GetDoNotDisturbResponse(r) = message {
                    self.set_dnd(line, r.do_not_disturb_on);
                }
            }
            Waiting::GetForwarding(line) => {
                if let Message::GetForwardingResponse(r) = message {
                    let list = r
                        .forwarding_list
                        .as_ref()
                        .map(|l| {
                            l.items
                                .iter()
                                .filter(|i| i.forward_status)
                                .map(|i| {
                                    (
                                        i.forwarding_type.as_text().to_string(),
                                        i.forward_dn.map(|d| d.id.to_string()),
                                    )
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    self.set_forwarding_list(line, list);
                }
            }
            Waiting::Devices | Waiting::Register => self.device_list_answer(now, waiting, message),
            Waiting::Request { job, op } => self.request_answer(now, job, op, message),
            Waiting::Digits { call, end_to_end } => {
                if let Some(id) = end_to_end {
                    let term = if matches!(message, Message::CSTAErrorCode(_)) {
                        tapi::LINEGENERATETERM_CANCEL
                    } else {
                        tapi::LINEGENERATETERM_DONE
                    };
                    self.call_event(call, tapi::msg::GENERATE, [term as usize, id as usize, 0]);
                }
            }
        }
    }

    fn session_answer(&mut self, now: Instant, message: &Message<'_>) {
        match message {
            Message::StartApplicationSessionPosResponse(r) => {
                let edition = Edition::from_namespace(&r.actual_protocol_version.to_string())
                    .filter(|e| *e != Edition::Ed2)
                    .unwrap_or(Edition::Ed3);
                let duration = r
                    .actual_session_duration
                    .unwrap_or(self.config.session_duration)
                    .max(2);
                let session_id = r.session_id.0.to_string();
                self.session = Session::Up {
                    session_id: session_id.clone(),
                    edition,
                    keepalive_at: now + Duration::from_secs(u64::from(duration) / 2),
                    keepalive_pending: false,
                    duration,
                };
                self.backoff.reset();
                self.events.push_back(ProviderEvent::SessionUp {
                    session_id,
                    edition,
                });
                self.synchronise(now);
            }
            Message::StartApplicationSessionNegResponse(_) => {
                log::error!(
                    "the server refused the CSTA account `{}`: check the user and password",
                    crate::logging::Pii(&self.config.user)
                );
                self.link_down(now, DownReason::LoginRefused);
            }
            other => {
                log::warn!(
                    "unexpected answer {} to StartApplicationSession",
                    other.name()
                );
                self.link_down(now, DownReason::Protocol);
            }
        }
    }

    /// A session came up: read the device list (multi-line), start every line.
    ///
    /// The monitors go ahead of the requests TAPI made while the link was down: the
    /// server handles a connection's requests in order, so a call lineMakeCall placed
    /// right after lineOpen is then seen from its first event (ServiceInitiated) on.
    fn synchronise(&mut self, now: Instant) {
        self.synchronised = false;
        let waiting = core::mem::take(&mut self.queue);
        if self.config.role == Role::MultiLine {
            self.register_for_device_changes(now);
            self.request_devices(now);
        }
        for index in 0..self.lines.len() {
            if !self.lines[index].removed {
                self.start_line(now, index as u32);
            }
        }
        self.queue.extend(waiting);
        self.pump(now);
        self.check_synchronised();
    }

    /// Starts a line's monitor; the snapshot follows its answer.
    fn start_line(&mut self, now: Instant, line: u32) {
        use csta_core::message::monitor::{MonitorObject, MonitorStart};
        use csta_core::types::DeviceId;
        let device = self.lines[line as usize].device.clone();
        self.lines[line as usize].sync = Sync::Monitoring;
        self.synchronised = false;
        let m = Message::MonitorStart(MonitorStart {
            monitor_object: MonitorObject::Device(DeviceId::new(&device)),
            requested_monitor_filter: None,
            monitor_type: None,
        });
        self.send(now, &m, Waiting::Monitor(line));
    }

    fn monitor_answer(&mut self, now: Instant, line: u32, message: &Message<'_>) {
        use csta_core::message::monitor::SnapshotDevice;
        use csta_core::types::DeviceId;
        let index = line as usize;
        if self.lines[index].removed {
            // Removed while its monitor was being started: stop the monitor the server
            // made for it.
            if let Message::MonitorStartResponse(r) = message {
                use csta_core::message::monitor::MonitorStop;
                let xref = r.monitor_cross_ref_id.0.to_string();
                let m = Message::MonitorStop(MonitorStop {
                    monitor_cross_ref_id: CrossRefId(Text::new(&xref)),
                });
                self.send(now, &m, Waiting::Ignore);
            }
            return;
        }
        match message {
            Message::MonitorStartResponse(r) => {
                self.lines[index].xref = Some(r.monitor_cross_ref_id.0.to_string());
                self.lines[index].sync = Sync::Snapshot;
                let device = self.lines[index].device.clone();
                let m = Message::SnapshotDevice(SnapshotDevice {
                    snapshot_object: DeviceId::new(&device),
                });
                self.lines[index].snapshot_from = self.binds;
                self.send(now, &m, Waiting::Snapshot(line));
            }
            Message::CSTAErrorCode(e) => {
                let error = LineError::from_csta(e);
                log::warn!(
                    "the server refused to monitor line {} ({error})",
                    crate::logging::Pii(&self.lines[index].name)
                );
                self.line_out_of_service(line, Sync::Refused);
                self.lines[index].retry_at = Some(now + LINE_RETRY);
                self.events.push_back(ProviderEvent::LineRefused {
                    line: LineId(line),
                    error,
                });
                self.check_synchronised();
            }
            _ => {}
        }
    }

    fn snapshot_answer(&mut self, now: Instant, line: u32, message: &Message<'_>) {
        use csta_core::message::device::{GetDoNotDisturb, GetForwarding};
        use csta_core::types::DeviceId;
        let index = line as usize;
        if self.lines[index].removed {
            return;
        }
        // The device went out of service meanwhile (OutOfServiceEvent), or the server
        // says it is (the phone is not registered): the line waits for
        // BackInServiceEvent, which asks for a snapshot again.
        let out_of_service = matches!(
            message,
            Message::CSTAErrorCode(csta_core::message::ErrorCode::SystemResourceAvailability(s))
                if s.as_text().raw().ends_with("OutOfService")
        );
        if self.lines[index].sync == Sync::OutOfService || out_of_service {
            // The monitor stays: BackInServiceEvent comes on it.
            let xref = self.lines[index].xref.take();
            self.line_out_of_service(line, Sync::OutOfService);
            self.lines[index].xref = xref;
            self.check_synchronised();
            return;
        }
        // In service first: the calls the snapshot shows are offered on a line TAPI
        // has been told is in service.
        self.line_in_service(line);
        if let Message::SnapshotDeviceResponse(_) = message {
            self.feed_view(now, line, message);
        } else {
            log::warn!(
                "no snapshot of line {}: its existing calls are not shown",
                crate::logging::Pii(&self.lines[index].name)
            );
        }
        let device = self.lines[index].device.clone();
        let m = Message::GetDoNotDisturb(GetDoNotDisturb {
            device: DeviceId::new(&device),
        });
        self.send(now, &m, Waiting::GetDnd(line));
        let m = Message::GetForwarding(GetForwarding {
            device: DeviceId::new(&device),
        });
        self.send(now, &m, Waiting::GetForwarding(line));
        self.check_synchronised();
    }

    /// Reports [`ProviderEvent::Synchronised`] once no line waits for its monitor or
    /// snapshot.
    fn check_synchronised(&mut self) {
        let waiting = self
            .lines
            .iter()
            .any(|l| !l.removed && matches!(l.sync, Sync::Monitoring | Sync::Snapshot))
            // Multi-line: the lines are known once the device list is read.
            || self.device_list.is_some();
        // Once each time the lines that were synchronising are done (not again for
        // every later answer).
        if !waiting && self.session_up() && !self.synchronised {
            self.synchronised = true;
            self.events.push_back(ProviderEvent::Synchronised);
        }
    }

    /// A failed or unanswered request: its TAPI side completes with `error`.
    fn fail_waiting(&mut self, now: Instant, waiting: Waiting, error: LineError) {
        match waiting {
            Waiting::Request { job, op } => {
                self.undo_op(now, &op);
                self.finish_job(job, Err(error));
            }
            Waiting::Digits { call, end_to_end } => {
                if let Some(id) = end_to_end {
                    self.call_event(
                        call,
                        tapi::msg::GENERATE,
                        [tapi::LINEGENERATETERM_CANCEL as usize, id as usize, 0],
                    );
                }
            }
            Waiting::Monitor(line) | Waiting::Snapshot(line) => {
                if self.session_up() && !self.lines[line as usize].removed {
                    self.line_out_of_service(line, Sync::Refused);
                    self.lines[line as usize].retry_at = Some(now + LINE_RETRY);
                    self.check_synchronised();
                }
            }
            Waiting::Start
            | Waiting::KeepAlive
            | Waiting::Stop
            | Waiting::Ignore
            | Waiting::GetDnd(_)
            | Waiting::GetForwarding(_)
            | Waiting::Devices
            | Waiting::Register => {}
        }
    }

    // -------------------------------------------------------------- jobs

    fn new_job(&mut self, request_id: u32, parts: u32) -> u32 {
        let id = self.next_job;
        self.next_job = self.next_job.wrapping_add(1).max(1);
        self.jobs.insert(
            id,
            Job {
                request_id,
                remaining: parts,
                result: 0,
            },
        );
        if parts == 0 {
            self.finish_job(id, Ok(()));
        }
        id
    }

    /// One part of a job is done; the job completes when its last part is.
    fn finish_job(&mut self, job: u32, result: Result<(), LineError>) {
        let Some(j) = self.jobs.get_mut(&job) else {
            return;
        };
        if let Err(e) = result
            && j.result == 0
        {
            j.result = e.result();
        }
        j.remaining = j.remaining.saturating_sub(1);
        if j.remaining == 0
            && let Some(j) = self.jobs.remove(&job)
        {
            self.complete(j.request_id, j.result);
        }
    }

    /// Completes a request, then lets the calls it created speak.
    fn complete(&mut self, request_id: u32, result: i32) {
        self.tapi
            .push_back(Out::Plain(TapiOutput::Completion { request_id, result }));
        let quiet: Vec<CallHandle> = self
            .call_handles()
            .filter(|h| {
                self.call(*h)
                    .is_some_and(|c| c.quiet_until == Some(request_id))
            })
            .collect();
        for h in quiet {
            let mut gone = None;
            if let Some(c) = self.call_mut(h) {
                c.quiet_until = None;
                gone = c.gone_quietly.take();
            }
            if result != 0 {
                continue;
            }
            match gone {
                // The call ended before its request completed: TAPI has the handle
                // and must see it end (else it stays in TAPI forever).
                Some(mode) => {
                    if let Some(mode) = mode {
                        self.report_state(h, tapi::LINECALLSTATE_DISCONNECTED, mode);
                    }
                    self.report_state(h, tapi::LINECALLSTATE_IDLE, 0);
                }
                None => self.sync_call(h),
            }
        }
    }

    // ------------------------------------------------------------- lines

    fn add_line(&mut self, device: &str) -> u32 {
        let index = self.lines.len() as u32;
        let number = calls::display_number(device).to_owned();
        let name = self
            .config
            .line_name
            .replace("{number}", &number)
            .replace("{device}", device)
            .replace("{site}", &self.config.site);
        let mut permanent_id = fnv1a(device.as_bytes());
        // A removed line's ID is free again: a device that comes back keeps the ID it
        // has after a restart.
        while permanent_id == 0
            || self
                .lines
                .iter()
                .any(|l| !l.removed && l.permanent_id == permanent_id)
        {
            permanent_id = permanent_id.wrapping_add(1);
        }
        self.lines.push(Line {
            device: device.to_owned(),
            name,
            permanent_id,
            device_id: None,
            removed: false,
            creating: false,
            open: None,
            view: None,
            xref: None,
            sync: Sync::Idle,
            reported_in_service: false,
            dnd: false,
            forwarding: Vec::new(),
            retry_at: None,
            snapshot_from: 0,
        });
        index
    }

    fn line_in_service(&mut self, line: u32) {
        let l = &mut self.lines[line as usize];
        l.sync = Sync::Ready;
        if !l.reported_in_service {
            l.reported_in_service = true;
            self.line_event(line, tapi::LINEDEVSTATE_INSERVICE);
        }
    }

    /// Puts a line out of service: its calls go IDLE, its view is dropped.
    fn line_out_of_service(&mut self, line: u32, sync: Sync) {
        let index = line as usize;
        self.lines[index].sync = sync;
        self.lines[index].xref = None;
        self.lines[index].view = None;
        let handles: Vec<CallHandle> = self
            .call_handles()
            .filter(|h| self.call(*h).is_some_and(|c| c.line == line))
            .collect();
        for h in handles {
            self.call_gone(h, None);
        }
        if self.lines[index].reported_in_service {
            self.lines[index].reported_in_service = false;
            self.line_event(line, tapi::LINEDEVSTATE_OUTOFSERVICE);
        }
    }

    /// A `LINE_LINEDEVSTATE` if the line is open and TAPI asked for it.
    fn line_event(&mut self, line: u32, state: u32) {
        if let Some(open) = self.lines[line as usize].open
            && open.line_states & state != 0
        {
            self.tapi.push_back(Out::Line {
                line,
                msg: tapi::msg::LINEDEVSTATE,
                params: [state as usize, 0, 0],
            });
        }
    }

    /// A `LINE_ADDRESSSTATE` if the line is open and TAPI asked for it.
    fn address_event(&mut self, line: u32, state: u32) {
        if let Some(open) = self.lines[line as usize].open
            && open.address_states & state != 0
        {
            self.tapi.push_back(Out::Line {
                line,
                msg: tapi::msg::ADDRESSSTATE,
                params: [0, state as usize, 0],
            });
        }
    }

    fn set_dnd(&mut self, line: u32, on: bool) {
        if self.lines[line as usize].dnd != on {
            self.lines[line as usize].dnd = on;
            self.address_event(line, tapi::LINEADDRESSSTATE_FORWARD);
        }
    }

    fn set_forwarding_list(&mut self, line: u32, list: Vec<(String, Option<String>)>) {
        if self.lines[line as usize].forwarding != list {
            self.lines[line as usize].forwarding = list;
            self.address_event(line, tapi::LINEADDRESSSTATE_FORWARD);
        }
    }

    fn set_forwarding(&mut self, line: u32, kind: &str, dest: Option<String>, on: bool) {
        let mut list = self.lines[line as usize].forwarding.clone();
        list.retain(|(k, _)| k != kind);
        if on {
            list.push((kind.to_owned(), dest));
        }
        self.set_forwarding_list(line, list);
    }

    /// The line whose monitor has this cross-reference ID.
    fn line_by_xref(&self, xref: &str) -> Option<u32> {
        self.lines
            .iter()
            .position(|l| !l.removed && l.xref.as_deref() == Some(xref))
            .map(|i| i as u32)
    }

    /// The line of a device, by any form of its ID.
    fn line_by_device(&self, device: &str) -> Option<u32> {
        self.lines
            .iter()
            .position(|l| !l.removed && same_device(&l.device, device))
            .map(|i| i as u32)
    }

    // ------------------------------------------------------------- calls

    fn call_handles(&self) -> impl Iterator<Item = CallHandle> + '_ {
        self.calls.iter().enumerate().filter_map(|(i, c)| {
            c.as_ref().map(|c| CallHandle {
                slot: i as u32,
                generation: c.generation,
            })
        })
    }

    fn call(&self, h: CallHandle) -> Option<&Call> {
        self.calls
            .get(h.slot as usize)?
            .as_ref()
            .filter(|c| c.generation == h.generation)
    }

    fn call_mut(&mut self, h: CallHandle) -> Option<&mut Call> {
        self.calls
            .get_mut(h.slot as usize)?
            .as_mut()
            .filter(|c| c.generation == h.generation)
    }

    /// The live (not IDLE) calls of a line.
    fn line_calls(&self, line: u32) -> Vec<CallHandle> {
        self.call_handles()
            .filter(|h| self.call(*h).is_some_and(|c| c.line == line && !c.idle))
            .collect()
    }

    /// A new call on `line`.
    fn new_call(&mut self, line: u32) -> Result<CallHandle, LineError> {
        if self.line_calls(line).len() >= self.config.max_calls {
            return Err(LineError::CallUnavail);
        }
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                self.calls.push(None);
                self.generations.push(0);
                (self.calls.len() - 1) as u32
            }
        };
        let generation =
            match self.generations[slot as usize].wrapping_add(1) & calls::GENERATION_MASK {
                0 => 1,
                g => g,
            };
        self.generations[slot as usize] = generation;
        let call_id = self.next_call_id;
        self.next_call_id = self.next_call_id.wrapping_add(1).max(1);
        self.calls[slot as usize] = Some(Call::new(generation, line, call_id));
        Ok(CallHandle { slot, generation })
    }

    fn free_call(&mut self, h: CallHandle) {
        if self.call(h).is_some() {
            self.calls[h.slot as usize] = None;
            self.free.push(h.slot);
        }
    }

    /// The TAPI call following CSTA call `id` on `line`.
    fn call_by_csta(&self, line: u32, id: &str) -> Option<CallHandle> {
        self.call_handles().find(|h| {
            self.call(*h)
                .is_some_and(|c| c.line == line && !c.idle && c.csta.as_deref() == Some(id))
        })
    }

    /// Queues a call event (dropped while the call is quiet or unknown to TAPI).
    fn call_event(&mut self, h: CallHandle, msg: u32, params: [usize; 3]) {
        let Some(c) = self.call(h) else {
            return;
        };
        if c.quiet_until.is_some() || !c.known_to_tapi {
            return;
        }
        self.tapi.push_back(Out::Call {
            call: h,
            msg,
            params,
        });
    }

    /// Queues `LINE_NEWCALL` for a call TAPI is to learn of.
    fn out_new_call(&mut self, line: u32, call: CallHandle) {
        self.tapi.push_back(Out::NewCall { line, call });
    }

    /// The call ended (or its line went away): DISCONNECTED with `mode` when given and
    /// not reported yet, then IDLE. Calls TAPI does not know are freed at once.
    fn call_gone(&mut self, h: CallHandle, mode: Option<u32>) {
        let Some(c) = self.call(h) else {
            return;
        };
        if c.idle {
            return;
        }
        if !c.known_to_tapi && c.quiet_until.is_none() {
            self.free_call(h);
            return;
        }
        let state = c.state();
        if c.quiet_until.is_some()
            && let Some(c) = self.call_mut(h)
        {
            c.gone_quietly = Some(mode);
        }
        // A busy call's clearing is the busy call ending, however the phone words
        // its cause (`normalClearing` after a `busy` failure): DISCONNECTED BUSY.
        let mode = match mode {
            Some(tapi::LINEDISCONNECTMODE_NORMAL) if state == tapi::LINECALLSTATE_BUSY => {
                Some(tapi::LINEDISCONNECTMODE_BUSY)
            }
            m => m,
        };
        if let Some(mode) = mode
            && state != tapi::LINECALLSTATE_DISCONNECTED
        {
            self.report_state(h, tapi::LINECALLSTATE_DISCONNECTED, mode);
        }
        self.report_state(h, tapi::LINECALLSTATE_IDLE, 0);
        // Members of a conference that ended go with it; a consultation whose
        // primary left stays (it may still be transferred elsewhere).
        let members: Vec<CallHandle> = self
            .call_handles()
            .filter(|m| {
                self.call(*m)
                    .is_some_and(|c| matches!(c.kind, Kind::Member { conf, .. } if conf == h))
            })
            .collect();
        if let Some(c) = self.call_mut(h) {
            c.idle = true;
            c.csta = None;
        }
        for m in members {
            self.call_gone(m, mode);
        }
        // A held call whose TAPI consultation ended is an ordinary held call again.
        let handles: Vec<CallHandle> = self.call_handles().collect();
        for other in handles {
            if let Some(c) = self.call_mut(other)
                && c.consultation.is_some_and(|(consult, _)| consult == h)
            {
                c.consultation = None;
                self.sync_call(other);
            }
        }
    }

    /// Sends `LINE_CALLSTATE` if it differs from what TAPI was told.
    fn report_state(&mut self, h: CallHandle, state: u32, mode: u32) {
        let Some(c) = self.call_mut(h) else {
            return;
        };
        if c.reported == Some((state, mode)) {
            return;
        }
        let quiet = c.quiet_until.is_some() || !c.known_to_tapi;
        if !quiet {
            c.reported = Some((state, mode));
        }
        let detail = self.state_detail(h, state, mode);
        self.call_event(
            h,
            tapi::msg::CALLSTATE,
            [
                state as usize,
                detail,
                tapi::LINEMEDIAMODE_INTERACTIVEVOICE as usize,
            ],
        );
    }

    /// `dwParam2` of `LINE_CALLSTATE`: the disconnect mode of `DISCONNECTED`, the busy
    /// and dial-tone modes the address caps announce (`LINEBUSYMODE_STATION`,
    /// `LINEDIALTONEMODE_NORMAL`), `ACTIVE` for `CONNECTED` and `OFFERING` (TAPI 2.0),
    /// and for `CONFERENCED` the `htCall` of the conference the call is a member of
    /// (TSPI `LINE_CALLSTATE`: TAPI uses it to link the member to its parent).
    pub(crate) fn state_detail(&self, h: CallHandle, state: u32, mode: u32) -> usize {
        match state {
            tapi::LINECALLSTATE_DISCONNECTED => mode as usize,
            tapi::LINECALLSTATE_BUSY => tapi::LINEBUSYMODE_STATION as usize,
            tapi::LINECALLSTATE_DIALTONE => tapi::LINEDIALTONEMODE_NORMAL as usize,
            tapi::LINECALLSTATE_CONNECTED => tapi::LINECONNECTEDMODE_ACTIVE as usize,
            tapi::LINECALLSTATE_OFFERING => tapi::LINEOFFERINGMODE_ACTIVE as usize,
            tapi::LINECALLSTATE_CONFERENCED => match self.call(h).map(|c| &c.kind) {
                Some(Kind::Member { conf, .. }) => self.call(*conf).map_or(0, |c| c.ht_call),
                _ => 0,
            },
            _ => 0,
        }
    }

    /// Brings TAPI's picture of one call up to date: its state and its info.
    fn sync_call(&mut self, h: CallHandle) {
        let Some(c) = self.call(h) else {
            return;
        };
        if c.idle {
            return;
        }
        if let Some((state, mode)) = self.desired_state(h) {
            self.report_state(h, state, mode);
        }
        self.flush_info(h);
    }

    /// Sends `LINE_CALLINFO` for the info that changed.
    fn flush_info(&mut self, h: CallHandle) {
        let Some(c) = self.call_mut(h) else {
            return;
        };
        if c.info_changed == 0 || c.quiet_until.is_some() || !c.known_to_tapi {
            return;
        }
        let changed = std::mem::take(&mut c.info_changed);
        self.call_event(h, tapi::msg::CALLINFO, [changed as usize, 0, 0]);
    }

    /// The state TAPI should see for a call, from the view and the provider's own
    /// knowledge; `None` while nothing is known (a request still making it).
    fn desired_state(&self, h: CallHandle) -> Option<(u32, u32)> {
        use csta_core::model::view::{ConsultationPurpose, TapiCallState as T};
        let c = self.call(h)?;
        if let Kind::Member { conf, party } = &c.kind {
            if party.is_some() || c.csta.is_none() {
                return Some(match self.call(*conf) {
                    Some(conf) if !conf.idle => (tapi::LINECALLSTATE_CONFERENCED, 0),
                    _ => (tapi::LINECALLSTATE_IDLE, 0),
                });
            }
            // Still the original call while the conference is set up: shown as a
            // member of it.
            return Some((tapi::LINECALLSTATE_CONFERENCED, 0));
        }
        if let Some(state) = c.synthetic {
            return Some((state, 0));
        }
        let id = c.csta.as_deref()?;
        let view = self.lines[c.line as usize].view.as_ref()?;
        let call = view.call(id)?;
        let mut state = call.tapi_state();
        if c.kind == Kind::Conference && matches!(state, T::Conferenced) {
            state = T::Connected;
        }
        if matches!(state, T::OnHold | T::OnHoldPendTransfer | T::OnHoldPendConf) {
            match c.consultation.map(|(_, p)| p) {
                Some(ConsultationPurpose::Transfer) => state = T::OnHoldPendTransfer,
                Some(ConsultationPurpose::Conference) => state = T::OnHoldPendConf,
                None if c.kind == Kind::Conference => state = T::OnHoldPendConf,
                None => {}
            }
        }
        let mode = call.disconnect_mode().map_or(0, |m| m.value());
        Some((state.value(), mode))
    }
}

/// Encodes a message in `edition`; `None` if it cannot be written (a value XML cannot
/// carry).
fn encode(message: &Message<'_>, edition: Edition) -> Option<Vec<u8>> {
    let options = EncodeOptions {
        edition,
        declaration: true,
    };
    let mut buf = vec![0; message.buffer_len(&options)];
    match message.encode_with(&options, &mut buf) {
        Ok(n) => {
            buf.truncate(n);
            Some(buf)
        }
        Err(e) => {
            log::warn!("{} cannot be encoded: {e}", message.name());
            None
        }
    }
}

/// Whether an XML body's root element is a positive response (`...Response`, not an
/// ECMA-354 `...NegResponse`), read without decoding the rest.
fn is_positive_response(body: &[u8]) -> bool {
    let text = String::from_utf8_lossy(body);
    let mut rest = text.as_ref();
    // Skip the declaration, comments and processing instructions.
    while let Some(start) = rest.find('<') {
        rest = &rest[start + 1..];
        if rest.starts_with('?') || rest.starts_with('!') {
            continue;
        }
        let name: String = rest
            .chars()
            .take_while(|c| !c.is_whitespace() && !matches!(c, '>' | '/'))
            .collect();
        let local = name.rsplit(':').next().unwrap_or(&name);
        return local.ends_with("Response") && !local.ends_with("NegResponse");
    }
    false
}

/// FNV-1a, 32 bits: stable permanent line IDs from device IDs.
fn fnv1a(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811C_9DC5;
    for b in bytes {
        h ^= u32::from(*b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}
