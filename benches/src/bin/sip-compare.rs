//! Prints one line per (level, parser): ns/msg, MB/s, ratio to sip-lite and allocations
//! per message, on the corpus of `benches/corpus`, all measured in this one run.
//!
//! ```text
//! cargo run --release -p sip-benches --bin sip-compare [-- --per-message] [--only FILTER]
//! ```
//!
//! `--per-message` adds a table of ns/msg per corpus message; `--only split/sip-lite`
//! measures only the rows whose `level/parser` contains the filter; `--iters N` replaces
//! the calibrated timing by exactly N calls per row, for instruction counts under
//! `valgrind --tool=callgrind` (divide a workload's inclusive cost by 4 N per message).
//!
//! Timing is a calibrated loop: batches of at least [`BATCH`] of wall time, [`RUNS`]
//! batches, the median batch taken. Allocations are counted on this thread by
//! `alloc_counter::CountingAllocator`, a counting wrapper around `std::alloc::System`
//! installed as this binary's global allocator. The table reports; it never fails on
//! timing (the exit status is non-zero only if a workload fails).
#![allow(clippy::print_stdout)]

use sip_benches::timing::{BATCH, RUNS, allocs, set_fixed_iters, time_ns};
use std::hint::black_box;
use std::process::ExitCode;

use alloc_counter::CountingAllocator;
use sip_benches::{CORPUS, EMIT_BUF, EmitFixture, Outcome, PARSERS, corpus_bytes, self_check};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// The sip-lite goals from the issue, in ns per message.
const GOAL_SPLIT_NS: f64 = 250.0;
const GOAL_TYPED_NS: f64 = 600.0;
const GOAL_EMIT_NS: f64 = 300.0;

/// One measured line.
struct Row {
    level: &'static str,
    parser: &'static str,
    ns_per_msg: f64,
    bytes_per_msg: f64,
    allocs_per_msg: f64,
}

impl Row {
    fn mb_per_s(&self) -> f64 {
        // Bytes per nanosecond = 10^3 MB/s.
        self.bytes_per_msg / self.ns_per_msg * 1e3
    }
}

fn print_rows(rows: &[Row]) {
    println!(
        "{:<6} {:<15} {:>10} {:>9} {:>8} {:>11}",
        "level", "parser", "ns/msg", "MB/s", "ratio", "allocs/msg"
    );
    for r in rows {
        let base = rows
            .iter()
            .find(|b| b.level == r.level && b.parser == "sip-lite")
            .map_or(r.ns_per_msg, |b| b.ns_per_msg);
        println!(
            "{:<6} {:<15} {:>10.1} {:>9.1} {:>7.2}x {:>11.1}",
            r.level,
            r.parser,
            r.ns_per_msg,
            r.mb_per_s(),
            r.ns_per_msg / base,
            r.allocs_per_msg
        );
    }
}

/// Runs `work` over the whole corpus per call.
fn corpus_row(level: &'static str, parser: &'static str, work: fn(&[u8]) -> Outcome) -> Row {
    let run = || {
        for m in &CORPUS {
            let _ = black_box(work(black_box(m.bytes)));
        }
    };
    let ns = time_ns(run);
    let a = allocs(run);
    let n = CORPUS.len() as f64;
    Row {
        level,
        parser,
        ns_per_msg: ns / n,
        bytes_per_msg: corpus_bytes() as f64 / n,
        allocs_per_msg: a as f64 / n,
    }
}

fn goal(what: &str, ns: Option<f64>, limit: f64) {
    match ns {
        Some(ns) => println!(
            "  {what:<38} <= {limit:>4.0} ns/msg: {ns:>7.1} ns  {}",
            if ns <= limit { "met" } else { "MISSED" }
        ),
        None => println!("  {what:<38} <= {limit:>4.0} ns/msg: not measured"),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let per_message = args.iter().any(|a| a == "--per-message");
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
    let wanted = |level: &str, parser: &str| {
        only.as_deref()
            .is_none_or(|f| format!("{level}/{parser}").contains(f))
    };
    if !alloc_counter::is_installed() {
        println!("warning: the counting allocator is not installed; allocs/msg will read 0");
    }
    let report = match self_check() {
        Ok(r) => r,
        Err(e) => {
            println!("self-check failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    let fixture = match EmitFixture::new() {
        Ok(f) => f,
        Err(e) => {
            println!("emit fixture failed: {e}");
            return ExitCode::FAILURE;
        }
    };

    println!("sip-lite vs rsip 0.4 vs rsipstack 0.7, same corpus, same run");
    println!(
        "corpus: {} messages, {} bytes, mean {:.1} bytes/msg",
        CORPUS.len(),
        corpus_bytes(),
        corpus_bytes() as f64 / CORPUS.len() as f64
    );
    for (name, size, headers, typed) in &report.messages {
        println!(
            "  {name:<16} {size:>5} bytes  {headers:>2} header lines  {typed:>2} typed values"
        );
    }
    println!(
        "timing: median of {RUNS} batches of >= {} ms each; MB/s = 10^6 bytes/s; \
         ratio = ns/msg / sip-lite ns/msg",
        BATCH.as_millis()
    );
    println!();

    let mut rows = Vec::new();
    for p in &PARSERS {
        if wanted("split", p.name) {
            rows.push(corpus_row("split", p.name, p.split));
        }
    }
    for p in &PARSERS {
        if let Some(t) = p.typed.filter(|_| wanted("typed", p.name)) {
            rows.push(corpus_row("typed", p.name, t));
        }
    }

    // Emit: one message per call.
    let emit_len = report
        .emitted
        .iter()
        .find(|(n, _)| *n == "sip-lite")
        .map_or(0, |&(_, l)| l);
    let mut text_buf = [0u8; EMIT_BUF];
    let mut typed_buf = [0u8; EMIT_BUF];
    let emitters: [(&'static str, &mut dyn FnMut()); 4] = [
        ("sip-lite", &mut || {
            let _ = black_box(fixture.lite_text(black_box(&mut text_buf)));
        }),
        ("sip-lite-typed", &mut || {
            let _ = black_box(fixture.lite_typed(black_box(&mut typed_buf)));
        }),
        ("rsip", &mut || {
            let _ = black_box(fixture.rsip());
        }),
        ("rsipstack", &mut || {
            let _ = black_box(fixture.rsipstack());
        }),
    ];
    for (name, f) in emitters {
        if !wanted("emit", name) {
            continue;
        }
        let ns = time_ns(&mut *f);
        let a = allocs(&mut *f);
        rows.push(Row {
            level: "emit",
            parser: name,
            ns_per_msg: ns,
            bytes_per_msg: emit_len as f64,
            allocs_per_msg: a as f64,
        });
    }

    print_rows(&rows);
    println!();
    println!("emitted sizes:");
    for (name, len) in &report.emitted {
        println!("  {name:<15} {len:>5} bytes");
    }
    println!();
    println!("sip-lite goals (reported, never enforced):");
    let lite = |level: &str, parser: &str| {
        rows.iter()
            .find(|r| r.level == level && r.parser == parser)
            .map(|r| r.ns_per_msg)
    };
    goal(
        "framing + header split",
        lite("split", "sip-lite"),
        GOAL_SPLIT_NS,
    );
    goal(
        "split + typed headers",
        lite("typed", "sip-lite"),
        GOAL_TYPED_NS,
    );
    goal(
        "emit 1 KB (text values)",
        lite("emit", "sip-lite"),
        GOAL_EMIT_NS,
    );
    goal(
        "emit 1 KB (typed values)",
        lite("emit", "sip-lite-typed"),
        GOAL_EMIT_NS,
    );

    if per_message {
        println!();
        println!("per message, ns/msg:");
        print!("{:<6} {:<15}", "level", "parser");
        for m in &CORPUS {
            print!(" {:>16}", m.name);
        }
        println!();
        for (level, pick) in [("split", 0), ("typed", 1)] {
            for p in &PARSERS {
                let work = if pick == 0 { Some(p.split) } else { p.typed };
                let Some(work) = work.filter(|_| wanted(level, p.name)) else {
                    continue;
                };
                print!("{level:<6} {:<15}", p.name);
                for m in &CORPUS {
                    let ns = time_ns(|| {
                        let _ = black_box(work(black_box(m.bytes)));
                    });
                    print!(" {ns:>16.1}");
                }
                println!();
            }
        }
    }
    ExitCode::SUCCESS
}
