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
//! - [`transaction`]: the four transaction machines of RFC 3261 section 17 (with RFC
//!   6026), matching, retransmission and CANCEL, in a fixed-capacity table.
//! - [`dialog`]: RFC 3261 dialogs in a fixed-capacity set: creation, requests within a
//!   dialog, target refresh, CSeq ordering, and the 2xx/ACK retransmission of the TU.
//! - [`registration`]: a registration client (RFC 3261 section 10, RFC 5626) that
//!   answers digest challenges, refreshes, backs off and unregisters.
//! - [`session_timer`]: session timers (RFC 4028): the Session-Expires/Min-SE
//!   negotiation on both sides of a dialog and the refresh and expiry timers.
//! - [`time`] and [`ids`]: the caller's clock and the caller-seeded identifiers every
//!   layer above uses; [`zeroed`]: an `Option` whose `None` is all zero bits, for
//!   machines that firmware keeps in zero-initialised statics; [`queue`]: messages
//!   waiting to be sent, packed in a ring of octets.
//!
//! The layers above [`wire`] are sans-IO state machines: inputs are method calls that
//! carry `now`, outputs are polled (`poll_transmit`, `poll_event`, `poll_timeout`) after
//! every input until nothing is left; storage is fixed at compile time and addressed
//! by small handles.
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

pub mod dialog;
pub mod digest;
mod error;
pub mod ids;
pub mod queue;
pub mod registration;
pub mod session_timer;
pub mod time;
pub mod transaction;
pub mod wire;
pub mod zeroed;

pub use error::{
    DigestError, EmitError, Error, HeaderError, ParseError, Reaction, ValidationError, ValueError,
};
