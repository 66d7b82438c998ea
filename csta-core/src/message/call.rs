//! Call control services (ECMA-269 clause 17) of the uaCSTA set, and their responses.

use heapless::Vec;

use crate::names::{AutoOriginate, DigitMode};
use crate::types::{ConnectionId, DeviceId, Opaque};
use crate::xml::Text;

structure! {
    /// Place a call from `calling_device` to `called_directory_number`.
    pub struct MakeCall<'a> {
        /// The device that places the call.
        calling_device: DeviceId<'a> = "callingDevice",
        /// The number to call.
        called_directory_number: DeviceId<'a> = "calledDirectoryNumber",
        /// Account code to charge the call to.
        account_code: Option<Text<'a>> = "accountCode",
        /// Authorisation code.
        auth_code: Option<Text<'a>> = "authCode",
        /// Whether the calling device must go off-hook first (`prompt`) or the call is
        /// placed at once (`doNotPrompt`).
        auto_originate: Option<AutoOriginate> = "autoOriginate",
        /// Opaque data the application correlates the call with.
        correlator_data: Option<Opaque<'a>> = "correlatorData",
    }
}

structure! {
    /// The call was placed.
    pub struct MakeCallResponse<'a> {
        /// The calling device's connection in the new call.
        calling_device: ConnectionId<'a> = "callingDevice",
    }
}

structure! {
    /// Answer an alerting call.
    pub struct AnswerCall<'a> {
        /// The alerting connection.
        call_to_be_answered: ConnectionId<'a> = "callToBeAnswered",
    }
}

structure! {
    /// The call was answered.
    pub struct AnswerCallResponse {}
}

structure! {
    /// Release one connection from its call.
    pub struct ClearConnection<'a> {
        /// The connection to release.
        connection_to_be_cleared: ConnectionId<'a> = "connectionToBeCleared",
        /// Why (an event cause, passed on in the events).
        reason: Option<crate::names::EventCause<'a>> = "reason",
    }
}

structure! {
    /// The connection was released.
    pub struct ClearConnectionResponse {}
}

structure! {
    /// Put a connected call on hold.
    pub struct HoldCall<'a> {
        /// The connection to hold.
        call_to_be_held: ConnectionId<'a> = "callToBeHeld",
        /// Whether the held connection keeps its resources.
        connection_reservation: Option<bool> = "connectionReservation",
    }
}

structure! {
    /// The call is held.
    pub struct HoldCallResponse {}
}

structure! {
    /// Take a held call back.
    pub struct RetrieveCall<'a> {
        /// The held connection.
        call_to_be_retrieved: ConnectionId<'a> = "callToBeRetrieved",
    }
}

structure! {
    /// The call is connected again.
    pub struct RetrieveCallResponse {}
}

structure! {
    /// Hold the existing call and call another device for consultation.
    pub struct ConsultationCall<'a> {
        /// The call to put on hold.
        existing_call: ConnectionId<'a> = "existingCall",
        /// The device to consult.
        consulted_device: DeviceId<'a> = "consultedDevice",
        /// Account code.
        account_code: Option<Text<'a>> = "accountCode",
        /// Authorisation code.
        auth_code: Option<Text<'a>> = "authCode",
        /// Opaque correlation data.
        correlator_data: Option<Opaque<'a>> = "correlatorData",
    }
}

structure! {
    /// The consultation call was placed.
    pub struct ConsultationCallResponse<'a> {
        /// The connection of the consultation call.
        initiated_call: Option<ConnectionId<'a>> = "initiatedCall",
    }
}

structure! {
    /// Join the held call and the active call and leave both (transfer).
    pub struct TransferCall<'a> {
        /// The held call.
        held_call: ConnectionId<'a> = "heldCall",
        /// The active call.
        active_call: ConnectionId<'a> = "activeCall",
    }
}

structure! {
    /// The calls were transferred.
    pub struct TransferCallResponse<'a> {
        /// The resulting call.
        transferred_call: ConnectionId<'a> = "transferredCall",
        /// How the connections were renamed.
        connections: Option<ConnectionList<'a>> = "connections",
    }
}

structure! {
    /// Join the held call and the active call into a conference.
    pub struct ConferenceCall<'a> {
        /// The held call.
        held_call: ConnectionId<'a> = "heldCall",
        /// The active call.
        active_call: ConnectionId<'a> = "activeCall",
    }
}

structure! {
    /// The conference exists.
    pub struct ConferenceCallResponse<'a> {
        /// The conference call.
        conference_call: ConnectionId<'a> = "conferenceCall",
        /// How the connections were renamed.
        connections: Option<ConnectionList<'a>> = "connections",
    }
}

structure! {
    /// Hold the active call and retrieve the held one in one step.
    pub struct AlternateCall<'a> {
        /// The held call to retrieve.
        held_call: ConnectionId<'a> = "heldCall",
        /// The active call to hold.
        active_call: ConnectionId<'a> = "activeCall",
    }
}

structure! {
    /// The calls were swapped.
    pub struct AlternateCallResponse {}
}

structure! {
    /// Clear the active call and retrieve the held one.
    pub struct ReconnectCall<'a> {
        /// The active call to clear.
        active_call: ConnectionId<'a> = "activeCall",
        /// The held call to retrieve.
        held_call: ConnectionId<'a> = "heldCall",
    }
}

structure! {
    /// The held call is connected again.
    pub struct ReconnectCallResponse {}
}

structure! {
    /// Send an alerting call elsewhere.
    pub struct DeflectCall<'a> {
        /// The alerting connection.
        call_to_be_diverted: ConnectionId<'a> = "callToBeDiverted",
        /// Where to send it.
        new_destination: DeviceId<'a> = "newDestination",
    }
}

structure! {
    /// The call was deflected.
    pub struct DeflectCallResponse {}
}

structure! {
    /// Transfer the active call to another device without consultation.
    pub struct SingleStepTransferCall<'a> {
        /// The call to transfer.
        active_call: ConnectionId<'a> = "activeCall",
        /// Where to transfer it.
        transferred_to: DeviceId<'a> = "transferredTo",
        /// Account code.
        account_code: Option<Text<'a>> = "accountCode",
        /// Authorisation code.
        auth_code: Option<Text<'a>> = "authCode",
    }
}

structure! {
    /// The call was transferred.
    pub struct SingleStepTransferCallResponse<'a> {
        /// The resulting call.
        transferred_call: ConnectionId<'a> = "transferredCall",
        /// How the connections were renamed.
        connections: Option<ConnectionList<'a>> = "connections",
    }
}

structure! {
    /// Send DTMF (or other) digits on a connection.
    pub struct GenerateDigits<'a> {
        /// The connection to send on.
        connection_to_send_digits: ConnectionId<'a> = "connectionToSendDigits",
        /// How to send them.
        digit_mode: Option<DigitMode> = "digitMode",
        /// The digits.
        characters_to_send: Text<'a> = "charactersToSend",
        /// Duration of each tone in milliseconds.
        tone_duration: Option<u32> = "toneDuration",
        /// Pause between tones in milliseconds.
        pulse_rate: Option<u32> = "pulseRate",
    }
}

structure! {
    /// The digits were sent.
    pub struct GenerateDigitsResponse {}
}

/// Capacity of a connection list (`connections`, `transferredConnections`,
/// `conferenceConnections`).
pub const CONNECTION_LIST_MAX: usize = 8;

structure! {
    /// One connection's renaming after a transfer or conference.
    pub struct ConnectionListItem<'a> {
        /// The connection's new identifier.
        new_connection: Option<ConnectionId<'a>> = "newConnection",
        /// The connection's old identifier.
        old_connection: Option<ConnectionId<'a>> = "oldConnection",
        /// The device at the end of the connection.
        endpoint: Option<crate::types::DeviceRef<'a>> = "endpoint",
    }
}

structure! {
    /// A list of connection renamings.
    pub struct ConnectionList<'a> {
        /// The items, at most [`CONNECTION_LIST_MAX`].
        items: Vec<ConnectionListItem<'a>, CONNECTION_LIST_MAX> = "connectionListItem",
    }
}

structure! {
    /// Pick up a call alerting at another device (ECMA-269 Directed Pickup Call): the
    /// call of `call_to_be_picked_up` is moved to `requesting_device` and connected
    /// there.
    ///
    /// Elements as ECMA-285 `DirectedPickupCallArgument` names them (ECMA-323 mirrors
    /// the ASN.1 identifiers); `userData` and `extensions` are skipped when decoding.
    pub struct DirectedPickupCall<'a> {
        /// The alerting connection to pick up.
        call_to_be_picked_up: ConnectionId<'a> = "callToBePickedUp",
        /// The device that picks the call up. Uni-tel writes its text in a
        /// `<deviceID>` child ([`Leniency::NESTED_DEVICE_ID`](crate::xml::Leniency::NESTED_DEVICE_ID)).
        requesting_device: DeviceId<'a> = "requestingDevice",
        /// Opaque correlation data.
        correlator_data: Option<Opaque<'a>> = "correlatorData",
    }
}

structure! {
    /// The call was picked up.
    ///
    /// `pickedCallInfo` and `callLinkageData` of ECMA-285 `DirectedPickupCallResult`
    /// are skipped when decoding.
    pub struct DirectedPickupCallResponse<'a> {
        /// The requesting device's connection in the picked call (absent in Uni-tel's
        /// answers).
        picked_call: Option<ConnectionId<'a>> = "pickedCall",
    }
}

structure! {
    /// Pick up a call alerting at a device of a pick(-up) group (ECMA-269 Group Pickup
    /// Call).
    ///
    /// Elements as ECMA-285 `GroupPickupCallArgument` names them; `userData` and
    /// `extensions` are skipped when decoding.
    pub struct GroupPickupCall<'a> {
        /// The device that picks the call up.
        new_destination: DeviceId<'a> = "newDestination",
        /// The pick group to pick from; when absent, the switching function chooses
        /// (the group of `new_destination`).
        pick_group: Option<DeviceId<'a>> = "pickGroup",
        /// Opaque correlation data.
        correlator_data: Option<Opaque<'a>> = "correlatorData",
    }
}

structure! {
    /// A call of the group was picked up.
    pub struct GroupPickupCallResponse<'a> {
        /// The new destination's connection in the picked call.
        picked_call: Option<ConnectionId<'a>> = "pickedCall",
    }
}
