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
