//! Session timers (RFC 4028): keeping a dialog alive with periodic re-INVITE or UPDATE
//! requests, and ending it when the far end stops refreshing.
//!
//! [`SessionRefresh`] is one dialog's timer, on both sides of every exchange:
//!
//! - **As UAC** (RFC 4028 section 7), for the initial INVITE and for every refresh we
//!   send: [`SessionRefresh::request_headers`] gives the `Session-Expires`, `Min-SE`
//!   and `Supported: timer` to put in the request, and
//!   [`SessionRefresh::handle_response`] reads the answer: a 2xx starts or restarts the
//!   timers, a 422 asks for a retry with a larger interval, a 408 or 481 to a refresh
//!   ends the session.
//! - **As UAS** (section 9), for the initial INVITE and every re-INVITE or UPDATE the
//!   peer sends: [`SessionRefresh::handle_request`] decides between a 422 (or a 400 for
//!   malformed headers) and the headers of the 2xx; once the 2xx is sent,
//!   [`SessionRefresh::handle_2xx_sent`] starts or restarts the timers.
//! - **Running** (section 10): the side that refreshes gets [`Action::Refresh`] at half
//!   the interval; both sides get [`Action::Expired`] (send a BYE) at
//!   `interval - min(32 s, interval / 3)` after the last successful refresh, which on
//!   the refreshing side only happens when its refreshes keep failing.
//!
//! The values in `Session-Expires: 1800;refresher=uac` are relative to the transaction
//! that carries them (`uac` is whoever sent that request); this module turns them into
//! a [`Party`] (us or the peer) that stays meaningful across re-INVITEs in both
//! directions.
//!
//! The drive loop is the crate's: after every input, call
//! [`poll_action`](SessionRefresh::poll_action) until it returns `None`, and arm a
//! timer at [`poll_timeout`](SessionRefresh::poll_timeout).
//!
//! ```
//! use sip_lite::session_timer::{Action, Config, Party, RefreshMethod, SessionRefresh};
//! use sip_lite::time::Instant;
//!
//! let mut timer = SessionRefresh::new(Config::DEFAULT);
//! // ... the INVITE carried `timer.request_headers()`, the 2xx said
//! // `Session-Expires: 1800;refresher=uac`; handle_response(now, &ok) then does this:
//! timer.start(Instant::ZERO, 1800, Party::Local);
//! assert_eq!(timer.poll_timeout(), Some(Instant::from_secs(900)));
//! timer.handle_timeout(Instant::from_secs(900));
//! assert_eq!(
//!     timer.poll_action(),
//!     Some(Action::Refresh { method: RefreshMethod::Invite })
//! );
//! ```

use core::fmt;
use core::time::Duration;

use crate::time::{Instant, earliest};
use crate::wire::{
    Emit, EmitError, FmtSink, HeaderName, Message, Refresher, SessionTimer, Sink, StatusCode,
    Writer,
};

/// The option tag of the extension (RFC 4028 section 3), for `Supported` and `Require`.
pub const OPTION_TAG: &str = "timer";

/// The smallest session interval RFC 4028 allows anywhere (section 4: "MUST NOT be less
/// than 90 seconds"; section 5: the Min-SE default).
pub const MIN_INTERVAL: u32 = 90;

/// The longest a non-refreshing side waits before the end of the interval to send its
/// BYE (section 10: `interval - min(32, interval / 3)`).
const BYE_MARGIN: Duration = Duration::from_secs(32);

/// Which end of the dialog sends the refreshes: us or the peer. Unlike
/// [`Refresher`] (`uac`/`uas`, relative to one transaction), this stays true across
/// re-INVITEs sent in either direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Party {
    /// This user agent.
    Local,
    /// The other end of the dialog.
    Remote,
}

/// Which request refreshes the session (RFC 4028 section 10 allows both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RefreshMethod {
    /// UPDATE (RFC 3311): no offer/answer needed, but the peer must allow it.
    Update,
    /// re-INVITE: understood by every SIP user agent.
    Invite,
}

/// What the caller must do, reported by [`SessionRefresh::poll_action`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Action {
    /// Half the interval has passed and we are the refresher: send a re-INVITE or
    /// UPDATE carrying [`SessionRefresh::request_headers`] (section 10).
    Refresh {
        /// The request the configuration asks for.
        method: RefreshMethod,
    },
    /// The session expired without a successful refresh: send a BYE and tear the
    /// session down (section 10). The timers are stopped.
    Expired,
}

/// Local policy for one dialog's session timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Config {
    /// The session interval we ask for, in seconds (default 1800, the value RFC 4028
    /// section 4 recommends). Raised to `min_se` if smaller.
    pub session_expires: u32,
    /// The smallest interval we accept, in seconds (default 90). Values below
    /// [`MIN_INTERVAL`] are raised to it: section 5 forbids a smaller Min-SE.
    pub min_se: u32,
    /// The refresher we pick when we answer a request that supports timers but leaves
    /// the choice to us (section 9). Default [`Party::Remote`]: the UAC asked for the
    /// timer, so it does the work, and the 2xx tells it so with `Require: timer`.
    pub uas_refresher: Party,
    /// The refresher we ask for in our initial request (`refresher=uac` for
    /// [`Party::Local`], `uas` for [`Party::Remote`]). Default `None`: section 7.1
    /// recommends leaving the choice to the negotiation.
    pub uac_refresher: Option<Party>,
    /// The request we refresh with, reported in [`Action::Refresh`]. Default
    /// [`RefreshMethod::Invite`], which every peer understands.
    pub method: RefreshMethod,
    /// As UAS, whether we ask for a session timer when the request carries no
    /// Session-Expires (section 9 lets the UAS add one). Default `true`.
    pub uas_wants_timer: bool,
    /// As UAC, whether we keep a timer when the 2xx carries no Session-Expires (the
    /// UAS and the proxies do not use timers). Section 7.2 lets the UAC refresh alone,
    /// with the interval it asked for, "as if" the 2xx said `refresher=uac`. Default
    /// `false`: no Session-Expires in the 2xx means no session timer.
    pub uac_refresh_alone: bool,
    /// How many 422 answers in a row we retry after (section 7.3) before giving up
    /// with [`SessionTimerError::TooManyRetries`]. Default 2.
    pub max_retries: u8,
}

impl Config {
    /// The defaults described on each field.
    pub const DEFAULT: Config = Config {
        session_expires: 1800,
        min_se: MIN_INTERVAL,
        uas_refresher: Party::Remote,
        uac_refresher: None,
        method: RefreshMethod::Invite,
        uas_wants_timer: true,
        uac_refresh_alone: false,
        max_retries: 2,
    };
}

impl Default for Config {
    fn default() -> Self {
        Config::DEFAULT
    }
}

/// Why a session timer header or exchange was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum SessionTimerError {
    /// A request's or response's Session-Expires did not parse (a request deserves a
    /// 400, see [`SessionTimerError::status`]).
    InvalidSessionExpires,
    /// A Min-SE did not parse (a request deserves a 400).
    InvalidMinSe,
    /// A 422 response without the Min-SE that section 6 requires: there is no
    /// interval to retry with.
    MissingMinSe,
    /// The peer answered 422 more often than [`Config::max_retries`] allows.
    TooManyRetries,
}

impl SessionTimerError {
    /// The response a UAS sends for a request that failed this way, if any: 400 Bad
    /// Request for malformed headers (RFC 3261 section 8.2.3's rule for unparsable
    /// headers the UAS needs).
    pub const fn status(self) -> Option<StatusCode> {
        match self {
            SessionTimerError::InvalidSessionExpires | SessionTimerError::InvalidMinSe => {
                Some(StatusCode::BAD_REQUEST)
            }
            SessionTimerError::MissingMinSe | SessionTimerError::TooManyRetries => None,
        }
    }
}

impl fmt::Display for SessionTimerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SessionTimerError::InvalidSessionExpires => "malformed Session-Expires",
            SessionTimerError::InvalidMinSe => "malformed Min-SE",
            SessionTimerError::MissingMinSe => "422 response without Min-SE",
            SessionTimerError::TooManyRetries => "too many 422 responses",
        })
    }
}

impl core::error::Error for SessionTimerError {}

/// A Session-Expires value we send: `delta-seconds [;refresher=uac|uas]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SessionExpires {
    /// The session interval in seconds.
    pub delta: u32,
    /// The refresher parameter, relative to the transaction carrying the header.
    pub refresher: Option<Refresher>,
}

impl Emit for SessionExpires {
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        out.put_u32(self.delta)?;
        match self.refresher {
            Some(Refresher::Uac) => out.put(b";refresher=uac"),
            Some(Refresher::Uas) => out.put(b";refresher=uas"),
            None => Ok(()),
        }
    }
}

impl fmt::Display for SessionExpires {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.emit(&mut FmtSink(f)).map_err(|_| fmt::Error)
    }
}

/// A `u32` written as decimal text: how Min-SE values go through
/// [`Writer::header_typed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seconds(u32);

impl Emit for Seconds {
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        out.put_u32(self.0)
    }
}

/// The session timer headers of a request we send (RFC 4028 sections 7.1, 7.3, 7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RequestHeaders {
    /// `Session-Expires`.
    pub session_expires: SessionExpires,
    /// `Min-SE`, in seconds.
    pub min_se: u32,
}

impl RequestHeaders {
    /// Writes `Supported: timer`, `Session-Expires` and `Min-SE`. Section 7.1 requires
    /// the `Supported` tag in every request but ACK; a caller that writes its own
    /// Supported list can leave `timer` out of it, as several Supported lines are one
    /// list (RFC 3261 section 7.3.1).
    ///
    /// # Errors
    /// What the writer reports (a too-small buffer).
    pub fn write<S: Sink>(&self, w: &mut Writer<S>) -> Result<(), EmitError> {
        w.header(HeaderName::Supported.as_str(), OPTION_TAG)?
            .header_typed(HeaderName::SessionExpires, &self.session_expires)?
            .header_typed(HeaderName::MinSe, &Seconds(self.min_se))?;
        Ok(())
    }
}

/// The session timer headers of a 2xx we send (RFC 4028 section 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct ResponseHeaders {
    /// `Session-Expires` with its refresher, or `None` for no session timer.
    pub session_expires: Option<SessionExpires>,
    /// Whether the 2xx needs `Require: timer`: when `refresher=uac`, so that a UAC that
    /// does not refresh cannot miss the duty (section 9).
    pub require_timer: bool,
}

impl ResponseHeaders {
    /// Writes `Session-Expires` and `Require: timer` as needed, and `Supported: timer`
    /// whenever a timer runs (RFC 3261 section 13.3.1.4 has a 2xx list what it
    /// supports).
    ///
    /// # Errors
    /// What the writer reports (a too-small buffer).
    pub fn write<S: Sink>(&self, w: &mut Writer<S>) -> Result<(), EmitError> {
        if let Some(se) = &self.session_expires {
            w.header(HeaderName::Supported.as_str(), OPTION_TAG)?
                .header_typed(HeaderName::SessionExpires, se)?;
            if self.require_timer {
                w.header(HeaderName::Require.as_str(), OPTION_TAG)?;
            }
        }
        Ok(())
    }
}

/// The 422 (Session Interval Too Small) answer to a request (RFC 4028 section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TooSmall {
    /// The value of the response's `Min-SE` header, in seconds.
    pub min_se: u32,
}

impl TooSmall {
    /// The status to answer with: 422.
    pub const STATUS: StatusCode = StatusCode::SESSION_INTERVAL_TOO_SMALL;

    /// Writes the `Min-SE` header section 6 requires in a 422.
    ///
    /// # Errors
    /// What the writer reports (a too-small buffer).
    pub fn write<S: Sink>(&self, w: &mut Writer<S>) -> Result<(), EmitError> {
        w.header_typed(HeaderName::MinSe, &Seconds(self.min_se))?;
        Ok(())
    }
}

/// How to answer a request, from [`SessionRefresh::handle_request`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Answer {
    /// Reject with 422 and the Min-SE it carries; the session (if any) is unchanged.
    TooSmall(TooSmall),
    /// Accept: put these headers in the 2xx, then call
    /// [`SessionRefresh::handle_2xx_sent`].
    Accept(ResponseHeaders),
}

/// What a response to our request did, from [`SessionRefresh::handle_response`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Outcome {
    /// A provisional response: nothing changes.
    Provisional,
    /// A 2xx with a session timer: the timers run with this interval and refresher.
    Running {
        /// The session interval in seconds.
        interval: u32,
        /// Who refreshes.
        refresher: Party,
    },
    /// A 2xx without a session timer: the timers are stopped.
    NoTimer,
    /// A 422: send the request again (as a new transaction, with a new CSeq; for an
    /// initial INVITE also a new From tag, RFC 4028 erratum 1681) carrying these
    /// headers.
    Retry(RequestHeaders),
    /// A refresh failed with 408 or 481 or timed out (section 10): the session is over;
    /// send a BYE (after a 408) and report the call as ended. The timers are stopped.
    SessionEnded,
    /// The request failed another way (491, 5xx, ...): the session keeps its timers and
    /// expires as planned unless a later refresh succeeds.
    Unchanged,
}

/// The result of a negotiation: interval and refresher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Negotiated {
    interval: u32,
    refresher: Party,
}

/// One dialog's session timer (RFC 4028): negotiation on both sides and the
/// refresh/expiry timers. See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct SessionRefresh {
    config: Config,
    /// The Session-Expires we offer next: the configured value, raised by 422s, then
    /// the negotiated interval (section 7.4 keeps the current one in refreshes).
    offer: u32,
    /// The Min-SE we send and enforce: ours, raised by every 422 we received
    /// (section 7.3: the largest value seen).
    min_se: u32,
    /// 422s received since the last success.
    retries: u8,
    /// Whether a 2xx has been exchanged: failures then concern refreshes, not the
    /// dialog's creation.
    established: bool,
    /// The running timer, if any.
    current: Option<Negotiated>,
    /// What the last request we answered negotiated, applied once its 2xx is sent:
    /// `Some(None)` for a 2xx without a timer, `None` when no 2xx is pending.
    answered: Option<Option<Negotiated>>,
    refresh_at: Option<Instant>,
    expire_at: Option<Instant>,
    refresh_due: bool,
    expired: bool,
}

impl SessionRefresh {
    /// A session timer with this policy; `min_se` is raised to [`MIN_INTERVAL`] and
    /// `session_expires` to `min_se`.
    pub const fn new(config: Config) -> SessionRefresh {
        let mut config = config;
        // `Ord::max` is not `const`.
        if config.min_se < MIN_INTERVAL {
            config.min_se = MIN_INTERVAL;
        }
        if config.session_expires < config.min_se {
            config.session_expires = config.min_se;
        }
        SessionRefresh {
            config,
            offer: config.session_expires,
            min_se: config.min_se,
            retries: 0,
            established: false,
            current: None,
            answered: None,
            refresh_at: None,
            expire_at: None,
            refresh_due: false,
            expired: false,
        }
    }

    /// The policy in force (after the adjustments [`SessionRefresh::new`] made).
    pub fn config(&self) -> &Config {
        &self.config
    }

    // ---- UAC side (section 7) ----

    /// The headers for our next INVITE, re-INVITE or UPDATE (sections 7.1, 7.3, 7.4).
    ///
    /// Before a timer runs: the configured interval (raised by any 422) with the
    /// configured [`Config::uac_refresher`]. While one runs: the current interval, and
    /// a refresher that keeps the current roles (`uac` when we refresh, `uas` when the
    /// peer does, section 7.4). Min-SE is ours, raised by every 422 received.
    #[must_use]
    pub fn request_headers(&self) -> RequestHeaders {
        let party = match self.current {
            Some(n) => Some(n.refresher),
            None => self.config.uac_refresher,
        };
        RequestHeaders {
            session_expires: SessionExpires {
                delta: self.offer,
                refresher: party.map(|p| match p {
                    // We send this request: we are its UAC.
                    Party::Local => Refresher::Uac,
                    Party::Remote => Refresher::Uas,
                }),
            },
            min_se: self.min_se,
        }
    }

    /// Takes the final (or provisional) response to a request we sent with
    /// [`SessionRefresh::request_headers`]: an initial INVITE or a refresh.
    ///
    /// - 2xx with Session-Expires (section 7.2): the timers (re)start with its
    ///   interval; `refresher=uac` makes us the refresher, `uas` the peer. A 2xx that
    ///   omits the parameter (which section 7.2 says is always present) makes us the
    ///   refresher: a refresh nobody needed costs one transaction, a missing one costs
    ///   the call.
    /// - 2xx without Session-Expires: no session timer (section 7.2), unless
    ///   [`Config::uac_refresh_alone`], in which case we refresh alone with the
    ///   interval we asked for, as section 7.2 allows.
    /// - 422 (section 7.3): our Session-Expires and Min-SE are raised to its Min-SE;
    ///   send the request again with [`Outcome::Retry`]'s headers.
    /// - 408 or 481 to a refresh (section 10): [`Outcome::SessionEnded`].
    /// - Anything else: [`Outcome::Unchanged`].
    ///
    /// # Errors
    /// [`SessionTimerError::InvalidSessionExpires`] for a 2xx with a malformed
    /// Session-Expires (the timers are left as they were);
    /// [`SessionTimerError::MissingMinSe`] or [`SessionTimerError::InvalidMinSe`] for a
    /// 422 without a usable Min-SE; [`SessionTimerError::TooManyRetries`] after
    /// [`Config::max_retries`] 422s in a row.
    pub fn handle_response(
        &mut self,
        now: Instant,
        response: &Message<'_>,
    ) -> Result<Outcome, SessionTimerError> {
        let Some(status) = response.status() else {
            return Ok(Outcome::Unchanged);
        };
        if status.is_provisional() {
            return Ok(Outcome::Provisional);
        }
        if status.is_success() {
            return self.handle_success(now, response);
        }
        if status == StatusCode::SESSION_INTERVAL_TOO_SMALL {
            return self.handle_too_small(response).map(Outcome::Retry);
        }
        Ok(self.handle_failure(status))
    }

    /// The request we sent got no final response (the client transaction timed out or
    /// the transport failed): section 10 treats this like a 408.
    #[must_use]
    pub fn handle_request_timeout(&mut self) -> Outcome {
        self.handle_failure(StatusCode::REQUEST_TIMEOUT)
    }

    fn handle_success(
        &mut self,
        now: Instant,
        response: &Message<'_>,
    ) -> Result<Outcome, SessionTimerError> {
        self.retries = 0;
        self.established = true;
        let negotiated = match response.header(HeaderName::SessionExpires) {
            Some(v) => {
                let se =
                    SessionTimer::parse(v).map_err(|_| SessionTimerError::InvalidSessionExpires)?;
                let refresher = match se.refresher() {
                    // The response's refresher is relative to our request: uac is us.
                    Some(Refresher::Uas) => Party::Remote,
                    Some(Refresher::Uac) | None => Party::Local,
                };
                Some(Negotiated {
                    interval: se.delta,
                    refresher,
                })
            }
            // Section 7.2: the UAC may keep a timer for its own sake, refreshing with
            // the interval it asked for.
            None if self.config.uac_refresh_alone => Some(Negotiated {
                interval: self.offer,
                refresher: Party::Local,
            }),
            None => None,
        };
        Ok(match negotiated {
            Some(n) => {
                self.start(now, n.interval, n.refresher);
                Outcome::Running {
                    interval: n.interval,
                    refresher: n.refresher,
                }
            }
            None => {
                self.stop();
                Outcome::NoTimer
            }
        })
    }

    fn handle_too_small(
        &mut self,
        response: &Message<'_>,
    ) -> Result<RequestHeaders, SessionTimerError> {
        let v = response
            .header(HeaderName::MinSe)
            .ok_or(SessionTimerError::MissingMinSe)?;
        let min_se = parse_min_se(v)?;
        if self.retries >= self.config.max_retries {
            return Err(SessionTimerError::TooManyRetries);
        }
        self.retries += 1;
        // Section 7.3: the retry carries a Session-Expires no smaller than the 422's
        // Min-SE, and a Min-SE with the largest value seen, so that every element on
        // the path can check the new interval against all the minimums.
        self.min_se = self.min_se.max(min_se);
        self.offer = self.offer.max(self.min_se);
        Ok(self.request_headers())
    }

    fn handle_failure(&mut self, status: StatusCode) -> Outcome {
        let fatal = status == StatusCode::REQUEST_TIMEOUT
            || status == StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST;
        if fatal && self.established {
            self.stop();
            Outcome::SessionEnded
        } else {
            Outcome::Unchanged
        }
    }

    // ---- UAS side (section 9) ----

    /// Decides how to answer an INVITE, re-INVITE or UPDATE the peer sent, as far as
    /// session timers go (section 9). Nothing changes until the 2xx is sent:
    /// then call [`SessionRefresh::handle_2xx_sent`].
    ///
    /// - Session-Expires below our Min-SE, in a request that supports timers: a 422
    ///   with our Min-SE. In a request that does not (a proxy added the header), a 422
    ///   would only fail the call, so the interval is raised to our Min-SE instead, as
    ///   section 8.1 has proxies do (erratum 1687 applies it to the UAS).
    /// - Otherwise the interval is the request's, lowered to [`Config::session_expires`]
    ///   if that is smaller, but never below the request's Min-SE or ours (section 9).
    /// - The refresher is the request's if it names one; else ours
    ///   ([`Config::uas_refresher`]) if the UAC supports timers; else the UAS, us.
    ///   `refresher=uac` comes with `Require: timer`.
    /// - No Session-Expires in the request: a timer only if
    ///   [`Config::uas_wants_timer`], with the same refresher rules.
    ///
    /// # Errors
    /// [`SessionTimerError::InvalidSessionExpires`] or
    /// [`SessionTimerError::InvalidMinSe`] for malformed headers; answer 400
    /// ([`SessionTimerError::status`]).
    pub fn handle_request(&mut self, request: &Message<'_>) -> Result<Answer, SessionTimerError> {
        let supported = request.has_token(HeaderName::Supported, OPTION_TAG)
            || request.has_token(HeaderName::Require, OPTION_TAG);
        let their_min = match request.header(HeaderName::MinSe) {
            Some(v) => parse_min_se(v)?,
            None => MIN_INTERVAL,
        };
        let floor = self.config.min_se.max(their_min);
        let asked = match request.header(HeaderName::SessionExpires) {
            Some(v) => {
                let se =
                    SessionTimer::parse(v).map_err(|_| SessionTimerError::InvalidSessionExpires)?;
                Some((se.delta, se.refresher()))
            }
            None => None,
        };
        let (interval, asked_refresher) = match asked {
            Some((delta, _)) if delta < self.config.min_se && supported => {
                self.answered = None;
                return Ok(Answer::TooSmall(TooSmall {
                    min_se: self.config.min_se,
                }));
            }
            // Erratum 1687 / section 8.1: raise instead of failing the call.
            Some((delta, refresher)) if delta < self.config.min_se => {
                (self.config.min_se, refresher)
            }
            // We may lower the interval but never raise it, nor go below a minimum.
            Some((delta, refresher)) => {
                (delta.min(self.config.session_expires.max(floor)), refresher)
            }
            None if self.config.uas_wants_timer => (self.config.session_expires.max(floor), None),
            None => {
                self.answered = Some(None);
                return Ok(Answer::Accept(ResponseHeaders {
                    session_expires: None,
                    require_timer: false,
                }));
            }
        };
        // The refresher in the request and in our 2xx is relative to this transaction:
        // uac is the peer, uas is us.
        let refresher = match asked_refresher {
            Some(Refresher::Uac) => Party::Remote,
            Some(Refresher::Uas) => Party::Local,
            None if supported => self.config.uas_refresher,
            // A UAC that does not know the extension cannot refresh.
            None => Party::Local,
        };
        // A UAC without timer support cannot be made the refresher, whatever a proxy
        // wrote: it would never refresh.
        let refresher = if supported { refresher } else { Party::Local };
        self.answered = Some(Some(Negotiated {
            interval,
            refresher,
        }));
        let wire_refresher = match refresher {
            Party::Remote => Refresher::Uac,
            Party::Local => Refresher::Uas,
        };
        Ok(Answer::Accept(ResponseHeaders {
            session_expires: Some(SessionExpires {
                delta: interval,
                refresher: Some(wire_refresher),
            }),
            require_timer: refresher == Party::Remote,
        }))
    }

    /// The 2xx built from [`Answer::Accept`] was sent: the timers (re)start with what
    /// it said, or stop if it said nothing (section 10: every successful refresh
    /// restarts them). Does nothing unless the last [`SessionRefresh::handle_request`]
    /// accepted, and only once per answer, so retransmissions of the 2xx change nothing.
    pub fn handle_2xx_sent(&mut self, now: Instant) {
        match self.answered.take() {
            Some(Some(n)) => self.start(now, n.interval, n.refresher),
            Some(None) => {
                self.established = true;
                self.stop();
            }
            None => {}
        }
    }

    // ---- Running (section 10) ----

    /// Starts (or restarts) the timers at `now` for `interval` seconds with this
    /// refresher. [`SessionRefresh::handle_response`] and
    /// [`SessionRefresh::handle_2xx_sent`] call it; a caller that negotiated by other
    /// means may too. An interval of zero is treated as one second.
    pub fn start(&mut self, now: Instant, interval: u32, refresher: Party) {
        let interval = interval.max(1);
        let span = Duration::from_secs(u64::from(interval));
        self.current = Some(Negotiated {
            interval,
            refresher,
        });
        self.offer = interval;
        self.established = true;
        self.refresh_due = false;
        self.expired = false;
        // Section 10: the refresher refreshes at half the interval; the session ends
        // `min(32 s, interval / 3)` before the interval is over, so that the BYE of the
        // side that does not refresh arrives before the other side's own expiry.
        self.refresh_at = match refresher {
            Party::Local => Some(now + span / 2),
            Party::Remote => None,
        };
        self.expire_at = Some(now + (span - BYE_MARGIN.min(span / 3)));
    }

    /// Stops the timers: no session timer runs until the next negotiation.
    pub fn stop(&mut self) {
        self.current = None;
        self.refresh_at = None;
        self.expire_at = None;
        self.refresh_due = false;
    }

    /// When [`SessionRefresh::handle_timeout`] must be called next, if ever.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        earliest(self.refresh_at, self.expire_at)
    }

    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.expire_at.is_some_and(|t| t <= now) {
            self.stop();
            self.expired = true;
            return;
        }
        if self.refresh_at.is_some_and(|t| t <= now) {
            self.refresh_at = None;
            self.refresh_due = true;
        }
    }

    /// The next thing the caller must do, if any.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        if self.expired {
            self.expired = false;
            return Some(Action::Expired);
        }
        if self.refresh_due {
            self.refresh_due = false;
            return Some(Action::Refresh {
                method: self.config.method,
            });
        }
        None
    }

    /// The current session interval, if a timer runs.
    #[must_use]
    pub fn interval(&self) -> Option<Duration> {
        self.current
            .map(|n| Duration::from_secs(u64::from(n.interval)))
    }

    /// Who refreshes, if a timer runs.
    #[must_use]
    pub fn refresher(&self) -> Option<Party> {
        self.current.map(|n| n.refresher)
    }

    /// When we refresh next, if we are the refresher and have not yet been told to.
    #[must_use]
    pub fn refresh_at(&self) -> Option<Instant> {
        self.refresh_at
    }

    /// When the session expires (and a BYE is due) unless refreshed before.
    #[must_use]
    pub fn expires_at(&self) -> Option<Instant> {
        self.expire_at
    }

    /// The Min-SE we send and enforce: the configured one, raised by 422s received.
    #[must_use]
    pub fn min_se(&self) -> u32 {
        self.min_se
    }
}

/// Parses a Min-SE value: `delta-seconds *(SEMI generic-param)` (section 5).
fn parse_min_se(v: &str) -> Result<u32, SessionTimerError> {
    SessionTimer::parse(v)
        .map(|m| m.delta)
        .map_err(|_| SessionTimerError::InvalidMinSe)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::string::ToString;

    #[test]
    fn test_emit_session_expires() {
        let se = |delta, refresher| SessionExpires { delta, refresher }.to_string();
        assert_eq!(se(1800, None), "1800");
        assert_eq!(se(90, Some(Refresher::Uac)), "90;refresher=uac");
        assert_eq!(se(4000, Some(Refresher::Uas)), "4000;refresher=uas");
        assert_eq!(
            SessionExpires {
                delta: 90,
                refresher: Some(Refresher::Uac)
            }
            .buffer_len(),
            16
        );
    }

    #[test]
    fn test_config_is_normalised() {
        let t = SessionRefresh::new(Config {
            session_expires: 0,
            min_se: 0,
            ..Config::DEFAULT
        });
        assert_eq!((t.config().min_se, t.config().session_expires), (90, 90));
        assert_eq!(t.min_se(), 90);
        let t = SessionRefresh::new(Config {
            session_expires: 100,
            min_se: 600,
            ..Config::DEFAULT
        });
        assert_eq!(t.request_headers().session_expires.delta, 600);
        assert_eq!(t.request_headers().min_se, 600);
    }

    #[test]
    fn test_initial_refresher_preference() {
        let ask = |p| {
            SessionRefresh::new(Config {
                uac_refresher: p,
                ..Config::DEFAULT
            })
            .request_headers()
            .session_expires
            .refresher
        };
        assert_eq!(ask(None), None);
        assert_eq!(ask(Some(Party::Local)), Some(Refresher::Uac));
        assert_eq!(ask(Some(Party::Remote)), Some(Refresher::Uas));
    }

    #[test]
    fn test_expiry_wins_over_a_pending_refresh() {
        let mut t = SessionRefresh::new(Config::DEFAULT);
        t.start(Instant::ZERO, 90, Party::Local);
        assert_eq!(t.refresh_at(), Some(Instant::from_secs(45)));
        assert_eq!(t.expires_at(), Some(Instant::from_secs(60)));
        // A caller that slept through both deadlines hears only of the expiry.
        t.handle_timeout(Instant::from_secs(100));
        assert_eq!(t.poll_action(), Some(Action::Expired));
        assert_eq!(t.poll_action(), None);
        assert_eq!(t.poll_timeout(), None);
        // A zero interval does not spin.
        t.start(Instant::ZERO, 0, Party::Local);
        assert_eq!(t.refresh_at(), Some(Instant::from_millis(500)));
        // 1 s - 333.33 ms, sub-millisecond part dropped.
        assert_eq!(t.expires_at(), Some(Instant::from_millis(666)));
    }

    #[test]
    fn test_refresh_fires_once() {
        let mut t = SessionRefresh::new(Config::DEFAULT);
        t.start(Instant::ZERO, 1800, Party::Local);
        t.handle_timeout(Instant::from_secs(900));
        t.handle_timeout(Instant::from_secs(901));
        assert!(matches!(t.poll_action(), Some(Action::Refresh { .. })));
        assert_eq!(t.poll_action(), None);
        assert_eq!(t.poll_timeout(), Some(Instant::from_secs(1768)));
    }

    #[test]
    fn test_errors_display() {
        assert_eq!(
            SessionTimerError::MissingMinSe.to_string(),
            "422 response without Min-SE"
        );
        assert_eq!(
            SessionTimerError::InvalidMinSe.status(),
            Some(StatusCode::BAD_REQUEST)
        );
    }
}
