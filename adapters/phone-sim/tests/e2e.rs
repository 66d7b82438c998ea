//! End to end with real processes on loopback: the `csta-server` binary, three
//! `phone-sim` processes (users 201, 202, 203, all CSTA-controlled) and a CSTA
//! application over TCP (ECMA-323 Annex J.2 framing, ECMA-354 application session)
//! that drives every call by CSTA requests. At each step the test checks the events
//! the application receives for each monitored device (names, causes, its own
//! monitorCrossRefIDs) and the server's view of the devices (SnapshotDevice,
//! GetDoNotDisturb, GetForwarding, which the server answers from its view), and a
//! DirectedPickupCall and a GroupPickupCall the server carries out with DeflectCall
//! and AnswerCall.
//!
//! For debugging: `E2E_TRACE=1` prints every message the client receives,
//! `E2E_LOGS=DIR` keeps the processes' output in DIR (`E2E_SERVER_LOG=debug` for the
//! server's `--log`), `E2E_LEARN=1` prints the events of each step instead of
//! checking them.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use csta_core::framing::{self, FrameReader, InvokeId};
use csta_core::{json, message};
use serde_json::Value;

/// The longest any one wait may take.
const WAIT: Duration = Duration::from_secs(5);
/// How long to look for events beyond those expected (none may come).
const GRACE: Duration = Duration::from_millis(200);
const ED5: &str = "http://www.ecma-international.org/standards/ecma-323/csta/ed5";
const DEVICES: [&str; 3] = ["201", "202", "203"];

/// The processes of the test, killed (by their PID) when it ends, however it ends.
struct Processes(Vec<Child>);

impl Drop for Processes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The `csta-server` binary: next to this test's executable, built when absent.
fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let debug = exe.parent().unwrap().parent().unwrap();
    let bin = debug.join(format!("csta-server{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "csta-server", "--bin", "csta-server"])
            .status()
            .unwrap();
        assert!(status.success(), "cannot build csta-server");
    }
    assert!(bin.exists(), "no csta-server at {}", bin.display());
    bin
}

/// A port free for both UDP and TCP on 127.0.0.1 right now.
fn free_port() -> u16 {
    loop {
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = udp.local_addr().unwrap().port();
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

fn config(dir: &Path, sip: u16, clients: u16) -> PathBuf {
    let mut text = format!(
        "data_dir = {:?}\n\n[sip]\ndomain = \"localhost\"\nudp = [\"127.0.0.1:{sip}\"]\ntcp = []\n\n\
         [clients]\ntcp = \"127.0.0.1:{clients}\"\nwebsocket = false\n\n[http]\nlisten = false\n\n\
         [[client_users]]\nname = \"app\"\npassword = \"app-secret\"\ndevices = [\"*\"]\n",
        dir.join("data").display().to_string()
    );
    for user in DEVICES {
        text.push_str(&format!(
            "\n[[users]]\nname = \"{user}\"\npassword = \"secret-{user}\"\n\n\
             [[csta_lines]]\naor = \"sip:{user}@localhost\"\nauth_user = \"{user}\"\n\
             auth_password = \"secret-{user}\"\npickup_group = \"desk\"\n"
        ));
    }
    let path = dir.join("server.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// Where a process's output goes: a file under `$E2E_LOGS` when set.
fn log(name: &str) -> Stdio {
    match std::env::var_os("E2E_LOGS") {
        Some(dir) => std::fs::File::create(Path::new(&dir).join(name))
            .unwrap()
            .into(),
        None => Stdio::null(),
    }
}

/// Polls until `f` gives something, at most [`WAIT`].
fn poll<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + WAIT;
    loop {
        if let Some(t) = f() {
            return t;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One event as the test compares it: `Name` or `Name/cause`.
fn summary(name: &str, body: &Value) -> String {
    match body.get("cause").and_then(Value::as_str) {
        Some(cause) => format!("{name}/{cause}"),
        None => name.to_owned(),
    }
}

/// The CSTA application.
struct Client {
    stream: TcpStream,
    frames: FrameReader<Vec<u8>>,
    next: u16,
    /// monitorCrossRefID → device.
    monitors: HashMap<String, String>,
    /// Events received and not yet checked: (device, name, body).
    events: Vec<(String, String, Value)>,
    /// Answers received and not yet asked for, by invokeID.
    answers: HashMap<u16, (String, Value)>,
}

impl Client {
    fn connect(addr: SocketAddr) -> Client {
        let stream = poll("the server's client port", || TcpStream::connect(addr).ok());
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            frames: FrameReader::new(vec![0; 70_000], 65_535),
            next: 1,
            monitors: HashMap::new(),
            events: Vec::new(),
            answers: HashMap::new(),
        }
    }

    fn send(&mut self, xml: &str) -> u16 {
        let id = self.next;
        self.next += 1;
        let mut frame = vec![0; xml.len() + framing::HEADER_LEN];
        let n = framing::encode(InvokeId::new(id).unwrap(), xml.as_bytes(), &mut frame).unwrap();
        self.stream.write_all(&frame[..n]).unwrap();
        id
    }

    /// Reads one message if one comes before `until`; files it as event or answer.
    fn read_one(&mut self, until: Instant) -> bool {
        loop {
            if let Some(f) = self.frames.next_frame().unwrap() {
                let decoded = message::decode(f.body).unwrap();
                let mut buf = vec![0u8; 65_536];
                let n = json::to_slice(&decoded.message, &mut buf).unwrap();
                let v: Value = serde_json::from_slice(&buf[..n]).unwrap();
                let (name, body) = v.as_object().unwrap().iter().next().unwrap();
                let (name, body) = (name.clone(), body.clone());
                if std::env::var_os("E2E_TRACE").is_some() {
                    eprintln!("<- {} {v}", f.invoke_id.get());
                }
                if f.invoke_id == InvokeId::EVENT {
                    let xref = body["monitorCrossRefID"].as_str().unwrap_or_default();
                    let device = self
                        .monitors
                        .get(xref)
                        .unwrap_or_else(|| panic!("event for a monitor not ours: {v}"))
                        .clone();
                    self.events.push((device, name, body));
                } else {
                    self.answers.insert(f.invoke_id.get(), (name, body));
                }
                return true;
            }
            let now = Instant::now();
            if now >= until {
                return false;
            }
            self.stream.set_read_timeout(Some(until - now)).unwrap();
            match self.stream.read(self.frames.spare()) {
                Ok(0) => panic!("the server closed the client connection"),
                Ok(n) => self.frames.commit(n),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return false;
                }
                Err(e) => panic!("client read: {e}"),
            }
        }
    }

    /// Sends `xml` (a CSTA request, namespace added) and returns its answer.
    fn request(&mut self, xml: &str) -> (String, Value) {
        let space = xml.find(['>', ' ']).unwrap();
        let xml = format!("{} xmlns=\"{ED5}\"{}", &xml[..space], &xml[space..]);
        let id = self.send(&xml);
        let end = Instant::now() + WAIT;
        loop {
            if let Some(a) = self.answers.remove(&id) {
                return a;
            }
            assert!(self.read_one(end), "no answer to {xml}");
        }
    }

    /// Sends a request that must get `answer`; returns the answer's body.
    fn ok(&mut self, xml: &str, answer: &str) -> Value {
        let (name, body) = self.request(xml);
        assert_eq!(name, answer, "{xml}: {body}");
        body
    }

    /// Waits for exactly `want` (per device: event summaries in order) and returns the
    /// events' bodies; nothing else may come.
    fn expect(&mut self, want: &[(&str, &[&str])]) -> HashMap<String, Vec<Value>> {
        let calls: Vec<(&str, Vec<&[&str]>)> = want.iter().map(|(d, w)| (*d, vec![*w])).collect();
        self.expect_calls(&calls)
    }

    /// As [`Client::expect`], for a device with calls that run side by side: its
    /// events are those of `want`'s sequences (one per call), each in order, in any
    /// interleaving.
    fn expect_calls(&mut self, want: &[(&str, Vec<&[&str]>)]) -> HashMap<String, Vec<Value>> {
        let end = Instant::now() + WAIT;
        let enough = |events: &[(String, String, Value)]| {
            want.iter().all(|(d, w)| {
                events.iter().filter(|(device, ..)| device == d).count()
                    >= w.iter().map(|s| s.len()).sum::<usize>()
            })
        };
        while !enough(&self.events) && self.read_one(end) {}
        let learn = std::env::var_os("E2E_LEARN").is_some();
        let grace = Instant::now() + if learn { Duration::from_secs(1) } else { GRACE };
        while self.read_one(grace) {}
        let events = std::mem::take(&mut self.events);
        let mut got: HashMap<String, Vec<String>> = HashMap::new();
        let mut bodies: HashMap<String, Vec<Value>> = HashMap::new();
        for (device, name, body) in events {
            got.entry(device.clone())
                .or_default()
                .push(summary(&name, &body));
            bodies.entry(device).or_default().push(body);
        }
        if learn {
            eprintln!("LEARN {got:?}");
        } else {
            // Each device's events, as one of the interleavings of its calls' (the
            // wanted order itself when there is one call).
            let mut shown: HashMap<String, Vec<String>> = HashMap::new();
            for (d, seqs) in want {
                let seqs: Vec<Vec<String>> = seqs
                    .iter()
                    .map(|s| s.iter().map(|e| e.to_string()).collect())
                    .collect();
                let g = got.get(*d).cloned().unwrap_or_default();
                let matched = if interleaves(&g, &seqs) {
                    g
                } else {
                    seqs.concat()
                };
                shown.insert(d.to_string(), matched);
            }
            assert_eq!(got, shown, "events per device");
        }
        bodies
    }

    /// The server's view of `device`: its calls as `callID:state`, sorted.
    fn snapshot(&mut self, device: &str) -> Vec<String> {
        let body = self.ok(
            &format!("<SnapshotDevice><snapshotObject>{device}</snapshotObject></SnapshotDevice>"),
            "SnapshotDeviceResponse",
        );
        let mut calls: Vec<String> =
            body["crossRefIDorSnapshotData"]["snapshotData"]["snapshotDeviceResponseInfo"]
                .as_array()
                .map(|items| {
                    items
                        .iter()
                        .map(|i| {
                            format!(
                                "{}:{}",
                                i["connectionIdentifier"]["callID"].as_str().unwrap_or("?"),
                                i["localCallState"]["compoundCallState"]["localConnectionState"]
                                    .as_array()
                                    .map(|s| s
                                        .iter()
                                        .filter_map(Value::as_str)
                                        .collect::<Vec<_>>()
                                        .join("+"))
                                    .unwrap_or_else(|| i["localCallState"].to_string())
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
        calls.sort();
        if std::env::var_os("E2E_TRACE").is_some() {
            eprintln!("snapshot {device}: {body}");
        }
        calls
    }

    fn dnd(&mut self, device: &str) -> Value {
        self.ok(
            &format!("<GetDoNotDisturb><device>{device}</device></GetDoNotDisturb>"),
            "GetDoNotDisturbResponse",
        )
    }

    fn forwarding(&mut self, device: &str) -> Value {
        self.ok(
            &format!("<GetForwarding><device>{device}</device></GetForwarding>"),
            "GetForwardingResponse",
        )
    }
}

fn conn(element: &str, call: &str, device: &str) -> String {
    format!("<{element}><callID>{call}</callID><deviceID>{device}</deviceID></{element}>")
}

#[test]
fn calls_driven_by_a_csta_client_through_the_server() {
    // The steps spread the calls over the three phones: a phone-sim phone keeps 64 SIP
    // transactions and finished ones linger (up to 32 s on UDP); with every step on
    // 201, 201 runs out of them within this test and its later INVITEs and event
    // INFOs are not sent.
    let dir = tempfile::tempdir().unwrap();
    let (sip, clients) = (free_port(), free_port());
    let config = config(dir.path(), sip, clients);
    let script = dir.path().join("phone.script");
    std::fs::write(&script, "wait registered 5s\nsleep 600s\n").unwrap();

    let mut procs = Processes(Vec::new());
    procs.0.push(
        Command::new(server_binary())
            .arg("--config")
            .arg(&config)
            .args([
                "--log",
                &std::env::var("E2E_SERVER_LOG").unwrap_or("info".into()),
            ])
            .stdout(log("server.out"))
            .stderr(log("server.err"))
            .spawn()
            .unwrap(),
    );
    let mut app = Client::connect(SocketAddr::from(([127, 0, 0, 1], clients)));
    app.send(
        "<StartApplicationSession xmlns=\"http://www.ecma-international.org/standards/ecma-354/appl_session\">\
         <applicationInfo><applicationID>e2e</applicationID><applicationSpecificInfo>\
         <userName>app</userName><password>app-secret</password></applicationSpecificInfo>\
         </applicationInfo><requestedProtocolVersions><protocolVersion>\
         http://www.ecma-international.org/standards/ecma-323/csta/ed5</protocolVersion>\
         </requestedProtocolVersions><requestedSessionDuration>60</requestedSessionDuration>\
         </StartApplicationSession>",
    );
    let end = Instant::now() + WAIT;
    while !app
        .answers
        .values()
        .any(|(n, _)| n == "StartApplicationSessionPosResponse")
    {
        assert!(app.read_one(end), "no session: {:?}", app.answers);
    }
    app.answers.clear();

    // The application monitors the phones before they are there.
    let mut xrefs = HashMap::new();
    for device in DEVICES {
        let body = app.ok(
            &format!(
                "<MonitorStart><monitorObject><deviceObject>{device}</deviceObject></monitorObject></MonitorStart>"
            ),
            "MonitorStartResponse",
        );
        let xref = body["monitorCrossRefID"].as_str().unwrap().to_owned();
        app.monitors.insert(xref.clone(), device.to_owned());
        xrefs.insert(device, xref);
    }
    assert_eq!(
        xrefs
            .values()
            .collect::<std::collections::HashSet<_>>()
            .len(),
        3
    );
    app.expect(&[
        ("201", &["OutOfServiceEvent"]),
        ("202", &["OutOfServiceEvent"]),
        ("203", &["OutOfServiceEvent"]),
    ]);

    let phone_sim = env!("CARGO_BIN_EXE_phone-sim");
    for user in DEVICES {
        procs.0.push(
            Command::new(phone_sim)
                .args(["--server", &format!("127.0.0.1:{sip}"), "--user", user])
                .args(["--password", &format!("secret-{user}"), "--script"])
                .arg(&script)
                .stdout(log(&format!("{user}.out")))
                .stderr(log(&format!("{user}.err")))
                .spawn()
                .unwrap(),
        );
    }
    app.expect(&[
        ("201", &["BackInServiceEvent"]),
        ("202", &["BackInServiceEvent"]),
        ("203", &["BackInServiceEvent"]),
    ]);
    for device in DEVICES {
        assert_eq!(app.snapshot(device), Vec::<String>::new(), "{device}");
        assert_eq!(app.dnd(device)["doNotDisturbOn"], false);
        assert_eq!(forward_immediate(&mut app, device), (false, None));
    }

    // 1. MakeCall 201 → 202; 202 answered by AnswerCall.
    let a = make_call(&mut app, "201", "202");
    let ev = app.expect(&[
        (
            "201",
            &[
                "ServiceInitiatedEvent/makeCall",
                "OriginatedEvent/makeCall",
                "DeliveredEvent",
            ],
        ),
        ("202", &["DeliveredEvent/newCall"]),
    ]);
    let b = call_of(&ev["202"][0], "202");
    assert_eq!(app.snapshot("201"), [format!("{a}:connected")]);
    assert_eq!(app.snapshot("202"), [format!("{b}:alerting")]);
    answer(&mut app, &b, "202");
    app.expect(&[
        ("201", &["EstablishedEvent"]),
        ("202", &["EstablishedEvent"]),
    ]);
    assert_eq!(app.snapshot("201"), [format!("{a}:connected")]);
    assert_eq!(app.snapshot("202"), [format!("{b}:connected")]);

    // 2. Hold and retrieve on 201.
    app.ok(
        &format!("<HoldCall>{}</HoldCall>", conn("callToBeHeld", &a, "201")),
        "HoldCallResponse",
    );
    // Each phone reports its own connections: 202's is not held, so 202 reports none.
    app.expect(&[("201", &["HeldEvent"])]);
    assert_eq!(app.snapshot("201"), [format!("{a}:hold")]);
    assert_eq!(app.snapshot("202"), [format!("{b}:connected")]);
    app.ok(
        &format!(
            "<RetrieveCall>{}</RetrieveCall>",
            conn("callToBeRetrieved", &a, "201")
        ),
        "RetrieveCallResponse",
    );
    app.expect(&[("201", &["RetrievedEvent"])]);
    assert_eq!(app.snapshot("201"), [format!("{a}:connected")]);

    // 3. ConsultationCall 201 → 203, 203 answers, TransferCall: 202 and 203 talk.
    let body = app.ok(
        &format!(
            "<ConsultationCall>{}<consultedDevice>203</consultedDevice></ConsultationCall>",
            conn("existingCall", &a, "201")
        ),
        "ConsultationCallResponse",
    );
    let a2 = body["initiatedCall"]["callID"].as_str().unwrap().to_owned();
    let ev = app.expect(&[
        (
            "201",
            &[
                "HeldEvent/consultation",
                "ServiceInitiatedEvent/consultation",
                "OriginatedEvent/consultation",
                "DeliveredEvent",
            ],
        ),
        ("203", &["DeliveredEvent/newCall"]),
    ]);
    let c = call_of(&ev["203"][0], "203");
    assert_eq!(
        app.snapshot("201"),
        [format!("{a}:hold"), format!("{a2}:connected")]
    );
    assert_eq!(app.snapshot("203"), [format!("{c}:alerting")]);
    answer(&mut app, &c, "203");
    app.expect(&[
        ("201", &["EstablishedEvent"]),
        ("203", &["EstablishedEvent"]),
    ]);
    assert_eq!(
        app.snapshot("201"),
        [format!("{a}:hold"), format!("{a2}:connected")]
    );
    assert_eq!(app.snapshot("203"), [format!("{c}:connected")]);
    app.ok(
        &format!(
            "<TransferCall>{}{}</TransferCall>",
            conn("heldCall", &a, "201"),
            conn("activeCall", &a2, "201")
        ),
        "TransferCallResponse",
    );
    // 201 leaves; 202 (the transferee) calls 203 with Replaces, 203 takes it at once
    // and ends the consultation call. 202's old call ends (201's BYE) while its new one
    // is set up: either may be reported first.
    let ev = app.expect_calls(&[
        ("201", vec![&["TransferedEvent/transfer"]]),
        (
            "202",
            vec![
                &[
                    "ServiceInitiatedEvent",
                    "OriginatedEvent",
                    "DeliveredEvent",
                    "EstablishedEvent",
                ],
                &["ConnectionClearedEvent/normalClearing"],
            ],
        ),
        (
            "203",
            vec![&[
                "DeliveredEvent/newCall",
                "EstablishedEvent",
                "ConnectionClearedEvent/normalClearing",
            ]],
        ),
    ]);
    let b2 = call_of(&ev["202"][1], "202");
    let c2 = call_of(&ev["203"][0], "203");
    let cleared = ev["202"]
        .iter()
        .find(|body| body.get("droppedConnection").is_some())
        .expect("202's old call ends");
    assert_eq!(call_of(cleared, "201"), b, "202's old call ends");
    assert_eq!(app.snapshot("201"), Vec::<String>::new());
    assert_eq!(app.snapshot("202"), [format!("{b2}:connected")]);
    assert_eq!(app.snapshot("203"), [format!("{c2}:connected")]);
    clear(&mut app, &b2, "202");
    app.expect(&[
        ("202", &["ConnectionClearedEvent/normalClearing"]),
        ("203", &["ConnectionClearedEvent/normalClearing"]),
    ]);
    idle(&mut app);

    // 4. Single-step transfer: 201 calls 202, 202 answers, 201 sends 202 on to 203.
    let a = make_call(&mut app, "201", "202");
    let ev = app.expect(&[
        (
            "201",
            &[
                "ServiceInitiatedEvent/makeCall",
                "OriginatedEvent/makeCall",
                "DeliveredEvent",
            ],
        ),
        ("202", &["DeliveredEvent/newCall"]),
    ]);
    let b = call_of(&ev["202"][0], "202");
    answer(&mut app, &b, "202");
    app.expect(&[
        ("201", &["EstablishedEvent"]),
        ("202", &["EstablishedEvent"]),
    ]);
    app.ok(
        &format!(
            "<SingleStepTransferCall>{}<transferredTo>203</transferredTo></SingleStepTransferCall>",
            conn("activeCall", &a, "201")
        ),
        "SingleStepTransferCallResponse",
    );
    // 202 is referred to 203 and calls it; 201 is out. 202's old call ends (201's
    // BYE) while 203 rings (its 180): either may be reported first.
    let ev = app.expect_calls(&[
        ("201", vec![&["TransferedEvent/singleStepTransfer"]]),
        (
            "202",
            vec![
                &["ServiceInitiatedEvent", "OriginatedEvent", "DeliveredEvent"],
                &["ConnectionClearedEvent/normalClearing"],
            ],
        ),
        ("203", vec![&["DeliveredEvent/newCall"]]),
    ]);
    // The new call is the one of 202's events that is not the old call.
    let b2 = ev["202"]
        .iter()
        .map(|e| call_of(e, "202"))
        .find(|c| *c != b)
        .unwrap();
    let c = call_of(&ev["203"][0], "203");
    assert_eq!(
        ev["203"][0]["callingDevice"]["deviceIdentifier"]["id"],
        "202"
    );
    assert_eq!(app.snapshot("201"), Vec::<String>::new());
    assert_eq!(app.snapshot("202"), [format!("{b2}:connected")]);
    assert_eq!(app.snapshot("203"), [format!("{c}:alerting")]);
    answer(&mut app, &c, "203");
    app.expect(&[
        ("202", &["EstablishedEvent"]),
        ("203", &["EstablishedEvent"]),
    ]);
    assert_eq!(app.snapshot("202"), [format!("{b2}:connected")]);
    assert_eq!(app.snapshot("203"), [format!("{c}:connected")]);
    clear(&mut app, &c, "203");
    app.expect(&[
        ("202", &["ConnectionClearedEvent/normalClearing"]),
        ("203", &["ConnectionClearedEvent/normalClearing"]),
    ]);
    idle(&mut app);

    // 5. DeflectCall: 201 calls 202; while it rings, 202 deflects it to 203.
    let a = make_call(&mut app, "201", "202");
    let ev = app.expect(&[
        (
            "201",
            &[
                "ServiceInitiatedEvent/makeCall",
                "OriginatedEvent/makeCall",
                "DeliveredEvent",
            ],
        ),
        ("202", &["DeliveredEvent/newCall"]),
    ]);
    let b = call_of(&ev["202"][0], "202");
    app.ok(
        &format!(
            "<DeflectCall>{}<newDestination>203</newDestination></DeflectCall>",
            conn("callToBeDiverted", &b, "202")
        ),
        "DeflectCallResponse",
    );
    // 202 answers 302; 201 follows it to 203.
    let ev = app.expect(&[
        ("201", &["DeliveredEvent"]),
        ("202", &["DivertedEvent/redirected"]),
        ("203", &["DeliveredEvent/newCall"]),
    ]);
    // Known gap (phone-sim's caller model): 201's DeliveredEvent after the redirect
    // still names 202 as alertingDevice, where 203 now rings; not asserted.
    assert_eq!(
        ev["201"][0]["callingDevice"]["deviceIdentifier"]["id"],
        "201"
    );
    assert_eq!(
        ev["202"][0]["newDestination"]["deviceIdentifier"]["id"],
        "203"
    );
    let c = call_of(&ev["203"][0], "203");
    assert_eq!(app.snapshot("201"), [format!("{a}:connected")]);
    assert_eq!(app.snapshot("202"), Vec::<String>::new());
    assert_eq!(app.snapshot("203"), [format!("{c}:alerting")]);
    answer(&mut app, &c, "203");
    app.expect(&[
        ("201", &["EstablishedEvent"]),
        ("203", &["EstablishedEvent"]),
    ]);
    assert_eq!(app.snapshot("201"), [format!("{a}:connected")]);
    assert_eq!(app.snapshot("203"), [format!("{c}:connected")]);
    clear(&mut app, &a, "201");
    app.expect(&[
        ("201", &["ConnectionClearedEvent/normalClearing"]),
        ("203", &["ConnectionClearedEvent/normalClearing"]),
    ]);
    idle(&mut app);

    // 5b. DirectedPickupCall: 201 calls 202; while it rings, the application picks it
    // up at 203. The server deflects the call from 202 to 203, recognises it at 203 by
    // its DeliveredEvent and answers it there before it answers the application.
    let a = make_call(&mut app, "201", "202");
    let ev = app.expect(&[
        (
            "201",
            &[
                "ServiceInitiatedEvent/makeCall",
                "OriginatedEvent/makeCall",
                "DeliveredEvent",
            ],
        ),
        ("202", &["DeliveredEvent/newCall"]),
    ]);
    let b = call_of(&ev["202"][0], "202");
    let body = app.ok(
        &format!(
            "<DirectedPickupCall>{}<requestingDevice>203</requestingDevice></DirectedPickupCall>",
            conn("callToBePickedUp", &b, "202")
        ),
        "DirectedPickupCallResponse",
    );
    let ev = app.expect(&[
        ("201", &["DeliveredEvent", "EstablishedEvent"]),
        ("202", &["DivertedEvent/redirected"]),
        ("203", &["DeliveredEvent/newCall", "EstablishedEvent"]),
    ]);
    let c = call_of(&ev["203"][0], "203");
    assert_eq!(body["pickedCall"]["callID"], c.as_str(), "{body}");
    assert_eq!(body["pickedCall"]["deviceID"]["id"], "sip:203@localhost");
    assert_eq!(
        ev["202"][0]["newDestination"]["deviceIdentifier"]["id"],
        "sip:203@localhost"
    );
    assert_eq!(app.snapshot("201"), [format!("{a}:connected")]);
    assert_eq!(app.snapshot("202"), Vec::<String>::new());
    assert_eq!(app.snapshot("203"), [format!("{c}:connected")]);
    clear(&mut app, &a, "201");
    app.expect(&[
        ("201", &["ConnectionClearedEvent/normalClearing"]),
        ("203", &["ConnectionClearedEvent/normalClearing"]),
    ]);
    idle(&mut app);
    // Nothing rings at 202 now: the pickup is refused.
    let (name, body) = app.request(&format!(
        "<DirectedPickupCall>{}<requestingDevice>203</requestingDevice></DirectedPickupCall>",
        conn("callToBePickedUp", &b, "202")
    ));
    assert_eq!(name, "CSTAErrorCode", "{body}");
    assert_eq!(body["operation"], "invalidConnectionID", "{body}");

    // 6. Do-not-disturb on 202: a call (from 203) to it is refused (486: busy).
    app.ok(
        "<SetDoNotDisturb><device>202</device><doNotDisturbOn>true</doNotDisturbOn></SetDoNotDisturb>",
        "SetDoNotDisturbResponse",
    );
    let ev = app.expect(&[("202", &["DoNotDisturbEvent"])]);
    assert_eq!(ev["202"][0]["doNotDisturbOn"], true);
    assert_eq!(app.dnd("202")["doNotDisturbOn"], true);
    assert_eq!(app.dnd("203")["doNotDisturbOn"], false);
    make_call(&mut app, "203", "202");
    let ev = app.expect(&[(
        "203",
        &[
            "ServiceInitiatedEvent/makeCall",
            "OriginatedEvent/makeCall",
            "FailedEvent/busy",
            "ConnectionClearedEvent/normalClearing",
        ],
    )]);
    assert_eq!(
        ev["203"][2]["failingDevice"]["deviceIdentifier"]["id"],
        "202"
    );
    idle(&mut app);
    app.ok(
        "<SetDoNotDisturb><device>202</device><doNotDisturbOn>false</doNotDisturbOn></SetDoNotDisturb>",
        "SetDoNotDisturbResponse",
    );
    let ev = app.expect(&[("202", &["DoNotDisturbEvent"])]);
    assert_eq!(ev["202"][0]["doNotDisturbOn"], false);
    assert_eq!(app.dnd("202")["doNotDisturbOn"], false);

    // 7. Immediate forwarding of 202 to 201: a call (from 203) to 202 reaches 201;
    // then off.
    app.ok(
        "<SetForwarding><device>202</device><forwardingType>forwardImmediate</forwardingType>\
         <activateForward>true</activateForward><forwardDN>201</forwardDN></SetForwarding>",
        "SetForwardingResponse",
    );
    app.expect(&[("202", &["ForwardingEvent"])]);
    assert_eq!(
        forward_immediate(&mut app, "202"),
        (true, Some("201".into()))
    );
    assert_eq!(forward_immediate(&mut app, "201"), (false, None));
    let a = make_call(&mut app, "203", "202");
    let ev = app.expect(&[
        (
            "203",
            &[
                "ServiceInitiatedEvent/makeCall",
                "OriginatedEvent/makeCall",
                "DeliveredEvent",
            ],
        ),
        ("202", &["DivertedEvent/callForwardImmediate"]),
        ("201", &["DeliveredEvent/newCall"]),
    ]);
    assert_eq!(
        ev["202"][0]["newDestination"]["deviceIdentifier"]["id"],
        "201"
    );
    assert_eq!(
        ev["201"][0]["callingDevice"]["deviceIdentifier"]["id"],
        "203"
    );
    let c = call_of(&ev["201"][0], "201");
    assert_eq!(app.snapshot("203"), [format!("{a}:connected")]);
    assert_eq!(app.snapshot("202"), Vec::<String>::new());
    assert_eq!(app.snapshot("201"), [format!("{c}:alerting")]);
    answer(&mut app, &c, "201");
    app.expect(&[
        ("203", &["EstablishedEvent"]),
        ("201", &["EstablishedEvent"]),
    ]);
    assert_eq!(app.snapshot("201"), [format!("{c}:connected")]);
    clear(&mut app, &a, "203");
    app.expect(&[
        ("203", &["ConnectionClearedEvent/normalClearing"]),
        ("201", &["ConnectionClearedEvent/normalClearing"]),
    ]);
    idle(&mut app);
    app.ok(
        "<SetForwarding><device>202</device><forwardingType>forwardImmediate</forwardingType>\
         <activateForward>false</activateForward></SetForwarding>",
        "SetForwardingResponse",
    );
    app.expect(&[("202", &["ForwardingEvent"])]);
    assert!(!forward_immediate(&mut app, "202").0);

    // 8. ConferenceCall: 203 talks to 201, consults 202, joins both.
    let a = make_call(&mut app, "203", "201");
    let ev = app.expect(&[
        (
            "203",
            &[
                "ServiceInitiatedEvent/makeCall",
                "OriginatedEvent/makeCall",
                "DeliveredEvent",
            ],
        ),
        ("201", &["DeliveredEvent/newCall"]),
    ]);
    let b = call_of(&ev["201"][0], "201");
    answer(&mut app, &b, "201");
    app.expect(&[
        ("203", &["EstablishedEvent"]),
        ("201", &["EstablishedEvent"]),
    ]);
    let body = app.ok(
        &format!(
            "<ConsultationCall>{}<consultedDevice>202</consultedDevice></ConsultationCall>",
            conn("existingCall", &a, "203")
        ),
        "ConsultationCallResponse",
    );
    let a2 = body["initiatedCall"]["callID"].as_str().unwrap().to_owned();
    let ev = app.expect(&[
        (
            "203",
            &[
                "HeldEvent/consultation",
                "ServiceInitiatedEvent/consultation",
                "OriginatedEvent/consultation",
                "DeliveredEvent",
            ],
        ),
        ("202", &["DeliveredEvent/newCall"]),
    ]);
    let c = call_of(&ev["202"][0], "202");
    answer(&mut app, &c, "202");
    app.expect(&[
        ("203", &["EstablishedEvent"]),
        ("202", &["EstablishedEvent"]),
    ]);
    let body = app.ok(
        &format!(
            "<ConferenceCall>{}{}</ConferenceCall>",
            conn("heldCall", &a, "203"),
            conn("activeCall", &a2, "203")
        ),
        "ConferenceCallResponse",
    );
    assert_eq!(body["conferenceCall"]["callID"], a.as_str());
    // Only the conferencing phone reports (the others' connections did not change);
    // the conference continues as the held call.
    app.expect(&[("203", &["ConferencedEvent/conference"])]);
    assert_eq!(app.snapshot("203"), [format!("{a}:connected")]);
    assert_eq!(app.snapshot("201"), [format!("{b}:connected")]);
    assert_eq!(app.snapshot("202"), [format!("{c}:connected")]);
    // 201 leaves: phone-sim ends the whole conference call at 203 (its model keeps
    // one call for the conference), while 202's SIP call stays up until it hangs up.
    clear(&mut app, &b, "201");
    app.expect(&[
        ("203", &["ConnectionClearedEvent/normalClearing"]),
        ("201", &["ConnectionClearedEvent/normalClearing"]),
    ]);
    assert_eq!(app.snapshot("203"), Vec::<String>::new());
    assert_eq!(app.snapshot("202"), [format!("{c}:connected")]);
    clear(&mut app, &c, "202");
    app.expect(&[("202", &["ConnectionClearedEvent/normalClearing"])]);
    idle(&mut app);

    // 9. GroupPickupCall: 202 calls 203; 201, in the same pick group, picks it up.
    // (203, the busiest phone of the steps before, only rings and redirects here.)
    let a = make_call(&mut app, "202", "203");
    app.expect(&[
        (
            "202",
            &[
                "ServiceInitiatedEvent/makeCall",
                "OriginatedEvent/makeCall",
                "DeliveredEvent",
            ],
        ),
        ("203", &["DeliveredEvent/newCall"]),
    ]);
    let body = app.ok(
        "<GroupPickupCall><newDestination>201</newDestination></GroupPickupCall>",
        "GroupPickupCallResponse",
    );
    let ev = app.expect(&[
        ("202", &["DeliveredEvent", "EstablishedEvent"]),
        ("203", &["DivertedEvent/redirected"]),
        ("201", &["DeliveredEvent/newCall", "EstablishedEvent"]),
    ]);
    let b = call_of(&ev["201"][0], "201");
    assert_eq!(body["pickedCall"]["callID"], b.as_str(), "{body}");
    assert_eq!(app.snapshot("203"), Vec::<String>::new());
    assert_eq!(app.snapshot("201"), [format!("{b}:connected")]);
    clear(&mut app, &a, "202");
    app.expect(&[
        ("202", &["ConnectionClearedEvent/normalClearing"]),
        ("201", &["ConnectionClearedEvent/normalClearing"]),
    ]);
    idle(&mut app);
    // Nothing rings in the group now.
    let (name, body) =
        app.request("<GroupPickupCall><newDestination>201</newDestination></GroupPickupCall>");
    assert_eq!(name, "CSTAErrorCode", "{body}");
    assert_eq!(body["stateIncompatibility"], "noCallToAnswer", "{body}");

    drop(procs);
}

/// The immediate forwarding of `device` in the server's view: on, and to whom.
fn forward_immediate(app: &mut Client, device: &str) -> (bool, Option<String>) {
    let body = app.forwarding(device);
    let item = body["forwardingList"]["forwardListItem"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["forwardingType"] == "forwardImmediate")
        .unwrap_or_else(|| panic!("no forwardImmediate in {body}"))
        .clone();
    (
        item["forwardStatus"].as_bool().unwrap(),
        item["forwardDN"]["id"].as_str().map(str::to_owned),
    )
}

/// No device has a call in the server's view.
fn idle(app: &mut Client) {
    for d in DEVICES {
        assert_eq!(app.snapshot(d), Vec::<String>::new(), "{d}");
    }
}

fn make_call(app: &mut Client, from: &str, to: &str) -> String {
    let body = app.ok(
        &format!("<MakeCall><callingDevice>{from}</callingDevice><calledDirectoryNumber>{to}</calledDirectoryNumber></MakeCall>"),
        "MakeCallResponse",
    );
    body["callingDevice"]["callID"].as_str().unwrap().to_owned()
}

fn answer(app: &mut Client, call: &str, device: &str) {
    app.ok(
        &format!(
            "<AnswerCall>{}</AnswerCall>",
            conn("callToBeAnswered", call, device)
        ),
        "AnswerCallResponse",
    );
}

fn clear(app: &mut Client, call: &str, device: &str) {
    app.ok(
        &format!(
            "<ClearConnection>{}</ClearConnection>",
            conn("connectionToBeCleared", call, device)
        ),
        "ClearConnectionResponse",
    );
}

/// The callID of `device`'s connection named in an event.
/// Whether `got` is `seqs` merged, each keeping its order.
fn interleaves(got: &[String], seqs: &[Vec<String>]) -> bool {
    if seqs.iter().all(|s| s.is_empty()) {
        return got.is_empty();
    }
    let Some((first, rest)) = got.split_first() else {
        return false;
    };
    (0..seqs.len()).any(|i| {
        seqs[i].first() == Some(first) && {
            let mut next = seqs.to_vec();
            next[i].remove(0);
            interleaves(rest, &next)
        }
    })
}

fn call_of(body: &Value, device: &str) -> String {
    body.as_object()
        .unwrap()
        .values()
        .find_map(|v| {
            (v["deviceID"]["id"] == device)
                .then(|| v["callID"].as_str().map(str::to_owned))
                .flatten()
        })
        .unwrap_or_else(|| panic!("no connection of {device} in {body}"))
}
