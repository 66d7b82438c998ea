//! Dialogs: the peer-to-peer relationship between two user agents (RFC 3261 section 12),
//! and the 2xx/ACK reliability that belongs to the transaction user rather than to the
//! INVITE transaction (sections 13.2.2.4 and 13.3.1.4, RFC 6026).
//!
//! - [`Dialog`] is the state of section 12.1: the dialog ID (Call-ID, local and remote
//!   tags), the local and remote URIs, the remote target, the route set, both CSeq
//!   numbers and the secure flag. Its strings are copied into an arena of `S` octets that
//!   the dialog owns, so a dialog has no lifetime and can live in a static pool.
//!   [`Dialog::new_uac`] and [`Dialog::new_uas`] create one (section 12.1);
//!   [`Dialog::request`] builds the next request within it (section 12.2.1.1).
//! - [`Dialogs`] is a fixed-capacity set of `N` dialogs addressed by [`DialogHandle`]s.
//!   It classifies incoming requests ([`Dialogs::handle_request`], section 12.2.2) and
//!   responses ([`Dialogs::handle_response`], sections 12.1.2, 12.2.1.2 and 13.2.2.4:
//!   forking creates one early dialog per remote tag), and retransmits the 2xx a UAS sent
//!   until the ACK arrives (section 13.3.1.4), resending the ACK a UAC built when the 2xx
//!   comes again (section 13.2.2.4).
//!
//! The set is driven like every state machine of this crate: after every input, call
//! [`Dialogs::poll_transmit`] until it returns `None`, drain [`Dialogs::poll_event`], and
//! call [`Dialogs::handle_timeout`] when [`Dialogs::poll_timeout`] comes.
//!
//! ```
//! use sip_lite::dialog::{Dialog, DialogState};
//! use sip_lite::ids::IdGenerator;
//! use sip_lite::wire::{HeaderIndex, Message, Method};
//!
//! let invite = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
//! Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds\r\n\
//! Max-Forwards: 70\r\n\
//! To: Bob <sip:bob@biloxi.example.com>\r\n\
//! From: Alice <sip:alice@atlanta.example.com>;tag=1928301774\r\n\
//! Call-ID: a84b4c76e66710@pc33.atlanta.example.com\r\n\
//! CSeq: 314159 INVITE\r\n\
//! Contact: <sip:alice@pc33.atlanta.example.com>\r\n\
//! Content-Length: 0\r\n\r\n";
//! let mut hs = [HeaderIndex::EMPTY; 16];
//! let req = Message::parse(invite, &mut hs)?;
//! // Bob's side: the dialog is created by the response Bob sends (section 12.1.1).
//! let mut d = Dialog::<512>::new_uas(&req, "a6c85cf", "sip:bob@192.0.2.4")?;
//! d.confirm();
//! assert_eq!(d.state(), DialogState::Confirmed);
//! assert_eq!(d.remote_target(), "sip:alice@pc33.atlanta.example.com");
//!
//! // Bob hangs up: BYE goes to Alice's Contact (section 15.1.1).
//! let mut ids = IdGenerator::new([9; 32]);
//! let mut buf = [0u8; 1024];
//! let w = d.request(Method::Bye, "SIP/2.0/UDP 192.0.2.4", &mut ids, &mut buf)?;
//! let len = w.finish(b"")?.len();
//! let mut hs = [HeaderIndex::EMPTY; 16];
//! let bye = Message::parse(&buf[..len], &mut hs)?;
//! assert_eq!(bye.request_uri_str(), Some("sip:alice@pc33.atlanta.example.com"));
//! assert_eq!(bye.to()?.tag(), Some("1928301774"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;
use core::time::Duration;

use crate::error::{EmitError, HeaderError};
use crate::ids::IdGenerator;
use crate::time::{Instant, Timers, earliest};
use crate::wire::{
    Contact, Emit, HeaderIndex, HeaderName, Message, Method, NameAddr, Params, Sink, SliceSink,
    StatusCode, Transport, Uri, Writer,
};
use crate::zeroed::ZeroOption;

/// The most entries a dialog's route set holds. A longer Record-Route is refused with
/// [`DialogError::TooManyRoutes`].
pub const MAX_ROUTES: usize = 8;

/// How many header lines the dialog layer indexes when it parses a message it is handed
/// as bytes ([`Dialogs::sent_2xx`], [`Dialogs::sent_ack`]).
const HEADER_SLOTS: usize = 64;

/// Why a dialog operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum DialogError {
    /// A header the operation needs is missing or does not parse.
    Header(HeaderError),
    /// The dialog-creating message has no Contact, or its Contact is the wildcard or not
    /// a SIP or SIPS URI (RFC 3261 sections 12.1.1 and 12.1.2). The caller answers a
    /// request with 400.
    InvalidContact,
    /// The response cannot create a dialog: not a 2xx, and not a 101-199 with a To tag
    /// (section 12.1), or the request is not a request / not a response.
    NotDialogCreating,
    /// The response does not answer the request given with it (Call-ID, From tag or
    /// CSeq differ).
    Mismatch,
    /// The dialog's strings do not fit its `S`-octet arena.
    TooLong,
    /// The Record-Route holds more than [`MAX_ROUTES`] entries.
    TooManyRoutes,
    /// The set holds `N` dialogs already: answer the request with 503 and Retry-After.
    Full,
    /// The handle names a dialog that was removed (or never existed).
    StaleHandle,
    /// An ACK was asked for, but the dialog never sent an INVITE.
    NoInvite,
    /// The local CSeq would pass 2^31 - 1 (section 8.1.1.5).
    CSeqExhausted,
    /// The message to store for retransmission is longer than the set's buffer, or is not
    /// the kind of message expected (a 2xx to INVITE, an ACK).
    BadRetransmission,
    /// Writing the message failed.
    Emit(EmitError),
}

impl fmt::Display for DialogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DialogError::Header(e) => write!(f, "dialog: {e}"),
            DialogError::InvalidContact => f.write_str("dialog: missing or invalid Contact"),
            DialogError::NotDialogCreating => f.write_str("message does not create a dialog"),
            DialogError::Mismatch => f.write_str("response does not match the request"),
            DialogError::TooLong => f.write_str("dialog state does not fit its storage"),
            DialogError::TooManyRoutes => f.write_str("route set too long"),
            DialogError::Full => f.write_str("no room for another dialog"),
            DialogError::StaleHandle => f.write_str("stale dialog handle"),
            DialogError::NoInvite => f.write_str("no INVITE to acknowledge"),
            DialogError::CSeqExhausted => f.write_str("local CSeq exhausted"),
            DialogError::BadRetransmission => f.write_str("message cannot be retransmitted"),
            DialogError::Emit(e) => write!(f, "dialog: {e}"),
        }
    }
}

impl core::error::Error for DialogError {}

impl From<HeaderError> for DialogError {
    fn from(e: HeaderError) -> Self {
        DialogError::Header(e)
    }
}

impl From<EmitError> for DialogError {
    fn from(e: EmitError) -> Self {
        DialogError::Emit(e)
    }
}

/// The state of a dialog (RFC 3261 section 12).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DialogState {
    /// Created by a provisional response.
    Early,
    /// Created or confirmed by a 2xx.
    Confirmed,
    /// Ended by a BYE (sent or received), a 481/408, or a failed INVITE.
    Terminated,
}

/// Which side of the dialog-creating transaction this user agent was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Role {
    /// This side sent the dialog-creating request.
    Uac,
    /// This side received it.
    Uas,
}

/// A string inside a dialog's arena.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Span {
    start: u16,
    len: u16,
}

/// Writes its parts one after the other: header values assembled from stored strings
/// without a scratch buffer.
struct Concat<'a, const K: usize>([&'a str; K]);

impl<const K: usize> Emit for Concat<'_, K> {
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        self.0.iter().try_for_each(|p| out.put(p.as_bytes()))
    }
}

/// The state of one dialog (RFC 3261 section 12.1), with its strings in an arena of `S`
/// octets.
///
/// The arena holds, in order, the fixed strings (Call-ID, tags, URIs, local Contact),
/// then the route set, then the remote target: the two parts that change (the route set
/// when an early dialog is confirmed, the target on every target refresh) are last, so
/// replacing them never moves the others.
#[derive(Clone)]
pub struct Dialog<const S: usize> {
    arena: heapless::Vec<u8, S>,
    call_id: Span,
    local_tag: Span,
    remote_tag: Span,
    local_uri: Span,
    remote_uri: Span,
    local_contact: Span,
    /// Where the route set begins: everything before it is fixed.
    mutable_start: u16,
    routes: heapless::Vec<Span, MAX_ROUTES>,
    remote_target: Span,
    local_cseq: Option<u32>,
    remote_cseq: Option<u32>,
    /// The CSeq of the last INVITE sent (UAC side): what an ACK for its 2xx carries.
    invite_cseq: Option<u32>,
    secure: bool,
    state: DialogState,
    role: Role,
}

impl<const S: usize> fmt::Debug for Dialog<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // URIs are personal data: show only the dialog ID and the state.
        f.debug_struct("Dialog")
            .field("call_id", &self.call_id())
            .field("local_tag", &self.local_tag())
            .field("remote_tag", &self.remote_tag())
            .field("state", &self.state)
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// The first Contact of `msg` as a SIP or SIPS URI (sections 12.1.1, 12.1.2, 12.2).
fn contact_uri<'a>(msg: &Message<'a>) -> Result<Uri<'a>, DialogError> {
    match msg.contacts().next() {
        Some(Ok(Contact::Addr(a))) if matches!(a.uri, Uri::Sip(_)) => Ok(a.uri),
        _ => Err(DialogError::InvalidContact),
    }
}

/// A name-addr without its header parameters (the tag is kept apart).
fn without_params<'a>(a: &NameAddr<'a>) -> NameAddr<'a> {
    NameAddr {
        display_name: a.display_name,
        uri: a.uri,
        params: Params::from_checked(""),
    }
}

/// Whether `msg` arrived on (UAS) or was sent over (UAC) TLS, judged by its top Via.
fn over_tls(msg: &Message<'_>) -> bool {
    msg.top_via()
        .is_ok_and(|v| matches!(v.transport, Transport::Tls | Transport::Wss))
}

/// Whether the Request-URI of `msg` is a SIPS URI.
fn sips_request_uri(msg: &Message<'_>) -> bool {
    matches!(msg.request_uri(), Some(Ok(Uri::Sip(u))) if u.secure)
}

/// Methods whose requests (and their 2xx) replace the remote target: INVITE and UPDATE
/// (RFC 3261 section 12.2, RFC 3311), SUBSCRIBE and NOTIFY (RFC 6665 section 4.1).
fn is_target_refresh(m: Method<'_>) -> bool {
    matches!(
        m,
        Method::Invite | Method::Update | Method::Subscribe | Method::Notify | Method::Refer
    )
}

impl<const S: usize> Dialog<S> {
    fn empty(role: Role, state: DialogState) -> Self {
        Dialog {
            arena: heapless::Vec::new(),
            call_id: Span::default(),
            local_tag: Span::default(),
            remote_tag: Span::default(),
            local_uri: Span::default(),
            remote_uri: Span::default(),
            local_contact: Span::default(),
            mutable_start: 0,
            routes: heapless::Vec::new(),
            remote_target: Span::default(),
            local_cseq: None,
            remote_cseq: None,
            invite_cseq: None,
            secure: false,
            state,
            role,
        }
    }

    /// Appends the wire form of `v` to the arena.
    fn push<E: Emit + ?Sized>(&mut self, v: &E) -> Result<Span, DialogError> {
        let start = self.arena.len();
        if v.emit(&mut self.arena).is_err() {
            self.arena.truncate(start);
            return Err(DialogError::TooLong);
        }
        let end = self.arena.len();
        match (u16::try_from(start), u16::try_from(end - start)) {
            (Ok(start), Ok(len)) => Ok(Span { start, len }),
            _ => {
                self.arena.truncate(start);
                Err(DialogError::TooLong)
            }
        }
    }

    fn push_str(&mut self, s: &str) -> Result<Span, DialogError> {
        self.push(&Concat([s]))
    }

    fn text(&self, s: Span) -> &str {
        let start = usize::from(s.start);
        let bytes = self
            .arena
            .get(start..start + usize::from(s.len))
            .unwrap_or(&[]);
        // Only `&str`s and emitted values, which are text, are ever stored.
        core::str::from_utf8(bytes).unwrap_or("")
    }

    /// Replaces the route set (if `routes` is given) and the remote target, checking
    /// first that they fit, so that a failure leaves the dialog as it was.
    fn set_routes_and_target(
        &mut self,
        routes: Option<(&[NameAddr<'_>], bool)>,
        target: &Uri<'_>,
    ) -> Result<(), DialogError> {
        let keep = match routes {
            Some(_) => usize::from(self.mutable_start),
            None => usize::from(self.remote_target.start),
        };
        let routes_len: usize = routes.map_or(0, |(r, _)| r.iter().map(Emit::buffer_len).sum());
        if keep + routes_len + target.buffer_len() > S.min(usize::from(u16::MAX)) {
            return Err(DialogError::TooLong);
        }
        self.arena.truncate(keep);
        if let Some((list, reversed)) = routes {
            self.routes.clear();
            let put = |d: &mut Self, r: &NameAddr<'_>| -> Result<(), DialogError> {
                let span = d.push(r)?;
                d.routes.push(span).map_err(|_| DialogError::TooManyRoutes)
            };
            if reversed {
                for r in list.iter().rev() {
                    put(self, r)?;
                }
            } else {
                for r in list {
                    put(self, r)?;
                }
            }
        }
        self.remote_target = self.push(target)?;
        Ok(())
    }

    /// Collects the Record-Route of `msg`, topmost first.
    fn record_route<'a>(
        msg: &Message<'a>,
    ) -> Result<heapless::Vec<NameAddr<'a>, MAX_ROUTES>, DialogError> {
        let mut out = heapless::Vec::new();
        for r in msg.record_routes() {
            out.push(r?).map_err(|_| DialogError::TooManyRoutes)?;
        }
        Ok(out)
    }

    /// The dialog a UAC creates from the `request` it sent and a `response` to it: a 2xx
    /// (confirmed) or a 101-199 with a To tag (early) (RFC 3261 section 12.1.2).
    ///
    /// The route set is the response's Record-Route in reverse order, the remote target
    /// its Contact, the local CSeq the request's, the remote CSeq empty; the dialog is
    /// secure when the request went over TLS (its top Via) to a SIPS Request-URI.
    ///
    /// # Errors
    /// [`DialogError::NotDialogCreating`] for another response, [`DialogError::Mismatch`]
    /// when the response does not answer the request, [`DialogError::InvalidContact`]
    /// when the response has no usable Contact, [`DialogError::Header`] for a missing or
    /// broken From, To, Call-ID, CSeq or Record-Route, [`DialogError::TooLong`] or
    /// [`DialogError::TooManyRoutes`] when the state does not fit.
    pub fn new_uac(request: &Message<'_>, response: &Message<'_>) -> Result<Self, DialogError> {
        let (Some(_), Some(status)) = (request.method(), response.status()) else {
            return Err(DialogError::NotDialogCreating);
        };
        let to = response.to()?;
        let state = match status.0 {
            200..=299 => DialogState::Confirmed,
            101..=199 if to.tag().is_some() => DialogState::Early,
            _ => return Err(DialogError::NotDialogCreating),
        };
        let from = request.from()?;
        let call_id = request.call_id()?;
        let cseq = request.cseq()?;
        let rcseq = response.cseq()?;
        if response.call_id()? != call_id
            || response.from()?.tag() != from.tag()
            || rcseq.seq != cseq.seq
            || rcseq.method != cseq.method
        {
            return Err(DialogError::Mismatch);
        }
        let target = contact_uri(response)?;
        let local_contact = contact_uri(request)?;
        let routes = Self::record_route(response)?;

        let mut d = Self::empty(Role::Uac, state);
        d.call_id = d.push_str(call_id)?;
        d.local_tag = d.push_str(from.tag().unwrap_or(""))?;
        d.remote_tag = d.push_str(to.tag().unwrap_or(""))?;
        d.local_uri = d.push(&without_params(&from))?;
        d.remote_uri = d.push(&without_params(&request.to()?))?;
        d.local_contact = d.push(&local_contact)?;
        d.mutable_start = d.local_contact.start + d.local_contact.len;
        d.set_routes_and_target(Some((&routes, true)), &target)?;
        d.local_cseq = Some(cseq.seq);
        if cseq.method == Method::Invite {
            d.invite_cseq = Some(cseq.seq);
        }
        d.secure = sips_request_uri(request) && over_tls(request);
        Ok(d)
    }

    /// The dialog a UAS creates from the `request` it received when it answers with a
    /// 101-199 carrying `local_tag` (the dialog starts early; call [`Dialog::confirm`]
    /// when sending the 2xx) or with a 2xx (RFC 3261 section 12.1.1). `local_contact` is
    /// the SIP or SIPS URI the response's Contact carries.
    ///
    /// The route set is the request's Record-Route in order, the remote target its
    /// Contact, the remote CSeq the request's, the local CSeq empty. A request without a
    /// From tag (RFC 2543) gives an empty remote tag.
    ///
    /// # Errors
    /// [`DialogError::NotDialogCreating`] if `request` is a response,
    /// [`DialogError::InvalidContact`] for a request without a usable Contact (answer
    /// 400) or an invalid `local_contact`, [`DialogError::Header`] for a missing or broken
    /// From, To, Call-ID, CSeq or Record-Route, [`DialogError::TooLong`] or
    /// [`DialogError::TooManyRoutes`] when the state does not fit.
    pub fn new_uas(
        request: &Message<'_>,
        local_tag: &str,
        local_contact: &str,
    ) -> Result<Self, DialogError> {
        if !request.is_request() {
            return Err(DialogError::NotDialogCreating);
        }
        let contact = match Uri::parse(local_contact) {
            Ok(u @ Uri::Sip(_)) => u,
            _ => return Err(DialogError::InvalidContact),
        };
        let from = request.from()?;
        let to = request.to()?;
        let call_id = request.call_id()?;
        let cseq = request.cseq()?;
        let target = contact_uri(request)?;
        let routes = Self::record_route(request)?;

        let mut d = Self::empty(Role::Uas, DialogState::Early);
        d.call_id = d.push_str(call_id)?;
        d.local_tag = d.push_str(local_tag)?;
        d.remote_tag = d.push_str(from.tag().unwrap_or(""))?;
        d.local_uri = d.push(&without_params(&to))?;
        d.remote_uri = d.push(&without_params(&from))?;
        d.local_contact = d.push(&contact)?;
        d.mutable_start = d.local_contact.start + d.local_contact.len;
        d.set_routes_and_target(Some((&routes, false)), &target)?;
        d.remote_cseq = Some(cseq.seq);
        d.secure = sips_request_uri(request) && over_tls(request);
        Ok(d)
    }

    /// A dialog for another fork of the request that created `sibling` (section 12.1.2):
    /// the local half (Call-ID, local tag and URI, local Contact and CSeq, remote URI,
    /// secure flag) is the sibling's, the remote tag, route set and remote target come
    /// from `response`.
    fn fork(sibling: &Self, response: &Message<'_>) -> Result<Self, DialogError> {
        let status = response.status().ok_or(DialogError::NotDialogCreating)?;
        let to = response.to()?;
        let state = match status.0 {
            200..=299 => DialogState::Confirmed,
            101..=199 if to.tag().is_some() => DialogState::Early,
            _ => return Err(DialogError::NotDialogCreating),
        };
        let target = contact_uri(response)?;
        let routes = Self::record_route(response)?;
        let mut d = Self::empty(Role::Uac, state);
        d.call_id = d.push_str(sibling.call_id())?;
        d.local_tag = d.push_str(sibling.local_tag())?;
        d.remote_tag = d.push_str(to.tag().unwrap_or(""))?;
        d.local_uri = d.push_str(sibling.local_uri())?;
        d.remote_uri = d.push_str(sibling.remote_uri())?;
        d.local_contact = d.push_str(sibling.local_contact())?;
        d.mutable_start = d.local_contact.start + d.local_contact.len;
        d.set_routes_and_target(Some((&routes, true)), &target)?;
        d.local_cseq = sibling.invite_cseq;
        d.invite_cseq = sibling.invite_cseq;
        d.secure = sibling.secure;
        Ok(d)
    }

    /// Marks an early dialog confirmed: a UAS calls it when it sends the 2xx.
    pub fn confirm(&mut self) {
        if self.state == DialogState::Early {
            self.state = DialogState::Confirmed;
        }
    }

    /// Marks the dialog terminated.
    pub fn terminate(&mut self) {
        self.state = DialogState::Terminated;
    }

    /// Replaces the remote target with the Contact of a target refresh request or its
    /// 2xx (RFC 3261 section 12.2). A message without a Contact leaves it unchanged.
    ///
    /// # Errors
    /// [`DialogError::InvalidContact`] for a Contact that is not a SIP or SIPS URI,
    /// [`DialogError::TooLong`] when the new target does not fit (the old one is kept).
    pub fn refresh_target(&mut self, msg: &Message<'_>) -> Result<(), DialogError> {
        if msg.contacts().next().is_none() {
            return Ok(());
        }
        let target = contact_uri(msg)?;
        self.set_routes_and_target(None, &target)
    }

    /// Early to confirmed on a 2xx (section 13.2.2.4): the route set is recomputed from
    /// the 2xx's Record-Route, reversed.
    fn confirm_from_2xx(&mut self, response: &Message<'_>) -> Result<(), DialogError> {
        if response.contacts().next().is_none() {
            // A 2xx to INVITE must carry a Contact (section 13.3.1.4); without one there
            // is no new target to place after the recomputed route set, so the early
            // dialog's routes and target are kept rather than losing the call.
            self.state = DialogState::Confirmed;
            return Ok(());
        }
        let routes = Self::record_route(response)?;
        let target = contact_uri(response)?;
        self.set_routes_and_target(Some((&routes, true)), &target)?;
        self.state = DialogState::Confirmed;
        Ok(())
    }

    /// The Call-ID.
    pub fn call_id(&self) -> &str {
        self.text(self.call_id)
    }

    /// The local tag.
    pub fn local_tag(&self) -> &str {
        self.text(self.local_tag)
    }

    /// The remote tag (empty for an RFC 2543 peer).
    pub fn remote_tag(&self) -> &str {
        self.text(self.remote_tag)
    }

    /// The local URI as a name-addr (`Alice <sip:alice@atlanta.example.com>`).
    pub fn local_uri(&self) -> &str {
        self.text(self.local_uri)
    }

    /// The remote URI as a name-addr.
    pub fn remote_uri(&self) -> &str {
        self.text(self.remote_uri)
    }

    /// The remote target: where requests within the dialog go.
    pub fn remote_target(&self) -> &str {
        self.text(self.remote_target)
    }

    /// The local Contact URI, sent in target refresh requests.
    pub fn local_contact(&self) -> &str {
        self.text(self.local_contact)
    }

    /// The route set, in the order the Route header lists it.
    pub fn route_set(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.routes.iter().map(|s| self.text(*s))
    }

    /// The local sequence number, empty for a UAS that has sent no request yet.
    pub fn local_cseq(&self) -> Option<u32> {
        self.local_cseq
    }

    /// The remote sequence number, empty for a UAC that has received no request yet.
    pub fn remote_cseq(&self) -> Option<u32> {
        self.remote_cseq
    }

    /// Whether requests within the dialog must go over TLS with SIPS URIs.
    pub fn secure(&self) -> bool {
        self.secure
    }

    /// The state.
    pub fn state(&self) -> DialogState {
        self.state
    }

    /// Which side created the dialog.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether the dialog ID is (`call_id`, `local_tag`, `remote_tag`).
    pub fn is(&self, call_id: &str, local_tag: &str, remote_tag: &str) -> bool {
        self.call_id() == call_id
            && self.local_tag() == local_tag
            && self.remote_tag() == remote_tag
    }

    /// Starts a request within the dialog (RFC 3261 section 12.2.1.1) in `buf` and
    /// returns the writer with the mandatory headers written, for the caller to add its
    /// own headers (Content-Type, Event, authorization ...) and
    /// [`finish`](Writer::finish) with the body.
    ///
    /// - Request-URI and Route follow the route set: with no route set or a loose first
    ///   route (`lr`), the Request-URI is the remote target and Route the route set; with
    ///   a strict first route, the Request-URI is that route's URI and Route the rest of
    ///   the set followed by the remote target.
    /// - `Via: <via>;branch=<ids.branch()>`, `Max-Forwards: 70`, From with the local URI
    ///   and tag, To with the remote URI and tag, Call-ID, CSeq, and Contact with the
    ///   local Contact for target refresh requests (INVITE, UPDATE, SUBSCRIBE, NOTIFY,
    ///   REFER).
    /// - CSeq is the local sequence number plus one (an initial value from `ids` when it
    ///   is empty), except for ACK, which repeats the last INVITE's number (section
    ///   13.2.2.4) and does not count. A BYE terminates the dialog (section 15).
    ///
    /// # Errors
    /// [`DialogError::NoInvite`] for an ACK without an INVITE,
    /// [`DialogError::CSeqExhausted`], [`DialogError::Emit`] when `buf` is too small or
    /// `via` holds a line break.
    pub fn request<'b>(
        &mut self,
        method: Method<'_>,
        via: &str,
        ids: &mut IdGenerator,
        buf: &'b mut [u8],
    ) -> Result<Writer<SliceSink<'b>>, DialogError> {
        let cseq = match method {
            Method::Ack => self.invite_cseq.ok_or(DialogError::NoInvite)?,
            _ => match self.local_cseq {
                Some(c) if c >= 0x7fff_ffff => return Err(DialogError::CSeqExhausted),
                Some(c) => c + 1,
                // Section 8.1.1.5: an initial value below 2^31; 28 random bits leave
                // room for 2^31 - 2^28 requests.
                None => initial_cseq(ids),
            },
        };

        // Strict routing (section 12.2.1.1): a first route without `lr` becomes the
        // Request-URI and the remote target goes last in Route.
        let first = self
            .routes
            .first()
            .and_then(|s| NameAddr::parse(self.text(*s)).ok());
        let strict = first.filter(|r| !r.uri.as_sip().is_some_and(|u| u.lr()));
        let target = Uri::parse(self.remote_target()).map_err(|_| DialogError::InvalidContact)?;
        let request_uri = match strict {
            Some(r) => strip_uri_headers(r.uri),
            None => target,
        };
        let mut w = Writer::request(SliceSink::new(buf), method, &request_uri)?;
        let branch = ids.branch();
        w.header_typed(HeaderName::Via, &Concat([via, ";branch=", branch.as_str()]))?;
        w.header("Max-Forwards", "70")?;
        let skip = usize::from(strict.is_some());
        for r in self.routes.iter().skip(skip) {
            w.header("Route", self.text(*r))?;
        }
        if strict.is_some() {
            w.header_typed(HeaderName::Route, &Concat(["<", self.remote_target(), ">"]))?;
        }
        write_addr(&mut w, HeaderName::From, self.local_uri(), self.local_tag())?;
        write_addr(&mut w, HeaderName::To, self.remote_uri(), self.remote_tag())?;
        w.header("Call-ID", self.call_id())?;
        w.header_typed(HeaderName::CSeq, &crate::wire::CSeq { seq: cseq, method })?;
        if is_target_refresh(method) {
            w.header_typed(
                HeaderName::Contact,
                &Concat(["<", self.local_contact(), ">"]),
            )?;
        }

        // Only a request that was written counts.
        if method != Method::Ack {
            self.local_cseq = Some(cseq);
        }
        if method == Method::Invite {
            self.invite_cseq = Some(cseq);
        }
        if method == Method::Bye {
            self.state = DialogState::Terminated;
        }
        Ok(w)
    }
}

/// From or To: the stored name-addr and, unless empty (RFC 2543 peers), the tag.
fn write_addr(
    w: &mut Writer<SliceSink<'_>>,
    name: HeaderName,
    addr: &str,
    tag: &str,
) -> Result<(), EmitError> {
    if tag.is_empty() {
        w.header_typed(name, &Concat([addr]))?;
    } else {
        w.header_typed(name, &Concat([addr, ";tag=", tag]))?;
    }
    Ok(())
}

/// A Request-URI may not carry URI headers (section 19.1.5).
fn strip_uri_headers(uri: Uri<'_>) -> Uri<'_> {
    match uri {
        Uri::Sip(mut u) => {
            u.headers = None;
            Uri::Sip(u)
        }
        other => other,
    }
}

/// A random initial CSeq below 2^28 (section 8.1.1.5 asks for less than 2^31).
fn initial_cseq(ids: &mut IdGenerator) -> u32 {
    let t = ids.token();
    let v = t.bytes().take(7).fold(0u32, |acc, b| {
        (acc << 4) | u32::from(crate::wire::lex::hex_val(b).unwrap_or(0))
    });
    v.max(1)
}

/// A dialog in a [`Dialogs`] set: an index and a generation, so that a handle kept after
/// its dialog was removed is detected ([`DialogError::StaleHandle`]) rather than naming
/// the dialog that took the slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct DialogHandle {
    index: u16,
    generation: u16,
}

impl DialogHandle {
    /// The slot index, for the caller's own tables indexed by dialog.
    pub fn index(&self) -> usize {
        usize::from(self.index)
    }
}

/// What to do with an incoming request (RFC 3261 section 12.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RequestOutcome {
    /// The request has no To tag: it is outside any dialog (possibly creating one); the
    /// caller handles it by the rules of section 8.2.
    OutOfDialog,
    /// The request belongs to this dialog and is in order: process it. Its CSeq is now
    /// the remote CSeq; the remote target was refreshed from the Contact of an INVITE,
    /// UPDATE, SUBSCRIBE, NOTIFY or REFER; a BYE terminated the dialog (answer 200 and
    /// remove it).
    Accept(DialogHandle),
    /// An ACK within the dialog: the 2xx it acknowledges is no longer retransmitted.
    /// ACK is never checked against the CSeq order.
    Ack(DialogHandle),
    /// Answer with `status` and `reason` and do not process the request: 500 for a CSeq
    /// lower than the remote CSeq (the dialog is given), 481 for a To tag that matches no
    /// dialog.
    Reject {
        /// The dialog the request matched, if any.
        dialog: Option<DialogHandle>,
        /// The response code.
        status: StatusCode,
        /// The reason phrase.
        reason: &'static str,
    },
    /// An ACK that matches no dialog: drop it silently (section 12.2.2).
    Drop,
}

/// What an incoming response did to the dialogs (RFC 3261 sections 12.1.2, 12.2.1.2,
/// 13.2.2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ResponseOutcome {
    /// The response neither belongs to nor creates a dialog (a 100, a 1xx without a To
    /// tag, a response outside dialogs, or one for a dialog this set does not hold).
    NoDialog,
    /// A new dialog: early (a 1xx with a new To tag, one per fork) or confirmed (a 2xx).
    /// For a confirmed one, build and send the ACK and hand it to [`Dialogs::sent_ack`].
    Created(DialogHandle),
    /// An existing dialog was updated: an early dialog confirmed by a 2xx (ACK it), or the
    /// remote target refreshed by a 2xx to a target refresh request.
    Updated(DialogHandle),
    /// A response within an existing dialog that changes nothing in it (a provisional
    /// or a failure other than 481 and 408).
    Matched(DialogHandle),
    /// A retransmitted 2xx to an INVITE already acknowledged: the stored ACK is due again
    /// from [`Dialogs::poll_transmit`].
    ResendAck(DialogHandle),
    /// The dialog ended: a 481 or 408 to a request within it (section 12.2.1.2). Remove
    /// it.
    Terminated(DialogHandle),
    /// A non-2xx final response to the dialog-creating INVITE: its early dialogs were
    /// removed (section 13.2.2.3); how many.
    Failed {
        /// Early dialogs removed.
        removed: usize,
    },
}

/// Something the caller must act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum DialogEvent {
    /// No ACK came within 64*T1 of a 2xx (section 13.3.1.4): the 2xx is no longer
    /// retransmitted, and the caller should send BYE to end the dialog.
    AckTimeout(DialogHandle),
}

/// What a slot retransmits. `repr(u8)`: `None` is tag 0, so an empty slot is all zero
/// bits (see [`crate::zeroed`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Reliable {
    None,
    /// A UAS's 2xx to the INVITE with this CSeq, retransmitted at `next` (section
    /// 13.3.1.4) until the ACK or `give_up`.
    Uas2xx {
        cseq: u32,
        next: Instant,
        interval: Duration,
        give_up: Instant,
        due: bool,
    },
    /// A UAC's ACK to the 2xx of the INVITE with this CSeq; `due` when the 2xx came
    /// again.
    UacAck {
        cseq: u32,
        due: bool,
    },
}

struct Slot<const S: usize, const M: usize> {
    generation: u16,
    dialog: ZeroOption<Dialog<S>>,
    reliable: Reliable,
    bytes: heapless::Vec<u8, M>,
    ack_timeout: bool,
}

/// A fixed-capacity set of up to `N` dialogs of `S`-octet arenas, each with an `M`-octet
/// buffer for the 2xx (UAS) or ACK (UAC) it retransmits.
pub struct Dialogs<const N: usize, const S: usize, const M: usize> {
    slots: [Slot<S, M>; N],
    timers: Timers,
}

impl<const N: usize, const S: usize, const M: usize> fmt::Debug for Dialogs<N, S, M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dialogs")
            .field("len", &self.len())
            .field("capacity", &N)
            .finish_non_exhaustive()
    }
}

impl<const N: usize, const S: usize, const M: usize> Dialogs<N, S, M> {
    /// An empty set using `timers` for 2xx retransmission. A `const fn`, so that
    /// firmware can place the set in a `static`.
    pub const fn new(timers: Timers) -> Self {
        Dialogs {
            slots: [const {
                Slot {
                    generation: 0,
                    dialog: ZeroOption::None,
                    reliable: Reliable::None,
                    bytes: heapless::Vec::new(),
                    ack_timeout: false,
                }
            }; N],
            timers,
        }
    }

    /// How many dialogs the set holds.
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.dialog.is_some()).count()
    }

    /// Whether the set holds no dialog.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn handle_of(&self, index: usize) -> DialogHandle {
        DialogHandle {
            // `N` slots are addressed with u16 indices: `insert` never fills more.
            index: u16::try_from(index).unwrap_or(u16::MAX),
            generation: self.slots.get(index).map_or(0, |s| s.generation),
        }
    }

    fn slot(&self, h: DialogHandle) -> Option<&Slot<S, M>> {
        self.slots
            .get(usize::from(h.index))
            .filter(|s| s.generation == h.generation && s.dialog.is_some())
    }

    fn slot_mut(&mut self, h: DialogHandle) -> Option<&mut Slot<S, M>> {
        self.slots
            .get_mut(usize::from(h.index))
            .filter(|s| s.generation == h.generation && s.dialog.is_some())
    }

    /// Adds a dialog.
    ///
    /// # Errors
    /// [`DialogError::Full`] when the set holds `N` dialogs (answer 503 with
    /// Retry-After).
    pub fn insert(&mut self, dialog: Dialog<S>) -> Result<DialogHandle, DialogError> {
        let index = self
            .slots
            .iter()
            .take(usize::from(u16::MAX))
            .position(|s| s.dialog.is_none())
            .ok_or(DialogError::Full)?;
        let slot = &mut self.slots[index];
        slot.dialog = ZeroOption::Some(dialog);
        slot.reliable = Reliable::None;
        slot.bytes.clear();
        slot.ack_timeout = false;
        Ok(self.handle_of(index))
    }

    /// Removes a dialog and whatever it retransmitted; later uses of `handle` fail with
    /// [`DialogError::StaleHandle`].
    ///
    /// # Errors
    /// [`DialogError::StaleHandle`].
    pub fn remove(&mut self, handle: DialogHandle) -> Result<(), DialogError> {
        let slot = self.slot_mut(handle).ok_or(DialogError::StaleHandle)?;
        Self::clear_slot(slot);
        Ok(())
    }

    /// Empties a slot; handles to what it held go stale.
    fn clear_slot(slot: &mut Slot<S, M>) {
        slot.dialog = ZeroOption::None;
        slot.reliable = Reliable::None;
        slot.bytes.clear();
        slot.ack_timeout = false;
        slot.generation = slot.generation.wrapping_add(1);
    }

    /// Removes every dialog, in place, and uses `timers` from now on: the set is as
    /// [`Dialogs::new`] made it, except that the handles of the dialogs it held are
    /// stale. For firmware that keeps the set in a `static` (made with zero timers, so
    /// that the static is all zero bits) and sets it up at run time.
    pub fn reset(&mut self, timers: Timers) {
        for slot in &mut self.slots {
            Self::clear_slot(slot);
        }
        self.timers = timers;
    }

    /// The dialog `handle` names, if it is still in the set.
    pub fn get(&self, handle: DialogHandle) -> Option<&Dialog<S>> {
        self.slot(handle).and_then(|s| s.dialog.as_ref())
    }

    /// The dialog `handle` names, mutably (to build requests).
    pub fn get_mut(&mut self, handle: DialogHandle) -> Option<&mut Dialog<S>> {
        self.slot_mut(handle).and_then(|s| s.dialog.as_mut())
    }

    /// The handles of every dialog in the set.
    pub fn handles(&self) -> impl Iterator<Item = DialogHandle> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| s.dialog.is_some())
            .map(|(i, _)| self.handle_of(i))
    }

    /// The dialog with this ID.
    pub fn find(&self, call_id: &str, local_tag: &str, remote_tag: &str) -> Option<DialogHandle> {
        self.slots
            .iter()
            .position(|s| {
                s.dialog
                    .as_ref()
                    .is_some_and(|d| d.is(call_id, local_tag, remote_tag))
            })
            .map(|i| self.handle_of(i))
    }

    /// The dialog an incoming request belongs to: Call-ID, local tag = To tag, remote tag
    /// = From tag (section 12.2.2).
    pub fn find_for_request(&self, request: &Message<'_>) -> Option<DialogHandle> {
        let call_id = request.call_id().ok()?;
        let local = request.to().ok()?.tag()?;
        let from = request.from().ok()?;
        self.find(call_id, local, from.tag().unwrap_or(""))
    }

    /// The dialog an incoming response belongs to: Call-ID, local tag = From tag, remote
    /// tag = To tag (section 12.1.2).
    pub fn find_for_response(&self, response: &Message<'_>) -> Option<DialogHandle> {
        let call_id = response.call_id().ok()?;
        let local = response.from().ok()?.tag()?;
        let to = response.to().ok()?;
        self.find(call_id, local, to.tag().unwrap_or(""))
    }

    /// Creates the UAS dialog for `request` (see [`Dialog::new_uas`]) and adds it.
    ///
    /// # Errors
    /// As [`Dialog::new_uas`] and [`Dialogs::insert`].
    pub fn create_uas(
        &mut self,
        request: &Message<'_>,
        local_tag: &str,
        local_contact: &str,
    ) -> Result<DialogHandle, DialogError> {
        if !self.slots.iter().any(|s| s.dialog.is_none()) {
            return Err(DialogError::Full);
        }
        self.insert(Dialog::new_uas(request, local_tag, local_contact)?)
    }

    /// Classifies an incoming request (RFC 3261 section 12.2.2) and updates the dialog
    /// it belongs to: the remote CSeq, the remote target of a target refresh request, the
    /// state after a BYE, the 2xx retransmission an ACK stops.
    ///
    /// # Errors
    /// [`DialogError::Header`] for a request without a usable Call-ID, From, To or CSeq
    /// (which validation answers with 400 first), [`DialogError::NotDialogCreating`] for
    /// a response. A broken Contact in a target refresh is
    /// [`DialogError::InvalidContact`]; the CSeq was accepted then.
    pub fn handle_request(&mut self, request: &Message<'_>) -> Result<RequestOutcome, DialogError> {
        let Some(method) = request.method() else {
            return Err(DialogError::NotDialogCreating);
        };
        let to = request.to()?;
        let cseq = request.cseq()?;
        if to.tag().is_none() {
            return Ok(RequestOutcome::OutOfDialog);
        }
        let found = self.find_for_request(request).filter(|h| {
            self.get(*h)
                .is_some_and(|d| d.state != DialogState::Terminated)
        });
        let Some(handle) = found else {
            // Section 12.2.2: a To tag that matches no dialog gets 481, but an ACK
            // cannot be answered.
            return Ok(match method {
                Method::Ack => RequestOutcome::Drop,
                _ => RequestOutcome::Reject {
                    dialog: None,
                    status: StatusCode(481),
                    reason: "Call/Transaction Does Not Exist",
                },
            });
        };
        let Some(slot) = self.slot_mut(handle) else {
            return Ok(RequestOutcome::Drop);
        };
        if method == Method::Ack {
            // Section 13.3.1.4: the ACK for the 2xx ends its retransmission.
            if let Reliable::Uas2xx { cseq: c, .. } = slot.reliable
                && c == cseq.seq
            {
                slot.reliable = Reliable::None;
                slot.bytes.clear();
            }
            return Ok(RequestOutcome::Ack(handle));
        }
        let Some(d) = slot.dialog.as_mut() else {
            return Ok(RequestOutcome::Drop);
        };
        if method != Method::Cancel {
            if d.remote_cseq.is_some_and(|r| cseq.seq < r) {
                return Ok(RequestOutcome::Reject {
                    dialog: Some(handle),
                    status: StatusCode(500),
                    reason: "CSeq Out of Order",
                });
            }
            d.remote_cseq = Some(cseq.seq);
        }
        if method == Method::Bye {
            d.state = DialogState::Terminated;
            slot.reliable = Reliable::None;
            slot.bytes.clear();
        } else if is_target_refresh(method) {
            d.refresh_target(request)?;
        }
        Ok(RequestOutcome::Accept(handle))
    }

    /// Classifies an incoming response to a request this UA sent and updates the
    /// dialogs. `request` is the request it answers; it is needed only when the response
    /// creates a dialog (the first 1xx or 2xx of each fork), and may be `None` for
    /// responses within dialogs and for 2xx retransmissions.
    ///
    /// - A 1xx with a To tag or a 2xx with no matching dialog creates one (one early
    ///   dialog per remote tag when the INVITE forked).
    /// - A 2xx for an early dialog confirms it and recomputes the route set (section
    ///   13.2.2.4); a 2xx to a target refresh request replaces the remote target (section
    ///   12.2.1.2); a 2xx to an INVITE already acknowledged makes the stored ACK due.
    /// - A non-2xx final response to the dialog-creating INVITE removes its early
    ///   dialogs; a 481 or 408 within a dialog terminates it.
    ///
    /// # Errors
    /// [`DialogError::Full`] when a new dialog does not fit (send ACK and BYE for a 2xx
    /// without keeping a dialog), and the errors of [`Dialog::new_uac`].
    pub fn handle_response(
        &mut self,
        request: Option<&Message<'_>>,
        response: &Message<'_>,
    ) -> Result<ResponseOutcome, DialogError> {
        let Some(status) = response.status() else {
            return Err(DialogError::NotDialogCreating);
        };
        let cseq = response.cseq()?;
        let call_id = response.call_id()?;
        let Some(local_tag) = response.from()?.tag() else {
            return Ok(ResponseOutcome::NoDialog);
        };
        let to_tag = response.to()?.tag();

        if status.0 >= 300 && cseq.method == Method::Invite {
            // Section 13.2.2.3 (and 12.1.2): the INVITE failed; every early dialog of
            // its dialog set dies with it. A confirmed dialog survives a failed
            // re-INVITE (section 14.1) unless the answer says it is gone.
            let removed = self.remove_early(call_id, local_tag, cseq.seq);
            if removed > 0 {
                return Ok(ResponseOutcome::Failed { removed });
            }
        }
        let found = self.find(call_id, local_tag, to_tag.unwrap_or(""));
        let Some(handle) = found else {
            let creates = status.is_success() || (status.0 > 100 && to_tag.is_some());
            let creates = creates
                && status.0 < 300
                && matches!(
                    cseq.method,
                    Method::Invite | Method::Subscribe | Method::Refer
                );
            if !creates {
                return Ok(ResponseOutcome::NoDialog);
            }
            // Another fork of a request whose dialog set this UA already holds (section
            // 12.1.2, RFC 6026 section 7.2): the local half comes from a sibling, so the
            // request is not needed.
            let sibling = self
                .slots
                .iter()
                .filter_map(|s| s.dialog.as_ref())
                .find(|d| {
                    d.role == Role::Uac
                        && d.call_id() == call_id
                        && d.local_tag() == local_tag
                        && d.invite_cseq == Some(cseq.seq)
                        && cseq.method == Method::Invite
                });
            let d = match (sibling, request) {
                (Some(sib), _) => Dialog::fork(sib, response)?,
                (None, Some(req)) => Dialog::new_uac(req, response)?,
                (None, None) => return Ok(ResponseOutcome::NoDialog),
            };
            return Ok(ResponseOutcome::Created(self.insert(d)?));
        };
        let Some(slot) = self.slot_mut(handle) else {
            return Ok(ResponseOutcome::NoDialog);
        };
        let Some(d) = slot.dialog.as_mut() else {
            return Ok(ResponseOutcome::NoDialog);
        };
        if matches!(status.0, 408 | 481) {
            // Section 12.2.1.2.
            d.state = DialogState::Terminated;
            slot.reliable = Reliable::None;
            return Ok(ResponseOutcome::Terminated(handle));
        }
        if !status.is_success() {
            return Ok(ResponseOutcome::Matched(handle));
        }
        if cseq.method == Method::Invite
            && let Reliable::UacAck { cseq: c, due } = &mut slot.reliable
            && *c == cseq.seq
        {
            // Section 13.2.2.4: a retransmission of an acknowledged 2xx gets the same
            // ACK again, not a new one.
            *due = true;
            return Ok(ResponseOutcome::ResendAck(handle));
        }
        if d.state == DialogState::Early && cseq.method == Method::Invite {
            d.confirm_from_2xx(response)?;
        } else if is_target_refresh(cseq.method) {
            d.refresh_target(response)?;
        }
        Ok(ResponseOutcome::Updated(handle))
    }

    /// Removes the early dialogs of the dialog set (`call_id`, `local_tag`) created by
    /// the INVITE with CSeq `seq`.
    fn remove_early(&mut self, call_id: &str, local_tag: &str, seq: u32) -> usize {
        let mut removed = 0;
        for i in 0..N {
            let doomed = self
                .slots
                .get(i)
                .and_then(|s| s.dialog.as_ref())
                .is_some_and(|d| {
                    d.state == DialogState::Early
                        && d.role == Role::Uac
                        && d.call_id() == call_id
                        && d.local_tag() == local_tag
                        && d.invite_cseq == Some(seq)
                });
            if doomed && self.remove(self.handle_of(i)).is_ok() {
                removed += 1;
            }
        }
        removed
    }

    /// The INVITE `request` timed out or could not be sent (the transaction layer
    /// reported it): its early dialogs are removed (section 13.2.2.3). Returns how many.
    pub fn handle_invite_failure(&mut self, request: &Message<'_>) -> usize {
        let (Ok(call_id), Ok(from), Ok(cseq)) = (request.call_id(), request.from(), request.cseq())
        else {
            return 0;
        };
        self.remove_early(call_id, from.tag().unwrap_or(""), cseq.seq)
    }

    /// Removes the other early dialogs of `keep`'s dialog set: once one fork is
    /// confirmed, a UAC that wants a single dialog drops the rest. Returns how many.
    ///
    /// # Errors
    /// [`DialogError::StaleHandle`].
    pub fn terminate_early_except(&mut self, keep: DialogHandle) -> Result<usize, DialogError> {
        if self.get(keep).is_none() {
            return Err(DialogError::StaleHandle);
        }
        let mut removed = 0;
        for i in 0..N {
            let h = self.handle_of(i);
            let same_set = h != keep
                && match (
                    self.get(keep),
                    self.slots.get(i).and_then(|s| s.dialog.as_ref()),
                ) {
                    (Some(k), Some(o)) => {
                        o.state == DialogState::Early
                            && o.call_id() == k.call_id()
                            && o.local_tag() == k.local_tag()
                    }
                    _ => false,
                };
            if same_set && self.remove(h).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// A UAS sent `response`, a 2xx to an INVITE, for the dialog `handle` at `now`: the
    /// dialog is confirmed, and the set retransmits the response at T1, 2T1, 4T1 ...
    /// capped at T2 until the ACK arrives or 64*T1 pass (RFC 3261 section 13.3.1.4).
    ///
    /// # Errors
    /// [`DialogError::StaleHandle`]; [`DialogError::BadRetransmission`] if `response` is
    /// not a 2xx to INVITE or is longer than `M`.
    pub fn sent_2xx(
        &mut self,
        handle: DialogHandle,
        now: Instant,
        response: &[u8],
    ) -> Result<(), DialogError> {
        self.slot(handle).ok_or(DialogError::StaleHandle)?;
        let seq = {
            let mut hs = [HeaderIndex::EMPTY; HEADER_SLOTS];
            let msg =
                Message::parse(response, &mut hs).map_err(|_| DialogError::BadRetransmission)?;
            let cseq = msg.cseq()?;
            if !msg.status().is_some_and(|s| s.is_success()) || cseq.method != Method::Invite {
                return Err(DialogError::BadRetransmission);
            }
            cseq.seq
        };
        let t1 = self.timers.t1;
        let slot = self.slot_mut(handle).ok_or(DialogError::StaleHandle)?;
        slot.bytes.clear();
        slot.bytes
            .extend_from_slice(response)
            .map_err(|_| DialogError::BadRetransmission)?;
        if let Some(d) = slot.dialog.as_mut() {
            d.confirm();
        }
        slot.reliable = Reliable::Uas2xx {
            cseq: seq,
            next: now + t1,
            interval: t1,
            give_up: now + t1.saturating_mul(64),
            due: false,
        };
        Ok(())
    }

    /// A UAC sent `ack`, the ACK for a 2xx, in the dialog `handle`: the set keeps it and
    /// offers it again from [`Dialogs::poll_transmit`] whenever that 2xx is received again
    /// (section 13.2.2.4). It is kept until the next ACK or the dialog's removal.
    ///
    /// # Errors
    /// [`DialogError::StaleHandle`]; [`DialogError::BadRetransmission`] if `ack` is not
    /// an ACK or is longer than `M`.
    pub fn sent_ack(&mut self, handle: DialogHandle, ack: &[u8]) -> Result<(), DialogError> {
        self.slot(handle).ok_or(DialogError::StaleHandle)?;
        let seq = {
            let mut hs = [HeaderIndex::EMPTY; HEADER_SLOTS];
            let msg = Message::parse(ack, &mut hs).map_err(|_| DialogError::BadRetransmission)?;
            if msg.method() != Some(Method::Ack) {
                return Err(DialogError::BadRetransmission);
            }
            msg.cseq()?.seq
        };
        let slot = self.slot_mut(handle).ok_or(DialogError::StaleHandle)?;
        slot.bytes.clear();
        slot.bytes
            .extend_from_slice(ack)
            .map_err(|_| DialogError::BadRetransmission)?;
        slot.reliable = Reliable::UacAck {
            cseq: seq,
            due: false,
        };
        Ok(())
    }

    /// When [`Dialogs::handle_timeout`] must next be called.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.slots.iter().fold(None, |acc, s| match s.reliable {
            Reliable::Uas2xx { next, give_up, .. } => earliest(acc, Some(next.min(give_up))),
            _ => acc,
        })
    }

    /// Advances the retransmission timers to `now`: a 2xx whose interval passed becomes
    /// due for [`Dialogs::poll_transmit`]; one unacknowledged for 64*T1 is dropped and
    /// reported as [`DialogEvent::AckTimeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        let t2 = self.timers.t2;
        for slot in &mut self.slots {
            if let Reliable::Uas2xx {
                next,
                interval,
                give_up,
                due,
                ..
            } = &mut slot.reliable
            {
                if now >= *give_up {
                    slot.reliable = Reliable::None;
                    slot.bytes.clear();
                    slot.ack_timeout = true;
                } else if now >= *next {
                    *due = true;
                    *interval = interval.saturating_mul(2).min(t2);
                    // From `now`, not from the missed deadline: after a clock jump one
                    // retransmission goes out and the next is a whole interval away.
                    *next = now + *interval;
                }
            }
        }
    }

    /// Copies the next due message (a 2xx retransmission or a resent ACK) into `buf`,
    /// returning its dialog and length. Call until `None`.
    ///
    /// # Errors
    /// [`DialogError::Emit`] with [`EmitError::InsufficientSize`] when `buf` is too
    /// small; the message stays due.
    pub fn poll_transmit(
        &mut self,
        _now: Instant,
        buf: &mut [u8],
    ) -> Result<Option<(DialogHandle, usize)>, DialogError> {
        let Some(index) = self.slots.iter().position(|s| {
            matches!(
                s.reliable,
                Reliable::Uas2xx { due: true, .. } | Reliable::UacAck { due: true, .. }
            )
        }) else {
            return Ok(None);
        };
        let handle = self.handle_of(index);
        let Some(slot) = self.slots.get_mut(index) else {
            return Ok(None);
        };
        let len = slot.bytes.len();
        let dst = buf
            .get_mut(..len)
            .ok_or(DialogError::Emit(EmitError::InsufficientSize {
                required: len,
            }))?;
        dst.copy_from_slice(&slot.bytes);
        match &mut slot.reliable {
            Reliable::Uas2xx { due, .. } | Reliable::UacAck { due, .. } => *due = false,
            Reliable::None => {}
        }
        Ok(Some((handle, len)))
    }

    /// The next event.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<DialogEvent> {
        let index = self.slots.iter().position(|s| s.ack_timeout)?;
        if let Some(s) = self.slots.get_mut(index) {
            s.ack_timeout = false;
        }
        Some(DialogEvent::AckTimeout(self.handle_of(index)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::format;
    use std::string::String;

    const INVITE: &str = "INVITE sip:bob@b.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\r\n\
From: <sip:alice@a.example.com>;tag=lt\r\n\
To: <sip:bob@b.example.com>\r\n\
Call-ID: c1\r\n\
CSeq: 7 INVITE\r\n\
Contact: <sip:alice@192.0.2.1>\r\n\
{rr}\
Content-Length: 0\r\n\r\n";

    fn invite(rr: &str) -> String {
        INVITE.replace("{rr}", rr)
    }

    #[test]
    fn test_refresh_keeps_fixed_strings_and_route_set() {
        let req = invite("Record-Route: <sip:p1;lr>, <sip:p2;lr>\r\n");
        let mut hs = [HeaderIndex::EMPTY; 16];
        let m = Message::parse(req.as_bytes(), &mut hs).unwrap();
        let mut d = Dialog::<256>::new_uas(&m, "rt", "sip:bob@192.0.2.2").unwrap();
        assert_eq!(d.remote_target(), "sip:alice@192.0.2.1");
        let refresh = req.replace("sip:alice@192.0.2.1>", "sip:alice@[2001:db8::1]:5070>");
        let mut hs2 = [HeaderIndex::EMPTY; 16];
        let m2 = Message::parse(refresh.as_bytes(), &mut hs2).unwrap();
        d.refresh_target(&m2).unwrap();
        assert_eq!(d.remote_target(), "sip:alice@[2001:db8::1]:5070");
        assert_eq!(d.call_id(), "c1");
        assert_eq!(d.local_tag(), "rt");
        assert_eq!(d.remote_tag(), "lt");
        assert_eq!(d.local_contact(), "sip:bob@192.0.2.2");
        let routes: std::vec::Vec<&str> = d.route_set().collect();
        assert_eq!(routes, ["<sip:p1;lr>", "<sip:p2;lr>"]);
        // Refreshing back to a shorter target reuses the space.
        d.refresh_target(&m).unwrap();
        assert_eq!(d.remote_target(), "sip:alice@192.0.2.1");
        assert_eq!(
            d.arena.len(),
            usize::from(d.remote_target.start + d.remote_target.len)
        );
    }

    #[test]
    fn test_refresh_too_long_keeps_old_target() {
        let req = invite("");
        let mut hs = [HeaderIndex::EMPTY; 16];
        let m = Message::parse(req.as_bytes(), &mut hs).unwrap();
        let mut d = Dialog::<128>::new_uas(&m, "rt", "sip:bob@192.0.2.2").unwrap();
        let long = format!("sip:{}@192.0.2.1", "x".repeat(100));
        let refresh = req.replace("sip:alice@192.0.2.1", &long);
        let mut hs2 = [HeaderIndex::EMPTY; 16];
        let m2 = Message::parse(refresh.as_bytes(), &mut hs2).unwrap();
        assert_eq!(d.refresh_target(&m2), Err(DialogError::TooLong));
        assert_eq!(d.remote_target(), "sip:alice@192.0.2.1");
        // A Contact that is not SIP is refused; no Contact changes nothing.
        let tel = req.replace("<sip:alice@192.0.2.1>", "<tel:+1555>");
        let m3 = Message::parse(tel.as_bytes(), &mut hs2).unwrap();
        assert_eq!(d.refresh_target(&m3), Err(DialogError::InvalidContact));
        let none = req.replace("Contact: <sip:alice@192.0.2.1>\r\n", "");
        let m4 = Message::parse(none.as_bytes(), &mut hs2).unwrap();
        assert_eq!(d.refresh_target(&m4), Ok(()));
        assert_eq!(d.remote_target(), "sip:alice@192.0.2.1");
    }

    #[test]
    fn test_too_many_routes() {
        let rr: String = (0..=MAX_ROUTES)
            .map(|i| format!("Record-Route: <sip:p{i};lr>\r\n"))
            .collect();
        let req = invite(&rr);
        let mut hs = [HeaderIndex::EMPTY; 32];
        let m = Message::parse(req.as_bytes(), &mut hs).unwrap();
        assert_eq!(
            Dialog::<1024>::new_uas(&m, "rt", "sip:bob@h").err(),
            Some(DialogError::TooManyRoutes)
        );
        assert_eq!(
            Dialog::<1024>::new_uas(&m, "rt", "<sip:bob@h>").err(),
            Some(DialogError::InvalidContact)
        );
    }

    #[test]
    fn test_cseq_limits_and_ack_without_invite() {
        let req = invite("");
        let mut hs = [HeaderIndex::EMPTY; 16];
        let m = Message::parse(req.as_bytes(), &mut hs).unwrap();
        let mut d = Dialog::<256>::new_uas(&m, "rt", "sip:bob@h").unwrap();
        let mut ids = IdGenerator::new([0; 32]);
        let mut buf = [0u8; 512];
        assert!(matches!(
            d.request(Method::Ack, "SIP/2.0/UDP h", &mut ids, &mut buf),
            Err(DialogError::NoInvite)
        ));
        d.local_cseq = Some(0x7fff_ffff);
        assert!(matches!(
            d.request(Method::Info, "SIP/2.0/UDP h", &mut ids, &mut buf),
            Err(DialogError::CSeqExhausted)
        ));
        // A failed write does not count.
        d.local_cseq = Some(10);
        assert!(matches!(
            d.request(Method::Info, "SIP/2.0/UDP h", &mut ids, &mut [0u8; 40]),
            Err(DialogError::Emit(EmitError::InsufficientSize { .. }))
        ));
        assert!(matches!(
            d.request(Method::Info, "SIP/2.0/UDP h\r\nX: y", &mut ids, &mut buf),
            Err(DialogError::Emit(EmitError::InvalidHeader))
        ));
        assert_eq!(d.local_cseq(), Some(10));
        for _ in 0..1000 {
            let c = initial_cseq(&mut ids);
            assert!((1..1 << 28).contains(&c));
        }
    }

    /// Firmware keeps the set in a static.
    static SET: Dialogs<2, 64, 64> = Dialogs::new(Timers::DEFAULT);

    #[test]
    fn test_const_new() {
        assert!(SET.is_empty());
        assert_eq!(SET.poll_timeout(), None);
    }

    #[test]
    fn test_rfc2543_peer_without_from_tag() {
        let req = invite("").replace(";tag=lt", "");
        let mut hs = [HeaderIndex::EMPTY; 16];
        let m = Message::parse(req.as_bytes(), &mut hs).unwrap();
        let mut d = Dialog::<256>::new_uas(&m, "rt", "sip:bob@h").unwrap();
        assert_eq!(d.remote_tag(), "");
        let mut ids = IdGenerator::new([0; 32]);
        let mut buf = [0u8; 512];
        let n = d
            .request(Method::Bye, "SIP/2.0/UDP h", &mut ids, &mut buf)
            .unwrap()
            .finish(b"")
            .unwrap()
            .len();
        let mut hs = [HeaderIndex::EMPTY; 16];
        let bye = Message::parse(&buf[..n], &mut hs).unwrap();
        assert_eq!(
            bye.header(HeaderName::To),
            Some("<sip:alice@a.example.com>")
        );
        assert_eq!(
            bye.header(HeaderName::From),
            Some("<sip:bob@b.example.com>;tag=rt")
        );
    }
}
