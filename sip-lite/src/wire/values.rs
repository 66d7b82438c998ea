//! Typed views of single-valued headers: CSeq, Call-ID, Max-Forwards, Expires,
//! Content-Type, Content-Disposition, Event, Subscription-State, Session-Expires, Min-SE,
//! Retry-After and Date.

use super::lex::{self, Scanner};
use super::sink::{Emit, Sink, display_via_emit};
use super::start::Method;
use super::uri::{Params, scan_header_params};
use crate::error::{EmitError, ValueError};

/// Parses `delta-seconds = 1*DIGIT` up to 2^32-1 with optional surrounding white space
/// (Expires, Min-Expires, Max-Forwards, Content-Length, RSeq).
///
/// # Errors
/// [`ValueError::Number`] for anything else, including values above 2^32-1.
pub fn parse_delta(s: &str) -> Result<u32, ValueError> {
    lex::parse_u32(lex::trim_ws(s), u32::MAX)
}

/// Parses `*( SEMI generic-param )` after a leading element and checks nothing follows.
fn trailing_params<'a>(sc: &mut Scanner<'a>) -> Result<Params<'a>, ValueError> {
    let start = sc.pos();
    let end = scan_header_params(sc)?;
    sc.finish()?;
    Ok(Params::from_checked(sc.slice(start, end)))
}

/// `CSeq: 1*DIGIT LWS Method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CSeq<'a> {
    /// The sequence number. The grammar allows up to 2^32-1; RFC 3261 section 8.1.1.5
    /// requires less than 2^31, which validation checks.
    pub seq: u32,
    /// The method.
    pub method: Method<'a>,
}

impl<'a> CSeq<'a> {
    /// Parses a CSeq value.
    ///
    /// # Errors
    /// [`ValueError::Number`] for a missing or overlong number, [`ValueError::Method`]
    /// for a missing method, [`ValueError::TrailingData`] after it.
    pub fn parse(s: &'a str) -> Result<CSeq<'a>, ValueError> {
        let mut sc = Scanner::new(s);
        sc.skip_ws();
        let seq = lex::parse_u32(sc.take(lex::ALNUM), u32::MAX)?;
        let ws = sc.pos();
        sc.skip_ws();
        if sc.pos() == ws {
            return Err(ValueError::Method);
        }
        let method = Method::parse(sc.token().map_err(|_| ValueError::Method)?)?;
        sc.finish()?;
        Ok(CSeq { seq, method })
    }
}

impl Emit for CSeq<'_> {
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        out.put_u32(self.seq)?;
        out.put(b" ")?;
        out.put(self.method.as_str().as_bytes())
    }
}

/// Checks `callid = word [ "@" word ]` and returns it trimmed.
///
/// # Errors
/// [`ValueError::Empty`] or [`ValueError::Unexpected`].
pub fn parse_call_id(s: &str) -> Result<&str, ValueError> {
    let v = lex::trim_ws(s);
    let (a, b) = match lex::split_at_byte(v, b'@') {
        Some((a, b)) => (a, Some(b)),
        None => (v, None),
    };
    let word = |w: &str| !w.is_empty() && w.bytes().all(|c| lex::is(c, lex::WORD));
    if v.is_empty() {
        Err(ValueError::Empty)
    } else if word(a) && b.is_none_or(word) {
        Ok(v)
    } else {
        Err(ValueError::Unexpected)
    }
}

/// A media type: `Content-Type` (`application/csta+xml`, `multipart/mixed;boundary=x`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaType<'a> {
    /// The type (`application`).
    pub ty: &'a str,
    /// The subtype (`sdp`, `csta+xml`).
    pub subtype: &'a str,
    /// Parameters (`charset`, `boundary`, ...).
    pub params: Params<'a>,
}

impl<'a> MediaType<'a> {
    /// Parses `m-type SLASH m-subtype *( SEMI m-parameter )`.
    ///
    /// # Errors
    /// The problem found.
    pub fn parse(s: &'a str) -> Result<MediaType<'a>, ValueError> {
        let mut sc = Scanner::new(s);
        sc.skip_ws();
        let ty = sc.token()?;
        if !sc.sep(b'/') {
            return Err(ValueError::Unexpected);
        }
        let subtype = sc.token()?;
        let params = trailing_params(&mut sc)?;
        Ok(MediaType {
            ty,
            subtype,
            params,
        })
    }

    /// Whether this is `ty/subtype`, compared case-insensitively.
    pub fn is(&self, ty: &str, subtype: &str) -> bool {
        self.ty.eq_ignore_ascii_case(ty) && self.subtype.eq_ignore_ascii_case(subtype)
    }

    /// The `boundary` parameter of a multipart type.
    pub fn boundary(&self) -> Option<&'a str> {
        self.params.value("boundary")
    }

    /// The `charset` parameter.
    pub fn charset(&self) -> Option<&'a str> {
        self.params.value("charset")
    }
}

impl Emit for MediaType<'_> {
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        out.put(self.ty.as_bytes())?;
        out.put(b"/")?;
        out.put(self.subtype.as_bytes())?;
        self.params.emit(out)
    }
}

/// `Content-Disposition: disp-type *( SEMI disp-param )`, e.g. the uaCSTA
/// `signal;handling=required`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentDisposition<'a> {
    /// `session`, `render`, `icon`, `alert`, `signal` or an extension token.
    pub disposition: &'a str,
    /// Parameters (`handling`, ...).
    pub params: Params<'a>,
}

impl<'a> ContentDisposition<'a> {
    /// Parses a Content-Disposition value.
    ///
    /// # Errors
    /// The problem found.
    pub fn parse(s: &'a str) -> Result<ContentDisposition<'a>, ValueError> {
        let mut sc = Scanner::new(s);
        sc.skip_ws();
        let disposition = sc.token()?;
        let params = trailing_params(&mut sc)?;
        Ok(ContentDisposition {
            disposition,
            params,
        })
    }

    /// Whether the disposition is `name`, case-insensitively.
    pub fn is(&self, name: &str) -> bool {
        self.disposition.eq_ignore_ascii_case(name)
    }

    /// Whether `handling=required`, which is also the default when the parameter is
    /// absent (RFC 3261 section 20.11).
    pub fn handling_required(&self) -> bool {
        self.params
            .value("handling")
            .is_none_or(|h| h.eq_ignore_ascii_case("required"))
    }
}

impl Emit for ContentDisposition<'_> {
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        out.put(self.disposition.as_bytes())?;
        self.params.emit(out)
    }
}

/// `Event: event-type *( SEMI event-param )` (RFC 6665), e.g. `uaCSTA`, `reg`,
/// `as-feature-event`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event<'a> {
    /// The event package with any templates (`presence.winfo`).
    pub package: &'a str,
    /// Parameters (`id`, ...).
    pub params: Params<'a>,
}

impl<'a> Event<'a> {
    /// Parses an Event value.
    ///
    /// # Errors
    /// The problem found.
    pub fn parse(s: &'a str) -> Result<Event<'a>, ValueError> {
        let mut sc = Scanner::new(s);
        sc.skip_ws();
        let package = sc.token()?;
        let params = trailing_params(&mut sc)?;
        Ok(Event { package, params })
    }

    /// The `id` parameter.
    pub fn id(&self) -> Option<&'a str> {
        self.params.value("id")
    }

    /// Whether the package is `name`; event packages compare case-sensitively except
    /// that RFC 6665 treats them as tokens, so exact match is used.
    pub fn is(&self, name: &str) -> bool {
        self.package == name
    }
}

impl Emit for Event<'_> {
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        out.put(self.package.as_bytes())?;
        self.params.emit(out)
    }
}

/// `Subscription-State: substate-value *( SEMI subexp-params )` (RFC 6665).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubscriptionState<'a> {
    /// `active`, `pending`, `terminated` or an extension token.
    pub state: &'a str,
    /// Parameters (`expires`, `reason`, `retry-after`).
    pub params: Params<'a>,
}

impl<'a> SubscriptionState<'a> {
    /// Parses a Subscription-State value.
    ///
    /// # Errors
    /// The problem found; `expires` and `retry-after` must be numbers.
    pub fn parse(s: &'a str) -> Result<SubscriptionState<'a>, ValueError> {
        let mut sc = Scanner::new(s);
        sc.skip_ws();
        let state = sc.token()?;
        let params = trailing_params(&mut sc)?;
        for n in ["expires", "retry-after"] {
            if let Some(p) = params.get(n) {
                lex::parse_u32(p.value.unwrap_or(""), u32::MAX)?;
            }
        }
        Ok(SubscriptionState { state, params })
    }

    /// The `expires` parameter.
    pub fn expires(&self) -> Option<u32> {
        lex::parse_u32(self.params.value("expires")?, u32::MAX).ok()
    }

    /// The `reason` parameter.
    pub fn reason(&self) -> Option<&'a str> {
        self.params.value("reason")
    }

    /// The `retry-after` parameter.
    pub fn retry_after(&self) -> Option<u32> {
        lex::parse_u32(self.params.value("retry-after")?, u32::MAX).ok()
    }
}

impl Emit for SubscriptionState<'_> {
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        out.put(self.state.as_bytes())?;
        self.params.emit(out)
    }
}

/// Which side refreshes a session (RFC 4028).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Refresher {
    /// `refresher=uac`.
    Uac,
    /// `refresher=uas`.
    Uas,
}

/// `Session-Expires` and `Min-SE`: `delta-seconds *( SEMI param )` (RFC 4028).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimer<'a> {
    /// The interval in seconds.
    pub delta: u32,
    /// Parameters (`refresher` for Session-Expires).
    pub params: Params<'a>,
}

impl<'a> SessionTimer<'a> {
    /// Parses a Session-Expires or Min-SE value.
    ///
    /// # Errors
    /// The problem found; a `refresher` other than `uac` or `uas` is
    /// [`ValueError::Param`].
    pub fn parse(s: &'a str) -> Result<SessionTimer<'a>, ValueError> {
        let mut sc = Scanner::new(s);
        sc.skip_ws();
        let delta = lex::parse_u32(sc.take(lex::ALNUM), u32::MAX)?;
        let params = trailing_params(&mut sc)?;
        if let Some(p) = params.get("refresher")
            && !matches!(p.value, Some(v) if v.eq_ignore_ascii_case("uac") || v.eq_ignore_ascii_case("uas"))
        {
            return Err(ValueError::Param);
        }
        Ok(SessionTimer { delta, params })
    }

    /// The `refresher` parameter.
    pub fn refresher(&self) -> Option<Refresher> {
        let v = self.params.value("refresher")?;
        if v.eq_ignore_ascii_case("uac") {
            Some(Refresher::Uac)
        } else {
            Some(Refresher::Uas)
        }
    }
}

impl Emit for SessionTimer<'_> {
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        out.put_u32(self.delta)?;
        self.params.emit(out)
    }
}

/// `Retry-After: delta-seconds [ comment ] *( SEMI retry-param )`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter<'a> {
    /// Seconds to wait.
    pub delta: u32,
    /// The comment with its parentheses, if any.
    pub comment: Option<&'a str>,
    /// Parameters (`duration`, ...).
    pub params: Params<'a>,
}

impl<'a> RetryAfter<'a> {
    /// Parses a Retry-After value.
    ///
    /// # Errors
    /// The problem found.
    pub fn parse(s: &'a str) -> Result<RetryAfter<'a>, ValueError> {
        let mut sc = Scanner::new(s);
        sc.skip_ws();
        let delta = lex::parse_u32(sc.take(lex::ALNUM), u32::MAX)?;
        sc.skip_ws();
        let comment = if sc.peek() == Some(b'(') {
            let start = sc.pos();
            scan_comment(&mut sc)?;
            Some(sc.slice(start, sc.pos()))
        } else {
            None
        };
        let params = trailing_params(&mut sc)?;
        if let Some(p) = params.get("duration") {
            lex::parse_u32(p.value.unwrap_or(""), u32::MAX)?;
        }
        Ok(RetryAfter {
            delta,
            comment,
            params,
        })
    }

    /// The `duration` parameter.
    pub fn duration(&self) -> Option<u32> {
        lex::parse_u32(self.params.value("duration")?, u32::MAX).ok()
    }
}

impl Emit for RetryAfter<'_> {
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        out.put_u32(self.delta)?;
        if let Some(c) = self.comment {
            out.put(b" ")?;
            out.put(c.as_bytes())?;
        }
        self.params.emit(out)
    }
}

/// Scans `comment = LPAREN *(ctext / quoted-pair / comment) RPAREN` (nested, bounded).
fn scan_comment(sc: &mut Scanner<'_>) -> Result<(), ValueError> {
    const MAX_DEPTH: usize = 16;
    let mut depth = 0usize;
    while let Some(c) = sc.peek() {
        sc.bump();
        match c {
            b'(' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Err(ValueError::Unexpected);
                }
            }
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(());
                }
            }
            b'\\' => sc.bump(),
            _ => {}
        }
    }
    Err(ValueError::UnterminatedQuote)
}

/// A `Date` header: an RFC 1123 date, always in GMT (RFC 3261 section 20.17).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct SipDate {
    /// Year (4 digits).
    pub year: u16,
    /// Month, 1 to 12.
    pub month: u8,
    /// Day of the month, 1 to 31.
    pub day: u8,
    /// Hour, 0 to 23.
    pub hour: u8,
    /// Minute, 0 to 59.
    pub minute: u8,
    /// Second, 0 to 60 (leap second).
    pub second: u8,
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl SipDate {
    /// Parses `wkday "," SP 2DIGIT SP month SP 4DIGIT SP 2DIGIT ":" 2DIGIT ":" 2DIGIT SP
    /// "GMT"`. Another time zone (RFC 4475 section 3.1.2.12) or a weekday that does not
    /// match the date is an error.
    ///
    /// # Errors
    /// [`ValueError::Date`].
    pub fn parse(s: &str) -> Result<SipDate, ValueError> {
        let b = lex::trim_ws(s).as_bytes();
        if b.len() != 29 || &b[3..5] != b", " || &b[25..] != b" GMT" {
            return Err(ValueError::Date);
        }
        let num = |r: core::ops::Range<usize>| -> Result<u32, ValueError> {
            let d = &b[r];
            if !d.iter().all(u8::is_ascii_digit) {
                return Err(ValueError::Date);
            }
            Ok(d.iter().fold(0, |a, &c| a * 10 + u32::from(c - b'0')))
        };
        let sep = |i: usize, c: u8| {
            if b[i] == c {
                Ok(())
            } else {
                Err(ValueError::Date)
            }
        };
        sep(7, b' ')?;
        sep(11, b' ')?;
        sep(16, b' ')?;
        sep(19, b':')?;
        sep(22, b':')?;
        let wkday = WEEKDAYS
            .iter()
            .position(|w| w.as_bytes() == &b[0..3])
            .ok_or(ValueError::Date)?;
        let month = MONTHS
            .iter()
            .position(|m| m.as_bytes() == &b[8..11])
            .ok_or(ValueError::Date)? as u8
            + 1;
        let d = SipDate {
            day: num(5..7)? as u8,
            month,
            year: num(12..16)? as u16,
            hour: num(17..19)? as u8,
            minute: num(20..22)? as u8,
            second: num(23..25)? as u8,
        };
        if d.day == 0
            || d.day > days_in_month(d.year, d.month)
            || d.hour > 23
            || d.minute > 59
            || d.second > 60
            || d.weekday() != wkday
        {
            return Err(ValueError::Date);
        }
        Ok(d)
    }

    /// Days since 1970-01-01 (negative before).
    fn days(&self) -> i64 {
        // Howard Hinnant's days_from_civil.
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// Day of the week, 0 = Monday.
    fn weekday(&self) -> usize {
        // 1970-01-01 was a Thursday.
        (self.days() + 3).rem_euclid(7) as usize
    }

    /// Seconds since the Unix epoch.
    pub fn unix_time(&self) -> i64 {
        self.days() * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => {
            29
        }
        _ => 28,
    }
}

impl Emit for SipDate {
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        let two = |out: &mut S, v: u8| out.put(&[b'0' + v / 10, b'0' + v % 10]);
        out.put(WEEKDAYS[self.weekday()].as_bytes())?;
        out.put(b", ")?;
        two(out, self.day)?;
        out.put(b" ")?;
        out.put(MONTHS[usize::from(self.month.clamp(1, 12)) - 1].as_bytes())?;
        out.put(b" ")?;
        let y = self.year;
        out.put(&[
            b'0' + (y / 1000 % 10) as u8,
            b'0' + (y / 100 % 10) as u8,
            b'0' + (y / 10 % 10) as u8,
            b'0' + (y % 10) as u8,
        ])?;
        out.put(b" ")?;
        two(out, self.hour)?;
        out.put(b":")?;
        two(out, self.minute)?;
        out.put(b":")?;
        two(out, self.second)?;
        out.put(b" GMT")
    }
}

impl core::fmt::Display for SipDate {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.emit(&mut super::sink::FmtSink(f))
            .map_err(|_| core::fmt::Error)
    }
}

display_via_emit!(
    CSeq,
    MediaType,
    ContentDisposition,
    Event,
    SubscriptionState,
    SessionTimer,
    RetryAfter
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_cseq() {
        assert_eq!(
            CSeq::parse(" 4711  INVITE "),
            Ok(CSeq {
                seq: 4711,
                method: Method::Invite
            })
        );
        assert_eq!(CSeq::parse("4294967296 INVITE"), Err(ValueError::Number));
        assert_eq!(CSeq::parse("1INVITE"), Err(ValueError::Number));
        assert_eq!(CSeq::parse("1"), Err(ValueError::Method));
        assert_eq!(CSeq::parse("-1 INVITE"), Err(ValueError::Number));
        assert_eq!(CSeq::parse("1 INVITE x"), Err(ValueError::TrailingData));
    }

    #[test]
    fn test_call_id() {
        assert_eq!(
            parse_call_id(" a84b4c76e66710@pc33.atlanta.com "),
            Ok("a84b4c76e66710@pc33.atlanta.com")
        );
        assert_eq!(parse_call_id("{abc}<x>"), Ok("{abc}<x>"));
        assert!(parse_call_id("a@b@c").is_err());
        assert!(parse_call_id("a b").is_err());
        assert!(parse_call_id("").is_err());
    }

    #[test]
    fn test_media_and_disposition() {
        let m = MediaType::parse("multipart/mixed;boundary=unique-boundary-1").unwrap();
        assert!(m.is("Multipart", "MIXED"));
        assert_eq!(m.boundary(), Some("unique-boundary-1"));
        let m = MediaType::parse(r#"application/csta+xml ; charset="utf-8""#).unwrap();
        assert_eq!(m.charset(), Some("utf-8"));
        assert!(MediaType::parse("application").is_err());
        assert!(MediaType::parse("application/sdp, text/plain").is_err());
        let d = ContentDisposition::parse("signal;handling=required").unwrap();
        assert!(d.is("signal"));
        assert!(d.handling_required());
        assert!(
            !ContentDisposition::parse("render;handling=optional")
                .unwrap()
                .handling_required()
        );
    }

    #[test]
    fn test_event_and_state() {
        let e = Event::parse("uaCSTA").unwrap();
        assert!(e.is("uaCSTA"));
        assert_eq!(
            Event::parse("refer;id=93809824").unwrap().id(),
            Some("93809824")
        );
        let s = SubscriptionState::parse("terminated;reason=timeout;retry-after=30").unwrap();
        assert_eq!(s.state, "terminated");
        assert_eq!(s.reason(), Some("timeout"));
        assert_eq!(s.retry_after(), Some(30));
        assert!(SubscriptionState::parse("active;expires=soon").is_err());
    }

    #[test]
    fn test_session_timer() {
        let s = SessionTimer::parse("1800;refresher=uac").unwrap();
        assert_eq!(s.delta, 1800);
        assert_eq!(s.refresher(), Some(Refresher::Uac));
        assert!(SessionTimer::parse("90;refresher=me").is_err());
        assert_eq!(SessionTimer::parse("90").unwrap().refresher(), None);
    }

    #[test]
    fn test_retry_after() {
        let r = RetryAfter::parse("18000 (in a (meeting)) ;duration=3600").unwrap();
        assert_eq!(r.delta, 18000);
        assert_eq!(r.comment, Some("(in a (meeting))"));
        assert_eq!(r.duration(), Some(3600));
        assert!(RetryAfter::parse("949302838503028349304023988").is_err());
        assert!(RetryAfter::parse("5 (unclosed").is_err());
    }

    #[test]
    fn test_date() {
        let d = SipDate::parse("Sat, 13 Nov 2010 23:29:00 GMT").unwrap();
        assert_eq!((d.year, d.month, d.day, d.hour), (2010, 11, 13, 23));
        assert_eq!(d.unix_time(), 1_289_690_940);
        // RFC 4475 3.1.2.12: a zone other than GMT.
        assert_eq!(
            SipDate::parse("Fri, 01 Jan 2010 16:00:00 EST"),
            Err(ValueError::Date)
        );
        assert_eq!(
            SipDate::parse("Fri, 13 Nov 2010 23:29:00 GMT"),
            Err(ValueError::Date)
        );
        assert_eq!(
            SipDate::parse("Sat, 31 Feb 2010 23:29:00 GMT"),
            Err(ValueError::Date)
        );
        let mut s: heapless::String<32> = heapless::String::new();
        core::fmt::write(&mut s, format_args!("{d}")).unwrap();
        assert_eq!(s, "Sat, 13 Nov 2010 23:29:00 GMT");
    }
}
