//! The application side of a uaCSTA session (ECMA TR/87): the computing function,
//! what the server runs per phone.
//!
//! [`AppSession::open`] sends an `INVITE` without SDP whose body is
//! `RequestSystemStatus` to the phone's contact; the 2xx (`RequestSystemStatusResponse`)
//! establishes the CSTA dialog ([`AppEvent::Established`]). [`AppSession::send`] queues
//! CSTA requests; each travels as an `INFO` in the dialog, one at a time in the order
//! queued, and the body of its 200 is the answer ([`AppEvent::Response`], a positive
//! response or `CSTAErrorCode`). Events arrive as `INFO` requests from the phone
//! ([`AppEvent::Event`]). RFC 4028 session timers keep the dialog alive; a 481, a
//! timeout, a BYE from the phone or an expired session report [`AppEvent::Lost`] so that
//! the owner establishes a new session. [`AppSession::close`] sends BYE.
//!
//! Digest challenges (401/407) to any request are answered with the configured
//! credentials, at most once per nonce.
//!
//! In the out-of-dialog mode ([`Mode::Notify`]) there is no dialog: each CSTA request
//! is an unsolicited `NOTIFY` with `Event: uaCSTA`, and its 2xx completes it.
//!
//! See the [module documentation](super) for the drive loop.

use core::fmt;

use heapless::{Deque, String, Vec};
use sip_lite::dialog::{DialogHandle, Dialogs, RequestOutcome, ResponseOutcome};
use sip_lite::digest::{AnswerError, DigestClient, Request, Secret};
use sip_lite::ids::IdGenerator;
use sip_lite::session_timer::{self, Action, Answer, Outcome, RefreshMethod, SessionRefresh};
use sip_lite::time::{Instant, Timers, earliest};
use sip_lite::wire::{HeaderIndex, HeaderName, Message, Method, SliceSink, StatusCode, Writer};

use super::{
    BodyType, CONTENT_DISPOSITION, CONTENT_TYPE, DIALOG_ARENA, EVENT_PACKAGE, HEADER_SLOTS,
    Outgoing, SessionError, body_type, fixed,
};
use crate::message::{self, Edition, Message as Csta, system::RequestSystemStatus};
use crate::names::SystemStatus;
use crate::{DecodeError, decode};

/// How many digest challenges in a row a request may meet before the session gives up.
const MAX_CHALLENGES: u8 = 3;

/// How the session carries CSTA requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Mode {
    /// A CSTA dialog opened by INVITE; requests are INFO within it (the TR/87 path).
    Dialog,
    /// No dialog: every request is an unsolicited `NOTIFY` with `Event: uaCSTA`
    /// (Unify/OpenStage, ShoreTel). No responses beyond the SIP 2xx, no events.
    Notify,
}

/// What an [`AppSession`] needs to know, borrowed for [`AppSession::new`] (which copies
/// the strings).
#[derive(Debug, Clone, Copy)]
pub struct AppConfig<'c> {
    /// The phone's contact: the Request-URI of the INVITE (or of every NOTIFY).
    pub target: &'c str,
    /// Our address-of-record, for From (`sip:csta@server.example.com`).
    pub local_uri: &'c str,
    /// The phone's address, for To; `target` when `None`.
    pub remote_uri: Option<&'c str>,
    /// Our Contact URI.
    pub local_contact: &'c str,
    /// The sent-by part of our Via, without branch (`SIP/2.0/UDP 192.0.2.1:5060`).
    pub via: &'c str,
    /// User name and password for the phone's digest challenges.
    pub credentials: Option<(&'c str, &'c str)>,
    /// The edition our CSTA bodies are written in until the phone's answer to the
    /// INVITE names another: then that one (the peer's own, as ECMA-323 has it).
    pub edition: Edition,
    /// The session timer policy.
    pub timer: session_timer::Config,
    /// Dialog or NOTIFY mode.
    pub mode: Mode,
}

impl<'c> AppConfig<'c> {
    /// A dialog-mode configuration in edition 3 with the default session timer and no
    /// credentials.
    pub fn new(
        target: &'c str,
        local_uri: &'c str,
        local_contact: &'c str,
        via: &'c str,
    ) -> AppConfig<'c> {
        AppConfig {
            target,
            local_uri,
            remote_uri: None,
            local_contact,
            via,
            credentials: None,
            edition: Edition::Ed3,
            timer: session_timer::Config::DEFAULT,
            mode: Mode::Dialog,
        }
    }
}

/// Identifies a request queued with [`AppSession::send`]; its answer carries it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RequestId(pub u32);

/// Why the session could not be established.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Failure {
    /// The phone answered the INVITE with this final status.
    Rejected(StatusCode),
    /// The phone refused our credentials (or we have none) with 401 or 407.
    AuthRejected(StatusCode),
    /// No final answer came (the INVITE transaction timed out or could not be sent).
    Timeout,
    /// The 2xx could not make a dialog (no usable Contact, ...); a BYE was not sent.
    InvalidAnswer,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Rejected(s) => write!(f, "rejected with {}", s.0),
            Failure::AuthRejected(s) => write!(f, "authentication refused ({})", s.0),
            Failure::Timeout => f.write_str("no answer"),
            Failure::InvalidAnswer => f.write_str("unusable 2xx"),
        }
    }
}

/// Why an established session ended without [`AppSession::close`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LostReason {
    /// The phone answered 481: it no longer knows the dialog (it rebooted).
    NoDialog,
    /// A request got no answer (408 or transaction timeout): the phone is gone.
    Timeout,
    /// The phone sent BYE.
    Bye,
    /// The session timer expired without a refresh (a BYE was sent).
    Expired,
}

/// What the session reports to its owner, from [`AppSession::poll_event`].
#[derive(Debug, Clone, PartialEq)]
pub enum AppEvent<'a> {
    /// The CSTA dialog is up: the 2xx to the INVITE came and was acknowledged.
    Established {
        /// The body of the 2xx (normally `RequestSystemStatusResponse`).
        body: &'a [u8],
        /// The status the phone reported, if the body said one.
        system_status: Option<SystemStatus<'a>>,
        /// The ECMA-323 edition of the phone's answer: what to write to it.
        edition: Option<Edition>,
    },
    /// The session could not be established; nothing is left to do.
    Failed {
        /// Why.
        failure: Failure,
        /// The reason phrase of the final response (empty without one).
        reason: &'a str,
    },
    /// The answer to a request: the body of the 2xx (a positive response or
    /// `CSTAErrorCode`; empty in NOTIFY mode or from a phone that sends none).
    Response {
        /// The request answered.
        id: RequestId,
        /// The CSTA answer.
        body: &'a [u8],
    },
    /// A request failed at the SIP level: a non-2xx answer, or `None` when it got no
    /// answer (timeout, or the session ended before it was answered).
    RequestFailed {
        /// The request.
        id: RequestId,
        /// The SIP status, if one came.
        status: Option<StatusCode>,
    },
    /// An event (or other CSTA message) the phone sent in an INFO, answered with 200.
    Event {
        /// The CSTA body.
        body: &'a [u8],
    },
    /// An INFO from the phone whose body did not decode; it was answered with 400.
    MalformedEvent(DecodeError),
    /// The established session is gone: establish a new one.
    Lost(LostReason),
    /// The session ended after [`AppSession::close`].
    Closed,
}

/// An event waiting in the queue, with its body copied.
#[derive(Debug, Clone)]
enum Stored<const M: usize> {
    Established(Vec<u8, M>),
    Failed(Failure, String<64>),
    Response(RequestId, Vec<u8, M>),
    RequestFailed(RequestId, Option<StatusCode>),
    Event(Vec<u8, M>),
    Malformed(DecodeError),
    Lost(LostReason),
    Closed,
}

/// Where the session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Not opened yet.
    Idle,
    /// The INVITE (with this CSeq) is out or due.
    Inviting,
    /// The dialog is up (always, in NOTIFY mode).
    Established,
    /// Our BYE is out or due.
    Closing,
    /// Over: failed, lost or closed.
    Done,
}

/// What a request in flight is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Invite,
    Refresh(RefreshMethod),
    Csta(RequestId),
    Bye,
}

/// A queued CSTA request.
#[derive(Debug, Clone)]
struct Queued<const M: usize> {
    id: RequestId,
    body: Vec<u8, M>,
    /// The CSeq of the INFO/NOTIFY that carries it, once sent.
    cseq: Option<u32>,
}

/// The application side of one uaCSTA session. `Q` bounds the queued requests and
/// the queued events, `M` the length of a SIP message (and of a CSTA body).
///
/// # No event is dropped
///
/// The event queue holds `Q` events. The session reserves room in it for everything it
/// owes the owner: the answer to every request queued or in flight
/// ([`AppEvent::Response`] or [`AppEvent::RequestFailed`]), [`AppEvent::Established`]
/// while the session is being set up, and the end ([`AppEvent::Failed`],
/// [`AppEvent::Lost`], [`AppEvent::Closed`], kept apart). What would eat into that
/// room is refused instead: [`AppSession::send`] returns [`SessionError::QueueFull`],
/// and an event INFO from the phone is answered 503 with `Retry-After` (the phone
/// sends it again). An owner that stops polling therefore slows the phone down but
/// loses nothing.
pub struct AppSession<const Q: usize, const M: usize> {
    target: String<256>,
    local_uri: String<256>,
    remote_uri: String<256>,
    local_contact: String<256>,
    via: String<128>,
    username: String<64>,
    password: String<64>,
    has_credentials: bool,
    edition: Edition,
    mode: Mode,
    call_id: String<32>,
    local_tag: String<32>,
    state: State,
    /// The last INVITE sent (the 2xx that creates the dialog needs it).
    invite: Vec<u8, M>,
    invite_due: bool,
    /// The CSeq of an INVITE the session gave up on (closed before its answer, or its
    /// transaction failed): a 2xx that still comes for it is acknowledged and the
    /// dialog it makes is ended with a BYE (RFC 3261 sections 13.2.2.4 and 15).
    abandoned_invite: Option<u32>,
    /// CSeq for requests outside the dialog (the INVITE, NOTIFYs).
    next_cseq: u32,
    dialogs: Dialogs<1, DIALOG_ARENA, M>,
    dialog: Option<DialogHandle>,
    ack_due: bool,
    timer: SessionRefresh,
    refresh_due: Option<RefreshMethod>,
    bye_due: bool,
    /// Requests out: CSeq and purpose. At most the INVITE/refresh, one CSTA request
    /// and a BYE.
    pending: Vec<(u32, Method<'static>, Purpose), 4>,
    queue: Deque<Queued<M>, Q>,
    next_id: u32,
    /// The last digest challenge, answered in every later request.
    auth: DigestClient<512>,
    challenges: u8,
    events: Deque<Stored<M>, Q>,
    /// The end of the session, reported after the queued events.
    end: Option<Stored<M>>,
    current: Option<Stored<M>>,
}

impl<const Q: usize, const M: usize> fmt::Debug for AppSession<Q, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppSession")
            .field("call_id", &self.call_id.as_str())
            .field("state", &self.state)
            .field("queued", &self.queue.len())
            .finish_non_exhaustive()
    }
}

impl<const Q: usize, const M: usize> AppSession<Q, M> {
    /// A session as `config` describes it, with a Call-ID and tag from `ids`. In
    /// [`Mode::Dialog`] nothing is sent before [`AppSession::open`]; in
    /// [`Mode::Notify`] requests can be sent at once.
    ///
    /// # Errors
    /// [`SessionError::TooLong`] when a configured string does not fit.
    pub fn new(config: &AppConfig<'_>, ids: &mut IdGenerator) -> Result<Self, SessionError> {
        let (user, pass) = config.credentials.unwrap_or(("", ""));
        Ok(AppSession {
            target: fixed(config.target)?,
            local_uri: fixed(config.local_uri)?,
            remote_uri: fixed(config.remote_uri.unwrap_or(config.target))?,
            local_contact: fixed(config.local_contact)?,
            via: fixed(config.via)?,
            username: fixed(user)?,
            password: fixed(pass)?,
            has_credentials: config.credentials.is_some(),
            edition: config.edition,
            mode: config.mode,
            call_id: fixed(ids.token().as_str())?,
            local_tag: fixed(ids.token().as_str())?,
            state: match config.mode {
                Mode::Dialog => State::Idle,
                Mode::Notify => State::Established,
            },
            invite: Vec::new(),
            invite_due: false,
            abandoned_invite: None,
            next_cseq: 1,
            dialogs: Dialogs::new(Timers::DEFAULT),
            dialog: None,
            ack_due: false,
            timer: SessionRefresh::new(config.timer),
            refresh_due: None,
            bye_due: false,
            pending: Vec::new(),
            queue: Deque::new(),
            next_id: 1,
            auth: DigestClient::new(),
            challenges: 0,
            events: Deque::new(),
            end: None,
            current: None,
        })
    }

    /// The Call-ID of the session's dialog (and of its NOTIFYs): the owner routes
    /// responses and requests with it.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// Whether the dialog is up (always true in NOTIFY mode until closed).
    pub fn is_established(&self) -> bool {
        self.state == State::Established
    }

    /// Whether the session is over (failed, lost or closed).
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// The session timer.
    pub fn timer(&self) -> &SessionRefresh {
        &self.timer
    }

    /// Starts the session: the INVITE with `RequestSystemStatus` becomes due.
    ///
    /// # Errors
    /// [`SessionError::WrongState`] unless the session is new and in dialog mode.
    pub fn open(&mut self) -> Result<(), SessionError> {
        if self.state != State::Idle {
            return Err(SessionError::WrongState);
        }
        self.state = State::Inviting;
        self.invite_due = true;
        Ok(())
    }

    /// Queues a CSTA request; it is sent when the requests before it are answered.
    ///
    /// Its answer is certain to find room in the event queue: a request is refused
    /// while the events not yet polled and the outcomes already owed fill `Q` (see
    /// [`AppSession`]).
    ///
    /// # Errors
    /// [`SessionError::QueueFull`] (poll events, or wait for answers),
    /// [`SessionError::Encode`] when the body does not
    /// fit `M` octets, [`SessionError::WrongState`] after the session ended.
    pub fn send(&mut self, request: &Csta<'_>) -> Result<RequestId, SessionError> {
        if matches!(self.state, State::Done | State::Closing) {
            return Err(SessionError::WrongState);
        }
        if self.queue.is_full() || !self.has_room() {
            return Err(SessionError::QueueFull);
        }
        let mut body = Vec::<u8, M>::new();
        let _ = body.resize(M, 0);
        let n = request
            .encode(self.edition, &mut body)
            .map_err(|_| SessionError::Encode)?;
        body.truncate(n);
        let id = RequestId(self.next_id);
        self.next_id = self.next_id.wrapping_add(1);
        self.queue
            .push_back(Queued {
                id,
                body,
                cseq: None,
            })
            .map_err(|_| SessionError::QueueFull)?;
        Ok(id)
    }

    /// Ends the session: a BYE becomes due (in NOTIFY mode the session just ends).
    /// Requests not yet answered are reported failed. While the INVITE is still
    /// unanswered the session ends at once ([`AppEvent::Closed`]); a 2xx that comes
    /// for it later is acknowledged and its dialog ended with a BYE, without an
    /// [`AppEvent::Established`].
    ///
    /// # Errors
    /// [`SessionError::WrongState`] when the session is neither established nor
    /// being established.
    pub fn close(&mut self) -> Result<(), SessionError> {
        if self.state == State::Inviting {
            self.abandon_invite();
            self.finish(Stored::Closed);
            return Ok(());
        }
        if self.state != State::Established {
            return Err(SessionError::WrongState);
        }
        self.fail_queue();
        if self.mode == Mode::Notify || self.dialog.is_none() {
            self.finish(Stored::Closed);
        } else {
            self.state = State::Closing;
            self.bye_due = true;
            self.refresh_due = None;
            self.timer.stop();
        }
        Ok(())
    }

    /// Gives up on the INVITE in flight: its late 2xx will be torn down.
    fn abandon_invite(&mut self) {
        if let Some(i) = self
            .pending
            .iter()
            .position(|(_, m, p)| *m == Method::Invite && *p == Purpose::Invite)
        {
            self.abandoned_invite = Some(self.pending.remove(i).0);
        }
    }

    // ---- output ----

    /// Writes the next request to send into `buf`. Call until `None` after every
    /// input. An [`Outgoing`] with `transaction` set goes through
    /// `Transactions::send_request` (to the phone's address); otherwise (an ACK) it goes
    /// straight to the transport.
    ///
    /// # Errors
    /// [`SessionError::Emit`] when `buf` is too small (the request stays due).
    #[must_use]
    pub fn poll_request(
        &mut self,
        now: Instant,
        ids: &mut IdGenerator,
        buf: &mut [u8],
    ) -> Option<Result<Outgoing, SessionError>> {
        let _ = now;
        // ACKs the dialog layer resends for a retransmitted 2xx.
        match self.dialogs.poll_transmit(now, buf) {
            Ok(Some((_, len))) => {
                return Some(Ok(Outgoing {
                    len,
                    transaction: false,
                    cseq: 0,
                    method: Method::Ack,
                }));
            }
            Ok(None) => {}
            Err(e) => return Some(Err(e.into())),
        }
        if self.ack_due {
            return Some(self.write_ack(ids, buf));
        }
        if self.invite_due {
            return Some(self.write_invite(ids, buf));
        }
        if self.bye_due {
            return Some(self.write_in_dialog(Method::Bye, Purpose::Bye, ids, buf));
        }
        if self.state != State::Established {
            return None;
        }
        let busy = |p: &Purpose| matches!(p, Purpose::Refresh(_) | Purpose::Invite);
        if let Some(method) = self.refresh_due
            && !self.pending.iter().any(|(_, _, p)| busy(p))
        {
            let m = match method {
                RefreshMethod::Invite => Method::Invite,
                RefreshMethod::Update => Method::Update,
            };
            return Some(self.write_in_dialog(m, Purpose::Refresh(method), ids, buf));
        }
        let next = self.queue.front().filter(|q| q.cseq.is_none())?.id;
        Some(match self.mode {
            Mode::Dialog => self.write_in_dialog(Method::Info, Purpose::Csta(next), ids, buf),
            Mode::Notify => self.write_notify(next, ids, buf),
        })
    }

    fn write_invite(
        &mut self,
        ids: &mut IdGenerator,
        buf: &mut [u8],
    ) -> Result<Outgoing, SessionError> {
        let mut body = [0u8; 256];
        let n = Csta::RequestSystemStatus(RequestSystemStatus {})
            .encode(self.edition, &mut body)
            .map_err(|_| SessionError::Encode)?;
        let body = body.get(..n).unwrap_or_default();
        let cseq = self.next_cseq;
        let mut w = Writer::request_str(SliceSink::new(buf), Method::Invite, &self.target)?;
        self.common_headers(&mut w, ids, cseq, Method::Invite, false)?;
        w.header("Contact", &concat3::<300>("<", &self.local_contact, ">"))?;
        self.timer.request_headers().write(&mut w)?;
        self.write_auth(&mut w, ids, "INVITE", &self.target.clone(), body)?;
        w.header(HeaderName::ContentType.as_str(), CONTENT_TYPE)?;
        w.header(HeaderName::ContentDisposition.as_str(), CONTENT_DISPOSITION)?;
        let len = w.finish(body)?.len();
        self.invite.clear();
        self.invite
            .extend_from_slice(buf.get(..len).unwrap_or_default())
            .map_err(|_| SessionError::Encode)?;
        self.next_cseq += 1;
        self.invite_due = false;
        self.track(cseq, Method::Invite, Purpose::Invite);
        Ok(Outgoing {
            len,
            transaction: true,
            cseq,
            method: Method::Invite,
        })
    }

    fn write_notify(
        &mut self,
        id: RequestId,
        ids: &mut IdGenerator,
        buf: &mut [u8],
    ) -> Result<Outgoing, SessionError> {
        let cseq = self.next_cseq;
        let mut w = Writer::request_str(SliceSink::new(buf), Method::Notify, &self.target)?;
        self.common_headers(&mut w, ids, cseq, Method::Notify, true)?;
        w.header(HeaderName::Event.as_str(), EVENT_PACKAGE)?;
        w.header("Subscription-State", "active")?;
        w.header("Contact", &concat3::<300>("<", &self.local_contact, ">"))?;
        let body: Vec<u8, M> = self
            .queue
            .front()
            .map(|q| q.body.clone())
            .unwrap_or_default();
        self.write_auth(&mut w, ids, "NOTIFY", &self.target.clone(), &body)?;
        w.header(HeaderName::ContentType.as_str(), CONTENT_TYPE)?;
        w.header(HeaderName::ContentDisposition.as_str(), CONTENT_DISPOSITION)?;
        let len = w.finish(&body)?.len();
        self.next_cseq += 1;
        if let Some(q) = self.queue.front_mut() {
            q.cseq = Some(cseq);
        }
        self.track(cseq, Method::Notify, Purpose::Csta(id));
        Ok(Outgoing {
            len,
            transaction: true,
            cseq,
            method: Method::Notify,
        })
    }

    /// Via, Max-Forwards, From, To, Call-ID and CSeq of a request outside the dialog;
    /// NOTIFYs get a fresh From tag each (each is its own dialog-less transaction).
    fn common_headers(
        &self,
        w: &mut Writer<SliceSink<'_>>,
        ids: &mut IdGenerator,
        cseq: u32,
        method: Method<'_>,
        fresh_tag: bool,
    ) -> Result<(), SessionError> {
        let branch = ids.branch();
        w.header(
            "Via",
            &concat3::<200>(&self.via, ";branch=", branch.as_str()),
        )?;
        w.header("Max-Forwards", "70")?;
        let fresh = fresh_tag.then(|| ids.token());
        let tag = fresh
            .as_ref()
            .map_or(self.local_tag.as_str(), |t| t.as_str());
        let from = concat3::<300>("<", &self.local_uri, ">");
        w.header("From", &concat3::<340>(&from, ";tag=", tag))?;
        w.header("To", &concat3::<300>("<", &self.remote_uri, ">"))?;
        w.header("Call-ID", &self.call_id)?;
        w.header_typed(
            HeaderName::CSeq,
            &sip_lite::wire::CSeq { seq: cseq, method },
        )?;
        Ok(())
    }

    fn write_ack(
        &mut self,
        ids: &mut IdGenerator,
        buf: &mut [u8],
    ) -> Result<Outgoing, SessionError> {
        let handle = self.dialog.ok_or(SessionError::WrongState)?;
        let dialog = self
            .dialogs
            .get_mut(handle)
            .ok_or(SessionError::WrongState)?;
        let w = dialog.request(Method::Ack, &self.via, ids, buf)?;
        let len = w.finish(b"")?.len();
        self.dialogs
            .sent_ack(handle, buf.get(..len).unwrap_or_default())?;
        self.ack_due = false;
        Ok(Outgoing {
            len,
            transaction: false,
            cseq: 0,
            method: Method::Ack,
        })
    }

    fn write_in_dialog(
        &mut self,
        method: Method<'static>,
        purpose: Purpose,
        ids: &mut IdGenerator,
        buf: &mut [u8],
    ) -> Result<Outgoing, SessionError> {
        let handle = self.dialog.ok_or(SessionError::WrongState)?;
        let body: Vec<u8, M> = match purpose {
            Purpose::Csta(_) => self
                .queue
                .front()
                .map(|q| q.body.clone())
                .unwrap_or_default(),
            _ => Vec::new(),
        };
        let dialog = self
            .dialogs
            .get_mut(handle)
            .ok_or(SessionError::WrongState)?;
        let target: String<256> = fixed(dialog.remote_target())?;
        let mut w = dialog.request(method, &self.via, ids, buf)?;
        let cseq = dialog.local_cseq().unwrap_or(0);
        if let Purpose::Refresh(_) = purpose {
            self.timer.request_headers().write(&mut w)?;
        }
        self.write_auth(&mut w, ids, method.as_str(), &target, &body)?;
        if !body.is_empty() {
            w.header(HeaderName::ContentType.as_str(), CONTENT_TYPE)?;
            w.header(HeaderName::ContentDisposition.as_str(), CONTENT_DISPOSITION)?;
        }
        let len = w.finish(&body)?.len();
        match purpose {
            Purpose::Csta(_) => {
                if let Some(q) = self.queue.front_mut() {
                    q.cseq = Some(cseq);
                }
            }
            Purpose::Refresh(_) => self.refresh_due = None,
            Purpose::Bye => self.bye_due = false,
            Purpose::Invite => {}
        }
        self.track(cseq, method, purpose);
        Ok(Outgoing {
            len,
            transaction: true,
            cseq,
            method,
        })
    }

    /// Adds `Authorization` or `Proxy-Authorization` when a challenge is known.
    fn write_auth(
        &mut self,
        w: &mut Writer<SliceSink<'_>>,
        ids: &mut IdGenerator,
        method: &str,
        uri: &str,
        body: &[u8],
    ) -> Result<(), SessionError> {
        if !self.auth.is_challenged() {
            return Ok(());
        }
        let cnonce = ids.token();
        let request = Request::new(method, uri, body);
        let secret = Secret::Password(&self.password);
        match self
            .auth
            .write(w, request, &self.username, secret, cnonce.as_str())
        {
            Err(AnswerError::Emit(e)) => Err(e.into()),
            // A challenge we cannot answer: the request goes without credentials.
            Ok(_) | Err(AnswerError::Digest(_)) => Ok(()),
        }
    }

    fn track(&mut self, cseq: u32, method: Method<'static>, purpose: Purpose) {
        if self.pending.is_full() {
            self.pending.remove(0);
        }
        let _ = self.pending.push((cseq, method, purpose));
    }

    fn take_pending(&mut self, cseq: u32, method: Method<'_>) -> Option<Purpose> {
        let i = self
            .pending
            .iter()
            .position(|(c, m, _)| *c == cseq && *m == method)?;
        Some(self.pending.remove(i).2)
    }

    fn peek_pending(&self, cseq: u32, method: Method<'_>) -> Option<Purpose> {
        self.pending
            .iter()
            .find(|(c, m, _)| *c == cseq && *m == method)
            .map(|p| p.2)
    }

    // ---- input ----

    /// Takes a response to a request this session sent (the owner matched its
    /// Call-ID; the session matches CSeq number and method).
    ///
    /// # Errors
    /// [`SessionError::NotOurs`] for a message that is not a response of this session
    /// (it is ignored).
    pub fn handle_response(&mut self, now: Instant, msg: &Message<'_>) -> Result<(), SessionError> {
        let status = msg.status().ok_or(SessionError::NotOurs)?;
        if msg.call_id().ok() != Some(self.call_id.as_str()) {
            return Err(SessionError::NotOurs);
        }
        let cseq = msg.cseq().map_err(|_| SessionError::NotOurs)?;
        if status.is_provisional() {
            return Ok(());
        }
        let Some(purpose) = self.peek_pending(cseq.seq, cseq.method) else {
            if status.is_success() && cseq.method == Method::Invite {
                self.on_late_2xx(msg, cseq.seq);
            }
            return Ok(());
        };
        let _ = self.take_pending(cseq.seq, cseq.method);
        if matches!(status.0, 401 | 407) && purpose != Purpose::Bye {
            if self.on_challenge(msg) {
                self.retry(purpose);
            } else {
                self.request_refused(purpose, msg, status);
            }
            return Ok(());
        }
        if status.is_success() {
            self.challenges = 0;
        }
        match purpose {
            Purpose::Invite => self.on_invite_response(now, msg, status),
            Purpose::Refresh(method) => {
                let rerun = self.timer.handle_response(now, msg);
                if status.is_success() {
                    if method == RefreshMethod::Invite {
                        let _ = self.dialogs.handle_response(None, msg);
                        self.ack_due = true;
                    }
                } else if matches!(status.0, 408 | 481) {
                    self.lose(if status.0 == 481 {
                        LostReason::NoDialog
                    } else {
                        LostReason::Timeout
                    });
                } else if let Ok(Outcome::Retry(_)) = rerun {
                    self.refresh_due = Some(method);
                }
            }
            Purpose::Csta(id) => {
                let ours = self.queue.front().is_some_and(|q| q.id == id);
                if ours {
                    let q = self.queue.pop_front();
                    if status.is_success() {
                        let mut body = Vec::new();
                        let _ = body.extend_from_slice(msg.body());
                        self.report(Stored::Response(id, body));
                    } else if matches!(status.0, 408 | 481) && self.mode == Mode::Dialog {
                        self.report(Stored::RequestFailed(id, Some(status)));
                        drop(q);
                        self.lose(if status.0 == 481 {
                            LostReason::NoDialog
                        } else {
                            LostReason::Timeout
                        });
                    } else {
                        self.report(Stored::RequestFailed(id, Some(status)));
                    }
                }
            }
            Purpose::Bye => self.finish(Stored::Closed),
        }
        Ok(())
    }

    fn on_invite_response(&mut self, now: Instant, msg: &Message<'_>, status: StatusCode) {
        if status.is_success() {
            let mut hs = [HeaderIndex::EMPTY; HEADER_SLOTS];
            let invite = self.invite.clone();
            let created = Message::parse(&invite, &mut hs)
                .ok()
                .and_then(|inv| self.dialogs.handle_response(Some(&inv), msg).ok());
            match created {
                Some(ResponseOutcome::Created(h) | ResponseOutcome::Updated(h)) => {
                    self.dialog = Some(h);
                    let _ = self.timer.handle_response(now, msg);
                    self.ack_due = true;
                    self.state = State::Established;
                    // From now on, write to the phone in the edition it answered in
                    // (edition 2, which this crate does not write, excepted).
                    if let Some(edition) = decode(msg.body()).ok().and_then(|d| d.edition)
                        && edition != Edition::Ed2
                    {
                        self.edition = edition;
                    }
                    let mut body = Vec::new();
                    let _ = body.extend_from_slice(msg.body());
                    self.report(Stored::Established(body));
                }
                _ => self.finish(Stored::Failed(Failure::InvalidAnswer, String::new())),
            }
            return;
        }
        if let Ok(Outcome::Retry(_)) = self.timer.handle_response(now, msg) {
            // 422: again with the larger interval (new CSeq).
            self.invite_due = true;
            return;
        }
        self.finish(Stored::Failed(Failure::Rejected(status), phrase(msg)));
    }

    /// A 2xx to an INVITE no longer pending (RFC 3261 sections 13.2.2.4 and 15).
    /// A retransmission of an acknowledged 2xx gets the same ACK again. The 2xx to an
    /// abandoned INVITE, or the first 2xx to a re-INVITE whose transaction had failed,
    /// is acknowledged; when the session is over, its dialog is ended with a BYE.
    fn on_late_2xx(&mut self, msg: &Message<'_>, seq: u32) {
        if self.dialog.is_none() {
            if self.abandoned_invite != Some(seq) {
                return;
            }
            let mut hs = [HeaderIndex::EMPTY; HEADER_SLOTS];
            let invite = self.invite.clone();
            let created = Message::parse(&invite, &mut hs)
                .ok()
                .and_then(|inv| self.dialogs.handle_response(Some(&inv), msg).ok());
            if let Some(ResponseOutcome::Created(h)) = created {
                self.abandoned_invite = None;
                self.dialog = Some(h);
                self.ack_due = true;
                self.bye_due = true;
            }
            return;
        }
        if let Ok(ResponseOutcome::Updated(_)) = self.dialogs.handle_response(None, msg) {
            // Never acknowledged: the re-INVITE's transaction failed before it came.
            self.ack_due = true;
            if self.state == State::Done {
                self.bye_due = true;
            }
        }
    }

    /// Stores the challenge of a 401/407; whether the request is worth sending again.
    fn on_challenge(&mut self, msg: &Message<'_>) -> bool {
        if !self.has_credentials || self.challenges >= MAX_CHALLENGES {
            return false;
        }
        if self.auth.handle_challenge(msg).is_err() {
            return false;
        }
        self.challenges += 1;
        true
    }

    fn retry(&mut self, purpose: Purpose) {
        match purpose {
            Purpose::Invite => self.invite_due = true,
            Purpose::Refresh(m) => self.refresh_due = Some(m),
            Purpose::Csta(id) => {
                if let Some(q) = self.queue.front_mut()
                    && q.id == id
                {
                    q.cseq = None;
                }
            }
            Purpose::Bye => self.bye_due = true,
        }
    }

    /// A request was refused for good with a challenge we cannot answer.
    fn request_refused(&mut self, purpose: Purpose, msg: &Message<'_>, status: StatusCode) {
        match purpose {
            Purpose::Invite => {
                self.finish(Stored::Failed(Failure::AuthRejected(status), phrase(msg)));
            }
            Purpose::Refresh(_) => {}
            Purpose::Csta(id) => {
                if self.queue.front().is_some_and(|q| q.id == id) {
                    let _ = self.queue.pop_front();
                    self.report(Stored::RequestFailed(id, Some(status)));
                }
            }
            Purpose::Bye => self.finish(Stored::Closed),
        }
    }

    /// The client transaction of the request with this CSeq number and method ended
    /// without a final response (timeout or transport error): RFC 3261 treats it as a
    /// 408. An INVITE fails the setup, any other request loses the session.
    pub fn handle_request_failed(&mut self, now: Instant, cseq: u32, method: Method<'_>) {
        let _ = now;
        let Some(purpose) = self.take_pending(cseq, method) else {
            return;
        };
        match purpose {
            Purpose::Invite => {
                self.abandoned_invite = Some(cseq);
                self.finish(Stored::Failed(Failure::Timeout, String::new()));
            }
            Purpose::Refresh(_) => {
                let _ = self.timer.handle_request_timeout();
                self.lose(LostReason::Timeout);
            }
            Purpose::Csta(id) => {
                if self.queue.front().is_some_and(|q| q.id == id) {
                    let _ = self.queue.pop_front();
                    self.report(Stored::RequestFailed(id, None));
                }
                if self.mode == Mode::Dialog {
                    self.lose(LostReason::Timeout);
                }
            }
            Purpose::Bye => self.finish(Stored::Closed),
        }
    }

    /// Takes a request the phone sent in the session's dialog (an ACK, an INFO event,
    /// a BYE, a session refresh) and writes the response to send through its server
    /// transaction into `buf`. Returns the response's length; 0 when there is nothing
    /// to answer (an ACK).
    ///
    /// An INFO whose CSTA body decodes is answered 200 without a body and reported as
    /// [`AppEvent::Event`]; one that does not gets 400 and
    /// [`AppEvent::MalformedEvent`]. When accepting it would leave no room for the
    /// outcomes the session still owes (see [`AppSession`]), the answer is 503 with
    /// `Retry-After: 1`: the phone sends it again later, nothing is lost.
    ///
    /// # Errors
    /// [`SessionError::NotOurs`] for a response or a request without the headers the
    /// dialog layer needs; [`SessionError::Emit`] when `buf` is too small.
    pub fn handle_request(
        &mut self,
        now: Instant,
        msg: &Message<'_>,
        buf: &mut [u8],
    ) -> Result<usize, SessionError> {
        let method = msg.method().ok_or(SessionError::NotOurs)?;
        let outcome = self
            .dialogs
            .handle_request(msg)
            .map_err(|_| SessionError::NotOurs)?;
        let handle = match outcome {
            RequestOutcome::Ack(_) | RequestOutcome::Drop => return Ok(0),
            RequestOutcome::OutOfDialog => {
                return respond(
                    buf,
                    msg,
                    StatusCode(481),
                    "",
                    &self.local_tag,
                    |_| Ok(()),
                    b"",
                );
            }
            RequestOutcome::Reject { status, reason, .. } => {
                return respond(buf, msg, status, reason, &self.local_tag, |_| Ok(()), b"");
            }
            RequestOutcome::Accept(h) => h,
        };
        let tag = self.local_tag.clone();
        match method {
            Method::Bye => {
                let n = respond(buf, msg, StatusCode::OK, "", &tag, |_| Ok(()), b"")?;
                let _ = self.dialogs.remove(handle);
                self.dialog = None;
                if self.state == State::Closing {
                    self.finish(Stored::Closed);
                } else {
                    self.lose(LostReason::Bye);
                }
                Ok(n)
            }
            Method::Info => {
                if body_type(msg) != BodyType::Csta {
                    let n = respond(
                        buf,
                        msg,
                        StatusCode::UNSUPPORTED_MEDIA_TYPE,
                        "",
                        &tag,
                        |w| {
                            w.header(HeaderName::Accept.as_str(), CONTENT_TYPE)?;
                            Ok(())
                        },
                        b"",
                    )?;
                    return Ok(n);
                }
                match message::decode(msg.body()) {
                    _ if !self.has_room() => respond(
                        buf,
                        msg,
                        StatusCode::SERVICE_UNAVAILABLE,
                        "",
                        &tag,
                        |w| {
                            w.header("Retry-After", "1")?;
                            Ok(())
                        },
                        b"",
                    ),
                    Ok(_) => {
                        let n = respond(buf, msg, StatusCode::OK, "", &tag, |_| Ok(()), b"")?;
                        let mut body = Vec::new();
                        let _ = body.extend_from_slice(msg.body());
                        self.report(Stored::Event(body));
                        Ok(n)
                    }
                    Err(e) => {
                        let n =
                            respond(buf, msg, StatusCode::BAD_REQUEST, "", &tag, |_| Ok(()), b"")?;
                        self.report(Stored::Malformed(e));
                        Ok(n)
                    }
                }
            }
            Method::Invite | Method::Update => {
                let contact = concat3::<300>("<", &self.local_contact, ">");
                match self.timer.handle_request(msg) {
                    Ok(Answer::Accept(headers)) => {
                        let n = respond(
                            buf,
                            msg,
                            StatusCode::OK,
                            "",
                            &tag,
                            |w| {
                                w.header("Contact", &contact)?;
                                headers.write(w)?;
                                Ok(())
                            },
                            b"",
                        )?;
                        self.timer.handle_2xx_sent(now);
                        if method == Method::Invite {
                            let _ = self.dialogs.sent_2xx(
                                handle,
                                now,
                                buf.get(..n).unwrap_or_default(),
                            );
                        }
                        Ok(n)
                    }
                    Ok(Answer::TooSmall(t)) => respond(
                        buf,
                        msg,
                        session_timer::TooSmall::STATUS,
                        "",
                        &tag,
                        |w| {
                            t.write(w)?;
                            Ok(())
                        },
                        b"",
                    ),
                    Err(_) => respond(buf, msg, StatusCode::BAD_REQUEST, "", &tag, |_| Ok(()), b""),
                }
            }
            Method::Options => respond(buf, msg, StatusCode::OK, "", &tag, |_| Ok(()), b""),
            _ => respond(
                buf,
                msg,
                StatusCode::METHOD_NOT_ALLOWED,
                "",
                &tag,
                |w| {
                    w.header("Allow", "INVITE, ACK, BYE, INFO, UPDATE, OPTIONS")?;
                    Ok(())
                },
                b"",
            ),
        }
    }

    // ---- timers ----

    /// When [`AppSession::handle_timeout`] must be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest(self.timer.poll_timeout(), self.dialogs.poll_timeout())
    }

    /// Fires the timers due at `now`: a refresh becomes due, or the expired session is
    /// ended with a BYE and reported lost.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.dialogs.handle_timeout(now);
        while self.dialogs.poll_event().is_some() {}
        self.timer.handle_timeout(now);
        while let Some(action) = self.timer.poll_action() {
            match action {
                Action::Refresh { method } => {
                    if self.state == State::Established {
                        self.refresh_due = Some(method);
                    }
                }
                Action::Expired => {
                    if self.state == State::Established {
                        self.bye_due = true;
                        self.lose(LostReason::Expired);
                    }
                }
            }
        }
    }

    // ---- events ----

    /// The next event for the owner. The body it borrows lives until the next call.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<AppEvent<'_>> {
        self.current = self.events.pop_front().or_else(|| self.end.take());
        Some(match self.current.as_ref()? {
            Stored::Established(body) => {
                let decoded = decode(body).ok();
                let edition = decoded.as_ref().and_then(|d| d.edition);
                let system_status = match decoded.map(|d| d.message) {
                    Some(Csta::RequestSystemStatusResponse(r)) => Some(r.system_status),
                    _ => None,
                };
                AppEvent::Established {
                    body,
                    system_status,
                    edition,
                }
            }
            Stored::Failed(failure, reason) => AppEvent::Failed {
                failure: *failure,
                reason,
            },
            Stored::Response(id, body) => AppEvent::Response { id: *id, body },
            Stored::RequestFailed(id, status) => AppEvent::RequestFailed {
                id: *id,
                status: *status,
            },
            Stored::Event(body) => AppEvent::Event { body },
            Stored::Malformed(e) => AppEvent::MalformedEvent(*e),
            Stored::Lost(r) => AppEvent::Lost(*r),
            Stored::Closed => AppEvent::Closed,
        })
    }

    /// The outcomes the session still owes the owner in the event queue: one answer
    /// ([`AppEvent::Response`] or [`AppEvent::RequestFailed`]) per queued or
    /// unanswered request, and [`AppEvent::Established`] while the INVITE is due or
    /// out. (The end of the session has a slot of its own.)
    fn owed(&self) -> usize {
        self.queue.len() + usize::from(matches!(self.state, State::Idle | State::Inviting))
    }

    /// Whether one more event (or request) fits without taking the room of an owed
    /// outcome.
    fn has_room(&self) -> bool {
        self.events.len() + self.owed() < Q
    }

    fn report(&mut self, event: Stored<M>) {
        // Never full here: every outcome the session owes has its room reserved
        // (`owed`), and events from the phone are refused with 503 without room
        // (`has_room`), so nothing is dropped.
        let _ = self.events.push_back(event);
    }

    /// Reports the queued requests as failed (the session ends).
    fn fail_queue(&mut self) {
        while let Some(q) = self.queue.pop_front() {
            self.report(Stored::RequestFailed(q.id, None));
        }
    }

    /// The established session is gone.
    fn lose(&mut self, reason: LostReason) {
        if self.state == State::Done {
            return;
        }
        self.fail_queue();
        self.refresh_due = None;
        self.ack_due = false;
        self.timer.stop();
        if reason != LostReason::Expired {
            self.bye_due = false;
        }
        self.finish(Stored::Lost(reason));
    }

    fn finish(&mut self, end: Stored<M>) {
        if self.state == State::Done {
            return;
        }
        self.fail_queue();
        self.state = State::Done;
        self.invite_due = false;
        self.refresh_due = None;
        self.timer.stop();
        self.end = Some(end);
    }
}

/// The reason phrase of a response, cut to 64 octets at a character boundary.
fn phrase(msg: &Message<'_>) -> String<64> {
    let mut out = String::new();
    for c in msg.reason().unwrap_or("").chars() {
        if out.push(c).is_err() {
            break;
        }
    }
    out
}

/// Writes a response to `request` with `extra` headers and `body` into `buf`.
pub(crate) fn respond(
    buf: &mut [u8],
    request: &Message<'_>,
    status: StatusCode,
    reason: &str,
    tag: &str,
    extra: impl FnOnce(&mut Writer<SliceSink<'_>>) -> Result<(), sip_lite::wire::EmitError>,
    body: &[u8],
) -> Result<usize, SessionError> {
    let mut w = Writer::response_to(SliceSink::new(buf), request, status, reason, Some(tag))?;
    extra(&mut w)?;
    if !body.is_empty() {
        w.header(HeaderName::ContentType.as_str(), CONTENT_TYPE)?;
        w.header(HeaderName::ContentDisposition.as_str(), CONTENT_DISPOSITION)?;
    }
    Ok(w.finish(body)?.len())
}

/// `a` `b` `c` in a fixed string. Callers size `N` for the longest configured strings
/// (256 octets) plus the parts they add, so nothing is cut.
pub(crate) fn concat3<const N: usize>(a: &str, b: &str, c: &str) -> String<N> {
    let mut s = String::new();
    let _ = s.push_str(a);
    let _ = s.push_str(b);
    let _ = s.push_str(c);
    s
}

/// No extra headers, for [`respond`].
pub(crate) fn no_headers(_: &mut Writer<SliceSink<'_>>) -> Result<(), sip_lite::wire::EmitError> {
    Ok(())
}
