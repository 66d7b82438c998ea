//! Error types: one small `Copy` enum per family of operations, gathered by [`Error`].

use core::fmt;

use crate::dialog::DialogError;
use crate::registration::{ConfigError as RegistrationConfigError, RegistrationError};
use crate::session_timer::SessionTimerError;
use crate::transaction::TxError;
use crate::wire::{HeaderName, StatusCode};

/// What a SIP element does with a message that failed parsing or validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Reaction {
    /// Answer the request with this status code (RFC 3261 section 8.2 and 16.3).
    Respond(StatusCode),
    /// Discard the message silently: it is a response, or too broken to answer.
    Drop,
}

/// Framing and start-line errors: the message cannot be delimited or its first line is
/// not a SIP request or status line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ParseError {
    /// The input holds nothing but line ends.
    Empty,
    /// The datagram ends before the empty line that closes the header section.
    HeadTruncated,
    /// The first line is neither `Method SP Request-URI SP SIP-Version` nor
    /// `SIP-Version SP Status-Code SP Reason-Phrase`.
    StartLine,
    /// The request method is not a token.
    Method,
    /// A well-formed SIP version other than 2.0.
    VersionNotSupported,
    /// The status code is not three digits.
    StatusCode,
    /// A header line has no colon or its name is not a token.
    HeaderLine,
    /// More header lines than the caller's storage holds.
    TooManyHeaders,
    /// A Content-Length that is not a decimal number (negative, empty, non-numeric).
    ContentLength,
    /// Two or more Content-Length headers.
    DuplicateContentLength,
    /// Content-Length above the configured body limit.
    BodyTooLarge,
    /// The datagram holds fewer body octets than Content-Length announces.
    BodyTruncated,
    /// A stream message without Content-Length (RFC 3261 section 18.3 requires it).
    MissingContentLength,
    /// The start line or header section is not valid UTF-8.
    Utf8,
    /// The header section is longer than the parser can index (4 GiB).
    HeadTooLarge,
}

impl ParseError {
    /// The status code a server answers a request with when it fails this way.
    pub const fn status(self) -> StatusCode {
        match self {
            ParseError::VersionNotSupported => StatusCode::VERSION_NOT_SUPPORTED,
            ParseError::BodyTooLarge | ParseError::HeadTooLarge => {
                StatusCode::REQUEST_ENTITY_TOO_LARGE
            }
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// What to do with the input that failed: answer requests with [`Self::status`]
    /// (building the answer from [`Message::salvage`](crate::wire::Message::salvage)),
    /// drop responses and input that does not even start like a request (a method token
    /// followed by a space).
    pub fn reaction(self, input: &[u8]) -> Reaction {
        let start = input
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .unwrap_or(input.len());
        let head = &input[start..];
        let is_response = head.len() >= 4 && head[..4].eq_ignore_ascii_case(b"SIP/");
        let method_len = head
            .iter()
            .take_while(|&&b| crate::wire::is_token_byte(b))
            .count();
        let is_request = method_len > 0 && head.get(method_len) == Some(&b' ');
        if is_response || !is_request || self == ParseError::Empty {
            Reaction::Drop
        } else {
            Reaction::Respond(self.status())
        }
    }

    fn describe(self) -> &'static str {
        match self {
            ParseError::Empty => "empty message",
            ParseError::HeadTruncated => "header section not terminated by an empty line",
            ParseError::StartLine => "malformed start line",
            ParseError::Method => "request method is not a token",
            ParseError::VersionNotSupported => "SIP version not supported",
            ParseError::StatusCode => "status code is not three digits",
            ParseError::HeaderLine => "malformed header line",
            ParseError::TooManyHeaders => "more headers than the parser's storage",
            ParseError::ContentLength => "Content-Length is not a non-negative number",
            ParseError::DuplicateContentLength => "more than one Content-Length",
            ParseError::BodyTooLarge => "Content-Length above the body limit",
            ParseError::BodyTruncated => "body shorter than Content-Length",
            ParseError::MissingContentLength => "stream message without Content-Length",
            ParseError::Utf8 => "header section is not valid UTF-8",
            ParseError::HeadTooLarge => "header section too large",
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

impl core::error::Error for ParseError {}

/// Why a header value, URI or parameter did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ValueError {
    /// The value is empty where something is required.
    Empty,
    /// A character that does not belong at its position.
    Unexpected,
    /// Text after a complete value, such as a second value in a single-value header.
    TrailingData,
    /// A quoted string without its closing quote.
    UnterminatedQuote,
    /// A `<` without its `>`.
    UnterminatedAngle,
    /// A missing or malformed URI scheme.
    Scheme,
    /// A malformed host name or IP address.
    Host,
    /// A port that is not a number up to 65535.
    Port,
    /// A `%` not followed by two hexadecimal digits.
    Escape,
    /// A number that is malformed or out of range.
    Number,
    /// A malformed parameter.
    Param,
    /// A method that is not a token.
    Method,
    /// A malformed telephone number.
    TelNumber,
    /// A Date value that is not an RFC 1123 date in GMT.
    Date,
}

impl ValueError {
    fn describe(self) -> &'static str {
        match self {
            ValueError::Empty => "empty value",
            ValueError::Unexpected => "unexpected character",
            ValueError::TrailingData => "unexpected text after the value",
            ValueError::UnterminatedQuote => "unterminated quoted string",
            ValueError::UnterminatedAngle => "missing '>'",
            ValueError::Scheme => "malformed URI scheme",
            ValueError::Host => "malformed host",
            ValueError::Port => "malformed port",
            ValueError::Escape => "malformed %-escape",
            ValueError::Number => "malformed or out-of-range number",
            ValueError::Param => "malformed parameter",
            ValueError::Method => "method is not a token",
            ValueError::TelNumber => "malformed telephone number",
            ValueError::Date => "malformed date",
        }
    }
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

impl core::error::Error for ValueError {}

/// A typed header that could not be read from a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum HeaderError {
    /// The message has no such header.
    Missing(HeaderName),
    /// The header is present but its value does not parse.
    Invalid(HeaderName, ValueError),
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::Missing(n) => write!(f, "missing {n} header"),
            HeaderError::Invalid(n, e) => write!(f, "invalid {n} header: {e}"),
        }
    }
}

impl core::error::Error for HeaderError {}

/// Why a message failed server-side validation, with the answer it deserves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ValidationError {
    /// A required header is absent (RFC 3261 section 8.1.1).
    Missing(HeaderName),
    /// A header that takes one value has several.
    Multiple(HeaderName),
    /// A header's value does not parse.
    Invalid(HeaderName, ValueError),
    /// The Request-URI does not parse.
    RequestUri(ValueError),
    /// The Request-URI carries URI headers (`?...`), which RFC 3261 table 1 forbids.
    RequestUriHeaders,
    /// The Request-URI scheme is not one the element serves (answered 416).
    UnsupportedScheme,
    /// The CSeq number is 2^31 or more (RFC 3261 section 8.1.1.5).
    CSeqRange,
    /// The CSeq method differs from the request method.
    CSeqMethod,
    /// Max-Forwards above 255.
    MaxForwardsRange,
    /// A response status code outside 100..=699.
    StatusRange,
    /// An unrecognised method the element does not implement (answered 501).
    NotImplemented,
    /// A recognised method the element does not allow (answered 405 with Allow).
    MethodNotAllowed,
    /// Require or Proxy-Require names an extension the element does not support
    /// (answered 420 with Unsupported).
    BadExtension,
}

impl ValidationError {
    /// The status code this failure deserves when the message is a request.
    pub const fn status(self) -> StatusCode {
        match self {
            ValidationError::UnsupportedScheme => StatusCode::UNSUPPORTED_URI_SCHEME,
            ValidationError::NotImplemented => StatusCode::NOT_IMPLEMENTED,
            ValidationError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ValidationError::BadExtension => StatusCode::BAD_EXTENSION,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValidationError::Missing(n) => write!(f, "missing {n} header"),
            ValidationError::Multiple(n) => write!(f, "more than one {n} value"),
            ValidationError::Invalid(n, e) => write!(f, "invalid {n} header: {e}"),
            ValidationError::RequestUri(e) => write!(f, "invalid Request-URI: {e}"),
            ValidationError::RequestUriHeaders => f.write_str("Request-URI carries headers"),
            ValidationError::UnsupportedScheme => f.write_str("unsupported Request-URI scheme"),
            ValidationError::CSeqRange => f.write_str("CSeq number is 2^31 or more"),
            ValidationError::CSeqMethod => f.write_str("CSeq method differs from the request"),
            ValidationError::MaxForwardsRange => f.write_str("Max-Forwards above 255"),
            ValidationError::StatusRange => f.write_str("status code outside 100..=699"),
            ValidationError::NotImplemented => f.write_str("method not implemented"),
            ValidationError::MethodNotAllowed => f.write_str("method not allowed"),
            ValidationError::BadExtension => f.write_str("required extension not supported"),
        }
    }
}

impl core::error::Error for ValidationError {}

/// Emitting into a sink failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum EmitError {
    /// The buffer is too small; `required` is the total size the message needs, when it
    /// is known (0 if the sink cannot tell).
    InsufficientSize {
        /// Octets the whole output needs.
        required: usize,
    },
    /// A header name is not a token, or a value contains a line break that is not a
    /// fold, or another character that would change the message's framing.
    InvalidHeader,
    /// A non-UTF-8 body was written to a text-only sink.
    NotText,
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmitError::InsufficientSize { required: 0 } => f.write_str("buffer too small"),
            EmitError::InsufficientSize { required } => {
                write!(f, "buffer too small: {required} octets required")
            }
            EmitError::InvalidHeader => f.write_str("invalid header name or value"),
            EmitError::NotText => f.write_str("body is not UTF-8 text"),
        }
    }
}

impl core::error::Error for EmitError {}

/// Digest authentication failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum DigestError {
    /// The challenge or credentials do not parse.
    Syntax(ValueError),
    /// The scheme is not `Digest`.
    Scheme,
    /// A required parameter (realm, nonce, username, uri, response, ...) is absent.
    MissingParam,
    /// The algorithm is not MD5, SHA-256 or SHA-512-256 (or their `-sess` variants).
    UnsupportedAlgorithm,
    /// The challenge offers no quality of protection this crate implements.
    UnsupportedQop,
    /// The credentials answer a different realm, nonce or URI than expected.
    Mismatch,
    /// The response digest is wrong.
    BadResponse,
    /// The response digest is right, but for a nonce other than the one expected: the
    /// password is known, the nonce has expired. Challenge again with `stale=true`.
    StaleNonce,
    /// Caller-supplied storage is too small.
    BufferTooSmall,
}

impl fmt::Display for DigestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DigestError::Syntax(e) => write!(f, "malformed digest header: {e}"),
            DigestError::Scheme => f.write_str("authentication scheme is not Digest"),
            DigestError::MissingParam => f.write_str("required digest parameter missing"),
            DigestError::UnsupportedAlgorithm => f.write_str("unsupported digest algorithm"),
            DigestError::UnsupportedQop => f.write_str("unsupported quality of protection"),
            DigestError::Mismatch => f.write_str("credentials do not match the challenge"),
            DigestError::BadResponse => f.write_str("wrong digest response"),
            DigestError::StaleNonce => f.write_str("digest response for a stale nonce"),
            DigestError::BufferTooSmall => f.write_str("buffer too small"),
        }
    }
}

impl core::error::Error for DigestError {}

impl From<ValueError> for DigestError {
    fn from(e: ValueError) -> Self {
        DigestError::Syntax(e)
    }
}

/// Any error of this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// Framing or start line.
    Parse(ParseError),
    /// A header value or URI.
    Value(ValueError),
    /// A typed header of a message.
    Header(HeaderError),
    /// Server-side validation.
    Validation(ValidationError),
    /// Emitting.
    Emit(EmitError),
    /// Digest authentication.
    Digest(DigestError),
    /// The transaction layer.
    Transaction(TxError),
    /// Session-timer negotiation.
    SessionTimer(SessionTimerError),
    /// The dialog layer.
    Dialog(DialogError),
    /// The registration client.
    Registration(RegistrationError),
    /// A registration client's configuration.
    RegistrationConfig(RegistrationConfigError),
}

impl Error {
    /// The status code a server answers a request failing this way with, if the failure
    /// concerns a received request.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Error::Parse(e) => Some(e.status()),
            Error::Value(_) | Error::Header(_) => Some(StatusCode::BAD_REQUEST),
            Error::Validation(e) => Some(e.status()),
            Error::SessionTimer(e) => e.status(),
            Error::Emit(_)
            | Error::Digest(_)
            | Error::Transaction(_)
            | Error::Dialog(_)
            | Error::Registration(_)
            | Error::RegistrationConfig(_) => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Parse(e) => e.fmt(f),
            Error::Value(e) => e.fmt(f),
            Error::Header(e) => e.fmt(f),
            Error::Validation(e) => e.fmt(f),
            Error::Emit(e) => e.fmt(f),
            Error::Digest(e) => e.fmt(f),
            Error::Transaction(e) => e.fmt(f),
            Error::SessionTimer(e) => e.fmt(f),
            Error::Dialog(e) => e.fmt(f),
            Error::Registration(e) => e.fmt(f),
            Error::RegistrationConfig(e) => e.fmt(f),
        }
    }
}

impl core::error::Error for Error {}

macro_rules! from_family {
    ($($family:ident => $variant:ident),*) => {
        $(impl From<$family> for Error {
            fn from(e: $family) -> Self {
                Error::$variant(e)
            }
        })*
    };
}

from_family!(
    ParseError => Parse,
    ValueError => Value,
    HeaderError => Header,
    ValidationError => Validation,
    EmitError => Emit,
    DigestError => Digest,
    TxError => Transaction,
    SessionTimerError => SessionTimer,
    DialogError => Dialog,
    RegistrationError => Registration,
    RegistrationConfigError => RegistrationConfig
);
