//! The binary reloads its configuration file on SIGHUP: a CSTA client registered for
//! device changes hears of a new line, sees it in `GetSwitchingFunctionDevices`, and a
//! broken file changes nothing.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

const ED3: &str = "http://www.ecma-international.org/standards/ecma-323/csta/ed3";
const ECMA354: &str = "http://www.ecma-international.org/standards/ecma-354/appl_session";

fn config(lines: &str) -> String {
    format!(
        "[sip]\nudp = [\"127.0.0.1:0\"]\ntcp = []\n\
         [clients]\ntcp = \"127.0.0.1:0\"\nwebsocket = false\n\
         [http]\nlisten = false\n\
         [[client_users]]\nname = \"tsp\"\npassword = \"tsp-secret\"\ndevices = [\"*\"]\n\
         {lines}"
    )
}

const LINE_201: &str =
    "[[csta_lines]]\naor = \"sip:201@localhost\"\nauth_user = \"201\"\nauth_password = \"pw201\"\n";
const LINE_202: &str = "[[csta_lines]]\naor = \"sip:202@localhost\"\nauth_user = \"202\"\nauth_password = \"pw202\"\npickup_group = \"desk\"\n";

/// The server's stderr, line by line.
struct Log {
    rx: Receiver<String>,
    seen: Vec<String>,
}

impl Log {
    /// Waits for a line containing `what`; returns it.
    fn wait_for(&mut self, what: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(what) {
                        return line;
                    }
                }
                Err(e) => panic!("no log line with `{what}` ({e}); seen: {:#?}", self.seen),
            }
        }
    }
}

/// Stops the child (SIGTERM, then kill) when a test fails midway.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn start(conf: &std::path::Path, data: &std::path::Path) -> (Running, Log) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_csta-server"))
        .arg("--config")
        .arg(conf)
        .arg("--data-dir")
        .arg(data)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (
        Running(child),
        Log {
            rx,
            seen: Vec::new(),
        },
    )
}

/// A CSTA client over TCP (ECMA-323 Annex J.2 frames).
struct Client(TcpStream);

impl Client {
    fn send(&mut self, invoke: u16, xml: &str) {
        let len = u16::try_from(xml.len() + 8).unwrap();
        let mut frame = vec![0, 0];
        frame.extend_from_slice(&len.to_be_bytes());
        frame.extend_from_slice(format!("{invoke:04}").as_bytes());
        frame.extend_from_slice(xml.as_bytes());
        self.0.write_all(&frame).unwrap();
    }

    /// The next frame: invokeID and XML.
    fn recv(&mut self) -> (u16, String) {
        let mut head = [0u8; 8];
        self.0.read_exact(&mut head).unwrap();
        let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
        let invoke = std::str::from_utf8(&head[4..]).unwrap().parse().unwrap();
        let mut body = vec![0; len - 8];
        self.0.read_exact(&mut body).unwrap();
        (invoke, String::from_utf8(body).unwrap())
    }

    /// Sends `xml` and reads frames until one has a root element `name`.
    fn until(&mut self, name: &str) -> (u16, String) {
        for _ in 0..16 {
            let (invoke, xml) = self.recv();
            if xml.contains(&format!("<{name} ")) || xml.contains(&format!("<{name}>")) {
                return (invoke, xml);
            }
        }
        panic!("no {name}");
    }

    /// `GetSwitchingFunctionDevices`: the devices of every segment.
    fn devices(&mut self, invoke: u16) -> Vec<String> {
        self.send(
            invoke,
            &format!(r#"<GetSwitchingFunctionDevices xmlns="{ED3}"/>"#),
        );
        let (i, xml) = self.recv();
        assert_eq!(i, invoke);
        assert!(
            xml.contains("<GetSwitchingFunctionDevicesResponse "),
            "{xml}"
        );
        let mut devices = Vec::new();
        loop {
            let (_, xml) = self.until("SwitchingFunctionDevices");
            let mut rest = xml.as_str();
            while let Some(at) = rest.find("<deviceID>") {
                let tail = &rest[at + "<deviceID>".len()..];
                let end = tail.find("</deviceID>").unwrap();
                devices.push(tail[..end].to_owned());
                rest = &tail[end..];
            }
            if xml.contains("<lastSegment>true</lastSegment>") {
                return devices;
            }
        }
    }
}

fn sighup(child: &Child) {
    let status = Command::new("kill")
        .arg("-HUP")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn sighup_reloads_lines_and_tells_registered_clients() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("c.toml");
    std::fs::write(&conf, config(LINE_201)).unwrap();
    let (mut child, mut log) = start(&conf, &dir.path().join("data"));
    let line = log.wait_for("CSTA clients (XML over TCP) listening on ");
    let addr: SocketAddr = line
        .rsplit("listening on ")
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    log.wait_for("ready");

    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut client = Client(stream);
    client.send(
        1,
        &format!(
            r#"<StartApplicationSession xmlns="{ECMA354}"><applicationInfo><applicationID>tsp</applicationID><applicationSpecificInfo><userName>tsp</userName><password>tsp-secret</password></applicationSpecificInfo></applicationInfo><requestedProtocolVersions><protocolVersion>{ED3}</protocolVersion></requestedProtocolVersions></StartApplicationSession>"#
        ),
    );
    let (_, xml) = client.recv();
    assert!(
        xml.contains("<StartApplicationSessionPosResponse "),
        "{xml}"
    );
    client.send(
        2,
        &format!(
            r#"<SystemRegister xmlns="{ED3}"><requestTypes><switchingFunctionDevicesChanged>true</switchingFunctionDevicesChanged></requestTypes></SystemRegister>"#
        ),
    );
    let (invoke, xml) = client.recv();
    assert_eq!(invoke, 2);
    let id_at = xml.find("<sysStatRegisterID>").expect(&xml) + "<sysStatRegisterID>".len();
    let register_id = xml[id_at..xml[id_at..].find('<').unwrap() + id_at].to_owned();
    assert_eq!(client.devices(3), ["sip:201@localhost"]);

    // A line more: the registered client is told, and lists it.
    std::fs::write(&conf, config(&format!("{LINE_201}{LINE_202}"))).unwrap();
    sighup(&child.0);
    log.wait_for("csta line sip:202@localhost added");
    let (invoke, xml) = client.until("SwitchingFunctionDevicesChanged");
    assert_ne!(
        invoke, 9999,
        "a request of the server, with its own invokeID"
    );
    assert!(
        xml.contains(&format!(
            "<sysStatRegisterID>{register_id}</sysStatRegisterID>"
        )),
        "{xml}"
    );
    assert_eq!(
        client.devices(4),
        ["sip:201@localhost", "sip:202@localhost"]
    );

    // A file that does not parse, then one that does not validate: nothing changes.
    std::fs::write(&conf, "[sip\nudp = ").unwrap();
    sighup(&child.0);
    log.wait_for("configuration not reloaded");
    std::fs::write(
        &conf,
        config("[[csta_lines]]\naor = \"sip:201@localhost\"\nauth_user = \"\"\nauth_password = \"x\"\n"),
    )
    .unwrap();
    sighup(&child.0);
    log.wait_for("configuration not reloaded");
    assert_eq!(
        client.devices(5),
        ["sip:201@localhost", "sip:202@localhost"]
    );

    // A line less.
    std::fs::write(&conf, config(LINE_202)).unwrap();
    sighup(&child.0);
    log.wait_for("csta line sip:201@localhost removed");
    client.until("SwitchingFunctionDevicesChanged");
    assert_eq!(client.devices(6), ["sip:202@localhost"]);

    let exit = common::stop_with_sigterm(&mut child.0);
    assert!(exit.success(), "{exit:?}");
}
