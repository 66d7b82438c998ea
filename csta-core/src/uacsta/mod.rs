//! uaCSTA (ECMA TR/87): CSTA carried in SIP, on both sides of the session.
//!
//! - [`app`]: the application side (computing function), what the server runs per
//!   phone: it opens the CSTA dialog, sends requests as INFO and correlates the
//!   responses, receives events and keeps the dialog alive.
//! - [`phone`]: the phone side (switching function): it accepts the CSTA dialog,
//!   hands requests to the device and returns the answers, and sends events.

pub mod app;
pub mod phone;
