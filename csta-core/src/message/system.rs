//! System status, registration and capability exchange (ECMA-269 clauses 12, 13).

use crate::flags::{SupportedEvents, SupportedServices};
use crate::names::SystemStatus as Status;
use crate::types::CrossRefId;

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
    /// Register for [`SystemStatus`] reports.
    pub struct SystemRegister {}
}

structure! {
    /// Registered for status reports.
    pub struct SystemRegisterResponse<'a> {
        /// The registration.
        sys_stat_register_id: CrossRefId<'a> = "sysStatRegisterID",
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
