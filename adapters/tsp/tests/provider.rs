//! The ECMA-269 sequences of PROTOCOL.md section 5 as a phone emits them, through the
//! provider to TAPI, on a remote-role line and on a client-role line: every TAPI
//! message, every CSTA request with its values.

#[macro_use]
mod common;

use common::*;
use ucsta_tsp::tapi;

/// Both roles: the scenario runs on line 0 (device [`L0`]) of each.
fn roles() -> Vec<(&'static str, Harness)> {
    vec![("remote", Harness::remote()), ("client", Harness::client())]
}

/// A call made through TAPI and connected to 202 as `C1` (events after the
/// response); TAPI's call is `call#1`.
fn connected_out(h: &mut Harness) -> usize {
    let (_, c) = h.make_call(0, Some("202")).unwrap();
    h.answer("MakeCall", &make_call_response("C1", L0));
    for e in [
        ev::service_initiated("C1", L0, "makeCall"),
        ev::originated("C1", L0, "202", "makeCall"),
        ev::delivered_far("C1", L0, "202"),
        ev::established_far("C1", L0, "202"),
    ] {
        h.event(0, &e);
    }
    assert_eq!(h.state(c), "CONNECTED");
    h.clear();
    c
}

/// An incoming call `C5` from 300, answered: TAPI's call is the one offered.
fn connected_in(h: &mut Harness, call: &str) -> usize {
    h.event(0, &ev::delivered_in(call, L0, "300", "newCall"));
    let c = *h.hts().last().unwrap();
    let req = h.answer_call(c).unwrap();
    h.answer("AnswerCall", &ok("AnswerCall"));
    h.event(0, &ev::established_in(call, L0, "300"));
    assert_eq!(h.state(c), "CONNECTED");
    let _ = req;
    h.clear();
    c
}

// ------------------------------------------------------------------ 1. MakeCall

#[test]
fn make_call_events_after_the_response() {
    for (role, mut h) in roles() {
        let (req, c) = h.make_call(0, Some("T202")).unwrap();
        assert_eq!((req, c), (1, 1), "{role}");
        expect!(
            h.sent(),
            [
                "MakeCall{callingDevice=sip:201@pbx.example calledDirectoryNumber=202 autoOriginate=doNotPrompt}"
            ]
        );
        expect!(h.tapi(), []);
        h.answer("MakeCall", &make_call_response("C1", L0));
        expect!(h.tapi(), ["COMPLETE req1 0", "CALLINFO call#1 CALLEDID"]);
        h.event(0, &ev::service_initiated("C1", L0, "makeCall"));
        expect!(h.tapi(), ["CALLSTATE call#1 DIALTONE NORMAL"]);
        h.event(0, &ev::originated("C1", L0, "202", "makeCall"));
        expect!(
            h.tapi(),
            ["CALLSTATE call#1 PROCEEDING", "CALLINFO call#1 CALLEDID"]
        );
        h.event(0, &ev::delivered_far("C1", L0, "202"));
        expect!(h.tapi(), ["CALLSTATE call#1 RINGBACK"]);
        h.event(0, &ev::established_far("C1", L0, "202"));
        expect!(
            h.tapi(),
            [
                "CALLSTATE call#1 CONNECTED ACTIVE",
                "CALLINFO call#1 CONNECTEDID"
            ]
        );
        h.event(0, &ev::cleared("C1", L0, "normalClearing"));
        expect!(
            h.tapi(),
            [
                "CALLSTATE call#1 DISCONNECTED NORMAL",
                "CALLSTATE call#1 IDLE"
            ]
        );
        h.assert_quiet();
        h.close_call(c);
        h.assert_quiet();
    }
}

#[test]
fn make_call_events_before_the_response() {
    for (role, mut h) in roles() {
        let (_, c) = h.make_call(0, Some("202")).unwrap();
        expect!(
            h.sent(),
            [
                "MakeCall{callingDevice=sip:201@pbx.example calledDirectoryNumber=202 autoOriginate=doNotPrompt}"
            ]
        );
        for e in [
            ev::service_initiated("C1", L0, "makeCall"),
            ev::originated("C1", L0, "202", "makeCall"),
            ev::delivered_far("C1", L0, "202"),
        ] {
            h.event(0, &e);
            expect!(h.tapi(), []);
        }
        h.answer("MakeCall", &make_call_response("C1", L0));
        expect!(
            h.tapi(),
            [
                "COMPLETE req1 0",
                "CALLSTATE call#1 RINGBACK",
                "CALLINFO call#1 CALLEDID"
            ]
        );
        h.event(0, &ev::established_far("C1", L0, "202"));
        expect!(
            h.tapi(),
            [
                "CALLSTATE call#1 CONNECTED ACTIVE",
                "CALLINFO call#1 CONNECTEDID"
            ]
        );
        assert_eq!(h.state(c), "CONNECTED", "{role}");
        h.assert_quiet();
    }
}

#[test]
fn make_call_whose_call_ends_before_the_response() {
    // A fast failure: the phone reports the whole call before the MakeCallResponse.
    for (role, mut h) in roles() {
        let (_, c) = h.make_call(0, Some("202")).unwrap();
        h.sent();
        for e in [
            ev::service_initiated("C1", L0, "makeCall"),
            ev::originated("C1", L0, "202", "makeCall"),
            ev::failed("C1", L0, "202", "busy"),
            ev::cleared("C1", L0, "busy"),
        ] {
            h.event(0, &e);
        }
        expect!(h.tapi(), []);
        h.answer("MakeCall", &make_call_response("C1", L0));
        // TAPI has the call since lineMakeCall returned: it must see it end.
        expect!(
            h.tapi(),
            [
                "COMPLETE req1 0",
                "CALLSTATE call#1 DISCONNECTED BUSY",
                "CALLSTATE call#1 IDLE"
            ]
        );
        assert_eq!(h.state(c), "IDLE", "{role}");
        h.assert_quiet();
    }
}

#[test]
fn make_call_failures_map_causes() {
    // FailedEvent, then the phone clears its side with the same cause.
    let table: [(&str, &str, &[&str]); 9] = [
        ("busy", "BUSY STATION", &["DISCONNECTED BUSY", "IDLE"]),
        ("numberUnallocated", "DISCONNECTED BADADDRESS", &["IDLE"]),
        ("callNotAnswered", "DISCONNECTED NOANSWER", &["IDLE"]),
        ("destNotObtainable", "DISCONNECTED BADADDRESS", &["IDLE"]),
        ("doNotDisturb", "DISCONNECTED DONOTDISTURB", &["IDLE"]),
        ("networkCongestion", "DISCONNECTED CONGESTION", &["IDLE"]),
        ("invalidNumberFormat", "DISCONNECTED BADADDRESS", &["IDLE"]),
        (
            "trunksBusy",
            "BUSY STATION",
            &["DISCONNECTED CONGESTION", "IDLE"],
        ),
        ("vendorSpecific", "DISCONNECTED UNKNOWN", &["IDLE"]),
    ];
    for (cause, failed, cleared) in table {
        for (role, mut h) in roles() {
            let (_, c) = h.make_call(0, Some("202")).unwrap();
            h.answer("MakeCall", &make_call_response("C1", L0));
            h.event(0, &ev::service_initiated("C1", L0, "makeCall"));
            h.event(0, &ev::originated("C1", L0, "202", "makeCall"));
            h.clear();
            h.event(0, &ev::failed("C1", L0, "202", cause));
            assert_eq!(
                h.tapi(),
                [format!("CALLSTATE call#1 {failed}")],
                "{role} {cause}"
            );
            assert_eq!(h.features(c), "DROP", "{role} {cause}");
            h.event(0, &ev::cleared("C1", L0, cause));
            let want: Vec<String> = cleared
                .iter()
                .map(|s| format!("CALLSTATE call#1 {s}"))
                .collect();
            assert_eq!(h.tapi(), want, "{role} {cause}");
            assert_eq!(h.features(c), "0", "{role} {cause}");
        }
    }
}

/// A call refused busy (do-not-disturb) that the phone then clears with
/// `normalClearing` ends DISCONNECTED BUSY, not NORMAL.
#[test]
fn busy_call_cleared_normally_disconnects_busy() {
    for (role, mut h) in roles() {
        let _ = h.make_call(0, Some("202")).unwrap();
        h.answer("MakeCall", &make_call_response("C1", L0));
        h.event(0, &ev::service_initiated("C1", L0, "makeCall"));
        h.event(0, &ev::failed("C1", L0, "202", "busy"));
        h.clear();
        h.event(0, &ev::cleared("C1", L0, "normalClearing"));
        assert_eq!(
            h.tapi(),
            [
                "CALLSTATE call#1 DISCONNECTED BUSY",
                "CALLSTATE call#1 IDLE"
            ],
            "{role}"
        );
    }
}

#[test]
fn make_call_refused_by_the_server_drops_the_call() {
    for (role, mut h) in roles() {
        let (_, c) = h.make_call(0, Some("202")).unwrap();
        h.sent();
        h.answer("MakeCall", &csta_error("operation", "invalidDestination"));
        expect!(h.tapi(), ["COMPLETE req1 LINEERR_INVALADDRESS"]);
        assert!(h.p.call_status(h.call(c)).is_err(), "{role}");
        // An event for the call the phone still reports is a call of its own.
        h.assert_quiet();
    }
}

#[test]
fn make_call_without_number_waits_in_dialtone_then_dials() {
    for (role, mut h) in roles() {
        let (_, c) = h.make_call(0, None).unwrap();
        expect!(h.sent(), []);
        expect!(
            h.tapi(),
            ["COMPLETE req1 0", "CALLSTATE call#1 DIALTONE NORMAL"]
        );
        assert!(h.features(c).contains("DIAL"), "{role}");
        let req = h.dial(c, "20;").unwrap();
        let _ = req;
        // Partial dialling: "20;" waits for more.
        expect!(h.tapi(), ["COMPLETE req2 0"]);
        h.dial(c, "2;").unwrap();
        expect!(h.tapi(), ["COMPLETE req3 0"]);
        h.dial(c, "3").unwrap();
        expect!(
            h.sent(),
            [
                "MakeCall{callingDevice=sip:201@pbx.example calledDirectoryNumber=2023 autoOriginate=doNotPrompt}"
            ]
        );
        h.answer("MakeCall", &make_call_response("C7", L0));
        expect!(h.tapi(), ["COMPLETE req4 0", "CALLINFO call#1 CALLEDID"]);
        h.event(0, &ev::service_initiated("C7", L0, "makeCall"));
        h.event(0, &ev::originated("C7", L0, "2023", "makeCall"));
        expect!(
            h.tapi(),
            ["CALLSTATE call#1 PROCEEDING", "CALLINFO call#1 CALLEDID"]
        );
        // A second lineDial on a placed call: CSTA has no overlap dialling.
        assert_eq!(
            h.dial(c, "4").map(|_| ()).map_err(err),
            Err("LINEERR_INVALCALLSTATE".into())
        );
    }
}

#[test]
fn dropping_a_dialtone_call_ends_it_without_csta() {
    let mut h = Harness::remote();
    let (_, c) = h.make_call(0, None).unwrap();
    h.clear();
    h.drop_call(c).unwrap();
    expect!(
        h.tapi(),
        [
            "COMPLETE req2 0",
            "CALLSTATE call#1 DISCONNECTED NORMAL",
            "CALLSTATE call#1 IDLE"
        ]
    );
    h.assert_quiet();
}

#[test]
fn post_dial_digits_go_out_once_connected() {
    for (role, mut h) in roles() {
        let (_, _c) = h.make_call(0, Some("202,,123#")).unwrap();
        expect!(
            h.sent(),
            [
                "MakeCall{callingDevice=sip:201@pbx.example calledDirectoryNumber=202 autoOriginate=doNotPrompt}"
            ]
        );
        h.answer("MakeCall", &make_call_response("C1", L0));
        h.event(0, &ev::service_initiated("C1", L0, "makeCall"));
        h.event(0, &ev::originated("C1", L0, "202", "makeCall"));
        h.event(0, &ev::delivered_far("C1", L0, "202"));
        expect!(h.sent(), []);
        h.event(0, &ev::established_far("C1", L0, "202"));
        expect!(
            h.sent(),
            [
                "GenerateDigits{connectionToSendDigits{callID=C1 deviceID=sip:201@pbx.example} charactersToSend=123#}"
            ]
        );
        h.answer("GenerateDigits", &ok("GenerateDigits"));
        // No LINE_GENERATE: TAPI did not ask for these digits.
        expect!(
            h.tapi(),
            [
                "COMPLETE req1 0",
                "CALLINFO call#1 CALLEDID",
                "CALLSTATE call#1 DIALTONE NORMAL",
                "CALLSTATE call#1 PROCEEDING",
                "CALLINFO call#1 CALLEDID",
                "CALLSTATE call#1 RINGBACK",
                "CALLSTATE call#1 CONNECTED ACTIVE",
                "CALLINFO call#1 CONNECTEDID"
            ]
        );
        let _ = role;
    }
}

// ------------------------------------------------------------------ 2. incoming

#[test]
fn incoming_call_offered_answered_and_cleared() {
    for (role, mut h) in roles() {
        h.event(0, &ev::delivered_in("C5", L0, "300", "newCall"));
        expect!(
            h.tapi(),
            ["NEWCALL line0 call#1", "CALLSTATE call#1 OFFERING ACTIVE"]
        );
        let c = 1;
        let info = h.p.call_info(h.call(c)).unwrap();
        assert_eq!(info.caller.number.as_deref(), Some("300"), "{role}");
        assert_eq!(info.origin, tapi::LINECALLORIGIN_INBOUND, "{role}");
        let req = h.answer_call(c).unwrap();
        expect!(
            h.sent(),
            ["AnswerCall{callToBeAnswered{callID=C5 deviceID=sip:201@pbx.example}}"]
        );
        h.answer("AnswerCall", &ok("AnswerCall"));
        expect!(h.tapi(), ["COMPLETE req1 0"]);
        h.event(0, &ev::established_in("C5", L0, "300"));
        expect!(
            h.tapi(),
            [
                "CALLSTATE call#1 CONNECTED ACTIVE",
                "CALLINFO call#1 CONNECTEDID"
            ]
        );
        h.event(0, &ev::cleared("C5", "300", "normalClearing"));
        expect!(
            h.tapi(),
            [
                "CALLSTATE call#1 DISCONNECTED NORMAL",
                "CALLSTATE call#1 IDLE"
            ]
        );
        let _ = req;
        h.assert_quiet();
    }
}

#[test]
fn incoming_call_caller_gives_up() {
    for (_role, mut h) in roles() {
        h.event(0, &ev::delivered_in("C5", L0, "300", "newCall"));
        h.clear();
        h.event(0, &ev::cleared("C5", L0, "callCancelled"));
        expect!(
            h.tapi(),
            [
                "CALLSTATE call#1 DISCONNECTED CANCELLED",
                "CALLSTATE call#1 IDLE"
            ]
        );
    }
}

#[test]
fn incoming_call_dropped_by_tapi() {
    for (_role, mut h) in roles() {
        let c = connected_in(&mut h, "C5");
        h.drop_call(c).unwrap();
        expect!(
            h.sent(),
            ["ClearConnection{connectionToBeCleared{callID=C5 deviceID=sip:201@pbx.example}}"]
        );
        h.answer("ClearConnection", &ok("ClearConnection"));
        h.event(0, &ev::cleared("C5", L0, "normalClearing"));
        expect!(
            h.tapi(),
            [
                "COMPLETE req2 0",
                "CALLSTATE call#1 DISCONNECTED NORMAL",
                "CALLSTATE call#1 IDLE"
            ]
        );
    }
}

// ------------------------------------------------------------------ 3. hold

#[test]
fn hold_and_unhold() {
    for (_role, mut h) in roles() {
        let c = connected_out(&mut h);
        h.hold(c).unwrap();
        expect!(
            h.sent(),
            ["HoldCall{callToBeHeld{callID=C1 deviceID=sip:201@pbx.example}}"]
        );
        h.answer("HoldCall", &ok("HoldCall"));
        h.event(0, &ev::held("C1", L0, None));
        expect!(h.tapi(), ["COMPLETE req2 0", "CALLSTATE call#1 ONHOLD"]);
        assert_eq!(h.features(c), "DROP|UNHOLD");
        h.unhold(c).unwrap();
        expect!(
            h.sent(),
            ["RetrieveCall{callToBeRetrieved{callID=C1 deviceID=sip:201@pbx.example}}"]
        );
        h.event(0, &ev::retrieved("C1", L0));
        h.answer("RetrieveCall", &ok("RetrieveCall"));
        expect!(
            h.tapi(),
            ["CALLSTATE call#1 CONNECTED ACTIVE", "COMPLETE req3 0"]
        );
    }
}

// ------------------------------------------------------------------ 4. consultation

/// lineSetupTransfer from `call#1` (C1) and lineDial 203: the consultation call is
/// C2, connected. Returns the consultation call.
fn consulting(h: &mut Harness) -> usize {
    let (req, consult) = h.setup_transfer(1).unwrap();
    expect!(
        h.sent(),
        ["HoldCall{callToBeHeld{callID=C1 deviceID=sip:201@pbx.example}}"]
    );
    h.event(0, &ev::held("C1", L0, None));
    h.answer("HoldCall", &ok("HoldCall"));
    expect!(
        h.tapi(),
        [
            "CALLSTATE call#1 ONHOLDPENDTRANSFER",
            "COMPLETE req2 0",
            "CALLSTATE call#2 DIALTONE NORMAL"
        ]
    );
    let _ = req;
    h.dial(consult, "203").unwrap();
    expect!(
        h.sent(),
        [
            "MakeCall{callingDevice=sip:201@pbx.example calledDirectoryNumber=203 autoOriginate=doNotPrompt}"
        ]
    );
    h.event(0, &ev::service_initiated("C2", L0, "makeCall"));
    h.answer("MakeCall", &make_call_response("C2", L0));
    h.event(0, &ev::originated("C2", L0, "203", "makeCall"));
    h.event(0, &ev::delivered_far("C2", L0, "203"));
    h.event(0, &ev::established_far("C2", L0, "203"));
    expect!(
        h.tapi(),
        [
            "CALLINFO call#2 CALLEDID",
            "COMPLETE req3 0",
            "CALLSTATE call#2 PROCEEDING",
            "CALLINFO call#2 CALLEDID",
            "CALLSTATE call#2 RINGBACK",
            "CALLSTATE call#2 CONNECTED ACTIVE",
            "CALLINFO call#2 CONNECTEDID"
        ]
    );
    consult
}

#[test]
fn setup_transfer_dial_complete_transfer() {
    for (_role, mut h) in roles() {
        let c = connected_out(&mut h);
        let consult = consulting(&mut h);
        assert!(h.features(consult).contains("COMPLETETRANSF"));
        h.complete_transfer(c, consult, tapi::LINETRANSFERMODE_TRANSFER)
            .unwrap();
        expect!(
            h.sent(),
            [
                "TransferCall{heldCall{callID=C1 deviceID=sip:201@pbx.example} activeCall{callID=C2 deviceID=sip:201@pbx.example}}"
            ]
        );
        h.answer(
            "TransferCall",
            &connection_response("TransferCallResponse", "transferredCall", "C1", "203"),
        );
        h.event(0, &ev::transfered("C1", Some("C2"), L0, "203", "transfer"));
        expect!(
            h.tapi(),
            [
                "COMPLETE req4 0",
                "CALLSTATE call#1 IDLE",
                "CALLSTATE call#2 IDLE"
            ]
        );
        h.assert_quiet();
    }
}

/// A vendor's `<TransferCallResponse/>` without its required `transferredCall` still
/// says the transfer was done: the request completes with 0, not OPERATIONFAILED.
#[test]
fn transfer_answered_with_an_empty_response() {
    for (_role, mut h) in roles() {
        let c = connected_out(&mut h);
        let consult = consulting(&mut h);
        h.complete_transfer(c, consult, tapi::LINETRANSFERMODE_TRANSFER)
            .unwrap();
        h.sent();
        h.answer("TransferCall", "<TransferCallResponse/>");
        h.event(0, &ev::transfered("C1", Some("C2"), L0, "203", "transfer"));
        expect!(
            h.tapi(),
            [
                "COMPLETE req4 0",
                "CALLSTATE call#1 IDLE",
                "CALLSTATE call#2 IDLE"
            ]
        );
        h.assert_quiet();
    }
}

#[test]
fn setup_transfer_then_conference_mode() {
    for (_role, mut h) in roles() {
        let c = connected_out(&mut h);
        let consult = consulting(&mut h);
        let (_, conf) = h
            .complete_transfer(c, consult, tapi::LINETRANSFERMODE_CONFERENCE)
            .unwrap();
        let conf = conf.unwrap();
        expect!(
            h.sent(),
            [
                "ConferenceCall{heldCall{callID=C1 deviceID=sip:201@pbx.example} activeCall{callID=C2 deviceID=sip:201@pbx.example}}"
            ]
        );
        h.event(0, &ev::conferenced("C1", "C2", L0, &["202", "203"], "203"));
        expect!(
            h.tapi(),
            [
                "CALLSTATE call#1 CONFERENCED conf=call#3",
                "CALLINFO call#1 RELATEDCALLID",
                "CALLSTATE call#2 CONFERENCED conf=call#3",
                "CALLINFO call#2 RELATEDCALLID"
            ]
        );
        h.answer(
            "ConferenceCall",
            &connection_response("ConferenceCallResponse", "conferenceCall", "C1", L0),
        );
        expect!(
            h.tapi(),
            [
                "COMPLETE req4 0",
                "CALLSTATE call#3 CONNECTED ACTIVE",
                "CALLINFO call#3 CONNECTEDID"
            ]
        );
        expect!(
            h.live(),
            [
                "call#1 CONFERENCED",
                "call#2 CONFERENCED",
                "call#3 CONNECTED"
            ]
        );
        let _ = conf;
    }
}

#[test]
fn setup_transfer_then_conference_mode_response_first() {
    for (_role, mut h) in roles() {
        let c = connected_out(&mut h);
        let consult = consulting(&mut h);
        h.complete_transfer(c, consult, tapi::LINETRANSFERMODE_CONFERENCE)
            .unwrap();
        h.sent();
        h.answer(
            "ConferenceCall",
            &connection_response("ConferenceCallResponse", "conferenceCall", "C1", L0),
        );
        expect!(
            h.tapi(),
            [
                "COMPLETE req4 0",
                "CALLSTATE call#3 ONHOLDPENDCONF",
                "CALLSTATE call#1 CONFERENCED conf=call#3",
                "CALLINFO call#1 RELATEDCALLID",
                "CALLSTATE call#2 CONFERENCED conf=call#3"
            ]
        );
        h.event(0, &ev::conferenced("C1", "C2", L0, &["202", "203"], "203"));
        expect!(
            h.tapi(),
            [
                "CALLINFO call#2 RELATEDCALLID",
                "CALLSTATE call#3 CONNECTED ACTIVE",
                "CALLINFO call#3 CONNECTEDID"
            ]
        );
        expect!(
            h.live(),
            [
                "call#1 CONFERENCED",
                "call#2 CONFERENCED",
                "call#3 CONNECTED"
            ]
        );
    }
}

#[test]
fn swap_hold_between_consultation_and_primary() {
    for (_role, mut h) in roles() {
        let c = connected_out(&mut h);
        let consult = consulting(&mut h);
        h.swap_hold(consult, c).unwrap();
        expect!(
            h.sent(),
            [
                "AlternateCall{heldCall{callID=C1 deviceID=sip:201@pbx.example} activeCall{callID=C2 deviceID=sip:201@pbx.example}}"
            ]
        );
        h.event(0, &ev::held("C2", L0, None));
        h.event(0, &ev::retrieved("C1", L0));
        h.answer("AlternateCall", &ok("AlternateCall"));
        expect!(
            h.tapi(),
            [
                "CALLSTATE call#2 ONHOLD",
                "CALLSTATE call#1 CONNECTED ACTIVE",
                "COMPLETE req4 0"
            ]
        );
        expect!(h.live(), ["call#1 CONNECTED", "call#2 ONHOLD"]);
    }
}

#[test]
fn consultation_dropped_returns_to_the_held_call() {
    for (_role, mut h) in roles() {
        let c = connected_out(&mut h);
        let consult = consulting(&mut h);
        h.drop_call(consult).unwrap();
        h.answer("ClearConnection", &ok("ClearConnection"));
        h.event(0, &ev::cleared("C2", L0, "normalClearing"));
        expect!(
            h.tapi(),
            [
                "COMPLETE req4 0",
                "CALLSTATE call#2 DISCONNECTED NORMAL",
                "CALLSTATE call#2 IDLE",
                "CALLSTATE call#1 ONHOLD"
            ]
        );
        h.unhold(c).unwrap();
        h.event(0, &ev::retrieved("C1", L0));
        h.answer("RetrieveCall", &ok("RetrieveCall"));
        expect!(
            h.tapi(),
            ["CALLSTATE call#1 CONNECTED ACTIVE", "COMPLETE req5 0"]
        );
    }
}

// ------------------------------------------------------------------ 5. blind transfer

#[test]
fn blind_transfer() {
    for (_role, mut h) in roles() {
        let c = connected_out(&mut h);
        h.blind_transfer(c, "204").unwrap();
        expect!(
            h.sent(),
            [
                "SingleStepTransferCall{activeCall{callID=C1 deviceID=sip:201@pbx.example} transferredTo=204}"
            ]
        );
        h.event(
            0,
            &ev::transfered("C1", None, L0, "204", "singleStepTransfer"),
        );
        h.answer(
            "SingleStepTransferCall",
            &connection_response(
                "SingleStepTransferCallResponse",
                "transferredCall",
                "C1",
                "204",
            ),
        );
        expect!(h.tapi(), ["CALLSTATE call#1 IDLE", "COMPLETE req2 0"]);
    }
}

// ------------------------------------------------------------------ 6. conference

#[test]
fn setup_conference_dial_add_a_party_leaves_remove() {
    for (_role, mut h) in roles() {
        let c = connected_out(&mut h);
        let (_, conf, consult) = h.setup_conference(c).unwrap();
        expect!(
            h.sent(),
            ["HoldCall{callToBeHeld{callID=C1 deviceID=sip:201@pbx.example}}"]
        );
        h.event(0, &ev::held("C1", L0, None));
        h.answer("HoldCall", &ok("HoldCall"));
        expect!(
            h.tapi(),
            [
                "CALLSTATE call#1 CONFERENCED conf=call#2",
                "COMPLETE req2 0",
                "CALLSTATE call#2 ONHOLDPENDCONF",
                "CALLSTATE call#3 DIALTONE NORMAL"
            ]
        );
        h.dial(consult, "203").unwrap();
        h.answer("MakeCall", &make_call_response("C2", L0));
        h.event(0, &ev::service_initiated("C2", L0, "makeCall"));
        h.event(0, &ev::originated("C2", L0, "203", "makeCall"));
        h.event(0, &ev::established_far("C2", L0, "203"));
        h.clear();
        h.add_to_conference(conf, consult).unwrap();
        expect!(
            h.sent(),
            [
                "ConferenceCall{heldCall{callID=C1 deviceID=sip:201@pbx.example} activeCall{callID=C2 deviceID=sip:201@pbx.example}}"
            ]
        );
        h.event(0, &ev::conferenced("C1", "C2", L0, &["202", "203"], "203"));
        h.answer(
            "ConferenceCall",
            &connection_response("ConferenceCallResponse", "conferenceCall", "C1", L0),
        );
        expect!(
            h.tapi(),
            [
                "CALLINFO call#1 RELATEDCALLID",
                "CALLSTATE call#2 CONNECTED ACTIVE",
                "CALLINFO call#2 CONNECTEDID",
                "CALLSTATE call#3 CONFERENCED conf=call#2",
                "CALLINFO call#3 RELATEDCALLID",
                "COMPLETE req4 0"
            ]
        );
        expect!(
            h.live(),
            [
                "call#1 CONFERENCED",
                "call#2 CONNECTED",
                "call#3 CONFERENCED"
            ]
        );
        // Add a third party.
        let (_, consult2) = h.prepare_add(conf).unwrap();
        expect!(
            h.sent(),
            ["HoldCall{callToBeHeld{callID=C1 deviceID=sip:201@pbx.example}}"]
        );
        h.event(0, &ev::held("C1", L0, None));
        h.answer("HoldCall", &ok("HoldCall"));
        expect!(
            h.tapi(),
            [
                "CALLSTATE call#2 ONHOLDPENDCONF",
                "COMPLETE req5 0",
                "CALLSTATE call#4 DIALTONE NORMAL"
            ]
        );
        h.dial(consult2, "204").unwrap();
        h.answer("MakeCall", &make_call_response("C3", L0));
        h.event(0, &ev::service_initiated("C3", L0, "makeCall"));
        h.event(0, &ev::established_far("C3", L0, "204"));
        h.clear();
        h.add_to_conference(conf, consult2).unwrap();
        expect!(
            h.sent(),
            [
                "ConferenceCall{heldCall{callID=C1 deviceID=sip:201@pbx.example} activeCall{callID=C3 deviceID=sip:201@pbx.example}}"
            ]
        );
        h.event(
            0,
            &ev::conferenced("C1", "C3", L0, &["202", "203", "204"], "204"),
        );
        h.answer(
            "ConferenceCall",
            &connection_response("ConferenceCallResponse", "conferenceCall", "C1", L0),
        );
        expect!(
            h.tapi(),
            [
                "CALLSTATE call#2 CONNECTED ACTIVE",
                "CALLINFO call#2 CONNECTEDID",
                "CALLSTATE call#4 CONFERENCED conf=call#2",
                "CALLINFO call#4 RELATEDCALLID",
                "COMPLETE req7 0"
            ]
        );
        expect!(
            h.live(),
            [
                "call#1 CONFERENCED",
                "call#2 CONNECTED",
                "call#3 CONFERENCED",
                "call#4 CONFERENCED"
            ]
        );
        // 202 hangs up.
        h.event(0, &ev::party_left("C1", "202"));
        expect!(
            h.tapi(),
            [
                "CALLSTATE call#1 DISCONNECTED NORMAL",
                "CALLSTATE call#1 IDLE"
            ]
        );
        // TAPI removes 204.
        let member = consult2;
        h.remove_from_conference(member).unwrap();
        expect!(
            h.sent(),
            ["ClearConnection{connectionToBeCleared{callID=C1 deviceID=204}}"]
        );
        h.answer("ClearConnection", &ok("ClearConnection"));
        h.event(0, &ev::party_left("C1", "204"));
        expect!(
            h.tapi(),
            [
                "COMPLETE req8 0",
                "CALLSTATE call#4 DISCONNECTED NORMAL",
                "CALLSTATE call#4 IDLE"
            ]
        );
        expect!(h.live(), ["call#2 CONNECTED", "call#3 CONFERENCED"]);
    }
}

// ------------------------------------------------------------------ 7. deflect

#[test]
fn redirect_a_ringing_call() {
    for (_role, mut h) in roles() {
        h.event(0, &ev::delivered_in("C5", L0, "300", "newCall"));
        h.clear();
        h.redirect(1, "205").unwrap();
        expect!(
            h.sent(),
            [
                "DeflectCall{callToBeDiverted{callID=C5 deviceID=sip:201@pbx.example} newDestination=205}"
            ]
        );
        h.event(0, &ev::diverted("C5", L0, "300", "205", "redirected"));
        h.answer("DeflectCall", &ok("DeflectCall"));
        expect!(h.tapi(), ["CALLSTATE call#1 IDLE", "COMPLETE req1 0"]);
    }
}

// ------------------------------------------------------------------ pickup

#[test]
fn directed_and_group_pickup() {
    for (_role, mut h) in roles() {
        // Directed pickup of 205: the picked call arrives as Delivered + Established.
        let (_, c) = h.pickup(0, Some("205"), None).unwrap();
        expect!(
            h.sent(),
            [
                "DirectedPickupCall{callToBePickedUp{deviceID=205} requestingDevice=sip:201@pbx.example}"
            ]
        );
        h.event(0, &ev::delivered_in("P1", L0, "300", "callPickup"));
        h.event(0, &ev::established_in("P1", L0, "300"));
        expect!(h.tapi(), []);
        h.answer(
            "DirectedPickupCall",
            &connection_response("DirectedPickupCallResponse", "pickedCall", "P1", L0),
        );
        expect!(
            h.tapi(),
            [
                "COMPLETE req1 0",
                "CALLSTATE call#1 CONNECTED ACTIVE",
                "CALLINFO call#1 CALLERID|CONNECTEDID"
            ]
        );
        assert_eq!(h.state(c), "CONNECTED");
        h.event(0, &ev::cleared("P1", "300", "normalClearing"));
        h.clear();
        // Group pickup, response first.
        let (_, g) = h.pickup(0, None, Some("g1")).unwrap();
        expect!(
            h.sent(),
            ["GroupPickupCall{newDestination=sip:201@pbx.example pickGroup=g1}"]
        );
        h.answer(
            "GroupPickupCall",
            &connection_response("GroupPickupCallResponse", "pickedCall", "P2", L0),
        );
        expect!(h.tapi(), ["COMPLETE req2 0"]);
        h.event(0, &ev::established_in("P2", L0, "301"));
        expect!(
            h.tapi(),
            [
                "CALLSTATE call#2 CONNECTED ACTIVE",
                "CALLINFO call#2 CONNECTEDID"
            ]
        );
        let _ = g;
    }
}

// ------------------------------------------------------------------ 8. forwarding

#[test]
fn calls_made_elsewhere_are_offered() {
    for (_role, mut h) in roles() {
        // Dialled on the handset.
        h.event(0, &ev::service_initiated("H1", L0, "newCall"));
        h.event(0, &ev::originated("H1", L0, "202", "newCall"));
        expect!(
            h.tapi(),
            [
                "NEWCALL line0 call#1",
                "CALLSTATE call#1 DIALTONE NORMAL",
                "CALLSTATE call#1 PROCEEDING",
                "CALLINFO call#1 CALLEDID"
            ]
        );
        h.event(0, &ev::cleared("H1", L0, "normalClearing"));
        h.clear();
        // From another line of the provider: internal. From outside: inbound.
        h.event(0, &ev::delivered_in("H2", L0, L1, "newCall"));
        h.event(0, &ev::delivered_in("H3", L0, "+4930123", "newCall"));
        expect!(
            h.tapi(),
            [
                "NEWCALL line0 call#2",
                "CALLSTATE call#2 OFFERING ACTIVE",
                "NEWCALL line0 call#3",
                "CALLSTATE call#3 OFFERING ACTIVE"
            ]
        );
    }
}

#[test]
fn a_call_up_when_the_line_opens_is_offered_at_line_open() {
    let mut h = Harness::boot(remote(&[L0, L1]), &[]);
    h.answer_start(120);
    h.answer_monitor(0);
    h.answer_monitor(1);
    h.answer(
        "SnapshotDevice",
        &snapshot(&[("S1", L0, "connected"), ("S2", L0, "hold")]),
    );
    h.sync_all();
    h.clear();
    h.open(0);
    expect!(
        h.tapi(),
        [
            "NEWCALL line0 call#1",
            "CALLSTATE call#1 CONNECTED ACTIVE",
            "NEWCALL line0 call#2",
            "CALLSTATE call#2 ONHOLD"
        ]
    );
    h.open(1);
    expect!(h.tapi(), []);
    // The line's later events reach the offered calls.
    h.event(0, &ev::cleared("S1", L0, "normalClearing"));
    expect!(
        h.tapi(),
        [
            "CALLSTATE call#1 DISCONNECTED NORMAL",
            "CALLSTATE call#1 IDLE"
        ]
    );
}

#[test]
fn closed_call_is_not_offered_again() {
    for (_role, mut h) in roles() {
        let c = connected_in(&mut h, "C5");
        h.close_call(c);
        h.event(0, &ev::held("C5", L0, None));
        h.event(0, &ev::retrieved("C5", L0));
        h.assert_quiet();
        h.event(0, &ev::cleared("C5", L0, "normalClearing"));
        h.assert_quiet();
        // The next call is offered as usual.
        h.event(0, &ev::delivered_in("C6", L0, "300", "newCall"));
        expect!(
            h.tapi(),
            ["NEWCALL line0 call#2", "CALLSTATE call#2 OFFERING ACTIVE"]
        );
    }
}

#[test]
fn new_call_declined_by_tapi_is_followed_quietly() {
    for (_role, mut h) in roles() {
        h.accept_new_calls = false;
        h.event(0, &ev::delivered_in("C5", L0, "300", "newCall"));
        expect!(h.tapi(), ["NEWCALL line0 declined"]);
        h.accept_new_calls = true;
        h.event(0, &ev::established_in("C5", L0, "300"));
        h.event(0, &ev::cleared("C5", "300", "normalClearing"));
        h.assert_quiet();
        h.event(0, &ev::delivered_in("C6", L0, "300", "newCall"));
        expect!(
            h.tapi(),
            ["NEWCALL line0 call#1", "CALLSTATE call#1 OFFERING ACTIVE"]
        );
    }
}
