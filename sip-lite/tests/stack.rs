//! The whole stack between two user agents and a registrar, over a simulated network on
//! a virtual clock: transactions (RFC 3261 section 17), dialogs (section 12, 13.3.1.4),
//! registration (section 10) with digest authentication, and session timers (RFC 4028).
//!
//! Each user agent here is a small transaction user written for the test: one
//! `Transactions`, one `Dialogs`, an optional `Registration` and one `SessionRefresh` per
//! dialog, driven the sans-IO way: after every input, every layer's `poll_transmit` and
//! `poll_event` (and the registration's `poll_request`, the timers' `poll_action`) are
//! drained until nothing moves, and the node wakes at the earliest `poll_timeout` of
//! them all. The registrar is a transaction layer and `digest::Verifier`.
//!
//! Every scenario runs once over a perfect network, where the messages on the wire and
//! their instants are asserted exactly, and over a lossy network (loss, duplication,
//! reordering) for many seeds, where the outcome is asserted: the right end state, each
//! exchange completed exactly once at the transaction user, no slot left in any table,
//! no timer left.

use core::time::Duration;
use std::collections::BTreeMap;
use std::string::{String, ToString};
use std::vec::Vec;

use alloc_counter::CountingAllocator;
use sip_lite::dialog::{DialogHandle, Dialogs, RequestOutcome, ResponseOutcome};
use sip_lite::digest::{ChallengeRepr, Secret, Verifier};
use sip_lite::ids::IdGenerator;
use sip_lite::registration::{self, Registration, RegistrationEvent, RegistrationState};
use sip_lite::session_timer::{self, Action, Answer, Outcome, RefreshMethod, SessionRefresh};
use sip_lite::time::{Instant, Timers};
use sip_lite::transaction::{self, ClientTx, Event, Received, ServerTx, Transactions, Tx};
use sip_lite::wire::{
    Credentials, HeaderIndex, HeaderName, Message, Method, SliceSink, StatusCode, Writer,
};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Runs a call into the layers and adds the allocations it made to `$count` (a `Cell`).
/// Every call into `sip_lite` from the user agents that does work (inputs, outputs,
/// builders, parsing, lookups) goes through this, so the zero-allocation test measures
/// the layers and not the simulated network and logs around them. Trivial accessors of
/// a parsed `Message` (`status()`, `method()`) are left out; `tests/no_alloc.rs` covers
/// them.
macro_rules! lay {
    ($count:expr, $e:expr) => {{
        let (r, n) = alloc_counter::allocations(|| $e);
        $count.set($count.get() + n);
        r
    }};
}

const ALICE: u8 = 0;
const BOB: u8 = 1;
const REG: u8 = 2;

const REGISTRAR_URI: &str = "sip:registrar.example.com";
const REALM: &str = "example.com";
const PASSWORD: &str = "secret";

const BUF: usize = 2048;
const DIALOGS: usize = 4;
type Txs = Transactions<u8, 16, { 16 * BUF }>;
type Dlgs = Dialogs<DIALOGS, 512, BUF>;

fn ms(t: u64) -> Instant {
    Instant::from_millis(t)
}

fn node_name(id: u8) -> &'static str {
    match id {
        ALICE => "A",
        BOB => "B",
        _ => "R",
    }
}

/// `INVITE` for a request, `180 INVITE` for a response (status and CSeq method).
fn summary(bytes: &[u8]) -> String {
    let mut hs = [HeaderIndex::EMPTY; 64];
    let msg = Message::parse(bytes, &mut hs).expect("a message the stack built");
    let cseq = msg.cseq().expect("CSeq");
    match msg.status() {
        Some(s) => format!("{} {}", s.0, cseq.method),
        None => format!("{}", cseq.method),
    }
}

// ----- the network ----------------------------------------------------------------------

/// A simulated datagram network: deterministic loss, duplication and delay (which
/// reorders), and a switch that cuts one node off.
struct Net {
    rng: u64,
    /// Per mille.
    loss: u64,
    duplicate: u64,
    /// Delay drawn from `latency..=latency + jitter` ms.
    latency: u64,
    jitter: u64,
    queue: BTreeMap<(Instant, u64), (u8, u8, Vec<u8>)>,
    seq: u64,
    /// Everything a node sends is lost (its link went down).
    cut: [bool; 3],
    /// Extra delay for the next message with this summary from this node, once.
    delay_once: Vec<(u8, String, u64)>,
    /// `"<ms> <from>><to> <summary>"` for every message sent (lost or not).
    trace: Vec<String>,
    /// The same for every message delivered, at its arrival.
    delivered: Vec<String>,
}

impl Net {
    fn perfect() -> Net {
        Net {
            rng: 1,
            loss: 0,
            duplicate: 0,
            latency: 10,
            jitter: 0,
            queue: BTreeMap::new(),
            seq: 0,
            cut: [false; 3],
            delay_once: Vec::new(),
            trace: Vec::new(),
            delivered: Vec::new(),
        }
    }

    /// `loss` and `duplicate` per mille, delay 10 to `10 + jitter` ms.
    fn lossy(seed: u64, loss: u64, duplicate: u64, jitter: u64) -> Net {
        Net {
            rng: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
            loss,
            duplicate,
            jitter,
            ..Net::perfect()
        }
    }

    fn random(&mut self) -> u64 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11
    }

    fn send(&mut self, now: Instant, from: u8, to: u8, bytes: &[u8]) {
        let line = summary(bytes);
        self.trace.push(format!(
            "{} {}>{} {line}",
            now.as_millis(),
            node_name(from),
            node_name(to)
        ));
        if self.cut[usize::from(from)] {
            return;
        }
        let mut extra = 0;
        if let Some(i) = self
            .delay_once
            .iter()
            .position(|(f, l, _)| *f == from && *l == line)
        {
            extra = self.delay_once.remove(i).2;
        }
        let copies = if self.random() % 1000 < self.duplicate {
            2
        } else {
            1
        };
        for _ in 0..copies {
            if self.random() % 1000 < self.loss {
                continue;
            }
            let delay = self.latency + extra + self.random() % (self.jitter + 1);
            self.seq += 1;
            self.queue.insert(
                (now + Duration::from_millis(delay), self.seq),
                (from, to, bytes.to_vec()),
            );
        }
    }

    fn next_delivery(&self) -> Option<Instant> {
        self.queue.keys().next().map(|k| k.0)
    }

    fn pop(&mut self) -> Option<(Instant, u8, u8, Vec<u8>)> {
        let (&key, _) = self.queue.iter().next()?;
        let (from, to, bytes) = self.queue.remove(&key)?;
        self.delivered.push(format!(
            "{} {}>{} {}",
            key.0.as_millis(),
            node_name(from),
            node_name(to),
            summary(&bytes)
        ));
        Some((key.0, from, to, bytes))
    }
}

// ----- the user agent -------------------------------------------------------------------

/// What a client transaction of the user agent is for.
#[derive(Clone, Debug)]
enum Pending {
    Register,
    /// The dialog-creating INVITE (kept: the response that creates a dialog needs it,
    /// RFC 3261 section 12.1.2) and where it went.
    Invite {
        request: Vec<u8>,
        peer: u8,
    },
    /// A request within a dialog.
    InDialog {
        dialog: DialogHandle,
        method: Method<'static>,
    },
    Cancel,
}

/// How the user agent answers an INVITE.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Policy {
    /// 180, then 200 after the delay.
    Accept,
    /// 180, then 486 after the delay.
    Busy,
    /// 180, and nothing more: the caller cancels.
    Ring,
}

/// A dialog as the user agent's TU sees it.
struct Call {
    dialog: DialogHandle,
    peer: u8,
    timer: Option<SessionRefresh>,
    /// The ACK for the dialog's first 2xx was received (UAS) or sent (UAC).
    up: bool,
}

/// The INVITE a UAS has not answered finally yet.
struct Incoming {
    tx: ServerTx,
    dialog: DialogHandle,
    request: Vec<u8>,
    answer_at: Option<Instant>,
}

struct Ua {
    id: u8,
    aor: &'static str,
    contact: &'static str,
    via: &'static str,
    tx: Txs,
    dialogs: Dlgs,
    reg: Option<Registration>,
    ids: IdGenerator,
    timer_config: session_timer::Config,
    calls: [Option<Call>; DIALOGS],
    pending: Vec<(ClientTx, Pending)>,
    /// The session timer of the INVITE we sent, until a dialog takes it.
    invite_timer: Option<SessionRefresh>,
    incoming: Option<Incoming>,
    policy: Policy,
    answer_delay: Duration,
    /// What the TU saw: `"<ms> <what>"`.
    log: Vec<String>,
    outbox: Vec<(u8, Vec<u8>)>,
    /// Allocations made inside the layers.
    allocs: core::cell::Cell<usize>,
}

/// Writes a response to `req` with an optional Contact and session timer headers.
fn build_response(
    req: &[u8],
    status: u16,
    reason: &str,
    to_tag: Option<&str>,
    contact: Option<&str>,
    timer: Option<&session_timer::ResponseHeaders>,
    out: &mut [u8; BUF],
) -> usize {
    let mut hs = [HeaderIndex::EMPTY; 64];
    let msg = Message::parse(req, &mut hs).expect("stored request");
    let mut w = Writer::response_to(
        SliceSink::new(out),
        &msg,
        StatusCode(status),
        reason,
        to_tag,
    )
    .expect("response");
    if let Some(c) = contact {
        let mut v = [0u8; 128];
        w.header("Contact", concat(&mut v, &["<", c, ">"]))
            .expect("contact");
    }
    if let Some(t) = timer {
        t.write(&mut w).expect("session timer headers");
    }
    w.finish(b"").expect("finish").len()
}

impl Ua {
    fn new(id: u8, seed: u8) -> Ua {
        let (aor, contact, via) = match id {
            ALICE => (
                "sip:alice@example.com",
                "sip:alice@192.0.2.1",
                "SIP/2.0/UDP 192.0.2.1:5060",
            ),
            _ => (
                "sip:bob@example.com",
                "sip:bob@192.0.2.2",
                "SIP/2.0/UDP 192.0.2.2:5060",
            ),
        };
        Ua {
            id,
            aor,
            contact,
            via,
            tx: Txs::new(transaction::Config::DEFAULT),
            dialogs: Dlgs::new(Timers::DEFAULT),
            reg: None,
            ids: IdGenerator::new([seed; 32]),
            timer_config: session_timer::Config {
                session_expires: 90,
                ..session_timer::Config::DEFAULT
            },
            calls: [const { None }; DIALOGS],
            pending: Vec::new(),
            invite_timer: None,
            incoming: None,
            policy: Policy::Accept,
            answer_delay: Duration::from_secs(1),
            log: Vec::new(),
            outbox: Vec::new(),
            allocs: core::cell::Cell::new(0),
        }
    }

    fn note(&mut self, now: Instant, what: impl Into<String>) {
        self.log
            .push(format!("{} {}", now.as_millis(), what.into()));
    }

    fn count(&self, what: &str) -> usize {
        self.log
            .iter()
            .filter(|l| l.split_once(' ').is_some_and(|(_, w)| w == what))
            .count()
    }

    fn call(&mut self, h: DialogHandle) -> Option<&mut Call> {
        self.calls
            .get_mut(h.index())
            .and_then(|c| c.as_mut())
            .filter(|c| c.dialog == h)
    }

    fn first_call(&self) -> Option<DialogHandle> {
        self.calls.iter().flatten().map(|c| c.dialog).next()
    }

    fn end_call(&mut self, h: DialogHandle) {
        let _ = lay!(self.allocs, self.dialogs.remove(h));
        if let Some(slot) = self.calls.get_mut(h.index())
            && slot.as_ref().is_some_and(|c| c.dialog == h)
        {
            *slot = None;
        }
    }

    /// Drops the calls whose dialog the dialog set removed itself (the early dialogs of
    /// a failed INVITE, section 13.2.2.3).
    fn forget_removed_dialogs(&mut self) {
        for slot in &mut self.calls {
            if slot
                .as_ref()
                .is_some_and(|c| lay!(self.allocs, self.dialogs.get(c.dialog)).is_none())
            {
                *slot = None;
            }
        }
    }

    fn reg_state(&self) -> Option<RegistrationState> {
        self.reg.as_ref().map(|r| r.state())
    }

    // ----- the sans-IO drive loop ----------------------------------------------------

    fn poll_timeout(&self) -> Option<Instant> {
        lay!(self.allocs, self.poll_timeout_inner())
    }

    fn poll_timeout_inner(&self) -> Option<Instant> {
        let mut t = [
            self.tx.poll_timeout(),
            self.dialogs.poll_timeout(),
            self.reg.as_ref().and_then(|r| r.poll_timeout()),
            self.incoming.as_ref().and_then(|i| i.answer_at),
        ]
        .into_iter()
        .flatten()
        .min();
        for c in self.calls.iter().flatten() {
            if let Some(at) = c.timer.as_ref().and_then(|t| t.poll_timeout()) {
                t = Some(t.map_or(at, |x: Instant| x.min(at)));
            }
        }
        t
    }

    fn handle_timeout(&mut self, now: Instant) {
        if self.tx.poll_timeout().is_some_and(|t| t <= now) {
            lay!(self.allocs, self.tx.handle_timeout(now));
        }
        if self.dialogs.poll_timeout().is_some_and(|t| t <= now) {
            lay!(self.allocs, self.dialogs.handle_timeout(now));
        }
        if let Some(reg) = self.reg.as_mut() {
            lay!(self.allocs, reg.handle_timeout(now));
        }
        for c in self.calls.iter_mut().flatten() {
            if let Some(t) = c.timer.as_mut()
                && t.poll_timeout().is_some_and(|at| at <= now)
            {
                lay!(self.allocs, t.handle_timeout(now));
            }
        }
        if self
            .incoming
            .as_ref()
            .and_then(|i| i.answer_at)
            .is_some_and(|t| t <= now)
        {
            self.answer(now);
        }
        self.flush(now);
    }

    /// Drains every layer's output until nothing moves.
    fn flush(&mut self, now: Instant) {
        let mut buf = [0u8; BUF];
        loop {
            let mut moved = false;
            while let Some((peer, len)) = lay!(
                self.allocs,
                self.tx.poll_transmit().map(|t| {
                    buf[..t.bytes.len()].copy_from_slice(t.bytes);
                    (t.peer, t.bytes.len())
                })
            ) {
                self.outbox.push((peer, buf[..len].to_vec()));
                moved = true;
            }
            while let Some(e) = lay!(self.allocs, self.tx.poll_event()) {
                self.on_tx_event(now, e);
                moved = true;
            }
            while let Some((h, len)) =
                lay!(self.allocs, self.dialogs.poll_transmit(now, &mut buf)).expect("buffer")
            {
                let peer = self.call(h).map_or(255, |c| c.peer);
                self.outbox.push((peer, buf[..len].to_vec()));
                moved = true;
            }
            while let Some(e) = lay!(self.allocs, self.dialogs.poll_event()) {
                let sip_lite::dialog::DialogEvent::AckTimeout(h) = e;
                // Section 13.3.1.4: no ACK: the UAS ends the dialog with a BYE.
                self.note(now, "ack timeout");
                self.send_in_dialog(now, h, Method::Bye);
                moved = true;
            }
            if self.reg.is_some() {
                moved |= self.drive_registration(now);
            }
            for i in 0..DIALOGS {
                let Some(call) = self.calls[i].as_mut() else {
                    continue;
                };
                let h = call.dialog;
                let Some(timer) = call.timer.as_mut() else {
                    continue;
                };
                let Some(action) = lay!(self.allocs, timer.poll_action()) else {
                    continue;
                };
                moved = true;
                match action {
                    Action::Refresh { method } => {
                        self.note(now, "refresh");
                        let m = match method {
                            RefreshMethod::Invite => Method::Invite,
                            RefreshMethod::Update => Method::Update,
                        };
                        self.send_in_dialog(now, h, m);
                    }
                    Action::Expired => {
                        // RFC 4028 section 10: the session is over; send BYE.
                        self.note(now, "session expired");
                        self.send_in_dialog(now, h, Method::Bye);
                    }
                }
            }
            if !moved {
                break;
            }
        }
    }

    fn drive_registration(&mut self, now: Instant) -> bool {
        let mut moved = false;
        let mut buf = [0u8; BUF];
        let Some(reg) = self.reg.as_mut() else {
            return false;
        };
        while let Some(len) =
            lay!(self.allocs, reg.poll_request(now, &mut self.ids, &mut buf)).expect("REGISTER")
        {
            let ctx = lay!(
                self.allocs,
                self.tx.send_request(now, REG, false, &buf[..len])
            )
            .expect("transaction for REGISTER");
            self.pending.push((ctx, Pending::Register));
            moved = true;
        }
        while let Some(e) = lay!(self.allocs, reg.poll_event()) {
            let what = match e {
                RegistrationEvent::Registered {
                    expires,
                    refresh_at,
                } => format!(
                    "registered {expires}s refresh at {}",
                    refresh_at.as_millis()
                ),
                RegistrationEvent::Refreshing => "refreshing".to_string(),
                RegistrationEvent::Failed { reason, .. } => format!("registration failed {reason}"),
                RegistrationEvent::Unregistered => "unregistered".to_string(),
                other => format!("{other:?}"),
            };
            self.log.push(format!("{} {what}", now.as_millis()));
            moved = true;
        }
        moved
    }

    fn on_tx_event(&mut self, now: Instant, e: Event) {
        let Event::Timeout(Tx::Client(ctx)) = e else {
            self.note(now, format!("{e:?}"));
            return;
        };
        let Some(i) = self.pending.iter().position(|p| p.0 == ctx) else {
            return;
        };
        let (_, purpose) = self.pending.remove(i);
        match purpose {
            Pending::Register => {
                self.note(now, "REGISTER timeout");
                if let Some(reg) = self.reg.as_mut() {
                    lay!(
                        self.allocs,
                        reg.handle_transaction_timeout(now, &mut self.ids)
                    )
                    .expect("outstanding");
                }
            }
            Pending::Invite { request, .. } => {
                self.note(now, "INVITE timeout");
                let mut hs = [HeaderIndex::EMPTY; 64];
                let req = lay!(self.allocs, Message::parse(&request, &mut hs)).unwrap();
                lay!(self.allocs, self.dialogs.handle_invite_failure(&req));
                self.forget_removed_dialogs();
                self.invite_timer = None;
            }
            Pending::InDialog { dialog, method } => {
                self.note(now, format!("{method} timeout"));
                match method {
                    Method::Bye => self.end_call(dialog),
                    Method::Invite | Method::Update => {
                        let outcome = self
                            .call(dialog)
                            .and_then(|c| c.timer.as_mut())
                            .map(|t| t.handle_request_timeout());
                        if outcome == Some(Outcome::SessionEnded) {
                            self.note(now, "session ended");
                            self.send_in_dialog(now, dialog, Method::Bye);
                        }
                    }
                    _ => {}
                }
            }
            Pending::Cancel => self.note(now, "CANCEL timeout"),
        }
    }

    // ----- requests the TU sends -----------------------------------------------------

    fn register(&mut self, now: Instant, expires: u32) {
        let mut config = registration::Config::new(
            REGISTRAR_URI,
            self.aor,
            self.contact,
            self.via,
            "alice",
            Secret::Password(PASSWORD),
        );
        config.expires = expires;
        let mut reg: Registration = lay!(self.allocs, Registration::new(&config)).expect("config");
        lay!(self.allocs, reg.register(now)).expect("register");
        self.reg = Some(reg);
        self.flush(now);
    }

    fn unregister(&mut self, now: Instant) {
        let reg = self.reg.as_mut().expect("registration");
        lay!(self.allocs, reg.unregister(now));
        self.flush(now);
    }

    /// The dialog-creating INVITE (RFC 3261 section 8.1.1) with the session timer
    /// headers of RFC 4028 section 7.1.
    fn invite(&mut self, now: Instant, to: u8, to_aor: &str) -> ClientTx {
        let timer = lay!(self.allocs, SessionRefresh::new(self.timer_config));
        let mut buf = [0u8; BUF];
        let len = lay!(self.allocs, {
            let uri = sip_lite::wire::Uri::parse(to_aor).unwrap();
            let mut w = Writer::request(SliceSink::new(&mut buf), Method::Invite, &uri).unwrap();
            let branch = self.ids.branch();
            let tag = self.ids.token();
            let call_id = self.ids.token();
            let mut via = [0u8; 128];
            let via = concat(&mut via, &[self.via, ";branch=", branch.as_str()]);
            w.header("Via", via).unwrap();
            w.header("Max-Forwards", "70").unwrap();
            let mut from = [0u8; 128];
            w.header(
                "From",
                concat(&mut from, &["<", self.aor, ">;tag=", tag.as_str()]),
            )
            .unwrap();
            let mut to = [0u8; 128];
            w.header("To", concat(&mut to, &["<", to_aor, ">"]))
                .unwrap();
            w.header("Call-ID", call_id.as_str()).unwrap();
            w.header("CSeq", "1 INVITE").unwrap();
            let mut contact = [0u8; 128];
            w.header("Contact", concat(&mut contact, &["<", self.contact, ">"]))
                .unwrap();
            timer.request_headers().write(&mut w).unwrap();
            w.finish(b"").unwrap().len()
        });
        let ctx = lay!(
            self.allocs,
            self.tx.send_request(now, to, false, &buf[..len])
        )
        .expect("INVITE transaction");
        self.invite_timer = Some(timer);
        self.pending.push((
            ctx,
            Pending::Invite {
                request: buf[..len].to_vec(),
                peer: to,
            },
        ));
        self.note(now, "calling");
        self.flush(now);
        ctx
    }

    /// Cancels the INVITE we sent (section 9.1).
    fn cancel(&mut self, now: Instant) {
        let invite = self
            .pending
            .iter()
            .find(|p| matches!(p.1, Pending::Invite { .. }))
            .expect("an INVITE to cancel")
            .0;
        let ctx = lay!(self.allocs, self.tx.cancel(now, invite)).expect("CANCEL");
        self.pending.push((ctx, Pending::Cancel));
        self.note(now, "cancelling");
        self.flush(now);
    }

    /// A request within dialog `h` (section 12.2.1.1); a re-INVITE or UPDATE carries the
    /// session timer headers (RFC 4028 section 7.4). A BYE stops the session timer.
    fn send_in_dialog(&mut self, now: Instant, h: DialogHandle, method: Method<'static>) {
        let mut buf = [0u8; BUF];
        let allocs = &self.allocs;
        let timer_headers = self
            .calls
            .get(h.index())
            .and_then(|c| c.as_ref())
            .filter(|c| c.dialog == h)
            .and_then(|c| c.timer.as_ref())
            .map(|t| lay!(allocs, t.request_headers()));
        let Some(dialog) = lay!(self.allocs, self.dialogs.get_mut(h)) else {
            return;
        };
        let len = lay!(self.allocs, {
            let mut w = dialog
                .request(method, self.via, &mut self.ids, &mut buf)
                .expect("request in dialog");
            if matches!(method, Method::Invite | Method::Update)
                && let Some(t) = timer_headers
            {
                t.write(&mut w).unwrap();
            }
            w.finish(b"").unwrap().len()
        });
        let peer = self.call(h).map_or(255, |c| c.peer);
        if method == Method::Bye
            && let Some(c) = self.call(h)
        {
            c.timer = None;
        }
        let ctx = lay!(
            self.allocs,
            self.tx.send_request(now, peer, false, &buf[..len])
        )
        .expect("transaction");
        self.pending
            .push((ctx, Pending::InDialog { dialog: h, method }));
        self.flush(now);
    }

    /// The ACK for a 2xx to an INVITE, sent by the TU without a transaction (section
    /// 13.2.2.4) and kept by the dialog set for retransmitted 2xx.
    fn send_ack(&mut self, h: DialogHandle) {
        let mut buf = [0u8; BUF];
        let Some(dialog) = lay!(self.allocs, self.dialogs.get_mut(h)) else {
            return;
        };
        let len = lay!(self.allocs, {
            let w = dialog
                .request(Method::Ack, self.via, &mut self.ids, &mut buf)
                .expect("ACK");
            w.finish(b"").unwrap().len()
        });
        lay!(self.allocs, self.dialogs.sent_ack(h, &buf[..len])).expect("sent_ack");
        let peer = self.call(h).map_or(255, |c| c.peer);
        self.outbox.push((peer, buf[..len].to_vec()));
    }

    // ----- what arrives ---------------------------------------------------------------

    fn receive(&mut self, now: Instant, from: u8, bytes: &[u8]) {
        let mut hs = [HeaderIndex::EMPTY; 64];
        let msg = lay!(self.allocs, Message::parse(bytes, &mut hs)).expect("parses");
        let received = lay!(self.allocs, self.tx.receive(now, from, false, &msg)).expect("usable");
        // `STACK_DEBUG=1 cargo test --test stack -- --nocapture` shows every
        // classification, to study a failing seed.
        if std::env::var("STACK_DEBUG").is_ok() {
            eprintln!(
                "{} {} got {} -> {received:?}",
                now.as_millis(),
                self.id,
                summary(bytes)
            );
        }
        match received {
            Received::Request(stx) => self.on_request(now, from, stx, &msg, bytes),
            Received::Cancel { cancel, invite } => self.on_cancel(now, cancel, invite, bytes),
            Received::Ack => self.on_ack(now, &msg),
            Received::Response(ctx) => self.on_response(now, ctx, &msg),
            Received::Retransmitted2xx(_) => {
                // Section 13.2.2.4 (RFC 6026 section 7.2): the same ACK again, unless
                // the dialog has ended meanwhile (a BYE crossed the retransmission).
                let outcome = lay!(self.allocs, self.dialogs.handle_response(None, &msg));
                let gone = lay!(self.allocs, self.dialogs.find_for_response(&msg)).is_none();
                assert!(
                    matches!(outcome, Ok(ResponseOutcome::ResendAck(_)))
                        || (gone && outcome == Ok(ResponseOutcome::NoDialog)),
                    "{outcome:?} {:?}",
                    self.log,
                );
            }
            Received::Absorbed | Received::Rejected(_) | Received::Unmatched => {}
        }
        self.flush(now);
    }

    fn respond(&mut self, now: Instant, stx: ServerTx, response: &[u8]) {
        lay!(self.allocs, self.tx.respond(now, stx, response)).expect("respond");
    }

    fn on_request(
        &mut self,
        now: Instant,
        from: u8,
        stx: ServerTx,
        msg: &Message<'_>,
        bytes: &[u8],
    ) {
        let method = msg.method().expect("request");
        let outcome = lay!(self.allocs, self.dialogs.handle_request(msg)).expect("classified");
        let mut out = [0u8; BUF];
        match outcome {
            RequestOutcome::OutOfDialog if method == Method::Invite => {
                self.incoming_invite(now, from, stx, msg, bytes)
            }
            RequestOutcome::OutOfDialog => {
                let len = lay!(
                    self.allocs,
                    build_response(bytes, 405, "Method Not Allowed", None, None, None, &mut out)
                );
                self.respond(now, stx, &out[..len]);
            }
            RequestOutcome::Accept(h) => match method {
                Method::Bye => {
                    // Section 15.1.2: answer 200 and end the dialog.
                    let len = lay!(
                        self.allocs,
                        build_response(bytes, 200, "OK", None, None, None, &mut out)
                    );
                    self.respond(now, stx, &out[..len]);
                    self.end_call(h);
                    self.note(now, "hung up by peer");
                }
                Method::Invite | Method::Update => {
                    // RFC 4028 section 9: the refresh is answered with the negotiated
                    // headers; the timers restart when the 2xx is sent.
                    let contact = self.contact;
                    let Some(timer) = self.call(h).and_then(|c| c.timer.as_mut()) else {
                        panic!("refresh without a timer");
                    };
                    let Answer::Accept(headers) =
                        lay!(self.allocs, timer.handle_request(msg)).expect("valid")
                    else {
                        panic!("422 to our own interval");
                    };
                    let len = lay!(
                        self.allocs,
                        build_response(
                            bytes,
                            200,
                            "OK",
                            None,
                            Some(contact),
                            Some(&headers),
                            &mut out
                        )
                    );
                    self.respond(now, stx, &out[..len]);
                    if method == Method::Invite {
                        lay!(self.allocs, self.dialogs.sent_2xx(h, now, &out[..len]))
                            .expect("sent_2xx");
                    }
                    if let Some(t) = self.call(h).and_then(|c| c.timer.as_mut()) {
                        lay!(self.allocs, t.handle_2xx_sent(now));
                    }
                    self.note(now, format!("refreshed by peer ({method})"));
                }
                _ => {
                    let len = lay!(
                        self.allocs,
                        build_response(bytes, 200, "OK", None, None, None, &mut out)
                    );
                    self.respond(now, stx, &out[..len]);
                    self.note(now, format!("{method} received"));
                }
            },
            RequestOutcome::Reject { status, reason, .. } => {
                // Section 12.2.2: 500 for a CSeq out of order, 481 for an unknown dialog.
                let len = lay!(
                    self.allocs,
                    build_response(bytes, status.0, reason, None, None, None, &mut out)
                );
                self.respond(now, stx, &out[..len]);
                self.note(now, format!("{method} rejected {}", status.0));
            }
            RequestOutcome::Ack(_) | RequestOutcome::Drop => {}
        }
    }

    /// Section 13.3.1: a new INVITE gets a UAS dialog, a 180 at once and its final
    /// answer later (the 100 came from the transaction layer).
    fn incoming_invite(
        &mut self,
        now: Instant,
        from: u8,
        stx: ServerTx,
        msg: &Message<'_>,
        bytes: &[u8],
    ) {
        let mut timer = lay!(self.allocs, SessionRefresh::new(self.timer_config));
        let answer = lay!(self.allocs, timer.handle_request(msg)).expect("session timer");
        assert!(matches!(answer, Answer::Accept(_)), "{answer:?}");
        let tag = lay!(self.allocs, self.ids.token());
        let h = lay!(
            self.allocs,
            self.dialogs.create_uas(msg, tag.as_str(), self.contact)
        )
        .expect("UAS dialog");
        self.calls[h.index()] = Some(Call {
            dialog: h,
            peer: from,
            timer: Some(timer),
            up: false,
        });
        let mut out = [0u8; BUF];
        let len = lay!(
            self.allocs,
            build_response(
                bytes,
                180,
                "Ringing",
                Some(tag.as_str()),
                Some(self.contact),
                None,
                &mut out
            )
        );
        self.respond(now, stx, &out[..len]);
        self.note(now, "ringing");
        let answer_at = match self.policy {
            Policy::Accept | Policy::Busy => Some(now + self.answer_delay),
            Policy::Ring => None,
        };
        self.incoming = Some(Incoming {
            tx: stx,
            dialog: h,
            request: bytes.to_vec(),
            answer_at,
        });
    }

    /// The final answer to the incoming INVITE: 200 with the session timer headers
    /// (RFC 4028 section 9), retransmitted by the dialog set until the ACK (section
    /// 13.3.1.4), or 486.
    fn answer(&mut self, now: Instant) {
        let Some(inc) = self.incoming.take() else {
            return;
        };
        let h = inc.dialog;
        let mut tag = [0u8; 64];
        let tag = lay!(self.allocs, {
            let t = self.dialogs.get(h).expect("dialog").local_tag();
            tag[..t.len()].copy_from_slice(t.as_bytes());
            core::str::from_utf8(&tag[..t.len()]).unwrap()
        });
        let mut out = [0u8; BUF];
        if self.policy == Policy::Busy {
            let len = lay!(
                self.allocs,
                build_response(
                    &inc.request,
                    486,
                    "Busy Here",
                    Some(tag),
                    None,
                    None,
                    &mut out
                )
            );
            self.respond(now, inc.tx, &out[..len]);
            self.end_call(h);
            self.note(now, "rejected");
            return;
        }
        let headers = {
            let mut hs = [HeaderIndex::EMPTY; 64];
            let req = lay!(self.allocs, Message::parse(&inc.request, &mut hs)).unwrap();
            let timer = self.call(h).and_then(|c| c.timer.as_mut()).expect("timer");
            match lay!(self.allocs, timer.handle_request(&req)).unwrap() {
                Answer::Accept(headers) => headers,
                other => panic!("{other:?}"),
            }
        };
        let len = lay!(
            self.allocs,
            build_response(
                &inc.request,
                200,
                "OK",
                Some(tag),
                Some(self.contact),
                Some(&headers),
                &mut out
            )
        );
        self.respond(now, inc.tx, &out[..len]);
        lay!(self.allocs, self.dialogs.sent_2xx(h, now, &out[..len])).expect("sent_2xx");
        if let Some(t) = self.call(h).and_then(|c| c.timer.as_mut()) {
            lay!(self.allocs, t.handle_2xx_sent(now));
        }
        self.note(now, "answered");
    }

    /// Section 9.2: 200 to the CANCEL, 487 to the INVITE, the early dialog ends.
    fn on_cancel(
        &mut self,
        now: Instant,
        cancel: ServerTx,
        invite: Option<ServerTx>,
        bytes: &[u8],
    ) {
        let mut out = [0u8; BUF];
        let inc = self.incoming.take_if(|i| Some(i.tx) == invite);
        let mut tag = [0u8; 64];
        let tag_len = lay!(
            self.allocs,
            inc.as_ref()
                .and_then(|i| self.dialogs.get(i.dialog))
                .map_or(0, |d| {
                    let t = d.local_tag();
                    tag[..t.len()].copy_from_slice(t.as_bytes());
                    t.len()
                })
        );
        let tag = core::str::from_utf8(&tag[..tag_len]).unwrap();
        // Section 9.2: a CANCEL that matches a transaction gets 200, even when the
        // INVITE was already answered finally (then it has no other effect).
        let status = if invite.is_some() { 200 } else { 481 };
        let len = lay!(
            self.allocs,
            build_response(
                bytes,
                status,
                "",
                Some(tag).filter(|t| !t.is_empty()),
                None,
                None,
                &mut out
            )
        );
        self.respond(now, cancel, &out[..len]);
        if let Some(inc) = inc {
            let len = lay!(
                self.allocs,
                build_response(
                    &inc.request,
                    487,
                    "Request Terminated",
                    Some(tag),
                    None,
                    None,
                    &mut out
                )
            );
            self.respond(now, inc.tx, &out[..len]);
            self.end_call(inc.dialog);
            self.note(now, "cancelled by peer");
        }
    }

    fn on_ack(&mut self, now: Instant, msg: &Message<'_>) {
        let outcome = lay!(self.allocs, self.dialogs.handle_request(msg)).expect("ACK");
        if let RequestOutcome::Ack(h) = outcome
            && let Some(c) = self.call(h)
            && !c.up
        {
            c.up = true;
            self.note(now, "call up");
        }
    }

    fn on_response(&mut self, now: Instant, ctx: ClientTx, msg: &Message<'_>) {
        let status = msg.status().expect("response");
        let Some(i) = self.pending.iter().position(|p| p.0 == ctx) else {
            return;
        };
        let purpose = self.pending[i].1.clone();
        if status.is_final() {
            self.pending.remove(i);
        }
        match purpose {
            Pending::Register => {
                let reg = self.reg.as_mut().expect("registration");
                lay!(self.allocs, reg.handle_response(now, msg, &mut self.ids)).expect("answer");
            }
            Pending::Cancel => self.note(now, format!("CANCEL {}", status.0)),
            Pending::Invite { request, peer } => {
                let mut hs = [HeaderIndex::EMPTY; 64];
                let req = lay!(self.allocs, Message::parse(&request, &mut hs)).unwrap();
                let outcome = lay!(self.allocs, self.dialogs.handle_response(Some(&req), msg))
                    .expect("dialog");
                let h = match outcome {
                    ResponseOutcome::Created(h) => {
                        self.calls[h.index()] = Some(Call {
                            dialog: h,
                            peer,
                            timer: self.invite_timer.clone(),
                            up: false,
                        });
                        Some(h)
                    }
                    ResponseOutcome::Updated(h) | ResponseOutcome::Matched(h) => Some(h),
                    ResponseOutcome::Failed { removed } => {
                        self.note(now, format!("early dialogs removed {removed}"));
                        self.forget_removed_dialogs();
                        None
                    }
                    _ => None,
                };
                if status.0 > 100 {
                    self.note(now, format!("INVITE {}", status.0));
                }
                if status.is_final() {
                    // Section 9.1: a CANCEL still waiting for a provisional response is
                    // dropped by the transaction layer when the final response comes
                    // first. No event says so; the handle has gone stale.
                    let tx = &self.tx;
                    let before = self.pending.len();
                    let allocs = &self.allocs;
                    self.pending.retain(|p| {
                        !matches!(p.1, Pending::Cancel) || lay!(allocs, tx.state(p.0)).is_some()
                    });
                    if self.pending.len() < before {
                        self.note(now, "CANCEL dropped");
                    }
                }
                if status.is_success() {
                    let h = h.expect("2xx makes a dialog");
                    self.invite_timer = None;
                    self.send_ack(h);
                    let timer = self.call(h).and_then(|c| c.timer.as_mut()).expect("timer");
                    let o = lay!(self.allocs, timer.handle_response(now, msg)).expect("timer");
                    self.note(now, format!("timer {o:?}"));
                    if let Some(c) = self.call(h) {
                        c.up = true;
                    }
                    self.note(now, "call up");
                } else if status.is_final() {
                    self.invite_timer = None;
                }
            }
            Pending::InDialog { dialog, method } => {
                let outcome =
                    lay!(self.allocs, self.dialogs.handle_response(None, msg)).expect("in dialog");
                if !status.is_final() {
                    return;
                }
                self.note(now, format!("{method} {}", status.0));
                if let ResponseOutcome::Terminated(h) = outcome {
                    // Section 12.2.1.2: 481 or 408 ends the dialog.
                    self.end_call(h);
                    self.note(now, "dialog gone");
                    return;
                }
                match method {
                    Method::Bye => self.end_call(dialog),
                    Method::Invite | Method::Update => {
                        if method == Method::Invite && status.is_success() {
                            self.send_ack(dialog);
                        }
                        if let Some(t) = self.call(dialog).and_then(|c| c.timer.as_mut()) {
                            let o = lay!(self.allocs, t.handle_response(now, msg)).expect("timer");
                            self.note(now, format!("timer {o:?}"));
                            if o == Outcome::SessionEnded {
                                self.send_in_dialog(now, dialog, Method::Bye);
                            }
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// No slot left in any table and no timer armed.
    fn assert_idle(&self, who: &str) {
        assert!(
            self.tx.is_empty(),
            "{who}: transaction slot left: {:?}",
            self.tx
        );
        assert!(self.dialogs.is_empty(), "{who}: dialog left");
        assert!(self.calls.iter().all(Option::is_none), "{who}: call left");
        assert!(self.pending.is_empty(), "{who}: pending {:?}", self.pending);
        assert!(self.incoming.is_none(), "{who}: unanswered INVITE");
        assert_eq!(self.poll_timeout(), None, "{who}: timer left");
        assert_eq!(self.tx.events_lost(), 0);
    }
}

/// Joins `parts` into `buf`.
fn concat<'b>(buf: &'b mut [u8], parts: &[&str]) -> &'b str {
    let mut n = 0;
    for p in parts {
        buf[n..n + p.len()].copy_from_slice(p.as_bytes());
        n += p.len();
    }
    core::str::from_utf8(&buf[..n]).unwrap()
}

// ----- the registrar --------------------------------------------------------------------

/// A registrar: a transaction layer, a digest challenge and a binding (RFC 3261 section
/// 10.3).
struct Registrar {
    tx: Txs,
    nonce: String,
    /// The highest nonce count seen with `nonce` (replay check).
    last_nc: u32,
    /// The expiry of the binding, if bound.
    bound: Option<u32>,
    log: Vec<String>,
    outbox: Vec<(u8, Vec<u8>)>,
}

impl Registrar {
    fn new() -> Registrar {
        Registrar {
            tx: Txs::new(transaction::Config::DEFAULT),
            nonce: "n1".to_string(),
            last_nc: 0,
            bound: None,
            log: Vec::new(),
            outbox: Vec::new(),
        }
    }

    /// A new nonce: answers with the old one are stale from now on.
    fn new_nonce(&mut self, nonce: &str) {
        self.nonce = nonce.to_string();
        self.last_nc = 0;
    }

    fn count(&self, prefix: &str) -> usize {
        self.log
            .iter()
            .filter(|l| {
                l.split_once(' ')
                    .is_some_and(|(_, w)| w.starts_with(prefix))
            })
            .count()
    }

    fn receive(&mut self, now: Instant, from: u8, bytes: &[u8]) {
        let mut hs = [HeaderIndex::EMPTY; 64];
        let msg = Message::parse(bytes, &mut hs).expect("parses");
        if let Received::Request(stx) = self.tx.receive(now, from, false, &msg).expect("usable") {
            let mut out = [0u8; BUF];
            let len = self.answer(now, &msg, &mut out);
            self.tx.respond(now, stx, &out[..len]).expect("respond");
        }
        self.flush();
    }

    fn answer(&mut self, now: Instant, msg: &Message<'_>, out: &mut [u8; BUF]) -> usize {
        let t = now.as_millis();
        let challenge = |stale: bool, out: &mut [u8; BUF]| {
            let repr = ChallengeRepr {
                stale,
                ..ChallengeRepr::new(REALM, &self.nonce)
            };
            let mut w =
                Writer::response_to(SliceSink::new(out), msg, StatusCode(401), "", Some("r1"))
                    .unwrap();
            w.header_typed(HeaderName::WwwAuthenticate, &repr).unwrap();
            w.finish(b"").unwrap().len()
        };
        let Some(value) = msg.header(HeaderName::Authorization) else {
            self.log.push(format!("{t} 401"));
            return challenge(false, out);
        };
        let credentials = Credentials::parse(value).expect("credentials");
        let repr = ChallengeRepr::new(REALM, &self.nonce);
        let verifier = Verifier {
            request_uri: Some(REGISTRAR_URI),
            username: Some("alice"),
            ..Verifier::for_challenge(&repr, "REGISTER")
        };
        match verifier.verify(&credentials, Secret::Password(PASSWORD)) {
            Ok(v) => {
                let nc = v.nc.expect("nc");
                assert!(nc > self.last_nc, "nonce count replayed");
                self.last_nc = nc;
                let expires = msg.expires().expect("Expires").expect("number");
                self.bound = (expires > 0).then_some(expires);
                let mut w =
                    Writer::response_to(SliceSink::new(out), msg, StatusCode::OK, "", Some("r1"))
                        .unwrap();
                if expires > 0 {
                    let contact = msg.header(HeaderName::Contact).unwrap();
                    let uri = contact.split(';').next().unwrap();
                    w.header("Contact", &format!("{uri};expires={expires}"))
                        .unwrap();
                }
                self.log.push(format!("{t} 200 nc={nc} expires={expires}"));
                w.finish(b"").unwrap().len()
            }
            Err(sip_lite::DigestError::StaleNonce) => {
                self.log.push(format!("{t} 401 stale"));
                challenge(true, out)
            }
            Err(e) => panic!("credentials refused: {e}"),
        }
    }

    fn flush(&mut self) {
        while let Some(t) = self.tx.poll_transmit() {
            self.outbox.push((t.peer, t.bytes.to_vec()));
        }
        // The registrar answers every request at once: no transaction of its can fail.
        if let Some(e) = self.tx.poll_event() {
            panic!("registrar: {e:?}");
        }
    }
}

// ----- the world ------------------------------------------------------------------------

struct World {
    now: Instant,
    /// What a scenario wrote down along the way (timer instants), for exact asserts.
    probe: Vec<String>,
    net: Net,
    ua: [Ua; 2],
    reg: Registrar,
}

impl World {
    fn new(net: Net) -> World {
        World {
            now: Instant::ZERO,
            probe: Vec::new(),
            net,
            ua: [Ua::new(ALICE, 1), Ua::new(BOB, 2)],
            reg: Registrar::new(),
        }
    }

    fn alice(&mut self) -> &mut Ua {
        &mut self.ua[0]
    }

    fn bob(&mut self) -> &mut Ua {
        &mut self.ua[1]
    }

    fn next(&self) -> Option<Instant> {
        [
            self.net.next_delivery(),
            self.ua[0].poll_timeout(),
            self.ua[1].poll_timeout(),
            self.reg.tx.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Moves what the nodes want to send onto the network.
    fn post(&mut self) {
        let now = self.now;
        for ua in &mut self.ua {
            for (to, bytes) in ua.outbox.drain(..) {
                self.net.send(now, ua.id, to, &bytes);
            }
        }
        for (to, bytes) in self.reg.outbox.drain(..) {
            self.net.send(now, REG, to, &bytes);
        }
    }

    /// Runs the next event (deliveries first, then timers, at the same instant).
    fn step(&mut self) -> bool {
        self.post();
        let Some(next) = self.next() else {
            return false;
        };
        assert!(next >= self.now, "overdue timer: {next:?} < {:?}", self.now);
        self.now = next;
        if self.net.next_delivery() == Some(next) {
            let (now, from, to, bytes) = self.net.pop().unwrap();
            match to {
                REG => self.reg.receive(now, from, &bytes),
                _ => self.ua[usize::from(to)].receive(now, from, &bytes),
            }
        } else {
            for ua in &mut self.ua {
                if ua.poll_timeout().is_some_and(|t| t <= next) {
                    ua.handle_timeout(next);
                }
            }
            if self.reg.tx.poll_timeout().is_some_and(|t| t <= next) {
                self.reg.tx.handle_timeout(next);
                self.reg.flush();
            }
        }
        self.post();
        true
    }

    /// Runs until `done` holds; panics if the clock passes `limit` first.
    fn run_until(&mut self, limit: Instant, done: impl Fn(&World) -> bool) {
        while !done(self) {
            assert!(
                self.step(),
                "nothing left to do at {:?}\nalice {:?}\nbob {:?}\n{:?}",
                self.now,
                self.ua[0].log,
                self.ua[1].log,
                self.net.trace
            );
            assert!(self.now <= limit, "not done by {limit:?}");
        }
    }

    /// Runs every event up to `t`, then sets the clock to `t`.
    fn run_to(&mut self, t: Instant) {
        while self.next().is_some_and(|n| n <= t) {
            self.step();
        }
        self.now = self.now.max(t);
    }

    /// Runs until every timer has fired and the network is empty.
    fn settle(&mut self) {
        let mut steps = 0;
        while self.step() {
            steps += 1;
            assert!(steps < 100_000, "does not settle");
        }
    }

    /// Writes down both sides' session timer instants (refresh, expiry).
    fn probe_timers(&mut self) {
        for ua in &self.ua {
            for c in ua.calls.iter().flatten() {
                let t = c.timer.as_ref().expect("timer");
                let at = |i: Option<Instant>| i.map(|i| i.as_millis());
                self.probe.push(format!(
                    "{} {}: refresh {:?} expires {:?} by {:?}",
                    self.now.as_millis(),
                    node_name(ua.id),
                    at(t.refresh_at()),
                    at(t.expires_at()),
                    t.refresher()
                ));
            }
        }
    }

    fn assert_idle(&self) {
        self.ua[0].assert_idle("alice");
        self.ua[1].assert_idle("bob");
        assert!(self.reg.tx.is_empty(), "registrar transaction left");
        assert_eq!(self.net.next_delivery(), None);
    }
}

/// The seeds and network conditions of the lossy runs: 20 to 30 % loss, 10 to 15 %
/// duplication, up to 300 ms jitter (reordering).
fn lossy_nets() -> impl Iterator<Item = (u64, Net)> {
    (1..=SEEDS).map(|seed| {
        let loss = 200 + (seed % 3) * 50;
        let dup = 100 + (seed % 2) * 50;
        (seed, Net::lossy(seed, loss, dup, 300))
    })
}

const SEEDS: u64 = 50;

/// How long Bob rings before answering in a lossy run: with no delay, the 180 and the
/// final response leave together and the jitter reorders them.
fn ring_time(seed: u64) -> Duration {
    Duration::from_millis([0, 50, 1_000][(seed % 3) as usize])
}

// ----- 1. registration ------------------------------------------------------------------

/// REGISTER, 401, authenticated REGISTER, 200 (120 s), refresh with nc=2, new nonce,
/// stale 401, re-authentication, unregister (RFC 3261 section 10.2, RFC 7616 3.4).
fn registration(net: Net) -> World {
    let mut w = World::new(net);
    let limit = ms(600_000);
    w.alice().register(Instant::ZERO, 120);
    let registered = |w: &World| w.ua[0].reg_state() == Some(RegistrationState::Registered);
    w.run_until(limit, |w| registered(w) && w.reg.count("200") == 1);
    // The refresh answers the stored challenge again, with nonce count 2.
    w.run_until(limit, |w| registered(w) && w.reg.count("200") == 2);
    w.reg.new_nonce("n2");
    w.run_until(limit, |w| registered(w) && w.reg.count("200") == 3);
    let now = w.now;
    w.alice().unregister(now);
    w.run_until(limit, |w| {
        w.ua[0].reg_state() == Some(RegistrationState::Unregistered)
    });
    w.settle();
    w
}

#[test]
fn registration_perfect_network() {
    let w = registration(Net::perfect());
    let refresh1 = 40 + 88_000; // 200 at 40 ms + max(60, 120 - 32) s
    let refresh2 = refresh1 + 20 + 88_000;
    assert_eq!(
        w.net.trace,
        [
            "0 A>R REGISTER".to_string(),
            "10 R>A 401 REGISTER".into(),
            "20 A>R REGISTER".into(),
            "30 R>A 200 REGISTER".into(),
            format!("{refresh1} A>R REGISTER"),
            format!("{} R>A 200 REGISTER", refresh1 + 10),
            format!("{refresh2} A>R REGISTER"),
            format!("{} R>A 401 REGISTER", refresh2 + 10),
            format!("{} A>R REGISTER", refresh2 + 20),
            format!("{} R>A 200 REGISTER", refresh2 + 30),
            format!("{} A>R REGISTER", refresh2 + 40),
            format!("{} R>A 200 REGISTER", refresh2 + 50),
        ]
    );
    assert_eq!(
        w.reg.log,
        [
            "10 401".to_string(),
            "30 200 nc=1 expires=120".into(),
            format!("{} 200 nc=2 expires=120", refresh1 + 10),
            format!("{} 401 stale", refresh2 + 10),
            format!("{} 200 nc=1 expires=120", refresh2 + 30),
            format!("{} 200 nc=2 expires=0", refresh2 + 50),
        ]
    );
    assert_eq!(
        w.ua[0].log,
        [
            format!("40 registered 120s refresh at {refresh1}"),
            format!("{refresh1} refreshing"),
            format!("{} registered 120s refresh at {refresh2}", refresh1 + 20),
            format!("{refresh2} refreshing"),
            format!(
                "{} registered 120s refresh at {}",
                refresh2 + 40,
                refresh2 + 40 + 88_000
            ),
            format!("{} unregistered", refresh2 + 60),
        ]
    );
    assert_eq!(w.reg.bound, None);
    w.assert_idle();
}

#[test]
fn registration_lossy_network() {
    for (seed, net) in lossy_nets() {
        let w = registration(net);
        // Every REGISTER reached the registrar's TU once: three authenticated
        // registrations and the removal, nonce counts 1, 2, 1, 2.
        let oks: Vec<&str> = w
            .reg
            .log
            .iter()
            .filter_map(|l| l.split_once(' ').map(|x| x.1))
            .filter(|l| l.starts_with("200"))
            .collect();
        assert_eq!(
            oks,
            [
                "200 nc=1 expires=120",
                "200 nc=2 expires=120",
                "200 nc=1 expires=120",
                "200 nc=2 expires=0"
            ],
            "seed {seed}"
        );
        assert_eq!(w.reg.count("401 stale"), 1, "seed {seed}");
        assert_eq!(w.ua[0].count("unregistered"), 1, "seed {seed}");
        assert!(
            !w.ua[0].log.iter().any(|l| l.contains("failed")),
            "seed {seed}: {:?}",
            w.ua[0].log
        );
        assert_eq!(w.reg.bound, None);
        w.assert_idle();
    }
}

// ----- 2. a call --------------------------------------------------------------------------

fn has_call(ua: &Ua) -> bool {
    ua.calls.iter().flatten().any(|c| c.up)
}

/// INVITE with Session-Expires 90, 100/180/200, ACK, INFO, a session refresh by Alice
/// (the refresher: Bob leaves the duty to the UAC, RFC 4028 section 9), BYE.
fn call(net: Net, method: RefreshMethod, ring: Duration) -> World {
    let mut w = World::new(net);
    w.bob().answer_delay = ring;
    let limit = ms(300_000);
    w.alice().timer_config.method = method;
    w.alice().invite(Instant::ZERO, BOB, "sip:bob@example.com");
    w.run_until(limit, |w| has_call(&w.ua[0]) && has_call(&w.ua[1]));
    w.probe_timers();
    let now = w.now;
    let h = w.alice().first_call().expect("call");
    w.alice().send_in_dialog(now, h, Method::Info);
    w.run_until(limit, |w| w.ua[0].count("INFO 200") == 1);
    // The refresh at half the interval, answered and acknowledged.
    let (sent, answered) = match method {
        RefreshMethod::Invite => ("INVITE 200", "refreshed by peer (INVITE)"),
        RefreshMethod::Update => ("UPDATE 200", "refreshed by peer (UPDATE)"),
    };
    w.run_until(limit, |w| {
        w.ua[0].log.iter().filter(|l| l.ends_with(sent)).count()
            == 1 + usize::from(method == RefreshMethod::Invite)
            && w.ua[1].count(answered) == 1
    });
    w.probe_timers();
    let now = w.now;
    w.alice().send_in_dialog(now, h, Method::Bye);
    w.run_until(limit, |w| {
        w.ua[0].dialogs.is_empty() && w.ua[1].dialogs.is_empty()
    });
    w.settle();
    w
}

#[test]
fn call_perfect_network() {
    let w = call(
        Net::perfect(),
        RefreshMethod::Invite,
        Duration::from_secs(1),
    );
    // Bob answers 1 s after the INVITE arrived (at 10 ms); Alice gets the 200 at 1020
    // and refreshes at 1020 + 45 s.
    let refresh = 1_020 + 45_000;
    let bye = refresh + 20;
    assert_eq!(
        w.net.trace,
        [
            // No 100 Trying: the TU's 180 replaced it in the transaction before the
            // transmit queue was drained, as section 17.2.1 allows when the TU answers
            // within 200 ms.
            "0 A>B INVITE".to_string(),
            "10 B>A 180 INVITE".into(),
            "1010 B>A 200 INVITE".into(),
            "1020 A>B ACK".into(),
            "1030 A>B INFO".into(),
            "1040 B>A 200 INFO".into(),
            format!("{refresh} A>B INVITE"),
            format!("{} B>A 200 INVITE", refresh + 10),
            format!("{} A>B ACK", refresh + 20),
            format!("{bye} A>B BYE"),
            format!("{} B>A 200 BYE", bye + 10),
        ]
    );
    assert_eq!(
        w.ua[0].log,
        [
            "0 calling".to_string(),
            "20 INVITE 180".into(),
            "1020 INVITE 200".into(),
            "1020 timer Running { interval: 90, refresher: Local }".into(),
            "1020 call up".into(),
            "1050 INFO 200".into(),
            format!("{refresh} refresh"),
            format!("{} INVITE 200", refresh + 20),
            format!(
                "{} timer Running {{ interval: 90, refresher: Local }}",
                refresh + 20
            ),
            format!("{} BYE 200", bye + 20),
        ]
    );
    assert_eq!(
        w.ua[1].log,
        [
            "10 ringing".to_string(),
            "1010 answered".into(),
            "1030 call up".into(),
            "1040 INFO received".into(),
            format!("{} refreshed by peer (INVITE)", refresh + 10),
            format!("{} hung up by peer", bye + 10),
        ]
    );
    // RFC 4028 section 10: the refresher at half the interval, both sides expire at
    // `90 - min(32, 90 / 3)` = 60 s after the last 2xx (sent by Bob, received by Alice).
    assert_eq!(
        w.probe,
        [
            "1030 A: refresh Some(46020) expires Some(61020) by Some(Local)".to_string(),
            "1030 B: refresh None expires Some(61010) by Some(Remote)".into(),
            format!(
                "{} A: refresh Some({}) expires Some({}) by Some(Local)",
                refresh + 20,
                refresh + 20 + 45_000,
                refresh + 20 + 60_000
            ),
            format!(
                "{} B: refresh None expires Some({}) by Some(Remote)",
                refresh + 20,
                refresh + 10 + 60_000
            ),
        ]
    );
    w.assert_idle();
}

/// The same call refreshed with UPDATE (RFC 3311): no ACK.
#[test]
fn call_refreshed_by_update_perfect_network() {
    let w = call(
        Net::perfect(),
        RefreshMethod::Update,
        Duration::from_secs(1),
    );
    let refresh = 1_020 + 45_000;
    assert_eq!(
        w.net.trace[6..],
        [
            format!("{refresh} A>B UPDATE"),
            format!("{} B>A 200 UPDATE", refresh + 10),
            format!("{} A>B BYE", refresh + 20),
            format!("{} B>A 200 BYE", refresh + 30),
        ]
    );
    assert_eq!(
        w.ua[0].count("timer Running { interval: 90, refresher: Local }"),
        2
    );
    w.assert_idle();
}

/// Asserts the outcome of a call over a lossy network.
fn assert_call_outcome(seed: u64, w: &World, method: RefreshMethod) {
    let (a, b) = (&w.ua[0], &w.ua[1]);
    let ctx = |w: &World| format!("seed {seed}: {:?} {:?}", w.ua[0].log, w.ua[1].log);
    // Established exactly once on both sides.
    assert_eq!(a.count("call up"), 1, "{}", ctx(w));
    assert_eq!(b.count("call up"), 1, "{}", ctx(w));
    assert_eq!(b.count("ringing"), 1, "{}", ctx(w));
    assert_eq!(b.count("answered"), 1, "{}", ctx(w));
    assert_eq!(
        a.count("INVITE 200"),
        1 + usize::from(method == RefreshMethod::Invite),
        "{}",
        ctx(w)
    );
    // The INFO reached Bob's TU once, its answer Alice's once.
    assert_eq!(b.count("INFO received"), 1, "{}", ctx(w));
    assert_eq!(a.count("INFO 200"), 1, "{}", ctx(w));
    // One refresh, answered; the BYE ended both dialogs.
    assert_eq!(a.count("refresh"), 1, "{}", ctx(w));
    assert_eq!(a.count("BYE 200"), 1, "{}", ctx(w));
    assert_eq!(b.count("hung up by peer"), 1, "{}", ctx(w));
    assert!(
        !a.log
            .iter()
            .chain(&b.log)
            .any(|l| l.contains("timeout") || l.contains("expired")),
        "{}",
        ctx(w)
    );
    w.assert_idle();
}

fn sent(w: &World, what: &str) -> usize {
    w.net.trace.iter().filter(|l| l.ends_with(what)).count()
}

#[test]
fn call_lossy_network() {
    let (mut resent_2xx, mut resent_acks) = (0, 0);
    for (seed, net) in lossy_nets() {
        let method = if seed % 2 == 0 {
            RefreshMethod::Invite
        } else {
            RefreshMethod::Update
        };
        let w = call(net, method, ring_time(seed));
        assert_call_outcome(seed, &w, method);
        let invites = 1 + usize::from(method == RefreshMethod::Invite);
        resent_2xx += sent(&w, "B>A 200 INVITE") - invites;
        resent_acks += sent(&w, "A>B ACK") - invites;
    }
    // The runs did exercise section 13.3.1.4 and 13.2.2.4: the UAS dialog retransmitted
    // 2xx responses and the UAC answered them with the stored ACK.
    assert!(
        resent_2xx > 10 && resent_acks > 10,
        "{resent_2xx} {resent_acks}"
    );
}

/// Bob (the UAS) takes the refresher's duty (RFC 4028 section 9, `refresher=uas`): his
/// re-INVITE goes the other way, Alice answers it from her UAC dialog and retransmits
/// that 2xx until Bob's ACK (RFC 3261 section 13.3.1.4 applies to any 2xx to INVITE).
fn call_refreshed_by_uas(net: Net) -> World {
    let mut w = World::new(net);
    let limit = ms(300_000);
    w.bob().timer_config.uas_refresher = session_timer::Party::Local;
    w.alice().invite(Instant::ZERO, BOB, "sip:bob@example.com");
    w.run_until(limit, |w| has_call(&w.ua[0]) && has_call(&w.ua[1]));
    w.probe_timers();
    // Over a lossy network every transmission of the re-INVITE may be lost: then the
    // session expires on both sides instead (checked by the lossy test).
    w.run_until(limit, |w| {
        (w.ua[1].count("INVITE 200") == 1 && w.ua[0].count("refreshed by peer (INVITE)") == 1)
            || w.ua[1].count("INVITE timeout") == 1
    });
    if w.ua[1].count("INVITE timeout") == 1 {
        w.settle();
        return w;
    }
    w.probe_timers();
    let now = w.now;
    let h = w.alice().first_call().unwrap();
    w.alice().send_in_dialog(now, h, Method::Bye);
    w.run_until(limit, |w| {
        w.ua[0].dialogs.is_empty() && w.ua[1].dialogs.is_empty()
    });
    w.settle();
    w
}

#[test]
fn call_refreshed_by_uas_perfect_network() {
    let w = call_refreshed_by_uas(Net::perfect());
    // Bob's 2xx left at 1010: he refreshes at 1010 + 45 s.
    let refresh = 1_010 + 45_000;
    assert_eq!(
        w.net.trace[4..],
        [
            format!("{refresh} B>A INVITE"),
            format!("{} A>B 200 INVITE", refresh + 10),
            format!("{} B>A ACK", refresh + 20),
            format!("{} A>B BYE", refresh + 20),
            format!("{} B>A 200 BYE", refresh + 30),
        ]
    );
    assert_eq!(
        w.probe,
        [
            "1030 A: refresh None expires Some(61020) by Some(Remote)".to_string(),
            "1030 B: refresh Some(46010) expires Some(61010) by Some(Local)".into(),
            format!(
                "{} A: refresh None expires Some({}) by Some(Remote)",
                refresh + 20,
                refresh + 10 + 60_000
            ),
            format!(
                "{} B: refresh Some({}) expires Some({}) by Some(Local)",
                refresh + 20,
                refresh + 20 + 45_000,
                refresh + 20 + 60_000
            ),
        ]
    );
    w.assert_idle();
}

#[test]
fn call_refreshed_by_uas_lossy_network() {
    let mut refresh_lost = 0;
    for (seed, net) in lossy_nets() {
        let w = call_refreshed_by_uas(net);
        let ctx = format!("seed {seed}: {:?} {:?}", w.ua[0].log, w.ua[1].log);
        if w.ua[1].count("INVITE timeout") == 1 {
            // Every transmission of the refresh was lost (timer A, section 17.1.1.2):
            // both sides end the session at its expiry (RFC 4028 section 10).
            assert!(
                !w.net
                    .delivered
                    .iter()
                    .skip(4)
                    .any(|l| l.ends_with("B>A INVITE")),
                "{ctx}"
            );
            assert_eq!(w.ua[0].count("session expired"), 1, "{ctx}");
            assert_eq!(w.ua[1].count("session expired"), 1, "{ctx}");
            w.assert_idle();
            refresh_lost += 1;
            continue;
        }
        assert_eq!(w.ua[1].count("refresh"), 1, "{ctx}");
        assert_eq!(w.ua[0].count("refreshed by peer (INVITE)"), 1, "{ctx}");
        assert_eq!(w.ua[0].count("BYE 200"), 1, "{ctx}");
        assert_eq!(w.ua[1].count("hung up by peer"), 1, "{ctx}");
        w.assert_idle();
    }
    assert!(refresh_lost <= 2, "{refresh_lost} refreshes lost");
}

// ----- 3. session expiry ------------------------------------------------------------------

/// Alice (the refresher) loses her link once the call is up: her re-INVITE never
/// arrives, and Bob ends the session at `interval - min(32, interval / 3)` = 60 s after
/// his 2xx with a BYE (RFC 4028 section 10).
fn expiry(net: Net) -> World {
    let mut w = World::new(net);
    let limit = ms(300_000);
    w.alice().invite(Instant::ZERO, BOB, "sip:bob@example.com");
    w.run_until(limit, |w| has_call(&w.ua[0]) && has_call(&w.ua[1]));
    w.probe_timers();
    w.net.cut[usize::from(ALICE)] = true;
    w.run_until(limit, |w| {
        w.ua[0].dialogs.is_empty() && w.ua[1].dialogs.is_empty()
    });
    w.settle();
    w
}

/// The instant of the first log line `what`.
fn when(ua: &Ua, what: &str) -> Option<u64> {
    ua.log.iter().find_map(|l| {
        l.split_once(' ')
            .filter(|x| x.1 == what)
            .map(|x| x.0.parse().unwrap())
    })
}

#[test]
fn session_expiry_perfect_network() {
    let w = expiry(Net::perfect());
    // Bob sent his 2xx at 1010: expiry at 1010 + 60 s. His BYE gets no answer (Alice's
    // 200 is lost with everything else she sends): timer E retransmits it and timer F
    // ends the transaction after 64*T1 (section 17.1.2.2), and the dialog with it.
    let exp = 1_010 + 60_000;
    assert_eq!(
        w.ua[1].log,
        [
            "10 ringing".to_string(),
            "1010 answered".into(),
            "1030 call up".into(),
            format!("{exp} session expired"),
            format!("{} BYE timeout", exp + 32_000),
        ]
    );
    let bob_byes: Vec<u64> = w
        .net
        .trace
        .iter()
        .filter(|l| l.ends_with("B>A BYE"))
        .map(|l| l.split(' ').next().unwrap().parse::<u64>().unwrap() - exp)
        .collect();
    assert_eq!(
        bob_byes,
        [
            0, 500, 1_500, 3_500, 7_500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
        ]
    );
    // Alice refreshed at 46020 into the void; Bob's BYE reached her at 61020 and ended
    // her dialog (her own expiry was due at the same instant); her re-INVITE timed out
    // 64*T1 after it was sent.
    assert_eq!(
        w.ua[0].log[5..],
        [
            "46020 refresh".to_string(),
            "61020 hung up by peer".into(),
            "78020 INVITE timeout".into(),
        ]
    );
    assert!(w.net.trace.iter().any(|l| l == "46020 A>B INVITE"));
    assert!(w.net.trace.iter().any(|l| l == "61020 A>B 200 BYE"));
    w.assert_idle();
}

#[test]
fn session_expiry_lossy_network() {
    for (seed, net) in lossy_nets() {
        let w = expiry(net);
        let ctx = format!("seed {seed}: {:?} {:?}", w.ua[0].log, w.ua[1].log);
        let answered = when(&w.ua[1], "answered").expect(&ctx);
        assert_eq!(
            when(&w.ua[1], "session expired"),
            Some(answered + 60_000),
            "{ctx}"
        );
        assert_eq!(w.ua[1].count("session expired"), 1, "{ctx}");
        assert_eq!(w.ua[0].count("refresh"), 1, "{ctx}");
        assert!(w.net.trace.iter().any(|l| l.ends_with("B>A BYE")), "{ctx}");
        w.assert_idle();
    }
}

// ----- 4. rejection -----------------------------------------------------------------------

/// INVITE, 180 (an early dialog at Alice), 486: the transaction layer acknowledges the
/// 486 (section 17.1.1.3) and the early dialog dies with the INVITE (section 13.2.2.3).
fn rejection(net: Net, ring: Duration) -> World {
    let mut w = World::new(net);
    w.bob().answer_delay = ring;
    w.bob().policy = Policy::Busy;
    w.alice().invite(Instant::ZERO, BOB, "sip:bob@example.com");
    w.run_until(ms(100_000), |w| w.ua[0].pending.is_empty());
    w.settle();
    w
}

#[test]
fn rejection_perfect_network() {
    let w = rejection(Net::perfect(), Duration::from_secs(1));
    assert_eq!(
        w.net.trace,
        [
            "0 A>B INVITE",
            "10 B>A 180 INVITE",
            "1010 B>A 486 INVITE",
            "1020 A>B ACK"
        ]
    );
    assert_eq!(
        w.ua[0].log,
        [
            "0 calling",
            "20 INVITE 180",
            "1020 early dialogs removed 1",
            "1020 INVITE 486"
        ]
    );
    assert_eq!(w.ua[1].log, ["10 ringing", "1010 rejected"]);
    w.assert_idle();
}

#[test]
fn rejection_lossy_network() {
    for (seed, net) in lossy_nets() {
        let w = rejection(net, ring_time(seed));
        let ctx = format!("seed {seed}: {:?} {:?}", w.ua[0].log, w.ua[1].log);
        // One final response at the UAC's TU, however many 486s and ACKs crossed.
        let finals = w.ua[0]
            .log
            .iter()
            .filter(|l| l.contains(" INVITE 4"))
            .count();
        assert_eq!(finals, 1, "{ctx}");
        assert_eq!(w.ua[0].count("INVITE 486"), 1, "{ctx}");
        assert_eq!(w.ua[1].count("rejected"), 1, "{ctx}");
        assert!(!w.ua[1].log.iter().any(|l| l.contains("Timeout")), "{ctx}");
        w.assert_idle();
    }
}

// ----- 5. CANCEL --------------------------------------------------------------------------

/// INVITE, 180, CANCEL (section 9.1), 200 to the CANCEL and 487 to the INVITE (section
/// 9.2), ACK; the early dialogs end on both sides.
fn cancelled(net: Net) -> World {
    let mut w = World::new(net);
    w.bob().policy = Policy::Ring;
    w.alice().invite(Instant::ZERO, BOB, "sip:bob@example.com");
    w.run_until(ms(100_000), |w| w.ua[0].count("INVITE 180") > 0);
    let now = w.now;
    w.alice().cancel(now);
    w.run_until(ms(200_000), |w| w.ua[0].pending.is_empty());
    w.settle();
    w
}

#[test]
fn cancel_perfect_network() {
    let w = cancelled(Net::perfect());
    assert_eq!(
        w.net.trace,
        [
            "0 A>B INVITE",
            "10 B>A 180 INVITE",
            "20 A>B CANCEL",
            "30 B>A 200 CANCEL",
            "30 B>A 487 INVITE",
            "40 A>B ACK"
        ]
    );
    assert_eq!(
        w.ua[0].log,
        [
            "0 calling",
            "20 INVITE 180",
            "20 cancelling",
            "40 CANCEL 200",
            "40 early dialogs removed 1",
            "40 INVITE 487"
        ]
    );
    assert_eq!(w.ua[1].log, ["10 ringing", "30 cancelled by peer"]);
    w.assert_idle();
}

#[test]
fn cancel_lossy_network() {
    for (seed, net) in lossy_nets() {
        let w = cancelled(net);
        let ctx = format!("seed {seed}: {:?} {:?}", w.ua[0].log, w.ua[1].log);
        assert_eq!(w.ua[0].count("INVITE 487"), 1, "{ctx}");
        assert_eq!(w.ua[0].count("CANCEL 200"), 1, "{ctx}");
        assert_eq!(w.ua[1].count("cancelled by peer"), 1, "{ctx}");
        w.assert_idle();
    }
}

/// The CANCEL crosses Bob's 200 (section 9.2): Bob answers the CANCEL with 200 and
/// nothing else changes; Alice gets the call, acknowledges it and hangs up with BYE
/// (section 9.1: "the UAC MUST send a BYE" for a 2xx after a CANCEL, in effect).
fn cancel_crosses_answer(net: Net) -> World {
    let mut w = World::new(net);
    let limit = ms(200_000);
    w.alice().invite(Instant::ZERO, BOB, "sip:bob@example.com");
    // Bob answers at 1010; Alice cancels at 1015, before the 200 reaches her.
    w.run_until(limit, |w| w.ua[1].count("answered") == 1);
    w.run_to(ms(1_015));
    let now = w.now;
    if !has_call(&w.ua[0]) {
        w.alice().cancel(now);
    }
    w.run_until(limit, |w| has_call(&w.ua[0]) && has_call(&w.ua[1]));
    let now = w.now;
    let h = w.alice().first_call().unwrap();
    w.alice().send_in_dialog(now, h, Method::Bye);
    w.run_until(limit, |w| {
        w.ua[0].dialogs.is_empty() && w.ua[1].dialogs.is_empty()
    });
    w.settle();
    w
}

#[test]
fn cancel_crossing_200_perfect_network() {
    let w = cancel_crosses_answer(Net::perfect());
    assert_eq!(
        w.net.trace,
        [
            "0 A>B INVITE",
            "10 B>A 180 INVITE",
            "1010 B>A 200 INVITE",
            "1015 A>B CANCEL",
            "1020 A>B ACK",
            "1025 B>A 200 CANCEL",
            "1030 A>B BYE",
            "1040 B>A 200 BYE"
        ]
    );
    assert_eq!(
        w.ua[1].log,
        [
            "10 ringing",
            "1010 answered",
            "1030 call up",
            "1040 hung up by peer"
        ]
    );
    w.assert_idle();
}

#[test]
fn cancel_crossing_200_lossy_network() {
    for (seed, net) in lossy_nets() {
        let w = cancel_crosses_answer(net);
        let ctx = format!("seed {seed}: {:?} {:?}", w.ua[0].log, w.ua[1].log);
        assert_eq!(w.ua[0].count("call up"), 1, "{ctx}");
        assert_eq!(w.ua[1].count("call up"), 1, "{ctx}");
        assert_eq!(w.ua[0].count("BYE 200"), 1, "{ctx}");
        assert_eq!(w.ua[1].count("hung up by peer"), 1, "{ctx}");
        assert_eq!(w.ua[1].count("cancelled by peer"), 0, "{ctx}");
        w.assert_idle();
    }
}

// ----- 6. CSeq order and unknown dialogs ----------------------------------------------------

/// Two INFOs overtake each other: the later CSeq is accepted, the earlier one gets 500
/// (section 12.2.2). Then Bob forgets the dialog (a restart): Alice's next INFO gets
/// 481, which ends her dialog (section 12.2.1.2).
#[test]
fn cseq_order_and_unknown_dialog_perfect_network() {
    let mut w = World::new(Net::perfect());
    let limit = ms(100_000);
    w.alice().invite(Instant::ZERO, BOB, "sip:bob@example.com");
    w.run_until(limit, |w| has_call(&w.ua[0]) && has_call(&w.ua[1]));
    let h = w.alice().first_call().unwrap();
    let now = w.now; // 1030
    w.net.delay_once.push((ALICE, "INFO".to_string(), 100));
    w.alice().send_in_dialog(now, h, Method::Info);
    w.alice().send_in_dialog(now, h, Method::Info);
    w.run_until(limit, |w| w.ua[0].pending.is_empty());
    assert_eq!(
        w.net.trace[4..],
        [
            "1030 A>B INFO",
            "1030 A>B INFO",
            "1040 B>A 200 INFO",
            "1140 B>A 500 INFO"
        ]
    );
    assert_eq!(
        w.ua[1].log[3..],
        ["1040 INFO received", "1140 INFO rejected 500"]
    );
    assert_eq!(w.ua[0].log[5..], ["1050 INFO 200", "1150 INFO 500"]);
    // A 500 does not end the dialog.
    assert_eq!(w.ua[0].dialogs.len(), 1);

    let b = w.bob().first_call().unwrap();
    w.bob().end_call(b);
    let now = w.now;
    w.alice().send_in_dialog(now, h, Method::Info);
    w.run_until(limit, |w| w.ua[0].pending.is_empty());
    assert_eq!(w.net.trace[8..], ["1150 A>B INFO", "1160 B>A 481 INFO"]);
    assert_eq!(w.ua[1].log[5..], ["1160 INFO rejected 481"]);
    assert_eq!(w.ua[0].log[7..], ["1170 INFO 481", "1170 dialog gone"]);
    w.settle();
    w.assert_idle();
}

// ----- zero allocation ----------------------------------------------------------------------

/// A whole call (scenario 2 on a perfect network) makes no allocation inside the layers:
/// every call into `sip_lite` is measured (the simulated network and the logs around them
/// allocate, and are not).
#[test]
fn call_does_not_allocate_in_the_layers() {
    assert!(alloc_counter::is_installed());
    // The meter sees an allocation made inside it.
    let probe = core::cell::Cell::new(0);
    let v = lay!(probe, vec![1u8]);
    assert_eq!((probe.get(), v.len()), (1, 1));

    let w = call(
        Net::perfect(),
        RefreshMethod::Invite,
        Duration::from_secs(1),
    );
    assert_eq!(w.net.trace.len(), 11, "the whole call ran");
    assert_eq!(w.ua[0].allocs.get(), 0, "alice");
    assert_eq!(w.ua[1].allocs.get(), 0, "bob");
    let w = registration(Net::perfect());
    assert_eq!(w.net.trace.len(), 12, "the whole registration ran");
    assert_eq!(w.ua[0].allocs.get(), 0, "registration");
}
