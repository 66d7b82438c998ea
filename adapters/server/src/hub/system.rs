//! The hub's system services: `GetSwitchingFunctionDevices` and its
//! `SwitchingFunctionDevices` segments, `SystemRegister` / `SystemRegisterCancel`,
//! `SwitchingFunctionDevicesChanged`, and what a new configuration changes for the
//! connected clients.

use csta_core::Edition;
use csta_core::framing::InvokeId;
use csta_core::message::monitor::MonitorStop;
use csta_core::message::session::{ApplicationSessionTerminated, SessionTermReason};
use csta_core::message::system::{
    DEVICE_LIST_MAX, DeviceEntry, DeviceList, GetSwitchingFunctionDevices,
    GetSwitchingFunctionDevicesResponse, RequestTypes, SwitchingFunctionDevices,
    SwitchingFunctionDevicesChanged, SystemRegister, SystemRegisterCancelResponse,
    SystemRegisterResponse,
};
use csta_core::message::{ErrorCode, Message};
use csta_core::model::view::same_device;
use csta_core::names::{
    DeviceCategory, Operation, ReqDeviceCategory, SubscribedResourceAvailability,
};
use csta_core::types::{CrossRefId, PlainDeviceId};
use csta_core::xml::Text;

use super::{ClientOutput, Hub, HubConfig, Stage, operation, owned};
use crate::interface::{ClientId, Devices};

/// One `SystemRegister` of a client.
#[derive(Debug)]
pub(super) struct Registration {
    pub(super) client: ClientId,
    /// Whether `switchingFunctionDevicesChanged` was asked for.
    pub(super) devices_changed: bool,
    /// The devices the client could see when last told (canonical IDs, in
    /// [`Devices::all`] order).
    pub(super) visible: Vec<String>,
}

/// The text of `nonStandardTermReason` when a client's account was removed by a
/// configuration reload.
pub(super) const USER_REMOVED: &str = "clientUserRemoved";

impl Hub {
    /// Whether user `user` may see the device with canonical ID `device`.
    pub(super) fn allowed(&self, user: usize, device: &str) -> bool {
        self.config.users[user]
            .devices
            .iter()
            .any(|d| d == "*" || same_device(d, device))
    }

    /// The controlled devices user `user` may see, canonical IDs in
    /// [`Devices::all`] order.
    pub(super) fn visible(&self, user: usize, devices: &dyn Devices) -> Vec<String> {
        devices
            .all()
            .into_iter()
            .filter(|d| self.allowed(user, d))
            .map(str::to_owned)
            .collect()
    }

    /// The user of `client`'s session.
    fn session_user(&self, client: ClientId) -> Option<usize> {
        match &self.clients.get(&client)?.stage {
            Stage::Session(s) => Some(s.user),
            _ => None,
        }
    }

    /// `GetSwitchingFunctionDevices`: the positive response with a serviceCrossRefID,
    /// then the list in `SwitchingFunctionDevices` segments (requests of the server,
    /// with its own invokeIDs), the last with `lastSegment` true; no device is one
    /// empty segment.
    pub(super) fn switching_function_devices(
        &mut self,
        id: ClientId,
        user: usize,
        invoke_id: InvokeId,
        edition: Edition,
        r: &GetSwitchingFunctionDevices<'_>,
        devices: &dyn Devices,
    ) {
        let mut list = match &r.requested_device_id {
            Some(d) => match self.device_for(user, &owned(&d.id), devices) {
                Ok(device) => vec![device],
                Err(e) => return self.refuse(id, invoke_id, edition, e),
            },
            None => self.visible(user, devices),
        };
        // Every controlled device is a station (a phone).
        let stations = match &r.requested_device_category {
            None | Some(ReqDeviceCategory::Station) => true,
            Some(_) => false,
        };
        if !stations {
            list.clear();
        }
        let xref = format!("D{}", self.next_service_ref);
        self.next_service_ref += 1;
        let m = Message::GetSwitchingFunctionDevicesResponse(GetSwitchingFunctionDevicesResponse {
            service_cross_ref_id: CrossRefId::new(&xref),
        });
        self.send(id, invoke_id, edition, &m);
        let size = self.config.segment_size.clamp(1, DEVICE_LIST_MAX);
        let segments = list.len().div_ceil(size).max(1);
        for segment in 0..segments {
            let part = list.iter().skip(segment * size).take(size);
            let mut entries = DeviceList {
                entries: Default::default(),
            };
            for device in part {
                let entry = DeviceEntry {
                    device_id: PlainDeviceId::new(device),
                    device_category: Some(DeviceCategory::Station),
                    device_model_name: None,
                };
                // `size` is at most the capacity.
                let _ = entries.entries.push(entry);
            }
            let m = Message::SwitchingFunctionDevices(SwitchingFunctionDevices {
                service_cross_ref_id: CrossRefId::new(&xref),
                segment_id: u32::try_from(segment + 1).ok(),
                last_segment: segment + 1 == segments,
                device_list: entries,
            });
            let invoke = self.invoke_id();
            self.send(id, invoke, edition, &m);
        }
        tracing::debug!(
            client = id.0,
            devices = list.len(),
            segments,
            "switching function devices listed"
        );
    }

    /// `SystemRegister`: a registration (sysStatRegisterID unique in the hub) that
    /// lives as long as the client's session or until `SystemRegisterCancel`.
    pub(super) fn system_register(
        &mut self,
        id: ClientId,
        user: usize,
        invoke_id: InvokeId,
        edition: Edition,
        r: &SystemRegister,
        devices: &dyn Devices,
    ) {
        let held = self
            .registrations
            .values()
            .filter(|g| g.client == id)
            .count();
        if held >= self.config.max_registrations_per_client {
            let e = ErrorCode::SubscribedResourceAvailability(
                SubscribedResourceAvailability::ObjectRegistrationLimitExceeded,
            );
            return self.refuse(id, invoke_id, edition, e);
        }
        let types = r.request_types.clone().unwrap_or(RequestTypes::NONE);
        let n = self.next_registration;
        self.next_registration += 1;
        let registration = Registration {
            client: id,
            devices_changed: types.wants_devices_changed(),
            visible: self.visible(user, devices),
        };
        tracing::debug!(
            client = id.0,
            registration = n,
            devices_changed = registration.devices_changed,
            "system register"
        );
        self.registrations.insert(n, registration);
        let xref = n.to_string();
        let m = Message::SystemRegisterResponse(SystemRegisterResponse {
            sys_stat_register_id: CrossRefId::new(&xref),
            actual_status_filter: None,
        });
        self.send(id, invoke_id, edition, &m);
    }

    /// `SystemRegisterCancel` of one of the client's registrations; any other ID is
    /// `operation/invalidCrossRefID`.
    pub(super) fn system_register_cancel(
        &mut self,
        id: ClientId,
        invoke_id: InvokeId,
        edition: Edition,
        xref: &str,
    ) {
        let n = xref
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| self.registrations.get(n).is_some_and(|r| r.client == id));
        let Some(n) = n else {
            return self.refuse(
                id,
                invoke_id,
                edition,
                operation(Operation::InvalidCrossRefId),
            );
        };
        self.registrations.remove(&n);
        let m = Message::SystemRegisterCancelResponse(SystemRegisterCancelResponse {});
        self.send(id, invoke_id, edition, &m);
    }

    /// Takes a new configuration (a reload): the client users, the pick-up groups and
    /// every other setting of `config`. Sessions of users that are gone end with
    /// `ApplicationSessionTerminated` (`nonStandardTermReason` `clientUserRemoved`)
    /// and their connections close; kept users (matched by name) keep their sessions,
    /// whatever their password now is. Then [`devices_changed`](Self::devices_changed).
    pub fn reconfigure(&mut self, config: HubConfig, devices: &dyn Devices) {
        let ids: Vec<ClientId> = self.clients.keys().copied().collect();
        let mut removed = Vec::new();
        for id in ids {
            let Some(client) = self.clients.get_mut(&id) else {
                continue;
            };
            let Stage::Session(s) = &mut client.stage else {
                continue;
            };
            let name = &self.config.users[s.user].name;
            match config.users.iter().position(|u| &u.name == name) {
                Some(i) => s.user = i,
                None => removed.push(id),
            }
        }
        for id in removed {
            let Some(client) = self.clients.get_mut(&id) else {
                continue;
            };
            let Stage::Session(s) = std::mem::replace(&mut client.stage, Stage::Closing) else {
                continue;
            };
            tracing::info!(client = id.0, session = %s.id, user = %self.config.users[s.user].name, "client user removed; ending its session");
            let m = Message::ApplicationSessionTerminated(ApplicationSessionTerminated {
                session_id: CrossRefId::new(&s.id),
                session_term_reason: SessionTermReason {
                    defined_term_reason: None,
                    non_standard_term_reason: Some(Text::new(USER_REMOVED)),
                },
            });
            let edition = client.edition;
            self.send(id, InvokeId::EVENT, edition, &m);
            self.forget(id);
            self.out.push_back(ClientOutput::Close { client: id });
        }
        self.config = config;
        self.devices_changed(devices);
    }

    /// The controlled devices or the access lists changed: every registration whose
    /// client now sees another set of devices is told with
    /// `SwitchingFunctionDevicesChanged` (a request of the server, with its own
    /// invokeID) when it asked for `switchingFunctionDevicesChanged`; every monitor on
    /// a device that is gone or no longer in its client's access list is ended with a
    /// `MonitorStop` from the server (ECMA-269 lets the switching function end a
    /// monitor so) and forgotten. A removed line was reported offline before this, so
    /// its monitors got `OutOfServiceEvent` first.
    pub fn devices_changed(&mut self, devices: &dyn Devices) {
        let numbers: Vec<u64> = self.registrations.keys().copied().collect();
        for n in numbers {
            let Some(client) = self.registrations.get(&n).map(|r| r.client) else {
                continue;
            };
            let Some(user) = self.session_user(client) else {
                continue;
            };
            let visible = self.visible(user, devices);
            let Some(r) = self.registrations.get_mut(&n) else {
                continue;
            };
            if r.visible == visible {
                continue;
            }
            r.visible = visible;
            if !r.devices_changed {
                continue;
            }
            let edition = self
                .clients
                .get(&client)
                .map_or(Edition::Ed3, |c| c.edition);
            let xref = n.to_string();
            let m = Message::SwitchingFunctionDevicesChanged(SwitchingFunctionDevicesChanged {
                sys_stat_register_id: Some(CrossRefId::new(&xref)),
            });
            tracing::debug!(
                client = client.0,
                registration = n,
                "switching function devices changed"
            );
            let invoke = self.invoke_id();
            self.send(client, invoke, edition, &m);
        }
        let stale: Vec<(u64, ClientId)> = self
            .monitors
            .iter()
            .filter(|(_, m)| {
                devices.resolve(&m.device).is_none()
                    || self
                        .session_user(m.client)
                        .is_none_or(|u| !self.allowed(u, &m.device))
            })
            .map(|(n, m)| (*n, m.client))
            .collect();
        for (n, client) in stale {
            self.drop_monitor(n);
            let Some(c) = self.clients.get_mut(&client) else {
                continue;
            };
            c.monitors.retain(|x| *x != n);
            if !matches!(c.stage, Stage::Session(_)) {
                continue;
            }
            let edition = c.edition;
            let xref = n.to_string();
            let m = Message::MonitorStop(MonitorStop {
                monitor_cross_ref_id: CrossRefId::new(&xref),
            });
            tracing::info!(
                client = client.0,
                monitor = n,
                "device gone or no longer allowed; monitor stopped"
            );
            let invoke = self.invoke_id();
            self.send(client, invoke, edition, &m);
        }
    }
}
