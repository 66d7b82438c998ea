//! The sans-IO phone on a virtual clock: datagrams in, datagrams out, exact timing.

use std::net::SocketAddr;

use phone_sim::phone::{Action, Config, Phone};
use phone_sim::report::{CallState, Report};
use sip_lite::time::Instant;
use sip_lite::wire::{HeaderIndex, Message};

fn ms(t: u64) -> Instant {
    Instant::from_millis(t)
}

const PROXY: &str = "192.0.2.1:5060";
const ME: &str = "192.0.2.7:5070";

fn phone() -> Phone {
    Phone::new(Config {
        user: "201".into(),
        password: "pw".into(),
        domain: "example.test".into(),
        proxy: PROXY.parse().unwrap(),
        local: ME.parse().unwrap(),
        expires: 600,
        auto_answer: false,
        seed: [5; 32],
    })
    .unwrap()
}

/// What the phone sends, as `status method` / `method`, with where it goes.
fn sent(p: &mut Phone) -> Vec<(String, SocketAddr)> {
    let mut out = Vec::new();
    while let Some((to, bytes)) = p.poll_transmit() {
        let mut hs = [HeaderIndex::EMPTY; 64];
        let m = Message::parse(&bytes, &mut hs).unwrap();
        let cseq = m.cseq().unwrap();
        let what = match m.status() {
            Some(s) => format!("{} {}", s.0, cseq.method),
            None => cseq.method.to_string(),
        };
        out.push((what, to));
    }
    out
}

fn what(v: Vec<(String, SocketAddr)>) -> Vec<String> {
    v.into_iter().map(|(w, _)| w).collect()
}

fn reports(p: &mut Phone) -> Vec<Report> {
    std::iter::from_fn(|| p.poll_report()).collect()
}

const INVITE: &str = "INVITE sip:201@192.0.2.7:5070 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-in1\r\n\
Max-Forwards: 69\r\n\
From: <sip:202@example.test>;tag=far\r\n\
To: <sip:201@example.test>\r\n\
Call-ID: call-in-1\r\n\
CSeq: 7 INVITE\r\n\
Contact: <sip:202@192.0.2.9:5080>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\r\nv=0\n";

fn ack(to_tag: &str) -> String {
    format!(
        "ACK sip:201@192.0.2.7:5070 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-ack1\r\n\
         Max-Forwards: 69\r\nFrom: <sip:202@example.test>;tag=far\r\n\
         To: <sip:201@example.test>;tag={to_tag}\r\nCall-ID: call-in-1\r\n\
         CSeq: 7 ACK\r\nContent-Length: 0\r\n\r\n"
    )
}

/// The To tag the phone put in its 2xx.
fn to_tag(p: &mut Phone, t: u64) -> String {
    p.handle_action(ms(t), Action::Answer);
    let (_, bytes) = p.poll_transmit().unwrap();
    let mut hs = [HeaderIndex::EMPTY; 64];
    let m = Message::parse(&bytes, &mut hs).unwrap();
    assert_eq!(m.status().unwrap().0, 200);
    m.to().unwrap().tag().unwrap().to_owned()
}

#[test]
fn test_incoming_call_2xx_resent_until_ack() {
    let mut p = phone();
    let proxy: SocketAddr = PROXY.parse().unwrap();
    p.handle_datagram(ms(0), proxy, INVITE.as_bytes());
    assert_eq!(sent(&mut p), [("180 INVITE".to_owned(), proxy)]);
    assert_eq!(
        reports(&mut p),
        [Report::Call {
            call: 1,
            state: CallState::Ringing,
            peer: "202".into(),
            cause: "incoming".into()
        }]
    );
    let tag = to_tag(&mut p, 100);
    assert_eq!(p.call_states(), [CallState::Connected]);
    // T1 = 500 ms, doubling: 600, 1600, 3600 ms.
    assert_eq!(p.poll_timeout(), Some(ms(600)));
    p.handle_timeout(ms(600));
    assert_eq!(what(sent(&mut p)), ["200 INVITE"]);
    assert_eq!(p.poll_timeout(), Some(ms(1600)));
    p.handle_timeout(ms(1600));
    assert_eq!(what(sent(&mut p)), ["200 INVITE"]);
    assert_eq!(p.poll_timeout(), Some(ms(3600)));
    p.handle_datagram(ms(2000), proxy, ack(&tag).as_bytes());
    assert!(sent(&mut p).is_empty());
    assert!(p.poll_timeout().is_none_or(|t| t > ms(3600)));
    p.handle_timeout(ms(3600));
    assert!(sent(&mut p).is_empty());
}

#[test]
fn test_incoming_call_without_ack_ends_with_bye() {
    let mut p = phone();
    let proxy: SocketAddr = PROXY.parse().unwrap();
    p.handle_datagram(ms(0), proxy, INVITE.as_bytes());
    let _ = sent(&mut p);
    let _ = to_tag(&mut p, 0);
    let _ = reports(&mut p);
    let mut resent = 0;
    let mut t = 0;
    while let Some(next) = p.poll_timeout() {
        if next > ms(40_000) {
            break;
        }
        t = next.as_millis();
        p.handle_timeout(next);
        for (w, to) in sent(&mut p) {
            match w.as_str() {
                "200 INVITE" => resent += 1,
                "BYE" => {
                    assert_eq!(to, proxy);
                    assert_eq!(t, 32_000);
                }
                other => panic!("{other}"),
            }
        }
        if p.call_states().is_empty() {
            break;
        }
    }
    // 0.5, 1.5, 3.5, 7.5, 11.5, ... 31.5 s: T2 caps the interval at 4 s.
    assert_eq!(resent, 10);
    assert_eq!(t, 32_000);
    assert_eq!(
        reports(&mut p),
        [Report::Call {
            call: 1,
            state: CallState::Ended,
            peer: "202".into(),
            cause: "no-ack".into()
        }]
    );
}

#[test]
fn test_register_goes_to_the_proxy() {
    let mut p = phone();
    p.handle_action(ms(0), Action::Register);
    let out = sent(&mut p);
    assert_eq!(out, [("REGISTER".to_owned(), PROXY.parse().unwrap())]);
}

#[test]
fn test_garbage_and_stray_requests() {
    let mut p = phone();
    let proxy: SocketAddr = PROXY.parse().unwrap();
    p.handle_datagram(ms(0), proxy, b"\r\n\r\n");
    p.handle_datagram(ms(0), proxy, b"NOT SIP AT ALL");
    assert!(sent(&mut p).is_empty());
    // A BYE for no call: 481.
    let bye = "BYE sip:201@192.0.2.7:5070 SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-b1\r\nMax-Forwards: 70\r\n\
From: <sip:202@example.test>;tag=x\r\nTo: <sip:201@example.test>;tag=y\r\n\
Call-ID: nothing\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n";
    p.handle_datagram(ms(0), proxy, bye.as_bytes());
    assert_eq!(what(sent(&mut p)), ["481 BYE"]);
    // A method the phone does not know: 501.
    let sub = bye
        .replace("BYE", "SUBSCRIBE")
        .replace("Call-ID: nothing", "Call-ID: s1");
    p.handle_datagram(ms(0), proxy, sub.as_bytes());
    assert_eq!(what(sent(&mut p)), ["501 SUBSCRIBE"]);
    // Actions without a call only warn.
    for a in [
        Action::Answer,
        Action::Hangup,
        Action::Hold,
        Action::Retrieve,
    ] {
        p.handle_action(ms(0), a);
    }
    let warnings: Vec<String> = reports(&mut p)
        .into_iter()
        .map(|r| match r {
            Report::Warning { message } => message,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        warnings,
        [
            "answer: no ringing call",
            "hangup: no call",
            "hold: no connected call",
            "retrieve: no held call"
        ]
    );
    assert!(sent(&mut p).is_empty());
}

/// The phone's next datagram, parsed by `f`.
fn next_msg<T>(p: &mut Phone, f: impl FnOnce(&Message<'_>, &[u8]) -> T) -> T {
    let (_, bytes) = p.poll_transmit().expect("a datagram");
    let mut hs = [HeaderIndex::EMPTY; 64];
    let m = Message::parse(&bytes, &mut hs).unwrap();
    f(&m, &bytes)
}

/// A response to `request` with `extra` header lines.
fn response_to(request: &[u8], status: u16, extra: &str) -> Vec<u8> {
    use sip_lite::wire::{SliceSink, StatusCode, Writer};
    let mut hs = [HeaderIndex::EMPTY; 64];
    let m = Message::parse(request, &mut hs).unwrap();
    let mut buf = vec![0u8; 4096];
    let mut w = Writer::response_to(
        SliceSink::new(&mut buf),
        &m,
        StatusCode(status),
        "X",
        Some("px"),
    )
    .unwrap();
    for line in extra.lines() {
        let (n, v) = line.split_once(": ").unwrap();
        w.header(n, v).unwrap();
    }
    let n = w.finish(b"").unwrap().len();
    buf.truncate(n);
    buf
}

#[test]
fn test_invite_challenge_is_answered_once() {
    let mut p = phone();
    let proxy: SocketAddr = PROXY.parse().unwrap();
    p.handle_action(ms(0), Action::Call("202".into()));
    let invite = next_msg(&mut p, |m, b| {
        assert_eq!(m.request_uri_str(), Some("sip:202@example.test"));
        assert!(
            m.header(sip_lite::wire::HeaderName::ProxyAuthorization)
                .is_none()
        );
        b.to_vec()
    });
    let challenge = "Proxy-Authenticate: Digest realm=\"example.test\", nonce=\"n1\", qop=\"auth\", algorithm=MD5";
    p.handle_datagram(ms(10), proxy, &response_to(&invite, 407, challenge));
    // The transaction layer acknowledges the 407; the phone sends the INVITE again
    // with credentials and the next CSeq.
    assert_eq!(
        next_msg(&mut p, |m, _| m.method().unwrap().to_string()),
        "ACK"
    );
    let second = next_msg(&mut p, |m, b| {
        let auth = m
            .header(sip_lite::wire::HeaderName::ProxyAuthorization)
            .unwrap()
            .to_owned();
        assert!(auth.starts_with("Digest "), "{auth}");
        assert!(auth.contains("username=\"201\""), "{auth}");
        assert!(auth.contains("realm=\"example.test\""), "{auth}");
        assert!(auth.contains("uri=\"sip:202@example.test\""), "{auth}");
        assert!(auth.contains("nonce=\"n1\""), "{auth}");
        assert_eq!(m.cseq().unwrap().seq, 2);
        b.to_vec()
    });
    // A second challenge is not answered: the call fails with 407.
    p.handle_datagram(ms(20), proxy, &response_to(&second, 407, challenge));
    assert_eq!(what(sent(&mut p)), ["ACK"]);
    let calls: Vec<(CallState, String)> = reports(&mut p)
        .into_iter()
        .filter_map(|r| match r {
            Report::Call { state, cause, .. } => Some((state, cause)),
            _ => None,
        })
        .collect();
    assert_eq!(
        calls,
        [
            (CallState::Calling, "originated".to_owned()),
            (CallState::Ended, "407".to_owned())
        ]
    );
    assert!(p.call_states().is_empty());
}
