//! Multi-line: the server's device list (SystemRegister, GetSwitchingFunctionDevices
//! and its segments), lines created and removed at run time, 1,000 lines.

#[macro_use]
mod common;

use std::time::Duration;

use common::*;
use ucsta_tsp::provider::{LineId, ProviderEvent};

const L3: &str = "sip:203@pbx.example";

fn get_devices_response(xref: &str) -> String {
    format!(
        r#"<GetSwitchingFunctionDevicesResponse xmlns="{NS}"><serviceCrossRefID>{xref}</serviceCrossRefID></GetSwitchingFunctionDevicesResponse>"#
    )
}

fn segment(xref: &str, id: u32, last: bool, devices: &[String]) -> String {
    let entries: String = devices
        .iter()
        .map(|d| format!("<deviceEntry><deviceID>{d}</deviceID></deviceEntry>"))
        .collect();
    format!(
        r#"<SwitchingFunctionDevices xmlns="{NS}"><serviceCrossRefID>{xref}</serviceCrossRefID><segmentID>{id}</segmentID><lastSegment>{last}</lastSegment><deviceList>{entries}</deviceList></SwitchingFunctionDevices>"#
    )
}

fn system_register_response() -> String {
    format!(
        r#"<SystemRegisterResponse xmlns="{NS}"><sysStatRegisterID>R1</sysStatRegisterID></SystemRegisterResponse>"#
    )
}

fn strings(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn device_list_creates_and_removes_lines() {
    // Stored from the last run: 201 and 203.
    let mut h = Harness::boot(multi(), &strings(&[L0, L3]));
    assert_eq!(h.p.line_count(), 2);
    h.open(0);
    h.open(1);
    h.status_messages(1);
    h.clear();
    h.answer_start(120);
    expect!(
        h.sent(),
        [
            "SystemRegister{requestTypes{switchingFunctionDevicesChanged=true}}",
            "GetSwitchingFunctionDevices",
            "MonitorStart{monitorObject{deviceObject=sip:201@pbx.example}}",
            "MonitorStart{monitorObject{deviceObject=sip:203@pbx.example}}"
        ]
    );
    h.answer("SystemRegister", &system_register_response());
    h.answer("GetSwitchingFunctionDevices", &get_devices_response("D1"));
    h.sync_all();
    h.clear();
    // The server's list, in two segments (the first before anything else changes):
    // 201 stays, 203 is gone, 202 is new.
    h.frame(500, &segment("D1", 1, false, &strings(&[L0])));
    expect!(
        h.sent_with_ids()
            .into_iter()
            .map(|(i, s)| format!("{i} {s}"))
            .collect(),
        ["500 SwitchingFunctionDevicesResponse"]
    );
    h.frame(501, &segment("D1", 2, true, &strings(&[L1])));
    expect!(
        h.sent_with_ids()
            .into_iter()
            .map(|(i, s)| format!("{i} {s}"))
            .collect(),
        [
            "501 SwitchingFunctionDevicesResponse",
            "12 MonitorStop{monitorCrossRefID=44}",
            "13 MonitorStart{monitorObject{deviceObject=sip:202@pbx.example}}"
        ]
    );
    expect!(h.tapi(), ["REMOVE dev101", "CREATE temp2"]);
    assert_eq!(
        h.take_events(),
        [ProviderEvent::DeviceList(strings(&[L0, L1]))]
    );
    // TAPI gives the new line its device ID; the removed one is gone.
    assert_eq!(
        h.p.line_by_device_id(BASE + 1).map_err(err),
        Err("LINEERR_NODEVICE".into())
    );
    assert_eq!(h.p.create_line_device(2, BASE + 2), Ok(()));
    assert_eq!(
        h.p.create_line_device(2, BASE + 2).map_err(err),
        Err("LINEERR_BADDEVICEID".into())
    );
    assert_eq!(h.p.line_by_device_id(BASE + 2), Ok(LineId::new(2)));
    let lines: Vec<(usize, String, Option<u32>)> =
        h.p.lines()
            .map(|(l, d, id)| (l.index(), d.to_owned(), id))
            .collect();
    assert_eq!(
        lines,
        [
            (0, L0.to_owned(), Some(BASE)),
            (2, L1.to_owned(), Some(BASE + 2))
        ]
    );
    h.sync_all();
    assert_eq!(h.take_events(), [ProviderEvent::Synchronised]);
    h.open(2);
    h.event(2, &ev::delivered_in("C1", L1, "300", "newCall"));
    expect!(
        h.tapi(),
        ["NEWCALL line2 call#1", "CALLSTATE call#1 OFFERING ACTIVE"]
    );
    // The same list again: nothing changes, nothing is stored.
    h.frame(
        502,
        &format!(r#"<SwitchingFunctionDevicesChanged xmlns="{NS}"><sysStatRegisterID>R1</sysStatRegisterID></SwitchingFunctionDevicesChanged>"#),
    );
    expect!(
        h.sent_with_ids()
            .into_iter()
            .map(|(i, s)| format!("{i} {s}"))
            .collect(),
        [
            "14 SnapshotDevice{snapshotObject=sip:202@pbx.example}",
            "15 GetDoNotDisturb{device=sip:202@pbx.example}",
            "16 GetForwarding{device=sip:202@pbx.example}",
            "502 SwitchingFunctionDevicesChangedResponse",
            "17 GetSwitchingFunctionDevices"
        ]
    );
    h.answer("GetSwitchingFunctionDevices", &get_devices_response("D2"));
    h.frame(503, &segment("D2", 1, true, &strings(&[L1, L0])));
    h.sent();
    expect!(h.tapi(), []);
    assert_eq!(h.take_events(), []);
    // A device that comes back later keeps its permanent line ID.
    let removed_id = {
        let h = Harness::boot(multi(), &strings(&[L3]));
        h.p.dev_caps(LineId::new(0)).unwrap().permanent_line_id
    };
    h.frame(
        504,
        &format!(r#"<SwitchingFunctionDevicesChanged xmlns="{NS}"/>"#),
    );
    h.answer("GetSwitchingFunctionDevices", &get_devices_response("D3"));
    h.frame(505, &segment("D3", 1, true, &strings(&[L0, L1, L3])));
    expect!(h.tapi(), ["CREATE temp3"]);
    assert_eq!(
        h.p.dev_caps(LineId::new(3)).unwrap().permanent_line_id,
        removed_id
    );
}

#[test]
fn device_list_segments_of_another_read_and_changes_during_a_read() {
    let mut h = Harness::boot(multi(), &[]);
    h.answer_start(120);
    h.answer("SystemRegister", &system_register_response());
    // Segments may come before the response that names their read.
    h.frame(600, &segment("D1", 1, false, &strings(&[L0])));
    h.answer("GetSwitchingFunctionDevices", &get_devices_response("D1"));
    // A segment of some other read is ignored (but answered).
    h.frame(601, &segment("D9", 1, true, &strings(&[L3])));
    // The list changes during the read: it is read again afterwards.
    h.frame(
        602,
        &format!(r#"<SwitchingFunctionDevicesChanged xmlns="{NS}"/>"#),
    );
    h.sent();
    h.frame(603, &segment("D1", 2, true, &strings(&[L1])));
    expect!(h.tapi(), ["CREATE temp0", "CREATE temp1"]);
    expect!(
        h.outstanding_names(),
        [
            "MonitorStart",
            "MonitorStart",
            "GetSwitchingFunctionDevices"
        ]
    );
}

#[test]
fn without_change_reports_the_list_is_read_every_minute() {
    let mut h = Harness::boot(multi(), &[]);
    h.answer_start(600);
    h.answer(
        "SystemRegister",
        &csta_error("operation", "serviceNotSupported"),
    );
    h.answer("GetSwitchingFunctionDevices", &get_devices_response("D1"));
    h.frame(700, &segment("D1", 1, true, &strings(&[L0])));
    h.sync_all();
    h.clear();
    h.advance(Duration::from_secs(59));
    assert_eq!(h.outstanding_names(), Vec::<String>::new());
    h.advance(Duration::from_secs(1));
    assert_eq!(h.outstanding_names(), ["GetSwitchingFunctionDevices"]);
}

#[test]
fn a_thousand_lines_in_segments_of_32() {
    let devices: Vec<String> = (0..1000)
        .map(|i| format!("sip:{}@pbx.example", 1000 + i))
        .collect();
    let mut h = Harness::boot(multi(), &[]);
    h.answer_start(120);
    h.answer("SystemRegister", &system_register_response());
    h.answer("GetSwitchingFunctionDevices", &get_devices_response("D1"));
    let segments: Vec<&[String]> = devices.chunks(32).collect();
    assert_eq!(segments.len(), 32);
    for (i, chunk) in segments.iter().enumerate() {
        h.frame(
            1000 + i as u16,
            &segment("D1", i as u32 + 1, i + 1 == segments.len(), chunk),
        );
    }
    let tapi = h.tapi();
    assert_eq!(tapi.len(), 1000);
    assert_eq!(tapi[0], "CREATE temp0");
    assert_eq!(tapi[999], "CREATE temp999");
    for i in 0..1000u32 {
        h.p.create_line_device(i, BASE + i).unwrap();
    }
    // 32 answers to the segments, then the monitors within the window.
    let sent = h.sent();
    assert_eq!(
        sent.iter()
            .filter(|s| *s == "SwitchingFunctionDevicesResponse")
            .count(),
        32
    );
    assert_eq!(h.outstanding_names().len(), 32);
    h.sync_all();
    assert_eq!(h.p.lines().count(), 1000);
    assert!((0..1000).all(|i| h.p.in_service(LineId::new(i))));
    let events = h.take_events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, ProviderEvent::DeviceList(d) if d.len() == 1000))
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, ProviderEvent::Synchronised))
            .count(),
        1
    );
    assert_eq!(events.last(), Some(&ProviderEvent::Synchronised));
    // An event for the last line reaches it.
    h.open(999);
    h.event(
        999,
        &ev::delivered_in("C1", &devices[999], "300", "newCall"),
    );
    expect!(
        h.tapi(),
        ["NEWCALL line999 call#1", "CALLSTATE call#1 OFFERING ACTIVE"]
    );
}
