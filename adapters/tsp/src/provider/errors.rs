//! TAPI errors, and how a CSTA error becomes one.
//!
//! A TSPI function that fails at once returns a negative `LINEERR_*`; an asynchronous
//! request that fails later completes with one. The provider's errors are
//! [`LineError`], whose [`code`](LineError::code) is the `LINEERR_*` value.
//!
//! # CSTA errors
//!
//! A request the server or the phone refuses comes back as a `CSTAErrorCode`
//! (ECMA-269 clause 9.3); [`LineError::from_csta`] picks the `LINEERR_*` that says
//! why:
//!
//! | `CSTAErrorCode` | `LINEERR_*` |
//! |---|---|
//! | `operation/invalidCallID`, `invalidConnectionID` | `INVALCALLHANDLE` |
//! | `operation/invalidDeviceID`, `invalidDestination`, `invalidForwardingDestination`, `invalidCalledDeviceObjectType`, `invalidDestinationDeviceObject`, `objectNotKnown`, `notDifferentDevices`, `notSameDevice` | `INVALADDRESS` |
//! | `operation/privilegeViolation*`, `serviceNotSupported` | `OPERATIONUNAVAIL` |
//! | `operation/invalidParameterValue`, `atLeastOneConditionalParameterNotProvided`, any other `invalid*` | `INVALPARAM` |
//! | `operation/generic` and the rest of `operation` | `OPERATIONFAILED` |
//! | `security/*` | `OPERATIONUNAVAIL` |
//! | `stateIncompatibility/*` | `INVALCALLSTATE` |
//! | `systemResourceAvailibility/*OutOfService` | `INVALLINESTATE` |
//! | `systemResourceAvailibility/*Limit*`, `*Exceeded` | `RESOURCEUNAVAIL` |
//! | `systemResourceAvailibility/*Busy`, `generic` and the rest | `OPERATIONFAILED` |
//! | `subscribedResourceAvailability/*`, `performanceManagement/*` | `RESOURCEUNAVAIL` |
//! | `privateData`, `unspecified` | `OPERATIONFAILED` |
//!
//! A request that gets no CSTA answer in time, or whose link goes down before the
//! answer, completes with `OPERATIONFAILED`.

use core::fmt;

use csta_core::message::ErrorCode;

use crate::tapi;

/// A TAPI error; [`code`](Self::code) is its `LINEERR_*` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LineError {
    /// `LINEERR_BADDEVICEID`: no such line.
    BadDeviceId,
    /// `LINEERR_NODEVICE`: the line was removed.
    NoDevice,
    /// `LINEERR_INVALLINEHANDLE`.
    InvalLineHandle,
    /// `LINEERR_INVALCALLHANDLE`.
    InvalCallHandle,
    /// `LINEERR_INVALCONSULTCALLHANDLE`.
    InvalConsultCallHandle,
    /// `LINEERR_INVALCONFCALLHANDLE`.
    InvalConfCallHandle,
    /// `LINEERR_INVALADDRESS`: a number or device the provider or server cannot use.
    InvalAddress,
    /// `LINEERR_INVALADDRESSID`: the line has one address, ID 0.
    InvalAddressId,
    /// `LINEERR_INVALCALLSTATE`: the call is not in a state that allows the request.
    InvalCallState,
    /// `LINEERR_INVALLINESTATE`: the line is out of service.
    InvalLineState,
    /// `LINEERR_INVALPARAM`.
    InvalParam,
    /// `LINEERR_INVALPOINTER`.
    InvalPointer,
    /// `LINEERR_INVALMEDIAMODE`.
    InvalMediaMode,
    /// `LINEERR_INVALDEVICECLASS`.
    InvalDeviceClass,
    /// `LINEERR_INVALTRANSFERMODE`.
    InvalTransferMode,
    /// `LINEERR_INVALDIGITMODE`.
    InvalDigitMode,
    /// `LINEERR_INVALDIGITS`.
    InvalDigits,
    /// `LINEERR_INVALPARAM` for a forward list the provider cannot carry out (TAPI has
    /// no more specific error; the variant names the cause in logs).
    InvalForwardList,
    /// `LINEERR_ALLOCATED`: the line is already open.
    Allocated,
    /// `LINEERR_DIALPROMPT`: the dial string asks for a prompt (`?`).
    DialPrompt,
    /// `LINEERR_INCOMPATIBLEAPIVERSION`.
    IncompatibleApiVersion,
    /// `LINEERR_INCOMPATIBLEEXTVERSION`.
    IncompatibleExtVersion,
    /// `LINEERR_OPERATIONUNAVAIL`: not supported, or not allowed for this account.
    OperationUnavail,
    /// `LINEERR_OPERATIONFAILED`.
    OperationFailed,
    /// `LINEERR_RESOURCEUNAVAIL`: a limit of the provider, server or phone.
    ResourceUnavail,
    /// `LINEERR_CALLUNAVAIL`: the line has no room for another call.
    CallUnavail,
    /// `LINEERR_STRUCTURETOOSMALL`.
    StructureTooSmall,
    /// `LINEERR_NOMEM`.
    NoMem,
    /// `LINEERR_NOCONFERENCE`: the call is not a conference.
    NoConference,
    /// `LINEERR_CONFERENCEFULL`.
    ConferenceFull,
    /// `LINEERR_INVALGROUPID`.
    InvalGroupId,
    /// `LINEERR_INIFILECORRUPT`: the provider's configuration is missing or wrong.
    IniFileCorrupt,
    /// `LINEERR_NODRIVER`: the provider instance is not initialised.
    NoDriver,
}

impl LineError {
    /// The `LINEERR_*` value.
    pub const fn code(self) -> u32 {
        use LineError as E;
        match self {
            E::BadDeviceId => tapi::LINEERR_BADDEVICEID,
            E::NoDevice => tapi::LINEERR_NODEVICE,
            E::InvalLineHandle => tapi::LINEERR_INVALLINEHANDLE,
            E::InvalCallHandle => tapi::LINEERR_INVALCALLHANDLE,
            E::InvalConsultCallHandle => tapi::LINEERR_INVALCONSULTCALLHANDLE,
            E::InvalConfCallHandle => tapi::LINEERR_INVALCONFCALLHANDLE,
            E::InvalAddress => tapi::LINEERR_INVALADDRESS,
            E::InvalAddressId => tapi::LINEERR_INVALADDRESSID,
            E::InvalCallState => tapi::LINEERR_INVALCALLSTATE,
            E::InvalLineState => tapi::LINEERR_INVALLINESTATE,
            E::InvalParam | E::InvalForwardList => tapi::LINEERR_INVALPARAM,
            E::InvalPointer => tapi::LINEERR_INVALPOINTER,
            E::InvalMediaMode => tapi::LINEERR_INVALMEDIAMODE,
            E::InvalDeviceClass => tapi::LINEERR_INVALDEVICECLASS,
            E::InvalTransferMode => tapi::LINEERR_INVALTRANSFERMODE,
            E::InvalDigitMode => tapi::LINEERR_INVALDIGITMODE,
            E::InvalDigits => tapi::LINEERR_INVALDIGITS,
            E::IncompatibleApiVersion => tapi::LINEERR_INCOMPATIBLEAPIVERSION,
            E::IncompatibleExtVersion => tapi::LINEERR_INCOMPATIBLEEXTVERSION,
            E::OperationUnavail => tapi::LINEERR_OPERATIONUNAVAIL,
            E::OperationFailed => tapi::LINEERR_OPERATIONFAILED,
            E::ResourceUnavail => tapi::LINEERR_RESOURCEUNAVAIL,
            E::CallUnavail => tapi::LINEERR_CALLUNAVAIL,
            E::StructureTooSmall => tapi::LINEERR_STRUCTURETOOSMALL,
            E::NoMem => tapi::LINEERR_NOMEM,
            E::NoConference => tapi::LINEERR_NOCONFERENCE,
            E::ConferenceFull => tapi::LINEERR_CONFERENCEFULL,
            E::InvalGroupId => tapi::LINEERR_INVALGROUPID,
            E::IniFileCorrupt => tapi::LINEERR_INIFILECORRUPT,
            E::NoDriver => tapi::LINEERR_NODRIVER,
            E::Allocated => tapi::LINEERR_ALLOCATED,
            E::DialPrompt => tapi::LINEERR_DIALPROMPT,
        }
    }

    /// The value a TSPI function returns (`LONG`): the code as a negative number.
    pub const fn result(self) -> i32 {
        self.code() as i32
    }

    /// The `LINEERR_*` a `CSTAErrorCode` means (table in the [module docs](self)).
    pub fn from_csta(error: &ErrorCode<'_>) -> LineError {
        fn text<'a>(t: csta_core::xml::Text<'a>) -> &'a str {
            t.raw()
        }
        match error {
            ErrorCode::Operation(o) => {
                let name = text(o.as_text());
                match name {
                    "invalidCallID" | "invalidConnectionID" => LineError::InvalCallHandle,
                    "invalidDeviceID"
                    | "invalidDestination"
                    | "invalidForwardingDestination"
                    | "invalidCalledDeviceObjectType"
                    | "invalidDestinationDeviceObject"
                    | "objectNotKnown"
                    | "notDifferentDevices"
                    | "notSameDevice" => LineError::InvalAddress,
                    "serviceNotSupported" => LineError::OperationUnavail,
                    _ if name.starts_with("privilegeViolation") => LineError::OperationUnavail,
                    "invalidParameterValue" | "atLeastOneConditionalParameterNotProvided" => {
                        LineError::InvalParam
                    }
                    _ if name.starts_with("invalid") => LineError::InvalParam,
                    _ => LineError::OperationFailed,
                }
            }
            ErrorCode::Security(_) => LineError::OperationUnavail,
            ErrorCode::StateIncompatibility(_) => LineError::InvalCallState,
            ErrorCode::SystemResourceAvailability(s) => {
                let name = text(s.as_text());
                if name.ends_with("OutOfService") {
                    LineError::InvalLineState
                } else if name.contains("Limit") || name.ends_with("Exceeded") {
                    LineError::ResourceUnavail
                } else {
                    LineError::OperationFailed
                }
            }
            ErrorCode::SubscribedResourceAvailability(_) | ErrorCode::PerformanceManagement(_) => {
                LineError::ResourceUnavail
            }
            ErrorCode::PrivateData | ErrorCode::Unspecified(_) => LineError::OperationFailed,
        }
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} (LINEERR 0x{:08X})", self, self.code())
    }
}

impl std::error::Error for LineError {}

#[cfg(test)]
mod tests {
    use super::*;
    use csta_core::message::Message;
    use csta_core::message::decode;

    fn mapped(xml: &str) -> LineError {
        let decoded = decode(xml.as_bytes()).unwrap();
        let Message::CSTAErrorCode(e) = decoded.message else {
            panic!("not an error: {xml}")
        };
        LineError::from_csta(&e)
    }

    #[test]
    fn test_csta_errors_map_to_lineerr() {
        let table = [
            ("operation", "invalidCallID", LineError::InvalCallHandle),
            (
                "operation",
                "invalidConnectionID",
                LineError::InvalCallHandle,
            ),
            ("operation", "invalidDeviceID", LineError::InvalAddress),
            ("operation", "invalidDestination", LineError::InvalAddress),
            (
                "operation",
                "privilegeViolationSpecifiedDevice",
                LineError::OperationUnavail,
            ),
            (
                "operation",
                "privilegeViolationCalledDevice",
                LineError::OperationUnavail,
            ),
            (
                "operation",
                "serviceNotSupported",
                LineError::OperationUnavail,
            ),
            ("operation", "invalidParameterValue", LineError::InvalParam),
            ("operation", "invalidRingCount", LineError::InvalParam),
            ("operation", "generic", LineError::OperationFailed),
            ("security", "generic", LineError::OperationUnavail),
            (
                "stateIncompatibility",
                "invalidConnectionState",
                LineError::InvalCallState,
            ),
            (
                "stateIncompatibility",
                "noCallToAnswer",
                LineError::InvalCallState,
            ),
            (
                "stateIncompatibility",
                "noActiveCall",
                LineError::InvalCallState,
            ),
            (
                "systemResourceAvailibility",
                "deviceOutOfService",
                LineError::InvalLineState,
            ),
            (
                "systemResourceAvailibility",
                "resourceBusy",
                LineError::OperationFailed,
            ),
            (
                "systemResourceAvailibility",
                "overallMonitorLimitExceeded",
                LineError::ResourceUnavail,
            ),
            (
                "systemResourceAvailibility",
                "generic",
                LineError::OperationFailed,
            ),
            (
                "subscribedResourceAvailability",
                "outstandingReqLimitExceeded",
                LineError::ResourceUnavail,
            ),
            (
                "subscribedResourceAvailability",
                "objectMonitorLimitExceeded",
                LineError::ResourceUnavail,
            ),
            (
                "performanceManagement",
                "performanceLimitExceeded",
                LineError::ResourceUnavail,
            ),
        ];
        for (category, value, want) in table {
            let xml = format!("<CSTAErrorCode><{category}>{value}</{category}></CSTAErrorCode>");
            assert_eq!(mapped(&xml), want, "{category}/{value}");
        }
        assert_eq!(
            mapped("<CSTAErrorCode><unspecified>x</unspecified></CSTAErrorCode>"),
            LineError::OperationFailed
        );
    }

    #[test]
    fn test_codes_are_negative_longs() {
        assert_eq!(LineError::OperationFailed.code(), 0x8000_0048);
        assert!(LineError::OperationFailed.result() < 0);
        assert_eq!(
            LineError::InvalForwardList.code(),
            LineError::InvalParam.code()
        );
    }
}
