//! Helpers shared by the server's integration tests (each test file uses some).
#![allow(dead_code)]

use sip_lite::digest::{CredentialsRepr, Request, Secret};
use sip_lite::wire::Emit as _;
use sip_lite::wire::{Algorithm, Challenge, SliceSink};

/// The `Authorization` value answering the MD5 challenge of the 401 `resp` to a
/// REGISTER of `uri`, as user 201 with password `secret201`.
pub(crate) fn digest_answer(resp: &str, uri: &str) -> String {
    let challenge = resp
        .lines()
        .filter_map(|l| l.strip_prefix("WWW-Authenticate: "))
        .map(|v| Challenge::parse(v).unwrap())
        .find(|c| c.algorithm().unwrap() == Algorithm::Md5)
        .unwrap();
    let request = Request::new("REGISTER", uri, b"");
    let answer = CredentialsRepr::answer(
        &challenge,
        &request,
        "201",
        Secret::Password("secret201"),
        "c0ffee",
        1,
    )
    .unwrap();
    let mut buf = [0u8; 1024];
    let mut sink = SliceSink::new(&mut buf);
    answer.emit(&mut sink).unwrap();
    String::from_utf8(sink.written().to_vec()).unwrap()
}

/// Sends SIGTERM to the server process `child` and waits (at most 10 s) for it to
/// exit; returns how it exited.
pub(crate) fn stop_with_sigterm(child: &mut std::process::Child) -> std::process::ExitStatus {
    let status = std::process::Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("server did not stop after SIGTERM");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
