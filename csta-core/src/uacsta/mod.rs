//! uaCSTA (ECMA TR/87): CSTA carried in SIP, on both sides of the session.
//!
//! - [`app`]: the application side (computing function), what the server runs per
//!   phone: it opens the CSTA dialog, sends requests as INFO and correlates the
//!   responses, receives events and keeps the dialog alive.
//! - [`phone`]: the phone side (switching function): it accepts the CSTA dialog,
//!   hands requests to the device and returns the answers, and sends events.
//!
//! Both sessions are transaction users: they own their dialog and its session timer,
//! never a transaction table. The owner shares one `sip_lite::transaction::Transactions`
//! between its sessions and drives each session the sans-IO way:
//!
//! - after every input, drain `poll_request` (requests to send: through
//!   `Transactions::send_request` when [`Outgoing::transaction`] is true, straight to the
//!   transport otherwise: ACKs and 2xx retransmissions) and `poll_event`;
//! - hand every response of a client transaction the session started (matched by
//!   Call-ID) to `handle_response`, every request of its dialog to `handle_request`
//!   (and send the response it writes through the server transaction), a transaction
//!   timeout or transport error to `handle_request_failed`;
//! - call `handle_timeout` when `poll_timeout` comes.
//!
//! ```
//! use csta_core::uacsta::app::{AppConfig, AppSession};
//! use sip_lite::ids::IdGenerator;
//! use sip_lite::time::Instant;
//! use sip_lite::transaction::{self, Transactions};
//! use sip_lite::wire::{HeaderIndex, Message, Method};
//!
//! // The owner's transaction table, shared by all its sessions; peers are its addresses.
//! let mut txs = Transactions::<u32, 8, 2048>::new(transaction::Config::DEFAULT);
//! let mut ids = IdGenerator::new([7; 32]);
//! let config = AppConfig::new(
//!     "sip:201@192.0.2.7:5060",
//!     "sip:csta@example.com",
//!     "sip:csta@192.0.2.1:5060",
//!     "SIP/2.0/UDP 192.0.2.1:5060",
//! );
//! let mut session = AppSession::<4, 2048>::new(&config, &mut ids)?;
//! session.open()?;
//!
//! let (now, phone) = (Instant::ZERO, 1u32);
//! let mut buf = [0u8; 2048];
//! while let Some(out) = session.poll_request(now, &mut ids, &mut buf) {
//!     let out = out?;
//!     if out.transaction {
//!         // Keep tx -> (session, out.cseq, out.method): a Timeout event for tx becomes
//!         // session.handle_request_failed(now, out.cseq, out.method).
//!         let _tx = txs.send_request(now, phone, false, &buf[..out.len])?;
//!     } else {
//!         // An ACK for a 2xx: straight to the transport.
//!     }
//! }
//! let t = txs.poll_transmit().expect("the INVITE");
//! let mut hs = [HeaderIndex::EMPTY; 32];
//! let invite = Message::parse(t.bytes, &mut hs)?;
//! assert_eq!(invite.method(), Some(Method::Invite));
//! assert_eq!(invite.call_id()?, session.call_id());
//! // Incoming: `txs.receive(..)` says Response(tx) -> session.handle_response(now, &msg);
//! // Request(stx) in the session's Call-ID -> n = session.handle_request(now, &msg, &mut
//! // buf)? and txs.respond(now, stx, &buf[..n]); Ack -> session.handle_request (returns
//! // 0); Retransmitted2xx or an unmatched 2xx -> session.handle_response (the ACK is
//! // resent). Then poll again.
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod app;
pub mod phone;

use core::fmt;

use sip_lite::dialog::DialogError;
use sip_lite::wire::{EmitError, HeaderName, Message, Method};

/// The media type of a CSTA body (ECMA TR/87 section 7).
pub const CONTENT_TYPE: &str = "application/csta+xml";

/// The Content-Disposition of every CSTA request.
pub const CONTENT_DISPOSITION: &str = "signal;handling=required";

/// The event package of the out-of-dialog `NOTIFY` variant.
pub const EVENT_PACKAGE: &str = "uaCSTA";

/// The arena of the session's dialog (Call-ID, tags, URIs, route set, target), in
/// octets.
pub const DIALOG_ARENA: usize = 768;

/// Header slots used to parse the messages a session keeps.
const HEADER_SLOTS: usize = 48;

/// A SIP request a session wants sent, written into the caller's buffer by
/// `poll_request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Outgoing {
    /// The length of the message at the start of the buffer.
    pub len: usize,
    /// Whether it starts a client transaction (`Transactions::send_request`). `false`
    /// for an ACK to a 2xx and a retransmitted 2xx, which go straight to the transport.
    pub transaction: bool,
    /// The CSeq number of the request (what `handle_request_failed` takes); 0 for an
    /// ACK or a 2xx retransmission, which start no transaction.
    pub cseq: u32,
    /// The method of the request (or `ACK`; a 2xx retransmission says `INVITE`).
    pub method: Method<'static>,
}

/// Why a session call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum SessionError {
    /// A SIP message did not fit the buffer, or a value could not be written.
    Emit(EmitError),
    /// The dialog layer refused (a broken header, a state that does not fit).
    Dialog(DialogError),
    /// A CSTA body could not be encoded (too long for the session's storage, or a
    /// value XML cannot carry).
    Encode,
    /// The queue of CSTA messages is full; try again after the next response.
    QueueFull,
    /// A configured string is longer than the session keeps.
    TooLong,
    /// The call needs a session in another state (no dialog yet, or closed).
    WrongState,
    /// The message does not belong to this session (other Call-ID, not a response).
    NotOurs,
    /// The session has no configuration yet (`unconfigured`, then `configure`).
    NotConfigured,
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::Emit(e) => write!(f, "cannot write the SIP message: {e}"),
            SessionError::Dialog(e) => write!(f, "dialog: {e}"),
            SessionError::Encode => f.write_str("cannot encode the CSTA body"),
            SessionError::QueueFull => f.write_str("the CSTA queue is full"),
            SessionError::TooLong => f.write_str("a configured string is too long"),
            SessionError::WrongState => f.write_str("not possible in the session's state"),
            SessionError::NotOurs => f.write_str("the message is not for this session"),
            SessionError::NotConfigured => f.write_str("the session is not configured"),
        }
    }
}

impl core::error::Error for SessionError {}

impl From<EmitError> for SessionError {
    fn from(e: EmitError) -> Self {
        SessionError::Emit(e)
    }
}

impl From<DialogError> for SessionError {
    fn from(e: DialogError) -> Self {
        SessionError::Dialog(e)
    }
}

/// What a message's body is, by its Content-Type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyType {
    /// No body.
    Empty,
    /// `application/csta+xml` (or a body without Content-Type that looks like XML).
    Csta,
    /// `application/sdp`.
    Sdp,
    /// Anything else.
    Other,
}

/// Classifies the body of `msg`.
pub(crate) fn body_type(msg: &Message<'_>) -> BodyType {
    if msg.body().is_empty() {
        return BodyType::Empty;
    }
    match msg.content_type() {
        Some(Ok(t)) if t.is("application", "csta+xml") => BodyType::Csta,
        // Some phones label CSTA as plain XML.
        Some(Ok(t)) if t.is("application", "xml") || t.is("text", "xml") => BodyType::Csta,
        Some(Ok(t)) if t.is("application", "sdp") => BodyType::Sdp,
        None if msg.body().first() == Some(&b'<') => BodyType::Csta,
        _ => BodyType::Other,
    }
}

/// Whether `msg` carries `Event: uaCSTA`.
pub(crate) fn is_csta_notify(msg: &Message<'_>) -> bool {
    msg.method() == Some(Method::Notify)
        && msg.header(HeaderName::Event).is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|p| p.trim_ascii().eq_ignore_ascii_case(EVENT_PACKAGE))
        })
}

/// Copies `s` into a fixed string.
pub(crate) fn fixed<const N: usize>(s: &str) -> Result<heapless::String<N>, SessionError> {
    let mut out = heapless::String::new();
    out.push_str(s).map_err(|_| SessionError::TooLong)?;
    Ok(out)
}
