//! Authentication headers (RFC 3261 section 20.7, 20.27, 20.28, 20.44; RFC 7616;
//! RFC 8760): the values of `WWW-Authenticate` and `Proxy-Authenticate` ([`Challenge`])
//! and of `Authorization` and `Proxy-Authorization` ([`Credentials`]).
//!
//! Both are views over the header value: `auth-scheme LWS auth-param *(COMMA auth-param)`
//! where `auth-param = token EQUAL ( token / quoted-string )`. Any scheme parses, so a
//! message with an unknown scheme (RFC 4475 section 3.3.7) is still readable; schemes
//! other than `Digest` may also carry a single `token68` (RFC 7235, used by `Bearer`,
//! RFC 8898) or nothing at all. The computations live in [`crate::digest`].

use core::fmt;

use super::lex::{self, Scanner};
use super::sink::{Emit, Sink, display_via_emit};
use crate::error::{DigestError, EmitError, ValueError};

/// A digest algorithm (RFC 7616 section 3.3, RFC 8760 section 2.2).
///
/// Also available as [`crate::digest::Algorithm`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Algorithm {
    /// `MD5`: the default when a challenge names no algorithm.
    Md5,
    /// `MD5-sess`.
    Md5Sess,
    /// `SHA-256`.
    Sha256,
    /// `SHA-256-sess`.
    Sha256Sess,
    /// `SHA-512-256` (SHA-512/256 of FIPS 180-4).
    Sha512_256,
    /// `SHA-512-256-sess`.
    Sha512_256Sess,
}

impl Algorithm {
    /// Every algorithm: SHA-512/256, SHA-256 and MD5, each followed by its `-sess` variant.
    pub const ALL: [Algorithm; 6] = [
        Algorithm::Sha512_256,
        Algorithm::Sha512_256Sess,
        Algorithm::Sha256,
        Algorithm::Sha256Sess,
        Algorithm::Md5,
        Algorithm::Md5Sess,
    ];

    /// Classifies an algorithm token, case-insensitively.
    ///
    /// # Errors
    /// [`DigestError::UnsupportedAlgorithm`] for any other token.
    pub fn parse(s: &str) -> Result<Algorithm, DigestError> {
        Algorithm::ALL
            .iter()
            .copied()
            .find(|a| a.as_str().eq_ignore_ascii_case(s))
            .ok_or(DigestError::UnsupportedAlgorithm)
    }

    /// The canonical spelling (`MD5`, `SHA-256-sess`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Algorithm::Md5 => "MD5",
            Algorithm::Md5Sess => "MD5-sess",
            Algorithm::Sha256 => "SHA-256",
            Algorithm::Sha256Sess => "SHA-256-sess",
            Algorithm::Sha512_256 => "SHA-512-256",
            Algorithm::Sha512_256Sess => "SHA-512-256-sess",
        }
    }

    /// Whether this is a `-sess` variant, whose HA1 also covers the nonce and cnonce.
    pub const fn is_session(self) -> bool {
        matches!(
            self,
            Algorithm::Md5Sess | Algorithm::Sha256Sess | Algorithm::Sha512_256Sess
        )
    }

    /// The algorithm without `-sess`: the one a stored HA1 is computed with.
    pub const fn base(self) -> Algorithm {
        match self {
            Algorithm::Md5 | Algorithm::Md5Sess => Algorithm::Md5,
            Algorithm::Sha256 | Algorithm::Sha256Sess => Algorithm::Sha256,
            Algorithm::Sha512_256 | Algorithm::Sha512_256Sess => Algorithm::Sha512_256,
        }
    }

    /// Length of the hexadecimal digests this algorithm produces: 32 for MD5, 64 for the
    /// others.
    pub const fn hex_len(self) -> usize {
        match self.base() {
            Algorithm::Md5 => 32,
            _ => 64,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Quality of protection (RFC 2617 section 3.2.1).
///
/// Also available as [`crate::digest::Qop`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Qop {
    /// `auth`: authentication of the method and URI.
    Auth,
    /// `auth-int`: authentication with integrity protection of the body.
    AuthInt,
    /// No `qop`: the RFC 2069 computation, without cnonce and nonce count.
    None,
}

impl Qop {
    /// Classifies a qop token, case-insensitively.
    ///
    /// # Errors
    /// [`DigestError::UnsupportedQop`] for anything but `auth` and `auth-int`.
    pub fn parse(s: &str) -> Result<Qop, DigestError> {
        if s.eq_ignore_ascii_case("auth") {
            Ok(Qop::Auth)
        } else if s.eq_ignore_ascii_case("auth-int") {
            Ok(Qop::AuthInt)
        } else {
            Err(DigestError::UnsupportedQop)
        }
    }

    /// The token (`auth`, `auth-int`), or `None` for [`Qop::None`].
    pub const fn as_str(self) -> Option<&'static str> {
        match self {
            Qop::Auth => Some("auth"),
            Qop::AuthInt => Some("auth-int"),
            Qop::None => None,
        }
    }
}

/// The value of an `auth-param`: a token, or a quoted string.
///
/// Comparing two values, or a value with a `&str`, compares the text they stand for:
/// quotes removed and `\` escapes resolved, so `realm="a\"b"` equals `"a\"b"` in Rust.
/// Emitting (and `Display`) writes the value as it was written.
#[derive(Debug, Clone, Copy)]
pub struct AuthValue<'a> {
    raw: &'a str,
}

impl<'a> AuthValue<'a> {
    /// The value as written, quotes included.
    pub fn as_raw(&self) -> &'a str {
        self.raw
    }

    /// Whether the value was written as a quoted string.
    pub fn is_quoted(&self) -> bool {
        self.raw.starts_with('"')
    }

    /// The value without its quotes; `\` escapes are left as written.
    pub fn as_str(&self) -> &'a str {
        lex::unquote(self.raw)
    }

    /// The characters the value stands for, escapes resolved.
    pub fn chars(&self) -> impl Iterator<Item = char> + 'a {
        let quoted = self.is_quoted();
        let inner = self.as_str();
        let (unescaped, plain) = if quoted {
            (Some(lex::unescape_quoted(inner)), None)
        } else {
            (None, Some(inner.chars()))
        };
        unescaped
            .into_iter()
            .flatten()
            .chain(plain.into_iter().flatten())
    }

    /// The text the value stands for, if it needs no unescaping.
    pub fn as_plain(&self) -> Option<&'a str> {
        let s = self.as_str();
        (!self.is_quoted() || !s.contains('\\')).then_some(s)
    }

    /// Pieces of text whose concatenation is the unescaped value, for feeding a hash
    /// without copying.
    pub(crate) fn segments(&self) -> impl Iterator<Item = &'a str> + 'a {
        let quoted = self.is_quoted();
        let mut rest = self.as_str();
        // Offset from which to look for the next escape: after an escape the next
        // segment starts with the escaped (ASCII) character itself.
        let mut from = 0;
        core::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let cut = if quoted {
                rest.as_bytes()
                    .iter()
                    .skip(from)
                    .position(|&c| c == b'\\')
                    .map(|i| i + from)
            } else {
                None
            };
            match cut {
                Some(i) => {
                    let seg = rest.get(..i)?;
                    rest = rest.get(i + 1..)?;
                    from = 1;
                    Some(seg)
                }
                None => {
                    let seg = rest;
                    rest = "";
                    Some(seg)
                }
            }
        })
    }

    /// Writes `text` as a quoted string, escaping `"` and `\`.
    ///
    /// # Errors
    /// [`EmitError::InvalidHeader`] if `text` holds control characters other than HT;
    /// else what the sink reports.
    pub(crate) fn emit_text_quoted<S: Sink + ?Sized>(
        out: &mut S,
        text: &str,
    ) -> Result<(), EmitError> {
        out.put(b"\"")?;
        let b = text.as_bytes();
        let mut run = 0;
        for (i, &c) in b.iter().enumerate() {
            if (c < 0x20 && c != b'\t') || c == 0x7f {
                return Err(EmitError::InvalidHeader);
            }
            if c == b'"' || c == b'\\' {
                out.put(b.get(run..i).unwrap_or_default())?;
                out.put(b"\\")?;
                run = i;
            }
        }
        out.put(b.get(run..).unwrap_or_default())?;
        out.put(b"\"")
    }

    /// Writes the value as a quoted string: quoted values as written, tokens quoted.
    ///
    /// # Errors
    /// What the sink reports.
    pub(crate) fn emit_quoted<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        if self.is_quoted() {
            out.put(self.raw.as_bytes())
        } else {
            out.put(b"\"")?;
            out.put(self.raw.as_bytes())?;
            out.put(b"\"")
        }
    }

    /// Whether the value stands for `s` (quotes and escapes aside).
    pub fn eq_text(&self, s: &str) -> bool {
        match self.as_plain() {
            Some(p) => p == s,
            None => self.chars().eq(s.chars()),
        }
    }

    /// Whether the value stands for `s`, ignoring ASCII case (for tokens such as `true`).
    pub fn eq_ignore_ascii_case(&self, s: &str) -> bool {
        self.chars()
            .map(|c| c.to_ascii_lowercase())
            .eq(s.chars().map(|c| c.to_ascii_lowercase()))
    }
}

impl PartialEq for AuthValue<'_> {
    fn eq(&self, other: &AuthValue<'_>) -> bool {
        match other.as_plain() {
            Some(p) => self.eq_text(p),
            None => self.chars().eq(other.chars()),
        }
    }
}

impl Eq for AuthValue<'_> {}

impl PartialEq<str> for AuthValue<'_> {
    fn eq(&self, other: &str) -> bool {
        self.eq_text(other)
    }
}

impl PartialEq<&str> for AuthValue<'_> {
    fn eq(&self, other: &&str) -> bool {
        self.eq_text(other)
    }
}

impl Emit for AuthValue<'_> {
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        out.put(self.raw.as_bytes())
    }
}

/// One `auth-param`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthParam<'a> {
    /// The name as written; names compare case-insensitively.
    pub name: &'a str,
    /// The value.
    pub value: AuthValue<'a>,
}

/// The comma-separated `auth-param` list of a challenge or credentials, validated when
/// the value was parsed.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuthParams<'a> {
    raw: &'a str,
}

impl<'a> AuthParams<'a> {
    /// The list as written.
    pub fn as_str(&self) -> &'a str {
        self.raw
    }

    /// Whether there are no parameters.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Iterates over the parameters in order.
    pub fn iter(&self) -> AuthParamIter<'a> {
        AuthParamIter { rest: self.raw }
    }

    /// The value of the parameter named `name` (compared case-insensitively).
    pub fn get(&self, name: &str) -> Option<AuthValue<'a>> {
        self.iter()
            .find(|p| p.name.eq_ignore_ascii_case(name))
            .map(|p| p.value)
    }
}

impl PartialEq for AuthParams<'_> {
    fn eq(&self, other: &AuthParams<'_>) -> bool {
        let (mut a, mut b) = (self.iter(), other.iter());
        loop {
            match (a.next(), b.next()) {
                (None, None) => return true,
                (Some(x), Some(y)) if x.name.eq_ignore_ascii_case(y.name) && x.value == y.value => {
                }
                _ => return false,
            }
        }
    }
}

impl Eq for AuthParams<'_> {}

impl<'a> IntoIterator for &AuthParams<'a> {
    type Item = AuthParam<'a>;
    type IntoIter = AuthParamIter<'a>;
    fn into_iter(self) -> AuthParamIter<'a> {
        self.iter()
    }
}

/// Iterator over an [`AuthParams`] list.
#[derive(Debug, Clone)]
pub struct AuthParamIter<'a> {
    rest: &'a str,
}

impl<'a> Iterator for AuthParamIter<'a> {
    type Item = AuthParam<'a>;

    fn next(&mut self) -> Option<AuthParam<'a>> {
        let mut s = Scanner::new(self.rest);
        s.skip_ws();
        if s.eat(b',') {
            s.skip_ws();
        }
        let item = scan_param(&mut s).ok();
        self.rest = if item.is_some() { s.rest() } else { "" };
        item
    }
}

/// Scans `token EQUAL ( token / quoted-string )`.
fn scan_param<'a>(s: &mut Scanner<'a>) -> Result<AuthParam<'a>, ValueError> {
    let name = s.token().map_err(|_| ValueError::Param)?;
    if !s.sep(b'=') {
        return Err(ValueError::Param);
    }
    let value = match s.peek() {
        Some(b'"') => s.token_or_quoted()?,
        _ => s.token_or_quoted().map_err(|_| ValueError::Param)?,
    };
    Ok(AuthParam {
        name,
        value: AuthValue { raw: value },
    })
}

/// Whether `b` may appear in an RFC 7235 `token68`.
fn is_token68(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
}

/// The parts shared by challenges and credentials.
#[derive(Debug, Clone, Copy)]
struct Parts<'a> {
    scheme: &'a str,
    token68: Option<&'a str>,
    params: AuthParams<'a>,
}

impl<'a> Parts<'a> {
    fn parse(s: &'a str) -> Result<Parts<'a>, ValueError> {
        let mut sc = Scanner::new(s);
        sc.skip_ws();
        let scheme = sc.token()?;
        let digest = scheme.eq_ignore_ascii_case("Digest");
        let after_scheme = sc.pos();
        sc.skip_ws();
        let mut parts = Parts {
            scheme,
            token68: None,
            params: AuthParams::default(),
        };
        if sc.at_end() {
            // `Digest` needs parameters; other schemes may stand alone (`Negotiate`).
            return if digest {
                Err(ValueError::Empty)
            } else {
                Ok(parts)
            };
        }
        if sc.pos() == after_scheme {
            return Err(ValueError::Unexpected);
        }
        let start = sc.pos();
        if !digest {
            // token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
            while sc.peek().is_some_and(is_token68) {
                sc.bump();
            }
            if sc.pos() > start {
                while sc.eat(b'=') {}
                let end = sc.pos();
                sc.skip_ws();
                if sc.at_end() {
                    parts.token68 = Some(sc.slice(start, end));
                    return Ok(parts);
                }
            }
            sc.set_pos(start);
        }
        let mut end;
        loop {
            let name_start = sc.pos();
            let p = scan_param(&mut sc)?;
            end = sc.pos();
            let earlier = AuthParams {
                raw: sc.slice(start, name_start),
            };
            if earlier.iter().any(|q| q.name.eq_ignore_ascii_case(p.name)) {
                return Err(ValueError::Param);
            }
            if !sc.sep(b',') {
                break;
            }
        }
        sc.finish()?;
        parts.params = AuthParams {
            raw: sc.slice(start, end),
        };
        Ok(parts)
    }

    fn is_digest(&self) -> bool {
        self.scheme.eq_ignore_ascii_case("Digest")
    }

    fn flag(&self, name: &str) -> bool {
        self.params
            .get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    fn algorithm(&self) -> Result<Algorithm, DigestError> {
        match self.params.get("algorithm") {
            None => Ok(Algorithm::Md5),
            Some(v) => Algorithm::parse(v.as_str()),
        }
    }

    fn eq(&self, other: &Parts<'_>) -> bool {
        self.scheme.eq_ignore_ascii_case(other.scheme)
            && self.token68 == other.token68
            && self.params == other.params
    }

    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        out.put(if self.is_digest() {
            b"Digest"
        } else {
            self.scheme.as_bytes()
        })?;
        if let Some(t) = self.token68 {
            out.put(b" ")?;
            return out.put(t.as_bytes());
        }
        let mut sep: &[u8] = b" ";
        for p in self.params.iter() {
            out.put(sep)?;
            out.put(p.name.as_bytes())?;
            out.put(b"=")?;
            out.put(p.value.raw.as_bytes())?;
            sep = b", ";
        }
        Ok(())
    }
}

/// Checks that a qop list (`"auth,auth-int"`) holds comma-separated tokens.
fn check_qop_list(v: AuthValue<'_>) -> Result<(), ValueError> {
    if v.as_str()
        .split(',')
        .all(|q| lex::is_token(lex::trim_ws(q)))
    {
        Ok(())
    } else {
        Err(ValueError::Param)
    }
}

/// Parses `8LHEX` (upper case accepted).
fn parse_nc(s: &str) -> Option<u32> {
    if s.len() != 8 {
        return None;
    }
    s.bytes().try_fold(0u32, |acc, b| {
        Some((acc << 4) | u32::from(lex::hex_val(b)?))
    })
}

macro_rules! common_accessors {
    () => {
        /// The scheme as written (`Digest`, `Bearer`, ...).
        pub fn scheme(&self) -> &'a str {
            self.0.scheme
        }

        /// Whether the scheme is `Digest` (compared case-insensitively).
        pub fn is_digest(&self) -> bool {
            self.0.is_digest()
        }

        /// The `token68` of a non-Digest scheme (`Bearer mF_9.B5f-4.1JqM`), if it has
        /// one instead of parameters.
        pub fn token68(&self) -> Option<&'a str> {
            self.0.token68
        }

        /// All parameters.
        pub fn params(&self) -> AuthParams<'a> {
            self.0.params
        }

        /// The parameter named `name` (compared case-insensitively).
        pub fn param(&self, name: &str) -> Option<AuthValue<'a>> {
            self.0.params.get(name)
        }

        /// The `realm` parameter.
        pub fn realm(&self) -> Option<AuthValue<'a>> {
            self.param("realm")
        }

        /// The `nonce` parameter.
        pub fn nonce(&self) -> Option<AuthValue<'a>> {
            self.param("nonce")
        }

        /// The `opaque` parameter.
        pub fn opaque(&self) -> Option<AuthValue<'a>> {
            self.param("opaque")
        }

        /// The `algorithm` parameter; [`Algorithm::Md5`] when it is absent.
        ///
        /// # Errors
        /// [`DigestError::UnsupportedAlgorithm`] for an algorithm this crate does not
        /// implement.
        pub fn algorithm(&self) -> Result<Algorithm, DigestError> {
            self.0.algorithm()
        }

        /// Whether `userhash=true` is present (RFC 7616 section 3.4.4).
        pub fn userhash(&self) -> bool {
            self.0.flag("userhash")
        }
    };
}

/// A challenge: the value of `WWW-Authenticate` or `Proxy-Authenticate`.
///
/// ```
/// use sip_lite::wire::{Algorithm, Challenge};
///
/// let c = Challenge::parse(
///     r#"Digest realm="atlanta.com", nonce="84a4cc6f3082121f32b42a2187831a9e",
///        qop="auth,auth-int", algorithm=SHA-256, stale=TRUE"#,
/// )?;
/// assert!(c.is_digest());
/// assert_eq!(c.realm().unwrap(), "atlanta.com");
/// assert_eq!(c.algorithm(), Ok(Algorithm::Sha256));
/// assert!(c.stale());
/// assert!(c.qop_options().eq(["auth", "auth-int"]));
/// # Ok::<(), sip_lite::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Challenge<'a>(Parts<'a>);

impl<'a> Challenge<'a> {
    /// Parses a challenge.
    ///
    /// Besides the grammar, a Digest challenge's `qop` must be a list of tokens.
    /// Required parameters (`realm`, `nonce`) are checked by the computations in
    /// [`crate::digest`], so that a challenge of any scheme can be inspected.
    ///
    /// # Errors
    /// [`ValueError::Param`] for a malformed or duplicate parameter (or one without
    /// `=`), [`ValueError::UnterminatedQuote`], [`ValueError::Empty`] for a missing
    /// scheme or a `Digest` without parameters, [`ValueError::TrailingData`] for text
    /// after the list.
    pub fn parse(s: &'a str) -> Result<Challenge<'a>, ValueError> {
        let parts = Parts::parse(s)?;
        if parts.is_digest()
            && let Some(q) = parts.params.get("qop")
        {
            check_qop_list(q)?;
        }
        Ok(Challenge(parts))
    }

    common_accessors!();

    /// Whether `stale=true` is present: the previous request's response was right but
    /// its nonce had expired, so the client retries without asking the user again.
    pub fn stale(&self) -> bool {
        self.0.flag("stale")
    }

    /// The `domain` parameter: space-separated URIs of the protection space.
    pub fn domain(&self) -> Option<AuthValue<'a>> {
        self.param("domain")
    }

    /// The tokens of the `qop` list (`"auth,auth-int"` yields `auth`, `auth-int`);
    /// nothing when the challenge has no `qop` (RFC 2069 style).
    pub fn qop_options(&self) -> impl Iterator<Item = &'a str> + 'a {
        self.param("qop")
            .map(|q| q.as_str())
            .into_iter()
            .flat_map(|s| s.split(','))
            .map(lex::trim_ws)
    }

    /// Whether the `qop` list offers `qop` ([`Qop::None`]: whether there is no list).
    pub fn offers_qop(&self, qop: Qop) -> bool {
        match qop.as_str() {
            Some(t) => self.qop_options().any(|q| q.eq_ignore_ascii_case(t)),
            None => self.param("qop").is_none(),
        }
    }
}

impl PartialEq for Challenge<'_> {
    fn eq(&self, other: &Challenge<'_>) -> bool {
        self.0.eq(&other.0)
    }
}

impl Eq for Challenge<'_> {}

impl Emit for Challenge<'_> {
    /// Writes the canonical form: the scheme (`Digest` for digest challenges), a space,
    /// and the parameters as written, separated by `", "`.
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        self.0.emit(out)
    }
}

/// Credentials: the value of `Authorization` or `Proxy-Authorization`.
///
/// ```
/// use sip_lite::wire::{Credentials, Qop};
///
/// let c = Credentials::parse(
///     r#"Digest username="bob", realm="biloxi.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
///        uri="sip:bob@biloxi.com", qop=auth, nc=0000000a, cnonce="0a4f113b",
///        response="6629fae49393a05397450978507c4ef1""#,
/// )?;
/// assert_eq!(c.username().unwrap(), "bob");
/// assert_eq!(c.nc(), Some(10));
/// assert_eq!(c.qop(), Ok(Qop::Auth));
/// # Ok::<(), sip_lite::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Credentials<'a>(Parts<'a>);

impl<'a> Credentials<'a> {
    /// Parses credentials.
    ///
    /// Besides the grammar, Digest credentials' `nc` must be eight hexadecimal digits and
    /// their `qop` a token. Required parameters are checked by
    /// [`crate::digest::Verifier::verify`].
    ///
    /// # Errors
    /// As [`Challenge::parse`]; [`ValueError::Number`] for a malformed `nc`.
    pub fn parse(s: &'a str) -> Result<Credentials<'a>, ValueError> {
        let parts = Parts::parse(s)?;
        if parts.is_digest() {
            if let Some(nc) = parts.params.get("nc")
                && parse_nc(nc.as_str()).is_none()
            {
                return Err(ValueError::Number);
            }
            if let Some(q) = parts.params.get("qop")
                && !lex::is_token(q.as_str())
            {
                return Err(ValueError::Param);
            }
        }
        Ok(Credentials(parts))
    }

    common_accessors!();

    /// The `username` parameter (with [`Credentials::userhash`], the hashed name).
    pub fn username(&self) -> Option<AuthValue<'a>> {
        self.param("username")
    }

    /// The `uri` parameter (`digest-uri`).
    pub fn uri(&self) -> Option<AuthValue<'a>> {
        self.param("uri")
    }

    /// The `response` parameter.
    pub fn response(&self) -> Option<AuthValue<'a>> {
        self.param("response")
    }

    /// The `cnonce` parameter.
    pub fn cnonce(&self) -> Option<AuthValue<'a>> {
        self.param("cnonce")
    }

    /// The `nc` parameter (nonce count), if present.
    pub fn nc(&self) -> Option<u32> {
        parse_nc(self.param("nc")?.as_str())
    }

    /// The `qop` parameter; [`Qop::None`] when it is absent.
    ///
    /// # Errors
    /// [`DigestError::UnsupportedQop`] for a value other than `auth` and `auth-int`.
    pub fn qop(&self) -> Result<Qop, DigestError> {
        match self.param("qop") {
            None => Ok(Qop::None),
            Some(v) => Qop::parse(v.as_str()),
        }
    }
}

impl PartialEq for Credentials<'_> {
    fn eq(&self, other: &Credentials<'_>) -> bool {
        self.0.eq(&other.0)
    }
}

impl Eq for Credentials<'_> {}

impl Emit for Credentials<'_> {
    /// Writes the canonical form, as for [`Challenge`].
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        self.0.emit(out)
    }
}

display_via_emit!(AuthValue, Challenge, Credentials);

#[cfg(test)]
mod tests {
    use super::*;

    fn emitted<E: Emit>(e: &E) -> heapless::String<512> {
        let mut v: heapless::Vec<u8, 512> = heapless::Vec::new();
        e.emit(&mut v).unwrap();
        heapless::String::from_utf8(v).unwrap()
    }

    #[test]
    fn test_parse_challenge() {
        let c = Challenge::parse(
            "Digest realm=\"testrealm@host.com\",\r\n qop=\"auth,auth-int\" ,\tnonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
        )
        .unwrap();
        assert!(c.is_digest());
        assert_eq!(c.realm().unwrap(), "testrealm@host.com");
        assert_eq!(c.nonce().unwrap(), "dcd98b7102dd2f0e8b11d0f600bfb0c093");
        assert_eq!(c.opaque().unwrap(), "5ccc069c403ebaf9f0171e9517f40e41");
        assert_eq!(c.algorithm(), Ok(Algorithm::Md5));
        assert!(!c.stale());
        assert!(c.offers_qop(Qop::Auth) && c.offers_qop(Qop::AuthInt));
        assert!(!c.offers_qop(Qop::None));
        assert_eq!(c.params().iter().count(), 4);
        assert_eq!(c.param("QOP").unwrap().as_raw(), "\"auth,auth-int\"");
    }

    #[test]
    fn test_parse_errors() {
        for (bad, err) in [
            ("", ValueError::Empty),
            ("Digest", ValueError::Empty),
            ("Digest realm", ValueError::Param),
            ("Digest realm=\"x", ValueError::UnterminatedQuote),
            ("Digest realm=\"x\", realm=\"y\"", ValueError::Param),
            ("Digest realm=\"x\", REALM=y", ValueError::Param),
            ("Digest realm=\"x\",", ValueError::Param),
            ("Digest realm=\"x\",, nonce=y", ValueError::Param),
            ("Digest realm=\"x\" nonce=y", ValueError::TrailingData),
            ("Digest realm=a b", ValueError::TrailingData),
            ("Digest realm=<x>", ValueError::Param),
            ("Digest,realm=x", ValueError::Unexpected),
            ("Digest abc==", ValueError::Param),
            ("Digest qop=\"auth,,x\"", ValueError::Param),
        ] {
            assert_eq!(Challenge::parse(bad), Err(err), "{bad:?}");
        }
        assert_eq!(
            Credentials::parse("Digest nc=0001"),
            Err(ValueError::Number)
        );
        assert_eq!(
            Credentials::parse("Digest qop=\"auth,auth-int\""),
            Err(ValueError::Param)
        );
    }

    #[test]
    fn test_other_schemes() {
        // RFC 4475 section 3.3.7 (regaut01).
        let c = Credentials::parse("NoOneKnowsThisScheme opaque-data=here").unwrap();
        assert!(!c.is_digest());
        assert_eq!(c.param("opaque-data").unwrap(), "here");
        let b = Credentials::parse("Bearer mF_9.B5f-4.1JqM==").unwrap();
        assert_eq!(b.token68(), Some("mF_9.B5f-4.1JqM=="));
        assert!(b.params().is_empty());
        let n = Challenge::parse(" Negotiate ").unwrap();
        assert_eq!(n.scheme(), "Negotiate");
        assert_eq!(n.token68(), None);
        assert_eq!(
            Challenge::parse("Bearer realm=\"x\", scope=\"a b\"")
                .unwrap()
                .param("scope")
                .unwrap(),
            "a b"
        );
    }

    #[test]
    fn test_values_and_escapes() {
        let c = Challenge::parse(r#"Digest realm="a\"b\\c", nonce=tok"#).unwrap();
        let r = c.realm().unwrap();
        assert_eq!(r, r#"a"b\c"#);
        assert_eq!(r.as_str(), r#"a\"b\\c"#);
        assert_eq!(r.as_plain(), None);
        let segs: heapless::Vec<&str, 4> = r.segments().collect();
        assert_eq!(segs, ["a", "\"b", "\\c"]);
        let n = c.nonce().unwrap();
        assert!(!n.is_quoted());
        assert_eq!(n, AuthValue { raw: "\"tok\"" });
        assert_eq!(n.segments().count(), 1);
    }

    #[test]
    fn test_emit_round_trip() {
        for v in [
            "digest  realm=\"x\" ,nonce=\"y\",\r\n algorithm=SHA-256,qop=\"auth\"",
            "NoOneKnowsThisScheme opaque-data=here",
            "Bearer abc=",
            "Negotiate",
        ] {
            let c = Challenge::parse(v).unwrap();
            let s = emitted(&c);
            assert_eq!(Challenge::parse(&s).unwrap(), c, "{s}");
            assert_eq!(c.buffer_len(), s.len());
        }
        let c = Challenge::parse("digest  realm=\"x\" ,nonce=y").unwrap();
        assert_eq!(emitted(&c), "Digest realm=\"x\", nonce=y");
    }

    #[test]
    fn test_emit_quoted() {
        let mut v: heapless::Vec<u8, 32> = heapless::Vec::new();
        AuthValue::emit_text_quoted(&mut v, r#"a"b\c"#).unwrap();
        assert_eq!(&v[..], br#""a\"b\\c""#);
        assert_eq!(
            AuthValue::emit_text_quoted(&mut v, "a\r\nb"),
            Err(EmitError::InvalidHeader)
        );
    }
}
