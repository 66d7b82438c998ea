//! The TSPI's variable-size structures, filled within the caller's `dwTotalSize`.
//!
//! Every structure TAPI hands the provider to fill (`LINEDEVCAPS`, `LINEADDRESSCAPS`,
//! `LINEDEVSTATUS`, `LINEADDRESSSTATUS`, `LINECALLINFO`, `LINECALLSTATUS`,
//! `VARSTRING`) is a fixed part followed by a variable part that the fixed part points
//! into by size and offset. The caller owns `dwTotalSize`. The rules:
//!
//! - the fixed part is the one of the negotiated TSPI version (a TAPI 1.4 caller's
//!   `LINEDEVCAPS` ends before the 2.0 fields); fields beyond it are not written;
//! - a buffer smaller than the fixed part is `LINEERR_STRUCTURETOOSMALL` (and
//!   `dwNeededSize` is still set when the buffer can hold it);
//! - otherwise the fixed part is written, then each string or block of the variable
//!   part if it fits whole (one that does not fit gets size and offset 0);
//!   `dwNeededSize` is the size with everything, `dwUsedSize` what was written.
//!
//! The functions here fill a `&mut [u8]` of exactly `dwTotalSize` bytes, so they are
//! tested natively; the exports make that slice from TAPI's pointer.

// Fields are set one by one, in the order the variable part is written.
#![allow(clippy::field_reassign_with_default)]

use core::mem::{offset_of, size_of};

use windows_sys::Win32::Devices::Tapi::{
    LINEADDRESSCAPS, LINEADDRESSSTATUS, LINECALLINFO, LINECALLSTATUS, LINEDEVCAPS, LINEDEVSTATUS,
    LINEFORWARD, STRINGFORMAT_BINARY, STRINGFORMAT_UNICODE, VARSTRING,
};

use crate::provider::{
    AddressCaps, AddressStatus, CallInfo, CallStatus, LineDevCaps, LineDevStatus, LineError,
    PartyInfo,
};

/// TSPI version 2.0.
const V2_0: u32 = 0x0002_0000;
/// TSPI version 2.2.
const V2_2: u32 = 0x0002_0002;

/// Structures of plain `u32`s (and `u32` sub-structures), packed: no padding, no
/// pointers, any bit pattern valid.
///
/// # Safety
///
/// Only for such structures.
unsafe trait Plain: Copy {}

// SAFETY: all of these are `#[repr(C, packed(1))]` structures of `u32` fields and of
// structures of `u16`/`u32` fields (LINEDIALPARAMS, SYSTEMTIME, GUID).
unsafe impl Plain for LINEDEVCAPS {}
// SAFETY: as above.
unsafe impl Plain for LINEADDRESSCAPS {}
// SAFETY: as above.
unsafe impl Plain for LINEDEVSTATUS {}
// SAFETY: as above.
unsafe impl Plain for LINEADDRESSSTATUS {}
// SAFETY: as above.
unsafe impl Plain for LINECALLINFO {}
// SAFETY: as above.
unsafe impl Plain for LINECALLSTATUS {}
// SAFETY: as above.
unsafe impl Plain for VARSTRING {}
// SAFETY: as above.
unsafe impl Plain for LINEFORWARD {}

fn bytes_of<T: Plain>(value: &T) -> &[u8] {
    // SAFETY: `T: Plain` has no padding, so all `size_of::<T>()` bytes behind the
    // reference are initialised, and `u8` has no alignment requirement.
    unsafe { core::slice::from_raw_parts((value as *const T).cast::<u8>(), size_of::<T>()) }
}

/// The variable part being written.
struct Var<'a> {
    buf: &'a mut [u8],
    fixed: usize,
    /// End of what was written (fixed part included).
    used: usize,
    /// The size with everything (fixed part included).
    needed: usize,
}

impl<'a> Var<'a> {
    fn new(buf: &'a mut [u8], fixed: usize) -> Result<Var<'a>, LineError> {
        if buf.len() < fixed {
            return Err(LineError::StructureTooSmall);
        }
        Ok(Var {
            buf,
            fixed,
            used: fixed,
            needed: fixed,
        })
    }

    /// Appends `bytes` aligned to `align`; returns (size, offset), (0, 0) when it does
    /// not fit.
    fn block(&mut self, bytes: &[u8], align: usize) -> (u32, u32) {
        if bytes.is_empty() {
            return (0, 0);
        }
        let pad = |n: usize| n.div_ceil(align) * align;
        let at_needed = pad(self.needed);
        self.needed = at_needed + bytes.len();
        let at = pad(self.used);
        if at + bytes.len() > self.buf.len() {
            return (0, 0);
        }
        self.buf[self.used..at].fill(0);
        self.buf[at..at + bytes.len()].copy_from_slice(bytes);
        self.used = at + bytes.len();
        (bytes.len() as u32, at as u32)
    }

    /// A string as UTF-16 with its terminating NUL; `None` and "" write nothing.
    fn string(&mut self, s: Option<&str>) -> (u32, u32) {
        match s {
            Some(s) if !s.is_empty() => {
                let bytes: Vec<u8> = s
                    .encode_utf16()
                    .chain([0])
                    .flat_map(u16::to_le_bytes)
                    .collect();
                self.block(&bytes, 2)
            }
            _ => (0, 0),
        }
    }

    /// A list of strings, each NUL-terminated, ending with an empty one.
    fn multi(&mut self, list: &[&str]) -> (u32, u32) {
        if list.is_empty() {
            return (0, 0);
        }
        let bytes: Vec<u8> = list
            .iter()
            .flat_map(|s| s.encode_utf16().chain([0]))
            .chain([0])
            .flat_map(u16::to_le_bytes)
            .collect();
        self.block(&bytes, 2)
    }

    /// Writes the fixed part (its first `fixed` bytes), keeping the caller's
    /// `dwTotalSize` and setting `dwNeededSize` and `dwUsedSize`.
    fn finish<T: Plain>(self, value: &T) -> usize {
        let bytes = bytes_of(value);
        let total = self.buf[..4].to_vec();
        self.buf[..self.fixed].copy_from_slice(&bytes[..self.fixed]);
        self.buf[..4].copy_from_slice(&total);
        self.buf[4..8].copy_from_slice(&(self.needed as u32).to_le_bytes());
        self.buf[8..12].copy_from_slice(&(self.used as u32).to_le_bytes());
        self.used
    }
}

/// Sets `dwNeededSize` in a buffer too small for the fixed part, when it can.
pub(crate) fn too_small(buf: &mut [u8], needed: usize) -> LineError {
    if buf.len() >= 12 {
        buf[4..8].copy_from_slice(&(needed as u32).to_le_bytes());
        buf[8..12].copy_from_slice(&0u32.to_le_bytes());
    }
    LineError::StructureTooSmall
}

/// The fixed size of `LINEDEVCAPS` at `version`.
pub(crate) fn dev_caps_fixed(version: u32) -> usize {
    if version >= V2_2 {
        size_of::<LINEDEVCAPS>()
    } else if version >= V2_0 {
        offset_of!(LINEDEVCAPS, PermanentLineGuid)
    } else {
        offset_of!(LINEDEVCAPS, dwSettableDevStatus)
    }
}

/// Fills `LINEDEVCAPS`.
///
/// # Errors
///
/// `LINEERR_STRUCTURETOOSMALL`.
pub(crate) fn dev_caps(
    buf: &mut [u8],
    version: u32,
    caps: &LineDevCaps,
) -> Result<usize, LineError> {
    let fixed = dev_caps_fixed(version);
    let mut v = match Var::new(buf, fixed) {
        Ok(v) => v,
        Err(_) => return Err(too_small(buf, fixed)),
    };
    let mut s = LINEDEVCAPS::default();
    (s.dwProviderInfoSize, s.dwProviderInfoOffset) = v.string(Some(&caps.provider_info));
    (s.dwSwitchInfoSize, s.dwSwitchInfoOffset) = v.string(Some(&caps.switch_info));
    s.dwPermanentLineID = caps.permanent_line_id;
    (s.dwLineNameSize, s.dwLineNameOffset) = v.string(Some(&caps.line_name));
    s.dwStringFormat = STRINGFORMAT_UNICODE;
    s.dwAddressModes = caps.address_modes;
    s.dwNumAddresses = caps.num_addresses;
    s.dwBearerModes = caps.bearer_modes;
    s.dwMediaModes = caps.media_modes;
    s.dwGenerateDigitModes = caps.generate_digit_modes;
    s.dwDevCapFlags = caps.dev_cap_flags;
    s.dwMaxNumActiveCalls = caps.max_num_active_calls;
    s.dwAnswerMode = caps.answer_mode;
    s.dwLineStates = caps.line_states;
    s.dwLineFeatures = caps.line_features;
    if version >= V2_0 {
        (s.dwDeviceClassesSize, s.dwDeviceClassesOffset) = v.multi(&caps.device_classes);
    }
    if version >= V2_2 {
        // A GUID stable for the line: the permanent provider and line IDs inside.
        s.PermanentLineGuid.data1 = 0x7563_7374; // "ucst"
        s.PermanentLineGuid.data2 = 0x6174;
        s.PermanentLineGuid.data3 = 0x7370;
        s.PermanentLineGuid.data4[..4].copy_from_slice(&caps.permanent_line_id.to_le_bytes());
    }
    Ok(v.finish(&s))
}

/// The fixed size of `LINEADDRESSCAPS` at `version`.
pub(crate) fn address_caps_fixed(version: u32) -> usize {
    if version >= V2_0 {
        size_of::<LINEADDRESSCAPS>()
    } else {
        offset_of!(LINEADDRESSCAPS, dwPredictiveAutoTransferStates)
    }
}

/// Fills `LINEADDRESSCAPS`.
///
/// # Errors
///
/// `LINEERR_STRUCTURETOOSMALL`.
pub(crate) fn address_caps(
    buf: &mut [u8],
    version: u32,
    caps: &AddressCaps,
) -> Result<usize, LineError> {
    let fixed = address_caps_fixed(version);
    let mut v = match Var::new(buf, fixed) {
        Ok(v) => v,
        Err(_) => return Err(too_small(buf, fixed)),
    };
    let mut s = LINEADDRESSCAPS::default();
    s.dwLineDeviceID = caps.line_device_id;
    (s.dwAddressSize, s.dwAddressOffset) = v.string(Some(&caps.address));
    s.dwAddressSharing = caps.address_sharing;
    s.dwAddressStates = caps.address_states;
    s.dwCallInfoStates = caps.call_info_states;
    s.dwCallerIDFlags = caps.party_id_flags;
    s.dwCalledIDFlags = caps.party_id_flags;
    s.dwConnectedIDFlags = caps.party_id_flags;
    s.dwRedirectionIDFlags = caps.party_id_flags;
    s.dwRedirectingIDFlags = caps.party_id_flags;
    s.dwCallStates = caps.call_states;
    s.dwDialToneModes = caps.dial_tone_modes;
    s.dwBusyModes = caps.busy_modes;
    s.dwSpecialInfo = caps.special_info;
    s.dwDisconnectModes = caps.disconnect_modes;
    s.dwMaxNumActiveCalls = caps.max_num_active_calls;
    s.dwMaxNumOnHoldCalls = caps.max_num_on_hold_calls;
    s.dwMaxNumOnHoldPendingCalls = caps.max_num_on_hold_pending_calls;
    s.dwMaxNumConference = caps.max_num_conference;
    s.dwMaxNumTransConf = caps.max_num_trans_conf;
    s.dwAddrCapFlags = caps.addr_cap_flags;
    s.dwCallFeatures = caps.call_features;
    s.dwRemoveFromConfCaps = caps.remove_from_conf_caps;
    s.dwRemoveFromConfState = caps.remove_from_conf_state;
    s.dwTransferModes = caps.transfer_modes;
    s.dwForwardModes = caps.forward_modes;
    s.dwMaxForwardEntries = caps.max_forward_entries;
    s.dwMaxSpecificEntries = caps.max_specific_entries;
    s.dwMinFwdNumRings = caps.min_fwd_num_rings;
    s.dwMaxFwdNumRings = caps.max_fwd_num_rings;
    s.dwAddressFeatures = caps.address_features;
    if version >= V2_0 {
        (s.dwDeviceClassesSize, s.dwDeviceClassesOffset) = v.multi(&caps.device_classes);
        s.dwCallFeatures2 = caps.call_features2;
        s.dwAvailableMediaModes = caps.available_media_modes;
    }
    Ok(v.finish(&s))
}

/// The fixed size of `LINEDEVSTATUS` at `version`.
pub(crate) fn line_dev_status_fixed(version: u32) -> usize {
    if version >= V2_0 {
        size_of::<LINEDEVSTATUS>()
    } else {
        offset_of!(LINEDEVSTATUS, dwAvailableMediaModes)
    }
}

/// Fills `LINEDEVSTATUS` (TAPI fills `dwNumOpens`, `dwOpenMediaModes` and `AppInfo`
/// itself).
///
/// # Errors
///
/// `LINEERR_STRUCTURETOOSMALL`.
pub(crate) fn line_dev_status(
    buf: &mut [u8],
    version: u32,
    status: &LineDevStatus,
) -> Result<usize, LineError> {
    let fixed = line_dev_status_fixed(version);
    let v = match Var::new(buf, fixed) {
        Ok(v) => v,
        Err(_) => return Err(too_small(buf, fixed)),
    };
    let mut s = LINEDEVSTATUS::default();
    s.dwNumActiveCalls = status.num_active_calls;
    s.dwNumOnHoldCalls = status.num_on_hold_calls;
    s.dwNumOnHoldPendCalls = status.num_on_hold_pend_calls;
    s.dwLineFeatures = status.line_features;
    s.dwDevStatusFlags = status.dev_status_flags;
    s.dwRoamMode = windows_sys::Win32::Devices::Tapi::LINEROAMMODE_UNAVAIL;
    if version >= V2_0 {
        s.dwAvailableMediaModes = status.available_media_modes;
    }
    Ok(v.finish(&s))
}

/// Fills `LINEADDRESSSTATUS`, the forwarding as a `LINEFORWARD` array whose strings
/// follow it (offsets from the start of the structure).
///
/// # Errors
///
/// `LINEERR_STRUCTURETOOSMALL`.
pub(crate) fn address_status(buf: &mut [u8], status: &AddressStatus) -> Result<usize, LineError> {
    let fixed = size_of::<LINEADDRESSSTATUS>();
    let total = buf.len();
    let mut v = match Var::new(buf, fixed) {
        Ok(v) => v,
        Err(_) => return Err(too_small(buf, fixed)),
    };
    let mut s = LINEADDRESSSTATUS::default();
    s.dwNumInUse = status.num_in_use;
    s.dwNumActiveCalls = status.num_active_calls;
    s.dwNumOnHoldCalls = status.num_on_hold_calls;
    s.dwNumOnHoldPendCalls = status.num_on_hold_pend_calls;
    s.dwAddressFeatures = status.address_features;
    s.dwNumRingsNoAnswer = status.num_rings_no_answer;
    if !status.forward.is_empty() {
        // The array first (its size is known), then the strings it points to.
        let entries = status.forward.len();
        let array_len = entries * size_of::<LINEFORWARD>();
        let placeholder = vec![0u8; array_len];
        let (size, offset) = v.block(&placeholder, 4);
        let mut forwards = Vec::with_capacity(entries);
        for entry in &status.forward {
            let mut f = LINEFORWARD {
                dwForwardMode: entry.mode,
                ..Default::default()
            };
            (f.dwCallerAddressSize, f.dwCallerAddressOffset) = v.string(entry.caller.as_deref());
            (f.dwDestAddressSize, f.dwDestAddressOffset) = v.string(entry.dest.as_deref());
            forwards.push(f);
        }
        s.dwForwardNumEntries = entries as u32;
        if size != 0 {
            s.dwForwardSize = size;
            s.dwForwardOffset = offset;
            let at = offset as usize;
            for (i, f) in forwards.iter().enumerate() {
                let start = at + i * size_of::<LINEFORWARD>();
                v.buf[start..start + size_of::<LINEFORWARD>()].copy_from_slice(bytes_of(f));
            }
        }
    }
    debug_assert!(v.used <= total);
    Ok(v.finish(&s))
}

/// The fixed size of `LINECALLINFO` at `version`.
pub(crate) fn call_info_fixed(version: u32) -> usize {
    if version >= V2_0 {
        size_of::<LINECALLINFO>()
    } else {
        offset_of!(LINECALLINFO, dwCallTreatment)
    }
}

/// Fills `LINECALLINFO` (TAPI fills `hLine`, `dwNumOwners`, `dwNumMonitors`,
/// `AppName`, `dwCallPrivilege` itself). `line_device_id` and `address_id` come with
/// the call info.
///
/// # Errors
///
/// `LINEERR_STRUCTURETOOSMALL`.
pub(crate) fn call_info(buf: &mut [u8], version: u32, info: &CallInfo) -> Result<usize, LineError> {
    let fixed = call_info_fixed(version);
    let mut v = match Var::new(buf, fixed) {
        Ok(v) => v,
        Err(_) => return Err(too_small(buf, fixed)),
    };
    let mut s = LINECALLINFO::default();
    s.dwLineDeviceID = info.line_device_id;
    s.dwAddressID = 0;
    s.dwBearerMode = info.bearer_mode;
    s.dwMediaMode = info.media_mode;
    s.dwAppSpecific = info.app_specific;
    s.dwCallID = info.call_id;
    s.dwRelatedCallID = info.related_call_id;
    s.dwCallParamFlags = info.call_param_flags;
    s.dwCallStates = info.call_states;
    s.dwOrigin = info.origin;
    s.dwReason = info.reason;
    s.dwTrunk = 0xFFFF_FFFF;
    let mut party = |p: &PartyInfo| -> (u32, (u32, u32), (u32, u32)) {
        (
            p.flags,
            v.string(p.number.as_deref()),
            v.string(p.name.as_deref()),
        )
    };
    let caller = party(&info.caller);
    let called = party(&info.called);
    let connected = party(&info.connected);
    let redirection = party(&info.redirection);
    let redirecting = party(&info.redirecting);
    (
        s.dwCallerIDFlags,
        (s.dwCallerIDSize, s.dwCallerIDOffset),
        (s.dwCallerIDNameSize, s.dwCallerIDNameOffset),
    ) = caller;
    (
        s.dwCalledIDFlags,
        (s.dwCalledIDSize, s.dwCalledIDOffset),
        (s.dwCalledIDNameSize, s.dwCalledIDNameOffset),
    ) = called;
    (
        s.dwConnectedIDFlags,
        (s.dwConnectedIDSize, s.dwConnectedIDOffset),
        (s.dwConnectedIDNameSize, s.dwConnectedIDNameOffset),
    ) = connected;
    (
        s.dwRedirectionIDFlags,
        (s.dwRedirectionIDSize, s.dwRedirectionIDOffset),
        (s.dwRedirectionIDNameSize, s.dwRedirectionIDNameOffset),
    ) = redirection;
    (
        s.dwRedirectingIDFlags,
        (s.dwRedirectingIDSize, s.dwRedirectingIDOffset),
        (s.dwRedirectingIDNameSize, s.dwRedirectingIDNameOffset),
    ) = redirecting;
    (s.dwDevSpecificSize, s.dwDevSpecificOffset) = v.string(info.csta_call_id.as_deref());
    Ok(v.finish(&s))
}

/// The fixed size of `LINECALLSTATUS` at `version`.
pub(crate) fn call_status_fixed(version: u32) -> usize {
    if version >= V2_0 {
        size_of::<LINECALLSTATUS>()
    } else {
        offset_of!(LINECALLSTATUS, dwCallFeatures2)
    }
}

/// Fills `LINECALLSTATUS` (TAPI fills `dwCallPrivilege`). `entered` is when the call
/// entered its state (`tStateEntryTime`, TAPI 2.0), as a UTC `SYSTEMTIME`.
///
/// # Errors
///
/// `LINEERR_STRUCTURETOOSMALL`.
pub(crate) fn call_status(
    buf: &mut [u8],
    version: u32,
    status: &CallStatus,
    entered: windows_sys::Win32::Foundation::SYSTEMTIME,
) -> Result<usize, LineError> {
    let fixed = call_status_fixed(version);
    let v = match Var::new(buf, fixed) {
        Ok(v) => v,
        Err(_) => return Err(too_small(buf, fixed)),
    };
    let mut s = LINECALLSTATUS::default();
    s.dwCallState = status.state;
    s.dwCallStateMode = status.state_mode;
    s.dwCallFeatures = status.features;
    if version >= V2_0 {
        s.dwCallFeatures2 = status.features2;
        s.tStateEntryTime = entered;
    }
    Ok(v.finish(&s))
}

/// Fills a `VARSTRING` with a `DWORD` (`STRINGFORMAT_BINARY`), as lineGetID answers
/// `tapi/line`.
///
/// # Errors
///
/// `LINEERR_STRUCTURETOOSMALL`.
pub(crate) fn var_dword(buf: &mut [u8], value: u32) -> Result<usize, LineError> {
    let fixed = size_of::<VARSTRING>();
    let mut v = match Var::new(buf, fixed) {
        Ok(v) => v,
        Err(_) => return Err(too_small(buf, fixed)),
    };
    let mut s = VARSTRING {
        dwStringFormat: STRINGFORMAT_BINARY,
        ..Default::default()
    };
    (s.dwStringSize, s.dwStringOffset) = v.block(&value.to_le_bytes(), 4);
    Ok(v.finish(&s))
}

/// Reads a `u32` at `offset` of a structure's bytes.
pub(crate) fn read_u32(buf: &[u8], offset: usize) -> Option<u32> {
    buf.get(offset..offset + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

/// Reads a UTF-16 string of `size` bytes at `offset` of a structure of `buf.len()`
/// bytes (a trailing NUL is dropped); `None` when it lies outside or is not UTF-16.
pub(crate) fn read_string(buf: &[u8], size: u32, offset: u32) -> Option<String> {
    if size == 0 {
        return Some(String::new());
    }
    let (size, offset) = (size as usize, offset as usize);
    let bytes = buf.get(offset..offset.checked_add(size)?)?;
    let units: Vec<u16> = bytes
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .take_while(|u| *u != 0)
        .collect();
    String::from_utf16(&units).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::ForwardEntry;

    fn caps() -> LineDevCaps {
        LineDevCaps {
            provider_info: "uCSTA TSP".into(),
            switch_info: "server".into(),
            permanent_line_id: 0x1234,
            line_name: "Line 201".into(),
            address_modes: 1,
            num_addresses: 1,
            bearer_modes: 1,
            media_modes: 0x10,
            generate_digit_modes: 2,
            dev_cap_flags: 0,
            max_num_active_calls: 1,
            answer_mode: 4,
            line_states: 0xC0,
            line_features: 8,
            device_classes: vec!["tapi/line"],
        }
    }

    fn field(buf: &[u8], offset: usize) -> u32 {
        read_u32(buf, offset).unwrap()
    }

    fn total(len: usize) -> Vec<u8> {
        let mut buf = vec![0xEE; len];
        if len >= 4 {
            buf[..4].copy_from_slice(&(len as u32).to_le_bytes());
        }
        buf
    }

    #[test]
    fn test_dev_caps_sizes_zero_small_exact_large() {
        let c = caps();
        let strings = ["uCSTA TSP", "server", "Line 201"]
            .iter()
            .map(|s| (s.len() + 1) * 2)
            .sum::<usize>()
            + ("tapi/line".len() + 2) * 2;
        let full = size_of::<LINEDEVCAPS>() + strings;
        // Zero and too small: refused, dwNeededSize set when it fits.
        assert_eq!(
            dev_caps(&mut [], V2_2, &c),
            Err(LineError::StructureTooSmall)
        );
        let mut small = total(100);
        assert_eq!(
            dev_caps(&mut small, V2_2, &c),
            Err(LineError::StructureTooSmall)
        );
        assert_eq!(field(&small, 4) as usize, size_of::<LINEDEVCAPS>());
        // Exactly the fixed part: written, no strings, needed says how much more.
        let mut exact = total(size_of::<LINEDEVCAPS>());
        assert_eq!(dev_caps(&mut exact, V2_2, &c), Ok(size_of::<LINEDEVCAPS>()));
        assert_eq!(field(&exact, 0) as usize, size_of::<LINEDEVCAPS>());
        assert_eq!(field(&exact, 4) as usize, full);
        assert_eq!(field(&exact, 8) as usize, size_of::<LINEDEVCAPS>());
        assert_eq!(field(&exact, offset_of!(LINEDEVCAPS, dwLineNameSize)), 0);
        assert_eq!(
            field(&exact, offset_of!(LINEDEVCAPS, dwPermanentLineID)),
            0x1234
        );
        // Large: everything.
        let mut large = total(2048);
        assert_eq!(dev_caps(&mut large, V2_2, &c), Ok(full));
        assert_eq!(field(&large, 0), 2048);
        assert_eq!(field(&large, 4) as usize, full);
        let size = field(&large, offset_of!(LINEDEVCAPS, dwLineNameSize));
        let offset = field(&large, offset_of!(LINEDEVCAPS, dwLineNameOffset));
        assert_eq!(
            read_string(&large, size, offset).as_deref(),
            Some("Line 201")
        );
        let size = field(&large, offset_of!(LINEDEVCAPS, dwDeviceClassesSize));
        let offset = field(&large, offset_of!(LINEDEVCAPS, dwDeviceClassesOffset)) as usize;
        assert_eq!(size as usize, ("tapi/line".len() + 2) * 2);
        assert_eq!(
            &large[offset + size as usize - 4..offset + size as usize],
            &[0, 0, 0, 0]
        );
        // Bytes past what was used are left alone.
        assert!(large[full..].iter().all(|b| *b == 0xEE));
    }

    #[test]
    fn test_partial_variable_part_writes_what_fits_whole() {
        let c = caps();
        // Room for the fixed part and the first string only.
        let len = size_of::<LINEDEVCAPS>() + ("uCSTA TSP".len() + 1) * 2 + 4;
        let mut buf = total(len);
        let used = dev_caps(&mut buf, V2_2, &c).unwrap();
        assert_eq!(used, size_of::<LINEDEVCAPS>() + 20);
        assert_ne!(field(&buf, offset_of!(LINEDEVCAPS, dwProviderInfoSize)), 0);
        assert_eq!(field(&buf, offset_of!(LINEDEVCAPS, dwSwitchInfoSize)), 0);
        assert_eq!(field(&buf, offset_of!(LINEDEVCAPS, dwLineNameSize)), 0);
        assert!(field(&buf, 4) as usize > len);
    }

    #[test]
    fn test_version_decides_the_fixed_part() {
        let c = caps();
        let v14 = dev_caps_fixed(0x0001_0004);
        assert_eq!(v14, 240);
        assert_eq!(dev_caps_fixed(V2_0), 252);
        assert_eq!(dev_caps_fixed(V2_2), 268);
        let mut buf = total(v14);
        assert_eq!(dev_caps(&mut buf, 0x0001_0004, &c), Ok(v14));
        assert_eq!(address_caps_fixed(0x0001_0004), 180);
        assert_eq!(call_info_fixed(0x0001_0004), 296);
        assert_eq!(call_status_fixed(0x0001_0004), 36);
        assert_eq!(call_status_fixed(V2_0), 56);
        assert_eq!(line_dev_status_fixed(0x0001_0004), 76);
    }

    #[test]
    fn test_address_status_forward_list() {
        let status = AddressStatus {
            num_in_use: 1,
            num_active_calls: 1,
            num_on_hold_calls: 0,
            num_on_hold_pend_calls: 0,
            address_features: 2,
            num_rings_no_answer: 0,
            forward: vec![
                ForwardEntry {
                    mode: 1,
                    caller: None,
                    dest: None,
                },
                ForwardEntry {
                    mode: 16,
                    caller: None,
                    dest: Some("202".into()),
                },
            ],
        };
        let mut buf = total(512);
        let used = address_status(&mut buf, &status).unwrap();
        assert_eq!(field(&buf, 4) as usize, used);
        assert_eq!(
            field(&buf, offset_of!(LINEADDRESSSTATUS, dwForwardNumEntries)),
            2
        );
        let at = field(&buf, offset_of!(LINEADDRESSSTATUS, dwForwardOffset)) as usize;
        assert_eq!(at % 4, 0);
        let second = at + size_of::<LINEFORWARD>();
        assert_eq!(field(&buf, second), 16);
        let size = field(&buf, second + offset_of!(LINEFORWARD, dwDestAddressSize));
        let offset = field(&buf, second + offset_of!(LINEFORWARD, dwDestAddressOffset));
        assert_eq!(read_string(&buf, size, offset).as_deref(), Some("202"));
        assert_eq!(
            field(&buf, at + offset_of!(LINEFORWARD, dwDestAddressSize)),
            0
        );
        // Too small for the array: the count is still there, the array is not.
        let mut small = total(size_of::<LINEADDRESSSTATUS>() + 8);
        address_status(&mut small, &status).unwrap();
        assert_eq!(
            field(&small, offset_of!(LINEADDRESSSTATUS, dwForwardNumEntries)),
            2
        );
        assert_eq!(
            field(&small, offset_of!(LINEADDRESSSTATUS, dwForwardSize)),
            0
        );
        assert!(field(&small, 4) as usize > small.len());
    }

    #[test]
    fn test_var_dword_and_reading() {
        let mut buf = total(28);
        assert_eq!(var_dword(&mut buf, 7), Ok(28));
        assert_eq!(
            field(&buf, offset_of!(VARSTRING, dwStringFormat)),
            STRINGFORMAT_BINARY
        );
        assert_eq!(field(&buf, 24), 7);
        let mut short = total(24);
        assert_eq!(var_dword(&mut short, 7), Ok(24));
        assert_eq!(field(&short, 4), 28);
        assert_eq!(read_string(&buf, 100, 0), None);
        assert_eq!(read_string(&buf, 0, 999).as_deref(), Some(""));
    }
}
