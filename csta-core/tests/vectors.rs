//! Every file of the CSTA vector collection (`tests/data/csta`) is a test.

//!
//! Each file has an entry in [`VECTORS`]: the message it decodes to (and the edition
//! its namespace names), the [`Leniency`] it needs, or the exact error it is rejected
//! with. Templates (`{name}`, `%s`) are filled with sample values first. Every decoded
//! message must survive encoding (ed3) and decoding again unchanged. The files under
//! `sip/` are SIP messages whose CSTA bodies are decoded the same way.

use std::string::String;
use std::vec::Vec;
use std::{fs, path::PathBuf};

use csta_core::message::call::ConnectionListItem;
use csta_core::message::{DecodeOptions, Edition, Message, decode, decode_with};
use csta_core::names::{AutoOriginate, ConnectionState, MonitorType};
use csta_core::types::DeviceRef;
use csta_core::xml::{Leniency, Limits, XmlError, XmlErrorKind};
use csta_core::{DecodeError, Decoded};

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/csta")
}

/// The name of the element whose start tag ends right before `at`, local part only.
fn enclosing_element(s: &str, at: usize) -> Option<&str> {
    let before = &s[..at];
    if !before.ends_with('>') {
        return None;
    }
    let open = before.rfind('<')?;
    let tag = &before[open + 1..before.len() - 1];
    if tag.starts_with(['/', '?', '!']) {
        return None;
    }
    let name = tag.split([' ', '\t', '\r', '\n', '/']).next()?;
    Some(name.rsplit(':').next().unwrap_or(name))
}

/// A plausible sample value for a placeholder (by its name) or for the element it fills.
fn sample(key: &str) -> Option<&'static str> {
    Some(match key {
        "callID" | "callid" => "42",
        "deviceID"
        | "deviceId"
        | "sip_account"
        | "d"
        | "dev"
        | "user"
        | "extension"
        | "callingDevice"
        | "deviceObject"
        | "alertingDevice"
        | "answeringDevice"
        | "releasingDevice"
        | "initiatingDevice"
        | "networkCallingDevice"
        | "device" => "sip:201@pbx.example.com",
        "calledDirectoryNumber"
        | "number"
        | "destination"
        | "consultedDevice"
        | "calledDevice"
        | "deviceIdentifier"
        | "numberDialed"
        | "networkCalledDevice"
        | "forwardDN" => "sip:202@pbx.example.com",
        "line" => "tel:+4989123456",
        "CSTA_USE_MONITOR_CROSS_REF_ID"
        | "CSTA_CREATE_MONITOR_CROSS_REF_ID"
        | "monitorCrossRefID" => "1001",
        "localConnectionInfo" => "connected",
        "cause" | "reason" => "normalClearing",
        "systemStatus" => "normal",
        "sysStatRegisterID" => "7",
        "doNotDisturbOn" | "microphoneMuteOn" | "activate" | "activateForward" => "true",
        "speakerVolume" => "50",
        "forwardingType" => "forwardImmediate",
        "requestedSessionDuration" => "180",
        "sessionCleanupDelay" => "60",
        "sessionID" => "0123456789abcdef",
        "appName" => "uCSTA",
        "password" => "secret",
        "ipAddress" | "MYIP" | "localIp" => "192.0.2.10",
        "port" | "localSipPort" => "5060",
        "random" | "rid(16)" | "rid(8)" => "a84b4c76e66710",
        // Content-Length: not needed to find the body.
        "len(body)" | "len(b)" => "0",
        "contact" | "Contact" => "sip:201@192.0.2.20:5061;transport=tls",
        _ => return None,
    })
}

/// Fills every `{name}` and `%s` of a template with [`sample`] values.
fn fill(template: &str) -> String {
    let mut out = String::new();
    let mut rest = 0;
    let bytes = template.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let (len, name) = if bytes[i] == b'{' {
            match template[i..].find('}') {
                Some(end) if !template[i + 1..i + end].contains(['<', '>', '{', '\n']) => {
                    (end + 1, Some(&template[i + 1..i + end]))
                }
                _ => (0, None),
            }
        } else if template[i..].starts_with("%s") {
            (2, None)
        } else {
            (0, None)
        };
        if len == 0 {
            i += 1;
            continue;
        }
        // The element the placeholder fills, or the SIP header it is the value of.
        let element = enclosing_element(template, i).or_else(|| {
            let line = &template[template[..i].rfind('\n').map_or(0, |n| n + 1)..i];
            line.strip_suffix(": ")
        });
        let value = name
            .and_then(sample)
            .or_else(|| element.and_then(sample))
            .unwrap_or_else(|| {
                panic!("no sample for {:?} in <{element:?}>", &template[i..i + len])
            });
        out.push_str(&template[rest..i]);
        out.push_str(value);
        i += len;
        rest = i;
    }
    out.push_str(&template[rest..]);
    out
}

/// What a vector file must do.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Decodes, strictly too, to the named message; the edition its namespace names.
    Decodes(&'static str, Option<Edition>),
    /// Decodes to the named message only with the named leniency; without any
    /// leniency, fails with the error given.
    Lenient(&'static str, Option<Edition>, Leniency, DecodeError),
    /// Rejected (with the default, every leniency) with exactly this error.
    Rejected(DecodeError),
    /// A root element this crate does not model: `UnknownMessage` at this offset.
    Unmodelled(usize),
}

use Expect::*;

/// One entry per `*.xml` file of `tests/data/csta`.
const VECTORS: &[(&str, Expect)] = &[
    (
        "asfeature-asterisk-comment-DoNotDisturbEvent.xml",
        Lenient(
            "DoNotDisturbEvent",
            Some(Edition::Ed3),
            Leniency::BARE_DEVICE_TEXT,
            DecodeError::MissingElement {
                element: "deviceIdentifier",
                offset: 145,
            },
        ),
    ),
    (
        "asfeature-asterisk-comment-ForwardingEvent-forwardImmediate-typo-ns.xml",
        Lenient(
            "ForwardingEvent",
            Some(Edition::Ed3),
            Leniency::BARE_DEVICE_TEXT,
            DecodeError::MissingElement {
                element: "deviceIdentifier",
                offset: 142,
            },
        ),
    ),
    (
        "asfeature-asterisk-comment-ForwardingEvent-forwardNoAns-typo-ns.xml",
        Lenient(
            "ForwardingEvent",
            Some(Edition::Ed3),
            Leniency::BARE_DEVICE_TEXT,
            DecodeError::MissingElement {
                element: "deviceIdentifier",
                offset: 142,
            },
        ),
    ),
    (
        "asfeature-fs-mod_csta-DoNotDisturbEvent.xml",
        Lenient(
            "DoNotDisturbEvent",
            Some(Edition::Ed3),
            Leniency::BARE_DEVICE_TEXT,
            DecodeError::MissingElement {
                element: "deviceIdentifier",
                offset: 142,
            },
        ),
    ),
    (
        "asfeature-fs-mod_csta-ForwardingEvent.xml",
        Lenient(
            "ForwardingEvent",
            Some(Edition::Ed3),
            Leniency::BARE_DEVICE_TEXT,
            DecodeError::MissingElement {
                element: "deviceIdentifier",
                offset: 140,
            },
        ),
    ),
    (
        "asfeature-sipr-test-ForwardingEvent.xml",
        Lenient(
            "ForwardingEvent",
            Some(Edition::Ed3),
            Leniency::BARE_DEVICE_TEXT,
            DecodeError::MissingElement {
                element: "deviceIdentifier",
                offset: 142,
            },
        ),
    ),
    (
        "asfeature-sipr-test-SetDoNotDisturb.xml",
        Decodes("SetDoNotDisturb", Some(Edition::Ed3)),
    ),
    (
        "asterisk-csp-unify-AnswerCall-template.xml",
        Decodes("AnswerCall", Some(Edition::Ed3)),
    ),
    (
        "asterisk-csp-unify-ClearConnection-template.xml",
        Decodes("ClearConnection", Some(Edition::Ed3)),
    ),
    (
        "asterisk-csp-unify-ConsultationCall-template.xml",
        Decodes("ConsultationCall", Some(Edition::Ed3)),
    ),
    (
        "asterisk-csp-unify-HoldCall-template.xml",
        Decodes("HoldCall", Some(Edition::Ed3)),
    ),
    (
        "asterisk-csp-unify-MakeCall-template.xml",
        Decodes("MakeCall", Some(Edition::Ed3)),
    ),
    (
        "asterisk-csp-unify-RetrieveCall-template.xml",
        Decodes("RetrieveCall", Some(Edition::Ed3)),
    ),
    (
        "fspbx-MakeCall-template.xml",
        Decodes("MakeCall", Some(Edition::Ed3)),
    ),
    (
        "gs5-openstage-answer_call-template.xml",
        Decodes("AnswerCall", Some(Edition::Ed4)),
    ),
    (
        "gs5-openstage-make_call-template.xml",
        Decodes("MakeCall", Some(Edition::Ed4)),
    ),
    (
        "gs5-openstage-set_do_not_disturb-template.xml",
        Decodes("SetDoNotDisturb", Some(Edition::Ed3)),
    ),
    (
        "gs5-openstage-set_forwarding-template.xml",
        Decodes("SetForwarding", Some(Edition::Ed3)),
    ),
    (
        "gs5-openstage-set_microphone_mute-template.xml",
        Decodes("SetMicrophoneMute", Some(Edition::Ed3)),
    ),
    (
        "gs5-openstage-set_speaker_volume-template.xml",
        Decodes("SetSpeakerVolume", Some(Edition::Ed3)),
    ),
    (
        "mitel-mivo400-CSTAErrorCode-overallMonitorLimitExceeded.xml",
        Decodes("CSTAErrorCode", Some(Edition::Ed5)),
    ),
    (
        "mitel-mivo400-MonitorStart-via-estos-log.xml",
        Lenient(
            "MonitorStart",
            Some(Edition::Ed5),
            Leniency::RAW_ANGLE_BRACKETS,
            DecodeError::Xml(XmlError {
                kind: XmlErrorKind::InvalidName,
                offset: 250,
            }),
        ),
    ),
    (
        "osv-CallInformationEvent.xml",
        Decodes("CallInformationEvent", Some(Edition::Ed4)),
    ),
    (
        "osv-DeflectCall-nonamespace.xml",
        Decodes("DeflectCall", None),
    ),
    (
        "osv-DeliveredEvent.xml",
        Decodes("DeliveredEvent", Some(Edition::Ed4)),
    ),
    (
        "osv-MakeCallResponse.xml",
        Decodes("MakeCallResponse", Some(Edition::Ed4)),
    ),
    (
        "osv-MonitorStart-ns3-prefixed.xml",
        Decodes("MonitorStart", Some(Edition::Ed4)),
    ),
    (
        "osv-MonitorStartResponse.xml",
        Decodes("MonitorStartResponse", Some(Edition::Ed4)),
    ),
    (
        "osv-MonitorStop-scx.xml",
        Decodes("MonitorStop", Some(Edition::Ed4)),
    ),
    (
        "osv-OriginatedEvent.xml",
        Decodes("OriginatedEvent", Some(Edition::Ed4)),
    ),
    (
        "osv-ServiceInitiatedEvent.xml",
        Decodes("ServiceInitiatedEvent", Some(Edition::Ed4)),
    ),
    (
        "osv-StartApplicationSessionPosResponse.xml",
        Decodes("StartApplicationSessionPosResponse", None),
    ),
    (
        "osv-SystemRegisterResponse.xml",
        Decodes("SystemRegisterResponse", Some(Edition::Ed4)),
    ),
    (
        "osv-SystemStatus-ed2-ecma.ch.xml",
        Decodes("SystemStatus", Some(Edition::Ed2)),
    ),
    (
        "osv-SystemStatus-ns3-prefixed.xml",
        Decodes("SystemStatus", Some(Edition::Ed4)),
    ),
    (
        "osv-pool-ClearConnectionResponse.xml",
        Decodes("ClearConnectionResponse", Some(Edition::Ed4)),
    ),
    (
        "osv-pool-SnapshotDeviceResponse.xml",
        Decodes("SnapshotDeviceResponse", Some(Edition::Ed4)),
    ),
    (
        "osv-pool-SystemRegister.xml",
        Decodes("SystemRegister", Some(Edition::Ed4)),
    ),
    (
        "osv-pool-SystemStatusResponse.xml",
        Decodes("SystemStatusResponse", Some(Edition::Ed4)),
    ),
    (
        "osv-pool-template-ClearConnection.xml",
        Decodes("ClearConnection", Some(Edition::Ed4)),
    ),
    (
        "osv-pool-template-ConnectionClearedEvent.xml",
        Decodes("ConnectionClearedEvent", Some(Edition::Ed4)),
    ),
    (
        "osv-pool-template-DeliveredEvent.xml",
        Decodes("DeliveredEvent", Some(Edition::Ed4)),
    ),
    (
        "osv-pool-template-EstablishedEvent.xml",
        Decodes("EstablishedEvent", Some(Edition::Ed4)),
    ),
    (
        "osv-pool-template-MakeCall.xml",
        Decodes("MakeCall", Some(Edition::Ed4)),
    ),
    (
        "osv-pool-template-MakeCallResponse.xml",
        Decodes("MakeCallResponse", Some(Edition::Ed4)),
    ),
    (
        "osv-pool-template-MonitorStart.xml",
        Decodes("MonitorStart", Some(Edition::Ed4)),
    ),
    (
        "osv-pool-template-MonitorStartResponse.xml",
        Decodes("MonitorStartResponse", Some(Edition::Ed4)),
    ),
    (
        "osv-pool-template-OriginatedEvent.xml",
        Decodes("OriginatedEvent", Some(Edition::Ed4)),
    ),
    (
        "osv-pool-template-ServiceInitiatedEvent.xml",
        Decodes("ServiceInitiatedEvent", Some(Edition::Ed4)),
    ),
    (
        "osv-pool-template-SnapshotDevice.xml",
        Decodes("SnapshotDevice", Some(Edition::Ed4)),
    ),
    (
        "osv-pool-template-SystemRegisterResponse.xml",
        Decodes("SystemRegisterResponse", None),
    ),
    (
        "osv-pool-template-SystemStatus.xml",
        Decodes("SystemStatus", Some(Edition::Ed4)),
    ),
    (
        "osv-pool-template-SystemStatus_RegisterID.xml",
        Decodes("SystemStatus", Some(Edition::Ed4)),
    ),
    (
        "osv-template-MonitorStart-scx-nonamespace.xml",
        Decodes("MonitorStart", None),
    ),
    (
        "osv-template-StartApplicationSession-nonamespace.xml",
        Decodes("StartApplicationSession", None),
    ),
    (
        "rresender-dmcc-MonitorStart-callcontrol-filter-template.xml",
        Decodes("MonitorStart", Some(Edition::Ed3)),
    ),
    (
        "rresender-dmcc-StartApplicationSession-ecma354-template.xml",
        Decodes("StartApplicationSession", None),
    ),
    (
        "rresender-dmcc-StopApplicationSession-ecma354-template.xml",
        Decodes("StopApplicationSession", None),
    ),
    (
        "project-DirectedPickupCall.xml",
        Decodes("DirectedPickupCall", Some(Edition::Ed3)),
    ),
    (
        "project-DirectedPickupCallResponse.xml",
        Decodes("DirectedPickupCallResponse", Some(Edition::Ed3)),
    ),
    (
        "project-GetSwitchingFunctionDevices.xml",
        Decodes("GetSwitchingFunctionDevices", Some(Edition::Ed3)),
    ),
    (
        "project-GetSwitchingFunctionDevicesResponse.xml",
        Decodes("GetSwitchingFunctionDevicesResponse", Some(Edition::Ed3)),
    ),
    (
        "project-GroupPickupCall.xml",
        Decodes("GroupPickupCall", Some(Edition::Ed5)),
    ),
    (
        "project-GroupPickupCallResponse.xml",
        Decodes("GroupPickupCallResponse", Some(Edition::Ed5)),
    ),
    (
        "project-SwitchingFunctionDevices-33-entries.xml",
        Rejected(DecodeError::TooMany {
            element: "deviceEntry",
            offset: 1825,
        }),
    ),
    (
        "project-SwitchingFunctionDevices.xml",
        Decodes("SwitchingFunctionDevices", Some(Edition::Ed6)),
    ),
    (
        "project-SwitchingFunctionDevicesChanged.xml",
        Decodes("SwitchingFunctionDevicesChanged", Some(Edition::Ed3)),
    ),
    (
        "project-SystemRegister-statusFilter.xml",
        Decodes("SystemRegister", Some(Edition::Ed3)),
    ),
    (
        "shorebridge-AnswerCall-template.xml",
        Decodes("AnswerCall", Some(Edition::Ed3)),
    ),
    (
        "shorebridge-GenerateDigits-template.xml",
        Decodes("GenerateDigits", Some(Edition::Ed3)),
    ),
    (
        "shorebridge-GetDoNotDisturb-template.xml",
        Decodes("GetDoNotDisturb", Some(Edition::Ed3)),
    ),
    (
        "shorebridge-GetForwarding-template.xml",
        Decodes("GetForwarding", Some(Edition::Ed3)),
    ),
    (
        "shorebridge-SetHookswitchStatus-offhook-template.xml",
        Unmodelled(91),
    ),
    (
        "sipe-rcc-clear_connection-template.xml",
        Decodes("ClearConnection", Some(Edition::Ed3)),
    ),
    (
        "sipe-rcc-get_csta_features-template.xml",
        Decodes("GetCSTAFeatures", Some(Edition::Ed3)),
    ),
    (
        "sipe-rcc-make_call-template.xml",
        Decodes("MakeCall", Some(Edition::Ed3)),
    ),
    (
        "sipe-rcc-monitor_start-template.xml",
        Decodes("MonitorStart", Some(Edition::Ed3)),
    ),
    (
        "sipe-rcc-monitor_stop-template.xml",
        Decodes("MonitorStop", Some(Edition::Ed3)),
    ),
    (
        "sipe-rcc-request_system_status-template.xml",
        Decodes("RequestSystemStatus", Some(Edition::Ed3)),
    ),
    (
        "snom-MonitorStart.xml",
        Decodes("MonitorStart", Some(Edition::Ed5)),
    ),
    (
        "snom-MonitorStartResponse.xml",
        Decodes("MonitorStartResponse", Some(Edition::Ed5)),
    ),
    (
        "snom-MonitorStop.xml",
        Decodes("MonitorStop", Some(Edition::Ed5)),
    ),
    (
        "snom-MonitorStopResponse.xml",
        Decodes("MonitorStopResponse", Some(Edition::Ed5)),
    ),
    (
        "snom-RequestSystemStatus.xml",
        Decodes("RequestSystemStatus", Some(Edition::Ed3)),
    ),
    (
        "snom-RequestSystemStatusResponse.xml",
        Decodes("RequestSystemStatusResponse", Some(Edition::Ed5)),
    ),
    (
        "snom-SnapshotDevice.xml",
        Decodes("SnapshotDevice", Some(Edition::Ed5)),
    ),
    (
        "snom-SystemRegister.xml",
        Decodes("SystemRegister", Some(Edition::Ed5)),
    ),
    (
        "snom-SystemRegisterResponse.xml",
        Decodes("SystemRegisterResponse", Some(Edition::Ed5)),
    ),
    (
        "snom-http-MakeCall.xml",
        Decodes("MakeCall", Some(Edition::Ed5)),
    ),
    (
        "snom-http-MakeCallResponse.xml",
        Decodes("MakeCallResponse", Some(Edition::Ed5)),
    ),
    (
        "snom-http-RequestSystemStatus.xml",
        Decodes("RequestSystemStatus", Some(Edition::Ed3)),
    ),
    (
        "snom-http-RequestSystemStatusResponse.xml",
        Decodes("RequestSystemStatusResponse", Some(Edition::Ed5)),
    ),
    (
        "snom-http-SnapshotDevice.xml",
        Decodes("SnapshotDevice", Some(Edition::Ed5)),
    ),
    (
        "snom-http-SnapshotDeviceResponse.xml",
        Decodes("SnapshotDeviceResponse", Some(Edition::Ed5)),
    ),
    (
        "snom-wiki-AnswerCall-fragment.xml",
        Lenient(
            "AnswerCall",
            None,
            Leniency::BARE_CALL_ID,
            DecodeError::InvalidValue {
                element: "callToBeAnswered",
                offset: 43,
            },
        ),
    ),
    ("unitel-AnswerCall.xml", Decodes("AnswerCall", None)),
    (
        "unitel-AnswerCallResponse.xml",
        Decodes("AnswerCallResponse", Some(Edition::Ed6)),
    ),
    (
        "unitel-ClearConnection.xml",
        Decodes("ClearConnection", None),
    ),
    (
        "unitel-ClearConnectionResponse.xml",
        Decodes("ClearConnectionResponse", Some(Edition::Ed6)),
    ),
    (
        "unitel-ConnectionClearedEvent.xml",
        Decodes("ConnectionClearedEvent", Some(Edition::Ed6)),
    ),
    (
        "unitel-ConsultationCall.xml",
        Decodes("ConsultationCall", None),
    ),
    (
        "unitel-ConsultationCallResponse.xml",
        Decodes("ConsultationCallResponse", Some(Edition::Ed6)),
    ),
    ("unitel-DeflectCall.xml", Decodes("DeflectCall", None)),
    (
        "unitel-DeflectCallResponse.xml",
        Decodes("DeflectCallResponse", Some(Edition::Ed6)),
    ),
    (
        "unitel-DeliveredEvent.xml",
        Decodes("DeliveredEvent", Some(Edition::Ed6)),
    ),
    (
        "unitel-DirectedPickupCall.xml",
        Lenient(
            "DirectedPickupCall",
            None,
            Leniency::NESTED_DEVICE_ID,
            DecodeError::Xml(XmlError {
                kind: XmlErrorKind::UnexpectedElement,
                offset: 157,
            }),
        ),
    ),
    (
        "unitel-DirectedPickupCallResponse.xml",
        Decodes("DirectedPickupCallResponse", Some(Edition::Ed6)),
    ),
    (
        "unitel-DivertedEvent.xml",
        Decodes("DivertedEvent", Some(Edition::Ed6)),
    ),
    (
        "unitel-DoNotDisturbEvent.xml",
        Decodes("DoNotDisturbEvent", Some(Edition::Ed6)),
    ),
    (
        "unitel-EstablishedEvent.xml",
        Decodes("EstablishedEvent", Some(Edition::Ed6)),
    ),
    (
        "unitel-ForwardingEvent.xml",
        Decodes("ForwardingEvent", Some(Edition::Ed6)),
    ),
    ("unitel-GenerateDigits.xml", Decodes("GenerateDigits", None)),
    (
        "unitel-GenerateDigitsResponse.xml",
        Decodes("GenerateDigitsResponse", Some(Edition::Ed6)),
    ),
    (
        "unitel-GetDoNotDisturb.xml",
        Decodes("GetDoNotDisturb", None),
    ),
    (
        "unitel-GetDoNotDisturbResponse.xml",
        Decodes("GetDoNotDisturbResponse", Some(Edition::Ed6)),
    ),
    ("unitel-GetForwarding.xml", Decodes("GetForwarding", None)),
    (
        "unitel-GetForwardingResponse.xml",
        Decodes("GetForwardingResponse", Some(Edition::Ed6)),
    ),
    (
        "unitel-HeldEvent.xml",
        Decodes("HeldEvent", Some(Edition::Ed6)),
    ),
    ("unitel-HoldCall.xml", Decodes("HoldCall", None)),
    (
        "unitel-HoldCallResponse.xml",
        Decodes("HoldCallResponse", Some(Edition::Ed6)),
    ),
    ("unitel-MakeCall.xml", Decodes("MakeCall", None)),
    (
        "unitel-MakeCallResponse.xml",
        Decodes("MakeCallResponse", Some(Edition::Ed6)),
    ),
    (
        "unitel-MonitorStart.xml",
        Decodes("MonitorStart", Some(Edition::Ed6)),
    ),
    (
        "unitel-MonitorStartResponse.xml",
        Decodes("MonitorStartResponse", Some(Edition::Ed6)),
    ),
    ("unitel-ReconnectCall.xml", Decodes("ReconnectCall", None)),
    (
        "unitel-ReconnectCallResponse.xml",
        Decodes("ReconnectCallResponse", Some(Edition::Ed6)),
    ),
    ("unitel-RetrieveCall.xml", Decodes("RetrieveCall", None)),
    (
        "unitel-RetrieveCallResponse.xml",
        Decodes("RetrieveCallResponse", Some(Edition::Ed6)),
    ),
    (
        "unitel-SetDoNotDisturb.xml",
        Decodes("SetDoNotDisturb", None),
    ),
    (
        "unitel-SetDoNotDisturbResponse.xml",
        Decodes("SetDoNotDisturbResponse", Some(Edition::Ed6)),
    ),
    ("unitel-SetForwarding.xml", Decodes("SetForwarding", None)),
    (
        "unitel-SetForwardingResponse.xml",
        Decodes("SetForwardingResponse", Some(Edition::Ed6)),
    ),
    (
        "unitel-SingleStepTransferCall.xml",
        Decodes("SingleStepTransferCall", None),
    ),
    (
        "unitel-SingleStepTransferCallResponse.xml",
        Decodes("SingleStepTransferCallResponse", Some(Edition::Ed6)),
    ),
    (
        "unitel-StartApplicationSession.xml",
        Rejected(DecodeError::Xml(XmlError {
            kind: XmlErrorKind::UnexpectedElement,
            offset: 211,
        })),
    ),
    (
        "unitel-StartApplicationSessionPosResponse.xml",
        Decodes("StartApplicationSessionPosResponse", Some(Edition::Ed6)),
    ),
    ("unitel-TransferCall.xml", Decodes("TransferCall", None)),
    (
        "unitel-TransferCallResponse.xml",
        Decodes("TransferCallResponse", Some(Edition::Ed6)),
    ),
    (
        "unitel-TransferedEvent.xml",
        Decodes("TransferedEvent", Some(Edition::Ed6)),
    ),
    (
        "unitel-case_dnd-DoNotDisturbEvent.xml",
        Decodes("DoNotDisturbEvent", Some(Edition::Ed6)),
    ),
    (
        "unitel-case_makecall-ConnectionClearedEvent.xml",
        Decodes("ConnectionClearedEvent", Some(Edition::Ed6)),
    ),
    (
        "unitel-case_makecall-DeliveredEvent.xml",
        Decodes("DeliveredEvent", Some(Edition::Ed6)),
    ),
    (
        "unitel-case_makecall-EstablishedEvent.xml",
        Decodes("EstablishedEvent", Some(Edition::Ed6)),
    ),
    (
        "unitel-case_makecall-MakeCall.xml",
        Decodes("MakeCall", None),
    ),
    (
        "unitel-case_makecall-MakeCallResponse.xml",
        Decodes("MakeCallResponse", Some(Edition::Ed6)),
    ),
    (
        "unitel-monitorTrunk-MonitorStartResponse.xml",
        Decodes("MonitorStartResponse", Some(Edition::Ed6)),
    ),
    (
        "unitel-snapShotDevice-SnapShotDevice-2.xml",
        Lenient(
            "SnapshotDevice",
            None,
            Leniency::ROOT_NAME_CASE,
            DecodeError::UnknownMessage { offset: 16 },
        ),
    ),
    (
        "unitel-snapShotDevice-SnapShotDevice-3.xml",
        Lenient(
            "SnapshotDevice",
            None,
            Leniency::ROOT_NAME_CASE,
            DecodeError::UnknownMessage { offset: 16 },
        ),
    ),
    (
        "unitel-snapShotDevice-SnapShotDevice.xml",
        Lenient(
            "SnapshotDevice",
            None,
            Leniency::ROOT_NAME_CASE,
            DecodeError::UnknownMessage { offset: 16 },
        ),
    ),
    (
        "unitel-snapShotDevice-SnapShotDeviceResponse.xml",
        Lenient(
            "SnapshotDeviceResponse",
            Some(Edition::Ed6),
            Leniency::ROOT_NAME_CASE,
            DecodeError::UnknownMessage { offset: 79 },
        ),
    ),
    (
        "zultys-sim-test-DeliveredEvent-nonamespace.xml",
        Decodes("DeliveredEvent", None),
    ),
    (
        "zultys-sim-test-EstablishedEvent-nonamespace.xml",
        Decodes("EstablishedEvent", None),
    ),
    (
        "zultys-sim-test-MakeCallResponse-nonamespace.xml",
        Decodes("MakeCallResponse", None),
    ),
];

/// The number of `*.xml` vectors; a file added or removed must be looked at.
const XML_COUNT: usize = 153;

/// The SIP files, by name.
const SIP_FILES: &[&str] = &[
    "asterisk-csp-unify-NOTIFY-uaCSTA-MakeCall-template.txt",
    "freeswitch-mod_csta-as-feature-event-NOTIFY-multipart-body.txt",
    "shorebridge-shoretel-NOTIFY-uaCSTA-template.txt",
    "sipe-rcc-INFO-added-headers.txt",
    "sipe-rcc-INVITE-added-headers-template.txt",
];

const ALL_LENIENCIES: [Leniency; 4] = [
    Leniency::RAW_ANGLE_BRACKETS,
    Leniency::BARE_DEVICE_TEXT,
    Leniency::BARE_CALL_ID,
    Leniency::ROOT_NAME_CASE,
];

fn with(leniency: Leniency) -> DecodeOptions {
    DecodeOptions {
        limits: Limits::DEFAULT,
        leniency,
    }
}

fn read_raw(name: &str) -> String {
    let raw = fs::read(dir().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    String::from_utf8(raw).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The file, templates filled.
fn read(name: &str) -> String {
    fill(&read_raw(name))
}

/// Encodes in ed3, decodes again: the same message.
fn assert_round_trip(name: &str, message: &Message<'_>) {
    let mut buf = [0u8; 8192];
    let len = message
        .encode(Edition::Ed3, &mut buf)
        .unwrap_or_else(|e| panic!("{name}: encode: {e:?}"));
    let again = decode_with(&buf[..len], &with(Leniency::NONE)).unwrap_or_else(|e| {
        panic!(
            "{name}: re-decode: {e:?} in {}",
            String::from_utf8_lossy(&buf[..len])
        )
    });
    assert_eq!(&again.message, message, "{name}: round trip");
    let edition = (!message.is_application_session()).then_some(Edition::Ed3);
    assert_eq!(again.edition, edition, "{name}");
}

fn xml_files() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".xml"))
        .collect();
    names.sort();
    names
}

#[test]
fn every_file_has_an_expectation() {
    let files = xml_files();
    assert_eq!(files.len(), XML_COUNT, "vector files added or removed");
    assert_eq!(VECTORS.len(), XML_COUNT);
    for file in &files {
        assert!(
            VECTORS.iter().any(|(name, _)| name == file),
            "{file} has no entry in VECTORS"
        );
    }
    let mut sip: Vec<String> = fs::read_dir(dir().join("sip"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    sip.sort();
    assert_eq!(sip, SIP_FILES, "sip/ files added or removed");
    // Everything else in the folder: SOURCES.md and sip/.
    let others = fs::read_dir(dir()).unwrap().count() - files.len();
    assert_eq!(others, 2, "unexpected files in tests/data/csta");
}

#[test]
fn vectors() {
    let mut checked = 0;
    for &(name, expect) in VECTORS {
        let xml = read(name);
        let xml = xml.as_bytes();
        let result = decode(xml);
        match expect {
            Decodes(root, edition) | Lenient(root, edition, ..) => {
                let decoded = result.unwrap_or_else(|e| panic!("{name}: {e:?}"));
                assert_eq!(decoded.message.name(), root, "{name}");
                assert_eq!(decoded.edition, edition, "{name}");
                checked += usize::from(check(name, &decoded));
                assert_round_trip(name, &decoded.message);
                let strict = decode_with(xml, &with(Leniency::NONE));
                if let Lenient(_, _, leniency, error) = expect {
                    assert_eq!(strict, Err(error), "{name}: without leniency");
                    // That one leniency is needed, and enough.
                    let others = ALL_LENIENCIES
                        .iter()
                        .filter(|&&l| l != leniency)
                        .fold(Leniency::NONE, |a, &l| a.union(l));
                    assert!(decode_with(xml, &with(others)).is_err(), "{name}");
                    let alone = decode_with(xml, &with(leniency)).unwrap();
                    assert_eq!(alone, decoded, "{name}");
                } else {
                    assert_eq!(strict, Ok(decoded), "{name}: strict");
                }
            }
            Rejected(error) => assert_eq!(result, Err(error), "{name}"),
            Unmodelled(offset) => {
                assert_eq!(
                    result,
                    Err(DecodeError::UnknownMessage { offset }),
                    "{name}"
                )
            }
        }
    }
    // Every arm of `check` matched its file (a misspelt name would skip it).
    assert_eq!(checked, CHECKED);
}

/// Files with key-field checks in [`check`] (the three unitel `SnapShotDevice` share
/// one arm).
const CHECKED: usize = 36;

fn id<'a>(device: &DeviceRef<'a>) -> String {
    let id = device.device_id().expect("a device ID");
    std::format!("{}", id.id)
}

/// Key fields of the decoded vectors; whether `name` has checks.
fn check(name: &str, decoded: &Decoded<'_>) -> bool {
    let text = |t: csta_core::xml::Text<'_>| std::format!("{t}");
    match (name, &decoded.message) {
        ("osv-DeliveredEvent.xml", Message::DeliveredEvent(e)) => {
            assert_eq!(e.monitor_cross_ref_id.unwrap().0, "1173673890");
            assert_eq!(
                e.connection.call_id.unwrap(),
                "FF00010000000000EC6114647E570000"
            );
            assert_eq!(e.connection.device_id.unwrap().id, "3021061290002");
            assert_eq!(id(&e.alerting_device.unwrap()), "N<3021061290002>;noa=nk");
            assert_eq!(e.last_redirection_device, Some(DeviceRef::NotRequired));
            assert_eq!(e.local_connection_info, Some(ConnectionState::Alerting));
            assert_eq!(text(e.cause.unwrap().as_text()), "enteringDistribution");
        }
        ("unitel-DirectedPickupCall.xml", Message::DirectedPickupCall(m)) => {
            assert_eq!(m.call_to_be_picked_up.call_id.unwrap(), "SIP/hpbx-0000af16");
            assert_eq!(m.call_to_be_picked_up.device_id.unwrap().id, "202");
            assert_eq!(m.requesting_device.id, "200");
        }
        ("unitel-DirectedPickupCallResponse.xml", Message::DirectedPickupCallResponse(m)) => {
            assert_eq!(m.picked_call, None);
        }
        ("project-DirectedPickupCall.xml", Message::DirectedPickupCall(m)) => {
            assert_eq!(m.call_to_be_picked_up.call_id.unwrap(), "c-202-1");
            assert_eq!(m.requesting_device.id, "sip:203@pbx.example.com");
            assert_eq!(m.correlator_data.unwrap().text, "ticket-77");
        }
        ("project-GroupPickupCall.xml", Message::GroupPickupCall(m)) => {
            assert_eq!(m.new_destination.id, "sip:203@pbx.example.com");
            assert_eq!(m.pick_group.unwrap().id, "sales");
        }
        ("project-SwitchingFunctionDevices.xml", Message::SwitchingFunctionDevices(m)) => {
            assert_eq!(m.service_cross_ref_id.0, "sfd-1");
            assert_eq!(m.segment_id, Some(1));
            assert!(m.last_segment);
            let entries = &m.device_list.entries;
            assert_eq!(entries.len(), 2);
            assert_eq!(entries[0].device_id.id, "sip:201@pbx.example.com");
            assert_eq!(
                entries[0].device_category,
                Some(csta_core::names::DeviceCategory::Station)
            );
            assert_eq!(entries[0].device_model_name.unwrap(), "snom D785");
            assert_eq!(entries[1].device_category, None);
        }
        ("snom-SystemRegister.xml", Message::SystemRegister(m)) => {
            let types = m.request_types.as_ref().unwrap();
            assert!(types.wants_devices_changed());
            assert!(!types.wants_system_status());
        }
        ("osv-pool-SystemRegister.xml", Message::SystemRegister(m)) => {
            let types = m.request_types.as_ref().unwrap();
            assert_eq!(types.system_status, Some(true));
            assert_eq!(types.request_system_status, Some(false));
            assert!(!types.wants_devices_changed());
        }
        ("project-SystemRegister-statusFilter.xml", Message::SystemRegister(m)) => {
            let filter = m.requested_status_filter.as_ref().unwrap();
            assert_eq!(filter.normal, Some(true));
            assert_eq!(filter.disabled, Some(true));
            assert_eq!(filter.initializing, None);
        }
        ("osv-CallInformationEvent.xml", Message::CallInformationEvent(e)) => {
            assert_eq!(e.monitor_cross_ref_id.unwrap().0, "1166743342");
            assert_eq!(e.connection.device_id.unwrap().id, "3021061290000");
            assert!(e.correlator_data.unwrap().form.is_some());
        }
        ("mitel-mivo400-MonitorStart-via-estos-log.xml", Message::MonitorStart(m)) => {
            let csta_core::message::monitor::MonitorObject::Device(device) = m.monitor_object
            else {
                panic!("{name}: not a device monitor")
            };
            assert_eq!(device.id, "N<123!98>");
            assert_eq!(m.monitor_type, Some(MonitorType::Device));
        }
        ("mitel-mivo400-CSTAErrorCode-overallMonitorLimitExceeded.xml", m) => {
            let Message::CSTAErrorCode(code) = m else {
                panic!("{name}")
            };
            assert!(std::format!("{code:?}").contains("OverallMonitorLimitExceeded"));
        }
        ("snom-wiki-AnswerCall-fragment.xml", Message::AnswerCall(a)) => {
            assert_eq!(a.call_to_be_answered.call_id.unwrap(), "-18");
            assert_eq!(a.call_to_be_answered.device_id, None);
        }
        ("unitel-case_makecall-MakeCall.xml", Message::MakeCall(m)) => {
            // Plain-text DeviceID, as the schema has it for MakeCall.
            assert_eq!(m.calling_device.id, "200");
            assert_eq!(m.called_directory_number.id, "22334455");
            assert_eq!(m.auto_originate, Some(AutoOriginate::DoNotPrompt));
        }
        ("unitel-MakeCallResponse.xml", Message::MakeCallResponse(m)) => {
            assert_eq!(m.calling_device.call_id.unwrap(), "N/A");
            assert_eq!(m.calling_device.device_id.unwrap().id, "200");
        }
        ("unitel-ConnectionClearedEvent.xml", Message::ConnectionClearedEvent(e)) => {
            assert_eq!(e.monitor_cross_ref_id.unwrap().0, "u-12345678-200");
            assert_eq!(e.dropped_connection.call_id.unwrap(), "SIP/hpbx-00000233");
            assert_eq!(id(&e.releasing_device), "22334455");
            assert_eq!(e.local_connection_info, Some(ConnectionState::Null));
            // Not an EventCause spelling; kept as received.
            assert_eq!(text(e.cause.unwrap().as_text()), "Normal Clearing");
        }
        ("unitel-TransferedEvent.xml", Message::TransferedEvent(e)) => {
            assert_eq!(e.primary_old_call.call_id.unwrap(), "SIP/hpbx-0000af19");
            assert_eq!(id(&e.transferring_device), "200");
            assert_eq!(id(&e.transferred_to_device), "202");
            let items = &e.transferred_connections.as_ref().unwrap().items;
            assert_eq!(items.len(), 1);
            let ConnectionListItem { old_connection, .. } = &items[0];
            assert_eq!(old_connection.unwrap().device_id.unwrap().id, "200");
            assert_eq!(text(e.cause.unwrap().as_text()), "singleStepTransfer");
        }
        ("unitel-ForwardingEvent.xml", Message::ForwardingEvent(e)) => {
            assert_eq!(id(&e.device), "204");
            assert_eq!(
                text(e.forwarding_type.unwrap().as_text()),
                "forwardImmediate"
            );
            assert!(e.forward_status);
            assert_eq!(e.forward_to.unwrap().id, "200");
        }
        (
            "unitel-SingleStepTransferCallResponse.xml",
            Message::SingleStepTransferCallResponse(r),
        ) => {
            assert_eq!(r.transferred_call.call_id.unwrap(), "NotImplemented");
        }
        ("unitel-GetForwardingResponse.xml", Message::GetForwardingResponse(r)) => {
            let items = &r.forwarding_list.as_ref().unwrap().items;
            assert_eq!(text(items[0].forwarding_type.as_text()), "forwardNoAns");
            assert!(!items[0].forward_status);
        }
        ("snom-http-SnapshotDeviceResponse.xml", Message::SnapshotDeviceResponse(r)) => {
            let s = std::format!("{r:?}");
            assert!(
                s.contains(r#"call_id: Some("-12")"#) && s.contains("Alerting"),
                "{s}"
            );
        }
        ("snom-MonitorStartResponse.xml", Message::MonitorStartResponse(r)) => {
            assert_eq!(r.monitor_cross_ref_id.0, "43");
            assert_eq!(r.monitor_existing_calls, Some(true));
        }
        ("osv-MonitorStart-ns3-prefixed.xml", Message::MonitorStart(m)) => {
            let csta_core::message::monitor::MonitorObject::Device(device) = m.monitor_object
            else {
                panic!("{name}")
            };
            assert_eq!(device.id, "3021033");
            assert_eq!(device.type_of_number.unwrap(), "dialingNumber");
        }
        ("osv-SystemStatus-ed2-ecma.ch.xml", Message::SystemStatus(s)) => {
            assert_eq!(text(s.system_status.unwrap().as_text()), "normal");
        }
        (
            "osv-StartApplicationSessionPosResponse.xml",
            Message::StartApplicationSessionPosResponse(r),
        ) => {
            assert_eq!(r.session_id.0, "009968951");
            assert_eq!(r.actual_session_duration, Some(600));
        }
        ("zultys-sim-test-MakeCallResponse-nonamespace.xml", Message::MakeCallResponse(m)) => {
            assert_eq!(m.calling_device.call_id.unwrap(), "94");
            assert_eq!(m.calling_device.device_id.unwrap().id, "210");
        }
        ("asfeature-sipr-test-SetDoNotDisturb.xml", Message::SetDoNotDisturb(s)) => {
            assert_eq!(s.device.id, "5559430902");
            assert!(!s.do_not_disturb_on);
        }
        // Templates: the sample values come through.
        ("osv-pool-template-MakeCall.xml", Message::MakeCall(m)) => {
            assert_eq!(m.calling_device.id, "sip:201@pbx.example.com");
            assert_eq!(
                m.calling_device.type_of_number.unwrap(),
                "explicitPublic:subscriber"
            );
            assert_eq!(m.called_directory_number.id, "sip:202@pbx.example.com");
        }
        ("sipe-rcc-clear_connection-template.xml", Message::ClearConnection(c)) => {
            assert_eq!(c.connection_to_be_cleared.call_id.unwrap(), "42");
            assert_eq!(
                c.connection_to_be_cleared.device_id.unwrap().id,
                "sip:201@pbx.example.com"
            );
        }
        ("osv-pool-template-DeliveredEvent.xml", Message::DeliveredEvent(e)) => {
            assert_eq!(e.monitor_cross_ref_id.unwrap().0, "1001");
            assert_eq!(id(&e.called_device), "sip:202@pbx.example.com");
            assert!(matches!(
                e.last_redirection_device,
                Some(DeviceRef::NumberDialed(_))
            ));
            assert_eq!(e.local_connection_info, Some(ConnectionState::Connected));
            assert_eq!(text(e.cause.unwrap().as_text()), "normalClearing");
        }
        ("gs5-openstage-set_speaker_volume-template.xml", Message::SetSpeakerVolume(s)) => {
            assert_eq!(s.speaker_volume, 50);
        }
        ("gs5-openstage-set_forwarding-template.xml", Message::SetForwarding(s)) => {
            assert!(s.activate_forward);
            assert_eq!(text(s.forwarding_type.as_text()), "forwardImmediate");
            assert_eq!(s.forward_dn.unwrap().id, "sip:202@pbx.example.com");
        }
        (
            "rresender-dmcc-StartApplicationSession-ecma354-template.xml",
            Message::StartApplicationSession(s),
        ) => {
            let info = s.application_info.application_specific_info.unwrap();
            assert_eq!(info.password.unwrap(), "secret");
            assert_eq!(s.requested_session_duration, Some(180));
        }
        (_, Message::SnapshotDevice(s)) if name.starts_with("unitel-snapShotDevice") => {
            assert!(s.snapshot_object.id.as_str().unwrap().contains("12345678"));
        }
        _ => return false,
    }
    true
}

/// The body of a SIP message: after the first empty line.
fn sip_body(message: &str) -> &str {
    let at = message
        .find("\r\n\r\n")
        .map(|i| i + 4)
        .or_else(|| message.find("\n\n").map(|i| i + 2))
        .expect("an empty line");
    &message[at..]
}

fn header<'m>(head: &'m str, name: &str) -> Option<&'m str> {
    head.lines().find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

#[test]
fn sip_vectors() {
    // A complete NOTIFY with a MakeCall body.
    let notify = read("sip/asterisk-csp-unify-NOTIFY-uaCSTA-MakeCall-template.txt");
    assert_eq!(
        header(&notify, "Content-Type"),
        Some("application/csta+xml")
    );
    let decoded = decode(sip_body(&notify).as_bytes()).unwrap();
    assert_eq!(decoded.edition, Some(Edition::Ed3));
    let Message::MakeCall(m) = &decoded.message else {
        panic!("{:?}", decoded.message)
    };
    assert_eq!(m.calling_device.id, "sip:201@pbx.example.com");
    assert_eq!(m.called_directory_number.id, "sip:202@pbx.example.com");
    assert_round_trip("asterisk NOTIFY", &decoded.message);

    // Multipart as-feature-event body: both XML parts are as-feature-event bodies
    // without monitorCrossRefID (optional here) and with the device as bare text
    // (`Leniency::BARE_DEVICE_TEXT`).
    let multipart = read("sip/freeswitch-mod_csta-as-feature-event-NOTIFY-multipart-body.txt");
    let parts: Vec<&str> = multipart
        .split("--boundary1")
        .filter(|p| header(p, "Content-Type").is_some_and(|t| t.ends_with("xml")))
        .collect();
    assert_eq!(parts.len(), 2);
    let expected = ["DoNotDisturbEvent", "ForwardingEvent"];
    for (part, root) in parts.iter().zip(expected) {
        let body = sip_body(part).trim_end();
        assert!(body.contains(root));
        let decoded = decode(body.as_bytes()).unwrap();
        assert_eq!(decoded.message.name(), root);
        assert_eq!(decoded.edition, Some(Edition::Ed3));
        assert!(decode_with(body.as_bytes(), &with(Leniency::NONE)).is_err());
        assert_round_trip(root, &decoded.message);
    }

    // ShoreTel NOTIFY: `{csta-xml-body}` is one of the shorebridge bodies.
    let shoretel = read_raw("sip/shorebridge-shoretel-NOTIFY-uaCSTA-template.txt").replace(
        "{csta-xml-body}",
        &read_raw("shorebridge-AnswerCall-template.xml"),
    );
    let shoretel = fill(&shoretel);
    assert_eq!(header(&shoretel, "Event"), Some("uaCSTA"));
    let decoded = decode(sip_body(&shoretel).as_bytes()).unwrap();
    let Message::AnswerCall(a) = &decoded.message else {
        panic!()
    };
    assert_eq!(
        a.call_to_be_answered.device_id.unwrap().id,
        "sip:201@pbx.example.com"
    );
    assert_round_trip("shoretel NOTIFY", &decoded.message);

    // pidgin-sipe header sets: the INVITE carries RequestSystemStatus, INFOs carry
    // requests such as MakeCall.
    for (headers, body, root) in [
        (
            "sip/sipe-rcc-INVITE-added-headers-template.txt",
            "sipe-rcc-request_system_status-template.xml",
            "RequestSystemStatus",
        ),
        (
            "sip/sipe-rcc-INFO-added-headers.txt",
            "sipe-rcc-make_call-template.xml",
            "MakeCall",
        ),
    ] {
        let head = read(headers);
        assert_eq!(header(&head, "Content-Type"), Some("application/csta+xml"));
        assert_eq!(
            header(&head, "Content-Disposition"),
            Some("signal;handling=required")
        );
        let message = std::format!("{head}\r\n{}", read(body));
        let decoded = decode(sip_body(&message).as_bytes()).unwrap();
        assert_eq!(decoded.message.name(), root);
        assert_round_trip(headers, &decoded.message);
    }
}

#[test]
fn filler() {
    assert_eq!(
        fill(
            "<a><callID>%s</callID><deviceID>{deviceId}</deviceID><speakerVolume>{value}</speakerVolume></a>"
        ),
        "<a><callID>42</callID><deviceID>sip:201@pbx.example.com</deviceID><speakerVolume>50</speakerVolume></a>"
    );
}

/// `Leniency::NESTED_DEVICE_ID`: one `deviceID` (or `deviceIdentifier`) child is the
/// device, with its attributes; text beside it, or no such child, is an error; without
/// the leniency the child is an unexpected element, as before.
#[test]
fn nested_device_id() {
    let pickup = |inner: &str| {
        format!(
            "<DirectedPickupCall><callToBePickedUp><callID>1</callID><deviceID>202</deviceID></callToBePickedUp><requestingDevice>{inner}</requestingDevice></DirectedPickupCall>"
        )
    };
    let requester = |inner: &str| -> Result<String, DecodeError> {
        let xml = pickup(inner);
        match decode(xml.as_bytes())?.message {
            Message::DirectedPickupCall(m) => Ok(std::format!(
                "{}|{:?}",
                m.requesting_device.id,
                m.requesting_device
                    .type_of_number
                    .map(|t| std::format!("{t}"))
            )),
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(requester("200").unwrap(), "200|None");
    assert_eq!(requester(" <deviceID>200</deviceID> ").unwrap(), "200|None");
    assert_eq!(
        requester(r#"<x/><deviceIdentifier typeOfNumber="dialingNumber">200</deviceIdentifier>"#)
            .unwrap(),
        r#"200|Some("dialingNumber")"#
    );
    assert!(matches!(
        requester("<deviceID>200</deviceID>trailing"),
        Err(DecodeError::InvalidValue {
            element: "requestingDevice",
            ..
        })
    ));
    assert!(matches!(
        requester("<other>200</other>"),
        Err(DecodeError::MissingElement {
            element: "deviceID",
            ..
        })
    ));
    // A comment or CDATA before the text is not a child element.
    assert_eq!(requester("<!-- c -->200").unwrap(), "200|None");
    let strict = DecodeOptions {
        leniency: Leniency::ALL.without(Leniency::NESTED_DEVICE_ID),
        ..DecodeOptions::DEFAULT
    };
    let xml = pickup("<deviceID>200</deviceID>");
    assert!(matches!(
        decode_with(xml.as_bytes(), &strict),
        Err(DecodeError::Xml(XmlError {
            kind: XmlErrorKind::UnexpectedElement,
            ..
        }))
    ));
}
