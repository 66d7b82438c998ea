//! [`Text`]: a character string borrowed from its source and decoded lazily.

use core::fmt;

/// A string value of a CSTA message, borrowed from wherever it came from.
///
/// Decoding never copies: a value read from XML keeps pointing into the XML, with its
/// entity and character references, CDATA sections and comments still in place, and is
/// decoded when it is read ([`chars`](Self::chars), [`decode`](Self::decode),
/// [`Display`](fmt::Display)). The same holds for JSON escapes. Values without any
/// escape, which is nearly all of them, are plain from the start and
/// [`as_str`](Self::as_str) hands them out directly.
///
/// Two texts are equal when their decoded characters are equal, whatever their source.
///
/// ```
/// use csta_core::xml::Text;
///
/// let plain = Text::new("N<+49 89 1234>");
/// assert_eq!(plain.as_str(), Some("N<+49 89 1234>"));
/// assert_eq!(plain.len(), 14);
/// ```
#[derive(Clone, Copy)]
pub struct Text<'a> {
    raw: &'a str,
    form: Form,
}

/// How the raw bytes of a [`Text`] are escaped.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Form {
    /// No escapes: the raw string is the value.
    Plain,
    /// XML character data: references, CDATA sections, comments and processing
    /// instructions, already checked by the tokenizer.
    Xml,
    /// The inside of a JSON string literal, escapes already checked.
    Json,
}

/// The text does not fit the buffer it is decoded into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TextTooLong {
    /// Bytes the decoded text needs.
    pub required: usize,
}

impl fmt::Display for TextTooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "text needs {} bytes", self.required)
    }
}

impl core::error::Error for TextTooLong {}

impl<'a> Text<'a> {
    /// An empty text.
    pub const EMPTY: Text<'static> = Text::new("");

    /// A text that is exactly `value`.
    pub const fn new(value: &'a str) -> Self {
        Text {
            raw: value,
            form: Form::Plain,
        }
    }

    /// XML character data that the tokenizer has checked (every `&` starts a valid
    /// reference; markup is limited to CDATA, comments and processing instructions).
    pub(crate) fn from_xml(raw: &'a str) -> Self {
        // `contains` on bytes is a `memchr`: faster than one pass testing both.
        let needs_decoding = raw.as_bytes().contains(&b'&') || raw.as_bytes().contains(&b'<');
        Text {
            raw,
            form: if needs_decoding {
                Form::Xml
            } else {
                Form::Plain
            },
        }
    }

    /// XML character data that the tokenizer has checked, when the tokenizer already
    /// knows whether it holds a reference or markup (`escaped`).
    pub(crate) fn from_checked_xml(raw: &'a str, escaped: bool) -> Self {
        Text {
            raw,
            form: if escaped { Form::Xml } else { Form::Plain },
        }
    }

    /// The inside of a JSON string literal whose escapes have been checked.
    pub(crate) fn from_json(raw: &'a str) -> Self {
        let needs_decoding = raw.as_bytes().contains(&b'\\');
        Text {
            raw,
            form: if needs_decoding {
                Form::Json
            } else {
                Form::Plain
            },
        }
    }

    /// The value itself when it needs no decoding (no escapes in the source).
    pub fn as_str(&self) -> Option<&'a str> {
        match self.form {
            Form::Plain => Some(self.raw),
            Form::Xml | Form::Json => None,
        }
    }

    /// The source bytes, escapes included.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// The decoded characters.
    pub fn chars(&self) -> Chars<'a> {
        Chars {
            rest: self.raw,
            form: self.form,
            cdata: false,
            pending: None,
        }
    }

    /// Length of the decoded value in bytes (UTF-8).
    pub fn len(&self) -> usize {
        match self.form {
            Form::Plain => self.raw.len(),
            Form::Xml | Form::Json => self.chars().map(char::len_utf8).sum(),
        }
    }

    /// Whether the decoded value is empty.
    pub fn is_empty(&self) -> bool {
        match self.form {
            Form::Plain => self.raw.is_empty(),
            Form::Xml | Form::Json => self.chars().next().is_none(),
        }
    }

    /// Decodes into `buf` and returns the decoded string; plain values are copied too.
    ///
    /// # Errors
    ///
    /// [`TextTooLong`] with the size needed when `buf` is too small.
    pub fn decode<'b>(&self, buf: &'b mut [u8]) -> Result<&'b str, TextTooLong> {
        let mut at = 0;
        let mut fits = true;
        for c in self.chars() {
            let n = c.len_utf8();
            if fits && at + n <= buf.len() {
                c.encode_utf8(&mut buf[at..at + n]);
            } else {
                fits = false;
            }
            at += n;
        }
        if !fits {
            return Err(TextTooLong { required: at });
        }
        // Whole characters were written, so the prefix is UTF-8.
        core::str::from_utf8(&buf[..at]).map_err(|_| TextTooLong { required: at })
    }

    /// Whether the raw string is XML character data with references or markup.
    pub(crate) fn is_xml(&self) -> bool {
        self.form == Form::Xml
    }

    /// Whether the decoded value equals `other`.
    pub fn eq_str(&self, other: &str) -> bool {
        match self.form {
            Form::Plain => self.raw == other,
            Form::Xml | Form::Json => self.chars().eq(other.chars()),
        }
    }

    /// The text without leading and trailing XML white space (space, tab, CR, LF), as
    /// schema types with collapsed white space (numbers, booleans, enumerations) read it.
    pub fn trim(&self) -> Text<'a> {
        // XML white space is ASCII, so byte offsets are character boundaries.
        let bytes = self.raw.as_bytes();
        let is_space = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | b'\n');
        let start = bytes
            .iter()
            .position(|b| !is_space(b))
            .unwrap_or(bytes.len());
        let end = bytes
            .iter()
            .rposition(|b| !is_space(b))
            .map_or(start, |i| i + 1);
        let raw = &self.raw[start..end];
        Text {
            raw,
            form: self.form,
        }
    }
}

impl PartialEq for Text<'_> {
    fn eq(&self, other: &Self) -> bool {
        if self.form == Form::Plain && other.form == Form::Plain {
            return self.raw == other.raw;
        }
        self.chars().eq(other.chars())
    }
}

impl Eq for Text<'_> {}

impl PartialEq<str> for Text<'_> {
    fn eq(&self, other: &str) -> bool {
        self.eq_str(other)
    }
}

impl PartialEq<&str> for Text<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.eq_str(other)
    }
}

impl Default for Text<'_> {
    fn default() -> Self {
        Text::new("")
    }
}

impl<'a> From<&'a str> for Text<'a> {
    fn from(value: &'a str) -> Self {
        Text::new(value)
    }
}

impl fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.form {
            Form::Plain => f.write_str(self.raw),
            Form::Xml | Form::Json => {
                let mut buf = [0u8; 4];
                for c in self.chars() {
                    f.write_str(c.encode_utf8(&mut buf))?;
                }
                Ok(())
            }
        }
    }
}

impl fmt::Debug for Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use fmt::Write;
        f.write_char('"')?;
        for c in self.chars() {
            for e in c.escape_debug() {
                f.write_char(e)?;
            }
        }
        f.write_char('"')
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Text<'_> {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{=str}", self.raw)
    }
}

/// Iterator over the decoded characters of a [`Text`].
#[derive(Clone, Debug)]
pub struct Chars<'a> {
    rest: &'a str,
    form: Form,
    /// Inside a CDATA section (XML form).
    cdata: bool,
    /// The second half of a surrogate pair already decoded (JSON form).
    pending: Option<char>,
}

impl Iterator for Chars<'_> {
    type Item = char;

    fn next(&mut self) -> Option<char> {
        match self.form {
            Form::Plain => self.next_plain(),
            Form::Xml => self.next_xml(),
            Form::Json => self.next_json(),
        }
    }
}

impl Chars<'_> {
    fn next_plain(&mut self) -> Option<char> {
        let c = self.rest.chars().next()?;
        self.rest = &self.rest[c.len_utf8()..];
        Some(c)
    }

    fn next_xml(&mut self) -> Option<char> {
        loop {
            if self.cdata {
                if let Some(after) = self.rest.strip_prefix("]]>") {
                    self.rest = after;
                    self.cdata = false;
                    continue;
                }
                return self.next_plain();
            }
            let bytes = self.rest.as_bytes();
            match bytes.first()? {
                b'&' => {
                    let end = self.rest.find(';')?;
                    let (c, _) = super::reader::reference(&self.rest[1..end])?;
                    self.rest = &self.rest[end + 1..];
                    return Some(c);
                }
                b'<' => {
                    if let Some(after) = self.rest.strip_prefix("<![CDATA[") {
                        self.rest = after;
                        self.cdata = true;
                    } else if let Some(after) = self.rest.strip_prefix("<!--") {
                        let end = after.find("-->").map_or(after.len(), |i| i + 3);
                        self.rest = &after[end..];
                    } else if let Some(after) = self.rest.strip_prefix("<?") {
                        let end = after.find("?>").map_or(after.len(), |i| i + 2);
                        self.rest = &after[end..];
                    } else {
                        // A lone `<` accepted under `Leniency::RAW_ANGLE_BRACKETS`.
                        return self.next_plain();
                    }
                }
                _ => return self.next_plain(),
            }
        }
    }

    fn next_json(&mut self) -> Option<char> {
        if let Some(c) = self.pending.take() {
            return Some(c);
        }
        let bytes = self.rest.as_bytes();
        if bytes.first()? != &b'\\' {
            return self.next_plain();
        }
        let esc = *bytes.get(1)?;
        self.rest = &self.rest[2..];
        Some(match esc {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = self.hex4()?;
                if (0xd800..0xdc00).contains(&hi) {
                    let lo = self.rest.strip_prefix("\\u").and_then(|r| {
                        let v = u32::from_str_radix(r.get(..4)?, 16).ok()?;
                        (0xdc00..0xe000).contains(&v).then_some(v)
                    })?;
                    self.rest = &self.rest[6..];
                    char::from_u32(0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00))?
                } else {
                    char::from_u32(hi)?
                }
            }
            _ => return None,
        })
    }

    fn hex4(&mut self) -> Option<u32> {
        let v = u32::from_str_radix(self.rest.get(..4)?, 16).ok()?;
        self.rest = &self.rest[4..];
        Some(v)
    }
}

/// Checks the inside of a JSON string literal: every escape is one JSON allows and every
/// `\u` surrogate is paired. Control characters must be escaped.
pub(crate) fn check_json(raw: &str) -> bool {
    let mut chars = Chars {
        rest: raw,
        form: Form::Json,
        cdata: false,
        pending: None,
    };
    loop {
        let before = chars.rest.len();
        if before == 0 {
            return true;
        }
        let escaped = chars.rest.starts_with('\\');
        match chars.next() {
            None => return false,
            Some(c) if !escaped && (c as u32) < 0x20 => return false,
            Some(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_plain() {
        let t = Text::new("a<b");
        assert_eq!(t.as_str(), Some("a<b"));
        assert!(t.eq_str("a<b"));
        assert_eq!(t.len(), 3);
        assert!(!t.is_empty());
        assert!(Text::EMPTY.is_empty());
    }

    #[test]
    fn test_xml_decoding() {
        let t = Text::from_xml("N&lt;+49 &#x31;&#50;&gt;<![CDATA[<&>]]><!-- c -->x");
        assert_eq!(t.as_str(), None);
        assert!(t.eq_str("N<+49 12><&>x"));
        assert_eq!(t, Text::new("N<+49 12><&>x"));
        assert_eq!(t.len(), 13);
        let mut buf = [0u8; 13];
        assert_eq!(t.decode(&mut buf), Ok("N<+49 12><&>x"));
        let mut small = [0u8; 4];
        assert_eq!(t.decode(&mut small), Err(TextTooLong { required: 13 }));
        assert_eq!(Text::from_xml("no escapes").as_str(), Some("no escapes"));
    }

    #[test]
    fn test_json_decoding() {
        let t = Text::from_json(r#"a\"b\\c\u00e9\ud83d\ude00\n"#);
        assert!(t.eq_str("a\"b\\c\u{e9}\u{1f600}\n"));
        assert!(check_json(t.raw()));
        assert!(!check_json(r"\x"));
        assert!(!check_json(r"\ud83d"));
        assert!(!check_json("tab\there"));
        assert!(check_json(""));
    }

    #[test]
    fn test_trim() {
        assert_eq!(Text::from_xml("\n  true \t").trim(), Text::new("true"));
    }
}
