//! One simulated phone: the std driver of [`ucsta_phone::Phone`], the no_std uaCSTA
//! phone user agent. Datagrams, actions and the time go in, datagrams and [`Report`]s
//! come out.
//!
//! Everything a phone does (registration, the uaCSTA session, the ECMA-269 device,
//! the SIP calls its commands need) is the core crate's; this module picks generous
//! capacities for it, owns its memory on the heap, and turns its fixed-size reports
//! into owned ones for scripts and JSON.
//!
//! Drive loop: after [`Phone::handle_datagram`], [`Phone::handle_action`] or
//! [`Phone::handle_timeout`], drain [`Phone::poll_transmit`] and [`Phone::poll_report`];
//! call `handle_timeout` when [`Phone::poll_timeout`] comes.

use std::net::SocketAddr;

use csta_core::model::phone::Forward;
use sip_lite::time::Instant;
use ucsta_phone::Action as CoreAction;

use crate::report::{CallState, Report};

/// The largest SIP message a phone sends or keeps, in octets.
pub const BUF: usize = 3072;
/// Transactions a phone keeps at once. Finished ones linger (5 s for the phone's own
/// requests, 32 s for the server's over UDP), so a burst of CSTA events and requests
/// needs slots.
const TXS: usize = 64;
/// Octets the transactions share for their messages: the few in flight at once, and
/// the lingering ones' answers until a new message needs the room.
const STORE: usize = 16 * 1024;
/// Calls at once.
const CALLS: usize = 4;
/// CSTA events queued towards the application.
const EVENTS: usize = 8;

type Agent = ucsta_phone::Phone<SocketAddr, CALLS, TXS, STORE, BUF, EVENTS>;

/// A forwarding type a script or the handset sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardKind {
    /// Every call goes on at once (302).
    Immediate,
    /// Calls go on while the phone is busy (302).
    Busy,
    /// Calls go on when not answered in time (302).
    NoAnswer,
}

impl ForwardKind {
    fn forward(self) -> Forward {
        match self {
            ForwardKind::Immediate => Forward::Immediate,
            ForwardKind::Busy => Forward::Busy,
            ForwardKind::NoAnswer => Forward::NoAnswer,
        }
    }
}

/// Something the phone's user (a script, a test, the load generator) does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Register (again).
    Register,
    /// Remove the binding.
    Unregister,
    /// Lift the handset: answers the ringing call or starts dialling.
    OffHook,
    /// Dial a number in the call the handset started (or place a new one).
    Dial(String),
    /// Place a call to a number.
    Call(String),
    /// Answer the ringing call.
    Answer,
    /// Clear the newest call.
    Hangup,
    /// Hold the connected call.
    Hold,
    /// Retrieve the held call.
    Retrieve,
    /// Single-step transfer of the connected call.
    Transfer(String),
    /// Consultation transfer: the held call's party is joined with the connected
    /// call's party (REFER with Replaces to the held party).
    CompleteTransfer,
    /// Joins the held and the connected call into a conference (reported to the
    /// device only; no mixing).
    Conference,
    /// Deflect the ringing call.
    Deflect(String),
    /// DTMF digits in the connected call (INFO, `application/dtmf-relay`).
    Digits(String),
    /// Do-not-disturb on or off.
    DoNotDisturb(bool),
    /// Forwarding on (with a target) or off.
    Forward(ForwardKind, Option<String>),
    /// Answer incoming calls at once, or not.
    AutoAnswer(bool),
}

impl Action {
    fn core(&self) -> CoreAction<'_> {
        match self {
            Action::Register => CoreAction::Register,
            Action::Unregister => CoreAction::Unregister,
            Action::OffHook => CoreAction::OffHook,
            Action::Dial(to) => CoreAction::Dial(to),
            Action::Call(to) => CoreAction::Call(to),
            Action::Answer => CoreAction::Answer,
            Action::Hangup => CoreAction::Hangup,
            Action::Hold => CoreAction::Hold,
            Action::Retrieve => CoreAction::Retrieve,
            Action::Transfer(to) => CoreAction::Transfer(to),
            Action::CompleteTransfer => CoreAction::CompleteTransfer,
            Action::Conference => CoreAction::Conference,
            Action::Deflect(to) => CoreAction::Deflect(to),
            Action::Digits(d) => CoreAction::Digits(d),
            Action::DoNotDisturb(on) => CoreAction::DoNotDisturb(*on),
            Action::Forward(kind, to) => CoreAction::Forward(kind.forward(), to.as_deref()),
            Action::AutoAnswer(on) => CoreAction::AutoAnswer(*on),
        }
    }
}

/// What a phone is made of.
#[derive(Debug, Clone)]
pub struct Config {
    /// The SIP user: AOR user part, digest user name, CSTA device number.
    pub user: String,
    /// The digest password.
    pub password: String,
    /// The domain of the AOR and of called numbers.
    pub domain: String,
    /// The outbound proxy and registrar every request goes to.
    pub proxy: SocketAddr,
    /// The phone's own address (its socket's).
    pub local: SocketAddr,
    /// The requested registration expiry, seconds.
    pub expires: u32,
    /// Whether incoming calls are answered at once.
    pub auto_answer: bool,
    /// A seed for Call-IDs, tags and branches.
    pub seed: [u8; 32],
}

/// Why a phone could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(transparent)]
pub struct PhoneError(#[from] ucsta_phone::PhoneError);

/// One simulated phone. See the [module docs](self).
pub struct Phone {
    user: String,
    agent: Box<Agent>,
    scratch: Box<[u8; BUF]>,
}

impl std::fmt::Debug for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.agent.fmt(f)
    }
}

/// Builds the user agent on a thread with room for it: a debug build copies the
/// value (about 300 KiB) a few times on its way to the heap, more than a runtime
/// worker's stack holds.
fn build(cfg: &ucsta_phone::Config<'_, SocketAddr>) -> Result<Box<Agent>, PhoneError> {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn_scoped(s, || Agent::new(cfg).map(Box::new))
            .map_err(|_| PhoneError(ucsta_phone::PhoneError::TooLong("thread")))?
            .join()
            .unwrap_or(Err(ucsta_phone::PhoneError::TooLong("thread")))
            .map_err(PhoneError)
    })
}

impl Phone {
    /// A phone, not yet registered.
    ///
    /// # Errors
    /// [`PhoneError`] when a configured string does not fit the protocol machines.
    pub fn new(cfg: Config) -> Result<Phone, PhoneError> {
        let host = cfg.local.ip().to_string();
        let mut c = ucsta_phone::Config::new(
            &cfg.user,
            &cfg.password,
            &cfg.domain,
            cfg.proxy,
            &host,
            cfg.local.port(),
            cfg.seed,
        );
        c.expires = cfg.expires;
        c.auto_answer = cfg.auto_answer;
        c.user_agent = "phone-sim";
        Ok(Phone {
            agent: build(&c)?,
            user: cfg.user,
            scratch: Box::new([0; BUF]),
        })
    }

    /// The phone's user.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Whether the registration is in force.
    pub fn is_registered(&self) -> bool {
        self.agent.is_registered()
    }

    /// Whether a uaCSTA session is up.
    pub fn csta_open(&self) -> bool {
        self.agent.csta_open()
    }

    /// The states of the calls in progress, oldest first.
    pub fn call_states(&self) -> Vec<CallState> {
        self.agent.call_states().collect()
    }

    /// Whether do-not-disturb is on.
    pub fn do_not_disturb(&self) -> bool {
        self.agent.do_not_disturb()
    }

    /// The next datagram to send, and where.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<(SocketAddr, Vec<u8>)> {
        let (to, n) = self.agent.poll_transmit(&mut self.scratch[..])?;
        Some((to, self.scratch[..n].to_vec()))
    }

    /// The next report.
    #[must_use]
    pub fn poll_report(&mut self) -> Option<Report> {
        self.agent.poll_report().map(Report::from)
    }

    /// When [`Phone::handle_timeout`] is due next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.agent.poll_timeout()
    }

    /// Runs the timers that are due.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.agent.handle_timeout(now);
    }

    /// Does what the phone's user asks.
    pub fn handle_action(&mut self, now: Instant, action: Action) {
        self.agent.handle_action(now, action.core());
    }

    /// Takes one datagram from `from`.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        self.agent.handle_datagram(now, from, bytes);
    }
}
