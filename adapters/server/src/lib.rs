//! `csta-server`: the uaCSTA server.
//!
//! A SIP registrar and stateful proxy for desk phones, a uaCSTA session manager that
//! keeps one CSTA session to every CSTA-controlled phone, and a CSTA client interface
//! (ECMA-323 XML over TCP/TLS, JSON over WebSocket) through which applications
//! monitor and control those phones.
//!
//! This version serves SIP over UDP and TCP, registers phones and proxies their
//! calls; the uaCSTA session manager and the client interface follow.
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
//! - [`transport`]: SIP over UDP and TCP (tokio).
//! - [`proxy`]: the stateful SIP proxy: routing between registered phones and to an
//!   upstream, forking, CANCEL, transaction timers.
//! - [`core`]: the synchronous protocol core the transports feed.
//! - [`interface`]: the contracts between the parts (client connections, hub,
//!   session manager).
//! - [`server`]: starts and stops everything ([`Server::start`]).

pub mod config;
pub mod core;
pub mod interface;
pub mod proxy;
pub mod registrar;
pub mod server;
pub mod store;
pub mod transport;

pub use config::Config;
pub use server::{Server, ServerHandle, ShutdownError, StartError};
