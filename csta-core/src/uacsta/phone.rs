//! The phone side of a uaCSTA session (ECMA TR/87): the switching function.
//!
//! [`PhoneSession::handle_request`] accepts the CSTA `INVITE` (a CSTA body, normally
//! `RequestSystemStatus`, and no SDP) with a 200 carrying
//! `RequestSystemStatusResponse` (`normal`), and rejects what it cannot serve: 415 (with
//! `Accept: application/csta+xml`) for a body it cannot read, 488 (or the configured
//! [`PhoneConfig::sdp_status`], e.g. 606) for an INVITE with SDP, 400 for CSTA XML that
//! does not decode; a well-formed request for a service with no message in this crate is
//! answered `CSTAErrorCode` `serviceNotSupported` in the 200. A new CSTA INVITE replaces
//! the session (the application restarted).
//!
//! Every CSTA request in an `INFO` of the dialog goes to the [`Device`] the caller
//! passes in, which writes the answer (`XxxResponse` or `CSTAErrorCode`) at once; the
//! session returns it in the 200. The device is called synchronously, so nothing is
//! kept between the request and its answer. A CSTA INFO outside a dialog gets 481.
//! [`PhoneSession::send_event`] queues events; each travels as an `INFO`, one in
//! flight at a time, in order. An event the application refuses with 503 or 500 (its
//! queue is full) stays at the front and is sent again after the `Retry-After` delay
//! (at most [`MAX_RETRY_AFTER`] seconds; without one, a second, at most
//! [`MAX_EVENT_RETRIES`] times): it is neither lost nor overtaken. Session refreshes (re-INVITE, UPDATE) and BYE are
//! answered; a session timer that expires ends the session with a BYE.
//!
//! See the [module documentation](super) for the drive loop.

use core::fmt;
use core::time::Duration;

use heapless::{Deque, String, Vec};
use sip_lite::dialog::{DialogHandle, Dialogs, RequestOutcome};
use sip_lite::ids::IdGenerator;
use sip_lite::queue::{MessageQueue, PushError};
use sip_lite::session_timer::{self, Action, Answer, RefreshMethod, SessionRefresh};
use sip_lite::time::{Instant, Timers, earliest};
use sip_lite::wire::{HeaderName, Message, Method, RetryAfter, StatusCode};
use sip_lite::zeroed::ZeroOption;

use super::app::{concat3, no_headers, respond};
use super::{
    BodyType, CONTENT_DISPOSITION, CONTENT_TYPE, DIALOG_ARENA, Outgoing, SessionError, body_type,
    fixed, is_csta_notify,
};
use crate::DecodeError;
use crate::message::system::RequestSystemStatusResponse;
use crate::message::{Decoded, EncodeError, EncodeOptions, ErrorCode};
use crate::names::{Operation, SystemStatus};
use crate::{Edition, Message as Csta, decode};

/// The longest `Retry-After` an event refused with 500 or 503 waits, in seconds.
pub const MAX_RETRY_AFTER: u32 = 32;

/// How many times in a row an event refused with 500 or 503 without `Retry-After` is
/// sent again (after a second each) before it is given up
/// ([`PhoneEvent::EventRejected`]).
pub const MAX_EVENT_RETRIES: u8 = 5;

/// What serves the CSTA requests of the session: the phone's ECMA-269 device model,
/// or a script in a test. Closures `FnMut(&Decoded<'_>, Edition, &mut [u8]) ->
/// Result<usize, EncodeError>` implement it.
pub trait Device {
    /// Serves `request` and writes the answer (a positive response or
    /// `CSTAErrorCode`), encoded in `edition`, into `body`; returns its length.
    ///
    /// # Errors
    /// The encoder's error when the answer does not fit `body`; the session answers
    /// 500 then.
    fn serve(
        &mut self,
        request: &Decoded<'_>,
        edition: Edition,
        body: &mut [u8],
    ) -> Result<usize, EncodeError>;
}

impl<F> Device for F
where
    F: FnMut(&Decoded<'_>, Edition, &mut [u8]) -> Result<usize, EncodeError>,
{
    fn serve(
        &mut self,
        request: &Decoded<'_>,
        edition: Edition,
        body: &mut [u8],
    ) -> Result<usize, EncodeError> {
        self(request, edition, body)
    }
}

/// What a [`PhoneSession`] needs to know, borrowed for [`PhoneSession::new`].
#[derive(Debug, Clone, Copy)]
pub struct PhoneConfig<'c> {
    /// Our Contact URI (in the 2xx, and in refreshes we send).
    pub local_contact: &'c str,
    /// The sent-by part of our Via, without branch (`SIP/2.0/UDP 192.0.2.7:5060`).
    pub via: &'c str,
    /// The edition we write when the peer's is unknown.
    pub edition: Edition,
    /// The status for an INVITE with SDP to the CSTA identity: 488 (default) or 606.
    pub sdp_status: StatusCode,
    /// Whether CSTA requests in an out-of-dialog `NOTIFY` (`Event: uaCSTA`) are served.
    pub accept_notify: bool,
    /// The session timer policy.
    pub timer: session_timer::Config,
}

impl<'c> PhoneConfig<'c> {
    /// Defaults: edition 3, 488 for SDP, NOTIFY served, the default session timer.
    pub fn new(local_contact: &'c str, via: &'c str) -> PhoneConfig<'c> {
        PhoneConfig {
            local_contact,
            via,
            edition: Edition::Ed3,
            sdp_status: StatusCode::NOT_ACCEPTABLE_HERE,
            accept_notify: true,
            timer: session_timer::Config::DEFAULT,
        }
    }
}

/// Why the phone's session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PhoneEnd {
    /// The application sent BYE.
    Bye,
    /// A new CSTA INVITE replaced the session.
    Replaced,
    /// The session timer expired (a BYE was sent).
    Expired,
    /// The application answered 481 or did not answer: it is gone.
    Lost,
    /// The ACK for our 2xx never came (a BYE was sent).
    NoAck,
    /// [`PhoneSession::close`] was called (a BYE was sent).
    Closed,
}

/// What the phone session reports to its owner, from [`PhoneSession::poll_event`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PhoneEvent {
    /// A CSTA session was accepted.
    Opened {
        /// The edition of the application's INVITE body: the one events are written in.
        edition: Option<Edition>,
    },
    /// The session ended; queued events were dropped.
    Ended(PhoneEnd),
    /// An event INFO was answered with this non-2xx status (or none when the session
    /// ended first); the next one follows. A 500 or 503 is reported only once its
    /// retries ran out (see [`MAX_EVENT_RETRIES`]).
    EventRejected(Option<StatusCode>),
}

/// What a request in flight is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Event,
    Refresh(RefreshMethod),
    Bye,
}

/// The phone side of one uaCSTA session. `Q` bounds the queued events and owner
/// events, `M` the length of a SIP message (and of a CSTA body).
pub struct PhoneSession<const Q: usize, const M: usize> {
    local_contact: String<256>,
    via: String<128>,
    edition: Edition,
    sdp_status: StatusCode,
    accept_notify: bool,
    local_tag: String<32>,
    dialogs: Dialogs<1, DIALOG_ARENA, M>,
    dialog: Option<DialogHandle>,
    peer_edition: ZeroOption<Edition>,
    /// The session timer, with the configured policy: none until configured. (A
    /// [`ZeroOption`], as the other optional state, keeps an unconfigured session all
    /// zero bits.)
    timer: ZeroOption<SessionRefresh>,
    refresh_due: ZeroOption<RefreshMethod>,
    ack_due: bool,
    bye_due: bool,
    pending: Vec<(u32, Method<'static>, Purpose), 4>,
    /// The events waiting for their INFO (the front one perhaps in flight), in two
    /// times `M` octets.
    queue: MessageQueue<(), M, 2, Q>,
    /// The CSeq of the INFO carrying the front of `queue`.
    in_flight: Option<u32>,
    /// When the front of `queue`, refused with 500 or 503, is sent again.
    retry_at: Option<Instant>,
    /// How many times in a row the front of `queue` was refused without `Retry-After`.
    retries: u8,
    events: Deque<PhoneEvent, Q>,
    /// Scratch space for a CSTA answer.
    body: [u8; M],
}

impl<const Q: usize, const M: usize> fmt::Debug for PhoneSession<Q, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhoneSession")
            .field("open", &self.dialog.is_some())
            .field("queued", &self.queue.len())
            .finish_non_exhaustive()
    }
}

/// What [`PhoneSession::timer`] shows before the session is configured.
static NO_TIMER: SessionRefresh = SessionRefresh::new(session_timer::Config::DEFAULT);

impl<const Q: usize, const M: usize> PhoneSession<Q, M> {
    /// A phone session without a dialog, with a local tag from `ids`.
    ///
    /// # Errors
    /// [`SessionError::TooLong`] when a configured string does not fit.
    pub fn new(config: &PhoneConfig<'_>, ids: &mut IdGenerator) -> Result<Self, SessionError> {
        let mut s = Self::unconfigured();
        s.configure(config, ids)?;
        Ok(s)
    }

    /// A session without a configuration, for firmware that keeps it in a `static`
    /// and configures it in place: all zero bits, so the static goes to `.bss`.
    /// [`PhoneSession::handle_request`] refuses every request
    /// ([`SessionError::NotConfigured`]) until [`PhoneSession::configure`]; nothing
    /// else has anything to do.
    pub const fn unconfigured() -> Self {
        const NO_TIME: Duration = Duration::ZERO;
        PhoneSession {
            local_contact: String::new(),
            via: String::new(),
            // Placeholders (the zero values): the configuration sets them.
            edition: Edition::Ed2,
            sdp_status: StatusCode(0),
            accept_notify: false,
            local_tag: String::new(),
            dialogs: Dialogs::new(Timers {
                t1: NO_TIME,
                t2: NO_TIME,
                t4: NO_TIME,
            }),
            dialog: None,
            peer_edition: ZeroOption::None,
            timer: ZeroOption::None,
            refresh_due: ZeroOption::None,
            ack_due: false,
            bye_due: false,
            pending: Vec::new(),
            queue: MessageQueue::new(),
            in_flight: None,
            retry_at: None,
            retries: 0,
            events: Deque::new(),
            body: [0; M],
        }
    }

    /// Configures the session in place, with a new local tag from `ids`, and starts
    /// it over: a CSTA dialog, queued events and owner events are dropped without a
    /// message (no BYE: the application finds the session gone at its next request),
    /// and the session is as [`PhoneSession::new`] made it.
    ///
    /// # Errors
    /// [`SessionError::TooLong`] when a configured string does not fit; the session
    /// is unchanged then.
    pub fn configure(
        &mut self,
        config: &PhoneConfig<'_>,
        ids: &mut IdGenerator,
    ) -> Result<(), SessionError> {
        if config.local_contact.len() > self.local_contact.capacity()
            || config.via.len() > self.via.capacity()
        {
            return Err(SessionError::TooLong);
        }
        let local_tag = fixed(ids.token().as_str())?;
        self.local_contact = fixed(config.local_contact)?;
        self.via = fixed(config.via)?;
        self.edition = config.edition;
        self.sdp_status = config.sdp_status;
        self.accept_notify = config.accept_notify;
        self.local_tag = local_tag;
        self.dialogs.reset(Timers::DEFAULT);
        self.dialog = None;
        self.peer_edition = ZeroOption::None;
        self.timer = ZeroOption::Some(SessionRefresh::new(config.timer));
        self.refresh_due = ZeroOption::None;
        self.ack_due = false;
        self.bye_due = false;
        self.pending.clear();
        self.queue.clear();
        self.in_flight = None;
        self.retry_at = None;
        self.retries = 0;
        self.events.clear();
        Ok(())
    }

    /// Whether [`PhoneSession::configure`] (or [`PhoneSession::new`]) gave the session
    /// its configuration.
    pub fn is_configured(&self) -> bool {
        self.timer.is_some()
    }

    /// Whether a CSTA dialog is up.
    pub fn is_open(&self) -> bool {
        self.dialog.is_some()
    }

    /// Whether every queued event was answered: none waits and none is in flight.
    pub fn is_idle(&self) -> bool {
        self.queue.is_empty()
    }

    /// The Call-ID of the current dialog.
    pub fn call_id(&self) -> Option<&str> {
        self.dialog
            .and_then(|h| self.dialogs.get(h))
            .map(|d| d.call_id())
    }

    /// The session timer.
    pub fn timer(&self) -> &SessionRefresh {
        self.timer.as_ref().unwrap_or(&NO_TIMER)
    }

    /// The edition events are written in: the application's, else the configured one.
    pub fn edition(&self) -> Edition {
        EncodeOptions::same_as_peer(self.peer_edition.get(), self.edition).edition
    }

    /// Queues a CSTA event to the application, sent as INFO in the dialog after the
    /// ones before it were answered.
    ///
    /// # Errors
    /// [`SessionError::WrongState`] without a dialog, [`SessionError::QueueFull`],
    /// [`SessionError::Encode`] when the body does not fit `M` octets.
    pub fn send_event(&mut self, event: &Csta<'_>) -> Result<(), SessionError> {
        if self.dialog.is_none() || self.bye_due {
            return Err(SessionError::WrongState);
        }
        let edition = self.edition();
        // Encoded where it waits, in at most `M` octets (an INFO's body).
        let pushed = self.queue.push_with((), |free| {
            let n = free.len().min(M);
            event.encode(edition, &mut free[..n])
        });
        match pushed {
            Ok(()) => Ok(()),
            Err(PushError::Full) => Err(SessionError::QueueFull),
            // It would fit `M` octets, not the free ones: the queue is full for it.
            Err(PushError::Write(EncodeError::BufferTooSmall { required })) if required <= M => {
                Err(SessionError::QueueFull)
            }
            Err(PushError::Write(_)) => Err(SessionError::Encode),
        }
    }

    /// Ends the session with a BYE.
    ///
    /// # Errors
    /// [`SessionError::WrongState`] without a dialog.
    pub fn close(&mut self) -> Result<(), SessionError> {
        if self.dialog.is_none() || self.bye_due {
            return Err(SessionError::WrongState);
        }
        self.end(PhoneEnd::Closed, true);
        Ok(())
    }

    // ---- output ----

    /// Writes the next message to send into `buf`: a 2xx retransmission (straight to
    /// the transport), an ACK, an event INFO, a refresh or a BYE. Call until `None`.
    ///
    /// # Errors
    /// [`SessionError::Emit`] when `buf` is too small (the message stays due).
    #[must_use]
    pub fn poll_request(
        &mut self,
        now: Instant,
        ids: &mut IdGenerator,
        buf: &mut [u8],
    ) -> Option<Result<Outgoing, SessionError>> {
        match self.dialogs.poll_transmit(now, buf) {
            Ok(Some((_, len))) => {
                return Some(Ok(Outgoing {
                    len,
                    transaction: false,
                    cseq: 0,
                    method: Method::Invite,
                }));
            }
            Ok(None) => {}
            Err(e) => return Some(Err(e.into())),
        }
        let handle = self.dialog?;
        if self.ack_due {
            return Some(self.write(handle, Method::Ack, None, ids, buf));
        }
        if self.bye_due {
            return Some(self.write(handle, Method::Bye, Some(Purpose::Bye), ids, buf));
        }
        if let Some(m) = self.refresh_due.get()
            && !self
                .pending
                .iter()
                .any(|p| matches!(p.2, Purpose::Refresh(_)))
        {
            let method = match m {
                RefreshMethod::Invite => Method::Invite,
                RefreshMethod::Update => Method::Update,
            };
            return Some(self.write(handle, method, Some(Purpose::Refresh(m)), ids, buf));
        }
        if self.in_flight.is_none()
            && !self.queue.is_empty()
            && self.retry_at.is_none_or(|t| t <= now)
        {
            self.retry_at = None;
            return Some(self.write(handle, Method::Info, Some(Purpose::Event), ids, buf));
        }
        None
    }

    fn write(
        &mut self,
        handle: DialogHandle,
        method: Method<'static>,
        purpose: Option<Purpose>,
        ids: &mut IdGenerator,
        buf: &mut [u8],
    ) -> Result<Outgoing, SessionError> {
        let dialog = self
            .dialogs
            .get_mut(handle)
            .ok_or(SessionError::WrongState)?;
        let mut w = dialog.request(method, &self.via, ids, buf)?;
        let cseq = if method == Method::Ack {
            0
        } else {
            dialog.local_cseq().unwrap_or(0)
        };
        let body: &[u8] = match purpose {
            Some(Purpose::Event) => self.queue.front().map_or(&[], |(_, b)| b),
            Some(Purpose::Refresh(_)) => {
                if let Some(timer) = self.timer.as_ref() {
                    timer.request_headers().write(&mut w)?;
                }
                &[]
            }
            _ => &[],
        };
        if !body.is_empty() {
            w.header(HeaderName::ContentType.as_str(), CONTENT_TYPE)?;
            w.header(HeaderName::ContentDisposition.as_str(), CONTENT_DISPOSITION)?;
        }
        let len = w.finish(body)?.len();
        match purpose {
            None => {
                self.ack_due = false;
                let _ = self
                    .dialogs
                    .sent_ack(handle, buf.get(..len).unwrap_or_default());
            }
            Some(Purpose::Event) => self.in_flight = Some(cseq),
            Some(Purpose::Refresh(_)) => self.refresh_due = ZeroOption::None,
            Some(Purpose::Bye) => {
                self.bye_due = false;
                let _ = self.dialogs.remove(handle);
                self.dialog = None;
            }
        }
        if let Some(p) = purpose {
            if self.pending.is_full() {
                self.pending.remove(0);
            }
            let _ = self.pending.push((cseq, method, p));
        }
        Ok(Outgoing {
            len,
            transaction: method != Method::Ack,
            cseq,
            method,
        })
    }

    // ---- input ----

    /// Takes a request addressed to the CSTA identity: the CSTA INVITE, requests in
    /// its dialog, an out-of-dialog NOTIFY. CSTA requests are served by `device`.
    /// Writes the response to send through the server transaction into `buf` and
    /// returns its length (0 for an ACK, which is not answered).
    ///
    /// # Errors
    /// [`SessionError::NotOurs`] for a response or a request without Call-ID, From,
    /// To or CSeq (answer 400 before calling); [`SessionError::Emit`] when `buf` is
    /// too small; [`SessionError::NotConfigured`] before [`PhoneSession::configure`].
    pub fn handle_request(
        &mut self,
        now: Instant,
        msg: &Message<'_>,
        device: &mut dyn Device,
        buf: &mut [u8],
    ) -> Result<usize, SessionError> {
        if !self.is_configured() {
            return Err(SessionError::NotConfigured);
        }
        let method = msg.method().ok_or(SessionError::NotOurs)?;
        let outcome = self
            .dialogs
            .handle_request(msg)
            .map_err(|_| SessionError::NotOurs)?;
        let tag = self.local_tag.clone();
        let handle = match outcome {
            RequestOutcome::Ack(_) | RequestOutcome::Drop => return Ok(0),
            RequestOutcome::Reject { status, reason, .. } => {
                return respond(buf, msg, status, reason, &tag, no_headers, b"");
            }
            RequestOutcome::OutOfDialog => {
                return match method {
                    Method::Invite => self.on_invite(now, msg, device, buf),
                    Method::Notify if self.accept_notify && is_csta_notify(msg) => {
                        self.serve(msg, device, buf, false)
                    }
                    Method::Options => respond(buf, msg, StatusCode::OK, "", &tag, no_headers, b""),
                    _ => respond(
                        buf,
                        msg,
                        StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST,
                        "",
                        &tag,
                        no_headers,
                        b"",
                    ),
                };
            }
            RequestOutcome::Accept(h) => h,
        };
        match method {
            Method::Info => self.serve(msg, device, buf, true),
            Method::Bye => {
                let n = respond(buf, msg, StatusCode::OK, "", &tag, no_headers, b"")?;
                let _ = self.dialogs.remove(handle);
                self.dialog = None;
                self.end(PhoneEnd::Bye, false);
                Ok(n)
            }
            Method::Invite | Method::Update => self.on_refresh(now, handle, msg, buf),
            Method::Options => respond(buf, msg, StatusCode::OK, "", &tag, no_headers, b""),
            _ => respond(
                buf,
                msg,
                StatusCode::METHOD_NOT_ALLOWED,
                "",
                &tag,
                |w| {
                    w.header("Allow", "INVITE, ACK, BYE, INFO, UPDATE, NOTIFY, OPTIONS")?;
                    Ok(())
                },
                b"",
            ),
        }
    }

    /// The CSTA INVITE.
    fn on_invite(
        &mut self,
        now: Instant,
        msg: &Message<'_>,
        device: &mut dyn Device,
        buf: &mut [u8],
    ) -> Result<usize, SessionError> {
        let tag = self.local_tag.clone();
        let decoded = match body_type(msg) {
            BodyType::Sdp => return respond(buf, msg, self.sdp_status, "", &tag, no_headers, b""),
            BodyType::Other => return reject_media(buf, msg, &tag),
            BodyType::Empty => None,
            BodyType::Csta => match decode(msg.body()) {
                Ok(d) => Some(d),
                Err(_) => {
                    return respond(buf, msg, StatusCode::BAD_REQUEST, "", &tag, no_headers, b"");
                }
            },
        };
        let peer_edition = decoded.as_ref().and_then(|d| d.edition);
        let edition = EncodeOptions::same_as_peer(peer_edition, self.edition).edition;
        let n = match &decoded {
            Some(d) if !matches!(d.message, Csta::RequestSystemStatus(_)) => {
                device.serve(d, edition, &mut self.body)
            }
            _ => Csta::RequestSystemStatusResponse(RequestSystemStatusResponse {
                system_status: SystemStatus::Normal,
            })
            .encode(edition, &mut self.body),
        };
        let Ok(n) = n else {
            return respond(
                buf,
                msg,
                StatusCode::SERVER_INTERNAL_ERROR,
                "",
                &tag,
                no_headers,
                b"",
            );
        };
        let Some(policy) = self.timer.as_ref().map(|t| *t.config()) else {
            return Err(SessionError::NotConfigured);
        };
        let mut timer = SessionRefresh::new(policy);
        let headers = match timer.handle_request(msg) {
            Ok(Answer::Accept(h)) => h,
            Ok(Answer::TooSmall(t)) => {
                return respond(
                    buf,
                    msg,
                    session_timer::TooSmall::STATUS,
                    "",
                    &tag,
                    |w| t.write(w).map(|_| ()),
                    b"",
                );
            }
            Err(_) => return respond(buf, msg, StatusCode::BAD_REQUEST, "", &tag, no_headers, b""),
        };
        // A new session replaces the old one (the application restarted).
        if let Some(old) = self.dialog.take() {
            let _ = self.dialogs.remove(old);
            self.end(PhoneEnd::Replaced, false);
        }
        let handle = match self.dialogs.create_uas(msg, &tag, &self.local_contact) {
            Ok(h) => h,
            Err(_) => return respond(buf, msg, StatusCode::BAD_REQUEST, "", &tag, no_headers, b""),
        };
        let contact = concat3::<300>("<", &self.local_contact, ">");
        let body = self.body.get(..n).unwrap_or_default();
        let len = respond(
            buf,
            msg,
            StatusCode::OK,
            "",
            &tag,
            |w| {
                w.header("Contact", &contact)?;
                headers.write(w)
            },
            body,
        );
        let len = match len {
            Ok(len) => len,
            Err(e) => {
                let _ = self.dialogs.remove(handle);
                return Err(e);
            }
        };
        let _ = self
            .dialogs
            .sent_2xx(handle, now, buf.get(..len).unwrap_or_default());
        timer.handle_2xx_sent(now);
        self.timer = ZeroOption::Some(timer);
        self.dialog = Some(handle);
        self.peer_edition = peer_edition.into();
        self.push_event(PhoneEvent::Opened {
            edition: peer_edition,
        });
        Ok(len)
    }

    /// A CSTA request in an INFO (or an out-of-dialog NOTIFY): the device answers.
    fn serve(
        &mut self,
        msg: &Message<'_>,
        device: &mut dyn Device,
        buf: &mut [u8],
        answer_body: bool,
    ) -> Result<usize, SessionError> {
        let tag = self.local_tag.clone();
        match body_type(msg) {
            // An empty INFO: a keep-alive.
            BodyType::Empty => respond(buf, msg, StatusCode::OK, "", &tag, no_headers, b""),
            BodyType::Csta => {
                let d = match decode(msg.body()) {
                    Ok(d) => d,
                    // Well-formed XML naming a service this crate has no message for:
                    // a CSTA answer, not a SIP error.
                    Err(DecodeError::UnknownMessage { .. })
                        if answer_body && well_formed(msg.body()) =>
                    {
                        let unknown = Csta::CSTAErrorCode(ErrorCode::Operation(
                            Operation::ServiceNotSupported,
                        ));
                        let Ok(n) = unknown.encode(self.edition(), &mut self.body) else {
                            return respond(
                                buf,
                                msg,
                                StatusCode::SERVER_INTERNAL_ERROR,
                                "",
                                &tag,
                                no_headers,
                                b"",
                            );
                        };
                        let body = self.body.get(..n).unwrap_or_default();
                        return respond(buf, msg, StatusCode::OK, "", &tag, no_headers, body);
                    }
                    Err(_) => {
                        return respond(
                            buf,
                            msg,
                            StatusCode::BAD_REQUEST,
                            "",
                            &tag,
                            no_headers,
                            b"",
                        );
                    }
                };
                if answer_body && d.edition.is_some() {
                    self.peer_edition = d.edition.into();
                }
                let edition = EncodeOptions::same_as_peer(d.edition, self.edition).edition;
                let Ok(n) = device.serve(&d, edition, &mut self.body) else {
                    return respond(
                        buf,
                        msg,
                        StatusCode::SERVER_INTERNAL_ERROR,
                        "",
                        &tag,
                        no_headers,
                        b"",
                    );
                };
                let body = if answer_body {
                    self.body.get(..n).unwrap_or_default()
                } else {
                    &[]
                };
                respond(buf, msg, StatusCode::OK, "", &tag, no_headers, body)
            }
            BodyType::Sdp | BodyType::Other => reject_media(buf, msg, &tag),
        }
    }

    /// A re-INVITE or UPDATE in the dialog: a session refresh.
    fn on_refresh(
        &mut self,
        now: Instant,
        handle: DialogHandle,
        msg: &Message<'_>,
        buf: &mut [u8],
    ) -> Result<usize, SessionError> {
        let tag = self.local_tag.clone();
        if !matches!(body_type(msg), BodyType::Empty) {
            // The CSTA dialog carries no media.
            return respond(buf, msg, self.sdp_status, "", &tag, |_| Ok(()), b"");
        }
        let contact = concat3::<300>("<", &self.local_contact, ">");
        let Some(timer) = self.timer.as_mut() else {
            return Err(SessionError::NotConfigured);
        };
        match timer.handle_request(msg) {
            Ok(Answer::Accept(headers)) => {
                let n = respond(
                    buf,
                    msg,
                    StatusCode::OK,
                    "",
                    &tag,
                    |w| {
                        w.header("Contact", &contact)?;
                        headers.write(w)
                    },
                    b"",
                )?;
                timer.handle_2xx_sent(now);
                if msg.method() == Some(Method::Invite) {
                    let _ = self
                        .dialogs
                        .sent_2xx(handle, now, buf.get(..n).unwrap_or_default());
                }
                Ok(n)
            }
            Ok(Answer::TooSmall(t)) => respond(
                buf,
                msg,
                session_timer::TooSmall::STATUS,
                "",
                &tag,
                |w| t.write(w),
                b"",
            ),
            Err(_) => respond(buf, msg, StatusCode::BAD_REQUEST, "", &tag, |_| Ok(()), b""),
        }
    }

    /// Takes a response to a request this session sent (an event INFO, a refresh, a
    /// BYE).
    ///
    /// # Errors
    /// [`SessionError::NotOurs`] for a message that is not a response.
    pub fn handle_response(&mut self, now: Instant, msg: &Message<'_>) -> Result<(), SessionError> {
        let status = msg.status().ok_or(SessionError::NotOurs)?;
        let cseq = msg.cseq().map_err(|_| SessionError::NotOurs)?;
        if status.is_provisional() {
            return Ok(());
        }
        let Some(i) = self
            .pending
            .iter()
            .position(|(c, m, _)| *c == cseq.seq && *m == cseq.method)
        else {
            if status.is_success() && cseq.method == Method::Invite && self.dialog.is_some() {
                let _ = self.dialogs.handle_response(None, msg);
            }
            return Ok(());
        };
        let purpose = self.pending.remove(i).2;
        match purpose {
            Purpose::Event => {
                self.in_flight = None;
                if matches!(status.0, 500 | 503) && self.retry_later(now, msg) {
                    // Kept at the front: sent again after the delay, order kept.
                    return Ok(());
                }
                self.retries = 0;
                self.queue.pop();
                if matches!(status.0, 408 | 481) {
                    self.end(PhoneEnd::Lost, false);
                } else if !status.is_success() {
                    self.push_event(PhoneEvent::EventRejected(Some(status)));
                }
            }
            Purpose::Refresh(m) => {
                if let Some(timer) = self.timer.as_mut() {
                    let _ = timer.handle_response(now, msg);
                }
                if status.is_success() {
                    if m == RefreshMethod::Invite {
                        let _ = self.dialogs.handle_response(None, msg);
                        self.ack_due = true;
                    }
                } else if matches!(status.0, 408 | 481) {
                    self.end(PhoneEnd::Lost, false);
                }
            }
            Purpose::Bye => {}
        }
        Ok(())
    }

    /// An event INFO was refused with 500 or 503: schedules it again after the
    /// `Retry-After` delay (at most [`MAX_RETRY_AFTER`] seconds), or without one after
    /// a second, at most [`MAX_EVENT_RETRIES`] times in a row. Whether it was.
    fn retry_later(&mut self, now: Instant, msg: &Message<'_>) -> bool {
        let retry_after = msg
            .header(HeaderName::RetryAfter)
            .and_then(|v| RetryAfter::parse(v).ok())
            .map(|r| r.delta);
        let seconds = match retry_after {
            Some(s) => s.clamp(1, MAX_RETRY_AFTER),
            None if self.retries < MAX_EVENT_RETRIES => {
                self.retries += 1;
                1
            }
            None => return false,
        };
        self.retry_at = Some(now + Duration::from_secs(u64::from(seconds)));
        true
    }

    /// The client transaction of the request with this CSeq number and method ended
    /// without a final response: the application is gone.
    pub fn handle_request_failed(&mut self, now: Instant, cseq: u32, method: Method<'_>) {
        let _ = now;
        let Some(i) = self
            .pending
            .iter()
            .position(|(c, m, _)| *c == cseq && *m == method)
        else {
            return;
        };
        match self.pending.remove(i).2 {
            Purpose::Event | Purpose::Refresh(_) => self.end(PhoneEnd::Lost, false),
            Purpose::Bye => {}
        }
    }

    // ---- timers and events ----

    /// When [`PhoneSession::handle_timeout`] must be called next.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let retry = self.retry_at.filter(|_| self.in_flight.is_none());
        earliest(
            earliest(
                self.timer.as_ref().and_then(SessionRefresh::poll_timeout),
                self.dialogs.poll_timeout(),
            ),
            retry,
        )
    }

    /// Fires the timers due at `now`; a refused event due again goes out from
    /// [`PhoneSession::poll_request`].
    pub fn handle_timeout(&mut self, now: Instant) {
        self.dialogs.handle_timeout(now);
        let mut no_ack = false;
        while self.dialogs.poll_event().is_some() {
            no_ack = true;
        }
        if no_ack && self.dialog.is_some() {
            self.end(PhoneEnd::NoAck, true);
        }
        let Some(timer) = self.timer.as_mut() else {
            return;
        };
        timer.handle_timeout(now);
        while let Some(action) = self.timer.as_mut().and_then(SessionRefresh::poll_action) {
            match action {
                Action::Refresh { method } => {
                    if self.dialog.is_some() {
                        self.refresh_due = ZeroOption::Some(method);
                    }
                }
                Action::Expired => {
                    if self.dialog.is_some() {
                        self.end(PhoneEnd::Expired, true);
                    }
                }
            }
        }
    }

    /// The next event for the owner.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<PhoneEvent> {
        self.events.pop_front()
    }

    fn push_event(&mut self, e: PhoneEvent) {
        if self.events.is_full() {
            let _ = self.events.pop_front();
        }
        let _ = self.events.push_back(e);
    }

    /// The session ends; `bye` sends a BYE first.
    fn end(&mut self, why: PhoneEnd, bye: bool) {
        if !self.queue.is_empty() && self.in_flight.is_some() {
            self.push_event(PhoneEvent::EventRejected(None));
        }
        self.queue.clear();
        self.in_flight = None;
        self.retry_at = None;
        self.retries = 0;
        self.refresh_due = ZeroOption::None;
        self.ack_due = false;
        if let Some(timer) = self.timer.as_mut() {
            timer.stop();
        }
        if bye && self.dialog.is_some() {
            self.bye_due = true;
        } else if let Some(h) = self.dialog.take() {
            let _ = self.dialogs.remove(h);
        }
        self.push_event(PhoneEvent::Ended(why));
    }
}

/// 415 with the type we read.
fn reject_media(buf: &mut [u8], msg: &Message<'_>, tag: &str) -> Result<usize, SessionError> {
    respond(
        buf,
        msg,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "",
        tag,
        |w| {
            w.header(HeaderName::Accept.as_str(), CONTENT_TYPE)?;
            Ok(())
        },
        b"",
    )
}

/// Whether `body` is a well-formed XML document (the decoder stops at an unknown root
/// element without reading further).
fn well_formed(body: &[u8]) -> bool {
    let Ok(mut reader) = crate::xml::Reader::new(body) else {
        return false;
    };
    loop {
        match reader.next_event() {
            Ok(crate::xml::Event::Eof) => return true,
            Ok(_) => {}
            Err(_) => return false,
        }
    }
}
