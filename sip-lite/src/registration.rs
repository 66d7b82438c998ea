//! The registration client: keeps one contact registered with one registrar (RFC 3261
//! section 10, RFC 5626 sections 4.2 and 4.5).
//!
//! [`Registration`] is a sans-IO state machine. It builds each REGISTER into the caller's
//! buffer ([`Registration::poll_request`]); the caller hands it to a client transaction
//! and gives the final response back ([`Registration::handle_response`]), or reports
//! that the transaction timed out or the transport failed. The machine answers digest
//! challenges, refreshes the binding before it expires, raises the expiry on
//! 423 (Interval Too Brief), backs off after failures and finally removes the binding
//! ([`Registration::unregister`]).
//!
//! # Drive loop
//!
//! After every input (`register`, `unregister`, `handle_response`,
//! `handle_transaction_timeout`, `handle_transport_error`, `handle_timeout`):
//!
//! 1. send what [`Registration::poll_request`] writes, until it returns `Ok(None)`;
//! 2. drain [`Registration::poll_event`];
//! 3. arm a timer for [`Registration::poll_timeout`] and call
//!    [`Registration::handle_timeout`] when it fires.
//!
//! # Timing rules
//!
//! - **Refresh.** After a 2xx granting `E` seconds, the next REGISTER goes out
//!   `max(E / 2, E - refresh_margin)` seconds later, but never sooner than `min_refresh`
//!   ([`Timing`]). The later of the two keeps traffic low for long intervals while the
//!   margin (by default 32 s, one whole non-INVITE transaction: `64 * T1`) leaves time to
//!   answer a challenge before the binding lapses; half the interval protects short ones.
//! - **Back-off** (RFC 5626 section 4.5). After `n` consecutive failures the upper bound
//!   is `W = min(backoff_max, backoff_base * 2^n)` and the wait is drawn uniformly from
//!   `[W / 2, W)` with a value of the caller's [`IdGenerator`]. A failure response with a
//!   `Retry-After` header waits exactly that long instead.
//!
//! # Authentication
//!
//! A 401 or 407 is answered with the challenge [`digest::select_challenge`] picks (the
//! topmost one this crate implements: servers list their preferred algorithm first,
//! RFC 8760 section 2.4). The challenge is kept and answered preemptively on every later
//! REGISTER with a new cnonce and an increasing nonce count, until the server challenges
//! again. A registrar's (401) and a proxy's (407) challenge are kept side by side, so a
//! REGISTER can carry both `Authorization` and `Proxy-Authorization`.
//!
//! A `stale=true` challenge is answered at once and is not a failure. A challenge that
//! follows a fresh answer (or repeats the nonce just answered) without `stale=true` means
//! the credentials are wrong: [`FailureReason::AuthRejected`]. A preemptive answer that
//! meets a new nonce without `stale=true` (many registrars forget the flag) is retried
//! once with it.
//!
//! ```
//! use sip_lite::digest::Secret;
//! use sip_lite::ids::IdGenerator;
//! use sip_lite::registration::{Config, Registration, RegistrationState};
//! use sip_lite::time::Instant;
//! use sip_lite::wire::{HeaderIndex, Message};
//!
//! let config = Config::new(
//!     "sip:registrar.example.com",
//!     "sip:alice@example.com",
//!     "sip:alice@192.0.2.10:5060",
//!     "SIP/2.0/UDP 192.0.2.10:5060;rport",
//!     "alice",
//!     Secret::Password("secret"),
//! );
//! let mut reg: Registration = Registration::new(&config)?;
//! let mut ids = IdGenerator::new([7; 32]);
//! let now = Instant::ZERO;
//! reg.register(now)?;
//! let mut buf = [0u8; 1500];
//! let len = reg.poll_request(now, &mut ids, &mut buf)?.expect("a REGISTER");
//! let mut headers = [HeaderIndex::EMPTY; 16];
//! let msg = Message::parse(&buf[..len], &mut headers)?;
//! assert_eq!(msg.expires().unwrap().unwrap(), 3600);
//! assert_eq!(reg.state(), RegistrationState::Registering);
//! # Ok::<(), Box<dyn core::error::Error>>(())
//! ```

use core::fmt;
use core::time::Duration;

use heapless::Deque;

use crate::digest::{
    self, Answer, AnswerError, ChallengeKind, HexDigest, ReceivedChallenge, Request, Secret,
};
use crate::error::EmitError;
use crate::ids::{IdGenerator, Token};
use crate::time::Instant;
use crate::wire::{
    Contact, Emit, HeaderName, Message, Method, SliceSink, StatusCode, Uri, Via, Writer,
    parse_delta,
};
use crate::zeroed::ZeroOption;

/// How many 423 (Interval Too Brief) answers one registration attempt follows before it
/// gives up.
pub const MAX_INTERVAL_RETRIES: u8 = 3;

/// How many `stale=true` challenges in a row one attempt answers before it gives up (a
/// server that calls every nonce stale would otherwise keep the client busy forever).
pub const MAX_STALE_RETRIES: u8 = 3;

/// How many events wait for [`Registration::poll_event`]; when full, the oldest is
/// dropped. Each input produces at most three.
pub const EVENT_CAPACITY: usize = 8;

/// Timers of the registration client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Timing {
    /// How long before expiry a refresh goes out, unless half the interval is later
    /// (default 32 s: one non-INVITE transaction, `64 * T1`).
    pub refresh_margin: Duration,
    /// The shortest time between a 2xx and the refresh (default 5 s).
    pub min_refresh: Duration,
    /// `base-time` of RFC 5626 section 4.5 (default 30 s, the value for "all flows
    /// failed"; use 90 s when another flow to the same registrar still works).
    pub backoff_base: Duration,
    /// `max-time` of RFC 5626 section 4.5 (default 1800 s).
    pub backoff_max: Duration,
}

impl Timing {
    /// The defaults described on each field.
    pub const DEFAULT: Timing = Timing {
        refresh_margin: Duration::from_secs(32),
        min_refresh: Duration::from_secs(5),
        backoff_base: Duration::from_secs(30),
        backoff_max: Duration::from_secs(1800),
    };

    /// When to refresh a binding granted for `expires` seconds, counted from the 2xx:
    /// `max(expires / 2, expires - refresh_margin, min_refresh)`.
    pub fn refresh_delay(&self, expires: u32) -> Duration {
        let granted = Duration::from_secs(u64::from(expires));
        let half = granted / 2;
        let before_expiry = granted.saturating_sub(self.refresh_margin);
        half.max(before_expiry).max(self.min_refresh)
    }

    /// The upper bound `W = min(backoff_max, backoff_base * 2^failures)` of the wait
    /// after `failures` consecutive failures (RFC 5626 section 4.5).
    pub fn backoff_bound(&self, failures: u32) -> Duration {
        let factor = 1u32.checked_shl(failures.min(31)).unwrap_or(u32::MAX);
        self.backoff_base
            .saturating_mul(factor)
            .min(self.backoff_max)
    }
}

impl Default for Timing {
    fn default() -> Self {
        Timing::DEFAULT
    }
}

/// What the registration is made of. The strings are copied into the
/// [`Registration`]'s own storage by [`Registration::new`].
#[derive(Debug, Clone, Copy)]
pub struct Config<'a> {
    /// The Request-URI of every REGISTER: the registrar (`sip:registrar.example.com`).
    pub registrar: &'a str,
    /// The address of record, in To and From (`sip:alice@example.com`).
    pub aor: &'a str,
    /// The contact URI to bind (`sip:alice@192.0.2.10:5060;transport=tcp`).
    pub contact: &'a str,
    /// The Via value without branch (`SIP/2.0/UDP 192.0.2.10:5060;rport`).
    pub via: &'a str,
    /// `+sip.instance` (RFC 5626 section 4.1): a URN such as
    /// `urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6`, with or without angle brackets.
    pub instance: Option<&'a str>,
    /// `reg-id` (RFC 5626 section 4.2): the flow; needs [`Config::instance`]. With it,
    /// REGISTER carries `Supported: path, outbound`.
    pub reg_id: Option<u32>,
    /// Requested expiry in seconds (default 3600).
    pub expires: u32,
    /// The digest user name.
    pub username: &'a str,
    /// The password, or the HA1 for the algorithm the registrar uses.
    pub secret: Secret<'a>,
    /// A User-Agent header value.
    pub user_agent: Option<&'a str>,
    /// Refresh and back-off timers.
    pub timing: Timing,
}

impl<'a> Config<'a> {
    /// A configuration with an expiry of 3600 s, no RFC 5626 parameters, no User-Agent
    /// and default [`Timing`].
    pub const fn new(
        registrar: &'a str,
        aor: &'a str,
        contact: &'a str,
        via: &'a str,
        username: &'a str,
        secret: Secret<'a>,
    ) -> Config<'a> {
        Config {
            registrar,
            aor,
            contact,
            via,
            instance: None,
            reg_id: None,
            expires: 3600,
            username,
            secret,
            user_agent: None,
            timing: Timing::DEFAULT,
        }
    }
}

/// A configuration that [`Registration::new`] refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum ConfigError {
    /// The strings do not fit the storage: raise the `N` of [`Registration`].
    TooLong,
    /// The registrar is not a URI.
    Registrar,
    /// The address of record is not a URI.
    Aor,
    /// The contact is not a URI.
    Contact,
    /// The Via value does not parse, or already has a branch.
    Via,
    /// The instance is not a `urn:` URN in a form that fits a quoted parameter.
    Instance,
    /// `reg-id` without `+sip.instance` (RFC 5626 section 4.2.1 needs both).
    RegIdWithoutInstance,
    /// Expiry of zero: use [`Registration::unregister`] to remove a binding.
    ZeroExpires,
    /// The user name or User-Agent holds control characters.
    Text,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfigError::TooLong => "registration configuration does not fit the storage",
            ConfigError::Registrar => "registrar is not a valid URI",
            ConfigError::Aor => "address of record is not a valid URI",
            ConfigError::Contact => "contact is not a valid URI",
            ConfigError::Via => "Via value is invalid or has a branch",
            ConfigError::Instance => "+sip.instance is not a valid URN",
            ConfigError::RegIdWithoutInstance => "reg-id needs +sip.instance",
            ConfigError::ZeroExpires => "requested expiry is zero",
            ConfigError::Text => "user name or User-Agent holds control characters",
        })
    }
}

impl core::error::Error for ConfigError {}

/// A call the registration client refuses. The machine is unchanged by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum RegistrationError {
    /// The message given as a response is a request.
    NotAResponse,
    /// No REGISTER is waiting for an answer.
    NoRequestOutstanding,
    /// The response's Call-ID or CSeq is not the outstanding REGISTER's: a late answer
    /// to an earlier request. Ignore it.
    StaleResponse,
    /// The response has no valid Call-ID or CSeq.
    MalformedResponse,
    /// [`Registration::register`] while the registration is already active.
    AlreadyActive,
    /// The machine has no configuration ([`Registration::unconfigured`]): call
    /// [`Registration::configure`] first.
    NotConfigured,
    /// The buffer is too small for the REGISTER (`required` octets, 0 if unknown); call
    /// again with a larger one.
    BufferTooSmall {
        /// Octets the REGISTER needs.
        required: usize,
    },
    /// The REGISTER could not be written for another reason (a configured value that
    /// cannot appear in a header).
    Emit(EmitError),
}

impl fmt::Display for RegistrationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistrationError::NotAResponse => f.write_str("message is not a response"),
            RegistrationError::NoRequestOutstanding => f.write_str("no REGISTER outstanding"),
            RegistrationError::StaleResponse => {
                f.write_str("response does not match the outstanding REGISTER")
            }
            RegistrationError::MalformedResponse => {
                f.write_str("response without valid Call-ID or CSeq")
            }
            RegistrationError::AlreadyActive => f.write_str("registration already active"),
            RegistrationError::NotConfigured => f.write_str("registration not configured"),
            RegistrationError::BufferTooSmall { required } => {
                write!(
                    f,
                    "buffer too small for REGISTER: {required} octets required"
                )
            }
            RegistrationError::Emit(e) => write!(f, "cannot write REGISTER: {e}"),
        }
    }
}

impl core::error::Error for RegistrationError {}

impl From<EmitError> for RegistrationError {
    fn from(e: EmitError) -> Self {
        match e {
            EmitError::InsufficientSize { required } => {
                RegistrationError::BufferTooSmall { required }
            }
            e => RegistrationError::Emit(e),
        }
    }
}

/// Why an attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum FailureReason {
    /// A final response other than 2xx (and other than a challenge or a 423 that could
    /// be followed).
    Status(StatusCode),
    /// The client transaction timed out (Timer F).
    Timeout,
    /// The transport reported an error.
    Transport,
    /// The registrar rejected the credentials (the status: 401 or 407).
    AuthRejected(StatusCode),
    /// A 401 or 407 without a challenge this crate can answer, or one too large for the
    /// storage, or one the configured secret does not fit (an HA1 of another algorithm).
    Challenge(StatusCode),
    /// A 2xx that grants our contact an expiry of zero.
    NotBound,
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureReason::Status(s) => write!(f, "registrar answered {s}"),
            FailureReason::Timeout => f.write_str("REGISTER timed out"),
            FailureReason::Transport => f.write_str("transport error"),
            FailureReason::AuthRejected(s) => write!(f, "credentials rejected ({s})"),
            FailureReason::Challenge(s) => write!(f, "cannot answer the challenge of {s}"),
            FailureReason::NotBound => f.write_str("registrar granted no time"),
        }
    }
}

/// What the registration reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum RegistrationEvent {
    /// The registrar accepted the binding for `expires` seconds; the refresh goes out at
    /// `refresh_at`.
    Registered {
        /// The expiry granted to our contact, in seconds.
        expires: u32,
        /// When the refresh will be sent.
        refresh_at: Instant,
    },
    /// The refresh timer fired: a refreshing REGISTER is about to be sent.
    Refreshing,
    /// An attempt failed. `retry_at` is when the next attempt goes out, `None` when
    /// the machine stops (a failed de-registration).
    Failed {
        /// Why.
        reason: FailureReason,
        /// When the next attempt goes out.
        retry_at: Option<Instant>,
    },
    /// The binding is removed (or the attempt to remove it ended): the machine stopped.
    Unregistered,
}

/// Where the registration stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RegistrationState {
    /// Not started.
    Idle,
    /// Seeking a first binding (or a new one after a failure): a REGISTER is waiting to
    /// be sent or for its answer.
    Registering,
    /// Bound; waiting for the refresh time.
    Registered,
    /// A refreshing REGISTER is waiting to be sent or for its answer.
    Refreshing,
    /// The last attempt failed; waiting for the back-off to end.
    BackingOff,
    /// Removing the binding.
    Unregistering,
    /// Stopped after [`Registration::unregister`].
    Unregistered,
}

/// A string in the arena.
#[derive(Debug, Clone, Copy, Default)]
struct Span {
    start: u32,
    len: u32,
}

/// A challenge being answered.
#[derive(Debug, Clone, Copy)]
struct Stored {
    /// The selected WWW-Authenticate / Proxy-Authenticate value, in the arena.
    span: Span,
    /// The last nonce count sent with this nonce.
    nc: u32,
}

/// The REGISTER waiting for its final response.
#[derive(Debug, Clone, Copy)]
struct Outstanding {
    cseq: u32,
    /// It carried credentials for the stored challenge of each [`ChallengeKind`].
    with_auth: [bool; 2],
    /// It was a de-registration (Expires: 0).
    unregister: bool,
}

/// A registration client for one contact with one registrar.
///
/// `N` is the storage, in octets, for the configured strings plus the challenges being
/// answered (a typical challenge needs 100 to 250 octets; a registrar's and a proxy's
/// may be stored at once).
pub struct Registration<const N: usize = 768> {
    arena: heapless::Vec<u8, N>,
    /// Length of the configuration part of the arena; the challenges follow it.
    config_len: usize,
    registrar: Span,
    aor: Span,
    contact: Span,
    via: Span,
    instance: Option<Span>,
    reg_id: Option<u32>,
    username: Span,
    password: Option<Span>,
    ha1: Option<HexDigest>,
    user_agent: Option<Span>,
    timing: Timing,
    /// The expiry asked for; raised by 423 answers.
    expires: u32,

    state: RegistrationState,
    call_id: Option<Token>,
    from_tag: Option<Token>,
    /// The last CSeq number used.
    cseq: u32,
    /// When the next REGISTER goes out; due once `now` reaches it.
    send_at: Option<Instant>,
    outstanding: ZeroOption<Outstanding>,
    /// The challenges being answered, by [`ChallengeKind`].
    challenges: [Option<Stored>; 2],
    /// By [`ChallengeKind`]: the outstanding request answers a challenge received in this
    /// attempt (not a preemptive reuse), so being challenged again means the
    /// credentials are wrong.
    fresh_answer: [bool; 2],
    stale_retries: u8,
    interval_retries: u8,
    /// Consecutive failed attempts (RFC 5626 section 4.5).
    failures: u32,
    /// `unregister` was called while a REGISTER was outstanding.
    unregister_requested: bool,
    /// The expiry granted by the last 2xx.
    granted: Option<u32>,
    /// The last 2xx carried `Require: outbound` (RFC 5626 section 4.2.1).
    outbound: bool,
    events: Deque<RegistrationEvent, EVENT_CAPACITY>,
}

impl<const N: usize> fmt::Debug for Registration<N> {
    /// Shows where the registration stands; never the arena, which holds the password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Registration")
            .field("state", &self.state)
            .field("call_id", &self.call_id)
            .field("cseq", &self.cseq)
            .field("expires", &self.expires)
            .field("granted", &self.granted)
            .field("send_at", &self.send_at)
            .field("outstanding", &self.outstanding)
            .field("failures", &self.failures)
            .finish_non_exhaustive()
    }
}

/// Whether `s` can go into a header value unchanged.
fn is_header_text(s: &str) -> bool {
    !s.bytes().any(|b| (b < b' ' && b != b'\t') || b == 0x7f)
}

/// Whether `s` can be written into a header as a URI (inside angle brackets).
fn is_uri_text(s: &str) -> bool {
    !s.is_empty()
        && !s
            .bytes()
            .any(|b| b <= b' ' || b == 0x7f || b == b'<' || b == b'>')
}

impl<const N: usize> Registration<N> {
    /// A machine without a configuration, for firmware that keeps it in a `static`
    /// and configures it in place: all zero bits, so the static goes to `.bss`. It
    /// refuses to register ([`RegistrationError::NotConfigured`]) until
    /// [`Registration::configure`].
    pub const fn unconfigured() -> Self {
        const NO_SPAN: Span = Span { start: 0, len: 0 };
        const NO_TIME: Duration = Duration::ZERO;
        Registration {
            arena: heapless::Vec::new(),
            config_len: 0,
            registrar: NO_SPAN,
            aor: NO_SPAN,
            contact: NO_SPAN,
            via: NO_SPAN,
            instance: None,
            reg_id: None,
            username: NO_SPAN,
            password: None,
            ha1: None,
            user_agent: None,
            // The real timing comes with the configuration: the defaults are not zero.
            timing: Timing {
                refresh_margin: NO_TIME,
                min_refresh: NO_TIME,
                backoff_base: NO_TIME,
                backoff_max: NO_TIME,
            },
            expires: 0,
            state: RegistrationState::Idle,
            call_id: None,
            from_tag: None,
            cseq: 0,
            send_at: None,
            outstanding: ZeroOption::None,
            challenges: [None; 2],
            fresh_answer: [false; 2],
            stale_retries: 0,
            interval_retries: 0,
            failures: 0,
            unregister_requested: false,
            granted: None,
            outbound: false,
            events: Deque::new(),
        }
    }

    /// Copies `config` into the machine's storage. The machine is [`RegistrationState::Idle`]
    /// until [`Registration::register`].
    ///
    /// # Errors
    /// The [`ConfigError`] that describes the first problem found.
    pub fn new(config: &Config<'_>) -> Result<Self, ConfigError> {
        let mut r = Self::unconfigured();
        r.configure(config)?;
        Ok(r)
    }

    /// Configures the machine in place and starts it over: whatever it was doing is
    /// forgotten without a message (a binding it made stays at the registrar until it
    /// expires; [`Registration::unregister`] first to remove it), and it is as
    /// [`Registration::new`] made it, [`RegistrationState::Idle`], with a new Call-ID
    /// and CSeq from 1 at the next REGISTER.
    ///
    /// # Errors
    /// The [`ConfigError`] that describes the first problem found; the machine is
    /// unchanged then.
    pub fn configure(&mut self, config: &Config<'_>) -> Result<(), ConfigError> {
        let uri_ok = |s: &str| is_uri_text(s) && Uri::parse(s).is_ok();
        if !uri_ok(config.registrar) {
            return Err(ConfigError::Registrar);
        }
        if !uri_ok(config.aor) {
            return Err(ConfigError::Aor);
        }
        if !uri_ok(config.contact) {
            return Err(ConfigError::Contact);
        }
        if !is_header_text(config.via)
            || Via::parse(config.via).map_or(true, |v| v.branch().is_some())
        {
            return Err(ConfigError::Via);
        }
        let instance = match config.instance {
            None => None,
            Some(i) => {
                let i = i
                    .strip_prefix('<')
                    .and_then(|i| i.strip_suffix('>'))
                    .unwrap_or(i);
                let scheme_ok = i.get(..4).is_some_and(|s| s.eq_ignore_ascii_case("urn:"));
                if !scheme_ok || !is_uri_text(i) || i.contains('"') || i.contains('\\') {
                    return Err(ConfigError::Instance);
                }
                Some(i)
            }
        };
        if config.reg_id.is_some() && instance.is_none() {
            return Err(ConfigError::RegIdWithoutInstance);
        }
        if config.expires == 0 {
            return Err(ConfigError::ZeroExpires);
        }
        if !is_header_text(config.username) || config.user_agent.is_some_and(|u| !is_header_text(u))
        {
            return Err(ConfigError::Text);
        }
        let password = match config.secret {
            Secret::Password(p) => Some(p),
            Secret::Ha1(_) => None,
        };
        let strings = [
            Some(config.registrar),
            Some(config.aor),
            Some(config.contact),
            Some(config.via),
            instance,
            Some(config.username),
            password,
            config.user_agent,
        ];
        let total = strings
            .iter()
            .flatten()
            .try_fold(0usize, |n, s| n.checked_add(s.len()));
        if total.is_none_or(|n| n > N || u32::try_from(n).is_err()) {
            return Err(ConfigError::TooLong);
        }

        // Checked: from here on nothing fails.
        self.arena.clear();
        let arena = &mut self.arena;
        let mut put = |s: &str| -> Span {
            // Fits: the total was checked.
            let start = arena.len() as u32;
            let _ = arena.extend_from_slice(s.as_bytes());
            Span {
                start,
                len: s.len() as u32,
            }
        };
        self.registrar = put(config.registrar);
        self.aor = put(config.aor);
        self.contact = put(config.contact);
        self.via = put(config.via);
        self.instance = instance.map(&mut put);
        self.username = put(config.username);
        (self.password, self.ha1) = match config.secret {
            Secret::Password(p) => (Some(put(p)), None),
            Secret::Ha1(d) => (None, Some(d)),
        };
        self.user_agent = config.user_agent.map(&mut put);
        self.config_len = self.arena.len();
        self.reg_id = config.reg_id;
        self.timing = config.timing;
        self.expires = config.expires;
        self.state = RegistrationState::Idle;
        self.call_id = None;
        self.from_tag = None;
        self.cseq = 0;
        self.send_at = None;
        self.outstanding = ZeroOption::None;
        self.challenges = [None; 2];
        self.fresh_answer = [false; 2];
        self.stale_retries = 0;
        self.interval_retries = 0;
        self.failures = 0;
        self.unregister_requested = false;
        self.granted = None;
        self.outbound = false;
        self.events.clear();
        Ok(())
    }

    /// Whether [`Registration::configure`] (or [`Registration::new`]) gave the machine
    /// its configuration.
    pub fn is_configured(&self) -> bool {
        // A configuration always holds the registrar's URI.
        self.config_len != 0
    }

    fn text(&self, span: Span) -> &str {
        let start = span.start as usize;
        let end = start.saturating_add(span.len as usize);
        self.arena
            .get(start..end)
            .and_then(|b| core::str::from_utf8(b).ok())
            .unwrap_or("")
    }

    fn push_event(&mut self, event: RegistrationEvent) {
        if self.events.is_full() {
            // The caller is not draining events; the newest matter most.
            self.events.pop_front();
        }
        let _ = self.events.push_back(event);
    }

    /// Where the registration stands.
    #[must_use]
    pub fn state(&self) -> RegistrationState {
        self.state
    }

    /// The Call-ID of every REGISTER of this contact (RFC 3261 section 10.2.4), once the
    /// first one is built.
    #[must_use]
    pub fn call_id(&self) -> Option<&str> {
        self.call_id.as_ref().map(|t| t.as_str())
    }

    /// The CSeq number of the last REGISTER built (0 before the first).
    #[must_use]
    pub fn cseq(&self) -> u32 {
        self.cseq
    }

    /// The expiry requested, in seconds (the configured one, raised by 423 answers).
    #[must_use]
    pub fn requested_expires(&self) -> u32 {
        self.expires
    }

    /// The expiry the last 2xx granted, in seconds.
    #[must_use]
    pub fn granted_expires(&self) -> Option<u32> {
        self.granted
    }

    /// Whether the registrar took the binding as an RFC 5626 flow: the last 2xx
    /// carried `Require: outbound` (section 4.2.1), so the flow must be kept alive
    /// (section 4.4). Always `false` without [`Config::reg_id`].
    #[must_use]
    pub fn outbound(&self) -> bool {
        self.outbound
    }

    /// Consecutive failed attempts.
    #[must_use]
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Whether a REGISTER was built and waits for its final response.
    #[must_use]
    pub fn is_outstanding(&self) -> bool {
        self.outstanding.is_some()
    }

    /// Starts registering: the first REGISTER is due at `now`. Also restarts a machine
    /// that was unregistered (same Call-ID, CSeq continues).
    ///
    /// # Errors
    /// [`RegistrationError::AlreadyActive`] unless the machine is idle or unregistered;
    /// [`RegistrationError::NotConfigured`] before [`Registration::configure`].
    pub fn register(&mut self, now: Instant) -> Result<(), RegistrationError> {
        if !self.is_configured() {
            return Err(RegistrationError::NotConfigured);
        }
        match self.state {
            RegistrationState::Idle | RegistrationState::Unregistered => {
                self.state = RegistrationState::Registering;
                self.send_at = Some(now);
                self.failures = 0;
                self.reset_attempt();
                self.unregister_requested = false;
                Ok(())
            }
            _ => Err(RegistrationError::AlreadyActive),
        }
    }

    /// Registers at once, whatever the refresh or back-off timer says: for a binding
    /// that must be made again now, such as one made over a TCP connection that is gone
    /// when a new connection is up (RFC 5626 section 4.5: the new flow replaces the
    /// registrations made over the failed one). An idle or unregistered machine starts
    /// as with [`Registration::register`]; a bound one sends its refresh now
    /// ([`RegistrationEvent::Refreshing`]), one that is backing off its next attempt.
    /// The count of failures stays (a success resets it).
    ///
    /// # Errors
    /// [`RegistrationError::AlreadyActive`] while a REGISTER is outstanding (its outcome
    /// decides what follows) or the binding is being removed;
    /// [`RegistrationError::NotConfigured`] before [`Registration::configure`].
    pub fn register_now(&mut self, now: Instant) -> Result<(), RegistrationError> {
        if !self.is_configured() {
            return Err(RegistrationError::NotConfigured);
        }
        match self.state {
            RegistrationState::Idle | RegistrationState::Unregistered => self.register(now),
            RegistrationState::Unregistering => Err(RegistrationError::AlreadyActive),
            _ if self.outstanding.is_some() => Err(RegistrationError::AlreadyActive),
            RegistrationState::Registered | RegistrationState::Refreshing => {
                if self.state == RegistrationState::Registered {
                    self.push_event(RegistrationEvent::Refreshing);
                }
                self.state = RegistrationState::Refreshing;
                self.send_at = Some(now);
                self.reset_attempt();
                Ok(())
            }
            RegistrationState::Registering | RegistrationState::BackingOff => {
                self.state = RegistrationState::Registering;
                self.send_at = Some(now);
                self.reset_attempt();
                Ok(())
            }
        }
    }

    /// Removes the binding: a REGISTER with `Expires: 0` for this contact and the same
    /// Call-ID (RFC 3261 section 10.2.2). If a REGISTER is outstanding, it goes out once
    /// that one is answered (section 10.2: one registration at a time). A machine that
    /// never started reports [`RegistrationEvent::Unregistered`] at once.
    pub fn unregister(&mut self, now: Instant) {
        match self.state {
            RegistrationState::Idle => {
                self.state = RegistrationState::Unregistered;
                self.push_event(RegistrationEvent::Unregistered);
            }
            RegistrationState::Unregistered | RegistrationState::Unregistering => {}
            _ if self.outstanding.is_some() => self.unregister_requested = true,
            _ => self.start_unregister(now),
        }
    }

    fn start_unregister(&mut self, now: Instant) {
        self.unregister_requested = false;
        self.state = RegistrationState::Unregistering;
        self.send_at = Some(now);
        // A 423 raised the registration's expiry; it does not concern the removal.
        self.interval_retries = 0;
    }

    /// Forgets the per-attempt counters.
    fn reset_attempt(&mut self) {
        self.fresh_answer = [false; 2];
        self.stale_retries = 0;
        self.interval_retries = 0;
    }

    /// When [`Registration::handle_timeout`] (or [`Registration::poll_request`]) has
    /// something to do: the next REGISTER is due. `None` while a REGISTER is
    /// outstanding (the transaction layer times it) or when stopped.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.outstanding.is_some() {
            None
        } else {
            self.send_at
        }
    }

    /// Fires the refresh or back-off timer if `now` reached it; the REGISTER is then
    /// ready in [`Registration::poll_request`].
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.outstanding.is_none() && self.send_at.is_some_and(|t| t <= now) {
            match self.state {
                RegistrationState::Registered => {
                    self.state = RegistrationState::Refreshing;
                    self.push_event(RegistrationEvent::Refreshing);
                }
                RegistrationState::BackingOff => self.state = RegistrationState::Registering,
                _ => {}
            }
        }
    }

    /// The next event, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<RegistrationEvent> {
        self.events.pop_front()
    }

    /// Writes the REGISTER due at `now` into `buf` and returns its length; `Ok(None)`
    /// when none is due or one is outstanding. The caller sends it in a new client
    /// transaction and reports its outcome.
    ///
    /// A challenge the configured secret cannot answer (an HA1 for another algorithm)
    /// ends the attempt as a failure instead ([`FailureReason::Challenge`]), which is
    /// why a generator is needed here.
    ///
    /// # Errors
    /// [`RegistrationError::BufferTooSmall`]: the REGISTER stays due (with the same
    /// CSeq); call again with a larger buffer.
    pub fn poll_request(
        &mut self,
        now: Instant,
        ids: &mut IdGenerator,
        buf: &mut [u8],
    ) -> Result<Option<usize>, RegistrationError> {
        self.handle_timeout(now);
        if self.outstanding.is_some() || self.send_at.is_none_or(|t| t > now) {
            return Ok(None);
        }
        let call_id = *self.call_id.get_or_insert_with(|| ids.token());
        let from_tag = *self.from_tag.get_or_insert_with(|| ids.token());
        let cseq = self.cseq.wrapping_add(1).max(1);
        let branch = ids.branch();
        let unregister = self.state == RegistrationState::Unregistering;
        let nc = self.challenges.map(|c| c.map(|c| c.nc.saturating_add(1)));
        let cnonce = self.challenges.map(|c| c.map(|_| ids.token()));
        let fields = RequestFields {
            call_id: &call_id,
            from_tag: &from_tag,
            cseq,
            branch: &branch,
            expires: if unregister { 0 } else { self.expires },
            cnonce: &cnonce,
            nc,
        };
        match self.write_register(&fields, buf) {
            Ok(len) => {
                self.cseq = cseq;
                for (c, nc) in self.challenges.iter_mut().zip(nc) {
                    if let (Some(c), Some(nc)) = (c, nc) {
                        c.nc = nc;
                    }
                }
                self.outstanding = ZeroOption::Some(Outstanding {
                    cseq,
                    with_auth: self.challenges.map(|c| c.is_some()),
                    unregister,
                });
                self.send_at = None;
                Ok(Some(len))
            }
            Err(WriteError::Emit(e)) => Err(e.into()),
            Err(WriteError::Digest(kind)) => {
                self.remove_challenge(kind);
                self.fail(now, FailureReason::Challenge(kind.status()), None, ids);
                Ok(None)
            }
        }
    }

    fn write_register(&self, f: &RequestFields<'_>, buf: &mut [u8]) -> Result<usize, WriteError> {
        let registrar = self.text(self.registrar);
        let aor = self.text(self.aor);
        let mut w = Writer::request_str(SliceSink::new(buf), Method::Register, registrar)?;

        let mut num = [0u8; 10];
        let cseq = dec(&mut num, f.cseq);
        w.header_typed(
            HeaderName::Via,
            &Pieces(&[self.text(self.via), ";branch=", f.branch]),
        )?
        .header("Max-Forwards", "70")?
        .header_typed(HeaderName::From, &Pieces(&["<", aor, ">;tag=", f.from_tag]))?
        .header_typed(HeaderName::To, &Pieces(&["<", aor, ">"]))?
        .header("Call-ID", f.call_id)?
        .header_typed(HeaderName::CSeq, &Pieces(&[cseq, " REGISTER"]))?;

        // Contact: <uri>;+sip.instance="<urn>";reg-id=N;expires=E (RFC 5626 4.2.1).
        let contact = ContactValue {
            uri: self.text(self.contact),
            instance: self.instance.map(|s| self.text(s)),
            reg_id: self.reg_id,
            expires: f.expires,
        };
        w.header_typed(HeaderName::Contact, &contact)?;
        w.header("Expires", dec(&mut num, f.expires))?;
        if self.reg_id.is_some() {
            w.header("Supported", "path, outbound")?;
        } else {
            w.header("Supported", "path")?;
        }
        if let Some(ua) = self.user_agent {
            w.header("User-Agent", self.text(ua))?;
        }
        for kind in ChallengeKind::BOTH {
            let (Some(c), Some(cnonce), Some(nc)) = (
                self.challenges[kind as usize],
                f.cnonce[kind as usize].as_deref(),
                f.nc[kind as usize],
            ) else {
                continue;
            };
            let secret = match (self.password, self.ha1) {
                (Some(p), _) => Secret::Password(self.text(p)),
                (None, Some(d)) => Secret::Ha1(d),
                (None, None) => return Err(WriteError::Digest(kind)),
            };
            let answer = Answer {
                request: Request::new("REGISTER", registrar, b""),
                username: self.text(self.username),
                secret,
                cnonce,
                nc,
            };
            digest::write_answer(&mut w, kind, self.text(c.span), &answer).map_err(
                |e| match e {
                    AnswerError::Emit(e) => WriteError::Emit(e),
                    AnswerError::Digest(_) => WriteError::Digest(kind),
                },
            )?;
        }
        Ok(w.finish(b"")?.len())
    }

    /// Takes the final (or provisional) response to the outstanding REGISTER.
    /// Provisional responses are ignored.
    ///
    /// # Errors
    /// - [`RegistrationError::NotAResponse`] for a request;
    /// - [`RegistrationError::NoRequestOutstanding`] when nothing was sent;
    /// - [`RegistrationError::MalformedResponse`] without a valid Call-ID or CSeq;
    /// - [`RegistrationError::StaleResponse`] for an answer to another request.
    ///
    /// In every error case the machine is unchanged: drop the message.
    pub fn handle_response(
        &mut self,
        now: Instant,
        msg: &Message<'_>,
        ids: &mut IdGenerator,
    ) -> Result<(), RegistrationError> {
        let status = msg.status().ok_or(RegistrationError::NotAResponse)?;
        let out = self
            .outstanding
            .get()
            .ok_or(RegistrationError::NoRequestOutstanding)?;
        let call_id = msg
            .call_id()
            .map_err(|_| RegistrationError::MalformedResponse)?;
        let cseq = msg
            .cseq()
            .map_err(|_| RegistrationError::MalformedResponse)?;
        if self.call_id() != Some(call_id)
            || cseq.seq != out.cseq
            || cseq.method != Method::Register
        {
            return Err(RegistrationError::StaleResponse);
        }
        if status.is_provisional() {
            return Ok(());
        }
        self.outstanding = ZeroOption::None;
        if status.is_success() {
            self.on_success(now, msg, out, ids);
        } else if status == StatusCode::UNAUTHORIZED
            || status == StatusCode::PROXY_AUTHENTICATION_REQUIRED
        {
            self.on_challenge(now, msg, status, out, ids);
        } else if status == StatusCode::INTERVAL_TOO_BRIEF && !out.unregister {
            self.on_interval_too_brief(now, msg, ids);
        } else {
            let retry_after = msg
                .header(HeaderName::RetryAfter)
                .and_then(|v| crate::wire::RetryAfter::parse(v).ok())
                .map(|r| r.delta);
            self.fail(now, FailureReason::Status(status), retry_after, ids);
        }
        self.after_outcome(now);
        Ok(())
    }

    /// The outstanding REGISTER's transaction timed out (Timer F).
    ///
    /// # Errors
    /// [`RegistrationError::NoRequestOutstanding`] when nothing was sent.
    pub fn handle_transaction_timeout(
        &mut self,
        now: Instant,
        ids: &mut IdGenerator,
    ) -> Result<(), RegistrationError> {
        self.outstanding
            .take()
            .ok_or(RegistrationError::NoRequestOutstanding)?;
        self.fail(now, FailureReason::Timeout, None, ids);
        self.after_outcome(now);
        Ok(())
    }

    /// The transport could not deliver the outstanding REGISTER.
    ///
    /// # Errors
    /// [`RegistrationError::NoRequestOutstanding`] when nothing was sent.
    pub fn handle_transport_error(
        &mut self,
        now: Instant,
        ids: &mut IdGenerator,
    ) -> Result<(), RegistrationError> {
        self.outstanding
            .take()
            .ok_or(RegistrationError::NoRequestOutstanding)?;
        self.fail(now, FailureReason::Transport, None, ids);
        self.after_outcome(now);
        Ok(())
    }

    /// A de-registration asked for while a REGISTER was outstanding starts now.
    fn after_outcome(&mut self, now: Instant) {
        if self.unregister_requested
            && !matches!(
                self.state,
                RegistrationState::Unregistering | RegistrationState::Unregistered
            )
        {
            self.start_unregister(now);
        }
    }

    fn on_success(
        &mut self,
        now: Instant,
        msg: &Message<'_>,
        out: Outstanding,
        ids: &mut IdGenerator,
    ) {
        self.reset_attempt();
        if out.unregister {
            self.stop();
            return;
        }
        let granted = self.granted_for_us(msg);
        if granted == 0 {
            self.fail(now, FailureReason::NotBound, None, ids);
            return;
        }
        self.failures = 0;
        self.granted = Some(granted);
        self.outbound = self.reg_id.is_some() && msg.has_token(HeaderName::Require, "outbound");
        let refresh_at = now + self.timing.refresh_delay(granted);
        self.send_at = Some(refresh_at);
        self.state = RegistrationState::Registered;
        self.push_event(RegistrationEvent::Registered {
            expires: granted,
            refresh_at,
        });
    }

    /// The expiry granted to our contact (RFC 3261 section 10.2.4): its `expires`
    /// parameter in the 2xx, else the Expires header, else what we asked for.
    fn granted_for_us(&self, msg: &Message<'_>) -> u32 {
        let ours = Uri::parse(self.text(self.contact)).ok();
        let instance = self.instance.map(|s| self.text(s));
        let from_contact = msg
            .contacts()
            .filter_map(Result::ok)
            .find(|c| is_our_contact(c, ours.as_ref(), instance, self.reg_id))
            .and_then(|c| c.expires())
            .and_then(Result::ok);
        from_contact
            .or_else(|| msg.expires().and_then(Result::ok))
            .unwrap_or(self.expires)
    }

    fn on_challenge(
        &mut self,
        now: Instant,
        msg: &Message<'_>,
        status: StatusCode,
        out: Outstanding,
        ids: &mut IdGenerator,
    ) {
        // The challenge `select_challenge` picks: the first usable one.
        let Some(challenge) = ReceivedChallenge::from_response(msg) else {
            self.fail(now, FailureReason::Challenge(status), None, ids);
            return;
        };
        let kind = challenge.kind();
        let k = kind as usize;
        let raw = challenge.raw();
        let stale = challenge.stale();
        let same_nonce =
            self.challenges[k].is_some_and(|c| challenge.same_nonce(self.text(c.span)));
        let answered = out.with_auth.get(k).copied().unwrap_or(false);
        let fresh = self.fresh_answer.get(k).copied().unwrap_or(false);
        if answered && !stale && (fresh || same_nonce) {
            // Our answer was computed from a current challenge and still refused.
            self.remove_challenge(kind);
            self.fail(now, FailureReason::AuthRejected(status), None, ids);
            return;
        }
        if stale {
            self.stale_retries += 1;
            if self.stale_retries > MAX_STALE_RETRIES {
                self.remove_challenge(kind);
                self.fail(now, FailureReason::AuthRejected(status), None, ids);
                return;
            }
        }
        if self.store_challenge(kind, raw).is_err() {
            self.fail(now, FailureReason::Challenge(status), None, ids);
            return;
        }
        self.fresh_answer[k] = true;
        self.send_at = Some(now);
    }

    /// Keeps `raw` as the challenge of `kind`, replacing the previous one.
    fn store_challenge(&mut self, kind: ChallengeKind, raw: &str) -> Result<(), ()> {
        self.remove_challenge(kind);
        let start = u32::try_from(self.arena.len()).map_err(|_| ())?;
        let len = u32::try_from(raw.len()).map_err(|_| ())?;
        self.arena
            .extend_from_slice(raw.as_bytes())
            .map_err(|_| ())?;
        self.challenges[kind as usize] = Some(Stored {
            span: Span { start, len },
            nc: 0,
        });
        Ok(())
    }

    /// Forgets the challenge of `kind`, moving the other one down in the arena.
    fn remove_challenge(&mut self, kind: ChallengeKind) {
        let Some(old) = self.challenges[kind as usize].take() else {
            return;
        };
        let start = old.span.start as usize;
        let end = start.saturating_add(old.span.len as usize);
        let total = self.arena.len();
        if start < self.config_len || end > total {
            // Cannot happen; start over with no challenge rather than misread one.
            self.arena.truncate(self.config_len);
            self.challenges = [None; 2];
            return;
        }
        self.arena.copy_within(end..total, start);
        self.arena.truncate(total - (end - start));
        for other in self.challenges.iter_mut().flatten() {
            if other.span.start as usize >= end {
                other.span.start -= old.span.len;
            }
        }
    }

    fn on_interval_too_brief(&mut self, now: Instant, msg: &Message<'_>, ids: &mut IdGenerator) {
        let status = StatusCode::INTERVAL_TOO_BRIEF;
        let min = msg
            .header(HeaderName::MinExpires)
            .and_then(|v| parse_delta(v).ok());
        self.interval_retries += 1;
        match min {
            // RFC 3261 section 10.2.8: retry with an expiry at least Min-Expires.
            Some(min) if min > self.expires && self.interval_retries <= MAX_INTERVAL_RETRIES => {
                self.expires = min;
                self.send_at = Some(now);
            }
            _ => self.fail(now, FailureReason::Status(status), None, ids),
        }
    }

    /// Ends the machine after a de-registration.
    fn stop(&mut self) {
        self.state = RegistrationState::Unregistered;
        self.send_at = None;
        self.granted = None;
        self.outbound = false;
        self.unregister_requested = false;
        self.push_event(RegistrationEvent::Unregistered);
    }

    /// Ends an attempt as failed: back off (RFC 5626 section 4.5) or wait what the
    /// registrar asked for; a failed de-registration stops the machine.
    fn fail(
        &mut self,
        now: Instant,
        reason: FailureReason,
        retry_after: Option<u32>,
        ids: &mut IdGenerator,
    ) {
        self.reset_attempt();
        if self.state == RegistrationState::Unregistering {
            self.push_event(RegistrationEvent::Failed {
                reason,
                retry_at: None,
            });
            self.stop();
            return;
        }
        self.failures = self.failures.saturating_add(1);
        let wait = match retry_after {
            // At least a second: `Retry-After: 0` on every answer must not make a loop.
            Some(secs) => Duration::from_secs(u64::from(secs.max(1))),
            None => {
                let bound = self.timing.backoff_bound(self.failures);
                randomized(bound, random_u32(ids))
            }
        };
        let retry_at = now + wait;
        self.send_at = Some(retry_at);
        self.state = RegistrationState::BackingOff;
        self.push_event(RegistrationEvent::Failed {
            reason,
            retry_at: Some(retry_at),
        });
    }
}

/// A wait drawn from `[bound / 2, bound)` with `random` uniform over `u32`.
fn randomized(bound: Duration, random: u32) -> Duration {
    let ms = u64::try_from(bound.as_millis()).unwrap_or(u64::MAX);
    let half = ms / 2;
    let span = ms - half;
    let extra = u64::try_from((u128::from(span) * u128::from(random)) >> 32).unwrap_or(0);
    Duration::from_millis(half + extra)
}

/// 32 uniformly distributed bits from the caller's generator.
fn random_u32(ids: &mut IdGenerator) -> u32 {
    ids.token().bytes().take(8).fold(0u32, |acc, c| {
        (acc << 4) | char::from(c).to_digit(16).unwrap_or(0)
    })
}

/// Whether a Contact of a 2xx is ours: the same `+sip.instance` and `reg-id` when we
/// sent them (RFC 5626 section 4.2.1: the registrar may rewrite the URI), else the same
/// URI by RFC 3261 section 19.1.4, or at least the same scheme, user, host and port
/// (a registrar may drop or add URI parameters).
fn is_our_contact(
    c: &Contact<'_>,
    ours: Option<&Uri<'_>>,
    instance: Option<&str>,
    reg_id: Option<u32>,
) -> bool {
    let Some(addr) = c.addr() else {
        return false;
    };
    if let (Some(i), Some(theirs)) = (instance, c.instance())
        && i.eq_ignore_ascii_case(theirs)
        && reg_id == c.reg_id().and_then(Result::ok)
    {
        return true;
    }
    let Some(ours) = ours else {
        return false;
    };
    if ours.equivalent(&addr.uri) {
        return true;
    }
    match (ours, &addr.uri) {
        (Uri::Sip(a), Uri::Sip(b)) => {
            a.secure == b.secure
                && a.user == b.user
                && a.port == b.port
                && a.host.equivalent(&b.host)
        }
        _ => false,
    }
}

/// Values that change from one REGISTER to the next.
struct RequestFields<'a> {
    call_id: &'a str,
    from_tag: &'a str,
    cseq: u32,
    branch: &'a str,
    expires: u32,
    /// By [`ChallengeKind`], for each stored challenge.
    cnonce: &'a [Option<Token>; 2],
    /// By [`ChallengeKind`], for each stored challenge.
    nc: [Option<u32>; 2],
}

#[derive(Clone, Copy)]
enum WriteError {
    Emit(EmitError),
    /// The stored challenge of this kind cannot be answered with the configured secret.
    Digest(ChallengeKind),
}

impl From<EmitError> for WriteError {
    fn from(e: EmitError) -> Self {
        WriteError::Emit(e)
    }
}

/// A header value made of pieces written one after the other.
struct Pieces<'a>(&'a [&'a str]);

impl Emit for Pieces<'_> {
    fn emit<S: crate::wire::Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        self.0.iter().try_for_each(|p| out.put(p.as_bytes()))
    }
}

/// `n` in decimal, in `buf`.
fn dec(buf: &mut [u8; 10], n: u32) -> &str {
    let mut i = buf.len();
    let mut v = n;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    core::str::from_utf8(&buf[i..]).unwrap_or("0")
}

/// The Contact value of a REGISTER.
struct ContactValue<'a> {
    uri: &'a str,
    instance: Option<&'a str>,
    reg_id: Option<u32>,
    expires: u32,
}

impl Emit for ContactValue<'_> {
    fn emit<S: crate::wire::Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        out.put(b"<")?;
        out.put(self.uri.as_bytes())?;
        out.put(b">")?;
        if let Some(i) = self.instance {
            out.put(b";+sip.instance=\"<")?;
            out.put(i.as_bytes())?;
            out.put(b">\"")?;
        }
        if let Some(r) = self.reg_id {
            out.put(b";reg-id=")?;
            out.put_u32(r)?;
        }
        out.put(b";expires=")?;
        out.put_u32(self.expires)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::ToOwned;
    use std::string::ToString;

    #[test]
    fn test_refresh_rule() {
        let t = Timing::DEFAULT;
        // Half the interval for short ones, the margin for long ones, a floor.
        assert_eq!(t.refresh_delay(3600), Duration::from_secs(3568));
        assert_eq!(t.refresh_delay(120), Duration::from_secs(88));
        assert_eq!(t.refresh_delay(60), Duration::from_secs(30));
        assert_eq!(t.refresh_delay(6), Duration::from_secs(5));
        assert_eq!(t.refresh_delay(0), Duration::from_secs(5));
        assert_eq!(
            t.refresh_delay(u32::MAX),
            Duration::from_secs(u64::from(u32::MAX) - 32)
        );
    }

    #[test]
    fn test_backoff_bound() {
        let t = Timing::DEFAULT;
        assert_eq!(t.backoff_bound(0), Duration::from_secs(30));
        assert_eq!(t.backoff_bound(1), Duration::from_secs(60));
        assert_eq!(t.backoff_bound(3), Duration::from_secs(240));
        assert_eq!(t.backoff_bound(6), Duration::from_secs(1800));
        assert_eq!(t.backoff_bound(40), Duration::from_secs(1800));
        assert_eq!(t.backoff_bound(u32::MAX), Duration::from_secs(1800));
    }

    #[test]
    fn test_randomized_range() {
        let w = Duration::from_secs(60);
        assert_eq!(randomized(w, 0), Duration::from_secs(30));
        assert_eq!(randomized(w, u32::MAX), Duration::from_millis(59_999));
        assert_eq!(randomized(w, 1 << 31), Duration::from_secs(45));
        assert_eq!(randomized(Duration::ZERO, 12345), Duration::ZERO);
        let mut ids = IdGenerator::new([3; 32]);
        let (mut low, mut high) = (false, false);
        for _ in 0..200 {
            let d = randomized(w, random_u32(&mut ids));
            assert!(d >= Duration::from_secs(30) && d < w);
            low |= d < Duration::from_secs(40);
            high |= d > Duration::from_secs(50);
        }
        assert!(low && high, "the draw spreads over the range");
    }

    #[test]
    fn test_dec() {
        let mut b = [0u8; 10];
        assert_eq!(dec(&mut b, 0), "0");
        assert_eq!(dec(&mut b, 70), "70");
        assert_eq!(dec(&mut b, u32::MAX), "4294967295");
    }

    fn machine() -> Registration<512> {
        let c = Config::new(
            "sip:r.example.com",
            "sip:a@example.com",
            "sip:a@192.0.2.1",
            "SIP/2.0/UDP 192.0.2.1",
            "a",
            Secret::Password("p"),
        );
        Registration::new(&c).unwrap()
    }

    #[test]
    fn test_challenge_slots_shift() {
        let mut r = machine();
        let base = r.arena.len();
        r.store_challenge(ChallengeKind::Proxy, "Digest realm=\"p\", nonce=\"1\"")
            .unwrap();
        r.store_challenge(ChallengeKind::Www, "Digest realm=\"w\", nonce=\"2\"")
            .unwrap();
        let text = |r: &Registration<512>, k: ChallengeKind| {
            r.text(r.challenges[k as usize].unwrap().span).to_owned()
        };
        assert_eq!(
            text(&r, ChallengeKind::Www),
            "Digest realm=\"w\", nonce=\"2\""
        );
        // Replacing the first moves the second down.
        r.store_challenge(ChallengeKind::Proxy, "Digest realm=\"p\", nonce=\"333\"")
            .unwrap();
        assert_eq!(
            text(&r, ChallengeKind::Www),
            "Digest realm=\"w\", nonce=\"2\""
        );
        assert_eq!(
            text(&r, ChallengeKind::Proxy),
            "Digest realm=\"p\", nonce=\"333\""
        );
        assert_eq!(
            r.challenges[ChallengeKind::Www as usize]
                .unwrap()
                .span
                .start as usize,
            base
        );
        r.remove_challenge(ChallengeKind::Www);
        r.remove_challenge(ChallengeKind::Proxy);
        assert_eq!(r.arena.len(), base);
        // Too long for the storage left: refused, nothing stored.
        let long = "x".repeat(600);
        assert!(r.store_challenge(ChallengeKind::Www, &long).is_err());
        assert!(r.challenges[ChallengeKind::Www as usize].is_none());
        assert_eq!(r.arena.len(), base);
    }

    #[test]
    fn test_contact_matching() {
        let ours = Uri::parse("sip:alice@Host.Example.COM:5060;transport=tcp").unwrap();
        let is = |c: &str| is_our_contact(&Contact::parse(c).unwrap(), Some(&ours), None, None);
        assert!(is("<sip:alice@host.example.com:5060;transport=TCP>"));
        assert!(is("<SIP:alice@host.example.com:5060>;expires=10"));
        assert!(!is("<sip:Alice@host.example.com:5060;transport=tcp>"));
        assert!(!is("<sip:alice@host.example.com;transport=tcp>"));
        assert!(!is("<sips:alice@host.example.com:5060;transport=tcp>"));
        assert!(!is("*"));
        let urn = "urn:uuid:00000000-0000-1000-8000-000A95A0E128";
        let by_instance = |c: &str, reg_id| {
            is_our_contact(&Contact::parse(c).unwrap(), Some(&ours), Some(urn), reg_id)
        };
        let rewritten = "<sip:x@203.0.113.9>;+sip.instance=\"<urn:uuid:00000000-0000-1000-8000-000a95a0e128>\";reg-id=2";
        assert!(by_instance(rewritten, Some(2)));
        assert!(!by_instance(rewritten, Some(1)));
        assert!(!by_instance(rewritten, None));
    }

    #[test]
    fn test_event_queue_keeps_newest() {
        let mut r = machine();
        for _ in 0..EVENT_CAPACITY {
            r.push_event(RegistrationEvent::Refreshing);
        }
        r.push_event(RegistrationEvent::Unregistered);
        let mut last = None;
        let mut n = 0;
        while let Some(e) = r.poll_event() {
            last = Some(e);
            n += 1;
        }
        assert_eq!(n, EVENT_CAPACITY);
        assert_eq!(last, Some(RegistrationEvent::Unregistered));
    }

    #[test]
    fn test_debug_hides_the_password() {
        let c = Config::new(
            "sip:r.example.com",
            "sip:a@example.com",
            "sip:a@192.0.2.1",
            "SIP/2.0/UDP 192.0.2.1",
            "a",
            Secret::Password("hunter2"),
        );
        let r: Registration = Registration::new(&c).unwrap();
        let shown = std::format!("{r:?} {c:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("104, 117, 110"), "{shown}");
        assert!(shown.contains("Idle"), "{shown}");
    }

    #[test]
    fn test_errors_display() {
        assert_eq!(
            RegistrationError::from(EmitError::InsufficientSize { required: 9 }),
            RegistrationError::BufferTooSmall { required: 9 }
        );
        assert!(!ConfigError::TooLong.to_string().is_empty());
        assert!(
            FailureReason::Status(StatusCode::FORBIDDEN)
                .to_string()
                .contains("403")
        );
    }
}
