//! Header field names: the registered SIP headers a UA, proxy or registrar uses, their
//! compact forms, and whether their values form comma-separated lists.

macro_rules! header_names {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal $([$compact:literal])? $(, $flag:ident)* ;)*) => {
        /// A header field name known to this crate, or [`HeaderName::Other`].
        ///
        /// Names compare case-insensitively on the wire and compact forms (`v`, `f`, ...)
        /// map to their full names. An unknown name is kept verbatim in the message and
        /// classified as `Other`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[cfg_attr(feature = "defmt", derive(defmt::Format))]
        #[non_exhaustive]
        #[repr(u8)]
        pub enum HeaderName {
            $( $(#[$doc])* $variant, )*
            /// A header this crate has no typed support for; its name is in the message.
            Other,
        }

        impl HeaderName {
            /// Every known name, in declaration order.
            pub const ALL: &'static [HeaderName] = &[$(HeaderName::$variant),*];

            /// The canonical (full, conventionally capitalised) spelling, or `""` for
            /// [`HeaderName::Other`].
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(HeaderName::$variant => $name,)*
                    HeaderName::Other => "",
                }
            }

            /// The compact form (RFC 3261 section 7.3.3 and later registrations), if any.
            pub const fn compact(self) -> Option<char> {
                match self {
                    $($(HeaderName::$variant => Some($compact),)?)*
                    _ => None,
                }
            }

            const fn flags(self) -> u8 {
                match self {
                    $(HeaderName::$variant => 0 $(| $flag)*,)*
                    HeaderName::Other => 0,
                }
            }
        }
    };
}

/// Values are comma-separated lists (`#element` in the ABNF).
const LIST: u8 = 1;
/// At most one value may be present in a message.
const SINGLE: u8 = 2;

header_names! {
    /// `Accept`.
    Accept = "Accept", LIST;
    /// `Accept-Contact` (RFC 3841).
    AcceptContact = "Accept-Contact" ['a'], LIST;
    /// `Accept-Encoding`.
    AcceptEncoding = "Accept-Encoding", LIST;
    /// `Accept-Language`.
    AcceptLanguage = "Accept-Language", LIST;
    /// `Alert-Info`.
    AlertInfo = "Alert-Info", LIST;
    /// `Allow`.
    Allow = "Allow", LIST;
    /// `Allow-Events` (RFC 6665).
    AllowEvents = "Allow-Events" ['u'], LIST;
    /// `Authentication-Info`.
    AuthenticationInfo = "Authentication-Info", SINGLE;
    /// `Authorization`.
    Authorization = "Authorization";
    /// `Call-ID`.
    CallId = "Call-ID" ['i'], SINGLE;
    /// `Call-Info`.
    CallInfo = "Call-Info", LIST;
    /// `Contact`.
    Contact = "Contact" ['m'], LIST;
    /// `Content-Disposition`.
    ContentDisposition = "Content-Disposition", SINGLE;
    /// `Content-Encoding`.
    ContentEncoding = "Content-Encoding" ['e'], LIST;
    /// `Content-Language`.
    ContentLanguage = "Content-Language", LIST;
    /// `Content-Length`.
    ContentLength = "Content-Length" ['l'], SINGLE;
    /// `Content-Type`.
    ContentType = "Content-Type" ['c'], SINGLE;
    /// `CSeq`.
    CSeq = "CSeq", SINGLE;
    /// `Date`.
    Date = "Date", SINGLE;
    /// `Error-Info`.
    ErrorInfo = "Error-Info", LIST;
    /// `Event` (RFC 6665).
    Event = "Event" ['o'], SINGLE;
    /// `Expires`.
    Expires = "Expires", SINGLE;
    /// `From`.
    From = "From" ['f'], SINGLE;
    /// `Identity` (RFC 8224).
    Identity = "Identity" ['y'];
    /// `Identity-Info` (RFC 4474).
    IdentityInfo = "Identity-Info" ['n'], SINGLE;
    /// `In-Reply-To`.
    InReplyTo = "In-Reply-To", LIST;
    /// `Max-Forwards`.
    MaxForwards = "Max-Forwards", SINGLE;
    /// `MIME-Version`.
    MimeVersion = "MIME-Version", SINGLE;
    /// `Min-Expires`.
    MinExpires = "Min-Expires", SINGLE;
    /// `Min-SE` (RFC 4028).
    MinSe = "Min-SE", SINGLE;
    /// `Organization`.
    Organization = "Organization", SINGLE;
    /// `Path` (RFC 3327).
    Path = "Path", LIST;
    /// `Priority`.
    Priority = "Priority", SINGLE;
    /// `Proxy-Authenticate`.
    ProxyAuthenticate = "Proxy-Authenticate";
    /// `Proxy-Authorization`.
    ProxyAuthorization = "Proxy-Authorization";
    /// `Proxy-Require`.
    ProxyRequire = "Proxy-Require", LIST;
    /// `RAck` (RFC 3262).
    RAck = "RAck", SINGLE;
    /// `Reason` (RFC 3326).
    Reason = "Reason", LIST;
    /// `Record-Route`.
    RecordRoute = "Record-Route", LIST;
    /// `Refer-To` (RFC 3515).
    ReferTo = "Refer-To" ['r'], SINGLE;
    /// `Referred-By` (RFC 3892).
    ReferredBy = "Referred-By" ['b'], SINGLE;
    /// `Reject-Contact` (RFC 3841).
    RejectContact = "Reject-Contact" ['j'], LIST;
    /// `Replaces` (RFC 3891).
    Replaces = "Replaces", SINGLE;
    /// `Reply-To`.
    ReplyTo = "Reply-To", SINGLE;
    /// `Request-Disposition` (RFC 3841).
    RequestDisposition = "Request-Disposition" ['d'], LIST;
    /// `Require`.
    Require = "Require", LIST;
    /// `Retry-After`.
    RetryAfter = "Retry-After", SINGLE;
    /// `Route`.
    Route = "Route", LIST;
    /// `RSeq` (RFC 3262).
    RSeq = "RSeq", SINGLE;
    /// `Server`.
    Server = "Server", SINGLE;
    /// `Session-Expires` (RFC 4028).
    SessionExpires = "Session-Expires" ['x'], SINGLE;
    /// `Subject`.
    Subject = "Subject" ['s'], SINGLE;
    /// `Subscription-State` (RFC 6665).
    SubscriptionState = "Subscription-State", SINGLE;
    /// `Supported`.
    Supported = "Supported" ['k'], LIST;
    /// `Timestamp`.
    Timestamp = "Timestamp", SINGLE;
    /// `To`.
    To = "To" ['t'], SINGLE;
    /// `Unsupported`.
    Unsupported = "Unsupported", LIST;
    /// `User-Agent`.
    UserAgent = "User-Agent", SINGLE;
    /// `Via`.
    Via = "Via" ['v'], LIST;
    /// `Warning`.
    Warning = "Warning", LIST;
    /// `WWW-Authenticate`.
    WwwAuthenticate = "WWW-Authenticate";
}

impl HeaderName {
    /// Classifies a header name as it appears on the wire (any case, full or compact).
    #[inline]
    pub fn parse(name: &str) -> HeaderName {
        Self::from_bytes(name.as_bytes())
    }

    /// Classifies a header name given as bytes.
    #[inline]
    pub(crate) fn from_bytes(name: &[u8]) -> HeaderName {
        let hash = match name {
            [] => return HeaderName::Other,
            [c] => return Self::from_compact(*c),
            _ if name.len() > Canonical::MAX_LEN => return HeaderName::Other,
            _ => name_hash(name),
        };
        let mut slot = slot_of(hash);
        loop {
            let i = match SLOTS[slot] {
                0 => return HeaderName::Other,
                e => usize::from(e - 1),
            };
            if CANONICAL[i].matches(name) {
                return HeaderName::ALL[i];
            }
            slot = (slot + 1) % SLOTS_LEN;
        }
    }

    fn from_compact(c: u8) -> HeaderName {
        match c.to_ascii_lowercase() {
            b'a' => HeaderName::AcceptContact,
            b'b' => HeaderName::ReferredBy,
            b'c' => HeaderName::ContentType,
            b'd' => HeaderName::RequestDisposition,
            b'e' => HeaderName::ContentEncoding,
            b'f' => HeaderName::From,
            b'i' => HeaderName::CallId,
            b'j' => HeaderName::RejectContact,
            b'k' => HeaderName::Supported,
            b'l' => HeaderName::ContentLength,
            b'm' => HeaderName::Contact,
            b'n' => HeaderName::IdentityInfo,
            b'o' => HeaderName::Event,
            b'r' => HeaderName::ReferTo,
            b's' => HeaderName::Subject,
            b't' => HeaderName::To,
            b'u' => HeaderName::AllowEvents,
            b'v' => HeaderName::Via,
            b'x' => HeaderName::SessionExpires,
            b'y' => HeaderName::Identity,
            _ => HeaderName::Other,
        }
    }

    /// Whether the header's values form a comma-separated list, so that one header line
    /// may carry several values (`Via`, `Contact`, `Route`, `Supported`, ...).
    ///
    /// `Authorization`, `WWW-Authenticate` and the other digest headers are not lists:
    /// their commas separate parameters.
    #[inline]
    pub const fn is_list(self) -> bool {
        self.flags() & LIST != 0
    }

    /// Whether a message may carry at most one value of this header.
    #[inline]
    pub const fn is_single(self) -> bool {
        self.flags() & SINGLE != 0
    }
}

impl core::fmt::Display for HeaderName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            HeaderName::Other => "(other)",
            n => n.as_str(),
        })
    }
}

/// A cheap hash of a name of two or more bytes: its length and three of its bytes,
/// case-folded. Collisions only cost a probe, since every candidate is verified.
#[inline(always)]
const fn name_hash(name: &[u8]) -> u32 {
    let n = name.len();
    let first = (name[0] | 0x20) as u32;
    let last = (name[n - 1] | 0x20) as u32;
    let mid = (name[n / 2] | 0x20) as u32;
    ((n as u32) ^ (first << 8) ^ (last << 16) ^ (mid << 24)).wrapping_mul(0x9e37_79b1)
}

#[inline(always)]
const fn slot_of(hash: u32) -> usize {
    (hash >> 24) as usize % SLOTS_LEN
}

/// A canonical name as lower-case little-endian words (zero past its length), for an
/// exact case-insensitive comparison a word at a time. Canonical names hold letters and
/// `-`; of those only letters have bit 0x40 set, so `(word & 0x40..) >> 1` is 0x20 at
/// exactly the letters. A candidate byte with that bit added matches a letter iff it is
/// that letter in either case, and matches a `-` only if it is one (a CR, 0x0D, differs
/// from `-` only in bit 0x20, so folding every byte would let it pass).
#[derive(Clone, Copy)]
struct Canonical {
    len: u8,
    words: [u64; 3],
}

impl Canonical {
    /// The longest known name; longer names are never known.
    const MAX_LEN: usize = 24;

    const fn new(name: &[u8]) -> Canonical {
        let mut words = [0u64; 3];
        let mut i = 0;
        while i < name.len() {
            assert!(name[i].is_ascii_alphabetic() || name[i] == b'-');
            words[i / 8] |= (name[i].to_ascii_lowercase() as u64) << (8 * (i % 8));
            i += 1;
        }
        Canonical {
            len: name.len() as u8,
            words,
        }
    }

    #[inline(always)]
    fn matches(&self, name: &[u8]) -> bool {
        const LETTER: u64 = 0x4040_4040_4040_4040;
        if name.len() != usize::from(self.len) {
            return false;
        }
        let same = |k: usize, w: u64| w | ((self.words[k] & LETTER) >> 1) == self.words[k];
        let mut chunks = name.chunks_exact(8);
        let mut k = 0;
        for w in &mut chunks {
            if !same(
                k,
                u64::from_le_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]),
            ) {
                return false;
            }
            k += 1;
        }
        let tail = chunks.remainder();
        tail.is_empty()
            || same(
                k,
                tail.iter()
                    .rev()
                    .fold(0u64, |w, &b| (w << 8) | u64::from(b)),
            )
    }
}

const SLOTS_LEN: usize = 256;

const COUNT: usize = HeaderName::ALL.len();

/// The canonical names, in declaration order.
static CANONICAL: [Canonical; COUNT] = {
    let mut all = [Canonical {
        len: 0,
        words: [0; 3],
    }; COUNT];
    let mut i = 0;
    while i < COUNT {
        let name = HeaderName::ALL[i].as_str().as_bytes();
        assert!(name.len() <= Canonical::MAX_LEN);
        all[i] = Canonical::new(name);
        i += 1;
    }
    all
};

/// Open-addressing table from name hash to `index + 1` in [`HeaderName::ALL`] (0 is
/// empty), built at compile time; at most a quarter full, so probes are short and an
/// unknown name reaches an empty slot quickly.
static SLOTS: [u8; SLOTS_LEN] = {
    assert!(COUNT * 4 <= SLOTS_LEN);
    let mut table = [0u8; SLOTS_LEN];
    let mut i = 0;
    while i < COUNT {
        let mut slot = slot_of(name_hash(HeaderName::ALL[i].as_str().as_bytes()));
        while table[slot] != 0 {
            slot = (slot + 1) % SLOTS_LEN;
        }
        table[slot] = (i + 1) as u8;
        i += 1;
    }
    table
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_compact_forms() {
        for (c, full) in [
            ('i', "Call-ID"),
            ('m', "Contact"),
            ('e', "Content-Encoding"),
            ('l', "Content-Length"),
            ('c', "Content-Type"),
            ('f', "From"),
            ('s', "Subject"),
            ('k', "Supported"),
            ('t', "To"),
            ('v', "Via"),
            ('o', "Event"),
            ('u', "Allow-Events"),
            ('r', "Refer-To"),
            ('b', "Referred-By"),
            ('x', "Session-Expires"),
            ('y', "Identity"),
            ('a', "Accept-Contact"),
            ('j', "Reject-Contact"),
            ('d', "Request-Disposition"),
            ('n', "Identity-Info"),
        ] {
            let mut b = [0u8; 4];
            let lower = c.encode_utf8(&mut b);
            let n = HeaderName::parse(lower);
            assert_eq!(n.as_str(), full);
            assert_eq!(n.compact(), Some(c));
            assert_eq!(HeaderName::parse(&lower.to_ascii_uppercase()), n);
            assert_eq!(HeaderName::parse(full), n);
        }
        assert_eq!(HeaderName::parse("z"), HeaderName::Other);
    }

    #[test]
    fn test_every_name_round_trips() {
        for &n in HeaderName::ALL {
            assert_eq!(HeaderName::parse(n.as_str()), n, "{}", n.as_str());
            assert_eq!(
                HeaderName::parse(&n.as_str().to_ascii_lowercase()),
                n,
                "{}",
                n.as_str()
            );
        }
        assert_eq!(HeaderName::parse("X-Custom"), HeaderName::Other);
        // CR | 0x20 is '-': control characters must never fold onto a known name.
        assert_eq!(HeaderName::parse("Call\rID"), HeaderName::Other);
        assert_eq!(HeaderName::parse("Content\rLength"), HeaderName::Other);
        assert_eq!(HeaderName::parse("WWW-Authenticate-X"), HeaderName::Other);
        assert_eq!(
            HeaderName::parse("A-very-long-unknown-header-name"),
            HeaderName::Other
        );
        assert!(HeaderName::Via.is_list());
        assert!(!HeaderName::Authorization.is_list());
        assert!(HeaderName::CSeq.is_single());
    }
}
