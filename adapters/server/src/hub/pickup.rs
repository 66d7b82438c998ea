//! `DirectedPickupCall` and `GroupPickupCall`, done by the server: phones cannot pick
//! up each other's calls over uaCSTA.
//!
//! 1. The checks: the client may control the picking device and the device the call
//!    alerts at, both are online, and the call alerts there (the server's
//!    [`View`](crate::interface::View)).
//! 2. `DeflectCall` (the alerting connection, to the picking device's canonical ID) to
//!    the ringing phone.
//! 3. The call alerting at the picking device: the phone gives the diverted call an ID
//!    of its own, so the call is recognised by its `DeliveredEvent` there (local state
//!    `alerting`) whose `lastRedirectionDevice` or `calledDevice` names the device it
//!    was picked from, or whose `callingDevice` is the picked call's far end (phones
//!    that follow a 302 often name neither diverting nor original destination), within
//!    [`HubConfig::pickup_timeout`](super::HubConfig::pickup_timeout) of the phone
//!    accepting the deflection. A Delivered that comes before that answer counts too.
//! 4. `AnswerCall` of that connection to the picking phone; on its positive answer
//!    the client gets `DirectedPickupCallResponse` (`GroupPickupCallResponse`) with
//!    `pickedCall` = the picking device's connection.
//!
//! Every failure answers the client once and leaves nothing behind: a phone's
//! `CSTAErrorCode` is passed on as it is, a phone that gives no CSTA answer is
//! `systemResourceAvailibility/generic`, no Delivered in time is
//! `systemResourceAvailibility/generic` too (the call may be ringing at the picking
//! device, unanswered), the picking phone going offline while the pickup waits for
//! the call is `systemResourceAvailibility/deviceOutOfService`, and a phone that goes
//! offline with the hub's request open has that request answered as failed by the
//! session manager (`systemResourceAvailibility/generic`).

use std::time::{Duration, Instant};

use csta_core::Edition;
use csta_core::framing::InvokeId;
use csta_core::message::call::{
    AnswerCall, DeflectCall, DirectedPickupCall, DirectedPickupCallResponse, GroupPickupCall,
    GroupPickupCallResponse,
};
use csta_core::message::{ErrorCode, Kind, Message};
use csta_core::model::view::same_device;
use csta_core::names::{
    ConnectionState, Operation, StateIncompatibility, SubscribedResourceAvailability,
    SystemResourceAvailability,
};
use csta_core::types::{ConnectionId, DeviceId, DeviceRef};

use super::{Hub, Refusal, operation, owned, send_refusal, system};
use crate::interface::{Answer, ClientId, DeviceStatus, Devices};

/// How long the hub waits for a phone's answer to its `DeflectCall` or `AnswerCall`
/// before giving up on the pickup (the session manager answers every request, a SIP
/// transaction ends within 32 s; this only guards against a lost answer).
pub const PHONE_ANSWER_TIMEOUT: Duration = Duration::from_secs(40);

/// Where a pickup stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Step {
    /// The `DeflectCall` is with the ringing phone.
    Deflecting,
    /// The phone deflected; waiting for the call to alert at the picking device.
    Waiting,
    /// The `AnswerCall` is with the picking phone (or about to be sent).
    Answering,
}

/// One pickup under way.
#[derive(Debug)]
pub(super) struct Pickup {
    pub(super) client: ClientId,
    invoke_id: InvokeId,
    edition: Edition,
    /// Answered with `GroupPickupCallResponse` rather than `DirectedPickupCallResponse`.
    group: bool,
    /// The picking device (canonical ID).
    requester: String,
    /// The device the call alerted at (canonical ID).
    from: String,
    /// The call's far end, as the picked-from device's view had it.
    caller: Option<String>,
    step: Step,
    /// The call's ID at the picking device, once it alerts there.
    delivered: Option<String>,
    pub(super) deadline: Instant,
}

/// The text of a device reference that names a device.
fn named(d: &DeviceRef<'_>) -> Option<String> {
    d.device_id().map(|id| owned(&id.id))
}

impl Hub {
    /// `DirectedPickupCall`: checks, then the deflection (see the [module docs](self)).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn directed_pickup(
        &mut self,
        now: Instant,
        id: ClientId,
        user: usize,
        invoke_id: InvokeId,
        edition: Edition,
        r: &DirectedPickupCall<'_>,
        devices: &mut dyn Devices,
    ) {
        let checked = (|| {
            let requester = self.device_for(user, &owned(&r.requesting_device.id), &*devices)?;
            let c = &r.call_to_be_picked_up;
            let (Some(call), Some(from)) = (&c.call_id, &c.device_id) else {
                return Err(operation(Operation::InvalidConnectionId));
            };
            let from = self.device_for(user, &owned(&from.id), &*devices)?;
            if same_device(&from, &requester) {
                return Err(operation(Operation::NotDifferentDevices));
            }
            online(&*devices, &[&requester, &from])?;
            let call = owned(call);
            let view = devices
                .view(&from)
                .ok_or(operation(Operation::InvalidDeviceId))?;
            let Some(c) = view.call(&call) else {
                return Err(operation(Operation::InvalidConnectionId));
            };
            if c.local_state() != ConnectionState::Alerting {
                return Err(ErrorCode::StateIncompatibility(
                    StateIncompatibility::InvalidConnectionState,
                ));
            }
            Ok((requester, from, call, c.peer().map(str::to_owned)))
        })();
        match checked {
            Ok((requester, from, call, caller)) => {
                let target = Target {
                    requester,
                    from,
                    call,
                    caller,
                    group: false,
                };
                self.start_pickup(now, id, invoke_id, edition, target, devices);
            }
            Err(e) => self.refuse(id, invoke_id, edition, e),
        }
    }

    /// `GroupPickupCall`: the oldest call alerting at another device of the group
    /// `pickGroup` names, or of the picking device's own group, that the client may
    /// control; then as a directed pickup.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn group_pickup(
        &mut self,
        now: Instant,
        id: ClientId,
        user: usize,
        invoke_id: InvokeId,
        edition: Edition,
        r: &GroupPickupCall<'_>,
        devices: &mut dyn Devices,
    ) {
        let checked = (|| {
            let requester = self.device_for(user, &owned(&r.new_destination.id), &*devices)?;
            let group = match &r.pick_group {
                Some(g) => {
                    let g = owned(&g.id);
                    if !self.config.pickup_groups.values().any(|x| *x == g) {
                        return Err(operation(Operation::InvalidDeviceId));
                    }
                    g
                }
                None => self
                    .config
                    .pickup_groups
                    .iter()
                    .find(|(d, _)| same_device(d, &requester))
                    .map(|(_, g)| g.clone())
                    .ok_or(operation(Operation::RequestIncompatibleWithObject))?,
            };
            online(&*devices, &[&requester])?;
            let mut best: Option<(Option<Instant>, String, String, Option<String>)> = None;
            for (device, g) in &self.config.pickup_groups {
                if *g != group || same_device(device, &requester) {
                    continue;
                }
                let Some(device) = devices.resolve(device) else {
                    continue;
                };
                if !self.allowed(user, device) || devices.status(device) != DeviceStatus::Online {
                    continue;
                }
                let Some(view) = devices.view(device) else {
                    continue;
                };
                for c in view.calls() {
                    if c.local_state() != ConnectionState::Alerting {
                        continue;
                    }
                    let since = self
                        .alerting_since
                        .get(&(device.to_owned(), c.call_id().to_owned()))
                        .copied();
                    // Calls whose start is known come first, oldest first.
                    let better = best.as_ref().is_none_or(|(b, ..)| match (since, b) {
                        (Some(s), Some(b)) => s < *b,
                        (Some(_), None) => true,
                        _ => false,
                    });
                    if better {
                        best = Some((
                            since,
                            device.to_owned(),
                            c.call_id().to_owned(),
                            c.peer().map(str::to_owned),
                        ));
                    }
                }
            }
            let (_, from, call, caller) = best.ok_or(ErrorCode::StateIncompatibility(
                StateIncompatibility::NoCallToAnswer,
            ))?;
            Ok((requester, from, call, caller))
        })();
        match checked {
            Ok((requester, from, call, caller)) => {
                let target = Target {
                    requester,
                    from,
                    call,
                    caller,
                    group: true,
                };
                self.start_pickup(now, id, invoke_id, edition, target, devices);
            }
            Err(e) => self.refuse(id, invoke_id, edition, e),
        }
    }

    /// Sends the `DeflectCall` and records the pickup.
    fn start_pickup(
        &mut self,
        now: Instant,
        id: ClientId,
        invoke_id: InvokeId,
        edition: Edition,
        t: Target,
        devices: &mut dyn Devices,
    ) {
        let Some(client) = self.clients.get(&id) else {
            return;
        };
        if client.over_limit(&self.config, &t.from) {
            let e = ErrorCode::SubscribedResourceAvailability(
                SubscribedResourceAvailability::OutstandingReqLimitExceeded,
            );
            return self.refuse(id, invoke_id, edition, e);
        }
        let deflect = Message::DeflectCall(DeflectCall {
            call_to_be_diverted: ConnectionId::new(&t.call, &t.from),
            new_destination: DeviceId::new(&t.requester),
        });
        let sent = devices.send(now, &t.from, &deflect);
        drop(deflect);
        let request = match sent {
            Ok(r) => r,
            Err(e) => return self.refuse(id, invoke_id, edition, send_refusal(e)),
        };
        if let Some(c) = self.clients.get_mut(&id) {
            c.pending += 1;
        }
        self.stats.requests_forwarded += 1;
        let n = self.next_pickup;
        self.next_pickup += 1;
        tracing::debug!(client = id.0, pickup = n, from = %t.from, call = %t.call, to = %t.requester, "pickup: deflecting");
        let key = (t.from.clone(), request);
        self.pickups.insert(
            n,
            Pickup {
                client: id,
                invoke_id,
                edition,
                group: t.group,
                requester: t.requester,
                from: t.from,
                caller: t.caller,
                step: Step::Deflecting,
                delivered: None,
                deadline: now + PHONE_ANSWER_TIMEOUT,
            },
        );
        self.add_pickup_request(key, n);
    }

    /// A phone answered one of the hub's pickup requests.
    pub(super) fn pickup_answer(&mut self, now: Instant, n: u64, answer: Answer<'_>) {
        let Some(p) = self.pickups.get_mut(&n) else {
            return;
        };
        let m = match answer {
            Answer::Failed => {
                return self.end_pickup(n, Err(system(SystemResourceAvailability::Generic)));
            }
            Answer::Message(m) => m,
        };
        if m.kind() == Kind::Error {
            tracing::debug!(pickup = n, step = ?p.step, "pickup refused by the phone");
            return self.end_pickup(n, Ok(m));
        }
        match p.step {
            Step::Deflecting => {
                if p.delivered.is_some() {
                    p.step = Step::Answering;
                    self.ready.push(n);
                } else {
                    p.step = Step::Waiting;
                    p.deadline = now + self.config.pickup_timeout;
                }
            }
            Step::Answering => {
                let call = p.delivered.clone().unwrap_or_default();
                let requester = p.requester.clone();
                let picked = Some(ConnectionId::new(&call, &requester));
                let m = if p.group {
                    Message::GroupPickupCallResponse(GroupPickupCallResponse {
                        picked_call: picked,
                    })
                } else {
                    Message::DirectedPickupCallResponse(DirectedPickupCallResponse {
                        picked_call: picked,
                    })
                };
                tracing::debug!(pickup = n, "pickup done");
                self.end_pickup(n, Ok(&m));
            }
            Step::Waiting => {}
        }
    }

    /// An event of `device`: tracks when calls start alerting, and recognises a
    /// pickup's call alerting at the picking device.
    pub(super) fn pickup_event(&mut self, now: Instant, device: &str, event: &Message<'_>) {
        let ended = match event {
            Message::DeliveredEvent(e) => {
                if e.local_connection_info == Some(ConnectionState::Alerting)
                    && let Some(call) = &e.connection.call_id
                {
                    let call = owned(call);
                    self.alerting_since
                        .entry((device.to_owned(), call.clone()))
                        .or_insert(now);
                    self.delivered(device, &call, e);
                }
                None
            }
            Message::EstablishedEvent(e) => e.established_connection.call_id.as_ref(),
            Message::ConnectionClearedEvent(e) => e.dropped_connection.call_id.as_ref(),
            Message::DivertedEvent(e) => e.connection.call_id.as_ref(),
            Message::FailedEvent(e) => e.failed_connection.call_id.as_ref(),
            _ => None,
        };
        if let Some(call) = ended {
            self.alerting_since
                .remove(&(device.to_owned(), owned(call)));
        }
    }

    /// A call `call` alerting at `device`: the call of a pickup to that device?
    fn delivered(
        &mut self,
        device: &str,
        call: &str,
        e: &csta_core::message::event::DeliveredEvent<'_>,
    ) {
        let redirected = e.last_redirection_device.as_ref().and_then(named);
        let called = named(&e.called_device);
        let calling = named(&e.calling_device);
        let found = self.pickups.iter().find_map(|(n, p)| {
            let waiting =
                matches!(p.step, Step::Deflecting | Step::Waiting) && p.delivered.is_none();
            if !waiting || !same_device(&p.requester, device) {
                return None;
            }
            let from = |d: &Option<String>| d.as_deref().is_some_and(|d| same_device(d, &p.from));
            let caller = calling
                .as_deref()
                .zip(p.caller.as_deref())
                .is_some_and(|(a, b)| same_device(a, b));
            (from(&redirected) || from(&called) || caller).then_some(*n)
        });
        let Some(n) = found else {
            return;
        };
        let Some(p) = self.pickups.get_mut(&n) else {
            return;
        };
        tracing::debug!(
            pickup = n,
            call,
            "pickup: the call alerts at the picking device"
        );
        p.delivered = Some(call.to_owned());
        if p.step == Step::Waiting {
            p.step = Step::Answering;
            self.ready.push(n);
        }
    }

    /// Sends the `AnswerCall` of pickup `n` to the picking phone.
    pub(super) fn pickup_answer_call(&mut self, now: Instant, n: u64, devices: &mut dyn Devices) {
        let Some(p) = self.pickups.get(&n) else {
            return;
        };
        let call = p.delivered.clone().unwrap_or_default();
        let requester = p.requester.clone();
        let answer = Message::AnswerCall(AnswerCall {
            call_to_be_answered: ConnectionId::new(&call, &requester),
        });
        let sent = devices.send(now, &requester, &answer);
        drop(answer);
        match sent {
            Ok(request) => {
                tracing::debug!(pickup = n, "pickup: answering");
                self.add_pickup_request((requester, request), n);
                if let Some(p) = self.pickups.get_mut(&n) {
                    p.deadline = now + PHONE_ANSWER_TIMEOUT;
                }
            }
            Err(e) => self.end_pickup(n, Err(send_refusal(e))),
        }
    }

    /// `device` went offline: pickups waiting for a call to alert there end
    /// (`deviceOutOfService`); requests still with it were answered as failed before.
    pub(super) fn pickup_offline(&mut self, device: &str) {
        self.alerting_since.retain(|(d, _), _| d != device);
        let waiting: Vec<u64> = self
            .pickups
            .iter()
            .filter(|(_, p)| p.step == Step::Waiting && p.requester == device)
            .map(|(n, _)| *n)
            .collect();
        for n in waiting {
            self.end_pickup(
                n,
                Err(system(SystemResourceAvailability::DeviceOutOfService)),
            );
        }
    }

    /// Ends the pickups that ran out of time (`systemResourceAvailibility/generic`).
    pub(super) fn pickup_timeouts(&mut self, now: Instant) {
        let due: Vec<u64> = self
            .pickups
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(n, _)| *n)
            .collect();
        for n in due {
            if let Some(p) = self.pickups.get(&n) {
                tracing::info!(pickup = n, step = ?p.step, "pickup timed out");
            }
            self.end_pickup(n, Err(system(SystemResourceAvailability::Generic)));
        }
    }

    /// Answers the client of pickup `n` (with `m`, or a refusal) and forgets the
    /// pickup and its requests.
    fn end_pickup(&mut self, n: u64, result: Result<&Message<'_>, Refusal>) {
        let open: Vec<_> = self
            .pickup_requests
            .iter()
            .filter(|(_, x)| **x == n)
            .map(|(key, _)| key.clone())
            .collect();
        for key in open {
            self.take_pickup_request(&key);
        }
        let Some(p) = self.pickups.remove(&n) else {
            return;
        };
        self.ready.retain(|x| *x != n);
        self.unpend(p.client);
        match result {
            Ok(m) => self.send(p.client, p.invoke_id, p.edition, m),
            Err(e) => self.refuse(p.client, p.invoke_id, p.edition, e),
        }
    }
}

/// What a pickup acts on.
struct Target {
    requester: String,
    from: String,
    call: String,
    caller: Option<String>,
    group: bool,
}

/// `Ok` when every device is online, else `deviceOutOfService`.
fn online(devices: &dyn Devices, list: &[&str]) -> Result<(), Refusal> {
    if list
        .iter()
        .all(|d| devices.status(d) == DeviceStatus::Online)
    {
        Ok(())
    } else {
        Err(system(SystemResourceAvailability::DeviceOutOfService))
    }
}
