//! Prints, per operation (decode, encode), corpus message and implementation: ns/msg,
//! MB/s, allocations per operation and the speed-up of csta-core over the quick-xml
//! baseline, on `benches/corpus/csta`, all measured in this one run.
//!
//! ```text
//! cargo run --release -p sip-benches --bin csta-compare [-- --only FILTER] [--iters N]
//! ```
//!
//! `--only decode/MakeCall/csta-core` measures only the rows whose
//! `operation/message/implementation` contains the filter (the speed-up then needs both
//! implementations of the row to be measured); `--iters N` replaces the calibrated timing
//! by exactly N calls per row, for instruction counts under `valgrind --tool=callgrind`
//! (divide a workload's inclusive cost by N).
//!
//! Timing is a calibrated loop: batches of at least [`BATCH`] of wall time, [`RUNS`]
//! batches, the median batch taken. Allocations are counted on this thread by
//! `alloc_counter::CountingAllocator`, installed as this binary's global allocator. The
//! table reports; it never fails on timing (the exit status is non-zero only if a
//! workload fails or the two sides disagree).
#![allow(clippy::print_stdout)]

use sip_benches::timing::{BATCH, RUNS, allocs, set_fixed_iters, time_ns};
use std::hint::black_box;
use std::process::ExitCode;

use alloc_counter::CountingAllocator;
use sip_benches::csta::{
    CSTA_CORPUS, ENCODE_BUF, EncodeFixture, baseline_decode, core_decode, corpus_bytes, self_check,
};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// The goal: csta-core at least this many times faster than the baseline, per operation.
const GOAL_SPEEDUP: f64 = 3.0;

/// The implementation every speed-up is computed for.
const OURS: &str = "csta-core";

/// One measured line.
struct Row {
    op: &'static str,
    message: &'static str,
    imp: &'static str,
    ns: f64,
    bytes: usize,
    allocs: usize,
}

impl Row {
    fn mb_per_s(&self) -> f64 {
        // Bytes per nanosecond = 10^3 MB/s.
        self.bytes as f64 / self.ns * 1e3
    }
}

/// Speed-up of csta-core over the other implementation of the same (op, message).
fn speedup(rows: &[Row], r: &Row) -> Option<f64> {
    if r.imp == OURS {
        return None;
    }
    rows.iter()
        .find(|o| o.op == r.op && o.message == r.message && o.imp == OURS)
        .map(|o| r.ns / o.ns)
}

fn print_rows(rows: &[Row]) {
    println!(
        "{:<7} {:<23} {:<16} {:>9} {:>8} {:>9} {:>9}",
        "op", "message", "impl", "ns/msg", "MB/s", "allocs/op", "speed-up"
    );
    let mut last = "";
    for r in rows {
        if !last.is_empty() && r.op != last {
            println!();
        }
        last = r.op;
        let ratio = speedup(rows, r).map_or_else(|| "-".to_owned(), |s| format!("{s:.2}x"));
        println!(
            "{:<7} {:<23} {:<16} {:>9.1} {:>8.1} {:>9} {:>9}",
            r.op,
            r.message,
            r.imp,
            r.ns,
            r.mb_per_s(),
            r.allocs,
            ratio
        );
    }
}

/// The corpus-wide line of `imp` for `op`: mean ns/msg, total bytes / total time, mean
/// allocations; `None` unless all four messages were measured.
fn corpus_row(rows: &[Row], op: &'static str, imp: &'static str) -> Option<Row> {
    let mine: Vec<&Row> = rows.iter().filter(|r| r.op == op && r.imp == imp).collect();
    if mine.len() != CSTA_CORPUS.len() {
        return None;
    }
    let n = mine.len();
    Some(Row {
        op,
        message: "corpus (mean)",
        imp,
        ns: mine.iter().map(|r| r.ns).sum::<f64>() / n as f64,
        bytes: mine.iter().map(|r| r.bytes).sum::<usize>() / n,
        allocs: mine.iter().map(|r| r.allocs).sum::<usize>() / n,
    })
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let iters = args
        .iter()
        .position(|a| a == "--iters")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse::<u64>().ok());
    set_fixed_iters(iters);
    let wanted = |op: &str, message: &str, imp: &str| {
        only.as_deref()
            .is_none_or(|f| format!("{op}/{message}/{imp}").contains(f))
    };
    if !alloc_counter::is_installed() {
        println!("warning: the counting allocator is not installed; allocs/op will read 0");
    }
    let report = match self_check() {
        Ok(r) => r,
        Err(e) => {
            println!("self-check failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let fixtures = match EncodeFixture::all() {
        Ok(f) => f,
        Err(e) => {
            println!("encode fixtures failed: {e}");
            return ExitCode::FAILURE;
        }
    };

    println!("csta-core vs quick-xml 0.42 (+ serde), ECMA-323 corpus, same run");
    println!(
        "corpus: {} messages, {} bytes, mean {:.1} bytes/msg",
        CSTA_CORPUS.len(),
        corpus_bytes(),
        corpus_bytes() as f64 / CSTA_CORPUS.len() as f64
    );
    for c in &report {
        let same = |b: bool| if b { "= corpus" } else { "differs" };
        println!(
            "  {:<23} {:>5} bytes  {:>2} key fields agree  edition {:?}  encoded: csta-core {} ({}), quick-xml {} ({})",
            c.kind.name(),
            c.size,
            c.fields,
            c.edition,
            c.core_encoded.0,
            same(c.core_encoded.1),
            c.baseline_encoded.0,
            same(c.baseline_encoded.1),
        );
    }
    println!(
        "csta-core Message: {} bytes by value (moved out of decode); quick-xml Decoded: {} bytes + heap",
        std::mem::size_of::<csta_core::Message<'static>>(),
        std::mem::size_of::<sip_benches::csta_baseline::Decoded>()
    );
    println!(
        "timing: median of {RUNS} batches of >= {} ms each; MB/s = 10^6 bytes/s of XML; \
         speed-up = baseline ns / csta-core ns",
        BATCH.as_millis()
    );
    println!();

    let mut rows = Vec::new();
    let mut failed = false;

    // Decode: bytes in, typed message out.
    for kind in CSTA_CORPUS {
        let sides: [(&'static str, fn(_) -> _); 2] = [
            (OURS, core_decode as fn(_) -> _),
            ("quick-xml+serde", baseline_decode),
        ];
        for (imp, work) in sides {
            if !wanted("decode", kind.name(), imp) {
                continue;
            }
            if let Err(e) = work(kind) {
                println!("decode {}: {e}", kind.name());
                failed = true;
                continue;
            }
            let run = || {
                let _ = black_box(work(black_box(kind)));
            };
            let ns = time_ns(run);
            rows.push(Row {
                op: "decode",
                message: kind.name(),
                imp,
                ns,
                bytes: kind.xml().len(),
                allocs: allocs(run),
            });
        }
    }

    // Encode: typed message (decoded once, before timing) to XML in a reused buffer.
    let mut buf = vec![0u8; ENCODE_BUF];
    let mut out: Vec<u8> = Vec::with_capacity(ENCODE_BUF);
    for f in &fixtures {
        let name = f.kind.name();
        if wanted("encode", name, OURS) {
            match f.core(&mut buf) {
                Ok(len) => {
                    let mut run = || {
                        let _ = black_box(f.core(black_box(&mut buf)));
                    };
                    let ns = time_ns(&mut run);
                    rows.push(Row {
                        op: "encode",
                        message: name,
                        imp: OURS,
                        ns,
                        bytes: len,
                        allocs: allocs(run),
                    });
                }
                Err(e) => {
                    println!("encode {name}: {e}");
                    failed = true;
                }
            }
        }
        if wanted("encode", name, "quick-xml") {
            match f.baseline(&mut out) {
                Ok(len) => {
                    let mut run = || {
                        let _ = black_box(f.baseline(black_box(&mut out)));
                    };
                    let ns = time_ns(&mut run);
                    rows.push(Row {
                        op: "encode",
                        message: name,
                        imp: "quick-xml",
                        ns,
                        bytes: len,
                        allocs: allocs(run),
                    });
                }
                Err(e) => {
                    println!("encode {name}: {e}");
                    failed = true;
                }
            }
        }
    }

    // Corpus means, after the per-message rows of each operation.
    let mut table = Vec::new();
    for (op, baseline) in [("decode", "quick-xml+serde"), ("encode", "quick-xml")] {
        table.extend(rows.iter().filter(|r| r.op == op).map(|r| Row {
            op: r.op,
            message: r.message,
            imp: r.imp,
            ns: r.ns,
            bytes: r.bytes,
            allocs: r.allocs,
        }));
        table.extend(corpus_row(&rows, op, OURS));
        table.extend(corpus_row(&rows, op, baseline));
    }
    print_rows(&table);

    println!();
    println!("goals (reported, never enforced):");
    for (op, baseline, what) in [
        ("decode", "quick-xml+serde", "quick-xml + serde"),
        ("encode", "quick-xml", "quick-xml's Writer"),
    ] {
        let ratios: Vec<(&str, f64)> = rows
            .iter()
            .filter(|r| r.op == op && r.imp == baseline)
            .filter_map(|r| speedup(&rows, r).map(|s| (r.message, s)))
            .collect();
        let corpus = corpus_row(&rows, op, OURS)
            .zip(corpus_row(&rows, op, baseline))
            .map(|(o, b)| b.ns / o.ns);
        let worst = ratios.iter().min_by(|a, b| a.1.total_cmp(&b.1));
        match (corpus, worst) {
            (Some(c), Some(&(wm, w))) => println!(
                "  {op} >= {GOAL_SPEEDUP:.0}x faster than {what:<19}: corpus {c:>5.2}x, \
                 slowest message {w:.2}x ({wm})  {}",
                if c >= GOAL_SPEEDUP && w >= GOAL_SPEEDUP {
                    "met"
                } else if c >= GOAL_SPEEDUP {
                    "met on the corpus, MISSED on one message"
                } else {
                    "MISSED"
                }
            ),
            (None, Some(&(wm, w))) => println!(
                "  {op} >= {GOAL_SPEEDUP:.0}x faster than {what:<19}: slowest measured message \
                 {w:.2}x ({wm}); corpus not fully measured"
            ),
            _ => println!("  {op} >= {GOAL_SPEEDUP:.0}x faster than {what:<19}: not measured"),
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
