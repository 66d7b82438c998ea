//! The `phone-sim` binary: script errors, and a script run against the csta-server
//! registrar.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use csta_server::config::SipUser;
use csta_server::{Config, Server};

fn run(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_phone-sim"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn test_bad_script_is_refused_with_its_line() {
    let out = run(
        &["--server", "127.0.0.1:9", "--user", "201"],
        "register\nfly away\n",
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "phone-sim: script line 2: unknown command `fly`\n"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn test_script_needs_a_phone() {
    let out = run(&["--server", "127.0.0.1:9"], "call 202\n");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "phone-sim: give --user or declare a phone in the script\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_binary_registers_and_reports_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Config::default();
    c.sip.udp = vec!["127.0.0.1:0".parse().unwrap()];
    c.sip.tcp = Vec::new();
    c.clients.tcp = None;
    c.clients.websocket = None;
    c.http.listen = None;
    c.data_dir = dir.path().to_owned();
    c.users = vec![SipUser {
        name: "201".into(),
        password: "secret-201".into(),
    }];
    let srv = Server::start(c).await.unwrap();
    let server = srv.sip_udp_addrs()[0].to_string();
    let out = tokio::task::spawn_blocking(move || {
        run(
            &[
                "--server",
                &server,
                "--user",
                "201",
                "--password",
                "secret-201",
                "--expires",
                "300",
            ],
            "wait registered 3s\nexpect nothing-like-this 100ms\n",
        )
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "phone-sim: line 2: timed out waiting for nothing-like-this from phone 201\n"
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let events: Vec<(&str, &str)> = lines
        .iter()
        .map(|v| (v["phone"].as_str().unwrap(), v["event"].as_str().unwrap()))
        .collect();
    assert_eq!(events, [("201", "registered"), ("201", "unregistered")]);
    assert_eq!(lines[0]["expires"], 300);
    srv.shutdown().await.unwrap();
}
