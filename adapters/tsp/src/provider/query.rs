//! What the TSPI structures report, in portable form.
//!
//! The TSPI layer copies these into `LINEDEVCAPS`, `LINEADDRESSCAPS`,
//! `LINEDEVSTATUS`, `LINEADDRESSSTATUS`, `LINECALLINFO` and `LINECALLSTATUS`
//! (strings as UTF-16 in the structures' variable parts).

use csta_core::model::view::same_device;

use super::calls::{Context, Kind, Party, display_number, features};
use super::{CallHandle, LineError, LineId, Provider, Sync};
use crate::tapi::*;

/// The line device's capabilities (`LINEDEVCAPS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineDevCaps {
    /// `ProviderInfo`.
    pub provider_info: String,
    /// `SwitchInfo`: the server.
    pub switch_info: String,
    /// `dwPermanentLineID`: stable for the device across restarts.
    pub permanent_line_id: u32,
    /// `LineName`.
    pub line_name: String,
    /// `dwAddressModes`.
    pub address_modes: u32,
    /// `dwNumAddresses`.
    pub num_addresses: u32,
    /// `dwBearerModes`.
    pub bearer_modes: u32,
    /// `dwMediaModes`.
    pub media_modes: u32,
    /// `dwGenerateDigitModes`.
    pub generate_digit_modes: u32,
    /// `dwDevCapFlags`.
    pub dev_cap_flags: u32,
    /// `dwMaxNumActiveCalls`.
    pub max_num_active_calls: u32,
    /// `dwAnswerMode`.
    pub answer_mode: u32,
    /// `dwLineStates`: the `LINEDEVSTATE_*` the provider reports.
    pub line_states: u32,
    /// `dwLineFeatures`.
    pub line_features: u32,
    /// `DeviceClasses`.
    pub device_classes: Vec<&'static str>,
}

/// An address's capabilities (`LINEADDRESSCAPS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressCaps {
    /// `dwLineDeviceID`.
    pub line_device_id: u32,
    /// `Address`: the line's number.
    pub address: String,
    /// `dwAddressSharing`.
    pub address_sharing: u32,
    /// `dwAddressStates`: the `LINEADDRESSSTATE_*` the provider reports.
    pub address_states: u32,
    /// `dwCallInfoStates`.
    pub call_info_states: u32,
    /// `dwCallerIDFlags`, `dwCalledIDFlags`, `dwConnectedIDFlags`,
    /// `dwRedirectionIDFlags`, `dwRedirectingIDFlags`.
    pub party_id_flags: u32,
    /// `dwCallStates`.
    pub call_states: u32,
    /// `dwDialToneModes`.
    pub dial_tone_modes: u32,
    /// `dwBusyModes`.
    pub busy_modes: u32,
    /// `dwSpecialInfo`.
    pub special_info: u32,
    /// `dwDisconnectModes`.
    pub disconnect_modes: u32,
    /// `dwMaxNumActiveCalls`.
    pub max_num_active_calls: u32,
    /// `dwMaxNumOnHoldCalls`.
    pub max_num_on_hold_calls: u32,
    /// `dwMaxNumOnHoldPendingCalls`.
    pub max_num_on_hold_pending_calls: u32,
    /// `dwMaxNumConference`.
    pub max_num_conference: u32,
    /// `dwMaxNumTransConf`.
    pub max_num_trans_conf: u32,
    /// `dwAddrCapFlags`.
    pub addr_cap_flags: u32,
    /// `dwCallFeatures`: every call feature the address can offer.
    pub call_features: u32,
    /// `dwRemoveFromConfCaps`.
    pub remove_from_conf_caps: u32,
    /// `dwRemoveFromConfState`.
    pub remove_from_conf_state: u32,
    /// `dwTransferModes`.
    pub transfer_modes: u32,
    /// `dwForwardModes`.
    pub forward_modes: u32,
    /// `dwMaxForwardEntries`.
    pub max_forward_entries: u32,
    /// `dwMaxSpecificEntries`.
    pub max_specific_entries: u32,
    /// `dwMinFwdNumRings`.
    pub min_fwd_num_rings: u32,
    /// `dwMaxFwdNumRings`.
    pub max_fwd_num_rings: u32,
    /// `dwAddressFeatures`.
    pub address_features: u32,
    /// `dwCallFeatures2`.
    pub call_features2: u32,
    /// `dwAvailableMediaModes`.
    pub available_media_modes: u32,
    /// `DeviceClasses`.
    pub device_classes: Vec<&'static str>,
}

/// The line's status (`LINEDEVSTATUS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineDevStatus {
    /// `dwNumActiveCalls`.
    pub num_active_calls: u32,
    /// `dwNumOnHoldCalls`.
    pub num_on_hold_calls: u32,
    /// `dwNumOnHoldPendCalls`.
    pub num_on_hold_pend_calls: u32,
    /// `dwLineFeatures`.
    pub line_features: u32,
    /// `dwDevStatusFlags`: `CONNECTED | INSERVICE` while in service.
    pub dev_status_flags: u32,
    /// `dwAvailableMediaModes`.
    pub available_media_modes: u32,
}

/// One forwarding entry (`LINEFORWARD`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardEntry {
    /// `dwForwardMode`.
    pub mode: u32,
    /// `CallerAddress` (not supported: always `None` in what the provider reports).
    pub caller: Option<String>,
    /// `DestAddress`; `None` with `UNCOND` is do-not-disturb.
    pub dest: Option<String>,
}

/// The address's status (`LINEADDRESSSTATUS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressStatus {
    /// `dwNumInUse`.
    pub num_in_use: u32,
    /// `dwNumActiveCalls`.
    pub num_active_calls: u32,
    /// `dwNumOnHoldCalls`.
    pub num_on_hold_calls: u32,
    /// `dwNumOnHoldPendCalls`.
    pub num_on_hold_pend_calls: u32,
    /// `dwAddressFeatures`.
    pub address_features: u32,
    /// `dwNumRingsNoAnswer`.
    pub num_rings_no_answer: u32,
    /// The forwarding in force (`Forward`), do-not-disturb as `UNCOND` to no address.
    pub forward: Vec<ForwardEntry>,
}

/// A party of a call (`LINECALLINFO` caller, called, connected, redirection,
/// redirecting).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PartyInfo {
    /// `LINECALLPARTYID_*` (`UNKNOWN` when nothing is known).
    pub flags: u32,
    /// The number.
    pub number: Option<String>,
    /// The name (the line name, when the party is a line of this provider).
    pub name: Option<String>,
}

/// A call's information (`LINECALLINFO`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallInfo {
    /// `dwLineDeviceID`.
    pub line_device_id: u32,
    /// `dwBearerMode`.
    pub bearer_mode: u32,
    /// `dwMediaMode`.
    pub media_mode: u32,
    /// `dwCallStates`: the states the call can take.
    pub call_states: u32,
    /// `dwOrigin`.
    pub origin: u32,
    /// `dwReason`.
    pub reason: u32,
    /// `dwAppSpecific`.
    pub app_specific: u32,
    /// `dwCallID`.
    pub call_id: u32,
    /// `dwRelatedCallID`.
    pub related_call_id: u32,
    /// `dwCallerIDFlags`, `CallerID`, `CallerIDName`.
    pub caller: PartyInfo,
    /// `dwCalledIDFlags`, `CalledID`, `CalledIDName`.
    pub called: PartyInfo,
    /// `dwConnectedIDFlags`, `ConnectedID`, `ConnectedIDName`.
    pub connected: PartyInfo,
    /// `dwRedirectionIDFlags`, `RedirectionID`, `RedirectionIDName`.
    pub redirection: PartyInfo,
    /// `dwRedirectingIDFlags`, `RedirectingID`, `RedirectingIDName`.
    pub redirecting: PartyInfo,
    /// `dwCallParamFlags`.
    pub call_param_flags: u32,
    /// The CSTA call ID (written in `DevSpecific` as UTF-16, for tools).
    pub csta_call_id: Option<String>,
}

/// A call's status (`LINECALLSTATUS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallStatus {
    /// `dwCallState`.
    pub state: u32,
    /// `dwCallStateMode`.
    pub state_mode: u32,
    /// `dwCallFeatures`: what the call allows now.
    pub features: u32,
    /// `dwCallFeatures2`.
    pub features2: u32,
}

/// Every state a call of this provider can take.
const CALL_STATES: u32 = LINECALLSTATE_IDLE
    | LINECALLSTATE_OFFERING
    | LINECALLSTATE_DIALTONE
    | LINECALLSTATE_DIALING
    | LINECALLSTATE_RINGBACK
    | LINECALLSTATE_BUSY
    | LINECALLSTATE_CONNECTED
    | LINECALLSTATE_PROCEEDING
    | LINECALLSTATE_ONHOLD
    | LINECALLSTATE_CONFERENCED
    | LINECALLSTATE_ONHOLDPENDCONF
    | LINECALLSTATE_ONHOLDPENDTRANSFER
    | LINECALLSTATE_DISCONNECTED;

/// The forwarding modes lineForward takes.
const FORWARD_MODES: u32 = LINEFORWARDMODE_UNCOND
    | LINEFORWARDMODE_UNCONDINTERNAL
    | LINEFORWARDMODE_UNCONDEXTERNAL
    | LINEFORWARDMODE_BUSY
    | LINEFORWARDMODE_BUSYINTERNAL
    | LINEFORWARDMODE_BUSYEXTERNAL
    | LINEFORWARDMODE_NOANSW
    | LINEFORWARDMODE_NOANSWINTERNAL
    | LINEFORWARDMODE_NOANSWEXTERNAL
    | LINEFORWARDMODE_BUSYNA
    | LINEFORWARDMODE_BUSYNAINTERNAL
    | LINEFORWARDMODE_BUSYNAEXTERNAL;

/// The `LINEFORWARDMODE_*` of a CSTA forwarding type, `None` for `forwardDND` and
/// unknown types.
pub(crate) fn forward_mode(kind: &str) -> Option<u32> {
    Some(match kind {
        "forwardImmediate" => LINEFORWARDMODE_UNCOND,
        "forwardImmInt" => LINEFORWARDMODE_UNCONDINTERNAL,
        "forwardImmExt" => LINEFORWARDMODE_UNCONDEXTERNAL,
        "forwardBusy" => LINEFORWARDMODE_BUSY,
        "forwardBusyInt" => LINEFORWARDMODE_BUSYINTERNAL,
        "forwardBusyExt" => LINEFORWARDMODE_BUSYEXTERNAL,
        "forwardNoAns" => LINEFORWARDMODE_NOANSW,
        "forwardNoAnsInt" => LINEFORWARDMODE_NOANSWINTERNAL,
        "forwardNoAnsExt" => LINEFORWARDMODE_NOANSWEXTERNAL,
        _ => return None,
    })
}

/// The CSTA forwarding types a `LINEFORWARDMODE_*` sets (busy-or-no-answer is both).
pub(crate) fn forwarding_types(mode: u32) -> Option<&'static [&'static str]> {
    Some(match mode {
        LINEFORWARDMODE_UNCOND => &["forwardImmediate"],
        LINEFORWARDMODE_UNCONDINTERNAL => &["forwardImmInt"],
        LINEFORWARDMODE_UNCONDEXTERNAL => &["forwardImmExt"],
        LINEFORWARDMODE_BUSY => &["forwardBusy"],
        LINEFORWARDMODE_BUSYINTERNAL => &["forwardBusyInt"],
        LINEFORWARDMODE_BUSYEXTERNAL => &["forwardBusyExt"],
        LINEFORWARDMODE_NOANSW => &["forwardNoAns"],
        LINEFORWARDMODE_NOANSWINTERNAL => &["forwardNoAnsInt"],
        LINEFORWARDMODE_NOANSWEXTERNAL => &["forwardNoAnsExt"],
        LINEFORWARDMODE_BUSYNA => &["forwardBusy", "forwardNoAns"],
        LINEFORWARDMODE_BUSYNAINTERNAL => &["forwardBusyInt", "forwardNoAnsInt"],
        LINEFORWARDMODE_BUSYNAEXTERNAL => &["forwardBusyExt", "forwardNoAnsExt"],
        _ => return None,
    })
}

impl Provider {
    /// The line of a call.
    pub fn call_line(&self, call: CallHandle) -> Option<LineId> {
        self.call(call).map(|c| LineId(c.line))
    }

    fn live_line(&self, line: LineId) -> Result<&super::Line, LineError> {
        let l = self.lines.get(line.index()).ok_or(LineError::BadDeviceId)?;
        if l.removed {
            return Err(LineError::NoDevice);
        }
        Ok(l)
    }

    /// `TSPI_lineGetDevCaps`.
    ///
    /// # Errors
    ///
    /// `LINEERR_BADDEVICEID` / `LINEERR_NODEVICE` for a line that is not there.
    pub fn dev_caps(&self, line: LineId) -> Result<LineDevCaps, LineError> {
        let l = self.live_line(line)?;
        Ok(LineDevCaps {
            provider_info: format!(
                "uCSTA TSP {} ({})",
                env!("CARGO_PKG_VERSION"),
                self.config.role.as_str()
            ),
            switch_info: format!("uCSTA server {}:{}", self.config.server, self.config.port),
            permanent_line_id: l.permanent_id,
            line_name: l.name.clone(),
            address_modes: LINEADDRESSMODE_ADDRESSID,
            num_addresses: 1,
            bearer_modes: LINEBEARERMODE_VOICE,
            media_modes: LINEMEDIAMODE_INTERACTIVEVOICE,
            generate_digit_modes: LINEDIGITMODE_DTMF,
            // Not CLOSEDROP: closing the line in TAPI leaves the phone's calls alone.
            // The dial-string modifiers `$`, `@` and `W` are accepted (they start the
            // digits sent after the call is answered).
            dev_cap_flags: LINEDEVCAPFLAGS_DIALBILLING
                | LINEDEVCAPFLAGS_DIALQUIET
                | LINEDEVCAPFLAGS_DIALDIALTONE,
            max_num_active_calls: 1,
            answer_mode: LINEANSWERMODE_HOLD,
            line_states: LINEDEVSTATE_INSERVICE | LINEDEVSTATE_OUTOFSERVICE,
            line_features: LINEFEATURE_MAKECALL
                | LINEFEATURE_FORWARD
                | LINEFEATURE_FORWARDDND
                | LINEFEATURE_FORWARDFWD,
            device_classes: vec!["tapi/line"],
        })
    }

    /// `TSPI_lineGetAddressCaps`.
    ///
    /// # Errors
    ///
    /// `LINEERR_BADDEVICEID` / `LINEERR_NODEVICE`, `LINEERR_INVALADDRESSID` for an
    /// address other than 0.
    pub fn address_caps(&self, line: LineId, address_id: u32) -> Result<AddressCaps, LineError> {
        let l = self.live_line(line)?;
        if address_id != 0 {
            return Err(LineError::InvalAddressId);
        }
        let max_calls = self.config.max_calls as u32;
        Ok(AddressCaps {
            line_device_id: l.device_id.unwrap_or(0),
            address: display_number(&l.device).to_owned(),
            address_sharing: LINEADDRESSSHARING_PRIVATE,
            address_states: LINEADDRESSSTATE_FORWARD,
            call_info_states: LINECALLINFOSTATE_CALLERID
                | LINECALLINFOSTATE_CALLEDID
                | LINECALLINFOSTATE_CONNECTEDID
                | LINECALLINFOSTATE_REDIRECTIONID
                | LINECALLINFOSTATE_REDIRECTINGID
                | LINECALLINFOSTATE_ORIGIN
                | LINECALLINFOSTATE_REASON
                | LINECALLINFOSTATE_APPSPECIFIC
                | LINECALLINFOSTATE_RELATEDCALLID,
            party_id_flags: LINECALLPARTYID_ADDRESS
                | LINECALLPARTYID_NAME
                | LINECALLPARTYID_BLOCKED
                | LINECALLPARTYID_UNKNOWN
                | LINECALLPARTYID_UNAVAIL,
            call_states: CALL_STATES,
            dial_tone_modes: LINEDIALTONEMODE_NORMAL,
            busy_modes: LINEBUSYMODE_STATION,
            special_info: LINESPECIALINFO_UNAVAIL,
            disconnect_modes: LINEDISCONNECTMODE_NORMAL
                | LINEDISCONNECTMODE_UNKNOWN
                | LINEDISCONNECTMODE_REJECT
                | LINEDISCONNECTMODE_PICKUP
                | LINEDISCONNECTMODE_FORWARDED
                | LINEDISCONNECTMODE_BUSY
                | LINEDISCONNECTMODE_NOANSWER
                | LINEDISCONNECTMODE_BADADDRESS
                | LINEDISCONNECTMODE_UNREACHABLE
                | LINEDISCONNECTMODE_CONGESTION
                | LINEDISCONNECTMODE_INCOMPATIBLE
                | LINEDISCONNECTMODE_NUMBERCHANGED
                | LINEDISCONNECTMODE_OUTOFORDER
                | LINEDISCONNECTMODE_BLOCKED
                | LINEDISCONNECTMODE_DONOTDISTURB
                | LINEDISCONNECTMODE_CANCELLED,
            max_num_active_calls: 1,
            max_num_on_hold_calls: max_calls.saturating_sub(1).max(1),
            max_num_on_hold_pending_calls: 1,
            max_num_conference: 3,
            max_num_trans_conf: 3,
            addr_cap_flags: LINEADDRCAPFLAGS_DIALED
                | LINEADDRCAPFLAGS_PARTIALDIAL
                | LINEADDRCAPFLAGS_CONFERENCEHELD
                | LINEADDRCAPFLAGS_TRANSFERHELD
                | LINEADDRCAPFLAGS_FWDSTATUSVALID
                | LINEADDRCAPFLAGS_FWDNUMRINGS
                | LINEADDRCAPFLAGS_PICKUPGROUPID,
            call_features: LINECALLFEATURE_ADDTOCONF
                | LINECALLFEATURE_ANSWER
                | LINECALLFEATURE_BLINDTRANSFER
                | LINECALLFEATURE_COMPLETETRANSF
                | LINECALLFEATURE_DIAL
                | LINECALLFEATURE_DROP
                | LINECALLFEATURE_GENERATEDIGITS
                | LINECALLFEATURE_HOLD
                | LINECALLFEATURE_PREPAREADDCONF
                | LINECALLFEATURE_REDIRECT
                | LINECALLFEATURE_REMOVEFROMCONF
                | LINECALLFEATURE_SETUPCONF
                | LINECALLFEATURE_SETUPTRANSFER
                | LINECALLFEATURE_SWAPHOLD
                | LINECALLFEATURE_UNHOLD,
            remove_from_conf_caps: LINEREMOVEFROMCONF_ANY,
            remove_from_conf_state: LINECALLSTATE_IDLE,
            transfer_modes: LINETRANSFERMODE_TRANSFER | LINETRANSFERMODE_CONFERENCE,
            forward_modes: FORWARD_MODES,
            max_forward_entries: 9,
            max_specific_entries: 0,
            min_fwd_num_rings: 1,
            max_fwd_num_rings: 30,
            address_features: LINEADDRFEATURE_MAKECALL
                | LINEADDRFEATURE_FORWARD
                | LINEADDRFEATURE_FORWARDFWD
                | LINEADDRFEATURE_FORWARDDND
                | LINEADDRFEATURE_PICKUP
                | LINEADDRFEATURE_PICKUPDIRECT
                | LINEADDRFEATURE_PICKUPGROUP,
            call_features2: LINECALLFEATURE2_ONESTEPTRANSFER
                | LINECALLFEATURE2_TRANSFERNORM
                | LINECALLFEATURE2_TRANSFERCONF,
            available_media_modes: LINEMEDIAMODE_INTERACTIVEVOICE,
            device_classes: vec!["tapi/line"],
        })
    }

    /// Counts of a line's calls: (active, on hold, on hold pending).
    fn counts(&self, line: u32) -> (u32, u32, u32) {
        let mut counts = (0, 0, 0);
        for h in self.line_calls(line) {
            match self.call(h).map(|c| c.state()) {
                Some(LINECALLSTATE_ONHOLD) => counts.1 += 1,
                Some(LINECALLSTATE_ONHOLDPENDTRANSFER | LINECALLSTATE_ONHOLDPENDCONF) => {
                    counts.2 += 1
                }
                Some(LINECALLSTATE_IDLE) | None => {}
                Some(_) => counts.0 += 1,
            }
        }
        counts
    }

    /// `TSPI_lineGetLineDevStatus`.
    ///
    /// # Errors
    ///
    /// `LINEERR_INVALLINEHANDLE` for a line that is not there.
    pub fn line_dev_status(&self, line: LineId) -> Result<LineDevStatus, LineError> {
        self.live_line(line)
            .map_err(|_| LineError::InvalLineHandle)?;
        let (active, held, pending) = self.counts(line.0);
        let in_service = self.in_service(line);
        Ok(LineDevStatus {
            num_active_calls: active,
            num_on_hold_calls: held,
            num_on_hold_pend_calls: pending,
            line_features: if in_service {
                LINEFEATURE_MAKECALL
                    | LINEFEATURE_FORWARD
                    | LINEFEATURE_FORWARDDND
                    | LINEFEATURE_FORWARDFWD
            } else {
                0
            },
            dev_status_flags: if in_service {
                LINEDEVSTATUSFLAGS_CONNECTED | LINEDEVSTATUSFLAGS_INSERVICE
            } else {
                0
            },
            available_media_modes: LINEMEDIAMODE_INTERACTIVEVOICE,
        })
    }

    /// `TSPI_lineGetAddressStatus`.
    ///
    /// # Errors
    ///
    /// `LINEERR_INVALLINEHANDLE`, `LINEERR_INVALADDRESSID`.
    pub fn address_status(
        &self,
        line: LineId,
        address_id: u32,
    ) -> Result<AddressStatus, LineError> {
        let l = self
            .live_line(line)
            .map_err(|_| LineError::InvalLineHandle)?;
        if address_id != 0 {
            return Err(LineError::InvalAddressId);
        }
        let (active, held, pending) = self.counts(line.0);
        let mut forward: Vec<ForwardEntry> = l
            .forwarding
            .iter()
            .filter_map(|(kind, dest)| {
                forward_mode(kind).map(|mode| ForwardEntry {
                    mode,
                    caller: None,
                    dest: dest.clone(),
                })
            })
            .collect();
        if l.dnd {
            forward.insert(
                0,
                ForwardEntry {
                    mode: LINEFORWARDMODE_UNCOND,
                    caller: None,
                    dest: None,
                },
            );
        }
        let in_service = l.sync == Sync::Ready;
        Ok(AddressStatus {
            num_in_use: u32::from(active + held + pending > 0),
            num_active_calls: active,
            num_on_hold_calls: held,
            num_on_hold_pend_calls: pending,
            address_features: if in_service {
                LINEADDRFEATURE_MAKECALL
                    | LINEADDRFEATURE_FORWARD
                    | LINEADDRFEATURE_FORWARDFWD
                    | LINEADDRFEATURE_FORWARDDND
                    | LINEADDRFEATURE_PICKUP
                    | LINEADDRFEATURE_PICKUPDIRECT
                    | LINEADDRFEATURE_PICKUPGROUP
            } else {
                0
            },
            num_rings_no_answer: 0,
            forward,
        })
    }

    fn party(&self, p: &Party) -> PartyInfo {
        let Some(id) = &p.id else {
            return PartyInfo {
                flags: if p.flags == 0 {
                    LINECALLPARTYID_UNKNOWN
                } else {
                    p.flags
                },
                number: None,
                name: None,
            };
        };
        let name = self
            .lines
            .iter()
            .find(|l| !l.removed && same_device(&l.device, id))
            .map(|l| l.name.clone())
            .filter(|n| n != display_number(id));
        let mut flags = LINECALLPARTYID_ADDRESS;
        if name.is_some() {
            flags |= LINECALLPARTYID_NAME;
        }
        PartyInfo {
            flags,
            number: Some(display_number(id).to_owned()),
            name,
        }
    }

    /// `TSPI_lineGetCallInfo`.
    ///
    /// # Errors
    ///
    /// `LINEERR_INVALCALLHANDLE`.
    pub fn call_info(&self, call: CallHandle) -> Result<CallInfo, LineError> {
        let c = self.call(call).ok_or(LineError::InvalCallHandle)?;
        let line = &self.lines[c.line as usize];
        let mut called = c.parties.called.clone();
        if called.id.is_none() && c.dialled.is_some() {
            called = Party::address(c.dialled.as_deref().unwrap_or_default());
        }
        Ok(CallInfo {
            line_device_id: line.device_id.unwrap_or(0),
            bearer_mode: LINEBEARERMODE_VOICE,
            media_mode: LINEMEDIAMODE_INTERACTIVEVOICE,
            call_states: CALL_STATES,
            origin: c.origin,
            reason: c.reason,
            app_specific: c.app_specific,
            call_id: c.call_id,
            related_call_id: c
                .related
                .and_then(|r| self.call(r))
                .map_or(0, |r| r.call_id),
            caller: self.party(&c.parties.caller),
            called: self.party(&called),
            connected: self.party(&c.parties.connected),
            redirection: self.party(&c.parties.redirection),
            redirecting: self.party(&c.parties.redirecting),
            call_param_flags: 0,
            csta_call_id: c.csta.clone(),
        })
    }

    /// `TSPI_lineGetCallStatus`.
    ///
    /// # Errors
    ///
    /// `LINEERR_INVALCALLHANDLE`.
    pub fn call_status(&self, call: CallHandle) -> Result<CallStatus, LineError> {
        let c = self.call(call).ok_or(LineError::InvalCallHandle)?;
        let (state, mode) = c.reported.unwrap_or((LINECALLSTATE_IDLE, 0));
        let others: Vec<u32> = self
            .line_calls(c.line)
            .into_iter()
            .filter(|h| *h != call)
            .filter_map(|h| self.call(h).map(|o| o.state()))
            .collect();
        let cx = Context {
            other_held: others
                .iter()
                .any(|s| matches!(*s, LINECALLSTATE_ONHOLD | LINECALLSTATE_ONHOLDPENDTRANSFER)),
            other_active: others.iter().any(|s| {
                matches!(
                    *s,
                    LINECALLSTATE_CONNECTED
                        | LINECALLSTATE_RINGBACK
                        | LINECALLSTATE_PROCEEDING
                        | LINECALLSTATE_DIALING
                )
            }),
            consult: match &c.kind {
                Kind::Consult { purpose, .. } => Some(*purpose),
                _ => None,
            },
            bound: c.csta.is_some(),
            member: matches!(c.kind, Kind::Member { .. }),
            conference: c.kind == Kind::Conference,
        };
        let in_service = self.lines[c.line as usize].sync == Sync::Ready;
        let (features, features2) = if in_service && !c.idle {
            features(state, cx)
        } else {
            (0, 0)
        };
        Ok(CallStatus {
            state,
            // The same detail LINE_CALLSTATE carries (LINECALLSTATUS has no
            // conference handle).
            state_mode: if state == LINECALLSTATE_CONFERENCED {
                0
            } else {
                self.state_detail(call, state, mode) as u32
            },
            features,
            features2,
        })
    }
}
