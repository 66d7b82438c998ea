//! System status, registration and capability exchange (ECMA-269 clauses 12, 13).

use heapless::Vec;

use crate::flags::{SupportedEvents, SupportedServices};
use crate::names::{DeviceCategory, ReqDeviceCategory, SystemStatus as Status};
use crate::types::{CrossRefId, DeviceId, PlainDeviceId};
use crate::xml::Text;

structure! {
    /// Ask for the switching function's status (also the uaCSTA keep-alive).
    pub struct RequestSystemStatus {}
}

structure! {
    /// The switching function's status.
    pub struct RequestSystemStatusResponse<'a> {
        /// The status.
        system_status: Status<'a> = "systemStatus",
    }
}

structure! {
    /// A status change, sent unsolicited.
    pub struct SystemStatus<'a> {
        /// The registration it is reported under.
        sys_stat_register_id: Option<CrossRefId<'a>> = "sysStatRegisterID",
        /// The status (OpenScape Voice sends an empty `SystemStatus` as a keep-alive).
        system_status: Option<Status<'a>> = "systemStatus",
    }
}

structure! {
    /// Acknowledges a [`SystemStatus`].
    pub struct SystemStatusResponse {}
}

structure! {
    /// What a [`SystemRegister`] registers for (ECMA-285 `RequestTypes`, a bit
    /// string that ECMA-323 writes as one boolean element per bit, as snom and
    /// OpenScape Voice do). An absent flag is `false`.
    pub struct RequestTypes {
        /// [`SystemStatus`] reports.
        system_status: Option<bool> = "systemStatus",
        /// `RequestSystemStatus` from the switching function.
        request_system_status: Option<bool> = "requestSystemStatus",
        /// Switching Function Capabilities Changed reports.
        switching_function_caps_changed: Option<bool> = "switchingFunctionCapsChanged",
        /// [`SwitchingFunctionDevicesChanged`] reports.
        switching_function_devices_changed: Option<bool> = "switchingFunctionDevicesChanged",
    }
}

impl RequestTypes {
    /// No flag set.
    pub const NONE: RequestTypes = RequestTypes {
        system_status: None,
        request_system_status: None,
        switching_function_caps_changed: None,
        switching_function_devices_changed: None,
    };

    /// Whether [`SwitchingFunctionDevicesChanged`] reports are asked for.
    pub fn wants_devices_changed(&self) -> bool {
        self.switching_function_devices_changed == Some(true)
    }

    /// Whether [`SystemStatus`] reports are asked for.
    pub fn wants_system_status(&self) -> bool {
        self.system_status == Some(true)
    }
}

structure! {
    /// The system statuses a registration reports (ECMA-285 `StatusFilter`, one
    /// boolean element per bit). The ASN.1 bit is `messageLost` (singular, unlike the
    /// `messagesLost` status value); the XML spelling could not be checked against
    /// the ECMA-323 schema and follows the ASN.1.
    pub struct StatusFilter {
        /// `initializing`.
        initializing: Option<bool> = "initializing",
        /// `enabled`.
        enabled: Option<bool> = "enabled",
        /// `normal`.
        normal: Option<bool> = "normal",
        /// `messageLost`.
        message_lost: Option<bool> = "messageLost",
        /// `disabled`.
        disabled: Option<bool> = "disabled",
        /// `partiallyDisabled`.
        partially_disabled: Option<bool> = "partiallyDisabled",
        /// `overloadImminent`.
        overload_imminent: Option<bool> = "overloadImminent",
        /// `overloadReached`.
        overload_reached: Option<bool> = "overloadReached",
        /// `overloadRelieved`.
        overload_relieved: Option<bool> = "overloadRelieved",
    }
}

structure! {
    /// Register for system reports: [`SystemStatus`],
    /// [`SwitchingFunctionDevicesChanged`] and the others of [`RequestTypes`]
    /// (ECMA-285 `SystemRegisterArgument`).
    pub struct SystemRegister {
        /// What to register for. Required by the ASN.1; decoded as all-absent when
        /// a peer leaves it out.
        request_types: Option<RequestTypes> = "requestTypes",
        /// Which statuses to report.
        requested_status_filter: Option<StatusFilter> = "requestedStatusFilter",
    }
}

structure! {
    /// Registered for system reports.
    pub struct SystemRegisterResponse<'a> {
        /// The registration.
        sys_stat_register_id: CrossRefId<'a> = "sysStatRegisterID",
        /// The statuses that will be reported.
        actual_status_filter: Option<StatusFilter> = "actualStatusFilter",
    }
}

structure! {
    /// Cancel a status registration.
    pub struct SystemRegisterCancel<'a> {
        /// The registration.
        sys_stat_register_id: CrossRefId<'a> = "sysStatRegisterID",
    }
}

structure! {
    /// The status registration is cancelled.
    pub struct SystemRegisterCancelResponse {}
}

structure! {
    /// Ask which services and events are supported.
    pub struct GetCSTAFeatures {}
}

structure! {
    /// The supported services and events.
    pub struct GetCSTAFeaturesResponse {
        /// Services, by category.
        supported_services: Option<SupportedServices> = "supportedServices",
        /// Events, by category.
        supported_events: Option<SupportedEvents> = "supportedEvents",
    }
}

structure! {
    /// Ask for the devices of the switching function (ECMA-269 Get Switching Function
    /// Devices). The answer is a [`GetSwitchingFunctionDevicesResponse`], then the
    /// list in [`SwitchingFunctionDevices`] requests from the switching function.
    pub struct GetSwitchingFunctionDevices<'a> {
        /// Only this device.
        requested_device_id: Option<DeviceId<'a>> = "requestedDeviceID",
        /// Only devices of this category.
        requested_device_category: Option<ReqDeviceCategory<'a>> = "requestedDeviceCategory",
    }
}

structure! {
    /// The list will follow in [`SwitchingFunctionDevices`] requests carrying this
    /// cross reference.
    pub struct GetSwitchingFunctionDevicesResponse<'a> {
        /// Ties the [`SwitchingFunctionDevices`] segments to the request.
        service_cross_ref_id: CrossRefId<'a> = "serviceCrossRefID",
    }
}

/// Capacity of one [`SwitchingFunctionDevices`] segment: 32 devices. A sender with
/// more sends more segments; a longer list does not decode
/// ([`DecodeError::TooMany`](crate::DecodeError::TooMany)). A full segment stays
/// smaller than the largest messages
/// ([`TransferedEvent`](crate::message::event::TransferedEvent),
/// [`ConferencedEvent`](crate::message::event::ConferencedEvent)), so that
/// [`Message`](crate::Message), as large as its largest variant, did not grow with
/// this one; that is why [`DeviceEntry::device_id`] is a [`PlainDeviceId`] (with full
/// [`DeviceId`]s, 32 entries made `Message` 4.6 KB instead of 3.3 KB on 64-bit
/// targets, more than the stacks of the phone simulator's tests could take).
pub const DEVICE_LIST_MAX: usize = 32;

structure! {
    /// One device of a [`SwitchingFunctionDevices`] segment (an item of ECMA-285
    /// `DeviceList`). The item element's name, `deviceEntry`, could not be checked
    /// against the ECMA-323 schema (the ASN.1 list items are unnamed).
    /// `namedDeviceTypes`, `deviceAttributes` and `nidGroup` are skipped when
    /// decoding, and so are the attributes of `deviceID` (`typeOfNumber`, ...).
    pub struct DeviceEntry<'a> {
        /// The device.
        device_id: PlainDeviceId<'a> = "deviceID",
        /// Its category (`station` when absent, as the ASN.1 default says).
        device_category: Option<DeviceCategory<'a>> = "deviceCategory",
        /// The device's model name (at most 64 characters in the ASN.1).
        device_model_name: Option<Text<'a>> = "deviceModelName",
    }
}

structure! {
    /// The devices of one segment.
    pub struct DeviceList<'a> {
        /// The devices, at most [`DEVICE_LIST_MAX`].
        entries: Vec<DeviceEntry<'a>, DEVICE_LIST_MAX> = "deviceEntry",
    }
}

structure! {
    /// One segment of the answer to [`GetSwitchingFunctionDevices`], a request from
    /// the switching function to the computing function (ECMA-285
    /// `SwitchingFunctionDevicesArgument`).
    pub struct SwitchingFunctionDevices<'a> {
        /// The [`GetSwitchingFunctionDevicesResponse`] this segment belongs to.
        service_cross_ref_id: CrossRefId<'a> = "serviceCrossRefID",
        /// The segment's number.
        segment_id: Option<u32> = "segmentID",
        /// Whether this is the last segment.
        last_segment: bool = "lastSegment",
        /// The devices (possibly none).
        device_list: DeviceList<'a> = "deviceList",
    }
}

structure! {
    /// Acknowledges a [`SwitchingFunctionDevices`] segment. ECMA-285 defines no result
    /// for that operation; decoded because CSTA clients answer every request.
    pub struct SwitchingFunctionDevicesResponse {}
}

structure! {
    /// The set of devices changed (ECMA-269 Switching Function Devices Changed,
    /// ECMA-285 `SwFunctionDevicesChangedArg`), sent to a registration that asked for
    /// [`RequestTypes::switching_function_devices_changed`].
    pub struct SwitchingFunctionDevicesChanged<'a> {
        /// The registration it is reported under.
        sys_stat_register_id: Option<CrossRefId<'a>> = "sysStatRegisterID",
    }
}

structure! {
    /// Acknowledges a [`SwitchingFunctionDevicesChanged`] (ECMA-285
    /// `SwFunctionDevicesChangedRes`: no data).
    pub struct SwitchingFunctionDevicesChangedResponse {}
}
