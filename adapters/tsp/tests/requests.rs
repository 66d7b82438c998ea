//! TAPI requests: the CSTA request each sends (values), its completion, every
//! synchronous error, the CSTA error → LINEERR table through real requests,
//! lineForward and lineGenerateDigits.

#[macro_use]
mod common;

use common::*;
use ucsta_tsp::provider::{CallHandle, LineError, LineId};
use ucsta_tsp::tapi;

/// A connected outgoing call C1 to 202 on line 0 (`call#1`).
fn connected(h: &mut Harness) -> usize {
    let (_, c) = h.make_call(0, Some("202")).unwrap();
    h.answer("MakeCall", &make_call_response("C1", L0));
    for e in [
        ev::service_initiated("C1", L0, "makeCall"),
        ev::originated("C1", L0, "202", "makeCall"),
        ev::established_far("C1", L0, "202"),
    ] {
        h.event(0, &e);
    }
    h.clear();
    c
}

/// An incoming call C5 ringing on line 0 (`call#1`).
fn ringing(h: &mut Harness) -> usize {
    h.event(0, &ev::delivered_in("C5", L0, "300", "newCall"));
    h.clear();
    1
}

// ------------------------------------------------------------------ CSTA errors

/// Every row of the table in `provider/errors.rs`, through lineHold.
#[test]
fn csta_errors_complete_requests_with_their_lineerr() {
    let table = [
        ("operation", "invalidCallID", "LINEERR_INVALCALLHANDLE"),
        (
            "operation",
            "invalidConnectionID",
            "LINEERR_INVALCALLHANDLE",
        ),
        ("operation", "invalidDeviceID", "LINEERR_INVALADDRESS"),
        ("operation", "invalidDestination", "LINEERR_INVALADDRESS"),
        (
            "operation",
            "invalidForwardingDestination",
            "LINEERR_INVALADDRESS",
        ),
        (
            "operation",
            "invalidCalledDeviceObjectType",
            "LINEERR_INVALADDRESS",
        ),
        (
            "operation",
            "invalidDestinationDeviceObject",
            "LINEERR_INVALADDRESS",
        ),
        ("operation", "objectNotKnown", "LINEERR_INVALADDRESS"),
        ("operation", "notDifferentDevices", "LINEERR_INVALADDRESS"),
        ("operation", "notSameDevice", "LINEERR_INVALADDRESS"),
        (
            "operation",
            "privilegeViolationSpecifiedDevice",
            "LINEERR_OPERATIONUNAVAIL",
        ),
        (
            "operation",
            "privilegeViolationRequestingDevice",
            "LINEERR_OPERATIONUNAVAIL",
        ),
        (
            "operation",
            "serviceNotSupported",
            "LINEERR_OPERATIONUNAVAIL",
        ),
        ("operation", "invalidParameterValue", "LINEERR_INVALPARAM"),
        (
            "operation",
            "atLeastOneConditionalParameterNotProvided",
            "LINEERR_INVALPARAM",
        ),
        ("operation", "invalidAccountCode", "LINEERR_INVALPARAM"),
        ("operation", "generic", "LINEERR_OPERATIONFAILED"),
        (
            "operation",
            "requestIncompatibleWithObject",
            "LINEERR_OPERATIONFAILED",
        ),
        ("security", "generic", "LINEERR_OPERATIONUNAVAIL"),
        (
            "security",
            "sequenceNumberViolated",
            "LINEERR_OPERATIONUNAVAIL",
        ),
        (
            "stateIncompatibility",
            "invalidConnectionState",
            "LINEERR_INVALCALLSTATE",
        ),
        (
            "stateIncompatibility",
            "noActiveCall",
            "LINEERR_INVALCALLSTATE",
        ),
        (
            "stateIncompatibility",
            "noCallToAnswer",
            "LINEERR_INVALCALLSTATE",
        ),
        (
            "systemResourceAvailibility",
            "deviceOutOfService",
            "LINEERR_INVALLINESTATE",
        ),
        (
            "systemResourceAvailibility",
            "overallMonitorLimitExceeded",
            "LINEERR_RESOURCEUNAVAIL",
        ),
        (
            "systemResourceAvailibility",
            "maxNumberCallsExceeded",
            "LINEERR_RESOURCEUNAVAIL",
        ),
        (
            "systemResourceAvailibility",
            "resourceBusy",
            "LINEERR_OPERATIONFAILED",
        ),
        (
            "systemResourceAvailibility",
            "generic",
            "LINEERR_OPERATIONFAILED",
        ),
        (
            "subscribedResourceAvailability",
            "outstandingReqLimitExceeded",
            "LINEERR_RESOURCEUNAVAIL",
        ),
        (
            "performanceManagement",
            "performanceLimitExceeded",
            "LINEERR_RESOURCEUNAVAIL",
        ),
        ("unspecified", "unspecified", "LINEERR_OPERATIONFAILED"),
    ];
    for (category, value, lineerr) in table {
        let mut h = Harness::remote();
        let c = connected(&mut h);
        let req = h.hold(c).unwrap();
        h.answer("HoldCall", &csta_error(category, value));
        assert_eq!(
            h.tapi(),
            [format!("COMPLETE req{req} {lineerr}")],
            "{category}/{value}"
        );
        assert_eq!(h.state(c), "CONNECTED", "{category}/{value}");
    }
    // privateData: the category without a value.
    let mut h = Harness::remote();
    let c = connected(&mut h);
    let req = h.hold(c).unwrap();
    h.answer(
        "HoldCall",
        &format!(r#"<CSTAErrorCode xmlns="{NS}"><privateData><private>x</private></privateData></CSTAErrorCode>"#),
    );
    assert_eq!(
        h.tapi(),
        [format!("COMPLETE req{req} LINEERR_OPERATIONFAILED")]
    );
}

/// Each request, refused by the server: its completion carries the error, and what
/// it set up is undone.
#[test]
fn refused_requests_undo_what_they_set_up() {
    // lineSetupTransfer: the consultation call never appears, the call stays.
    let mut h = Harness::remote();
    let c = connected(&mut h);
    let (req, consult) = h.setup_transfer(c).unwrap();
    h.answer(
        "HoldCall",
        &csta_error("stateIncompatibility", "invalidConnectionState"),
    );
    expect!(h.tapi(), ["COMPLETE req2 LINEERR_INVALCALLSTATE"]);
    assert!(h.p.call_status(h.call(consult)).is_err());
    assert_eq!(h.state(c), "CONNECTED");
    let _ = req;
    // lineSetupConference: neither the conference nor the consultation call exists.
    let (_, conf, consult) = h.setup_conference(c).unwrap();
    h.answer("HoldCall", &csta_error("operation", "generic"));
    expect!(h.tapi(), ["COMPLETE req3 LINEERR_OPERATIONFAILED"]);
    assert!(h.p.call_status(h.call(conf)).is_err());
    assert!(h.p.call_status(h.call(consult)).is_err());
    assert_eq!(h.state(c), "CONNECTED");
    assert_eq!(
        h.features(c),
        "BLINDTRANSFER|DROP|GENERATEDIGITS|HOLD|SETUPCONF|SETUPTRANSFER"
    );
    // linePickup: the call TAPI got is gone.
    let (_, p) = h.pickup(0, Some("205"), None).unwrap();
    h.answer(
        "DirectedPickupCall",
        &csta_error("stateIncompatibility", "noCallToAnswer"),
    );
    expect!(h.tapi(), ["COMPLETE req4 LINEERR_INVALCALLSTATE"]);
    assert!(h.p.call_status(h.call(p)).is_err());
}

// ------------------------------------------------------------------ synchronous errors

fn fails<T>(r: Result<T, LineError>) -> String {
    match r {
        Ok(_) => "OK".to_owned(),
        Err(e) => err(e),
    }
}

#[test]
fn requests_in_the_wrong_state_fail_at_once() {
    let mut h = Harness::remote();
    let c = connected(&mut h);
    // On a connected call.
    assert_eq!(fails(h.answer_call(c)), "LINEERR_INVALCALLSTATE");
    assert_eq!(fails(h.unhold(c)), "LINEERR_INVALCALLSTATE");
    assert_eq!(fails(h.redirect(c, "205")), "LINEERR_INVALCALLSTATE");
    assert_eq!(fails(h.dial(c, "5")), "LINEERR_INVALCALLSTATE");
    assert_eq!(fails(h.remove_from_conference(c)), "LINEERR_INVALCALLSTATE");
    assert_eq!(fails(h.prepare_add(c)), "LINEERR_INVALCONFCALLHANDLE");
    assert_eq!(fails(h.swap_hold(c, c)), "LINEERR_INVALCALLSTATE");
    // On a ringing call.
    h.event(0, &ev::delivered_in("C5", L0, "300", "newCall"));
    h.clear();
    let r = *h.hts().last().unwrap();
    assert_eq!(fails(h.hold(r)), "LINEERR_INVALCALLSTATE");
    assert_eq!(fails(h.blind_transfer(r, "205")), "LINEERR_INVALCALLSTATE");
    assert_eq!(fails(h.setup_transfer(r)), "LINEERR_INVALCALLSTATE");
    assert_eq!(fails(h.setup_conference(r)), "LINEERR_INVALCALLSTATE");
    assert_eq!(fails(h.generate(r, 1, "1")), "LINEERR_INVALCALLSTATE");
    assert_eq!(
        fails(h.complete_transfer(c, r, tapi::LINETRANSFERMODE_TRANSFER)),
        "LINEERR_INVALCALLSTATE"
    );
    // Bad transfer mode, bad consultation call.
    assert_eq!(
        fails(h.complete_transfer(c, r, 0x4)),
        "LINEERR_INVALTRANSFERMODE"
    );
    // Bad digits and digit modes.
    assert_eq!(fails(h.generate(c, 1, "12x")), "LINEERR_INVALDIGITS");
    assert_eq!(fails(h.generate(c, 1, "")), "LINEERR_INVALDIGITS");
    let call = h.call(c);
    assert_eq!(
        fails(h.run(|p, now| p.generate_digits(
            now,
            call,
            1,
            tapi::LINEDIGITMODE_PULSE,
            Some("1")
        ))),
        "LINEERR_INVALDIGITMODE"
    );
    // Bad addresses.
    assert_eq!(fails(h.blind_transfer(c, "20?2")), "LINEERR_DIALPROMPT");
    assert_eq!(fails(h.blind_transfer(c, "20x")), "LINEERR_INVALADDRESS");
    assert_eq!(fails(h.blind_transfer(c, "")), "LINEERR_INVALADDRESS");
    assert_eq!(fails(h.blind_transfer(c, "202;")), "LINEERR_INVALADDRESS");
    assert_eq!(fails(h.make_call(0, Some("x"))), "LINEERR_INVALADDRESS");
    assert_eq!(fails(h.make_call(0, Some("2?"))), "LINEERR_DIALPROMPT");
    assert_eq!(fails(h.pickup(0, Some("x"), None)), "LINEERR_INVALADDRESS");
    // More parties than the conference bridge has.
    let req = h.req();
    let (a, b) = (h.ht(), h.ht());
    assert_eq!(
        fails(h.run(|p, now| p.setup_conference(now, req, call, a, b, 4))),
        "LINEERR_CONFERENCEFULL"
    );
    // Nothing was sent, nothing completed.
    h.assert_quiet();
}

#[test]
fn bad_handles_fail_at_once() {
    let mut h = Harness::remote();
    let c = connected(&mut h);
    let stale = CallHandle::from_raw(0x7777_0000_0001).unwrap();
    let now = h.now;
    let p = &mut h.p;
    assert_eq!(fails(p.answer(now, 90, stale)), "LINEERR_INVALCALLHANDLE");
    assert_eq!(
        fails(p.drop_call(now, 90, stale)),
        "LINEERR_INVALCALLHANDLE"
    );
    assert_eq!(fails(p.hold(now, 90, stale)), "LINEERR_INVALCALLHANDLE");
    assert_eq!(fails(p.call_info(stale)), "LINEERR_INVALCALLHANDLE");
    assert_eq!(fails(p.call_status(stale)), "LINEERR_INVALCALLHANDLE");
    assert_eq!(
        fails(p.set_app_specific(stale, 1)),
        "LINEERR_INVALCALLHANDLE"
    );
    let call = h.call(c);
    let now = h.now;
    assert_eq!(
        fails(h.p.swap_hold(now, 90, call, stale)),
        "LINEERR_INVALCONSULTCALLHANDLE"
    );
    assert_eq!(
        fails(h.p.complete_transfer(now, 90, call, stale, 0, tapi::LINETRANSFERMODE_TRANSFER)),
        "LINEERR_INVALCONSULTCALLHANDLE"
    );
    assert_eq!(
        fails(h.p.add_to_conference(now, 90, call, stale)),
        "LINEERR_INVALCONFCALLHANDLE"
    );
    // Lines.
    let nowhere = LineId::new(9);
    assert_eq!(fails(h.p.open(nowhere, 1)), "LINEERR_BADDEVICEID");
    assert_eq!(fails(h.p.open(LineId::new(0), 1)), "LINEERR_ALLOCATED");
    assert_eq!(
        fails(h.p.make_call(now, 90, nowhere, 9, Some("1"))),
        "LINEERR_INVALLINEHANDLE"
    );
    assert_eq!(
        fails(h.p.set_status_messages(nowhere, 0, 0)),
        "LINEERR_INVALLINEHANDLE"
    );
    assert_eq!(
        fails(h.p.line_by_device_id(BASE + 9)),
        "LINEERR_BADDEVICEID"
    );
    assert_eq!(h.p.line_by_device_id(BASE + 1), Ok(LineId::new(1)));
    assert_eq!(
        fails(h.p.forward(now, 90, LineId::new(0), Some(1), None, 0)),
        "LINEERR_INVALADDRESSID"
    );
    assert_eq!(
        fails(h.p.set_default_media_detection(LineId::new(0), tapi::LINEMEDIAMODE_DATAMODEM)),
        "LINEERR_INVALMEDIAMODE"
    );
    assert_eq!(
        h.p.set_default_media_detection(LineId::new(0), tapi::LINEMEDIAMODE_INTERACTIVEVOICE),
        Ok(())
    );
    h.drain();
    h.assert_quiet();
}

#[test]
fn requests_on_a_line_out_of_service_fail_at_once() {
    let mut h = Harness::remote();
    let c = connected(&mut h);
    h.event(0, &ev::out_of_service(L0));
    h.clear();
    assert_eq!(fails(h.make_call(0, Some("202"))), "LINEERR_INVALLINESTATE");
    assert_eq!(fails(h.pickup(0, None, None)), "LINEERR_INVALLINESTATE");
    assert_eq!(fails(h.forward(0, None, 0)), "LINEERR_INVALLINESTATE");
    // The call went IDLE with the line.
    assert_eq!(fails(h.hold(c)), "LINEERR_INVALCALLSTATE");
    // The other line is fine.
    assert!(h.make_call(1, Some("201")).is_ok());
    // Before the link is up at all, requests wait for it; a refused login puts
    // every line out of service.
    let mut h = Harness::boot(remote(&[L0]), &[]);
    h.open(0);
    h.answer(
        "StartApplicationSession",
        &format!(r#"<StartApplicationSessionNegResponse xmlns="{NS354}"><errorCode><definedError>invalidApplicationInfo</definedError></errorCode></StartApplicationSessionNegResponse>"#),
    );
    assert_eq!(fails(h.make_call(0, Some("202"))), "LINEERR_INVALLINESTATE");
}

// ------------------------------------------------------------------ lineForward

#[test]
fn forward_every_mode() {
    let table: [(u32, &[&str]); 12] = [
        (tapi::LINEFORWARDMODE_UNCOND, &["forwardImmediate"]),
        (tapi::LINEFORWARDMODE_UNCONDINTERNAL, &["forwardImmInt"]),
        (tapi::LINEFORWARDMODE_UNCONDEXTERNAL, &["forwardImmExt"]),
        (tapi::LINEFORWARDMODE_BUSY, &["forwardBusy"]),
        (tapi::LINEFORWARDMODE_BUSYINTERNAL, &["forwardBusyInt"]),
        (tapi::LINEFORWARDMODE_BUSYEXTERNAL, &["forwardBusyExt"]),
        (tapi::LINEFORWARDMODE_NOANSW, &["forwardNoAns"]),
        (tapi::LINEFORWARDMODE_NOANSWINTERNAL, &["forwardNoAnsInt"]),
        (tapi::LINEFORWARDMODE_NOANSWEXTERNAL, &["forwardNoAnsExt"]),
        (
            tapi::LINEFORWARDMODE_BUSYNA,
            &["forwardBusy", "forwardNoAns"],
        ),
        (
            tapi::LINEFORWARDMODE_BUSYNAINTERNAL,
            &["forwardBusyInt", "forwardNoAnsInt"],
        ),
        (
            tapi::LINEFORWARDMODE_BUSYNAEXTERNAL,
            &["forwardBusyExt", "forwardNoAnsExt"],
        ),
    ];
    for (mode, types) in table {
        let mut h = Harness::remote();
        h.status_messages(0);
        let req = h.forward(0, Some(&[fwd(mode, Some("T0301"))]), 4).unwrap();
        let want: Vec<String> = types
            .iter()
            .map(|t| {
                let rings = if t.starts_with("forwardNoAns") {
                    " ringCount=4"
                } else {
                    ""
                };
                format!(
                    "SetForwarding{{device=sip:201@pbx.example forwardingType={t} activateForward=true forwardDN=0301{rings}}}"
                )
            })
            .collect();
        assert_eq!(h.sent(), want, "mode 0x{mode:X}");
        // The request completes when the last part is answered; each part changes
        // the address's forwarding.
        for i in 0..types.len() {
            assert_eq!(h.tapi(), Vec::<String>::new(), "mode 0x{mode:X} part {i}");
            h.answer("SetForwarding", &ok("SetForwarding"));
            let mut want = vec!["ADDRESSSTATE line0 FORWARD".to_owned()];
            if i + 1 == types.len() {
                want.push(format!("COMPLETE req{req} 0"));
            }
            assert_eq!(h.tapi(), want, "mode 0x{mode:X} part {i}");
        }
        let status = h.p.address_status(LineId::new(0), 0).unwrap();
        let modes: Vec<(u32, Option<String>)> = status
            .forward
            .iter()
            .map(|f| (f.mode, f.dest.clone()))
            .collect();
        let single = match mode {
            tapi::LINEFORWARDMODE_BUSYNA => {
                vec![tapi::LINEFORWARDMODE_BUSY, tapi::LINEFORWARDMODE_NOANSW]
            }
            tapi::LINEFORWARDMODE_BUSYNAINTERNAL => vec![
                tapi::LINEFORWARDMODE_BUSYINTERNAL,
                tapi::LINEFORWARDMODE_NOANSWINTERNAL,
            ],
            tapi::LINEFORWARDMODE_BUSYNAEXTERNAL => vec![
                tapi::LINEFORWARDMODE_BUSYEXTERNAL,
                tapi::LINEFORWARDMODE_NOANSWEXTERNAL,
            ],
            m => vec![m],
        };
        let want: Vec<(u32, Option<String>)> = single
            .into_iter()
            .map(|m| (m, Some("0301".to_owned())))
            .collect();
        assert_eq!(modes, want, "mode 0x{mode:X}");
    }
}

#[test]
fn forward_dnd_replace_and_cancel() {
    let mut h = Harness::remote();
    // No LINE_ADDRESSSTATE before lineSetStatusMessages asked for it.
    let req = h
        .forward(0, Some(&[fwd(tapi::LINEFORWARDMODE_UNCOND, None)]), 0)
        .unwrap();
    expect!(
        h.sent(),
        ["SetDoNotDisturb{device=sip:201@pbx.example doNotDisturbOn=true}"]
    );
    h.answer("SetDoNotDisturb", &ok("SetDoNotDisturb"));
    expect!(h.tapi(), ["COMPLETE req1 0"]);
    let _ = req;
    let status = h.p.address_status(LineId::new(0), 0).unwrap();
    assert_eq!(status.forward, [fwd(tapi::LINEFORWARDMODE_UNCOND, None)]);
    // Replacing DND by forwarding on busy: DND off, forwardBusy on.
    h.status_messages(0);
    h.forward(0, Some(&[fwd(tapi::LINEFORWARDMODE_BUSY, Some("300"))]), 0)
        .unwrap();
    expect!(
        h.sent(),
        [
            "SetDoNotDisturb{device=sip:201@pbx.example doNotDisturbOn=false}",
            "SetForwarding{device=sip:201@pbx.example forwardingType=forwardBusy activateForward=true forwardDN=300}"
        ]
    );
    h.answer("SetForwarding", &ok("SetForwarding"));
    expect!(h.tapi(), ["ADDRESSSTATE line0 FORWARD"]);
    h.answer("SetDoNotDisturb", &ok("SetDoNotDisturb"));
    expect!(h.tapi(), ["ADDRESSSTATE line0 FORWARD", "COMPLETE req2 0"]);
    // The same again changes nothing: completes at once.
    h.forward(0, Some(&[fwd(tapi::LINEFORWARDMODE_BUSY, Some("300"))]), 0)
        .unwrap();
    expect!(h.sent(), []);
    expect!(h.tapi(), ["COMPLETE req3 0"]);
    // Cancel everything: a NULL list.
    h.forward(0, None, 0).unwrap();
    expect!(
        h.sent(),
        [
            "SetForwarding{device=sip:201@pbx.example forwardingType=forwardBusy activateForward=false}"
        ]
    );
    h.answer("SetForwarding", &csta_error("operation", "generic"));
    expect!(h.tapi(), ["COMPLETE req4 LINEERR_OPERATIONFAILED"]);
    // Changes on the handset are reported too.
    h.event(0, &ev::dnd(L0, true));
    h.event(
        0,
        &ev::forwarding(L0, "forwardImmediate", true, Some("400")),
    );
    h.event(
        0,
        &ev::forwarding(L0, "forwardImmediate", true, Some("400")),
    );
    expect!(
        h.tapi(),
        ["ADDRESSSTATE line0 FORWARD", "ADDRESSSTATE line0 FORWARD"]
    );
    let status = h.p.address_status(LineId::new(0), 0).unwrap();
    expect!(
        status
            .forward
            .iter()
            .map(|f| format!("{} {:?}", name_of(names::LINEFORWARDMODE, f.mode), f.dest))
            .collect(),
        ["UNCOND None", "BUSY Some(\"300\")", "UNCOND Some(\"400\")"]
    );
    // Modes CSTA has no forwarding for, and entries without a destination.
    assert_eq!(
        fails(h.forward(0, Some(&[fwd(tapi::LINEFORWARDMODE_UNAVAIL, Some("1"))]), 0)),
        "LINEERR_INVALPARAM"
    );
    assert_eq!(
        fails(h.forward(0, Some(&[fwd(tapi::LINEFORWARDMODE_BUSY, None)]), 0)),
        "LINEERR_INVALADDRESS"
    );
    assert_eq!(
        fails(h.forward(0, Some(&[fwd(tapi::LINEFORWARDMODE_BUSY, Some("x"))]), 0)),
        "LINEERR_INVALADDRESS"
    );
}

// ------------------------------------------------------------------ lineGenerateDigits

#[test]
fn generate_digits_done_and_cancelled() {
    let mut h = Harness::remote();
    let c = connected(&mut h);
    h.generate(c, 5, "12*#").unwrap();
    expect!(
        h.sent(),
        [
            "GenerateDigits{connectionToSendDigits{callID=C1 deviceID=sip:201@pbx.example} charactersToSend=12*#}"
        ]
    );
    h.answer("GenerateDigits", &ok("GenerateDigits"));
    expect!(h.tapi(), ["GENERATE call#1 DONE e2e=5"]);
    h.generate(c, 6, "9").unwrap();
    h.sent();
    h.answer(
        "GenerateDigits",
        &csta_error("operation", "serviceNotSupported"),
    );
    expect!(h.tapi(), ["GENERATE call#1 CANCEL e2e=6"]);
    // lineGenerateDigits with no digits cancels: nothing is sent.
    let call = h.call(c);
    h.run(|p, now| p.generate_digits(now, call, 7, tapi::LINEDIGITMODE_DTMF, None))
        .unwrap();
    h.assert_quiet();
}

// ------------------------------------------------------------------ every request's CSTA

#[test]
fn every_request_and_its_csta() {
    let mut h = Harness::remote();
    let c = connected(&mut h);
    let call = h.call(c);
    h.run(|p, _| p.set_app_specific(call, 42)).unwrap();
    expect!(h.tapi(), ["CALLINFO call#1 APPSPECIFIC"]);
    h.run(|p, _| p.set_app_specific(call, 42)).unwrap();
    expect!(h.tapi(), []);
    let req = h.drop_call(c).unwrap();
    expect!(
        h.sent(),
        ["ClearConnection{connectionToBeCleared{callID=C1 deviceID=sip:201@pbx.example}}"]
    );
    h.answer("ClearConnection", &ok("ClearConnection"));
    expect!(h.tapi(), ["COMPLETE req2 0"]);
    let _ = req;
    // Canonical and dialable numbers are normalised before they go out.
    let mut h = Harness::new({
        let mut c = remote(&[L0, L1]);
        c.dial.country_code = Some("49".into());
        c.dial.area_code = Some("89".into());
        c.dial.keep_e164 = false;
        c.dial.outside_line = Some("0".into());
        c.dial.internal_max_len = 3;
        c
    });
    for dest in [
        "+49 (89) 1234",
        "T+49 (30) 555",
        "+1 (212) 555",
        "0891234",
        "204",
        "sip:bob@example.com",
    ] {
        h.make_call(0, Some(dest)).unwrap();
    }
    expect!(
        h.sent(),
        [
            "MakeCall{callingDevice=sip:201@pbx.example calledDirectoryNumber=01234 autoOriginate=doNotPrompt}",
            "MakeCall{callingDevice=sip:201@pbx.example calledDirectoryNumber=0030555 autoOriginate=doNotPrompt}",
            "MakeCall{callingDevice=sip:201@pbx.example calledDirectoryNumber=0001212555 autoOriginate=doNotPrompt}",
            "MakeCall{callingDevice=sip:201@pbx.example calledDirectoryNumber=00891234 autoOriginate=doNotPrompt}",
            "MakeCall{callingDevice=sip:201@pbx.example calledDirectoryNumber=204 autoOriginate=doNotPrompt}",
            "MakeCall{callingDevice=sip:201@pbx.example calledDirectoryNumber=sip:bob@example.com autoOriginate=doNotPrompt}"
        ]
    );
    let r = ringing(&mut h);
    let _ = r;
}

#[test]
fn answer_and_drop_on_the_other_line() {
    // A call between two lines of the provider: each side is its own TAPI call.
    let mut h = Harness::remote();
    let (_, c) = h.make_call(0, Some("202")).unwrap();
    h.answer("MakeCall", &make_call_response("C1", L0));
    h.event(0, &ev::service_initiated("C1", L0, "makeCall"));
    h.event(0, &ev::originated("C1", L0, "202", "makeCall"));
    h.event(1, &ev::delivered_in("C1", L1, L0, "newCall"));
    h.event(0, &ev::delivered_far("C1", L0, L1));
    expect!(
        h.tapi(),
        [
            "COMPLETE req1 0",
            "CALLINFO call#1 CALLEDID",
            "CALLSTATE call#1 DIALTONE NORMAL",
            "CALLSTATE call#1 PROCEEDING",
            "CALLINFO call#1 CALLEDID",
            "NEWCALL line1 call#2",
            "CALLSTATE call#2 OFFERING ACTIVE",
            "CALLSTATE call#1 RINGBACK",
            "CALLINFO call#1 CALLEDID"
        ]
    );
    let info = h.p.call_info(h.call(2)).unwrap();
    assert_eq!(info.origin, tapi::LINECALLORIGIN_INTERNAL);
    h.answer_call(2).unwrap();
    expect!(
        h.sent(),
        [
            "MakeCall{callingDevice=sip:201@pbx.example calledDirectoryNumber=202 autoOriginate=doNotPrompt}",
            "AnswerCall{callToBeAnswered{callID=C1 deviceID=sip:202@pbx.example}}"
        ]
    );
    let _ = c;
}

#[test]
fn line_close_and_reopen() {
    let mut h = Harness::remote();
    let c = connected(&mut h);
    let _ = c;
    h.run(|p, _| p.close(LineId::new(0)));
    h.event(0, &ev::held("C1", L0, None));
    h.assert_quiet();
    h.open(0);
    expect!(
        h.tapi(),
        ["NEWCALL line0 call#2", "CALLSTATE call#2 ONHOLD"]
    );
    // A call handle TAPI closed with the line no longer works.
    assert_eq!(fails(h.p.call_status(h.call(1))), "LINEERR_INVALCALLHANDLE");
}

/// A handle's raw form round-trips through the TSPI layer's `HDRVCALL`.
#[test]
fn handles_are_never_zero_and_not_reused() {
    let mut h = Harness::remote();
    let (_, a) = h.make_call(0, None).unwrap();
    let ha = h.call(a);
    h.drop_call(a).unwrap();
    h.close_call(a);
    let (_, b) = h.make_call(0, None).unwrap();
    let hb = h.call(b);
    assert_ne!(ha, hb);
    assert_ne!(ha.to_raw(), 0);
    assert_eq!(CallHandle::from_raw(hb.to_raw()), Some(hb));
    assert_eq!(fails(h.p.call_status(ha)), "LINEERR_INVALCALLHANDLE");
}
