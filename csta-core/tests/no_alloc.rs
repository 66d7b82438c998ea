//! Tokenizing, decoding, encoding, framing, JSON, the call models and the uaCSTA sessions
//! never touch the heap: a counting global allocator sees no allocation on the measuring
//! thread.

use alloc_counter::CountingAllocator;
use csta_core::framing::{FrameReader, InvokeId, encode as frame};
use csta_core::json;
use csta_core::message::call::MakeCall;
use csta_core::types::{DeviceId, Opaque};
use csta_core::xml::{Event, Reader, Text};
use csta_core::{Edition, EncodeOptions, Message, decode};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Runs `f` and returns how many allocations it made on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    assert!(alloc_counter::is_installed());
    alloc_counter::allocations(f).1
}

/// An OpenScape Voice event with escapes, a long multi-line correlator, attributes,
/// unknown elements and vendor private data (see `tests/data/no_alloc/SOURCES.md`).
const DELIVERED: &[u8] = include_bytes!("data/no_alloc/osv-DeliveredEvent.xml");

/// A message with every kind of XML markup the reader knows, decoded text included.
const MARKUP: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?>
<!-- a comment -->
<?pi data?>
<csta:MakeCall xmlns:csta="http://www.ecma-international.org/standards/ecma-323/csta/ed5" a='1' b="&quot;2&#x27;">
  <csta:callingDevice typeOfNumber="dialingNumber">  sip:201@pbx  </csta:callingDevice>
  <csta:calledDirectoryNumber>N&lt;+49 89 1234&gt;<!-- c --><![CDATA[;x=<&>]]>&#233;</csta:calledDirectoryNumber>
  <csta:accountCode>a&amp;b&#13;</csta:accountCode>
  <csta:autoOriginate> doNotPrompt </csta:autoOriginate>
  <csta:correlatorData><csta:string>&#x1F600;</csta:string></csta:correlatorData>
  <csta:extensions><x/><y z="1">t</y></csta:extensions>
</csta:MakeCall>
"#;

#[test]
fn test_tokenizing_does_not_allocate() {
    let mut events = 0;
    let mut chars = 0;
    let count = allocations(|| {
        for input in [DELIVERED, MARKUP] {
            let mut r = Reader::new(input).unwrap();
            loop {
                match r.next_event().unwrap() {
                    Event::Eof => break,
                    Event::Start(e) => {
                        for a in e.attributes() {
                            chars += a.value.chars().count();
                        }
                    }
                    Event::Text(t) => chars += t.chars().count(),
                    _ => {}
                }
                events += 1;
            }
        }
    });
    assert!(events > 100, "{events}");
    assert!(chars > 100, "{chars}");
    assert_eq!(count, 0);
}

#[test]
fn test_decoding_does_not_allocate() {
    let mut names = [""; 2];
    let count = allocations(|| {
        for (i, input) in [DELIVERED, MARKUP].into_iter().enumerate() {
            let decoded = decode(input).unwrap();
            names[i] = decoded.message.name();
        }
        // Errors do not allocate either.
        assert!(decode(b"<MakeCall><callingDevice>1</callingDevice></MakeCall>").is_err());
        assert!(decode(b"<NoSuchMessage/>").is_err());
        assert!(decode(b"<MakeCall>").is_err());
    });
    assert_eq!(names, ["DeliveredEvent", "MakeCall"]);
    assert_eq!(count, 0);
}

#[test]
fn test_encoding_does_not_allocate() {
    let delivered = decode(DELIVERED).unwrap().message;
    let markup = decode(MARKUP).unwrap().message;
    let built = Message::MakeCall(MakeCall {
        calling_device: DeviceId::new("sip:201@pbx"),
        called_directory_number: DeviceId::new("N<+49 89 1234>"),
        account_code: Some(Text::new("a&b\r\"'")),
        auth_code: None,
        auto_originate: None,
        correlator_data: Some(Opaque::new("\u{1f600}")),
    });
    let mut buf = [0u8; 4096];
    let mut lens = [0usize; 3];
    let count = allocations(|| {
        for (i, m) in [&delivered, &markup, &built].into_iter().enumerate() {
            for edition in [Edition::Ed3, Edition::Ed4, Edition::Ed5, Edition::Ed6] {
                let options = EncodeOptions {
                    edition,
                    declaration: true,
                };
                lens[i] = m.encode_with(&options, &mut buf).unwrap();
                assert_eq!(m.buffer_len(&options), lens[i]);
            }
            assert!(m.encode(Edition::Ed3, &mut buf[..10]).is_err());
        }
    });
    assert!(lens.iter().all(|&n| n > 100), "{lens:?}");
    assert_eq!(count, 0);
}

#[test]
fn test_framing_does_not_allocate() {
    let message = decode(DELIVERED).unwrap().message;
    let mut xml = [0u8; 2048];
    let mut wire = [0u8; 8192];
    let mut reader = FrameReader::new([0u8; 4096], 4096);
    let mut frames = 0;
    let count = allocations(|| {
        // Three frames back to back: two events, one request.
        let mut at = 0;
        for id in [InvokeId::EVENT, InvokeId::EVENT, InvokeId::new(17).unwrap()] {
            let n = message.encode(Edition::Ed4, &mut xml).unwrap();
            at += frame(id, &xml[..n], &mut wire[at..]).unwrap();
        }
        // Fed in uneven pieces, as a socket would.
        for chunk in wire[..at].chunks(333) {
            let mut rest = chunk;
            while !rest.is_empty() {
                let taken = reader.push(rest);
                rest = &rest[taken..];
                while let Some(f) = reader.next_frame().unwrap() {
                    let decoded = decode(f.body).unwrap();
                    assert_eq!(decoded.message.name(), "DeliveredEvent");
                    frames += 1;
                }
            }
        }
    });
    assert_eq!(frames, 3);
    assert_eq!(count, 0);
}

#[test]
fn test_json_does_not_allocate() {
    let delivered = decode(DELIVERED).unwrap().message;
    let markup = decode(MARKUP).unwrap().message;
    let mut buf = [0u8; 4096];
    let mut lens = [0usize; 2];
    let count = allocations(|| {
        for (i, m) in [&delivered, &markup].into_iter().enumerate() {
            let n = json::to_slice(m, &mut buf).unwrap();
            let back = json::from_slice(&buf[..n]).unwrap();
            assert!(back == *m);
            lens[i] = n;
        }
        assert!(json::from_slice(br#"{"MakeCall":{}}"#).is_err());
        assert!(json::from_slice(b"{").is_err());
    });
    assert!(lens.iter().all(|&n| n > 100), "{lens:?}");
    assert_eq!(count, 0);
}

#[test]
fn test_call_model_does_not_allocate() {
    use csta_core::model::phone::{Device, Progress};
    use csta_core::model::view::DeviceView;

    const ME: &str = "sip:201@pbx.example.com";
    const MONITOR: &[u8] = br#"<MonitorStart xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3"><monitorObject><deviceObject>sip:201@pbx.example.com</deviceObject></monitorObject></MonitorStart>"#;
    const MAKE_CALL: &[u8] = br#"<MakeCall xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3"><callingDevice>sip:201@pbx.example.com</callingDevice><calledDirectoryNumber>202</calledDirectoryNumber><autoOriginate>doNotPrompt</autoOriginate></MakeCall>"#;

    // Boxed outside the measurement: the models are large values.
    let mut phone = Box::new(Device::<4>::new(ME).unwrap());
    let mut view = Box::new(DeviceView::<4>::new(ME).unwrap());
    let mut buf = [0u8; 2048];
    let mut events = 0;
    let mut in_view = 0;
    let count = allocations(|| {
        for request in [MONITOR, MAKE_CALL] {
            let request = decode(request).unwrap().message;
            let reply = phone.handle_request(&request);
            let n = reply.message().encode(Edition::Ed3, &mut buf).unwrap();
            view.handle_message(&decode(&buf[..n]).unwrap().message)
                .unwrap();
        }
        let call = phone.find("1").unwrap();
        for progress in [
            Progress::Originated { called: "202" },
            Progress::Ringing,
            Progress::Answered,
            Progress::Cleared { remote: true },
        ] {
            phone.handle_progress(call, progress).unwrap();
            while let Some(event) = phone.poll_event() {
                let n = event.message().encode(Edition::Ed3, &mut buf).unwrap();
                view.handle_message(&decode(&buf[..n]).unwrap().message)
                    .unwrap();
                in_view = in_view.max(view.calls().count());
                events += 1;
            }
        }
        while phone.poll_command().is_some() {}
    });
    assert_eq!(count, 0);
    assert_eq!(events, 5);
    assert_eq!(in_view, 1);
    assert_eq!(view.calls().count(), 0);
}

// ----- uaCSTA sessions ------------------------------------------------------------------

mod sessions {
    use csta_core::message::{Decoded, EncodeError};
    use csta_core::model::phone::Device;
    use csta_core::uacsta::app::{AppConfig, AppEvent, AppSession};
    use csta_core::uacsta::phone::{PhoneConfig, PhoneEvent, PhoneSession};
    use csta_core::{Edition, decode};
    use heapless::{Deque, Vec};
    use sip_lite::ids::IdGenerator;
    use sip_lite::time::Instant;
    use sip_lite::transaction::{self, Received, Transactions};
    use sip_lite::wire::{HeaderIndex, Message, Method};

    /// The longest SIP message (and CSTA body) either side handles.
    pub(super) const M: usize = 2048;
    const APP: u8 = 0;
    const PHONE: u8 = 1;
    const PHONE_URI: &str = "sip:201@192.0.2.7:5060";

    /// Both sides of a uaCSTA session, each with its transaction table, and the
    /// phone's call model, with the messages between them in a fixed queue (no
    /// latency: the clock only moves for timers).
    pub(super) struct World {
        pub(super) now: Instant,
        app_tx: Transactions<u8, 16, { 16 * M }>,
        pub(super) app: AppSession<4, M>,
        app_ids: IdGenerator,
        phone_tx: Transactions<u8, 16, { 16 * M }>,
        pub(super) phone: PhoneSession<4, M>,
        phone_ids: IdGenerator,
        pub(super) model: Device<2>,
        /// Messages on the wire, with the node they go to.
        wire: Deque<(u8, Vec<u8, M>), 8>,
        /// What the application saw: `Established`, `Closed`, and each response's
        /// request ID and root element.
        pub(super) established: usize,
        pub(super) closed: usize,
        pub(super) responses: Vec<(u32, &'static str), 8>,
        /// The root elements of the events the application received.
        pub(super) events: Vec<&'static str, 16>,
        /// INVITEs (setup and refreshes) and BYEs the phone received.
        pub(super) invites: usize,
        pub(super) byes: usize,
        /// What the phone session reported.
        pub(super) phone_events: Vec<PhoneEvent, 8>,
    }

    impl World {
        pub(super) fn new() -> World {
            let mut config = AppConfig::new(
                PHONE_URI,
                "sip:csta@server.example.com",
                "sip:csta@192.0.2.1:5060",
                "SIP/2.0/UDP 192.0.2.1:5060",
            );
            config.timer.session_expires = 120;
            let mut app_ids = IdGenerator::new([1; 32]);
            let mut phone_ids = IdGenerator::new([2; 32]);
            let phone_config = PhoneConfig::new(PHONE_URI, "SIP/2.0/UDP 192.0.2.7:5060");
            World {
                now: Instant::ZERO,
                app_tx: Transactions::new(transaction::Config::DEFAULT),
                app: AppSession::new(&config, &mut app_ids).unwrap(),
                app_ids,
                phone_tx: Transactions::new(transaction::Config::DEFAULT),
                phone: PhoneSession::new(&phone_config, &mut phone_ids).unwrap(),
                phone_ids,
                model: Device::new(PHONE_URI).unwrap(),
                wire: Deque::new(),
                established: 0,
                closed: 0,
                responses: Vec::new(),
                events: Vec::new(),
                invites: 0,
                byes: 0,
                phone_events: Vec::new(),
            }
        }

        fn put(&mut self, to: u8, bytes: &[u8]) {
            let bytes = Vec::from_slice(bytes).unwrap();
            self.wire.push_back((to, bytes)).unwrap();
        }

        fn flush_app(&mut self) {
            let mut buf = [0u8; M];
            loop {
                let mut moved = false;
                while let Some(out) = self.app.poll_request(self.now, &mut self.app_ids, &mut buf) {
                    let out = out.unwrap();
                    let bytes = &buf[..out.len];
                    if out.transaction {
                        self.app_tx
                            .send_request(self.now, PHONE, false, bytes)
                            .unwrap();
                    } else {
                        self.put(PHONE, bytes);
                    }
                    moved = true;
                }
                while let Some(t) = self.app_tx.poll_transmit() {
                    let bytes = Vec::<u8, M>::from_slice(t.bytes).unwrap();
                    self.wire.push_back((PHONE, bytes)).unwrap();
                }
                while self.app_tx.poll_event().is_some() {}
                while let Some(event) = self.app.poll_event() {
                    match event {
                        AppEvent::Established { .. } => self.established += 1,
                        AppEvent::Closed => self.closed += 1,
                        AppEvent::Response { id, body } => {
                            let name = decode(body).unwrap().message.name();
                            self.responses.push((id.0, name)).unwrap();
                        }
                        AppEvent::Event { body } => {
                            let name = decode(body).unwrap().message.name();
                            self.events.push(name).unwrap();
                        }
                        other => panic!("{other:?}"),
                    }
                    moved = true;
                }
                if !moved {
                    break;
                }
            }
        }

        fn flush_phone(&mut self) {
            let mut buf = [0u8; M];
            loop {
                let mut moved = false;
                while let Some(out) =
                    self.phone
                        .poll_request(self.now, &mut self.phone_ids, &mut buf)
                {
                    let out = out.unwrap();
                    let bytes = &buf[..out.len];
                    if out.transaction {
                        self.phone_tx
                            .send_request(self.now, APP, false, bytes)
                            .unwrap();
                    } else {
                        self.put(APP, bytes);
                    }
                    moved = true;
                }
                while let Some(t) = self.phone_tx.poll_transmit() {
                    let bytes = Vec::<u8, M>::from_slice(t.bytes).unwrap();
                    self.wire.push_back((APP, bytes)).unwrap();
                }
                while self.phone_tx.poll_event().is_some() {}
                while let Some(event) = self.phone.poll_event() {
                    self.phone_events.push(event).unwrap();
                    moved = true;
                }
                if !moved {
                    break;
                }
            }
        }

        /// Delivers the next message on the wire; false when there is none.
        fn deliver(&mut self) -> bool {
            let Some((to, bytes)) = self.wire.pop_front() else {
                return false;
            };
            let now = self.now;
            let mut hs = [HeaderIndex::EMPTY; 64];
            let msg = Message::parse(&bytes, &mut hs).unwrap();
            let mut buf = [0u8; M];
            if to == PHONE {
                match msg.method() {
                    Some(Method::Invite) => self.invites += 1,
                    Some(Method::Bye) => self.byes += 1,
                    _ => {}
                }
                let model = &mut self.model;
                let mut device =
                    |r: &Decoded<'_>, e: Edition, out: &mut [u8]| -> Result<usize, EncodeError> {
                        model.handle_request(&r.message).message().encode(e, out)
                    };
                match self.phone_tx.receive(now, APP, false, &msg).unwrap() {
                    Received::Request(stx) => {
                        let n = self
                            .phone
                            .handle_request(now, &msg, &mut device, &mut buf)
                            .unwrap();
                        self.phone_tx.respond(now, stx, &buf[..n]).unwrap();
                    }
                    Received::Ack => {
                        let n = self
                            .phone
                            .handle_request(now, &msg, &mut device, &mut buf)
                            .unwrap();
                        assert_eq!(n, 0);
                    }
                    Received::Response(_) => self.phone.handle_response(now, &msg).unwrap(),
                    _ => {}
                }
                self.flush_phone();
            } else {
                match self.app_tx.receive(now, PHONE, false, &msg).unwrap() {
                    Received::Request(stx) => {
                        let n = self.app.handle_request(now, &msg, &mut buf).unwrap();
                        self.app_tx.respond(now, stx, &buf[..n]).unwrap();
                    }
                    Received::Ack => {
                        assert_eq!(self.app.handle_request(now, &msg, &mut buf), Ok(0));
                    }
                    Received::Response(_) => self.app.handle_response(now, &msg).unwrap(),
                    _ => {}
                }
                self.flush_app();
            }
            true
        }

        /// Runs both sides until nothing moves.
        pub(super) fn pump(&mut self) {
            self.flush_app();
            self.flush_phone();
            while self.deliver() {}
        }

        /// Sends the call model's events through the phone session; drops its
        /// commands (the test plays the SIP side of the calls).
        pub(super) fn model_events(&mut self) {
            while let Some(event) = self.model.poll_event() {
                self.phone.send_event(&event.message()).unwrap();
                self.pump();
            }
            while self.model.poll_command().is_some() {}
        }

        /// Fires every timer due up to `t`, running both sides after each.
        pub(super) fn run_to(&mut self, t: Instant) {
            loop {
                let next = [
                    self.app_tx.poll_timeout(),
                    self.app.poll_timeout(),
                    self.phone_tx.poll_timeout(),
                    self.phone.poll_timeout(),
                ]
                .into_iter()
                .flatten()
                .min();
                let Some(next) = next.filter(|n| *n <= t) else {
                    break;
                };
                self.now = self.now.max(next);
                let now = self.now;
                if self.app_tx.poll_timeout().is_some_and(|d| d <= now) {
                    self.app_tx.handle_timeout(now);
                }
                if self.app.poll_timeout().is_some_and(|d| d <= now) {
                    self.app.handle_timeout(now);
                }
                if self.phone_tx.poll_timeout().is_some_and(|d| d <= now) {
                    self.phone_tx.handle_timeout(now);
                }
                if self.phone.poll_timeout().is_some_and(|d| d <= now) {
                    self.phone.handle_timeout(now);
                }
                self.pump();
            }
            self.now = self.now.max(t);
        }
    }
}

#[test]
fn test_uacsta_sessions_do_not_allocate() {
    use csta_core::model::phone::Progress;
    use sip_lite::time::Instant;

    const MONITOR: &[u8] = br#"<MonitorStart xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3"><monitorObject><deviceObject>sip:201@192.0.2.7:5060</deviceObject></monitorObject></MonitorStart>"#;
    const MAKE_CALL: &[u8] = br#"<MakeCall xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3"><callingDevice>sip:201@192.0.2.7:5060</callingDevice><calledDirectoryNumber>202</calledDirectoryNumber><autoOriginate>doNotPrompt</autoOriginate></MakeCall>"#;

    // Boxed outside the measurement: the sessions and the model are large values.
    let mut w = Box::new(sessions::World::new());
    let mut ids = [0u32; 2];
    let count = allocations(|| {
        w.app.open().unwrap();
        w.pump();
        assert!(w.phone.is_open());
        for (i, request) in [MONITOR, MAKE_CALL].into_iter().enumerate() {
            ids[i] = w.app.send(&decode(request).unwrap().message).unwrap().0;
            w.pump();
        }
        w.model_events();
        let call = w.model.find("1").unwrap();
        for progress in [
            Progress::Originated { called: "202" },
            Progress::Ringing,
            Progress::Answered,
        ] {
            w.model.handle_progress(call, progress).unwrap();
            w.model_events();
        }
        // One session refresh (half of the 120 s interval), then the BYE and the
        // transactions' last timers.
        w.run_to(Instant::from_millis(70_000));
        w.app.close().unwrap();
        w.pump();
        w.run_to(Instant::from_millis(110_000));
    });
    assert_eq!(w.established, 1);
    assert_eq!(
        w.responses,
        [
            (ids[0], "MonitorStartResponse"),
            (ids[1], "MakeCallResponse")
        ]
    );
    assert_eq!(
        w.events,
        [
            "ServiceInitiatedEvent",
            "OriginatedEvent",
            "DeliveredEvent",
            "EstablishedEvent"
        ]
    );
    assert_eq!(w.invites, 2, "the setup INVITE and one refresh");
    assert_eq!(w.byes, 1);
    assert_eq!(w.closed, 1);
    assert!(!w.phone.is_open());
    assert!(w.app.is_done());
    assert_eq!(count, 0);
}
