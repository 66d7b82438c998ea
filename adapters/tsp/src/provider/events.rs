//! CSTA events → TAPI messages.

use std::time::Instant;

use csta_core::message::Message;
use csta_core::model::view::{Direction, same_device};
use csta_core::names::{ConnectionState, EventCause};
use csta_core::types::{ConnectionId, DeviceRef};

use super::calls::{Kind, Party};
use super::{CallHandle, Provider, Sync, View, Waiting};
use crate::tapi;

/// Whether a TAPI call waits for a CSTA call to stand for it, and which kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Claim {
    /// A call the device places (MakeCall, lineDial).
    Outgoing,
    /// A call that comes to the device (pickup).
    Incoming,
}

/// The monitor cross-reference ID of an event.
fn xref<'a>(m: &Message<'a>) -> Option<&'a str> {
    let id = match m {
        Message::ServiceInitiatedEvent(e) => e.monitor_cross_ref_id,
        Message::OriginatedEvent(e) => e.monitor_cross_ref_id,
        Message::DeliveredEvent(e) => e.monitor_cross_ref_id,
        Message::EstablishedEvent(e) => e.monitor_cross_ref_id,
        Message::ConnectionClearedEvent(e) => e.monitor_cross_ref_id,
        Message::CallClearedEvent(e) => e.monitor_cross_ref_id,
        Message::HeldEvent(e) => e.monitor_cross_ref_id,
        Message::RetrievedEvent(e) => e.monitor_cross_ref_id,
        Message::TransferedEvent(e) => e.monitor_cross_ref_id,
        Message::ConferencedEvent(e) => e.monitor_cross_ref_id,
        Message::DivertedEvent(e) => e.monitor_cross_ref_id,
        Message::FailedEvent(e) => e.monitor_cross_ref_id,
        Message::NetworkReachedEvent(e) => e.monitor_cross_ref_id,
        Message::DigitsGeneratedEvent(e) => e.monitor_cross_ref_id,
        Message::DoNotDisturbEvent(e) => e.monitor_cross_ref_id,
        Message::ForwardingEvent(e) => e.monitor_cross_ref_id,
        Message::MessageWaitingEvent(e) => e.monitor_cross_ref_id,
        Message::CallInformationEvent(e) => e.monitor_cross_ref_id,
        Message::OutOfServiceEvent(e) => e.monitor_cross_ref_id,
        Message::BackInServiceEvent(e) => e.monitor_cross_ref_id,
        _ => None,
    }?;
    id.0.as_str()
}

fn call_id(c: &ConnectionId<'_>) -> Option<String> {
    c.call_id.map(|t| t.to_string())
}

fn device_of(c: &ConnectionId<'_>) -> Option<String> {
    c.device_id.map(|d| d.id.to_string())
}

fn ref_id(d: &DeviceRef<'_>) -> Option<String> {
    d.device_id().map(|d| d.id.to_string())
}

/// The `LINECALLREASON_*` of a call that arrives with `cause`.
fn reason(cause: Option<&EventCause<'_>>, redirected: bool) -> u32 {
    use EventCause as C;
    match cause {
        Some(C::CallForwardImmediate | C::CallForward) => tapi::LINECALLREASON_FWDUNCOND,
        Some(C::CallForwardBusy) => tapi::LINECALLREASON_FWDBUSY,
        Some(C::CallForwardNoAnswer) => tapi::LINECALLREASON_FWDNOANSWER,
        Some(C::Redirected) => tapi::LINECALLREASON_REDIRECT,
        Some(C::CallPickup) => tapi::LINECALLREASON_PICKUP,
        Some(C::Transfer | C::SingleStepTransfer) => tapi::LINECALLREASON_TRANSFER,
        _ if redirected => tapi::LINECALLREASON_REDIRECT,
        _ => tapi::LINECALLREASON_DIRECT,
    }
}

impl Provider {
    /// An event from the server, on one of the lines' monitors.
    pub(super) fn handle_event(&mut self, now: Instant, message: &Message<'_>) {
        let Some(line) = xref(message).and_then(|x| self.line_by_xref(x)) else {
            log::debug!("{} for no monitor of this provider", message.name());
            return;
        };
        let index = line as usize;
        match message {
            Message::OutOfServiceEvent(_) => {
                log::info!(
                    "line {} is out of service at the server",
                    crate::logging::Pii(&self.lines[index].name)
                );
                let xref = self.lines[index].xref.take();
                self.line_out_of_service(line, Sync::OutOfService);
                // The monitor stays: the server reports BackInService on it.
                self.lines[index].xref = xref;
            }
            Message::BackInServiceEvent(_) => {
                if self.lines[index].sync == Sync::OutOfService {
                    use csta_core::message::monitor::SnapshotDevice;
                    use csta_core::types::DeviceId;
                    self.lines[index].sync = Sync::Snapshot;
                    self.synchronised = false;
                    let device = self.lines[index].device.clone();
                    let m = Message::SnapshotDevice(SnapshotDevice {
                        snapshot_object: DeviceId::new(&device),
                    });
                    self.lines[index].snapshot_from = self.binds;
                    self.send(now, &m, Waiting::Snapshot(line));
                }
            }
            Message::DoNotDisturbEvent(e) => self.set_dnd(line, e.do_not_disturb_on),
            Message::ForwardingEvent(e) => {
                let kind = e.forwarding_type.map_or_else(
                    || "forwardImmediate".to_owned(),
                    |t| t.as_text().to_string(),
                );
                let dest = e.forward_to.map(|d| d.id.to_string());
                self.set_forwarding(line, &kind, dest, e.forward_status);
            }
            Message::MessageWaitingEvent(_) | Message::CallInformationEvent(_) => {}
            _ if self.lines[index].sync == Sync::OutOfService => {}
            _ => self.feed_view(now, line, message),
        }
    }

    /// Feeds a call event (or a snapshot) to the line's view and tells TAPI what
    /// changed.
    pub(super) fn feed_view(&mut self, now: Instant, line: u32, message: &Message<'_>) {
        let index = line as usize;
        self.before_view(line, message);
        if self.lines[index].view.is_none() {
            match View::new(&self.lines[index].device) {
                Ok(v) => self.lines[index].view = Some(Box::new(v)),
                Err(e) => {
                    log::warn!(
                        "line {}: no call view ({e})",
                        crate::logging::Pii(&self.lines[index].name)
                    );
                    return;
                }
            }
        }
        let Some(view) = self.lines[index].view.as_mut() else {
            return;
        };
        let change = match view.handle_message(message) {
            Ok(c) => c,
            Err(e) => {
                log::warn!(
                    "line {}: {} not applied ({e})",
                    crate::logging::Pii(&self.lines[index].name),
                    message.name()
                );
                return;
            }
        };
        // A conference formed on calls TAPI set up takes them over first: the call
        // the ConferencedEvent merges away is a member now, not a call that ended,
        // and each member keeps the party it had (not the added one).
        self.after_view(line, message);
        for removed in change.removed() {
            if let Some(h) = self.call_by_csta(line, removed.call_id()) {
                let mode = removed.disconnect_mode().map(|m| m.value());
                self.call_gone(h, mode);
            }
        }
        let updated: Vec<String> = change.updated().map(str::to_owned).collect();
        let snapshot = matches!(message, Message::SnapshotDeviceResponse(_));
        self.reconcile(now, line, snapshot);
        for id in &updated {
            if let Some(h) = self.call_by_csta(line, id) {
                self.learn(h, message);
            }
        }
        for h in self.line_calls(line) {
            self.sync_call(h);
            self.post_dial(now, h);
        }
        // An idle line keeps no view (memory per line); a pending claim needs none.
        if self.lines[index]
            .view
            .as_ref()
            .is_some_and(|v| v.calls().next().is_none())
        {
            self.lines[index].view = None;
        }
    }

    /// Matches the view's calls with TAPI's: calls TAPI does not know are claimed by a
    /// request waiting for them or offered with `LINE_NEWCALL`; TAPI calls whose CSTA
    /// call is gone go IDLE.
    fn reconcile(&mut self, _now: Instant, line: u32, snapshot: bool) {
        let index = line as usize;
        let snapshot_from = self.lines[index].snapshot_from;
        let Some(view) = self.lines[index].view.as_ref() else {
            return;
        };
        let present: Vec<(String, Direction, ConnectionState)> = view
            .calls()
            .map(|c| (c.call_id().to_owned(), c.direction(), c.local_state()))
            .collect();
        for h in self.line_calls(line) {
            // A snapshot asked for before the call got its CSTA call does not know
            // it (lineMakeCall right after lineOpen, while the line synchronises):
            // that absence says nothing.
            let gone = self.call(h).is_some_and(|c| {
                c.csta
                    .as_deref()
                    .is_some_and(|id| !present.iter().any(|(p, _, _)| p == id))
                    && !(snapshot && c.bound_at > snapshot_from)
            });
            if gone {
                self.call_gone(h, None);
            }
        }
        for (id, direction, state) in present {
            if self.call_by_csta(line, &id).is_some() || self.refused_csta(line, &id) {
                continue;
            }
            if state == ConnectionState::Null {
                continue;
            }
            let want = match direction {
                Direction::Incoming => Some(Claim::Incoming),
                Direction::Outgoing => Some(Claim::Outgoing),
                Direction::Unknown => None,
            };
            let claimer = self.line_calls(line).into_iter().find(|h| {
                self.call(*h).is_some_and(|c| {
                    c.csta.is_none() && c.claim.is_some() && (want.is_none() || c.claim == want)
                })
            });
            match claimer {
                Some(h) => {
                    self.binds += 1;
                    let binds = self.binds;
                    if let Some(c) = self.call_mut(h) {
                        c.csta = Some(id);
                        c.bound_at = binds;
                        c.claim = None;
                        c.synthetic = None;
                    }
                }
                None => self.offer(line, &id, direction),
            }
        }
    }

    /// Whether the CSTA call is one TAPI declined (`LINE_NEWCALL` answered with no
    /// handle): it is followed quietly until it ends.
    fn refused_csta(&self, line: u32, id: &str) -> bool {
        self.call_handles().any(|h| {
            self.call(h)
                .is_some_and(|c| c.line == line && c.declined && c.csta.as_deref() == Some(id))
        })
    }

    /// A call TAPI did not make: `LINE_NEWCALL` on an open line. On a closed line the
    /// view alone follows it; it is offered when the line opens.
    fn offer(&mut self, line: u32, id: &str, direction: Direction) {
        if self.lines[line as usize].open.is_none() {
            return;
        }
        let Ok(h) = self.new_call(line) else {
            log::warn!(
                "line {}: no room for another call; CSTA call {id} is not shown",
                crate::logging::Pii(&self.lines[line as usize].name)
            );
            return;
        };
        let peer = self.lines[line as usize]
            .view
            .as_ref()
            .and_then(|v| v.call(id))
            .and_then(|c| c.peer())
            .map(str::to_owned);
        let peer_is_ours = peer
            .as_deref()
            .is_some_and(|p| self.line_by_device(p).is_some());
        let own = self.lines[line as usize].device.clone();
        self.binds += 1;
        let binds = self.binds;
        let Some(c) = self.call_mut(h) else {
            return;
        };
        c.csta = Some(id.to_owned());
        c.bound_at = binds;
        c.known_to_tapi = true;
        c.origin = match direction {
            Direction::Outgoing => tapi::LINECALLORIGIN_OUTBOUND,
            Direction::Incoming if peer_is_ours => tapi::LINECALLORIGIN_INTERNAL,
            Direction::Incoming => tapi::LINECALLORIGIN_INBOUND,
            Direction::Unknown => tapi::LINECALLORIGIN_UNKNOWN,
        };
        // The other party as the view knows it (a call offered from a snapshot or at
        // lineOpen has had its events already).
        let peer = peer.map(|p| Party::address(&p)).unwrap_or_default();
        match direction {
            Direction::Outgoing => {
                c.parties.caller = Party::address(&own);
                c.parties.called = peer;
            }
            Direction::Incoming => {
                c.parties.called = Party::address(&own);
                c.parties.caller = peer;
            }
            Direction::Unknown => {
                c.parties.called = Party::address(&own);
                c.parties.connected = peer;
            }
        }
        self.out_new_call(line, h);
        // TSPI: LINE_CALLSTATE is the next message of the call after LINE_NEWCALL
        // (also when several calls are offered at once: snapshot, lineOpen).
        self.sync_call(h);
    }

    /// Before the view sees an event: a party leaving a TAPI conference.
    fn before_view(&mut self, line: u32, message: &Message<'_>) {
        let Message::ConnectionClearedEvent(e) = message else {
            return;
        };
        let (Some(id), Some(dropped)) = (
            call_id(&e.dropped_connection),
            device_of(&e.dropped_connection),
        ) else {
            return;
        };
        if same_device(&self.lines[line as usize].device, &dropped) {
            return;
        }
        let Some(conf) = self.call_by_csta(line, &id) else {
            return;
        };
        let members: Vec<CallHandle> = self
            .line_calls(line)
            .into_iter()
            .filter(|m| {
                self.call(*m).is_some_and(|c| {
                    matches!(&c.kind, Kind::Member { conf: of, party: Some(p) }
                        if *of == conf && same_device(p, &dropped))
                })
            })
            .collect();
        let mode = Some(tapi::LINEDISCONNECTMODE_NORMAL);
        for m in members {
            self.call_gone(m, mode);
        }
    }

    /// After the view saw an event: a conference formed on calls TAPI set up.
    fn after_view(&mut self, line: u32, message: &Message<'_>) {
        let Message::ConferencedEvent(e) = message else {
            return;
        };
        let Some(primary) = call_id(&e.primary_old_call) else {
            return;
        };
        let secondary = e.secondary_old_call.as_ref().and_then(call_id);
        let own = self.lines[line as usize].device.clone();
        let parties: Vec<String> = e
            .conference_connections
            .as_ref()
            .map(|l| {
                l.items
                    .iter()
                    .filter_map(|i| {
                        i.endpoint
                            .as_ref()
                            .and_then(ref_id)
                            .or_else(|| i.new_connection.as_ref().and_then(device_of))
                    })
                    .filter(|d| !same_device(d, &own))
                    .collect()
            })
            .unwrap_or_default();
        self.form_conference(line, &primary, secondary.as_deref(), parties);
    }

    /// A TAPI conference on `line` formed as CSTA call `primary` (ECMA-269: the
    /// conference continues as the held call) from `primary` and `secondary`: the
    /// conference call follows `primary`, the calls that joined become its members.
    pub(super) fn form_conference(
        &mut self,
        line: u32,
        primary: &str,
        secondary: Option<&str>,
        parties: Vec<String>,
    ) {
        let conf = self.line_calls(line).into_iter().find(|h| {
            self.call(*h).is_some_and(|c| {
                c.kind == Kind::Conference
                    && (c.csta.is_none() || c.csta.as_deref() == Some(primary))
            })
        });
        let Some(conf) = conf else {
            return;
        };
        let mut turned = 0;
        for h in self.line_calls(line) {
            let Some(c) = self.call(h) else { continue };
            let bound = c.csta.as_deref();
            let joined = bound == Some(primary) || (secondary.is_some() && bound == secondary);
            let ours = matches!(&c.kind, Kind::Member { conf: of, .. } if *of == conf)
                || matches!(&c.kind, Kind::Consult { of, .. } if *of == conf);
            if h == conf || !joined || !ours {
                continue;
            }
            let peer = c
                .parties
                .connected
                .id
                .clone()
                .or_else(|| c.parties.called.id.clone())
                .or_else(|| c.dialled.clone())
                .or_else(|| parties.get(turned).cloned());
            turned += 1;
            if let Some(c) = self.call_mut(h) {
                c.kind = Kind::Member {
                    conf,
                    party: Some(peer.unwrap_or_default()),
                };
                c.csta = None;
                c.related = Some(conf);
                c.info_changed |= tapi::LINECALLINFOSTATE_RELATEDCALLID;
            }
        }
        self.binds += 1;
        let binds = self.binds;
        if let Some(c) = self.call_mut(conf) {
            c.csta = Some(primary.to_owned());
            c.bound_at = binds;
            c.synthetic = None;
            c.consultation = None;
        }
    }

    /// Learns the parties, reason and origin of a call from an event about it.
    fn learn(&mut self, h: CallHandle, message: &Message<'_>) {
        let own = match self.call(h) {
            Some(c) => self.lines[c.line as usize].device.clone(),
            None => return,
        };
        let Some(c) = self.call_mut(h) else {
            return;
        };
        let set = |slot: &mut Party, party: Party, bit: u32, changed: &mut u32| {
            if party.flags != 0 && *slot != party {
                *slot = party;
                *changed |= bit;
            }
        };
        let mut changed = 0;
        match message {
            Message::OriginatedEvent(e) => {
                set(
                    &mut c.parties.caller,
                    Party::from_ref(&e.calling_device),
                    tapi::LINECALLINFOSTATE_CALLERID,
                    &mut changed,
                );
                set(
                    &mut c.parties.called,
                    Party::from_ref(&e.called_device),
                    tapi::LINECALLINFOSTATE_CALLEDID,
                    &mut changed,
                );
            }
            Message::DeliveredEvent(e) => {
                set(
                    &mut c.parties.caller,
                    Party::from_ref(&e.calling_device),
                    tapi::LINECALLINFOSTATE_CALLERID,
                    &mut changed,
                );
                set(
                    &mut c.parties.called,
                    Party::from_ref(&e.called_device),
                    tapi::LINECALLINFOSTATE_CALLEDID,
                    &mut changed,
                );
                if let Some(r) = &e.last_redirection_device {
                    set(
                        &mut c.parties.redirecting,
                        Party::from_ref(r),
                        tapi::LINECALLINFOSTATE_REDIRECTINGID,
                        &mut changed,
                    );
                }
                let alerting_here = e
                    .alerting_device
                    .as_ref()
                    .and_then(ref_id)
                    .is_some_and(|d| same_device(&d, &own))
                    || e.local_connection_info == Some(ConnectionState::Alerting);
                if alerting_here {
                    // `notRequired`, `notKnown` .. say there was no (known) redirection.
                    let redirected = e
                        .last_redirection_device
                        .as_ref()
                        .and_then(ref_id)
                        .is_some_and(|d| !d.is_empty());
                    let r = reason(e.cause.as_ref(), redirected);
                    if c.reason != r && c.reason != tapi::LINECALLREASON_PICKUP {
                        c.reason = r;
                        changed |= tapi::LINECALLINFOSTATE_REASON;
                    }
                }
            }
            Message::EstablishedEvent(e) => {
                let answering = Party::from_ref(&e.answering_device);
                let calling = Party::from_ref(&e.calling_device);
                let answered_here = answering
                    .id
                    .as_deref()
                    .is_some_and(|d| same_device(d, &own));
                let connected = if answered_here { calling } else { answering };
                set(
                    &mut c.parties.connected,
                    connected,
                    tapi::LINECALLINFOSTATE_CONNECTEDID,
                    &mut changed,
                );
                if let Some(r) = &e.last_redirection_device {
                    set(
                        &mut c.parties.redirecting,
                        Party::from_ref(r),
                        tapi::LINECALLINFOSTATE_REDIRECTINGID,
                        &mut changed,
                    );
                }
            }
            Message::DivertedEvent(e) => {
                if let Some(d) = &e.new_destination {
                    set(
                        &mut c.parties.redirection,
                        Party::from_ref(d),
                        tapi::LINECALLINFOSTATE_REDIRECTIONID,
                        &mut changed,
                    );
                }
            }
            Message::TransferedEvent(e) => {
                set(
                    &mut c.parties.connected,
                    Party::from_ref(&e.transferred_to_device),
                    tapi::LINECALLINFOSTATE_CONNECTEDID,
                    &mut changed,
                );
            }
            Message::ConferencedEvent(e) => {
                set(
                    &mut c.parties.connected,
                    Party::from_ref(&e.added_party),
                    tapi::LINECALLINFOSTATE_CONNECTEDID,
                    &mut changed,
                );
            }
            Message::FailedEvent(e) => {
                set(
                    &mut c.parties.called,
                    Party::from_ref(&e.called_device),
                    tapi::LINECALLINFOSTATE_CALLEDID,
                    &mut changed,
                );
            }
            _ => {}
        }
        c.info_changed |= changed;
    }

    /// Digits dialled after a pause go out as DTMF once the call is connected.
    fn post_dial(&mut self, now: Instant, h: CallHandle) {
        use csta_core::message::call::GenerateDigits;
        let Some(c) = self.call(h) else {
            return;
        };
        if c.state() != tapi::LINECALLSTATE_CONNECTED || c.post_dial.is_none() {
            return;
        }
        let Some(id) = c.csta.clone() else {
            return;
        };
        let device = self.lines[c.line as usize].device.clone();
        let Some(digits) = self.call_mut(h).and_then(|c| c.post_dial.take()) else {
            return;
        };
        let m = Message::GenerateDigits(GenerateDigits {
            connection_to_send_digits: ConnectionId::new(&id, &device),
            digit_mode: None,
            characters_to_send: csta_core::xml::Text::new(&digits),
            tone_duration: None,
            pulse_rate: None,
        });
        self.send(
            now,
            &m,
            Waiting::Digits {
                call: h,
                end_to_end: None,
            },
        );
    }

    /// What TAPI wrote back for a `LINE_NEWCALL`: its handle, or 0 when it does not
    /// want the call (the call is then followed quietly until it ends).
    pub fn new_call_delivered(&mut self, call: CallHandle, ht_call: usize) {
        let Some(c) = self.call_mut(call) else {
            return;
        };
        if ht_call == 0 {
            c.known_to_tapi = false;
            c.declined = true;
            c.reported = None;
        } else {
            c.ht_call = ht_call;
        }
    }

    /// Offers every call a line's view holds (the line was just opened).
    pub(super) fn offer_existing(&mut self, line: u32) {
        let calls: Vec<(String, Direction)> = match self.lines[line as usize].view.as_ref() {
            Some(v) => v
                .calls()
                .filter(|c| c.local_state() != ConnectionState::Null)
                .map(|c| (c.call_id().to_owned(), c.direction()))
                .collect(),
            None => return,
        };
        for (id, direction) in calls {
            if self.call_by_csta(line, &id).is_none() && !self.refused_csta(line, &id) {
                self.offer(line, &id, direction);
            }
        }
        for h in self.line_calls(line) {
            self.sync_call(h);
        }
    }
}
