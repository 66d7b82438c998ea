//! Vendor dialects: real events from OpenScape Voice (ed4, Siemens private data, `N<..>`
//! device IDs), Uni-tel (Asterisk based: the ecma.ch ed6 namespace, `held`, causes
//! with spaces, reordered elements), Zultys (no namespace) and prefixed namespaces,
//! through the provider to TAPI. The captures are in `tests/data` (copied from the
//! shared vectors); their monitorCrossRefIDs are rewritten to the harness's.

#[macro_use]
mod common;

use common::*;
use ucsta_tsp::provider::LineId;
use ucsta_tsp::tapi;

fn vector(name: &str) -> String {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A captured event on `line`, its monitorCrossRefID `original` replaced by `{X}`
/// (or one added after the root's start tag when it has none).
fn captured(h: &mut Harness, line: usize, name: &str, original: Option<&str>) {
    let xml = vector(name);
    let xml = match original {
        Some(x) => {
            let from = format!("<monitorCrossRefID>{x}</monitorCrossRefID>");
            assert!(xml.contains(&from), "{name} has no {from}");
            xml.replace(&from, "<monitorCrossRefID>{X}</monitorCrossRefID>")
        }
        None => {
            let end = xml.find('>').expect("a start tag") + 1;
            format!(
                "{}<monitorCrossRefID>{{X}}</monitorCrossRefID>{}",
                &xml[..end],
                &xml[end..]
            )
        }
    };
    h.event(line, &xml);
}

fn caller(h: &Harness, ht: usize) -> Option<String> {
    h.p.call_info(h.call(ht)).unwrap().caller.number
}

#[test]
fn openscape_voice_calls() {
    // The OSV's own answers during synchronisation (ed4).
    let mut h = Harness::boot(client("302118840100"), &[]);
    h.answer_start(120);
    h.xrefs.insert(0, "1136370025".to_owned());
    h.answer("MonitorStart", &vector("osv-MonitorStartResponse.xml"));
    h.answer(
        "SnapshotDevice",
        &vector("osv-pool-SnapshotDeviceResponse.xml"),
    );
    h.sync_all();
    h.open(0);
    h.clear();
    assert!(h.p.in_service(LineId::new(0)));
    // Dialled on the phone: ServiceInitiated + Originated with OSV device forms.
    captured(
        &mut h,
        0,
        "osv-ServiceInitiatedEvent.xml",
        Some("1169730059"),
    );
    captured(&mut h, 0, "osv-OriginatedEvent.xml", Some("1169730059"));
    expect!(
        h.tapi(),
        [
            "NEWCALL line0 call#1",
            "CALLSTATE call#1 DIALTONE NORMAL",
            "CALLSTATE call#1 PROCEEDING",
            "CALLINFO call#1 CALLEDID"
        ]
    );
    let info = h.p.call_info(h.call(1)).unwrap();
    assert_eq!(info.called.number.as_deref(), Some("302118840101"));
    assert_eq!(info.origin, tapi::LINECALLORIGIN_OUTBOUND);
    assert_eq!(
        info.csta_call_id.as_deref(),
        Some("FF000100000000002D65C85C1C750000")
    );

    // An ACD call delivered to another OSV device (its own line).
    let mut h = Harness::new(client("3021061290002"));
    captured(&mut h, 0, "osv-DeliveredEvent.xml", Some("1173673890"));
    expect!(
        h.tapi(),
        [
            "NEWCALL line0 call#1",
            "CALLSTATE call#1 OFFERING ACTIVE",
            "CALLINFO call#1 CALLEDID|REDIRECTINGID"
        ]
    );
    assert_eq!(caller(&h, 1).as_deref(), Some("7868772298"));
    let info = h.p.call_info(h.call(1)).unwrap();
    assert_eq!(info.origin, tapi::LINECALLORIGIN_INBOUND);
    // The call can be answered and deflected.
    assert!(h.features(1).contains("ANSWER"));
    h.answer_call(1).unwrap();
    expect!(
        h.sent(),
        [
            "AnswerCall{callToBeAnswered{callID=FF00010000000000EC6114647E570000 deviceID=3021061290002}}"
        ]
    );
}

#[test]
fn unitel_incoming_call_answered_and_cleared() {
    let mut h = Harness::new(client("22334455"));
    h.status_messages(0);
    for name in [
        "unitel-case_makecall-DeliveredEvent.xml",
        "unitel-case_makecall-EstablishedEvent.xml",
        "unitel-case_makecall-ConnectionClearedEvent.xml",
    ] {
        captured(&mut h, 0, name, Some("t-12345678"));
    }
    // `Normal Clearing` is normalClearing.
    expect!(
        h.tapi(),
        [
            "NEWCALL line0 call#1",
            "CALLSTATE call#1 OFFERING ACTIVE",
            "CALLSTATE call#1 CONNECTED ACTIVE",
            "CALLINFO call#1 CONNECTEDID",
            "CALLSTATE call#1 DISCONNECTED NORMAL",
            "CALLSTATE call#1 IDLE"
        ]
    );
    assert_eq!(caller(&h, 1).as_deref(), Some("200"));
}

#[test]
fn unitel_hold_transfer_divert_and_device_settings() {
    let mut h = Harness::new(remote(&["200", "203", "204"]));
    for i in 0..3 {
        h.status_messages(i);
    }
    // `held` at 203 for a call the line did not know: offered on hold.
    captured(&mut h, 1, "unitel-HeldEvent.xml", Some("u-12345678-203"));
    expect!(
        h.tapi(),
        ["NEWCALL line1 call#1", "CALLSTATE call#1 ONHOLD"]
    );
    // A single-step transfer at 200 takes its call away.
    h.event(
        0,
        r#"<EstablishedEvent><monitorCrossRefID>{X}</monitorCrossRefID><establishedConnection><callID>SIP/hpbx-0000af19</callID><deviceID>200</deviceID></establishedConnection><answeringDevice><deviceIdentifier>200</deviceIdentifier></answeringDevice><callingDevice><deviceIdentifier>201</deviceIdentifier></callingDevice><calledDevice><deviceIdentifier>200</deviceIdentifier></calledDevice><localConnectionInfo>connected</localConnectionInfo></EstablishedEvent>"#,
    );
    captured(
        &mut h,
        0,
        "unitel-TransferedEvent.xml",
        Some("u-12345678-200"),
    );
    expect!(
        h.tapi(),
        [
            "NEWCALL line0 call#2",
            "CALLSTATE call#2 CONNECTED ACTIVE",
            "CALLINFO call#2 CONNECTEDID",
            "CALLSTATE call#2 IDLE"
        ]
    );
    // A ringing call answered elsewhere (`Answered elsewhere`).
    h.event(
        0,
        r#"<DeliveredEvent><monitorCrossRefID>{X}</monitorCrossRefID><connection><callID>SIP/hpbx-0000af21</callID><deviceID>200</deviceID></connection><alertingDevice><deviceIdentifier>200</deviceIdentifier></alertingDevice><callingDevice><deviceIdentifier>201</deviceIdentifier></callingDevice><calledDevice><deviceIdentifier>202</deviceIdentifier></calledDevice><localConnectionInfo>alerting</localConnectionInfo></DeliveredEvent>"#,
    );
    captured(
        &mut h,
        0,
        "unitel-DivertedEvent.xml",
        Some("u-12345678-200"),
    );
    expect!(
        h.tapi(),
        [
            "NEWCALL line0 call#3",
            "CALLSTATE call#3 OFFERING ACTIVE",
            "CALLINFO call#3 CALLEDID",
            "CALLSTATE call#3 IDLE"
        ]
    );
    // Do-not-disturb at 200, forwarding (forwardStatus before forwardingType) at 204.
    captured(
        &mut h,
        0,
        "unitel-case_dnd-DoNotDisturbEvent.xml",
        Some("u-12345678-200"),
    );
    captured(
        &mut h,
        2,
        "unitel-ForwardingEvent.xml",
        Some("u-12345678-204"),
    );
    expect!(
        h.tapi(),
        ["ADDRESSSTATE line0 FORWARD", "ADDRESSSTATE line2 FORWARD"]
    );
    let fw = h.p.address_status(LineId::new(2), 0).unwrap().forward;
    assert_eq!(fw, [fwd(tapi::LINEFORWARDMODE_UNCOND, Some("200"))]);
    let fw = h.p.address_status(LineId::new(0), 0).unwrap().forward;
    assert_eq!(fw, [fwd(tapi::LINEFORWARDMODE_UNCOND, None)]);
}

#[test]
fn unitel_session_and_synchronisation_answers() {
    let mut h = Harness::boot(client("200"), &[]);
    h.answer(
        "StartApplicationSession",
        &vector("unitel-StartApplicationSessionPosResponse.xml"),
    );
    // The ecma.ch ed6 namespace names edition 6: the provider writes ed6 from now on.
    let sent = h.sent_with_ids();
    assert_eq!(sent.len(), 2);
    h.xrefs.insert(0, "u-12345678-200".to_owned());
    h.answer("MonitorStart", &vector("unitel-MonitorStartResponse.xml"));
    h.answer("SnapshotDevice", &snapshot(&[]));
    h.answer(
        "GetDoNotDisturb",
        &vector("unitel-GetDoNotDisturbResponse.xml"),
    );
    h.answer("GetForwarding", &vector("unitel-GetForwardingResponse.xml"));
    assert!(h.p.in_service(LineId::new(0)));
    // The forwarding that is off is not reported.
    assert_eq!(h.p.address_status(LineId::new(0), 0).unwrap().forward, []);
    h.open(0);
    captured(
        &mut h,
        0,
        "unitel-case_dnd-DoNotDisturbEvent.xml",
        Some("u-12345678-200"),
    );
    assert_eq!(
        h.p.address_status(LineId::new(0), 0).unwrap().forward,
        [fwd(tapi::LINEFORWARDMODE_UNCOND, None)]
    );
}

#[test]
fn zultys_events_without_namespace() {
    let mut h = Harness::new(client("210"));
    captured(
        &mut h,
        0,
        "zultys-sim-test-DeliveredEvent-nonamespace.xml",
        None,
    );
    expect!(
        h.tapi(),
        [
            "NEWCALL line0 call#1",
            "CALLSTATE call#1 OFFERING ACTIVE",
            "CALLINFO call#1 CALLEDID"
        ]
    );
    captured(
        &mut h,
        0,
        "zultys-sim-test-EstablishedEvent-nonamespace.xml",
        None,
    );
    expect!(
        h.tapi(),
        [
            "CALLSTATE call#1 CONNECTED ACTIVE",
            "CALLINFO call#1 CONNECTEDID"
        ]
    );
    assert_eq!(caller(&h, 1).as_deref(), Some("0412345678"));
}

#[test]
fn prefixed_namespaces() {
    let mut h = Harness::boot(client(L0), &[]);
    h.answer_start(120);
    h.xrefs.insert(0, "43".to_owned());
    h.answer(
        "MonitorStart",
        &format!(r#"<ns3:MonitorStartResponse xmlns:ns3="{NS}"><ns3:monitorCrossRefID>43</ns3:monitorCrossRefID></ns3:MonitorStartResponse>"#),
    );
    h.sync_all();
    h.open(0);
    h.clear();
    let prefixed = |xml: String, p: &str| {
        xml.replace(
            &format!(r#" xmlns="{NS}""#),
            &format!(r#" xmlns:{p}="{NS}""#),
        )
        .replace("</", &format!("</{p}:"))
        .replace('<', &format!("<{p}:"))
        .replace(&format!("<{p}:/"), "</")
        .replace(&format!("<{p}:?xml"), "<?xml")
    };
    h.event(
        0,
        &prefixed(ev::delivered_in("C5", L0, "300", "newCall"), "csta"),
    );
    h.event(
        0,
        &prefixed(ev::cleared("C5", "300", "normalClearing"), "ns3"),
    );
    expect!(
        h.tapi(),
        [
            "NEWCALL line0 call#1",
            "CALLSTATE call#1 OFFERING ACTIVE",
            "CALLSTATE call#1 DISCONNECTED NORMAL",
            "CALLSTATE call#1 IDLE"
        ]
    );
}
