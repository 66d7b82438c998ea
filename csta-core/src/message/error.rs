//! `CSTAErrorCode`: the negative response to any request.

use crate::codec::{DecodeError, Field, Leaf};
use crate::names::{
    Operation, PerformanceManagement, Security, StateIncompatibility,
    SubscribedResourceAvailability, SystemResourceAvailability,
};
use crate::xml::{Element, Reader, Text, Writer};

/// A negative response: exactly one category with its value.
///
/// In JSON: `{"operation": "invalidCallID"}`; the categories are named as on the wire,
/// `systemResourceAvailibility` included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ErrorCode<'a> {
    /// `operation`: the request itself is wrong or unsupported.
    #[serde(rename = "operation", borrow)]
    Operation(Operation<'a>),
    /// `security`.
    #[serde(rename = "security", borrow)]
    Security(Security<'a>),
    /// `stateIncompatibility`: the call or device is in the wrong state.
    #[serde(rename = "stateIncompatibility", borrow)]
    StateIncompatibility(StateIncompatibility<'a>),
    /// `systemResourceAvailibility` (sic): the switching function lacks resources.
    #[serde(rename = "systemResourceAvailibility", borrow)]
    SystemResourceAvailability(SystemResourceAvailability<'a>),
    /// `subscribedResourceAvailability`.
    #[serde(rename = "subscribedResourceAvailability", borrow)]
    SubscribedResourceAvailability(SubscribedResourceAvailability<'a>),
    /// `performanceManagement`.
    #[serde(rename = "performanceManagement", borrow)]
    PerformanceManagement(PerformanceManagement<'a>),
    /// `privateData`: vendor-defined (content not kept).
    #[serde(rename = "privateData")]
    PrivateData,
    /// `unspecified`, with its text.
    #[serde(rename = "unspecified", borrow)]
    Unspecified(Text<'a>),
}

impl Default for ErrorCode<'_> {
    fn default() -> Self {
        ErrorCode::Unspecified(Text::EMPTY)
    }
}

impl<'a> ErrorCode<'a> {
    /// The category's element name.
    pub fn category(&self) -> &'static str {
        match self {
            ErrorCode::Operation(_) => "operation",
            ErrorCode::Security(_) => "security",
            ErrorCode::StateIncompatibility(_) => "stateIncompatibility",
            ErrorCode::SystemResourceAvailability(_) => "systemResourceAvailibility",
            ErrorCode::SubscribedResourceAvailability(_) => "subscribedResourceAvailability",
            ErrorCode::PerformanceManagement(_) => "performanceManagement",
            ErrorCode::PrivateData => "privateData",
            ErrorCode::Unspecified(_) => "unspecified",
        }
    }

    /// The value's wire spelling (empty for `privateData`).
    pub fn value(&self) -> Text<'a> {
        match *self {
            ErrorCode::Operation(v) => v.as_text(),
            ErrorCode::Security(v) => v.as_text(),
            ErrorCode::StateIncompatibility(v) => v.as_text(),
            ErrorCode::SystemResourceAvailability(v) => v.as_text(),
            ErrorCode::SubscribedResourceAvailability(v) => v.as_text(),
            ErrorCode::PerformanceManagement(v) => v.as_text(),
            ErrorCode::PrivateData => Text::EMPTY,
            ErrorCode::Unspecified(t) => t,
        }
    }
}

fn leaf<'a, T: Leaf<'a>>(
    r: &mut Reader<'a>,
    child: Element<'a>,
    name: &'static str,
) -> Result<T, DecodeError> {
    T::decode(r, child, name)
}

impl<'a> Field<'a> for ErrorCode<'a> {
    fn decode(
        r: &mut Reader<'a>,
        _start: Element<'a>,
        name: &'static str,
    ) -> Result<Self, DecodeError> {
        let offset = r.offset();
        let mut code = None;
        crate::codec::children(r, |r, child| {
            let value = match child.local_name() {
                "operation" => ErrorCode::Operation(leaf(r, child, "operation")?),
                "security" => ErrorCode::Security(leaf(r, child, "security")?),
                "stateIncompatibility" => {
                    ErrorCode::StateIncompatibility(leaf(r, child, "stateIncompatibility")?)
                }
                // The schema's spelling, and the correct one some peers send.
                "systemResourceAvailibility" | "systemResourceAvailability" => {
                    ErrorCode::SystemResourceAvailability(leaf(
                        r,
                        child,
                        "systemResourceAvailibility",
                    )?)
                }
                "subscribedResourceAvailability" => ErrorCode::SubscribedResourceAvailability(
                    leaf(r, child, "subscribedResourceAvailability")?,
                ),
                "performanceManagement" => {
                    ErrorCode::PerformanceManagement(leaf(r, child, "performanceManagement")?)
                }
                "privateData" => {
                    r.skip()?;
                    ErrorCode::PrivateData
                }
                "unspecified" => ErrorCode::Unspecified(r.read_text()?.trim()),
                _ => return Ok(false),
            };
            code.get_or_insert(value);
            Ok(true)
        })?;
        code.ok_or(DecodeError::MissingElement {
            element: name,
            offset,
        })
    }

    fn encode(&self, w: &mut Writer<'_>, name: &str) {
        w.open(name);
        self.encode_children(w);
        w.end(name);
    }
}

impl ErrorCode<'_> {
    pub(crate) fn encode_children(&self, w: &mut Writer<'_>) {
        match self {
            ErrorCode::PrivateData => w.empty("privateData"),
            other => w.leaf(other.category(), &other.value()),
        }
    }
}

required_in_json!(ErrorCode<'_>);
