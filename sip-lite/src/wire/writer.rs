//! Building messages: start line, header lines, Content-Length and body, into any
//! [`Sink`].

use super::lex;
use super::message::{Header, Message};
use super::name::HeaderName;
use super::sink::{Emit, Sink};
use super::start::{Method, SIP_2_0, StatusCode};
use super::uri::Uri;
use crate::error::EmitError;

/// Writes one message into a [`Sink`].
///
/// The start line is written when the writer is created, each header as it is added, and
/// `Content-Length`, the empty line and the body by [`Writer::finish`], so the length is
/// always right. Header names must be tokens and values may not contain line breaks, so
/// that nothing a caller passes can change the message's framing.
///
/// ```
/// use sip_lite::wire::{HeaderIndex, Message, Method, SliceSink, Uri, Writer};
///
/// let mut buf = [0u8; 512];
/// let uri = Uri::parse("sip:bob@biloxi.com")?;
/// let mut w = Writer::request(SliceSink::new(&mut buf), Method::Info, &uri)?;
/// w.header("Via", "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK-1")?
///     .header("Content-Type", "application/csta+xml")?;
/// let len = w.finish(b"<MakeCall/>")?.len();
///
/// let mut headers = [HeaderIndex::EMPTY; 8];
/// let msg = Message::parse(&buf[..len], &mut headers)?;
/// assert_eq!(msg.body(), b"<MakeCall/>");
/// assert_eq!(msg.content_length(), Some(11));
/// # Ok::<(), sip_lite::Error>(())
/// ```
#[derive(Debug)]
pub struct Writer<S: Sink> {
    out: S,
}

impl<S: Sink> Writer<S> {
    /// Starts a request: `Method SP Request-URI SP SIP/2.0 CRLF`.
    ///
    /// # Errors
    /// What the sink reports.
    pub fn request(mut out: S, method: Method<'_>, uri: &Uri<'_>) -> Result<Self, EmitError> {
        out.put(method.as_str().as_bytes())?;
        out.put(b" ")?;
        uri.emit(&mut NoLineBreaks(&mut out))?;
        out.put(b" SIP/2.0\r\n")?;
        Ok(Writer { out })
    }

    /// Starts a request with a Request-URI given as text, which must not contain white
    /// space or control characters (it is not otherwise checked).
    ///
    /// # Errors
    /// [`EmitError::InvalidHeader`] for a bad URI or method, or what the sink reports.
    pub fn request_str(mut out: S, method: Method<'_>, uri: &str) -> Result<Self, EmitError> {
        if uri.is_empty() || uri.bytes().any(|b| b <= b' ' || b == 0x7f) {
            return Err(EmitError::InvalidHeader);
        }
        if !lex::is_token(method.as_str()) {
            return Err(EmitError::InvalidHeader);
        }
        out.put(method.as_str().as_bytes())?;
        out.put(b" ")?;
        out.put(uri.as_bytes())?;
        out.put(b" SIP/2.0\r\n")?;
        Ok(Writer { out })
    }

    /// Starts a response: `SIP/2.0 SP Status-Code SP Reason-Phrase CRLF`. An empty
    /// `reason` is replaced by the code's usual phrase.
    ///
    /// # Errors
    /// [`EmitError::InvalidHeader`] for a status outside 100..=699 or a reason with
    /// control characters, or what the sink reports.
    pub fn response(mut out: S, status: StatusCode, reason: &str) -> Result<Self, EmitError> {
        if !status.is_valid() || reason.bytes().any(|b| b < b' ' && b != b'\t' || b == 0x7f) {
            return Err(EmitError::InvalidHeader);
        }
        let reason = if reason.is_empty() {
            status.default_reason()
        } else {
            reason
        };
        out.put(SIP_2_0.as_bytes())?;
        out.put(b" ")?;
        out.put_u32(u32::from(status.0))?;
        out.put(b" ")?;
        out.put(reason.as_bytes())?;
        out.put(b"\r\n")?;
        Ok(Writer { out })
    }

    /// Starts a response to `request` (RFC 3261 section 8.2.6): copies every Via, From,
    /// To, Call-ID and CSeq, adds `to_tag` to a To without a tag (except in a 100
    /// response), and copies Timestamp into a 100 (section 8.2.6.1).
    ///
    /// # Errors
    /// As [`Writer::response`].
    pub fn response_to(
        out: S,
        request: &Message<'_>,
        status: StatusCode,
        reason: &str,
        to_tag: Option<&str>,
    ) -> Result<Self, EmitError> {
        let mut w = Self::response(out, status, reason)?;
        let mut copy = |name: HeaderName| -> Result<(), EmitError> {
            for v in request.header_lines(name) {
                w.put_header_start(name.as_str())?;
                put_one_line(&mut w.out, v.as_bytes())?;
                if name == HeaderName::To
                    && status != StatusCode::TRYING
                    && let Some(tag) = to_tag
                    && request.to().is_ok_and(|to| to.tag().is_none())
                {
                    if !lex::is_token(tag) {
                        return Err(EmitError::InvalidHeader);
                    }
                    w.out.put(b";tag=")?;
                    w.out.put(tag.as_bytes())?;
                }
                w.out.put(b"\r\n")?;
            }
            Ok(())
        };
        copy(HeaderName::Via)?;
        copy(HeaderName::From)?;
        copy(HeaderName::To)?;
        copy(HeaderName::CallId)?;
        copy(HeaderName::CSeq)?;
        if status == StatusCode::TRYING {
            copy(HeaderName::Timestamp)?;
        }
        Ok(w)
    }

    fn put_header_start(&mut self, name: &str) -> Result<(), EmitError> {
        let content_length =
            name.eq_ignore_ascii_case("Content-Length") || name.eq_ignore_ascii_case("l");
        if content_length || !lex::is_token(name) {
            return Err(EmitError::InvalidHeader);
        }
        self.out.put(name.as_bytes())?;
        self.out.put(b": ")
    }

    /// Adds a header line with a textual value.
    ///
    /// # Errors
    /// [`EmitError::InvalidHeader`] if `name` is not a token or is Content-Length (which
    /// [`Writer::finish`] writes), or if `value` contains CR or LF; else what the sink
    /// reports.
    pub fn header(&mut self, name: &str, value: &str) -> Result<&mut Self, EmitError> {
        if memchr::memchr2(b'\r', b'\n', value.as_bytes()).is_some() {
            return Err(EmitError::InvalidHeader);
        }
        self.put_header_start(name)?;
        self.out.put(value.as_bytes())?;
        self.out.put(b"\r\n")?;
        Ok(self)
    }

    /// Adds a header line with a typed value ([`super::Via`], [`super::NameAddr`],
    /// [`super::CSeq`], ...).
    ///
    /// # Errors
    /// As [`Writer::header`].
    pub fn header_typed<V: Emit + ?Sized>(
        &mut self,
        name: HeaderName,
        value: &V,
    ) -> Result<&mut Self, EmitError> {
        self.put_header_start(name.as_str())?;
        value.emit(&mut NoLineBreaks(&mut self.out))?;
        self.out.put(b"\r\n")?;
        Ok(self)
    }

    /// Copies a header line of a parsed message, with folded lines joined by a space
    /// ([`Unfolded`]).
    ///
    /// # Errors
    /// As [`Writer::header`]; a value with a line break that is not a fold (which a
    /// parsed message never has) is refused.
    pub fn copy_header(&mut self, header: &Header<'_>) -> Result<&mut Self, EmitError> {
        self.put_header_start(header.name)?;
        put_one_line(&mut self.out, header.value.as_bytes())?;
        self.out.put(b"\r\n")?;
        Ok(self)
    }

    /// Writes `Content-Length`, the empty line and the body, and returns the sink.
    ///
    /// # Errors
    /// What the sink reports.
    pub fn finish(mut self, body: &[u8]) -> Result<S, EmitError> {
        self.out.put(b"Content-Length: ")?;
        let len = u32::try_from(body.len()).map_err(|_| EmitError::InvalidHeader)?;
        self.out.put_u32(len)?;
        self.out.put(b"\r\n\r\n")?;
        self.out.put(body)?;
        Ok(self.out)
    }
}

/// Writes typed values on one line (see [`put_one_line`]).
struct NoLineBreaks<'s, S: Sink + ?Sized>(&'s mut S);

impl<S: Sink + ?Sized> Sink for NoLineBreaks<'_, S> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<(), EmitError> {
        put_one_line(self.0, bytes)
    }
}

/// Writes `bytes` on one line: each fold (a line break followed by white space, the
/// white space around it included) becomes one space, as RFC 3261 section 7.3.1 makes
/// them equivalent; any other line break is refused, so that nothing can end a header
/// line early.
fn put_one_line<S: Sink + ?Sized>(out: &mut S, bytes: &[u8]) -> Result<(), EmitError> {
    let is_blank = |b: &u8| *b == b' ' || *b == b'\t';
    // The length of the fold `bytes` starts with: a line break and white space.
    let fold = |bytes: &[u8]| match bytes {
        [b'\r', b'\n', c, ..] if is_blank(c) => Some(2),
        [b'\n', c, ..] if is_blank(c) => Some(1),
        _ => None,
    };
    // Typed values arrive in small pieces (`<`, `;`, a host): a plain loop finds the
    // usual absence of line breaks faster than a call into a vectorised search.
    if !bytes.iter().any(|&b| b == b'\r' || b == b'\n') {
        return out.put(bytes);
    }
    let mut rest = bytes;
    while let Some(i) = memchr::memchr2(b'\r', b'\n', rest) {
        let head = &rest[..i];
        let kept = head.len() - head.iter().rev().take_while(|b| is_blank(b)).count();
        out.put(&head[..kept])?;
        out.put(b" ")?;
        // The whole run of folds and white space becomes that one space.
        let mut j = i;
        while let Some(n) = fold(&rest[j..]) {
            j += n;
            j += rest[j..].iter().take_while(|b| is_blank(b)).count();
        }
        if j == i {
            return Err(EmitError::InvalidHeader);
        }
        rest = &rest[j..];
    }
    out.put(rest)
}

/// A header value written on one line: folds become single spaces. This is how
/// [`Writer::copy_header`] writes a parsed value; `Display` shows it the same way.
///
/// ```
/// use sip_lite::wire::Unfolded;
///
/// let folded = "I know you're there,\r\n     pick up the phone";
/// assert_eq!(Unfolded(folded).to_string(), "I know you're there, pick up the phone");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unfolded<'a>(pub &'a str);

impl Emit for Unfolded<'_> {
    /// # Errors
    /// [`EmitError::InvalidHeader`] for a line break that is not a fold.
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        put_one_line(out, self.0.as_bytes())
    }
}

super::sink::display_via_emit!(Unfolded);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{HeaderIndex, SliceSink};

    const INVITE: &[u8] = b"INVITE sip:bob@biloxi.com SIP/2.0\r\n\
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n\
v: SIP/2.0/UDP proxy.example.com;branch=z9hG4bK1,\r\n SIP/2.0/TCP p2;branch=z9hG4bK2\r\n\
To: Bob <sip:bob@biloxi.com>\r\n\
From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n\
CSeq: 314159 INVITE\r\n\
Timestamp: 54\r\n\
Content-Length: 0\r\n\r\n";

    #[test]
    fn test_response_to_copies_and_tags() {
        let mut hs = [HeaderIndex::EMPTY; 16];
        let req = Message::parse(INVITE, &mut hs).unwrap();
        let mut buf = [0u8; 1024];
        let w = Writer::response_to(
            SliceSink::new(&mut buf),
            &req,
            StatusCode::RINGING,
            "",
            Some("a6c85cf"),
        )
        .unwrap();
        let n = w.finish(b"").unwrap().len();
        let expected = "SIP/2.0 180 Ringing\r\n\
Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds\r\n\
Via: SIP/2.0/UDP proxy.example.com;branch=z9hG4bK1, SIP/2.0/TCP p2;branch=z9hG4bK2\r\n\
From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
To: Bob <sip:bob@biloxi.com>;tag=a6c85cf\r\n\
Call-ID: a84b4c76e66710@pc33.atlanta.com\r\n\
CSeq: 314159 INVITE\r\n\
Content-Length: 0\r\n\r\n";
        assert_eq!(core::str::from_utf8(&buf[..n]).unwrap(), expected);

        let mut buf = [0u8; 1024];
        let n = Writer::response_to(
            SliceSink::new(&mut buf),
            &req,
            StatusCode::TRYING,
            "",
            Some("x"),
        )
        .unwrap()
        .finish(b"")
        .unwrap()
        .len();
        let s = core::str::from_utf8(&buf[..n]).unwrap();
        assert!(s.contains("To: Bob <sip:bob@biloxi.com>\r\n"));
        assert!(s.contains("Timestamp: 54\r\n"));
    }

    #[test]
    fn test_header_injection_rejected() {
        let mut buf = [0u8; 256];
        let mut w = Writer::response(SliceSink::new(&mut buf), StatusCode::OK, "OK").unwrap();
        assert_eq!(
            w.header("Subject", "a\r\nVia: evil").err(),
            Some(EmitError::InvalidHeader)
        );
        assert_eq!(
            w.header("Bad Name", "x").err(),
            Some(EmitError::InvalidHeader)
        );
        assert_eq!(w.header("l", "5").err(), Some(EmitError::InvalidHeader));
        assert!(Writer::response(SliceSink::new(&mut [0u8; 64]), StatusCode(700), "").is_err());
        assert!(
            Writer::request_str(SliceSink::new(&mut [0u8; 64]), Method::Invite, "sip:a b").is_err()
        );
    }

    #[test]
    fn test_typed_values_are_unfolded_not_refused() {
        use crate::wire::{Challenge, NameAddr};
        let a = NameAddr::parse("\"Wat\r\n  son\" <sip:w@h>").unwrap();
        let mut buf = [0u8; 128];
        let mut w = Writer::response(SliceSink::new(&mut buf), StatusCode::OK, "").unwrap();
        w.header_typed(HeaderName::To, &a).unwrap();
        let c = Challenge::parse("Digest realm=\"a\r\n\tb\", nonce=\"n\"").unwrap();
        w.header_typed(HeaderName::WwwAuthenticate, &c).unwrap();
        let n = w.finish(b"").unwrap().len();
        let text = core::str::from_utf8(&buf[..n]).unwrap();
        assert!(text.contains("To: \"Wat son\" <sip:w@h>\r\n"), "{text}");
        assert!(text.contains("realm=\"a b\""), "{text}");
        // A line break that is not a fold never reaches the output.
        let mut out = [0u8; 64];
        let mut sink = SliceSink::new(&mut out);
        assert_eq!(
            NoLineBreaks(&mut sink).put(b"x\r\nVia: evil"),
            Err(EmitError::InvalidHeader)
        );
        assert_eq!(
            NoLineBreaks(&mut sink).put(b"x\ry"),
            Err(EmitError::InvalidHeader)
        );
        assert_eq!(
            NoLineBreaks(&mut sink).put(b"x\r\n"),
            Err(EmitError::InvalidHeader)
        );
    }

    #[test]
    fn test_too_small_buffer_is_an_error() {
        let mut buf = [0u8; 30];
        let mut w = Writer::response(SliceSink::new(&mut buf), StatusCode::OK, "OK").unwrap();
        w.header("Call-ID", "abc").unwrap();
        assert!(matches!(
            w.finish(b"body"),
            Err(EmitError::InsufficientSize { .. })
        ));
    }
}
