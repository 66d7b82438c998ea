//! URIs: SIP and SIPS (RFC 3261 section 19.1), TEL (RFC 3966) and any other scheme as an
//! absolute URI, with hosts, parameters, %-escapes and RFC 3261 section 19.1.4 comparison.

use core::net::{Ipv4Addr, Ipv6Addr};

use super::lex::{self, Scanner};
use super::sink::{Emit, Sink, display_via_emit};
use crate::error::{EmitError, ValueError};

/// A parsed URI.
///
/// `==` compares the parsed components exactly (what a round trip must preserve);
/// [`Uri::equivalent`] applies the RFC comparison rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uri<'a> {
    /// `sip:` or `sips:`.
    Sip(SipUri<'a>),
    /// `tel:`.
    Tel(TelUri<'a>),
    /// Any other scheme, kept verbatim.
    Absolute(AbsoluteUri<'a>),
}

impl<'a> Uri<'a> {
    /// Parses an addr-spec URI.
    ///
    /// # Errors
    /// The [`ValueError`] describing the first problem found.
    pub fn parse(s: &'a str) -> Result<Uri<'a>, ValueError> {
        let (scheme, rest) = lex::split_at_byte(s, b':').ok_or(ValueError::Scheme)?;
        if scheme.eq_ignore_ascii_case("sip") {
            SipUri::parse_parts(false, rest).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("sips") {
            SipUri::parse_parts(true, rest).map(Uri::Sip)
        } else if scheme.eq_ignore_ascii_case("tel") {
            TelUri::parse_number(rest).map(Uri::Tel)
        } else {
            AbsoluteUri::parse_parts(scheme, rest).map(Uri::Absolute)
        }
    }

    /// The scheme as written (`sip`, `SIPS`, `tel`, `mailto`, ...).
    pub fn scheme(&self) -> &'a str {
        match self {
            Uri::Sip(u) if u.secure => "sips",
            Uri::Sip(_) => "sip",
            Uri::Tel(_) => "tel",
            Uri::Absolute(a) => a.scheme,
        }
    }

    /// The SIP or SIPS URI, if this is one.
    pub fn as_sip(&self) -> Option<&SipUri<'a>> {
        match self {
            Uri::Sip(u) => Some(u),
            _ => None,
        }
    }

    /// Compares two URIs by the rules of their scheme: RFC 3261 section 19.1.4 for SIP
    /// and SIPS, RFC 3966 section 4 for TEL; other schemes compare the scheme
    /// case-insensitively and the rest octet by octet after undoing escapes of unreserved
    /// characters. URIs of different schemes are never equivalent.
    pub fn equivalent(&self, other: &Uri<'_>) -> bool {
        match (self, other) {
            (Uri::Sip(a), Uri::Sip(b)) => a.equivalent(b),
            (Uri::Tel(a), Uri::Tel(b)) => a.equivalent(b),
            (Uri::Absolute(a), Uri::Absolute(b)) => {
                a.scheme.eq_ignore_ascii_case(b.scheme) && escaped_eq(a.rest, b.rest, false)
            }
            _ => false,
        }
    }
}

impl Emit for Uri<'_> {
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        match self {
            Uri::Sip(u) => u.emit(out),
            Uri::Tel(u) => u.emit(out),
            Uri::Absolute(u) => u.emit(out),
        }
    }
}

/// A host: a domain name, an IPv4 address or an IPv6 reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Host<'a> {
    /// A host name as written (compare it case-insensitively).
    Domain(&'a str),
    /// A dotted-quad IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 address, written in brackets in URIs and Via sent-by.
    Ipv6(Ipv6Addr),
}

impl<'a> Host<'a> {
    /// Parses a host: `hostname / IPv4address / IPv6reference`.
    ///
    /// Host names may use `_` besides letters, digits, `-` and `.` (deployed systems use
    /// it), but the last label must start with a letter, as RFC 3261 requires, so that a
    /// malformed address is never taken for a name.
    ///
    /// # Errors
    /// [`ValueError::Host`] if `s` is none of these.
    pub fn parse(s: &'a str) -> Result<Host<'a>, ValueError> {
        match Host::scan(s, 0)? {
            (host, end) if end == s.len() => Ok(host),
            _ => Err(ValueError::Host),
        }
    }

    /// Parses the host that starts at `start` in `s`, returning it and where it ends:
    /// at the first character that cannot belong to it.
    pub(crate) fn scan(s: &'a str, start: usize) -> Result<(Host<'a>, usize), ValueError> {
        let b = s.as_bytes();
        if b.get(start) == Some(&b'[') {
            let close = start + lex::find(&s[start..], b']').ok_or(ValueError::Host)?;
            let inner = s.get(start + 1..close).ok_or(ValueError::Host)?;
            let addr = parse_ipv6(inner).ok_or(ValueError::Host)?;
            return Ok((Host::Ipv6(addr), close + 1));
        }
        // One pass over labels of host characters, none of them empty, noting how the
        // last one starts and, while every label is a number of up to three digits,
        // the octets of an IPv4 address.
        let mut i = start;
        let mut prev = b'.';
        let mut top_first = 0u8;
        let mut numeric = true;
        let (mut octets, mut n, mut octet, mut digits) = ([0u8; 4], 0usize, 0u32, 0u32);
        while let Some(&c) = b.get(i) {
            let class = lex::classes(c);
            if c == b'.' {
                if prev == b'.' {
                    return Err(ValueError::Host);
                }
                if numeric {
                    numeric = n < 3 && digits <= 3 && octet <= 255;
                    if numeric {
                        octets[n] = octet as u8;
                    }
                    (n, octet, digits) = (n + 1, 0, 0);
                }
            } else if class & lex::HOST != 0 {
                if prev == b'.' {
                    top_first = c;
                }
                if class & lex::DIGIT == 0 {
                    numeric = false;
                } else if digits < 3 {
                    octet = octet * 10 + u32::from(c - b'0');
                    digits += 1;
                } else {
                    // A fourth digit: not an IPv4 address (and not a toplabel).
                    digits = 4;
                }
            } else {
                break;
            }
            prev = c;
            i += 1;
        }
        if i == start {
            return Err(ValueError::Host);
        }
        if numeric {
            // IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT; leading
            // zeros are allowed by RFC 3261 and taken as decimal.
            if n != 3 || digits == 0 || digits > 3 || octet > 255 {
                return Err(ValueError::Host);
            }
            octets[3] = octet as u8;
            return Ok((Host::Ipv4(Ipv4Addr::from(octets)), i));
        }
        // toplabel = ALPHA / ALPHA *( alphanum / "-" ) alphanum (a trailing dot allowed)
        if top_first.is_ascii_alphabetic() {
            Ok((Host::Domain(s.get(start..i).ok_or(ValueError::Host)?), i))
        } else {
            Err(ValueError::Host)
        }
    }

    /// Parses a host as found in a Via `received` or `maddr` parameter: like
    /// [`Host::parse`], but an IPv6 address may also appear without brackets
    /// (RFC 5118 section 4.5 shows both forms in use).
    ///
    /// # Errors
    /// [`ValueError::Host`].
    pub fn parse_param(s: &'a str) -> Result<Host<'a>, ValueError> {
        if lex::find(s, b':').is_some() && !s.starts_with('[') {
            return parse_ipv6(s).map(Host::Ipv6).ok_or(ValueError::Host);
        }
        Host::parse(s)
    }

    /// Whether this is an IP address rather than a name.
    pub fn is_ip(&self) -> bool {
        !matches!(self, Host::Domain(_))
    }

    /// RFC 3261 comparison: names case-insensitively, addresses by value, a name never
    /// equal to an address.
    pub fn equivalent(&self, other: &Host<'_>) -> bool {
        match (self, other) {
            (Host::Domain(a), Host::Domain(b)) => {
                let (a, b) = (a.trim_end_matches('.'), b.trim_end_matches('.'));
                a.eq_ignore_ascii_case(b)
            }
            (Host::Ipv4(a), Host::Ipv4(b)) => a == b,
            (Host::Ipv6(a), Host::Ipv6(b)) => a == b,
            _ => false,
        }
    }
}

impl Emit for Host<'_> {
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        match self {
            Host::Domain(d) => out.put(d.as_bytes()),
            Host::Ipv4(a) => {
                let o = a.octets();
                for (i, x) in o.iter().enumerate() {
                    if i > 0 {
                        out.put(b".")?;
                    }
                    out.put_u32(u32::from(*x))?;
                }
                Ok(())
            }
            Host::Ipv6(a) => {
                let mut buf = [0u8; IPV6_TEXT];
                let n = ipv6_text(a, &mut buf);
                out.put(&buf[..n])
            }
        }
    }
}

display_via_emit!(Host);

/// The longest bracketed IPv6 reference: `[` + eight groups of four digits and seven
/// colons + `]`.
const IPV6_TEXT: usize = 41;

/// Writes `[a]` into `buf` and returns its length: `a` as `Ipv6Addr`'s `Display`
/// shows it (RFC 5952: lower-case digits without leading zeros, the first longest run
/// of two or more zero groups as `::`, an IPv4-mapped address as `::ffff:a.b.c.d`),
/// written without `core::fmt` (its IPv6 code is over 1 KiB) and not once per sink.
fn ipv6_text(a: &Ipv6Addr, buf: &mut [u8; IPV6_TEXT]) -> usize {
    let mut n = 0;
    // Never past the end: the longest text fits.
    let mut push = |b: u8| {
        if let Some(slot) = buf.get_mut(n) {
            *slot = b;
            n += 1;
        }
    };
    push(b'[');
    if let Some(v4) = a.to_ipv4_mapped() {
        b"::ffff:".iter().for_each(|&b| push(b));
        for (i, x) in v4.octets().into_iter().enumerate() {
            if i > 0 {
                push(b'.');
            }
            if x >= 100 {
                push(b'0' + x / 100);
            }
            if x >= 10 {
                push(b'0' + x / 10 % 10);
            }
            push(b'0' + x % 10);
        }
    } else {
        let groups = a.segments();
        // The first longest run of zero groups: (start, length).
        let (mut zeros, mut run) = ((0, 0), 0);
        for (i, &g) in groups.iter().enumerate() {
            run = if g == 0 { run + 1 } else { 0 };
            if run > zeros.1 {
                zeros = (i + 1 - run, run);
            }
        }
        if zeros.1 < 2 {
            zeros = (groups.len(), 0);
        }
        for (i, &g) in groups.iter().enumerate() {
            if i == zeros.0 {
                push(b':');
                push(b':');
            }
            if (zeros.0..zeros.0 + zeros.1).contains(&i) {
                continue;
            }
            if i > 0 && i != zeros.0 + zeros.1 {
                push(b':');
            }
            let mut shift = 12;
            while shift > 0 && g >> shift == 0 {
                shift -= 4;
            }
            loop {
                push(b"0123456789abcdef"[usize::from((g >> shift) & 0xf)]);
                if shift == 0 {
                    break;
                }
                shift -= 4;
            }
        }
    }
    push(b']');
    n
}

fn parse_ipv4(s: &[u8]) -> Option<Ipv4Addr> {
    // IPv4address = 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT "." 1*3DIGIT; leading zeros are
    // allowed by RFC 3261 and taken as decimal.
    let mut octets = [0u8; 4];
    let (mut n, mut value, mut digits) = (0usize, 0u32, 0u32);
    for &c in s {
        if c == b'.' {
            if digits == 0 || n == 3 {
                return None;
            }
            octets[n] = value as u8;
            (n, value, digits) = (n + 1, 0, 0);
        } else if c.is_ascii_digit() && digits < 3 {
            value = value * 10 + u32::from(c - b'0');
            digits += 1;
            if value > 255 {
                return None;
            }
        } else {
            return None;
        }
    }
    if n != 3 || digits == 0 {
        return None;
    }
    octets[3] = value as u8;
    Some(Ipv4Addr::from(octets))
}

/// Parses the text of an IPv6 reference without brackets.
///
/// RFC 4291 text form is accepted, and so is the RFC 3261 ABNF form
/// `hexseq "::" ":" IPv4address` (three colons before an embedded IPv4 address), which
/// RFC 5118 section 4.10 asks parsers to tolerate; it means the same as the two-colon
/// form.
fn parse_ipv6(s: &str) -> Option<Ipv6Addr> {
    // Groups before and after the "::", in order, and where the "::" stands.
    let mut groups = [0u16; 8];
    let (mut n, mut gap) = (0usize, None);
    let mut rest = s.as_bytes();
    if let Some(after) = rest.strip_prefix(b"::") {
        (gap, rest) = (Some(0), three_colons(after));
    }
    while !rest.is_empty() {
        let end = lex::find_byte(rest, 0, b':').unwrap_or(rest.len());
        let (part, after) = rest.split_at(end);
        if part.contains(&b'.') {
            // An IPv4 address fills the last two groups and ends the text.
            if !after.is_empty() || n > 6 {
                return None;
            }
            let [a, b, c, d] = parse_ipv4(part)?.octets();
            groups[n] = u16::from_be_bytes([a, b]);
            groups[n + 1] = u16::from_be_bytes([c, d]);
            n += 2;
            break;
        }
        if n == 8 || part.is_empty() || part.len() > 4 {
            return None;
        }
        groups[n] = part.iter().try_fold(0u16, |v, &c| {
            Some((v << 4) | (c as char).to_digit(16)? as u16)
        })?;
        n += 1;
        rest = match after {
            [] => break,
            [b':'] => return None,
            [b':', b':', more @ ..] if gap.is_none() => {
                gap = Some(n);
                three_colons(more)
            }
            [b':', more @ ..] => more,
            _ => return None,
        };
    }
    let mut out = [0u16; 8];
    match gap {
        None if n == 8 => out = groups,
        // "::" stands for one zero group at least.
        Some(at) if n < 8 => {
            out[..at].copy_from_slice(&groups[..at]);
            out[8 - (n - at)..].copy_from_slice(&groups[at..n]);
        }
        _ => return None,
    }
    Some(Ipv6Addr::from(out))
}

/// What follows a "::": the text after a third colon when that colon only introduces an
/// IPv4 address (RFC 3261's `hexpart ":" IPv4address`), else `after` itself.
fn three_colons(after: &[u8]) -> &[u8] {
    match after {
        [b':', v4 @ ..] if v4.contains(&b'.') && !v4.contains(&b':') => v4,
        _ => after,
    }
}

/// The end of the run of `class` characters and `%HH` escapes starting at `i`.
///
/// # Errors
/// [`ValueError::Escape`] for a `%` without two hexadecimal digits.
#[inline]
fn scan_escaped(b: &[u8], mut i: usize, class: u16) -> Result<usize, ValueError> {
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            match (b.get(i + 1), b.get(i + 2)) {
                (Some(h), Some(l)) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit() => i += 3,
                _ => return Err(ValueError::Escape),
            }
        } else if lex::is(c, class) {
            i += 1;
        } else {
            break;
        }
    }
    Ok(i)
}

pub(crate) fn parse_port(p: &str) -> Result<u16, ValueError> {
    if p.len() > 5 {
        return Err(ValueError::Port);
    }
    lex::parse_u32(p, 65535)
        .map(|v| v as u16)
        .map_err(|_| ValueError::Port)
}

pub(crate) fn emit_hostport<S: Sink + ?Sized>(
    out: &mut S,
    host: &Host<'_>,
    port: Option<u16>,
) -> Result<(), EmitError> {
    host.emit(out)?;
    if let Some(p) = port {
        out.put(b":")?;
        out.put_u32(u32::from(p))?;
    }
    Ok(())
}

/// A SIP or SIPS URI. Text components are borrowed as written, %-escapes included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SipUri<'a> {
    /// `sips:` rather than `sip:`.
    pub secure: bool,
    /// The user part (or telephone-subscriber), escapes undecoded.
    pub user: Option<&'a str>,
    /// The password, escapes undecoded.
    pub password: Option<&'a str>,
    /// The host.
    pub host: Host<'a>,
    /// The port, if written.
    pub port: Option<u16>,
    /// The URI parameters (`;transport=tcp;lr`).
    pub params: Params<'a>,
    /// The URI headers after `?`, escapes undecoded; iterate them with
    /// [`SipUri::headers`].
    pub headers: Option<&'a str>,
}

impl<'a> SipUri<'a> {
    /// Parses a `sip:` or `sips:` URI.
    ///
    /// # Errors
    /// [`ValueError::Scheme`] for another scheme, or the problem found.
    pub fn parse(s: &'a str) -> Result<SipUri<'a>, ValueError> {
        match Uri::parse(s)? {
            Uri::Sip(u) => Ok(u),
            _ => Err(ValueError::Scheme),
        }
    }

    /// Parses what follows `sip:` in one pass, validating each component as it goes.
    fn parse_parts(secure: bool, s: &'a str) -> Result<SipUri<'a>, ValueError> {
        let b = s.as_bytes();
        let text = |from: usize, to: usize| s.get(from..to).ok_or(ValueError::Unexpected);
        // userinfo: '@' appears in no other component (parameters and headers must
        // escape it), so the first one ends it; the user part may contain ';' and '?'.
        let (user, password, mut i) = match lex::find_byte(b, 0, b'@') {
            None => (None, None, 0),
            Some(0) => return Err(ValueError::Unexpected),
            Some(at) => {
                let user_end = scan_escaped(b, 0, lex::USER)?;
                match b[user_end] {
                    b'@' => (Some(text(0, user_end)?), None, at + 1),
                    b':' if user_end > 0 => {
                        let end = scan_escaped(b, user_end + 1, lex::PASSWORD)?;
                        if end != at {
                            return Err(ValueError::Unexpected);
                        }
                        (
                            Some(text(0, user_end)?),
                            Some(text(user_end + 1, at)?),
                            at + 1,
                        )
                    }
                    _ => return Err(ValueError::Unexpected),
                }
            }
        };
        let (host, end) = Host::scan(s, i)?;
        i = end;
        let port = if b.get(i) == Some(&b':') {
            let start = i + 1;
            i = start
                + b[start..]
                    .iter()
                    .take_while(|c| c.is_ascii_alphanumeric())
                    .count();
            Some(parse_port(text(start, i)?)?)
        } else {
            None
        };
        // uri-parameters = *( ";" pname [ "=" pvalue ] ), both 1*paramchar
        let params_start = i;
        while b.get(i) == Some(&b';') {
            let name_end = scan_escaped(b, i + 1, lex::PARAM)?;
            if name_end == i + 1 {
                return Err(ValueError::Param);
            }
            i = name_end;
            if b.get(i) == Some(&b'=') {
                let value_end = scan_escaped(b, i + 1, lex::PARAM)?;
                if value_end == i + 1 {
                    return Err(ValueError::Param);
                }
                i = value_end;
            }
        }
        let params = Params::from_checked(text(params_start, i)?);
        let headers = match b.get(i) {
            None => None,
            Some(b'?') => {
                let h = text(i + 1, b.len())?;
                check_uri_headers(h)?;
                Some(h)
            }
            Some(_) => return Err(ValueError::Unexpected),
        };
        Ok(SipUri {
            secure,
            user,
            password,
            host,
            port,
            params,
            headers,
        })
    }

    /// The first URI parameter whose name, with %-escapes decoded, is `name` (compared
    /// case-insensitively): `;%6C%72` is the `lr` parameter (RFC 4475 section 3.1.1.3).
    pub fn param(&self, name: &str) -> Option<Param<'a>> {
        uri_param(&self.params, name)
    }

    /// The `transport` parameter.
    pub fn transport(&self) -> Option<&'a str> {
        self.param("transport").and_then(|p| p.value)
    }

    /// The `user` parameter (`phone`, `ip`, ...).
    pub fn user_param(&self) -> Option<&'a str> {
        self.param("user").and_then(|p| p.value)
    }

    /// The `maddr` parameter.
    pub fn maddr(&self) -> Option<&'a str> {
        self.param("maddr").and_then(|p| p.value)
    }

    /// The `method` parameter.
    pub fn method(&self) -> Option<&'a str> {
        self.param("method").and_then(|p| p.value)
    }

    /// The `ttl` parameter, if present and valid.
    pub fn ttl(&self) -> Option<u8> {
        self.param("ttl")
            .and_then(|p| p.value)
            .and_then(|v| lex::parse_u32(v, 255).ok())
            .map(|v| v as u8)
    }

    /// Whether the `lr` (loose routing) parameter is present.
    pub fn lr(&self) -> bool {
        self.param("lr").is_some()
    }

    /// Iterates over the URI headers as `(hname, hvalue)` pairs, escapes undecoded.
    pub fn headers(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.headers
            .unwrap_or("")
            .split('&')
            .filter(|h| !h.is_empty())
            .map(|h| h.split_once('=').unwrap_or((h, "")))
    }

    /// RFC 3261 section 19.1.4 comparison.
    ///
    /// The scheme must match; userinfo compares case-sensitively and the rest
    /// case-insensitively; escaped unreserved characters equal their literal form; the
    /// port, user and password must be present in both or neither; `user`, `ttl`,
    /// `method`, `maddr` and `transport` parameters must match if either URI has them,
    /// other parameters only if both have them; URI headers must match as sets.
    pub fn equivalent(&self, other: &SipUri<'_>) -> bool {
        if self.secure != other.secure
            || self.port != other.port
            || !opt_escaped_eq(self.user, other.user, false)
            || !opt_escaped_eq(self.password, other.password, false)
            || !self.host.equivalent(&other.host)
        {
            return false;
        }
        // A name that occurs twice counts with its first occurrence (names compared with
        // escapes decoded), which keeps the comparison reflexive and symmetric.
        for p in self.params.iter() {
            let p = uri_param(&self.params, p.name).unwrap_or(p);
            match uri_param(&other.params, p.name) {
                Some(q) if !opt_escaped_eq(p.value, q.value, true) => return false,
                Some(_) => {}
                None if is_must_match_param(p.name) => return false,
                None => {}
            }
        }
        for q in other.params.iter() {
            if is_must_match_param(q.name) && uri_param(&self.params, q.name).is_none() {
                return false;
            }
        }
        headers_subset(self, other) && headers_subset(other, self)
    }
}

/// The first URI parameter named `name` once %-escapes are decoded on both sides.
fn uri_param<'p>(params: &Params<'p>, name: &str) -> Option<Param<'p>> {
    params.iter().find(|p| escaped_eq(p.name, name, true))
}

/// Parameters that make two SIP URIs differ when only one of them has it.
fn is_must_match_param(name: &str) -> bool {
    ["user", "ttl", "method", "maddr", "transport"]
        .iter()
        .any(|n| escaped_eq(name, n, true))
}

fn headers_subset(a: &SipUri<'_>, b: &SipUri<'_>) -> bool {
    a.headers().all(|(name, value)| {
        b.headers()
            .any(|(n, v)| escaped_eq(name, n, true) && escaped_eq(value, v, false))
    })
}

fn check_uri_headers(h: &str) -> Result<(), ValueError> {
    // headers = hname "=" hvalue *( "&" hname "=" hvalue )
    for item in h.split('&') {
        let (name, value) = lex::split_at_byte(item, b'=').ok_or(ValueError::Param)?;
        if name.is_empty() {
            return Err(ValueError::Param);
        }
        lex::check_escaped(name, lex::HNV)?;
        lex::check_escaped(value, lex::HNV)?;
    }
    Ok(())
}

impl Emit for SipUri<'_> {
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        out.put(if self.secure { b"sips:" } else { b"sip:" })?;
        if let Some(u) = self.user {
            out.put(u.as_bytes())?;
            if let Some(p) = self.password {
                out.put(b":")?;
                out.put(p.as_bytes())?;
            }
            out.put(b"@")?;
        }
        emit_hostport(out, &self.host, self.port)?;
        self.params.emit(out)?;
        if let Some(h) = self.headers {
            out.put(b"?")?;
            out.put(h.as_bytes())?;
        }
        Ok(())
    }
}

/// A TEL URI (RFC 3966).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelUri<'a> {
    /// The number with its visual separators, `+` included for global numbers.
    pub number: &'a str,
    /// Parameters (`;phone-context=...`, `;ext=...`, `;isub=...`, others).
    pub params: Params<'a>,
}

impl<'a> TelUri<'a> {
    fn parse_number(s: &'a str) -> Result<TelUri<'a>, ValueError> {
        let (number, params) = match lex::find(s, b';') {
            Some(i) => s.split_at(i),
            None => (s, ""),
        };
        let b = number.as_bytes();
        let valid = match b.split_first() {
            // global-number-digits = "+" *phonedigit DIGIT *phonedigit
            Some((b'+', d)) => {
                d.iter().any(u8::is_ascii_digit)
                    && d.iter()
                        .all(|&c| c.is_ascii_digit() || matches!(c, b'-' | b'.' | b'(' | b')'))
            }
            // local-number-digits = *phonedigit-hex (HEXDIG / "*" / "#") *phonedigit-hex
            _ => {
                b.iter()
                    .any(|&c| c.is_ascii_hexdigit() || c == b'*' || c == b'#')
                    && b.iter().all(|&c| lex::is(c, lex::TEL) && c != b'+')
            }
        };
        if !valid {
            return Err(ValueError::TelNumber);
        }
        let params = Params::parse_uri(params)?;
        Ok(TelUri { number, params })
    }

    /// Whether the number is global (`+` and a country code).
    pub fn is_global(&self) -> bool {
        self.number.starts_with('+')
    }

    /// The `phone-context` parameter of a local number.
    pub fn phone_context(&self) -> Option<&'a str> {
        self.params.value("phone-context")
    }

    /// The `ext` parameter.
    pub fn ext(&self) -> Option<&'a str> {
        self.params.value("ext")
    }

    /// The digits of the number without visual separators, hexadecimal digits in lower
    /// case (`+` kept).
    pub fn digits(&self) -> impl Iterator<Item = char> + 'a {
        tel_canonical(self.number)
    }

    /// RFC 3966 section 4 comparison: same kind (global or local), same digits ignoring
    /// visual separators and case, and the same parameters in any order.
    pub fn equivalent(&self, other: &TelUri<'_>) -> bool {
        if !self.digits().eq(other.digits()) {
            return false;
        }
        let same = |a: &Params<'_>, b: &Params<'_>| {
            a.iter().all(|p| {
                b.get(p.name).is_some_and(|q| {
                    if p.name.eq_ignore_ascii_case("phone-context")
                        || p.name.eq_ignore_ascii_case("ext")
                    {
                        // Compared like numbers or domains: separators and case ignored.
                        tel_canonical(p.value.unwrap_or(""))
                            .eq(tel_canonical(q.value.unwrap_or("")))
                    } else {
                        opt_escaped_eq(p.value, q.value, true)
                    }
                })
            })
        };
        same(&self.params, &other.params) && same(&other.params, &self.params)
    }
}

/// A number or domain without visual separators, in lower case.
fn tel_canonical(s: &str) -> impl Iterator<Item = char> + '_ {
    s.chars()
        .filter(|c| !matches!(c, '-' | '.' | '(' | ')'))
        .map(|c| c.to_ascii_lowercase())
}

impl Emit for TelUri<'_> {
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        out.put(b"tel:")?;
        out.put(self.number.as_bytes())?;
        self.params.emit(out)
    }
}

/// A URI of a scheme this crate does not interpret (`mailto:`, `urn:`, `http:`...).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AbsoluteUri<'a> {
    /// The scheme as written.
    pub scheme: &'a str,
    /// Everything after the colon.
    pub rest: &'a str,
}

impl<'a> AbsoluteUri<'a> {
    fn parse_parts(scheme: &'a str, rest: &'a str) -> Result<AbsoluteUri<'a>, ValueError> {
        let sb = scheme.as_bytes();
        if sb.is_empty()
            || !sb[0].is_ascii_alphabetic()
            || !sb[1..].iter().all(|&c| lex::is(c, lex::SCHEME))
        {
            return Err(ValueError::Scheme);
        }
        if rest.is_empty() {
            return Err(ValueError::Empty);
        }
        // hier-part / opaque-part: uric characters and escapes ('#' for fragments).
        let b = rest.as_bytes();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'%' => {
                    if !(b.get(i + 1).is_some_and(|c| c.is_ascii_hexdigit())
                        && b.get(i + 2).is_some_and(|c| c.is_ascii_hexdigit()))
                    {
                        return Err(ValueError::Escape);
                    }
                    i += 3;
                }
                b'#' => i += 1,
                c if lex::is(c, lex::URIC) => i += 1,
                _ => return Err(ValueError::Unexpected),
            }
        }
        Ok(AbsoluteUri { scheme, rest })
    }
}

impl Emit for AbsoluteUri<'_> {
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        out.put(self.scheme.as_bytes())?;
        out.put(b":")?;
        out.put(self.rest.as_bytes())
    }
}

display_via_emit!(Uri, SipUri, TelUri, AbsoluteUri);

/// One parameter: a name and an optional value, both as written (a quoted value keeps
/// its quotes; see [`Param::unquoted`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Param<'a> {
    /// The name.
    pub name: &'a str,
    /// The value, if there is an `=`.
    pub value: Option<&'a str>,
}

impl<'a> Param<'a> {
    /// The value without surrounding quotes (escapes inside are left as written).
    pub fn unquoted(&self) -> Option<&'a str> {
        self.value.map(lex::unquote)
    }
}

/// A parameter list as written, from its first `;` on: URI parameters
/// (`;transport=tcp;lr`) or header parameters (`;tag=a6c85cf;expires=60`).
///
/// Lists are validated when they are parsed, so iterating cannot fail. `==` compares the
/// sequence of names and values and ignores white space around separators.
#[derive(Debug, Clone, Copy, Default)]
pub struct Params<'a> {
    raw: &'a str,
}

impl<'a> Params<'a> {
    /// No parameters.
    pub const EMPTY: Params<'static> = Params { raw: "" };

    /// Parses header parameters: `*( SEMI generic-param )` where
    /// `generic-param = token [ EQUAL gen-value ]`. Values may be tokens, quoted strings,
    /// or hosts including IPv6 references; an unbracketed IPv6 address (seen in Via
    /// `received`) is accepted as well.
    ///
    /// # Errors
    /// [`ValueError::Param`] or the quoted-string error.
    pub fn parse(raw: &'a str) -> Result<Params<'a>, ValueError> {
        let mut s = Scanner::new(raw);
        let end = scan_header_params(&mut s)?;
        s.finish()?;
        Ok(Params {
            raw: s.slice(0, end),
        })
    }

    /// Parses URI parameters: `*( ";" pname [ "=" pvalue ] )` of `paramchar`s.
    pub(crate) fn parse_uri(raw: &'a str) -> Result<Params<'a>, ValueError> {
        if raw.is_empty() {
            return Ok(Params { raw });
        }
        let body = raw.strip_prefix(';').ok_or(ValueError::Param)?;
        for p in body.split(';') {
            let (name, value) = match lex::split_at_byte(p, b'=') {
                Some((n, v)) => (n, Some(v)),
                None => (p, None),
            };
            if name.is_empty() || value == Some("") {
                return Err(ValueError::Param);
            }
            lex::check_escaped(name, lex::PARAM)?;
            if let Some(v) = value {
                lex::check_escaped(v, lex::PARAM)?;
            }
        }
        Ok(Params { raw })
    }

    /// Wraps text already known to be a valid parameter list.
    pub(crate) fn from_checked(raw: &'a str) -> Params<'a> {
        Params { raw }
    }

    /// The list as written (empty, or starting with `;` possibly after white space).
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Iterates over the parameters in order.
    pub fn iter(&self) -> ParamIter<'a> {
        ParamIter { rest: self.raw }
    }

    /// The first parameter named `name` (compared case-insensitively).
    pub fn get(&self, name: &str) -> Option<Param<'a>> {
        self.iter().find(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// The value of parameter `name`, unquoted; `None` if it is absent or has no value.
    pub fn value(&self, name: &str) -> Option<&'a str> {
        self.get(name).and_then(|p| p.unquoted())
    }

    /// Whether a parameter `name` is present (with or without a value).
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

impl PartialEq for Params<'_> {
    fn eq(&self, other: &Params<'_>) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for Params<'_> {}

impl<'a> IntoIterator for &Params<'a> {
    type Item = Param<'a>;
    type IntoIter = ParamIter<'a>;
    fn into_iter(self) -> ParamIter<'a> {
        self.iter()
    }
}

impl Emit for Params<'_> {
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        for p in self.iter() {
            out.put(b";")?;
            out.put(p.name.as_bytes())?;
            if let Some(v) = p.value {
                out.put(b"=")?;
                out.put(v.as_bytes())?;
            }
        }
        Ok(())
    }
}

/// Iterator over a [`Params`] list.
#[derive(Debug, Clone)]
pub struct ParamIter<'a> {
    rest: &'a str,
}

impl<'a> Iterator for ParamIter<'a> {
    type Item = Param<'a>;

    fn next(&mut self) -> Option<Param<'a>> {
        let mut s = Scanner::new(self.rest);
        if !s.sep(b';') {
            self.rest = "";
            return None;
        }
        let name_start = s.pos();
        // The list was validated: a name is a run of non-separator characters.
        while let Some(c) = s.peek() {
            if c == b';' || c == b'=' || lex::is(c, lex::WS) {
                break;
            }
            s.bump();
        }
        let name = s.slice(name_start, s.pos());
        let value = if s.sep(b'=') {
            let start = s.pos();
            if s.peek() == Some(b'"') {
                let _ = s.quoted();
            } else {
                while let Some(c) = s.peek() {
                    if c == b';' || lex::is(c, lex::WS) {
                        break;
                    }
                    s.bump();
                }
            }
            Some(s.slice(start, s.pos()))
        } else {
            None
        };
        self.rest = s.rest();
        Some(Param { name, value })
    }
}

/// Scans `*( SEMI generic-param )` and returns the position after the last parameter.
pub(crate) fn scan_header_params(s: &mut Scanner<'_>) -> Result<usize, ValueError> {
    scan_header_params_with(s, |_, _| Ok(()))
}

/// Scans `*( SEMI generic-param )`, handing each name and raw value to `check`, and
/// returns the position after the last parameter.
#[inline]
pub(crate) fn scan_header_params_with<'a>(
    s: &mut Scanner<'a>,
    mut check: impl FnMut(&'a str, Option<&'a str>) -> Result<(), ValueError>,
) -> Result<usize, ValueError> {
    let mut end = s.pos();
    while s.sep(b';') {
        let name = s.token().map_err(|_| ValueError::Param)?;
        let value = if s.sep(b'=') {
            let start = s.pos();
            if s.peek() == Some(b'"') {
                s.quoted()?;
            } else {
                // token / host (IPv6 references and bare IPv6 addresses included)
                while s
                    .peek()
                    .is_some_and(|c| lex::is(c, lex::TOKEN) || matches!(c, b':' | b'[' | b']'))
                {
                    s.bump();
                }
                if s.pos() == start {
                    return Err(ValueError::Param);
                }
            }
            Some(s.slice(start, s.pos()))
        } else {
            None
        };
        check(name, value)?;
        end = s.pos();
    }
    Ok(end)
}

/// One unit of a URI component for comparison: a literal octet, or an escaped octet
/// that stays distinct from its literal form because it is a reserved character.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Lit(u8),
    Esc(u8),
}

fn units(s: &str, fold_case: bool) -> impl Iterator<Item = Unit> + '_ {
    let b = s.as_bytes();
    let mut i = 0;
    core::iter::from_fn(move || {
        let c = *b.get(i)?;
        if c == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|&x| lex::hex_val(x)),
                b.get(i + 2).and_then(|&x| lex::hex_val(x)),
            )
        {
            i += 3;
            let d = (h << 4) | l;
            return Some(if lex::is(d, lex::RESERVED) {
                Unit::Esc(d)
            } else if fold_case {
                Unit::Lit(d.to_ascii_lowercase())
            } else {
                Unit::Lit(d)
            });
        }
        i += 1;
        Some(Unit::Lit(if fold_case {
            c.to_ascii_lowercase()
        } else {
            c
        }))
    })
}

/// Compares two URI components, treating `%HH` of an unreserved character as that
/// character, optionally ignoring ASCII case.
pub(crate) fn escaped_eq(a: &str, b: &str, fold_case: bool) -> bool {
    a == b || units(a, fold_case).eq(units(b, fold_case))
}

fn opt_escaped_eq(a: Option<&str>, b: Option<&str>, fold_case: bool) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => escaped_eq(a, b, fold_case),
        _ => false,
    }
}

/// Decodes the %-escapes of a URI component into `buf`, returning the decoded octets.
///
/// # Errors
/// [`EmitError::InsufficientSize`] when `buf` is too small.
pub fn unescape<'b>(s: &str, buf: &'b mut [u8]) -> Result<&'b [u8], EmitError> {
    let mut n = 0;
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let (c, step) = match (b[i], b.get(i + 1), b.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) => match (lex::hex_val(h), lex::hex_val(l)) {
                (Some(h), Some(l)) => ((h << 4) | l, 3),
                _ => (b'%', 1),
            },
            (c, _, _) => (c, 1),
        };
        *buf.get_mut(n)
            .ok_or(EmitError::InsufficientSize { required: 0 })? = c;
        n += 1;
        i += step;
    }
    Ok(&buf[..n])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_emit_ipv6_as_core_displays_it() {
        use std::format;
        let check = |a: Ipv6Addr| {
            let mut buf = [0u8; IPV6_TEXT];
            let n = ipv6_text(&a, &mut buf);
            assert_eq!(&buf[..n], format!("[{a}]").as_bytes(), "{a:?}");
        };
        for text in [
            "::",
            "::1",
            "1::",
            "2001:db8::1",
            "2001:db8:0:0:1:0:0:1",
            "2001:0:0:1:0:0:0:1",
            "0:0:1:0:0:1:0:0",
            "1:0:1:0:1:0:1:0",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "::ffff:192.0.2.2",
            "::ffff:0.0.0.0",
            "::ffff:10.100.1.255",
            "::192.0.2.2",
            "64:ff9b::192.0.2.2",
            "fe80::1:abcd:ef",
        ] {
            check(text.parse().unwrap());
        }
        // Every pattern of zero and non-zero groups, with varied digits.
        let mut x = 0x9e37_79b9_7f4a_7c15_u64;
        for zeros in 0u32..256 {
            let mut g = [0u16; 8];
            for (i, g) in g.iter_mut().enumerate() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if zeros & (1 << i) == 0 {
                    *g = (x as u16) >> (x % 16) | 1;
                }
            }
            check(Ipv6Addr::from(g));
        }
    }

    #[test]
    fn test_parse_ipv6_as_core_parses_it() {
        // Random texts over the characters of IPv6 addresses: what core's parser takes,
        // parse_ipv6 takes alike; what only parse_ipv6 takes is RFC 3261's, "::" ":"
        // before an IPv4 address or an IPv4 octet with leading zeros.
        let rfc3261 = |t: &str| {
            t.contains(":::")
                || t.split([':', '.'])
                    .any(|o| o.len() > 1 && o.starts_with('0'))
        };
        let mut x = 0x2545_f491_4f6c_dd1d_u64;
        let (mut taken, mut text) = (0, std::string::String::new());
        for _ in 0..200_000 {
            text.clear();
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            for i in 0..(x % 24) {
                text.push(
                    b"0:1:f:A:9:0.1.25:::2.:"[((x >> (i * 2 % 58)) ^ i) as usize % 22] as char,
                );
                x = x.rotate_left(5) ^ i;
            }
            let (ours, core) = (parse_ipv6(&text), text.parse::<Ipv6Addr>().ok());
            match core {
                Some(a) => {
                    assert_eq!(ours, Some(a), "{text}");
                    taken += 1;
                }
                None => assert!(ours.is_none() || rfc3261(&text), "{text}: {ours:?}"),
            }
        }
        assert!(taken > 1000, "{taken}");
        for bad in [
            "",
            ":",
            ":::",
            "1:",
            ":1",
            "1::2::3",
            "1:2:3:4:5:6:7:8:9",
            "1:2:3:4:5:6:7:8::",
        ] {
            assert_eq!(parse_ipv6(bad), None, "{bad}");
        }
        assert_eq!(parse_ipv6("1.2.3.4"), None);
        assert_eq!(parse_ipv6("12345::"), None);
        assert_eq!(parse_ipv6("::1.2.3.4:1"), None);
        assert_eq!(
            parse_ipv6("1:2:3:4:5:6:7::"),
            "1:2:3:4:5:6:7:0".parse().ok()
        );
        assert_eq!(parse_ipv6(":::192.0.2.1"), "::192.0.2.1".parse().ok());
    }

    fn sip(s: &str) -> SipUri<'_> {
        SipUri::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn test_parse_sip_components() {
        let u = sip(
            "sips:alice:secret@atlanta.com:5061;transport=tcp;lr?subject=project%20x&priority=urgent",
        );
        assert!(u.secure);
        assert_eq!(u.user, Some("alice"));
        assert_eq!(u.password, Some("secret"));
        assert_eq!(u.host, Host::Domain("atlanta.com"));
        assert_eq!(u.port, Some(5061));
        assert_eq!(u.transport(), Some("tcp"));
        assert!(u.lr());
        let h: heapless::Vec<(&str, &str), 4> = u.headers().collect();
        assert_eq!(h, [("subject", "project%20x"), ("priority", "urgent")]);
    }

    #[test]
    fn test_parse_hosts() {
        assert_eq!(
            sip("sip:[2001:db8::10]:5070").host,
            Host::Ipv6("2001:db8::10".parse().unwrap())
        );
        assert_eq!(sip("sip:[2001:db8::10]:5070").port, Some(5070));
        // RFC 5118 4.3: the port is inside the brackets, so it is part of the address.
        let u = sip("sip:[2001:db8::10:5070]");
        assert_eq!(u.host, Host::Ipv6("2001:db8::10:5070".parse().unwrap()));
        assert_eq!(u.port, None);
        // RFC 5118 4.10: three colons before an embedded IPv4 address are tolerated.
        assert_eq!(
            sip("sip:user@[2001:db8:::192.0.2.1]").host,
            sip("sip:user@[2001:db8::192.0.2.1]").host
        );
        assert_eq!(
            sip("sip:[::ffff:192.0.2.2]").host,
            Host::Ipv6("::ffff:192.0.2.2".parse().unwrap())
        );
        assert_eq!(
            sip("sip:10.0.0.1:5060").host,
            Host::Ipv4(Ipv4Addr::new(10, 0, 0, 1))
        );
        // RFC 5118 4.2: an IPv6 address without brackets is not a host.
        assert_eq!(SipUri::parse("sip:2001:db8::10"), Err(ValueError::Host));
        assert!(SipUri::parse("sip:256.1.1.1").is_err());
        assert!(SipUri::parse("sip:a..b").is_err());
        assert!(SipUri::parse("sip:host:70000").is_err());
        assert!(SipUri::parse("sip:host:").is_err());
        assert!(SipUri::parse("sip:1:2:3:4:5:6::7:1.2.3.4").is_err());
    }

    #[test]
    fn test_parse_user_with_semicolon() {
        // RFC 4475 3.1.1.9: ';' in the user part belongs to the user.
        let u = sip("sip:user;par=u%40example.net@example.com");
        assert_eq!(u.user, Some("user;par=u%40example.net"));
        assert!(u.params.is_empty());
    }

    #[test]
    fn test_parse_errors() {
        assert_eq!(Uri::parse("nocolon"), Err(ValueError::Scheme));
        assert_eq!(Uri::parse("1abc:foo"), Err(ValueError::Scheme));
        assert_eq!(Uri::parse("sip:@host"), Err(ValueError::Unexpected));
        assert_eq!(Uri::parse("sip:a%zz@host"), Err(ValueError::Escape));
        assert_eq!(Uri::parse("sip:host;;lr"), Err(ValueError::Param));
        assert_eq!(Uri::parse("sip:host;a="), Err(ValueError::Param));
        assert_eq!(Uri::parse("sip:host?x"), Err(ValueError::Param));
        assert_eq!(Uri::parse("sip:us er@host"), Err(ValueError::Unexpected));
        assert_eq!(Uri::parse("<sip:host>"), Err(ValueError::Scheme));
        assert_eq!(Uri::parse("http:"), Err(ValueError::Empty));
    }

    #[test]
    fn test_tel() {
        let Uri::Tel(t) = Uri::parse("tel:+1-201-555-0123;ext=42").unwrap() else {
            panic!()
        };
        assert!(t.is_global());
        assert_eq!(t.ext(), Some("42"));
        let Uri::Tel(l) = Uri::parse("tel:7042;phone-context=example.com").unwrap() else {
            panic!()
        };
        assert!(!l.is_global());
        assert_eq!(l.phone_context(), Some("example.com"));
        assert!(Uri::parse("tel:+").is_err());
        assert!(Uri::parse("tel:abc+1").is_err());
        assert!(
            Uri::parse("tel:+12015550123")
                .unwrap()
                .equivalent(&Uri::parse("tel:+1-201-555-0123").unwrap())
        );
        assert!(
            !Uri::parse("tel:+12015550123;ext=1")
                .unwrap()
                .equivalent(&Uri::parse("tel:+1-201-555-0123").unwrap())
        );
    }

    #[test]
    fn test_absolute() {
        let u = Uri::parse("urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6").unwrap();
        assert_eq!(u.scheme(), "urn");
        assert!(Uri::parse("mailto:a b").is_err());
    }

    /// The equivalent and non-equivalent pairs of RFC 3261 section 19.1.4.
    #[test]
    fn test_rfc3261_comparison() {
        let equal = [
            (
                "sip:%61lice@atlanta.com;transport=TCP",
                "sip:alice@AtLanTa.CoM;Transport=tcp",
            ),
            ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
            ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
            (
                "sip:carol@chicago.com;newparam=5",
                "sip:carol@chicago.com;security=on",
            ),
            (
                "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
                "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
            ),
            (
                "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
                "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
            ),
        ];
        for (a, b) in equal {
            assert!(
                Uri::parse(a).unwrap().equivalent(&Uri::parse(b).unwrap()),
                "{a} == {b}"
            );
            assert!(
                Uri::parse(b).unwrap().equivalent(&Uri::parse(a).unwrap()),
                "{b} == {a}"
            );
        }
        let different = [
            (
                "SIP:ALICE@AtLanTa.CoM;Transport=udp",
                "sip:alice@AtLanTa.CoM;Transport=UDP",
            ),
            ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
            ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
            (
                "sip:bob@biloxi.com",
                "sip:bob@biloxi.com:6000;transport=tcp",
            ),
            (
                "sip:carol@chicago.com",
                "sip:carol@chicago.com?Subject=next%20meeting",
            ),
            ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
            ("sip:alice@atlanta.com", "sips:alice@atlanta.com"),
            ("sip:a%3bb@host", "sip:a;b@host"),
        ];
        for (a, b) in different {
            assert!(
                !Uri::parse(a).unwrap().equivalent(&Uri::parse(b).unwrap()),
                "{a} != {b}"
            );
            assert!(
                !Uri::parse(b).unwrap().equivalent(&Uri::parse(a).unwrap()),
                "{b} != {a}"
            );
        }
    }

    #[test]
    fn test_emit_round_trip() {
        for s in [
            "sip:alice@atlanta.com",
            "sips:a:b@[2001:db8::1]:5061;transport=tls;lr?x=y&z=",
            "tel:+1-201-555-0123;ext=42",
            "urn:service:sos",
            "sip:10.0.0.1",
        ] {
            let u = Uri::parse(s).unwrap();
            let mut out: heapless::String<128> = heapless::String::new();
            core::fmt::write(&mut out, format_args!("{u}")).unwrap();
            assert_eq!(out, s);
            assert_eq!(u.buffer_len(), s.len());
        }
    }

    #[test]
    fn test_unescape() {
        let mut buf = [0u8; 16];
        assert_eq!(unescape("null-%00-n%41", &mut buf).unwrap(), b"null-\0-nA");
        assert!(unescape("0123456789abcdefg", &mut buf).is_err());
    }

    #[test]
    fn test_header_params() {
        let p = Params::parse(r#" ; tag = 1928301774 ;+sip.instance="<urn:uuid:x>";rport;received=2001:db8::9:255;maddr=[::1]"#).unwrap();
        let v: heapless::Vec<Param<'_>, 8> = p.iter().collect();
        assert_eq!(
            v[0],
            Param {
                name: "tag",
                value: Some("1928301774")
            }
        );
        assert_eq!(v[1].unquoted(), Some("<urn:uuid:x>"));
        assert_eq!(
            v[2],
            Param {
                name: "rport",
                value: None
            }
        );
        assert_eq!(v[3].value, Some("2001:db8::9:255"));
        assert_eq!(v[4].value, Some("[::1]"));
        assert_eq!(p.value("TAG"), Some("1928301774"));
        assert!(Params::parse(";").is_err());
        assert!(Params::parse(";a=").is_err());
        assert!(Params::parse(r#";a="x"#).is_err());
        assert!(Params::parse(";a b").is_err());
        assert_eq!(p, Params::parse(r#";tag=1928301774;+sip.instance="<urn:uuid:x>";rport;received=2001:db8::9:255;maddr=[::1]"#).unwrap());
    }
}
