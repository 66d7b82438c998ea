//! Pieces shared by the tests: the test's side of a uaCSTA session (`App`), and a
//! routing proxy that records the SIP messages it passes.

#![allow(dead_code)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use csta_core::decode;
use csta_core::uacsta::app::{AppConfig, AppEvent, AppSession, RequestId};
use phone_sim::runtime::PhoneHandle;
use sip_lite::ids::IdGenerator;
use sip_lite::time::Instant as SipInstant;
use sip_lite::transaction::{self, ClientTx, Event, Received, Transactions, Tx};
use sip_lite::wire::{
    HeaderIndex, HeaderName, Message, Method, SliceSink, StatusCode, Uri, Writer,
};
use tokio::net::UdpSocket;
use tokio::time::{Instant, timeout};

/// How long any one wait in a test may take.
pub(crate) const WAIT: Duration = Duration::from_secs(5);
const BUF: usize = 4096;

/// The test's side: a uaCSTA application session and a transaction layer on one
/// socket, which is also the phone's outbound proxy.
pub(crate) struct App {
    pub(crate) sock: UdpSocket,
    pub(crate) phone: SocketAddr,
    pub(crate) epoch: Instant,
    pub(crate) s: Box<AppSession<8, BUF>>,
    pub(crate) tx: Box<Transactions<SocketAddr, 32, { 32 * BUF }>>,
    pub(crate) ids: IdGenerator,
    pub(crate) client: HashMap<ClientTx, (u32, Method<'static>)>,
    pub(crate) established: bool,
    /// Answers by request, as the answer's element name.
    pub(crate) responses: HashMap<u32, String>,
    /// Events in arrival order, as element names.
    pub(crate) events: Vec<String>,
    /// Requests and responses outside the CSTA dialog (the phone's calls).
    pub(crate) other: Vec<Vec<u8>>,
}

impl App {
    pub(crate) async fn new(phone: &PhoneHandle, sock: UdpSocket) -> App {
        let me = sock.local_addr().unwrap();
        let target = format!("sip:{}@{}", phone.user(), phone.local_addr());
        let contact = format!("sip:csta@{me}");
        let via = format!("SIP/2.0/UDP {me}");
        let mut ids = IdGenerator::new([3; 32]);
        let config = AppConfig::new(&target, "sip:csta@localhost", &contact, &via);
        let s = Box::new(AppSession::new(&config, &mut ids).unwrap());
        App {
            sock,
            phone: phone.local_addr(),
            epoch: Instant::now(),
            s,
            tx: Box::new(Transactions::new(transaction::Config::DEFAULT)),
            ids,
            client: HashMap::new(),
            established: false,
            responses: HashMap::new(),
            events: Vec::new(),
            other: Vec::new(),
        }
    }

    fn now(&self) -> SipInstant {
        SipInstant::from_millis(self.epoch.elapsed().as_millis() as u64)
    }

    pub(crate) async fn flush(&mut self) {
        let now = self.now();
        let mut buf = [0u8; BUF];
        while let Some(out) = self.s.poll_request(now, &mut self.ids, &mut buf) {
            let out = out.unwrap();
            let bytes = &buf[..out.len];
            if out.transaction {
                let c = self.tx.send_request(now, self.phone, false, bytes).unwrap();
                self.client.insert(c, (out.cseq, out.method));
            } else {
                self.sock.send_to(bytes, self.phone).await.unwrap();
            }
        }
        let mut sends = Vec::new();
        while let Some(t) = self.tx.poll_transmit() {
            sends.push((t.peer, t.bytes.to_vec()));
        }
        for (to, b) in sends {
            self.sock.send_to(&b, to).await.unwrap();
        }
        while let Some(e) = self.tx.poll_event() {
            if let Event::Timeout(Tx::Client(c)) = e
                && let Some((cseq, m)) = self.client.remove(&c)
            {
                self.s.handle_request_failed(now, cseq, m);
            }
        }
        while let Some(ev) = self.s.poll_event() {
            match ev {
                AppEvent::Established { .. } => self.established = true,
                AppEvent::Response { id, body } => {
                    let name = decode(body).unwrap().message.name().to_owned();
                    self.responses.insert(id.0, name);
                }
                AppEvent::Event { body } => {
                    let name = decode(body).unwrap().message.name().to_owned();
                    self.events.push(name);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// Takes one datagram (or times out) and flushes.
    pub(crate) async fn step(&mut self) {
        let mut buf = vec![0u8; 65_536];
        let (n, from) = timeout(WAIT, self.sock.recv_from(&mut buf))
            .await
            .expect("the phone went quiet")
            .unwrap();
        let now = self.now();
        let mut hs = [HeaderIndex::EMPTY; 64];
        let msg = Message::parse(&buf[..n], &mut hs).unwrap();
        if msg.call_id().unwrap() != self.s.call_id() {
            self.other.push(buf[..n].to_vec());
            return;
        }
        let mut out = [0u8; BUF];
        match self.tx.receive(now, from, false, &msg).unwrap() {
            Received::Request(stx) => {
                let n = self.s.handle_request(now, &msg, &mut out).unwrap();
                self.tx.respond(now, stx, &out[..n]).unwrap();
            }
            Received::Ack => {
                let _ = self.s.handle_request(now, &msg, &mut out);
            }
            Received::Response(c) => {
                let _ = self.s.handle_response(now, &msg);
                if msg.status().is_some_and(|s| s.is_final()) {
                    self.client.remove(&c);
                }
            }
            Received::Retransmitted2xx(_) | Received::Unmatched => {
                let _ = self.s.handle_response(now, &msg);
            }
            _ => {}
        }
        self.flush().await;
    }

    pub(crate) async fn until(&mut self, what: &str, pred: impl Fn(&App) -> bool) {
        let end = Instant::now() + WAIT;
        while !pred(self) {
            assert!(Instant::now() < end, "no {what}");
            self.step().await;
        }
    }

    pub(crate) async fn request(&mut self, xml: &str) -> String {
        let id: RequestId = self
            .s
            .send(&decode(xml.as_bytes()).unwrap().message)
            .unwrap();
        self.flush().await;
        self.until(xml, |a| a.responses.contains_key(&id.0)).await;
        self.responses[&id.0].clone()
    }

    /// The next message outside the CSTA dialog, as bytes.
    pub(crate) async fn next_other(&mut self) -> Vec<u8> {
        self.until("message outside the dialog", |a| !a.other.is_empty())
            .await;
        self.other.remove(0)
    }

    pub(crate) async fn events_until(&mut self, n: usize) -> Vec<String> {
        self.until("events", |a| a.events.len() >= n).await;
        std::mem::take(&mut self.events)
    }

    /// Answers a request outside the dialog (statelessly, as a proxy's far end would).
    pub(crate) async fn answer(&mut self, request: &[u8], status: StatusCode, sdp: bool) {
        let mut hs = [HeaderIndex::EMPTY; 64];
        let msg = Message::parse(request, &mut hs).unwrap();
        let mut buf = [0u8; BUF];
        let mut w = Writer::response_to(
            SliceSink::new(&mut buf),
            &msg,
            status,
            status.default_reason(),
            Some("far-tag"),
        )
        .unwrap();
        w.header("Contact", "<sip:202@127.0.0.1:9>").unwrap();
        let body = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 9 RTP/AVP 0\r\n";
        let n = if sdp {
            w.header("Content-Type", "application/sdp").unwrap();
            w.finish(body.as_bytes()).unwrap().len()
        } else {
            w.finish(b"").unwrap().len()
        };
        self.sock.send_to(&buf[..n], self.phone).await.unwrap();
    }
}

pub(crate) fn first_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .next()
        .unwrap()
        .to_owned()
}

pub(crate) type Trace = Arc<Mutex<Vec<String>>>;

/// Routes by user; records `X>Y summary` with phone letters.
pub(crate) async fn proxy(
    phones: Vec<(&'static str, &'static str, SocketAddr)>,
) -> (SocketAddr, Trace) {
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
