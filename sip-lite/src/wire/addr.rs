//! Addresses: `name-addr` / `addr-spec` with header parameters (From, To, Contact,
//! Route, Record-Route, Path, Reply-To, Refer-To, Referred-By).

use super::lex::{self, Scanner};
use super::sink::{Emit, Sink, display_via_emit};
use super::uri::{Params, Uri, scan_header_params};
use crate::error::{EmitError, ValueError};

/// A display name.
///
/// `==` compares the form and, for the token form, the words: runs of white space
/// (folds included) equal one space, as [`Emit`] writes them.
#[derive(Debug, Clone, Copy)]
pub enum DisplayName<'a> {
    /// One or more tokens separated by white space, as written: `Bob Smith`.
    Tokens(&'a str),
    /// The content of a quoted string with its `\` escapes: `Bob \"B\" Smith`.
    Quoted(&'a str),
}

impl<'a> DisplayName<'a> {
    /// The text as written, without quotes for the quoted form.
    pub fn as_raw(&self) -> &'a str {
        match self {
            DisplayName::Tokens(s) | DisplayName::Quoted(s) => s,
        }
    }

    /// The characters the name stands for: escapes undone, white space runs of the token
    /// form collapsed into one space.
    pub fn chars(&self) -> impl Iterator<Item = char> + 'a {
        let (s, quoted) = match *self {
            DisplayName::Tokens(s) => (s, false),
            DisplayName::Quoted(s) => (s, true),
        };
        let mut it = s.chars().peekable();
        core::iter::from_fn(move || {
            let c = it.next()?;
            if quoted {
                return if c == '\\' { it.next() } else { Some(c) };
            }
            if matches!(c, ' ' | '\t' | '\r' | '\n') {
                while it
                    .peek()
                    .is_some_and(|c| matches!(c, ' ' | '\t' | '\r' | '\n'))
                {
                    it.next();
                }
                return Some(' ');
            }
            Some(c)
        })
    }
}

impl PartialEq for DisplayName<'_> {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (DisplayName::Tokens(_), DisplayName::Tokens(_)) => self.chars().eq(other.chars()),
            (DisplayName::Quoted(a), DisplayName::Quoted(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for DisplayName<'_> {}

impl Emit for DisplayName<'_> {
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        match self {
            DisplayName::Tokens(s) => {
                // Runs of white space (folds included) become one space.
                for (i, word) in s
                    .split([' ', '\t', '\r', '\n'])
                    .filter(|w| !w.is_empty())
                    .enumerate()
                {
                    if i > 0 {
                        out.put(b" ")?;
                    }
                    out.put(word.as_bytes())?;
                }
                Ok(())
            }
            DisplayName::Quoted(s) => {
                out.put(b"\"")?;
                out.put(s.as_bytes())?;
                out.put(b"\"")
            }
        }
    }
}

/// `( name-addr / addr-spec ) *( SEMI generic-param )`: the value of From, To, Route,
/// Record-Route, Path, Reply-To, Refer-To, Referred-By, and of each non-wildcard Contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameAddr<'a> {
    /// The display name, if any.
    pub display_name: Option<DisplayName<'a>>,
    /// The address.
    pub uri: Uri<'a>,
    /// Header parameters after the address (`;tag=...`, `;expires=...`).
    pub params: Params<'a>,
}

impl<'a> NameAddr<'a> {
    /// Parses one address with its parameters; nothing may follow.
    ///
    /// Without angle brackets, parameters after the URI belong to the header (RFC 3261
    /// section 20.10), except that a `;` before the `@` is part of the user.
    ///
    /// # Errors
    /// The problem found; a second comma-separated value is [`ValueError::TrailingData`].
    pub fn parse(s: &'a str) -> Result<NameAddr<'a>, ValueError> {
        let mut sc = Scanner::new(s);
        let v = Self::scan(&mut sc)?;
        sc.finish()?;
        Ok(v)
    }

    pub(crate) fn scan(s: &mut Scanner<'a>) -> Result<NameAddr<'a>, ValueError> {
        s.skip_ws();
        let start = s.pos();
        let display_name = match s.peek() {
            None => return Err(ValueError::Empty),
            Some(b'<') => None,
            Some(b'"') => {
                let q = s.quoted()?;
                s.skip_ws();
                if s.peek() != Some(b'<') {
                    return Err(ValueError::Unexpected);
                }
                Some(DisplayName::Quoted(q))
            }
            Some(_) => {
                // *(token LWS) before "<", or else the whole thing is an addr-spec.
                let mut end = start;
                loop {
                    if s.take(lex::TOKEN).is_empty() {
                        break;
                    }
                    end = s.pos();
                    s.skip_ws();
                    if s.peek() == Some(b'<') || !s.peek().is_some_and(|c| lex::is(c, lex::TOKEN)) {
                        break;
                    }
                }
                if s.peek() == Some(b'<') && end > start {
                    Some(DisplayName::Tokens(s.slice(start, end)))
                } else {
                    s.set_pos(start);
                    None
                }
            }
        };
        let uri = if s.eat(b'<') {
            let rest = s.rest();
            let close = lex::find(rest, b'>').ok_or(ValueError::UnterminatedAngle)?;
            let uri = Uri::parse(&rest[..close])?;
            s.set_pos(s.pos() + close + 1);
            uri
        } else {
            let rest = s.rest();
            let b = rest.as_bytes();
            // A '@' before any quote or white space ends the userinfo, which may hold ';'.
            let stop = b
                .iter()
                .position(|&c| c == b'"' || lex::is(c, lex::WS) || c == b',')
                .unwrap_or(b.len());
            let from = b[..stop]
                .iter()
                .position(|&c| c == b'@')
                .map_or(0, |i| i + 1);
            let end = b[from..stop]
                .iter()
                .position(|&c| c == b';' || c == b'?')
                .map_or(stop, |i| from + i);
            let end = if b.get(end) == Some(&b'?') {
                // URI headers need angle brackets; keep them with the URI so that the
                // URI parser reports the problem precisely.
                b[end..stop]
                    .iter()
                    .position(|&c| c == b';')
                    .map_or(stop, |i| end + i)
            } else {
                end
            };
            let uri = Uri::parse(&rest[..end])?;
            if matches!(uri, Uri::Sip(u) if u.headers.is_some()) {
                return Err(ValueError::Unexpected);
            }
            s.set_pos(s.pos() + end);
            uri
        };
        let pstart = s.pos();
        let pend = scan_header_params(s)?;
        Ok(NameAddr {
            display_name,
            uri,
            params: Params::from_checked(s.slice(pstart, pend)),
        })
    }

    /// The `tag` parameter (From and To): the first `tag` with a value, as
    /// `tag-param = "tag" EQUAL token` requires; a bare `;tag` is a generic parameter.
    pub fn tag(&self) -> Option<&'a str> {
        self.params
            .iter()
            .find(|p| p.value.is_some() && p.name.eq_ignore_ascii_case("tag"))
            .and_then(|p| p.unquoted())
    }
}

impl Emit for NameAddr<'_> {
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        if let Some(d) = &self.display_name {
            d.emit(out)?;
            out.put(b" ")?;
        }
        out.put(b"<")?;
        self.uri.emit(out)?;
        out.put(b">")?;
        self.params.emit(out)
    }
}

/// A Contact value: the wildcard `*` (de-registration of all bindings) or an address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Contact<'a> {
    /// `Contact: *`.
    Wildcard,
    /// An address with its contact parameters.
    Addr(NameAddr<'a>),
}

impl<'a> Contact<'a> {
    /// Parses one Contact value.
    ///
    /// # Errors
    /// As [`NameAddr::parse`].
    pub fn parse(s: &'a str) -> Result<Contact<'a>, ValueError> {
        if lex::trim_ws(s) == "*" {
            Ok(Contact::Wildcard)
        } else {
            NameAddr::parse(s).map(Contact::Addr)
        }
    }

    /// The address, unless this is the wildcard.
    pub fn addr(&self) -> Option<&NameAddr<'a>> {
        match self {
            Contact::Wildcard => None,
            Contact::Addr(a) => Some(a),
        }
    }

    /// The `expires` parameter, if present. A value above 2^32-1 is an error.
    pub fn expires(&self) -> Option<Result<u32, ValueError>> {
        let v = self.addr()?.params.value("expires")?;
        Some(lex::parse_u32(v, u32::MAX))
    }

    /// The `q` parameter, if present.
    pub fn q(&self) -> Option<Result<QValue, ValueError>> {
        Some(QValue::parse(self.addr()?.params.value("q")?))
    }

    /// The `+sip.instance` parameter (RFC 5626) without its quotes and angle brackets,
    /// e.g. `urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF`.
    pub fn instance(&self) -> Option<&'a str> {
        let v = self.addr()?.params.value("+sip.instance")?;
        Some(
            v.strip_prefix('<')
                .and_then(|v| v.strip_suffix('>'))
                .unwrap_or(v),
        )
    }

    /// The `reg-id` parameter (RFC 5626).
    pub fn reg_id(&self) -> Option<Result<u32, ValueError>> {
        let v = self.addr()?.params.value("reg-id")?;
        Some(lex::parse_u32(v, u32::MAX))
    }
}

impl Emit for Contact<'_> {
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        match self {
            Contact::Wildcard => out.put(b"*"),
            Contact::Addr(a) => a.emit(out),
        }
    }
}

/// A `qvalue` (RFC 3261 section 25.1) in thousandths: `0.7` is `QValue(700)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct QValue(pub u16);

impl QValue {
    /// Parses `( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )`.
    ///
    /// # Errors
    /// [`ValueError::Number`].
    pub fn parse(s: &str) -> Result<QValue, ValueError> {
        let (int, frac) = s.split_once('.').unwrap_or((s, ""));
        if frac.len() > 3 || !frac.bytes().all(|c| c.is_ascii_digit()) {
            return Err(ValueError::Number);
        }
        let mut thousandths = 0u16;
        for (i, c) in frac.bytes().enumerate() {
            thousandths += u16::from(c - b'0') * [100, 10, 1][i];
        }
        match int {
            "0" => Ok(QValue(thousandths)),
            "1" if thousandths == 0 => Ok(QValue(1000)),
            _ => Err(ValueError::Number),
        }
    }
}

display_via_emit!(NameAddr, Contact);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::Host;

    #[test]
    fn test_name_addr_forms() {
        let a = NameAddr::parse(r#""Bob \"B\"" <sip:bob@biloxi.com>;tag=a6c85cf"#).unwrap();
        assert_eq!(a.display_name, Some(DisplayName::Quoted(r#"Bob \"B\""#)));
        let name: heapless::String<16> = a.display_name.unwrap().chars().collect();
        assert_eq!(name, "Bob \"B\"");
        assert_eq!(a.tag(), Some("a6c85cf"));
        // A bare `;tag` is no tag-param.
        assert_eq!(NameAddr::parse("<sip:a@b>;tag").unwrap().tag(), None);
        assert_eq!(
            NameAddr::parse("<sip:a@b>;tag;tag=x").unwrap().tag(),
            Some("x")
        );

        let a = NameAddr::parse("Anonymous  Caller <sip:c@h>").unwrap();
        assert_eq!(
            a.display_name,
            Some(DisplayName::Tokens("Anonymous  Caller"))
        );
        let name: heapless::String<32> = a.display_name.unwrap().chars().collect();
        assert_eq!(name, "Anonymous Caller");

        // RFC 4475 3.1.1.6: no white space between the display name and '<'.
        let a = NameAddr::parse(r#""caller"<sip:caller@example.com>;tag=323"#).unwrap();
        assert_eq!(a.tag(), Some("323"));

        // addr-spec: the parameters belong to the header.
        let a = NameAddr::parse("sip:alice@atlanta.com;tag=88sja8x").unwrap();
        assert_eq!(a.tag(), Some("88sja8x"));
        assert!(a.uri.as_sip().unwrap().params.is_empty());
        let a = NameAddr::parse("sip:user;par=1@example.com;tag=1").unwrap();
        assert_eq!(a.uri.as_sip().unwrap().user, Some("user;par=1"));
        assert_eq!(a.tag(), Some("1"));
        let a = NameAddr::parse("<sip:alice@atlanta.com;transport=tcp>;tag=1").unwrap();
        assert_eq!(a.uri.as_sip().unwrap().transport(), Some("tcp"));
        let a = NameAddr::parse("sip:[2001:db8::1]:5060;tag=1").unwrap();
        assert_eq!(
            a.uri.as_sip().unwrap().host,
            Host::Ipv6("2001:db8::1".parse().unwrap())
        );
    }

    #[test]
    fn test_name_addr_errors() {
        // RFC 4475 3.1.2.6: unterminated quote.
        assert_eq!(
            NameAddr::parse(r#""Mr. J. User <sip:j.user@example.com>"#),
            Err(ValueError::UnterminatedQuote)
        );
        // RFC 4475 3.1.2.15: non-token characters in an unquoted display name.
        assert!(NameAddr::parse("Bell, Alexander <sip:a.g.bell@bell-tel.com>;tag=43").is_err());
        // RFC 4475 3.1.2.14: spaces inside the angle brackets.
        assert!(NameAddr::parse(r#""Watson, Thomas" < sip:t.watson@example.org >"#).is_err());
        // RFC 4475 3.1.2.13: a URI with ',' or '?' must be bracketed.
        assert!(NameAddr::parse("sip:user@example.com?Route=%3Csip:sip.example.com%3E").is_err());
        assert_eq!(
            NameAddr::parse("<sip:a@b"),
            Err(ValueError::UnterminatedAngle)
        );
        assert_eq!(
            NameAddr::parse("<sip:a@b>, <sip:c@d>"),
            Err(ValueError::TrailingData)
        );
        assert_eq!(NameAddr::parse("  "), Err(ValueError::Empty));
        assert!(NameAddr::parse("<sip:a@b>;;").is_err());
    }

    #[test]
    fn test_contact() {
        assert_eq!(Contact::parse(" * "), Ok(Contact::Wildcard));
        let c = Contact::parse(
            r#"<sip:alice@192.0.2.1>;expires=3600;q=0.7;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1"#,
        )
        .unwrap();
        assert_eq!(c.expires(), Some(Ok(3600)));
        assert_eq!(c.q(), Some(Ok(QValue(700))));
        assert_eq!(
            c.instance(),
            Some("urn:uuid:00000000-0000-1000-8000-000A95A0E128")
        );
        assert_eq!(c.reg_id(), Some(Ok(1)));
        let c = Contact::parse("<sip:a@b>;expires=4294967296").unwrap();
        assert_eq!(c.expires(), Some(Err(ValueError::Number)));
    }

    #[test]
    fn test_qvalue() {
        assert_eq!(QValue::parse("1"), Ok(QValue(1000)));
        assert_eq!(QValue::parse("1.000"), Ok(QValue(1000)));
        assert_eq!(QValue::parse("0.05"), Ok(QValue(50)));
        assert!(QValue::parse("1.1").is_err());
        assert!(QValue::parse("0.1234").is_err());
        assert!(QValue::parse("2").is_err());
    }

    #[test]
    fn test_emit() {
        let a = NameAddr::parse(r#""A" <sip:a@b;lr> ; tag = x"#).unwrap();
        let mut s: heapless::String<64> = heapless::String::new();
        core::fmt::write(&mut s, format_args!("{a}")).unwrap();
        assert_eq!(s, r#""A" <sip:a@b;lr>;tag=x"#);
        assert_eq!(NameAddr::parse(&s).unwrap(), a);

        // White space runs in the token form are written as one space and compare equal.
        let a = NameAddr::parse("Anonymous \t\r\n  Caller <sip:c@h>").unwrap();
        let mut s: heapless::String<64> = heapless::String::new();
        core::fmt::write(&mut s, format_args!("{a}")).unwrap();
        assert_eq!(s, "Anonymous Caller <sip:c@h>");
        assert_eq!(NameAddr::parse(&s).unwrap(), a);
        assert_ne!(DisplayName::Tokens("A B"), DisplayName::Quoted("A B"));
    }
}
