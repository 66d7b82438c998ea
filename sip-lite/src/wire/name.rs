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

            fn from_full(name: &[u8]) -> HeaderName {
                // A table walk: small code, and the common names never get here.
                HeaderName::ALL
                    .iter()
                    .copied()
                    .find(|n| n.as_str().as_bytes().eq_ignore_ascii_case(name))
                    .unwrap_or(HeaderName::Other)
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
        // The common headers first, by length, so that a typical message classifies each
        // name with one or two comparisons.
        match name.len() {
            1 => return Self::from_compact(name[0]),
            2 if name.eq_ignore_ascii_case(b"To") => return HeaderName::To,
            3 if name.eq_ignore_ascii_case(b"Via") => return HeaderName::Via,
            4 if name.eq_ignore_ascii_case(b"From") => return HeaderName::From,
            4 if name.eq_ignore_ascii_case(b"CSeq") => return HeaderName::CSeq,
            7 if name.eq_ignore_ascii_case(b"Call-ID") => return HeaderName::CallId,
            7 if name.eq_ignore_ascii_case(b"Contact") => return HeaderName::Contact,
            12 if name.eq_ignore_ascii_case(b"Max-Forwards") => return HeaderName::MaxForwards,
            12 if name.eq_ignore_ascii_case(b"Content-Type") => return HeaderName::ContentType,
            14 if name.eq_ignore_ascii_case(b"Content-Length") => {
                return HeaderName::ContentLength;
            }
            _ => {}
        }
        Self::from_full(name)
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
        assert!(HeaderName::Via.is_list());
        assert!(!HeaderName::Authorization.is_list());
        assert!(HeaderName::CSeq.is_single());
    }
}
