//! Interop with sipp, a third-party SIP tool (Debian package `sip-tester`).
//!
//! These tests need the `sipp` binary, so they are `#[ignore]`d in a plain
//! `cargo test`; `scripts/ci.sh` installs sipp and runs them with `--ignored`.
//! The scenarios are in `tests/sipp/`, shared with the benchmark
//! (`scripts/bench-server.sh`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use csta_server::config::{DigestAlgorithm, SipUser};
use csta_server::{Config, Server, ServerHandle};

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/sipp")
        .join(name)
}

/// A server on loopback port 0 with users `u0`.. and `callee`, offering MD5 (sipp
/// knows no other digest algorithm).
async fn start(dir: &Path, users: usize) -> ServerHandle {
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

/// Runs sipp to completion (bounded by `-timeout`); true when every call succeeded.
async fn sipp(dir: &Path, server: SocketAddr, args: &[&str]) -> bool {
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
        .args(args)
        .arg(server.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
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
