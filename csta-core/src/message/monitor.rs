//! Monitoring (ECMA-269 clause 15) and snapshots (clause 16).

use heapless::Vec;

use crate::codec::{DecodeError, Field};
use crate::flags::MonitorFilter;
use crate::names::{ConnectionState, MonitorType};
use crate::types::{ConnectionId, CrossRefId, DeviceId};
use crate::xml::{Element, Reader, Writer};

/// What a monitor watches (`monitorObject`).
///
/// In JSON: `{"deviceObject": {...}}` or `{"callObject": {...}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum MonitorObject<'a> {
    /// `deviceObject`: a device.
    #[serde(rename = "deviceObject", borrow)]
    Device(DeviceId<'a>),
    /// `callObject`: a call.
    #[serde(rename = "callObject", borrow)]
    Call(ConnectionId<'a>),
}

impl Default for MonitorObject<'_> {
    fn default() -> Self {
        MonitorObject::Device(DeviceId::default())
    }
}

impl<'a> Field<'a> for MonitorObject<'a> {
    fn decode(
        r: &mut Reader<'a>,
        _start: Element<'a>,
        name: &'static str,
    ) -> Result<Self, DecodeError> {
        let offset = r.offset();
        let mut object = None;
        crate::codec::children(r, |r, child| {
            let value = match child.local_name() {
                "deviceObject" => {
                    MonitorObject::Device(DeviceId::decode(r, child, "deviceObject")?)
                }
                "callObject" => MonitorObject::Call(ConnectionId::decode(r, child, "callObject")?),
                _ => return Ok(false),
            };
            object.get_or_insert(value);
            Ok(true)
        })?;
        object.ok_or(DecodeError::MissingElement {
            element: name,
            offset,
        })
    }

    fn encode(&self, w: &mut Writer<'_>, name: &str) {
        w.open(name);
        match self {
            MonitorObject::Device(id) => id.encode(w, "deviceObject"),
            MonitorObject::Call(id) => id.encode(w, "callObject"),
        }
        w.end(name);
    }
}

required_in_json!(MonitorObject<'_>);

structure! {
    /// Start reporting a device's (or call's) events.
    pub struct MonitorStart<'a> {
        /// What to monitor.
        monitor_object: MonitorObject<'a> = "monitorObject",
        /// Events *not* to report.
        requested_monitor_filter: Option<MonitorFilter> = "requestedMonitorFilter",
        /// Whether the monitor follows calls or a device.
        monitor_type: Option<MonitorType> = "monitorType",
    }
}

structure! {
    /// The monitor started.
    pub struct MonitorStartResponse<'a> {
        /// Identifies the monitor in events and in [`MonitorStop`].
        monitor_cross_ref_id: CrossRefId<'a> = "monitorCrossRefID",
        /// The filter in force.
        actual_monitor_filter: Option<MonitorFilter> = "actualMonitorFilter",
        /// Whether calls that existed before are reported too.
        monitor_existing_calls: Option<bool> = "monitorExistingCalls",
    }
}

structure! {
    /// Stop a monitor.
    pub struct MonitorStop<'a> {
        /// The monitor.
        monitor_cross_ref_id: CrossRefId<'a> = "monitorCrossRefID",
    }
}

structure! {
    /// The monitor stopped.
    pub struct MonitorStopResponse {}
}

structure! {
    /// Ask for the calls at a device.
    pub struct SnapshotDevice<'a> {
        /// The device.
        snapshot_object: DeviceId<'a> = "snapshotObject",
    }
}

/// Capacity of a device snapshot: calls at one device.
pub const SNAPSHOT_MAX: usize = 8;
/// Capacity of a compound call state: connection states of one call.
pub const CALL_STATE_MAX: usize = 4;

structure! {
    /// The states of a call's connections as seen from the device.
    pub struct CompoundCallState {
        /// One state per connection, the device's own first; at most
        /// [`CALL_STATE_MAX`].
        states: Vec<ConnectionState, CALL_STATE_MAX> = "localConnectionState",
    }
}

structure! {
    /// A call state: compound (`compoundCallState`) is what phones send.
    pub struct LocalCallState {
        /// The connection states.
        compound_call_state: Option<CompoundCallState> = "compoundCallState",
    }
}

structure! {
    /// One call at the device.
    pub struct SnapshotDeviceResponseInfo<'a> {
        /// The device's connection in the call.
        connection_identifier: Option<ConnectionId<'a>> = "connectionIdentifier",
        /// The call's state.
        local_call_state: Option<LocalCallState> = "localCallState",
    }
}

structure! {
    /// The calls at a device.
    pub struct SnapshotData<'a> {
        /// The calls, at most [`SNAPSHOT_MAX`].
        items: Vec<SnapshotDeviceResponseInfo<'a>, SNAPSHOT_MAX> = "snapshotDeviceResponseInfo",
    }
}

structure! {
    /// The snapshot, or where it will be reported.
    pub struct CrossRefIdOrSnapshotData<'a> {
        /// The calls.
        snapshot_data: Option<SnapshotData<'a>> = "snapshotData",
        /// A reference under which the snapshot follows as events.
        service_cross_ref_id: Option<CrossRefId<'a>> = "serviceCrossRefID",
    }
}

structure! {
    /// The calls at the device.
    pub struct SnapshotDeviceResponse<'a> {
        /// The snapshot. Vendors also put `snapshotData` and `serviceCrossRefID` directly
        /// in the response; those land in the fields below.
        cross_ref_id_or_snapshot_data: Option<CrossRefIdOrSnapshotData<'a>> = "crossRefIDorSnapshotData",
        /// `snapshotData` directly in the response (vendor form).
        snapshot_data: Option<SnapshotData<'a>> = "snapshotData",
        /// `serviceCrossRefID` directly in the response (vendor form).
        service_cross_ref_id: Option<CrossRefId<'a>> = "serviceCrossRefID",
    }
}

impl<'a> SnapshotDeviceResponse<'a> {
    /// A response carrying `data` in the schema form.
    pub fn new(data: SnapshotData<'a>) -> Self {
        SnapshotDeviceResponse {
            cross_ref_id_or_snapshot_data: Some(CrossRefIdOrSnapshotData {
                snapshot_data: Some(data),
                service_cross_ref_id: None,
            }),
            snapshot_data: None,
            service_cross_ref_id: None,
        }
    }

    /// The calls, wherever the peer put them.
    pub fn calls(&self) -> &[SnapshotDeviceResponseInfo<'a>] {
        self.cross_ref_id_or_snapshot_data
            .as_ref()
            .and_then(|c| c.snapshot_data.as_ref())
            .or(self.snapshot_data.as_ref())
            .map_or(&[], |d| &d.items)
    }
}
