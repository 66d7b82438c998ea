//! Runs the built `sip-parse` and `csta-decode` binaries on the samples and on hand-made
//! messages and checks their exit status and the key lines of their output.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_sip-parse");
const CSTA_BIN: &str = env!("CARGO_BIN_EXE_csta-decode");

/// What one run of the binary produced.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Panics unless `stdout` has a line equal to `line`.
    #[track_caller]
    fn has_line(&self, line: &str) -> &Self {
        assert!(
            self.stdout.lines().any(|l| l == line),
            "no line {line:?} in:\n{}",
            self.stdout
        );
        self
    }
}

fn sample(name: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "samples", name]
        .iter()
        .collect();
    path.to_str().expect("UTF-8 path").to_owned()
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Run {
    run_bin(BIN, args, stdin)
}

fn run_bin(bin: &str, args: &[&str], stdin: Option<&[u8]>) -> Run {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    if let Some(input) = stdin {
        // Dropping the handle closes the pipe.
        let mut pipe = child.stdin.take().expect("piped stdin");
        pipe.write_all(input).expect("write stdin");
    }
    let out = child.wait_with_output().expect("the binary finishes");
    Run {
        code: out.status.code().expect("exit code"),
        stdout: String::from_utf8(out.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("UTF-8 stderr"),
    }
}

/// Runs on a message given on standard input.
fn run_stdin(flags: &[&str], message: &[u8]) -> Run {
    let mut args = flags.to_vec();
    args.push("-");
    run(&args, Some(message))
}

#[test]
fn test_invite_sample() {
    let bytes = std::fs::read(sample("invite.sip")).unwrap();
    let head_end = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    let r = run(&[&sample("invite.sip")], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    r.has_line("request: INVITE sip:bob@biloxi.example.com SIP/2.0")
        .has_line("  method: INVITE")
        .has_line("  request-uri: sip:bob@biloxi.example.com")
        .has_line("    user: bob")
        .has_line("    host: biloxi.example.com (name)")
        .has_line("headers: 13")
        .has_line("  Via: SIP/2.0/UDP pc33.atlanta.example.com:5060;branch=z9hG4bK74bf9;rport")
        .has_line("    transport: UDP (unreliable)")
        .has_line("    port: 5060")
        .has_line("    branch: z9hG4bK74bf9 (RFC 3261 magic cookie)")
        .has_line("    rport: (requested)")
        .has_line("    display-name: \"Alice Liddell\" (quoted)")
        .has_line("    param: tag=9fxced76sl")
        .has_line("      host: 192.0.2.101 (IPv4)")
        .has_line("      param: transport=udp")
        .has_line("    seq: 1")
        .has_line("    methods: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, REFER, NOTIFY, UPDATE")
        .has_line("    tokens: timer, replaces")
        .has_line("    refresher: uac")
        .has_line("  User-Agent: uCSTA-sample/0.1")
        .has_line("    subtype: sdp")
        .has_line(&format!("body: {} octets", bytes.len() - head_end));
    assert!(!r.stdout.contains("error"), "{}", r.stdout);

    // The sample is valid, and framed whole on a stream.
    let v = run(&["--validate", "--stream", &sample("invite.sip")], None);
    assert_eq!(v.code, 0, "{}", v.stderr);
    v.has_line("validation: ok");
    assert!(!v.stdout.contains("stream:"), "{}", v.stdout);
}

#[test]
fn test_register_sample() {
    let r = run(&["--validate", &sample("register.sip")], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.has_line("request: REGISTER sip:registrar.biloxi.example.com SIP/2.0")
        .has_line("    transport: TCP (reliable)")
        .has_line("    expires: 7200 seconds")
        .has_line("    instance: urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF")
        .has_line("    reg-id: 1")
        .has_line("    seconds: 7200")
        .has_line("    tokens: path, outbound, gruu")
        .has_line("body: 0 octets")
        .has_line("validation: ok");
}

#[test]
fn test_stdin_matches_file() {
    let bytes = std::fs::read(sample("invite.sip")).unwrap();
    let from_file = run(&[&sample("invite.sip")], None);
    let from_stdin = run_stdin(&[], &bytes);
    assert_eq!(from_stdin.code, 0, "{}", from_stdin.stderr);
    assert_eq!(from_stdin.stdout, from_file.stdout);
}

#[test]
fn test_bad_version_is_answered_505() {
    let msg = b"INVITE sip:bob@biloxi.example.com SIP/7.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\nContent-Length: 0\r\n\r\n";
    let r = run_stdin(&[], msg);
    assert_eq!(r.code, 1);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert_eq!(
        r.stderr.trim_end(),
        "error: SIP version not supported -> respond 505 Version Not Supported"
    );
}

#[test]
fn test_broken_response_is_dropped() {
    let msg = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
Content-Length: twelve\r\n\r\n";
    let r = run_stdin(&[], msg);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr.trim_end(),
        "error: Content-Length is not a non-negative number -> drop"
    );
    // The same fault in a request is answered.
    let r = run_stdin(&[], b"OPTIONS sip:a@b.example SIP/2.0\r\nl: -1\r\n\r\n");
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("-> respond 400 Bad Request"),
        "{}",
        r.stderr
    );
}

const CSEQ_MISMATCH: &[u8] = b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKcseq\r\n\
Max-Forwards: 70\r\n\
To: <sip:bob@biloxi.example.com>\r\n\
From: <sip:alice@atlanta.example.com>;tag=x1\r\n\
Call-ID: cseq-mismatch@192.0.2.1\r\n\
CSeq: 1 BYE\r\n\
Content-Length: 0\r\n\r\n";

#[test]
fn test_validate_cseq_mismatch() {
    // It parses...
    let r = run_stdin(&[], CSEQ_MISMATCH);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.has_line("    method: BYE");
    // ...but does not validate.
    let r = run_stdin(&["--validate"], CSEQ_MISMATCH);
    assert_eq!(r.code, 1);
    r.has_line("  CSeq: 1 BYE");
    assert!(!r.stdout.contains("validation: ok"));
    assert_eq!(
        r.stderr.trim_end(),
        "error: validation failed: CSeq method differs from the request -> respond 400 Bad Request"
    );
}

#[test]
fn test_validate_response_failure_is_dropped() {
    let msg = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
From: <sip:a@b.example>;tag=1\r\nCall-ID: x\r\nCSeq: 1 INVITE\r\n\r\n";
    let r = run_stdin(&["--validate"], msg);
    assert_eq!(r.code, 1);
    r.has_line("response: SIP/2.0 200 OK")
        .has_line("  status: 200 (success)");
    assert_eq!(
        r.stderr.trim_end(),
        "error: validation failed: missing To header -> drop"
    );
}

#[test]
fn test_stream_framing() {
    let bytes = std::fs::read(sample("invite.sip")).unwrap();
    let cut = &bytes[..bytes.len() - 10];
    let r = run_stdin(&["--stream"], cut);
    assert_eq!(r.code, 1);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(
        r.stderr.starts_with("error: incomplete message"),
        "{}",
        r.stderr
    );
    // As a datagram the same octets are a truncated body, which is answered.
    let r = run_stdin(&[], cut);
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr.trim_end(),
        "error: body shorter than Content-Length -> respond 400 Bad Request"
    );

    // A stream holding a keep-alive, a message and the start of the next one.
    let mut two = b"\r\n\r\n".to_vec();
    two.extend_from_slice(&bytes);
    two.extend_from_slice(b"BYE sip:bob@biloxi");
    let r = run_stdin(&["--stream"], &two);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.has_line(&format!(
        "stream: the message ends at octet {}; 18 octets follow",
        bytes.len() + 4
    ));

    // Streams need Content-Length.
    let r = run_stdin(&["--stream"], b"OPTIONS sip:a@b.example SIP/2.0\r\n\r\n");
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("without Content-Length"), "{}", r.stderr);
}

#[test]
fn test_typed_errors_inline() {
    let msg = b"OPTIONS sip:bob@biloxi.example.com SIP/2.0\r\n\
Via: SIP/2.0/UDP 192.0.2.1:99999;branch=z9hG4bK1\r\n\
v: SIP/2.0/TCP a.example;branch=z9hG4bK2 ,SIP/2.0/TCP b.example\r\n\
Max-Forwards: many\r\n\
To: Bell, Alexander <sip:a.g.bell@bell-tel.example>\r\n\
From: <sip:alice@atlanta.example.com>;tag=1\r\n\
Call-ID: x\r\n\
CSeq: 2 OPTIONS\r\n\
Contact: <sip:a@192.0.2.1>;q=2\r\n\
Supported: timer, bad token\r\n\
Date: Fri, 01 Jan 2010 16:00:00 EST\r\n\
X-Custom: anything ;; goes\r\n\
Content-Length: 0\r\n\r\n";
    let r = run_stdin(&[], msg);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.has_line("  Via: SIP/2.0/UDP 192.0.2.1:99999;branch=z9hG4bK1")
        .has_line("    error: malformed port")
        .has_line("  v (Via): SIP/2.0/TCP a.example;branch=z9hG4bK2 ,SIP/2.0/TCP b.example")
        .has_line("    [1] SIP/2.0/TCP a.example;branch=z9hG4bK2")
        .has_line("      host: a.example (name)")
        .has_line("    [2] SIP/2.0/TCP b.example")
        .has_line("      host: b.example (name)")
        .has_line("    error: malformed or out-of-range number")
        .has_line("    error: malformed URI scheme")
        .has_line("    q: error: malformed or out-of-range number")
        .has_line("    tokens: timer")
        .has_line("    error: \"bad token\": unexpected character")
        .has_line("    error: malformed date")
        .has_line("  X-Custom: anything ;; goes");
    // With validation, the first problem decides.
    let r = run_stdin(&["--validate"], msg);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("invalid Via header: malformed port -> respond 400"),
        "{}",
        r.stderr
    );
}

#[test]
fn test_folded_and_compact() {
    let msg = b"SIP/2.0 180 \r\n\
v: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1;received=2001:db8::9:255\r\n\
f: Anonymous   Caller\r\n <sip:c@[2001:db8::1]:5070>;tag=1\r\n\
t: sip:bob@biloxi.example.com;tag=2\r\n\
i: call-1\r\n\
CSeq: 1\r\n INVITE\r\n\
l: 0\r\n\r\n";
    let r = run_stdin(&[], msg);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.has_line("response: SIP/2.0 180 ")
        .has_line("  status: 180 (provisional)")
        .has_line("  reason: \"\"")
        .has_line("    received: [2001:db8::9:255] (IPv6)")
        .has_line("  f (From): Anonymous   Caller <sip:c@[2001:db8::1]:5070>;tag=1  (folded)")
        .has_line("    display-name: \"Anonymous Caller\" (tokens)")
        .has_line("      host: [2001:db8::1] (IPv6)")
        .has_line("      port: 5070")
        .has_line("  CSeq: 1 INVITE  (folded)")
        .has_line("    method: INVITE")
        .has_line("  l (Content-Length): 0");
}

#[test]
fn test_usage() {
    let r = run(&[], None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("usage: sip-parse"), "{}", r.stderr);
    let r = run(&["--bogus", "x.sip"], None);
    assert_eq!(r.code, 2);
    assert!(r.stderr.starts_with("sip-parse: unknown option '--bogus'"));
    let r = run(&["a.sip", "b.sip"], None);
    assert_eq!(r.code, 2);
    let r = run(&["--help"], None);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout
            .starts_with("usage: sip-parse [--stream] [--validate] FILE|-")
    );
    let r = run(&["/nonexistent/message.sip"], None);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .starts_with("sip-parse: cannot read /nonexistent/message.sip"),
        "{}",
        r.stderr
    );
}

#[test]
fn test_authentication_headers() {
    let msg = b"SIP/2.0 407 Proxy Authentication Required\r\n\
Via: SIP/2.0/UDP 192.0.2.4;branch=z9hG4bK1\r\n\
To: <sip:bob@biloxi.example.com>;tag=2\r\n\
From: <sip:bob@biloxi.example.com>;tag=1\r\n\
Call-ID: auth-1\r\n\
CSeq: 1 INVITE\r\n\
Proxy-Authenticate: Digest realm=\"atlanta.example.com\", qop=\"auth,auth-int\",\r\n \
nonce=\"84a4cc6f3082121f32b42a2187831a9e\", algorithm=SHA-256, stale=TRUE\r\n\
WWW-Authenticate: Digest realm=\"x\", nonce=\"y\", algorithm=SHA-1\r\n\
Authorization: Digest username=\"bob \\\"b\\\"\", realm=\"biloxi.example.com\", \
nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"sip:bob@biloxi.example.com\", \
qop=auth, nc=0000000a, cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\"\r\n\
Proxy-Authorization: Bearer mF_9.B5f-4.1JqM\r\n\
Content-Length: 0\r\n\r\n";
    let r = run_stdin(&[], msg);
    assert_eq!(r.code, 0, "{}", r.stderr);
    r.has_line("    scheme: Digest")
        .has_line("    realm: \"atlanta.example.com\"")
        .has_line("    algorithm: SHA-256")
        .has_line("    qop options: auth, auth-int")
        .has_line("    stale: true")
        .has_line("    algorithm: error: unsupported digest algorithm")
        .has_line("    username: \"bob \\\"b\\\"\"")
        .has_line("    qop: auth")
        .has_line("    nc: 10")
        .has_line("    scheme: Bearer")
        .has_line("    token68: mF_9.B5f-4.1JqM");
}

/// A file under `csta-core/tests/data/`.
fn csta_data(name: &str) -> String {
    let path: PathBuf = [
        env!("CARGO_MANIFEST_DIR"),
        "..",
        "csta-core",
        "tests",
        "data",
        name,
    ]
    .iter()
    .collect();
    path.to_str().expect("UTF-8 path").to_owned()
}

#[test]
fn test_csta_json() {
    let r = run_bin(CSTA_BIN, &[&sample("MakeCall.xml")], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.is_empty(), "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.stdout);
    let line = r.stdout.trim_end();
    assert!(
        line.starts_with(r#"{"edition":"ed3","message":{"MakeCall":{"callingDevice":"#),
        "{line}"
    );
    assert!(line.ends_with("}}}"), "{line}");
    for part in [
        "sip:201@pbx.example.com",
        "tel:+14155550123",
        r#""autoOriginate":"doNotPrompt""#,
    ] {
        assert!(line.contains(part), "no {part} in {line}");
    }

    // The same from standard input; no namespace gives a null edition.
    let bytes = std::fs::read(sample("MakeCall.xml")).unwrap();
    assert_eq!(run_bin(CSTA_BIN, &["-"], Some(&bytes)).stdout, r.stdout);
    let r = run_bin(
        CSTA_BIN,
        &["-"],
        Some(b"<MonitorStop><monitorCrossRefID>42</monitorCrossRefID></MonitorStop>"),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "{\"edition\":null,\"message\":{\"MonitorStop\":{\"monitorCrossRefID\":\"42\"}}}\n"
    );
}

#[test]
fn test_csta_encode() {
    let r = run_bin(
        CSTA_BIN,
        &["--encode", "ed5", &sample("MakeCall.xml")],
        None,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.stdout);
    assert!(r.stdout.starts_with("<?xml"), "{}", r.stdout);
    assert!(
        r.stdout
            .contains(r#"xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed5""#),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("tel:+14155550123"), "{}", r.stdout);
    assert!(r.stdout.trim_end().ends_with("</MakeCall>"), "{}", r.stdout);

    // The re-encoded XML decodes again, to the same JSON.
    let json = run_bin(CSTA_BIN, &[&sample("MakeCall.xml")], None).stdout;
    let again = run_bin(CSTA_BIN, &["-"], Some(r.stdout.as_bytes()));
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(again.stdout, json.replace(r#""ed3""#, r#""ed5""#));
}

#[test]
fn test_csta_framed() {
    let path = csta_data("framed/osv-OriginatedEvent.ecma323-annexJ.bin");
    let r = run_bin(CSTA_BIN, &["--framed", &path], None);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.stdout);
    assert!(
        r.stdout.starts_with(r#"{"invokeID":"9999","edition":"#),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains(r#""message":{"OriginatedEvent":{"#),
        "{}",
        r.stdout
    );

    // Two frames in one stream, re-encoded: one document per line.
    let mut stream = std::fs::read(&path).unwrap();
    stream.extend(
        std::fs::read(csta_data(
            "framed/osv-ServiceInitiatedEvent.ecma323-annexJ.bin",
        ))
        .unwrap(),
    );
    let r = run_bin(
        CSTA_BIN,
        &["--framed", "--encode", "ed3", "-"],
        Some(&stream),
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{}", r.stdout);
    assert!(lines[0].ends_with("</OriginatedEvent>"), "{}", lines[0]);
    assert!(
        lines[1].ends_with("</ServiceInitiatedEvent>"),
        "{}",
        lines[1]
    );

    // A stream cut short: the first frame is shown, then the error.
    let r = run_bin(
        CSTA_BIN,
        &["--framed", "-"],
        Some(&stream[..stream.len() - 1]),
    );
    assert_eq!(r.code, 1);
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.stdout);
    assert!(
        r.stderr
            .starts_with("error: frame 2 at octet 1091: incomplete frame"),
        "{}",
        r.stderr
    );

    // A bad header.
    let r = run_bin(
        CSTA_BIN,
        &["--framed", "-"],
        Some(b"\x01\x00\x00\x0c0001<a/>"),
    );
    assert_eq!(r.code, 1);
    assert_eq!(
        r.stderr,
        "error: frame 1 at octet 0: frame header does not start with 00 00\n"
    );
}

#[test]
fn test_csta_errors() {
    let r = run_bin(
        CSTA_BIN,
        &["-"],
        Some(b"<MakeCall><callingDevice>201</MakeCall>"),
    );
    assert_eq!(r.code, 1);
    assert!(r.stdout.is_empty(), "{}", r.stdout);
    assert!(r.stderr.starts_with("error: "), "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);

    let r = run_bin(CSTA_BIN, &["-"], Some(b"<Hello/>"));
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.starts_with("error: unknown CSTA message at byte "),
        "{}",
        r.stderr
    );

    let r = run_bin(CSTA_BIN, &["--bogus", "x.xml"], None);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .starts_with("csta-decode: unknown option '--bogus'"),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("usage: csta-decode"), "{}", r.stderr);
    let r = run_bin(CSTA_BIN, &["--encode", "ed2", "x.xml"], None);
    assert_eq!(r.code, 2);
    let r = run_bin(CSTA_BIN, &[], None);
    assert_eq!(r.code, 2);
    let r = run_bin(CSTA_BIN, &["--help"], None);
    assert_eq!(r.code, 0);
    assert!(r.stdout.starts_with("usage: csta-decode"), "{}", r.stdout);
    let r = run_bin(CSTA_BIN, &["/nonexistent/message.xml"], None);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .starts_with("csta-decode: cannot read /nonexistent/message.xml"),
        "{}",
        r.stderr
    );
}
