//! The uaCSTA session manager over real UDP: the server runs on loopback and the test
//! plays a CSTA-controlled phone with csta-core's `PhoneSession` and phone call model.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use csta_core::message::Decoded;
use csta_core::model::phone::Device as Model;
use csta_core::uacsta::phone::{PhoneConfig, PhoneEvent, PhoneSession};
use csta_core::{Edition, decode};
use csta_server::config::{CstaLine, SipUser};
use csta_server::{Config, Server};
use sip_lite::ids::IdGenerator;
use sip_lite::time::Instant as SipInstant;
use sip_lite::transaction::{self, ClientTx, Event, Received, Transactions, Tx};
use sip_lite::wire::{HeaderIndex, Message, Method};
use tokio::net::UdpSocket;
use tokio::time::{Instant, timeout};

const WAIT: Duration = Duration::from_secs(10);
const ME: &str = "sip:201@localhost";

type Phone = PhoneSession<8, 4096>;

/// The phone: its session, transactions and call model, on the real clock.
struct PhoneNode {
    t0: Instant,
    server: SocketAddr,
    txs: Box<Transactions<SocketAddr, 32, { 32 * 4096 }>>,
    ids: IdGenerator,
    s: Box<Phone>,
    device: Box<Model<4>>,
    client: Vec<(ClientTx, u32, Method<'static>)>,
    outbox: Vec<Vec<u8>>,
    /// Requests received from the server: method and CSTA root element.
    requests: Vec<String>,
    /// REGISTER responses, whole.
    registers: Vec<String>,
    log: Vec<String>,
}

impl PhoneNode {
    fn new(server: SocketAddr, me: SocketAddr) -> PhoneNode {
        let mut ids = IdGenerator::new([5; 32]);
        let contact = format!("sip:201@{me}");
        let via = format!("SIP/2.0/UDP {me}");
        let s = Box::new(Phone::new(&PhoneConfig::new(&contact, &via), &mut ids).unwrap());
        PhoneNode {
            t0: Instant::now(),
            server,
            txs: Box::new(Transactions::new(transaction::Config::DEFAULT)),
            ids,
            s,
            device: Box::new(Model::new(ME).unwrap()),
            client: Vec::new(),
            outbox: Vec::new(),
            requests: Vec::new(),
            registers: Vec::new(),
            log: Vec::new(),
        }
    }

    fn now(&self) -> SipInstant {
        SipInstant::from_millis(self.t0.elapsed().as_millis() as u64)
    }

    fn flush(&mut self) {
        let t = self.now();
        let mut buf = vec![0u8; 4096];
        loop {
            let mut moved = false;
            while let Some(e) = self.device.poll_event() {
                self.s.send_event(&e.message()).unwrap();
            }
            while self.device.poll_command().is_some() {}
            while let Some(out) = self.s.poll_request(t, &mut self.ids, &mut buf) {
                let out = out.unwrap();
                moved = true;
                if out.transaction {
                    let c = self
                        .txs
                        .send_request(t, self.server, false, &buf[..out.len])
                        .unwrap();
                    self.client.push((c, out.cseq, out.method));
                } else {
                    self.outbox.push(buf[..out.len].to_vec());
                }
            }
            while let Some(x) = self.txs.poll_transmit() {
                self.outbox.push(x.bytes.to_vec());
            }
            while let Some(e) = self.txs.poll_event() {
                if let Event::Timeout(Tx::Client(c)) = e
                    && let Some(p) = self.client.iter().position(|(x, _, _)| *x == c)
                {
                    let (_, cseq, m) = self.client.remove(p);
                    self.s.handle_request_failed(t, cseq, m);
                    moved = true;
                }
            }
            while let Some(ev) = self.s.poll_event() {
                moved = true;
                if let PhoneEvent::Ended(_) = ev {
                    self.device.stop_monitors();
                }
                self.log.push(format!("{ev:?}"));
            }
            if !moved {
                break;
            }
        }
    }

    fn receive(&mut self, bytes: &[u8]) {
        let t = self.now();
        let mut hs = [HeaderIndex::EMPTY; 64];
        let msg = Message::parse(bytes, &mut hs).unwrap();
        if msg.cseq().unwrap().method == Method::Register {
            self.registers
                .push(String::from_utf8(bytes.to_vec()).unwrap());
            return;
        }
        let mut buf = vec![0u8; 4096];
        match self.txs.receive(t, self.server, false, &msg).unwrap() {
            Received::Request(stx) => {
                let mut r = msg.method().unwrap().to_string();
                if let Ok(d) = decode(msg.body()) {
                    r = format!("{r} {}", d.message.name());
                }
                self.requests.push(r);
                let device = &mut self.device;
                let mut serve = |r: &Decoded<'_>, edition: Edition, out: &mut [u8]| {
                    device
                        .handle_request(&r.message)
                        .message()
                        .encode(edition, out)
                };
                let n = self
                    .s
                    .handle_request(t, &msg, &mut serve, &mut buf)
                    .unwrap();
                self.txs.respond(t, stx, &buf[..n]).unwrap();
            }
            Received::Ack => {
                self.requests.push("ACK".to_owned());
                let mut serve = |_: &Decoded<'_>, _: Edition, _: &mut [u8]| Ok(0);
                let _ = self.s.handle_request(t, &msg, &mut serve, &mut buf);
            }
            Received::Response(c) => {
                let _ = self.s.handle_response(t, &msg);
                if !msg.status().unwrap().is_provisional() {
                    self.client.retain(|(x, _, _)| *x != c);
                }
            }
            Received::Retransmitted2xx(_) | Received::Unmatched => {
                let _ = self.s.handle_response(t, &msg);
            }
            _ => {}
        }
        self.flush();
    }

    fn timeout(&mut self) -> Option<Duration> {
        let next = [self.txs.poll_timeout(), self.s.poll_timeout()]
            .into_iter()
            .flatten()
            .min()?;
        Some(Duration::from_millis(
            next.as_millis().saturating_sub(self.now().as_millis()),
        ))
    }

    fn handle_timeout(&mut self) {
        let t = self.now();
        if self.txs.poll_timeout().is_some_and(|d| d <= t) {
            self.txs.handle_timeout(t);
        }
        if self.s.poll_timeout().is_some_and(|d| d <= t) {
            self.s.handle_timeout(t);
        }
        self.flush();
    }

    /// Sends what is due, then waits for one datagram (or a timer) and takes it.
    async fn turn(&mut self, sock: &UdpSocket) {
        for b in self.outbox.drain(..) {
            sock.send_to(&b, self.server).await.unwrap();
        }
        let mut buf = vec![0u8; 65_536];
        let wait = self
            .timeout()
            .unwrap_or(Duration::from_millis(100))
            .min(Duration::from_millis(100));
        match tokio::time::timeout(wait, sock.recv_from(&mut buf)).await {
            Ok(Ok((n, from))) => {
                assert_eq!(from, self.server);
                self.receive(&buf[..n]);
            }
            Ok(Err(e)) => panic!("{e}"),
            Err(_) => self.handle_timeout(),
        }
        for b in self.outbox.drain(..) {
            sock.send_to(&b, self.server).await.unwrap();
        }
    }

    /// Runs until `done`, for at most [`WAIT`].
    async fn until(&mut self, sock: &UdpSocket, what: &str, done: impl Fn(&PhoneNode) -> bool) {
        let end = Instant::now() + WAIT;
        while !done(self) {
            assert!(
                Instant::now() < end,
                "{what}: {:?} {:?}",
                self.requests,
                self.log
            );
            self.turn(sock).await;
        }
    }
}

fn register(me: SocketAddr, cseq: u32, auth: Option<&str>) -> Vec<u8> {
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    format!(
        "REGISTER sip:localhost SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};rport;branch=z9hG4bK-reg-{cseq}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:201@localhost>;tag=r1\r\n\
         To: <sip:201@localhost>\r\nCall-ID: reg-1\r\nCSeq: {cseq} REGISTER\r\n\
         Contact: <sip:201@{me}>;expires=600\r\n{auth}Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// The Authorization answering the response's MD5 challenge.
fn answer(resp: &str) -> String {
    common::digest_answer(resp, "sip:localhost")
}

#[tokio::test]
async fn a_registered_phone_gets_its_session_over_udp_and_is_closed_at_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config::default();
    c.sip.udp = vec!["127.0.0.1:0".parse().unwrap()];
    c.sip.tcp = vec!["127.0.0.1:0".parse().unwrap()];
    c.data_dir = dir.path().to_owned();
    c.users = vec![SipUser {
        name: "201".into(),
        password: "secret201".into(),
    }];
    c.csta_lines = vec![CstaLine {
        aor: ME.into(),
        auth_user: "201".into(),
        auth_password: "secret201".into(),
        notify_mode: false,
        pickup_group: None,
    }];
    let server = Server::start(c).await.unwrap();
    let to = server.sip_udp_addrs()[0];
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = sock.local_addr().unwrap();
    let mut phone = PhoneNode::new(to, me);

    sock.send_to(&register(me, 1, None), to).await.unwrap();
    phone
        .until(&sock, "challenge", |p| !p.registers.is_empty())
        .await;
    assert!(phone.registers[0].starts_with("SIP/2.0 401 "));
    let auth = answer(&phone.registers[0]);
    sock.send_to(&register(me, 2, Some(&auth)), to)
        .await
        .unwrap();

    // The server opens the session, starts the monitor and reads the state.
    phone
        .until(&sock, "setup", |p| {
            p.requests.iter().any(|r| r == "INFO GetForwarding")
        })
        .await;
    assert!(phone.registers[1].starts_with("SIP/2.0 200 OK"));
    assert_eq!(
        phone.requests,
        [
            "INVITE RequestSystemStatus",
            "ACK",
            "INFO MonitorStart",
            "INFO SnapshotDevice",
            "INFO GetDoNotDisturb",
            "INFO GetForwarding",
        ]
    );
    assert!(phone.s.is_open());
    assert!(phone.device.is_monitored());

    // An event reaches the server, which accepts it.
    phone.device.handset_do_not_disturb(true).unwrap();
    phone.flush();
    phone
        .until(&sock, "event accepted", |p| p.s.is_idle())
        .await;
    assert!(
        !phone.log.iter().any(|l| l.contains("EventRejected")),
        "{:?}",
        phone.log
    );

    // Shutdown: MonitorStop, then BYE, while the phone keeps answering.
    let mut stopping = tokio::spawn(server.shutdown());
    let end = Instant::now() + WAIT;
    loop {
        tokio::select! {
            r = &mut stopping => {
                r.unwrap().unwrap();
                break;
            }
            () = phone.turn(&sock) => {}
        }
        assert!(Instant::now() < end, "{:?}", phone.requests);
    }
    assert_eq!(phone.requests[6..], ["INFO MonitorStop", "BYE"]);
    assert!(!phone.s.is_open());
    assert!(!phone.device.is_monitored());
    // Nothing more comes.
    let mut buf = [0u8; 2048];
    assert!(
        timeout(Duration::from_millis(300), sock.recv_from(&mut buf))
            .await
            .is_err()
    );
}
