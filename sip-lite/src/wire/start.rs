//! Start-line elements: request methods, status codes and the protocol version.

use super::lex;

/// A SIP request method. Method names are case-sensitive (RFC 3261 section 7.1), so
/// `invite` is an extension method, not [`Method::Invite`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Method<'a> {
    /// `INVITE` (RFC 3261).
    Invite,
    /// `ACK` (RFC 3261).
    Ack,
    /// `BYE` (RFC 3261).
    Bye,
    /// `CANCEL` (RFC 3261).
    Cancel,
    /// `REGISTER` (RFC 3261).
    Register,
    /// `OPTIONS` (RFC 3261).
    Options,
    /// `INFO` (RFC 6086).
    Info,
    /// `NOTIFY` (RFC 6665).
    Notify,
    /// `SUBSCRIBE` (RFC 6665).
    Subscribe,
    /// `REFER` (RFC 3515).
    Refer,
    /// `MESSAGE` (RFC 3428).
    Message,
    /// `UPDATE` (RFC 3311).
    Update,
    /// `PRACK` (RFC 3262).
    Prack,
    /// `PUBLISH` (RFC 3903).
    Publish,
    /// Any other token.
    Extension(&'a str),
}

impl Method<'static> {
    /// The methods of RFC 3261 and the extensions this crate names, in that order.
    pub const STANDARD: [Method<'static>; 14] = [
        Method::Invite,
        Method::Ack,
        Method::Bye,
        Method::Cancel,
        Method::Register,
        Method::Options,
        Method::Info,
        Method::Notify,
        Method::Subscribe,
        Method::Refer,
        Method::Message,
        Method::Update,
        Method::Prack,
        Method::Publish,
    ];
}

impl<'a> Method<'a> {
    /// Parses a method token.
    ///
    /// # Errors
    /// [`ValueError::Method`](super::ValueError::Method) if `s` is not a token.
    pub fn parse(s: &'a str) -> Result<Method<'a>, super::ValueError> {
        Ok(match s {
            "INVITE" => Method::Invite,
            "ACK" => Method::Ack,
            "BYE" => Method::Bye,
            "CANCEL" => Method::Cancel,
            "REGISTER" => Method::Register,
            "OPTIONS" => Method::Options,
            "INFO" => Method::Info,
            "NOTIFY" => Method::Notify,
            "SUBSCRIBE" => Method::Subscribe,
            "REFER" => Method::Refer,
            "MESSAGE" => Method::Message,
            "UPDATE" => Method::Update,
            "PRACK" => Method::Prack,
            "PUBLISH" => Method::Publish,
            _ if lex::is_token(s) => Method::Extension(s),
            _ => return Err(super::ValueError::Method),
        })
    }

    /// The method name as sent on the wire.
    pub const fn as_str(&self) -> &'a str {
        match self {
            Method::Invite => "INVITE",
            Method::Ack => "ACK",
            Method::Bye => "BYE",
            Method::Cancel => "CANCEL",
            Method::Register => "REGISTER",
            Method::Options => "OPTIONS",
            Method::Info => "INFO",
            Method::Notify => "NOTIFY",
            Method::Subscribe => "SUBSCRIBE",
            Method::Refer => "REFER",
            Method::Message => "MESSAGE",
            Method::Update => "UPDATE",
            Method::Prack => "PRACK",
            Method::Publish => "PUBLISH",
            Method::Extension(s) => s,
        }
    }
}

impl core::fmt::Display for Method<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A response status code: three digits, 100 to 699 in a valid response.
///
/// The parser accepts any three digits (the grammar's `extension-code`); validation
/// rejects codes outside 100..=699.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StatusCode(pub u16);

macro_rules! status_codes {
    ($($(#[$doc:meta])* $name:ident = $code:literal, $reason:literal;)*) => {
        impl StatusCode {
            $($(#[$doc])* pub const $name: StatusCode = StatusCode($code);)*

            /// The reason phrase RFC 3261 and its extensions suggest, or a generic phrase
            /// for the code's class.
            pub const fn default_reason(self) -> &'static str {
                match self.0 {
                    $($code => $reason,)*
                    100..=199 => "Provisional",
                    200..=299 => "Success",
                    300..=399 => "Redirection",
                    400..=499 => "Client Error",
                    500..=599 => "Server Error",
                    _ => "Global Failure",
                }
            }
        }
    };
}

status_codes! {
    /// 100 Trying.
    TRYING = 100, "Trying";
    /// 180 Ringing.
    RINGING = 180, "Ringing";
    /// 181 Call Is Being Forwarded.
    CALL_IS_BEING_FORWARDED = 181, "Call Is Being Forwarded";
    /// 182 Queued.
    QUEUED = 182, "Queued";
    /// 183 Session Progress.
    SESSION_PROGRESS = 183, "Session Progress";
    /// 200 OK.
    OK = 200, "OK";
    /// 202 Accepted (RFC 3265).
    ACCEPTED = 202, "Accepted";
    /// 300 Multiple Choices.
    MULTIPLE_CHOICES = 300, "Multiple Choices";
    /// 301 Moved Permanently.
    MOVED_PERMANENTLY = 301, "Moved Permanently";
    /// 302 Moved Temporarily.
    MOVED_TEMPORARILY = 302, "Moved Temporarily";
    /// 305 Use Proxy.
    USE_PROXY = 305, "Use Proxy";
    /// 380 Alternative Service.
    ALTERNATIVE_SERVICE = 380, "Alternative Service";
    /// 400 Bad Request.
    BAD_REQUEST = 400, "Bad Request";
    /// 401 Unauthorized.
    UNAUTHORIZED = 401, "Unauthorized";
    /// 402 Payment Required.
    PAYMENT_REQUIRED = 402, "Payment Required";
    /// 403 Forbidden.
    FORBIDDEN = 403, "Forbidden";
    /// 404 Not Found.
    NOT_FOUND = 404, "Not Found";
    /// 405 Method Not Allowed.
    METHOD_NOT_ALLOWED = 405, "Method Not Allowed";
    /// 406 Not Acceptable.
    NOT_ACCEPTABLE = 406, "Not Acceptable";
    /// 407 Proxy Authentication Required.
    PROXY_AUTHENTICATION_REQUIRED = 407, "Proxy Authentication Required";
    /// 408 Request Timeout.
    REQUEST_TIMEOUT = 408, "Request Timeout";
    /// 410 Gone.
    GONE = 410, "Gone";
    /// 413 Request Entity Too Large.
    REQUEST_ENTITY_TOO_LARGE = 413, "Request Entity Too Large";
    /// 414 Request-URI Too Long.
    REQUEST_URI_TOO_LONG = 414, "Request-URI Too Long";
    /// 415 Unsupported Media Type.
    UNSUPPORTED_MEDIA_TYPE = 415, "Unsupported Media Type";
    /// 416 Unsupported URI Scheme.
    UNSUPPORTED_URI_SCHEME = 416, "Unsupported URI Scheme";
    /// 420 Bad Extension.
    BAD_EXTENSION = 420, "Bad Extension";
    /// 421 Extension Required.
    EXTENSION_REQUIRED = 421, "Extension Required";
    /// 422 Session Interval Too Small (RFC 4028).
    SESSION_INTERVAL_TOO_SMALL = 422, "Session Interval Too Small";
    /// 423 Interval Too Brief.
    INTERVAL_TOO_BRIEF = 423, "Interval Too Brief";
    /// 480 Temporarily Unavailable.
    TEMPORARILY_UNAVAILABLE = 480, "Temporarily Unavailable";
    /// 481 Call/Transaction Does Not Exist.
    CALL_TRANSACTION_DOES_NOT_EXIST = 481, "Call/Transaction Does Not Exist";
    /// 482 Loop Detected.
    LOOP_DETECTED = 482, "Loop Detected";
    /// 483 Too Many Hops.
    TOO_MANY_HOPS = 483, "Too Many Hops";
    /// 484 Address Incomplete.
    ADDRESS_INCOMPLETE = 484, "Address Incomplete";
    /// 485 Ambiguous.
    AMBIGUOUS = 485, "Ambiguous";
    /// 486 Busy Here.
    BUSY_HERE = 486, "Busy Here";
    /// 487 Request Terminated.
    REQUEST_TERMINATED = 487, "Request Terminated";
    /// 488 Not Acceptable Here.
    NOT_ACCEPTABLE_HERE = 488, "Not Acceptable Here";
    /// 489 Bad Event (RFC 6665).
    BAD_EVENT = 489, "Bad Event";
    /// 491 Request Pending.
    REQUEST_PENDING = 491, "Request Pending";
    /// 493 Undecipherable.
    UNDECIPHERABLE = 493, "Undecipherable";
    /// 500 Server Internal Error.
    SERVER_INTERNAL_ERROR = 500, "Server Internal Error";
    /// 501 Not Implemented.
    NOT_IMPLEMENTED = 501, "Not Implemented";
    /// 502 Bad Gateway.
    BAD_GATEWAY = 502, "Bad Gateway";
    /// 503 Service Unavailable.
    SERVICE_UNAVAILABLE = 503, "Service Unavailable";
    /// 504 Server Time-out.
    SERVER_TIMEOUT = 504, "Server Time-out";
    /// 505 Version Not Supported.
    VERSION_NOT_SUPPORTED = 505, "Version Not Supported";
    /// 513 Message Too Large.
    MESSAGE_TOO_LARGE = 513, "Message Too Large";
    /// 600 Busy Everywhere.
    BUSY_EVERYWHERE = 600, "Busy Everywhere";
    /// 603 Decline.
    DECLINE = 603, "Decline";
    /// 604 Does Not Exist Anywhere.
    DOES_NOT_EXIST_ANYWHERE = 604, "Does Not Exist Anywhere";
    /// 606 Not Acceptable.
    NOT_ACCEPTABLE_ANYWHERE = 606, "Not Acceptable";
}

impl StatusCode {
    /// The numeric code.
    #[inline]
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// The class digit (1 for provisional, 2 for success, ...).
    #[inline]
    pub const fn class(self) -> u16 {
        self.0 / 100
    }

    /// 1xx.
    #[inline]
    pub const fn is_provisional(self) -> bool {
        self.0 >= 100 && self.0 < 200
    }

    /// 2xx.
    #[inline]
    pub const fn is_success(self) -> bool {
        self.0 >= 200 && self.0 < 300
    }

    /// 200 to 699.
    #[inline]
    pub const fn is_final(self) -> bool {
        self.0 >= 200 && self.0 < 700
    }

    /// Within the range RFC 3261 defines (100 to 699).
    #[inline]
    pub const fn is_valid(self) -> bool {
        self.0 >= 100 && self.0 < 700
    }
}

impl core::fmt::Display for StatusCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The only protocol version this crate speaks.
pub const SIP_2_0: &str = "SIP/2.0";

/// What a `SIP-Version` field says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    /// `SIP/2.0` (the literal `SIP` in any case, as ABNF literals are).
    V2_0,
    /// A well-formed version that is not 2.0.
    Unsupported,
    /// Not a `SIP-Version` at all.
    Invalid,
}

impl Version {
    /// Classifies `SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT`.
    pub(crate) fn classify(v: &[u8]) -> Version {
        if v.len() == 7 && v[..4].eq_ignore_ascii_case(b"SIP/") && &v[4..] == b"2.0" {
            return Version::V2_0;
        }
        if v.len() < 7 || !v[..4].eq_ignore_ascii_case(b"SIP/") {
            return Version::Invalid;
        }
        let rest = &v[4..];
        let Some(dot) = rest.iter().position(|&b| b == b'.') else {
            return Version::Invalid;
        };
        let (major, minor) = (&rest[..dot], &rest[dot + 1..]);
        let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
        if digits(major) && digits(minor) {
            Version::Unsupported
        } else {
            Version::Invalid
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_methods() {
        assert_eq!(Method::parse("INVITE"), Ok(Method::Invite));
        assert_eq!(Method::parse("invite"), Ok(Method::Extension("invite")));
        assert_eq!(
            Method::parse("RE%47IST%45R"),
            Ok(Method::Extension("RE%47IST%45R"))
        );
        assert!(Method::parse("IN VITE").is_err());
        assert!(Method::parse("").is_err());
        let spelled = [
            "INVITE",
            "ACK",
            "BYE",
            "CANCEL",
            "REGISTER",
            "OPTIONS",
            "INFO",
            "NOTIFY",
            "SUBSCRIBE",
            "REFER",
            "MESSAGE",
            "UPDATE",
            "PRACK",
            "PUBLISH",
        ];
        for (m, known) in spelled.into_iter().zip(Method::STANDARD) {
            let p = Method::parse(m).unwrap();
            assert_eq!(p, known);
            assert_eq!(p.as_str(), m);
        }
    }

    #[test]
    fn test_versions() {
        assert_eq!(Version::classify(b"SIP/2.0"), Version::V2_0);
        assert_eq!(Version::classify(b"sip/2.0"), Version::V2_0);
        assert_eq!(Version::classify(b"SIP/7.0"), Version::Unsupported);
        assert_eq!(Version::classify(b"SIP/2.00"), Version::Unsupported);
        assert_eq!(Version::classify(b"SIP/2"), Version::Invalid);
        assert_eq!(Version::classify(b"HTTP/1.1"), Version::Invalid);
        assert_eq!(Version::classify(b"SIP/2.0 "), Version::Invalid);
    }

    #[test]
    fn test_status() {
        assert!(StatusCode::OK.is_final());
        assert!(StatusCode::TRYING.is_provisional());
        assert_eq!(StatusCode(699).default_reason(), "Global Failure");
        assert_eq!(StatusCode::BAD_EXTENSION.default_reason(), "Bad Extension");
        assert!(!StatusCode(700).is_valid());
    }
}
