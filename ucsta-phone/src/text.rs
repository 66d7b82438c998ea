//! Small text helpers: fixed strings, the user part of a URI, the SDP the phone offers,
//! and the escaping of a `Replaces` value inside a Refer-To URI.

use core::fmt;

use sip_lite::wire::Uri;

use crate::report::Name;

/// A configured or generated string does not fit its fixed buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooLong;

/// `s` in a fixed string.
pub(crate) fn fixed<const N: usize>(s: &str) -> Result<heapless::String<N>, TooLong> {
    let mut out = heapless::String::new();
    out.push_str(s).map_err(|_| TooLong)?;
    Ok(out)
}

/// Formatted text in a fixed string.
pub(crate) fn format<const N: usize>(
    args: fmt::Arguments<'_>,
) -> Result<heapless::String<N>, TooLong> {
    let mut out = heapless::String::new();
    // Written by the writer reports use, which cuts what does not fit and says so; the
    // cut text is then dropped. One `fmt::Write` for every capacity and both uses.
    match crate::report::cut_into(out.as_mut_view(), args) {
        true => Ok(out),
        false => Err(TooLong),
    }
}

/// The user part of a SIP URI or name-addr (`<sip:202@host>` gives `202`); the text
/// itself when it is not a SIP URI with a user.
pub(crate) fn user_of(uri: &str) -> Name {
    let uri = uri.trim_ascii().trim_start_matches('<');
    let uri = uri.split('>').next().unwrap_or(uri);
    let user = match Uri::parse(uri) {
        Ok(u) => u.as_sip().and_then(|s| s.user).unwrap_or(uri),
        Err(_) => uri,
    };
    crate::report::cut(user)
}

/// The session description of our (dummy) audio stream.
pub(crate) fn sdp(host: &str, direction: &str, version: u32) -> heapless::String<256> {
    let ip = if host.contains(':') { "IP6" } else { "IP4" };
    // 256 octets hold it for any host of up to 64 octets (the configured maximum).
    format(format_args!(
        "v=0\r\no=- 1 {version} IN {ip} {host}\r\ns=-\r\nc=IN {ip} {host}\r\nt=0 0\r\n\
         m=audio {MEDIA_PORT} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na={direction}\r\n"
    ))
    .unwrap_or_default()
}

/// The port of the dummy audio stream: the phone signals, it carries no media.
const MEDIA_PORT: u16 = 4000;

/// Whether an SDP offer puts us on hold (`a=sendonly` or `a=inactive`).
pub(crate) fn offers_hold(body: &[u8]) -> bool {
    let has = |needle: &[u8]| body.windows(needle.len()).any(|w| w == needle);
    has(b"a=sendonly") || has(b"a=inactive")
}

/// Escapes the characters of a `Replaces` value that may not stand in a URI header
/// (RFC 3891 section 3: `;`, `=`, `@` and `%` itself).
pub(crate) fn escape_into<const N: usize>(
    out: &mut heapless::String<N>,
    value: &str,
) -> Result<(), TooLong> {
    for c in value.chars() {
        let r = match c {
            '%' => out.push_str("%25").map_err(drop),
            ';' => out.push_str("%3B").map_err(drop),
            '=' => out.push_str("%3D").map_err(drop),
            '@' => out.push_str("%40").map_err(drop),
            '?' => out.push_str("%3F").map_err(drop),
            '&' => out.push_str("%26").map_err(drop),
            c => out.push(c).map_err(drop),
        };
        r.map_err(|_| TooLong)?;
    }
    Ok(())
}

/// Undoes URI %-escaping (`%3B` gives `;`); malformed escapes stay as they are.
pub(crate) fn unescape<const N: usize>(value: &str) -> Result<heapless::String<N>, TooLong> {
    let mut out = heapless::String::<N>::new();
    let b = value.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && let (Some(h), Some(l)) = (
                b.get(i + 1).copied().and_then(hex),
                b.get(i + 2).copied().and_then(hex),
            )
            && let Some(c) = char::from_u32(h * 16 + l).filter(char::is_ascii)
        {
            out.push(c).map_err(|_| TooLong)?;
            i += 3;
            continue;
        }
        // Not an escape: copy the whole character.
        let ch = value[i..].chars().next().unwrap_or('\u{fffd}');
        out.push(ch).map_err(|_| TooLong)?;
        i += ch.len_utf8();
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_refuses_what_does_not_fit() {
        let n = 12345;
        assert_eq!(format::<5>(format_args!("{n}")).unwrap().as_str(), "12345");
        assert_eq!(format::<4>(format_args!("{n}")), Err(TooLong));
        assert_eq!(
            format::<6>(format_args!("a{n}")).unwrap().as_str(),
            "a12345"
        );
        assert_eq!(format::<6>(format_args!("{n}\u{e9}")), Err(TooLong));
    }

    #[test]
    fn user_parts() {
        assert_eq!(user_of("<sip:202@localhost>").as_str(), "202");
        assert_eq!(
            user_of("sip:202@10.0.2.2:5060;transport=udp").as_str(),
            "202"
        );
        assert_eq!(user_of("202").as_str(), "202");
        assert_eq!(user_of("sip:host.example").as_str(), "sip:host.example");
    }

    #[test]
    fn replaces_escaping_round_trips() {
        let v = "a84b@192.0.2.1;to-tag=1%2;from-tag=x?y&z";
        let mut e = heapless::String::<128>::new();
        escape_into(&mut e, v).unwrap();
        assert!(!e.contains(';') && !e.contains('@') && !e.contains('?'));
        assert_eq!(unescape::<128>(&e).unwrap().as_str(), v);
        assert_eq!(unescape::<16>("100%").unwrap().as_str(), "100%");
        assert_eq!(unescape::<16>("%4").unwrap().as_str(), "%4");
        assert_eq!(unescape::<16>("é%3b").unwrap().as_str(), "é;");
    }

    #[test]
    fn hold_offers() {
        assert!(offers_hold(sdp("192.0.2.1", "sendonly", 2).as_bytes()));
        assert!(!offers_hold(sdp("192.0.2.1", "sendrecv", 2).as_bytes()));
        assert!(sdp("2001:db8::1", "sendrecv", 1).contains("IN IP6 2001:db8::1"));
    }
}
