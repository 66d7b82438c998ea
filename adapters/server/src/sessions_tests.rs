//! The session manager driven through the core on a virtual clock, against a phone
//! made of csta-core's `PhoneSession` and phone-side call model.

use std::collections::BTreeMap;

use csta_core::message::Decoded;
use csta_core::model::phone::Device as Model;
use csta_core::uacsta::phone::{PhoneConfig, PhoneEvent, PhoneSession};
use sip_lite::digest::{Secret, Verifier};
use sip_lite::transaction::{ClientTx, Event, Received, Transactions, Tx};
use sip_lite::wire::{Credentials, HeaderIndex, SliceSink, Writer};

use super::*;
use crate::core::{Core, Passwords};
use crate::registrar::Registrar;

const SERVER: &str = "127.0.0.1:5060";
const PHONE: &str = "192.0.2.7:5062";
const ME: &str = "sip:201@localhost";
const LATENCY: Duration = Duration::from_millis(10);
const PHONE_REALM: &str = "phone";
const PHONE_NONCE: &str = "n0nce";

type Phone = PhoneSession<8, 4096>;

fn server() -> SocketAddr {
    SERVER.parse().unwrap()
}

fn phone_addr() -> SocketAddr {
    PHONE.parse().unwrap()
}

/// `INVITE RequestSystemStatus` for a request, `200 INFO MonitorStartResponse` for a
/// response: method, status, and the CSTA body's root element.
fn summary(bytes: &[u8]) -> String {
    let mut hs = [HeaderIndex::EMPTY; 64];
    let msg = Message::parse(bytes, &mut hs).unwrap();
    let cseq = msg.cseq().unwrap();
    let mut s = match msg.status() {
        Some(st) => format!("{} {}", st.0, cseq.method),
        None => format!("{}", cseq.method),
    };
    if let Ok(d) = decode(msg.body()) {
        s.push(' ');
        s.push_str(d.message.name());
    }
    s
}

struct PhoneNode {
    t0: Instant,
    txs: Box<Transactions<SocketAddr, 16, { 16 * 4096 }>>,
    ids: IdGenerator,
    s: Box<Phone>,
    device: Box<Model<4>>,
    client: Vec<(ClientTx, u32, Method<'static>)>,
    outbox: Vec<Vec<u8>>,
    log: Vec<String>,
    /// Challenge INVITEs without credentials with 401.
    challenge: bool,
    /// Authorization values of the requests received.
    authorizations: Vec<String>,
    /// REGISTER responses received.
    registered: Vec<u16>,
}

impl PhoneNode {
    fn new(t0: Instant, seed: u8) -> PhoneNode {
        let mut ids = IdGenerator::new([seed; 32]);
        let config = PhoneConfig::new("sip:201@192.0.2.7:5062", "SIP/2.0/UDP 192.0.2.7:5062");
        let s = Box::new(Phone::new(&config, &mut ids).unwrap());
        PhoneNode {
            t0,
            txs: Box::new(Transactions::new(transaction::Config::DEFAULT)),
            ids,
            s,
            device: Box::new(Model::new(ME).unwrap()),
            client: Vec::new(),
            outbox: Vec::new(),
            log: Vec::new(),
            challenge: false,
            authorizations: Vec::new(),
            registered: Vec::new(),
        }
    }

    /// Loses every session state, as a reboot does.
    fn reboot(&mut self, seed: u8) {
        let fresh = PhoneNode::new(self.t0, seed);
        self.txs = fresh.txs;
        self.s = fresh.s;
        self.device = fresh.device;
        self.client.clear();
        self.ids = fresh.ids;
    }

    fn sip(&self, now: Instant) -> SipInstant {
        SipInstant::from_millis(now.duration_since(self.t0).as_millis() as u64)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        [self.txs.poll_timeout(), self.s.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .map(|t| self.t0 + Duration::from_millis(t.as_millis()))
    }

    fn handle_timeout(&mut self, now: Instant) {
        let t = self.sip(now);
        if self.txs.poll_timeout().is_some_and(|d| d <= t) {
            self.txs.handle_timeout(t);
        }
        if self.s.poll_timeout().is_some_and(|d| d <= t) {
            self.s.handle_timeout(t);
        }
        self.flush(now);
    }

    fn flush(&mut self, now: Instant) {
        let t = self.sip(now);
        let mut buf = vec![0u8; 4096];
        loop {
            let mut moved = false;
            while let Some(e) = self.device.poll_event() {
                // Without a dialog (NOTIFY mode) the phone has nowhere to send them.
                let _ = self.s.send_event(&e.message());
            }
            while self.device.poll_command().is_some() {}
            while let Some(out) = self.s.poll_request(t, &mut self.ids, &mut buf) {
                let out = out.unwrap();
                moved = true;
                if out.transaction {
                    let c = self
                        .txs
                        .send_request(t, server(), false, &buf[..out.len])
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

    fn receive(&mut self, now: Instant, bytes: &[u8]) {
        let t = self.sip(now);
        let mut hs = [HeaderIndex::EMPTY; 64];
        let msg = Message::parse(bytes, &mut hs).unwrap();
        if msg.cseq().unwrap().method == Method::Register {
            self.registered.push(msg.status().unwrap().0);
            return;
        }
        if let Some(a) = msg.header(HeaderName::Authorization) {
            self.authorizations.push(a.to_owned());
        }
        let mut buf = vec![0u8; 4096];
        match self.txs.receive(t, server(), false, &msg).unwrap() {
            Received::Request(stx) => {
                let n = if self.challenge
                    && msg.method() == Some(Method::Invite)
                    && msg.header(HeaderName::Authorization).is_none()
                {
                    let mut w = Writer::response_to(
                        SliceSink::new(&mut buf),
                        &msg,
                        StatusCode(401),
                        "",
                        Some("p401"),
                    )
                    .unwrap();
                    w.header(
                        "WWW-Authenticate",
                        &format!(
                            "Digest realm=\"{PHONE_REALM}\", nonce=\"{PHONE_NONCE}\", \
                             algorithm=MD5, qop=\"auth\""
                        ),
                    )
                    .unwrap();
                    w.finish(b"").unwrap().len()
                } else {
                    let device = &mut self.device;
                    let mut serve = |r: &Decoded<'_>, edition: Edition, out: &mut [u8]| {
                        device
                            .handle_request(&r.message)
                            .message()
                            .encode(edition, out)
                    };
                    self.s
                        .handle_request(t, &msg, &mut serve, &mut buf)
                        .unwrap()
                };
                self.txs.respond(t, stx, &buf[..n]).unwrap();
            }
            Received::Ack => {
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
        self.flush(now);
    }
}

struct Sim {
    t0: Instant,
    now: Instant,
    core: Core,
    phone: PhoneNode,
    /// Datagrams in flight: arrival, sequence; to the phone?, octets.
    queue: BTreeMap<(Instant, u64), (bool, Vec<u8>)>,
    seq: u64,
    /// The phone is unreachable: everything to and from it is lost.
    cut: bool,
    /// News for the hub, written out.
    news: Vec<String>,
    /// Every message sent: milliseconds since the start, direction, summary.
    trace: Vec<String>,
    /// Datagrams the core sent elsewhere than the phone.
    misrouted: Vec<SocketAddr>,
    register_cseq: u32,
    register_call_id: String,
    /// Each new INVITE (by Call-ID): when it was first sent, in milliseconds.
    invites: Vec<(u128, String)>,
}

fn settings() -> Settings {
    Settings {
        jitter_per_mille: 0,
        seed: [3; 32],
        listen: vec![(TransportKind::Udp, server())],
        ..Settings::default()
    }
}

fn line(notify: bool) -> CstaLine {
    CstaLine {
        aor: ME.to_owned(),
        auth_user: "201auth".to_owned(),
        auth_password: "pw201".to_owned(),
        notify_mode: notify,
        pickup_group: None,
    }
}

impl Sim {
    fn new(notify: bool) -> Sim {
        Sim::with_settings(notify, settings())
    }

    fn with_settings(notify: bool, settings: Settings) -> Sim {
        let t0 = Instant::now();
        let registrar = Registrar::with_secret(
            crate::registrar::Config {
                authenticate: false,
                ..crate::registrar::Config::default()
            },
            Passwords::new(),
            [7; 32],
        )
        .unwrap();
        let mut core = Core::new(65_535, registrar, (t0, 1_800_000_000));
        core.set_sessions(Sessions::new(settings, &[line(notify)], t0).unwrap());
        Sim {
            t0,
            now: t0,
            core,
            phone: PhoneNode::new(t0, 9),
            queue: BTreeMap::new(),
            seq: 0,
            cut: false,
            news: Vec::new(),
            trace: Vec::new(),
            misrouted: Vec::new(),
            register_cseq: 0,
            register_call_id: "reg-1".to_owned(),
            invites: Vec::new(),
        }
    }

    fn ms(&self) -> u128 {
        self.now.duration_since(self.t0).as_millis()
    }

    fn post(&mut self) {
        while let Some(out) = self.core.poll_transmit() {
            if out.peer != phone_addr() {
                self.misrouted.push(out.peer);
                continue;
            }
            assert_eq!(out.transport, TransportKind::Udp);
            assert_eq!(out.local, Some(server()));
            self.send(true, out.data);
        }
        let out: Vec<Vec<u8>> = self.phone.outbox.drain(..).collect();
        for b in out {
            self.send(false, b);
        }
        self.news.append(&mut self.core.news_log);
    }

    fn send(&mut self, to_phone: bool, bytes: Vec<u8>) {
        let dir = if to_phone { "A>P" } else { "P>A" };
        let mut hs = [HeaderIndex::EMPTY; 64];
        let msg = Message::parse(&bytes, &mut hs).unwrap();
        if to_phone && msg.method() == Some(Method::Invite) && !msg.body().is_empty() {
            let call_id = msg.call_id().unwrap().to_owned();
            if !self.invites.iter().any(|(_, c)| *c == call_id) {
                self.invites.push((self.ms(), call_id));
            }
        }
        self.trace
            .push(format!("{} {dir} {}", self.ms(), summary(&bytes)));
        if self.cut {
            return;
        }
        self.seq += 1;
        self.queue
            .insert((self.now + LATENCY, self.seq), (to_phone, bytes));
    }

    /// Makes the next thing happen; `false` when nothing is left.
    fn step(&mut self) -> bool {
        self.post();
        let next = [
            self.queue.keys().next().map(|k| k.0),
            self.core.poll_timeout(),
            self.phone.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some(at) = next else {
            return false;
        };
        self.now = self.now.max(at);
        if let Some((&key, _)) = self.queue.iter().next()
            && key.0 <= self.now
        {
            let (to_phone, bytes) = self.queue.remove(&key).unwrap();
            if to_phone {
                self.phone.receive(self.now, &bytes);
            } else {
                let source = Source {
                    transport: TransportKind::Udp,
                    peer: phone_addr(),
                    local: server(),
                    conn: None,
                };
                self.core.handle_input(self.now, source, &bytes);
            }
        } else {
            if self.core.poll_timeout().is_some_and(|t| t <= self.now) {
                self.core.handle_timeout(self.now);
            }
            if self.phone.poll_timeout().is_some_and(|t| t <= self.now) {
                self.phone.handle_timeout(self.now);
            }
        }
        self.post();
        true
    }

    fn run_until(&mut self, what: &str, limit: Duration, done: impl Fn(&Sim) -> bool) {
        let end = self.now + limit;
        while !done(self) {
            assert!(
                self.step() && self.now <= end,
                "{what}: not by {:?}\nnews {:?}\nphone {:?}\n{:#?}",
                limit,
                self.news,
                self.phone.log,
                self.trace
            );
        }
    }

    /// Runs for `span` of virtual time.
    fn run_for(&mut self, span: Duration) {
        let end = self.now + span;
        loop {
            self.post();
            let next = [
                self.queue.keys().next().map(|k| k.0),
                self.core.poll_timeout(),
                self.phone.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            match next {
                Some(at) if at <= end => {
                    self.step();
                }
                _ => break,
            }
        }
        self.now = end;
    }

    /// The phone registers (expires in seconds).
    fn register(&mut self, expires: u32) {
        self.register_cseq += 1;
        let text = format!(
            "REGISTER sip:localhost SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.7:5062;rport;branch=z9hG4bK-{}-{}\r\n\
             Max-Forwards: 70\r\nFrom: <sip:201@localhost>;tag=r1\r\n\
             To: <sip:201@localhost>\r\nCall-ID: {}\r\nCSeq: {} REGISTER\r\n\
             Contact: <sip:201@192.0.2.7:5062>;expires={expires}\r\nContent-Length: 0\r\n\r\n",
            self.register_call_id, self.register_cseq, self.register_call_id, self.register_cseq
        );
        self.send(false, text.into_bytes());
    }

    fn online(&mut self) {
        self.register(3600);
        self.run_until("online", Duration::from_secs(5), |s| {
            s.news.iter().any(|n| n.starts_with("online"))
        });
    }

    fn take_news(&mut self) -> Vec<String> {
        std::mem::take(&mut self.news)
    }

    /// The hub passes `xml` to the phone.
    fn send_request(&mut self, device: &str, xml: &str) -> Result<RequestId, SendError> {
        let d = decode(xml.as_bytes()).unwrap();
        let now = self.now;
        self.core.devices().send(now, device, &d.message)
    }

    fn status(&mut self) -> DeviceStatus {
        self.core.devices().status("201")
    }

    /// When each new INVITE (by Call-ID) was first sent, in milliseconds.
    fn invites(&self) -> Vec<u128> {
        self.invites.iter().map(|(t, _)| *t).collect()
    }
}

fn run(test: fn()) {
    // The sessions and the phone keep fixed-size tables: room for them.
    let t = std::thread::Builder::new()
        .stack_size(32 << 20)
        .spawn(test)
        .unwrap();
    if let Err(p) = t.join() {
        std::panic::resume_unwind(p);
    }
}

const MAKE_CALL: &str = "<MakeCall><callingDevice>sip:201@localhost</callingDevice>\
    <calledDirectoryNumber>202</calledDirectoryNumber>\
    <autoOriginate>doNotPrompt</autoOriginate></MakeCall>";
const GET_DND: &str = "<GetDoNotDisturb><device>201</device></GetDoNotDisturb>";

#[test]
fn register_opens_the_session_monitors_and_reads_the_state() {
    run(|| {
        let mut sim = Sim::new(false);
        assert_eq!(sim.status(), DeviceStatus::Offline);
        sim.online();
        assert_eq!(
            sim.trace,
            [
                "0 P>A REGISTER",
                "10 A>P 200 REGISTER",
                "10 A>P INVITE RequestSystemStatus",
                "20 P>A 200 INVITE RequestSystemStatusResponse",
                "30 A>P ACK",
                "30 A>P INFO MonitorStart",
                "40 P>A 200 INFO MonitorStartResponse",
                "50 A>P INFO SnapshotDevice",
                "60 P>A 200 INFO SnapshotDeviceResponse",
                "70 A>P INFO GetDoNotDisturb",
                "80 P>A 200 INFO GetDoNotDisturbResponse",
                "90 A>P INFO GetForwarding",
                "100 P>A 200 INFO GetForwardingResponse",
            ]
        );
        assert_eq!(sim.take_news(), ["online sip:201@localhost"]);
        assert_eq!(sim.phone.registered, [200]);
        assert!(sim.misrouted.is_empty());
        assert_eq!(sim.status(), DeviceStatus::Online);
        let d = sim.core.devices();
        assert_eq!(d.resolve("tel:201"), Some(ME));
        assert_eq!(d.resolve("sip:201@elsewhere"), Some(ME));
        assert_eq!(d.resolve("202"), None);
        assert_eq!(d.all(), [ME]);
        let v = d.view("201").unwrap();
        assert_eq!(v.monitor_cross_ref_id(), Some("1"));
        assert_eq!(v.dnd(), Some(false));
        assert_eq!(v.calls().count(), 0);
        assert!(d.view("202").is_none());
        assert_eq!(d.status("202"), DeviceStatus::Offline);
        assert!(sim.phone.device.is_monitored());
    });
}

#[test]
fn events_update_the_view_and_reach_the_hub() {
    run(|| {
        let mut sim = Sim::new(false);
        sim.online();
        sim.take_news();
        sim.phone.device.handset_do_not_disturb(true).unwrap();
        sim.phone.device.incoming("sip:202@localhost", ME).unwrap();
        let now = sim.now;
        sim.phone.flush(now);
        sim.run_until("events", Duration::from_secs(2), |s| s.news.len() == 2);
        assert_eq!(
            sim.take_news(),
            [
                "event sip:201@localhost DoNotDisturbEvent",
                "event sip:201@localhost DeliveredEvent"
            ]
        );
        let v = sim.core.devices().view(ME).unwrap().clone();
        assert_eq!(v.dnd(), Some(true));
        let calls: Vec<String> = v
            .calls()
            .map(|c| {
                format!(
                    "{} {} {:?}",
                    c.call_id(),
                    c.local_state().as_str(),
                    c.peer()
                )
            })
            .collect();
        assert_eq!(calls, ["1 alerting Some(\"sip:202@localhost\")"]);
    });
}

#[test]
fn requests_from_the_hub_are_answered() {
    run(|| {
        let mut sim = Sim::new(false);
        assert_eq!(sim.send_request("201", MAKE_CALL), Err(SendError::Offline));
        assert_eq!(
            sim.send_request("999", MAKE_CALL),
            Err(SendError::UnknownDevice)
        );
        sim.online();
        sim.take_news();
        let id = sim.send_request("201", MAKE_CALL).unwrap();
        sim.run_until("answer", Duration::from_secs(2), |s| s.news.len() == 2);
        assert_eq!(
            sim.take_news(),
            [
                format!("answer sip:201@localhost {} MakeCallResponse", id.0),
                "event sip:201@localhost ServiceInitiatedEvent".to_owned(),
            ]
        );
        let v = sim.core.devices().view(ME).unwrap();
        assert_eq!(
            v.calls()
                .map(|c| c.local_state().as_str())
                .collect::<Vec<_>>(),
            ["initiated"]
        );
        // The queue holds QUEUE requests; the next is refused until answers come.
        let mut ids = Vec::new();
        let err = loop {
            match sim.send_request("201", GET_DND) {
                Ok(id) => ids.push(id),
                Err(e) => break e,
            }
        };
        assert_eq!(err, SendError::Busy);
        assert_eq!(ids.len(), QUEUE);
        // Over UDP each answered INFO keeps its transaction for T4 (5 s), but gives
        // it up to the next request: the requests beyond the free transactions (the
        // state reads and the MakeCall above still linger) do not wait for T4.
        sim.run_until("answers", Duration::from_secs(1), |s| s.news.len() == QUEUE);
        let want: Vec<String> = ids
            .iter()
            .map(|id| format!("answer sip:201@localhost {} GetDoNotDisturbResponse", id.0))
            .collect();
        assert_eq!(sim.take_news(), want);
        assert!(sim.send_request("201", GET_DND).is_ok());
    });
}

#[test]
fn a_rebooted_phone_gets_a_new_session() {
    run(|| {
        let mut sim = Sim::new(false);
        sim.online();
        sim.take_news();
        // Rebooted and registered again with a new Call-ID: the old session is closed
        // (the phone no longer knows it: 481) and a new one opened.
        sim.phone.reboot(10);
        sim.register_call_id = "reg-2".to_owned();
        sim.register_cseq = 0;
        let mark = sim.trace.len();
        sim.register(3600);
        sim.run_until("online again", Duration::from_secs(5), |s| {
            s.news.len() == 2
        });
        assert_eq!(
            sim.take_news(),
            ["offline sip:201@localhost", "online sip:201@localhost"]
        );
        let t: Vec<&str> = sim.trace[mark..]
            .iter()
            .map(|l| l.split_once(' ').unwrap().1)
            .collect();
        assert_eq!(
            t[..6],
            [
                "P>A REGISTER",
                "A>P 200 REGISTER",
                "A>P BYE",
                "A>P INVITE RequestSystemStatus",
                "P>A 481 BYE",
                "P>A 200 INVITE RequestSystemStatusResponse",
            ]
        );
        assert_eq!(sim.status(), DeviceStatus::Online);
        sim.run_for(Duration::from_secs(1));
        assert!(!sim.core.devices().is_idle());
        assert_eq!(
            sim.core.devices().sessions.len(),
            1,
            "the old session is gone"
        );
    });
}

#[test]
fn a_481_loses_the_session_and_it_is_re_established_after_a_second() {
    run(|| {
        let mut sim = Sim::new(false);
        sim.online();
        sim.take_news();
        // Rebooted without registering yet: the next request meets 481.
        sim.phone.reboot(10);
        let id = sim.send_request("201", GET_DND).unwrap();
        let lost_at = sim.now + LATENCY * 2;
        sim.run_until("lost", Duration::from_secs(2), |s| s.news.len() == 2);
        assert_eq!(
            sim.take_news(),
            [
                format!("answer sip:201@localhost {} failed", id.0),
                "offline sip:201@localhost".to_owned()
            ]
        );
        assert_eq!(sim.now, lost_at);
        assert_eq!(sim.status(), DeviceStatus::Offline);
        assert_eq!(sim.send_request("201", GET_DND), Err(SendError::Offline));
        sim.run_until("online again", Duration::from_secs(5), |s| {
            s.news.len() == 1
        });
        assert_eq!(sim.take_news(), ["online sip:201@localhost"]);
        let invites = sim.invites();
        assert_eq!(invites.len(), 2);
        assert_eq!(
            invites[1],
            lost_at.duration_since(sim.t0).as_millis() + 1000,
            "{:#?}",
            sim.trace
        );
    });
}

#[test]
fn a_vanished_phone_is_retried_with_back_off_and_open_requests_fail() {
    run(|| {
        let mut sim = Sim::new(false);
        sim.online();
        sim.take_news();
        sim.cut = true;
        let id = sim.send_request("201", GET_DND).unwrap();
        let sent = sim.ms();
        sim.run_until("lost", Duration::from_secs(40), |s| s.news.len() == 2);
        assert_eq!(
            sim.take_news(),
            [
                format!("answer sip:201@localhost {} failed", id.0),
                "offline sip:201@localhost".to_owned()
            ]
        );
        // The INFO's transaction timed out after 64*T1.
        assert_eq!(sim.ms(), sent + 32_000);
        let lost = sim.ms();
        sim.run_for(Duration::from_secs(200));
        let invites = sim.invites();
        // The first INVITE opened the session; then one after each back-off, each
        // failing after 64*T1: 1 s, 2 s, 4 s, 8 s, 16 s.
        let retries: Vec<u128> = invites[1..].to_vec();
        assert_eq!(retries[0], lost + 1000);
        let gaps: Vec<u128> = retries.windows(2).map(|w| w[1] - w[0]).collect();
        assert_eq!(gaps, [34_000, 36_000, 40_000, 48_000], "{retries:?}");
        assert!(sim.news.is_empty(), "{:?}", sim.news);
        // The phone comes back and refreshes its registration: retried at once.
        sim.cut = false;
        sim.phone.reboot(11);
        // Between two attempts (the sixth waits 32 s).
        assert_eq!(sim.ms(), lost + 200_000);
        assert_eq!(*sim.invites().last().unwrap(), lost + 159_000);
        sim.register(3600);
        let at = sim.ms();
        sim.run_until("online", Duration::from_secs(5), |s| s.news.len() == 1);
        assert_eq!(sim.take_news(), ["online sip:201@localhost"]);
        assert_eq!(*sim.invites().last().unwrap(), at + 10);
    });
}

#[test]
fn back_off_jitter_stays_within_its_bounds_and_is_seeded() {
    let mut s = Sessions::new(
        Settings {
            jitter_per_mille: 250,
            ..settings()
        },
        &[line(false)],
        Instant::now(),
    )
    .unwrap();
    let mut delays = Vec::new();
    for _ in 0..12 {
        delays.push(s.backoff(0).as_millis());
    }
    let bases: [u32; 12] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300, 300];
    for (d, b) in delays.iter().zip(bases) {
        let b = u128::from(b) * 1000;
        assert!((b..=b + b / 4).contains(d), "{d} for {b}");
    }
    // The same seed gives the same delays.
    let mut again = Sessions::new(
        Settings {
            jitter_per_mille: 250,
            ..settings()
        },
        &[line(false)],
        Instant::now(),
    )
    .unwrap();
    let second: Vec<u128> = (0..12).map(|_| again.backoff(0).as_millis()).collect();
    assert_eq!(delays, second);
    assert_ne!(delays[0], 1000, "jitter applies");
}

#[test]
fn unregister_and_expiry_close_the_session() {
    run(|| {
        let mut sim = Sim::new(false);
        sim.online();
        sim.take_news();
        let mark = sim.trace.len();
        sim.register(0);
        sim.run_until("offline", Duration::from_secs(2), |s| {
            s.core.sessions_idle()
        });
        assert_eq!(sim.take_news(), ["offline sip:201@localhost"]);
        let t: Vec<&str> = sim.trace[mark..]
            .iter()
            .map(|l| l.split_once(' ').unwrap().1)
            .collect();
        assert_eq!(
            t,
            ["P>A REGISTER", "A>P 200 REGISTER", "A>P BYE", "P>A 200 BYE"]
        );
        assert_eq!(sim.status(), DeviceStatus::Offline);

        // A registration that runs out: closed at its expiry.
        sim.register(60);
        let start = sim.now;
        sim.run_until("online", Duration::from_secs(5), |s| s.news.len() == 1);
        sim.take_news();
        sim.run_until("expired", Duration::from_secs(70), |s| {
            s.core.sessions_idle()
        });
        assert_eq!(sim.take_news(), ["offline sip:201@localhost"]);
        let after = sim.now.duration_since(start).as_secs();
        // Registration times are whole seconds.
        assert!((59..=61).contains(&after), "{after}");
        // Nothing is retried for a line without binding.
        sim.run_for(Duration::from_secs(600));
        assert!(sim.news.is_empty());
        assert_eq!(sim.invites().len(), 2);
    });
}

#[test]
fn notify_mode_phones_take_requests_as_notify() {
    run(|| {
        let mut sim = Sim::new(true);
        sim.online();
        assert_eq!(
            sim.trace,
            [
                "0 P>A REGISTER",
                "10 A>P 200 REGISTER",
                "10 A>P NOTIFY MonitorStart",
                "20 P>A 200 NOTIFY",
            ]
        );
        assert_eq!(sim.take_news(), ["online sip:201@localhost"]);
        let id = sim.send_request("201", MAKE_CALL).unwrap();
        sim.run_until("answer", Duration::from_secs(2), |s| !s.news.is_empty());
        // NOTIFY carries no CSTA answer.
        assert_eq!(
            sim.take_news(),
            [format!("answer sip:201@localhost {} failed", id.0)]
        );
        assert_eq!(
            sim.trace[sim.trace.len() - 2..],
            ["30 A>P NOTIFY MakeCall", "40 P>A 200 NOTIFY"]
        );
        // The phone's events come as NOTIFY outside any dialog.
        let body = "<DoNotDisturbEvent><monitorCrossRefID>1</monitorCrossRefID>\
            <device>sip:201@localhost</device><doNotDisturbOn>true</doNotDisturbOn>\
            </DoNotDisturbEvent>";
        let notify = format!(
            "NOTIFY sip:csta@127.0.0.1:5060 SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.7:5062;branch=z9hG4bK-ev1\r\nMax-Forwards: 70\r\n\
             From: <sip:201@localhost>;tag=e1\r\nTo: <sip:csta@localhost>\r\n\
             Call-ID: ev-1\r\nCSeq: 1 NOTIFY\r\nEvent: uaCSTA\r\n\
             Content-Type: application/csta+xml\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        sim.send(false, notify.into_bytes());
        sim.run_until("event", Duration::from_secs(2), |s| !s.news.is_empty());
        assert_eq!(
            sim.take_news(),
            ["event sip:201@localhost DoNotDisturbEvent"]
        );
        assert_eq!(sim.trace.last().unwrap(), "60 A>P 200 NOTIFY");
        assert_eq!(sim.core.devices().view(ME).unwrap().dnd(), Some(true));
    });
}

#[test]
fn the_phones_challenge_is_answered_with_the_line_credentials() {
    run(|| {
        let mut sim = Sim::new(false);
        sim.phone.challenge = true;
        sim.online();
        assert_eq!(
            sim.trace[2..6],
            [
                "10 A>P INVITE RequestSystemStatus",
                "20 P>A 401 INVITE",
                "30 A>P ACK",
                "30 A>P INVITE RequestSystemStatus",
            ]
        );
        assert_eq!(sim.take_news(), ["online sip:201@localhost"]);
        let first = sim.phone.authorizations.first().unwrap().clone();
        let credentials = Credentials::parse(&first).unwrap();
        let verified = Verifier::new(PHONE_REALM, PHONE_NONCE, "INVITE")
            .verify(&credentials, Secret::Password("pw201"))
            .unwrap();
        assert!(verified.username.eq_text("201auth"));
        assert!(
            Verifier::new(PHONE_REALM, PHONE_NONCE, "INVITE")
                .verify(&credentials, Secret::Password("wrong"))
                .is_err()
        );
    });
}

#[test]
fn shutdown_stops_the_monitor_then_says_bye() {
    run(|| {
        let mut sim = Sim::new(false);
        sim.online();
        sim.take_news();
        let mark = sim.trace.len();
        let now = sim.now;
        sim.core.shutdown_sessions(now);
        sim.run_until("closed", Duration::from_secs(2), |s| s.core.sessions_idle());
        assert_eq!(sim.take_news(), ["offline sip:201@localhost"]);
        let t: Vec<&str> = sim.trace[mark..]
            .iter()
            .map(|l| l.split_once(' ').unwrap().1)
            .collect();
        assert_eq!(
            t,
            [
                "A>P INFO MonitorStop",
                "P>A 200 INFO MonitorStopResponse",
                "A>P BYE",
                "P>A 200 BYE"
            ]
        );
        assert!(!sim.phone.device.is_monitored());
        // No session is opened again, whatever the phone does.
        sim.register(3600);
        sim.run_for(Duration::from_secs(5));
        assert!(sim.core.sessions_idle());
    });
}

#[test]
fn lines_are_checked() {
    let bad = CstaLine {
        aor: "tel:201".to_owned(),
        ..line(false)
    };
    assert_eq!(
        Sessions::new(settings(), &[bad], Instant::now()).unwrap_err(),
        SessionsError::BadAor("tel:201".to_owned())
    );
    let twice = CstaLine {
        aor: "sip:201@LOCALHOST".to_owned(),
        ..line(false)
    };
    assert_eq!(
        Sessions::new(settings(), &[line(false), twice], Instant::now()).unwrap_err(),
        SessionsError::Duplicate("sip:201@LOCALHOST".to_owned())
    );
}

#[test]
fn path_becomes_the_route_of_requests_outside_the_dialog() {
    let invite =
        b"INVITE sip:201@192.0.2.7 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK1\r\n\
        From: <sip:csta@localhost>;tag=a\r\nTo: <sip:201@localhost>\r\nCall-ID: c\r\n\
        CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n";
    let path = vec!["<sip:edge.example;lr>".to_owned()];
    let out = String::from_utf8(with_routes(invite, &path)).unwrap();
    assert!(
        out.starts_with("INVITE sip:201@192.0.2.7 SIP/2.0\r\nRoute: <sip:edge.example;lr>\r\nVia:"),
        "{out}"
    );
    let in_dialog = String::from_utf8_lossy(invite)
        .replace("To: <sip:201@localhost>", "To: <sip:201@localhost>;tag=b");
    assert_eq!(
        with_routes(in_dialog.as_bytes(), &path),
        in_dialog.as_bytes()
    );
    assert_eq!(with_routes(invite, &[]), invite);
}

fn bare_core(t0: Instant) -> Core {
    let registrar = Registrar::with_secret(
        crate::registrar::Config {
            authenticate: false,
            ..crate::registrar::Config::default()
        },
        Passwords::new(),
        [7; 32],
    )
    .unwrap();
    Core::new(65_535, registrar, (t0, 1_800_000_000))
}

#[test]
fn a_restored_binding_gets_its_session_at_start_over_its_transport_and_path() {
    run(|| {
        let t0 = Instant::now();
        let mut core = bare_core(t0);
        let tcp: SocketAddr = "127.0.0.1:5061".parse().unwrap();
        core.restore([Binding {
            aor: "201@localhost".to_owned(),
            contact: "sip:201@10.0.0.7:5062;transport=tcp".to_owned(),
            expires_at: 1_800_000_600,
            q: None,
            call_id: "reg-1".to_owned(),
            cseq: 1,
            branch: None,
            path: vec!["<sip:edge.example;lr>".to_owned()],
            instance: None,
            reg_id: None,
            source: phone_addr(),
            transport: Transport::Tcp,
            user_agent: None,
            changed_at: 1_800_000_000,
        }]);
        let settings = Settings {
            listen: vec![(TransportKind::Udp, server()), (TransportKind::Tcp, tcp)],
            ..settings()
        };
        core.set_sessions(Sessions::new(settings, &[line(false)], t0).unwrap());
        let out = core.poll_transmit().unwrap();
        assert!(core.poll_transmit().is_none());
        assert_eq!(out.transport, TransportKind::Tcp);
        assert_eq!(out.peer, phone_addr());
        assert_eq!(out.conn, None);
        assert_eq!(out.local, Some(tcp));
        let text = String::from_utf8(out.data).unwrap();
        assert!(
            text.starts_with(
                "INVITE sip:201@10.0.0.7:5062;transport=tcp SIP/2.0\r\n\
                 Route: <sip:edge.example;lr>\r\nVia: SIP/2.0/TCP 127.0.0.1:5061;rport;branch=z9hG4bK"
            ),
            "{text}"
        );
        assert!(
            text.contains("\r\nFrom: <sip:csta@localhost>;tag="),
            "{text}"
        );
        assert!(text.contains("\r\nTo: <sip:201@localhost>\r\n"), "{text}");
        assert!(
            text.contains("\r\nContact: <sip:csta@127.0.0.1:5061;transport=tcp>\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\nSupported: timer"), "{text}");
        // Over TCP the INVITE is not sent again; its transaction times out after
        // 64*T1 and the session is retried after the back-off.
        core.handle_timeout(t0 + Duration::from_secs(32));
        assert!(core.poll_transmit().is_none());
        core.handle_timeout(t0 + Duration::from_secs(33));
        let again = core.poll_transmit().unwrap();
        assert!(again.data.starts_with(b"INVITE "));
    });
}

#[test]
fn a_register_over_tcp_is_followed_on_its_connection() {
    run(|| {
        let t0 = Instant::now();
        let mut core = bare_core(t0);
        core.set_sessions(Sessions::new(settings(), &[line(false)], t0).unwrap());
        let local: SocketAddr = "[::1]:5070".parse().unwrap();
        let peer: SocketAddr = "[::1]:40000".parse().unwrap();
        let source = Source {
            transport: TransportKind::Tcp,
            peer,
            local,
            conn: Some(ConnId(4)),
        };
        let register = "REGISTER sip:localhost SIP/2.0\r\n\
             Via: SIP/2.0/TCP [::1]:40000;branch=z9hG4bK-t1\r\n\
             Max-Forwards: 70\r\nFrom: <sip:201@localhost>;tag=r1\r\n\
             To: <sip:201@localhost>\r\nCall-ID: reg-t\r\nCSeq: 1 REGISTER\r\n\
             Contact: <sip:201@[::1]:40000;transport=tcp>\r\nContent-Length: 0\r\n\r\n";
        core.handle_input(t0, source, register.as_bytes());
        let ok = core.poll_transmit().unwrap();
        assert!(ok.data.starts_with(b"SIP/2.0 200 OK"));
        let invite = core.poll_transmit().unwrap();
        assert_eq!(invite.conn, Some(ConnId(4)));
        assert_eq!(invite.peer, peer);
        assert_eq!(invite.transport, TransportKind::Tcp);
        let text = String::from_utf8(invite.data).unwrap();
        assert!(
            text.contains("\r\nVia: SIP/2.0/TCP [::1]:5070;rport;branch="),
            "{text}"
        );
        assert!(
            text.contains("\r\nContact: <sip:csta@[::1]:5070;transport=tcp>\r\n"),
            "{text}"
        );
        // Other messages are not the manager's.
        let other = "OPTIONS sip:localhost SIP/2.0\r\n\
             Via: SIP/2.0/TCP [::1]:40000;branch=z9hG4bK-o1\r\n\
             Max-Forwards: 70\r\nFrom: <sip:201@localhost>;tag=o\r\n\
             To: <sip:localhost>\r\nCall-ID: other\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";
        core.handle_input(t0, source, other.as_bytes());
        assert!(
            core.poll_transmit()
                .unwrap()
                .data
                .starts_with(b"SIP/2.0 200 OK")
        );
        assert_eq!(core.devices().stats().messages, 0);
    });
}

#[test]
fn a_refused_monitor_closes_the_session_and_backs_off() {
    run(|| {
        let mut sim = Sim::new(false);
        *sim.phone.device = Model::with_monitor_limit(ME, 0).unwrap();
        sim.register(3600);
        sim.run_for(Duration::from_millis(1500));
        let t: Vec<&str> = sim.trace.iter().map(String::as_str).collect();
        assert_eq!(
            t,
            [
                "0 P>A REGISTER",
                "10 A>P 200 REGISTER",
                "10 A>P INVITE RequestSystemStatus",
                "20 P>A 200 INVITE RequestSystemStatusResponse",
                "30 A>P ACK",
                "30 A>P INFO MonitorStart",
                "40 P>A 200 INFO CSTAErrorCode",
                "50 A>P BYE",
                "60 P>A 200 BYE",
                "1050 A>P INVITE RequestSystemStatus",
                "1060 P>A 200 INVITE RequestSystemStatusResponse",
                "1070 A>P ACK",
                "1070 A>P INFO MonitorStart",
                "1080 P>A 200 INFO CSTAErrorCode",
                "1090 A>P BYE",
                "1100 P>A 200 BYE",
            ]
        );
        assert!(sim.news.is_empty(), "{:?}", sim.news);
        assert_eq!(sim.status(), DeviceStatus::Offline);
    });
}

#[test]
fn the_session_is_kept_alive_by_the_session_timer() {
    run(|| {
        let mut sim = Sim::with_settings(
            false,
            Settings {
                timer: session_timer::Config {
                    session_expires: 120,
                    ..session_timer::Config::DEFAULT
                },
                ..settings()
            },
        );
        sim.online();
        sim.take_news();
        let mark = sim.trace.len();
        sim.run_for(Duration::from_secs(200));
        let t: Vec<&str> = sim.trace[mark..].iter().map(String::as_str).collect();
        // The server refreshes half an interval after each 2xx (the first came at 30 ms).
        assert_eq!(
            t,
            [
                "60030 A>P INVITE",
                "60040 P>A 200 INVITE",
                "60050 A>P ACK",
                "120050 A>P INVITE",
                "120060 P>A 200 INVITE",
                "120070 A>P ACK",
                "180070 A>P INVITE",
                "180080 P>A 200 INVITE",
                "180090 A>P ACK",
            ]
        );
        assert!(sim.news.is_empty(), "{:?}", sim.news);
        assert_eq!(sim.status(), DeviceStatus::Online);
        assert!(sim.phone.s.is_open());
    });
}

#[test]
fn an_idle_line_costs_no_session() {
    // What one phone's session holds, for sizing: the session's queues and dialog,
    // its two transaction tables.
    let size = std::mem::size_of::<Active>();
    assert!(size < 320 * 1024, "{size}");
    let s = Sessions::new(settings(), &[line(false)], Instant::now()).unwrap();
    assert!(s.is_idle());
    assert_eq!(s.poll_timeout(), None);
}

#[test]
fn reconfigure_removes_and_adds_lines() {
    run(|| {
        let mut sim = Sim::new(false);
        sim.online();
        sim.take_news();
        let mark = sim.trace.len();
        let now = sim.now;
        // The line goes: its session ends as at shutdown.
        let mut config = crate::Config::default();
        let change = sim.core.reconfigure(now, &config).unwrap();
        assert_eq!(change.removed, [ME]);
        assert!(change.added.is_empty() && change.changed.is_empty());
        sim.run_until("closed", Duration::from_secs(2), |s| s.core.sessions_idle());
        assert_eq!(sim.take_news(), ["offline sip:201@localhost"]);
        let t: Vec<&str> = sim.trace[mark..]
            .iter()
            .map(|l| l.split_once(' ').unwrap().1)
            .collect();
        assert_eq!(
            t,
            [
                "A>P INFO MonitorStop",
                "P>A 200 INFO MonitorStopResponse",
                "A>P BYE",
                "P>A 200 BYE"
            ]
        );
        let d = sim.core.devices();
        assert_eq!(d.resolve("201"), None);
        assert!(d.all().is_empty());
        assert_eq!(d.keys().count(), 0);
        // The phone registers again: no session for a line that is gone.
        sim.register(3600);
        sim.run_for(Duration::from_secs(3));
        assert!(sim.core.sessions_idle());
        // The line is back; the phone is registered, so its session opens at once.
        config.csta_lines = vec![line(false)];
        let now = sim.now;
        let change = sim.core.reconfigure(now, &config).unwrap();
        assert_eq!(change.added, [ME]);
        sim.run_until("online", Duration::from_secs(5), |s| {
            s.news.iter().any(|n| n.starts_with("online"))
        });
        assert_eq!(sim.status(), DeviceStatus::Online);
        assert_eq!(sim.core.devices().all(), [ME]);
        // The same configuration again changes nothing.
        let now = sim.now;
        assert!(sim.core.reconfigure(now, &config).unwrap().is_empty());
        // New credentials are kept for the next challenge; the session stays.
        config.csta_lines[0].auth_password = "new".to_owned();
        let now = sim.now;
        let change = sim.core.reconfigure(now, &config).unwrap();
        assert_eq!(change.changed, [ME]);
        assert_eq!(sim.status(), DeviceStatus::Online);
        // Lines the manager refuses change nothing.
        let twice = vec![
            line(false),
            CstaLine {
                aor: "sip:201@LOCALHOST".to_owned(),
                ..line(false)
            },
        ];
        config.csta_lines = twice;
        let now = sim.now;
        assert!(sim.core.reconfigure(now, &config).is_err());
        assert_eq!(sim.status(), DeviceStatus::Online);
    });
}
