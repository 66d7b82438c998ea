//! The contracts between the server's parts.
//!
//! ```text
//!  SIP transports ──► Core ─┬─ registrar      (REGISTER)
//!                           ├─ proxy          (other requests, their responses)
//!                           └─ sessions ◄──► hub ◄── client connections (TCP, WebSocket)
//!                              (uaCSTA, one per        ClientInput / ClientOutput
//!                               controlled phone)
//! ```
//!
//! - The client connections (framing, TLS, WebSocket, JSON) run as tasks of their own
//!   and speak to the core task in [`ClientInput`] and [`ClientOutput`]: complete
//!   ECMA-323 XML bodies with their invokeID. A JSON client's messages are translated
//!   to and from XML by its connection, so the hub sees XML only.
//! - The hub (ECMA-354 application sessions, access control, monitors, fan-out,
//!   invokeID correlation) is synchronous and lives in the core. It reaches the phones
//!   only through [`Devices`], and hears from them through [`DeviceNews`].
//! - The session manager implements [`Devices`] and reports [`DeviceNews`].

use std::net::SocketAddr;
use std::time::Instant;

use csta_core::framing::InvokeId;
use csta_core::message::Message;
use csta_core::model::view::DeviceView;
use csta_core::uacsta::app::RequestId;

/// The most calls the server's view of one device tracks.
pub const VIEW_CALLS: usize = 8;

/// The server's picture of one controlled device.
pub type View = DeviceView<VIEW_CALLS>;

/// A client connection, numbered by the server from 1 upwards, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientId(pub u64);

/// How a client's connection carries CSTA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// ECMA-323 XML in ECMA-323 Annex J.2 frames over TCP (or TLS).
    Xml,
    /// The JSON mapping of csta-core in WebSocket text messages.
    Json,
}

/// Facts about a client connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientInfo {
    /// The peer's address.
    pub peer: SocketAddr,
    /// What the connection carries.
    pub encoding: Encoding,
    /// Whether the connection is protected by TLS.
    pub tls: bool,
    /// When the connection was accepted (before any TLS or WebSocket handshake): the
    /// hub's login deadline counts from here.
    pub opened: Instant,
}

/// From the client connections to the core.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientInput {
    /// A connection was accepted.
    Connected {
        /// Its number.
        client: ClientId,
        /// What it is.
        info: ClientInfo,
    },
    /// A complete CSTA message (ECMA-323 XML, any edition) with its invokeID.
    Frame {
        /// From whom.
        client: ClientId,
        /// The invokeID (`9999` for an event, which a client should not send).
        invoke_id: InvokeId,
        /// The XML.
        body: Vec<u8>,
    },
    /// The connection is gone (closed by the peer, broken, or closed after
    /// [`ClientOutput::Close`]).
    Closed {
        /// Its number.
        client: ClientId,
    },
}

/// From the core to one client connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientOutput {
    /// Send this CSTA message (ECMA-323 XML).
    Frame {
        /// To whom.
        client: ClientId,
        /// The invokeID: the request's for a response, [`InvokeId::EVENT`] for an event.
        invoke_id: InvokeId,
        /// The XML.
        body: Vec<u8>,
    },
    /// Close the connection once what is queued for it is sent.
    Close {
        /// Which.
        client: ClientId,
    },
}

/// Where a controlled device's uaCSTA session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    /// The phone is not registered, or its session is not (yet, or no longer) up.
    Offline,
    /// The session is up, the monitor started and the state read: requests go through.
    Online,
}

/// Why a request could not be passed to a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No such controlled device.
    #[error("unknown device")]
    UnknownDevice,
    /// The device's session is not up.
    #[error("device out of service")]
    Offline,
    /// The session's queue is full; the request can be tried again later.
    #[error("device busy")]
    Busy,
    /// The request could not be encoded for the phone.
    #[error("request cannot be encoded")]
    Encode,
}

/// The phones, as the hub sees them. Devices are named by any form of their ID
/// (`201`, `sip:201@example.test`, `tel:201`); [`csta_core::model::view::same_device`]
/// decides whether two name the same device.
pub trait Devices {
    /// The canonical ID (the configured address-of-record) of the controlled device
    /// `device` names, or `None` when no controlled device matches.
    fn resolve(&self, device: &str) -> Option<&str>;

    /// Every controlled device's canonical ID.
    fn all(&self) -> Vec<&str>;

    /// Where the device's session stands (`Offline` for an unknown device).
    fn status(&self, device: &str) -> DeviceStatus;

    /// The server's picture of the device, kept current from the phone's events;
    /// `None` for an unknown device.
    fn view(&self, device: &str) -> Option<&View>;

    /// Passes a CSTA request to the phone. Its answer comes back as
    /// [`DeviceNews::Answer`] with the returned [`RequestId`], exactly once, unless
    /// the device goes offline first ([`DeviceNews::Offline`] answers every request
    /// still open).
    ///
    /// # Errors
    /// [`SendError`]; nothing was sent.
    fn send(
        &mut self,
        now: Instant,
        device: &str,
        request: &Message<'_>,
    ) -> Result<RequestId, SendError>;
}

/// What became of a request passed to a device.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer<'a> {
    /// The phone's CSTA answer: a positive response or `CSTAErrorCode`.
    Message(&'a Message<'a>),
    /// No CSTA answer came: a SIP error, a timeout, or an answer that did not decode.
    Failed,
}

/// What the session manager reports about the devices, in order. The core hands each
/// to the hub as it comes (the messages borrow from the manager's decoding buffers, so
/// the manager delivers them through a callback or one at a time).
#[derive(Debug, Clone, PartialEq)]
pub enum DeviceNews<'a> {
    /// The device's session is up, its monitor started and its state read
    /// ([`Devices::view`] is current).
    Online {
        /// The canonical ID.
        device: &'a str,
    },
    /// The device's session is gone; every request still open is answered
    /// [`Answer::Failed`] before this.
    Offline {
        /// The canonical ID.
        device: &'a str,
    },
    /// A CSTA event from the phone, already applied to the view.
    Event {
        /// The canonical ID.
        device: &'a str,
        /// The event, with the server's monitorCrossRefID toward the phone.
        event: &'a Message<'a>,
    },
    /// The answer to a request passed with [`Devices::send`].
    Answer {
        /// The canonical ID.
        device: &'a str,
        /// The request.
        id: RequestId,
        /// The answer.
        answer: Answer<'a>,
    },
}
