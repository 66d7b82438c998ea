//! `csta-core`: a zero-allocation, `no_std` CSTA codec for SIP phones and the servers
//! that control them.
//!
//! # Layers
//!
//! - [`xml`]: a pull tokenizer over `&[u8]` with borrowed events and lazily decoded
//!   [`Text`](xml::Text), and an escaping [`Writer`](xml::Writer) into a caller's buffer.
//! - [`message`]: typed requests, responses and events of the uaCSTA service set (ECMA
//!   TR/87 over ECMA-269, XML of ECMA-323 editions 3 to 6), `CSTAErrorCode` and the
//!   ECMA-354 application session messages. Decoding is lenient the way real peers need
//!   (any namespace or prefix, any child order, unknown elements skipped) and reports
//!   the peer's [`Edition`]; encoding is strict (schema order, one
//!   edition, escaping).
//! - [`framing`]: ECMA-323 Annex J.2 framing for CSTA over TCP.
//! - [`json`]: the same messages as JSON, with serde-json-core.
//! - [`model`]: the ECMA-269 call model of one device: the phone's side (switching
//!   function, [`model::phone`]) and the server's view of it (computing function,
//!   [`model::view`], with the TAPI call states).
//! - [`uacsta`]: CSTA carried in SIP (ECMA TR/87) over sip-lite's transactions and
//!   dialogs: the application side's session ([`uacsta::app`]) and the phone's
//!   ([`uacsta::phone`]).
//!
//! # Guarantees
//!
//! Nothing allocates: decoded messages borrow from the input, lists have documented
//! capacities, output goes into caller buffers. Nothing panics on input. The crate
//! builds for `thumbv6m-none-eabi`.
//!
//! ```
//! use csta_core::message::{decode, Edition, Message};
//!
//! let xml = br#"<AnswerCall xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed5">
//!   <callToBeAnswered><callID>-12</callID><deviceID>sip:455455@pbx</deviceID></callToBeAnswered>
//! </AnswerCall>"#;
//! let decoded = decode(xml).unwrap();
//! assert_eq!(decoded.edition, Some(Edition::Ed5));
//!
//! // Answer in edition 3.
//! let mut buf = [0u8; 512];
//! let n = decoded.message.encode(Edition::Ed3, &mut buf).unwrap();
//! assert!(buf[..n].ends_with(b"</callToBeAnswered></AnswerCall>"));
//! ```
//!
//! # Features
//!
//! - `defmt`: derives `defmt::Format` for errors and small value types (firmware).

#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(test)]
extern crate std;

#[macro_use]
mod lookup;
#[macro_use]
mod macros;
#[macro_use]
mod codec;

pub mod flags;
pub mod framing;
pub mod json;
pub mod message;
pub mod model;
pub mod names;
pub mod types;
pub mod uacsta;
pub mod xml;

pub use codec::DecodeError;
pub use message::{Decoded, Edition, EncodeOptions, Kind, Message, decode, decode_with};
