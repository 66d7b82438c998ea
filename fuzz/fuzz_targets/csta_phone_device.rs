//! Drives the phone-side call model (`model::phone::Device<3, 4, 2>`, small queues so
//! that full queues are reached) with an arbitrary sequence of operations read from the
//! input: CSTA requests from templates covering every service the model answers (and
//! some it does not), naming existing, ended and unknown calls and monitors; requests
//! decoded from raw input bytes; new calls (off-hook, incoming, forwarded); progress
//! reports on any call handle seen so far (ended ones included); handset feature
//! changes; consultations linked on the handset; the end of every monitor (the
//! session went away); and polling some, all or none of the queued events and commands.
//!
//! Checks that nothing panics; every request gets one reply, a response or
//! `CSTAErrorCode`, that encodes and decodes back to itself; a refused request or
//! report changes no call; no more than 3 calls are in use and exactly as many as the
//! live handles the harness knows (no slot is leaked); every event encodes and decodes
//! back; and that once every live call is reported ended, no slot is in use.
#![no_main]

use csta_core::message::{Kind, Message, decode};
use csta_core::model::phone::{CallRef, Device, Divert, Forward, ModelError, Progress};
use csta_core::names::ConnectionState;
use csta_core::{Edition, EncodeOptions};
use libfuzzer_sys::fuzz_target;

const ME: &str = "sip:201@gw";
type Phone = Device<3, 4, 2>;

/// Reads the input a byte at a time; zeros once it is used up.
struct Bytes<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Bytes<'a> {
    fn done(&self) -> bool {
        self.pos >= self.data.len()
    }

    fn byte(&mut self) -> u8 {
        let b = self.data.get(self.pos).copied().unwrap_or(0);
        self.pos += 1;
        b
    }

    fn bool(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    fn slice(&mut self, len: usize) -> &'a [u8] {
        let start = self.pos.min(self.data.len());
        let end = (start + len).min(self.data.len());
        self.pos = end;
        &self.data[start..end]
    }
}

/// A device number for a request (XML text): short, empty, or as long as a device ID
/// may be.
fn request_number(sel: u8) -> String {
    match sel % 6 {
        4 => "9".repeat(256),
        5 => "N&lt;+49 89 1234&gt;".into(),
        _ => number(sel),
    }
}

/// A device number for a report: short, empty, and one longer than a device ID may be.
fn number(sel: u8) -> String {
    match sel % 6 {
        0 => "202".into(),
        1 => "203".into(),
        2 => "sip:204@gw".into(),
        3 => String::new(),
        4 => "9".repeat(300),
        _ => "N<+49 89 1234>".into(),
    }
}

const FORWARDING_TYPES: [&str; 8] = [
    "forwardImmediate",
    "forwardBusy",
    "forwardNoAns",
    "forwardDND",
    "forwardBusyInt",
    "forwardBusyExt",
    "forwardNoAnsInt",
    "forwardNoAnsExt",
];

const STATUSES: [u16; 10] = [404, 408, 480, 484, 486, 487, 500, 600, 603, 604];

struct Harness {
    device: Phone,
    /// Every call handle seen (live and ended), without duplicates.
    refs: Vec<CallRef>,
    /// Every call ID seen in a reply or for a handle.
    call_ids: Vec<String>,
}

impl Harness {
    fn learn(&mut self, r: CallRef) {
        if !self.refs.contains(&r) {
            self.refs.push(r);
        }
        if let Ok(id) = self.device.call_id(r) {
            let id = id.to_string();
            if !self.call_ids.contains(&id) {
                self.call_ids.push(id);
            }
        }
    }

    /// A call ID: one seen (maybe ended), a small number (maybe never used), or junk.
    fn call_id(&self, sel: u8) -> String {
        if sel & 0x80 != 0 && !self.call_ids.is_empty() {
            return self.call_ids[usize::from(sel) % self.call_ids.len()].clone();
        }
        match sel & 0x7f {
            0x70..=0x77 => "x".repeat(64),
            0x78..=0x7f => "abc".into(),
            n => (n % 12).to_string(),
        }
    }

    /// A connection element named `element` naming the call `sel` picks (or no call).
    fn conn(&self, element: &str, sel: u8) -> String {
        if sel == 0x7f {
            return format!("<{element}><deviceID>{ME}</deviceID></{element}>");
        }
        format!(
            "<{element}><callID>{}</callID><deviceID>{ME}</deviceID></{element}>",
            self.call_id(sel)
        )
    }

    fn call_ref(&self, sel: u8) -> Option<CallRef> {
        (!self.refs.is_empty()).then(|| self.refs[usize::from(sel) % self.refs.len()])
    }

    fn states(&self) -> Vec<Result<ConnectionState, ModelError>> {
        self.refs.iter().map(|r| self.device.state(*r)).collect()
    }

    /// A request from the templates, its fields picked by the input.
    fn template(&self, input: &mut Bytes<'_>) -> String {
        let which = input.byte();
        let a = input.byte();
        let b = input.byte();
        let c = input.byte();
        let on = if c & 1 == 1 { "true" } else { "false" };
        match which % 31 {
            0 => format!(
                "<MonitorStart><monitorObject><deviceObject>{ME}</deviceObject></monitorObject></MonitorStart>"
            ),
            1 => format!(
                "<MonitorStart><monitorObject><deviceObject>{ME}</deviceObject></monitorObject>\
                 <requestedMonitorFilter><callcontrol><delivered>{on}</delivered><held>true</held>\
                 <established>{}</established></callcontrol><logicalDeviceFeature>\
                 <doNotDisturb>true</doNotDisturb><forwarding>{on}</forwarding></logicalDeviceFeature>\
                 </requestedMonitorFilter></MonitorStart>",
                if a & 1 == 1 { "true" } else { "false" }
            ),
            2 => format!(
                "<MonitorStop><monitorCrossRefID>{}</monitorCrossRefID></MonitorStop>",
                match a % 7 {
                    6 => "m".into(),
                    n => n.to_string(),
                }
            ),
            3 => format!(
                "<MakeCall><callingDevice>{ME}</callingDevice><calledDirectoryNumber>{}</calledDirectoryNumber>\
                 <autoOriginate>doNotPrompt</autoOriginate></MakeCall>",
                request_number(a)
            ),
            4 => format!("<AnswerCall>{}</AnswerCall>", self.conn("callToBeAnswered", a)),
            5 => format!(
                "<ClearConnection>{}</ClearConnection>",
                self.conn("connectionToBeCleared", a)
            ),
            6 => format!("<ClearCall>{}</ClearCall>", self.conn("callToBeCleared", a)),
            7 => format!("<HoldCall>{}</HoldCall>", self.conn("callToBeHeld", a)),
            8 => format!("<RetrieveCall>{}</RetrieveCall>", self.conn("callToBeRetrieved", a)),
            9 => format!(
                "<ConsultationCall>{}<consultedDevice>{}</consultedDevice></ConsultationCall>",
                self.conn("existingCall", a),
                request_number(b)
            ),
            10 => format!(
                "<TransferCall>{}{}</TransferCall>",
                self.conn("heldCall", a),
                self.conn("activeCall", b)
            ),
            11 => format!(
                "<AlternateCall>{}{}</AlternateCall>",
                self.conn("heldCall", a),
                self.conn("activeCall", b)
            ),
            12 => format!(
                "<ReconnectCall>{}{}</ReconnectCall>",
                self.conn("heldCall", a),
                self.conn("activeCall", b)
            ),
            13 => format!(
                "<SingleStepTransferCall>{}<transferredTo>{}</transferredTo></SingleStepTransferCall>",
                self.conn("activeCall", a),
                request_number(b)
            ),
            14 => format!(
                "<ConferenceCall>{}{}</ConferenceCall>",
                self.conn("heldCall", a),
                self.conn("activeCall", b)
            ),
            15 => format!(
                "<DeflectCall>{}<newDestination>{}</newDestination></DeflectCall>",
                self.conn("callToBeDiverted", a),
                request_number(b)
            ),
            16 => format!(
                "<GenerateDigits>{}<charactersToSend>{}</charactersToSend></GenerateDigits>",
                self.conn("connectionToSendDigits", a),
                match b % 3 {
                    0 => "12#".into(),
                    1 => String::new(),
                    _ => "5".repeat(40),
                }
            ),
            17 => format!(
                "<SetDoNotDisturb><device>{ME}</device><doNotDisturbOn>{on}</doNotDisturbOn></SetDoNotDisturb>"
            ),
            18 => format!("<GetDoNotDisturb><device>{ME}</device></GetDoNotDisturb>"),
            19 => {
                let dn = if b & 0x80 != 0 {
                    String::new()
                } else {
                    format!("<forwardDN>{}</forwardDN>", request_number(b))
                };
                format!(
                    "<SetForwarding><device>{ME}</device><forwardingType>{}</forwardingType>\
                     <activateForward>{on}</activateForward>{dn}</SetForwarding>",
                    FORWARDING_TYPES[usize::from(a) % FORWARDING_TYPES.len()]
                )
            }
            20 => format!("<GetForwarding><device>{ME}</device></GetForwarding>"),
            21 => format!("<SnapshotDevice><snapshotObject>{ME}</snapshotObject></SnapshotDevice>"),
            22 => "<GetCSTAFeatures/>".into(),
            23 => "<RequestSystemStatus/>".into(),
            24 => "<SystemRegister/>".into(),
            25 => "<AnswerCallResponse/>".into(),
            26 => format!(
                "<SetSpeakerVolume><device>{ME}</device><speakerVolume>{}</speakerVolume></SetSpeakerVolume>",
                u32::from(a) * 2
            ),
            27 => format!(
                "<SetMessageWaitingIndicator><device>{ME}</device><messageWaitingOn>{on}</messageWaitingOn></SetMessageWaitingIndicator>"
            ),
            28 => format!(
                "<SetMicrophoneMute><device>{ME}</device><microphoneMuteOn>{on}</microphoneMuteOn></SetMicrophoneMute>"
            ),
            29 => format!(
                "<SetSpeakerMute><device>{ME}</device><speakerMuteOn>{on}</speakerMuteOn></SetSpeakerMute>"
            ),
            _ => "<MonitorStart><monitorObject><callObject><callID>1</callID></callObject></monitorObject></MonitorStart>"
                .into(),
        }
    }

    fn request(&mut self, request: &Message<'_>) {
        let before = (self.states(), self.device.calls_in_use());
        let reply = self.device.handle_request(request);
        let message = reply.message();
        let text = round_trip(&message);
        match message.kind() {
            Kind::Error => {
                assert!(matches!(message, Message::CSTAErrorCode(_)), "{text}");
                assert!(!reply.is_positive() && reply.error().is_some(), "{text}");
                let after = (self.states(), self.device.calls_in_use());
                assert_eq!(before, after, "a refused request changed a call: {text}");
            }
            Kind::Response => assert!(reply.is_positive() && reply.error().is_none(), "{text}"),
            Kind::Request | Kind::Event => panic!("a reply that is no response: {text}"),
        }
        // Learn the calls a request created.
        let id = match &message {
            Message::MakeCallResponse(r) => r.calling_device.call_id.map(|c| c.to_string()),
            Message::ConsultationCallResponse(r) => r
                .initiated_call
                .as_ref()
                .and_then(|c| c.call_id)
                .map(|c| c.to_string()),
            _ => None,
        };
        if let Some(id) = id {
            let r = self
                .device
                .find(&id)
                .unwrap_or_else(|| panic!("the call {id} a response names does not exist"));
            self.learn(r);
        }
    }

    fn progress(&mut self, input: &mut Bytes<'_>) {
        let Some(call) = self.call_ref(input.byte()) else {
            return;
        };
        let a = input.byte();
        let b = input.byte();
        let called = number(b);
        let progress = match a % 12 {
            0 => Progress::Originated { called: &called },
            1 => Progress::Ringing,
            2 => Progress::Answered,
            3 => Progress::Cleared { remote: b & 1 == 1 },
            4 => Progress::Cancelled,
            5 => Progress::Failed {
                status: STATUSES[usize::from(b) % STATUSES.len()],
            },
            6 => Progress::Held,
            7 => Progress::Retrieved,
            8 => Progress::Transferred,
            9 => Progress::SingleStepTransferred { to: &called },
            10 => Progress::Conferenced,
            _ => Progress::Diverted {
                to: &called,
                how: divert(b >> 4),
            },
        };
        let before = self.states();
        if self.device.handle_progress(call, progress).is_err() {
            assert_eq!(
                before,
                self.states(),
                "a refused {progress:?} changed a call"
            );
        }
    }

    fn poll_events(&mut self, count: u8) {
        for _ in 0..count {
            let Some(event) = self.device.poll_event() else {
                return;
            };
            let message = event.message();
            let text = round_trip(&message);
            assert_eq!(message.kind(), Kind::Event, "{text}");
        }
    }

    fn poll_commands(&mut self, count: u8) {
        for _ in 0..count {
            let Some(command) = self.device.poll_command() else {
                return;
            };
            use csta_core::model::phone::Command as C;
            match command {
                C::Originate { call, .. }
                | C::Answer { call }
                | C::Clear { call }
                | C::Hold { call }
                | C::Retrieve { call }
                | C::SingleStepTransfer { call, .. }
                | C::Deflect { call, .. }
                | C::SendDigits { call, .. } => self.learn(call),
                C::Consult { held, call, .. } => {
                    self.learn(held);
                    self.learn(call);
                }
                C::Transfer { held, active } | C::Conference { held, active } => {
                    self.learn(held);
                    self.learn(active);
                }
                _ => {}
            }
        }
    }

    fn check(&self) {
        let in_use = self.device.calls_in_use();
        assert!(in_use <= 3, "{in_use} calls in 3 slots");
        let live = self
            .refs
            .iter()
            .filter(|r| self.device.state(**r).is_ok())
            .count();
        assert_eq!(in_use, live, "slots in use but no live handle to them");
    }

    /// Reports every live call ended, polling whenever a queue is full.
    fn end_all(&mut self) {
        self.poll_events(u8::MAX);
        self.poll_commands(u8::MAX);
        for r in self.refs.clone() {
            let Ok(state) = self.device.state(r) else {
                continue;
            };
            let last = match state {
                ConnectionState::Alerting => Progress::Cancelled,
                ConnectionState::Initiated => {
                    // Not reached the far end: it fails first (refused if it cannot).
                    let _ = self
                        .device
                        .handle_progress(r, Progress::Failed { status: 486 });
                    self.poll_events(u8::MAX);
                    Progress::Cleared { remote: false }
                }
                _ => Progress::Cleared { remote: true },
            };
            self.device
                .handle_progress(r, last)
                .unwrap_or_else(|e| panic!("ending a {state} call: {e}"));
            self.poll_events(u8::MAX);
            self.poll_commands(u8::MAX);
        }
        assert_eq!(
            self.device.calls_in_use(),
            0,
            "slots in use after every call ended"
        );
    }
}

fn divert(sel: u8) -> Divert {
    match sel % 4 {
        0 => Divert::Deflected,
        1 => Divert::ForwardImmediate,
        2 => Divert::ForwardBusy,
        _ => Divert::ForwardNoAnswer,
    }
}

/// Encodes `message` and decodes it back; returns the XML.
fn round_trip(message: &Message<'_>) -> String {
    let options = EncodeOptions {
        edition: Edition::Ed3,
        declaration: false,
    };
    let mut buf = vec![0u8; message.buffer_len(&options)];
    let n = message
        .encode_with(&options, &mut buf)
        .unwrap_or_else(|e| panic!("{message:?} does not encode: {e}"));
    let xml = &buf[..n];
    let text = String::from_utf8_lossy(xml).into_owned();
    let again = decode(xml).unwrap_or_else(|e| panic!("{text} does not decode: {e}"));
    assert_eq!(&again.message, message, "changed through XML: {text}");
    text
}

fuzz_target!(|data: &[u8]| {
    let mut input = Bytes { data, pos: 0 };
    let limit = usize::from(input.byte() % 5);
    let Ok(device) = Phone::with_monitor_limit(ME, limit) else {
        return;
    };
    let mut h = Harness {
        device,
        refs: Vec::new(),
        call_ids: Vec::new(),
    };
    while !input.done() {
        match input.byte() % 14 {
            0..=2 => {
                let xml = h.template(&mut input);
                match decode(xml.as_bytes()) {
                    Ok(d) => h.request(&d.message),
                    // ClearCall: a service this crate has no message for.
                    Err(_) => assert!(xml.starts_with("<ClearCall>"), "template: {xml}"),
                }
            }
            3 => {
                let len = usize::from(input.byte()) * 2;
                let raw = input.slice(len);
                if let Ok(d) = decode(raw) {
                    h.request(&d.message);
                }
            }
            4 => {
                if let Ok(r) = h.device.off_hook() {
                    h.learn(r);
                }
            }
            5 => {
                let from = number(input.byte());
                if let Ok(r) = h.device.incoming(&from, ME) {
                    h.learn(r);
                }
            }
            6 => {
                let from = number(input.byte());
                let to = number(input.byte());
                let how = divert(input.byte());
                let _ = h.device.forwarded(&from, ME, &to, how);
            }
            7 => h.progress(&mut input),
            8 => {
                let on = input.bool();
                let _ = h.device.handset_do_not_disturb(on);
            }
            9 => {
                let sel = input.byte();
                let forward = Forward::ALL[usize::from(sel) % 4];
                let to = (sel & 0x80 != 0).then(|| number(sel >> 2));
                let _ = h
                    .device
                    .handset_forwarding(forward, sel & 0x40 != 0, to.as_deref());
            }
            10 => {
                let count = input.byte();
                h.poll_events(count);
            }
            12 => {
                // The session carrying the monitors ended.
                h.device.stop_monitors();
                assert!(h.device.poll_event().is_none());
            }
            13 => {
                let (a, b) = (input.byte(), input.byte());
                if let (Some(held), Some(active)) = (h.call_ref(a), h.call_ref(b)) {
                    let before = h.states();
                    if h.device.link_calls(held, active).is_err() {
                        assert_eq!(before, h.states(), "a refused link changed a call");
                    }
                }
            }
            _ => {
                let count = input.byte();
                h.poll_commands(count);
            }
        }
        h.check();
    }
    h.end_all();
});
