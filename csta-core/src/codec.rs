//! The machinery every CSTA type decodes, encodes and maps to JSON with.
//!
//! - [`Leaf`]: a simple value carried as character data (`<cause>newCall</cause>`).
//! - [`Field`]: anything carried as one element; leaves are fields, structures are
//!   fields made with [`structure!`].
//! - [`Member`]: how a structure holds a field: required (`T`), optional
//!   (`Option<T>`) or repeated (`heapless::Vec<T, N>`).
//!
//! Decoding is lenient (any child order, unknown children skipped, matching by local
//! name); encoding writes schema order.

use core::fmt;

use serde::de::{self, MapAccess};
use serde::ser::SerializeStruct;

use crate::xml::{Element, Event, Reader, Text, Writer, XmlError};

/// Why a message could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum DecodeError {
    /// The XML is not well-formed or exceeds a bound.
    Xml(XmlError),
    /// The root element names no message this crate knows.
    UnknownMessage {
        /// Offset just after the root element's start tag.
        offset: usize,
    },
    /// A required element is missing.
    MissingElement {
        /// The element's name.
        element: &'static str,
        /// Offset of the element that should contain it.
        offset: usize,
    },
    /// An element's value is not one its type allows.
    InvalidValue {
        /// The element's name.
        element: &'static str,
        /// Offset of the element.
        offset: usize,
    },
    /// A value longer than its type's documented capacity.
    TooLong {
        /// The element's name.
        element: &'static str,
        /// Offset of the element.
        offset: usize,
    },
    /// More repetitions of an element than the type's documented capacity.
    TooMany {
        /// The element's name.
        element: &'static str,
        /// Offset of the first repetition that did not fit.
        offset: usize,
    },
}

impl From<XmlError> for DecodeError {
    fn from(e: XmlError) -> Self {
        DecodeError::Xml(e)
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DecodeError::Xml(e) => e.fmt(f),
            DecodeError::UnknownMessage { offset } => {
                write!(f, "unknown CSTA message at byte {offset}")
            }
            DecodeError::MissingElement { element, offset } => {
                write!(f, "missing <{element}> in the element at byte {offset}")
            }
            DecodeError::InvalidValue { element, offset } => {
                write!(f, "invalid value of <{element}> at byte {offset}")
            }
            DecodeError::TooLong { element, offset } => {
                write!(
                    f,
                    "<{element}> at byte {offset} is longer than its capacity"
                )
            }
            DecodeError::TooMany { element, offset } => {
                write!(f, "too many <{element}> at byte {offset}")
            }
        }
    }
}

impl core::error::Error for DecodeError {}

/// Runs `f` on the decoded string of `text`: directly when the text is plain, else
/// decoded into a 128-byte stack buffer. `None` when it does not fit.
pub(crate) fn with_str<R>(text: Text<'_>, f: impl FnOnce(&str) -> R) -> Option<R> {
    match text.as_str() {
        Some(s) => Some(f(s)),
        None => {
            let mut buf = [0u8; 128];
            text.decode(&mut buf).ok().map(f)
        }
    }
}

/// A value carried as the character data of an element.
pub(crate) trait Leaf<'a>: Sized {
    /// The value spelt `text` (white space around it included), or `None`.
    fn from_text(text: Text<'a>) -> Option<Self>;
    /// Writes the value as character data.
    fn write_text(&self, w: &mut Writer<'_>);
    /// Writes the value as element `name`; leaves with fixed spellings write the
    /// whole element at once.
    fn encode_leaf(&self, w: &mut Writer<'_>, name: &str) {
        w.open(name);
        self.write_text(w);
        w.end(name);
    }
}

/// A value carried as one element.
pub(crate) trait Field<'a>: Sized {
    /// Decodes the element whose start tag `start` was just read, through its end tag.
    fn decode(
        r: &mut Reader<'a>,
        start: Element<'a>,
        name: &'static str,
    ) -> Result<Self, DecodeError>;
    /// Writes the value as element `name`.
    fn encode(&self, w: &mut Writer<'_>, name: &str);
}

impl<'a, T: Leaf<'a>> Field<'a> for T {
    fn decode(
        r: &mut Reader<'a>,
        _start: Element<'a>,
        name: &'static str,
    ) -> Result<Self, DecodeError> {
        let offset = r.offset();
        let text = r.read_text()?;
        T::from_text(text).ok_or(DecodeError::InvalidValue {
            element: name,
            offset,
        })
    }

    fn encode(&self, w: &mut Writer<'_>, name: &str) {
        self.encode_leaf(w, name);
    }
}

impl<'a> Leaf<'a> for Text<'a> {
    fn from_text(text: Text<'a>) -> Option<Self> {
        Some(text)
    }
    fn write_text(&self, w: &mut Writer<'_>) {
        w.text(self);
    }
    fn encode_leaf(&self, w: &mut Writer<'_>, name: &str) {
        w.leaf(name, self);
    }
}

/// `xs:boolean`: `true`, `false`, `1`, `0`.
impl Leaf<'_> for bool {
    fn from_text(text: Text<'_>) -> Option<Self> {
        match text.trim().as_str()? {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        }
    }
    fn write_text(&self, w: &mut Writer<'_>) {
        // Neither spelling needs escaping.
        w.raw(if *self { "true" } else { "false" });
    }
    fn encode_leaf(&self, w: &mut Writer<'_>, name: &str) {
        // Two calls, so each writes a constant spelling.
        if *self {
            w.leaf_verbatim(name, "true");
        } else {
            w.leaf_verbatim(name, "false");
        }
    }
}

macro_rules! integer_leaf {
    ($($t:ty),*) => {$(
        impl Leaf<'_> for $t {
            fn from_text(text: Text<'_>) -> Option<Self> {
                let s = text.trim().as_str()?;
                let digits = s.strip_prefix('+').unwrap_or(s);
                if digits.starts_with(['+', '-']) && digits.len() != s.len() {
                    return None;
                }
                digits.parse().ok()
            }
            fn write_text(&self, w: &mut Writer<'_>) {
                use core::fmt::Write;
                let _ = write!(w, "{self}");
            }
        }
    )*};
}

integer_leaf!(u8, u16, u32, i32);

/// How a structure holds one of its fields.
pub(crate) trait Member<'a>: Sized {
    /// What decoding collects before the structure is complete.
    type Slot: Default;
    /// Decodes one occurrence into the slot.
    fn put(
        slot: &mut Self::Slot,
        r: &mut Reader<'a>,
        start: Element<'a>,
        name: &'static str,
    ) -> Result<(), DecodeError>;
    /// The field from what was collected; `offset` is the parent element's.
    fn take(slot: Self::Slot, name: &'static str, offset: usize) -> Result<Self, DecodeError>;
    /// Writes the field (nothing when absent).
    fn encode_member(&self, w: &mut Writer<'_>, name: &str);
    /// Whether the field is left out of JSON.
    fn skip_json(&self) -> bool {
        false
    }
}

impl<'a, T: Field<'a>> Member<'a> for T {
    type Slot = Option<T>;
    fn put(
        slot: &mut Option<T>,
        r: &mut Reader<'a>,
        start: Element<'a>,
        name: &'static str,
    ) -> Result<(), DecodeError> {
        // A repeated element that should occur once: the last one wins.
        *slot = Some(T::decode(r, start, name)?);
        Ok(())
    }
    fn take(slot: Option<T>, name: &'static str, offset: usize) -> Result<Self, DecodeError> {
        slot.ok_or(DecodeError::MissingElement {
            element: name,
            offset,
        })
    }
    fn encode_member(&self, w: &mut Writer<'_>, name: &str) {
        self.encode(w, name);
    }
}

impl<'a, T: Field<'a>> Member<'a> for Option<T> {
    type Slot = Option<T>;
    fn put(
        slot: &mut Option<T>,
        r: &mut Reader<'a>,
        start: Element<'a>,
        name: &'static str,
    ) -> Result<(), DecodeError> {
        let content = r.offset();
        match T::decode(r, start, name) {
            Ok(value) => *slot = Some(value),
            // An optional simple value written as an empty element (`<ringCount/>`,
            // `<ringCount></ringCount>`, seen from as-feature-event peers) is taken
            // as absent.
            Err(DecodeError::InvalidValue { .. })
                if start.is_empty()
                    || r.input()
                        .get(content..)
                        .is_some_and(|c| c.starts_with("</")) => {}
            Err(e) => return Err(e),
        }
        Ok(())
    }
    fn take(slot: Option<T>, _name: &'static str, _offset: usize) -> Result<Self, DecodeError> {
        Ok(slot)
    }
    fn encode_member(&self, w: &mut Writer<'_>, name: &str) {
        if let Some(value) = self {
            value.encode(w, name);
        }
    }
    fn skip_json(&self) -> bool {
        self.is_none()
    }
}

impl<'a, T: Field<'a>, const N: usize> Member<'a> for heapless::Vec<T, N> {
    type Slot = heapless::Vec<T, N>;
    fn put(
        slot: &mut heapless::Vec<T, N>,
        r: &mut Reader<'a>,
        start: Element<'a>,
        name: &'static str,
    ) -> Result<(), DecodeError> {
        let offset = r.offset();
        let value = T::decode(r, start, name)?;
        slot.push(value).map_err(|_| DecodeError::TooMany {
            element: name,
            offset,
        })
    }
    fn take(
        slot: heapless::Vec<T, N>,
        _name: &'static str,
        _offset: usize,
    ) -> Result<Self, DecodeError> {
        Ok(slot)
    }
    fn encode_member(&self, w: &mut Writer<'_>, name: &str) {
        for value in self {
            value.encode(w, name);
        }
    }
}

/// Reads the children of the element just started, handing each start tag to `child`
/// (which must consume the child through its end tag or return `false` to have it
/// skipped). Character data between children is ignored.
pub(crate) fn children<'a>(
    r: &mut Reader<'a>,
    mut child: impl FnMut(&mut Reader<'a>, Element<'a>) -> Result<bool, DecodeError>,
) -> Result<(), DecodeError> {
    loop {
        match r.next_tag()? {
            Event::Start(e) => {
                if !child(r, e)? {
                    r.skip()?;
                }
            }
            _ => return Ok(()),
        }
    }
}

/// Serialises a structure's members as a JSON object.
pub(crate) fn serialize_member<'a, S: SerializeStruct, T: Member<'a> + serde::Serialize>(
    s: &mut S,
    name: &'static str,
    value: &T,
) -> Result<(), S::Error> {
    if value.skip_json() {
        s.skip_field(name)
    } else {
        s.serialize_field(name, value)
    }
}

/// Reads one JSON member value into a structure's slot.
pub(crate) fn deserialize_member<'de, M: MapAccess<'de>, T: serde::Deserialize<'de>>(
    map: &mut M,
    slot: &mut Option<T>,
) -> Result<(), M::Error> {
    *slot = Some(map.next_value()?);
    Ok(())
}

/// The field from a JSON slot: required fields must be present, options and lists
/// may be absent.
pub(crate) trait FromJsonSlot: Sized {
    fn from_json_slot<E: de::Error>(slot: Option<Self>, name: &'static str) -> Result<Self, E>;
}

impl<T> FromJsonSlot for Option<T> {
    fn from_json_slot<E: de::Error>(slot: Option<Self>, _name: &'static str) -> Result<Self, E> {
        Ok(slot.flatten())
    }
}

impl<T, const N: usize> FromJsonSlot for heapless::Vec<T, N> {
    fn from_json_slot<E: de::Error>(slot: Option<Self>, _name: &'static str) -> Result<Self, E> {
        Ok(slot.unwrap_or_default())
    }
}

/// Marks types that must be present in JSON.
macro_rules! required_in_json {
    ($($t:ty),* $(,)?) => {$(
        impl $crate::codec::FromJsonSlot for $t {
            fn from_json_slot<E: serde::de::Error>(slot: Option<Self>, name: &'static str) -> Result<Self, E> {
                slot.ok_or_else(|| E::missing_field(name))
            }
        }
    )*};
}

required_in_json!(bool, u8, u16, u32, i32, Text<'_>);

/// A structure: an element whose children are its fields.
///
/// ```text
/// structure! {
///     /// Docs.
///     pub struct MakeCall<'a> {
///         /// Docs.
///         calling_device: DeviceId<'a> = "callingDevice",
///         account_code: Option<Text<'a>> = "accountCode",
///     }
/// }
/// ```
///
/// Fields are listed in schema order, which is the encoding order; the element name
/// doubles as the JSON member name. Generates the struct with public fields,
/// [`Field`] (lenient decode, strict encode) and serde (JSON object).
macro_rules! structure {
    (
        $(#[$meta:meta])*
        pub struct $name:ident $(<$lt:lifetime>)? {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty = $elem:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name $(<$lt>)? {
            $( $(#[$fmeta])* #[doc = concat!("\n\nElement `", $elem, "`.")] pub $field: $ty, )*
        }

        impl<'a> $crate::codec::Field<'a> for $name $(<$lt>)? {
            #[allow(unused_variables, unused_mut)]
            fn decode(
                r: &mut $crate::xml::Reader<'a>,
                start: $crate::xml::Element<'a>,
                name: &'static str,
            ) -> Result<Self, $crate::codec::DecodeError> {
                let offset = r.offset();
                $( let mut $field = <<$ty as $crate::codec::Member<'a>>::Slot as Default>::default(); )*
                $crate::codec::children(r, |r, child| {
                    match child.local_name() {
                        $( $elem => {
                            <$ty as $crate::codec::Member<'a>>::put(&mut $field, r, child, $elem)?;
                            Ok(true)
                        } )*
                        _ => Ok(false),
                    }
                })?;
                Ok($name {
                    $( $field: <$ty as $crate::codec::Member<'a>>::take($field, $elem, offset)?, )*
                })
            }

            fn encode(&self, w: &mut $crate::xml::Writer<'_>, name: &str) {
                w.open(name);
                self.encode_children(w);
                w.end(name);
            }
        }

        impl $(<$lt>)? $name $(<$lt>)? {
            #[allow(unused_variables)]
            pub(crate) fn encode_children(&self, w: &mut $crate::xml::Writer<'_>) {
                $( $crate::codec::Member::encode_member(&self.$field, w, $elem); )*
            }
        }

        impl<'a> $crate::codec::FromJsonSlot for $name $(<$lt>)? {
            fn from_json_slot<E: serde::de::Error>(slot: Option<Self>, name: &'static str) -> Result<Self, E> {
                slot.ok_or_else(|| E::missing_field(name))
            }
        }

        impl $(<$lt>)? serde::Serialize for $name $(<$lt>)? {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                #[allow(unused_mut)]
                let mut st = s.serialize_struct(stringify!($name), 0 $(+ { let _ = $elem; 1 })*)?;
                $( $crate::codec::serialize_member(&mut st, $elem, &self.$field)?; )*
                serde::ser::SerializeStruct::end(st)
            }
        }

        impl<'de $(: $lt, $lt)?> serde::Deserialize<'de> for $name $(<$lt>)? {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V $(<$lt>)? (core::marker::PhantomData<$name $(<$lt>)?>);
                impl<'de $(: $lt, $lt)?> serde::de::Visitor<'de> for V $(<$lt>)? {
                    type Value = $name $(<$lt>)?;
                    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                        f.write_str(concat!("a ", stringify!($name), " object"))
                    }
                    #[allow(unused_mut, unused_variables)]
                    fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
                        $( let mut $field: Option<$ty> = None; )*
                        while let Some(key) = map.next_key::<$crate::json::JsonText<'de>>()? {
                            let key = key.0;
                            $( if key.eq_str($elem) {
                                $crate::codec::deserialize_member(&mut map, &mut $field)?;
                                continue;
                            } )*
                            map.next_value::<serde::de::IgnoredAny>()?;
                        }
                        Ok($name {
                            $( $field: $crate::codec::FromJsonSlot::from_json_slot($field, $elem)?, )*
                        })
                    }
                }
                d.deserialize_struct(stringify!($name), &[$($elem),*], V(core::marker::PhantomData))
            }
        }
    };
}
