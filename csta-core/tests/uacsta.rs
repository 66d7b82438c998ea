//! uaCSTA sessions end to end: an application side (`AppSession`) and a phone side
//! (`PhoneSession`), each over its own sip-lite transaction table, over a simulated
//! datagram network on a virtual clock.
//!
//! Every scenario runs over a perfect network, where the messages on the wire are
//! asserted exactly, and the main ones also over lossy networks (loss, duplication,
//! reordering) for many seeds, where the outcome is asserted: every request answered
//! exactly once, events in order, no transaction left.

use core::time::Duration;
use std::boxed::Box;
use std::format;
use std::string::String;
use std::vec::Vec;

mod common;

use common::{APP, BUF, Endpoint, Net, PHONE, ms, summary};
use csta_core::message::monitor::MonitorStartResponse;
use csta_core::message::{Decoded, EncodeError, ErrorCode};
use csta_core::names::Operation;
use csta_core::types::CrossRefId;
use csta_core::uacsta::app::{AppConfig, AppEvent, AppSession, Failure, LostReason, Mode};
use csta_core::uacsta::phone::{PhoneConfig, PhoneSession};
use csta_core::{Edition, Message as Csta, decode};
use sip_lite::digest::{ChallengeRepr, Verifier};
use sip_lite::ids::IdGenerator;
use sip_lite::session_timer;
use sip_lite::time::Instant;
use sip_lite::transaction::Received;
use sip_lite::wire::{
    Credentials, HeaderIndex, HeaderName, Message, Method, SliceSink, StatusCode, Writer,
};

type Ep = Endpoint<16>;
type App = AppSession<8, BUF>;
type Phone = PhoneSession<8, BUF>;

const PHONE_URI: &str = "sip:201@192.0.2.7:5060";
const REALM: &str = "phone";
const NONCE: &str = "abc123";

// ----- the application side -------------------------------------------------------------

struct AppNode {
    ep: Ep,
    s: App,
    /// Every event, formatted.
    log: Vec<String>,
    /// The owner does not poll events (it is busy).
    hold_events: bool,
    /// Every INFO is answered 503 without Retry-After, before the session sees it.
    refuse_events: bool,
}

impl AppNode {
    fn new(config: &AppConfig<'_>) -> AppNode {
        AppNode::with_seed(config, 1)
    }

    fn with_seed(config: &AppConfig<'_>, seed: u8) -> AppNode {
        let mut ep = Ep::new(seed, PHONE);
        let s = App::new(config, &mut ep.ids).expect("config fits");
        AppNode {
            ep,
            s,
            log: Vec::new(),
            hold_events: false,
            refuse_events: false,
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        [self.ep.poll_timeout(), self.s.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.ep.handle_timeout(now);
        if self.s.poll_timeout().is_some_and(|t| t <= now) {
            self.s.handle_timeout(now);
        }
        self.flush(now);
    }

    fn flush(&mut self, now: Instant) {
        loop {
            let mut moved = self.ep.drive(now, &mut self.s);
            while !self.hold_events
                && let Some(ev) = self.s.poll_event()
            {
                moved = true;
                let line = match ev {
                    AppEvent::Established {
                        system_status,
                        edition,
                        ..
                    } => format!("established {system_status:?} {edition:?}"),
                    AppEvent::Response { id, body } => {
                        format!("response {} {}", id.0, root(body))
                    }
                    AppEvent::Event { body } => format!("event {}", String::from_utf8_lossy(body)),
                    other => format!("{other:?}"),
                };
                self.log.push(format!("{} {line}", now.as_millis()));
            }
            if !moved {
                break;
            }
        }
    }

    fn receive(&mut self, now: Instant, bytes: &[u8]) {
        let mut hs = [HeaderIndex::EMPTY; 64];
        let msg = Message::parse(bytes, &mut hs).expect("parses");
        let mut buf = [0u8; BUF];
        match self
            .ep
            .tx
            .receive(now, PHONE, false, &msg)
            .expect("receivable")
        {
            Received::Request(stx) => {
                let n = if self.refuse_events && msg.method() == Some(Method::Info) {
                    let w = Writer::response_to(
                        SliceSink::new(&mut buf),
                        &msg,
                        StatusCode::SERVICE_UNAVAILABLE,
                        "",
                        Some("busy"),
                    )
                    .unwrap();
                    w.finish(b"").unwrap().len()
                } else {
                    self.s
                        .handle_request(now, &msg, &mut buf)
                        .expect("answerable")
                };
                assert!(n > 0);
                self.ep.tx.respond(now, stx, &buf[..n]).expect("respond");
            }
            Received::Ack => {
                assert_eq!(self.s.handle_request(now, &msg, &mut buf), Ok(0));
            }
            Received::Response(c) => {
                self.s.handle_response(now, &msg).expect("ours");
                self.ep.answered(c, &msg);
            }
            Received::Retransmitted2xx(_) | Received::Unmatched => {
                let _ = self.s.handle_response(now, &msg);
            }
            Received::Absorbed | Received::Rejected(_) | Received::Cancel { .. } => {}
        }
        self.flush(now);
    }
}

/// The root element of a CSTA body.
fn root(body: &[u8]) -> String {
    match decode(body) {
        Ok(d) => match d.message {
            Csta::MonitorStartResponse(r) => {
                format!(
                    "MonitorStartResponse {}",
                    r.monitor_cross_ref_id.0.as_str().unwrap_or("?")
                )
            }
            Csta::CSTAErrorCode(e) => format!("CSTAErrorCode {}", e.category()),
            m => m.name().into(),
        },
        Err(_) if body.is_empty() => "(empty)".into(),
        Err(e) => format!("undecodable {e:?}"),
    }
}

// ----- the phone side -------------------------------------------------------------------

/// How the scripted phone treats the CSTA INVITE before the session layer sees it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Gate {
    /// Straight to the session.
    Open,
    /// This final status (415 comes with `Accept: application/csta+xml`).
    Reject(u16),
    /// 401 with a digest challenge to the CSTA INVITE, then the session when the
    /// credentials verify.
    Digest,
    /// The same for every INFO.
    DigestInfo,
}

/// The test's device: MonitorStart gets monitor 43, MonitorStop an empty response,
/// everything else `CSTAErrorCode/operation/invalidParameterValue`.
fn device(request: &Decoded<'_>, edition: Edition, out: &mut [u8]) -> Result<usize, EncodeError> {
    match request.message {
        Csta::MonitorStart(_) => Csta::MonitorStartResponse(MonitorStartResponse {
            monitor_cross_ref_id: CrossRefId::new("43"),
            actual_monitor_filter: None,
            monitor_existing_calls: None,
        })
        .encode(edition, out),
        Csta::MonitorStop(_) => {
            Csta::MonitorStopResponse(csta_core::message::monitor::MonitorStopResponse {})
                .encode(edition, out)
        }
        _ => Csta::CSTAErrorCode(ErrorCode::Operation(Operation::InvalidParameterValue))
            .encode(edition, out),
    }
}

struct PhoneNode {
    ep: Ep,
    s: Phone,
    gate: Gate,
    log: Vec<String>,
    /// CSTA requests the device served, by root name.
    served: Vec<String>,
}

impl PhoneNode {
    fn new(gate: Gate) -> PhoneNode {
        let mut ep = Ep::new(2, APP);
        let config = PhoneConfig::new(PHONE_URI, "SIP/2.0/UDP 192.0.2.7:5060");
        let s = Phone::new(&config, &mut ep.ids).expect("config fits");
        PhoneNode {
            ep,
            s,
            gate,
            log: Vec::new(),
            served: Vec::new(),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        [self.ep.poll_timeout(), self.s.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.ep.handle_timeout(now);
        if self.s.poll_timeout().is_some_and(|t| t <= now) {
            self.s.handle_timeout(now);
        }
        self.flush(now);
    }

    fn flush(&mut self, now: Instant) {
        loop {
            let mut moved = self.ep.drive(now, &mut self.s);
            while let Some(ev) = self.s.poll_event() {
                moved = true;
                self.log.push(format!("{} {ev:?}", now.as_millis()));
            }
            if !moved {
                break;
            }
        }
    }

    /// The digest gate in front of the session: 401 for an INVITE without valid
    /// credentials.
    fn challenge(&mut self, msg: &Message<'_>, buf: &mut [u8]) -> Option<usize> {
        let method = msg.method()?;
        let guarded = match self.gate {
            Gate::Digest => method == Method::Invite && msg.to().ok()?.tag().is_none(),
            Gate::DigestInfo => method == Method::Info,
            _ => false,
        };
        if !guarded {
            return None;
        }
        let ok = msg
            .header(HeaderName::Authorization)
            .and_then(|v| Credentials::parse(v).ok())
            .is_some_and(|c| {
                Verifier::new(REALM, NONCE, method.as_str())
                    .verify(&c, sip_lite::digest::Secret::Password("1234"))
                    .is_ok()
            });
        if ok {
            return None;
        }
        let mut w = Writer::response_to(
            SliceSink::new(buf),
            msg,
            StatusCode::UNAUTHORIZED,
            "",
            Some("gate"),
        )
        .ok()?;
        w.header_typed(
            HeaderName::WwwAuthenticate,
            &ChallengeRepr::new(REALM, NONCE),
        )
        .ok()?;
        Some(w.finish(b"").ok()?.len())
    }

    fn receive(&mut self, now: Instant, bytes: &[u8]) {
        let mut hs = [HeaderIndex::EMPTY; 64];
        let msg = Message::parse(bytes, &mut hs).expect("parses");
        let mut buf = [0u8; BUF];
        match self
            .ep
            .tx
            .receive(now, APP, false, &msg)
            .expect("receivable")
        {
            Received::Request(stx) => {
                let n = if let Gate::Reject(code) = self.gate
                    && msg.method() == Some(Method::Invite)
                {
                    let mut w = Writer::response_to(
                        SliceSink::new(&mut buf),
                        &msg,
                        StatusCode(code),
                        "",
                        Some("gate"),
                    )
                    .unwrap();
                    if code == 415 {
                        w.header("Accept", "application/csta+xml").unwrap();
                    }
                    w.finish(b"").unwrap().len()
                } else if let Some(n) = self.challenge(&msg, &mut buf) {
                    n
                } else {
                    let served = &mut self.served;
                    let mut dev = |r: &Decoded<'_>, e: Edition, out: &mut [u8]| {
                        served.push(r.message.name().into());
                        device(r, e, out)
                    };
                    self.s
                        .handle_request(now, &msg, &mut dev, &mut buf)
                        .expect("answerable")
                };
                assert!(n > 0);
                self.ep.tx.respond(now, stx, &buf[..n]).expect("respond");
            }
            Received::Ack => {
                let mut dev = device;
                assert_eq!(self.s.handle_request(now, &msg, &mut dev, &mut buf), Ok(0));
            }
            Received::Response(c) => {
                self.s.handle_response(now, &msg).expect("ours");
                self.ep.answered(c, &msg);
            }
            Received::Retransmitted2xx(_) | Received::Unmatched => {
                let _ = self.s.handle_response(now, &msg);
            }
            Received::Absorbed | Received::Rejected(_) | Received::Cancel { .. } => {}
        }
        self.flush(now);
    }

    /// Queues an event given as XML.
    fn event(&mut self, now: Instant, xml: &str) {
        let d = decode(xml.as_bytes()).expect("test event decodes");
        self.s.send_event(&d.message).expect("queued");
        self.flush(now);
    }
}

// ----- the world ------------------------------------------------------------------------

impl common::Node for AppNode {
    fn poll_timeout(&self) -> Option<Instant> {
        AppNode::poll_timeout(self)
    }
    fn handle_timeout(&mut self, now: Instant) {
        AppNode::handle_timeout(self, now);
    }
    fn receive(&mut self, now: Instant, bytes: &[u8]) {
        AppNode::receive(self, now, bytes);
    }
    fn outbox(&mut self) -> &mut Vec<Vec<u8>> {
        &mut self.ep.outbox
    }
}

impl common::Node for PhoneNode {
    fn poll_timeout(&self) -> Option<Instant> {
        PhoneNode::poll_timeout(self)
    }
    fn handle_timeout(&mut self, now: Instant) {
        PhoneNode::handle_timeout(self, now);
    }
    fn receive(&mut self, now: Instant, bytes: &[u8]) {
        PhoneNode::receive(self, now, bytes);
    }
    fn outbox(&mut self) -> &mut Vec<Vec<u8>> {
        &mut self.ep.outbox
    }
}

struct World {
    now: Instant,
    net: Net,
    app: Box<AppNode>,
    phone: Box<PhoneNode>,
}

fn app_config() -> AppConfig<'static> {
    let mut c = AppConfig::new(
        PHONE_URI,
        "sip:csta@server.example.com",
        "sip:csta@192.0.2.1:5060",
        "SIP/2.0/UDP 192.0.2.1:5060",
    );
    c.credentials = Some(("201", "1234"));
    c
}

impl World {
    fn new(net: Net, config: &AppConfig<'_>, gate: Gate) -> World {
        World {
            now: Instant::ZERO,
            net,
            app: Box::new(AppNode::new(config)),
            phone: Box::new(PhoneNode::new(gate)),
        }
    }

    fn next(&self) -> Option<Instant> {
        common::next(&self.net, &*self.app, &*self.phone)
    }

    fn post(&mut self) {
        common::post(self.now, &mut self.net, &mut *self.app, &mut *self.phone);
    }

    fn step(&mut self) -> bool {
        common::step(
            &mut self.now,
            &mut self.net,
            &mut *self.app,
            &mut *self.phone,
        )
    }

    fn run_until(&mut self, limit: Instant, done: impl Fn(&World) -> bool) {
        while !done(self) {
            assert!(
                self.step(),
                "stuck at {:?}\napp {:?}\nphone {:?}\n{:#?}",
                self.now,
                self.app.log,
                self.phone.log,
                self.net.trace
            );
            assert!(
                self.now <= limit,
                "not done by {limit:?}\napp {:?}\nphone {:?}\n{:#?}",
                self.app.log,
                self.phone.log,
                self.net.trace
            );
        }
    }

    fn run_to(&mut self, t: Instant) {
        while self.next().is_some_and(|n| n <= t) {
            self.step();
        }
        self.now = self.now.max(t);
    }

    fn settle(&mut self) {
        let mut steps = 0;
        while self.step() {
            steps += 1;
            assert!(steps < 100_000, "does not settle");
        }
    }

    fn open(&mut self) {
        self.app.s.open().expect("new session");
        self.app.flush(self.now);
    }

    fn send(&mut self, m: &Csta<'_>) -> u32 {
        let id = self.app.s.send(m).expect("queued");
        self.app.flush(self.now);
        id.0
    }

    fn established(&self) -> bool {
        self.app.s.is_established() && self.phone.s.is_open()
    }
}

fn logged(log: &[String], what: &str) -> usize {
    log.iter().filter(|l| l.contains(what)).count()
}

fn monitor_start() -> Csta<'static> {
    decode(
        br#"<MonitorStart xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3"><monitorObject><deviceObject>201</deviceObject></monitorObject></MonitorStart>"#,
    )
    .expect("decodes")
    .message
}

fn make_call() -> Csta<'static> {
    decode(
        br#"<MakeCall xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3"><callingDevice>201</callingDevice><calledDirectoryNumber>202</calledDirectoryNumber></MakeCall>"#,
    )
    .expect("decodes")
    .message
}

fn dnd_event(n: u32) -> String {
    format!(
        r#"<DoNotDisturbEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3"><monitorCrossRefID>43</monitorCrossRefID><device>20{n}</device><doNotDisturbOn>true</doNotDisturbOn></DoNotDisturbEvent>"#
    )
}

// ----- scenarios ------------------------------------------------------------------------

#[test]
fn setup_exchanges_request_system_status_and_acks() {
    let mut w = World::new(Net::perfect(), &app_config(), Gate::Open);
    w.open();
    w.run_until(ms(1_000), World::established);
    w.run_to(ms(1_000));
    assert_eq!(
        w.net.trace,
        ["0 A>P INVITE", "10 P>A 200 INVITE", "20 A>P ACK"]
    );
    assert_eq!(w.app.log, ["20 established Some(Normal) Some(Ed3)"]);
    assert_eq!(w.phone.log, ["10 Opened { edition: Some(Ed3) }"]);
    // The device is not asked: the session answers RequestSystemStatus itself.
    assert!(w.phone.served.is_empty());
    assert_eq!(w.app.s.call_id(), w.phone.s.call_id().unwrap());
    // The session timer runs on both sides: the application refreshes.
    assert_eq!(
        w.app.s.timer().refresher(),
        Some(session_timer::Party::Local)
    );
    assert_eq!(
        w.phone.s.timer().refresher(),
        Some(session_timer::Party::Remote)
    );
}

#[test]
fn setup_invite_carries_csta_headers_and_no_sdp() {
    let mut app = AppNode::new(&app_config());
    app.s.open().unwrap();
    app.flush(ms(0));
    // The INVITE went into the transaction table; read it back from there.
    let t = app.ep.tx.poll_transmit();
    assert!(t.is_none(), "flush already drained the table");
    let invite = app.ep.outbox.first().expect("INVITE sent").clone();
    let mut hs = [HeaderIndex::EMPTY; 64];
    let msg = Message::parse(&invite, &mut hs).unwrap();
    assert_eq!(msg.method(), Some(Method::Invite));
    assert_eq!(msg.request_uri_str(), Some(PHONE_URI));
    assert_eq!(
        msg.header(HeaderName::ContentType),
        Some("application/csta+xml")
    );
    assert_eq!(
        msg.header(HeaderName::ContentDisposition),
        Some("signal;handling=required")
    );
    assert!(msg.has_token(HeaderName::Supported, "timer"));
    assert_eq!(msg.header(HeaderName::SessionExpires), Some("1800"));
    let body = decode(msg.body()).unwrap();
    assert_eq!(body.message.name(), "RequestSystemStatus");
    assert_eq!(body.edition, Some(Edition::Ed3));
    assert_eq!(msg.call_id(), Ok(app.s.call_id()));
}

#[test]
fn setup_rejected_486_415_488_reports_failure_with_status() {
    for code in [486, 415, 488, 606] {
        let mut w = World::new(Net::perfect(), &app_config(), Gate::Reject(code));
        w.open();
        w.run_until(ms(1_000), |w| w.app.s.is_done());
        assert_eq!(
            w.app.log,
            [format!(
                "20 {:?}",
                AppEvent::Failed {
                    failure: Failure::Rejected(StatusCode(code)),
                    reason: StatusCode(code).default_reason()
                }
            )]
        );
        w.settle();
        assert_eq!(
            w.net.trace,
            [
                "0 A>P INVITE".to_string(),
                format!("10 P>A {code} INVITE"),
                "20 A>P ACK".to_string()
            ]
        );
        assert!(w.app.ep.tx.is_empty() && w.phone.ep.tx.is_empty());
        assert_eq!(w.app.poll_timeout(), None);
    }
}

/// Feeds one INVITE straight into a phone session and returns the response's status
/// and the value of `header`.
fn phone_answer(invite: &str, header: HeaderName, config: PhoneConfig<'_>) -> (u16, String) {
    let mut ids = IdGenerator::new([3; 32]);
    let mut phone = Phone::new(&config, &mut ids).unwrap();
    let mut hs = [HeaderIndex::EMPTY; 64];
    let msg = Message::parse(invite.as_bytes(), &mut hs).unwrap();
    let mut buf = [0u8; BUF];
    let mut dev = device;
    let n = phone
        .handle_request(ms(0), &msg, &mut dev, &mut buf)
        .unwrap();
    let mut hs = [HeaderIndex::EMPTY; 64];
    let resp = Message::parse(&buf[..n], &mut hs).unwrap();
    assert!(!phone.is_open());
    (
        resp.status().unwrap().0,
        resp.header(header).unwrap_or("").into(),
    )
}

fn invite_with(content_type: &str, body: &str) -> String {
    format!(
        "INVITE {PHONE_URI} SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx1\r\n\
Max-Forwards: 70\r\n\
From: <sip:csta@server.example.com>;tag=a1\r\n\
To: <sip:201@192.0.2.7>\r\n\
Call-ID: c1\r\n\
CSeq: 1 INVITE\r\n\
Contact: <sip:csta@192.0.2.1:5060>\r\n\
Content-Type: {content_type}\r\n\
Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[test]
fn phone_rejects_sdp_with_488_or_configured_606() {
    let sdp = "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";
    let invite = invite_with("application/sdp", sdp);
    let config = PhoneConfig::new(PHONE_URI, "SIP/2.0/UDP 192.0.2.7:5060");
    assert_eq!(phone_answer(&invite, HeaderName::To, config).0, 488);
    let mut config = config;
    config.sdp_status = StatusCode(606);
    assert_eq!(phone_answer(&invite, HeaderName::To, config).0, 606);
}

#[test]
fn phone_rejects_unknown_body_with_415_and_accept() {
    let invite = invite_with("text/plain", "hello");
    let config = PhoneConfig::new(PHONE_URI, "SIP/2.0/UDP 192.0.2.7:5060");
    assert_eq!(
        phone_answer(&invite, HeaderName::Accept, config),
        (415, "application/csta+xml".into())
    );
}

#[test]
fn phone_rejects_unparsable_csta_with_400() {
    let invite = invite_with("application/csta+xml", "<RequestSystemStatus><oops>");
    let config = PhoneConfig::new(PHONE_URI, "SIP/2.0/UDP 192.0.2.7:5060");
    assert_eq!(phone_answer(&invite, HeaderName::To, config).0, 400);
}

#[test]
fn digest_challenge_is_answered_once_then_succeeds() {
    let mut w = World::new(Net::perfect(), &app_config(), Gate::Digest);
    w.open();
    w.run_until(ms(1_000), World::established);
    w.run_to(ms(1_000));
    assert_eq!(
        w.net.trace,
        [
            "0 A>P INVITE",
            "10 P>A 401 INVITE",
            "20 A>P ACK",
            "20 A>P INVITE",
            "30 P>A 200 INVITE",
            "40 A>P ACK"
        ]
    );
    assert_eq!(w.app.log, ["40 established Some(Normal) Some(Ed3)"]);
}

#[test]
fn digest_with_wrong_password_fails_after_one_answer() {
    let mut config = app_config();
    config.credentials = Some(("201", "wrong"));
    let mut w = World::new(Net::perfect(), &config, Gate::Digest);
    w.open();
    w.run_until(ms(1_000), |w| w.app.s.is_done());
    w.settle();
    assert_eq!(
        w.net.trace,
        [
            "0 A>P INVITE",
            "10 P>A 401 INVITE",
            "20 A>P ACK",
            "20 A>P INVITE",
            "30 P>A 401 INVITE",
            "40 A>P ACK"
        ]
    );
    assert_eq!(
        w.app.log,
        [format!(
            "40 {:?}",
            AppEvent::Failed {
                failure: Failure::AuthRejected(StatusCode::UNAUTHORIZED),
                reason: "Unauthorized"
            }
        )]
    );
}

#[test]
fn digest_without_credentials_fails_at_once() {
    let mut config = app_config();
    config.credentials = None;
    let mut w = World::new(Net::perfect(), &config, Gate::Digest);
    w.open();
    w.run_until(ms(1_000), |w| w.app.s.is_done());
    assert_eq!(
        w.app.log,
        [format!(
            "20 {:?}",
            AppEvent::Failed {
                failure: Failure::AuthRejected(StatusCode::UNAUTHORIZED),
                reason: "Unauthorized"
            }
        )]
    );
}

fn established(net: Net) -> World {
    let mut w = World::new(net, &app_config(), Gate::Open);
    w.open();
    w.run_until(ms(60_000), World::established);
    w
}

#[test]
fn monitor_start_is_answered_with_its_response() {
    let mut w = established(Net::perfect());
    w.run_to(ms(100));
    let id = w.send(&monitor_start());
    w.run_until(ms(1_000), |w| logged(&w.app.log, "response") == 1);
    assert_eq!(
        w.app.log[1..],
        [format!("120 response {id} MonitorStartResponse 43")]
    );
    assert_eq!(w.phone.served, ["MonitorStart"]);
    assert_eq!(w.net.trace[3..], ["100 A>P INFO", "110 P>A 200 INFO"]);
}

#[test]
fn csta_error_code_is_a_response_not_a_failure() {
    let mut w = established(Net::perfect());
    w.run_to(ms(100));
    let a = w.send(&make_call());
    let b = w.send(&monitor_start());
    w.run_until(ms(1_000), |w| logged(&w.app.log, "response") == 2);
    assert_eq!(
        w.app.log[1..],
        [
            format!("120 response {a} CSTAErrorCode operation"),
            format!("140 response {b} MonitorStartResponse 43"),
        ]
    );
    // One INFO at a time, in order.
    assert_eq!(
        w.net.trace[3..],
        [
            "100 A>P INFO",
            "110 P>A 200 INFO",
            "120 A>P INFO",
            "130 P>A 200 INFO"
        ]
    );
}

#[test]
fn events_reach_the_application_in_order() {
    let mut w = established(Net::perfect());
    w.run_to(ms(100));
    let now = w.now;
    for n in 1..=4 {
        w.phone.event(now, &dnd_event(n));
    }
    w.run_until(ms(1_000), |w| logged(&w.app.log, "event") == 4);
    let devices = event_devices(&w.app.log);
    assert_eq!(devices, ["201", "202", "203", "204"]);
    assert_eq!(logged(&w.net.trace, "P>A INFO"), 4);
    assert_eq!(logged(&w.net.trace, "A>P 200 INFO"), 4);
}

#[test]
fn malformed_event_gets_400_and_is_reported() {
    let mut w = established(Net::perfect());
    w.run_to(ms(100));
    // Let the phone session write an INFO in the dialog, then break its body.
    let d = decode(dnd_event(1).as_bytes()).unwrap().message.name();
    assert_eq!(d, "DoNotDisturbEvent");
    w.phone
        .s
        .send_event(&Csta::RequestSystemStatus(
            csta_core::message::system::RequestSystemStatus {},
        ))
        .unwrap();
    let mut buf = [0u8; BUF];
    let mut ids = IdGenerator::new([9; 32]);
    let out = w
        .phone
        .s
        .poll_request(w.now, &mut ids, &mut buf)
        .unwrap()
        .unwrap();
    assert_eq!(out.method, Method::Info);
    // Break the body: replace the root element's first letter.
    let text = String::from_utf8(buf[..out.len].to_vec()).unwrap();
    let broken = text.replacen("<RequestSystemStatus", "<RequestSystemStatus><x", 1);
    let mut hs = [HeaderIndex::EMPTY; 64];
    let len_fix = broken.replacen(
        &format!(
            "Content-Length: {}",
            text.len() - text.find("\r\n\r\n").unwrap() - 4
        ),
        &format!(
            "Content-Length: {}",
            broken.len() - broken.find("\r\n\r\n").unwrap() - 4
        ),
        1,
    );
    let msg = Message::parse(len_fix.as_bytes(), &mut hs).unwrap();
    let n = w.app.s.handle_request(w.now, &msg, &mut buf).unwrap();
    assert_eq!(summary(&buf[..n]), "400 INFO");
    assert!(matches!(
        w.app.s.poll_event(),
        Some(AppEvent::MalformedEvent(_))
    ));
}

#[test]
fn session_is_refreshed_over_hours() {
    let mut config = app_config();
    config.timer.session_expires = 120;
    let mut w = World::new(Net::perfect(), &config, Gate::Open);
    w.open();
    w.run_until(ms(1_000), World::established);
    w.run_to(ms(3 * 3_600_000));
    assert!(w.established());
    // A re-INVITE at half the 120 s interval after each 2xx (which takes 20 ms):
    // the n-th at n * 60.02 s, 179 in three hours.
    assert_eq!(logged(&w.net.trace, "A>P INVITE"), 1 + 179);
    assert_eq!(logged(&w.net.trace, "P>A 200 INVITE"), 1 + 179);
    assert_eq!(logged(&w.net.trace, "A>P ACK"), 1 + 179);
    assert_eq!(
        w.net.trace[3..6],
        ["60020 A>P INVITE", "60030 P>A 200 INVITE", "60040 A>P ACK"]
    );
    assert_eq!(w.net.trace[w.net.trace.len() - 3], "10743580 A>P INVITE");
    assert_eq!(w.app.log.len(), 1);
    assert_eq!(w.phone.log.len(), 1);
}

#[test]
fn session_refreshed_by_update() {
    let mut config = app_config();
    config.timer.session_expires = 120;
    config.timer.method = session_timer::RefreshMethod::Update;
    let mut w = World::new(Net::perfect(), &config, Gate::Open);
    w.open();
    w.run_until(ms(1_000), World::established);
    w.run_to(ms(600_000));
    assert!(w.established());
    assert_eq!(logged(&w.net.trace, "A>P UPDATE"), 9);
    assert_eq!(logged(&w.net.trace, "P>A 200 UPDATE"), 9);
    assert_eq!(
        w.net.trace[3..5],
        ["60020 A>P UPDATE", "60030 P>A 200 UPDATE"]
    );
    assert_eq!(logged(&w.net.trace, "A>P ACK"), 1);
}

#[test]
fn bye_from_the_application_closes_both_sides() {
    let mut w = established(Net::perfect());
    w.run_to(ms(100));
    w.app.s.close().unwrap();
    w.app.flush(w.now);
    w.settle();
    assert_eq!(w.net.trace[3..], ["100 A>P BYE", "110 P>A 200 BYE"]);
    assert_eq!(w.app.log[1..], ["120 Closed"]);
    assert_eq!(w.phone.log[1..], ["110 Ended(Bye)"]);
    assert!(w.app.s.is_done() && !w.phone.s.is_open());
    assert!(w.app.ep.tx.is_empty() && w.phone.ep.tx.is_empty());
    assert_eq!(w.app.poll_timeout(), None);
    assert_eq!(w.phone.poll_timeout(), None);
}

#[test]
fn bye_from_the_phone_loses_the_session() {
    let mut w = established(Net::perfect());
    w.run_to(ms(100));
    w.phone.s.close().unwrap();
    w.phone.flush(w.now);
    w.settle();
    assert_eq!(w.net.trace[3..], ["100 P>A BYE", "110 A>P 200 BYE"]);
    assert_eq!(
        w.app.log[1..],
        [format!("110 {:?}", AppEvent::Lost(LostReason::Bye))]
    );
    assert_eq!(w.phone.log[1..], ["100 Ended(Closed)"]);
    assert!(w.app.s.is_done());
}

#[test]
fn request_after_phone_reboot_gets_481_and_loses_the_session() {
    let mut w = established(Net::perfect());
    w.run_to(ms(100));
    // The phone reboots: a fresh session without the dialog.
    *w.phone = PhoneNode::new(Gate::Open);
    let id = w.send(&monitor_start());
    w.settle();
    assert_eq!(w.net.trace[3..], ["100 A>P INFO", "110 P>A 481 INFO"]);
    assert_eq!(
        w.app.log[1..],
        [
            format!(
                "120 {:?}",
                AppEvent::RequestFailed {
                    id: csta_core::uacsta::app::RequestId(id),
                    status: Some(StatusCode(481))
                }
            ),
            format!("120 {:?}", AppEvent::Lost(LostReason::NoDialog)),
        ]
    );
}

#[test]
fn request_timeout_when_phone_vanishes_loses_the_session() {
    let mut w = established(Net::perfect());
    w.run_to(ms(100));
    w.net.cut[usize::from(PHONE)] = true;
    w.phone.gate = Gate::Open;
    let id = w.send(&monitor_start());
    w.run_until(ms(60_000), |w| w.app.s.is_done());
    // Timer F: 64 * T1 = 32 s after the INFO.
    assert_eq!(
        w.app.log[1..],
        [
            format!(
                "32100 {:?}",
                AppEvent::RequestFailed {
                    id: csta_core::uacsta::app::RequestId(id),
                    status: None
                }
            ),
            format!("32100 {:?}", AppEvent::Lost(LostReason::Timeout)),
        ]
    );
}

#[test]
fn notify_mode_sends_each_request_out_of_dialog() {
    let mut config = app_config();
    config.mode = Mode::Notify;
    let mut w = World::new(Net::perfect(), &config, Gate::Open);
    assert!(w.app.s.is_established());
    let a = w.send(&monitor_start());
    let b = w.send(&make_call());
    w.run_until(ms(1_000), |w| logged(&w.app.log, "response") == 2);
    assert_eq!(
        w.net.trace,
        [
            "0 A>P NOTIFY",
            "10 P>A 200 NOTIFY",
            "20 A>P NOTIFY",
            "30 P>A 200 NOTIFY"
        ]
    );
    assert_eq!(
        w.app.log,
        [
            format!("20 response {a} (empty)"),
            format!("40 response {b} (empty)")
        ]
    );
    assert_eq!(w.phone.served, ["MonitorStart", "MakeCall"]);
    assert!(!w.phone.s.is_open());
}

#[test]
fn phone_answers_481_to_csta_info_outside_a_dialog() {
    let info = format!(
        "INFO {PHONE_URI} SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx2\r\n\
Max-Forwards: 70\r\n\
From: <sip:csta@server.example.com>;tag=a1\r\n\
To: <sip:201@192.0.2.7>;tag=gone\r\n\
Call-ID: c9\r\n\
CSeq: 5 INFO\r\n\
Content-Type: application/csta+xml\r\n\
Content-Length: 0\r\n\r\n"
    );
    let config = PhoneConfig::new(PHONE_URI, "SIP/2.0/UDP 192.0.2.7:5060");
    assert_eq!(phone_answer(&info, HeaderName::To, config).0, 481);
}

#[test]
fn event_queue_is_bounded() {
    let mut w = established(Net::perfect());
    w.net.cut[usize::from(APP)] = true;
    let xml = dnd_event(1);
    let d = decode(xml.as_bytes()).unwrap();
    for _ in 0..8 {
        w.phone.s.send_event(&d.message).unwrap();
    }
    assert_eq!(
        w.phone.s.send_event(&d.message),
        Err(csta_core::uacsta::SessionError::QueueFull)
    );
}

// ----- lossy networks -------------------------------------------------------------------

const SEEDS: u64 = 40;

fn lossy_nets() -> impl Iterator<Item = (u64, Net)> {
    (1..=SEEDS).map(|seed| {
        let loss = 150 + (seed % 3) * 50;
        let dup = 100 + (seed % 2) * 50;
        (seed, Net::lossy(seed, loss, dup, 200))
    })
}

#[test]
fn lossy_setup_requests_and_events() {
    let mut completed = 0;
    for (seed, net) in lossy_nets() {
        let mut config = app_config();
        config.timer.session_expires = 300;
        if seed % 2 == 0 {
            // The phone refreshes.
            config.timer.uac_refresher = Some(session_timer::Party::Remote);
        }
        let mut w = World::new(net, &config, Gate::Digest);
        w.open();
        w.run_until(ms(600_000), |w| w.app.s.is_done() || w.established());
        // With these seeds no INVITE is lost seven times in a row.
        assert!(w.established(), "seed {seed}: {:?}", w.app.log);
        let a = w.send(&monitor_start());
        let b = w.send(&make_call());
        let now = w.now;
        for n in 1..=3 {
            w.phone.event(now, &dnd_event(n));
        }
        w.run_until(ms(1_200_000), |w| {
            w.app.s.is_done()
                || (logged(&w.app.log, "response") == 2 && logged(&w.app.log, "event") == 3)
        });
        assert!(!w.app.s.is_done(), "seed {seed}: {:?}", w.app.log);
        completed += 1;
        let responses: Vec<&String> = w
            .app
            .log
            .iter()
            .filter(|l| l.contains("response"))
            .collect();
        assert!(responses[0].ends_with(&format!("response {a} MonitorStartResponse 43")));
        assert!(responses[1].ends_with(&format!("response {b} CSTAErrorCode operation")));
        let events: Vec<String> = w
            .app
            .log
            .iter()
            .filter(|l| l.contains("event"))
            .map(|l| {
                let d = decode(l.split_once("event ").unwrap().1.as_bytes()).unwrap();
                let Csta::DoNotDisturbEvent(e) = d.message else {
                    panic!()
                };
                e.device
                    .device_id()
                    .and_then(|d| d.id.as_str())
                    .unwrap_or("?")
                    .to_string()
            })
            .collect();
        assert_eq!(events, ["201", "202", "203"], "seed {seed}");
        // Each request served exactly once by the device.
        assert_eq!(w.phone.served, ["MonitorStart", "MakeCall"], "seed {seed}");
        // Keep it alive for an hour, then close.
        w.run_to(w.now + Duration::from_secs(3_600));
        if w.app.s.is_established() && w.phone.s.is_open() {
            w.app.s.close().unwrap();
            w.app.flush(w.now);
        }
        w.settle();
        assert!(w.app.s.is_done(), "seed {seed}");
        assert!(!w.phone.s.is_open(), "seed {seed}: {:?}", w.phone.log);
        assert!(
            w.app.ep.tx.is_empty() && w.phone.ep.tx.is_empty(),
            "seed {seed}"
        );
    }
    assert_eq!(completed, SEEDS);
}

#[test]
fn expiry_when_both_sides_lose_each_other() {
    let mut config = app_config();
    config.timer.session_expires = 120;
    let mut w = World::new(Net::perfect(), &config, Gate::Open);
    w.open();
    w.run_until(ms(1_000), World::established);
    w.net.cut = [true, true];
    w.settle();
    // The phone sent its 2xx at 10 ms: it expires at 10 + 120 - 32 s and sends BYE.
    assert_eq!(w.phone.log[1..], ["88010 Ended(Expired)"]);
    // The application's refresh at 60.02 s gets no answer; before its timer B (32 s)
    // fires, the session expires on its side too (2xx received at 20 ms), with a BYE.
    assert_eq!(
        w.app.log[1..],
        [format!("88020 {:?}", AppEvent::Lost(LostReason::Expired))]
    );
    assert!(w.net.trace.contains(&"88020 A>P BYE".to_string()));
    assert!(w.net.trace.contains(&"88010 P>A BYE".to_string()));
    assert!(w.app.ep.tx.is_empty() && w.phone.ep.tx.is_empty());
}

#[test]
fn phone_answers_in_the_applications_edition() {
    let mut config = app_config();
    config.edition = Edition::Ed5;
    let mut w = World::new(Net::perfect(), &config, Gate::Open);
    w.open();
    w.run_until(ms(1_000), World::established);
    assert_eq!(w.app.log, ["20 established Some(Normal) Some(Ed5)"]);
    assert_eq!(w.phone.log, ["10 Opened { edition: Some(Ed5) }"]);
    assert_eq!(w.phone.s.edition(), Edition::Ed5);
}

#[test]
fn challenged_info_is_sent_again_with_credentials() {
    let mut w = World::new(Net::perfect(), &app_config(), Gate::DigestInfo);
    w.open();
    w.run_until(ms(1_000), World::established);
    w.run_to(ms(100));
    let a = w.send(&monitor_start());
    w.run_until(ms(1_000), |w| logged(&w.app.log, "response") == 1);
    assert_eq!(
        w.net.trace[3..],
        [
            "100 A>P INFO",
            "110 P>A 401 INFO",
            "120 A>P INFO",
            "130 P>A 200 INFO"
        ]
    );
    assert_eq!(
        w.app.log[1..],
        [format!("140 response {a} MonitorStartResponse 43")]
    );
    // The next request carries credentials at once (nonce count 2).
    let b = w.send(&make_call());
    w.run_until(ms(2_000), |w| logged(&w.app.log, "response") == 2);
    assert_eq!(w.net.trace[7..], ["140 A>P INFO", "150 P>A 200 INFO"]);
    assert!(w.app.log[2].ends_with(&format!("response {b} CSTAErrorCode operation")));
}

#[test]
fn info_with_wrong_credentials_fails_the_request_only() {
    let mut config = app_config();
    config.credentials = Some(("201", "wrong"));
    let mut w = World::new(Net::perfect(), &config, Gate::DigestInfo);
    w.open();
    w.run_until(ms(1_000), World::established);
    w.run_to(ms(100));
    let a = w.send(&monitor_start());
    w.run_until(ms(1_000), |w| logged(&w.app.log, "RequestFailed") == 1);
    assert_eq!(
        w.app.log[1..],
        [format!(
            "140 {:?}",
            AppEvent::RequestFailed {
                id: csta_core::uacsta::app::RequestId(a),
                status: Some(StatusCode::UNAUTHORIZED)
            }
        )]
    );
    assert!(w.app.s.is_established());
}

#[test]
fn phone_refreshes_when_the_application_asks_it_to() {
    let mut config = app_config();
    config.timer.session_expires = 120;
    config.timer.uac_refresher = Some(session_timer::Party::Remote);
    let mut w = World::new(Net::perfect(), &config, Gate::Open);
    w.open();
    w.run_until(ms(1_000), World::established);
    assert_eq!(
        w.phone.s.timer().refresher(),
        Some(session_timer::Party::Local)
    );
    w.run_to(ms(200_000));
    assert!(w.established());
    // The phone sent its 2xx at 10 ms: re-INVITEs at 60.01 s, then 60.02 s after each
    // 2xx received (20 ms later).
    assert_eq!(
        w.net.trace[3..9],
        [
            "60010 P>A INVITE",
            "60020 A>P 200 INVITE",
            "60030 P>A ACK",
            "120030 P>A INVITE",
            "120040 A>P 200 INVITE",
            "120050 P>A ACK"
        ]
    );
    assert_eq!(w.net.trace.len(), 12);
    assert_eq!(w.app.log.len(), 1);
    assert_eq!(w.phone.log.len(), 1);
}

#[test]
fn lossy_notify_mode_serves_each_request_once() {
    for (seed, net) in lossy_nets() {
        let mut config = app_config();
        config.mode = Mode::Notify;
        let mut w = World::new(net, &config, Gate::Open);
        let a = w.send(&monitor_start());
        let b = w.send(&make_call());
        w.run_until(ms(600_000), |w| {
            logged(&w.app.log, "response") + logged(&w.app.log, "RequestFailed") == 2
        });
        assert_eq!(
            w.app
                .log
                .iter()
                .map(|l| l.split_once(' ').unwrap().1)
                .collect::<Vec<_>>(),
            [
                format!("response {a} (empty)"),
                format!("response {b} (empty)")
            ],
            "seed {seed}"
        );
        assert_eq!(w.phone.served, ["MonitorStart", "MakeCall"], "seed {seed}");
        w.settle();
        assert!(
            w.app.ep.tx.is_empty() && w.phone.ep.tx.is_empty(),
            "seed {seed}"
        );
    }
}

#[test]
fn new_session_replaces_the_old_one_at_the_phone() {
    let mut w = established(Net::perfect());
    w.run_to(ms(100));
    // The server restarted: a new application session (new Call-ID) opens while the
    // old one is still registered with the transaction layer of the old node.
    let old = std::mem::replace(&mut w.app, Box::new(AppNode::with_seed(&app_config(), 7)));
    assert_ne!(old.s.call_id(), w.app.s.call_id());
    w.open();
    w.run_until(ms(1_000), World::established);
    assert_eq!(
        w.phone.log,
        [
            "10 Opened { edition: Some(Ed3) }",
            "110 Ended(Replaced)",
            "110 Opened { edition: Some(Ed3) }"
        ]
    );
    assert_eq!(w.phone.s.call_id(), Some(w.app.s.call_id()));
    // The old dialog is gone at the phone: an INFO in it gets 481.
    let mut old = old;
    let id = old.s.send(&monitor_start()).unwrap();
    old.flush(w.now);
    let info = old.ep.outbox.pop().expect("INFO");
    w.phone.receive(w.now, &info);
    let answer = w.phone.ep.outbox.pop().expect("answer");
    assert_eq!(summary(&answer), "481 INFO");
    old.receive(w.now, &answer);
    assert_eq!(
        old.log[1..],
        [
            format!(
                "{} {:?}",
                w.now.as_millis(),
                AppEvent::RequestFailed {
                    id,
                    status: Some(StatusCode(481))
                }
            ),
            format!(
                "{} {:?}",
                w.now.as_millis(),
                AppEvent::Lost(LostReason::NoDialog)
            ),
        ]
    );
}

// ----- late answers to abandoned requests ----------------------------------------------

#[test]
fn late_2xx_after_close_is_acked_and_byed() {
    let mut w = World::new(Net::perfect(), &app_config(), Gate::Open);
    w.open();
    w.post();
    // The 200 is on its way when the owner gives up.
    w.run_to(ms(15));
    w.app
        .s
        .close()
        .expect("an INVITE in flight can be abandoned");
    w.app.flush(w.now);
    w.settle();
    assert_eq!(
        w.net.trace,
        [
            "0 A>P INVITE",
            "10 P>A 200 INVITE",
            "20 A>P ACK",
            "20 A>P BYE",
            "30 P>A 200 BYE"
        ]
    );
    // The owner saw the end once, never an Established.
    assert_eq!(w.app.log, [format!("15 {:?}", AppEvent::Closed)]);
    assert_eq!(
        w.phone.log,
        ["10 Opened { edition: Some(Ed3) }", "30 Ended(Bye)"]
    );
    assert!(!w.phone.s.is_open());
    assert!(w.app.s.is_done());
}

#[test]
fn late_2xx_after_invite_failed_is_acked_and_byed_once() {
    let mut w = World::new(Net::perfect(), &app_config(), Gate::Open);
    w.open();
    w.post();
    // The phone's answers are lost for a while; the owner reports the INVITE failed.
    w.net.cut[usize::from(PHONE)] = true;
    w.run_to(ms(1_000));
    w.app.s.handle_request_failed(w.now, 1, Method::Invite);
    w.app.flush(w.now);
    assert_eq!(
        w.app.log,
        [format!(
            "1000 {:?}",
            AppEvent::Failed {
                failure: Failure::Timeout,
                reason: ""
            }
        )]
    );
    w.net.cut[usize::from(PHONE)] = false;
    w.settle();
    // The next retransmission of the 200 (T1 doubling: 510, 1510 ms) gets an ACK and a
    // BYE; nothing more is retransmitted. (The INVITE's own transaction, which the owner
    // did not end in this test, retransmits it over UDP meanwhile.)
    assert_eq!(
        w.net.trace,
        [
            "0 A>P INVITE",
            "10 P>A 200 INVITE",
            "500 A>P INVITE",
            "510 P>A 200 INVITE",
            "1500 A>P INVITE",
            "1510 P>A 200 INVITE",
            "1520 A>P ACK",
            "1520 A>P BYE",
            "1530 P>A 200 BYE"
        ]
    );
    assert_eq!(w.app.log.len(), 1);
    assert_eq!(
        w.phone.log,
        ["10 Opened { edition: Some(Ed3) }", "1530 Ended(Bye)"]
    );
    assert!(!w.phone.s.is_open());
}

#[test]
fn late_2xx_is_acked_again_when_retransmitted() {
    let mut w = World::new(Net::perfect(), &app_config(), Gate::Open);
    w.open();
    w.post();
    w.run_to(ms(15));
    w.app.s.close().unwrap();
    w.app.flush(w.now);
    // The phone's copy of the ACK is lost: it retransmits the 200, which gets the same
    // ACK again (and the BYE is retransmitted by its transaction meanwhile).
    w.net.cut[usize::from(APP)] = true;
    w.run_to(ms(400));
    w.net.cut[usize::from(APP)] = false;
    w.settle();
    assert_eq!(logged(&w.net.trace, "A>P ACK"), 2, "{:#?}", w.net.trace);
    assert_eq!(logged(&w.net.trace, "P>A 200 INVITE"), 2);
    assert_eq!(logged(&w.net.trace, "P>A 200 BYE"), 1);
    assert!(!w.phone.s.is_open());
    assert_eq!(w.app.log, [format!("15 {:?}", AppEvent::Closed)]);
}

// ----- full queues ------------------------------------------------------------------------

/// The devices of the DND events in the application's log, in order.
fn event_devices(log: &[String]) -> Vec<String> {
    log.iter()
        .filter_map(|l| l.split_once(" event "))
        .map(|(_, xml)| {
            let d = decode(xml.as_bytes()).unwrap();
            let Csta::DoNotDisturbEvent(e) = d.message else {
                panic!("not DND")
            };
            e.device
                .device_id()
                .and_then(|d| d.id.as_str())
                .unwrap_or("?")
                .to_string()
        })
        .collect()
}

#[test]
fn burst_larger_than_the_event_queue_arrives_once_in_order() {
    let mut w = established(Net::perfect());
    w.run_to(ms(100));
    w.app.hold_events = true;
    // 12 events for an application queue of 8, the phone's queue topped up as it drains.
    let mut next = 1;
    while w.now < ms(20_000) {
        while next <= 12
            && w.phone
                .s
                .send_event(&decode(dnd_event(next).as_bytes()).unwrap().message)
                .is_ok()
        {
            next += 1;
        }
        w.phone.flush(w.now);
        w.post();
        let t = w.now + Duration::from_millis(50);
        w.run_to(t);
        if w.now >= ms(5_000) {
            w.app.hold_events = false;
            w.app.flush(w.now);
            w.post();
        }
    }
    w.run_to(ms(60_000));
    let want: Vec<String> = (1..=12).map(|n| format!("20{n}")).collect();
    assert_eq!(event_devices(&w.app.log), want);
    // The ninth was refused while the owner did not poll, then sent again.
    assert!(logged(&w.net.trace, "A>P 503 INFO") >= 1);
    assert_eq!(logged(&w.net.trace, "A>P 200 INFO"), 12);
    assert!(!w.phone.log.iter().any(|l| l.contains("EventRejected")));
}

#[test]
fn answers_to_requests_keep_their_room_in_the_event_queue() {
    let mut w = established(Net::perfect());
    w.run_to(ms(100));
    w.app.hold_events = true;
    for n in 1..=6 {
        w.phone.event(w.now, &dnd_event(n));
    }
    w.post();
    w.run_to(ms(500));
    // 6 events wait; two answers still fit, a third request would take the room of
    // nothing: refused.
    let a = w.send(&monitor_start());
    let b = w.send(&make_call());
    assert_eq!(
        w.app.s.send(&monitor_start()),
        Err(csta_core::uacsta::SessionError::QueueFull),
        "{:#?}",
        w.net.trace
    );
    assert_eq!(
        w.app.s.send(&monitor_start()),
        Err(csta_core::uacsta::SessionError::QueueFull)
    );
    // An event now would take the room of an owed answer: 503, sent again later.
    w.phone.event(w.now, &dnd_event(7));
    w.post();
    w.run_to(ms(3_000));
    assert!(logged(&w.net.trace, "A>P 503 INFO") >= 1);
    w.app.hold_events = false;
    w.app.flush(w.now);
    w.post();
    w.run_to(ms(10_000));
    let lines: Vec<&str> = w.app.log[1..]
        .iter()
        .map(|l| l.split_once(' ').unwrap().1)
        .collect();
    assert_eq!(lines.len(), 9, "{lines:#?}");
    assert_eq!(
        lines[6..8],
        [
            format!("response {a} MonitorStartResponse 43"),
            format!("response {b} CSTAErrorCode operation")
        ]
    );
    assert_eq!(
        event_devices(&w.app.log),
        ["201", "202", "203", "204", "205", "206", "207"]
    );
}

#[test]
fn event_refused_without_retry_after_is_given_up_after_five_retries() {
    let mut w = established(Net::perfect());
    w.run_to(ms(100));
    w.app.refuse_events = true;
    let now = w.now;
    w.phone.event(now, &dnd_event(1));
    w.phone.event(now, &dnd_event(2));
    w.post();
    w.run_to(ms(5_900));
    w.app.refuse_events = false;
    w.run_to(ms(10_000));
    // The first: sent, then again after a second five times, then given up.
    let infos: Vec<&String> = w.net.trace[3..]
        .iter()
        .filter(|l| l.contains("INFO"))
        .collect();
    assert_eq!(
        infos,
        [
            "100 P>A INFO",
            "110 A>P 503 INFO",
            "1120 P>A INFO",
            "1130 A>P 503 INFO",
            "2140 P>A INFO",
            "2150 A>P 503 INFO",
            "3160 P>A INFO",
            "3170 A>P 503 INFO",
            "4180 P>A INFO",
            "4190 A>P 503 INFO",
            "5200 P>A INFO",
            "5210 A>P 503 INFO",
            // Given up; the second event follows at once.
            "5220 P>A INFO",
            "5230 A>P 503 INFO",
            "6240 P>A INFO",
            "6250 A>P 200 INFO",
        ]
    );
    assert_eq!(
        w.phone.log[1..],
        ["5220 EventRejected(Some(StatusCode(503)))"]
    );
    assert_eq!(event_devices(&w.app.log), ["202"]);
}

#[test]
fn late_2xx_to_a_failed_refresh_is_acked_and_byed() {
    let mut config = app_config();
    config.timer.session_expires = 120;
    let mut w = World::new(Net::perfect(), &config, Gate::Open);
    w.open();
    w.run_until(ms(1_000), World::established);
    // The re-INVITE goes out at 60.02 s; the phone's answers are lost for a while and
    // the owner reports the re-INVITE's transaction failed (a transport error).
    w.net.cut[usize::from(PHONE)] = true;
    w.run_to(ms(61_000));
    let (cseq, method) = w
        .app
        .ep
        .forget_request(Method::Invite)
        .expect("the re-INVITE is out");
    w.app.s.handle_request_failed(w.now, cseq, method);
    w.app.flush(w.now);
    assert_eq!(
        w.app.log[1..],
        [format!("61000 {:?}", AppEvent::Lost(LostReason::Timeout))]
    );
    w.net.cut[usize::from(PHONE)] = false;
    w.run_to(ms(70_000));
    // The 200's retransmission at 61.53 s is acknowledged and the dialog ended.
    let after: Vec<&String> = w
        .net
        .trace
        .iter()
        .filter(|l| l.split(' ').next().unwrap().parse::<u64>().unwrap() > 61_000)
        .filter(|l| !l.ends_with("A>P INVITE"))
        .collect();
    assert_eq!(
        after,
        [
            "61530 P>A 200 INVITE",
            "61540 A>P ACK",
            "61540 A>P BYE",
            "61550 P>A 200 BYE"
        ]
    );
    assert_eq!(w.phone.log[1..], ["61550 Ended(Bye)"]);
    assert!(!w.phone.s.is_open());
}

#[test]
fn unknown_csta_service_is_answered_service_not_supported() {
    let mut w = established(Net::perfect());
    w.run_to(ms(100));
    // An INFO of the dialog as the application writes it, carrying a service this
    // crate has no message for.
    w.app.s.send(&monitor_start()).unwrap();
    let mut buf = [0u8; BUF];
    let out = w
        .app
        .s
        .poll_request(w.now, &mut w.app.ep.ids, &mut buf)
        .unwrap()
        .unwrap();
    let text = String::from_utf8(buf[..out.len].to_vec()).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let clear = r#"<ClearCall xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3"><callToBeCleared><callID>1</callID><deviceID>201</deviceID></callToBeCleared></ClearCall>"#;
    let head = head.replace(
        &format!("Content-Length: {}", body.len()),
        &format!("Content-Length: {}", clear.len()),
    );
    w.phone
        .receive(w.now, format!("{head}\r\n\r\n{clear}").as_bytes());
    let answer = w.phone.ep.outbox.pop().expect("answered");
    assert_eq!(summary(&answer), "200 INFO");
    let mut hs = [HeaderIndex::EMPTY; 64];
    let msg = Message::parse(&answer, &mut hs).unwrap();
    assert_eq!(
        decode(msg.body()).unwrap().message,
        Csta::CSTAErrorCode(ErrorCode::Operation(Operation::ServiceNotSupported))
    );
    assert!(w.phone.served.is_empty());
    // Broken XML is still a SIP error.
    let broken = head.replace(
        &format!("Content-Length: {}", clear.len()),
        "Content-Length: 11",
    );
    // A new transaction: another branch and CSeq.
    let broken = broken.replace("branch=z9hG4bK", "branch=z9hG4bKx").replace(
        &format!("CSeq: {} INFO", out.cseq),
        &format!("CSeq: {} INFO", out.cseq + 1),
    );
    w.phone
        .receive(w.now, format!("{broken}\r\n\r\n<ClearCall>").as_bytes());
    assert_eq!(summary(&w.phone.ep.outbox.pop().unwrap()), "400 INFO");
}

#[test]
fn requests_follow_the_edition_the_phone_answered_in() {
    let mut w = World::new(Net::perfect(), &app_config(), Gate::Open);
    w.app.s.open().unwrap();
    w.app.flush(ms(0));
    let invite = w.app.ep.outbox.pop().expect("INVITE");
    w.phone.receive(ms(5), &invite);
    // The phone answers in edition 5 although it was asked in edition 3.
    let answer = String::from_utf8(w.phone.ep.outbox.pop().expect("200"))
        .unwrap()
        .replace("ecma-323/csta/ed3", "ecma-323/csta/ed5")
        .into_bytes();
    w.app.receive(ms(10), &answer);
    assert_eq!(w.app.log, ["10 established Some(Normal) Some(Ed5)"]);
    w.app.s.send(&monitor_start()).unwrap();
    w.app.flush(ms(20));
    let info = w
        .app
        .ep
        .outbox
        .iter()
        .find(|m| m.starts_with(b"INFO "))
        .expect("INFO")
        .clone();
    let mut hs = [HeaderIndex::EMPTY; 64];
    let msg = Message::parse(&info, &mut hs).unwrap();
    let body = decode(msg.body()).unwrap();
    assert_eq!(body.message.name(), "MonitorStart");
    assert_eq!(body.edition, Some(Edition::Ed5));
}

/// An unconfigured phone session (all zero bits, for a `static`) refuses every request
/// and has nothing to do; configured in place it accepts the CSTA INVITE; configured
/// again while open it starts over: closed, its events and its 2xx retransmission gone,
/// and it accepts the next INVITE. A configuration that does not fit changes nothing.
#[test]
fn phone_session_configured_in_place_and_again() {
    use csta_core::uacsta::SessionError;
    use csta_core::uacsta::phone::PhoneEvent;
    let mut ids = IdGenerator::new([3; 32]);
    let mut phone = Box::new(Phone::unconfigured());
    let invite = invite_with("application/csta+xml", "");
    let mut hs = [HeaderIndex::EMPTY; 64];
    let msg = Message::parse(invite.as_bytes(), &mut hs).unwrap();
    let mut buf = [0u8; BUF];
    let mut dev = device;
    assert!(!phone.is_configured());
    assert_eq!(
        phone.handle_request(ms(0), &msg, &mut dev, &mut buf),
        Err(SessionError::NotConfigured)
    );
    assert_eq!(phone.poll_timeout(), None);
    assert_eq!(phone.timer().poll_timeout(), None);
    assert!(phone.poll_request(ms(0), &mut ids, &mut buf).is_none());
    phone.handle_timeout(ms(1_000_000));
    assert_eq!(phone.poll_event(), None);
    assert!(!phone.is_open());

    let config = PhoneConfig::new(PHONE_URI, "SIP/2.0/UDP 192.0.2.7:5060");
    phone.configure(&config, &mut ids).unwrap();
    let mut status = |phone: &mut Phone, buf: &mut [u8; BUF]| {
        let n = phone.handle_request(ms(0), &msg, &mut dev, buf).unwrap();
        let mut hs = [HeaderIndex::EMPTY; 64];
        Message::parse(&buf[..n], &mut hs)
            .unwrap()
            .status()
            .unwrap()
            .0
    };
    assert_eq!(status(&mut phone, &mut buf), 200);
    assert!(phone.is_open());
    assert_eq!(
        phone.poll_event(),
        Some(PhoneEvent::Opened { edition: None })
    );
    assert!(
        phone.poll_timeout().is_some(),
        "the 2xx is resent until the ACK"
    );

    let long = "x".repeat(300);
    let bad = PhoneConfig::new(&long, "SIP/2.0/UDP 192.0.2.7:5060");
    assert_eq!(phone.configure(&bad, &mut ids), Err(SessionError::TooLong));
    assert!(phone.is_open(), "unchanged");

    phone.send_event(&monitor_start()).unwrap();
    phone.configure(&config, &mut ids).unwrap();
    assert!(phone.is_configured() && !phone.is_open());
    assert_eq!(phone.poll_event(), None);
    assert_eq!(phone.poll_timeout(), None);
    assert!(phone.poll_request(ms(0), &mut ids, &mut buf).is_none());
    assert!(phone.is_idle(), "the queued event is gone");
    assert_eq!(status(&mut phone, &mut buf), 200);
    assert!(phone.is_open());
}
