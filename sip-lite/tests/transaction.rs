//! Two transaction layers talking through a simulated network on a virtual clock.
//!
//! Each test asserts the exact messages on the wire with the instant they left, and the
//! events and classifications the TUs saw, against RFC 3261 section 17 (as updated by
//! RFC 6026). The lossy-network tests drive many transactions through loss, duplication
//! and reordering and check that every one ends exactly once.

use std::collections::BTreeMap;
use std::string::String;
use std::vec::Vec;

use sip_lite::time::Instant;
use sip_lite::transaction::{ClientTx, Config, Event, Received, State, Transactions, Tx, TxError};
use sip_lite::wire::{HeaderIndex, Message, SliceSink, StatusCode, Writer};

type Layer = Transactions<u8, 8, { 8 * 2048 }>;

const ALICE: u8 = 0;
const BOB: u8 = 1;

fn ms(t: u64) -> Instant {
    Instant::from_millis(t)
}

fn request(method: &str, branch: &str, cseq: u32, to_tag: Option<&str>) -> Vec<u8> {
    let to_tag = to_tag.map(|t| format!(";tag={t}")).unwrap_or_default();
    format!(
        "{method} sip:bob@biloxi.example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP alice.example.com:5060;branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         From: Alice <sip:alice@atlanta.example.com>;tag=a1\r\n\
         To: Bob <sip:bob@biloxi.example.com>{to_tag}\r\n\
         Call-ID: call-{branch}\r\n\
         CSeq: {cseq} {method}\r\n\
         Route: <sip:proxy.example.com;lr>\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn parse<'a>(bytes: &'a [u8], headers: &'a mut [HeaderIndex]) -> Message<'a> {
    Message::parse(bytes, headers).expect("a message the test or the layer built")
}

fn response(req: &[u8], status: StatusCode, to_tag: Option<&str>) -> Vec<u8> {
    let mut h = [HeaderIndex::EMPTY; 32];
    let msg = parse(req, &mut h);
    let mut buf = [0u8; 2048];
    let w = Writer::response_to(SliceSink::new(&mut buf), &msg, status, "", to_tag).unwrap();
    let len = w.finish(b"").unwrap().len();
    buf[..len].to_vec()
}

fn first_line(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    s.lines().next().unwrap_or("").to_string()
}

/// A node: a transaction layer and what it did.
struct Node {
    id: u8,
    layer: Layer,
    /// `(ms, first line)` of every message it sent.
    sent: Vec<(u64, String)>,
    events: Vec<(u64, Event)>,
}

impl Node {
    fn new(id: u8, config: Config) -> Node {
        Node {
            id,
            layer: Layer::new(config),
            sent: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Drains output into the network.
    fn flush(&mut self, now: Instant, net: &mut Net) {
        while let Some(t) = self.layer.poll_transmit() {
            self.sent.push((now.as_millis(), first_line(t.bytes)));
            net.send(now, self.id, t.peer, t.bytes);
        }
        while let Some(e) = self.layer.poll_event() {
            self.events.push((now.as_millis(), e));
        }
    }

    fn sent_lines(&self) -> Vec<(u64, &str)> {
        self.sent.iter().map(|(t, l)| (*t, l.as_str())).collect()
    }
}

/// A simulated datagram network: deterministic loss, duplication and delay (which
/// reorders).
struct Net {
    rng: u64,
    /// Per mille.
    loss: u64,
    duplicate: u64,
    /// Delay drawn from `latency..=latency + jitter` ms.
    latency: u64,
    jitter: u64,
    /// Deliveries by (instant, sequence).
    queue: BTreeMap<(Instant, u64), (u8, u8, Vec<u8>)>,
    seq: u64,
    /// Messages to drop deliberately, by first line, once each.
    drop_once: Vec<String>,
}

impl Net {
    fn perfect(latency: u64) -> Net {
        Net {
            rng: 1,
            loss: 0,
            duplicate: 0,
            latency,
            jitter: 0,
            queue: BTreeMap::new(),
            seq: 0,
            drop_once: Vec::new(),
        }
    }

    fn lossy(seed: u64, loss: u64, duplicate: u64, jitter: u64) -> Net {
        Net {
            rng: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
            loss,
            duplicate,
            latency: 10,
            jitter,
            ..Net::perfect(10)
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
        let line = first_line(bytes);
        if let Some(i) = self.drop_once.iter().position(|l| *l == line) {
            self.drop_once.remove(i);
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
                (now + core::time::Duration::from_millis(delay), self.seq),
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
        Some((key.0, from, to, bytes))
    }
}

/// What a TU does with a classified message; returns messages the TU sends without a
/// transaction (ACK for 2xx).
type Tu<'f> = dyn FnMut(Instant, &mut Node, Received, &Message<'_>) -> Vec<Vec<u8>> + 'f;

/// Runs both nodes until `end`, delivering messages and firing timers in time order.
fn run(
    nodes: &mut [Node; 2],
    net: &mut Net,
    end: Instant,
    tu: &mut Tu<'_>,
) -> Vec<(u64, u8, Received)> {
    let mut seen = Vec::new();
    loop {
        let timer = nodes.iter().filter_map(|n| n.layer.poll_timeout()).min();
        let delivery = net.next_delivery();
        let next = match (timer, delivery) {
            (Some(t), Some(d)) => t.min(d),
            (Some(t), None) => t,
            (None, Some(d)) => d,
            (None, None) => break,
        };
        if next > end {
            break;
        }
        if delivery == Some(next) {
            let (now, _from, to, bytes) = net.pop().unwrap();
            let node = &mut nodes[usize::from(to)];
            let mut h = [HeaderIndex::EMPTY; 64];
            let msg = parse(&bytes, &mut h);
            let peer = 1 - to;
            let received = node.layer.receive(now, peer, false, &msg).unwrap();
            seen.push((now.as_millis(), to, received));
            node.flush(now, net);
            for raw in tu(now, node, received, &msg) {
                node.sent.push((now.as_millis(), first_line(&raw)));
                net.send(now, to, peer, &raw);
            }
            node.flush(now, net);
        } else {
            for node in nodes.iter_mut() {
                if node.layer.poll_timeout().is_some_and(|t| t <= next) {
                    node.layer.handle_timeout(next);
                    node.flush(next, net);
                }
            }
        }
    }
    seen
}

fn pair() -> [Node; 2] {
    [
        Node::new(ALICE, Config::DEFAULT),
        Node::new(BOB, Config::DEFAULT),
    ]
}

fn silent(_: Instant, _: &mut Node, _: Received, _: &Message<'_>) -> Vec<Vec<u8>> {
    Vec::new()
}

/// Section 17.1.2.2: timer E doubles from T1 up to T2, timer F ends the transaction at
/// 64*T1 with a timeout for the TU.
#[test]
fn non_invite_client_retransmits_until_timer_f() {
    let mut nodes = pair();
    let mut net = Net::perfect(10);
    net.drop_once = vec!["OPTIONS sip:bob@biloxi.example.com SIP/2.0".into(); 20];
    let tx = nodes[0]
        .layer
        .send_request(ms(0), BOB, false, &request("OPTIONS", "z9hG4bK-e", 1, None))
        .unwrap();
    nodes[0].flush(ms(0), &mut net);
    run(&mut nodes, &mut net, ms(100_000), &mut silent);
    let times: Vec<u64> = nodes[0].sent.iter().map(|s| s.0).collect();
    assert_eq!(
        times,
        [
            0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500
        ]
    );
    assert_eq!(nodes[0].events, [(32_000, Event::Timeout(Tx::Client(tx)))]);
    assert!(nodes[0].layer.is_empty());
    assert_eq!(nodes[0].layer.state(tx), None);
}

/// Section 17.1.1.2: timer A doubles without a cap until timer B.
#[test]
fn invite_client_retransmits_until_timer_b() {
    let mut nodes = pair();
    let mut net = Net::perfect(10);
    net.drop_once = vec!["INVITE sip:bob@biloxi.example.com SIP/2.0".into(); 20];
    let tx = nodes[0]
        .layer
        .send_request(ms(0), BOB, false, &request("INVITE", "z9hG4bK-a", 1, None))
        .unwrap();
    nodes[0].flush(ms(0), &mut net);
    run(&mut nodes, &mut net, ms(100_000), &mut silent);
    let times: Vec<u64> = nodes[0].sent.iter().map(|s| s.0).collect();
    assert_eq!(times, [0, 500, 1500, 3500, 7500, 15500, 31500]);
    assert_eq!(nodes[0].events, [(32_000, Event::Timeout(Tx::Client(tx)))]);
}

/// Sections 17.1.1.2 and 17.1.2.2: no retransmission over a reliable transport, the
/// timeout still comes at 64*T1.
#[test]
fn reliable_transport_never_retransmits() {
    let mut layer = Layer::new(Config::DEFAULT);
    let tx = layer
        .send_request(ms(0), BOB, true, &request("INVITE", "z9hG4bK-r", 1, None))
        .unwrap();
    assert!(layer.poll_transmit().is_some());
    assert!(layer.poll_transmit().is_none());
    assert_eq!(layer.poll_timeout(), Some(ms(32_000)));
    layer.handle_timeout(ms(31_999));
    assert!(layer.poll_transmit().is_none());
    layer.handle_timeout(ms(32_000));
    assert_eq!(layer.poll_event(), Some(Event::Timeout(Tx::Client(tx))));
}

/// A TU that answers INVITE with 180 then `final_status`, other requests with 200, and
/// acknowledges 2xx (section 13.2.2.4) with a new branch.
fn answering(
    final_status: StatusCode,
) -> impl FnMut(Instant, &mut Node, Received, &Message<'_>) -> Vec<Vec<u8>> {
    move |now, node, received, msg| {
        let raw = msg_bytes(msg);
        match received {
            Received::Request(tx) => {
                let is_invite = msg.method() == Some(sip_lite::wire::Method::Invite);
                if is_invite {
                    node.layer
                        .respond(now, tx, &response(&raw, StatusCode::RINGING, Some("b1")))
                        .unwrap();
                    node.layer
                        .respond(now, tx, &response(&raw, final_status, Some("b1")))
                        .unwrap();
                } else {
                    node.layer
                        .respond(now, tx, &response(&raw, StatusCode::OK, Some("b1")))
                        .unwrap();
                }
                Vec::new()
            }
            Received::Response(_) | Received::Retransmitted2xx(_)
                if msg.status().is_some_and(|s| s.is_success())
                    && msg.cseq().unwrap().method == sip_lite::wire::Method::Invite =>
            {
                vec![request(
                    "ACK",
                    "z9hG4bK-ack2xx",
                    msg.cseq().unwrap().seq,
                    Some("b1"),
                )]
            }
            _ => Vec::new(),
        }
    }
}

/// The bytes a parsed message came from (head and body are contiguous).
fn msg_bytes(msg: &Message<'_>) -> Vec<u8> {
    let mut v = msg.head().as_bytes().to_vec();
    v.extend_from_slice(b"\r\n");
    v.extend_from_slice(msg.body());
    // The head ends before the empty line; rebuild the exact message.
    let s = String::from_utf8_lossy(&v).to_string();
    let s = if s.ends_with("\r\n\r\n") {
        s
    } else {
        format!("{}\r\n", s.trim_end_matches("\r\n")) + "\r\n"
    };
    s.into_bytes()
}

/// Section 17.1.1.3 and 17.2.1: a 486 is acknowledged by the client transaction; the
/// server retransmits the 486 (timer G) until the ACK comes, then waits T4 (timer I).
#[test]
fn invite_rejected_generates_ack_and_server_retransmits_until_it() {
    let mut nodes = pair();
    let mut net = Net::perfect(10);
    // Lose the first ACK: Bob retransmits the 486 500 ms after sending it (timer G) and
    // Alice's transaction answers the copy with the same ACK.
    net.drop_once = vec!["ACK sip:bob@biloxi.example.com SIP/2.0".into()];
    let tx = nodes[0]
        .layer
        .send_request(
            ms(0),
            BOB,
            false,
            &request("INVITE", "z9hG4bK-486", 1, None),
        )
        .unwrap();
    nodes[0].flush(ms(0), &mut net);
    let seen = run(
        &mut nodes,
        &mut net,
        ms(100_000),
        &mut answering(StatusCode::BUSY_HERE),
    );
    assert_eq!(
        nodes[0].sent_lines(),
        [
            (0, "INVITE sip:bob@biloxi.example.com SIP/2.0"),
            (20, "ACK sip:bob@biloxi.example.com SIP/2.0"),
            (520, "ACK sip:bob@biloxi.example.com SIP/2.0"),
        ]
    );
    assert_eq!(
        nodes[1].sent_lines(),
        [
            (10, "SIP/2.0 100 Trying"),
            // The TU answered 180 and 486 without draining in between: the unsent 180
            // was superseded.
            (10, "SIP/2.0 486 Busy Here"),
            (510, "SIP/2.0 486 Busy Here"),
        ]
    );
    // Alice's TU saw 100 and 486 once each; the retransmitted 486 was absorbed.
    let alice: Vec<_> = seen
        .iter()
        .filter(|s| s.1 == ALICE)
        .map(|s| (s.0, s.2))
        .collect();
    assert_eq!(
        alice,
        [
            (20, Received::Response(tx)),
            (20, Received::Response(tx)),
            (520, Received::Absorbed),
        ]
    );
    // Bob: the INVITE, the second ACK absorbed (Completed -> Confirmed).
    let bob: Vec<_> = seen.iter().filter(|s| s.1 == BOB).map(|s| s.2).collect();
    assert!(matches!(bob[0], Received::Request(_)));
    assert_eq!(bob[1], Received::Absorbed);
    assert!(nodes[0].events.is_empty() && nodes[1].events.is_empty());
    // Both layers ended: Alice after timer D (32 s), Bob after timer I (T4 = 5 s).
    assert!(nodes[0].layer.is_empty() && nodes[1].layer.is_empty());
}

/// The generated ACK (section 17.1.1.3): Request-URI, top Via, From, Call-ID and Route
/// of the INVITE, To of the response, CSeq number with method ACK.
#[test]
fn generated_ack_fields() {
    let mut layer = Layer::new(Config::DEFAULT);
    let mut invite = request("INVITE", "z9hG4bK-ackf", 7, None);
    // A second Via must not be copied.
    let text = String::from_utf8(invite).unwrap().replace(
        "Max-Forwards",
        "Via: SIP/2.0/UDP other.example.com;branch=z9hG4bK-x\r\nMax-Forwards",
    );
    invite = text.into_bytes();
    let tx = layer.send_request(ms(0), BOB, false, &invite).unwrap();
    let _ = layer.poll_transmit();
    let busy = response(&invite, StatusCode::BUSY_HERE, Some("t9"));
    let mut h = [HeaderIndex::EMPTY; 32];
    let msg = parse(&busy, &mut h);
    assert_eq!(
        layer.receive(ms(50), BOB, false, &msg),
        Ok(Received::Response(tx))
    );
    let ack = layer.poll_transmit().unwrap().bytes.to_vec();
    let mut h = [HeaderIndex::EMPTY; 32];
    let ack = parse(&ack, &mut h);
    assert_eq!(ack.request_uri_str(), Some("sip:bob@biloxi.example.com"));
    assert_eq!(ack.vias().count(), 1);
    assert_eq!(ack.top_via().unwrap().branch(), Some("z9hG4bK-ackf"));
    assert_eq!(ack.to().unwrap().tag(), Some("t9"));
    assert_eq!(ack.from().unwrap().tag(), Some("a1"));
    assert_eq!(ack.call_id().unwrap(), "call-z9hG4bK-ackf");
    let cseq = ack.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method), (7, sip_lite::wire::Method::Ack));
    assert_eq!(ack.routes().count(), 1);
    assert_eq!(ack.max_forwards().unwrap(), Ok(70));
    assert_eq!(layer.state(tx), Some(State::Completed));
}

/// RFC 6026: after a 2xx both INVITE transactions stay in Accepted for 64*T1; the
/// retransmitted 2xx reaches the client TU as such and the ACK reaches the server TU.
#[test]
fn invite_accepted_passes_2xx_and_ack_to_the_tu() {
    let mut nodes = pair();
    let mut net = Net::perfect(10);
    let tx = nodes[0]
        .layer
        .send_request(
            ms(0),
            BOB,
            false,
            &request("INVITE", "z9hG4bK-200", 1, None),
        )
        .unwrap();
    nodes[0].flush(ms(0), &mut net);
    let seen = run(
        &mut nodes,
        &mut net,
        ms(100),
        &mut answering(StatusCode::OK),
    );
    assert_eq!(nodes[0].layer.state(tx), Some(State::Accepted));
    // Bob's TU got the ACK of the 2xx.
    assert!(seen.iter().any(|s| s.1 == BOB && s.2 == Received::Ack));
    // Bob's TU (the dialog layer) retransmits the 2xx through the transaction.
    let bob_tx = seen
        .iter()
        .find_map(|s| match s.2 {
            Received::Request(t) if s.1 == BOB => Some(t),
            _ => None,
        })
        .unwrap();
    let ok = nodes[1].layer.stored(bob_tx).unwrap().to_vec();
    nodes[1].layer.respond(ms(510), bob_tx, &ok).unwrap();
    nodes[1].flush(ms(510), &mut net);
    let seen = run(
        &mut nodes,
        &mut net,
        ms(600),
        &mut answering(StatusCode::OK),
    );
    assert_eq!(seen[0], (520, ALICE, Received::Retransmitted2xx(tx)));
    // A 1xx after the 2xx is refused; the transactions end quietly at 64*T1.
    let ringing = response(
        &request("INVITE", "z9hG4bK-200", 1, None),
        StatusCode::RINGING,
        Some("b1"),
    );
    assert_eq!(
        nodes[1].layer.respond(ms(600), bob_tx, &ringing),
        Err(TxError::WrongState)
    );
    run(
        &mut nodes,
        &mut net,
        ms(100_000),
        &mut answering(StatusCode::OK),
    );
    assert!(nodes[0].layer.is_empty() && nodes[1].layer.is_empty());
    assert!(nodes[0].events.is_empty() && nodes[1].events.is_empty());
    assert_eq!(
        nodes[1].layer.respond(ms(100_000), bob_tx, &ok),
        Err(TxError::Stale)
    );
}

/// Section 17.2.1: timer H ends a server INVITE transaction whose non-2xx final response
/// was never acknowledged, and the TU is told.
#[test]
fn invite_server_timer_h() {
    let mut bob = Layer::new(Config::DEFAULT);
    let invite = request("INVITE", "z9hG4bK-h", 1, None);
    let mut h = [HeaderIndex::EMPTY; 32];
    let msg = parse(&invite, &mut h);
    let Ok(Received::Request(tx)) = bob.receive(ms(0), ALICE, false, &msg) else {
        panic!()
    };
    assert_eq!(
        first_line(bob.poll_transmit().unwrap().bytes),
        "SIP/2.0 100 Trying"
    );
    bob.respond(
        ms(100),
        tx,
        &response(&invite, StatusCode::DECLINE, Some("x")),
    )
    .unwrap();
    let mut sends = vec![];
    let mut now = ms(100);
    loop {
        while let Some(t) = bob.poll_transmit() {
            sends.push((now.as_millis(), first_line(t.bytes)));
        }
        let Some(next) = bob.poll_timeout() else {
            break;
        };
        now = next;
        bob.handle_timeout(now);
    }
    let times: Vec<u64> = sends.iter().map(|s| s.0).collect();
    // G: T1, 2T1, 4T1, then T2 (4 s) until H at 64*T1 = 32 s after the 603.
    assert_eq!(
        times,
        [
            100, 600, 1600, 3600, 7600, 11600, 15600, 19600, 23600, 27600, 31600
        ]
    );
    assert_eq!(bob.poll_event(), Some(Event::Timeout(Tx::Server(tx))));
    assert_eq!(now, ms(32_100));
}

/// Section 17.2.2: retransmissions are discarded in Trying, answered with the last
/// provisional in Proceeding and with the final response in Completed; timer J ends it.
#[test]
fn non_invite_server_absorbs_retransmissions() {
    let mut bob = Layer::new(Config::DEFAULT);
    let info = request("INFO", "z9hG4bK-j", 2, Some("b1"));
    let mut h = [HeaderIndex::EMPTY; 32];
    let msg = parse(&info, &mut h);
    let Ok(Received::Request(tx)) = bob.receive(ms(0), ALICE, false, &msg) else {
        panic!()
    };
    assert!(bob.poll_transmit().is_none());
    assert_eq!(
        bob.receive(ms(500), ALICE, false, &msg),
        Ok(Received::Absorbed)
    );
    assert!(bob.poll_transmit().is_none());
    bob.respond(ms(600), tx, &response(&info, StatusCode::RINGING, None))
        .unwrap();
    assert_eq!(
        first_line(bob.poll_transmit().unwrap().bytes),
        "SIP/2.0 180 Ringing"
    );
    assert_eq!(
        bob.receive(ms(1500), ALICE, false, &msg),
        Ok(Received::Absorbed)
    );
    assert_eq!(
        first_line(bob.poll_transmit().unwrap().bytes),
        "SIP/2.0 180 Ringing"
    );
    bob.respond(ms(1600), tx, &response(&info, StatusCode::OK, None))
        .unwrap();
    assert_eq!(
        first_line(bob.poll_transmit().unwrap().bytes),
        "SIP/2.0 200 OK"
    );
    assert_eq!(
        bob.receive(ms(3500), ALICE, false, &msg),
        Ok(Received::Absorbed)
    );
    assert_eq!(
        first_line(bob.poll_transmit().unwrap().bytes),
        "SIP/2.0 200 OK"
    );
    assert!(bob.poll_transmit().is_none());
    // Timer J: 64*T1 after the final response; no event.
    assert_eq!(bob.poll_timeout(), Some(ms(33_600)));
    bob.handle_timeout(ms(33_600));
    assert!(bob.is_empty());
    assert_eq!(bob.poll_event(), None);
    // A second final response is refused while it lived, and a stale handle after.
    assert_eq!(
        bob.respond(ms(33_600), tx, &response(&info, StatusCode::OK, None)),
        Err(TxError::Stale)
    );
}

/// A TU that never answers: the non-INVITE server transaction gives up and tells it.
#[test]
fn non_invite_server_answer_limit() {
    let mut bob = Layer::new(Config::DEFAULT);
    let info = request("INFO", "z9hG4bK-lim", 2, Some("b1"));
    let mut h = [HeaderIndex::EMPTY; 32];
    let Ok(Received::Request(tx)) = bob.receive(ms(0), ALICE, false, &parse(&info, &mut h)) else {
        panic!()
    };
    assert_eq!(bob.poll_timeout(), Some(ms(32_000)));
    bob.handle_timeout(ms(32_000));
    assert_eq!(bob.poll_event(), Some(Event::Timeout(Tx::Server(tx))));
    assert!(bob.is_empty());
}

/// Section 9: a CANCEL waits for the first provisional response, then the server TU
/// answers it and the INVITE ends with 487 and the generated ACK.
#[test]
fn cancel_deferred_until_provisional() {
    let mut alice = Layer::new(Config {
        auto_trying: false,
        ..Config::DEFAULT
    });
    let mut bob = Layer::new(Config {
        auto_trying: false,
        ..Config::DEFAULT
    });
    let invite = request("INVITE", "z9hG4bK-c", 1, None);
    let inv = alice.send_request(ms(0), BOB, false, &invite).unwrap();
    let wire = alice.poll_transmit().unwrap().bytes.to_vec();
    let cancel = alice.cancel(ms(100), inv).unwrap();
    assert_eq!(alice.state(cancel), Some(State::Deferred));
    assert!(
        alice.poll_transmit().is_none(),
        "no CANCEL before a provisional response"
    );
    assert_eq!(alice.cancel(ms(100), inv), Err(TxError::WrongState));

    let mut h = [HeaderIndex::EMPTY; 32];
    let Ok(Received::Request(server_inv)) =
        bob.receive(ms(10), ALICE, false, &parse(&wire, &mut h))
    else {
        panic!()
    };
    let ringing = response(&invite, StatusCode::RINGING, Some("b1"));
    bob.respond(ms(200), server_inv, &ringing).unwrap();
    let _ = bob.poll_transmit();
    let mut h = [HeaderIndex::EMPTY; 32];
    assert_eq!(
        alice.receive(ms(210), BOB, false, &parse(&ringing, &mut h)),
        Ok(Received::Response(inv))
    );
    assert_eq!(alice.state(cancel), Some(State::Trying));
    let cancel_wire = alice.poll_transmit().unwrap().bytes.to_vec();
    assert!(alice.poll_transmit().is_none());
    let mut h = [HeaderIndex::EMPTY; 32];
    let c = parse(&cancel_wire, &mut h);
    assert_eq!(
        first_line(&cancel_wire),
        "CANCEL sip:bob@biloxi.example.com SIP/2.0"
    );
    assert_eq!(c.top_via().unwrap().branch(), Some("z9hG4bK-c"));
    assert_eq!(
        c.to().unwrap().tag(),
        None,
        "the CANCEL's To is the INVITE's"
    );
    assert_eq!(c.cseq().unwrap().seq, 1);
    assert_eq!(c.routes().count(), 1);

    let Ok(Received::Cancel {
        cancel: server_cancel,
        invite: Some(matched),
    }) = bob.receive(ms(220), ALICE, false, &c)
    else {
        panic!()
    };
    assert_eq!(matched, server_inv);
    bob.respond(
        ms(220),
        server_cancel,
        &response(&cancel_wire, StatusCode::OK, Some("b1")),
    )
    .unwrap();
    let ok = bob.poll_transmit().unwrap().bytes.to_vec();
    let terminated = response(&invite, StatusCode::REQUEST_TERMINATED, Some("b1"));
    bob.respond(ms(220), server_inv, &terminated).unwrap();
    let _ = bob.poll_transmit();

    let mut h = [HeaderIndex::EMPTY; 32];
    assert_eq!(
        alice.receive(ms(230), BOB, false, &parse(&ok, &mut h)),
        Ok(Received::Response(cancel))
    );
    let mut h = [HeaderIndex::EMPTY; 32];
    assert_eq!(
        alice.receive(ms(230), BOB, false, &parse(&terminated, &mut h)),
        Ok(Received::Response(inv))
    );
    assert_eq!(
        first_line(alice.poll_transmit().unwrap().bytes),
        "ACK sip:bob@biloxi.example.com SIP/2.0"
    );
    // A CANCEL for an INVITE without a transaction: no match, the TU answers 481.
    let stray = request("CANCEL", "z9hG4bK-none", 1, None);
    let mut h = [HeaderIndex::EMPTY; 32];
    assert!(matches!(
        bob.receive(ms(300), ALICE, false, &parse(&stray, &mut h)),
        Ok(Received::Cancel { invite: None, .. })
    ));
}

/// A final response before the first provisional: the deferred CANCEL is dropped.
#[test]
fn deferred_cancel_dropped_on_final_response() {
    let mut alice = Layer::new(Config::DEFAULT);
    let invite = request("INVITE", "z9hG4bK-cd", 1, None);
    let inv = alice.send_request(ms(0), BOB, false, &invite).unwrap();
    let _ = alice.poll_transmit();
    let cancel = alice.cancel(ms(10), inv).unwrap();
    let ok = response(&invite, StatusCode::OK, Some("b"));
    let mut h = [HeaderIndex::EMPTY; 32];
    assert_eq!(
        alice.receive(ms(20), BOB, false, &parse(&ok, &mut h)),
        Ok(Received::Response(inv))
    );
    assert_eq!(alice.state(cancel), None);
    assert!(alice.poll_transmit().is_none());
    assert_eq!(alice.cancel(ms(30), inv), Err(TxError::WrongState));
}

/// Out of slots: new requests get a stateless 503 with Retry-After, and the TU's own
/// requests a typed error.
#[test]
fn full_table_answers_503() {
    let mut bob: Transactions<u8, 2, { 2 * 2048 }> = Transactions::new(Config::DEFAULT);
    for i in 0..2 {
        let r = request("MESSAGE", &format!("z9hG4bK-f{i}"), 1, None);
        let mut h = [HeaderIndex::EMPTY; 32];
        assert!(matches!(
            bob.receive(ms(0), ALICE, false, &parse(&r, &mut h)),
            Ok(Received::Request(_))
        ));
    }
    let r = request("MESSAGE", "z9hG4bK-f3", 1, None);
    let mut h = [HeaderIndex::EMPTY; 32];
    assert_eq!(
        bob.receive(ms(0), ALICE, false, &parse(&r, &mut h)),
        Ok(Received::Rejected(StatusCode::SERVICE_UNAVAILABLE))
    );
    let t = bob.poll_transmit().unwrap();
    let mut h = [HeaderIndex::EMPTY; 32];
    let busy = parse(t.bytes, &mut h);
    assert_eq!(busy.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(busy.header_named("Retry-After").next(), Some("5"));
    assert!(busy.to().unwrap().tag().is_some());
    assert_eq!(busy.top_via().unwrap().branch(), Some("z9hG4bK-f3"));
    assert_eq!(
        bob.send_request(
            ms(0),
            ALICE,
            false,
            &request("OPTIONS", "z9hG4bK-o", 1, None)
        ),
        Err(TxError::Full)
    );
    // An ACK still goes to the TU.
    let ack = request("ACK", "z9hG4bK-f4", 1, Some("b"));
    let mut h = [HeaderIndex::EMPTY; 32];
    assert_eq!(
        bob.receive(ms(0), ALICE, false, &parse(&ack, &mut h)),
        Ok(Received::Ack)
    );
}

/// Section 8.2.2.2: the same request arriving by two paths (different branches, same
/// From tag, Call-ID and CSeq, no To tag) is answered 482 the second time.
#[test]
fn merged_request_gets_482() {
    let mut bob = Layer::new(Config::DEFAULT);
    let a = request("INVITE", "z9hG4bK-m1", 1, None);
    let b = String::from_utf8(a.clone())
        .unwrap()
        .replace("branch=z9hG4bK-m1", "branch=z9hG4bK-m2");
    let mut h = [HeaderIndex::EMPTY; 32];
    assert!(matches!(
        bob.receive(ms(0), ALICE, false, &parse(&a, &mut h)),
        Ok(Received::Request(_))
    ));
    let _ = bob.poll_transmit();
    let mut h = [HeaderIndex::EMPTY; 32];
    assert_eq!(
        bob.receive(ms(5), ALICE, false, &parse(b.as_bytes(), &mut h)),
        Ok(Received::Rejected(StatusCode::LOOP_DETECTED))
    );
    let t = bob.poll_transmit().unwrap();
    assert_eq!(first_line(t.bytes), "SIP/2.0 482 Loop Detected");
    // Proxies turn detection off.
    let mut proxy = Layer::new(Config {
        detect_merged: false,
        ..Config::DEFAULT
    });
    for r in [&a[..], b.as_bytes()] {
        let mut h = [HeaderIndex::EMPTY; 32];
        assert!(matches!(
            proxy.receive(ms(0), ALICE, false, &parse(r, &mut h)),
            Ok(Received::Request(_))
        ));
    }
}

/// Section 17.2.3: requests without a magic-cookie branch are matched by the RFC 2543
/// rules; the ACK must carry the To tag of the response.
#[test]
fn rfc2543_matching() {
    let mut bob = Layer::new(Config::DEFAULT);
    let invite = String::from_utf8(request("INVITE", "old1", 1, None)).unwrap();
    let mut h = [HeaderIndex::EMPTY; 32];
    let Ok(Received::Request(tx)) =
        bob.receive(ms(0), ALICE, false, &parse(invite.as_bytes(), &mut h))
    else {
        panic!()
    };
    let _ = bob.poll_transmit();
    let mut h = [HeaderIndex::EMPTY; 32];
    assert_eq!(
        bob.receive(ms(10), ALICE, false, &parse(invite.as_bytes(), &mut h)),
        Ok(Received::Absorbed)
    );
    bob.respond(
        ms(20),
        tx,
        &response(invite.as_bytes(), StatusCode::NOT_FOUND, Some("t404")),
    )
    .unwrap();
    let _ = bob.poll_transmit();
    // An ACK with another To tag is not for this transaction.
    let wrong = request("ACK", "old1", 1, Some("other"));
    let mut h = [HeaderIndex::EMPTY; 32];
    assert_eq!(
        bob.receive(ms(30), ALICE, false, &parse(&wrong, &mut h)),
        Ok(Received::Ack)
    );
    assert_eq!(bob.state(tx), Some(State::Completed));
    let ack = request("ACK", "old1", 1, Some("t404"));
    let mut h = [HeaderIndex::EMPTY; 32];
    assert_eq!(
        bob.receive(ms(30), ALICE, false, &parse(&ack, &mut h)),
        Ok(Received::Absorbed)
    );
    assert_eq!(bob.state(tx), Some(State::Confirmed));
}

/// Sections 17.1.4 and 17.2.4: a transport failure ends the transaction and tells the TU.
#[test]
fn transport_error_reported() {
    let mut alice = Layer::new(Config::DEFAULT);
    let tx = alice
        .send_request(ms(0), BOB, true, &request("REGISTER", "z9hG4bK-t", 1, None))
        .unwrap();
    alice.transport_error(tx).unwrap();
    assert_eq!(
        alice.poll_event(),
        Some(Event::TransportError(Tx::Client(tx)))
    );
    assert!(
        alice.poll_transmit().is_none(),
        "nothing left to send for it"
    );
    assert_eq!(alice.transport_error(tx), Err(TxError::Stale));
    assert!(alice.is_empty());
}

/// Wrong use is refused with a typed error.
#[test]
fn wrong_use_refused() {
    let mut alice = Layer::new(Config::DEFAULT);
    let ack = request("ACK", "z9hG4bK-w", 1, Some("b"));
    assert_eq!(
        alice.send_request(ms(0), BOB, false, &ack),
        Err(TxError::WrongState)
    );
    let no_cookie = request("OPTIONS", "1234", 1, None);
    assert_eq!(
        alice.send_request(ms(0), BOB, false, &no_cookie),
        Err(TxError::Malformed)
    );
    let mismatch = String::from_utf8(request("OPTIONS", "z9hG4bK-w", 1, None))
        .unwrap()
        .replace("CSeq: 1 OPTIONS", "CSeq: 1 INFO");
    assert_eq!(
        alice.send_request(ms(0), BOB, false, mismatch.as_bytes()),
        Err(TxError::Malformed)
    );
    assert_eq!(
        alice.send_request(ms(0), BOB, false, b"garbage"),
        Err(TxError::Malformed)
    );
    let big = vec![b'x'; 20000];
    let mut huge = request("MESSAGE", "z9hG4bK-big", 1, None);
    huge.truncate(huge.len() - 2);
    let huge = [&huge[..], b"\r\n", &big[..]].concat();
    let huge = String::from_utf8(huge)
        .unwrap()
        .replace("Content-Length: 0", "Content-Length: 20000");
    assert_eq!(
        alice.send_request(ms(0), BOB, false, huge.as_bytes()),
        Err(TxError::TooLarge)
    );
    let opts = alice
        .send_request(ms(0), BOB, false, &request("OPTIONS", "z9hG4bK-o", 1, None))
        .unwrap();
    assert_eq!(alice.cancel(ms(0), opts), Err(TxError::WrongState));
    assert!(!alice.is_empty());
}

/// Many transactions through loss, duplication and reordering: every client
/// transaction ends exactly once (one final response to the TU, or one timeout), every
/// request reaches the server TU exactly once, and no slot leaks.
///
/// INVITEs are rejected here: the reliability of a 2xx is the dialog layer's work
/// (section 13.3.1.4) and is tested there.
#[test]
fn lossy_network_every_transaction_ends_once() {
    let mut completed = 0;
    for seed in 1..=60u64 {
        let mut nodes = pair();
        let mut net = Net::lossy(seed, 250, 150, 400);
        let mut clients: Vec<ClientTx> = Vec::new();
        for i in 0..6u32 {
            let method = if i % 2 == 0 { "INVITE" } else { "BYE" };
            let branch = format!("z9hG4bK-{seed}-{i}");
            let now = ms(u64::from(i) * 7);
            let tx = nodes[0]
                .layer
                .send_request(now, BOB, false, &request(method, &branch, i + 1, None))
                .unwrap();
            nodes[0].flush(now, &mut net);
            clients.push(tx);
        }
        let status = if seed % 2 == 0 {
            StatusCode::BUSY_HERE
        } else {
            StatusCode::DECLINE
        };
        let mut finals: Vec<ClientTx> = Vec::new();
        let mut requests: Vec<String> = Vec::new();
        let mut answer = answering(status);
        run(
            &mut nodes,
            &mut net,
            ms(200_000),
            &mut |now, node, received, msg| {
                match received {
                    Received::Response(tx) if msg.status().is_some_and(|s| s.is_final()) => {
                        finals.push(tx)
                    }
                    Received::Request(_) => requests.push(msg.call_id().unwrap().to_string()),
                    _ => {}
                }
                answer(now, node, received, msg)
            },
        );
        let timeouts: Vec<ClientTx> = nodes[0]
            .events
            .iter()
            .map(|e| match e.1 {
                Event::Timeout(Tx::Client(tx)) => tx,
                other => panic!("seed {seed}: unexpected {other:?}"),
            })
            .collect();
        for tx in &clients {
            let ends = finals.iter().filter(|t| *t == tx).count()
                + timeouts.iter().filter(|t| *t == tx).count();
            assert_eq!(ends, 1, "seed {seed}: {tx:?} ended {ends} times");
        }
        completed += finals.len();
        let mut unique = requests.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(
            unique.len(),
            requests.len(),
            "seed {seed}: a request reached the TU twice"
        );
        assert!(nodes[0].layer.is_empty(), "seed {seed}: client slot leaked");
        assert!(nodes[1].layer.is_empty(), "seed {seed}: server slot leaked");
        assert!(
            nodes[1]
                .events
                .iter()
                .all(|e| matches!(e.1, Event::Timeout(Tx::Server(_))))
        );
    }
    // With 25 % loss nearly everything completes; the check above covers the rest.
    assert!(completed > 60 * 6 * 9 / 10, "only {completed} completed");
}

/// A full table of transactions that have their answers: the one whose lingering
/// (timer J) ends first gives way to a new request, and its retransmission is no
/// longer absorbed.
#[test]
fn full_table_reclaims_the_finished_transaction_that_ends_first() {
    let mut bob: Transactions<u8, 2, { 2 * 2048 }> = Transactions::new(Config::DEFAULT);
    let mut first = Vec::new();
    for (i, at) in [(0, 100), (1, 200)] {
        let r = request("INFO", &format!("z9hG4bK-r{i}"), i + 1, Some("b"));
        let mut h = [HeaderIndex::EMPTY; 32];
        let Ok(Received::Request(tx)) = bob.receive(ms(at), ALICE, false, &parse(&r, &mut h))
        else {
            panic!("request {i} refused");
        };
        let ok = response(&r, StatusCode::OK, Some("b"));
        bob.respond(ms(at), tx, &ok).unwrap();
        while bob.poll_transmit().is_some() {}
        if i == 0 {
            first = r;
        }
    }
    assert_eq!(bob.reclaimed(), 0);
    let r = request("INFO", "z9hG4bK-r2", 3, Some("b"));
    let mut h = [HeaderIndex::EMPTY; 32];
    assert!(matches!(
        bob.receive(ms(300), ALICE, false, &parse(&r, &mut h)),
        Ok(Received::Request(_))
    ));
    assert_eq!(bob.reclaimed(), 1);
    // The first request's transaction is gone: its retransmission is a new request
    // (no free slot for it now, as the third is still waiting for its answer and the
    // second lingers later: it takes the second's place).
    let mut h = [HeaderIndex::EMPTY; 32];
    assert!(matches!(
        bob.receive(ms(400), ALICE, false, &parse(&first, &mut h)),
        Ok(Received::Request(_))
    ));
    assert_eq!(bob.reclaimed(), 2);
    // Transactions still waiting for their answer are never reclaimed.
    let r = request("INFO", "z9hG4bK-r4", 5, Some("b"));
    let mut h = [HeaderIndex::EMPTY; 32];
    assert_eq!(
        bob.receive(ms(500), ALICE, false, &parse(&r, &mut h)),
        Ok(Received::Rejected(StatusCode::SERVICE_UNAVAILABLE))
    );
}

/// `has_room` says whether a new transaction would get a slot: a finished one that
/// lingers counts as room (it gives way), one waiting for its answer does not.
#[test]
fn has_room_counts_lingering_transactions_as_room() {
    let mut bob: Transactions<u8, 2, { 2 * 2048 }> = Transactions::new(Config::DEFAULT);
    assert!(bob.has_room());
    let mut txs = Vec::new();
    for i in 0..2 {
        let r = request("INFO", &format!("z9hG4bK-h{i}"), i + 1, Some("b"));
        let mut h = [HeaderIndex::EMPTY; 32];
        let Ok(Received::Request(tx)) = bob.receive(ms(0), ALICE, false, &parse(&r, &mut h)) else {
            panic!("request {i} refused");
        };
        txs.push((tx, r));
    }
    assert_eq!(bob.len(), 2);
    assert!(!bob.has_room());
    let (tx, r) = &txs[0];
    bob.respond(ms(10), *tx, &response(r, StatusCode::OK, Some("b")))
        .unwrap();
    // Its 200 waits to be sent: the transaction does not give way yet.
    assert!(!bob.has_room());
    assert_eq!(
        bob.send_request(
            ms(10),
            ALICE,
            false,
            &request("OPTIONS", "z9hG4bK-h9", 1, None)
        ),
        Err(TxError::Full)
    );
    while bob.poll_transmit().is_some() {}
    assert_eq!(bob.len(), 2);
    assert!(bob.has_room());
    assert!(
        bob.send_request(
            ms(20),
            ALICE,
            false,
            &request("OPTIONS", "z9hG4bK-h2", 1, None)
        )
        .is_ok()
    );
    assert_eq!(bob.reclaimed(), 1);
    assert!(!bob.has_room());
}

// ------------------------------------------------------------------ the shared store

/// A layer whose store holds three of the test's requests, not four.
type Small = Transactions<u8, 8, 1024>;

fn same_size_requests(method: &str) -> [Vec<u8>; 4] {
    let r = |i: u32| request(method, &format!("z9hG4bK-s{i}"), i, None);
    let all = [r(1), r(2), r(3), r(4)];
    let len = all[0].len();
    assert!(all.iter().all(|r| r.len() == len));
    assert!(3 * len <= 1024 && 4 * len > 1024, "{len}");
    all
}

/// Messages share the store: while three requests are live a fourth is refused with
/// `Full`; once one has its answer (lingering only to absorb retransmissions) it gives
/// way to the new one, and the others' messages are untouched.
#[test]
fn the_store_refuses_when_full_and_lingering_messages_give_way() {
    let reqs = same_size_requests("OPTIONS");
    let mut alice = Small::new(Config::DEFAULT);
    let txs: Vec<ClientTx> = reqs[..3]
        .iter()
        .map(|r| alice.send_request(ms(0), BOB, false, r).unwrap())
        .collect();
    while alice.poll_transmit().is_some() {}
    assert_eq!(alice.stored_octets(), 3 * reqs[0].len());
    assert_eq!(
        alice.send_request(ms(0), BOB, false, &reqs[3]),
        Err(TxError::Full)
    );
    // The second one is answered: Completed, kept 5 s (timer K) for nothing but
    // absorbing retransmitted responses.
    let ok = response(&reqs[1], StatusCode::OK, Some("b"));
    let mut h = [HeaderIndex::EMPTY; 32];
    assert_eq!(
        alice.receive(ms(10), BOB, false, &parse(&ok, &mut h)),
        Ok(Received::Response(txs[1]))
    );
    assert_eq!(alice.state(txs[1]), Some(State::Completed));
    let fourth = alice.send_request(ms(20), BOB, false, &reqs[3]).unwrap();
    assert_eq!(alice.reclaimed(), 1);
    assert_eq!(alice.state(txs[1]), None);
    assert_eq!(alice.stored(txs[0]), Some(&reqs[0][..]));
    assert_eq!(alice.stored(txs[2]), Some(&reqs[2][..]));
    assert_eq!(alice.stored(fourth), Some(&reqs[3][..]));
    // Larger than the whole store: never fits.
    let mut huge = request("MESSAGE", "z9hG4bK-big", 9, None);
    huge.extend_from_slice(&[b'x'; 1024]);
    assert_eq!(
        alice.send_request(ms(20), BOB, false, &huge),
        Err(TxError::TooLarge)
    );
}

/// A transaction that ends in the middle of the store leaves a hole; a message longer
/// than the free tail but not than the free octets is kept by compacting, without
/// ending anything, and every retransmission still carries its own bytes.
#[test]
fn the_store_compacts_around_a_hole() {
    let reqs = same_size_requests("OPTIONS");
    let mut alice = Small::new(Config::DEFAULT);
    let a = alice.send_request(ms(0), BOB, false, &reqs[0]).unwrap();
    let b = alice.send_request(ms(0), BOB, false, &reqs[1]).unwrap();
    let c = alice.send_request(ms(0), BOB, false, &reqs[2]).unwrap();
    while alice.poll_transmit().is_some() {}
    alice.transport_error(b).unwrap();
    assert_eq!(
        alice.poll_event(),
        Some(Event::TransportError(Tx::Client(b)))
    );
    let d = alice.send_request(ms(0), BOB, false, &reqs[3]).unwrap();
    assert_eq!(alice.reclaimed(), 0);
    for (tx, req) in [(a, &reqs[0]), (c, &reqs[2]), (d, &reqs[3])] {
        assert_eq!(alice.stored(tx), Some(&req[..]));
    }
    // The first message of `d` went out; timer E brings all three again.
    assert_eq!(
        alice.poll_transmit().map(|t| t.bytes.to_vec()),
        Some(reqs[3].clone())
    );
    alice.handle_timeout(ms(500));
    let mut again = Vec::new();
    while let Some(t) = alice.poll_transmit() {
        again.push(t.bytes.to_vec());
    }
    again.sort();
    let mut expected = vec![reqs[0].clone(), reqs[2].clone(), reqs[3].clone()];
    expected.sort();
    assert_eq!(again, expected);
}

/// A non-2xx final answer to an INVITE when the store has no room for the ACK (every
/// octet held by live transactions): the TU still gets the answer, the INVITE's octets
/// are freed, nothing goes out, and the shortfall is counted.
#[test]
fn an_ack_without_room_is_counted_not_an_error() {
    let invite = request("INVITE", "z9hG4bK-s1", 1, None);
    let options = same_size_requests("OPTIONS");
    let mut alice = Small::new(Config::DEFAULT);
    let inv = alice.send_request(ms(0), BOB, false, &invite).unwrap();
    alice.send_request(ms(0), BOB, false, &options[1]).unwrap();
    alice.send_request(ms(0), BOB, false, &options[2]).unwrap();
    while alice.poll_transmit().is_some() {}
    let busy = response(&invite, StatusCode::BUSY_HERE, Some("b"));
    let mut h = [HeaderIndex::EMPTY; 32];
    assert_eq!(
        alice.receive(ms(10), BOB, false, &parse(&busy, &mut h)),
        Ok(Received::Response(inv))
    );
    assert_eq!(alice.state(inv), Some(State::Completed));
    assert_eq!(alice.unstored(), 1);
    assert!(alice.poll_transmit().is_none());
    assert_eq!(alice.stored(inv), Some(&b""[..]));
    // The server's retransmission is absorbed, still without an ACK.
    let mut h = [HeaderIndex::EMPTY; 32];
    assert_eq!(
        alice.receive(ms(600), BOB, false, &parse(&busy, &mut h)),
        Ok(Received::Absorbed)
    );
    assert!(alice.poll_transmit().is_none());
    // With room, the same answer gets its ACK.
    let mut roomy = Layer::new(Config::DEFAULT);
    let inv = roomy.send_request(ms(0), BOB, false, &invite).unwrap();
    while roomy.poll_transmit().is_some() {}
    let mut h = [HeaderIndex::EMPTY; 32];
    roomy
        .receive(ms(10), BOB, false, &parse(&busy, &mut h))
        .unwrap();
    assert_eq!(roomy.unstored(), 0);
    let ack = roomy.poll_transmit().unwrap().bytes.to_vec();
    assert!(ack.starts_with(b"ACK sip:bob@biloxi.example.com SIP/2.0\r\n"));
    assert_eq!(roomy.stored(inv), Some(&ack[..]));
}

/// `reset` starts over in place: what was live ends without a message or an event,
/// old handles are stale, the store is empty, and the new settings apply.
#[test]
fn reset_starts_over_in_place() {
    let reqs = same_size_requests("OPTIONS");
    let mut alice = Small::zeroed();
    assert_eq!(alice.config(), &Config::DEFAULT);
    let a = alice.send_request(ms(0), BOB, false, &reqs[0]).unwrap();
    let _ = alice.send_request(ms(0), BOB, false, &reqs[1]).unwrap();
    alice.transport_error(a).unwrap();
    let mut config = Config::DEFAULT;
    config.timers.t1 = core::time::Duration::from_millis(100);
    alice.reset(config);
    assert!(alice.is_empty());
    assert_eq!(alice.stored_octets(), 0);
    assert!(alice.poll_transmit().is_none());
    assert_eq!(alice.poll_event(), None);
    assert_eq!(alice.poll_timeout(), None);
    assert_eq!(alice.state(a), None);
    assert_eq!(alice.transport_error(a), Err(TxError::Stale));
    assert_eq!(alice.config(), &config);
    // The new T1: the first retransmission after 100 ms.
    let b = alice.send_request(ms(1000), BOB, false, &reqs[2]).unwrap();
    assert_eq!(
        alice.poll_transmit().map(|t| t.bytes.to_vec()),
        Some(reqs[2].clone())
    );
    assert_eq!(alice.poll_timeout(), Some(ms(1100)));
    assert_eq!(alice.stored(b), Some(&reqs[2][..]));
}
