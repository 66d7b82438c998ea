//! The CSTA link's timing: reconnect back-off with jitter, and a small random source.

use std::time::Duration;

/// A xorshift64* generator: jitter and nothing else (no secrets come from it).
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64) -> Rng {
        // Zero is the one state xorshift never leaves.
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15 | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A value in `0..n` (`n > 0`).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Reconnect delays: `min` doubling to `max`, each within ±25 % (never below 100 ms),
/// so that many providers that lost the same server do not come back in step.
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    min: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub(crate) fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max: max.max(min),
            attempt: 0,
        }
    }

    /// The delay before the next attempt; each call counts an attempt.
    pub(crate) fn next_delay(&mut self, rng: &mut Rng) -> Duration {
        let factor = 1u32 << self.attempt.min(16);
        self.attempt = self.attempt.saturating_add(1);
        let base = self.min.saturating_mul(factor).min(self.max);
        let quarter = base.as_millis() as u64 / 4;
        let jitter = rng.below(2 * quarter + 1);
        let millis = (base.as_millis() as u64 - quarter + jitter).max(100);
        Duration::from_millis(millis)
    }

    /// Back to the shortest delay (a session came up).
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }

    /// Straight to the longest delay (the server refused the account: retrying fast
    /// would only fill its log).
    pub(crate) fn give_up_fast(&mut self) {
        self.attempt = 17;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_backoff_doubles_with_jitter_and_caps() {
        let mut rng = Rng::new(7);
        let mut b = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let delays: Vec<u128> = (0..10)
            .map(|_| b.next_delay(&mut rng).as_millis())
            .collect();
        for (i, d) in delays.iter().enumerate() {
            let base = (1000u128 << i).min(60_000);
            assert!(
                *d >= base * 3 / 4 && *d <= base * 5 / 4,
                "attempt {i}: {d} ms"
            );
        }
        b.reset();
        let d = b.next_delay(&mut rng).as_millis();
        assert!((750..=1250).contains(&d));
        b.give_up_fast();
        assert!(b.next_delay(&mut rng).as_millis() >= 45_000);
    }

    #[test]
    fn test_jitter_differs_between_seeds() {
        let mut a = Backoff::new(Duration::from_secs(8), Duration::from_secs(60));
        let mut b = a.clone();
        let (mut ra, mut rb) = (Rng::new(1), Rng::new(2));
        let da: Vec<_> = (0..4).map(|_| a.next_delay(&mut ra)).collect();
        let db: Vec<_> = (0..4).map(|_| b.next_delay(&mut rb)).collect();
        assert_ne!(da, db);
    }
}
