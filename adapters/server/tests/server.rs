//! The server in-process on loopback: SIP over UDP and TCP, bad input, limits, shutdown;
//! and the binary started, used and stopped with SIGTERM.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use csta_server::{Config, Server, ServerHandle};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(5);

fn config(dir: &std::path::Path) -> Config {
    let mut c = Config::default();
    c.sip.udp = vec!["127.0.0.1:0".parse().unwrap()];
    c.sip.tcp = vec!["127.0.0.1:0".parse().unwrap()];
    c.data_dir = dir.to_owned();
    c.timers.tcp_idle_timeout = 1;
    c.limits.max_message_size = 4096;
    c.limits.max_tcp_connections = 4;
    c.clients.tcp = Some("127.0.0.1:0".parse().unwrap());
    c.clients.websocket = Some("127.0.0.1:0".parse().unwrap());
    c.http.listen = Some("127.0.0.1:0".parse().unwrap());
    c
}

async fn start() -> (ServerHandle, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(config(dir.path())).await.unwrap();
    (server, dir)
}

fn request(method: &str, transport: &str, call_id: &str, body: &str) -> Vec<u8> {
    format!(
        "{method} sip:server@localhost SIP/2.0\r\n\
         Via: SIP/2.0/{transport} 192.0.2.1:5999;rport;branch=z9hG4bK-{call_id}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:alice@localhost>;tag=a1\r\n\
         To: <sip:server@localhost>\r\nCall-ID: {call_id}\r\nCSeq: 1 {method}\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Receives the response with this Call-ID, skipping others.
async fn udp_response(sock: &UdpSocket, call_id: &str) -> String {
    let mut buf = vec![0u8; 65_536];
    loop {
        let (n, _) = timeout(WAIT, sock.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        let text = String::from_utf8(buf[..n].to_vec()).unwrap();
        if text.contains(&format!("\r\nCall-ID: {call_id}\r\n")) {
            return text;
        }
    }
}

/// Reads one response with an empty body from a stream.
async fn tcp_response(stream: &mut TcpStream) -> String {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        let n = timeout(WAIT, stream.read(&mut byte))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            n,
            1,
            "connection closed after {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.push(byte[0]);
    }
    String::from_utf8(buf).unwrap()
}

/// Waits until the server closes the stream, discarding what it sends; returns it.
async fn closed_by_server(stream: &mut TcpStream) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match timeout(WAIT, stream.read(&mut buf)).await.unwrap() {
            Ok(0) | Err(_) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
        }
    }
}

fn status_line(resp: &str) -> &str {
    resp.lines().next().unwrap()
}

fn top_via(resp: &str) -> &str {
    resp.lines().find_map(|l| l.strip_prefix("Via: ")).unwrap()
}

async fn udp_client() -> UdpSocket {
    UdpSocket::bind("127.0.0.1:0").await.unwrap()
}

async fn udp_options_works(server: &ServerHandle, sock: &UdpSocket, call_id: &str) {
    let to = server.sip_udp_addrs()[0];
    sock.send_to(&request("OPTIONS", "UDP", call_id, ""), to)
        .await
        .unwrap();
    let resp = udp_response(sock, call_id).await;
    assert_eq!(status_line(&resp), "SIP/2.0 200 OK");
}

#[tokio::test]
async fn options_over_udp_gets_200_with_received_and_rport() {
    let (server, _dir) = start().await;
    let sock = udp_client().await;
    let me = sock.local_addr().unwrap();
    sock.send_to(
        &request("OPTIONS", "UDP", "u1", ""),
        server.sip_udp_addrs()[0],
    )
    .await
    .unwrap();
    let resp = udp_response(&sock, "u1").await;
    assert_eq!(status_line(&resp), "SIP/2.0 200 OK");
    assert_eq!(
        top_via(&resp),
        format!(
            "SIP/2.0/UDP 192.0.2.1:5999;branch=z9hG4bK-u1;received=127.0.0.1;rport={}",
            me.port()
        )
    );
    assert!(
        resp.contains("\r\nAllow: OPTIONS, ACK, REGISTER\r\n"),
        "{resp}"
    );
    assert!(resp.contains("\r\nAccept: "), "{resp}");
    assert!(
        resp.contains("\r\nTo: <sip:server@localhost>;tag="),
        "{resp}"
    );
    assert!(resp.contains("\r\nCSeq: 1 OPTIONS\r\n"), "{resp}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn options_over_tcp_gets_200_with_received_and_rport() {
    let (server, _dir) = start().await;
    let mut s = TcpStream::connect(server.sip_tcp_addrs()[0]).await.unwrap();
    let me = s.local_addr().unwrap();
    s.write_all(&request("OPTIONS", "TCP", "t1", ""))
        .await
        .unwrap();
    let resp = tcp_response(&mut s).await;
    assert_eq!(status_line(&resp), "SIP/2.0 200 OK");
    assert_eq!(
        top_via(&resp),
        format!(
            "SIP/2.0/TCP 192.0.2.1:5999;branch=z9hG4bK-t1;received=127.0.0.1;rport={}",
            me.port()
        )
    );
    // Two messages in one write, the second split across writes, on the same connection.
    let mut two = request("OPTIONS", "TCP", "t2", "");
    let third = request("OPTIONS", "TCP", "t3", "hello");
    two.extend_from_slice(&third[..20]);
    s.write_all(&two).await.unwrap();
    let resp = tcp_response(&mut s).await;
    assert!(resp.contains("\r\nCall-ID: t2\r\n"), "{resp}");
    s.write_all(&third[20..]).await.unwrap();
    let resp = tcp_response(&mut s).await;
    assert!(resp.contains("\r\nCall-ID: t3\r\n"), "{resp}");
    assert_eq!(status_line(&resp), "SIP/2.0 200 OK");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn options_over_ipv6() {
    // Skipped where the host has no IPv6 loopback.
    if std::net::UdpSocket::bind("[::1]:0").is_err() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.sip.udp = vec!["[::1]:0".parse().unwrap()];
    c.sip.tcp = vec!["[::1]:0".parse().unwrap()];
    let server = Server::start(c).await.unwrap();
    let sock = UdpSocket::bind("[::1]:0").await.unwrap();
    let me = sock.local_addr().unwrap();
    sock.send_to(
        &request("OPTIONS", "UDP", "v6", ""),
        server.sip_udp_addrs()[0],
    )
    .await
    .unwrap();
    let resp = udp_response(&sock, "v6").await;
    assert_eq!(status_line(&resp), "SIP/2.0 200 OK");
    assert_eq!(
        top_via(&resp),
        format!(
            "SIP/2.0/UDP 192.0.2.1:5999;branch=z9hG4bK-v6;received=::1;rport={}",
            me.port()
        )
    );
    let mut s = TcpStream::connect(server.sip_tcp_addrs()[0]).await.unwrap();
    s.write_all(&request("OPTIONS", "TCP", "v6t", ""))
        .await
        .unwrap();
    assert_eq!(status_line(&tcp_response(&mut s).await), "SIP/2.0 200 OK");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn requests_for_unknown_users_go_to_the_proxy() {
    // The proxy forwards any method; a user nobody registered is not found.
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.sip.authenticate_calls = false;
    let server = Server::start(c).await.unwrap();
    let sock = udp_client().await;
    let to = server.sip_udp_addrs()[0];
    sock.send_to(&request("FOO", "UDP", "m1", ""), to)
        .await
        .unwrap();
    let resp = udp_response(&sock, "m1").await;
    assert_eq!(status_line(&resp), "SIP/2.0 404 Not Found");
    sock.send_to(&request("INVITE", "UDP", "m2", ""), to)
        .await
        .unwrap();
    let resp = udp_response(&sock, "m2").await;
    assert_eq!(status_line(&resp), "SIP/2.0 100 Trying");
    let resp = udp_response(&sock, "m2").await;
    assert_eq!(status_line(&resp), "SIP/2.0 404 Not Found");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn garbage_and_truncated_datagrams_do_no_harm() {
    let (server, _dir) = start().await;
    let sock = udp_client().await;
    let to = server.sip_udp_addrs()[0];
    let full = request("OPTIONS", "UDP", "g1", "");
    let datagrams: Vec<Vec<u8>> = vec![
        vec![],
        b"\r\n\r\n".to_vec(),
        vec![0xff; 1000],
        b"\x00\x01\x02 SIP/2.0".to_vec(),
        full[..40].to_vec(),
        full[..full.len() - 10].to_vec(),
        b"SIP/2.0 200 OK\r\n\r\n".to_vec(),
        vec![b'A'; 5000],
    ];
    for d in &datagrams {
        sock.send_to(d, to).await.unwrap();
    }
    // The next OPTIONS still works (answers to the broken ones, if any, are skipped).
    udp_options_works(&server, &sock, "g2").await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn tcp_double_crlf_ping_gets_crlf_pong() {
    let (server, _dir) = start().await;
    let mut s = TcpStream::connect(server.sip_tcp_addrs()[0]).await.unwrap();
    s.write_all(b"\r\n\r\n").await.unwrap();
    let mut pong = [0u8; 2];
    timeout(WAIT, s.read_exact(&mut pong))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&pong, b"\r\n");
    // The connection still carries messages afterwards.
    s.write_all(&request("OPTIONS", "TCP", "p1", ""))
        .await
        .unwrap();
    let resp = tcp_response(&mut s).await;
    assert_eq!(status_line(&resp), "SIP/2.0 200 OK");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn oversize_tcp_message_is_refused() {
    let (server, _dir) = start().await;
    // Content-Length above the limit: 413, then the connection is closed.
    let mut s = TcpStream::connect(server.sip_tcp_addrs()[0]).await.unwrap();
    let mut msg = request("OPTIONS", "TCP", "o1", "");
    let head = String::from_utf8(msg.clone())
        .unwrap()
        .replace("Content-Length: 0", "Content-Length: 100000");
    msg = head.into_bytes();
    s.write_all(&msg).await.unwrap();
    let got = String::from_utf8(closed_by_server(&mut s).await).unwrap();
    assert!(got.starts_with("SIP/2.0 413 "), "{got}");
    assert!(got.contains("\r\nCall-ID: o1\r\n"), "{got}");

    // A header section longer than the limit: closed without an answer.
    let mut s = TcpStream::connect(server.sip_tcp_addrs()[0]).await.unwrap();
    let mut big = b"OPTIONS sip:server@localhost SIP/2.0\r\n".to_vec();
    while big.len() < 5000 {
        big.extend_from_slice(b"X-Padding: 0123456789012345678901234567890123456789\r\n");
    }
    let _ = s.write_all(&big).await;
    assert_eq!(closed_by_server(&mut s).await, b"");

    // The server still serves others.
    let sock = udp_client().await;
    udp_options_works(&server, &sock, "o2").await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn broken_stream_is_closed_and_others_are_unaffected() {
    let (server, _dir) = start().await;
    let mut good = TcpStream::connect(server.sip_tcp_addrs()[0]).await.unwrap();
    let mut bad = TcpStream::connect(server.sip_tcp_addrs()[0]).await.unwrap();
    // A message without Content-Length cannot be framed on a stream.
    bad.write_all(b"OPTIONS sip:x@localhost SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n\r\n")
        .await
        .unwrap();
    assert_eq!(closed_by_server(&mut bad).await, b"");
    good.write_all(&request("OPTIONS", "TCP", "b1", ""))
        .await
        .unwrap();
    assert_eq!(
        status_line(&tcp_response(&mut good).await),
        "SIP/2.0 200 OK"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn idle_and_slow_connections_are_closed() {
    let (server, _dir) = start().await;
    let addr = server.sip_tcp_addrs()[0];
    let started = std::time::Instant::now();
    let mut idle = TcpStream::connect(addr).await.unwrap();
    assert_eq!(closed_by_server(&mut idle).await, b"");
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(900), "{waited:?}");
    assert!(waited < Duration::from_secs(4), "{waited:?}");

    // A sender trickling one message never finishes it within the timeout.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    let msg = request("OPTIONS", "TCP", "s1", "");
    let started = std::time::Instant::now();
    let mut closed = false;
    for b in msg.iter().take(40) {
        if slow.write_all(&[*b]).await.is_err() {
            closed = true;
            break;
        }
        let mut probe = [0u8; 1];
        if let Ok(r) = timeout(Duration::from_millis(150), slow.read(&mut probe)).await {
            assert!(matches!(r, Ok(0) | Err(_)), "unexpected data");
            closed = true;
            break;
        }
    }
    assert!(closed, "slow connection was not closed");
    assert!(started.elapsed() < Duration::from_secs(4));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn connections_beyond_the_limit_are_closed() {
    let (server, _dir) = start().await;
    let addr = server.sip_tcp_addrs()[0];
    let mut held = Vec::new();
    for i in 0..4 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        let id = format!("l{i}");
        s.write_all(&request("OPTIONS", "TCP", &id, ""))
            .await
            .unwrap();
        assert_eq!(status_line(&tcp_response(&mut s).await), "SIP/2.0 200 OK");
        held.push(s);
    }
    let mut extra = TcpStream::connect(addr).await.unwrap();
    assert_eq!(closed_by_server(&mut extra).await, b"");
    // Freeing one makes room again.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&request("OPTIONS", "TCP", "l9", ""))
        .await
        .unwrap();
    assert_eq!(status_line(&tcp_response(&mut s).await), "SIP/2.0 200 OK");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn shutdown_closes_listeners_and_connections() {
    let (server, dir) = start().await;
    let addr = server.sip_tcp_addrs()[0];
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(&request("OPTIONS", "TCP", "x1", ""))
        .await
        .unwrap();
    tcp_response(&mut s).await;
    timeout(WAIT, server.shutdown()).await.unwrap().unwrap();
    assert_eq!(closed_by_server(&mut s).await, b"");
    assert!(TcpStream::connect(addr).await.is_err());
    // The store was closed: it can be opened again.
    csta_server::store::Store::open(dir.path()).unwrap();
}

#[tokio::test]
async fn start_fails_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let first = Server::start(config(dir.path())).await.unwrap();
    // Same data directory: the store is locked.
    let e = Server::start(config(dir.path())).await.unwrap_err();
    assert!(matches!(e, csta_server::StartError::Store(_)), "{e}");
    // An address in use.
    let other = tempfile::tempdir().unwrap();
    let mut c = config(other.path());
    c.sip.tcp = vec![first.sip_tcp_addrs()[0]];
    let e = Server::start(c).await.unwrap_err();
    assert!(
        e.to_string()
            .contains(&first.sip_tcp_addrs()[0].to_string()),
        "{e}"
    );
    first.shutdown().await.unwrap();
}

#[test]
fn binary_starts_answers_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("c.toml");
    std::fs::write(
        &conf,
        "[sip]\nudp = [\"127.0.0.1:0\"]\ntcp = [\"127.0.0.1:0\"]\n\
         [clients]\ntcp = \"127.0.0.1:0\"\nwebsocket = \"127.0.0.1:0\"\n\
         [http]\nlisten = \"127.0.0.1:0\"\n",
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_csta-server"))
        .arg("--config")
        .arg(&conf)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
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
    let mut udp: Option<SocketAddr> = None;
    loop {
        let line = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(l) => l,
            Err(e) => {
                let _ = child.kill();
                panic!("no ready line: {e}");
            }
        };
        if let Some((_, a)) = line.split_once("SIP UDP listening on ") {
            udp = Some(a.trim().parse().unwrap());
        }
        if line.ends_with("ready") {
            break;
        }
    }
    let udp = udp.unwrap();
    assert_ne!(udp.port(), 0);

    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(WAIT)).unwrap();
    sock.send_to(&request("OPTIONS", "UDP", "bin1", ""), udp)
        .unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    assert!(buf[..n].starts_with(b"SIP/2.0 200 OK\r\n"));

    let exit = common::stop_with_sigterm(&mut child);
    assert!(exit.success(), "{exit:?}");
    let mut rest = Vec::new();
    while let Ok(l) = rx.recv_timeout(Duration::from_secs(5)) {
        rest.push(l);
    }
    assert!(
        rest.iter().any(|l| l.ends_with("server stopped")),
        "{rest:?}"
    );
}

#[test]
fn binary_reports_a_bad_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("c.toml");
    std::fs::write(&conf, "[sip]\nlisten = 1\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_csta-server"))
        .arg("--config")
        .arg(&conf)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("`listen`"), "{err}");
}

fn register(call_id: &str, cseq: u32, contact: &str, auth: Option<&str>) -> Vec<u8> {
    let auth = auth.map_or(String::new(), |a| format!("Authorization: {a}\r\n"));
    format!(
        "REGISTER sip:localhost SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.1:5999;rport;branch=z9hG4bK-{call_id}-{cseq}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:201@localhost>;tag=r1\r\n\
         To: <sip:201@localhost>\r\nCall-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\n\
         {contact}{auth}Content-Length: 0\r\n\r\n"
    )
    .into_bytes()
}

/// The Authorization answering the response's MD5 challenge.
fn answer(resp: &str) -> String {
    common::digest_answer(resp, "sip:localhost")
}

#[tokio::test]
async fn register_with_digest_over_udp_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path());
    c.users = vec![csta_server::config::SipUser {
        name: "201".into(),
        password: "secret201".into(),
    }];
    let server = Server::start(c.clone()).await.unwrap();
    let to = server.sip_udp_addrs()[0];
    let sock = udp_client().await;
    let me = sock.local_addr().unwrap();
    let contact = "Contact: <sip:201@192.0.2.1:5999>;expires=600\r\n";
    sock.send_to(&register("r1", 1, contact, None), to)
        .await
        .unwrap();
    let challenge = udp_response(&sock, "r1").await;
    assert_eq!(status_line(&challenge), "SIP/2.0 401 Unauthorized");
    let auth = answer(&challenge);
    sock.send_to(&register("r1", 2, contact, Some(&auth)), to)
        .await
        .unwrap();
    let ok = udp_response(&sock, "r1").await;
    assert_eq!(status_line(&ok), "SIP/2.0 200 OK", "{ok}");
    // Routed back as the Via asked, with what the server saw of the phone's address.
    assert_eq!(
        top_via(&ok),
        format!(
            "SIP/2.0/UDP 192.0.2.1:5999;branch=z9hG4bK-r1-2;received=127.0.0.1;rport={}",
            me.port()
        )
    );
    assert!(
        ok.contains("\r\nContact: <sip:201@192.0.2.1:5999>;expires=600\r\n"),
        "{ok}"
    );
    server.shutdown().await.unwrap();

    // A new server on the same data directory still has the binding: a REGISTER
    // without Contact lists it.
    let server = Server::start(c).await.unwrap();
    let to = server.sip_udp_addrs()[0];
    sock.send_to(&register("r2", 1, "", None), to)
        .await
        .unwrap();
    let challenge = udp_response(&sock, "r2").await;
    let auth = answer(&challenge);
    sock.send_to(&register("r2", 2, "", Some(&auth)), to)
        .await
        .unwrap();
    let listed = udp_response(&sock, "r2").await;
    assert_eq!(status_line(&listed), "SIP/2.0 200 OK", "{listed}");
    let contact = listed
        .lines()
        .find_map(|l| l.strip_prefix("Contact: "))
        .expect("the binding is listed");
    let expires: u32 = contact
        .strip_prefix("<sip:201@192.0.2.1:5999>;expires=")
        .unwrap()
        .parse()
        .unwrap();
    assert!((590..=600).contains(&expires), "{contact}");
    server.shutdown().await.unwrap();
}
