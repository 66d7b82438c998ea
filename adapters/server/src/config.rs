//! The server's configuration: a TOML file, or the embedded defaults, which listen on
//! loopback only.
//!
//! Every section and key is optional; a key the server does not know is an error that
//! names it. [`Config::validate`] checks every value after parsing.
//! `adapters/server/csta-server.example.toml` documents each option.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use sip_lite::wire::{Host, Uri};

/// The whole configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// SIP listeners and the served domain.
    pub sip: SipConfig,
    /// SIP accounts: who may register, with which password.
    pub users: Vec<SipUser>,
    /// The addresses-of-record the server keeps a uaCSTA session with.
    pub csta_lines: Vec<CstaLine>,
    /// The CSTA client interface.
    pub clients: ClientsConfig,
    /// Accounts of CSTA client applications and the devices each may see.
    pub client_users: Vec<ClientUser>,
    /// The HTTP listener for `/metrics` and `/health`.
    pub http: HttpConfig,
    /// The upstream PBX or outbound proxy, if requests leave the server.
    pub upstream: Option<UpstreamConfig>,
    /// Protocol timers.
    pub timers: Timers,
    /// Resource limits.
    pub limits: Limits,
    /// Where the embedded database lives.
    pub data_dir: PathBuf,
    /// The certificate and key of the TLS listeners (`sip.tls`, `clients.tls`).
    pub tls: Option<TlsConfig>,
    /// Whether TLS uses a self-signed certificate generated at start instead of the
    /// `[tls]` files (the `--dev-tls` option; see [`Config::enable_dev_tls`]). Not a key
    /// of the file.
    #[serde(skip)]
    pub dev_tls: bool,
}

/// SIP listeners and the served domain.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SipConfig {
    /// The domain served, also the digest realm.
    pub domain: String,
    /// UDP listen addresses (IPv4 or IPv6).
    pub udp: Vec<SocketAddr>,
    /// TCP listen addresses (IPv4 or IPv6).
    pub tcp: Vec<SocketAddr>,
    /// TLS listen addresses (IPv4 or IPv6; the usual port is 5061). They need the
    /// `[tls]` section (or `--dev-tls`).
    pub tls: Vec<SocketAddr>,
    /// Whether REGISTER requests must be authenticated with digest.
    pub authenticate: bool,
    /// The digest algorithms offered in challenges, the preferred first (one
    /// `WWW-Authenticate` each): `"SHA-256"` and `"MD5"`.
    pub digest_algorithms: Vec<DigestAlgorithm>,
    /// Whether the proxy challenges out-of-dialog requests (calls) with 407 and
    /// forwards only those of configured users.
    pub authenticate_calls: bool,
}

/// A digest algorithm the server offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum DigestAlgorithm {
    /// `SHA-256` (RFC 7616, RFC 8760).
    #[serde(rename = "SHA-256")]
    Sha256,
    /// `MD5` (RFC 2617), for phones that know nothing else.
    #[serde(rename = "MD5")]
    Md5,
}

/// The certificate and private key presented by every TLS listener.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsConfig {
    /// PEM file of the certificate chain, the server's certificate first.
    pub certificate: PathBuf,
    /// PEM file of the private key (PKCS#8, PKCS#1 or SEC1, unencrypted).
    pub private_key: PathBuf,
}

/// One SIP account.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipUser {
    /// The user part of the address-of-record and the digest user name.
    pub name: String,
    /// The digest password.
    pub password: String,
}

/// An address-of-record the server controls through uaCSTA.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CstaLine {
    /// The address-of-record, a `sip:` or `sips:` URI.
    pub aor: String,
    /// The user name the server answers the phone's digest challenges with.
    pub auth_user: String,
    /// The password the server answers the phone's digest challenges with.
    pub auth_password: String,
    /// Whether the phone takes CSTA requests only as `NOTIFY` with `Event: uaCSTA`
    /// instead of a uaCSTA session.
    #[serde(default)]
    pub notify_mode: bool,
    /// The pick(-up) group the line belongs to: `GroupPickupCall` from a device of the
    /// group picks the oldest call alerting at another device of it. A group name is
    /// any non-empty text; lines without one are in no group.
    #[serde(default)]
    pub pickup_group: Option<String>,
}

/// The CSTA client interface.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientsConfig {
    /// CSTA XML over TCP (ECMA-323 Annex J.2 framing); `None` (`false` in the file)
    /// disables it.
    #[serde(deserialize_with = "address_or_off")]
    pub tcp: Option<SocketAddr>,
    /// JSON over WebSocket; `None` (`false` in the file) disables it.
    #[serde(deserialize_with = "address_or_off")]
    pub websocket: Option<SocketAddr>,
    /// CSTA XML over TLS (the same framing as `tcp`); `None` (`false` in the file, the
    /// default) disables it. Needs the `[tls]` section (or `--dev-tls`).
    #[serde(deserialize_with = "address_or_off")]
    pub tls: Option<SocketAddr>,
}

/// A CSTA client application's account.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientUser {
    /// The user name given in StartApplicationSession.
    pub name: String,
    /// The password given in StartApplicationSession.
    pub password: String,
    /// The devices (addresses-of-record) this user may see; `"*"` means all.
    pub devices: Vec<String>,
}

/// The HTTP listener.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Listen address for `/metrics` and `/health`; `None` (`false` in the file)
    /// disables it.
    #[serde(deserialize_with = "address_or_off")]
    pub listen: Option<SocketAddr>,
}

/// Where requests go that are not for a local user.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// The upstream PBX or outbound proxy, a `sip:` or `sips:` URI.
    pub uri: String,
    /// Whether every request leaves through the upstream (outbound proxy) rather than
    /// only those for unknown users.
    #[serde(default)]
    pub outbound_proxy: bool,
}

/// Protocol timers, in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Timers {
    /// The shortest registration accepted (Min-Expires).
    pub registration_min_expires: u32,
    /// The registration time granted when the phone asks for none.
    pub registration_default_expires: u32,
    /// The longest registration granted.
    pub registration_max_expires: u32,
    /// The RFC 4028 session interval of uaCSTA sessions.
    pub session_expires: u32,
    /// How long a TCP or TLS connection may stay silent, or take to deliver one message
    /// (or to complete the TLS handshake), before it is closed.
    pub tcp_idle_timeout: u32,
    /// How long a CSTA client connection may take to deliver its first message (and,
    /// later, to complete any one message it has started) before it is closed. Silence
    /// between messages is the ECMA-354 session timer's business, not the transport's.
    pub client_idle_timeout: u32,
    /// How long a CSTA client connection may stay open without starting an ECMA-354
    /// application session (a successful `StartApplicationSession`), counted from
    /// its accept, TLS or WebSocket handshake included, before it is closed.
    pub client_login_timeout: u32,
    /// The TCP keepalive idle time of client connections, which detects half-open
    /// connections; `0` leaves keepalive off.
    pub client_keepalive: u32,
    /// RFC 3261 T1 in milliseconds: the first retransmission interval over UDP;
    /// transactions time out after 64*T1.
    pub sip_t1_ms: u32,
    /// RFC 3261 T2 in milliseconds: the longest retransmission interval.
    pub sip_t2_ms: u32,
    /// RFC 3261 T4 in milliseconds: how long the network may keep a message.
    pub sip_t4_ms: u32,
    /// RFC 3261 Timer C: how long a forwarded INVITE may ring before it is cancelled.
    pub invite_timeout: u32,
}

/// Resource limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// The largest SIP message accepted, in octets.
    pub max_message_size: usize,
    /// The most SIP TCP and TLS connections open at once, together.
    pub max_tcp_connections: usize,
    /// The most CSTA client connections open at once. When all are taken, a new
    /// connection takes the place of one that has not started an application session
    /// yet, never of one that has (see [`crate::admission`]).
    pub max_clients: usize,
    /// The most CSTA client connections open at once from one IP address, with an
    /// application session or not; more are closed at once.
    pub max_clients_per_source: usize,
    /// The largest CSTA client message accepted, in octets: an XML frame, header
    /// included, or a WebSocket message.
    pub max_client_message: usize,
    /// Messages queued for one client; a client that lets its queue fill up is
    /// closed.
    pub client_queue: usize,
    /// Monitors one CSTA client connection may hold; more MonitorStarts are refused
    /// (`objectMonitorLimitExceeded`).
    pub max_monitors_per_client: usize,
    /// Transactions the proxy keeps at once (each request it relays is one until it
    /// is answered and its timers end); a request beyond them is answered 503 with
    /// Retry-After, without state.
    pub max_proxy_transactions: usize,
    /// Requests one CSTA client connection may have waiting for the answer of one
    /// phone: its share of the phone's request queue
    /// ([`QUEUE`](crate::sessions::QUEUE) requests), 1 to `QUEUE - 1` so that one
    /// client never fills the queue alone; more are refused
    /// (`outstandingReqLimitExceeded`). Default
    /// [`DEVICE_SHARE`](crate::hub::DEVICE_SHARE), half the queue.
    pub max_pending_per_client_device: usize,
}

/// An optional listener: an address, or `false` for none.
fn address_or_off<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum AddressOrOff {
        Address(SocketAddr),
        Off(bool),
    }
    match AddressOrOff::deserialize(d) {
        Ok(AddressOrOff::Address(a)) => Ok(Some(a)),
        Ok(AddressOrOff::Off(false)) => Ok(None),
        _ => Err(serde::de::Error::custom(
            "expected a listen address such as \"127.0.0.1:7001\" or false",
        )),
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is not valid TOML, has an unknown key or a value of the wrong type.
    #[error("invalid configuration: {0}")]
    Syntax(String),
    /// A value is out of range or inconsistent with another one.
    #[error("invalid configuration: `{key}`: {message}")]
    Invalid {
        /// The key, as a path (`timers.registration_min_expires`).
        key: String,
        /// What is wrong.
        message: String,
    },
}

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

impl Default for Config {
    fn default() -> Self {
        Config {
            sip: SipConfig::default(),
            users: Vec::new(),
            csta_lines: Vec::new(),
            clients: ClientsConfig::default(),
            client_users: Vec::new(),
            http: HttpConfig::default(),
            upstream: None,
            timers: Timers::default(),
            limits: Limits::default(),
            data_dir: PathBuf::from("csta-server-data"),
            tls: None,
            dev_tls: false,
        }
    }
}

impl Default for SipConfig {
    fn default() -> Self {
        SipConfig {
            domain: "localhost".into(),
            udp: vec![SocketAddr::new(LOOPBACK, 5060)],
            tcp: vec![SocketAddr::new(LOOPBACK, 5060)],
            tls: Vec::new(),
            authenticate: true,
            digest_algorithms: vec![DigestAlgorithm::Sha256, DigestAlgorithm::Md5],
            authenticate_calls: true,
        }
    }
}

impl Default for ClientsConfig {
    fn default() -> Self {
        ClientsConfig {
            tcp: Some(SocketAddr::new(LOOPBACK, 7001)),
            websocket: Some(SocketAddr::new(LOOPBACK, 7080)),
            tls: None,
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: Some(SocketAddr::new(LOOPBACK, 9090)),
        }
    }
}

impl Default for Timers {
    fn default() -> Self {
        Timers {
            registration_min_expires: 60,
            registration_default_expires: 3600,
            registration_max_expires: 7200,
            session_expires: 1800,
            tcp_idle_timeout: 120,
            client_idle_timeout: 30,
            client_login_timeout: 5,
            client_keepalive: 60,
            sip_t1_ms: 500,
            sip_t2_ms: 4000,
            sip_t4_ms: 5000,
            invite_timeout: 181,
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_size: 65_535,
            max_tcp_connections: 10_000,
            max_clients: 100,
            max_clients_per_source: 10,
            max_client_message: MAX_CLIENT_MESSAGE,
            client_queue: 1024,
            max_monitors_per_client: 256,
            max_proxy_transactions: 65_536,
            max_pending_per_client_device: crate::hub::DEVICE_SHARE,
        }
    }
}

/// The smallest message size limit: RFC 3261 section 18.1.1 expects 1300-octet
/// messages over UDP, and any message a server must accept fits in this.
pub const MIN_MESSAGE_SIZE: usize = 1300;
/// The largest message size limit; UDP cannot carry more than this anyway.
pub const MAX_MESSAGE_SIZE: usize = 65_535;
/// The smallest client message size limit.
pub const MIN_CLIENT_MESSAGE: usize = 512;
/// The largest client message size limit: the largest frame the 16-bit length of the
/// ECMA-323 Annex J.2 header can describe.
pub const MAX_CLIENT_MESSAGE: usize = csta_core::framing::MAX_FRAME_LEN;
/// RFC 4028 section 4: Session-Expires is at least 90 seconds.
pub const MIN_SESSION_EXPIRES: u32 = 90;
/// The SIP TLS listener `--dev-tls` adds when none is configured.
pub const DEV_TLS_LISTEN: SocketAddr = SocketAddr::new(LOOPBACK, 5061);

fn invalid(key: impl fmt::Display, message: impl fmt::Display) -> ConfigError {
    ConfigError::Invalid {
        key: key.to_string(),
        message: message.to_string(),
    }
}

fn check_sip_uri(key: &str, s: &str) -> Result<(), ConfigError> {
    match Uri::parse(s) {
        Ok(Uri::Sip(u)) if u.headers.is_none() => Ok(()),
        Ok(_) => Err(invalid(key, format!("`{s}` is not a sip: or sips: URI"))),
        Err(e) => Err(invalid(key, format!("`{s}` is not a valid URI: {e}"))),
    }
}

fn check_name(key: &str, s: &str, seen: &mut Vec<String>) -> Result<(), ConfigError> {
    if s.is_empty() {
        return Err(invalid(key, "must not be empty"));
    }
    if s.chars().any(|c| c.is_control() || c == '@' || c == ' ') {
        return Err(invalid(
            key,
            format!("`{s}` contains '@', a space or a control character"),
        ));
    }
    if seen.iter().any(|n| n == s) {
        return Err(invalid(key, format!("`{s}` appears twice")));
    }
    seen.push(s.to_owned());
    Ok(())
}

impl Config {
    /// What `--dev-tls` does: TLS with a self-signed certificate generated at start
    /// (see [`crate::tls`]), and a SIP TLS listener on [`DEV_TLS_LISTEN`] when
    /// `sip.tls` lists none.
    pub fn enable_dev_tls(&mut self) {
        self.dev_tls = true;
        if self.sip.tls.is_empty() {
            self.sip.tls.push(DEV_TLS_LISTEN);
        }
    }

    /// Parses and validates a TOML text.
    ///
    /// # Errors
    /// [`ConfigError::Syntax`] (naming an unknown key, with its line) or
    /// [`ConfigError::Invalid`].
    pub fn from_toml_str(text: &str) -> Result<Config, ConfigError> {
        let config: Config =
            toml::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Reads, parses and validates a TOML file.
    ///
    /// # Errors
    /// [`ConfigError::Read`], or as [`Config::from_toml_str`].
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let config = Self::read(path)?;
        config.validate()?;
        Ok(config)
    }

    /// Reads and parses a TOML file without checking the values, for a caller that
    /// adjusts the configuration (command-line options) and then calls
    /// [`Config::validate`].
    ///
    /// # Errors
    /// [`ConfigError::Read`] or [`ConfigError::Syntax`].
    pub fn read(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Syntax(e.to_string()))
    }

    /// Checks every value.
    ///
    /// # Errors
    /// [`ConfigError::Invalid`] naming the first wrong key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let sip = &self.sip;
        match Host::parse(&sip.domain) {
            Ok(_) => {}
            Err(_) => {
                return Err(invalid(
                    "sip.domain",
                    format!("`{}` is not a host name or IP address", sip.domain),
                ));
            }
        }
        if sip.udp.is_empty() && sip.tcp.is_empty() && sip.tls.is_empty() {
            return Err(invalid(
                "sip",
                "needs at least one `udp`, `tcp` or `tls` address",
            ));
        }
        for (key, list) in [
            ("sip.udp", &sip.udp),
            ("sip.tcp", &sip.tcp),
            ("sip.tls", &sip.tls),
        ] {
            for (i, a) in list.iter().enumerate() {
                if list[..i].contains(a) {
                    return Err(invalid(key, format!("{a} appears twice")));
                }
            }
        }
        // TCP and TLS listeners are both TCP ports.
        if let Some(a) = sip
            .tls
            .iter()
            .find(|a| a.port() != 0 && sip.tcp.contains(a))
        {
            return Err(invalid(
                "sip.tls",
                format!("{a} is also in sip.tcp; TLS needs a port of its own"),
            ));
        }
        self.validate_tls()?;

        for (i, a) in sip.digest_algorithms.iter().enumerate() {
            if sip.digest_algorithms[..i].contains(a) {
                return Err(invalid(
                    "sip.digest_algorithms",
                    format!("{a:?} appears twice"),
                ));
            }
        }
        if sip.digest_algorithms.is_empty() {
            return Err(invalid(
                "sip.digest_algorithms",
                "needs at least one algorithm",
            ));
        }

        let mut seen = Vec::new();
        for (i, u) in self.users.iter().enumerate() {
            check_name(&format!("users[{i}].name"), &u.name, &mut seen)?;
            if u.password.is_empty() {
                return Err(invalid(format!("users[{i}].password"), "must not be empty"));
            }
        }

        let mut aors: Vec<&str> = Vec::new();
        for (i, l) in self.csta_lines.iter().enumerate() {
            let key = format!("csta_lines[{i}].aor");
            check_sip_uri(&key, &l.aor)?;
            if aors.contains(&l.aor.as_str()) {
                return Err(invalid(key, format!("`{}` appears twice", l.aor)));
            }
            aors.push(&l.aor);
            if l.auth_user.is_empty() {
                return Err(invalid(
                    format!("csta_lines[{i}].auth_user"),
                    "must not be empty",
                ));
            }
            if l.pickup_group
                .as_deref()
                .is_some_and(|g| g.trim().is_empty())
            {
                return Err(invalid(
                    format!("csta_lines[{i}].pickup_group"),
                    "must not be empty (leave the key out for no group)",
                ));
            }
        }

        let mut seen = Vec::new();
        for (i, c) in self.client_users.iter().enumerate() {
            check_name(&format!("client_users[{i}].name"), &c.name, &mut seen)?;
            if c.password.is_empty() {
                return Err(invalid(
                    format!("client_users[{i}].password"),
                    "must not be empty",
                ));
            }
            if c.devices.is_empty() {
                return Err(invalid(
                    format!("client_users[{i}].devices"),
                    "must list at least one device (or \"*\" for all)",
                ));
            }
            for (j, d) in c.devices.iter().enumerate() {
                if d != "*" {
                    check_sip_uri(&format!("client_users[{i}].devices[{j}]"), d)?;
                }
            }
        }

        if let Some(up) = &self.upstream {
            check_sip_uri("upstream.uri", &up.uri)?;
            let uri = Uri::parse(&up.uri).ok();
            let usable = uri.as_ref().and_then(Uri::as_sip).is_some_and(|u| {
                !u.secure
                    && u.transport().is_none_or(|t| {
                        t.eq_ignore_ascii_case("udp") || t.eq_ignore_ascii_case("tcp")
                    })
            });
            if !usable {
                return Err(invalid(
                    "upstream.uri",
                    format!("`{}`: only sip: over UDP or TCP is supported", up.uri),
                ));
            }
        }

        let t = &self.timers;
        if t.registration_min_expires == 0 {
            return Err(invalid(
                "timers.registration_min_expires",
                "must be at least 1",
            ));
        }
        if t.registration_default_expires < t.registration_min_expires {
            return Err(invalid(
                "timers.registration_default_expires",
                "must not be below timers.registration_min_expires",
            ));
        }
        if t.registration_max_expires < t.registration_default_expires {
            return Err(invalid(
                "timers.registration_max_expires",
                "must not be below timers.registration_default_expires",
            ));
        }
        if t.session_expires < MIN_SESSION_EXPIRES {
            return Err(invalid(
                "timers.session_expires",
                format!("must be at least {MIN_SESSION_EXPIRES} (RFC 4028)"),
            ));
        }
        if t.tcp_idle_timeout == 0 {
            return Err(invalid("timers.tcp_idle_timeout", "must be at least 1"));
        }
        if t.client_idle_timeout == 0 {
            return Err(invalid("timers.client_idle_timeout", "must be at least 1"));
        }
        if t.client_login_timeout == 0 {
            return Err(invalid("timers.client_login_timeout", "must be at least 1"));
        }
        if t.sip_t1_ms == 0 {
            return Err(invalid("timers.sip_t1_ms", "must be at least 1"));
        }
        if t.sip_t2_ms < t.sip_t1_ms {
            return Err(invalid(
                "timers.sip_t2_ms",
                "must not be below timers.sip_t1_ms",
            ));
        }
        if t.invite_timeout == 0 {
            return Err(invalid("timers.invite_timeout", "must be at least 1"));
        }

        let l = &self.limits;
        if !(MIN_MESSAGE_SIZE..=MAX_MESSAGE_SIZE).contains(&l.max_message_size) {
            return Err(invalid(
                "limits.max_message_size",
                format!("must be between {MIN_MESSAGE_SIZE} and {MAX_MESSAGE_SIZE}"),
            ));
        }
        if !(1..=crate::transport::MAX_CONNECTIONS).contains(&l.max_tcp_connections) {
            return Err(invalid(
                "limits.max_tcp_connections",
                format!(
                    "must be between 1 and {}",
                    crate::transport::MAX_CONNECTIONS
                ),
            ));
        }
        if l.max_clients == 0 {
            return Err(invalid("limits.max_clients", "must be at least 1"));
        }
        if l.max_clients_per_source == 0 {
            return Err(invalid(
                "limits.max_clients_per_source",
                "must be at least 1",
            ));
        }
        if !(MIN_CLIENT_MESSAGE..=MAX_CLIENT_MESSAGE).contains(&l.max_client_message) {
            return Err(invalid(
                "limits.max_client_message",
                format!("must be between {MIN_CLIENT_MESSAGE} and {MAX_CLIENT_MESSAGE}"),
            ));
        }
        if !(1..=1_000_000).contains(&l.client_queue) {
            return Err(invalid(
                "limits.client_queue",
                "must be between 1 and 1000000",
            ));
        }
        if !(1..=1_000_000).contains(&l.max_monitors_per_client) {
            return Err(invalid(
                "limits.max_monitors_per_client",
                "must be between 1 and 1000000",
            ));
        }
        if !(1..=10_000_000).contains(&l.max_proxy_transactions) {
            return Err(invalid(
                "limits.max_proxy_transactions",
                "must be between 1 and 10000000",
            ));
        }
        let queue = crate::sessions::QUEUE;
        if !(1..queue).contains(&l.max_pending_per_client_device) {
            return Err(invalid(
                "limits.max_pending_per_client_device",
                format!(
                    "must be between 1 and {} (a phone queues {queue} requests; one client must leave room for the others)",
                    queue - 1
                ),
            ));
        }
        if self.data_dir.as_os_str().is_empty() {
            return Err(invalid("data_dir", "must not be empty"));
        }
        Ok(())
    }

    /// Checks the `[tls]` section and that every TLS listener has a certificate. The
    /// files themselves are read at start ([`crate::tls::load`]).
    fn validate_tls(&self) -> Result<(), ConfigError> {
        if let Some(t) = &self.tls {
            if t.certificate.as_os_str().is_empty() {
                return Err(invalid("tls.certificate", "must not be empty"));
            }
            if t.private_key.as_os_str().is_empty() {
                return Err(invalid("tls.private_key", "must not be empty"));
            }
        }
        if self.tls.is_none() && !self.dev_tls {
            const NEEDS: &str = "a TLS listener needs the [tls] section with `certificate` \
                                 and `private_key` (or the --dev-tls option)";
            if !self.sip.tls.is_empty() {
                return Err(invalid("sip.tls", NEEDS));
            }
            if self.clients.tls.is_some() {
                return Err(invalid("clients.tls", NEEDS));
            }
        }
        if let Some(a) = self.clients.tls
            && a.port() != 0
            && (self.clients.tcp == Some(a) || self.clients.websocket == Some(a))
        {
            return Err(invalid(
                "clients.tls",
                format!("{a} is also the address of another client listener"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_text_gives_the_loopback_defaults() {
        let c = Config::from_toml_str("").unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.sip.udp, vec!["127.0.0.1:5060".parse().unwrap()]);
        assert_eq!(c.sip.tcp, vec!["127.0.0.1:5060".parse().unwrap()]);
        assert_eq!(c.clients.tcp, Some("127.0.0.1:7001".parse().unwrap()));
        assert_eq!(c.http.listen, Some("127.0.0.1:9090".parse().unwrap()));
        assert_eq!(c.upstream, None);
    }

    #[test]
    fn example_file_parses_and_matches_its_comments() {
        let text = include_str!("../csta-server.example.toml");
        let c = Config::from_toml_str(text).unwrap();
        // Values the comments of the example state.
        assert_eq!(c.sip.domain, "example.test");
        assert_eq!(
            c.sip.udp,
            vec![
                "127.0.0.1:5060".parse().unwrap(),
                "[::1]:5060".parse().unwrap()
            ]
        );
        assert_eq!(c.timers.registration_min_expires, 60);
        assert_eq!(c.timers.registration_max_expires, 7200);
        assert_eq!(c.limits.max_message_size, 65_535);
        assert_eq!(
            c.limits.max_pending_per_client_device,
            crate::hub::DEVICE_SHARE
        );
        assert_eq!(c.csta_lines.len(), 2);
        assert!(!c.csta_lines[0].notify_mode);
        assert!(c.csta_lines[1].notify_mode);
        assert_eq!(c.csta_lines[0].pickup_group.as_deref(), Some("front-desk"));
        assert_eq!(c.client_users[0].devices, vec!["*".to_string()]);
        assert_eq!(c.upstream.as_ref().map(|u| u.outbound_proxy), Some(false));
        assert!(c.sip.authenticate_calls);
        assert_eq!(c.timers.sip_t1_ms, 500);
        assert_eq!(c.timers.sip_t2_ms, 4000);
        assert_eq!(c.timers.sip_t4_ms, 5000);
        assert_eq!(c.timers.invite_timeout, 181);
        assert_eq!(c.data_dir, PathBuf::from("/var/lib/csta-server"));
    }

    #[test]
    fn unknown_keys_are_named() {
        let e = Config::from_toml_str("[sip]\nport = 5060\n").unwrap_err();
        assert!(matches!(e, ConfigError::Syntax(_)));
        assert!(e.to_string().contains("`port`"), "{e}");
        let e = Config::from_toml_str("colour = 1\n").unwrap_err();
        assert!(e.to_string().contains("`colour`"), "{e}");
    }

    fn invalid_key(text: &str) -> String {
        match Config::from_toml_str(text) {
            Err(ConfigError::Invalid { key, .. }) => key,
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn values_are_validated() {
        assert_eq!(invalid_key("[sip]\ndomain = \"a b\"\n"), "sip.domain");
        assert_eq!(invalid_key("[sip]\nudp = []\ntcp = []\n"), "sip");
        assert_eq!(
            invalid_key("[sip]\nudp = [\"127.0.0.1:1\", \"127.0.0.1:1\"]\n"),
            "sip.udp"
        );
        assert_eq!(
            invalid_key("[[users]]\nname = \"\"\npassword = \"x\"\n"),
            "users[0].name"
        );
        assert_eq!(
            invalid_key(
                "[[users]]\nname = \"a\"\npassword = \"x\"\n[[users]]\nname = \"a\"\npassword = \"y\"\n"
            ),
            "users[1].name"
        );
        assert_eq!(
            invalid_key(
                "[[csta_lines]]\naor = \"tel:123\"\nauth_user = \"a\"\nauth_password = \"b\"\n"
            ),
            "csta_lines[0].aor"
        );
        assert_eq!(
            invalid_key("[timers]\nregistration_min_expires = 4000\n"),
            "timers.registration_default_expires"
        );
        assert_eq!(
            invalid_key("[timers]\nsession_expires = 30\n"),
            "timers.session_expires"
        );
        assert_eq!(
            invalid_key("[limits]\nmax_message_size = 100\n"),
            "limits.max_message_size"
        );
        assert_eq!(
            invalid_key("[limits]\nmax_tcp_connections = 0\n"),
            "limits.max_tcp_connections"
        );
        assert_eq!(
            invalid_key("[limits]\nmax_client_message = 70000\n"),
            "limits.max_client_message"
        );
        assert_eq!(
            invalid_key("[limits]\nclient_queue = 0\n"),
            "limits.client_queue"
        );
        assert_eq!(
            invalid_key("[limits]\nmax_monitors_per_client = 0\n"),
            "limits.max_monitors_per_client"
        );
        for share in [0, crate::sessions::QUEUE] {
            assert_eq!(
                invalid_key(&format!(
                    "[limits]\nmax_pending_per_client_device = {share}\n"
                )),
                "limits.max_pending_per_client_device"
            );
        }
        assert_eq!(
            invalid_key("[limits]\nmax_proxy_transactions = 0\n"),
            "limits.max_proxy_transactions"
        );
        assert_eq!(
            invalid_key("[timers]\nclient_idle_timeout = 0\n"),
            "timers.client_idle_timeout"
        );
        assert_eq!(
            invalid_key("[timers]\nclient_login_timeout = 0\n"),
            "timers.client_login_timeout"
        );
        assert_eq!(
            invalid_key("[limits]\nmax_clients_per_source = 0\n"),
            "limits.max_clients_per_source"
        );
        assert_eq!(
            invalid_key("[upstream]\nuri = \"nonsense\"\n"),
            "upstream.uri"
        );
        assert_eq!(
            invalid_key("[upstream]\nuri = \"sips:pbx.example\"\n"),
            "upstream.uri"
        );
        assert_eq!(
            invalid_key("[upstream]\nuri = \"sip:pbx.example;transport=sctp\"\n"),
            "upstream.uri"
        );
        assert_eq!(invalid_key("[timers]\nsip_t1_ms = 0\n"), "timers.sip_t1_ms");
        assert_eq!(
            invalid_key("[timers]\nsip_t1_ms = 600\nsip_t2_ms = 500\n"),
            "timers.sip_t2_ms"
        );
        assert_eq!(
            invalid_key("[timers]\ninvite_timeout = 0\n"),
            "timers.invite_timeout"
        );
        assert_eq!(
            invalid_key("[[client_users]]\nname = \"c\"\npassword = \"p\"\ndevices = []\n"),
            "client_users[0].devices"
        );
    }

    #[test]
    fn digest_algorithms_are_chosen_in_order() {
        let c = Config::from_toml_str("[sip]\ndigest_algorithms = [\"MD5\"]\n").unwrap();
        assert_eq!(c.sip.digest_algorithms, vec![DigestAlgorithm::Md5]);
        assert!(c.sip.authenticate);
        let c = Config::from_toml_str("[sip]\nauthenticate = false\n").unwrap();
        assert!(!c.sip.authenticate);
        assert_eq!(
            invalid_key("[sip]\ndigest_algorithms = []\n"),
            "sip.digest_algorithms"
        );
        assert_eq!(
            invalid_key("[sip]\ndigest_algorithms = [\"MD5\", \"MD5\"]\n"),
            "sip.digest_algorithms"
        );
        let e = Config::from_toml_str("[sip]\ndigest_algorithms = [\"SHA-1\"]\n").unwrap_err();
        assert!(matches!(e, ConfigError::Syntax(_)), "{e}");
    }

    #[test]
    fn wrong_types_and_addresses_are_syntax_errors() {
        let e = Config::from_toml_str("[sip]\nudp = [\"localhost\"]\n").unwrap_err();
        assert!(matches!(e, ConfigError::Syntax(_)), "{e}");
        let e = Config::from_toml_str("[timers]\nsession_expires = -1\n").unwrap_err();
        assert!(matches!(e, ConfigError::Syntax(_)), "{e}");
    }

    #[test]
    fn listeners_can_be_turned_off() {
        let c = Config::from_toml_str(
            "[clients]\ntcp = false\nwebsocket = \"[::1]:7080\"\n[http]\nlisten = false\n",
        )
        .unwrap();
        assert_eq!(c.clients.tcp, None);
        assert_eq!(c.clients.websocket, Some("[::1]:7080".parse().unwrap()));
        assert_eq!(c.http.listen, None);
        let e = Config::from_toml_str("[http]\nlisten = true\n").unwrap_err();
        assert!(e.to_string().contains("or false"), "{e}");
        let e = Config::from_toml_str("[http]\nlisten = \"nowhere\"\n").unwrap_err();
        assert!(matches!(e, ConfigError::Syntax(_)), "{e}");
    }

    #[test]
    fn tls_is_off_by_default_and_the_example_configures_it() {
        let c = Config::default();
        assert_eq!(c.sip.tls, Vec::<SocketAddr>::new());
        assert_eq!(c.clients.tls, None);
        assert_eq!(c.tls, None);
        assert!(!c.dev_tls);
        let c = Config::from_toml_str(include_str!("../csta-server.example.toml")).unwrap();
        assert_eq!(c.sip.tls, vec!["127.0.0.1:5061".parse().unwrap()]);
        assert_eq!(c.clients.tls, Some("127.0.0.1:7002".parse().unwrap()));
        assert_eq!(
            c.tls,
            Some(TlsConfig {
                certificate: PathBuf::from("/etc/csta-server/cert.pem"),
                private_key: PathBuf::from("/etc/csta-server/key.pem"),
            })
        );
    }

    #[test]
    fn tls_settings_are_validated() {
        const TLS: &str = "[tls]\ncertificate = \"c.pem\"\nprivate_key = \"k.pem\"\n";
        // A TLS listener without a certificate.
        let e = Config::from_toml_str("[sip]\ntls = [\"127.0.0.1:5061\"]\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid configuration: `sip.tls`: a TLS listener needs the [tls] section with \
             `certificate` and `private_key` (or the --dev-tls option)"
        );
        assert_eq!(
            invalid_key("[clients]\ntls = \"127.0.0.1:7002\"\n"),
            "clients.tls"
        );
        // With one, TLS alone is enough for SIP.
        let c = Config::from_toml_str(&format!(
            "[sip]\nudp = []\ntcp = []\ntls = [\"[::1]:5061\"]\n{TLS}"
        ))
        .unwrap();
        assert_eq!(c.sip.tls, vec!["[::1]:5061".parse().unwrap()]);
        assert_eq!(
            invalid_key(&format!(
                "[sip]\ntls = [\"127.0.0.1:5061\", \"127.0.0.1:5061\"]\n{TLS}"
            )),
            "sip.tls"
        );
        // TCP and TLS cannot share a port; port 0 picks two.
        assert_eq!(
            invalid_key(&format!(
                "[sip]\ntcp = [\"127.0.0.1:5060\"]\ntls = [\"127.0.0.1:5060\"]\n{TLS}"
            )),
            "sip.tls"
        );
        Config::from_toml_str(&format!(
            "[sip]\ntcp = [\"127.0.0.1:0\"]\ntls = [\"127.0.0.1:0\"]\n{TLS}"
        ))
        .unwrap();
        assert_eq!(
            invalid_key(&format!("[clients]\ntls = \"127.0.0.1:7001\"\n{TLS}")),
            "clients.tls"
        );
        assert_eq!(
            invalid_key("[tls]\ncertificate = \"\"\nprivate_key = \"k.pem\"\n"),
            "tls.certificate"
        );
        assert_eq!(
            invalid_key("[tls]\ncertificate = \"c.pem\"\nprivate_key = \"\"\n"),
            "tls.private_key"
        );
        // A missing or unknown key of [tls] is named.
        let e = Config::from_toml_str("[tls]\ncertificate = \"c.pem\"\n").unwrap_err();
        assert!(e.to_string().contains("`private_key`"), "{e}");
        let e = Config::from_toml_str(&format!("{TLS}key = \"x\"\n")).unwrap_err();
        assert!(e.to_string().contains("`key`"), "{e}");
        // dev_tls is an option, not a key of the file.
        let e = Config::from_toml_str("dev_tls = true\n").unwrap_err();
        assert!(e.to_string().contains("`dev_tls`"), "{e}");
    }

    #[test]
    fn dev_tls_adds_a_listener_and_needs_no_files() {
        let mut c = Config::default();
        c.enable_dev_tls();
        assert!(c.dev_tls);
        assert_eq!(c.sip.tls, vec![DEV_TLS_LISTEN]);
        assert_eq!(DEV_TLS_LISTEN, "127.0.0.1:5061".parse().unwrap());
        c.clients.tls = Some("127.0.0.1:7002".parse().unwrap());
        c.validate().unwrap();
        // A configured listener is kept.
        let mut c = Config::default();
        c.sip.tls = vec!["[::1]:5071".parse().unwrap()];
        c.enable_dev_tls();
        assert_eq!(c.sip.tls, vec!["[::1]:5071".parse().unwrap()]);
        c.validate().unwrap();
    }

    #[test]
    fn missing_file_is_a_read_error() {
        let e = Config::load(Path::new("/nonexistent/csta.toml")).unwrap_err();
        assert!(matches!(e, ConfigError::Read { .. }));
        assert!(e.to_string().contains("/nonexistent/csta.toml"));
    }
}
