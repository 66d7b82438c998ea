//! One simulated phone, sans-IO: datagrams, actions and the time go in, datagrams and
//! [`Report`]s come out.
//!
//! A [`Phone`] owns a transaction layer, a registration client, the phone side of a
//! uaCSTA session ([`PhoneSession`]), the ECMA-269 call model of its line
//! ([`Device`]) and its SIP calls. CSTA requests reach the device through the session;
//! the device's commands (make, answer, hold, transfer, ...) become SIP signalling sent
//! to the outbound proxy; what the SIP side answers is reported to the device, whose
//! events travel back to the application as INFO.
//!
//! Drive loop: after [`Phone::handle_datagram`], [`Phone::handle_action`] or
//! [`Phone::handle_timeout`], drain [`Phone::poll_transmit`] and [`Phone::poll_report`];
//! call `handle_timeout` when [`Phone::poll_timeout`] comes.
//!
//! How the SIP side is modelled (signalling only, no media):
//! - calls carry a fixed SDP offer/answer with one dummy audio m-line; hold and retrieve
//!   are re-INVITEs with `a=sendonly` / `a=sendrecv`;
//! - single-step transfer is a REFER in the call's dialog; consultation transfer is a
//!   REFER to the held party whose Refer-To carries `Replaces` naming the consultation
//!   call. The transferor counts the transfer done on the 202 and ends both dialogs with
//!   BYE. A transferee answers 202 and calls the Refer-To target (with the Replaces
//!   header); a phone getting an INVITE with Replaces for one of its calls answers it at
//!   once and ends the replaced call. No NOTIFY (sipfrag) is sent;
//! - deflection and immediate forwarding answer the INVITE 302 with the target's
//!   Contact; busy forwarding does so when a call is in progress; do-not-disturb
//!   answers 486; conference only tells the device (no mixing);
//! - an outgoing call that gets a 3xx follows the first Contact with a new INVITE.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::time::Duration;

use csta_core::Edition;
use csta_core::message::Decoded;
use csta_core::model::phone::{CallRef, Command, Device, Divert, Forward, Progress};
use csta_core::uacsta::phone::{PhoneConfig as SessionConfig, PhoneEvent, PhoneSession};
use sip_lite::dialog::Dialog;
use sip_lite::digest::{CredentialsRepr, Request as DigestRequest, Secret, select_challenge};
use sip_lite::ids::IdGenerator;
use sip_lite::registration::{self, Registration, RegistrationEvent};
use sip_lite::time::{Instant, Timers};
use sip_lite::transaction::{self, ClientTx, Event, Received, ServerTx, Transactions, Tx};
use sip_lite::wire::{
    Emit as _, HeaderIndex, HeaderName, Message, Method, SliceSink, StatusCode, Uri, Writer,
};

use crate::report::{CallState, Report};

/// The largest SIP message a phone sends or keeps, in octets.
pub const BUF: usize = 3072;
/// Transactions a phone keeps at once. Finished ones linger (5 s for the phone's own
/// requests, 32 s for the server's over UDP), so a burst of CSTA events and requests
/// needs room: 64 slots of [`BUF`] octets, about 200 KiB per phone.
const TXS: usize = 64;
/// The arena of a call's dialog.
const DIALOG: usize = 1024;
/// Header slots for parsing.
const HEADERS: usize = 64;
/// How many Call-IDs of ended calls are remembered.
const ENDED_KEPT: usize = 32;

type Session = PhoneSession<8, BUF>;
type Line = Device<4>;

/// A forwarding type a script or the handset sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardKind {
    /// Every call goes on at once (302).
    Immediate,
    /// Calls go on while the phone is busy (302).
    Busy,
    /// Calls go on when not answered (kept in the model only).
    NoAnswer,
}

impl ForwardKind {
    fn forward(self) -> Forward {
        match self {
            ForwardKind::Immediate => Forward::Immediate,
            ForwardKind::Busy => Forward::Busy,
            ForwardKind::NoAnswer => Forward::NoAnswer,
        }
    }
}

/// Something the phone's user (a script, a test, the load generator) does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Register (again).
    Register,
    /// Remove the binding.
    Unregister,
    /// Place a call to a number.
    Call(String),
    /// Answer the ringing call.
    Answer,
    /// Clear the newest call.
    Hangup,
    /// Hold the connected call.
    Hold,
    /// Retrieve the held call.
    Retrieve,
    /// Single-step transfer of the connected call.
    Transfer(String),
    /// Consultation transfer: the held call's party is joined with the connected
    /// call's party (REFER with Replaces to the held party).
    CompleteTransfer,
    /// Joins the held and the connected call into a conference (reported to the
    /// device only; no mixing).
    Conference,
    /// Deflect the ringing call.
    Deflect(String),
    /// Do-not-disturb on or off.
    DoNotDisturb(bool),
    /// Forwarding on (with a target) or off.
    Forward(ForwardKind, Option<String>),
    /// Answer incoming calls at once, or not.
    AutoAnswer(bool),
}

/// What a phone is made of.
#[derive(Debug, Clone)]
pub struct Config {
    /// The SIP user: AOR user part, digest user name, CSTA device number.
    pub user: String,
    /// The digest password.
    pub password: String,
    /// The domain of the AOR and of called numbers.
    pub domain: String,
    /// The outbound proxy and registrar every request goes to.
    pub proxy: SocketAddr,
    /// The phone's own address (its socket's).
    pub local: SocketAddr,
    /// The requested registration expiry, seconds.
    pub expires: u32,
    /// Whether incoming calls are answered at once.
    pub auto_answer: bool,
    /// A seed for Call-IDs, tags and branches.
    pub seed: [u8; 32],
}

/// Why a phone could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// The registration client refused the configuration.
    #[error("registration configuration: {0}")]
    Registration(String),
    /// The uaCSTA session refused the configuration.
    #[error("uaCSTA session configuration: {0}")]
    Session(String),
    /// The call model refused the device ID.
    #[error("device: {0}")]
    Device(String),
}

/// Who started a client transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Owner {
    Register,
    Session(u32, Method<'static>),
    Call(u32, Purpose),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Invite,
    Reinvite { hold: bool },
    Bye,
    Refer,
    Other,
}

/// What a REFER of ours does once accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ReferKind {
    Single(String),
    Consultation(u32),
}

struct Call {
    no: u32,
    model: Option<CallRef>,
    state: CallState,
    peer: String,
    call_id: String,
    local_tag: String,
    dialog: Option<Dialog<DIALOG>>,
    /// UAC: the INVITE we sent, to build the dialog from its 2xx.
    invite: Option<Vec<u8>>,
    invite_tx: Option<ClientTx>,
    invite_cseq: u32,
    ack: Option<Vec<u8>>,
    auth_tried: bool,
    /// UAS: the INVITE received and its transaction, until the final answer.
    request: Option<Vec<u8>>,
    server_tx: Option<ServerTx>,
    refer: Option<ReferKind>,
    /// The call this one replaces once answered (INVITE with Replaces).
    replaces: Option<u32>,
    /// UAS: where the INVITE came from, for the 2xx retransmissions.
    peer_addr: Option<SocketAddr>,
    /// A consultation call (ConsultationCall) placed once this call is held.
    after_hold: Option<(CallRef, String)>,
    /// UAS: the 2xx sent, resent until the ACK comes (RFC 3261 section 13.3.1.4).
    resend: Option<Resend>,
}

/// A 2xx to an INVITE, resent with timer T1 doubling up to T2 until the ACK or 64*T1.
struct Resend {
    bytes: Vec<u8>,
    next: Instant,
    interval: Duration,
    until: Instant,
}

impl Call {
    fn live(&self) -> bool {
        self.state != CallState::Ended
    }
}

/// One simulated phone. See the [module docs](self).
pub struct Phone {
    cfg: Config,
    aor: String,
    contact: String,
    via: String,
    ids: IdGenerator,
    tx: Box<Transactions<SocketAddr, TXS, BUF>>,
    client: HashMap<ClientTx, Owner>,
    reg: Registration,
    registered: bool,
    session: Box<Session>,
    csta_peer: Option<SocketAddr>,
    device: Box<Line>,
    calls: Vec<Call>,
    /// Call-IDs of calls that ended lately: a late BYE for them gets 200, not 481.
    ended: VecDeque<String>,
    next_call: u32,
    auto_answer: bool,
    out: VecDeque<(SocketAddr, Vec<u8>)>,
    reports: VecDeque<Report>,
}

impl std::fmt::Debug for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Phone")
            .field("user", &self.cfg.user)
            .field("registered", &self.registered)
            .field("csta", &self.session.is_open())
            .field("calls", &self.calls.len())
            .finish_non_exhaustive()
    }
}

fn user_of(uri: &str) -> String {
    let uri = uri.trim().trim_start_matches('<');
    let uri = uri.split('>').next().unwrap_or(uri);
    match Uri::parse(uri) {
        Ok(u) => u
            .as_sip()
            .and_then(|s| s.user)
            .map_or_else(|| uri.to_owned(), str::to_owned),
        Err(_) => uri.to_owned(),
    }
}

fn sdp(ip: &str, port: u16, direction: &str, version: u32) -> String {
    format!(
        "v=0\r\no=- 1 {version} IN IP4 {ip}\r\ns=phone-sim\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na={direction}\r\n"
    )
}

fn status_reason(s: StatusCode) -> &'static str {
    s.default_reason()
}

impl Phone {
    /// A phone, not yet registered.
    ///
    /// # Errors
    /// [`PhoneError`] when a configured string does not fit the protocol machines.
    pub fn new(cfg: Config) -> Result<Phone, PhoneError> {
        let host = cfg.local.ip().to_string();
        let port = cfg.local.port();
        let aor = format!("sip:{}@{}", cfg.user, cfg.domain);
        let contact = format!("sip:{}@{host}:{port}", cfg.user);
        let via = format!("SIP/2.0/UDP {host}:{port}");
        let registrar = format!("sip:{}", cfg.domain);
        let mut ids = IdGenerator::new(cfg.seed);
        let via_rport = format!("{via};rport");
        let mut rc = registration::Config::new(
            &registrar,
            &aor,
            &contact,
            &via_rport,
            &cfg.user,
            Secret::Password(&cfg.password),
        );
        rc.expires = cfg.expires;
        rc.user_agent = Some("phone-sim");
        let reg = Registration::new(&rc).map_err(|e| PhoneError::Registration(e.to_string()))?;
        let sc = SessionConfig::new(&contact, &via);
        let session =
            Box::new(Session::new(&sc, &mut ids).map_err(|e| PhoneError::Session(e.to_string()))?);
        let device = Box::new(Line::new(&cfg.user).map_err(|e| PhoneError::Device(e.to_string()))?);
        Ok(Phone {
            auto_answer: cfg.auto_answer,
            cfg,
            aor,
            contact,
            via,
            ids,
            tx: Box::new(Transactions::new(transaction::Config::DEFAULT)),
            client: HashMap::new(),
            reg,
            registered: false,
            session,
            csta_peer: None,
            device,
            calls: Vec::new(),
            ended: VecDeque::new(),
            next_call: 1,
            out: VecDeque::new(),
            reports: VecDeque::new(),
        })
    }

    /// The phone's user.
    pub fn user(&self) -> &str {
        &self.cfg.user
    }

    /// Whether the registration is in force.
    pub fn is_registered(&self) -> bool {
        self.registered
    }

    /// Whether a uaCSTA session is up.
    pub fn csta_open(&self) -> bool {
        self.session.is_open()
    }

    /// The states of the calls in progress, oldest first.
    pub fn call_states(&self) -> Vec<CallState> {
        self.calls
            .iter()
            .filter(|c| c.live())
            .map(|c| c.state)
            .collect()
    }

    /// Whether do-not-disturb is on.
    pub fn do_not_disturb(&self) -> bool {
        self.device.do_not_disturb()
    }

    /// The next datagram to send, and where.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        self.out.pop_front()
    }

    /// The next report.
    #[must_use]
    pub fn poll_report(&mut self) -> Option<Report> {
        self.reports.pop_front()
    }

    /// When [`Phone::handle_timeout`] is due next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.tx.poll_timeout(),
            self.reg.poll_timeout(),
            self.session.poll_timeout(),
            self.calls
                .iter()
                .filter_map(|c| c.resend.as_ref().map(|r| r.next))
                .min(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs the timers that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.tx.poll_timeout().is_some_and(|t| t <= now) {
            self.tx.handle_timeout(now);
        }
        if self.reg.poll_timeout().is_some_and(|t| t <= now) {
            self.reg.handle_timeout(now);
        }
        if self.session.poll_timeout().is_some_and(|t| t <= now) {
            self.session.handle_timeout(now);
        }
        let t2 = Timers::DEFAULT.t2;
        let mut lost = Vec::new();
        for c in &mut self.calls {
            let (Some(r), Some(peer)) = (c.resend.as_mut(), c.peer_addr) else {
                continue;
            };
            if r.next > now {
                continue;
            }
            if now >= r.until {
                c.resend = None;
                lost.push(c.no);
                continue;
            }
            self.out.push_back((peer, r.bytes.clone()));
            r.interval = (r.interval * 2).min(t2);
            r.next = (now + r.interval).min(r.until);
        }
        for no in lost {
            // No ACK came: the call is given up with a BYE (section 13.3.1.4).
            if let Some(i) = self.find_no(no)
                && self.calls[i].live()
            {
                self.in_dialog(now, i, Method::Bye, &[], None, Purpose::Bye);
                self.progress(i, Progress::Cleared { remote: true });
                self.call_report(i, CallState::Ended, "no-ack");
            }
        }
        self.pump(now);
    }

    fn warn(&mut self, message: impl Into<String>) {
        self.reports.push_back(Report::Warning {
            message: message.into(),
        });
    }

    fn call_report(&mut self, idx: usize, state: CallState, cause: &str) {
        let Some(c) = self.calls.get_mut(idx) else {
            return;
        };
        c.state = state;
        let report = Report::Call {
            call: c.no,
            state,
            peer: c.peer.clone(),
            cause: cause.to_owned(),
        };
        self.reports.push_back(report);
        if state == CallState::Ended {
            if self.ended.len() >= ENDED_KEPT {
                self.ended.pop_front();
            }
            self.ended.push_back(c.call_id.clone());
            self.calls.retain(|c| c.live() || c.invite_tx.is_some());
        }
    }

    fn progress(&mut self, idx: usize, p: Progress<'_>) {
        let Some(model) = self.calls.get(idx).and_then(|c| c.model) else {
            return;
        };
        if let Err(e) = self.device.handle_progress(model, p) {
            self.warn(format!("call model refused {p:?}: {e}"));
        }
    }

    fn find_model(&self, r: CallRef) -> Option<usize> {
        self.calls
            .iter()
            .position(|c| c.live() && c.model == Some(r))
    }

    fn find_no(&self, no: u32) -> Option<usize> {
        self.calls.iter().position(|c| c.no == no)
    }

    fn send_request(&mut self, now: Instant, bytes: &[u8], owner: Owner) -> bool {
        match self.tx.send_request(now, self.cfg.proxy, false, bytes) {
            Ok(c) => {
                self.client.insert(c, owner);
                true
            }
            Err(e) => {
                self.warn(format!("cannot send a request: {e}"));
                false
            }
        }
    }

    // ---------------------------------------------------------------------------------
    // Actions

    /// Does what the phone's user asks.
    pub fn handle_action(&mut self, now: Instant, action: Action) {
        match action.clone() {
            Action::Register => {
                if let Err(e) = self.reg.register(now) {
                    self.warn(format!("register: {e}"));
                }
            }
            Action::Unregister => self.reg.unregister(now),
            Action::Call(to) => match self.device.off_hook() {
                Ok(r) => self.originate(now, Some(r), &to),
                Err(e) => {
                    self.warn(format!("call model refused the call: {e}"));
                    self.originate(now, None, &to);
                }
            },
            Action::Answer => match self.newest(&[CallState::Ringing]) {
                Some(i) => self.answer(now, i),
                None => self.warn("answer: no ringing call"),
            },
            Action::Hangup => match self.newest(&[
                CallState::Calling,
                CallState::Ringback,
                CallState::Ringing,
                CallState::Connected,
                CallState::Held,
            ]) {
                Some(i) => self.clear(now, i),
                None => self.warn("hangup: no call"),
            },
            Action::Hold => match self.newest(&[CallState::Connected]) {
                Some(i) => self.reinvite(now, i, true),
                None => self.warn("hold: no connected call"),
            },
            Action::Retrieve => match self.newest(&[CallState::Held]) {
                Some(i) => self.reinvite(now, i, false),
                None => self.warn("retrieve: no held call"),
            },
            Action::Transfer(to) => match self.newest(&[CallState::Connected, CallState::Held]) {
                Some(i) => self.refer(now, i, ReferKind::Single(to)),
                None => self.warn("transfer: no connected call"),
            },
            Action::CompleteTransfer | Action::Conference => {
                let pair = (
                    self.newest(&[CallState::Held]),
                    self.newest(&[CallState::Connected]),
                );
                let (Some(h), Some(a)) = pair else {
                    self.warn("transfer/conference: needs a held and a connected call");
                    self.pump(now);
                    return;
                };
                if let (Some(mh), Some(ma)) = (self.calls[h].model, self.calls[a].model)
                    && let Err(e) = self.device.link_calls(mh, ma)
                {
                    self.warn(format!("call model: {e}"));
                }
                if action == Action::Conference {
                    self.progress(h, Progress::Conferenced);
                } else {
                    let no = self.calls[a].no;
                    self.refer(now, h, ReferKind::Consultation(no));
                }
            }
            Action::Deflect(to) => match self.newest(&[CallState::Ringing]) {
                Some(i) => self.deflect(now, i, &to),
                None => self.warn("deflect: no ringing call"),
            },
            Action::DoNotDisturb(on) => {
                if let Err(e) = self.device.handset_do_not_disturb(on) {
                    self.warn(format!("dnd: {e}"));
                }
            }
            Action::Forward(kind, to) => {
                if let Err(e) =
                    self.device
                        .handset_forwarding(kind.forward(), to.is_some(), to.as_deref())
                {
                    self.warn(format!("forward: {e}"));
                }
            }
            Action::AutoAnswer(on) => self.auto_answer = on,
        }
        self.pump(now);
    }

    fn newest(&self, states: &[CallState]) -> Option<usize> {
        self.calls.iter().rposition(|c| states.contains(&c.state))
    }

    // ---------------------------------------------------------------------------------
    // Device commands

    fn command(&mut self, now: Instant, command: Command) {
        match command {
            Command::Originate { call, to } => self.originate(now, Some(call), &to),
            Command::Answer { call } => {
                if let Some(i) = self.find_model(call) {
                    self.answer(now, i);
                }
            }
            Command::Clear { call } => {
                if let Some(i) = self.find_model(call) {
                    self.clear(now, i);
                }
            }
            Command::Hold { call } => {
                if let Some(i) = self.find_model(call) {
                    self.reinvite(now, i, true);
                }
            }
            Command::Retrieve { call } => {
                if let Some(i) = self.find_model(call) {
                    self.reinvite(now, i, false);
                }
            }
            Command::Consult { held, call, to } => match self.find_model(held) {
                // The consultation call starts once the hold is confirmed.
                Some(i) => {
                    self.calls[i].after_hold = Some((call, to.to_string()));
                    self.reinvite(now, i, true);
                }
                None => self.originate(now, Some(call), &to),
            },
            Command::Transfer { held, active } => {
                if let (Some(h), Some(a)) = (self.find_model(held), self.find_model(active)) {
                    let no = self.calls[a].no;
                    self.refer(now, h, ReferKind::Consultation(no));
                }
            }
            Command::SingleStepTransfer { call, to } => {
                if let Some(i) = self.find_model(call) {
                    self.refer(now, i, ReferKind::Single(to.to_string()));
                }
            }
            Command::Deflect { call, to } => {
                if let Some(i) = self.find_model(call) {
                    self.deflect(now, i, &to);
                }
            }
            Command::Conference { held, .. } => {
                if let Some(i) = self.find_model(held) {
                    self.progress(i, Progress::Conferenced);
                }
            }
            // Already in force in the model; nothing to signal.
            Command::SendDigits { .. }
            | Command::SetDoNotDisturb { .. }
            | Command::SetForwarding { .. }
            | Command::SetMessageWaiting { .. }
            | Command::SetSpeakerMute { .. }
            | Command::SetSpeakerVolume { .. }
            | Command::SetMicrophoneMute { .. } => {}
        }
    }

    // ---------------------------------------------------------------------------------
    // Outgoing calls

    fn target_uri(&self, to: &str) -> String {
        if to.starts_with("sip:") || to.starts_with("sips:") {
            to.to_owned()
        } else {
            format!("sip:{to}@{}", self.cfg.domain)
        }
    }

    fn originate(&mut self, now: Instant, model: Option<CallRef>, to: &str) {
        let no = self.next_call;
        self.next_call += 1;
        let call_id = format!("{}@{}", self.ids.token().as_str(), self.cfg.local.ip());
        let local_tag = self.ids.token().as_str().to_owned();
        self.calls.push(Call {
            no,
            model,
            state: CallState::Calling,
            peer: user_of(to),
            call_id,
            local_tag,
            dialog: None,
            invite: None,
            invite_tx: None,
            invite_cseq: 0,
            ack: None,
            auth_tried: false,
            request: None,
            server_tx: None,
            refer: None,
            replaces: None,
            peer_addr: None,
            after_hold: None,
            resend: None,
        });
        let idx = self.calls.len() - 1;
        let ruri = self.target_uri(to);
        self.send_invite(now, idx, &ruri, None, None);
        let called = user_of(to);
        self.progress(idx, Progress::Originated { called: &called });
        self.call_report(idx, CallState::Calling, "originated");
    }

    /// Writes and sends an initial INVITE for call `idx`.
    fn send_invite(
        &mut self,
        now: Instant,
        idx: usize,
        ruri: &str,
        replaces: Option<&str>,
        auth: Option<(HeaderName, String)>,
    ) {
        let ip = self.cfg.local.ip().to_string();
        let body = sdp(&ip, 4000, "sendrecv", 1);
        let branch = self.ids.branch();
        let Some(c) = self.calls.get_mut(idx) else {
            return;
        };
        c.invite_cseq += 1;
        let mut text = format!(
            "INVITE {ruri} SIP/2.0\r\nVia: {};rport;branch={}\r\nMax-Forwards: 70\r\n\
             From: <{}>;tag={}\r\nTo: <{ruri}>\r\nCall-ID: {}\r\nCSeq: {} INVITE\r\n\
             Contact: <{}>\r\nAllow: INVITE, ACK, CANCEL, BYE, REFER, NOTIFY, INFO, UPDATE, OPTIONS\r\n\
             Supported: replaces\r\nUser-Agent: phone-sim\r\n",
            self.via,
            branch.as_str(),
            self.aor,
            c.local_tag,
            c.call_id,
            c.invite_cseq,
            self.contact
        );
        if let Some(r) = replaces {
            let _ = write!(text, "Replaces: {r}\r\n");
        }
        if let Some((name, value)) = auth {
            let _ = write!(text, "{}: {value}\r\n", name.as_str());
        }
        let _ = write!(
            text,
            "Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let bytes = text.into_bytes();
        let no = c.no;
        c.invite = Some(bytes.clone());
        if let Ok(t) = self.tx.send_request(now, self.cfg.proxy, false, &bytes) {
            self.client.insert(t, Owner::Call(no, Purpose::Invite));
            if let Some(c) = self.calls.get_mut(idx) {
                c.invite_tx = Some(t);
            }
        } else {
            self.warn("cannot send the INVITE");
        }
    }

    /// Sends a request in call `idx`'s dialog.
    fn in_dialog(
        &mut self,
        now: Instant,
        idx: usize,
        method: Method<'static>,
        headers: &[(&str, &str)],
        body: Option<(&str, &[u8])>,
        purpose: Purpose,
    ) -> bool {
        let mut buf = vec![0u8; BUF];
        let via = format!("{};rport", self.via);
        let Some(c) = self.calls.get_mut(idx) else {
            return false;
        };
        let no = c.no;
        let Some(d) = c.dialog.as_mut() else {
            return false;
        };
        let len = {
            let w = d.request(method, &via, &mut self.ids, &mut buf);
            let r = w.and_then(|mut w| {
                for (n, v) in headers {
                    w.header(n, v)?;
                }
                match body {
                    Some((t, b)) => {
                        w.header("Content-Type", t)?;
                        Ok(w.finish(b)?.len())
                    }
                    None => Ok(w.finish(b"")?.len()),
                }
            });
            match r {
                Ok(n) => n,
                Err(e) => {
                    self.warn(format!("cannot write {method}: {e}"));
                    return false;
                }
            }
        };
        buf.truncate(len);
        if method == Method::Ack {
            if let Some(c) = self.calls.get_mut(idx) {
                c.ack = Some(buf.clone());
            }
            self.out.push_back((self.cfg.proxy, buf));
            true
        } else {
            self.send_request(now, &buf, Owner::Call(no, purpose))
        }
    }

    fn reinvite(&mut self, now: Instant, idx: usize, hold: bool) {
        let ip = self.cfg.local.ip().to_string();
        let body = sdp(&ip, 4000, if hold { "sendonly" } else { "sendrecv" }, 2);
        self.in_dialog(
            now,
            idx,
            Method::Invite,
            &[],
            Some(("application/sdp", body.as_bytes())),
            Purpose::Reinvite { hold },
        );
    }

    fn refer(&mut self, now: Instant, idx: usize, kind: ReferKind) {
        let refer_to = match &kind {
            ReferKind::Single(to) => format!("<{}>", self.target_uri(to)),
            ReferKind::Consultation(no) => {
                let Some(other) = self.find_no(*no).and_then(|i| self.calls.get(i)) else {
                    return;
                };
                let Some(d) = other.dialog.as_ref() else {
                    self.warn("transfer: the consultation call has no dialog");
                    return;
                };
                let replaces = format!(
                    "{};to-tag={};from-tag={}",
                    d.call_id(),
                    d.remote_tag(),
                    d.local_tag()
                );
                let escaped = replaces
                    .replace('%', "%25")
                    .replace(';', "%3B")
                    .replace('=', "%3D")
                    .replace('@', "%40");
                format!("<{}?Replaces={escaped}>", self.target_uri(&other.peer))
            }
        };
        let referred_by = format!("<{}>", self.aor);
        if let Some(c) = self.calls.get_mut(idx) {
            c.refer = Some(kind);
        }
        self.in_dialog(
            now,
            idx,
            Method::Refer,
            &[("Refer-To", &refer_to), ("Referred-By", &referred_by)],
            None,
            Purpose::Refer,
        );
    }

    // ---------------------------------------------------------------------------------
    // Answering and clearing

    fn respond_invite(
        &mut self,
        now: Instant,
        idx: usize,
        status: StatusCode,
        extra: &[(&str, &str)],
        body: Option<&str>,
    ) {
        let Some(c) = self.calls.get(idx) else {
            return;
        };
        let (Some(req), Some(stx)) = (c.request.clone(), c.server_tx) else {
            return;
        };
        let mut hs = [HeaderIndex::EMPTY; HEADERS];
        let Ok(msg) = Message::parse(&req, &mut hs) else {
            return;
        };
        let mut buf = vec![0u8; BUF];
        let tag = c.local_tag.clone();
        let r = (|| {
            let mut w = Writer::response_to(
                SliceSink::new(&mut buf),
                &msg,
                status,
                status_reason(status),
                Some(&tag),
            )?;
            if status.as_u16() < 300 && status != StatusCode::TRYING {
                w.header("Contact", &format!("<{}>", self.contact))?;
            }
            for (n, v) in extra {
                w.header(n, v)?;
            }
            match body {
                Some(b) => {
                    w.header("Content-Type", "application/sdp")?;
                    Ok(w.finish(b.as_bytes())?.len())
                }
                None => Ok(w.finish(b"")?.len()),
            }
        })();
        let len = match r {
            Ok(n) => n,
            Err::<_, sip_lite::wire::EmitError>(e) => {
                self.warn(format!("cannot write the response: {e}"));
                return;
            }
        };
        if let Err(e) = self.tx.respond(now, stx, &buf[..len]) {
            self.warn(format!("cannot respond: {e}"));
        }
        // Out now: a final answer right after would take the provisional's place.
        while let Some(t) = self.tx.poll_transmit() {
            self.out.push_back((t.peer, t.bytes.to_vec()));
        }
        if status.is_success() {
            // The dialog exists from the 2xx on; the 2xx is resent until the ACK.
            if let Some(c) = self.calls.get_mut(idx) {
                let t = Timers::DEFAULT;
                c.resend = c.peer_addr.map(|_| Resend {
                    bytes: buf[..len].to_vec(),
                    next: now + t.t1,
                    interval: t.t1,
                    until: now + t.t1_x64(),
                });
                match Dialog::new_uas(&msg, &c.local_tag, &self.contact) {
                    Ok(mut d) => {
                        d.confirm();
                        c.dialog = Some(d);
                    }
                    Err(e) => {
                        let m = format!("dialog: {e}");
                        self.warn(m);
                    }
                }
            }
        }
        if status.is_final()
            && let Some(c) = self.calls.get_mut(idx)
        {
            c.server_tx = None;
            c.request = None;
        }
    }

    fn answer(&mut self, now: Instant, idx: usize) {
        let ip = self.cfg.local.ip().to_string();
        let body = sdp(&ip, 4000, "sendrecv", 1);
        self.respond_invite(now, idx, StatusCode::OK, &[], Some(&body));
        self.progress(idx, Progress::Answered);
        self.call_report(idx, CallState::Connected, "answered");
        if let Some(old) = self.calls.get(idx).and_then(|c| c.replaces)
            && let Some(o) = self.find_no(old)
            && self.calls[o].live()
        {
            self.in_dialog(now, o, Method::Bye, &[], None, Purpose::Bye);
            self.progress(o, Progress::Cleared { remote: false });
            self.call_report(o, CallState::Ended, "replaced");
        }
    }

    fn clear(&mut self, now: Instant, idx: usize) {
        let Some(c) = self.calls.get(idx) else {
            return;
        };
        match c.state {
            CallState::Ringing => {
                self.respond_invite(now, idx, StatusCode::BUSY_HERE, &[], None);
                self.progress(idx, Progress::Cleared { remote: false });
                self.call_report(idx, CallState::Ended, "rejected");
            }
            CallState::Calling | CallState::Ringback => {
                if let Some(t) = c.invite_tx {
                    match self.tx.cancel(now, t) {
                        Ok(ct) => {
                            let no = c.no;
                            self.client.insert(ct, Owner::Call(no, Purpose::Other));
                        }
                        Err(e) => self.warn(format!("cancel: {e}")),
                    }
                }
                self.progress(idx, Progress::Cleared { remote: false });
                self.call_report(idx, CallState::Ended, "cancelled");
            }
            CallState::Connected | CallState::Held => {
                self.in_dialog(now, idx, Method::Bye, &[], None, Purpose::Bye);
                self.progress(idx, Progress::Cleared { remote: false });
                self.call_report(idx, CallState::Ended, "hangup");
            }
            CallState::Ended => {}
        }
    }

    fn deflect(&mut self, now: Instant, idx: usize, to: &str) {
        let contact = format!("<{}>", self.target_uri(to));
        self.respond_invite(
            now,
            idx,
            StatusCode::MOVED_TEMPORARILY,
            &[("Contact", &contact)],
            None,
        );
        self.progress(
            idx,
            Progress::Diverted {
                to,
                how: Divert::Deflected,
            },
        );
        self.call_report(idx, CallState::Ended, "deflected");
    }

    // ---------------------------------------------------------------------------------
    // Input

    /// Takes one datagram from `from`.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        let mut hs = [HeaderIndex::EMPTY; HEADERS];
        let Ok(msg) = Message::parse(bytes, &mut hs) else {
            // Keep-alives and garbage.
            return;
        };
        let received = match self.tx.receive(now, from, false, &msg) {
            Ok(r) => r,
            Err(_) => {
                if msg.is_request() && msg.method() != Some(Method::Ack) {
                    self.stateless_reply(from, &msg, StatusCode::BAD_REQUEST);
                }
                return;
            }
        };
        match received {
            Received::Response(c) => {
                let owner = self.client.get(&c).copied();
                if msg.status().is_some_and(|s| s.is_final()) {
                    self.client.remove(&c);
                }
                match owner {
                    Some(o) => self.on_response(now, o, c, &msg),
                    None => self.stray_response(now, &msg),
                }
            }
            Received::Retransmitted2xx(_) | Received::Unmatched => self.stray_response(now, &msg),
            Received::Request(stx) => self.on_request(now, from, stx, &msg, bytes),
            Received::Ack => self.on_ack(now, &msg),
            Received::Cancel { cancel, invite } => self.on_cancel(now, cancel, invite, &msg),
            Received::Absorbed | Received::Rejected(_) => {}
        }
        self.pump(now);
    }

    fn stateless_reply(&mut self, to: SocketAddr, msg: &Message<'_>, status: StatusCode) {
        let mut buf = vec![0u8; BUF];
        if let Ok(w) = Writer::response_to(
            SliceSink::new(&mut buf),
            msg,
            status,
            status_reason(status),
            None,
        ) && let Ok(s) = w.finish(b"")
        {
            let n = s.len();
            buf.truncate(n);
            self.out.push_back((to, buf));
        }
    }

    fn is_session(&self, msg: &Message<'_>) -> bool {
        self.session
            .call_id()
            .is_some_and(|id| msg.call_id().is_ok_and(|c| c == id))
    }

    fn stray_response(&mut self, now: Instant, msg: &Message<'_>) {
        if self.is_session(msg) {
            let _ = self.session.handle_response(now, msg);
            return;
        }
        // A 2xx to an INVITE again: its ACK is resent.
        let Ok(id) = msg.call_id() else { return };
        if msg.status().is_some_and(|s| s.is_success())
            && let Some(c) = self.calls.iter().find(|c| c.call_id == id)
            && let Some(ack) = c.ack.clone()
        {
            self.out.push_back((self.cfg.proxy, ack));
        }
    }

    fn on_response(&mut self, now: Instant, owner: Owner, c: ClientTx, msg: &Message<'_>) {
        let Some(status) = msg.status() else { return };
        match owner {
            Owner::Register => {
                if let Err(e) = self.reg.handle_response(now, msg, &mut self.ids) {
                    self.warn(format!("REGISTER response: {e}"));
                }
            }
            Owner::Session(..) => {
                let _ = self.session.handle_response(now, msg);
            }
            Owner::Call(no, purpose) => {
                let Some(idx) = self.find_no(no) else { return };
                // Only the INVITE of a call that ended may still be answered (a 2xx
                // that crossed our CANCEL is acknowledged and ended).
                if purpose != Purpose::Invite && !self.calls.get(idx).is_some_and(Call::live) {
                    return;
                }
                match purpose {
                    Purpose::Invite => self.invite_response(now, idx, c, msg, status),
                    Purpose::Reinvite { hold } => {
                        if status.is_success() {
                            self.in_dialog(now, idx, Method::Ack, &[], None, Purpose::Other);
                            if hold {
                                self.progress(idx, Progress::Held);
                                self.call_report(idx, CallState::Held, "hold");
                                if let Some((r, to)) = self.calls[idx].after_hold.take() {
                                    self.originate(now, Some(r), &to);
                                }
                            } else {
                                self.progress(idx, Progress::Retrieved);
                                self.call_report(idx, CallState::Connected, "retrieve");
                            }
                        } else if status.is_final() {
                            self.warn(format!("re-INVITE refused with {}", status.as_u16()));
                            // A consultation waiting for this hold never starts.
                            if let Some((r, _)) = self.calls[idx].after_hold.take()
                                && let Err(e) = self
                                    .device
                                    .handle_progress(r, Progress::Cleared { remote: false })
                            {
                                self.warn(format!("call model: {e}"));
                            }
                        }
                    }
                    Purpose::Refer => {
                        if status.is_success() {
                            self.refer_accepted(now, idx);
                        } else if status.is_final() {
                            if let Some(c) = self.calls.get_mut(idx) {
                                c.refer = None;
                            }
                            self.warn(format!("REFER refused with {}", status.as_u16()));
                        }
                    }
                    Purpose::Bye | Purpose::Other => {}
                }
            }
        }
    }

    fn refer_accepted(&mut self, now: Instant, idx: usize) {
        let Some(kind) = self.calls.get_mut(idx).and_then(|c| c.refer.take()) else {
            return;
        };
        match kind {
            ReferKind::Single(to) => {
                let to = user_of(&to);
                self.progress(idx, Progress::SingleStepTransferred { to: &to });
                self.in_dialog(now, idx, Method::Bye, &[], None, Purpose::Bye);
                self.call_report(idx, CallState::Ended, "transferred");
            }
            ReferKind::Consultation(no) => {
                self.progress(idx, Progress::Transferred);
                self.in_dialog(now, idx, Method::Bye, &[], None, Purpose::Bye);
                self.call_report(idx, CallState::Ended, "transferred");
                // The target ends the consultation call once it took the transferee's
                // INVITE with Replaces; its BYE is answered from `ended`.
                if let Some(o) = self.find_no(no) {
                    self.call_report(o, CallState::Ended, "transferred");
                }
            }
        }
    }

    fn invite_response(
        &mut self,
        now: Instant,
        idx: usize,
        tx: ClientTx,
        msg: &Message<'_>,
        status: StatusCode,
    ) {
        let Some(call) = self.calls.get(idx) else {
            return;
        };
        if call.invite_tx != Some(tx) {
            return;
        }
        let live = call.live();
        let s = status.as_u16();
        if status.is_provisional() {
            if (s == 180 || s == 183) && call.state == CallState::Calling {
                self.progress(idx, Progress::Ringing);
                self.call_report(idx, CallState::Ringback, "ringing");
            }
            return;
        }
        if let Some(c) = self.calls.get_mut(idx) {
            c.invite_tx = None;
        }
        if status.is_success() {
            let invite = self.calls[idx].invite.clone().unwrap_or_default();
            let mut hs = [HeaderIndex::EMPTY; HEADERS];
            let dialog = Message::parse(&invite, &mut hs)
                .ok()
                .and_then(|req| Dialog::new_uac(&req, msg).ok());
            let Some(d) = dialog else {
                self.warn("cannot build the dialog from the 2xx");
                return;
            };
            self.calls[idx].dialog = Some(d);
            self.in_dialog(now, idx, Method::Ack, &[], None, Purpose::Other);
            if live {
                self.progress(idx, Progress::Answered);
                self.call_report(idx, CallState::Connected, "answered");
            } else {
                // Cancelled, but the 2xx crossed the CANCEL: end it.
                self.in_dialog(now, idx, Method::Bye, &[], None, Purpose::Bye);
                self.calls.retain(|c| c.live() || c.invite_tx.is_some());
            }
            return;
        }
        if !live {
            self.calls.retain(|c| c.live() || c.invite_tx.is_some());
            return;
        }
        if (300..400).contains(&s)
            && let Some(Ok(contact)) = msg.contacts().next()
            && let Some(addr) = contact.addr()
        {
            let target = addr.uri.to_string();
            self.calls[idx].peer = user_of(&target);
            self.call_report(idx, CallState::Calling, "redirected");
            // The new target's INVITE may be challenged again.
            self.calls[idx].auth_tried = false;
            self.send_invite(now, idx, &target, None, None);
            return;
        }
        if (s == 401 || s == 407) && !self.calls[idx].auth_tried {
            self.calls[idx].auth_tried = true;
            let invite = self.calls[idx].invite.clone().unwrap_or_default();
            let mut hs = [HeaderIndex::EMPTY; HEADERS];
            // The retry keeps the first INVITE's Replaces (a transferee's call).
            let (ruri, replaces) = match Message::parse(&invite, &mut hs) {
                Ok(m) => (
                    m.request_uri_str().map(str::to_owned),
                    m.header(HeaderName::Replaces).map(str::to_owned),
                ),
                Err(_) => (None, None),
            };
            if let Some(ruri) = ruri
                && let Some(auth) = self.authorization(msg, s, &ruri)
            {
                self.send_invite(now, idx, &ruri, replaces.as_deref(), Some(auth));
                return;
            }
        }
        self.progress(idx, Progress::Failed { status: s });
        self.progress(idx, Progress::Cleared { remote: true });
        self.call_report(idx, CallState::Ended, &s.to_string());
    }

    /// The (Proxy-)Authorization answering a 401/407 to our INVITE.
    fn authorization(
        &mut self,
        msg: &Message<'_>,
        status: u16,
        ruri: &str,
    ) -> Option<(HeaderName, String)> {
        let (challenge_name, answer_name) = if status == 407 {
            (
                HeaderName::ProxyAuthenticate,
                HeaderName::ProxyAuthorization,
            )
        } else {
            (HeaderName::WwwAuthenticate, HeaderName::Authorization)
        };
        let challenge = select_challenge(msg.header_lines(challenge_name))?;
        let cnonce = self.ids.token();
        let creds = CredentialsRepr::answer(
            &challenge,
            &DigestRequest::new("INVITE", ruri, b""),
            &self.cfg.user,
            Secret::Password(&self.cfg.password),
            cnonce.as_str(),
            1,
        )
        .ok()?;
        let mut buf = [0u8; 1024];
        let mut sink = SliceSink::new(&mut buf);
        creds.emit(&mut sink).ok()?;
        let n = sink.len();
        Some((answer_name, String::from_utf8_lossy(&buf[..n]).into_owned()))
    }

    fn on_ack(&mut self, now: Instant, msg: &Message<'_>) {
        if self.is_session(msg) {
            let mut buf = vec![0u8; BUF];
            let mut serve = |_: &Decoded<'_>, _: Edition, _: &mut [u8]| Ok(0);
            let _ = self.session.handle_request(now, msg, &mut serve, &mut buf);
        }
        // The ACK for our 2xx to a call ends its retransmissions.
        if let Ok(id) = msg.call_id()
            && let Some(c) = self.calls.iter_mut().find(|c| c.call_id == id)
        {
            c.resend = None;
        }
    }

    fn on_cancel(
        &mut self,
        now: Instant,
        cancel: ServerTx,
        invite: Option<ServerTx>,
        msg: &Message<'_>,
    ) {
        let status = if invite.is_some() {
            StatusCode::OK
        } else {
            StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST
        };
        let mut buf = vec![0u8; BUF];
        if let Ok(w) = Writer::response_to(
            SliceSink::new(&mut buf),
            msg,
            status,
            status_reason(status),
            None,
        ) && let Ok(s) = w.finish(b"")
        {
            let n = s.len();
            let _ = self.tx.respond(now, cancel, &buf[..n]);
        }
        let Some(inv) = invite else { return };
        if let Some(idx) = self
            .calls
            .iter()
            .position(|c| c.live() && c.server_tx == Some(inv))
        {
            self.respond_invite(now, idx, StatusCode::REQUEST_TERMINATED, &[], None);
            self.progress(idx, Progress::Cancelled);
            self.call_report(idx, CallState::Ended, "cancelled");
        }
    }

    fn is_csta_request(msg: &Message<'_>) -> bool {
        let csta_body = !msg.body().is_empty()
            && match msg.content_type() {
                Some(Ok(t)) => {
                    t.is("application", "csta+xml")
                        || t.is("application", "xml")
                        || t.is("text", "xml")
                }
                None => msg.body().first() == Some(&b'<'),
                Some(Err(_)) => false,
            };
        match msg.method() {
            Some(Method::Invite | Method::Info) => csta_body,
            Some(Method::Notify) => msg.header(HeaderName::Event).is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|p| p.trim().eq_ignore_ascii_case("uaCSTA"))
            }),
            _ => false,
        }
    }

    fn on_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        stx: ServerTx,
        msg: &Message<'_>,
        bytes: &[u8],
    ) {
        let Some(method) = msg.method() else { return };
        let call_id = msg.call_id().unwrap_or_default();
        let call_idx = self
            .calls
            .iter()
            .position(|c| c.call_id == call_id && c.live());
        let to_session = call_idx.is_none() && (self.is_session(msg) || Self::is_csta_request(msg));
        if to_session {
            self.session_request(now, from, stx, msg, method);
            return;
        }
        match (method, call_idx) {
            (Method::Invite, None) => self.incoming(now, from, stx, msg, bytes),
            (Method::Invite, Some(i)) => {
                // A re-INVITE: mirror the direction offered.
                let offered_hold = String::from_utf8_lossy(msg.body()).contains("a=sendonly");
                let ip = self.cfg.local.ip().to_string();
                let body = sdp(
                    &ip,
                    4000,
                    if offered_hold { "recvonly" } else { "sendrecv" },
                    2,
                );
                self.plain_reply(now, stx, msg, StatusCode::OK, Some(&body), Some(i));
            }
            (Method::Bye, Some(i)) => {
                self.plain_reply(now, stx, msg, StatusCode::OK, None, Some(i));
                self.progress(i, Progress::Cleared { remote: true });
                self.call_report(i, CallState::Ended, "bye");
            }
            (Method::Refer, Some(i)) => self.refer_received(now, stx, msg, i),
            (Method::Bye, None) if self.ended.iter().any(|c| c == call_id) => {
                self.plain_reply(now, stx, msg, StatusCode::OK, None, None);
            }
            (Method::Bye | Method::Refer, None) => self.plain_reply(
                now,
                stx,
                msg,
                StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST,
                None,
                None,
            ),
            (
                Method::Options | Method::Notify | Method::Info | Method::Update | Method::Message,
                i,
            ) => self.plain_reply(now, stx, msg, StatusCode::OK, None, i),
            (_, i) => self.plain_reply(now, stx, msg, StatusCode::NOT_IMPLEMENTED, None, i),
        }
    }

    fn plain_reply(
        &mut self,
        now: Instant,
        stx: ServerTx,
        msg: &Message<'_>,
        status: StatusCode,
        sdp_body: Option<&str>,
        call: Option<usize>,
    ) {
        let tag = call
            .and_then(|i| self.calls.get(i))
            .map(|c| c.local_tag.clone())
            .unwrap_or_else(|| self.ids.token().as_str().to_owned());
        let mut buf = vec![0u8; BUF];
        let r = (|| {
            let mut w = Writer::response_to(
                SliceSink::new(&mut buf),
                msg,
                status,
                status_reason(status),
                Some(&tag),
            )?;
            if msg.method() == Some(Method::Invite) && status.is_success() {
                w.header("Contact", &format!("<{}>", self.contact))?;
            }
            match sdp_body {
                Some(b) => {
                    w.header("Content-Type", "application/sdp")?;
                    Ok(w.finish(b.as_bytes())?.len())
                }
                None => Ok(w.finish(b"")?.len()),
            }
        })();
        match r {
            Ok(n) => {
                if let Err(e) = self.tx.respond(now, stx, &buf[..n]) {
                    self.warn(format!("cannot respond: {e}"));
                }
            }
            Err::<_, sip_lite::wire::EmitError>(e) => self.warn(format!("cannot respond: {e}")),
        }
    }

    fn session_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        stx: ServerTx,
        msg: &Message<'_>,
        method: Method<'_>,
    ) {
        if method == Method::Invite {
            self.csta_peer = Some(from);
        }
        let mut buf = vec![0u8; BUF];
        let mut served: Vec<(String, String)> = Vec::new();
        let device = &mut self.device;
        let mut serve = |r: &Decoded<'_>, edition: Edition, out: &mut [u8]| {
            let reply = device.handle_request(&r.message);
            let answer = reply.message();
            served.push((r.message.name().to_owned(), answer.name().to_owned()));
            answer.encode(edition, out)
        };
        match self.session.handle_request(now, msg, &mut serve, &mut buf) {
            Ok(0) => {}
            Ok(n) => {
                if let Err(e) = self.tx.respond(now, stx, &buf[..n]) {
                    self.warn(format!("cannot respond: {e}"));
                }
            }
            Err(e) => {
                self.warn(format!("CSTA request: {e}"));
                self.plain_reply(now, stx, msg, StatusCode::BAD_REQUEST, None, None);
            }
        }
        for (name, answer) in served {
            self.reports.push_back(Report::CstaRequest { name, answer });
        }
    }

    fn incoming(
        &mut self,
        now: Instant,
        from_addr: SocketAddr,
        stx: ServerTx,
        msg: &Message<'_>,
        bytes: &[u8],
    ) {
        let from = msg
            .from()
            .ok()
            .map(|f| user_of(&f.uri.to_string()))
            .unwrap_or_default();
        let called = msg
            .to()
            .ok()
            .map(|t| user_of(&t.uri.to_string()))
            .unwrap_or_else(|| self.cfg.user.clone());
        let replaces = msg.header(HeaderName::Replaces).and_then(|r| {
            let id = r.split(';').next()?.trim();
            self.calls
                .iter()
                .find(|c| c.live() && c.dialog.as_ref().is_some_and(|d| d.call_id() == id))
                .map(|c| c.no)
        });
        let forward = |f: Forward, on_busy: bool, me: &Self| -> Option<(String, Divert)> {
            let (on, to) = me.device.forwarding(f);
            let busy = me.calls.iter().any(Call::live);
            (on && (!on_busy || busy)).then(|| {
                (
                    to.unwrap_or_default().to_owned(),
                    if on_busy {
                        Divert::ForwardBusy
                    } else {
                        Divert::ForwardImmediate
                    },
                )
            })
        };
        let redirect = if replaces.is_some() {
            None
        } else {
            forward(Forward::Immediate, false, self).or_else(|| forward(Forward::Busy, true, self))
        };
        let no = self.next_call;
        self.next_call += 1;
        let call = Call {
            no,
            model: None,
            state: CallState::Ringing,
            peer: from.clone(),
            call_id: msg.call_id().unwrap_or_default().to_owned(),
            local_tag: self.ids.token().as_str().to_owned(),
            dialog: None,
            invite: None,
            invite_tx: None,
            invite_cseq: 0,
            ack: None,
            auth_tried: false,
            request: Some(bytes.to_vec()),
            server_tx: Some(stx),
            refer: None,
            replaces,
            peer_addr: Some(from_addr),
            after_hold: None,
            resend: None,
        };
        self.calls.push(call);
        let idx = self.calls.len() - 1;
        if replaces.is_none() && self.device.do_not_disturb() {
            self.respond_invite(now, idx, StatusCode::BUSY_HERE, &[], None);
            self.calls[idx].state = CallState::Ended;
            self.calls.retain(Call::live);
            self.reports.push_back(Report::Rejected {
                from,
                status: 486,
                to: None,
            });
            return;
        }
        if let Some((to, how)) = redirect
            && !to.is_empty()
        {
            let contact = format!("<{}>", self.target_uri(&to));
            self.respond_invite(
                now,
                idx,
                StatusCode::MOVED_TEMPORARILY,
                &[("Contact", &contact)],
                None,
            );
            if let Err(e) = self.device.forwarded(&from, &called, &to, how) {
                self.warn(format!("call model: {e}"));
            }
            self.calls[idx].state = CallState::Ended;
            self.calls.retain(Call::live);
            self.reports.push_back(Report::Rejected {
                from,
                status: 302,
                to: Some(to),
            });
            return;
        }
        match self.device.incoming(&from, &called) {
            Ok(r) => self.calls[idx].model = Some(r),
            Err(csta_core::model::phone::ModelError::NoFreeSlot) => {
                self.respond_invite(now, idx, StatusCode::BUSY_HERE, &[], None);
                self.calls[idx].state = CallState::Ended;
                self.calls.retain(Call::live);
                self.reports.push_back(Report::Rejected {
                    from,
                    status: 486,
                    to: None,
                });
                return;
            }
            Err(e) => self.warn(format!("call model: {e}")),
        }
        self.respond_invite(now, idx, StatusCode::RINGING, &[], None);
        self.call_report(idx, CallState::Ringing, "incoming");
        if self.auto_answer || replaces.is_some() {
            self.answer(now, idx);
        }
    }

    fn refer_received(&mut self, now: Instant, stx: ServerTx, msg: &Message<'_>, idx: usize) {
        let Some(refer_to) = msg.header(HeaderName::ReferTo) else {
            self.plain_reply(now, stx, msg, StatusCode::BAD_REQUEST, None, Some(idx));
            return;
        };
        let inner = refer_to
            .trim()
            .trim_start_matches('<')
            .split('>')
            .next()
            .unwrap_or("")
            .to_owned();
        self.plain_reply(now, stx, msg, StatusCode::ACCEPTED, None, Some(idx));
        let (uri, replaces) = match inner.split_once("?Replaces=") {
            Some((u, r)) => (
                u.to_owned(),
                Some(
                    r.replace("%3B", ";")
                        .replace("%3b", ";")
                        .replace("%3D", "=")
                        .replace("%3d", "=")
                        .replace("%40", "@")
                        .replace("%25", "%"),
                ),
            ),
            None => (inner, None),
        };
        // The transferee calls the target as a new call from the handset.
        let model = self.device.off_hook().ok();
        let no = self.next_call;
        self.next_call += 1;
        let call_id = format!("{}@{}", self.ids.token().as_str(), self.cfg.local.ip());
        let local_tag = self.ids.token().as_str().to_owned();
        self.calls.push(Call {
            no,
            model,
            state: CallState::Calling,
            peer: user_of(&uri),
            call_id,
            local_tag,
            dialog: None,
            invite: None,
            invite_tx: None,
            invite_cseq: 0,
            ack: None,
            auth_tried: false,
            request: None,
            server_tx: None,
            refer: None,
            replaces: None,
            peer_addr: None,
            after_hold: None,
            resend: None,
        });
        let n = self.calls.len() - 1;
        self.send_invite(now, n, &uri, replaces.as_deref(), None);
        let called = user_of(&uri);
        self.progress(n, Progress::Originated { called: &called });
        self.call_report(n, CallState::Calling, "referred");
    }

    // ---------------------------------------------------------------------------------
    // Moving outputs

    fn pump(&mut self, now: Instant) {
        for _ in 0..1000 {
            let mut moved = false;
            while let Some(e) = self.device.poll_event() {
                moved = true;
                let msg = e.message();
                let name = msg.name().to_owned();
                if self.session.is_open() {
                    match self.session.send_event(&msg) {
                        Ok(()) => self.reports.push_back(Report::CstaEvent { name }),
                        Err(err) => self.warn(format!("event {name} not sent: {err}")),
                    }
                }
            }
            while let Some(c) = self.device.poll_command() {
                moved = true;
                self.command(now, c);
            }
            let mut buf = vec![0u8; BUF];
            while let Some(out) = self.session.poll_request(now, &mut self.ids, &mut buf) {
                // A message that does not fit stays due: said once, not retried here.
                let Ok(out) = out else {
                    self.warn("CSTA request does not fit");
                    break;
                };
                moved = true;
                let Some(peer) = self.csta_peer else { break };
                let bytes = &buf[..out.len];
                if out.transaction {
                    match self.tx.send_request(now, peer, false, bytes) {
                        Ok(c) => {
                            self.client.insert(c, Owner::Session(out.cseq, out.method));
                        }
                        Err(e) => {
                            self.session
                                .handle_request_failed(now, out.cseq, out.method);
                            self.warn(format!("CSTA request not sent: {e}"));
                        }
                    }
                } else {
                    self.out.push_back((peer, bytes.to_vec()));
                }
            }
            while let Some(ev) = self.session.poll_event() {
                moved = true;
                match ev {
                    PhoneEvent::Opened { .. } => self.reports.push_back(Report::CstaUp),
                    PhoneEvent::Ended(why) => {
                        self.device.stop_monitors();
                        self.reports.push_back(Report::CstaDown {
                            reason: format!("{why:?}"),
                        });
                    }
                    PhoneEvent::EventRejected(s) => {
                        self.reports.push_back(Report::CstaEventRejected {
                            status: s.map(StatusCode::as_u16),
                        });
                    }
                }
            }
            loop {
                match self.reg.poll_request(now, &mut self.ids, &mut buf) {
                    Ok(Some(n)) => {
                        moved = true;
                        let bytes = buf[..n].to_vec();
                        self.send_request(now, &bytes, Owner::Register);
                    }
                    Ok(None) => break,
                    Err(e) => {
                        self.warn(format!("REGISTER: {e}"));
                        break;
                    }
                }
            }
            while let Some(ev) = self.reg.poll_event() {
                moved = true;
                match ev {
                    RegistrationEvent::Registered { expires, .. } => {
                        self.registered = true;
                        self.reports.push_back(Report::Registered { expires });
                    }
                    RegistrationEvent::Failed { reason, retry_at } => {
                        self.registered = false;
                        self.reports.push_back(Report::RegistrationFailed {
                            reason: format!("{reason:?}"),
                            retrying: retry_at.is_some(),
                        });
                    }
                    RegistrationEvent::Unregistered => {
                        self.registered = false;
                        self.reports.push_back(Report::Unregistered);
                    }
                    _ => {}
                }
            }
            while let Some(t) = self.tx.poll_transmit() {
                moved = true;
                self.out.push_back((t.peer, t.bytes.to_vec()));
            }
            while let Some(e) = self.tx.poll_event() {
                moved = true;
                let (Event::Timeout(Tx::Client(c)) | Event::TransportError(Tx::Client(c))) = e
                else {
                    continue;
                };
                match self.client.remove(&c) {
                    Some(Owner::Register) => {
                        let _ = self.reg.handle_transaction_timeout(now, &mut self.ids);
                    }
                    Some(Owner::Session(cseq, m)) => {
                        self.session.handle_request_failed(now, cseq, m);
                    }
                    Some(Owner::Call(no, Purpose::Invite)) => {
                        if let Some(i) = self.find_no(no) {
                            self.calls[i].invite_tx = None;
                            if self.calls[i].live() {
                                self.progress(i, Progress::Failed { status: 408 });
                                self.progress(i, Progress::Cleared { remote: true });
                                self.call_report(i, CallState::Ended, "408");
                            } else {
                                self.calls.retain(|c| c.live() || c.invite_tx.is_some());
                            }
                        }
                    }
                    Some(Owner::Call(..)) | None => {}
                }
            }
            if !moved {
                return;
            }
        }
    }
}
