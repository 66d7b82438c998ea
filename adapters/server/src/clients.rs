//! The CSTA client connections: ECMA-323 XML over TCP, and JSON over WebSocket.
//!
//! Each connection is a task of its own. It reports to the task that owns the core as
//! [`ClientEvent`]s on one channel, and the core task keeps the connection table in a
//! [`Clients`] it owns (no locks): [`Clients::handle_event`] turns each event into the
//! [`ClientInput`] the core takes, and [`Clients::send`] routes each [`ClientOutput`]
//! to its connection's queue without ever waiting.
//!
//! # CSTA XML over TCP
//!
//! Every message is an ECMA-323 Annex J.2 frame ([`csta_core::framing`]): `00 00`, the
//! frame length (header included, big-endian), the invokeID as four ASCII digits, then
//! the XML. A frame whose header is broken, or whose length exceeds the size limit,
//! closes the connection (logged): the length is the only delimiter, so the stream
//! cannot be resynchronised.
//!
//! # JSON over WebSocket
//!
//! Each WebSocket text message is one CSTA message in the JSON mapping of
//! [`csta_core::json`], in an envelope with its invokeID:
//!
//! ```text
//! client → server  {"invokeID": 7, "message": {"MakeCall": {"callingDevice": {"id": "201"}, ...}}}
//! server → client  {"invokeID": 7, "message": {"MakeCallResponse": {...}}}
//! server → client  {"invokeID": 9999, "message": {"DeliveredEvent": {...}}}
//! ```
//!
//! The WebSocket is opened at any path (`ws://127.0.0.1:7080/`); no subprotocol is
//! negotiated.
//!
//! - `invokeID` is `0` to `9998` for a request and its response; events carry `9999`,
//!   as in the XML framing. Both members are required; no other member is allowed.
//! - The connection translates a request to ECMA-323 edition 5 XML
//!   ([`json_to_xml`]) before it reaches the core (which therefore answers in edition
//!   5), and whatever the core sends back to JSON ([`xml_to_json`]).
//! - A text message that cannot be read is answered on the same WebSocket, and the
//!   connection stays:
//!   `{"invokeID": 7, "error": {"code": "unknownMessage", "detail": "..."}}`, with
//!   `"invokeID": null` when it could not be read. The codes are those of
//!   [`JsonErrorKind::code`].
//! - A binary message closes the connection with code 1003 (unsupported data); a
//!   message above the size limit with code 1009 (message too big).
//!
//! # Limits
//!
//! Every accepted connection first asks the admission table ([`crate::admission`]),
//! before anything else is done with it:
//!
//! - At most `max_clients_per_source` connections are open from one IP address
//!   (IPv4-mapped IPv6 addresses count as IPv4); one more is closed at once (logged,
//!   counted in `client_connections_refused_per_source_total`).
//! - At most `max_clients` connections are open. When they all are, a new connection
//!   takes the place of one that has not started an ECMA-354 application session yet
//!   (the oldest of the source holding the most of them, which is closed at once;
//!   counted in `client_connections_displaced_total`); a connection with a session is
//!   never displaced. When every connection has a session, the new one is closed at
//!   once (counted in `client_connections_refused_total`). The core task tells the
//!   table which connections logged in ([`Clients::authenticated`], from
//!   [`crate::hub::Hub::has_session`]).
//! - A connection must start its application session within the login timeout
//!   (`timers.client_login_timeout`, default 5 s) of its accept, or it is closed. The
//!   hub enforces it from the accept time it is given ([`ClientInfo::opened`]); the
//!   TLS and WebSocket handshakes, which come before the hub knows the connection,
//!   must end within it too.
//! - Each connection has a bounded output queue. A client that does not read until its
//!   queue is full is disconnected (logged, counted): the core never waits for a
//!   client, and memory stays bounded.
//! - A connection must deliver its first message within the idle timeout of being
//!   opened, and an XML connection must complete each frame within the idle timeout
//!   of its first octet. Silence between messages is allowed: the ECMA-354 session
//!   timer of the hub judges a client's liveness, and TCP keepalive detects half-open
//!   connections.
//!
//! So a host that floods the listeners with idle connections holds at most
//! `max_clients_per_source` of them, each for at most the login timeout; an
//! application that has logged in keeps its connection; and a new application's
//! connection gets in by displacing an idle one, with the login timeout to log in.
//! Before it has logged in it can lose that place only after the older pending
//! connections of every source holding more have lost theirs: a fast flood from many
//! addresses can still delay a login, but never end a session.
//! Refusals, displacements and idle closes are logged at most
//! [`LINES_PER_SECOND`](crate::lograte::LINES_PER_SECOND) times a second each, with
//! the number of lines left out.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use csta_core::framing::{FrameReader, FramingError, HEADER_LEN, InvokeId};
use csta_core::message::{Edition, EncodeOptions};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message as WsMessage};

use crate::admission::{Admission, Refusal, SourceFull};
use crate::config::Config;
use crate::http::Metrics;
use crate::interface::{ClientId, ClientInfo, ClientInput, ClientOutput, Encoding};
use crate::lograte::LogRate;
use crate::tls::Acceptor;

/// The ECMA-323 edition JSON clients' requests are translated to.
pub const JSON_EDITION: Edition = Edition::Ed5;

/// How long closing a WebSocket politely may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(1);

/// The client connections' settings, taken from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientSettings {
    /// The most connections open at once.
    pub max_clients: usize,
    /// The most connections open at once from one IP address.
    pub max_per_source: usize,
    /// The largest message accepted, in octets: an XML frame with its header, or a
    /// WebSocket message.
    pub max_message: usize,
    /// Messages queued for one client before it counts as not reading.
    pub queue: usize,
    /// How long a connection may take to deliver its first message, or an XML
    /// connection to complete a frame it started.
    pub idle_timeout: Duration,
    /// How long a connection may take to start an application session, from its
    /// accept; bounds the TLS and WebSocket handshakes here (the hub enforces the
    /// rest).
    pub login_timeout: Duration,
    /// The TCP keepalive idle time; `None` leaves keepalive off.
    pub keepalive: Option<Duration>,
}

impl ClientSettings {
    /// The settings `config` gives.
    pub fn from_config(config: &Config) -> ClientSettings {
        let t = &config.timers;
        ClientSettings {
            max_clients: config.limits.max_clients,
            max_per_source: config.limits.max_clients_per_source,
            max_message: config.limits.max_client_message,
            queue: config.limits.client_queue,
            idle_timeout: Duration::from_secs(u64::from(t.client_idle_timeout)),
            login_timeout: Duration::from_secs(u64::from(t.client_login_timeout)),
            keepalive: (t.client_keepalive > 0)
                .then(|| Duration::from_secs(u64::from(t.client_keepalive))),
        }
    }
}

/// What the client connections report to the task that owns the core.
#[derive(Debug)]
pub enum ClientEvent {
    /// A connection is ready (for WebSocket: after its handshake).
    Connected {
        /// Its number.
        client: ClientId,
        /// What it is.
        info: ClientInfo,
        /// The way to its queue, for [`Clients::handle_event`].
        link: ClientLink,
    },
    /// A message arrived, or the connection closed.
    Input(ClientInput),
}

/// The way from the core task to one connection's task.
#[derive(Debug)]
pub struct ClientLink {
    queue: mpsc::Sender<Outgoing>,
    /// Fired (or dropped) to make the connection close at once.
    kill: oneshot::Sender<()>,
    /// Whether [`Clients::authenticated`] marked it.
    authenticated: bool,
}

/// What a connection's queue carries.
#[derive(Debug)]
enum Outgoing {
    /// A CSTA message from the core (XML).
    Frame { invoke_id: InvokeId, body: Vec<u8> },
    /// A ready-made WebSocket text message (an error reply).
    Text(String),
    /// Close once everything before this is written.
    Close,
}

/// Shared by the accept loops and connection tasks.
#[derive(Clone)]
struct Shared {
    events: mpsc::Sender<ClientEvent>,
    settings: ClientSettings,
    next_id: Arc<AtomicU64>,
    gate: Arc<Mutex<Gate>>,
    shutdown: watch::Receiver<bool>,
    metrics: Arc<Metrics>,
}

/// The admission table and the rate limits of the log lines about it, shared by the
/// accept loops, the connection tasks and the core task. Locked briefly, never across
/// an `await`.
struct Gate {
    /// Each connection's entry holds the way to close it when it is displaced.
    table: Admission<oneshot::Sender<()>>,
    refused_per_source: LogRate,
    refused_full: LogRate,
    displaced: LogRate,
    idle: LogRate,
}

impl Shared {
    fn gate(&self) -> MutexGuard<'_, Gate> {
        self.gate
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The client listeners and connection table, owned by the task that runs the core.
pub struct Clients {
    conns: HashMap<ClientId, ClientLink>,
    shared: Shared,
    tasks: tokio::task::JoinSet<()>,
    tcp_addr: Option<SocketAddr>,
    websocket_addr: Option<SocketAddr>,
    tls_addr: Option<SocketAddr>,
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clients")
            .field("tcp", &self.tcp_addr)
            .field("websocket", &self.websocket_addr)
            .field("tls", &self.tls_addr)
            .field("connections", &self.conns.len())
            .finish()
    }
}

impl Clients {
    /// Binds the listeners that are configured and starts accepting; connections
    /// report to `events` until `shutdown` becomes `true`.
    ///
    /// # Errors
    /// The address that could not be bound, with the I/O error.
    pub async fn bind(
        tcp: Option<SocketAddr>,
        websocket: Option<SocketAddr>,
        settings: ClientSettings,
        events: mpsc::Sender<ClientEvent>,
        metrics: Arc<Metrics>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Clients, (SocketAddr, std::io::Error)> {
        let shared = Shared {
            events,
            settings,
            next_id: Arc::new(AtomicU64::new(1)),
            gate: Arc::new(Mutex::new(Gate {
                table: Admission::new(
                    settings.max_clients,
                    settings.max_per_source,
                    SourceFull::Refuse,
                ),
                refused_per_source: LogRate::per_second(),
                refused_full: LogRate::per_second(),
                displaced: LogRate::per_second(),
                idle: LogRate::per_second(),
            })),
            shutdown,
            metrics,
        };
        let mut tasks = tokio::task::JoinSet::new();
        let mut bound = [None, None];
        for (i, (addr, encoding)) in [(tcp, Encoding::Xml), (websocket, Encoding::Json)]
            .into_iter()
            .enumerate()
        {
            let Some(addr) = addr else { continue };
            let listener = TcpListener::bind(addr).await.map_err(|e| (addr, e))?;
            bound[i] = Some(listener.local_addr().map_err(|e| (addr, e))?);
            tasks.spawn(accept_loop(listener, encoding, None, shared.clone()));
        }
        Ok(Clients {
            conns: HashMap::new(),
            shared,
            tasks,
            tcp_addr: bound[0],
            websocket_addr: bound[1],
            tls_addr: None,
        })
    }

    /// Also serves CSTA XML over TLS on `addr` (ECMA-323 Annex J.2 frames inside the
    /// TLS stream), with the same limits as over TCP; the handshake must end within
    /// the idle timeout.
    ///
    /// # Errors
    /// The address and the error when it cannot be bound.
    pub async fn listen_tls(
        &mut self,
        addr: SocketAddr,
        acceptor: &Acceptor,
    ) -> Result<(), (SocketAddr, std::io::Error)> {
        let listener = TcpListener::bind(addr).await.map_err(|e| (addr, e))?;
        self.tls_addr = Some(listener.local_addr().map_err(|e| (addr, e))?);
        self.tasks.spawn(accept_loop(
            listener,
            Encoding::Xml,
            Some(acceptor.clone()),
            self.shared.clone(),
        ));
        Ok(())
    }

    /// The bound address of CSTA XML over TLS, if it is on.
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_addr
    }

    /// The bound address of CSTA XML over TCP, if it is on.
    pub fn tcp_addr(&self) -> Option<SocketAddr> {
        self.tcp_addr
    }

    /// The bound address of JSON over WebSocket, if it is on.
    pub fn websocket_addr(&self) -> Option<SocketAddr> {
        self.websocket_addr
    }

    /// Number of connections in the table.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Marks `client` as having started an application session: its connection is
    /// never displaced to make room for another (see the [module docs](self)). Call
    /// it when [`crate::hub::Hub::has_session`] says so; calling it again, or for a
    /// connection that is gone, does nothing.
    pub fn authenticated(&mut self, client: ClientId) {
        // Marked once; later calls for the same connection need no lock.
        if let Some(link) = self.conns.get_mut(&client)
            && !link.authenticated
        {
            link.authenticated = true;
            self.shared.gate().table.authenticate(client.0);
        }
    }

    /// Whether `client` was marked by [`Clients::authenticated`] and is still open.
    pub fn is_authenticated(&self, client: ClientId) -> bool {
        self.shared.gate().table.is_authenticated(client.0)
    }

    /// Updates the connection table from an event and returns it as the core's input.
    pub fn handle_event(&mut self, event: ClientEvent) -> ClientInput {
        match event {
            ClientEvent::Connected { client, info, link } => {
                self.conns.insert(client, link);
                ClientInput::Connected { client, info }
            }
            ClientEvent::Input(input) => {
                if let ClientInput::Closed { client } = input {
                    self.conns.remove(&client);
                }
                input
            }
        }
    }

    /// Queues the core's output for its connection, without waiting. Output for a
    /// connection that is gone is dropped. A client whose queue is full is
    /// disconnected at once (its [`ClientInput::Closed`] follows).
    pub fn send(&mut self, output: ClientOutput) {
        let (client, item) = match output {
            ClientOutput::Frame {
                client,
                invoke_id,
                body,
            } => (client, Outgoing::Frame { invoke_id, body }),
            ClientOutput::Close { client } => (client, Outgoing::Close),
        };
        let Some(link) = self.conns.get(&client) else {
            tracing::debug!(client = client.0, "output for a closed client dropped");
            return;
        };
        match link.queue.try_send(item) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(
                    client = client.0,
                    queue = self.shared.settings.queue,
                    "client does not read its messages; disconnected"
                );
                self.shared.metrics.clients_dropped_slow.inc();
                if let Some(link) = self.conns.remove(&client) {
                    let _ = link.kill.send(());
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                tracing::debug!(client = client.0, "output for a closing client dropped");
            }
        }
    }

    /// Closes every connection and waits until the listeners and connections have
    /// stopped (after shutdown was signalled), for at most a few seconds for the
    /// connections.
    pub async fn join(mut self) {
        // Dropping the links closes the connections.
        self.conns.clear();
        while self.tasks.join_next().await.is_some() {}
        let until = Instant::now() + Duration::from_secs(3);
        while !self.shared.gate().table.is_empty() && Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn accept_loop(
    listener: TcpListener,
    encoding: Encoding,
    tls: Option<Acceptor>,
    shared: Shared,
) {
    let mut shutdown = shared.shutdown.clone();
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "client accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = until_stopped(&mut shutdown) => return,
        };
        let opened = std::time::Instant::now();
        let client = ClientId(shared.next_id.fetch_add(1, Ordering::Relaxed));
        let Some(displace) = admit(&shared, client, peer, opened) else {
            drop(stream);
            continue;
        };
        if let Err(e) = configure(&stream, shared.settings.keepalive) {
            tracing::debug!(%peer, error = %e, "cannot set client socket options");
        }
        let info = ClientInfo {
            peer,
            encoding,
            tls: tls.is_some(),
            opened,
        };
        let ticket = Ticket {
            client,
            gate: shared.gate.clone(),
        };
        tokio::spawn(connection(
            stream,
            info,
            tls.clone(),
            shared.clone(),
            ticket,
            displace,
        ));
    }
}

/// Asks the admission table for a place for `client`; closes the connection it
/// displaces. Returns the way the connection learns that it is displaced in turn, or
/// `None` when it is refused (logged, counted).
fn admit(
    shared: &Shared,
    client: ClientId,
    peer: SocketAddr,
    now: std::time::Instant,
) -> Option<oneshot::Receiver<()>> {
    let source = peer.ip().to_canonical();
    let (tx, rx) = oneshot::channel();
    let mut gate = shared.gate();
    let gate = &mut *gate;
    match gate.table.admit(client.0, source, tx) {
        Ok(None) => Some(rx),
        Ok(Some(displaced)) => {
            shared.metrics.client_connections_displaced.inc();
            let _ = displaced.value.send(());
            if let Some(suppressed) = gate.displaced.allow(now) {
                tracing::warn!(
                    %peer,
                    displaced = displaced.id,
                    from = %displaced.source,
                    max_clients = shared.settings.max_clients,
                    suppressed,
                    "client limit reached; a connection without an application session closed to make room"
                );
            }
            Some(rx)
        }
        Err(Refusal::PerSource) => {
            shared.metrics.client_connections_refused_per_source.inc();
            if let Some(suppressed) = gate.refused_per_source.allow(now) {
                tracing::warn!(
                    %peer,
                    max_clients_per_source = shared.settings.max_per_source,
                    suppressed,
                    "client limit of the source address reached; connection closed"
                );
            }
            None
        }
        Err(Refusal::Full) => {
            shared.metrics.client_connections_refused.inc();
            if let Some(suppressed) = gate.refused_full.allow(now) {
                tracing::warn!(
                    %peer,
                    max_clients = shared.settings.max_clients,
                    suppressed,
                    "client limit reached, every client in a session; connection closed"
                );
            }
            None
        }
    }
}

/// A connection's place in the admission table, given back when the connection task
/// ends (whichever way).
struct Ticket {
    client: ClientId,
    gate: Arc<Mutex<Gate>>,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut gate = self
            .gate
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        gate.table.release(self.client.0);
    }
}

/// Returns when the admission table displaces the connection (never when the table
/// merely drops the way to say so).
async fn displaced(rx: oneshot::Receiver<()>) {
    if rx.await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Returns once `shutdown` is `true` (at once if it already is), or its sender is gone.
async fn until_stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await;
}

/// Turns off Nagle's algorithm (CSTA is request/response) and turns on keepalive.
fn configure(stream: &TcpStream, keepalive: Option<Duration>) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    if let Some(time) = keepalive {
        let ka = socket2::TcpKeepalive::new().with_time(time);
        // Probes 10 s apart (not the system's usual 75 s), so that a half-open
        // connection is found about a minute and a half after the idle time.
        #[cfg(any(
            target_os = "linux",
            target_os = "android",
            target_os = "macos",
            target_os = "freebsd",
            target_os = "windows"
        ))]
        let ka = ka.with_interval(Duration::from_secs(10).min(time));
        socket2::SockRef::from(stream).set_tcp_keepalive(&ka)?;
    }
    Ok(())
}

/// Why a connection ended.
#[derive(Debug)]
enum End {
    /// The peer closed it.
    PeerClosed,
    /// Nothing (or not enough) arrived in time.
    Idle,
    /// A broken or oversize frame header.
    Framing(FramingError),
    /// A WebSocket message above the size limit.
    TooLarge,
    /// A binary WebSocket message.
    Binary,
    /// A WebSocket protocol error or handshake failure.
    WebSocket(String),
    /// The TLS handshake failed.
    Tls(String),
    /// Reading or writing failed.
    Io(std::io::ErrorKind),
    /// The core asked for it ([`ClientOutput::Close`]).
    Closed,
    /// Its queue was full.
    Slow,
    /// Another connection took its place before it started an application session.
    Displaced,
    /// The server is stopping.
    Shutdown,
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::PeerClosed => f.write_str("closed by the peer"),
            End::Idle => f.write_str("idle"),
            End::Framing(e) => write!(f, "framing: {e}"),
            End::TooLarge => f.write_str("message too large"),
            End::Binary => f.write_str("binary message"),
            End::WebSocket(e) => write!(f, "WebSocket: {e}"),
            End::Tls(e) => write!(f, "TLS handshake: {e}"),
            End::Io(kind) => write!(f, "I/O error: {kind}"),
            End::Closed => f.write_str("closed by the server"),
            End::Slow => f.write_str("output queue full"),
            End::Displaced => f.write_str("displaced by a new connection"),
            End::Shutdown => f.write_str("server stopping"),
        }
    }
}

impl End {
    /// The close frame a WebSocket gets, if any.
    fn close_frame(&self) -> Option<CloseFrame> {
        let (code, reason) = match self {
            End::Idle => (CloseCode::Policy, "idle"),
            End::TooLarge => (CloseCode::Size, "message too big"),
            End::Binary => (CloseCode::Unsupported, "binary messages are not supported"),
            End::Closed => (CloseCode::Normal, ""),
            End::Shutdown => (CloseCode::Away, "server shutting down"),
            _ => return None,
        };
        Some(CloseFrame {
            code,
            reason: reason.into(),
        })
    }
}

/// Serves one connection until it ends (or is displaced), then reports it closed.
async fn connection(
    stream: TcpStream,
    info: ClientInfo,
    tls: Option<Acceptor>,
    shared: Shared,
    ticket: Ticket,
    displace: oneshot::Receiver<()>,
) {
    let client = ticket.client;
    let metrics = &shared.metrics;
    metrics.client_connections_accepted.inc();
    let gauge = match info.encoding {
        Encoding::Xml => &metrics.client_connections.xml,
        Encoding::Json => &metrics.client_connections.json,
    };
    gauge.inc();
    let (tx, rx) = mpsc::channel(shared.settings.queue.max(1));
    let (kill_tx, kill_rx) = oneshot::channel();
    let link = ClientLink {
        queue: tx.clone(),
        kill: kill_tx,
        authenticated: false,
    };
    let conn = Conn {
        client,
        info,
        shared: &shared,
        replies: tx,
        announced: AtomicBool::new(false),
    };
    let serve = async {
        match (info.encoding, tls) {
            (Encoding::Xml, Some(acceptor)) => {
                let handshake = tokio::select! {
                    r = tokio::time::timeout_at(conn.handshake_deadline(), acceptor.accept(stream)) => r,
                    () = conn.stopping() => Ok(Err(std::io::ErrorKind::Interrupted.into())),
                };
                match handshake {
                    Ok(Ok(stream)) if conn.announce(link).await => {
                        (conn.run_xml(stream, rx, kill_rx).await, true)
                    }
                    Ok(Ok(_)) => (End::Shutdown, false),
                    Ok(Err(e)) => (End::Tls(e.to_string()), false),
                    Err(_) => (End::Idle, false),
                }
            }
            (Encoding::Xml, None) => {
                if conn.announce(link).await {
                    (conn.run_xml(stream, rx, kill_rx).await, true)
                } else {
                    (End::Shutdown, false)
                }
            }
            (Encoding::Json, _) => conn.run_websocket(stream, rx, kill_rx, link).await,
        }
    };
    let (end, announced) = tokio::select! {
        r = serve => r,
        () = displaced(displace) => (End::Displaced, conn.announced.load(Ordering::Relaxed)),
    };
    match &end {
        End::Framing(e) => tracing::warn!(
            client = client.0,
            peer = %info.peer,
            error = %e,
            "broken or oversize CSTA frame; connection closed"
        ),
        End::Idle => {
            let allowed = shared.gate().idle.allow(std::time::Instant::now());
            if let Some(suppressed) = allowed {
                tracing::info!(
                    client = client.0,
                    peer = %info.peer,
                    suppressed,
                    "client connection idle; closed"
                );
            }
        }
        End::TooLarge | End::Binary => tracing::info!(
            client = client.0,
            peer = %info.peer,
            reason = %end,
            "client sent an unacceptable WebSocket message; connection closed"
        ),
        _ => tracing::debug!(
            client = client.0,
            peer = %info.peer,
            reason = %end,
            "client connection closed"
        ),
    }
    gauge.dec();
    if announced {
        let closed = ClientEvent::Input(ClientInput::Closed { client });
        let _ = shared.events.send(closed).await;
    }
    drop(ticket);
}

/// One connection's task state.
struct Conn<'a> {
    client: ClientId,
    info: ClientInfo,
    shared: &'a Shared,
    /// The connection's own queue, for the error replies it makes itself.
    replies: mpsc::Sender<Outgoing>,
    /// Whether the core was told about it.
    announced: AtomicBool,
}

impl Conn<'_> {
    /// Tells the core about the connection; false when the core is gone.
    async fn announce(&self, link: ClientLink) -> bool {
        let event = ClientEvent::Connected {
            client: self.client,
            info: self.info,
            link,
        };
        // Set first: once the send is under way the core may have the event.
        self.announced.store(true, Ordering::Relaxed);
        let sent = self.shared.events.send(event).await.is_ok();
        self.announced.store(sent, Ordering::Relaxed);
        sent
    }

    /// When a TLS or WebSocket handshake must have ended: within the idle timeout
    /// and the login timeout of the accept.
    fn handshake_deadline(&self) -> Instant {
        let s = &self.shared.settings;
        Instant::from_std(self.info.opened) + s.idle_timeout.min(s.login_timeout)
    }

    /// Passes a message to the core; false when the core is gone.
    async fn deliver(&self, invoke_id: InvokeId, body: Vec<u8>) -> bool {
        self.shared.metrics.client_frames_received.inc();
        let input = ClientInput::Frame {
            client: self.client,
            invoke_id,
            body,
        };
        self.shared
            .events
            .send(ClientEvent::Input(input))
            .await
            .is_ok()
    }

    async fn stopping(&self) {
        until_stopped(&mut self.shared.shutdown.clone()).await;
    }

    async fn run_xml(
        &self,
        stream: impl AsyncRead + AsyncWrite + Unpin,
        mut rx: mpsc::Receiver<Outgoing>,
        kill: oneshot::Receiver<()>,
    ) -> End {
        let (rd, wr) = tokio::io::split(stream);
        tokio::select! {
            end = self.read_xml(rd) => end,
            end = self.write_xml(wr, &mut rx) => end,
            _ = kill => End::Slow,
            () = self.stopping() => End::Shutdown,
        }
    }

    async fn read_xml(&self, mut rd: impl AsyncRead + Unpin) -> End {
        let max = self.shared.settings.max_message;
        let idle = self.shared.settings.idle_timeout;
        let mut reader = FrameReader::new(vec![0u8; max], max);
        // Until the first frame: the time to deliver it; later, while a frame is
        // partly read: the time to complete it.
        let mut first = Some(Instant::now() + idle);
        let mut partial: Option<Instant> = None;
        loop {
            loop {
                let (invoke_id, body) = match reader.next_frame() {
                    Ok(Some(f)) => (f.invoke_id, f.body.to_vec()),
                    Ok(None) => break,
                    Err(e) => {
                        self.shared.metrics.client_frames_rejected.inc();
                        return End::Framing(e);
                    }
                };
                first = None;
                partial = None;
                if !self.deliver(invoke_id, body).await {
                    return End::Shutdown;
                }
            }
            let deadline = match (first, reader.buffered()) {
                (Some(at), _) => Some(at),
                (None, 0) => None,
                (None, _) => Some(*partial.get_or_insert(Instant::now() + idle)),
            };
            let read = rd.read(reader.spare());
            let n = match deadline {
                Some(at) => match tokio::time::timeout_at(at, read).await {
                    Ok(r) => r,
                    Err(_) => return End::Idle,
                },
                None => read.await,
            };
            match n {
                Ok(0) => return End::PeerClosed,
                Ok(n) => reader.commit(n),
                Err(e) => return End::Io(e.kind()),
            }
        }
    }

    async fn write_xml(
        &self,
        mut wr: impl AsyncWrite + Unpin,
        rx: &mut mpsc::Receiver<Outgoing>,
    ) -> End {
        let mut buf = Vec::new();
        while let Some(item) = rx.recv().await {
            let (invoke_id, body) = match item {
                Outgoing::Frame { invoke_id, body } => (invoke_id, body),
                Outgoing::Text(_) => continue,
                Outgoing::Close => {
                    let _ = wr.shutdown().await;
                    return End::Closed;
                }
            };
            buf.clear();
            buf.resize(HEADER_LEN + body.len(), 0);
            if let Err(e) = csta_core::framing::encode(invoke_id, &body, &mut buf) {
                tracing::warn!(client = self.client.0, error = %e, "message to client cannot be framed; dropped");
                continue;
            }
            if let Err(e) = wr.write_all(&buf).await {
                return End::Io(e.kind());
            }
            self.shared.metrics.client_frames_sent.inc();
        }
        End::Shutdown
    }

    /// Runs the handshake, announces the connection and serves it. Returns how it
    /// ended and whether it was announced.
    async fn run_websocket(
        &self,
        stream: TcpStream,
        mut rx: mpsc::Receiver<Outgoing>,
        kill: oneshot::Receiver<()>,
        link: ClientLink,
    ) -> (End, bool) {
        let max = self.shared.settings.max_message;
        let config = WebSocketConfig::default()
            .max_message_size(Some(max))
            .max_frame_size(Some(max));
        let handshake = tokio_tungstenite::accept_async_with_config(stream, Some(config));
        let ws = tokio::select! {
            r = tokio::time::timeout_at(self.handshake_deadline(), handshake) => match r {
                Ok(Ok(ws)) => ws,
                Ok(Err(e)) => return (End::WebSocket(e.to_string()), false),
                Err(_) => return (End::Idle, false),
            },
            () = self.stopping() => return (End::Shutdown, false),
        };
        if !self.announce(link).await {
            return (End::Shutdown, false);
        }
        let (mut sink, mut source) = ws.split();
        let end = tokio::select! {
            end = self.read_websocket(&mut source) => end,
            end = write_websocket(self.client, &self.shared.metrics, &mut sink, &mut rx) => end,
            _ = kill => End::Slow,
            () = self.stopping() => End::Shutdown,
        };
        if let Some(frame) = end.close_frame() {
            let _ =
                tokio::time::timeout(CLOSE_TIMEOUT, sink.send(WsMessage::Close(Some(frame)))).await;
        }
        (end, true)
    }

    async fn read_websocket<S>(&self, source: &mut S) -> End
    where
        S: futures_util::Stream<Item = Result<WsMessage, tungstenite::Error>> + Unpin,
    {
        let mut first = Some(Instant::now() + self.shared.settings.idle_timeout);
        loop {
            let next = match first {
                Some(at) => match tokio::time::timeout_at(at, source.next()).await {
                    Ok(n) => n,
                    Err(_) => return End::Idle,
                },
                None => source.next().await,
            };
            let text = match next {
                None | Some(Ok(WsMessage::Close(_))) => return End::PeerClosed,
                Some(Ok(WsMessage::Text(text))) => text,
                Some(Ok(WsMessage::Binary(_))) => {
                    self.shared.metrics.client_frames_rejected.inc();
                    return End::Binary;
                }
                Some(Ok(_)) => continue,
                Some(Err(tungstenite::Error::Capacity(_))) => {
                    self.shared.metrics.client_frames_rejected.inc();
                    return End::TooLarge;
                }
                Some(Err(tungstenite::Error::Io(e))) => return End::Io(e.kind()),
                Some(Err(
                    tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed,
                )) => return End::PeerClosed,
                Some(Err(e)) => return End::WebSocket(e.to_string()),
            };
            first = None;
            match json_to_xml(text.as_bytes()) {
                Ok((invoke_id, xml)) => {
                    if !self.deliver(invoke_id, xml).await {
                        return End::Shutdown;
                    }
                }
                Err(e) => {
                    self.shared.metrics.client_frames_rejected.inc();
                    tracing::debug!(client = self.client.0, error = %e, "JSON message refused");
                    if self.replies.try_send(Outgoing::Text(e.to_json())).is_err() {
                        self.shared.metrics.clients_dropped_slow.inc();
                        return End::Slow;
                    }
                }
            }
        }
    }
}

async fn write_websocket<S>(
    client: ClientId,
    metrics: &Metrics,
    sink: &mut S,
    rx: &mut mpsc::Receiver<Outgoing>,
) -> End
where
    S: futures_util::Sink<WsMessage, Error = tungstenite::Error> + Unpin,
{
    while let Some(item) = rx.recv().await {
        let (text, counted) = match item {
            Outgoing::Frame { invoke_id, body } => match xml_to_json(invoke_id, &body) {
                Ok(text) => (text, true),
                Err(e) => {
                    tracing::warn!(client = client.0, error = %e, "message to JSON client cannot be translated; dropped");
                    continue;
                }
            },
            Outgoing::Text(text) => (text, false),
            Outgoing::Close => return End::Closed,
        };
        match sink.send(WsMessage::text(text)).await {
            Ok(()) if counted => metrics.client_frames_sent.inc(),
            Ok(()) => {}
            Err(tungstenite::Error::Io(e)) => return End::Io(e.kind()),
            Err(e) => return End::WebSocket(e.to_string()),
        }
    }
    End::Shutdown
}

/// What is wrong with a JSON client message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonErrorKind {
    /// Not JSON, or not an object with exactly `invokeID` (a number) and `message`.
    InvalidEnvelope,
    /// `invokeID` is above 9999.
    InvalidInvokeId,
    /// `message` is not a CSTA message csta-core knows.
    UnknownMessage,
    /// The message cannot be written as XML (a character XML cannot carry).
    Unencodable,
}

impl JsonErrorKind {
    /// The code in the error reply: `invalidEnvelope`, `invalidInvokeID`,
    /// `unknownMessage` or `unencodable`.
    pub fn code(self) -> &'static str {
        match self {
            JsonErrorKind::InvalidEnvelope => "invalidEnvelope",
            JsonErrorKind::InvalidInvokeId => "invalidInvokeID",
            JsonErrorKind::UnknownMessage => "unknownMessage",
            JsonErrorKind::Unencodable => "unencodable",
        }
    }
}

/// A JSON client message that cannot be passed on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}: {detail}", kind.code())]
pub struct JsonError {
    /// What is wrong.
    pub kind: JsonErrorKind,
    /// The message's invokeID, when it could be read.
    pub invoke_id: Option<InvokeId>,
    /// A description for people.
    pub detail: String,
}

impl JsonError {
    /// The error reply sent to the client:
    /// `{"invokeID": 7, "error": {"code": "unknownMessage", "detail": "..."}}`.
    pub fn to_json(&self) -> String {
        serde_json::json!({
            "invokeID": self.invoke_id.map(InvokeId::get),
            "error": { "code": self.kind.code(), "detail": self.detail },
        })
        .to_string()
    }
}

/// Why a message from the core cannot be sent to a JSON client.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ToJsonError {
    /// The XML does not decode as a CSTA message.
    #[error("XML does not decode: {0}")]
    Decode(String),
    /// The message has no JSON form.
    #[error("JSON encoding failed: {0}")]
    Encode(String),
}

/// The client → server envelope.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    #[serde(rename = "invokeID")]
    invoke_id: u64,
    #[serde(borrow)]
    message: &'a serde_json::value::RawValue,
}

/// Reads a JSON client message (see the [module documentation](self)) and writes its
/// CSTA message as ECMA-323 [`JSON_EDITION`] XML; returns the invokeID and the XML.
///
/// # Errors
/// A [`JsonError`], to be sent back with [`JsonError::to_json`].
pub fn json_to_xml(text: &[u8]) -> Result<(InvokeId, Vec<u8>), JsonError> {
    let envelope: Envelope<'_> = serde_json::from_slice(text).map_err(|e| JsonError {
        kind: JsonErrorKind::InvalidEnvelope,
        invoke_id: None,
        detail: e.to_string(),
    })?;
    let invoke_id = u16::try_from(envelope.invoke_id)
        .ok()
        .and_then(InvokeId::new)
        .ok_or_else(|| JsonError {
            kind: JsonErrorKind::InvalidInvokeId,
            invoke_id: None,
            detail: format!("invokeID {} is above 9999", envelope.invoke_id),
        })?;
    let fail = |kind, detail: String| JsonError {
        kind,
        invoke_id: Some(invoke_id),
        detail,
    };
    let message = csta_core::json::from_slice(envelope.message.get().as_bytes())
        .map_err(|e| fail(JsonErrorKind::UnknownMessage, e.to_string()))?;
    let options = EncodeOptions {
        edition: JSON_EDITION,
        declaration: true,
    };
    let mut xml = vec![0u8; message.buffer_len(&options)];
    let n = message
        .encode_with(&options, &mut xml)
        .map_err(|e| fail(JsonErrorKind::Unencodable, format!("{e:?}")))?;
    xml.truncate(n);
    Ok((invoke_id, xml))
}

/// The largest JSON text [`xml_to_json`] writes for one message.
const MAX_JSON: usize = 1 << 20;

/// Translates a message from the core (ECMA-323 XML, any edition) to the JSON the
/// client gets: `{"invokeID":7,"message":{...}}`.
///
/// # Errors
/// A [`ToJsonError`]; the message cannot reach a JSON client.
pub fn xml_to_json(invoke_id: InvokeId, xml: &[u8]) -> Result<String, ToJsonError> {
    let decoded =
        csta_core::message::decode(xml).map_err(|e| ToJsonError::Decode(e.to_string()))?;
    let mut size = (xml.len() * 2).clamp(256, MAX_JSON);
    loop {
        let mut buf = vec![0u8; size];
        match csta_core::json::to_slice(&decoded.message, &mut buf) {
            Ok(n) => {
                buf.truncate(n);
                let json =
                    String::from_utf8(buf).map_err(|e| ToJsonError::Encode(e.to_string()))?;
                return Ok(format!(
                    "{{\"invokeID\":{},\"message\":{json}}}",
                    invoke_id.get()
                ));
            }
            Err(csta_core::json::EncodeError::BufferFull) if size < MAX_JSON => {
                size = (size * 2).min(MAX_JSON);
            }
            Err(e) => return Err(ToJsonError::Encode(format!("{e:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_request_becomes_ed5_xml_and_back() {
        let text = br#"{"invokeID": 7, "message": {"MonitorStop": {"monitorCrossRefID": "42"}}}"#;
        let (id, xml) = json_to_xml(text).unwrap();
        assert_eq!(id.get(), 7);
        let xml = String::from_utf8(xml).unwrap();
        assert!(xml.starts_with("<?xml"), "{xml}");
        assert!(xml.contains(JSON_EDITION.namespace()), "{xml}");
        assert!(
            xml.contains("<monitorCrossRefID>42</monitorCrossRefID>"),
            "{xml}"
        );
        assert_eq!(
            xml_to_json(InvokeId::EVENT, xml.as_bytes()).unwrap(),
            r#"{"invokeID":9999,"message":{"MonitorStop":{"monitorCrossRefID":"42"}}}"#
        );
    }

    #[test]
    fn bad_json_is_classified() {
        let e = json_to_xml(b"nonsense").unwrap_err();
        assert_eq!(
            (e.kind, e.invoke_id),
            (JsonErrorKind::InvalidEnvelope, None)
        );
        let e = json_to_xml(br#"{"invokeId": 1, "message": {}}"#).unwrap_err();
        assert_eq!(e.kind, JsonErrorKind::InvalidEnvelope);
        let e = json_to_xml(br#"{"invokeID": 10000, "message": {}}"#).unwrap_err();
        assert_eq!(
            (e.kind, e.invoke_id),
            (JsonErrorKind::InvalidInvokeId, None)
        );
        let e = json_to_xml(br#"{"invokeID": 3, "message": {"NoSuch": {}}}"#).unwrap_err();
        assert_eq!(
            (e.kind, e.invoke_id),
            (JsonErrorKind::UnknownMessage, InvokeId::new(3))
        );
        let reply: serde_json::Value = serde_json::from_str(&e.to_json()).unwrap();
        assert_eq!(reply["invokeID"], 3);
        assert_eq!(reply["error"]["code"], "unknownMessage");
        let reply: serde_json::Value =
            serde_json::from_str(&json_to_xml(b"[]").unwrap_err().to_json()).unwrap();
        assert_eq!(reply["invokeID"], serde_json::Value::Null);
        assert_eq!(reply["error"]["code"], "invalidEnvelope");
    }

    #[test]
    fn undecodable_xml_is_not_translated() {
        assert!(matches!(
            xml_to_json(InvokeId::EVENT, b"<NoSuchEvent/>"),
            Err(ToJsonError::Decode(_))
        ));
    }
}
