//! The pull tokenizer.

use core::fmt;

use super::Text;

/// Most elements open at once that any [`Reader`] tracks; [`Limits::max_depth`] is
/// capped to it.
pub const MAX_DEPTH: usize = 32;

/// Bounds a [`Reader`] enforces. Going past one is an error, never a truncation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most elements open at once (at most [`MAX_DEPTH`]).
    pub max_depth: u8,
    /// Most attributes on one element.
    pub max_attributes: u8,
    /// Longest element or attribute name, prefix included, in bytes.
    pub max_name: u16,
}

impl Limits {
    /// Bounds that every CSTA message in use fits with room to spare: 24 levels,
    /// 16 attributes, 128-byte names.
    pub const DEFAULT: Limits = Limits {
        max_depth: 24,
        max_attributes: 16,
        max_name: 128,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Departures from XML 1.0 that real peers need, each one named so a caller can see
/// what it allows and switch it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leniency(u8);

impl Leniency {
    /// Nothing beyond XML 1.0 (the declared encoding and namespace bindings are never
    /// checked: input is UTF-8 and elements are matched by local name in every mode).
    pub const NONE: Leniency = Leniency(0);
    /// A `<` in character data that cannot start markup (not followed by a name
    /// character, `/`, `!` or `?`) is taken as the character itself. Seen in logged
    /// switching-function device IDs such as `N<123!98>` written without escaping.
    pub const RAW_ANGLE_BRACKETS: Leniency = Leniency(1);
    /// A device element (`callingDevice`, ...) that holds its device ID as text
    /// instead of a `deviceIdentifier` child is read as if it had one. Seen from
    /// peers that flatten the event wrappers.
    pub const BARE_DEVICE_TEXT: Leniency = Leniency(2);
    /// A connection element that holds only text is read as a connection with that
    /// call ID and no device, as in `<callToBeAnswered>-18</callToBeAnswered>`
    /// (published snom examples).
    pub const BARE_CALL_ID: Leniency = Leniency(4);
    /// The root element's name is matched without regard to ASCII case when no
    /// message has its exact name, as in `SnapShotDeviceResponse` (published Uni-tel
    /// examples).
    pub const ROOT_NAME_CASE: Leniency = Leniency(8);
    /// A device ID element (`requestingDevice`, `callingDevice` of `MakeCall`, ...)
    /// whose text is wrapped in one `<deviceID>` (or `<deviceIdentifier>`) child is
    /// read as that child, as in `<requestingDevice><deviceID>200</deviceID>
    /// </requestingDevice>` (published Uni-tel `DirectedPickupCall` examples).
    pub const NESTED_DEVICE_ID: Leniency = Leniency(16);
    /// Every leniency above: what the codec uses unless told otherwise.
    pub const ALL: Leniency = Leniency(31);

    /// Whether every leniency of `other` is in `self`.
    pub const fn contains(self, other: Leniency) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets together.
    pub const fn union(self, other: Leniency) -> Leniency {
        Leniency(self.0 | other.0)
    }

    /// `self` without the leniencies of `other`.
    pub const fn without(self, other: Leniency) -> Leniency {
        Leniency(self.0 & !other.0)
    }
}

impl Default for Leniency {
    fn default() -> Self {
        Leniency::ALL
    }
}

/// What went wrong in the XML, without the position (see [`XmlError`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum XmlErrorKind {
    /// The input is not UTF-8.
    InvalidUtf8,
    /// The input ends inside markup or with elements still open.
    UnexpectedEof,
    /// There is no root element.
    NoRoot,
    /// Character data or a second element outside the root element.
    ContentOutsideRoot,
    /// A character XML does not allow (a control character, or a `<` that starts no
    /// markup without [`Leniency::RAW_ANGLE_BRACKETS`]).
    InvalidChar,
    /// A malformed element or attribute name.
    InvalidName,
    /// An end tag that does not close the open element.
    MismatchedEndTag,
    /// An attribute without `=` or a quoted value, or with `<` in its value.
    MalformedAttribute,
    /// The same attribute twice on one element.
    DuplicateAttribute,
    /// A reference to an entity other than the five XML predefines.
    UnknownEntity,
    /// A character reference to a code point XML does not allow, or a bad one.
    InvalidCharRef,
    /// A document type declaration; DTDs are refused, so nothing is ever expanded.
    DtdNotAllowed,
    /// An unterminated or malformed comment, CDATA section, declaration or processing
    /// instruction.
    MalformedMarkup,
    /// More elements open than [`Limits::max_depth`].
    TooDeep,
    /// More attributes than [`Limits::max_attributes`].
    TooManyAttributes,
    /// A name longer than [`Limits::max_name`].
    NameTooLong,
    /// An element where only character data may be (inside a simple value).
    UnexpectedElement,
}

impl XmlErrorKind {
    fn describe(self) -> &'static str {
        use XmlErrorKind::*;
        match self {
            InvalidUtf8 => "input is not UTF-8",
            UnexpectedEof => "input ends early",
            NoRoot => "no root element",
            ContentOutsideRoot => "content outside the root element",
            InvalidChar => "character not allowed here",
            InvalidName => "malformed name",
            MismatchedEndTag => "end tag does not match the open element",
            MalformedAttribute => "malformed attribute",
            DuplicateAttribute => "duplicate attribute",
            UnknownEntity => "unknown entity (only the five XML entities are allowed)",
            InvalidCharRef => "invalid character reference",
            DtdNotAllowed => "document type declarations are not allowed",
            MalformedMarkup => "malformed comment, CDATA, declaration or processing instruction",
            TooDeep => "elements nested too deeply",
            TooManyAttributes => "too many attributes",
            NameTooLong => "name too long",
            UnexpectedElement => "element inside a simple value",
        }
    }
}

/// An XML error and the byte offset where it was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct XmlError {
    /// What is wrong.
    pub kind: XmlErrorKind,
    /// Offset of the offending byte from the start of the input.
    pub offset: usize,
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "XML: {} at byte {}", self.kind.describe(), self.offset)
    }
}

impl core::error::Error for XmlError {}

/// One token of the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// The XML declaration, with its raw pseudo-attributes (the encoding claim is not
    /// acted upon: input is always UTF-8).
    Declaration(&'a str),
    /// A start tag. An empty-element tag (`<a/>`) is a start with
    /// [`Element::is_empty`] and is followed by its own [`Event::End`].
    Start(Element<'a>),
    /// An end tag, or the end of an empty-element tag, with the element's name.
    End(&'a str),
    /// Character data: text between markup (references still encoded).
    Text(Text<'a>),
    /// The content of a CDATA section.
    CData(&'a str),
    /// The content of a comment.
    Comment(&'a str),
    /// A processing instruction, target and data.
    ProcessingInstruction(&'a str),
    /// The end of the document, after the root element closed.
    Eof,
}

/// A start tag: its name and its (already checked) attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Element<'a> {
    name: &'a str,
    /// Where the local name starts in `name`: 0, or one past the last `:` (recorded
    /// while the tokenizer reads the name, so matching by local name costs nothing).
    local: u16,
    /// The raw attribute list, possibly surrounded by white space; empty when the tag
    /// has no attributes (the common case, answered without any scanning).
    attrs: &'a str,
    empty: bool,
}

impl<'a> Element<'a> {
    /// The qualified name as written, prefix included.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// The name without its prefix: how the codec matches elements.
    pub fn local_name(&self) -> &'a str {
        &self.name[usize::from(self.local)..]
    }

    /// The prefix, if the name has one.
    pub fn prefix(&self) -> Option<&'a str> {
        let local = usize::from(self.local);
        (local > 0).then(|| &self.name[..local - 1])
    }

    /// Whether this was an empty-element tag (`<a/>`).
    pub fn is_empty(&self) -> bool {
        self.empty
    }

    /// The attributes in document order, namespace declarations included.
    pub fn attributes(&self) -> Attributes<'a> {
        Attributes { rest: self.attrs }
    }

    /// The value of the first attribute with local name `name` that is not a
    /// namespace declaration.
    pub fn attribute(&self, name: &str) -> Option<Text<'a>> {
        self.attributes()
            .find(|a| !a.is_namespace_declaration() && a.local_name() == name)
            .map(|a| a.value)
    }

    /// The namespace this element's own prefix (or the default namespace) is bound to
    /// on this element, if it is declared here.
    pub fn namespace(&self) -> Option<Text<'a>> {
        let prefix = self.prefix();
        self.attributes()
            .find(|a| match (prefix, a.name.strip_prefix("xmlns")) {
                (None, Some("")) => true,
                (Some(p), Some(rest)) => rest.strip_prefix(':') == Some(p),
                _ => false,
            })
            .map(|a| a.value)
    }
}

/// One attribute of an [`Element`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attribute<'a> {
    /// The qualified name as written.
    pub name: &'a str,
    /// The value (references still encoded).
    pub value: Text<'a>,
}

impl<'a> Attribute<'a> {
    /// The name without its prefix.
    pub fn local_name(&self) -> &'a str {
        local_name(self.name)
    }

    /// Whether this is `xmlns` or `xmlns:...`.
    pub fn is_namespace_declaration(&self) -> bool {
        self.name == "xmlns" || self.name.starts_with("xmlns:")
    }
}

/// Iterator over the attributes of an [`Element`].
#[derive(Debug, Clone)]
pub struct Attributes<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Attributes<'a> {
    type Item = Attribute<'a>;

    fn next(&mut self) -> Option<Attribute<'a>> {
        // The tokenizer checked the syntax, so this only has to split. Every byte
        // looked for is ASCII, so each offset found is a character boundary.
        let s = self.rest;
        let bytes = s.as_bytes();
        let start = skip_space_bytes(bytes, 0);
        let eq = start + bytes[start..].iter().position(|&b| b == b'=')?;
        let mut name_end = eq;
        while name_end > start && is_space(bytes[name_end - 1]) {
            name_end -= 1;
        }
        let open = skip_space_bytes(bytes, eq + 1);
        let quote = *bytes.get(open)?;
        // One pass to the closing quote that also notes references (a raw `<` cannot
        // occur: the tokenizer refused it), so the value needs no second scan.
        let mut close = open + 1;
        let mut escaped = false;
        loop {
            close = skip_unmarked(bytes, close, &ATTR_SPECIAL);
            match *bytes.get(close)? {
                b if b == quote => break,
                b'&' => escaped = true,
                _ => {}
            }
            close += 1;
        }
        self.rest = &s[close + 1..];
        Some(Attribute {
            name: &s[start..name_end],
            value: Text::from_checked_xml(&s[open + 1..close], escaped),
        })
    }
}

fn local_name(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, l)| l)
}

/// The offset of the first byte at or after `at` that is not XML white space.
fn skip_space_bytes(bytes: &[u8], mut at: usize) -> usize {
    while at < bytes.len() && is_space(bytes[at]) {
        at += 1;
    }
    at
}

fn is_space_char(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\n')
}

const fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// [`NAME_CHAR`] bit: the byte may start a name.
const NAME_START: u8 = 1;
/// [`NAME_CHAR`] bit: the byte may continue a name.
const NAME_REST: u8 = 2;

/// Name classes of every byte, so the name loops cost one load per byte. Bytes from
/// 0x80 are parts of non-ASCII characters, all allowed (UTF-8 was checked up front).
const NAME_CHAR: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphabetic() || c == b'_' || c == b':' || c >= 0x80 {
            t[b] = NAME_START | NAME_REST;
        } else if c.is_ascii_digit() || c == b'-' || c == b'.' {
            t[b] = NAME_REST;
        }
        b += 1;
    }
    t
};

pub(crate) const fn is_name_start(b: u8) -> bool {
    NAME_CHAR[b as usize] & NAME_START != 0
}

const fn is_name_char(b: u8) -> bool {
    NAME_CHAR[b as usize] & NAME_REST != 0
}

/// Bytes that end a run of character data or need a closer look inside one.
const TEXT_SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = !matches!(b as u8, b'\t' | b'\n' | b'\r');
        b += 1;
    }
    t[b'<' as usize] = true;
    t[b'&' as usize] = true;
    t
};

/// The offset of the first byte at or after `at` that `table` marks, or the length.
///
/// Character data and attribute values are long stretches of unmarked bytes, so they
/// are checked eight bytes at a time: the eight table lookups are combined without
/// branching, leaving one branch per chunk instead of one per byte.
fn skip_unmarked(bytes: &[u8], mut at: usize, table: &[bool; 256]) -> usize {
    while let Some(chunk) = bytes.get(at..at + 8) {
        if chunk
            .iter()
            .fold(false, |any, &b| any | table[usize::from(b)])
        {
            break;
        }
        at += 8;
    }
    while at < bytes.len() && !table[usize::from(bytes[at])] {
        at += 1;
    }
    at
}

/// Bytes that end an attribute value or need a closer look inside one: those of
/// [`TEXT_SPECIAL`] and both quote characters.
const ATTR_SPECIAL: [bool; 256] = {
    let mut t = TEXT_SPECIAL;
    t[b'"' as usize] = true;
    t[b'\'' as usize] = true;
    t
};

/// Decodes the inside of a reference (`lt`, `#60`, `#x3c`), returning the character
/// and whether it came from a character reference.
pub(crate) fn reference(name: &str) -> Option<(char, bool)> {
    let c = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => {
            let num = name.strip_prefix('#')?;
            let value = match num.strip_prefix('x') {
                Some(hex) if !hex.is_empty() && hex.len() <= 6 => u32::from_str_radix(hex, 16),
                None if !num.is_empty() && num.len() <= 7 && !num.starts_with('+') => {
                    num.parse::<u32>()
                }
                _ => return None,
            }
            .ok()?;
            let c = char::from_u32(value)?;
            // XML 1.0 Char: no C0 controls other than tab, LF, CR; no U+FFFE/U+FFFF.
            if (value < 0x20 && !matches!(c, '\t' | '\n' | '\r'))
                || matches!(value, 0xfffe | 0xffff)
            {
                return None;
            }
            return Some((c, true));
        }
    };
    Some((c, false))
}

/// A pull tokenizer over one XML document in a byte slice.
///
/// It checks well-formedness as it goes (names, matching end tags, attribute syntax
/// and uniqueness, references, one root) and never allocates: every event borrows
/// from the input, and text keeps its references until it is read (see [`Text`]).
/// DTDs are refused and only the five predefined entities and character references
/// exist, so no input can make it expand anything.
///
/// ```
/// use csta_core::xml::{Event, Reader};
///
/// let mut r = Reader::new(b"<a x='1'><b>N&lt;1&gt;</b><c/></a>").unwrap();
/// let Event::Start(a) = r.next_event().unwrap() else { panic!() };
/// assert_eq!(a.attribute("x").unwrap(), "1");
/// assert!(matches!(r.next_event().unwrap(), Event::Start(b) if b.name() == "b"));
/// assert!(matches!(r.next_event().unwrap(), Event::Text(t) if t == "N<1>"));
/// assert_eq!(r.next_event().unwrap(), Event::End("b"));
/// assert!(matches!(r.next_event().unwrap(), Event::Start(c) if c.is_empty()));
/// assert_eq!(r.next_event().unwrap(), Event::End("c"));
/// assert_eq!(r.next_event().unwrap(), Event::End("a"));
/// assert_eq!(r.next_event().unwrap(), Event::Eof);
/// ```
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    input: &'a str,
    pos: usize,
    /// Start offset and length of each open element's name.
    open: [(u32, u16); MAX_DEPTH],
    depth: usize,
    /// An empty-element tag whose end is still to be reported.
    pending_end: Option<&'a str>,
    seen_root: bool,
    limits: Limits,
    leniency: Leniency,
}

impl<'a> Reader<'a> {
    /// A reader with [`Limits::DEFAULT`] and [`Leniency::ALL`]. A UTF-8 byte order mark
    /// and leading white space are skipped.
    ///
    /// # Errors
    ///
    /// [`XmlErrorKind::InvalidUtf8`] when the input is not UTF-8.
    pub fn new(input: &'a [u8]) -> Result<Self, XmlError> {
        Self::with_options(input, Limits::DEFAULT, Leniency::ALL)
    }

    /// A reader with the given bounds and leniencies.
    ///
    /// # Errors
    ///
    /// [`XmlErrorKind::InvalidUtf8`] when the input is not UTF-8.
    pub fn with_options(
        input: &'a [u8],
        limits: Limits,
        leniency: Leniency,
    ) -> Result<Self, XmlError> {
        let input = core::str::from_utf8(input).map_err(|e| XmlError {
            kind: XmlErrorKind::InvalidUtf8,
            offset: e.valid_up_to(),
        })?;
        let body = input.strip_prefix('\u{feff}').unwrap_or(input);
        let pos = input.len() - body.trim_start_matches(is_space_char).len();
        Ok(Reader {
            input,
            pos,
            open: [(0, 0); MAX_DEPTH],
            depth: 0,
            pending_end: None,
            seen_root: false,
            limits,
            leniency,
        })
    }

    /// The current offset into the input.
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// How many elements are open.
    pub fn depth(&self) -> usize {
        self.depth + usize::from(self.pending_end.is_some())
    }

    /// The leniencies in force.
    pub fn leniency(&self) -> Leniency {
        self.leniency
    }

    /// The whole input.
    pub fn input(&self) -> &'a str {
        self.input
    }

    fn err<T>(&self, kind: XmlErrorKind, offset: usize) -> Result<T, XmlError> {
        Err(XmlError { kind, offset })
    }

    fn bytes(&self) -> &'a [u8] {
        self.input.as_bytes()
    }

    /// The next token.
    ///
    /// # Errors
    ///
    /// The first well-formedness error or exceeded bound; the reader must not be used
    /// after an error.
    pub fn next_event(&mut self) -> Result<Event<'a>, XmlError> {
        if let Some(name) = self.pending_end.take() {
            if self.depth == 0 {
                self.seen_root = true;
            }
            return Ok(Event::End(name));
        }
        let bytes = self.bytes();
        if self.depth == 0 {
            // Prolog or epilog: only white space, comments and PIs besides the root.
            while self.pos < bytes.len() && is_space(bytes[self.pos]) {
                self.pos += 1;
            }
            if self.pos == bytes.len() {
                return if self.seen_root {
                    Ok(Event::Eof)
                } else {
                    self.err(XmlErrorKind::NoRoot, self.pos)
                };
            }
            if bytes[self.pos] != b'<' || !self.starts_markup(self.pos) {
                return self.err(XmlErrorKind::ContentOutsideRoot, self.pos);
            }
        } else if self.pos == bytes.len() {
            return self.err(XmlErrorKind::UnexpectedEof, self.pos);
        }
        if bytes[self.pos] != b'<' || !self.starts_markup(self.pos) {
            return self.text();
        }
        match bytes.get(self.pos + 1) {
            Some(b'/') => self.end_tag(),
            Some(b'!') => self.bang(),
            Some(b'?') => self.processing_instruction(),
            _ => self.start_tag(),
        }
    }

    /// Whether the `<` at `at` starts markup (always true without the leniency).
    fn starts_markup(&self, at: usize) -> bool {
        if !self.leniency.contains(Leniency::RAW_ANGLE_BRACKETS) {
            return true;
        }
        matches!(self.bytes().get(at + 1), Some(&b) if b == b'/' || b == b'!' || b == b'?' || is_name_start(b))
    }

    fn text(&mut self) -> Result<Event<'a>, XmlError> {
        self.scan_text().map(Event::Text)
    }

    /// Reads character data up to the next markup (or the end of the input).
    fn scan_text(&mut self) -> Result<Text<'a>, XmlError> {
        let bytes = self.bytes();
        let start = self.pos;
        let mut i = start;
        // Whether a reference or a raw `<` was seen, so the text knows it needs
        // decoding without scanning itself again.
        let mut escaped = false;
        loop {
            i = skip_unmarked(bytes, i, &TEXT_SPECIAL);
            match bytes.get(i) {
                None => break,
                Some(b'&') => {
                    escaped = true;
                    i = self.check_reference(i)?;
                }
                Some(b'<') if !self.starts_markup(i) => {
                    escaped = true;
                    i += 1;
                }
                Some(b'<') => break,
                Some(_) => return self.err(XmlErrorKind::InvalidChar, i),
            }
        }
        self.pos = i;
        Ok(Text::from_checked_xml(&self.input[start..i], escaped))
    }

    /// Checks the reference starting with the `&` at `at`; returns the offset after it.
    fn check_reference(&self, at: usize) -> Result<usize, XmlError> {
        let rest = &self.input[at + 1..];
        let Some(end) = rest.bytes().take(12).position(|b| b == b';') else {
            return self.err(XmlErrorKind::UnknownEntity, at);
        };
        match reference(&rest[..end]) {
            Some(_) => Ok(at + end + 2),
            None if rest.starts_with('#') => self.err(XmlErrorKind::InvalidCharRef, at),
            None => self.err(XmlErrorKind::UnknownEntity, at),
        }
    }

    /// Reads a name at `at`; returns its end and where its local name starts (one past
    /// the last `:`, or `at`).
    fn name_end(&self, at: usize) -> Result<(usize, usize), XmlError> {
        let bytes = self.bytes();
        if !bytes.get(at).is_some_and(|&b| is_name_start(b)) {
            return self.err(
                if at >= bytes.len() {
                    XmlErrorKind::UnexpectedEof
                } else {
                    XmlErrorKind::InvalidName
                },
                at,
            );
        }
        let mut local = if bytes[at] == b':' { at + 1 } else { at };
        let mut end = at + 1;
        while end < bytes.len() && is_name_char(bytes[end]) {
            if bytes[end] == b':' {
                local = end + 1;
            }
            end += 1;
        }
        if end - at > usize::from(self.limits.max_name) {
            return self.err(XmlErrorKind::NameTooLong, at);
        }
        Ok((end, local))
    }

    fn skip_space(&self, mut at: usize) -> usize {
        let bytes = self.bytes();
        while at < bytes.len() && is_space(bytes[at]) {
            at += 1;
        }
        at
    }

    fn start_tag(&mut self) -> Result<Event<'a>, XmlError> {
        if self.depth == 0 && self.seen_root {
            return self.err(XmlErrorKind::ContentOutsideRoot, self.pos);
        }
        let bytes = self.bytes();
        let name_start = self.pos + 1;
        let (name_end, local) = self.name_end(name_start)?;
        let attrs_start = name_end;
        let mut at = name_end;
        let mut count = 0usize;
        loop {
            let after_space = self.skip_space(at);
            match bytes.get(after_space) {
                None => return self.err(XmlErrorKind::UnexpectedEof, after_space),
                Some(b'>') => {
                    at = after_space + 1;
                    break;
                }
                Some(b'/') if bytes.get(after_space + 1) == Some(&b'>') => {
                    at = after_space + 2;
                    break;
                }
                Some(_) if after_space == at => {
                    // Attributes must be separated from the name and each other.
                    return self.err(XmlErrorKind::MalformedAttribute, at);
                }
                Some(_) => {}
            }
            count += 1;
            if count > usize::from(self.limits.max_attributes) {
                return self.err(XmlErrorKind::TooManyAttributes, after_space);
            }
            at = self.attribute(after_space, attrs_start)?;
        }
        let empty = bytes[at - 2] == b'/';
        let attrs_end = if empty { at - 2 } else { at - 1 };
        let name = &self.input[name_start..name_end];
        let element = Element {
            name,
            // `max_name` is a u16, so the offset fits.
            local: (local - name_start) as u16,
            attrs: if count == 0 {
                ""
            } else {
                &self.input[attrs_start..attrs_end]
            },
            empty,
        };
        if self.depth >= usize::from(self.limits.max_depth).min(MAX_DEPTH) {
            return self.err(XmlErrorKind::TooDeep, self.pos);
        }
        if empty {
            self.pending_end = Some(name);
        } else {
            self.open[self.depth] = (name_start as u32, (name_end - name_start) as u16);
            self.depth += 1;
        }
        self.pos = at;
        Ok(Event::Start(element))
    }

    /// Checks one attribute at `at`; returns the offset after its closing quote.
    fn attribute(&self, at: usize, attrs_start: usize) -> Result<usize, XmlError> {
        let bytes = self.bytes();
        let (name_end, _) = self.name_end(at)?;
        let name = &self.input[at..name_end];
        let eq = self.skip_space(name_end);
        if bytes.get(eq) != Some(&b'=') {
            return self.err(XmlErrorKind::MalformedAttribute, eq);
        }
        let open = self.skip_space(eq + 1);
        let quote = match bytes.get(open) {
            Some(&q @ (b'"' | b'\'')) => q,
            _ => return self.err(XmlErrorKind::MalformedAttribute, open),
        };
        let mut i = open + 1;
        loop {
            i = skip_unmarked(bytes, i, &ATTR_SPECIAL);
            match bytes.get(i) {
                None => return self.err(XmlErrorKind::UnexpectedEof, i),
                Some(&b) if b == quote => break,
                Some(b'<') => return self.err(XmlErrorKind::MalformedAttribute, i),
                Some(b'&') => i = self.check_reference(i)?,
                Some(&b) if TEXT_SPECIAL[usize::from(b)] => {
                    return self.err(XmlErrorKind::InvalidChar, i);
                }
                // The other quote character.
                Some(_) => i += 1,
            }
        }
        let earlier = Attributes {
            rest: &self.input[attrs_start..at],
        };
        if earlier.into_iter().any(|a| a.name == name) {
            return self.err(XmlErrorKind::DuplicateAttribute, at);
        }
        Ok(i + 1)
    }

    fn end_tag(&mut self) -> Result<Event<'a>, XmlError> {
        let name_start = self.pos + 2;
        // The fast path: the end tag is `</` and the open element's name, then `>`.
        // Anything else (white space before `>`, a mismatch, an error) takes the full
        // path below, which reports exactly what is wrong.
        if let Some(depth) = self.depth.checked_sub(1) {
            let (open_at, open_len) = self.open[depth];
            let (open_at, open_len) = (open_at as usize, usize::from(open_len));
            let bytes = self.bytes();
            let close = name_start + open_len;
            if bytes.get(close) == Some(&b'>')
                && bytes[name_start..close] == bytes[open_at..open_at + open_len]
            {
                self.depth = depth;
                if depth == 0 {
                    self.seen_root = true;
                }
                self.pos = close + 1;
                return Ok(Event::End(&self.input[name_start..close]));
            }
        }
        let (name_end, _) = self.name_end(name_start)?;
        let close = self.skip_space(name_end);
        match self.bytes().get(close) {
            Some(b'>') => {}
            None => return self.err(XmlErrorKind::UnexpectedEof, close),
            Some(_) => return self.err(XmlErrorKind::InvalidName, close),
        }
        let name = &self.input[name_start..name_end];
        let Some(depth) = self.depth.checked_sub(1) else {
            return self.err(XmlErrorKind::MismatchedEndTag, self.pos);
        };
        let (open_at, open_len) = self.open[depth];
        let open_name = &self.input[open_at as usize..open_at as usize + usize::from(open_len)];
        if open_name != name {
            return self.err(XmlErrorKind::MismatchedEndTag, self.pos);
        }
        self.depth = depth;
        if depth == 0 {
            self.seen_root = true;
        }
        self.pos = close + 1;
        Ok(Event::End(name))
    }

    /// `<!--`, `<![CDATA[` or `<!DOCTYPE`.
    fn bang(&mut self) -> Result<Event<'a>, XmlError> {
        let rest = &self.input[self.pos..];
        if let Some(body) = rest.strip_prefix("<!--") {
            let Some(end) = body.find("--") else {
                return self.err(XmlErrorKind::MalformedMarkup, self.pos);
            };
            if !body[end..].starts_with("-->") {
                return self.err(XmlErrorKind::MalformedMarkup, self.pos + 4 + end);
            }
            self.pos += 4 + end + 3;
            return Ok(Event::Comment(&body[..end]));
        }
        if let Some(body) = rest.strip_prefix("<![CDATA[") {
            if self.depth == 0 {
                return self.err(XmlErrorKind::ContentOutsideRoot, self.pos);
            }
            let Some(end) = body.find("]]>") else {
                return self.err(XmlErrorKind::MalformedMarkup, self.pos);
            };
            if let Some(i) = body[..end]
                .bytes()
                .position(|b| TEXT_SPECIAL[usize::from(b)] && b < 0x20)
            {
                return self.err(XmlErrorKind::InvalidChar, self.pos + 9 + i);
            }
            self.pos += 9 + end + 3;
            return Ok(Event::CData(&body[..end]));
        }
        if rest.starts_with("<!DOCTYPE") || rest.starts_with("<!ENTITY") {
            return self.err(XmlErrorKind::DtdNotAllowed, self.pos);
        }
        self.err(XmlErrorKind::MalformedMarkup, self.pos)
    }

    fn processing_instruction(&mut self) -> Result<Event<'a>, XmlError> {
        let body = &self.input[self.pos + 2..];
        // Byte searches: `?>` and the target's end are ASCII, so the offsets found
        // are character boundaries.
        let mut end = 0;
        loop {
            let Some(q) = body[end..].find('?') else {
                return self.err(XmlErrorKind::MalformedMarkup, self.pos);
            };
            end += q;
            if body.as_bytes().get(end + 1) == Some(&b'>') {
                break;
            }
            end += 1;
        }
        // By the name classes of bytes, as element names: every byte of a non-ASCII
        // character continues a name, so the target ends at a character boundary.
        let target_end = body
            .bytes()
            .position(|b| !is_name_char(b))
            .unwrap_or(body.len());
        let target = &body[..target_end.min(end)];
        if target.is_empty() {
            return self.err(XmlErrorKind::InvalidName, self.pos + 2);
        }
        let at = self.pos;
        self.pos += 2 + end + 2;
        if target.eq_ignore_ascii_case("xml") {
            // The declaration belongs at the start (after any BOM and white space).
            let prolog = &self.input[..at];
            let prolog = prolog.strip_prefix('\u{feff}').unwrap_or(prolog);
            if self.seen_root
                || self.depth > 0
                || !prolog.trim_start_matches(is_space_char).is_empty()
            {
                return self.err(XmlErrorKind::MalformedMarkup, at);
            }
            return Ok(Event::Declaration(body[3..end].trim_matches(is_space_char)));
        }
        Ok(Event::ProcessingInstruction(&body[..end]))
    }

    /// After the [`Event::Start`] of a non-empty element, reads its content as one text
    /// and consumes its end tag. Comments, processing instructions and CDATA sections
    /// inside are part of the text (skipped and unwrapped when it is decoded).
    ///
    /// After an empty element's start it returns an empty text and its end.
    ///
    /// # Errors
    ///
    /// [`XmlErrorKind::UnexpectedElement`] for a child element, or any error of
    /// [`next_event`](Self::next_event).
    pub fn read_text(&mut self) -> Result<Text<'a>, XmlError> {
        if self.pending_end.take().is_some() {
            if self.depth == 0 {
                self.seen_root = true;
            }
            return Ok(Text::EMPTY);
        }
        let start = self.pos;
        // The common case: one run of character data, then the end tag.
        if self.depth > 0 {
            let text = self.scan_text()?;
            if self.bytes().get(self.pos..self.pos + 2) == Some(b"</") {
                self.end_tag()?;
                return Ok(text);
            }
            // Markup inside the text, or the end of the input: the general path.
            self.pos = start;
        }
        let mut simple = true;
        loop {
            let at = self.pos;
            match self.next_event()? {
                Event::Text(text) if simple && self.bytes().get(self.pos) == Some(&b'<') => {
                    // The common case: one run of text, then (we check) the end tag.
                    if self.bytes().get(self.pos + 1) == Some(&b'/') {
                        self.end_tag()?;
                        return Ok(text);
                    }
                    simple = false;
                }
                Event::End(_) => {
                    return Ok(Text::from_xml(&self.input[start..at]));
                }
                Event::Start(_) => return self.err(XmlErrorKind::UnexpectedElement, at),
                Event::Eof | Event::Declaration(_) => {
                    return self.err(XmlErrorKind::UnexpectedEof, at);
                }
                _ => simple = false,
            }
        }
    }

    /// After the [`Event::Start`] of an element, skips everything up to and including
    /// its end tag (checking well-formedness on the way).
    ///
    /// # Errors
    ///
    /// Any error of [`next_event`](Self::next_event).
    pub fn skip(&mut self) -> Result<(), XmlError> {
        let depth = self.depth();
        while self.depth() >= depth {
            if let Event::Eof = self.next_event()? {
                return self.err(XmlErrorKind::UnexpectedEof, self.pos);
            }
        }
        Ok(())
    }

    /// The next start tag or end tag, skipping character data, comments and
    /// processing instructions between elements.
    ///
    /// # Errors
    ///
    /// Any error of [`next_event`](Self::next_event).
    pub fn next_tag(&mut self) -> Result<Event<'a>, XmlError> {
        loop {
            if let e @ (Event::Start(_) | Event::End(_) | Event::Eof) = self.next_event()? {
                return Ok(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(input: &str) -> Result<usize, XmlError> {
        let mut r = Reader::new(input.as_bytes())?;
        let mut n = 0;
        loop {
            n += 1;
            if r.next_event()? == Event::Eof {
                return Ok(n);
            }
        }
    }

    fn kind(input: &str) -> XmlErrorKind {
        events(input).unwrap_err().kind
    }

    #[test]
    fn test_prolog_and_epilog() {
        let mut r = Reader::new(
            "\u{feff} \n<?xml version='1.0' encoding='utf-16'?><!--c--><a/><?pi x?> ".as_bytes(),
        )
        .unwrap();
        assert_eq!(
            r.next_event().unwrap(),
            Event::Declaration("version='1.0' encoding='utf-16'")
        );
        assert_eq!(r.next_event().unwrap(), Event::Comment("c"));
        assert!(matches!(r.next_event().unwrap(), Event::Start(e) if e.is_empty()));
        assert_eq!(r.next_event().unwrap(), Event::End("a"));
        assert_eq!(
            r.next_event().unwrap(),
            Event::ProcessingInstruction("pi x")
        );
        assert_eq!(r.next_event().unwrap(), Event::Eof);
        assert_eq!(r.next_event().unwrap(), Event::Eof);
    }

    #[test]
    fn test_attributes_and_namespaces() {
        let mut r =
            Reader::new(br#"<csta:MakeCall xmlns:csta="urn:x" a = 'one &amp; "two"' b="&#x3C;"/>"#)
                .unwrap();
        let Event::Start(e) = r.next_event().unwrap() else {
            panic!()
        };
        assert_eq!(e.local_name(), "MakeCall");
        assert_eq!(e.prefix(), Some("csta"));
        assert_eq!(e.namespace().unwrap(), "urn:x");
        assert_eq!(e.attribute("a").unwrap(), "one & \"two\"");
        assert_eq!(e.attribute("b").unwrap(), "<");
        assert_eq!(e.attributes().count(), 3);
        assert_eq!(e.attribute("csta"), None);
    }

    #[test]
    fn test_text_cdata_and_read_text() {
        let mut r =
            Reader::new(b"<a><b> x &lt; <![CDATA[<y>]]><!--z-->w</b><c>plain</c><d/></a>").unwrap();
        r.next_event().unwrap();
        r.next_event().unwrap();
        let t = r.read_text().unwrap();
        assert_eq!(t, " x < <y>w");
        r.next_event().unwrap();
        let t = r.read_text().unwrap();
        assert_eq!(t.as_str(), Some("plain"));
        r.next_event().unwrap();
        assert_eq!(r.read_text().unwrap(), "");
        assert_eq!(r.next_event().unwrap(), Event::End("a"));
        assert_eq!(r.next_event().unwrap(), Event::Eof);
    }

    #[test]
    fn test_read_text_rejects_children() {
        let mut r = Reader::new(b"<a><b>x<c/></b></a>").unwrap();
        r.next_event().unwrap();
        r.next_event().unwrap();
        assert_eq!(
            r.read_text().unwrap_err().kind,
            XmlErrorKind::UnexpectedElement
        );
    }

    #[test]
    fn test_skip() {
        let mut r = Reader::new(b"<a><x><y a='1'>t</y><z/></x><b/></a>").unwrap();
        r.next_event().unwrap();
        r.next_event().unwrap();
        r.skip().unwrap();
        assert!(matches!(r.next_event().unwrap(), Event::Start(e) if e.name() == "b"));
        let mut r = Reader::new(b"<a><e/><b/></a>").unwrap();
        r.next_event().unwrap();
        r.next_event().unwrap();
        r.skip().unwrap();
        assert!(matches!(r.next_event().unwrap(), Event::Start(e) if e.name() == "b"));
    }

    #[test]
    fn test_raw_angle_brackets() {
        let input = b"<a>N<123!98></a>";
        let mut r = Reader::new(input).unwrap();
        r.next_event().unwrap();
        assert_eq!(r.read_text().unwrap(), "N<123!98>");
        let mut strict = Reader::with_options(input, Limits::DEFAULT, Leniency::NONE).unwrap();
        strict.next_event().unwrap();
        assert_eq!(
            strict.read_text().unwrap_err().kind,
            XmlErrorKind::InvalidName
        );
    }

    #[test]
    fn test_well_formedness_errors() {
        use XmlErrorKind::*;
        let cases: &[(&str, XmlErrorKind)] = &[
            ("", NoRoot),
            ("  ", NoRoot),
            ("x<a/>", ContentOutsideRoot),
            ("<a/>x", ContentOutsideRoot),
            ("<a/><b/>", ContentOutsideRoot),
            ("<a>", UnexpectedEof),
            ("<a><b></a>", MismatchedEndTag),
            ("<a></b>", MismatchedEndTag),
            ("<a x='1' x='2'/>", DuplicateAttribute),
            ("<a x=1/>", MalformedAttribute),
            ("<a x='<'/>", MalformedAttribute),
            ("<a x='1'y='2'/>", MalformedAttribute),
            ("<a x/>", MalformedAttribute),
            ("<a>&nbsp;</a>", UnknownEntity),
            ("<a>& </a>", UnknownEntity),
            ("<a>&#0;</a>", InvalidCharRef),
            ("<a>&#xD800;</a>", InvalidCharRef),
            ("<a>&#x110000;</a>", InvalidCharRef),
            ("<a>\u{1}</a>", InvalidChar),
            ("<!DOCTYPE a [<!ENTITY e 'x'>]><a>&e;</a>", DtdNotAllowed),
            ("<a><!-- x</a>", MalformedMarkup),
            ("<a><!-- a -- b --></a>", MalformedMarkup),
            ("<a><![CDATA[x</a>", MalformedMarkup),
            ("<a/><?xml version='1.0'?>", MalformedMarkup),
            ("<1a/>", ContentOutsideRoot),
            ("<a", UnexpectedEof),
            ("<a x='1", UnexpectedEof),
        ];
        for &(input, expected) in cases {
            assert_eq!(kind(input), expected, "{input:?}");
        }
        assert_eq!(Reader::new(b"<a>\xff</a>").unwrap_err().kind, InvalidUtf8);
    }

    #[test]
    fn test_limits() {
        let limits = Limits {
            max_depth: 2,
            max_attributes: 1,
            max_name: 3,
        };
        let run = |input: &str| {
            let mut r = Reader::with_options(input.as_bytes(), limits, Leniency::ALL).unwrap();
            loop {
                match r.next_event() {
                    Ok(Event::Eof) => return Ok(()),
                    Ok(_) => {}
                    Err(e) => return Err(e.kind),
                }
            }
        };
        assert_eq!(run("<a><b/></a>"), Ok(()));
        assert_eq!(run("<a><b><c/></b></a>"), Err(XmlErrorKind::TooDeep));
        assert_eq!(
            run("<a x='1' y='2'/>"),
            Err(XmlErrorKind::TooManyAttributes)
        );
        assert_eq!(run("<abcd/>"), Err(XmlErrorKind::NameTooLong));
    }

    #[test]
    fn test_error_offsets() {
        let e = events("<a>\n  <b>&bogus;</b></a>").unwrap_err();
        assert_eq!(
            e,
            XmlError {
                kind: XmlErrorKind::UnknownEntity,
                offset: 9
            }
        );
    }
}
