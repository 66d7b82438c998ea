//! The dialog layer (RFC 3261 section 12, with 13.2.2.4, 13.3.1.4 and 14) driven by
//! realistic INVITE / 180 / 200 exchanges through two record-routing proxies, the first
//! of which (p1, next to Alice) is a strict router.
//!
//! Alice (UAC, 192.0.2.1) -> p1 (strict) -> p2 (loose) -> Bob (UAS, 192.0.2.4).

use alloc_counter::CountingAllocator;
use sip_lite::dialog::{
    Dialog, DialogError, DialogEvent, DialogState, Dialogs, RequestOutcome, ResponseOutcome, Role,
};
use sip_lite::ids::IdGenerator;
use sip_lite::time::{Instant, Timers};
use sip_lite::wire::{HeaderIndex, HeaderName, Message, Method, StatusCode};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

type Set = Dialogs<4, 512, 1024>;

const CALL_ID: &str = "3848276298220188511@atlanta.example.com";

/// The INVITE as Alice sent it.
const INVITE_SENT: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9\r\n\
Max-Forwards: 70\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:alice@192.0.2.1:5060>\r\n\
Content-Length: 0\r\n\r\n";

/// The same INVITE as Bob received it: p1 and p2 added Via and Record-Route (p2 on
/// top, p1 without `lr`: a strict router).
const INVITE_RECEIVED: &[u8] = b"INVITE sip:bob@192.0.2.4 SIP/2.0\r\n\
Via: SIP/2.0/UDP p2.example.com;branch=z9hG4bK-p2\r\n\
Via: SIP/2.0/UDP p1.example.com;branch=z9hG4bK-p1\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9\r\n\
Max-Forwards: 68\r\n\
Record-Route: <sip:p2.example.com;lr>\r\n\
Record-Route: <sip:p1.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
To: Bob <sip:bob@biloxi.example.com>\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:alice@192.0.2.1:5060>\r\n\
Content-Length: 0\r\n\r\n";

/// A response to the INVITE as Alice receives it, with Bob's tag `tag`.
fn response(status: &str, tag: &str, contact: &str) -> Vec<u8> {
    format!(
        "SIP/2.0 {status}\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK74bf9\r\n\
Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com>\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
To: Bob <sip:bob@biloxi.example.com>;tag={tag}\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 1 INVITE\r\n\
{contact}\
Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

fn ringing(tag: &str) -> Vec<u8> {
    response("180 Ringing", tag, "Contact: <sip:bob@192.0.2.4>\r\n")
}

fn ok(tag: &str) -> Vec<u8> {
    response("200 OK", tag, "Contact: <sip:bob@192.0.2.4>\r\n")
}

fn parse<'a>(bytes: &'a [u8], hs: &'a mut [HeaderIndex; 32]) -> Message<'a> {
    Message::parse(bytes, hs).expect("test message parses")
}

fn lines<'a>(m: &Message<'a>, name: HeaderName) -> Vec<&'a str> {
    m.header_lines(name).collect()
}

/// Alice's confirmed dialog (UAC) after 180 and 200, and Bob's (UAS).
fn both_sides() -> (
    Set,
    sip_lite::dialog::DialogHandle,
    Set,
    sip_lite::dialog::DialogHandle,
) {
    let mut alice = Set::new(Timers::DEFAULT);
    let (mut h1, mut h2) = ([HeaderIndex::EMPTY; 32], [HeaderIndex::EMPTY; 32]);
    let inv = parse(INVITE_SENT, &mut h1);
    let r180 = ringing("8321234356");
    let ResponseOutcome::Created(a) = alice
        .handle_response(Some(&inv), &parse(&r180, &mut h2))
        .unwrap()
    else {
        panic!("180 with a To tag creates an early dialog");
    };
    let r200 = ok("8321234356");
    assert_eq!(
        alice.handle_response(None, &parse(&r200, &mut h2)).unwrap(),
        ResponseOutcome::Updated(a)
    );

    let mut bob = Set::new(Timers::DEFAULT);
    let inv = parse(INVITE_RECEIVED, &mut h1);
    let b = bob
        .create_uas(&inv, "8321234356", "sip:bob@192.0.2.4")
        .unwrap();
    bob.get_mut(b).unwrap().confirm();
    (alice, a, bob, b)
}

#[test]
fn rfc3261_12_1_uac_and_uas_dialog_state() {
    let (alice, a, bob, b) = both_sides();
    let d = alice.get(a).unwrap();
    // Section 12.1.2: UAC state from the request and the 2xx.
    assert_eq!(d.role(), Role::Uac);
    assert_eq!(d.state(), DialogState::Confirmed);
    assert_eq!(d.call_id(), CALL_ID);
    assert_eq!(d.local_tag(), "9fxced76sl");
    assert_eq!(d.remote_tag(), "8321234356");
    assert_eq!(d.local_uri(), "Alice <sip:alice@atlanta.example.com>");
    assert_eq!(d.remote_uri(), "Bob <sip:bob@biloxi.example.com>");
    assert_eq!(d.remote_target(), "sip:bob@192.0.2.4");
    assert_eq!(d.local_contact(), "sip:alice@192.0.2.1:5060");
    // Record-Route reversed.
    assert_eq!(
        d.route_set().collect::<Vec<_>>(),
        ["<sip:p1.example.com>", "<sip:p2.example.com;lr>"]
    );
    assert_eq!(d.local_cseq(), Some(1));
    assert_eq!(d.remote_cseq(), None);
    assert!(!d.secure());

    // Section 12.1.1: UAS state from the request.
    let d = bob.get(b).unwrap();
    assert_eq!(d.role(), Role::Uas);
    assert_eq!(d.state(), DialogState::Confirmed);
    assert_eq!(d.call_id(), CALL_ID);
    assert_eq!(d.local_tag(), "8321234356");
    assert_eq!(d.remote_tag(), "9fxced76sl");
    assert_eq!(d.local_uri(), "Bob <sip:bob@biloxi.example.com>");
    assert_eq!(d.remote_uri(), "Alice <sip:alice@atlanta.example.com>");
    assert_eq!(d.remote_target(), "sip:alice@192.0.2.1:5060");
    // Record-Route in order.
    assert_eq!(
        d.route_set().collect::<Vec<_>>(),
        ["<sip:p2.example.com;lr>", "<sip:p1.example.com>"]
    );
    assert_eq!(d.local_cseq(), None);
    assert_eq!(d.remote_cseq(), Some(1));
}

#[test]
fn rfc3261_12_1_1_secure_flag_needs_sips_and_tls() {
    let sips = String::from_utf8(INVITE_RECEIVED.to_vec())
        .unwrap()
        .replace("INVITE sip:bob@192.0.2.4", "INVITE sips:bob@192.0.2.4")
        .replace("Via: SIP/2.0/UDP p2", "Via: SIP/2.0/TLS p2");
    let mut hs = [HeaderIndex::EMPTY; 32];
    let d = Dialog::<512>::new_uas(&parse(sips.as_bytes(), &mut hs), "t", "sips:bob@192.0.2.4")
        .unwrap();
    assert!(d.secure());
    let udp = sips.replace("Via: SIP/2.0/TLS p2", "Via: SIP/2.0/UDP p2");
    let d =
        Dialog::<512>::new_uas(&parse(udp.as_bytes(), &mut hs), "t", "sips:bob@192.0.2.4").unwrap();
    assert!(!d.secure());
}

#[test]
fn rfc3261_12_2_1_1_bye_from_uas_loose_first_route() {
    let (_, _, mut bob, b) = both_sides();
    let mut ids = IdGenerator::new([2; 32]);
    let mut buf = [0u8; 1024];
    let d = bob.get_mut(b).unwrap();
    let w = d
        .request(
            Method::Bye,
            "SIP/2.0/UDP 192.0.2.4:5060",
            &mut ids,
            &mut buf,
        )
        .unwrap();
    let len = w.finish(b"").unwrap().len();
    // The UAS had no local CSeq: an initial one was chosen (section 12.2.1.1).
    let seq = d.local_cseq().unwrap();
    assert!(seq > 0 && seq < 1 << 31);
    assert_eq!(d.state(), DialogState::Terminated);

    let mut hs = [HeaderIndex::EMPTY; 32];
    let m = parse(&buf[..len], &mut hs);
    assert_eq!(m.method(), Some(Method::Bye));
    // p2 is a loose router: the Request-URI is the remote target.
    assert_eq!(m.request_uri_str(), Some("sip:alice@192.0.2.1:5060"));
    assert_eq!(
        lines(&m, HeaderName::Route),
        ["<sip:p2.example.com;lr>", "<sip:p1.example.com>"]
    );
    assert_eq!(
        m.header(HeaderName::From),
        Some("Bob <sip:bob@biloxi.example.com>;tag=8321234356")
    );
    assert_eq!(
        m.header(HeaderName::To),
        Some("Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl")
    );
    assert_eq!(m.call_id().unwrap(), CALL_ID);
    assert_eq!(m.cseq().unwrap().seq, seq);
    assert_eq!(m.cseq().unwrap().method, Method::Bye);
    assert_eq!(m.max_forwards().unwrap().unwrap(), 70);
    let via = m.top_via().unwrap();
    assert!(via.branch().unwrap().starts_with("z9hG4bK"));
    assert!(
        m.header(HeaderName::Via)
            .unwrap()
            .starts_with("SIP/2.0/UDP 192.0.2.4:5060;branch=z9hG4bK")
    );
    // BYE is not a target refresh request: no Contact.
    assert_eq!(m.header(HeaderName::Contact), None);
}

#[test]
fn rfc3261_12_2_1_1_strict_router_info_reinvite_ack_bye() {
    let (mut alice, a, mut bob, b) = both_sides();
    let mut ids = IdGenerator::new([3; 32]);
    let mut buf = [0u8; 1024];
    let d = alice.get_mut(a).unwrap();

    // INFO: CSeq 2; p1 is strict, so it is the Request-URI and Bob's target goes last.
    let mut w = d
        .request(
            Method::Info,
            "SIP/2.0/UDP 192.0.2.1:5060",
            &mut ids,
            &mut buf,
        )
        .unwrap();
    w.header("Content-Type", "application/csta+xml").unwrap();
    let len = w.finish(b"<MakeCall/>").unwrap().len();
    let mut hs = [HeaderIndex::EMPTY; 32];
    let m = parse(&buf[..len], &mut hs);
    assert_eq!(m.request_uri_str(), Some("sip:p1.example.com"));
    assert_eq!(
        lines(&m, HeaderName::Route),
        ["<sip:p2.example.com;lr>", "<sip:bob@192.0.2.4>"]
    );
    assert_eq!(
        m.header(HeaderName::From),
        Some("Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl")
    );
    assert_eq!(
        m.header(HeaderName::To),
        Some("Bob <sip:bob@biloxi.example.com>;tag=8321234356")
    );
    assert_eq!(m.header(HeaderName::CSeq), Some("2 INFO"));
    assert_eq!(
        m.header(HeaderName::ContentType),
        Some("application/csta+xml")
    );
    assert_eq!(m.body(), b"<MakeCall/>");
    assert_eq!(m.header(HeaderName::Contact), None);
    // Bob accepts it (section 12.2.2) and takes its CSeq as the remote CSeq.
    assert_eq!(bob.handle_request(&m).unwrap(), RequestOutcome::Accept(b));
    assert_eq!(bob.get(b).unwrap().remote_cseq(), Some(2));

    // re-INVITE: CSeq 3, with Contact (a target refresh request, section 14.1).
    let d = alice.get_mut(a).unwrap();
    let len = d
        .request(
            Method::Invite,
            "SIP/2.0/UDP 192.0.2.1:5060",
            &mut ids,
            &mut buf,
        )
        .unwrap()
        .finish(b"")
        .unwrap()
        .len();
    let m = parse(&buf[..len], &mut hs);
    assert_eq!(m.header(HeaderName::CSeq), Some("3 INVITE"));
    assert_eq!(
        m.header(HeaderName::Contact),
        Some("<sip:alice@192.0.2.1:5060>")
    );
    assert_eq!(m.request_uri_str(), Some("sip:p1.example.com"));
    let branch_invite = m.top_via().unwrap().branch().unwrap().to_owned();

    // ACK for its 2xx: same CSeq number, method ACK, and it does not count (13.2.2.4).
    let len = d
        .request(
            Method::Ack,
            "SIP/2.0/UDP 192.0.2.1:5060",
            &mut ids,
            &mut buf,
        )
        .unwrap()
        .finish(b"")
        .unwrap()
        .len();
    let m = parse(&buf[..len], &mut hs);
    assert_eq!(m.header(HeaderName::CSeq), Some("3 ACK"));
    assert_ne!(m.top_via().unwrap().branch().unwrap(), branch_invite);
    assert_eq!(d.local_cseq(), Some(3));

    // BYE: CSeq 4, and the dialog ends (section 15.1.1).
    let len = d
        .request(
            Method::Bye,
            "SIP/2.0/UDP 192.0.2.1:5060",
            &mut ids,
            &mut buf,
        )
        .unwrap()
        .finish(b"")
        .unwrap()
        .len();
    assert_eq!(d.state(), DialogState::Terminated);
    let m = parse(&buf[..len], &mut hs);
    assert_eq!(m.header(HeaderName::CSeq), Some("4 BYE"));
    // Bob receives it: the dialog ends on his side too (section 15.1.2).
    assert_eq!(bob.handle_request(&m).unwrap(), RequestOutcome::Accept(b));
    assert_eq!(bob.get(b).unwrap().state(), DialogState::Terminated);
    assert_eq!(bob.get(b).unwrap().remote_cseq(), Some(4));
    // Anything after the BYE gets 481.
    assert!(matches!(
        bob.handle_request(&m).unwrap(),
        RequestOutcome::Reject {
            status: StatusCode(481),
            ..
        }
    ));
}

#[test]
fn rfc3261_12_2_target_refresh_both_sides() {
    let (mut alice, a, mut bob, b) = both_sides();
    let mut ids = IdGenerator::new([4; 32]);
    let mut buf = [0u8; 1024];
    // Alice moved: her re-INVITE carries a new Contact.
    let reinvite = b"INVITE sip:bob@192.0.2.4 SIP/2.0\r\n\
Via: SIP/2.0/UDP p2.example.com;branch=z9hG4bK-p2b\r\n\
Via: SIP/2.0/UDP 192.0.2.99:5060;branch=z9hG4bK-r\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
To: Bob <sip:bob@biloxi.example.com>;tag=8321234356\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: 2 INVITE\r\n\
Contact: <sip:alice@192.0.2.99:5060>\r\n\
Content-Length: 0\r\n\r\n";
    let mut hs = [HeaderIndex::EMPTY; 32];
    assert_eq!(
        bob.handle_request(&parse(reinvite, &mut hs)).unwrap(),
        RequestOutcome::Accept(b)
    );
    let d = bob.get_mut(b).unwrap();
    assert_eq!(d.remote_target(), "sip:alice@192.0.2.99:5060");
    // The route set does not change on a target refresh (section 12.2).
    assert_eq!(d.route_set().count(), 2);
    let len = d
        .request(Method::Bye, "SIP/2.0/UDP 192.0.2.4", &mut ids, &mut buf)
        .unwrap()
        .finish(b"")
        .unwrap()
        .len();
    assert_eq!(
        parse(&buf[..len], &mut hs).request_uri_str(),
        Some("sip:alice@192.0.2.99:5060")
    );

    // Alice's UPDATE is answered by a 2xx with Bob's new Contact (section 12.2.1.2).
    let d = alice.get_mut(a).unwrap();
    let _ = d
        .request(Method::Update, "SIP/2.0/UDP 192.0.2.1", &mut ids, &mut buf)
        .unwrap()
        .finish(b"")
        .unwrap();
    let r = response(
        "200 OK",
        "8321234356",
        "Contact: <sip:bob@198.51.100.7;transport=tcp>\r\n",
    );
    let r = String::from_utf8(r)
        .unwrap()
        .replace("CSeq: 1 INVITE", "CSeq: 2 UPDATE");
    assert_eq!(
        alice
            .handle_response(None, &parse(r.as_bytes(), &mut hs))
            .unwrap(),
        ResponseOutcome::Updated(a)
    );
    assert_eq!(
        alice.get(a).unwrap().remote_target(),
        "sip:bob@198.51.100.7;transport=tcp"
    );
    assert_eq!(alice.get(a).unwrap().route_set().count(), 2);
}

fn in_dialog(method: &str, seq: u32, to_tag: &str) -> Vec<u8> {
    format!(
        "{method} sip:bob@192.0.2.4 SIP/2.0\r\n\
Via: SIP/2.0/UDP p2.example.com;branch=z9hG4bK-{seq}\r\n\
From: Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl\r\n\
To: Bob <sip:bob@biloxi.example.com>{to_tag}\r\n\
Call-ID: 3848276298220188511@atlanta.example.com\r\n\
CSeq: {seq} {method}\r\n\
Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

#[test]
fn rfc3261_12_2_2_cseq_out_of_order_gets_500() {
    let (_, _, mut bob, b) = both_sides();
    let mut hs = [HeaderIndex::EMPTY; 32];
    let info5 = in_dialog("INFO", 5, ";tag=8321234356");
    assert_eq!(
        bob.handle_request(&parse(&info5, &mut hs)).unwrap(),
        RequestOutcome::Accept(b)
    );
    let info4 = in_dialog("INFO", 4, ";tag=8321234356");
    assert_eq!(
        bob.handle_request(&parse(&info4, &mut hs)).unwrap(),
        RequestOutcome::Reject {
            dialog: Some(b),
            status: StatusCode(500),
            reason: "CSeq Out of Order"
        }
    );
    assert_eq!(bob.get(b).unwrap().remote_cseq(), Some(5));
    // ACK and CANCEL are not checked against the order.
    let ack = in_dialog("ACK", 1, ";tag=8321234356");
    assert_eq!(
        bob.handle_request(&parse(&ack, &mut hs)).unwrap(),
        RequestOutcome::Ack(b)
    );
    let cancel = in_dialog("CANCEL", 1, ";tag=8321234356");
    assert_eq!(
        bob.handle_request(&parse(&cancel, &mut hs)).unwrap(),
        RequestOutcome::Accept(b)
    );
    assert_eq!(bob.get(b).unwrap().remote_cseq(), Some(5));
}

#[test]
fn rfc3261_12_2_2_unknown_dialog_481_ack_dropped_no_tag_outside() {
    let (_, _, mut bob, _) = both_sides();
    let mut hs = [HeaderIndex::EMPTY; 32];
    let bye = in_dialog("BYE", 9, ";tag=nosuchtag");
    assert_eq!(
        bob.handle_request(&parse(&bye, &mut hs)).unwrap(),
        RequestOutcome::Reject {
            dialog: None,
            status: StatusCode(481),
            reason: "Call/Transaction Does Not Exist"
        }
    );
    let ack = in_dialog("ACK", 9, ";tag=nosuchtag");
    assert_eq!(
        bob.handle_request(&parse(&ack, &mut hs)).unwrap(),
        RequestOutcome::Drop
    );
    let options = in_dialog("OPTIONS", 9, "");
    assert_eq!(
        bob.handle_request(&parse(&options, &mut hs)).unwrap(),
        RequestOutcome::OutOfDialog
    );
}

#[test]
fn rfc3261_12_1_2_forking_two_early_dialogs_one_confirmed() {
    let mut alice = Set::new(Timers::DEFAULT);
    let (mut h1, mut h2) = ([HeaderIndex::EMPTY; 32], [HeaderIndex::EMPTY; 32]);
    let inv = parse(INVITE_SENT, &mut h1);
    let (r1, r2) = (
        ringing("fork1"),
        response(
            "183 Session Progress",
            "fork2",
            "Contact: <sip:bob@192.0.2.5>\r\n",
        ),
    );
    let ResponseOutcome::Created(e1) = alice
        .handle_response(Some(&inv), &parse(&r1, &mut h2))
        .unwrap()
    else {
        panic!()
    };
    // The second fork's dialog is built from the first's local half: no request needed.
    let ResponseOutcome::Created(e2) = alice.handle_response(None, &parse(&r2, &mut h2)).unwrap()
    else {
        panic!()
    };
    assert_ne!(e1, e2);
    assert_eq!(alice.len(), 2);
    let (d1, d2) = (alice.get(e1).unwrap(), alice.get(e2).unwrap());
    assert_eq!(d2.remote_tag(), "fork2");
    assert_eq!(d1.remote_tag(), "fork1");
    for d in [d1, d2] {
        assert_eq!(d.call_id(), CALL_ID);
        assert_eq!(d.local_tag(), "9fxced76sl");
        assert_eq!(d.local_uri(), "Alice <sip:alice@atlanta.example.com>");
        assert_eq!(d.remote_uri(), "Bob <sip:bob@biloxi.example.com>");
        assert_eq!(d.local_contact(), "sip:alice@192.0.2.1:5060");
        assert_eq!(d.local_cseq(), Some(1));
        assert_eq!(d.state(), DialogState::Early);
    }
    // A repeated 180 of the first fork matches its dialog.
    assert_eq!(
        alice
            .handle_response(Some(&inv), &parse(&r1, &mut h2))
            .unwrap(),
        ResponseOutcome::Matched(e1)
    );
    assert_eq!(alice.get(e1).unwrap().state(), DialogState::Early);
    assert_eq!(alice.get(e2).unwrap().remote_target(), "sip:bob@192.0.2.5");
    // A 1xx without a To tag and a 100 create nothing.
    let trying = String::from_utf8(response("100 Trying", "x", ""))
        .unwrap()
        .replace(";tag=x", "");
    assert_eq!(
        alice
            .handle_response(Some(&inv), &parse(trying.as_bytes(), &mut h2))
            .unwrap(),
        ResponseOutcome::NoDialog
    );

    // The second fork answers (section 13.2.2.4): confirmed, route set recomputed.
    let ok2 = String::from_utf8(response(
        "200 OK",
        "fork2",
        "Contact: <sip:bob@192.0.2.5>\r\n",
    ))
    .unwrap()
    .replace(
        "Record-Route: <sip:p2.example.com;lr>, <sip:p1.example.com>\r\n",
        "Record-Route: <sip:p3.example.com;lr>\r\n",
    );
    assert_eq!(
        alice
            .handle_response(None, &parse(ok2.as_bytes(), &mut h2))
            .unwrap(),
        ResponseOutcome::Updated(e2)
    );
    let d = alice.get(e2).unwrap();
    assert_eq!(d.state(), DialogState::Confirmed);
    assert_eq!(
        d.route_set().collect::<Vec<_>>(),
        ["<sip:p3.example.com;lr>"]
    );
    // A third fork answers 200 straight away: a confirmed dialog of its own.
    let ok3 = ok("fork3");
    let ResponseOutcome::Created(e3) = alice.handle_response(None, &parse(&ok3, &mut h2)).unwrap()
    else {
        panic!()
    };
    assert_eq!(alice.get(e3).unwrap().state(), DialogState::Confirmed);
    // The caller drops the other early dialog; confirmed ones stay (it sends them BYE).
    assert_eq!(alice.terminate_early_except(e2), Ok(1));
    assert!(alice.get(e1).is_none());
    assert_eq!(alice.len(), 2);
}

#[test]
fn rfc3261_13_2_2_3_failed_invite_removes_early_dialogs() {
    let mut alice = Set::new(Timers::DEFAULT);
    let (mut h1, mut h2) = ([HeaderIndex::EMPTY; 32], [HeaderIndex::EMPTY; 32]);
    let inv = parse(INVITE_SENT, &mut h1);
    for tag in ["f1", "f2"] {
        let r = ringing(tag);
        assert!(matches!(
            alice
                .handle_response(Some(&inv), &parse(&r, &mut h2))
                .unwrap(),
            ResponseOutcome::Created(_)
        ));
    }
    let busy = response("486 Busy Here", "f1", "");
    assert_eq!(
        alice
            .handle_response(Some(&inv), &parse(&busy, &mut h2))
            .unwrap(),
        ResponseOutcome::Failed { removed: 2 }
    );
    assert!(alice.is_empty());

    // A timed-out INVITE (reported by the transaction layer) does the same.
    let r = ringing("f3");
    let _ = alice
        .handle_response(Some(&inv), &parse(&r, &mut h2))
        .unwrap();
    assert_eq!(alice.handle_invite_failure(&inv), 1);
    assert!(alice.is_empty());
}

#[test]
fn rfc3261_12_1_2_missing_contact_and_small_arena_are_typed_errors() {
    let mut alice = Set::new(Timers::DEFAULT);
    let (mut h1, mut h2) = ([HeaderIndex::EMPTY; 32], [HeaderIndex::EMPTY; 32]);
    let inv = parse(INVITE_SENT, &mut h1);
    let no_contact = response("200 OK", "t", "");
    assert_eq!(
        alice.handle_response(Some(&inv), &parse(&no_contact, &mut h2)),
        Err(DialogError::InvalidContact)
    );
    let star = response("200 OK", "t", "Contact: *\r\n");
    assert_eq!(
        Dialog::<512>::new_uac(&inv, &parse(&star, &mut h2)).err(),
        Some(DialogError::InvalidContact)
    );
    let tel = response("200 OK", "t", "Contact: <tel:+15551234>\r\n");
    assert_eq!(
        Dialog::<512>::new_uac(&inv, &parse(&tel, &mut h2)).err(),
        Some(DialogError::InvalidContact)
    );
    assert!(alice.is_empty());
    let r = ok("t");
    assert_eq!(
        Dialog::<64>::new_uac(&inv, &parse(&r, &mut h2)).err(),
        Some(DialogError::TooLong)
    );
    // A response to another INVITE is refused.
    let other = String::from_utf8(ok("t"))
        .unwrap()
        .replace("CSeq: 1 INVITE", "CSeq: 7 INVITE");
    assert_eq!(
        Dialog::<512>::new_uac(&inv, &parse(other.as_bytes(), &mut h2)).err(),
        Some(DialogError::Mismatch)
    );
    let mut hs = [HeaderIndex::EMPTY; 32];
    let no_contact_req = String::from_utf8(INVITE_RECEIVED.to_vec())
        .unwrap()
        .replace("Contact: <sip:alice@192.0.2.1:5060>\r\n", "");
    assert_eq!(
        Dialog::<512>::new_uas(&parse(no_contact_req.as_bytes(), &mut hs), "t", "sip:b@h").err(),
        Some(DialogError::InvalidContact)
    );
}

/// Bob answers 200 at t = 0 and the ACK never comes (section 13.3.1.4).
#[test]
fn rfc3261_13_3_1_4_2xx_retransmitted_until_64_t1() {
    let (_, _, mut bob, b) = both_sides();
    let mut hs = [HeaderIndex::EMPTY; 32];
    let inv = parse(INVITE_RECEIVED, &mut hs);
    let mut ok_buf = [0u8; 1024];
    let len = sip_lite::wire::Writer::response_to(
        sip_lite::wire::SliceSink::new(&mut ok_buf),
        &inv,
        StatusCode::OK,
        "",
        Some("8321234356"),
    )
    .unwrap()
    .finish(b"")
    .unwrap()
    .len();
    let ok = &ok_buf[..len];
    bob.sent_2xx(b, Instant::ZERO, ok).unwrap();

    let mut sent = Vec::new();
    let mut buf = [0u8; 1024];
    let mut events = Vec::new();
    while let Some(t) = bob.poll_timeout() {
        bob.handle_timeout(t);
        while let Some((h, n)) = bob.poll_transmit(t, &mut buf).unwrap() {
            assert_eq!(h, b);
            assert_eq!(&buf[..n], ok);
            sent.push(t.as_millis());
        }
        while let Some(e) = bob.poll_event() {
            events.push((t.as_millis(), e));
        }
    }
    assert_eq!(
        sent,
        [
            500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500
        ]
    );
    assert_eq!(events, [(32000, DialogEvent::AckTimeout(b))]);
}

/// A caller that wakes late (a clock jump over several intervals) gets one
/// retransmission and the next deadline a whole interval after `now`, never an overdue
/// one (found by the `sip_layers` fuzz target).
#[test]
fn rfc3261_13_3_1_4_late_wakeup_leaves_no_overdue_timer() {
    let (_, _, mut bob, b) = both_sides();
    let ok = response("200 OK", "8321234356", "Contact: <sip:bob@192.0.2.4>\r\n");
    bob.sent_2xx(b, Instant::ZERO, &ok).unwrap();
    let late = Instant::from_millis(9_000);
    bob.handle_timeout(late);
    let mut buf = [0u8; 1024];
    assert!(bob.poll_transmit(late, &mut buf).unwrap().is_some());
    assert_eq!(bob.poll_transmit(late, &mut buf).unwrap(), None);
    assert_eq!(bob.poll_timeout(), Some(Instant::from_millis(10_000)));
}

#[test]
fn rfc3261_13_3_1_4_ack_stops_2xx_retransmission() {
    let (_, _, mut bob, b) = both_sides();
    let ok = response("200 OK", "8321234356", "Contact: <sip:bob@192.0.2.4>\r\n");
    let t0 = Instant::from_millis(10_000);
    bob.sent_2xx(b, t0, &ok).unwrap();
    assert_eq!(bob.poll_timeout(), Some(Instant::from_millis(10_500)));
    let mut buf = [0u8; 1024];
    // Not due before its time.
    bob.handle_timeout(Instant::from_millis(10_499));
    assert_eq!(
        bob.poll_transmit(Instant::from_millis(10_499), &mut buf)
            .unwrap(),
        None
    );
    bob.handle_timeout(Instant::from_millis(10_500));
    assert_eq!(
        bob.poll_transmit(Instant::from_millis(10_500), &mut buf)
            .unwrap(),
        Some((b, ok.len()))
    );
    assert_eq!(bob.poll_timeout(), Some(Instant::from_millis(11_500)));
    // An ACK for another CSeq does not stop it; the right one does.
    let mut hs = [HeaderIndex::EMPTY; 32];
    let stale = in_dialog("ACK", 0, ";tag=8321234356");
    assert_eq!(
        bob.handle_request(&parse(&stale, &mut hs)).unwrap(),
        RequestOutcome::Ack(b)
    );
    assert!(bob.poll_timeout().is_some());
    let ack = in_dialog("ACK", 1, ";tag=8321234356");
    assert_eq!(
        bob.handle_request(&parse(&ack, &mut hs)).unwrap(),
        RequestOutcome::Ack(b)
    );
    assert_eq!(bob.poll_timeout(), None);
    bob.handle_timeout(Instant::from_millis(60_000));
    assert_eq!(
        bob.poll_transmit(Instant::from_millis(60_000), &mut buf)
            .unwrap(),
        None
    );
    assert_eq!(bob.poll_event(), None);
    // Only a 2xx to INVITE is retransmitted.
    let not2xx = response("180 Ringing", "8321234356", "");
    assert_eq!(
        bob.sent_2xx(b, t0, &not2xx),
        Err(DialogError::BadRetransmission)
    );
}

#[test]
fn rfc3261_13_2_2_4_uac_resends_ack_on_retransmitted_2xx() {
    let (mut alice, a, _, _) = both_sides();
    let mut ids = IdGenerator::new([5; 32]);
    let mut buf = [0u8; 1024];
    let len = alice
        .get_mut(a)
        .unwrap()
        .request(
            Method::Ack,
            "SIP/2.0/UDP 192.0.2.1:5060",
            &mut ids,
            &mut buf,
        )
        .unwrap()
        .finish(b"")
        .unwrap()
        .len();
    let ack = buf[..len].to_vec();
    {
        let mut hs = [HeaderIndex::EMPTY; 32];
        let m = parse(&ack, &mut hs);
        assert_eq!(m.header(HeaderName::CSeq), Some("1 ACK"));
        assert_eq!(m.request_uri_str(), Some("sip:p1.example.com"));
    }
    alice.sent_ack(a, &ack).unwrap();
    assert_eq!(alice.poll_transmit(Instant::ZERO, &mut buf).unwrap(), None);
    let r200 = ok("8321234356");
    let mut hs = [HeaderIndex::EMPTY; 32];
    for _ in 0..2 {
        assert_eq!(
            alice.handle_response(None, &parse(&r200, &mut hs)).unwrap(),
            ResponseOutcome::ResendAck(a)
        );
        let mut out = [0u8; 1024];
        let (h, n) = alice
            .poll_transmit(Instant::ZERO, &mut out)
            .unwrap()
            .unwrap();
        assert_eq!(h, a);
        assert_eq!(&out[..n], &ack[..]);
        assert_eq!(alice.poll_transmit(Instant::ZERO, &mut out).unwrap(), None);
    }
    // UAC ACKs need no timer.
    assert_eq!(alice.poll_timeout(), None);
    // Too small a buffer is an error, and the ACK stays due.
    let _ = alice.handle_response(None, &parse(&r200, &mut hs)).unwrap();
    assert!(matches!(
        alice.poll_transmit(Instant::ZERO, &mut [0u8; 10]),
        Err(DialogError::Emit(_))
    ));
    assert!(
        alice
            .poll_transmit(Instant::ZERO, &mut buf)
            .unwrap()
            .is_some()
    );
}

#[test]
fn rfc3261_12_2_1_2_481_terminates_dialog() {
    let (mut alice, a, _, _) = both_sides();
    let r = String::from_utf8(response(
        "481 Call/Transaction Does Not Exist",
        "8321234356",
        "",
    ))
    .unwrap()
    .replace("CSeq: 1 INVITE", "CSeq: 2 INFO");
    let mut hs = [HeaderIndex::EMPTY; 32];
    assert_eq!(
        alice
            .handle_response(None, &parse(r.as_bytes(), &mut hs))
            .unwrap(),
        ResponseOutcome::Terminated(a)
    );
    assert_eq!(alice.get(a).unwrap().state(), DialogState::Terminated);
}

#[test]
fn capacity_full_is_typed_error_and_stale_handles_are_detected() {
    let mut set: Dialogs<2, 512, 256> = Dialogs::new(Timers::DEFAULT);
    let mut hs = [HeaderIndex::EMPTY; 32];
    let inv = parse(INVITE_RECEIVED, &mut hs);
    let h1 = set.create_uas(&inv, "t1", "sip:bob@192.0.2.4").unwrap();
    let h2 = set.create_uas(&inv, "t2", "sip:bob@192.0.2.4").unwrap();
    // Section 21.5.4 via the caller: 503 with Retry-After.
    assert_eq!(
        set.create_uas(&inv, "t3", "sip:bob@192.0.2.4"),
        Err(DialogError::Full)
    );
    let d = Dialog::<512>::new_uas(&inv, "t3", "sip:bob@192.0.2.4").unwrap();
    assert_eq!(set.insert(d.clone()).err(), Some(DialogError::Full));

    set.remove(h1).unwrap();
    assert_eq!(set.remove(h1), Err(DialogError::StaleHandle));
    let h3 = set.insert(d).unwrap();
    // Same slot, new generation: the old handle names nothing.
    assert_eq!(h3.index(), h1.index());
    assert_ne!(h3, h1);
    assert!(set.get(h1).is_none());
    assert_eq!(set.get(h3).unwrap().local_tag(), "t3");
    assert_eq!(set.sent_ack(h1, b"ACK"), Err(DialogError::StaleHandle));
    assert_eq!(
        set.terminate_early_except(h1),
        Err(DialogError::StaleHandle)
    );
    assert_eq!(set.find(CALL_ID, "t2", "9fxced76sl"), Some(h2));
    assert_eq!(set.handles().count(), 2);
}

#[test]
fn no_allocations_in_a_whole_call() {
    // Build every message first: the test's own formatting allocates.
    let r180 = ringing("8321234356");
    let r200 = ok("8321234356");
    let info = in_dialog("INFO", 2, ";tag=8321234356");
    let ack = in_dialog("ACK", 1, ";tag=8321234356");
    let mut alice = Set::new(Timers::DEFAULT);
    let mut bob = Set::new(Timers::DEFAULT);
    assert!(alloc_counter::is_installed());
    let (_, n) = alloc_counter::allocations(|| {
        let (mut h1, mut h2) = ([HeaderIndex::EMPTY; 32], [HeaderIndex::EMPTY; 32]);
        let inv = Message::parse(INVITE_SENT, &mut h1).unwrap();
        let Ok(ResponseOutcome::Created(a)) =
            alice.handle_response(Some(&inv), &Message::parse(&r180, &mut h2).unwrap())
        else {
            return;
        };
        let _ = alice.handle_response(None, &Message::parse(&r200, &mut h2).unwrap());
        let mut ids = IdGenerator::new([6; 32]);
        let mut buf = [0u8; 1024];
        let d = alice.get_mut(a).unwrap();
        let len = d
            .request(Method::Ack, "SIP/2.0/UDP 192.0.2.1", &mut ids, &mut buf)
            .unwrap()
            .finish(b"")
            .unwrap()
            .len();
        alice.sent_ack(a, &buf[..len]).unwrap();
        let _ = alice.handle_response(None, &Message::parse(&r200, &mut h2).unwrap());
        let _ = alice.poll_transmit(Instant::ZERO, &mut buf);

        let inv = Message::parse(INVITE_RECEIVED, &mut h1).unwrap();
        let b = bob
            .create_uas(&inv, "8321234356", "sip:bob@192.0.2.4")
            .unwrap();
        bob.sent_2xx(b, Instant::ZERO, &r200).unwrap();
        bob.handle_timeout(Instant::from_millis(500));
        let _ = bob.poll_transmit(Instant::from_millis(500), &mut buf);
        let _ = bob.handle_request(&Message::parse(&ack, &mut h2).unwrap());
        let _ = bob.handle_request(&Message::parse(&info, &mut h2).unwrap());
        let _ = bob.poll_event();
        let d = bob.get_mut(b).unwrap();
        let _ = d
            .request(Method::Bye, "SIP/2.0/UDP 192.0.2.4", &mut ids, &mut buf)
            .unwrap()
            .finish(b"");
        bob.remove(b).unwrap();
    });
    assert_eq!(n, 0);
    assert_eq!(alice.len(), 1);
    assert!(bob.is_empty());
}

/// Section 13.2.2.4 with a 2xx that lacks its mandatory Contact: the early dialog is
/// confirmed with the target and route set it had; a broken Contact is refused.
#[test]
fn rfc3261_13_2_2_4_2xx_without_contact_keeps_early_target() {
    let mut alice = Set::new(Timers::DEFAULT);
    let (mut h1, mut h2) = ([HeaderIndex::EMPTY; 32], [HeaderIndex::EMPTY; 32]);
    let inv = parse(INVITE_SENT, &mut h1);
    let r180 = ringing("t");
    let ResponseOutcome::Created(a) = alice
        .handle_response(Some(&inv), &parse(&r180, &mut h2))
        .unwrap()
    else {
        panic!()
    };
    let broken = response("200 OK", "t", "Contact: <tel:+1555>\r\n");
    assert_eq!(
        alice.handle_response(None, &parse(&broken, &mut h2)),
        Err(DialogError::InvalidContact)
    );
    assert_eq!(alice.get(a).unwrap().state(), DialogState::Early);
    let bare = response("200 OK", "t", "");
    assert_eq!(
        alice.handle_response(None, &parse(&bare, &mut h2)).unwrap(),
        ResponseOutcome::Updated(a)
    );
    let d = alice.get(a).unwrap();
    assert_eq!(d.state(), DialogState::Confirmed);
    assert_eq!(d.remote_target(), "sip:bob@192.0.2.4");
    assert_eq!(d.route_set().count(), 2);
}

/// `reset` empties the set in place and sets its timers: a set made with zero timers
/// (all zero bits, for a `static`) works with the real ones afterwards, and the handles
/// of the dialogs it held, with a 2xx being retransmitted, are stale.
#[test]
fn reset_empties_the_set_and_sets_the_timers() {
    const ZERO: core::time::Duration = core::time::Duration::ZERO;
    let mut set = Set::new(Timers {
        t1: ZERO,
        t2: ZERO,
        t4: ZERO,
    });
    set.reset(Timers::DEFAULT);
    let mut hs = [HeaderIndex::EMPTY; 32];
    let inv = parse(INVITE_RECEIVED, &mut hs);
    let old = set.create_uas(&inv, "t1", "sip:bob@192.0.2.4").unwrap();
    let ok = response("200 OK", "t1", "Contact: <sip:bob@192.0.2.4>\r\n");
    set.sent_2xx(old, Instant::ZERO, &ok).unwrap();
    assert_eq!(set.poll_timeout(), Some(Instant::from_millis(500)), "T1");

    set.reset(Timers {
        t1: core::time::Duration::from_millis(100),
        ..Timers::DEFAULT
    });
    assert!(set.is_empty());
    assert_eq!(set.poll_timeout(), None, "nothing retransmitted any more");
    let mut buf = [0u8; 1024];
    assert_eq!(set.poll_transmit(Instant::from_secs(1), &mut buf), Ok(None));
    assert!(set.get(old).is_none());
    assert_eq!(set.remove(old), Err(DialogError::StaleHandle));
    let new = set.create_uas(&inv, "t2", "sip:bob@192.0.2.4").unwrap();
    assert_ne!(new, old);
    set.sent_2xx(new, Instant::ZERO, &ok).unwrap();
    assert_eq!(
        set.poll_timeout(),
        Some(Instant::from_millis(100)),
        "the new T1"
    );
}
