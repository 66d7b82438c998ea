//! A phone-sim driven by a csta-core `AppSession` over real UDP: the test plays the
//! server (uaCSTA computing function and the phone's outbound proxy).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use csta_core::decode;
use csta_core::uacsta::app::{AppConfig, AppEvent, AppSession, RequestId};
use phone_sim::report::Report;
use phone_sim::runtime::{PhoneHandle, PhoneSpec, Tagged, spawn};
use sip_lite::ids::IdGenerator;
use sip_lite::time::Instant as SipInstant;
use sip_lite::transaction::{self, ClientTx, Event, Received, Transactions, Tx};
use sip_lite::wire::{HeaderIndex, HeaderName, Message, Method, SliceSink, StatusCode, Writer};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

const WAIT: Duration = Duration::from_secs(5);
const BUF: usize = 4096;

/// The test's side: a uaCSTA application session and a transaction layer on one
/// socket, which is also the phone's outbound proxy.
struct App {
    sock: UdpSocket,
    phone: SocketAddr,
    epoch: Instant,
    s: Box<AppSession<8, BUF>>,
    tx: Box<Transactions<SocketAddr, 32, BUF>>,
    ids: IdGenerator,
    client: HashMap<ClientTx, (u32, Method<'static>)>,
    established: bool,
    /// Answers by request, as the answer's element name.
    responses: HashMap<u32, String>,
    /// Events in arrival order, as element names.
    events: Vec<String>,
    /// Requests and responses outside the CSTA dialog (the phone's calls).
    other: Vec<Vec<u8>>,
}

impl App {
    async fn new(phone: &PhoneHandle, sock: UdpSocket) -> App {
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

    async fn flush(&mut self) {
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
    async fn step(&mut self) {
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

    async fn until(&mut self, what: &str, pred: impl Fn(&App) -> bool) {
        let end = Instant::now() + WAIT;
        while !pred(self) {
            assert!(Instant::now() < end, "no {what}");
            self.step().await;
        }
    }

    async fn request(&mut self, xml: &str) -> String {
        let id: RequestId = self
            .s
            .send(&decode(xml.as_bytes()).unwrap().message)
            .unwrap();
        self.flush().await;
        self.until(xml, |a| a.responses.contains_key(&id.0)).await;
        self.responses[&id.0].clone()
    }

    /// The next message outside the CSTA dialog, as bytes.
    async fn next_other(&mut self) -> Vec<u8> {
        self.until("message outside the dialog", |a| !a.other.is_empty())
            .await;
        self.other.remove(0)
    }

    async fn events_until(&mut self, n: usize) -> Vec<String> {
        self.until("events", |a| a.events.len() >= n).await;
        std::mem::take(&mut self.events)
    }

    /// Answers a request outside the dialog (statelessly, as a proxy's far end would).
    async fn answer(&mut self, request: &[u8], status: StatusCode, sdp: bool) {
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

fn first_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .next()
        .unwrap()
        .to_owned()
}

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
