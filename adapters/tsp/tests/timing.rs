//! The link and its timing on the virtual clock: request timeouts, the keep-alive,
//! the link dropping and coming back (back-off, resynchronisation), a refused login,
//! the server ending the session, a line out of service, the request window and
//! invokeIDs wrapping.

#[macro_use]
mod common;

use std::time::Duration;

use common::*;
use ucsta_tsp::provider::{DownReason, LinkCommand, ProviderEvent};

const S: Duration = Duration::from_secs(1);

fn connected(h: &mut Harness) -> usize {
    let (_, c) = h.make_call(0, Some("202")).unwrap();
    h.answer("MakeCall", &make_call_response("C1", L0));
    h.event(0, &ev::service_initiated("C1", L0, "makeCall"));
    h.event(0, &ev::established_far("C1", L0, "202"));
    h.clear();
    c
}

fn retry_in(events: &[ProviderEvent]) -> Vec<(DownReason, Duration)> {
    events
        .iter()
        .filter_map(|e| match e {
            ProviderEvent::LinkDown { reason, retry_in } => Some((*reason, *retry_in)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_request_without_answer_fails_after_the_timeout() {
    let mut h = Harness::remote();
    let c = connected(&mut h);
    let req = h.hold(c).unwrap();
    h.sent();
    h.advance(S * 14);
    h.assert_quiet();
    h.advance(S);
    assert_eq!(
        h.tapi(),
        [format!("COMPLETE req{req} LINEERR_OPERATIONFAILED")]
    );
    // The late answer finds no request: nothing more.
    let o = h.take_outstanding("HoldCall");
    h.frame(o.invoke, &ok("HoldCall"));
    h.assert_quiet();
    h.assert_completed_once();
    // The session is still up.
    assert!(h.p.session_up());
}

#[test]
fn keep_alive_at_half_the_granted_duration() {
    let mut h = Harness::boot(remote(&[L0]), &[]);
    h.answer_start(60);
    h.sync_all();
    h.open(0);
    h.clear();
    h.advance(S * 29);
    h.assert_quiet();
    h.advance(S);
    expect!(
        h.sent(),
        ["ResetApplicationSessionTimer{sessionID=S1 requestedSessionDuration=60}"]
    );
    h.answer(
        "ResetApplicationSessionTimer",
        &format!(r#"<ResetApplicationSessionTimerPosResponse xmlns="{NS354}"><actualSessionDuration>60</actualSessionDuration></ResetApplicationSessionTimerPosResponse>"#),
    );
    h.advance(S * 29);
    h.assert_quiet();
    h.advance(S);
    expect!(
        h.sent(),
        ["ResetApplicationSessionTimer{sessionID=S1 requestedSessionDuration=60}"]
    );
    // This one goes unanswered: the session is given up when its answer is overdue.
    h.status_messages(0);
    h.advance(S * 14);
    h.assert_quiet();
    h.advance(S);
    expect!(h.tapi(), ["LINEDEVSTATE line0 OUTOFSERVICE"]);
    assert_eq!(h.take_link(), [LinkCommand::Close]);
    let down = retry_in(&h.take_events());
    assert_eq!(down.len(), 1);
    assert_eq!(down[0].0, DownReason::Timeout);
    assert!(!h.p.session_up());
}

#[test]
fn link_drop_takes_everything_down_once_and_resync_brings_it_back() {
    let mut h = Harness::remote();
    h.status_messages(0);
    h.status_messages(1);
    let c = connected(&mut h);
    // Requests in flight and queued when the link drops.
    let hold = h.hold(c).unwrap();
    let fwd_req = h
        .forward(
            1,
            Some(&[fwd(ucsta_tsp::tapi::LINEFORWARDMODE_UNCOND, None)]),
            0,
        )
        .unwrap();
    let (mc, _) = h.make_call(1, Some("201")).unwrap();
    h.clear();
    h.link_down();
    expect!(
        h.tapi(),
        [
            "COMPLETE req2 LINEERR_OPERATIONFAILED",
            "COMPLETE req3 LINEERR_OPERATIONFAILED",
            "COMPLETE req4 LINEERR_OPERATIONFAILED",
            "CALLSTATE call#1 IDLE",
            "LINEDEVSTATE line0 OUTOFSERVICE",
            "LINEDEVSTATE line1 OUTOFSERVICE"
        ]
    );
    assert_eq!(
        [hold, fwd_req, mc]
            .iter()
            .map(|r| h.completions[r].clone())
            .collect::<Vec<_>>(),
        vec![vec![ucsta_tsp::tapi::LINEERR_OPERATIONFAILED as i32]; 3]
    );
    h.assert_completed_once();
    assert_eq!(h.take_link(), []);
    let down = retry_in(&h.take_events());
    assert_eq!(down.len(), 1);
    assert_eq!(down[0].0, DownReason::Transport);
    // Requests now fail at once; TAPI keeps its lines open.
    assert_eq!(
        h.make_call(0, Some("202")).map(|_| ()).map_err(err),
        Err("LINEERR_INVALLINESTATE".to_owned())
    );
    // The reconnect back-off: 1 s, 2 s, 4 s ... within ±25 %, while attempts fail.
    let mut delays = vec![down[0].1];
    for _ in 0..6 {
        let wait = *delays.last().unwrap();
        h.advance(wait - Duration::from_millis(1));
        assert_eq!(h.take_link(), [], "too early");
        h.advance(Duration::from_millis(1));
        assert_eq!(h.take_link(), [LinkCommand::Connect]);
        h.link_down();
        let down = retry_in(&h.take_events());
        assert_eq!(down.len(), 1);
        delays.push(down[0].1);
    }
    for (i, d) in delays.iter().enumerate() {
        let base = 1000u128 << i;
        let ms = d.as_millis();
        assert!(
            ms >= base * 3 / 4 && ms <= base * 5 / 4,
            "attempt {i}: {ms} ms, delays {delays:?}"
        );
    }
    // A connect that never completes counts as failed after 10 s.
    h.advance(*delays.last().unwrap());
    assert_eq!(h.take_link(), [LinkCommand::Connect]);
    h.advance(S * 10);
    assert_eq!(h.take_link(), [LinkCommand::Close]);
    let down = retry_in(&h.take_events());
    assert_eq!(down[0].0, DownReason::Timeout);
    // This time the session comes up; the phone has a call going.
    h.advance(down[0].1);
    assert_eq!(h.take_link(), [LinkCommand::Connect]);
    h.link_up();
    h.answer_start(120);
    h.answer_monitor(0);
    h.answer_monitor(1);
    h.answer("SnapshotDevice", &snapshot(&[("C9", L0, "connected")]));
    h.sync_all();
    expect!(
        h.tapi(),
        [
            "LINEDEVSTATE line0 INSERVICE",
            "NEWCALL line0 call#4",
            "CALLSTATE call#4 CONNECTED ACTIVE",
            "LINEDEVSTATE line1 INSERVICE"
        ]
    );
    assert!(
        h.take_events()
            .iter()
            .any(|e| matches!(e, ProviderEvent::Synchronised))
    );
    // The back-off starts over after a session.
    h.link_down();
    let down = retry_in(&h.take_events());
    let ms = down[0].1.as_millis();
    assert!((750..=1250).contains(&ms), "{ms} ms");
}

#[test]
fn refused_login_backs_off_long_and_keeps_lines_out_of_service() {
    let mut h = Harness::boot(remote(&[L0]), &[]);
    h.open(0);
    h.status_messages(0);
    h.clear();
    h.answer(
        "StartApplicationSession",
        &format!(r#"<StartApplicationSessionNegResponse xmlns="{NS354}"><errorCode><definedError>invalidApplicationInfo</definedError></errorCode></StartApplicationSessionNegResponse>"#),
    );
    assert_eq!(h.take_link(), [LinkCommand::Close]);
    let down = retry_in(&h.take_events());
    assert_eq!(down.len(), 1);
    assert_eq!(down[0].0, DownReason::LoginRefused);
    assert!(down[0].1 >= S * 45, "{:?}", down[0].1);
    assert!(!h.p.in_service(ucsta_tsp::provider::LineId::new(0)));
    h.assert_quiet();
    h.advance(S * 30);
    assert_eq!(h.take_link(), []);
}

#[test]
fn server_ends_the_session() {
    let mut h = Harness::remote();
    h.status_messages(0);
    let _ = connected(&mut h);
    h.frame(
        77,
        &format!(r#"<StopApplicationSession xmlns="{NS354}"><sessionID>S1</sessionID><sessionEndReason><definedEndReason>normal</definedEndReason></sessionEndReason></StopApplicationSession>"#),
    );
    assert_eq!(
        h.sent_with_ids(),
        [(77, "StopApplicationSessionPosResponse".to_owned())]
    );
    assert_eq!(h.take_link(), [LinkCommand::Close]);
    expect!(
        h.tapi(),
        ["CALLSTATE call#1 IDLE", "LINEDEVSTATE line0 OUTOFSERVICE"]
    );
    let down = retry_in(&h.take_events());
    assert_eq!(down[0].0, DownReason::ServerEnded);
    h.advance(down[0].1);
    assert_eq!(h.take_link(), [LinkCommand::Connect]);
}

#[test]
fn a_line_out_of_service_and_back() {
    let mut h = Harness::remote();
    h.status_messages(0);
    h.status_messages(1);
    let _ = connected(&mut h);
    h.event(0, &ev::out_of_service(L0));
    expect!(
        h.tapi(),
        ["CALLSTATE call#1 IDLE", "LINEDEVSTATE line0 OUTOFSERVICE"]
    );
    // Events of other kinds are ignored meanwhile.
    h.event(0, &ev::delivered_in("C5", L0, "300", "newCall"));
    h.assert_quiet();
    h.event(0, &ev::back_in_service(L0));
    expect!(
        h.sent(),
        ["SnapshotDevice{snapshotObject=sip:201@pbx.example}"]
    );
    h.answer("SnapshotDevice", &snapshot(&[("C5", L0, "alerting")]));
    expect!(
        h.tapi(),
        [
            "LINEDEVSTATE line0 INSERVICE",
            "NEWCALL line0 call#2",
            "CALLSTATE call#2 OFFERING ACTIVE"
        ]
    );
    h.sync_all();
    assert!(h.p.in_service(ucsta_tsp::provider::LineId::new(0)));
    assert!(h.p.in_service(ucsta_tsp::provider::LineId::new(1)));
}

/// The server ends a line's monitor (the device left its configuration): answered, the
/// line out of service, its monitor asked for again 30 s later.
#[test]
fn server_stops_a_monitor() {
    let mut h = Harness::remote();
    h.status_messages(0);
    let _ = connected(&mut h);
    let xref = common::xref_of(0);
    h.frame(
        41,
        &format!("<MonitorStop><monitorCrossRefID>{xref}</monitorCrossRefID></MonitorStop>"),
    );
    assert_eq!(h.sent_with_ids(), [(41, "MonitorStopResponse".to_owned())]);
    expect!(
        h.tapi(),
        ["CALLSTATE call#1 IDLE", "LINEDEVSTATE line0 OUTOFSERVICE"]
    );
    // Its events are no longer the line's.
    h.event(0, &ev::delivered_in("C5", L0, "300", "newCall"));
    h.assert_quiet();
    h.advance(Duration::from_secs(30));
    expect!(
        h.sent(),
        ["MonitorStart{monitorObject{deviceObject=sip:201@pbx.example}}"]
    );
}

#[test]
fn requests_beyond_the_window_wait_in_order() {
    let mut config = remote(&[L0, L1]);
    config.max_outstanding = 2;
    let mut h = Harness::new(config);
    for dest in ["301", "302", "303", "304", "305"] {
        h.make_call(0, Some(dest)).unwrap();
    }
    let called = |h: &mut Harness| -> Vec<String> {
        h.sent()
            .iter()
            .map(|s| s.split("calledDirectoryNumber=").nth(1).unwrap()[..3].to_owned())
            .collect()
    };
    assert_eq!(called(&mut h), ["301", "302"]);
    h.answer("MakeCall", &make_call_response("C1", L0));
    assert_eq!(called(&mut h), ["303"]);
    h.answer("MakeCall", &csta_error("operation", "generic"));
    assert_eq!(called(&mut h), ["304"]);
    // A timeout frees the window too.
    h.advance(S * 15);
    assert_eq!(called(&mut h), ["305"]);
    expect!(
        h.tapi(),
        [
            "COMPLETE req1 0",
            "CALLINFO call#1 CALLEDID",
            "COMPLETE req2 LINEERR_OPERATIONFAILED",
            "COMPLETE req3 LINEERR_OPERATIONFAILED",
            "COMPLETE req4 LINEERR_OPERATIONFAILED"
        ]
    );
}

#[test]
fn invoke_ids_wrap_past_9998_without_colliding() {
    let mut config = remote(&[L0]);
    config.request_timeout = Duration::from_secs(100_000);
    let mut h = Harness::new(config);
    // Line sync used IDs 1..=5 (Start, Monitor, Snapshot, DND, Forwarding).
    let c = connected(&mut h);
    // MakeCall was 6. Keep 7 and 8 outstanding.
    h.hold(c).unwrap();
    h.make_call(0, Some("203")).unwrap();
    let held: Vec<u16> = h.sent_with_ids().iter().map(|(i, _)| *i).collect();
    assert_eq!(held, [7, 8]);
    // Many more, each answered at once.
    let mut last = 0;
    for _ in 0..9990 {
        h.generate(c, 2, "2").unwrap();
        let sent = h.sent_with_ids();
        assert_eq!(sent.len(), 1);
        last = sent[0].0;
        h.answer("GenerateDigits", &ok("GenerateDigits"));
    }
    assert_eq!(last, 9998);
    h.generate(c, 3, "3").unwrap();
    h.generate(c, 3, "3").unwrap();
    h.generate(c, 3, "3").unwrap();
    let ids: Vec<u16> = h.sent_with_ids().iter().map(|(i, _)| *i).collect();
    assert_eq!(ids, [1, 2, 3]);
    // And once more around: 7 and 8 are still outstanding and are skipped.
    for _ in 0..3 {
        h.answer("GenerateDigits", &ok("GenerateDigits"));
    }
    let mut seen = Vec::new();
    for _ in 0..6 {
        h.generate(c, 4, "4").unwrap();
        seen.extend(h.sent_with_ids().iter().map(|(i, _)| *i));
        h.answer("GenerateDigits", &ok("GenerateDigits"));
    }
    assert_eq!(seen, [4, 5, 6, 9, 10, 11]);
}

#[test]
fn shutdown_stops_the_session_and_fails_what_is_open() {
    let mut h = Harness::remote();
    let c = connected(&mut h);
    let req = h.hold(c).unwrap();
    h.clear();
    h.run(|p, now| p.shutdown(now));
    expect!(h.sent(), ["StopApplicationSession{sessionID=S1}"]);
    assert_eq!(h.take_link(), [LinkCommand::Close]);
    expect!(
        h.tapi(),
        [
            "COMPLETE req2 LINEERR_OPERATIONFAILED",
            "CALLSTATE call#1 IDLE"
        ]
    );
    assert_eq!(h.completions[&req].len(), 1);
    assert_eq!(h.take_events(), []);
    // No reconnect after a shutdown.
    h.advance(S * 120);
    assert_eq!(h.take_link(), []);
}

/// Outlook calls lineMakeCall right after lineOpen, while the line still synchronises:
/// the snapshot asked for before the call existed must not end it.
#[test]
fn make_call_while_the_snapshot_is_outstanding() {
    let mut h = Harness::boot(client(L0), &[]);
    h.answer_start(120);
    h.answer_monitor(0);
    h.open(0);
    h.clear();
    let (req, c) = h.make_call(0, Some("202")).unwrap();
    h.answer("MakeCall", &make_call_response("C1", L0));
    h.event(0, &ev::service_initiated("C1", L0, "makeCall"));
    h.event(0, &ev::originated("C1", L0, "202", "makeCall"));
    // The snapshot the server took before the call: no calls.
    h.answer("SnapshotDevice", &snapshot(&[]));
    h.sync_all();
    let tapi = h.tapi();
    assert!(tapi.contains(&format!("COMPLETE req{req} 0")), "{tapi:?}");
    assert!(
        !tapi
            .iter()
            .any(|l| l.contains("IDLE") || l.contains("NEWCALL")),
        "the call survives the older snapshot: {tapi:?}"
    );
    h.event(0, &ev::delivered_far("C1", L0, "202"));
    assert_eq!(h.tapi(), [format!("CALLSTATE call#{c} RINGBACK")]);
}

/// lineMakeCall before the session is up: the line's MonitorStart goes first once it
/// is, so the server monitors the line before it places the call and the call's
/// first event (ServiceInitiated) reaches TAPI.
#[test]
fn make_call_before_the_session_goes_after_the_monitor() {
    let mut h = Harness::boot(client(L0), &[]);
    h.open(0);
    h.clear();
    let _ = h.make_call(0, Some("202")).unwrap();
    assert_eq!(h.outstanding_names(), ["StartApplicationSession"]);
    h.answer_start(120);
    let names = h.outstanding_names();
    assert_eq!(names, ["MonitorStart", "MakeCall"], "{names:?}");
}

/// A phone that is offline when the provider starts: OutOfServiceEvent on the new
/// monitor, then the snapshot refused; the line stays out of service until
/// BackInServiceEvent.
#[test]
fn a_line_whose_phone_is_offline_at_start() {
    let mut h = Harness::boot(client(L0), &[]);
    h.answer_start(120);
    h.answer_monitor(0);
    h.open(0);
    h.status_messages(0);
    h.clear();
    h.event(0, &ev::out_of_service(L0));
    h.answer(
        "SnapshotDevice",
        &csta_error("systemResourceAvailibility", "deviceOutOfService"),
    );
    assert!(
        h.outstanding_names().is_empty(),
        "{:?}",
        h.outstanding_names()
    );
    assert!(!h.p.in_service(ucsta_tsp::provider::LineId::new(0)));
    expect!(h.tapi(), []);
    h.event(0, &ev::back_in_service(L0));
    h.answer("SnapshotDevice", &snapshot(&[]));
    expect!(h.tapi(), ["LINEDEVSTATE line0 INSERVICE"]);
    h.sync_all();
    assert!(h.p.in_service(ucsta_tsp::provider::LineId::new(0)));
}
