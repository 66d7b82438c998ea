//! The transaction layer (RFC 3261 section 17, as updated by RFC 6026).
//!
//! [`Transactions`] holds up to `N` client and server transactions and a store of `B`
//! octets they share for the one message each may have to send again: the request of a
//! client transaction (then the ACK it generated for a non-2xx answer), the latest
//! response of a server transaction. Messages are packed in the store as they come
//! (compacted when the free space is split), so `B` is sized for the octets in flight
//! at once, not for `N` times the largest message: a phone's REGISTER, INVITE and a
//! few answers take a few KiB, whatever the largest message it accepts. `A` is the
//! caller's peer address type (`SocketAddr`, `IpEndpoint`, a connection id): the layer
//! only copies and compares it.
//!
//! # Driving it
//!
//! The layer is sans-IO. Feed it:
//! - [`Transactions::send_request`] for a request the transaction user (TU) wants sent,
//!   [`Transactions::cancel`] to cancel an INVITE,
//! - [`Transactions::receive`] for every message that arrives (parsed by the caller),
//!   which says what the message is for ([`Received`]),
//! - [`Transactions::respond`] for the TU's responses,
//! - [`Transactions::handle_timeout`] when the deadline from
//!   [`Transactions::poll_timeout`] has come,
//! - [`Transactions::transport_error`] when sending for a transaction failed;
//!
//! and after each of these calls drain [`Transactions::poll_transmit`] (messages to put on
//! the wire) and [`Transactions::poll_event`] (timeouts and transport failures for the TU)
//! until they return `None`, then re-arm the timer from `poll_timeout`.
//!
//! ```
//! use sip_lite::time::Instant;
//! use sip_lite::transaction::{Config, Received, Transactions};
//! use sip_lite::wire::{HeaderIndex, Message, SliceSink, StatusCode, Writer};
//!
//! let mut alice: Transactions<&str, 4, 1024> = Transactions::new(Config::DEFAULT);
//! let mut bob: Transactions<&str, 4, 1024> = Transactions::new(Config::DEFAULT);
//! let t0 = Instant::ZERO;
//!
//! let options = b"OPTIONS sip:bob@example.com SIP/2.0\r\n\
//! Via: SIP/2.0/UDP alice.example.com;branch=z9hG4bK-1\r\n\
//! From: <sip:alice@example.com>;tag=a\r\nTo: <sip:bob@example.com>\r\n\
//! Call-ID: c1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
//! let client = alice.send_request(t0, "bob", false, options)?;
//!
//! // Alice's side puts the request on the wire; Bob's side receives it.
//! let sent = alice.poll_transmit().unwrap();
//! assert_eq!(sent.peer, "bob");
//! let mut headers = [HeaderIndex::EMPTY; 16];
//! let request = Message::parse(sent.bytes, &mut headers)?;
//! let Received::Request(server) = bob.receive(t0, "alice", false, &request)? else {
//!     unreachable!()
//! };
//!
//! // Bob's TU answers; the response goes back to Alice.
//! let mut buf = [0u8; 512];
//! let w = Writer::response_to(SliceSink::new(&mut buf), &request, StatusCode::OK, "", Some("b"))?;
//! let len = w.finish(b"")?.len();
//! bob.respond(t0, server, &buf[..len])?;
//! let sent = bob.poll_transmit().unwrap();
//! let mut headers = [HeaderIndex::EMPTY; 16];
//! let response = Message::parse(sent.bytes, &mut headers)?;
//! assert_eq!(alice.receive(t0, "bob", false, &response)?, Received::Response(client));
//! # Ok::<(), sip_lite::Error>(())
//! ```
//!
//! # What the layer does and does not do
//!
//! It retransmits over unreliable transports (timers A, E, G) and not over reliable
//! ones, absorbs retransmitted requests and replays the latest response, generates the
//! ACK for non-2xx final responses, builds CANCEL requests (section 9.1, deferred until a
//! provisional response arrived), matches CANCEL to the INVITE it cancels (section 9.2),
//! keeps INVITE transactions in the RFC 6026 Accepted state after a 2xx so that 2xx
//! retransmissions and their ACKs reach the TU, answers 503 with Retry-After when full
//! and, for user agents, 482 to merged requests (section 8.2.2.2).
//!
//! Retransmitting a 2xx to INVITE and acknowledging it are the TU's (the dialog layer's)
//! work, as in RFC 3261. Address resolution (RFC 3263) and connection handling belong to
//! the caller: responses go back to the peer the request came from.
//!
//! When a message does not fit the free part of the store, the finished transactions
//! that only linger to absorb retransmissions give way, soonest deadline first, as they
//! do for a slot (see [`Transactions::reclaimed`]).
//!
//! Lookups scan the table, so their cost grows with `N`, and so does compacting the
//! store (quadratically, and only when the free space is split); a firmware has a
//! handful of transactions, a uaCSTA session a few dozen.

mod key;

use core::fmt;
use core::time::Duration;

use heapless::Deque;

use crate::error::EmitError;
use crate::time::{Instant, Timers};
use crate::wire::{HeaderIndex, HeaderName, Message, Method, Sink, SliceSink, StatusCode, Writer};
use crate::zeroed::ZeroOption;
use key::Key;

/// How many header lines a message stored or received by the layer may have.
pub const MAX_HEADERS: usize = 64;

/// Settings of a transaction layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// T1, T2 and T4.
    pub timers: Timers,
    /// Answer every new INVITE with `100 Trying` at once. Section 17.2.1 requires a
    /// provisional response within 200 ms unless the TU sends one; sending it from the
    /// transaction is the simple way to keep that promise.
    pub auto_trying: bool,
    /// Answer merged requests with 482 (section 8.2.2.2). User agents want this;
    /// proxies must turn it off, since forking legitimately brings the same request
    /// twice.
    pub detect_merged: bool,
    /// The Retry-After of the 503 sent when the table is full, in seconds.
    pub retry_after: u32,
    /// How long a non-INVITE server transaction waits for the TU's final answer before
    /// giving up (the client stopped waiting after 64*T1 in any case). INVITE server
    /// transactions wait as long as the TU wants: a phone may ring for minutes.
    pub server_answer_limit: Duration,
}

impl Config {
    /// RFC 3261 timers, 100 Trying from the transaction, merged-request detection on,
    /// Retry-After 5 s, 32 s for a non-INVITE answer.
    pub const DEFAULT: Config = Config {
        timers: Timers::DEFAULT,
        auto_trying: true,
        detect_merged: true,
        retry_after: 5,
        server_answer_limit: Duration::from_secs(32),
    };
}

impl Default for Config {
    fn default() -> Self {
        Config::DEFAULT
    }
}

/// The four transaction machines of section 17.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Kind {
    /// Section 17.1.1.
    InviteClient,
    /// Section 17.1.2.
    NonInviteClient,
    /// Section 17.2.1.
    InviteServer,
    /// Section 17.2.2.
    NonInviteServer,
}

impl Kind {
    fn is_client(self) -> bool {
        matches!(self, Kind::InviteClient | Kind::NonInviteClient)
    }
}

/// The state of a transaction (figures 5 to 8 of RFC 3261, and the Accepted state of
/// RFC 6026).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum State {
    /// A CANCEL waiting for a provisional response to its INVITE (section 9.1).
    Deferred,
    /// INVITE client: request sent, nothing heard.
    Calling,
    /// Non-INVITE: request sent or received, no response yet.
    Trying,
    /// A provisional response was received or sent.
    Proceeding,
    /// A final response was received or sent (non-2xx for INVITE); waiting for
    /// retransmissions to die out.
    Completed,
    /// INVITE server: the ACK for the non-2xx final response arrived.
    Confirmed,
    /// INVITE, RFC 6026: a 2xx was received or sent; its retransmissions and ACKs go
    /// to the TU.
    Accepted,
}

/// A handle on a slot: its index and the generation that was live when it was issued,
/// so a handle to a transaction that has ended is recognised as stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
struct Handle {
    index: u16,
    generation: u16,
}

/// A client transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ClientTx(Handle);

/// A server transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ServerTx(Handle);

/// Either kind of transaction, as events name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Tx {
    /// A client transaction.
    Client(ClientTx),
    /// A server transaction.
    Server(ServerTx),
}

impl From<ClientTx> for Tx {
    fn from(tx: ClientTx) -> Tx {
        Tx::Client(tx)
    }
}

impl From<ServerTx> for Tx {
    fn from(tx: ServerTx) -> Tx {
        Tx::Server(tx)
    }
}

impl Tx {
    fn handle(self) -> Handle {
        match self {
            Tx::Client(ClientTx(h)) | Tx::Server(ServerTx(h)) => h,
        }
    }
}

/// What an incoming message turned out to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Received {
    /// A new request; a server transaction now exists for it and the TU answers through
    /// [`Transactions::respond`].
    Request(ServerTx),
    /// A CANCEL, in its own server transaction, and the INVITE server transaction it
    /// refers to, if one exists. The TU answers the CANCEL with 200 (481 without an
    /// INVITE) and, if the INVITE has no final answer yet, the INVITE with 487 (section
    /// 9.2).
    Cancel {
        /// The CANCEL's transaction.
        cancel: ServerTx,
        /// The INVITE's transaction.
        invite: Option<ServerTx>,
    },
    /// An ACK for a 2xx: it belongs to no transaction (or to an INVITE server
    /// transaction in the Accepted state) and goes to the dialog (section 13.3.1.4).
    Ack,
    /// A response for a client transaction, to pass to the TU.
    Response(ClientTx),
    /// A further 2xx for an INVITE client transaction that already passed one up (RFC
    /// 6026 section 7.2): the TU acknowledges it again.
    Retransmitted2xx(ClientTx),
    /// A retransmission the transaction absorbed; whatever it needs to send again is
    /// queued for [`Transactions::poll_transmit`].
    Absorbed,
    /// The layer answered the request itself with this status: 503 when the table is
    /// full, 482 for a merged request. The answer is queued.
    Rejected(StatusCode),
    /// A response that matches no client transaction. A user agent drops it (section
    /// 18.1.2); a proxy forwards it statelessly (section 16.7).
    Unmatched,
}

/// Something the TU must learn about, reported by [`Transactions::poll_event`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Event {
    /// No final response came in time (timer B or F; the TU treats it as a 408), no ACK
    /// came for a non-2xx final response (timer H), or the TU never answered a
    /// non-INVITE request. The transaction has ended.
    Timeout(Tx),
    /// The caller reported that sending for this transaction failed. The transaction has
    /// ended.
    TransportError(Tx),
}

/// A message to put on the wire.
#[derive(Debug, PartialEq, Eq)]
pub struct Transmit<'t, A> {
    /// Where to send it.
    pub peer: A,
    /// Whether the transaction runs over a reliable transport.
    pub reliable: bool,
    /// The message.
    pub bytes: &'t [u8],
}

/// Why the layer refused a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum TxError {
    /// Every slot is in use, or the store has no room for the message while the
    /// other transactions' messages are kept. For a received request, the layer
    /// answers 503 itself and does not return this.
    Full,
    /// The message is longer than the whole store.
    TooLarge,
    /// The message cannot be parsed, or lacks what a transaction needs: a top Via with
    /// a branch (an RFC 3261 branch for requests the TU sends), CSeq, Call-ID, From and
    /// To, a CSeq method equal to the request method, or a valid status code.
    Malformed,
    /// The handle refers to a transaction that has ended.
    Stale,
    /// The call does not fit the transaction: an ACK to send as a transaction, a
    /// response of the wrong kind or after the final one, a CANCEL for something other
    /// than an INVITE still waiting for its final response, a response that does not
    /// answer the transaction's request.
    WrongState,
}

impl fmt::Display for TxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TxError::Full => "no free transaction slot or store room",
            TxError::TooLarge => "message larger than the transaction store",
            TxError::Malformed => "message unusable for a transaction",
            TxError::Stale => "transaction has ended",
            TxError::WrongState => "not allowed in the transaction's state",
        })
    }
}

impl core::error::Error for TxError {}

/// One live transaction.
#[derive(Clone, Copy, Debug)]
struct Machine<A> {
    kind: Kind,
    state: State,
    peer: A,
    reliable: bool,
    /// The matching key (section 17.1.3 for clients, 17.2.3 for servers).
    key: Key,
    /// Server: From tag, Call-ID and CSeq, for merged-request detection.
    merge: Key,
    /// Server INVITE under RFC 2543 rules: the To tag of the final response sent, which
    /// the ACK must carry.
    ack_tag: Option<Key>,
    /// When to send the stored message again (timers A, E, G).
    retransmit_at: Option<Instant>,
    /// The interval that produced `retransmit_at`.
    interval: Duration,
    /// When the state ends: timers B, D, F, H, I, J, K, L, M, or the answer limit.
    deadline: Option<Instant>,
    /// What happens at `deadline`.
    on_deadline: Expiry,
    /// INVITE client: the CANCEL waiting for a provisional response. CANCEL: its INVITE.
    link: Option<Handle>,
    /// Whether an entry for this slot sits in the transmit queue.
    queued: bool,
}

impl<A> Machine<A> {
    /// Finished, only absorbing retransmissions until its deadline: it may give its
    /// slot up early, unless its message (a final response just made, an ACK) still
    /// waits in the transmit queue.
    fn lingering(&self) -> bool {
        matches!(self.state, State::Completed | State::Confirmed)
            && self.on_deadline == Expiry::End
            && self.link.is_none()
            && !self.queued
    }
}

/// What the deadline of a machine means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expiry {
    /// The transaction failed: tell the TU.
    Timeout,
    /// The transaction has done its job and quietly ends.
    End,
}

/// Where a message lies in the store; empty when `len` is 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Span {
    start: u32,
    len: u32,
}

impl Span {
    const EMPTY: Span = Span { start: 0, len: 0 };

    fn is_empty(self) -> bool {
        self.len == 0
    }

    fn end(self) -> usize {
        self.start as usize + self.len as usize
    }

    fn range(self) -> core::ops::Range<usize> {
        self.start as usize..self.end()
    }
}

struct Slot<A> {
    generation: u16,
    machine: ZeroOption<Machine<A>>,
    msg: Span,
}

/// The transaction layer: up to `N` transactions sharing a `B`-octet message store,
/// peers of type `A`. See the [module documentation](self).
pub struct Transactions<A, const N: usize, const B: usize> {
    /// None stands for [`Config::DEFAULT`] (see [`Transactions::zeroed`]).
    config: ZeroOption<Config>,
    slots: [Slot<A>; N],
    /// The messages of the slots and the stateless answer, packed below `used`.
    store: [u8; B],
    /// Where the free tail of the store begins.
    used: usize,
    /// Slots with a message to send, with the generation that queued it.
    queue: Deque<Handle, N>,
    /// A response the layer made without a transaction (503, 482), and where it goes.
    stateless: Span,
    stateless_to: ZeroOption<(A, bool)>,
    events: Deque<Event, N>,
    /// Events that did not fit: only a caller that never drains the queue loses any.
    events_lost: u32,
    /// Finished transactions ended early to make room (see [`Self::reclaimed`]).
    reclaimed: u32,
    /// Messages the store had no room for (see [`Self::unstored`]).
    unstored: u32,
}

impl<A, const N: usize, const B: usize> fmt::Debug for Transactions<A, N, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transactions")
            .field(
                "live",
                &self.slots.iter().filter(|s| s.machine.is_some()).count(),
            )
            .field("capacity", &N)
            .field("buffer", &B)
            .finish_non_exhaustive()
    }
}

/// Parses a message the layer stored (and therefore parsed once already).
fn parse<'m>(bytes: &'m [u8], headers: &'m mut [HeaderIndex]) -> Result<Message<'m>, TxError> {
    Message::parse(bytes, headers).map_err(|_| TxError::Malformed)
}

impl<A: Copy + PartialEq, const N: usize, const B: usize> Transactions<A, N, B> {
    const CHECK: () = assert!(
        N > 0 && N < u16::MAX as usize && B <= u32::MAX as usize,
        "N must be between 1 and 65534, B below 4 GiB"
    );

    /// An empty layer. `const`, so firmware can place it in a `static`.
    pub const fn new(config: Config) -> Self {
        let mut layer = Self::zeroed();
        layer.config = ZeroOption::Some(config);
        layer
    }

    /// An empty layer with [`Config::DEFAULT`] whose bits are all zero: a `static`
    /// holding it, or holding a value that does, goes to `.bss` (RAM only) rather
    /// than `.data` (RAM, and its image in flash).
    pub const fn zeroed() -> Self {
        let () = Self::CHECK;
        Transactions {
            config: ZeroOption::None,
            slots: [const {
                Slot {
                    generation: 0,
                    machine: ZeroOption::None,
                    msg: Span::EMPTY,
                }
            }; N],
            store: [0; B],
            used: 0,
            queue: Deque::new(),
            stateless: Span::EMPTY,
            stateless_to: ZeroOption::None,
            events: Deque::new(),
            events_lost: 0,
            reclaimed: 0,
            unstored: 0,
        }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        self.config.as_ref().unwrap_or(&Config::DEFAULT)
    }

    /// Changes the settings; transactions already running keep the timers they armed.
    pub fn set_config(&mut self, config: Config) {
        self.config = ZeroOption::Some(config);
    }

    /// Starts over in place with `config`: every transaction ends without a word (no
    /// message, no event), every handle given out goes stale, the store, the queues
    /// and the counters are emptied. For a user agent that is set up anew; nothing
    /// the size of the table passes through the stack.
    pub fn reset(&mut self, config: Config) {
        for slot in &mut self.slots {
            slot.machine = ZeroOption::None;
            slot.msg = Span::EMPTY;
            slot.generation = slot.generation.wrapping_add(1);
        }
        self.config = ZeroOption::Some(config);
        self.used = 0;
        self.queue.clear();
        self.stateless = Span::EMPTY;
        self.stateless_to = ZeroOption::None;
        self.events.clear();
        self.events_lost = 0;
        self.reclaimed = 0;
        self.unstored = 0;
    }

    /// Octets of the store the kept messages take now.
    pub fn stored_octets(&self) -> usize {
        self.live_octets()
    }

    /// How many transactions are live.
    pub fn len(&self) -> usize {
        self.slots.iter().filter(|s| s.machine.is_some()).count()
    }

    /// Whether no transaction is live.
    pub fn is_empty(&self) -> bool {
        self.slots.iter().all(|s| s.machine.is_none())
    }

    /// Events dropped because the caller did not drain [`Self::poll_event`].
    pub fn events_lost(&self) -> u32 {
        self.events_lost
    }

    /// How many finished transactions were ended before their time to make room for
    /// a new one. A transaction that has its final answer lingers only to absorb
    /// retransmissions (timers D, I, J, K: up to 32 s over UDP); when every slot is
    /// taken, the one of those whose time is up soonest gives way, rather than a new
    /// request being refused. A retransmission that reaches it later goes to the
    /// transaction user as unmatched.
    pub fn reclaimed(&self) -> u32 {
        self.reclaimed
    }

    /// How many ACKs for non-2xx final responses were not sent because the store had
    /// no room for them, even after the lingering transactions gave way: the
    /// transaction completes all the same, the response reaches the TU, and the
    /// server, unacknowledged, retransmits its response until its timer H. A store
    /// sized for the messages in flight keeps this at zero.
    pub fn unstored(&self) -> u32 {
        self.unstored
    }

    /// Whether a new transaction would get a slot now: one is free, or a finished
    /// one would give way (see [`Self::reclaimed`]). [`Self::len`] counts the
    /// finished ones too.
    pub fn has_room(&self) -> bool {
        self.slots
            .iter()
            .any(|s| s.machine.as_ref().is_none_or(Machine::lingering))
    }

    /// The state of a transaction, or `None` once it has ended.
    pub fn state(&self, tx: impl Into<Tx>) -> Option<State> {
        self.machine(tx.into().handle()).map(|m| m.state)
    }

    /// The message a transaction keeps: the request (or generated ACK) of a client
    /// transaction, the latest response of a server transaction.
    pub fn stored(&self, tx: impl Into<Tx>) -> Option<&[u8]> {
        let h = tx.into().handle();
        self.machine(h)?;
        Some(&self.store[self.slots[usize::from(h.index)].msg.range()])
    }

    fn machine(&self, h: Handle) -> Option<&Machine<A>> {
        let slot = self.slots.get(usize::from(h.index))?;
        if slot.generation != h.generation {
            return None;
        }
        slot.machine.as_ref()
    }

    fn machine_mut(&mut self, h: Handle) -> Option<&mut Machine<A>> {
        let slot = self.slots.get_mut(usize::from(h.index))?;
        if slot.generation != h.generation {
            return None;
        }
        slot.machine.as_mut()
    }

    fn handle(&self, index: usize) -> Handle {
        Handle {
            index: index as u16,
            generation: self.slots[index].generation,
        }
    }

    /// A free slot, or the slot of the finished transaction that would end first
    /// (see [`Self::reclaimed`]), ended now.
    fn take_slot(&mut self) -> Option<usize> {
        if let Some(i) = self.slots.iter().position(|s| s.machine.is_none()) {
            return Some(i);
        }
        let index = self
            .slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                s.machine
                    .as_ref()
                    .filter(|m| m.lingering())
                    .map(|m| (i, m.deadline))
            })
            .min_by_key(|(_, deadline)| *deadline)?
            .0;
        self.end(index);
        self.reclaimed = self.reclaimed.saturating_add(1);
        Some(index)
    }

    /// Ends a transaction and frees its slot.
    fn end(&mut self, index: usize) {
        self.release_msg(index);
        let slot = &mut self.slots[index];
        slot.machine = ZeroOption::None;
        // A new generation makes every outstanding handle and queue entry stale.
        slot.generation = slot.generation.wrapping_add(1);
    }

    // ----- the message store ---------------------------------------------------------

    /// Forgets a slot's message; the tail shrinks when it was the last one.
    fn release_msg(&mut self, index: usize) {
        let msg = core::mem::replace(&mut self.slots[index].msg, Span::EMPTY);
        if !msg.is_empty() && msg.end() == self.used {
            self.used = msg.start as usize;
        }
    }

    fn live_octets(&self) -> usize {
        let stateless = if self.stateless_to.is_some() {
            self.stateless.len as usize
        } else {
            0
        };
        self.slots.iter().map(|s| s.msg.len as usize).sum::<usize>() + stateless
    }

    /// Makes the free tail at least `len` octets long: compacts the store, and ends
    /// lingering transactions (soonest deadline first) while the kept messages leave
    /// too little room.
    fn make_room(&mut self, len: usize) -> Result<(), TxError> {
        if len > B {
            return Err(TxError::TooLarge);
        }
        if self.stateless_to.is_none() {
            // Polled already: its octets are free once the caller's borrow ended.
            if !self.stateless.is_empty() && self.stateless.end() == self.used {
                self.used = self.stateless.start as usize;
            }
            self.stateless = Span::EMPTY;
        }
        if B - self.used >= len {
            return Ok(());
        }
        while B - self.live_octets() < len {
            let index = self
                .slots
                .iter()
                .enumerate()
                .filter(|(_, s)| !s.msg.is_empty())
                .filter_map(|(i, s)| {
                    s.machine
                        .as_ref()
                        .filter(|m| m.lingering())
                        .map(|m| (i, m.deadline))
                })
                .min_by_key(|(_, deadline)| *deadline)
                .ok_or(TxError::Full)?
                .0;
            self.end(index);
            self.reclaimed = self.reclaimed.saturating_add(1);
        }
        self.compact();
        Ok(())
    }

    /// Moves every kept message down to the start of the store, in order, so the
    /// free octets are one tail.
    fn compact(&mut self) {
        // `make_room`, the only caller, has let go of a stateless answer already sent.
        let Self {
            slots,
            store,
            stateless,
            used,
            ..
        } = self;
        let mut cursor = 0usize;
        loop {
            // The unmoved message lowest in the store: every moved one now ends at or
            // below `cursor`, every unmoved one starts at or above it.
            let next = slots
                .iter_mut()
                .map(|s| &mut s.msg)
                .chain(core::iter::once(&mut *stateless))
                .filter(|m| !m.is_empty() && m.start as usize >= cursor)
                .min_by_key(|m| m.start);
            let Some(msg) = next else {
                break;
            };
            let from = msg.range();
            store.copy_within(from, cursor);
            msg.start = cursor as u32;
            cursor = msg.end();
        }
        *used = cursor;
    }

    /// Makes `bytes` slot `index`'s message, in place of the one it had.
    fn keep(&mut self, index: usize, bytes: &[u8]) -> Result<(), TxError> {
        self.release_msg(index);
        self.make_room(bytes.len())?;
        let start = self.used;
        self.store[start..start + bytes.len()].copy_from_slice(bytes);
        self.used += bytes.len();
        self.slots[index].msg = Span {
            start: start as u32,
            len: bytes.len() as u32,
        };
        Ok(())
    }

    /// Makes a message built from slot `from`'s message slot `to`'s, in place of the
    /// one `to` had (`to` may be `from`). `bound` is the most the message can take:
    /// room for it is made only when the free tail is too short.
    fn derive(
        &mut self,
        from: usize,
        to: usize,
        bound: usize,
        build: impl Fn(&Message<'_>, SliceSink<'_>) -> Result<usize, TxError>,
    ) -> Result<(), TxError> {
        for attempt in 0..2 {
            if attempt == 1 {
                self.make_room(bound.min(B))?;
            }
            let source = self.slots[from].msg;
            let (kept, tail) = self.store.split_at_mut(self.used);
            let mut headers = [HeaderIndex::EMPTY; MAX_HEADERS];
            let msg = parse(&kept[source.range()], &mut headers)?;
            match build(&msg, SliceSink::new(tail)) {
                Ok(len) => {
                    let start = self.used;
                    // Not `release_msg`: the old message is below the new one.
                    self.slots[to].msg = Span {
                        start: start as u32,
                        len: len as u32,
                    };
                    self.used += len;
                    return Ok(());
                }
                Err(TxError::TooLarge) if attempt == 0 => {}
                Err(e) => return Err(e),
            }
        }
        Err(TxError::TooLarge)
    }

    fn push_event(&mut self, event: Event) {
        if self.events.push_back(event).is_err() {
            self.events_lost = self.events_lost.saturating_add(1);
        }
    }

    /// Queues the slot's stored message for sending.
    fn queue(&mut self, index: usize) {
        let h = self.handle(index);
        if let Some(m) = self.slots[index].machine.as_mut()
            && !m.queued
        {
            m.queued = true;
            // One entry per slot at most, so the queue (capacity N) cannot overflow.
            let _ = self.queue.push_back(h);
        }
    }

    fn arm_retransmit(&mut self, index: usize, now: Instant, interval: Duration) {
        if let Some(m) = self.slots[index].machine.as_mut() {
            if m.reliable {
                m.retransmit_at = None;
            } else {
                m.interval = interval;
                m.retransmit_at = Some(now + interval);
            }
        }
    }

    fn set_deadline(&mut self, index: usize, at: Option<Instant>, on: Expiry) {
        if let Some(m) = self.slots[index].machine.as_mut() {
            m.deadline = at;
            m.on_deadline = on;
        }
    }

    /// Timers D, I, J, K: a wait for retransmissions on unreliable transports, none on
    /// reliable ones.
    fn linger(&self, reliable: bool, span: Duration) -> Duration {
        if reliable { Duration::ZERO } else { span }
    }

    // ----- client side ---------------------------------------------------------------

    /// Starts a client transaction for `request` (a complete message the TU built) and
    /// queues it for sending to `peer`.
    ///
    /// The request needs a top Via with an RFC 3261 branch (see
    /// [`crate::ids::IdGenerator::branch`]), a CSeq whose method is the request's, and
    /// may not be an ACK: an ACK for a 2xx is sent by the TU without a transaction, and
    /// the ACK for other final responses is generated here.
    ///
    /// # Errors
    /// [`TxError::Malformed`], [`TxError::WrongState`] for an ACK or CANCEL (use
    /// [`Self::cancel`]), [`TxError::TooLarge`], [`TxError::Full`].
    pub fn send_request(
        &mut self,
        now: Instant,
        peer: A,
        reliable: bool,
        request: &[u8],
    ) -> Result<ClientTx, TxError> {
        let mut headers = [HeaderIndex::EMPTY; MAX_HEADERS];
        let msg = parse(request, &mut headers)?;
        let method = msg.method().ok_or(TxError::Malformed)?;
        if matches!(method, Method::Ack | Method::Cancel) {
            return Err(TxError::WrongState);
        }
        let via = msg.top_via().map_err(|_| TxError::Malformed)?;
        let cseq = msg.cseq().map_err(|_| TxError::Malformed)?;
        if !via.has_rfc3261_branch()
            || cseq.method != method
            || msg.call_id().is_err()
            || msg.from().is_err()
            || msg.to().is_err()
        {
            return Err(TxError::Malformed);
        }
        let branch = via.branch().unwrap_or("");
        let kind = if method == Method::Invite {
            Kind::InviteClient
        } else {
            Kind::NonInviteClient
        };
        if request.len() > B {
            return Err(TxError::TooLarge);
        }
        let index = self.take_slot().ok_or(TxError::Full)?;
        self.keep(index, request)?;
        self.start_client(
            index,
            now,
            peer,
            reliable,
            kind,
            key::client(branch, method),
        );
        Ok(ClientTx(self.handle(index)))
    }

    fn start_client(
        &mut self,
        index: usize,
        now: Instant,
        peer: A,
        reliable: bool,
        kind: Kind,
        key: Key,
    ) {
        let timers = self.config().timers;
        self.slots[index].machine = ZeroOption::Some(Machine {
            kind,
            state: if kind == Kind::InviteClient {
                State::Calling
            } else {
                State::Trying
            },
            peer,
            reliable,
            key,
            merge: Key::NONE,
            ack_tag: None,
            retransmit_at: None,
            interval: timers.t1,
            // Timer B or F.
            deadline: Some(now + timers.t1_x64()),
            on_deadline: Expiry::Timeout,
            link: None,
            queued: false,
        });
        self.arm_retransmit(index, now, timers.t1);
        self.queue(index);
    }

    /// Cancels an INVITE client transaction (section 9.1): builds the CANCEL from the
    /// stored INVITE and starts a client transaction for it. If no provisional response
    /// has arrived yet, the CANCEL waits (state [`State::Deferred`]) and goes out with
    /// the first one; if the INVITE gets its final response first, the CANCEL is
    /// dropped. The INVITE transaction then ends with the 487 (or whatever final
    /// response the server sends).
    ///
    /// # Errors
    /// [`TxError::Stale`], [`TxError::WrongState`] when the transaction is not an INVITE
    /// waiting for a final response or is already being cancelled, [`TxError::Full`],
    /// [`TxError::TooLarge`].
    pub fn cancel(&mut self, now: Instant, invite: ClientTx) -> Result<ClientTx, TxError> {
        let h = invite.0;
        let m = *self.machine(h).ok_or(TxError::Stale)?;
        if m.kind != Kind::InviteClient
            || !matches!(m.state, State::Calling | State::Proceeding)
            || m.link.is_some()
        {
            return Err(TxError::WrongState);
        }
        let invite = usize::from(h.index);
        let branch_key = {
            let mut headers = [HeaderIndex::EMPTY; MAX_HEADERS];
            let msg = parse(&self.store[self.slots[invite].msg.range()], &mut headers)?;
            let branch = msg
                .top_via()
                .ok()
                .and_then(|v| v.branch())
                .unwrap_or_default();
            key::client(branch, Method::Cancel)
        };
        let index = self.take_slot().ok_or(TxError::Full)?;
        // A CANCEL copies the INVITE's request line and a few of its headers.
        let bound = self.slots[invite].msg.len as usize + 32;
        if let Err(e) = self.derive(invite, index, bound, build_cancel) {
            self.release_msg(index);
            return Err(e);
        }
        self.start_client(
            index,
            now,
            m.peer,
            m.reliable,
            Kind::NonInviteClient,
            branch_key,
        );
        let cancel = self.handle(index);
        if let Some(c) = self.slots[index].machine.as_mut() {
            c.link = Some(h);
        }
        if m.state == State::Calling {
            self.defer(index);
        }
        if let Some(inv) = self.machine_mut(h) {
            inv.link = Some(cancel);
        }
        Ok(ClientTx(cancel))
    }

    /// Holds a freshly started CANCEL until its INVITE hears a provisional response.
    fn defer(&mut self, index: usize) {
        if let Some(m) = self.slots[index].machine.as_mut() {
            m.state = State::Deferred;
            m.retransmit_at = None;
            m.deadline = None;
            // Leave the queue entry stale: `poll_transmit` skips machines in Deferred.
            m.queued = false;
        }
    }

    /// Sends a deferred CANCEL now that its INVITE heard a provisional response.
    fn release(&mut self, index: usize, now: Instant) {
        let timers = self.config().timers;
        if let Some(m) = self.slots[index].machine.as_mut()
            && m.state == State::Deferred
        {
            m.state = State::Trying;
            m.deadline = Some(now + timers.t1_x64());
            m.on_deadline = Expiry::Timeout;
            self.arm_retransmit(index, now, timers.t1);
            self.queue(index);
        }
    }

    fn client_response(
        &mut self,
        now: Instant,
        index: usize,
        msg: &Message<'_>,
        status: StatusCode,
    ) -> Result<Received, TxError> {
        let timers = self.config().timers;
        let h = self.handle(index);
        let Some(m) = self.slots[index].machine.get() else {
            return Ok(Received::Unmatched);
        };
        let tx = ClientTx(h);
        match (m.kind, m.state) {
            (_, State::Deferred) => Ok(Received::Unmatched),
            (Kind::InviteClient, State::Calling | State::Proceeding) => {
                if status.is_provisional() {
                    self.update(index, |m| {
                        m.state = State::Proceeding;
                        m.retransmit_at = None;
                        // Timer B only runs in Calling.
                        m.deadline = None;
                    });
                    if let Some(cancel) = m.link {
                        self.release(usize::from(cancel.index), now);
                    }
                    return Ok(Received::Response(tx));
                }
                self.drop_deferred_cancel(m.link);
                if status.is_success() {
                    self.update(index, |m| {
                        m.state = State::Accepted;
                        m.retransmit_at = None;
                    });
                    // Timer M (RFC 6026).
                    self.set_deadline(index, Some(now + timers.t1_x64()), Expiry::End);
                } else {
                    if self.generate_ack(index, msg).is_err() {
                        // No room for the ACK: the INVITE is not needed any more, and
                        // the server's retransmissions go unanswered until its timer H.
                        self.release_msg(index);
                        self.unstored = self.unstored.saturating_add(1);
                    }
                    self.update(index, |m| {
                        m.state = State::Completed;
                        m.retransmit_at = None;
                    });
                    // Timer D: at least 32 s on unreliable transports.
                    let wait =
                        self.linger(m.reliable, timers.t1_x64().max(Duration::from_secs(32)));
                    self.set_deadline(index, Some(now + wait), Expiry::End);
                    self.queue(index);
                }
                Ok(Received::Response(tx))
            }
            (Kind::InviteClient, State::Accepted) => Ok(if status.is_success() {
                Received::Retransmitted2xx(tx)
            } else {
                Received::Absorbed
            }),
            (Kind::InviteClient, _) => {
                // Completed: a retransmitted final response gets the ACK again.
                if status.is_final() && !status.is_success() {
                    self.queue(index);
                }
                Ok(Received::Absorbed)
            }
            (_, State::Trying | State::Proceeding) => {
                if status.is_provisional() {
                    self.update(index, |m| m.state = State::Proceeding);
                } else {
                    self.update(index, |m| {
                        m.state = State::Completed;
                        m.retransmit_at = None;
                    });
                    // Timer K.
                    let wait = self.linger(m.reliable, timers.t4);
                    self.set_deadline(index, Some(now + wait), Expiry::End);
                }
                Ok(Received::Response(tx))
            }
            _ => Ok(Received::Absorbed),
        }
    }

    fn update(&mut self, index: usize, f: impl FnOnce(&mut Machine<A>)) {
        if let Some(m) = self.slots[index].machine.as_mut() {
            f(m);
        }
    }

    fn drop_deferred_cancel(&mut self, link: Option<Handle>) {
        if let Some(cancel) = link
            && self
                .machine(cancel)
                .is_some_and(|c| c.state == State::Deferred)
        {
            self.end(usize::from(cancel.index));
        }
    }

    /// Replaces the stored INVITE by the ACK for a non-2xx final response (section
    /// 17.1.1.3).
    fn generate_ack(&mut self, index: usize, response: &Message<'_>) -> Result<(), TxError> {
        let to = response.header(HeaderName::To).ok_or(TxError::Malformed)?;
        // An ACK copies the INVITE's request line and a few of its headers, with the
        // response's To.
        let bound = self.slots[index].msg.len as usize + to.len() + 32;
        self.derive(index, index, bound, |invite, out| {
            build_ack(invite, to, out)
        })
    }

    // ----- server side ---------------------------------------------------------------

    /// Takes an incoming message from `peer` (already parsed by the caller, who should
    /// have checked it with [`Message::validate`](crate::wire::Message::validate)) and
    /// says what it is for.
    ///
    /// # Errors
    /// [`TxError::Malformed`] when the message lacks the fields matching needs; a
    /// request that fails so deserves a 400 from the caller.
    pub fn receive(
        &mut self,
        now: Instant,
        peer: A,
        reliable: bool,
        msg: &Message<'_>,
    ) -> Result<Received, TxError> {
        if let Some(status) = msg.status() {
            let via = msg.top_via().map_err(|_| TxError::Malformed)?;
            let cseq = msg.cseq().map_err(|_| TxError::Malformed)?;
            let Some(branch) = via.branch() else {
                return Ok(Received::Unmatched);
            };
            let key = key::client(branch, cseq.method);
            return match self.find(|m| m.kind.is_client() && m.key == key) {
                Some(index) => self.client_response(now, index, msg, status),
                None => Ok(Received::Unmatched),
            };
        }
        let method = msg.method().ok_or(TxError::Malformed)?;
        let keys = key::request(msg).ok_or(TxError::Malformed)?;
        if msg.cseq().map_err(|_| TxError::Malformed)?.method != method {
            return Err(TxError::Malformed);
        }
        let existing = self.find(|m| !m.kind.is_client() && m.key == keys.key);
        if method == Method::Ack {
            return Ok(match existing {
                Some(index) => self.server_ack(now, index, msg, keys.rfc3261),
                None => Received::Ack,
            });
        }
        if let Some(index) = existing {
            return Ok(self.server_retransmission(index));
        }
        if self.config().detect_merged
            && msg.to().is_ok_and(|to| to.tag().is_none())
            && self
                .find(|m| !m.kind.is_client() && m.merge == keys.merge)
                .is_some()
        {
            return self.reject(msg, peer, reliable, StatusCode::LOOP_DETECTED, &keys.key);
        }
        let Some(index) = self.take_slot() else {
            return self.reject(
                msg,
                peer,
                reliable,
                StatusCode::SERVICE_UNAVAILABLE,
                &keys.key,
            );
        };
        let kind = if method == Method::Invite {
            Kind::InviteServer
        } else {
            Kind::NonInviteServer
        };
        let (deadline, on_deadline) = match kind {
            Kind::NonInviteServer => (
                Some(now + self.config().server_answer_limit),
                Expiry::Timeout,
            ),
            _ => (None, Expiry::End),
        };
        self.release_msg(index);
        self.slots[index].machine = ZeroOption::Some(Machine {
            kind,
            state: if kind == Kind::InviteServer {
                State::Proceeding
            } else {
                State::Trying
            },
            peer,
            reliable,
            key: keys.key,
            merge: keys.merge,
            ack_tag: None,
            retransmit_at: None,
            interval: self.config().timers.t1,
            deadline,
            on_deadline,
            link: None,
            queued: false,
        });
        let tx = ServerTx(self.handle(index));
        if kind == Kind::InviteServer && self.config().auto_trying {
            // A 100 copies the request's Via, From, To, Call-ID and CSeq.
            let _ = self.make_room(answer_bound(msg).min(B));
            let tail = &mut self.store[self.used..];
            let trying =
                Writer::response_to(SliceSink::new(tail), msg, StatusCode::TRYING, "", None)
                    .and_then(|w| w.finish(b""));
            // A request whose headers do not fit gets no 100; the TU's own response
            // will fail the same way and tell it.
            if let Ok(sink) = trying {
                let len = sink.len();
                self.slots[index].msg = Span {
                    start: self.used as u32,
                    len: len as u32,
                };
                self.used += len;
                self.queue(index);
            }
        }
        if method == Method::Cancel {
            let invite = self
                .find(|m| m.kind == Kind::InviteServer && m.key == keys.invite)
                .map(|i| ServerTx(self.handle(i)));
            return Ok(Received::Cancel { cancel: tx, invite });
        }
        Ok(Received::Request(tx))
    }

    fn find(&self, mut pred: impl FnMut(&Machine<A>) -> bool) -> Option<usize> {
        self.slots
            .iter()
            .position(|s| s.machine.as_ref().is_some_and(&mut pred))
    }

    /// A request that matched a live server transaction: replay the latest response
    /// where the state machine says so (sections 17.2.1 and 17.2.2).
    fn server_retransmission(&mut self, index: usize) -> Received {
        let Some(m) = self.slots[index].machine.get() else {
            return Received::Absorbed;
        };
        let replay = match m.state {
            // Non-INVITE Trying discards retransmissions; Confirmed and Accepted absorb
            // them (the TU retransmits 2xx itself).
            State::Proceeding | State::Completed => !self.slots[index].msg.is_empty(),
            _ => false,
        };
        if replay {
            self.queue(index);
        }
        Received::Absorbed
    }

    fn server_ack(
        &mut self,
        now: Instant,
        index: usize,
        msg: &Message<'_>,
        rfc3261: bool,
    ) -> Received {
        let Some(m) = self.slots[index].machine.get() else {
            return Received::Ack;
        };
        if m.kind != Kind::InviteServer {
            return Received::Ack;
        }
        // Under the RFC 2543 rules the ACK must also carry the To tag of our response.
        if !rfc3261 {
            let tag = msg.to().ok().and_then(|to| to.tag()).map(key::tag);
            if m.ack_tag.is_some() && tag != m.ack_tag {
                return Received::Ack;
            }
        }
        match m.state {
            State::Completed => {
                self.update(index, |m| {
                    m.state = State::Confirmed;
                    m.retransmit_at = None;
                });
                // Timer I.
                let wait = self.linger(m.reliable, self.config().timers.t4);
                self.set_deadline(index, Some(now + wait), Expiry::End);
                Received::Absorbed
            }
            State::Accepted | State::Proceeding => Received::Ack,
            _ => Received::Absorbed,
        }
    }

    /// Answers a request without a transaction.
    fn reject(
        &mut self,
        msg: &Message<'_>,
        peer: A,
        reliable: bool,
        status: StatusCode,
        key: &Key,
    ) -> Result<Received, TxError> {
        // One stateless answer waits at a time; under a flood the extra ones are
        // dropped, which the peers' retransmissions make up for.
        if self.stateless_to.is_some() {
            return Ok(Received::Rejected(status));
        }
        let tag = key.hex8();
        let tag = core::str::from_utf8(&tag).unwrap_or("0");
        // Room for the answer: it copies the request's Via, From, To, Call-ID and
        // CSeq. When even finished transactions leave none, the answer is dropped.
        if self.make_room(answer_bound(msg).min(B)).is_err() {
            return Ok(Received::Rejected(status));
        }
        let retry_after = self.config().retry_after;
        let sink = SliceSink::new(&mut self.store[self.used..]);
        let mut w =
            Writer::response_to(sink, msg, status, "", Some(tag)).map_err(|_| TxError::TooLarge)?;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            let mut digits = [0u8; 10];
            let mut n = SliceSink::new(&mut digits);
            n.put_u32(retry_after).map_err(|_| TxError::TooLarge)?;
            let n = core::str::from_utf8(n.written()).unwrap_or("0");
            w.header("Retry-After", n).map_err(|_| TxError::TooLarge)?;
        }
        if let Ok(sink) = w.finish(b"") {
            let len = sink.len();
            self.stateless = Span {
                start: self.used as u32,
                len: len as u32,
            };
            self.used += len;
            self.stateless_to = ZeroOption::Some((peer, reliable));
        }
        Ok(Received::Rejected(status))
    }

    /// Sends the TU's response on a server transaction and moves the machine on.
    ///
    /// The response is queued for [`Self::poll_transmit`]. A provisional response still
    /// waiting there when the next response is given is superseded by it: provisional
    /// responses are unreliable and only the latest one matters (a final response is
    /// never superseded, since nothing but a repeated 2xx may follow it).
    ///
    /// # Errors
    /// [`TxError::Stale`]; [`TxError::Malformed`] for bytes that are not a response;
    /// [`TxError::WrongState`] for a response after the final one (except further 2xx
    /// to an INVITE, which RFC 6026 lets through) or whose CSeq does not match;
    /// [`TxError::TooLarge`].
    pub fn respond(&mut self, now: Instant, tx: ServerTx, response: &[u8]) -> Result<(), TxError> {
        let h = tx.0;
        let m = *self.machine(h).ok_or(TxError::Stale)?;
        let index = usize::from(h.index);
        let mut headers = [HeaderIndex::EMPTY; MAX_HEADERS];
        let msg = parse(response, &mut headers)?;
        let status = msg.status().ok_or(TxError::Malformed)?;
        if !status.is_valid() {
            return Err(TxError::Malformed);
        }
        let allowed = match (m.kind, m.state) {
            (Kind::InviteServer, State::Proceeding) => true,
            (Kind::InviteServer, State::Accepted) => status.is_success(),
            (Kind::NonInviteServer, State::Trying | State::Proceeding) => true,
            _ => false,
        };
        if !allowed {
            return Err(TxError::WrongState);
        }
        self.keep(index, response)?;
        let timers = self.config().timers;
        if status.is_provisional() {
            if m.kind == Kind::NonInviteServer {
                self.update(index, |m| m.state = State::Proceeding);
            }
        } else if m.kind == Kind::NonInviteServer {
            self.update(index, |m| m.state = State::Completed);
            // Timer J.
            let wait = self.linger(m.reliable, timers.t1_x64());
            self.set_deadline(index, Some(now + wait), Expiry::End);
        } else if status.is_success() {
            if m.state == State::Proceeding {
                self.update(index, |m| m.state = State::Accepted);
                // Timer L (RFC 6026).
                self.set_deadline(index, Some(now + timers.t1_x64()), Expiry::End);
            }
        } else {
            let tag = msg.to().ok().and_then(|to| to.tag()).map(key::tag);
            self.update(index, |m| {
                m.state = State::Completed;
                m.ack_tag = tag;
            });
            // Timers G and H.
            self.arm_retransmit(index, now, timers.t1);
            self.set_deadline(index, Some(now + timers.t1_x64()), Expiry::Timeout);
        }
        self.queue(index);
        Ok(())
    }

    /// Reports that sending a message of `tx` failed (section 17.1.4 and 17.2.4): the
    /// transaction ends and [`Event::TransportError`] tells the TU.
    ///
    /// # Errors
    /// [`TxError::Stale`].
    pub fn transport_error(&mut self, tx: impl Into<Tx>) -> Result<(), TxError> {
        let tx = tx.into();
        let h = tx.handle();
        let m = *self.machine(h).ok_or(TxError::Stale)?;
        self.drop_deferred_cancel(m.link);
        self.end(usize::from(h.index));
        self.push_event(Event::TransportError(tx));
        Ok(())
    }

    // ----- output --------------------------------------------------------------------

    /// The next message to send, if any. Call until it returns `None`.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Transmit<'_, A>> {
        if let Some((peer, reliable)) = self.stateless_to.take() {
            return Some(Transmit {
                peer,
                reliable,
                bytes: &self.store[self.stateless.range()],
            });
        }
        let index = loop {
            let h = self.queue.pop_front()?;
            let slot = &mut self.slots[usize::from(h.index)];
            if slot.generation != h.generation {
                continue;
            }
            let Some(m) = slot.machine.as_mut() else {
                continue;
            };
            let send = m.queued && m.state != State::Deferred && !slot.msg.is_empty();
            m.queued = false;
            if send {
                break usize::from(h.index);
            }
        };
        let slot = &self.slots[index];
        let m = slot.machine.as_ref()?;
        Some(Transmit {
            peer: m.peer,
            reliable: m.reliable,
            bytes: &self.store[slot.msg.range()],
        })
    }

    /// The next event for the TU, if any. Call until it returns `None`.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Self::handle_timeout`] must be called next, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.slots
            .iter()
            .filter_map(|s| s.machine.as_ref())
            .flat_map(|m| [m.retransmit_at, m.deadline])
            .flatten()
            .min()
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let t2 = self.config().timers.t2;
        for index in 0..N {
            let Some(m) = self.slots[index].machine.get() else {
                continue;
            };
            if m.deadline.is_some_and(|d| d <= now) {
                // A final message still waiting to go out (timers J and K of zero on
                // reliable transports) is sent before the slot is freed.
                if m.queued && m.on_deadline == Expiry::End {
                    continue;
                }
                let h = self.handle(index);
                let tx = if m.kind.is_client() {
                    Tx::Client(ClientTx(h))
                } else {
                    Tx::Server(ServerTx(h))
                };
                self.drop_deferred_cancel(m.link);
                self.end(index);
                if m.on_deadline == Expiry::Timeout {
                    self.push_event(Event::Timeout(tx));
                }
                continue;
            }
            if let Some(at) = m.retransmit_at
                && at <= now
            {
                // Timer A doubles without bound (timer B ends it); E and G double up to
                // T2, and E stays at T2 once a provisional response came.
                let next = match (m.kind, m.state) {
                    (Kind::InviteClient, _) => m.interval.saturating_mul(2),
                    (Kind::NonInviteClient, State::Proceeding) => t2,
                    _ => m.interval.saturating_mul(2).min(t2),
                };
                self.arm_retransmit(index, now, next);
                self.queue(index);
            }
        }
    }
}

/// The headers a CANCEL or an ACK copies from the INVITE, in order (sections 9.1 and
/// 17.1.1.3), after the top Via.
fn copy_invite_headers(
    invite: &Message<'_>,
    w: &mut Writer<SliceSink<'_>>,
    to: Option<&str>,
    method: Method<'_>,
) -> Result<(), EmitError> {
    let top_via = invite
        .header_lines(HeaderName::Via)
        .next()
        .ok_or(EmitError::InvalidHeader)?;
    // Only the first value of a comma-joined Via line.
    let top_via = crate::wire::CommaSplit::new(top_via)
        .next()
        .unwrap_or(top_via);
    w.header("Via", top_via)?;
    w.header("Max-Forwards", "70")?;
    for name in [HeaderName::From, HeaderName::To, HeaderName::CallId] {
        let value = match (name, to) {
            (HeaderName::To, Some(to)) => to,
            _ => invite.header(name).ok_or(EmitError::InvalidHeader)?,
        };
        w.header(name.as_str(), value)?;
    }
    let cseq = invite.cseq().map_err(|_| EmitError::InvalidHeader)?;
    w.header_typed(
        HeaderName::CSeq,
        &crate::wire::CSeq {
            seq: cseq.seq,
            method,
        },
    )?;
    for route in invite.header_lines(HeaderName::Route) {
        w.header("Route", route)?;
    }
    Ok(())
}

/// Writes the CANCEL of `invite` to `out`: its length.
fn build_cancel(invite: &Message<'_>, out: SliceSink<'_>) -> Result<usize, TxError> {
    let uri = invite.request_uri_str().ok_or(TxError::Malformed)?;
    let build = || -> Result<usize, EmitError> {
        let mut w = Writer::request_str(out, Method::Cancel, uri)?;
        copy_invite_headers(invite, &mut w, None, Method::Cancel)?;
        Ok(w.finish(b"")?.len())
    };
    build().map_err(emit_error)
}

/// Writes the ACK of `invite` for a non-2xx answer whose To is `to`: its length.
fn build_ack(invite: &Message<'_>, to: &str, out: SliceSink<'_>) -> Result<usize, TxError> {
    let uri = invite.request_uri_str().ok_or(TxError::Malformed)?;
    let build = || -> Result<usize, EmitError> {
        let mut w = Writer::request_str(out, Method::Ack, uri)?;
        copy_invite_headers(invite, &mut w, Some(to), Method::Ack)?;
        Ok(w.finish(b"")?.len())
    };
    build().map_err(emit_error)
}

/// The most a response the layer makes to `request` (100, 482, 503) can take: the
/// request's head (the header lines it copies are among them) and a status line, a
/// To tag, Retry-After and Content-Length.
fn answer_bound(request: &Message<'_>) -> usize {
    request.head().len() + 128
}

fn emit_error(e: EmitError) -> TxError {
    match e {
        EmitError::InsufficientSize { .. } => TxError::TooLarge,
        _ => TxError::Malformed,
    }
}
