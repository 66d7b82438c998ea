//! CSTA messages: the uaCSTA service set, its responses and events, `CSTAErrorCode`
//! and the ECMA-354 application session messages.
//!
//! [`decode`] reads any of them from XML, reporting the peer's [`Edition`];
//! [`Message::encode`] writes one in the edition asked for. Every message type is also
//! a serde type: [`crate::json`] maps them to JSON.

pub mod call;
pub mod device;
pub mod error;
pub mod event;
pub mod monitor;
pub mod session;
pub mod system;

use core::fmt;

use crate::codec::{DecodeError, Field};
use crate::xml::{Element, Event, Leniency, Limits, Reader, WriteError, Writer};

pub use error::ErrorCode;

/// An edition of ECMA-323, named by its namespace.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Edition {
    /// Edition 2 (`http://www.ecma.ch/standards/ecma-323/csta/ed2`); decoded, never
    /// encoded.
    #[serde(rename = "ed2")]
    Ed2,
    /// Edition 3, the TR/87 default.
    #[serde(rename = "ed3")]
    Ed3,
    /// Edition 4.
    #[serde(rename = "ed4")]
    Ed4,
    /// Edition 5.
    #[serde(rename = "ed5")]
    Ed5,
    /// Edition 6.
    #[serde(rename = "ed6")]
    Ed6,
}

impl Edition {
    /// The namespace this crate writes for the edition.
    pub const fn namespace(self) -> &'static str {
        match self {
            Edition::Ed2 => "http://www.ecma.ch/standards/ecma-323/csta/ed2",
            Edition::Ed3 => "http://www.ecma-international.org/standards/ecma-323/csta/ed3",
            Edition::Ed4 => "http://www.ecma-international.org/standards/ecma-323/csta/ed4",
            Edition::Ed5 => "http://www.ecma-international.org/standards/ecma-323/csta/ed5",
            Edition::Ed6 => "http://www.ecma-international.org/standards/ecma-323/csta/ed6",
        }
    }

    /// The short name (`ed3`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Edition::Ed2 => "ed2",
            Edition::Ed3 => "ed3",
            Edition::Ed4 => "ed4",
            Edition::Ed5 => "ed5",
            Edition::Ed6 => "ed6",
        }
    }

    /// The edition a namespace URI names. Tolerates the variants in the wild: any host
    /// (`ecma-international.org`, `ecmainternational.org`, `ecma.ch`), a trailing
    /// `/privN` and a trailing slash; the edition is the `edN` path segment.
    pub fn from_namespace(uri: &str) -> Option<Edition> {
        // Nearly every peer writes the namespace exactly as this crate does.
        const EXACT: [Edition; 5] = [
            Edition::Ed3,
            Edition::Ed4,
            Edition::Ed5,
            Edition::Ed6,
            Edition::Ed2,
        ];
        if let Some(&edition) = EXACT.iter().find(|e| e.namespace() == uri) {
            return Some(edition);
        }
        uri.split('/').rev().find_map(|segment| match segment {
            "ed2" => Some(Edition::Ed2),
            "ed3" => Some(Edition::Ed3),
            "ed4" => Some(Edition::Ed4),
            "ed5" => Some(Edition::Ed5),
            "ed6" => Some(Edition::Ed6),
            _ => None,
        })
    }

    /// The edition named `ed3` .. `ed6` (or `ed2`).
    pub fn from_name(name: &str) -> Option<Edition> {
        Edition::from_namespace(name)
    }
}

impl fmt::Display for Edition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Kind {
    /// A service request.
    Request,
    /// A positive response.
    Response,
    /// A negative response (`CSTAErrorCode`, ECMA-354 `...NegResponse`).
    Error,
    /// An event.
    Event,
}

macro_rules! messages {
    ( $( $kind:ident $variant:ident ( $ty:ty ) , )+ ) => {
        /// Any message this crate knows. The variant is the root element's name.
        ///
        /// In JSON a message is an object with one member named after the root
        /// element: `{"MakeCall": {"callingDevice": {"id": "201"}, ...}}`.
        #[derive(Debug, Clone, PartialEq)]
        #[allow(clippy::large_enum_variant)]
        pub enum Message<'a> {
            $(
                #[doc = concat!("`", stringify!($variant), "`.")]
                $variant($ty),
            )+
        }

        impl<'a> Message<'a> {
            /// The root element's name.
            pub const fn name(&self) -> &'static str {
                match self {
                    $( Message::$variant(_) => stringify!($variant), )+
                }
            }

            /// What the message is.
            pub const fn kind(&self) -> Kind {
                match self {
                    $( Message::$variant(_) => Kind::$kind, )+
                }
            }

            /// Every root element name this crate decodes, with its kind.
            pub const NAMES: &'static [(&'static str, Kind)] = &[
                $( (stringify!($variant), Kind::$kind), )+
            ];

            /// Whether `name` is exactly the name of a message.
            fn is_name(name: &str) -> bool {
                matches!(name, $( stringify!($variant) )|+)
            }

            /// Decodes the message whose root element `root` was just read, and the
            /// rest of the document.
            ///
            /// The message is built right in the returned [`Decoded`] (no intermediate
            /// `Result<Message>`): messages are kilobytes, and each move is a copy.
            fn decode_root(
                r: &mut Reader<'a>,
                root: Element<'a>,
                edition: Option<Edition>,
                lenient_case: bool,
            ) -> Result<Decoded<'a>, DecodeError> {
                let mut name = root.local_name();
                if lenient_case && !Self::is_name(name) {
                    if let Some(&(known, _)) =
                        Self::NAMES.iter().find(|(n, _)| n.eq_ignore_ascii_case(name))
                    {
                        name = known;
                    }
                }
                let offset = r.offset();
                match name {
                    $(
                        stringify!($variant) => {
                            let message = Message::$variant(
                                <$ty as Field<'a>>::decode(r, root, stringify!($variant))?,
                            );
                            // The rest must be well-formed too.
                            while r.next_event()? != Event::Eof {}
                            Ok(Decoded { message, edition })
                        }
                    )+
                    _ => Err(DecodeError::UnknownMessage { offset }),
                }
            }

            fn encode_children(&self, w: &mut Writer<'_>) {
                match self {
                    $( Message::$variant(m) => m.encode_children(w), )+
                }
            }
        }

        $(
            impl<'a> From<$ty> for Message<'a> {
                fn from(m: $ty) -> Self {
                    Message::$variant(m)
                }
            }
        )+

        impl serde::Serialize for Message<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut index = 0u32;
                $(
                    if let Message::$variant(m) = self {
                        return s.serialize_newtype_variant("Message", index, stringify!($variant), m);
                    }
                    index += 1;
                )+
                let _ = index;
                unreachable!("every variant is listed")
            }
        }

        impl<'de: 'a, 'a> serde::Deserialize<'de> for Message<'a> {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V<'a>(core::marker::PhantomData<Message<'a>>);
                impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
                    type Value = Message<'a>;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str("a CSTA message object")
                    }
                    fn visit_enum<A: serde::de::EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
                        use serde::de::VariantAccess;
                        let (name, variant) = data.variant::<crate::json::JsonText<'de>>()?;
                        $(
                            if name.0.eq_str(stringify!($variant)) {
                                return Ok(Message::$variant(variant.newtype_variant::<$ty>()?));
                            }
                        )+
                        Err(serde::de::Error::unknown_variant("", NAMES_ONLY))
                    }
                }
                const NAMES_ONLY: &[&str] = &[$(stringify!($variant)),+];
                d.deserialize_enum("Message", NAMES_ONLY, V(core::marker::PhantomData))
            }
        }
    };
}

use call::*;
use device::*;
use event::*;
use monitor::*;
use session::*;
use system::*;

messages! {
    Request MakeCall(MakeCall<'a>),
    Response MakeCallResponse(MakeCallResponse<'a>),
    Request AnswerCall(AnswerCall<'a>),
    Response AnswerCallResponse(AnswerCallResponse),
    Request ClearConnection(ClearConnection<'a>),
    Response ClearConnectionResponse(ClearConnectionResponse),
    Request HoldCall(HoldCall<'a>),
    Response HoldCallResponse(HoldCallResponse),
    Request RetrieveCall(RetrieveCall<'a>),
    Response RetrieveCallResponse(RetrieveCallResponse),
    Request ConsultationCall(ConsultationCall<'a>),
    Response ConsultationCallResponse(ConsultationCallResponse<'a>),
    Request TransferCall(TransferCall<'a>),
    Response TransferCallResponse(TransferCallResponse<'a>),
    Request ConferenceCall(ConferenceCall<'a>),
    Response ConferenceCallResponse(ConferenceCallResponse<'a>),
    Request AlternateCall(AlternateCall<'a>),
    Response AlternateCallResponse(AlternateCallResponse),
    Request ReconnectCall(ReconnectCall<'a>),
    Response ReconnectCallResponse(ReconnectCallResponse),
    Request DeflectCall(DeflectCall<'a>),
    Response DeflectCallResponse(DeflectCallResponse),
    Request DirectedPickupCall(DirectedPickupCall<'a>),
    Response DirectedPickupCallResponse(DirectedPickupCallResponse<'a>),
    Request GroupPickupCall(GroupPickupCall<'a>),
    Response GroupPickupCallResponse(GroupPickupCallResponse<'a>),
    Request SingleStepTransferCall(SingleStepTransferCall<'a>),
    Response SingleStepTransferCallResponse(SingleStepTransferCallResponse<'a>),
    Request GenerateDigits(GenerateDigits<'a>),
    Response GenerateDigitsResponse(GenerateDigitsResponse),
    Request GetDoNotDisturb(GetDoNotDisturb<'a>),
    Response GetDoNotDisturbResponse(GetDoNotDisturbResponse),
    Request SetDoNotDisturb(SetDoNotDisturb<'a>),
    Response SetDoNotDisturbResponse(SetDoNotDisturbResponse),
    Request GetForwarding(GetForwarding<'a>),
    Response GetForwardingResponse(GetForwardingResponse<'a>),
    Request SetForwarding(SetForwarding<'a>),
    Response SetForwardingResponse(SetForwardingResponse),
    Request GetMessageWaitingIndicator(GetMessageWaitingIndicator<'a>),
    Response GetMessageWaitingIndicatorResponse(GetMessageWaitingIndicatorResponse),
    Request SetMessageWaitingIndicator(SetMessageWaitingIndicator<'a>),
    Response SetMessageWaitingIndicatorResponse(SetMessageWaitingIndicatorResponse),
    Request GetSpeakerMute(GetSpeakerMute<'a>),
    Response GetSpeakerMuteResponse(GetSpeakerMuteResponse),
    Request SetSpeakerMute(SetSpeakerMute<'a>),
    Response SetSpeakerMuteResponse(SetSpeakerMuteResponse),
    Request GetSpeakerVolume(GetSpeakerVolume<'a>),
    Response GetSpeakerVolumeResponse(GetSpeakerVolumeResponse),
    Request SetSpeakerVolume(SetSpeakerVolume<'a>),
    Response SetSpeakerVolumeResponse(SetSpeakerVolumeResponse),
    Request GetMicrophoneMute(GetMicrophoneMute<'a>),
    Response GetMicrophoneMuteResponse(GetMicrophoneMuteResponse),
    Request SetMicrophoneMute(SetMicrophoneMute<'a>),
    Response SetMicrophoneMuteResponse(SetMicrophoneMuteResponse),
    Request MonitorStart(MonitorStart<'a>),
    Response MonitorStartResponse(MonitorStartResponse<'a>),
    Request MonitorStop(MonitorStop<'a>),
    Response MonitorStopResponse(MonitorStopResponse),
    Request SnapshotDevice(SnapshotDevice<'a>),
    Response SnapshotDeviceResponse(SnapshotDeviceResponse<'a>),
    Request GetCSTAFeatures(GetCSTAFeatures),
    Response GetCSTAFeaturesResponse(GetCSTAFeaturesResponse),
    Request RequestSystemStatus(RequestSystemStatus),
    Response RequestSystemStatusResponse(RequestSystemStatusResponse<'a>),
    Request SystemStatus(SystemStatus<'a>),
    Response SystemStatusResponse(SystemStatusResponse),
    Request SystemRegister(SystemRegister),
    Response SystemRegisterResponse(SystemRegisterResponse<'a>),
    Request SystemRegisterCancel(SystemRegisterCancel<'a>),
    Response SystemRegisterCancelResponse(SystemRegisterCancelResponse),
    Request GetSwitchingFunctionDevices(GetSwitchingFunctionDevices<'a>),
    Response GetSwitchingFunctionDevicesResponse(GetSwitchingFunctionDevicesResponse<'a>),
    Request SwitchingFunctionDevices(SwitchingFunctionDevices<'a>),
    Response SwitchingFunctionDevicesResponse(SwitchingFunctionDevicesResponse),
    Request SwitchingFunctionDevicesChanged(SwitchingFunctionDevicesChanged<'a>),
    Response SwitchingFunctionDevicesChangedResponse(SwitchingFunctionDevicesChangedResponse),
    Error CSTAErrorCode(ErrorCode<'a>),
    Event ServiceInitiatedEvent(ServiceInitiatedEvent<'a>),
    Event OriginatedEvent(OriginatedEvent<'a>),
    Event DeliveredEvent(DeliveredEvent<'a>),
    Event EstablishedEvent(EstablishedEvent<'a>),
    Event ConnectionClearedEvent(ConnectionClearedEvent<'a>),
    Event CallClearedEvent(CallClearedEvent<'a>),
    Event HeldEvent(HeldEvent<'a>),
    Event RetrievedEvent(RetrievedEvent<'a>),
    Event TransferedEvent(TransferedEvent<'a>),
    Event ConferencedEvent(ConferencedEvent<'a>),
    Event DivertedEvent(DivertedEvent<'a>),
    Event FailedEvent(FailedEvent<'a>),
    Event NetworkReachedEvent(NetworkReachedEvent<'a>),
    Event DigitsGeneratedEvent(DigitsGeneratedEvent<'a>),
    Event DoNotDisturbEvent(DoNotDisturbEvent<'a>),
    Event ForwardingEvent(ForwardingEvent<'a>),
    Event MessageWaitingEvent(MessageWaitingEvent<'a>),
    Event CallInformationEvent(CallInformationEvent<'a>),
    Event OutOfServiceEvent(OutOfServiceEvent<'a>),
    Event BackInServiceEvent(BackInServiceEvent<'a>),
    Request StartApplicationSession(StartApplicationSession<'a>),
    Response StartApplicationSessionPosResponse(StartApplicationSessionPosResponse<'a>),
    Error StartApplicationSessionNegResponse(StartApplicationSessionNegResponse<'a>),
    Request StopApplicationSession(StopApplicationSession<'a>),
    Response StopApplicationSessionPosResponse(StopApplicationSessionPosResponse),
    Error StopApplicationSessionNegResponse(StopApplicationSessionNegResponse<'a>),
    Request ResetApplicationSessionTimer(ResetApplicationSessionTimer<'a>),
    Response ResetApplicationSessionTimerPosResponse(ResetApplicationSessionTimerPosResponse),
    Error ResetApplicationSessionTimerNegResponse(ResetApplicationSessionTimerNegResponse<'a>),
    Event ApplicationSessionTerminated(ApplicationSessionTerminated<'a>),
}

impl Message<'_> {
    /// Whether this is an ECMA-354 application session message (encoded in the
    /// ECMA-354 namespace whatever the edition).
    pub const fn is_application_session(&self) -> bool {
        matches!(
            self,
            Message::StartApplicationSession(_)
                | Message::StartApplicationSessionPosResponse(_)
                | Message::StartApplicationSessionNegResponse(_)
                | Message::StopApplicationSession(_)
                | Message::StopApplicationSessionPosResponse(_)
                | Message::StopApplicationSessionNegResponse(_)
                | Message::ResetApplicationSessionTimer(_)
                | Message::ResetApplicationSessionTimerPosResponse(_)
                | Message::ResetApplicationSessionTimerNegResponse(_)
                | Message::ApplicationSessionTerminated(_)
        )
    }
}

/// Options for [`decode_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeOptions {
    /// Bounds on the XML.
    pub limits: Limits,
    /// Departures from XML and the schema to accept; [`Leniency::ALL`] by default.
    pub leniency: Leniency,
}

impl DecodeOptions {
    /// [`Limits::DEFAULT`] and [`Leniency::ALL`].
    pub const DEFAULT: DecodeOptions = DecodeOptions {
        limits: Limits::DEFAULT,
        leniency: Leniency::ALL,
    };
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions::DEFAULT
    }
}

/// A decoded message and what the peer's XML said about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded<'a> {
    /// The message.
    pub message: Message<'a>,
    /// The ECMA-323 edition of the root element's namespace, when it names one.
    /// `None` for no namespace, the ECMA-354 namespace, or one that names no edition.
    pub edition: Option<Edition>,
}

/// Decodes one CSTA message from XML with [`DecodeOptions::DEFAULT`].
///
/// ```
/// use csta_core::message::{decode, Edition, Message};
///
/// let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
/// <MakeCall xmlns="http://www.ecma-international.org/standards/ecma-323/csta/ed3">
///   <callingDevice>201</callingDevice><calledDirectoryNumber>N&lt;+49 89 1234&gt;</calledDirectoryNumber>
/// </MakeCall>"#;
/// let decoded = decode(xml).unwrap();
/// assert_eq!(decoded.edition, Some(Edition::Ed3));
/// let Message::MakeCall(call) = decoded.message else { panic!() };
/// assert_eq!(call.calling_device.id, "201");
/// assert_eq!(call.called_directory_number.id, "N<+49 89 1234>");
/// ```
///
/// # Errors
///
/// [`DecodeError`] for XML that is not well-formed, an unknown root element, a
/// missing required element or a value its type does not allow.
pub fn decode(xml: &[u8]) -> Result<Decoded<'_>, DecodeError> {
    decode_with(xml, &DecodeOptions::DEFAULT)
}

/// Decodes one CSTA message from XML.
///
/// # Errors
///
/// As [`decode`].
pub fn decode_with<'a>(xml: &'a [u8], options: &DecodeOptions) -> Result<Decoded<'a>, DecodeError> {
    let mut r = Reader::with_options(xml, options.limits, options.leniency)?;
    let root = loop {
        match r.next_event()? {
            Event::Start(root) => break root,
            Event::Eof => unreachable!("the reader reports a missing root as an error"),
            _ => {}
        }
    };
    let edition = root
        .namespace()
        .and_then(|ns| crate::codec::with_str(ns, Edition::from_namespace).flatten());
    Message::decode_root(
        &mut r,
        root,
        edition,
        options.leniency.contains(Leniency::ROOT_NAME_CASE),
    )
}

/// Why a message could not be encoded.
pub type EncodeError = WriteError;

/// Options for [`Message::encode_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncodeOptions {
    /// The edition whose namespace the root element gets (ECMA-354 messages always get
    /// the ECMA-354 namespace).
    pub edition: Edition,
    /// Whether to start with `<?xml version="1.0" encoding="UTF-8"?>`.
    pub declaration: bool,
}

impl EncodeOptions {
    /// Edition 3 (the uaCSTA default) with an XML declaration.
    pub const DEFAULT: EncodeOptions = EncodeOptions {
        edition: Edition::Ed3,
        declaration: true,
    };

    /// The peer's edition when known, `fallback` otherwise: the "same as the peer"
    /// policy. Edition 2 peers get `fallback` too, as this crate does not write ed2.
    pub fn same_as_peer(peer: Option<Edition>, fallback: Edition) -> Self {
        let edition = match peer {
            Some(Edition::Ed2) | None => fallback,
            Some(e) => e,
        };
        EncodeOptions {
            edition,
            declaration: true,
        }
    }
}

impl Default for EncodeOptions {
    fn default() -> Self {
        EncodeOptions::DEFAULT
    }
}

impl Message<'_> {
    /// Encodes the message in `edition`, with an XML declaration, into `buf`; returns
    /// the length written.
    ///
    /// # Errors
    ///
    /// [`WriteError::BufferTooSmall`] with the length needed, or
    /// [`WriteError::UnrepresentableChar`] for a value XML cannot carry.
    pub fn encode(&self, edition: Edition, buf: &mut [u8]) -> Result<usize, EncodeError> {
        self.encode_with(
            &EncodeOptions {
                edition,
                declaration: true,
            },
            buf,
        )
    }

    /// Encodes the message into `buf`; returns the length written.
    ///
    /// # Errors
    ///
    /// As [`encode`](Self::encode).
    pub fn encode_with(
        &self,
        options: &EncodeOptions,
        buf: &mut [u8],
    ) -> Result<usize, EncodeError> {
        let mut w = Writer::new(buf);
        self.write(options, &mut w);
        w.finish()
    }

    /// The exact length [`encode_with`](Self::encode_with) needs.
    pub fn buffer_len(&self, options: &EncodeOptions) -> usize {
        let mut w = Writer::new(&mut []);
        self.write(options, &mut w);
        w.len()
    }

    fn write(&self, options: &EncodeOptions, w: &mut Writer<'_>) {
        let name = self.name();
        let namespace = if self.is_application_session() {
            session::NAMESPACE
        } else {
            options.edition.namespace()
        };
        w.open_document(options.declaration, name, namespace);
        self.encode_children(w);
        w.end(name);
    }
}
