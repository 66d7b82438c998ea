//! Registration with digest authentication against the csta-server registrar (started
//! in-process on loopback), and a script run against it.

use std::time::Duration;

use csta_server::config::SipUser;
use csta_server::{Config, Server, ServerHandle};
use phone_sim::report::Report;
use phone_sim::runner::{Common, RunError, run_script};
use phone_sim::runtime::{PhoneSpec, Tagged, spawn};
use phone_sim::script;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};

const WAIT: Duration = Duration::from_secs(5);

async fn server() -> (ServerHandle, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config::default();
    c.sip.udp = vec!["127.0.0.1:0".parse().unwrap()];
    c.sip.tcp = Vec::new();
    c.clients.tcp = None;
    c.clients.websocket = None;
    c.http.listen = None;
    c.data_dir = dir.path().to_owned();
    c.users = vec![
        SipUser {
            name: "201".into(),
            password: "secret-201".into(),
        },
        SipUser {
            name: "202".into(),
            password: "secret-202".into(),
        },
    ];
    (Server::start(c).await.unwrap(), dir)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<Tagged>) -> Report {
    timeout(WAIT, rx.recv()).await.unwrap().unwrap().report
}

#[tokio::test]
async fn test_register_with_digest_and_unregister() {
    let (srv, _dir) = server().await;
    let addr = srv.sip_udp_addrs()[0];
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut spec = PhoneSpec::new("201", "secret-201", "localhost", addr);
    spec.expires = 120;
    let phone = spawn(spec, Instant::now(), tx).await.unwrap();
    assert_eq!(next(&mut rx).await, Report::Registered { expires: 120 });
    assert!(phone.status().registered);
    phone.stop().await;
    assert_eq!(next(&mut rx).await, Report::Unregistered);
    assert!(!phone.status().registered);
    srv.shutdown().await.unwrap();
}

#[tokio::test]
async fn test_register_wrong_password_is_rejected() {
    let (srv, _dir) = server().await;
    let addr = srv.sip_udp_addrs()[0];
    let (tx, mut rx) = mpsc::unbounded_channel();
    let spec = PhoneSpec::new("202", "wrong", "localhost", addr);
    let phone = spawn(spec, Instant::now(), tx).await.unwrap();
    match next(&mut rx).await {
        Report::RegistrationFailed { reason, retrying } => {
            assert_eq!(reason, "AuthRejected(StatusCode(401))");
            assert!(retrying);
        }
        other => panic!("{other:?}"),
    }
    assert!(!phone.status().registered);
    srv.shutdown().await.unwrap();
}

#[tokio::test]
async fn test_script_registers_two_phones() {
    let (srv, _dir) = server().await;
    let common = Common {
        server: srv.sip_udp_addrs()[0],
        domain: "localhost".into(),
        password: "secret-201".into(),
        bind_ip: "127.0.0.1".parse().unwrap(),
        expires: 300,
        auto_answer: false,
        register: false,
    };
    let text = "\
phone b 202 secret-202
register
b: register
wait registered 3s
b: expect registered 3s
dnd on
expect warning 200ms   # no CSTA session: nothing to warn about, so this times out
";
    let s = script::parse(text).unwrap();
    let mut lines = Vec::new();
    let r = run_script(&s, &common, Some(("201", None)), |t| {
        lines.push(t.to_json_line())
    })
    .await;
    match r {
        Err(RunError::Timeout { line, what }) => {
            assert_eq!((line, what.as_str()), (7, "warning from phone 201"));
        }
        other => panic!("{other:?}"),
    }
    let events: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let registered: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "registered")
        .map(|e| e["phone"].as_str().unwrap())
        .collect();
    assert_eq!(registered.len(), 2, "{lines:?}");
    assert!(registered.contains(&"201") && registered.contains(&"202"));
    assert!(
        events
            .iter()
            .all(|e| e["expires"].is_null() || e["expires"] == 300)
    );
    // The phones unregistered at the end.
    assert_eq!(
        events
            .iter()
            .filter(|e| e["event"] == "unregistered")
            .count(),
        2,
        "{lines:?}"
    );
    srv.shutdown().await.unwrap();
}
