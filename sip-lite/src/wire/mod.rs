//! The wire layer: SIP messages as bytes and as typed views borrowed from those bytes.
//!
//! - [`Message`] frames datagrams and stream buffers and indexes the header lines.
//! - Typed views ([`Via`], [`NameAddr`], [`Contact`], [`CSeq`], [`Uri`], ...) parse one
//!   header value when asked for; they borrow from the input and never allocate.
//! - [`validate`](Message::validate) applies the checks a server makes before acting and
//!   maps each failure to the response it deserves.
//! - [`Writer`] builds messages into any [`Sink`].

mod addr;
mod auth;
pub(crate) mod lex;
mod message;
mod name;
mod sink;
mod start;
mod uri;
mod validate;
mod values;
mod via;
mod writer;

pub use crate::error::{EmitError, HeaderError, ParseError, Reaction, ValidationError, ValueError};
pub use addr::{Contact, DisplayName, NameAddr, QValue};
pub use auth::{
    Algorithm, AuthParam, AuthParamIter, AuthParams, AuthValue, Challenge, Credentials, Qop,
};
pub use lex::CommaSplit;
pub use message::{Header, HeaderIndex, KeepAlive, Limits, Message, StartLine, Status, keep_alive};
pub use name::HeaderName;
pub(crate) use sink::display_via_emit;
pub use sink::{CountingSink, Emit, FmtSink, Sink, SliceSink};
pub use start::{Method, SIP_2_0, StatusCode};
pub use uri::{AbsoluteUri, Host, Param, ParamIter, Params, SipUri, TelUri, Uri, unescape};
pub use validate::Policy;
pub use values::{
    CSeq, ContentDisposition, Event, MediaType, Refresher, RetryAfter, SessionTimer, SipDate,
    SubscriptionState, parse_call_id, parse_delta,
};
pub use via::{Transport, Via};
pub use writer::{Unfolded, Writer};

/// Whether `b` may appear in an RFC 3261 token (method names, header names, parameter
/// names, option tags).
#[inline]
pub fn is_token_byte(b: u8) -> bool {
    lex::is(b, lex::TOKEN)
}
