//! `ucsta-tsp`: the uCSTA TAPI service provider.
//!
//! Windows programs that speak Microsoft TAPI 2.x/3.x (Outlook, the Windows dialer,
//! CRM and call-centre software) reach telephones only through a TAPI service provider:
//! a DLL (`ucsta.tsp`) that the Telephony service loads. This one connects to a uCSTA
//! server as a CSTA client and shows its phones as TAPI lines.
//!
//! # Layers
//!
//! - [`dial`]: TAPI address strings (canonical `+CC (Area) Number`, dialable strings
//!   with their control characters) into the number CSTA dials.
//! - [`config`]: a provider instance's configuration (registry values or a file).
//! - [`provider`]: the portable, sans-IO provider model: lines, calls and their TAPI
//!   handles, the mapping of CSTA events to TAPI messages and of TAPI requests to CSTA
//!   requests, the ECMA-354 session, reconnecting. No Windows types, threads or
//!   sockets.
//! - [`runtime`]: the std driver of a provider: the link (TCP, TLS) and the threads
//!   that feed the provider and deliver its messages to TAPI.
//! - [`tspi`]: the `extern "system"` TSPI functions (the DLL's export table), each a
//!   thin, panic-proof shell over the runtime; structures filled within
//!   `dwTotalSize`.
//! - [`store`], `registry` (Windows), [`setup`], [`logging`]: where instances keep
//!   their configuration, installing and configuring them, the rotating log.
//! - [`tapi`]: the TAPI constants (from `windows-sys`, plus the TSPI-only ones).

pub mod config;
pub mod dial;
pub mod logging;
pub mod provider;
#[cfg(windows)]
pub mod registry;
pub mod runtime;
pub mod setup;
pub mod store;
pub mod tapi;
pub mod tspi;
