//! Bad input from every side at once, against a running server: SIP garbage,
//! truncated and oversize messages, broken CSTA frames and XML, wrong passwords,
//! unknown and forbidden devices. Each gets its defined answer, and a well-behaved
//! phone and client working alongside are not disturbed.

use std::net::SocketAddr;
use std::time::Duration;

use csta_core::framing::{self, FrameReader, InvokeId};
use csta_core::message;
use csta_server::config::{ClientUser, CstaLine, SipUser};
use csta_server::{Config, Server, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(5);
const ED5: &str = "http://www.ecma-international.org/standards/ecma-323/csta/ed5";

async fn start(dir: &std::path::Path) -> ServerHandle {
    let lo: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut c = Config {
        data_dir: dir.to_owned(),
        ..Config::default()
    };
    c.sip.udp = vec![lo];
    c.sip.tcp = vec![lo];
    c.sip.authenticate = false;
    c.clients.tcp = Some(lo);
    c.clients.websocket = None;
    c.http.listen = None;
    c.limits.max_client_message = 4096;
    c.limits.max_message_size = 2048;
    c.users.push(SipUser {
        name: "201".into(),
        password: "secret".into(),
    });
    c.csta_lines.push(CstaLine {
        aor: "sip:201@localhost".into(),
        auth_user: "csta".into(),
        auth_password: "unused".into(),
        notify_mode: false,
        pickup_group: None,
    });
    for (name, devices) in [("crm", "*"), ("desk", "sip:999@localhost")] {
        c.client_users.push(ClientUser {
            name: name.into(),
            password: format!("{name}-secret"),
            devices: vec![devices.into()],
        });
    }
    Server::start(c).await.unwrap()
}

struct Client {
    stream: TcpStream,
    frames: FrameReader<Vec<u8>>,
}

impl Client {
    async fn connect(server: &ServerHandle) -> Client {
        Client {
            stream: TcpStream::connect(server.client_tcp_addr().unwrap())
                .await
                .unwrap(),
            frames: FrameReader::new(vec![0; 70_000], 65_535),
        }
    }

    async fn send(&mut self, id: u16, xml: &str) {
        let mut frame = vec![0; xml.len() + framing::HEADER_LEN];
        let n = framing::encode(InvokeId::new(id).unwrap(), xml.as_bytes(), &mut frame).unwrap();
        self.stream.write_all(&frame[..n]).await.unwrap();
    }

    /// The next message's invokeID and XML; `None` when the server closed.
    async fn recv(&mut self) -> Option<(u16, String)> {
        loop {
            if let Some(f) = self.frames.next_frame().unwrap() {
                return Some((
                    f.invoke_id.get(),
                    String::from_utf8(f.body.to_vec()).unwrap(),
                ));
            }
            let n = timeout(WAIT, self.stream.read(self.frames.spare()))
                .await
                .expect("an answer in time")
                .unwrap_or(0);
            if n == 0 {
                return None;
            }
            self.frames.commit(n);
        }
    }

    async fn login(&mut self, user: &str, password: &str) -> String {
        self.send(
            1,
            &format!(
                "<StartApplicationSession xmlns=\"http://www.ecma-international.org/standards/\
                 ecma-354/appl_session\"><applicationInfo><applicationID>t</applicationID>\
                 <applicationSpecificInfo><userName>{user}</userName><password>{password}\
                 </password></applicationSpecificInfo></applicationInfo>\
                 <requestedProtocolVersions><protocolVersion>{ED5}</protocolVersion>\
                 </requestedProtocolVersions></StartApplicationSession>"
            ),
        )
        .await;
        self.recv().await.expect("an answer to the login").1
    }
}

fn root(xml: &str) -> String {
    message::decode(xml.as_bytes())
        .unwrap()
        .message
        .name()
        .to_owned()
}

fn monitor_start(device: &str) -> String {
    format!(
        "<MonitorStart xmlns=\"{ED5}\"><monitorObject><deviceObject>{device}</deviceObject>\
         </monitorObject></MonitorStart>"
    )
}

async fn options_answered(sock: &UdpSocket, sip: SocketAddr, call_id: &str) {
    let req = format!(
        "OPTIONS sip:localhost SIP/2.0\r\nVia: SIP/2.0/UDP {};rport;branch=z9hG4bK{call_id}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:t@localhost>;tag=1\r\nTo: <sip:localhost>\r\n\
         Call-ID: {call_id}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        sock.local_addr().unwrap()
    );
    sock.send_to(req.as_bytes(), sip).await.unwrap();
    let mut buf = vec![0; 4096];
    loop {
        let (n, _) = timeout(WAIT, sock.recv_from(&mut buf))
            .await
            .expect("an OPTIONS answer")
            .unwrap();
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if text.contains(&format!("Call-ID: {call_id}\r\n")) {
            assert!(text.starts_with("SIP/2.0 200 OK\r\n"), "{text}");
            return;
        }
    }
}

#[tokio::test]
async fn bad_input_everywhere_gets_its_answer_and_disturbs_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path()).await;
    let sip = server.sip_udp_addrs()[0];

    // A well-behaved client, logged in and monitoring the (offline) phone.
    let mut good = Client::connect(&server).await;
    assert_eq!(
        root(&good.login("crm", "crm-secret").await),
        "StartApplicationSessionPosResponse"
    );
    good.send(2, &monitor_start("201")).await;
    let (id, xml) = good.recv().await.unwrap();
    assert_eq!((id, root(&xml).as_str()), (2, "MonitorStartResponse"));
    let (id, xml) = good.recv().await.unwrap();
    assert_eq!((id, root(&xml).as_str()), (9999, "OutOfServiceEvent"));

    // SIP: garbage, a truncated request, an oversize datagram; the server stays up.
    let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    phone.send_to(b"\x00\xff garbage", sip).await.unwrap();
    phone
        .send_to(b"INVITE sip:201@localhost SIP/2.0\r\nVia: SIP/2.0/UDP", sip)
        .await
        .unwrap();
    phone.send_to(&vec![b'A'; 3000], sip).await.unwrap();
    options_answered(&phone, sip, "after-garbage").await;

    // A wrong password is refused with the ECMA-354 answer.
    let mut wrong = Client::connect(&server).await;
    let xml = wrong.login("crm", "nope").await;
    assert_eq!(root(&xml), "StartApplicationSessionNegResponse");
    assert!(xml.contains("invalidApplicationInfo"), "{xml}");

    // Broken XML and an unknown message get CSTAErrorCode; the connection stays.
    let mut sloppy = Client::connect(&server).await;
    assert_eq!(
        root(&sloppy.login("crm", "crm-secret").await),
        "StartApplicationSessionPosResponse"
    );
    sloppy.send(5, "<MonitorStart><monitorObject>").await;
    let (id, xml) = sloppy.recv().await.unwrap();
    assert_eq!((id, root(&xml).as_str()), (5, "CSTAErrorCode"));
    sloppy
        .send(6, &format!("<FlyToTheMoon xmlns=\"{ED5}\"/>"))
        .await;
    let (id, xml) = sloppy.recv().await.unwrap();
    assert_eq!((id, root(&xml).as_str()), (6, "CSTAErrorCode"));
    assert!(xml.contains("serviceNotSupported"), "{xml}");
    // An unknown device, and a device another user may not see.
    sloppy.send(7, &monitor_start("555")).await;
    let (id, xml) = sloppy.recv().await.unwrap();
    assert_eq!((id, root(&xml).as_str()), (7, "CSTAErrorCode"));
    assert!(xml.contains("invalidDeviceID"), "{xml}");
    let mut desk = Client::connect(&server).await;
    assert_eq!(
        root(&desk.login("desk", "desk-secret").await),
        "StartApplicationSessionPosResponse"
    );
    desk.send(2, &monitor_start("201")).await;
    let (_, xml) = desk.recv().await.unwrap();
    assert!(xml.contains("privilegeViolationSpecifiedDevice"), "{xml}");
    // A request to the offline phone: deviceOutOfService.
    sloppy
        .send(
            8,
            &format!(
                "<MakeCall xmlns=\"{ED5}\"><callingDevice>201</callingDevice>\
                 <calledDirectoryNumber>202</calledDirectoryNumber></MakeCall>"
            ),
        )
        .await;
    let (id, xml) = sloppy.recv().await.unwrap();
    assert_eq!((id, root(&xml).as_str()), (8, "CSTAErrorCode"));
    assert!(xml.contains("deviceOutOfService"), "{xml}");

    // A broken frame header closes that connection only.
    let mut broken = Client::connect(&server).await;
    broken
        .stream
        .write_all(b"\x00\x00\x00\x00garbage")
        .await
        .unwrap();
    assert!(broken.recv().await.is_none(), "a broken frame was accepted");
    // An oversize frame too.
    let mut big = Client::connect(&server).await;
    big.send(1, &"x".repeat(5000)).await;
    assert!(big.recv().await.is_none(), "an oversize frame was accepted");

    // The well-behaved client still gets answers, the SIP side still answers.
    good.send(3, &format!("<GetCSTAFeatures xmlns=\"{ED5}\"/>"))
        .await;
    let (id, xml) = good.recv().await.unwrap();
    assert_eq!((id, root(&xml).as_str()), (3, "GetCSTAFeaturesResponse"));
    options_answered(&phone, sip, "at-the-end").await;

    timeout(Duration::from_secs(10), server.shutdown())
        .await
        .unwrap()
        .unwrap();
}
