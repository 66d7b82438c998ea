//! `sip-lite`: a zero-allocation, `no_std` SIP stack core.
//!
//! # Layers
//!
//! - [`wire`]: bytes to typed views and back. [`wire::Message`] frames a datagram or a
//!   stream buffer in one pass and keeps the positions of its header lines in storage
//!   the caller provides; typed views ([`wire::Via`], [`wire::NameAddr`], [`wire::Uri`],
//!   [`wire::CSeq`], ...) are parsed from those lines on demand and borrow from the
//!   input. [`wire::Message::validate`] makes the checks a server makes before acting
//!   and maps each failure to the response it deserves; [`wire::Writer`] builds messages
//!   into a caller's buffer or any [`wire::Sink`].
//! - [`digest`]: HTTP digest authentication for SIP (RFC 2617, 7616, 8760), client and
//!   server side, with MD5, SHA-256 and SHA-512/256.
//! - [`registration`]: the registration client (RFC 3261 section 10, RFC 5626): a sans-IO
//!   machine that keeps one contact registered, answering digest challenges, refreshing
//!   and backing off.
//!
//! Transactions, dialogs, registration and session timers build on these layers.
//!
//! # Guarantees
//!
//! The crate never allocates, never panics on input, reads no clock and touches no
//! socket: the caller owns all I/O and storage. It builds for `thumbv6m-none-eabi`.
//!
//! ```
//! use sip_lite::wire::{HeaderIndex, Message, Policy, Reaction, StatusCode};
//!
//! let datagram = b"INVITE sip:bob@biloxi.com SIP/7.0\r\n\r\n";
//! let mut headers = [HeaderIndex::EMPTY; 32];
//! let err = Message::parse(datagram, &mut headers).unwrap_err();
//! assert_eq!(err.reaction(datagram), Reaction::Respond(StatusCode::VERSION_NOT_SUPPORTED));
//! ```
//!
//! # Features
//!
//! - `std`: lets `memchr` choose AVX2 at run time on x86-64 (servers); nothing else
//!   changes.
//! - `defmt`: derives `defmt::Format` for errors and small value types (firmware).

#![no_std]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(test)]
extern crate std;

pub mod digest;
mod error;
pub mod ids;
pub mod registration;
pub mod time;
pub mod wire;

pub use error::{
    DigestError, EmitError, Error, HeaderError, ParseError, Reaction, ValidationError, ValueError,
};
