//! TEMPORARY STUB (being replaced by the complete tables).
#![allow(missing_docs)]

names! {
    /// Connection state.
    pub enum ConnectionState closed {
        Null = "null",
        Initiated = "initiated",
        Alerting = "alerting",
        Connected = "connected",
        Hold = "hold",
        Queued = "queued",
        Fail = "fail",
    }
}
names! { pub enum EventCause<'a> open { NormalClearing = "normalClearing", NewCall = "newCall", MakeCall = "makeCall", } }
names! { pub enum Operation<'a> open { InvalidCallID = "invalidCallID", } }
names! { pub enum Security<'a> open { SequenceNumberViolated = "sequenceNumberViolated", } }
names! { pub enum StateIncompatibility<'a> open { InvalidConnectionState = "invalidConnectionState", } }
names! { pub enum SystemResourceAvailability<'a> open { OverallMonitorLimitExceeded = "overallMonitorLimitExceeded", } }
names! { pub enum SubscribedResourceAvailability<'a> open { ObjectMonitorLimitExceeded = "objectMonitorLimitExceeded", } }
names! { pub enum PerformanceManagement<'a> open { PerformanceLimitExceeded = "performanceLimitExceeded", } }
names! { pub enum ForwardingType<'a> open { ForwardImmediate = "forwardImmediate", } }
names! { pub enum SystemStatus<'a> open { Normal = "normal", } }
names! { pub enum AutoOriginate closed { Prompt = "prompt", DoNotPrompt = "doNotPrompt", } }
names! { pub enum MonitorType closed { Call = "call", Device = "device", } }
names! { pub enum DigitMode closed { Dtmf = "dTMF", } }
names! { pub enum SessionEndReason<'a> open { Normal = "normal", } }
names! { pub enum ApplicationSessionError<'a> open { Unspecified = "unspecified", } }

pub struct FlagCategory {
    pub element: &'static str,
    pub flags: &'static [&'static str],
}
pub const MONITOR_FILTER: &[FlagCategory] = &[FlagCategory {
    element: "callcontrol",
    flags: &["delivered"],
}];
pub const SUPPORTED_SERVICES: &[FlagCategory] = &[FlagCategory {
    element: "callControlServices",
    flags: &["makeCall"],
}];
pub const SUPPORTED_EVENTS: &[FlagCategory] = &[FlagCategory {
    element: "callControlEvents",
    flags: &["delivered"],
}];
