//! The CSTA (ECMA-323 XML) workloads: csta-core against the quick-xml baseline of
//! [`csta_baseline`](crate::csta_baseline), on the four messages of `corpus/csta/`.
//!
//! Both the criterion bench (`benches/csta_codec.rs`) and the `csta-compare` table call
//! these functions, so they measure the same code.
//!
//! # Operations
//!
//! - **decode**: bytes to a typed message.
//!   - csta-core: [`csta_core::decode`] on the `&[u8]`. It checks well-formedness of the
//!     whole document, finds the root by name, reads the edition from the namespace and
//!     builds the typed message; text values *borrow* from the input and entity
//!     references stay undecoded until read ([`csta_core::xml::Text`]). No allocation.
//!   - quick-xml + serde: `quick_xml::de::from_str` on the `&str` into the owned structs
//!     of [`csta_baseline`](crate::csta_baseline): a `String` per text value (entities
//!     resolved), a `Vec` for the snapshot list, enums for the closed value sets.
//!
//!   [`self_check`] decodes every message once with both, outside any timing, and
//!   requires the same [`key_fields`](crate::csta_baseline::key_fields), so both do the
//!   same extraction. What differs is the representation: borrowed and lazily unescaped
//!   for csta-core, owned and eagerly unescaped for the baseline.
//! - **encode**: typed message to bytes, from a message decoded once before timing.
//!   - csta-core: [`Message::encode_with`] (edition 3, with the XML declaration) into a
//!     reused [`ENCODE_BUF`]-byte buffer: schema order, escaping, namespace.
//!   - quick-xml: [`csta_baseline::encode`](crate::csta_baseline::encode), hand-written
//!     `quick_xml::Writer` events into a reused `Vec<u8>` (cleared, capacity kept).
//!
//!   [`self_check`] requires both outputs to decode back to the same key fields, and
//!   reports whether each is byte-for-byte the corpus file.

use std::hint::black_box;

use csta_core::message::monitor::MonitorObject;
use csta_core::message::{Decoded, Edition, EncodeOptions, Message, decode};
use csta_core::types::{ConnectionId, CrossRefId, DeviceRef};

use crate::csta_baseline::{self as baseline, Kind};
use crate::{Failed, Outcome};

/// The corpus, in [`Kind::ALL`] order.
pub const CSTA_CORPUS: [Kind; 4] = Kind::ALL;

/// Size of the buffer csta-core encodes into (every corpus message fits in 2 KiB).
pub const ENCODE_BUF: usize = 4096;

/// The options of every csta-core encode: edition 3 (the corpus namespace) with the XML
/// declaration, as the baseline writes.
pub const ENCODE_OPTIONS: EncodeOptions = EncodeOptions {
    edition: Edition::Ed3,
    declaration: true,
};

/// Total size of the CSTA corpus in bytes.
pub fn corpus_bytes() -> usize {
    CSTA_CORPUS.iter().map(|k| k.xml().len()).sum()
}

/// csta-core: [`decode`]; returns the input length.
///
/// # Errors
/// If the message does not decode.
#[inline]
pub fn core_decode(kind: Kind) -> Outcome {
    let xml = black_box(kind.xml().as_bytes());
    let d = decode(xml).map_err(|_| Failed("csta-core: decode"))?;
    black_box(&d);
    Ok(xml.len())
}

/// quick-xml + serde: [`baseline::decode`]; returns the input length.
///
/// # Errors
/// If the message does not decode.
#[inline]
pub fn baseline_decode(kind: Kind) -> Outcome {
    let xml = black_box(kind.xml());
    let d = baseline::decode(kind, xml).map_err(|_| Failed("quick-xml: decode"))?;
    black_box(&d);
    Ok(xml.len())
}

/// One corpus message decoded by both sides, ready to encode.
#[derive(Debug, Clone)]
pub struct EncodeFixture {
    /// Which message.
    pub kind: Kind,
    core: Message<'static>,
    baseline: baseline::Decoded,
}

impl EncodeFixture {
    /// Decodes `kind` with both codecs.
    ///
    /// # Errors
    /// If either codec rejects the message.
    pub fn new(kind: Kind) -> Result<EncodeFixture, Failed> {
        let core = decode(kind.xml().as_bytes())
            .map_err(|_| Failed("csta-core: encode fixture"))?
            .message;
        let baseline =
            baseline::decode(kind, kind.xml()).map_err(|_| Failed("quick-xml: encode fixture"))?;
        Ok(EncodeFixture {
            kind,
            core,
            baseline,
        })
    }

    /// One fixture per corpus message.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn all() -> Result<Vec<EncodeFixture>, Failed> {
        CSTA_CORPUS.iter().map(|&k| EncodeFixture::new(k)).collect()
    }

    /// csta-core: [`Message::encode_with`] into `buf`; returns the length written.
    ///
    /// # Errors
    /// If `buf` is too small.
    #[inline]
    pub fn core(&self, buf: &mut [u8]) -> Outcome {
        let n = black_box(&self.core)
            .encode_with(&ENCODE_OPTIONS, buf)
            .map_err(|_| Failed("csta-core: encode"))?;
        black_box(&buf[..n]);
        Ok(n)
    }

    /// quick-xml: [`baseline::encode`] into `out` (cleared first); returns the length.
    ///
    /// # Errors
    /// Never in practice (writing into a `Vec`).
    #[inline]
    pub fn baseline(&self, out: &mut Vec<u8>) -> Outcome {
        let n = baseline::encode(black_box(&self.baseline), out)
            .map_err(|_| Failed("quick-xml: encode"))?;
        black_box(&out[..n]);
        Ok(n)
    }
}

/// A field that is required in some csta-core versions and optional in others (peers
/// leave out elements the schema requires, so csta-core relaxes them over time): the
/// key fields read either form.
trait MaybeOne {
    type Item;
    fn one(&self) -> Option<&Self::Item>;
}

macro_rules! maybe_one {
    ($($t:ident),*) => {$(
        impl<'a> MaybeOne for $t<'a> {
            type Item = $t<'a>;
            fn one(&self) -> Option<&$t<'a>> {
                Some(self)
            }
        }
        impl<'a> MaybeOne for Option<$t<'a>> {
            type Item = $t<'a>;
            fn one(&self) -> Option<&$t<'a>> {
                self.as_ref()
            }
        }
    )*};
}

maybe_one!(ConnectionId, CrossRefId, DeviceRef);

/// The [`baseline::key_fields`] of a csta-core message, built from csta-core's own types.
///
/// Text values are decoded (entities resolved) with `Text`'s `Display`.
pub fn key_fields(message: &Message<'_>) -> Vec<(&'static str, String)> {
    let mut out: Vec<(&'static str, String)> = Vec::new();
    let conn = |out: &mut Vec<(&'static str, String)>,
                c: &dyn MaybeOne<Item = ConnectionId<'_>>| {
        let Some(c) = c.one() else {
            return;
        };
        if let Some(id) = &c.call_id {
            out.push(("callID", id.to_string()));
        }
        if let Some(d) = &c.device_id {
            out.push(("deviceID", d.id.to_string()));
        }
    };
    let device = |d: &dyn MaybeOne<Item = DeviceRef<'_>>| match d.one() {
        None => "(absent)".to_owned(),
        Some(DeviceRef::DeviceIdentifier(id) | DeviceRef::NumberDialed(id)) => id.id.to_string(),
        Some(DeviceRef::NotKnown) => "notKnown".to_owned(),
        Some(DeviceRef::Restricted) => "restricted".to_owned(),
        Some(DeviceRef::NotRequired) => "notRequired".to_owned(),
        Some(DeviceRef::NotSpecified) => "notSpecified".to_owned(),
    };
    match message {
        Message::MakeCall(m) => {
            out.push(("callingDevice", m.calling_device.id.to_string()));
            out.push((
                "calledDirectoryNumber",
                m.called_directory_number.id.to_string(),
            ));
            if let Some(a) = m.auto_originate {
                out.push(("autoOriginate", a.as_str().to_owned()));
            }
        }
        Message::DeliveredEvent(e) => {
            if let Some(id) = e.monitor_cross_ref_id.one() {
                out.push(("monitorCrossRefID", id.to_string()));
            }
            conn(&mut out, &e.connection);
            out.push(("alertingDevice", device(&e.alerting_device)));
            out.push(("callingDevice", device(&e.calling_device)));
            out.push(("calledDevice", device(&e.called_device)));
            out.push(("lastRedirectionDevice", device(&e.last_redirection_device)));
            if let Some(s) = e.local_connection_info {
                out.push(("localConnectionInfo", s.as_str().to_owned()));
            }
            if let Some(c) = &e.cause {
                out.push(("cause", c.to_string()));
            }
        }
        Message::SnapshotDeviceResponse(r) => {
            let service = r
                .cross_ref_id_or_snapshot_data
                .as_ref()
                .and_then(|c| c.service_cross_ref_id.as_ref())
                .or(r.service_cross_ref_id.as_ref());
            match service {
                Some(id) if r.calls().is_empty() => {
                    out.push(("serviceCrossRefID", id.to_string()));
                }
                _ => {
                    out.push(("items", r.calls().len().to_string()));
                    for info in r.calls() {
                        conn(&mut out, &info.connection_identifier);
                        let states = info
                            .local_call_state
                            .as_ref()
                            .and_then(|s| s.compound_call_state.as_ref());
                        for s in states.map_or(&[][..], |s| &s.states) {
                            out.push(("localConnectionState", s.as_str().to_owned()));
                        }
                    }
                }
            }
        }
        Message::MonitorStart(m) => {
            match &m.monitor_object {
                MonitorObject::Device(d) => {
                    out.push(("deviceObject", d.id.to_string()));
                    if let Some(t) = &d.type_of_number {
                        out.push(("typeOfNumber", t.to_string()));
                    }
                }
                MonitorObject::Call(c) => {
                    if let Some(id) = &c.call_id {
                        out.push(("callID", id.to_string()));
                    }
                }
            }
            if let Some(f) = &m.requested_monitor_filter {
                out.push(("presentFlags", f.iter().count().to_string()));
                out.push(("trueFlags", f.count_true().to_string()));
            }
            if let Some(t) = m.monitor_type {
                out.push(("monitorType", t.as_str().to_owned()));
            }
        }
        other => out.push(("unexpected message", other.name().to_owned())),
    }
    out
}

/// What [`self_check`] found for one corpus message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CstaCheck {
    /// Which message.
    pub kind: Kind,
    /// Input size in bytes.
    pub size: usize,
    /// How many key fields both decoders agreed on.
    pub fields: usize,
    /// The ECMA-323 edition csta-core read from the namespace.
    pub edition: Option<Edition>,
    /// csta-core's encoded size, and whether it is the corpus file byte for byte.
    pub core_encoded: (usize, bool),
    /// The baseline's encoded size, and whether it is the corpus file byte for byte.
    pub baseline_encoded: (usize, bool),
}

/// Runs every workload once, outside timing, and checks that both sides do equivalent
/// work: the same key fields after decoding, and encoded outputs that decode back (with
/// csta-core) to those same key fields.
///
/// # Errors
/// A description of the first disagreement.
pub fn self_check() -> Result<Vec<CstaCheck>, String> {
    let mut report = Vec::new();
    for kind in CSTA_CORPUS {
        let name = kind.name();
        let ours: Decoded<'_> =
            decode(kind.xml().as_bytes()).map_err(|e| format!("{name}: csta-core: {e:?}"))?;
        if ours.message.name() != name {
            return Err(format!(
                "{name}: csta-core decoded a {}",
                ours.message.name()
            ));
        }
        let theirs =
            baseline::decode(kind, kind.xml()).map_err(|e| format!("{name}: quick-xml: {e}"))?;
        let expected = baseline::key_fields(&theirs);
        let got = key_fields(&ours.message);
        if got != expected {
            return Err(format!(
                "{name}: key fields differ\n  csta-core: {got:?}\n  quick-xml: {expected:?}"
            ));
        }

        let fixture = EncodeFixture::new(kind).map_err(|e| format!("{name}: {e}"))?;
        let mut buf = vec![0u8; ENCODE_BUF];
        let n = fixture.core(&mut buf).map_err(|e| format!("{name}: {e}"))?;
        let core_out = buf[..n].to_vec();
        let mut out = Vec::new();
        let m = fixture
            .baseline(&mut out)
            .map_err(|e| format!("{name}: {e}"))?;
        let baseline_out = out[..m].to_vec();
        for (who, bytes) in [("csta-core", &core_out), ("quick-xml", &baseline_out)] {
            let back = decode(bytes)
                .map_err(|e| format!("{name}: {who} output does not decode: {e:?}"))?;
            if key_fields(&back.message) != expected {
                return Err(format!(
                    "{name}: {who} output decodes to other key fields: {:?}",
                    key_fields(&back.message)
                ));
            }
        }
        report.push(CstaCheck {
            kind,
            size: kind.xml().len(),
            fields: expected.len(),
            edition: ours.edition,
            core_encoded: (core_out.len(), core_out == kind.xml().as_bytes()),
            baseline_encoded: (baseline_out.len(), baseline_out == kind.xml().as_bytes()),
        });
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_csta_sides_agree() {
        let report = self_check().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(report.len(), CSTA_CORPUS.len());
        for c in &report {
            assert!(c.fields > 0, "{:?}", c.kind);
        }
    }
}
