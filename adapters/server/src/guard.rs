//! Limits on wrong credentials: online password guessing slowed down, per source
//! address and per user, with back-off, without locking out a legitimate client.
//!
//! An [`AuthGuard`] counts failed authentications (a wrong digest response, an
//! unknown user, a wrong ECMA-354 password) by the IP address they came from and by
//! the user they named. [`GuardConfig::max_failures`] failures within
//! [`GuardConfig::window`] seconds block the address, or the user, for a back-off that
//! starts at [`GuardConfig::backoff`] seconds and doubles with each block in a row up
//! to [`GuardConfig::max_backoff`]. While blocked, credentials are not checked at all:
//! the answer says when to come back, and the guess costs nothing and tells nothing.
//!
//! Blocking a user would let anyone lock its phone out by guessing from elsewhere, and
//! blocking an address would lock out every phone behind the same NAT, so neither
//! block applies to a user at an address it authenticated from within
//! [`GuardConfig::trust`] seconds: there its credentials keep being checked normally
//! (the price: guesses for that user from that very address are not limited). The phone whose password is right goes on
//! registering and calling through an attack on its user; a new place for that user
//! waits out the back-off. A success also clears the failures of its address.
//!
//! The tables are bounded: entries expire with their window, block and trust, and
//! each table holds at most [`GuardConfig::max_entries`]; when one is full the entries
//! that would expire first make room (failures are forgotten before blocks).
//!
//! The guard reads no clock: every call carries the time in seconds (any monotonic
//! origin; the registrar passes Unix time).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash};
use std::net::IpAddr;

/// The guard's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuardConfig {
    /// Failures within the window that block an address or a user (default 10).
    pub max_failures: u32,
    /// The window failures are counted in, in seconds (default 60).
    pub window: u64,
    /// The first block, in seconds (default 30); each further block in a row doubles.
    pub backoff: u64,
    /// The longest block, in seconds (default 900).
    pub max_backoff: u64,
    /// How long an address that authenticated a user stays exempt from that user's
    /// block, in seconds (default 86,400: a day).
    pub trust: u64,
    /// The most entries of each table (default 100,000).
    pub max_entries: usize,
}

impl Default for GuardConfig {
    fn default() -> Self {
        GuardConfig {
            max_failures: 10,
            window: 60,
            backoff: 30,
            max_backoff: 900,
            trust: 86_400,
            max_entries: 100_000,
        }
    }
}

/// What the guard says of an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Check the credentials.
    Check,
    /// Do not: the address or the user is blocked for this many more seconds.
    Blocked {
        /// Seconds until the block ends (at least 1).
        retry_after: u64,
    },
}

/// The failures of one address or user.
#[derive(Debug, Clone, Copy, Default)]
struct Strikes {
    failures: u32,
    /// When the current window began.
    since: u64,
    /// Blocked until this time (0: not blocked).
    until: u64,
    /// Blocks in a row (the back-off doubles with each).
    blocks: u32,
    /// When the last block ended, for counting blocks in a row.
    last_block_end: u64,
}

impl Strikes {
    fn blocked(&self, now: u64) -> Option<u64> {
        (self.until > now).then(|| self.until - now)
    }

    /// When this entry can be forgotten.
    fn expires(&self, config: &GuardConfig) -> u64 {
        self.until
            .max(self.since.saturating_add(config.window))
            .max(self.last_block_end.saturating_add(config.max_backoff))
    }

    /// Counts a failure at `now`; true when it starts a block.
    fn fail(&mut self, now: u64, config: &GuardConfig) -> bool {
        if now.saturating_sub(self.since) >= config.window {
            self.since = now;
            self.failures = 0;
        }
        self.failures += 1;
        if self.failures < config.max_failures {
            return false;
        }
        // A block soon after the last one ended is one more in a row.
        if self.last_block_end == 0 || now.saturating_sub(self.last_block_end) > config.max_backoff
        {
            self.blocks = 0;
        }
        let backoff = config
            .backoff
            .saturating_mul(1 << self.blocks.min(20))
            .min(config.max_backoff);
        self.blocks += 1;
        self.until = now.saturating_add(backoff);
        self.last_block_end = self.until;
        self.failures = 0;
        self.since = now;
        true
    }
}

/// Counts of what the guard did, for `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GuardStats {
    /// Failed authentications counted.
    pub failures: u64,
    /// Blocks started (of an address or a user).
    pub blocks: u64,
    /// Attempts refused unchecked because of a block.
    pub refused: u64,
}

/// Failed authentications by address and by user (see the [module docs](self)).
#[derive(Debug, Default)]
pub struct AuthGuard {
    config: GuardConfig,
    sources: HashMap<IpAddr, Strikes>,
    users: HashMap<Box<str>, Strikes>,
    /// When each user (by its keyed hash: looked up without allocating on every
    /// check; two users colliding at one address is a 2^-64 chance an attacker cannot
    /// aim at) last authenticated from each address.
    trusted: HashMap<(u64, IpAddr), u64>,
    /// The key of those hashes.
    keys: std::hash::RandomState,
    stats: GuardStats,
}

impl AuthGuard {
    /// A guard with no failures counted.
    pub fn new(config: GuardConfig) -> AuthGuard {
        AuthGuard {
            config,
            ..AuthGuard::default()
        }
    }

    /// Whether to check credentials for `user` from `ip` at `now`.
    pub fn check(&mut self, now: u64, ip: IpAddr, user: &str) -> Verdict {
        let ip = ip.to_canonical();
        let by_source = self.sources.get(&ip).and_then(|s| s.blocked(now));
        let by_user = self.users.get(user).and_then(|s| s.blocked(now));
        let blocked = by_source
            .max(by_user)
            .filter(|_| !self.is_trusted(now, ip, user));
        match blocked {
            Some(left) => {
                self.stats.refused += 1;
                Verdict::Blocked {
                    retry_after: left.max(1),
                }
            }
            None => Verdict::Check,
        }
    }

    fn is_trusted(&self, now: u64, ip: IpAddr, user: &str) -> bool {
        let key = (self.keys.hash_one(user), ip);
        self.trusted
            .get(&key)
            .is_some_and(|&at| now.saturating_sub(at) <= self.config.trust)
    }

    /// Counts a failed authentication of `user` from `ip` at `now`.
    pub fn failure(&mut self, now: u64, ip: IpAddr, user: &str) {
        let ip = ip.to_canonical();
        self.stats.failures += 1;
        let config = self.config;
        make_room(&mut self.sources, now, &config);
        if self.sources.entry(ip).or_default().fail(now, &config) {
            self.stats.blocks += 1;
            tracing::debug!(%ip, "authentication failures: address blocked");
        }
        if !self.users.contains_key(user) {
            make_room(&mut self.users, now, &config);
        }
        let strikes = match self.users.get_mut(user) {
            Some(s) => s,
            None => self.users.entry(user.into()).or_default(),
        };
        if strikes.fail(now, &config) {
            self.stats.blocks += 1;
            tracing::debug!(user, "authentication failures: user blocked");
        }
    }

    /// Records that `user` authenticated from `ip` at `now`: the address is trusted for
    /// the user, and its own failures are forgotten.
    pub fn success(&mut self, now: u64, ip: IpAddr, user: &str) {
        let ip = ip.to_canonical();
        if let Some(s) = self.sources.get_mut(&ip)
            && s.until <= now
        {
            s.failures = 0;
        }
        let key = (self.keys.hash_one(user), ip);
        if !self.trusted.contains_key(&key) && self.trusted.len() >= self.config.max_entries {
            let trust = self.config.trust;
            self.trusted
                .retain(|_, &mut at| now.saturating_sub(at) <= trust);
            if self.trusted.len() >= self.config.max_entries {
                // Still full of fresh entries: forget the oldest.
                if let Some(oldest) = self
                    .trusted
                    .iter()
                    .min_by_key(|(_, at)| **at)
                    .map(|(k, _)| *k)
                {
                    self.trusted.remove(&oldest);
                }
            }
        }
        self.trusted.insert(key, now);
    }

    /// What the guard did so far.
    pub fn stats(&self) -> GuardStats {
        self.stats
    }

    /// Entries kept: addresses, users and trusted (user, address) pairs.
    pub fn len(&self) -> (usize, usize, usize) {
        (self.sources.len(), self.users.len(), self.trusted.len())
    }
}

/// Before an insertion into a full table: forgets the expired entries, and if it is
/// still full, the one that would expire first.
fn make_room<K: Eq + Hash + Clone>(
    table: &mut HashMap<K, Strikes>,
    now: u64,
    config: &GuardConfig,
) {
    if table.len() < config.max_entries {
        return;
    }
    table.retain(|_, s| s.expires(config) > now);
    if table.len() >= config.max_entries
        && let Some(first) = table
            .iter()
            .min_by_key(|(_, s)| s.expires(config))
            .map(|(k, _)| k.clone())
    {
        table.remove(&first);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ATTACKER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 66));
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 67));
    const PHONE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 10));

    fn guard() -> AuthGuard {
        AuthGuard::new(GuardConfig {
            max_failures: 3,
            window: 10,
            backoff: 5,
            max_backoff: 40,
            trust: 100,
            max_entries: 4,
        })
    }

    #[test]
    fn failures_block_the_address_with_doubling_back_off() {
        let mut g = guard();
        let mut now = 1000;
        for round in 0..5u32 {
            for _ in 0..3 {
                assert_eq!(g.check(now, ATTACKER, &format!("u{round}")), Verdict::Check);
                g.failure(now, ATTACKER, &format!("u{round}"));
            }
            let expected = (5u64 << round).min(40);
            assert_eq!(
                g.check(now, ATTACKER, "x"),
                Verdict::Blocked {
                    retry_after: expected
                },
                "round {round}"
            );
            assert_eq!(g.check(now, OTHER, "x"), Verdict::Check);
            now += expected;
            assert_eq!(g.check(now, ATTACKER, "x"), Verdict::Check);
        }
        // Quiet for longer than the longest back-off: the next block starts small.
        now += 41;
        for _ in 0..3 {
            g.failure(now, ATTACKER, "y");
        }
        assert_eq!(
            g.check(now, ATTACKER, "x"),
            Verdict::Blocked { retry_after: 5 }
        );
    }

    #[test]
    fn failures_spread_over_the_window_do_not_block() {
        let mut g = guard();
        for i in 0..10 {
            g.failure(1000 + 6 * i, ATTACKER, "alice");
            assert_eq!(g.check(1000 + 6 * i, ATTACKER, "alice"), Verdict::Check);
        }
    }

    #[test]
    fn a_blocked_user_still_reaches_its_phone_from_where_it_authenticated() {
        let mut g = guard();
        g.success(1000, PHONE, "alice");
        // Guesses for alice from many addresses: alice is blocked...
        for i in 0..3u8 {
            g.failure(1001, IpAddr::from([198, 51, 100, i]), "alice");
        }
        assert!(matches!(
            g.check(1001, IpAddr::from([198, 51, 100, 9]), "alice"),
            Verdict::Blocked { .. }
        ));
        // ... but not for the phone's own address, and not for other users.
        assert_eq!(g.check(1001, PHONE, "alice"), Verdict::Check);
        assert_eq!(g.check(1001, OTHER, "bob"), Verdict::Check);
        // Trust ends.
        assert!(matches!(g.check(1101, PHONE, "alice"), Verdict::Check));
        assert_eq!(g.stats().failures, 3);
        assert_eq!(g.stats().blocks, 1);
    }

    #[test]
    fn a_success_clears_the_failures_of_its_address() {
        let mut g = guard();
        g.failure(1000, PHONE, "alice");
        g.failure(1000, PHONE, "alice");
        g.success(1000, PHONE, "alice");
        g.failure(1000, PHONE, "alice");
        assert_eq!(g.check(1000, PHONE, "alice"), Verdict::Check);
    }

    #[test]
    fn the_tables_stay_bounded() {
        let mut g = guard();
        for i in 0..1000u32 {
            let ip = IpAddr::from(i.to_be_bytes());
            g.failure(1000, ip, &format!("user{i}"));
            g.success(1000, ip, &format!("user{i}"));
        }
        let (sources, users, trusted) = g.len();
        assert!(sources <= 4 && users <= 4 && trusted <= 4, "{:?}", g.len());
    }
}
