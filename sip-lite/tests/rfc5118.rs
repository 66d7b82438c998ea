//! RFC 5118 (SIP torture test messages for IPv6), run through the pipeline a server runs:
//! `Message::parse`, then `Message::validate`, each failure mapped to its reaction.
//!
//! The messages are the copies in `tests/data/rfc5118/` (the source of truth for this suite);
//! `EXPECTED.csv` there gives the RFC's verdict for each of them.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use sip_lite::wire::{
    Contact, DisplayName, HeaderIndex, HeaderName, Host, Message, Method, Policy, Reaction,
    StatusCode, Transport, Uri, Via,
};
use sip_lite::{ParseError, ValidationError, ValueError};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/rfc5118")
}

fn load(name: &str) -> Vec<u8> {
    let path = data_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn v6(s: &str) -> Host<'static> {
    Host::Ipv6(s.parse::<Ipv6Addr>().unwrap())
}

/// What the server pipeline makes of a datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Parsed and validated: handed to the layers above.
    Accepted,
    /// `Message::parse` failed.
    ParseFailed(ParseError, Reaction),
    /// `Message::validate` failed.
    Invalid(ValidationError, Reaction),
}

impl Outcome {
    fn reaction(self) -> Option<Reaction> {
        match self {
            Outcome::Accepted => None,
            Outcome::ParseFailed(_, r) | Outcome::Invalid(_, r) => Some(r),
        }
    }
}

fn run(bytes: &[u8], policy: &Policy<'_>) -> Outcome {
    let mut headers = [HeaderIndex::EMPTY; 64];
    match Message::parse(bytes, &mut headers) {
        Err(e) => Outcome::ParseFailed(e, e.reaction(bytes)),
        Ok(msg) => match msg.validate(policy) {
            Ok(()) => Outcome::Accepted,
            Err(e) => Outcome::Invalid(e, e.reaction(msg.is_request())),
        },
    }
}

/// Parses and validates `name` with the default policy, failing with the reason if either
/// step fails, and hands the message to `check`.
fn accepted(name: &str, check: impl FnOnce(&Message<'_>)) {
    let bytes = load(name);
    let mut headers = [HeaderIndex::EMPTY; 64];
    let msg = Message::parse(&bytes, &mut headers)
        .unwrap_or_else(|e| panic!("{name}: parse failed: {e:?}"));
    msg.validate(&Policy::DEFAULT)
        .unwrap_or_else(|e| panic!("{name}: validation failed: {e:?}"));
    assert_eq!(
        msg.content_length(),
        Some(msg.body().len()),
        "{name}: body length"
    );
    check(&msg);
}

fn request_uri<'a>(msg: &Message<'a>) -> sip_lite::wire::SipUri<'a> {
    match msg
        .request_uri()
        .expect("a request")
        .expect("a valid Request-URI")
    {
        Uri::Sip(u) => u,
        other => panic!("not a SIP URI: {other:?}"),
    }
}

fn vias<'a>(msg: &Message<'a>) -> Vec<Via<'a>> {
    msg.vias().map(Result::unwrap).collect()
}

fn contact_uri<'a>(msg: &Message<'a>) -> (Option<DisplayName<'a>>, sip_lite::wire::SipUri<'a>) {
    let mut contacts = msg.contacts();
    let c = contacts.next().expect("a Contact").unwrap();
    assert!(contacts.next().is_none(), "one Contact");
    let Contact::Addr(a) = c else {
        panic!("wildcard Contact")
    };
    (a.display_name, *a.uri.as_sip().expect("a SIP Contact"))
}

// RFC 5118 4.1: a bracketed IPv6 reference in the Request-URI, Via and Contact must parse.
#[test]
fn ipv6_good() {
    accepted("ipv6-good.sip", |msg| {
        assert_eq!(msg.method(), Some(Method::Register));
        let ruri = request_uri(msg);
        assert_eq!(ruri.user, None);
        assert_eq!(ruri.host, v6("2001:db8::10"));
        assert_eq!(ruri.port, None);
        let via = msg.top_via().unwrap();
        assert_eq!(via.transport, Transport::Udp);
        assert_eq!(via.host, v6("2001:db8::9:1"));
        assert_eq!(via.port, None);
        assert_eq!(via.branch(), Some("z9hG4bKas3-111"));
        let (name, c) = contact_uri(msg);
        assert_eq!(name, Some(DisplayName::Quoted("Caller")));
        assert_eq!(c.user, Some("caller"));
        assert_eq!(c.host, v6("2001:db8::1"));
        assert_eq!(msg.cseq().unwrap().seq, 98176);
    });
}

// RFC 5118 4.2: an IPv6 address without brackets in the Request-URI is invalid; 400.
#[test]
fn ipv6_bad() {
    let bytes = load("ipv6-bad.sip");
    assert_eq!(
        run(&bytes, &Policy::DEFAULT),
        Outcome::Invalid(
            ValidationError::RequestUri(ValueError::Host),
            Reaction::Respond(StatusCode::BAD_REQUEST)
        )
    );
    // The rest of the message is sound, so the 400 can be built from it.
    let mut headers = [HeaderIndex::EMPTY; 32];
    let msg = Message::parse(&bytes, &mut headers).unwrap();
    assert_eq!(msg.request_uri_str(), Some("sip:2001:db8::10"));
    assert_eq!(msg.top_via().unwrap().host, v6("2001:db8::9:1"));
    assert_eq!(msg.call_id().unwrap(), "SSG9559905523997077@hlau_4100");
}

// RFC 5118 4.3: "[2001:db8::10:5070]" is well-formed: an address whose last group is 5070,
// with no port.
#[test]
fn port_ambiguous() {
    accepted("port-ambiguous.sip", |msg| {
        let ruri = request_uri(msg);
        assert_eq!(ruri.host, v6("2001:db8::10:5070"));
        assert_eq!(ruri.port, None);
    });
}

// RFC 5118 4.4: "[2001:db8::10]:5070" is an address and a port.
#[test]
fn port_unambiguous() {
    accepted("port-unambiguous.sip", |msg| {
        let ruri = request_uri(msg);
        assert_eq!(ruri.host, v6("2001:db8::10"));
        assert_eq!(ruri.port, Some(5070));
    });
}

// RFC 5118 4.5: a bracketed IPv6 address in the Via received parameter is outside the
// RFC 3261 grammar but must be accepted.
#[test]
fn via_received_param_with_delim() {
    accepted("via-received-param-with-delim.sip", |msg| {
        assert_eq!(msg.method(), Some(Method::Bye));
        let via = msg.top_via().unwrap();
        assert_eq!(via.host, v6("2001:db8::9:1"));
        assert_eq!(via.params.value("received"), Some("[2001:db8::9:255]"));
        assert_eq!(via.received(), Some(v6("2001:db8::9:255")));
        assert_eq!(via.branch(), Some("z9hG4bKas3-111"));
        assert_eq!(msg.to().unwrap().tag(), Some("bd76ya"));
    });
}

// RFC 5118 4.5: an unbracketed IPv6 address in the Via received parameter must parse.
#[test]
fn via_received_param_no_delim() {
    accepted("via-received-param-no-delim.sip", |msg| {
        assert_eq!(msg.method(), Some(Method::Options));
        let via = msg.top_via().unwrap();
        assert_eq!(via.params.value("received"), Some("2001:db8::9:255"));
        assert_eq!(via.received(), Some(v6("2001:db8::9:255")));
        // The received parameter does not swallow the branch that follows it.
        assert_eq!(via.branch(), Some("z9hG4bKas3"));
        let (_, c) = contact_uri(msg);
        assert_eq!(c.host, v6("2001:db8::9:1"));
    });
}

// RFC 5118 4.6: IPv6 in SDP (c= and o= lines with IP6) travels as an opaque body.
#[test]
fn ipv6_in_sdp() {
    accepted("ipv6-in-sdp.sip", |msg| {
        assert_eq!(msg.method(), Some(Method::Invite));
        let ruri = request_uri(msg);
        assert_eq!(ruri.user, Some("user"));
        assert_eq!(ruri.host, v6("2001:db8::10"));
        assert!(
            msg.content_type()
                .unwrap()
                .unwrap()
                .is("application", "sdp")
        );
        assert_eq!(msg.body().len(), 251);
        let body = std::str::from_utf8(msg.body()).unwrap();
        assert!(body.starts_with("v=0\r\n"));
        assert!(body.contains("\r\nc=IN IP6 2001:db8::20\r\n"));
        assert!(body.ends_with("a=rtpmap:107 H263-1998/90000\r\n"));
        let to = msg.to().unwrap();
        assert_eq!(to.uri.as_sip().unwrap().host, v6("2001:db8::10"));
    });
}

// RFC 5118 4.7: Via fields with IPv4 and IPv6 sent-by and received must all parse.
#[test]
fn mult_ip_in_header() {
    accepted("mult-ip-in-header.sip", |msg| {
        let v = vias(msg);
        assert_eq!(v.len(), 3);
        assert_eq!(v[0].host, v6("2001:db8::9:1"));
        assert_eq!(v[0].port, Some(6050));
        assert_eq!(v[0].transport, Transport::Udp);
        assert_eq!(v[1].host, Host::Ipv4(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(v[1].port, None);
        assert_eq!(v[1].branch(), Some("z9hG4bKjhja8781hjuaij65144"));
        assert_eq!(v[2].transport, Transport::Tcp);
        assert_eq!(v[2].host, v6("2001:db8::9:255"));
        assert_eq!(v[2].branch(), Some("z9hG4bK451jj"));
        assert_eq!(
            v[2].received(),
            Some(Host::Ipv4(Ipv4Addr::new(192, 0, 2, 200)))
        );
        assert_eq!(msg.count(HeaderName::Via), 3);
    });
}

// RFC 5118 4.8: SDP with both IPv4 and IPv6 connection lines; the body is opaque.
#[test]
fn mult_ip_in_sdp() {
    accepted("mult-ip-in-sdp.sip", |msg| {
        assert_eq!(msg.body().len(), 189);
        let body = std::str::from_utf8(msg.body()).unwrap();
        assert!(body.contains("\r\nc=IN IP4 192.0.2.1\r\n"));
        assert!(body.contains("\r\nc=IN IP6 2001:db8::1\r\n"));
        let (_, c) = contact_uri(msg);
        assert_eq!(c.host, v6("2001:db8::9:1"));
    });
}

// RFC 5118 4.9: IPv4-mapped IPv6 addresses must parse, with and without a port.
#[test]
fn ipv4_mapped_ipv6() {
    accepted("ipv4-mapped-ipv6.sip", |msg| {
        let v = vias(msg);
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].host, v6("::ffff:192.0.2.10"));
        assert_eq!(v[0].port, Some(19823));
        assert_eq!(v[1].host, v6("::ffff:192.0.2.2"));
        assert_eq!(v[1].port, None);
        let Host::Ipv6(a) = v[1].host else {
            unreachable!()
        };
        assert_eq!(a.to_ipv4_mapped(), Some(Ipv4Addr::new(192, 0, 2, 2)));
        let (name, c) = contact_uri(msg);
        assert_eq!(name, Some(DisplayName::Quoted("T. desk phone")));
        assert_eq!(c.host, v6("::ffff:192.0.2.2"));
        assert_eq!(msg.body().len(), 245);
    });
}

// RFC 5118 4.10: "[2001:db8:::192.0.2.1]" (three colons) follows the RFC 3261 ABNF but not
// RFC 4291; it should be tolerated, meaning the same address as the two-colon form.
#[test]
fn ipv6_bug_abnf_3_colons() {
    accepted("ipv6-bug-abnf-3-colons.sip", |msg| {
        let ruri = request_uri(msg);
        assert_eq!(ruri.user, Some("user"));
        assert_eq!(ruri.host, v6("2001:db8::c000:201"));
        let to = msg.to().unwrap();
        assert_eq!(to.uri.as_sip().unwrap().host, v6("2001:db8::192.0.2.1"));
    });
}

// RFC 5118 4.10: "[2001:db8::192.0.2.1]" (two colons) is the correct form and must parse.
#[test]
fn ipv6_correct_abnf_2_colons() {
    accepted("ipv6-correct-abnf-2-colons.sip", |msg| {
        let ruri = request_uri(msg);
        assert_eq!(ruri.host, v6("2001:db8::192.0.2.1"));
        assert_eq!(ruri.port, None);
        assert_eq!(
            msg.top_via().unwrap().host,
            Host::Domain("lab1.east.example.com")
        );
    });
}

/// One row of EXPECTED.csv: `file,rfc5118_section,verdict,expectation`, where only the
/// last field may be quoted.
struct Row {
    file: String,
    section: String,
    verdict: String,
    expectation: String,
}

fn expected_rows() -> Vec<Row> {
    let csv = std::fs::read_to_string(data_dir().join("EXPECTED.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("file,rfc5118_section,verdict,expectation"),
        "EXPECTED.csv header"
    );
    lines
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut f = l.splitn(4, ',');
            let mut next = || f.next().unwrap_or_else(|| panic!("short row: {l}"));
            let (file, section, verdict) = (next(), next(), next());
            let rest = next();
            let expectation = rest
                .strip_prefix('"')
                .and_then(|r| r.strip_suffix('"'))
                .unwrap_or(rest);
            Row {
                file: file.to_owned(),
                section: section.to_owned(),
                verdict: verdict.to_owned(),
                expectation: expectation.to_owned(),
            }
        })
        .collect()
}

/// The status code named by an expectation such as `reject: 400 Bad Request (...)`.
fn rejection_code(expectation: &str) -> Option<u16> {
    let rest = expectation.strip_prefix("reject:")?.trim_start();
    rest.get(..3)?.parse().ok()
}

// Every row of EXPECTED.csv holds: valid and valid-unusual messages pass the pipeline,
// invalid ones get exactly the response the row names. Every .sip file has a row.
#[test]
fn expected_csv_verdicts() {
    let rows = expected_rows();
    assert_eq!(rows.len(), 12, "RFC 5118 has twelve messages");
    let mut listed: Vec<&str> = rows.iter().map(|r| r.file.as_str()).collect();
    listed.sort_unstable();
    let mut on_disk: Vec<String> = std::fs::read_dir(data_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".sip"))
        .collect();
    on_disk.sort_unstable();
    assert_eq!(listed, on_disk, "EXPECTED.csv rows and .sip files differ");

    for row in &rows {
        assert!(
            row.section.starts_with("4."),
            "{}: section {}",
            row.file,
            row.section
        );
        let outcome = run(&load(&row.file), &Policy::DEFAULT);
        match row.verdict.as_str() {
            "valid" | "valid-unusual" => assert_eq!(
                outcome,
                Outcome::Accepted,
                "{} ({}): {}",
                row.file,
                row.section,
                row.expectation
            ),
            "invalid" => {
                let code = rejection_code(&row.expectation).unwrap_or_else(|| {
                    panic!("{}: no response code in {:?}", row.file, row.expectation)
                });
                assert_eq!(
                    outcome.reaction(),
                    Some(Reaction::Respond(StatusCode(code))),
                    "{} ({}): {} -> {outcome:?}",
                    row.file,
                    row.section,
                    row.expectation
                );
            }
            other => panic!("{}: unknown verdict {other:?}", row.file),
        }
    }
}

// The copies in tests/data are the source of truth; when the shared vectors sit next to the
// repository, they must not have drifted apart.
#[test]
fn copies_match_shared_vectors() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/sip/rfc5118");
    if !shared.is_dir() {
        eprintln!(
            "note: {} not found; skipping the comparison with the shared vectors",
            shared.display()
        );
        return;
    }
    let mut names: Vec<String> = std::fs::read_dir(&shared)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort_unstable();
    let mut ours: Vec<String> = std::fs::read_dir(data_dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    ours.sort_unstable();
    assert_eq!(names, ours, "file sets differ");
    for name in &names {
        let theirs = std::fs::read(shared.join(name)).unwrap();
        assert!(
            theirs == load(name),
            "tests/data/rfc5118/{name} differs from {}",
            shared.join(name).display()
        );
    }
}
