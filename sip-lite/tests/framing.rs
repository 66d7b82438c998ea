//! Framing of datagrams and streams: start lines, header lines, Content-Length, bodies.

use sip_lite::wire::{
    HeaderIndex, HeaderName, KeepAlive, Limits, Message, Method, ParseError, Reaction, StartLine,
    Status, StatusCode, keep_alive,
};

const OPTIONS: &str = "OPTIONS sip:carol@chicago.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKhjhs8ass877\r\n\
Max-Forwards: 70\r\n\
To: <sip:carol@chicago.com>\r\n\
From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710\r\n\
CSeq: 63104 OPTIONS\r\n\
Content-Type: text/plain\r\n\
Content-Length: 4\r\n\
\r\n\
body";

/// The header section of a minimal INVITE, without the empty line.
const MIN_HEAD: &str = "INVITE sip:bob@biloxi.com SIP/2.0\r\n\
Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
To: <sip:bob@biloxi.com>\r\n\
From: <sip:a@b>;tag=1\r\n\
Call-ID: x\r\n\
CSeq: 1 INVITE\r\n";

/// Parses a datagram with header storage that lives as long as the test.
fn parse(input: &[u8]) -> Result<Message<'_>, ParseError> {
    let headers = Box::leak(Box::new([HeaderIndex::EMPTY; 32]));
    Message::parse(input, headers)
}

fn stream(input: &[u8]) -> Result<Status<(Message<'_>, usize)>, ParseError> {
    let headers = Box::leak(Box::new([HeaderIndex::EMPTY; 32]));
    Message::parse_stream(input, headers)
}

/// `MIN_HEAD` plus `extra` header lines, the empty line and `body`.
fn invite(extra: &str, body: &str) -> String {
    format!("{MIN_HEAD}{extra}\r\n{body}")
}

#[test]
fn test_parse_datagram_fields() {
    let m = parse(OPTIONS.as_bytes()).unwrap();
    assert_eq!(
        m.start_line(),
        StartLine::Request {
            method: Method::Options,
            uri: "sip:carol@chicago.com"
        }
    );
    assert!(m.is_request());
    assert_eq!(m.version(), "SIP/2.0");
    assert_eq!(m.content_length(), Some(4));
    assert_eq!(m.body(), b"body");
    assert_eq!(m.header(HeaderName::CallId), Some("a84b4c76e66710"));
    let names: Vec<&str> = m.headers().map(|h| h.name).collect();
    assert_eq!(
        names,
        [
            "Via",
            "Max-Forwards",
            "To",
            "From",
            "Call-ID",
            "CSeq",
            "Content-Type",
            "Content-Length",
        ]
    );
    assert_eq!(m.header_count(), 8);
    assert!(m.head().starts_with("OPTIONS "));
    assert!(m.head().ends_with("\r\n\r\n"));
}

#[test]
fn test_datagram_body_rules() {
    // Without Content-Length the body is the rest of the datagram.
    let s = invite("", "v=0\r\n");
    let m = parse(s.as_bytes()).unwrap();
    assert_eq!(m.content_length(), None);
    assert_eq!(m.body(), b"v=0\r\n");
    // Octets after the declared body are ignored (RFC 3261 section 18.3).
    let s = invite("l: 3\r\n", "abcdef");
    let m = parse(s.as_bytes()).unwrap();
    assert_eq!(m.body(), b"abc");
    // More declared than present.
    let s = invite("Content-Length: 10\r\n", "abc");
    assert_eq!(parse(s.as_bytes()).unwrap_err(), ParseError::BodyTruncated);
    // Limits.
    let s = invite("Content-Length: 5\r\n", "abcde");
    let headers = Box::leak(Box::new([HeaderIndex::EMPTY; 32]));
    assert_eq!(
        Message::parse_with(s.as_bytes(), headers, Limits { max_body: 4 }).unwrap_err(),
        ParseError::BodyTooLarge
    );
    // The body may be any octets.
    let mut bin = invite("Content-Length: 3\r\n", "").into_bytes();
    bin.extend_from_slice(&[0xff, 0x00, 0xfe]);
    assert_eq!(parse(&bin).unwrap().body(), &[0xff, 0x00, 0xfe]);
}

#[test]
fn test_content_length_errors() {
    for (cl, err) in [
        ("Content-Length: -1\r\n", ParseError::ContentLength),
        ("Content-Length: abc\r\n", ParseError::ContentLength),
        ("Content-Length: 1 2\r\n", ParseError::ContentLength),
        ("Content-Length:\r\n", ParseError::ContentLength),
        ("Content-Length: +1\r\n", ParseError::ContentLength),
        (
            "Content-Length: 0\r\nl: 0\r\n",
            ParseError::DuplicateContentLength,
        ),
        (
            "Content-Length: 0\r\nContent-Length: 0\r\n",
            ParseError::DuplicateContentLength,
        ),
        (
            "Content-Length: 99999999999999999999999\r\n",
            ParseError::ContentLength,
        ),
        ("Content-Length: 70000\r\n", ParseError::BodyTooLarge),
    ] {
        let s = invite(cl, "");
        assert_eq!(parse(s.as_bytes()).unwrap_err(), err, "{cl:?}");
        assert_eq!(
            err.reaction(s.as_bytes()),
            Reaction::Respond(err.status()),
            "{cl:?}"
        );
    }
    // White space around the number is fine.
    let s = invite("Content-Length:   0  \r\n", "");
    assert_eq!(parse(s.as_bytes()).unwrap().content_length(), Some(0));
}

#[test]
fn test_head_errors() {
    assert_eq!(parse(b"").unwrap_err(), ParseError::Empty);
    assert_eq!(parse(b"\r\n\r\n").unwrap_err(), ParseError::Empty);
    // No empty line after the headers.
    assert_eq!(
        parse(MIN_HEAD.as_bytes()).unwrap_err(),
        ParseError::HeadTruncated
    );
    // A header line without a colon, or with a non-token name.
    for bad in [
        "NoColonHere\r\n",
        "Bad Name: x\r\n",
        ": empty name\r\n",
        "Na(me: x\r\n",
    ] {
        let s = invite(bad, "");
        assert_eq!(
            parse(s.as_bytes()).unwrap_err(),
            ParseError::HeaderLine,
            "{bad:?}"
        );
    }
    // A continuation line with no header to continue.
    assert_eq!(
        parse(b"INVITE sip:a@b SIP/2.0\r\n folded: x\r\n\r\n").unwrap_err(),
        ParseError::HeaderLine
    );
    // A CR inside a name must not pass for the '-' of a known name.
    let s = invite("Call\rID: y\r\n", "");
    assert_eq!(parse(s.as_bytes()).unwrap_err(), ParseError::HeaderLine);
    // A bare CR inside a value would be a line end to other parsers.
    let s = invite("Subject: a\rb\r\n", "");
    assert_eq!(parse(s.as_bytes()).unwrap_err(), ParseError::HeaderLine);
    // Invalid UTF-8 in the header section.
    let mut s = invite("Subject: \u{e9}\r\n", "").into_bytes();
    let i = s.iter().position(|&b| b == 0xc3).unwrap();
    s[i] = 0xff;
    assert_eq!(parse(&s).unwrap_err(), ParseError::Utf8);
    // Too many headers for the caller's storage.
    let mut few = [HeaderIndex::EMPTY; 3];
    assert_eq!(
        Message::parse(OPTIONS.as_bytes(), &mut few).unwrap_err(),
        ParseError::TooManyHeaders
    );
}

#[test]
fn test_request_lines() {
    for m in Method::STANDARD.map(|m| m.as_str()) {
        let s = format!("{m} sip:a@b SIP/2.0\r\n\r\n");
        let msg = parse(s.as_bytes()).unwrap();
        assert_eq!(msg.method().unwrap().as_str(), m);
        assert!(!matches!(msg.method(), Some(Method::Extension(_))));
    }
    let msg = parse(b"NEWMETHOD sip:a@b SIP/2.0\r\n\r\n").unwrap();
    assert_eq!(msg.method(), Some(Method::Extension("NEWMETHOD")));
    // Lower-case "sip" in the version is the same literal.
    assert!(parse(b"BYE sip:a@b sip/2.0\r\n\r\n").is_ok());
    // Line ends before the start line are ignored.
    assert!(parse(b"\r\n\r\nBYE sip:a@b SIP/2.0\r\n\r\n").is_ok());

    for (line, err) in [
        ("INVITE sip:a@b SIP/3.0", ParseError::VersionNotSupported),
        ("INVITE sip:a@b SIP/2.1", ParseError::VersionNotSupported),
        ("INVITE sip:a@b HTTP/1.1", ParseError::StartLine),
        ("INVITE sip:a@b SIP/2.0 ", ParseError::StartLine),
        ("INVITE  sip:a@b SIP/2.0", ParseError::StartLine),
        ("INVITE sip:a@b  SIP/2.0", ParseError::StartLine),
        ("INVITE sip:a@b", ParseError::StartLine),
        ("INVITE sip:a@b; lr SIP/2.0", ParseError::StartLine),
        ("IN(VITE sip:a@b SIP/2.0", ParseError::Method),
        ("garbage", ParseError::StartLine),
    ] {
        let s = format!("{line}\r\n\r\n");
        assert_eq!(parse(s.as_bytes()).unwrap_err(), err, "{line:?}");
    }
    let bad_version = b"INVITE sip:a@b SIP/3.0\r\n\r\n";
    assert_eq!(
        parse(bad_version).unwrap_err().reaction(bad_version),
        Reaction::Respond(StatusCode::VERSION_NOT_SUPPORTED)
    );
    // A request line with extra spaces is still a request: answered, not dropped.
    let spaced = b"INVITE  sip:a@b SIP/2.0\r\n\r\n";
    assert_eq!(
        parse(spaced).unwrap_err().reaction(spaced),
        Reaction::Respond(StatusCode::BAD_REQUEST)
    );
    let garbage = b"garbage\r\n\r\n";
    assert_eq!(
        parse(garbage).unwrap_err().reaction(garbage),
        Reaction::Drop
    );
}

#[test]
fn test_status_lines() {
    let m = parse(b"SIP/2.0 200 OK\r\n\r\n").unwrap();
    assert_eq!(m.status(), Some(StatusCode::OK));
    assert_eq!(m.reason(), Some("OK"));
    // Empty reason phrase, with the SP and without it (tolerated).
    assert_eq!(parse(b"SIP/2.0 100 \r\n\r\n").unwrap().reason(), Some(""));
    assert_eq!(parse(b"SIP/2.0 100\r\n\r\n").unwrap().reason(), Some(""));
    // UTF-8 reason phrases.
    let m = parse("SIP/2.0 486 Besetzt \u{2013} später\r\n\r\n".as_bytes()).unwrap();
    assert_eq!(m.reason(), Some("Besetzt \u{2013} später"));
    assert_eq!(
        parse(b"SIP/2.0 699 x\r\n\r\n").unwrap().status(),
        Some(StatusCode(699))
    );
    // The grammar allows any three digits; validation rejects codes above 699.
    assert_eq!(
        parse(b"SIP/2.0 700 x\r\n\r\n").unwrap().status(),
        Some(StatusCode(700))
    );
    for (line, err) in [
        ("SIP/2.0 20 OK", ParseError::StatusCode),
        ("SIP/2.0 2000 OK", ParseError::StatusCode),
        ("SIP/2.0 4294967301 Big", ParseError::StatusCode),
        ("SIP/2.0 abc OK", ParseError::StatusCode),
        ("SIP/1.0 200 OK", ParseError::VersionNotSupported),
        ("SIP/2.0 200 O\u{1}K", ParseError::StartLine),
    ] {
        let s = format!("{line}\r\n\r\n");
        let e = parse(s.as_bytes()).unwrap_err();
        assert_eq!(e, err, "{line:?}");
        // Responses are never answered.
        assert_eq!(e.reaction(s.as_bytes()), Reaction::Drop);
    }
}

#[test]
fn test_header_names_and_values() {
    let s = invite(
        "v: SIP/2.0/TCP p2;branch=z9hG4bK2, SIP/2.0/UDP p3;branch=z9hG4bK3\r\n\
         x-custom :  spaced value  \r\n\
         m: <sip:a@b>, \"Q, R\" <sip:q,r@host;x=1>\r\n\
         X-CUSTOM: second\r\n\
         Supported: timer, 100rel\r\nsupported: path\r\n",
        "",
    );
    let m = parse(s.as_bytes()).unwrap();
    assert_eq!(m.count(HeaderName::Via), 3);
    let branches: Vec<_> = m.vias().map(|v| v.unwrap().branch().unwrap()).collect();
    assert_eq!(branches, ["z9hG4bK1", "z9hG4bK2", "z9hG4bK3"]);
    let custom: Vec<_> = m.header_named("X-Custom").collect();
    assert_eq!(custom, ["spaced value", "second"]);
    let contacts: Vec<_> = m.values(HeaderName::Contact).collect();
    assert_eq!(contacts, ["<sip:a@b>", "\"Q, R\" <sip:q,r@host;x=1>"]);
    assert!(m.contacts().all(|c| c.is_ok()));
    let tags: Vec<_> = m
        .tokens(HeaderName::Supported)
        .map(Result::unwrap)
        .collect();
    assert_eq!(tags, ["timer", "100rel", "path"]);
    assert!(m.has_token(HeaderName::Supported, "PATH"));
    assert_eq!(m.header_named("v").count(), 2);
    assert_eq!(m.header_named("Via").count(), 2);
}

#[test]
fn test_folding_and_bare_lf() {
    let s = "INVITE sip:bob@biloxi.com SIP/2.0\n\
Via: SIP/2.0/UDP\n  h;branch=z9hG4bK1\n\
To:\n\t<sip:bob@biloxi.com>\n\
From: <sip:a@b>\r\n ;tag=1\r\n\
Call-ID: x\n\
CSeq: 1\n INVITE\n\
Subject: I know you're there,\r\n         pick up the phone\r\n\
\n";
    let m = parse(s.as_bytes()).unwrap();
    assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK1"));
    assert_eq!(m.to().unwrap().uri.as_sip().unwrap().user, Some("bob"));
    assert_eq!(m.from().unwrap().tag(), Some("1"));
    assert_eq!(m.cseq().unwrap().method, Method::Invite);
    assert_eq!(
        m.header(HeaderName::Subject),
        Some("I know you're there,\r\n         pick up the phone")
    );
    assert_eq!(m.body(), b"");
}

#[test]
fn test_stream_partial_at_every_length() {
    let two = format!("{OPTIONS}{OPTIONS}");
    let bytes = two.as_bytes();
    let one = OPTIONS.len();
    for n in 0..one {
        assert_eq!(stream(&bytes[..n]).unwrap(), Status::Partial, "prefix {n}");
    }
    let Status::Complete((m, used)) = stream(bytes).unwrap() else {
        panic!("complete")
    };
    assert_eq!(used, one);
    assert_eq!(m.body(), b"body");
    let Status::Complete((m2, used2)) = stream(&bytes[used..]).unwrap() else {
        panic!("complete")
    };
    assert_eq!(used2, one);
    assert_eq!(m2.cseq().unwrap().seq, 63104);
}

#[test]
fn test_stream_rules() {
    // Keep-alive line ends before a message are consumed with it.
    let s = format!("\r\n\r\n{OPTIONS}");
    let Status::Complete((_, used)) = stream(s.as_bytes()).unwrap() else {
        panic!()
    };
    assert_eq!(used, s.len());
    // Content-Length is mandatory on streams.
    let s = invite("", "");
    assert_eq!(
        stream(s.as_bytes()).unwrap_err(),
        ParseError::MissingContentLength
    );
    // A huge Content-Length is an error at once, not a wait.
    let s = invite("Content-Length: 1000000\r\n", "");
    assert_eq!(stream(s.as_bytes()).unwrap_err(), ParseError::BodyTooLarge);
    // Errors are found before the message is complete.
    assert_eq!(
        stream(b"INVITE sip:a SIP/2.0\r\nBad Header: x\r\n").unwrap_err(),
        ParseError::HeaderLine
    );
}

#[test]
fn test_keep_alive() {
    assert_eq!(
        keep_alive(b"\r\n\r\nINVITE"),
        Status::Complete(Some((KeepAlive::Ping, 4)))
    );
    assert_eq!(keep_alive(b"\r\n"), Status::Partial);
    assert_eq!(keep_alive(b"\r\n\r"), Status::Partial);
    assert_eq!(
        keep_alive(b"\r\nSIP/2.0"),
        Status::Complete(Some((KeepAlive::Pong, 2)))
    );
    assert_eq!(keep_alive(b"INVITE"), Status::Complete(None));
    assert_eq!(keep_alive(b""), Status::Complete(None));
}

#[test]
fn test_salvage_reads_what_it_can() {
    let s = "INVITE sip:a@b SIP/7.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCall-ID: c\r\nContent-Length: 99\r\n\r\n";
    assert_eq!(
        parse(s.as_bytes()).unwrap_err(),
        ParseError::VersionNotSupported
    );
    let headers = Box::leak(Box::new([HeaderIndex::EMPTY; 8]));
    let m = Message::salvage(s.as_bytes(), headers).unwrap();
    assert_eq!(m.version(), "SIP/7.0");
    assert_eq!(m.call_id(), Ok("c"));
    assert_eq!(m.top_via().unwrap().branch(), Some("z9hG4bK1"));
    // Multiple spaces are tolerated when salvaging.
    let headers = Box::leak(Box::new([HeaderIndex::EMPTY; 8]));
    let m = Message::salvage(b"INVITE  sip:a@b  SIP/2.0\r\nCall-ID: c\r\n\r\n", headers).unwrap();
    assert_eq!(m.request_uri_str(), Some(" sip:a@b "));
    let headers = Box::leak(Box::new([HeaderIndex::EMPTY; 8]));
    assert!(Message::salvage(b"garbage\r\n\r\n", headers).is_none());
}
