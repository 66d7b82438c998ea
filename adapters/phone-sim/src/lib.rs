//! `phone-sim`: simulated uaCSTA SIP phones for tests, demos and load.
//!
//! A phone registers with digest authentication (and refreshes), accepts the uaCSTA
//! session the server opens (the CSTA `INVITE`, requests in `INFO`, the out-of-dialog
//! `NOTIFY Event: uaCSTA` variant), serves CSTA requests with the ECMA-269 call model of
//! `csta-core`, carries the resulting commands out as SIP signalling through its
//! outbound proxy (signalling only, a dummy SDP audio line) and sends the CSTA events.
//!
//! Layers, one direction:
//! - [`phone`]: one phone, sans-IO ([`phone::Phone`]): datagrams, actions and the time
//!   in; datagrams and [`report::Report`]s out. Built on `sip-lite` (transactions,
//!   dialogs, registration, digest) and `csta-core` (`PhoneSession`, `Device`).
//! - [`runtime`]: a tokio task and a UDP socket per phone ([`runtime::spawn`],
//!   [`runtime::PhoneHandle`]).
//! - [`script`]: the script language (parser, documented there) and [`runner`]: runs a
//!   script, or many phones with generated calls (load mode).
//!
//! Drive loop of a [`phone::Phone`]: after every input (`handle_datagram`,
//! `handle_action`, `handle_timeout`) drain `poll_transmit` and `poll_report`, then arm
//! a timer for `poll_timeout`.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use phone_sim::phone::Action;
//! use phone_sim::runtime::{PhoneSpec, spawn};
//! let (tx, mut reports) = tokio::sync::mpsc::unbounded_channel();
//! let server = "127.0.0.1:5060".parse().unwrap();
//! let spec = PhoneSpec::new("201", "secret", "localhost", server);
//! let phone = spawn(spec, tokio::time::Instant::now(), tx).await?;
//! phone.act(Action::Call("202".into()));
//! while let Some(r) = reports.recv().await {
//!     println!("{}", r.to_json_line());
//! }
//! # Ok(()) }
//! ```

pub mod phone;
pub mod report;
pub mod runner;
pub mod runtime;
pub mod script;
