//! The escaping writer.

use core::fmt;

use super::Text;

/// Encoding did not succeed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum WriteError {
    /// The buffer is too small; `required` bytes would have been written.
    BufferTooSmall {
        /// Size of the whole output.
        required: usize,
    },
    /// A value holds a character XML 1.0 cannot carry at all (a control character
    /// other than tab, CR and LF).
    UnrepresentableChar,
    /// The message is not in this build's message set: built without the
    /// `application` feature, only the responses, errors and events a phone sends
    /// are encoded.
    NotInMessageSet,
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteError::BufferTooSmall { required } => {
                write!(f, "output buffer too small: {required} bytes needed")
            }
            WriteError::UnrepresentableChar => {
                f.write_str("value has a character XML cannot carry")
            }
            WriteError::NotInMessageSet => {
                f.write_str("message not in this build's message set (feature `application`)")
            }
        }
    }
}

impl core::error::Error for WriteError {}

/// Writes XML into a caller's buffer, escaping text and attribute values.
///
/// Running out of room does not stop it: it goes on counting, so
/// [`finish`](Self::finish) can say how large the buffer must be.
///
/// ```
/// use csta_core::xml::{Text, Writer};
///
/// let mut buf = [0u8; 128];
/// let mut w = Writer::new(&mut buf);
/// w.start("deviceObject");
/// w.attribute("typeOfNumber", &Text::new("dialingNumber"));
/// w.end_start();
/// w.text(&Text::new("N<+49 89 1234>"));
/// w.end("deviceObject");
/// let n = w.finish().unwrap();
/// assert_eq!(
///     &buf[..n],
///     br#"<deviceObject typeOfNumber="dialingNumber">N&lt;+49 89 1234&gt;</deviceObject>"#
/// );
/// ```
#[derive(Debug)]
pub struct Writer<'b> {
    buf: &'b mut [u8],
    len: usize,
    unrepresentable: bool,
    refused: bool,
}

/// Bytes that character data must escape (or cannot carry at all): markup
/// characters, CR (parsers would turn it into LF) and the other C0 controls but tab
/// and LF.
const TEXT_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = !matches!(b as u8, b'\t' | b'\n');
        b += 1;
    }
    t[b'<' as usize] = true;
    t[b'>' as usize] = true;
    t[b'&' as usize] = true;
    t
};

/// Bytes that attribute values must escape: those of [`TEXT_ESCAPE`], the quote and
/// tab and LF (parsers would turn them into spaces).
const ATTRIBUTE_ESCAPE: [bool; 256] = {
    let mut t = TEXT_ESCAPE;
    t[b'"' as usize] = true;
    t[b'\t' as usize] = true;
    t[b'\n' as usize] = true;
    t
};

/// Copies `src` into `dst` (of the same length), tuned for element and attribute
/// names (a few to a few dozen bytes).
///
/// Up to 64 bytes, two fixed-size copies that overlap in the middle cover the whole
/// length: fixed sizes compile to a few loads and stores, where `copy_from_slice` of a
/// variable length is a call to `memcpy`, which costs more than the copy itself at
/// these sizes.
#[inline(always)]
fn copy_short(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    let dst = &mut dst[..n];
    // Tested from the common lengths (names and values of 8 to 32 bytes) out.
    if n >= 16 {
        if n <= 32 {
            dst[..16].copy_from_slice(&src[..16]);
            dst[n - 16..].copy_from_slice(&src[n - 16..]);
        } else if n <= 64 {
            dst[..32].copy_from_slice(&src[..32]);
            dst[n - 32..].copy_from_slice(&src[n - 32..]);
        } else {
            dst.copy_from_slice(src);
        }
    } else if n >= 8 {
        dst[..8].copy_from_slice(&src[..8]);
        dst[n - 8..].copy_from_slice(&src[n - 8..]);
    } else if n >= 4 {
        dst[..4].copy_from_slice(&src[..4]);
        dst[n - 4..].copy_from_slice(&src[n - 4..]);
    } else if n > 0 {
        dst[0] = src[0];
        dst[n / 2] = src[n / 2];
        dst[n - 1] = src[n - 1];
    }
}

/// Whether any byte of the eight in `word` may need escaping: a C0 control, `<`,
/// `>`, `&` or `"`. This covers both escape tables (text skips tab, LF and the
/// quote, which are rare in values), so a `true` is checked byte by byte.
///
/// Each test is the exact zero-byte test on a transformed word: `x - 0x01…` borrows
/// into the top bit of a byte only when that byte, or one below it, is zero, and
/// `& !x` drops bytes whose own top bit is set. `b | 2 == '>'` holds for `<` and `>`
/// alone, `b | 4 == '&'` for `"` and `&` alone.
#[inline(always)]
fn may_need_escaping(word: u64) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGH != 0;
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGH != 0;
    let angle = has_zero((word | (ONES * 0x02)) ^ (ONES * u64::from(b'>')));
    let amp_quote = has_zero((word | (ONES * 0x04)) ^ (ONES * u64::from(b'&')));
    control | angle | amp_quote
}

/// The offset of the first byte of `bytes` at or after `from` that `escape` marks.
#[inline(always)]
fn find_escape(bytes: &[u8], from: usize, escape: &[bool; 256]) -> Option<usize> {
    let first_marked = |chunk: &[u8]| chunk.iter().position(|&b| escape[usize::from(b)]);
    let word = |at: usize| {
        let chunk: [u8; 8] = bytes[at..at + 8].try_into().unwrap_or([0; 8]);
        u64::from_le_bytes(chunk)
    };
    // Clean stretches are skipped eight bytes at a time with one word test (see
    // `may_need_escaping`); a chunk that may hold a byte to escape is searched by
    // the table, which is exact.
    let mut at = from;
    while at + 8 <= bytes.len() {
        if may_need_escaping(word(at))
            && let Some(n) = first_marked(&bytes[at..at + 8])
        {
            return Some(at + n);
        }
        at += 8;
    }
    if at == bytes.len() {
        return None;
    }
    // The last 1 to 7 bytes: as the eight that end the value (overlapping bytes
    // already found clean) when it has as many after `from`.
    if bytes.len() - from >= 8 {
        let last = bytes.len() - 8;
        if !may_need_escaping(word(last)) {
            return None;
        }
    }
    first_marked(&bytes[at..]).map(|n| at + n)
}

/// Whether `s` can be written as character data as it is (no byte of it needs
/// escaping); lets fixed spellings skip the escaper, checked at compile time.
pub(crate) const fn needs_no_escaping(s: &str) -> bool {
    let bytes = s.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if TEXT_ESCAPE[bytes[i] as usize] {
            return false;
        }
        i += 1;
    }
    true
}

/// Writes the byte strings one after the other with one bounds check and one update
/// of the length: markup pieces are a few bytes each, and separate writes would each
/// wait for the length the one before stored. Unrolled by the macro, constant pieces
/// compile to plain stores.
macro_rules! put_all {
    ($w:expr, $($piece:expr),+ $(,)?) => {{
        let w: &mut Writer<'_> = $w;
        let end = w.len $(+ $piece.len())+;
        if let Some(rest) = w.buf.get_mut(w.len..end) {
            $(
                let (head, rest) = rest.split_at_mut($piece.len());
                copy_short(head, $piece);
            )+
            let _ = rest;
        }
        w.len = end;
    }};
}

impl<'b> Writer<'b> {
    /// A writer that starts at the beginning of `buf`.
    pub fn new(buf: &'b mut [u8]) -> Self {
        Writer {
            buf,
            len: 0,
            unrepresentable: false,
            refused: false,
        }
    }

    /// Bytes written (or counted) so far.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes `s` as it is (markup).
    #[inline]
    pub fn raw(&mut self, s: &str) {
        self.put(s.as_bytes());
    }

    /// Writes `bytes`, which are whole UTF-8 characters, as they are.
    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) {
        let end = self.len + bytes.len();
        if let Some(dst) = self.buf.get_mut(self.len..end) {
            copy_short(dst, bytes);
        }
        self.len = end;
    }

    /// `before`, `name`, `after`.
    #[inline(always)]
    fn wrapped(&mut self, before: &str, name: &str, after: &str) {
        put_all!(self, before.as_bytes(), name.as_bytes(), after.as_bytes());
    }

    /// `<name>text</name>` for a `text` that needs no escaping (a fixed spelling, or
    /// a value found clean). Inlined, so a constant `text` is written with plain
    /// stores.
    #[inline(always)]
    pub(crate) fn leaf_verbatim(&mut self, name: &str, text: &str) {
        let name = name.as_bytes();
        put_all!(self, b"<", name, b">", text.as_bytes(), b"</", name, b">");
    }

    /// `<?xml version="1.0" encoding="UTF-8"?>` when `declaration` is set, then
    /// `<name xmlns="namespace">`, for a `namespace` that needs no escaping (a fixed
    /// URI): the start of a document.
    pub(crate) fn open_document(&mut self, declaration: bool, name: &str, namespace: &str) {
        const DECLARATION: &[u8] = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>";
        let name = name.as_bytes();
        let namespace = namespace.as_bytes();
        if declaration {
            put_all!(self, DECLARATION);
        }
        put_all!(self, b"<", name, b" xmlns=\"", namespace, b"\">");
    }

    /// `<name`: a start tag to which attributes may follow.
    pub fn start(&mut self, name: &str) {
        self.wrapped("<", name, "");
    }

    /// ` name="value"`, the value escaped.
    pub fn attribute(&mut self, name: &str, value: &Text<'_>) {
        self.wrapped(" ", name, "=\"");
        self.escaped(value, true);
        self.raw("\"");
    }

    /// `>`: ends a start tag begun with [`start`](Self::start).
    pub fn end_start(&mut self) {
        self.raw(">");
    }

    /// `/>`: ends a start tag begun with [`start`](Self::start) as an empty element.
    pub fn end_empty(&mut self) {
        self.raw("/>");
    }

    /// `<name>`.
    // `open`, `end`, `leaf` and `text` are what every element is written with;
    // inlined, each call site writes its tag without two levels of calls
    // (measured: encode corpus mean -6%).
    #[inline]
    pub fn open(&mut self, name: &str) {
        self.wrapped("<", name, ">");
    }

    /// `</name>`.
    #[inline]
    pub fn end(&mut self, name: &str) {
        self.wrapped("</", name, ">");
    }

    /// `<name/>`.
    pub fn empty(&mut self, name: &str) {
        self.wrapped("<", name, "/>");
    }

    /// `<name>text</name>`.
    pub fn leaf(&mut self, name: &str, text: &Text<'_>) {
        // A value that needs no escaping (nearly every one) is written with the
        // tags in one piece.
        match text.as_str() {
            Some(s) if find_escape(s.as_bytes(), 0, &TEXT_ESCAPE).is_none() => {
                self.leaf_verbatim(name, s);
            }
            _ => {
                self.open(name);
                self.text(text);
                self.end(name);
            }
        }
    }

    /// `<name>text</name>` for a string that is not a [`Text`].
    pub fn leaf_str(&mut self, name: &str, text: &str) {
        self.open(name);
        self.text_str(text);
        self.end(name);
    }

    /// Character data, escaped.
    #[inline]
    pub fn text(&mut self, text: &Text<'_>) {
        self.escaped(text, false);
    }

    /// Character data from a `str`, escaped.
    pub fn text_str(&mut self, text: &str) {
        self.escaped_str(text, false);
    }

    fn escaped(&mut self, text: &Text<'_>, attribute: bool) {
        match text.as_str() {
            Some(s) => self.escaped_str(s, attribute),
            None if text.is_xml() => self.escaped_xml(text.raw(), attribute),
            None => {
                let mut utf8 = [0u8; 4];
                for c in text.chars() {
                    self.escaped_str(c.encode_utf8(&mut utf8), attribute);
                }
            }
        }
    }

    /// The escape table for character data or attribute values.
    fn escape_table(attribute: bool) -> &'static [bool; 256] {
        if attribute {
            &ATTRIBUTE_ESCAPE
        } else {
            &TEXT_ESCAPE
        }
    }

    /// Writes the byte `b` that its escape table marks.
    fn escape_byte(&mut self, b: u8) {
        let replacement = match b {
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'&' => "&amp;",
            b'"' => "&quot;",
            // Parsers turn CR (and, in attributes, tab and LF) into other white
            // space; references keep them.
            b'\r' => "&#13;",
            b'\t' => "&#9;",
            b'\n' => "&#10;",
            _ => {
                self.unrepresentable = true;
                ""
            }
        };
        self.raw(replacement);
    }

    /// Writes the stretch `s[from..to]` unless it is empty.
    fn run(&mut self, s: &str, from: usize, to: usize) {
        if to > from {
            self.put(&s.as_bytes()[from..to]);
        }
    }

    #[inline]
    fn escaped_str(&mut self, s: &str, attribute: bool) {
        // Nearly every value needs no escaping: one scan, one copy.
        match find_escape(s.as_bytes(), 0, Self::escape_table(attribute)) {
            None => self.put(s.as_bytes()),
            Some(at) => self.escaped_str_from(s, at, attribute),
        }
    }

    /// [`escaped_str`](Self::escaped_str) for a value whose first byte to escape is
    /// at `at`.
    #[inline(never)]
    fn escaped_str_from(&mut self, s: &str, mut at: usize, attribute: bool) {
        let escape = Self::escape_table(attribute);
        let bytes = s.as_bytes();
        // Start of the stretch not yet written; stretches that need no escaping
        // are copied in one piece.
        let mut run = 0;
        loop {
            self.run(s, run, at);
            self.escape_byte(bytes[at]);
            run = at + 1;
            match find_escape(bytes, run, escape) {
                Some(next) => at = next,
                None => break,
            }
        }
        self.run(s, run, bytes.len());
    }

    /// Writes XML character data as the tokenizer checked it (see [`Text`]), escaped.
    ///
    /// The references `&lt;`, `&gt;` and `&amp;` are exactly what the escaper would
    /// write for their characters, so they stay inside the stretch copied as it is;
    /// only other references are decoded and re-escaped. From the first markup
    /// (CDATA section, comment, processing instruction, or a lone `<`) on, the text
    /// is decoded character by character.
    fn escaped_xml(&mut self, s: &str, attribute: bool) {
        let escape = Self::escape_table(attribute);
        let bytes = s.as_bytes();
        let mut run = 0;
        let mut i = 0;
        while let Some(at) = find_escape(bytes, i, escape) {
            match bytes[at] {
                b'&' => {
                    // The tokenizer checked the reference, so it ends with `;`.
                    let end = at + bytes[at..].iter().position(|&b| b == b';').unwrap_or(0);
                    let name = &s[at + 1..end.max(at + 1)];
                    i = end + 1;
                    if matches!(name, "lt" | "gt" | "amp") {
                        continue;
                    }
                    self.run(s, run, at);
                    let mut utf8 = [0u8; 4];
                    match super::reader::reference(name) {
                        Some((c, _)) => self.escaped_str(c.encode_utf8(&mut utf8), attribute),
                        // Not a checked reference after all: write it as text.
                        None => self.escaped_str(&s[at..i], attribute),
                    }
                    run = i;
                }
                b'<' => {
                    self.run(s, run, at);
                    let mut utf8 = [0u8; 4];
                    for c in Text::from_xml(&s[at..]).chars() {
                        self.escaped_str(c.encode_utf8(&mut utf8), attribute);
                    }
                    return;
                }
                b => {
                    self.run(s, run, at);
                    self.escape_byte(b);
                    i = at + 1;
                    run = i;
                }
            }
        }
        self.run(s, run, bytes.len());
    }

    /// The number of bytes written.
    ///
    /// # Errors
    ///
    /// [`WriteError::BufferTooSmall`] with the size needed, or
    /// [`WriteError::UnrepresentableChar`].
    pub fn finish(self) -> Result<usize, WriteError> {
        if self.refused {
            Err(WriteError::NotInMessageSet)
        } else if self.unrepresentable {
            Err(WriteError::UnrepresentableChar)
        } else if self.len > self.buf.len() {
            Err(WriteError::BufferTooSmall { required: self.len })
        } else {
            Ok(self.len)
        }
    }
}

impl Writer<'_> {
    /// Makes [`Writer::finish`] fail with [`WriteError::NotInMessageSet`].
    pub(crate) fn refuse(&mut self) {
        self.refused = true;
    }
}

impl fmt::Write for Writer<'_> {
    /// Writes escaped character data.
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.text_str(s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(f: impl FnOnce(&mut Writer<'_>)) -> Result<std::string::String, WriteError> {
        let mut buf = [0u8; 256];
        let mut w = Writer::new(&mut buf);
        f(&mut w);
        let n = w.finish()?;
        Ok(std::string::String::from_utf8(buf[..n].to_vec()).unwrap())
    }

    #[test]
    fn test_escaping() {
        let out = write(|w| {
            w.start("a");
            w.attribute("x", &Text::new("\"<&>'\t\n\r"));
            w.end_start();
            w.text_str("\"<&>'\t\n\r");
            w.end("a");
        });
        assert_eq!(
            out.unwrap(),
            "<a x=\"&quot;&lt;&amp;&gt;'&#9;&#10;&#13;\">\"&lt;&amp;&gt;'\t\n&#13;</a>"
        );
    }

    #[test]
    fn test_escaping_decoded_text() {
        let t = Text::from_xml("N&lt;1&gt;&amp;");
        assert_eq!(
            write(|w| w.leaf("d", &t)).unwrap(),
            "<d>N&lt;1&gt;&amp;</d>"
        );
    }

    #[test]
    fn test_escaping_decoded_text_with_markup() {
        // References before the markup are decoded in runs, the rest by characters.
        let t = Text::from_xml("a&amp;b\"<![CDATA[<&>\"]]><!--c-->d&#x3E;");
        assert_eq!(
            write(|w| w.leaf("d", &t)).unwrap(),
            "<d>a&amp;b\"&lt;&amp;&gt;\"d&gt;</d>"
        );
        assert_eq!(
            write(|w| {
                w.start("d");
                w.attribute("x", &t);
                w.end_empty();
            })
            .unwrap(),
            "<d x=\"a&amp;b&quot;&lt;&amp;&gt;&quot;d&gt;\"/>"
        );
    }

    #[test]
    fn test_escaping_long_runs() {
        // Long enough for the eight-byte chunks, with the special byte in each place.
        for at in 0..20 {
            let mut s = std::string::String::from("abcdefghijklmnopqrst");
            s.replace_range(at..at + 1, "<");
            let expected = s.replace('<', "&lt;");
            assert_eq!(write(|w| w.text_str(&s)).unwrap(), expected);
        }
    }

    #[test]
    fn test_find_escape_matches_the_tables() {
        // Every byte value at every place of values long and short enough for each
        // path (bytes only, words, words plus the overlapping last word), from every
        // start.
        for table in [&TEXT_ESCAPE, &ATTRIBUTE_ESCAPE] {
            for len in 1..=25 {
                for at in 0..len {
                    for b in 0..=255u8 {
                        let mut bytes = [b'a'; 25];
                        bytes[at] = b;
                        let bytes = &bytes[..len];
                        for from in 0..len {
                            let expected = bytes[from..]
                                .iter()
                                .position(|&b| table[usize::from(b)])
                                .map(|n| from + n);
                            assert_eq!(find_escape(bytes, from, table), expected);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn test_copy_short_every_length() {
        let src: std::vec::Vec<u8> = (0..100u8).collect();
        for n in 0..100 {
            let mut dst = [0xFFu8; 101];
            copy_short(&mut dst, &src[..n]);
            assert_eq!(&dst[..n], &src[..n]);
            assert!(dst[n..].iter().all(|&b| b == 0xFF), "wrote past {n}");
        }
    }

    #[test]
    fn test_unrepresentable() {
        assert_eq!(
            write(|w| w.text_str("a\u{1}")),
            Err(WriteError::UnrepresentableChar)
        );
    }

    #[test]
    fn test_too_small() {
        let mut buf = [0u8; 4];
        let mut w = Writer::new(&mut buf);
        w.leaf_str("abc", "def");
        assert_eq!(w.finish(), Err(WriteError::BufferTooSmall { required: 14 }));
        let mut buf = [0u8; 14];
        let mut w = Writer::new(&mut buf);
        w.leaf_str("abc", "def");
        assert_eq!(w.finish(), Ok(14));
    }
}
