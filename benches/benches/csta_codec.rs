//! Criterion benchmarks: csta-core against quick-xml (+ serde) on the CSTA corpus, in the
//! same run.
//!
//! ```text
//! cargo bench -p sip-benches --bench csta_codec
//! ```
//!
//! - `csta-decode/<message>/*`: one ECMA-323 message to a typed value. csta-core's
//!   borrowing, zero-allocation `decode` against `quick_xml::de::from_str` into owned
//!   structs.
//! - `csta-encode/<message>/*`: the typed value (decoded once, before timing) to XML.
//!   csta-core's `Message::encode_with` into a reused buffer against hand-written
//!   `quick_xml::Writer` events into a reused `Vec<u8>`.
//!
//! Both implementations of a message are in the same group. Throughput is the corpus
//! message size (decode input, encode output; they are the same bytes). What each side
//! does is documented in `sip_benches::csta`, which `csta-compare` shares. Measurement
//! times are short (0.5 s warm-up, 1 s measurement); the numbers report, they never fail
//! a build.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sip_benches::csta::{
    CSTA_CORPUS, ENCODE_BUF, EncodeFixture, baseline_decode, core_decode, self_check,
};

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(1))
        .sample_size(50)
}

fn decode(c: &mut Criterion) {
    if let Err(e) = self_check() {
        panic!("csta-core and the quick-xml baseline disagree: {e}");
    }
    for kind in CSTA_CORPUS {
        let mut g = c.benchmark_group(format!("csta-decode/{}", kind.name()));
        g.throughput(Throughput::Bytes(kind.xml().len() as u64));
        g.bench_function("csta-core", |b| b.iter(|| black_box(core_decode(kind))));
        g.bench_function("quick-xml+serde", |b| {
            b.iter(|| black_box(baseline_decode(kind)))
        });
        g.finish();
    }
}

fn encode(c: &mut Criterion) {
    let fixtures = match EncodeFixture::all() {
        Ok(f) => f,
        Err(e) => panic!("encode fixtures: {e}"),
    };
    let mut buf = vec![0u8; ENCODE_BUF];
    let mut out = Vec::with_capacity(ENCODE_BUF);
    for f in &fixtures {
        let len = match f.core(&mut buf) {
            Ok(n) => n,
            Err(e) => panic!("{}: {e}", f.kind.name()),
        };
        let mut g = c.benchmark_group(format!("csta-encode/{}", f.kind.name()));
        g.throughput(Throughput::Bytes(len as u64));
        g.bench_function("csta-core", |b| {
            b.iter(|| black_box(f.core(black_box(&mut buf))))
        });
        g.bench_function("quick-xml", |b| {
            b.iter(|| black_box(f.baseline(black_box(&mut out))))
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = decode, encode
}
criterion_main!(benches);
