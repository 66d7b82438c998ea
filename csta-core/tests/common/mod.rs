//! Pieces shared by the two-node uaCSTA tests: a simulated datagram network on a
//! virtual clock, a one-line summary of a SIP message, and the SIP plumbing of one
//! node (a session over its own transaction layer).

#![allow(dead_code)]

use core::time::Duration;
use std::collections::{BTreeMap, HashMap};
use std::format;
use std::string::String;
use std::vec::Vec;

use csta_core::uacsta::app::AppSession;
use csta_core::uacsta::phone::PhoneSession;
use csta_core::uacsta::{Outgoing, SessionError};
use sip_lite::ids::IdGenerator;
use sip_lite::time::Instant;
use sip_lite::transaction::{self, ClientTx, Event, Transactions, Tx};
use sip_lite::wire::{HeaderIndex, Message, Method};

/// The application side's node number.
pub(crate) const APP: u8 = 0;
/// The phone side's node number.
pub(crate) const PHONE: u8 = 1;

/// `t` milliseconds after the start.
pub(crate) fn ms(t: u64) -> Instant {
    Instant::from_millis(t)
}

/// `INVITE` for a request, `200 INVITE` for a response.
pub(crate) fn summary(bytes: &[u8]) -> String {
    let mut hs = [HeaderIndex::EMPTY; 64];
    let msg = Message::parse(bytes, &mut hs).expect("a message the stack built");
    let cseq = msg.cseq().expect("CSeq");
    match msg.status() {
        Some(s) => format!("{} {}", s.0, cseq.method),
        None => format!("{}", cseq.method),
    }
}

/// A datagram network between two nodes: fixed latency plus jitter (which reorders),
/// loss and duplication in per mille, from a seeded generator.
pub(crate) struct Net {
    rng: u64,
    loss: u64,
    duplicate: u64,
    latency: u64,
    jitter: u64,
    queue: BTreeMap<(Instant, u64), (u8, Vec<u8>)>,
    seq: u64,
    /// Everything this node sends is lost.
    pub(crate) cut: [bool; 2],
    /// Every message sent, as `time direction summary`.
    pub(crate) trace: Vec<String>,
}

impl Net {
    /// 10 ms each way, nothing lost.
    pub(crate) fn perfect() -> Net {
        Net {
            rng: 1,
            loss: 0,
            duplicate: 0,
            latency: 10,
            jitter: 0,
            queue: BTreeMap::new(),
            seq: 0,
            cut: [false; 2],
            trace: Vec::new(),
        }
    }

    /// Loss and duplication in per mille, jitter in milliseconds.
    pub(crate) fn lossy(seed: u64, loss: u64, duplicate: u64, jitter: u64) -> Net {
        Net {
            rng: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
            loss,
            duplicate,
            jitter,
            ..Net::perfect()
        }
    }

    fn random(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11
    }

    /// Sends `bytes` from node `from` to the other one.
    pub(crate) fn send(&mut self, now: Instant, from: u8, bytes: &[u8]) {
        let name = if from == APP { "A>P" } else { "P>A" };
        self.trace
            .push(format!("{} {name} {}", now.as_millis(), summary(bytes)));
        if self.cut[usize::from(from)] {
            return;
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
            let delay = self.latency + self.random() % (self.jitter + 1);
            self.seq += 1;
            self.queue.insert(
                (now + Duration::from_millis(delay), self.seq),
                (1 - from, bytes.to_vec()),
            );
        }
    }

    /// When the next datagram arrives.
    pub(crate) fn next_delivery(&self) -> Option<Instant> {
        self.queue.keys().next().map(|k| k.0)
    }

    /// The next datagram: when it arrives, to which node, what.
    pub(crate) fn pop(&mut self) -> Option<(Instant, u8, Vec<u8>)> {
        let (&key, _) = self.queue.iter().next()?;
        let (to, bytes) = self.queue.remove(&key)?;
        Some((key.0, to, bytes))
    }
}

// ----- a session over its own transaction layer -----------------------------------------

/// What an endpoint needs of a uaCSTA session: its requests, and word of requests whose
/// transaction ended unanswered.
pub(crate) trait TxUser {
    fn poll_request(
        &mut self,
        now: Instant,
        ids: &mut IdGenerator,
        buf: &mut [u8],
    ) -> Option<Result<Outgoing, SessionError>>;
    fn handle_request_failed(&mut self, now: Instant, cseq: u32, method: Method<'_>);
}

impl<const Q: usize, const M: usize> TxUser for AppSession<Q, M> {
    fn poll_request(
        &mut self,
        now: Instant,
        ids: &mut IdGenerator,
        buf: &mut [u8],
    ) -> Option<Result<Outgoing, SessionError>> {
        AppSession::poll_request(self, now, ids, buf)
    }
    fn handle_request_failed(&mut self, now: Instant, cseq: u32, method: Method<'_>) {
        AppSession::handle_request_failed(self, now, cseq, method);
    }
}

impl<const Q: usize, const M: usize> TxUser for PhoneSession<Q, M> {
    fn poll_request(
        &mut self,
        now: Instant,
        ids: &mut IdGenerator,
        buf: &mut [u8],
    ) -> Option<Result<Outgoing, SessionError>> {
        PhoneSession::poll_request(self, now, ids, buf)
    }
    fn handle_request_failed(&mut self, now: Instant, cseq: u32, method: Method<'_>) {
        PhoneSession::handle_request_failed(self, now, cseq, method);
    }
}

/// The transaction size the tests use.
pub(crate) const BUF: usize = 4096;
/// The transaction store of an endpoint: room for 16 messages of `BUF` octets.
pub(crate) const STORE: usize = 16 * BUF;

/// One node's SIP plumbing: a transaction table, an ID generator, the datagrams to
/// send, and the client transactions of its session's requests.
pub(crate) struct Endpoint<const N: usize = 64> {
    pub(crate) tx: Transactions<u8, N, STORE>,
    pub(crate) ids: IdGenerator,
    /// Datagrams to hand to the network.
    pub(crate) outbox: Vec<Vec<u8>>,
    client: HashMap<ClientTx, (u32, Method<'static>)>,
    /// The node requests go to.
    peer: u8,
}

impl<const N: usize> Endpoint<N> {
    pub(crate) fn new(seed: u8, peer: u8) -> Self {
        Endpoint {
            tx: Transactions::new(transaction::Config::DEFAULT),
            ids: IdGenerator::new([seed; 32]),
            outbox: Vec::new(),
            client: HashMap::new(),
            peer,
        }
    }

    /// Sends what `session` has due and what the transaction layer has to
    /// (re)transmit, and tells `session` of requests that timed out. Returns whether
    /// anything happened.
    pub(crate) fn drive(&mut self, now: Instant, session: &mut impl TxUser) -> bool {
        let mut buf = [0u8; BUF];
        let mut moved = false;
        while let Some(out) = session.poll_request(now, &mut self.ids, &mut buf) {
            let out = out.expect("request fits");
            moved = true;
            let bytes = &buf[..out.len];
            if out.transaction {
                let c = self
                    .tx
                    .send_request(now, self.peer, false, bytes)
                    .expect("transaction slot");
                self.client.insert(c, (out.cseq, out.method));
            } else {
                self.outbox.push(bytes.to_vec());
            }
        }
        while let Some(t) = self.tx.poll_transmit() {
            self.outbox.push(t.bytes.to_vec());
        }
        while let Some(e) = self.tx.poll_event() {
            if let Event::Timeout(Tx::Client(c)) | Event::TransportError(Tx::Client(c)) = e
                && let Some((cseq, m)) = self.client.remove(&c)
            {
                session.handle_request_failed(now, cseq, m);
                moved = true;
            }
        }
        moved
    }

    /// A response to client transaction `c` arrived.
    pub(crate) fn answered(&mut self, c: ClientTx, msg: &Message<'_>) {
        if !msg.status().is_some_and(|s| s.is_provisional()) {
            self.client.remove(&c);
        }
    }

    /// Forgets the client transaction of a `method` request, as if the transport had
    /// failed it: its CSeq and method, for the session's `handle_request_failed`.
    pub(crate) fn forget_request(&mut self, method: Method<'_>) -> Option<(u32, Method<'static>)> {
        let (&c, _) = self.client.iter().find(|(_, (_, m))| *m == method)?;
        self.client.remove(&c)
    }

    /// When the transaction layer next needs [`Endpoint::handle_timeout`].
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.tx.poll_timeout()
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if self.tx.poll_timeout().is_some_and(|t| t <= now) {
            self.tx.handle_timeout(now);
        }
    }
}

// ----- two nodes on the network ---------------------------------------------------------

/// A node of a two-node test: its timers, its input and the datagrams it sends.
pub(crate) trait Node {
    fn poll_timeout(&self) -> Option<Instant>;
    fn handle_timeout(&mut self, now: Instant);
    fn receive(&mut self, now: Instant, bytes: &[u8]);
    fn outbox(&mut self) -> &mut Vec<Vec<u8>>;
}

/// Hands what both nodes sent to the network.
pub(crate) fn post(now: Instant, net: &mut Net, app: &mut impl Node, phone: &mut impl Node) {
    for b in app.outbox().drain(..) {
        net.send(now, APP, &b);
    }
    for b in phone.outbox().drain(..) {
        net.send(now, PHONE, &b);
    }
}

/// When the next thing happens: a delivery or a node's timer.
pub(crate) fn next(net: &Net, app: &impl Node, phone: &impl Node) -> Option<Instant> {
    [
        net.next_delivery(),
        app.poll_timeout(),
        phone.poll_timeout(),
    ]
    .into_iter()
    .flatten()
    .min()
}

/// Moves the clock `now` to the next thing that happens and makes it happen; `false`
/// when nothing is left to happen.
pub(crate) fn step(
    now: &mut Instant,
    net: &mut Net,
    app: &mut impl Node,
    phone: &mut impl Node,
) -> bool {
    post(*now, net, app, phone);
    let Some(at) = next(net, app, phone) else {
        return false;
    };
    *now = at.max(*now);
    if net.next_delivery() == Some(at) {
        let (when, to, bytes) = net.pop().expect("a datagram is due");
        if to == APP {
            app.receive(when, &bytes);
        } else {
            phone.receive(when, &bytes);
        }
    } else {
        if app.poll_timeout().is_some_and(|t| t <= *now) {
            app.handle_timeout(*now);
        }
        if phone.poll_timeout().is_some_and(|t| t <= *now) {
            phone.handle_timeout(*now);
        }
    }
    post(*now, net, app, phone);
    true
}
