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
use crate::lookup::NameTable;
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

/// Which side of uaCSTA a message belongs to, for the message set of a build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Set {
    /// The services a phone's device serves (`csta_core::model::phone`), their
    /// responses, `CSTAErrorCode` and the events a phone sends.
    Phone,
    /// The rest: application sessions (ECMA-354), system services, pickup, and the
    /// events and responses only an application or a switch deals in.
    App,
}

impl Kind {
    /// Whether this build decodes a message of this kind and set. Every build decodes
    /// the requests a phone serves; the rest (what an application receives) needs the
    /// `application` feature, so that a firmware's linker drops those decoders.
    const fn decoded(self, set: Set) -> bool {
        cfg!(feature = "application")
            || (matches!(set, Set::Phone) && matches!(self, Kind::Request))
    }

    /// Whether this build encodes a message of this kind and set: every build the
    /// responses, errors and events a phone sends, the rest with `application`.
    const fn encoded(self, set: Set) -> bool {
        cfg!(feature = "application")
            || (matches!(set, Set::Phone) && !matches!(self, Kind::Request))
    }
}

macro_rules! messages {
    ( $( $set:ident $kind:ident $variant:ident ( $ty:ty ) , )+ ) => {
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
                /// The position of each message in the list, to dispatch on once
                /// the name is found.
                #[allow(non_camel_case_types, dead_code)]
                #[derive(Clone, Copy)]
                enum Index {
                    $( $variant, )+
                }
                /// The variants in the order of the names: a `match` on the one found
                /// is a jump table.
                const BY_INDEX: &[Index] = &[$( Index::$variant ),+];
                /// Every message name, found by one hash lookup: a `match` on
                /// the names would compare strings all the way down.
                static NAMES: NameTable = name_table![$( stringify!($variant) ),+];

                let name = root.local_name();
                let offset = r.offset();
                let found = NAMES.find(name).or_else(|| {
                    lenient_case
                        .then(|| NAMES.names().iter().position(|n| n.eq_ignore_ascii_case(name)))
                        .flatten()
                });
                let Some(&index) = found.and_then(|i| BY_INDEX.get(i)) else {
                    return Err(DecodeError::UnknownMessage { offset });
                };
                match index {
                    $(
                        Index::$variant if Kind::$kind.decoded(Set::$set) => {
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
                    $(
                        Message::$variant(m) => {
                            if Kind::$kind.encoded(Set::$set) {
                                m.encode_children(w);
                            } else {
                                w.refuse();
                            }
                        }
                    )+
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
    Phone Request MakeCall(MakeCall<'a>),
    Phone Response MakeCallResponse(MakeCallResponse<'a>),
    Phone Request AnswerCall(AnswerCall<'a>),
    Phone Response AnswerCallResponse(AnswerCallResponse),
    Phone Request ClearConnection(ClearConnection<'a>),
    Phone Response ClearConnectionResponse(ClearConnectionResponse),
    Phone Request HoldCall(HoldCall<'a>),
    Phone Response HoldCallResponse(HoldCallResponse),
    Phone Request RetrieveCall(RetrieveCall<'a>),
    Phone Response RetrieveCallResponse(RetrieveCallResponse),
    Phone Request ConsultationCall(ConsultationCall<'a>),
    Phone Response ConsultationCallResponse(ConsultationCallResponse<'a>),
    Phone Request TransferCall(TransferCall<'a>),
    Phone Response TransferCallResponse(TransferCallResponse<'a>),
    Phone Request ConferenceCall(ConferenceCall<'a>),
    Phone Response ConferenceCallResponse(ConferenceCallResponse<'a>),
    Phone Request AlternateCall(AlternateCall<'a>),
    Phone Response AlternateCallResponse(AlternateCallResponse),
    Phone Request ReconnectCall(ReconnectCall<'a>),
    Phone Response ReconnectCallResponse(ReconnectCallResponse),
    Phone Request DeflectCall(DeflectCall<'a>),
    Phone Response DeflectCallResponse(DeflectCallResponse),
    App Request DirectedPickupCall(DirectedPickupCall<'a>),
    App Response DirectedPickupCallResponse(DirectedPickupCallResponse<'a>),
    App Request GroupPickupCall(GroupPickupCall<'a>),
    App Response GroupPickupCallResponse(GroupPickupCallResponse<'a>),
    Phone Request SingleStepTransferCall(SingleStepTransferCall<'a>),
    Phone Response SingleStepTransferCallResponse(SingleStepTransferCallResponse<'a>),
    Phone Request GenerateDigits(GenerateDigits<'a>),
    Phone Response GenerateDigitsResponse(GenerateDigitsResponse),
    Phone Request GetDoNotDisturb(GetDoNotDisturb<'a>),
    Phone Response GetDoNotDisturbResponse(GetDoNotDisturbResponse),
    Phone Request SetDoNotDisturb(SetDoNotDisturb<'a>),
    Phone Response SetDoNotDisturbResponse(SetDoNotDisturbResponse),
    Phone Request GetForwarding(GetForwarding<'a>),
    Phone Response GetForwardingResponse(GetForwardingResponse<'a>),
    Phone Request SetForwarding(SetForwarding<'a>),
    Phone Response SetForwardingResponse(SetForwardingResponse),
    Phone Request GetMessageWaitingIndicator(GetMessageWaitingIndicator<'a>),
    Phone Response GetMessageWaitingIndicatorResponse(GetMessageWaitingIndicatorResponse),
    Phone Request SetMessageWaitingIndicator(SetMessageWaitingIndicator<'a>),
    Phone Response SetMessageWaitingIndicatorResponse(SetMessageWaitingIndicatorResponse),
    Phone Request GetSpeakerMute(GetSpeakerMute<'a>),
    Phone Response GetSpeakerMuteResponse(GetSpeakerMuteResponse),
    Phone Request SetSpeakerMute(SetSpeakerMute<'a>),
    Phone Response SetSpeakerMuteResponse(SetSpeakerMuteResponse),
    Phone Request GetSpeakerVolume(GetSpeakerVolume<'a>),
    Phone Response GetSpeakerVolumeResponse(GetSpeakerVolumeResponse),
    Phone Request SetSpeakerVolume(SetSpeakerVolume<'a>),
    Phone Response SetSpeakerVolumeResponse(SetSpeakerVolumeResponse),
    Phone Request GetMicrophoneMute(GetMicrophoneMute<'a>),
    Phone Response GetMicrophoneMuteResponse(GetMicrophoneMuteResponse),
    Phone Request SetMicrophoneMute(SetMicrophoneMute<'a>),
    Phone Response SetMicrophoneMuteResponse(SetMicrophoneMuteResponse),
    Phone Request MonitorStart(MonitorStart<'a>),
    Phone Response MonitorStartResponse(MonitorStartResponse<'a>),
    Phone Request MonitorStop(MonitorStop<'a>),
    Phone Response MonitorStopResponse(MonitorStopResponse),
    Phone Request SnapshotDevice(SnapshotDevice<'a>),
    Phone Response SnapshotDeviceResponse(SnapshotDeviceResponse<'a>),
    Phone Request GetCSTAFeatures(GetCSTAFeatures),
    Phone Response GetCSTAFeaturesResponse(GetCSTAFeaturesResponse),
    Phone Request RequestSystemStatus(RequestSystemStatus),
    Phone Response RequestSystemStatusResponse(RequestSystemStatusResponse<'a>),
    App Request SystemStatus(SystemStatus<'a>),
    App Response SystemStatusResponse(SystemStatusResponse),
    App Request SystemRegister(SystemRegister),
    App Response SystemRegisterResponse(SystemRegisterResponse<'a>),
    App Request SystemRegisterCancel(SystemRegisterCancel<'a>),
    App Response SystemRegisterCancelResponse(SystemRegisterCancelResponse),
    App Request GetSwitchingFunctionDevices(GetSwitchingFunctionDevices<'a>),
    App Response GetSwitchingFunctionDevicesResponse(GetSwitchingFunctionDevicesResponse<'a>),
    App Request SwitchingFunctionDevices(SwitchingFunctionDevices<'a>),
    App Response SwitchingFunctionDevicesResponse(SwitchingFunctionDevicesResponse),
    App Request SwitchingFunctionDevicesChanged(SwitchingFunctionDevicesChanged<'a>),
    App Response SwitchingFunctionDevicesChangedResponse(SwitchingFunctionDevicesChangedResponse),
    Phone Error CSTAErrorCode(ErrorCode<'a>),
    Phone Event ServiceInitiatedEvent(ServiceInitiatedEvent<'a>),
    Phone Event OriginatedEvent(OriginatedEvent<'a>),
    Phone Event DeliveredEvent(DeliveredEvent<'a>),
    Phone Event EstablishedEvent(EstablishedEvent<'a>),
    Phone Event ConnectionClearedEvent(ConnectionClearedEvent<'a>),
    App Event CallClearedEvent(CallClearedEvent<'a>),
    Phone Event HeldEvent(HeldEvent<'a>),
    Phone Event RetrievedEvent(RetrievedEvent<'a>),
    Phone Event TransferedEvent(TransferedEvent<'a>),
    Phone Event ConferencedEvent(ConferencedEvent<'a>),
    Phone Event DivertedEvent(DivertedEvent<'a>),
    Phone Event FailedEvent(FailedEvent<'a>),
    App Event NetworkReachedEvent(NetworkReachedEvent<'a>),
    App Event DigitsGeneratedEvent(DigitsGeneratedEvent<'a>),
    Phone Event DoNotDisturbEvent(DoNotDisturbEvent<'a>),
    Phone Event ForwardingEvent(ForwardingEvent<'a>),
    App Event MessageWaitingEvent(MessageWaitingEvent<'a>),
    App Event CallInformationEvent(CallInformationEvent<'a>),
    App Event OutOfServiceEvent(OutOfServiceEvent<'a>),
    App Event BackInServiceEvent(BackInServiceEvent<'a>),
    App Request StartApplicationSession(StartApplicationSession<'a>),
    App Response StartApplicationSessionPosResponse(StartApplicationSessionPosResponse<'a>),
    App Error StartApplicationSessionNegResponse(StartApplicationSessionNegResponse<'a>),
    App Request StopApplicationSession(StopApplicationSession<'a>),
    App Response StopApplicationSessionPosResponse(StopApplicationSessionPosResponse),
    App Error StopApplicationSessionNegResponse(StopApplicationSessionNegResponse<'a>),
    App Request ResetApplicationSessionTimer(ResetApplicationSessionTimer<'a>),
    App Response ResetApplicationSessionTimerPosResponse(ResetApplicationSessionTimerPosResponse),
    App Error ResetApplicationSessionTimerNegResponse(ResetApplicationSessionTimerNegResponse<'a>),
    App Event ApplicationSessionTerminated(ApplicationSessionTerminated<'a>),
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
