//! A phone-sim driven by a csta-core `AppSession` over real UDP: the test plays the
//! server (uaCSTA computing function and the phone's outbound proxy).

mod common;

use common::{App, WAIT, first_line};
use phone_sim::report::Report;
use phone_sim::runtime::{PhoneSpec, Tagged, spawn};
use sip_lite::wire::{HeaderIndex, HeaderName, Message, StatusCode};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

#[tokio::test]
async fn test_phone_driven_by_app_session() {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (tx, mut reports) = mpsc::unbounded_channel::<Tagged>();
    let mut spec = PhoneSpec::new("201", "pw", "localhost", sock.local_addr().unwrap());
    spec.register = false;
    let phone = spawn(spec, Instant::now(), tx).await.unwrap();
    let mut app = Box::new(App::new(&phone, sock).await);

    // The session: INVITE with RequestSystemStatus, 200 with the response, ACK.
    app.s.open().unwrap();
    app.flush().await;
    app.until("session", |a| a.established).await;
    assert!(phone.wait_for(WAIT, |s| s.csta).await);

    assert_eq!(
        app.request(
            "<MonitorStart><monitorObject><deviceObject>201</deviceObject></monitorObject></MonitorStart>"
        )
        .await,
        "MonitorStartResponse"
    );

    // MakeCall: the phone sends an INVITE with SDP to its proxy (this socket).
    assert_eq!(
        app.request(
            "<MakeCall><callingDevice>201</callingDevice><calledDirectoryNumber>202</calledDirectoryNumber><autoOriginate>doNotPrompt</autoOriginate></MakeCall>"
        )
        .await,
        "MakeCallResponse"
    );
    let invite = app.next_other().await;
    assert_eq!(first_line(&invite), "INVITE sip:202@localhost SIP/2.0");
    {
        let mut hs = [HeaderIndex::EMPTY; 64];
        let m = Message::parse(&invite, &mut hs).unwrap();
        assert_eq!(m.header(HeaderName::ContentType), Some("application/sdp"));
        let sdp = String::from_utf8_lossy(m.body());
        assert!(sdp.contains("m=audio 4000 RTP/AVP 0\r\n"), "{sdp}");
        assert!(sdp.contains("a=sendrecv\r\n"), "{sdp}");
        assert_eq!(m.from().unwrap().uri.to_string(), "sip:201@localhost");
    }
    app.answer(&invite, StatusCode::RINGING, false).await;
    app.answer(&invite, StatusCode::OK, true).await;
    let ack = app.next_other().await;
    assert_eq!(first_line(&ack), "ACK sip:202@127.0.0.1:9 SIP/2.0");
    assert_eq!(
        app.events_until(4).await,
        [
            "ServiceInitiatedEvent",
            "OriginatedEvent",
            "DeliveredEvent",
            "EstablishedEvent"
        ]
    );

    // ClearConnection: BYE to the far end, ConnectionCleared.
    assert_eq!(
        app.request(
            "<ClearConnection><connectionToBeCleared><callID>1</callID><deviceID>201</deviceID></connectionToBeCleared></ClearConnection>"
        )
        .await,
        "ClearConnectionResponse"
    );
    let bye = app.next_other().await;
    assert_eq!(first_line(&bye), "BYE sip:202@127.0.0.1:9 SIP/2.0");
    app.answer(&bye, StatusCode::OK, false).await;
    assert_eq!(app.events_until(1).await, ["ConnectionClearedEvent"]);

    // Do-not-disturb by request: the response, the event, and the phone's state.
    assert_eq!(
        app.request(
            "<SetDoNotDisturb><device>201</device><doNotDisturbOn>true</doNotDisturbOn></SetDoNotDisturb>"
        )
        .await,
        "SetDoNotDisturbResponse"
    );
    assert_eq!(app.events_until(1).await, ["DoNotDisturbEvent"]);
    assert!(phone.status().dnd);

    // An unknown call: CSTAErrorCode in the 200.
    assert_eq!(
        app.request(
            "<AnswerCall><callToBeAnswered><callID>77</callID><deviceID>201</deviceID></callToBeAnswered></AnswerCall>"
        )
        .await,
        "CSTAErrorCode"
    );

    // What the phone reported, in order (call reports and others).
    let mut seen = Vec::new();
    while let Ok(t) = reports.try_recv() {
        match t.report {
            Report::CstaRequest { name, answer } => seen.push(format!("request {name} {answer}")),
            Report::CstaEvent { name } => seen.push(format!("event {name}")),
            Report::Call { state, cause, .. } => seen.push(format!("call {state} {cause}")),
            other => seen.push(other.event().to_owned()),
        }
    }
    assert_eq!(
        seen,
        [
            "csta_up",
            "request MonitorStart MonitorStartResponse",
            "request MakeCall MakeCallResponse",
            "event ServiceInitiatedEvent",
            "call calling originated",
            "event OriginatedEvent",
            "call ringback ringing",
            "event DeliveredEvent",
            "call connected answered",
            "event EstablishedEvent",
            "request ClearConnection ClearConnectionResponse",
            "call ended hangup",
            "event ConnectionClearedEvent",
            "request SetDoNotDisturb SetDoNotDisturbResponse",
            "event DoNotDisturbEvent",
            "request AnswerCall CSTAErrorCode",
        ]
    );
}

/// The out-of-dialog variant: a CSTA request in `NOTIFY Event: uaCSTA` is served (200,
/// no session needed).
#[tokio::test]
async fn test_notify_variant_is_served() {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = sock.local_addr().unwrap();
    let (tx, _reports) = mpsc::unbounded_channel::<Tagged>();
    let mut spec = PhoneSpec::new("201", "pw", "localhost", me);
    spec.register = false;
    let phone = spawn(spec, Instant::now(), tx).await.unwrap();
    let body = "<?xml version=\"1.0\" encoding=\"UTF-8\"?><SetDoNotDisturb xmlns=\"http://www.ecma-international.org/standards/ecma-323/csta/ed3\"><device>201</device><doNotDisturbOn>true</doNotDisturbOn></SetDoNotDisturb>";
    let notify = format!(
        "NOTIFY sip:201@{} SIP/2.0\r\nVia: SIP/2.0/UDP {me};branch=z9hG4bK-n1\r\n\
         Max-Forwards: 70\r\nFrom: <sip:csta@localhost>;tag=n1\r\nTo: <sip:201@localhost>\r\n\
         Call-ID: notify-1\r\nCSeq: 1 NOTIFY\r\nEvent: uaCSTA\r\n\
         Content-Type: application/csta+xml\r\nContent-Disposition: signal;handling=required\r\n\
         Content-Length: {}\r\n\r\n{body}",
        phone.local_addr(),
        body.len()
    );
    sock.send_to(notify.as_bytes(), phone.local_addr())
        .await
        .unwrap();
    let mut buf = vec![0u8; 65_536];
    let (n, _) = timeout(WAIT, sock.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first_line(&buf[..n]), "SIP/2.0 200 OK");
    assert!(phone.wait_for(WAIT, |s| s.dnd).await);
    assert!(!phone.status().csta);
}
