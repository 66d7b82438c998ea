//! TAPI values the provider speaks.
//!
//! Everything `windows-sys` declares (feature `Win32_Devices_Tapi`, the TAPI 2.2
//! headers) is re-exported as it is; this module adds what only `tspi.h` has: the
//! TSPI-only messages `LINE_NEWCALL` .. `LINE_QOSINFO` and the negotiation bounds this
//! provider accepts. The constants are plain integers and compile on every target, so
//! the portable provider model uses them too.

pub use windows_sys::Win32::Devices::Tapi::*;

/// `LINE_NEWCALL` (`TSPI_MESSAGE_BASE + 0`): a call the provider created; `dwParam1`
/// is the provider's call handle, `dwParam2` points to where TAPI writes its own.
pub const LINE_NEWCALL: u32 = TSPI_MESSAGE_BASE;
/// `LINE_CALLDEVSPECIFIC` (`TSPI_MESSAGE_BASE + 1`).
pub const LINE_CALLDEVSPECIFIC: u32 = TSPI_MESSAGE_BASE + 1;
/// `LINE_CALLDEVSPECIFICFEATURE` (`TSPI_MESSAGE_BASE + 2`).
pub const LINE_CALLDEVSPECIFICFEATURE: u32 = TSPI_MESSAGE_BASE + 2;
/// `LINE_CREATEDIALOGINSTANCE` (`TSPI_MESSAGE_BASE + 3`).
pub const LINE_CREATEDIALOGINSTANCE: u32 = TSPI_MESSAGE_BASE + 3;
/// `LINE_SENDDIALOGINSTANCEDATA` (`TSPI_MESSAGE_BASE + 4`).
pub const LINE_SENDDIALOGINSTANCEDATA: u32 = TSPI_MESSAGE_BASE + 4;
/// `LINE_SENDMSPDATA` (`TSPI_MESSAGE_BASE + 5`).
pub const LINE_SENDMSPDATA: u32 = TSPI_MESSAGE_BASE + 5;
/// `LINE_QOSINFO` (`TSPI_MESSAGE_BASE + 6`).
pub const LINE_QOSINFO: u32 = TSPI_MESSAGE_BASE + 6;

/// The oldest TSPI version this provider negotiates (TAPI 1.4).
pub const TSPI_VERSION_MIN: u32 = 0x0001_0004;
/// The newest TSPI version this provider negotiates (TAPI 2.2): the structures of
/// `windows-sys` are the TAPI 2.2 layout, so no 3.x fields are written.
pub const TSPI_VERSION_MAX: u32 = 0x0002_0002;

/// The TAPI messages as `u32` (`windows-sys` declares the `LINE_*` messages as `i32`).
pub mod msg {
    use super::*;

    /// `LINE_ADDRESSSTATE`.
    pub const ADDRESSSTATE: u32 = LINE_ADDRESSSTATE as u32;
    /// `LINE_CALLINFO`.
    pub const CALLINFO: u32 = LINE_CALLINFO as u32;
    /// `LINE_CALLSTATE`.
    pub const CALLSTATE: u32 = LINE_CALLSTATE as u32;
    /// `LINE_CLOSE`.
    pub const CLOSE: u32 = LINE_CLOSE as u32;
    /// `LINE_CREATE`.
    pub const CREATE: u32 = LINE_CREATE as u32;
    /// `LINE_GENERATE`.
    pub const GENERATE: u32 = LINE_GENERATE as u32;
    /// `LINE_LINEDEVSTATE`.
    pub const LINEDEVSTATE: u32 = LINE_LINEDEVSTATE as u32;
    /// `LINE_REMOVE`.
    pub const REMOVE: u32 = LINE_REMOVE as u32;
    /// `LINE_NEWCALL`.
    pub const NEWCALL: u32 = LINE_NEWCALL;

    /// The message's name, for logs and the test host's output.
    pub fn name(msg: u32) -> &'static str {
        match msg {
            ADDRESSSTATE => "LINE_ADDRESSSTATE",
            CALLINFO => "LINE_CALLINFO",
            CALLSTATE => "LINE_CALLSTATE",
            CLOSE => "LINE_CLOSE",
            CREATE => "LINE_CREATE",
            GENERATE => "LINE_GENERATE",
            LINEDEVSTATE => "LINE_LINEDEVSTATE",
            REMOVE => "LINE_REMOVE",
            NEWCALL => "LINE_NEWCALL",
            _ => "LINE_?",
        }
    }
}

/// The name of a `LINECALLSTATE_*` value.
pub fn call_state_name(state: u32) -> &'static str {
    match state {
        LINECALLSTATE_IDLE => "IDLE",
        LINECALLSTATE_OFFERING => "OFFERING",
        LINECALLSTATE_ACCEPTED => "ACCEPTED",
        LINECALLSTATE_DIALTONE => "DIALTONE",
        LINECALLSTATE_DIALING => "DIALING",
        LINECALLSTATE_RINGBACK => "RINGBACK",
        LINECALLSTATE_BUSY => "BUSY",
        LINECALLSTATE_SPECIALINFO => "SPECIALINFO",
        LINECALLSTATE_CONNECTED => "CONNECTED",
        LINECALLSTATE_PROCEEDING => "PROCEEDING",
        LINECALLSTATE_ONHOLD => "ONHOLD",
        LINECALLSTATE_CONFERENCED => "CONFERENCED",
        LINECALLSTATE_ONHOLDPENDCONF => "ONHOLDPENDCONF",
        LINECALLSTATE_ONHOLDPENDTRANSFER => "ONHOLDPENDTRANSFER",
        LINECALLSTATE_DISCONNECTED => "DISCONNECTED",
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tspi_messages_follow_the_base() {
        assert_eq!(LINE_NEWCALL, 500);
        assert_eq!(LINE_QOSINFO, 506);
        assert_eq!(msg::CREATE, 19);
        assert_eq!(msg::REMOVE, 25);
        assert_eq!(msg::name(msg::NEWCALL), "LINE_NEWCALL");
    }

    #[test]
    fn structure_sizes_are_tapi_2_2() {
        use core::mem::size_of;
        assert_eq!(size_of::<LINEDEVCAPS>(), 268);
        assert_eq!(size_of::<LINEADDRESSCAPS>(), 228);
        assert_eq!(size_of::<LINECALLINFO>(), 324);
        assert_eq!(size_of::<LINECALLSTATUS>(), 56);
        assert_eq!(size_of::<VARSTRING>(), 24);
        assert_eq!(size_of::<LINECALLPARAMS>(), 176);
    }
}
