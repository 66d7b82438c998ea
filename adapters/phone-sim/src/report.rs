//! What a phone reports: one [`Report`] per notable happening, written as one JSON line.

pub use ucsta_phone::CallState;

/// One notable happening of a phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    /// The registrar accepted the binding.
    Registered {
        /// The granted expiry in seconds.
        expires: u32,
    },
    /// A REGISTER failed; the phone retries later unless `retrying` is false.
    RegistrationFailed {
        /// Why.
        reason: String,
        /// Whether another attempt follows.
        retrying: bool,
    },
    /// The binding was removed.
    Unregistered,
    /// A uaCSTA session was accepted.
    CstaUp,
    /// The uaCSTA session ended.
    CstaDown {
        /// Why.
        reason: String,
    },
    /// A CSTA request was served.
    CstaRequest {
        /// The request's element name (`MakeCall`).
        name: String,
        /// The answer's element name (`MakeCallResponse`, `CSTAErrorCode`).
        answer: String,
    },
    /// A CSTA event was queued to the application.
    CstaEvent {
        /// The event's element name (`DeliveredEvent`).
        name: String,
    },
    /// The application refused an event INFO.
    CstaEventRejected {
        /// The SIP status, if any came.
        status: Option<u16>,
    },
    /// A call changed state.
    Call {
        /// The phone's own number for the call (1, 2, ...).
        call: u32,
        /// The new state.
        state: CallState,
        /// The far end's number.
        peer: String,
        /// What moved it (`answered`, `bye`, `busy`, `486`, `cancelled`, ...).
        cause: String,
    },
    /// An incoming call was turned away or sent on without ringing here.
    Rejected {
        /// The caller.
        from: String,
        /// The SIP status sent.
        status: u16,
        /// Where it was sent (302), if anywhere.
        to: Option<String>,
    },
    /// Something went wrong that the phone survived.
    Warning {
        /// What.
        message: String,
    },
}

impl Report {
    /// The `event` field of the JSON line.
    pub fn event(&self) -> &'static str {
        match self {
            Report::Registered { .. } => "registered",
            Report::RegistrationFailed { .. } => "registration_failed",
            Report::Unregistered => "unregistered",
            Report::CstaUp => "csta_up",
            Report::CstaDown { .. } => "csta_down",
            Report::CstaRequest { .. } => "csta_request",
            Report::CstaEvent { .. } => "csta_event",
            Report::CstaEventRejected { .. } => "csta_event_rejected",
            Report::Call { .. } => "call",
            Report::Rejected { .. } => "rejected",
            Report::Warning { .. } => "warning",
        }
    }

    /// Whether `word` names this report: its `event`, its CSTA `name`, or (for a call)
    /// its state. What `expect` lines match.
    pub fn matches(&self, word: &str) -> bool {
        if self.event() == word {
            return true;
        }
        match self {
            Report::CstaRequest { name, .. } | Report::CstaEvent { name } => name == word,
            Report::Call { state, .. } => state.as_str() == word,
            _ => false,
        }
    }

    /// The report as one JSON object, tagged with the phone's user and a time stamp in
    /// milliseconds.
    pub fn to_json(&self, phone: &str, at_ms: u64) -> serde_json::Value {
        use serde_json::json;
        let mut v = match self {
            Report::Registered { expires } => json!({ "expires": expires }),
            Report::RegistrationFailed { reason, retrying } => {
                json!({ "reason": reason, "retrying": retrying })
            }
            Report::Unregistered | Report::CstaUp => json!({}),
            Report::CstaDown { reason } => json!({ "reason": reason }),
            Report::CstaRequest { name, answer } => json!({ "name": name, "answer": answer }),
            Report::CstaEvent { name } => json!({ "name": name }),
            Report::CstaEventRejected { status } => json!({ "status": status }),
            Report::Call {
                call,
                state,
                peer,
                cause,
            } => json!({ "call": call, "state": state.as_str(), "peer": peer, "cause": cause }),
            Report::Rejected { from, status, to } => {
                json!({ "from": from, "status": status, "to": to })
            }
            Report::Warning { message } => json!({ "message": message }),
        };
        if let Some(o) = v.as_object_mut() {
            o.insert("phone".into(), json!(phone));
            o.insert("event".into(), json!(self.event()));
            o.insert("t".into(), json!(at_ms));
        }
        v
    }
}

impl From<ucsta_phone::Report> for Report {
    fn from(r: ucsta_phone::Report) -> Report {
        use ucsta_phone::Report as R;
        match r {
            R::Registered { expires } => Report::Registered { expires },
            R::RegistrationFailed { reason, retrying } => Report::RegistrationFailed {
                reason: format!("{reason:?}"),
                retrying,
            },
            R::Unregistered => Report::Unregistered,
            R::CstaUp => Report::CstaUp,
            R::CstaDown { reason } => Report::CstaDown {
                reason: format!("{reason:?}"),
            },
            R::CstaRequest { name, answer } => Report::CstaRequest {
                name: name.to_owned(),
                answer: answer.to_owned(),
            },
            R::CstaEvent { name } => Report::CstaEvent {
                name: name.to_owned(),
            },
            R::CstaEventRejected { status } => Report::CstaEventRejected { status },
            R::Call {
                call,
                state,
                peer,
                cause,
            } => Report::Call {
                call,
                state,
                peer: peer.as_str().to_owned(),
                cause: cause.to_string(),
            },
            R::Rejected { from, status, to } => Report::Rejected {
                from: from.as_str().to_owned(),
                status,
                to: to.map(|t| t.as_str().to_owned()),
            },
            R::Warning { what, why } => Report::Warning {
                message: format!("{what}: {why}"),
            },
        }
    }
}
