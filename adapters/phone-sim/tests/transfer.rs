//! Three phone-sims behind a small routing proxy in the test (requests go by the
//! Request-URI's user, responses by the top Via): consultation transfer (REFER with
//! Replaces), single-step transfer (REFER) and conference.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use phone_sim::phone::Action;
use phone_sim::report::{CallState, Report};
use phone_sim::runtime::{PhoneHandle, PhoneSpec, Tagged, spawn_on};
use sip_lite::wire::{HeaderIndex, HeaderName, Message, Uri};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

const WAIT: Duration = Duration::from_secs(5);

type Trace = Arc<Mutex<Vec<String>>>;

/// Routes by user; records `X>Y summary` with phone letters.
async fn proxy(phones: Vec<(&'static str, &'static str, SocketAddr)>) -> (SocketAddr, Trace) {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let trace: Trace = Arc::new(Mutex::new(Vec::new()));
    let t = trace.clone();
    let by_user: HashMap<&str, (&str, SocketAddr)> =
        phones.iter().map(|(l, u, a)| (*u, (*l, *a))).collect();
    let by_addr: HashMap<SocketAddr, &str> = phones.iter().map(|(l, _, a)| (*a, *l)).collect();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let mut hs = [HeaderIndex::EMPTY; 64];
            let Ok(m) = Message::parse(&buf[..n], &mut hs) else {
                continue;
            };
            let to = if m.is_request() {
                let uri = m.request_uri_str().unwrap();
                let user = Uri::parse(uri)
                    .ok()
                    .and_then(|u| u.as_sip().and_then(|s| s.user.map(str::to_owned)));
                user.and_then(|u| by_user.get(u.as_str()).map(|x| x.1))
            } else {
                let via = m.top_via().unwrap();
                format!("{}:{}", via.host, via.port.unwrap_or(5060))
                    .parse()
                    .ok()
            };
            let Some(to) = to else { continue };
            let cseq = m.cseq().unwrap();
            let what = match m.status() {
                Some(s) => format!("{} {}", s.0, cseq.method),
                None if m.header(HeaderName::Replaces).is_some() => {
                    format!("{} with Replaces", cseq.method)
                }
                None => cseq.method.to_string(),
            };
            t.lock().unwrap().push(format!(
                "{}>{} {what}",
                by_addr.get(&from).unwrap_or(&"?"),
                by_addr.get(&to).unwrap_or(&"?")
            ));
            if std::env::var("TRACE_SIP").is_ok() {
                eprintln!(
                    "---- {from} -> {to}\n{}",
                    String::from_utf8_lossy(&buf[..n])
                );
            }
            let _ = sock.send_to(&buf[..n], to).await;
        }
    });
    (addr, trace)
}

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
