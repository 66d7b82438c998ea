//! Two phone-sims calling each other over real UDP on loopback: directly (each is the
//! other's outbound proxy), and through a relay in the test that records every SIP
//! message on the wire.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use phone_sim::phone::{Action, ForwardKind};
use phone_sim::report::{CallState, Report};
use phone_sim::runtime::{PhoneHandle, PhoneSpec, Tagged, spawn_on};
use sip_lite::wire::{HeaderIndex, Message};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

const WAIT: Duration = Duration::from_secs(5);

async fn bind() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").await.unwrap()
}

fn spec(user: &str, proxy: SocketAddr) -> PhoneSpec {
    let mut s = PhoneSpec::new(user, "pw", "localhost", proxy);
    s.register = false;
    s
}

/// Reports of all phones, read in order.
struct Reports(mpsc::UnboundedReceiver<Tagged>);

impl Reports {
    /// The call reports of `phone` up to and including the one in state `until`,
    /// as `state cause peer`; other reports are skipped.
    async fn calls_until(&mut self, phone: &str, until: CallState) -> Vec<String> {
        let mut seen = Vec::new();
        loop {
            let t = timeout(WAIT, self.0.recv())
                .await
                .unwrap_or_else(|_| panic!("{phone}: no {until} after {seen:?}"))
                .unwrap();
            if t.phone != phone {
                continue;
            }
            if let Report::Warning { message } = &t.report {
                panic!("{phone}: warning {message}");
            }
            if let Report::Call {
                state, cause, peer, ..
            } = &t.report
            {
                seen.push(format!("{state} {cause} {peer}"));
                if *state == until {
                    return seen;
                }
            }
        }
    }

    /// The next report of `phone` that is not a call report.
    async fn next_other(&mut self, phone: &str) -> Report {
        loop {
            let t = timeout(WAIT, self.0.recv()).await.unwrap().unwrap();
            if t.phone == phone && !matches!(t.report, Report::Call { .. }) {
                return t.report;
            }
        }
    }
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
async fn test_direct_call_answer_hangup() {
    let (sa, sb) = (bind().await, bind().await);
    let (aa, ab) = (sa.local_addr().unwrap(), sb.local_addr().unwrap());
    let (tx, rx) = mpsc::unbounded_channel();
    let mut reports = Reports(rx);
    let epoch = Instant::now();
    // Each phone is the other's outbound proxy.
    let a = spawn_on(spec("201", ab), sa, epoch, tx.clone()).unwrap();
    let b = spawn_on(spec("202", aa), sb, epoch, tx.clone()).unwrap();
    assert_eq!(a.local_addr(), aa);

    a.act(Action::Call("202".into()));
    assert_eq!(
        reports.calls_until("202", CallState::Ringing).await,
        ["ringing incoming 201"]
    );
    states(&a, &[CallState::Ringback]).await;
    b.act(Action::Answer);
    states(&a, &[CallState::Connected]).await;
    states(&b, &[CallState::Connected]).await;
    a.act(Action::Hangup);
    states(&b, &[]).await;
    states(&a, &[]).await;
    assert_eq!(
        reports.calls_until("202", CallState::Ended).await,
        ["connected answered 201", "ended bye 201"]
    );
}

/// A relay both phones use as outbound proxy: forwards each datagram to the other
/// phone and records `from>to first-line-summary`.
async fn relay(a: SocketAddr, b: SocketAddr) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let sock = bind().await;
    let addr = sock.local_addr().unwrap();
    let trace = Arc::new(Mutex::new(Vec::new()));
    let t = trace.clone();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let (to, dir) = if from == a { (b, "A>B") } else { (a, "B>A") };
            let mut hs = [HeaderIndex::EMPTY; 64];
            if let Ok(m) = Message::parse(&buf[..n], &mut hs) {
                let cseq = m.cseq().unwrap();
                let what = match m.status() {
                    Some(s) => format!("{} {}", s.0, cseq.method),
                    None => {
                        let sdp = String::from_utf8_lossy(m.body());
                        let dir = ["sendonly", "sendrecv", "recvonly"]
                            .into_iter()
                            .find(|d| sdp.contains(&format!("a={d}")));
                        match dir {
                            Some(d) => format!("{} {d}", cseq.method),
                            None => cseq.method.to_string(),
                        }
                    }
                };
                t.lock().unwrap().push(format!("{dir} {what}"));
            }
            let _ = sock.send_to(&buf[..n], to).await;
        }
    });
    (addr, trace)
}

fn take(trace: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    std::mem::take(&mut *trace.lock().unwrap())
}

/// Waits until the trace has `n` entries (the far side's last answer may still be on
/// its way when the state changed) and takes them.
async fn take_n(trace: &Arc<Mutex<Vec<String>>>, n: usize) -> Vec<String> {
    let end = Instant::now() + WAIT;
    while trace.lock().unwrap().len() < n && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    take(trace)
}

#[tokio::test]
async fn test_calls_through_relay_on_the_wire() {
    let (sa, sb) = (bind().await, bind().await);
    let (aa, ab) = (sa.local_addr().unwrap(), sb.local_addr().unwrap());
    let (proxy, trace) = relay(aa, ab).await;
    let (tx, rx) = mpsc::unbounded_channel();
    let mut reports = Reports(rx);
    let epoch = Instant::now();
    let a = spawn_on(spec("201", proxy), sa, epoch, tx.clone()).unwrap();
    let b = spawn_on(spec("202", proxy), sb, epoch, tx.clone()).unwrap();

    // Call, answer, hold, retrieve, hang up.
    a.act(Action::Call("202".into()));
    states(&b, &[CallState::Ringing]).await;
    b.act(Action::Answer);
    states(&a, &[CallState::Connected]).await;
    assert_eq!(
        take_n(&trace, 4).await,
        [
            "A>B INVITE sendrecv",
            "B>A 180 INVITE",
            "B>A 200 INVITE",
            "A>B ACK",
        ]
    );
    a.act(Action::Hold);
    states(&a, &[CallState::Held]).await;
    a.act(Action::Retrieve);
    states(&a, &[CallState::Connected]).await;
    b.act(Action::Hangup);
    states(&a, &[]).await;
    assert_eq!(
        take_n(&trace, 8).await,
        [
            "A>B INVITE sendonly",
            "B>A 200 INVITE",
            "A>B ACK",
            "A>B INVITE sendrecv",
            "B>A 200 INVITE",
            "A>B ACK",
            "B>A BYE",
            "A>B 200 BYE",
        ]
    );
    assert_eq!(
        reports.calls_until("201", CallState::Ended).await,
        [
            "calling originated 202",
            "ringback ringing 202",
            "connected answered 202",
            "held hold 202",
            "connected retrieve 202",
            "ended bye 202",
        ]
    );

    // Caller gives up while it rings: CANCEL, 487.
    a.act(Action::Call("202".into()));
    states(&b, &[CallState::Ringing]).await;
    a.act(Action::Hangup);
    states(&b, &[]).await;
    let t = take_n(&trace, 6).await;
    assert_eq!(
        t,
        [
            "A>B INVITE sendrecv",
            "B>A 180 INVITE",
            "A>B CANCEL",
            "B>A 200 CANCEL",
            "B>A 487 INVITE",
            "A>B ACK",
        ][..t.len().min(6)]
    );

    // Do-not-disturb: 486, the caller's call fails.
    b.act(Action::DoNotDisturb(true));
    assert!(b.wait_for(WAIT, |s| s.dnd).await);
    take(&trace);
    a.act(Action::Call("202".into()));
    assert_eq!(
        reports.next_other("202").await,
        Report::Rejected {
            from: "201".into(),
            status: 486,
            to: None
        }
    );
    states(&a, &[]).await;
    assert_eq!(
        take_n(&trace, 3).await,
        ["A>B INVITE sendrecv", "B>A 486 INVITE", "A>B ACK"]
    );
    b.act(Action::DoNotDisturb(false));

    // Immediate forwarding to 201 itself: the 302 is followed with a new INVITE, which
    // the relay hands to B again (it knows no 203); B now rings.
    b.act(Action::Forward(ForwardKind::Immediate, Some("203".into())));
    a.act(Action::Call("202".into()));
    assert_eq!(
        reports.next_other("202").await,
        Report::Rejected {
            from: "201".into(),
            status: 302,
            to: Some("203".into())
        }
    );
    b.act(Action::Forward(ForwardKind::Immediate, None));
    states(&b, &[CallState::Ringing]).await;
    assert_eq!(
        take_n(&trace, 5).await,
        [
            "A>B INVITE sendrecv",
            "B>A 302 INVITE",
            "A>B ACK",
            "A>B INVITE sendrecv",
            "B>A 180 INVITE",
        ]
    );
    // Deflect the ringing call: 302 again, followed, rings again; then answer.
    b.act(Action::Deflect("204".into()));
    assert_eq!(
        take_n(&trace, 4).await,
        [
            "B>A 302 INVITE",
            "A>B ACK",
            "A>B INVITE sendrecv",
            "B>A 180 INVITE",
        ]
    );
    states(&b, &[CallState::Ringing]).await;
    b.act(Action::Answer);
    states(&a, &[CallState::Connected]).await;
    a.act(Action::Hangup);
    states(&b, &[]).await;
}
