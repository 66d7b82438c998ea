//! The quick-xml baseline for the CSTA (ECMA-323) codec benchmarks.
//!
//! This is what a Rust user would write without our codec: owned structs (`String`
//! fields, `Vec` lists, `Option` for optional elements) deserialized with quick-xml's
//! serde support, and encoding written by hand with [`quick_xml::Writer`] events into a
//! `Vec<u8>` that the caller reuses between messages.
//!
//! # What the structs hold
//!
//! The same information our codec extracts from the four corpus messages
//! (`corpus/csta/*.xml`, see [`Kind`]), in schema order:
//!
//! - `MakeCall`: calling device, called directory number, `autoOriginate`.
//! - `DeliveredEvent`: monitor cross reference, connection (call and device), the four
//!   event devices (each a `deviceIdentifier` or one of the empty "not known"-style
//!   markers), `localConnectionInfo` and `cause`.
//! - `SnapshotDeviceResponse`: every `snapshotDeviceResponseInfo` with its connection and
//!   local connection state (or the `serviceCrossRefID` form of the choice).
//! - `MonitorStart`: the monitored device or call (with the `typeOfNumber` attribute), the
//!   call control, call associated and logical device feature filter flags, and the
//!   monitor type.
//!
//! Closed value sets (connection states, monitor type, `autoOriginate`, `typeOfNumber`)
//! are enums, as a serde user would write them. `cause` stays a `String`: ECMA-269 lists
//! dozens of event causes and PBXs add their own, and our wire enums keep unknown values
//! for a round trip, so the baseline must too. Each filter flag is an `Option<bool>`, so an
//! absent flag stays absent through a round trip.
//!
//! # Accepted input
//!
//! Decoding ignores the root element's name and attributes (the `xmlns` namespace
//! declaration), skips elements it has no field for (`correlatorData`,
//! `servicesPermitted`, `extensions`, ...), trims text, and resolves the predefined
//! entities (`N&lt;+49 89 7007 1234&gt;;noa=nk` becomes `N<+49 89 7007 1234>;noa=nk`).
//!
//! # Encoding
//!
//! [`encode`] writes the XML declaration, the root element with the ECMA-323 ed3
//! namespace, and the fields in schema order, escaping text with [`BytesText::new`]. The
//! constant parts (declaration, root start tags) are borrowed `&'static str` events so they
//! do not allocate; a `typeOfNumber` attribute is pushed with
//! [`BytesStart::push_attribute`], which allocates, as quick-xml's API requires. For the
//! corpus the output is byte-for-byte the corpus file.

use std::io;

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesEnd, BytesStart, BytesText, Event};
use serde::Deserialize;

/// The ECMA-323 edition 3 namespace that [`encode`] puts on every root element.
pub const NAMESPACE: &str = "http://www.ecma-international.org/standards/ecma-323/csta/ed3";

/// The root start tag `name xmlns="<NAMESPACE>"` as one `&'static str`.
macro_rules! root_tag {
    ($name:literal) => {
        concat!(
            $name,
            " xmlns=\"http://www.ecma-international.org/standards/ecma-323/csta/ed3\""
        )
    };
}

/// The four corpus messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `MakeCall` request: calling device, called number, `autoOriginate`.
    MakeCall,
    /// `DeliveredEvent` for an incoming call from a PSTN caller (OSV-style device IDs).
    DeliveredEvent,
    /// `SnapshotDeviceResponse` listing three calls: connected, held and alerting.
    SnapshotDeviceResponse,
    /// `MonitorStart` on a device with call control, call associated and logical device
    /// feature filters.
    MonitorStart,
}

impl Kind {
    /// Every kind, in corpus order.
    pub const ALL: [Kind; 4] = [
        Kind::MakeCall,
        Kind::DeliveredEvent,
        Kind::SnapshotDeviceResponse,
        Kind::MonitorStart,
    ];

    /// The message name (the root element's name).
    pub fn name(self) -> &'static str {
        match self {
            Kind::MakeCall => "MakeCall",
            Kind::DeliveredEvent => "DeliveredEvent",
            Kind::SnapshotDeviceResponse => "SnapshotDeviceResponse",
            Kind::MonitorStart => "MonitorStart",
        }
    }

    /// The corpus file name, inside `benches/corpus/csta/`.
    pub fn file(self) -> &'static str {
        match self {
            Kind::MakeCall => "MakeCall.xml",
            Kind::DeliveredEvent => "DeliveredEvent.xml",
            Kind::SnapshotDeviceResponse => "SnapshotDeviceResponse.xml",
            Kind::MonitorStart => "MonitorStart.xml",
        }
    }

    /// The corpus message itself, embedded at compile time.
    pub fn xml(self) -> &'static str {
        match self {
            Kind::MakeCall => include_str!("../corpus/csta/MakeCall.xml"),
            Kind::DeliveredEvent => include_str!("../corpus/csta/DeliveredEvent.xml"),
            Kind::SnapshotDeviceResponse => {
                include_str!("../corpus/csta/SnapshotDeviceResponse.xml")
            }
            Kind::MonitorStart => include_str!("../corpus/csta/MonitorStart.xml"),
        }
    }
}

/// `<MakeCall>`: ask the switch to place a call from `callingDevice`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MakeCall {
    /// The device that places the call (`<callingDevice>`).
    pub calling_device: String,
    /// The number to call (`<calledDirectoryNumber>`).
    pub called_directory_number: String,
    /// Whether the calling device is prompted first (`<autoOriginate>`).
    pub auto_originate: Option<AutoOriginate>,
}

/// The `autoOriginate` values of `MakeCall`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum AutoOriginate {
    /// `prompt`: the calling device must go off-hook first.
    Prompt,
    /// `doNotPrompt`: the call starts at once.
    DoNotPrompt,
}

impl AutoOriginate {
    /// The wire text.
    pub fn as_str(self) -> &'static str {
        match self {
            AutoOriginate::Prompt => "prompt",
            AutoOriginate::DoNotPrompt => "doNotPrompt",
        }
    }
}

/// `<DeliveredEvent>`: a call is alerting at a monitored device.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveredEvent {
    /// The monitor this event belongs to (`<monitorCrossRefID>`).
    #[serde(rename = "monitorCrossRefID")]
    pub monitor_cross_ref_id: String,
    /// The alerting connection (`<connection>`).
    pub connection: ConnectionId,
    /// `<alertingDevice>`.
    pub alerting_device: EventDevice,
    /// `<callingDevice>`.
    pub calling_device: EventDevice,
    /// `<calledDevice>`.
    pub called_device: EventDevice,
    /// `<lastRedirectionDevice>`.
    pub last_redirection_device: EventDevice,
    /// The state of the alerting connection (`<localConnectionInfo>`).
    pub local_connection_info: Option<LocalConnectionState>,
    /// The event cause (`<cause>`), kept as text: the set is open-ended.
    pub cause: Option<String>,
}

/// A `ConnectionID`: a call at a device, either part optional.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ConnectionId {
    /// `<callID>`.
    #[serde(rename = "callID")]
    pub call_id: Option<String>,
    /// `<deviceID>`.
    #[serde(rename = "deviceID")]
    pub device_id: Option<String>,
}

/// An event device element (`<callingDevice>`, `<lastRedirectionDevice>`, ...): a
/// choice of one child.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct EventDevice {
    /// The child element.
    #[serde(rename = "$value")]
    pub value: EventDeviceValue,
}

/// The children an event device element can have.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EventDeviceValue {
    /// `<deviceIdentifier>`: the device is known.
    DeviceIdentifier(String),
    /// `<notKnown/>`.
    NotKnown,
    /// `<notRequired/>`.
    NotRequired,
    /// `<notSpecified/>`.
    NotSpecified,
    /// `<restricted/>`.
    Restricted,
}

impl EventDeviceValue {
    /// The device identifier, or the name of the empty marker element.
    pub fn as_str(&self) -> &str {
        match self {
            EventDeviceValue::DeviceIdentifier(id) => id,
            EventDeviceValue::NotKnown => "notKnown",
            EventDeviceValue::NotRequired => "notRequired",
            EventDeviceValue::NotSpecified => "notSpecified",
            EventDeviceValue::Restricted => "restricted",
        }
    }
}

/// The ECMA-269 local connection states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum LocalConnectionState {
    /// `null`.
    Null,
    /// `initiated`.
    Initiated,
    /// `alerting`.
    Alerting,
    /// `connected`.
    Connected,
    /// `hold`.
    Hold,
    /// `queued`.
    Queued,
    /// `fail`.
    Fail,
}

impl LocalConnectionState {
    /// The wire text.
    pub fn as_str(self) -> &'static str {
        match self {
            LocalConnectionState::Null => "null",
            LocalConnectionState::Initiated => "initiated",
            LocalConnectionState::Alerting => "alerting",
            LocalConnectionState::Connected => "connected",
            LocalConnectionState::Hold => "hold",
            LocalConnectionState::Queued => "queued",
            LocalConnectionState::Fail => "fail",
        }
    }
}

/// `<SnapshotDeviceResponse>`: the calls at a device.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SnapshotDeviceResponse {
    /// `<crossRefIDorSnapshotData>`.
    #[serde(rename = "crossRefIDorSnapshotData")]
    pub cross_ref_id_or_snapshot_data: CrossRefIdOrSnapshotData,
}

/// `<crossRefIDorSnapshotData>`: a choice of one child.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CrossRefIdOrSnapshotData {
    /// The child element.
    #[serde(rename = "$value")]
    pub value: SnapshotChoice,
}

/// The children of `<crossRefIDorSnapshotData>`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub enum SnapshotChoice {
    /// `<serviceCrossRefID>`: the data follows in `SnapshotDeviceData` events.
    #[serde(rename = "serviceCrossRefID")]
    ServiceCrossRefId(String),
    /// `<snapshotData>`: the data is here.
    #[serde(rename = "snapshotData")]
    SnapshotData(SnapshotData),
}

/// `<snapshotData>`: one entry per call.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SnapshotData {
    /// Every `<snapshotDeviceResponseInfo>`, in order.
    #[serde(rename = "snapshotDeviceResponseInfo", default)]
    pub info: Vec<SnapshotDeviceResponseInfo>,
}

/// `<snapshotDeviceResponseInfo>`: one call at the device.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotDeviceResponseInfo {
    /// `<connectionIdentifier>`.
    pub connection_identifier: ConnectionId,
    /// `<localCallState>`.
    pub local_call_state: Option<LocalCallState>,
}

/// `<localCallState>`: a choice of one child.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LocalCallState {
    /// The child element.
    #[serde(rename = "$value")]
    pub value: CallState,
}

/// The children of `<localCallState>`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum CallState {
    /// `<compoundCallState>`.
    CompoundCallState(CompoundCallState),
    /// `<simpleCallState>`, kept as text.
    SimpleCallState(String),
}

/// `<compoundCallState>`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompoundCallState {
    /// `<localConnectionState>`.
    pub local_connection_state: LocalConnectionState,
}

/// `<MonitorStart>`: start reporting events for a device or call.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MonitorStart {
    /// `<monitorObject>`.
    pub monitor_object: MonitorObject,
    /// `<requestedMonitorFilter>`: the events *not* to report.
    pub requested_monitor_filter: Option<MonitorFilter>,
    /// `<monitorType>`.
    pub monitor_type: Option<MonitorType>,
}

/// `<monitorObject>`: a choice of one child.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct MonitorObject {
    /// The child element.
    #[serde(rename = "$value")]
    pub value: MonitorObjectValue,
}

/// The children of `<monitorObject>`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MonitorObjectValue {
    /// `<deviceObject>`: monitor a device.
    DeviceObject(DeviceId),
    /// `<callObject>`: monitor a call.
    CallObject(ConnectionId),
}

/// A `DeviceID` element: text plus an optional `typeOfNumber` attribute.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DeviceId {
    /// The `typeOfNumber` attribute.
    #[serde(rename = "@typeOfNumber")]
    pub type_of_number: Option<TypeOfNumber>,
    /// The device identifier (the element's text).
    #[serde(rename = "$text")]
    pub value: String,
}

/// The `typeOfNumber` attribute values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TypeOfNumber {
    /// `dialingNumber`.
    DialingNumber,
    /// `deviceNumber`.
    DeviceNumber,
    /// `implicitPublic`.
    ImplicitPublic,
    /// `explicitPublic`.
    ExplicitPublic,
    /// `implicitPrivate`.
    ImplicitPrivate,
    /// `explicitPrivate`.
    ExplicitPrivate,
    /// `other`.
    Other,
}

impl TypeOfNumber {
    /// The wire text.
    pub fn as_str(self) -> &'static str {
        match self {
            TypeOfNumber::DialingNumber => "dialingNumber",
            TypeOfNumber::DeviceNumber => "deviceNumber",
            TypeOfNumber::ImplicitPublic => "implicitPublic",
            TypeOfNumber::ExplicitPublic => "explicitPublic",
            TypeOfNumber::ImplicitPrivate => "implicitPrivate",
            TypeOfNumber::ExplicitPrivate => "explicitPrivate",
            TypeOfNumber::Other => "other",
        }
    }
}

/// The `monitorType` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MonitorType {
    /// `call`: follow the calls.
    Call,
    /// `device`: watch the device.
    Device,
}

impl MonitorType {
    /// The wire text.
    pub fn as_str(self) -> &'static str {
        match self {
            MonitorType::Call => "call",
            MonitorType::Device => "device",
        }
    }
}

/// `<requestedMonitorFilter>`: the filter groups the corpus uses. Other groups
/// (`mediaAttachment`, `physicalDeviceFeature`, `maintenance`, `voice`, `private`) are
/// skipped when decoding.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MonitorFilter {
    /// `<callcontrol>` (all lower case, as in the schema).
    pub callcontrol: Option<CallControlFilter>,
    /// `<callAssociated>`.
    pub call_associated: Option<CallAssociatedFilter>,
    /// `<logicalDeviceFeature>`.
    pub logical_device_feature: Option<LogicalDeviceFeatureFilter>,
}

impl MonitorFilter {
    /// How many flags are present and `true`.
    pub fn true_flags(&self) -> usize {
        self.flag_values().filter(|v| *v == Some(true)).count()
    }

    /// How many flags are present, whatever their value.
    pub fn present_flags(&self) -> usize {
        self.flag_values().filter(Option::is_some).count()
    }

    /// Every flag of every present group.
    fn flag_values(&self) -> impl Iterator<Item = Option<bool>> {
        let cc = self.callcontrol.as_ref().map(CallControlFilter::flags);
        let ca = self
            .call_associated
            .as_ref()
            .map(CallAssociatedFilter::flags);
        let ld = self
            .logical_device_feature
            .as_ref()
            .map(LogicalDeviceFeatureFilter::flags);
        (cc.into_iter().flatten())
            .chain(ca.into_iter().flatten())
            .chain(ld.into_iter().flatten())
            .map(|(_, v)| v)
    }
}

/// `<callcontrol>`: one flag per call control event; `true` filters the event out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallControlFilter {
    /// `<callCleared>`.
    pub call_cleared: Option<bool>,
    /// `<conferenced>`.
    pub conferenced: Option<bool>,
    /// `<connectionCleared>`.
    pub connection_cleared: Option<bool>,
    /// `<delivered>`.
    pub delivered: Option<bool>,
    /// `<digitsDialed>`.
    pub digits_dialed: Option<bool>,
    /// `<diverted>`.
    pub diverted: Option<bool>,
    /// `<established>`.
    pub established: Option<bool>,
    /// `<failed>`.
    pub failed: Option<bool>,
    /// `<held>`.
    pub held: Option<bool>,
    /// `<networkCapabilitiesChanged>`.
    pub network_capabilities_changed: Option<bool>,
    /// `<networkReached>`.
    pub network_reached: Option<bool>,
    /// `<offered>`.
    pub offered: Option<bool>,
    /// `<originated>`.
    pub originated: Option<bool>,
    /// `<queued>`.
    pub queued: Option<bool>,
    /// `<retrieved>`.
    pub retrieved: Option<bool>,
    /// `<serviceInitiated>`.
    pub service_initiated: Option<bool>,
    /// `<transferred>`.
    pub transferred: Option<bool>,
}

impl CallControlFilter {
    /// Every flag with its element name, in schema order.
    pub fn flags(&self) -> [(&'static str, Option<bool>); 17] {
        [
            ("callCleared", self.call_cleared),
            ("conferenced", self.conferenced),
            ("connectionCleared", self.connection_cleared),
            ("delivered", self.delivered),
            ("digitsDialed", self.digits_dialed),
            ("diverted", self.diverted),
            ("established", self.established),
            ("failed", self.failed),
            ("held", self.held),
            (
                "networkCapabilitiesChanged",
                self.network_capabilities_changed,
            ),
            ("networkReached", self.network_reached),
            ("offered", self.offered),
            ("originated", self.originated),
            ("queued", self.queued),
            ("retrieved", self.retrieved),
            ("serviceInitiated", self.service_initiated),
            ("transferred", self.transferred),
        ]
    }
}

/// `<callAssociated>`: one flag per call associated event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallAssociatedFilter {
    /// `<callInformation>`.
    pub call_information: Option<bool>,
    /// `<charging>`.
    pub charging: Option<bool>,
    /// `<digitsGenerated>`.
    pub digits_generated: Option<bool>,
    /// `<telephonyTonesGenerated>`.
    pub telephony_tones_generated: Option<bool>,
    /// `<serviceCompletionFailure>`.
    pub service_completion_failure: Option<bool>,
}

impl CallAssociatedFilter {
    /// Every flag with its element name, in schema order.
    pub fn flags(&self) -> [(&'static str, Option<bool>); 5] {
        [
            ("callInformation", self.call_information),
            ("charging", self.charging),
            ("digitsGenerated", self.digits_generated),
            ("telephonyTonesGenerated", self.telephony_tones_generated),
            ("serviceCompletionFailure", self.service_completion_failure),
        ]
    }
}

/// `<logicalDeviceFeature>`: one flag per logical device feature event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LogicalDeviceFeatureFilter {
    /// `<agentBusy>`.
    pub agent_busy: Option<bool>,
    /// `<agentLoggedOn>`.
    pub agent_logged_on: Option<bool>,
    /// `<agentLoggedOff>`.
    pub agent_logged_off: Option<bool>,
    /// `<agentNotReady>`.
    pub agent_not_ready: Option<bool>,
    /// `<agentReady>`.
    pub agent_ready: Option<bool>,
    /// `<agentWorkingAfterCall>`.
    pub agent_working_after_call: Option<bool>,
    /// `<autoAnswer>`.
    pub auto_answer: Option<bool>,
    /// `<autoWorkMode>`.
    pub auto_work_mode: Option<bool>,
    /// `<callBack>`.
    pub call_back: Option<bool>,
    /// `<callBackMessage>`.
    pub call_back_message: Option<bool>,
    /// `<callerIDStatus>`.
    #[serde(rename = "callerIDStatus")]
    pub caller_id_status: Option<bool>,
    /// `<doNotDisturb>`.
    pub do_not_disturb: Option<bool>,
    /// `<forwarding>`.
    pub forwarding: Option<bool>,
    /// `<routeingMode>`.
    pub routeing_mode: Option<bool>,
}

impl LogicalDeviceFeatureFilter {
    /// Every flag with its element name, in schema order.
    pub fn flags(&self) -> [(&'static str, Option<bool>); 14] {
        [
            ("agentBusy", self.agent_busy),
            ("agentLoggedOn", self.agent_logged_on),
            ("agentLoggedOff", self.agent_logged_off),
            ("agentNotReady", self.agent_not_ready),
            ("agentReady", self.agent_ready),
            ("agentWorkingAfterCall", self.agent_working_after_call),
            ("autoAnswer", self.auto_answer),
            ("autoWorkMode", self.auto_work_mode),
            ("callBack", self.call_back),
            ("callBackMessage", self.call_back_message),
            ("callerIDStatus", self.caller_id_status),
            ("doNotDisturb", self.do_not_disturb),
            ("forwarding", self.forwarding),
            ("routeingMode", self.routeing_mode),
        ]
    }
}

/// One decoded corpus message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// A [`MakeCall`].
    MakeCall(MakeCall),
    /// A [`DeliveredEvent`].
    DeliveredEvent(DeliveredEvent),
    /// A [`SnapshotDeviceResponse`].
    SnapshotDeviceResponse(SnapshotDeviceResponse),
    /// A [`MonitorStart`].
    MonitorStart(MonitorStart),
}

impl Decoded {
    /// Which message this is.
    pub fn kind(&self) -> Kind {
        match self {
            Decoded::MakeCall(_) => Kind::MakeCall,
            Decoded::DeliveredEvent(_) => Kind::DeliveredEvent,
            Decoded::SnapshotDeviceResponse(_) => Kind::SnapshotDeviceResponse,
            Decoded::MonitorStart(_) => Kind::MonitorStart,
        }
    }
}

/// Decodes `xml` as the message `kind` with `quick_xml::de::from_str`.
///
/// The root element's name is not checked (quick-xml's deserializer ignores it).
///
/// # Errors
///
/// Whatever quick-xml reports: malformed XML, a missing required element, a value
/// outside an enum.
pub fn decode(kind: Kind, xml: &str) -> Result<Decoded, quick_xml::DeError> {
    use quick_xml::de::from_str;
    Ok(match kind {
        Kind::MakeCall => Decoded::MakeCall(from_str(xml)?),
        Kind::DeliveredEvent => Decoded::DeliveredEvent(from_str(xml)?),
        Kind::SnapshotDeviceResponse => Decoded::SnapshotDeviceResponse(from_str(xml)?),
        Kind::MonitorStart => Decoded::MonitorStart(from_str(xml)?),
    })
}

/// Encodes `value` with [`quick_xml::Writer`] into `out`, which is cleared first so that
/// its capacity is reused. Returns the number of bytes written.
///
/// # Errors
///
/// Only what writing into a `Vec<u8>` can report, which is nothing in practice.
pub fn encode(value: &Decoded, out: &mut Vec<u8>) -> io::Result<usize> {
    out.clear();
    let mut w = Writer::new(&mut *out);
    w.write_event(Event::Decl(BytesDecl::from_start(
        BytesStart::from_content(r#"xml version="1.0" encoding="UTF-8""#, 3),
    )))?;
    match value {
        Decoded::MakeCall(m) => encode_make_call(&mut w, m)?,
        Decoded::DeliveredEvent(e) => encode_delivered(&mut w, e)?,
        Decoded::SnapshotDeviceResponse(r) => encode_snapshot(&mut w, r)?,
        Decoded::MonitorStart(m) => encode_monitor_start(&mut w, m)?,
    }
    Ok(out.len())
}

/// The writer [`encode`] uses.
type XmlWriter<'a> = Writer<&'a mut Vec<u8>>;

fn encode_make_call(w: &mut XmlWriter<'_>, m: &MakeCall) -> io::Result<()> {
    root_start(w, root_tag!("MakeCall"), "MakeCall")?;
    text_element(w, "callingDevice", &m.calling_device)?;
    text_element(w, "calledDirectoryNumber", &m.called_directory_number)?;
    if let Some(a) = m.auto_originate {
        text_element(w, "autoOriginate", a.as_str())?;
    }
    end(w, "MakeCall")
}

fn encode_delivered(w: &mut XmlWriter<'_>, e: &DeliveredEvent) -> io::Result<()> {
    root_start(w, root_tag!("DeliveredEvent"), "DeliveredEvent")?;
    text_element(w, "monitorCrossRefID", &e.monitor_cross_ref_id)?;
    connection_id(w, "connection", &e.connection)?;
    event_device(w, "alertingDevice", &e.alerting_device)?;
    event_device(w, "callingDevice", &e.calling_device)?;
    event_device(w, "calledDevice", &e.called_device)?;
    event_device(w, "lastRedirectionDevice", &e.last_redirection_device)?;
    if let Some(s) = e.local_connection_info {
        text_element(w, "localConnectionInfo", s.as_str())?;
    }
    if let Some(c) = &e.cause {
        text_element(w, "cause", c)?;
    }
    end(w, "DeliveredEvent")
}

fn encode_snapshot(w: &mut XmlWriter<'_>, r: &SnapshotDeviceResponse) -> io::Result<()> {
    root_start(
        w,
        root_tag!("SnapshotDeviceResponse"),
        "SnapshotDeviceResponse",
    )?;
    start(w, "crossRefIDorSnapshotData")?;
    match &r.cross_ref_id_or_snapshot_data.value {
        SnapshotChoice::ServiceCrossRefId(id) => text_element(w, "serviceCrossRefID", id)?,
        SnapshotChoice::SnapshotData(data) => {
            start(w, "snapshotData")?;
            for info in &data.info {
                start(w, "snapshotDeviceResponseInfo")?;
                connection_id(w, "connectionIdentifier", &info.connection_identifier)?;
                if let Some(state) = &info.local_call_state {
                    start(w, "localCallState")?;
                    match &state.value {
                        CallState::CompoundCallState(c) => {
                            start(w, "compoundCallState")?;
                            text_element(
                                w,
                                "localConnectionState",
                                c.local_connection_state.as_str(),
                            )?;
                            end(w, "compoundCallState")?;
                        }
                        CallState::SimpleCallState(s) => text_element(w, "simpleCallState", s)?,
                    }
                    end(w, "localCallState")?;
                }
                end(w, "snapshotDeviceResponseInfo")?;
            }
            end(w, "snapshotData")?;
        }
    }
    end(w, "crossRefIDorSnapshotData")?;
    end(w, "SnapshotDeviceResponse")
}

fn encode_monitor_start(w: &mut XmlWriter<'_>, m: &MonitorStart) -> io::Result<()> {
    root_start(w, root_tag!("MonitorStart"), "MonitorStart")?;
    start(w, "monitorObject")?;
    match &m.monitor_object.value {
        MonitorObjectValue::DeviceObject(d) => {
            let mut tag = BytesStart::new("deviceObject");
            if let Some(t) = d.type_of_number {
                tag.push_attribute(("typeOfNumber", t.as_str()));
            }
            w.write_event(Event::Start(tag))?;
            w.write_event(Event::Text(BytesText::new(&d.value)))?;
            end(w, "deviceObject")?;
        }
        MonitorObjectValue::CallObject(c) => connection_id(w, "callObject", c)?,
    }
    end(w, "monitorObject")?;
    if let Some(filter) = &m.requested_monitor_filter {
        start(w, "requestedMonitorFilter")?;
        if let Some(f) = &filter.callcontrol {
            flag_group(w, "callcontrol", &f.flags())?;
        }
        if let Some(f) = &filter.call_associated {
            flag_group(w, "callAssociated", &f.flags())?;
        }
        if let Some(f) = &filter.logical_device_feature {
            flag_group(w, "logicalDeviceFeature", &f.flags())?;
        }
        end(w, "requestedMonitorFilter")?;
    }
    if let Some(t) = m.monitor_type {
        text_element(w, "monitorType", t.as_str())?;
    }
    end(w, "MonitorStart")
}

/// Writes the root start tag `content` (name and `xmlns`, see [`root_tag!`]).
fn root_start(w: &mut XmlWriter<'_>, content: &'static str, name: &str) -> io::Result<()> {
    w.write_event(Event::Start(BytesStart::from_content(content, name.len())))
}

fn start(w: &mut XmlWriter<'_>, name: &str) -> io::Result<()> {
    w.write_event(Event::Start(BytesStart::new(name)))
}

fn end(w: &mut XmlWriter<'_>, name: &str) -> io::Result<()> {
    w.write_event(Event::End(BytesEnd::new(name)))
}

/// `<name>text</name>`, with `text` escaped.
fn text_element(w: &mut XmlWriter<'_>, name: &str, text: &str) -> io::Result<()> {
    start(w, name)?;
    w.write_event(Event::Text(BytesText::new(text)))?;
    end(w, name)
}

fn connection_id(w: &mut XmlWriter<'_>, name: &str, c: &ConnectionId) -> io::Result<()> {
    start(w, name)?;
    if let Some(id) = &c.call_id {
        text_element(w, "callID", id)?;
    }
    if let Some(id) = &c.device_id {
        text_element(w, "deviceID", id)?;
    }
    end(w, name)
}

fn event_device(w: &mut XmlWriter<'_>, name: &str, d: &EventDevice) -> io::Result<()> {
    start(w, name)?;
    match &d.value {
        EventDeviceValue::DeviceIdentifier(id) => text_element(w, "deviceIdentifier", id)?,
        marker => w.write_event(Event::Empty(BytesStart::new(marker.as_str())))?,
    }
    end(w, name)
}

/// A filter group: the present flags, in schema order.
fn flag_group(
    w: &mut XmlWriter<'_>,
    name: &str,
    flags: &[(&'static str, Option<bool>)],
) -> io::Result<()> {
    start(w, name)?;
    for &(flag, value) in flags {
        if let Some(v) = value {
            text_element(w, flag, if v { "true" } else { "false" })?;
        }
    }
    end(w, name)
}

/// The values a test or a benchmark self-check compares, as `(label, value)` pairs.
///
/// - `MakeCall`: `callingDevice`, `calledDirectoryNumber`, `autoOriginate`.
/// - `DeliveredEvent`: `monitorCrossRefID`, `callID`, `deviceID`, `alertingDevice`,
///   `callingDevice`, `calledDevice`, `lastRedirectionDevice` (the identifier or the
///   marker's name), `localConnectionInfo`, `cause`.
/// - `SnapshotDeviceResponse`: `items` (the count), then `callID`, `deviceID` and
///   `localConnectionState` for each item (or `serviceCrossRefID`).
/// - `MonitorStart`: `deviceObject` (or `callID` for a call object), `typeOfNumber`,
///   `presentFlags`, `trueFlags`, `monitorType`.
///
/// Absent optional values are left out.
pub fn key_fields(value: &Decoded) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    let mut push = |label: &'static str, v: Option<&str>| {
        if let Some(v) = v {
            out.push((label, v.to_owned()));
        }
    };
    match value {
        Decoded::MakeCall(m) => {
            push("callingDevice", Some(&m.calling_device));
            push("calledDirectoryNumber", Some(&m.called_directory_number));
            push("autoOriginate", m.auto_originate.map(AutoOriginate::as_str));
        }
        Decoded::DeliveredEvent(e) => {
            push("monitorCrossRefID", Some(&e.monitor_cross_ref_id));
            push("callID", e.connection.call_id.as_deref());
            push("deviceID", e.connection.device_id.as_deref());
            push("alertingDevice", Some(e.alerting_device.value.as_str()));
            push("callingDevice", Some(e.calling_device.value.as_str()));
            push("calledDevice", Some(e.called_device.value.as_str()));
            push(
                "lastRedirectionDevice",
                Some(e.last_redirection_device.value.as_str()),
            );
            push(
                "localConnectionInfo",
                e.local_connection_info.map(LocalConnectionState::as_str),
            );
            push("cause", e.cause.as_deref());
        }
        Decoded::SnapshotDeviceResponse(r) => match &r.cross_ref_id_or_snapshot_data.value {
            SnapshotChoice::ServiceCrossRefId(id) => push("serviceCrossRefID", Some(id)),
            SnapshotChoice::SnapshotData(data) => {
                push("items", Some(&data.info.len().to_string()));
                for info in &data.info {
                    let c = &info.connection_identifier;
                    push("callID", c.call_id.as_deref());
                    push("deviceID", c.device_id.as_deref());
                    if let Some(LocalCallState {
                        value: CallState::CompoundCallState(s),
                    }) = &info.local_call_state
                    {
                        push(
                            "localConnectionState",
                            Some(s.local_connection_state.as_str()),
                        );
                    }
                }
            }
        },
        Decoded::MonitorStart(m) => {
            match &m.monitor_object.value {
                MonitorObjectValue::DeviceObject(d) => {
                    push("deviceObject", Some(&d.value));
                    push("typeOfNumber", d.type_of_number.map(TypeOfNumber::as_str));
                }
                MonitorObjectValue::CallObject(c) => push("callID", c.call_id.as_deref()),
            }
            if let Some(f) = &m.requested_monitor_filter {
                push("presentFlags", Some(&f.present_flags().to_string()));
                push("trueFlags", Some(&f.true_flags().to_string()));
            }
            push("monitorType", m.monitor_type.map(MonitorType::as_str));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(kind: Kind) -> Decoded {
        match decode(kind, kind.xml()) {
            Ok(d) => d,
            Err(e) => panic!("{} does not decode: {e}", kind.file()),
        }
    }

    fn fields(kind: Kind) -> Vec<(&'static str, String)> {
        key_fields(&decoded(kind))
    }

    fn pairs(expected: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        expected.iter().map(|&(l, v)| (l, v.to_owned())).collect()
    }

    #[test]
    fn test_decode_every_corpus_file() {
        for kind in Kind::ALL {
            assert_eq!(decoded(kind).kind(), kind);
            assert!(
                kind.xml()
                    .starts_with(r#"<?xml version="1.0" encoding="UTF-8"?>"#)
            );
            assert!(kind.xml().contains(NAMESPACE), "{}", kind.file());
            assert!(kind.xml().contains(kind.name()), "{}", kind.file());
        }
    }

    #[test]
    fn test_decode_make_call() {
        assert_eq!(
            fields(Kind::MakeCall),
            pairs(&[
                ("callingDevice", "sip:201@pbx.example.com"),
                ("calledDirectoryNumber", "tel:+4989123456"),
                ("autoOriginate", "doNotPrompt"),
            ])
        );
    }

    #[test]
    fn test_decode_delivered_event() {
        assert_eq!(
            fields(Kind::DeliveredEvent),
            pairs(&[
                ("monitorCrossRefID", "1173673890"),
                ("callID", "FF00010000000000EC6114647E570000"),
                ("deviceID", "sip:201@pbx.example.com"),
                ("alertingDevice", "sip:201@pbx.example.com"),
                ("callingDevice", "N<+49 89 7007 1234>;noa=nk"),
                ("calledDevice", "tel:+4989123456"),
                ("lastRedirectionDevice", "notRequired"),
                ("localConnectionInfo", "alerting"),
                ("cause", "newCall"),
            ])
        );
        let Decoded::DeliveredEvent(e) = decoded(Kind::DeliveredEvent) else {
            panic!("not a DeliveredEvent");
        };
        assert_eq!(
            e.last_redirection_device.value,
            EventDeviceValue::NotRequired
        );
    }

    #[test]
    fn test_decode_snapshot_device_response() {
        assert_eq!(
            fields(Kind::SnapshotDeviceResponse),
            pairs(&[
                ("items", "3"),
                ("callID", "FF00010000000000EC6114647E570000"),
                ("deviceID", "sip:201@pbx.example.com"),
                ("localConnectionState", "connected"),
                ("callID", "FF00010000000000EC6214647E5A0000"),
                ("deviceID", "sip:201@pbx.example.com"),
                ("localConnectionState", "hold"),
                ("callID", "FF00010000000000EC6314647E5D0000"),
                ("deviceID", "sip:201@pbx.example.com"),
                ("localConnectionState", "alerting"),
            ])
        );
    }

    #[test]
    fn test_decode_monitor_start() {
        assert_eq!(
            fields(Kind::MonitorStart),
            pairs(&[
                ("deviceObject", "sip:201@pbx.example.com"),
                ("typeOfNumber", "dialingNumber"),
                ("presentFlags", "21"),
                ("trueFlags", "7"),
                ("monitorType", "device"),
            ])
        );
        let Decoded::MonitorStart(m) = decoded(Kind::MonitorStart) else {
            panic!("not a MonitorStart");
        };
        let filter = m
            .requested_monitor_filter
            .unwrap_or_else(|| panic!("no filter"));
        let cc = filter.callcontrol.unwrap_or_default();
        assert_eq!(cc.network_reached, Some(true));
        assert_eq!(cc.call_cleared, Some(false));
        assert_eq!(cc.digits_dialed, None);
        let ld = filter.logical_device_feature.unwrap_or_default();
        assert_eq!(ld.do_not_disturb, Some(false));
        assert_eq!(ld.forwarding, Some(false));
    }

    #[test]
    fn test_decode_accepts_what_the_corpus_leaves_out() {
        // Pretty-printed, no declaration, another edition's namespace, unknown elements.
        let xml = "<DeliveredEvent xmlns=\"http://www.ecma.ch/standards/ecma-323/csta/ed6\">\n\
            <monitorCrossRefID>u-1</monitorCrossRefID>\n\
            <connection><callID>SIP/hpbx-00000233</callID><deviceID>200</deviceID></connection>\n\
            <alertingDevice><deviceIdentifier>22334455</deviceIdentifier></alertingDevice>\n\
            <callingDevice><notKnown/></callingDevice>\n\
            <calledDevice><deviceIdentifier>22334455</deviceIdentifier></calledDevice>\n\
            <lastRedirectionDevice><notRequired/></lastRedirectionDevice>\n\
            <correlatorData><string>7572</string></correlatorData>\n\
            <cause>enteringDistribution</cause>\n\
            <servicesPermitted><callControlServices/></servicesPermitted>\n\
            </DeliveredEvent>";
        let d = decode(Kind::DeliveredEvent, xml).unwrap_or_else(|e| panic!("{e}"));
        let f = key_fields(&d);
        assert!(f.contains(&("callingDevice", "notKnown".to_owned())));
        assert!(f.contains(&("cause", "enteringDistribution".to_owned())));
        assert!(!f.iter().any(|(l, _)| *l == "localConnectionInfo"));
    }

    #[test]
    fn test_decode_rejects_unknown_state() {
        let xml = Kind::DeliveredEvent
            .xml()
            .replace(">alerting<", ">ringing<");
        assert!(decode(Kind::DeliveredEvent, &xml).is_err());
    }

    #[test]
    fn test_emit_round_trip() {
        let mut out = Vec::new();
        for kind in Kind::ALL {
            let value = decoded(kind);
            let len = encode(&value, &mut out).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(len, out.len());
            let text = std::str::from_utf8(&out).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(decode(kind, text).ok(), Some(value), "{}", kind.file());
            // The corpus is compact and in schema order, so the bytes come back unchanged.
            assert_eq!(text, kind.xml(), "{}", kind.file());
        }
    }

    #[test]
    fn test_emit_escapes_text() {
        let mut out = vec![b'x'; 4096];
        encode(&decoded(Kind::DeliveredEvent), &mut out).unwrap_or_else(|e| panic!("{e}"));
        let text = String::from_utf8_lossy(&out);
        assert!(text.contains("<deviceIdentifier>N&lt;+49 89 7007 1234&gt;;noa=nk<"));
        assert!(text.starts_with("<?xml"), "out was not cleared first");
    }
}
