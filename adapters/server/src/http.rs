//! HTTP `/metrics` and `/health`, and the [`Metrics`] every part of the server updates.
//!
//! A deliberately small HTTP/1.1 server: one `GET` per connection (the request is
//! parsed with `httparse`, at most [`MAX_REQUEST`] octets, within
//! [`REQUEST_TIMEOUT`]), answered with `Connection: close`.
//!
//! - `GET /metrics`: the Prometheus text exposition format 0.0.4
//!   (`text/plain; version=0.0.4`), every metric with its `# HELP` and `# TYPE` lines,
//!   names prefixed `csta_server_`.
//! - `GET /health`: `200 ok` while the core task runs, `503` before it started, during
//!   shutdown and after it stopped (or failed).
//! - Any other path: `404`; any other method: `405` with `Allow: GET`; a request that
//!   does not parse or is too large: `400` or `431`.
//!
//! # Staying reachable
//!
//! The listener is its own, apart from the CSTA client listeners and their limits.
//! At most [`MAX_CONNECTIONS`] connections are served at once, at most
//! [`MAX_CONNECTIONS_PER_SOURCE`] from one IP address, each for at most
//! [`REQUEST_TIMEOUT`]. A new connection is never turned away: when its source holds
//! its share, the source's oldest connection is closed to make room; when all are
//! taken, the oldest connection of the source holding the most is (see
//! [`crate::admission`]; counted in `http_connections_displaced_total`). So a host
//! that opens idle connections only displaces its own, and `/health` stays
//! reachable from every other one.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};

use crate::admission::{Admission, SourceFull};
use crate::transport::TransportKind;

/// The largest request accepted, head included.
pub const MAX_REQUEST: usize = 8192;
/// How long a connection may take to deliver its request and get its answer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// The most HTTP connections served at once; a new one displaces an old one.
pub const MAX_CONNECTIONS: usize = 64;
/// The most HTTP connections served at once from one IP address; a new one
/// displaces the source's oldest.
pub const MAX_CONNECTIONS_PER_SOURCE: usize = 8;
/// The prefix of every metric name.
pub const PREFIX: &str = "csta_server_";

/// A monotonic counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// Raises the counter to `total` (for counters kept elsewhere and mirrored here);
    /// never lowers it.
    pub fn raise_to(&self, total: u64) {
        self.0.fetch_max(total, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A value that goes up and down.
#[derive(Debug, Default)]
pub struct Gauge(AtomicI64);

impl Gauge {
    /// Adds one.
    pub fn inc(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    /// Subtracts one.
    pub fn dec(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }

    /// Sets the value.
    pub fn set(&self, value: i64) {
        self.0.store(value, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A counter per SIP transport.
#[derive(Debug, Default)]
pub struct PerTransport {
    /// UDP.
    pub udp: Counter,
    /// TCP.
    pub tcp: Counter,
    /// TLS.
    pub tls: Counter,
}

impl PerTransport {
    /// The counter of `kind`.
    pub fn of(&self, kind: TransportKind) -> &Counter {
        match kind {
            TransportKind::Udp => &self.udp,
            TransportKind::Tcp => &self.tcp,
            TransportKind::Tls => &self.tls,
        }
    }
}

/// A gauge per client encoding.
#[derive(Debug, Default)]
pub struct PerEncoding {
    /// CSTA XML over TCP.
    pub xml: Gauge,
    /// JSON over WebSocket.
    pub json: Gauge,
}

/// Where the core task stands, as `/health` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Not started yet.
    Starting,
    /// Running.
    Up,
    /// Shutting down.
    Stopping,
    /// Stopped, or failed.
    Down,
}

/// Why a gauge could not be set with [`Metrics::set_gauge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum GaugeError {
    /// The name is not `[a-z_][a-z0-9_]*`.
    #[error("invalid metric name")]
    InvalidName,
    /// The name is one of the built-in metrics.
    #[error("metric name taken by a built-in metric")]
    Taken,
    /// The registry is full ([`MAX_EXTRA_GAUGES`]).
    #[error("too many gauges")]
    Full,
}

/// The most gauges [`Metrics::set_gauge`] registers.
pub const MAX_EXTRA_GAUGES: usize = 256;

/// The server's counters and gauges, shared (in an [`Arc`]) by the core task, the
/// transports, the client connections and the HTTP server. Every update is one atomic
/// operation.
#[derive(Debug)]
pub struct Metrics {
    /// SIP messages received (parsed or not), by transport.
    pub sip_received: PerTransport,
    /// SIP messages sent, by transport.
    pub sip_sent: PerTransport,
    /// SIP messages that did not parse or validate.
    pub sip_malformed: Counter,
    /// Current registrations (bindings).
    pub registrations: Gauge,
    /// Open CSTA client connections, by encoding.
    pub client_connections: PerEncoding,
    /// Client connections accepted (over the whole run).
    pub client_connections_accepted: Counter,
    /// Client connections refused because `limits.max_clients` were open, all of
    /// them with an application session.
    pub client_connections_refused: Counter,
    /// Client connections refused because `limits.max_clients_per_source` were open
    /// from their address.
    pub client_connections_refused_per_source: Counter,
    /// Client connections without an application session closed to make room for a
    /// new one when `limits.max_clients` were open.
    pub client_connections_displaced: Counter,
    /// HTTP connections closed before their request was answered to make room for a
    /// new one (see [`HttpServer`]).
    pub http_connections_displaced: Counter,
    /// CSTA messages received from clients and passed to the core.
    pub client_frames_received: Counter,
    /// CSTA messages written to clients.
    pub client_frames_sent: Counter,
    /// Client messages refused: broken or oversize frames, JSON that does not decode,
    /// binary WebSocket messages.
    pub client_frames_rejected: Counter,
    /// Clients disconnected because their output queue was full.
    pub clients_dropped_slow: Counter,
    health: AtomicU8,
    extra: Mutex<BTreeMap<String, (String, i64)>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            sip_received: PerTransport::default(),
            sip_sent: PerTransport::default(),
            sip_malformed: Counter::default(),
            registrations: Gauge::default(),
            client_connections: PerEncoding::default(),
            client_connections_accepted: Counter::default(),
            client_connections_refused: Counter::default(),
            client_connections_refused_per_source: Counter::default(),
            client_connections_displaced: Counter::default(),
            http_connections_displaced: Counter::default(),
            client_frames_received: Counter::default(),
            client_frames_sent: Counter::default(),
            client_frames_rejected: Counter::default(),
            clients_dropped_slow: Counter::default(),
            health: AtomicU8::new(Health::Starting as u8),
            extra: Mutex::new(BTreeMap::new()),
        }
    }
}

/// The built-in metric names, without the prefix.
const BUILT_IN: [&str; 14] = [
    "sip_messages_received_total",
    "sip_messages_sent_total",
    "sip_messages_malformed_total",
    "registrations",
    "client_connections",
    "client_connections_accepted_total",
    "client_connections_refused_total",
    "client_frames_received_total",
    "client_frames_sent_total",
    "client_frames_rejected_total",
    "clients_dropped_slow_total",
    "client_connections_refused_per_source_total",
    "client_connections_displaced_total",
    "http_connections_displaced_total",
];

/// Marks the core task alive while it exists: [`Health::Up`] when made, [`Health::Down`]
/// when dropped, even by a panic.
#[derive(Debug)]
pub struct AliveGuard(Arc<Metrics>);

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.set_health(Health::Down);
    }
}

impl Metrics {
    /// New metrics, all zero, health [`Health::Starting`].
    pub fn new() -> Arc<Metrics> {
        Arc::new(Metrics::default())
    }

    /// Where the core task stands.
    pub fn health(&self) -> Health {
        match self.health.load(Ordering::Relaxed) {
            0 => Health::Starting,
            1 => Health::Up,
            2 => Health::Stopping,
            _ => Health::Down,
        }
    }

    /// Records where the core task stands.
    pub fn set_health(&self, health: Health) {
        self.health.store(health as u8, Ordering::Relaxed);
    }

    /// Marks the core task [`Health::Up`] until the guard is dropped.
    pub fn alive(self: &Arc<Self>) -> AliveGuard {
        self.set_health(Health::Up);
        AliveGuard(self.clone())
    }

    /// Sets a gauge of another part (hub, sessions, proxy), created at its first use
    /// with `help` as its description; exposed as `csta_server_<name>`.
    ///
    /// # Errors
    /// [`GaugeError`]; nothing changed.
    pub fn set_gauge(&self, name: &str, help: &str, value: i64) -> Result<(), GaugeError> {
        let mut chars = name.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid {
            return Err(GaugeError::InvalidName);
        }
        if BUILT_IN.contains(&name) {
            return Err(GaugeError::Taken);
        }
        let mut extra = self
            .extra
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(entry) = extra.get_mut(name) {
            entry.1 = value;
            return Ok(());
        }
        if extra.len() >= MAX_EXTRA_GAUGES {
            return Err(GaugeError::Full);
        }
        let help = help.replace('\\', "\\\\").replace('\n', "\\n");
        extra.insert(name.to_owned(), (help, value));
        Ok(())
    }

    /// The value of a gauge set with [`Metrics::set_gauge`].
    pub fn gauge(&self, name: &str) -> Option<i64> {
        self.extra
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(name)
            .map(|e| e.1)
    }

    /// Every metric in the Prometheus text exposition format 0.0.4.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let mut family = |name: &str, kind: &str, help: &str, samples: &[(&str, i128)]| {
            let _ = writeln!(out, "# HELP {PREFIX}{name} {help}");
            let _ = writeln!(out, "# TYPE {PREFIX}{name} {kind}");
            for (labels, value) in samples {
                let _ = writeln!(out, "{PREFIX}{name}{labels} {value}");
            }
        };
        let c = |c: &Counter| i128::from(c.get());
        let g = |g: &Gauge| i128::from(g.get());
        family(
            BUILT_IN[0],
            "counter",
            "SIP messages received, by transport.",
            &[
                ("{transport=\"udp\"}", c(&self.sip_received.udp)),
                ("{transport=\"tcp\"}", c(&self.sip_received.tcp)),
                ("{transport=\"tls\"}", c(&self.sip_received.tls)),
            ],
        );
        family(
            BUILT_IN[1],
            "counter",
            "SIP messages sent, by transport.",
            &[
                ("{transport=\"udp\"}", c(&self.sip_sent.udp)),
                ("{transport=\"tcp\"}", c(&self.sip_sent.tcp)),
                ("{transport=\"tls\"}", c(&self.sip_sent.tls)),
            ],
        );
        family(
            BUILT_IN[2],
            "counter",
            "SIP messages that did not parse or validate.",
            &[("", c(&self.sip_malformed))],
        );
        family(
            BUILT_IN[3],
            "gauge",
            "Current registrations (bindings).",
            &[("", g(&self.registrations))],
        );
        family(
            BUILT_IN[4],
            "gauge",
            "Open CSTA client connections, by encoding.",
            &[
                ("{encoding=\"xml\"}", g(&self.client_connections.xml)),
                ("{encoding=\"json\"}", g(&self.client_connections.json)),
            ],
        );
        family(
            BUILT_IN[5],
            "counter",
            "CSTA client connections accepted.",
            &[("", c(&self.client_connections_accepted))],
        );
        family(
            BUILT_IN[6],
            "counter",
            "CSTA client connections refused at the connection limit (all clients in a session).",
            &[("", c(&self.client_connections_refused))],
        );
        family(
            BUILT_IN[7],
            "counter",
            "CSTA messages received from clients.",
            &[("", c(&self.client_frames_received))],
        );
        family(
            BUILT_IN[8],
            "counter",
            "CSTA messages sent to clients.",
            &[("", c(&self.client_frames_sent))],
        );
        family(
            BUILT_IN[9],
            "counter",
            "CSTA client messages refused (broken frames, bad JSON, binary messages).",
            &[("", c(&self.client_frames_rejected))],
        );
        family(
            BUILT_IN[10],
            "counter",
            "CSTA clients disconnected because they did not read their messages.",
            &[("", c(&self.clients_dropped_slow))],
        );
        family(
            BUILT_IN[11],
            "counter",
            "CSTA client connections refused at the per-source connection limit.",
            &[("", c(&self.client_connections_refused_per_source))],
        );
        family(
            BUILT_IN[12],
            "counter",
            "CSTA client connections without an application session closed to make room.",
            &[("", c(&self.client_connections_displaced))],
        );
        family(
            BUILT_IN[13],
            "counter",
            "HTTP connections closed before their request to make room.",
            &[("", c(&self.http_connections_displaced))],
        );
        let extra = self
            .extra
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (name, (help, value)) in extra.iter() {
            family(name, "gauge", help, &[("", i128::from(*value))]);
        }
        out
    }
}

/// The running HTTP server.
#[derive(Debug)]
pub struct HttpServer {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl HttpServer {
    /// Binds `addr` and serves `/metrics` and `/health` from `metrics` until
    /// [`HttpServer::stop`].
    ///
    /// # Errors
    /// The I/O error of binding.
    pub async fn bind(addr: SocketAddr, metrics: Arc<Metrics>) -> std::io::Result<HttpServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, metrics, stopped));
        Ok(HttpServer { addr, stop, task })
    }

    /// The bound address (with the port chosen for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and waits for the listener to close; requests in progress end
    /// within [`REQUEST_TIMEOUT`] on their own.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn accept_loop(
    listener: TcpListener,
    metrics: Arc<Metrics>,
    mut stop: watch::Receiver<bool>,
) {
    let table = Arc::new(Mutex::new(Admission::new(
        MAX_CONNECTIONS,
        MAX_CONNECTIONS_PER_SOURCE,
        SourceFull::DisplaceOldest,
    )));
    let mut next: u64 = 0;
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!(error = %e, "HTTP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => return,
        };
        next += 1;
        let id = next;
        let (tx, displaced) = oneshot::channel::<()>();
        let admitted = table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .admit(id, peer.ip().to_canonical(), tx);
        match admitted {
            Ok(None) => {}
            Ok(Some(old)) => {
                metrics.http_connections_displaced.inc();
                tracing::debug!(%peer, from = %old.source, "HTTP connection limit reached; oldest connection closed");
                let _ = old.value.send(());
            }
            Err(_) => {
                // Only when no entry can make room, which the policy rules out.
                tracing::debug!(%peer, "HTTP connection limit reached; connection closed");
                continue;
            }
        }
        let metrics = metrics.clone();
        let table = table.clone();
        tokio::spawn(async move {
            tokio::select! {
                r = tokio::time::timeout(REQUEST_TIMEOUT, serve(stream, &metrics)) => {
                    if r.is_err() {
                        tracing::debug!(%peer, "HTTP request timed out");
                    }
                }
                Ok(()) = displaced => {}
            }
            table
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .release(id);
        });
    }
}

/// An HTTP answer: status line, extra headers, content type and body.
struct Reply {
    status: &'static str,
    headers: &'static str,
    content_type: &'static str,
    body: String,
}

fn text(status: &'static str, body: &str) -> Reply {
    Reply {
        status,
        headers: "",
        content_type: "text/plain; charset=utf-8",
        body: format!("{body}\n"),
    }
}

/// The answer to one request.
fn answer(method: &str, path: &str, metrics: &Metrics) -> Reply {
    let path = path.split_once('?').map_or(path, |(p, _)| p);
    if path != "/metrics" && path != "/health" {
        return text("404 Not Found", "not found");
    }
    if method != "GET" {
        return Reply {
            headers: "Allow: GET\r\n",
            ..text("405 Method Not Allowed", "method not allowed")
        };
    }
    if path == "/metrics" {
        return Reply {
            status: "200 OK",
            headers: "",
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body: metrics.render(),
        };
    }
    match metrics.health() {
        Health::Up => text("200 OK", "ok"),
        Health::Starting => text("503 Service Unavailable", "starting"),
        Health::Stopping => text("503 Service Unavailable", "shutting down"),
        Health::Down => text("503 Service Unavailable", "down"),
    }
}

/// Reads one request, answers it and closes.
async fn serve(mut stream: TcpStream, metrics: &Metrics) {
    let mut buf = vec![0u8; MAX_REQUEST];
    let mut len = 0;
    let reply = loop {
        if len == buf.len() {
            break text("431 Request Header Fields Too Large", "request too large");
        }
        let n = match stream.read(&mut buf[len..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        len += n;
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        match req.parse(&buf[..len]) {
            Ok(httparse::Status::Complete(_)) => {
                break answer(
                    req.method.unwrap_or_default(),
                    req.path.unwrap_or_default(),
                    metrics,
                );
            }
            Ok(httparse::Status::Partial) => {}
            Err(httparse::Error::TooManyHeaders) => {
                break text("431 Request Header Fields Too Large", "too many headers");
            }
            Err(_) => break text("400 Bad Request", "bad request"),
        }
    };
    let head = format!(
        "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n{}Connection: close\r\n\r\n",
        reply.status,
        reply.content_type,
        reply.body.len(),
        reply.headers
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(reply.body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_has_help_and_type_for_every_family() {
        let m = Metrics::new();
        m.sip_received.udp.add(3);
        m.client_connections.json.inc();
        m.set_gauge("hub_sessions", "Open application sessions.", 2)
            .unwrap();
        let text = m.render();
        assert!(text.contains("csta_server_sip_messages_received_total{transport=\"udp\"} 3\n"));
        assert!(text.contains("csta_server_client_connections{encoding=\"json\"} 1\n"));
        assert!(text.contains(
            "# HELP csta_server_hub_sessions Open application sessions.\n\
             # TYPE csta_server_hub_sessions gauge\ncsta_server_hub_sessions 2\n"
        ));
        let types = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
        let helps = text.lines().filter(|l| l.starts_with("# HELP ")).count();
        assert_eq!((types, helps), (BUILT_IN.len() + 1, BUILT_IN.len() + 1));
    }

    #[test]
    fn gauges_are_checked() {
        let m = Metrics::new();
        assert_eq!(m.set_gauge("Bad", "", 1), Err(GaugeError::InvalidName));
        assert_eq!(m.set_gauge("", "", 1), Err(GaugeError::InvalidName));
        assert_eq!(m.set_gauge("a-b", "", 1), Err(GaugeError::InvalidName));
        assert_eq!(m.set_gauge("registrations", "", 1), Err(GaugeError::Taken));
        m.set_gauge("proxy_transactions", "x", 5).unwrap();
        m.set_gauge("proxy_transactions", "ignored", -1).unwrap();
        assert_eq!(m.gauge("proxy_transactions"), Some(-1));
        assert_eq!(m.gauge("missing"), None);
        for i in 1..MAX_EXTRA_GAUGES {
            m.set_gauge(&format!("g{i}"), "", 0).unwrap();
        }
        assert_eq!(m.set_gauge("one_more", "", 0), Err(GaugeError::Full));
    }

    #[test]
    fn health_follows_the_guard() {
        let m = Metrics::new();
        assert_eq!(m.health(), Health::Starting);
        let guard = m.alive();
        assert_eq!(m.health(), Health::Up);
        drop(guard);
        assert_eq!(m.health(), Health::Down);
    }

    #[test]
    fn answers_by_method_and_path() {
        let m = Metrics::new();
        assert_eq!(answer("GET", "/nope", &m).status, "404 Not Found");
        assert_eq!(
            answer("POST", "/metrics", &m).status,
            "405 Method Not Allowed"
        );
        assert_eq!(
            answer("GET", "/health", &m).status,
            "503 Service Unavailable"
        );
        let _alive = m.alive();
        let r = answer("GET", "/health?x=1", &m);
        assert_eq!((r.status, r.body.as_str()), ("200 OK", "ok\n"));
    }
}
