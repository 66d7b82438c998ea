//! The synchronous protocol core the transports drive.
//!
//! It owns no socket and reads no clock: [`Core::handle_input`] takes one received
//! message with its [`Source`] and the time it arrived, and [`Core::poll_transmit`]
//! yields what to send. After every input, poll until it returns `None`.
//!
//! Rules kept by the final core:
//! - input that does not parse is answered as [`ParseError::reaction`] says (400, 413,
//!   505 built from [`Message::salvage`]) or dropped;
//! - requests are checked with [`Message::validate`]; a failure is answered with the
//!   status [`ValidationError::reaction`] gives (420 with `Unsupported`);
//! - responses go to the [`Proxy`] when there is one (a response to what it forwarded);
//!   others are dropped;
//! - OPTIONS is answered 200 with Allow, Accept and Supported;
//! - REGISTER goes to the [`Registrar`]; what it changes is queued for the store
//!   ([`Core::poll_store`]), one record per address-of-record;
//! - a message whose Call-ID belongs to a uaCSTA session, or an out-of-dialog CSTA
//!   event of a NOTIFY-mode phone, goes to the session manager ([`Sessions`]) first;
//!   every REGISTER that changes a controlled line's bindings, every expiry and the
//!   restore at start tell it the line's bindings; its news
//!   ([`crate::interface::DeviceNews`]) goes to the hub after every input;
//! - client inputs go to the [`Hub`], which reaches the phones through the session
//!   manager ([`crate::interface::Devices`]);
//! - any other request (ACK included) goes to the [`Proxy`] set with
//!   [`Core::set_proxy`], validated as a proxy does (Proxy-Require rather than
//!   Require); without a proxy ACK is absorbed and the others are answered 501.
//!
//! Registration times are wall-clock seconds: the core derives them from the
//! monotonic `now` of each input and the pair of clock readings it was created with.
//!
//! Responses are routed per RFC 3261 section 18.2.2: over the connection the request
//! came on for TCP and TLS; for UDP to the source address and port when the top Via carries
//! `rport` (RFC 3581), else to the source address and the Via's port. The top Via of a
//! response gets `received` when its host differs from the source address or `rport`
//! was asked for, and `rport` filled with the source port when it was asked for.

use std::collections::VecDeque;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use sip_lite::wire::{
    EmitError, HeaderIndex, HeaderName, Host, Limits, Message, Method, ParseError, Policy,
    Reaction, Sink, StatusCode, ValidationError, Via, Writer,
};

use std::collections::BTreeMap;

use crate::hub::{Hub, HubConfig};
use crate::interface::{ClientInput, ClientOutput};
use crate::proxy::{Proxy, ProxyStats};
use crate::registrar::{Binding, Registrar, Transport};
use crate::sessions::Sessions;
use crate::transport::{Outbound, Source, TransportKind};

/// The registrar's user table: user name to password.
pub type Passwords = BTreeMap<String, String>;

/// A change for the store: the bindings of one address-of-record, all of them.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreOp {
    /// Keep these bindings (none expire after `expires`, unix seconds).
    Put {
        /// The address-of-record.
        aor: String,
        /// Every current binding.
        bindings: Vec<Binding>,
        /// The latest expiry among them.
        expires: u64,
    },
    /// The address-of-record has no binding left.
    Remove {
        /// The address-of-record.
        aor: String,
    },
}

/// Methods listed in `Allow`.
pub const ALLOW: &str = "OPTIONS, ACK, REGISTER";
/// Body types listed in `Accept`.
pub const ACCEPT: &str = "application/sdp, application/csta+xml";
/// The `Server` header value.
pub const SERVER: &str = concat!("csta-server/", env!("CARGO_PKG_VERSION"));
/// The most header lines in one message.
const MAX_HEADERS: usize = 96;

/// Counters of what the core has done.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CoreStats {
    /// Requests received that parsed.
    pub requests: u64,
    /// Responses received (for the proxy or a uaCSTA session, or dropped).
    pub responses: u64,
    /// Inputs that did not parse or validate.
    pub malformed: u64,
    /// Responses queued for sending.
    pub answered: u64,
}

/// The SIP users' passwords of a configuration, as the registrar takes them.
pub fn passwords(config: &crate::Config) -> Passwords {
    config
        .users
        .iter()
        .map(|u| (u.name.clone(), u.password.clone()))
        .collect()
}

/// The protocol core.
#[derive(Debug)]
pub struct Core {
    out: VecDeque<Outbound>,
    registrar: Registrar<Passwords>,
    store: VecDeque<StoreOp>,
    /// A monotonic reading and the wall clock (unix seconds) at the same moment.
    epoch: (Instant, u64),
    limits: Limits,
    stats: CoreStats,
    tags: u64,
    started: Option<Instant>,
    hub: Hub,
    /// Every piece of device news relayed, written out (for the tests).
    #[cfg(test)]
    pub(crate) news_log: Vec<String>,
    sessions: Sessions,
    proxy: Option<Proxy>,
}

/// A [`Sink`] into a growing vector.
struct VecSink(Vec<u8>);

impl Sink for VecSink {
    fn put(&mut self, bytes: &[u8]) -> Result<(), EmitError> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
}

impl Core {
    /// A core accepting messages up to `max_message_size` octets, registering users
    /// through `registrar`; `epoch` pairs a monotonic reading with the unix time
    /// (seconds) at that moment.
    pub fn new(
        max_message_size: usize,
        registrar: Registrar<Passwords>,
        epoch: (Instant, u64),
    ) -> Core {
        Core {
            out: VecDeque::new(),
            registrar,
            store: VecDeque::new(),
            epoch,
            limits: Limits {
                max_body: max_message_size,
            },
            stats: CoreStats::default(),
            tags: 0,
            started: None,
            proxy: None,
            hub: Hub::new(HubConfig::new(Vec::new())),
            #[cfg(test)]
            news_log: Vec::new(),
            sessions: Sessions::empty(epoch.0),
        }
    }

    /// Puts `sessions` in charge of the uaCSTA sessions (replacing the empty manager
    /// [`Core::new`] starts with) and hands it the bindings already known.
    pub fn set_sessions(&mut self, sessions: Sessions) {
        self.sessions = sessions;
        self.sessions_restored();
    }

    /// The session manager: the hub reaches the phones through it
    /// ([`crate::interface::Devices`]).
    pub fn devices(&mut self) -> &mut Sessions {
        &mut self.sessions
    }

    /// Starts closing every uaCSTA session (MonitorStop, BYE); keep driving the core
    /// until [`Core::sessions_idle`], for a bounded time.
    pub fn shutdown_sessions(&mut self, now: Instant) {
        self.sessions.shutdown(now);
    }

    /// Whether no uaCSTA session is left.
    pub fn sessions_idle(&self) -> bool {
        self.sessions.is_idle()
    }

    /// Tells the session manager the bindings of every controlled line, as restored.
    fn sessions_restored(&mut self) {
        let now = self.epoch.0;
        let unix = self.unix(now);
        let keys: Vec<String> = self.sessions.keys().map(str::to_owned).collect();
        for aor in keys {
            self.sessions
                .bindings_changed(now, &aor, self.registrar.lookup(unix, &aor), None);
        }
    }

    /// Counters.
    pub fn stats(&self) -> CoreStats {
        self.stats
    }

    /// Routes requests other than REGISTER and OPTIONS for the server, and their
    /// responses, through `proxy` (without one they are answered 501).
    pub fn set_proxy(&mut self, proxy: Proxy) {
        self.proxy = Some(proxy);
    }

    /// The proxy's counters, when there is a proxy.
    pub fn proxy_stats(&self) -> Option<ProxyStats> {
        self.proxy.as_ref().map(Proxy::stats)
    }

    /// The proxy (its settings, transactions alive), when there is one.
    pub fn proxy(&self) -> Option<&Proxy> {
        self.proxy.as_ref()
    }

    /// The next message to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Outbound> {
        self.out
            .pop_front()
            .or_else(|| self.sessions.poll_transmit())
    }

    /// Takes an input from a client connection: the hub answers it, reaching the
    /// phones through the session manager. Poll [`Core::poll_client_output`]
    /// afterwards (and after every other input: answers and events can follow any of
    /// them) and [`Core::poll_transmit`] (requests for the phones).
    pub fn handle_client_input(&mut self, now: Instant, input: ClientInput) {
        self.hub.handle_input(now, input, &mut self.sessions);
        self.relay_news(now);
    }

    /// Hands the session manager's news (devices online and offline, events, answers)
    /// to the hub, in order.
    /// Then lets the hub send what the news made it decide (a pickup's `AnswerCall`),
    /// and relays what that brought, a few rounds at most.
    fn relay_news(&mut self, now: Instant) {
        for _ in 0..8 {
            let hub = &mut self.hub;
            #[cfg(test)]
            let log = &mut self.news_log;
            self.sessions.poll_news(|news| {
                #[cfg(test)]
                log.push(written(&news));
                hub.device_news(now, news);
            });
            if !self.hub.wants_devices() {
                break;
            }
            self.hub.drive_devices(now, &mut self.sessions);
        }
    }

    /// Applies a reloaded configuration: the SIP users' passwords, the controlled
    /// lines (sessions of new lines open once their phones are registered, removed
    /// lines are closed) and the hub's client users and pick-up groups (clients of
    /// removed users are closed; registered clients whose devices changed are told).
    /// Every other setting needs a restart. Poll the outputs afterwards.
    ///
    /// # Errors
    /// [`crate::sessions::SessionsError`] for lines the session manager refuses; then
    /// nothing changed.
    pub fn reconfigure(
        &mut self,
        now: Instant,
        config: &crate::Config,
    ) -> Result<crate::sessions::LinesChange, crate::sessions::SessionsError> {
        let change = self.sessions.reconfigure(now, &config.csta_lines)?;
        *self.registrar.users_mut() = passwords(config);
        self.relay_news(now);
        let mut hub = self.hub.config().clone();
        hub.users.clone_from(&config.client_users);
        hub.pickup_groups = crate::hub::pickup_groups(config);
        self.hub.reconfigure(hub, &self.sessions);
        let unix = self.unix(now);
        for aor in &change.added {
            let key = match sip_lite::wire::Uri::parse(aor) {
                Ok(sip_lite::wire::Uri::Sip(u)) => crate::registrar::aor_key(&u),
                _ => None,
            };
            if let Some(key) = key {
                self.sessions
                    .bindings_changed(now, &key, self.registrar.lookup(unix, &key), None);
            }
        }
        self.relay_news(now);
        Ok(change)
    }

    /// Puts `hub` in charge of the CSTA clients (replacing the hub without users
    /// [`Core::new`] starts with).
    pub fn set_hub(&mut self, hub: Hub) {
        self.hub = hub;
    }

    /// The hub (its counters).
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Tells every CSTA client that the server stops (ECMA-354 StopApplicationSession)
    /// and closes its connection; poll [`Core::poll_client_output`] afterwards.
    pub fn shutdown_clients(&mut self) {
        self.hub.shutdown();
    }

    /// The next message or close for a client connection.
    #[must_use]
    pub fn poll_client_output(&mut self) -> Option<ClientOutput> {
        self.hub.poll_output()
    }

    /// The next change for the store.
    #[must_use]
    pub fn poll_store(&mut self) -> Option<StoreOp> {
        self.store.pop_front()
    }

    /// The registrar (bindings, lookups).
    pub fn registrar(&self) -> &Registrar<Passwords> {
        &self.registrar
    }

    /// Takes back bindings kept in the store; expired ones are dropped at the next
    /// [`Core::handle_timeout`].
    pub fn restore(&mut self, bindings: impl IntoIterator<Item = Binding>) {
        self.registrar.restore(bindings);
        self.sessions_restored();
    }

    /// The wall-clock time (unix seconds) at `now`.
    fn unix(&self, now: Instant) -> u64 {
        self.epoch.1 + now.saturating_duration_since(self.epoch.0).as_secs()
    }

    /// When [`Core::handle_timeout`] is next due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let expiry = self.registrar.next_expiry().map(|at| {
            let after = at.saturating_sub(self.epoch.1);
            self.epoch.0 + std::time::Duration::from_secs(after)
        });
        [
            expiry,
            self.sessions.poll_timeout(),
            self.hub.poll_timeout(),
            self.proxy.as_ref().and_then(Proxy::poll_timeout),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Removes the bindings that expired by `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(p) = self.proxy.as_mut() {
            p.handle_timeout(now, &mut self.out);
        }
        let unix = self.unix(now);
        let removed = self.registrar.expire(unix);
        let mut aors: Vec<&str> = removed.iter().map(|b| b.aor.as_str()).collect();
        aors.sort_unstable();
        aors.dedup();
        for aor in aors {
            self.persist(unix, aor);
            self.sessions
                .bindings_changed(now, aor, self.registrar.lookup(unix, aor), None);
        }
        self.sessions.handle_timeout(now);
        if self.hub.poll_timeout().is_some_and(|at| at <= now) {
            self.hub.handle_timeout(now);
        }
        self.relay_news(now);
    }

    /// Queues the current bindings of `aor` for the store.
    fn persist(&mut self, unix: u64, aor: &str) {
        let bindings: Vec<Binding> = self.registrar.lookup(unix, aor).cloned().collect();
        let op = match bindings.iter().map(|b| b.expires_at).max() {
            Some(expires) => StoreOp::Put {
                aor: aor.to_owned(),
                bindings,
                expires,
            },
            None => StoreOp::Remove {
                aor: aor.to_owned(),
            },
        };
        self.store.push_back(op);
    }

    fn register(&mut self, now: Instant, msg: &Message<'_>, source: &Source) {
        let unix = self.unix(now);
        let transport = match source.transport {
            TransportKind::Udp => Transport::Udp,
            TransportKind::Tcp => Transport::Tcp,
            TransportKind::Tls => Transport::Tls,
        };
        let mut data = Vec::with_capacity(512);
        let outcome = self
            .registrar
            .handle(unix, msg, (source.peer, transport), &mut data);
        if outcome.status.is_none() {
            return;
        }
        if let Some(aor) = outcome.aor.as_deref() {
            self.persist(unix, aor);
            self.sessions.bindings_changed(
                now,
                aor,
                self.registrar.lookup(unix, aor),
                Some(source),
            );
        }
        match route_response(msg, source, data) {
            Some(out) => {
                self.stats.answered += 1;
                self.out.push_back(out);
            }
            None => tracing::debug!(peer = %source.peer, "cannot answer REGISTER; dropped"),
        }
    }

    /// Takes one received message (a datagram or a message framed from a stream).
    pub fn handle_input(&mut self, now: Instant, source: Source, data: &[u8]) {
        self.take_input(now, source, data);
        self.relay_news(now);
    }

    fn take_input(&mut self, now: Instant, source: Source, data: &[u8]) {
        self.started.get_or_insert(now);
        let mut headers = [HeaderIndex::EMPTY; MAX_HEADERS];
        let parsed = match source.transport {
            TransportKind::Udp => Message::parse_with(data, &mut headers, self.limits),
            TransportKind::Tcp | TransportKind::Tls => {
                match Message::parse_stream_with(data, &mut headers, self.limits) {
                    Ok(sip_lite::wire::Status::Complete((m, _))) => Ok(m),
                    Ok(sip_lite::wire::Status::Partial) => Err(ParseError::HeadTruncated),
                    Err(e) => Err(e),
                }
            }
        };
        let msg = match parsed {
            Ok(m) => m,
            Err(e) => {
                self.stats.malformed += 1;
                tracing::debug!(peer = %source.peer, error = %e, "unparsable message");
                if let Reaction::Respond(status) = e.reaction(data) {
                    let mut headers = [HeaderIndex::EMPTY; MAX_HEADERS];
                    if let Some(m) = Message::salvage(data, &mut headers) {
                        self.respond(now, &m, &source, status, &[]);
                    }
                }
                return;
            }
        };
        if !msg.is_request() {
            self.stats.responses += 1;
            if self.sessions.handle_message(now, &msg, &source) {
                return;
            }
            if let Some(p) = self.proxy.as_mut()
                && p.handle_response(now, &msg, &mut self.out)
            {
                return;
            }
            tracing::debug!(peer = %source.peer, "unexpected response dropped");
            return;
        }
        self.stats.requests += 1;
        // Requests in a uaCSTA session are the server's own, as a user agent.
        let for_sessions = msg.method() != Some(Method::Register) && self.sessions.claims(&msg);
        // Requests for the proxy: Proxy-Require is checked instead of Require.
        let proxied = !for_sessions
            && self.proxy.as_ref().is_some_and(|p| {
                msg.method() != Some(Method::Register)
                    && !(msg.method() == Some(Method::Options) && p.is_for_server(&msg))
            });
        let policy = Policy {
            methods: &[],
            proxy: proxied,
            ..Policy::DEFAULT
        };
        if let Err(e) = msg.validate(&policy) {
            self.stats.malformed += 1;
            tracing::debug!(peer = %source.peer, error = %e, "invalid request");
            if msg.method() == Some(Method::Ack) {
                return;
            }
            if let Reaction::Respond(status) = e.reaction(true) {
                let required = if proxied {
                    HeaderName::ProxyRequire
                } else {
                    HeaderName::Require
                };
                let unsupported = msg
                    .header(required)
                    .filter(|_| e == ValidationError::BadExtension)
                    .map(|r| [("Unsupported", r)]);
                self.respond(
                    now,
                    &msg,
                    &source,
                    status,
                    unsupported.as_ref().map_or(&[], |u| u),
                );
            }
            return;
        }
        if for_sessions {
            self.sessions.handle_message(now, &msg, &source);
            return;
        }
        if proxied && let Some(p) = self.proxy.as_mut() {
            let unix = self.epoch.1 + now.saturating_duration_since(self.epoch.0).as_secs();
            p.handle_request(now, unix, &self.registrar, &msg, &source, &mut self.out);
            return;
        }
        match msg.method() {
            Some(Method::Ack) => {}
            Some(Method::Register) => self.register(now, &msg, &source),
            Some(Method::Options) => self.respond(
                now,
                &msg,
                &source,
                StatusCode::OK,
                &[("Allow", ALLOW), ("Accept", ACCEPT), ("Supported", "")],
            ),
            _ => self.respond(now, &msg, &source, StatusCode::NOT_IMPLEMENTED, &[]),
        }
    }

    fn next_tag(&mut self, now: Instant) -> String {
        self.tags += 1;
        let since = self
            .started
            .map_or(0, |s| now.saturating_duration_since(s).as_nanos());
        format!("cs{:x}{:x}", since & 0xffff_ffff, self.tags)
    }

    /// Queues a response to `req`.
    fn respond(
        &mut self,
        now: Instant,
        req: &Message<'_>,
        source: &Source,
        status: StatusCode,
        extra: &[(&str, &str)],
    ) {
        let tag = self.next_tag(now);
        match build_response(req, source, status, extra, Some(&tag)) {
            Some(out) => {
                self.stats.answered += 1;
                self.out.push_back(out);
            }
            None => tracing::debug!(peer = %source.peer, "cannot answer request; dropped"),
        }
    }
}

/// The response to a stream message that cannot be framed (its Content-Length exceeds
/// the limit): `413` built from what can be read of it, or `None` when it deserves no
/// answer. The Vias are copied unchanged since the answer goes back on the connection.
pub fn framing_error_response(input: &[u8], error: ParseError) -> Option<Vec<u8>> {
    let Reaction::Respond(status) = error.reaction(input) else {
        return None;
    };
    let mut headers = [HeaderIndex::EMPTY; MAX_HEADERS];
    let msg = Message::salvage(input, &mut headers)?;
    let w = Writer::response_to(VecSink(Vec::new()), &msg, status, "", None).ok()?;
    w.finish(b"").ok().map(|s| s.0)
}

fn canonical(ip: IpAddr) -> IpAddr {
    ip.to_canonical()
}

/// The top Via with `received` and `rport` set for `source`, and where a UDP response
/// goes.
fn rewrite_top_via(via: &Via<'_>, source: &Source) -> (String, SocketAddr) {
    let ip = canonical(source.peer.ip());
    let rport = via.rport().is_some();
    let same_host = match via.host {
        Host::Ipv4(a) => IpAddr::V4(a) == ip,
        Host::Ipv6(a) => canonical(IpAddr::V6(a)) == ip,
        Host::Domain(_) => false,
    };
    let mut s = format!(
        "{}/{}/{} {}",
        via.protocol,
        via.version,
        via.transport.as_str(),
        via.host
    );
    if let Some(p) = via.port {
        s.push_str(&format!(":{p}"));
    }
    for p in via.params.iter() {
        if p.name.eq_ignore_ascii_case("received") || p.name.eq_ignore_ascii_case("rport") {
            continue;
        }
        s.push(';');
        s.push_str(p.name);
        if let Some(v) = p.value {
            s.push('=');
            s.push_str(v);
        }
    }
    if rport || !same_host {
        s.push_str(&format!(";received={ip}"));
    }
    if rport {
        s.push_str(&format!(";rport={}", source.peer.port()));
    }
    let dest = if rport {
        SocketAddr::new(ip, source.peer.port())
    } else {
        SocketAddr::new(ip, via.port_or_default())
    };
    (s, dest)
}

/// Builds a response to `req` from `source` (RFC 3261 section 8.2.6) and its
/// destination (section 18.2.2). `None` when it cannot be routed (UDP without a valid
/// top Via) or built.
pub fn build_response(
    req: &Message<'_>,
    source: &Source,
    status: StatusCode,
    extra: &[(&str, &str)],
    to_tag: Option<&str>,
) -> Option<Outbound> {
    let vias: Vec<&str> = req.values(HeaderName::Via).collect();
    let first = *vias.first()?;
    let (top, dest) = route(first, source)?;
    let mut w = Writer::response(VecSink(Vec::new()), status, "").ok()?;
    w.header("Via", &top).ok()?;
    for v in &vias[1..] {
        w.header("Via", v).ok()?;
    }
    for name in [
        HeaderName::From,
        HeaderName::To,
        HeaderName::CallId,
        HeaderName::CSeq,
    ] {
        for v in req.header_lines(name) {
            let v = v.replace(['\r', '\n'], " ");
            if name == HeaderName::To
                && let Some(tag) = to_tag
                && status != StatusCode::TRYING
                && req.to().is_ok_and(|t| t.tag().is_none())
            {
                w.header(name.as_str(), &format!("{v};tag={tag}")).ok()?;
            } else {
                w.header(name.as_str(), &v).ok()?;
            }
        }
    }
    w.header("Server", SERVER).ok()?;
    for (name, value) in extra {
        w.header(name, value).ok()?;
    }
    let data = w.finish(b"").ok()?.0;
    Some(outbound(source, dest, data))
}

/// Routes a response written by another part (which copied the request's Vias) the
/// way [`build_response`] does: its top Via gets `received` and `rport` for `source`.
/// `None` when a UDP response cannot be routed.
pub fn route_response(req: &Message<'_>, source: &Source, mut data: Vec<u8>) -> Option<Outbound> {
    let first = req.values(HeaderName::Via).next()?;
    let (top, dest) = route(first, source)?;
    // The response's Via lines are the request's, copied: the first occurrence of the
    // top value is in the first Via line (the status line cannot hold it).
    if let Some(at) = memchr::memmem::find(&data, first.as_bytes()) {
        data.splice(at..at + first.len(), top.into_bytes());
    }
    Some(outbound(source, dest, data))
}

/// The top Via (with `received` and `rport` for `source`) of a request whose top Via
/// is `via`, and where its responses go.
pub(crate) fn route_via(via: &Via<'_>, source: &Source) -> Option<(String, SocketAddr)> {
    let (top, dest) = rewrite_top_via(via, source);
    let dest = match source.transport {
        TransportKind::Tcp | TransportKind::Tls => source.peer,
        TransportKind::Udp => dest,
    };
    Some((top, dest))
}

/// The top Via of the response to a request whose top Via is `first`, and where the
/// response goes; `None` when a UDP response cannot be routed.
fn route(first: &str, source: &Source) -> Option<(String, SocketAddr)> {
    let (top, dest) = match Via::parse(first) {
        Ok(v) => rewrite_top_via(&v, source),
        Err(_) if source.transport.is_stream() => (first.to_owned(), source.peer),
        Err(_) => return None,
    };
    let dest = match source.transport {
        TransportKind::Tcp | TransportKind::Tls => source.peer,
        TransportKind::Udp => dest,
    };
    Some((top, dest))
}

fn outbound(source: &Source, peer: SocketAddr, data: Vec<u8>) -> Outbound {
    Outbound {
        transport: source.transport,
        peer,
        conn: source.conn,
        local: Some(source.local),
        data,
    }
}

/// A piece of device news in one line (for the tests).
#[cfg(test)]
pub(crate) fn written(n: &crate::interface::DeviceNews<'_>) -> String {
    use crate::interface::{Answer, DeviceNews};
    match n {
        DeviceNews::Online { device } => format!("online {device}"),
        DeviceNews::Offline { device } => format!("offline {device}"),
        DeviceNews::Event { device, event } => format!("event {device} {}", event.name()),
        DeviceNews::Answer { device, id, answer } => match answer {
            Answer::Message(m) => format!("answer {device} {} {}", id.0, m.name()),
            Answer::Failed => format!("answer {device} {} failed", id.0),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transport::ConnId;

    fn core() -> Core {
        let registrar = Registrar::with_secret(
            crate::registrar::Config::default(),
            Passwords::new(),
            [7; 32],
        )
        .unwrap();
        Core::new(65_535, registrar, (Instant::now(), 1_800_000_000))
    }

    fn udp(peer: &str) -> Source {
        Source {
            transport: TransportKind::Udp,
            peer: peer.parse().unwrap(),
            local: "127.0.0.1:5060".parse().unwrap(),
            conn: None,
        }
    }

    fn req(method: &str, via: &str) -> Vec<u8> {
        format!(
            "{method} sip:x@localhost SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\n\
             From: <sip:a@localhost>;tag=1\r\nTo: <sip:x@localhost>\r\nCall-ID: c1\r\n\
             CSeq: 1 {method}\r\nContent-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    fn one(core: &mut Core) -> Outbound {
        let out = core.poll_transmit().unwrap();
        assert!(core.poll_transmit().is_none());
        out
    }

    fn parse_out(out: &Outbound) -> (u16, String, String) {
        let mut h = [HeaderIndex::EMPTY; 32];
        let m = Message::parse(&out.data, &mut h).unwrap();
        (
            m.status().unwrap().as_u16(),
            m.header(HeaderName::Via).unwrap().to_owned(),
            m.header(HeaderName::To).unwrap().to_owned(),
        )
    }

    #[test]
    fn options_gets_200_with_rport_and_received() {
        let mut c = core();
        let src = udp("192.0.2.7:40000");
        c.handle_input(
            Instant::now(),
            src,
            &req("OPTIONS", "SIP/2.0/UDP phone.example;rport;branch=z9hG4bK1"),
        );
        let out = one(&mut c);
        assert_eq!(out.peer, "192.0.2.7:40000".parse().unwrap());
        assert_eq!(out.local, Some(src.local));
        let (code, via, to) = parse_out(&out);
        assert_eq!(code, 200);
        assert_eq!(
            via,
            "SIP/2.0/UDP phone.example;branch=z9hG4bK1;received=192.0.2.7;rport=40000"
        );
        assert!(to.starts_with("<sip:x@localhost>;tag=cs"), "{to}");
        let text = String::from_utf8(out.data).unwrap();
        assert!(
            text.contains("\r\nAllow: OPTIONS, ACK, REGISTER\r\n"),
            "{text}"
        );
        assert!(text.contains("\r\nAccept: application/sdp, application/csta+xml\r\n"));
    }

    #[test]
    fn no_rport_goes_to_via_port_and_same_host_gets_no_received() {
        let mut c = core();
        c.handle_input(
            Instant::now(),
            udp("192.0.2.7:40000"),
            &req("OPTIONS", "SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bK2"),
        );
        let out = one(&mut c);
        assert_eq!(out.peer, "192.0.2.7:5070".parse().unwrap());
        assert_eq!(
            parse_out(&out).1,
            "SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bK2"
        );

        c.handle_input(
            Instant::now(),
            udp("192.0.2.8:40000"),
            &req("OPTIONS", "SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK3"),
        );
        let out = one(&mut c);
        assert_eq!(out.peer, "192.0.2.8:5060".parse().unwrap());
        assert_eq!(
            parse_out(&out).1,
            "SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK3;received=192.0.2.8"
        );
    }

    #[test]
    fn tcp_answers_on_the_connection() {
        let mut c = core();
        let src = Source {
            transport: TransportKind::Tcp,
            peer: "[::1]:40001".parse().unwrap(),
            local: "[::1]:5060".parse().unwrap(),
            conn: Some(ConnId(9)),
        };
        c.handle_input(
            Instant::now(),
            src,
            &req("INVITE", "SIP/2.0/TCP [::1]:5999;branch=z9hG4bK4;rport"),
        );
        let out = one(&mut c);
        assert_eq!(out.transport, TransportKind::Tcp);
        assert_eq!(out.conn, Some(ConnId(9)));
        assert_eq!(out.peer, src.peer);
        let (code, via, _) = parse_out(&out);
        assert_eq!(code, 501);
        assert_eq!(
            via,
            "SIP/2.0/TCP [::1]:5999;branch=z9hG4bK4;received=::1;rport=40001"
        );
    }

    #[test]
    fn tls_answers_on_the_connection() {
        let mut c = core();
        let src = Source {
            transport: TransportKind::Tls,
            peer: "127.0.0.1:40002".parse().unwrap(),
            local: "127.0.0.1:5061".parse().unwrap(),
            conn: Some(ConnId(11)),
        };
        c.handle_input(
            Instant::now(),
            src,
            &req(
                "OPTIONS",
                "SIP/2.0/TLS phone.example:5061;branch=z9hG4bK4t;rport",
            ),
        );
        let out = one(&mut c);
        assert_eq!(out.transport, TransportKind::Tls);
        assert_eq!(out.conn, Some(ConnId(11)));
        assert_eq!(out.peer, src.peer);
        let (code, via, _) = parse_out(&out);
        assert_eq!(code, 200);
        assert_eq!(
            via,
            "SIP/2.0/TLS phone.example:5061;branch=z9hG4bK4t;received=127.0.0.1;rport=40002"
        );
        // An unparsable Via on a stream is answered anyway, on the connection.
        c.handle_input(Instant::now(), src, &req("OPTIONS", "SIP/2.0/TLS ;;;"));
        let out = one(&mut c);
        assert_eq!(
            (out.transport, out.conn),
            (TransportKind::Tls, Some(ConnId(11)))
        );
    }

    #[test]
    fn ack_and_responses_are_absorbed() {
        let mut c = core();
        let src = udp("192.0.2.7:40000");
        c.handle_input(
            Instant::now(),
            src,
            &req("ACK", "SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK5"),
        );
        c.handle_input(
            Instant::now(),
            src,
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1;branch=z9hG4bK6\r\n\
              From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\
              Content-Length: 0\r\n\r\n",
        );
        assert!(c.poll_transmit().is_none());
        assert_eq!(c.stats().responses, 1);
        assert_eq!(c.stats().requests, 1);
    }

    #[test]
    fn broken_input_gets_the_defined_answer() {
        let mut c = core();
        let src = udp("192.0.2.7:40000");
        // Garbage: dropped.
        c.handle_input(Instant::now(), src, b"\x00\x01garbage");
        assert!(c.poll_transmit().is_none());
        // Missing CSeq: 400.
        c.handle_input(
            Instant::now(),
            src,
            b"OPTIONS sip:x@localhost SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK7\r\n\
              From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nContent-Length: 0\r\n\r\n",
        );
        assert_eq!(parse_out(&one(&mut c)).0, 400);
        // SIP/3.0: 505 from the salvaged message.
        c.handle_input(
            Instant::now(),
            src,
            b"OPTIONS sip:x@localhost SIP/3.0\r\nVia: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK8\r\n\
              From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\
              Content-Length: 0\r\n\r\n",
        );
        assert_eq!(parse_out(&one(&mut c)).0, 505);
        // Require of an unknown extension: 420 with Unsupported.
        c.handle_input(
            Instant::now(),
            src,
            b"OPTIONS sip:x@localhost SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK9\r\n\
              From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\
              Require: foo\r\nContent-Length: 0\r\n\r\n",
        );
        let out = one(&mut c);
        assert_eq!(parse_out(&out).0, 420);
        assert!(
            String::from_utf8(out.data)
                .unwrap()
                .contains("\r\nUnsupported: foo\r\n")
        );
        // UDP with an unparsable Via: cannot be routed, dropped.
        c.handle_input(Instant::now(), src, &req("OPTIONS", "SIP/2.0/UDP ;;;"));
        assert!(c.poll_transmit().is_none());
    }

    #[test]
    fn client_input_goes_to_the_hub_and_its_answer_comes_out() {
        use crate::interface::{ClientId, ClientInfo, Encoding};
        let mut c = core();
        let client = ClientId(1);
        let info = ClientInfo {
            peer: "127.0.0.1:40000".parse().unwrap(),
            encoding: Encoding::Xml,
            tls: false,
            opened: Instant::now(),
        };
        c.handle_client_input(Instant::now(), ClientInput::Connected { client, info });
        let id = csta_core::framing::InvokeId::new(1).unwrap();
        c.handle_client_input(
            Instant::now(),
            ClientInput::Frame {
                client,
                invoke_id: id,
                body: b"<MonitorStart><monitorObject><deviceObject>201</deviceObject>\
                        </monitorObject></MonitorStart>"
                    .to_vec(),
            },
        );
        // No application session yet: the hub refuses, the phones are not asked.
        let Some(ClientOutput::Frame {
            client: to,
            invoke_id,
            body,
        }) = c.poll_client_output()
        else {
            panic!("no answer");
        };
        assert_eq!((to, invoke_id), (client, id));
        let body = String::from_utf8(body).unwrap();
        assert!(body.contains("<CSTAErrorCode"), "{body}");
        assert!(body.contains("<security>generic</security>"), "{body}");
        assert_eq!(c.poll_client_output(), None);
        assert!(c.poll_transmit().is_none());
        c.handle_client_input(Instant::now(), ClientInput::Closed { client });
        assert_eq!(c.poll_client_output(), None);
    }

    #[test]
    fn oversize_stream_message_gets_413() {
        let input =
            b"OPTIONS sip:x@localhost SIP/2.0\r\nVia: SIP/2.0/TCP 192.0.2.7;branch=z9hG4bKa\r\n\
              From: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\n\
              Content-Length: 999999\r\n\r\n";
        let out = framing_error_response(input, ParseError::BodyTooLarge).unwrap();
        assert!(
            out.starts_with(b"SIP/2.0 413 "),
            "{}",
            String::from_utf8_lossy(&out)
        );
        assert_eq!(
            framing_error_response(b"SIP/2.0 200 OK\r\n\r\n", ParseError::BodyTooLarge),
            None
        );
    }
}
