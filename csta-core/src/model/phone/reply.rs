//! Owned replies to CSTA requests.

use heapless::Vec;

use crate::flags::{MonitorFilter, SupportedEvents, SupportedServices};
use crate::message::call::*;
use crate::message::device::*;
use crate::message::monitor::*;
use crate::message::system::*;
use crate::message::{ErrorCode, Message};
use crate::names::{ConnectionState, SystemStatus};
use crate::types::{ConnectionId, CrossRefId, DeviceId};

use super::{CallIdBuf, CrossRefIdBuf, DeviceIdBuf, Forward, text};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SimpleReply {
    AnswerCall,
    ClearConnection,
    HoldCall,
    RetrieveCall,
    AlternateCall,
    ReconnectCall,
    DeflectCall,
    GenerateDigits,
    SetDoNotDisturb,
    SetForwarding,
    SetMessageWaiting,
    SetSpeakerMute,
    SetSpeakerVolume,
    SetMicrophoneMute,
    MonitorStop,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ConnectionReply {
    MakeCall,
    Consultation,
    Transfer,
    Conference,
    SingleStepTransfer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum FlagReply {
    DoNotDisturb,
    MessageWaiting,
    SpeakerMute,
    MicrophoneMute,
}

// Owned on purpose (no heap to box into); the largest variant is about 1 KiB.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum ReplyBody {
    Error(ErrorCode<'static>),
    Simple(SimpleReply),
    Connection {
        kind: ConnectionReply,
        call: CallIdBuf,
        /// `None`: this device.
        device: Option<DeviceIdBuf>,
    },
    Flag(FlagReply, bool),
    Volume(u32),
    Forwarding(Vec<(Forward, bool, Option<DeviceIdBuf>), 4>),
    MonitorStarted(CrossRefIdBuf, Option<MonitorFilter>),
    Snapshot(Vec<(CallIdBuf, ConnectionState), SNAPSHOT_MAX>),
    Features,
    SystemStatus,
}

/// The one answer to a request, owned; [`message`](Self::message) borrows it as a
/// [`Message`] to encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub(super) device: DeviceIdBuf,
    pub(super) body: ReplyBody,
}

/// The services a [`Device`](super::Device) answers positively, as
/// `(category, service)` of `supportedServices`.
pub const SUPPORTED_SERVICES: &[(&str, &str)] = &[
    ("capExchangeServList", "getCSTAFeatures"),
    ("systemStatServList", "requestSystemStatus"),
    ("monitoringServList", "monitorStart"),
    ("monitoringServList", "monitorStop"),
    ("snapshotServList", "snapshotDevice"),
    ("callControlServList", "alternateCall"),
    ("callControlServList", "answerCall"),
    ("callControlServList", "clearConnection"),
    ("callControlServList", "conferenceCall"),
    ("callControlServList", "consultationCall"),
    ("callControlServList", "deflectCall"),
    ("callControlServList", "holdCall"),
    ("callControlServList", "makeCall"),
    ("callControlServList", "reconnectCall"),
    ("callControlServList", "retrieveCall"),
    ("callControlServList", "singleStepTransfer"),
    ("callControlServList", "transferCall"),
    ("callAssociatedServList", "generateDigits"),
    ("physDevServList", "getMicrophoneMute"),
    ("physDevServList", "getMessageWaitingIndicator"),
    ("physDevServList", "getSpeakerMute"),
    ("physDevServList", "getSpeakerVolume"),
    ("physDevServList", "setMsgWaitingIndicator"),
    ("physDevServList", "setMicrophoneMute"),
    ("physDevServList", "setSpeakerMute"),
    ("physDevServList", "setSpeakerVolume"),
    ("logicalServList", "getDoNotDisturb"),
    ("logicalServList", "getForwarding"),
    ("logicalServList", "setDoNotDisturb"),
    ("logicalServList", "setForwarding"),
];

/// The events a [`Device`](super::Device) reports, as `(category, event)` of
/// `supportedEvents`.
pub const SUPPORTED_EVENTS: &[(&str, &str)] = &[
    ("callControlEvtsList", "conferenced"),
    ("callControlEvtsList", "connectionCleared"),
    ("callControlEvtsList", "delivered"),
    ("callControlEvtsList", "diverted"),
    ("callControlEvtsList", "established"),
    ("callControlEvtsList", "failed"),
    ("callControlEvtsList", "held"),
    ("callControlEvtsList", "originated"),
    ("callControlEvtsList", "retrieved"),
    ("callControlEvtsList", "serviceInitiated"),
    ("callControlEvtsList", "transferred"),
    ("logicalEvtsList", "doNotDisturb"),
    ("logicalEvtsList", "forwarding"),
];

impl Reply {
    /// The negative response's error code, when the reply is one.
    pub fn error(&self) -> Option<ErrorCode<'static>> {
        match self.body {
            ReplyBody::Error(code) => Some(code),
            _ => None,
        }
    }

    /// Whether the reply is a positive response.
    pub fn is_positive(&self) -> bool {
        self.error().is_none()
    }

    /// The reply as a message: the positive response, or `CSTAErrorCode`.
    pub fn message(&self) -> Message<'_> {
        let me: &str = &self.device;
        match &self.body {
            ReplyBody::Error(code) => Message::CSTAErrorCode(*code),
            ReplyBody::Simple(kind) => match kind {
                SimpleReply::AnswerCall => AnswerCallResponse {}.into(),
                SimpleReply::ClearConnection => ClearConnectionResponse {}.into(),
                SimpleReply::HoldCall => HoldCallResponse {}.into(),
                SimpleReply::RetrieveCall => RetrieveCallResponse {}.into(),
                SimpleReply::AlternateCall => AlternateCallResponse {}.into(),
                SimpleReply::ReconnectCall => ReconnectCallResponse {}.into(),
                SimpleReply::DeflectCall => DeflectCallResponse {}.into(),
                SimpleReply::GenerateDigits => GenerateDigitsResponse {}.into(),
                SimpleReply::SetDoNotDisturb => SetDoNotDisturbResponse {}.into(),
                SimpleReply::SetForwarding => SetForwardingResponse {}.into(),
                SimpleReply::SetMessageWaiting => SetMessageWaitingIndicatorResponse {}.into(),
                SimpleReply::SetSpeakerMute => SetSpeakerMuteResponse {}.into(),
                SimpleReply::SetSpeakerVolume => SetSpeakerVolumeResponse {}.into(),
                SimpleReply::SetMicrophoneMute => SetMicrophoneMuteResponse {}.into(),
                SimpleReply::MonitorStop => MonitorStopResponse {}.into(),
            },
            ReplyBody::Connection { kind, call, device } => {
                let connection = ConnectionId::new(call, device.as_deref().unwrap_or(me));
                match kind {
                    ConnectionReply::MakeCall => MakeCallResponse {
                        calling_device: connection,
                    }
                    .into(),
                    ConnectionReply::Consultation => ConsultationCallResponse {
                        initiated_call: Some(connection),
                    }
                    .into(),
                    ConnectionReply::Transfer => TransferCallResponse {
                        transferred_call: connection,
                        connections: None,
                    }
                    .into(),
                    ConnectionReply::Conference => ConferenceCallResponse {
                        conference_call: connection,
                        connections: None,
                    }
                    .into(),
                    ConnectionReply::SingleStepTransfer => SingleStepTransferCallResponse {
                        transferred_call: connection,
                        connections: None,
                    }
                    .into(),
                }
            }
            ReplyBody::Flag(kind, on) => match kind {
                FlagReply::DoNotDisturb => GetDoNotDisturbResponse {
                    do_not_disturb_on: *on,
                }
                .into(),
                FlagReply::MessageWaiting => GetMessageWaitingIndicatorResponse {
                    message_waiting_on: *on,
                }
                .into(),
                FlagReply::SpeakerMute => GetSpeakerMuteResponse {
                    speaker_mute_on: *on,
                }
                .into(),
                FlagReply::MicrophoneMute => GetMicrophoneMuteResponse {
                    microphone_mute_on: *on,
                }
                .into(),
            },
            ReplyBody::Volume(v) => GetSpeakerVolumeResponse { speaker_volume: *v }.into(),
            ReplyBody::Forwarding(list) => GetForwardingResponse {
                forwarding_list: Some(ForwardingList {
                    items: list
                        .iter()
                        .map(|(f, on, to)| ForwardListItem {
                            forwarding_type: f.forwarding_type(),
                            forward_status: *on,
                            forward_dn: to.as_deref().map(DeviceId::new),
                            forward_default: None,
                            ring_count: None,
                            ring_duration: None,
                        })
                        .collect(),
                }),
            }
            .into(),
            ReplyBody::MonitorStarted(id, filter) => MonitorStartResponse {
                monitor_cross_ref_id: CrossRefId(text(id)),
                actual_monitor_filter: *filter,
                monitor_existing_calls: Some(true),
            }
            .into(),
            ReplyBody::Snapshot(items) => SnapshotDeviceResponse::new(SnapshotData {
                items: items
                    .iter()
                    .map(|(call, state)| SnapshotDeviceResponseInfo {
                        connection_identifier: Some(ConnectionId::new(call, me)),
                        local_call_state: Some(LocalCallState {
                            compound_call_state: Some(CompoundCallState {
                                states: core::iter::once(*state).collect(),
                            }),
                        }),
                    })
                    .collect(),
            })
            .into(),
            ReplyBody::Features => {
                let mut services = SupportedServices::new();
                for (category, service) in SUPPORTED_SERVICES {
                    services.set(category, service, true);
                }
                let mut events = SupportedEvents::new();
                for (category, event) in SUPPORTED_EVENTS {
                    events.set(category, event, true);
                }
                GetCSTAFeaturesResponse {
                    supported_services: Some(services),
                    supported_events: Some(events),
                }
                .into()
            }
            ReplyBody::SystemStatus => RequestSystemStatusResponse {
                system_status: SystemStatus::Normal,
            }
            .into(),
        }
    }
}
