//! Framing: splitting datagrams and streams into messages, the start line, the header
//! section and the body.

use super::addr::{Contact, NameAddr};
use super::lex::{self, CommaSplit};
use super::name::HeaderName;
use super::start::{Method, StatusCode, Version};
use super::uri::Uri;
use super::values::{self, CSeq, MediaType};
use super::via::Via;
use crate::error::{HeaderError, ParseError, ValueError};

/// The result of parsing a stream buffer that may not yet hold a whole message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// A whole message was found.
    Complete(T),
    /// More octets are needed; call again when they have arrived.
    Partial,
}

impl<T> Status<T> {
    /// Whether this is [`Status::Complete`].
    pub fn is_complete(&self) -> bool {
        matches!(self, Status::Complete(_))
    }

    /// The complete value, if any.
    pub fn complete(self) -> Option<T> {
        match self {
            Status::Complete(t) => Some(t),
            Status::Partial => None,
        }
    }
}

/// Storage for the position of one header line, filled by the parser.
///
/// The caller provides a slice of these (`[HeaderIndex::EMPTY; 32]`); its length bounds
/// the number of header lines a message may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderIndex {
    name: (u32, u32),
    value: (u32, u32),
    kind: HeaderName,
}

impl HeaderIndex {
    /// An unused slot.
    pub const EMPTY: HeaderIndex = HeaderIndex {
        name: (0, 0),
        value: (0, 0),
        kind: HeaderName::Other,
    };
}

impl Default for HeaderIndex {
    fn default() -> Self {
        Self::EMPTY
    }
}

/// One header line: its name as written, its classification and its value with the
/// surrounding white space removed (a folded value keeps its inner line breaks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// The name as written (`v`, `VIA`, `X-Foo`).
    pub name: &'a str,
    /// The classified name.
    pub kind: HeaderName,
    /// The value.
    pub value: &'a str,
}

/// The first line of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartLine<'a> {
    /// `Method SP Request-URI SP SIP/2.0`.
    Request {
        /// The method.
        method: Method<'a>,
        /// The Request-URI as written; parse it with [`Message::request_uri`].
        uri: &'a str,
    },
    /// `SIP/2.0 SP Status-Code SP Reason-Phrase`.
    Response {
        /// The status code.
        status: StatusCode,
        /// The reason phrase (possibly empty, UTF-8).
        reason: &'a str,
    },
}

/// Limits the parser applies beyond the caller's header storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest Content-Length accepted; more is [`ParseError::BodyTooLarge`].
    pub max_body: usize,
}

impl Limits {
    /// 64 KiB bodies, more than any UDP datagram can carry.
    pub const DEFAULT: Limits = Limits { max_body: 65_535 };
}

impl Default for Limits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A SIP message borrowed from the input: start line, header lines and body.
///
/// Typed views of headers are parsed when asked for. A `Message` holds only the
/// positions of its headers, so parsing costs one pass over the header section.
///
/// ```
/// use sip_lite::wire::{HeaderIndex, Message, Method};
///
/// let bytes = b"OPTIONS sip:bob@biloxi.com SIP/2.0\r\n\
///     Via: SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bKhjhs8ass877\r\n\
///     Max-Forwards: 70\r\nTo: <sip:bob@biloxi.com>\r\n\
///     From: Alice <sip:alice@atlanta.com>;tag=1928301774\r\n\
///     Call-ID: a84b4c76e66710\r\nCSeq: 63104 OPTIONS\r\nContent-Length: 0\r\n\r\n";
/// let mut headers = [HeaderIndex::EMPTY; 16];
/// let msg = Message::parse(bytes, &mut headers)?;
/// assert_eq!(msg.method(), Some(Method::Options));
/// assert_eq!(msg.cseq()?.seq, 63104);
/// assert_eq!(msg.from()?.tag(), Some("1928301774"));
/// assert_eq!(msg.top_via()?.branch(), Some("z9hG4bKhjhs8ass877"));
/// # Ok::<(), sip_lite::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message<'a> {
    head: &'a str,
    start: StartLine<'a>,
    version: &'a str,
    headers: &'a [HeaderIndex],
    body: &'a [u8],
    content_length: Option<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Datagram,
    Stream,
    /// Best effort for answering a message that failed: loose start line, no body
    /// framing.
    Salvage,
}

/// What [`parse_head`] found: everything but the UTF-8 conversion.
struct RawHead {
    /// Offset of the start line in the input (after leading line ends).
    start: usize,
    /// Offset of the body in the input.
    body: usize,
    /// Number of header lines.
    count: usize,
    /// The parsed Content-Length.
    content_length: Option<usize>,
    /// Start-line pieces relative to `start`.
    line: [(usize, usize); 3],
    /// Whether the start line is a response.
    response: bool,
}

impl<'a> Message<'a> {
    /// Parses one datagram with the default [`Limits`].
    ///
    /// Without Content-Length the body is the rest of the datagram; octets after a
    /// Content-Length body are ignored (RFC 3261 section 18.3).
    ///
    /// # Errors
    /// The [`ParseError`] that prevents delimiting the message.
    pub fn parse(
        datagram: &'a [u8],
        headers: &'a mut [HeaderIndex],
    ) -> Result<Message<'a>, ParseError> {
        Self::parse_with(datagram, headers, Limits::DEFAULT)
    }

    /// Parses one datagram with explicit limits.
    ///
    /// # Errors
    /// As [`Message::parse`].
    pub fn parse_with(
        datagram: &'a [u8],
        headers: &'a mut [HeaderIndex],
        limits: Limits,
    ) -> Result<Message<'a>, ParseError> {
        match parse_head(datagram, headers, Mode::Datagram, limits)? {
            Status::Complete(raw) => {
                let body = match raw.content_length {
                    Some(n) => datagram
                        .get(raw.body..raw.body + n)
                        .ok_or(ParseError::BodyTruncated)?,
                    None => &datagram[raw.body..],
                };
                Self::assemble(datagram, headers, raw, body)
            }
            Status::Partial => Err(ParseError::HeadTruncated),
        }
    }

    /// Parses the next message from a stream buffer with the default [`Limits`].
    ///
    /// Line ends before the start line are skipped (RFC 3261 section 7.5; see also
    /// [`keep_alive`] for RFC 5626 keep-alives). Returns the message and the number of
    /// octets it occupies, leading line ends included, or [`Status::Partial`] when the
    /// buffer does not yet hold all of it. Content-Length is mandatory on streams.
    ///
    /// # Errors
    /// The [`ParseError`] that prevents delimiting the message; the stream cannot be
    /// resynchronised after one and should be closed.
    pub fn parse_stream(
        buf: &'a [u8],
        headers: &'a mut [HeaderIndex],
    ) -> Result<Status<(Message<'a>, usize)>, ParseError> {
        Self::parse_stream_with(buf, headers, Limits::DEFAULT)
    }

    /// Parses the next message from a stream buffer with explicit limits.
    ///
    /// # Errors
    /// As [`Message::parse_stream`].
    pub fn parse_stream_with(
        buf: &'a [u8],
        headers: &'a mut [HeaderIndex],
        limits: Limits,
    ) -> Result<Status<(Message<'a>, usize)>, ParseError> {
        let raw = match parse_head(buf, headers, Mode::Stream, limits)? {
            Status::Complete(raw) => raw,
            Status::Partial => return Ok(Status::Partial),
        };
        let n = raw.content_length.ok_or(ParseError::MissingContentLength)?;
        let end = raw.body + n;
        let Some(body) = buf.get(raw.body..end) else {
            return Ok(Status::Partial);
        };
        Self::assemble(buf, headers, raw, body).map(|m| Status::Complete((m, end)))
    }

    /// Reads what can be read of a message that failed to parse, so that a server can
    /// still answer it (with 400 or 505) from its Via, From, To, Call-ID and CSeq.
    ///
    /// The start line only needs three space-separated parts, Content-Length is not
    /// checked and the body is the rest of the input. Never use the result for anything
    /// but building that answer.
    pub fn salvage(input: &'a [u8], headers: &'a mut [HeaderIndex]) -> Option<Message<'a>> {
        match parse_head(input, headers, Mode::Salvage, Limits::DEFAULT) {
            Ok(Status::Complete(raw)) => {
                let body = input.get(raw.body..).unwrap_or_default();
                Self::assemble(input, headers, raw, body).ok()
            }
            _ => None,
        }
    }

    fn assemble(
        input: &'a [u8],
        headers: &'a [HeaderIndex],
        raw: RawHead,
        body: &'a [u8],
    ) -> Result<Message<'a>, ParseError> {
        let head =
            core::str::from_utf8(&input[raw.start..raw.body]).map_err(|_| ParseError::Utf8)?;
        let part = |i: usize| head.get(raw.line[i].0..raw.line[i].1).unwrap_or("");
        let (start, version) = if raw.response {
            // Three digits unless salvaged; a salvaged code that is not a number reads as 0.
            let status = StatusCode(part(1).parse().unwrap_or(0));
            (
                StartLine::Response {
                    status,
                    reason: part(2),
                },
                part(0),
            )
        } else {
            let method = Method::parse(part(0)).map_err(|_| ParseError::Method)?;
            (
                StartLine::Request {
                    method,
                    uri: part(1),
                },
                part(2),
            )
        };
        Ok(Message {
            head,
            start,
            version,
            headers: &headers[..raw.count],
            body,
            content_length: raw.content_length,
        })
    }

    /// The start line.
    #[inline]
    pub fn start_line(&self) -> StartLine<'a> {
        self.start
    }

    /// Whether this is a request.
    #[inline]
    pub fn is_request(&self) -> bool {
        matches!(self.start, StartLine::Request { .. })
    }

    /// The request method, for a request.
    #[inline]
    pub fn method(&self) -> Option<Method<'a>> {
        match self.start {
            StartLine::Request { method, .. } => Some(method),
            StartLine::Response { .. } => None,
        }
    }

    /// The status code, for a response.
    #[inline]
    pub fn status(&self) -> Option<StatusCode> {
        match self.start {
            StartLine::Response { status, .. } => Some(status),
            StartLine::Request { .. } => None,
        }
    }

    /// The reason phrase, for a response.
    #[inline]
    pub fn reason(&self) -> Option<&'a str> {
        match self.start {
            StartLine::Response { reason, .. } => Some(reason),
            StartLine::Request { .. } => None,
        }
    }

    /// The Request-URI as written, for a request.
    #[inline]
    pub fn request_uri_str(&self) -> Option<&'a str> {
        match self.start {
            StartLine::Request { uri, .. } => Some(uri),
            StartLine::Response { .. } => None,
        }
    }

    /// The parsed Request-URI, for a request.
    pub fn request_uri(&self) -> Option<Result<Uri<'a>, ValueError>> {
        self.request_uri_str().map(Uri::parse)
    }

    /// The SIP version as written (`SIP/2.0` unless salvaged).
    #[inline]
    pub fn version(&self) -> &'a str {
        self.version
    }

    /// The body (empty if there is none).
    #[inline]
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The Content-Length value, if the message has one.
    #[inline]
    pub fn content_length(&self) -> Option<usize> {
        self.content_length
    }

    /// The start line and header section as text, up to and including the empty line.
    #[inline]
    pub fn head(&self) -> &'a str {
        self.head
    }

    /// Number of header lines.
    #[inline]
    pub fn header_count(&self) -> usize {
        self.headers.len()
    }

    #[inline]
    fn view(&self, h: &HeaderIndex) -> Header<'a> {
        let s = |(a, b): (u32, u32)| self.head.get(a as usize..b as usize).unwrap_or("");
        Header {
            name: s(h.name),
            kind: h.kind,
            value: s(h.value),
        }
    }

    /// Iterates over all header lines in order.
    pub fn headers(&self) -> impl ExactSizeIterator<Item = Header<'a>> + '_ {
        self.headers.iter().map(|h| self.view(h))
    }

    /// The value of the first header line with this name. For an [`HeaderName::Other`]
    /// name use [`Message::header_named`].
    pub fn header(&self, name: HeaderName) -> Option<&'a str> {
        self.header_lines(name).next()
    }

    /// The values of every header line with this name, in order.
    pub fn header_lines(&self, name: HeaderName) -> impl Iterator<Item = &'a str> + '_ {
        self.headers
            .iter()
            .filter(move |h| h.kind == name && name != HeaderName::Other)
            .map(|h| self.view(h).value)
    }

    /// The values of every header line whose name matches `name` case-insensitively,
    /// compact forms included (`header_named("v")` finds `Via` lines too).
    pub fn header_named<'n>(
        &self,
        name: &'n str,
    ) -> impl Iterator<Item = &'a str> + use<'_, 'a, 'n> {
        let kind = HeaderName::parse(name);
        self.headers.iter().filter_map(move |h| {
            let v = self.view(h);
            let hit = if kind == HeaderName::Other {
                h.kind == HeaderName::Other && v.name.eq_ignore_ascii_case(name)
            } else {
                h.kind == kind
            };
            hit.then_some(v.value)
        })
    }

    /// The values of a header across all its lines, with list headers
    /// ([`HeaderName::is_list`]) split at their commas. Empty list elements are yielded
    /// as empty strings so that typed parsing reports them.
    pub fn values(&self, name: HeaderName) -> Values<'_, 'a> {
        Values {
            msg: self,
            name,
            next: 0,
            split: None,
        }
    }

    /// Number of values of a header (see [`Message::values`]).
    pub fn count(&self, name: HeaderName) -> usize {
        self.values(name).count()
    }

    fn single<T>(
        &self,
        name: HeaderName,
        parse: impl FnOnce(&'a str) -> Result<T, ValueError>,
    ) -> Result<T, HeaderError> {
        let v = self.header(name).ok_or(HeaderError::Missing(name))?;
        parse(v).map_err(|e| HeaderError::Invalid(name, e))
    }

    fn optional<T>(
        &self,
        name: HeaderName,
        parse: impl FnOnce(&'a str) -> Result<T, ValueError>,
    ) -> Option<Result<T, HeaderError>> {
        self.header(name)
            .map(|v| parse(v).map_err(|e| HeaderError::Invalid(name, e)))
    }

    fn typed_list<T: 'a>(
        &self,
        name: HeaderName,
        parse: fn(&'a str) -> Result<T, ValueError>,
    ) -> impl Iterator<Item = Result<T, HeaderError>> + '_ {
        self.values(name)
            .map(move |v| parse(v).map_err(|e| HeaderError::Invalid(name, e)))
    }

    /// Every Via value, topmost first.
    pub fn vias(&self) -> impl Iterator<Item = Result<Via<'a>, HeaderError>> + '_ {
        self.typed_list(HeaderName::Via, Via::parse)
    }

    /// The topmost Via.
    ///
    /// # Errors
    /// [`HeaderError::Missing`] or [`HeaderError::Invalid`].
    pub fn top_via(&self) -> Result<Via<'a>, HeaderError> {
        self.vias()
            .next()
            .unwrap_or(Err(HeaderError::Missing(HeaderName::Via)))
    }

    /// The From header.
    ///
    /// # Errors
    /// [`HeaderError::Missing`] or [`HeaderError::Invalid`].
    pub fn from(&self) -> Result<NameAddr<'a>, HeaderError> {
        self.single(HeaderName::From, NameAddr::parse)
    }

    /// The To header.
    ///
    /// # Errors
    /// [`HeaderError::Missing`] or [`HeaderError::Invalid`].
    pub fn to(&self) -> Result<NameAddr<'a>, HeaderError> {
        self.single(HeaderName::To, NameAddr::parse)
    }

    /// The Call-ID.
    ///
    /// # Errors
    /// [`HeaderError::Missing`] or [`HeaderError::Invalid`].
    pub fn call_id(&self) -> Result<&'a str, HeaderError> {
        self.single(HeaderName::CallId, values::parse_call_id)
    }

    /// The CSeq.
    ///
    /// # Errors
    /// [`HeaderError::Missing`] or [`HeaderError::Invalid`].
    pub fn cseq(&self) -> Result<CSeq<'a>, HeaderError> {
        self.single(HeaderName::CSeq, CSeq::parse)
    }

    /// Max-Forwards, if present (range checks are validation's).
    pub fn max_forwards(&self) -> Option<Result<u32, HeaderError>> {
        self.optional(HeaderName::MaxForwards, values::parse_delta)
    }

    /// Expires, if present.
    pub fn expires(&self) -> Option<Result<u32, HeaderError>> {
        self.optional(HeaderName::Expires, values::parse_delta)
    }

    /// Every Contact value.
    pub fn contacts(&self) -> impl Iterator<Item = Result<Contact<'a>, HeaderError>> + '_ {
        self.typed_list(HeaderName::Contact, Contact::parse)
    }

    /// Every Route value, topmost first.
    pub fn routes(&self) -> impl Iterator<Item = Result<NameAddr<'a>, HeaderError>> + '_ {
        self.typed_list(HeaderName::Route, NameAddr::parse)
    }

    /// Every Record-Route value, topmost first.
    pub fn record_routes(&self) -> impl Iterator<Item = Result<NameAddr<'a>, HeaderError>> + '_ {
        self.typed_list(HeaderName::RecordRoute, NameAddr::parse)
    }

    /// Every Path value (RFC 3327).
    pub fn paths(&self) -> impl Iterator<Item = Result<NameAddr<'a>, HeaderError>> + '_ {
        self.typed_list(HeaderName::Path, NameAddr::parse)
    }

    /// Content-Type, if present.
    pub fn content_type(&self) -> Option<Result<MediaType<'a>, HeaderError>> {
        self.optional(HeaderName::ContentType, MediaType::parse)
    }

    /// The option tags or methods of a token-list header (Supported, Require,
    /// Proxy-Require, Unsupported, Allow, Allow-Events), across all its lines.
    pub fn tokens(
        &self,
        name: HeaderName,
    ) -> impl Iterator<Item = Result<&'a str, HeaderError>> + '_ {
        self.values(name).map(move |v| {
            if lex::is_token(v) {
                Ok(v)
            } else {
                Err(HeaderError::Invalid(
                    name,
                    if v.is_empty() {
                        ValueError::Empty
                    } else {
                        ValueError::Unexpected
                    },
                ))
            }
        })
    }

    /// Whether a token-list header lists `tag` (compared case-insensitively; malformed
    /// elements are ignored).
    pub fn has_token(&self, name: HeaderName, tag: &str) -> bool {
        self.tokens(name)
            .any(|t| t.is_ok_and(|t| t.eq_ignore_ascii_case(tag)))
    }
}

/// The values of one header across all its lines: see [`Message::values`].
#[derive(Debug, Clone)]
pub struct Values<'m, 'a> {
    msg: &'m Message<'a>,
    name: HeaderName,
    /// The next header line to look at.
    next: usize,
    /// The rest of the current list line.
    split: Option<CommaSplit<'a>>,
}

impl<'a> Iterator for Values<'_, 'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        loop {
            if let Some(v) = self.split.as_mut().and_then(Iterator::next) {
                return Some(v);
            }
            self.split = None;
            if self.name == HeaderName::Other {
                return None;
            }
            let i = self.next
                + self
                    .msg
                    .headers
                    .get(self.next..)?
                    .iter()
                    .position(|h| h.kind == self.name)?;
            self.next = i + 1;
            let line = self.msg.view(&self.msg.headers[i]).value;
            if self.name.is_list() {
                self.split = Some(CommaSplit::new(line));
            } else {
                return Some(line);
            }
        }
    }
}

/// An RFC 5626 keep-alive on a stream: the client's double line end (a ping) or the
/// server's single one (a pong).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum KeepAlive {
    /// `CRLF CRLF`: answer with a pong.
    Ping,
    /// A lone `CRLF`.
    Pong,
}

/// Recognises an RFC 5626 keep-alive at the start of a stream buffer.
///
/// Returns the keep-alive and its length, `Complete(None)` when the buffer starts with
/// something else, or [`Status::Partial`] while the buffer is a strict prefix of
/// `CRLF CRLF` and could still become a ping. A client waiting for the pong to its ping
/// may take a lone `CRLF` as the pong.
pub fn keep_alive(buf: &[u8]) -> Status<Option<(KeepAlive, usize)>> {
    const PING: &[u8] = b"\r\n\r\n";
    if buf.starts_with(PING) {
        Status::Complete(Some((KeepAlive::Ping, 4)))
    } else if !buf.is_empty() && PING.starts_with(buf) {
        Status::Partial
    } else if buf.starts_with(b"\r\n") {
        Status::Complete(Some((KeepAlive::Pong, 2)))
    } else {
        Status::Complete(None)
    }
}

/// Finds the end of the line starting at `from`: the index of its terminating LF and the
/// index where its content ends (before CR). A CR must be followed by LF.
#[inline]
fn line_end(buf: &[u8], from: usize) -> Result<Option<(usize, usize)>, ParseError> {
    match find_cr_or_lf(buf, from) {
        None => Ok(None),
        Some(i) => {
            if buf[i] == b'\n' {
                Ok(Some((i, i)))
            } else {
                match buf.get(i + 1) {
                    Some(b'\n') => Ok(Some((i + 1, i))),
                    Some(_) => Err(ParseError::HeaderLine),
                    None => Ok(None),
                }
            }
        }
    }
}

/// The position of the first CR or LF at or after `from`.
#[inline(always)]
fn find_cr_or_lf(buf: &[u8], from: usize) -> Option<usize> {
    lex::find_by(
        buf,
        from,
        |w| lex::byte_mask(w, b'\n') | lex::byte_mask(w, b'\r'),
        |c| c == b'\n' || c == b'\r',
    )
}

fn parse_head(
    input: &[u8],
    headers: &mut [HeaderIndex],
    mode: Mode,
    limits: Limits,
) -> Result<Status<RawHead>, ParseError> {
    // Leading line ends (RFC 3261 section 7.5).
    let start = input
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(input.len());
    // Offsets are stored as u32 relative to `start`; a longer head is refused.
    let buf = input
        .get(..start.saturating_add(u32::MAX as usize))
        .unwrap_or(input);
    let incomplete = || match mode {
        _ if buf.len() < input.len() => Err(ParseError::HeadTooLarge),
        Mode::Stream => Ok(Status::Partial),
        _ => Err(ParseError::HeadTruncated),
    };
    if start == buf.len() {
        return match mode {
            Mode::Stream => Ok(Status::Partial),
            _ => Err(ParseError::Empty),
        };
    }
    let Some((lf, end)) = line_end(buf, start).map_err(|_| ParseError::StartLine)? else {
        return incomplete();
    };
    let (response, line) = start_line(&buf[start..end], mode)?;
    let rel = |i: usize| (i - start) as u32;

    let mut pos = lf + 1;
    let mut count = 0usize;
    let mut content_length: Option<usize> = None;
    loop {
        match buf.get(pos) {
            None => return incomplete(),
            Some(b'\n') => {
                pos += 1;
                break;
            }
            Some(b'\r') => match buf.get(pos + 1) {
                Some(b'\n') => {
                    pos += 2;
                    break;
                }
                Some(_) => return Err(ParseError::HeaderLine),
                None => return incomplete(),
            },
            Some(_) => {}
        }
        // field-name HCOLON: find the colon a word at a time, then classify the name. A
        // known name equals its canonical token, so only unknown ones need checking.
        let name_start = pos;
        let Some(colon) = lex::find_byte(buf, pos, b':') else {
            let rest = &buf[pos..];
            return if rest
                .iter()
                .all(|&b| lex::is(b, lex::TOKEN) || b == b' ' || b == b'\t')
            {
                incomplete()
            } else {
                Err(ParseError::HeaderLine)
            };
        };
        let mut name_end = colon;
        while name_end > name_start && matches!(buf[name_end - 1], b' ' | b'\t') {
            name_end -= 1;
        }
        let name = &buf[name_start..name_end];
        let kind = HeaderName::from_bytes(name);
        if kind == HeaderName::Other
            && (name.is_empty() || !name.iter().all(|&b| lex::is(b, lex::TOKEN)))
        {
            return Err(ParseError::HeaderLine);
        }
        pos = colon + 1;
        while matches!(buf.get(pos), Some(b' ' | b'\t')) {
            pos += 1;
        }
        // field-value, with folded continuation lines
        let mut value_start = pos;
        let mut value_end;
        loop {
            let Some((lf, end)) = line_end(buf, pos)? else {
                return incomplete();
            };
            value_end = end;
            pos = lf + 1;
            match buf.get(pos) {
                Some(b' ' | b'\t') => {}
                Some(_) => break,
                None => return incomplete(),
            }
        }
        // Only a value that starts on a continuation line or ends in white space needs
        // trimming here.
        while value_start < value_end && lex::is(buf[value_start], lex::WS) {
            value_start += 1;
        }
        while value_end > value_start && lex::is(buf[value_end - 1], lex::WS) {
            value_end -= 1;
        }
        if kind == HeaderName::ContentLength && mode != Mode::Salvage {
            if content_length.is_some() {
                return Err(ParseError::DuplicateContentLength);
            }
            content_length = Some(content_length_value(&buf[value_start..value_end], limits)?);
        }
        let slot = headers.get_mut(count).ok_or(ParseError::TooManyHeaders)?;
        *slot = HeaderIndex {
            name: (rel(name_start), rel(name_end)),
            value: (rel(value_start), rel(value_end)),
            kind,
        };
        count += 1;
    }
    Ok(Status::Complete(RawHead {
        start,
        body: pos,
        count,
        content_length,
        line,
        response,
    }))
}

/// `Content-Length = 1*DIGIT`, at most the body limit.
fn content_length_value(v: &[u8], limits: Limits) -> Result<usize, ParseError> {
    if v.is_empty() || v.len() > 19 || !v.iter().all(u8::is_ascii_digit) {
        return Err(ParseError::ContentLength);
    }
    let n = v.iter().fold(0u64, |a, &d| a * 10 + u64::from(d - b'0'));
    if n > limits.max_body as u64 {
        return Err(ParseError::BodyTooLarge);
    }
    Ok(n as usize)
}

type Parts = [(usize, usize); 3];

/// Splits the start line into its three parts (offsets relative to the line).
fn start_line(line: &[u8], mode: Mode) -> Result<(bool, Parts), ParseError> {
    let response = line.len() >= 4 && line[..4].eq_ignore_ascii_case(b"SIP/");
    if mode == Mode::Salvage {
        let first = line
            .iter()
            .position(|&b| b == b' ')
            .ok_or(ParseError::StartLine)?;
        let rest_start = first + 1;
        if response {
            let code_end = line[rest_start..]
                .iter()
                .position(|&b| b == b' ')
                .map_or(line.len(), |i| rest_start + i);
            return Ok((
                true,
                [
                    (0, first),
                    (rest_start, code_end),
                    ((code_end + 1).min(line.len()), line.len()),
                ],
            ));
        }
        let last = line
            .iter()
            .rposition(|&b| b == b' ')
            .ok_or(ParseError::StartLine)?;
        if last <= first || !lex::is_token(core::str::from_utf8(&line[..first]).unwrap_or("")) {
            return Err(ParseError::StartLine);
        }
        return Ok((
            false,
            [(0, first), (rest_start, last), (last + 1, line.len())],
        ));
    }

    if response {
        // SIP-Version SP Status-Code SP Reason-Phrase; the SP before an empty reason
        // phrase is tolerated when missing.
        let sp = line
            .iter()
            .position(|&b| b == b' ')
            .ok_or(ParseError::StartLine)?;
        match Version::classify(&line[..sp]) {
            Version::V2_0 => {}
            Version::Unsupported => return Err(ParseError::VersionNotSupported),
            Version::Invalid => return Err(ParseError::StartLine),
        }
        let code = line.get(sp + 1..sp + 4).ok_or(ParseError::StatusCode)?;
        if !code.iter().all(u8::is_ascii_digit) {
            return Err(ParseError::StatusCode);
        }
        let reason_start = match line.get(sp + 4) {
            None => line.len(),
            Some(b' ') => sp + 5,
            Some(_) => return Err(ParseError::StatusCode),
        };
        // Reason-Phrase = *(reserved / unreserved / escaped / UTF8-NONASCII /
        // UTF8-CONT / SP / HTAB): no control characters.
        if line[reason_start..]
            .iter()
            .any(|&b| b < 0x20 && b != b'\t' || b == 0x7f)
        {
            return Err(ParseError::StartLine);
        }
        return Ok((
            true,
            [(0, sp), (sp + 1, sp + 4), (reason_start, line.len())],
        ));
    }

    // Method SP Request-URI SP SIP-Version, single spaces, nothing else.
    let m_end = line
        .iter()
        .position(|&b| b == b' ')
        .ok_or(ParseError::StartLine)?;
    if m_end == 0 || !line[..m_end].iter().all(|&b| lex::is(b, lex::TOKEN)) {
        return Err(ParseError::Method);
    }
    let u_start = m_end + 1;
    let u_end = line[u_start..]
        .iter()
        .position(|&b| b == b' ')
        .map(|i| u_start + i)
        .ok_or(ParseError::StartLine)?;
    if u_end == u_start || line[u_start..u_end].iter().any(|&b| b <= 0x20 || b == 0x7f) {
        return Err(ParseError::StartLine);
    }
    let v = &line[u_end + 1..];
    match Version::classify(v) {
        Version::V2_0 => {}
        Version::Unsupported => return Err(ParseError::VersionNotSupported),
        Version::Invalid => return Err(ParseError::StartLine),
    }
    Ok((
        false,
        [(0, m_end), (u_start, u_end), (u_end + 1, line.len())],
    ))
}
