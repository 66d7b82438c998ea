//! Writes a parsed message as an indented outline: the start line, each header line as
//! written (folds joined) followed by the fields of its typed view, and the body length.

use std::io::{self, Write};

use sip_lite::ValueError;
use sip_lite::wire::{
    AuthParams, AuthValue, CSeq, Challenge, CommaSplit, Contact, ContentDisposition, Credentials,
    DisplayName, Event, Header, HeaderName, Host, MediaType, Message, Method, NameAddr, Params,
    Refresher, RetryAfter, SessionTimer, SipDate, StartLine, StatusCode, SubscriptionState,
    Transport, Unfolded, Uri, Via, parse_call_id, parse_delta, unescape,
};

/// Writes one line indented by `depth` steps of two spaces.
macro_rules! say {
    ($w:expr, $depth:expr, $($fmt:tt)*) => {
        writeln!($w, "{:indent$}{}", "", format_args!($($fmt)*), indent = 2 * $depth)
    };
}

/// Writes the whole outline of `msg`.
pub(crate) fn message(w: &mut impl Write, msg: &Message<'_>) -> io::Result<()> {
    match msg.start_line() {
        StartLine::Request { method, uri } => {
            say!(w, 0, "request: {method} {uri} {}", msg.version())?;
            let kind = match method {
                Method::Extension(_) => " (extension method)",
                _ => "",
            };
            say!(w, 1, "method: {method}{kind}")?;
            match msg.request_uri() {
                Some(Ok(u)) => show_uri(w, 1, "request-uri", &u)?,
                Some(Err(e)) => {
                    say!(w, 1, "request-uri: {uri}")?;
                    say!(w, 2, "error: {e}")?;
                }
                None => {}
            }
        }
        StartLine::Response { status, reason } => {
            say!(w, 0, "response: {} {status} {reason}", msg.version())?;
            say!(w, 1, "status: {status} ({})", class(status))?;
            say!(w, 1, "reason: {reason:?}")?;
        }
    }

    say!(w, 0, "headers: {}", msg.header_count())?;
    for h in msg.headers() {
        show_header(w, 1, &h)?;
    }

    let body = msg.body().len();
    match msg.content_length() {
        Some(_) => say!(w, 0, "body: {body} octets")?,
        None => say!(
            w,
            0,
            "body: {body} octets (no Content-Length: the rest of the datagram)"
        )?,
    }
    Ok(())
}

fn class(status: StatusCode) -> &'static str {
    match status.class() {
        1 => "provisional",
        2 => "success",
        3 => "redirection",
        4 => "client error",
        5 => "server error",
        6 => "global failure",
        _ => "outside 100..=699",
    }
}

/// The typed view a header's values are shown with.
#[derive(Clone, Copy)]
enum View {
    Via,
    NameAddr,
    Contact,
    CSeq,
    CallId,
    /// A number; the text names its unit.
    Number(&'static str),
    MediaType,
    Disposition,
    Event,
    SubscriptionState,
    SessionTimer,
    RetryAfter,
    Date,
    /// A list of option tags or event packages.
    Tokens,
    /// A list of methods (Allow).
    Methods,
    /// WWW-Authenticate, Proxy-Authenticate.
    Challenge,
    /// Authorization, Proxy-Authorization.
    Credentials,
}

fn view(kind: HeaderName) -> Option<View> {
    use HeaderName as N;
    Some(match kind {
        N::Via => View::Via,
        N::From
        | N::To
        | N::Route
        | N::RecordRoute
        | N::Path
        | N::ReplyTo
        | N::ReferTo
        | N::ReferredBy => View::NameAddr,
        N::Contact => View::Contact,
        N::CSeq => View::CSeq,
        N::CallId => View::CallId,
        N::MaxForwards => View::Number("hops"),
        N::Expires | N::MinExpires => View::Number("seconds"),
        N::ContentLength => View::Number("octets"),
        N::RSeq => View::Number("number"),
        N::ContentType => View::MediaType,
        N::ContentDisposition => View::Disposition,
        N::Event => View::Event,
        N::SubscriptionState => View::SubscriptionState,
        N::SessionExpires | N::MinSe => View::SessionTimer,
        N::RetryAfter => View::RetryAfter,
        N::Date => View::Date,
        N::Supported | N::Require | N::ProxyRequire | N::Unsupported | N::AllowEvents => {
            View::Tokens
        }
        N::Allow => View::Methods,
        N::WwwAuthenticate | N::ProxyAuthenticate => View::Challenge,
        N::Authorization | N::ProxyAuthorization => View::Credentials,
        _ => return None,
    })
}

fn show_header(w: &mut impl Write, d: usize, h: &Header<'_>) -> io::Result<()> {
    let value = Unfolded(h.value).to_string();
    let folded = if h.value.contains(['\r', '\n']) {
        "  (folded)"
    } else {
        ""
    };
    let name = if h.kind == HeaderName::Other || h.name == h.kind.as_str() {
        h.name.to_owned()
    } else {
        format!("{} ({})", h.name, h.kind)
    };
    if value.is_empty() {
        say!(w, d, "{name}:{folded}")?;
    } else {
        say!(w, d, "{name}: {value}{folded}")?;
    }
    let Some(view) = view(h.kind) else {
        return Ok(());
    };
    match view {
        View::Tokens | View::Methods => return show_tokens(w, d + 1, view, h.value),
        _ if !h.kind.is_list() => return show_value(w, d + 1, view, h.value),
        _ => {}
    }
    let items: Vec<&str> = CommaSplit::new(h.value).collect();
    match items.as_slice() {
        [] => say!(w, d + 1, "error: {}", ValueError::Empty),
        [one] => show_value(w, d + 1, view, one),
        many => {
            for (i, item) in many.iter().enumerate() {
                say!(w, d + 1, "[{}] {}", i + 1, Unfolded(item))?;
                show_value(w, d + 2, view, item)?;
            }
            Ok(())
        }
    }
}

/// The fields of one value of a header with a typed view.
fn show_value(w: &mut impl Write, d: usize, view: View, v: &str) -> io::Result<()> {
    let result = match view {
        View::Via => Via::parse(v).map(|via| show_via(w, d, &via)),
        View::NameAddr => NameAddr::parse(v).map(|a| show_name_addr(w, d, &a)),
        View::Contact => Contact::parse(v).map(|c| show_contact(w, d, &c)),
        View::CSeq => CSeq::parse(v).map(|c| {
            say!(w, d, "seq: {}", c.seq)?;
            say!(w, d, "method: {}", c.method)
        }),
        View::CallId => parse_call_id(v).map(|id| say!(w, d, "call-id: {id}")),
        View::Number(unit) => parse_delta(v).map(|n| say!(w, d, "{unit}: {n}")),
        View::MediaType => MediaType::parse(v).map(|m| {
            say!(w, d, "type: {}", m.ty)?;
            say!(w, d, "subtype: {}", m.subtype)?;
            show_params(w, d, &m.params, &[])
        }),
        View::Disposition => ContentDisposition::parse(v).map(|c| {
            say!(w, d, "disposition: {}", c.disposition)?;
            let default = if c.params.contains("handling") {
                ""
            } else {
                " (default)"
            };
            let handling = if c.handling_required() {
                "required"
            } else {
                "optional"
            };
            say!(w, d, "handling: {handling}{default}")?;
            show_params(w, d, &c.params, &["handling"])
        }),
        View::Event => Event::parse(v).map(|e| {
            say!(w, d, "package: {}", e.package)?;
            if let Some(id) = e.id() {
                say!(w, d, "id: {id}")?;
            }
            show_params(w, d, &e.params, &["id"])
        }),
        View::SubscriptionState => SubscriptionState::parse(v).map(|s| {
            say!(w, d, "state: {}", s.state)?;
            if let Some(e) = s.expires() {
                say!(w, d, "expires: {e} seconds")?;
            }
            if let Some(r) = s.reason() {
                say!(w, d, "reason: {r}")?;
            }
            if let Some(r) = s.retry_after() {
                say!(w, d, "retry-after: {r} seconds")?;
            }
            show_params(w, d, &s.params, &["expires", "reason", "retry-after"])
        }),
        View::SessionTimer => SessionTimer::parse(v).map(|s| {
            say!(w, d, "seconds: {}", s.delta)?;
            match s.refresher() {
                Some(Refresher::Uac) => say!(w, d, "refresher: uac")?,
                Some(Refresher::Uas) => say!(w, d, "refresher: uas")?,
                None => {}
            }
            show_params(w, d, &s.params, &["refresher"])
        }),
        View::RetryAfter => RetryAfter::parse(v).map(|r| {
            say!(w, d, "seconds: {}", r.delta)?;
            if let Some(c) = r.comment {
                say!(w, d, "comment: {}", Unfolded(c))?;
            }
            if let Some(s) = r.duration() {
                say!(w, d, "duration: {s} seconds")?;
            }
            show_params(w, d, &r.params, &["duration"])
        }),
        View::Date => SipDate::parse(v).map(|t| {
            say!(
                w,
                d,
                "date: {:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC (unix time {})",
                t.year,
                t.month,
                t.day,
                t.hour,
                t.minute,
                t.second,
                t.unix_time()
            )
        }),
        View::Challenge => Challenge::parse(v).map(|c| show_challenge(w, d, &c)),
        View::Credentials => Credentials::parse(v).map(|c| show_credentials(w, d, &c)),
        View::Tokens | View::Methods => return show_tokens(w, d, view, v),
    };
    match result {
        Ok(written) => written,
        Err(e) => say!(w, d, "error: {e}"),
    }
}

fn show_via(w: &mut impl Write, d: usize, v: &Via<'_>) -> io::Result<()> {
    say!(w, d, "protocol: {}/{}", v.protocol, v.version)?;
    let note = match v.transport {
        Transport::Other(_) => " (unknown transport)",
        t if t.is_reliable() => " (reliable)",
        _ => " (unreliable)",
    };
    say!(w, d, "transport: {}{note}", v.transport.as_str())?;
    say!(w, d, "host: {}", host(&v.host))?;
    match v.port {
        Some(p) => say!(w, d, "port: {p}")?,
        None => say!(w, d, "port: {} (default)", v.port_or_default())?,
    }
    if let Some(b) = v.branch() {
        let cookie = if v.has_rfc3261_branch() {
            "RFC 3261 magic cookie"
        } else {
            "no magic cookie: RFC 2543 peer"
        };
        say!(w, d, "branch: {b} ({cookie})")?;
    }
    if let Some(r) = v.received() {
        say!(w, d, "received: {}", host(&r))?;
    }
    match v.rport() {
        Some(Some(p)) => say!(w, d, "rport: {p}")?,
        Some(None) => say!(w, d, "rport: (requested)")?,
        None => {}
    }
    if let Some(m) = v.maddr() {
        say!(w, d, "maddr: {}", host(&m))?;
    }
    if let Some(t) = v.ttl() {
        say!(w, d, "ttl: {t}")?;
    }
    show_params(
        w,
        d,
        &v.params,
        &["branch", "received", "rport", "maddr", "ttl"],
    )
}

fn show_name_addr(w: &mut impl Write, d: usize, a: &NameAddr<'_>) -> io::Result<()> {
    if let Some(name) = a.display_name {
        let form = match name {
            DisplayName::Quoted(_) => "quoted",
            DisplayName::Tokens(_) => "tokens",
        };
        let text: String = name.chars().collect();
        say!(w, d, "display-name: {text:?} ({form})")?;
    }
    show_uri(w, d, "uri", &a.uri)?;
    show_params(w, d, &a.params, &[])
}

fn show_contact(w: &mut impl Write, d: usize, c: &Contact<'_>) -> io::Result<()> {
    let Some(a) = c.addr() else {
        return say!(w, d, "wildcard: * (every binding)");
    };
    if let Some(name) = a.display_name {
        let text: String = name.chars().collect();
        say!(w, d, "display-name: {text:?}")?;
    }
    show_uri(w, d, "uri", &a.uri)?;
    match c.expires() {
        Some(Ok(s)) => say!(w, d, "expires: {s} seconds")?,
        Some(Err(e)) => say!(w, d, "expires: error: {e}")?,
        None => {}
    }
    match c.q() {
        Some(Ok(q)) => say!(w, d, "q: {}.{:03}", q.0 / 1000, q.0 % 1000)?,
        Some(Err(e)) => say!(w, d, "q: error: {e}")?,
        None => {}
    }
    if let Some(i) = c.instance() {
        say!(w, d, "instance: {i}")?;
    }
    match c.reg_id() {
        Some(Ok(id)) => say!(w, d, "reg-id: {id}")?,
        Some(Err(e)) => say!(w, d, "reg-id: error: {e}")?,
        None => {}
    }
    show_params(
        w,
        d,
        &a.params,
        &["expires", "q", "+sip.instance", "reg-id"],
    )
}

fn show_challenge(w: &mut impl Write, d: usize, c: &Challenge<'_>) -> io::Result<()> {
    say!(w, d, "scheme: {}", c.scheme())?;
    if let Some(t) = c.token68() {
        say!(w, d, "token68: {t}")?;
    }
    show_auth_params(w, d, &c.params(), &["algorithm", "qop", "stale"])?;
    if c.is_digest() {
        match c.algorithm() {
            Ok(a) => say!(w, d, "algorithm: {a}")?,
            Err(e) => say!(w, d, "algorithm: error: {e}")?,
        }
        if c.param("qop").is_some() {
            let options: Vec<&str> = c.qop_options().collect();
            say!(w, d, "qop options: {}", options.join(", "))?;
        }
        if c.param("stale").is_some() {
            say!(w, d, "stale: {}", c.stale())?;
        }
    }
    Ok(())
}

fn show_credentials(w: &mut impl Write, d: usize, c: &Credentials<'_>) -> io::Result<()> {
    say!(w, d, "scheme: {}", c.scheme())?;
    if let Some(t) = c.token68() {
        say!(w, d, "token68: {t}")?;
    }
    show_auth_params(w, d, &c.params(), &["algorithm", "qop", "nc", "userhash"])?;
    if c.is_digest() {
        match c.algorithm() {
            Ok(a) => say!(w, d, "algorithm: {a}")?,
            Err(e) => say!(w, d, "algorithm: error: {e}")?,
        }
        match c.qop() {
            Ok(q) => say!(w, d, "qop: {}", q.as_str().unwrap_or("(none: RFC 2069)"))?,
            Err(e) => say!(w, d, "qop: error: {e}")?,
        }
        if let Some(nc) = c.nc() {
            say!(w, d, "nc: {nc}")?;
        }
        if c.param("userhash").is_some() {
            say!(w, d, "userhash: {}", c.userhash())?;
        }
    }
    Ok(())
}

/// Writes `name: text` for each authentication parameter not in `shown`, quoted values
/// with their escapes resolved.
fn show_auth_params(
    w: &mut impl Write,
    d: usize,
    params: &AuthParams<'_>,
    shown: &[&str],
) -> io::Result<()> {
    for p in params {
        if !shown.iter().any(|s| s.eq_ignore_ascii_case(p.name)) {
            say!(w, d, "{}: {}", p.name, auth_text(&p.value))?;
        }
    }
    Ok(())
}

/// An authentication parameter's value: quoted values in quotes, escapes resolved.
fn auth_text(v: &AuthValue<'_>) -> String {
    let text: String = v.chars().collect();
    if v.is_quoted() {
        format!("{text:?}")
    } else {
        text
    }
}

fn show_uri(w: &mut impl Write, d: usize, label: &str, u: &Uri<'_>) -> io::Result<()> {
    say!(w, d, "{label}: {u}")?;
    let d = d + 1;
    say!(w, d, "scheme: {}", u.scheme())?;
    match u {
        Uri::Sip(s) => {
            if let Some(user) = s.user {
                say!(w, d, "user: {}", escaped(user))?;
            }
            if let Some(password) = s.password {
                say!(w, d, "password: {}", escaped(password))?;
            }
            say!(w, d, "host: {}", host(&s.host))?;
            if let Some(p) = s.port {
                say!(w, d, "port: {p}")?;
            }
            show_params(w, d, &s.params, &[])?;
            for (name, value) in s.headers() {
                say!(w, d, "header: {name}={}", escaped(value))?;
            }
        }
        Uri::Tel(t) => {
            let kind = if t.is_global() { "global" } else { "local" };
            let digits: String = t.digits().collect();
            say!(w, d, "number: {} ({kind}, digits {digits})", t.number)?;
            show_params(w, d, &t.params, &[])?;
        }
        Uri::Absolute(a) => say!(w, d, "rest: {}", a.rest)?,
    }
    Ok(())
}

/// Writes `param: name=value` lines, leaving out the names in `shown` (already written
/// as typed fields).
fn show_params(
    w: &mut impl Write,
    d: usize,
    params: &Params<'_>,
    shown: &[&str],
) -> io::Result<()> {
    for p in params {
        if shown.iter().any(|s| s.eq_ignore_ascii_case(p.name)) {
            continue;
        }
        match p.value {
            Some(v) => say!(w, d, "param: {}={v}", p.name)?,
            None => say!(w, d, "param: {}", p.name)?,
        }
    }
    Ok(())
}

/// The elements of a token list on one line; malformed elements are named below it.
fn show_tokens(w: &mut impl Write, d: usize, view: View, v: &str) -> io::Result<()> {
    let items: Vec<&str> = CommaSplit::new(v).collect();
    if items.is_empty() {
        return say!(w, d, "tokens: (none)");
    }
    let mut good = Vec::new();
    let mut bad = Vec::new();
    for item in items {
        let ok = match view {
            View::Methods => Method::parse(item).map(|m| m.as_str()),
            _ if item.is_empty() => Err(ValueError::Empty),
            _ if item.bytes().all(is_token_char) => Ok(item),
            _ => Err(ValueError::Unexpected),
        };
        match ok {
            Ok(t) => good.push(t),
            Err(e) => bad.push((item, e)),
        }
    }
    let label = match view {
        View::Methods => "methods",
        _ => "tokens",
    };
    say!(w, d, "{label}: {}", good.join(", "))?;
    for (item, e) in bad {
        say!(w, d, "error: {:?}: {e}", Unfolded(item).to_string())?;
    }
    Ok(())
}

/// RFC 3261 `token` characters.
fn is_token_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
        )
}

/// A host with its kind.
fn host(h: &Host<'_>) -> String {
    let kind = match h {
        Host::Domain(_) => "name",
        Host::Ipv4(_) => "IPv4",
        Host::Ipv6(_) => "IPv6",
    };
    format!("{h} ({kind})")
}

/// A URI component as written, followed by its decoded form if it has `%` escapes.
fn escaped(s: &str) -> String {
    if !s.contains('%') {
        return s.to_owned();
    }
    let mut buf = vec![0; s.len()];
    match unescape(s, &mut buf) {
        Ok(octets) => format!("{s} (unescaped {:?})", String::from_utf8_lossy(octets)),
        Err(_) => s.to_owned(),
    }
}
