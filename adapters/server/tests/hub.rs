//! The hub against a fake session manager: application sessions, access control,
//! monitors and fan-out, request correlation, answers from the view, offline devices,
//! timers, editions and bad input. Every output is asserted exactly.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use csta_core::framing::InvokeId;
use csta_core::message::{Message, decode};
use csta_core::model::view::same_device;
use csta_core::uacsta::app::RequestId;
use csta_server::config::ClientUser;
use csta_server::hub::{Hub, HubConfig, HubStats};
use csta_server::interface::{
    Answer, ClientId, ClientInfo, ClientInput, ClientOutput, DeviceNews, DeviceStatus, Devices,
    Encoding, SendError, View,
};
use csta_server::sessions::QUEUE;

const A201: &str = "sip:201@example.test";
const A202: &str = "sip:202@example.test";
const ED3: &str = "http://www.ecma-international.org/standards/ecma-323/csta/ed3";
const ED5: &str = "http://www.ecma-international.org/standards/ecma-323/csta/ed5";
const ECMA354: &str = "http://www.ecma-international.org/standards/ecma-354/appl_session";
const DECL: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

struct FakeDevice {
    id: String,
    status: DeviceStatus,
    view: View,
}

/// The session manager: two controlled phones; records what is sent.
struct Fake {
    devices: Vec<FakeDevice>,
    /// (device, request name, request in ed3 XML).
    sent: Vec<(String, String, String)>,
    next: u32,
    refuse: Option<SendError>,
    /// Requests one phone can have outstanding, as the session manager's queue
    /// ([`QUEUE`]); `None`: no limit.
    queue: Option<usize>,
    /// The requests sent and not answered yet: (device, request).
    open: Vec<(String, RequestId)>,
}

impl Fake {
    fn new() -> Fake {
        let device = |id: &str| FakeDevice {
            id: id.to_owned(),
            status: DeviceStatus::Online,
            view: View::new(id).unwrap(),
        };
        Fake {
            devices: vec![device(A201), device(A202)],
            sent: Vec::new(),
            next: 100,
            refuse: None,
            queue: None,
            open: Vec::new(),
        }
    }

    /// Adds a controlled phone, online.
    fn add(&mut self, id: &str) {
        self.devices.push(FakeDevice {
            id: id.to_owned(),
            status: DeviceStatus::Online,
            view: View::new(id).unwrap(),
        });
    }

    /// Removes a controlled phone.
    fn remove(&mut self, id: &str) {
        self.devices.retain(|d| d.id != id);
    }

    fn device(&mut self, id: &str) -> &mut FakeDevice {
        self.devices.iter_mut().find(|d| d.id == id).unwrap()
    }

    /// Feeds the view of `id` a message, as the session manager does with the phone's.
    fn feed(&mut self, id: &str, xml: &str) {
        let m = decode(xml.as_bytes()).unwrap().message;
        self.device(id).view.handle_message(&m).unwrap();
    }
}

impl Devices for Fake {
    fn resolve(&self, device: &str) -> Option<&str> {
        self.devices
            .iter()
            .find(|d| same_device(&d.id, device))
            .map(|d| d.id.as_str())
    }

    fn all(&self) -> Vec<&str> {
        self.devices.iter().map(|d| d.id.as_str()).collect()
    }

    fn status(&self, device: &str) -> DeviceStatus {
        self.devices
            .iter()
            .find(|d| d.id == device)
            .map_or(DeviceStatus::Offline, |d| d.status)
    }

    fn view(&self, device: &str) -> Option<&View> {
        self.devices
            .iter()
            .find(|d| d.id == device)
            .map(|d| &d.view)
    }

    fn send(
        &mut self,
        _now: Instant,
        device: &str,
        request: &Message<'_>,
    ) -> Result<RequestId, SendError> {
        if let Some(e) = self.refuse.take() {
            return Err(e);
        }
        if self.status(device) == DeviceStatus::Offline {
            return Err(SendError::Offline);
        }
        if let Some(queue) = self.queue
            && self.open.iter().filter(|(d, _)| d == device).count() >= queue
        {
            return Err(SendError::Busy);
        }
        let mut buf = vec![0; 4096];
        let n = request
            .encode(csta_core::Edition::Ed3, &mut buf)
            .map_err(|_| SendError::Encode)?;
        self.sent.push((
            device.to_owned(),
            request.name().to_owned(),
            String::from_utf8(buf[..n].to_vec()).unwrap(),
        ));
        self.next += 1;
        self.open.push((device.to_owned(), RequestId(self.next)));
        Ok(RequestId(self.next))
    }
}

fn users() -> Vec<ClientUser> {
    vec![
        ClientUser {
            name: "alice".into(),
            password: "s3cret".into(),
            devices: vec!["*".into()],
        },
        ClientUser {
            name: "bob".into(),
            password: "hunter2".into(),
            devices: vec![A201.into()],
        },
    ]
}

struct T {
    hub: Hub,
    fake: Fake,
    t0: Instant,
}

/// One output as (client, invokeID, XML).
type Out = (u64, u16, String);

impl T {
    fn new() -> T {
        T {
            hub: Hub::new(HubConfig::new(users())),
            fake: Fake::new(),
            t0: Instant::now(),
        }
    }

    fn at(&self, secs: u64) -> Instant {
        self.t0 + Duration::from_secs(secs)
    }

    fn connect(&mut self, client: u64) {
        let info = ClientInfo {
            peer: SocketAddr::from(([127, 0, 0, 1], 40000)),
            encoding: Encoding::Xml,
            tls: false,
            opened: self.t0,
        };
        let input = ClientInput::Connected {
            client: ClientId(client),
            info,
        };
        self.hub.handle_input(self.t0, input, &mut self.fake);
        assert_eq!(self.hub.poll_output(), None);
    }

    fn send_at(&mut self, secs: u64, client: u64, invoke: u16, xml: &str) -> Vec<ClientOutput> {
        let input = ClientInput::Frame {
            client: ClientId(client),
            invoke_id: InvokeId::new(invoke).unwrap(),
            body: xml.as_bytes().to_vec(),
        };
        let now = self.at(secs);
        self.hub.handle_input(now, input, &mut self.fake);
        self.drain()
    }

    fn send(&mut self, client: u64, invoke: u16, xml: &str) -> Vec<Out> {
        let out = self.send_at(0, client, invoke, xml);
        frames(out)
    }

    fn news(&mut self, news: DeviceNews<'_>) -> Vec<ClientOutput> {
        let now = self.t0;
        self.hub.device_news(now, news);
        self.drain()
    }

    fn drain(&mut self) -> Vec<ClientOutput> {
        std::iter::from_fn(|| self.hub.poll_output()).collect()
    }

    /// Connects `client` and starts a session as `user` in `edition` (a namespace).
    fn login(&mut self, client: u64, user: &str, password: &str, edition: &str) -> String {
        self.connect(client);
        let out = self.send(client, 1, &start(user, password, Some(edition), Some(60)));
        assert_eq!(out.len(), 1, "{out:?}");
        let (c, invoke, xml) = &out[0];
        assert_eq!((*c, *invoke), (client, 1));
        assert!(
            xml.contains("<StartApplicationSessionPosResponse "),
            "{xml}"
        );
        let start = xml.find("<sessionID>").unwrap() + "<sessionID>".len();
        let end = xml.find("</sessionID>").unwrap();
        xml[start..end].to_owned()
    }

    fn monitor(&mut self, client: u64, invoke: u16, device: &str, ns: &str) -> String {
        let out = self.send(client, invoke, &monitor_start(device, ns));
        assert_eq!(out.len(), 1, "{out:?}");
        let (_, i, xml) = &out[0];
        assert_eq!(*i, invoke);
        let start = xml.find("<monitorCrossRefID>").unwrap() + "<monitorCrossRefID>".len();
        let end = xml.find("</monitorCrossRefID>").unwrap();
        xml[start..end].to_owned()
    }
}

/// The frames of `out` as text; panics on a close.
fn frames(out: Vec<ClientOutput>) -> Vec<Out> {
    out.into_iter()
        .map(|o| match o {
            ClientOutput::Frame {
                client,
                invoke_id,
                body,
            } => (client.0, invoke_id.get(), String::from_utf8(body).unwrap()),
            ClientOutput::Close { client } => panic!("unexpected close of {client:?}"),
        })
        .collect()
}

fn frame(client: u64, invoke: u16, xml: String) -> ClientOutput {
    ClientOutput::Frame {
        client: ClientId(client),
        invoke_id: InvokeId::new(invoke).unwrap(),
        body: xml.into_bytes(),
    }
}

fn close(client: u64) -> ClientOutput {
    ClientOutput::Close {
        client: ClientId(client),
    }
}

fn start(user: &str, password: &str, version: Option<&str>, duration: Option<u32>) -> String {
    let versions = version.map_or(String::new(), |v| {
        format!("<requestedProtocolVersions><protocolVersion>{v}</protocolVersion></requestedProtocolVersions>")
    });
    let duration = duration.map_or(String::new(), |d| {
        format!("<requestedSessionDuration>{d}</requestedSessionDuration>")
    });
    format!(
        r#"<StartApplicationSession xmlns="{ECMA354}"><applicationInfo><applicationID>test</applicationID><applicationSpecificInfo><userName>{user}</userName><password>{password}</password></applicationSpecificInfo></applicationInfo>{versions}{duration}</StartApplicationSession>"#
    )
}

fn monitor_start(device: &str, ns: &str) -> String {
    format!(
        r#"<MonitorStart xmlns="{ns}"><monitorObject><deviceObject>{device}</deviceObject></monitorObject></MonitorStart>"#
    )
}

fn error(ns: &str, category: &str, value: &str) -> String {
    format!(r#"{DECL}<CSTAErrorCode xmlns="{ns}"><{category}>{value}</{category}></CSTAErrorCode>"#)
}

fn make_call(ns: &str, from: &str, to: &str) -> String {
    format!(
        r#"<MakeCall xmlns="{ns}"><callingDevice>{from}</callingDevice><calledDirectoryNumber>{to}</calledDirectoryNumber></MakeCall>"#
    )
}

fn delivered(xref: &str) -> String {
    format!(
        r#"<DeliveredEvent xmlns="{ED3}"><monitorCrossRefID>{xref}</monitorCrossRefID><connection><callID>C1</callID><deviceID>{A201}</deviceID></connection><alertingDevice><deviceIdentifier>{A201}</deviceIdentifier></alertingDevice><callingDevice><deviceIdentifier>203</deviceIdentifier></callingDevice><calledDevice><deviceIdentifier>201</deviceIdentifier></calledDevice><localConnectionInfo>alerting</localConnectionInfo><cause>newCall</cause></DeliveredEvent>"#
    )
}

fn delivered_out(ns: &str, xref: &str) -> String {
    format!(
        r#"{DECL}<DeliveredEvent xmlns="{ns}"><monitorCrossRefID>{xref}</monitorCrossRefID><connection><callID>C1</callID><deviceID>{A201}</deviceID></connection><alertingDevice><deviceIdentifier>{A201}</deviceIdentifier></alertingDevice><callingDevice><deviceIdentifier>203</deviceIdentifier></callingDevice><calledDevice><deviceIdentifier>201</deviceIdentifier></calledDevice><localConnectionInfo>alerting</localConnectionInfo><cause>newCall</cause></DeliveredEvent>"#
    )
}

#[test]
fn test_login_ok() {
    let mut t = T::new();
    t.connect(1);
    let out = t.send(1, 17, &start("alice", "s3cret", Some(ED5), Some(60)));
    assert_eq!(
        out,
        vec![(
            1,
            17,
            format!(
                r#"{DECL}<StartApplicationSessionPosResponse xmlns="{ECMA354}"><sessionID>S1</sessionID><actualProtocolVersion>{ED5}</actualProtocolVersion><actualSessionDuration>60</actualSessionDuration></StartApplicationSessionPosResponse>"#
            )
        )]
    );
    assert_eq!(
        t.hub.stats(),
        HubStats {
            clients: 1,
            sessions: 1,
            ..HubStats::default()
        }
    );
    // A second start on the same connection is refused; the session stays.
    let out = t.send(1, 18, &start("alice", "s3cret", Some(ED5), Some(60)));
    assert_eq!(
        out,
        vec![(
            1,
            18,
            format!(
                r#"{DECL}<StartApplicationSessionNegResponse xmlns="{ECMA354}"><errorCode><nonStandardError>sessionAlreadyStarted</nonStandardError></errorCode></StartApplicationSessionNegResponse>"#
            )
        )]
    );
    assert_eq!(t.hub.stats().sessions, 1);
}

fn neg(defined: &str) -> String {
    format!(
        r#"{DECL}<StartApplicationSessionNegResponse xmlns="{ECMA354}"><errorCode><definedError>{defined}</definedError></errorCode></StartApplicationSessionNegResponse>"#
    )
}

#[test]
fn test_login_wrong_password_closes_after_three_failures() {
    let mut t = T::new();
    t.connect(1);
    let refused = neg("invalidApplicationInfo");
    assert_eq!(
        t.send(1, 1, &start("alice", "wrong", None, None)),
        vec![(1, 1, refused.clone())]
    );
    // The right password of another user is no better.
    assert_eq!(
        t.send(1, 2, &start("alice", "hunter2", None, None)),
        vec![(1, 2, refused.clone())]
    );
    assert_eq!(
        t.send_at(0, 1, 3, &start("alice", "s3cret!", None, None)),
        vec![frame(1, 3, refused), close(1)]
    );
    // Nothing more from a closing connection is looked at.
    assert_eq!(
        t.send_at(0, 1, 4, &start("alice", "s3cret", None, None)),
        vec![]
    );
    let stats = t.hub.stats();
    assert_eq!(
        (stats.clients, stats.sessions, stats.login_failures),
        (1, 0, 3)
    );
    t.hub.handle_input(
        t.t0,
        ClientInput::Closed {
            client: ClientId(1),
        },
        &mut t.fake,
    );
    assert_eq!(t.hub.stats().clients, 0);
}

#[test]
fn test_login_unknown_user_and_missing_credentials() {
    let mut t = T::new();
    t.connect(1);
    let refused = neg("invalidApplicationInfo");
    assert_eq!(
        t.send(1, 1, &start("mallory", "s3cret", None, None)),
        vec![(1, 1, refused.clone())]
    );
    let bare = format!(
        r#"<StartApplicationSession xmlns="{ECMA354}"><applicationInfo><applicationID>x</applicationID></applicationInfo></StartApplicationSession>"#
    );
    assert_eq!(t.send(1, 2, &bare), vec![(1, 2, refused)]);
    // Still allowed a third try, which succeeds.
    t.send(1, 3, &start("alice", "s3cret", None, None));
    assert_eq!(t.hub.stats().sessions, 1);
}

#[test]
fn test_protocol_version_and_duration_negotiation() {
    let mut t = T::new();
    t.connect(1);
    // Only edition 2: not written by this server.
    let ed2 = "http://www.ecma.ch/standards/ecma-323/csta/ed2";
    assert_eq!(
        t.send(1, 1, &start("alice", "s3cret", Some(ed2), None)),
        vec![(1, 1, neg("requestedProtocolVersionNotSupported"))]
    );
    // Durations are bounded to 30..=3600 s, 300 s when none is asked for.
    for (client, asked, granted, version) in [
        (2, Some(5), 30, ED3),
        (3, Some(100_000), 3600, ED3),
        (4, None, 300, ED3),
    ] {
        t.connect(client);
        let out = t.send(client, 1, &start("alice", "s3cret", Some(version), asked));
        assert_eq!(
            out,
            vec![(
                client,
                1,
                format!(
                    r#"{DECL}<StartApplicationSessionPosResponse xmlns="{ECMA354}"><sessionID>S{}</sessionID><actualProtocolVersion>{version}</actualProtocolVersion><actualSessionDuration>{granted}</actualSessionDuration></StartApplicationSessionPosResponse>"#,
                    client - 1
                )
            )]
        );
    }
    // No version list: the default edition (3).
    t.connect(5);
    let out = t.send(5, 1, &start("alice", "s3cret", None, Some(60)));
    assert!(
        out[0].2.contains(&format!("<actualProtocolVersion>{ED3}<")),
        "{out:?}"
    );
}

#[test]
fn test_request_before_login() {
    let mut t = T::new();
    t.connect(1);
    assert_eq!(
        t.send(1, 42, &make_call(ED5, "201", "202")),
        vec![(1, 42, error(ED5, "security", "generic"))]
    );
    assert_eq!(
        t.send(1, 43, &monitor_start("201", ED3)),
        vec![(1, 43, error(ED3, "security", "generic"))]
    );
    assert!(t.fake.sent.is_empty());
    // Stopping or resetting a session that does not exist.
    let stop = format!(
        r#"<StopApplicationSession xmlns="{ECMA354}"><sessionID>S1</sessionID></StopApplicationSession>"#
    );
    assert_eq!(
        t.send(1, 44, &stop),
        vec![(
            1,
            44,
            format!(
                r#"{DECL}<StopApplicationSessionNegResponse xmlns="{ECMA354}"><errorCode><definedError>invalidSessionID</definedError></errorCode></StopApplicationSessionNegResponse>"#
            )
        )]
    );
}

#[test]
fn test_acl() {
    let mut t = T::new();
    t.login(1, "bob", "hunter2", ED3);
    let privilege = error(ED3, "operation", "privilegeViolationSpecifiedDevice");
    // 202 exists but is not bob's; 299 does not exist: the same answer.
    assert_eq!(
        t.send(1, 2, &make_call(ED3, "202", "201")),
        vec![(1, 2, privilege.clone())]
    );
    assert_eq!(
        t.send(1, 3, &make_call(ED3, "299", "201")),
        vec![(1, 3, privilege.clone())]
    );
    assert_eq!(
        t.send(1, 4, &monitor_start(A202, ED3)),
        vec![(1, 4, privilege)]
    );
    assert!(t.fake.sent.is_empty());
    // His own device, in any form.
    let out = t.send(1, 5, &make_call(ED3, "tel:201", "202"));
    assert_eq!(out, vec![]);
    assert_eq!(t.fake.sent.len(), 1);
    assert_eq!(t.fake.sent[0].0, A201);
    // A user who sees everything gets invalidDeviceID for a device that is not there.
    t.login(2, "alice", "s3cret", ED3);
    assert_eq!(
        t.send(2, 6, &make_call(ED3, "299", "201")),
        vec![(2, 6, error(ED3, "operation", "invalidDeviceID"))]
    );
}

#[test]
fn test_monitors_and_fan_out() {
    let mut t = T::new();
    t.login(1, "alice", "s3cret", ED3);
    t.login(2, "bob", "hunter2", ED3);
    let x1 = t.monitor(1, 10, "201", ED3);
    let x2 = t.monitor(2, 20, A201, ED3);
    assert_eq!((x1.as_str(), x2.as_str()), ("1", "2"));
    assert_eq!(t.hub.stats().monitors, 2);
    // The exact response.
    let x3 = t.send(1, 11, &monitor_start("202", ED3));
    assert_eq!(
        x3,
        vec![(
            1,
            11,
            format!(
                r#"{DECL}<MonitorStartResponse xmlns="{ED3}"><monitorCrossRefID>3</monitorCrossRefID></MonitorStartResponse>"#
            )
        )]
    );

    // One event of the phone (with the server's own monitor ID) reaches both clients,
    // each with its own ID.
    let event_xml = delivered("43");
    let event = decode(event_xml.as_bytes()).unwrap().message;
    let out = t.news(DeviceNews::Event {
        device: A201,
        event: &event,
    });
    assert_eq!(
        out,
        vec![
            frame(1, 9999, delivered_out(ED3, "1")),
            frame(2, 9999, delivered_out(ED3, "2")),
        ]
    );
    assert_eq!(t.hub.stats().events_delivered, 2);

    // Bob may not stop alice's monitor; nor one that does not exist.
    let stop = |x: &str| {
        format!(
            r#"<MonitorStop xmlns="{ED3}"><monitorCrossRefID>{x}</monitorCrossRefID></MonitorStop>"#
        )
    };
    let invalid = error(ED3, "operation", "invalidMonitorCrossRefID");
    assert_eq!(t.send(2, 21, &stop("1")), vec![(2, 21, invalid.clone())]);
    assert_eq!(t.send(2, 22, &stop("x")), vec![(2, 22, invalid.clone())]);
    assert_eq!(
        t.send(1, 12, &stop("1")),
        vec![(
            1,
            12,
            format!(r#"{DECL}<MonitorStopResponse xmlns="{ED3}"></MonitorStopResponse>"#)
        )]
    );
    assert_eq!(t.send(1, 13, &stop("1")), vec![(1, 13, invalid)]);
    let out = t.news(DeviceNews::Event {
        device: A201,
        event: &event,
    });
    assert_eq!(out, vec![frame(2, 9999, delivered_out(ED3, "2"))]);
    // Events of a device nobody monitors go nowhere.
    assert_eq!(
        t.news(DeviceNews::Event {
            device: "sip:209@example.test",
            event: &event,
        }),
        vec![]
    );
    // A call monitor is not offered.
    let call = format!(
        r#"<MonitorStart xmlns="{ED3}"><monitorObject><callObject><callID>C1</callID><deviceID>201</deviceID></callObject></monitorObject></MonitorStart>"#
    );
    assert_eq!(
        t.send(1, 14, &call),
        vec![(1, 14, error(ED3, "operation", "invalidMonitorObject"))]
    );
}

#[test]
fn test_monitor_limit() {
    let mut config = HubConfig::new(users());
    config.max_monitors_per_client = 2;
    let mut t = T::new();
    t.hub = Hub::new(config);
    t.login(1, "alice", "s3cret", ED3);
    t.monitor(1, 1, "201", ED3);
    t.monitor(1, 2, "202", ED3);
    assert_eq!(
        t.send(1, 3, &monitor_start("201", ED3)),
        vec![(
            1,
            3,
            error(
                ED3,
                "subscribedResourceAvailability",
                "objectMonitorLimitExceeded"
            )
        )]
    );
}

#[test]
fn test_request_forwarded_and_answered() {
    let mut t = T::new();
    t.login(1, "alice", "s3cret", ED5);
    t.login(2, "alice", "s3cret", ED3);
    assert_eq!(t.send(1, 77, &make_call(ED5, "201", "202")), vec![]);
    assert_eq!(
        t.fake.sent,
        vec![(
            A201.to_owned(),
            "MakeCall".to_owned(),
            format!(
                r#"{DECL}<MakeCall xmlns="{ED3}"><callingDevice>201</callingDevice><calledDirectoryNumber>202</calledDirectoryNumber></MakeCall>"#
            )
        )]
    );
    // A request on a connection goes to the connection's device.
    let answer = format!(
        r#"<AnswerCall xmlns="{ED3}"><callToBeAnswered><callID>C9</callID><deviceID>202</deviceID></callToBeAnswered></AnswerCall>"#
    );
    assert_eq!(t.send(2, 78, &answer), vec![]);
    assert_eq!(t.fake.sent[1].0, A202);
    assert_eq!(t.hub.stats().pending, 2);
    assert_eq!(t.hub.stats().requests_forwarded, 2);

    // The phone's answer goes to the right client with the request's invokeID, in
    // the request's edition.
    let response_xml = format!(
        r#"<MakeCallResponse xmlns="{ED3}"><callingDevice><callID>C1</callID><deviceID>201</deviceID></callingDevice></MakeCallResponse>"#
    );
    let response = decode(response_xml.as_bytes()).unwrap().message;
    let out = t.news(DeviceNews::Answer {
        device: A201,
        id: RequestId(101),
        answer: Answer::Message(&response),
    });
    assert_eq!(
        out,
        vec![frame(
            1,
            77,
            format!(
                r#"{DECL}<MakeCallResponse xmlns="{ED5}"><callingDevice><callID>C1</callID><deviceID>201</deviceID></callingDevice></MakeCallResponse>"#
            )
        )]
    );
    // The same answer twice, or one for the wrong device: dropped.
    let again = t.news(DeviceNews::Answer {
        device: A201,
        id: RequestId(101),
        answer: Answer::Message(&response),
    });
    assert_eq!(again, vec![]);
    let wrong = t.news(DeviceNews::Answer {
        device: A201,
        id: RequestId(102),
        answer: Answer::Failed,
    });
    assert_eq!(wrong, vec![]);
    // No CSTA answer from the phone.
    let out = t.news(DeviceNews::Answer {
        device: A202,
        id: RequestId(102),
        answer: Answer::Failed,
    });
    assert_eq!(
        out,
        vec![frame(
            2,
            78,
            error(ED3, "systemResourceAvailibility", "generic")
        )]
    );
    assert_eq!(t.hub.stats().pending, 0);

    // Refusals of the session manager.
    t.fake.refuse = Some(SendError::Busy);
    assert_eq!(
        t.send(2, 79, &make_call(ED3, "202", "201")),
        vec![(
            2,
            79,
            error(ED3, "systemResourceAvailibility", "resourceBusy")
        )]
    );
    // A connection without a device.
    let hold = format!(
        r#"<HoldCall xmlns="{ED3}"><callToBeHeld><callID>C9</callID></callToBeHeld></HoldCall>"#
    );
    assert_eq!(
        t.send(2, 80, &hold),
        vec![(2, 80, error(ED3, "operation", "invalidConnectionID"))]
    );
    // A service the server does not offer.
    let status = format!(
        r#"<SystemStatus xmlns="{ED3}"><systemStatus>normal</systemStatus></SystemStatus>"#
    );
    assert_eq!(
        t.send(2, 81, &status),
        vec![(2, 81, error(ED3, "operation", "serviceNotSupported"))]
    );
    // Asked of the server itself.
    let status = format!(r#"<RequestSystemStatus xmlns="{ED3}"/>"#);
    assert_eq!(
        t.send(2, 82, &status),
        vec![(
            2,
            82,
            format!(
                r#"{DECL}<RequestSystemStatusResponse xmlns="{ED3}"><systemStatus>normal</systemStatus></RequestSystemStatusResponse>"#
            )
        )]
    );
}

#[test]
fn test_pending_limit() {
    let mut config = HubConfig::new(users());
    config.max_pending_per_client = 1;
    let mut t = T::new();
    t.hub = Hub::new(config);
    t.login(1, "alice", "s3cret", ED3);
    assert_eq!(t.send(1, 1, &make_call(ED3, "201", "202")), vec![]);
    assert_eq!(
        t.send(1, 2, &make_call(ED3, "201", "202")),
        vec![(
            1,
            2,
            error(
                ED3,
                "subscribedResourceAvailability",
                "outstandingReqLimitExceeded"
            )
        )]
    );
    t.news(DeviceNews::Answer {
        device: A201,
        id: RequestId(101),
        answer: Answer::Failed,
    });
    assert_eq!(t.send(1, 3, &make_call(ED3, "201", "202")), vec![]);
    assert_eq!(t.fake.sent.len(), 2);
}

/// The share of one phone's queue a client may hold by default.
fn share() -> usize {
    HubConfig::new(users()).max_pending_per_client_device
}

/// The refusal of a request beyond a client's limits.
fn limit_exceeded() -> String {
    error(
        ED3,
        "subscribedResourceAvailability",
        "outstandingReqLimitExceeded",
    )
}

fn make_call_response() -> Message<'static> {
    let xml = format!(
        r#"<MakeCallResponse xmlns="{ED3}"><callingDevice><callID>C1</callID><deviceID>201</deviceID></callingDevice></MakeCallResponse>"#
    );
    decode(Box::leak(xml.into_bytes().into_boxed_slice()))
        .unwrap()
        .message
}

/// `n` as an invokeID offset.
fn inv(base: u16, n: usize) -> u16 {
    base + u16::try_from(n).unwrap()
}

/// `n` as a request of the fake (its requests are numbered from 101).
fn req(n: usize) -> RequestId {
    RequestId(100 + u32::try_from(n).unwrap())
}

#[test]
fn test_one_client_cannot_starve_another_on_a_device() {
    let share = share();
    assert!(share >= 1 && 2 * share <= QUEUE, "two clients get room");
    let mut t = T::new();
    t.fake.queue = Some(QUEUE);
    t.login(1, "alice", "s3cret", ED3);
    t.login(2, "bob", "hunter2", ED3);
    // A floods 201, which answers nothing: its share is passed on, the rest refused
    // with the outstanding-request limit, not left to fill the phone's queue.
    for i in 0..QUEUE + 2 {
        let invoke = inv(10, i);
        let out = t.send(1, invoke, &make_call(ED3, "201", "202"));
        let expected = if i < share {
            vec![]
        } else {
            vec![(1, invoke, limit_exceeded())]
        };
        assert_eq!(out, expected, "request {i}");
    }
    assert_eq!(t.fake.sent.len(), share);
    // The share is per device: A's request to 202 passes.
    assert_eq!(t.send(1, 30, &make_call(ED3, "202", "201")), vec![]);
    // B's requests to 201 still reach the phone, up to B's own share.
    for i in 0..share {
        assert_eq!(
            t.send(2, inv(40, i), &make_call(ED3, "201", "203")),
            vec![],
            "B's request {i}"
        );
    }
    assert_eq!(t.fake.sent.len(), 2 * share + 1);
    assert!(t.fake.sent[share + 1..].iter().all(|(d, _, _)| d == A201));
    assert_eq!(
        t.send(2, 50, &make_call(ED3, "201", "203")),
        vec![(2, 50, limit_exceeded())]
    );
    assert_eq!(t.hub.stats().pending, 2 * share + 1);

    // The phone answers A's requests (one with no CSTA answer): A's count on 201
    // is back to zero, so A again gets exactly its share.
    let response = make_call_response();
    for k in 0..share {
        let answer = if k == 0 {
            Answer::Failed
        } else {
            Answer::Message(&response)
        };
        let out = frames(t.answer(0, A201, req(k + 1), answer));
        assert_eq!(out.len(), 1, "{out:?}");
        assert_eq!((out[0].0, out[0].1), (1, inv(10, k)));
    }
    assert_eq!(t.hub.stats().pending, share + 1);
    for i in 0..share {
        assert_eq!(
            t.send(1, inv(60, i), &make_call(ED3, "201", "202")),
            vec![],
            "request {i}"
        );
    }
    assert_eq!(
        t.send(1, 70, &make_call(ED3, "201", "202")),
        vec![(1, 70, limit_exceeded())]
    );
    assert_eq!(t.hub.stats().pending, 2 * share + 1);

    // A disconnects: its requests are forgotten, B's stay.
    t.hub.handle_input(
        t.t0,
        ClientInput::Closed {
            client: ClientId(1),
        },
        &mut t.fake,
    );
    assert_eq!(t.hub.stats().pending, share);
    // The phone still has A's requests until it answers them; their answers are
    // dropped.
    let a_late: Vec<RequestId> = (0..share).map(|i| req(2 * share + 2 + i)).collect();
    for id in &a_late {
        assert_eq!(t.answer(0, A201, *id, Answer::Message(&response)), vec![]);
    }
    assert_eq!(t.answer(0, A202, req(share + 1), Answer::Failed), vec![]);
    for i in 0..share {
        let out = frames(t.answer(0, A201, req(share + 2 + i), Answer::Failed));
        assert_eq!(
            out,
            vec![(
                2,
                inv(40, i),
                error(ED3, "systemResourceAvailibility", "generic")
            )]
        );
    }
    assert_eq!(t.hub.stats().pending, 0);
    assert!(t.fake.open.is_empty(), "{:?}", t.fake.open);
    // Both have their full share again.
    t.login(3, "alice", "s3cret", ED3);
    for (client, base) in [(3, 80), (2, 90)] {
        for i in 0..share {
            assert_eq!(
                t.send(client, inv(base, i), &make_call(ED3, "201", "202")),
                vec![]
            );
        }
        assert_eq!(
            t.send(client, base + 9, &make_call(ED3, "201", "202")),
            vec![(client, base + 9, limit_exceeded())]
        );
    }
    assert_eq!(t.hub.stats().pending, 2 * share);
}

#[test]
fn test_device_share_released_when_the_phone_goes_offline() {
    let share = share();
    let mut t = T::new();
    t.fake.queue = Some(QUEUE);
    t.login(1, "alice", "s3cret", ED3);
    for i in 0..share {
        assert_eq!(t.send(1, inv(10, i), &make_call(ED3, "201", "202")), vec![]);
    }
    assert_eq!(
        t.send(1, 20, &make_call(ED3, "201", "202")),
        vec![(1, 20, limit_exceeded())]
    );
    // The phone is lost with the requests open: each is answered, none is left.
    t.fake.device(A201).status = DeviceStatus::Offline;
    t.fake.open.clear();
    let mut out = frames(t.news(DeviceNews::Offline { device: A201 }));
    out.sort();
    let expected: Vec<Out> = (0..share)
        .map(|i| {
            (
                1,
                inv(10, i),
                error(ED3, "systemResourceAvailibility", "deviceOutOfService"),
            )
        })
        .collect();
    assert_eq!(out, expected);
    assert_eq!(t.hub.stats().pending, 0);
    // Back: the client has its full share again.
    t.fake.device(A201).status = DeviceStatus::Online;
    assert_eq!(t.news(DeviceNews::Online { device: A201 }), vec![]);
    for i in 0..share {
        assert_eq!(t.send(1, inv(30, i), &make_call(ED3, "201", "202")), vec![]);
    }
    assert_eq!(
        t.send(1, 40, &make_call(ED3, "201", "202")),
        vec![(1, 40, limit_exceeded())]
    );
    assert_eq!(t.hub.stats().pending, share);
}

#[test]
fn test_device_share_released_when_the_session_ends() {
    let share = share();
    let mut t = T::new();
    t.fake.queue = Some(QUEUE);
    let session = t.login(1, "alice", "s3cret", ED3);
    t.login(2, "alice", "s3cret", ED3);
    for i in 0..share {
        assert_eq!(t.send(1, inv(10, i), &make_call(ED3, "201", "202")), vec![]);
    }
    // The client stops its session with its requests open: they are forgotten.
    let stop = format!(
        r#"<StopApplicationSession xmlns="{ECMA354}"><sessionID>{session}</sessionID></StopApplicationSession>"#
    );
    let out = t.send_at(0, 1, 30, &stop);
    assert_eq!(out.last(), Some(&close(1)), "{out:?}");
    assert_eq!(t.hub.stats().pending, 0);
    // The other client's session timer runs out with its requests open.
    for i in 0..share {
        assert_eq!(t.send(2, inv(10, i), &make_call(ED3, "201", "202")), vec![]);
    }
    assert_eq!(t.hub.stats().pending, share);
    t.hub.handle_timeout(t.at(60));
    let out = t.drain();
    assert_eq!(out.last(), Some(&close(2)), "{out:?}");
    assert_eq!(t.hub.stats().pending, 0);
}

#[test]
fn test_request_id_given_twice() {
    let share = share();
    let mut t = T::new();
    t.login(1, "alice", "s3cret", ED3);
    t.login(2, "alice", "s3cret", ED3);
    assert_eq!(t.send(1, 10, &make_call(ED3, "201", "202")), vec![]);
    // A session manager that numbers a new request like an open one: the open one
    // can no longer be answered, so it is answered now and counted off.
    t.fake.next = 100;
    assert_eq!(
        t.send(2, 20, &make_call(ED3, "201", "202")),
        vec![(1, 10, error(ED3, "systemResourceAvailibility", "generic"))]
    );
    assert_eq!(t.hub.stats().pending, 1);
    for i in 0..share {
        assert_eq!(t.send(1, inv(30, i), &make_call(ED3, "201", "202")), vec![]);
    }
    assert_eq!(
        t.send(1, 40, &make_call(ED3, "201", "202")),
        vec![(1, 40, limit_exceeded())]
    );
    // The answer goes to the request that has the number now.
    let response = make_call_response();
    let out = frames(t.answer(0, A201, req(1), Answer::Message(&response)));
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!((out[0].0, out[0].1), (2, 20));
}

#[test]
fn test_answers_from_view() {
    let mut t = T::new();
    t.login(1, "alice", "s3cret", ED3);
    let get_dnd =
        format!(r#"<GetDoNotDisturb xmlns="{ED3}"><device>201</device></GetDoNotDisturb>"#);
    let get_fwd = format!(r#"<GetForwarding xmlns="{ED3}"><device>201</device></GetForwarding>"#);
    // Not known yet: asked of the phone.
    assert_eq!(t.send(1, 1, &get_dnd), vec![]);
    assert_eq!(t.send(1, 2, &get_fwd), vec![]);
    assert_eq!(t.fake.sent.len(), 2);

    t.fake.feed(
        A201,
        &format!(
            r#"<DoNotDisturbEvent xmlns="{ED3}"><monitorCrossRefID>43</monitorCrossRefID><device><deviceIdentifier>201</deviceIdentifier></device><doNotDisturbOn>true</doNotDisturbOn></DoNotDisturbEvent>"#
        ),
    );
    t.fake.feed(
        A201,
        &format!(
            r#"<ForwardingEvent xmlns="{ED3}"><monitorCrossRefID>43</monitorCrossRefID><device><deviceIdentifier>201</deviceIdentifier></device><forwardingType>forwardImmediate</forwardingType><forwardStatus>true</forwardStatus><forwardTo>205</forwardTo></ForwardingEvent>"#
        ),
    );
    t.fake.feed(A201, &delivered("43"));
    assert_eq!(
        t.send(1, 3, &get_dnd),
        vec![(
            1,
            3,
            format!(
                r#"{DECL}<GetDoNotDisturbResponse xmlns="{ED3}"><doNotDisturbOn>true</doNotDisturbOn></GetDoNotDisturbResponse>"#
            )
        )]
    );
    assert_eq!(
        t.send(1, 4, &get_fwd),
        vec![(
            1,
            4,
            format!(
                r#"{DECL}<GetForwardingResponse xmlns="{ED3}"><forwardingList><forwardListItem><forwardingType>forwardImmediate</forwardingType><forwardStatus>true</forwardStatus><forwardDN>205</forwardDN></forwardListItem></forwardingList></GetForwardingResponse>"#
            )
        )]
    );
    let snapshot = format!(
        r#"<SnapshotDevice xmlns="{ED3}"><snapshotObject>201</snapshotObject></SnapshotDevice>"#
    );
    assert_eq!(
        t.send(1, 5, &snapshot),
        vec![(
            1,
            5,
            format!(
                r#"{DECL}<SnapshotDeviceResponse xmlns="{ED3}"><crossRefIDorSnapshotData><snapshotData><snapshotDeviceResponseInfo><connectionIdentifier><callID>C1</callID><deviceID>{A201}</deviceID></connectionIdentifier><localCallState><compoundCallState><localConnectionState>alerting</localConnectionState></compoundCallState></localCallState></snapshotDeviceResponseInfo></snapshotData></crossRefIDorSnapshotData></SnapshotDeviceResponse>"#
            )
        )]
    );
    // The snapshot of a device without calls is empty, not forwarded.
    let snapshot202 = format!(
        r#"<SnapshotDevice xmlns="{ED3}"><snapshotObject>202</snapshotObject></SnapshotDevice>"#
    );
    assert_eq!(
        t.send(1, 6, &snapshot202),
        vec![(
            1,
            6,
            format!(
                r#"{DECL}<SnapshotDeviceResponse xmlns="{ED3}"><crossRefIDorSnapshotData><snapshotData></snapshotData></crossRefIDorSnapshotData></SnapshotDeviceResponse>"#
            )
        )]
    );
    assert_eq!(t.fake.sent.len(), 2);
    assert_eq!(t.hub.stats().answered_from_view, 4);
}

fn out_of_service(ns: &str, xref: &str, device: &str) -> String {
    format!(
        r#"{DECL}<OutOfServiceEvent xmlns="{ns}"><monitorCrossRefID>{xref}</monitorCrossRefID><device><deviceIdentifier>{device}</deviceIdentifier></device></OutOfServiceEvent>"#
    )
}

fn back_in_service(ns: &str, xref: &str, device: &str) -> String {
    format!(
        r#"{DECL}<BackInServiceEvent xmlns="{ns}"><monitorCrossRefID>{xref}</monitorCrossRefID><device><deviceIdentifier>{device}</deviceIdentifier></device></BackInServiceEvent>"#
    )
}

#[test]
fn test_offline_device() {
    let mut t = T::new();
    t.login(1, "alice", "s3cret", ED3);
    t.login(2, "alice", "s3cret", ED5);
    t.monitor(1, 1, "201", ED3);
    assert_eq!(t.send(1, 2, &make_call(ED3, "201", "202")), vec![]);

    // The phone goes away: the open request is answered, the monitor told.
    t.fake.device(A201).status = DeviceStatus::Offline;
    let out = t.news(DeviceNews::Offline { device: A201 });
    assert_eq!(
        out,
        vec![
            frame(
                1,
                2,
                error(ED3, "systemResourceAvailibility", "deviceOutOfService")
            ),
            frame(1, 9999, out_of_service(ED3, "1", "201")),
        ]
    );
    // Requests now get deviceOutOfService without reaching the session manager.
    assert_eq!(
        t.send(2, 3, &make_call(ED5, "201", "202")),
        vec![(
            2,
            3,
            error(ED5, "systemResourceAvailibility", "deviceOutOfService")
        )]
    );
    assert_eq!(t.fake.sent.len(), 1);
    // A monitor started on the offline device is told at once.
    let out = t.send(2, 4, &monitor_start(A201, ED5));
    assert_eq!(
        out,
        vec![
            (
                2,
                4,
                format!(
                    r#"{DECL}<MonitorStartResponse xmlns="{ED5}"><monitorCrossRefID>2</monitorCrossRefID></MonitorStartResponse>"#
                )
            ),
            (2, 9999, out_of_service(ED5, "2", A201)),
        ]
    );
    // Back: both monitors hear it, each in its client's edition.
    t.fake.device(A201).status = DeviceStatus::Online;
    let out = t.news(DeviceNews::Online { device: A201 });
    assert_eq!(
        out,
        vec![
            frame(1, 9999, back_in_service(ED3, "1", "201")),
            frame(2, 9999, back_in_service(ED5, "2", A201)),
        ]
    );
    assert_eq!(t.send(2, 5, &make_call(ED5, "201", "202")), vec![]);
    assert_eq!(t.fake.sent.len(), 2);
}

#[test]
fn test_session_timer_expiry_and_reset() {
    let mut t = T::new();
    let session = t.login(1, "alice", "s3cret", ED3);
    assert_eq!(t.hub.poll_timeout(), Some(t.at(60)));
    t.hub.handle_timeout(t.at(59));
    assert_eq!(t.drain(), vec![]);

    // Reset at 50 s, asking for 120 s.
    let reset = format!(
        r#"<ResetApplicationSessionTimer xmlns="{ECMA354}"><sessionID>{session}</sessionID><requestedSessionDuration>120</requestedSessionDuration></ResetApplicationSessionTimer>"#
    );
    assert_eq!(
        t.send_at(50, 1, 2, &reset),
        vec![frame(
            1,
            2,
            format!(
                r#"{DECL}<ResetApplicationSessionTimerPosResponse xmlns="{ECMA354}"><actualSessionDuration>120</actualSessionDuration></ResetApplicationSessionTimerPosResponse>"#
            )
        )]
    );
    assert_eq!(t.hub.poll_timeout(), Some(t.at(170)));
    // A reset naming another session.
    let wrong = reset.replace(&session, "S99");
    assert_eq!(
        t.send_at(60, 1, 3, &wrong),
        vec![frame(
            1,
            3,
            format!(
                r#"{DECL}<ResetApplicationSessionTimerNegResponse xmlns="{ECMA354}"><errorCode><definedError>invalidSessionID</definedError></errorCode></ResetApplicationSessionTimerNegResponse>"#
            )
        )]
    );
    // Other requests do not extend it.
    t.monitor(1, 4, "201", ED3);
    t.hub.handle_timeout(t.at(169));
    assert_eq!(t.drain(), vec![]);
    t.hub.handle_timeout(t.at(170));
    assert_eq!(
        t.drain(),
        vec![
            frame(
                1,
                9999,
                format!(
                    r#"{DECL}<ApplicationSessionTerminated xmlns="{ECMA354}"><sessionID>{session}</sessionID><sessionTermReason><definedTermReason>sessionTimerExpired</definedTermReason></sessionTermReason></ApplicationSessionTerminated>"#
                )
            ),
            close(1),
        ]
    );
    let stats = t.hub.stats();
    assert_eq!((stats.sessions, stats.monitors), (0, 0));
    assert_eq!(t.hub.poll_timeout(), None);
}

#[test]
fn test_login_timeout() {
    let mut t = T::new();
    t.connect(1);
    assert_eq!(t.hub.poll_timeout(), Some(t.at(5)));
    t.hub.handle_timeout(t.at(4));
    assert_eq!(t.drain(), vec![]);
    t.hub.handle_timeout(t.at(5));
    assert_eq!(t.drain(), vec![close(1)]);
    assert!(!t.hub.has_session(ClientId(1)));
}

#[test]
fn test_login_timeout_counts_from_accept() {
    let mut t = T::new();
    // Announced 3 s after its accept (a slow WebSocket handshake): 2 s are left.
    let info = ClientInfo {
        peer: SocketAddr::from(([127, 0, 0, 1], 40000)),
        encoding: Encoding::Json,
        tls: false,
        opened: t.t0,
    };
    let input = ClientInput::Connected {
        client: ClientId(1),
        info,
    };
    t.hub.handle_input(t.at(3), input, &mut t.fake);
    assert_eq!(t.hub.poll_timeout(), Some(t.at(5)));
    // A session started in time is known to the connection layer and stays.
    t.connect(2);
    assert!(!t.hub.has_session(ClientId(2)));
    t.login(3, "alice", "s3cret", ED3);
    assert!(t.hub.has_session(ClientId(3)));
    t.hub.handle_timeout(t.at(5));
    assert_eq!(t.drain(), vec![close(1), close(2)]);
    assert!(t.hub.has_session(ClientId(3)));
}

#[test]
fn test_stop_session() {
    let mut t = T::new();
    let session = t.login(1, "alice", "s3cret", ED3);
    t.monitor(1, 2, "201", ED3);
    let stop = format!(
        r#"<StopApplicationSession xmlns="{ECMA354}"><sessionID>{session}</sessionID><sessionEndReason><definedEndReason>normal</definedEndReason></sessionEndReason></StopApplicationSession>"#
    );
    assert_eq!(
        t.send_at(0, 1, 3, &stop),
        vec![
            frame(
                1,
                3,
                format!(
                    r#"{DECL}<StopApplicationSessionPosResponse xmlns="{ECMA354}"></StopApplicationSessionPosResponse>"#
                )
            ),
            close(1),
        ]
    );
    assert_eq!(t.hub.stats().monitors, 0);
}

#[test]
fn test_client_closing_mid_request() {
    let mut t = T::new();
    t.login(1, "alice", "s3cret", ED3);
    t.login(2, "alice", "s3cret", ED3);
    t.monitor(1, 2, "201", ED3);
    t.monitor(2, 2, "201", ED3);
    assert_eq!(t.send(1, 3, &make_call(ED3, "201", "202")), vec![]);
    t.hub.handle_input(
        t.t0,
        ClientInput::Closed {
            client: ClientId(1),
        },
        &mut t.fake,
    );
    let stats = t.hub.stats();
    assert_eq!((stats.clients, stats.monitors, stats.pending), (1, 1, 0));
    // Its answer is dropped; its monitor gets no more events.
    let response_xml = format!(
        r#"<MakeCallResponse xmlns="{ED3}"><callingDevice><callID>C1</callID><deviceID>201</deviceID></callingDevice></MakeCallResponse>"#
    );
    let response = decode(response_xml.as_bytes()).unwrap().message;
    let out = t.news(DeviceNews::Answer {
        device: A201,
        id: RequestId(101),
        answer: Answer::Message(&response),
    });
    assert_eq!(out, vec![]);
    let event_xml = delivered("43");
    let event = decode(event_xml.as_bytes()).unwrap().message;
    let out = t.news(DeviceNews::Event {
        device: A201,
        event: &event,
    });
    assert_eq!(out, vec![frame(2, 9999, delivered_out(ED3, "2"))]);
    // Frames from a client that is gone are dropped.
    assert_eq!(t.send(1, 4, &make_call(ED3, "201", "202")), vec![]);
    assert_eq!(t.fake.sent.len(), 1);
}

#[test]
fn test_malformed_input() {
    let mut t = T::new();
    t.login(1, "alice", "s3cret", ED5);
    assert_eq!(
        t.send(1, 5, "<MakeCall><callingDevice>201</MakeCall>"),
        vec![(1, 5, error(ED5, "operation", "invalidParameterValue"))]
    );
    assert_eq!(
        t.send(1, 6, &format!(r#"<FlyToTheMoon xmlns="{ED3}"/>"#)),
        vec![(1, 6, error(ED5, "operation", "serviceNotSupported"))]
    );
    assert_eq!(
        t.send(
            1,
            7,
            &format!(r#"<MakeCall xmlns="{ED3}"><callingDevice>201</callingDevice></MakeCall>"#)
        ),
        vec![(
            1,
            7,
            error(
                ED5,
                "operation",
                "atLeastOneConditionalParameterNotProvided"
            )
        )]
    );
    assert_eq!(
        t.send(1, 8, "\u{0}\u{1}garbage"),
        vec![(1, 8, error(ED5, "operation", "invalidParameterValue"))]
    );
    // An event (invokeID 9999) or a response from a client: ignored.
    assert_eq!(t.send(1, 9999, &delivered("1")), vec![]);
    assert_eq!(
        t.send(1, 9, &format!(r#"<MakeCallResponse xmlns="{ED3}"><callingDevice><callID>C1</callID><deviceID>201</deviceID></callingDevice></MakeCallResponse>"#)),
        vec![]
    );
    assert_eq!(t.hub.stats().malformed, 4);
    // The client is still served.
    assert_eq!(t.send(1, 10, &make_call(ED5, "201", "202")), vec![]);
    assert_eq!(t.fake.sent.len(), 1);
}

#[test]
fn test_editions_per_client() {
    let mut t = T::new();
    t.login(3, "alice", "s3cret", ED3);
    t.login(5, "alice", "s3cret", ED5);
    assert_eq!(t.monitor(3, 1, "201", ED3), "1");
    assert_eq!(t.monitor(5, 1, "201", ED5), "2");
    let event_xml = delivered("43");
    let event = decode(event_xml.as_bytes()).unwrap().message;
    let out = t.news(DeviceNews::Event {
        device: A201,
        event: &event,
    });
    assert_eq!(
        out,
        vec![
            frame(3, 9999, delivered_out(ED3, "1")),
            frame(5, 9999, delivered_out(ED5, "2")),
        ]
    );
    // An answer follows the edition of its request; events keep the negotiated one.
    let out = t.send(5, 2, &format!(r#"<RequestSystemStatus xmlns="{ED3}"/>"#));
    assert!(out[0].2.contains(ED3), "{out:?}");
    let out = t.news(DeviceNews::Event {
        device: A201,
        event: &event,
    });
    assert_eq!(out[1], frame(5, 9999, delivered_out(ED5, "2")));

    // Without negotiation, events follow the client's latest request.
    t.connect(6);
    t.send(6, 1, &start("alice", "s3cret", None, None));
    assert_eq!(t.monitor(6, 2, "201", ED5), "3");
    let out = t.news(DeviceNews::Event {
        device: A201,
        event: &event,
    });
    assert_eq!(out[2], frame(6, 9999, delivered_out(ED5, "3")));
}

#[test]
fn test_shutdown() {
    let mut t = T::new();
    let session = t.login(1, "alice", "s3cret", ED3);
    t.monitor(1, 2, "201", ED3);
    t.connect(2);
    t.hub.shutdown();
    assert_eq!(
        t.drain(),
        vec![
            frame(
                1,
                1,
                format!(
                    r#"{DECL}<StopApplicationSession xmlns="{ECMA354}"><sessionID>{session}</sessionID><sessionEndReason><definedEndReason>normal</definedEndReason></sessionEndReason></StopApplicationSession>"#
                )
            ),
            close(1),
            close(2),
        ]
    );
    let stats = t.hub.stats();
    assert_eq!((stats.sessions, stats.monitors), (0, 0));
    // Twice is harmless.
    t.hub.shutdown();
    assert_eq!(t.drain(), vec![]);
}

#[test]
fn test_monitor_filter() {
    let mut t = T::new();
    t.login(1, "alice", "s3cret", ED3);
    t.login(2, "alice", "s3cret", ED3);
    let filtered = format!(
        r#"<MonitorStart xmlns="{ED3}"><monitorObject><deviceObject>201</deviceObject></monitorObject><requestedMonitorFilter><callcontrol><delivered>true</delivered><established>false</established></callcontrol><maintenance><outOfService>true</outOfService></maintenance></requestedMonitorFilter></MonitorStart>"#
    );
    assert_eq!(
        t.send(1, 1, &filtered),
        vec![(
            1,
            1,
            format!(
                r#"{DECL}<MonitorStartResponse xmlns="{ED3}"><monitorCrossRefID>1</monitorCrossRefID><actualMonitorFilter><callcontrol><delivered>true</delivered><established>false</established></callcontrol><maintenance><outOfService>true</outOfService></maintenance></actualMonitorFilter></MonitorStartResponse>"#
            )
        )]
    );
    t.monitor(2, 1, "201", ED3);
    let event_xml = delivered("43");
    let event = decode(event_xml.as_bytes()).unwrap().message;
    let out = t.news(DeviceNews::Event {
        device: A201,
        event: &event,
    });
    assert_eq!(out, vec![frame(2, 9999, delivered_out(ED3, "2"))]);
    let established_xml = format!(
        r#"<EstablishedEvent xmlns="{ED3}"><monitorCrossRefID>43</monitorCrossRefID><establishedConnection><callID>C1</callID><deviceID>201</deviceID></establishedConnection><answeringDevice><deviceIdentifier>201</deviceIdentifier></answeringDevice><callingDevice><deviceIdentifier>203</deviceIdentifier></callingDevice><calledDevice><deviceIdentifier>201</deviceIdentifier></calledDevice></EstablishedEvent>"#
    );
    let established = decode(established_xml.as_bytes()).unwrap().message;
    let out = t.news(DeviceNews::Event {
        device: A201,
        event: &established,
    });
    assert_eq!(
        out.iter()
            .map(|o| match o {
                ClientOutput::Frame { client, .. } => client.0,
                ClientOutput::Close { .. } => 0,
            })
            .collect::<Vec<_>>(),
        vec![1, 2]
    );
    // Out of service is filtered for the first client; back in service is not.
    let out = t.news(DeviceNews::Offline { device: A201 });
    assert_eq!(out, vec![frame(2, 9999, out_of_service(ED3, "2", "201"))]);
    let out = t.news(DeviceNews::Online { device: A201 });
    assert_eq!(
        out,
        vec![
            frame(1, 9999, back_in_service(ED3, "1", "201")),
            frame(2, 9999, back_in_service(ED3, "2", "201")),
        ]
    );
}

#[test]
fn test_get_csta_features() {
    let mut t = T::new();
    t.login(1, "alice", "s3cret", ED5);
    let out = t.send(1, 3, &format!(r#"<GetCSTAFeatures xmlns="{ED5}"/>"#));
    assert_eq!(out.len(), 1);
    let (client, invoke, xml) = &out[0];
    assert_eq!((*client, *invoke), (1, 3));
    let Message::GetCSTAFeaturesResponse(r) = decode(xml.as_bytes()).unwrap().message else {
        panic!("{xml}");
    };
    let services = r.supported_services.unwrap();
    let has = |c: &str, s: &str| services.iter().any(|(cat, f, on)| cat == c && f == s && on);
    assert!(has("callControlServList", "makeCall"));
    assert!(has("logicalServList", "setForwarding"));
    assert!(!has("callControlServList", "parkCall"));
    let events = r.supported_events.unwrap();
    assert_eq!(
        events.get("deviceMaintEvtsList", "outOfService"),
        Some(true)
    );
    assert_eq!(events.get("callControlEvtsList", "queued"), None);
    assert!(t.fake.sent.is_empty());
}

// ---- system services: GetSwitchingFunctionDevices, SystemRegister ----

const A203: &str = "sip:203@example.test";

fn get_devices(inner: &str) -> String {
    format!(r#"<GetSwitchingFunctionDevices xmlns="{ED3}">{inner}</GetSwitchingFunctionDevices>"#)
}

fn segment(xref: &str, id: u32, last: bool, devices: &[&str]) -> String {
    let entries: String = devices
        .iter()
        .map(|d| format!("<deviceEntry><deviceID>{d}</deviceID><deviceCategory>station</deviceCategory></deviceEntry>"))
        .collect();
    let list = if entries.is_empty() {
        "<deviceList></deviceList>".to_owned()
    } else {
        format!("<deviceList>{entries}</deviceList>")
    };
    format!(
        r#"{DECL}<SwitchingFunctionDevices xmlns="{ED3}"><serviceCrossRefID>{xref}</serviceCrossRefID><segmentID>{id}</segmentID><lastSegment>{last}</lastSegment>{list}</SwitchingFunctionDevices>"#
    )
}

fn sfd_response(xref: &str) -> String {
    format!(
        r#"{DECL}<GetSwitchingFunctionDevicesResponse xmlns="{ED3}"><serviceCrossRefID>{xref}</serviceCrossRefID></GetSwitchingFunctionDevicesResponse>"#
    )
}

#[test]
fn test_get_switching_function_devices() {
    let mut config = HubConfig::new(users());
    config.segment_size = 1;
    let mut t = T::new();
    t.hub = Hub::new(config);
    t.login(1, "alice", "s3cret", ED3);
    t.login(2, "bob", "hunter2", ED3);
    // Everything alice may see, one device a segment; the server numbers its requests.
    assert_eq!(
        t.send(1, 5, &get_devices("")),
        vec![
            (1, 5, sfd_response("D1")),
            (1, 1, segment("D1", 1, false, &[A201])),
            (1, 2, segment("D1", 2, true, &[A202])),
        ]
    );
    // bob sees 201 only; the client's answers to the segments are taken silently.
    assert_eq!(
        t.send(2, 6, &get_devices("")),
        vec![
            (2, 6, sfd_response("D2")),
            (2, 3, segment("D2", 1, true, &[A201])),
        ]
    );
    let ack = format!(r#"<SwitchingFunctionDevicesResponse xmlns="{ED3}"/>"#);
    assert_eq!(t.send(2, 3, &ack), vec![]);
    // One device, by any of its names.
    assert_eq!(
        t.send(
            1,
            7,
            &get_devices("<requestedDeviceID>202</requestedDeviceID>")
        ),
        vec![
            (1, 7, sfd_response("D3")),
            (1, 4, segment("D3", 1, true, &[A202])),
        ]
    );
    // Outside bob's list, or not controlled.
    assert_eq!(
        t.send(
            2,
            8,
            &get_devices("<requestedDeviceID>202</requestedDeviceID>")
        ),
        vec![(
            2,
            8,
            error(ED3, "operation", "privilegeViolationSpecifiedDevice")
        )]
    );
    assert_eq!(
        t.send(
            1,
            9,
            &get_devices("<requestedDeviceID>sip:299@example.test</requestedDeviceID>")
        ),
        vec![(1, 9, error(ED3, "operation", "invalidDeviceID"))]
    );
    // Stations only: another category is one empty segment.
    assert_eq!(
        t.send(
            1,
            10,
            &get_devices("<requestedDeviceCategory>groupPick</requestedDeviceCategory>")
        ),
        vec![
            (1, 10, sfd_response("D4")),
            (1, 5, segment("D4", 1, true, &[])),
        ]
    );
    assert_eq!(
        t.send(
            1,
            11,
            &get_devices("<requestedDeviceCategory>station</requestedDeviceCategory>")
        )
        .len(),
        3
    );
}

fn register(inner: &str) -> String {
    format!(
        r#"<SystemRegister xmlns="{ED3}"><requestTypes>{inner}</requestTypes></SystemRegister>"#
    )
}

fn register_response(id: &str) -> String {
    format!(
        r#"{DECL}<SystemRegisterResponse xmlns="{ED3}"><sysStatRegisterID>{id}</sysStatRegisterID></SystemRegisterResponse>"#
    )
}

fn cancel(id: &str) -> String {
    format!(
        r#"<SystemRegisterCancel xmlns="{ED3}"><sysStatRegisterID>{id}</sysStatRegisterID></SystemRegisterCancel>"#
    )
}

fn devices_changed(id: &str) -> String {
    format!(
        r#"{DECL}<SwitchingFunctionDevicesChanged xmlns="{ED3}"><sysStatRegisterID>{id}</sysStatRegisterID></SwitchingFunctionDevicesChanged>"#
    )
}

#[test]
fn test_system_register_and_devices_changed() {
    let mut t = T::new();
    t.login(1, "alice", "s3cret", ED3);
    t.login(2, "bob", "hunter2", ED3);
    let wants = "<switchingFunctionDevicesChanged>true</switchingFunctionDevicesChanged>";
    assert_eq!(
        t.send(1, 2, &register(wants)),
        vec![(1, 2, register_response("1"))]
    );
    assert_eq!(
        t.send(1, 3, &register("<systemStatus>true</systemStatus>")),
        vec![(1, 3, register_response("2"))]
    );
    assert_eq!(
        t.send(2, 2, &register(wants)),
        vec![(2, 2, register_response("3"))]
    );
    // Cancel: only one's own, only once.
    assert_eq!(
        t.send(2, 4, &cancel("2")),
        vec![(2, 4, error(ED3, "operation", "invalidCrossRefID"))]
    );
    let cancelled = format!(
        r#"{DECL}<SystemRegisterCancelResponse xmlns="{ED3}"></SystemRegisterCancelResponse>"#
    );
    assert_eq!(t.send(1, 4, &cancel("2")), vec![(1, 4, cancelled)]);
    assert_eq!(
        t.send(1, 5, &cancel("2")),
        vec![(1, 5, error(ED3, "operation", "invalidCrossRefID"))]
    );
    assert_eq!(
        t.send(1, 6, &cancel("x")),
        vec![(1, 6, error(ED3, "operation", "invalidCrossRefID"))]
    );
    // Nothing changed: nobody is told.
    t.hub.devices_changed(&t.fake);
    assert_eq!(t.drain(), vec![]);
    // A new phone: alice (who sees all) is told under registration 1, bob (201 only)
    // is not.
    t.fake.add(A203);
    t.hub.devices_changed(&t.fake);
    assert_eq!(frames(t.drain()), vec![(1, 1, devices_changed("1"))]);
    t.hub.devices_changed(&t.fake);
    assert_eq!(t.drain(), vec![]);
    // A monitor on a phone that goes away is ended by the server.
    let xref = t.monitor(1, 7, "203", ED3);
    t.fake.remove(A203);
    t.hub.devices_changed(&t.fake);
    let stop = format!(
        r#"{DECL}<MonitorStop xmlns="{ED3}"><monitorCrossRefID>{xref}</monitorCrossRefID></MonitorStop>"#
    );
    assert_eq!(
        frames(t.drain()),
        vec![(1, 2, devices_changed("1")), (1, 3, stop)]
    );
    assert_eq!(t.hub.stats().monitors, 0);
    // Registrations die with the connection.
    t.hub.handle_input(
        t.t0,
        ClientInput::Closed {
            client: ClientId(1),
        },
        &mut t.fake,
    );
    t.fake.add(A203);
    t.hub.devices_changed(&t.fake);
    assert_eq!(t.drain(), vec![]);
}

#[test]
fn test_reconfigure_users() {
    let mut t = T::new();
    t.login(1, "alice", "s3cret", ED3);
    let session = t.login(2, "bob", "hunter2", ED3);
    let xref = t.monitor(1, 2, "202", ED3);
    let wants = "<switchingFunctionDevicesChanged>true</switchingFunctionDevicesChanged>";
    assert_eq!(
        t.send(1, 3, &register(wants)),
        vec![(1, 3, register_response("1"))]
    );
    // bob is gone; alice now sees 201 only.
    let mut config = HubConfig::new(vec![ClientUser {
        name: "alice".into(),
        password: "changed".into(),
        devices: vec![A201.into()],
    }]);
    config.segment_size = 32;
    t.hub.reconfigure(config, &t.fake);
    let terminated = format!(
        r#"{DECL}<ApplicationSessionTerminated xmlns="{ECMA354}"><sessionID>{session}</sessionID><sessionTermReason><nonStandardTermReason>clientUserRemoved</nonStandardTermReason></sessionTermReason></ApplicationSessionTerminated>"#
    );
    let stop = format!(
        r#"{DECL}<MonitorStop xmlns="{ED3}"><monitorCrossRefID>{xref}</monitorCrossRefID></MonitorStop>"#
    );
    assert_eq!(
        t.drain(),
        vec![
            frame(2, 9999, terminated),
            close(2),
            frame(1, 1, devices_changed("1")),
            frame(1, 2, stop),
        ]
    );
    // alice's session goes on, with the new list.
    assert_eq!(
        t.send(1, 4, &make_call(ED3, "202", "201")),
        vec![(
            1,
            4,
            error(ED3, "operation", "privilegeViolationSpecifiedDevice")
        )]
    );
    assert_eq!(t.hub.stats().sessions, 1);
}

// ---- pickups ----

/// A call `call` from `caller` alerting at `device` (its own connection).
fn alerting(
    device: &str,
    call: &str,
    caller: &str,
    called: &str,
    redirected: Option<&str>,
) -> String {
    let redirection = redirected.map_or(String::new(), |r| {
        format!("<lastRedirectionDevice><deviceIdentifier>{r}</deviceIdentifier></lastRedirectionDevice>")
    });
    format!(
        r#"<DeliveredEvent xmlns="{ED3}"><monitorCrossRefID>43</monitorCrossRefID><connection><callID>{call}</callID><deviceID>{device}</deviceID></connection><alertingDevice><deviceIdentifier>{device}</deviceIdentifier></alertingDevice><callingDevice><deviceIdentifier>{caller}</deviceIdentifier></callingDevice><calledDevice><deviceIdentifier>{called}</deviceIdentifier></calledDevice>{redirection}<localConnectionInfo>alerting</localConnectionInfo><cause>newCall</cause></DeliveredEvent>"#
    )
}

fn directed(call: &str, from: &str, to: &str) -> String {
    format!(
        r#"<DirectedPickupCall xmlns="{ED3}"><callToBePickedUp><callID>{call}</callID><deviceID>{from}</deviceID></callToBePickedUp><requestingDevice>{to}</requestingDevice></DirectedPickupCall>"#
    )
}

fn response(name: &str) -> Message<'static> {
    let xml = format!(r#"<{name} xmlns="{ED3}"/>"#);
    decode(Box::leak(xml.into_bytes().into_boxed_slice()))
        .unwrap()
        .message
}

impl T {
    /// A three-phone setup: 201 calls 202 (call C1 alerting there, the hub told).
    fn ringing() -> T {
        let mut t = T::new();
        t.fake.add(A203);
        t.ring(A202, "C1", "201", 0);
        t
    }

    /// Call `call` from `caller` alerts at `device` (the view and the hub told at
    /// `secs`).
    fn ring(&mut self, device: &str, call: &str, caller: &str, secs: u64) {
        let xml = alerting(device, call, caller, device, None);
        self.fake.feed(device, &xml);
        let m = decode(xml.as_bytes()).unwrap().message;
        let now = self.at(secs);
        self.hub
            .device_news(now, DeviceNews::Event { device, event: &m });
        assert_eq!(self.drain(), vec![]);
    }

    /// The last request the fake sent: (device, name, XML, its RequestId).
    fn last_sent(&self) -> (String, String, String, RequestId) {
        let (d, n, x) = self.fake.sent.last().unwrap().clone();
        (d, n, x, RequestId(self.fake.next))
    }

    fn answer(
        &mut self,
        secs: u64,
        device: &str,
        id: RequestId,
        answer: Answer<'_>,
    ) -> Vec<ClientOutput> {
        self.fake.open.retain(|(d, r)| !(d == device && *r == id));
        let now = self.at(secs);
        self.hub
            .device_news(now, DeviceNews::Answer { device, id, answer });
        self.hub.drive_devices(now, &mut self.fake);
        self.drain()
    }

    fn event(&mut self, secs: u64, device: &str, xml: &str) -> Vec<ClientOutput> {
        self.fake.feed(device, xml);
        let m = decode(xml.as_bytes()).unwrap().message;
        let now = self.at(secs);
        self.hub
            .device_news(now, DeviceNews::Event { device, event: &m });
        self.hub.drive_devices(now, &mut self.fake);
        self.drain()
    }
}

#[test]
fn test_directed_pickup() {
    let mut t = T::ringing();
    t.login(1, "alice", "s3cret", ED3);
    assert_eq!(t.send(1, 7, &directed("C1", "202", "203")), vec![]);
    let (device, name, xml, deflect) = t.last_sent();
    assert_eq!((device.as_str(), name.as_str()), (A202, "DeflectCall"));
    assert!(
        xml.contains(&format!("<callToBeDiverted><callID>C1</callID><deviceID>{A202}</deviceID></callToBeDiverted><newDestination>{A203}</newDestination>")),
        "{xml}"
    );
    assert_eq!(t.hub.stats().pending, 1);
    // The phone deflects; the call alerts at 203 under a new ID, naming 202 as the
    // redirecting device; the server answers it there.
    assert_eq!(
        t.answer(
            0,
            A202,
            deflect,
            Answer::Message(&response("DeflectCallResponse"))
        ),
        vec![]
    );
    let other = alerting(A203, "C9", "205", "203", None);
    assert_eq!(
        t.event(1, A203, &other),
        vec![],
        "another call is not the picked one"
    );
    assert_eq!(t.fake.sent.len(), 1);
    let picked = alerting(A203, "C7", "201", "203", Some("202"));
    assert_eq!(t.event(1, A203, &picked), vec![]);
    let (device, name, xml, answer) = t.last_sent();
    assert_eq!((device.as_str(), name.as_str()), (A203, "AnswerCall"));
    assert!(
        xml.contains(&format!(
            "<callToBeAnswered><callID>C7</callID><deviceID>{A203}</deviceID></callToBeAnswered>"
        )),
        "{xml}"
    );
    assert_eq!(
        frames(t.answer(
            1,
            A203,
            answer,
            Answer::Message(&response("AnswerCallResponse"))
        )),
        vec![(
            1,
            7,
            format!(
                r#"{DECL}<DirectedPickupCallResponse xmlns="{ED3}"><pickedCall><callID>C7</callID><deviceID>{A203}</deviceID></pickedCall></DirectedPickupCallResponse>"#
            )
        )]
    );
    assert_eq!(t.hub.stats().pending, 0);
    // Only the session timer is left.
    assert_eq!(t.hub.poll_timeout(), Some(t.at(60)));
}

#[test]
fn test_pickup_counts_toward_device_share() {
    let share = share();
    let mut t = T::ringing();
    t.fake.queue = Some(QUEUE);
    t.login(1, "alice", "s3cret", ED3);
    for i in 0..share - 1 {
        assert_eq!(t.send(1, inv(10, i), &make_call(ED3, "202", "201")), vec![]);
    }
    // The pickup's DeflectCall to 202 takes the last place of the client's share.
    assert_eq!(t.send(1, 7, &directed("C1", "202", "203")), vec![]);
    let (device, name, _, deflect) = t.last_sent();
    assert_eq!((device.as_str(), name.as_str()), (A202, "DeflectCall"));
    assert_eq!(
        t.send(1, 20, &make_call(ED3, "202", "201")),
        vec![(1, 20, limit_exceeded())]
    );
    assert_eq!(
        t.send(1, 8, &directed("C1", "202", "203")),
        vec![(1, 8, limit_exceeded())]
    );
    // Deflected: the pickup waits for the call at 203 and holds nothing at 202.
    assert_eq!(
        t.answer(
            0,
            A202,
            deflect,
            Answer::Message(&response("DeflectCallResponse"))
        ),
        vec![]
    );
    assert_eq!(t.send(1, 21, &make_call(ED3, "202", "201")), vec![]);
    // Its AnswerCall holds a place at 203 until answered.
    let picked = alerting(A203, "C7", "201", "203", Some("202"));
    assert_eq!(t.event(1, A203, &picked), vec![]);
    let (device, name, _, answer) = t.last_sent();
    assert_eq!((device.as_str(), name.as_str()), (A203, "AnswerCall"));
    for i in 0..share - 1 {
        assert_eq!(t.send(1, inv(30, i), &make_call(ED3, "203", "201")), vec![]);
    }
    assert_eq!(
        t.send(1, 40, &make_call(ED3, "203", "201")),
        vec![(1, 40, limit_exceeded())]
    );
    let out = frames(t.answer(
        1,
        A203,
        answer,
        Answer::Message(&response("AnswerCallResponse")),
    ));
    assert_eq!(out.len(), 1, "{out:?}");
    assert_eq!((out[0].0, out[0].1), (1, 7));
    assert_eq!(t.send(1, 41, &make_call(ED3, "203", "201")), vec![]);
    assert_eq!(
        t.send(1, 42, &make_call(ED3, "203", "201")),
        vec![(1, 42, limit_exceeded())]
    );
    assert_eq!(t.hub.stats().pending, 2 * share);
}

#[test]
fn test_pickup_timeout_releases_device_share() {
    let share = share();
    let mut t = T::ringing();
    t.fake.queue = Some(QUEUE);
    t.login(1, "alice", "s3cret", ED3);
    for i in 0..share - 1 {
        assert_eq!(t.send(1, inv(10, i), &make_call(ED3, "202", "201")), vec![]);
    }
    assert_eq!(t.send(1, 7, &directed("C1", "202", "203")), vec![]);
    assert_eq!(
        t.send(1, 20, &make_call(ED3, "202", "201")),
        vec![(1, 20, limit_exceeded())]
    );
    // 202 never answers the DeflectCall: the pickup gives up, its place is free.
    t.hub.handle_timeout(t.at(40));
    assert_eq!(
        frames(t.drain()),
        vec![(1, 7, error(ED3, "systemResourceAvailibility", "generic"))]
    );
    assert_eq!(t.hub.stats().pending, share - 1);
    assert_eq!(t.send(1, 21, &make_call(ED3, "202", "201")), vec![]);
    assert_eq!(
        t.send(1, 22, &make_call(ED3, "202", "201")),
        vec![(1, 22, limit_exceeded())]
    );
}

#[test]
fn test_directed_pickup_delivered_first_and_by_caller() {
    // Some phones report the call at the new device before they answer the
    // DeflectCall; a phone that followed a 302 names only the caller.
    let mut t = T::ringing();
    t.login(1, "alice", "s3cret", ED3);
    assert_eq!(
        t.send(1, 7, &directed("C1", "sip:202@example.test", "203")),
        vec![]
    );
    let (_, _, _, deflect) = t.last_sent();
    assert_eq!(
        t.event(0, A203, &alerting(A203, "C7", "201", "203", None)),
        vec![]
    );
    assert_eq!(t.fake.sent.len(), 1);
    assert_eq!(
        t.answer(
            0,
            A202,
            deflect,
            Answer::Message(&response("DeflectCallResponse"))
        ),
        vec![]
    );
    let (_, name, _, answer) = t.last_sent();
    assert_eq!(name, "AnswerCall");
    // The picking phone refuses: its error is the client's answer.
    let refused_xml = error(ED3, "stateIncompatibility", "invalidConnectionState");
    let refused = decode(refused_xml.as_bytes()).unwrap().message;
    assert_eq!(
        frames(t.answer(0, A203, answer, Answer::Message(&refused))),
        vec![(
            1,
            7,
            error(ED3, "stateIncompatibility", "invalidConnectionState")
        )]
    );
    assert_eq!(t.hub.stats().pending, 0);
}

#[test]
fn test_directed_pickup_refusals() {
    let mut t = T::ringing();
    t.login(1, "alice", "s3cret", ED3);
    t.login(2, "bob", "hunter2", ED3);
    let cases = [
        (
            1,
            directed("C2", "202", "203"),
            error(ED3, "operation", "invalidConnectionID"),
        ),
        (
            1,
            format!(
                r#"<DirectedPickupCall xmlns="{ED3}"><callToBePickedUp><callID>C1</callID></callToBePickedUp><requestingDevice>203</requestingDevice></DirectedPickupCall>"#
            ),
            error(ED3, "operation", "invalidConnectionID"),
        ),
        (
            1,
            directed("C1", "202", "202"),
            error(ED3, "operation", "notDifferentDevices"),
        ),
        (
            1,
            directed("C1", "202", "299"),
            error(ED3, "operation", "invalidDeviceID"),
        ),
        (
            2,
            directed("C1", "202", "201"),
            error(ED3, "operation", "privilegeViolationSpecifiedDevice"),
        ),
        (
            2,
            directed("C1", "201", "203"),
            error(ED3, "operation", "privilegeViolationSpecifiedDevice"),
        ),
    ];
    for (client, request, expected) in cases {
        assert_eq!(
            t.send(client, 9, &request),
            vec![(client, 9, expected)],
            "{request}"
        );
    }
    // The call is answered at 202: no longer alerting.
    let established = format!(
        r#"<EstablishedEvent xmlns="{ED3}"><monitorCrossRefID>43</monitorCrossRefID><establishedConnection><callID>C1</callID><deviceID>{A202}</deviceID></establishedConnection><answeringDevice><deviceIdentifier>{A202}</deviceIdentifier></answeringDevice><callingDevice><deviceIdentifier>201</deviceIdentifier></callingDevice><calledDevice><deviceIdentifier>202</deviceIdentifier></calledDevice><localConnectionInfo>connected</localConnectionInfo></EstablishedEvent>"#
    );
    t.event(0, A202, &established);
    assert_eq!(
        t.send(1, 10, &directed("C1", "202", "203")),
        vec![(
            1,
            10,
            error(ED3, "stateIncompatibility", "invalidConnectionState")
        )]
    );
    // An offline phone.
    t.ring(A202, "C3", "201", 0);
    t.fake.device(A203).status = DeviceStatus::Offline;
    assert_eq!(
        t.send(1, 11, &directed("C3", "202", "203")),
        vec![(
            1,
            11,
            error(ED3, "systemResourceAvailibility", "deviceOutOfService")
        )]
    );
    t.fake.device(A203).status = DeviceStatus::Online;
    // The phone cannot be given the request.
    t.fake.refuse = Some(SendError::Busy);
    assert_eq!(
        t.send(1, 12, &directed("C3", "202", "203")),
        vec![(
            1,
            12,
            error(ED3, "systemResourceAvailibility", "resourceBusy")
        )]
    );
    assert_eq!(t.hub.stats().pending, 0);
    assert_eq!(t.fake.sent.len(), 0);
}

#[test]
fn test_directed_pickup_failures_on_the_way() {
    let mut t = T::ringing();
    t.login(1, "alice", "s3cret", ED3);
    // The ringing phone refuses the deflection.
    assert_eq!(t.send(1, 1, &directed("C1", "202", "203")), vec![]);
    let (_, _, _, deflect) = t.last_sent();
    let refused_xml = error(ED3, "operation", "requestIncompatibleWithObject");
    let refused = decode(refused_xml.as_bytes()).unwrap().message;
    assert_eq!(
        frames(t.answer(0, A202, deflect, Answer::Message(&refused))),
        vec![(
            1,
            1,
            error(ED3, "operation", "requestIncompatibleWithObject")
        )]
    );
    // No CSTA answer at all.
    assert_eq!(t.send(1, 2, &directed("C1", "202", "203")), vec![]);
    let (_, _, _, deflect) = t.last_sent();
    assert_eq!(
        frames(t.answer(0, A202, deflect, Answer::Failed)),
        vec![(1, 2, error(ED3, "systemResourceAvailibility", "generic"))]
    );
    // A late answer for a finished pickup is dropped.
    assert_eq!(t.answer(0, A202, deflect, Answer::Failed), vec![]);
    // Deflected, but the call never shows at 203: the pickup ends at the timeout.
    assert_eq!(t.send(1, 3, &directed("C1", "202", "203")), vec![]);
    let (_, _, _, deflect) = t.last_sent();
    assert_eq!(
        t.answer(
            0,
            A202,
            deflect,
            Answer::Message(&response("DeflectCallResponse"))
        ),
        vec![]
    );
    assert_eq!(t.hub.poll_timeout(), Some(t.at(5)));
    t.hub.handle_timeout(t.at(4));
    assert_eq!(t.drain(), vec![]);
    t.hub.handle_timeout(t.at(5));
    assert_eq!(
        frames(t.drain()),
        vec![(1, 3, error(ED3, "systemResourceAvailibility", "generic"))]
    );
    // The picking phone goes offline while the pickup waits for it.
    assert_eq!(t.send(1, 4, &directed("C1", "202", "203")), vec![]);
    let (_, _, _, deflect) = t.last_sent();
    assert_eq!(
        t.answer(
            0,
            A202,
            deflect,
            Answer::Message(&response("DeflectCallResponse"))
        ),
        vec![]
    );
    assert_eq!(
        frames(t.news(DeviceNews::Offline { device: A203 })),
        vec![(
            1,
            4,
            error(ED3, "systemResourceAvailibility", "deviceOutOfService")
        )]
    );
    // A client that leaves takes its pickup along.
    t.fake.device(A203).status = DeviceStatus::Online;
    assert_eq!(t.send(1, 5, &directed("C1", "202", "203")), vec![]);
    t.hub.handle_input(
        t.t0,
        ClientInput::Closed {
            client: ClientId(1),
        },
        &mut t.fake,
    );
    assert_eq!(t.hub.stats().pending, 0);
    assert_eq!(t.hub.poll_timeout(), None);
}

fn group(to: &str, pick_group: Option<&str>) -> String {
    let g = pick_group.map_or(String::new(), |g| format!("<pickGroup>{g}</pickGroup>"));
    format!(
        r#"<GroupPickupCall xmlns="{ED3}"><newDestination>{to}</newDestination>{g}</GroupPickupCall>"#
    )
}

#[test]
fn test_group_pickup() {
    let mut config = HubConfig::new(users());
    for d in [A201, A202, A203] {
        config.pickup_groups.insert(d.to_owned(), "desk".to_owned());
    }
    let mut t = T::new();
    t.hub = Hub::new(config);
    t.fake.add(A203);
    t.fake.add("sip:204@example.test");
    t.login(1, "alice", "s3cret", ED3);
    // Nothing rings in the group.
    assert_eq!(
        t.send(1, 1, &group("203", None)),
        vec![(1, 1, error(ED3, "stateIncompatibility", "noCallToAnswer"))]
    );
    // 204 is in no group; an unknown group.
    assert_eq!(
        t.send(1, 2, &group("204", None)),
        vec![(
            1,
            2,
            error(ED3, "operation", "requestIncompatibleWithObject")
        )]
    );
    assert_eq!(
        t.send(1, 3, &group("203", Some("kitchen"))),
        vec![(1, 3, error(ED3, "operation", "invalidDeviceID"))]
    );
    // 202 rings first, then 201; 203's own call is not a candidate.
    t.ring(A202, "C1", "205", 1);
    t.ring(A201, "C2", "206", 2);
    t.ring(A203, "C3", "207", 0);
    assert_eq!(t.send(1, 4, &group("203", None)), vec![]);
    let (device, name, xml, deflect) = t.last_sent();
    assert_eq!((device.as_str(), name.as_str()), (A202, "DeflectCall"));
    assert!(xml.contains("<callID>C1</callID>"), "{xml}");
    assert_eq!(
        t.answer(
            1,
            A202,
            deflect,
            Answer::Message(&response("DeflectCallResponse"))
        ),
        vec![]
    );
    assert_eq!(
        t.event(2, A203, &alerting(A203, "C8", "205", "202", None)),
        vec![]
    );
    let (device, name, _, answer) = t.last_sent();
    assert_eq!((device.as_str(), name.as_str()), (A203, "AnswerCall"));
    assert_eq!(
        frames(t.answer(
            2,
            A203,
            answer,
            Answer::Message(&response("AnswerCallResponse"))
        )),
        vec![(
            1,
            4,
            format!(
                r#"{DECL}<GroupPickupCallResponse xmlns="{ED3}"><pickedCall><callID>C8</callID><deviceID>{A203}</deviceID></pickedCall></GroupPickupCallResponse>"#
            )
        )]
    );
    // 202 reports the deflection; 203 answered the picked call.
    let diverted = format!(
        r#"<DivertedEvent xmlns="{ED3}"><monitorCrossRefID>43</monitorCrossRefID><connection><callID>C1</callID><deviceID>{A202}</deviceID></connection><divertingDevice><deviceIdentifier>{A202}</deviceIdentifier></divertingDevice><newDestination><deviceIdentifier>{A203}</deviceIdentifier></newDestination><localConnectionInfo>null</localConnectionInfo><cause>redirected</cause></DivertedEvent>"#
    );
    assert_eq!(t.event(2, A202, &diverted), vec![]);
    // By the group's name, from a device outside it: of 201 (C2) and 203 (C3), 203's
    // rang first.
    assert_eq!(t.send(1, 5, &group("204", Some("desk"))), vec![]);
    let (device, _, xml, _) = t.last_sent();
    assert_eq!(device, A203);
    assert!(xml.contains("<callID>C3</callID>"), "{xml}");
    // bob may not control the group's phones but 201: nothing he may pick.
    t.login(2, "bob", "hunter2", ED3);
    assert_eq!(
        t.send(2, 6, &group("201", None)),
        vec![(2, 6, error(ED3, "stateIncompatibility", "noCallToAnswer"))]
    );
}

#[test]
fn test_wrong_passwords_block_the_guesser_not_the_logged_in_application() {
    let mut t = T::new();
    // The application logs in from 127.0.0.1: trusted there.
    t.login(1, "alice", "s3cret", ED3);
    let from = |t: &mut T, client: u64, ip: [u8; 4]| {
        let info = ClientInfo {
            peer: SocketAddr::from((ip, 40000)),
            encoding: Encoding::Xml,
            tls: false,
            opened: t.t0,
        };
        let input = ClientInput::Connected {
            client: ClientId(client),
            info,
        };
        t.hub.handle_input(t.t0, input, &mut t.fake);
    };
    // 127.0.0.2 guesses alice's password: three tries a connection, ten in all.
    for i in 0..10u64 {
        let client = 100 + i / 3;
        if i % 3 == 0 {
            from(&mut t, client, [127, 0, 0, 2]);
        }
        let out = t.send_at(0, client, 1, &start("alice", "guess", Some(ED3), None));
        assert!(text(&out).contains("invalidApplicationInfo"), "{out:?}");
    }
    // Now not even the right password is checked from there, nor from a new address
    // (alice is blocked), but the application's own address still logs in.
    for (client, ip) in [(200, [127, 0, 0, 2]), (201, [127, 0, 0, 3])] {
        from(&mut t, client, ip);
        let out = t.send_at(0, client, 1, &start("alice", "s3cret", Some(ED3), None));
        assert!(text(&out).contains("serverResourcesBusy"), "{out:?}");
    }
    t.login(2, "alice", "s3cret", ED3);
    let stats = t.hub.guard_stats();
    assert_eq!((stats.failures, stats.blocks, stats.refused), (10, 2, 2));
    // The block ends after 30 s.
    from(&mut t, 300, [127, 0, 0, 3]);
    let out = frames(t.send_at(31, 300, 1, &start("alice", "s3cret", Some(ED3), None)));
    assert!(
        out[0].2.contains("StartApplicationSessionPosResponse"),
        "{out:?}"
    );
}

/// The frames of `out` as one text (closes left out).
fn text(out: &[ClientOutput]) -> String {
    out.iter()
        .filter_map(|o| match o {
            ClientOutput::Frame { body, .. } => Some(String::from_utf8_lossy(body).into_owned()),
            ClientOutput::Close { .. } => None,
        })
        .collect()
}
