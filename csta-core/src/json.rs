//! JSON for every message type, with `serde-json-core` (no heap).
//!
//! The shapes follow the XML: a message is an object with one member named after its
//! root element, and each structure is an object whose members are named after the
//! child elements (`{"MakeCall": {"callingDevice": {"id": "201"},
//! "calledDirectoryNumber": {"id": "202"}, "autoOriginate": "doNotPrompt"}}`). Optional
//! members are left out when absent; enumerations are their wire spellings; choices
//! such as [`DeviceRef`](crate::types::DeviceRef) are an object with one member or a
//! string for the empty alternatives (`"notKnown"`); monitor filters and feature lists
//! are objects of objects of booleans.
//!
//! Strings borrow from the JSON input: [`from_slice`] keeps escapes in place and
//! decodes them when a value is read (see [`Text`]), so decoding needs no buffer.

use core::fmt;

use serde::de::{self, Visitor};

use crate::message::Message;
use crate::xml::{Text, check_json};

pub use serde_json_core::de::Error as DecodeError;
pub use serde_json_core::ser::Error as EncodeError;

/// A string read from JSON without unescaping it.
pub(crate) struct JsonText<'a>(pub(crate) Text<'a>);

impl<'de> serde::Deserialize<'de> for JsonText<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = JsonText<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string borrowed from the input")
            }
            fn visit_borrowed_str<E: de::Error>(self, raw: &'de str) -> Result<Self::Value, E> {
                if check_json(raw) {
                    Ok(JsonText(Text::from_json(raw)))
                } else {
                    Err(E::custom("invalid escape in string"))
                }
            }
        }
        d.deserialize_str(V)
    }
}

impl serde::Serialize for Text<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.as_str() {
            Some(plain) => s.serialize_str(plain),
            None => s.collect_str(self),
        }
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(JsonText::deserialize(d)?.0)
    }
}

/// Writes `message` as JSON into `buf`; returns the length.
///
/// ```
/// use csta_core::json;
/// use csta_core::message::{Message, monitor::MonitorStop};
/// use csta_core::types::CrossRefId;
///
/// let stop = Message::MonitorStop(MonitorStop { monitor_cross_ref_id: CrossRefId::new("42") });
/// let mut buf = [0u8; 64];
/// let n = json::to_slice(&stop, &mut buf).unwrap();
/// assert_eq!(&buf[..n], br#"{"MonitorStop":{"monitorCrossRefID":"42"}}"#);
/// assert_eq!(json::from_slice(&buf[..n]).unwrap(), stop);
/// ```
///
/// # Errors
///
/// [`EncodeError::BufferFull`] when `buf` is too small.
pub fn to_slice(message: &Message<'_>, buf: &mut [u8]) -> Result<usize, EncodeError> {
    serde_json_core::to_slice(message, buf)
}

/// Reads a message from JSON; strings borrow from `json`.
///
/// # Errors
///
/// [`DecodeError`] for malformed JSON or a shape that is not a known message.
pub fn from_slice(json: &[u8]) -> Result<Message<'_>, DecodeError> {
    let (message, _) = serde_json_core::from_slice(json)?;
    Ok(message)
}
