//! Rate-limited logging: at most a few lines per period for one cause, and the number
//! of lines left out in the next line that is written.
//!
//! A [`LogRate`] takes the time of each would-be line (it reads no clock) and says
//! whether to write it:
//!
//! ```
//! # use std::time::{Duration, Instant};
//! use csta_server::lograte::LogRate;
//! let mut refused = LogRate::new(3, Duration::from_secs(1));
//! let now = Instant::now();
//! for _ in 0..10 {
//!     if let Some(suppressed) = refused.allow(now) {
//!         // tracing::warn!(suppressed, "connection refused");
//!         assert_eq!(suppressed, 0);
//!     }
//! }
//! // A second later the next line says how many were left out.
//! assert_eq!(refused.allow(now + Duration::from_secs(1)), Some(7));
//! ```

use std::time::{Duration, Instant};

/// Lines per period for the causes the server rate-limits (refused connections,
/// failed logins, login timeouts).
pub const LINES_PER_SECOND: u32 = 5;

/// The budget of log lines of one cause (see the [module docs](self)).
#[derive(Debug, Clone)]
pub struct LogRate {
    lines: u32,
    period: Duration,
    /// When the current period began; `None` before the first line.
    since: Option<Instant>,
    /// Lines written in the current period.
    written: u32,
    /// Lines left out since the last one written.
    suppressed: u64,
}

impl LogRate {
    /// At most `lines` lines in each `period`.
    pub const fn new(lines: u32, period: Duration) -> LogRate {
        LogRate {
            lines,
            period,
            since: None,
            written: 0,
            suppressed: 0,
        }
    }

    /// [`LINES_PER_SECOND`] lines a second.
    pub const fn per_second() -> LogRate {
        LogRate::new(LINES_PER_SECOND, Duration::from_secs(1))
    }

    /// Whether a line at `now` is written: `Some` with the number of lines left out
    /// since the last written one (to be logged with it), or `None` when it is left
    /// out (and counted).
    #[must_use]
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        let fresh = match self.since {
            None => true,
            Some(since) => now.saturating_duration_since(since) >= self.period,
        };
        if fresh {
            self.since = Some(now);
            self.written = 0;
        }
        if self.written < self.lines {
            self.written += 1;
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed = self.suppressed.saturating_add(1);
            None
        }
    }

    /// Lines left out since the last one written.
    pub fn suppressed(&self) -> u64 {
        self.suppressed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_burst_then_count() {
        let t0 = Instant::now();
        let mut r = LogRate::new(2, Duration::from_secs(1));
        assert_eq!(r.allow(t0), Some(0));
        assert_eq!(r.allow(t0), Some(0));
        assert_eq!(r.allow(t0 + Duration::from_millis(500)), None);
        assert_eq!(r.allow(t0 + Duration::from_millis(999)), None);
        assert_eq!(r.suppressed(), 2);
        assert_eq!(r.allow(t0 + Duration::from_secs(1)), Some(2));
        assert_eq!(r.allow(t0 + Duration::from_secs(1)), Some(0));
        assert_eq!(r.allow(t0 + Duration::from_secs(1)), None);
        assert_eq!(r.allow(t0 + Duration::from_secs(5)), Some(1));
    }

    #[test]
    fn test_zero_lines_counts_everything() {
        let t0 = Instant::now();
        let mut r = LogRate::new(0, Duration::from_secs(1));
        assert_eq!(r.allow(t0), None);
        assert_eq!(r.allow(t0 + Duration::from_secs(3)), None);
        assert_eq!(r.suppressed(), 2);
    }

    #[test]
    fn test_time_going_back_does_not_panic() {
        let t0 = Instant::now() + Duration::from_secs(10);
        let mut r = LogRate::new(1, Duration::from_secs(1));
        assert_eq!(r.allow(t0), Some(0));
        assert_eq!(r.allow(t0 - Duration::from_secs(5)), None);
    }
}
