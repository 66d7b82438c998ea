//! The stateful proxy (RFC 3261 sections 16 and 17, RFC 6026): every request other
//! than REGISTER and OPTIONS for the server, and the responses to what it forwards.
//!
//! [`Proxy`] is synchronous and free of I/O like the rest of the core: the core hands
//! it parsed messages with their [`Source`] and arrival time, and the registrar to look
//! targets up in; it queues what to send as [`Outbound`] messages and keeps its timers,
//! which the core drives with [`Proxy::poll_timeout`] and [`Proxy::handle_timeout`].
//!
//! Forwarded messages are the received octets, edited: a Via added (requests) or
//! removed (responses), Max-Forwards decremented, Record-Route added, the proxy's own
//! Route entries removed, the Request-URI replaced by a registered contact.
//!
//! Routing of a request, after its own Route entries are removed (loose routing only):
//! - a remaining Route: to its first URI;
//! - a Request-URI of the served domain (or the server's own address) with a user: to
//!   every registered contact of that address-of-record in parallel, through its Path
//!   and to the address the registration came from (NAT), answered 404 for an unknown
//!   user and 480 for a known user without binding.
//!   When an upstream is configured, a user that is not configured here goes to it;
//! - an in-dialog Request-URI that is a registered contact: to where that registration
//!   came from, through its Path;
//! - any other Request-URI: to the upstream when one is configured (out-of-dialog
//!   requests, and with `outbound_proxy` also in-dialog requests), else in-dialog
//!   requests go straight to the Request-URI and others are answered 404. Nothing the
//!   upstream sent is sent back to it.
//!
//! Only IP addresses are reached: a URI naming a host (other than the served domain) is
//! not resolved, and the upstream must be given as an IP address.
//!
//! Transactions are kept in hash maps: server transactions by the top Via's branch,
//! sent-by and method; client transactions by the branch the proxy made. Timers are a
//! heap of deadlines checked against each transaction's own state when they fire.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::hash::{BuildHasher, Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use sip_lite::wire::{
    Credentials, HeaderIndex, HeaderName, Host, Message, Method, NameAddr, SipUri,
    Transport as ViaTransport, Uri, Via,
};

use sha2::{Digest as _, Sha256};

use crate::core::{Passwords, SERVER};
use crate::registrar::{AuthError, Registrar, Transport};
use crate::transport::{ConnId, Outbound, Source, TransportKind};

/// The most header lines of a message the proxy parses again (its own requests).
const MAX_HEADERS: usize = 96;
/// The prefix of every branch the proxy makes.
const BRANCH_PREFIX: &str = "z9hG4bKcs";
/// The URI parameter of the proxy's Record-Route entries that proves the dialog.
const DIALOG_PARAM: &str = "dlg";
/// The octets of the keyed hash a dialog proof carries (128 bits).
const PROOF_LEN: usize = 16;
const HEX: &[u8; 16] = b"0123456789abcdef";

/// `a == b` in a time that depends on their lengths only.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Where requests leave the server when they are not for a local user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// The upstream's URI, as configured; a Route with it is added when it has `lr`.
    pub uri: String,
    /// Its address (the URI's IP address and port).
    pub addr: SocketAddr,
    /// The transport to reach it by (the URI's `transport` parameter).
    pub transport: TransportKind,
    /// Whether in-dialog requests from local phones to other domains also go through it.
    pub outbound_proxy: bool,
}

impl Upstream {
    /// The upstream named by a `sip:` URI with an IP address.
    ///
    /// # Errors
    /// [`UpstreamError`] when the URI does not parse, is not `sip:`, names a host by
    /// name, or asks for a transport other than UDP or TCP.
    pub fn from_uri(uri: &str, outbound_proxy: bool) -> Result<Upstream, UpstreamError> {
        let parsed = SipUri::parse(uri).map_err(|_| UpstreamError::NotSip)?;
        if parsed.secure {
            return Err(UpstreamError::NotSip);
        }
        let (transport, addr) = resolve(&parsed).ok_or(UpstreamError::NotAnAddress)?;
        Ok(Upstream {
            uri: uri.to_owned(),
            addr,
            transport,
            outbound_proxy,
        })
    }
}

/// Why an upstream URI cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// Not a `sip:` URI.
    #[error("not a sip: URI")]
    NotSip,
    /// The host is a name (names are not resolved) or the transport is not UDP or TCP.
    #[error("the host must be an IP address and the transport UDP or TCP")]
    NotAnAddress,
}

/// The proxy's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyConfig {
    /// The served domain (the host of local addresses-of-record).
    pub domain: String,
    /// The server's UDP addresses (its Via and Record-Route, and what is its own).
    pub udp: Vec<SocketAddr>,
    /// The server's TCP addresses.
    pub tcp: Vec<SocketAddr>,
    /// The server's TLS addresses.
    pub tls: Vec<SocketAddr>,
    /// Where requests for other domains go.
    pub upstream: Option<Upstream>,
    /// Whether out-of-dialog requests must carry credentials of a configured user
    /// (challenged with 407); requests from the upstream are exempt.
    pub authenticate: bool,
    /// RFC 3261 T1, the round-trip estimate (500 ms).
    pub t1: Duration,
    /// RFC 3261 T2, the longest retransmission interval (4 s).
    pub t2: Duration,
    /// RFC 3261 T4, how long the network keeps a message (5 s).
    pub t4: Duration,
    /// RFC 3261 Timer C, how long an INVITE branch may stay in proceeding (more than
    /// 3 minutes).
    pub timer_c: Duration,
    /// The most server transactions kept at once; a request beyond them is answered
    /// 503 with Retry-After, statelessly.
    pub max_transactions: usize,
}

impl Default for ProxyConfig {
    fn default() -> Self {
        ProxyConfig {
            domain: "localhost".into(),
            udp: Vec::new(),
            tcp: Vec::new(),
            tls: Vec::new(),
            upstream: None,
            authenticate: true,
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            timer_c: Duration::from_secs(181),
            max_transactions: 65_536,
        }
    }
}

/// Counters of what the proxy has done.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ProxyStats {
    /// Server transactions created (requests taken in).
    pub transactions: u64,
    /// Requests forwarded (each branch of a fork counts once, statelessly forwarded
    /// ACKs included).
    pub forwarded: u64,
    /// Responses sent toward the caller, by class: `by_class[0]` counts 1xx,
    /// `by_class[5]` 6xx (forwarded and generated alike).
    pub by_class: [u64; 6],
    /// Request retransmissions absorbed.
    pub absorbed: u64,
    /// Requests answered without a transaction: challenges, and refusals before
    /// authentication or of in-dialog requests on a route the proxy did not make.
    pub stateless: u64,
}

/// Where a message goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Dest {
    transport: TransportKind,
    peer: SocketAddr,
    conn: Option<ConnId>,
    local: Option<SocketAddr>,
}

impl Dest {
    fn outbound(&self, data: Vec<u8>) -> Outbound {
        Outbound {
            transport: self.transport,
            peer: self.peer,
            conn: self.conn,
            local: self.local,
            data,
        }
    }
}

type TxId = u64;

/// When a message is next resent and the interval that led there.
type Retransmit = (Instant, Duration);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ServerState {
    Proceeding,
    Completed,
    Accepted,
    Confirmed,
}

#[derive(Debug)]
struct ServerTx {
    key: Box<str>,
    merge: Option<Box<str>>,
    invite: bool,
    state: ServerState,
    reply: Dest,
    /// The response header lines but To: Via (top rewritten), From, Call-ID, CSeq.
    template: Box<str>,
    /// The To value of the request.
    to: Box<str>,
    last: Option<Vec<u8>>,
    final_status: u16,
    branches: Vec<TxId>,
    pending: usize,
    /// The best final response so far: status, branch, octets (`None`: make it).
    best: Option<(u16, TxId, Option<Vec<u8>>)>,
    /// Authentication challenges from 401/407 responses: branch and header line.
    challenges: Vec<(TxId, String)>,
    retransmit: Option<(Instant, Duration)>,
    end: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientState {
    Calling,
    Proceeding,
    Completed,
    Accepted,
}

#[derive(Debug)]
struct ClientTx {
    server: TxId,
    invite: bool,
    state: ClientState,
    request: Vec<u8>,
    dest: Dest,
    retransmit: Option<(Instant, Duration)>,
    deadline: Option<Instant>,
    /// Timer C fired once (a CANCEL went out).
    c_fired: bool,
    /// CANCEL wanted before any provisional response came.
    cancel_wanted: bool,
    cancel: Option<(Vec<u8>, Option<Retransmit>)>,
    ack: Option<Vec<u8>>,
    done: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Server,
    Client,
}

/// The route of a received request after route processing.
#[derive(Debug)]
struct RouteSet<'m> {
    /// Whether the Route header lines change.
    rewrite: bool,
    /// The Route values left, in order.
    remaining: Vec<&'m str>,
    /// The Request-URI taken from the Route set (strict routing).
    ruri: Option<String>,
}

/// One place a request is sent.
#[derive(Debug)]
struct Target {
    uri: Option<String>,
    routes: Vec<String>,
    dest: Dest,
}

/// The stateful proxy.
#[derive(Debug)]
pub struct Proxy {
    config: ProxyConfig,
    servers: HashMap<TxId, ServerTx>,
    server_keys: HashMap<Box<str>, TxId>,
    merged: HashMap<Box<str>, TxId>,
    clients: HashMap<TxId, ClientTx>,
    timers: BinaryHeap<Reverse<(Instant, Kind, TxId)>>,
    next_id: TxId,
    stats: ProxyStats,
    /// The key of the dialog proofs in the proxy's Record-Route entries.
    route_secret: [u8; 32],
    /// Makes the To-tags of stateless answers (the same for a retransmission).
    tags: std::hash::RandomState,
}

/// What the proxy answers by itself.
fn reason(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        487 => "Request Terminated",
        500 => "Server Internal Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// Offset of `part` (a slice of `whole`) in `whole`.
fn offset(whole: &str, part: &str) -> usize {
    (part.as_ptr() as usize).saturating_sub(whole.as_ptr() as usize)
}

/// The end of the line holding `at` (after its line feed).
fn line_end(head: &str, at: usize) -> usize {
    memchr::memchr(b'\n', &head.as_bytes()[at.min(head.len())..]).map_or(head.len(), |i| at + i + 1)
}

/// Applies replacements (start, end, text), sorted by start and not overlapping.
fn splice(head: &str, mut edits: Vec<(usize, usize, String)>, body: &[u8]) -> Vec<u8> {
    edits.sort_by_key(|e| (e.0, e.1));
    let mut out = Vec::with_capacity(head.len() + body.len() + 256);
    let mut at = 0;
    for (start, end, text) in edits {
        if start < at || end > head.len() {
            continue;
        }
        out.extend_from_slice(&head.as_bytes()[at..start]);
        out.extend_from_slice(text.as_bytes());
        at = end;
    }
    out.extend_from_slice(&head.as_bytes()[at..]);
    out.extend_from_slice(body);
    out
}

/// The transport and address of a `sip:` URI with an IP address.
fn resolve(uri: &SipUri<'_>) -> Option<(TransportKind, SocketAddr)> {
    let ip = match uri.host {
        Host::Ipv4(a) => IpAddr::V4(a),
        Host::Ipv6(a) => IpAddr::V6(a),
        Host::Domain(_) => return None,
    };
    let transport = match uri.transport() {
        _ if uri.secure => TransportKind::Tls,
        None => TransportKind::Udp,
        Some(t) if t.eq_ignore_ascii_case("udp") => TransportKind::Udp,
        Some(t) if t.eq_ignore_ascii_case("tcp") => TransportKind::Tcp,
        Some(t) if t.eq_ignore_ascii_case("tls") => TransportKind::Tls,
        Some(_) => return None,
    };
    let port = if transport == TransportKind::Tls {
        5061
    } else {
        5060
    };
    Some((transport, SocketAddr::new(ip, uri.port.unwrap_or(port))))
}

fn unfold(v: &str) -> String {
    v.replace(['\r', '\n'], " ")
}

/// The response header template of a request: its Vias (the top one replaced by
/// `top`), From, Call-ID and CSeq lines.
fn template(msg: &Message<'_>, top: &str) -> String {
    let mut s = String::with_capacity(256);
    let mut first = true;
    for v in msg.values(HeaderName::Via) {
        s.push_str("Via: ");
        s.push_str(if first { top } else { v });
        s.push_str("\r\n");
        first = false;
    }
    for name in [HeaderName::From, HeaderName::CallId, HeaderName::CSeq] {
        if let Some(v) = msg.header(name) {
            s.push_str(name.as_str());
            s.push_str(": ");
            s.push_str(&unfold(v));
            s.push_str("\r\n");
        }
    }
    s
}

/// Writes a response from a template.
fn make_response(
    code: u16,
    template: &str,
    to: &str,
    tag: Option<&str>,
    extra: &[(&str, &str)],
) -> Vec<u8> {
    let mut s = format!("SIP/2.0 {code} {}\r\n{template}To: {to}", reason(code));
    if let Some(t) = tag
        && code > 100
        && NameAddr::parse(to).is_ok_and(|n| n.tag().is_none())
    {
        s.push_str(";tag=");
        s.push_str(t);
    }
    s.push_str("\r\nServer: ");
    s.push_str(SERVER);
    s.push_str("\r\n");
    for (n, v) in extra {
        s.push_str(n);
        s.push_str(": ");
        s.push_str(v);
        s.push_str("\r\n");
    }
    s.push_str("Content-Length: 0\r\n\r\n");
    s.into_bytes()
}

/// The loop-detection hash of a request (RFC 3261 section 16.6 step 8): Request-URI,
/// From and To tags, Call-ID, CSeq number and Proxy-Require.
fn loop_hash(msg: &Message<'_>) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    msg.request_uri_str().hash(&mut h);
    msg.from().ok().and_then(|f| f.tag()).hash(&mut h);
    msg.to().ok().and_then(|t| t.tag()).hash(&mut h);
    msg.call_id().ok().hash(&mut h);
    msg.cseq().ok().map(|c| c.seq).hash(&mut h);
    for v in msg.values(HeaderName::ProxyRequire) {
        v.hash(&mut h);
    }
    h.finish()
}

/// The transaction key of a request (RFC 3261 section 17.2.3); ACK and CANCEL match
/// the INVITE.
fn server_key(msg: &Message<'_>, via: &Via<'_>) -> String {
    let method = match msg.method() {
        Some(Method::Ack | Method::Cancel) => "INVITE",
        Some(m) => m.as_str(),
        None => "",
    };
    let branch = via.branch().unwrap_or("");
    let sent_by = match via.port {
        Some(p) => format!("{}:{p}", via.host),
        None => via.host.to_string(),
    };
    if via.has_rfc3261_branch() {
        format!("{branch}|{sent_by}|{method}")
    } else {
        format!(
            "{branch}|{sent_by}|{method}|{}|{}|{}",
            msg.call_id().unwrap_or(""),
            msg.from().ok().and_then(|f| f.tag()).unwrap_or(""),
            msg.cseq().map(|c| c.seq).unwrap_or(0)
        )
    }
}

/// The client transaction a branch of ours names.
fn branch_id(branch: &str) -> Option<TxId> {
    let rest = branch.strip_prefix(BRANCH_PREFIX)?;
    let (_, id) = rest.split_once('.')?;
    u64::from_str_radix(id, 16).ok()
}

fn kind(t: Transport) -> Option<TransportKind> {
    match t {
        Transport::Udp => Some(TransportKind::Udp),
        Transport::Tcp => Some(TransportKind::Tcp),
        Transport::Tls => Some(TransportKind::Tls),
        _ => None,
    }
}

/// Context for handling a request: the registrar and the wall clock.
struct Ctx<'r> {
    registrar: &'r Registrar<Passwords>,
    unix: u64,
}

impl Proxy {
    /// A proxy with no transaction.
    ///
    /// The key of its dialog proofs is random: dialogs it record-routed before a
    /// restart are not relayed by it after (use [`Proxy::with_secret`] to keep them).
    pub fn new(config: ProxyConfig) -> Proxy {
        let mut secret = [0u8; 32];
        if getrandom::fill(&mut secret).is_err() {
            // std seeds every RandomState from the operating system's random numbers.
            for (i, chunk) in secret.chunks_exact_mut(8).enumerate() {
                let h = std::hash::RandomState::new().hash_one(i);
                chunk.copy_from_slice(&h.to_le_bytes());
            }
        }
        Proxy::with_secret(config, secret)
    }

    /// A proxy with no transaction whose dialog proofs are keyed by `secret` (several
    /// processes relaying each other's dialogs, or one keeping them over a restart).
    pub fn with_secret(config: ProxyConfig, secret: [u8; 32]) -> Proxy {
        Proxy {
            config,
            servers: HashMap::new(),
            server_keys: HashMap::new(),
            merged: HashMap::new(),
            clients: HashMap::new(),
            timers: BinaryHeap::new(),
            next_id: 1,
            stats: ProxyStats::default(),
            route_secret: secret,
            tags: std::hash::RandomState::new(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &ProxyConfig {
        &self.config
    }

    /// Counters.
    pub fn stats(&self) -> ProxyStats {
        self.stats
    }

    /// The number of server and client transactions alive.
    pub fn active(&self) -> (usize, usize) {
        (self.servers.len(), self.clients.len())
    }

    /// When [`Proxy::handle_timeout`] is next due (possibly early, never late).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|t| t.0.0)
    }

    fn id(&mut self) -> TxId {
        self.next_id += 1;
        self.next_id
    }

    fn arm(&mut self, at: Instant, kind: Kind, id: TxId) {
        self.timers.push(Reverse((at, kind, id)));
    }

    /// Whether `uri` names this server (its domain or one of its addresses).
    fn is_self(&self, uri: &SipUri<'_>) -> bool {
        let ours = |port: u16| {
            self.config
                .udp
                .iter()
                .chain(&self.config.tcp)
                .any(|a| a.port() == port)
        };
        match uri.host {
            Host::Domain(d) => {
                d.eq_ignore_ascii_case(&self.config.domain) && uri.port.is_none_or(ours)
            }
            Host::Ipv4(a) => self.is_own_addr(IpAddr::V4(a), uri.port.unwrap_or(5060)),
            Host::Ipv6(a) => self.is_own_addr(IpAddr::V6(a), uri.port.unwrap_or(5060)),
        }
    }

    fn is_own_addr(&self, ip: IpAddr, port: u16) -> bool {
        let ip = ip.to_canonical();
        self.config
            .udp
            .iter()
            .chain(&self.config.tcp)
            .any(|a| a.port() == port && (a.ip().to_canonical() == ip || a.ip().is_unspecified()))
    }

    /// Whether a Via sent-by is this server.
    fn is_own_via(&self, via: &Via<'_>) -> bool {
        let port = via.port.unwrap_or(5060);
        match via.host {
            Host::Domain(d) => d.eq_ignore_ascii_case(&self.config.domain),
            Host::Ipv4(a) => self.is_own_addr(IpAddr::V4(a), port),
            Host::Ipv6(a) => self.is_own_addr(IpAddr::V6(a), port),
        }
    }

    /// The server's address for `transport` toward `peer`.
    fn local(&self, transport: TransportKind, peer: SocketAddr) -> Option<SocketAddr> {
        let list = match transport {
            TransportKind::Udp => &self.config.udp,
            TransportKind::Tcp => &self.config.tcp,
            TransportKind::Tls => &self.config.tls,
        };
        list.iter()
            .find(|a| a.is_ipv4() == peer.is_ipv4())
            .or(list.first())
            .copied()
    }

    fn host_port(&self, addr: SocketAddr) -> String {
        if addr.ip().is_unspecified() {
            format!("{}:{}", self.config.domain, addr.port())
        } else {
            addr.to_string()
        }
    }

    /// The proxy's Record-Route entry toward `peer`, with the proof of the dialog
    /// `proof` ([`Proxy::dialog_proof`]).
    fn record_route(
        &self,
        transport: TransportKind,
        peer: SocketAddr,
        proof: &str,
    ) -> Option<String> {
        let local = self.local(transport, peer)?;
        let t = match transport {
            TransportKind::Udp => "",
            TransportKind::Tcp => ";transport=tcp",
            TransportKind::Tls => ";transport=tls",
        };
        Some(format!(
            "<sip:{}{t};lr;{DIALOG_PARAM}={proof}>",
            self.host_port(local)
        ))
    }

    /// The proof that the proxy record-routed the dialog of Call-ID `call_id` whose
    /// initial request had From-tag `tag`: a keyed hash of both, in hexadecimal.
    fn dialog_proof(&self, call_id: &str, tag: &str) -> String {
        let mut h = Sha256::new();
        h.update(self.route_secret);
        h.update(call_id.as_bytes());
        h.update([0]);
        h.update(tag.as_bytes());
        let digest = h.finalize();
        let mut proof = String::with_capacity(2 * PROOF_LEN);
        for b in &digest[..PROOF_LEN] {
            proof.push(char::from(HEX[usize::from(b >> 4)]));
            proof.push(char::from(HEX[usize::from(b & 15)]));
        }
        proof
    }

    /// Whether an in-dialog request travels a route this proxy record-routed (RFC 3261
    /// section 16.4): one of its own Route entries (or, from a strict router, its
    /// Request-URI) carries the proof of the request's Call-ID and of its From-tag or
    /// To-tag (the initial request's From-tag is one or the other, by direction).
    fn dialog_proven(&self, msg: &Message<'_>) -> bool {
        let call_id = msg.call_id().unwrap_or("");
        let tags = [
            msg.from().ok().and_then(|f| f.tag()),
            msg.to().ok().and_then(|t| t.tag()),
        ];
        let proves = |uri: &SipUri<'_>| {
            let Some(given) = uri.param(DIALOG_PARAM).and_then(|p| p.value) else {
                return false;
            };
            tags.iter()
                .flatten()
                .any(|tag| ct_eq(given.as_bytes(), self.dialog_proof(call_id, tag).as_bytes()))
        };
        let strict = match msg.request_uri() {
            Some(Ok(Uri::Sip(u))) => u.user.is_none() && self.is_self(&u) && proves(&u),
            _ => false,
        };
        // The leading Route entries that are the proxy's (as `own_routes` strips them),
        // each parsed once: one of them must carry the proof.
        strict
            || msg
                .values(HeaderName::Route)
                .map_while(|r| {
                    let n = NameAddr::parse(r).ok()?;
                    let u = n.uri.as_sip().filter(|u| self.is_self(u))?;
                    Some(proves(u))
                })
                .any(|proven| proven)
    }

    /// Sends a response of the proxy's making without keeping any state: a
    /// retransmission of the request is answered again, the same way.
    #[allow(clippy::too_many_arguments)]
    fn respond_stateless(
        &mut self,
        msg: &Message<'_>,
        top: &str,
        key: &str,
        reply: Dest,
        code: u16,
        extra: &[(&str, &str)],
        out: &mut VecDeque<Outbound>,
    ) {
        let to = msg.header(HeaderName::To).map(unfold).unwrap_or_default();
        let tag = format!("px{:x}", self.tags.hash_one(key));
        let data = make_response(code, &template(msg, top), &to, Some(&tag), extra);
        self.count_response(code);
        self.stats.stateless += 1;
        out.push_back(reply.outbound(data));
    }

    fn dest(&self, transport: TransportKind, peer: SocketAddr, conn: Option<ConnId>) -> Dest {
        Dest {
            transport,
            peer,
            conn,
            local: match transport {
                TransportKind::Udp => self.local(transport, peer),
                TransportKind::Tcp | TransportKind::Tls => None,
            },
        }
    }

    fn count_response(&mut self, code: u16) {
        let class = usize::from(code / 100).clamp(1, 6);
        self.stats.by_class[class - 1] += 1;
    }

    /// Whether an OPTIONS request is for the server itself (its Request-URI has no
    /// user, or is the server's own address, and it has no Route to elsewhere).
    pub fn is_for_server(&self, msg: &Message<'_>) -> bool {
        if !self.own_routes(msg).remaining.is_empty() {
            return false;
        }
        match msg.request_uri() {
            Some(Ok(Uri::Sip(u))) => u.user.is_none() || self.is_self(&u),
            _ => true,
        }
    }

    /// Takes a request (not REGISTER) received at `now` (`unix`: the wall clock in
    /// seconds, for nonces and bindings) from `source`, its octets `data`.
    pub fn handle_request(
        &mut self,
        now: Instant,
        unix: u64,
        registrar: &Registrar<Passwords>,
        msg: &Message<'_>,
        source: &Source,
        out: &mut VecDeque<Outbound>,
    ) {
        let Ok(via) = msg.top_via() else { return };
        let ctx = Ctx { registrar, unix };
        let key = server_key(msg, &via);
        let method = msg.method();
        if method == Some(Method::Ack) {
            self.handle_ack(now, &ctx, msg, source, &key, out);
            return;
        }
        if method == Some(Method::Cancel) {
            self.handle_cancel(now, msg, source, &key, out);
            return;
        }
        // A retransmission.
        if let Some(&id) = self.server_keys.get(key.as_str()) {
            self.stats.absorbed += 1;
            if let Some(tx) = self.servers.get(&id)
                && tx.state != ServerState::Accepted
                && let Some(last) = &tx.last
            {
                out.push_back(tx.reply.outbound(last.clone()));
            }
            return;
        }
        let Some((top, peer)) = crate::core::route_via(&via, source) else {
            return;
        };
        let reply = Dest {
            transport: source.transport,
            peer,
            conn: source.conn,
            local: Some(source.local),
        };
        let invite = method == Some(Method::Invite);
        let in_dialog = msg.to().ok().and_then(|t| t.tag()).is_some();
        // Nothing is kept for a request until it has shown its right to be relayed: an
        // in-dialog request by the proof in the proxy's own Route entry, any other by
        // its credentials. The answers before that are stateless, so a flood of
        // unauthenticated requests (from a spoofed source, say) leaves no state and
        // gets one answer per request, never retransmissions.
        if in_dialog && !self.dialog_proven(msg) {
            tracing::debug!(
                peer = %source.peer,
                call_id = msg.call_id().unwrap_or(""),
                routes = ?msg.values(HeaderName::Route).collect::<Vec<_>>(),
                ruri = msg.request_uri_str().unwrap_or(""),
                "in-dialog request not on a route of this proxy: 403"
            );
            self.respond_stateless(msg, &top, &key, reply, 403, &[], out);
            return;
        }
        if self.config.authenticate && !in_dialog && !self.is_upstream(source) {
            let verified = registrar.verify(
                unix,
                msg,
                source.peer.ip(),
                HeaderName::ProxyAuthorization,
                None,
            );
            match verified {
                Ok(user) => {
                    let from_user = msg
                        .from()
                        .ok()
                        .and_then(|f| f.uri.as_sip().and_then(|u| u.user));
                    if from_user != Some(user) {
                        self.respond_stateless(msg, &top, &key, reply, 403, &[], out);
                        return;
                    }
                }
                Err(AuthError::Challenge { stale }) => {
                    let challenges = registrar.challenges(unix, source.peer.ip(), stale);
                    let extra: Vec<(&str, &str)> = challenges
                        .iter()
                        .map(|c| ("Proxy-Authenticate", c.as_str()))
                        .collect();
                    self.respond_stateless(msg, &top, &key, reply, 407, &extra, out);
                    return;
                }
                Err(AuthError::Malformed) => {
                    self.respond_stateless(msg, &top, &key, reply, 400, &[], out);
                    return;
                }
                Err(AuthError::Blocked { retry_after }) => {
                    let retry_after = retry_after.to_string();
                    let extra = [("Retry-After", retry_after.as_str())];
                    self.respond_stateless(msg, &top, &key, reply, 503, &extra, out);
                    return;
                }
            }
        }
        if self.servers.len() >= self.config.max_transactions {
            self.respond_stateless(msg, &top, &key, reply, 503, &[("Retry-After", "5")], out);
            return;
        }
        let to_value = msg.header(HeaderName::To).map(unfold).unwrap_or_default();
        let merge = (!in_dialog).then(|| {
            format!(
                "{}|{}|{}|{}",
                msg.from().ok().and_then(|f| f.tag()).unwrap_or(""),
                msg.call_id().unwrap_or(""),
                msg.cseq().map(|c| c.seq).unwrap_or(0),
                method.map(|m| m.as_str()).unwrap_or("")
            )
            .into_boxed_str()
        });
        let id = self.id();
        self.stats.transactions += 1;
        // A request that passed here before is a spiral (or a loop, found below), not
        // a merged request.
        let merged = merge.as_ref().is_some_and(|m| self.merged.contains_key(m))
            && !msg.vias().flatten().any(|v| self.is_own_via(&v));
        let tx = ServerTx {
            key: key.into_boxed_str(),
            merge: if merged { None } else { merge },
            invite,
            state: ServerState::Proceeding,
            reply,
            template: template(msg, &top).into_boxed_str(),
            to: to_value.into_boxed_str(),
            last: None,
            final_status: 0,
            branches: Vec::new(),
            pending: 0,
            best: None,
            challenges: Vec::new(),
            retransmit: None,
            end: None,
        };
        self.server_keys.insert(tx.key.clone(), id);
        if let Some(m) = &tx.merge {
            self.merged.insert(m.clone(), id);
        }
        self.servers.insert(id, tx);

        if merged {
            self.respond(now, id, 482, &[], out);
            return;
        }
        // RFC 3261 section 16.3: Max-Forwards and loops.
        let max_forwards = match msg.max_forwards() {
            None => 70,
            Some(Ok(n)) => n,
            Some(Err(_)) => {
                self.respond(now, id, 400, &[], out);
                return;
            }
        };
        if max_forwards == 0 {
            self.respond(now, id, 483, &[], out);
            return;
        }
        // RFC 3261 section 16.3 step 5: the proxy supports no extension.
        if let Some(required) = msg.header(HeaderName::ProxyRequire) {
            let required = unfold(required);
            self.respond(now, id, 420, &[("Unsupported", required.as_str())], out);
            return;
        }
        let hash = loop_hash(msg);
        let looped = msg.vias().flatten().any(|v| {
            self.is_own_via(&v)
                && v.branch()
                    .and_then(|b| b.strip_prefix(BRANCH_PREFIX))
                    .and_then(|b| b.split(['.', '-']).next())
                    .is_some_and(|h| u64::from_str_radix(h, 16) == Ok(hash))
        });
        if looped {
            self.respond(now, id, 482, &[], out);
            return;
        }
        if invite {
            let trying = self
                .servers
                .get(&id)
                .map(|tx| make_response(100, &tx.template, &tx.to, None, &[]));
            if let Some(t) = trying {
                self.send_response(id, 100, t, out);
            }
        }
        let route_set = self.own_routes(msg);
        let targets = match self.targets(&ctx, msg, source, in_dialog, &route_set) {
            Ok(t) => t,
            Err(code) => {
                self.respond(now, id, code, &[], out);
                return;
            }
        };
        let record = !in_dialog
            && matches!(
                method,
                Some(Method::Invite | Method::Subscribe | Method::Refer | Method::Notify)
            );
        for target in targets {
            let branch_id = self.id();
            let branch = format!("{BRANCH_PREFIX}{hash:016x}.{branch_id:x}");
            let Some(data) = self.forward_bytes(
                msg,
                source,
                &top,
                max_forwards - 1,
                &branch,
                &target,
                record,
                &route_set,
            ) else {
                continue;
            };
            self.stats.forwarded += 1;
            out.push_back(target.dest.outbound(data.clone()));
            let udp = target.dest.transport == TransportKind::Udp;
            let t1 = self.config.t1;
            let client = ClientTx {
                server: id,
                invite,
                state: ClientState::Calling,
                request: data,
                dest: target.dest,
                retransmit: udp.then_some((now + t1, t1)),
                deadline: Some(now + 64 * t1),
                c_fired: false,
                cancel_wanted: false,
                cancel: None,
                ack: None,
                done: false,
            };
            if let Some((at, _)) = client.retransmit {
                self.arm(at, Kind::Client, branch_id);
            }
            self.arm(now + 64 * t1, Kind::Client, branch_id);
            self.clients.insert(branch_id, client);
            if let Some(tx) = self.servers.get_mut(&id) {
                tx.branches.push(branch_id);
                tx.pending += 1;
            }
        }
        if self.servers.get(&id).is_some_and(|tx| tx.pending == 0) {
            self.respond(now, id, 480, &[], out);
        }
    }

    /// Route processing (RFC 3261 section 16.4): a Request-URI that is a Record-Route
    /// value of the server (from a strict router) is replaced by the last Route value;
    /// then the leading Route values that are the server's own are removed.
    fn own_routes<'m>(&self, msg: &Message<'m>) -> RouteSet<'m> {
        let mut all: Vec<&str> = msg.values(HeaderName::Route).collect();
        let ours = |u: &SipUri<'_>| u.user.is_none() && self.is_self(u);
        let strict =
            !all.is_empty() && matches!(msg.request_uri(), Some(Ok(Uri::Sip(u))) if ours(&u));
        let mut ruri = None;
        if strict && let Some(last) = all.pop() {
            ruri = NameAddr::parse(last).ok().map(|n| n.uri.to_string());
        }
        let strip = all
            .iter()
            .take_while(|r| {
                NameAddr::parse(r)
                    .ok()
                    .and_then(|n| n.uri.as_sip().map(|u| self.is_self(u)))
                    .unwrap_or(false)
            })
            .count();
        RouteSet {
            rewrite: strip > 0 || strict,
            remaining: all[strip..].to_vec(),
            ruri,
        }
    }

    /// Whether a request came from the upstream: its address, or over TCP its IP
    /// address (the port of a connection it opened is any).
    fn is_upstream(&self, source: &Source) -> bool {
        self.config.upstream.as_ref().is_some_and(|u| {
            u.addr.ip().to_canonical() == source.peer.ip().to_canonical()
                && (source.transport == TransportKind::Tcp || u.addr.port() == source.peer.port())
        })
    }

    /// The upstream as a target, unless the request came from it.
    fn upstream_target(&self, source: &Source) -> Option<Target> {
        let up = self.config.upstream.as_ref()?;
        if self.is_upstream(source) {
            return None;
        }
        let has_lr = SipUri::parse(&up.uri).is_ok_and(|u| u.lr());
        Some(Target {
            uri: None,
            routes: if has_lr {
                vec![format!("<{}>", up.uri)]
            } else {
                Vec::new()
            },
            dest: self.dest(up.transport, up.addr, None),
        })
    }

    /// Where a request goes, or the status to answer it with.
    fn targets(
        &self,
        ctx: &Ctx<'_>,
        msg: &Message<'_>,
        source: &Source,
        in_dialog: bool,
        route_set: &RouteSet<'_>,
    ) -> Result<Vec<Target>, u16> {
        let mut targets = self.targets_for(ctx, msg, source, in_dialog, route_set)?;
        if let Some(ruri) = &route_set.ruri {
            for t in &mut targets {
                t.uri.get_or_insert_with(|| ruri.clone());
            }
        }
        Ok(targets)
    }

    fn targets_for(
        &self,
        ctx: &Ctx<'_>,
        msg: &Message<'_>,
        source: &Source,
        in_dialog: bool,
        route_set: &RouteSet<'_>,
    ) -> Result<Vec<Target>, u16> {
        if let Some(first) = route_set.remaining.first() {
            let na = NameAddr::parse(first).map_err(|_| 400u16)?;
            let uri = na.uri.as_sip().ok_or(416u16)?;
            let (transport, peer) = resolve(uri).ok_or(404u16)?;
            return Ok(vec![Target {
                uri: None,
                routes: Vec::new(),
                dest: self.dest(transport, peer, None),
            }]);
        }
        let ruri_text = route_set
            .ruri
            .as_deref()
            .or(msg.request_uri_str())
            .unwrap_or("");
        let Ok(ruri) = Uri::parse(ruri_text) else {
            return Err(400);
        };
        let Uri::Sip(ruri) = ruri else {
            return Err(416);
        };
        // The served domain may be an IP address: then its users are local at any port.
        let local = match ruri.host {
            Host::Domain(d) => d.eq_ignore_ascii_case(&self.config.domain),
            h => Host::parse(&self.config.domain).is_ok_and(|d| d == h) || self.is_self(&ruri),
        };
        if local {
            let Some(user) = ruri.user else {
                return Err(404);
            };
            let mut targets = Vec::new();
            for b in ctx.registrar.lookup_uri(ctx.unix, &ruri) {
                let Some(transport) = kind(b.transport) else {
                    continue;
                };
                targets.push(Target {
                    uri: Some(b.contact.clone()),
                    routes: b.path.clone(),
                    dest: self.dest(transport, b.source, None),
                });
            }
            if !targets.is_empty() {
                return Ok(targets);
            }
            if ctx.registrar.users().contains_key(user) {
                return Err(480);
            }
            // A user not configured here may be the upstream's.
            if let Some(up) = self.upstream_target(source) {
                return Ok(vec![up]);
            }
            return Err(404);
        }
        // An in-dialog request to a registered contact goes where the registration
        // came from (the phone may be behind NAT), through its Path.
        if in_dialog
            && let Some(user) = ruri.user
            && let Some(b) = ctx
                .registrar
                .lookup(
                    ctx.unix,
                    &format!("{user}@{}", self.config.domain.to_ascii_lowercase()),
                )
                .find(|b| Uri::parse(&b.contact).is_ok_and(|c| c.equivalent(&Uri::Sip(ruri))))
            && let Some(transport) = kind(b.transport)
        {
            return Ok(vec![Target {
                uri: None,
                routes: b.path.clone(),
                dest: self.dest(transport, b.source, None),
            }]);
        }
        if let Some(up) = &self.config.upstream {
            let from_upstream = self.is_upstream(source);
            if (!in_dialog || up.outbound_proxy)
                && !from_upstream
                && let Some(up) = self.upstream_target(source)
            {
                return Ok(vec![up]);
            }
        }
        if in_dialog && let Some((transport, peer)) = resolve(&ruri) {
            return Ok(vec![Target {
                uri: None,
                routes: Vec::new(),
                dest: self.dest(transport, peer, None),
            }]);
        }
        Err(404)
    }

    /// The request to send to `target`: the received octets with the Request-URI,
    /// Via, Record-Route, Route and Max-Forwards edited.
    #[allow(clippy::too_many_arguments)]
    fn forward_bytes(
        &self,
        msg: &Message<'_>,
        source: &Source,
        top: &str,
        max_forwards: u32,
        branch: &str,
        target: &Target,
        record: bool,
        route_set: &RouteSet<'_>,
    ) -> Option<Vec<u8>> {
        let head = msg.head();
        let mut edits = Vec::new();
        if let (Some(uri), Some(old)) = (&target.uri, msg.request_uri_str()) {
            let at = offset(head, old);
            edits.push((at, at + old.len(), uri.clone()));
        }
        let first_header = line_end(head, 0);
        let via_host = self.local(target.dest.transport, target.dest.peer)?;
        let mut insert = format!(
            "Via: SIP/2.0/{} {};branch={branch};rport\r\n",
            target.dest.transport.as_str(),
            self.host_port(via_host)
        );
        if record {
            let proof = self.dialog_proof(
                msg.call_id().unwrap_or(""),
                msg.from().ok().and_then(|f| f.tag()).unwrap_or(""),
            );
            let outgoing = self.record_route(target.dest.transport, target.dest.peer, &proof)?;
            let incoming = self.record_route(source.transport, source.peer, &proof)?;
            insert.push_str(&format!("Record-Route: {outgoing}\r\n"));
            if incoming != outgoing {
                insert.push_str(&format!("Record-Route: {incoming}\r\n"));
            }
        }
        if msg.max_forwards().is_none() {
            insert.push_str(&format!("Max-Forwards: {max_forwards}\r\n"));
        }
        let rewrite_routes = route_set.rewrite || !target.routes.is_empty();
        if rewrite_routes {
            let remaining = route_set.remaining.iter().copied();
            for r in target.routes.iter().map(String::as_str).chain(remaining) {
                insert.push_str("Route: ");
                insert.push_str(&unfold(r));
                insert.push_str("\r\n");
            }
        }
        edits.push((first_header, first_header, insert));
        let mut top_done = false;
        for h in msg.headers() {
            let start = offset(head, h.name);
            let vstart = offset(head, h.value);
            match h.kind {
                HeaderName::Route if rewrite_routes => {
                    edits.push((start, line_end(head, vstart + h.value.len()), String::new()));
                }
                // Credentials for this proxy's realm stop here.
                HeaderName::ProxyAuthorization
                    if Credentials::parse(h.value).is_ok_and(|c| {
                        c.realm().is_some_and(|r| r.eq_text(&self.config.domain))
                    }) =>
                {
                    edits.push((start, line_end(head, vstart + h.value.len()), String::new()));
                }
                HeaderName::MaxForwards => {
                    edits.push((vstart, vstart + h.value.len(), max_forwards.to_string()));
                }
                HeaderName::Via if !top_done => {
                    top_done = true;
                    let first = msg.values(HeaderName::Via).next()?;
                    let at = offset(head, first);
                    edits.push((at, at + first.len(), top.to_owned()));
                }
                _ => {}
            }
        }
        Some(splice(head, edits, msg.body()))
    }

    /// Answers a server transaction with a response of its own making.
    fn respond(
        &mut self,
        now: Instant,
        id: TxId,
        code: u16,
        extra: &[(&str, &str)],
        out: &mut VecDeque<Outbound>,
    ) {
        let Some(tx) = self.servers.get(&id) else {
            return;
        };
        let tag = format!("px{id:x}");
        let data = make_response(code, &tx.template, &tx.to, Some(&tag), extra);
        self.send_final(now, id, code, data, out);
    }

    /// Sends a response of a server transaction and keeps it for retransmissions.
    fn send_response(&mut self, id: TxId, code: u16, data: Vec<u8>, out: &mut VecDeque<Outbound>) {
        let Some(tx) = self.servers.get_mut(&id) else {
            return;
        };
        out.push_back(tx.reply.outbound(data.clone()));
        tx.last = Some(data);
        self.count_response(code);
    }

    /// Sends the final response of a server transaction (2xx for INVITE excepted) and
    /// starts the timers of the completed state.
    fn send_final(
        &mut self,
        now: Instant,
        id: TxId,
        code: u16,
        data: Vec<u8>,
        out: &mut VecDeque<Outbound>,
    ) {
        let (t1, t2) = (self.config.t1, self.config.t2);
        let Some(tx) = self.servers.get_mut(&id) else {
            return;
        };
        if tx.final_status != 0 {
            return;
        }
        tx.final_status = code;
        let udp = tx.reply.transport == TransportKind::Udp;
        let mut arm = Vec::new();
        if tx.invite && code >= 300 {
            tx.state = ServerState::Completed;
            if udp {
                tx.retransmit = Some((now + t1, t1.min(t2)));
                arm.push(now + t1);
            }
            tx.end = Some(now + 64 * t1);
        } else if tx.invite {
            tx.state = ServerState::Accepted;
            tx.end = Some(now + 64 * t1);
        } else {
            tx.state = ServerState::Completed;
            tx.end = Some(if udp { now + 64 * t1 } else { now });
        }
        if let Some(end) = tx.end {
            arm.push(end);
        }
        for at in arm {
            self.arm(at, Kind::Server, id);
        }
        self.send_response(id, code, data, out);
    }

    fn handle_cancel(
        &mut self,
        now: Instant,
        msg: &Message<'_>,
        source: &Source,
        key: &str,
        out: &mut VecDeque<Outbound>,
    ) {
        let Ok(via) = msg.top_via() else { return };
        let Some((top, peer)) = crate::core::route_via(&via, source) else {
            return;
        };
        let reply = Dest {
            transport: source.transport,
            peer,
            conn: source.conn,
            local: Some(source.local),
        };
        let to = msg.header(HeaderName::To).map(unfold).unwrap_or_default();
        let tpl = template(msg, &top);
        let Some(&id) = self.server_keys.get(key) else {
            let data = make_response(481, &tpl, &to, Some("px0"), &[]);
            self.count_response(481);
            out.push_back(reply.outbound(data));
            return;
        };
        let tag = format!("px{id:x}");
        out.push_back(reply.outbound(make_response(200, &tpl, &to, Some(&tag), &[])));
        self.count_response(200);
        if self.servers.get(&id).is_some_and(|tx| tx.final_status == 0) {
            self.cancel_branches(now, id, out);
        }
    }

    /// Cancels every branch of a server transaction still without a final response.
    fn cancel_branches(&mut self, now: Instant, id: TxId, out: &mut VecDeque<Outbound>) {
        let branches = self
            .servers
            .get(&id)
            .map(|tx| tx.branches.clone())
            .unwrap_or_default();
        for b in branches {
            self.cancel_branch(now, b, out);
        }
    }

    fn cancel_branch(&mut self, now: Instant, b: TxId, out: &mut VecDeque<Outbound>) {
        let t1 = self.config.t1;
        let Some(c) = self.clients.get_mut(&b) else {
            return;
        };
        if c.done || !c.invite || c.cancel.is_some() {
            return;
        }
        if c.state != ClientState::Proceeding {
            c.cancel_wanted = true;
            return;
        }
        let Some(data) = build_in_transaction(&c.request, "CANCEL", None) else {
            return;
        };
        out.push_back(c.dest.outbound(data.clone()));
        let udp = c.dest.transport == TransportKind::Udp;
        c.cancel = Some((data, udp.then_some((now + t1, t1))));
        if udp {
            self.arm(now + t1, Kind::Client, b);
        }
    }

    fn handle_ack(
        &mut self,
        now: Instant,
        ctx: &Ctx<'_>,
        msg: &Message<'_>,
        source: &Source,
        key: &str,
        out: &mut VecDeque<Outbound>,
    ) {
        let t4 = self.config.t4;
        if let Some(&id) = self.server_keys.get(key)
            && let Some(tx) = self.servers.get_mut(&id)
            && tx.final_status >= 300
        {
            // The ACK of a non-2xx final response ends at this hop.
            self.stats.absorbed += 1;
            if tx.state == ServerState::Completed {
                tx.state = ServerState::Confirmed;
                tx.retransmit = None;
                let end = if tx.reply.transport == TransportKind::Udp {
                    now + t4
                } else {
                    now
                };
                tx.end = Some(end);
                self.arm(end, Kind::Server, id);
            }
            return;
        }
        // The ACK of a 2xx: forwarded statelessly along its route, when that is a route
        // the proxy made. Any other ACK (of a stateless answer, or made up) ends here.
        if !self.dialog_proven(msg) {
            self.stats.absorbed += 1;
            return;
        }
        let max_forwards = match msg.max_forwards() {
            None => 70,
            Some(Ok(n)) if n > 0 => n,
            _ => return,
        };
        let Ok(via) = msg.top_via() else { return };
        let Some((top, _)) = crate::core::route_via(&via, source) else {
            return;
        };
        let route_set = self.own_routes(msg);
        let Ok(targets) = self.targets(ctx, msg, source, true, &route_set) else {
            return;
        };
        let mut h = std::hash::DefaultHasher::new();
        via.branch().hash(&mut h);
        let branch = format!("{BRANCH_PREFIX}{:016x}-{:x}", loop_hash(msg), h.finish());
        for target in targets {
            if let Some(data) = self.forward_bytes(
                msg,
                source,
                &top,
                max_forwards - 1,
                &branch,
                &target,
                false,
                &route_set,
            ) {
                self.stats.forwarded += 1;
                out.push_back(target.dest.outbound(data));
            }
        }
    }

    /// Takes a response; returns `false` when it is not for a request the proxy sent
    /// (its top Via is not the proxy's).
    pub fn handle_response(
        &mut self,
        now: Instant,
        msg: &Message<'_>,
        out: &mut VecDeque<Outbound>,
    ) -> bool {
        let Ok(via) = msg.top_via() else { return false };
        let Some(branch) = via.branch().filter(|b| b.starts_with(BRANCH_PREFIX)) else {
            return false;
        };
        if !self.is_own_via(&via) {
            return false;
        }
        let Some(status) = msg.status() else {
            return false;
        };
        let code = status.0;
        let cseq_method = msg.cseq().ok().map(|c| c.method);
        let Some(id) = branch_id(branch) else {
            // A stateless branch (ACK): nothing answers an ACK.
            return true;
        };
        let Some(c) = self.clients.get(&id) else {
            if (200..300).contains(&code) && cseq_method == Some(Method::Invite) {
                self.forward_stateless(msg, out);
            }
            return true;
        };
        if cseq_method == Some(Method::Cancel) {
            if code >= 200
                && let Some(c) = self.clients.get_mut(&id)
                && let Some(cancel) = c.cancel.as_mut()
            {
                cancel.1 = None;
            }
            return true;
        }
        let server = c.server;
        let invite = c.invite;
        let state = c.state;
        let t1 = self.config.t1;
        let t4 = self.config.t4;
        let udp = c.dest.transport == TransportKind::Udp;
        let Some(stripped) = strip_top_via(msg) else {
            return true;
        };
        if code < 200 {
            if matches!(state, ClientState::Calling | ClientState::Proceeding) {
                let timer_c = self.config.timer_c;
                if let Some(c) = self.clients.get_mut(&id) {
                    c.state = ClientState::Proceeding;
                    if invite {
                        c.retransmit = None;
                        if code > 100 || state == ClientState::Calling {
                            c.deadline = Some(now + timer_c);
                            self.timers.push(Reverse((now + timer_c, Kind::Client, id)));
                        }
                    } else if let Some(r) = c.retransmit.as_mut() {
                        r.1 = self.config.t2;
                    }
                }
                let wanted = self.clients.get(&id).is_some_and(|c| c.cancel_wanted);
                let cancelled = self
                    .servers
                    .get(&server)
                    .is_none_or(|s| s.final_status >= 200);
                if wanted || (invite && cancelled && state == ClientState::Calling) {
                    self.cancel_branch(now, id, out);
                }
            }
            if code > 100
                && self
                    .servers
                    .get(&server)
                    .is_some_and(|s| s.final_status == 0)
            {
                self.send_response(server, code, stripped, out);
            }
            return true;
        }
        if (200..300).contains(&code) && invite {
            // RFC 6026: every 2xx goes upstream at once, retransmissions included.
            if state != ClientState::Accepted {
                if let Some(c) = self.clients.get_mut(&id) {
                    c.state = ClientState::Accepted;
                    c.retransmit = None;
                    c.done = true;
                    c.deadline = Some(now + 64 * t1);
                }
                self.arm(now + 64 * t1, Kind::Client, id);
                if let Some(s) = self.servers.get_mut(&server) {
                    s.pending = s.pending.saturating_sub(1);
                }
            }
            let Some(s) = self.servers.get_mut(&server) else {
                self.forward_stateless(msg, out);
                return true;
            };
            let first = s.final_status == 0;
            out.push_back(s.reply.outbound(stripped));
            if first {
                s.final_status = code;
                s.state = ServerState::Accepted;
                s.end = Some(now + 64 * t1);
                self.arm(now + 64 * t1, Kind::Server, server);
                self.cancel_branches(now, server, out);
            }
            self.count_response(code);
            return true;
        }
        // A final response of a non-INVITE, or a non-2xx of an INVITE.
        if matches!(state, ClientState::Completed | ClientState::Accepted) {
            if let Some(c) = self.clients.get(&id)
                && let Some(ack) = &c.ack
            {
                out.push_back(c.dest.outbound(ack.clone()));
            }
            return true;
        }
        if let Some(c) = self.clients.get_mut(&id) {
            c.state = ClientState::Completed;
            c.retransmit = None;
            c.done = true;
            if invite {
                let to = msg.header(HeaderName::To);
                c.ack = build_in_transaction(&c.request, "ACK", to);
                if let Some(ack) = &c.ack {
                    out.push_back(c.dest.outbound(ack.clone()));
                }
            }
            let linger = match (udp, invite) {
                (false, _) => Duration::ZERO,
                (true, true) => 64 * t1,
                (true, false) => t4,
            };
            c.deadline = Some(now + linger);
            self.arm(now + linger, Kind::Client, id);
        }
        if code == 401 || code == 407 {
            let name = if code == 401 {
                HeaderName::WwwAuthenticate
            } else {
                HeaderName::ProxyAuthenticate
            };
            if let Some(s) = self.servers.get_mut(&server) {
                for v in msg.header_lines(name) {
                    s.challenges
                        .push((id, format!("{}: {}", name.as_str(), unfold(v))));
                }
            }
        }
        self.branch_final(now, server, id, code, Some(stripped), out);
        true
    }

    /// Records the final answer of a branch and answers upstream when every branch has
    /// answered (RFC 3261 section 16.7).
    fn branch_final(
        &mut self,
        now: Instant,
        server: TxId,
        branch: TxId,
        code: u16,
        data: Option<Vec<u8>>,
        out: &mut VecDeque<Outbound>,
    ) {
        let Some(s) = self.servers.get_mut(&server) else {
            return;
        };
        s.pending = s.pending.saturating_sub(1);
        if s.final_status != 0 {
            return;
        }
        if !s.invite && (200..300).contains(&code) {
            let data = data.unwrap_or_default();
            self.send_final(now, server, code, data, out);
            return;
        }
        // 6xx first, then the lowest class; within it the responses a caller can act
        // on (RFC 3261 section 16.7 step 6).
        let rank = |c: u16| {
            let class = if c >= 600 { 0 } else { c / 100 };
            let actionable = matches!(c, 401 | 407 | 415 | 420 | 484);
            (class, !actionable)
        };
        let better = s
            .best
            .as_ref()
            .is_none_or(|(b, _, _)| rank(code) < rank(*b));
        if better {
            s.best = Some((code, branch, data));
        }
        let six = code >= 600;
        let pending = s.pending;
        if six && s.invite {
            self.cancel_branches(now, server, out);
        }
        if pending > 0 {
            return;
        }
        let Some(s) = self.servers.get_mut(&server) else {
            return;
        };
        let Some((code, from, data)) = s.best.take() else {
            return;
        };
        let extra: Vec<String> = s
            .challenges
            .iter()
            .filter(|(b, _)| *b != from)
            .map(|(_, l)| l.clone())
            .collect();
        let (code, data) = match data {
            Some(d) if code == 503 => (500, replace_status(&d, 500)),
            Some(d) => (code, d),
            None => {
                let tag = format!("px{server:x}");
                (
                    code,
                    make_response(code, &s.template, &s.to, Some(&tag), &[]),
                )
            }
        };
        let data = if (code == 401 || code == 407) && !extra.is_empty() {
            insert_after_start_line(&data, &extra)
        } else {
            data
        };
        self.send_final(now, server, code, data, out);
    }

    /// Forwards a response by its Vias alone (a 2xx whose transaction is gone).
    fn forward_stateless(&mut self, msg: &Message<'_>, out: &mut VecDeque<Outbound>) {
        let Some(next) = msg.vias().nth(1).and_then(Result::ok) else {
            return;
        };
        let ip = match next.received() {
            Some(Host::Ipv4(a)) => IpAddr::V4(a),
            Some(Host::Ipv6(a)) => IpAddr::V6(a),
            _ => match next.host {
                Host::Ipv4(a) => IpAddr::V4(a),
                Host::Ipv6(a) => IpAddr::V6(a),
                Host::Domain(_) => return,
            },
        };
        let port = match next.rport() {
            Some(Some(p)) => p,
            _ => next.port_or_default(),
        };
        let transport = match next.transport {
            ViaTransport::Tls => TransportKind::Tls,
            t if t.is_reliable() => TransportKind::Tcp,
            _ => TransportKind::Udp,
        };
        let Some(data) = strip_top_via(msg) else {
            return;
        };
        let dest = self.dest(transport, SocketAddr::new(ip, port), None);
        if let Some(code) = msg.status() {
            self.count_response(code.0);
        }
        out.push_back(dest.outbound(data));
    }

    /// Runs the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut VecDeque<Outbound>) {
        while let Some(Reverse((at, kind, id))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            match kind {
                Kind::Server => self.server_timer(now, id, out),
                Kind::Client => self.client_timer(now, id, out),
            }
        }
    }

    fn server_timer(&mut self, now: Instant, id: TxId, out: &mut VecDeque<Outbound>) {
        let t2 = self.config.t2;
        let Some(tx) = self.servers.get_mut(&id) else {
            return;
        };
        if tx.end.is_some_and(|e| e <= now) {
            // Branches still alive answer statelessly from now on.
            if let Some(tx) = self.servers.remove(&id) {
                self.server_keys.remove(&tx.key);
                if let Some(m) = &tx.merge {
                    self.merged.remove(m);
                }
            }
            return;
        }
        if let Some((at, interval)) = tx.retransmit
            && at <= now
            && tx.state == ServerState::Completed
        {
            let next = (interval * 2).min(t2);
            tx.retransmit = Some((now + next, next));
            if let Some(last) = &tx.last {
                out.push_back(tx.reply.outbound(last.clone()));
            }
            self.arm(now + next, Kind::Server, id);
        }
    }

    fn client_timer(&mut self, now: Instant, id: TxId, out: &mut VecDeque<Outbound>) {
        let (t1, t2) = (self.config.t1, self.config.t2);
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        let mut arm = Vec::new();
        if let Some((data, Some((at, interval)))) = c.cancel.as_mut()
            && *at <= now
        {
            out.push_back(c.dest.outbound(data.clone()));
            let next = (*interval * 2).min(t2);
            *at = now + next;
            *interval = next;
            arm.push(now + next);
        }
        if let Some((at, interval)) = c.retransmit
            && at <= now
            && matches!(c.state, ClientState::Calling | ClientState::Proceeding)
        {
            out.push_back(c.dest.outbound(c.request.clone()));
            let next = if c.invite {
                interval * 2
            } else {
                (interval * 2).min(t2)
            };
            c.retransmit = Some((now + next, next));
            arm.push(now + next);
        }
        let mut timed_out = false;
        if c.deadline.is_some_and(|d| d <= now) {
            match c.state {
                ClientState::Completed | ClientState::Accepted => {
                    self.clients.remove(&id);
                    return;
                }
                ClientState::Proceeding if c.invite && !c.c_fired => {
                    // Timer C: cancel the branch and give it 64*T1 more to answer.
                    c.c_fired = true;
                    c.deadline = Some(now + 64 * t1);
                    arm.push(now + 64 * t1);
                }
                _ => timed_out = true,
            }
        }
        let c_fired_now = c.c_fired && c.cancel.is_none() && c.state == ClientState::Proceeding;
        for at in arm {
            self.arm(at, Kind::Client, id);
        }
        if c_fired_now && !timed_out {
            self.cancel_branch(now, id, out);
        }
        if timed_out {
            let Some(c) = self.clients.remove(&id) else {
                return;
            };
            if !c.done {
                self.branch_final(now, c.server, id, 408, None, out);
            }
        }
    }
}

/// The message without its top Via value.
fn strip_top_via(msg: &Message<'_>) -> Option<Vec<u8>> {
    let head = msg.head();
    let mut vias = msg.values(HeaderName::Via);
    let first = vias.next()?;
    let second = vias.next();
    let line = msg.headers().find(|h| h.kind == HeaderName::Via)?;
    let vstart = offset(head, line.value);
    let lend = line_end(head, vstart + line.value.len());
    let at = offset(head, first);
    let edit = match second.map(|s| offset(head, s)) {
        Some(s) if s < lend => (at, s, String::new()),
        _ => (offset(head, line.name), lend, String::new()),
    };
    Some(splice(head, vec![edit], msg.body()))
}

/// A response with another status code.
fn replace_status(data: &[u8], code: u16) -> Vec<u8> {
    let end = memchr::memchr(b'\n', data).map_or(data.len(), |i| i + 1);
    let mut out = format!("SIP/2.0 {code} {}\r\n", reason(code)).into_bytes();
    out.extend_from_slice(&data[end..]);
    out
}

/// A message with header lines added after its start line.
fn insert_after_start_line(data: &[u8], lines: &[String]) -> Vec<u8> {
    let end = memchr::memchr(b'\n', data).map_or(data.len(), |i| i + 1);
    let mut out = data[..end].to_vec();
    for l in lines {
        out.extend_from_slice(l.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(&data[end..]);
    out
}

/// A CANCEL or ACK in the transaction of a request the proxy sent (RFC 3261 sections
/// 9.1 and 17.1.1.3): its Request-URI, top Via, Route, From, Call-ID and CSeq number;
/// the To of the response (`to`) for an ACK.
fn build_in_transaction(request: &[u8], method: &str, to: Option<&str>) -> Option<Vec<u8>> {
    let mut headers = [HeaderIndex::EMPTY; MAX_HEADERS];
    let msg = Message::parse(request, &mut headers).ok()?;
    let uri = msg.request_uri_str()?;
    let via = msg.values(HeaderName::Via).next()?;
    let mut s = format!("{method} {uri} SIP/2.0\r\nVia: {via}\r\nMax-Forwards: 70\r\n");
    for r in msg.header_lines(HeaderName::Route) {
        s.push_str("Route: ");
        s.push_str(&unfold(r));
        s.push_str("\r\n");
    }
    let to = to.or(msg.header(HeaderName::To))?;
    s.push_str(&format!(
        "From: {}\r\nTo: {}\r\nCall-ID: {}\r\nCSeq: {} {method}\r\nContent-Length: 0\r\n\r\n",
        unfold(msg.header(HeaderName::From)?),
        unfold(to),
        unfold(msg.call_id().ok()?),
        msg.cseq().ok()?.seq
    ));
    Some(s.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registrar::{Binding, Config as RegistrarConfig};

    const UNIX: u64 = 1_800_000_000;
    const ME: &str = "127.0.0.1:5060";

    fn registrar(bindings: Vec<Binding>) -> Registrar<Passwords> {
        let users: Passwords = [("alice", "a"), ("bob", "b"), ("carol", "c")]
            .iter()
            .map(|(u, p)| ((*u).to_owned(), (*p).to_owned()))
            .collect();
        let config = RegistrarConfig {
            authenticate: false,
            ..RegistrarConfig::default()
        };
        let mut r = Registrar::with_secret(config, users, [7; 32]).unwrap();
        r.restore(bindings);
        r
    }

    fn binding(contact: &str, source: &str, path: &[&str]) -> Binding {
        Binding {
            aor: "bob@localhost".into(),
            contact: contact.into(),
            expires_at: UNIX + 3600,
            q: None,
            call_id: format!("reg-{contact}"),
            cseq: 1,
            branch: None,
            path: path.iter().map(|p| (*p).to_owned()).collect(),
            instance: None,
            reg_id: None,
            source: source.parse().unwrap(),
            transport: Transport::Udp,
            user_agent: None,
            changed_at: UNIX,
        }
    }

    fn proxy(upstream: Option<&str>) -> Proxy {
        Proxy::new(ProxyConfig {
            udp: vec![ME.parse().unwrap()],
            tcp: vec![ME.parse().unwrap()],
            upstream: upstream.map(|u| Upstream::from_uri(u, false).unwrap()),
            authenticate: false,
            t1: Duration::from_millis(100),
            t2: Duration::from_millis(400),
            t4: Duration::from_millis(500),
            timer_c: Duration::from_secs(10),
            ..ProxyConfig::default()
        })
    }

    fn udp(peer: &str) -> Source {
        Source {
            transport: TransportKind::Udp,
            peer: peer.parse().unwrap(),
            local: ME.parse().unwrap(),
            conn: None,
        }
    }

    fn invite(to: &str) -> Vec<u8> {
        format!(
            "INVITE {to} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKa1\r\n\
             Max-Forwards: 10\r\nFrom: <sip:alice@localhost>;tag=fa\r\nTo: <{to}>\r\n\
             Call-ID: c1\r\nCSeq: 1 INVITE\r\nContent-Length: 4\r\n\r\nbody"
        )
        .into_bytes()
    }

    /// Feeds a message to the proxy, as the core does.
    fn feed(
        p: &mut Proxy,
        r: &Registrar<Passwords>,
        now: Instant,
        src: &Source,
        data: &[u8],
    ) -> Vec<Outbound> {
        let mut h = [HeaderIndex::EMPTY; MAX_HEADERS];
        let msg = Message::parse(data, &mut h).unwrap();
        let mut out = VecDeque::new();
        if msg.is_request() {
            p.handle_request(now, UNIX, r, &msg, src, &mut out);
        } else {
            assert!(p.handle_response(now, &msg, &mut out));
        }
        out.into()
    }

    fn text(o: &Outbound) -> String {
        String::from_utf8(o.data.clone()).unwrap()
    }

    fn first_line(o: &Outbound) -> String {
        text(o).lines().next().unwrap().to_owned()
    }

    /// A response from a UAS to a forwarded request.
    fn answer(req: &Outbound, code: u16, tag: &str, extra: &str) -> Vec<u8> {
        let mut h = [HeaderIndex::EMPTY; MAX_HEADERS];
        let msg = Message::parse(&req.data, &mut h).unwrap();
        let mut s = format!("SIP/2.0 {code} X\r\n");
        for v in msg.header_lines(HeaderName::Via) {
            s.push_str(&format!("Via: {v}\r\n"));
        }
        s.push_str(&format!(
            "From: {}\r\nTo: {};tag={tag}\r\nCall-ID: c1\r\nCSeq: {}\r\n{extra}Content-Length: 0\r\n\r\n",
            msg.header(HeaderName::From).unwrap(),
            msg.header(HeaderName::To).unwrap(),
            msg.header(HeaderName::CSeq).unwrap(),
        ));
        s.into_bytes()
    }

    #[test]
    fn forwarded_invite_is_the_received_one_edited() {
        let r = registrar(vec![binding(
            "sip:bob@10.0.0.5:5062",
            "192.0.2.9:40000",
            &["<sip:edge.example;lr>"],
        )]);
        let mut p = proxy(None);
        let now = Instant::now();
        let out = feed(
            &mut p,
            &r,
            now,
            &udp("192.0.2.1:5070"),
            &invite("sip:bob@localhost"),
        );
        assert_eq!(out.len(), 2);
        assert_eq!(first_line(&out[0]), "SIP/2.0 100 Trying");
        assert_eq!(out[0].peer, "192.0.2.1:5070".parse().unwrap());
        // Through the Path, to where the registration came from (NAT).
        assert_eq!(out[1].peer, "192.0.2.9:40000".parse().unwrap());
        assert_eq!(out[1].local, Some(ME.parse().unwrap()));
        let t = text(&out[1]);
        let branch = t
            .split("branch=")
            .nth(1)
            .and_then(|b| b.split(';').next())
            .unwrap();
        assert!(branch.starts_with(BRANCH_PREFIX));
        let proof = p.dialog_proof("c1", "fa");
        assert_eq!(proof.len(), 2 * PROOF_LEN);
        assert_eq!(
            t,
            format!(
                "INVITE sip:bob@10.0.0.5:5062 SIP/2.0\r\n\
                 Via: SIP/2.0/UDP {ME};branch={branch};rport\r\n\
                 Record-Route: <sip:{ME};lr;dlg={proof}>\r\n\
                 Route: <sip:edge.example;lr>\r\n\
                 Via: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKa1\r\n\
                 Max-Forwards: 9\r\nFrom: <sip:alice@localhost>;tag=fa\r\n\
                 To: <sip:bob@localhost>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n\
                 Content-Length: 4\r\n\r\nbody"
            )
        );
        assert_eq!(p.stats().forwarded, 1);
        assert_eq!(p.active(), (1, 1));
    }

    #[test]
    fn an_ip_address_domain_serves_its_users_at_any_port() {
        let mut b = binding("sip:bob@10.0.0.5:5062", "192.0.2.9:40000", &[]);
        b.aor = "bob@127.0.0.1".into();
        let users: Passwords = [("bob".to_owned(), "b".to_owned())].into_iter().collect();
        let config = RegistrarConfig {
            authenticate: false,
            realm: "127.0.0.1".into(),
            domains: vec!["127.0.0.1".into()],
            ..RegistrarConfig::default()
        };
        let mut r = Registrar::with_secret(config, users, [7; 32]).unwrap();
        r.restore([b]);
        let mut p = Proxy::new(ProxyConfig {
            domain: "127.0.0.1".into(),
            udp: vec!["127.0.0.1:15060".parse().unwrap()],
            authenticate: false,
            ..ProxyConfig::default()
        });
        // No port in the Request-URI, and the server is not on 5060.
        let out = feed(
            &mut p,
            &r,
            Instant::now(),
            &udp("192.0.2.1:5070"),
            &invite("sip:bob@127.0.0.1"),
        );
        assert_eq!(first_line(&out[1]), "INVITE sip:bob@10.0.0.5:5062 SIP/2.0");
        assert_eq!(out[1].peer, "192.0.2.9:40000".parse().unwrap());
        // An unknown user of that domain is not found.
        let out = feed(
            &mut p,
            &r,
            Instant::now(),
            &udp("192.0.2.1:5070"),
            &String::from_utf8(invite("sip:nobody@127.0.0.1"))
                .unwrap()
                .replace("z9hG4bKa1", "z9hG4bKa2")
                .replace("Call-ID: c1", "Call-ID: c2")
                .into_bytes(),
        );
        let lines: Vec<String> = out.iter().map(first_line).collect();
        assert_eq!(lines, ["SIP/2.0 100 Trying", "SIP/2.0 404 Not Found"]);
    }

    #[test]
    fn a_request_coming_back_is_a_loop() {
        // The upstream is the proxy itself.
        let r = registrar(Vec::new());
        let mut p = proxy(Some("sip:127.0.0.1:5060"));
        let now = Instant::now();
        let out = feed(
            &mut p,
            &r,
            now,
            &udp("192.0.2.1:5070"),
            &invite("sip:x@example.org"),
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].peer, ME.parse().unwrap());
        let back = feed(&mut p, &r, now, &udp(ME), &out[1].data);
        assert_eq!(back.len(), 1);
        assert_eq!(first_line(&back[0]), "SIP/2.0 482 Loop Detected");
        assert_eq!(back[0].peer, ME.parse().unwrap());
    }

    fn forked() -> (Proxy, Registrar<Passwords>, Instant, Vec<Outbound>) {
        let r = registrar(vec![
            binding("sip:bob@192.0.2.20", "192.0.2.20:5060", &[]),
            binding("sip:bob@192.0.2.21", "192.0.2.21:5060", &[]),
        ]);
        let mut p = proxy(None);
        let now = Instant::now();
        let out = feed(
            &mut p,
            &r,
            now,
            &udp("192.0.2.1:5070"),
            &invite("sip:bob@localhost"),
        );
        assert_eq!(out.len(), 3);
        (p, r, now, out)
    }

    #[test]
    fn best_response_prefers_6xx_and_acks_every_branch() {
        let (mut p, r, now, out) = forked();
        let src = udp("192.0.2.20:5060");
        let o = feed(&mut p, &r, now, &src, &answer(&out[1], 486, "t1", ""));
        assert_eq!(o.len(), 1);
        assert!(text(&o[0]).starts_with("ACK sip:bob@192.0.2.20 SIP/2.0\r\n"));
        assert!(text(&o[0]).contains("\r\nTo: <sip:bob@localhost>;tag=t1\r\n"));
        let o = feed(&mut p, &r, now, &src, &answer(&out[2], 603, "t2", ""));
        assert_eq!(o.len(), 2);
        assert!(text(&o[0]).starts_with("ACK sip:bob@192.0.2.21 "));
        assert_eq!(first_line(&o[1]), "SIP/2.0 603 X");
        assert_eq!(o[1].peer, "192.0.2.1:5070".parse().unwrap());
        assert_eq!(text(&o[1]).matches("Via:").count(), 1);
        // A retransmitted 486 gets the ACK again, nothing goes upstream.
        let o = feed(&mut p, &r, now, &src, &answer(&out[1], 486, "t1", ""));
        assert_eq!(o.len(), 1);
        assert!(text(&o[0]).starts_with("ACK "));
        assert_eq!(p.stats().by_class, [1, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn challenges_are_merged_and_503_becomes_500() {
        let (mut p, r, now, out) = forked();
        let src = udp("192.0.2.20:5060");
        feed(
            &mut p,
            &r,
            now,
            &src,
            &answer(
                &out[1],
                407,
                "t1",
                "Proxy-Authenticate: Digest realm=\"a\"\r\n",
            ),
        );
        let o = feed(
            &mut p,
            &r,
            now,
            &src,
            &answer(
                &out[2],
                407,
                "t2",
                "Proxy-Authenticate: Digest realm=\"b\"\r\n",
            ),
        );
        let t = text(&o[1]);
        assert!(
            t.starts_with("SIP/2.0 407 X\r\nProxy-Authenticate: Digest realm=\"b\"\r\n"),
            "{t}"
        );
        assert!(t.contains("Proxy-Authenticate: Digest realm=\"a\""), "{t}");

        let (mut p, r, now, out) = forked();
        feed(&mut p, &r, now, &src, &answer(&out[1], 404, "t1", ""));
        let o = feed(&mut p, &r, now, &src, &answer(&out[2], 407, "t2", ""));
        assert_eq!(first_line(&o[1]), "SIP/2.0 407 X");

        let (mut p, r, now, out) = forked();
        feed(&mut p, &r, now, &src, &answer(&out[1], 503, "t1", ""));
        let o = feed(&mut p, &r, now, &src, &answer(&out[2], 503, "t2", ""));
        assert_eq!(first_line(&o[1]), "SIP/2.0 500 Server Internal Error");
    }

    #[test]
    fn timers_retransmit_then_408() {
        let (mut p, _, now, _) = forked();
        let mut out = VecDeque::new();
        let t1 = Duration::from_millis(100);
        assert_eq!(p.poll_timeout(), Some(now + t1));
        p.handle_timeout(now + t1, &mut out);
        assert_eq!(out.len(), 2, "timer A on both branches");
        out.clear();
        // Doubling: the next at 3*T1.
        p.handle_timeout(now + 2 * t1, &mut out);
        assert!(out.is_empty());
        p.handle_timeout(now + 3 * t1, &mut out);
        assert_eq!(out.len(), 2);
        // A branch answering 180 stops its retransmissions and starts Timer C.
        let mut h = [HeaderIndex::EMPTY; MAX_HEADERS];
        let first = out[0].clone();
        let ring = answer(&first, 180, "t1", "");
        let msg = Message::parse(&ring, &mut h).unwrap();
        let mut o = VecDeque::new();
        assert!(p.handle_response(now + 3 * t1, &msg, &mut o));
        assert_eq!(o.len(), 1);
        assert_eq!(first_line(&o[0]), "SIP/2.0 180 X");
        out.clear();
        // Timer B on the silent branch; the ringing one waits for Timer C.
        p.handle_timeout(now + 64 * t1, &mut out);
        assert!(
            out.iter()
                .all(|o| !first_line(o).starts_with("SIP/2.0 408"))
        );
        out.clear();
        // Timer C: CANCEL, then 64*T1 later the branch is given up: 408.
        p.handle_timeout(now + 3 * t1 + Duration::from_secs(10), &mut out);
        assert_eq!(out.len(), 1);
        assert!(text(&out[0]).starts_with("CANCEL sip:bob@192.0.2.20 SIP/2.0\r\n"));
        out.clear();
        p.handle_timeout(now + 3 * t1 + Duration::from_secs(10) + 64 * t1, &mut out);
        let finals: Vec<String> = out
            .iter()
            .map(first_line)
            .filter(|l| l.starts_with("SIP/2.0"))
            .collect();
        assert_eq!(finals, vec!["SIP/2.0 408 Request Timeout".to_owned()]);
    }

    /// Drives the timers to `until`, collecting what is sent.
    fn run(p: &mut Proxy, until: Instant) -> Vec<Outbound> {
        let mut out = VecDeque::new();
        while let Some(at) = p.poll_timeout().filter(|at| *at <= until) {
            p.handle_timeout(at, &mut out);
        }
        out.into()
    }

    #[test]
    fn non_2xx_is_retransmitted_until_acked_and_nothing_is_left() {
        let r = registrar(Vec::new());
        let mut p = proxy(None);
        let now = Instant::now();
        let src = udp("192.0.2.1:5070");
        let out = feed(&mut p, &r, now, &src, &invite("sip:nobody@localhost"));
        assert_eq!(out.len(), 2);
        assert_eq!(first_line(&out[1]), "SIP/2.0 404 Not Found");
        let t1 = Duration::from_millis(100);
        // Timer G: T1, then 2*T1 later.
        let again = run(&mut p, now + 3 * t1);
        assert_eq!(again.len(), 2);
        assert!(again.iter().all(|o| o.data == out[1].data));
        let ack = String::from_utf8(invite("sip:nobody@localhost"))
            .unwrap()
            .replace("INVITE sip", "ACK sip")
            .replace("1 INVITE", "1 ACK")
            .replace(
                "<sip:nobody@localhost>\r\nCall",
                "<sip:nobody@localhost>;tag=px2\r\nCall",
            );
        assert!(feed(&mut p, &r, now + 3 * t1, &src, ack.as_bytes()).is_empty());
        assert_eq!(p.stats().absorbed, 1);
        assert!(run(&mut p, now + 10 * t1).is_empty());
        assert_eq!(p.active(), (0, 0));
        assert!(p.server_keys.is_empty() && p.merged.is_empty());
    }

    #[test]
    fn a_whole_call_leaves_no_state() {
        let r = registrar(vec![binding("sip:bob@192.0.2.20", "192.0.2.20:5060", &[])]);
        let mut p = proxy(None);
        let now = Instant::now();
        let alice = udp("192.0.2.1:5070");
        let bob = udp("192.0.2.20:5060");
        let out = feed(&mut p, &r, now, &alice, &invite("sip:bob@localhost"));
        let fwd = out[1].clone();
        let o = feed(&mut p, &r, now, &bob, &answer(&fwd, 180, "tb", ""));
        assert_eq!(first_line(&o[0]), "SIP/2.0 180 X");
        let o = feed(&mut p, &r, now, &bob, &answer(&fwd, 200, "tb", ""));
        assert_eq!(first_line(&o[0]), "SIP/2.0 200 X");
        // A retransmitted 2xx is forwarded too (RFC 6026).
        let o = feed(&mut p, &r, now, &bob, &answer(&fwd, 200, "tb", ""));
        assert_eq!(o.len(), 1);
        // The Record-Route the proxy added to the INVITE, as the UAs' route set.
        let record_route = fwd
            .data
            .split(|&b| b == b'\n')
            .find_map(|l| l.strip_prefix(b"Record-Route: "))
            .map(|v| String::from_utf8_lossy(v).trim_end().to_owned())
            .unwrap();
        assert_eq!(
            record_route,
            format!("<sip:{ME};lr;dlg={}>", p.dialog_proof("c1", "fa"))
        );
        let ack = format!(
            "ACK sip:bob@192.0.2.20 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKa2\r\n\
             Route: {record_route}\r\nMax-Forwards: 70\r\nFrom: <sip:alice@localhost>;tag=fa\r\n\
             To: <sip:bob@localhost>;tag=tb\r\nCall-ID: c1\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n"
        );
        let o = feed(&mut p, &r, now, &alice, ack.as_bytes());
        assert_eq!(o.len(), 1);
        assert_eq!(o[0].peer, "192.0.2.20:5060".parse().unwrap());
        assert!(!text(&o[0]).contains("Route:"));
        // Bob's contact is reached where his registration came from (NAT).
        let nat = ack
            .replace("sip:bob@192.0.2.20 ", "sip:bob@10.0.0.5:5062 ")
            .replace("z9hG4bKa2", "z9hG4bKa3");
        let r2 = registrar(vec![binding(
            "sip:bob@10.0.0.5:5062",
            "192.0.2.9:40000",
            &["<sip:edge.example;lr>"],
        )]);
        let o = feed(&mut p, &r2, now, &alice, nat.as_bytes());
        assert_eq!(o[0].peer, "192.0.2.9:40000".parse().unwrap());
        assert!(text(&o[0]).contains("\r\nRoute: <sip:edge.example;lr>\r\n"));
        let bye = ack
            .replace("ACK sip", "BYE sip")
            .replace("1 ACK", "2 BYE")
            .replace("z9hG4bKa2", "z9hG4bKb2");
        let o = feed(&mut p, &r, now, &alice, bye.as_bytes());
        assert_eq!(o.len(), 1);
        let o = feed(&mut p, &r, now, &bob, &answer(&o[0], 200, "tb", ""));
        assert_eq!(first_line(&o[0]), "SIP/2.0 200 X");
        assert_eq!(o[0].peer, "192.0.2.1:5070".parse().unwrap());
        run(&mut p, now + Duration::from_secs(60));
        assert_eq!(p.active(), (0, 0));
        assert!(p.timers.is_empty());
    }

    fn bye(ruri: &str, routes: &str, extra: &str) -> Vec<u8> {
        format!(
            "BYE {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1:5070;branch=z9hG4bKb1\r\n\
             Route: {routes}\r\nMax-Forwards: 70\r\nFrom: <sip:alice@localhost>;tag=fa\r\n\
             To: <sip:carol@example.org>;tag=tc\r\nCall-ID: c2\r\nCSeq: 2 BYE\r\n{extra}\
             Content-Length: 0\r\n\r\n"
        )
        .into_bytes()
    }

    #[test]
    fn routes_loose_and_strict() {
        let r = registrar(Vec::new());
        let mut p = proxy(None);
        let now = Instant::now();
        let proof = p.dialog_proof("c2", "fa");
        // Loose: the own entry is removed from a list line, the next one is used.
        let out = feed(
            &mut p,
            &r,
            now,
            &udp("192.0.2.1:5070"),
            &bye(
                "sip:carol@192.0.2.30:5080",
                &format!("<sip:127.0.0.1:5060;lr;dlg={proof}>, <sip:10.0.0.9;lr>"),
                "",
            ),
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].peer, "10.0.0.9:5060".parse().unwrap());
        let t = text(&out[0]);
        assert!(
            t.starts_with("BYE sip:carol@192.0.2.30:5080 SIP/2.0\r\n"),
            "{t}"
        );
        assert_eq!(t.matches("Route:").count(), 1, "{t}");
        assert!(t.contains("\r\nRoute: <sip:10.0.0.9;lr>\r\n"), "{t}");
        assert!(!t.contains("Record-Route"), "{t}");

        // Strict: the Request-URI is the server's; the last Route becomes it.
        let out = feed(
            &mut p,
            &r,
            now,
            &udp("192.0.2.1:5070"),
            &bye(
                &format!("sip:127.0.0.1:5060;dlg={proof}"),
                "<sip:10.0.0.9:5090;lr>, <sip:carol@192.0.2.30:5080>",
                "",
            )
            .replace_branch(),
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].peer, "10.0.0.9:5090".parse().unwrap());
        let t = text(&out[0]);
        assert!(
            t.starts_with("BYE sip:carol@192.0.2.30:5080 SIP/2.0\r\n"),
            "{t}"
        );
        assert_eq!(t.matches("Route:").count(), 1, "{t}");

        // Proxy-Require: no extension is supported.
        let out = feed(
            &mut p,
            &r,
            now,
            &udp("192.0.2.1:5070"),
            &bye(
                "sip:carol@192.0.2.30:5080",
                &format!("<sip:127.0.0.1:5060;lr;dlg={proof}>, <sip:10.0.0.9;lr>"),
                "Proxy-Require: foo\r\n",
            )
            .replace_branch()
            .replace_branch(),
        );
        assert_eq!(first_line(&out[0]), "SIP/2.0 420 Bad Extension");
        assert!(text(&out[0]).contains("\r\nUnsupported: foo\r\n"));
    }

    /// An in-dialog request `method` (To-tag `tb`) to `ruri` with the given Route lines.
    fn in_dialog(method: &str, ruri: &str, routes: &[String], branch: &str) -> Vec<u8> {
        let mut s = format!(
            "{method} {ruri} SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.66:5060;branch=z9hG4bK{branch}\r\n"
        );
        for r in routes {
            s.push_str(&format!("Route: {r}\r\n"));
        }
        s.push_str(&format!(
            "Max-Forwards: 70\r\nFrom: <sip:alice@localhost>;tag=fa\r\n\
             To: <sip:bob@localhost>;tag=tb\r\nCall-ID: c9\r\nCSeq: 5 {method}\r\n\
             Event: check-sync;reboot=true\r\nContent-Length: 0\r\n\r\n"
        ));
        s.into_bytes()
    }

    #[test]
    fn in_dialog_requests_need_the_proof_of_a_route_the_proxy_made() {
        let r = registrar(vec![binding("sip:bob@192.0.2.20", "192.0.2.20:5060", &[])]);
        let mut p = proxy(None);
        let now = Instant::now();
        let src = udp("192.0.2.66:5060");
        let proof = p.dialog_proof("c9", "fa");
        let other_call = p.dialog_proof("c8", "fa");
        let refused = [
            // No Route: to an arbitrary address, and to a registered phone.
            ("INVITE", "sip:victim@203.0.113.7:5060", vec![]),
            ("MESSAGE", "sip:victim@203.0.113.7", vec![]),
            ("NOTIFY", "sip:bob@192.0.2.20", vec![]),
            ("BYE", "sip:bob@192.0.2.20", vec![]),
            ("OPTIONS", "sip:bob@localhost", vec![]),
            // A Route naming the proxy, without or with a wrong proof.
            (
                "NOTIFY",
                "sip:bob@192.0.2.20",
                vec![format!("<sip:{ME};lr>")],
            ),
            (
                "NOTIFY",
                "sip:bob@192.0.2.20",
                vec![format!("<sip:{ME};lr;dlg=00>")],
            ),
            (
                "NOTIFY",
                "sip:bob@192.0.2.20",
                vec![format!("<sip:{ME};lr;dlg={other_call}>")],
            ),
            // The proof in a Route entry that is not the proxy's.
            (
                "BYE",
                "sip:bob@192.0.2.20",
                vec![format!("<sip:192.0.2.99;lr;dlg={proof}>")],
            ),
        ];
        for (i, (method, ruri, routes)) in refused.iter().enumerate() {
            let out = feed(
                &mut p,
                &r,
                now,
                &src,
                &in_dialog(method, ruri, routes, &format!("n{i}")),
            );
            assert_eq!(out.len(), 1, "{method} {ruri} {routes:?}");
            assert_eq!(
                first_line(&out[0]),
                "SIP/2.0 403 Forbidden",
                "{method} {routes:?}"
            );
            assert_eq!(out[0].peer, src.peer);
            assert_eq!(p.active(), (0, 0), "a refusal keeps no state");
        }
        assert_eq!(p.stats().forwarded, 0);
        assert_eq!(p.stats().stateless, refused.len() as u64);
        // A made-up ACK is dropped.
        assert!(
            feed(
                &mut p,
                &r,
                now,
                &src,
                &in_dialog("ACK", "sip:x@203.0.113.7", &[], "a")
            )
            .is_empty()
        );

        // With the proof, either direction of the dialog: from the caller (From-tag
        // signed) and from the callee (To-tag signed).
        let routes = vec![format!("<sip:{ME};lr;dlg={proof}>")];
        let out = feed(
            &mut p,
            &r,
            now,
            &src,
            &in_dialog("BYE", "sip:bob@192.0.2.20", &routes, "ok1"),
        );
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].peer, "192.0.2.20:5060".parse().unwrap());
        let reverse = String::from_utf8(in_dialog(
            "INFO",
            "sip:alice@192.0.2.1:5070",
            &routes,
            "ok2",
        ))
        .unwrap()
        .replace(
            "<sip:alice@localhost>;tag=fa",
            "<sip:bob@localhost>;tag=tb2",
        )
        .replace("<sip:bob@localhost>;tag=tb", "<sip:alice@localhost>;tag=fa");
        let out = feed(&mut p, &r, now, &src, reverse.as_bytes());
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].peer, "192.0.2.1:5070".parse().unwrap());
        assert_eq!(p.stats().forwarded, 2);
    }

    #[test]
    fn challenges_keep_no_state_and_are_not_retransmitted() {
        let r = registrar(vec![binding("sip:bob@192.0.2.20", "192.0.2.20:5060", &[])]);
        let mut p = Proxy::new(ProxyConfig {
            authenticate: true,
            ..proxy(None).config.clone()
        });
        let now = Instant::now();
        let src = udp("192.0.2.66:5060");
        let first = feed(&mut p, &r, now, &src, &invite("sip:bob@localhost"));
        assert_eq!(first.len(), 1, "no 100 Trying before the credentials");
        assert_eq!(
            first_line(&first[0]),
            "SIP/2.0 407 Proxy Authentication Required"
        );
        assert_eq!(p.active(), (0, 0));
        assert!(p.timers.is_empty() && p.server_keys.is_empty() && p.merged.is_empty());
        // Nothing is retransmitted, however long the caller stays silent.
        assert!(run(&mut p, now + Duration::from_secs(64)).is_empty());
        // A retransmission is answered again, with the same To-tag.
        let again = feed(&mut p, &r, now, &src, &invite("sip:bob@localhost"));
        let tag = |o: &Outbound| {
            text(o)
                .split("To: ")
                .nth(1)
                .map(|t| t.lines().next().unwrap_or("").to_owned())
        };
        assert_eq!(tag(&again[0]), tag(&first[0]));
        // Its ACK ends here.
        let ack = String::from_utf8(invite("sip:bob@localhost"))
            .unwrap()
            .replace("INVITE sip", "ACK sip")
            .replace("1 INVITE", "1 ACK")
            .replace(
                "<sip:bob@localhost>\r\n",
                &format!("{}\r\n", tag(&first[0]).unwrap()),
            );
        assert!(feed(&mut p, &r, now, &src, ack.as_bytes()).is_empty());
        // A flood leaves nothing behind.
        for i in 0..10_000 {
            let inv = String::from_utf8(invite("sip:bob@localhost"))
                .unwrap()
                .replace("z9hG4bKa1", &format!("z9hG4bKf{i}"))
                .replace("Call-ID: c1", &format!("Call-ID: f{i}"));
            assert_eq!(feed(&mut p, &r, now, &src, inv.as_bytes()).len(), 1);
        }
        assert_eq!(p.active(), (0, 0));
        assert!(p.timers.is_empty() && p.server_keys.is_empty());
        assert_eq!(p.stats().transactions, 0);
        assert_eq!(p.stats().stateless, 10_002);
    }

    #[test]
    fn beyond_its_transaction_limit_the_proxy_answers_503_statelessly() {
        let r = registrar(vec![binding("sip:bob@192.0.2.20", "192.0.2.20:5060", &[])]);
        let mut p = Proxy::new(ProxyConfig {
            max_transactions: 3,
            ..proxy(None).config.clone()
        });
        let now = Instant::now();
        let src = udp("192.0.2.1:5070");
        let mut codes = Vec::new();
        for i in 0..5 {
            let inv = String::from_utf8(invite("sip:bob@localhost"))
                .unwrap()
                .replace("z9hG4bKa1", &format!("z9hG4bKl{i}"))
                .replace("Call-ID: c1", &format!("Call-ID: l{i}"));
            let out = feed(&mut p, &r, now, &src, inv.as_bytes());
            codes.push(first_line(&out[0]));
            if i >= 3 {
                assert_eq!(out.len(), 1);
                assert!(text(&out[0]).contains("\r\nRetry-After: 5\r\n"));
            }
        }
        assert_eq!(codes[..3], ["SIP/2.0 100 Trying"; 3]);
        assert_eq!(codes[3..], ["SIP/2.0 503 Service Unavailable"; 2]);
        assert_eq!(p.active().0, 3);
    }

    /// Gives a request a new branch (a new transaction).
    trait NewBranch {
        fn replace_branch(self) -> Vec<u8>;
    }

    impl NewBranch for Vec<u8> {
        fn replace_branch(self) -> Vec<u8> {
            let t = String::from_utf8(self).unwrap();
            let at = t.find(";branch=z9hG4bK").unwrap() + ";branch=z9hG4bK".len();
            let mut t = t;
            t.insert(at, 'x');
            t.into_bytes()
        }
    }

    #[test]
    fn top_via_removed_from_a_list() {
        let data = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKcs1.2, \
                     SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa\r\nv: SIP/2.0/TCP 192.0.2.2\r\n\
                     Content-Length: 0\r\n\r\n";
        let mut h = [HeaderIndex::EMPTY; 8];
        let msg = Message::parse(data, &mut h).unwrap();
        assert_eq!(
            strip_top_via(&msg).unwrap(),
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKa\r\n\
              v: SIP/2.0/TCP 192.0.2.2\r\nContent-Length: 0\r\n\r\n"
        );
        let data =
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1\r\nVia: SIP/2.0/UDP 192.0.2.1\r\n\r\n";
        let mut h = [HeaderIndex::EMPTY; 8];
        let msg = Message::parse(data, &mut h).unwrap();
        assert_eq!(
            strip_top_via(&msg).unwrap(),
            b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.1\r\n\r\n"
        );
    }

    #[test]
    fn upstream_must_be_an_address() {
        assert_eq!(
            Upstream::from_uri("sip:pbx.example:5060", false),
            Err(UpstreamError::NotAnAddress)
        );
        assert_eq!(
            Upstream::from_uri("tel:123", false),
            Err(UpstreamError::NotSip)
        );
        let u = Upstream::from_uri("sip:[::1]:5070;transport=tcp", true).unwrap();
        assert_eq!(u.addr, "[::1]:5070".parse().unwrap());
        assert_eq!(u.transport, TransportKind::Tcp);
    }
}
