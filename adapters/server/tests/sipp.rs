//! Interop with sipp, a third-party SIP tool (Debian package `sip-tester`).
//!
//! These tests need the `sipp` binary, so they are `#[ignore]`d in a plain
//! `cargo test`; `scripts/ci.sh` installs sipp and runs them with `--ignored`.
//! The scenarios are in `tests/sipp/`, shared with the benchmark
//! (`scripts/bench-server.sh`).

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use csta_core::framing::{self, FrameReader, InvokeId};
use csta_core::message;
use csta_server::config::{ClientUser, CstaLine, DigestAlgorithm, SipUser};
use csta_server::{Config, Server, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(name)
}

/// A free UDP port on loopback, for a sipp instance that must be reachable at an
/// address known before it starts.
fn free_port() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.local_addr().unwrap().port()
}

/// A server on loopback port 0 with users `u0`.. and `callee`, offering MD5 (sipp
/// knows no other digest algorithm).
async fn start(dir: &Path, users: usize) -> ServerHandle {
    start_with(dir, users, |_| {}).await
}

async fn start_with(dir: &Path, users: usize, f: impl FnOnce(&mut Config)) -> ServerHandle {
    let mut config = Config {
        data_dir: dir.to_path_buf(),
        ..Config::default()
    };
    config.sip.domain = "127.0.0.1".into();
    config.sip.udp = vec!["127.0.0.1:0".parse().unwrap()];
    config.sip.tcp = vec![];
    config.sip.digest_algorithms = vec![DigestAlgorithm::Md5];
    config.clients.tcp = None;
    config.clients.websocket = None;
    config.http.listen = None;
    config.users = (0..users)
        .map(|i| format!("u{i}"))
        .chain(["callee".to_owned()])
        .map(|name| SipUser {
            name,
            password: "secret".into(),
        })
        .collect();
    f(&mut config);
    Server::start(config).await.unwrap()
}

/// An injection file for `register.xml`: each line a user and its credentials.
fn users_csv(dir: &Path, users: &[(&str, &str)]) -> PathBuf {
    let path = dir.join(format!("users-{}.csv", users.len()));
    let mut text = String::from("SEQUENTIAL\n");
    for (user, password) in users {
        text.push_str(&format!(
            "{user};[authentication username={user} password={password}]\n"
        ));
    }
    std::fs::write(&path, text).unwrap();
    path
}

/// A sipp command with the common options.
fn sipp_command(dir: &Path) -> Command {
    let mut cmd = Command::new("sipp");
    cmd.current_dir(dir)
        .args([
            "-i",
            "127.0.0.1",
            "-nostdin",
            "-timeout",
            "20s",
            "-timeout_error",
        ])
        .args(["-auth_uri", "127.0.0.1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Runs sipp to completion (bounded by `-timeout`); true when every call succeeded.
async fn sipp(dir: &Path, server: SocketAddr, args: &[&str]) -> bool {
    let mut cmd = sipp_command(dir);
    cmd.args(args).arg(server.to_string());
    let status = tokio::task::spawn_blocking(move || {
        cmd.status()
            .expect("sipp runs (Debian package sip-tester; scripts/ci.sh installs it)")
    })
    .await
    .unwrap();
    status.success()
}

#[tokio::test]
#[ignore = "needs sipp (Debian sip-tester); scripts/ci.sh runs it"]
async fn sipp_registers_with_digest_and_is_refused_with_a_wrong_password() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), 20).await;
    let addr = server.sip_udp_addrs()[0];
    let reg = scenario("register.xml");
    let reg = reg.to_str().unwrap();

    let users: Vec<(String, &str)> = (0..20).map(|i| (format!("u{i}"), "secret")).collect();
    let users: Vec<(&str, &str)> = users.iter().map(|(u, p)| (u.as_str(), *p)).collect();
    let csv = users_csv(dir.path(), &users);
    let ok = sipp(
        dir.path(),
        addr,
        &[
            "-sf",
            reg,
            "-inf",
            csv.to_str().unwrap(),
            "-m",
            "20",
            "-r",
            "200",
        ],
    )
    .await;
    assert!(ok, "sipp REGISTER with digest failed");

    // The wrong password is challenged again: sipp sees a 401 where it wants 200.
    let csv = users_csv(dir.path(), &[("u1", "wrong")]);
    let ok = sipp(
        dir.path(),
        addr,
        &["-sf", reg, "-inf", csv.to_str().unwrap(), "-m", "1"],
    )
    .await;
    assert!(!ok, "a wrong password was accepted");

    tokio::time::timeout(Duration::from_secs(10), server.shutdown())
        .await
        .unwrap()
        .unwrap();
}

/// A sipp instance in the background, stopped by its process id when dropped.
struct Background(Child);

impl Background {
    fn start(dir: &Path, args: &[&str]) -> Background {
        let mut cmd = sipp_command(dir);
        cmd.args(args);
        Background(cmd.spawn().expect("sipp runs"))
    }

    /// Waits (bounded) for the scenario to end; true when every call succeeded.
    async fn finish(mut self) -> bool {
        for _ in 0..200 {
            if let Some(status) = self.0.try_wait().unwrap() {
                return status.success();
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[tokio::test]
#[ignore = "needs sipp (Debian sip-tester); scripts/ci.sh runs it"]
async fn two_sipp_user_agents_call_through_the_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(dir.path(), 1, |c| c.sip.authenticate_calls = false).await;
    let addr = server.sip_udp_addrs()[0];
    let port = free_port().to_string();
    // The called party registers from the port its scenario then answers on.
    let csv = users_csv(dir.path(), &[("callee", "secret")]);
    let reg = scenario("register.xml");
    let ok = sipp(
        dir.path(),
        addr,
        &["-sf", reg.to_str().unwrap(), "-inf", csv.to_str().unwrap()]
            .into_iter()
            .chain(["-m", "1", "-p", &port])
            .collect::<Vec<_>>(),
    )
    .await;
    assert!(ok, "the callee did not register");
    let uas = scenario("uas.xml");
    let callee = Background::start(
        dir.path(),
        &["-sf", uas.to_str().unwrap(), "-p", &port, "-m", "20"],
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let uac = scenario("uac.xml");
    let ok = sipp(
        dir.path(),
        addr,
        &[
            "-sf",
            uac.to_str().unwrap(),
            "-s",
            "callee",
            "-m",
            "20",
            "-r",
            "50",
        ],
    )
    .await;
    assert!(ok, "calls through the proxy failed");
    assert!(callee.finish().await, "the called party saw a failure");

    // A user nobody registered as: the caller's scenario fails on the 404.
    let ok = sipp(
        dir.path(),
        addr,
        &["-sf", uac.to_str().unwrap(), "-s", "u0", "-m", "1"],
    )
    .await;
    assert!(!ok, "a call to an unregistered user succeeded");

    tokio::time::timeout(Duration::from_secs(10), server.shutdown())
        .await
        .unwrap()
        .unwrap();
}

/// A CSTA application over TCP: ECMA-323 Annex J.2 frames.
struct CstaClient {
    stream: TcpStream,
    frames: FrameReader<Vec<u8>>,
    next: u16,
}

impl CstaClient {
    async fn connect(addr: SocketAddr) -> CstaClient {
        CstaClient {
            stream: TcpStream::connect(addr).await.unwrap(),
            frames: FrameReader::new(vec![0; 70_000], 65_535),
            next: 1,
        }
    }

    async fn send(&mut self, xml: &str) -> InvokeId {
        let id = InvokeId::new(self.next).unwrap();
        self.next += 1;
        let mut frame = vec![0; xml.len() + framing::HEADER_LEN];
        let n = framing::encode(id, xml.as_bytes(), &mut frame).unwrap();
        self.stream.write_all(&frame[..n]).await.unwrap();
        id
    }

    /// The next message: its invokeID, root element name and XML.
    async fn recv(&mut self) -> (InvokeId, String, String) {
        loop {
            if let Some(f) = self.frames.next_frame().unwrap() {
                let name = message::decode(f.body).unwrap().message.name().to_owned();
                return (
                    f.invoke_id,
                    name,
                    String::from_utf8(f.body.to_vec()).unwrap(),
                );
            }
            let n = tokio::time::timeout(
                Duration::from_secs(10),
                self.stream.read(self.frames.spare()),
            )
            .await
            .expect("a CSTA message in time")
            .unwrap();
            assert!(n > 0, "the server closed the client connection");
            self.frames.commit(n);
        }
    }
}

#[tokio::test]
#[ignore = "needs sipp (Debian sip-tester); scripts/ci.sh runs it"]
async fn a_sipp_uacsta_phone_is_monitored_and_its_events_reach_a_client() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_with(dir.path(), 0, |c| {
        c.users.push(SipUser {
            name: "201".into(),
            password: "secret".into(),
        });
        c.csta_lines.push(CstaLine {
            aor: "sip:201@127.0.0.1".into(),
            auth_user: "csta".into(),
            auth_password: "unused".into(),
            notify_mode: false,
            pickup_group: None,
        });
        c.client_users.push(ClientUser {
            name: "crm".into(),
            password: "crm-secret".into(),
            devices: vec!["*".into()],
        });
        c.clients.tcp = Some("127.0.0.1:0".parse().unwrap());
    })
    .await;
    let addr = server.sip_udp_addrs()[0];

    // The application monitors the phone before it is there.
    let mut client = CstaClient::connect(server.client_tcp_addr().unwrap()).await;
    let start = client
        .send(
            "<StartApplicationSession xmlns=\"http://www.ecma-international.org/standards/ecma-354/appl_session\">\
             <applicationInfo><applicationID>test</applicationID><applicationSpecificInfo>\
             <userName>crm</userName><password>crm-secret</password></applicationSpecificInfo>\
             </applicationInfo><requestedProtocolVersions><protocolVersion>\
             http://www.ecma-international.org/standards/ecma-323/csta/ed5</protocolVersion>\
             </requestedProtocolVersions><requestedSessionDuration>60</requestedSessionDuration>\
             </StartApplicationSession>",
        )
        .await;
    let (id, name, xml) = client.recv().await;
    assert_eq!(
        (id, name.as_str()),
        (start, "StartApplicationSessionPosResponse"),
        "{xml}"
    );
    let monitor = client
        .send(
            "<MonitorStart xmlns=\"http://www.ecma-international.org/standards/ecma-323/csta/ed5\">\
             <monitorObject><deviceObject>201</deviceObject></monitorObject></MonitorStart>",
        )
        .await;
    let (id, name, xml) = client.recv().await;
    assert_eq!(
        (id, name.as_str()),
        (monitor, "MonitorStartResponse"),
        "{xml}"
    );
    let (id, name, _) = client.recv().await;
    assert_eq!((id, name.as_str()), (InvokeId::EVENT, "OutOfServiceEvent"));

    // The sipp phone registers from the port it then listens on (the server's CSTA
    // INVITE is retransmitted until the phone is up), takes the CSTA session, answers
    // the monitor set-up and reports do-not-disturb.
    let port = free_port().to_string();
    let csv = users_csv(dir.path(), &[("201", "secret")]);
    let reg = scenario("register.xml");
    let ok = sipp(
        dir.path(),
        addr,
        &["-sf", reg.to_str().unwrap(), "-inf", csv.to_str().unwrap()]
            .into_iter()
            .chain(["-m", "1", "-p", &port])
            .collect::<Vec<_>>(),
    )
    .await;
    assert!(ok, "the phone did not register");
    let phone_scenario = scenario("csta-phone.xml");
    let phone = Background::start(
        dir.path(),
        &[
            "-sf",
            phone_scenario.to_str().unwrap(),
            "-s",
            "201",
            "-p",
            &port,
            "-m",
            "1",
        ],
    );

    let (id, name, _) = client.recv().await;
    assert_eq!((id, name.as_str()), (InvokeId::EVENT, "BackInServiceEvent"));
    let (id, name, xml) = client.recv().await;
    assert_eq!(
        (id, name.as_str()),
        (InvokeId::EVENT, "DoNotDisturbEvent"),
        "{xml}"
    );
    assert!(
        xml.contains("<doNotDisturbOn>true</doNotDisturbOn>"),
        "{xml}"
    );
    // The client's own monitor, not the phone's.
    assert!(!xml.contains(">sipp1<"), "{xml}");

    // Stopping the server ends the phone's session (MonitorStop, BYE): the sipp
    // scenario completes.
    tokio::time::timeout(Duration::from_secs(10), server.shutdown())
        .await
        .unwrap()
        .unwrap();
    assert!(phone.finish().await, "the sipp phone's scenario failed");
}
