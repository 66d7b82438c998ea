//! Pre-authentication lock-out, against a running server on loopback: one host
//! floods the CSTA client listeners (XML and WebSocket) and the HTTP listener with
//! idle connections. A logged-in application keeps its connection, a new application
//! still gets in and logs in, `/health` answers, the idle connections are closed after
//! the login timeout, and one address cannot hold more than its share.
//!
//! Every client here connects from 127.0.0.1, so the per-source limit is set above
//! `max_clients` where the displacement rule is under test, and the per-source limit
//! is tested with a flood from 127.0.0.2.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use csta_core::framing::{self, FrameReader, InvokeId};
use csta_server::clients::xml_to_json;
use csta_server::config::ClientUser;
use csta_server::{Config, Server, ServerHandle};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message as Ws;

const WAIT: Duration = Duration::from_secs(3);
const ED5: &str = "http://www.ecma-international.org/standards/ecma-323/csta/ed5";
/// The second loopback address, the flooding host of the per-source tests.
const OTHER: [u8; 4] = [127, 0, 0, 2];

/// A server with 8 client places, the given per-source limit and login timeout.
async fn start(dir: &std::path::Path, per_source: usize, login_timeout: u32) -> ServerHandle {
    let lo: SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut c = Config {
        data_dir: dir.to_owned(),
        ..Config::default()
    };
    c.sip.udp = vec![lo];
    c.sip.tcp = vec![lo];
    c.clients.tcp = Some(lo);
    c.clients.websocket = Some(lo);
    c.http.listen = Some(lo);
    c.limits.max_clients = 8;
    c.limits.max_clients_per_source = per_source;
    c.timers.client_login_timeout = login_timeout;
    c.client_users.push(ClientUser {
        name: "crm".into(),
        password: "crm-secret".into(),
        devices: vec!["*".into()],
    });
    Server::start(c).await.unwrap()
}

fn login_xml(password: &str) -> String {
    format!(
        "<StartApplicationSession xmlns=\"http://www.ecma-international.org/standards/\
         ecma-354/appl_session\"><applicationInfo><applicationID>t</applicationID>\
         <applicationSpecificInfo><userName>crm</userName><password>{password}\
         </password></applicationSpecificInfo></applicationInfo>\
         <requestedProtocolVersions><protocolVersion>{ED5}</protocolVersion>\
         </requestedProtocolVersions></StartApplicationSession>"
    )
}

fn status_xml() -> String {
    format!("<RequestSystemStatus xmlns=\"{ED5}\"/>")
}

/// An ECMA-323 XML client.
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

    /// The next message's XML; `None` when the server closed.
    async fn recv(&mut self) -> Option<String> {
        loop {
            if let Some(f) = self.frames.next_frame().unwrap() {
                return Some(String::from_utf8(f.body.to_vec()).unwrap());
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

    async fn login(&mut self) {
        self.send(1, &login_xml("crm-secret")).await;
        let answer = self.recv().await.expect("an answer to the login");
        assert!(
            answer.contains("StartApplicationSessionPosResponse"),
            "{answer}"
        );
    }

    /// A request the hub answers itself: the client is logged in and served.
    async fn works(&mut self, id: u16) {
        self.send(id, &status_xml()).await;
        let answer = self.recv().await.expect("an answer to RequestSystemStatus");
        assert!(answer.contains("RequestSystemStatusResponse"), "{answer}");
    }
}

/// A TCP connection from `source` (port chosen by the system).
async fn connect_from(source: [u8; 4], to: SocketAddr) -> TcpStream {
    let sock = TcpSocket::new_v4().unwrap();
    sock.bind(SocketAddr::from((source, 0))).unwrap();
    sock.connect(to).await.unwrap()
}

/// Whether the server closes `s` (EOF or reset) within `within`; reads and drops
/// whatever it sends before.
async fn closed_within(s: &mut TcpStream, within: Duration) -> bool {
    let until = tokio::time::Instant::now() + within;
    let mut buf = [0u8; 512];
    loop {
        match tokio::time::timeout_at(until, s.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0) | Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

/// `GET path` on the HTTP port; the status code and body.
async fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    timeout(WAIT, s.read_to_end(&mut out))
        .await
        .expect("an HTTP answer in time")
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    let code = text.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (code, body)
}

/// The value of an unlabelled metric in `/metrics`.
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("csta_server_{name} ")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no metric {name} in\n{text}"))
}

/// A WebSocket that completes its handshake and then says nothing.
async fn ws_idle(addr: SocketAddr) -> tokio_tungstenite::WebSocketStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (ws, _) = timeout(WAIT, tokio_tungstenite::client_async("ws://x/", tcp))
        .await
        .expect("handshake in time")
        .expect("handshake");
    ws
}

/// Whether the server closes the WebSocket within `within`.
async fn ws_closed_within(
    ws: &mut tokio_tungstenite::WebSocketStream<TcpStream>,
    within: Duration,
) -> bool {
    let until = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(until, ws.next()).await {
            Err(_) => return false,
            Ok(None | Some(Err(_)) | Some(Ok(Ws::Close(_)))) => return true,
            Ok(Some(Ok(_))) => {}
        }
    }
}

#[tokio::test]
async fn flood_of_idle_connections_does_not_lock_out_a_new_application() {
    let dir = tempfile::tempdir().unwrap();
    // One host may fill every place: the displacement rule has to let the new
    // application in.
    let server = start(dir.path(), 64, 3).await;
    let tcp = server.client_tcp_addr().unwrap();
    let ws = server.client_websocket_addr().unwrap();
    let http = server.http_addr().unwrap();

    let mut early = Client::connect(&server).await;
    early.login().await;

    // The flood: more idle connections than there are places, over both
    // encodings, WebSockets with and without their handshake.
    let mut flood = Vec::new();
    let mut flood_ws = Vec::new();
    for _ in 0..3 {
        flood_ws.push(ws_idle(ws).await);
    }
    for i in 0..18 {
        flood.push(
            TcpStream::connect(if i % 2 == 0 { tcp } else { ws })
                .await
                .unwrap(),
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;

    // /health answers during the flood.
    assert_eq!(get(http, "/health").await.0, 200);

    // A new application gets in and logs in (over XML and over WebSocket).
    let mut late = Client::connect(&server).await;
    late.login().await;
    late.works(2).await;
    let tcp_ws = TcpStream::connect(ws).await.unwrap();
    let (mut json, _) = timeout(WAIT, tokio_tungstenite::client_async("ws://x/", tcp_ws))
        .await
        .expect("handshake in time")
        .expect("handshake");
    let login = xml_to_json(
        InvokeId::new(1).unwrap(),
        login_xml("crm-secret").as_bytes(),
    )
    .unwrap();
    json.send(Ws::text(login)).await.unwrap();
    let answer = timeout(WAIT, json.next()).await.expect("a JSON answer");
    let answer = answer.unwrap().unwrap().into_text().unwrap().to_string();
    assert!(
        answer.contains("StartApplicationSessionPosResponse"),
        "{answer}"
    );

    // More flood: the logged-in ones stay.
    for i in 0..10 {
        flood.push(
            TcpStream::connect(if i % 2 == 0 { tcp } else { ws })
                .await
                .unwrap(),
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    early.works(3).await;
    late.works(4).await;
    let status = xml_to_json(InvokeId::new(5).unwrap(), status_xml().as_bytes()).unwrap();
    json.send(Ws::text(status)).await.unwrap();
    let answer = timeout(WAIT, json.next()).await.expect("a JSON answer");
    let answer = answer.unwrap().unwrap().into_text().unwrap().to_string();
    assert!(answer.contains("RequestSystemStatusResponse"), "{answer}");
    assert_eq!(get(http, "/health").await.0, 200);

    let (code, text) = get(http, "/metrics").await;
    assert_eq!(code, 200);
    assert!(
        metric(&text, "client_connections_displaced_total") >= 20,
        "{text}"
    );
    assert_eq!(
        metric(&text, "client_connections_refused_total"),
        0,
        "{text}"
    );
    drop((flood, flood_ws));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn idle_connections_are_closed_after_the_login_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), 64, 1).await;
    let tcp = server.client_tcp_addr().unwrap();
    let ws = server.client_websocket_addr().unwrap();

    let mut logged_in = Client::connect(&server).await;
    logged_in.login().await;
    let opened = Instant::now();
    // Silent over XML and before the WebSocket handshake.
    let mut silent_xml = TcpStream::connect(tcp).await.unwrap();
    let mut silent_ws = TcpStream::connect(ws).await.unwrap();
    // A WebSocket handshake started and never finished.
    let mut half_ws = TcpStream::connect(ws).await.unwrap();
    half_ws.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    // A WebSocket that completed its handshake and never logs in.
    let mut quiet_ws = ws_idle(ws).await;
    // Talks, but never logs in: a request, and a failed login.
    let mut chatty = Client::connect(&server).await;
    chatty.send(2, &status_xml()).await;
    let refused = chatty.recv().await.expect("a refusal");
    assert!(refused.contains("CSTAErrorCode"), "{refused}");
    chatty.send(3, &login_xml("wrong")).await;
    let refused = chatty.recv().await.expect("a refusal");
    assert!(
        refused.contains("StartApplicationSessionNegResponse"),
        "{refused}"
    );

    // The login timeout is 1 s, the idle timeout the default 30 s.
    let limit = Duration::from_millis(2500);
    assert!(closed_within(&mut silent_xml, limit).await, "silent XML");
    assert!(
        closed_within(&mut silent_ws, limit).await,
        "silent WebSocket"
    );
    assert!(closed_within(&mut half_ws, limit).await, "half handshake");
    assert!(
        ws_closed_within(&mut quiet_ws, limit).await,
        "quiet WebSocket"
    );
    assert!(chatty.recv().await.is_none(), "chatty client not closed");
    assert!(opened.elapsed() < Duration::from_secs(3));
    assert!(opened.elapsed() >= Duration::from_millis(900));
    // The logged-in client is not bound by it.
    logged_in.works(4).await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn per_source_limit_refuses_connections_from_one_address() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), 3, 5).await;
    let tcp = server.client_tcp_addr().unwrap();
    let ws = server.client_websocket_addr().unwrap();
    let http = server.http_addr().unwrap();

    // The first three from 127.0.0.2 are served (not closed before the login
    // timeout); the fourth, over either listener, is closed at once.
    let mut held = Vec::new();
    for to in [tcp, ws, tcp] {
        held.push(connect_from(OTHER, to).await);
    }
    for to in [tcp, ws] {
        let mut extra = connect_from(OTHER, to).await;
        assert!(
            closed_within(&mut extra, Duration::from_millis(1000)).await,
            "fourth connection from one address not closed at once"
        );
    }
    for s in &mut held {
        assert!(!closed_within(s, Duration::from_millis(100)).await);
    }
    // Another address is not affected.
    let mut other = Client::connect(&server).await;
    other.login().await;
    other.works(2).await;
    let (_, text) = get(http, "/metrics").await;
    assert_eq!(
        metric(&text, "client_connections_refused_per_source_total"),
        2,
        "{text}"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn health_answers_while_http_is_flooded() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), 10, 5).await;
    let http = server.http_addr().unwrap();
    // Idle HTTP connections, more than the listener serves at once, from another
    // address and from this one.
    let mut flood = Vec::new();
    for _ in 0..80 {
        flood.push(connect_from(OTHER, http).await);
    }
    for _ in 0..80 {
        flood.push(TcpStream::connect(http).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    assert_eq!(get(http, "/health").await, (200, "ok\n".to_owned()));
    assert!(started.elapsed() < Duration::from_secs(1));
    drop(flood);
    server.shutdown().await.unwrap();
}
