//! What the TSPI structures report: dev caps, address caps, line and address status,
//! call info (parties, names of the provider's own lines) and call status features
//! per state.

#[macro_use]
mod common;

use common::*;
use ucsta_tsp::provider::{LineId, PartyInfo};
use ucsta_tsp::tapi;

fn party(p: &PartyInfo) -> String {
    format!(
        "{} {} {}",
        bits(names::LINECALLPARTYID, p.flags),
        p.number.as_deref().unwrap_or("-"),
        p.name.as_deref().unwrap_or("-")
    )
}

fn named() -> Harness {
    let mut c = remote(&[L0, L1]);
    c.line_name = "Desk {number}".to_owned();
    Harness::new(c)
}

#[test]
fn dev_caps_and_address_caps() {
    let h = named();
    let caps = h.p.dev_caps(LineId::new(1)).unwrap();
    assert_eq!(caps.line_name, "Desk 202");
    assert_eq!(caps.num_addresses, 1);
    assert_eq!(caps.media_modes, tapi::LINEMEDIAMODE_INTERACTIVEVOICE);
    assert_eq!(
        bits(names::LINEDEVSTATE, caps.line_states),
        "INSERVICE|OUTOFSERVICE"
    );
    assert_ne!(
        caps.permanent_line_id,
        h.p.dev_caps(LineId::new(0)).unwrap().permanent_line_id
    );
    // Stable across instances.
    let again = Harness::new(remote(&[L1]));
    assert_eq!(
        again.p.dev_caps(LineId::new(0)).unwrap().permanent_line_id,
        caps.permanent_line_id
    );
    let a = h.p.address_caps(LineId::new(0), 0).unwrap();
    assert_eq!(a.address, "201");
    assert_eq!(a.line_device_id, BASE);
    assert_eq!(bits(names::LINEADDRESSSTATE, a.address_states), "FORWARD");
    assert_ne!(a.call_features & tapi::LINECALLFEATURE_DROP, 0);
    assert_eq!(
        a.transfer_modes,
        tapi::LINETRANSFERMODE_TRANSFER | tapi::LINETRANSFERMODE_CONFERENCE
    );
    assert_eq!(
        h.p.address_caps(LineId::new(0), 1).map_err(err),
        Err("LINEERR_INVALADDRESSID".into())
    );
    assert_eq!(
        h.p.dev_caps(LineId::new(5)).map_err(err),
        Err("LINEERR_BADDEVICEID".into())
    );
}

#[test]
fn line_and_address_status() {
    let mut h = Harness::boot(remote(&[L0]), &[]);
    let s = h.p.line_dev_status(LineId::new(0)).unwrap();
    assert_eq!((s.dev_status_flags, s.line_features), (0, 0));
    h.answer_start(120);
    h.answer_monitor(0);
    h.answer("SnapshotDevice", &snapshot(&[]));
    h.answer("GetDoNotDisturb", &dnd_response(true));
    h.answer(
        "GetForwarding",
        &forwarding_response(&[
            ("forwardBusy", true, Some("300")),
            ("forwardNoAns", false, Some("301")),
        ]),
    );
    h.open(0);
    let s = h.p.line_dev_status(LineId::new(0)).unwrap();
    assert_eq!(
        s.dev_status_flags,
        tapi::LINEDEVSTATUSFLAGS_CONNECTED | tapi::LINEDEVSTATUSFLAGS_INSERVICE
    );
    assert_eq!(s.num_active_calls, 0);
    let a = h.p.address_status(LineId::new(0), 0).unwrap();
    let fw: Vec<String> = a
        .forward
        .iter()
        .map(|f| format!("{} {:?}", name_of(names::LINEFORWARDMODE, f.mode), f.dest))
        .collect();
    assert_eq!(fw, ["UNCOND None", "BUSY Some(\"300\")"]);
    assert_eq!(a.num_in_use, 0);
    // Calls are counted.
    h.event(0, &ev::delivered_in("C5", L0, "300", "newCall"));
    h.event(0, &ev::established_in("C5", L0, "300"));
    h.event(0, &ev::held("C5", L0, None));
    h.event(0, &ev::delivered_in("C6", L0, "301", "newCall"));
    let s = h.p.line_dev_status(LineId::new(0)).unwrap();
    assert_eq!((s.num_active_calls, s.num_on_hold_calls), (1, 1));
    let a = h.p.address_status(LineId::new(0), 0).unwrap();
    assert_eq!(
        (a.num_in_use, a.num_active_calls, a.num_on_hold_calls),
        (1, 1, 1)
    );
}

#[test]
fn call_info_parties_and_names() {
    let mut h = named();
    // An internal call from 202 to 201, forwarded there by 205.
    h.event(
        0,
        &ev::delivered_forwarded("C5", L0, L1, "205", "callForwardImmediate"),
    );
    let info = h.p.call_info(h.call(1)).unwrap();
    expect!(
        vec![
            party(&info.caller),
            party(&info.called),
            party(&info.connected),
            party(&info.redirecting),
            party(&info.redirection),
            name_of(names::LINECALLORIGIN, info.origin),
            name_of(names::LINECALLREASON, info.reason),
            format!("{:?}", info.csta_call_id),
            format!("{}", info.line_device_id),
        ],
        [
            "NAME|ADDRESS 202 Desk 202",
            "ADDRESS 205 -",
            "UNKNOWN - -",
            "ADDRESS 205 -",
            "UNKNOWN - -",
            "INTERNAL",
            "FWDUNCOND",
            "Some(\"C5\")",
            "100"
        ]
    );
    h.event(0, &ev::established_in("C5", L0, L1));
    let info = h.p.call_info(h.call(1)).unwrap();
    assert_eq!(party(&info.connected), "NAME|ADDRESS 202 Desk 202");
    // A restricted caller, an unknown one.
    h.event(0, &ev::delivered_in("C6", L0, "restricted", "newCall"));
    h.event(0, &ev::delivered_in("C7", L0, "notKnown", "newCall"));
    assert_eq!(
        party(&h.p.call_info(h.call(2)).unwrap().caller),
        "BLOCKED - -"
    );
    assert_eq!(
        party(&h.p.call_info(h.call(3)).unwrap().caller),
        "UNKNOWN - -"
    );
    // The far end forwards an outgoing call: the redirection party.
    let (_, c) = h.make_call(0, Some("202")).unwrap();
    h.answer("MakeCall", &make_call_response("C8", L0));
    h.event(0, &ev::service_initiated("C8", L0, "makeCall"));
    h.event(0, &ev::delivered_far("C8", L0, "202"));
    h.clear();
    h.event(
        0,
        &format!(
            r#"<DivertedEvent xmlns="{NS}"><monitorCrossRefID>{{X}}</monitorCrossRefID><connection><callID>C8</callID><deviceID>202</deviceID></connection><divertingDevice><deviceIdentifier>202</deviceIdentifier></divertingDevice><newDestination><deviceIdentifier>206</deviceIdentifier></newDestination><cause>callForwardImmediate</cause></DivertedEvent>"#
        ),
    );
    expect!(
        h.tapi(),
        [
            "CALLSTATE call#4 CONNECTED ACTIVE",
            "CALLINFO call#4 REDIRECTIONID"
        ]
    );
    let info = h.p.call_info(h.call(c)).unwrap();
    assert_eq!(party(&info.redirection), "ADDRESS 206 -");
    // An outgoing call: the dialled number until CSTA names the called party.
    let (_, c) = h.make_call(1, Some("201")).unwrap();
    let info = h.p.call_info(h.call(c)).unwrap();
    assert_eq!(party(&info.caller), "NAME|ADDRESS 202 Desk 202");
    assert_eq!(party(&info.called), "NAME|ADDRESS 201 Desk 201");
    assert_eq!(info.origin, tapi::LINECALLORIGIN_OUTBOUND);
    // A consultation call names its primary as related call.
}

#[test]
fn call_status_features_per_state() {
    let mut h = Harness::remote();
    let mut seen = Vec::new();
    let mut note = |h: &Harness, ht: usize| {
        let s = h.p.call_status(h.call(ht)).unwrap();
        seen.push(format!(
            "{} {}",
            tapi::call_state_name(s.state),
            bits(names::LINECALLFEATURE, s.features)
        ));
        if s.state != tapi::LINECALLSTATE_IDLE {
            assert_ne!(s.features & tapi::LINECALLFEATURE_DROP, 0, "{seen:?}");
        }
    };
    let (_, c) = h.make_call(0, None).unwrap();
    note(&h, c);
    h.dial(c, "202").unwrap();
    h.answer("MakeCall", &make_call_response("C1", L0));
    h.event(0, &ev::service_initiated("C1", L0, "makeCall"));
    h.event(0, &ev::originated("C1", L0, "202", "makeCall"));
    note(&h, c);
    h.event(0, &ev::delivered_far("C1", L0, "202"));
    note(&h, c);
    h.event(0, &ev::established_far("C1", L0, "202"));
    note(&h, c);
    h.event(0, &ev::held("C1", L0, None));
    note(&h, c);
    h.event(0, &ev::delivered_in("C5", L0, "300", "newCall"));
    note(&h, 2);
    note(&h, c);
    h.event(0, &ev::established_in("C5", L0, "300"));
    note(&h, 2);
    note(&h, c);
    h.event(0, &ev::failed("C5", L0, "300", "busy"));
    note(&h, 2);
    h.event(0, &ev::cleared("C5", L0, "busy"));
    note(&h, 2);
    expect!(
        seen,
        [
            "DIALTONE DIAL|DROP",
            "PROCEEDING DROP",
            "RINGBACK DROP",
            "CONNECTED BLINDTRANSFER|DROP|GENERATEDIGITS|HOLD|SETUPCONF|SETUPTRANSFER",
            "ONHOLD DROP|UNHOLD",
            "OFFERING ANSWER|DROP|REDIRECT",
            "ONHOLD DROP|UNHOLD",
            "CONNECTED BLINDTRANSFER|COMPLETETRANSF|DROP|GENERATEDIGITS|HOLD|SWAPHOLD",
            "ONHOLD COMPLETETRANSF|DROP|SWAPHOLD|UNHOLD",
            "BUSY DROP",
            "IDLE 0"
        ]
    );
}
