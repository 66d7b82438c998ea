//! The proxy in the running server: phones are raw SIP sockets on loopback (UDP and
//! TCP) that register and call each other through it.

use std::net::SocketAddr;
use std::time::Duration;

use csta_server::config::{SipUser, UpstreamConfig};
use csta_server::{Config, Server, ServerHandle};
use sip_lite::digest::{CredentialsRepr, Request, Secret};
use sip_lite::wire::{Challenge, Emit, SliceSink};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(3);

fn config(dir: &std::path::Path) -> Config {
    let mut c = Config::default();
    c.sip.udp = vec!["127.0.0.1:0".parse().unwrap()];
    c.sip.tcp = vec!["127.0.0.1:0".parse().unwrap()];
    c.sip.authenticate_calls = false;
    c.clients.tcp = None;
    c.clients.websocket = None;
    c.http.listen = None;
    c.data_dir = dir.to_owned();
    c.timers.sip_t1_ms = 50;
    c.timers.sip_t2_ms = 400;
    c.timers.sip_t4_ms = 500;
    for name in ["alice", "bob", "carol"] {
        c.users.push(SipUser {
            name: name.into(),
            password: format!("{name}-pw"),
        });
    }
    c
}

async fn start_with(f: impl FnOnce(&mut Config)) -> (ServerHandle, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    f(&mut c);
    let server = Server::start(c).await.unwrap();
    (server, dir)
}

/// A message as text with helpers to read it.
#[derive(Debug, Clone)]
struct Msg(String);

impl Msg {
    fn first_line(&self) -> &str {
        self.0.lines().next().unwrap_or("")
    }

    fn all(&self, name: &str) -> Vec<String> {
        let head = self.0.split("\r\n\r\n").next().unwrap_or("");
        head.lines()
            .skip(1)
            .filter_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.trim()
                    .eq_ignore_ascii_case(name)
                    .then(|| v.trim().to_owned())
            })
            .collect()
    }

    fn one(&self, name: &str) -> String {
        self.all(name).into_iter().next().unwrap_or_default()
    }

    fn is_request(&self, method: &str) -> bool {
        self.first_line().starts_with(&format!("{method} "))
    }

    fn is_status(&self, code: u16) -> bool {
        self.first_line().starts_with(&format!("SIP/2.0 {code} "))
    }

    fn cseq_method(&self) -> String {
        self.one("CSeq")
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_owned()
    }

    fn request_uri(&self) -> String {
        self.first_line()
            .split_whitespace()
            .nth(1)
            .unwrap_or("")
            .to_owned()
    }

    /// A response to this request, as a UAS writes it (Record-Route copied for
    /// dialog-creating responses).
    fn response(&self, code: u16, reason: &str, to_tag: &str, contact: &str) -> String {
        let mut s = format!("SIP/2.0 {code} {reason}\r\n");
        for v in self.all("Via") {
            s.push_str(&format!("Via: {v}\r\n"));
        }
        if code > 100 && code < 300 {
            for v in self.all("Record-Route") {
                s.push_str(&format!("Record-Route: {v}\r\n"));
            }
        }
        let to = self.one("To");
        let to = if code > 100 && !to.contains(";tag=") {
            format!("{to};tag={to_tag}")
        } else {
            to
        };
        s.push_str(&format!(
            "From: {}\r\nTo: {to}\r\nCall-ID: {}\r\nCSeq: {}\r\nContact: <{contact}>\r\nContent-Length: 0\r\n\r\n",
            self.one("From"),
            self.one("Call-ID"),
            self.one("CSeq")
        ));
        s
    }
}

enum Link {
    Udp(UdpSocket),
    Tcp(TcpStream, Vec<u8>),
}

/// A phone: a socket, its user and where the server is.
struct Phone {
    user: String,
    link: Link,
    addr: SocketAddr,
    server: SocketAddr,
    seq: u32,
}

impl Phone {
    async fn udp(user: &str, server: &ServerHandle) -> Phone {
        Phone::udp_at(user, server, "127.0.0.1:0").await
    }

    /// A UDP phone on address `bind` (another loopback address is another host).
    async fn udp_at(user: &str, server: &ServerHandle, bind: &str) -> Phone {
        let sock = UdpSocket::bind(bind).await.unwrap();
        let addr = sock.local_addr().unwrap();
        Phone {
            user: user.into(),
            link: Link::Udp(sock),
            addr,
            server: server.sip_udp_addrs()[0],
            seq: 0,
        }
    }

    async fn tcp(user: &str, server: &ServerHandle) -> Phone {
        let to = server.sip_tcp_addrs()[0];
        let stream = TcpStream::connect(to).await.unwrap();
        let addr = stream.local_addr().unwrap();
        Phone {
            user: user.into(),
            link: Link::Tcp(stream, Vec::new()),
            addr,
            server: to,
            seq: 0,
        }
    }

    fn transport(&self) -> &'static str {
        match self.link {
            Link::Udp(_) => "UDP",
            Link::Tcp(..) => "TCP",
        }
    }

    fn contact(&self) -> String {
        match self.link {
            Link::Udp(_) => format!("sip:{}@{}", self.user, self.addr),
            Link::Tcp(..) => format!("sip:{}@{};transport=tcp", self.user, self.addr),
        }
    }

    fn via(&self, branch: &str) -> String {
        format!(
            "SIP/2.0/{} {};rport;branch=z9hG4bK{branch}",
            self.transport(),
            self.addr
        )
    }

    async fn send(&mut self, text: &str) {
        match &mut self.link {
            Link::Udp(s) => {
                s.send_to(text.as_bytes(), self.server).await.unwrap();
            }
            Link::Tcp(s, _) => s.write_all(text.as_bytes()).await.unwrap(),
        }
    }

    /// The next message, or `None` after `wait`.
    async fn recv_for(&mut self, wait: Duration) -> Option<Msg> {
        match &mut self.link {
            Link::Udp(s) => {
                let mut buf = vec![0u8; 65_536];
                let (n, _) = timeout(wait, s.recv_from(&mut buf)).await.ok()?.unwrap();
                Some(Msg(String::from_utf8(buf[..n].to_vec()).unwrap()))
            }
            Link::Tcp(s, buf) => loop {
                if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    let head = String::from_utf8(buf[..end + 4].to_vec()).unwrap();
                    let len: usize = Msg(head.clone()).one("Content-Length").parse().unwrap_or(0);
                    if buf.len() >= end + 4 + len {
                        let all: Vec<u8> = buf.drain(..end + 4 + len).collect();
                        return Some(Msg(String::from_utf8(all).unwrap()));
                    }
                }
                let mut chunk = [0u8; 4096];
                let n = timeout(wait, s.read(&mut chunk)).await.ok()?.unwrap();
                assert!(n > 0, "server closed the connection");
                buf.extend_from_slice(&chunk[..n]);
            },
        }
    }

    /// The next message that matches, skipping others (retransmissions).
    async fn expect(&mut self, what: &str, pred: impl Fn(&Msg) -> bool) -> Msg {
        loop {
            let m = self
                .recv_for(WAIT)
                .await
                .unwrap_or_else(|| panic!("{}: no {what}", self.user));
            if pred(&m) {
                return m;
            }
        }
    }

    async fn expect_status(&mut self, code: u16, method: &str) -> Msg {
        self.expect(&format!("{code} to {method}"), |m| {
            m.is_status(code) && m.cseq_method() == method
        })
        .await
    }

    async fn expect_request(&mut self, method: &str) -> Msg {
        self.expect(method, |m| m.is_request(method)).await
    }

    /// Asserts that nothing matching arrives for a while.
    async fn silent(&mut self, wait: Duration, pred: impl Fn(&Msg) -> bool) {
        let until = tokio::time::Instant::now() + wait;
        loop {
            let left = until.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return;
            }
            if let Some(m) = self.recv_for(left).await {
                assert!(!pred(&m), "{}: unexpected {}", self.user, m.0);
            }
        }
    }

    fn register_text(&self, seq: u32, auth: Option<String>) -> String {
        format!(
            "REGISTER sip:localhost SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\n\
             From: <sip:{u}@localhost>;tag=r{seq}\r\nTo: <sip:{u}@localhost>\r\n\
             Call-ID: reg-{u}-{port}\r\nCSeq: {seq} REGISTER\r\nContact: <{}>\r\n{}\
             Content-Length: 0\r\n\r\n",
            self.via(&format!("reg{seq}{}", self.addr.port())),
            self.contact(),
            auth.map(|a| format!("Authorization: {a}\r\n"))
                .unwrap_or_default(),
            u = self.user,
            port = self.addr.port(),
        )
    }

    async fn register(&mut self) {
        self.seq += 1;
        let first = self.register_text(self.seq, None);
        self.send(&first).await;
        let challenge = self.expect_status(401, "REGISTER").await;
        let user = self.user.clone();
        let auth = answer(
            &challenge.one("WWW-Authenticate"),
            "REGISTER",
            "sip:localhost",
            &user,
        );
        self.seq += 1;
        let second = self.register_text(self.seq, Some(auth));
        self.send(&second).await;
        self.expect_status(200, "REGISTER").await;
    }

    /// An INVITE to `to` (a URI); `extra` header lines end with CRLF.
    fn invite(&self, to: &str, branch: &str, call_id: &str, cseq: u32, extra: &str) -> String {
        format!(
            "INVITE {to} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\n\
             From: <sip:{}@localhost>;tag=f-{call_id}\r\nTo: <{to}>\r\nCall-ID: {call_id}\r\n\
             CSeq: {cseq} INVITE\r\nContact: <{}>\r\n{extra}Content-Length: 0\r\n\r\n",
            self.via(branch),
            self.user,
            self.contact()
        )
    }
}

/// Digest credentials for a challenge value, with the user's password.
fn answer(challenge: &str, method: &str, uri: &str, user: &str) -> String {
    answer_nc(challenge, method, uri, user, 1)
}

/// Digest credentials with nonce count `nc`.
fn answer_nc(challenge: &str, method: &str, uri: &str, user: &str, nc: u32) -> String {
    let challenge = Challenge::parse(challenge).unwrap();
    let request = Request::new(method, uri, b"");
    let password = format!("{user}-pw");
    let creds = CredentialsRepr::answer(
        &challenge,
        &request,
        user,
        Secret::Password(&password),
        "c0ffee",
        nc,
    )
    .unwrap();
    let mut buf = [0u8; 1024];
    let mut sink = SliceSink::new(&mut buf);
    creds.emit(&mut sink).unwrap();
    String::from_utf8(sink.written().to_vec()).unwrap()
}

/// An in-dialog request along `routes`, with the dialog's From, To and Call-ID.
fn in_dialog(
    method: &str,
    target: &str,
    routes: &[String],
    via: &str,
    [from, to, call_id]: [&str; 3],
    cseq: u32,
) -> String {
    let mut s = format!("{method} {target} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\n");
    for r in routes {
        s.push_str(&format!("Route: {r}\r\n"));
    }
    s.push_str(&format!(
        "From: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq} {method}\r\n\
         Content-Length: 0\r\n\r\n"
    ));
    s
}

fn contact_uri(m: &Msg) -> String {
    let c = m.one("Contact");
    c.trim_start_matches('<')
        .split('>')
        .next()
        .unwrap_or("")
        .to_owned()
}

#[tokio::test]
async fn call_from_udp_to_tcp_phone_with_record_route() {
    let (server, _dir) = start_with(|_| {}).await;
    let udp = server.sip_udp_addrs()[0];
    let tcp = server.sip_tcp_addrs()[0];
    let mut alice = Phone::udp("alice", &server).await;
    let mut bob = Phone::tcp("bob", &server).await;
    alice.register().await;
    bob.register().await;

    let invite = alice.invite("sip:bob@localhost", "inv1", "call1", 1, "");
    alice.send(&invite).await;
    let trying = alice.expect_status(100, "INVITE").await;
    assert_eq!(trying.all("Via").len(), 1);
    assert!(
        trying
            .one("Via")
            .contains(&format!("received=127.0.0.1;rport={}", alice.addr.port())),
        "{}",
        trying.0
    );

    let inv = bob.expect_request("INVITE").await;
    assert_eq!(inv.request_uri(), bob.contact());
    assert_eq!(inv.one("Max-Forwards"), "69");
    let vias = inv.all("Via");
    assert_eq!(vias.len(), 2, "{}", inv.0);
    assert!(
        vias[0].starts_with(&format!("SIP/2.0/TCP {tcp};branch=z9hG4bKcs")),
        "{}",
        vias[0]
    );
    assert_eq!(
        vias[1],
        format!(
            "SIP/2.0/UDP {};branch=z9hG4bKinv1;received=127.0.0.1;rport={}",
            alice.addr,
            alice.addr.port()
        )
    );
    // Different transports on each side: two Record-Route entries (RFC 5658), each
    // with the proof of the dialog that in-dialog requests must bring back.
    let rr = inv.all("Record-Route");
    assert_eq!(rr.len(), 2, "{rr:?}");
    let proof = rr[0]
        .split(";dlg=")
        .nth(1)
        .and_then(|p| p.strip_suffix('>'))
        .unwrap_or_default()
        .to_owned();
    assert_eq!(proof.len(), 32, "{rr:?}");
    assert!(proof.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(
        rr,
        vec![
            format!("<sip:{tcp};transport=tcp;lr;dlg={proof}>"),
            format!("<sip:{udp};lr;dlg={proof}>")
        ]
    );

    bob.send(&inv.response(180, "Ringing", "b1", &bob.contact()))
        .await;
    let ringing = alice.expect_status(180, "INVITE").await;
    assert_eq!(ringing.all("Via").len(), 1);
    assert!(ringing.one("To").ends_with(";tag=b1"));
    bob.send(&inv.response(200, "OK", "b1", &bob.contact()))
        .await;
    let ok = alice.expect_status(200, "INVITE").await;
    assert_eq!(ok.all("Via").len(), 1);
    let rr = ok.all("Record-Route");
    assert_eq!(rr.len(), 2);

    // ACK and BYE from alice follow the reversed Record-Route.
    let routes: Vec<String> = rr.iter().rev().cloned().collect();
    let ack = in_dialog(
        "ACK",
        &contact_uri(&ok),
        &routes,
        &alice.via("ack1"),
        [&ok.one("From"), &ok.one("To"), "call1"],
        1,
    );
    alice.send(&ack).await;
    let got = bob.expect_request("ACK").await;
    assert_eq!(got.request_uri(), bob.contact());
    assert_eq!(got.all("Route"), Vec::<String>::new());
    assert_eq!(got.one("Max-Forwards"), "69");
    assert_eq!(got.all("Via").len(), 2);

    // BYE from bob, with the Record-Route in order.
    let bye = in_dialog(
        "BYE",
        &alice.contact(),
        &rr,
        &bob.via("bye1"),
        [
            &format!("{};tag=b1", inv.one("To")),
            &inv.one("From"),
            "call1",
        ],
        1,
    );
    bob.send(&bye).await;
    let got = alice.expect_request("BYE").await;
    assert_eq!(got.request_uri(), alice.contact());
    assert_eq!(got.all("Via").len(), 2);
    alice
        .send(&got.response(200, "OK", "x", &alice.contact()))
        .await;
    let done = bob.expect_status(200, "BYE").await;
    assert_eq!(done.all("Via").len(), 1);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn fork_first_200_wins_and_the_other_branch_is_cancelled() {
    let (server, _dir) = start_with(|_| {}).await;
    let mut alice = Phone::udp("alice", &server).await;
    let mut bob1 = Phone::udp("bob", &server).await;
    let mut bob2 = Phone::tcp("bob", &server).await;
    alice.register().await;
    bob1.register().await;
    bob2.register().await;

    alice
        .send(&alice.invite("sip:bob@localhost", "fk1", "fork1", 1, ""))
        .await;
    let inv1 = bob1.expect_request("INVITE").await;
    let inv2 = bob2.expect_request("INVITE").await;
    assert_eq!(inv1.request_uri(), bob1.contact());
    assert_eq!(inv2.request_uri(), bob2.contact());
    bob1.send(&inv1.response(180, "Ringing", "t1", &bob1.contact()))
        .await;
    bob2.send(&inv2.response(180, "Ringing", "t2", &bob2.contact()))
        .await;
    bob1.send(&inv1.response(200, "OK", "t1", &bob1.contact()))
        .await;
    let ok = alice.expect_status(200, "INVITE").await;
    assert!(ok.one("To").ends_with(";tag=t1"));

    // bob2's branch is cancelled; its 487 is acknowledged by the proxy and not
    // forwarded.
    let cancel = bob2.expect_request("CANCEL").await;
    assert_eq!(cancel.request_uri(), inv2.request_uri());
    assert_eq!(cancel.all("Via"), vec![inv2.all("Via")[0].clone()]);
    bob2.send(&cancel.response(200, "OK", "t2", &bob2.contact()))
        .await;
    bob2.send(&inv2.response(487, "Request Terminated", "t2", &bob2.contact()))
        .await;
    let ack = bob2.expect_request("ACK").await;
    assert_eq!(ack.one("CSeq"), "1 ACK");
    assert!(ack.one("To").ends_with(";tag=t2"));
    alice
        .silent(Duration::from_millis(300), |m| m.is_status(487))
        .await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn fork_forwards_every_2xx() {
    let (server, _dir) = start_with(|_| {}).await;
    let mut alice = Phone::tcp("alice", &server).await;
    let mut bob1 = Phone::tcp("bob", &server).await;
    let mut bob2 = Phone::tcp("bob", &server).await;
    alice.register().await;
    bob1.register().await;
    bob2.register().await;
    alice
        .send(&alice.invite("sip:bob@localhost", "fk2", "fork2", 1, ""))
        .await;
    let inv1 = bob1.expect_request("INVITE").await;
    let inv2 = bob2.expect_request("INVITE").await;
    bob1.send(&inv1.response(200, "OK", "u1", &bob1.contact()))
        .await;
    bob2.send(&inv2.response(200, "OK", "u2", &bob2.contact()))
        .await;
    let a = alice.expect_status(200, "INVITE").await;
    let b = alice.expect_status(200, "INVITE").await;
    let mut tags = [a.one("To"), b.one("To")];
    tags.sort();
    assert!(tags[0].ends_with(";tag=u1") && tags[1].ends_with(";tag=u2"));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn caller_cancels_and_gets_487_and_its_ack_is_absorbed() {
    let (server, _dir) = start_with(|_| {}).await;
    let mut alice = Phone::udp("alice", &server).await;
    let mut bob = Phone::tcp("bob", &server).await;
    alice.register().await;
    bob.register().await;
    let invite = alice.invite("sip:bob@localhost", "cx1", "cancel1", 1, "");
    alice.send(&invite).await;
    alice.expect_status(100, "INVITE").await;
    let inv = bob.expect_request("INVITE").await;
    bob.send(&inv.response(180, "Ringing", "c1", &bob.contact()))
        .await;
    alice.expect_status(180, "INVITE").await;

    // A retransmitted INVITE gets the last response again and is not forwarded.
    alice.send(&invite).await;
    alice.expect_status(180, "INVITE").await;
    bob.silent(Duration::from_millis(200), |m| m.is_request("INVITE"))
        .await;

    let cancel = format!(
        "CANCEL sip:bob@localhost SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\n\
         From: <sip:alice@localhost>;tag=f-cancel1\r\nTo: <sip:bob@localhost>\r\n\
         Call-ID: cancel1\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n",
        alice.via("cx1")
    );
    alice.send(&cancel).await;
    alice.expect_status(200, "CANCEL").await;
    let c = bob.expect_request("CANCEL").await;
    bob.send(&c.response(200, "OK", "c1", &bob.contact())).await;
    bob.send(&inv.response(487, "Request Terminated", "c1", &bob.contact()))
        .await;
    bob.expect_request("ACK").await;
    let term = alice.expect_status(487, "INVITE").await;
    assert!(term.one("To").ends_with(";tag=c1"));
    let ack = format!(
        "ACK sip:bob@localhost SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\n\
         From: <sip:alice@localhost>;tag=f-cancel1\r\nTo: {}\r\n\
         Call-ID: cancel1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n",
        alice.via("cx1"),
        term.one("To")
    );
    alice.send(&ack).await;
    // The 487 is not retransmitted after the ACK, and bob sees no second ACK.
    alice
        .silent(Duration::from_millis(300), |m| m.is_status(487))
        .await;
    bob.silent(Duration::from_millis(100), |m| m.is_request("ACK"))
        .await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn refusals_404_480_483_482() {
    let (server, _dir) = start_with(|_| {}).await;
    let mut alice = Phone::udp("alice", &server).await;
    alice.register().await;

    alice
        .send(&alice.invite("sip:nobody@localhost", "r1", "r1", 1, ""))
        .await;
    let r = alice.expect_status(404, "INVITE").await;
    assert!(r.one("To").contains(";tag="));
    // Every non-2xx final response is acknowledged hop by hop.
    alice
        .send(&in_dialog(
            "ACK",
            "sip:nobody@localhost",
            &[],
            &alice.via("r1"),
            ["<sip:alice@localhost>;tag=f-r1", &r.one("To"), "r1"],
            1,
        ))
        .await;

    alice
        .send(&alice.invite("sip:carol@localhost", "r2", "r2", 1, ""))
        .await;
    alice.expect_status(480, "INVITE").await;

    let zero = alice
        .invite("sip:carol@localhost", "r3", "r3", 1, "")
        .replace("Max-Forwards: 70", "Max-Forwards: 0");
    alice.send(&zero).await;
    alice.expect_status(483, "INVITE").await;

    // The same request again by another path (new branch): merged, 482.
    let merged = alice.invite("sip:carol@localhost", "r2b", "r2", 1, "");
    alice.send(&merged).await;
    alice.expect_status(482, "INVITE").await;

    // A foreign domain without upstream.
    alice
        .send(&alice.invite("sip:x@example.org", "r4", "r4", 1, ""))
        .await;
    alice.expect_status(404, "INVITE").await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn unanswered_invite_times_out_with_408() {
    let (server, _dir) = start_with(|c| {
        c.timers.sip_t1_ms = 10;
        c.timers.sip_t2_ms = 40;
    })
    .await;
    let mut alice = Phone::tcp("alice", &server).await;
    let mut bob = Phone::udp("bob", &server).await;
    alice.register().await;
    bob.register().await;
    alice
        .send(&alice.invite("sip:bob@localhost", "to1", "to1", 1, ""))
        .await;
    alice.expect_status(100, "INVITE").await;
    // Bob hears the INVITE and its UDP retransmissions but never answers.
    let first = bob.expect_request("INVITE").await;
    let again = bob.expect_request("INVITE").await;
    assert_eq!(first.0, again.0);
    let started = std::time::Instant::now();
    alice.expect_status(408, "INVITE").await;
    assert!(started.elapsed() < Duration::from_secs(2));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn foreign_domain_goes_upstream() {
    let upstream = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let up_addr = upstream.local_addr().unwrap();
    let (server, _dir) = start_with(|c| {
        c.sip.authenticate_calls = true;
        c.upstream = Some(UpstreamConfig {
            uri: format!("sip:{up_addr};lr"),
            outbound_proxy: false,
        });
    })
    .await;
    let mut alice = Phone::udp("alice", &server).await;
    alice.register().await;
    // Phones are challenged; the upstream is not.
    alice
        .send(&alice.invite("sip:dave@example.org", "up0", "up0", 1, ""))
        .await;
    let challenge = alice.expect_status(407, "INVITE").await;
    let creds = format!(
        "Proxy-Authorization: {}\r\n",
        answer(
            &challenge.one("Proxy-Authenticate"),
            "INVITE",
            "sip:dave@example.org",
            "alice"
        )
    );
    alice
        .send(&alice.invite("sip:dave@example.org", "up1", "up1", 1, &creds))
        .await;
    let mut pbx = Phone {
        user: "pbx".into(),
        link: Link::Udp(upstream),
        addr: up_addr,
        server: server.sip_udp_addrs()[0],
        seq: 0,
    };
    let inv = pbx.expect_request("INVITE").await;
    assert_eq!(inv.request_uri(), "sip:dave@example.org");
    assert_eq!(inv.all("Route"), vec![format!("<sip:{up_addr};lr>")]);
    assert_eq!(inv.all("Via").len(), 2);
    pbx.send(&inv.response(486, "Busy Here", "p1", "sip:pbx@example.org"))
        .await;
    let ack = pbx.expect_request("ACK").await;
    assert_eq!(ack.request_uri(), "sip:dave@example.org");
    alice.expect_status(486, "INVITE").await;

    // A user of the domain that is not configured here is the upstream's. The phone
    // reuses the nonce, counting on (the same count again would be a replay).
    let creds = format!(
        "Proxy-Authorization: {}\r\n",
        answer_nc(
            &challenge.one("Proxy-Authenticate"),
            "INVITE",
            "sip:zed@localhost",
            "alice",
            2
        )
    );
    alice
        .send(&alice.invite("sip:zed@localhost", "up2", "up2", 1, &creds))
        .await;
    let inv = pbx.expect_request("INVITE").await;
    assert_eq!(inv.request_uri(), "sip:zed@localhost");

    // What the upstream sends is never sent back to it.
    pbx.send(&pbx.invite("sip:zed@localhost", "up3", "up3", 1, ""))
        .await;
    pbx.expect_status(404, "INVITE").await;
    // The upstream reaches local users (unauthenticated).
    pbx.send(&pbx.invite("sip:alice@localhost", "up4", "up4", 1, ""))
        .await;
    let inv = alice.expect_request("INVITE").await;
    assert_eq!(inv.request_uri(), alice.contact());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn calls_are_challenged_with_407() {
    let (server, _dir) = start_with(|c| c.sip.authenticate_calls = true).await;
    let mut alice = Phone::udp("alice", &server).await;
    let mut bob = Phone::udp("bob", &server).await;
    alice.register().await;
    bob.register().await;
    alice
        .send(&alice.invite("sip:bob@localhost", "au1", "auth1", 1, ""))
        .await;
    let challenge = alice.expect_status(407, "INVITE").await;
    let values = challenge.all("Proxy-Authenticate");
    assert_eq!(values.len(), 2, "{}", challenge.0);
    bob.silent(Duration::from_millis(100), |m| m.is_request("INVITE"))
        .await;

    // Credentials of another user are refused.
    let wrong = answer(&values[0], "INVITE", "sip:bob@localhost", "bob");
    alice
        .send(&alice.invite(
            "sip:bob@localhost",
            "au2",
            "auth1",
            2,
            &format!("Proxy-Authorization: {wrong}\r\n"),
        ))
        .await;
    alice.expect_status(403, "INVITE").await;

    let creds = answer(&values[0], "INVITE", "sip:bob@localhost", "alice");
    alice
        .send(&alice.invite(
            "sip:bob@localhost",
            "au3",
            "auth1",
            3,
            &format!("Proxy-Authorization: {creds}\r\n"),
        ))
        .await;
    alice.expect_status(100, "INVITE").await;
    let inv = bob.expect_request("INVITE").await;
    assert_eq!(inv.one("CSeq"), "3 INVITE");
    // The credentials for the proxy's realm are not passed on.
    assert_eq!(inv.all("Proxy-Authorization"), Vec::<String>::new());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn require_is_for_the_callee_proxy_require_for_the_proxy() {
    let (server, _dir) = start_with(|_| {}).await;
    let mut alice = Phone::udp("alice", &server).await;
    let mut bob = Phone::udp("bob", &server).await;
    alice.register().await;
    bob.register().await;
    alice
        .send(&alice.invite("sip:bob@localhost", "rq1", "rq1", 1, "Require: 100rel\r\n"))
        .await;
    let inv = bob.expect_request("INVITE").await;
    assert_eq!(inv.one("Require"), "100rel");
    alice
        .send(&alice.invite(
            "sip:bob@localhost",
            "rq2",
            "rq2",
            1,
            "Proxy-Require: foo\r\n",
        ))
        .await;
    let r = alice.expect_status(420, "INVITE").await;
    assert_eq!(r.one("Unsupported"), "foo");
    server.shutdown().await.unwrap();
}

/// Unauthenticated requests with a To-tag of their own making, to an arbitrary address
/// and to a registered phone: none is relayed, each is refused once.
#[tokio::test]
async fn made_up_in_dialog_requests_are_not_relayed() {
    let (server, _dir) = start_with(|c| c.sip.authenticate_calls = true).await;
    let mut bob = Phone::udp("bob", &server).await;
    bob.register().await;
    let mut victim = Phone::udp("victim", &server).await;
    let mut attacker = Phone::udp("mallory", &server).await;
    let targets = [
        format!("sip:victim@{}", victim.addr),
        bob.contact(),
        "sip:bob@localhost".to_owned(),
    ];
    let mut n = 0;
    for target in &targets {
        for (method, extra) in [
            ("INVITE", ""),
            ("MESSAGE", "Content-Type: text/plain\r\n"),
            (
                "NOTIFY",
                "Event: check-sync;reboot=true\r\nSubscription-State: active\r\n",
            ),
            ("BYE", ""),
            ("OPTIONS", ""),
        ] {
            n += 1;
            let request = format!(
                "{method} {target} SIP/2.0\r\nVia: {}\r\nMax-Forwards: 70\r\n\
                 From: <sip:boss@localhost>;tag=m{n}\r\nTo: <{target}>;tag=made-up\r\n\
                 Call-ID: relay-{n}\r\nCSeq: 1 {method}\r\n{extra}Content-Length: 0\r\n\r\n",
                attacker.via(&format!("relay{n}"))
            );
            attacker.send(&request).await;
            let answer = attacker
                .expect(&format!("an answer to {method}"), |m| {
                    m.0.starts_with("SIP/2.0")
                })
                .await;
            // An OPTIONS to a local address-of-record is the server's own to answer.
            let own =
                method == "OPTIONS" && answer.is_status(200) && target.ends_with("@localhost");
            assert!(
                answer.is_status(403) || own,
                "{method} {target}: {}",
                answer.0
            );
        }
    }
    let none = |m: &Msg| !m.is_status(200) || m.cseq_method() != "REGISTER";
    victim.silent(Duration::from_millis(300), none).await;
    bob.silent(Duration::from_millis(100), none).await;
    // Nothing else (retransmissions) comes back to the attacker either.
    attacker.silent(Duration::from_millis(300), |_| true).await;
    server.shutdown().await.unwrap();
}

/// A sniffed Authorization header replayed from another host with another Contact,
/// and from the same host without a new nonce count: refused, and the victim keeps
/// its calls.
#[tokio::test]
async fn a_replayed_authorization_is_refused() {
    let (server, _dir) = start_with(|_| {}).await;
    let mut alice = Phone::udp("alice", &server).await;
    alice.seq += 1;
    alice.send(&alice.register_text(alice.seq, None)).await;
    let challenge = alice.expect_status(401, "REGISTER").await;
    let auth = answer(
        &challenge.one("WWW-Authenticate"),
        "REGISTER",
        "sip:localhost",
        "alice",
    );
    alice.seq += 1;
    let sniffed = alice.register_text(alice.seq, Some(auth));
    alice.send(&sniffed).await;
    alice.expect_status(200, "REGISTER").await;

    let mut thief = Phone::udp_at("alice", &server, "127.0.0.2:0").await;
    for seq in 10..20 {
        let replay = thief.register_text(seq, None).replace(
            "Content-Length: 0",
            &format!(
                "Authorization: {}\r\nContent-Length: 0",
                Msg(sniffed.clone()).one("Authorization")
            ),
        );
        thief.send(&replay).await;
        let answer = thief.expect_status(401, "REGISTER").await;
        assert!(
            answer.one("WWW-Authenticate").contains("stale=true"),
            "{}",
            answer.0
        );
    }
    // The same octets again from alice's own address: a replay too.
    alice.send(&sniffed.replace("CSeq: 2 ", "CSeq: 3 ")).await;
    alice.expect_status(401, "REGISTER").await;

    // Calls to alice still reach alice, and only her.
    let mut bob = Phone::udp("bob", &server).await;
    bob.register().await;
    bob.send(&bob.invite("sip:alice@localhost", "rp1", "replay-call", 1, ""))
        .await;
    let inv = alice.expect_request("INVITE").await;
    assert_eq!(inv.request_uri(), alice.contact());
    thief
        .silent(Duration::from_millis(200), |m| m.is_request("INVITE"))
        .await;
    server.shutdown().await.unwrap();
}

/// The 407 to an INVITE that is never ACKed is sent once: no retransmissions toward a
/// source that may be spoofed.
#[tokio::test]
async fn a_challenge_is_not_retransmitted() {
    let (server, _dir) = start_with(|c| c.sip.authenticate_calls = true).await;
    let mut alice = Phone::udp("alice", &server).await;
    alice.register().await;
    for i in 0..20 {
        alice
            .send(&alice.invite(
                "sip:bob@localhost",
                &format!("refl{i}"),
                &format!("refl{i}"),
                1,
                "",
            ))
            .await;
    }
    let mut challenges = 0;
    // T1 is 50 ms here: Timer G would have retransmitted each 407 five times by now.
    while let Some(m) = alice.recv_for(Duration::from_millis(1_500)).await {
        assert!(m.is_status(407), "{}", m.0);
        challenges += 1;
    }
    assert_eq!(challenges, 20);
    server.shutdown().await.unwrap();
}
