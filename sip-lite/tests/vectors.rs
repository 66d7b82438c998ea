//! The SIP header sets of CSTA implementations (uaCSTA NOTIFY, TR/87 INVITE and INFO, a
//! multipart as-feature-event NOTIFY body), completed into whole messages and run through
//! the server pipeline: `Message::parse`, then `Message::validate`.
//!
//! The files are copies in `tests/data/csta-sip/` of the shared vectors
//! (`csta/sip/*` and the CSTA bodies they name); templates are filled with sample values
//! here, Content-Length computed from the filled body.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use sip_lite::wire::{
    ContentDisposition, Event, HeaderIndex, HeaderName, Host, Message, Method, Policy,
    SubscriptionState, Transport, Uri,
};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/csta-sip")
}

fn load(name: &str) -> String {
    let path = data_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Fills a C printf template's `%s` placeholders in order.
fn printf(template: &str, args: &[&str]) -> String {
    let mut out = String::new();
    let mut parts = template.split("%s");
    out.push_str(parts.next().unwrap_or(""));
    let mut args = args.iter();
    for part in parts {
        out.push_str(args.next().expect("an argument for every %s"));
        out.push_str(part);
    }
    assert!(args.next().is_none(), "more arguments than %s");
    out
}

/// Replaces every `{name}` placeholder of `pairs`, and checks none is left but `keep`.
fn fill(template: &str, pairs: &[(&str, &str)], keep: &[&str]) -> String {
    let mut s = template.to_owned();
    for (k, v) in pairs {
        assert!(s.contains(k), "{k} not in the template");
        s = s.replace(k, v);
    }
    let mut rest = s.as_str();
    while let Some(i) = rest.find('{') {
        let end = rest[i..].find('}').map_or(rest.len(), |j| i + j + 1);
        let placeholder = &rest[i..end];
        assert!(
            keep.contains(&placeholder),
            "unfilled placeholder {placeholder}"
        );
        rest = &rest[end..];
    }
    s
}

/// Parses and validates with the default policy; the message must pass both.
fn accept<'a>(bytes: &'a [u8], headers: &'a mut [HeaderIndex]) -> Message<'a> {
    let msg = Message::parse(bytes, headers)
        .unwrap_or_else(|e| panic!("parse failed: {e:?}\n{}", String::from_utf8_lossy(bytes)));
    if let Err(e) = msg.validate(&Policy::DEFAULT) {
        panic!(
            "validation failed: {e:?}\n{}",
            String::from_utf8_lossy(bytes)
        );
    }
    msg
}

fn event<'a>(msg: &Message<'a>) -> Event<'a> {
    Event::parse(msg.header(HeaderName::Event).expect("an Event header")).unwrap()
}

fn disposition<'a>(msg: &Message<'a>) -> ContentDisposition<'a> {
    ContentDisposition::parse(
        msg.header(HeaderName::ContentDisposition)
            .expect("a Content-Disposition header"),
    )
    .unwrap()
}

fn assert_csta_xml(msg: &Message<'_>) {
    let ct = msg.content_type().expect("a Content-Type").unwrap();
    assert!(ct.is("application", "csta+xml"), "{ct:?}");
    assert_eq!((ct.ty, ct.subtype), ("application", "csta+xml"));
}

/// The asterisk-csp NOTIFY to a Unify phone: `VIA` in capitals, a non-RFC 3261 branch,
/// `Event: uaCSTA` and an ed3 MakeCall body in the same template.
#[test]
fn asterisk_csp_notify_uacsta_makecall() {
    let template = load("asterisk-csp-unify-NOTIFY-uaCSTA-MakeCall-template.txt");
    let filled = fill(
        &template,
        &[
            ("{deviceId}", "4711"),
            ("{ipAddress}", "192.0.2.50"),
            ("{port}", "5060"),
            ("{localIp}", "192.0.2.10"),
            ("{localSipPort}", "5070"),
            ("{random}", "a84b4c76e66710@192.0.2.10"),
            ("{calledDirectoryNumber}", "+498970071234"),
        ],
        &["{len(body)}"],
    );
    let split = filled.find("\r\n\r\n").expect("a header section") + 4;
    let body_len = filled.len() - split;
    let bytes = filled.replacen("{len(body)}", &body_len.to_string(), 1);

    let mut h = [HeaderIndex::EMPTY; 32];
    let msg = accept(bytes.as_bytes(), &mut h);
    assert_eq!(msg.method(), Some(Method::Notify));
    let Some(Ok(Uri::Sip(ruri))) = msg.request_uri() else {
        panic!("{:?}", msg.request_uri())
    };
    assert_eq!(ruri.user, Some("4711"));
    assert_eq!(ruri.host, Host::Ipv4(Ipv4Addr::new(192, 0, 2, 50)));
    assert_eq!(ruri.port, Some(5060));
    assert_eq!(ruri.transport(), Some("udp"));

    let via_line = msg.headers().find(|h| h.kind == HeaderName::Via).unwrap();
    assert_eq!(via_line.name, "VIA");
    let via = msg.top_via().unwrap();
    assert_eq!(via.transport, Transport::Udp);
    assert_eq!(via.host, Host::Ipv4(Ipv4Addr::new(192, 0, 2, 10)));
    assert_eq!(via.port, Some(5070));
    assert_eq!(via.branch(), Some("z01235"));
    assert!(!via.has_rfc3261_branch());
    assert_eq!(via.rport(), None);

    let from = msg.from().unwrap();
    assert_eq!(from.tag(), Some("e66CkC8b6"));
    assert_eq!(from.uri.as_sip().unwrap().transport(), Some("udp"));
    assert_eq!(msg.to().unwrap().tag(), None);
    assert_eq!(msg.call_id(), Ok("a84b4c76e66710@192.0.2.10"));
    let cseq = msg.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method), (1, Method::Notify));
    assert_eq!(msg.max_forwards(), Some(Ok(69)));
    let contact = msg.contacts().next().unwrap().unwrap();
    assert_eq!(
        contact.addr().unwrap().uri.as_sip().unwrap().port,
        Some(5060)
    );

    let ev = event(&msg);
    assert!(ev.is("uaCSTA"));
    assert!(ev.params.is_empty());
    assert_csta_xml(&msg);

    assert_eq!(msg.content_length(), Some(body_len));
    let body = std::str::from_utf8(msg.body()).unwrap();
    assert!(body.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<MakeCall "));
    assert!(body.contains("<callingDevice>4711</callingDevice>"));
    assert!(body.contains("<calledDirectoryNumber>+498970071234</calledDirectoryNumber>"));
    assert!(body.ends_with("</MakeCall>\r\n"));
}

/// The shorebridge NOTIFY over TLS to a ShoreTel/Mitel phone, with a filled AnswerCall body.
#[test]
fn shorebridge_notify_uacsta_tls() {
    let xml = fill(
        &load("shorebridge-AnswerCall-template.xml"),
        &[("{d}", "2001")],
        &[],
    );
    let contact = "sip:2001@192.0.2.60:5061;transport=tls";
    let filled = fill(
        &load("shorebridge-shoretel-NOTIFY-uaCSTA-template.txt"),
        &[
            ("{contact}", contact),
            ("{MYIP}", "192.0.2.5"),
            ("{rid(16)}", "0123456789abcdef"),
            ("{rid(8)}", "a1b2c3d4"),
            ("{callid}", "f81d4fae7dec11d0a76500a0c91e6bf6@192.0.2.5"),
            ("{len(b)}", &xml.len().to_string()),
            ("{csta-xml-body}", &xml),
        ],
        &[],
    );

    let mut h = [HeaderIndex::EMPTY; 32];
    let msg = accept(filled.as_bytes(), &mut h);
    assert_eq!(msg.method(), Some(Method::Notify));
    assert_eq!(msg.request_uri_str(), Some(contact));
    let ruri = *msg.request_uri().unwrap().unwrap().as_sip().unwrap();
    assert_eq!(ruri.port, Some(5061));
    assert_eq!(ruri.transport(), Some("tls"));

    let via = msg.top_via().unwrap();
    assert_eq!(via.transport, Transport::Tls);
    assert!(via.transport.is_reliable());
    assert_eq!(via.host, Host::Ipv4(Ipv4Addr::new(192, 0, 2, 5)));
    assert_eq!(via.port, Some(5061));
    assert_eq!(via.branch(), Some("z9hG4bK0123456789abcdef"));
    assert!(via.has_rfc3261_branch());
    assert_eq!(via.rport(), Some(None));

    let from = msg.from().unwrap();
    assert_eq!(from.uri.scheme(), "sips");
    assert!(from.uri.as_sip().unwrap().secure);
    assert_eq!(from.tag(), Some("a1b2c3d4"));
    let to = msg.to().unwrap();
    assert!(to.uri.equivalent(&Uri::parse(contact).unwrap()));
    assert_eq!(msg.max_forwards(), Some(Ok(70)));

    assert!(event(&msg).is("uaCSTA"));
    let state = SubscriptionState::parse(
        msg.header(HeaderName::SubscriptionState)
            .expect("Subscription-State"),
    )
    .unwrap();
    assert_eq!(state.state, "active");
    assert_eq!(state.expires(), None);
    assert_csta_xml(&msg);
    assert_eq!(msg.content_length(), Some(xml.len()));
    assert_eq!(msg.body(), xml.as_bytes());
    assert!(xml.contains("<callToBeAnswered><deviceID>2001</deviceID></callToBeAnswered>"));
}

/// The dialog headers pidgin-sipe's generic code adds around the CSTA-specific ones.
fn sipe_request(method: &str, cseq: u32, to_tag: &str, added: &str, body: &str) -> String {
    format!(
        "{method} sip:csta-gw@pbx.example.com;transport=tls SIP/2.0\r\n\
         Via: SIP/2.0/TLS 192.0.2.70:5061;branch=z9hG4bKsipe{cseq};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:alice@example.com>;tag=5f1e2d3c;epid=0011aabbcc\r\n\
         To: <sip:csta-gw@pbx.example.com>{to_tag}\r\n\
         Call-ID: 7b6c5d4e3f2a1b0c@192.0.2.70\r\n\
         CSeq: {cseq} {method}\r\n\
         User-Agent: UCCAPI/4.0.7577.0 OC/4.0.7577.0 (Microsoft Office Communicator)\r\n\
         {added}\
         Content-Length: {}\r\n\
         \r\n\
         {body}",
        body.len()
    )
}

/// The INVITE that opens pidgin-sipe's CSTA session: its added headers (Contact,
/// `Supported: timer`, `Content-Disposition: signal;handling=required`, the CSTA type) and
/// a RequestSystemStatus body.
#[test]
fn sipe_rcc_invite() {
    let added = printf(
        &load("sipe-rcc-INVITE-added-headers-template.txt"),
        &["<sip:alice@192.0.2.70:5061;transport=tls;ms-opaque=d3470f2e1d>"],
    );
    let body = printf(
        &load("sipe-rcc-request_system_status-template.xml"),
        &["tel:+14255550101"],
    );
    let bytes = sipe_request("INVITE", 1, "", &added, &body);

    let mut h = [HeaderIndex::EMPTY; 32];
    let msg = accept(bytes.as_bytes(), &mut h);
    assert_eq!(msg.method(), Some(Method::Invite));
    assert_eq!(msg.to().unwrap().tag(), None);
    let contacts: Vec<_> = msg.contacts().map(Result::unwrap).collect();
    assert_eq!(contacts.len(), 1);
    let c = contacts[0].addr().unwrap().uri.as_sip().unwrap();
    assert_eq!(c.transport(), Some("tls"));
    assert_eq!(c.params.value("ms-opaque"), Some("d3470f2e1d"));

    assert!(msg.has_token(HeaderName::Supported, "timer"));
    assert_eq!(
        msg.tokens(HeaderName::Supported)
            .map(Result::unwrap)
            .collect::<Vec<_>>(),
        ["timer"]
    );
    let d = disposition(&msg);
    assert!(d.is("signal"));
    assert_eq!(d.params.value("handling"), Some("required"));
    assert!(d.handling_required());
    assert_csta_xml(&msg);

    let via = msg.top_via().unwrap();
    assert_eq!(via.transport, Transport::Tls);
    assert_eq!(via.rport(), Some(None));
    assert_eq!(msg.content_length(), Some(body.len()));
    assert_eq!(msg.body(), body.as_bytes());
    assert!(body.contains(">tel:+14255550101</lcs:line>"));
}

/// An in-dialog INFO carrying a CSTA request with pidgin-sipe's two added headers.
#[test]
fn sipe_rcc_info() {
    let added = load("sipe-rcc-INFO-added-headers.txt");
    let body = printf(
        &load("sipe-rcc-make_call-template.xml"),
        &["tel:+14255550101", "tel:+14255550199"],
    );
    let bytes = sipe_request("INFO", 2, ";tag=9a8b7c", &added, &body);

    let mut h = [HeaderIndex::EMPTY; 32];
    let msg = accept(bytes.as_bytes(), &mut h);
    assert_eq!(msg.method(), Some(Method::Info));
    assert_eq!(msg.to().unwrap().tag(), Some("9a8b7c"));
    assert_eq!(msg.from().unwrap().params.value("epid"), Some("0011aabbcc"));
    let cseq = msg.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method), (2, Method::Info));
    let d = disposition(&msg);
    assert!(d.is("signal"));
    assert!(d.handling_required());
    assert_eq!(d.params.value("handling"), Some("required"));
    assert_csta_xml(&msg);
    assert_eq!(msg.count(HeaderName::Contact), 0);
    assert_eq!(msg.body(), body.as_bytes());
    assert!(body.contains("<callingDevice>tel:+14255550101</callingDevice>"));
    assert!(body.contains("<calledDirectoryNumber>tel:+14255550199</calledDirectoryNumber>"));
}

/// The FreeSWITCH mod_csta as-feature-event body (two parts, bare LF line ends, part
/// Content-Lengths as the source wrote them) as the body of a NOTIFY.
#[test]
fn freeswitch_multipart_notify_body() {
    let body = std::fs::read(
        data_dir().join("freeswitch-mod_csta-as-feature-event-NOTIFY-multipart-body.txt"),
    )
    .unwrap();
    let mut bytes = format!(
        "NOTIFY sip:7659366@192.0.2.80:5060 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKfs-as-1;rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:7659366@pbx.example.com>;tag=fsnotify1\r\n\
         To: <sip:7659366@pbx.example.com>;tag=phone1\r\n\
         Call-ID: as-feature-event-7659366@192.0.2.1\r\n\
         CSeq: 102 NOTIFY\r\n\
         Event: as-feature-event\r\n\
         Subscription-State: active;expires=3600\r\n\
         Content-Type: multipart/mixed;boundary=boundary1\r\n\
         Content-Length: {}\r\n\
         \r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(&body);

    let mut h = [HeaderIndex::EMPTY; 32];
    let msg = accept(&bytes, &mut h);
    assert_eq!(msg.method(), Some(Method::Notify));
    let ct = msg.content_type().unwrap().unwrap();
    assert!(ct.is("multipart", "mixed"));
    assert_eq!(ct.boundary(), Some("boundary1"));
    assert_eq!(body.len(), 768);
    assert_eq!(msg.content_length(), Some(768));
    assert_eq!(msg.body().len(), 768);
    assert_eq!(msg.body(), body.as_slice());
    assert!(event(&msg).is("as-feature-event"));
    let state =
        SubscriptionState::parse(msg.header(HeaderName::SubscriptionState).unwrap()).unwrap();
    assert_eq!(state.state, "active");
    assert_eq!(state.expires(), Some(3600));

    // The body splits at the boundary into two parts and the closing delimiter.
    let text = std::str::from_utf8(msg.body()).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let delimiters: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("--boundary1"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(delimiters.len(), 3);
    assert_eq!(lines[delimiters[2]], "--boundary1--");
    let parts: Vec<&[&str]> = delimiters
        .windows(2)
        .map(|w| &lines[w[0] + 1..w[1]])
        .collect();
    assert_eq!(parts.len(), 2);
    for (part, root) in parts.iter().zip(["DoNotDisturbEvent", "ForwardingEvent"]) {
        assert_eq!(part[0], "Content-Type: application/x-as-feature-event+xml");
        assert!(part.iter().any(|l| l.starts_with(&format!("<{root} "))));
    }
}

// The copies in tests/data are the source of truth; when the shared vectors sit next to the
// repository, they must not have drifted apart.
#[test]
fn copies_match_shared_vectors() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/csta");
    if !shared.is_dir() {
        eprintln!(
            "note: {} not found; skipping the comparison with the shared vectors",
            shared.display()
        );
        return;
    }
    let mut compared = 0;
    for entry in std::fs::read_dir(data_dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let theirs = if name.ends_with(".txt") {
            shared.join("sip").join(&name)
        } else {
            shared.join(&name)
        };
        let ours = std::fs::read(data_dir().join(&name)).unwrap();
        assert!(
            std::fs::read(&theirs).is_ok_and(|t| t == ours),
            "tests/data/csta-sip/{name} differs from {}",
            theirs.display()
        );
        compared += 1;
    }
    // Every shared SIP header set has a copy.
    for entry in std::fs::read_dir(shared.join("sip")).unwrap() {
        let name = entry.unwrap().file_name();
        assert!(
            data_dir().join(&name).is_file(),
            "no copy of csta/sip/{}",
            name.to_string_lossy()
        );
    }
    assert_eq!(compared, 8);
}
