//! Session timers (RFC 4028) between two user agents on a virtual clock, with real
//! messages built by `wire::Writer` and parsed by `wire::Message::parse`.

use alloc_counter::CountingAllocator;
use sip_lite::session_timer::{
    Action, Answer, Config, Outcome, Party, RefreshMethod, RequestHeaders, ResponseHeaders,
    SessionRefresh, SessionTimerError, TooSmall,
};
use sip_lite::time::Instant;
use sip_lite::wire::{HeaderIndex, HeaderName, Message, Method, SliceSink, StatusCode, Writer};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn secs(s: u64) -> Instant {
    Instant::from_secs(s)
}

/// The headers every request of the dialog carries, before the timer headers.
fn request_start<'b>(
    buf: &'b mut [u8],
    method: Method<'static>,
    cseq: &str,
) -> Writer<SliceSink<'b>> {
    let mut w =
        Writer::request_str(SliceSink::new(buf), method, "sip:bob@biloxi.example.com").unwrap();
    w.header(
        "Via",
        "SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK74bf9",
    )
    .unwrap()
    .header("Max-Forwards", "70")
    .unwrap()
    .header(
        "From",
        "Alice <sip:alice@atlanta.example.com>;tag=9fxced76sl",
    )
    .unwrap()
    .header("To", "Bob <sip:bob@biloxi.example.com>")
    .unwrap()
    .header("Call-ID", "3848276298220188511@atlanta.example.com")
    .unwrap()
    .header("CSeq", cseq)
    .unwrap();
    w
}

/// A request carrying `headers` (the UAC side's output).
fn request(buf: &mut [u8], method: Method<'static>, headers: &RequestHeaders) -> usize {
    let cseq = match method {
        Method::Update => "2 UPDATE",
        _ => "1 INVITE",
    };
    let mut w = request_start(buf, method, cseq);
    headers.write(&mut w).unwrap();
    w.finish(b"").unwrap().len()
}

/// A request with hand-written timer headers (what another implementation might send).
fn raw_request(buf: &mut [u8], extra: &[(&str, &str)]) -> usize {
    let mut w = request_start(buf, Method::Invite, "1 INVITE");
    for (name, value) in extra {
        w.header(name, value).unwrap();
    }
    w.finish(b"").unwrap().len()
}

/// The answer to `req` as the UAS side decided it.
fn response(buf: &mut [u8], req: &Message<'_>, answer: &Answer) -> usize {
    match answer {
        Answer::Accept(h) => ok(buf, req, h),
        Answer::TooSmall(t) => too_small(buf, req, t),
    }
}

fn ok(buf: &mut [u8], req: &Message<'_>, h: &ResponseHeaders) -> usize {
    let mut w = Writer::response_to(
        SliceSink::new(buf),
        req,
        StatusCode::OK,
        "",
        Some("8321234356"),
    )
    .unwrap();
    h.write(&mut w).unwrap();
    w.finish(b"").unwrap().len()
}

fn too_small(buf: &mut [u8], req: &Message<'_>, t: &TooSmall) -> usize {
    let mut w =
        Writer::response_to(SliceSink::new(buf), req, TooSmall::STATUS, "", Some("x1")).unwrap();
    t.write(&mut w).unwrap();
    w.finish(b"").unwrap().len()
}

fn status_only(buf: &mut [u8], req: &Message<'_>, status: StatusCode) -> usize {
    Writer::response_to(SliceSink::new(buf), req, status, "", Some("x2"))
        .unwrap()
        .finish(b"")
        .unwrap()
        .len()
}

/// The values of every line of `name`, joined by commas, or `None` if absent.
fn lines<'a>(msg: &Message<'a>, name: HeaderName) -> Option<&'a str> {
    let mut it = msg.header_lines(name);
    let first = it.next();
    assert!(it.next().is_none(), "one {name:?} line only");
    first
}

/// Checks the timer headers of a request exactly.
fn assert_request_timer(msg: &Message<'_>, se: &str, min_se: &str) {
    assert_eq!(lines(msg, HeaderName::Supported), Some("timer"));
    assert_eq!(lines(msg, HeaderName::SessionExpires), Some(se));
    assert_eq!(lines(msg, HeaderName::MinSe), Some(min_se));
    assert_eq!(lines(msg, HeaderName::Require), None);
}

/// Checks the timer headers of a 2xx exactly.
fn assert_response_timer(msg: &Message<'_>, se: Option<&str>, require: bool) {
    assert_eq!(lines(msg, HeaderName::SessionExpires), se);
    assert_eq!(lines(msg, HeaderName::Require), require.then_some("timer"));
    assert_eq!(lines(msg, HeaderName::MinSe), None);
}

/// One offer/answer exchange: `uac` sends a request (INVITE or refresh) at `now`,
/// `uas` answers, both sides process the answer. Returns the UAC's outcome.
fn exchange(uac: &mut SessionRefresh, uas: &mut SessionRefresh, now: Instant) -> Outcome {
    let mut rq = [0u8; 1024];
    let mut rs = [0u8; 1024];
    let mut h1 = [HeaderIndex::EMPTY; 16];
    let mut h2 = [HeaderIndex::EMPTY; 16];
    let n = request(&mut rq, Method::Invite, &uac.request_headers());
    let req = Message::parse(&rq[..n], &mut h1).unwrap();
    let answer = uas.handle_request(&req).unwrap();
    let m = response(&mut rs, &req, &answer);
    if matches!(answer, Answer::Accept(_)) {
        uas.handle_2xx_sent(now);
    }
    let resp = Message::parse(&rs[..m], &mut h2).unwrap();
    uac.handle_response(now, &resp).unwrap()
}

#[test]
fn test_uac_refresher_negotiated_and_refreshes_at_half() {
    let mut alice = SessionRefresh::new(Config::DEFAULT);
    let mut bob = SessionRefresh::new(Config::DEFAULT);

    // The INVITE: Supported: timer, Session-Expires: 1800 without refresher (7.1),
    // Min-SE: 90.
    let mut rq = [0u8; 1024];
    let n = request(&mut rq, Method::Invite, &alice.request_headers());
    let mut h1 = [HeaderIndex::EMPTY; 16];
    let invite = Message::parse(&rq[..n], &mut h1).unwrap();
    assert_request_timer(&invite, "1800", "90");

    // Bob (default policy) leaves the refreshing to the UAC and requires timer.
    let answer = bob.handle_request(&invite).unwrap();
    let mut rs = [0u8; 1024];
    let m = response(&mut rs, &invite, &answer);
    let mut h2 = [HeaderIndex::EMPTY; 16];
    let ok = Message::parse(&rs[..m], &mut h2).unwrap();
    assert_eq!(ok.status(), Some(StatusCode::OK));
    assert_response_timer(&ok, Some("1800;refresher=uac"), true);
    assert_eq!(lines(&ok, HeaderName::Supported), Some("timer"));
    // Nothing runs until the 2xx is sent.
    assert_eq!(bob.poll_timeout(), None);
    bob.handle_2xx_sent(secs(0));

    assert_eq!(
        alice.handle_response(secs(0), &ok),
        Ok(Outcome::Running {
            interval: 1800,
            refresher: Party::Local
        })
    );
    assert_eq!(alice.refresher(), Some(Party::Local));
    assert_eq!(bob.refresher(), Some(Party::Remote));
    assert_eq!(
        alice.interval(),
        Some(core::time::Duration::from_secs(1800))
    );
    // Alice refreshes at 900 s exactly; Bob would send BYE at 1800 - 32 = 1768 s.
    assert_eq!(alice.poll_timeout(), Some(secs(900)));
    assert_eq!(alice.refresh_at(), Some(secs(900)));
    assert_eq!(alice.expires_at(), Some(secs(1768)));
    assert_eq!(bob.poll_timeout(), Some(secs(1768)));
    assert_eq!(bob.refresh_at(), None);

    alice.handle_timeout(Instant::from_millis(899_999));
    assert_eq!(alice.poll_action(), None);
    alice.handle_timeout(secs(900));
    assert_eq!(
        alice.poll_action(),
        Some(Action::Refresh {
            method: RefreshMethod::Invite
        })
    );
    assert_eq!(alice.poll_action(), None);
    // The refresh keeps the roles: refresher=uac from the refresher (7.4).
    let n = request(&mut rq, Method::Invite, &alice.request_headers());
    let refresh = Message::parse(&rq[..n], &mut h1).unwrap();
    assert_request_timer(&refresh, "1800;refresher=uac", "90");
    let answer = bob.handle_request(&refresh).unwrap();
    let m = response(&mut rs, &refresh, &answer);
    bob.handle_2xx_sent(secs(901));
    let ok = Message::parse(&rs[..m], &mut h2).unwrap();
    assert_response_timer(&ok, Some("1800;refresher=uac"), true);
    assert!(matches!(
        alice.handle_response(secs(901), &ok),
        Ok(Outcome::Running { .. })
    ));
    // Both restarted from the refresh.
    assert_eq!(alice.poll_timeout(), Some(secs(901 + 900)));
    assert_eq!(bob.poll_timeout(), Some(secs(901 + 1768)));
    bob.handle_timeout(secs(1768));
    assert_eq!(bob.poll_action(), None);
}

#[test]
fn test_uas_expires_at_1768_without_refresh() {
    let mut alice = SessionRefresh::new(Config::DEFAULT);
    let mut bob = SessionRefresh::new(Config::DEFAULT);
    exchange(&mut alice, &mut bob, secs(10));
    assert_eq!(bob.poll_timeout(), Some(secs(10 + 1768)));
    bob.handle_timeout(Instant::from_millis(1_777_999));
    assert_eq!(bob.poll_action(), None);
    bob.handle_timeout(secs(1778));
    assert_eq!(bob.poll_action(), Some(Action::Expired));
    assert_eq!(bob.poll_action(), None);
    assert_eq!(bob.poll_timeout(), None);
    assert_eq!(bob.refresher(), None);
}

#[test]
fn test_uas_refresher() {
    let mut alice = SessionRefresh::new(Config::DEFAULT);
    let mut bob = SessionRefresh::new(Config {
        uas_refresher: Party::Local,
        method: RefreshMethod::Update,
        ..Config::DEFAULT
    });
    let mut rq = [0u8; 1024];
    let mut rs = [0u8; 1024];
    let mut h1 = [HeaderIndex::EMPTY; 16];
    let mut h2 = [HeaderIndex::EMPTY; 16];
    let n = request(&mut rq, Method::Invite, &alice.request_headers());
    let invite = Message::parse(&rq[..n], &mut h1).unwrap();
    let answer = bob.handle_request(&invite).unwrap();
    let m = response(&mut rs, &invite, &answer);
    bob.handle_2xx_sent(secs(0));
    let ok = Message::parse(&rs[..m], &mut h2).unwrap();
    // refresher=uas needs no Require.
    assert_response_timer(&ok, Some("1800;refresher=uas"), false);
    assert_eq!(
        alice.handle_response(secs(0), &ok),
        Ok(Outcome::Running {
            interval: 1800,
            refresher: Party::Remote
        })
    );
    assert_eq!(alice.poll_timeout(), Some(secs(1768)));
    assert_eq!(bob.poll_timeout(), Some(secs(900)));
    bob.handle_timeout(secs(900));
    assert_eq!(
        bob.poll_action(),
        Some(Action::Refresh {
            method: RefreshMethod::Update
        })
    );

    // Bob refreshes with an UPDATE: he is its UAC, so refresher=uac.
    let n = request(&mut rq, Method::Update, &bob.request_headers());
    let update = Message::parse(&rq[..n], &mut h1).unwrap();
    assert_request_timer(&update, "1800;refresher=uac", "90");
    // Alice answers as UAS and keeps Bob as refresher, which obliges Require: timer.
    let answer = alice.handle_request(&update).unwrap();
    let m = response(&mut rs, &update, &answer);
    alice.handle_2xx_sent(secs(905));
    let ok = Message::parse(&rs[..m], &mut h2).unwrap();
    assert_response_timer(&ok, Some("1800;refresher=uac"), true);
    assert_eq!(
        bob.handle_response(secs(905), &ok),
        Ok(Outcome::Running {
            interval: 1800,
            refresher: Party::Local
        })
    );
    assert_eq!(alice.refresher(), Some(Party::Remote));
    assert_eq!(alice.poll_timeout(), Some(secs(905 + 1768)));
    assert_eq!(bob.poll_timeout(), Some(secs(905 + 900)));
}

#[test]
fn test_422_then_retry_with_larger_interval() {
    let mut alice = SessionRefresh::new(Config {
        session_expires: 300,
        ..Config::DEFAULT
    });
    let mut bob = SessionRefresh::new(Config {
        min_se: 1800,
        ..Config::DEFAULT
    });
    let mut rq = [0u8; 1024];
    let mut rs = [0u8; 1024];
    let mut h1 = [HeaderIndex::EMPTY; 16];
    let mut h2 = [HeaderIndex::EMPTY; 16];
    let n = request(&mut rq, Method::Invite, &alice.request_headers());
    let invite = Message::parse(&rq[..n], &mut h1).unwrap();
    assert_request_timer(&invite, "300", "90");
    let answer = bob.handle_request(&invite).unwrap();
    assert_eq!(answer, Answer::TooSmall(TooSmall { min_se: 1800 }));
    let m = response(&mut rs, &invite, &answer);
    let resp = Message::parse(&rs[..m], &mut h2).unwrap();
    assert_eq!(resp.status(), Some(StatusCode::SESSION_INTERVAL_TOO_SMALL));
    assert_eq!(lines(&resp, HeaderName::MinSe), Some("1800"));
    assert_eq!(lines(&resp, HeaderName::SessionExpires), None);
    // Bob does not start anything after a 422.
    bob.handle_2xx_sent(secs(0));
    assert_eq!(bob.poll_timeout(), None);

    let Ok(Outcome::Retry(retry)) = alice.handle_response(secs(0), &resp) else {
        panic!("retry expected")
    };
    assert_eq!(retry, alice.request_headers());
    assert_eq!(alice.min_se(), 1800);
    let n = request(&mut rq, Method::Invite, &retry);
    let invite = Message::parse(&rq[..n], &mut h1).unwrap();
    assert_request_timer(&invite, "1800", "1800");
    let answer = bob.handle_request(&invite).unwrap();
    let m = response(&mut rs, &invite, &answer);
    bob.handle_2xx_sent(secs(1));
    let ok = Message::parse(&rs[..m], &mut h2).unwrap();
    assert_response_timer(&ok, Some("1800;refresher=uac"), true);
    assert!(matches!(
        alice.handle_response(secs(1), &ok),
        Ok(Outcome::Running { interval: 1800, .. })
    ));
    assert_eq!(alice.poll_timeout(), Some(secs(901)));
}

#[test]
fn test_422_retries_are_bounded_and_need_min_se() {
    let mut alice = SessionRefresh::new(Config::DEFAULT);
    let mut rq = [0u8; 1024];
    let mut rs = [0u8; 1024];
    let mut h1 = [HeaderIndex::EMPTY; 16];
    let n = request(&mut rq, Method::Invite, &alice.request_headers());
    let invite = Message::parse(&rq[..n], &mut h1).unwrap();
    for (i, min) in [2000u32, 2400].into_iter().enumerate() {
        let m = too_small(&mut rs, &invite, &TooSmall { min_se: min });
        let mut h2 = [HeaderIndex::EMPTY; 16];
        let resp = Message::parse(&rs[..m], &mut h2).unwrap();
        let out = alice.handle_response(secs(i as u64), &resp);
        let Ok(Outcome::Retry(h)) = out else {
            panic!("{out:?}")
        };
        assert_eq!((h.session_expires.delta, h.min_se), (min, min));
    }
    let m = too_small(&mut rs, &invite, &TooSmall { min_se: 3000 });
    let mut h2 = [HeaderIndex::EMPTY; 16];
    let resp = Message::parse(&rs[..m], &mut h2).unwrap();
    assert_eq!(
        alice.handle_response(secs(3), &resp),
        Err(SessionTimerError::TooManyRetries)
    );

    let mut fresh = SessionRefresh::new(Config::DEFAULT);
    let m = status_only(&mut rs, &invite, StatusCode::SESSION_INTERVAL_TOO_SMALL);
    let mut h2 = [HeaderIndex::EMPTY; 16];
    let resp = Message::parse(&rs[..m], &mut h2).unwrap();
    assert_eq!(
        fresh.handle_response(secs(0), &resp),
        Err(SessionTimerError::MissingMinSe)
    );
    assert_eq!(SessionTimerError::MissingMinSe.status(), None);
}

#[test]
fn test_session_expires_60_gets_422_with_min_se_90() {
    let mut bob = SessionRefresh::new(Config::DEFAULT);
    let mut rq = [0u8; 1024];
    let mut rs = [0u8; 1024];
    let mut h1 = [HeaderIndex::EMPTY; 16];
    let mut h2 = [HeaderIndex::EMPTY; 16];
    let n = raw_request(
        &mut rq,
        &[("Supported", "timer"), ("Session-Expires", "60")],
    );
    let invite = Message::parse(&rq[..n], &mut h1).unwrap();
    let answer = bob.handle_request(&invite).unwrap();
    assert_eq!(answer, Answer::TooSmall(TooSmall { min_se: 90 }));
    let m = response(&mut rs, &invite, &answer);
    let resp = Message::parse(&rs[..m], &mut h2).unwrap();
    assert_eq!(resp.status(), Some(StatusCode(422)));
    assert_eq!(resp.reason(), Some("Session Interval Too Small"));
    assert_eq!(lines(&resp, HeaderName::MinSe), Some("90"));

    // A configured Min-SE below 90 is raised to 90 (RFC 4028 section 5).
    let low = SessionRefresh::new(Config {
        min_se: 30,
        session_expires: 60,
        ..Config::DEFAULT
    });
    assert_eq!(low.config().min_se, 90);
    assert_eq!(low.config().session_expires, 90);
    assert_eq!(low.request_headers().session_expires.delta, 90);
}

#[test]
fn test_uac_without_timer_support() {
    let mut bob = SessionRefresh::new(Config::DEFAULT);
    let mut rq = [0u8; 1024];
    let mut rs = [0u8; 1024];
    let mut h1 = [HeaderIndex::EMPTY; 16];
    let mut h2 = [HeaderIndex::EMPTY; 16];
    // No Supported: timer, no Session-Expires: Bob still wants a timer, so he refreshes.
    let n = raw_request(&mut rq, &[("Supported", "replaces")]);
    let invite = Message::parse(&rq[..n], &mut h1).unwrap();
    let answer = bob.handle_request(&invite).unwrap();
    let m = response(&mut rs, &invite, &answer);
    bob.handle_2xx_sent(secs(0));
    let ok = Message::parse(&rs[..m], &mut h2).unwrap();
    assert_response_timer(&ok, Some("1800;refresher=uas"), false);
    assert_eq!(bob.refresher(), Some(Party::Local));
    assert_eq!(bob.poll_timeout(), Some(secs(900)));

    // A proxy added Session-Expires: 60 for a UAC without support: a 422 would fail
    // the call, so Bob raises it to his Min-SE (erratum 1687) and refreshes himself,
    // even though the proxy wrote refresher=uac.
    let n = raw_request(&mut rq, &[("Session-Expires", "60;refresher=uac")]);
    let invite = Message::parse(&rq[..n], &mut h1).unwrap();
    let answer = bob.handle_request(&invite).unwrap();
    let m = response(&mut rs, &invite, &answer);
    bob.handle_2xx_sent(secs(1000));
    let ok = Message::parse(&rs[..m], &mut h2).unwrap();
    assert_response_timer(&ok, Some("90;refresher=uas"), false);
    assert_eq!(bob.poll_timeout(), Some(secs(1045)));

    // And a UAS that does not want timers adds nothing.
    let mut carol = SessionRefresh::new(Config {
        uas_wants_timer: false,
        ..Config::DEFAULT
    });
    let n = raw_request(&mut rq, &[]);
    let invite = Message::parse(&rq[..n], &mut h1).unwrap();
    let answer = carol.handle_request(&invite).unwrap();
    let m = response(&mut rs, &invite, &answer);
    carol.handle_2xx_sent(secs(0));
    let ok = Message::parse(&rs[..m], &mut h2).unwrap();
    assert_response_timer(&ok, None, false);
    assert_eq!(lines(&ok, HeaderName::Supported), None);
    assert_eq!(carol.poll_timeout(), None);
}

#[test]
fn test_uas_lowers_interval_but_respects_min_se() {
    let mut bob = SessionRefresh::new(Config {
        session_expires: 600,
        min_se: 120,
        ..Config::DEFAULT
    });
    let mut rq = [0u8; 1024];
    let mut h1 = [HeaderIndex::EMPTY; 16];
    let se = |bob: &mut SessionRefresh, rq: &mut [u8], h1: &mut [HeaderIndex], extra| {
        let n = raw_request(rq, extra);
        let invite = Message::parse(&rq[..n], h1).unwrap();
        match bob.handle_request(&invite).unwrap() {
            Answer::Accept(h) => h.session_expires.map(|s| s.delta),
            Answer::TooSmall(_) => panic!("accepted"),
        }
    };
    let cases: [(&[(&str, &str)], u32); 4] = [
        // Lowered to our 600.
        (&[("k", "timer"), ("x", "1800")], 600),
        // Not below the request's Min-SE.
        (&[("k", "timer"), ("x", "1800"), ("Min-SE", "900")], 900),
        // Never raised.
        (&[("k", "timer"), ("x", "300")], 300),
        // No Session-Expires: ours, raised to the request's Min-SE.
        (&[("k", "timer"), ("Min-SE", "700")], 700),
    ];
    for (extra, want) in cases {
        assert_eq!(
            se(&mut bob, &mut rq, &mut h1, extra),
            Some(want),
            "{extra:?}"
        );
    }
}

#[test]
fn test_2xx_without_session_expires_means_no_timer() {
    let mut alice = SessionRefresh::new(Config::DEFAULT);
    let mut rq = [0u8; 1024];
    let mut rs = [0u8; 1024];
    let mut h1 = [HeaderIndex::EMPTY; 16];
    let mut h2 = [HeaderIndex::EMPTY; 16];
    let n = request(&mut rq, Method::Invite, &alice.request_headers());
    let invite = Message::parse(&rq[..n], &mut h1).unwrap();
    let m = status_only(&mut rs, &invite, StatusCode::OK);
    let ok = Message::parse(&rs[..m], &mut h2).unwrap();
    assert_eq!(alice.handle_response(secs(0), &ok), Ok(Outcome::NoTimer));
    assert_eq!(alice.poll_timeout(), None);
    assert_eq!(alice.interval(), None);

    // Section 7.2: a UAC that wants a timer anyway refreshes alone with its own value.
    let mut solo = SessionRefresh::new(Config {
        uac_refresh_alone: true,
        ..Config::DEFAULT
    });
    assert_eq!(
        solo.handle_response(secs(0), &ok),
        Ok(Outcome::Running {
            interval: 1800,
            refresher: Party::Local
        })
    );
    assert_eq!(solo.poll_timeout(), Some(secs(900)));
    let h = solo.request_headers();
    assert_eq!(h.session_expires.to_string(), "1800;refresher=uac");
}

#[test]
fn test_small_interval_expiry() {
    let mut alice = SessionRefresh::new(Config {
        session_expires: 90,
        ..Config::DEFAULT
    });
    let mut bob = SessionRefresh::new(Config::DEFAULT);
    assert_eq!(
        exchange(&mut alice, &mut bob, secs(0)),
        Outcome::Running {
            interval: 90,
            refresher: Party::Local
        }
    );
    // 90 - min(32, 30) = 60.
    assert_eq!(bob.poll_timeout(), Some(secs(60)));
    assert_eq!(alice.poll_timeout(), Some(secs(45)));
    assert_eq!(alice.expires_at(), Some(secs(60)));
    // 100 s: 100 - min(32, 33.333) = 68.
    let mut t = SessionRefresh::new(Config::DEFAULT);
    t.start(secs(0), 100, Party::Remote);
    assert_eq!(t.poll_timeout(), Some(secs(68)));
    t.start(secs(0), 96, Party::Remote);
    assert_eq!(t.poll_timeout(), Some(secs(64)));
}

#[test]
fn test_refresh_restarts_with_new_values() {
    let mut alice = SessionRefresh::new(Config::DEFAULT);
    let mut bob = SessionRefresh::new(Config::DEFAULT);
    exchange(&mut alice, &mut bob, secs(0));
    assert_eq!(alice.poll_timeout(), Some(secs(900)));
    // Bob re-INVITEs (a session refresh whatever its purpose) asking for 1200 s and
    // taking over the refreshing.
    let mut rq = [0u8; 1024];
    let mut rs = [0u8; 1024];
    let mut h1 = [HeaderIndex::EMPTY; 16];
    let mut h2 = [HeaderIndex::EMPTY; 16];
    let n = raw_request(
        &mut rq,
        &[
            ("Supported", "timer"),
            ("Session-Expires", "1200;refresher=uac"),
        ],
    );
    let reinvite = Message::parse(&rq[..n], &mut h1).unwrap();
    let answer = alice.handle_request(&reinvite).unwrap();
    let m = response(&mut rs, &reinvite, &answer);
    // Until the 2xx goes out, the old timers still run.
    assert_eq!(alice.poll_timeout(), Some(secs(900)));
    alice.handle_2xx_sent(secs(500));
    // A retransmitted 2xx changes nothing.
    alice.handle_2xx_sent(secs(510));
    let ok = Message::parse(&rs[..m], &mut h2).unwrap();
    assert_response_timer(&ok, Some("1200;refresher=uac"), true);
    assert_eq!(alice.refresher(), Some(Party::Remote));
    assert_eq!(alice.poll_timeout(), Some(secs(500 + 1168)));
    assert_eq!(
        alice.request_headers().session_expires.to_string(),
        "1200;refresher=uas"
    );
}

#[test]
fn test_failed_refreshes() {
    let mut rq = [0u8; 1024];
    let mut rs = [0u8; 1024];
    let mut h1 = [HeaderIndex::EMPTY; 16];
    let n = request(
        &mut rq,
        Method::Invite,
        &SessionRefresh::new(Config::DEFAULT).request_headers(),
    );
    let reinvite = Message::parse(&rq[..n], &mut h1).unwrap();
    let setup = || {
        let mut alice = SessionRefresh::new(Config::DEFAULT);
        let mut bob = SessionRefresh::new(Config::DEFAULT);
        exchange(&mut alice, &mut bob, secs(0));
        alice.handle_timeout(secs(900));
        assert!(matches!(alice.poll_action(), Some(Action::Refresh { .. })));
        alice
    };
    for (status, ends) in [
        (StatusCode::REQUEST_TIMEOUT, true),
        (StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST, true),
        (StatusCode::REQUEST_PENDING, false),
        (StatusCode::SERVER_INTERNAL_ERROR, false),
    ] {
        let mut alice = setup();
        let m = status_only(&mut rs, &reinvite, status);
        let mut h2 = [HeaderIndex::EMPTY; 16];
        let resp = Message::parse(&rs[..m], &mut h2).unwrap();
        let out = alice.handle_response(secs(901), &resp).unwrap();
        if ends {
            assert_eq!(out, Outcome::SessionEnded, "{status}");
            assert_eq!(alice.poll_timeout(), None);
            assert_eq!(alice.poll_action(), None);
        } else {
            assert_eq!(out, Outcome::Unchanged, "{status}");
            // The session lives until its expiry, then a BYE is due.
            assert_eq!(alice.poll_timeout(), Some(secs(1768)));
            alice.handle_timeout(secs(1768));
            assert_eq!(alice.poll_action(), Some(Action::Expired));
        }
    }
    // A transaction timeout is a 408.
    let mut alice = setup();
    assert_eq!(alice.handle_request_timeout(), Outcome::SessionEnded);
    assert_eq!(alice.poll_timeout(), None);
    // A 408 to the initial INVITE ends no session: there is none.
    let mut fresh = SessionRefresh::new(Config::DEFAULT);
    let m = status_only(&mut rs, &reinvite, StatusCode::REQUEST_TIMEOUT);
    let mut h2 = [HeaderIndex::EMPTY; 16];
    let resp = Message::parse(&rs[..m], &mut h2).unwrap();
    assert_eq!(
        fresh.handle_response(secs(0), &resp),
        Ok(Outcome::Unchanged)
    );
    let m = status_only(&mut rs, &reinvite, StatusCode::RINGING);
    let resp = Message::parse(&rs[..m], &mut h2).unwrap();
    assert_eq!(
        fresh.handle_response(secs(0), &resp),
        Ok(Outcome::Provisional)
    );
}

#[test]
fn test_malformed_headers() {
    let mut bob = SessionRefresh::new(Config::DEFAULT);
    let mut rq = [0u8; 1024];
    let mut h1 = [HeaderIndex::EMPTY; 16];
    for (extra, err) in [
        (
            ("Session-Expires", "soon"),
            SessionTimerError::InvalidSessionExpires,
        ),
        (
            ("Session-Expires", "1800;refresher=me"),
            SessionTimerError::InvalidSessionExpires,
        ),
        (("Min-SE", "-5"), SessionTimerError::InvalidMinSe),
    ] {
        let n = raw_request(&mut rq, &[("Supported", "timer"), extra]);
        let invite = Message::parse(&rq[..n], &mut h1).unwrap();
        assert_eq!(bob.handle_request(&invite), Err(err));
        assert_eq!(err.status(), Some(StatusCode::BAD_REQUEST));
    }

    // A 2xx with a broken Session-Expires is reported; the timers are untouched.
    let mut alice = SessionRefresh::new(Config::DEFAULT);
    alice.start(secs(0), 1800, Party::Local);
    let n = raw_request(&mut rq, &[]);
    let invite = Message::parse(&rq[..n], &mut h1).unwrap();
    let mut rs = [0u8; 1024];
    let mut w =
        Writer::response_to(SliceSink::new(&mut rs), &invite, StatusCode::OK, "", None).unwrap();
    w.header("Session-Expires", "x").unwrap();
    let m = w.finish(b"").unwrap().len();
    let mut h2 = [HeaderIndex::EMPTY; 16];
    let ok = Message::parse(&rs[..m], &mut h2).unwrap();
    assert_eq!(
        alice.handle_response(secs(5), &ok),
        Err(SessionTimerError::InvalidSessionExpires)
    );
    assert_eq!(alice.poll_timeout(), Some(secs(900)));
}

#[test]
fn test_no_allocations() {
    assert!(alloc_counter::is_installed());
    let (_, count) = alloc_counter::allocations(|| {
        let mut alice = SessionRefresh::new(Config {
            session_expires: 500,
            ..Config::DEFAULT
        });
        let mut bob = SessionRefresh::new(Config {
            min_se: 1000,
            ..Config::DEFAULT
        });
        let mut rq = [0u8; 1024];
        let mut rs = [0u8; 1024];
        let mut h1 = [HeaderIndex::EMPTY; 16];
        let mut h2 = [HeaderIndex::EMPTY; 16];
        let n = request(&mut rq, Method::Invite, &alice.request_headers());
        let invite = Message::parse(&rq[..n], &mut h1).unwrap();
        let answer = bob.handle_request(&invite).unwrap();
        let m = response(&mut rs, &invite, &answer);
        let resp = Message::parse(&rs[..m], &mut h2).unwrap();
        let Ok(Outcome::Retry(_)) = alice.handle_response(secs(0), &resp) else {
            panic!()
        };
        let out = exchange(&mut alice, &mut bob, secs(1));
        assert!(matches!(out, Outcome::Running { interval: 1000, .. }));
        alice.handle_timeout(secs(501));
        assert!(matches!(alice.poll_action(), Some(Action::Refresh { .. })));
        exchange(&mut alice, &mut bob, secs(501));
        bob.handle_timeout(secs(501 + 968));
        assert_eq!(bob.poll_action(), Some(Action::Expired));
    });
    assert_eq!(count, 0);
}
