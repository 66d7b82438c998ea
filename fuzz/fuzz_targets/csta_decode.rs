//! Decodes the input as a CSTA XML message, with the default options and with strict
//! ones, and writes every message that decodes back out: as XML in each edition and as
//! JSON. Nothing may panic or hang.
//!
//! Besides "no panic", it checks that `Message::buffer_len` is exactly what
//! `encode_with` writes, that a buffer one octet short is refused, and that `Display`
//! of every error works.

#![no_main]

use std::fmt::Write as _;

use csta_core::message::{DecodeOptions, EncodeError};
use csta_core::xml::Leniency;
use csta_core::{Edition, EncodeOptions, Message, decode, decode_with, json};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match decode(data) {
        Ok(decoded) => {
            let _ = (decoded.message.name(), decoded.message.kind());
            let _ = decoded.message.is_application_session();
            for edition in [Edition::Ed3, Edition::Ed4, Edition::Ed5, Edition::Ed6] {
                for declaration in [true, false] {
                    encode(
                        &decoded.message,
                        EncodeOptions {
                            edition,
                            declaration,
                        },
                    );
                }
            }
            to_json(&decoded.message);
        }
        Err(e) => show(&e),
    }
    let strict = DecodeOptions {
        leniency: Leniency::NONE,
        ..DecodeOptions::DEFAULT
    };
    match decode_with(data, &strict) {
        Ok(decoded) => encode(&decoded.message, EncodeOptions::DEFAULT),
        Err(e) => show(&e),
    }
});

fn show(e: &impl std::fmt::Display) {
    let mut s = String::new();
    write!(s, "{e}").expect("Display never fails");
}

/// Encodes into a buffer of exactly `buffer_len` octets, and one octet short.
fn encode(message: &Message<'_>, options: EncodeOptions) {
    let need = message.buffer_len(&options);
    let mut buf = vec![0u8; need];
    match message.encode_with(&options, &mut buf) {
        Ok(n) => {
            assert_eq!(n, need, "buffer_len differs from the output");
            if need > 0 {
                let short = message.encode_with(&options, &mut buf[..need - 1]);
                assert_eq!(short, Err(EncodeError::BufferTooSmall { required: need }));
            }
        }
        // A control character decoded from a character reference cannot be written.
        Err(e @ EncodeError::UnrepresentableChar) => show(&e),
        Err(e) => panic!("encoding into buffer_len ({need}) octets: {e}"),
    }
}

fn to_json(message: &Message<'_>) {
    let mut buf = vec![0u8; 64 * 1024];
    match json::to_slice(message, &mut buf) {
        Ok(n) => assert!(n <= buf.len()),
        Err(e) => panic!("JSON of a decoded message does not fit 64 KiB: {e:?}"),
    }
}
