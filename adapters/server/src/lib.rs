//! `csta-server`: the uaCSTA server.
//!
//! A SIP registrar and stateful proxy for desk phones, a uaCSTA session manager that
//! keeps one CSTA session to every CSTA-controlled phone, and a CSTA client interface
//! (ECMA-323 XML over TCP/TLS, JSON over WebSocket) through which applications
//! monitor and control those phones.
//!
//! This version serves SIP over UDP, TCP and TLS, registers phones, proxies their
//! calls, keeps a uaCSTA session with every controlled phone and serves CSTA clients.
//!
//! # Structure
//!
//! The protocol logic is synchronous and free of I/O, like the core crates it builds
//! on: each part takes messages with the time they arrived and returns what to send.
//! The tokio runtime, the sockets and the storage are around it.
//!
//! - [`registrar`]: REGISTER handling: digest authentication, bindings per
//!   address-of-record, expiry.
//! - [`config`]: the configuration (TOML) and its defaults.
//! - [`store`]: the embedded database in the data directory.
//! - [`transport`]: SIP over UDP, TCP and TLS (tokio).
//! - [`tls`]: the TLS acceptor from the configured files or a `--dev-tls` certificate.
//! - [`proxy`]: the stateful SIP proxy: routing between registered phones and to an
//!   upstream, forking, CANCEL, transaction timers.
//! - [`core`]: the synchronous protocol core the transports feed.
//! - [`hub`]: the client side of CSTA: ECMA-354 application sessions, access
//!   control, monitors and event fan-out, request correlation, device lists and
//!   system registrations, directed and group pickup.
//! - [`sessions`]: the uaCSTA session manager: one CSTA session per controlled phone,
//!   its monitor and its view ([`interface::Devices`], [`interface::DeviceNews`]).
//! - [`interface`]: the contracts between the parts (client connections, hub,
//!   session manager).
//! - [`admission`]: who may take a connection slot: per-source limits, and
//!   unauthenticated connections making room, never authenticated ones.
//! - [`lograte`]: rate-limited log lines with a count of those left out.
//! - [`clients`]: the CSTA client connections (XML over TCP and TLS, JSON over
//!   WebSocket).
//! - [`http`]: `/metrics` and `/health`, and the [`http::Metrics`] behind them.
//! - [`server`]: starts and stops everything ([`Server::start`]).

pub mod admission;
pub mod clients;
pub mod config;
pub mod core;
pub mod guard;
pub mod http;
pub mod hub;
pub mod interface;
pub mod lograte;
pub mod proxy;
pub mod registrar;
pub mod server;
pub mod sessions;
pub mod store;
pub mod tls;
pub mod transport;

pub use config::Config;
pub use server::{Server, ServerHandle, ShutdownError, StartError};
