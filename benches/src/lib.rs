//! The corpus and the workloads behind the sip-lite comparison benchmarks, and (in
//! [`csta`], with the quick-xml baseline in [`csta_baseline`]) those behind the csta-core
//! comparison.
//!
//! Both the criterion bench (`benches/sip_parse.rs`) and the `sip-compare` table call the
//! functions in this crate, so they measure exactly the same code. Every workload returns
//! a count of what it produced ([`Outcome`]); [`self_check`] runs them all once and
//! checks that the three libraries agree on those counts, which is how we know they do
//! comparable work.
//!
//! # Levels
//!
//! - **split**: framing and header split, the cheapest public way each library offers to
//!   go from bytes to a list of (name, value) header lines:
//!   - sip-lite: [`Message::parse`] into a stack array of 32 [`HeaderIndex`] slots. It
//!     delimits the message, splits the start line (method classified, status code
//!     read), splits and classifies every header line, parses Content-Length and checks
//!     that the head is UTF-8. No value is copied; the Request-URI is *not* parsed.
//!   - rsip 0.4: `SipMessage::try_from(&[u8])`. nom tokenizer, then every header becomes
//!     an owned `String` inside a `Header` enum variant, the body is copied into a `Vec`,
//!     and method, Request-URI (typed `Uri`), version and status code are converted to
//!     typed values: rsip has no public way to split without parsing the Request-URI.
//!   - rsip 0.4 tokenizer only (supplementary row): the doc-hidden
//!     `rsip::message::sip_message::Tokenizer::tokenize`, i.e. rsip's split without the
//!     conversion to owned headers and typed start-line values. It still allocates the
//!     `Vec` of header tokens (and URI parameter tokens).
//!   - rsipstack 0.7: `SipMessage::try_from(&[u8])` (`sip::parser::parse_message`), its
//!     own hand-written parser (rsipstack 0.7 does not use rsip): two owned `String`s per
//!     header line, a `Header` enum variant per line, the body copied into a `Vec`, and
//!     the Request-URI parsed into a typed `Uri` (again not optional).
//! - **typed**: split, plus the typed values a transaction layer needs: Request-URI (or
//!   status), every Via, From, To, Call-ID, CSeq, Max-Forwards, every Contact,
//!   Content-Type and Content-Length. Each library uses its own typed API; for rsip and
//!   rsipstack we take the cheapest public path that parses from the borrowed header
//!   text (their `.typed()` methods clone the header `String` first, which would cost
//!   them one more allocation per header). Where a library has no typed form of a header
//!   it gets the text, which flatters it: rsip and rsipstack have no typed Call-ID (nor
//!   does sip-lite do more than check its characters), rsipstack has no typed
//!   Content-Type.
//! - **emit**: serialising one ~1 KB INVITE ([`EMIT_1K`]) from each library's in-memory
//!   form, prepared before timing; see [`EmitFixture`].
//!
//! # Corpus
//!
//! `corpus/*.sip` (CRLF line ends, exact Content-Length, mean ~900 bytes): an INVITE
//! from a desk phone relayed by a PBX (two Vias, Record-Route, SDP), a REGISTER with a
//! digest Authorization, the 200 OK with SDP answering the INVITE, and an INFO carrying
//! an ECMA-323 MakeCall as `application/csta+xml`. Every header is on its own line in
//! its full form, which all three libraries handle.
//!
//! The REGISTER's Contact carries no RFC 5626 `+sip.instance="<urn:uuid:...>"`,
//! although phones that support outbound send one: rsip 0.4 rejects any quoted header
//! parameter value in Contact, From and To (`;foo="bar"` fails to tokenize), and the
//! typed level could not then be compared.

use std::hint::black_box;

pub mod csta;
pub mod csta_baseline;
pub mod sip_txn;
pub mod timing;

use sip_lite::wire::{
    CSeq, Contact, HeaderIndex, HeaderName, MediaType, Message, Method, NameAddr, SliceSink,
    StartLine, Uri, Via, Writer,
};

/// The four corpus messages, as a desk phone, a PBX and a CTI client would send them.
pub const CORPUS: [CorpusMessage; 4] = [
    CorpusMessage {
        name: "INVITE+SDP",
        bytes: include_bytes!("../corpus/invite_sdp.sip"),
    },
    CorpusMessage {
        name: "REGISTER+digest",
        bytes: include_bytes!("../corpus/register_digest.sip"),
    },
    CorpusMessage {
        name: "200 OK+SDP",
        bytes: include_bytes!("../corpus/ok_200_sdp.sip"),
    },
    CorpusMessage {
        name: "INFO+CSTA",
        bytes: include_bytes!("../corpus/info_csta.sip"),
    },
];

/// The ~1 KB INVITE with SDP that the emit benchmarks build.
pub const EMIT_1K: &[u8] = include_bytes!("../corpus/emit_1k.sip");

/// Header storage the sip-lite workloads give [`Message::parse`].
pub const HEADER_SLOTS: usize = 32;

/// One corpus message.
#[derive(Debug, Clone, Copy)]
pub struct CorpusMessage {
    /// A short label.
    pub name: &'static str,
    /// The message in wire form.
    pub bytes: &'static [u8],
}

/// Total size of the corpus in bytes.
pub fn corpus_bytes() -> usize {
    CORPUS.iter().map(|m| m.bytes.len()).sum()
}

/// What went wrong in a workload (which should never happen on the corpus).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failed(pub &'static str);

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "workload failed: {}", self.0)
    }
}

impl std::error::Error for Failed {}

/// The result of one workload on one message: the number of header lines (split), typed
/// values (typed) or bytes (emit) it produced.
pub type Outcome = Result<usize, Failed>;

/// A parser under test: its name and its two parse levels.
#[derive(Debug, Clone, Copy)]
pub struct Parser {
    /// The name printed in tables and used as the criterion bench id.
    pub name: &'static str,
    /// Framing and header split.
    pub split: fn(&[u8]) -> Outcome,
    /// Split plus the typed headers.
    pub typed: Option<fn(&[u8]) -> Outcome>,
}

/// sip-lite first: it is the baseline of every ratio.
pub const PARSERS: [Parser; 4] = [
    Parser {
        name: "sip-lite",
        split: lite::split,
        typed: Some(lite::typed),
    },
    Parser {
        name: "rsip",
        split: rsip_parser::split,
        typed: Some(rsip_parser::typed),
    },
    Parser {
        name: "rsipstack",
        split: rsipstack_parser::split,
        typed: Some(rsipstack_parser::typed),
    },
    Parser {
        name: "rsip-tokenizer",
        split: rsip_parser::tokenize_only,
        typed: None,
    },
];

/// Runs `work` on every corpus message, keeping the results alive for the optimiser.
#[inline]
pub fn run_corpus(work: fn(&[u8]) -> Outcome) {
    for m in &CORPUS {
        let _ = black_box(work(black_box(m.bytes)));
    }
}

/// The sip-lite workloads.
pub mod lite {
    use super::*;

    /// [`Message::parse`] with 32 header slots on the stack; returns the header count.
    ///
    /// # Errors
    /// If the message does not parse.
    pub fn split(msg: &[u8]) -> Outcome {
        let mut slots = [HeaderIndex::EMPTY; HEADER_SLOTS];
        let m = Message::parse(msg, &mut slots).map_err(|_| Failed("sip-lite: message"))?;
        black_box(&m);
        Ok(m.header_count())
    }

    /// [`split`] plus Request-URI (or status), every Via, From, To, Call-ID, CSeq,
    /// Max-Forwards, every Contact, Content-Type and Content-Length as typed views.
    /// Returns the number of typed values.
    ///
    /// # Errors
    /// If the message or one of those headers does not parse.
    pub fn typed(msg: &[u8]) -> Outcome {
        let mut slots = [HeaderIndex::EMPTY; HEADER_SLOTS];
        let m = Message::parse(msg, &mut slots).map_err(|_| Failed("sip-lite: message"))?;
        let mut n = 1;
        match m.start_line() {
            StartLine::Request { .. } => {
                let uri = m.request_uri().ok_or(Failed("sip-lite: Request-URI"))?;
                black_box(uri.map_err(|_| Failed("sip-lite: Request-URI"))?);
            }
            StartLine::Response { status, .. } => {
                black_box(status);
            }
        }
        for via in m.vias() {
            black_box(via.map_err(|_| Failed("sip-lite: Via"))?);
            n += 1;
        }
        black_box(m.from().map_err(|_| Failed("sip-lite: From"))?);
        black_box(m.to().map_err(|_| Failed("sip-lite: To"))?);
        black_box(m.call_id().map_err(|_| Failed("sip-lite: Call-ID"))?);
        black_box(m.cseq().map_err(|_| Failed("sip-lite: CSeq"))?);
        n += 4;
        if let Some(mf) = m.max_forwards() {
            black_box(mf.map_err(|_| Failed("sip-lite: Max-Forwards"))?);
            n += 1;
        }
        for c in m.contacts() {
            black_box(c.map_err(|_| Failed("sip-lite: Contact"))?);
            n += 1;
        }
        if let Some(ct) = m.content_type() {
            black_box(ct.map_err(|_| Failed("sip-lite: Content-Type"))?);
            n += 1;
        }
        if let Some(cl) = m.content_length() {
            black_box(cl);
            n += 1;
        }
        Ok(n)
    }
}

/// The rsip 0.4 workloads.
pub mod rsip_parser {
    use super::*;
    use rsip::headers::UntypedHeader;
    use rsip::headers::typed::{Tokenize, TypedHeader};
    use rsip::message::HasHeaders;
    use rsip::{Header, SipMessage};

    /// `SipMessage::try_from(&[u8])`; returns the header count.
    ///
    /// # Errors
    /// If rsip rejects the message.
    pub fn split(msg: &[u8]) -> Outcome {
        let m = SipMessage::try_from(msg).map_err(|_| Failed("rsip: message"))?;
        let n = m.headers().iter().count();
        black_box(&m);
        Ok(n)
    }

    /// rsip's doc-hidden nom tokenizer alone (no owned headers, no typed start line);
    /// returns the header count.
    ///
    /// # Errors
    /// If rsip rejects the message.
    pub fn tokenize_only(msg: &[u8]) -> Outcome {
        use rsip::message::sip_message::Tokenizer;
        let (_, t) = Tokenizer::tokenize(msg).map_err(|_| Failed("rsip: tokenizer"))?;
        let n = match &t {
            Tokenizer::Request(r) => r.headers.len(),
            Tokenizer::Response(r) => r.headers.len(),
        };
        black_box(&t);
        Ok(n)
    }

    /// The typed form of one header, tokenized from the borrowed value. This is what
    /// `ToTypedHeader::typed()` does after cloning the header's `String`.
    fn typed_from<'a, T: TypedHeader<'a>>(value: &'a str) -> Result<T, rsip::Error> {
        T::try_from(<T::Tokenizer as Tokenize<'a>>::tokenize(value)?)
    }

    /// [`split`] plus typed Via, From, To, CSeq, Contact and Content-Type (rsip's typed
    /// headers), Max-Forwards and Content-Length as numbers (`num()`, `length()`) and
    /// Call-ID as text (rsip has no typed form). The Request-URI and status were typed by
    /// the split already. Returns the number of typed values.
    ///
    /// # Errors
    /// If the message or one of those headers does not parse.
    pub fn typed(msg: &[u8]) -> Outcome {
        let m = SipMessage::try_from(msg).map_err(|_| Failed("rsip: message"))?;
        match &m {
            SipMessage::Request(r) => {
                black_box(&r.uri);
            }
            SipMessage::Response(r) => {
                black_box(&r.status_code);
            }
        }
        let mut n = 1;
        for h in m.headers().iter() {
            match h {
                Header::Via(v) => {
                    let v: rsip::typed::Via =
                        typed_from(v.value()).map_err(|_| Failed("rsip: Via"))?;
                    black_box(v);
                }
                Header::From(v) => {
                    let v: rsip::typed::From =
                        typed_from(v.value()).map_err(|_| Failed("rsip: From"))?;
                    black_box(v);
                }
                Header::To(v) => {
                    let v: rsip::typed::To =
                        typed_from(v.value()).map_err(|_| Failed("rsip: To"))?;
                    black_box(v);
                }
                Header::CallId(v) => {
                    black_box(v.value());
                }
                Header::CSeq(v) => {
                    let v: rsip::typed::CSeq =
                        typed_from(v.value()).map_err(|_| Failed("rsip: CSeq"))?;
                    black_box(v);
                }
                Header::MaxForwards(v) => {
                    black_box(v.num().map_err(|_| Failed("rsip: Max-Forwards"))?);
                }
                Header::Contact(v) => {
                    let v: rsip::typed::Contact =
                        typed_from(v.value()).map_err(|_| Failed("rsip: Contact"))?;
                    black_box(v);
                }
                Header::ContentType(v) => {
                    let v: rsip::typed::ContentType =
                        typed_from(v.value()).map_err(|_| Failed("rsip: Content-Type"))?;
                    black_box(v);
                }
                Header::ContentLength(v) => {
                    black_box(v.length().map_err(|_| Failed("rsip: Content-Length"))?);
                }
                _ => continue,
            }
            n += 1;
        }
        black_box(&m);
        Ok(n)
    }
}

/// The rsipstack 0.7 workloads.
pub mod rsipstack_parser {
    use super::*;
    use rsipstack::sip::message::HasHeaders;
    use rsipstack::sip::{Header, SipMessage, typed};

    /// `SipMessage::try_from(&[u8])`; returns the header count.
    ///
    /// # Errors
    /// If rsipstack rejects the message.
    pub fn split(msg: &[u8]) -> Outcome {
        let m = SipMessage::try_from(msg).map_err(|_| Failed("rsipstack: message"))?;
        let n = m.headers().len();
        black_box(&m);
        Ok(n)
    }

    /// [`split`] plus typed Via, From, To, CSeq and Contact (rsipstack's typed headers,
    /// parsed from the borrowed value; Contact through `parse_header_list` as
    /// rsipstack's own `typed_contact_headers` does), Max-Forwards and Content-Length
    /// parsed as numbers, Call-ID and Content-Type as text (rsipstack has no typed form
    /// of either). The Request-URI and status were typed by the split already. Returns
    /// the number of typed values.
    ///
    /// # Errors
    /// If the message or one of those headers does not parse.
    pub fn typed(msg: &[u8]) -> Outcome {
        let m = SipMessage::try_from(msg).map_err(|_| Failed("rsipstack: message"))?;
        match &m {
            SipMessage::Request(r) => {
                black_box(&r.uri);
            }
            SipMessage::Response(r) => {
                black_box(&r.status_code);
            }
        }
        let mut n = 1;
        for h in m.headers().iter() {
            match h {
                Header::Via(v) => {
                    black_box(typed::Via::parse(v.value()).map_err(|_| Failed("rsipstack: Via"))?);
                }
                Header::From(v) => {
                    black_box(
                        typed::From::parse(v.value()).map_err(|_| Failed("rsipstack: From"))?,
                    );
                }
                Header::To(v) => {
                    black_box(typed::To::parse(v.value()).map_err(|_| Failed("rsipstack: To"))?);
                }
                Header::CallId(v) => {
                    black_box(v.value());
                }
                Header::CSeq(v) => {
                    black_box(
                        typed::CSeq::parse(v.value()).map_err(|_| Failed("rsipstack: CSeq"))?,
                    );
                }
                Header::MaxForwards(v) => {
                    black_box(
                        v.value()
                            .trim()
                            .parse::<u32>()
                            .map_err(|_| Failed("rsipstack: Max-Forwards"))?,
                    );
                }
                Header::Contact(v) => {
                    let list = typed::Contact::parse_header_list(v.value())
                        .map_err(|_| Failed("rsipstack: Contact"))?;
                    n += list.len();
                    black_box(list);
                    continue;
                }
                Header::ContentType(v) => {
                    black_box(v.value());
                }
                Header::ContentLength(v) => {
                    black_box(
                        v.value()
                            .trim()
                            .parse::<usize>()
                            .map_err(|_| Failed("rsipstack: Content-Length"))?,
                    );
                }
                _ => continue,
            }
            n += 1;
        }
        black_box(&m);
        Ok(n)
    }
}

/// A header value as sip-lite's emitter takes it: text, or a typed view.
#[derive(Debug, Clone, Copy)]
enum LiteValue<'a> {
    Text(&'a str, &'a str),
    Via(Via<'a>),
    Addr(HeaderName, NameAddr<'a>),
    Contact(Contact<'a>),
    CSeq(CSeq<'a>),
    MediaType(MediaType<'a>),
}

/// The emit workloads: one ~1 KB INVITE held in each library's own in-memory form,
/// built before timing.
///
/// - sip-lite text: [`Writer::request`] with a parsed [`Uri`], then
///   [`Writer::header`] with name and value text for every header, then
///   [`Writer::finish`] with the body (which writes Content-Length), into a reused
///   2 KiB stack buffer. This mirrors rsip's and rsipstack's form: typed start line,
///   header values held as text.
/// - sip-lite typed: the same, but Via, From, To, CSeq, Contact and Content-Type are
///   written from typed views ([`Writer::header_typed`]), as a stack building a
///   request does.
/// - rsip: `Request::to_string()` (its `Display`, the only serialiser), into a new
///   `String`.
/// - rsipstack: `Request::to_bytes()`, into a new `Vec<u8>`.
#[derive(Debug)]
pub struct EmitFixture {
    method: Method<'static>,
    uri: Uri<'static>,
    text: Vec<(&'static str, &'static str)>,
    typed: Vec<LiteValue<'static>>,
    body: &'static [u8],
    rsip: rsip::Request,
    rsipstack: rsipstack::sip::Request,
}

/// Size of the stack buffer sip-lite emits into.
pub const EMIT_BUF: usize = 2048;

impl EmitFixture {
    /// Builds every library's form of [`EMIT_1K`].
    ///
    /// # Errors
    /// If a library cannot parse the message.
    pub fn new() -> Result<EmitFixture, Failed> {
        // The header storage must outlive the typed views, which borrow only from the
        // static message text; a leaked array of 32 slots is the simplest owner.
        let slots: &'static mut [HeaderIndex] =
            Box::leak(Box::new([HeaderIndex::EMPTY; HEADER_SLOTS]));
        let m = Message::parse(EMIT_1K, slots).map_err(|_| Failed("sip-lite: emit fixture"))?;
        let method = m.method().ok_or(Failed("sip-lite: emit fixture method"))?;
        let uri = m
            .request_uri()
            .ok_or(Failed("sip-lite: emit fixture URI"))?
            .map_err(|_| Failed("sip-lite: emit fixture URI"))?;
        let mut text = Vec::new();
        let mut typed = Vec::new();
        for h in m.headers() {
            if h.kind == HeaderName::ContentLength {
                continue;
            }
            text.push((h.name, h.value));
            let bad = |_| Failed("sip-lite: emit fixture header");
            typed.push(match h.kind {
                HeaderName::Via => LiteValue::Via(Via::parse(h.value).map_err(bad)?),
                HeaderName::From | HeaderName::To => {
                    LiteValue::Addr(h.kind, NameAddr::parse(h.value).map_err(bad)?)
                }
                HeaderName::Contact => LiteValue::Contact(Contact::parse(h.value).map_err(bad)?),
                HeaderName::CSeq => LiteValue::CSeq(CSeq::parse(h.value).map_err(bad)?),
                HeaderName::ContentType => {
                    LiteValue::MediaType(MediaType::parse(h.value).map_err(bad)?)
                }
                _ => LiteValue::Text(h.name, h.value),
            });
        }
        let rsip = rsip::Request::try_from(EMIT_1K).map_err(|_| Failed("rsip: emit fixture"))?;
        let rsipstack = rsipstack::sip::Request::try_from(EMIT_1K)
            .map_err(|_| Failed("rsipstack: emit fixture"))?;
        Ok(EmitFixture {
            method,
            uri,
            text,
            typed,
            body: m.body(),
            rsip,
            rsipstack,
        })
    }

    /// sip-lite, header values as text; returns the bytes written to `buf`.
    ///
    /// # Errors
    /// If `buf` is too small.
    pub fn lite_text(&self, buf: &mut [u8]) -> Outcome {
        let fail = |_| Failed("sip-lite: emit");
        let mut w = Writer::request(SliceSink::new(buf), self.method, &self.uri).map_err(fail)?;
        for &(name, value) in &self.text {
            w.header(name, value).map_err(fail)?;
        }
        Ok(w.finish(self.body).map_err(fail)?.len())
    }

    /// sip-lite, Via, From, To, CSeq, Contact and Content-Type from typed views; returns
    /// the bytes written to `buf`.
    ///
    /// # Errors
    /// If `buf` is too small.
    pub fn lite_typed(&self, buf: &mut [u8]) -> Outcome {
        let fail = |_| Failed("sip-lite: emit");
        let mut w = Writer::request(SliceSink::new(buf), self.method, &self.uri).map_err(fail)?;
        for v in &self.typed {
            match v {
                LiteValue::Text(name, value) => w.header(name, value),
                LiteValue::Via(v) => w.header_typed(HeaderName::Via, v),
                LiteValue::Addr(name, v) => w.header_typed(*name, v),
                LiteValue::Contact(v) => w.header_typed(HeaderName::Contact, v),
                LiteValue::CSeq(v) => w.header_typed(HeaderName::CSeq, v),
                LiteValue::MediaType(v) => w.header_typed(HeaderName::ContentType, v),
            }
            .map_err(fail)?;
        }
        Ok(w.finish(self.body).map_err(fail)?.len())
    }

    /// rsip: `Request::to_string()`; returns the length.
    ///
    /// # Errors
    /// Never; the signature matches the other workloads.
    pub fn rsip(&self) -> Outcome {
        let s = self.rsip.to_string();
        let n = s.len();
        black_box(s);
        Ok(n)
    }

    /// rsipstack: `Request::to_bytes()`; returns the length.
    ///
    /// # Errors
    /// Never; the signature matches the other workloads.
    pub fn rsipstack(&self) -> Outcome {
        let v = self.rsipstack.to_bytes();
        let n = v.len();
        black_box(v);
        Ok(n)
    }

    /// The output of each emitter, for checking: (name, bytes).
    ///
    /// # Errors
    /// If an emitter fails.
    pub fn outputs(&self) -> Result<Vec<(&'static str, Vec<u8>)>, Failed> {
        let mut buf = [0u8; EMIT_BUF];
        let n = self.lite_text(&mut buf)?;
        let text = buf[..n].to_vec();
        let n = self.lite_typed(&mut buf)?;
        let typed = buf[..n].to_vec();
        Ok(vec![
            ("sip-lite", text),
            ("sip-lite-typed", typed),
            ("rsip", self.rsip.to_string().into_bytes()),
            ("rsipstack", self.rsipstack.to_bytes()),
        ])
    }
}

/// What [`self_check`] found: per corpus message, the header count and typed count all
/// parsers agreed on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// (message name, size, header lines, typed values).
    pub messages: Vec<(&'static str, usize, usize, usize)>,
    /// (emitter name, output size).
    pub emitted: Vec<(&'static str, usize)>,
}

/// Runs every workload once and checks that the libraries agree: same header count at
/// the split level, same number of typed values at the typed level, and emitted
/// messages that parse back to the same header count and body.
///
/// # Errors
/// A description of the first disagreement.
pub fn self_check() -> Result<CheckReport, String> {
    let mut messages = Vec::new();
    for m in &CORPUS {
        let mut counts: Vec<(&str, usize, Option<usize>)> = Vec::new();
        for p in &PARSERS {
            let split = (p.split)(m.bytes).map_err(|e| format!("{}: {e}", m.name))?;
            let typed = match p.typed {
                Some(t) => Some(t(m.bytes).map_err(|e| format!("{}: {e}", m.name))?),
                None => None,
            };
            counts.push((p.name, split, typed));
        }
        let (_, split0, typed0) = counts[0];
        for &(name, split, typed) in &counts[1..] {
            if split != split0 {
                return Err(format!(
                    "{}: {name} split {split} header lines, sip-lite {split0}",
                    m.name
                ));
            }
            if typed.is_some() && typed != typed0 {
                return Err(format!(
                    "{}: {name} produced {typed:?} typed values, sip-lite {typed0:?}",
                    m.name
                ));
            }
        }
        messages.push((m.name, m.bytes.len(), split0, typed0.unwrap_or(0)));
    }

    let fixture = EmitFixture::new().map_err(|e| e.to_string())?;
    let mut slots = [HeaderIndex::EMPTY; HEADER_SLOTS];
    let original = Message::parse(EMIT_1K, &mut slots).map_err(|e| format!("{e:?}"))?;
    let mut emitted = Vec::new();
    for (name, out) in fixture.outputs().map_err(|e| e.to_string())? {
        let mut slots = [HeaderIndex::EMPTY; HEADER_SLOTS];
        let back = Message::parse(&out, &mut slots)
            .map_err(|e| format!("emit {name}: output does not parse: {e:?}"))?;
        if back.header_count() != original.header_count() || back.body() != original.body() {
            return Err(format!(
                "emit {name}: {} headers and a {}-byte body, expected {} and {}",
                back.header_count(),
                back.body().len(),
                original.header_count(),
                original.body().len()
            ));
        }
        emitted.push((name, out.len()));
    }
    Ok(CheckReport { messages, emitted })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_corpus_is_wire_form() {
        for m in &CORPUS {
            let mut slots = [HeaderIndex::EMPTY; HEADER_SLOTS];
            let msg = Message::parse(m.bytes, &mut slots).unwrap();
            // Content-Length is right and nothing follows the body.
            assert_eq!(msg.content_length(), Some(msg.body().len()), "{}", m.name);
            assert_eq!(
                msg.head().len() + msg.body().len(),
                m.bytes.len(),
                "{}",
                m.name
            );
            // CRLF line ends only.
            let head = msg.head().as_bytes();
            for (i, &b) in head.iter().enumerate() {
                if b == b'\n' {
                    assert_eq!(head[i - 1], b'\r', "{}: bare LF at {i}", m.name);
                }
            }
        }
        let mean = corpus_bytes() / CORPUS.len();
        assert!((850..=950).contains(&mean), "mean corpus size {mean}");
    }

    #[test]
    fn test_parsers_agree() {
        let report = self_check().unwrap();
        assert_eq!(report.messages.len(), CORPUS.len());
    }

    #[test]
    fn test_lite_emit_reproduces_the_message() {
        let f = EmitFixture::new().unwrap();
        let mut buf = [0u8; EMIT_BUF];
        let n = f.lite_text(&mut buf).unwrap();
        assert_eq!(&buf[..n], EMIT_1K);
    }
}
