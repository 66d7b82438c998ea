//! The JSON shapes documented in `csta_core::json`, exactly, and what JSON is refused.

use csta_core::flags::MonitorFilter;
use csta_core::json;
use csta_core::message::ErrorCode;
use csta_core::message::call::MakeCall;
use csta_core::message::event::DeliveredEvent;
use csta_core::message::monitor::{MonitorObject, MonitorStart};
use csta_core::names::{AutoOriginate, ConnectionState, EventCause, MonitorType, Operation};
use csta_core::types::{ConnectionId, CrossRefId, DeviceId, DeviceRef, Opaque, OpaqueForm};
use csta_core::xml::Text;
use csta_core::{Message, decode};

/// `m` as JSON, checked to read back as `m`.
fn to_json(m: &Message<'_>) -> String {
    let mut buf = [0u8; 4096];
    let n = json::to_slice(m, &mut buf).unwrap();
    assert_eq!(&json::from_slice(&buf[..n]).unwrap(), m);
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

#[test]
fn test_make_call() {
    let m = Message::MakeCall(MakeCall {
        calling_device: DeviceId::new("201"),
        called_directory_number: DeviceId {
            type_of_number: Some(Text::new("dialingNumber")),
            ..DeviceId::new("N<+49 89 \"1234\">\\")
        },
        account_code: None,
        auth_code: None,
        auto_originate: AutoOriginate::from_name("doNotPrompt"),
        correlator_data: Some(Opaque {
            text: Text::new("42\n"),
            form: Some(OpaqueForm::String),
        }),
    });
    assert_eq!(
        to_json(&m),
        r#"{"MakeCall":{"callingDevice":{"id":"201"},"calledDirectoryNumber":{"id":"N<+49 89 \"1234\">\\","typeOfNumber":"dialingNumber"},"autoOriginate":"doNotPrompt","correlatorData":{"text":"42\n","form":"string"}}}"#
    );
    // The example of the module documentation, members in any order.
    let doc = br#"{"MakeCall": {"autoOriginate": "doNotPrompt", "callingDevice": {"id": "201"}, "calledDirectoryNumber": {"id": "202"}}}"#;
    let Message::MakeCall(call) = json::from_slice(doc).unwrap() else {
        panic!("not a MakeCall");
    };
    assert_eq!(call.calling_device, DeviceId::new("201"));
    assert_eq!(call.called_directory_number, DeviceId::new("202"));
    assert_eq!(call.auto_originate, AutoOriginate::from_name("doNotPrompt"));
    assert_eq!(call.account_code, None);
}

#[test]
fn test_delivered_event_device_refs() {
    let m = Message::DeliveredEvent(DeliveredEvent {
        monitor_cross_ref_id: Some(CrossRefId::new("1173673890")),
        connection: ConnectionId::new("FF00", "3021061290002"),
        alerting_device: Some(DeviceRef::id("N<3021061290002>;noa=nk")),
        calling_device: DeviceRef::NotKnown,
        called_device: DeviceRef::NumberDialed(DeviceId::new("02911")),
        last_redirection_device: Some(DeviceRef::Restricted),
        local_connection_info: ConnectionState::from_name("alerting"),
        correlator_data: None,
        cause: EventCause::from_name("newCall"),
    });
    assert_eq!(
        to_json(&m),
        r#"{"DeliveredEvent":{"monitorCrossRefID":"1173673890","connection":{"callID":"FF00","deviceID":{"id":"3021061290002"}},"alertingDevice":{"deviceIdentifier":{"id":"N<3021061290002>;noa=nk"}},"callingDevice":"notKnown","calledDevice":{"numberDialed":{"id":"02911"}},"lastRedirectionDevice":"restricted","localConnectionInfo":"alerting","cause":"newCall"}}"#
    );
    for (json, device) in [
        (r#""notRequired""#, DeviceRef::NotRequired),
        (r#""notSpecified""#, DeviceRef::NotSpecified),
    ] {
        let input = format!(
            r#"{{"DeliveredEvent":{{"monitorCrossRefID":"1","connection":{{}},"alertingDevice":"notKnown","callingDevice":"notKnown","calledDevice":"notKnown","lastRedirectionDevice":{json}}}}}"#
        );
        let Message::DeliveredEvent(DeliveredEvent {
            last_redirection_device,
            ..
        }) = json::from_slice(input.as_bytes()).unwrap()
        else {
            panic!("not a DeliveredEvent");
        };
        assert_eq!(last_redirection_device, Some(device));
    }
    // An unknown cause is kept; an unknown device choice is not.
    let event = br#"{"DeliveredEvent":{"monitorCrossRefID":"1","connection":{},"alertingDevice":"nobody","callingDevice":"notKnown","calledDevice":"notKnown","lastRedirectionDevice":"notKnown"}}"#;
    assert!(json::from_slice(event).is_err());
}

#[test]
fn test_error_code() {
    let m = Message::CSTAErrorCode(ErrorCode::Operation(
        Operation::from_name("invalidCallID").unwrap(),
    ));
    assert_eq!(
        to_json(&m),
        r#"{"CSTAErrorCode":{"operation":"invalidCallID"}}"#
    );
    let m = Message::CSTAErrorCode(ErrorCode::Operation(Operation::Other(Text::new(
        "vendorSpecific",
    ))));
    assert_eq!(
        to_json(&m),
        r#"{"CSTAErrorCode":{"operation":"vendorSpecific"}}"#
    );
    let m = Message::CSTAErrorCode(ErrorCode::Unspecified(Text::new("busy")));
    assert_eq!(to_json(&m), r#"{"CSTAErrorCode":{"unspecified":"busy"}}"#);
    // The category keeps the schema's spelling.
    let xml = br#"<CSTAErrorCode xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3"><systemResourceAvailibility>overallMonitorLimitExceeded</systemResourceAvailibility></CSTAErrorCode>"#;
    assert_eq!(
        to_json(&decode(xml).unwrap().message),
        r#"{"CSTAErrorCode":{"systemResourceAvailibility":"overallMonitorLimitExceeded"}}"#
    );
}

#[test]
fn test_monitor_start_with_filter() {
    let mut filter = MonitorFilter::new();
    assert!(filter.set("callcontrol", "delivered", true));
    let m = Message::MonitorStart(MonitorStart {
        monitor_object: MonitorObject::Device(DeviceId::new("sip:201@pbx")),
        requested_monitor_filter: Some(filter),
        monitor_type: MonitorType::from_name("device"),
    });
    assert_eq!(
        to_json(&m),
        r#"{"MonitorStart":{"monitorObject":{"deviceObject":{"id":"sip:201@pbx"}},"requestedMonitorFilter":{"callcontrol":{"delivered":true}},"monitorType":"device"}}"#
    );
    // A category without flags.
    let mut empty = MonitorFilter::new();
    assert!(empty.add_category("callcontrol"));
    let m = Message::MonitorStart(MonitorStart {
        monitor_object: MonitorObject::Call(ConnectionId {
            call_id: Some(Text::new("7")),
            device_id: None,
        }),
        requested_monitor_filter: Some(empty),
        monitor_type: None,
    });
    assert_eq!(
        to_json(&m),
        r#"{"MonitorStart":{"monitorObject":{"callObject":{"callID":"7"}},"requestedMonitorFilter":{"callcontrol":{}}}}"#
    );
}

#[test]
fn test_rejected() {
    let cases: &[&[u8]] = &[
        // Unknown message.
        br#"{"MakeCoffee":{}}"#,
        // Missing required members.
        br#"{"MakeCall":{"callingDevice":{"id":"201"}}}"#,
        br#"{"MakeCall":{}}"#,
        br#"{"MonitorStop":{}}"#,
        br#"{"CSTAErrorCode":{}}"#,
        br#"{"DeliveredEvent":{"monitorCrossRefID":"1"}}"#,
        br#"{"MakeCall":{"callingDevice":{},"calledDirectoryNumber":{"id":"2"}}}"#,
        // Wrong types and values.
        br#"{"MakeCall":{"callingDevice":"201","calledDirectoryNumber":{"id":"2"}}}"#,
        br#"{"GetSpeakerVolumeResponse":{"speakerVolume":"loud"}}"#,
        br#"{"GetSpeakerVolumeResponse":{"speakerVolume":-1}}"#,
        br#"{"GetDoNotDisturbResponse":{"doNotDisturbOn":"yes"}}"#,
        br#"{"MakeCall":{"callingDevice":{"id":"1"},"calledDirectoryNumber":{"id":"2"},"autoOriginate":"maybe"}}"#,
        br#"{"MonitorStart":{"monitorObject":{"deviceObject":{"id":"1"}},"requestedMonitorFilter":{"nosuch":{}}}}"#,
        br#"{"MonitorStart":{"monitorObject":{"deviceObject":{"id":"1"}},"requestedMonitorFilter":{"callcontrol":{"nosuch":true}}}}"#,
        // Malformed JSON.
        b"",
        b"{",
        b"[]",
        b"null",
        br#"{"MonitorStop":{"monitorCrossRefID":"42"}"#,
        br#"{"MonitorStop":{"monitorCrossRefID":"4\x2"}}"#,
        br#"{"MonitorStop":{"monitorCrossRefID":"\ud800"}}"#,
        b"{\"MonitorStop\":{\"monitorCrossRefID\":\"tab\there\"}}",
        br#"{"MonitorStop":{"monitorCrossRefID":42}}"#,
        br#"{"MonitorStop":{"monitorCrossRefID":"42"}} {}"#,
        br#"{"MonitorStop":{"monitorCrossRefID":"42"},"MakeCall":{}}"#,
        b"\xff",
    ];
    for json in cases {
        assert!(
            json::from_slice(json).is_err(),
            "accepted {}",
            String::from_utf8_lossy(json)
        );
    }
}

#[test]
fn test_too_small_buffer() {
    let m = Message::MonitorStop(csta_core::message::monitor::MonitorStop {
        monitor_cross_ref_id: CrossRefId::new("42"),
    });
    let mut buf = [0u8; 10];
    assert_eq!(
        json::to_slice(&m, &mut buf),
        Err(json::EncodeError::BufferFull)
    );
}

/// Feature lists tell a service by its element's presence: `false` is absence, in
/// JSON, in XML and through `set`.
#[test]
fn test_feature_list_presence() {
    let input = br#"{"GetCSTAFeaturesResponse":{"supportedServices":{"callControlServList":{"makeCall":true,"answerCall":false}}}}"#;
    let m = json::from_slice(input).unwrap();
    assert_eq!(
        to_json(&m),
        r#"{"GetCSTAFeaturesResponse":{"supportedServices":{"callControlServList":{"makeCall":true}}}}"#
    );
    let mut buf = [0u8; 512];
    let n = m.encode(csta_core::Edition::Ed4, &mut buf).unwrap();
    let xml = core::str::from_utf8(&buf[..n]).unwrap();
    assert!(
        xml.ends_with("<supportedServices><callControlServList><makeCall/></callControlServList></supportedServices></GetCSTAFeaturesResponse>"),
        "{xml}"
    );
    assert_eq!(decode(&buf[..n]).unwrap().message, m);
    // Elements with capability details count as present.
    let xml = br#"<GetCSTAFeaturesResponse xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed4"><supportedServices><callControlServList><answerCall/><makeCall><x>1</x></makeCall></callControlServList></supportedServices></GetCSTAFeaturesResponse>"#;
    let Message::GetCSTAFeaturesResponse(r) = decode(xml).unwrap().message else {
        panic!("not a GetCSTAFeaturesResponse");
    };
    let mut services = r.supported_services.unwrap();
    assert_eq!(services.get("callControlServList", "makeCall"), Some(true));
    assert_eq!(
        services.get("callControlServList", "answerCall"),
        Some(true)
    );
    assert_eq!(services.get("callControlServList", "clearConnection"), None);
    assert!(services.set("callControlServList", "answerCall", false));
    assert_eq!(services.get("callControlServList", "answerCall"), None);
}

#[test]
fn test_maintenance_events() {
    use csta_core::Edition;
    use csta_core::message::event::{BackInServiceEvent, OutOfServiceEvent};

    let m = Message::OutOfServiceEvent(OutOfServiceEvent {
        monitor_cross_ref_id: Some(CrossRefId::new("7")),
        device: DeviceRef::id("sip:201@example.test"),
        cause: None,
    });
    let mut buf = [0u8; 512];
    let n = m.encode(Edition::Ed5, &mut buf).unwrap();
    assert_eq!(
        core::str::from_utf8(&buf[..n]).unwrap(),
        r#"<?xml version="1.0" encoding="UTF-8"?><OutOfServiceEvent xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed5"><monitorCrossRefID>7</monitorCrossRefID><device><deviceIdentifier>sip:201@example.test</deviceIdentifier></device></OutOfServiceEvent>"#
    );
    let decoded = decode(&buf[..n]).unwrap();
    assert_eq!(decoded.edition, Some(Edition::Ed5));
    assert_eq!(decoded.message, m);
    assert_eq!(
        to_json(&m),
        r#"{"OutOfServiceEvent":{"monitorCrossRefID":"7","device":{"deviceIdentifier":{"id":"sip:201@example.test"}}}}"#
    );

    let m = Message::BackInServiceEvent(BackInServiceEvent {
        monitor_cross_ref_id: Some(CrossRefId::new("7")),
        device: DeviceRef::id("201"),
        cause: EventCause::from_name("normal"),
    });
    let xml = br#"<csta:BackInServiceEvent xmlns:csta="http://www.ecma-international.org/standards/ecma-323/csta/ed3"><csta:cause>normal</csta:cause><csta:device><csta:deviceIdentifier>201</csta:deviceIdentifier></csta:device><csta:monitorCrossRefID>7</csta:monitorCrossRefID></csta:BackInServiceEvent>"#;
    let decoded = decode(xml).unwrap();
    assert_eq!(decoded.edition, Some(Edition::Ed3));
    assert_eq!(decoded.message, m);
    assert_eq!(
        to_json(&m),
        r#"{"BackInServiceEvent":{"monitorCrossRefID":"7","device":{"deviceIdentifier":{"id":"201"}},"cause":"normal"}}"#
    );
}

#[test]
fn test_application_session_terminated() {
    use csta_core::Edition;
    use csta_core::message::session::{ApplicationSessionTerminated, SessionTermReason};
    use csta_core::names;

    let m = Message::ApplicationSessionTerminated(ApplicationSessionTerminated {
        session_id: CrossRefId::new("s1"),
        session_term_reason: SessionTermReason {
            defined_term_reason: Some(names::SessionTermReason::SessionTimerExpired),
            non_standard_term_reason: None,
        },
    });
    let mut buf = [0u8; 512];
    // ECMA-354 messages keep their namespace whatever the edition.
    let n = m.encode(Edition::Ed6, &mut buf).unwrap();
    assert_eq!(
        core::str::from_utf8(&buf[..n]).unwrap(),
        r#"<?xml version="1.0" encoding="UTF-8"?><ApplicationSessionTerminated xmlns="http://www.ecma-international.org/standards/ecma-354/appl_session"><sessionID>s1</sessionID><sessionTermReason><definedTermReason>sessionTimerExpired</definedTermReason></sessionTermReason></ApplicationSessionTerminated>"#
    );
    let decoded = decode(&buf[..n]).unwrap();
    assert_eq!(decoded.edition, None);
    assert_eq!(decoded.message, m);
    assert_eq!(m.kind(), csta_core::Kind::Event);
    assert_eq!(
        to_json(&m),
        r#"{"ApplicationSessionTerminated":{"sessionID":"s1","sessionTermReason":{"definedTermReason":"sessionTimerExpired"}}}"#
    );
}

#[test]
fn test_switching_function_devices_and_system_register() {
    let xml = br#"<SwitchingFunctionDevices xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3"><serviceCrossRefID>D1</serviceCrossRefID><segmentID>1</segmentID><lastSegment>true</lastSegment><deviceList><deviceEntry><deviceID>sip:201@pbx</deviceID><deviceCategory>station</deviceCategory></deviceEntry></deviceList></SwitchingFunctionDevices>"#;
    let m = decode(xml).unwrap().message;
    assert_eq!(
        to_json(&m),
        r#"{"SwitchingFunctionDevices":{"serviceCrossRefID":"D1","segmentID":1,"lastSegment":true,"deviceList":{"deviceEntry":[{"deviceID":{"id":"sip:201@pbx"},"deviceCategory":"station"}]}}}"#
    );
    let xml = br#"<SystemRegister><requestTypes><switchingFunctionDevicesChanged>true</switchingFunctionDevicesChanged></requestTypes></SystemRegister>"#;
    let m = decode(xml).unwrap().message;
    assert_eq!(
        to_json(&m),
        r#"{"SystemRegister":{"requestTypes":{"switchingFunctionDevicesChanged":true}}}"#
    );
}
