//! Prints how many complete SIP exchanges per second two sip-lite stacks run through
//! each other in memory, and the heap allocations per exchange (zero is the claim):
//!
//! - `REGISTER/200`: one non-INVITE transaction on each side;
//! - `INVITE/100/180/200/ACK/BYE/200`: an INVITE and a BYE transaction on each side,
//!   a dialog on each side, the ACK built and kept by the UAC dialog, the 2xx kept for
//!   retransmission by the UAS dialog.
//!
//! Every message is built with `wire::Writer`, put "on the wire" (copied), parsed with
//! `wire::Message::parse` and classified by the transaction and dialog layers, as a user
//! agent does; see `sip_benches::sip_txn`. The virtual clock jumps between exchanges so
//! that every timer fires and every slot is freed.
//!
//! ```text
//! cargo run --release -p sip-benches --bin sip-transactions [-- --iters N]
//! ```
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::process::ExitCode;

use alloc_counter::CountingAllocator;
use sip_benches::sip_txn::Pair;
use sip_benches::timing::{BATCH, RUNS, allocs, set_fixed_iters, time_ns};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--iters", Some(n)) => match n.parse() {
                Ok(n) => set_fixed_iters(Some(n)),
                Err(_) => {
                    eprintln!("--iters takes a number");
                    return ExitCode::from(2);
                }
            },
            _ => {
                eprintln!("usage: sip-transactions [--iters N]");
                return ExitCode::from(2);
            }
        }
    }
    println!(
        "sip-lite, both sides in memory; median of {RUNS} batches of at least {} ms",
        BATCH.as_millis()
    );
    println!(
        "{:<34} {:>10} {:>14} {:>12} {:>8}",
        "exchange", "us/exch", "exchanges/s", "messages/s", "allocs"
    );
    type Workload = fn(&mut Pair) -> Result<(), sip_benches::sip_txn::Failed>;
    let workloads: [(&str, usize, Workload); 2] = [
        ("REGISTER/200", 2, Pair::register),
        ("INVITE/100/180/200/ACK/BYE/200", 7, Pair::call),
    ];
    let mut status = ExitCode::SUCCESS;
    for (name, messages, run) in workloads {
        let mut pair = Box::new(Pair::new());
        if let Err(e) = run(&mut pair) {
            eprintln!("{name}: failed at {e:?}");
            status = ExitCode::FAILURE;
            continue;
        }
        let mut failed = None;
        let ns = time_ns(|| {
            if let Err(e) = run(black_box(&mut pair)) {
                failed = Some(e);
            }
        });
        let mut result = Ok(());
        let count = allocs(|| result = run(&mut pair));
        if let Some(e) = failed.or(result.err()) {
            eprintln!("{name}: failed at {e:?}");
            status = ExitCode::FAILURE;
            continue;
        }
        let per_sec = 1e9 / ns;
        println!(
            "{name:<34} {:>10.2} {per_sec:>14.0} {:>12.0} {count:>8}",
            ns / 1e3,
            per_sec * messages as f64
        );
    }
    status
}
