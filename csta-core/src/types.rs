//! Identifiers shared by many messages: devices, connections, calls, cross references.

use serde::{Deserialize, Serialize};

use crate::codec::{DecodeError, Field, Leaf};
use crate::xml::{Element, Event, Leniency, Reader, Text, Writer};

/// Longest device identifier accepted, in bytes as received (switching-function forms
/// such as `N<+49 89 1234>;noa=nk;uid=...` run long). Stores that copy device IDs out
/// of messages can rely on it.
pub const DEVICE_ID_MAX: usize = 256;
/// Longest call identifier accepted, in bytes as received (seen: `2`, `-12`, 32 hex
/// digits, Asterisk channel names).
pub const CALL_ID_MAX: usize = 64;
/// Longest cross-reference identifier (monitor, service, session, registration)
/// accepted, in bytes as received.
pub const CROSS_REF_ID_MAX: usize = 64;

/// A call identifier: opaque text of at most [`CALL_ID_MAX`] bytes.
pub type CallId<'a> = Text<'a>;

/// A cross-reference identifier (`monitorCrossRefID`, `sysStatRegisterID`,
/// `serviceCrossRefID`, a session ID): opaque text of at most [`CROSS_REF_ID_MAX`]
/// bytes. In JSON, a string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CrossRefId<'a>(#[serde(borrow)] pub Text<'a>);

impl<'a> CrossRefId<'a> {
    /// The identifier `id`.
    pub const fn new(id: &'a str) -> Self {
        CrossRefId(Text::new(id))
    }
}

impl<'a> From<&'a str> for CrossRefId<'a> {
    fn from(id: &'a str) -> Self {
        CrossRefId::new(id)
    }
}

impl core::fmt::Display for CrossRefId<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.fmt(f)
    }
}

impl<'a> Leaf<'a> for CrossRefId<'a> {
    fn from_text(text: Text<'a>) -> Option<Self> {
        let text = text.trim();
        (text.raw().len() <= CROSS_REF_ID_MAX || text.len() <= CROSS_REF_ID_MAX)
            .then_some(CrossRefId(text))
    }
    fn write_text(&self, w: &mut Writer<'_>) {
        w.text(&self.0);
    }
}

required_in_json!(CrossRefId<'_>);

/// Whether `rest` (what follows a start tag) begins, after white space, with the
/// start tag of a child element (not text, an end tag, a comment, a CDATA section or
/// a processing instruction).
fn starts_child_element(rest: &str) -> bool {
    let rest = rest.trim_start_matches([' ', '\t', '\r', '\n']).as_bytes();
    rest.first() == Some(&b'<') && rest.get(1).is_some_and(|&b| crate::xml::is_name_start(b))
}

pub(crate) fn checked_len<'a>(
    text: Text<'a>,
    max: usize,
    element: &'static str,
    offset: usize,
) -> Result<Text<'a>, DecodeError> {
    if text.raw().len() > max && text.len() > max {
        return Err(DecodeError::TooLong { element, offset });
    }
    Ok(text)
}

/// A device identifier: the text (a SIP or TEL URI, an extension, dialable digits or
/// a switching-function form like `N<+49 89 1234>`) and its optional attributes.
///
/// In JSON: `{"id": "sip:201@pbx", "typeOfNumber": "dialingNumber"}`, the attributes
/// left out when absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DeviceId<'a> {
    /// The identifier, at most [`DEVICE_ID_MAX`] bytes.
    #[serde(borrow)]
    pub id: Text<'a>,
    /// Attribute `typeOfNumber` (`dialingNumber`, `deviceNumber`, `other`, ...).
    #[serde(
        rename = "typeOfNumber",
        default,
        skip_serializing_if = "Option::is_none",
        borrow
    )]
    pub type_of_number: Option<Text<'a>>,
    /// Attribute `mediaClass`.
    #[serde(
        rename = "mediaClass",
        default,
        skip_serializing_if = "Option::is_none",
        borrow
    )]
    pub media_class: Option<Text<'a>>,
    /// Attribute `bitRate`.
    #[serde(
        rename = "bitRate",
        default,
        skip_serializing_if = "Option::is_none",
        borrow
    )]
    pub bit_rate: Option<Text<'a>>,
}

impl<'a> DeviceId<'a> {
    /// A device identifier without attributes.
    pub const fn new(id: &'a str) -> Self {
        DeviceId {
            id: Text::new(id),
            type_of_number: None,
            media_class: None,
            bit_rate: None,
        }
    }

    fn decode_with_text(
        start: &Element<'a>,
        text: Text<'a>,
        element: &'static str,
        offset: usize,
    ) -> Result<Self, DecodeError> {
        let mut device = DeviceId::new("");
        device.id = checked_len(text, DEVICE_ID_MAX, element, offset)?;
        // One pass over the attributes (usually none); as with
        // `Element::attribute`, the first one of each name counts.
        for a in start.attributes() {
            if a.is_namespace_declaration() {
                continue;
            }
            let slot = match a.local_name() {
                "typeOfNumber" => &mut device.type_of_number,
                "mediaClass" => &mut device.media_class,
                "bitRate" => &mut device.bit_rate,
                _ => continue,
            };
            if slot.is_none() {
                *slot = Some(a.value);
            }
        }
        Ok(device)
    }

    /// [`Leniency::NESTED_DEVICE_ID`]: the content of element `name` (just started,
    /// at `offset`) is read as its `deviceID` or `deviceIdentifier` child, other
    /// children skipped; no such child is an error, as is text beside it.
    fn decode_nested(
        r: &mut Reader<'a>,
        name: &'static str,
        offset: usize,
    ) -> Result<Self, DecodeError> {
        let mut device = None;
        loop {
            match r.next_event()? {
                Event::Start(child) => match child.local_name() {
                    "deviceID" | "deviceIdentifier" if device.is_none() => {
                        device = Some(DeviceId::decode(r, child, "deviceID")?);
                    }
                    _ => r.skip()?,
                },
                Event::Text(t) if !t.trim().is_empty() => {
                    return Err(DecodeError::InvalidValue {
                        element: name,
                        offset,
                    });
                }
                Event::End(_) => break,
                _ => {}
            }
        }
        device.ok_or(DecodeError::MissingElement {
            element: "deviceID",
            offset,
        })
    }

    fn encode_start(&self, w: &mut Writer<'_>, name: &str) {
        w.start(name);
        if let Some(v) = &self.type_of_number {
            w.attribute("typeOfNumber", v);
        }
        if let Some(v) = &self.media_class {
            w.attribute("mediaClass", v);
        }
        if let Some(v) = &self.bit_rate {
            w.attribute("bitRate", v);
        }
        w.end_start();
    }
}

impl<'a> Field<'a> for DeviceId<'a> {
    fn decode(
        r: &mut Reader<'a>,
        start: Element<'a>,
        name: &'static str,
    ) -> Result<Self, DecodeError> {
        let offset = r.offset();
        if !start.is_empty()
            && r.leniency().contains(Leniency::NESTED_DEVICE_ID)
            && starts_child_element(r.input().get(offset..).unwrap_or(""))
        {
            return DeviceId::decode_nested(r, name, offset);
        }
        let text = r.read_text()?;
        DeviceId::decode_with_text(&start, text.trim(), name, offset)
    }

    fn encode(&self, w: &mut Writer<'_>, name: &str) {
        if self.type_of_number.is_none() && self.media_class.is_none() && self.bit_rate.is_none() {
            w.leaf(name, &self.id);
        } else {
            self.encode_start(w, name);
            w.text(&self.id);
            w.end(name);
        }
    }
}

required_in_json!(DeviceId<'_>);

/// A device identifier kept without its attributes: what a list of many devices
/// holds, to stay small (a third of a [`DeviceId`]). Decoded like a [`DeviceId`]
/// (attributes read and dropped), encoded as plain text.
///
/// In JSON: `{"id": "sip:201@pbx"}`, as a [`DeviceId`] without attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct PlainDeviceId<'a> {
    /// The identifier, at most [`DEVICE_ID_MAX`] bytes.
    #[serde(borrow)]
    pub id: Text<'a>,
}

impl<'a> PlainDeviceId<'a> {
    /// A device identifier.
    pub const fn new(id: &'a str) -> Self {
        PlainDeviceId { id: Text::new(id) }
    }
}

impl<'a> Field<'a> for PlainDeviceId<'a> {
    fn decode(
        r: &mut Reader<'a>,
        start: Element<'a>,
        name: &'static str,
    ) -> Result<Self, DecodeError> {
        DeviceId::decode(r, start, name).map(|d| PlainDeviceId { id: d.id })
    }

    fn encode(&self, w: &mut Writer<'_>, name: &str) {
        w.leaf(name, &self.id);
    }
}

required_in_json!(PlainDeviceId<'_>);

/// A device as events and some responses name it: an identifier, or why there is none.
///
/// Covers the choices of ECMA-323's `CallingDeviceID`, `CalledDeviceID`,
/// `SubjectDeviceID`, `RedirectionDeviceID` and `AssociatedCallingDeviceID`.
/// In JSON: `{"deviceIdentifier": {...}}`, `{"numberDialed": {...}}` or one of the
/// strings `"notKnown"`, `"restricted"`, `"notRequired"`, `"notSpecified"`.
///
/// Decoding also takes the device ID written directly as the element's text, as some
/// peers do ([`Leniency::BARE_DEVICE_TEXT`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceRef<'a> {
    /// `deviceIdentifier`: the device is known.
    #[serde(rename = "deviceIdentifier", borrow)]
    DeviceIdentifier(DeviceId<'a>),
    /// `numberDialed`: the number as dialled (redirection devices).
    #[serde(rename = "numberDialed", borrow)]
    NumberDialed(DeviceId<'a>),
    /// `notKnown`.
    #[serde(rename = "notKnown")]
    NotKnown,
    /// `restricted`: known but not to be presented.
    #[serde(rename = "restricted")]
    Restricted,
    /// `notRequired` (redirection devices).
    #[serde(rename = "notRequired")]
    NotRequired,
    /// `notSpecified` (redirection devices).
    #[serde(rename = "notSpecified")]
    NotSpecified,
}

impl<'a> DeviceRef<'a> {
    /// A known device without attributes.
    pub const fn id(id: &'a str) -> Self {
        DeviceRef::DeviceIdentifier(DeviceId::new(id))
    }

    /// The device ID when there is one.
    pub fn device_id(&self) -> Option<&DeviceId<'a>> {
        match self {
            DeviceRef::DeviceIdentifier(id) | DeviceRef::NumberDialed(id) => Some(id),
            _ => None,
        }
    }
}

impl<'a> Field<'a> for DeviceRef<'a> {
    fn decode(
        r: &mut Reader<'a>,
        start: Element<'a>,
        name: &'static str,
    ) -> Result<Self, DecodeError> {
        let offset = r.offset();
        if start.is_empty() {
            r.read_text()?;
            return Err(DecodeError::MissingElement {
                element: "deviceIdentifier",
                offset,
            });
        }
        let mut found = None;
        let mut bare = None;
        loop {
            match r.next_event()? {
                Event::Start(child) => {
                    let value = match child.local_name() {
                        "deviceIdentifier" => DeviceRef::DeviceIdentifier(DeviceId::decode(
                            r,
                            child,
                            "deviceIdentifier",
                        )?),
                        "numberDialed" => {
                            DeviceRef::NumberDialed(DeviceId::decode(r, child, "numberDialed")?)
                        }
                        other => {
                            let unit = match other {
                                "notKnown" => Some(DeviceRef::NotKnown),
                                "restricted" => Some(DeviceRef::Restricted),
                                "notRequired" => Some(DeviceRef::NotRequired),
                                "notSpecified" => Some(DeviceRef::NotSpecified),
                                _ => None,
                            };
                            r.skip()?;
                            match unit {
                                Some(u) => u,
                                None => continue,
                            }
                        }
                    };
                    found.get_or_insert(value);
                }
                Event::Text(t) if !t.trim().is_empty() => bare = Some(t.trim()),
                Event::End(_) => break,
                _ => {}
            }
        }
        if let Some(found) = found {
            return Ok(found);
        }
        match bare {
            Some(text) if r.leniency().contains(Leniency::BARE_DEVICE_TEXT) => {
                Ok(DeviceRef::DeviceIdentifier(DeviceId::decode_with_text(
                    &start, text, name, offset,
                )?))
            }
            _ => Err(DecodeError::MissingElement {
                element: "deviceIdentifier",
                offset,
            }),
        }
    }

    fn encode(&self, w: &mut Writer<'_>, name: &str) {
        w.open(name);
        match self {
            DeviceRef::DeviceIdentifier(id) => id.encode(w, "deviceIdentifier"),
            DeviceRef::NumberDialed(id) => id.encode(w, "numberDialed"),
            DeviceRef::NotKnown => w.empty("notKnown"),
            DeviceRef::Restricted => w.empty("restricted"),
            DeviceRef::NotRequired => w.empty("notRequired"),
            DeviceRef::NotSpecified => w.empty("notSpecified"),
        }
        w.end(name);
    }
}

required_in_json!(DeviceRef<'_>);

/// A connection: a call and a device in it (`ConnectionID`).
///
/// Decoding also takes a bare call ID written as the element's text
/// ([`Leniency::BARE_CALL_ID`]); without that leniency such text is
/// [`DecodeError::InvalidValue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ConnectionId<'a> {
    /// `callID`, at most [`CALL_ID_MAX`] bytes.
    #[serde(
        rename = "callID",
        default,
        skip_serializing_if = "Option::is_none",
        borrow
    )]
    pub call_id: Option<CallId<'a>>,
    /// `deviceID`: the device's static identifier.
    #[serde(
        rename = "deviceID",
        default,
        skip_serializing_if = "Option::is_none",
        borrow
    )]
    pub device_id: Option<DeviceId<'a>>,
}

impl<'a> ConnectionId<'a> {
    /// A connection of `device` in `call`.
    pub const fn new(call: &'a str, device: &'a str) -> Self {
        ConnectionId {
            call_id: Some(Text::new(call)),
            device_id: Some(DeviceId::new(device)),
        }
    }
}

impl<'a> Field<'a> for ConnectionId<'a> {
    fn decode(
        r: &mut Reader<'a>,
        _start: Element<'a>,
        name: &'static str,
    ) -> Result<Self, DecodeError> {
        let offset = r.offset();
        let mut id = ConnectionId::default();
        if _start.is_empty() {
            r.read_text()?;
            return Ok(id);
        }
        let mut bare = None;
        loop {
            match r.next_event()? {
                Event::Start(child) => {
                    let at = r.offset();
                    match child.local_name() {
                        "callID" => {
                            let text = r.read_text()?.trim();
                            id.call_id = Some(checked_len(text, CALL_ID_MAX, "callID", at)?);
                        }
                        "deviceID" => id.device_id = Some(DeviceId::decode(r, child, "deviceID")?),
                        _ => r.skip()?,
                    }
                }
                Event::Text(t) if !t.trim().is_empty() => bare = Some(t.trim()),
                Event::End(_) => break,
                _ => {}
            }
        }
        if let (None, None, Some(text)) = (id.call_id, id.device_id, bare) {
            // Text instead of children: a bare call ID when allowed, else an error
            // rather than a connection that silently names nothing.
            if !r.leniency().contains(Leniency::BARE_CALL_ID) {
                return Err(DecodeError::InvalidValue {
                    element: name,
                    offset,
                });
            }
            id.call_id = Some(checked_len(text, CALL_ID_MAX, name, offset)?);
        }
        Ok(id)
    }

    fn encode(&self, w: &mut Writer<'_>, name: &str) {
        w.open(name);
        if let Some(call) = &self.call_id {
            w.leaf("callID", call);
        }
        if let Some(device) = &self.device_id {
            device.encode(w, "deviceID");
        }
        w.end(name);
    }
}

required_in_json!(ConnectionId<'_>);

/// Opaque application data (`correlatorData`, `userData`): text written directly in
/// the element, or wrapped in a `<string>` (or `<octets>`) child as later editions and
/// OpenScape do. The form is kept so a value encodes as it was received.
///
/// In JSON: `{"text": "..."}` plus `"form": "string"` or `"octets"` when wrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Opaque<'a> {
    /// The data.
    #[serde(borrow)]
    pub text: Text<'a>,
    /// The wrapper element (`string` or `octets`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<OpaqueForm>,
}

/// The wrapper of an [`Opaque`] value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum OpaqueForm {
    /// `<string>`.
    #[serde(rename = "string")]
    String,
    /// `<octets>` (hexadecimal text).
    #[serde(rename = "octets")]
    Octets,
}

impl<'a> Opaque<'a> {
    /// Data written directly in the element.
    pub const fn new(text: &'a str) -> Self {
        Opaque {
            text: Text::new(text),
            form: None,
        }
    }
}

impl<'a> Field<'a> for Opaque<'a> {
    fn decode(
        r: &mut Reader<'a>,
        start: Element<'a>,
        _name: &'static str,
    ) -> Result<Self, DecodeError> {
        let mut value = Opaque::default();
        if start.is_empty() {
            r.read_text()?;
            return Ok(value);
        }
        let content = r.offset();
        loop {
            match r.next_event()? {
                Event::Start(child) => {
                    let form = match child.local_name() {
                        "string" => OpaqueForm::String,
                        "octets" => OpaqueForm::Octets,
                        _ => {
                            r.skip()?;
                            continue;
                        }
                    };
                    value = Opaque {
                        text: r.read_text()?,
                        form: Some(form),
                    };
                }
                Event::End(_) => break,
                _ => {}
            }
        }
        if value.form.is_none() {
            // Character data only (possibly split by comments or CDATA): read it again
            // as one text.
            let end = r.input()[..r.offset()].rfind("</").unwrap_or(content);
            value.text = Text::from_xml(&r.input()[content..end]);
        }
        Ok(value)
    }

    fn encode(&self, w: &mut Writer<'_>, name: &str) {
        match self.form {
            None => w.leaf(name, &self.text),
            Some(form) => {
                w.open(name);
                w.leaf(
                    if form == OpaqueForm::String {
                        "string"
                    } else {
                        "octets"
                    },
                    &self.text,
                );
                w.end(name);
            }
        }
    }
}

required_in_json!(Opaque<'_>);
