//! Server-side validation: the checks RFC 3261 sections 8.2 and 16.3 ask for before a
//! request is acted upon, each mapped to the response it deserves.

use super::addr::{Contact, NameAddr};
use super::message::Message;
use super::name::HeaderName;
use super::start::Method;
use super::uri::Uri;
use super::values::{
    self, ContentDisposition, Event, MediaType, RetryAfter, SessionTimer, SipDate,
    SubscriptionState,
};
use crate::error::{HeaderError, Reaction, ValidationError, ValueError};

/// What the validating element implements.
#[derive(Debug, Clone, Copy)]
pub struct Policy<'p> {
    /// Methods the element implements. A request with another method is answered 405
    /// (known method) or 501 (extension method). Empty means any method.
    pub methods: &'p [Method<'p>],
    /// Option tags the element supports; a Require naming another one is answered 420.
    pub supported: &'p [&'p str],
    /// Whether the element is a proxy, which checks Proxy-Require instead of Require.
    pub proxy: bool,
    /// Request-URI schemes served (compared case-insensitively); others get 416.
    pub schemes: &'p [&'p str],
}

impl Policy<'static> {
    /// A user agent server that implements the methods of RFC 3261 and the common
    /// extensions listed in [`Method`], supports no option tags, and serves `sip`, `sips`
    /// and `tel` Request-URIs.
    pub const DEFAULT: Policy<'static> = Policy {
        methods: &Method::STANDARD,
        supported: &[],
        proxy: false,
        schemes: &["sip", "sips", "tel"],
    };
}

impl Default for Policy<'static> {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Headers a request and a response must carry (RFC 3261 section 8.1.1; Max-Forwards
/// is left to proxies, which add it when it is missing).
const REQUIRED: [HeaderName; 5] = [
    HeaderName::Via,
    HeaderName::From,
    HeaderName::To,
    HeaderName::CallId,
    HeaderName::CSeq,
];

impl ValidationError {
    /// What to do with a message that failed this way.
    pub fn reaction(self, is_request: bool) -> Reaction {
        if is_request {
            Reaction::Respond(self.status())
        } else {
            Reaction::Drop
        }
    }
}

fn invalid(e: HeaderError) -> ValidationError {
    match e {
        HeaderError::Missing(n) => ValidationError::Missing(n),
        HeaderError::Invalid(n, e) => ValidationError::Invalid(n, e),
    }
}

fn check<'a, T>(
    msg: &Message<'a>,
    name: HeaderName,
    parse: fn(&'a str) -> Result<T, ValueError>,
) -> Result<(), ValidationError> {
    for v in msg.values(name) {
        parse(v).map_err(|e| ValidationError::Invalid(name, e))?;
    }
    Ok(())
}

impl<'a> Message<'a> {
    /// Checks a received message before it is acted upon.
    ///
    /// In this order: required headers present; single-valued headers single; for
    /// requests the Request-URI (parses, carries no URI headers, has a served scheme),
    /// the method (implemented); Via, From, To, Call-ID and CSeq parse; the CSeq number
    /// is below 2^31 and its method matches the request's; Max-Forwards is at most 255;
    /// every other header with a typed view in this crate parses (Contact, Route,
    /// Record-Route, Path, Content-Type, Content-Disposition, Expires, Min-Expires, Event,
    /// Subscription-State, Session-Expires, Min-SE, Retry-After, Date and the token
    /// lists); a REGISTER with `Contact: *` has no other Contact and `Expires: 0`; and
    /// Require (or Proxy-Require for a proxy) names only supported extensions, except in
    /// ACK and CANCEL.
    ///
    /// # Errors
    /// The first failure; [`ValidationError::reaction`] tells what to answer.
    pub fn validate(&self, policy: &Policy<'_>) -> Result<(), ValidationError> {
        for name in REQUIRED {
            if self.header(name).is_none() {
                return Err(ValidationError::Missing(name));
            }
        }
        for h in self.headers() {
            if h.kind.is_single() && self.count(h.kind) > 1 {
                return Err(ValidationError::Multiple(h.kind));
            }
        }
        if let Some(uri) = self.request_uri() {
            let uri = uri.map_err(ValidationError::RequestUri)?;
            if matches!(uri, Uri::Sip(u) if u.headers.is_some()) {
                return Err(ValidationError::RequestUriHeaders);
            }
            if !policy
                .schemes
                .iter()
                .any(|s| s.eq_ignore_ascii_case(uri.scheme()))
            {
                return Err(ValidationError::UnsupportedScheme);
            }
        }
        let method = self.method();
        if let Some(m) = method
            && !policy.methods.is_empty()
            && !policy.methods.contains(&m)
        {
            return Err(match m {
                Method::Extension(_) => ValidationError::NotImplemented,
                _ => ValidationError::MethodNotAllowed,
            });
        }

        for via in self.vias() {
            via.map_err(invalid)?;
        }
        self.from().map_err(invalid)?;
        self.to().map_err(invalid)?;
        self.call_id().map_err(invalid)?;
        let cseq = self.cseq().map_err(invalid)?;
        if cseq.seq >= 1 << 31 {
            return Err(ValidationError::CSeqRange);
        }
        if let Some(m) = method
            && cseq.method != m
        {
            return Err(ValidationError::CSeqMethod);
        }
        if let Some(mf) = self.max_forwards()
            && mf.map_err(invalid)? > 255
        {
            return Err(ValidationError::MaxForwardsRange);
        }
        if let Some(s) = self.status()
            && !s.is_valid()
        {
            return Err(ValidationError::StatusRange);
        }

        check(self, HeaderName::Contact, Contact::parse)?;
        for name in [
            HeaderName::Route,
            HeaderName::RecordRoute,
            HeaderName::Path,
            HeaderName::ReplyTo,
            HeaderName::ReferTo,
            HeaderName::ReferredBy,
        ] {
            check(self, name, NameAddr::parse)?;
        }
        check(self, HeaderName::ContentType, MediaType::parse)?;
        check(
            self,
            HeaderName::ContentDisposition,
            ContentDisposition::parse,
        )?;
        check(self, HeaderName::Expires, values::parse_delta)?;
        check(self, HeaderName::MinExpires, values::parse_delta)?;
        check(self, HeaderName::Event, Event::parse)?;
        check(
            self,
            HeaderName::SubscriptionState,
            SubscriptionState::parse,
        )?;
        check(self, HeaderName::SessionExpires, SessionTimer::parse)?;
        check(self, HeaderName::MinSe, SessionTimer::parse)?;
        check(self, HeaderName::RetryAfter, RetryAfter::parse)?;
        check(self, HeaderName::Date, SipDate::parse)?;
        for name in [
            HeaderName::Supported,
            HeaderName::Require,
            HeaderName::ProxyRequire,
            HeaderName::Unsupported,
            HeaderName::Allow,
            HeaderName::AllowEvents,
        ] {
            for t in self.tokens(name) {
                t.map_err(invalid)?;
            }
        }

        if method == Some(Method::Register) {
            let mut wildcard = false;
            let mut others = 0;
            for c in self.contacts() {
                match c.map_err(invalid)? {
                    Contact::Wildcard => wildcard = true,
                    Contact::Addr(_) => others += 1,
                }
            }
            if wildcard && (others > 0 || self.expires().and_then(Result::ok) != Some(0)) {
                return Err(ValidationError::Invalid(
                    HeaderName::Contact,
                    ValueError::Unexpected,
                ));
            }
        }

        if let Some(m) = method
            && !matches!(m, Method::Ack | Method::Cancel)
            && self.unsupported_requirements(policy).next().is_some()
        {
            return Err(ValidationError::BadExtension);
        }
        Ok(())
    }

    /// The option tags of Require (Proxy-Require for a proxy) that `policy` does not
    /// support: the content of the Unsupported header of a 420 response.
    pub fn unsupported_requirements<'p>(
        &self,
        policy: &'p Policy<'p>,
    ) -> impl Iterator<Item = &'a str> + use<'_, 'a, 'p> {
        let name = if policy.proxy {
            HeaderName::ProxyRequire
        } else {
            HeaderName::Require
        };
        self.tokens(name)
            .filter_map(Result::ok)
            .filter(move |t| !policy.supported.iter().any(|s| s.eq_ignore_ascii_case(t)))
    }
}
