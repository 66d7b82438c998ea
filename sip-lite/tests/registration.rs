//! The registration client against a small fake registrar written here with `wire` and
//! `digest::Verifier`, on a virtual clock: challenges (MD5, SHA-256, stale nonces, wrong
//! passwords, proxies), refresh instants, 423, Retry-After, back-off bounds, RFC 5626
//! parameters, de-registration, matching our contact in a 200, misuse, and proof that a
//! whole cycle does not allocate.

use core::time::Duration;

use alloc_counter::CountingAllocator;
use sip_lite::DigestError;
use sip_lite::digest::{Algorithm, ChallengeRepr, Secret, Verifier};
use sip_lite::ids::IdGenerator;
use sip_lite::registration::{
    Config, FailureReason, Registration, RegistrationError, RegistrationEvent, RegistrationState,
    Timing,
};
use sip_lite::time::Instant;
use sip_lite::wire::{
    Contact, Credentials, Emit, HeaderIndex, HeaderName, Message, Method, SliceSink, StatusCode,
    Writer,
};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

const REGISTRAR: &str = "sip:registrar.example.com";
const AOR: &str = "sip:alice@example.com";
const CONTACT: &str = "sip:alice@192.0.2.10:5060";
const VIA: &str = "SIP/2.0/UDP 192.0.2.10:5060;rport";
const REALM: &str = "example.com";
const INSTANCE: &str = "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6";

fn config() -> Config<'static> {
    Config::new(
        REGISTRAR,
        AOR,
        CONTACT,
        VIA,
        "alice",
        Secret::Password("secret"),
    )
}

const T0: Instant = Instant::from_secs(1_000);

/// The user agent under test, its clock and the last request it sent.
struct Ua {
    reg: Registration,
    ids: IdGenerator,
    now: Instant,
    req: [u8; 2048],
    req_len: usize,
}

impl Ua {
    fn new(config: &Config<'_>) -> Ua {
        let mut reg = Registration::new(config).expect("config");
        reg.register(T0).expect("register");
        Ua {
            reg,
            ids: IdGenerator::new([42; 32]),
            now: T0,
            req: [0; 2048],
            req_len: 0,
        }
    }

    fn at(&mut self, t: Instant) {
        assert!(t >= self.now, "time runs forward");
        self.now = t;
        self.reg.handle_timeout(t);
    }

    fn advance(&mut self, d: Duration) {
        self.at(self.now + d);
    }

    /// Takes the REGISTER due now.
    fn send(&mut self) {
        let len = self
            .reg
            .poll_request(self.now, &mut self.ids, &mut self.req)
            .expect("poll_request")
            .expect("a REGISTER is due");
        self.req_len = len;
        assert!(self.reg.is_outstanding());
        assert_eq!(self.reg.poll_timeout(), None, "no timer while outstanding");
    }

    fn nothing_due(&mut self) {
        let mut buf = [0u8; 2048];
        assert_eq!(
            self.reg.poll_request(self.now, &mut self.ids, &mut buf),
            Ok(None)
        );
    }

    fn with_req<R>(&self, f: impl FnOnce(&Message<'_>) -> R) -> R {
        let mut hs = [HeaderIndex::EMPTY; 32];
        let msg = Message::parse(&self.req[..self.req_len], &mut hs).expect("request parses");
        assert_eq!(msg.method(), Some(Method::Register));
        f(&msg)
    }

    fn header(&self, name: HeaderName) -> Option<String> {
        self.with_req(|m| m.header(name).map(str::to_owned))
    }

    fn cseq(&self) -> u32 {
        self.with_req(|m| m.cseq().expect("CSeq").seq)
    }

    /// The registrar answers the last request.
    fn respond(&mut self, status: u16, extra: &[(&str, &str)]) -> Result<(), RegistrationError> {
        let mut out = [0u8; 2048];
        let len = {
            let mut hs = [HeaderIndex::EMPTY; 32];
            let req = Message::parse(&self.req[..self.req_len], &mut hs).expect("request");
            let mut w = Writer::response_to(
                SliceSink::new(&mut out),
                &req,
                StatusCode(status),
                "",
                Some("reg1"),
            )
            .expect("response");
            for (n, v) in extra {
                w.header(n, v).expect("header");
            }
            w.finish(b"").expect("finish").len()
        };
        let mut hs = [HeaderIndex::EMPTY; 32];
        let resp = Message::parse(&out[..len], &mut hs).expect("response parses");
        self.reg.handle_response(self.now, &resp, &mut self.ids)
    }

    /// Checks the credentials of the last request as the registrar: the nonce count on
    /// success.
    fn verify(
        &self,
        header: HeaderName,
        nonce: &str,
        algorithm: Algorithm,
        password: &str,
    ) -> Result<u32, DigestError> {
        self.with_req(|m| {
            let value = m.header(header).expect("credentials present");
            let credentials = Credentials::parse(value).expect("credentials parse");
            let repr = ChallengeRepr {
                algorithm,
                ..ChallengeRepr::new(REALM, nonce)
            };
            let verifier = Verifier {
                request_uri: Some(REGISTRAR),
                username: Some("alice"),
                ..Verifier::for_challenge(&repr, "REGISTER")
            };
            verifier
                .verify(&credentials, Secret::Password(password))
                .map(|ok| ok.nc.expect("nc"))
        })
    }

    fn event(&mut self) -> Option<RegistrationEvent> {
        self.reg.poll_event()
    }
}

/// A `WWW-Authenticate` value.
fn challenge<'b>(
    buf: &'b mut [u8; 256],
    nonce: &str,
    algorithm: Algorithm,
    stale: bool,
) -> &'b str {
    let repr = ChallengeRepr {
        algorithm,
        stale,
        ..ChallengeRepr::new(REALM, nonce)
    };
    let mut sink = SliceSink::new(buf);
    repr.emit(&mut sink).expect("challenge");
    core::str::from_utf8(sink.into_written()).expect("text")
}

/// A millisecond before `t`.
fn before(t: Instant) -> Instant {
    Instant::from_millis(t.as_millis() - 1)
}

/// `max(E/2, E - 32 s, 5 s)`: the documented default refresh rule.
fn refresh_after(expires: u64) -> Duration {
    let e = Duration::from_secs(expires);
    (e / 2)
        .max(e.saturating_sub(Duration::from_secs(32)))
        .max(Duration::from_secs(5))
}

/// Registers with one MD5 challenge; returns at the instant of the 200.
fn registered(ua: &mut Ua, expires: &str) {
    let mut c = [0u8; 256];
    ua.send();
    ua.advance(Duration::from_millis(40));
    ua.respond(
        401,
        &[(
            "WWW-Authenticate",
            challenge(&mut c, "n1", Algorithm::Md5, false),
        )],
    )
    .unwrap();
    ua.send();
    assert_eq!(
        ua.verify(HeaderName::Authorization, "n1", Algorithm::Md5, "secret"),
        Ok(1)
    );
    ua.advance(Duration::from_millis(40));
    ua.respond(200, &[("Contact", expires)]).unwrap();
}

#[test]
fn first_register_challenge_and_refresh() {
    let mut ua = Ua::new(&config());
    assert_eq!(ua.reg.state(), RegistrationState::Registering);
    assert_eq!(ua.reg.poll_timeout(), Some(T0));
    ua.send();

    // The first REGISTER, header by header.
    let first_branch = ua.with_req(|m| {
        assert_eq!(m.request_uri_str(), Some(REGISTRAR));
        let via = m.top_via().unwrap();
        let branch = via.branch().unwrap().to_owned();
        assert!(branch.starts_with("z9hG4bK") && branch.len() == 23);
        assert_eq!(
            m.header(HeaderName::Via).unwrap(),
            format!("{VIA};branch={branch}")
        );
        assert_eq!(m.max_forwards().unwrap().unwrap(), 70);
        let from = m.from().unwrap();
        assert_eq!(from.uri.to_string(), AOR);
        assert_eq!(from.tag().unwrap().len(), 16);
        let to = m.to().unwrap();
        assert_eq!(to.uri.to_string(), AOR);
        assert_eq!(to.tag(), None);
        assert_eq!(m.cseq().unwrap().seq, 1);
        assert_eq!(m.cseq().unwrap().method, Method::Register);
        assert_eq!(
            m.header(HeaderName::Contact),
            Some("<sip:alice@192.0.2.10:5060>;expires=3600")
        );
        assert_eq!(m.expires().unwrap().unwrap(), 3600);
        assert_eq!(m.header(HeaderName::Supported), Some("path"));
        assert_eq!(m.header(HeaderName::Authorization), None);
        assert_eq!(m.header(HeaderName::UserAgent), None);
        assert_eq!(m.content_length(), Some(0));
        branch
    });
    let call_id = ua.header(HeaderName::CallId).unwrap();
    let from = ua.header(HeaderName::From).unwrap();
    assert_eq!(ua.reg.call_id(), Some(call_id.as_str()));

    // 401 with an MD5 challenge: answered at once with a new CSeq and branch.
    ua.advance(Duration::from_millis(50));
    let mut c = [0u8; 256];
    ua.respond(
        401,
        &[(
            "WWW-Authenticate",
            challenge(&mut c, "n1", Algorithm::Md5, false),
        )],
    )
    .unwrap();
    assert_eq!(ua.event(), None, "a challenge is no failure");
    assert_eq!(ua.reg.poll_timeout(), Some(ua.now));
    ua.send();
    assert_eq!(ua.cseq(), 2);
    assert_eq!(ua.header(HeaderName::CallId).unwrap(), call_id);
    assert_eq!(ua.header(HeaderName::From).unwrap(), from);
    assert_ne!(
        ua.with_req(|m| m.top_via().unwrap().branch().unwrap().to_owned()),
        first_branch
    );
    assert_eq!(
        ua.verify(HeaderName::Authorization, "n1", Algorithm::Md5, "secret"),
        Ok(1)
    );

    // 200 granting 120 s to our contact.
    ua.advance(Duration::from_millis(50));
    let granted_at = ua.now;
    ua.respond(
        200,
        &[("Contact", "<sip:alice@192.0.2.10:5060>;expires=120")],
    )
    .unwrap();
    // max(60, 120 - 32) = 88 s.
    let refresh_at = granted_at + Duration::from_secs(88);
    assert_eq!(refresh_after(120), Duration::from_secs(88));
    assert_eq!(
        ua.event(),
        Some(RegistrationEvent::Registered {
            expires: 120,
            refresh_at
        })
    );
    assert_eq!(ua.event(), None);
    assert_eq!(ua.reg.state(), RegistrationState::Registered);
    assert_eq!(ua.reg.granted_expires(), Some(120));
    assert_eq!(ua.reg.poll_timeout(), Some(refresh_at));

    // Nothing goes out a millisecond early.
    ua.at(before(refresh_at));
    ua.nothing_due();
    assert_eq!(ua.event(), None);

    // The refresh: same Call-ID, CSeq 3, the stored nonce with nc=2.
    ua.at(refresh_at);
    assert_eq!(ua.event(), Some(RegistrationEvent::Refreshing));
    assert_eq!(ua.reg.state(), RegistrationState::Refreshing);
    ua.send();
    assert_eq!(ua.cseq(), 3);
    assert_eq!(ua.header(HeaderName::CallId).unwrap(), call_id);
    assert_eq!(ua.header(HeaderName::From).unwrap(), from);
    assert_eq!(
        ua.verify(HeaderName::Authorization, "n1", Algorithm::Md5, "secret"),
        Ok(2)
    );
    ua.respond(
        200,
        &[("Contact", "<sip:alice@192.0.2.10:5060>;expires=120")],
    )
    .unwrap();
    assert_eq!(
        ua.event(),
        Some(RegistrationEvent::Registered {
            expires: 120,
            refresh_at: refresh_at + Duration::from_secs(88)
        })
    );
    // And the next refresh uses nc=3.
    ua.at(refresh_at + Duration::from_secs(88));
    ua.send();
    assert_eq!(ua.cseq(), 4);
    assert_eq!(
        ua.verify(HeaderName::Authorization, "n1", Algorithm::Md5, "secret"),
        Ok(3)
    );
}

#[test]
fn stale_nonce_is_answered_without_failure() {
    let mut ua = Ua::new(&config());
    registered(&mut ua, "<sip:alice@192.0.2.10:5060>;expires=600");
    assert!(matches!(
        ua.event(),
        Some(RegistrationEvent::Registered { expires: 600, .. })
    ));
    let refresh_at = ua.now + refresh_after(600);
    assert_eq!(ua.reg.poll_timeout(), Some(refresh_at));
    ua.at(refresh_at);
    assert_eq!(ua.event(), Some(RegistrationEvent::Refreshing));
    ua.send();
    // The registrar has moved on to n2: the answer for n1 is right but stale.
    assert_eq!(
        ua.verify(HeaderName::Authorization, "n2", Algorithm::Md5, "secret"),
        Err(DigestError::StaleNonce)
    );
    let mut c = [0u8; 256];
    ua.respond(
        401,
        &[(
            "WWW-Authenticate",
            challenge(&mut c, "n2", Algorithm::Md5, true),
        )],
    )
    .unwrap();
    assert_eq!(ua.event(), None);
    assert_eq!(ua.reg.state(), RegistrationState::Refreshing);
    ua.send();
    assert_eq!(ua.cseq(), 4);
    assert_eq!(
        ua.verify(HeaderName::Authorization, "n2", Algorithm::Md5, "secret"),
        Ok(1)
    );
    ua.respond(
        200,
        &[("Contact", "<sip:alice@192.0.2.10:5060>;expires=600")],
    )
    .unwrap();
    assert!(matches!(
        ua.event(),
        Some(RegistrationEvent::Registered { expires: 600, .. })
    ));
    assert_eq!(ua.event(), None);
    assert_eq!(ua.reg.failures(), 0);
}

#[test]
fn new_nonce_without_stale_after_preemptive_answer_is_followed_once() {
    // Many registrars expire nonces without saying stale=true: a preemptive answer that
    // is challenged with a new nonce is retried once with it.
    let mut ua = Ua::new(&config());
    registered(&mut ua, "<sip:alice@192.0.2.10:5060>;expires=600");
    ua.event();
    ua.advance(refresh_after(600));
    ua.event();
    ua.send();
    let mut c = [0u8; 256];
    ua.respond(
        401,
        &[(
            "WWW-Authenticate",
            challenge(&mut c, "n2", Algorithm::Md5, false),
        )],
    )
    .unwrap();
    assert_eq!(ua.event(), None);
    ua.send();
    assert_eq!(
        ua.verify(HeaderName::Authorization, "n2", Algorithm::Md5, "secret"),
        Ok(1)
    );
    // Challenged again after that fresh answer: rejected.
    ua.respond(
        401,
        &[(
            "WWW-Authenticate",
            challenge(&mut c, "n3", Algorithm::Md5, false),
        )],
    )
    .unwrap();
    assert!(matches!(
        ua.event(),
        Some(RegistrationEvent::Failed {
            reason: FailureReason::AuthRejected(StatusCode::UNAUTHORIZED),
            ..
        })
    ));
}

/// Checks that `retry_at - now` lies in `[W/2, W)` for `W = min(1800, 30 * 2^n)`.
fn assert_backoff(now: Instant, retry_at: Instant, failures: u32) {
    let w = Duration::from_secs((30u64 << failures).min(1800));
    let wait = retry_at - now;
    assert!(
        wait >= w / 2 && wait < w,
        "failure {failures}: waited {wait:?}, bound {w:?}"
    );
}

#[test]
fn wrong_password_fails_and_backs_off() {
    let mut ua = Ua::new(&Config {
        secret: Secret::Password("wrong"),
        ..config()
    });
    let mut c = [0u8; 256];
    for n in 1..=3u32 {
        ua.send();
        assert_eq!(
            ua.header(HeaderName::Authorization),
            None,
            "the rejected challenge is forgotten"
        );
        ua.respond(
            401,
            &[(
                "WWW-Authenticate",
                challenge(&mut c, "n1", Algorithm::Md5, false),
            )],
        )
        .unwrap();
        ua.send();
        assert_eq!(
            ua.verify(HeaderName::Authorization, "n1", Algorithm::Md5, "secret"),
            Err(DigestError::BadResponse)
        );
        // The registrar challenges again with the same nonce.
        ua.respond(
            401,
            &[(
                "WWW-Authenticate",
                challenge(&mut c, "n1", Algorithm::Md5, false),
            )],
        )
        .unwrap();
        let Some(RegistrationEvent::Failed {
            reason: FailureReason::AuthRejected(StatusCode::UNAUTHORIZED),
            retry_at: Some(retry_at),
        }) = ua.event()
        else {
            panic!("expected an authentication failure");
        };
        assert_backoff(ua.now, retry_at, n);
        assert_eq!(ua.reg.failures(), n);
        assert_eq!(ua.reg.state(), RegistrationState::BackingOff);
        assert_eq!(ua.reg.poll_timeout(), Some(retry_at));
        ua.at(before(retry_at));
        ua.nothing_due();
        ua.at(retry_at);
        assert_eq!(ua.reg.state(), RegistrationState::Registering);
    }
}

#[test]
fn interval_too_brief_raises_expiry() {
    let mut ua = Ua::new(&Config {
        expires: 60,
        ..config()
    });
    ua.send();
    assert_eq!(ua.header(HeaderName::Expires).as_deref(), Some("60"));
    ua.respond(423, &[("Min-Expires", "600")]).unwrap();
    assert_eq!(ua.event(), None);
    assert_eq!(ua.reg.requested_expires(), 600);
    ua.send();
    assert_eq!(ua.cseq(), 2);
    assert_eq!(ua.header(HeaderName::Expires).as_deref(), Some("600"));
    assert_eq!(
        ua.header(HeaderName::Contact).as_deref(),
        Some("<sip:alice@192.0.2.10:5060>;expires=600")
    );
    // A 200 without a Contact expires: the Expires header decides.
    ua.respond(
        200,
        &[
            ("Contact", "<sip:alice@192.0.2.10:5060>"),
            ("Expires", "600"),
        ],
    )
    .unwrap();
    assert_eq!(
        ua.event(),
        Some(RegistrationEvent::Registered {
            expires: 600,
            refresh_at: ua.now + Duration::from_secs(568)
        })
    );

    // Without Min-Expires (or after too many 423) the attempt fails.
    let mut ua = Ua::new(&config());
    ua.send();
    ua.respond(423, &[]).unwrap();
    assert!(matches!(
        ua.event(),
        Some(RegistrationEvent::Failed {
            reason: FailureReason::Status(StatusCode::INTERVAL_TOO_BRIEF),
            ..
        })
    ));
    let mut ua = Ua::new(&config());
    for min in ["4000", "5000", "6000"] {
        ua.send();
        ua.respond(423, &[("Min-Expires", min)]).unwrap();
        assert_eq!(ua.event(), None);
    }
    ua.send();
    ua.respond(423, &[("Min-Expires", "7000")]).unwrap();
    assert!(matches!(ua.event(), Some(RegistrationEvent::Failed { .. })));
}

#[test]
fn retry_after_is_honoured() {
    let mut ua = Ua::new(&config());
    ua.send();
    ua.advance(Duration::from_millis(300));
    ua.respond(503, &[("Retry-After", "30")]).unwrap();
    let retry_at = ua.now + Duration::from_secs(30);
    assert_eq!(
        ua.event(),
        Some(RegistrationEvent::Failed {
            reason: FailureReason::Status(StatusCode::SERVICE_UNAVAILABLE),
            retry_at: Some(retry_at)
        })
    );
    assert_eq!(ua.reg.poll_timeout(), Some(retry_at));
    ua.at(before(retry_at));
    ua.nothing_due();
    ua.at(retry_at);
    ua.send();
    assert_eq!(ua.cseq(), 2);

    // A 500 without Retry-After backs off (second failure: W = 120 s).
    ua.respond(500, &[]).unwrap();
    let Some(RegistrationEvent::Failed {
        reason: FailureReason::Status(StatusCode::SERVER_INTERNAL_ERROR),
        retry_at: Some(retry_at),
    }) = ua.event()
    else {
        panic!("expected a failure");
    };
    assert_backoff(ua.now, retry_at, 2);
}

#[test]
fn timeouts_back_off_doubling_until_the_cap() {
    let mut ua = Ua::new(&config());
    let mut waits = Vec::new();
    for n in 1..=8u32 {
        ua.send();
        ua.advance(Duration::from_secs(32));
        if n % 2 == 0 {
            ua.reg.handle_transport_error(ua.now, &mut ua.ids).unwrap();
        } else {
            ua.reg
                .handle_transaction_timeout(ua.now, &mut ua.ids)
                .unwrap();
        }
        let Some(RegistrationEvent::Failed {
            reason,
            retry_at: Some(retry_at),
        }) = ua.event()
        else {
            panic!("expected a failure");
        };
        let expected = if n % 2 == 0 {
            FailureReason::Transport
        } else {
            FailureReason::Timeout
        };
        assert_eq!(reason, expected);
        assert_backoff(ua.now, retry_at, n);
        waits.push(retry_at - ua.now);
        ua.at(retry_at);
    }
    // From the sixth failure on the cap holds: 30 * 2^6 = 1920 > 1800.
    assert!(waits[6] < Duration::from_secs(1800) && waits[7] < Duration::from_secs(1800));
    // Success resets the count.
    ua.send();
    ua.respond(
        200,
        &[("Contact", "<sip:alice@192.0.2.10:5060>;expires=3600")],
    )
    .unwrap();
    assert_eq!(ua.reg.failures(), 0);
    assert!(matches!(
        ua.event(),
        Some(RegistrationEvent::Registered { .. })
    ));
    ua.advance(refresh_after(3600));
    ua.send();
    ua.reg
        .handle_transaction_timeout(ua.now, &mut ua.ids)
        .unwrap();
    ua.event();
    let Some(RegistrationEvent::Failed {
        retry_at: Some(retry_at),
        ..
    }) = ua.event()
    else {
        panic!("expected a failure");
    };
    assert_backoff(ua.now, retry_at, 1);
}

#[test]
fn outbound_parameters() {
    let mut ua = Ua::new(&Config {
        instance: Some(INSTANCE),
        reg_id: Some(1),
        user_agent: Some("uCSTA/0.1"),
        ..config()
    });
    ua.send();
    assert_eq!(
        ua.header(HeaderName::Contact).as_deref(),
        Some(
            "<sip:alice@192.0.2.10:5060>;+sip.instance=\"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>\";reg-id=1;expires=3600"
        )
    );
    ua.with_req(|m| {
        let c = m.contacts().next().unwrap().unwrap();
        assert_eq!(c.instance(), Some(INSTANCE));
        assert_eq!(c.reg_id(), Some(Ok(1)));
        assert_eq!(c.expires(), Some(Ok(3600)));
        assert!(m.has_token(HeaderName::Supported, "outbound"));
        assert!(m.has_token(HeaderName::Supported, "path"));
    });
    assert_eq!(
        ua.header(HeaderName::UserAgent).as_deref(),
        Some("uCSTA/0.1")
    );
    assert!(!ua.reg.outbound());
    // The registrar rewrote the URI (an edge proxy's flow token); instance and reg-id
    // identify the binding.
    ua.respond(
        200,
        &[(
            "Contact",
            "<sip:alice@203.0.113.1:40000;ob>;+sip.instance=\"<urn:uuid:F81D4FAE-7DEC-11D0-A765-00A0C91E6BF6>\";reg-id=1;expires=300",
        ), ("Expires", "3600"), ("Require", "outbound")],
    )
    .unwrap();
    assert!(matches!(
        ua.event(),
        Some(RegistrationEvent::Registered { expires: 300, .. })
    ));
    assert!(ua.reg.outbound());
    // A registrar without outbound support answers without `Require: outbound`.
    ua.advance(refresh_after(300));
    ua.event();
    ua.send();
    ua.respond(200, &[]).unwrap();
    assert!(!ua.reg.outbound());
}

#[test]
fn our_contact_among_others() {
    let mut ua = Ua::new(&config());
    ua.send();
    ua.respond(
        200,
        &[
            ("Contact", "<sip:alice@198.51.100.7>;expires=3600"),
            ("Contact", "<sip:bob@192.0.2.10:5060>;expires=1800, <SIP:alice@192.0.2.10:5060>;expires=90;q=0.5"),
            ("Expires", "7200"),
        ],
    )
    .unwrap();
    assert_eq!(
        ua.event(),
        Some(RegistrationEvent::Registered {
            expires: 90,
            refresh_at: ua.now + Duration::from_secs(58)
        })
    );

    // Ours missing: the Expires header decides; without it, the requested value.
    let mut ua = Ua::new(&config());
    ua.send();
    ua.respond(
        200,
        &[
            ("Contact", "<sip:alice@198.51.100.7>;expires=60"),
            ("Expires", "1200"),
        ],
    )
    .unwrap();
    assert!(matches!(
        ua.event(),
        Some(RegistrationEvent::Registered { expires: 1200, .. })
    ));
    let mut ua = Ua::new(&config());
    ua.send();
    ua.respond(200, &[]).unwrap();
    assert!(matches!(
        ua.event(),
        Some(RegistrationEvent::Registered { expires: 3600, .. })
    ));

    // The user part is compared exactly, the host without case, and a granted 0 is no
    // binding.
    let mut ua = Ua::new(&config());
    ua.send();
    ua.respond(
        200,
        &[(
            "Contact",
            "<sip:ALICE@192.0.2.10:5060>;expires=3000, <sip:alice@192.0.2.10:5060>;expires=0",
        )],
    )
    .unwrap();
    assert!(matches!(
        ua.event(),
        Some(RegistrationEvent::Failed {
            reason: FailureReason::NotBound,
            ..
        })
    ));
}

#[test]
fn sha256_and_proxy_challenges() {
    // SHA-256 offered first (preferred, RFC 8760 section 2.4), MD5 second.
    let mut ua = Ua::new(&config());
    ua.send();
    let (mut a, mut b) = ([0u8; 256], [0u8; 256]);
    ua.respond(
        401,
        &[
            (
                "WWW-Authenticate",
                challenge(&mut a, "s1", Algorithm::Sha256, false),
            ),
            (
                "WWW-Authenticate",
                challenge(&mut b, "s1", Algorithm::Md5, false),
            ),
        ],
    )
    .unwrap();
    ua.send();
    ua.with_req(|m| {
        let c = Credentials::parse(m.header(HeaderName::Authorization).unwrap()).unwrap();
        assert_eq!(c.algorithm(), Ok(Algorithm::Sha256));
    });
    assert_eq!(
        ua.verify(HeaderName::Authorization, "s1", Algorithm::Sha256, "secret"),
        Ok(1)
    );
    ua.respond(200, &[]).unwrap();
    assert!(matches!(
        ua.event(),
        Some(RegistrationEvent::Registered { .. })
    ));

    // A 407 is answered in Proxy-Authorization.
    let mut ua = Ua::new(&config());
    ua.send();
    ua.respond(
        407,
        &[(
            "Proxy-Authenticate",
            challenge(&mut a, "p1", Algorithm::Md5, false),
        )],
    )
    .unwrap();
    ua.send();
    assert_eq!(ua.header(HeaderName::Authorization), None);
    assert_eq!(
        ua.verify(
            HeaderName::ProxyAuthorization,
            "p1",
            Algorithm::Md5,
            "secret"
        ),
        Ok(1)
    );

    // A challenge this crate cannot answer is a failure, not a loop.
    let mut ua = Ua::new(&config());
    ua.send();
    ua.respond(
        401,
        &[(
            "WWW-Authenticate",
            "Digest realm=\"x\", nonce=\"y\", algorithm=SHA3-256",
        )],
    )
    .unwrap();
    assert!(matches!(
        ua.event(),
        Some(RegistrationEvent::Failed {
            reason: FailureReason::Challenge(StatusCode::UNAUTHORIZED),
            ..
        })
    ));
}

#[test]
fn proxy_and_registrar_challenges_together() {
    let mut ua = Ua::new(&config());
    let mut c = [0u8; 256];
    ua.send();
    ua.respond(
        407,
        &[(
            "Proxy-Authenticate",
            challenge(&mut c, "p1", Algorithm::Md5, false),
        )],
    )
    .unwrap();
    ua.send();
    assert_eq!(
        ua.verify(
            HeaderName::ProxyAuthorization,
            "p1",
            Algorithm::Md5,
            "secret"
        ),
        Ok(1)
    );
    assert_eq!(ua.header(HeaderName::Authorization), None);
    ua.respond(
        401,
        &[(
            "WWW-Authenticate",
            challenge(&mut c, "n1", Algorithm::Md5, false),
        )],
    )
    .unwrap();
    assert_eq!(ua.event(), None);
    ua.send();
    assert_eq!(ua.cseq(), 3);
    assert_eq!(
        ua.verify(
            HeaderName::ProxyAuthorization,
            "p1",
            Algorithm::Md5,
            "secret"
        ),
        Ok(2)
    );
    assert_eq!(
        ua.verify(HeaderName::Authorization, "n1", Algorithm::Md5, "secret"),
        Ok(1)
    );
    ua.respond(
        200,
        &[("Contact", "<sip:alice@192.0.2.10:5060>;expires=300")],
    )
    .unwrap();
    assert!(matches!(
        ua.event(),
        Some(RegistrationEvent::Registered { expires: 300, .. })
    ));

    // Refresh: both answered preemptively; the proxy's nonce went stale. The
    // registrar's challenge, stored after the proxy's, must survive the replacement.
    ua.advance(refresh_after(300));
    assert_eq!(ua.event(), Some(RegistrationEvent::Refreshing));
    ua.send();
    assert_eq!(
        ua.verify(
            HeaderName::ProxyAuthorization,
            "p1",
            Algorithm::Md5,
            "secret"
        ),
        Ok(3)
    );
    assert_eq!(
        ua.verify(HeaderName::Authorization, "n1", Algorithm::Md5, "secret"),
        Ok(2)
    );
    ua.respond(
        407,
        &[(
            "Proxy-Authenticate",
            challenge(&mut c, "p2-longer-nonce", Algorithm::Md5, true),
        )],
    )
    .unwrap();
    ua.send();
    assert_eq!(
        ua.verify(
            HeaderName::ProxyAuthorization,
            "p2-longer-nonce",
            Algorithm::Md5,
            "secret"
        ),
        Ok(1)
    );
    assert_eq!(
        ua.verify(HeaderName::Authorization, "n1", Algorithm::Md5, "secret"),
        Ok(3)
    );
    ua.respond(200, &[]).unwrap();
    assert!(matches!(
        ua.event(),
        Some(RegistrationEvent::Registered { .. })
    ));
    assert_eq!(ua.event(), None);
}

#[test]
fn stored_ha1() {
    let ha1 = sip_lite::digest::ha1(Algorithm::Md5, "alice", REALM, "secret");
    let mut ua = Ua::new(&Config {
        secret: Secret::Ha1(ha1),
        ..config()
    });
    let mut c = [0u8; 256];
    ua.send();
    ua.respond(
        401,
        &[(
            "WWW-Authenticate",
            challenge(&mut c, "h1", Algorithm::Md5, false),
        )],
    )
    .unwrap();
    ua.send();
    assert_eq!(
        ua.verify(HeaderName::Authorization, "h1", Algorithm::Md5, "secret"),
        Ok(1)
    );
    ua.respond(200, &[]).unwrap();
    assert!(matches!(
        ua.event(),
        Some(RegistrationEvent::Registered { .. })
    ));

    // An MD5 HA1 cannot answer a SHA-256 challenge: a failure, and the next attempt
    // goes out without credentials.
    ua.advance(refresh_after(3600));
    ua.event();
    ua.send();
    ua.respond(
        401,
        &[(
            "WWW-Authenticate",
            challenge(&mut c, "h2", Algorithm::Sha256, false),
        )],
    )
    .unwrap();
    assert_eq!(ua.event(), None);
    ua.nothing_due();
    let Some(RegistrationEvent::Failed {
        reason: FailureReason::Challenge(StatusCode::UNAUTHORIZED),
        retry_at: Some(t),
    }) = ua.event()
    else {
        panic!("expected a failure");
    };
    assert_backoff(ua.now, t, 1);
    ua.at(t);
    ua.send();
    assert_eq!(ua.header(HeaderName::Authorization), None);
}

#[test]
fn retry_after_zero_waits_a_second() {
    let mut ua = Ua::new(&config());
    ua.send();
    ua.respond(503, &[("Retry-After", "0")]).unwrap();
    assert_eq!(
        ua.event(),
        Some(RegistrationEvent::Failed {
            reason: FailureReason::Status(StatusCode::SERVICE_UNAVAILABLE),
            retry_at: Some(ua.now + Duration::from_secs(1))
        })
    );
}

#[test]
fn unregister_removes_the_binding() {
    let mut ua = Ua::new(&config());
    registered(&mut ua, "<sip:alice@192.0.2.10:5060>;expires=3600");
    ua.event();
    let call_id = ua.header(HeaderName::CallId).unwrap();
    let cseq = ua.cseq();
    ua.advance(Duration::from_secs(10));
    ua.reg.unregister(ua.now);
    assert_eq!(ua.reg.state(), RegistrationState::Unregistering);
    ua.send();
    assert_eq!(ua.header(HeaderName::Expires).as_deref(), Some("0"));
    assert_eq!(
        ua.header(HeaderName::Contact).as_deref(),
        Some("<sip:alice@192.0.2.10:5060>;expires=0")
    );
    assert_eq!(ua.header(HeaderName::CallId).unwrap(), call_id);
    assert_eq!(ua.cseq(), cseq + 1);
    assert_eq!(
        ua.verify(HeaderName::Authorization, "n1", Algorithm::Md5, "secret"),
        Ok(2)
    );
    ua.respond(200, &[]).unwrap();
    assert_eq!(ua.event(), Some(RegistrationEvent::Unregistered));
    assert_eq!(ua.event(), None);
    assert_eq!(ua.reg.state(), RegistrationState::Unregistered);
    assert_eq!(ua.reg.poll_timeout(), None);
    ua.advance(Duration::from_secs(10_000));
    ua.nothing_due();

    // Registering again keeps the Call-ID and counts on.
    ua.reg.register(ua.now).unwrap();
    ua.send();
    assert_eq!(ua.header(HeaderName::CallId).unwrap(), call_id);
    assert_eq!(ua.cseq(), cseq + 2);
}

/// `register_now` (a new connection): the REGISTER is due at once whether the
/// machine is bound (the refresh an hour away) or backing off, with the same Call-ID
/// and the next CSeq; refused while one is outstanding or the binding goes.
#[test]
fn register_now_skips_the_refresh_and_the_back_off() {
    let mut idle: Registration = Registration::new(&config()).unwrap();
    idle.register_now(T0).unwrap();
    assert_eq!(idle.state(), RegistrationState::Registering);
    assert_eq!(idle.poll_timeout(), Some(T0));

    let mut ua = Ua::new(&config());
    registered(&mut ua, "<sip:alice@192.0.2.10:5060>;expires=3600");
    assert!(matches!(
        ua.event(),
        Some(RegistrationEvent::Registered { .. })
    ));
    let call_id = ua.header(HeaderName::CallId).unwrap();
    let cseq = ua.cseq();
    ua.advance(Duration::from_secs(10));
    ua.reg.register_now(ua.now).unwrap();
    assert_eq!(ua.event(), Some(RegistrationEvent::Refreshing));
    assert_eq!(ua.reg.state(), RegistrationState::Refreshing);
    assert_eq!(ua.reg.poll_timeout(), Some(ua.now));
    ua.send();
    assert_eq!(ua.header(HeaderName::CallId).unwrap(), call_id);
    assert_eq!(ua.cseq(), cseq + 1);
    assert_eq!(
        ua.reg.register_now(ua.now),
        Err(RegistrationError::AlreadyActive)
    );

    // The refresh fails with its connection: backing off, and again at once.
    ua.reg.handle_transport_error(ua.now, &mut ua.ids).unwrap();
    assert!(matches!(
        ua.event(),
        Some(RegistrationEvent::Failed {
            reason: FailureReason::Transport,
            retry_at: Some(_)
        })
    ));
    assert_eq!(ua.reg.state(), RegistrationState::BackingOff);
    ua.advance(Duration::from_secs(1));
    ua.nothing_due();
    ua.reg.register_now(ua.now).unwrap();
    assert_eq!(ua.event(), None);
    assert_eq!(ua.reg.state(), RegistrationState::Registering);
    assert_eq!(ua.reg.failures(), 1);
    ua.send();
    assert_eq!(ua.cseq(), cseq + 2);
    ua.respond(
        200,
        &[("Contact", "<sip:alice@192.0.2.10:5060>;expires=3600")],
    )
    .unwrap();
    assert_eq!(ua.reg.failures(), 0);
    assert_eq!(ua.reg.state(), RegistrationState::Registered);

    // Not while the binding is being removed.
    ua.reg.unregister(ua.now);
    assert_eq!(
        ua.reg.register_now(ua.now),
        Err(RegistrationError::AlreadyActive)
    );
}

#[test]
fn unregister_while_outstanding_and_on_failure() {
    // Asked while a REGISTER is outstanding: it waits for that answer.
    let mut ua = Ua::new(&config());
    ua.send();
    ua.reg.unregister(ua.now);
    assert_eq!(ua.reg.state(), RegistrationState::Registering);
    ua.respond(200, &[]).unwrap();
    assert!(matches!(
        ua.event(),
        Some(RegistrationEvent::Registered { .. })
    ));
    assert_eq!(ua.reg.state(), RegistrationState::Unregistering);
    ua.send();
    assert_eq!(ua.cseq(), 2);
    assert_eq!(ua.header(HeaderName::Expires).as_deref(), Some("0"));
    // It times out: report and stop anyway.
    ua.reg
        .handle_transaction_timeout(ua.now, &mut ua.ids)
        .unwrap();
    assert_eq!(
        ua.event(),
        Some(RegistrationEvent::Failed {
            reason: FailureReason::Timeout,
            retry_at: None
        })
    );
    assert_eq!(ua.event(), Some(RegistrationEvent::Unregistered));
    assert_eq!(ua.reg.state(), RegistrationState::Unregistered);

    // A de-registration that is challenged answers the challenge.
    let mut ua = Ua::new(&config());
    ua.send();
    ua.respond(200, &[]).unwrap();
    ua.event();
    ua.reg.unregister(ua.now);
    ua.send();
    let mut c = [0u8; 256];
    ua.respond(
        401,
        &[(
            "WWW-Authenticate",
            challenge(&mut c, "u1", Algorithm::Md5, false),
        )],
    )
    .unwrap();
    ua.send();
    assert_eq!(ua.header(HeaderName::Expires).as_deref(), Some("0"));
    assert_eq!(
        ua.verify(HeaderName::Authorization, "u1", Algorithm::Md5, "secret"),
        Ok(1)
    );
    ua.respond(403, &[]).unwrap();
    assert_eq!(
        ua.event(),
        Some(RegistrationEvent::Failed {
            reason: FailureReason::Status(StatusCode::FORBIDDEN),
            retry_at: None
        })
    );
    assert_eq!(ua.event(), Some(RegistrationEvent::Unregistered));

    // Never started: unregistered at once.
    let mut reg: Registration = Registration::new(&config()).unwrap();
    reg.unregister(T0);
    assert_eq!(reg.poll_event(), Some(RegistrationEvent::Unregistered));
    assert_eq!(reg.state(), RegistrationState::Unregistered);
}

#[test]
fn misuse_and_stale_responses_are_refused() {
    let mut ua = Ua::new(&config());
    // Nothing outstanding yet.
    assert_eq!(
        ua.reg.handle_transaction_timeout(ua.now, &mut ua.ids),
        Err(RegistrationError::NoRequestOutstanding)
    );
    assert_eq!(
        ua.reg.register(ua.now),
        Err(RegistrationError::AlreadyActive)
    );
    // Too small a buffer changes nothing.
    let mut small = [0u8; 64];
    assert!(matches!(
        ua.reg.poll_request(ua.now, &mut ua.ids, &mut small),
        Err(RegistrationError::BufferTooSmall { .. })
    ));
    assert_eq!(ua.reg.cseq(), 0);
    ua.send();
    assert_eq!(ua.cseq(), 1);
    // A second poll while outstanding: nothing.
    ua.nothing_due();

    // A provisional response is ignored.
    ua.respond(100, &[]).unwrap();
    assert!(ua.reg.is_outstanding());

    // A response to another CSeq or Call-ID is stale.
    let stale_cseq = b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKx\r\n\
From: <sip:alice@example.com>;tag=a\r\nTo: <sip:alice@example.com>;tag=b\r\n\
Call-ID: CALLID\r\nCSeq: 7 REGISTER\r\nContent-Length: 0\r\n\r\n";
    let call_id = ua.reg.call_id().unwrap().to_owned();
    let text = String::from_utf8(stale_cseq.to_vec())
        .unwrap()
        .replace("CALLID", &call_id);
    let mut hs = [HeaderIndex::EMPTY; 16];
    let msg = Message::parse(text.as_bytes(), &mut hs).unwrap();
    assert_eq!(
        ua.reg.handle_response(ua.now, &msg, &mut ua.ids),
        Err(RegistrationError::StaleResponse)
    );
    let other = text
        .replace(&call_id, "someone-else")
        .replace("CSeq: 7", "CSeq: 1");
    let mut hs = [HeaderIndex::EMPTY; 16];
    let msg = Message::parse(other.as_bytes(), &mut hs).unwrap();
    assert_eq!(
        ua.reg.handle_response(ua.now, &msg, &mut ua.ids),
        Err(RegistrationError::StaleResponse)
    );
    let no_cseq = text.replace("CSeq: 7 REGISTER\r\n", "");
    let mut hs = [HeaderIndex::EMPTY; 16];
    let msg = Message::parse(no_cseq.as_bytes(), &mut hs).unwrap();
    assert_eq!(
        ua.reg.handle_response(ua.now, &msg, &mut ua.ids),
        Err(RegistrationError::MalformedResponse)
    );
    // A request is not a response.
    let req = ua.req;
    let mut hs = [HeaderIndex::EMPTY; 32];
    let msg = Message::parse(&req[..ua.req_len], &mut hs).unwrap();
    assert_eq!(
        ua.reg.handle_response(ua.now, &msg, &mut ua.ids),
        Err(RegistrationError::NotAResponse)
    );
    assert!(ua.reg.is_outstanding());
    assert_eq!(ua.event(), None);

    // The real answer still works; a duplicate afterwards is refused.
    ua.respond(200, &[]).unwrap();
    assert!(matches!(
        ua.event(),
        Some(RegistrationEvent::Registered { .. })
    ));
    assert_eq!(
        ua.respond(200, &[]),
        Err(RegistrationError::NoRequestOutstanding)
    );
    assert_eq!(ua.event(), None);
}

#[test]
fn configuration_is_checked() {
    use sip_lite::registration::ConfigError;
    let bad = |c: Config<'_>| Registration::<768>::new(&c).unwrap_err();
    assert_eq!(
        bad(Config {
            registrar: "not a uri",
            ..config()
        }),
        ConfigError::Registrar
    );
    assert_eq!(
        bad(Config {
            aor: "",
            ..config()
        }),
        ConfigError::Aor
    );
    assert_eq!(
        bad(Config {
            contact: "sip:a@b>x",
            ..config()
        }),
        ConfigError::Contact
    );
    assert_eq!(
        bad(Config {
            via: "SIP/2.0/UDP h;branch=z9hG4bK1",
            ..config()
        }),
        ConfigError::Via
    );
    assert_eq!(
        bad(Config {
            reg_id: Some(1),
            ..config()
        }),
        ConfigError::RegIdWithoutInstance
    );
    assert_eq!(
        bad(Config {
            instance: Some("uuid:1"),
            ..config()
        }),
        ConfigError::Instance
    );
    assert_eq!(
        bad(Config {
            expires: 0,
            ..config()
        }),
        ConfigError::ZeroExpires
    );
    assert_eq!(
        bad(Config {
            user_agent: Some("a\r\nVia: x"),
            ..config()
        }),
        ConfigError::Text
    );
    assert_eq!(
        Registration::<64>::new(&config()).unwrap_err(),
        ConfigError::TooLong
    );
    // Angle brackets around the instance are accepted and not doubled.
    let mut ua = Ua::new(&Config {
        instance: Some("<urn:uuid:1>"),
        ..config()
    });
    ua.send();
    ua.with_req(|m| {
        let c = Contact::parse(m.header(HeaderName::Contact).unwrap()).unwrap();
        assert_eq!(c.instance(), Some("urn:uuid:1"));
        assert!(!m.has_token(HeaderName::Supported, "outbound"));
    });
    // A challenge larger than the storage left is a failure, not a panic.
    let mut reg: Registration<160> = Registration::new(&config()).unwrap();
    let mut ids = IdGenerator::new([1; 32]);
    reg.register(T0).unwrap();
    let mut buf = [0u8; 1024];
    let len = reg.poll_request(T0, &mut ids, &mut buf).unwrap().unwrap();
    let mut hs = [HeaderIndex::EMPTY; 16];
    let req = Message::parse(&buf[..len], &mut hs).unwrap();
    let mut out = [0u8; 1024];
    let mut w = Writer::response_to(
        SliceSink::new(&mut out),
        &req,
        StatusCode::UNAUTHORIZED,
        "",
        None,
    )
    .unwrap();
    w.header(
        "WWW-Authenticate",
        "Digest realm=\"a-very-long-realm-name-that-does-not-fit.example.com\", nonce=\"0123456789abcdef0123456789abcdef\", algorithm=MD5, qop=\"auth\"",
    )
    .unwrap();
    let n = w.finish(b"").unwrap().len();
    let mut hs2 = [HeaderIndex::EMPTY; 16];
    let resp = Message::parse(&out[..n], &mut hs2).unwrap();
    reg.handle_response(T0, &resp, &mut ids).unwrap();
    assert!(matches!(
        reg.poll_event(),
        Some(RegistrationEvent::Failed {
            reason: FailureReason::Challenge(StatusCode::UNAUTHORIZED),
            ..
        })
    ));
}

#[test]
fn custom_timing() {
    let timing = Timing {
        refresh_margin: Duration::from_secs(10),
        min_refresh: Duration::from_secs(50),
        backoff_base: Duration::from_secs(90),
        backoff_max: Duration::from_secs(200),
    };
    assert_eq!(timing.refresh_delay(60), Duration::from_secs(50));
    assert_eq!(timing.refresh_delay(600), Duration::from_secs(590));
    assert_eq!(timing.backoff_bound(1), Duration::from_secs(180));
    assert_eq!(timing.backoff_bound(2), Duration::from_secs(200));
    let mut ua = Ua::new(&Config { timing, ..config() });
    ua.send();
    ua.reg.handle_transport_error(ua.now, &mut ua.ids).unwrap();
    let Some(RegistrationEvent::Failed {
        retry_at: Some(t), ..
    }) = ua.event()
    else {
        panic!("expected a failure");
    };
    let wait = t - ua.now;
    assert!(wait >= Duration::from_secs(90) && wait < Duration::from_secs(180));
}

#[test]
fn a_full_cycle_does_not_allocate() {
    assert!(alloc_counter::is_installed());
    let mut ua = Ua::new(&Config {
        instance: Some(INSTANCE),
        reg_id: Some(1),
        ..config()
    });
    let ((), n) = alloc_counter::allocations(|| {
        let mut c = [0u8; 256];
        ua.send();
        ua.respond(
            401,
            &[(
                "WWW-Authenticate",
                challenge(&mut c, "n1", Algorithm::Sha256, false),
            )],
        )
        .unwrap();
        ua.send();
        assert_eq!(
            ua.verify(HeaderName::Authorization, "n1", Algorithm::Sha256, "secret"),
            Ok(1)
        );
        ua.respond(
            200,
            &[("Contact", "<sip:alice@192.0.2.10:5060>;expires=120")],
        )
        .unwrap();
        assert!(matches!(
            ua.event(),
            Some(RegistrationEvent::Registered { expires: 120, .. })
        ));
        let t = ua.reg.poll_timeout().unwrap();
        ua.at(t);
        assert_eq!(ua.event(), Some(RegistrationEvent::Refreshing));
        ua.send();
        ua.respond(
            401,
            &[(
                "WWW-Authenticate",
                challenge(&mut c, "n2", Algorithm::Sha256, true),
            )],
        )
        .unwrap();
        ua.send();
        ua.respond(
            200,
            &[("Contact", "<sip:alice@192.0.2.10:5060>;expires=120")],
        )
        .unwrap();
        ua.event();
        ua.advance(Duration::from_secs(1));
        ua.reg.unregister(ua.now);
        ua.send();
        ua.reg
            .handle_transaction_timeout(ua.now, &mut ua.ids)
            .unwrap();
        ua.reg.register(ua.now).unwrap();
        ua.send();
        ua.respond(503, &[("Retry-After", "5")]).unwrap();
        ua.advance(Duration::from_secs(5));
        ua.send();
        ua.respond(200, &[]).unwrap();
        ua.reg.unregister(ua.now);
        ua.send();
        ua.respond(200, &[]).unwrap();
        while ua.event().is_some() {}
        assert_eq!(ua.reg.state(), RegistrationState::Unregistered);
    });
    assert_eq!(n, 0, "allocations during a registration cycle");
}

/// An unconfigured machine (all zero bits, for a `static`) refuses to register and has
/// nothing to send; configured in place, it is the machine `new` makes; configured again
/// while bound, it starts over: idle, a new Call-ID, CSeq 1, no timer. A configuration
/// that is refused changes nothing.
#[test]
fn configured_in_place_and_again() {
    use sip_lite::registration::ConfigError;
    static UNCONFIGURED: Registration = Registration::unconfigured();
    let mut reg = Registration::unconfigured();
    let mut ids = IdGenerator::new([7; 32]);
    let mut buf = [0u8; 2048];
    assert!(!UNCONFIGURED.is_configured() && !reg.is_configured());
    assert_eq!(reg.register(T0), Err(RegistrationError::NotConfigured));
    assert_eq!(reg.register_now(T0), Err(RegistrationError::NotConfigured));
    assert_eq!(reg.state(), RegistrationState::Idle);
    assert_eq!(reg.poll_timeout(), None);
    assert_eq!(reg.poll_request(T0, &mut ids, &mut buf), Ok(None));

    let ((), n) = alloc_counter::allocations(|| reg.configure(&config()).unwrap());
    assert_eq!(n, 0, "configure allocated");
    assert!(reg.is_configured());
    let mut ua = Ua {
        reg,
        ids: IdGenerator::new([42; 32]),
        now: T0,
        req: [0; 2048],
        req_len: 0,
    };
    ua.reg.register(T0).unwrap();
    registered(&mut ua, "<sip:alice@192.0.2.10:5060>;expires=3600");
    assert_eq!(ua.reg.state(), RegistrationState::Registered);
    let old_call_id = ua.reg.call_id().unwrap().to_owned();
    let cseq = ua.reg.cseq();
    assert!(cseq >= 2);

    // Refused: unchanged, still bound.
    let mut bad = config();
    bad.expires = 0;
    assert_eq!(ua.reg.configure(&bad), Err(ConfigError::ZeroExpires));
    assert_eq!(ua.reg.state(), RegistrationState::Registered);
    assert_eq!(ua.reg.cseq(), cseq);

    let mut other = config();
    other.expires = 600;
    ua.reg.configure(&other).unwrap();
    assert_eq!(ua.reg.state(), RegistrationState::Idle);
    assert_eq!((ua.reg.call_id(), ua.reg.cseq()), (None, 0));
    assert_eq!(ua.reg.granted_expires(), None);
    assert_eq!(ua.reg.poll_timeout(), None);
    assert_eq!(ua.event(), None, "the old events are gone");
    ua.reg.register(T0).unwrap();
    ua.send();
    assert_eq!(ua.cseq(), 1);
    assert_ne!(ua.header(HeaderName::CallId).unwrap(), old_call_id);
    assert_eq!(ua.header(HeaderName::Expires).as_deref(), Some("600"));
    assert_eq!(
        ua.header(HeaderName::Authorization),
        None,
        "no old challenge"
    );
}
