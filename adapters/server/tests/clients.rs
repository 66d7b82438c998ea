//! The CSTA client connections and the HTTP endpoints, over real sockets on loopback.
//!
//! The connection layer is driven directly: a test double of the core task owns the
//! [`Clients`], reports every [`ClientInput`] to the test and sends the
//! [`ClientOutput`] the test asks for.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use csta_core::framing::{HEADER_LEN, InvokeId, encode};
use csta_server::clients::{ClientSettings, Clients};
use csta_server::http::{HttpServer, Metrics};
use csta_server::interface::{ClientId, ClientInput, ClientOutput, Encoding};
use csta_server::{Config, Server};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message as Ws;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

const WAIT: Duration = Duration::from_secs(5);

const MONITOR_START: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?><MonitorStart xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3"><monitorObject><deviceObject>201</deviceObject></monitorObject></MonitorStart>"#;
const MONITOR_START_RESPONSE: &[u8] = br#"<?xml version="1.0" encoding="UTF-8"?><MonitorStartResponse xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3"><monitorCrossRefID>77</monitorCrossRefID></MonitorStartResponse>"#;

fn settings() -> ClientSettings {
    ClientSettings {
        max_clients: 8,
        max_per_source: 8,
        max_message: 65_535,
        queue: 16,
        idle_timeout: Duration::from_secs(5),
        login_timeout: Duration::from_secs(5),
        keepalive: Some(Duration::from_secs(30)),
    }
}

/// A stand-in for the core task.
struct Double {
    inputs: mpsc::UnboundedReceiver<ClientInput>,
    outputs: mpsc::UnboundedSender<ClientOutput>,
    /// Connections to mark as logged in ([`Clients::authenticated`]).
    auth: mpsc::UnboundedSender<ClientId>,
    tcp: SocketAddr,
    ws: SocketAddr,
    metrics: Arc<Metrics>,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Double {
    async fn start(settings: ClientSettings) -> Double {
        let lo: SocketAddr = "127.0.0.1:0".parse().unwrap();
        let (ev_tx, mut ev_rx) = mpsc::channel(64);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let metrics = Metrics::new();
        let mut clients = Clients::bind(
            Some(lo),
            Some(lo),
            settings,
            ev_tx,
            metrics.clone(),
            shutdown_rx,
        )
        .await
        .unwrap();
        let tcp = clients.tcp_addr().unwrap();
        let ws = clients.websocket_addr().unwrap();
        let (in_tx, inputs) = mpsc::unbounded_channel();
        let (outputs, mut out_rx) = mpsc::unbounded_channel::<ClientOutput>();
        let (auth, mut auth_rx) = mpsc::unbounded_channel::<ClientId>();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    Some(ev) = ev_rx.recv() => {
                        let _ = in_tx.send(clients.handle_event(ev));
                    }
                    Some(c) = auth_rx.recv() => clients.authenticated(c),
                    o = out_rx.recv() => match o {
                        Some(o) => clients.send(o),
                        None => break,
                    },
                }
            }
            ev_rx.close();
            while ev_rx.recv().await.is_some() {}
            clients.join().await;
        });
        Double {
            inputs,
            outputs,
            auth,
            tcp,
            ws,
            metrics,
            shutdown,
            task,
        }
    }

    async fn next(&mut self) -> ClientInput {
        timeout(WAIT, self.inputs.recv())
            .await
            .expect("no client input in time")
            .expect("double stopped")
    }

    async fn connected(&mut self, encoding: Encoding) -> ClientId {
        match self.next().await {
            ClientInput::Connected { client, info } => {
                assert_eq!(info.encoding, encoding);
                assert!(!info.tls);
                assert!(info.peer.ip().is_loopback());
                client
            }
            other => panic!("expected Connected, got {other:?}"),
        }
    }

    async fn frame(&mut self, from: ClientId) -> (u16, Vec<u8>) {
        match self.next().await {
            ClientInput::Frame {
                client,
                invoke_id,
                body,
            } => {
                assert_eq!(client, from);
                (invoke_id.get(), body)
            }
            other => panic!("expected Frame, got {other:?}"),
        }
    }

    async fn closed(&mut self, which: ClientId) {
        match self.next().await {
            ClientInput::Closed { client } => assert_eq!(client, which),
            other => panic!("expected Closed, got {other:?}"),
        }
    }

    fn send(&self, client: ClientId, invoke_id: u16, body: &[u8]) {
        self.outputs
            .send(ClientOutput::Frame {
                client,
                invoke_id: InvokeId::new(invoke_id).unwrap(),
                body: body.to_vec(),
            })
            .unwrap();
    }

    async fn stop(self) {
        let _ = self.shutdown.send(true);
        drop(self.outputs);
        timeout(WAIT, self.task).await.unwrap().unwrap();
    }
}

fn frame(invoke_id: u16, body: &[u8]) -> Vec<u8> {
    let mut out = vec![0; HEADER_LEN + body.len()];
    encode(InvokeId::new(invoke_id).unwrap(), body, &mut out).unwrap();
    out
}

/// Reads one frame from a client socket.
async fn read_frame(s: &mut TcpStream) -> (u16, Vec<u8>) {
    let mut head = [0u8; HEADER_LEN];
    timeout(WAIT, s.read_exact(&mut head))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&head[..2], b"\0\0");
    let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
    let id: u16 = std::str::from_utf8(&head[4..]).unwrap().parse().unwrap();
    let mut body = vec![0; len - HEADER_LEN];
    timeout(WAIT, s.read_exact(&mut body))
        .await
        .unwrap()
        .unwrap();
    (id, body)
}

/// Asserts that the server closes the socket (EOF or reset) in time.
async fn assert_closed(s: &mut TcpStream) {
    let mut buf = [0u8; 256];
    loop {
        match timeout(WAIT, s.read(&mut buf))
            .await
            .expect("connection not closed")
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

#[tokio::test]
async fn xml_frames_round_trip_through_the_core() {
    let mut d = Double::start(settings()).await;
    let mut s = TcpStream::connect(d.tcp).await.unwrap();
    let c = d.connected(Encoding::Xml).await;
    s.write_all(&frame(42, MONITOR_START)).await.unwrap();
    assert_eq!(d.frame(c).await, (42, MONITOR_START.to_vec()));
    d.send(c, 42, MONITOR_START_RESPONSE);
    d.send(c, 9999, b"<x/>");
    assert_eq!(
        read_frame(&mut s).await,
        (42, MONITOR_START_RESPONSE.to_vec())
    );
    assert_eq!(read_frame(&mut s).await, (9999, b"<x/>".to_vec()));
    assert_eq!(d.metrics.client_frames_received.get(), 1);
    assert_eq!(d.metrics.client_frames_sent.get(), 2);
    assert_eq!(d.metrics.client_connections.xml.get(), 1);

    // Close from the core: what is queued goes out first.
    d.send(c, 7, b"<last/>");
    d.outputs.send(ClientOutput::Close { client: c }).unwrap();
    assert_eq!(read_frame(&mut s).await, (7, b"<last/>".to_vec()));
    assert_closed(&mut s).await;
    d.closed(c).await;
    assert_eq!(d.metrics.client_connections.xml.get(), 0);

    // Peer close is reported; output to a closed client is dropped.
    let mut s = TcpStream::connect(d.tcp).await.unwrap();
    let c2 = d.connected(Encoding::Xml).await;
    assert!(c2 > c);
    s.shutdown().await.unwrap();
    drop(s);
    d.closed(c2).await;
    d.send(c2, 1, b"<nobody/>");
    d.stop().await;
}

#[tokio::test]
async fn frames_split_across_reads_and_joined_in_one() {
    let mut d = Double::start(settings()).await;
    let mut s = TcpStream::connect(d.tcp).await.unwrap();
    s.set_nodelay(true).unwrap();
    let c = d.connected(Encoding::Xml).await;
    let one = frame(1, MONITOR_START);
    // Octet by octet through the header, then in two pieces.
    for b in &one[..HEADER_LEN] {
        s.write_all(std::slice::from_ref(b)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    s.write_all(&one[HEADER_LEN..50]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    s.write_all(&one[50..]).await.unwrap();
    assert_eq!(d.frame(c).await, (1, MONITOR_START.to_vec()));
    // Three frames in one write, the last one empty.
    let mut three = frame(2, b"<a/>");
    three.extend(frame(3, b"<b/>"));
    three.extend(frame(4, b""));
    s.write_all(&three).await.unwrap();
    assert_eq!(d.frame(c).await, (2, b"<a/>".to_vec()));
    assert_eq!(d.frame(c).await, (3, b"<b/>".to_vec()));
    assert_eq!(d.frame(c).await, (4, Vec::new()));
    d.stop().await;
}

#[tokio::test]
async fn broken_frame_header_closes_the_connection() {
    let mut d = Double::start(settings()).await;
    for bad in [
        &b"\x01\x00\x00\x0c0001<a/>"[..], // marker
        b"\x00\x00\x00\x0c00x1<a/>",      // invokeID
        b"\x00\x00\x00\x05",              // length below the header
    ] {
        let mut s = TcpStream::connect(d.tcp).await.unwrap();
        let c = d.connected(Encoding::Xml).await;
        // A good frame first: it still gets through.
        s.write_all(&frame(5, b"<ok/>")).await.unwrap();
        s.write_all(bad).await.unwrap();
        assert_eq!(d.frame(c).await, (5, b"<ok/>".to_vec()));
        d.closed(c).await;
        assert_closed(&mut s).await;
    }
    assert_eq!(d.metrics.client_frames_rejected.get(), 3);
    d.stop().await;
}

#[tokio::test]
async fn oversize_frame_closes_the_connection() {
    let mut d = Double::start(ClientSettings {
        max_message: 1024,
        ..settings()
    })
    .await;
    let mut s = TcpStream::connect(d.tcp).await.unwrap();
    let c = d.connected(Encoding::Xml).await;
    // The largest frame allowed passes.
    let body = vec![b'x'; 1024 - HEADER_LEN];
    s.write_all(&frame(1, &body)).await.unwrap();
    assert_eq!(d.frame(c).await, (1, body));
    // One octet more: closed as soon as the length is known.
    s.write_all(&[0, 0, 0x04, 0x01]).await.unwrap();
    d.closed(c).await;
    assert_closed(&mut s).await;
    assert_eq!(d.metrics.client_frames_rejected.get(), 1);
    d.stop().await;
}

#[tokio::test]
async fn max_clients_displaces_pending_connections_never_authenticated_ones() {
    let mut d = Double::start(ClientSettings {
        max_clients: 2,
        ..settings()
    })
    .await;
    let mut a_sock = TcpStream::connect(d.tcp).await.unwrap();
    let a = d.connected(Encoding::Xml).await;
    d.auth.send(a).unwrap();
    // A WebSocket counts too, even before its handshake.
    let mut b = TcpStream::connect(d.ws).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The table is full: the one that has not logged in makes room.
    let mut c_sock = TcpStream::connect(d.tcp).await.unwrap();
    assert_closed(&mut b).await;
    let c = d.connected(Encoding::Xml).await;
    assert_eq!(d.metrics.client_connections_displaced.get(), 1);
    d.auth.send(c).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // Everyone has logged in: a new connection is refused.
    let mut e = TcpStream::connect(d.tcp).await.unwrap();
    assert_closed(&mut e).await;
    assert_eq!(d.metrics.client_connections_refused.get(), 1);
    assert_eq!(d.metrics.client_connections_accepted.get(), 3);
    // Both logged-in clients are still served.
    for (sock, id) in [(&mut a_sock, a), (&mut c_sock, c)] {
        sock.write_all(&frame(7, b"<still/>")).await.unwrap();
        assert_eq!(d.frame(id).await, (7, b"<still/>".to_vec()));
    }
    // A place comes free: the next one is served.
    drop(a_sock);
    d.closed(a).await;
    let mut f = TcpStream::connect(d.tcp).await.unwrap();
    let f_id = d.connected(Encoding::Xml).await;
    f.write_all(&frame(9, b"<f/>")).await.unwrap();
    assert_eq!(d.frame(f_id).await, (9, b"<f/>".to_vec()));
    d.stop().await;
}

#[tokio::test]
async fn slow_reader_is_dropped_without_blocking_others() {
    let mut d = Double::start(ClientSettings {
        queue: 4,
        ..settings()
    })
    .await;
    // A client that never reads, with a small receive buffer.
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let _slow = sock.connect(d.tcp).await.unwrap();
    let slow = d.connected(Encoding::Xml).await;
    let mut fast = TcpStream::connect(d.tcp).await.unwrap();
    let fast_id = d.connected(Encoding::Xml).await;

    let big = vec![b'y'; 60_000];
    let mut sent = 0;
    let dropped = loop {
        d.send(slow, 1, &big);
        sent += 1;
        if sent % 8 == 0 {
            // The others are served meanwhile.
            d.send(fast_id, 2, b"<still-here/>");
            assert_eq!(read_frame(&mut fast).await, (2, b"<still-here/>".to_vec()));
        }
        if let Ok(input) = d.inputs.try_recv() {
            break input;
        }
        assert!(sent < 2000, "slow client never dropped");
        tokio::task::yield_now().await;
    };
    assert_eq!(dropped, ClientInput::Closed { client: slow });
    assert_eq!(d.metrics.clients_dropped_slow.get(), 1);
    d.send(fast_id, 3, b"<after/>");
    assert_eq!(read_frame(&mut fast).await, (3, b"<after/>".to_vec()));
    d.stop().await;
}

#[tokio::test]
async fn silent_connection_is_closed_but_a_started_session_may_be_quiet() {
    let mut d = Double::start(ClientSettings {
        idle_timeout: Duration::from_millis(300),
        ..settings()
    })
    .await;
    // Nothing sent: closed.
    let mut quiet = TcpStream::connect(d.tcp).await.unwrap();
    let q = d.connected(Encoding::Xml).await;
    d.closed(q).await;
    assert_closed(&mut quiet).await;
    // One message, then silence: kept.
    let mut s = TcpStream::connect(d.tcp).await.unwrap();
    let c = d.connected(Encoding::Xml).await;
    s.write_all(&frame(1, b"<hello/>")).await.unwrap();
    assert_eq!(d.frame(c).await, (1, b"<hello/>".to_vec()));
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(d.inputs.try_recv().is_err(), "closed while quiet");
    // A frame started and not finished: closed.
    s.write_all(&frame(2, b"<half/>")[..5]).await.unwrap();
    d.closed(c).await;
    assert_closed(&mut s).await;
    d.stop().await;
}

#[tokio::test]
async fn silent_websocket_is_closed() {
    let mut d = Double::start(ClientSettings {
        idle_timeout: Duration::from_millis(300),
        ..settings()
    })
    .await;
    let mut ws = ws_connect(d.ws).await;
    let c = d.connected(Encoding::Json).await;
    match ws_next(&mut ws).await {
        Ws::Close(Some(f)) => assert_eq!(f.code, CloseCode::Policy),
        other => panic!("expected close 1008, got {other:?}"),
    }
    d.closed(c).await;
    // A connection that never completes its handshake is closed unannounced.
    let mut raw = TcpStream::connect(d.ws).await.unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
    assert_closed(&mut raw).await;
    assert!(d.inputs.try_recv().is_err());
    d.stop().await;
}

async fn ws_connect(addr: SocketAddr) -> tokio_tungstenite::WebSocketStream<TcpStream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (ws, _) = timeout(
        WAIT,
        tokio_tungstenite::client_async(format!("ws://{addr}/"), tcp),
    )
    .await
    .unwrap()
    .unwrap();
    ws
}

async fn ws_next(ws: &mut tokio_tungstenite::WebSocketStream<TcpStream>) -> Ws {
    timeout(WAIT, ws.next())
        .await
        .expect("no WebSocket message in time")
        .expect("WebSocket ended")
        .expect("WebSocket error")
}

async fn ws_json(ws: &mut tokio_tungstenite::WebSocketStream<TcpStream>) -> serde_json::Value {
    match ws_next(ws).await {
        Ws::Text(t) => serde_json::from_str(t.as_str()).unwrap(),
        other => panic!("expected text, got {other:?}"),
    }
}

#[tokio::test]
async fn websocket_json_is_translated_both_ways() {
    let mut d = Double::start(settings()).await;
    let mut ws = ws_connect(d.ws).await;
    let c = d.connected(Encoding::Json).await;
    ws.send(Ws::text(
        r#"{"invokeID": 12, "message": {"MonitorStart": {"monitorObject": {"deviceObject": {"id": "201"}}}}}"#,
    ))
    .await
    .unwrap();
    let (id, xml) = d.frame(c).await;
    assert_eq!(id, 12);
    let xml = String::from_utf8(xml).unwrap();
    assert!(
        xml.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?><MonitorStart xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed5">"#),
        "{xml}"
    );
    assert!(xml.contains("<deviceObject>201</deviceObject>"), "{xml}");

    d.send(c, 12, MONITOR_START_RESPONSE);
    assert_eq!(
        ws_json(&mut ws).await,
        serde_json::json!({"invokeID": 12, "message": {"MonitorStartResponse": {"monitorCrossRefID": "77"}}})
    );
    d.send(c, 9999, MONITOR_START);
    assert_eq!(
        ws_json(&mut ws).await,
        serde_json::json!({"invokeID": 9999, "message": {"MonitorStart": {"monitorObject": {"deviceObject": {"id": "201"}}}}})
    );
    // XML that does not decode never reaches the client; what follows does.
    d.send(c, 1, b"<Nonsense/>");
    d.send(c, 2, MONITOR_START_RESPONSE);
    assert_eq!(ws_json(&mut ws).await["invokeID"], 2);
    assert_eq!(d.metrics.client_frames_sent.get(), 3);
    assert_eq!(d.metrics.client_connections.json.get(), 1);

    // The core closes it: a normal close frame.
    d.outputs.send(ClientOutput::Close { client: c }).unwrap();
    match ws_next(&mut ws).await {
        Ws::Close(Some(f)) => assert_eq!(f.code, CloseCode::Normal),
        other => panic!("expected close, got {other:?}"),
    }
    d.closed(c).await;
    d.stop().await;
}

#[tokio::test]
async fn bad_json_gets_an_error_reply_and_the_connection_stays() {
    let mut d = Double::start(settings()).await;
    let mut ws = ws_connect(d.ws).await;
    let c = d.connected(Encoding::Json).await;
    for (text, invoke_id, code) in [
        ("not json", serde_json::Value::Null, "invalidEnvelope"),
        (
            r#"{"message": {}}"#,
            serde_json::Value::Null,
            "invalidEnvelope",
        ),
        (
            r#"{"invokeID": 70000, "message": {}}"#,
            serde_json::Value::Null,
            "invalidInvokeID",
        ),
        (
            r#"{"invokeID": 4, "message": {"NoSuchRequest": {}}}"#,
            serde_json::json!(4),
            "unknownMessage",
        ),
    ] {
        ws.send(Ws::text(text)).await.unwrap();
        let reply = ws_json(&mut ws).await;
        assert_eq!(reply["invokeID"], invoke_id, "{text}");
        assert_eq!(reply["error"]["code"], code, "{text}");
        assert!(reply["error"]["detail"].is_string());
    }
    ws.send(Ws::text(
        r#"{"invokeID": 5, "message": {"MonitorStop": {"monitorCrossRefID": "77"}}}"#,
    ))
    .await
    .unwrap();
    assert_eq!(d.frame(c).await.0, 5);
    assert_eq!(d.metrics.client_frames_rejected.get(), 4);
    d.stop().await;
}

#[tokio::test]
async fn binary_and_oversize_websocket_messages_close() {
    let mut d = Double::start(ClientSettings {
        max_message: 1024,
        ..settings()
    })
    .await;
    let mut ws = ws_connect(d.ws).await;
    let c = d.connected(Encoding::Json).await;
    ws.send(Ws::binary(vec![1u8, 2, 3])).await.unwrap();
    match ws_next(&mut ws).await {
        Ws::Close(Some(f)) => assert_eq!(f.code, CloseCode::Unsupported),
        other => panic!("expected close 1003, got {other:?}"),
    }
    d.closed(c).await;

    let mut ws = ws_connect(d.ws).await;
    let c = d.connected(Encoding::Json).await;
    ws.send(Ws::text("x".repeat(2000))).await.unwrap();
    match ws_next(&mut ws).await {
        Ws::Close(Some(f)) => assert_eq!(f.code, CloseCode::Size),
        other => panic!("expected close 1009, got {other:?}"),
    }
    d.closed(c).await;
    assert_eq!(d.metrics.client_frames_rejected.get(), 2);
    d.stop().await;
}

/// Sends `request` to the HTTP server and returns the status code, headers and body.
async fn http(addr: SocketAddr, request: &[u8]) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    timeout(WAIT, s.read_to_end(&mut out))
        .await
        .unwrap()
        .unwrap();
    let text = String::from_utf8(out).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let code = head[9..12].parse().unwrap();
    assert!(head.starts_with("HTTP/1.1 "), "{head}");
    assert!(head.contains("\r\nConnection: close"), "{head}");
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(len, body.len());
    (code, head.to_owned(), body.to_owned())
}

/// Checks the Prometheus text format 0.0.4: every sample belongs to a family
/// announced by `# HELP` and `# TYPE` lines before it, names and values are valid.
/// Returns (name with labels, value) of every sample.
fn parse_prometheus(text: &str) -> Vec<(String, f64)> {
    let mut helped = Vec::new();
    let mut typed = Vec::new();
    let mut samples = Vec::new();
    let valid_name = |n: &str| {
        !n.is_empty()
            && !n.starts_with(|c: char| c.is_ascii_digit())
            && n.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    assert!(text.ends_with('\n'));
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, _) = rest.split_once(' ').unwrap();
            assert!(valid_name(name), "{line}");
            helped.push(name.to_owned());
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge"].contains(&kind), "{line}");
            assert_eq!(helped.last().map(String::as_str), Some(name), "{line}");
            typed.push(name.to_owned());
        } else {
            let (series, value) = line.rsplit_once(' ').unwrap();
            let name = series.split('{').next().unwrap();
            assert!(valid_name(name), "{line}");
            if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
                assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
                let (k, v) = labels[1..labels.len() - 1].split_once('=').unwrap();
                assert!(
                    valid_name(k) && v.starts_with('"') && v.ends_with('"'),
                    "{line}"
                );
            }
            assert_eq!(typed.last().map(String::as_str), Some(name), "{line}");
            samples.push((series.to_owned(), value.parse::<f64>().unwrap()));
        }
    }
    samples
}

#[tokio::test]
async fn metrics_and_health_over_http() {
    let metrics = Metrics::new();
    let server = HttpServer::bind("127.0.0.1:0".parse().unwrap(), metrics.clone())
        .await
        .unwrap();
    let addr = server.local_addr();
    metrics.sip_received.udp.add(5);
    metrics.client_connections.xml.inc();
    metrics
        .set_gauge("hub_sessions", "Open application sessions.", 3)
        .unwrap();

    let (code, head, body) = http(addr, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(code, 200);
    assert!(
        head.contains("\r\nContent-Type: text/plain; version=0.0.4"),
        "{head}"
    );
    let samples = parse_prometheus(&body);
    let get = |k: &str| samples.iter().find(|(s, _)| s == k).map(|s| s.1);
    assert_eq!(
        get("csta_server_sip_messages_received_total{transport=\"udp\"}"),
        Some(5.0)
    );
    assert_eq!(
        get("csta_server_client_connections{encoding=\"xml\"}"),
        Some(1.0)
    );
    assert_eq!(get("csta_server_clients_dropped_slow_total"), Some(0.0));
    assert_eq!(get("csta_server_registrations"), Some(0.0));
    assert_eq!(get("csta_server_hub_sessions"), Some(3.0));

    let (code, _, body) = http(addr, b"GET /health HTTP/1.1\r\n\r\n").await;
    assert_eq!((code, body.as_str()), (503, "starting\n"));
    let alive = metrics.alive();
    let (code, _, body) = http(addr, b"GET /health HTTP/1.1\r\n\r\n").await;
    assert_eq!((code, body.as_str()), (200, "ok\n"));
    metrics.set_health(csta_server::http::Health::Stopping);
    assert_eq!(http(addr, b"GET /health HTTP/1.0\r\n\r\n").await.0, 503);
    drop(alive);

    assert_eq!(http(addr, b"GET /other HTTP/1.1\r\n\r\n").await.0, 404);
    let (code, head, _) = http(addr, b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n").await;
    assert_eq!(code, 405);
    assert!(head.contains("\r\nAllow: GET\r\n"), "{head}");
    assert_eq!(http(addr, b"\x01\x02 nonsense\r\n\r\n").await.0, 400);
    let huge = format!("GET /metrics HTTP/1.1\r\nX: {}\r\n\r\n", "a".repeat(10_000));
    assert_eq!(http(addr, huge.as_bytes()).await.0, 431);
    timeout(WAIT, server.stop()).await.unwrap();
}

#[tokio::test]
async fn server_serves_clients_and_http() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    let lo: SocketAddr = "127.0.0.1:0".parse().unwrap();
    config.sip.udp = vec![lo];
    config.sip.tcp = vec![lo];
    config.clients.tcp = Some(lo);
    config.clients.websocket = Some(lo);
    config.http.listen = Some(lo);
    config.data_dir = dir.path().to_owned();
    let server = Server::start(config).await.unwrap();
    let http_addr = server.http_addr().unwrap();
    assert_eq!(
        http(http_addr, b"GET /health HTTP/1.1\r\n\r\n").await.0,
        200
    );

    // A request before any application session is refused by the hub; the
    // connection stays and is counted.
    let mut s = TcpStream::connect(server.client_tcp_addr().unwrap())
        .await
        .unwrap();
    s.write_all(&frame(1, MONITOR_START)).await.unwrap();
    let mut ws = ws_connect(server.client_websocket_addr().unwrap()).await;
    ws.send(Ws::text("{}")).await.unwrap();
    assert_eq!(ws_json(&mut ws).await["error"]["code"], "invalidEnvelope");
    let deadline = tokio::time::Instant::now() + WAIT;
    while server.metrics().client_frames_received.get() < 1 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (_, _, body) = http(http_addr, b"GET /metrics HTTP/1.1\r\n\r\n").await;
    let samples = parse_prometheus(&body);
    assert!(samples.contains(&(
        "csta_server_client_connections{encoding=\"xml\"}".into(),
        1.0
    )));
    assert!(samples.contains(&(
        "csta_server_client_connections{encoding=\"json\"}".into(),
        1.0
    )));
    // The hub's, the sessions' and the proxy's figures are there too.
    for name in [
        "csta_server_devices_controlled",
        "csta_server_devices_online",
        "csta_server_client_sessions",
        "csta_server_client_monitors",
        "csta_server_proxy_transactions",
    ] {
        assert!(samples.contains(&(name.into(), 0.0)), "{name} in {body}");
    }

    // SIP traffic is counted.
    let udp = tokio::net::UdpSocket::bind(lo).await.unwrap();
    let sip = server.sip_udp_addrs()[0];
    udp.send_to(b"garbage\r\n\r\n", sip).await.unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while server.metrics().sip_received.udp.get() < 1 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let metrics = server.metrics().clone();
    timeout(WAIT, server.shutdown()).await.unwrap().unwrap();
    assert_eq!(metrics.health(), csta_server::http::Health::Down);
    assert_closed(&mut s).await;
    assert!(TcpStream::connect(http_addr).await.is_err());
}
