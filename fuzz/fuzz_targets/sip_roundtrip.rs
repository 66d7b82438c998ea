//! Parse, emit, parse again: a datagram that parses is re-emitted with `Writer` and must
//! come back with the same start line, the same headers (values unfolded) and the same
//! body. Every typed value that parses must survive `Display` and `parse` unchanged.
//!
//! A server's answer to a request, `Writer::response_to`, is checked the same way, for
//! requests that parse and for those that only `Message::salvage` can read (the 400 and
//! 505 path): the response must parse and carry the request's Via, From, To, Call-ID
//! and CSeq lines, with the To tag added.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sip_lite::wire::{
    CSeq, Challenge, CommaSplit, Contact, ContentDisposition, CountingSink, Credentials, Event,
    Header, HeaderIndex, HeaderName, Host, Limits, MediaType, Message, NameAddr, Reaction,
    RetryAfter, SessionTimer, SliceSink, StartLine, StatusCode, SubscriptionState, Uri, Via,
    Writer,
};

fuzz_target!(|data: &[u8]| {
    let mut headers = [HeaderIndex::EMPTY; 64];
    match Message::parse(data, &mut headers) {
        Ok(msg) => {
            typed_round_trips(&msg);
            message_round_trip(&msg, data.len());
            answer(&msg, StatusCode::TRYING);
            answer(&msg, StatusCode::OK);
        }
        Err(e) => {
            let mut hs = [HeaderIndex::EMPTY; 64];
            if let (Reaction::Respond(status), Some(msg)) =
                (e.reaction(data), Message::salvage(data, &mut hs))
            {
                answer(&msg, status);
            }
        }
    }
});

/// Answers a request with `Writer::response_to` and checks the response.
fn answer(request: &Message<'_>, status: StatusCode) {
    const TAG: &str = "fuzz-tag";
    if !request.is_request() {
        return;
    }
    // Measure first: compact names grow to full ones, and To gains a tag.
    let need = Writer::response_to(CountingSink::default(), request, status, "", Some(TAG))
        .and_then(|w| w.finish(b""))
        .unwrap_or_else(|e| panic!("answering {status}: {e}"))
        .len;
    let mut buf = vec![0u8; need];
    let len = Writer::response_to(SliceSink::new(&mut buf), request, status, "", Some(TAG))
        .and_then(|w| w.finish(b""))
        .unwrap_or_else(|e| panic!("answering {status} into {need} octets: {e}"))
        .len();
    assert_eq!(len, need);
    let out = &buf[..len];
    let text = String::from_utf8_lossy(out);
    let mut hs = [HeaderIndex::EMPTY; 80];
    let response = Message::parse(out, &mut hs)
        .unwrap_or_else(|e| panic!("the {status} response does not parse: {e}\n{text}"));
    assert_eq!(response.status(), Some(status), "{text}");
    assert_eq!(response.reason(), Some(status.default_reason()), "{text}");
    let tagged = status != StatusCode::TRYING && request.to().is_ok_and(|t| t.tag().is_none());
    let mut copied = vec![
        HeaderName::Via,
        HeaderName::From,
        HeaderName::To,
        HeaderName::CallId,
        HeaderName::CSeq,
    ];
    if status == StatusCode::TRYING {
        copied.push(HeaderName::Timestamp);
    }
    for name in copied {
        let expected = request.header_lines(name).map(|v| {
            let v = unfold(v);
            if name == HeaderName::To && tagged {
                v + ";tag=" + TAG
            } else {
                v
            }
        });
        assert!(
            expected.eq(response.header_lines(name).map(str::to_owned)),
            "{name} lines differ:\n{text}"
        );
    }
    if tagged {
        let to = response.to().unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(to.tag(), Some(TAG), "{text}");
    }
}

/// Re-emits `msg` and checks that the copy parses to the same message.
fn message_round_trip(msg: &Message<'_>, input_len: usize) {
    // Each line may gain a CR and the space after the colon (`a:\n` is 3 octets,
    // `a: \r\n` 5); folds only shrink; a default reason phrase and Content-Length add
    // less than 128 octets.
    let mut buf = vec![0u8; 2 * input_len + 128];
    let sink = SliceSink::new(&mut buf);
    let mut w = match msg.start_line() {
        StartLine::Request { method, uri } => Writer::request_str(sink, method, uri)
            .unwrap_or_else(|e| panic!("the request line of a parsed message: {e}")),
        StartLine::Response { status, reason } => {
            // The parser reads any three digits; the writer only writes 100..=699.
            if !status.is_valid() {
                return;
            }
            Writer::response(sink, status, reason)
                .unwrap_or_else(|e| panic!("the status line of a parsed message: {e}"))
        }
    };
    for h in msg.headers() {
        if h.kind != HeaderName::ContentLength {
            w.copy_header(&h)
                .unwrap_or_else(|e| panic!("copying {}: {e}", h.name));
        }
    }
    let len = w
        .finish(msg.body())
        .unwrap_or_else(|e| panic!("finishing: {e}"))
        .len();
    let out = &buf[..len];
    let text = String::from_utf8_lossy(out);

    let mut hs = [HeaderIndex::EMPTY; 80];
    let limits = Limits {
        max_body: usize::MAX,
    };
    let again = Message::parse_with(out, &mut hs, limits)
        .unwrap_or_else(|e| panic!("the re-emitted message does not parse: {e}\n{text}"));

    match (msg.start_line(), again.start_line()) {
        (
            StartLine::Request { method, uri },
            StartLine::Request {
                method: m2,
                uri: u2,
            },
        ) => {
            assert_eq!(method, m2, "{text}");
            assert_eq!(uri, u2, "{text}");
        }
        (
            StartLine::Response { status, reason },
            StartLine::Response {
                status: s2,
                reason: r2,
            },
        ) => {
            assert_eq!(status, s2, "{text}");
            // An empty reason phrase is replaced by the code's usual one.
            let expected = if reason.is_empty() {
                status.default_reason()
            } else {
                reason
            };
            assert_eq!(expected, r2, "{text}");
        }
        (a, b) => panic!("start line changed: {a:?} -> {b:?}\n{text}"),
    }
    assert_eq!(again.version(), "SIP/2.0");

    let before: Vec<Header<'_>> = msg
        .headers()
        .filter(|h| h.kind != HeaderName::ContentLength)
        .collect();
    let after: Vec<Header<'_>> = again.headers().collect();
    let (cl, after) = after.split_last().expect("Content-Length is written");
    assert_eq!(cl.kind, HeaderName::ContentLength);
    assert_eq!(cl.value, msg.body().len().to_string());
    assert_eq!(before.len(), after.len(), "{text}");
    for (a, b) in before.iter().zip(after) {
        assert_eq!(a.name, b.name, "{text}");
        assert_eq!(a.kind, b.kind, "{text}");
        assert_eq!(unfold(a.value), b.value, "{text}");
    }
    assert_eq!(again.body(), msg.body());
    assert_eq!(again.content_length(), Some(msg.body().len()));
}

/// `Display`s a value, parses the text with the same parser and compares.
macro_rules! round_trip {
    ($parse:path, $value:expr) => {{
        let value = $value;
        let text = value.to_string();
        match $parse(&text) {
            Ok(again) => assert_eq!(
                again,
                value,
                "{} changed through Display: {text:?}",
                stringify!($parse)
            ),
            Err(e) => panic!(
                "{} rejects its own Display output {text:?}: {e}",
                stringify!($parse)
            ),
        }
    }};
}

fn typed_round_trips(msg: &Message<'_>) {
    if let Some(Ok(u)) = msg.request_uri() {
        uri(&u);
    }
    for h in msg.headers() {
        let items: Vec<&str> = if h.kind.is_list() {
            CommaSplit::new(h.value).collect()
        } else {
            vec![h.value]
        };
        for v in items {
            value(h.kind, v);
        }
    }
}

fn value(kind: HeaderName, v: &str) {
    use HeaderName as N;
    match kind {
        N::Via => {
            if let Ok(x) = Via::parse(v) {
                host(&x.host);
                round_trip!(Via::parse, x);
            }
        }
        N::From
        | N::To
        | N::Route
        | N::RecordRoute
        | N::Path
        | N::ReplyTo
        | N::ReferTo
        | N::ReferredBy => {
            if let Ok(a) = NameAddr::parse(v) {
                name_addr(a);
            }
        }
        N::Contact => {
            if let Ok(c) = Contact::parse(v) {
                if let Some(a) = c.addr() {
                    name_addr(*a);
                }
                round_trip!(Contact::parse, c);
            }
        }
        N::CSeq => {
            if let Ok(x) = CSeq::parse(v) {
                round_trip!(CSeq::parse, x);
            }
        }
        N::ContentType => {
            if let Ok(x) = MediaType::parse(v) {
                round_trip!(MediaType::parse, x);
            }
        }
        N::ContentDisposition => {
            if let Ok(x) = ContentDisposition::parse(v) {
                round_trip!(ContentDisposition::parse, x);
            }
        }
        N::Event => {
            if let Ok(x) = Event::parse(v) {
                round_trip!(Event::parse, x);
            }
        }
        N::SubscriptionState => {
            if let Ok(x) = SubscriptionState::parse(v) {
                round_trip!(SubscriptionState::parse, x);
            }
        }
        N::SessionExpires | N::MinSe => {
            if let Ok(x) = SessionTimer::parse(v) {
                round_trip!(SessionTimer::parse, x);
            }
        }
        N::RetryAfter => {
            if let Ok(x) = RetryAfter::parse(v) {
                round_trip!(RetryAfter::parse, x);
            }
        }
        N::WwwAuthenticate | N::ProxyAuthenticate => {
            if let Ok(x) = Challenge::parse(v) {
                round_trip!(Challenge::parse, x);
            }
        }
        N::Authorization | N::ProxyAuthorization => {
            if let Ok(x) = Credentials::parse(v) {
                round_trip!(Credentials::parse, x);
            }
        }
        _ => {}
    }
}

fn name_addr(a: NameAddr<'_>) {
    uri(&a.uri);
    round_trip!(NameAddr::parse, a);
}

fn uri(u: &Uri<'_>) {
    if let Uri::Sip(s) = u {
        host(&s.host);
    }
    round_trip!(Uri::parse, *u);
}

fn host(h: &Host<'_>) {
    round_trip!(Host::parse, *h);
}

/// A header value as `Writer::copy_header` writes it: every line break, with the white
/// space on both sides of it, becomes one space.
fn unfold(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' || c == '\n' {
            while out.ends_with([' ', '\t']) {
                out.pop();
            }
            while chars
                .next_if(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
                .is_some()
            {}
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}
