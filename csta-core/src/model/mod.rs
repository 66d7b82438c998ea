//! The ECMA-269 call model of one device, on both sides of a uaCSTA session.
//!
//! - [`phone`]: the switching function, what a phone or gateway runs: it answers CSTA
//!   requests from the device's real state, tells its owner what to do on the SIP
//!   side, and reports what happens as CSTA events.
//! - [`view`]: the computing function, what the server keeps per monitored device: it
//!   follows the events (and snapshots) a phone sends and exposes the calls, their
//!   states and peers, and the matching TAPI call states.
//!
//! Both keep fixed-capacity, owned state: identifiers are copied out of the messages
//! they arrive in (decoded, at most [`DEVICE_ID_MAX`], [`CALL_ID_MAX`] and
//! [`CROSS_REF_ID_MAX`] bytes).

use crate::types::{CALL_ID_MAX, CROSS_REF_ID_MAX, DEVICE_ID_MAX};
use crate::xml::{Text, TextTooLong};

pub mod phone;
pub mod view;

/// An owned, decoded call identifier.
pub type CallIdBuf = heapless::String<CALL_ID_MAX>;
/// An owned, decoded device identifier.
pub type DeviceIdBuf = heapless::String<DEVICE_ID_MAX>;
/// An owned, decoded cross-reference identifier.
pub type CrossRefIdBuf = heapless::String<CROSS_REF_ID_MAX>;

/// The decoded value of `text` copied into an owned string of capacity `N`.
///
/// # Errors
///
/// [`TextTooLong`] when the decoded value does not fit.
pub fn to_owned<const N: usize>(text: &Text<'_>) -> Result<heapless::String<N>, TextTooLong> {
    let mut out = heapless::String::new();
    match text.as_str() {
        Some(s) => out
            .push_str(s)
            .map_err(|_| TextTooLong { required: s.len() })?,
        None => {
            for c in text.chars() {
                out.push(c).map_err(|_| TextTooLong {
                    required: text.len(),
                })?;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_to_owned() {
        let plain = Text::new("sip:201@pbx");
        assert_eq!(to_owned::<16>(&plain).unwrap().as_str(), "sip:201@pbx");
        assert_eq!(to_owned::<4>(&plain), Err(TextTooLong { required: 11 }));
    }
}
