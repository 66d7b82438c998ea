//! TAPI address strings → the number a CSTA server should dial.
//!
//! TAPI applications hand the service provider an address string in
//! `lineMakeCall`, `lineDial`, `lineBlindTransfer`, `lineRedirect`, `linePickup` and
//! `lineForward`. This module turns that string into what goes into ECMA-269
//! `MakeCall/calledDirectoryNumber` (and the other services' destination fields):
//! [`normalise`] parses one string, [`DialBuffer`] accumulates partial strings (ending in
//! `;`) across several calls, [`is_canonical`] tells whether a string is in TAPI's canonical
//! format. Nothing here panics, whatever the input; inputs longer than [`MAX_INPUT_LEN`]
//! bytes are refused.
//!
//! The grammar is written with `nom` 8 and needs none of its features
//! (`nom = { version = "8", default-features = false }`; `alloc` or `std` also work). The
//! module itself needs `core` and `alloc` only.
//!
//! # Grammar
//!
//! Microsoft's two formats ("Canonical Addresses", "Dialable Addresses" in the TAPI 2.x
//! documentation), plus URIs and the CSTA switching-function form. Only the first address
//! of a CRLF-separated list is used, as `lineTranslateAddress` does; the rest of the input
//! is ignored (but counts toward the length limit).
//!
//! ```text
//! input        = address [ ( CR / LF ) rest ] ; CRLF normally; rest is ignored, unchecked
//! address      = *WS ( uri / switching / canonical / dialable )
//! uri          = ( "sip:" / "sips:" / "tel:" ) 1*uri-char *WS   ; scheme case-insensitive
//! uri-char     = any char except whitespace and control characters
//! switching    = "N<" 1*( any except ">" ) ">" *any *WS         ; e.g. N<+49 89 1234>;noa=..
//!                                              ; "any" never includes control characters
//! canonical    = *mode "+" 1*3DIGIT 1*WS [ "(" *DIGIT ")" *WS ] number-field suffix
//! dialable     = *mode [ "+" ] number-field suffix
//! number-field = *( digit / visual / mode / flash / pause ) [ ";" *WS ]
//!                                              ; ";" only directly before suffix or end
//!                                              ; digit, visual, flash, pause: table below
//! suffix       = [ "|" subaddress ] [ "^" name ]
//! subaddress   = *( any except "^" and control characters )
//! name         = *( any except control characters )
//! mode         = "T" / "t" / "P" / "p" / WS
//! WS           = SP / HTAB / U+00A0
//! ```
//!
//! Characters of the number field:
//!
//! | characters                 | TAPI meaning                       | here                                  |
//! |----------------------------|------------------------------------|---------------------------------------|
//! | `0-9` `*` `#` `A-D`        | DTMF / pulse digits                | kept (`a-d` are upper-cased)          |
//! | `+` (first, dialable only) | fully qualified international      | E.164 marker, see the rules           |
//! | SP HTAB U+00A0 `( ) - . /` | formatting                         | dropped                               |
//! | `T t P p`                  | tone / pulse dialling follows      | dropped (Outlook's `T` prefix too)    |
//! | `!`                        | hookflash                          | dropped                               |
//! | `,`                        | pause                              | starts post-dial digits               |
//! | `W w`                      | wait for dial tone                 | starts post-dial digits               |
//! | `@`                        | wait for quiet answer              | starts post-dial digits               |
//! | `$`                        | wait for billing tone              | starts post-dial digits               |
//! | `?`                        | prompt the user                    | refused: [`DialError::PromptNotSupported`] |
//! | `;` (at the end)           | more digits follow (partial)       | [`Dialable::partial`]                 |
//! | `\|` / `^`                 | subaddress / name follow           | [`Dialable::subaddress`] / [`Dialable::name`] |
//! | anything else              |                                    | [`DialError::InvalidCharacter`]       |
//!
//! Digits after the first pause-like control (`,` `W` `@` `$`) go to
//! [`Dialable::post_dial`], to be sent as DTMF (CSTA `GenerateDigits`) once the call is
//! answered; every control character in them is dropped. Pause-like controls before the
//! first digit are dropped. One exception, the **access-code wait**: in a dialable number
//! without `+`, when the first pause-like control follows exactly one decimal digit, or
//! exactly the configured [`DialRules::outside_line`], those digits are an outside-line
//! access code the application dialled itself (`0,089 1234`, `9W5550100`). The control
//! (and any directly following it) is dropped, dialling continues in
//! [`Dialable::number`], and the number gets no further access code.
//!
//! # Normalisation rules
//!
//! `CC`, `area` and `subscriber` are the cleaned parts of a canonical address; `digits` the
//! cleaned number field of a dialable one. `prefix` means [`DialRules::outside_line`] when it
//! is set (nothing otherwise).
//!
//! | input                                              | `keep_e164 = true`  | `keep_e164 = false`                         |
//! |----------------------------------------------------|---------------------|---------------------------------------------|
//! | canonical, CC = `country_code`, area = `area_code` | `+` CC area subscr. | prefix subscriber                           |
//! | canonical, CC = `country_code`, other or no area   | `+` CC area subscr. | prefix `national_prefix` area subscriber    |
//! | canonical, other CC (or `country_code` unset)      | `+` CC area subscr. | prefix `international_prefix` CC area subscr. |
//! | dialable `+digits`, digits start with `country_code` | `+` digits        | prefix `national_prefix` (digits without CC) |
//! | dialable `+digits`, otherwise                      | `+` digits          | prefix `international_prefix` digits        |
//! | dialable, at most `internal_max_len` digits        | digits              | digits                                      |
//! | dialable starting with `*` or `#` (feature code)   | digits              | digits                                      |
//! | dialable with an access-code wait                  | digits              | digits                                      |
//! | any other dialable                                 | prefix digits       | prefix digits                               |
//! | partial (`;`): canonical / dialable                | `+` CC area subscr. / `[+]` digits, no rule applied | same              |
//! | URI, switching-function form                       | unchanged           | unchanged                                   |
//!
//! Further details:
//!
//! - A canonical address is a public number: it never counts as internal, whatever its
//!   length, so `+49 (89) 1234` dialled from area 89 with outside line `0` becomes `01234`.
//! - A number that leaves as E.164 (`+…`) never gets the outside-line prefix: the CSTA server
//!   or PBX routes `+` numbers itself.
//! - An area code of only zeros is the trunk-prefix notation `+49 (0)89 1234` and is dropped
//!   (the real area code then stays in the subscriber part). An empty `()` is no area code.
//! - Without an area code, the subscriber part is the whole national number: same country
//!   gives `national_prefix` + subscriber (no local shortening without an explicit area code).
//! - A country code must have 1 to 3 digits: `+4989 1234` is not canonical and is read as the
//!   dialable E.164 number `+49891234`.
//! - A dialable number that already starts with an international or national prefix
//!   (`0049…`, `089…`) is not converted back to E.164; it is only cleaned.
//! - For a partial address no rule is applied (the complete number decides what is internal);
//!   [`DialBuffer`] applies the rules once the number is complete.
//!
//! ## The outside-line choice
//!
//! **Every external dialable number gets [`DialRules::outside_line`] prepended; there is no
//! "already starts with the access code" test.** With the usual German PBX setup
//! (`outside_line = "0"`, `national_prefix = "0"`) such a test would take the trunk prefix of
//! `089 1234` for the access code and dial `0891234`, which the PBX reads as the local
//! number `891234`; and `0040…` is both "outside line + Hamburg" and "Romania". No syntax
//! tells them apart, so the rule is: configure the access code in exactly one place. When
//! the TSP owns it (`outside_line = Some(..)`), applications and Windows' dialing rules must
//! not add one; when applications add it, leave `outside_line` unset. The only syntax that
//! does tell is an access code followed by a wait (`0,…`, `0W…`, see above), which is
//! honoured. Internal extensions (up to `internal_max_len` digits, which also keeps short
//! emergency numbers such as `112` on the PBX's own routing) and feature codes (`*…`, `#…`)
//! never get it.
//!
//! # Errors
//!
//! Every [`DialError`] maps to a TAPI result with [`DialError::lineerr`]:
//! `LINEERR_DIALPROMPT` for `?`, `LINEERR_INVALADDRESS` for everything else. Positions are
//! byte offsets into the string passed in.

extern crate alloc;

use alloc::string::String;
use core::fmt;

use nom::{
    IResult, Parser,
    branch::alt,
    bytes::complete::{tag, tag_no_case, take_till, take_while, take_while_m_n, take_while1},
    character::complete::{char, one_of},
    combinator::{map, opt, value},
    error::{ErrorKind, ParseError},
    multi::fold_many0,
    sequence::preceded,
};

/// Longest accepted input, in bytes (UTF-8), for [`normalise`], [`is_canonical`] and the
/// accumulated text of a [`DialBuffer`].
pub const MAX_INPUT_LEN: usize = 128;

/// `LINEERR_DIALPROMPT` (tapi.h): the `?` dial modifier is not supported.
const LINEERR_DIALPROMPT: u32 = 0x8000_000A;
/// `LINEERR_INVALADDRESS` (tapi.h): the address is invalid.
const LINEERR_INVALADDRESS: u32 = 0x8000_0010;

/// The local dialling plan the service provider applies (see the module's rule table).
///
/// Prefixes and codes are inserted verbatim and should hold digits only; an empty
/// `Some("")` is treated like `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialRules {
    /// Country code of the PBX's location without `+`, e.g. `"49"`.
    pub country_code: Option<String>,
    /// Area code of the PBX's location without the national prefix, e.g. `"89"`.
    pub area_code: Option<String>,
    /// Prefix for international calls, default `"00"` (`"011"` in North America).
    pub international_prefix: String,
    /// Prefix for national calls, default `"0"` (`"1"` in North America, `""` in Italy).
    pub national_prefix: String,
    /// PBX outside-line access code (e.g. `"0"` or `"9"`) prepended to external numbers
    /// that do not leave as E.164.
    pub outside_line: Option<String>,
    /// Keep canonical and `+` numbers in E.164 form (`+49891234`), default `true`.
    pub keep_e164: bool,
    /// Dialable numbers of at most this many digits are internal extensions and never get
    /// the outside-line prefix; default 0 (no number is internal).
    pub internal_max_len: usize,
}

impl Default for DialRules {
    fn default() -> Self {
        Self {
            country_code: None,
            area_code: None,
            international_prefix: String::from("00"),
            national_prefix: String::from("0"),
            outside_line: None,
            keep_e164: true,
            internal_max_len: 0,
        }
    }
}

/// Which of the accepted address forms the input was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressForm {
    /// TAPI canonical address: `+CC (area) subscriber`.
    Canonical,
    /// TAPI dialable address: digits and dial modifiers.
    Dialable,
    /// `sip:`, `sips:` or `tel:` URI, passed through unchanged.
    Uri,
    /// CSTA switching-function number `N<…>`, passed through unchanged.
    SwitchingFunction,
}

/// A normalised address, ready for CSTA.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialable {
    /// What to dial: `0-9 * # A-D` with an optional leading `+`, or the URI /
    /// switching-function text unchanged. Empty only for a partial address.
    pub number: String,
    /// Digits to send as DTMF once the call is answered (after `,` `W` `@` `$`).
    pub post_dial: Option<String>,
    /// ISDN subaddress (after `|`), trimmed.
    pub subaddress: Option<String>,
    /// Called party's name (after `^`), trimmed.
    pub name: Option<String>,
    /// The address ended with `;`: more digits follow in a later `lineDial`.
    pub partial: bool,
    /// Which form the input had.
    pub form: AddressForm,
}

/// Why an address string was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialError {
    /// Nothing to dial: empty, blank, or only formatting and control characters.
    Empty,
    /// Longer than [`MAX_INPUT_LEN`] bytes.
    TooLong,
    /// A character that no address form allows here.
    InvalidCharacter {
        /// Byte offset of the character.
        at: usize,
    },
    /// The `?` (prompt the user) modifier, which TAPI requires providers to reject.
    PromptNotSupported {
        /// Byte offset of the `?`.
        at: usize,
    },
    /// A canonical address (`+CC ` seen) with a malformed area code or no subscriber number.
    BadCanonical {
        /// Byte offset where the canonical grammar failed.
        at: usize,
    },
    /// A `sip:`/`sips:`/`tel:` URI with nothing after the scheme.
    BadUri {
        /// Byte offset where the URI grammar failed.
        at: usize,
    },
    /// A switching-function number `N<…` that is empty or not closed by `>`.
    BadSwitchingNumber {
        /// Byte offset where the switching-function grammar failed.
        at: usize,
    },
}

impl DialError {
    /// The byte offset the error points at, if it has one.
    #[must_use]
    pub const fn at(self) -> Option<usize> {
        match self {
            Self::Empty | Self::TooLong => None,
            Self::InvalidCharacter { at }
            | Self::PromptNotSupported { at }
            | Self::BadCanonical { at }
            | Self::BadUri { at }
            | Self::BadSwitchingNumber { at } => Some(at),
        }
    }

    /// The TAPI result for this error (`LINEERR_*` as the negative `LONG` a TSPI function
    /// returns): `LINEERR_DIALPROMPT` for `?`, `LINEERR_INVALADDRESS` otherwise.
    #[must_use]
    pub const fn lineerr(self) -> i32 {
        let code = match self {
            Self::PromptNotSupported { .. } => LINEERR_DIALPROMPT,
            _ => LINEERR_INVALADDRESS,
        };
        // LINEERR_* are DWORD bit patterns returned as a LONG: reinterpret, do not convert.
        i32::from_ne_bytes(code.to_ne_bytes())
    }

    /// The same error with its offset moved `by` bytes toward the start (saturating).
    const fn shift_back(self, by: usize) -> Self {
        match self {
            Self::Empty => Self::Empty,
            Self::TooLong => Self::TooLong,
            Self::InvalidCharacter { at } => Self::InvalidCharacter {
                at: at.saturating_sub(by),
            },
            Self::PromptNotSupported { at } => Self::PromptNotSupported {
                at: at.saturating_sub(by),
            },
            Self::BadCanonical { at } => Self::BadCanonical {
                at: at.saturating_sub(by),
            },
            Self::BadUri { at } => Self::BadUri {
                at: at.saturating_sub(by),
            },
            Self::BadSwitchingNumber { at } => Self::BadSwitchingNumber {
                at: at.saturating_sub(by),
            },
        }
    }
}

impl fmt::Display for DialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("address has nothing to dial"),
            Self::TooLong => write!(f, "address longer than {MAX_INPUT_LEN} bytes"),
            Self::InvalidCharacter { at } => write!(f, "invalid character at byte {at}"),
            Self::PromptNotSupported { at } => {
                write!(f, "'?' dial modifier at byte {at} is not supported")
            }
            Self::BadCanonical { at } => write!(f, "malformed canonical address at byte {at}"),
            Self::BadUri { at } => write!(f, "malformed URI at byte {at}"),
            Self::BadSwitchingNumber { at } => {
                write!(f, "malformed switching-function number at byte {at}")
            }
        }
    }
}

impl core::error::Error for DialError {}

/// Normalise one TAPI address string for CSTA, applying `rules` (see the module docs).
///
/// # Errors
///
/// [`DialError::TooLong`] over [`MAX_INPUT_LEN`] bytes; [`DialError::Empty`] when there is
/// nothing to dial; the positional variants for malformed input.
pub fn normalise(input: &str, rules: &DialRules) -> Result<Dialable, DialError> {
    if input.len() > MAX_INPUT_LEN {
        return Err(DialError::TooLong);
    }
    let line = first_line(input);
    let plan = Plan::new(rules);
    let parsed = match address(line, plan.outside_line) {
        Ok((_, parsed)) => parsed,
        Err(e) => return Err(to_dial_error(line, &e)),
    };
    build(parsed, &plan)
}

/// Whether `input` is a TAPI canonical address: it starts with `+`, a country code of 1 to 3
/// digits and a space, and its first address parses (see the module's grammar).
///
/// Outlook's `T+49 (89) 1234` is not canonical by this test (TAPI presumes anything not
/// starting with `+` to be dialable), although [`normalise`] reads it as canonical.
#[must_use]
pub fn is_canonical(input: &str) -> bool {
    if input.len() > MAX_INPUT_LEN || !input.starts_with('+') {
        return false;
    }
    matches!(
        address(first_line(input), None),
        Ok((
            _,
            Parsed {
                body: Body::Canonical { .. },
                ..
            }
        ))
    )
}

/// Result of [`DialBuffer::push`], after httparse's `Status`: incomplete is not an error.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub enum DialStatus {
    /// The accumulated address still ends with `;`: wait for the next `lineDial`.
    Partial,
    /// The address is complete (the buffer is now empty again).
    Complete(Dialable),
}

/// Accumulates partial addresses (`lineMakeCall("0891;")`, `lineDial("234")`) into one.
///
/// Each piece's first address is appended to the text kept so far (its number field
/// without the trailing `;`), and the whole is parsed again, so a canonical address may be
/// split anywhere. A subaddress or name given with a partial piece is kept and used unless a
/// later piece brings its own. The accumulated text is capped at [`MAX_INPUT_LEN`] bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DialBuffer {
    /// Number-field text of the partial pieces so far, without their `;`.
    pending: String,
    /// The latest `|subaddress^name` text seen with a partial piece.
    tail: String,
}

impl DialBuffer {
    /// An empty buffer.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            pending: String::new(),
            tail: String::new(),
        }
    }

    /// Append one piece and report whether the address is complete, with `rules` applied
    /// to the complete address.
    ///
    /// # Errors
    ///
    /// Those of [`normalise`] for the accumulated text, with offsets counted from the start
    /// of `input` (0 for a fault inside earlier pieces); [`DialError::TooLong`] when the
    /// accumulated text would exceed [`MAX_INPUT_LEN`]. On error the buffer is unchanged.
    pub fn push(&mut self, input: &str, rules: &DialRules) -> Result<DialStatus, DialError> {
        if input.len() > MAX_INPUT_LEN {
            return Err(DialError::TooLong);
        }
        let line = first_line(input);
        let split = line.find(['|', '^']).unwrap_or(line.len());
        let (number_part, own_tail) = line.split_at_checked(split).unwrap_or((line, ""));
        let tail = if own_tail.is_empty() {
            self.tail.as_str()
        } else {
            own_tail
        };
        let head_len = self.pending.len() + number_part.len();
        if head_len + tail.len() > MAX_INPUT_LEN {
            return Err(DialError::TooLong);
        }
        let mut candidate = String::with_capacity(head_len + tail.len());
        candidate.push_str(&self.pending);
        candidate.push_str(number_part);
        candidate.push_str(tail);
        match normalise(&candidate, rules) {
            Err(e) => Err(e.shift_back(self.pending.len())),
            Ok(d) if d.partial => {
                let head = candidate.get(..head_len).unwrap_or_default().trim_end();
                let head = head.strip_suffix(';').unwrap_or(head);
                let tail = String::from(tail);
                self.pending = String::from(head);
                self.tail = tail;
                Ok(DialStatus::Partial)
            }
            Ok(d) => {
                self.clear();
                Ok(DialStatus::Complete(d))
            }
        }
    }

    /// The accumulated number text (without `;`), e.g. for `LINECALLINFO`'s dialled number.
    #[must_use]
    pub fn pending(&self) -> &str {
        &self.pending
    }

    /// Whether nothing is accumulated.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty() && self.tail.is_empty()
    }

    /// Forget everything accumulated (the call was dropped).
    pub fn clear(&mut self) {
        self.pending.clear();
        self.tail.clear();
    }
}

// ---------------------------------------------------------------------------------------
// Parser internals.

/// What went wrong, carried through nom to [`to_dial_error`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Syntax,
    Prompt,
    Canonical,
    Uri,
    Switching,
}

/// nom error: the unparsed rest (a suffix of the first line) and the fault.
#[derive(Debug)]
struct PErr<'a> {
    rest: &'a str,
    fault: Fault,
}

impl<'a> ParseError<&'a str> for PErr<'a> {
    fn from_error_kind(rest: &'a str, _kind: ErrorKind) -> Self {
        Self {
            rest,
            fault: Fault::Syntax,
        }
    }

    fn append(_input: &'a str, _kind: ErrorKind, other: Self) -> Self {
        other
    }
}

type PRes<'a, O> = IResult<&'a str, O, PErr<'a>>;

/// A committed (non-backtracking) failure at `rest`.
fn fail<'a, O>(rest: &'a str, fault: Fault) -> PRes<'a, O> {
    Err(nom::Err::Failure(PErr { rest, fault }))
}

fn to_dial_error(line: &str, e: &nom::Err<PErr<'_>>) -> DialError {
    let (rest, fault) = match e {
        nom::Err::Error(p) | nom::Err::Failure(p) => (p.rest, p.fault),
        nom::Err::Incomplete(_) => ("", Fault::Syntax),
    };
    let at = line.len().saturating_sub(rest.len());
    match fault {
        Fault::Syntax => DialError::InvalidCharacter { at },
        Fault::Prompt => DialError::PromptNotSupported { at },
        Fault::Canonical => DialError::BadCanonical { at },
        Fault::Uri => DialError::BadUri { at },
        Fault::Switching => DialError::BadSwitchingNumber { at },
    }
}

/// The first address: everything before the first CR or LF.
fn first_line(input: &str) -> &str {
    match take_till::<_, _, PErr<'_>>(|c| c == '\r' || c == '\n').parse(input) {
        Ok((_, line)) => line,
        Err(_) => input,
    }
}

fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{a0}')
}

fn is_mode_or_ws(c: char) -> bool {
    matches!(c, 'T' | 't' | 'P' | 'p') || is_ws(c)
}

fn ws0(i: &str) -> PRes<'_, &str> {
    take_while(is_ws).parse(i)
}

/// One character of a number field.
#[derive(Debug, Clone, Copy)]
enum Tok {
    /// `0-9 * # A-D`, upper-cased.
    Digit(char),
    /// Formatting, tone/pulse selection, hookflash: no effect on what CSTA dials.
    Ignored,
    /// `,` `W` `@` `$`: the rest is post-dial (or an access-code wait).
    Pause,
}

fn token(i: &str) -> PRes<'_, Tok> {
    alt((
        map(one_of("0123456789*#ABCDabcd"), |c: char| {
            Tok::Digit(c.to_ascii_uppercase())
        }),
        value(Tok::Ignored, one_of(" \t\u{a0}()-./TtPp!")),
        value(Tok::Pause, one_of(",Ww@$")),
    ))
    .parse(i)
}

/// The digits of a number field, folded token by token.
#[derive(Debug)]
struct Digits<'r> {
    main: String,
    post: String,
    in_post: bool,
    /// The application dialled an access code followed by a wait.
    access: bool,
    /// Directly after an access-code wait (further pauses are dropped too).
    after_access: bool,
    access_allowed: bool,
    outside_line: Option<&'r str>,
}

impl<'r> Digits<'r> {
    fn new(access_allowed: bool, outside_line: Option<&'r str>) -> Self {
        Self {
            main: String::new(),
            post: String::new(),
            in_post: false,
            access: false,
            after_access: false,
            access_allowed,
            outside_line,
        }
    }

    fn push(mut self, tok: Tok) -> Self {
        match tok {
            Tok::Ignored => {}
            Tok::Digit(c) => {
                self.after_access = false;
                if self.in_post {
                    self.post.push(c);
                } else {
                    self.main.push(c);
                }
            }
            Tok::Pause => {
                if self.in_post || self.main.is_empty() || self.after_access {
                    // Inside post-dial, before any digit, or right after an access code.
                } else if self.access_allowed && !self.access && self.is_access_code() {
                    self.access = true;
                    self.after_access = true;
                } else {
                    self.in_post = true;
                }
            }
        }
        self
    }

    fn is_access_code(&self) -> bool {
        let single = self.main.len() == 1 && self.main.bytes().all(|b| b.is_ascii_digit());
        single || self.outside_line.is_some_and(|o| o == self.main)
    }
}

/// `number-field`: the digits, and whether it ended with `;`.
fn number_field<'a>(
    i: &'a str,
    access_allowed: bool,
    outside_line: Option<&'a str>,
) -> PRes<'a, (Digits<'a>, bool)> {
    let (i, digits) = fold_many0(
        token,
        move || Digits::new(access_allowed, outside_line),
        Digits::push,
    )
    .parse(i)?;
    let semicolon = i;
    let (i, partial) = opt((char(';'), ws0)).parse(i)?;
    let partial = partial.is_some();
    match i.chars().next() {
        None | Some('|' | '^') => Ok((i, (digits, partial))),
        Some(_) if partial => fail(semicolon, Fault::Syntax),
        Some('?') => fail(i, Fault::Prompt),
        Some(_) => fail(i, Fault::Syntax),
    }
}

/// `suffix`: optional `|subaddress` and `^name`, both trimmed, empty ones dropped.
fn suffix(i: &str) -> PRes<'_, (Option<&str>, Option<&str>)> {
    let (i, sub) = opt(preceded(
        char('|'),
        take_till(|c: char| c == '^' || c.is_control()),
    ))
    .parse(i)?;
    if i.chars().next().is_some_and(|c| c != '^') {
        return fail(i, Fault::Syntax);
    }
    let (i, name) = opt(preceded(char('^'), take_while(|c: char| !c.is_control()))).parse(i)?;
    if !i.is_empty() {
        return fail(i, Fault::Syntax);
    }
    Ok((i, (non_blank(sub), non_blank(name))))
}

fn non_blank(s: Option<&str>) -> Option<&str> {
    s.map(str::trim).filter(|s| !s.is_empty())
}

/// What the first address turned out to be.
#[derive(Debug)]
enum Body<'a> {
    Verbatim(AddressForm, &'a str),
    Canonical {
        cc: &'a str,
        area: Option<&'a str>,
        digits: Digits<'a>,
        partial: bool,
    },
    Dialable {
        plus: bool,
        digits: Digits<'a>,
        partial: bool,
    },
}

#[derive(Debug)]
struct Parsed<'a> {
    body: Body<'a>,
    subaddress: Option<&'a str>,
    name: Option<&'a str>,
}

fn address<'a>(line: &'a str, outside_line: Option<&'a str>) -> PRes<'a, Parsed<'a>> {
    let (i, _) = ws0(line)?;
    let (i, body) = alt((uri, switching, canonical, move |i| {
        dialable(i, outside_line)
    }))
    .parse(i)?;
    let (i, (subaddress, name)) = match body {
        Body::Verbatim(..) => (i, (None, None)),
        _ => suffix(i)?,
    };
    Ok((
        i,
        Parsed {
            body,
            subaddress,
            name,
        },
    ))
}

/// `uri`: passed through unchanged (surrounding whitespace trimmed).
fn uri(i: &str) -> PRes<'_, Body<'_>> {
    let (after_scheme, _) = alt((
        tag_no_case("sips:"),
        tag_no_case("sip:"),
        tag_no_case("tel:"),
    ))
    .parse(i)?;
    let (r, body) =
        take_while(|c: char| !c.is_whitespace() && !c.is_control()).parse(after_scheme)?;
    if body.is_empty() {
        return fail(after_scheme, Fault::Uri);
    }
    let (end, _) = take_while(char::is_whitespace).parse(r)?;
    if !end.is_empty() {
        return fail(r, Fault::Syntax);
    }
    let text = i.get(..i.len() - r.len()).unwrap_or(i);
    Ok((end, Body::Verbatim(AddressForm::Uri, text)))
}

/// `switching`: `N<…>` plus any suffix, passed through unchanged.
fn switching(i: &str) -> PRes<'_, Body<'_>> {
    let (inner, _) = tag("N<").parse(i)?;
    let (r, content) = take_till(|c: char| c == '>' || c.is_control()).parse(inner)?;
    if content.trim().is_empty() {
        return fail(inner, Fault::Switching);
    }
    let Ok((r, _)) = char::<_, PErr<'_>>('>').parse(r) else {
        return fail(r, Fault::Switching);
    };
    let (r, _) = take_while(|c: char| !c.is_control()).parse(r)?;
    let (end, _) = ws0(r)?;
    if !end.is_empty() {
        return fail(end, Fault::Syntax);
    }
    let text = i.get(..i.len() - r.len()).unwrap_or(i).trim_end();
    Ok((end, Body::Verbatim(AddressForm::SwitchingFunction, text)))
}

/// `canonical`: backtracks until `+CC ` is seen, then commits.
fn canonical(i: &str) -> PRes<'_, Body<'_>> {
    let (i, _) = take_while(is_mode_or_ws).parse(i)?;
    let (i, _) = char('+').parse(i)?;
    let (i, cc) = take_while_m_n(1, 3, |c: char| c.is_ascii_digit()).parse(i)?;
    let (i, _) = take_while1(is_ws).parse(i)?;
    let (i, area) = area_code(i)?;
    let (i, (digits, partial)) = number_field(i, false, None)?;
    if digits.main.is_empty() && !partial {
        return fail(i, Fault::Canonical);
    }
    Ok((
        i,
        Body::Canonical {
            cc,
            area,
            digits,
            partial,
        },
    ))
}

/// `[ "(" *DIGIT ")" *WS ]`; an all-zero area code (`(0)`) counts as none.
fn area_code(i: &str) -> PRes<'_, Option<&str>> {
    let Ok((r, _)) = char::<_, PErr<'_>>('(').parse(i) else {
        return Ok((i, None));
    };
    let (r, area) = take_while(|c: char| c.is_ascii_digit()).parse(r)?;
    let Ok((r, _)) = char::<_, PErr<'_>>(')').parse(r) else {
        return fail(r, Fault::Canonical);
    };
    let (r, _) = ws0(r)?;
    let area = Some(area).filter(|a| !a.bytes().all(|b| b == b'0'));
    Ok((r, area))
}

fn dialable<'a>(i: &'a str, outside_line: Option<&'a str>) -> PRes<'a, Body<'a>> {
    let (i, _) = take_while(is_mode_or_ws).parse(i)?;
    let (i, plus) = opt(char('+')).parse(i)?;
    let plus = plus.is_some();
    let (i, (digits, partial)) = number_field(i, !plus, outside_line)?;
    Ok((
        i,
        Body::Dialable {
            plus,
            digits,
            partial,
        },
    ))
}

// ---------------------------------------------------------------------------------------
// Rules.

/// [`DialRules`] with empty optional strings read as unset.
struct Plan<'r> {
    country_code: Option<&'r str>,
    area_code: Option<&'r str>,
    international_prefix: &'r str,
    national_prefix: &'r str,
    outside_line: Option<&'r str>,
    keep_e164: bool,
    internal_max_len: usize,
}

impl<'r> Plan<'r> {
    fn new(rules: &'r DialRules) -> Self {
        let set = |s: &'r Option<String>| s.as_deref().filter(|s| !s.is_empty());
        Self {
            country_code: set(&rules.country_code),
            area_code: set(&rules.area_code),
            international_prefix: &rules.international_prefix,
            national_prefix: &rules.national_prefix,
            outside_line: set(&rules.outside_line),
            keep_e164: rules.keep_e164,
            internal_max_len: rules.internal_max_len,
        }
    }

    /// `outside_line` (if any) followed by `parts`.
    fn external(&self, parts: &[&str]) -> String {
        let mut s = String::from(self.outside_line.unwrap_or(""));
        parts.iter().for_each(|p| s.push_str(p));
        s
    }
}

fn concat(parts: &[&str]) -> String {
    parts.iter().fold(String::new(), |mut s, p| {
        s.push_str(p);
        s
    })
}

fn build(parsed: Parsed<'_>, plan: &Plan<'_>) -> Result<Dialable, DialError> {
    let owned = |s: Option<&str>| s.map(String::from);
    let (number, post, partial, form) = match parsed.body {
        Body::Verbatim(form, text) => (String::from(text), String::new(), false, form),
        Body::Canonical {
            cc,
            area,
            digits,
            partial,
        } => {
            let a = area.unwrap_or("");
            let main = digits.main.as_str();
            let number = if partial || plan.keep_e164 {
                concat(&["+", cc, a, main])
            } else if plan.country_code == Some(cc) {
                if area.is_some() && area == plan.area_code {
                    plan.external(&[main])
                } else {
                    plan.external(&[plan.national_prefix, a, main])
                }
            } else {
                plan.external(&[plan.international_prefix, cc, a, main])
            };
            (number, digits.post, partial, AddressForm::Canonical)
        }
        Body::Dialable {
            plus: true,
            digits,
            partial,
        } => {
            let main = digits.main.as_str();
            if main.is_empty() && !partial {
                return Err(DialError::Empty);
            }
            let number = if partial || plan.keep_e164 {
                concat(&["+", main])
            } else {
                match plan.country_code.and_then(|cc| main.strip_prefix(cc)) {
                    Some(national) if !national.is_empty() => {
                        plan.external(&[plan.national_prefix, national])
                    }
                    _ => plan.external(&[plan.international_prefix, main]),
                }
            };
            (number, digits.post, partial, AddressForm::Dialable)
        }
        Body::Dialable {
            plus: false,
            digits,
            partial,
        } => {
            let main = digits.main.as_str();
            if main.is_empty() && !partial {
                return Err(DialError::Empty);
            }
            let internal = main.len() <= plan.internal_max_len;
            let feature = main.starts_with(['*', '#']);
            let number = if partial || internal || feature || digits.access {
                String::from(main)
            } else {
                plan.external(&[main])
            };
            (number, digits.post, partial, AddressForm::Dialable)
        }
    };
    Ok(Dialable {
        number,
        post_dial: Some(post).filter(|p| !p.is_empty()),
        subaddress: owned(parsed.subaddress),
        name: owned(parsed.name),
        partial,
        form,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::{format, vec, vec::Vec};

    // --- expected values ---------------------------------------------------------------

    fn expect(form: AddressForm, number: &str) -> Dialable {
        Dialable {
            number: String::from(number),
            post_dial: None,
            subaddress: None,
            name: None,
            partial: false,
            form,
        }
    }
    fn can(number: &str) -> Dialable {
        expect(AddressForm::Canonical, number)
    }
    fn dial(number: &str) -> Dialable {
        expect(AddressForm::Dialable, number)
    }
    fn uri(number: &str) -> Dialable {
        expect(AddressForm::Uri, number)
    }
    fn sw(number: &str) -> Dialable {
        expect(AddressForm::SwitchingFunction, number)
    }

    trait With {
        fn with_post(self, p: &str) -> Self;
        fn with_sub(self, s: &str) -> Self;
        fn with_name(self, n: &str) -> Self;
        fn partially(self) -> Self;
    }
    impl With for Dialable {
        fn with_post(mut self, p: &str) -> Self {
            self.post_dial = Some(String::from(p));
            self
        }
        fn with_sub(mut self, s: &str) -> Self {
            self.subaddress = Some(String::from(s));
            self
        }
        fn with_name(mut self, n: &str) -> Self {
            self.name = Some(String::from(n));
            self
        }
        fn partially(mut self) -> Self {
            self.partial = true;
            self
        }
    }

    // --- rule sets -----------------------------------------------------------------------

    /// Default: keep E.164, no local rules.
    fn e164() -> DialRules {
        DialRules::default()
    }
    /// Munich, no PBX access code, E.164 converted.
    fn de() -> DialRules {
        DialRules {
            country_code: Some("49".into()),
            area_code: Some("89".into()),
            keep_e164: false,
            ..DialRules::default()
        }
    }
    /// Munich behind a PBX: outside line 0, extensions up to 4 digits.
    fn de_pbx() -> DialRules {
        DialRules {
            outside_line: Some("0".into()),
            internal_max_len: 4,
            ..de()
        }
    }
    /// Redmond behind a PBX: outside line 9, NANP prefixes.
    fn us_pbx() -> DialRules {
        DialRules {
            country_code: Some("1".into()),
            area_code: Some("425".into()),
            international_prefix: "011".into(),
            national_prefix: "1".into(),
            outside_line: Some("9".into()),
            keep_e164: false,
            internal_max_len: 4,
        }
    }
    /// E.164 kept, but a PBX access code for everything else.
    fn e164_pbx() -> DialRules {
        DialRules {
            outside_line: Some("0".into()),
            internal_max_len: 4,
            ..DialRules::default()
        }
    }
    /// Configuration with empty strings where `None` was meant.
    fn blank() -> DialRules {
        DialRules {
            country_code: Some(String::new()),
            area_code: Some(String::new()),
            outside_line: Some(String::new()),
            keep_e164: false,
            ..DialRules::default()
        }
    }

    fn all_rules() -> [DialRules; 6] {
        [e164(), de(), de_pbx(), us_pbx(), e164_pbx(), blank()]
    }

    // --- the table -------------------------------------------------------------------------

    #[test]
    fn test_normalise_table() {
        use DialError::*;
        let long = "1".repeat(MAX_INPUT_LEN + 1);
        let max = "1".repeat(MAX_INPUT_LEN);
        let cases: Vec<(&str, DialRules, Result<Dialable, DialError>)> = vec![
            // Canonical, E.164 kept.
            ("+49 (89) 1234-567", e164(), Ok(can("+49891234567"))),
            ("+1 5551234", e164(), Ok(can("+15551234"))),
            ("+1 (425) 555-0100", e164(), Ok(can("+14255550100"))),
            ("+49 (0)89 1234", e164(), Ok(can("+49891234"))),
            ("+49 () 89 1234", e164(), Ok(can("+49891234"))),
            ("+49  (89)1234", e164(), Ok(can("+49891234"))),
            ("+49 89 1234", e164(), Ok(can("+49891234"))),
            ("T+49 (89) 1234", e164(), Ok(can("+49891234"))),
            ("  t +49 (89) 1234  ", e164(), Ok(can("+49891234"))),
            ("+4989 1234", e164(), Ok(dial("+49891234"))),
            ("+49(89)1234", e164(), Ok(dial("+49891234"))),
            // Dialable: every character class.
            ("0123456789*#ABCD", e164(), Ok(dial("0123456789*#ABCD"))),
            ("abcd", e164(), Ok(dial("ABCD"))),
            ("T0049891234", e164(), Ok(dial("0049891234"))),
            ("t089/1234-56", e164(), Ok(dial("089123456"))),
            ("P123T456p7t8", e164(), Ok(dial("12345678"))),
            ("123!456", e164(), Ok(dial("123456"))),
            ("(089) 123.45-6 / 7", e164(), Ok(dial("0891234567"))),
            ("  1 2\t3\u{a0}4  ", e164(), Ok(dial("1234"))),
            ("+49891234", e164(), Ok(dial("+49891234"))),
            ("T+49 89-1234", e164(), Ok(can("+49891234"))),
            // Post-dial DTMF.
            (
                "5551234,,1234#",
                e164(),
                Ok(dial("5551234").with_post("1234#")),
            ),
            (
                "5551234W1234",
                e164(),
                Ok(dial("5551234").with_post("1234")),
            ),
            ("5551234w12", e164(), Ok(dial("5551234").with_post("12"))),
            ("5551234@99", e164(), Ok(dial("5551234").with_post("99"))),
            (
                "5551234$4711",
                e164(),
                Ok(dial("5551234").with_post("4711")),
            ),
            (
                "5551234,1-2,3 W4!",
                e164(),
                Ok(dial("5551234").with_post("1234")),
            ),
            ("5551234,", e164(), Ok(dial("5551234"))),
            (",W5551234", e164(), Ok(dial("5551234"))),
            (
                "+1 (425) 555-0100,,123",
                e164(),
                Ok(can("+14255550100").with_post("123")),
            ),
            // Access-code wait: the application dialled the access code itself.
            ("0,0891234", e164(), Ok(dial("00891234"))),
            ("9W,5550100", e164(), Ok(dial("95550100"))),
            ("55,123", e164(), Ok(dial("55").with_post("123"))),
            ("+4,123", e164(), Ok(dial("+4").with_post("123"))),
            // Partial dialing.
            ("123;", e164(), Ok(dial("123").partially())),
            ("123 ; ", e164(), Ok(dial("123").partially())),
            (";", e164(), Ok(dial("").partially())),
            ("+49 (89) 12;", de_pbx(), Ok(can("+498912").partially())),
            ("0891;", de_pbx(), Ok(dial("0891").partially())),
            (
                "12;|45^Bob",
                e164(),
                Ok(dial("12").partially().with_sub("45").with_name("Bob")),
            ),
            // Subaddress and name.
            ("123|4567", e164(), Ok(dial("123").with_sub("4567"))),
            (
                "123^Alice Smith",
                e164(),
                Ok(dial("123").with_name("Alice Smith")),
            ),
            (
                "123 | 45 ^ Bob ",
                e164(),
                Ok(dial("123").with_sub("45").with_name("Bob")),
            ),
            ("123|^Bob", e164(), Ok(dial("123").with_name("Bob"))),
            ("123^Bob|x", e164(), Ok(dial("123").with_name("Bob|x"))),
            (
                "+49 (89) 1234|99^Müller",
                e164(),
                Ok(can("+49891234").with_sub("99").with_name("Müller")),
            ),
            // Multiple addresses: the first one counts.
            (
                "+49 (89) 1234\r\n+1 (425) 5550100",
                e164(),
                Ok(can("+49891234")),
            ),
            ("1234\r\nnot an address", e164(), Ok(dial("1234"))),
            ("1234\n5678", e164(), Ok(dial("1234"))),
            // URIs and switching-function numbers pass through.
            (
                "sip:bob@example.com",
                de_pbx(),
                Ok(uri("sip:bob@example.com")),
            ),
            (
                "SIPS:Bob@Example.com;transport=tls",
                de_pbx(),
                Ok(uri("SIPS:Bob@Example.com;transport=tls")),
            ),
            (
                "tel:+4989123;phone-context=example.com",
                de(),
                Ok(uri("tel:+4989123;phone-context=example.com")),
            ),
            (
                "  sip:bob@example.com  \r\nsip:x",
                e164(),
                Ok(uri("sip:bob@example.com")),
            ),
            ("N<+49 89 1234>", de_pbx(), Ok(sw("N<+49 89 1234>"))),
            (
                "N<+49 89 1234>;noa=international ",
                de_pbx(),
                Ok(sw("N<+49 89 1234>;noa=international")),
            ),
            // Rules: local, national, international.
            ("+49 (89) 1234", de(), Ok(can("1234"))),
            ("+49 (30) 1234", de(), Ok(can("0301234"))),
            ("+49 1801234", de(), Ok(can("01801234"))),
            ("+49 (0)89 1234", de(), Ok(can("0891234"))),
            ("+43 (1) 1234", de(), Ok(can("004311234"))),
            ("+49891234", de(), Ok(dial("0891234"))),
            ("+431234", de(), Ok(dial("00431234"))),
            ("0891234", de(), Ok(dial("0891234"))),
            ("+49 (89) 1234", blank(), Ok(can("0049891234"))),
            ("+49891234", blank(), Ok(dial("0049891234"))),
            // Rules: outside line and internal numbers.
            ("+49 (89) 1234", de_pbx(), Ok(can("01234"))),
            ("+49 (30) 1234", de_pbx(), Ok(can("00301234"))),
            ("+43 (1) 1234", de_pbx(), Ok(can("0004311234"))),
            ("+49891234", de_pbx(), Ok(dial("00891234"))),
            ("1234", de_pbx(), Ok(dial("1234"))),
            ("112", de_pbx(), Ok(dial("112"))),
            ("12345", de_pbx(), Ok(dial("012345"))),
            ("0891234", de_pbx(), Ok(dial("00891234"))),
            ("T0049891234", de_pbx(), Ok(dial("00049891234"))),
            ("*21#", de_pbx(), Ok(dial("*21#"))),
            ("#31#0891234", de_pbx(), Ok(dial("#31#0891234"))),
            ("0,0891234", de_pbx(), Ok(dial("00891234"))),
            ("0W0891234", de_pbx(), Ok(dial("00891234"))),
            ("8,0891234", de_pbx(), Ok(dial("80891234"))),
            (
                "T0891234,,,99",
                de_pbx(),
                Ok(dial("00891234").with_post("99")),
            ),
            ("+1 (425) 555-0100", us_pbx(), Ok(can("95550100"))),
            ("+1 (206) 555-0100", us_pbx(), Ok(can("912065550100"))),
            ("+44 (20) 7946 0000", us_pbx(), Ok(can("9011442079460000"))),
            ("9,5550100", us_pbx(), Ok(dial("95550100"))),
            ("+49 (89) 1234", e164_pbx(), Ok(can("+49891234"))),
            ("0891234", e164_pbx(), Ok(dial("00891234"))),
            ("1234", e164_pbx(), Ok(dial("1234"))),
            (max.as_str(), e164(), Ok(dial(&max))),
            // Errors.
            ("", e164(), Err(Empty)),
            ("   ", e164(), Err(Empty)),
            ("T", e164(), Err(Empty)),
            ("-().", e164(), Err(Empty)),
            (",,,", e164(), Err(Empty)),
            ("^Bob", e164(), Err(Empty)),
            ("+", e164(), Err(Empty)),
            ("\r\n1234", e164(), Err(Empty)),
            (long.as_str(), e164(), Err(TooLong)),
            ("12x4", e164(), Err(InvalidCharacter { at: 2 })),
            ("Ä123", e164(), Err(InvalidCharacter { at: 0 })),
            ("12\u{0}3", e164(), Err(InvalidCharacter { at: 2 })),
            ("12;34", e164(), Err(InvalidCharacter { at: 2 })),
            ("12+34", e164(), Err(InvalidCharacter { at: 2 })),
            ("123|4\u{1}5", e164(), Err(InvalidCharacter { at: 5 })),
            ("123^Bo\u{7f}b", e164(), Err(InvalidCharacter { at: 6 })),
            (
                "sip:bob @example.com",
                e164(),
                Err(InvalidCharacter { at: 7 }),
            ),
            ("N<1>\tx", e164(), Err(InvalidCharacter { at: 5 })),
            ("12?34", e164(), Err(PromptNotSupported { at: 2 })),
            ("+49 (89) 12?3", e164(), Err(PromptNotSupported { at: 11 })),
            ("+49 (89 1234", e164(), Err(BadCanonical { at: 7 })),
            ("+49 (8a) 1", e164(), Err(BadCanonical { at: 6 })),
            ("+49 (89) ", e164(), Err(BadCanonical { at: 9 })),
            ("+49 ", e164(), Err(BadCanonical { at: 4 })),
            ("+49 (89) x", e164(), Err(InvalidCharacter { at: 9 })),
            ("sip:", e164(), Err(BadUri { at: 4 })),
            ("tel: +49", e164(), Err(BadUri { at: 4 })),
            ("N<+49 89", e164(), Err(BadSwitchingNumber { at: 8 })),
            ("N<>", e164(), Err(BadSwitchingNumber { at: 2 })),
            ("N1234", e164(), Err(InvalidCharacter { at: 0 })),
        ];
        assert!(cases.len() >= 40);
        for (n, (input, rules, want)) in cases.iter().enumerate() {
            let got = normalise(input, rules);
            assert_eq!(&got, want, "case {n}: {input:?}");
        }
    }

    #[test]
    fn test_is_canonical() {
        let cases = [
            ("+49 (89) 1234-567", true),
            ("+1 5551234", true),
            ("+49 (0)89 1234", true),
            ("+49 (89) 1234|1^Name\r\nrest", true),
            ("+49891234", false),
            ("+4989 1234", false),
            ("T+49 (89) 1234", false),
            (" +49 (89) 1234", false),
            ("+49 (89 1234", false),
            ("+49 ", false),
            ("0891234", false),
            ("sip:+49891234@example.com", false),
            ("", false),
        ];
        for (input, want) in cases {
            assert_eq!(is_canonical(input), want, "{input:?}");
        }
        let long = format!("+49 (89) {}", "1".repeat(MAX_INPUT_LEN));
        assert!(!is_canonical(&long));
    }

    // --- partial dialing -----------------------------------------------------------------

    fn complete(status: Result<DialStatus, DialError>) -> Dialable {
        match status {
            Ok(DialStatus::Complete(d)) => d,
            other => panic!("expected a complete address, got {other:?}"),
        }
    }

    #[test]
    fn test_buffer_two_pieces() {
        let rules = de_pbx();
        let mut buf = DialBuffer::new();
        assert_eq!(buf.push("T0891;", &rules), Ok(DialStatus::Partial));
        assert_eq!(buf.pending(), "T0891");
        assert_eq!(complete(buf.push("234", &rules)), dial("00891234"));
        assert!(buf.is_empty());
    }

    #[test]
    fn test_buffer_three_pieces_canonical_split() {
        let rules = de();
        let mut buf = DialBuffer::default();
        assert_eq!(buf.push("+49 (89) ;", &rules), Ok(DialStatus::Partial));
        assert_eq!(buf.push("12 ;", &rules), Ok(DialStatus::Partial));
        assert_eq!(
            complete(buf.push("34,,99", &rules)),
            can("1234").with_post("99")
        );
        assert!(buf.is_empty());
    }

    #[test]
    fn test_buffer_split_inside_country_code() {
        let mut buf = DialBuffer::new();
        assert_eq!(buf.push("+4;", &e164()), Ok(DialStatus::Partial));
        assert_eq!(complete(buf.push("9 (89) 1234", &e164())), can("+49891234"));
    }

    #[test]
    fn test_buffer_keeps_subaddress_and_name() {
        let mut buf = DialBuffer::new();
        assert_eq!(buf.push("12;|45^Bob", &e164()), Ok(DialStatus::Partial));
        assert_eq!(buf.push("3;", &e164()), Ok(DialStatus::Partial));
        assert_eq!(
            complete(buf.push("4", &e164())),
            dial("1234").with_sub("45").with_name("Bob")
        );
        // A later piece's own suffix wins.
        assert_eq!(buf.push("12;^Bob", &e164()), Ok(DialStatus::Partial));
        assert_eq!(
            complete(buf.push("3^Eve", &e164())),
            dial("123").with_name("Eve")
        );
    }

    #[test]
    fn test_buffer_error_leaves_state() {
        let mut buf = DialBuffer::new();
        assert_eq!(buf.push("12;", &e164()), Ok(DialStatus::Partial));
        assert_eq!(
            buf.push("3x", &e164()),
            Err(DialError::InvalidCharacter { at: 1 })
        );
        assert_eq!(
            buf.push("3?", &e164()),
            Err(DialError::PromptNotSupported { at: 1 })
        );
        assert_eq!(buf.pending(), "12");
        assert_eq!(complete(buf.push("3", &e164())), dial("123"));
    }

    #[test]
    fn test_buffer_length_cap() {
        let mut buf = DialBuffer::new();
        let first = format!("{};", "1".repeat(100));
        assert_eq!(buf.push(&first, &e164()), Ok(DialStatus::Partial));
        assert_eq!(buf.push(&"2".repeat(40), &e164()), Err(DialError::TooLong));
        assert_eq!(
            buf.push(&"2".repeat(MAX_INPUT_LEN + 1), &e164()),
            Err(DialError::TooLong)
        );
        assert_eq!(buf.pending().len(), 100);
        assert_eq!(complete(buf.push("2", &e164())).number.len(), 101);
    }

    #[test]
    fn test_buffer_single_and_uri_and_clear() {
        let mut buf = DialBuffer::new();
        assert_eq!(complete(buf.push("1234", &de_pbx())), dial("1234"));
        assert_eq!(
            complete(buf.push("sip:bob@example.com", &de_pbx())),
            uri("sip:bob@example.com")
        );
        assert_eq!(buf.push("5;|7", &e164()), Ok(DialStatus::Partial));
        assert!(!buf.is_empty());
        buf.clear();
        assert!(buf.is_empty());
        assert_eq!(buf.push("", &e164()), Err(DialError::Empty));
    }

    // --- errors ----------------------------------------------------------------------------

    #[test]
    fn test_error_codes_and_display() {
        use DialError::*;
        let all = [
            Empty,
            TooLong,
            InvalidCharacter { at: 1 },
            PromptNotSupported { at: 2 },
            BadCanonical { at: 3 },
            BadUri { at: 4 },
            BadSwitchingNumber { at: 5 },
        ];
        for e in all {
            assert!(!format!("{e}").is_empty());
            let want = if matches!(e, PromptNotSupported { .. }) {
                0x8000_000A
            } else {
                0x8000_0010
            };
            assert_eq!(e.lineerr().to_ne_bytes(), u32::to_ne_bytes(want));
            assert!(e.lineerr() < 0);
            let _: &dyn core::error::Error = &e;
        }
        assert_eq!(InvalidCharacter { at: 7 }.at(), Some(7));
        assert_eq!(TooLong.at(), None);
        assert_eq!(BadUri { at: 3 }.shift_back(5), BadUri { at: 0 });
    }

    // --- property-style tests --------------------------------------------------------------

    const FRAGMENTS: &[&str] = &[
        "0", "1", "4", "9", "*", "#", "A", "d", "+", "(", ")", " ", "-", ".", "/", "T", "t", "P",
        "p", "!", ",", "W", "w", "@", "$", ";", "|", "^", "?", "\r", "\n", "\r\n", "N<", ">",
        "sip:", "tel:", "x", "é", "€", "\u{0}", "\t", "\u{a0}", "+49 ", "(89) ", "(0)", "😀",
    ];

    /// xorshift64*: deterministic, no dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % u64::try_from(n).unwrap_or(1)).unwrap_or(0)
        }
        fn string(&mut self) -> String {
            let len = self.below(48);
            (0..len)
                .map(|_| FRAGMENTS[self.below(FRAGMENTS.len())])
                .collect()
        }
    }

    fn check_invariants(input: &str, rules: &DialRules) {
        let result = normalise(input, rules);
        match &result {
            Err(e) => {
                if let Some(at) = e.at() {
                    assert!(
                        at <= input.len() && input.is_char_boundary(at),
                        "{input:?}: {e:?}"
                    );
                }
            }
            Ok(d) => match d.form {
                AddressForm::Uri | AddressForm::SwitchingFunction => {
                    assert!(!d.number.is_empty() && !d.number.contains(char::is_control));
                    assert!(d.post_dial.is_none() && !d.partial, "{input:?}");
                }
                AddressForm::Canonical | AddressForm::Dialable => {
                    let digits = d.number.strip_prefix('+').unwrap_or(&d.number);
                    let ok = |s: &str| s.chars().all(|c| "0123456789*#ABCD".contains(c));
                    assert!(ok(digits), "{input:?} -> {d:?}");
                    assert!(d.partial || !d.number.is_empty(), "{input:?} -> {d:?}");
                    assert!(
                        d.post_dial
                            .as_deref()
                            .is_none_or(|p| !p.is_empty() && ok(p))
                    );
                    for s in [&d.subaddress, &d.name].into_iter().flatten() {
                        assert!(!s.is_empty() && !s.contains(char::is_control), "{input:?}");
                    }
                    // Cleaning is idempotent.
                    if !d.partial && rules == &DialRules::default() {
                        let again = normalise(&d.number, rules).map(|d| d.number);
                        assert_eq!(again.as_deref(), Ok(d.number.as_str()), "{input:?}");
                    }
                }
            },
        }
        if is_canonical(input) {
            assert!(matches!(
                result,
                Ok(Dialable {
                    form: AddressForm::Canonical,
                    ..
                })
            ));
        }
    }

    #[test]
    fn test_never_panics_on_generated_strings() {
        let rules = all_rules();
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for _ in 0..20_000 {
            let s = rng.string();
            for r in &rules {
                check_invariants(&s, r);
            }
        }
    }

    #[test]
    fn test_never_panics_on_all_short_strings() {
        let alphabet: Vec<char> = "0+ (),;|^?T\r\nN<>s:é\u{0}".chars().collect();
        let rules = [e164(), de_pbx()];
        let mut s = String::new();
        for a in &alphabet {
            for b in &alphabet {
                for c in &alphabet {
                    s.clear();
                    s.extend([*a, *b, *c]);
                    for r in &rules {
                        for end in [1, 2, 3] {
                            let cut: String = s.chars().take(end).collect();
                            check_invariants(&cut, r);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn test_buffer_never_panics() {
        let rules = all_rules();
        let mut rng = Rng(0x0123_4567_89AB_CDEF);
        for r in &rules {
            let mut buf = DialBuffer::new();
            for _ in 0..5_000 {
                let piece = rng.string();
                let before = String::from(buf.pending());
                match buf.push(&piece, r) {
                    Ok(DialStatus::Partial) => {}
                    Ok(DialStatus::Complete(_)) => assert!(buf.is_empty()),
                    Err(e) => {
                        assert_eq!(buf.pending(), before, "error must not change the buffer");
                        if let Some(at) = e.at() {
                            assert!(at <= piece.len(), "{piece:?}: {e:?}");
                        }
                    }
                }
                assert!(buf.pending().len() <= MAX_INPUT_LEN);
            }
        }
    }
}
