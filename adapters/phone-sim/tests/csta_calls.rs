//! CSTA call control end to end: phone A is driven by a csta-core `AppSession` (the
//! test's uaCSTA side) and places and takes real SIP calls with phones B and C through
//! a routing proxy in the test; the events A sends are checked at each step.

mod common;

use common::{App, WAIT, proxy};
use phone_sim::phone::Action;
use phone_sim::report::{CallState, Report};
use phone_sim::runtime::{PhoneHandle, PhoneSpec, spawn_on};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::Instant;

fn conn(element: &str, call: &str) -> String {
    format!("<{element}><callID>{call}</callID><deviceID>201</deviceID></{element}>")
}

async fn states(p: &PhoneHandle, want: &[CallState]) {
    let want = want.to_vec();
    assert!(
        p.wait_for(WAIT, |s| s.calls == want).await,
        "{}: calls {:?}, want {want:?}",
        p.user(),
        p.status().calls
    );
}

#[tokio::test]
async fn test_make_consult_transfer_deflect_by_csta() {
    let socks = [
        UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        UdpSocket::bind("127.0.0.1:0").await.unwrap(),
    ];
    let addrs: Vec<_> = socks.iter().map(|s| s.local_addr().unwrap()).collect();
    let (px, _trace) = proxy(vec![
        ("A", "201", addrs[0]),
        ("B", "202", addrs[1]),
        ("C", "203", addrs[2]),
    ])
    .await;
    let (tx, mut rx) = mpsc::unbounded_channel::<phone_sim::runtime::Tagged>();
    let epoch = Instant::now();
    let mut phones = Vec::new();
    for (sock, user) in socks.into_iter().zip(["201", "202", "203"]) {
        let mut spec = PhoneSpec::new(user, "pw", "localhost", px);
        spec.register = false;
        spec.auto_answer = user != "201";
        phones.push(spawn_on(spec, sock, epoch, tx.clone()).unwrap());
    }
    let (a, b, c) = (&phones[0], &phones[1], &phones[2]);

    let mut app = Box::new(App::new(a, UdpSocket::bind("127.0.0.1:0").await.unwrap()).await);
    app.s.open().unwrap();
    app.flush().await;
    app.until("session", |x| x.established).await;
    assert_eq!(
        app.request(
            "<MonitorStart><monitorObject><deviceObject>201</deviceObject></monitorObject></MonitorStart>"
        )
        .await,
        "MonitorStartResponse"
    );

    // MakeCall to B, who answers at once.
    assert_eq!(
        app.request(
            "<MakeCall><callingDevice>201</callingDevice><calledDirectoryNumber>202</calledDirectoryNumber></MakeCall>"
        )
        .await,
        "MakeCallResponse"
    );
    assert_eq!(
        app.events_until(4).await,
        [
            "ServiceInitiatedEvent",
            "OriginatedEvent",
            "DeliveredEvent",
            "EstablishedEvent"
        ]
    );
    states(b, &[CallState::Connected]).await;

    // ConsultationCall to C: B is held first, then C is called.
    assert_eq!(
        app.request(&format!(
            "<ConsultationCall>{}<consultedDevice>203</consultedDevice></ConsultationCall>",
            conn("existingCall", "1")
        ))
        .await,
        "ConsultationCallResponse"
    );
    assert_eq!(
        app.events_until(5).await,
        [
            "HeldEvent",
            "ServiceInitiatedEvent",
            "OriginatedEvent",
            "DeliveredEvent",
            "EstablishedEvent"
        ]
    );
    states(a, &[CallState::Held, CallState::Connected]).await;

    // TransferCall: B and C are joined (REFER with Replaces), A leaves.
    assert_eq!(
        app.request(&format!(
            "<TransferCall>{}{}</TransferCall>",
            conn("heldCall", "1"),
            conn("activeCall", "2")
        ))
        .await,
        "TransferCallResponse"
    );
    assert_eq!(app.events_until(1).await, ["TransferedEvent"]);
    states(a, &[]).await;
    states(b, &[CallState::Connected]).await;
    states(c, &[CallState::Connected]).await;
    b.act(Action::Hangup);
    states(c, &[]).await;

    // C calls A; A rings; DeflectCall sends it to B, who answers.
    c.act(Action::Call("201".into()));
    assert_eq!(app.events_until(1).await, ["DeliveredEvent"]);
    assert_eq!(
        app.request(&format!(
            "<DeflectCall>{}<newDestination>202</newDestination></DeflectCall>",
            conn("callToBeDiverted", "3")
        ))
        .await,
        "DeflectCallResponse"
    );
    assert_eq!(app.events_until(1).await, ["DivertedEvent"]);
    states(a, &[]).await;
    states(b, &[CallState::Connected]).await;
    states(c, &[CallState::Connected]).await;

    // SingleStepTransfer of a call A takes: C hangs up, B calls A, A answers by CSTA,
    // then sends B on to C.
    c.act(Action::Hangup);
    states(b, &[]).await;
    b.act(Action::Call("201".into()));
    assert_eq!(app.events_until(1).await, ["DeliveredEvent"]);
    assert_eq!(
        app.request(&format!(
            "<AnswerCall>{}</AnswerCall>",
            conn("callToBeAnswered", "4")
        ))
        .await,
        "AnswerCallResponse"
    );
    assert_eq!(app.events_until(1).await, ["EstablishedEvent"]);
    assert_eq!(
        app.request(&format!(
            "<SingleStepTransferCall>{}<transferredTo>203</transferredTo></SingleStepTransferCall>",
            conn("activeCall", "4")
        ))
        .await,
        "SingleStepTransferCallResponse"
    );
    assert_eq!(app.events_until(1).await, ["TransferedEvent"]);
    states(a, &[]).await;
    states(b, &[CallState::Connected]).await;
    states(c, &[CallState::Connected]).await;

    // Nothing went wrong on the way: no warnings, the CSTA session stayed up.
    while let Ok(t) = rx.try_recv() {
        assert!(
            !matches!(t.report, Report::Warning { .. } | Report::CstaDown { .. }),
            "{}",
            t.to_json_line()
        );
    }
    assert!(a.status().csta);
}
