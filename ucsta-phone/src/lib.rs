//! `ucsta-phone`: a uaCSTA SIP phone user agent, `no_std`, without allocation, sans-IO.
//!
//! One [`Phone`] is one line of a SIP phone that a CSTA application controls through
//! uaCSTA (ECMA TR/87): it registers with digest authentication and refreshes, accepts
//! the uaCSTA session the server opens, serves CSTA requests with the ECMA-269 device
//! of [`csta_core::model::phone`], carries the device's commands out as SIP signalling
//! and sends the device's events back. The same state machine drives the phone
//! simulator (`phone-sim`, std) and the gateway firmware (embassy-net): one
//! implementation of a uaCSTA phone, tested once, used twice.
//!
//! It is built from `sip-lite` (transactions, dialogs, registration, digest) and
//! `csta-core` (the phone side of the uaCSTA session, the device). Capacities are const
//! generics: a firmware picks small ones.
//!
//! # Driving it
//!
//! Inputs are [`Phone::handle_datagram`], [`Phone::handle_action`] (the handset or a
//! script) and [`Phone::handle_timeout`], each with the current [`Instant`]; after each,
//! drain [`Phone::poll_transmit`] and [`Phone::poll_report`] and arm a timer for
//! [`Phone::poll_timeout`]. The phone never reads a clock or touches a socket.
//!
//! ```
//! use sip_lite::time::Instant;
//! use ucsta_phone::{Action, Config, Phone};
//!
//! type Line = Phone<u32, 2, 8, 6144, 2048, 4>;
//! let cfg = Config::new("201", "secret", "pbx.example", 7u32, "192.0.2.10", 5060, [7; 32]);
//! let mut phone = Box::new(Line::new(&cfg).unwrap());
//! let now = Instant::from_millis(0);
//! phone.handle_action(now, Action::Register);
//! let mut buf = [0u8; 2048];
//! let (to, n) = phone.poll_transmit(&mut buf).unwrap();
//! assert_eq!(to, 7);
//! assert!(buf[..n].starts_with(b"REGISTER sip:pbx.example SIP/2.0\r\n"));
//! ```
//!
//! # SIP as the phone speaks it (signalling only, no media)
//!
//! - Every request goes to the outbound proxy; calls carry a fixed SDP offer/answer
//!   with one dummy audio line. Hold and retrieve are re-INVITEs with `a=sendonly` /
//!   `a=sendrecv`; a re-INVITE received is answered mirroring its direction.
//! - Single-step transfer is a REFER in the call's dialog; consultation transfer is a
//!   REFER to the held party whose Refer-To carries `Replaces` naming the consultation
//!   call (RFC 3891). The transferor counts the transfer done on the 202 and ends its
//!   dialogs with BYE. A transferee answers 202 and calls the Refer-To target (with the
//!   Replaces header); a phone getting an INVITE with Replaces for one of its calls
//!   answers it at once and ends the replaced call. No NOTIFY (sipfrag) is sent.
//! - Deflection, immediate forwarding, busy forwarding (while a call is in progress)
//!   and no-answer forwarding (after [`Config::no_answer`]) answer the INVITE 302 with
//!   the target as Contact; do-not-disturb answers 486. An outgoing call that gets a
//!   3xx follows the first Contact; a 401/407 is answered once per target.
//! - Digits (`GenerateDigits`, [`Action::Digits`]) go one per INFO with
//!   `application/dtmf-relay`, each after the previous one was answered.
//! - Conference only tells the device (no mixing).
//! - A 2xx we send is resent until its ACK (RFC 3261 section 13.3.1.4); without an
//!   ACK the call ends with a BYE.
//!
//! # Memory
//!
//! Everything lives in the [`Phone`] value: `TXS` transactions of `BUF` octets, the
//! session's `Q` queued events of `BUF` octets, `CALLS` calls of two `BUF` buffers and
//! a 1 KiB dialog each, and a few small queues. Message building uses `BUF`-sized
//! buffers on the stack. [`core::mem::size_of`] tells the total; `phone-sim` boxes it.
//! Firmware keeps it in a `static` made with the `const` [`Phone::unconfigured`] and
//! sets it up there with [`Phone::configure`], so that it never passes through the
//! stack.
//!
//! [`Instant`]: sip_lite::time::Instant
#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod phone;
mod report;
mod text;

pub use csta_core::model::phone::Forward;
pub use phone::{Action, Config, Phone, PhoneError, StreamError, Transport};
pub use report::{CallState, Cause, Name, Report};
