//! Multi-line: the server's device list, and lines created and removed at run time.
//!
//! After the session comes up the provider registers for
//! `SwitchingFunctionDevicesChanged` (`SystemRegister`) and reads the list
//! (`GetSwitchingFunctionDevices`, answered by `SwitchingFunctionDevices` segments).
//! A device the list gains becomes a new line (`LINE_CREATE`; TAPI gives it a device ID
//! with `TSPI_providerCreateLineDevice`), a device it loses is removed (`LINE_REMOVE`;
//! TAPI closes the line and its calls). The list is read again whenever the server
//! reports a change, and every `device_refresh` when configured (or when the server
//! refuses the registration: then every minute).

use std::time::{Duration, Instant};

use csta_core::framing::InvokeId;
use csta_core::message::Message;
use csta_core::message::system::{
    GetSwitchingFunctionDevices, RequestTypes, SwitchingFunctionDevicesChangedResponse,
    SwitchingFunctionDevicesResponse, SystemRegister,
};
use csta_core::model::view::same_device;

use super::{Out, Provider, ProviderEvent, TapiOutput, Waiting};

/// How often the list is read when the server will not report changes.
const FALLBACK_REFRESH: Duration = Duration::from_secs(60);

/// A device list being read.
#[derive(Debug)]
pub(crate) struct Reading {
    /// The `serviceCrossRefID` of the segments; `None` until the response named it.
    xref: Option<String>,
    devices: Vec<String>,
}

impl Provider {
    pub(super) fn register_for_device_changes(&mut self, now: Instant) {
        let m = Message::SystemRegister(SystemRegister {
            request_types: Some(RequestTypes {
                switching_function_devices_changed: Some(true),
                ..RequestTypes::NONE
            }),
            requested_status_filter: None,
        });
        self.send(now, &m, Waiting::Register);
    }

    pub(super) fn request_devices(&mut self, now: Instant) {
        if self.device_list.is_some() {
            // A read is under way; the change will be in it or in the next.
            self.reread = true;
            return;
        }
        self.device_list = Some(Reading {
            xref: None,
            devices: Vec::new(),
        });
        let m = Message::GetSwitchingFunctionDevices(GetSwitchingFunctionDevices {
            requested_device_id: None,
            requested_device_category: None,
        });
        self.send(now, &m, Waiting::Devices);
    }

    pub(super) fn device_list_answer(
        &mut self,
        now: Instant,
        waiting: Waiting,
        message: &Message<'_>,
    ) {
        match (waiting, message) {
            (Waiting::Devices, Message::GetSwitchingFunctionDevicesResponse(r)) => {
                if let Some(reading) = self.device_list.as_mut() {
                    reading.xref = Some(r.service_cross_ref_id.0.to_string());
                }
            }
            (Waiting::Devices, other) => {
                log::warn!(
                    "the server did not list its devices ({}); the lines stay as they are",
                    other.name()
                );
                self.device_list = None;
                self.refresh_at = Some(now + FALLBACK_REFRESH);
            }
            (Waiting::Register, Message::SystemRegisterResponse(_)) => {}
            (Waiting::Register, other) => {
                log::info!(
                    "the server does not report device list changes ({}); reading it every {} s",
                    other.name(),
                    FALLBACK_REFRESH.as_secs()
                );
                self.poll_devices = true;
                if self.refresh_at.is_none() {
                    self.refresh_at = Some(now + FALLBACK_REFRESH);
                }
            }
            _ => {}
        }
    }

    /// The server's requests about devices; `false` for anything else.
    pub(super) fn handle_device_list_request(
        &mut self,
        now: Instant,
        invoke_id: InvokeId,
        message: &Message<'_>,
    ) -> bool {
        match message {
            Message::SwitchingFunctionDevices(segment) => {
                self.answer_server(
                    invoke_id,
                    &Message::SwitchingFunctionDevicesResponse(SwitchingFunctionDevicesResponse {}),
                );
                let xref = segment.service_cross_ref_id.0.to_string();
                let Some(reading) = self.device_list.as_mut() else {
                    return true;
                };
                // Segments may come before the response that names their reference.
                if reading.xref.as_deref().is_some_and(|x| x != xref) {
                    log::debug!("device list segment of another read ignored");
                    return true;
                }
                reading.devices.extend(
                    segment
                        .device_list
                        .entries
                        .iter()
                        .map(|e| e.device_id.id.to_string())
                        .filter(|d| !d.is_empty()),
                );
                if segment.last_segment
                    && let Some(reading) = self.device_list.take()
                {
                    self.apply_device_list(now, reading.devices);
                }
                true
            }
            Message::SwitchingFunctionDevicesChanged(_) => {
                self.answer_server(
                    invoke_id,
                    &Message::SwitchingFunctionDevicesChangedResponse(
                        SwitchingFunctionDevicesChangedResponse {},
                    ),
                );
                self.request_devices(now);
                true
            }
            _ => false,
        }
    }

    /// Makes the lines the server's list: new devices become lines, missing ones are
    /// removed.
    fn apply_device_list(&mut self, now: Instant, mut devices: Vec<String>) {
        let mut unique: Vec<String> = Vec::with_capacity(devices.len());
        for d in devices.drain(..) {
            if !unique.iter().any(|u| same_device(u, &d)) {
                unique.push(d);
            }
        }
        let mut changed = false;
        for index in 0..self.lines.len() {
            let line = &self.lines[index];
            if line.removed || unique.iter().any(|d| same_device(d, &line.device)) {
                continue;
            }
            changed = true;
            log::info!(
                "line {} is no longer on the server: removed",
                crate::logging::Pii(&line.name)
            );
            self.remove_line(now, index as u32);
        }
        for device in &unique {
            if self.line_by_device(device).is_some() {
                continue;
            }
            changed = true;
            let index = self.add_line(device);
            log::info!(
                "new line {} from the server",
                crate::logging::Pii(&self.lines[index as usize].name)
            );
            self.lines[index as usize].creating = true;
            self.tapi
                .push_back(Out::Plain(TapiOutput::CreateLine { temp_id: index }));
            if self.session_up() {
                self.start_line(now, index);
            }
        }
        if changed || !self.listed {
            self.listed = true;
            self.events.push_back(ProviderEvent::DeviceList(unique));
        }
        if let Some(every) = self
            .config
            .device_refresh
            .or(self.poll_devices.then_some(FALLBACK_REFRESH))
        {
            self.refresh_at = Some(now + every);
        }
        if std::mem::take(&mut self.reread) {
            self.request_devices(now);
        }
        self.check_synchronised();
    }

    /// Removes a line: its monitor is stopped, TAPI closes it (and its calls) on
    /// `LINE_REMOVE`.
    fn remove_line(&mut self, now: Instant, line: u32) {
        use csta_core::message::monitor::MonitorStop;
        use csta_core::types::CrossRefId;
        use csta_core::xml::Text;
        let index = line as usize;
        if let Some(xref) = self.lines[index].xref.clone() {
            let m = Message::MonitorStop(MonitorStop {
                monitor_cross_ref_id: CrossRefId(Text::new(&xref)),
            });
            self.send(now, &m, Waiting::Ignore);
        }
        let handles: Vec<_> = self
            .call_handles()
            .filter(|h| self.call(*h).is_some_and(|c| c.line == line))
            .collect();
        for h in handles {
            self.free_call(h);
        }
        let l = &mut self.lines[index];
        l.removed = true;
        l.view = None;
        l.xref = None;
        l.open = None;
        l.retry_at = None;
        l.sync = super::Sync::Idle;
        if let Some(device_id) = l.device_id {
            self.tapi
                .push_back(Out::Plain(TapiOutput::RemoveLine { device_id }));
        }
    }
}
