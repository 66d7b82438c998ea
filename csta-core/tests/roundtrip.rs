//! Property tests over every message type: XML `decode(encode(m)) == m` in editions 3
//! to 6, JSON `from_slice(to_slice(m)) == m`, exact `buffer_len`, and the errors for a
//! buffer one byte short and for characters XML cannot carry.
//!
//! Text values borrow, so each case generates a pool of owned strings and a seed; a
//! deterministic builder then makes one message of every kind in [`Message::NAMES`]
//! borrowing from the pool.

use std::collections::BTreeSet;

use csta_core::flags::{FlagGroups, FlagTable};
use csta_core::json;
use csta_core::message::call::*;
use csta_core::message::device::*;
use csta_core::message::event::*;
use csta_core::message::monitor::*;
use csta_core::message::session::{self, *};
use csta_core::message::system::{self, *};
use csta_core::message::{DecodeOptions, ErrorCode, decode, decode_with};
use csta_core::names;
use csta_core::types::{
    ConnectionId, CrossRefId, DeviceId, DeviceRef, Opaque, OpaqueForm, PlainDeviceId,
};
use csta_core::xml::{Leniency, Text, WriteError};
use csta_core::{Edition, EncodeOptions, Message};
use proptest::prelude::*;

const EDITIONS: [Edition; 4] = [Edition::Ed3, Edition::Ed4, Edition::Ed5, Edition::Ed6];

/// White space as XML (and so the decoder's trimming) sees it.
fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

/// Characters XML 1.0 cannot carry (as text or as a reference).
fn is_xml_forbidden(c: char) -> bool {
    (c as u32) < 0x20 && !is_xml_space(c)
}

/// One character of a generated text: mostly plain, often one that XML or JSON must
/// escape, sometimes non-ASCII or a control character (JSON only; the XML pool drops
/// those the XML cannot carry).
fn any_char() -> impl Strategy<Value = char> {
    prop_oneof![
        4 => prop::char::range('a', 'z'),
        1 => prop::char::range('0', '9'),
        3 => prop::sample::select(vec![
            '<', '>', '&', '"', '\'', '\\', '/', ' ', '\t', '\n', '\r', ';', '=', '+',
        ]),
        1 => prop::sample::select(vec![
            '\u{e9}', '\u{a0}', '\u{85}', '\u{2028}', '\u{20ac}', '\u{1f600}', '\u{7f}',
            '\u{fffd}',
        ]),
        1 => prop::sample::select(vec!['\u{0}', '\u{1}', '\u{8}', '\u{b}', '\u{c}', '\u{1b}', '\u{1f}']),
    ]
}

fn any_string() -> impl Strategy<Value = String> {
    prop::collection::vec(any_char(), 0..12).prop_map(|cs| cs.into_iter().collect())
}

/// Owned strings the messages of one case borrow.
#[derive(Debug, Clone)]
struct Pool {
    /// Free text (any characters, white space anywhere, possibly empty).
    texts: Vec<String>,
    /// Identifiers: no white space at either end (the decoder trims device IDs, call
    /// IDs, cross references and enumerations), never empty.
    ids: Vec<String>,
}

impl Pool {
    fn new(texts: Vec<String>, ids: Vec<String>) -> Pool {
        Pool {
            texts,
            ids: ids.iter().map(|s| identifier(s)).collect(),
        }
    }

    /// The pool without the characters XML cannot carry.
    fn xml_safe(&self) -> Pool {
        let strip = |s: &String| s.chars().filter(|&c| !is_xml_forbidden(c)).collect();
        Pool::new(
            self.texts.iter().map(strip).collect(),
            self.ids.iter().map(strip).collect(),
        )
    }
}

fn identifier(s: &str) -> String {
    let t = s.trim_matches(is_xml_space);
    if t.is_empty() { "id".into() } else { t.into() }
}

fn pool() -> impl Strategy<Value = (Pool, u64)> {
    (
        prop::collection::vec(any_string(), 1..8),
        prop::collection::vec(any_string(), 1..8),
        any::<u64>(),
    )
        .prop_map(|(texts, ids, seed)| (Pool::new(texts, ids), seed))
}

/// Builds values from a seed, borrowing strings from a [`Pool`].
struct B<'a> {
    state: u64,
    pool: &'a Pool,
}

macro_rules! open_name {
    ($b:expr, $e:ident) => {{
        let b: &mut B<'_> = $b;
        if b.below(3) > 0 {
            let all = names::$e::ALL;
            all[b.below(all.len())]
        } else {
            let other = b.id();
            if names::$e::from_name(other).is_none() {
                names::$e::Other(Text::new(other))
            } else {
                names::$e::Other(Text::new("x-unlisted"))
            }
        }
    }};
}

impl<'a> B<'a> {
    fn new(pool: &'a Pool, seed: u64) -> Self {
        B { state: seed, pool }
    }

    /// splitmix64.
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn coin(&mut self) -> bool {
        self.next() & 1 == 1
    }

    fn text(&mut self) -> Text<'a> {
        let pool = self.pool;
        Text::new(&pool.texts[self.below(pool.texts.len())])
    }

    fn id(&mut self) -> &'a str {
        let pool = self.pool;
        &pool.ids[self.below(pool.ids.len())]
    }

    fn opt<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> Option<T> {
        self.coin().then(|| f(self))
    }

    fn vec<T, const N: usize>(&mut self, mut f: impl FnMut(&mut Self) -> T) -> heapless::Vec<T, N> {
        let len = if self.below(6) == 0 {
            N
        } else {
            self.below(N.min(3) + 1)
        };
        let mut v = heapless::Vec::new();
        for _ in 0..len {
            assert!(v.push(f(self)).is_ok());
        }
        v
    }

    fn bool(&mut self) -> bool {
        self.coin()
    }

    fn u32(&mut self) -> u32 {
        match self.below(4) {
            0 => 0,
            1 => u32::MAX,
            _ => self.next() as u32,
        }
    }

    fn closed<E: Copy>(&mut self, all: &[E]) -> E {
        all[self.below(all.len())]
    }

    fn device_id(&mut self) -> DeviceId<'a> {
        DeviceId {
            id: Text::new(self.id()),
            type_of_number: self.opt(Self::text),
            media_class: self.opt(Self::text),
            bit_rate: self.opt(Self::text),
        }
    }

    fn device_ref(&mut self) -> DeviceRef<'a> {
        match self.below(6) {
            0 | 1 => DeviceRef::DeviceIdentifier(self.device_id()),
            2 => DeviceRef::NumberDialed(self.device_id()),
            3 => DeviceRef::NotKnown,
            4 => DeviceRef::Restricted,
            _ => {
                if self.coin() {
                    DeviceRef::NotRequired
                } else {
                    DeviceRef::NotSpecified
                }
            }
        }
    }

    fn conn(&mut self) -> ConnectionId<'a> {
        ConnectionId {
            call_id: self.opt(|b| Text::new(b.id())),
            device_id: self.opt(Self::device_id),
        }
    }

    fn xref(&mut self) -> CrossRefId<'a> {
        CrossRefId::new(self.id())
    }

    fn opaque(&mut self) -> Opaque<'a> {
        Opaque {
            text: self.text(),
            form: match self.below(3) {
                0 => None,
                1 => Some(OpaqueForm::String),
                _ => Some(OpaqueForm::Octets),
            },
        }
    }

    fn flags<T: FlagTable>(&mut self) -> FlagGroups<T> {
        let mut groups = FlagGroups::new();
        for category in T::CATEGORIES {
            if self.below(3) == 0 {
                continue;
            }
            assert!(groups.add_category(category.element));
            for flag in category.flags {
                if self.coin() {
                    // In presence tables (feature lists) `false` is absence.
                    let value = self.coin();
                    assert!(groups.set(category.element, flag, value));
                }
            }
        }
        groups
    }

    fn request_types(&mut self) -> RequestTypes {
        RequestTypes {
            system_status: self.opt(Self::bool),
            request_system_status: self.opt(Self::bool),
            switching_function_caps_changed: self.opt(Self::bool),
            switching_function_devices_changed: self.opt(Self::bool),
        }
    }

    fn status_filter(&mut self) -> StatusFilter {
        StatusFilter {
            initializing: self.opt(Self::bool),
            enabled: self.opt(Self::bool),
            normal: self.opt(Self::bool),
            message_lost: self.opt(Self::bool),
            disabled: self.opt(Self::bool),
            partially_disabled: self.opt(Self::bool),
            overload_imminent: self.opt(Self::bool),
            overload_reached: self.opt(Self::bool),
            overload_relieved: self.opt(Self::bool),
        }
    }

    fn state(&mut self) -> names::ConnectionState {
        self.closed(names::ConnectionState::ALL)
    }

    fn cause(&mut self) -> Option<names::EventCause<'a>> {
        self.opt(|b| open_name!(b, EventCause))
    }

    fn connection_list(&mut self) -> ConnectionList<'a> {
        ConnectionList {
            items: self.vec(|b| ConnectionListItem {
                new_connection: b.opt(Self::conn),
                old_connection: b.opt(Self::conn),
                endpoint: b.opt(Self::device_ref),
            }),
        }
    }

    fn forward_item(&mut self) -> ForwardListItem<'a> {
        ForwardListItem {
            forwarding_type: open_name!(self, ForwardingType),
            forward_status: self.bool(),
            forward_dn: self.opt(Self::device_id),
            forward_default: self.opt(Self::text),
            ring_count: self.opt(Self::u32),
            ring_duration: self.opt(Self::u32),
        }
    }

    fn snapshot_data(&mut self) -> SnapshotData<'a> {
        SnapshotData {
            items: self.vec(|b| SnapshotDeviceResponseInfo {
                connection_identifier: b.opt(B::conn),
                local_call_state: b.opt(|b| LocalCallState {
                    compound_call_state: b.opt(|b| CompoundCallState {
                        states: b.vec(Self::state),
                    }),
                }),
            }),
        }
    }

    fn session_error(&mut self) -> SessionError<'a> {
        if self.coin() {
            SessionError::Defined(open_name!(self, ApplicationSessionError))
        } else {
            SessionError::NonStandard(self.text())
        }
    }

    fn error_code(&mut self) -> ErrorCode<'a> {
        match self.below(8) {
            0 => ErrorCode::Operation(open_name!(self, Operation)),
            1 => ErrorCode::Security(open_name!(self, Security)),
            2 => ErrorCode::StateIncompatibility(open_name!(self, StateIncompatibility)),
            3 => {
                ErrorCode::SystemResourceAvailability(open_name!(self, SystemResourceAvailability))
            }
            4 => ErrorCode::SubscribedResourceAvailability(open_name!(
                self,
                SubscribedResourceAvailability
            )),
            5 => ErrorCode::PerformanceManagement(open_name!(self, PerformanceManagement)),
            6 => ErrorCode::PrivateData,
            // Trimmed when decoded.
            _ => ErrorCode::Unspecified(Text::new(self.id())),
        }
    }

    /// One message named `name` (a name of [`Message::NAMES`]).
    fn message(&mut self, name: &str) -> Message<'a> {
        let b = self;
        match name {
            "MakeCall" => Message::MakeCall(MakeCall {
                calling_device: b.device_id(),
                called_directory_number: b.device_id(),
                account_code: b.opt(B::text),
                auth_code: b.opt(B::text),
                auto_originate: b.opt(|b| b.closed(names::AutoOriginate::ALL)),
                correlator_data: b.opt(B::opaque),
            }),
            "MakeCallResponse" => Message::MakeCallResponse(MakeCallResponse {
                calling_device: b.conn(),
            }),
            "AnswerCall" => Message::AnswerCall(AnswerCall {
                call_to_be_answered: b.conn(),
            }),
            "AnswerCallResponse" => Message::AnswerCallResponse(AnswerCallResponse {}),
            "ClearConnection" => Message::ClearConnection(ClearConnection {
                connection_to_be_cleared: b.conn(),
                reason: b.cause(),
            }),
            "ClearConnectionResponse" => {
                Message::ClearConnectionResponse(ClearConnectionResponse {})
            }
            "HoldCall" => Message::HoldCall(HoldCall {
                call_to_be_held: b.conn(),
                connection_reservation: b.opt(B::bool),
            }),
            "HoldCallResponse" => Message::HoldCallResponse(HoldCallResponse {}),
            "RetrieveCall" => Message::RetrieveCall(RetrieveCall {
                call_to_be_retrieved: b.conn(),
            }),
            "RetrieveCallResponse" => Message::RetrieveCallResponse(RetrieveCallResponse {}),
            "ConsultationCall" => Message::ConsultationCall(ConsultationCall {
                existing_call: b.conn(),
                consulted_device: b.device_id(),
                account_code: b.opt(B::text),
                auth_code: b.opt(B::text),
                correlator_data: b.opt(B::opaque),
            }),
            "ConsultationCallResponse" => {
                Message::ConsultationCallResponse(ConsultationCallResponse {
                    initiated_call: b.opt(B::conn),
                })
            }
            "TransferCall" => Message::TransferCall(TransferCall {
                held_call: b.conn(),
                active_call: b.conn(),
            }),
            "TransferCallResponse" => Message::TransferCallResponse(TransferCallResponse {
                transferred_call: b.conn(),
                connections: b.opt(B::connection_list),
            }),
            "ConferenceCall" => Message::ConferenceCall(ConferenceCall {
                held_call: b.conn(),
                active_call: b.conn(),
            }),
            "ConferenceCallResponse" => Message::ConferenceCallResponse(ConferenceCallResponse {
                conference_call: b.conn(),
                connections: b.opt(B::connection_list),
            }),
            "AlternateCall" => Message::AlternateCall(AlternateCall {
                held_call: b.conn(),
                active_call: b.conn(),
            }),
            "AlternateCallResponse" => Message::AlternateCallResponse(AlternateCallResponse {}),
            "ReconnectCall" => Message::ReconnectCall(ReconnectCall {
                active_call: b.conn(),
                held_call: b.conn(),
            }),
            "ReconnectCallResponse" => Message::ReconnectCallResponse(ReconnectCallResponse {}),
            "DeflectCall" => Message::DeflectCall(DeflectCall {
                call_to_be_diverted: b.conn(),
                new_destination: b.device_id(),
            }),
            "DeflectCallResponse" => Message::DeflectCallResponse(DeflectCallResponse {}),
            "DirectedPickupCall" => Message::DirectedPickupCall(DirectedPickupCall {
                call_to_be_picked_up: b.conn(),
                requesting_device: b.device_id(),
                correlator_data: b.opt(B::opaque),
            }),
            "DirectedPickupCallResponse" => {
                Message::DirectedPickupCallResponse(DirectedPickupCallResponse {
                    picked_call: b.opt(B::conn),
                })
            }
            "GroupPickupCall" => Message::GroupPickupCall(GroupPickupCall {
                new_destination: b.device_id(),
                pick_group: b.opt(B::device_id),
                correlator_data: b.opt(B::opaque),
            }),
            "GroupPickupCallResponse" => {
                Message::GroupPickupCallResponse(GroupPickupCallResponse {
                    picked_call: b.opt(B::conn),
                })
            }
            "SingleStepTransferCall" => Message::SingleStepTransferCall(SingleStepTransferCall {
                active_call: b.conn(),
                transferred_to: b.device_id(),
                account_code: b.opt(B::text),
                auth_code: b.opt(B::text),
            }),
            "SingleStepTransferCallResponse" => {
                Message::SingleStepTransferCallResponse(SingleStepTransferCallResponse {
                    transferred_call: b.conn(),
                    connections: b.opt(B::connection_list),
                })
            }
            "GenerateDigits" => Message::GenerateDigits(GenerateDigits {
                connection_to_send_digits: b.conn(),
                digit_mode: b.opt(|b| b.closed(names::DigitMode::ALL)),
                characters_to_send: b.text(),
                tone_duration: b.opt(B::u32),
                pulse_rate: b.opt(B::u32),
            }),
            "GenerateDigitsResponse" => Message::GenerateDigitsResponse(GenerateDigitsResponse {}),
            "GetDoNotDisturb" => Message::GetDoNotDisturb(GetDoNotDisturb {
                device: b.device_id(),
            }),
            "GetDoNotDisturbResponse" => {
                Message::GetDoNotDisturbResponse(GetDoNotDisturbResponse {
                    do_not_disturb_on: b.bool(),
                })
            }
            "SetDoNotDisturb" => Message::SetDoNotDisturb(SetDoNotDisturb {
                device: b.device_id(),
                do_not_disturb_on: b.bool(),
            }),
            "SetDoNotDisturbResponse" => {
                Message::SetDoNotDisturbResponse(SetDoNotDisturbResponse {})
            }
            "GetForwarding" => Message::GetForwarding(GetForwarding {
                device: b.device_id(),
            }),
            "GetForwardingResponse" => Message::GetForwardingResponse(GetForwardingResponse {
                forwarding_list: b.opt(|b| ForwardingList {
                    items: b.vec(B::forward_item),
                }),
            }),
            "SetForwarding" => Message::SetForwarding(SetForwarding {
                device: b.device_id(),
                forwarding_type: open_name!(b, ForwardingType),
                activate_forward: b.bool(),
                forward_dn: b.opt(B::device_id),
                ring_count: b.opt(B::u32),
                ring_duration: b.opt(B::u32),
            }),
            "SetForwardingResponse" => Message::SetForwardingResponse(SetForwardingResponse {}),
            "GetMessageWaitingIndicator" => {
                Message::GetMessageWaitingIndicator(GetMessageWaitingIndicator {
                    device: b.device_id(),
                })
            }
            "GetMessageWaitingIndicatorResponse" => {
                Message::GetMessageWaitingIndicatorResponse(GetMessageWaitingIndicatorResponse {
                    message_waiting_on: b.bool(),
                })
            }
            "SetMessageWaitingIndicator" => {
                Message::SetMessageWaitingIndicator(SetMessageWaitingIndicator {
                    device: b.device_id(),
                    message_waiting_on: b.bool(),
                })
            }
            "SetMessageWaitingIndicatorResponse" => {
                Message::SetMessageWaitingIndicatorResponse(SetMessageWaitingIndicatorResponse {})
            }
            "GetSpeakerMute" => Message::GetSpeakerMute(GetSpeakerMute {
                device: b.device_id(),
                auditory_apparatus: b.opt(B::text),
            }),
            "GetSpeakerMuteResponse" => Message::GetSpeakerMuteResponse(GetSpeakerMuteResponse {
                speaker_mute_on: b.bool(),
            }),
            "SetSpeakerMute" => Message::SetSpeakerMute(SetSpeakerMute {
                device: b.device_id(),
                auditory_apparatus: b.opt(B::text),
                speaker_mute_on: b.bool(),
            }),
            "SetSpeakerMuteResponse" => Message::SetSpeakerMuteResponse(SetSpeakerMuteResponse {}),
            "GetSpeakerVolume" => Message::GetSpeakerVolume(GetSpeakerVolume {
                device: b.device_id(),
                auditory_apparatus: b.opt(B::text),
            }),
            "GetSpeakerVolumeResponse" => {
                Message::GetSpeakerVolumeResponse(GetSpeakerVolumeResponse {
                    speaker_volume: b.u32(),
                })
            }
            "SetSpeakerVolume" => Message::SetSpeakerVolume(SetSpeakerVolume {
                device: b.device_id(),
                auditory_apparatus: b.opt(B::text),
                speaker_volume: b.u32(),
            }),
            "SetSpeakerVolumeResponse" => {
                Message::SetSpeakerVolumeResponse(SetSpeakerVolumeResponse {})
            }
            "GetMicrophoneMute" => Message::GetMicrophoneMute(GetMicrophoneMute {
                device: b.device_id(),
                auditory_apparatus: b.opt(B::text),
            }),
            "GetMicrophoneMuteResponse" => {
                Message::GetMicrophoneMuteResponse(GetMicrophoneMuteResponse {
                    microphone_mute_on: b.bool(),
                })
            }
            "SetMicrophoneMute" => Message::SetMicrophoneMute(SetMicrophoneMute {
                device: b.device_id(),
                auditory_apparatus: b.opt(B::text),
                microphone_mute_on: b.bool(),
            }),
            "SetMicrophoneMuteResponse" => {
                Message::SetMicrophoneMuteResponse(SetMicrophoneMuteResponse {})
            }
            "MonitorStart" => Message::MonitorStart(MonitorStart {
                monitor_object: if b.coin() {
                    MonitorObject::Device(b.device_id())
                } else {
                    MonitorObject::Call(b.conn())
                },
                requested_monitor_filter: b.opt(B::flags),
                monitor_type: b.opt(|b| b.closed(names::MonitorType::ALL)),
            }),
            "MonitorStartResponse" => Message::MonitorStartResponse(MonitorStartResponse {
                monitor_cross_ref_id: b.xref(),
                actual_monitor_filter: b.opt(B::flags),
                monitor_existing_calls: b.opt(B::bool),
            }),
            "MonitorStop" => Message::MonitorStop(MonitorStop {
                monitor_cross_ref_id: b.xref(),
            }),
            "MonitorStopResponse" => Message::MonitorStopResponse(MonitorStopResponse {}),
            "SnapshotDevice" => Message::SnapshotDevice(SnapshotDevice {
                snapshot_object: b.device_id(),
            }),
            "SnapshotDeviceResponse" => Message::SnapshotDeviceResponse(SnapshotDeviceResponse {
                cross_ref_id_or_snapshot_data: b.opt(|b| CrossRefIdOrSnapshotData {
                    snapshot_data: b.opt(B::snapshot_data),
                    service_cross_ref_id: b.opt(B::xref),
                }),
                snapshot_data: b.opt(B::snapshot_data),
                service_cross_ref_id: b.opt(B::xref),
            }),
            "GetCSTAFeatures" => Message::GetCSTAFeatures(GetCSTAFeatures {}),
            "GetCSTAFeaturesResponse" => {
                Message::GetCSTAFeaturesResponse(GetCSTAFeaturesResponse {
                    supported_services: b.opt(B::flags),
                    supported_events: b.opt(B::flags),
                })
            }
            "RequestSystemStatus" => Message::RequestSystemStatus(RequestSystemStatus {}),
            "RequestSystemStatusResponse" => {
                Message::RequestSystemStatusResponse(RequestSystemStatusResponse {
                    system_status: open_name!(b, SystemStatus),
                })
            }
            "SystemStatus" => Message::SystemStatus(system::SystemStatus {
                sys_stat_register_id: b.opt(B::xref),
                system_status: Some(open_name!(b, SystemStatus)),
            }),
            "SystemStatusResponse" => Message::SystemStatusResponse(SystemStatusResponse {}),
            "SystemRegister" => Message::SystemRegister(SystemRegister {
                request_types: b.opt(B::request_types),
                requested_status_filter: b.opt(B::status_filter),
            }),
            "SystemRegisterResponse" => Message::SystemRegisterResponse(SystemRegisterResponse {
                sys_stat_register_id: b.xref(),
                actual_status_filter: b.opt(B::status_filter),
            }),
            "GetSwitchingFunctionDevices" => {
                Message::GetSwitchingFunctionDevices(GetSwitchingFunctionDevices {
                    requested_device_id: b.opt(B::device_id),
                    requested_device_category: b.opt(|b| open_name!(b, ReqDeviceCategory)),
                })
            }
            "GetSwitchingFunctionDevicesResponse" => {
                Message::GetSwitchingFunctionDevicesResponse(GetSwitchingFunctionDevicesResponse {
                    service_cross_ref_id: b.xref(),
                })
            }
            "SwitchingFunctionDevices" => {
                Message::SwitchingFunctionDevices(SwitchingFunctionDevices {
                    service_cross_ref_id: b.xref(),
                    segment_id: b.opt(B::u32),
                    last_segment: b.bool(),
                    device_list: DeviceList {
                        entries: b.vec(|b| DeviceEntry {
                            device_id: PlainDeviceId::new(b.id()),
                            device_category: b.opt(|b| open_name!(b, DeviceCategory)),
                            device_model_name: b.opt(B::text),
                        }),
                    },
                })
            }
            "SwitchingFunctionDevicesResponse" => {
                Message::SwitchingFunctionDevicesResponse(SwitchingFunctionDevicesResponse {})
            }
            "SwitchingFunctionDevicesChanged" => {
                Message::SwitchingFunctionDevicesChanged(SwitchingFunctionDevicesChanged {
                    sys_stat_register_id: b.opt(B::xref),
                })
            }
            "SwitchingFunctionDevicesChangedResponse" => {
                Message::SwitchingFunctionDevicesChangedResponse(
                    SwitchingFunctionDevicesChangedResponse {},
                )
            }
            "SystemRegisterCancel" => Message::SystemRegisterCancel(SystemRegisterCancel {
                sys_stat_register_id: b.xref(),
            }),
            "SystemRegisterCancelResponse" => {
                Message::SystemRegisterCancelResponse(SystemRegisterCancelResponse {})
            }
            "CSTAErrorCode" => Message::CSTAErrorCode(b.error_code()),
            "ServiceInitiatedEvent" => Message::ServiceInitiatedEvent(ServiceInitiatedEvent {
                monitor_cross_ref_id: b.opt(B::xref),
                initiated_connection: b.conn(),
                initiating_device: b.device_ref(),
                local_connection_info: b.opt(B::state),
                cause: b.cause(),
            }),
            "OriginatedEvent" => Message::OriginatedEvent(OriginatedEvent {
                monitor_cross_ref_id: b.opt(B::xref),
                originated_connection: b.conn(),
                calling_device: b.device_ref(),
                called_device: b.device_ref(),
                local_connection_info: b.opt(B::state),
                cause: b.cause(),
            }),
            "DeliveredEvent" => Message::DeliveredEvent(DeliveredEvent {
                monitor_cross_ref_id: b.opt(B::xref),
                connection: b.conn(),
                alerting_device: b.opt(B::device_ref),
                calling_device: b.device_ref(),
                called_device: b.device_ref(),
                last_redirection_device: b.opt(B::device_ref),
                local_connection_info: b.opt(B::state),
                correlator_data: b.opt(B::opaque),
                cause: b.cause(),
            }),
            "EstablishedEvent" => Message::EstablishedEvent(EstablishedEvent {
                monitor_cross_ref_id: b.opt(B::xref),
                established_connection: b.conn(),
                answering_device: b.device_ref(),
                calling_device: b.device_ref(),
                called_device: b.device_ref(),
                last_redirection_device: b.opt(B::device_ref),
                local_connection_info: b.opt(B::state),
                correlator_data: b.opt(B::opaque),
                cause: b.cause(),
            }),
            "ConnectionClearedEvent" => Message::ConnectionClearedEvent(ConnectionClearedEvent {
                monitor_cross_ref_id: b.opt(B::xref),
                dropped_connection: b.conn(),
                releasing_device: b.device_ref(),
                local_connection_info: b.opt(B::state),
                cause: b.cause(),
            }),
            "CallClearedEvent" => Message::CallClearedEvent(CallClearedEvent {
                monitor_cross_ref_id: b.opt(B::xref),
                cleared_call: b.conn(),
                local_connection_info: b.opt(B::state),
                cause: b.cause(),
            }),
            "HeldEvent" => Message::HeldEvent(HeldEvent {
                monitor_cross_ref_id: b.opt(B::xref),
                held_connection: b.conn(),
                holding_device: b.device_ref(),
                local_connection_info: b.opt(B::state),
                cause: b.cause(),
            }),
            "RetrievedEvent" => Message::RetrievedEvent(RetrievedEvent {
                monitor_cross_ref_id: b.opt(B::xref),
                retrieved_connection: b.conn(),
                retrieving_device: b.device_ref(),
                local_connection_info: b.opt(B::state),
                cause: b.cause(),
            }),
            "TransferedEvent" => Message::TransferedEvent(TransferedEvent {
                monitor_cross_ref_id: b.opt(B::xref),
                primary_old_call: b.conn(),
                secondary_old_call: b.opt(B::conn),
                transferring_device: b.device_ref(),
                transferred_to_device: b.device_ref(),
                transferred_connections: b.opt(B::connection_list),
                local_connection_info: b.opt(B::state),
                cause: b.cause(),
            }),
            "ConferencedEvent" => Message::ConferencedEvent(ConferencedEvent {
                monitor_cross_ref_id: b.opt(B::xref),
                primary_old_call: b.conn(),
                secondary_old_call: b.opt(B::conn),
                conferencing_device: b.device_ref(),
                added_party: b.device_ref(),
                conference_connections: b.opt(B::connection_list),
                local_connection_info: b.opt(B::state),
                cause: b.cause(),
            }),
            "DivertedEvent" => Message::DivertedEvent(DivertedEvent {
                monitor_cross_ref_id: b.opt(B::xref),
                connection: b.conn(),
                diverting_device: b.device_ref(),
                new_destination: b.opt(B::device_ref),
                calling_device: b.opt(B::device_ref),
                called_device: b.opt(B::device_ref),
                last_redirection_device: b.opt(B::device_ref),
                local_connection_info: b.opt(B::state),
                cause: b.cause(),
            }),
            "FailedEvent" => Message::FailedEvent(FailedEvent {
                monitor_cross_ref_id: b.opt(B::xref),
                failed_connection: b.conn(),
                failing_device: b.device_ref(),
                calling_device: b.device_ref(),
                called_device: b.device_ref(),
                last_redirection_device: b.opt(B::device_ref),
                local_connection_info: b.opt(B::state),
                cause: b.cause(),
            }),
            "NetworkReachedEvent" => Message::NetworkReachedEvent(NetworkReachedEvent {
                monitor_cross_ref_id: b.opt(B::xref),
                outbound_connection: b.conn(),
                network_interface_used: b.device_ref(),
                calling_device: b.device_ref(),
                called_device: b.device_ref(),
                last_redirection_device: b.opt(B::device_ref),
                local_connection_info: b.opt(B::state),
                cause: b.cause(),
            }),
            "DigitsGeneratedEvent" => Message::DigitsGeneratedEvent(DigitsGeneratedEvent {
                monitor_cross_ref_id: b.opt(B::xref),
                connection: b.conn(),
                digit_generated_list: b.text(),
            }),
            "DoNotDisturbEvent" => Message::DoNotDisturbEvent(DoNotDisturbEvent {
                monitor_cross_ref_id: b.opt(B::xref),
                device: b.device_ref(),
                do_not_disturb_on: b.bool(),
            }),
            "ForwardingEvent" => Message::ForwardingEvent(ForwardingEvent {
                monitor_cross_ref_id: b.opt(B::xref),
                device: b.device_ref(),
                forwarding_type: b.opt(|b| open_name!(b, ForwardingType)),
                forward_status: b.bool(),
                forward_to: b.opt(B::device_id),
                forward_default: b.opt(B::text),
                ring_count: b.opt(B::u32),
                ring_duration: b.opt(B::u32),
            }),
            "MessageWaitingEvent" => Message::MessageWaitingEvent(MessageWaitingEvent {
                monitor_cross_ref_id: b.opt(B::xref),
                target_device: b.device_ref(),
                device_for_message: b.opt(B::device_ref),
                message_waiting_on: b.bool(),
            }),
            "CallInformationEvent" => Message::CallInformationEvent(CallInformationEvent {
                monitor_cross_ref_id: b.opt(B::xref),
                connection: b.conn(),
                calling_device: b.opt(B::device_ref),
                account_info: b.opt(B::text),
                authorisation_code: b.opt(B::text),
                correlator_data: b.opt(B::opaque),
            }),
            "OutOfServiceEvent" => Message::OutOfServiceEvent(OutOfServiceEvent {
                monitor_cross_ref_id: b.opt(B::xref),
                device: b.device_ref(),
                cause: b.cause(),
            }),
            "BackInServiceEvent" => Message::BackInServiceEvent(BackInServiceEvent {
                monitor_cross_ref_id: b.opt(B::xref),
                device: b.device_ref(),
                cause: b.cause(),
            }),
            "StartApplicationSession" => {
                Message::StartApplicationSession(StartApplicationSession {
                    application_info: ApplicationInfo {
                        application_id: b.opt(B::text),
                        application_specific_info: b.opt(|b| ApplicationSpecificInfo {
                            // Trimmed when decoded.
                            user: b.opt(|b| Text::new(b.id())),
                            password: b.opt(B::text),
                        }),
                    },
                    requested_protocol_versions: b.opt(|b| ProtocolVersions {
                        versions: b.vec(B::text),
                    }),
                    requested_session_duration: b.opt(B::u32),
                })
            }
            "StartApplicationSessionPosResponse" => {
                Message::StartApplicationSessionPosResponse(StartApplicationSessionPosResponse {
                    session_id: b.xref(),
                    actual_protocol_version: b.text(),
                    actual_session_duration: b.opt(B::u32),
                })
            }
            "StartApplicationSessionNegResponse" => {
                Message::StartApplicationSessionNegResponse(StartApplicationSessionNegResponse {
                    error_code: b.session_error(),
                })
            }
            "StopApplicationSession" => Message::StopApplicationSession(StopApplicationSession {
                session_id: b.xref(),
                session_end_reason: b.opt(|b| session::SessionEndReason {
                    defined_end_reason: b.opt(|b| open_name!(b, SessionEndReason)),
                    non_standard_end_reason: b.opt(B::text),
                }),
            }),
            "StopApplicationSessionPosResponse" => {
                Message::StopApplicationSessionPosResponse(StopApplicationSessionPosResponse {})
            }
            "StopApplicationSessionNegResponse" => {
                Message::StopApplicationSessionNegResponse(StopApplicationSessionNegResponse {
                    error_code: b.session_error(),
                })
            }
            "ResetApplicationSessionTimer" => {
                Message::ResetApplicationSessionTimer(ResetApplicationSessionTimer {
                    session_id: b.xref(),
                    requested_session_duration: b.opt(B::u32),
                })
            }
            "ResetApplicationSessionTimerPosResponse" => {
                Message::ResetApplicationSessionTimerPosResponse(
                    ResetApplicationSessionTimerPosResponse {
                        actual_session_duration: b.opt(B::u32),
                    },
                )
            }
            "ResetApplicationSessionTimerNegResponse" => {
                Message::ResetApplicationSessionTimerNegResponse(
                    ResetApplicationSessionTimerNegResponse {
                        error_code: b.session_error(),
                    },
                )
            }
            "ApplicationSessionTerminated" => {
                Message::ApplicationSessionTerminated(ApplicationSessionTerminated {
                    session_id: b.xref(),
                    session_term_reason: session::SessionTermReason {
                        defined_term_reason: b.opt(|b| open_name!(b, SessionTermReason)),
                        non_standard_term_reason: b.opt(B::text),
                    },
                })
            }
            other => panic!("no generator for {other}: add one"),
        }
    }
}

/// One message of every kind, each from its own seed.
fn every_message<'a>(pool: &'a Pool, seed: u64) -> Vec<Message<'a>> {
    Message::NAMES
        .iter()
        .enumerate()
        .map(|(i, (name, kind))| {
            let m = B::new(pool, seed ^ (i as u64).wrapping_mul(0x1000_0000_01b3)).message(name);
            assert_eq!(m.name(), *name);
            assert_eq!(m.kind(), *kind);
            m
        })
        .collect()
}

fn check_xml(m: &Message<'_>, edition: Edition, declaration: bool) -> Result<(), TestCaseError> {
    let options = EncodeOptions {
        edition,
        declaration,
    };
    let len = m.buffer_len(&options);
    let mut buf = vec![0u8; len];
    let n = m.encode_with(&options, &mut buf);
    prop_assert_eq!(n, Ok(len), "{:?}", m);
    let mut short = vec![0u8; len - 1];
    prop_assert_eq!(
        m.encode_with(&options, &mut short),
        Err(WriteError::BufferTooSmall { required: len })
    );
    let xml = core::str::from_utf8(&buf).expect("UTF-8 output");
    let decoded = decode(&buf).map_err(|e| TestCaseError::fail(format!("{e}: {xml}")))?;
    prop_assert_eq!(&decoded.message, m, "{}", xml);
    let expected = (!m.is_application_session()).then_some(edition);
    prop_assert_eq!(decoded.edition, expected);
    // What was decoded (texts still escaped in the XML) encodes and maps to JSON the
    // same way.
    let mut again = vec![0u8; len];
    prop_assert_eq!(decoded.message.encode_with(&options, &mut again), Ok(len));
    prop_assert_eq!(&again, &buf);
    check_json(&decoded.message, m)?;
    // What this crate writes needs no leniency.
    let strict = DecodeOptions {
        leniency: Leniency::NONE,
        ..DecodeOptions::DEFAULT
    };
    let decoded =
        decode_with(&buf, &strict).map_err(|e| TestCaseError::fail(format!("{e}: {xml}")))?;
    prop_assert_eq!(&decoded.message, m, "{}", xml);
    // Texts read from JSON (escapes still in place) encode to the same XML.
    let mut json_buf = vec![0u8; 64 * 1024];
    let n = json::to_slice(m, &mut json_buf).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
    let from_json =
        json::from_slice(&json_buf[..n]).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
    prop_assert_eq!(from_json.buffer_len(&options), len);
    prop_assert_eq!(from_json.encode_with(&options, &mut again), Ok(len));
    prop_assert_eq!(&again, &buf);
    Ok(())
}

/// `original` (or a message equal to it) through JSON and back.
fn check_json(m: &Message<'_>, original: &Message<'_>) -> Result<(), TestCaseError> {
    let mut buf = vec![0u8; 64 * 1024];
    let n = json::to_slice(m, &mut buf).map_err(|e| TestCaseError::fail(format!("{e:?}")))?;
    let text = core::str::from_utf8(&buf[..n]).expect("UTF-8 JSON");
    let back =
        json::from_slice(&buf[..n]).map_err(|e| TestCaseError::fail(format!("{e:?}: {text}")))?;
    prop_assert_eq!(&back, original, "{}", text);
    // Re-serialising what was read (texts still escaped in the JSON) is byte-identical.
    let mut again = vec![0u8; n + 1];
    prop_assert_eq!(json::to_slice(&back, &mut again).ok(), Some(n));
    prop_assert_eq!(&again[..n], &buf[..n]);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn test_xml_roundtrip_every_message((pool, seed) in pool()) {
        let pool = pool.xml_safe();
        let messages = every_message(&pool, seed);
        for m in &messages {
            for (i, edition) in EDITIONS.into_iter().enumerate() {
                check_xml(m, edition, i % 2 == 0)?;
            }
        }
    }

    #[test]
    fn test_json_roundtrip_every_message((pool, seed) in pool()) {
        for m in &every_message(&pool, seed) {
            check_json(m, m)?;
        }
    }

    #[test]
    fn test_unrepresentable_char_is_refused(
        (pool, seed) in pool(),
        bad in prop::sample::select(
            (0u8..0x20).filter(|&b| !is_xml_space(char::from(b))).map(char::from).collect::<Vec<_>>()
        ),
        at in 0usize..8,
    ) {
        // Every text of the pool carries the character somewhere.
        let mut pool = pool.xml_safe();
        for s in pool.texts.iter_mut().chain(pool.ids.iter_mut()) {
            let cut = s.char_indices().nth(at).map_or(s.len(), |(i, _)| i);
            s.insert(cut, bad);
            *s = identifier(s);
        }
        for m in &every_message(&pool, seed) {
            let options = EncodeOptions::DEFAULT;
            let mut buf = vec![0u8; 64 * 1024];
            let result = m.encode_with(&options, &mut buf);
            // Messages with no text at all (empty responses, booleans, numbers) encode.
            if let Ok(n) = result {
                let xml = &buf[..n];
                prop_assert!(!xml.contains(&(bad as u8)));
                prop_assert!(decode(xml).is_ok(), "{}", String::from_utf8_lossy(xml));
            } else {
                prop_assert_eq!(result, Err(WriteError::UnrepresentableChar));
                // `buffer_len` agrees that something is wrong only through `encode`;
                // too small a buffer still reports the character first.
                let mut tiny = [0u8; 1];
                prop_assert_eq!(m.encode_with(&options, &mut tiny), Err(WriteError::UnrepresentableChar));
            }
        }
    }
}

/// Every message name gets a generator and is generated in a run.
#[test]
fn test_every_variant_is_generated() {
    let pool = Pool::new(vec!["a".into()], vec!["b".into()]);
    let mut seen = BTreeSet::new();
    for seed in 0..4 {
        for m in every_message(&pool, seed) {
            seen.insert(m.name());
        }
    }
    let all: BTreeSet<_> = Message::NAMES.iter().map(|(n, _)| *n).collect();
    assert_eq!(seen, all);
}

/// Texts at the edges the decoder normalises.
#[test]
fn test_edge_texts_roundtrip() {
    for text in [
        "",
        " ",
        " a ",
        "\r",
        "\r\n",
        "a\rb",
        "]]>",
        "&amp;",
        "\u{a0}x\u{a0}",
    ] {
        let m = Message::MakeCall(MakeCall {
            calling_device: DeviceId::new("201"),
            called_directory_number: DeviceId::new("N<+49 89 1234>"),
            account_code: Some(Text::new(text)),
            auth_code: None,
            auto_originate: None,
            correlator_data: Some(Opaque::new(text)),
        });
        for edition in EDITIONS {
            check_xml(&m, edition, true).unwrap();
        }
    }
    // Empty identifiers survive too.
    let m = Message::DeliveredEvent(DeliveredEvent {
        monitor_cross_ref_id: Some(CrossRefId::new("")),
        connection: ConnectionId {
            call_id: Some(Text::EMPTY),
            device_id: Some(DeviceId::new("")),
        },
        alerting_device: Some(DeviceRef::id("")),
        calling_device: DeviceRef::NumberDialed(DeviceId::new("")),
        called_device: DeviceRef::NotKnown,
        last_redirection_device: Some(DeviceRef::Restricted),
        local_connection_info: None,
        correlator_data: Some(Opaque {
            text: Text::EMPTY,
            form: Some(OpaqueForm::String),
        }),
        cause: None,
    });
    check_xml(&m, Edition::Ed3, true).unwrap();
    let m = Message::AnswerCall(AnswerCall {
        call_to_be_answered: ConnectionId::default(),
    });
    check_xml(&m, Edition::Ed5, false).unwrap();
}

/// A `SwitchingFunctionDevices` segment at its capacity is no larger than the largest
/// message it joined (`DEVICE_LIST_MAX` was chosen so), so `Message` did not grow.
#[test]
fn test_device_list_capacity_keeps_the_message_size() {
    use std::mem::size_of;
    let segment = size_of::<SwitchingFunctionDevices<'static>>();
    let largest = size_of::<TransferedEvent<'static>>().max(size_of::<ConferencedEvent<'static>>());
    assert!(segment < largest, "{segment} >= {largest}");
    assert!(size_of::<Message<'static>>() <= largest + 8);
}
