//! Load mode, bounded: many phones in one process register with the csta-server
//! registrar; the summary counts them.

use std::time::Duration;

use csta_server::config::SipUser;
use csta_server::{Config, Server};
use phone_sim::runner::{Common, Load, run_load};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_load_registers_every_phone() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config::default();
    c.sip.udp = vec!["127.0.0.1:0".parse().unwrap()];
    c.sip.tcp = Vec::new();
    c.clients.tcp = None;
    c.clients.websocket = None;
    c.http.listen = None;
    c.data_dir = dir.path().to_owned();
    c.users = (100..150)
        .map(|u| SipUser {
            name: u.to_string(),
            password: "load".into(),
        })
        .collect();
    let srv = Server::start(c).await.unwrap();
    let common = Common {
        server: srv.sip_udp_addrs()[0],
        domain: "localhost".into(),
        password: "load".into(),
        bind_ip: "127.0.0.1".parse().unwrap(),
        expires: 600,
        auto_answer: true,
        register: true,
    };
    let load = Load {
        phones: 50,
        first_user: 100,
        call_rate: 0.0,
        hold: Duration::from_millis(100),
        duration: Duration::ZERO,
        register_timeout: Duration::from_secs(10),
    };
    let mut reports = 0;
    let summary = tokio::time::timeout(
        Duration::from_secs(30),
        run_load(&common, &load, true, |_| reports += 1),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(summary.phones, 50);
    assert_eq!(summary.registered, 50);
    assert_eq!(summary.registration_failures, 0);
    assert_eq!(summary.csta_sessions, 0);
    assert_eq!(summary.calls_placed, 0);
    assert!(summary.register_seconds < 10.0);
    // 50 registered + 50 unregistered at the end.
    assert_eq!(reports, 100);
    let json = summary.to_json();
    assert_eq!(json["event"], "summary");
    assert_eq!(json["registered"], 50);
    srv.shutdown().await.unwrap();
}

/// A registrar and stateless proxy for tests: REGISTER binds the user to its Contact's
/// address (200 with the Contact and `expires=600`); other requests go to the
/// Request-URI user's binding (404 without one), responses to their top Via.
async fn mini_proxy() -> std::net::SocketAddr {
    use std::collections::HashMap;
    use std::net::SocketAddr;

    use sip_lite::wire::{HeaderIndex, Message, Method, SliceSink, StatusCode, Uri, Writer};
    use tokio::net::UdpSocket;

    fn addr_of(uri: &str) -> Option<(String, SocketAddr)> {
        let u = Uri::parse(uri).ok()?;
        let s = u.as_sip()?;
        let addr = format!("{}:{}", s.host, s.port.unwrap_or(5060))
            .parse()
            .ok()?;
        Some((s.user?.to_owned(), addr))
    }

    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let me = sock.local_addr().unwrap();
    tokio::spawn(async move {
        let mut bindings: HashMap<String, SocketAddr> = HashMap::new();
        let mut buf = vec![0u8; 65_536];
        let mut out = vec![0u8; 65_536];
        while let Ok((n, from)) = sock.recv_from(&mut buf).await {
            let mut hs = [HeaderIndex::EMPTY; 64];
            let Ok(m) = Message::parse(&buf[..n], &mut hs) else {
                continue;
            };
            let reply = |status: StatusCode, contact: Option<&str>, out: &mut [u8]| {
                let mut w = Writer::response_to(
                    SliceSink::new(out),
                    &m,
                    status,
                    status.default_reason(),
                    Some("px"),
                )
                .unwrap();
                if let Some(c) = contact {
                    w.header("Contact", c).unwrap();
                }
                w.finish(b"").unwrap().len()
            };
            if m.method() == Some(Method::Register) {
                let contact = m.contacts().next().and_then(|c| c.ok());
                let uri = contact.and_then(|c| c.addr().map(|a| a.uri.to_string()));
                let Some((user, addr)) = uri.as_deref().and_then(addr_of) else {
                    continue;
                };
                let removing = m.expires().and_then(|e| e.ok()) == Some(0);
                let len = if removing {
                    bindings.remove(&user);
                    reply(StatusCode::OK, None, &mut out)
                } else {
                    bindings.insert(user, addr);
                    let c = format!("<{}>;expires=600", uri.unwrap_or_default());
                    reply(StatusCode::OK, Some(&c), &mut out)
                };
                let _ = sock.send_to(&out[..len], from).await;
                continue;
            }
            let to = if m.is_request() {
                let user = m
                    .request_uri_str()
                    .and_then(|u| Uri::parse(u).ok())
                    .and_then(|u| u.as_sip().and_then(|s| s.user.map(str::to_owned)));
                user.and_then(|u| bindings.get(&u).copied())
            } else {
                let via = m.top_via().unwrap();
                format!("{}:{}", via.host, via.port.unwrap_or(5060))
                    .parse()
                    .ok()
            };
            match to {
                Some(to) => {
                    let _ = sock.send_to(&buf[..n], to).await;
                }
                None if m.is_request() && m.method() != Some(Method::Ack) => {
                    let len = reply(StatusCode::NOT_FOUND, None, &mut out);
                    let _ = sock.send_to(&out[..len], from).await;
                }
                None => {}
            }
        }
    });
    me
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_load_generates_calls() {
    let common = Common {
        server: mini_proxy().await,
        domain: "localhost".into(),
        password: "load".into(),
        bind_ip: "127.0.0.1".parse().unwrap(),
        expires: 600,
        auto_answer: true,
        register: true,
    };
    let load = Load {
        phones: 20,
        first_user: 300,
        call_rate: 40.0,
        hold: Duration::from_millis(100),
        duration: Duration::from_millis(1500),
        register_timeout: Duration::from_secs(5),
    };
    let summary = tokio::time::timeout(
        Duration::from_secs(30),
        run_load(&common, &load, false, |_| {}),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(summary.registered, 20);
    assert!(summary.calls_placed >= 10, "{summary:?}");
    assert_eq!(summary.calls_failed, 0, "{summary:?}");
    assert_eq!(summary.calls_connected, summary.calls_placed, "{summary:?}");
}
