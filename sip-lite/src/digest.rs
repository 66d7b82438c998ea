//! Digest authentication (RFC 2617, RFC 7616, RFC 8760) for SIP (RFC 3261 section 22).
//!
//! The header values are parsed by [`crate::wire::Challenge`] and
//! [`crate::wire::Credentials`]; this module computes and checks the digests, with MD5,
//! SHA-256 and SHA-512/256 and their `-sess` variants, and builds the values to send.
//! Hashes are fed piece by piece: nothing is copied into a buffer and nothing allocates.
//! The core has no random number generator, so nonces and cnonces come from the caller.
//!
//! # Client
//!
//! On a 401 (or 407), pick the challenge with [`select_challenge`], answer it with
//! [`CredentialsRepr::answer`] and send the request again with the result in an
//! `Authorization` (or `Proxy-Authorization`) header, incrementing the nonce count for
//! every request that reuses the nonce.
//!
//! # Server
//!
//! Send a [`ChallengeRepr`] in `WWW-Authenticate` (or `Proxy-Authenticate`); when the
//! request comes back, parse its credentials and check them with [`Verifier::verify`],
//! using the password or a stored HA1 ([`ha1`]). A [`DigestError::StaleNonce`] asks for
//! a new challenge with `stale=true`; the other errors for a plain new challenge (or 403).
//!
//! ```
//! use sip_lite::digest::{ChallengeRepr, CredentialsRepr, Request, Secret, Verifier};
//! use sip_lite::wire::{Challenge, Credentials, Emit};
//!
//! // Server: challenge.
//! let repr = ChallengeRepr::new("atlanta.example.com", "bf1c2d3e4f");
//! let mut buf = [0u8; 256];
//! let mut sink = sip_lite::wire::SliceSink::new(&mut buf);
//! repr.emit(&mut sink)?;
//! let www_authenticate = core::str::from_utf8(sink.written()).unwrap();
//!
//! // Client: answer.
//! let challenge = Challenge::parse(www_authenticate)?;
//! let request = Request::new("REGISTER", "sip:atlanta.example.com", b"");
//! let answer = CredentialsRepr::answer(
//!     &challenge, &request, "alice", Secret::Password("secret"), "0a4f113b", 1,
//! )?;
//! let mut buf = [0u8; 512];
//! let mut sink = sip_lite::wire::SliceSink::new(&mut buf);
//! answer.emit(&mut sink)?;
//! let authorization = core::str::from_utf8(sink.written()).unwrap();
//!
//! // Server: verify.
//! let credentials = Credentials::parse(authorization)?;
//! let verifier = Verifier::for_challenge(&repr, "REGISTER");
//! let ok = verifier.verify(&credentials, Secret::Password("secret"))?;
//! assert_eq!(ok.username, "alice");
//! assert_eq!(ok.nc, Some(1));
//! # Ok::<(), sip_lite::Error>(())
//! ```

use core::fmt;

use md5::Md5;
use sha2::{Digest as _, Sha256, Sha512_256};

use crate::error::{DigestError, EmitError};
use crate::wire::{
    AuthValue, Challenge, Credentials, Emit, HeaderName, Message, Sink, StatusCode, Uri, Writer,
};

pub use crate::wire::{Algorithm, Qop};

/// A digest in lowercase hexadecimal: 32 characters for MD5, 64 for SHA-256 and
/// SHA-512/256. Stored inline, without allocation.
///
/// Also the form of a stored HA1 ([`ha1`], [`Secret::Ha1`]). `==` compares in variable
/// time; compare secrets with [`HexDigest::ct_eq`].
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct HexDigest {
    buf: [u8; HexDigest::MAX_LEN],
    len: u8,
}

impl HexDigest {
    /// The longest digest: 64 hexadecimal digits (256 bits).
    pub const MAX_LEN: usize = 64;

    fn from_bytes(bytes: &[u8]) -> HexDigest {
        let mut d = HexDigest {
            buf: [0; HexDigest::MAX_LEN],
            // At most 32 octets fit, so the length fits a u8.
            len: (bytes.len().min(HexDigest::MAX_LEN / 2) * 2) as u8,
        };
        crate::wire::lex::hex_encode(bytes, &mut d.buf);
        d
    }

    /// Reads a digest written in hexadecimal (a stored HA1), in either case.
    ///
    /// # Errors
    /// [`DigestError::Syntax`] with [`ValueError::Number`](crate::ValueError::Number) if
    /// `hex` is empty, longer than [`HexDigest::MAX_LEN`] or not hexadecimal.
    pub fn parse(hex: &str) -> Result<HexDigest, DigestError> {
        let bad = DigestError::Syntax(crate::ValueError::Number);
        let len = u8::try_from(hex.len()).map_err(|_| bad)?;
        if hex.is_empty() || hex.len() > HexDigest::MAX_LEN {
            return Err(bad);
        }
        let mut d = HexDigest {
            buf: [0; HexDigest::MAX_LEN],
            len,
        };
        for (dst, b) in d.buf.iter_mut().zip(hex.bytes()) {
            if !b.is_ascii_hexdigit() {
                return Err(bad);
            }
            *dst = b.to_ascii_lowercase();
        }
        Ok(d)
    }

    /// The hexadecimal digits.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The hexadecimal digits as octets.
    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..usize::from(self.len)).unwrap_or_default()
    }

    /// Number of hexadecimal digits.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether the digest is empty (never, for a digest this crate computed).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Compares with a hexadecimal string, ignoring case, in time that depends only on
    /// the lengths (the comparison of a secret with received text).
    pub fn ct_eq(&self, hex: &str) -> bool {
        let r = hex.as_bytes();
        // Length and alphabet are properties of the received text, not of the secret.
        if r.len() != self.as_bytes().len() || !r.iter().all(u8::is_ascii_hexdigit) {
            return false;
        }
        // Hexadecimal digits and lowercase letters have bit 0x20 set: OR-ing it in
        // lowercases `A`-`F` and leaves the rest as they are.
        let diff = self
            .as_bytes()
            .iter()
            .zip(r)
            .fold(0u8, |d, (&a, &b)| d | (a ^ (b | 0x20)));
        core::hint::black_box(diff) == 0
    }
}

impl fmt::Debug for HexDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HexDigest({})", self.as_str())
    }
}

impl fmt::Display for HexDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for HexDigest {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

/// What proves the user's identity: the password, or the HA1 computed from it.
///
/// A stored HA1 is `H(username ":" realm ":" password)` with the hash of the algorithm
/// without `-sess` ([`ha1`]); it is bound to the realm and, like the password, must be
/// kept secret. `Debug` does not show the secret.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum Secret<'s> {
    /// The password.
    Password(&'s str),
    /// A precomputed HA1 for the algorithm in use.
    Ha1(HexDigest),
}

impl fmt::Debug for Secret<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Secret::Password(_) => "Password(..)",
            Secret::Ha1(_) => "Ha1(..)",
        })
    }
}

/// Text fed to a hash: plain, or a parsed value whose escapes are resolved on the fly.
#[derive(Clone, Copy)]
enum Text<'a> {
    Str(&'a str),
    Wire(AuthValue<'a>),
}

/// One of the implemented hash functions.
enum Hasher {
    Md5(Md5),
    Sha256(Sha256),
    Sha512_256(Sha512_256),
}

impl Hasher {
    fn new(algorithm: Algorithm) -> Hasher {
        match algorithm.base() {
            Algorithm::Sha256 => Hasher::Sha256(Sha256::new()),
            Algorithm::Sha512_256 => Hasher::Sha512_256(Sha512_256::new()),
            _ => Hasher::Md5(Md5::new()),
        }
    }

    fn put(&mut self, bytes: &[u8]) -> &mut Hasher {
        match self {
            Hasher::Md5(h) => h.update(bytes),
            Hasher::Sha256(h) => h.update(bytes),
            Hasher::Sha512_256(h) => h.update(bytes),
        }
        self
    }

    fn text(&mut self, t: Text<'_>) -> &mut Hasher {
        match t {
            Text::Str(s) => {
                self.put(s.as_bytes());
            }
            Text::Wire(v) => {
                for s in v.segments() {
                    self.put(s.as_bytes());
                }
            }
        }
        self
    }

    fn colon(&mut self) -> &mut Hasher {
        self.put(b":")
    }

    fn finish(self) -> HexDigest {
        match self {
            Hasher::Md5(h) => HexDigest::from_bytes(&h.finalize()),
            Hasher::Sha256(h) => HexDigest::from_bytes(&h.finalize()),
            Hasher::Sha512_256(h) => HexDigest::from_bytes(&h.finalize()),
        }
    }
}

fn base_ha1(
    algorithm: Algorithm,
    username: Text<'_>,
    realm: Text<'_>,
    password: &str,
) -> HexDigest {
    let mut h = Hasher::new(algorithm);
    h.text(username)
        .colon()
        .text(realm)
        .colon()
        .put(password.as_bytes());
    h.finish()
}

fn hashed_username(algorithm: Algorithm, username: Text<'_>, realm: Text<'_>) -> HexDigest {
    let mut h = Hasher::new(algorithm);
    h.text(username).colon().text(realm);
    h.finish()
}

/// Computes the HA1 a server may store instead of the password:
/// `H(username ":" realm ":" password)`, with the hash of `algorithm` (`-sess` or not
/// makes no difference here; the session key is derived from it per request).
pub fn ha1(algorithm: Algorithm, username: &str, realm: &str, password: &str) -> HexDigest {
    base_ha1(algorithm, Text::Str(username), Text::Str(realm), password)
}

/// Computes the hashed user name of RFC 7616 section 3.4.4:
/// `H(username ":" realm)`, which a server with `userhash=true` may index its users by.
pub fn userhash(algorithm: Algorithm, username: &str, realm: &str) -> HexDigest {
    hashed_username(algorithm, Text::Str(username), Text::Str(realm))
}

/// The inputs of one response computation.
struct Inputs<'a> {
    algorithm: Algorithm,
    qop: Qop,
    /// The qop token as sent (ignored for [`Qop::None`]).
    qop_text: Text<'a>,
    nonce: Text<'a>,
    cnonce: Text<'a>,
    nc: Text<'a>,
    method: &'a str,
    uri: Text<'a>,
    body: &'a [u8],
}

impl Inputs<'_> {
    /// The `response` value for a base HA1 (RFC 7616 section 3.4.1 to 3.4.3).
    fn response(&self, ha1: &HexDigest) -> HexDigest {
        let alg = self.algorithm;
        let ha1 = if alg.is_session() {
            let mut h = Hasher::new(alg);
            h.put(ha1.as_bytes())
                .colon()
                .text(self.nonce)
                .colon()
                .text(self.cnonce);
            h.finish()
        } else {
            *ha1
        };
        let ha2 = {
            let mut h = Hasher::new(alg);
            h.put(self.method.as_bytes()).colon().text(self.uri);
            if self.qop == Qop::AuthInt {
                let mut body = Hasher::new(alg);
                body.put(self.body);
                h.colon().put(body.finish().as_bytes());
            }
            h.finish()
        };
        let mut h = Hasher::new(alg);
        h.put(ha1.as_bytes()).colon().text(self.nonce).colon();
        if self.qop != Qop::None {
            h.text(self.nc)
                .colon()
                .text(self.cnonce)
                .colon()
                .text(self.qop_text)
                .colon();
        }
        h.put(ha2.as_bytes());
        h.finish()
    }
}

/// The HA1 a secret stands for.
fn secret_ha1(
    secret: Secret<'_>,
    algorithm: Algorithm,
    username: Text<'_>,
    realm: Text<'_>,
) -> Result<HexDigest, DigestError> {
    match secret {
        Secret::Password(p) => Ok(base_ha1(algorithm, username, realm, p)),
        Secret::Ha1(d) if d.len() == algorithm.hex_len() => Ok(d),
        Secret::Ha1(_) => Err(DigestError::UnsupportedAlgorithm),
    }
}

/// The nonce count as eight lowercase hexadecimal digits.
fn nc_hex(nc: u32) -> [u8; 8] {
    let mut out = [0u8; 8];
    crate::wire::lex::hex_encode(&nc.to_be_bytes(), &mut out);
    out
}

/// The request a client authenticates: what the digest covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request<'a> {
    /// The method (`REGISTER`, `INVITE`, ...), as on the request line.
    pub method: &'a str,
    /// The `digest-uri`: the Request-URI, as on the request line.
    pub uri: &'a str,
    /// The body, covered by `qop=auth-int`.
    pub body: &'a [u8],
}

impl<'a> Request<'a> {
    /// A request with this method, Request-URI and body.
    pub const fn new(method: &'a str, uri: &'a str, body: &'a [u8]) -> Request<'a> {
        Request { method, uri, body }
    }
}

/// The quality of protection a client chooses: `auth` when offered, `auth-int` when it is
/// the only option, none without a `qop` list.
fn choose_qop(c: &Challenge<'_>) -> Result<Qop, DigestError> {
    if c.param("qop").is_none() {
        Ok(Qop::None)
    } else if c.offers_qop(Qop::Auth) {
        Ok(Qop::Auth)
    } else if c.offers_qop(Qop::AuthInt) {
        Ok(Qop::AuthInt)
    } else {
        Err(DigestError::UnsupportedQop)
    }
}

/// Picks the challenge a client answers among the values of the `WWW-Authenticate` (or
/// `Proxy-Authenticate`) headers of a response: the topmost Digest challenge with a
/// realm, a nonce, and an algorithm and quality of protection this crate implements
/// (RFC 8760 section 2.4). Values that do not parse are skipped.
///
/// ```
/// use sip_lite::digest::{Algorithm, select_challenge};
///
/// let values = [
///     r#"Digest realm="a", nonce="1", algorithm=SHA3-256"#,
///     r#"Digest realm="a", nonce="1", algorithm=SHA-256"#,
///     r#"Digest realm="a", nonce="1", algorithm=MD5"#,
/// ];
/// let c = select_challenge(values).unwrap();
/// assert_eq!(c.algorithm(), Ok(Algorithm::Sha256));
/// ```
pub fn select_challenge<'a, I>(values: I) -> Option<Challenge<'a>>
where
    I: IntoIterator<Item = &'a str>,
{
    values
        .into_iter()
        .filter_map(|v| Challenge::parse(v).ok())
        .find(|c| {
            c.is_digest()
                && c.realm().is_some()
                && c.nonce().is_some()
                && c.algorithm().is_ok()
                && choose_qop(c).is_ok()
        })
}

/// Digest credentials a client sends: the value of an `Authorization` or
/// `Proxy-Authorization` header, computed by [`CredentialsRepr::answer`].
///
/// Emits `Digest username="..", realm="..", nonce="..", uri="..", response="..",
/// algorithm=.., cnonce="..", opaque="..", qop=.., nc=........` (cnonce, qop and nc only
/// with a quality of protection, opaque only if the challenge had one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialsRepr<'a> {
    username: &'a str,
    userhash: Option<HexDigest>,
    realm: AuthValue<'a>,
    nonce: AuthValue<'a>,
    uri: &'a str,
    response: HexDigest,
    algorithm: Algorithm,
    cnonce: Option<&'a str>,
    opaque: Option<AuthValue<'a>>,
    qop: Qop,
    nc: u32,
}

impl<'a> CredentialsRepr<'a> {
    /// Answers `challenge` for `request` as `username`.
    ///
    /// `cnonce` is the client nonce, an unpredictable string the caller generates (the
    /// core has no random number generator); `nc` counts the requests made with this
    /// nonce, starting at 1. The quality of protection is `auth` when offered, `auth-int`
    /// when it is the only option, and none for an RFC 2069 challenge without `qop`
    /// (then `cnonce` and `nc` are not used, except by a `-sess` algorithm).
    ///
    /// # Errors
    /// - [`DigestError::Scheme`] if the challenge is not `Digest`;
    /// - [`DigestError::MissingParam`] without realm or nonce, or with an empty `cnonce`
    ///   where one is needed;
    /// - [`DigestError::UnsupportedAlgorithm`] for an unknown algorithm, or a
    ///   [`Secret::Ha1`] whose length does not fit the algorithm;
    /// - [`DigestError::UnsupportedQop`] if the `qop` list has neither `auth` nor
    ///   `auth-int`.
    pub fn answer(
        challenge: &Challenge<'a>,
        request: &Request<'a>,
        username: &'a str,
        secret: Secret<'_>,
        cnonce: &'a str,
        nc: u32,
    ) -> Result<CredentialsRepr<'a>, DigestError> {
        if !challenge.is_digest() {
            return Err(DigestError::Scheme);
        }
        let realm = challenge.realm().ok_or(DigestError::MissingParam)?;
        let nonce = challenge.nonce().ok_or(DigestError::MissingParam)?;
        let algorithm = challenge.algorithm()?;
        let qop = choose_qop(challenge)?;
        let uses_cnonce = qop != Qop::None || algorithm.is_session();
        if uses_cnonce && cnonce.is_empty() {
            return Err(DigestError::MissingParam);
        }
        let ha1 = secret_ha1(secret, algorithm, Text::Str(username), Text::Wire(realm))?;
        let nc_digits = nc_hex(nc);
        let inputs = Inputs {
            algorithm,
            qop,
            qop_text: Text::Str(qop.as_str().unwrap_or_default()),
            nonce: Text::Wire(nonce),
            cnonce: Text::Str(cnonce),
            nc: Text::Str(core::str::from_utf8(&nc_digits).unwrap_or_default()),
            method: request.method,
            uri: Text::Str(request.uri),
            body: request.body,
        };
        Ok(CredentialsRepr {
            username,
            userhash: None,
            realm,
            nonce,
            uri: request.uri,
            response: inputs.response(&ha1),
            algorithm,
            cnonce: uses_cnonce.then_some(cnonce),
            opaque: challenge.opaque(),
            qop,
            nc,
        })
    }

    /// Sends the user name hashed (`userhash=true`, RFC 7616 section 3.4.4), which a
    /// challenge with `userhash=true` allows. The response does not change.
    #[must_use]
    pub fn with_userhash(mut self) -> CredentialsRepr<'a> {
        self.userhash = Some(hashed_username(
            self.algorithm,
            Text::Str(self.username),
            Text::Wire(self.realm),
        ));
        self
    }

    /// The user name (in clear, also with [`CredentialsRepr::with_userhash`]).
    pub fn username(&self) -> &'a str {
        self.username
    }

    /// The computed `response`.
    pub fn response(&self) -> &HexDigest {
        &self.response
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The chosen quality of protection.
    pub fn qop(&self) -> Qop {
        self.qop
    }

    /// The nonce count.
    pub fn nc(&self) -> u32 {
        self.nc
    }
}

impl Emit for CredentialsRepr<'_> {
    /// # Errors
    /// [`EmitError::InvalidHeader`] if the user name, URI or cnonce holds control
    /// characters; else what the sink reports.
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        out.put(b"Digest username=")?;
        match &self.userhash {
            Some(h) => AuthValue::emit_text_quoted(out, h.as_str())?,
            None => AuthValue::emit_text_quoted(out, self.username)?,
        }
        out.put(b", realm=")?;
        self.realm.emit_quoted(out)?;
        out.put(b", nonce=")?;
        self.nonce.emit_quoted(out)?;
        out.put(b", uri=")?;
        AuthValue::emit_text_quoted(out, self.uri)?;
        out.put(b", response=\"")?;
        out.put(self.response.as_bytes())?;
        out.put(b"\", algorithm=")?;
        out.put(self.algorithm.as_str().as_bytes())?;
        if let Some(c) = self.cnonce {
            out.put(b", cnonce=")?;
            AuthValue::emit_text_quoted(out, c)?;
        }
        if let Some(o) = &self.opaque {
            out.put(b", opaque=")?;
            o.emit_quoted(out)?;
        }
        if let Some(q) = self.qop.as_str() {
            out.put(b", qop=")?;
            out.put(q.as_bytes())?;
            out.put(b", nc=")?;
            out.put(&nc_hex(self.nc))?;
        }
        if self.userhash.is_some() {
            out.put(b", userhash=true")?;
        }
        Ok(())
    }
}

/// A Digest challenge a server sends: the value of a `WWW-Authenticate` or
/// `Proxy-Authenticate` header.
///
/// Emits `Digest realm="..", domain="..", nonce="..", opaque="..", stale=true,
/// algorithm=.., qop="auth,auth-int", userhash=true`, leaving out what is not set.
/// To offer several algorithms (RFC 8760 section 2.4), send one header per algorithm,
/// the preferred first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChallengeRepr<'a> {
    /// The protection space, typically the domain (`atlanta.example.com`).
    pub realm: &'a str,
    /// A fresh, unpredictable server nonce.
    pub nonce: &'a str,
    /// Data the client returns unchanged.
    pub opaque: Option<&'a str>,
    /// Space-separated URIs of the protection space.
    pub domain: Option<&'a str>,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// The qualities of protection offered ([`Qop::None`] entries are skipped; an empty
    /// list makes an RFC 2069 challenge).
    pub qop: &'a [Qop],
    /// Whether the previous response was right but its nonce stale.
    pub stale: bool,
    /// Whether the client may hash its user name.
    pub userhash: bool,
}

impl<'a> ChallengeRepr<'a> {
    /// A challenge with `algorithm=MD5` and `qop="auth"`, the combination every SIP
    /// client implements; set [`ChallengeRepr::algorithm`] to offer another.
    pub const fn new(realm: &'a str, nonce: &'a str) -> ChallengeRepr<'a> {
        ChallengeRepr {
            realm,
            nonce,
            opaque: None,
            domain: None,
            algorithm: Algorithm::Md5,
            qop: &[Qop::Auth],
            stale: false,
            userhash: false,
        }
    }
}

impl Emit for ChallengeRepr<'_> {
    /// # Errors
    /// [`EmitError::InvalidHeader`] if a string holds control characters; else what the
    /// sink reports.
    fn emit<S: Sink + ?Sized>(&self, out: &mut S) -> Result<(), EmitError> {
        out.put(b"Digest realm=")?;
        AuthValue::emit_text_quoted(out, self.realm)?;
        if let Some(d) = self.domain {
            out.put(b", domain=")?;
            AuthValue::emit_text_quoted(out, d)?;
        }
        out.put(b", nonce=")?;
        AuthValue::emit_text_quoted(out, self.nonce)?;
        if let Some(o) = self.opaque {
            out.put(b", opaque=")?;
            AuthValue::emit_text_quoted(out, o)?;
        }
        if self.stale {
            out.put(b", stale=true")?;
        }
        out.put(b", algorithm=")?;
        out.put(self.algorithm.as_str().as_bytes())?;
        let mut sep: &[u8] = b", qop=\"";
        for q in self.qop.iter().filter_map(|q| q.as_str()) {
            out.put(sep)?;
            out.put(q.as_bytes())?;
            sep = b",";
        }
        if sep == b"," {
            out.put(b"\"")?;
        }
        if self.userhash {
            out.put(b", userhash=true")?;
        }
        Ok(())
    }
}

/// What a server expects of credentials: checks them with [`Verifier::verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verifier<'a> {
    /// The realm challenged.
    pub realm: &'a str,
    /// The nonce the server considers current. A server whose nonces carry their own
    /// validity (a timestamp and a MAC) checks the received nonce first and passes it
    /// here if it is valid, or anything else (such as a fresh nonce) if it has expired.
    pub nonce: &'a str,
    /// The opaque value sent, which must come back unchanged; `None` skips the check.
    pub opaque: Option<&'a str>,
    /// Accepted algorithms; empty accepts every one this crate implements.
    pub algorithms: &'a [Algorithm],
    /// Accepted qualities of protection; include [`Qop::None`] to accept RFC 2069
    /// clients that ignore `qop`.
    pub qops: &'a [Qop],
    /// The request's method.
    pub method: &'a str,
    /// The Request-URI; when set, the `uri` parameter must be equal or equivalent to it
    /// (RFC 3261 section 19.1.4). `None` skips the check (a proxy checking
    /// `Proxy-Authorization` of a request whose URI it has rewritten, say).
    pub request_uri: Option<&'a str>,
    /// The request's body, covered by `qop=auth-int`.
    pub body: &'a [u8],
    /// The user the secret belongs to. When set, the credentials must name this user
    /// (in clear or hashed). Required to check a password against credentials with
    /// `userhash=true`.
    pub username: Option<&'a str>,
}

/// The result of a successful [`Verifier::verify`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Verified<'a> {
    /// The user name as sent (hashed with `userhash=true`).
    pub username: AuthValue<'a>,
    /// The algorithm used.
    pub algorithm: Algorithm,
    /// The quality of protection used.
    pub qop: Qop,
    /// The nonce count, for the server's replay check (it must grow with every request
    /// made with the same nonce).
    pub nc: Option<u32>,
    /// The client nonce.
    pub cnonce: Option<AuthValue<'a>>,
}

impl<'a> Verifier<'a> {
    /// Expects credentials for `realm` and `nonce` on a `method` request without body,
    /// with any algorithm, `qop=auth` or `auth-int`, and no URI, opaque or user check.
    pub const fn new(realm: &'a str, nonce: &'a str, method: &'a str) -> Verifier<'a> {
        Verifier {
            realm,
            nonce,
            opaque: None,
            algorithms: &[],
            qops: &[Qop::Auth, Qop::AuthInt],
            method,
            request_uri: None,
            body: &[],
            username: None,
        }
    }

    /// Expects the answer to `challenge`: its realm, nonce, opaque value, algorithm and
    /// qualities of protection (none if it offered none).
    pub fn for_challenge(challenge: &'a ChallengeRepr<'a>, method: &'a str) -> Verifier<'a> {
        let offered = challenge.qop.iter().any(|q| *q != Qop::None);
        Verifier {
            opaque: challenge.opaque,
            algorithms: core::slice::from_ref(&challenge.algorithm),
            qops: if offered { challenge.qop } else { &[Qop::None] },
            ..Verifier::new(challenge.realm, challenge.nonce, method)
        }
    }

    /// Checks `credentials` with the user's secret.
    ///
    /// The response is compared in constant time. When the response is right for a
    /// nonce other than [`Verifier::nonce`], the result is [`DigestError::StaleNonce`].
    ///
    /// # Errors
    /// - [`DigestError::Scheme`]: not `Digest`;
    /// - [`DigestError::MissingParam`]: no username, realm, nonce, uri or response, no
    ///   cnonce or nc with a qop (no cnonce with a `-sess` algorithm), or `userhash=true`
    ///   with a password but no [`Verifier::username`];
    /// - [`DigestError::UnsupportedAlgorithm`], [`DigestError::UnsupportedQop`]: values
    ///   this crate does not implement, or a [`Secret::Ha1`] of another length;
    /// - [`DigestError::Mismatch`]: an algorithm or qop not accepted, another realm,
    ///   opaque, URI or user than expected, or a wrong response for another nonce;
    /// - [`DigestError::BadResponse`]: a wrong response for the expected nonce;
    /// - [`DigestError::StaleNonce`]: a right response for another nonce.
    pub fn verify<'c>(
        &self,
        credentials: &Credentials<'c>,
        secret: Secret<'_>,
    ) -> Result<Verified<'c>, DigestError> {
        if !credentials.is_digest() {
            return Err(DigestError::Scheme);
        }
        let algorithm = credentials.algorithm()?;
        if !self.algorithms.is_empty() && !self.algorithms.contains(&algorithm) {
            return Err(DigestError::Mismatch);
        }
        let missing = DigestError::MissingParam;
        let username = credentials.username().ok_or(missing)?;
        let realm = credentials.realm().ok_or(missing)?;
        let nonce = credentials.nonce().ok_or(missing)?;
        let uri = credentials.uri().ok_or(missing)?;
        let response = credentials.response().ok_or(missing)?;
        let qop = credentials.qop()?;
        if !self.qops.contains(&qop) {
            return Err(DigestError::Mismatch);
        }
        let cnonce = credentials.cnonce();
        let nc = credentials.param("nc");
        if (qop != Qop::None || algorithm.is_session()) && cnonce.is_none() {
            return Err(missing);
        }
        if qop != Qop::None && nc.is_none() {
            return Err(missing);
        }
        if !realm.eq_text(self.realm) {
            return Err(DigestError::Mismatch);
        }
        if let Some(o) = self.opaque
            && !credentials.opaque().is_some_and(|v| v.eq_text(o))
        {
            return Err(DigestError::Mismatch);
        }
        if let Some(r) = self.request_uri
            && !uri_matches(uri, r)
        {
            return Err(DigestError::Mismatch);
        }
        let hashed = credentials.userhash();
        if let Some(u) = self.username {
            let same = if hashed {
                userhash(algorithm, u, self.realm).ct_eq(username.as_str())
            } else {
                username.eq_text(u)
            };
            if !same {
                return Err(DigestError::Mismatch);
            }
        }
        let clear_name = match (self.username, hashed) {
            (Some(u), _) => Text::Str(u),
            (None, false) => Text::Wire(username),
            (None, true) if matches!(secret, Secret::Password(_)) => return Err(missing),
            (None, true) => Text::Str(""),
        };
        let ha1 = secret_ha1(secret, algorithm, clear_name, Text::Str(self.realm))?;
        let qop_text = credentials.param("qop").map_or(Text::Str(""), Text::Wire);
        let inputs = Inputs {
            algorithm,
            qop,
            qop_text,
            nonce: Text::Wire(nonce),
            cnonce: cnonce.map_or(Text::Str(""), Text::Wire),
            nc: nc.map_or(Text::Str(""), Text::Wire),
            method: self.method,
            uri: Text::Wire(uri),
            body: self.body,
        };
        let right = inputs.response(&ha1).ct_eq(response.as_str());
        let current = nonce.eq_text(self.nonce);
        match (right, current) {
            (true, true) => Ok(Verified {
                username,
                algorithm,
                qop,
                nc: credentials.nc(),
                cnonce,
            }),
            (true, false) => Err(DigestError::StaleNonce),
            (false, true) => Err(DigestError::BadResponse),
            (false, false) => Err(DigestError::Mismatch),
        }
    }
}

/// Whether a `digest-uri` designates the Request-URI: equal as text, or equivalent SIP,
/// SIPS or tel URIs.
fn uri_matches(digest_uri: AuthValue<'_>, request_uri: &str) -> bool {
    if digest_uri.eq_text(request_uri) {
        return true;
    }
    match (Uri::parse(digest_uri.as_str()), Uri::parse(request_uri)) {
        (Ok(a), Ok(b)) => a.equivalent(&b),
        _ => false,
    }
}

crate::wire::display_via_emit!(CredentialsRepr, ChallengeRepr);

// ---- client state ----

/// Who asked for credentials: the user agent or registrar (401, `WWW-Authenticate`,
/// answered in `Authorization`) or a proxy on the way (407, `Proxy-Authenticate`,
/// answered in `Proxy-Authorization`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ChallengeKind {
    /// 401, `WWW-Authenticate` / `Authorization`.
    Www = 0,
    /// 407, `Proxy-Authenticate` / `Proxy-Authorization`.
    Proxy = 1,
}

impl ChallengeKind {
    /// Both kinds, in index order (`kind as usize`).
    pub const BOTH: [ChallengeKind; 2] = [ChallengeKind::Www, ChallengeKind::Proxy];

    /// The kind a 401 or 407 asks for; `None` for any other status.
    pub fn of(status: StatusCode) -> Option<ChallengeKind> {
        match status {
            StatusCode::UNAUTHORIZED => Some(ChallengeKind::Www),
            StatusCode::PROXY_AUTHENTICATION_REQUIRED => Some(ChallengeKind::Proxy),
            _ => None,
        }
    }

    /// 401 or 407.
    pub fn status(self) -> StatusCode {
        match self {
            ChallengeKind::Www => StatusCode::UNAUTHORIZED,
            ChallengeKind::Proxy => StatusCode::PROXY_AUTHENTICATION_REQUIRED,
        }
    }

    /// The header that carries the challenge.
    pub fn challenge_header(self) -> HeaderName {
        match self {
            ChallengeKind::Www => HeaderName::WwwAuthenticate,
            ChallengeKind::Proxy => HeaderName::ProxyAuthenticate,
        }
    }

    /// The header that carries the answer.
    pub fn credentials_header(self) -> HeaderName {
        match self {
            ChallengeKind::Www => HeaderName::Authorization,
            ChallengeKind::Proxy => HeaderName::ProxyAuthorization,
        }
    }
}

/// The challenge a client answers in a 401 or 407 response: the one
/// [`select_challenge`] picks among the headers of its kind, with its raw text (what a
/// client keeps to answer later requests).
#[derive(Debug, Clone, Copy)]
pub struct ReceivedChallenge<'a> {
    kind: ChallengeKind,
    raw: &'a str,
    challenge: Challenge<'a>,
}

impl<'a> ReceivedChallenge<'a> {
    /// The answerable challenge of `msg`; `None` when `msg` is not a 401 or 407, or
    /// carries no challenge this crate can answer.
    pub fn from_response(msg: &Message<'a>) -> Option<ReceivedChallenge<'a>> {
        let kind = ChallengeKind::of(msg.status()?)?;
        let raw = msg
            .header_lines(kind.challenge_header())
            .find(|v| select_challenge(core::iter::once(*v)).is_some())?;
        let challenge = Challenge::parse(raw).ok()?;
        Some(ReceivedChallenge {
            kind,
            raw,
            challenge,
        })
    }

    /// Who asked.
    pub fn kind(&self) -> ChallengeKind {
        self.kind
    }

    /// The header value, as received.
    pub fn raw(&self) -> &'a str {
        self.raw
    }

    /// The parsed challenge.
    pub fn challenge(&self) -> &Challenge<'a> {
        &self.challenge
    }

    /// Whether the server said `stale=true`: the nonce expired, the credentials were
    /// right, answer again.
    pub fn stale(&self) -> bool {
        self.challenge.stale()
    }

    /// Whether this challenge has the nonce of `previous` (the raw text of a challenge
    /// answered before; `false` when it does not parse).
    pub fn same_nonce(&self, previous: &str) -> bool {
        Challenge::parse(previous)
            .ok()
            .and_then(|old| old.nonce())
            .zip(self.challenge.nonce())
            .is_some_and(|(a, b)| a == b)
    }

    /// Whether a client that answered `previous` may answer this challenge: a first
    /// challenge, a new nonce, or `stale=true`. The same nonce again without
    /// `stale=true` means the answer was refused (wrong credentials).
    pub fn may_answer(&self, previous: Option<&str>) -> bool {
        self.stale() || !previous.is_some_and(|p| self.same_nonce(p))
    }
}

/// Why an answer to a challenge could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AnswerError {
    /// The header did not fit the message.
    Emit(EmitError),
    /// The challenge cannot be answered with the secret given.
    Digest(DigestError),
}

impl fmt::Display for AnswerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnswerError::Emit(e) => write!(f, "cannot write the credentials: {e}"),
            AnswerError::Digest(e) => write!(f, "cannot answer the challenge: {e}"),
        }
    }
}

impl core::error::Error for AnswerError {}

impl From<EmitError> for AnswerError {
    fn from(e: EmitError) -> Self {
        AnswerError::Emit(e)
    }
}

impl From<DigestError> for AnswerError {
    fn from(e: DigestError) -> Self {
        AnswerError::Digest(e)
    }
}

/// What a client answers a challenge with, for one request.
#[derive(Debug, Clone, Copy)]
pub struct Answer<'a> {
    /// The request being authenticated.
    pub request: Request<'a>,
    /// The user name.
    pub username: &'a str,
    /// The password or HA1.
    pub secret: Secret<'a>,
    /// A fresh client nonce (the caller generates it).
    pub cnonce: &'a str,
    /// The nonce count of this request, starting at 1 for a new nonce.
    pub nc: u32,
}

/// Writes the `Authorization` (or, for a proxy's challenge, `Proxy-Authorization`)
/// header answering the challenge whose raw text is `challenge`.
///
/// # Errors
/// [`AnswerError::Digest`] when the challenge does not parse or cannot be answered
/// ([`CredentialsRepr::answer`]); [`AnswerError::Emit`] when the header does not fit.
pub fn write_answer<S: Sink>(
    w: &mut Writer<S>,
    kind: ChallengeKind,
    challenge: &str,
    answer: &Answer<'_>,
) -> Result<(), AnswerError> {
    let challenge = Challenge::parse(challenge).map_err(DigestError::from)?;
    let creds = CredentialsRepr::answer(
        &challenge,
        &answer.request,
        answer.username,
        answer.secret,
        answer.cnonce,
        answer.nc,
    )?;
    w.header_typed(kind.credentials_header(), &creds)?;
    Ok(())
}

/// The client side of digest authentication for a user agent that answers the
/// challenges to its requests (RFC 3261 section 22.2): it keeps the last challenge (in
/// `N` octets), counts the requests answered with its nonce, decides whether a new 401
/// or 407 may be answered (once per nonce; again after `stale=true`), and writes the
/// answer into every later request.
///
/// ```
/// use sip_lite::digest::{DigestClient, Request, Secret};
/// use sip_lite::wire::{HeaderIndex, Message, Method, SliceSink, Writer};
///
/// let resp = b"SIP/2.0 401 Unauthorized\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n\
/// From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INFO\r\n\
/// WWW-Authenticate: Digest realm=\"h\", nonce=\"n1\", qop=\"auth\"\r\n\
/// Content-Length: 0\r\n\r\n";
/// let mut hs = [HeaderIndex::EMPTY; 16];
/// let msg = Message::parse(resp, &mut hs)?;
/// let mut client = DigestClient::<256>::new();
/// assert!(client.handle_challenge(&msg).is_ok());
/// // The same nonce again, without stale=true: the answer was refused.
/// assert!(client.handle_challenge(&msg).is_err());
///
/// let mut buf = [0u8; 512];
/// let mut w = Writer::request_str(SliceSink::new(&mut buf), Method::Info, "sip:b@h")?;
/// let request = Request::new("INFO", "sip:b@h", b"");
/// assert!(client.write(&mut w, request, "alice", Secret::Password("pw"), "c0ffee")?);
/// assert_eq!(client.nc(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct DigestClient<const N: usize> {
    kind: ChallengeKind,
    text: heapless::String<N>,
    nc: u32,
}

/// Why [`DigestClient::handle_challenge`] refused to answer a challenge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ChallengeRefused {
    /// Not a 401 or 407, or no challenge this crate can answer.
    Unanswerable,
    /// The nonce just answered, again, without `stale=true`: the credentials are wrong.
    Repeated,
    /// The challenge is longer than the client keeps.
    TooLong,
}

impl fmt::Display for ChallengeRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ChallengeRefused::Unanswerable => "no challenge that can be answered",
            ChallengeRefused::Repeated => "the answer to this nonce was refused",
            ChallengeRefused::TooLong => "the challenge is too long to keep",
        })
    }
}

impl core::error::Error for ChallengeRefused {}

impl<const N: usize> Default for DigestClient<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> DigestClient<N> {
    /// A client that has not been challenged.
    pub const fn new() -> Self {
        DigestClient {
            kind: ChallengeKind::Www,
            text: heapless::String::new(),
            nc: 0,
        }
    }

    /// Whether a challenge is kept (and answered in every request).
    pub fn is_challenged(&self) -> bool {
        !self.text.is_empty()
    }

    /// Who asked, when a challenge is kept.
    pub fn kind(&self) -> Option<ChallengeKind> {
        self.is_challenged().then_some(self.kind)
    }

    /// The nonce count of the last answer written.
    pub fn nc(&self) -> u32 {
        self.nc
    }

    /// Takes a 401 or 407 to one of our requests. `Ok` with the kind when the request
    /// may be sent again (the challenge is kept, the nonce count restarts).
    ///
    /// # Errors
    /// [`ChallengeRefused`]: the request failed for good; what was kept stays.
    pub fn handle_challenge(
        &mut self,
        msg: &Message<'_>,
    ) -> Result<ChallengeKind, ChallengeRefused> {
        let new = ReceivedChallenge::from_response(msg).ok_or(ChallengeRefused::Unanswerable)?;
        let previous =
            (self.is_challenged() && self.kind == new.kind()).then_some(self.text.as_str());
        if !new.may_answer(previous) {
            return Err(ChallengeRefused::Repeated);
        }
        let mut text = heapless::String::new();
        text.push_str(new.raw())
            .map_err(|_| ChallengeRefused::TooLong)?;
        self.kind = new.kind();
        self.text = text;
        self.nc = 0;
        Ok(self.kind)
    }

    /// Forgets the challenge.
    pub fn clear(&mut self) {
        self.text.clear();
        self.nc = 0;
    }

    /// Writes the answer to the kept challenge for `request` into `w`, with the next
    /// nonce count and `cnonce` (fresh for each request). `Ok(false)` when no challenge
    /// is kept (nothing written).
    ///
    /// # Errors
    /// [`AnswerError`] as [`write_answer`]; the nonce count is used up either way.
    pub fn write<S: Sink>(
        &mut self,
        w: &mut Writer<S>,
        request: Request<'_>,
        username: &str,
        secret: Secret<'_>,
        cnonce: &str,
    ) -> Result<bool, AnswerError> {
        if !self.is_challenged() {
            return Ok(false);
        }
        self.nc = self.nc.wrapping_add(1);
        let answer = Answer {
            request,
            username,
            secret,
            cnonce,
            nc: self.nc,
        };
        write_answer(w, self.kind, &self.text, &answer)?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 401 or 407 carrying `challenge`.
    fn challenged(status: u16, challenge: &str, out: &mut [u8]) -> usize {
        let header = if status == 407 {
            "Proxy-Authenticate"
        } else {
            "WWW-Authenticate"
        };
        let mut sink = crate::wire::SliceSink::new(out);
        for part in [
            "SIP/2.0 ",
            if status == 407 {
                "407 Proxy"
            } else {
                "401 Unauthorized"
            },
            "\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nFrom: <sip:a@h>;tag=1\r\n",
            "To: <sip:b@h>;tag=2\r\nCall-ID: c\r\nCSeq: 1 INFO\r\n",
            header,
            ": ",
            challenge,
            "\r\nContent-Length: 0\r\n\r\n",
        ] {
            sink.put(part.as_bytes()).unwrap();
        }
        sink.written().len()
    }

    fn handle(
        client: &mut DigestClient<128>,
        status: u16,
        challenge: &str,
    ) -> Result<ChallengeKind, ChallengeRefused> {
        let mut buf = [0u8; 512];
        let n = challenged(status, challenge, &mut buf);
        let mut hs = [crate::wire::HeaderIndex::EMPTY; 16];
        let msg = Message::parse(&buf[..n], &mut hs).unwrap();
        client.handle_challenge(&msg)
    }

    #[test]
    fn test_digest_client_answers_once_per_nonce() {
        let mut c = DigestClient::<128>::new();
        assert_eq!(c.kind(), None);
        let first = r#"Digest realm="r", nonce="n1", qop="auth""#;
        assert_eq!(handle(&mut c, 401, first), Ok(ChallengeKind::Www));
        // The same nonce again: refused; with stale=true: answered again.
        assert_eq!(handle(&mut c, 401, first), Err(ChallengeRefused::Repeated));
        let stale = r#"Digest realm="r", nonce="n1", qop="auth", stale=true"#;
        assert_eq!(handle(&mut c, 401, stale), Ok(ChallengeKind::Www));
        // A new nonce, or the same nonce from a proxy, is a new challenge.
        assert_eq!(
            handle(&mut c, 401, r#"Digest realm="r", nonce="n2""#),
            Ok(ChallengeKind::Www)
        );
        assert_eq!(
            handle(&mut c, 407, r#"Digest realm="r", nonce="n2""#),
            Ok(ChallengeKind::Proxy)
        );
        assert_eq!(c.kind(), Some(ChallengeKind::Proxy));
        // Nothing answerable, or too long to keep: refused, the old one stays.
        assert_eq!(
            handle(&mut c, 401, r#"Basic realm="r""#),
            Err(ChallengeRefused::Unanswerable)
        );
        let long = "Digest realm=\"r\", nonce=\"01234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789\"";
        assert_eq!(handle(&mut c, 401, long), Err(ChallengeRefused::TooLong));
        assert_eq!(c.kind(), Some(ChallengeKind::Proxy));
    }

    /// An INFO being written into `buf`.
    fn info(buf: &mut [u8]) -> Writer<crate::wire::SliceSink<'_>> {
        let sink = crate::wire::SliceSink::new(buf);
        Writer::request_str(sink, crate::wire::Method::Info, "sip:b@h").unwrap()
    }

    #[test]
    fn test_digest_client_counts_nonce_uses_and_verifies() {
        let mut c = DigestClient::<128>::new();
        assert_eq!(
            handle(&mut c, 401, r#"Digest realm="r", nonce="n1", qop="auth""#),
            Ok(ChallengeKind::Www)
        );
        let request = Request::new("INFO", "sip:b@h", b"");
        let mut buf = [0u8; 512];
        for nc in 1..=2 {
            let mut w = info(&mut buf);
            assert_eq!(
                c.write(&mut w, request, "alice", Secret::Password("pw"), "cn"),
                Ok(true)
            );
            assert_eq!(c.nc(), nc);
            let n = w.finish(b"").unwrap().len();
            let mut hs = [crate::wire::HeaderIndex::EMPTY; 16];
            let msg = Message::parse(&buf[..n], &mut hs).unwrap();
            let creds = Credentials::parse(msg.header(HeaderName::Authorization).unwrap()).unwrap();
            let ok = Verifier::new("r", "n1", "INFO")
                .verify(&creds, Secret::Password("pw"))
                .unwrap();
            assert_eq!(ok.nc, Some(nc));
        }
        c.clear();
        let mut w = info(&mut buf);
        assert_eq!(
            c.write(&mut w, request, "alice", Secret::Password("pw"), "cn"),
            Ok(false)
        );
    }

    #[test]
    fn test_hex_digest() {
        let d = HexDigest::parse("0123456789ABCDEF").unwrap();
        assert_eq!(d.as_str(), "0123456789abcdef");
        assert!(d.ct_eq("0123456789abcDEF"));
        assert!(!d.ct_eq("0123456789abcdee"));
        assert!(!d.ct_eq("0123456789abcde"));
        // A non-hex character that ORs into a digit must not match.
        assert!(!d.ct_eq("\x10123456789abcdef"));
        assert!(HexDigest::parse("").is_err());
        assert!(HexDigest::parse("xy").is_err());
        let long = [b'a'; 65];
        assert!(HexDigest::parse(core::str::from_utf8(&long).unwrap()).is_err());
        assert_eq!(
            HexDigest::from_bytes(&[0x00, 0xff, 0x5a]).as_str(),
            "00ff5a"
        );
    }

    #[test]
    fn test_nc_hex() {
        assert_eq!(&nc_hex(1), b"00000001");
        assert_eq!(&nc_hex(0xdeadbeef), b"deadbeef");
    }

    #[test]
    fn test_ha1() {
        // RFC 2617 section 3.5.
        // python3 -c "import hashlib;print(hashlib.md5(b'Mufasa:testrealm@host.com:Circle Of Life').hexdigest())"
        assert_eq!(
            ha1(
                Algorithm::Md5Sess,
                "Mufasa",
                "testrealm@host.com",
                "Circle Of Life"
            )
            .as_str(),
            "939e7578ed9e3c518a452acee763bce9"
        );
    }

    #[test]
    fn test_secret_debug_redacts() {
        let mut s: heapless::String<32> = heapless::String::new();
        core::fmt::write(&mut s, format_args!("{:?}", Secret::Password("hunter2"))).unwrap();
        assert_eq!(s, "Password(..)");
    }
}
