//! ECMA-354 application sessions, used on the CSTA-over-TCP interface.

use heapless::Vec;

use crate::codec::{DecodeError, Field};
use crate::types::CrossRefId;
use crate::xml::{Element, Event, Reader, Text, Writer};

/// The ECMA-354 namespace.
pub const NAMESPACE: &str = "http://www.ecma-international.org/standards/ecma-354/appl_session";

/// Capacity of a protocol version list.
pub const PROTOCOL_VERSIONS_MAX: usize = 4;

/// Log-in data inside `applicationSpecificInfo`, which ECMA-354 leaves to vendors.
///
/// Decoding finds the user and password by local name wherever they sit inside
/// `applicationSpecificInfo` (`userName`, `userID`, `user` or `loginID`; `password`),
/// which covers the vendor forms in use; encoding writes
/// `<applicationSpecificInfo><userName>..</userName><password>..</password>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ApplicationSpecificInfo<'a> {
    /// The user.
    #[serde(
        rename = "userName",
        default,
        skip_serializing_if = "Option::is_none",
        borrow
    )]
    pub user: Option<Text<'a>>,
    /// The password.
    #[serde(default, skip_serializing_if = "Option::is_none", borrow)]
    pub password: Option<Text<'a>>,
}

impl<'a> Field<'a> for ApplicationSpecificInfo<'a> {
    fn decode(
        r: &mut Reader<'a>,
        _start: Element<'a>,
        _name: &'static str,
    ) -> Result<Self, DecodeError> {
        let mut info = ApplicationSpecificInfo::default();
        let depth = r.depth();
        while r.depth() >= depth {
            match r.next_event()? {
                Event::Start(e) => match e.local_name() {
                    "userName" | "userID" | "user" | "loginID" => {
                        info.user = Some(r.read_text()?.trim())
                    }
                    "password" => info.password = Some(r.read_text()?),
                    _ => {}
                },
                Event::Eof => break,
                _ => {}
            }
        }
        Ok(info)
    }

    fn encode(&self, w: &mut Writer<'_>, name: &str) {
        w.open(name);
        if let Some(user) = &self.user {
            w.leaf("userName", user);
        }
        if let Some(password) = &self.password {
            w.leaf("password", password);
        }
        w.end(name);
    }
}

required_in_json!(ApplicationSpecificInfo<'_>);

structure! {
    /// Who the application is.
    pub struct ApplicationInfo<'a> {
        /// The application's name.
        application_id: Option<Text<'a>> = "applicationID",
        /// Vendor log-in data.
        application_specific_info: Option<ApplicationSpecificInfo<'a>> = "applicationSpecificInfo",
    }
}

structure! {
    /// Protocol versions (namespace URIs of ECMA-323 editions).
    pub struct ProtocolVersions<'a> {
        /// The versions, most preferred first; at most [`PROTOCOL_VERSIONS_MAX`].
        versions: Vec<Text<'a>, PROTOCOL_VERSIONS_MAX> = "protocolVersion",
    }
}

structure! {
    /// Open an application session.
    pub struct StartApplicationSession<'a> {
        /// Who is asking.
        application_info: ApplicationInfo<'a> = "applicationInfo",
        /// The versions the application speaks.
        requested_protocol_versions: Option<ProtocolVersions<'a>> = "requestedProtocolVersions",
        /// Seconds without traffic before the session ends.
        requested_session_duration: Option<u32> = "requestedSessionDuration",
    }
}

structure! {
    /// The session is open.
    pub struct StartApplicationSessionPosResponse<'a> {
        /// The session.
        session_id: CrossRefId<'a> = "sessionID",
        /// The version chosen.
        actual_protocol_version: Text<'a> = "actualProtocolVersion",
        /// Seconds without traffic before the session ends.
        actual_session_duration: Option<u32> = "actualSessionDuration",
    }
}

/// Why a session request was refused (ECMA-354 `errorCode`). In JSON:
/// `{"definedError": "..."}` or `{"nonStandardError": "..."}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SessionError<'a> {
    /// `definedError`: one of ECMA-354's values.
    #[serde(rename = "definedError", borrow)]
    Defined(crate::names::ApplicationSessionError<'a>),
    /// `nonStandardError`: vendor text.
    #[serde(rename = "nonStandardError", borrow)]
    NonStandard(Text<'a>),
}

impl Default for SessionError<'_> {
    fn default() -> Self {
        SessionError::NonStandard(Text::EMPTY)
    }
}

impl<'a> Field<'a> for SessionError<'a> {
    fn decode(
        r: &mut Reader<'a>,
        _start: Element<'a>,
        name: &'static str,
    ) -> Result<Self, DecodeError> {
        let offset = r.offset();
        let mut error = None;
        crate::codec::children(r, |r, child| {
            let value = match child.local_name() {
                "definedError" => SessionError::Defined(Field::decode(r, child, "definedError")?),
                "nonStandardError" => SessionError::NonStandard(r.read_text()?),
                _ => return Ok(false),
            };
            error.get_or_insert(value);
            Ok(true)
        })?;
        error.ok_or(DecodeError::MissingElement {
            element: name,
            offset,
        })
    }

    fn encode(&self, w: &mut Writer<'_>, name: &str) {
        w.open(name);
        match self {
            SessionError::Defined(e) => e.encode(w, "definedError"),
            SessionError::NonStandard(t) => w.leaf("nonStandardError", t),
        }
        w.end(name);
    }
}

required_in_json!(SessionError<'_>);

structure! {
    /// The session was refused.
    pub struct StartApplicationSessionNegResponse<'a> {
        /// Why.
        error_code: SessionError<'a> = "errorCode",
    }
}

structure! {
    /// Why a session ends.
    pub struct SessionEndReason<'a> {
        /// One of ECMA-354's reasons.
        defined_end_reason: Option<crate::names::SessionEndReason<'a>> = "definedEndReason",
        /// Vendor text.
        non_standard_end_reason: Option<Text<'a>> = "nonStandardEndReason",
    }
}

structure! {
    /// Close the session.
    pub struct StopApplicationSession<'a> {
        /// The session.
        session_id: CrossRefId<'a> = "sessionID",
        /// Why.
        session_end_reason: Option<SessionEndReason<'a>> = "sessionEndReason",
    }
}

structure! {
    /// The session is closed.
    pub struct StopApplicationSessionPosResponse {}
}

structure! {
    /// Closing the session failed.
    pub struct StopApplicationSessionNegResponse<'a> {
        /// Why.
        error_code: SessionError<'a> = "errorCode",
    }
}

structure! {
    /// Keep the session alive (and optionally change its duration).
    pub struct ResetApplicationSessionTimer<'a> {
        /// The session.
        session_id: CrossRefId<'a> = "sessionID",
        /// New duration in seconds.
        requested_session_duration: Option<u32> = "requestedSessionDuration",
    }
}

structure! {
    /// The timer was reset.
    pub struct ResetApplicationSessionTimerPosResponse {
        /// Duration in seconds.
        actual_session_duration: Option<u32> = "actualSessionDuration",
    }
}

structure! {
    /// Resetting the timer failed.
    pub struct ResetApplicationSessionTimerNegResponse<'a> {
        /// Why.
        error_code: SessionError<'a> = "errorCode",
    }
}

structure! {
    /// Why the server ended a session (`sessionTermReason`).
    pub struct SessionTermReason<'a> {
        /// One of ECMA-354's reasons.
        defined_term_reason: Option<crate::names::SessionTermReason<'a>> = "definedTermReason",
        /// Vendor text.
        non_standard_term_reason: Option<Text<'a>> = "nonStandardTermReason",
    }
}

structure! {
    /// The server ended the session (sent unsolicited, not answered).
    pub struct ApplicationSessionTerminated<'a> {
        /// The session.
        session_id: CrossRefId<'a> = "sessionID",
        /// Why.
        session_term_reason: SessionTermReason<'a> = "sessionTermReason",
    }
}
