//! The provider's TSPI functions as a table of function pointers.
//!
//! Everything above the table (the host, the scripts) is the same on every target;
//! only how the table is filled differs:
//!
//! - [`Tspi::linked`]: the `ucsta_tsp::tspi::TSPI_*` functions linked into this
//!   program (natively, no DLL). The field types are the exports' own signatures, so
//!   this is also a compile-time check that the table matches the provider.
//! - `load::Library::table` (Windows): the DLL named on the command line, with
//!   `LoadLibraryW` and `GetProcAddress`.
//!
//! Every entry is `unsafe extern "system"`: calling one is an FFI call with the TSPI
//! contract (valid pointers, the sizes TAPI guarantees), which [`crate::host`] keeps.
#![allow(non_snake_case)]

use ucsta_tsp::tapi::{
    ASYNC_COMPLETION, HDRVCALL, HDRVLINE, HPROVIDER, HTAPICALL, HTAPILINE, LINEADDRESSCAPS,
    LINEADDRESSSTATUS, LINECALLINFO, LINECALLPARAMS, LINECALLSTATUS, LINEDEVCAPS, LINEDEVSTATUS,
    LINEEVENT, LINEFORWARDLIST, PHONEEVENT,
};

/// `TSPI_lineNegotiateTSPIVersion`.
pub type NegotiateTSPIVersion = unsafe extern "system" fn(u32, u32, u32, *mut u32) -> i32;
/// `TSPI_providerEnumDevices`.
pub type ProviderEnumDevices =
    unsafe extern "system" fn(u32, *mut u32, *mut u32, HPROVIDER, LINEEVENT, PHONEEVENT) -> i32;
/// `TSPI_providerInit`.
pub type ProviderInit =
    unsafe extern "system" fn(u32, u32, u32, u32, usize, usize, ASYNC_COMPLETION, *mut u32) -> i32;
/// `TSPI_providerShutdown`.
pub type ProviderShutdown = unsafe extern "system" fn(u32, u32) -> i32;
/// `TSPI_providerCreateLineDevice`.
pub type ProviderCreateLineDevice = unsafe extern "system" fn(usize, u32) -> i32;
/// `TSPI_lineGetDevCaps`.
pub type GetDevCaps = unsafe extern "system" fn(u32, u32, u32, *mut LINEDEVCAPS) -> i32;
/// `TSPI_lineGetAddressCaps`.
pub type GetAddressCaps =
    unsafe extern "system" fn(u32, u32, u32, u32, *mut LINEADDRESSCAPS) -> i32;
/// `TSPI_lineOpen`.
pub type Open = unsafe extern "system" fn(u32, HTAPILINE, *mut HDRVLINE, u32, LINEEVENT) -> i32;
/// `TSPI_lineClose`.
pub type Close = unsafe extern "system" fn(HDRVLINE) -> i32;
/// `TSPI_lineSetStatusMessages`.
pub type SetStatusMessages = unsafe extern "system" fn(HDRVLINE, u32, u32) -> i32;
/// `TSPI_lineSetDefaultMediaDetection`.
pub type SetDefaultMediaDetection = unsafe extern "system" fn(HDRVLINE, u32) -> i32;
/// `TSPI_lineGetLineDevStatus`.
pub type GetLineDevStatus = unsafe extern "system" fn(HDRVLINE, *mut LINEDEVSTATUS) -> i32;
/// `TSPI_lineGetAddressStatus`.
pub type GetAddressStatus = unsafe extern "system" fn(HDRVLINE, u32, *mut LINEADDRESSSTATUS) -> i32;
/// `TSPI_lineGetCallInfo`.
pub type GetCallInfo = unsafe extern "system" fn(HDRVCALL, *mut LINECALLINFO) -> i32;
/// `TSPI_lineGetCallStatus`.
pub type GetCallStatus = unsafe extern "system" fn(HDRVCALL, *mut LINECALLSTATUS) -> i32;
/// `TSPI_lineCloseCall`.
pub type CloseCall = unsafe extern "system" fn(HDRVCALL) -> i32;
/// `TSPI_lineMakeCall`.
pub type MakeCall = unsafe extern "system" fn(
    u32,
    HDRVLINE,
    HTAPICALL,
    *mut HDRVCALL,
    *const u16,
    u32,
    *const LINECALLPARAMS,
) -> i32;
/// `TSPI_lineDial`, `TSPI_lineBlindTransfer`, `TSPI_lineRedirect`: a call and a number.
pub type CallAndNumber = unsafe extern "system" fn(u32, HDRVCALL, *const u16, u32) -> i32;
/// `TSPI_lineAnswer`, `TSPI_lineDrop`: a call and user-user information.
pub type CallAndUserInfo = unsafe extern "system" fn(u32, HDRVCALL, *const u8, u32) -> i32;
/// `TSPI_lineHold`, `TSPI_lineUnhold`, `TSPI_lineRemoveFromConference`.
pub type CallOnly = unsafe extern "system" fn(u32, HDRVCALL) -> i32;
/// `TSPI_lineSwapHold`, `TSPI_lineAddToConference`: two calls.
pub type TwoCalls = unsafe extern "system" fn(u32, HDRVCALL, HDRVCALL) -> i32;
/// `TSPI_lineSetupTransfer`, `TSPI_linePrepareAddToConference`: a call gets a
/// consultation call.
pub type Consult = unsafe extern "system" fn(
    u32,
    HDRVCALL,
    HTAPICALL,
    *mut HDRVCALL,
    *const LINECALLPARAMS,
) -> i32;
/// `TSPI_lineCompleteTransfer`.
pub type CompleteTransfer =
    unsafe extern "system" fn(u32, HDRVCALL, HDRVCALL, HTAPICALL, *mut HDRVCALL, u32) -> i32;
/// `TSPI_lineSetupConference`.
pub type SetupConference = unsafe extern "system" fn(
    u32,
    HDRVCALL,
    HDRVLINE,
    HTAPICALL,
    *mut HDRVCALL,
    HTAPICALL,
    *mut HDRVCALL,
    u32,
    *const LINECALLPARAMS,
) -> i32;
/// `TSPI_linePickup`.
pub type Pickup = unsafe extern "system" fn(
    u32,
    HDRVLINE,
    u32,
    HTAPICALL,
    *mut HDRVCALL,
    *const u16,
    *const u16,
) -> i32;
/// `TSPI_lineForward`.
pub type Forward = unsafe extern "system" fn(
    u32,
    HDRVLINE,
    u32,
    u32,
    *const LINEFORWARDLIST,
    u32,
    HTAPICALL,
    *mut HDRVCALL,
    *const LINECALLPARAMS,
) -> i32;
/// `TSPI_lineGenerateDigits`.
pub type GenerateDigits = unsafe extern "system" fn(HDRVCALL, u32, u32, *const u16, u32) -> i32;

/// The TSPI functions the host calls, one field per export (named after it without
/// the `TSPI_` prefix).
#[derive(Clone, Copy)]
pub struct Tspi {
    /// `TSPI_lineNegotiateTSPIVersion`.
    pub lineNegotiateTSPIVersion: NegotiateTSPIVersion,
    /// `TSPI_providerEnumDevices`.
    pub providerEnumDevices: ProviderEnumDevices,
    /// `TSPI_providerInit`.
    pub providerInit: ProviderInit,
    /// `TSPI_providerShutdown`.
    pub providerShutdown: ProviderShutdown,
    /// `TSPI_providerCreateLineDevice`.
    pub providerCreateLineDevice: ProviderCreateLineDevice,
    /// `TSPI_lineGetDevCaps`.
    pub lineGetDevCaps: GetDevCaps,
    /// `TSPI_lineGetAddressCaps`.
    pub lineGetAddressCaps: GetAddressCaps,
    /// `TSPI_lineOpen`.
    pub lineOpen: Open,
    /// `TSPI_lineClose`.
    pub lineClose: Close,
    /// `TSPI_lineSetStatusMessages`.
    pub lineSetStatusMessages: SetStatusMessages,
    /// `TSPI_lineSetDefaultMediaDetection`.
    pub lineSetDefaultMediaDetection: SetDefaultMediaDetection,
    /// `TSPI_lineGetLineDevStatus`.
    pub lineGetLineDevStatus: GetLineDevStatus,
    /// `TSPI_lineGetAddressStatus`.
    pub lineGetAddressStatus: GetAddressStatus,
    /// `TSPI_lineGetCallInfo`.
    pub lineGetCallInfo: GetCallInfo,
    /// `TSPI_lineGetCallStatus`.
    pub lineGetCallStatus: GetCallStatus,
    /// `TSPI_lineCloseCall`.
    pub lineCloseCall: CloseCall,
    /// `TSPI_lineMakeCall`.
    pub lineMakeCall: MakeCall,
    /// `TSPI_lineDial`.
    pub lineDial: CallAndNumber,
    /// `TSPI_lineAnswer`.
    pub lineAnswer: CallAndUserInfo,
    /// `TSPI_lineDrop`.
    pub lineDrop: CallAndUserInfo,
    /// `TSPI_lineHold`.
    pub lineHold: CallOnly,
    /// `TSPI_lineUnhold`.
    pub lineUnhold: CallOnly,
    /// `TSPI_lineSwapHold`.
    pub lineSwapHold: TwoCalls,
    /// `TSPI_lineBlindTransfer`.
    pub lineBlindTransfer: CallAndNumber,
    /// `TSPI_lineRedirect`.
    pub lineRedirect: CallAndNumber,
    /// `TSPI_lineSetupTransfer`.
    pub lineSetupTransfer: Consult,
    /// `TSPI_lineCompleteTransfer`.
    pub lineCompleteTransfer: CompleteTransfer,
    /// `TSPI_lineSetupConference`.
    pub lineSetupConference: SetupConference,
    /// `TSPI_linePrepareAddToConference`.
    pub linePrepareAddToConference: Consult,
    /// `TSPI_lineAddToConference`.
    pub lineAddToConference: TwoCalls,
    /// `TSPI_lineRemoveFromConference`.
    pub lineRemoveFromConference: CallOnly,
    /// `TSPI_linePickup`.
    pub linePickup: Pickup,
    /// `TSPI_lineForward`.
    pub lineForward: Forward,
    /// `TSPI_lineGenerateDigits`.
    pub lineGenerateDigits: GenerateDigits,
}

impl std::fmt::Debug for Tspi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tspi").finish_non_exhaustive()
    }
}

/// Expands `$m! { field, field, .. }` with every entry of [`Tspi`], so the linked
/// and the loaded tables name the same functions.
macro_rules! for_each_tspi {
    ($m:ident) => {
        $m! {
            lineNegotiateTSPIVersion,
            providerEnumDevices,
            providerInit,
            providerShutdown,
            providerCreateLineDevice,
            lineGetDevCaps,
            lineGetAddressCaps,
            lineOpen,
            lineClose,
            lineSetStatusMessages,
            lineSetDefaultMediaDetection,
            lineGetLineDevStatus,
            lineGetAddressStatus,
            lineGetCallInfo,
            lineGetCallStatus,
            lineCloseCall,
            lineMakeCall,
            lineDial,
            lineAnswer,
            lineDrop,
            lineHold,
            lineUnhold,
            lineSwapHold,
            lineBlindTransfer,
            lineRedirect,
            lineSetupTransfer,
            lineCompleteTransfer,
            lineSetupConference,
            linePrepareAddToConference,
            lineAddToConference,
            lineRemoveFromConference,
            linePickup,
            lineForward,
            lineGenerateDigits,
        }
    };
}
#[allow(unused_imports)]
pub(crate) use for_each_tspi;

impl Tspi {
    /// The table of the provider linked into this program (`ucsta_tsp::tspi`).
    pub fn linked() -> Tspi {
        use ucsta_tsp::tspi as t;
        Tspi {
            lineNegotiateTSPIVersion: t::TSPI_lineNegotiateTSPIVersion,
            providerEnumDevices: t::TSPI_providerEnumDevices,
            providerInit: t::TSPI_providerInit,
            providerShutdown: t::TSPI_providerShutdown,
            providerCreateLineDevice: t::TSPI_providerCreateLineDevice,
            lineGetDevCaps: t::TSPI_lineGetDevCaps,
            lineGetAddressCaps: t::TSPI_lineGetAddressCaps,
            lineOpen: t::TSPI_lineOpen,
            lineClose: t::TSPI_lineClose,
            lineSetStatusMessages: t::TSPI_lineSetStatusMessages,
            lineSetDefaultMediaDetection: t::TSPI_lineSetDefaultMediaDetection,
            lineGetLineDevStatus: t::TSPI_lineGetLineDevStatus,
            lineGetAddressStatus: t::TSPI_lineGetAddressStatus,
            lineGetCallInfo: t::TSPI_lineGetCallInfo,
            lineGetCallStatus: t::TSPI_lineGetCallStatus,
            lineCloseCall: t::TSPI_lineCloseCall,
            lineMakeCall: t::TSPI_lineMakeCall,
            lineDial: t::TSPI_lineDial,
            lineAnswer: t::TSPI_lineAnswer,
            lineDrop: t::TSPI_lineDrop,
            lineHold: t::TSPI_lineHold,
            lineUnhold: t::TSPI_lineUnhold,
            lineSwapHold: t::TSPI_lineSwapHold,
            lineBlindTransfer: t::TSPI_lineBlindTransfer,
            lineRedirect: t::TSPI_lineRedirect,
            lineSetupTransfer: t::TSPI_lineSetupTransfer,
            lineCompleteTransfer: t::TSPI_lineCompleteTransfer,
            lineSetupConference: t::TSPI_lineSetupConference,
            linePrepareAddToConference: t::TSPI_linePrepareAddToConference,
            lineAddToConference: t::TSPI_lineAddToConference,
            lineRemoveFromConference: t::TSPI_lineRemoveFromConference,
            linePickup: t::TSPI_linePickup,
            lineForward: t::TSPI_lineForward,
            lineGenerateDigits: t::TSPI_lineGenerateDigits,
        }
    }

    /// The export names the table needs (`TSPI_` + the field's name).
    pub fn names() -> Vec<&'static str> {
        macro_rules! names {
            ($($f:ident),* $(,)?) => {
                vec![$(concat!("TSPI_", stringify!($f))),*]
            };
        }
        for_each_tspi!(names)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_every_entry_is_a_provider_export() {
        let names = Tspi::names();
        assert_eq!(names.len(), 34);
        for name in &names {
            assert!(
                ucsta_tsp::tspi::EXPORTS.contains(name),
                "{name} is not in ucsta_tsp::tspi::EXPORTS"
            );
        }
    }
}
