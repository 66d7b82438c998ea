//! Character classes of RFC 3261 section 25.1 and a small scanner over header values.
//!
//! Every typed parser in [`crate::wire`] is written against [`Scanner`], so the rules for
//! linear white space, tokens and quoted strings live in exactly one place.
//!
//! Header values handed to the scanner come from the framing layer, which has already
//! checked that every CR or LF inside a value is part of a valid fold (`CRLF 1*WSP`). The
//! scanner can therefore treat SP, HT, CR and LF alike as linear white space.

use super::ValueError;

/// `ALPHA / DIGIT`.
pub(crate) const ALNUM: u16 = 1 << 0;
/// RFC 3261 `token` characters.
pub(crate) const TOKEN: u16 = 1 << 1;
/// `unreserved = alphanum / mark`.
pub(crate) const UNRESERVED: u16 = 1 << 2;
/// Characters of the `user` part of a SIP URI, escapes aside.
pub(crate) const USER: u16 = 1 << 3;
/// Characters of the `password` part of a SIP URI, escapes aside.
pub(crate) const PASSWORD: u16 = 1 << 4;
/// `paramchar` of a URI parameter, escapes aside.
pub(crate) const PARAM: u16 = 1 << 5;
/// `hname` / `hvalue` characters of URI headers, escapes aside.
pub(crate) const HNV: u16 = 1 << 6;
/// `word` characters (Call-ID).
pub(crate) const WORD: u16 = 1 << 7;
/// Host name characters; `_` is accepted besides the RFC's `alphanum / "-" / "."`.
pub(crate) const HOST: u16 = 1 << 8;
/// SP, HT, CR, LF.
pub(crate) const WS: u16 = 1 << 9;
/// URI scheme characters after the first: `ALPHA / DIGIT / "+" / "-" / "."`.
pub(crate) const SCHEME: u16 = 1 << 10;
/// `uric` of an absolute URI (reserved, unreserved and `[` `]`), escapes aside.
pub(crate) const URIC: u16 = 1 << 11;
/// RFC 3966 `phonedigit-hex` plus visual separators and `+`.
pub(crate) const TEL: u16 = 1 << 12;
/// `HEXDIG`.
pub(crate) const HEX: u16 = 1 << 13;
/// RFC 3261 `reserved`.
pub(crate) const RESERVED: u16 = 1 << 14;
/// `DIGIT`.
pub(crate) const DIGIT: u16 = 1 << 15;

const fn class_of(b: u8) -> u16 {
    let mut c = 0;
    let alnum = b.is_ascii_alphanumeric();
    if alnum {
        c |= ALNUM | TOKEN | UNRESERVED | USER | PASSWORD | PARAM | HNV | WORD | HOST | URIC;
        c |= SCHEME;
    }
    if b.is_ascii_hexdigit() {
        c |= HEX | TEL;
    }
    if b.is_ascii_digit() {
        c |= TEL | DIGIT;
    }
    // mark = "-" / "_" / "." / "!" / "~" / "*" / "'" / "(" / ")"
    if matches!(
        b,
        b'-' | b'_' | b'.' | b'!' | b'~' | b'*' | b'\'' | b'(' | b')'
    ) {
        c |= UNRESERVED | USER | PASSWORD | PARAM | HNV | URIC;
    }
    // token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~" )
    if matches!(
        b,
        b'-' | b'.' | b'!' | b'%' | b'*' | b'_' | b'+' | b'`' | b'\'' | b'~'
    ) {
        c |= TOKEN | WORD;
    }
    if matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b':' | b'\\' | b'"' | b'/' | b'[' | b']' | b'?' | b'{' | b'}'
    ) {
        c |= WORD;
    }
    // user-unreserved = "&" / "=" / "+" / "$" / "," / ";" / "?" / "/"
    if matches!(b, b'&' | b'=' | b'+' | b'$' | b',' | b';' | b'?' | b'/') {
        c |= USER;
    }
    if matches!(b, b'&' | b'=' | b'+' | b'$' | b',') {
        c |= PASSWORD;
    }
    // param-unreserved = "[" / "]" / "/" / ":" / "&" / "+" / "$"
    if matches!(b, b'[' | b']' | b'/' | b':' | b'&' | b'+' | b'$') {
        c |= PARAM;
    }
    // hnv-unreserved = "[" / "]" / "/" / "?" / ":" / "+" / "$"
    if matches!(b, b'[' | b']' | b'/' | b'?' | b':' | b'+' | b'$') {
        c |= HNV;
    }
    if matches!(b, b'-' | b'.' | b'_') {
        c |= HOST;
    }
    if matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
        c |= WS;
    }
    if matches!(b, b'+' | b'-' | b'.') {
        c |= SCHEME;
    }
    // reserved = ";" / "/" / "?" / ":" / "@" / "&" / "=" / "+" / "$" / ","
    if matches!(
        b,
        b';' | b'/' | b'?' | b':' | b'@' | b'&' | b'=' | b'+' | b'$' | b','
    ) {
        c |= RESERVED | URIC;
    }
    if matches!(b, b'[' | b']' | b'%') {
        c |= URIC;
    }
    // phonedigit-hex visual separators and the global prefix
    if matches!(b, b'*' | b'#' | b'-' | b'.' | b'(' | b')' | b'+') {
        c |= TEL;
    }
    c
}

static CLASSES: [u16; 256] = {
    let mut t = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = class_of(i as u8);
        i += 1;
    }
    t
};

/// The classes `b` belongs to.
#[inline(always)]
pub(crate) fn classes(b: u8) -> u16 {
    CLASSES[b as usize]
}

/// Whether `b` belongs to every class in `class`.
#[inline(always)]
pub(crate) fn is(b: u8, class: u16) -> bool {
    CLASSES[b as usize] & class == class
}

/// Whether `s` is a non-empty RFC 3261 token.
#[inline]
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| is(b, TOKEN))
}

/// Writes `src` as lowercase hexadecimal into the front of `dst` (two digits per octet,
/// as many octets as fit).
#[inline]
pub(crate) fn hex_encode(src: &[u8], dst: &mut [u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (pair, &b) in dst.chunks_exact_mut(2).zip(src) {
        pair[0] = HEX[usize::from(b >> 4)];
        pair[1] = HEX[usize::from(b & 0x0f)];
    }
}

/// Value of one hexadecimal digit.
#[inline]
pub(crate) fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Checks that `s` consists of characters of `class` and well-formed `%HH` escapes.
pub(crate) fn check_escaped(s: &str, class: u16) -> Result<(), ValueError> {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            match (b.get(i + 1), b.get(i + 2)) {
                (Some(&h), Some(&l)) if hex_val(h).is_some() && hex_val(l).is_some() => i += 3,
                _ => return Err(ValueError::Escape),
            }
        } else if is(b[i], class) {
            i += 1;
        } else {
            return Err(ValueError::Unexpected);
        }
    }
    Ok(())
}

/// Parses a decimal number of at most `max`, rejecting empty input, signs and overflow.
pub(crate) fn parse_u32(s: &str, max: u32) -> Result<u32, ValueError> {
    if s.is_empty() || s.len() > 10 {
        return Err(ValueError::Number);
    }
    let mut v: u64 = 0;
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return Err(ValueError::Number);
        }
        v = v * 10 + u64::from(b - b'0');
    }
    if v > u64::from(max) {
        return Err(ValueError::Number);
    }
    Ok(v as u32)
}

/// A cursor over a header value or URI.
#[derive(Debug, Clone)]
pub(crate) struct Scanner<'a> {
    src: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    #[inline]
    pub(crate) fn new(src: &'a str) -> Self {
        Scanner { src, pos: 0 }
    }

    #[inline]
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    #[inline]
    pub(crate) fn set_pos(&mut self, pos: usize) {
        self.pos = pos;
    }

    #[inline]
    pub(crate) fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    #[inline]
    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    #[inline]
    pub(crate) fn bump(&mut self) {
        self.pos += 1;
    }

    /// The text between two positions; empty if they are out of order or not on
    /// character boundaries (which the scanner never produces).
    #[inline]
    pub(crate) fn slice(&self, start: usize, end: usize) -> &'a str {
        self.src.get(start..end).unwrap_or("")
    }

    /// The unread rest of the input.
    #[inline]
    pub(crate) fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    /// Skips linear white space (SP, HT and folded line ends).
    #[inline]
    pub(crate) fn skip_ws(&mut self) {
        let b = self.src.as_bytes();
        while self.pos < b.len() && is(b[self.pos], WS) {
            self.pos += 1;
        }
    }

    /// Consumes `c` if it is next.
    #[inline]
    pub(crate) fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Consumes `SWS c SWS` (a separator such as `SEMI`, `COMMA`, `EQUAL`, `SLASH`).
    /// Leaves the position unchanged if `c` does not follow the white space.
    #[inline]
    pub(crate) fn sep(&mut self, c: u8) -> bool {
        let save = self.pos;
        self.skip_ws();
        if self.eat(c) {
            self.skip_ws();
            true
        } else {
            self.pos = save;
            false
        }
    }

    /// Consumes the longest run of characters of `class` (possibly empty).
    #[inline]
    pub(crate) fn take(&mut self, class: u16) -> &'a str {
        let b = self.src.as_bytes();
        let start = self.pos;
        while self.pos < b.len() && is(b[self.pos], class) {
            self.pos += 1;
        }
        self.slice(start, self.pos)
    }

    /// Consumes a non-empty token.
    #[inline]
    pub(crate) fn token(&mut self) -> Result<&'a str, ValueError> {
        let t = self.take(TOKEN);
        if t.is_empty() {
            Err(if self.at_end() {
                ValueError::Empty
            } else {
                ValueError::Unexpected
            })
        } else {
            Ok(t)
        }
    }

    /// Consumes a quoted string starting at the current `"` and returns its content
    /// with the quotes removed and the `\` escapes left in place.
    pub(crate) fn quoted(&mut self) -> Result<&'a str, ValueError> {
        if !self.eat(b'"') {
            return Err(ValueError::Unexpected);
        }
        let b = self.src.as_bytes();
        let start = self.pos;
        while self.pos < b.len() {
            match b[self.pos] {
                b'"' => {
                    let inner = self.slice(start, self.pos);
                    self.pos += 1;
                    return Ok(inner);
                }
                // quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F)
                b'\\' => match b.get(self.pos + 1) {
                    Some(&c) if c != b'\r' && c != b'\n' && c < 0x80 => self.pos += 2,
                    _ => return Err(ValueError::UnterminatedQuote),
                },
                // qdtext excludes the remaining control characters; CR and LF may only
                // appear in folds, which the framing layer has already checked.
                c if c < 0x20 && c != b'\t' && c != b'\r' && c != b'\n' => {
                    return Err(ValueError::Unexpected);
                }
                0x7f => return Err(ValueError::Unexpected),
                _ => self.pos += 1,
            }
        }
        Err(ValueError::UnterminatedQuote)
    }

    /// Consumes a token or a quoted string (`gen-value` minus `host`), returning the raw
    /// text including quotes.
    pub(crate) fn token_or_quoted(&mut self) -> Result<&'a str, ValueError> {
        let start = self.pos;
        if self.peek() == Some(b'"') {
            self.quoted()?;
            Ok(self.slice(start, self.pos))
        } else {
            self.token()
        }
    }

    /// Fails unless only white space is left.
    #[inline]
    pub(crate) fn finish(&mut self) -> Result<(), ValueError> {
        self.skip_ws();
        if self.at_end() {
            Ok(())
        } else {
            Err(ValueError::TrailingData)
        }
    }
}

/// Removes the surrounding quotes of a quoted-string value, if present.
#[inline]
pub(crate) fn unquote(s: &str) -> &str {
    let b = s.as_bytes();
    if b.len() >= 2 && b[0] == b'"' && b[b.len() - 1] == b'"' {
        s.get(1..s.len() - 1).unwrap_or(s)
    } else {
        s
    }
}

/// Iterates over the characters a quoted string's content stands for (`\x` becomes `x`).
pub(crate) fn unescape_quoted(s: &str) -> impl Iterator<Item = char> + '_ {
    let mut it = s.chars();
    core::iter::from_fn(move || match it.next()? {
        '\\' => it.next(),
        c => Some(c),
    })
}

/// Splits a header value at commas that are outside quoted strings and `<...>`.
///
/// Each item is trimmed of linear white space; empty items (`a,,b`) are yielded as empty
/// strings so that callers can reject them.
#[derive(Debug, Clone)]
pub struct CommaSplit<'a> {
    rest: Option<&'a str>,
}

impl<'a> CommaSplit<'a> {
    /// Splits `value`. An empty or all-white-space value yields nothing.
    pub fn new(value: &'a str) -> Self {
        let v = trim_ws(value);
        CommaSplit {
            rest: if v.is_empty() { None } else { Some(v) },
        }
    }
}

impl<'a> Iterator for CommaSplit<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let s = self.rest?;
        let b = s.as_bytes();
        if find_byte(b, 0, b',').is_none() {
            self.rest = None;
            return Some(trim_ws(s));
        }
        let mut i = 0;
        let mut quoted = false;
        let mut angle = false;
        while i < b.len() {
            match b[i] {
                b'\\' if quoted => i += 1,
                b'"' => quoted = !quoted,
                b'<' if !quoted => angle = true,
                b'>' if !quoted => angle = false,
                b',' if !quoted && !angle => {
                    self.rest = Some(s.get(i + 1..).unwrap_or(""));
                    return Some(trim_ws(s.get(..i).unwrap_or("")));
                }
                _ => {}
            }
            i += 1;
        }
        self.rest = None;
        Some(trim_ws(s))
    }
}

/// Trims SP, HT, CR and LF from both ends.
#[inline]
pub(crate) fn trim_ws(s: &str) -> &str {
    let b = s.as_bytes();
    let (mut start, mut end) = (0, b.len());
    while start < end && is(b[start], WS) {
        start += 1;
    }
    while end > start && is(b[end - 1], WS) {
        end -= 1;
    }
    s.get(start..end).unwrap_or("")
}

/// The position of the first `byte` in `s`. Values are short, so a plain loop beats the
/// set-up of a vectorised search.
#[inline]
pub(crate) fn find(s: &str, byte: u8) -> Option<usize> {
    s.as_bytes().iter().position(|&c| c == byte)
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of every byte of `word` that equals `byte`, plus possibly spurious bits
/// above the lowest true match (a borrow only propagates upwards), so the lowest set bit
/// always marks the first real match.
#[inline(always)]
pub(crate) fn byte_mask(word: u64, byte: u8) -> u64 {
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// The first position at or after `from` whose byte makes `mask` non-zero, eight bytes
/// at a time. Header names and lines are short, so this inlined word-at-a-time scan
/// beats a call into a vectorised search.
#[inline(always)]
pub(crate) fn find_by(
    buf: &[u8],
    mut i: usize,
    mask: impl Fn(u64) -> u64,
    byte: impl Fn(u8) -> bool,
) -> Option<usize> {
    while let Some(chunk) = buf.get(i..i + 8) {
        let word = u64::from_le_bytes(chunk.try_into().ok()?);
        let found = mask(word);
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    let rest = buf.get(i..)?;
    rest.iter().position(|&c| byte(c)).map(|p| i + p)
}

/// The position of the first `byte` at or after `from`, eight bytes at a time.
#[inline(always)]
pub(crate) fn find_byte(buf: &[u8], from: usize, byte: u8) -> Option<usize> {
    find_by(buf, from, |w| byte_mask(w, byte), |c| c == byte)
}

/// Splits `s` around the first `byte`, which must be ASCII.
#[inline]
pub(crate) fn split_at_byte(s: &str, byte: u8) -> Option<(&str, &str)> {
    let i = find(s, byte)?;
    Some((s.get(..i)?, s.get(i + 1..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_classes() {
        assert!(is(b'a', TOKEN | UNRESERVED | ALNUM));
        assert!(is(b'%', TOKEN));
        assert!(!is(b'%', UNRESERVED));
        assert!(is(b';', USER));
        assert!(!is(b';', PASSWORD));
        assert!(is(b':', PARAM));
        assert!(!is(b'@', PARAM));
        assert!(is(b'"', WORD));
        assert!(!is(b'@', WORD));
        assert!(is(b'\n', WS));
        assert!(!is(0xc3, TOKEN));
    }

    #[test]
    fn test_comma_split() {
        let v: heapless::Vec<&str, 8> =
            CommaSplit::new(r#" "a,\"b" <sip:x@y;p=1,2>;q=1 , c ,,d"#).collect();
        assert_eq!(v, [r#""a,\"b" <sip:x@y;p=1,2>;q=1"#, "c", "", "d"]);
        assert_eq!(CommaSplit::new("  ").count(), 0);
    }

    #[test]
    fn test_quoted() {
        let mut s = Scanner::new(r#""a\"b" rest"#);
        assert_eq!(s.quoted(), Ok(r#"a\"b"#));
        assert_eq!(s.rest(), " rest");
        assert_eq!(
            Scanner::new(r#""abc"#).quoted(),
            Err(ValueError::UnterminatedQuote)
        );
        let u: heapless::String<8> = unescape_quoted(r#"a\"b"#).collect();
        assert_eq!(u, "a\"b");
    }

    #[test]
    fn test_numbers() {
        assert_eq!(parse_u32("0", 10), Ok(0));
        assert_eq!(parse_u32("4294967295", u32::MAX), Ok(u32::MAX));
        assert_eq!(parse_u32("4294967296", u32::MAX), Err(ValueError::Number));
        assert_eq!(parse_u32("-1", 10), Err(ValueError::Number));
        assert_eq!(parse_u32("", 10), Err(ValueError::Number));
        assert_eq!(parse_u32("99999999999", u32::MAX), Err(ValueError::Number));
    }
}
