//! The registrar: REGISTER requests (RFC 3261 section 10.3) with digest authentication
//! (RFC 7616, RFC 8760), Path (RFC 3327) and SIP outbound flows (RFC 5626).
//!
//! [`Registrar`] is synchronous and free of I/O: [`Registrar::handle`] takes a parsed
//! REGISTER with the time it arrived and the address and transport it came from, writes
//! the whole response into the caller's buffer and returns an [`Outcome`] naming the
//! bindings that were added, changed, refreshed or removed (for persistence and for the
//! uaCSTA session manager). The driver also calls [`Registrar::expire`] when
//! [`Registrar::next_expiry`] is reached.
//!
//! Nonces carry their own validity: the time they were made, a sequence number, and a
//! keyed hash of both and of the IP address the challenge went to, under a
//! per-process secret. Challenging keeps no state, so a flood of requests without
//! credentials costs the registrar nothing. A nonce older than
//! [`Config::nonce_lifetime`], or received from another IP address than the one it
//! was made for, is answered with a new challenge with `stale=true`.
//!
//! Replays are refused (RFC 7616 section 3.3): the registrar remembers, for every nonce
//! that authenticated a request and is still within its lifetime, the highest nonce
//! count (`nc`) used with it; a request whose count is not higher is a replay and is
//! challenged again (`stale=true`). Only nonces that authenticated a request are
//! remembered, so the table grows with the legitimate traffic of the last lifetime,
//! never with an attacker's requests.
//!
//! Wrong answers are counted by address and by user ([`crate::guard`]): ten within a
//! minute block the address, or the user, for 30 s (doubling, up to 15 min), during
//! which credentials from there, or for that user, are answered 503 with Retry-After
//! without being checked, except for a user at an address it authenticated from
//! within the last day, so an attack on a user does not lock its phone out.
//!
//! ```
//! use std::collections::HashMap;
//! use csta_server::registrar::{Config, Registrar, Transport};
//! use sip_lite::wire::{HeaderIndex, Message};
//!
//! let config = Config {
//!     realm: "example.com".to_owned(),
//!     domains: vec!["example.com".to_owned()],
//!     authenticate: false,
//!     ..Config::default()
//! };
//! let mut registrar = Registrar::new(config, HashMap::new())?;
//! let request = b"REGISTER sip:example.com SIP/2.0\r\n\
//!     Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK-1\r\n\
//!     From: <sip:alice@example.com>;tag=1\r\nTo: <sip:alice@example.com>\r\n\
//!     Call-ID: a1@192.0.2.10\r\nCSeq: 1 REGISTER\r\n\
//!     Contact: <sip:alice@192.0.2.10>\r\nContent-Length: 0\r\n\r\n";
//! let mut headers = [HeaderIndex::EMPTY; 16];
//! let msg = Message::parse(request, &mut headers)?;
//! let now = 1_764_000_000;
//! let mut response = Vec::new();
//! let source = ("192.0.2.10:5060".parse()?, Transport::Udp);
//! let outcome = registrar.handle(now, &msg, source, &mut response);
//! assert_eq!(outcome.status.map(|s| s.0), Some(200));
//! assert_eq!(outcome.added[0].contact, "sip:alice@192.0.2.10");
//! assert!(response.starts_with(b"SIP/2.0 200 OK\r\n"));
//! assert_eq!(registrar.lookup(now, "alice@example.com").count(), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::guard::{AuthGuard, GuardConfig, GuardStats, Verdict};
use sha2::{Digest as _, Sha256};
use sip_lite::digest::{ChallengeRepr, Secret, Verifier};
use sip_lite::wire::{
    Algorithm, Contact, Credentials, Emit, EmitError, HeaderName, Message, Method, NameAddr, Qop,
    Sink, SipDate, SipUri, SliceSink, StatusCode, Uri, Writer,
};

/// How a binding's requests reach the phone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
    /// WebSocket (RFC 7118).
    Ws,
    /// Secure WebSocket (RFC 7118).
    Wss,
}

impl Transport {
    /// The Via token of the transport.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Udp => "UDP",
            Transport::Tcp => "TCP",
            Transport::Tls => "TLS",
            Transport::Ws => "WS",
            Transport::Wss => "WSS",
        }
    }

    /// Whether the transport is connection-oriented.
    pub fn is_reliable(self) -> bool {
        self != Transport::Udp
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The registrar's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The digest realm.
    pub realm: String,
    /// The domains served: the Request-URI host and the To host must be one of these
    /// (compared case-insensitively); others are answered 404. Empty serves any domain.
    pub domains: Vec<String>,
    /// Whether REGISTER requests must be authenticated with digest.
    pub authenticate: bool,
    /// The expiry given to a contact with no `expires` parameter in a request without
    /// an Expires header, in seconds.
    pub default_expires: u32,
    /// The shortest expiry accepted (other than 0); shorter ones are answered 423.
    pub min_expires: u32,
    /// The longest expiry granted; longer requests are shortened to this.
    pub max_expires: u32,
    /// The most contacts one address-of-record may have; more are answered 403.
    pub max_contacts: usize,
    /// How long a nonce stays valid, in seconds. A phone keeps using a nonce for
    /// further requests (with growing nonce counts) until it is answered `stale=true`.
    pub nonce_lifetime: u32,
    /// The digest algorithms offered, the preferred first; one `WWW-Authenticate` is
    /// sent for each. RFC 8760 section 2.4 orders SHA-256 before MD5.
    pub algorithms: Vec<Algorithm>,
    /// The limits on wrong credentials ([`crate::guard`]).
    pub guard: GuardConfig,
}

impl Default for Config {
    /// Realm and domain `localhost`, authentication on, expiry 3600 s (60 to 7200),
    /// 10 contacts per address-of-record, nonces valid for 30 s, SHA-256 then MD5.
    fn default() -> Self {
        Config {
            realm: "localhost".to_owned(),
            domains: vec!["localhost".to_owned()],
            authenticate: true,
            default_expires: 3600,
            min_expires: 60,
            max_expires: 7200,
            max_contacts: 10,
            nonce_lifetime: 30,
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
            guard: GuardConfig::default(),
        }
    }
}

/// Where the registrar finds users' secrets.
pub trait Users {
    /// The secret of `username` in `realm` for `algorithm`, or `None` for an unknown
    /// user (who is challenged again, like a wrong password).
    fn secret(&self, username: &str, realm: &str, algorithm: Algorithm) -> Option<Secret<'_>>;
}

impl<T: Users + ?Sized> Users for Arc<T> {
    fn secret(&self, username: &str, realm: &str, algorithm: Algorithm) -> Option<Secret<'_>> {
        (**self).secret(username, realm, algorithm)
    }
}

impl<T: Users + ?Sized> Users for Box<T> {
    fn secret(&self, username: &str, realm: &str, algorithm: Algorithm) -> Option<Secret<'_>> {
        (**self).secret(username, realm, algorithm)
    }
}

/// User names and their passwords.
impl<S: BuildHasher> Users for HashMap<String, String, S> {
    fn secret(&self, username: &str, _realm: &str, _algorithm: Algorithm) -> Option<Secret<'_>> {
        self.get(username).map(|p| Secret::Password(p))
    }
}

/// User names and their passwords.
impl Users for std::collections::BTreeMap<String, String> {
    fn secret(&self, username: &str, _realm: &str, _algorithm: Algorithm) -> Option<Secret<'_>> {
        self.get(username).map(|p| Secret::Password(p))
    }
}

/// One contact of an address-of-record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Binding {
    /// The address-of-record: `user@host`, host in lower case (see [`aor_key`]).
    pub aor: String,
    /// The contact URI.
    pub contact: String,
    /// When the binding expires, in Unix seconds.
    pub expires_at: u64,
    /// The `q` parameter in thousandths, if given.
    pub q: Option<u16>,
    /// The Call-ID of the REGISTER that last updated the binding.
    pub call_id: String,
    /// Its CSeq number.
    pub cseq: u32,
    /// The branch of its top Via: a REGISTER with the same Call-ID, CSeq and branch is
    /// a retransmission of it.
    #[serde(default)]
    pub branch: Option<String>,
    /// The Path values (RFC 3327), topmost first: requests to the contact take this
    /// route.
    pub path: Vec<String>,
    /// The `+sip.instance` parameter without its angle brackets, if given.
    pub instance: Option<String>,
    /// The `reg-id` parameter of an outbound flow (RFC 5626); set only when outbound
    /// processing was applied.
    pub reg_id: Option<u32>,
    /// The address the REGISTER came from: requests to the contact go there (the
    /// contact may be a private address behind NAT).
    pub source: SocketAddr,
    /// The transport it came over.
    pub transport: Transport,
    /// The User-Agent of the REGISTER, if given.
    pub user_agent: Option<String>,
    /// When the contact, source, transport or path last changed (or the binding was
    /// made), in Unix seconds; refreshes leave it alone.
    pub changed_at: u64,
}

impl Binding {
    /// Seconds left at `now` (0 once expired).
    pub fn expires_in(&self, now: u64) -> u32 {
        u32::try_from(self.expires_at.saturating_sub(now)).unwrap_or(u32::MAX)
    }

    /// Whether this is an RFC 5626 outbound flow (instance and reg-id).
    pub fn is_outbound(&self) -> bool {
        self.instance.is_some() && self.reg_id.is_some()
    }

    /// The `q` value ordering bindings: an absent `q` counts as 1.0.
    fn q_order(&self) -> u16 {
        self.q.unwrap_or(1000)
    }
}

/// What [`Registrar::handle`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct Outcome {
    /// The status written into the output buffer; `None` when nothing was written
    /// (the message was a response, or not a REGISTER request).
    pub status: Option<StatusCode>,
    /// The address-of-record whose bindings were added, changed, refreshed or removed.
    pub aor: Option<Arc<str>>,
    /// New bindings.
    pub added: Vec<Binding>,
    /// Bindings whose contact, source, transport or path changed: the phone's flow is
    /// new (a reboot, a new NAT mapping).
    pub changed: Vec<Binding>,
    /// How many bindings were only refreshed (new expiry, Call-ID or CSeq).
    pub refreshed: usize,
    /// Bindings removed (expires 0, `Contact: *`, or an outbound flow replaced).
    pub removed: Vec<Binding>,
}

impl Outcome {
    /// Whether any binding was added, changed, refreshed or removed.
    pub fn is_modified(&self) -> bool {
        !self.added.is_empty()
            || !self.changed.is_empty()
            || self.refreshed > 0
            || !self.removed.is_empty()
    }
}

/// The longest address-of-record key, in octets; longer ones are refused with 400.
pub const MAX_AOR_LEN: usize = 256;

/// The longest contact URI, in octets; longer ones are refused with 400.
pub const MAX_CONTACT_LEN: usize = 1024;

/// An address-of-record key built on the stack.
struct AorBuf {
    buf: [u8; MAX_AOR_LEN],
    len: usize,
}

impl AorBuf {
    fn from_uri(uri: &SipUri<'_>) -> Option<AorBuf> {
        let user = uri.user?;
        let mut k = AorBuf {
            buf: [0; MAX_AOR_LEN],
            len: 0,
        };
        let mut host = [0u8; MAX_AOR_LEN];
        let mut sink = SliceSink::new(&mut host);
        uri.host.emit(&mut sink).ok()?;
        let host = sink.written();
        let total = user.len() + 1 + host.len();
        if user.is_empty() || total > MAX_AOR_LEN {
            return None;
        }
        k.buf[..user.len()].copy_from_slice(user.as_bytes());
        k.buf[user.len()] = b'@';
        let h = &mut k.buf[user.len() + 1..total];
        h.copy_from_slice(host);
        h.make_ascii_lowercase();
        k.len = total;
        Some(k)
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

/// The address-of-record key of a SIP URI: `user@host` with the host in lower case
/// (scheme, port and parameters dropped), as [`Binding::aor`] holds it. `None` without
/// a user part or when longer than [`MAX_AOR_LEN`].
pub fn aor_key(uri: &SipUri<'_>) -> Option<String> {
    AorBuf::from_uri(uri).map(|k| k.as_str().to_owned())
}

/// A Sink appending to a `Vec<u8>`.
struct VecSink<'v>(&'v mut Vec<u8>);

impl Sink for VecSink<'_> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) -> Result<(), EmitError> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
}

/// A nonce: 16 hexadecimal digits of the Unix time it was made, 8 of a sequence number
/// and 32 of a keyed hash of both and of the IP address challenged.
const NONCE_LEN: usize = 56;
/// The part of a nonce that the keyed hash covers, with the address: time and sequence.
const NONCE_STAMP: usize = 24;

/// A nonce and the user it authenticated.
type NonceUse = ([u8; NONCE_LEN], Box<str>);

/// The highest nonce count seen with each nonce and user that authenticated a request
/// and is still within its lifetime (RFC 7616 section 3.3: the count must grow).
#[derive(Debug, Default)]
struct NonceCounts {
    counts: HashMap<NonceUse, u32>,
    /// The nonces of `counts` with the time they were first used, oldest first. A nonce
    /// is made before it is first used, so one lifetime after that use it has expired
    /// and can be forgotten.
    order: VecDeque<(u64, NonceUse)>,
}

impl NonceCounts {
    /// Records that `nonce` authenticated a request of `user` with count `nc` at `now`:
    /// false (a replay) unless `nc` is higher than every count seen with them.
    fn advance(&mut self, now: u64, lifetime: u32, nonce: NonceUse, nc: u32) -> bool {
        while let Some((t, _)) = self.order.front() {
            if now.saturating_sub(*t) <= u64::from(lifetime) {
                break;
            }
            if let Some((_, n)) = self.order.pop_front() {
                self.counts.remove(&n);
            }
        }
        match self.counts.get_mut(&nonce) {
            Some(last) if nc <= *last => false,
            Some(last) => {
                *last = nc;
                true
            }
            None => {
                self.counts.insert(nonce.clone(), nc);
                self.order.push_back((now, nonce));
                true
            }
        }
    }

    fn len(&self) -> usize {
        self.counts.len()
    }
}

/// How a received nonce stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NonceState {
    /// Made by this process and within its lifetime.
    Fresh,
    /// Made by this process, lifetime over.
    Expired,
    /// Not made by this process (forged, or from before a restart).
    Foreign,
}

/// Why a request is refused: the status, reason and what the response adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Reject {
    status: StatusCode,
    reason: &'static str,
    extra: Extra,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Extra {
    None,
    Challenge {
        stale: bool,
    },
    MinExpires,
    Unsupported,
    /// `Retry-After` with this many seconds.
    RetryAfter(u64),
}

const fn reject(status: u16, reason: &'static str) -> Reject {
    Reject {
        status: StatusCode(status),
        reason,
        extra: Extra::None,
    }
}

/// One Contact of a request, checked.
struct ContactIn<'m> {
    uri: Uri<'m>,
    /// The URI as emitted (at most [`MAX_CONTACT_LEN`] octets).
    text: ([u8; MAX_CONTACT_LEN], usize),
    expires: u32,
    q: Option<u16>,
    instance: Option<&'m str>,
    /// Set when outbound processing applies.
    reg_id: Option<u32>,
}

impl ContactIn<'_> {
    fn text(&self) -> &str {
        std::str::from_utf8(&self.text.0[..self.text.1]).unwrap_or_default()
    }

    /// Whether `b` is the binding this contact designates.
    fn matches(&self, b: &Binding) -> bool {
        match (self.instance, self.reg_id) {
            (Some(i), Some(r)) => b.reg_id == Some(r) && b.instance.as_deref() == Some(i),
            _ => {
                !b.is_outbound()
                    && (b.contact == self.text()
                        || Uri::parse(&b.contact).is_ok_and(|u| u.equivalent(&self.uri)))
            }
        }
    }
}

/// The registrar: bindings per address-of-record, digest authentication, expiry.
pub struct Registrar<U: Users> {
    config: Config,
    users: U,
    aors: HashMap<Arc<str>, Vec<Binding>>,
    /// Expiry times, earliest first; entries made stale by refreshes stay until popped.
    expiries: BinaryHeap<std::cmp::Reverse<(u64, Arc<str>)>>,
    count: usize,
    secret: [u8; 32],
    tags: std::hash::RandomState,
    /// The sequence number of the next nonce (nonces made in the same second for the
    /// same address differ by it).
    nonce_seq: AtomicU32,
    nonce_counts: Mutex<NonceCounts>,
    guard: Mutex<AuthGuard>,
}

impl<U: Users> fmt::Debug for Registrar<U> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registrar")
            .field("config", &self.config)
            .field("aors", &self.aors.len())
            .field("bindings", &self.count)
            .finish_non_exhaustive()
    }
}

/// The registrar could not be created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NewError {
    /// The operating system gave no random numbers for the nonce secret.
    Random,
    /// The configuration contradicts itself: no algorithm, min above max, or a default
    /// expiry outside them.
    Config,
}

impl fmt::Display for NewError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NewError::Random => "no random numbers for the nonce secret",
            NewError::Config => "inconsistent registrar configuration",
        })
    }
}

impl std::error::Error for NewError {}

/// Why [`Registrar::verify`] refused a request's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    /// No credentials for the realm, an unknown user, a wrong answer, or (`stale`) an
    /// expired nonce: challenge again.
    Challenge {
        /// Whether the nonce had expired (`stale=true` in the new challenge).
        stale: bool,
    },
    /// The credentials do not parse: answer 400.
    Malformed,
    /// Too many wrong credentials from this address or for this user
    /// ([`crate::guard`]): not checked; answer 503 with Retry-After.
    Blocked {
        /// Seconds until the block ends.
        retry_after: u64,
    },
}

impl fmt::Display for AuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthError::Challenge { stale: false } => "missing or wrong credentials",
            AuthError::Challenge { stale: true } => "stale nonce",
            AuthError::Malformed => "malformed credentials",
            AuthError::Blocked { .. } => "too many wrong credentials",
        })
    }
}

impl std::error::Error for AuthError {}

impl<U: Users> Registrar<U> {
    /// A registrar with no bindings and a random nonce secret.
    ///
    /// # Errors
    /// [`NewError::Random`] without random numbers, [`NewError::Config`] for a
    /// contradictory configuration.
    pub fn new(config: Config, users: U) -> Result<Self, NewError> {
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret).map_err(|_| NewError::Random)?;
        Self::with_secret(config, users, secret)
    }

    /// A registrar with a given nonce secret (tests, or several processes sharing
    /// nonces).
    ///
    /// # Errors
    /// [`NewError::Config`] for a contradictory configuration.
    pub fn with_secret(config: Config, users: U, secret: [u8; 32]) -> Result<Self, NewError> {
        let supported = config.algorithms.iter().all(|a| {
            !a.is_session()
                && matches!(
                    a,
                    Algorithm::Md5 | Algorithm::Sha256 | Algorithm::Sha512_256
                )
        });
        if (config.authenticate && config.algorithms.is_empty())
            || !supported
            || config.min_expires > config.max_expires
            || config.default_expires < config.min_expires
            || config.default_expires > config.max_expires
        {
            return Err(NewError::Config);
        }
        let guard = AuthGuard::new(config.guard);
        Ok(Registrar {
            config,
            users,
            aors: HashMap::new(),
            expiries: BinaryHeap::new(),
            count: 0,
            secret,
            tags: std::hash::RandomState::new(),
            nonce_seq: AtomicU32::new(0),
            nonce_counts: Mutex::new(NonceCounts::default()),
            guard: Mutex::new(guard),
        })
    }

    /// What the guard against wrong credentials did so far.
    pub fn guard_stats(&self) -> GuardStats {
        self.guard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .stats()
    }

    /// How many nonces are remembered with their nonce counts (those that
    /// authenticated a request within the last nonce lifetime).
    pub fn remembered_nonces(&self) -> usize {
        self.nonce_counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .len()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The user store.
    pub fn users(&self) -> &U {
        &self.users
    }

    /// The user store, to change users while running.
    pub fn users_mut(&mut self) -> &mut U {
        &mut self.users
    }

    /// Number of bindings (expired ones not yet removed by [`Registrar::expire`]
    /// included).
    pub fn len(&self) -> usize {
        self.count
    }

    /// Whether there is no binding.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Whether `host` is a domain served ([`Config::domains`]).
    pub fn serves_domain(&self, host: &str) -> bool {
        self.config.domains.is_empty()
            || self
                .config
                .domains
                .iter()
                .any(|d| d.eq_ignore_ascii_case(host))
    }

    fn serves_host(&self, host: &sip_lite::wire::Host<'_>) -> bool {
        if self.config.domains.is_empty() {
            return true;
        }
        let mut buf = [0u8; MAX_AOR_LEN];
        let mut sink = SliceSink::new(&mut buf);
        if host.emit(&mut sink).is_err() {
            return false;
        }
        std::str::from_utf8(sink.written()).is_ok_and(|h| self.serves_domain(h))
    }

    /// The current bindings of an address-of-record (`user@host`, see [`aor_key`]),
    /// highest `q` first, without those expired at `now`.
    pub fn lookup<'r>(&'r self, now: u64, aor: &str) -> impl Iterator<Item = &'r Binding> + 'r {
        self.aors
            .get(aor)
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(move |b| b.expires_at > now)
    }

    /// The current bindings of the address-of-record of a SIP URI (a Request-URI),
    /// as [`Registrar::lookup`].
    pub fn lookup_uri<'r>(
        &'r self,
        now: u64,
        uri: &SipUri<'_>,
    ) -> impl Iterator<Item = &'r Binding> + 'r {
        let list = AorBuf::from_uri(uri)
            .and_then(|k| self.aors.get(k.as_str()))
            .map(Vec::as_slice)
            .unwrap_or_default();
        list.iter().filter(move |b| b.expires_at > now)
    }

    /// Every binding, by address-of-record, for persistence.
    pub fn iter(&self) -> impl Iterator<Item = &Binding> + '_ {
        self.aors.values().flatten()
    }

    /// Adds bindings read back from storage, replacing bindings with the same key.
    /// Expired ones are removed by the next [`Registrar::expire`].
    pub fn restore(&mut self, bindings: impl IntoIterator<Item = Binding>) {
        for b in bindings {
            let key: Arc<str> = match self.aors.get_key_value(b.aor.as_str()) {
                Some((k, _)) => k.clone(),
                None => Arc::from(b.aor.as_str()),
            };
            self.expiries
                .push(std::cmp::Reverse((b.expires_at, key.clone())));
            let list = self.aors.entry(key).or_default();
            let same = list.iter().position(|x| same_key(x, &b));
            match same {
                Some(i) => list[i] = b,
                None => {
                    list.push(b);
                    self.count += 1;
                }
            }
            list.sort_by_key(|b| std::cmp::Reverse(b.q_order()));
        }
    }

    /// The earliest time at which a binding may expire: call [`Registrar::expire`]
    /// then. It may be earlier than the real next expiry (a refreshed binding's old
    /// time), never later.
    pub fn next_expiry(&self) -> Option<u64> {
        self.expiries.peek().map(|e| e.0.0)
    }

    /// Removes the bindings expired at `now` and returns them.
    pub fn expire(&mut self, now: u64) -> Vec<Binding> {
        let mut removed = Vec::new();
        while let Some(std::cmp::Reverse((at, _))) = self.expiries.peek() {
            if *at > now {
                break;
            }
            let Some(std::cmp::Reverse((_, aor))) = self.expiries.pop() else {
                break;
            };
            let Some(list) = self.aors.get_mut(&aor) else {
                continue;
            };
            let before = list.len();
            let mut i = 0;
            while i < list.len() {
                if list[i].expires_at <= now {
                    removed.push(list.remove(i));
                } else {
                    i += 1;
                }
            }
            self.count -= before - list.len();
            if list.is_empty() {
                self.aors.remove(&aor);
            }
        }
        self.compact();
        removed
    }

    /// Rebuilds the expiry queue when stale entries outnumber the bindings.
    fn compact(&mut self) {
        if self.expiries.len() <= 2 * self.count + 1024 {
            return;
        }
        let mut v = Vec::with_capacity(self.count);
        for (k, list) in &self.aors {
            v.extend(
                list.iter()
                    .map(|b| std::cmp::Reverse((b.expires_at, k.clone()))),
            );
        }
        self.expiries = BinaryHeap::from(v);
    }

    // ---- nonces ----

    fn nonce_mac(&self, stamp: &[u8], peer: IpAddr) -> [u8; 32] {
        let mut out = [0u8; 32];
        let mut h = Sha256::new();
        h.update(self.secret);
        h.update(stamp);
        match peer.to_canonical() {
            IpAddr::V4(a) => h.update(a.octets()),
            IpAddr::V6(a) => h.update(a.octets()),
        }
        h.update(self.config.realm.as_bytes());
        let d = h.finalize();
        for (o, b) in out.chunks_exact_mut(2).zip(d.iter()) {
            o.copy_from_slice(&hex_byte(*b));
        }
        out
    }

    /// A nonce made at `now` for a challenge sent to `peer`.
    fn make_nonce(&self, now: u64, peer: IpAddr) -> [u8; NONCE_LEN] {
        let mut n = [0u8; NONCE_LEN];
        for (i, o) in n[..16].chunks_exact_mut(2).enumerate() {
            o.copy_from_slice(&hex_byte((now >> (56 - 8 * i)) as u8));
        }
        let seq = self.nonce_seq.fetch_add(1, Ordering::Relaxed);
        for (o, b) in n[16..NONCE_STAMP]
            .chunks_exact_mut(2)
            .zip(seq.to_be_bytes())
        {
            o.copy_from_slice(&hex_byte(b));
        }
        let mac = self.nonce_mac(&n[..NONCE_STAMP], peer);
        n[NONCE_STAMP..].copy_from_slice(&mac);
        n
    }

    /// How `nonce`, received from `peer` at `now`, stands: only a nonce this process
    /// made for `peer` can be fresh.
    fn nonce_state(&self, now: u64, nonce: &str, peer: IpAddr) -> NonceState {
        let b = nonce.as_bytes();
        if b.len() != NONCE_LEN {
            return NonceState::Foreign;
        }
        let mac = self.nonce_mac(&b[..NONCE_STAMP], peer);
        let diff = mac
            .iter()
            .zip(&b[NONCE_STAMP..])
            .fold(0u8, |acc, (x, y)| acc | (x ^ y.to_ascii_lowercase()));
        let Ok(stamp) = std::str::from_utf8(&b[..16]).map(|s| u64::from_str_radix(s, 16)) else {
            return NonceState::Foreign;
        };
        match stamp {
            Ok(t) if diff == 0 && t <= now.saturating_add(5) => {
                if now.saturating_sub(t) <= u64::from(self.config.nonce_lifetime) {
                    NonceState::Fresh
                } else {
                    NonceState::Expired
                }
            }
            _ => NonceState::Foreign,
        }
    }

    // ---- requests ----

    /// Handles a REGISTER received at `now` (Unix seconds) from `source`, writing the
    /// complete response into `out` (cleared first).
    ///
    /// Every request gets an answer: 200 with the current bindings, 401 with a
    /// challenge per algorithm, 400 for a malformed request, 403, 404, 420, 423, 439,
    /// 500 (Call-ID/CSeq out of order) as RFC 3261 section 10.3 orders. The registrar
    /// keeps no transactions: a REGISTER with the Call-ID, CSeq and top-Via branch of
    /// the request that made a binding is a retransmission of it (RFC 3261 section
    /// 17.2.3) and is answered 200 with the bindings as they are, as the transaction
    /// layer would have. A response or a
    /// request other than REGISTER writes nothing and returns `status: None`.
    pub fn handle(
        &mut self,
        now: u64,
        msg: &Message<'_>,
        source: (SocketAddr, Transport),
        out: &mut Vec<u8>,
    ) -> Outcome {
        out.clear();
        if msg.method() != Some(Method::Register) {
            return Outcome::default();
        }
        let mut outcome = Outcome::default();
        let result = self.process(now, msg, source, &mut outcome);
        let status = match result {
            Ok(resp) => self.write_ok(now, msg, &resp, out),
            Err(r) => self.write_reject(now, msg, r, source.0.ip(), out),
        };
        match status {
            Ok(s) => outcome.status = Some(s),
            Err(_) => {
                // The request's own headers could not be copied (a line break that is
                // not a fold cannot come from a parsed message): answer without them.
                out.clear();
                let w = Writer::response(VecSink(out), StatusCode::BAD_REQUEST, "Bad Request");
                let done = w.and_then(|w| w.finish(b"")).is_ok();
                outcome.status = done.then_some(StatusCode::BAD_REQUEST);
            }
        }
        outcome
    }

    fn to_tag(&self, msg: &Message<'_>) -> [u8; 16] {
        let h = self.tags.hash_one(msg.call_id().unwrap_or_default());
        let mut t = [0u8; 16];
        for (i, o) in t.chunks_exact_mut(2).enumerate() {
            o.copy_from_slice(&hex_byte((h >> (56 - 8 * i)) as u8));
        }
        t
    }

    fn start<'o>(
        &self,
        msg: &Message<'_>,
        status: StatusCode,
        reason: &str,
        out: &'o mut Vec<u8>,
    ) -> Result<Writer<VecSink<'o>>, EmitError> {
        let tag = self.to_tag(msg);
        let tag = std::str::from_utf8(&tag).unwrap_or("0");
        Writer::response_to(VecSink(out), msg, status, reason, Some(tag))
    }

    fn write_reject(
        &self,
        now: u64,
        msg: &Message<'_>,
        r: Reject,
        peer: IpAddr,
        out: &mut Vec<u8>,
    ) -> Result<StatusCode, EmitError> {
        let mut w = self.start(msg, r.status, r.reason, out)?;
        match r.extra {
            Extra::None => {}
            Extra::Challenge { stale } => {
                let nonce = self.make_nonce(now, peer);
                let nonce = std::str::from_utf8(&nonce).unwrap_or_default();
                for &algorithm in &self.config.algorithms {
                    let c = ChallengeRepr {
                        algorithm,
                        stale,
                        qop: &[Qop::Auth],
                        ..ChallengeRepr::new(&self.config.realm, nonce)
                    };
                    w.header_typed(HeaderName::WwwAuthenticate, &c)?;
                }
            }
            Extra::MinExpires => {
                w.header_typed(HeaderName::MinExpires, &Num(self.config.min_expires))?;
            }
            Extra::Unsupported => {
                for t in msg.tokens(HeaderName::Require).flatten() {
                    if !is_supported(t) {
                        w.header(HeaderName::Unsupported.as_str(), t)?;
                    }
                }
            }
            Extra::RetryAfter(seconds) => {
                w.header_typed(
                    HeaderName::RetryAfter,
                    &Num(u32::try_from(seconds).unwrap_or(u32::MAX)),
                )?;
            }
        }
        w.finish(b"")?;
        Ok(r.status)
    }

    fn write_ok(
        &self,
        now: u64,
        msg: &Message<'_>,
        resp: &Accepted,
        out: &mut Vec<u8>,
    ) -> Result<StatusCode, EmitError> {
        let mut w = self.start(msg, StatusCode::OK, "OK", out)?;
        if let Some(list) = resp.aor.as_ref().and_then(|a| self.aors.get(a)) {
            for b in list.iter().filter(|b| b.expires_at > now) {
                w.header_typed(HeaderName::Contact, &ContactOut(b, now))?;
            }
        }
        if resp.outbound {
            w.header(HeaderName::Require.as_str(), "outbound")?;
        }
        if resp.echo_path {
            for v in msg.header_lines(HeaderName::Path) {
                w.header_typed(HeaderName::Path, &sip_lite::wire::Unfolded(v))?;
            }
        }
        w.header(HeaderName::Supported.as_str(), "path, outbound")?;
        w.header_typed(HeaderName::Date, &sip_date(now))?;
        w.finish(b"")?;
        Ok(StatusCode::OK)
    }

    fn authenticate(
        &self,
        now: u64,
        msg: &Message<'_>,
        peer: IpAddr,
        ruri: &str,
        to_user: &str,
    ) -> Result<(), Reject> {
        let challenge = |stale| Reject {
            status: StatusCode::UNAUTHORIZED,
            reason: "Unauthorized",
            extra: Extra::Challenge { stale },
        };
        let username = match self.verify(now, msg, peer, HeaderName::Authorization, Some(ruri)) {
            Ok(u) => u,
            Err(AuthError::Challenge { stale }) => return Err(challenge(stale)),
            Err(AuthError::Malformed) => {
                return Err(reject(400, "Malformed Authorization header"));
            }
            Err(AuthError::Blocked { retry_after }) => {
                return Err(Reject {
                    status: StatusCode(503),
                    reason: "Too Many Failed Authentications",
                    extra: Extra::RetryAfter(retry_after),
                });
            }
        };
        if username != to_user {
            return Err(reject(
                403,
                "Authenticated user does not own the address-of-record",
            ));
        }
        Ok(())
    }

    /// Checks the digest credentials of `msg` in its `header` lines
    /// ([`HeaderName::Authorization`] or [`HeaderName::ProxyAuthorization`]) for this
    /// registrar's realm, users and nonces, and returns the authenticated user name.
    /// `peer` is the IP address the request came from (a nonce is valid only from the
    /// address it was sent to); `ruri`, when given, must match the credentials' `uri`.
    /// A nonce count that does not grow is a replay, challenged like a stale nonce.
    ///
    /// # Errors
    /// [`AuthError::Challenge`] when the request must be challenged (no, wrong, stale or
    /// replayed credentials), [`AuthError::Malformed`] for credentials that do not
    /// parse.
    pub fn verify<'m>(
        &self,
        now: u64,
        msg: &Message<'m>,
        peer: IpAddr,
        header: HeaderName,
        ruri: Option<&str>,
    ) -> Result<&'m str, AuthError> {
        let challenge = |stale| AuthError::Challenge { stale };
        let mut found = None;
        for line in msg.header_lines(header) {
            let c = Credentials::parse(line).map_err(|_| AuthError::Malformed)?;
            if c.is_digest() && c.realm().is_some_and(|r| r.eq_text(&self.config.realm)) {
                found = Some(c);
                break;
            }
        }
        let Some(cred) = found else {
            return Err(challenge(false));
        };
        let Ok(algorithm) = cred.algorithm() else {
            return Err(challenge(false));
        };
        let Some(username) = cred.username().and_then(|u| u.as_plain()) else {
            return Err(challenge(false));
        };
        if cred.userhash() {
            return Err(challenge(false));
        }
        let Some(nonce) = cred.nonce() else {
            return Err(AuthError::Malformed);
        };
        let mut guard = self
            .guard
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Verdict::Blocked { retry_after } = guard.check(now, peer, username) {
            return Err(AuthError::Blocked { retry_after });
        }
        let state = self.nonce_state(now, nonce.as_str(), peer);
        let Some(secret) = self.users.secret(username, &self.config.realm, algorithm) else {
            guard.failure(now, peer, username);
            return Err(challenge(false));
        };
        let Some(method) = msg.method().map(|m| m.as_str()) else {
            return Err(AuthError::Malformed);
        };
        let verifier = Verifier {
            nonce: if state == NonceState::Fresh {
                nonce.as_str()
            } else {
                ""
            },
            algorithms: &self.config.algorithms,
            qops: &[Qop::Auth],
            request_uri: ruri,
            ..Verifier::new(&self.config.realm, "", method)
        };
        match verifier.verify(&cred, secret) {
            Ok(verified) => {
                // Fresh, so the nonce is one of ours: NONCE_LEN octets.
                let mut key = [0u8; NONCE_LEN];
                key.copy_from_slice(nonce.as_str().as_bytes());
                let lifetime = self.config.nonce_lifetime;
                let nc = verified.nc.unwrap_or(0);
                let mut counts = self
                    .nonce_counts
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if counts.advance(now, lifetime, (key, username.into()), nc) {
                    guard.success(now, peer, username);
                    Ok(username)
                } else {
                    Err(challenge(true))
                }
            }
            Err(sip_lite::DigestError::StaleNonce) => Err(challenge(true)),
            Err(sip_lite::DigestError::Syntax(_) | sip_lite::DigestError::MissingParam) => {
                Err(AuthError::Malformed)
            }
            Err(_) => {
                // A wrong response (or one for another realm, URI or algorithm): a guess.
                guard.failure(now, peer, username);
                Err(challenge(false))
            }
        }
    }

    /// The challenges to send at `now` to `peer` (one per configured algorithm, a fresh
    /// nonce, `qop=auth`), as header values for `WWW-Authenticate` or
    /// `Proxy-Authenticate`.
    pub fn challenges(&self, now: u64, peer: IpAddr, stale: bool) -> Vec<String> {
        let nonce = self.make_nonce(now, peer);
        let nonce = std::str::from_utf8(&nonce).unwrap_or_default();
        let mut out = Vec::with_capacity(self.config.algorithms.len());
        for &algorithm in &self.config.algorithms {
            let c = ChallengeRepr {
                algorithm,
                stale,
                qop: &[Qop::Auth],
                ..ChallengeRepr::new(&self.config.realm, nonce)
            };
            let mut v = Vec::new();
            if c.emit(&mut VecSink(&mut v)).is_ok()
                && let Ok(v) = String::from_utf8(v)
            {
                out.push(v);
            }
        }
        out
    }

    fn process(
        &mut self,
        now: u64,
        msg: &Message<'_>,
        source: (SocketAddr, Transport),
        outcome: &mut Outcome,
    ) -> Result<Accepted, Reject> {
        // The headers every request needs (RFC 3261 section 8.1.1).
        if msg.top_via().is_err() {
            return Err(reject(400, "Missing or malformed Via"));
        }
        if msg.from().is_err() {
            return Err(reject(400, "Missing or malformed From"));
        }
        let to = msg
            .to()
            .map_err(|_| reject(400, "Missing or malformed To"))?;
        let call_id = msg
            .call_id()
            .map_err(|_| reject(400, "Missing or malformed Call-ID"))?;
        let cseq = msg
            .cseq()
            .map_err(|_| reject(400, "Missing or malformed CSeq"))?;
        if cseq.method != Method::Register || cseq.seq >= 1 << 31 {
            return Err(reject(400, "CSeq does not match the request"));
        }
        // Only RFC 3261 branches identify a request (section 17.2.3).
        let top_via = msg.top_via().ok();
        let branch = top_via
            .as_ref()
            .and_then(|v| v.branch())
            .filter(|b| b.starts_with("z9hG4bK"));
        for name in [
            HeaderName::To,
            HeaderName::CallId,
            HeaderName::CSeq,
            HeaderName::From,
        ] {
            if msg.header_lines(name).nth(1).is_some() {
                return Err(reject(400, "Repeated single-valued header"));
            }
        }

        // Step 1: the domain of the Request-URI.
        let ruri_str = msg.request_uri_str().unwrap_or_default();
        let ruri = Uri::parse(ruri_str).map_err(|_| reject(400, "Malformed Request-URI"))?;
        let Some(ruri_sip) = ruri.as_sip() else {
            return Err(reject(416, "Unsupported URI Scheme"));
        };
        if !self.serves_host(&ruri_sip.host) {
            // RFC 3261 section 21.4.5: a domain the recipient does not handle.
            return Err(reject(404, "Domain not served here"));
        }

        // Step 2: extensions the request requires.
        if msg
            .tokens(HeaderName::Require)
            .any(|t| t.is_ok_and(|t| !is_supported(t)))
        {
            return Err(Reject {
                status: StatusCode(420),
                reason: "Bad Extension",
                extra: Extra::Unsupported,
            });
        }

        // Step 3 and 4: authentication and authorisation; step 5: the address-of-record.
        let to_sip = match &to.uri {
            Uri::Sip(u) => u,
            _ => return Err(reject(404, "Not a SIP address-of-record")),
        };
        let to_user = to_sip
            .user
            .filter(|u| !u.is_empty())
            .ok_or(reject(404, "Address-of-record without user"))?;
        if self.config.authenticate {
            self.authenticate(now, msg, source.0.ip(), ruri_str, to_user)?;
        }
        if !self.serves_host(&to_sip.host) {
            return Err(reject(404, "Address-of-record not served here"));
        }
        let key = AorBuf::from_uri(to_sip).ok_or(reject(400, "Address-of-record too long"))?;

        // Step 6: the contacts.
        let header_expires = match msg.expires() {
            None => None,
            Some(Ok(e)) => Some(e),
            Some(Err(_)) => return Err(reject(400, "Malformed Expires")),
        };
        let supported_outbound = msg.has_token(HeaderName::Supported, "outbound");
        let mut wildcard = false;
        let mut any = false;
        let mut reg_ids = 0;
        for c in msg.contacts() {
            let c = c.map_err(|_| reject(400, "Malformed Contact"))?;
            any = true;
            match c {
                Contact::Wildcard => wildcard = true,
                Contact::Addr(_) => {
                    if c.reg_id().is_some() && c.instance().is_some() {
                        reg_ids += 1;
                    }
                }
            }
        }
        if wildcard && (msg.count(HeaderName::Contact) != 1 || header_expires != Some(0)) {
            return Err(reject(
                400,
                "Contact: * needs Expires: 0 and no other contact",
            ));
        }
        // RFC 5626 section 6: outbound applies when the registrar is the first hop or
        // the first Path URI has `ob`.
        let first_hop = msg.vias().nth(1).is_none();
        let path_ob = msg.paths().next().is_some_and(|p| {
            p.is_ok_and(|p| p.uri.as_sip().is_some_and(|u| u.params.contains("ob")))
        });
        let outbound = supported_outbound && reg_ids > 0;
        if outbound && !first_hop && !path_ob {
            return Err(reject(439, "First Hop Lacks Outbound Support"));
        }
        if outbound && reg_ids > 1 {
            return Err(reject(400, "More than one Contact with reg-id"));
        }
        let mut paths = 0;
        for p in msg.paths() {
            p.map_err(|_| reject(400, "Malformed Path"))?;
            paths += 1;
        }

        let aor: Arc<str> = match self.aors.get_key_value(key.as_str()) {
            Some((k, _)) => k.clone(),
            None => Arc::from(key.as_str()),
        };
        if !any {
            // A query: 200 with the current bindings.
            return Ok(Accepted {
                aor: Some(aor),
                outbound: false,
                echo_path: false,
            });
        }

        let empty = Vec::new();
        let current = self.aors.get(&aor).unwrap_or(&empty);

        if wildcard {
            // RFC 3261 section 10.3 step 6 and 7: remove every binding, unless one was
            // updated later in the same Call-ID.
            if current
                .iter()
                .any(|b| b.call_id == call_id && b.cseq >= cseq.seq)
            {
                return Err(out_of_order());
            }
            if let Some(list) = self.aors.remove(&aor) {
                self.count -= list.len();
                outcome.removed = list;
                outcome.aor = Some(aor);
            }
            return Ok(Accepted {
                aor: None,
                outbound: false,
                echo_path: false,
            });
        }

        // First pass: check every contact and the order of requests, count the result.
        let mut after = current.len();
        for c in msg.contacts() {
            let c = contact_in(&self.config, c, header_expires, outbound)?;
            match current.iter().find(|b| c.matches(b)) {
                Some(b) => {
                    if b.call_id == call_id
                        && b.cseq == cseq.seq
                        && branch.is_some()
                        && b.branch.as_deref() == branch
                    {
                        // The request that made this binding, again: a retransmission
                        // whose answer was lost or late. Answered as a transaction
                        // layer would, with the bindings as they are.
                        return Ok(Accepted {
                            aor: Some(aor),
                            outbound: false,
                            echo_path: false,
                        });
                    }
                    if b.call_id == call_id && b.cseq >= cseq.seq {
                        return Err(out_of_order());
                    }
                    if c.expires == 0 {
                        after -= 1;
                    }
                }
                None if c.expires > 0 => after += 1,
                None => {}
            }
        }
        if after > self.config.max_contacts {
            return Err(reject(403, "Too many contacts"));
        }

        // Second pass: apply.
        let user_agent = msg.header(HeaderName::UserAgent);
        let list = self.aors.entry(aor.clone()).or_default();
        let mut outbound_accepted = false;
        for c in msg.contacts() {
            let c = contact_in(&self.config, c, header_expires, outbound)?;
            let expires_at = now.saturating_add(u64::from(c.expires));
            let found = list.iter().position(|b| c.matches(b));
            match found {
                Some(i) if c.expires == 0 => {
                    outcome.removed.push(list.remove(i));
                    self.count -= 1;
                }
                Some(i) => {
                    let b = &mut list[i];
                    let changed = b.contact != c.text()
                        || b.source != source.0
                        || b.transport != source.1
                        || b.path.len() != paths
                        || !b
                            .path
                            .iter()
                            .zip(msg.values(HeaderName::Path))
                            .all(|(a, v)| a == v.trim());
                    if changed {
                        set(&mut b.contact, c.text());
                        b.source = source.0;
                        b.transport = source.1;
                        b.path.clear();
                        b.path
                            .extend(msg.values(HeaderName::Path).map(|v| v.trim().to_owned()));
                        b.changed_at = now;
                    }
                    set(&mut b.call_id, call_id);
                    b.cseq = cseq.seq;
                    if b.branch.as_deref() != branch {
                        b.branch = branch.map(str::to_owned);
                    }
                    b.expires_at = expires_at;
                    b.q = c.q;
                    if b.instance.as_deref() != c.instance {
                        b.instance = c.instance.map(str::to_owned);
                    }
                    if b.user_agent.as_deref() != user_agent {
                        b.user_agent = user_agent.map(str::to_owned);
                    }
                    outbound_accepted |= b.reg_id.is_some();
                    if changed {
                        outcome.changed.push(b.clone());
                    } else {
                        outcome.refreshed += 1;
                    }
                    self.expiries
                        .push(std::cmp::Reverse((expires_at, aor.clone())));
                }
                None if c.expires == 0 => {}
                None => {
                    let b = Binding {
                        aor: aor.to_string(),
                        contact: c.text().to_owned(),
                        expires_at,
                        q: c.q,
                        call_id: call_id.to_owned(),
                        cseq: cseq.seq,
                        branch: branch.map(str::to_owned),
                        path: msg
                            .values(HeaderName::Path)
                            .map(|v| v.trim().to_owned())
                            .collect(),
                        instance: c.instance.map(str::to_owned),
                        reg_id: c.reg_id,
                        source: source.0,
                        transport: source.1,
                        user_agent: user_agent.map(str::to_owned),
                        changed_at: now,
                    };
                    outbound_accepted |= b.reg_id.is_some();
                    outcome.added.push(b.clone());
                    list.push(b);
                    self.count += 1;
                    self.expiries
                        .push(std::cmp::Reverse((expires_at, aor.clone())));
                }
            }
        }
        list.sort_by_key(|b| std::cmp::Reverse(b.q_order()));
        if list.is_empty() {
            self.aors.remove(&aor);
        }
        if outcome.is_modified() {
            outcome.aor = Some(aor.clone());
        }
        self.compact();
        Ok(Accepted {
            aor: Some(aor),
            outbound: outbound_accepted,
            echo_path: paths > 0 && msg.has_token(HeaderName::Supported, "path"),
        })
    }
}

fn contact_in<'m>(
    config: &Config,
    c: Result<Contact<'m>, sip_lite::wire::HeaderError>,
    header_expires: Option<u32>,
    outbound: bool,
) -> Result<ContactIn<'m>, Reject> {
    let c = c.map_err(|_| reject(400, "Malformed Contact"))?;
    let Some(addr): Option<&NameAddr<'m>> = c.addr() else {
        return Err(reject(400, "Contact: * with other contacts"));
    };
    if !matches!(addr.uri, Uri::Sip(_)) {
        return Err(reject(400, "Contact URI is not a SIP URI"));
    }
    let mut text = ([0u8; MAX_CONTACT_LEN], 0);
    let mut sink = SliceSink::new(&mut text.0);
    addr.uri
        .emit(&mut sink)
        .map_err(|_| reject(400, "Contact URI too long"))?;
    text.1 = sink.len();
    let expires = match c.expires() {
        Some(Ok(e)) => e,
        Some(Err(_)) => return Err(reject(400, "Malformed Contact expires")),
        None => header_expires.unwrap_or(config.default_expires),
    };
    if expires != 0 && expires < config.min_expires {
        return Err(Reject {
            status: StatusCode(423),
            reason: "Interval Too Brief",
            extra: Extra::MinExpires,
        });
    }
    let expires = expires.min(config.max_expires);
    let q = match c.q() {
        Some(Ok(q)) => Some(q.0),
        Some(Err(_)) => return Err(reject(400, "Malformed Contact q")),
        None => None,
    };
    let instance = c.instance();
    if instance.is_some_and(|i| i.is_empty() || i.contains(['"', '\\'])) {
        return Err(reject(400, "Malformed +sip.instance"));
    }
    let reg_id = match c.reg_id() {
        Some(Ok(r)) => Some(r),
        Some(Err(_)) => return Err(reject(400, "Malformed reg-id")),
        None => None,
    };
    Ok(ContactIn {
        uri: addr.uri,
        text,
        expires,
        q,
        instance,
        reg_id: reg_id.filter(|_| outbound && instance.is_some()),
    })
}

/// Whether two bindings have the same key: instance and reg-id for outbound flows,
/// else the contact URI.
fn same_key(a: &Binding, b: &Binding) -> bool {
    match (a.is_outbound(), b.is_outbound()) {
        (true, true) => a.reg_id == b.reg_id && a.instance == b.instance,
        (false, false) => a.contact == b.contact,
        _ => false,
    }
}

/// What a successful request answers.
struct Accepted {
    /// The address-of-record whose bindings to list.
    aor: Option<Arc<str>>,
    /// Whether an outbound flow was accepted (`Require: outbound`).
    outbound: bool,
    /// Whether to echo Path.
    echo_path: bool,
}

fn out_of_order() -> Reject {
    Reject {
        status: StatusCode::SERVER_INTERNAL_ERROR,
        reason: "Request out of order",
        extra: Extra::RetryAfter(1),
    }
}

/// The option tags a request may require.
fn is_supported(tag: &str) -> bool {
    tag.eq_ignore_ascii_case("path") || tag.eq_ignore_ascii_case("outbound")
}

/// Replaces `s` with `v`, reusing its allocation.
fn set(s: &mut String, v: &str) {
    if s != v {
        s.clear();
        s.push_str(v);
    }
}

fn hex_byte(b: u8) -> [u8; 2] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    [HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]
}

/// A number as a header value.
struct Num(u32);

impl Emit for Num {
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        out.put_u32(self.0)
    }
}

/// A binding as a Contact of a 200 response.
struct ContactOut<'b>(&'b Binding, u64);

impl Emit for ContactOut<'_> {
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        let b = self.0;
        out.put(b"<")?;
        out.put(b.contact.as_bytes())?;
        out.put(b">;expires=")?;
        out.put_u32(b.expires_in(self.1))?;
        if let Some(q) = b.q {
            out.put(b";q=")?;
            if q >= 1000 {
                out.put(b"1")?;
            } else {
                out.put(b"0.")?;
                let d = [
                    b'0' + (q / 100) as u8,
                    b'0' + (q / 10 % 10) as u8,
                    b'0' + (q % 10) as u8,
                ];
                let n = 3 - d.iter().rev().take_while(|&&c| c == b'0').count();
                out.put(&d[..n.max(1)])?;
            }
        }
        if let Some(i) = &b.instance {
            out.put(b";+sip.instance=\"<")?;
            out.put(i.as_bytes())?;
            out.put(b">\"")?;
        }
        if let Some(r) = b.reg_id {
            out.put(b";reg-id=")?;
            out.put_u32(r)?;
        }
        Ok(())
    }
}

/// The Date header for Unix time `now`.
pub fn sip_date(now: u64) -> SipDate {
    let days = (now / 86_400) as i64;
    let secs = now % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let year = yoe + era * 400 + i64::from(month <= 2);
    SipDate {
        year: u16::try_from(year).unwrap_or(9999).min(9999),
        month,
        day,
        hour: (secs / 3600) as u8,
        minute: (secs / 60 % 60) as u8,
        second: (secs % 60) as u8,
    }
}
