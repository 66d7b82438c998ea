//! Time as the caller tells it.
//!
//! The state machines never read a clock: every input carries `now`, an [`Instant`] on
//! the caller's monotonic clock, and every timer they arm is reported as the `Instant` at
//! which the caller must call them back. Spans are [`core::time::Duration`].
//!
//! An `Instant` counts milliseconds from an origin the caller chooses (boot, the start of
//! the process, a test's virtual zero). SIP timers are specified in milliseconds and
//! seconds; finer resolution would only cost bytes on small targets.

use core::fmt;
use core::ops::{Add, Sub};
use core::time::Duration;

/// A point on the caller's monotonic clock, in milliseconds from an arbitrary origin.
///
/// Arithmetic saturates: adding a span to [`Instant::MAX`] stays at `MAX` (a timer that
/// never fires), and subtracting a later instant gives a zero span.
///
/// ```
/// use core::time::Duration;
/// use sip_lite::time::Instant;
///
/// let t0 = Instant::from_millis(1_000);
/// let t1 = t0 + Duration::from_millis(500);
/// assert_eq!(t1.as_millis(), 1_500);
/// assert_eq!(t1 - t0, Duration::from_millis(500));
/// assert_eq!(t0 - t1, Duration::ZERO);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Instant {
    millis: u64,
}

impl Instant {
    /// The origin of the caller's clock.
    pub const ZERO: Instant = Instant { millis: 0 };
    /// The end of time: a deadline that never comes.
    pub const MAX: Instant = Instant { millis: u64::MAX };

    /// The instant `millis` milliseconds after the origin.
    pub const fn from_millis(millis: u64) -> Instant {
        Instant { millis }
    }

    /// The instant `secs` seconds after the origin.
    pub const fn from_secs(secs: u64) -> Instant {
        Instant {
            millis: secs.saturating_mul(1000),
        }
    }

    /// Milliseconds since the origin.
    pub const fn as_millis(self) -> u64 {
        self.millis
    }

    /// The span from `earlier` to `self`, or zero if `earlier` is later.
    pub const fn saturating_duration_since(self, earlier: Instant) -> Duration {
        Duration::from_millis(self.millis.saturating_sub(earlier.millis))
    }

    /// `self + span`, saturating at [`Instant::MAX`]. Sub-millisecond parts of `span` are
    /// dropped.
    pub const fn saturating_add(self, span: Duration) -> Instant {
        let ms = span.as_millis();
        let ms = if ms > u64::MAX as u128 {
            u64::MAX
        } else {
            ms as u64
        };
        Instant {
            millis: self.millis.saturating_add(ms),
        }
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;

    fn add(self, span: Duration) -> Instant {
        self.saturating_add(span)
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;

    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

impl fmt::Debug for Instant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.millis / 1000, self.millis % 1000)
    }
}

/// The base timer values of RFC 3261 section 17.1.1.1 and table 4, from which every
/// transaction and dialog timer is derived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timers {
    /// Round-trip time estimate: first retransmission interval (default 500 ms).
    pub t1: Duration,
    /// Longest retransmission interval for non-INVITE requests and INVITE responses
    /// (default 4 s).
    pub t2: Duration,
    /// Longest time a message stays in the network (default 5 s).
    pub t4: Duration,
}

impl Timers {
    /// The values RFC 3261 recommends.
    pub const DEFAULT: Timers = Timers {
        t1: Duration::from_millis(500),
        t2: Duration::from_secs(4),
        t4: Duration::from_secs(5),
    };

    /// `64 * T1`: timers B, F, H and J, and how long a UAS retransmits a 2xx.
    pub fn t1_x64(&self) -> Duration {
        self.t1.saturating_mul(64)
    }
}

impl Default for Timers {
    fn default() -> Self {
        Timers::DEFAULT
    }
}

/// The earlier of two optional deadlines: what a layer made of several machines reports
/// from its `poll_timeout`.
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn saturates() {
        assert_eq!(Instant::MAX + Duration::from_secs(1), Instant::MAX);
        assert_eq!(Instant::ZERO + Duration::MAX, Instant::MAX);
        assert_eq!(Instant::from_secs(u64::MAX), Instant::MAX);
        assert_eq!(
            Instant::from_millis(5) + Duration::from_micros(1999),
            Instant::from_millis(6)
        );
    }

    #[test]
    fn earliest_of_options() {
        let a = Some(Instant::from_millis(3));
        let b = Some(Instant::from_millis(2));
        assert_eq!(earliest(a, b), b);
        assert_eq!(earliest(a, None), a);
        assert_eq!(earliest(None, b), b);
        assert_eq!(earliest(None, None), None);
    }

    #[test]
    fn debug_is_seconds() {
        extern crate std;
        use std::format;
        assert_eq!(format!("{:?}", Instant::from_millis(64_500)), "64.500s");
    }
}
