//! Two phones wired to each other (each one's outbound proxy is the other), driven by
//! a simulated clock: calls, hold, digits, the handset, do-not-disturb, forwarding,
//! and garbage, all without one heap allocation after the phones exist.

use std::collections::VecDeque;

use alloc_counter::CountingAllocator;
use sip_lite::time::Instant;
use ucsta_phone::{Action, CallState, Cause, Config, Forward, Phone, Report};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

const BUF: usize = 2048;
type Line = Phone<u8, 2, 12, { 12 * BUF }, BUF, 4>;

/// Addresses: 1 is phone 201, 2 is phone 202.
struct World {
    now: Instant,
    phones: [Box<Line>; 2],
    wire: VecDeque<(u8, u8, heapless::Vec<u8, BUF>)>,
    reports: [Vec<Report>; 2],
    /// The datagrams sent, as text, for the assertions on SIP content.
    trace: Vec<String>,
    buf: Box<[u8; BUF]>,
}

fn phone(user: &str, me: u8, proxy: u8, seed: u8) -> Box<Line> {
    let host = format!("192.0.2.{me}");
    let mut c = Config::new(
        user,
        "secret",
        "pbx.example",
        proxy,
        &host,
        5060,
        [seed; 32],
    );
    c.no_answer = std::time::Duration::from_secs(10);
    Box::new(Line::new(&c).expect("config fits"))
}

impl World {
    fn new() -> World {
        World {
            now: Instant::from_secs(1),
            phones: [phone("201", 1, 2, 1), phone("202", 2, 1, 2)],
            wire: VecDeque::with_capacity(64),
            reports: [Vec::with_capacity(256), Vec::with_capacity(256)],
            trace: Vec::with_capacity(256),
            buf: Box::new([0; BUF]),
        }
    }

    /// Moves every output; with `trace`, keeps the text of each datagram.
    fn flush(&mut self, trace: bool) {
        for i in 0..2 {
            while let Some((to, n)) = self.phones[i].poll_transmit(&mut self.buf[..]) {
                if trace {
                    self.trace
                        .push(String::from_utf8_lossy(&self.buf[..n]).into_owned());
                }
                let bytes = heapless::Vec::from_slice(&self.buf[..n]).unwrap();
                self.wire.push_back((i as u8 + 1, to, bytes));
            }
            while let Some(r) = self.phones[i].poll_report() {
                if self.reports[i].len() < self.reports[i].capacity() {
                    self.reports[i].push(r);
                }
            }
        }
    }

    /// Delivers datagrams until the wire is quiet.
    fn settle(&mut self, trace: bool) {
        for _ in 0..10_000 {
            self.flush(trace);
            let Some((from, to, bytes)) = self.wire.pop_front() else {
                return;
            };
            if let Some(p) = self.phones.get_mut(usize::from(to) - 1) {
                p.handle_datagram(self.now, from, &bytes);
            }
        }
        panic!("the phones do not settle");
    }

    fn act(&mut self, i: usize, a: Action<'_>) {
        self.phones[i].handle_action(self.now, a);
        self.settle(false);
    }

    /// Runs the clock forward to `until`, firing every timer on the way.
    fn advance(&mut self, secs: u64) {
        let until = Instant::from_millis(self.now.as_millis() + secs * 1000);
        loop {
            let next = self.phones.iter().filter_map(|p| p.poll_timeout()).min();
            match next {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    for p in &mut self.phones {
                        if p.poll_timeout().is_some_and(|t| t <= self.now) {
                            p.handle_timeout(self.now);
                        }
                    }
                    self.settle(false);
                }
                _ => break,
            }
        }
        self.now = until;
    }

    /// The phone's calls (collected without allocating, for the counted parts).
    fn states(&self, i: usize) -> heapless::Vec<CallState, 4> {
        self.phones[i].call_states().collect()
    }

    fn calls(&self, i: usize) -> Vec<(u32, CallState, Cause)> {
        self.reports[i]
            .iter()
            .filter_map(|r| match r {
                Report::Call {
                    call, state, cause, ..
                } => Some((*call, *state, *cause)),
                _ => None,
            })
            .collect()
    }

    fn warnings(&self) -> Vec<&Report> {
        self.reports
            .iter()
            .flatten()
            .filter(|r| matches!(r, Report::Warning { .. }))
            .collect()
    }
}

fn allocations<T>(f: impl FnOnce() -> T) -> (T, usize) {
    assert!(alloc_counter::is_installed());
    alloc_counter::allocations(f)
}

#[test]
fn call_hold_digits_hangup() {
    let mut w = World::new();
    // The trace and report vectors have their room already: the count is the phones'.
    let ((), n) = allocations(|| {
        w.act(0, Action::Call("202"));
        assert_eq!(w.states(0), [CallState::Ringback]);
        assert_eq!(w.states(1), [CallState::Ringing]);
        w.act(1, Action::Answer);
        assert_eq!(w.states(0), [CallState::Connected]);
        assert_eq!(w.states(1), [CallState::Connected]);
        w.act(0, Action::Hold);
        assert_eq!(w.states(0), [CallState::Held]);
        w.act(0, Action::Retrieve);
        assert_eq!(w.states(0), [CallState::Connected]);
        // The 2xx of the answer is not resent once its ACK came.
        w.advance(40);
        assert_eq!(w.states(1), [CallState::Connected]);
    });
    assert_eq!(n, 0, "the phones allocated");
    w.phones[0].handle_action(w.now, Action::Digits("12#x"));
    w.settle(true);
    let infos: Vec<&String> = w.trace.iter().filter(|t| t.starts_with("INFO ")).collect();
    assert_eq!(infos.len(), 3, "one INFO per digit, the x skipped");
    assert!(infos[0].contains("Content-Type: application/dtmf-relay"));
    assert!(infos[0].ends_with("Signal=1\r\nDuration=160\r\n"));
    assert!(infos[2].contains("Signal=#"));
    w.act(1, Action::Hangup);
    assert!(w.states(0).is_empty() && w.states(1).is_empty());
    assert_eq!(
        w.calls(0),
        [
            (1, CallState::Calling, Cause::Originated),
            (1, CallState::Ringback, Cause::Ringing),
            (1, CallState::Connected, Cause::Answered),
            (1, CallState::Held, Cause::Hold),
            (1, CallState::Connected, Cause::Retrieve),
            (1, CallState::Ended, Cause::Bye),
        ]
    );
    assert_eq!(
        w.calls(1),
        [
            (1, CallState::Ringing, Cause::Incoming),
            (1, CallState::Connected, Cause::Answered),
            (1, CallState::Ended, Cause::Hangup),
        ]
    );
    assert!(w.warnings().is_empty(), "{:?}", w.warnings());
}

#[test]
fn handset_off_hook_dial_and_on_hook() {
    let mut w = World::new();
    w.act(0, Action::OffHook);
    assert_eq!(w.states(0), [CallState::Dialing]);
    assert!(
        w.wire.is_empty() && w.states(1).is_empty(),
        "nothing signalled yet"
    );
    w.act(0, Action::Hangup);
    assert!(w.states(0).is_empty());
    w.act(0, Action::OffHook);
    w.act(0, Action::Dial("202"));
    assert_eq!(w.states(1), [CallState::Ringing]);
    // Lifting the handset of a ringing phone answers.
    w.act(1, Action::OffHook);
    assert_eq!(w.states(0), [CallState::Connected]);
    assert_eq!(
        w.calls(0)[..4],
        [
            (1, CallState::Dialing, Cause::OffHook),
            (1, CallState::Ended, Cause::Abandoned),
            (2, CallState::Dialing, Cause::OffHook),
            (2, CallState::Calling, Cause::Originated),
        ]
    );
    assert!(w.warnings().is_empty(), "{:?}", w.warnings());
}

#[test]
fn do_not_disturb_and_forwarding() {
    let mut w = World::new();
    w.act(1, Action::DoNotDisturb(true));
    w.act(0, Action::Call("202"));
    assert!(w.states(0).is_empty() && w.states(1).is_empty());
    assert!(
        w.reports[1]
            .iter()
            .any(|r| matches!(r, Report::Rejected { status: 486, .. }))
    );
    assert_eq!(
        w.calls(0).last(),
        Some(&(1, CallState::Ended, Cause::Failed(486)))
    );
    w.act(1, Action::DoNotDisturb(false));

    // Immediate forwarding back to 202 itself: a redirection loop, ended by the caller.
    w.act(1, Action::Forward(Forward::Immediate, Some("202")));
    w.act(0, Action::Call("202"));
    assert!(w.states(0).is_empty());
    let redirected = w
        .calls(0)
        .iter()
        .filter(|c| c.2 == Cause::Redirected)
        .count();
    assert_eq!(redirected, 5);
    assert_eq!(w.calls(0).last().unwrap().2, Cause::Failed(302));
    w.act(1, Action::Forward(Forward::Immediate, None));

    // No-answer forwarding: the call rings for the configured 10 s, then goes on.
    w.act(1, Action::Forward(Forward::NoAnswer, Some("203")));
    w.act(0, Action::Call("202"));
    assert_eq!(w.states(1), [CallState::Ringing]);
    w.advance(9);
    assert_eq!(w.states(1), [CallState::Ringing]);
    w.advance(2);
    assert!(w.calls(1).iter().any(|c| c.2 == Cause::Deflected));
    // 201 follows the 302 to 203 (at the same proxy, 202 here, which rings again).
    assert!(w.calls(0).iter().any(|c| c.2 == Cause::Redirected));
    assert!(w.warnings().is_empty(), "{:?}", w.warnings());
}

#[test]
fn cancel_before_answer_and_caller_busy() {
    let mut w = World::new();
    w.act(0, Action::Call("202"));
    w.act(0, Action::Hangup);
    assert!(w.states(0).is_empty());
    assert!(w.states(1).is_empty(), "the CANCEL reached 202");
    assert_eq!(w.calls(1).last().unwrap().2, Cause::Cancelled);
    // Both call slots of 202 in use: the third call is turned away with 486.
    w.act(1, Action::AutoAnswer(true));
    w.act(0, Action::Call("202"));
    w.act(0, Action::Hold);
    w.act(0, Action::Call("202"));
    assert_eq!(w.states(1), [CallState::Connected, CallState::Connected]);
    w.act(0, Action::Call("202"));
    assert_eq!(w.states(0).len(), 2, "201 has two call slots");
    assert!(w.warnings().iter().any(|r| matches!(
        r,
        Report::Warning { what: "call", .. }
            | Report::Warning {
                what: "call model refused the call",
                ..
            }
    )));
}

#[test]
fn garbage_is_ignored_and_malformed_requests_get_400() {
    let mut w = World::new();
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let base = b"INVITE sip:202@pbx.example SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK1\r\n\
From: <sip:201@pbx.example>;tag=1\r\nTo: <sip:202@pbx.example>\r\nCall-ID: x@y\r\n\
CSeq: 1 INVITE\r\nContact: <sip:201@192.0.2.1>\r\nContent-Length: 0\r\n\r\n";
    for round in 0..2000 {
        let mut m = base.to_vec();
        for _ in 0..(round % 7 + 1) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let at = (seed as usize) % m.len();
            match seed % 3 {
                0 => m[at] = (seed >> 8) as u8,
                1 => m.truncate(at),
                _ => m.insert(at, b';'),
            }
            if m.is_empty() {
                m.push(b'x');
            }
        }
        w.phones[1].handle_datagram(w.now, 1, &m);
        w.flush(false);
        w.wire.clear();
        w.phones[1].handle_action(w.now, Action::Hangup);
        w.flush(false);
        w.wire.clear();
        w.advance(1);
    }
    // Still a working phone.
    w.reports = [Vec::with_capacity(256), Vec::with_capacity(256)];
    w.advance(60);
    w.act(0, Action::Call("202"));
    assert_eq!(w.states(1).last(), Some(&CallState::Ringing));
}

/// The value of header `name` in SIP message `text`.
fn header<'t>(text: &'t str, name: &str) -> &'t str {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(": "))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

#[test]
fn refer_to_is_parsed_as_a_name_addr_with_uri_headers() {
    let mut w = World::new();
    w.act(0, Action::Call("202"));
    w.phones[1].handle_action(w.now, Action::Answer);
    w.settle(true);
    let ok = w
        .trace
        .iter()
        .find(|t| t.starts_with("SIP/2.0 200"))
        .unwrap();
    let (call_id, from, to) = (header(ok, "Call-ID"), header(ok, "From"), header(ok, "To"));
    // A display name, the header names in another case, a second URI header, and a
    // header parameter: the transfer target is the URI without its headers, and the
    // Replaces header its unescaped value.
    let refer = format!(
        "REFER sip:202@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKrefer\r\n\
         From: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: 9 REFER\r\n\
         Refer-To: \"Carol\" <sip:203@pbx.example;user=phone?require=replaces&replaces=abc%40h%3Bto-tag%3D1%3Bfrom-tag%3D2>;x=1\r\n\
         Contact: <sip:201@192.0.2.1>\r\nContent-Length: 0\r\n\r\n"
    );
    w.trace.clear();
    w.phones[1].handle_datagram(w.now, 1, refer.as_bytes());
    w.settle(true);
    assert!(
        w.trace.iter().any(|t| t.starts_with("SIP/2.0 202 ")),
        "{:?}",
        w.trace
    );
    let invite = w
        .trace
        .iter()
        .find(|t| t.starts_with("INVITE "))
        .unwrap_or_else(|| panic!("no INVITE: {:?}", w.trace));
    assert!(
        invite.starts_with("INVITE sip:203@pbx.example;user=phone SIP/2.0\r\n"),
        "{invite}"
    );
    assert_eq!(header(invite, "Replaces"), "abc@h;to-tag=1;from-tag=2");
    // Without a Refer-To that parses: 400.
    let bad = refer
        .replace("Refer-To: \"Carol\" <", "Refer-To: \"Carol <")
        .replace("CSeq: 9", "CSeq: 10");
    w.trace.clear();
    w.phones[1].handle_datagram(
        w.now,
        1,
        bad.replace("z9hG4bKrefer", "z9hG4bKbad").as_bytes(),
    );
    w.settle(true);
    assert!(
        w.trace.iter().any(|t| t.starts_with("SIP/2.0 400 ")),
        "{:?}",
        w.trace
    );
}

/// A datagram longer than the phone's `BUF`: an INVITE, which a call would have to
/// keep, gets 513; an OPTIONS, answered from the datagram, its 200.
#[test]
fn a_request_longer_than_buf_is_answered() {
    let mut w = World::new();
    let padding = "x".repeat(BUF);
    for (method, answer) in [("INVITE", "SIP/2.0 513 "), ("OPTIONS", "SIP/2.0 200 ")] {
        let big = format!(
            "{method} sip:202@pbx.example SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK{method}\r\n\
             From: <sip:201@pbx.example>;tag=1\r\nTo: <sip:202@pbx.example>\r\nCall-ID: big@y\r\n\
             CSeq: 1 {method}\r\nContact: <sip:201@192.0.2.1>\r\nSubject: {padding}\r\nContent-Length: 0\r\n\r\n"
        );
        w.trace.clear();
        w.phones[1].handle_datagram(w.now, 1, big.as_bytes());
        w.settle(true);
        assert_eq!(w.trace.len(), 1, "{method}: {:?}", w.trace);
        assert!(w.trace[0].starts_with(answer), "{method}: {}", w.trace[0]);
    }
    assert!(w.states(1).is_empty());
    assert!(matches!(
        w.reports[1][..],
        [Report::Rejected { status: 513, .. }]
    ));
}

/// Prints what a phone weighs in two configurations (a figure, not a limit).
#[test]
fn sizes() {
    use std::mem::size_of;
    let sim = size_of::<Phone<std::net::SocketAddr, 4, 64, { 64 * 3072 }, 3072, 8>>();
    let gateway = size_of::<Phone<[u8; 20], 2, 6, 4096, 1400, 4>>();
    eprintln!(
        "phone-sim's phone: {sim} bytes; a gateway's (2 calls, 6 transactions sharing 4 KiB, 1400-octet messages, 4 events): {gateway} bytes"
    );
    eprintln!(
        "  of which the device: {} bytes",
        size_of::<csta_core::model::phone::Device<2, 4>>()
    );
    assert!(gateway < sim);
}

/// Over TCP: messages cut anywhere and glued together are delimited, a keep-alive
/// ping is answered, a broken stream is refused, a lost connection fails what is in
/// flight.
#[test]
fn tcp_streams_are_delimited() {
    use ucsta_phone::Transport;
    let tcp = |user: &str, me: u8, proxy: u8| {
        let host = format!("192.0.2.{me}");
        let mut c = Config::new(user, "secret", "pbx.example", proxy, &host, 5060, [me; 32]);
        c.transport = Transport::Tcp;
        Box::new(Line::new(&c).unwrap())
    };
    let (mut a, mut b) = (tcp("201", 1, 2), tcp("202", 2, 1));
    let now = Instant::from_secs(1);
    let mut buf = vec![0u8; BUF];
    a.handle_action(now, Action::Call("202"));
    let mut stream = Vec::new();
    while let Some((to, n)) = a.poll_transmit(&mut buf) {
        assert_eq!(to, 2);
        stream.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&stream).into_owned();
    assert!(
        text.starts_with("INVITE sip:202@pbx.example SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.1:5060;")
    );
    assert!(text.contains("Contact: <sip:201@192.0.2.1:5060;transport=tcp>"));
    // A keep-alive first, then the INVITE in three pieces.
    let mut pending = b"\r\n\r\n".to_vec();
    for piece in [
        &stream[..10],
        &stream[10..stream.len() - 7],
        &stream[stream.len() - 7..],
    ] {
        pending.extend_from_slice(piece);
        let used = b.handle_stream(now, 1, &pending).unwrap();
        pending.drain(..used);
    }
    assert!(pending.is_empty());
    assert_eq!(b.call_states().collect::<Vec<_>>(), [CallState::Ringing]);
    let mut out = Vec::new();
    while let Some((_, n)) = b.poll_transmit(&mut buf) {
        out.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    assert_eq!(out[0], "\r\n", "the ping is answered with a pong");
    assert!(out[1].starts_with("SIP/2.0 180 Ringing\r\n"));
    // No Content-Length on a stream: it cannot be delimited.
    let broken = b"OPTIONS sip:202@pbx.example SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\
To: <sip:202@pbx.example>\r\nFrom: <sip:x@y>;tag=1\r\nCall-ID: c\r\nCSeq: 1 OPTIONS\r\n\r\n";
    assert!(b.handle_stream(now, 1, broken).is_err());
    // The caller's connection breaks: its INVITE fails at once, no 32 s wait.
    a.handle_connection_lost(now);
    assert!(a.call_states().next().is_none());
    let ended = std::iter::from_fn(|| a.poll_report()).any(|r| {
        matches!(
            r,
            Report::Call {
                state: CallState::Ended,
                ..
            }
        )
    });
    assert!(ended);
}

/// Over TCP every new connection registers at once (the server reaches the phone by
/// the connection it registered over): after a lost connection, [`Action::Register`]
/// sends a REGISTER whether the phone was registered (its refresh would be due much
/// later) or its REGISTER failed with the connection (backing off).
#[test]
fn tcp_registers_again_on_every_new_connection() {
    use sip_lite::registration::FailureReason;
    use sip_lite::wire::{HeaderIndex, Message, SliceSink, StatusCode, Writer};
    use ucsta_phone::Transport;
    let mut c = Config::new(
        "201",
        "secret",
        "pbx.example",
        2,
        "192.0.2.1",
        5060,
        [1; 32],
    );
    c.transport = Transport::Tcp;
    let mut a = Box::new(Line::new(&c).unwrap());
    let mut buf = vec![0u8; BUF];
    // What the phone writes to the connection: one REGISTER (its CSeq) and nothing else.
    let register = |a: &mut Line| {
        let mut buf = vec![0u8; BUF];
        let (to, n) = a.poll_transmit(&mut buf).expect("a REGISTER");
        assert_eq!(to, 2);
        let req = buf[..n].to_vec();
        assert!(a.poll_transmit(&mut buf).is_none());
        let mut hs = [HeaderIndex::EMPTY; 32];
        let msg = Message::parse(&req, &mut hs).unwrap();
        assert_eq!(msg.method(), Some(sip_lite::wire::Method::Register));
        (msg.cseq().unwrap().seq, req)
    };
    // The registrar's 200 to `req`, on the connection.
    let ok = |a: &mut Line, now: Instant, req: &[u8]| {
        let mut hs = [HeaderIndex::EMPTY; 32];
        let msg = Message::parse(req, &mut hs).unwrap();
        let mut out = [0u8; BUF];
        let mut w = Writer::response_to(
            SliceSink::new(&mut out),
            &msg,
            StatusCode(200),
            "OK",
            Some("r"),
        )
        .unwrap();
        w.header(
            "Contact",
            "<sip:201@192.0.2.1:5060;transport=tcp>;expires=3600",
        )
        .unwrap();
        let n = w.finish(b"").unwrap().len();
        assert_eq!(a.handle_stream(now, 2, &out[..n]), Ok(n));
    };
    let reports = |a: &mut Line| std::iter::from_fn(|| a.poll_report()).collect::<Vec<_>>();

    let now = Instant::from_secs(1);
    a.handle_action(now, Action::Register);
    let (cseq, req) = register(&mut a);
    assert_eq!(cseq, 1);
    ok(&mut a, now, &req);
    assert!(a.is_registered());
    assert_eq!(reports(&mut a), [Report::Registered { expires: 3600 }]);

    // Lost while registered; the refresh is 30 minutes away, the REGISTER goes out at
    // once on the new connection.
    let now = Instant::from_secs(10);
    a.handle_connection_lost(now);
    assert!(!a.is_registered());
    assert!(a.poll_transmit(&mut buf).is_none());
    a.handle_action(now, Action::Register);
    let (cseq, _) = register(&mut a);
    assert_eq!(cseq, 2);
    assert_eq!(reports(&mut a), []);

    // Lost with that REGISTER in flight: it fails as a transport error, and the next
    // connection does not wait for the back-off.
    a.handle_connection_lost(now);
    assert_eq!(
        reports(&mut a),
        [Report::RegistrationFailed {
            reason: FailureReason::Transport,
            retrying: true
        }]
    );
    a.handle_action(now, Action::Register);
    let (cseq, req) = register(&mut a);
    assert_eq!(cseq, 3);
    ok(&mut a, now, &req);
    assert!(a.is_registered());
    assert_eq!(reports(&mut a), [Report::Registered { expires: 3600 }]);
}

/// An incoming INVITE that passed two proxies: the 180 and the 200 carry its
/// Record-Route, all of it and in order (RFC 3261 section 12.1.1), so the caller's
/// in-dialog requests come back through both proxies; the callee's own in-dialog
/// requests follow the same route.
#[test]
fn dialog_responses_carry_the_record_route() {
    let mut w = World::new();
    let invite = "INVITE sip:202@192.0.2.2 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKrr\r\n\
        Record-Route: <sip:192.0.2.1;lr;dlg=0123abcd>,\r\n <sip:198.51.100.1;lr;ftag=9>\r\n\
        Record-Route: <sip:203.0.113.5;transport=tcp;lr>\r\n\
        From: <sip:201@pbx.example>;tag=caller\r\nTo: <sip:202@pbx.example>\r\nCall-ID: rr@y\r\n\
        CSeq: 1 INVITE\r\nContact: <sip:201@203.0.113.9>\r\nContent-Length: 0\r\n\r\n";
    w.trace.clear();
    w.phones[1].handle_datagram(w.now, 1, invite.as_bytes());
    w.settle(true);
    w.phones[1].handle_action(w.now, Action::Answer);
    w.settle(true);
    let expected = [
        "Record-Route: <sip:192.0.2.1;lr;dlg=0123abcd>, <sip:198.51.100.1;lr;ftag=9>",
        "Record-Route: <sip:203.0.113.5;transport=tcp;lr>",
    ];
    for status in ["SIP/2.0 180 ", "SIP/2.0 200 "] {
        let response = w
            .trace
            .iter()
            .find(|t| t.starts_with(status))
            .unwrap_or_else(|| panic!("no {status}: {:?}", w.trace));
        let rr: Vec<&str> = response
            .lines()
            .filter(|l| l.starts_with("Record-Route:"))
            .collect();
        assert_eq!(rr, expected, "{response}");
    }
    // The callee hangs up: its BYE goes along the route set, the first entry first.
    w.trace.clear();
    w.phones[1].handle_action(w.now, Action::Hangup);
    w.settle(true);
    let bye = w
        .trace
        .iter()
        .find(|t| t.starts_with("BYE "))
        .unwrap_or_else(|| panic!("no BYE: {:?}", w.trace));
    assert!(
        bye.starts_with("BYE sip:201@203.0.113.9 SIP/2.0\r\n"),
        "{bye}"
    );
    let routes: Vec<&str> = bye.lines().filter(|l| l.starts_with("Route:")).collect();
    assert_eq!(
        routes,
        [
            "Route: <sip:192.0.2.1;lr;dlg=0123abcd>",
            "Route: <sip:198.51.100.1;lr;ftag=9>",
            "Route: <sip:203.0.113.5;transport=tcp;lr>",
        ],
        "{bye}"
    );
}
