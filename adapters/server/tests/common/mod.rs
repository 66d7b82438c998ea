//! Helpers shared by the server's integration tests.

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
