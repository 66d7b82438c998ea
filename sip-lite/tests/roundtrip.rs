//! Property tests: `parse(emit(x)) == x` for whole messages and for typed header values,
//! with the parsed components checked against the ones the text was generated from.

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;
use sip_lite::wire::{
    CSeq, DisplayName, HeaderIndex, HeaderName, Host, Message, Method, NameAddr, SliceSink,
    StartLine, StatusCode, Transport, Uri, Via, Writer,
};

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9.!%*_+`'~-]{1,12}"
}

fn method() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(Method::STANDARD.map(|m| m.as_str()).to_vec()).prop_map(String::from),
        token(),
    ]
}

#[derive(Debug, Clone)]
enum GenHost {
    Domain(String),
    V4(Ipv4Addr),
    V6(Ipv6Addr),
}

impl GenHost {
    fn text(&self) -> String {
        match self {
            GenHost::Domain(d) => d.clone(),
            GenHost::V4(a) => a.to_string(),
            GenHost::V6(a) => format!("[{a}]"),
        }
    }

    fn matches(&self, h: &Host<'_>) -> bool {
        match (self, h) {
            (GenHost::Domain(a), Host::Domain(b)) => a == b,
            (GenHost::V4(a), Host::Ipv4(b)) => a == b,
            (GenHost::V6(a), Host::Ipv6(b)) => a == b,
            _ => false,
        }
    }
}

fn host() -> impl Strategy<Value = GenHost> {
    prop_oneof![
        prop::collection::vec("[a-z0-9_-]{1,10}", 0..3)
            .prop_flat_map(|labels| ("[a-zA-Z][a-zA-Z0-9-]{0,8}", Just(labels)))
            .prop_map(|(top, mut labels)| {
                labels.push(top);
                GenHost::Domain(labels.join("."))
            }),
        any::<[u8; 4]>().prop_map(|o| GenHost::V4(Ipv4Addr::from(o))),
        any::<u128>().prop_map(|a| GenHost::V6(Ipv6Addr::from(a))),
    ]
}

#[derive(Debug, Clone)]
struct GenSipUri {
    secure: bool,
    user: Option<String>,
    password: Option<String>,
    host: GenHost,
    port: Option<u16>,
    params: Vec<(String, Option<String>)>,
    headers: Vec<(String, String)>,
}

impl GenSipUri {
    fn text(&self) -> String {
        let mut s = String::from(if self.secure { "sips:" } else { "sip:" });
        if let Some(u) = &self.user {
            s += u;
            if let Some(p) = &self.password {
                s += ":";
                s += p;
            }
            s += "@";
        }
        s += &self.host.text();
        if let Some(p) = self.port {
            s += &format!(":{p}");
        }
        for (n, v) in &self.params {
            s += ";";
            s += n;
            if let Some(v) = v {
                s += "=";
                s += v;
            }
        }
        for (i, (n, v)) in self.headers.iter().enumerate() {
            s += if i == 0 { "?" } else { "&" };
            s += &format!("{n}={v}");
        }
        s
    }

    fn check(&self, u: &Uri<'_>) {
        let Uri::Sip(u) = u else {
            panic!("not a SIP URI: {u:?}")
        };
        assert_eq!(u.secure, self.secure);
        assert_eq!(u.user, self.user.as_deref());
        assert_eq!(u.password, self.user.as_ref().and(self.password.as_deref()));
        assert!(
            self.host.matches(&u.host),
            "{:?} vs {:?}",
            self.host,
            u.host
        );
        assert_eq!(u.port, self.port);
        let params: Vec<_> = u.params.iter().map(|p| (p.name, p.value)).collect();
        let expected: Vec<_> = self
            .params
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_deref()))
            .collect();
        assert_eq!(params, expected);
        let headers: Vec<_> = u.headers().collect();
        let expected: Vec<_> = self
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(headers, expected);
    }
}

fn escaped(class: &'static str, len: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            4 => proptest::string::string_regex(class).unwrap(),
            1 => any::<u8>().prop_map(|b| format!("%{b:02X}")),
        ],
        1..len,
    )
    .prop_map(|v| v.concat())
}

fn sip_uri() -> impl Strategy<Value = GenSipUri> {
    (
        any::<bool>(),
        proptest::option::of(escaped("[a-zA-Z0-9_.!~*'()&=+$,;?/-]", 10)),
        proptest::option::of("[a-zA-Z0-9&=+$,._~-]{0,8}"),
        host(),
        proptest::option::of(any::<u16>()),
        prop::collection::vec(
            (
                "[a-z][a-z0-9-]{0,7}",
                proptest::option::of("[a-zA-Z0-9.:/+$-]{1,8}"),
            ),
            0..4,
        ),
        prop::collection::vec(("[a-zA-Z]{1,6}", "[a-z0-9:/+]{0,6}"), 0..3),
    )
        .prop_map(
            |(secure, user, password, host, port, params, headers)| GenSipUri {
                secure,
                user,
                password,
                host,
                port,
                params,
                headers,
            },
        )
}

/// Optional linear white space, folds included, where the grammar allows it.
fn lws() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec!["", "", "", " ", "\t", "  ", "\r\n "])
}

fn display<T: std::fmt::Display>(v: &T) -> String {
    v.to_string()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn prop_sip_uri_round_trip(g in sip_uri()) {
        let text = g.text();
        let u = Uri::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        g.check(&u);
        let again = display(&u);
        prop_assert_eq!(Uri::parse(&again).unwrap(), u);
        prop_assert!(Uri::parse(&again).unwrap().equivalent(&u));
    }

    #[test]
    fn prop_via_round_trip(
        transport in prop::sample::select(vec!["UDP", "TCP", "TLS", "SCTP", "WS", "WSS", "tls-sctp", "XYZ"]),
        host in host(),
        port in proptest::option::of(any::<u16>()),
        branch in token(),
        rport in proptest::option::of(proptest::option::of(any::<u16>())),
        received in proptest::option::of(any::<[u8; 4]>()),
        ttl in proptest::option::of(any::<u8>()),
        ws in prop::collection::vec(lws(), 8),
    ) {
        let mut text = format!("SIP{}/{}2.0{}/{}{}{} {}", ws[0], ws[1], ws[2], ws[3], transport, ws[4], host.text());
        if let Some(p) = port {
            text += &format!(":{p}");
        }
        text += &format!("{};{}branch{}={}{}", ws[5], ws[6], ws[7], ws[6], branch);
        match rport {
            Some(Some(p)) => text += &format!(";rport={p}"),
            Some(None) => text += ";rport",
            None => {}
        }
        if let Some(r) = received {
            text += &format!(";received={}", Ipv4Addr::from(r));
        }
        if let Some(t) = ttl {
            text += &format!(";ttl={t}");
        }
        let v = Via::parse(&text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        prop_assert_eq!(v.transport, Transport::parse(transport));
        prop_assert!(host.matches(&v.host));
        prop_assert_eq!(v.port, port);
        prop_assert_eq!(v.branch(), Some(branch.as_str()));
        prop_assert_eq!(v.rport(), rport);
        prop_assert_eq!(v.received(), received.map(|r| Host::Ipv4(Ipv4Addr::from(r))));
        prop_assert_eq!(v.ttl(), ttl);
        let again = display(&v);
        prop_assert_eq!(Via::parse(&again).unwrap(), v);
    }

    #[test]
    fn prop_name_addr_round_trip(
        name in proptest::option::of(prop_oneof![
            "[A-Za-z0-9.!%*_+`'~-]{1,8}( [A-Za-z0-9.!%*_+`'~-]{1,8}){0,2}".prop_map(|s| (s, false)),
            "([ !#-\\[\\]-~\u{e0}-\u{ff}]|\\\\[\"\\\\]){0,12}".prop_map(|s| (s, true)),
        ]),
        uri in sip_uri(),
        angle in any::<bool>(),
        tag in proptest::option::of(token()),
        ws in prop::collection::vec(lws(), 3),
    ) {
        let uri_text = uri.text();
        // Without angle brackets a URI cannot carry parameters, headers or a display name.
        // (RFC 3261 section 20: a URI with ',', '?' or ';' must be bracketed).
        let bare = !angle && name.is_none() && !uri_text.contains([';', '?', ',']);
        let mut text = String::new();
        if let Some((n, quoted)) = &name {
            text += &if *quoted { format!("\"{n}\"") } else { n.clone() };
            text += ws[0];
        }
        if bare {
            text += &uri_text;
        } else {
            text += &format!("<{uri_text}>");
        }
        if let Some(t) = &tag {
            text += &format!("{};{}tag={}", ws[1], ws[2], t);
        }
        let a = NameAddr::parse(&text).unwrap_or_else(|e| panic!("{text:?}: {e}"));
        uri.check(&a.uri);
        prop_assert_eq!(a.tag(), tag.as_deref());
        match (&name, a.display_name) {
            (None, None) => {}
            (Some((n, true)), Some(DisplayName::Quoted(q))) => prop_assert_eq!(n.as_str(), q),
            (Some((n, false)), Some(DisplayName::Tokens(t))) => prop_assert_eq!(n.as_str(), t),
            (n, d) => prop_assert!(false, "display name {:?} parsed as {:?}", n, d),
        }
        let again = display(&a);
        prop_assert_eq!(NameAddr::parse(&again).unwrap(), a);
    }

    #[test]
    fn prop_cseq_round_trip(seq in any::<u32>(), m in method(), ws in "[ \t]{1,3}") {
        let text = format!("{seq}{ws}{m}");
        let c = CSeq::parse(&text).unwrap();
        prop_assert_eq!(c.seq, seq);
        prop_assert_eq!(c.method.as_str(), m.as_str());
        let again = display(&c);
        prop_assert_eq!(CSeq::parse(&again).unwrap(), c);
    }

    #[test]
    fn prop_message_round_trip(
        request in any::<bool>(),
        m in method(),
        uri in sip_uri(),
        status in 100u16..=699,
        reason in "[ -~\u{a0}-\u{17f}]{0,30}",
        headers in prop::collection::vec(
            (
                prop_oneof![
                    prop::sample::select(
                        HeaderName::ALL.iter()
                            .filter(|n| **n != HeaderName::ContentLength)
                            .map(|n| n.as_str().to_string())
                            .collect::<Vec<_>>()
                    ),
                    "[a-km-zA-KM-Z]|X-[A-Za-z0-9-]{1,12}",
                ],
                "([!-~\u{a0}-\u{17f}]([ -~\u{a0}-\u{17f}]{0,40}[!-~\u{a0}-\u{17f}])?)?",
            ),
            0..20,
        ),
        body in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut buf = vec![0u8; 8192];
        let uri_text = uri.text();
        let method = Method::parse(&m).unwrap();
        let mut w = if request {
            Writer::request_str(SliceSink::new(&mut buf), method, &uri_text).unwrap()
        } else {
            Writer::response(SliceSink::new(&mut buf), StatusCode(status), &reason).unwrap()
        };
        for (n, v) in &headers {
            w.header(n, v).unwrap();
        }
        let len = w.finish(&body).unwrap().len();

        let mut storage = [HeaderIndex::EMPTY; 32];
        let msg = Message::parse(&buf[..len], &mut storage).unwrap();
        if request {
            prop_assert_eq!(msg.start_line(), StartLine::Request { method, uri: &uri_text });
        } else {
            let r = if reason.is_empty() { StatusCode(status).default_reason() } else { reason.as_str() };
            prop_assert_eq!(msg.start_line(), StartLine::Response { status: StatusCode(status), reason: r });
        }
        let parsed: Vec<_> = msg.headers().map(|h| (h.name, h.value)).collect();
        prop_assert_eq!(parsed.len(), headers.len() + 1);
        for ((n, v), (pn, pv)) in headers.iter().zip(&parsed) {
            prop_assert_eq!(n.as_str(), *pn);
            prop_assert_eq!(v.as_str(), *pv);
        }
        let body_len = body.len().to_string();
        prop_assert_eq!(parsed.last().copied(), Some(("Content-Length", body_len.as_str())));
        prop_assert_eq!(msg.content_length(), Some(body.len()));
        prop_assert_eq!(msg.body(), &body[..]);

        // And the same bytes frame identically on a stream.
        let mut storage = [HeaderIndex::EMPTY; 32];
        let (streamed, used) = Message::parse_stream(&buf[..len], &mut storage).unwrap().complete().unwrap();
        prop_assert_eq!(used, len);
        prop_assert_eq!(streamed.body(), &body[..]);
    }
}
