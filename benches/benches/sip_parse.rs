//! Criterion benchmarks: sip-lite against rsip 0.4 and rsipstack 0.7 on the same corpus,
//! in the same run.
//!
//! ```text
//! cargo bench -p sip-benches --bench sip_parse
//! ```
//!
//! - `split/*`: framing and header split of all four corpus messages per iteration.
//! - `typed/*`: split plus Request-URI or status, every Via, From, To, Call-ID, CSeq,
//!   Max-Forwards, every Contact, Content-Type and Content-Length.
//! - `emit/*`: one ~1 KB INVITE per iteration.
//!
//! What each library does at each level is documented in `sip_benches` (the workloads
//! live there so that `sip-compare` measures the same code). Throughput is the input
//! (split, typed) or output (emit) size; divide the time per iteration by 4 for the
//! split and typed groups to get the time per message. Criterion prints MiB/s.
//!
//! Measurement times are short (0.5 s warm-up, 2 s measurement) so that the whole run
//! takes about a minute; the numbers report, they never fail a build.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sip_benches::{EMIT_BUF, EmitFixture, PARSERS, corpus_bytes, run_corpus, self_check};

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(50)
}

fn split(c: &mut Criterion) {
    if let Err(e) = self_check() {
        panic!("the workloads disagree, the comparison would be meaningless: {e}");
    }
    let mut g = c.benchmark_group("split");
    g.throughput(Throughput::Bytes(corpus_bytes() as u64));
    for p in &PARSERS {
        g.bench_function(p.name, |b| b.iter(|| run_corpus(p.split)));
    }
    g.finish();
}

fn typed(c: &mut Criterion) {
    let mut g = c.benchmark_group("typed");
    g.throughput(Throughput::Bytes(corpus_bytes() as u64));
    for p in &PARSERS {
        if let Some(t) = p.typed {
            g.bench_function(p.name, |b| b.iter(|| run_corpus(t)));
        }
    }
    g.finish();
}

fn emit(c: &mut Criterion) {
    let fixture = match EmitFixture::new() {
        Ok(f) => f,
        Err(e) => panic!("emit fixture: {e}"),
    };
    let len = match fixture.lite_text(&mut [0u8; EMIT_BUF]) {
        Ok(n) => n,
        Err(e) => panic!("emit: {e}"),
    };
    let mut g = c.benchmark_group("emit");
    g.throughput(Throughput::Bytes(len as u64));
    let mut buf = [0u8; EMIT_BUF];
    g.bench_function("sip-lite", |b| {
        b.iter(|| black_box(fixture.lite_text(black_box(&mut buf))))
    });
    g.bench_function("sip-lite-typed", |b| {
        b.iter(|| black_box(fixture.lite_typed(black_box(&mut buf))))
    });
    g.bench_function("rsip", |b| b.iter(|| black_box(fixture.rsip())));
    g.bench_function("rsipstack", |b| b.iter(|| black_box(fixture.rsipstack())));
    g.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = split, typed, emit
}
criterion_main!(benches);
