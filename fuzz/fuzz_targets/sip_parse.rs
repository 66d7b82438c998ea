//! Parses the input as a datagram and as a stream, and reads every typed view of every
//! header, validates, salvages and compares URIs. Nothing may panic or hang.
//!
//! Besides "no panic", it checks properties that hold for any input:
//! - a message framed from a stream re-parses as a datagram to the same head and body,
//!   and a datagram with Content-Length frames the same way as a stream;
//! - stream framing always makes progress;
//! - `Display` never fails and writes exactly `Emit::buffer_len` octets;
//! - `Uri::equivalent` is reflexive and symmetric (for TEL URIs: when no parameter name
//!   repeats);
//! - a header's classified kind is what `HeaderName::parse` makes of its name.

#![no_main]

use std::fmt::{Display, Write as _};

use libfuzzer_sys::fuzz_target;
use sip_lite::ParseError;
use sip_lite::wire::{
    Algorithm, AuthParams, CSeq, Challenge, CommaSplit, Contact, ContentDisposition, Credentials,
    Emit, Event, HeaderIndex, HeaderName, Host, KeepAlive, Limits, MediaType, Message, Method,
    NameAddr, Params, Policy, QValue, Qop, RetryAfter, SessionTimer, SipDate, Status,
    SubscriptionState, Transport, Uri, Via, keep_alive, parse_call_id, parse_delta, unescape,
};

/// A proxy that supports a few extensions and only SIP URIs.
const PROXY: Policy<'static> = Policy {
    methods: &[],
    supported: &["timer", "100rel", "path", "outbound"],
    proxy: true,
    schemes: &["sip", "sips"],
};

/// The option-tag and method lists.
const TOKEN_LISTS: [HeaderName; 6] = [
    HeaderName::Supported,
    HeaderName::Require,
    HeaderName::ProxyRequire,
    HeaderName::Unsupported,
    HeaderName::Allow,
    HeaderName::AllowEvents,
];

fuzz_target!(|data: &[u8]| {
    datagram(data);
    stream(data);
    // Every value parser takes any text.
    if let Ok(text) = std::str::from_utf8(data) {
        let mut s = String::new();
        every_view(&mut s, text);
    }
});

fn datagram(data: &[u8]) {
    let mut headers = [HeaderIndex::EMPTY; 64];
    match Message::parse(data, &mut headers) {
        Ok(msg) => {
            exercise(&msg);
            if let Some(n) = msg.content_length() {
                assert_eq!(msg.body().len(), n);
                let mut hs = [HeaderIndex::EMPTY; 64];
                match Message::parse_stream(data, &mut hs) {
                    Ok(Status::Complete((m, used))) => {
                        assert!(used <= data.len());
                        assert_eq!(m.head(), msg.head());
                        assert_eq!(m.body(), msg.body());
                        assert_eq!(m.header_count(), msg.header_count());
                    }
                    other => panic!("a datagram with Content-Length does not frame: {other:?}"),
                }
            }
        }
        Err(e) => failed(data, e),
    }

    // Tight limits: TooManyHeaders and BodyTooLarge.
    let mut few = [HeaderIndex::EMPTY; 3];
    if let Err(e) = Message::parse_with(data, &mut few, Limits { max_body: 16 }) {
        failed(data, e);
    }

    let mut hs = [HeaderIndex::EMPTY; 64];
    if let Some(m) = Message::salvage(data, &mut hs) {
        exercise(&m);
    }
}

/// Frames the input as a TCP stream would arrive: keep-alives and messages, until the
/// buffer runs out, is incomplete or fails.
fn stream(data: &[u8]) {
    let mut off = 0;
    while off < data.len() {
        let buf = &data[off..];
        match keep_alive(buf) {
            Status::Complete(Some((kind, n))) => {
                assert_eq!(n, if kind == KeepAlive::Ping { 4 } else { 2 });
                off += n;
                continue;
            }
            Status::Complete(None) | Status::Partial => {}
        }
        let mut headers = [HeaderIndex::EMPTY; 64];
        match Message::parse_stream(buf, &mut headers) {
            Ok(Status::Complete((msg, used))) => {
                assert!(used > 0 && used <= buf.len(), "no progress: {used}");
                assert_eq!(Some(msg.body().len()), msg.content_length());
                let mut hs = [HeaderIndex::EMPTY; 64];
                match Message::parse(&buf[..used], &mut hs) {
                    Ok(d) => {
                        assert_eq!(d.head(), msg.head());
                        assert_eq!(d.body(), msg.body());
                    }
                    Err(e) => panic!("a message framed from a stream is no datagram: {e}"),
                }
                exercise(&msg);
                off += used;
            }
            Ok(Status::Partial) => break,
            Err(e) => {
                failed(buf, e);
                break;
            }
        }
    }
}

fn failed(input: &[u8], e: ParseError) {
    let _ = e.reaction(input);
    let _ = e.status();
    let mut s = String::new();
    write!(s, "{e}").expect("Display never fails");
}

/// Writes `v` into `s` (cleared first); it must not fail.
fn show(s: &mut String, v: &impl Display) {
    s.clear();
    write!(s, "{v}").expect("Display never fails");
}

/// Writes `v` and checks that `Emit::buffer_len` predicts its length.
fn emit(s: &mut String, v: &(impl Display + Emit)) {
    show(s, v);
    assert_eq!(
        v.buffer_len(),
        s.len(),
        "buffer_len differs from the output: {s:?}"
    );
}

fn exercise(msg: &Message<'_>) {
    let mut s = String::new();
    let _ = (
        msg.start_line(),
        msg.is_request(),
        msg.reason(),
        msg.request_uri_str(),
        msg.version(),
        msg.body(),
        msg.head(),
    );
    if let Some(st) = msg.status() {
        let _ = (
            st.as_u16(),
            st.class(),
            st.is_provisional(),
            st.is_success(),
            st.is_final(),
            st.is_valid(),
            st.default_reason(),
        );
        show(&mut s, &st);
    }
    if let Some(m) = msg.method() {
        show(&mut s, &m);
        assert_eq!(Method::parse(m.as_str()), Ok(m));
    }
    let request_uri = msg.request_uri().and_then(Result::ok);
    if let Some(u) = &request_uri {
        uri(&mut s, u);
    }

    assert_eq!(msg.headers().len(), msg.header_count());
    for h in msg.headers() {
        assert_eq!(HeaderName::parse(h.name), h.kind);
        check_name(h.name);
        let _ = (h.kind.as_str(), h.kind.compact(), h.kind.is_single());
        show(&mut s, &h.kind);
        assert!(
            msg.header_named(h.name).any(|v| v == h.value),
            "header_named({:?}) misses its own line",
            h.name
        );
        every_view(&mut s, h.value);
        for item in CommaSplit::new(h.value) {
            every_view(&mut s, item);
        }
    }
    for &name in HeaderName::ALL {
        let _ = msg.header(name);
        let lines = msg.header_lines(name).count();
        assert_eq!(lines == 0, msg.header(name).is_none());
        assert_eq!(msg.values(name).count(), msg.count(name));
    }

    // The typed accessors.
    let _ = msg.vias().count();
    if let Ok(v) = msg.top_via() {
        via(&mut s, &v);
    }
    let from = msg.from();
    let to = msg.to();
    for a in [&from, &to].into_iter().flatten() {
        name_addr(&mut s, a);
    }
    for e in [&from, &to].into_iter().filter_map(|r| r.as_ref().err()) {
        show(&mut s, e);
    }
    let _ = msg.call_id();
    if let Ok(c) = msg.cseq() {
        emit(&mut s, &c);
    }
    let _ = (msg.max_forwards(), msg.expires());
    let _ = msg.contacts().count();
    let _ = msg.routes().count();
    let _ = msg.record_routes().count();
    let _ = msg.paths().count();
    if let Some(Ok(m)) = msg.content_type() {
        emit(&mut s, &m);
    }
    for name in TOKEN_LISTS {
        for t in msg.tokens(name) {
            if let Err(e) = t {
                show(&mut s, &e);
            }
        }
    }
    let _ = msg.has_token(HeaderName::Require, "timer");

    for policy in [Policy::DEFAULT, PROXY] {
        if let Err(e) = msg.validate(&policy) {
            let _ = (e.status(), e.reaction(msg.is_request()));
            show(&mut s, &e);
        }
        let _ = msg.unsupported_requirements(&policy).count();
    }

    if let (Some(r), Ok(to)) = (&request_uri, &to) {
        let a = r.equivalent(&to.uri);
        let b = to.uri.equivalent(r);
        if !repeats(r) && !repeats(&to.uri) {
            assert_eq!(a, b, "equivalent is not symmetric: {r} / {}", to.uri);
        }
    }
}

/// Every value parser of the crate on `v`, with every accessor of what parses.
fn every_view(s: &mut String, v: &str) {
    if let Ok(x) = Via::parse(v) {
        via(s, &x);
    }
    if let Ok(x) = NameAddr::parse(v) {
        name_addr(s, &x);
    }
    if let Ok(c) = Contact::parse(v) {
        let _ = (c.expires(), c.q(), c.instance(), c.reg_id());
        if let Some(a) = c.addr() {
            name_addr(s, a);
        }
        emit(s, &c);
    }
    if let Ok(x) = Uri::parse(v) {
        uri(s, &x);
    }
    if let Ok(h) = Host::parse(v) {
        host(s, &h);
    }
    if let Ok(h) = Host::parse_param(v) {
        host(s, &h);
    }
    if let Ok(x) = CSeq::parse(v) {
        let _ = (x.seq, x.method.as_str());
        emit(s, &x);
    }
    let _ = parse_call_id(v);
    let _ = parse_delta(v);
    let _ = QValue::parse(v);
    let _ = Method::parse(v);
    let _ = Transport::parse(v);
    check_name(v);
    if let Ok(m) = MediaType::parse(v) {
        let _ = (m.is("application", "sdp"), m.boundary(), m.charset());
        params(s, &m.params);
        emit(s, &m);
    }
    if let Ok(d) = ContentDisposition::parse(v) {
        let _ = (d.is("signal"), d.handling_required());
        params(s, &d.params);
        emit(s, &d);
    }
    if let Ok(e) = Event::parse(v) {
        let _ = (e.id(), e.is("uaCSTA"));
        params(s, &e.params);
        emit(s, &e);
    }
    if let Ok(x) = SubscriptionState::parse(v) {
        let _ = (x.expires(), x.reason(), x.retry_after());
        params(s, &x.params);
        emit(s, &x);
    }
    if let Ok(x) = SessionTimer::parse(v) {
        let _ = x.refresher();
        params(s, &x.params);
        emit(s, &x);
    }
    if let Ok(x) = RetryAfter::parse(v) {
        let _ = (x.duration(), x.comment);
        params(s, &x.params);
        emit(s, &x);
    }
    if let Ok(d) = SipDate::parse(v) {
        let _ = d.unix_time();
        emit(s, &d);
        assert_eq!(SipDate::parse(s), Ok(d));
    }
    if let Ok(p) = Params::parse(v) {
        params(s, &p);
    }
    if let Ok(c) = Challenge::parse(v) {
        let _ = (c.stale(), c.domain(), c.qop_options().count());
        for q in [Qop::Auth, Qop::AuthInt, Qop::None] {
            let _ = c.offers_qop(q);
        }
        let _ = (c.scheme(), c.is_digest(), c.token68(), c.param("realm"));
        let _ = (
            c.realm(),
            c.nonce(),
            c.opaque(),
            c.algorithm(),
            c.userhash(),
        );
        auth_params(s, &c.params());
        emit(s, &c);
    }
    if let Ok(c) = Credentials::parse(v) {
        let _ = (
            c.username(),
            c.uri(),
            c.response(),
            c.cnonce(),
            c.nc(),
            c.qop(),
        );
        let _ = (c.scheme(), c.is_digest(), c.token68(), c.param("realm"));
        let _ = (
            c.realm(),
            c.nonce(),
            c.opaque(),
            c.algorithm(),
            c.userhash(),
        );
        auth_params(s, &c.params());
        emit(s, &c);
    }
    if let Ok(a) = Algorithm::parse(v) {
        let _ = (a.is_session(), a.base(), a.hex_len());
        assert_eq!(Algorithm::parse(a.as_str()), Ok(a));
        show(s, &a);
    }
    if let Ok(q) = Qop::parse(v) {
        let _ = q.as_str();
    }
    let _ = CommaSplit::new(v).count();
}

fn auth_params(s: &mut String, p: &AuthParams<'_>) {
    let _ = (p.as_str(), p.is_empty());
    for x in p.iter().take(32) {
        let v = x.value;
        let _ = (
            v.as_raw(),
            v.is_quoted(),
            v.as_str(),
            v.chars().count(),
            v.as_plain(),
        );
        let text: String = v.chars().collect();
        assert!(v.eq_text(&text) && v.eq_ignore_ascii_case(&text) && v == text.as_str());
        assert!(p.get(x.name).is_some(), "a parameter finds itself");
        emit(s, &v);
    }
}

/// `HeaderName::parse` classifies a name as the header whose full or compact name it
/// spells (ignoring case), and as `Other` when it spells none.
fn check_name(name: &str) {
    let spells = |k: HeaderName| {
        k.as_str().eq_ignore_ascii_case(name)
            || k.compact().is_some_and(|c| {
                let mut b = [0u8; 4];
                name.eq_ignore_ascii_case(c.encode_utf8(&mut b))
            })
    };
    match HeaderName::parse(name) {
        HeaderName::Other => assert!(
            !HeaderName::ALL.iter().any(|&k| spells(k)),
            "{name:?} is a known header but classified Other"
        ),
        k => assert!(spells(k), "{name:?} classified as {k:?}"),
    }
}

fn via(s: &mut String, v: &Via<'_>) {
    let _ = (
        v.branch(),
        v.has_rfc3261_branch(),
        v.received(),
        v.rport(),
        v.maddr(),
        v.ttl(),
        v.port_or_default(),
        v.protocol,
        v.version,
    );
    let t = v.transport;
    let _ = (t.is_reliable(), t.default_port());
    assert_eq!(Transport::parse(t.as_str()), t);
    host(s, &v.host);
    params(s, &v.params);
    emit(s, v);
}

fn name_addr(s: &mut String, a: &NameAddr<'_>) {
    if let Some(d) = a.display_name {
        let _ = (d.as_raw(), d.chars().count());
    }
    let _ = a.tag();
    uri(s, &a.uri);
    params(s, &a.params);
    emit(s, a);
}

fn uri(s: &mut String, u: &Uri<'_>) {
    let _ = (u.scheme(), u.as_sip());
    match u {
        Uri::Sip(x) => {
            let _ = (
                x.transport(),
                x.user_param(),
                x.maddr(),
                x.method(),
                x.ttl(),
                x.lr(),
                x.port,
                x.secure,
            );
            let mut buf = [0u8; 64];
            for part in [x.user, x.password].into_iter().flatten() {
                let _ = unescape(part, &mut buf);
            }
            for (name, value) in x.headers() {
                let _ = unescape(name, &mut buf);
                let _ = unescape(value, &mut buf);
            }
            host(s, &x.host);
            params(s, &x.params);
            emit(s, x);
        }
        Uri::Tel(t) => {
            let _ = (
                t.is_global(),
                t.phone_context(),
                t.ext(),
                t.digits().count(),
            );
            params(s, &t.params);
            emit(s, t);
        }
        Uri::Absolute(a) => emit(s, a),
    }
    emit(s, u);
    if !repeats(u) {
        assert!(u.equivalent(u), "a URI is not equivalent to itself: {u}");
    }
}

fn host(s: &mut String, h: &Host<'_>) {
    let _ = h.is_ip();
    assert!(h.equivalent(h));
    emit(s, h);
}

fn params(s: &mut String, p: &Params<'_>) {
    let _ = (p.as_str(), p.is_empty(), p.buffer_len());
    // Looking every parameter up is quadratic: the first few are enough.
    for x in p.iter().take(32) {
        let _ = x.unquoted();
        let first = p.get(x.name).expect("a parameter finds itself");
        let _ = (p.value(x.name), p.contains(x.name), first.value);
    }
    s.clear();
}

/// Whether a TEL URI repeats a parameter name (compared case-insensitively), which makes
/// its comparison ambiguous. SIP URIs compare repeated names by their first occurrence,
/// so they never count as repeating.
fn repeats(u: &Uri<'_>) -> bool {
    let p = match u {
        Uri::Tel(t) => &t.params,
        Uri::Sip(_) | Uri::Absolute(_) => return false,
    };
    // Long lists are treated as repeating rather than compared pairwise.
    p.iter().nth(32).is_some()
        || p.iter().enumerate().any(|(i, a)| {
            p.iter()
                .skip(i + 1)
                .any(|b| a.name.eq_ignore_ascii_case(b.name))
        })
}
