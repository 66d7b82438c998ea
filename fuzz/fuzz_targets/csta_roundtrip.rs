//! Decode, encode, decode again: a CSTA XML message that decodes is encoded in edition 3
//! and must decode to the same message, reporting edition 3 (none for the ECMA-354
//! application session messages). It must also survive JSON:
//! `json::to_slice` then `json::from_slice` gives the same message back.

#![no_main]

use csta_core::message::EncodeError;
use csta_core::{Edition, EncodeOptions, Message, decode, json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(first) = decode(data) else {
        return;
    };
    xml_round_trip(&first.message);
    json_round_trip(&first.message);
});

fn xml_round_trip(message: &Message<'_>) {
    let options = EncodeOptions {
        edition: Edition::Ed3,
        declaration: true,
    };
    let mut buf = vec![0u8; message.buffer_len(&options)];
    let n = match message.encode_with(&options, &mut buf) {
        Ok(n) => n,
        // A control character decoded from a character reference cannot be written.
        Err(EncodeError::UnrepresentableChar) => return,
        Err(e) => panic!("encoding into buffer_len octets: {e}"),
    };
    let xml = &buf[..n];
    let text = String::from_utf8_lossy(xml);
    let again =
        decode(xml).unwrap_or_else(|e| panic!("the encoded message does not decode: {e}\n{text}"));
    // The ECMA-354 session messages have their own namespace, which names no edition.
    let edition = (!message.is_application_session()).then_some(Edition::Ed3);
    assert_eq!(again.edition, edition, "{text}");
    assert_eq!(&again.message, message, "changed through XML:\n{text}");
}

fn json_round_trip(message: &Message<'_>) {
    let mut buf = vec![0u8; 64 * 1024];
    let n = json::to_slice(message, &mut buf)
        .unwrap_or_else(|e| panic!("JSON of a decoded message does not fit 64 KiB: {e:?}"));
    let out = &buf[..n];
    let text = String::from_utf8_lossy(out);
    let again =
        json::from_slice(out).unwrap_or_else(|e| panic!("the JSON does not decode: {e}\n{text}"));
    assert_eq!(&again, message, "changed through JSON:\n{text}");
}
