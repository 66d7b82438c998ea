//! The message set of a build: with the `application` feature (the default) every
//! message is decoded and encoded; without it (a phone's firmware) only the requests a
//! phone serves are decoded and only the responses, errors and events a phone sends
//! are encoded, the rest refused with a typed error.
//!
//! Run both ways: `cargo test -p csta-core --test message_set` and
//! `cargo test -p csta-core --no-default-features --test message_set`.

use csta_core::DecodeError;
use csta_core::message::EncodeError;
use csta_core::{Edition, Message, decode};

const NS: &str = "http://www.ecma-international.org/standards/ecma-323/csta/ed3";

fn doc(root: &str, body: &str) -> String {
    format!(r#"<?xml version="1.0" encoding="UTF-8"?><{root} xmlns="{NS}">{body}</{root}>"#)
}

const MAKE_CALL: &str =
    "<callingDevice>201</callingDevice><calledDirectoryNumber>202</calledDirectoryNumber>";
const MAKE_CALL_RESPONSE: &str =
    "<callingDevice><callID>1</callID><deviceID>201</deviceID></callingDevice>";
const DELIVERED: &str = "<monitorCrossRefID>1</monitorCrossRefID>\
<connection><callID>1</callID><deviceID>202</deviceID></connection>\
<alertingDevice><deviceIdentifier>202</deviceIdentifier></alertingDevice>\
<callingDevice><deviceIdentifier>201</deviceIdentifier></callingDevice>\
<calledDevice><deviceIdentifier>202</deviceIdentifier></calledDevice>\
<lastRedirectionDevice><notKnown/></lastRedirectionDevice>\
<localConnectionInfo>alerting</localConnectionInfo><cause>newCall</cause>";
const START_SESSION: &str = "<applicationInfo><applicationID>x</applicationID></applicationInfo>\
<requestedProtocolVersions><protocolVersion>http://www.ecma-international.org/standards/ecma-323/csta/ed3</protocolVersion></requestedProtocolVersions>";

#[test]
fn a_phone_decodes_its_requests_and_encodes_its_answers_in_every_build() {
    use csta_core::model::phone::Device;
    let mut buf = [0u8; 2048];
    let mut device = Device::<2>::new("201").unwrap();
    // A MonitorStart, then a MakeCall: decoded, served, answered.
    let monitor = doc(
        "MonitorStart",
        "<monitorObject><deviceObject>201</deviceObject></monitorObject>",
    );
    let xml = doc("MakeCall", MAKE_CALL);
    for text in [&monitor, &xml] {
        let request = decode(text.as_bytes()).expect("a phone decodes its requests");
        let reply = device.handle_request(&request.message);
        let n = reply
            .message()
            .encode(Edition::Ed3, &mut buf)
            .expect("and encodes the answer");
        assert!(
            buf[..n].ends_with(b"Response>"),
            "{}",
            String::from_utf8_lossy(&buf[..n])
        );
    }
    // The events of the call it places are encoded too.
    let mut events = 0;
    while let Some(e) = device.poll_event() {
        e.message()
            .encode(Edition::Ed3, &mut buf)
            .expect("events encode");
        events += 1;
    }
    assert!(events >= 1);
}

#[test]
fn the_application_half_needs_the_feature() {
    let mut buf = [0u8; 2048];
    let texts = [
        doc("MakeCall", MAKE_CALL),
        doc("MakeCallResponse", MAKE_CALL_RESPONSE),
        doc("DeliveredEvent", DELIVERED),
        doc("StartApplicationSession", START_SESSION),
    ];
    let request = decode(texts[0].as_bytes()).unwrap().message;
    let encoded = request.encode(Edition::Ed3, &mut buf);
    let response = decode(texts[1].as_bytes());
    let event = decode(texts[2].as_bytes());
    let session = decode(texts[3].as_bytes());
    if cfg!(feature = "application") {
        assert!(encoded.is_ok());
        assert!(matches!(
            response.unwrap().message,
            Message::MakeCallResponse(_)
        ));
        assert!(matches!(event.unwrap().message, Message::DeliveredEvent(_)));
        assert!(session.is_ok());
    } else {
        assert_eq!(encoded, Err(EncodeError::NotInMessageSet));
        assert!(matches!(response, Err(DecodeError::UnknownMessage { .. })));
        assert!(matches!(event, Err(DecodeError::UnknownMessage { .. })));
        assert!(matches!(session, Err(DecodeError::UnknownMessage { .. })));
    }
}
