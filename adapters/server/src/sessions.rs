//! The uaCSTA session manager: one application-side uaCSTA session (ECMA TR/87) per
//! CSTA-controlled phone.
//!
//! For every configured `[[csta_lines]]` address-of-record, [`Sessions`] follows the
//! registrar's bindings ([`Sessions::bindings_changed`]). When the phone registers, its
//! contact changes (contact, source, transport or path) or it reboots (a REGISTER with
//! a new Call-ID), or a stored binding is restored at start, the manager opens a uaCSTA
//! session to the contact (an `INVITE` with `RequestSystemStatus`), then starts the
//! monitor and reads the device's state: `MonitorStart`, `SnapshotDevice`,
//! `GetDoNotDisturb`, `GetForwarding`. Only when all four are answered is the device
//! reported [`DeviceNews::Online`]; from then on every event and every answer keeps its
//! [`View`] current. A session that is lost (481, timeout, BYE, expired session timer)
//! or cannot be set up is opened again after an exponential back-off with jitter, reset
//! by the next success; a REGISTER from the phone meanwhile retries at once. When the
//! binding goes (unregister, expiry) the session is closed and the device reported
//! [`DeviceNews::Offline`].
//!
//! The lines can change while the server runs ([`Sessions::reconfigure`], on a
//! configuration reload): a new line's session opens as soon as its phone is (or
//! becomes) registered; a removed line's session ends as at shutdown (`MonitorStop`,
//! then `BYE`), the device is reported [`DeviceNews::Offline`] and is no longer
//! among [`Devices::all`]; a line whose credentials changed answers the next
//! challenge with the new ones; one whose `notify_mode` changed is opened again.
//!
//! Lines configured with `notify_mode` take CSTA requests as out-of-dialog `NOTIFY`
//! with `Event: uaCSTA` (no dialog, no CSTA answers): the device is online once its
//! `MonitorStart` NOTIFY is accepted, and the events such phones send as out-of-dialog
//! `NOTIFY`/`INFO` (recognised by their From address-of-record) are taken.
//!
//! The manager is synchronous and sans-IO. Each session has its own small transaction
//! table, and incoming messages find their session through a map keyed by Call-ID
//! ([`Sessions::handle_message`]), so the cost of a message does not grow with the
//! number of phones. Requests go to the binding's source address over its transport
//! (on the connection of the REGISTER while it is open), with the binding's Path as
//! Route; Via and Contact name the address the REGISTER arrived at.
//!
//! Drive loop: after every input ([`Sessions::handle_message`],
//! [`Sessions::bindings_changed`], [`Devices::send`], [`Sessions::handle_timeout`],
//! [`Sessions::shutdown`]) drain [`Sessions::poll_transmit`] and
//! [`Sessions::poll_news`], then call [`Sessions::handle_timeout`] at
//! [`Sessions::poll_timeout`].

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use csta_core::message::{Kind, Message as Csta};
use csta_core::model::view::same_device;
use csta_core::uacsta::app::{AppConfig, AppEvent, AppSession, Failure, LostReason, Mode};
use csta_core::uacsta::{EVENT_PACKAGE, SessionError};
use csta_core::{Edition, decode};
use sip_lite::ids::IdGenerator;
use sip_lite::session_timer;
use sip_lite::time::Instant as SipInstant;
use sip_lite::transaction::{self, ClientTx, Event as TxEvent, Received, Transactions, Tx};
use sip_lite::wire::{HeaderIndex, HeaderName, Message, Method, StatusCode, Uri};

pub use csta_core::uacsta::app::RequestId;

use crate::config::CstaLine;
use crate::interface::{Answer, DeviceNews, DeviceStatus, Devices, SendError, View};
use crate::registrar::{Binding, Transport, aor_key};
use crate::transport::{ConnId, Outbound, Source, TransportKind};

/// CSTA requests (and events) one session queues.
pub const QUEUE: usize = 8;
/// The longest SIP message (and CSTA body) a session sends or keeps, in octets.
pub const MESSAGE: usize = 4096;
/// Client transactions one session can have at once (the INVITE lingers 32 s after
/// its 2xx, each INFO 5 s over UDP after its answer, but an answered INFO gives its
/// slot up when a new request needs it); further requests wait.
const CLIENT_SLOTS: usize = 8;
/// Server transactions (the phone's event INFOs linger 32 s over UDP after their
/// answer, to absorb retransmissions): a phone may send 64 events in any 32 s, two a
/// second sustained, bursts of 64; beyond them it is answered 503 and sends again.
const SERVER_SLOTS: usize = 64;
/// The longest response the session sends, in octets.
const RESPONSE: usize = 2048;
/// Header slots for parsing.
const HEADERS: usize = 64;

type App = AppSession<QUEUE, MESSAGE>;
type Txs = Transactions<SocketAddr, CLIENT_SLOTS, { CLIENT_SLOTS * MESSAGE }>;
type ServerTxs = Transactions<SocketAddr, SERVER_SLOTS, { SERVER_SLOTS * RESPONSE }>;

/// The manager's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The domain in the server's From (`sip:<user>@<domain>`).
    pub domain: String,
    /// The user part of the server's From and Contact.
    pub user: String,
    /// The first back-off delay after a failure.
    pub backoff_initial: Duration,
    /// The longest back-off delay.
    pub backoff_max: Duration,
    /// The most random delay added to a back-off, in thousandths of it.
    pub jitter_per_mille: u32,
    /// Seeds the Call-IDs, tags and branches, and the back-off jitter.
    pub seed: [u8; 32],
    /// The ECMA-323 edition of the server's requests.
    pub edition: Edition,
    /// The session timer of the uaCSTA dialogs.
    pub timer: session_timer::Config,
    /// Addresses the server listens on, for bindings restored at start (whose
    /// REGISTER's local address is not known).
    pub listen: Vec<(TransportKind, SocketAddr)>,
}

impl Default for Settings {
    /// Domain `localhost`, user `csta`, back-off 1 s doubling up to 5 min with up to
    /// 25 % jitter, edition 3, the default session timer, a zero seed (give a random
    /// one in production).
    fn default() -> Self {
        Settings {
            domain: "localhost".to_owned(),
            user: "csta".to_owned(),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            jitter_per_mille: 250,
            seed: [0; 32],
            edition: Edition::Ed3,
            timer: session_timer::Config::DEFAULT,
            listen: Vec::new(),
        }
    }
}

/// Why the manager could not be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionsError {
    /// A line's address-of-record is not a SIP URI with a user part.
    #[error("csta line `{0}`: not a SIP URI with a user part")]
    BadAor(String),
    /// Two lines have the same address-of-record.
    #[error("csta line `{0}` appears twice")]
    Duplicate(String),
}

/// Where a line's phone is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    contact: String,
    source: SocketAddr,
    transport: TransportKind,
    path: Vec<String>,
    call_id: String,
    changed_at: u64,
    conn: Option<ConnId>,
    local: SocketAddr,
}

impl Target {
    /// Whether the phone must get a new session: a new flow or a reboot.
    fn differs(&self, other: &Target) -> bool {
        self.contact != other.contact
            || self.source != other.source
            || self.transport != other.transport
            || self.path != other.path
            || self.call_id != other.call_id
            || self.changed_at != other.changed_at
    }
}

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The INVITE is out.
    Inviting,
    /// The monitor and the state requests are out.
    Syncing,
    /// Up and reported online.
    Online,
    /// `MonitorStop` is out; the BYE follows its answer.
    Stopping,
    /// Closed or being closed; nothing more is reported for it.
    Retired,
}

/// One uaCSTA session with its transactions.
struct Active {
    line: usize,
    app: App,
    /// The session's requests.
    txs: Txs,
    /// The phone's requests.
    stx: ServerTxs,
    target: Target,
    /// Client transactions of the session's requests: CSeq and method.
    client: Vec<(ClientTx, u32, Method<'static>)>,
    stage: Stage,
    /// The setup requests not yet answered.
    setup: Vec<RequestId>,
    /// The `MonitorStart` of the setup (its failure fails the session).
    monitor: Option<RequestId>,
    /// The `MonitorStop` of a graceful close.
    stop: Option<RequestId>,
    /// The hub's requests: the session's ID and the hub's.
    requests: Vec<(RequestId, RequestId)>,
    /// The deadline registered in the timer heap.
    due: Option<Instant>,
}

/// One configured line.
struct Line {
    aor: String,
    key: String,
    auth_user: String,
    auth_password: String,
    notify: bool,
    view: View,
    status: DeviceStatus,
    target: Option<Target>,
    session: Option<u64>,
    retry_at: Option<Instant>,
    failures: u32,
    /// Removed by [`Sessions::reconfigure`]: kept so that indices stay valid (its
    /// session may still be closing), but found by no name and listed nowhere.
    removed: bool,
}

/// What [`Sessions::reconfigure`] changed, by address-of-record as configured.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinesChange {
    /// Lines that are new; their sessions open once the phone is registered (the
    /// caller passes the registrar's bindings of their keys to
    /// [`Sessions::bindings_changed`]).
    pub added: Vec<String>,
    /// Lines that are gone.
    pub removed: Vec<String>,
    /// Lines kept with new credentials or a new `notify_mode`.
    pub changed: Vec<String>,
}

impl LinesChange {
    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// What a session reported, owned.
enum Report {
    Established,
    Failed(Failure),
    Response(RequestId, Vec<u8>),
    RequestFailed(RequestId, Option<StatusCode>),
    Event(Vec<u8>),
    Malformed,
    Lost(LostReason),
    Closed,
}

/// News waiting for the hub, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum News {
    Online(usize),
    Offline(usize),
    Event(usize, Vec<u8>),
    Answer(usize, RequestId, Option<Vec<u8>>),
}

/// What a timer in the heap is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// A session's transactions or session timer.
    Session(u64),
    /// A line's back-off retry.
    Retry(usize),
}

/// Counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SessionStats {
    /// Sessions opened (INVITEs started, NOTIFY sessions made).
    pub opened: u64,
    /// Sessions that reached online.
    pub online: u64,
    /// Sessions lost or failed.
    pub lost: u64,
    /// Messages taken for the sessions.
    pub messages: u64,
}

/// The session manager. See the [module documentation](self).
pub struct Sessions {
    settings: Settings,
    lines: Vec<Line>,
    /// Address-of-record key to line.
    by_key: HashMap<String, usize>,
    /// Configured AOR to line (exact names, before the fuzzy match).
    by_aor: HashMap<String, usize>,
    sessions: HashMap<u64, Box<Active>>,
    by_call_id: HashMap<String, u64>,
    next_session: u64,
    next_request: u32,
    timers: BinaryHeap<Reverse<(Instant, Timer)>>,
    ids: IdGenerator,
    rng: u64,
    epoch: Instant,
    out: VecDeque<Outbound>,
    news: VecDeque<News>,
    stopping: bool,
    stats: SessionStats,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sessions")
            .field("lines", &self.lines.len())
            .field("sessions", &self.sessions.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Sessions {
    /// A manager for `lines`; `epoch` is any monotonic reading not later than the
    /// first input.
    ///
    /// # Errors
    /// [`SessionsError`] for an address-of-record that is not a SIP URI with a user
    /// part, or one configured twice.
    pub fn new(
        settings: Settings,
        lines: &[CstaLine],
        epoch: Instant,
    ) -> Result<Sessions, SessionsError> {
        let mut s = Sessions::without_lines(settings, epoch);
        s.add_lines(lines)?;
        Ok(s)
    }

    /// A manager without lines.
    pub fn empty(epoch: Instant) -> Sessions {
        Sessions::without_lines(Settings::default(), epoch)
    }

    fn without_lines(settings: Settings, epoch: Instant) -> Sessions {
        let mut rng = [0u8; 8];
        rng.copy_from_slice(&settings.seed[..8]);
        Sessions {
            ids: IdGenerator::new(settings.seed),
            rng: u64::from_le_bytes(rng) | 1,
            settings,
            lines: Vec::new(),
            by_key: HashMap::new(),
            by_aor: HashMap::new(),
            sessions: HashMap::new(),
            by_call_id: HashMap::new(),
            next_session: 1,
            next_request: 1,
            timers: BinaryHeap::new(),
            epoch,
            out: VecDeque::new(),
            news: VecDeque::new(),
            stopping: false,
            stats: SessionStats::default(),
            buf: vec![0; MESSAGE],
        }
    }

    /// Adds the lines checked by [`Sessions::new`].
    fn add_lines(&mut self, lines: &[CstaLine]) -> Result<(), SessionsError> {
        self.lines.reserve(lines.len());
        for l in lines {
            let key = match Uri::parse(&l.aor) {
                Ok(Uri::Sip(u)) => aor_key(&u),
                _ => None,
            }
            .ok_or_else(|| SessionsError::BadAor(l.aor.clone()))?;
            let view = View::new(&l.aor).map_err(|_| SessionsError::BadAor(l.aor.clone()))?;
            if self.by_key.contains_key(&key) {
                return Err(SessionsError::Duplicate(l.aor.clone()));
            }
            let i = self.lines.len();
            self.by_key.insert(key.clone(), i);
            self.by_aor.insert(l.aor.clone(), i);
            self.lines.push(Line {
                aor: l.aor.clone(),
                key,
                auth_user: l.auth_user.clone(),
                auth_password: l.auth_password.clone(),
                notify: l.notify_mode,
                view,
                status: DeviceStatus::Offline,
                target: None,
                session: None,
                retry_at: None,
                failures: 0,
                removed: false,
            });
        }
        Ok(())
    }

    /// The address-of-record key of a configured line.
    fn line_key(l: &CstaLine) -> Result<String, SessionsError> {
        match Uri::parse(&l.aor) {
            Ok(Uri::Sip(u)) => aor_key(&u),
            _ => None,
        }
        .filter(|_| View::new(&l.aor).is_ok())
        .ok_or_else(|| SessionsError::BadAor(l.aor.clone()))
    }

    /// Makes `lines` the controlled lines (see the [module documentation](self)):
    /// lines are matched by address-of-record key; new ones are added, missing ones
    /// removed, kept ones take the new credentials and mode. Returns what changed.
    ///
    /// # Errors
    /// As [`Sessions::new`]; then nothing changed.
    pub fn reconfigure(
        &mut self,
        now: Instant,
        lines: &[CstaLine],
    ) -> Result<LinesChange, SessionsError> {
        let mut wanted: Vec<(String, &CstaLine)> = Vec::with_capacity(lines.len());
        for l in lines {
            let key = Self::line_key(l)?;
            if wanted.iter().any(|(k, _)| *k == key) {
                return Err(SessionsError::Duplicate(l.aor.clone()));
            }
            wanted.push((key, l));
        }
        let mut change = LinesChange::default();
        for i in 0..self.lines.len() {
            if !self.lines[i].removed && !wanted.iter().any(|(k, _)| *k == self.lines[i].key) {
                change.removed.push(self.lines[i].aor.clone());
                self.remove_line(now, i);
            }
        }
        for (key, l) in wanted {
            let Some(&i) = self.by_key.get(&key) else {
                change.added.push(l.aor.clone());
                self.add_lines(std::slice::from_ref(l))?;
                continue;
            };
            let line = &mut self.lines[i];
            let mut changed = false;
            if line.auth_user != l.auth_user || line.auth_password != l.auth_password {
                line.auth_user.clone_from(&l.auth_user);
                line.auth_password.clone_from(&l.auth_password);
                changed = true;
            }
            if line.aor != l.aor {
                // The same address-of-record spelt differently: the new spelling names it.
                let old = std::mem::replace(&mut line.aor, l.aor.clone());
                self.by_aor.remove(&old);
                self.by_aor.insert(l.aor.clone(), i);
                changed = true;
            }
            if self.lines[i].notify != l.notify_mode {
                self.lines[i].notify = l.notify_mode;
                changed = true;
                self.retire(now, i);
                self.lines[i].failures = 0;
                self.lines[i].retry_at = None;
                if !self.stopping {
                    self.open(now, i);
                }
            }
            if changed {
                change.changed.push(l.aor.clone());
            }
        }
        Ok(change)
    }

    /// Removes line `i`: its session ends as at shutdown (`MonitorStop`, then `BYE`),
    /// it is reported offline and found by no name from now on.
    fn remove_line(&mut self, now: Instant, i: usize) {
        tracing::info!(aor = %self.lines[i].aor, "csta line removed; closing its session");
        let monitor = self.lines[i].view.monitor_cross_ref_id().map(str::to_owned);
        self.offline(i);
        let line = &mut self.lines[i];
        line.removed = true;
        line.retry_at = None;
        line.target = None;
        let (key, aor) = (line.key.clone(), line.aor.clone());
        if self.by_key.get(&key) == Some(&i) {
            self.by_key.remove(&key);
        }
        if self.by_aor.get(&aor) == Some(&i) {
            self.by_aor.remove(&aor);
        }
        let Some(sid) = self.lines[i].session else {
            return;
        };
        let notify = self.lines[i].notify;
        let Some(a) = self.sessions.get_mut(&sid) else {
            return;
        };
        let stop = match (a.stage, monitor) {
            (Stage::Online | Stage::Syncing, Some(m)) if !notify => {
                send_xml(&mut a.app, &monitor_stop(&m)).ok()
            }
            _ => None,
        };
        match stop {
            Some(id) => {
                a.stage = Stage::Stopping;
                a.stop = Some(id);
            }
            None => {
                a.stage = Stage::Retired;
                let _ = a.app.close();
            }
        }
        self.drive(now, sid);
    }

    /// Counters.
    pub fn stats(&self) -> SessionStats {
        self.stats
    }

    /// Whether `aor` (an address-of-record key, `user@host`) is a controlled line.
    pub fn controls(&self, aor: &str) -> bool {
        self.by_key.contains_key(aor)
    }

    /// The address-of-record keys (`user@host`) of the controlled lines.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.lines
            .iter()
            .filter(|l| !l.removed)
            .map(|l| l.key.as_str())
    }

    /// Whether no session is left (after [`Sessions::shutdown`]: all closed).
    pub fn is_idle(&self) -> bool {
        self.sessions.is_empty()
    }

    fn sip(&self, now: Instant) -> SipInstant {
        let ms = now.saturating_duration_since(self.epoch).as_millis();
        SipInstant::from_millis(u64::try_from(ms).unwrap_or(u64::MAX))
    }

    // ---- bindings ----

    /// The bindings of the address-of-record `aor` (a key, `user@host`) are now
    /// `bindings` (highest preference first, as [`crate::registrar::Registrar::lookup`]
    /// gives them): after a REGISTER that changed or refreshed them (with its
    /// `source`), an expiry, or a restore at start (no `source`). Opens, re-opens or
    /// closes the line's session as needed; other addresses-of-record are ignored.
    pub fn bindings_changed<'b>(
        &mut self,
        now: Instant,
        aor: &str,
        mut bindings: impl Iterator<Item = &'b Binding>,
        source: Option<&Source>,
    ) {
        let Some(&i) = self.by_key.get(aor) else {
            return;
        };
        let Some(b) = bindings.next() else {
            if self.lines[i].target.take().is_some() {
                tracing::info!(aor = %self.lines[i].aor, "binding gone; closing the session");
            }
            self.lines[i].retry_at = None;
            self.lines[i].failures = 0;
            self.retire(now, i);
            return;
        };
        let transport = match b.transport {
            Transport::Udp => TransportKind::Udp,
            Transport::Tls => TransportKind::Tls,
            _ => TransportKind::Tcp,
        };
        let old = self.lines[i].target.clone();
        let (local, conn) = match source {
            Some(s) if s.peer == b.source => (s.local, s.conn),
            _ => match &old {
                Some(o) if o.source == b.source && o.transport == transport => (o.local, o.conn),
                _ => (self.listen_addr(transport, b.source), None),
            },
        };
        let target = Target {
            contact: b.contact.clone(),
            source: b.source,
            transport,
            path: b.path.clone(),
            call_id: b.call_id.clone(),
            changed_at: b.changed_at,
            conn,
            local,
        };
        let reopen = old.as_ref().is_none_or(|o| o.differs(&target));
        self.lines[i].target = Some(target);
        if self.stopping {
            return;
        }
        if reopen {
            self.retire(now, i);
            self.lines[i].failures = 0;
            self.lines[i].retry_at = None;
            self.open(now, i);
        } else if self.lines[i].session.is_none() {
            // The phone is alive: try again now rather than at the end of the back-off.
            self.lines[i].retry_at = None;
            self.open(now, i);
        } else if let Some(sid) = self.lines[i].session
            && let Some(a) = self.sessions.get_mut(&sid)
        {
            // A refresh over a new TCP connection: use it.
            if conn.is_some() {
                a.target.conn = conn;
            }
        }
    }

    /// The address the server listens on for `transport`, of the family of `peer`.
    fn listen_addr(&self, transport: TransportKind, peer: SocketAddr) -> SocketAddr {
        let l = &self.settings.listen;
        l.iter()
            .find(|(t, a)| *t == transport && a.is_ipv4() == peer.is_ipv4())
            .or_else(|| l.iter().find(|(t, _)| *t == transport))
            .or_else(|| l.first())
            .map_or_else(|| SocketAddr::from(([127, 0, 0, 1], 5060)), |(_, a)| *a)
    }

    /// Opens a session for line `i` to its target.
    fn open(&mut self, now: Instant, i: usize) {
        let Some(target) = self.lines[i].target.clone() else {
            return;
        };
        let line = &self.lines[i];
        let t = match target.transport {
            TransportKind::Udp => "UDP",
            TransportKind::Tcp => "TCP",
            TransportKind::Tls => "TLS",
        };
        let local_uri = format!("sip:{}@{}", self.settings.user, self.settings.domain);
        let contact = match target.transport {
            TransportKind::Udp => format!("sip:{}@{}", self.settings.user, target.local),
            TransportKind::Tcp => {
                format!("sip:{}@{};transport=tcp", self.settings.user, target.local)
            }
            TransportKind::Tls => format!("sips:{}@{}", self.settings.user, target.local),
        };
        let via = format!("SIP/2.0/{t} {};rport", target.local);
        let config = AppConfig {
            target: &target.contact,
            local_uri: &local_uri,
            remote_uri: Some(&line.aor),
            local_contact: &contact,
            via: &via,
            credentials: Some((&line.auth_user, &line.auth_password)),
            edition: self.settings.edition,
            timer: self.settings.timer,
            mode: if line.notify {
                Mode::Notify
            } else {
                Mode::Dialog
            },
        };
        let app = match App::new(&config, &mut self.ids) {
            Ok(a) => a,
            Err(e) => {
                tracing::warn!(aor = %line.aor, error = %e, "cannot make a uaCSTA session");
                return;
            }
        };
        let notify = line.notify;
        let sid = self.next_session;
        self.next_session += 1;
        let mut active = Box::new(Active {
            line: i,
            app,
            txs: Transactions::new(transaction::Config::DEFAULT),
            stx: Transactions::new(transaction::Config::DEFAULT),
            target,
            client: Vec::new(),
            stage: Stage::Inviting,
            setup: Vec::new(),
            monitor: None,
            stop: None,
            requests: Vec::new(),
            due: None,
        });
        self.stats.opened += 1;
        self.by_call_id.insert(active.app.call_id().to_owned(), sid);
        if notify {
            // No dialog: the monitor request is the first NOTIFY.
            active.stage = Stage::Syncing;
            let aor = self.lines[i].aor.clone();
            match send_xml(&mut active.app, &monitor_start(&aor)) {
                Ok(id) => {
                    active.monitor = Some(id);
                    active.setup.push(id);
                }
                Err(e) => tracing::warn!(%aor, error = %e, "cannot queue MonitorStart"),
            }
        } else if let Err(e) = active.app.open() {
            tracing::warn!(aor = %self.lines[i].aor, error = %e, "cannot open the session");
        }
        self.lines[i].session = Some(sid);
        self.sessions.insert(sid, active);
        self.drive(now, sid);
    }

    /// Ends line `i`'s current session (closing it on the wire) and reports the line
    /// offline.
    fn retire(&mut self, now: Instant, i: usize) {
        self.offline(i);
        let Some(sid) = self.lines[i].session.take() else {
            return;
        };
        if let Some(a) = self.sessions.get_mut(&sid) {
            a.stage = Stage::Retired;
            let _ = a.app.close();
        }
        self.drive(now, sid);
    }

    /// Reports line `i` offline: open requests failed, then `Offline` (when it was
    /// online); the view forgets what it knew.
    fn offline(&mut self, i: usize) {
        if let Some(sid) = self.lines[i].session
            && let Some(a) = self.sessions.get_mut(&sid)
        {
            for (_, hub) in a.requests.drain(..) {
                self.news.push_back(News::Answer(i, hub, None));
            }
        }
        let line = &mut self.lines[i];
        if line.status == DeviceStatus::Online {
            line.status = DeviceStatus::Offline;
            self.news.push_back(News::Offline(i));
        }
        let _ = line.view.reset();
    }

    /// The session of line `i` failed or was lost: report and back off.
    fn lost(&mut self, now: Instant, i: usize, sid: u64) {
        if self.lines[i].session != Some(sid) {
            return;
        }
        self.stats.lost += 1;
        self.offline(i);
        self.lines[i].session = None;
        if self.stopping || self.lines[i].target.is_none() {
            return;
        }
        let delay = self.backoff(i);
        tracing::info!(aor = %self.lines[i].aor, ?delay, "uaCSTA session down; retrying");
        let at = now + delay;
        self.lines[i].retry_at = Some(at);
        self.timers.push(Reverse((at, Timer::Retry(i))));
    }

    /// The next back-off delay of line `i` (and counts the failure).
    fn backoff(&mut self, i: usize) -> Duration {
        let n = self.lines[i].failures.min(20);
        self.lines[i].failures = self.lines[i].failures.saturating_add(1);
        let base = self
            .settings
            .backoff_initial
            .saturating_mul(1u32 << n)
            .min(self.settings.backoff_max);
        let span = base.as_millis() * u128::from(self.settings.jitter_per_mille) / 1000;
        let span = u64::try_from(span).unwrap_or(u64::MAX);
        let jitter = if span == 0 {
            0
        } else {
            self.random() % (span + 1)
        };
        base + Duration::from_millis(jitter)
    }

    fn random(&mut self) -> u64 {
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    // ---- the wire ----

    /// Whether [`Sessions::handle_message`] would take `msg`.
    pub fn claims(&self, msg: &Message<'_>) -> bool {
        msg.call_id().is_ok_and(|c| self.by_call_id.contains_key(c))
            || (msg.is_request() && self.notify_line(msg).is_some())
    }

    /// Takes a SIP message when it belongs to a session (its Call-ID), or is an event
    /// a NOTIFY-mode phone sends outside a dialog; returns whether it was taken
    /// (otherwise it is the registrar's or the proxy's).
    pub fn handle_message(&mut self, now: Instant, msg: &Message<'_>, source: &Source) -> bool {
        let Ok(call_id) = msg.call_id() else {
            return false;
        };
        if let Some(&sid) = self.by_call_id.get(call_id) {
            self.stats.messages += 1;
            self.receive(now, sid, msg, source);
            return true;
        }
        if msg.is_request()
            && let Some(i) = self.notify_line(msg)
        {
            self.stats.messages += 1;
            self.out_of_dialog_event(i, msg, source);
            return true;
        }
        false
    }

    /// The NOTIFY-mode line an out-of-dialog CSTA NOTIFY or INFO comes from.
    fn notify_line(&self, msg: &Message<'_>) -> Option<usize> {
        let method = msg.method()?;
        let csta_event = msg.header(HeaderName::Event).is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|p| p.trim().eq_ignore_ascii_case(EVENT_PACKAGE))
        });
        let ok = match method {
            Method::Notify => csta_event,
            Method::Info => csta_event || msg.body().first() == Some(&b'<'),
            _ => false,
        };
        if !ok {
            return None;
        }
        let from = msg.from().ok()?;
        let Uri::Sip(uri) = from.uri else {
            return None;
        };
        let key = aor_key(&uri)?;
        let &i = self.by_key.get(&key)?;
        self.lines[i].notify.then_some(i)
    }

    /// An event from a NOTIFY-mode phone outside any dialog: 200, and the event taken.
    fn out_of_dialog_event(&mut self, i: usize, msg: &Message<'_>, source: &Source) {
        let tag = self.ids.token();
        let status = match decode(msg.body()) {
            Ok(d) => {
                self.take_event(i, msg.body(), &d.message);
                StatusCode::OK
            }
            Err(_) => StatusCode::BAD_REQUEST,
        };
        if let Some(out) = crate::core::build_response(msg, source, status, &[], Some(tag.as_str()))
        {
            self.out.push_back(out);
        }
    }

    /// An event for line `i`: into the view, and to the hub when online.
    fn take_event(&mut self, i: usize, body: &[u8], event: &Csta<'_>) {
        let line = &mut self.lines[i];
        if let Err(e) = line.view.handle_message(event) {
            tracing::debug!(aor = %line.aor, error = %e, "event not applied to the view");
        }
        if line.status == DeviceStatus::Online {
            self.news.push_back(News::Event(i, body.to_vec()));
        }
    }

    fn receive(&mut self, now: Instant, sid: u64, msg: &Message<'_>, source: &Source) {
        let t = self.sip(now);
        let mut buf = std::mem::take(&mut self.buf);
        buf.resize(MESSAGE, 0);
        if let Some(a) = self.sessions.get_mut(&sid) {
            let reliable = source.transport == TransportKind::Tcp;
            if source.conn.is_some() {
                a.target.conn = source.conn;
            }
            let received = if msg.is_request() {
                a.stx.receive(t, source.peer, reliable, msg)
            } else {
                a.txs.receive(t, source.peer, reliable, msg)
            };
            match received {
                Ok(Received::Request(stx)) => match a.app.handle_request(t, msg, &mut buf) {
                    Ok(n) if n > 0 => {
                        if let Err(e) = a.stx.respond(t, stx, &buf[..n]) {
                            tracing::debug!(error = %e, "uaCSTA response not sent");
                        }
                    }
                    Ok(_) => {}
                    Err(e) => tracing::debug!(error = %e, "uaCSTA request not answered"),
                },
                Ok(Received::Ack) => {
                    let _ = a.app.handle_request(t, msg, &mut buf);
                }
                Ok(Received::Response(c)) => {
                    let _ = a.app.handle_response(t, msg);
                    if !msg.status().is_some_and(|s| s.is_provisional()) {
                        a.client.retain(|(x, _, _)| *x != c);
                    }
                }
                Ok(Received::Retransmitted2xx(_) | Received::Unmatched) => {
                    let _ = a.app.handle_response(t, msg);
                }
                Ok(Received::Absorbed | Received::Rejected(_) | Received::Cancel { .. }) => {}
                Err(e) => tracing::debug!(error = %e, "uaCSTA message dropped"),
            }
        }
        self.buf = buf;
        self.drive(now, sid);
    }

    /// Sends what session `sid` has due, takes what it reports, until it is quiet;
    /// then re-arms its timer, or drops it once it is over.
    fn drive(&mut self, now: Instant, sid: u64) {
        let t = self.sip(now);
        let mut buf = std::mem::take(&mut self.buf);
        buf.resize(MESSAGE, 0);
        while let Some(a) = self.sessions.get_mut(&sid) {
            let mut moved = false;
            // What the session reports first: it may change what is sent next.
            let mut reports = Vec::new();
            while let Some(ev) = a.app.poll_event() {
                reports.push(owned(ev));
            }
            for r in reports {
                moved = true;
                self.report(now, sid, r);
            }
            let Some(a) = self.sessions.get_mut(&sid) else {
                break;
            };
            // Requests wait for a client transaction: a free one or one that only
            // lingers after its answer.
            while a.txs.has_room()
                && let Some(r) = a.app.poll_request(t, &mut self.ids, &mut buf)
            {
                let out = match r {
                    Ok(o) => o,
                    Err(e) => {
                        tracing::warn!(error = %e, "uaCSTA request cannot be written");
                        break;
                    }
                };
                moved = true;
                let bytes = with_routes(&buf[..out.len], &a.target.path);
                if out.transaction {
                    let reliable = a.target.transport == TransportKind::Tcp;
                    match a.txs.send_request(t, a.target.source, reliable, &bytes) {
                        Ok(c) => a.client.push((c, out.cseq, out.method)),
                        Err(e) => {
                            tracing::debug!(error = %e, "uaCSTA request not sent");
                            a.app.handle_request_failed(t, out.cseq, out.method);
                        }
                    }
                } else {
                    self.out
                        .push_back(outbound(&a.target, a.target.source, bytes));
                }
            }
            while let Some(x) = a.txs.poll_transmit() {
                self.out
                    .push_back(outbound(&a.target, x.peer, x.bytes.to_vec()));
            }
            while let Some(x) = a.stx.poll_transmit() {
                self.out
                    .push_back(outbound(&a.target, x.peer, x.bytes.to_vec()));
            }
            while a.stx.poll_event().is_some() {}
            while let Some(e) = a.txs.poll_event() {
                if let TxEvent::Timeout(Tx::Client(c)) | TxEvent::TransportError(Tx::Client(c)) = e
                    && let Some(p) = a.client.iter().position(|(x, _, _)| *x == c)
                {
                    let (_, cseq, method) = a.client.remove(p);
                    a.app.handle_request_failed(t, cseq, method);
                    moved = true;
                }
            }
            if !moved {
                break;
            }
        }
        self.buf = buf;
        let Some(a) = self.sessions.get_mut(&sid) else {
            return;
        };
        // Over once no request of it waits for an answer; what lingers to absorb
        // retransmissions is dropped with it.
        if a.app.is_done() && a.client.is_empty() {
            let line = a.line;
            self.by_call_id.remove(a.app.call_id());
            self.sessions.remove(&sid);
            if self.lines[line].session == Some(sid) {
                self.lines[line].session = None;
            }
            return;
        }
        let due = [
            a.app.poll_timeout(),
            a.txs.poll_timeout(),
            a.stx.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|d| self.epoch + Duration::from_millis(d.as_millis()));
        if due != a.due {
            a.due = due;
            if let Some(at) = due {
                self.timers.push(Reverse((at, Timer::Session(sid))));
            }
        }
    }

    /// Takes one report of session `sid`.
    fn report(&mut self, now: Instant, sid: u64, r: Report) {
        let Some(a) = self.sessions.get_mut(&sid) else {
            return;
        };
        let i = a.line;
        let current = self.lines[i].session == Some(sid);
        if !current || a.stage == Stage::Retired {
            return;
        }
        match r {
            Report::Established => {
                a.stage = Stage::Syncing;
                let _ = self.lines[i].view.reset();
                let aor = self.lines[i].aor.clone();
                let mut ok = true;
                for (n, xml) in setup_requests(&aor).iter().enumerate() {
                    match send_xml(&mut a.app, xml) {
                        Ok(id) => {
                            if n == 0 {
                                a.monitor = Some(id);
                            }
                            a.setup.push(id);
                        }
                        Err(e) => {
                            tracing::warn!(%aor, error = %e, "setup request not queued");
                            ok = false;
                        }
                    }
                }
                if !ok {
                    self.give_up(now, i, sid);
                }
            }
            Report::Failed(f) => {
                tracing::info!(aor = %self.lines[i].aor, failure = %f, "uaCSTA session not established");
                self.lost(now, i, sid);
            }
            Report::Lost(reason) => {
                tracing::info!(aor = %self.lines[i].aor, ?reason, "uaCSTA session lost");
                self.lost(now, i, sid);
            }
            Report::Closed => {
                self.offline(i);
                self.lines[i].session = None;
            }
            Report::Malformed => {
                tracing::debug!(aor = %self.lines[i].aor, "undecodable event answered 400");
            }
            Report::Event(body) => match decode(&body) {
                Ok(d) => self.take_event(i, &body, &d.message),
                Err(_) => tracing::debug!("undecodable event"),
            },
            Report::Response(id, body) => self.answered(now, i, sid, id, Some(body)),
            Report::RequestFailed(id, status) => {
                tracing::debug!(aor = %self.lines[i].aor, ?status, "uaCSTA request failed");
                self.answered(now, i, sid, id, None);
            }
        }
    }

    /// The answer to request `id` of session `sid` (line `i`); `None` when it failed.
    fn answered(&mut self, now: Instant, i: usize, sid: u64, id: RequestId, body: Option<Vec<u8>>) {
        let Some(a) = self.sessions.get_mut(&sid) else {
            return;
        };
        let line = &mut self.lines[i];
        let decoded = body.as_deref().and_then(|b| decode(b).ok());
        if let Some(d) = &decoded
            && let Err(e) = line.view.handle_message(&d.message)
        {
            tracing::debug!(aor = %line.aor, error = %e, "answer not applied to the view");
        }
        if a.stop == Some(id) {
            a.stop = None;
            let _ = a.app.close();
            return;
        }
        if let Some(p) = a.setup.iter().position(|x| *x == id) {
            a.setup.remove(p);
            let positive = decoded
                .as_ref()
                .is_some_and(|d| d.message.kind() != Kind::Error);
            // A NOTIFY-mode phone answers with a bare 2xx.
            let accepted = positive || (line.notify && body.is_some());
            if a.monitor == Some(id) && !accepted {
                tracing::info!(aor = %line.aor, "MonitorStart refused");
                self.give_up(now, i, sid);
                return;
            }
            if a.setup.is_empty() && a.stage == Stage::Syncing {
                a.stage = Stage::Online;
                line.status = DeviceStatus::Online;
                line.failures = 0;
                self.stats.online += 1;
                tracing::info!(aor = %line.aor, "device online");
                self.news.push_back(News::Online(i));
            }
            return;
        }
        if let Some(p) = a.requests.iter().position(|(x, _)| *x == id) {
            let (_, hub) = a.requests.remove(p);
            let valid = decoded.is_some();
            drop(decoded);
            let body = body.filter(|_| valid);
            self.news.push_back(News::Answer(i, hub, body));
        }
    }

    /// Ends session `sid` of line `i` that cannot serve (closing it) and backs off.
    fn give_up(&mut self, now: Instant, i: usize, sid: u64) {
        if let Some(a) = self.sessions.get_mut(&sid) {
            a.stage = Stage::Retired;
            let _ = a.app.close();
        }
        self.lost(now, i, sid);
    }

    /// The next message to send.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Outbound> {
        self.out.pop_front()
    }

    /// Hands every piece of news, in order, to `f`.
    pub fn poll_news(&mut self, mut f: impl FnMut(DeviceNews<'_>)) {
        while let Some(n) = self.news.pop_front() {
            match n {
                News::Online(i) => f(DeviceNews::Online {
                    device: &self.lines[i].aor,
                }),
                News::Offline(i) => f(DeviceNews::Offline {
                    device: &self.lines[i].aor,
                }),
                News::Event(i, body) => {
                    if let Ok(d) = decode(&body) {
                        f(DeviceNews::Event {
                            device: &self.lines[i].aor,
                            event: &d.message,
                        });
                    }
                }
                News::Answer(i, id, body) => {
                    let device = &self.lines[i].aor;
                    match body.as_deref().map(decode) {
                        Some(Ok(d)) => f(DeviceNews::Answer {
                            device,
                            id,
                            answer: Answer::Message(&d.message),
                        }),
                        _ => f(DeviceNews::Answer {
                            device,
                            id,
                            answer: Answer::Failed,
                        }),
                    }
                }
            }
        }
    }

    // ---- time ----

    /// When [`Sessions::handle_timeout`] is next due (possibly early, never late).
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.peek().map(|r| r.0.0)
    }

    /// Fires what is due at `now`: transaction and session timers, back-off retries.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(Reverse((at, timer))) = self.timers.peek().copied() {
            if at > now {
                break;
            }
            self.timers.pop();
            match timer {
                Timer::Session(sid) => {
                    let t = self.sip(now);
                    let Some(a) = self.sessions.get_mut(&sid) else {
                        continue;
                    };
                    if a.due != Some(at) {
                        continue;
                    }
                    a.due = None;
                    if a.txs.poll_timeout().is_some_and(|d| d <= t) {
                        a.txs.handle_timeout(t);
                    }
                    if a.stx.poll_timeout().is_some_and(|d| d <= t) {
                        a.stx.handle_timeout(t);
                    }
                    if a.app.poll_timeout().is_some_and(|d| d <= t) {
                        a.app.handle_timeout(t);
                    }
                    self.drive(now, sid);
                }
                Timer::Retry(i) => {
                    if self.lines[i].retry_at != Some(at) {
                        continue;
                    }
                    self.lines[i].retry_at = None;
                    if self.lines[i].session.is_none() && !self.stopping {
                        self.open(now, i);
                    }
                }
            }
        }
    }

    /// Ends every session gracefully: `MonitorStop` where a monitor runs, then BYE;
    /// no session is opened again. Every device is reported offline. Keep driving
    /// (messages, timeouts) until [`Sessions::is_idle`], for a bounded time.
    pub fn shutdown(&mut self, now: Instant) {
        self.stopping = true;
        for i in 0..self.lines.len() {
            self.lines[i].retry_at = None;
            let Some(sid) = self.lines[i].session else {
                continue;
            };
            let monitor = self.lines[i].view.monitor_cross_ref_id().map(str::to_owned);
            self.offline(i);
            let Some(a) = self.sessions.get_mut(&sid) else {
                continue;
            };
            let stop = match (a.stage, monitor) {
                (Stage::Online | Stage::Syncing, Some(m)) if !self.lines[i].notify => {
                    send_xml(&mut a.app, &monitor_stop(&m)).ok()
                }
                _ => None,
            };
            match stop {
                Some(id) => {
                    a.stage = Stage::Stopping;
                    a.stop = Some(id);
                }
                None => {
                    a.stage = Stage::Retired;
                    let _ = a.app.close();
                }
            }
            self.drive(now, sid);
        }
    }

    fn line_of(&self, device: &str) -> Option<usize> {
        if let Some(&i) = self.by_aor.get(device) {
            return Some(i);
        }
        self.lines
            .iter()
            .position(|l| !l.removed && same_device(&l.aor, device))
    }
}

/// Writes a session's request with the route set `path` (the binding's Path) as Route,
/// when it is outside a dialog (no To tag): the INVITE and the NOTIFYs. In-dialog
/// requests follow the dialog's own route set.
fn with_routes(bytes: &[u8], path: &[String]) -> Vec<u8> {
    if path.is_empty() {
        return bytes.to_vec();
    }
    let mut hs = [HeaderIndex::EMPTY; HEADERS];
    let out_of_dialog = Message::parse(bytes, &mut hs)
        .ok()
        .filter(|m| m.is_request() && m.method() != Some(Method::Ack))
        .and_then(|m| m.to().ok().map(|t| t.tag().is_none()))
        .unwrap_or(false);
    let Some(eol) = memchr::memmem::find(bytes, b"\r\n").filter(|_| out_of_dialog) else {
        return bytes.to_vec();
    };
    let mut out = Vec::with_capacity(bytes.len() + 64 * path.len());
    out.extend_from_slice(&bytes[..eol + 2]);
    for p in path {
        out.extend_from_slice(b"Route: ");
        out.extend_from_slice(p.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(&bytes[eol + 2..]);
    out
}

fn outbound(target: &Target, peer: SocketAddr, data: Vec<u8>) -> Outbound {
    Outbound {
        transport: target.transport,
        peer,
        conn: target.conn,
        local: Some(target.local),
        data,
    }
}

fn owned(ev: AppEvent<'_>) -> Report {
    match ev {
        AppEvent::Established { .. } => Report::Established,
        AppEvent::Failed { failure, .. } => Report::Failed(failure),
        AppEvent::Response { id, body } => Report::Response(id, body.to_vec()),
        AppEvent::RequestFailed { id, status } => Report::RequestFailed(id, status),
        AppEvent::Event { body } => Report::Event(body.to_vec()),
        AppEvent::MalformedEvent(_) => Report::Malformed,
        AppEvent::Lost(r) => Report::Lost(r),
        AppEvent::Closed => Report::Closed,
    }
}

/// Escapes text for an XML element.
fn xml_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn monitor_start(aor: &str) -> String {
    format!(
        "<MonitorStart><monitorObject><deviceObject>{}</deviceObject></monitorObject></MonitorStart>",
        xml_text(aor)
    )
}

fn monitor_stop(id: &str) -> String {
    format!(
        "<MonitorStop><monitorCrossRefID>{}</monitorCrossRefID></MonitorStop>",
        xml_text(id)
    )
}

/// The requests that bring a new session up: the monitor first.
fn setup_requests(aor: &str) -> [String; 4] {
    let d = xml_text(aor);
    [
        monitor_start(aor),
        format!("<SnapshotDevice><snapshotObject>{d}</snapshotObject></SnapshotDevice>"),
        format!("<GetDoNotDisturb><device>{d}</device></GetDoNotDisturb>"),
        format!("<GetForwarding><device>{d}</device></GetForwarding>"),
    ]
}

/// Queues a request written as XML.
fn send_xml(app: &mut App, xml: &str) -> Result<RequestId, SessionError> {
    let d = decode(xml.as_bytes()).map_err(|_| SessionError::Encode)?;
    app.send(&d.message)
}

impl Devices for Sessions {
    fn resolve(&self, device: &str) -> Option<&str> {
        self.line_of(device).map(|i| self.lines[i].aor.as_str())
    }

    fn all(&self) -> Vec<&str> {
        self.lines
            .iter()
            .filter(|l| !l.removed)
            .map(|l| l.aor.as_str())
            .collect()
    }

    fn status(&self, device: &str) -> DeviceStatus {
        self.line_of(device)
            .map_or(DeviceStatus::Offline, |i| self.lines[i].status)
    }

    fn view(&self, device: &str) -> Option<&View> {
        self.line_of(device).map(|i| &self.lines[i].view)
    }

    fn send(
        &mut self,
        now: Instant,
        device: &str,
        request: &Csta<'_>,
    ) -> Result<RequestId, SendError> {
        let i = self.line_of(device).ok_or(SendError::UnknownDevice)?;
        if self.lines[i].status != DeviceStatus::Online {
            return Err(SendError::Offline);
        }
        let sid = self.lines[i].session.ok_or(SendError::Offline)?;
        let a = self.sessions.get_mut(&sid).ok_or(SendError::Offline)?;
        if a.requests.len() >= QUEUE {
            return Err(SendError::Busy);
        }
        let id = a.app.send(request).map_err(|e| match e {
            SessionError::QueueFull => SendError::Busy,
            SessionError::WrongState => SendError::Offline,
            _ => SendError::Encode,
        })?;
        let hub = RequestId(self.next_request);
        self.next_request = self.next_request.wrapping_add(1).max(1);
        a.requests.push((id, hub));
        // The view remembers DND and forwarding asked for until the answer.
        if matches!(request, Csta::SetDoNotDisturb(_) | Csta::SetForwarding(_)) {
            let _ = self.lines[i].view.handle_message(request);
        }
        self.drive(now, sid);
        Ok(hub)
    }
}

#[cfg(test)]
#[path = "sessions_tests.rs"]
mod tests;
