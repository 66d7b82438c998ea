//! TAPI requests → CSTA requests.

use std::time::Instant;

use csta_core::message::Message;
use csta_core::message::call::{
    AlternateCall, AnswerCall, ClearConnection, ConferenceCall, DeflectCall, GenerateDigits,
    HoldCall, MakeCall, RetrieveCall, SingleStepTransferCall, TransferCall,
};
use csta_core::message::device::{SetDoNotDisturb, SetForwarding};
use csta_core::model::view::ConsultationPurpose;
use csta_core::names::{AutoOriginate, ForwardingType};
use csta_core::types::{ConnectionId, DeviceId};
use csta_core::xml::Text;

use super::calls::{Kind, Party};
use super::events::Claim;
use super::query::forwarding_types;
use super::{CallHandle, LineError, LineId, Op, Open, Provider, Session, Sync, Waiting};
use crate::dial::{DialError, DialStatus, Dialable, normalise};
use crate::tapi;

impl From<DialError> for LineError {
    fn from(e: DialError) -> LineError {
        match e {
            DialError::PromptNotSupported { .. } => LineError::DialPrompt,
            _ => LineError::InvalAddress,
        }
    }
}

/// How a lineDial or lineMakeCall number ends up.
enum Dialled {
    /// More digits will follow (`;`).
    Partial,
    /// Complete.
    Number(Dialable),
}

impl Provider {
    // ------------------------------------------------------------ checks

    /// The line, if requests can go to it now: its session is up or coming up and it
    /// is not refused or out of service.
    fn usable_line(&self, line: u32) -> Result<(), LineError> {
        let l = self
            .lines
            .get(line as usize)
            .ok_or(LineError::InvalLineHandle)?;
        if l.removed {
            return Err(LineError::NoDevice);
        }
        let coming = matches!(
            self.session,
            Session::Connecting { .. } | Session::Starting { .. }
        );
        match (&self.session, l.sync) {
            (Session::Up { .. }, Sync::Ready | Sync::Monitoring | Sync::Snapshot) => Ok(()),
            (_, Sync::Idle | Sync::Monitoring | Sync::Snapshot) if coming => Ok(()),
            _ => Err(LineError::InvalLineState),
        }
    }

    /// A live call and its line, checked usable.
    fn usable_call(&self, call: CallHandle) -> Result<u32, LineError> {
        let c = self.call(call).ok_or(LineError::InvalCallHandle)?;
        if c.idle {
            return Err(LineError::InvalCallState);
        }
        self.usable_line(c.line)?;
        Ok(c.line)
    }

    /// The call's own connection: its CSTA call ID and the line's device.
    fn connection(&self, call: CallHandle) -> Result<(String, String), LineError> {
        let c = self.call(call).ok_or(LineError::InvalCallHandle)?;
        let id = match &c.kind {
            Kind::Member {
                conf,
                party: Some(_),
            } => self
                .call(*conf)
                .and_then(|conf| conf.csta.clone())
                .ok_or(LineError::InvalCallState)?,
            _ => c.csta.clone().ok_or(LineError::InvalCallState)?,
        };
        Ok((id, self.lines[c.line as usize].device.clone()))
    }

    fn require_state(&self, call: CallHandle, states: &[u32]) -> Result<(), LineError> {
        let state = self.call(call).ok_or(LineError::InvalCallHandle)?.state();
        if states.contains(&state) {
            Ok(())
        } else {
            Err(LineError::InvalCallState)
        }
    }

    /// Starts a request of one CSTA message.
    fn request(
        &mut self,
        now: Instant,
        request_id: u32,
        message: &Message<'_>,
        op: Op,
    ) -> Result<(), LineError> {
        let job = self.new_job(request_id, 1);
        self.send(now, message, Waiting::Request { job, op });
        Ok(())
    }

    fn dial_number(&self, text: &str) -> Result<Dialable, LineError> {
        let d = normalise(text, &self.config.dial)?;
        if d.partial {
            return Err(LineError::InvalAddress);
        }
        Ok(d)
    }

    // ------------------------------------------------------------- lines

    /// `TSPI_lineOpen`: the line is ready at once (Outlook calls lineMakeCall right
    /// after), and the calls it already has are offered.
    ///
    /// # Errors
    ///
    /// `LINEERR_BADDEVICEID` / `LINEERR_NODEVICE`, `LINEERR_ALLOCATED` when it is open.
    pub fn open(&mut self, line: LineId, ht_line: usize) -> Result<(), LineError> {
        let l = self
            .lines
            .get_mut(line.index())
            .ok_or(LineError::BadDeviceId)?;
        if l.removed {
            return Err(LineError::NoDevice);
        }
        if l.open.is_some() {
            return Err(LineError::Allocated);
        }
        l.open = Some(Open {
            ht_line,
            line_states: 0,
            address_states: 0,
            media_modes: 0,
        });
        self.offer_existing(line.0);
        Ok(())
    }

    /// `TSPI_lineClose`: the line's calls are forgotten (TAPI closed them); the line
    /// stays monitored.
    pub fn close(&mut self, line: LineId) {
        let Some(l) = self.lines.get_mut(line.index()) else {
            return;
        };
        l.open = None;
        let handles: Vec<CallHandle> = self
            .call_handles()
            .filter(|h| self.call(*h).is_some_and(|c| c.line == line.0))
            .collect();
        for h in handles {
            self.free_call(h);
        }
    }

    /// `TSPI_lineSetStatusMessages`: which `LINE_LINEDEVSTATE` and
    /// `LINE_ADDRESSSTATE` messages TAPI wants.
    ///
    /// # Errors
    ///
    /// `LINEERR_INVALLINEHANDLE` for a line that is not open.
    pub fn set_status_messages(
        &mut self,
        line: LineId,
        line_states: u32,
        address_states: u32,
    ) -> Result<(), LineError> {
        let open = self
            .lines
            .get_mut(line.index())
            .and_then(|l| l.open.as_mut())
            .ok_or(LineError::InvalLineHandle)?;
        open.line_states = line_states;
        open.address_states = address_states;
        Ok(())
    }

    /// `TSPI_lineSetDefaultMediaDetection`: only interactive voice is offered.
    ///
    /// # Errors
    ///
    /// `LINEERR_INVALLINEHANDLE`, `LINEERR_INVALMEDIAMODE` for other media modes.
    pub fn set_default_media_detection(
        &mut self,
        line: LineId,
        media_modes: u32,
    ) -> Result<(), LineError> {
        let open = self
            .lines
            .get_mut(line.index())
            .and_then(|l| l.open.as_mut())
            .ok_or(LineError::InvalLineHandle)?;
        if media_modes & !(tapi::LINEMEDIAMODE_INTERACTIVEVOICE | tapi::LINEMEDIAMODE_UNKNOWN) != 0
        {
            return Err(LineError::InvalMediaMode);
        }
        open.media_modes = media_modes;
        Ok(())
    }

    // ------------------------------------------------------------- calls

    /// `TSPI_lineCloseCall`: TAPI forgets the call. A call still going on is followed
    /// quietly (so that it is not offered again) until it ends.
    pub fn close_call(&mut self, call: CallHandle) {
        let Some(c) = self.call_mut(call) else {
            return;
        };
        if c.idle || c.csta.is_none() {
            self.free_call(call);
            return;
        }
        c.known_to_tapi = false;
        c.declined = true;
        c.ht_call = 0;
    }

    /// `TSPI_lineSetAppSpecific`.
    ///
    /// # Errors
    ///
    /// `LINEERR_INVALCALLHANDLE`.
    pub fn set_app_specific(&mut self, call: CallHandle, value: u32) -> Result<(), LineError> {
        let c = self.call_mut(call).ok_or(LineError::InvalCallHandle)?;
        if c.app_specific != value {
            c.app_specific = value;
            c.info_changed |= tapi::LINECALLINFOSTATE_APPSPECIFIC;
            self.flush_info(call);
        }
        Ok(())
    }

    /// `TSPI_lineMakeCall`. With a complete number the call is placed at once
    /// (`MakeCall`); without one, or with a partial one (`;`), the call waits in
    /// `DIALTONE` for lineDial. The returned handle is the call's from now on; it gets
    /// no events until the request completes.
    ///
    /// # Errors
    ///
    /// `LINEERR_INVALLINESTATE` (out of service), `LINEERR_INVALADDRESS` /
    /// `LINEERR_DIALPROMPT` (the number), `LINEERR_CALLUNAVAIL` (no room).
    pub fn make_call(
        &mut self,
        now: Instant,
        request_id: u32,
        line: LineId,
        ht_call: usize,
        dest: Option<&str>,
    ) -> Result<CallHandle, LineError> {
        self.usable_line(line.0)?;
        let mut buffer = crate::dial::DialBuffer::default();
        let dialled = match dest.map(str::trim).filter(|d| !d.is_empty()) {
            None => Dialled::Partial,
            Some(d) => match buffer.push(d, &self.config.dial)? {
                DialStatus::Partial => Dialled::Partial,
                DialStatus::Complete(number) => Dialled::Number(number),
            },
        };
        let h = self.new_call(line.0)?;
        let own = self.lines[line.index()].device.clone();
        if let Some(c) = self.call_mut(h) {
            c.ht_call = ht_call;
            c.known_to_tapi = true;
            c.quiet_until = Some(request_id);
            c.origin = tapi::LINECALLORIGIN_OUTBOUND;
            c.parties.caller = Party::address(&own);
            c.dial = buffer;
        }
        match dialled {
            Dialled::Partial => {
                if let Some(c) = self.call_mut(h) {
                    c.synthetic = Some(tapi::LINECALLSTATE_DIALTONE);
                }
                self.new_job(request_id, 0);
            }
            Dialled::Number(number) => self.place(now, request_id, h, number),
        }
        Ok(h)
    }

    /// Sends MakeCall for a call that waits for its CSTA call.
    fn place(&mut self, now: Instant, request_id: u32, h: CallHandle, number: Dialable) {
        let Some(line) = self.call(h).map(|c| c.line) else {
            return;
        };
        let own = self.lines[line as usize].device.clone();
        let Some(c) = self.call_mut(h) else {
            return;
        };
        c.claim = Some(Claim::Outgoing);
        c.dialled = Some(number.number.clone());
        c.post_dial = number.post_dial.clone();
        c.info_changed |= tapi::LINECALLINFOSTATE_CALLEDID;
        let m = Message::MakeCall(MakeCall {
            calling_device: DeviceId::new(&own),
            called_directory_number: DeviceId::new(&number.number),
            account_code: None,
            auth_code: None,
            auto_originate: Some(AutoOriginate::DoNotPrompt),
            correlator_data: None,
        });
        let _ = self.request(now, request_id, &m, Op::Bind(h));
    }

    /// `TSPI_lineDial`: more digits for a call waiting in `DIALTONE` (made without a
    /// number, with a partial one, or a consultation call). A complete number places
    /// the call.
    ///
    /// # Errors
    ///
    /// `LINEERR_INVALCALLSTATE` for a call that already stands for a CSTA call (CSTA
    /// has no overlap dialling), `LINEERR_INVALADDRESS` / `LINEERR_DIALPROMPT`.
    pub fn dial(
        &mut self,
        now: Instant,
        request_id: u32,
        call: CallHandle,
        dest: &str,
    ) -> Result<(), LineError> {
        self.usable_call(call)?;
        let rules = self.config.dial.clone();
        let c = self.call_mut(call).ok_or(LineError::InvalCallHandle)?;
        if c.csta.is_some()
            || c.claim.is_some()
            || c.synthetic != Some(tapi::LINECALLSTATE_DIALTONE)
        {
            return Err(LineError::InvalCallState);
        }
        match c.dial.push(dest, &rules)? {
            DialStatus::Partial => {
                self.new_job(request_id, 0);
            }
            DialStatus::Complete(number) => self.place(now, request_id, call, number),
        }
        Ok(())
    }

    /// `TSPI_lineAnswer`.
    ///
    /// # Errors
    ///
    /// `LINEERR_INVALCALLSTATE` unless the call is offering.
    pub fn answer(
        &mut self,
        now: Instant,
        request_id: u32,
        call: CallHandle,
    ) -> Result<(), LineError> {
        self.usable_call(call)?;
        self.require_state(
            call,
            &[tapi::LINECALLSTATE_OFFERING, tapi::LINECALLSTATE_ACCEPTED],
        )?;
        let (id, device) = self.connection(call)?;
        let m = Message::AnswerCall(AnswerCall {
            call_to_be_answered: ConnectionId::new(&id, &device),
        });
        self.request(now, request_id, &m, Op::Plain)
    }

    /// `TSPI_lineDrop`: the line's connection leaves the call (a conference member's
    /// party is dropped from the conference). A call that is only a dial tone in TAPI
    /// ends at once.
    ///
    /// # Errors
    ///
    /// `LINEERR_INVALCALLSTATE` for an IDLE call or one still being made.
    pub fn drop_call(
        &mut self,
        now: Instant,
        request_id: u32,
        call: CallHandle,
    ) -> Result<(), LineError> {
        let c = self.call(call).ok_or(LineError::InvalCallHandle)?;
        if c.idle {
            return Err(LineError::InvalCallState);
        }
        if c.csta.is_none()
            && !matches!(
                c.kind,
                Kind::Member { party: Some(_), .. } | Kind::Conference
            )
        {
            if c.claim.is_some() {
                return Err(LineError::InvalCallState);
            }
            // Nothing at the phone yet: the dial tone was TAPI's alone.
            self.new_job(request_id, 0);
            self.call_gone(call, Some(tapi::LINEDISCONNECTMODE_NORMAL));
            return Ok(());
        }
        self.usable_call(call)?;
        let (id, device) = match &c.kind {
            Kind::Member {
                party: Some(party), ..
            } if !party.is_empty() => (self.connection(call)?.0, party.clone()),
            _ => self.connection(call)?,
        };
        let m = Message::ClearConnection(ClearConnection {
            connection_to_be_cleared: ConnectionId::new(&id, &device),
            reason: None,
        });
        self.request(now, request_id, &m, Op::Plain)
    }

    /// `TSPI_lineHold`.
    ///
    /// # Errors
    ///
    /// `LINEERR_INVALCALLSTATE` unless the call is connected.
    pub fn hold(
        &mut self,
        now: Instant,
        request_id: u32,
        call: CallHandle,
    ) -> Result<(), LineError> {
        self.usable_call(call)?;
        self.require_state(call, &[tapi::LINECALLSTATE_CONNECTED])?;
        let (id, device) = self.connection(call)?;
        let m = Message::HoldCall(HoldCall {
            call_to_be_held: ConnectionId::new(&id, &device),
            connection_reservation: None,
        });
        self.request(now, request_id, &m, Op::Plain)
    }

    /// `TSPI_lineUnhold`.
    ///
    /// # Errors
    ///
    /// `LINEERR_INVALCALLSTATE` unless the call is on hold.
    pub fn unhold(
        &mut self,
        now: Instant,
        request_id: u32,
        call: CallHandle,
    ) -> Result<(), LineError> {
        self.usable_call(call)?;
        self.require_state(
            call,
            &[
                tapi::LINECALLSTATE_ONHOLD,
                tapi::LINECALLSTATE_ONHOLDPENDTRANSFER,
                tapi::LINECALLSTATE_ONHOLDPENDCONF,
            ],
        )?;
        let (id, device) = self.connection(call)?;
        let m = Message::RetrieveCall(RetrieveCall {
            call_to_be_retrieved: ConnectionId::new(&id, &device),
        });
        self.request(now, request_id, &m, Op::Plain)
    }

    /// `TSPI_lineSwapHold`: `AlternateCall` (the active call goes on hold, the held
    /// one is retrieved).
    ///
    /// # Errors
    ///
    /// `LINEERR_INVALCALLSTATE` unless one is active and the other held.
    pub fn swap_hold(
        &mut self,
        now: Instant,
        request_id: u32,
        active: CallHandle,
        held: CallHandle,
    ) -> Result<(), LineError> {
        self.usable_call(active)?;
        self.usable_call(held).map_err(|e| match e {
            LineError::InvalCallHandle => LineError::InvalConsultCallHandle,
            e => e,
        })?;
        self.require_state(active, &[tapi::LINECALLSTATE_CONNECTED])?;
        self.require_state(
            held,
            &[
                tapi::LINECALLSTATE_ONHOLD,
                tapi::LINECALLSTATE_ONHOLDPENDTRANSFER,
                tapi::LINECALLSTATE_ONHOLDPENDCONF,
            ],
        )?;
        let (active_id, device) = self.connection(active)?;
        let (held_id, _) = self.connection(held)?;
        let m = Message::AlternateCall(AlternateCall {
            held_call: ConnectionId::new(&held_id, &device),
            active_call: ConnectionId::new(&active_id, &device),
        });
        self.request(now, request_id, &m, Op::Plain)
    }

    /// `TSPI_lineBlindTransfer`: `SingleStepTransferCall`.
    ///
    /// # Errors
    ///
    /// `LINEERR_INVALCALLSTATE` unless connected, `LINEERR_INVALADDRESS`.
    pub fn blind_transfer(
        &mut self,
        now: Instant,
        request_id: u32,
        call: CallHandle,
        dest: &str,
    ) -> Result<(), LineError> {
        self.usable_call(call)?;
        self.require_state(
            call,
            &[tapi::LINECALLSTATE_CONNECTED, tapi::LINECALLSTATE_ONHOLD],
        )?;
        let number = self.dial_number(dest)?;
        let (id, device) = self.connection(call)?;
        let m = Message::SingleStepTransferCall(SingleStepTransferCall {
            active_call: ConnectionId::new(&id, &device),
            transferred_to: DeviceId::new(&number.number),
            account_code: None,
            auth_code: None,
        });
        self.request(now, request_id, &m, Op::Plain)
    }

    /// `TSPI_lineRedirect`: `DeflectCall` of an offering call.
    ///
    /// # Errors
    ///
    /// `LINEERR_INVALCALLSTATE` unless offering, `LINEERR_INVALADDRESS`.
    pub fn redirect(
        &mut self,
        now: Instant,
        request_id: u32,
        call: CallHandle,
        dest: &str,
    ) -> Result<(), LineError> {
        self.usable_call(call)?;
        self.require_state(
            call,
            &[tapi::LINECALLSTATE_OFFERING, tapi::LINECALLSTATE_ACCEPTED],
        )?;
        let number = self.dial_number(dest)?;
        let (id, device) = self.connection(call)?;
        let m = Message::DeflectCall(DeflectCall {
            call_to_be_diverted: ConnectionId::new(&id, &device),
            new_destination: DeviceId::new(&number.number),
        });
        self.request(now, request_id, &m, Op::Plain)
    }

    /// A consultation call for `primary` (or for the conference `of`), waiting in
    /// `DIALTONE` for lineDial; quiet until `request_id` completes.
    fn consultation(
        &mut self,
        request_id: u32,
        line: u32,
        of: CallHandle,
        ht_call: usize,
        purpose: ConsultationPurpose,
    ) -> Result<CallHandle, LineError> {
        let h = self.new_call(line)?;
        let own = self.lines[line as usize].device.clone();
        if let Some(c) = self.call_mut(h) {
            c.kind = Kind::Consult { of, purpose };
            c.ht_call = ht_call;
            c.known_to_tapi = true;
            c.quiet_until = Some(request_id);
            c.synthetic = Some(tapi::LINECALLSTATE_DIALTONE);
            c.origin = tapi::LINECALLORIGIN_OUTBOUND;
            c.parties.caller = Party::address(&own);
            c.related = Some(of);
        }
        Ok(h)
    }

    /// `TSPI_lineSetupTransfer`: the call goes on hold (`HoldCall`) pending transfer
    /// and a consultation call waits in `DIALTONE` for lineDial.
    ///
    /// # Errors
    ///
    /// `LINEERR_INVALCALLSTATE` unless connected, `LINEERR_CALLUNAVAIL`.
    pub fn setup_transfer(
        &mut self,
        now: Instant,
        request_id: u32,
        call: CallHandle,
        ht_consult: usize,
    ) -> Result<CallHandle, LineError> {
        let line = self.usable_call(call)?;
        self.require_state(call, &[tapi::LINECALLSTATE_CONNECTED])?;
        let (id, device) = self.connection(call)?;
        let consult = self.consultation(
            request_id,
            line,
            call,
            ht_consult,
            ConsultationPurpose::Transfer,
        )?;
        let restore = self
            .call(call)
            .map(|c| c.kind.clone())
            .unwrap_or(Kind::Plain);
        if let Some(c) = self.call_mut(call) {
            c.consultation = Some((consult, ConsultationPurpose::Transfer));
        }
        let m = Message::HoldCall(HoldCall {
            call_to_be_held: ConnectionId::new(&id, &device),
            connection_reservation: None,
        });
        self.request(
            now,
            request_id,
            &m,
            Op::ConsultReady {
                primary: call,
                created: vec![consult],
                restore,
            },
        )?;
        Ok(consult)
    }

    /// `TSPI_lineCompleteTransfer`: `TransferCall` of the held call to the
    /// consultation call's party, or in conference mode `ConferenceCall` of the two
    /// into a new conference call (returned).
    ///
    /// # Errors
    ///
    /// `LINEERR_INVALTRANSFERMODE`, `LINEERR_INVALCONSULTCALLHANDLE`,
    /// `LINEERR_INVALCALLSTATE` unless one call is held and the other active.
    pub fn complete_transfer(
        &mut self,
        now: Instant,
        request_id: u32,
        call: CallHandle,
        consult: CallHandle,
        ht_conf: usize,
        mode: u32,
    ) -> Result<Option<CallHandle>, LineError> {
        if mode != tapi::LINETRANSFERMODE_TRANSFER && mode != tapi::LINETRANSFERMODE_CONFERENCE {
            return Err(LineError::InvalTransferMode);
        }
        let line = self.usable_call(call)?;
        if self.call(consult).is_none_or(|c| c.line != line || c.idle) {
            return Err(LineError::InvalConsultCallHandle);
        }
        let held_states = [
            tapi::LINECALLSTATE_ONHOLD,
            tapi::LINECALLSTATE_ONHOLDPENDTRANSFER,
            tapi::LINECALLSTATE_ONHOLDPENDCONF,
        ];
        let active_states = [
            tapi::LINECALLSTATE_CONNECTED,
            tapi::LINECALLSTATE_RINGBACK,
            tapi::LINECALLSTATE_PROCEEDING,
        ];
        // TAPI names the primary (held) call first; tolerate either order.
        let (held, active) = if self.require_state(call, &held_states).is_ok() {
            (call, consult)
        } else {
            (consult, call)
        };
        self.require_state(held, &held_states)?;
        self.require_state(active, &active_states)?;
        let (held_id, device) = self.connection(held)?;
        let (active_id, _) = self.connection(active)?;
        let held_conn = ConnectionId::new(&held_id, &device);
        let active_conn = ConnectionId::new(&active_id, &device);
        if mode == tapi::LINETRANSFERMODE_TRANSFER {
            let m = Message::TransferCall(TransferCall {
                held_call: held_conn,
                active_call: active_conn,
            });
            self.request(now, request_id, &m, Op::Plain)?;
            return Ok(None);
        }
        let conf = self.new_call(line)?;
        let restore: Vec<(CallHandle, Kind)> = [held, active]
            .iter()
            .filter_map(|h| self.call(*h).map(|c| (*h, c.kind.clone())))
            .collect();
        if let Some(c) = self.call_mut(conf) {
            c.kind = Kind::Conference;
            c.ht_call = ht_conf;
            c.known_to_tapi = true;
            c.quiet_until = Some(request_id);
            c.origin = tapi::LINECALLORIGIN_CONFERENCE;
        }
        for h in [held, active] {
            if let Some(c) = self.call_mut(h) {
                c.kind = Kind::Member { conf, party: None };
                c.related = Some(conf);
            }
        }
        let m = Message::ConferenceCall(ConferenceCall {
            held_call: held_conn,
            active_call: active_conn,
        });
        self.request(now, request_id, &m, Op::Conference { conf, restore })?;
        Ok(Some(conf))
    }

    /// `TSPI_lineSetupConference`: the call goes on hold (`HoldCall`) and becomes the
    /// first member of a new conference call (`ONHOLDPENDCONF`); a consultation call
    /// waits in `DIALTONE` for the party to add. Returns (conference, consultation).
    ///
    /// # Errors
    ///
    /// `LINEERR_INVALCALLHANDLE` for no call (a conference from nothing is not
    /// offered), `LINEERR_INVALCALLSTATE` unless connected, `LINEERR_CONFERENCEFULL`
    /// for more than three parties.
    pub fn setup_conference(
        &mut self,
        now: Instant,
        request_id: u32,
        call: CallHandle,
        ht_conf: usize,
        ht_consult: usize,
        num_parties: u32,
    ) -> Result<(CallHandle, CallHandle), LineError> {
        let line = self.usable_call(call)?;
        if num_parties > 3 {
            return Err(LineError::ConferenceFull);
        }
        self.require_state(call, &[tapi::LINECALLSTATE_CONNECTED])?;
        let (id, device) = self.connection(call)?;
        let conf = self.new_call(line)?;
        let consult = match self.consultation(
            request_id,
            line,
            conf,
            ht_consult,
            ConsultationPurpose::Conference,
        ) {
            Ok(h) => h,
            Err(e) => {
                self.free_call(conf);
                return Err(e);
            }
        };
        if let Some(c) = self.call_mut(conf) {
            c.kind = Kind::Conference;
            c.ht_call = ht_conf;
            c.known_to_tapi = true;
            c.quiet_until = Some(request_id);
            c.synthetic = Some(tapi::LINECALLSTATE_ONHOLDPENDCONF);
            c.origin = tapi::LINECALLORIGIN_CONFERENCE;
        }
        let restore = self
            .call(call)
            .map(|c| c.kind.clone())
            .unwrap_or(Kind::Plain);
        if let Some(c) = self.call_mut(call) {
            c.kind = Kind::Member { conf, party: None };
            c.related = Some(conf);
        }
        let m = Message::HoldCall(HoldCall {
            call_to_be_held: ConnectionId::new(&id, &device),
            connection_reservation: None,
        });
        self.request(
            now,
            request_id,
            &m,
            Op::ConsultReady {
                primary: call,
                created: vec![consult, conf],
                restore,
            },
        )?;
        Ok((conf, consult))
    }

    /// `TSPI_linePrepareAddToConference`: the conference goes on hold and a
    /// consultation call waits in `DIALTONE` for the next party.
    ///
    /// # Errors
    ///
    /// `LINEERR_INVALCONFCALLHANDLE` for a call that is not a TAPI conference,
    /// `LINEERR_INVALCALLSTATE` unless it is connected.
    pub fn prepare_add_to_conference(
        &mut self,
        now: Instant,
        request_id: u32,
        conf: CallHandle,
        ht_consult: usize,
    ) -> Result<CallHandle, LineError> {
        let line = self.usable_call(conf)?;
        if self.call(conf).is_none_or(|c| c.kind != Kind::Conference) {
            return Err(LineError::InvalConfCallHandle);
        }
        self.require_state(conf, &[tapi::LINECALLSTATE_CONNECTED])?;
        let (id, device) = self.connection(conf)?;
        let consult = self.consultation(
            request_id,
            line,
            conf,
            ht_consult,
            ConsultationPurpose::Conference,
        )?;
        if let Some(c) = self.call_mut(conf) {
            c.consultation = Some((consult, ConsultationPurpose::Conference));
        }
        let m = Message::HoldCall(HoldCall {
            call_to_be_held: ConnectionId::new(&id, &device),
            connection_reservation: None,
        });
        self.request(
            now,
            request_id,
            &m,
            Op::ConsultReady {
                primary: conf,
                created: vec![consult],
                restore: Kind::Conference,
            },
        )?;
        Ok(consult)
    }

    /// `TSPI_lineAddToConference`: `ConferenceCall` of the conference's held call and
    /// the consultation call.
    ///
    /// # Errors
    ///
    /// `LINEERR_INVALCONFCALLHANDLE`, `LINEERR_INVALCONSULTCALLHANDLE`,
    /// `LINEERR_INVALCALLSTATE` unless the consultation call is connected.
    pub fn add_to_conference(
        &mut self,
        now: Instant,
        request_id: u32,
        conf: CallHandle,
        consult: CallHandle,
    ) -> Result<(), LineError> {
        let line = self.usable_call(conf)?;
        if self.call(conf).is_none_or(|c| c.kind != Kind::Conference) {
            return Err(LineError::InvalConfCallHandle);
        }
        if self.call(consult).is_none_or(|c| c.line != line || c.idle) {
            return Err(LineError::InvalConsultCallHandle);
        }
        self.require_state(
            consult,
            &[
                tapi::LINECALLSTATE_CONNECTED,
                tapi::LINECALLSTATE_RINGBACK,
                tapi::LINECALLSTATE_PROCEEDING,
            ],
        )?;
        // The held side: the conference's own CSTA call once formed, else the first
        // member (the original call, still itself while the conference is set up).
        let held = match self.call(conf).and_then(|c| c.csta.clone()) {
            Some(_) => conf,
            None => self
                .line_calls(line)
                .into_iter()
                .find(|h| {
                    self.call(*h).is_some_and(|c| {
                        matches!(c.kind, Kind::Member { conf: of, party: None } if of == conf)
                            && c.csta.is_some()
                    })
                })
                .ok_or(LineError::InvalCallState)?,
        };
        let (held_id, device) = self.connection(held)?;
        let (active_id, _) = self.connection(consult)?;
        let restore = self
            .call(consult)
            .map(|c| vec![(consult, c.kind.clone())])
            .unwrap_or_default();
        if let Some(c) = self.call_mut(consult) {
            c.kind = Kind::Member { conf, party: None };
        }
        let m = Message::ConferenceCall(ConferenceCall {
            held_call: ConnectionId::new(&held_id, &device),
            active_call: ConnectionId::new(&active_id, &device),
        });
        self.request(now, request_id, &m, Op::Conference { conf, restore })
    }

    /// `TSPI_lineRemoveFromConference`: `ClearConnection` of the member's party in the
    /// conference's CSTA call.
    ///
    /// # Errors
    ///
    /// `LINEERR_INVALCALLSTATE` for a call that is not a conference member.
    pub fn remove_from_conference(
        &mut self,
        now: Instant,
        request_id: u32,
        call: CallHandle,
    ) -> Result<(), LineError> {
        self.usable_call(call)?;
        let party = match self.call(call).map(|c| &c.kind) {
            Some(Kind::Member { party: Some(p), .. }) if !p.is_empty() => p.clone(),
            _ => return Err(LineError::InvalCallState),
        };
        let (id, _) = self.connection(call)?;
        let m = Message::ClearConnection(ClearConnection {
            connection_to_be_cleared: ConnectionId::new(&id, &party),
            reason: None,
        });
        self.request(now, request_id, &m, Op::Plain)
    }

    /// `TSPI_linePickup`: `DirectedPickupCall` of the call ringing at `dest`, or
    /// `GroupPickupCall` (of `group`, or the line's own group) without one. The new
    /// call is the line's from now on, quiet until the request completes.
    ///
    /// # Errors
    ///
    /// `LINEERR_INVALLINESTATE`, `LINEERR_INVALADDRESS`, `LINEERR_CALLUNAVAIL`.
    pub fn pickup(
        &mut self,
        now: Instant,
        request_id: u32,
        line: LineId,
        ht_call: usize,
        dest: Option<&str>,
        group: Option<&str>,
    ) -> Result<CallHandle, LineError> {
        use csta_core::message::call::{DirectedPickupCall, GroupPickupCall};
        self.usable_line(line.0)?;
        let own = self.lines[line.index()].device.clone();
        let target = match dest.map(str::trim).filter(|d| !d.is_empty()) {
            Some(d) => Some(self.dial_number(d)?.number),
            None => None,
        };
        // The call to pick up, when the ringing device is one of this provider's
        // lines: its CSTA call ID names it exactly.
        let ringing = target.as_deref().and_then(|t| {
            let l = self.line_by_device(t)?;
            let view = self.lines[l as usize].view.as_ref()?;
            view.calls()
                .find(|c| c.local_state() == csta_core::names::ConnectionState::Alerting)
                .map(|c| {
                    (
                        c.call_id().to_owned(),
                        self.lines[l as usize].device.clone(),
                    )
                })
        });
        let h = self.new_call(line.0)?;
        if let Some(c) = self.call_mut(h) {
            c.ht_call = ht_call;
            c.known_to_tapi = true;
            c.quiet_until = Some(request_id);
            c.claim = Some(Claim::Incoming);
            c.origin = tapi::LINECALLORIGIN_INBOUND;
            c.reason = tapi::LINECALLREASON_PICKUP;
            c.parties.called = Party::address(&own);
        }
        let m = match &target {
            Some(t) => {
                let (call_id, device) = match &ringing {
                    Some((id, device)) => (Some(Text::new(id)), device.as_str()),
                    None => (None, t.as_str()),
                };
                Message::DirectedPickupCall(DirectedPickupCall {
                    call_to_be_picked_up: ConnectionId {
                        call_id,
                        device_id: Some(DeviceId::new(device)),
                    },
                    requesting_device: DeviceId::new(&own),
                    correlator_data: None,
                })
            }
            None => Message::GroupPickupCall(GroupPickupCall {
                new_destination: DeviceId::new(&own),
                pick_group: group
                    .map(str::trim)
                    .filter(|g| !g.is_empty())
                    .map(DeviceId::new),
                correlator_data: None,
            }),
        };
        self.request(now, request_id, &m, Op::Bind(h))?;
        Ok(h)
    }

    /// `TSPI_lineForward`: the address's forwarding becomes exactly `list` (`None`:
    /// everything off, do-not-disturb included). `UNCOND` to no address is
    /// do-not-disturb. One `SetForwarding` or `SetDoNotDisturb` per change; the
    /// request completes when all are answered (with the first error).
    ///
    /// # Errors
    ///
    /// `LINEERR_INVALADDRESSID`, `LINEERR_INVALPARAM` for a mode CSTA has no
    /// forwarding for, `LINEERR_INVALADDRESS`.
    pub fn forward(
        &mut self,
        now: Instant,
        request_id: u32,
        line: LineId,
        address_id: Option<u32>,
        list: Option<&[super::ForwardEntry]>,
        rings: u32,
    ) -> Result<(), LineError> {
        self.usable_line(line.0)?;
        if address_id.is_some_and(|a| a != 0) {
            return Err(LineError::InvalAddressId);
        }
        let mut dnd = false;
        let mut wanted: Vec<(&'static str, String)> = Vec::new();
        for entry in list.unwrap_or_default() {
            let dest = entry
                .dest
                .as_deref()
                .map(str::trim)
                .filter(|d| !d.is_empty());
            match (entry.mode, dest) {
                (tapi::LINEFORWARDMODE_UNCOND, None) => dnd = true,
                (_, None) => return Err(LineError::InvalAddress),
                (mode, Some(d)) => {
                    let types = forwarding_types(mode).ok_or(LineError::InvalForwardList)?;
                    let number = self.dial_number(d)?.number;
                    for t in types {
                        wanted.retain(|(k, _)| k != t);
                        wanted.push((t, number.clone()));
                    }
                }
            }
        }
        let l = &self.lines[line.index()];
        let device = l.device.clone();
        let dnd_change = l.dnd != dnd;
        let current = l.forwarding.clone();
        let mut off: Vec<String> = current
            .iter()
            .filter(|(k, _)| !wanted.iter().any(|(w, _)| w == k))
            .map(|(k, _)| k.clone())
            .collect();
        off.sort();
        off.dedup();
        let mut changes: Vec<(String, Option<String>, bool)> =
            off.into_iter().map(|k| (k, None, false)).collect();
        for (kind, dest) in &wanted {
            let same = current
                .iter()
                .any(|(k, d)| k == kind && d.as_deref() == Some(dest.as_str()));
            if !same {
                changes.push(((*kind).to_owned(), Some(dest.clone()), true));
            }
        }
        let mut messages: Vec<(Message<'_>, Op)> = Vec::new();
        if dnd_change {
            messages.push((
                Message::SetDoNotDisturb(SetDoNotDisturb {
                    device: DeviceId::new(&device),
                    do_not_disturb_on: dnd,
                }),
                Op::Dnd {
                    line: line.0,
                    on: dnd,
                },
            ));
        }
        for (kind, dest, on) in &changes {
            let ring_count =
                (*on && kind.starts_with("forwardNoAns") && rings > 0).then_some(rings);
            messages.push((
                Message::SetForwarding(SetForwarding {
                    device: DeviceId::new(&device),
                    forwarding_type: ForwardingType::from_text(Text::new(kind)),
                    activate_forward: *on,
                    forward_dn: dest.as_deref().map(DeviceId::new),
                    ring_count,
                    ring_duration: None,
                }),
                Op::Forward {
                    line: line.0,
                    kind: kind.clone(),
                    dest: dest.clone(),
                    on: *on,
                },
            ));
        }
        let job = self.new_job(request_id, messages.len() as u32);
        for (m, op) in messages {
            self.send(now, &m, Waiting::Request { job, op });
        }
        Ok(())
    }

    /// `TSPI_lineGenerateDigits`: `GenerateDigits` on the call's connection; TAPI
    /// hears `LINE_GENERATE` (`DONE`, or `CANCEL` when refused) with `end_to_end`.
    /// `None` digits (cancel) has nothing to cancel: CSTA sends digits at once.
    ///
    /// # Errors
    ///
    /// `LINEERR_INVALDIGITMODE` for pulse, `LINEERR_INVALDIGITS` for characters DTMF
    /// does not have, `LINEERR_INVALCALLSTATE` unless connected.
    pub fn generate_digits(
        &mut self,
        now: Instant,
        call: CallHandle,
        end_to_end: u32,
        mode: u32,
        digits: Option<&str>,
    ) -> Result<(), LineError> {
        self.usable_call(call)?;
        let Some(digits) = digits else {
            return Ok(());
        };
        if mode != tapi::LINEDIGITMODE_DTMF && mode != tapi::LINEDIGITMODE_DTMFEND {
            return Err(LineError::InvalDigitMode);
        }
        if digits.is_empty()
            || !digits
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '*' | '#' | 'A'..='D' | 'a'..='d' | ','))
        {
            return Err(LineError::InvalDigits);
        }
        self.require_state(call, &[tapi::LINECALLSTATE_CONNECTED])?;
        let (id, device) = self.connection(call)?;
        let m = Message::GenerateDigits(GenerateDigits {
            connection_to_send_digits: ConnectionId::new(&id, &device),
            digit_mode: None,
            characters_to_send: Text::new(digits),
            tone_duration: None,
            pulse_rate: None,
        });
        self.send(
            now,
            &m,
            Waiting::Digits {
                call,
                end_to_end: Some(end_to_end),
            },
        );
        Ok(())
    }

    // ------------------------------------------------------------ answers

    /// A CSTA answer to part of a TAPI request.
    pub(super) fn request_answer(&mut self, now: Instant, job: u32, op: Op, message: &Message<'_>) {
        if let Message::CSTAErrorCode(e) = message {
            let error = LineError::from_csta(e);
            log::info!("request refused by the server: {error}");
            self.undo_op(now, &op);
            self.finish_job(job, Err(error));
            return;
        }
        match op {
            Op::Plain | Op::ConsultReady { .. } => {}
            Op::Bind(h) => {
                let id = match message {
                    Message::MakeCallResponse(r) => r.calling_device.call_id,
                    Message::DirectedPickupCallResponse(r) => {
                        r.picked_call.as_ref().and_then(|c| c.call_id)
                    }
                    Message::GroupPickupCallResponse(r) => {
                        r.picked_call.as_ref().and_then(|c| c.call_id)
                    }
                    _ => None,
                };
                if let Some(id) = id.map(|t| t.to_string()) {
                    self.bind(h, &id);
                }
            }
            Op::Conference { conf, .. } => {
                if let Message::ConferenceCallResponse(r) = message
                    && let Some(id) = r.conference_call.call_id
                {
                    let line = self.call(conf).map(|c| c.line);
                    if let Some(line) = line
                        && self.call(conf).is_some_and(|c| c.csta.is_none())
                    {
                        self.form_conference(line, &id.to_string(), None, Vec::new());
                    }
                }
            }
            Op::Dnd { line, on } => self.set_dnd(line, on),
            Op::Forward {
                line,
                kind,
                dest,
                on,
            } => self.set_forwarding(line, &kind, dest, on),
        }
        self.finish_job(job, Ok(()));
        let handles: Vec<CallHandle> = self.call_handles().collect();
        for h in handles {
            self.sync_call(h);
        }
    }

    /// Binds a call to the CSTA call a response named (a claim may have bound it to
    /// the wrong one while events raced the response).
    fn bind(&mut self, h: CallHandle, id: &str) {
        let Some(line) = self.call(h).map(|c| c.line) else {
            return;
        };
        if let Some(other) = self.call_by_csta(line, id)
            && other != h
        {
            // Offered as a new call before the response said it was this one.
            self.call_gone(other, None);
        }
        self.binds += 1;
        let binds = self.binds;
        if let Some(c) = self.call_mut(h) {
            c.csta = Some(id.to_owned());
            c.bound_at = binds;
            c.claim = None;
            c.synthetic = None;
        }
    }

    /// Undoes what a request set up before its CSTA answer, when it failed.
    pub(super) fn undo_op(&mut self, _now: Instant, op: &Op) {
        match op {
            Op::Bind(h) => {
                let created = self.call(*h).is_some_and(|c| c.quiet_until.is_some());
                if created {
                    // The request that created the call failed: TAPI drops the handle.
                    self.free_call(*h);
                } else if let Some(c) = self.call_mut(*h) {
                    // lineDial failed: the call is back at its dial tone.
                    c.claim = None;
                    c.dial.clear();
                }
            }
            Op::ConsultReady {
                primary,
                created,
                restore,
            } => {
                for h in created {
                    self.free_call(*h);
                }
                if let Some(c) = self.call_mut(*primary) {
                    c.kind = restore.clone();
                    c.consultation = None;
                    c.related = None;
                }
            }
            Op::Conference { conf, restore } => {
                let created = self.call(*conf).is_some_and(|c| c.quiet_until.is_some());
                if created {
                    self.free_call(*conf);
                }
                for (h, kind) in restore {
                    if let Some(c) = self.call_mut(*h) {
                        c.kind = kind.clone();
                        if created {
                            c.related = None;
                        }
                    }
                }
            }
            Op::Plain | Op::Dnd { .. } | Op::Forward { .. } => {}
        }
    }
}
