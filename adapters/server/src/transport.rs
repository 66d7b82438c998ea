//! SIP transports over tokio: UDP sockets, TCP listeners and TLS listeners.
//!
//! Socket tasks frame what arrives and hand it to the task that owns the protocol core
//! as [`TransportEvent`]s on one channel: whole messages with their [`Source`] and
//! receive time, and the opening and closing of TCP and TLS connections. That task
//! keeps the connection table in a [`Transports`] it owns (no locks) and sends the
//! core's output with [`Transports::send`].
//!
//! Framing rules:
//! - UDP: one message per datagram. Datagrams of nothing but CR/LF (keep-alives) are
//!   ignored; datagrams larger than the message size limit are dropped.
//! - TCP: messages are delimited by Content-Length ([`Message::parse_stream_with`]). A
//!   double CRLF is an RFC 5626 ping and is answered with a single CRLF; a lone CRLF is
//!   ignored. A message whose Content-Length exceeds the limit is answered
//!   `413 Request Entity Too Large` (RFC 3261 section 21.4.11, which allows closing the
//!   connection) and the connection is closed, since skipping the body would mean
//!   reading it; a header section that exceeds the limit, or any framing error, closes
//!   the connection without an answer (the stream cannot be resynchronised).
//! - A TCP connection silent for the idle timeout, or that takes longer than it to
//!   deliver a message once the message has started, is closed. Connections beyond
//!   the configured number are closed at once.
//! - TLS connections ([`Transports::listen_tls`]) are TCP connections with a TLS
//!   handshake first: every rule above applies to the decrypted stream, they count
//!   against the same connection limit (from the moment they are accepted), and a
//!   handshake that fails or takes longer than the idle timeout closes the connection.
//!
//! Connection reuse: a message for a peer goes over the connection its request came
//! on, else over an open connection from or to the peer on the same transport (RFC
//! 3261 section 18.2.2, RFC 5626 flows). For TCP a new connection is opened when there
//! is none; the server opens no TLS connections: a phone on TLS keeps its own
//! connection open (RFC 5626 keep-alives) and requests for it use that one, and a
//! message for a TLS peer without an open connection fails with
//! [`SendError::NoTlsConnection`].

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sip_lite::wire::{HeaderIndex, Limits, Message, ParseError, Status, keep_alive};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{Semaphore, mpsc, watch};

use crate::lograte::LogRate;
use crate::tls::Acceptor;

/// The receive buffer asked for each SIP UDP socket, in octets.
const UDP_RECEIVE_BUFFER: usize = 4 << 20;
/// The transport a message arrived on or leaves by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
}

impl TransportKind {
    /// The Via transport token (`UDP`, `TCP`, `TLS`).
    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Udp => "UDP",
            TransportKind::Tcp => "TCP",
            TransportKind::Tls => "TLS",
        }
    }

    /// Whether messages travel on a connection (TCP, TLS) rather than as datagrams.
    pub fn is_stream(self) -> bool {
        self != TransportKind::Udp
    }
}

impl fmt::Display for TransportKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Identifies one TCP or TLS connection for the life of the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

/// Where a message came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Source {
    /// The transport.
    pub transport: TransportKind,
    /// The peer's address.
    pub peer: SocketAddr,
    /// The local address it arrived at.
    pub local: SocketAddr,
    /// The connection, for TCP and TLS.
    pub conn: Option<ConnId>,
}

/// One received message (or datagram), not yet parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    /// Where it came from.
    pub source: Source,
    /// When it was received (for TCP and TLS: when its last octet arrived).
    pub received_at: Instant,
    /// The octets: one datagram, or one message framed from a stream.
    pub data: Vec<u8>,
}

/// What the transports report to the task that owns the core.
#[derive(Debug)]
pub enum TransportEvent {
    /// A message arrived.
    Message(Inbound),
    /// A TCP connection was accepted (for TLS: its handshake completed).
    Connected {
        /// The connection.
        id: ConnId,
        /// TCP or TLS.
        transport: TransportKind,
        /// The peer.
        peer: SocketAddr,
        /// The local address.
        local: SocketAddr,
        /// Queue of octets to write to it.
        writer: mpsc::Sender<Vec<u8>>,
    },
    /// A TCP or TLS connection was closed.
    Closed {
        /// The connection.
        id: ConnId,
    },
}

/// A message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    /// The transport.
    pub transport: TransportKind,
    /// The destination.
    pub peer: SocketAddr,
    /// The connection to use for TCP or TLS, when known (the one a request came on).
    /// Without it, or when it has closed, a connection from or to `peer` on the same
    /// transport is used, or (TCP only) one is opened.
    pub conn: Option<ConnId>,
    /// For UDP, the local address to send from (the one the request arrived at).
    pub local: Option<SocketAddr>,
    /// The octets.
    pub data: Vec<u8>,
}

/// Why a message could not be sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// No UDP socket of the destination's address family.
    #[error("no UDP socket can reach {0}")]
    NoSocket(SocketAddr),
    /// The connection's write queue is full or it has closed.
    #[error("connection to {0} is closed or congested")]
    Congested(SocketAddr),
    /// No TLS connection to the peer is open, and the server opens none.
    #[error("no TLS connection to {0} is open")]
    NoTlsConnection(SocketAddr),
    /// The connection limit is reached.
    #[error("TCP connection limit reached, cannot connect to {0}")]
    TooManyConnections(SocketAddr),
    /// Sending a datagram failed.
    #[error("cannot send to {peer} over UDP: {source}")]
    Udp {
        /// The peer.
        peer: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Transport settings taken from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransportSettings {
    /// The largest message accepted, in octets.
    pub max_message_size: usize,
    /// The most TCP and TLS connections open at once, together.
    pub max_tcp_connections: usize,
    /// Silence (or time to deliver one message, or to complete the TLS handshake)
    /// after which a TCP or TLS connection closes.
    pub tcp_idle_timeout: Duration,
}

/// Messages waiting to be written to one TCP or TLS connection.
const WRITE_QUEUE: usize = 64;
/// The most header lines in one message.
const MAX_HEADERS: usize = 96;
/// The most TCP and TLS connections any configuration may ask for.
pub const MAX_CONNECTIONS: usize = 1_000_000;
/// How long opening a TCP connection to a peer may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Shared by every socket task.
#[derive(Clone)]
struct Shared {
    events: mpsc::Sender<TransportEvent>,
    settings: TransportSettings,
    next_conn: Arc<std::sync::atomic::AtomicU64>,
    permits: Arc<Semaphore>,
    shutdown: watch::Receiver<bool>,
}

impl Shared {
    fn conn_id(&self) -> ConnId {
        ConnId(
            self.next_conn
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        )
    }
}

struct ConnEntry {
    peer: SocketAddr,
    transport: TransportKind,
    writer: mpsc::Sender<Vec<u8>>,
}

/// The sending side and connection table, owned by the task that runs the core.
pub struct Transports {
    udp: Vec<Arc<UdpSocket>>,
    conns: HashMap<ConnId, ConnEntry>,
    by_peer: HashMap<(TransportKind, SocketAddr), ConnId>,
    shared: Shared,
    tasks: tokio::task::JoinSet<()>,
    udp_addrs: Vec<SocketAddr>,
    tcp_addrs: Vec<SocketAddr>,
    tls_addrs: Vec<SocketAddr>,
}

impl fmt::Debug for Transports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transports")
            .field("udp", &self.udp_addrs)
            .field("tcp", &self.tcp_addrs)
            .field("tls", &self.tls_addrs)
            .field("connections", &self.conns.len())
            .finish()
    }
}

impl Transports {
    /// Binds the UDP sockets and TCP listeners and starts their tasks, which report to
    /// `events` until `shutdown` becomes `true`.
    ///
    /// # Errors
    /// The address that could not be bound, with the I/O error.
    pub async fn bind(
        udp: &[SocketAddr],
        tcp: &[SocketAddr],
        settings: TransportSettings,
        events: mpsc::Sender<TransportEvent>,
        shutdown: watch::Receiver<bool>,
    ) -> Result<Transports, (SocketAddr, std::io::Error)> {
        let shared = Shared {
            events,
            settings,
            next_conn: Arc::new(std::sync::atomic::AtomicU64::new(1)),
            permits: Arc::new(Semaphore::new(
                settings.max_tcp_connections.min(MAX_CONNECTIONS),
            )),
            shutdown,
        };
        let mut tasks = tokio::task::JoinSet::new();
        let mut sockets = Vec::new();
        let mut udp_addrs = Vec::new();
        for &addr in udp {
            let sock = UdpSocket::bind(addr).await.map_err(|e| (addr, e))?;
            let local = sock.local_addr().map_err(|e| (addr, e))?;
            // Room for bursts while the core is busy; the system may grant less
            // (net.core.rmem_max).
            let buf = socket2::SockRef::from(&sock);
            if let Err(e) = buf.set_recv_buffer_size(UDP_RECEIVE_BUFFER) {
                tracing::debug!(%local, error = %e, "cannot enlarge the UDP receive buffer");
            }
            let sock = Arc::new(sock);
            udp_addrs.push(local);
            sockets.push(sock.clone());
            tasks.spawn(udp_loop(sock, local, shared.clone()));
        }
        let mut tcp_addrs = Vec::new();
        for &addr in tcp {
            let listener = TcpListener::bind(addr).await.map_err(|e| (addr, e))?;
            let local = listener.local_addr().map_err(|e| (addr, e))?;
            tcp_addrs.push(local);
            tasks.spawn(accept_loop(listener, None, shared.clone()));
        }
        Ok(Transports {
            udp: sockets,
            conns: HashMap::new(),
            by_peer: HashMap::new(),
            shared,
            tasks,
            udp_addrs,
            tcp_addrs,
            tls_addrs: Vec::new(),
        })
    }

    /// Binds TLS listeners that accept with `acceptor` (see [`crate::tls`]); their
    /// connections follow the TCP rules and share the TCP connection limit.
    ///
    /// # Errors
    /// The address that could not be bound, with the I/O error; listeners bound before
    /// it keep running until shutdown.
    pub async fn listen_tls(
        &mut self,
        addrs: &[SocketAddr],
        acceptor: &Acceptor,
    ) -> Result<(), (SocketAddr, std::io::Error)> {
        for &addr in addrs {
            let listener = TcpListener::bind(addr).await.map_err(|e| (addr, e))?;
            let local = listener.local_addr().map_err(|e| (addr, e))?;
            self.tls_addrs.push(local);
            self.tasks.spawn(accept_loop(
                listener,
                Some(acceptor.clone()),
                self.shared.clone(),
            ));
        }
        Ok(())
    }

    /// The bound UDP addresses (with the ports chosen for port 0).
    pub fn udp_addrs(&self) -> &[SocketAddr] {
        &self.udp_addrs
    }

    /// The bound TCP addresses (with the ports chosen for port 0).
    pub fn tcp_addrs(&self) -> &[SocketAddr] {
        &self.tcp_addrs
    }

    /// The bound TLS addresses (with the ports chosen for port 0).
    pub fn tls_addrs(&self) -> &[SocketAddr] {
        &self.tls_addrs
    }

    /// Number of open TCP and TLS connections known to the table.
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Updates the connection table from an event; returns the message, if the event
    /// carries one.
    pub fn handle_event(&mut self, event: TransportEvent) -> Option<Inbound> {
        match event {
            TransportEvent::Message(m) => Some(m),
            TransportEvent::Connected {
                id,
                transport,
                peer,
                writer,
                ..
            } => {
                self.conns.insert(
                    id,
                    ConnEntry {
                        peer,
                        transport,
                        writer,
                    },
                );
                self.by_peer.insert((transport, peer), id);
                None
            }
            TransportEvent::Closed { id } => {
                if let Some(e) = self.conns.remove(&id) {
                    let key = (e.transport, e.peer);
                    if self.by_peer.get(&key) == Some(&id) {
                        self.by_peer.remove(&key);
                    }
                }
                None
            }
        }
    }

    /// Sends a message: UDP from the socket it names (or one of the right address
    /// family); TCP and TLS over its connection, else the peer's existing connection on
    /// that transport (RFC 3261 section 18.2.2, RFC 5626 flows), else (TCP only) a new
    /// one.
    ///
    /// # Errors
    /// A [`SendError`]; the message is lost.
    pub async fn send(&mut self, out: Outbound) -> Result<(), SendError> {
        match out.transport {
            TransportKind::Udp => {
                let sock = out
                    .local
                    .and_then(|l| self.udp.iter().find(|s| s.local_addr().ok() == Some(l)))
                    .or_else(|| {
                        self.udp.iter().find(|s| {
                            s.local_addr()
                                .is_ok_and(|l| l.is_ipv4() == out.peer.is_ipv4())
                        })
                    })
                    .ok_or(SendError::NoSocket(out.peer))?;
                sock.send_to(&out.data, out.peer)
                    .await
                    .map(|_| ())
                    .map_err(|source| SendError::Udp {
                        peer: out.peer,
                        source,
                    })
            }
            kind @ (TransportKind::Tcp | TransportKind::Tls) => {
                let id = out
                    .conn
                    .filter(|c| self.conns.get(c).is_some_and(|e| e.transport == kind))
                    .or_else(|| self.by_peer.get(&(kind, out.peer)).copied());
                let id = match (id, kind) {
                    (Some(id), _) => id,
                    (None, TransportKind::Tls) => {
                        return Err(SendError::NoTlsConnection(out.peer));
                    }
                    (None, _) => self.connect(out.peer)?,
                };
                let entry = self.conns.get(&id).ok_or(SendError::Congested(out.peer))?;
                entry
                    .writer
                    .try_send(out.data)
                    .map_err(|_| SendError::Congested(out.peer))
            }
        }
    }

    /// Registers a new outgoing connection to `peer` and opens it in the background;
    /// messages queued meanwhile are written once it is up, or lost (and logged) if it
    /// cannot be opened.
    fn connect(&mut self, peer: SocketAddr) -> Result<ConnId, SendError> {
        let permit = self
            .shared
            .permits
            .clone()
            .try_acquire_owned()
            .map_err(|_| SendError::TooManyConnections(peer))?;
        let id = self.shared.conn_id();
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        self.conns.insert(
            id,
            ConnEntry {
                peer,
                transport: TransportKind::Tcp,
                writer: tx.clone(),
            },
        );
        self.by_peer.insert((TransportKind::Tcp, peer), id);
        let shared = self.shared.clone();
        tokio::spawn(async move {
            let stream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(peer)).await
            {
                Ok(Ok(s)) => s,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "TCP connect failed");
                    let _ = shared.events.send(TransportEvent::Closed { id }).await;
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "TCP connect timed out");
                    let _ = shared.events.send(TransportEvent::Closed { id }).await;
                    return;
                }
            };
            let Ok(local) = stream.local_addr() else {
                let _ = shared.events.send(TransportEvent::Closed { id }).await;
                return;
            };
            let (rd, wr) = stream.into_split();
            let conn = Conn {
                id,
                transport: TransportKind::Tcp,
                peer,
                local,
            };
            connection(rd, wr, conn, tx, rx, shared, permit).await;
        });
        Ok(id)
    }

    /// Waits until every socket task has stopped and every connection has closed
    /// (after shutdown was signalled), for at most a few seconds for the connections.
    pub async fn join(mut self) {
        // Release the write queues so that connection tasks can finish.
        self.conns.clear();
        self.by_peer.clear();
        while self.tasks.join_next().await.is_some() {}
        let all = self
            .shared
            .settings
            .max_tcp_connections
            .min(MAX_CONNECTIONS);
        let all = u32::try_from(all).unwrap_or(u32::MAX);
        let _ = tokio::time::timeout(
            Duration::from_secs(3),
            self.shared.permits.acquire_many(all),
        )
        .await;
    }
}

async fn udp_loop(sock: Arc<UdpSocket>, local: SocketAddr, shared: Shared) {
    let max = shared.settings.max_message_size;
    let mut buf = vec![0u8; max + 1];
    let mut shutdown = shared.shutdown.clone();
    loop {
        let (n, peer) = tokio::select! {
            r = sock.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    // ICMP errors of earlier sends show up here on some systems.
                    tracing::debug!(%local, error = %e, "UDP receive error");
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let data = &buf[..n];
        if data.iter().all(|&b| b == b'\r' || b == b'\n') {
            continue;
        }
        if n > max {
            tracing::debug!(%peer, "UDP datagram above the size limit dropped");
            continue;
        }
        let msg = Inbound {
            source: Source {
                transport: TransportKind::Udp,
                peer,
                local,
                conn: None,
            },
            received_at: Instant::now(),
            data: data.to_vec(),
        };
        if shared
            .events
            .send(TransportEvent::Message(msg))
            .await
            .is_err()
        {
            return;
        }
    }
}

/// Accepts TCP connections, or TLS connections when `tls` is given.
async fn accept_loop(listener: TcpListener, tls: Option<Acceptor>, shared: Shared) {
    let mut shutdown = shared.shutdown.clone();
    let kind = if tls.is_some() {
        TransportKind::Tls
    } else {
        TransportKind::Tcp
    };
    // A flood of connections (or of accept errors: out of descriptors) logs a few
    // lines a second, each with the number left out before it.
    let mut failed_log = LogRate::per_second();
    let mut refused_log = LogRate::per_second();
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    if let Some(suppressed) = failed_log.allow(std::time::Instant::now()) {
                        tracing::warn!(transport = %kind, error = %e, suppressed, "accept failed");
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => return,
        };
        let Ok(permit) = shared.permits.clone().try_acquire_owned() else {
            if let Some(suppressed) = refused_log.allow(std::time::Instant::now()) {
                tracing::warn!(%peer, transport = %kind, suppressed, "connection limit reached; connection refused");
            }
            drop(stream);
            continue;
        };
        let Ok(local) = stream.local_addr() else {
            continue;
        };
        let conn = Conn {
            id: shared.conn_id(),
            transport: kind,
            peer,
            local,
        };
        match &tls {
            None => {
                let (tx, rx) = mpsc::channel(WRITE_QUEUE);
                if !announce(&conn, &tx, &shared).await {
                    return;
                }
                let (rd, wr) = stream.into_split();
                tokio::spawn(connection(rd, wr, conn, tx, rx, shared.clone(), permit));
            }
            Some(acceptor) => {
                // The handshake runs in the connection's task so that a slow or silent
                // peer does not hold up the listener.
                tokio::spawn(tls_connection(
                    stream,
                    acceptor.clone(),
                    conn,
                    shared.clone(),
                    permit,
                ));
            }
        }
    }
}

/// Reports a new connection to the core's task; `false` when that task is gone.
async fn announce(conn: &Conn, writer: &mpsc::Sender<Vec<u8>>, shared: &Shared) -> bool {
    let connected = TransportEvent::Connected {
        id: conn.id,
        transport: conn.transport,
        peer: conn.peer,
        local: conn.local,
        writer: writer.clone(),
    };
    shared.events.send(connected).await.is_ok()
}

/// Completes the TLS handshake of an accepted connection within the idle timeout, then
/// serves it like a TCP connection.
async fn tls_connection(
    stream: TcpStream,
    acceptor: Acceptor,
    conn: Conn,
    shared: Shared,
    permit: tokio::sync::OwnedSemaphorePermit,
) {
    let mut shutdown = shared.shutdown.clone();
    let handshake = tokio::time::timeout(shared.settings.tcp_idle_timeout, acceptor.accept(stream));
    let stream = tokio::select! {
        r = handshake => match r {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                tracing::debug!(peer = %conn.peer, error = %e, "TLS handshake failed");
                return;
            }
            Err(_) => {
                tracing::debug!(peer = %conn.peer, "TLS handshake timed out");
                return;
            }
        },
        _ = shutdown.changed() => return,
    };
    let (tx, rx) = mpsc::channel(WRITE_QUEUE);
    if !announce(&conn, &tx, &shared).await {
        return;
    }
    let (rd, wr) = tokio::io::split(stream);
    connection(rd, wr, conn, tx, rx, shared, permit).await;
}

/// What identifies a connection.
#[derive(Debug, Clone, Copy)]
struct Conn {
    id: ConnId,
    transport: TransportKind,
    peer: SocketAddr,
    local: SocketAddr,
}

/// Why a connection was closed by the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    Eof,
    Idle,
    Framing(ParseError),
    Oversize,
    Shutdown,
    Core,
}

/// Serves one connection, whatever carries it: reads and frames with [`read_loop`],
/// writes what the core queues, and reports its end.
async fn connection<R, W>(
    mut rd: R,
    mut wr: W,
    conn: Conn,
    writer_tx: mpsc::Sender<Vec<u8>>,
    mut writer_rx: mpsc::Receiver<Vec<u8>>,
    shared: Shared,
    permit: tokio::sync::OwnedSemaphorePermit,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let write_task = tokio::spawn(async move {
        while let Some(data) = writer_rx.recv().await {
            if wr.write_all(&data).await.is_err() {
                break;
            }
        }
        // For TLS this also sends close_notify.
        let _ = wr.shutdown().await;
    });
    let reason = read_loop(&mut rd, conn, &writer_tx, &shared).await;
    tracing::debug!(peer = %conn.peer, transport = %conn.transport, ?reason, "connection closed");
    // Let queued writes (a 413, a pong) go out, then close.
    drop(writer_tx);
    let _ = shared
        .events
        .send(TransportEvent::Closed { id: conn.id })
        .await;
    let mut write_task = write_task;
    if tokio::time::timeout(Duration::from_secs(1), &mut write_task)
        .await
        .is_err()
    {
        // A peer that does not read: give up on what is queued.
        write_task.abort();
    }
    drop(permit);
}

async fn read_loop<R: AsyncRead + Unpin>(
    rd: &mut R,
    conn: Conn,
    writer: &mpsc::Sender<Vec<u8>>,
    shared: &Shared,
) -> Close {
    let settings = shared.settings;
    let limits = Limits {
        max_body: settings.max_message_size,
    };
    let mut shutdown = shared.shutdown.clone();
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    let mut chunk = vec![0u8; 16 * 1024];
    let mut headers = vec![HeaderIndex::EMPTY; MAX_HEADERS];
    let mut deadline = tokio::time::Instant::now() + settings.tcp_idle_timeout;
    loop {
        // Take every whole message and keep-alive out of the buffer.
        loop {
            match keep_alive(&buf) {
                Status::Partial => break,
                Status::Complete(Some((kind, n))) => {
                    if kind == sip_lite::wire::KeepAlive::Ping
                        && writer.try_send(b"\r\n".to_vec()).is_err()
                    {
                        return Close::Core;
                    }
                    buf.drain(..n);
                    continue;
                }
                Status::Complete(None) => {}
            }
            if buf.is_empty() {
                break;
            }
            match Message::parse_stream_with(&buf, &mut headers, limits) {
                Ok(Status::Partial) => {
                    if buf.len() > settings.max_message_size {
                        return Close::Oversize;
                    }
                    break;
                }
                Ok(Status::Complete((_, n))) => {
                    let data: Vec<u8> = buf.drain(..n).collect();
                    let msg = Inbound {
                        source: Source {
                            transport: conn.transport,
                            peer: conn.peer,
                            local: conn.local,
                            conn: Some(conn.id),
                        },
                        received_at: Instant::now(),
                        data,
                    };
                    if shared
                        .events
                        .send(TransportEvent::Message(msg))
                        .await
                        .is_err()
                    {
                        return Close::Shutdown;
                    }
                    // A new message may begin: its time starts now.
                    deadline = tokio::time::Instant::now() + settings.tcp_idle_timeout;
                }
                Err(e) => {
                    if e == ParseError::BodyTooLarge
                        && let Some(answer) = crate::core::framing_error_response(&buf, e)
                    {
                        let _ = writer.try_send(answer);
                    }
                    return Close::Framing(e);
                }
            }
        }
        let n = tokio::select! {
            r = rd.read(&mut chunk) => match r {
                Ok(0) | Err(_) => return Close::Eof,
                Ok(n) => n,
            },
            _ = tokio::time::sleep_until(deadline) => return Close::Idle,
            _ = shutdown.changed() => return Close::Shutdown,
        };
        if buf.is_empty() {
            // A silent connection that speaks again gets a fresh timeout; a message
            // already begun keeps its deadline, so a slow sender cannot hold it open.
            deadline = tokio::time::Instant::now() + settings.tcp_idle_timeout;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAIT: Duration = Duration::from_secs(5);

    async fn bound(
        tcp: &[SocketAddr],
    ) -> (
        Transports,
        mpsc::Receiver<TransportEvent>,
        watch::Sender<bool>,
    ) {
        let (tx, rx) = mpsc::channel(64);
        let (stop, stop_rx) = watch::channel(false);
        let settings = TransportSettings {
            max_message_size: 4096,
            max_tcp_connections: 8,
            tcp_idle_timeout: Duration::from_secs(5),
        };
        let udp = ["127.0.0.1:0".parse().unwrap()];
        let t = Transports::bind(&udp, tcp, settings, tx, stop_rx)
            .await
            .unwrap();
        (t, rx, stop)
    }

    async fn next(t: &mut Transports, rx: &mut mpsc::Receiver<TransportEvent>) -> Option<Inbound> {
        let ev = tokio::time::timeout(WAIT, rx.recv())
            .await
            .unwrap()
            .unwrap();
        t.handle_event(ev)
    }

    async fn read_n(s: &mut TcpStream, n: usize) -> Vec<u8> {
        let mut buf = vec![0u8; n];
        tokio::time::timeout(WAIT, s.read_exact(&mut buf))
            .await
            .unwrap()
            .unwrap();
        buf
    }

    fn tcp_out(peer: SocketAddr, data: &[u8]) -> Outbound {
        Outbound {
            transport: TransportKind::Tcp,
            peer,
            conn: None,
            local: None,
            data: data.to_vec(),
        }
    }

    #[tokio::test]
    async fn sends_reuse_the_connection_a_peer_opened() {
        let (mut t, mut rx, stop) = bound(&["127.0.0.1:0".parse().unwrap()]).await;
        let mut phone = TcpStream::connect(t.tcp_addrs()[0]).await.unwrap();
        let me = phone.local_addr().unwrap();
        assert_eq!(next(&mut t, &mut rx).await, None);
        assert_eq!(t.connection_count(), 1);
        // A request to the phone goes down the connection the phone opened (NAT).
        t.send(tcp_out(me, b"hello")).await.unwrap();
        assert_eq!(read_n(&mut phone, 5).await, b"hello");
        drop(phone);
        assert_eq!(next(&mut t, &mut rx).await, None);
        assert_eq!(t.connection_count(), 0);
        let _ = stop.send(true);
        t.join().await;
    }

    #[tokio::test]
    async fn sends_open_one_connection_and_keep_using_it() {
        let (mut t, mut rx, stop) = bound(&[]).await;
        let peer = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = peer.local_addr().unwrap();
        t.send(tcp_out(addr, b"one ")).await.unwrap();
        t.send(tcp_out(addr, b"two ")).await.unwrap();
        let (mut s, _) = tokio::time::timeout(WAIT, peer.accept())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(read_n(&mut s, 8).await, b"one two ");
        assert_eq!(t.connection_count(), 1);
        // What the peer sends back arrives with the connection's identity.
        s.write_all(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        let msg = next(&mut t, &mut rx).await.unwrap();
        assert_eq!(msg.source.transport, TransportKind::Tcp);
        assert_eq!(msg.source.peer, addr);
        assert!(msg.source.conn.is_some());
        t.send(Outbound {
            conn: msg.source.conn,
            ..tcp_out(addr, b"three")
        })
        .await
        .unwrap();
        assert_eq!(read_n(&mut s, 5).await, b"three");
        // No second connection was opened.
        assert!(
            tokio::time::timeout(Duration::from_millis(100), peer.accept())
                .await
                .is_err()
        );
        let _ = stop.send(true);
        t.join().await;
    }

    #[tokio::test]
    async fn failed_connect_is_forgotten() {
        let (mut t, mut rx, stop) = bound(&[]).await;
        // A port nobody listens on.
        let addr = {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            l.local_addr().unwrap()
        };
        t.send(tcp_out(addr, b"lost")).await.unwrap();
        assert_eq!(t.connection_count(), 1);
        assert_eq!(next(&mut t, &mut rx).await, None);
        assert_eq!(t.connection_count(), 0);
        let _ = stop.send(true);
        t.join().await;
    }

    fn tls_out(peer: SocketAddr, data: &[u8]) -> Outbound {
        Outbound {
            transport: TransportKind::Tls,
            ..tcp_out(peer, data)
        }
    }

    #[tokio::test]
    async fn tls_sends_use_the_phones_connection_only() {
        let (mut t, mut rx, stop) = bound(&[]).await;
        let cert = crate::tls::DevCertificate::generate("localhost").unwrap();
        t.listen_tls(&["127.0.0.1:0".parse().unwrap()], &cert.acceptor().unwrap())
            .await
            .unwrap();
        let addr = t.tls_addrs()[0];
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.certificate_der().clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        let tcp = TcpStream::connect(addr).await.unwrap();
        let me = tcp.local_addr().unwrap();
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let mut phone = tokio::time::timeout(
            WAIT,
            tokio_rustls::TlsConnector::from(Arc::new(client)).connect(name, tcp),
        )
        .await
        .unwrap()
        .unwrap();
        assert_eq!(next(&mut t, &mut rx).await, None);
        assert_eq!(t.connection_count(), 1);
        // A request to the phone goes down the connection the phone opened.
        t.send(tls_out(me, b"hello")).await.unwrap();
        let mut buf = [0u8; 5];
        tokio::time::timeout(WAIT, phone.read_exact(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&buf, b"hello");
        // What the phone sends arrives as TLS, with the connection's identity.
        phone
            .write_all(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        let msg = next(&mut t, &mut rx).await.unwrap();
        assert_eq!(msg.source.transport, TransportKind::Tls);
        assert_eq!(msg.source.peer, me);
        assert_eq!(msg.source.local, addr);
        assert!(msg.source.conn.is_some());
        // A TLS peer without a connection is not connected to.
        let e = t
            .send(tls_out("127.0.0.1:9".parse().unwrap(), b"x"))
            .await
            .unwrap_err();
        assert!(matches!(e, SendError::NoTlsConnection(_)), "{e}");
        drop(phone);
        assert_eq!(next(&mut t, &mut rx).await, None);
        assert_eq!(t.connection_count(), 0);
        let e = t.send(tls_out(me, b"late")).await.unwrap_err();
        assert!(matches!(e, SendError::NoTlsConnection(_)), "{e}");
        let _ = stop.send(true);
        t.join().await;
    }

    #[tokio::test]
    async fn udp_sends_from_the_bound_socket() {
        let (mut t, mut rx, stop) = bound(&[]).await;
        let local = t.udp_addrs()[0];
        let phone = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let me = phone.local_addr().unwrap();
        phone.send_to(b"\r\n\r\n", local).await.unwrap();
        phone.send_to(b"x", local).await.unwrap();
        let msg = next(&mut t, &mut rx).await.unwrap();
        assert_eq!(msg.data, b"x");
        assert_eq!(
            msg.source,
            Source {
                transport: TransportKind::Udp,
                peer: me,
                local,
                conn: None
            }
        );
        t.send(Outbound {
            transport: TransportKind::Udp,
            peer: me,
            conn: None,
            local: Some(local),
            data: b"y".to_vec(),
        })
        .await
        .unwrap();
        let mut buf = [0u8; 8];
        let (n, from) = tokio::time::timeout(WAIT, phone.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((&buf[..n], from), (&b"y"[..], local));
        // No IPv6 socket: an IPv6 peer cannot be reached.
        let e = t
            .send(Outbound {
                transport: TransportKind::Udp,
                peer: "[::1]:5060".parse().unwrap(),
                conn: None,
                local: None,
                data: b"z".to_vec(),
            })
            .await
            .unwrap_err();
        assert!(matches!(e, SendError::NoSocket(_)));
        let _ = stop.send(true);
        t.join().await;
    }
}
