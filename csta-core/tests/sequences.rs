//! The call-model sequences of PROTOCOL.md section 5, end to end: a server-side
//! application session (`AppSession`) feeding a device view (`model::view`) talks over
//! simulated SIP to a phone session (`PhoneSession`) whose device is the phone-side
//! call model (`model::phone::Device`), with the test playing the phone's owner (it
//! carries out the device's commands and reports the calls' progress).
//!
//! Every scenario runs once over a perfect network and again over lossy ones (loss,
//! duplication, reordering by jitter) with the same assertions: after every step, the
//! CSTA response and the CSTA events that reached the application, written out in full,
//! and the view the application keeps.

mod common;

use std::boxed::Box;
use std::collections::HashMap;
use std::format;
use std::string::String;
use std::vec::Vec;

use common::{APP, BUF, Endpoint, Net, PHONE};
use csta_core::message::Decoded;
use csta_core::model::phone::{CallRef, Command, Device, Divert, Forward, Progress};
use csta_core::model::view::DeviceView;
use csta_core::uacsta::app::{AppConfig, AppEvent, AppSession};
use csta_core::uacsta::phone::{PhoneConfig, PhoneEvent, PhoneSession};
use csta_core::xml::{Event, Reader};
use csta_core::{Edition, decode};
use sip_lite::time::Instant;
use sip_lite::transaction::Received;
use sip_lite::wire::{HeaderIndex, Message};

type App = AppSession<8, BUF>;
type Phone = PhoneSession<8, BUF>;
type Model = Device<4>;
type View = DeviceView<4>;

/// The phone's device ID, as its call model writes it.
const ME: &str = "sip:201@192.0.2.7";
const PHONE_URI: &str = "sip:201@192.0.2.7:5060";

/// How long any one step may take on the virtual clock.
const STEP_LIMIT_MS: u64 = 120_000;

// ----- the CSTA on the wire, written out ------------------------------------------------

/// A CSTA body in one line, every element and value kept: `<a><b>1</b><c/></a>` is
/// `a{b=1 c}`. The namespace and declaration are left out.
fn compact(body: &[u8]) -> String {
    struct Node {
        name: String,
        text: String,
        children: Vec<String>,
    }
    let mut reader = Reader::new(body).expect("a CSTA body");
    let mut stack: Vec<Node> = Vec::new();
    loop {
        match reader.next_event().expect("well-formed") {
            Event::Start(e) => stack.push(Node {
                name: e.local_name().into(),
                text: String::new(),
                children: Vec::new(),
            }),
            Event::Text(t) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(t.to_string().trim());
                }
            }
            Event::End(_) => {
                let node = stack.pop().expect("balanced");
                let written = match (node.children.is_empty(), node.text.is_empty()) {
                    (true, true) => node.name,
                    (true, false) => format!("{}={}", node.name, node.text),
                    _ => format!("{}{{{}}}", node.name, node.children.join(" ")),
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(written),
                    None => return written,
                }
            }
            Event::Eof => panic!("no root element"),
            _ => {}
        }
    }
}

fn request(xml: &str) -> Decoded<'_> {
    decode(xml.as_bytes()).unwrap_or_else(|e| panic!("{e:?} decoding {xml}"))
}

// ----- the application side -------------------------------------------------------------

struct AppNode {
    ep: Endpoint,
    s: App,
    /// The server's picture of the phone, fed with every CSTA message exchanged.
    view: View,
    /// Answers by request ID, compacted.
    responses: HashMap<u32, String>,
    /// Events not yet taken by the test, compacted, in arrival order.
    events: Vec<String>,
    /// The session's other reports.
    log: Vec<String>,
}

fn app_config() -> AppConfig<'static> {
    AppConfig::new(
        PHONE_URI,
        "sip:csta@server.example.com",
        "sip:csta@192.0.2.1:5060",
        "SIP/2.0/UDP 192.0.2.1:5060",
    )
}

impl AppNode {
    fn new() -> AppNode {
        let mut ep = Endpoint::new(1, PHONE);
        let s = App::new(&app_config(), &mut ep.ids).expect("config fits");
        AppNode {
            ep,
            s,
            view: View::new(ME).expect("device ID fits"),
            responses: HashMap::new(),
            events: Vec::new(),
            log: Vec::new(),
        }
    }

    /// A new session in place of one that ended.
    fn renew(&mut self) {
        self.s = App::new(&app_config(), &mut self.ep.ids).expect("config fits");
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
                match ev {
                    AppEvent::Response { id, body } => {
                        let m = decode(body).expect("the phone's answer decodes");
                        self.view
                            .handle_message(&m.message)
                            .expect("the view takes the answer");
                        self.responses.insert(id.0, compact(body));
                    }
                    AppEvent::Event { body } => {
                        let m = decode(body).expect("the phone's event decodes");
                        self.view
                            .handle_message(&m.message)
                            .expect("the view takes the event");
                        self.events.push(compact(body));
                    }
                    AppEvent::Established { .. } => self.log.push("established".into()),
                    other => self.log.push(format!("{other:?}")),
                }
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
                let n = self
                    .s
                    .handle_request(now, &msg, &mut buf)
                    .expect("answerable");
                self.ep.tx.respond(now, stx, &buf[..n]).expect("respond");
            }
            Received::Ack => {
                let _ = self.s.handle_request(now, &msg, &mut buf);
            }
            Received::Response(c) => {
                let _ = self.s.handle_response(now, &msg);
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

// ----- the phone side -------------------------------------------------------------------

struct PhoneNode {
    ep: Endpoint,
    s: Phone,
    device: Model,
    /// What the device asked its owner to do, not yet taken by the test.
    commands: Vec<Command>,
    log: Vec<String>,
}

impl PhoneNode {
    fn new() -> PhoneNode {
        let mut ep = Endpoint::new(2, APP);
        let config = PhoneConfig::new(PHONE_URI, "SIP/2.0/UDP 192.0.2.7:5060");
        let s = Phone::new(&config, &mut ep.ids).expect("config fits");
        PhoneNode {
            ep,
            s,
            device: Model::new(ME).expect("device ID fits"),
            commands: Vec::new(),
            log: Vec::new(),
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

    /// Moves the device's events into the session and its commands to the owner.
    fn pump(&mut self) {
        while let Some(e) = self.device.poll_event() {
            self.s
                .send_event(&e.message())
                .expect("an event while the session is open, with room for it");
        }
        while let Some(c) = self.device.poll_command() {
            self.commands.push(c);
        }
    }

    fn flush(&mut self, now: Instant) {
        loop {
            self.pump();
            let mut moved = self.ep.drive(now, &mut self.s);
            while let Some(ev) = self.s.poll_event() {
                moved = true;
                // uaCSTA monitors live as long as their dialog.
                if let PhoneEvent::Ended(_) = ev {
                    self.device.stop_monitors();
                }
                self.log.push(format!("{} {ev:?}", now.as_millis()));
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
            .receive(now, APP, false, &msg)
            .expect("receivable")
        {
            Received::Request(stx) => {
                let device = &mut self.device;
                let mut serve = |r: &Decoded<'_>, edition: Edition, out: &mut [u8]| {
                    device
                        .handle_request(&r.message)
                        .message()
                        .encode(edition, out)
                };
                let n = self
                    .s
                    .handle_request(now, &msg, &mut serve, &mut buf)
                    .expect("answerable");
                self.ep.tx.respond(now, stx, &buf[..n]).expect("respond");
            }
            Received::Ack => {
                let mut serve = |_: &Decoded<'_>, _: Edition, _: &mut [u8]| Ok(0);
                let _ = self.s.handle_request(now, &msg, &mut serve, &mut buf);
            }
            Received::Response(c) => {
                let _ = self.s.handle_response(now, &msg);
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

// ----- the two together -----------------------------------------------------------------

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

struct Sim {
    /// Whether the network loses nothing (the SIP trace is then exact).
    perfect: bool,
    now: Instant,
    net: Net,
    app: Box<AppNode>,
    phone: Box<PhoneNode>,
}

impl Sim {
    /// An established session with the monitor started.
    fn new(net: Net) -> Sim {
        let mut sim = Sim {
            perfect: false,
            now: Instant::ZERO,
            net,
            app: Box::new(AppNode::new()),
            phone: Box::new(PhoneNode::new()),
        };
        sim.open();
        assert_eq!(
            sim.request(&monitor_start()),
            resp(
                "MonitorStartResponse{monitorCrossRefID=1 monitorExistingCalls=true}",
                &[]
            )
        );
        assert_eq!(sim.app.view.monitor_cross_ref_id(), Some("1"));
        sim
    }

    /// Opens the application's session and waits until both sides have it.
    fn open(&mut self) {
        self.app.s.open().expect("a new session");
        self.app.flush(self.now);
        self.run_until("the session is up", |s| {
            s.app.s.is_established() && s.phone.s.is_open()
        });
    }

    fn step(&mut self) -> bool {
        common::step(
            &mut self.now,
            &mut self.net,
            &mut *self.app,
            &mut *self.phone,
        )
    }

    fn run_until(&mut self, what: &str, done: impl Fn(&Sim) -> bool) {
        let limit = self.now + core::time::Duration::from_millis(STEP_LIMIT_MS);
        while !done(self) {
            assert!(
                self.step() && self.now <= limit,
                "{what}: not by {limit:?}\napp {:?}\nphone {:?}\n{:#?}",
                self.app.log,
                self.phone.log,
                self.net.trace
            );
        }
    }

    /// Sends a CSTA request (XML) from the application and waits for its answer and
    /// for every event the phone emitted meanwhile: returns both, compacted.
    fn request(&mut self, xml: &str) -> (String, Vec<String>) {
        let r = request(xml);
        // The view learns the settings asked for (DND, forwarding) from the request.
        self.app.view.handle_message(&r.message).expect("view");
        let id = self.app.s.send(&r.message).expect("queued").0;
        self.app.flush(self.now);
        self.run_until(xml, |s| {
            s.app.responses.contains_key(&id) && s.phone.s.is_idle()
        });
        let response = self.app.responses.remove(&id).expect("answered");
        (response, self.app.events.drain(..).collect())
    }

    /// The phone's call model, for the owner's reports.
    fn device(&mut self) -> &mut Model {
        &mut self.phone.device
    }

    /// Delivers what the device emitted since the last step and returns the events
    /// the application received, compacted.
    fn events(&mut self) -> Vec<String> {
        self.phone.flush(self.now);
        self.run_until("events delivered", |s| s.phone.s.is_idle());
        self.app.events.drain(..).collect()
    }

    /// The owner reports `progress` on `call`: the events that follow.
    fn progress(&mut self, call: CallRef, progress: Progress<'_>) -> Vec<String> {
        self.device()
            .handle_progress(call, progress)
            .expect("a report the device takes");
        self.events()
    }

    /// What the device asked its owner to do since the last call.
    fn commands(&mut self) -> Vec<Command> {
        self.phone.commands.drain(..).collect()
    }

    /// The view, one `|`-separated entry per call, then DND and forwarding.
    fn view(&self) -> String {
        let v = &self.app.view;
        let mut parts: Vec<String> = v
            .calls()
            .map(|c| {
                let mut s = format!(
                    "{} {} {:?} {:?} peer={}",
                    c.call_id(),
                    c.local_state().as_str(),
                    c.tapi_state(),
                    c.direction(),
                    c.peer().unwrap_or("-")
                );
                if let Some(x) = c.consultation_of() {
                    s += &format!(" consults={x}");
                }
                if c.in_conference() {
                    s += &format!(" conference={}", c.conference_parties());
                }
                if let Some(cause) = c.cause() {
                    s += &format!(" cause={cause}");
                }
                s
            })
            .collect();
        if let Some(dnd) = v.dnd() {
            parts.push(format!("dnd={dnd}"));
        }
        for f in v.forwarding() {
            parts.push(format!(
                "{}={}>{}",
                f.forwarding_type(),
                f.is_on(),
                f.destination().unwrap_or("-")
            ));
        }
        parts.join(" | ")
    }
}

/// Runs `scenario` over a perfect network, then over lossy ones, on a thread with
/// room for the nodes' fixed-size tables.
fn run(scenario: fn(&mut Sim)) {
    let body = move || {
        let mut sim = Sim::new(Net::perfect());
        sim.perfect = true;
        scenario(&mut sim);
        for seed in 1..=12u64 {
            eprintln!("lossy network, seed {seed}");
            let loss = 100 + seed * 15;
            scenario(&mut Sim::new(Net::lossy(seed, loss, 50, 200)));
        }
    };
    let runner = std::thread::Builder::new()
        .stack_size(32 << 20)
        .spawn(body)
        .expect("a thread");
    if let Err(panic) = runner.join() {
        std::panic::resume_unwind(panic);
    }
}

// ----- requests -------------------------------------------------------------------------

fn monitor_start() -> String {
    format!(
        "<MonitorStart><monitorObject><deviceObject>{ME}</deviceObject></monitorObject></MonitorStart>"
    )
}

fn conn(element: &str, call: &str) -> String {
    format!("<{element}><callID>{call}</callID><deviceID>{ME}</deviceID></{element}>")
}

fn make_call(to: &str) -> String {
    format!(
        "<MakeCall><callingDevice>{ME}</callingDevice><calledDirectoryNumber>{to}</calledDirectoryNumber><autoOriginate>doNotPrompt</autoOriginate></MakeCall>"
    )
}

fn two(op: &str, first: (&str, &str), second: (&str, &str)) -> String {
    format!(
        "<{op}>{}{}</{op}>",
        conn(first.0, first.1),
        conn(second.0, second.1)
    )
}

fn one(op: &str, element: &str, call: &str, rest: &str) -> String {
    format!("<{op}>{}{rest}</{op}>", conn(element, call))
}

fn buf(s: &str) -> csta_core::model::phone::DeviceIdBuf {
    heapless::String::try_from(s).expect("fits")
}

fn ev(events: &[&str]) -> Vec<String> {
    events.iter().map(|e| e.replace("$ME", ME)).collect()
}

fn resp(response: &str, events: &[&str]) -> (String, Vec<String>) {
    (response.replace("$ME", ME), ev(events))
}

fn originate(sim: &mut Sim, to: &str) -> CallRef {
    let cmds = sim.commands();
    let [Command::Originate { call, to: dialled }] = &cmds[..] else {
        panic!("{cmds:?}")
    };
    assert_eq!(dialled, to);
    *call
}

// ----- 1. MakeCall --------------------------------------------------------------------

fn make_call_answered_then_cleared(sim: &mut Sim) {
    let mark = sim.net.trace.len();
    assert_eq!(
        sim.request(&make_call("202")),
        resp(
            "MakeCallResponse{callingDevice{callID=1 deviceID=$ME}}",
            &[
                "ServiceInitiatedEvent{monitorCrossRefID=1 initiatedConnection{callID=1 deviceID=$ME} initiatingDevice{deviceIdentifier=$ME} localConnectionInfo=initiated cause=makeCall}",
            ],
        ),
    );
    assert_eq!(
        sim.view(),
        "1 initiated Dialtone Outgoing peer=- cause=makeCall",
    );
    if sim.perfect {
        // The request and its answer, then the event in its own INFO.
        assert_eq!(
            sim.net.trace[mark..],
            [
                "40 A>P INFO",
                "50 P>A 200 INFO",
                "50 P>A INFO",
                "60 A>P 200 INFO"
            ]
        );
    }
    let call = originate(sim, "202");
    assert_eq!(
        sim.progress(call, Progress::Originated { called: "202" }),
        ev(&[
            "OriginatedEvent{monitorCrossRefID=1 originatedConnection{callID=1 deviceID=$ME} callingDevice{deviceIdentifier=$ME} calledDevice{deviceIdentifier=202} localConnectionInfo=connected cause=makeCall}",
        ]),
    );
    assert_eq!(
        sim.view(),
        "1 connected Proceeding Outgoing peer=202 cause=makeCall",
    );
    assert_eq!(
        sim.progress(call, Progress::Ringing),
        ev(&[
            "DeliveredEvent{monitorCrossRefID=1 connection{callID=1 deviceID=202} alertingDevice{deviceIdentifier=202} callingDevice{deviceIdentifier=$ME} calledDevice{deviceIdentifier=202} localConnectionInfo=connected}",
        ]),
    );
    assert_eq!(
        sim.view(),
        "1 connected Ringback Outgoing peer=202 cause=makeCall",
    );
    assert_eq!(
        sim.progress(call, Progress::Answered),
        ev(&[
            "EstablishedEvent{monitorCrossRefID=1 establishedConnection{callID=1 deviceID=202} answeringDevice{deviceIdentifier=202} callingDevice{deviceIdentifier=$ME} calledDevice{deviceIdentifier=202} localConnectionInfo=connected}",
        ]),
    );
    assert_eq!(
        sim.view(),
        "1 connected Connected Outgoing peer=202 cause=makeCall",
    );
    assert_eq!(
        sim.request(&one("ClearConnection", "connectionToBeCleared", "1", "")),
        resp("ClearConnectionResponse", &[]),
    );
    assert_eq!(sim.commands(), vec![Command::Clear { call }]);
    assert_eq!(
        sim.progress(call, Progress::Cleared { remote: false }),
        ev(&[
            "ConnectionClearedEvent{monitorCrossRefID=1 droppedConnection{callID=1 deviceID=$ME} releasingDevice{deviceIdentifier=$ME} localConnectionInfo=null cause=normalClearing}",
        ]),
    );
    assert_eq!(sim.view(), "");
}

#[test]
fn make_call_answered_then_cleared_by_request() {
    run(make_call_answered_then_cleared);
}

fn make_call_failures(sim: &mut Sim) {
    let table = [
        (486, "busy", "Busy"),
        (600, "busy", "Busy"),
        (480, "callNotAnswered", "Disconnected"),
        (408, "callNotAnswered", "Disconnected"),
        (404, "numberUnallocated", "Disconnected"),
        (604, "numberUnallocated", "Disconnected"),
        (484, "invalidNumberFormat", "Disconnected"),
        (487, "callCancelled", "Disconnected"),
        (503, "destNotObtainable", "Disconnected"),
    ];
    for (n, (status, cause, tapi)) in table.into_iter().enumerate() {
        let id = n + 1;
        assert_eq!(
            sim.request(&make_call("202")).0,
            format!("MakeCallResponse{{callingDevice{{callID={id} deviceID={ME}}}}}"),
        );
        let call = originate(sim, "202");
        assert_eq!(
            sim.progress(call, Progress::Originated { called: "202" })
                .len(),
            1,
        );
        assert_eq!(
            sim.progress(call, Progress::Failed { status }),
            vec![format!(
                "FailedEvent{{monitorCrossRefID=1 failedConnection{{callID={id} deviceID={ME}}} failingDevice{{deviceIdentifier=202}} callingDevice{{deviceIdentifier={ME}}} calledDevice{{deviceIdentifier=202}} localConnectionInfo=fail cause={cause}}}"
            )],
        );
        assert_eq!(
            sim.view(),
            format!("{id} fail {tapi} Outgoing peer=202 cause={cause}"),
        );
        assert_eq!(
            sim.progress(call, Progress::Cleared { remote: false }),
            vec![format!(
                "ConnectionClearedEvent{{monitorCrossRefID=1 droppedConnection{{callID={id} deviceID={ME}}} releasingDevice{{deviceIdentifier={ME}}} localConnectionInfo=null cause=normalClearing}}"
            )],
        );
        assert_eq!(sim.view(), "");
    }
}

#[test]
fn make_call_failures_each_cause_then_cleared() {
    run(make_call_failures);
}

// ----- 2. Incoming --------------------------------------------------------------------

fn incoming_answered_by_request(sim: &mut Sim) {
    let call = sim.device().incoming("203", ME).expect("a free slot");
    assert_eq!(
        sim.events(),
        ev(&[
            "DeliveredEvent{monitorCrossRefID=1 connection{callID=1 deviceID=$ME} alertingDevice{deviceIdentifier=$ME} callingDevice{deviceIdentifier=203} calledDevice{deviceIdentifier=$ME} localConnectionInfo=alerting cause=newCall}",
        ]),
    );
    assert_eq!(
        sim.view(),
        "1 alerting Offering Incoming peer=203 cause=newCall",
    );
    assert_eq!(
        sim.request(&one("AnswerCall", "callToBeAnswered", "1", "")),
        resp("AnswerCallResponse", &[]),
    );
    assert_eq!(sim.commands(), vec![Command::Answer { call }]);
    assert_eq!(
        sim.progress(call, Progress::Answered),
        ev(&[
            "EstablishedEvent{monitorCrossRefID=1 establishedConnection{callID=1 deviceID=$ME} answeringDevice{deviceIdentifier=$ME} callingDevice{deviceIdentifier=203} calledDevice{deviceIdentifier=$ME} localConnectionInfo=connected}",
        ]),
    );
    assert_eq!(
        sim.view(),
        "1 connected Connected Incoming peer=203 cause=newCall",
    );
    assert_eq!(
        sim.progress(call, Progress::Cleared { remote: true }),
        ev(&[
            "ConnectionClearedEvent{monitorCrossRefID=1 droppedConnection{callID=1 deviceID=203} releasingDevice{deviceIdentifier=203} localConnectionInfo=null cause=normalClearing}",
        ]),
    );
    assert_eq!(sim.view(), "");
}

#[test]
fn incoming_answered_by_answer_call() {
    run(incoming_answered_by_request);
}

fn incoming_answered_on_handset(sim: &mut Sim) {
    let call = sim.device().incoming("203", ME).expect("a free slot");
    assert_eq!(sim.events().len(), 1);
    assert_eq!(
        sim.progress(call, Progress::Answered),
        ev(&[
            "EstablishedEvent{monitorCrossRefID=1 establishedConnection{callID=1 deviceID=$ME} answeringDevice{deviceIdentifier=$ME} callingDevice{deviceIdentifier=203} calledDevice{deviceIdentifier=$ME} localConnectionInfo=connected}",
        ]),
    );
    assert_eq!(
        sim.view(),
        "1 connected Connected Incoming peer=203 cause=newCall",
    );
    assert_eq!(
        sim.progress(call, Progress::Cleared { remote: false }),
        ev(&[
            "ConnectionClearedEvent{monitorCrossRefID=1 droppedConnection{callID=1 deviceID=$ME} releasingDevice{deviceIdentifier=$ME} localConnectionInfo=null cause=normalClearing}",
        ]),
    );
    assert_eq!(sim.view(), "");
    assert_eq!(sim.commands(), vec![]);
}

#[test]
fn incoming_answered_on_the_handset() {
    run(incoming_answered_on_handset);
}

fn caller_gives_up(sim: &mut Sim) {
    let call = sim.device().incoming("203", ME).expect("a free slot");
    assert_eq!(sim.events().len(), 1);
    assert_eq!(
        sim.progress(call, Progress::Cancelled),
        ev(&[
            "ConnectionClearedEvent{monitorCrossRefID=1 droppedConnection{callID=1 deviceID=203} releasingDevice{deviceIdentifier=203} localConnectionInfo=null cause=callCancelled}",
        ]),
    );
    assert_eq!(sim.view(), "");
}

#[test]
fn incoming_caller_gives_up_while_ringing() {
    run(caller_gives_up);
}

// ----- 3. Hold and retrieve -----------------------------------------------------------

/// MakeCall to `to`, up to Established (asserted in `make_call_answered_then_cleared`).
fn connected_out(sim: &mut Sim, to: &str) -> CallRef {
    let _ = sim.request(&make_call(to));
    let call = originate(sim, to);
    for p in [
        Progress::Originated { called: to },
        Progress::Ringing,
        Progress::Answered,
    ] {
        assert_eq!(sim.progress(call, p).len(), 1);
    }
    call
}

fn hold_and_retrieve(sim: &mut Sim) {
    let call = connected_out(sim, "202");
    assert_eq!(
        sim.request(&one("HoldCall", "callToBeHeld", "1", "")),
        resp("HoldCallResponse", &[]),
    );
    assert_eq!(sim.commands(), vec![Command::Hold { call }]);
    assert_eq!(
        sim.progress(call, Progress::Held),
        ev(&[
            "HeldEvent{monitorCrossRefID=1 heldConnection{callID=1 deviceID=$ME} holdingDevice{deviceIdentifier=$ME} localConnectionInfo=hold}",
        ]),
    );
    assert_eq!(sim.view(), "1 hold OnHold Outgoing peer=202 cause=makeCall",);
    assert_eq!(
        sim.request(&one("RetrieveCall", "callToBeRetrieved", "1", "")),
        resp("RetrieveCallResponse", &[]),
    );
    assert_eq!(sim.commands(), vec![Command::Retrieve { call }]);
    assert_eq!(
        sim.progress(call, Progress::Retrieved),
        ev(&[
            "RetrievedEvent{monitorCrossRefID=1 retrievedConnection{callID=1 deviceID=$ME} retrievingDevice{deviceIdentifier=$ME} localConnectionInfo=connected}",
        ]),
    );
    assert_eq!(
        sim.view(),
        "1 connected Connected Outgoing peer=202 cause=makeCall",
    );
    // On the handset.
    assert_eq!(
        sim.progress(call, Progress::Held),
        ev(&[
            "HeldEvent{monitorCrossRefID=1 heldConnection{callID=1 deviceID=$ME} holdingDevice{deviceIdentifier=$ME} localConnectionInfo=hold}",
        ]),
    );
    assert_eq!(
        sim.progress(call, Progress::Retrieved),
        ev(&[
            "RetrievedEvent{monitorCrossRefID=1 retrievedConnection{callID=1 deviceID=$ME} retrievingDevice{deviceIdentifier=$ME} localConnectionInfo=connected}",
        ]),
    );
    assert_eq!(
        sim.view(),
        "1 connected Connected Outgoing peer=202 cause=makeCall",
    );
}

#[test]
fn hold_and_retrieve_by_request_and_on_the_handset() {
    run(hold_and_retrieve);
}

// ----- 4. Consultation, transfer, alternate, reconnect --------------------------------

/// C1 to 202 connected, then ConsultationCall to 203 up to Established(C2).
fn consulted(sim: &mut Sim) -> (CallRef, CallRef) {
    let c1 = connected_out(sim, "202");
    assert_eq!(
        sim.request(&one(
            "ConsultationCall",
            "existingCall",
            "1",
            "<consultedDevice>203</consultedDevice>",
        )),
        resp(
            "ConsultationCallResponse{initiatedCall{callID=2 deviceID=$ME}}",
            &[],
        ),
    );
    let cmds = sim.commands();
    let [Command::Consult { held, call: c2, to }] = &cmds[..] else {
        panic!("{cmds:?}")
    };
    assert_eq!((*held, to.as_str()), (c1, "203"));
    let c2 = *c2;
    assert_eq!(
        sim.progress(c1, Progress::Held),
        ev(&[
            "HeldEvent{monitorCrossRefID=1 heldConnection{callID=1 deviceID=$ME} holdingDevice{deviceIdentifier=$ME} localConnectionInfo=hold cause=consultation}",
            "ServiceInitiatedEvent{monitorCrossRefID=1 initiatedConnection{callID=2 deviceID=$ME} initiatingDevice{deviceIdentifier=$ME} localConnectionInfo=initiated cause=consultation}",
        ]),
    );
    assert_eq!(
        sim.view(),
        "1 hold OnHoldPendTransfer Outgoing peer=202 cause=consultation | 2 initiated Dialtone Outgoing peer=- consults=1 cause=consultation"
    );
    assert_eq!(
        sim.progress(c2, Progress::Originated { called: "203" }),
        ev(&[
            "OriginatedEvent{monitorCrossRefID=1 originatedConnection{callID=2 deviceID=$ME} callingDevice{deviceIdentifier=$ME} calledDevice{deviceIdentifier=203} localConnectionInfo=connected cause=consultation}",
        ]),
    );
    assert_eq!(
        sim.progress(c2, Progress::Ringing),
        ev(&[
            "DeliveredEvent{monitorCrossRefID=1 connection{callID=2 deviceID=203} alertingDevice{deviceIdentifier=203} callingDevice{deviceIdentifier=$ME} calledDevice{deviceIdentifier=203} localConnectionInfo=connected}",
        ]),
    );
    assert_eq!(
        sim.progress(c2, Progress::Answered),
        ev(&[
            "EstablishedEvent{monitorCrossRefID=1 establishedConnection{callID=2 deviceID=203} answeringDevice{deviceIdentifier=203} callingDevice{deviceIdentifier=$ME} calledDevice{deviceIdentifier=203} localConnectionInfo=connected}",
        ]),
    );
    assert_eq!(
        sim.view(),
        "1 hold OnHoldPendTransfer Outgoing peer=202 cause=consultation | 2 connected Connected Outgoing peer=203 consults=1 cause=consultation"
    );
    (c1, c2)
}

fn consultation_and_transfer(sim: &mut Sim) {
    let (c1, c2) = consulted(sim);
    assert_eq!(
        sim.request(&two("TransferCall", ("heldCall", "1"), ("activeCall", "2"))),
        resp(
            "TransferCallResponse{transferredCall{callID=1 deviceID=203}}",
            &[],
        ),
    );
    assert_eq!(
        sim.commands(),
        vec![Command::Transfer {
            held: c1,
            active: c2,
        }],
    );
    assert_eq!(
        sim.progress(c2, Progress::Transferred),
        ev(&[
            "TransferedEvent{monitorCrossRefID=1 primaryOldCall{callID=1 deviceID=$ME} secondaryOldCall{callID=2 deviceID=$ME} transferringDevice{deviceIdentifier=$ME} transferredToDevice{deviceIdentifier=203} transferredConnections{connectionListItem{newConnection{callID=1 deviceID=202} endpoint{deviceIdentifier=202}} connectionListItem{newConnection{callID=2 deviceID=203} endpoint{deviceIdentifier=203}}} localConnectionInfo=null cause=transfer}",
        ]),
    );
    assert_eq!(sim.view(), "");
}

#[test]
fn consultation_then_transfer() {
    run(consultation_and_transfer);
}

fn alternate(sim: &mut Sim) {
    let (c1, c2) = consulted(sim);
    assert_eq!(
        sim.request(&two(
            "AlternateCall",
            ("heldCall", "1"),
            ("activeCall", "2"),
        )),
        resp("AlternateCallResponse", &[]),
    );
    assert_eq!(
        sim.commands(),
        vec![Command::Hold { call: c2 }, Command::Retrieve { call: c1 }],
    );
    assert_eq!(
        sim.progress(c2, Progress::Held),
        ev(&[
            "HeldEvent{monitorCrossRefID=1 heldConnection{callID=2 deviceID=$ME} holdingDevice{deviceIdentifier=$ME} localConnectionInfo=hold}",
        ]),
    );
    assert_eq!(
        sim.progress(c1, Progress::Retrieved),
        ev(&[
            "RetrievedEvent{monitorCrossRefID=1 retrievedConnection{callID=1 deviceID=$ME} retrievingDevice{deviceIdentifier=$ME} localConnectionInfo=connected}",
        ]),
    );
    assert_eq!(
        sim.view(),
        "1 connected Connected Outgoing peer=202 cause=consultation | 2 hold OnHold Outgoing peer=203 consults=1 cause=consultation"
    );
}

#[test]
fn consultation_then_alternate() {
    run(alternate);
}

fn reconnect(sim: &mut Sim) {
    let (c1, c2) = consulted(sim);
    assert_eq!(
        sim.request(&two(
            "ReconnectCall",
            ("activeCall", "2"),
            ("heldCall", "1"),
        )),
        resp("ReconnectCallResponse", &[]),
    );
    assert_eq!(
        sim.commands(),
        vec![Command::Clear { call: c2 }, Command::Retrieve { call: c1 }],
    );
    assert_eq!(
        sim.progress(c2, Progress::Cleared { remote: false }),
        ev(&[
            "ConnectionClearedEvent{monitorCrossRefID=1 droppedConnection{callID=2 deviceID=$ME} releasingDevice{deviceIdentifier=$ME} localConnectionInfo=null cause=normalClearing}",
        ]),
    );
    assert_eq!(
        sim.progress(c1, Progress::Retrieved),
        ev(&[
            "RetrievedEvent{monitorCrossRefID=1 retrievedConnection{callID=1 deviceID=$ME} retrievingDevice{deviceIdentifier=$ME} localConnectionInfo=connected}",
        ]),
    );
    assert_eq!(
        sim.view(),
        "1 connected Connected Outgoing peer=202 cause=consultation",
    );
}

#[test]
fn consultation_then_reconnect() {
    run(reconnect);
}

// ----- 5. Single-step transfer --------------------------------------------------------

fn single_step_transfer(sim: &mut Sim) {
    let call = sim.device().incoming("300", ME).expect("a free slot");
    let _ = sim.progress(call, Progress::Answered);
    assert_eq!(
        sim.view(),
        "1 connected Connected Incoming peer=300 cause=newCall",
    );
    assert_eq!(
        sim.request(&one(
            "SingleStepTransferCall",
            "activeCall",
            "1",
            "<transferredTo>204</transferredTo>",
        )),
        resp(
            "SingleStepTransferCallResponse{transferredCall{callID=1 deviceID=204}}",
            &[],
        ),
    );
    assert_eq!(
        sim.commands(),
        vec![Command::SingleStepTransfer {
            call,
            to: buf("204"),
        }],
    );
    assert_eq!(
        sim.progress(call, Progress::SingleStepTransferred { to: "204" }),
        ev(&[
            "TransferedEvent{monitorCrossRefID=1 primaryOldCall{callID=1 deviceID=$ME} transferringDevice{deviceIdentifier=$ME} transferredToDevice{deviceIdentifier=204} transferredConnections{connectionListItem{newConnection{callID=1 deviceID=300} endpoint{deviceIdentifier=300}}} localConnectionInfo=null cause=singleStepTransfer}",
        ]),
    );
    assert_eq!(sim.view(), "");
}

#[test]
fn single_step_transfer_of_an_answered_call() {
    run(single_step_transfer);
}

// ----- 6. Conference ------------------------------------------------------------------

fn conference(sim: &mut Sim) {
    let (c1, c2) = consulted(sim);
    assert_eq!(
        sim.request(&two(
            "ConferenceCall",
            ("heldCall", "1"),
            ("activeCall", "2"),
        )),
        resp(
            "ConferenceCallResponse{conferenceCall{callID=1 deviceID=$ME}}",
            &[],
        ),
    );
    assert_eq!(
        sim.commands(),
        vec![Command::Conference {
            held: c1,
            active: c2,
        }],
    );
    assert_eq!(
        sim.progress(c1, Progress::Conferenced),
        ev(&[
            "ConferencedEvent{monitorCrossRefID=1 primaryOldCall{callID=1 deviceID=$ME} secondaryOldCall{callID=2 deviceID=$ME} conferencingDevice{deviceIdentifier=$ME} addedParty{deviceIdentifier=203} conferenceConnections{connectionListItem{newConnection{callID=1 deviceID=202} endpoint{deviceIdentifier=202}} connectionListItem{newConnection{callID=1 deviceID=203} endpoint{deviceIdentifier=203}}} localConnectionInfo=connected cause=conference}",
        ]),
    );
    assert_eq!(
        sim.view(),
        "1 connected Conferenced Outgoing peer=202 conference=2 cause=conference",
    );
    assert_eq!(
        sim.progress(c1, Progress::Cleared { remote: false }),
        ev(&[
            "ConnectionClearedEvent{monitorCrossRefID=1 droppedConnection{callID=1 deviceID=$ME} releasingDevice{deviceIdentifier=$ME} localConnectionInfo=null cause=normalClearing}",
        ]),
    );
    assert_eq!(sim.view(), "");
}

#[test]
fn consultation_then_conference() {
    run(conference);
}

// ----- 7. Deflect ---------------------------------------------------------------------

fn deflect(sim: &mut Sim) {
    let call = sim.device().incoming("300", ME).expect("a free slot");
    let _ = sim.events();
    assert_eq!(
        sim.request(&one(
            "DeflectCall",
            "callToBeDiverted",
            "1",
            "<newDestination>205</newDestination>",
        )),
        resp("DeflectCallResponse", &[]),
    );
    assert_eq!(
        sim.commands(),
        vec![Command::Deflect {
            call,
            to: buf("205"),
        }],
    );
    assert_eq!(
        sim.progress(
            call,
            Progress::Diverted {
                to: "205",
                how: Divert::Deflected,
            },
        ),
        ev(&[
            "DivertedEvent{monitorCrossRefID=1 connection{callID=1 deviceID=$ME} divertingDevice{deviceIdentifier=$ME} newDestination{deviceIdentifier=205} callingDevice{deviceIdentifier=300} calledDevice{deviceIdentifier=$ME} localConnectionInfo=null cause=redirected}",
        ]),
    );
    assert_eq!(sim.view(), "");
}

#[test]
fn deflect_of_a_ringing_call() {
    run(deflect);
}

// ----- 8. Forwarding and do-not-disturb -----------------------------------------------

fn forwarding(sim: &mut Sim) {
    assert_eq!(
        sim.request(&format!("<SetForwarding><device>{ME}</device><forwardingType>forwardImmediate</forwardingType><activateForward>true</activateForward><forwardDN>206</forwardDN></SetForwarding>")),
        resp(
        "SetForwardingResponse",
        &[
            "ForwardingEvent{monitorCrossRefID=1 device{deviceIdentifier=$ME} forwardingType=forwardImmediate forwardStatus=true forwardTo=206}",
        ],
    ),
    );
    assert_eq!(
        sim.commands(),
        vec![Command::SetForwarding {
            forward: Forward::Immediate,
            on: true,
            to: Some(buf("206")),
        }],
    );
    assert_eq!(sim.view(), "forwardImmediate=true>206");
    assert_eq!(
        sim.request(&format!(
            "<GetForwarding><device>{ME}</device></GetForwarding>"
        )),
        resp(
            "GetForwardingResponse{forwardingList{forwardListItem{forwardingType=forwardImmediate forwardStatus=true forwardDN=206} forwardListItem{forwardingType=forwardBusy forwardStatus=false} forwardListItem{forwardingType=forwardNoAns forwardStatus=false} forwardListItem{forwardingType=forwardDND forwardStatus=false}}}",
            &[],
        ),
    );
    assert_eq!(
        sim.view(),
        "forwardImmediate=true>206 | forwardBusy=false>- | forwardNoAns=false>- | forwardDND=false>-"
    );
    sim.device()
        .forwarded("300", ME, "206", Divert::ForwardImmediate)
        .expect("room");
    assert_eq!(
        sim.events(),
        ev(&[
            "DivertedEvent{monitorCrossRefID=1 connection{callID=1 deviceID=$ME} divertingDevice{deviceIdentifier=$ME} newDestination{deviceIdentifier=206} callingDevice{deviceIdentifier=300} calledDevice{deviceIdentifier=$ME} localConnectionInfo=null cause=callForwardImmediate}",
        ]),
    );
    sim.device()
        .handset_forwarding(Forward::Immediate, false, None)
        .expect("room");
    assert_eq!(
        sim.events(),
        ev(&[
            "ForwardingEvent{monitorCrossRefID=1 device{deviceIdentifier=$ME} forwardingType=forwardImmediate forwardStatus=false forwardTo=206}",
        ]),
    );
    assert_eq!(
        sim.view(),
        "forwardImmediate=false>206 | forwardBusy=false>- | forwardNoAns=false>- | forwardDND=false>-"
    );
}

#[test]
fn forwarding_set_read_used_and_changed_on_the_handset() {
    run(forwarding);
}

fn do_not_disturb(sim: &mut Sim) {
    assert_eq!(
        sim.request(&format!("<SetDoNotDisturb><device>{ME}</device><doNotDisturbOn>true</doNotDisturbOn></SetDoNotDisturb>")),
        resp(
        "SetDoNotDisturbResponse",
        &[
            "DoNotDisturbEvent{monitorCrossRefID=1 device{deviceIdentifier=$ME} doNotDisturbOn=true}",
        ],
    ),
    );
    assert_eq!(sim.commands(), vec![Command::SetDoNotDisturb { on: true }]);
    assert_eq!(sim.view(), "dnd=true");
    sim.device().handset_do_not_disturb(false).expect("room");
    assert_eq!(
        sim.events(),
        ev(&[
            "DoNotDisturbEvent{monitorCrossRefID=1 device{deviceIdentifier=$ME} doNotDisturbOn=false}",
        ]),
    );
    assert_eq!(sim.view(), "dnd=false");
    assert_eq!(
        sim.request(&format!(
            "<GetDoNotDisturb><device>{ME}</device></GetDoNotDisturb>"
        )),
        resp("GetDoNotDisturbResponse{doNotDisturbOn=false}", &[]),
    );
    assert_eq!(sim.view(), "dnd=false");
}

#[test]
fn do_not_disturb_set_read_and_changed_on_the_handset() {
    run(do_not_disturb);
}

// ----- 9. Snapshot after reconnect ----------------------------------------------------

fn snapshot_after_reconnect(sim: &mut Sim) {
    let c1 = connected_out(sim, "202");
    let _ = sim.request(&one("HoldCall", "callToBeHeld", "1", ""));
    let _ = sim.commands();
    let _ = sim.progress(c1, Progress::Held);
    let c2 = sim.device().incoming("203", ME).expect("a free slot");
    let _ = sim.progress(c2, Progress::Answered);
    assert_eq!(
        sim.view(),
        "1 hold OnHold Outgoing peer=202 cause=makeCall | 2 connected Connected Incoming peer=203 cause=newCall"
    );

    // The network fails both ways. The phone's far end on C1 hangs up meanwhile.
    sim.net.cut = [true, true];
    sim.device()
        .handle_progress(c1, Progress::Cleared { remote: true })
        .expect("held call");
    let snapshot =
        format!("<SnapshotDevice><snapshotObject>{ME}</snapshotObject></SnapshotDevice>");
    let _ = sim.app.s.send(&request(&snapshot).message).expect("queued");
    sim.app.flush(sim.now);
    sim.phone.flush(sim.now);
    sim.run_until("both sides lose the session", |s| {
        s.app.s.is_done() && !s.phone.s.is_open()
    });
    assert_eq!(
        &sim.app.log[1..],
        &[
            "RequestFailed { id: RequestId(4), status: None }",
            "Lost(Timeout)",
        ],
    );
    // The phone learns it from its event INFO that nobody answers.
    let ends: Vec<&str> = sim
        .phone
        .log
        .iter()
        .map(|l| l.split_once(' ').map_or("", |p| p.1))
        .collect();
    assert_eq!(&ends[1..], &["EventRejected(None)", "Ended(Lost)"]);
    assert!(!sim.device().is_monitored());
    // The server forgets what it knew.
    let _ = sim.app.view.reset();
    assert_eq!(sim.view(), "");

    // Back: a new session, a new monitor, and a snapshot.
    sim.net.cut = [false, false];
    sim.app.renew();
    sim.open();
    assert_eq!(
        sim.request(&monitor_start()),
        resp(
            "MonitorStartResponse{monitorCrossRefID=2 monitorExistingCalls=true}",
            &[],
        ),
    );
    assert_eq!(
        sim.request(&format!(
            "<SnapshotDevice><snapshotObject>{ME}</snapshotObject></SnapshotDevice>"
        )),
        resp(
            "SnapshotDeviceResponse{crossRefIDorSnapshotData{snapshotData{snapshotDeviceResponseInfo{connectionIdentifier{callID=2 deviceID=$ME} localCallState{compoundCallState{localConnectionState=connected}}}}}}",
            &[],
        ),
    );
    assert_eq!(sim.view(), "2 connected Connected Unknown peer=-");
    assert_eq!(
        sim.progress(c2, Progress::Cleared { remote: true }),
        ev(&[
            "ConnectionClearedEvent{monitorCrossRefID=2 droppedConnection{callID=2 deviceID=203} releasingDevice{deviceIdentifier=203} localConnectionInfo=null cause=normalClearing}",
        ]),
    );
    assert_eq!(sim.view(), "");
}

#[test]
fn snapshot_after_reconnect_resynchronises_the_view() {
    run(snapshot_after_reconnect);
}

// ----- Errors -------------------------------------------------------------------------

fn errors(sim: &mut Sim) {
    assert_eq!(
        sim.request("<SystemRegister/>"),
        resp("CSTAErrorCode{operation=serviceNotSupported}", &[]),
    );
    assert_eq!(
        sim.request(&one("AnswerCall", "callToBeAnswered", "9", "")),
        resp("CSTAErrorCode{operation=invalidCallID}", &[]),
    );
    let _ = connected_out(sim, "202");
    assert_eq!(
        sim.request(&one("AnswerCall", "callToBeAnswered", "1", "")),
        resp("CSTAErrorCode{stateIncompatibility=noCallToAnswer}", &[]),
    );
    assert_eq!(
        sim.request(&one("RetrieveCall", "callToBeRetrieved", "1", "")),
        resp("CSTAErrorCode{stateIncompatibility=noHeldCall}", &[]),
    );
    assert_eq!(
        sim.request(&monitor_start()),
        resp(
            "CSTAErrorCode{systemResourceAvailibility=overallMonitorLimitExceeded}",
            &[],
        ),
    );
    assert_eq!(
        sim.request("<MonitorStop><monitorCrossRefID>7</monitorCrossRefID></MonitorStop>"),
        resp("CSTAErrorCode{operation=invalidMonitorCrossRefID}", &[]),
    );
    assert_eq!(sim.commands(), vec![]);
    assert_eq!(
        sim.view(),
        "1 connected Connected Outgoing peer=202 cause=makeCall",
    );
}

#[test]
fn wrong_requests_get_the_error_codes_of_section_5() {
    run(errors);
}
