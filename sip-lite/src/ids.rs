//! Unique identifiers: branch parameters, tags, Call-IDs and client nonces.
//!
//! RFC 3261 wants branches unique across space and time (section 8.1.1.7), tags with at
//! least 32 bits of randomness (section 19.3) and Call-IDs that no other UA picks
//! (section 8.1.1.4). The core has no random number generator, so the caller seeds an
//! [`IdGenerator`] once from its own entropy source (a hardware RNG, `getrandom`); the
//! generator then derives each identifier as `SHA-256(seed ‖ counter)`, which is unique
//! while the counter runs and unpredictable to anyone who does not know the seed.
//!
//! ```
//! use sip_lite::ids::IdGenerator;
//!
//! let mut ids = IdGenerator::new([7; 32]);
//! let branch = ids.branch();
//! assert!(branch.starts_with("z9hG4bK"));
//! assert_eq!(branch.len(), 7 + 16);
//! assert_ne!(ids.token(), ids.token());
//! ```

use core::fmt;
use core::ops::Deref;

use sha2::{Digest as _, Sha256};

/// The RFC 3261 branch prefix (section 8.1.1.7).
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// Derives identifiers from a caller-provided secret seed and a counter.
#[derive(Clone)]
pub struct IdGenerator {
    seed: [u8; 32],
    counter: u64,
}

impl fmt::Debug for IdGenerator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The seed is a secret: it predicts every identifier.
        f.debug_struct("IdGenerator")
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

impl IdGenerator {
    /// A generator seeded with 32 bytes from a good entropy source. Reusing a seed after
    /// a restart repeats identifiers: seed from fresh entropy at every start.
    pub const fn new(seed: [u8; 32]) -> IdGenerator {
        IdGenerator { seed, counter: 0 }
    }

    fn next_hex(&mut self) -> [u8; 16] {
        let digest = Sha256::new()
            .chain_update(self.seed)
            .chain_update(self.counter.to_le_bytes())
            .finalize();
        self.counter = self.counter.wrapping_add(1);
        let mut hex = [0u8; 16];
        crate::wire::lex::hex_encode(&digest, &mut hex);
        hex
    }

    /// 16 lowercase hex digits (64 bits): a tag, a Call-ID, a cnonce.
    pub fn token(&mut self) -> Token {
        let hex = self.next_hex();
        let mut t = Token {
            buf: [0; Token::CAPACITY],
            len: 16,
        };
        t.buf[..16].copy_from_slice(&hex);
        t
    }

    /// A branch parameter for a new client transaction: `z9hG4bK` and 16 hex digits.
    pub fn branch(&mut self) -> Token {
        let hex = self.next_hex();
        let mut t = Token {
            buf: [0; Token::CAPACITY],
            len: Token::CAPACITY as u8,
        };
        t.buf[..7].copy_from_slice(MAGIC_COOKIE.as_bytes());
        t.buf[7..].copy_from_slice(&hex);
        t
    }
}

/// An identifier from an [`IdGenerator`]: ASCII, at most 23 bytes, usable as a `&str`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Token {
    buf: [u8; Token::CAPACITY],
    len: u8,
}

impl Token {
    /// The longest token: a branch.
    pub const CAPACITY: usize = 7 + 16;

    /// The identifier.
    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits and the magic cookie are ever stored.
        core::str::from_utf8(&self.buf[..usize::from(self.len)]).unwrap_or("")
    }
}

impl Deref for Token {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Token {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{=str}", self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_and_well_formed() {
        let mut ids = IdGenerator::new([1; 32]);
        let a = ids.token();
        let b = ids.token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        let br = ids.branch();
        assert!(br.starts_with(MAGIC_COOKIE));
        assert!(br[7..].bytes().all(|c| c.is_ascii_hexdigit()));
    }

    #[test]
    fn seed_decides() {
        let mut a = IdGenerator::new([1; 32]);
        let mut b = IdGenerator::new([2; 32]);
        assert_ne!(a.token(), b.token());
        let mut c = IdGenerator::new([1; 32]);
        assert_eq!(IdGenerator::new([1; 32]).token(), c.token());
    }
}
