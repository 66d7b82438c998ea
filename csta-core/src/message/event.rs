//! Events (ECMA-269 clauses 17, 21 and 22) reported by a monitor.

use crate::message::call::ConnectionList;
use crate::names::{ConnectionState, EventCause, ForwardingType};
use crate::types::{ConnectionId, CrossRefId, DeviceId, DeviceRef, Opaque};
use crate::xml::Text;

structure! {
    /// A device went off-hook or started a call (connection `initiated`).
    pub struct ServiceInitiatedEvent<'a> {
        /// The monitor that reports it (required by the schema; left out by peers that
        /// send events without a monitor, such as as-feature-event bodies).
        monitor_cross_ref_id: Option<CrossRefId<'a>> = "monitorCrossRefID",
        /// The new connection.
        initiated_connection: ConnectionId<'a> = "initiatedConnection",
        /// The device that initiated.
        initiating_device: DeviceRef<'a> = "initiatingDevice",
        /// The monitored device's connection state.
        local_connection_info: Option<ConnectionState> = "localConnectionInfo",
        /// Why.
        cause: Option<EventCause<'a>> = "cause",
    }
}

structure! {
    /// The call was originated (dialling complete).
    pub struct OriginatedEvent<'a> {
        /// The monitor that reports it (required by the schema; left out by peers that
        /// send events without a monitor, such as as-feature-event bodies).
        monitor_cross_ref_id: Option<CrossRefId<'a>> = "monitorCrossRefID",
        /// The originating connection.
        originated_connection: ConnectionId<'a> = "originatedConnection",
        /// The caller.
        calling_device: DeviceRef<'a> = "callingDevice",
        /// The number called.
        called_device: DeviceRef<'a> = "calledDevice",
        /// The monitored device's connection state.
        local_connection_info: Option<ConnectionState> = "localConnectionInfo",
        /// Why.
        cause: Option<EventCause<'a>> = "cause",
    }
}

structure! {
    /// A device is alerted (ringing).
    pub struct DeliveredEvent<'a> {
        /// The monitor that reports it (required by the schema; left out by peers that
        /// send events without a monitor, such as as-feature-event bodies).
        monitor_cross_ref_id: Option<CrossRefId<'a>> = "monitorCrossRefID",
        /// The alerting connection.
        connection: ConnectionId<'a> = "connection",
        /// The alerted device (required by the schema; missing from some simulators).
        alerting_device: Option<DeviceRef<'a>> = "alertingDevice",
        /// The caller.
        calling_device: DeviceRef<'a> = "callingDevice",
        /// The number called.
        called_device: DeviceRef<'a> = "calledDevice",
        /// The device that last redirected the call.
        last_redirection_device: Option<DeviceRef<'a>> = "lastRedirectionDevice",
        /// The monitored device's connection state.
        local_connection_info: Option<ConnectionState> = "localConnectionInfo",
        /// Opaque correlation data.
        correlator_data: Option<Opaque<'a>> = "correlatorData",
        /// Why.
        cause: Option<EventCause<'a>> = "cause",
    }
}

structure! {
    /// A device answered.
    pub struct EstablishedEvent<'a> {
        /// The monitor that reports it (required by the schema; left out by peers that
        /// send events without a monitor, such as as-feature-event bodies).
        monitor_cross_ref_id: Option<CrossRefId<'a>> = "monitorCrossRefID",
        /// The answering connection.
        established_connection: ConnectionId<'a> = "establishedConnection",
        /// The device that answered.
        answering_device: DeviceRef<'a> = "answeringDevice",
        /// The caller.
        calling_device: DeviceRef<'a> = "callingDevice",
        /// The number called.
        called_device: DeviceRef<'a> = "calledDevice",
        /// The device that last redirected the call.
        last_redirection_device: Option<DeviceRef<'a>> = "lastRedirectionDevice",
        /// The monitored device's connection state.
        local_connection_info: Option<ConnectionState> = "localConnectionInfo",
        /// Opaque correlation data.
        correlator_data: Option<Opaque<'a>> = "correlatorData",
        /// Why.
        cause: Option<EventCause<'a>> = "cause",
    }
}

structure! {
    /// A device left a call.
    pub struct ConnectionClearedEvent<'a> {
        /// The monitor that reports it (required by the schema; left out by peers that
        /// send events without a monitor, such as as-feature-event bodies).
        monitor_cross_ref_id: Option<CrossRefId<'a>> = "monitorCrossRefID",
        /// The connection that went away.
        dropped_connection: ConnectionId<'a> = "droppedConnection",
        /// The device that released.
        releasing_device: DeviceRef<'a> = "releasingDevice",
        /// The monitored device's connection state.
        local_connection_info: Option<ConnectionState> = "localConnectionInfo",
        /// Why.
        cause: Option<EventCause<'a>> = "cause",
    }
}

structure! {
    /// A call ended for every device in it.
    pub struct CallClearedEvent<'a> {
        /// The monitor that reports it (required by the schema; left out by peers that
        /// send events without a monitor, such as as-feature-event bodies).
        monitor_cross_ref_id: Option<CrossRefId<'a>> = "monitorCrossRefID",
        /// The call.
        cleared_call: ConnectionId<'a> = "clearedCall",
        /// The monitored device's connection state.
        local_connection_info: Option<ConnectionState> = "localConnectionInfo",
        /// Why.
        cause: Option<EventCause<'a>> = "cause",
    }
}

structure! {
    /// A call was put on hold.
    pub struct HeldEvent<'a> {
        /// The monitor that reports it (required by the schema; left out by peers that
        /// send events without a monitor, such as as-feature-event bodies).
        monitor_cross_ref_id: Option<CrossRefId<'a>> = "monitorCrossRefID",
        /// The held connection.
        held_connection: ConnectionId<'a> = "heldConnection",
        /// The device that held it.
        holding_device: DeviceRef<'a> = "holdingDevice",
        /// The monitored device's connection state.
        local_connection_info: Option<ConnectionState> = "localConnectionInfo",
        /// Why.
        cause: Option<EventCause<'a>> = "cause",
    }
}

structure! {
    /// A held call was taken back.
    pub struct RetrievedEvent<'a> {
        /// The monitor that reports it (required by the schema; left out by peers that
        /// send events without a monitor, such as as-feature-event bodies).
        monitor_cross_ref_id: Option<CrossRefId<'a>> = "monitorCrossRefID",
        /// The retrieved connection.
        retrieved_connection: ConnectionId<'a> = "retrievedConnection",
        /// The device that retrieved it.
        retrieving_device: DeviceRef<'a> = "retrievingDevice",
        /// The monitored device's connection state.
        local_connection_info: Option<ConnectionState> = "localConnectionInfo",
        /// Why.
        cause: Option<EventCause<'a>> = "cause",
    }
}

structure! {
    /// Two calls were joined and the transferring device left (spelt with one r).
    pub struct TransferedEvent<'a> {
        /// The monitor that reports it (required by the schema; left out by peers that
        /// send events without a monitor, such as as-feature-event bodies).
        monitor_cross_ref_id: Option<CrossRefId<'a>> = "monitorCrossRefID",
        /// The first call (usually the held one).
        primary_old_call: ConnectionId<'a> = "primaryOldCall",
        /// The second call.
        secondary_old_call: Option<ConnectionId<'a>> = "secondaryOldCall",
        /// The device that transferred.
        transferring_device: DeviceRef<'a> = "transferringDevice",
        /// The device the call went to.
        transferred_to_device: DeviceRef<'a> = "transferredToDevice",
        /// How the remaining connections were renamed.
        transferred_connections: Option<ConnectionList<'a>> = "transferredConnections",
        /// The monitored device's connection state.
        local_connection_info: Option<ConnectionState> = "localConnectionInfo",
        /// Why.
        cause: Option<EventCause<'a>> = "cause",
    }
}

structure! {
    /// Two calls were joined into a conference.
    pub struct ConferencedEvent<'a> {
        /// The monitor that reports it (required by the schema; left out by peers that
        /// send events without a monitor, such as as-feature-event bodies).
        monitor_cross_ref_id: Option<CrossRefId<'a>> = "monitorCrossRefID",
        /// The first call.
        primary_old_call: ConnectionId<'a> = "primaryOldCall",
        /// The second call.
        secondary_old_call: Option<ConnectionId<'a>> = "secondaryOldCall",
        /// The device that conferenced.
        conferencing_device: DeviceRef<'a> = "conferencingDevice",
        /// The device added.
        added_party: DeviceRef<'a> = "addedParty",
        /// The conference's connections.
        conference_connections: Option<ConnectionList<'a>> = "conferenceConnections",
        /// The monitored device's connection state.
        local_connection_info: Option<ConnectionState> = "localConnectionInfo",
        /// Why.
        cause: Option<EventCause<'a>> = "cause",
    }
}

structure! {
    /// A call was sent to another device (deflected or forwarded).
    pub struct DivertedEvent<'a> {
        /// The monitor that reports it (required by the schema; left out by peers that
        /// send events without a monitor, such as as-feature-event bodies).
        monitor_cross_ref_id: Option<CrossRefId<'a>> = "monitorCrossRefID",
        /// The connection that was diverted.
        connection: ConnectionId<'a> = "connection",
        /// The device that diverted.
        diverting_device: DeviceRef<'a> = "divertingDevice",
        /// Where the call went.
        new_destination: Option<DeviceRef<'a>> = "newDestination",
        /// The caller.
        calling_device: Option<DeviceRef<'a>> = "callingDevice",
        /// The number called.
        called_device: Option<DeviceRef<'a>> = "calledDevice",
        /// The device that last redirected the call.
        last_redirection_device: Option<DeviceRef<'a>> = "lastRedirectionDevice",
        /// The monitored device's connection state.
        local_connection_info: Option<ConnectionState> = "localConnectionInfo",
        /// Why.
        cause: Option<EventCause<'a>> = "cause",
    }
}

structure! {
    /// A call could not be completed.
    pub struct FailedEvent<'a> {
        /// The monitor that reports it (required by the schema; left out by peers that
        /// send events without a monitor, such as as-feature-event bodies).
        monitor_cross_ref_id: Option<CrossRefId<'a>> = "monitorCrossRefID",
        /// The connection that failed.
        failed_connection: ConnectionId<'a> = "failedConnection",
        /// The device that failed.
        failing_device: DeviceRef<'a> = "failingDevice",
        /// The caller.
        calling_device: DeviceRef<'a> = "callingDevice",
        /// The number called.
        called_device: DeviceRef<'a> = "calledDevice",
        /// The device that last redirected the call.
        last_redirection_device: Option<DeviceRef<'a>> = "lastRedirectionDevice",
        /// The monitored device's connection state.
        local_connection_info: Option<ConnectionState> = "localConnectionInfo",
        /// Why.
        cause: Option<EventCause<'a>> = "cause",
    }
}

structure! {
    /// The call reached a network (trunk) destination.
    pub struct NetworkReachedEvent<'a> {
        /// The monitor that reports it (required by the schema; left out by peers that
        /// send events without a monitor, such as as-feature-event bodies).
        monitor_cross_ref_id: Option<CrossRefId<'a>> = "monitorCrossRefID",
        /// The outbound connection.
        outbound_connection: ConnectionId<'a> = "outboundConnection",
        /// The network interface used.
        network_interface_used: DeviceRef<'a> = "networkInterfaceUsed",
        /// The caller.
        calling_device: DeviceRef<'a> = "callingDevice",
        /// The number called.
        called_device: DeviceRef<'a> = "calledDevice",
        /// The device that last redirected the call.
        last_redirection_device: Option<DeviceRef<'a>> = "lastRedirectionDevice",
        /// The monitored device's connection state.
        local_connection_info: Option<ConnectionState> = "localConnectionInfo",
        /// Why.
        cause: Option<EventCause<'a>> = "cause",
    }
}

structure! {
    /// Digits were sent on a connection.
    pub struct DigitsGeneratedEvent<'a> {
        /// The monitor that reports it (required by the schema; left out by peers that
        /// send events without a monitor, such as as-feature-event bodies).
        monitor_cross_ref_id: Option<CrossRefId<'a>> = "monitorCrossRefID",
        /// The connection.
        connection: ConnectionId<'a> = "connection",
        /// The digits sent.
        digit_generated_list: Text<'a> = "digitGeneratedList",
    }
}

structure! {
    /// Do-not-disturb changed.
    pub struct DoNotDisturbEvent<'a> {
        /// The monitor that reports it (required by the schema; left out by peers that
        /// send events without a monitor, such as as-feature-event bodies).
        monitor_cross_ref_id: Option<CrossRefId<'a>> = "monitorCrossRefID",
        /// The device.
        device: DeviceRef<'a> = "device",
        /// On or off.
        do_not_disturb_on: bool = "doNotDisturbOn",
    }
}

structure! {
    /// A forwarding setting changed.
    pub struct ForwardingEvent<'a> {
        /// The monitor that reports it (required by the schema; left out by peers that
        /// send events without a monitor, such as as-feature-event bodies).
        monitor_cross_ref_id: Option<CrossRefId<'a>> = "monitorCrossRefID",
        /// The device.
        device: DeviceRef<'a> = "device",
        /// Which forwarding.
        forwarding_type: Option<ForwardingType<'a>> = "forwardingType",
        /// On or off.
        forward_status: bool = "forwardStatus",
        /// Where calls go.
        forward_to: Option<DeviceId<'a>> = "forwardTo",
        /// Whether `forward_to` is the default destination.
        forward_default: Option<Text<'a>> = "forwardDefault",
        /// Rings before forwarding on no answer.
        ring_count: Option<u32> = "ringCount",
        /// Seconds before forwarding on no answer.
        ring_duration: Option<u32> = "ringDuration",
    }
}

structure! {
    /// The message waiting indicator changed.
    pub struct MessageWaitingEvent<'a> {
        /// The monitor that reports it (required by the schema; left out by peers that
        /// send events without a monitor, such as as-feature-event bodies).
        monitor_cross_ref_id: Option<CrossRefId<'a>> = "monitorCrossRefID",
        /// The device whose mailbox it is.
        target_device: DeviceRef<'a> = "targetDevice",
        /// The device that set it.
        device_for_message: Option<DeviceRef<'a>> = "deviceForMessage",
        /// Lit or not.
        message_waiting_on: bool = "messageWaitingOn",
    }
}

structure! {
    /// Call information (account or authorisation code, correlator data) changed.
    pub struct CallInformationEvent<'a> {
        /// The monitor that reports it (required by the schema; left out by peers that
        /// send events without a monitor, such as as-feature-event bodies).
        monitor_cross_ref_id: Option<CrossRefId<'a>> = "monitorCrossRefID",
        /// The connection.
        connection: ConnectionId<'a> = "connection",
        /// The device that gave the information.
        calling_device: Option<DeviceRef<'a>> = "callingDevice",
        /// Account code.
        account_info: Option<Text<'a>> = "accountInfo",
        /// Authorisation code.
        authorisation_code: Option<Text<'a>> = "authorisationCode",
        /// Opaque correlation data.
        correlator_data: Option<Opaque<'a>> = "correlatorData",
    }
}

structure! {
    /// The device can no longer be used (ECMA-269 device maintenance event): its
    /// calls and features are unavailable until a [`BackInServiceEvent`].
    pub struct OutOfServiceEvent<'a> {
        /// The monitor that reports it.
        monitor_cross_ref_id: Option<CrossRefId<'a>> = "monitorCrossRefID",
        /// The device.
        device: DeviceRef<'a> = "device",
        /// Why.
        cause: Option<EventCause<'a>> = "cause",
    }
}

structure! {
    /// The device can be used again after an [`OutOfServiceEvent`] (ECMA-269 device
    /// maintenance event).
    pub struct BackInServiceEvent<'a> {
        /// The monitor that reports it.
        monitor_cross_ref_id: Option<CrossRefId<'a>> = "monitorCrossRefID",
        /// The device.
        device: DeviceRef<'a> = "device",
        /// Why.
        cause: Option<EventCause<'a>> = "cause",
    }
}
