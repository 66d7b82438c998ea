//! Three phone-sims behind a small routing proxy in the test (requests go by the
//! Request-URI's user, responses by the top Via): consultation transfer (REFER with
//! Replaces), single-step transfer (REFER) and conference.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use common::{Trace, WAIT, proxy};
use phone_sim::phone::Action;
use phone_sim::report::{CallState, Report};
use phone_sim::runtime::{PhoneHandle, PhoneSpec, Tagged, spawn_on};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

/// Lets messages in flight land, then clears the trace.
async fn clear(trace: &Trace) {
    tokio::time::sleep(Duration::from_millis(50)).await;
    trace.lock().unwrap().clear();
}

/// Waits until the trace holds `n` messages; returns them sorted.
async fn sorted(trace: &Trace, n: usize) -> Vec<String> {
    let end = Instant::now() + WAIT;
    while trace.lock().unwrap().len() < n && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut t = trace.lock().unwrap().clone();
    t.sort();
    t
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

/// Call reports per phone as `no:state:cause:peer`, until `quiet` passes without one.
async fn drain(rx: &mut mpsc::UnboundedReceiver<Tagged>) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    while let Ok(Some(t)) = timeout(Duration::from_millis(200), rx.recv()).await {
        match t.report {
            Report::Call {
                call,
                state,
                peer,
                cause,
            } => out
                .entry(t.phone)
                .or_default()
                .push(format!("{call}:{state}:{cause}:{peer}")),
            Report::Warning { message } => panic!("{}: {message}", t.phone),
            _ => {}
        }
    }
    out
}

struct Three {
    a: PhoneHandle,
    b: PhoneHandle,
    c: PhoneHandle,
    trace: Trace,
    rx: mpsc::UnboundedReceiver<Tagged>,
}

async fn three() -> Three {
    let socks = [
        UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        UdpSocket::bind("127.0.0.1:0").await.unwrap(),
        UdpSocket::bind("127.0.0.1:0").await.unwrap(),
    ];
    let addrs: Vec<SocketAddr> = socks.iter().map(|s| s.local_addr().unwrap()).collect();
    let (px, trace) = proxy(vec![
        ("A", "201", addrs[0]),
        ("B", "202", addrs[1]),
        ("C", "203", addrs[2]),
    ])
    .await;
    let (tx, rx) = mpsc::unbounded_channel();
    let epoch = Instant::now();
    let mut handles = Vec::new();
    for (sock, user) in socks.into_iter().zip(["201", "202", "203"]) {
        let mut spec = PhoneSpec::new(user, "pw", "localhost", px);
        spec.register = false;
        handles.push(spawn_on(spec, sock, epoch, tx.clone()).unwrap());
    }
    let c = handles.pop().unwrap();
    let b = handles.pop().unwrap();
    let a = handles.pop().unwrap();
    Three { a, b, c, trace, rx }
}

/// A talks to B, holds B, calls C, C answers.
async fn consultation(t: &Three) {
    t.a.act(Action::Call("202".into()));
    states(&t.b, &[CallState::Ringing]).await;
    t.b.act(Action::Answer);
    states(&t.a, &[CallState::Connected]).await;
    t.a.act(Action::Hold);
    states(&t.a, &[CallState::Held]).await;
    t.a.act(Action::Call("203".into()));
    states(&t.c, &[CallState::Ringing]).await;
    t.c.act(Action::Answer);
    states(&t.a, &[CallState::Held, CallState::Connected]).await;
}

#[tokio::test]
async fn test_consultation_transfer() {
    let mut t = three().await;
    consultation(&t).await;
    clear(&t.trace).await;
    t.a.act(Action::CompleteTransfer);
    states(&t.a, &[]).await;
    states(&t.b, &[CallState::Connected]).await;
    states(&t.c, &[CallState::Connected]).await;
    let reports = drain(&mut t.rx).await;
    assert_eq!(
        reports["201"],
        [
            "1:calling:originated:202",
            "1:ringback:ringing:202",
            "1:connected:answered:202",
            "1:held:hold:202",
            "2:calling:originated:203",
            "2:ringback:ringing:203",
            "2:connected:answered:203",
            "1:ended:transferred:202",
            "2:ended:transferred:203",
        ]
    );
    assert_eq!(
        reports["202"],
        [
            "1:ringing:incoming:201",
            "1:connected:answered:201",
            "2:calling:referred:203",
            "1:ended:bye:201",
            "2:ringback:ringing:203",
            "2:connected:answered:203",
        ]
    );
    assert_eq!(
        reports["203"],
        [
            "1:ringing:incoming:201",
            "1:connected:answered:201",
            "2:ringing:incoming:202",
            "2:connected:answered:202",
            "1:ended:replaced:201",
        ]
    );
    let trace = sorted(&t.trace, 10).await;
    let mut want = vec![
        "A>B REFER",
        "B>A 202 REFER",
        "A>B BYE",
        "B>A 200 BYE",
        "B>C INVITE with Replaces",
        "C>B 180 INVITE",
        "C>B 200 INVITE",
        "B>C ACK",
        "C>A BYE",
        "A>C 200 BYE",
    ];
    want.sort();
    assert_eq!(trace, want);
}

#[tokio::test]
async fn test_single_step_transfer_and_conference() {
    let mut t = three().await;
    t.a.act(Action::Call("202".into()));
    states(&t.b, &[CallState::Ringing]).await;
    t.b.act(Action::Answer);
    states(&t.a, &[CallState::Connected]).await;
    clear(&t.trace).await;
    // B sends A on to C: REFER, A calls C.
    t.b.act(Action::Transfer("203".into()));
    states(&t.c, &[CallState::Ringing]).await;
    states(&t.b, &[]).await;
    t.c.act(Action::Answer);
    states(&t.a, &[CallState::Connected]).await;
    let trace = sorted(&t.trace, 8).await;
    let mut want = vec![
        "B>A REFER",
        "A>B 202 REFER",
        "B>A BYE",
        "A>B 200 BYE",
        "A>C INVITE",
        "C>A 180 INVITE",
        "C>A 200 INVITE",
        "A>C ACK",
    ];
    want.sort();
    assert_eq!(trace, want);
    let reports = drain(&mut t.rx).await;
    assert_eq!(
        reports["202"],
        [
            "1:ringing:incoming:201",
            "1:connected:answered:201",
            "1:ended:transferred:201",
        ]
    );

    // Conference: A (talking to C) holds C, calls B, joins them; signalling unchanged.
    t.a.act(Action::Hold);
    states(&t.a, &[CallState::Held]).await;
    t.a.act(Action::Call("202".into()));
    states(&t.b, &[CallState::Ringing]).await;
    t.b.act(Action::Answer);
    states(&t.a, &[CallState::Held, CallState::Connected]).await;
    clear(&t.trace).await;
    t.a.act(Action::Conference);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(t.trace.lock().unwrap().is_empty());
    let reports = drain(&mut t.rx).await;
    assert!(!reports.contains_key("201") || reports["201"].iter().all(|r| !r.contains("ended")));
}
