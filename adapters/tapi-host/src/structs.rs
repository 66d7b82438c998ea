//! The TSPI's variable-size structures as bytes: read what the provider filled in, and
//! build the `LINEFORWARDLIST` the host passes.
//!
//! The host owns each structure as a byte buffer of its `dwTotalSize` (see
//! [`crate::host`] for how it grows the buffer as TAPI does); the fields are read at
//! the offsets of the `windows-sys` TAPI 2.2 declarations (`offset_of!`), the strings
//! of the variable part by their size and offset, within the buffer.

use std::mem::{offset_of, size_of};

use serde_json::{Value, json};
use ucsta_tsp::tapi::{
    LINEADDRESSCAPS, LINEADDRESSSTATUS, LINECALLINFO, LINECALLSTATUS, LINEDEVCAPS, LINEDEVSTATUS,
    LINEFORWARD,
};

use crate::names::{self, bit_names, name_of};

/// A filled structure's bytes.
#[derive(Debug, Clone, Copy)]
pub struct View<'a>(pub &'a [u8]);

impl View<'_> {
    /// The `u32` at `offset` (0 beyond the buffer).
    pub fn u32(&self, offset: usize) -> u32 {
        self.0
            .get(offset..offset + 4)
            .map_or(0, |b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// The UTF-16 string whose size and offset fields are at `size_at` and
    /// `size_at + 4` (`None` when empty).
    pub fn string(&self, size_at: usize) -> Option<String> {
        self.string_at(self.u32(size_at), self.u32(size_at + 4))
    }

    /// The UTF-16 string of `size` bytes at `offset` (a trailing NUL dropped); `None`
    /// when empty or outside the buffer.
    pub fn string_at(&self, size: u32, offset: u32) -> Option<String> {
        let (size, offset) = (size as usize, offset as usize);
        if size == 0 {
            return None;
        }
        let bytes = self.0.get(offset..offset.checked_add(size)?)?;
        let mut units: Vec<u16> = bytes
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        while units.last() == Some(&0) {
            units.pop();
        }
        Some(String::from_utf16_lossy(&units))
    }

    /// `dwNeededSize`.
    pub fn needed(&self) -> u32 {
        self.u32(4)
    }

    /// `dwUsedSize`.
    pub fn used(&self) -> u32 {
        self.u32(8)
    }
}

macro_rules! at {
    ($t:ty, $f:ident) => {
        offset_of!($t, $f)
    };
}

/// A party of `LINECALLINFO` (caller, called, ...): `{"flags":[..],"number":..,"name":..}`.
fn party(v: View<'_>, flags: usize, number: usize, name: usize) -> Value {
    json!({
        "flags": bit_names(names::LINECALLPARTYID, v.u32(flags)),
        "number": v.string(number),
        "name": v.string(name),
    })
}

/// The decoded `LINECALLINFO`, as the `callinfo` command prints it.
pub fn call_info(b: &[u8]) -> Vec<(&'static str, Value)> {
    type S = LINECALLINFO;
    let v = View(b);
    vec![
        ("line_device_id", v.u32(at!(S, dwLineDeviceID)).into()),
        ("address_id", v.u32(at!(S, dwAddressID)).into()),
        (
            "origin",
            name_of(names::LINECALLORIGIN, v.u32(at!(S, dwOrigin))).into(),
        ),
        (
            "reason",
            name_of(names::LINECALLREASON, v.u32(at!(S, dwReason))).into(),
        ),
        (
            "caller",
            party(
                v,
                at!(S, dwCallerIDFlags),
                at!(S, dwCallerIDSize),
                at!(S, dwCallerIDNameSize),
            ),
        ),
        (
            "called",
            party(
                v,
                at!(S, dwCalledIDFlags),
                at!(S, dwCalledIDSize),
                at!(S, dwCalledIDNameSize),
            ),
        ),
        (
            "connected",
            party(
                v,
                at!(S, dwConnectedIDFlags),
                at!(S, dwConnectedIDSize),
                at!(S, dwConnectedIDNameSize),
            ),
        ),
        (
            "redirection",
            party(
                v,
                at!(S, dwRedirectionIDFlags),
                at!(S, dwRedirectionIDSize),
                at!(S, dwRedirectionIDNameSize),
            ),
        ),
        (
            "redirecting",
            party(
                v,
                at!(S, dwRedirectingIDFlags),
                at!(S, dwRedirectingIDSize),
                at!(S, dwRedirectingIDNameSize),
            ),
        ),
        ("call_id", v.u32(at!(S, dwCallID)).into()),
        ("related_call_id", v.u32(at!(S, dwRelatedCallID)).into()),
        ("csta_call_id", v.string(at!(S, dwDevSpecificSize)).into()),
        (
            "media_mode",
            bit_names(names::LINEMEDIAMODE, v.u32(at!(S, dwMediaMode))).into(),
        ),
        ("app_specific", v.u32(at!(S, dwAppSpecific)).into()),
        (
            "call_states",
            bit_names(names::LINECALLSTATE, v.u32(at!(S, dwCallStates))).into(),
        ),
    ]
}

/// The decoded `LINECALLSTATUS`.
pub fn call_status(b: &[u8]) -> Vec<(&'static str, Value)> {
    type S = LINECALLSTATUS;
    let v = View(b);
    let state = v.u32(at!(S, dwCallState));
    let mode = v.u32(at!(S, dwCallStateMode));
    let mode_names = names::mode_table(state).map_or_else(Vec::new, |t| bit_names(t, mode));
    vec![
        ("state", name_of(names::LINECALLSTATE, state).into()),
        ("mode", mode.into()),
        ("mode_names", mode_names.into()),
        (
            "features",
            bit_names(names::LINECALLFEATURE, v.u32(at!(S, dwCallFeatures))).into(),
        ),
        (
            "features2",
            bit_names(names::LINECALLFEATURE2, v.u32(at!(S, dwCallFeatures2))).into(),
        ),
    ]
}

/// The forwarding entries of a `LINEADDRESSSTATUS` (string offsets from the start of
/// the structure).
fn forward_entries(v: View<'_>, count: u32, offset: u32) -> Vec<Value> {
    let size = size_of::<LINEFORWARD>();
    (0..count as usize)
        .map(|i| {
            let at = offset as usize + i * size;
            json!({
                "mode": name_of(names::LINEFORWARDMODE, v.u32(at + offset_of!(LINEFORWARD, dwForwardMode))),
                "caller": v.string(at + offset_of!(LINEFORWARD, dwCallerAddressSize)),
                "dest": v.string(at + offset_of!(LINEFORWARD, dwDestAddressSize)),
            })
        })
        .collect()
}

/// The decoded `LINEADDRESSSTATUS`.
pub fn address_status(b: &[u8]) -> Vec<(&'static str, Value)> {
    type S = LINEADDRESSSTATUS;
    let v = View(b);
    vec![
        ("num_in_use", v.u32(at!(S, dwNumInUse)).into()),
        ("active_calls", v.u32(at!(S, dwNumActiveCalls)).into()),
        ("on_hold_calls", v.u32(at!(S, dwNumOnHoldCalls)).into()),
        (
            "on_hold_pend_calls",
            v.u32(at!(S, dwNumOnHoldPendCalls)).into(),
        ),
        (
            "features",
            bit_names(names::LINEADDRFEATURE, v.u32(at!(S, dwAddressFeatures))).into(),
        ),
        ("rings_no_answer", v.u32(at!(S, dwNumRingsNoAnswer)).into()),
        (
            "forward",
            forward_entries(
                v,
                v.u32(at!(S, dwForwardNumEntries)),
                v.u32(at!(S, dwForwardOffset)),
            )
            .into(),
        ),
    ]
}

/// The decoded `LINEDEVSTATUS`.
pub fn dev_status(b: &[u8]) -> Vec<(&'static str, Value)> {
    type S = LINEDEVSTATUS;
    let v = View(b);
    vec![
        (
            "flags",
            bit_names(names::LINEDEVSTATUSFLAGS, v.u32(at!(S, dwDevStatusFlags))).into(),
        ),
        ("active_calls", v.u32(at!(S, dwNumActiveCalls)).into()),
        ("on_hold_calls", v.u32(at!(S, dwNumOnHoldCalls)).into()),
        (
            "on_hold_pend_calls",
            v.u32(at!(S, dwNumOnHoldPendCalls)).into(),
        ),
    ]
}

/// `dwDevStatusFlags` of a `LINEDEVSTATUS`.
pub fn dev_status_flags(b: &[u8]) -> u32 {
    View(b).u32(offset_of!(LINEDEVSTATUS, dwDevStatusFlags))
}

/// What the host keeps of a line's `LINEDEVCAPS` and `LINEADDRESSCAPS`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LineCaps {
    /// `LineName`.
    pub name: String,
    /// `ProviderInfo`.
    pub provider_info: String,
    /// `SwitchInfo`.
    pub switch_info: String,
    /// `dwPermanentLineID`.
    pub permanent_line_id: u32,
    /// `dwNumAddresses`.
    pub num_addresses: u32,
    /// `dwLineStates`.
    pub line_states: u32,
    /// `dwMediaModes`.
    pub media_modes: u32,
    /// The address's `Address` (the line's number).
    pub address: String,
    /// `dwAddressStates`.
    pub address_states: u32,
    /// `dwCallFeatures` of the address.
    pub call_features: u32,
    /// `dwAddressFeatures`.
    pub address_features: u32,
    /// `dwForwardModes`.
    pub forward_modes: u32,
    /// `dwTransferModes`.
    pub transfer_modes: u32,
    /// `dwNeededSize` of each structure, as the first call reported it.
    pub needed: (u32, u32),
}

impl LineCaps {
    /// Reads a `LINEDEVCAPS` and a `LINEADDRESSCAPS`.
    pub fn read(dev: &[u8], addr: &[u8]) -> LineCaps {
        type D = LINEDEVCAPS;
        type A = LINEADDRESSCAPS;
        let d = View(dev);
        let a = View(addr);
        LineCaps {
            name: d.string(at!(D, dwLineNameSize)).unwrap_or_default(),
            provider_info: d.string(at!(D, dwProviderInfoSize)).unwrap_or_default(),
            switch_info: d.string(at!(D, dwSwitchInfoSize)).unwrap_or_default(),
            permanent_line_id: d.u32(at!(D, dwPermanentLineID)),
            num_addresses: d.u32(at!(D, dwNumAddresses)),
            line_states: d.u32(at!(D, dwLineStates)),
            media_modes: d.u32(at!(D, dwMediaModes)),
            address: a.string(at!(A, dwAddressSize)).unwrap_or_default(),
            address_states: a.u32(at!(A, dwAddressStates)),
            call_features: a.u32(at!(A, dwCallFeatures)),
            address_features: a.u32(at!(A, dwAddressFeatures)),
            forward_modes: a.u32(at!(A, dwForwardModes)),
            transfer_modes: a.u32(at!(A, dwTransferModes)),
            needed: (d.needed(), a.needed()),
        }
    }

    /// As the `devcaps` command prints it.
    pub fn fields(&self) -> Vec<(&'static str, Value)> {
        vec![
            ("name", self.name.clone().into()),
            ("provider_info", self.provider_info.clone().into()),
            ("switch_info", self.switch_info.clone().into()),
            ("permanent_line_id", self.permanent_line_id.into()),
            ("num_addresses", self.num_addresses.into()),
            (
                "line_states",
                bit_names(names::LINEDEVSTATE, self.line_states).into(),
            ),
            (
                "media_modes",
                bit_names(names::LINEMEDIAMODE, self.media_modes).into(),
            ),
            (
                "address_states",
                bit_names(names::LINEADDRESSSTATE, self.address_states).into(),
            ),
            (
                "call_features",
                bit_names(names::LINECALLFEATURE, self.call_features).into(),
            ),
            (
                "address_features",
                bit_names(names::LINEADDRFEATURE, self.address_features).into(),
            ),
            (
                "forward_modes",
                bit_names(names::LINEFORWARDMODE, self.forward_modes).into(),
            ),
            (
                "transfer_modes",
                bit_names(names::LINETRANSFERMODE, self.transfer_modes).into(),
            ),
            ("devcaps_needed", self.needed.0.into()),
            ("addresscaps_needed", self.needed.1.into()),
        ]
    }
}

/// A `LINEFORWARDLIST` of `(dwForwardMode, DestAddress)` entries, as bytes (the
/// strings after the array, offsets from the start of the list).
pub fn forward_list(entries: &[(u32, Option<&str>)]) -> Vec<u8> {
    let entry = size_of::<LINEFORWARD>();
    let mut b = vec![0u8; 8 + entries.len() * entry];
    b[4..8].copy_from_slice(&(entries.len() as u32).to_le_bytes());
    for (i, (mode, dest)) in entries.iter().enumerate() {
        let at = 8 + i * entry;
        b[at..at + 4].copy_from_slice(&mode.to_le_bytes());
        if let Some(dest) = dest {
            let offset = b.len() as u32;
            let bytes: Vec<u8> = dest
                .encode_utf16()
                .chain([0])
                .flat_map(u16::to_le_bytes)
                .collect();
            let size = bytes.len() as u32;
            b.extend_from_slice(&bytes);
            let f = at + offset_of!(LINEFORWARD, dwDestAddressSize);
            b[f..f + 4].copy_from_slice(&size.to_le_bytes());
            b[f + 4..f + 8].copy_from_slice(&offset.to_le_bytes());
        }
    }
    let total = b.len() as u32;
    b[..4].copy_from_slice(&total.to_le_bytes());
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use ucsta_tsp::tapi;

    #[test]
    fn test_forward_list_round_trip() {
        let b = forward_list(&[
            (tapi::LINEFORWARDMODE_UNCOND, Some("203")),
            (tapi::LINEFORWARDMODE_BUSY, None),
        ]);
        let v = View(&b);
        assert_eq!(v.u32(0) as usize, b.len());
        assert_eq!(v.u32(4), 2);
        let entries = forward_entries(v, 2, 8);
        assert_eq!(
            entries,
            [
                json!({"mode": "UNCOND", "caller": null, "dest": "203"}),
                json!({"mode": "BUSY", "caller": null, "dest": null}),
            ]
        );
    }

    #[test]
    fn test_strings_outside_the_buffer_are_none() {
        let mut b = vec![0u8; 16];
        b[8..12].copy_from_slice(&100u32.to_le_bytes());
        b[12..16].copy_from_slice(&4u32.to_le_bytes());
        assert_eq!(View(&b).string(8), None);
        b[8..12].copy_from_slice(&4u32.to_le_bytes());
        b[12..16].copy_from_slice(&0u32.to_le_bytes());
        // Four zero bytes: the string is empty once its NULs are dropped.
        assert_eq!(View(&b).string(8), Some(String::new()));
    }
}
