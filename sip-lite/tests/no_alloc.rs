//! Parsing, typed access, validation and emitting never touch the heap: a counting
//! global allocator sees no allocation on the measuring thread.

use alloc_counter::CountingAllocator;
use sip_lite::wire::{
    CSeq, Contact, ContentDisposition, Event, HeaderIndex, HeaderName, Limits, MediaType, Message,
    NameAddr, Policy, RetryAfter, SessionTimer, SipDate, SliceSink, Status, StatusCode,
    SubscriptionState, Uri, Via, Writer, parse_call_id, parse_delta, unescape,
};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Runs `f` and returns how many allocations it made on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    assert!(alloc_counter::is_installed());
    alloc_counter::allocations(f).1
}

const INVITE: &[u8] = b"INVITE sip:bob@biloxi.example.com;transport=tcp SIP/2.0\r\n\
Via: SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74bf9;rport\r\n\
v: SIP/2.0/UDP [2001:db8::9:1]:5062;branch=z9hG4bK-2;received=192.0.2.7\r\n\
Max-Forwards: 70\r\n\
From: \"Alice \\\"A\\\"\" <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 2 INVITE\r\n\
Contact: <sip:alice@client.atlanta.example.com;transport=tcp>;+sip.instance=\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\";reg-id=1;q=0.5;expires=3600\r\n\
Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\r\n\
Record-Route: <sip:p0.example.com;lr>\r\n\
Path: <sip:edge.example.com;lr>\r\n\
Supported: timer, replaces\r\n\
Require: timer\r\n\
Allow: INVITE, ACK, CANCEL, BYE, INFO\r\n\
Session-Expires: 1800;refresher=uac\r\n\
Min-SE: 90\r\n\
Expires: 120\r\n\
Event: uaCSTA\r\n\
Subscription-State: active;expires=60\r\n\
Retry-After: 30 (busy);duration=60\r\n\
Date: Sat, 13 Nov 2010 23:29:00 GMT\r\n\
Content-Disposition: signal;handling=required\r\n\
Content-Type: application/csta+xml\r\n\
Content-Length: 11\r\n\
\r\n\
<MakeCall/>";

/// Parses every header of `msg` with its typed view.
fn touch_everything(msg: &Message<'_>) -> usize {
    let mut n = 0;
    if let Some(Ok(uri)) = msg.request_uri() {
        n += usize::from(uri.equivalent(&uri));
    }
    for h in msg.headers() {
        let ok = match h.kind {
            HeaderName::Via => msg.vias().all(|v| {
                v.is_ok_and(|v| {
                    let _ = (v.branch(), v.received(), v.rport(), v.maddr(), v.ttl());
                    true
                })
            }),
            HeaderName::From | HeaderName::To => NameAddr::parse(h.value).is_ok_and(|a| {
                let _ = a.tag();
                a.display_name.is_none_or(|d| d.chars().count() > 0)
            }),
            HeaderName::Route | HeaderName::RecordRoute | HeaderName::Path => {
                msg.values(h.kind).all(|v| NameAddr::parse(v).is_ok())
            }
            HeaderName::Contact => msg.contacts().all(|c| {
                c.is_ok_and(|c| {
                    let _ = (c.expires(), c.q(), c.instance(), c.reg_id());
                    matches!(c, Contact::Addr(_))
                })
            }),
            HeaderName::CallId => parse_call_id(h.value).is_ok(),
            HeaderName::CSeq => CSeq::parse(h.value).is_ok(),
            HeaderName::MaxForwards | HeaderName::Expires | HeaderName::ContentLength => {
                parse_delta(h.value).is_ok()
            }
            HeaderName::ContentType => MediaType::parse(h.value).is_ok(),
            HeaderName::ContentDisposition => ContentDisposition::parse(h.value).is_ok(),
            HeaderName::Event => Event::parse(h.value).is_ok(),
            HeaderName::SubscriptionState => SubscriptionState::parse(h.value).is_ok(),
            HeaderName::SessionExpires | HeaderName::MinSe => SessionTimer::parse(h.value).is_ok(),
            HeaderName::RetryAfter => RetryAfter::parse(h.value).is_ok(),
            HeaderName::Date => SipDate::parse(h.value).is_ok(),
            HeaderName::Supported | HeaderName::Require | HeaderName::Allow => {
                msg.tokens(h.kind).all(|t| t.is_ok())
            }
            _ => false,
        };
        assert!(ok, "{}: {}", h.name, h.value);
        n += 1;
    }
    n
}

#[test]
fn test_parse_and_typed_access_do_not_allocate() {
    let mut headers = [HeaderIndex::EMPTY; 32];
    let mut touched = 0;
    let count = allocations(|| {
        let msg = Message::parse(INVITE, &mut headers).unwrap();
        touched = touch_everything(&msg);
        let policy = Policy {
            supported: &["timer"],
            ..Policy::DEFAULT
        };
        msg.validate(&policy).unwrap();
        assert_eq!(msg.body(), b"<MakeCall/>");
    });
    // 24 header lines and the Request-URI.
    assert_eq!(touched, 25);
    assert_eq!(count, 0);
}

#[test]
fn test_stream_parse_does_not_allocate() {
    let mut buf = [0u8; 4096];
    buf[..INVITE.len()].copy_from_slice(INVITE);
    buf[INVITE.len()..2 * INVITE.len()].copy_from_slice(INVITE);
    let total = 2 * INVITE.len();
    let mut h1 = [HeaderIndex::EMPTY; 32];
    let mut h2 = [HeaderIndex::EMPTY; 32];
    let count = allocations(|| {
        let Status::Complete((_, used)) =
            Message::parse_stream_with(&buf[..total], &mut h1, Limits::DEFAULT).unwrap()
        else {
            panic!("complete")
        };
        let Status::Complete((m, _)) = Message::parse_stream(&buf[used..total], &mut h2).unwrap()
        else {
            panic!("complete")
        };
        assert_eq!(m.cseq().unwrap().seq, 2);
    });
    assert_eq!(count, 0);
}

#[test]
fn test_errors_and_salvage_do_not_allocate() {
    let bad = b"INVITE sip:a@b SIP/3.0\r\nCall-ID: x\r\n\r\n";
    let mut headers = [HeaderIndex::EMPTY; 8];
    let mut headers2 = [HeaderIndex::EMPTY; 8];
    let count = allocations(|| {
        let e = Message::parse(bad, &mut headers).unwrap_err();
        let _ = e.reaction(bad);
        let m = Message::salvage(bad, &mut headers2).unwrap();
        assert_eq!(m.call_id(), Ok("x"));
        assert!(Uri::parse("sip:a%zz@b").is_err());
        assert!(Via::parse("SIP/2.0/UDP").is_err());
    });
    assert_eq!(count, 0);
}

#[test]
fn test_emit_does_not_allocate() {
    let mut headers = [HeaderIndex::EMPTY; 32];
    let mut out = [0u8; 2048];
    let mut text: heapless::String<256> = heapless::String::new();
    let mut unescaped = [0u8; 32];
    let count = allocations(|| {
        let req = Message::parse(INVITE, &mut headers).unwrap();
        let mut w = Writer::response_to(
            SliceSink::new(&mut out),
            &req,
            StatusCode::OK,
            "",
            Some("a6c85cf"),
        )
        .unwrap();
        let contact = req.contacts().next().unwrap().unwrap();
        w.header_typed(HeaderName::Contact, &contact).unwrap();
        w.header("Content-Type", "application/csta+xml").unwrap();
        for h in req.headers().filter(|h| h.kind == HeaderName::RecordRoute) {
            w.copy_header(&h).unwrap();
        }
        let len = w.finish(b"<MakeCallResponse/>").unwrap().len();
        assert!(len > 300);
        core::fmt::write(&mut text, format_args!("{}", req.top_via().unwrap())).unwrap();
        let user = Uri::parse("sip:%61lice@h").unwrap();
        let user = user.as_sip().unwrap().user.unwrap();
        assert_eq!(unescape(user, &mut unescaped).unwrap(), b"alice");
    });
    assert_eq!(count, 0);
    assert!(text.starts_with("SIP/2.0/TCP client.atlanta.example.com:5060"));
}

const OPTIONS: &[u8] = b"OPTIONS sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP alice.example.com;branch=z9hG4bK-na1\r\n\
Max-Forwards: 70\r\nFrom: <sip:alice@atlanta.example.com>;tag=a\r\n\
To: <sip:bob@biloxi.example.com>\r\nCall-ID: na1\r\nCSeq: 1 OPTIONS\r\n\
Content-Length: 0\r\n\r\n";

const INVITE_BUSY: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP alice.example.com;branch=z9hG4bK-na2\r\n\
Max-Forwards: 70\r\nFrom: <sip:alice@atlanta.example.com>;tag=a\r\n\
To: <sip:bob@biloxi.example.com>\r\nCall-ID: na2\r\nCSeq: 1 INVITE\r\n\
Route: <sip:p.example.com;lr>\r\nContent-Length: 0\r\n\r\n";

/// Passes every queued message of `from` to `to` (peers are 0 and 1) and returns what
/// the last one was.
fn pump(
    now: sip_lite::time::Instant,
    from: &mut sip_lite::transaction::Transactions<u8, 4, 4096>,
    to: &mut sip_lite::transaction::Transactions<u8, 4, 4096>,
    peer: u8,
    copy: &mut [u8; 1024],
) -> Option<sip_lite::transaction::Received> {
    let mut last = None;
    loop {
        let len = match from.poll_transmit() {
            Some(t) => {
                copy[..t.bytes.len()].copy_from_slice(t.bytes);
                t.bytes.len()
            }
            None => return last,
        };
        let mut headers = [HeaderIndex::EMPTY; 32];
        let msg = Message::parse(&copy[..len], &mut headers).unwrap();
        last = Some(to.receive(now, peer, false, &msg).unwrap());
    }
}

/// Writes the response to `request` into `out` and returns its length.
fn answer(request: &[u8], status: StatusCode, out: &mut [u8]) -> usize {
    let mut headers = [HeaderIndex::EMPTY; 32];
    let req = Message::parse(request, &mut headers).unwrap();
    Writer::response_to(SliceSink::new(out), &req, status, "", Some("b"))
        .unwrap()
        .finish(b"")
        .unwrap()
        .len()
}

#[test]
fn test_transactions_do_not_allocate() {
    use sip_lite::time::Instant;
    use sip_lite::transaction::{Config, Received, Transactions};

    let mut alice: Transactions<u8, 4, 4096> = Transactions::new(Config::DEFAULT);
    let mut bob: Transactions<u8, 4, 4096> = Transactions::new(Config::DEFAULT);
    let mut copy = [0u8; 1024];
    let mut out = [0u8; 1024];
    let count = allocations(|| {
        let t0 = Instant::ZERO;
        // OPTIONS / 200.
        let client = alice.send_request(t0, 1, false, OPTIONS).unwrap();
        let Some(Received::Request(server)) = pump(t0, &mut alice, &mut bob, 0, &mut copy) else {
            panic!("OPTIONS not delivered")
        };
        let len = answer(OPTIONS, StatusCode::OK, &mut out);
        bob.respond(t0, server, &out[..len]).unwrap();
        assert_eq!(
            pump(t0, &mut bob, &mut alice, 1, &mut copy),
            Some(Received::Response(client))
        );
        // INVITE / 100 / 486 / generated ACK.
        alice.send_request(t0, 1, false, INVITE_BUSY).unwrap();
        let Some(Received::Request(server)) = pump(t0, &mut alice, &mut bob, 0, &mut copy) else {
            panic!("INVITE not delivered")
        };
        let len = answer(INVITE_BUSY, StatusCode::BUSY_HERE, &mut out);
        bob.respond(t0, server, &out[..len]).unwrap();
        assert!(matches!(
            pump(t0, &mut bob, &mut alice, 1, &mut copy),
            Some(Received::Response(_))
        ));
        assert_eq!(
            pump(t0, &mut alice, &mut bob, 0, &mut copy),
            Some(Received::Absorbed)
        );
        // Run every timer out.
        for layer in [&mut alice, &mut bob] {
            while let Some(at) = layer.poll_timeout() {
                layer.handle_timeout(at);
                while layer.poll_transmit().is_some() {}
                while layer.poll_event().is_some() {}
            }
        }
    });
    assert_eq!(count, 0);
    assert!(alice.is_empty() && bob.is_empty());
}
