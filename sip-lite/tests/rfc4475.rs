//! RFC 4475 (SIP torture test messages), one test per section.
//!
//! The messages are written for this suite: each one exercises the feature its RFC section
//! describes, not the RFC's own bytes. Every test runs the pipeline a server runs
//! (`Message::parse`, then `Message::validate`, each failure mapped to its reaction) and
//! asserts the exact outcome: the parsed fields of a valid message, or the error and the
//! answer for an invalid one. The comment above each test gives the RFC's expectation.

use std::net::Ipv4Addr;

use sip_lite::wire::{
    Contact, DisplayName, Header, HeaderIndex, HeaderName, Host, Message, Method, Param, Policy,
    QValue, Reaction, SipUri, StatusCode, Transport, Uri, Via, unescape,
};
use sip_lite::{HeaderError, ParseError, ValidationError, ValueError};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// The wire form of a message written with LF line ends: every LF becomes CRLF, and
/// `{CL}` in the header section becomes the length of the body (the octets after the
/// first empty line).
fn wire(text: &str) -> Vec<u8> {
    let crlf = text.replace('\n', "\r\n");
    let body_len = crlf.find("\r\n\r\n").map_or(0, |i| crlf.len() - (i + 4));
    crlf.replacen("{CL}", &body_len.to_string(), 1).into_bytes()
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

fn run_with(bytes: &[u8], policy: &Policy<'_>) -> Outcome {
    let mut headers = [HeaderIndex::EMPTY; 128];
    match Message::parse(bytes, &mut headers) {
        Err(e) => Outcome::ParseFailed(e, e.reaction(bytes)),
        Ok(msg) => match msg.validate(policy) {
            Ok(()) => Outcome::Accepted,
            Err(e) => Outcome::Invalid(e, e.reaction(msg.is_request())),
        },
    }
}

fn run(bytes: &[u8]) -> Outcome {
    run_with(bytes, &Policy::DEFAULT)
}

/// Parses a datagram that must frame, failing with the parse error otherwise.
fn parse<'a>(bytes: &'a [u8], headers: &'a mut [HeaderIndex]) -> Message<'a> {
    Message::parse(bytes, headers)
        .unwrap_or_else(|e| panic!("parse failed: {e:?}\n{}", String::from_utf8_lossy(bytes)))
}

/// Parses and validates with the default policy; the message must pass both.
fn accept<'a>(bytes: &'a [u8], headers: &'a mut [HeaderIndex]) -> Message<'a> {
    let msg = parse(bytes, headers);
    if let Err(e) = msg.validate(&Policy::DEFAULT) {
        panic!(
            "validation failed: {e:?}\n{}",
            String::from_utf8_lossy(bytes)
        );
    }
    msg
}

fn respond(code: StatusCode) -> Reaction {
    Reaction::Respond(code)
}

const BAD_REQUEST: Reaction = Reaction::Respond(StatusCode::BAD_REQUEST);

/// The %-decoded octets of a URI component.
fn unesc(s: &str) -> Vec<u8> {
    let mut buf = vec![0u8; s.len()];
    unescape(s, &mut buf).unwrap().to_vec()
}

fn sip_uri<'a>(uri: &Uri<'a>) -> SipUri<'a> {
    *uri.as_sip()
        .unwrap_or_else(|| panic!("not a SIP URI: {uri:?}"))
}

fn request_uri<'a>(msg: &Message<'a>) -> SipUri<'a> {
    sip_uri(
        &msg.request_uri()
            .expect("a request")
            .expect("a valid Request-URI"),
    )
}

fn vias<'a>(msg: &Message<'a>) -> Vec<Via<'a>> {
    msg.vias().map(Result::unwrap).collect()
}

fn contacts<'a>(msg: &Message<'a>) -> Vec<Contact<'a>> {
    msg.contacts().map(Result::unwrap).collect()
}

fn params<'a>(p: &sip_lite::wire::Params<'a>) -> Vec<Param<'a>> {
    p.iter().collect()
}

fn name(s: &'static str) -> Param<'static> {
    Param {
        name: s,
        value: None,
    }
}

fn name_value(s: &'static str, v: &'static str) -> Param<'static> {
    Param {
        name: s,
        value: Some(v),
    }
}

fn display(d: Option<DisplayName<'_>>) -> String {
    d.expect("a display name").chars().collect()
}

// ---------------------------------------------------------------------------------------
// 3.1.1 Valid messages
// ---------------------------------------------------------------------------------------

// 3.1.1.1: folding everywhere, LWS around every separator, odd header-name case, compact and
// long names mixed, unknown headers and parameters, leading zeros: a well-formed request.
#[test]
fn s3_1_1_1_wsinv() {
    let bytes = wire(
        r#"INVITE sip:alice@atlanta.example.com;mystery SIP/2.0
tO  :
 sip:alice@atlanta.example.com ;   tag    = 77ab1x
FROM   : "Bob \\ the \"Builder\""      <sip:bob@biloxi.example.com>
  ;
  tag = 9fx2k
mAx-FoRwArDs: 0042
Call-ID: torture.ws.4711@192.0.2.7
Content-Length   : {CL}
CSEQ: 0017
  INVITE
Via  : SIP  /   2.0
 /UDP
    192.0.2.7;rport;branch=mybranch77
s :
X-Weird-Thing:   first part of the value
 second part of the value
X-Syntax-Soup: ;,;;,,;=;
Content-Type: application/sdp
Route:
 <sip:edge.example.com;lr;odd=thing;flag-only>
v:  SIP  / 2.0  / TCP     relay.example.net   ;
  branch  =   z9hG4bKrelay1  ,
 SIP  /    2.0   / UDP  192.0.2.99   ; branch=
 z9hG4bKlast2
m:"A \"quoted\" name" <sip:bob@biloxi.example.com> ; color =
      blue ;
  flag ; q = 0.25

v=0
o=bob 1 1 IN IP4 192.0.2.7
s=-
c=IN IP4 192.0.2.8
t=0 0
m=audio 40000 RTP/AVP 0 8
a=rtpmap:0 PCMU/8000
"#,
    );
    let mut h = [HeaderIndex::EMPTY; 32];
    let msg = accept(&bytes, &mut h);
    assert_eq!(msg.header_count(), 14);
    assert_eq!(msg.method(), Some(Method::Invite));

    let ruri = request_uri(&msg);
    assert_eq!(ruri.user, Some("alice"));
    assert_eq!(ruri.host, Host::Domain("atlanta.example.com"));
    assert_eq!(params(&ruri.params), [name("mystery")]);

    let to = msg.to().unwrap();
    assert_eq!(to.display_name, None);
    assert_eq!(to.tag(), Some("77ab1x"));
    assert!(sip_uri(&to.uri).params.is_empty());

    let from = msg.from().unwrap();
    assert_eq!(
        from.display_name,
        Some(DisplayName::Quoted(r#"Bob \\ the \"Builder\""#))
    );
    assert_eq!(display(from.display_name), r#"Bob \ the "Builder""#);
    assert_eq!(from.tag(), Some("9fx2k"));

    assert_eq!(msg.max_forwards(), Some(Ok(42)));
    let cseq = msg.cseq().unwrap();
    assert_eq!((cseq.seq, cseq.method), (17, Method::Invite));
    assert_eq!(msg.call_id(), Ok("torture.ws.4711@192.0.2.7"));
    assert_eq!(msg.header(HeaderName::Subject), Some(""));

    // Two Via lines, one long and one compact, the second carrying two folded values.
    assert_eq!(msg.header_lines(HeaderName::Via).count(), 2);
    let v = vias(&msg);
    assert_eq!(v.len(), 3);
    assert_eq!((v[0].protocol, v[0].version), ("SIP", "2.0"));
    assert_eq!(v[0].transport, Transport::Udp);
    assert_eq!(v[0].host, Host::Ipv4(Ipv4Addr::new(192, 0, 2, 7)));
    assert_eq!(v[0].rport(), Some(None));
    assert_eq!(v[0].branch(), Some("mybranch77"));
    assert!(!v[0].has_rfc3261_branch());
    assert_eq!(v[1].transport, Transport::Tcp);
    assert_eq!(v[1].host, Host::Domain("relay.example.net"));
    assert_eq!(v[1].branch(), Some("z9hG4bKrelay1"));
    assert_eq!(v[2].transport, Transport::Udp);
    assert_eq!(v[2].host, Host::Ipv4(Ipv4Addr::new(192, 0, 2, 99)));
    assert_eq!(v[2].branch(), Some("z9hG4bKlast2"));

    // Unknown headers are kept as written, a folded value with its inner line break.
    assert_eq!(
        msg.header_named("x-weird-thing").collect::<Vec<_>>(),
        ["first part of the value\r\n second part of the value"]
    );
    assert_eq!(
        msg.header_named("X-Syntax-Soup").collect::<Vec<_>>(),
        [";,;;,,;=;"]
    );

    let route: Vec<_> = msg.routes().map(Result::unwrap).collect();
    assert_eq!(route.len(), 1);
    let r = sip_uri(&route[0].uri);
    assert!(r.lr());
    assert_eq!(
        params(&r.params),
        [name("lr"), name_value("odd", "thing"), name("flag-only")]
    );

    let c = contacts(&msg);
    assert_eq!(c.len(), 1);
    let a = c[0].addr().unwrap();
    assert_eq!(display(a.display_name), r#"A "quoted" name"#);
    assert_eq!(
        params(&a.params),
        [
            name_value("color", "blue"),
            name("flag"),
            name_value("q", "0.25")
        ]
    );
    assert_eq!(c[0].q(), Some(Ok(QValue(250))));

    assert!(
        msg.content_type()
            .unwrap()
            .unwrap()
            .is("application", "sdp")
    );
    assert_eq!(msg.content_length(), Some(msg.body().len()));
    assert!(msg.body().starts_with(b"v=0\r\n"));
    assert!(msg.body().ends_with(b"a=rtpmap:0 PCMU/8000\r\n"));
}

/// A method name made of every non-alphanumeric token character; `%` is no escape there.
const ODD_METHOD: &str = "`weird_Method-0123456789.!%*+'~";

// 3.1.1.2: unusual but legal characters in the method, Request-URI, branch, quoted display
// name (quoted NUL/BEL/DEL), token display name, parameters, Call-ID and an extension
// header; well-formed. A proxy that knows the URI forwards it; an endpoint answers 501.
#[test]
fn s3_1_1_2_intmeth() {
    let user = "odd_user.name~(really!)&isn't+it$/strange?,/;;*";
    let password = "&pass+word=2,odd!*pa$$~w_d.(yes-it-is)";
    let text = format!(
        "{ODD_METHOD} sip:{user}:{password}@example.net SIP/2.0\n\
         Via: SIP/2.0/TCP host1.example.net;branch=z9hG4bK-.!%2a*_+`'~\n\
         To: \"BEL:\\\u{7} NUL:\\\u{0} DEL:\\\u{7f}\" <sip:{user}@example.net>\n\
         From: tok1~` tok2'+_ tok3*%!.- <sip:plain@example.net>;odd-Param''~+*_!.-%=\"gr\u{fc}\u{df}e, \u{4e16}\u{754c}\";tag=_tag~1'+`*%!-.\n\
         Call-ID: intmeth.w%ZZ-!.*_+'@w`~)(><:\\/\"][?}}{{\n\
         CSeq: 24680 {ODD_METHOD}\n\
         Max-Forwards: 255\n\
         x-Ext-Header-!.%*+_`'~: \u{505c}\u{96fb}\u{4e2d}\n\
         Content-Length: 0\n\
         \n"
    );
    let bytes = wire(&text);
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = parse(&bytes, &mut h);

    assert_eq!(msg.method(), Some(Method::Extension(ODD_METHOD)));
    let ruri = request_uri(&msg);
    assert_eq!(ruri.user, Some(user));
    assert_eq!(ruri.password, Some(password));
    assert_eq!(ruri.host, Host::Domain("example.net"));
    assert!(ruri.params.is_empty());
    assert_eq!(ruri.headers, None);

    assert_eq!(msg.top_via().unwrap().branch(), Some("z9hG4bK-.!%2a*_+`'~"));

    let to = msg.to().unwrap();
    assert_eq!(display(to.display_name), "BEL:\u{7} NUL:\u{0} DEL:\u{7f}");
    assert_eq!(sip_uri(&to.uri).user, Some(user));

    let from = msg.from().unwrap();
    assert_eq!(
        from.display_name,
        Some(DisplayName::Tokens("tok1~` tok2'+_ tok3*%!.-"))
    );
    assert_eq!(
        from.params.value("odd-Param''~+*_!.-%"),
        Some("gr\u{fc}\u{df}e, \u{4e16}\u{754c}")
    );
    assert_eq!(from.tag(), Some("_tag~1'+`*%!-."));

    assert_eq!(msg.call_id(), Ok("intmeth.w%ZZ-!.*_+'@w`~)(><:\\/\"][?}{"));
    let cseq = msg.cseq().unwrap();
    assert_eq!(cseq.method, Method::Extension(ODD_METHOD));
    assert_eq!(msg.max_forwards(), Some(Ok(255)));
    assert_eq!(
        msg.header_named("X-EXT-HEADER-!.%*+_`'~")
            .collect::<Vec<_>>(),
        ["\u{505c}\u{96fb}\u{4e2d}"]
    );

    // An endpoint does not implement the method: 501.
    assert_eq!(
        run(&bytes),
        Outcome::Invalid(
            ValidationError::NotImplemented,
            respond(StatusCode::NOT_IMPLEMENTED)
        )
    );
    // A proxy (any method) finds nothing wrong and forwards it.
    let proxy = Policy {
        methods: &[],
        proxy: true,
        ..Policy::DEFAULT
    };
    assert_eq!(run_with(&bytes, &proxy), Outcome::Accepted);
    // "%" in a method is not an escape: IN%56ITE is an unknown method, not INVITE.
    assert_eq!(Method::parse("IN%56ITE"), Ok(Method::Extension("IN%56ITE")));
}

// 3.1.1.3: %HH escapes in the Request-URI user part, From/To user parts and Contact URI
// parameters are valid; the escaped forms mean the characters they encode, decoded once.
#[test]
fn s3_1_1_3_esc01() {
    let bytes = wire(
        "INVITE sip:sips%3Acarol%40example.org@example.net SIP/2.0
To: sip:%63ar%6Fl@example.org
From: <sip:Carol%20B%20Smith@example.net>;tag=esc1a
Max-Forwards: 70
Call-ID: esc01.8812kdk@192.0.2.4
CSeq: 1 INVITE
Via: SIP/2.0/UDP host4.example.net;branch=z9hG4bKesc01a
Contact: <sip:c%61rol@host4.example.net;%6C%72;t%79pe=v%61lue%25%34%31>
Content-Type: application/sdp
Content-Length: {CL}

v=0
o=carol 7 7 IN IP4 host4.example.net
s=-
c=IN IP4 192.0.2.4
t=0 0
m=audio 50000 RTP/AVP 0
",
    );
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = accept(&bytes, &mut h);

    let ruri = request_uri(&msg);
    assert_eq!(ruri.user, Some("sips%3Acarol%40example.org"));
    assert_eq!(unesc(ruri.user.unwrap()), b"sips:carol@example.org");
    assert_eq!(ruri.host, Host::Domain("example.net"));

    let to = msg.to().unwrap();
    assert_eq!(sip_uri(&to.uri).user, Some("%63ar%6Fl"));
    assert_eq!(unesc(sip_uri(&to.uri).user.unwrap()), b"carol");
    assert!(
        to.uri
            .equivalent(&Uri::parse("sip:carol@example.org").unwrap())
    );

    let from = msg.from().unwrap();
    assert_eq!(unesc(sip_uri(&from.uri).user.unwrap()), b"Carol B Smith");

    let c = contacts(&msg);
    let cu = sip_uri(&c[0].addr().unwrap().uri);
    assert_eq!(unesc(cu.user.unwrap()), b"carol");
    let p = params(&cu.params);
    assert_eq!(
        p,
        [name("%6C%72"), name_value("t%79pe", "v%61lue%25%34%31")]
    );
    assert_eq!(unesc(p[0].name), b"lr");
    assert_eq!(unesc(p[1].name), b"type");
    // Decoding happens once: the value is "value%41", not "valueA".
    assert_eq!(unesc(p[1].value.unwrap()), b"value%41");
    // The escaped parameter name is the lr parameter.
    assert!(cu.lr());
    let contact_uri = &c[0].addr().unwrap().uri;
    assert!(
        contact_uri
            .equivalent(&Uri::parse("sip:carol@host4.example.net;lr;type=value%2541").unwrap())
    );
    assert!(
        !contact_uri.equivalent(&Uri::parse("sip:carol@host4.example.net;lr;type=valueA").unwrap())
    );
}

// 3.1.1.4: %00 (an escaped NUL) in URI user parts is well-formed; the decoded octets are
// NULs, which must not truncate anything.
#[test]
fn s3_1_1_4_escnull() {
    let bytes = wire(
        "REGISTER sip:example.org SIP/2.0
To: sip:zero-%00-zero@example.org
From: sip:zero-%00-zero@example.org;tag=nul0
Max-Forwards: 70
Call-ID: escnull.1d0@192.0.2.5
CSeq: 900 REGISTER
Via: SIP/2.0/UDP host5.example.org;rport;branch=z9hG4bKnul1
Contact: <sip:%00@host5.example.org>
Contact: <sip:%00%00@host5.example.org>
L:0

",
    );
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = accept(&bytes, &mut h);
    let to = msg.to().unwrap();
    let from = msg.from().unwrap();
    assert_eq!(unesc(sip_uri(&to.uri).user.unwrap()), b"zero-\0-zero");
    assert!(to.uri.equivalent(&from.uri));
    assert_eq!(from.tag(), Some("nul0"));
    let c = contacts(&msg);
    assert_eq!(c.len(), 2);
    assert_eq!(
        unesc(sip_uri(&c[0].addr().unwrap().uri).user.unwrap()),
        b"\0"
    );
    assert_eq!(
        unesc(sip_uri(&c[1].addr().unwrap().uri).user.unwrap()),
        b"\0\0"
    );
    assert!(
        !c[0]
            .addr()
            .unwrap()
            .uri
            .equivalent(&c[1].addr().unwrap().uri)
    );
    assert_eq!(msg.content_length(), Some(0));
}

// 3.1.1.5: "%" is an escape only inside URIs: the method RE%47IST%45R is unknown (not
// REGISTER), "%Z%45" is a display name, C%6Fntact is an unknown header (two Contacts, not
// three). Well-formed; an endpoint answers 501.
#[test]
fn s3_1_1_5_esc02() {
    let bytes = wire(
        r#"RE%47IST%45R sip:registrar.example.org SIP/2.0
To: "%Z%45" <sip:thing@example.org>
From: "%Z%45" <sip:thing@example.org>;tag=pct2
Via: SIP/2.0/UDP host6.example.org;branch=z9hG4bKpct2
Call-ID: esc02.pct@192.0.2.6
CSeq: 31 RE%47IST%45R
Max-Forwards: 70
Contact: <sip:first@host1.example.org>
C%6Fntact: <sip:second@host2.example.org>
Contact: <sip:third@host3.example.org>
l: 0

"#,
    );
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = parse(&bytes, &mut h);
    assert_eq!(msg.method(), Some(Method::Extension("RE%47IST%45R")));
    assert_ne!(msg.method(), Some(Method::Register));
    assert_eq!(
        msg.cseq().unwrap().method,
        Method::Extension("RE%47IST%45R")
    );
    assert_eq!(
        msg.to().unwrap().display_name,
        Some(DisplayName::Quoted("%Z%45"))
    );
    assert_eq!(display(msg.from().unwrap().display_name), "%Z%45");
    assert_eq!(msg.count(HeaderName::Contact), 2);
    assert_eq!(HeaderName::parse("C%6Fntact"), HeaderName::Other);
    assert_eq!(
        msg.header_named("C%6Fntact").collect::<Vec<_>>(),
        ["<sip:second@host2.example.org>"]
    );
    let users: Vec<_> = contacts(&msg)
        .iter()
        .map(|c| sip_uri(&c.addr().unwrap().uri).user.unwrap())
        .collect();
    assert_eq!(users, ["first", "third"]);

    assert_eq!(
        run(&bytes),
        Outcome::Invalid(
            ValidationError::NotImplemented,
            respond(StatusCode::NOT_IMPLEMENTED)
        )
    );
    let proxy = Policy {
        methods: &[],
        proxy: true,
        ..Policy::DEFAULT
    };
    assert_eq!(run_with(&bytes, &proxy), Outcome::Accepted);
}

// 3.1.1.6: no LWS between a token display name and "<" is outside the RFC 3261 grammar by
// a known specification bug; elements should accept it.
#[test]
fn s3_1_1_6_lwsdisp() {
    let bytes = wire(
        r#"OPTIONS sip:dave@example.com SIP/2.0
To: "Dave"<sip:dave@example.com>
From: caller<sip:caller@example.net>;tag=nolws6
Max-Forwards: 70
Call-ID: lwsdisp.1234@192.0.2.9
CSeq: 5 OPTIONS
Via: SIP/2.0/UDP host9.example.net;branch=z9hG4bKlws6
l: 0

"#,
    );
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = accept(&bytes, &mut h);
    let from = msg.from().unwrap();
    assert_eq!(from.display_name, Some(DisplayName::Tokens("caller")));
    assert_eq!(sip_uri(&from.uri).user, Some("caller"));
    assert_eq!(from.tag(), Some("nolws6"));
    let to = msg.to().unwrap();
    assert_eq!(to.display_name, Some(DisplayName::Quoted("Dave")));
    assert_eq!(sip_uri(&to.uri).user, Some("dave"));
}

// 3.1.1.7: very long values (Request-URI, display name, URI and header parameters, tag,
// Call-ID, branch, unknown header) and headers with many values; well-formed.
#[test]
fn s3_1_1_7_longreq() {
    let long_user: String = (0..300)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let long_display = "Ln".repeat(200);
    let long_pname = "longparametername".repeat(10);
    let long_pvalue = "v".repeat(300);
    let long_tag = "T0".repeat(1000);
    let long_call_id = format!("{}@{}", "c".repeat(700), "h".repeat(300));
    let long_branch = format!("z9hG4bK{}", "b".repeat(500));
    let long_unknown = "x".repeat(5000);
    let routes: Vec<String> = (0..30)
        .map(|i| format!("<sip:proxy{i}.example.com;lr>"))
        .collect();
    let mut text = format!(
        "INVITE sip:{long_user}@example.com SIP/2.0\n\
         To: \"{long_display}\" <sip:{long_user}@example.com;{long_pname}={long_pvalue}>\n\
         From: <sip:caller@example.net>;{long_pname}={long_pvalue};tag={long_tag}\n\
         Call-ID: {long_call_id}\n\
         CSeq: 1 INVITE\n\
         Max-Forwards: 70\n\
         Via: SIP/2.0/TCP 192.0.2.200;branch={long_branch}\n"
    );
    for i in 1..40 {
        text.push_str(&format!(
            "Via: SIP/2.0/UDP host{i}.example.net:5{i:03};received=192.0.2.{i};branch=z9hG4bK{i}\n"
        ));
    }
    text.push_str(&format!("Route: {}\n", routes.join(", ")));
    text.push_str(&format!(
        "Contact: <sip:{long_user}@192.0.2.200:5060;transport=tcp>\n\
         X-Long-Unknown: {long_unknown}\n\
         Content-Type: application/sdp\n\
         Content-Length: {{CL}}\n\
         \n\
         v=0\no=- 1 1 IN IP4 192.0.2.200\ns=-\nc=IN IP4 192.0.2.200\nt=0 0\nm=audio 9 RTP/AVP 0\n"
    ));
    let bytes = wire(&text);
    assert!(bytes.len() > 12_000);
    let mut h = [HeaderIndex::EMPTY; 64];
    let msg = accept(&bytes, &mut h);

    assert_eq!(request_uri(&msg).user, Some(long_user.as_str()));
    let to = msg.to().unwrap();
    assert_eq!(to.display_name, Some(DisplayName::Quoted(&long_display)));
    assert_eq!(
        sip_uri(&to.uri).params.value(&long_pname),
        Some(long_pvalue.as_str())
    );
    let from = msg.from().unwrap();
    assert_eq!(from.tag(), Some(long_tag.as_str()));
    assert_eq!(from.params.value(&long_pname), Some(long_pvalue.as_str()));
    assert_eq!(msg.call_id(), Ok(long_call_id.as_str()));

    let v = vias(&msg);
    assert_eq!(v.len(), 40);
    assert_eq!(v[0].branch(), Some(long_branch.as_str()));
    assert_eq!(v[39].port, Some(5039));
    assert_eq!(
        v[39].received(),
        Some(Host::Ipv4(Ipv4Addr::new(192, 0, 2, 39)))
    );
    let r: Vec<_> = msg.routes().map(Result::unwrap).collect();
    assert_eq!(r.len(), 30);
    assert_eq!(
        sip_uri(&r[29].uri).host,
        Host::Domain("proxy29.example.com")
    );
    assert_eq!(
        msg.header_named("x-long-unknown").next(),
        Some(long_unknown.as_str())
    );
    assert_eq!(msg.header_count(), 6 + 39 + 5);
    assert_eq!(msg.body().len(), msg.content_length().unwrap());
}

// 3.1.1.8: octets after the Content-Length body of a UDP datagram (here they look like a
// second request) are noise to be ignored; the first request is handled normally.
#[test]
fn s3_1_1_8_dblreq() {
    let bytes = wire(
        "REGISTER sip:example.com SIP/2.0
To: sip:erin@example.com
From: sip:erin@example.com;tag=dbl8
Max-Forwards: 70
Call-ID: dblreq.0xf00@192.0.2.10
CSeq: 2200 REGISTER
Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKdbl8
Contact: <sip:erin@192.0.2.10>
Content-Length: 0

INVITE sip:erin@example.com SIP/2.0
To: sip:erin@example.com
From: sip:mallory@example.net;tag=dbl8b
Max-Forwards: 70
Call-ID: dblreq.second@192.0.2.66
CSeq: 1 INVITE
Via: SIP/2.0/UDP 192.0.2.66;branch=z9hG4bKdbl8b
Contact: <sip:mallory@192.0.2.66>
Content-Length: 0

",
    );
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = accept(&bytes, &mut h);
    assert_eq!(msg.method(), Some(Method::Register));
    assert_eq!(msg.content_length(), Some(0));
    assert_eq!(msg.body(), b"");
    assert_eq!(msg.header_count(), 8);
    assert_eq!(msg.count(HeaderName::Contact), 1);
    assert_eq!(msg.call_id(), Ok("dblreq.0xf00@192.0.2.10"));
    assert!(!msg.head().contains("INVITE"));
}

// 3.1.1.9: a ";" parameter inside the Request-URI user part (with an escaped "@") belongs to
// the user, which is "frank;par=f@example.org" once decoded.
#[test]
fn s3_1_1_9_semiuri() {
    let bytes = wire(
        "OPTIONS sip:frank;par=f%40example.org@example.com SIP/2.0
To: sip:frank@example.com
From: <sip:caller@example.net>;tag=semi9
Max-Forwards: 70
Call-ID: semiuri.0x9@192.0.2.16
CSeq: 9 OPTIONS
Via: SIP/2.0/UDP 192.0.2.16;branch=z9hG4bKsemi9
l: 0

",
    );
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = accept(&bytes, &mut h);
    let ruri = request_uri(&msg);
    assert_eq!(ruri.user, Some("frank;par=f%40example.org"));
    assert_eq!(unesc(ruri.user.unwrap()), b"frank;par=f@example.org");
    assert_eq!(ruri.host, Host::Domain("example.com"));
    assert!(ruri.params.is_empty());
}

// 3.1.1.10: Via values with every known transport and an unknown one; well-formed, handled
// as if the transport were a known one.
#[test]
fn s3_1_1_10_transports() {
    let bytes = wire(
        "OPTIONS sip:grace@example.com SIP/2.0
To: sip:grace@example.com
From: <sip:caller@example.net>;tag=tp10
Call-ID: transports.kx@192.0.2.11
CSeq: 1 OPTIONS
Via: SIP/2.0/UDP t1.example.net;branch=z9hG4bKtp1
Via: SIP/2.0/SCTP t2.example.net;branch=z9hG4bKtp2
Via: SIP/2.0/TLS t3.example.net;branch=z9hG4bKtp3
Via: SIP/2.0/UNKNOWN t4.example.net;branch=z9hG4bKtp4
Via: SIP/2.0/TCP t5.example.net;branch=z9hG4bKtp5, SIP/2.0/TLS-SCTP t6.example.net;branch=z9hG4bKtp6
v: SIP/2.0/wss t7.example.net;branch=z9hG4bKtp7,SIP/2.0/Ws t8.example.net;branch=z9hG4bKtp8
Max-Forwards: 70
l: 0

",
    );
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = accept(&bytes, &mut h);
    let v = vias(&msg);
    let transports: Vec<_> = v.iter().map(|v| v.transport).collect();
    assert_eq!(
        transports,
        [
            Transport::Udp,
            Transport::Sctp,
            Transport::Tls,
            Transport::Other("UNKNOWN"),
            Transport::Tcp,
            Transport::TlsSctp,
            Transport::Wss,
            Transport::Ws,
        ]
    );
    let hosts: Vec<_> = v.iter().map(|v| v.host).collect();
    assert_eq!(hosts[3], Host::Domain("t4.example.net"));
    assert_eq!(hosts[7], Host::Domain("t8.example.net"));
    assert_eq!(v[3].branch(), Some("z9hG4bKtp4"));
    assert_eq!(v[2].port_or_default(), 5061);
    assert_eq!(v[3].port_or_default(), 5060);
}

// 3.1.1.11: a multipart/signed MESSAGE whose second part is binary with NUL octets must be
// framed by Content-Length and accepted even if the application does not support it.
#[test]
fn s3_1_1_11_mpart01() {
    let signature: &[u8] = &[
        0x30, 0x82, 0x01, 0x00, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
        0xa0, 0x00, 0x00, 0xff, 0xfe, 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x80, 0xc3, 0x28,
    ];
    let mut body = Vec::new();
    body.extend_from_slice(
        b"------=_Part_ab12\r\nContent-Type: text/plain\r\n\r\nMeet me at noon.\r\n\
          ------=_Part_ab12\r\nContent-Type: application/pkcs7-signature; name=smime.p7s\r\n\
          Content-Transfer-Encoding: binary\r\n\
          Content-Disposition: attachment; filename=smime.p7s; handling=required\r\n\r\n",
    );
    body.extend_from_slice(signature);
    body.extend_from_slice(b"\r\n------=_Part_ab12--\r\n");
    let mut bytes = format!(
        "MESSAGE sip:heidi@example.com SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.12;branch=z9hG4bKmp11\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:ivan@example.net>;tag=mp11\r\n\
         To: <sip:heidi@example.com>\r\n\
         Call-ID: mpart01.sgn@192.0.2.12\r\n\
         CSeq: 3 MESSAGE\r\n\
         Content-Type: multipart/signed;protocol=\"application/pkcs7-signature\";\r\n \
         micalg=sha-256;boundary=\"----=_Part_ab12\"\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    bytes.extend_from_slice(&body);

    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = accept(&bytes, &mut h);
    assert_eq!(msg.method(), Some(Method::Message));
    assert_eq!(msg.body(), body.as_slice());
    assert!(msg.body().contains(&0));
    assert!(std::str::from_utf8(msg.body()).is_err());
    let ct = msg.content_type().unwrap().unwrap();
    assert!(ct.is("multipart", "signed"));
    assert_eq!(ct.boundary(), Some("----=_Part_ab12"));
    assert_eq!(
        ct.params.value("protocol"),
        Some("application/pkcs7-signature")
    );
    assert_eq!(ct.params.value("micalg"), Some("sha-256"));
    // Two parts between the delimiters.
    let delimiter = b"\r\n------=_Part_ab12";
    let parts = msg
        .body()
        .windows(delimiter.len())
        .filter(|w| *w == delimiter)
        .count();
    assert_eq!(parts, 2);

    // On a stream the same bytes frame exactly, with the next message left untouched.
    let mut stream = bytes.clone();
    stream.extend_from_slice(b"\r\n\r\n");
    let mut h2 = [HeaderIndex::EMPTY; 16];
    let (framed, used) = Message::parse_stream(&stream, &mut h2)
        .unwrap()
        .complete()
        .unwrap();
    assert_eq!(used, bytes.len());
    assert_eq!(framed.body(), body.as_slice());
}

// 3.1.1.12: a reason phrase other than "OK", with reserved, unreserved, escaped and non-ASCII
// UTF-8 characters, is well-formed and must be accepted.
#[test]
fn s3_1_1_12_unreason() {
    let reason = "Sure: 2**4 * 3 = 48; \u{a1}vale! \u{2014} \u{e7}a marche \u{2713} (%41 stays)";
    let bytes = wire(&format!(
        "SIP/2.0 200 {reason}
Via: SIP/2.0/UDP 192.0.2.17;branch=z9hG4bKun12
To: <sip:judy@example.com>;tag=un12b
From: <sip:ken@example.net>;tag=un12a
Call-ID: unreason.aa@192.0.2.17
CSeq: 12 INVITE
Contact: <sip:judy@192.0.2.18>
Content-Type: application/sdp
Content-Length: {{CL}}

v=0
o=judy 2 2 IN IP4 192.0.2.18
s=-
c=IN IP4 192.0.2.18
t=0 0
m=audio 30000 RTP/AVP 0
"
    ));
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = accept(&bytes, &mut h);
    assert!(!msg.is_request());
    assert_eq!(msg.status(), Some(StatusCode::OK));
    assert_eq!(msg.reason(), Some(reason));
    assert_eq!(msg.cseq().unwrap().method, Method::Invite);
    assert_eq!(msg.body().len(), msg.content_length().unwrap());
}

// 3.1.1.13: an empty reason phrase (the SP after the code present) is well-formed. Without
// that SP a receiver may reject or accept; this library accepts it.
#[test]
fn s3_1_1_13_noreason() {
    let head = "Via: SIP/2.0/UDP 192.0.2.19;branch=z9hG4bKnr13\r\n\
                To: <sip:liz@example.com>;tag=nr13b\r\n\
                From: <sip:max@example.net>;tag=nr13a\r\n\
                Call-ID: noreason.0@192.0.2.19\r\n\
                CSeq: 13 INVITE\r\n\
                Content-Length: 0\r\n\r\n";
    let strict = format!("SIP/2.0 100 \r\n{head}");
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = accept(strict.as_bytes(), &mut h);
    assert_eq!(msg.status(), Some(StatusCode::TRYING));
    assert_eq!(msg.reason(), Some(""));

    let liberal = format!("SIP/2.0 100\r\n{head}");
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = accept(liberal.as_bytes(), &mut h);
    assert_eq!(msg.status(), Some(StatusCode::TRYING));
    assert_eq!(msg.reason(), Some(""));
}

// ---------------------------------------------------------------------------------------
// 3.1.2 Invalid messages
// ---------------------------------------------------------------------------------------

// 3.1.2.1: empty parameters and values (stray ";" and ",") in Via and Contact make the
// request invalid; answer 400.
#[test]
fn s3_1_2_1_badinv01() {
    let bytes = wire(
        r#"INVITE sip:judy@example.com SIP/2.0
To: sip:judy@example.com
From: sip:kim@example.net;tag=bad1
Max-Forwards: 70
Call-ID: badinv01.5x@192.0.2.13
CSeq: 77 INVITE
Via: SIP/2.0/UDP 192.0.2.13;;,;,,
Contact: "Kim" <sip:kim@example.net>;;;;
Content-Type: application/sdp
Content-Length: {CL}

v=0
o=kim 1 1 IN IP4 192.0.2.13
s=-
c=IN IP4 192.0.2.13
t=0 0
m=audio 20000 RTP/AVP 0
"#,
    );
    assert_eq!(
        run(&bytes),
        Outcome::Invalid(
            ValidationError::Invalid(HeaderName::Via, ValueError::Param),
            BAD_REQUEST
        )
    );
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = parse(&bytes, &mut h);
    // The Contact is just as broken.
    assert_eq!(
        msg.contacts().next(),
        Some(Err(HeaderError::Invalid(
            HeaderName::Contact,
            ValueError::Param
        )))
    );
}

// 3.1.2.2: Content-Length larger than the body. Over UDP: answer 400. Over a stream: wait
// for more octets (and close the connection if they never come).
#[test]
fn s3_1_2_2_clerr() {
    let bytes = wire(
        "INVITE sip:larry@example.com SIP/2.0
Max-Forwards: 70
To: sip:larry@example.com
From: sip:mona@example.net;tag=cl22
Call-ID: clerr.long@192.0.2.20
CSeq: 2 INVITE
Via: SIP/2.0/UDP 192.0.2.20;branch=z9hG4bKcl22
Content-Type: application/sdp
Content-Length: 9999

v=0
o=mona 3 3 IN IP4 192.0.2.20
s=-
c=IN IP4 192.0.2.20
t=0 0
m=audio 25000 RTP/AVP 0
",
    );
    assert_eq!(
        run(&bytes),
        Outcome::ParseFailed(ParseError::BodyTruncated, BAD_REQUEST)
    );
    let mut h = [HeaderIndex::EMPTY; 16];
    assert_eq!(
        Message::parse_stream(&bytes, &mut h).map(|s| s.is_complete()),
        Ok(false)
    );
}

// 3.1.2.3: a negative (or non-numeric) Content-Length is an error: answer it; the rest of a
// UDP datagram is discarded, a stream cannot be resynchronised.
#[test]
fn s3_1_2_3_ncl() {
    let message = |cl: &str| {
        wire(&format!(
            "INVITE sip:nina@example.com SIP/2.0
Max-Forwards: 70
To: sip:nina@example.com
From: sip:otto@example.net;tag=ncl3
Call-ID: ncl.neg@192.0.2.21
CSeq: 3 INVITE
Via: SIP/2.0/UDP 192.0.2.21;branch=z9hG4bKncl3
Content-Type: application/sdp
Content-Length: {cl}

v=0
o=otto 4 4 IN IP4 192.0.2.21
s=-
c=IN IP4 192.0.2.21
t=0 0
m=audio 26000 RTP/AVP 0
"
        ))
    };
    for cl in ["-999", "five", "+12", "0x10", ""] {
        let bytes = message(cl);
        assert_eq!(
            run(&bytes),
            Outcome::ParseFailed(ParseError::ContentLength, BAD_REQUEST),
            "Content-Length: {cl}"
        );
        let mut h = [HeaderIndex::EMPTY; 16];
        assert_eq!(
            Message::parse_stream(&bytes, &mut h).map(|s| s.is_complete()),
            Err(ParseError::ContentLength),
            "stream, Content-Length: {cl}"
        );
    }
}

const SCALAR_REGISTER: &str = "REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/TCP host129.example.com;branch=z9hG4bKsc24
From: <sip:pam@example.com>;tag=sc24
To: <sip:pam@example.com>
Call-ID: scalar02.big@192.0.2.22
CSeq: {CSEQ} REGISTER
Max-Forwards: {MF}
Expires: {EXP}
Contact: <sip:pam@host129.example.com>;expires={CEXP}
Content-Length: 0

";

fn scalar_register(cseq: &str, mf: &str, exp: &str, cexp: &str) -> Vec<u8> {
    wire(
        &SCALAR_REGISTER
            .replace("{CSEQ}", cseq)
            .replace("{MF}", mf)
            .replace("{EXP}", exp)
            .replace("{CEXP}", cexp),
    )
}

// 3.1.2.4: scalar values out of range (CSeq > 2^32-1, Max-Forwards > 255, Expires and Contact
// expires > 2^32-1): answer 400 because of the CSeq. Alone, an oversized Max-Forwards may be
// treated as absent or rejected, oversized expiries may be read as the default or rejected.
#[test]
fn s3_1_2_4_scalar02() {
    let all = scalar_register(
        "36893488147419103232",
        "300",
        "10000000000",
        "280297596632815",
    );
    assert_eq!(
        run(&all),
        Outcome::Invalid(
            ValidationError::Invalid(HeaderName::CSeq, ValueError::Number),
            BAD_REQUEST
        )
    );
    // Each field alone. The library rejects an oversized Max-Forwards or Expires (both
    // outcomes are permitted) ...
    assert_eq!(
        run(&scalar_register("1", "300", "3600", "3600")),
        Outcome::Invalid(ValidationError::MaxForwardsRange, BAD_REQUEST)
    );
    assert_eq!(
        run(&scalar_register("1", "70", "10000000000", "3600")),
        Outcome::Invalid(
            ValidationError::Invalid(HeaderName::Expires, ValueError::Number),
            BAD_REQUEST
        )
    );
    // ... and leaves an oversized Contact expires parameter to the registrar, which reads
    // it as an error (and so may apply the default).
    let cexp = scalar_register("1", "70", "3600", "280297596632815");
    assert_eq!(run(&cexp), Outcome::Accepted);
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = parse(&cexp, &mut h);
    assert_eq!(contacts(&msg)[0].expires(), Some(Err(ValueError::Number)));
    // The largest values in range pass; a CSeq of 2^31 and more is out of the RFC 3261
    // section 8.1.1.5 range.
    assert_eq!(
        run(&scalar_register(
            "2147483647",
            "255",
            "4294967295",
            "4294967295"
        )),
        Outcome::Accepted
    );
    assert_eq!(
        run(&scalar_register("2147483648", "70", "3600", "3600")),
        Outcome::Invalid(ValidationError::CSeqRange, BAD_REQUEST)
    );
}

// 3.1.2.5: a response with out-of-range scalars (CSeq > 2^32-1, a huge Retry-After, a
// four-digit warn-code) is simply discarded.
#[test]
fn s3_1_2_5_scalarlg() {
    let bytes = wire(
        r#"SIP/2.0 503 Service Unavailable
Via: SIP/2.0/TCP 192.0.2.14;branch=z9hG4bKlg5
To: <sip:lou@example.com>;tag=lg5b
From: <sip:mia@example.net>;tag=lg5a
Call-ID: scalarlg.x9@192.0.2.14
CSeq: 18446744073709551616 OPTIONS
Retry-After: 1844674407370955161600
Warning: 1812 overture "Queue is full"
Content-Length: 0

"#,
    );
    assert_eq!(
        run(&bytes),
        Outcome::Invalid(
            ValidationError::Invalid(HeaderName::CSeq, ValueError::Number),
            Reaction::Drop
        )
    );
    // The Retry-After would fail on its own as well.
    let fixed = String::from_utf8(bytes)
        .unwrap()
        .replace("CSeq: 18446744073709551616", "CSeq: 1");
    assert_eq!(
        run(fixed.as_bytes()),
        Outcome::Invalid(
            ValidationError::Invalid(HeaderName::RetryAfter, ValueError::Number),
            Reaction::Drop
        )
    );
}

// 3.1.2.6: an unterminated quoted string in the To display name: answer 400 (inferring the
// closing quote is allowed but risky; this library does not infer).
#[test]
fn s3_1_2_6_quotbal() {
    for to in [
        r#""Ms. N. Body <sip:n.body@example.com>"#,
        r#""Ms. N. Body <sip:n.body@example.com> <sip:real@example.net>"#,
    ] {
        let bytes = wire(&format!(
            "INVITE sip:n.body@example.com SIP/2.0
To: {to}
From: sip:ola@example.net;tag=qb26
Max-Forwards: 70
Call-ID: quotbal.q@192.0.2.23
CSeq: 26 INVITE
Via: SIP/2.0/UDP 192.0.2.23;branch=z9hG4bKqb26
Content-Length: 0

"
        ));
        assert_eq!(
            run(&bytes),
            Outcome::Invalid(
                ValidationError::Invalid(HeaderName::To, ValueError::UnterminatedQuote),
                BAD_REQUEST
            ),
            "To: {to}"
        );
    }
}

/// An OPTIONS request around a start line.
fn with_start_line(start: &str, method: &str) -> Vec<u8> {
    wire(&format!(
        "{start}
To: sip:quinn@example.com
From: sip:ray@example.net;tag=sl29
Max-Forwards: 70
Call-ID: startline.z@192.0.2.24
CSeq: 29 {method}
Via: SIP/2.0/UDP 192.0.2.24;branch=z9hG4bKsl29
Content-Length: 0

"
    ))
}

// 3.1.2.7: a Request-URI enclosed in "<>" is invalid; always rejecting with 400 is
// reasonable (ignoring the brackets is the liberal alternative).
#[test]
fn s3_1_2_7_ltgtruri() {
    let bytes = with_start_line("INVITE <sip:quinn@example.com> SIP/2.0", "INVITE");
    assert_eq!(
        run(&bytes),
        Outcome::Invalid(ValidationError::RequestUri(ValueError::Scheme), BAD_REQUEST)
    );
}

// 3.1.2.8: LWS inside the Request-URI is illegal; answer 400 (ignoring it where that is
// unambiguous is the liberal alternative).
#[test]
fn s3_1_2_8_lwsruri() {
    let bytes = with_start_line("INVITE sip:quinn@example.com; lr SIP/2.0", "INVITE");
    assert_eq!(
        run(&bytes),
        Outcome::ParseFailed(ParseError::StartLine, BAD_REQUEST)
    );
}

// 3.1.2.9: several SP between the start-line elements: rejecting as malformed and ignoring
// the extra SP are both acceptable; this library rejects with 400.
#[test]
fn s3_1_2_9_lwsstart() {
    let bytes = with_start_line("INVITE  sip:quinn@example.com   SIP/2.0", "INVITE");
    assert_eq!(
        run(&bytes),
        Outcome::ParseFailed(ParseError::StartLine, BAD_REQUEST)
    );
}

// 3.1.2.10: SP after the SIP-Version at the end of the request line: rejecting as malformed
// and ignoring the SP are both acceptable; this library rejects with 400.
#[test]
fn s3_1_2_10_trws() {
    let bytes = with_start_line("OPTIONS sip:quinn@example.com SIP/2.0  \t ", "OPTIONS");
    assert_eq!(
        run(&bytes),
        Outcome::ParseFailed(ParseError::StartLine, BAD_REQUEST)
    );
    let bytes = with_start_line("OPTIONS sip:quinn@example.com SIP/2.0 ", "OPTIONS");
    assert_eq!(
        run(&bytes),
        Outcome::ParseFailed(ParseError::StartLine, BAD_REQUEST)
    );
}

// 3.1.2.11: escaped headers in the Request-URI make the request malformed: 400 is
// acceptable (a liberal element could drop the headers, never turn them into real ones).
#[test]
fn s3_1_2_11_escruri() {
    let bytes = with_start_line(
        "INVITE sip:quinn@example.com?Route=%3Csip:edge.example.com%3E SIP/2.0",
        "INVITE",
    );
    assert_eq!(
        run(&bytes),
        Outcome::Invalid(ValidationError::RequestUriHeaders, BAD_REQUEST)
    );
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = parse(&bytes, &mut h);
    let ruri = request_uri(&msg);
    assert_eq!(
        ruri.headers().collect::<Vec<_>>(),
        [("Route", "%3Csip:edge.example.com%3E")]
    );
}

// 3.1.2.12: a Date in a time zone other than GMT is invalid: rejecting (400) and ignoring
// the Date are both acceptable; this library rejects. UT and UTC are not GMT either.
#[test]
fn s3_1_2_12_baddate() {
    for date in [
        "Thu, 01 Jan 2015 09:30:00 EST",
        "Thu, 01 Jan 2015 14:30:00 UT",
        "Thu, 01 Jan 2015 14:30:00 UTC",
    ] {
        let bytes = wire(&format!(
            "INVITE sip:sue@example.com SIP/2.0
To: sip:sue@example.com
From: sip:tom@example.net;tag=bd212
Max-Forwards: 70
Call-ID: baddate.tz@192.0.2.25
CSeq: 212 INVITE
Via: SIP/2.0/UDP 192.0.2.25;branch=z9hG4bKbd212
Date: {date}
Content-Length: 0

"
        ));
        assert_eq!(
            run(&bytes),
            Outcome::Invalid(
                ValidationError::Invalid(HeaderName::Date, ValueError::Date),
                BAD_REQUEST
            ),
            "Date: {date}"
        );
    }
    // The same instant in GMT is fine.
    let ok = wire(
        "INVITE sip:sue@example.com SIP/2.0
To: sip:sue@example.com
From: sip:tom@example.net;tag=bd212
Max-Forwards: 70
Call-ID: baddate.tz@192.0.2.25
CSeq: 212 INVITE
Via: SIP/2.0/UDP 192.0.2.25;branch=z9hG4bKbd212
Date: Thu, 01 Jan 2015 14:30:00 GMT
Content-Length: 0

",
    );
    assert_eq!(run(&ok), Outcome::Accepted);
}

// 3.1.2.13: a Contact URI with an escaped header must be in name-addr form (in "<>");
// without the brackets the request is malformed: 400 is reasonable.
#[test]
fn s3_1_2_13_regbadct() {
    let bytes = wire(
        "REGISTER sip:example.com SIP/2.0
To: sip:tina@example.com
From: sip:tina@example.com;tag=rb213
Max-Forwards: 70
Call-ID: regbadct.k@192.0.2.26
CSeq: 213 REGISTER
Via: SIP/2.0/UDP 192.0.2.26;branch=z9hG4bKrb213
Contact: sip:tina@example.com?Route=%3Csip:edge.example.com%3E
l: 0

",
    );
    assert_eq!(
        run(&bytes),
        Outcome::Invalid(
            ValidationError::Invalid(HeaderName::Contact, ValueError::Unexpected),
            BAD_REQUEST
        )
    );
}

// 3.1.2.14: spaces inside the addr-spec of the To header make it malformed: parsers must
// not break; 400 is reasonable (ignoring the spaces is the liberal alternative).
#[test]
fn s3_1_2_14_badaspec() {
    let bytes = wire(
        r#"OPTIONS sip:uma@example.org SIP/2.0
Via: SIP/2.0/UDP host214.example.com;branch=z9hG4bKba214
Max-Forwards: 70
From: "Walsh, Xavier" <sip:x.walsh@example.com>;tag=ba214
To: "Uma, Victor" < sip:uma@example.org >
Call-ID: badaspec.sp@192.0.2.27
Accept: application/sdp
CSeq: 214 OPTIONS
l: 0

"#,
    );
    assert_eq!(
        run(&bytes),
        Outcome::Invalid(
            ValidationError::Invalid(HeaderName::To, ValueError::Scheme),
            BAD_REQUEST
        )
    );
    // The quoted display name with a comma in the From is fine.
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = parse(&bytes, &mut h);
    assert_eq!(display(msg.from().unwrap().display_name), "Walsh, Xavier");
}

// 3.1.2.15: unquoted display names with non-token characters (",") are malformed: always
// rejecting with 400 is reasonable (a liberal element could infer the quotes).
#[test]
fn s3_1_2_15_baddn() {
    let bytes = wire(
        "OPTIONS sip:wendy@example.org SIP/2.0
Via: SIP/2.0/UDP host215.example.com;branch=z9hG4bKbd215
Max-Forwards: 70
From: Walsh, Xavier <sip:x.walsh@example.com>;tag=bd215
To: Wendy, Yolanda <sip:wendy@example.org>
Call-ID: baddn.q@192.0.2.28
Accept: application/sdp
CSeq: 215 OPTIONS
l: 0

",
    );
    assert_eq!(
        run(&bytes),
        Outcome::Invalid(
            ValidationError::Invalid(HeaderName::From, ValueError::Scheme),
            BAD_REQUEST
        )
    );
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = parse(&bytes, &mut h);
    assert!(msg.to().is_err());
}

// 3.1.2.16: an unknown protocol version (SIP/7.0): answer 505 Version Not Supported.
#[test]
fn s3_1_2_16_badvers() {
    let bytes = wire(
        "OPTIONS sip:yan@example.com SIP/7.0
Via: SIP/7.0/UDP host216.example.com;branch=z9hG4bKbv216
To: <sip:yan@example.com>
From: <sip:zed@example.net>;tag=bv216
Call-ID: badvers.v7@192.0.2.29
CSeq: 216 OPTIONS
Max-Forwards: 70
Content-Length: 0

",
    );
    assert_eq!(
        run(&bytes),
        Outcome::ParseFailed(
            ParseError::VersionNotSupported,
            respond(StatusCode::VERSION_NOT_SUPPORTED)
        )
    );
    // The 505 can be built from the salvaged message.
    let mut h = [HeaderIndex::EMPTY; 16];
    let salvaged = Message::salvage(&bytes, &mut h).expect("salvageable");
    assert_eq!(salvaged.version(), "SIP/7.0");
    assert_eq!(salvaged.call_id(), Ok("badvers.v7@192.0.2.29"));
    assert_eq!(salvaged.top_via().unwrap().version, "7.0");
}

// 3.1.2.17: the start-line method and the CSeq method differ: any element answers 400.
#[test]
fn s3_1_2_17_mismatch01() {
    let bytes = with_start_line("OPTIONS sip:quinn@example.com SIP/2.0", "INVITE");
    assert_eq!(
        run(&bytes),
        Outcome::Invalid(ValidationError::CSeqMethod, BAD_REQUEST)
    );
}

// 3.1.2.18: an unknown method with a CSeq method that differs: 501 is preferred, 400 is also
// acceptable. An endpoint answers 501; an element accepting any method answers 400.
#[test]
fn s3_1_2_18_mismatch02() {
    let bytes = with_start_line("NEWMETHOD sip:quinn@example.com SIP/2.0", "INVITE");
    assert_eq!(
        run(&bytes),
        Outcome::Invalid(
            ValidationError::NotImplemented,
            respond(StatusCode::NOT_IMPLEMENTED)
        )
    );
    let any_method = Policy {
        methods: &[],
        proxy: true,
        ..Policy::DEFAULT
    };
    assert_eq!(
        run_with(&bytes, &any_method),
        Outcome::Invalid(ValidationError::CSeqMethod, BAD_REQUEST)
    );
}

// 3.1.2.19: a response code above 699 (here far beyond three digits) must not break the
// receiver, which drops the response.
#[test]
fn s3_1_2_19_bigcode() {
    let head = "Via: SIP/2.0/UDP host219.example.com;branch=z9hG4bKbc219
To: <sip:ann@example.com>;tag=bc219b
From: <sip:bea@example.net>;tag=bc219a
Call-ID: bigcode.huge@192.0.2.30
CSeq: 219 INVITE
Content-Length: 0

";
    let huge = wire(&format!(
        "SIP/2.0 4294967301 better not break the receiver\n{head}"
    ));
    assert_eq!(
        run(&huge),
        Outcome::ParseFailed(ParseError::StatusCode, Reaction::Drop)
    );
    let three_digits = wire(&format!("SIP/2.0 701 Out of range\n{head}"));
    assert_eq!(
        run(&three_digits),
        Outcome::Invalid(ValidationError::StatusRange, Reaction::Drop)
    );
}

// ---------------------------------------------------------------------------------------
// 3.2 Transaction-layer semantics
// ---------------------------------------------------------------------------------------

// 3.2.1: a branch of just the magic cookie "z9hG4bK" promises an RFC 3261 transaction
// identifier but carries none. Parsers must not break; an element may answer 400 or fall
// back to RFC 2543 matching. The wire layer accepts and exposes the bare cookie.
#[test]
fn s3_2_1_badbranch() {
    let bytes = wire(
        "OPTIONS sip:cat@example.com SIP/2.0
To: sip:cat@example.com
From: sip:dan@example.net;tag=bb321
Max-Forwards: 3
Via: SIP/2.0/UDP 192.0.2.31;branch=z9hG4bK
Accept: application/sdp
Call-ID: badbranch.nobranch@192.0.2.31
CSeq: 321 OPTIONS
l: 0

",
    );
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = accept(&bytes, &mut h);
    let via = msg.top_via().unwrap();
    assert_eq!(via.branch(), Some("z9hG4bK"));
    assert!(via.has_rfc3261_branch());
    assert_eq!(via.branch().map(|b| &b["z9hG4bK".len()..]), Some(""));
}

// ---------------------------------------------------------------------------------------
// 3.3 Application-layer semantics
// ---------------------------------------------------------------------------------------

// 3.3.1: a request without Call-ID, From and To must not break the receiver; ideally it is
// answered 400.
#[test]
fn s3_3_1_insuf() {
    let bytes = wire(
        "INVITE sip:eve@example.com SIP/2.0
CSeq: 331 INVITE
Via: SIP/2.0/UDP 192.0.2.32;branch=z9hG4bKin331
Max-Forwards: 70
Content-Length: 0

",
    );
    assert_eq!(
        run(&bytes),
        Outcome::Invalid(ValidationError::Missing(HeaderName::From), BAD_REQUEST)
    );
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = parse(&bytes, &mut h);
    assert_eq!(msg.call_id(), Err(HeaderError::Missing(HeaderName::CallId)));
    assert_eq!(msg.to(), Err(HeaderError::Missing(HeaderName::To)));
}

// 3.3.2: a Request-URI with an unknown scheme is a well-formed request; the element answers
// 416 Unsupported URI Scheme (and must not route on the To header).
#[test]
fn s3_3_2_unkscm() {
    let bytes = with_start_line(
        "OPTIONS nobodyHasThisScheme:opaque-stuff/here?and=there SIP/2.0",
        "OPTIONS",
    );
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = parse(&bytes, &mut h);
    let Some(Ok(Uri::Absolute(u))) = msg.request_uri() else {
        panic!("{:?}", msg.request_uri())
    };
    assert_eq!(u.scheme, "nobodyHasThisScheme");
    assert_eq!(u.rest, "opaque-stuff/here?and=there");
    assert_eq!(
        run(&bytes),
        Outcome::Invalid(
            ValidationError::UnsupportedScheme,
            respond(StatusCode::UNSUPPORTED_URI_SCHEME)
        )
    );
}

// 3.3.3: a registered but unusual scheme in the Request-URI (soap.beep) is well-formed; an
// element that never serves it answers 416, one that might serves it (404 if unknown).
#[test]
fn s3_3_3_novelsc() {
    let bytes = with_start_line("OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0", "OPTIONS");
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = parse(&bytes, &mut h);
    assert_eq!(msg.request_uri().unwrap().unwrap().scheme(), "soap.beep");
    assert_eq!(
        run(&bytes),
        Outcome::Invalid(
            ValidationError::UnsupportedScheme,
            respond(StatusCode::UNSUPPORTED_URI_SCHEME)
        )
    );
    let beep = Policy {
        schemes: &["sip", "SOAP.BEEP"],
        ..Policy::DEFAULT
    };
    assert_eq!(run_with(&bytes, &beep), Outcome::Accepted);
}

// 3.3.4: registered non-SIP schemes in To, From and Contact are syntactically valid and
// parsers must not fail; a registrar rejects it (400, the AOR must be SIP or SIPS) above
// this layer, which it can tell from the parsed schemes.
#[test]
fn s3_3_4_unksm2() {
    let bytes = wire(
        "REGISTER sip:example.com SIP/2.0
To: isbn:9780131103627
From: <http://www.example.com/people/fay>;tag=us334
Call-ID: unksm2.x@192.0.2.33
CSeq: 334 REGISTER
Max-Forwards: 70
Via: SIP/2.0/UDP 192.0.2.33;branch=z9hG4bKus334
Contact: <name:Fay_Green>
l: 0

",
    );
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = accept(&bytes, &mut h);
    let to = msg.to().unwrap();
    assert_eq!(to.uri.scheme(), "isbn");
    assert!(to.uri.as_sip().is_none());
    let from = msg.from().unwrap();
    assert_eq!(from.uri.scheme(), "http");
    assert_eq!(from.tag(), Some("us334"));
    assert_eq!(contacts(&msg)[0].addr().unwrap().uri.scheme(), "name");
}

// 3.3.5: unknown option tags in Require and Proxy-Require: answer 420 Bad Extension with an
// Unsupported header listing the tags of Require (as a UA) or Proxy-Require (as a proxy).
#[test]
fn s3_3_5_bext01() {
    let bytes = wire(
        "OPTIONS sip:gus@example.com SIP/2.0
To: sip:gus@example.com
From: sip:hal@example.net;tag=be335
Max-Forwards: 70
Call-ID: bext01.r@192.0.2.34
Proxy-Require: proxiesWontKnow, neitherWillThey
Require: nothingUnderstandsThis,
 norThisOne
CSeq: 335 OPTIONS
Via: SIP/2.0/UDP 192.0.2.34;branch=z9hG4bKbe335
l: 0

",
    );
    let bad_extension = Outcome::Invalid(
        ValidationError::BadExtension,
        respond(StatusCode::BAD_EXTENSION),
    );
    let proxy = Policy {
        proxy: true,
        ..Policy::DEFAULT
    };
    assert_eq!(run(&bytes), bad_extension);
    assert_eq!(run_with(&bytes, &proxy), bad_extension);
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = parse(&bytes, &mut h);
    assert_eq!(
        msg.unsupported_requirements(&Policy::DEFAULT)
            .collect::<Vec<_>>(),
        ["nothingUnderstandsThis", "norThisOne"]
    );
    assert_eq!(
        msg.unsupported_requirements(&proxy).collect::<Vec<_>>(),
        ["proxiesWontKnow", "neitherWillThey"]
    );
    // An element supporting them all accepts the request.
    let all = Policy {
        supported: &["NOTHINGUNDERSTANDSTHIS", "northisone"],
        ..Policy::DEFAULT
    };
    assert_eq!(run_with(&bytes, &all), Outcome::Accepted);
}

// 3.3.6: a body of unknown Content-Type: the UAS answers 415 with an Accept header. Media
// types are the UA core's decision, so the wire layer accepts the message and exposes the
// type to decide on.
#[test]
fn s3_3_6_invut() {
    let bytes = wire(
        "INVITE sip:ida@example.com SIP/2.0
Contact: <sip:jay@192.0.2.35>
To: sip:ida@example.com
From: sip:jay@example.net;tag=iv336
Call-ID: invut.ct@192.0.2.35
CSeq: 336 INVITE
Via: SIP/2.0/UDP 192.0.2.35;branch=z9hG4bKiv336
Max-Forwards: 70
Content-Type: application/nobody-knows-this
Content-Disposition: session;handling=required
Content-Length: {CL}

<gibberish format=\"unknown\">
  0123456789abcdef
</gibberish>
",
    );
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = accept(&bytes, &mut h);
    let ct = msg.content_type().unwrap().unwrap();
    assert_eq!((ct.ty, ct.subtype), ("application", "nobody-knows-this"));
    assert!(!ct.is("application", "sdp"));
    assert_eq!(msg.body().len(), msg.content_length().unwrap());
    assert!(msg.body().starts_with(b"<gibberish"));
}

// 3.3.7: an Authorization header with an unknown scheme is well-formed; a registrar either
// ignores it or challenges with 401, a proxy forwards it unchanged.
#[test]
fn s3_3_7_regaut01() {
    let bytes = wire(
        "REGISTER sip:example.com SIP/2.0
To: sip:kay@example.com
From: sip:kay@example.com;tag=ra337
Max-Forwards: 70
Call-ID: regaut01.a@192.0.2.36
CSeq: 337 REGISTER
Via: SIP/2.0/UDP 192.0.2.36;branch=z9hG4bKra337
Authorization: SchemeNobodyKnows secret-stuff=\"here\", more=1
Contact: <sip:kay@192.0.2.36>
l: 0

",
    );
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = accept(&bytes, &mut h);
    assert_eq!(
        msg.header(HeaderName::Authorization),
        Some("SchemeNobodyKnows secret-stuff=\"here\", more=1")
    );
}

// 3.3.8: several values in headers that take one (Call-ID, To, From, Max-Forwards, CSeq):
// answer 400.
#[test]
fn s3_3_8_multi01() {
    let bytes = wire(
        r#"INVITE sip:lee@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.37;branch=z9hG4bKmu338
Max-Forwards: 70
CSeq: 338 INVITE
Call-ID: multi01.one@192.0.2.37
Contact: <sip:mo@192.0.2.37>
Call-ID: multi01.two@192.0.2.37
To: sip:lee@example.com
Supported: replaces, timer
From: sip:mo@example.net;tag=mu338a
From: sip:mo@example.net;tag=mu338b
Max-Forwards: 68
CSeq: 339 INVITE
To: sip:lee@example.com, sip:other@example.com
Content-Length: 0

"#,
    );
    assert_eq!(
        run(&bytes),
        Outcome::Invalid(
            ValidationError::Multiple(HeaderName::MaxForwards),
            BAD_REQUEST
        )
    );
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = parse(&bytes, &mut h);
    for n in [
        HeaderName::CallId,
        HeaderName::To,
        HeaderName::From,
        HeaderName::MaxForwards,
        HeaderName::CSeq,
    ] {
        assert_eq!(msg.count(n), 2, "{n}");
    }
    // A single To line holding two addresses is caught as well.
    let single_line = wire(
        "INVITE sip:lee@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.37;branch=z9hG4bKmu338
Max-Forwards: 70
CSeq: 338 INVITE
Call-ID: multi01.one@192.0.2.37
To: sip:lee@example.com, sip:other@example.com
From: sip:mo@example.net;tag=mu338a
Content-Length: 0

",
    );
    assert_eq!(
        run(&single_line),
        Outcome::Invalid(
            ValidationError::Invalid(HeaderName::To, ValueError::TrailingData),
            BAD_REQUEST
        )
    );
}

// 3.3.9: conflicting Content-Length values are a framing error like an invalid value: answer
// with an error; a stream cannot be resynchronised.
#[test]
fn s3_3_9_mcl01() {
    let bytes = wire(
        "OPTIONS sip:meg@example.com SIP/2.0
Via: SIP/2.0/UDP 192.0.2.38;branch=z9hG4bKmc339
Max-Forwards: 70
To: sip:meg@example.com
From: sip:ned@example.net;tag=mc339
Call-ID: mcl01.two@192.0.2.38
CSeq: 339 OPTIONS
Content-Length: 3
Content-Length: 5
l: 9

hello
",
    );
    assert_eq!(
        run(&bytes),
        Outcome::ParseFailed(ParseError::DuplicateContentLength, BAD_REQUEST)
    );
    let mut h = [HeaderIndex::EMPTY; 16];
    assert_eq!(
        Message::parse_stream(&bytes, &mut h).map(|s| s.is_complete()),
        Err(ParseError::DuplicateContentLength)
    );
}

// 3.3.10: a 200 OK whose second Via sent-by is 255.255.255.255 is well-formed; endpoints
// discard it and proxies must not forward it to the broadcast address. The wire layer
// accepts it and exposes the address to check.
#[test]
fn s3_3_10_bcast() {
    let bytes = wire(
        "SIP/2.0 200 OK
Via: SIP/2.0/UDP 192.0.2.198;branch=z9hG4bKbc3310a
Via: SIP/2.0/UDP 255.255.255.255;branch=z9hG4bKbc3310b
Max-Forwards: 70
To: sip:ora@example.com;tag=bc3310b
From: sip:pia@example.net;tag=bc3310a
Call-ID: bcast.all@192.0.2.198
CSeq: 3310 OPTIONS
Content-Length: 0

",
    );
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = accept(&bytes, &mut h);
    let v = vias(&msg);
    assert_eq!(v.len(), 2);
    assert_eq!(v[1].host, Host::Ipv4(Ipv4Addr::BROADCAST));
    assert!(v[1].host.is_ip());
}

// 3.3.11: Max-Forwards: 0 is legal; a proxy answers 483 instead of forwarding, an endpoint
// processes the request normally. The wire layer accepts it in both roles.
#[test]
fn s3_3_11_zeromf() {
    let bytes = wire(
        "OPTIONS sip:quin@example.com SIP/2.0
To: sip:quin@example.com
From: sip:rex@example.net;tag=zm3311
Max-Forwards: 0
Call-ID: zeromf.zero@192.0.2.39
CSeq: 3311 OPTIONS
Via: SIP/2.0/UDP 192.0.2.39;branch=z9hG4bKzm3311
l: 0

",
    );
    let proxy = Policy {
        proxy: true,
        ..Policy::DEFAULT
    };
    assert_eq!(run(&bytes), Outcome::Accepted);
    assert_eq!(run_with(&bytes, &proxy), Outcome::Accepted);
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = parse(&bytes, &mut h);
    assert_eq!(msg.max_forwards(), Some(Ok(0)));
}

fn register_with_contact(contact: &str) -> Vec<u8> {
    wire(&format!(
        "REGISTER sip:example.com SIP/2.0
Via: SIP/2.0/UDP saturn.example.com:5060;branch=z9hG4bKcp3312
Max-Forwards: 70
From: sip:watson@example.com;tag=cp3312
To: sip:watson@example.com
Call-ID: cparam.reg@192.0.2.40
CSeq: 3312 REGISTER
Contact: {contact}
l: 0

"
    ))
}

// 3.3.12: in a Contact without "<>", a parameter after the URI is a contact parameter, not a
// URI parameter; the registration succeeds and the binding has no such URI parameter.
#[test]
fn s3_3_12_cparam01() {
    let bytes = register_with_contact("sip:+12125550100@gw1.example.net;mystery");
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = accept(&bytes, &mut h);
    let c = contacts(&msg);
    let a = c[0].addr().unwrap();
    let u = sip_uri(&a.uri);
    assert_eq!(u.user, Some("+12125550100"));
    assert_eq!(u.host, Host::Domain("gw1.example.net"));
    assert!(u.params.is_empty());
    assert_eq!(params(&a.params), [name("mystery")]);
}

// 3.3.13: in a Contact with "<>", the parameter inside the brackets is a URI parameter; the
// registration succeeds and the binding keeps it.
#[test]
fn s3_3_13_cparam02() {
    let bytes = register_with_contact("<sip:+12125550100@gw1.example.net;mystery>");
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = accept(&bytes, &mut h);
    let c = contacts(&msg);
    let a = c[0].addr().unwrap();
    assert_eq!(params(&sip_uri(&a.uri).params), [name("mystery")]);
    assert!(a.params.is_empty());
}

// 3.3.14: a bracketed Contact URI with an escaped header is valid; the registration
// succeeds and the binding keeps the header.
#[test]
fn s3_3_14_regescrt() {
    let bytes = register_with_contact("<sip:zoe@example.com?Route=%3Csip:edge.example.com%3E>");
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = accept(&bytes, &mut h);
    let c = contacts(&msg);
    let u = sip_uri(&c[0].addr().unwrap().uri);
    assert_eq!(u.headers, Some("Route=%3Csip:edge.example.com%3E"));
    let hs: Vec<_> = u.headers().collect();
    assert_eq!(hs, [("Route", "%3Csip:edge.example.com%3E")]);
    assert_eq!(unesc(hs[0].1), b"<sip:edge.example.com>");
}

// 3.3.15: an INVITE whose Accept leaves out application/sdp: the UAS may answer 406 (with a
// 399 Warning) or 400. That is the UA core's decision; the wire layer accepts the message
// and exposes the Accept list.
#[test]
fn s3_3_15_sdp01() {
    let bytes = wire(
        "INVITE sip:sam@example.com SIP/2.0
To: sip:sam@example.com
From: sip:tia@example.net;tag=sd3315
Max-Forwards: 70
Call-ID: sdp01.acc@192.0.2.41
CSeq: 3315 INVITE
Via: SIP/2.0/UDP 192.0.2.41;branch=z9hG4bKsd3315
Accept: text/nobody-knows-this
Content-Type: application/sdp
Content-Length: {CL}

v=0
o=tia 5 5 IN IP4 192.0.2.41
s=-
c=IN IP4 192.0.2.41
t=0 0
m=audio 27000 RTP/AVP 0
",
    );
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = accept(&bytes, &mut h);
    assert_eq!(
        msg.values(HeaderName::Accept).collect::<Vec<_>>(),
        ["text/nobody-knows-this"]
    );
    assert!(
        msg.content_type()
            .unwrap()
            .unwrap()
            .is("application", "sdp")
    );
}

// ---------------------------------------------------------------------------------------
// 3.4 Backward compatibility
// ---------------------------------------------------------------------------------------

// 3.4.1: an RFC 2543 request (no branch, no From tag, no Content-Length so the body is the
// rest of the datagram, no Max-Forwards) should be accepted by RFC 3261 elements.
#[test]
fn s3_4_1_inv2543() {
    let bytes = wire(
        "INVITE sip:amy@example.com SIP/2.0
Via: SIP/2.0/UDP old.example.com
To: sip:amy@example.com
From: sip:ben@example.net
Call-ID: inv2543.19990101@192.0.2.42
CSeq: 1 INVITE
Contact: sip:ben@old.example.com
Subject: legacy
Content-Type: application/sdp

v=0
o=ben 6 6 IN IP4 192.0.2.42
s=-
c=IN IP4 192.0.2.42
t=0 0
m=audio 28000 RTP/AVP 0
",
    );
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = accept(&bytes, &mut h);
    let via = msg.top_via().unwrap();
    assert_eq!(via.branch(), None);
    assert!(!via.has_rfc3261_branch());
    assert_eq!(via.host, Host::Domain("old.example.com"));
    assert_eq!(msg.from().unwrap().tag(), None);
    assert_eq!(msg.max_forwards(), None);
    assert_eq!(msg.content_length(), None);
    let expected_body = b"v=0\r\no=ben 6 6 IN IP4 192.0.2.42\r\ns=-\r\nc=IN IP4 192.0.2.42\r\nt=0 0\r\nm=audio 28000 RTP/AVP 0\r\n";
    assert_eq!(msg.body(), expected_body);
    // Over a stream there is no way to frame it.
    let mut h = [HeaderIndex::EMPTY; 16];
    assert_eq!(
        Message::parse_stream(&bytes, &mut h).map(|s| s.is_complete()),
        Err(ParseError::MissingContentLength)
    );
}

// Every header line of a parsed message keeps its name as written.
#[test]
fn header_names_as_written() {
    let bytes = wire(
        "OPTIONS sip:u@example.com SIP/2.0
v: SIP/2.0/UDP 192.0.2.43;branch=z9hG4bKhn
t: sip:u@example.com
f: sip:w@example.net;tag=hn
i: names@192.0.2.43
CSeq: 1 OPTIONS
l: 0

",
    );
    let mut h = [HeaderIndex::EMPTY; 16];
    let msg = accept(&bytes, &mut h);
    let names: Vec<Header<'_>> = msg.headers().collect();
    assert_eq!(
        names.iter().map(|h| (h.name, h.kind)).collect::<Vec<_>>(),
        [
            ("v", HeaderName::Via),
            ("t", HeaderName::To),
            ("f", HeaderName::From),
            ("i", HeaderName::CallId),
            ("CSeq", HeaderName::CSeq),
            ("l", HeaderName::ContentLength),
        ]
    );
}
