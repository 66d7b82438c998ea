//! Owned CSTA events, queued by a [`Device`](super::Device).

use crate::message::Message;
use crate::message::event::{
    ConferencedEvent, ConnectionClearedEvent, DeliveredEvent, DivertedEvent, DoNotDisturbEvent,
    EstablishedEvent, FailedEvent, ForwardingEvent, HeldEvent, OriginatedEvent, RetrievedEvent,
    ServiceInitiatedEvent, TransferedEvent,
};
use crate::names::{ConnectionState, EventCause};
use crate::types::{ConnectionId, CrossRefId, DeviceId, DeviceRef};

use super::{CallIdBuf, CrossRefIdBuf, DeviceIdBuf, Forward, party_list};

/// What an event needs to know about a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CallInfo {
    pub(super) id: CallIdBuf,
    pub(super) far: DeviceIdBuf,
    pub(super) called: DeviceIdBuf,
    pub(super) outgoing: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum EventKind {
    ServiceInitiated {
        call: CallIdBuf,
        cause: Option<EventCause<'static>>,
    },
    Originated {
        call: CallIdBuf,
        called: DeviceIdBuf,
        cause: Option<EventCause<'static>>,
    },
    Delivered {
        info: CallInfo,
        cause: Option<EventCause<'static>>,
    },
    Established {
        info: CallInfo,
    },
    Cleared {
        call: CallIdBuf,
        /// `None`: this device released.
        releasing: Option<DeviceIdBuf>,
        cause: EventCause<'static>,
    },
    Held {
        call: CallIdBuf,
        cause: Option<EventCause<'static>>,
    },
    Retrieved {
        call: CallIdBuf,
    },
    Failed {
        info: CallInfo,
        cause: EventCause<'static>,
    },
    Transfered {
        primary: CallIdBuf,
        secondary: Option<CallIdBuf>,
        to: DeviceIdBuf,
        parties: heapless::Vec<(CallIdBuf, DeviceIdBuf), 2>,
        cause: EventCause<'static>,
    },
    Conferenced {
        primary: CallIdBuf,
        secondary: CallIdBuf,
        added: DeviceIdBuf,
        parties: heapless::Vec<(CallIdBuf, DeviceIdBuf), 2>,
    },
    Diverted {
        info: CallInfo,
        to: DeviceIdBuf,
        cause: EventCause<'static>,
    },
    DoNotDisturb {
        on: bool,
    },
    Forwarding {
        forward: Forward,
        on: bool,
        to: Option<DeviceIdBuf>,
    },
}

impl EventKind {
    /// The monitor filter flag that suppresses the event.
    pub(super) fn filter_flag(&self) -> (&'static str, &'static str) {
        let flag = match self {
            EventKind::ServiceInitiated { .. } => "serviceInitiated",
            EventKind::Originated { .. } => "originated",
            EventKind::Delivered { .. } => "delivered",
            EventKind::Established { .. } => "established",
            EventKind::Cleared { .. } => "connectionCleared",
            EventKind::Held { .. } => "held",
            EventKind::Retrieved { .. } => "retrieved",
            EventKind::Failed { .. } => "failed",
            EventKind::Transfered { .. } => "transferred",
            EventKind::Conferenced { .. } => "conferenced",
            EventKind::Diverted { .. } => "diverted",
            EventKind::DoNotDisturb { .. } => return ("logicalDeviceFeature", "doNotDisturb"),
            EventKind::Forwarding { .. } => return ("logicalDeviceFeature", "forwarding"),
        };
        ("callcontrol", flag)
    }
}

/// One CSTA event for one monitor, owned; [`message`](Self::message) borrows it as a
/// [`Message`] to encode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventOut {
    pub(super) monitor: CrossRefIdBuf,
    pub(super) device: DeviceIdBuf,
    pub(super) kind: EventKind,
}

fn own<'a>(call: &'a str, me: &'a str) -> ConnectionId<'a> {
    ConnectionId::new(call, me)
}

fn dev(s: &str) -> DeviceRef<'_> {
    DeviceRef::id(s)
}

impl EventOut {
    /// The monitor the event is reported under.
    pub fn monitor_cross_ref_id(&self) -> &str {
        &self.monitor
    }

    /// The event as a message (`monitorCrossRefID` first, as ECMA-323 orders it).
    pub fn message(&self) -> Message<'_> {
        let monitor = Some(CrossRefId::new(&self.monitor));
        let me: &str = &self.device;
        match &self.kind {
            EventKind::ServiceInitiated { call, cause } => {
                Message::ServiceInitiatedEvent(ServiceInitiatedEvent {
                    monitor_cross_ref_id: monitor,
                    initiated_connection: own(call, me),
                    initiating_device: dev(me),
                    local_connection_info: Some(ConnectionState::Initiated),
                    cause: *cause,
                })
            }
            EventKind::Originated {
                call,
                called,
                cause,
            } => Message::OriginatedEvent(OriginatedEvent {
                monitor_cross_ref_id: monitor,
                originated_connection: own(call, me),
                calling_device: dev(me),
                called_device: dev(called),
                local_connection_info: Some(ConnectionState::Connected),
                cause: *cause,
            }),
            EventKind::Delivered { info, cause } => {
                let (connection, alerting, calling, local) = if info.outgoing {
                    (
                        ConnectionId::new(&info.id, &info.far),
                        &info.far,
                        me,
                        ConnectionState::Connected,
                    )
                } else {
                    (
                        own(&info.id, me),
                        &self.device,
                        info.far.as_str(),
                        ConnectionState::Alerting,
                    )
                };
                Message::DeliveredEvent(DeliveredEvent {
                    monitor_cross_ref_id: monitor,
                    connection,
                    alerting_device: Some(dev(alerting)),
                    calling_device: dev(calling),
                    called_device: dev(&info.called),
                    last_redirection_device: None,
                    local_connection_info: Some(local),
                    correlator_data: None,
                    cause: *cause,
                })
            }
            EventKind::Established { info } => {
                let (connection, answering, calling) = if info.outgoing {
                    (
                        ConnectionId::new(&info.id, &info.far),
                        info.far.as_str(),
                        me,
                    )
                } else {
                    (own(&info.id, me), me, info.far.as_str())
                };
                Message::EstablishedEvent(EstablishedEvent {
                    monitor_cross_ref_id: monitor,
                    established_connection: connection,
                    answering_device: dev(answering),
                    calling_device: dev(calling),
                    called_device: dev(&info.called),
                    last_redirection_device: None,
                    local_connection_info: Some(ConnectionState::Connected),
                    correlator_data: None,
                    cause: None,
                })
            }
            EventKind::Cleared {
                call,
                releasing,
                cause,
            } => Message::ConnectionClearedEvent(ConnectionClearedEvent {
                monitor_cross_ref_id: monitor,
                dropped_connection: match releasing {
                    Some(far) => ConnectionId::new(call, far),
                    None => own(call, me),
                },
                releasing_device: dev(releasing.as_deref().unwrap_or(me)),
                local_connection_info: Some(ConnectionState::Null),
                cause: Some(*cause),
            }),
            EventKind::Held { call, cause } => Message::HeldEvent(HeldEvent {
                monitor_cross_ref_id: monitor,
                held_connection: own(call, me),
                holding_device: dev(me),
                local_connection_info: Some(ConnectionState::Hold),
                cause: *cause,
            }),
            EventKind::Retrieved { call } => Message::RetrievedEvent(RetrievedEvent {
                monitor_cross_ref_id: monitor,
                retrieved_connection: own(call, me),
                retrieving_device: dev(me),
                local_connection_info: Some(ConnectionState::Connected),
                cause: None,
            }),
            EventKind::Failed { info, cause } => {
                let (calling, called) = if info.outgoing {
                    (me, info.called.as_str())
                } else {
                    (info.far.as_str(), info.called.as_str())
                };
                Message::FailedEvent(FailedEvent {
                    monitor_cross_ref_id: monitor,
                    failed_connection: own(&info.id, me),
                    failing_device: dev(&info.far),
                    calling_device: dev(calling),
                    called_device: dev(called),
                    last_redirection_device: None,
                    local_connection_info: Some(ConnectionState::Fail),
                    cause: Some(*cause),
                })
            }
            EventKind::Transfered {
                primary,
                secondary,
                to,
                parties,
                cause,
            } => Message::TransferedEvent(TransferedEvent {
                monitor_cross_ref_id: monitor,
                primary_old_call: own(primary, me),
                secondary_old_call: secondary.as_ref().map(|s| own(s, me)),
                transferring_device: dev(me),
                transferred_to_device: dev(to),
                transferred_connections: Some(party_list(parties)),
                local_connection_info: Some(ConnectionState::Null),
                cause: Some(*cause),
            }),
            EventKind::Conferenced {
                primary,
                secondary,
                added,
                parties,
            } => Message::ConferencedEvent(ConferencedEvent {
                monitor_cross_ref_id: monitor,
                primary_old_call: own(primary, me),
                secondary_old_call: Some(own(secondary, me)),
                conferencing_device: dev(me),
                added_party: dev(added),
                conference_connections: Some(party_list(parties)),
                local_connection_info: Some(ConnectionState::Connected),
                cause: Some(EventCause::Conference),
            }),
            EventKind::Diverted { info, to, cause } => {
                let (calling, called) = if info.outgoing {
                    (me, info.called.as_str())
                } else {
                    (info.far.as_str(), info.called.as_str())
                };
                Message::DivertedEvent(DivertedEvent {
                    monitor_cross_ref_id: monitor,
                    connection: own(&info.id, me),
                    diverting_device: dev(me),
                    new_destination: Some(dev(to)),
                    calling_device: Some(dev(calling)),
                    called_device: Some(dev(called)),
                    last_redirection_device: None,
                    local_connection_info: Some(ConnectionState::Null),
                    cause: Some(*cause),
                })
            }
            EventKind::DoNotDisturb { on } => Message::DoNotDisturbEvent(DoNotDisturbEvent {
                monitor_cross_ref_id: monitor,
                device: dev(me),
                do_not_disturb_on: *on,
            }),
            EventKind::Forwarding { forward, on, to } => {
                Message::ForwardingEvent(ForwardingEvent {
                    monitor_cross_ref_id: monitor,
                    device: dev(me),
                    forwarding_type: Some(forward.forwarding_type()),
                    forward_status: *on,
                    forward_to: to.as_deref().map(DeviceId::new),
                    forward_default: None,
                    ring_count: None,
                    ring_duration: None,
                })
            }
        }
    }
}
