//! Wall-clock timing shared by the comparison commands.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Each timed sample runs for at least this long.
pub const BATCH: Duration = Duration::from_millis(25);
/// Samples per measurement; the median is reported.
pub const RUNS: usize = 15;

/// `--iters N`: a fixed number of calls instead of calibrated timing.
static FIXED_ITERS: OnceLock<Option<u64>> = OnceLock::new();

/// Makes every later [`time_ns`] run `f` exactly `iters` times (for profilers);
/// `None` keeps calibrated timing. Only the first call has an effect.
pub fn set_fixed_iters(iters: Option<u64>) {
    let _ = FIXED_ITERS.set(iters);
}

/// Median time of one call of `f`, in nanoseconds.
pub fn time_ns(mut f: impl FnMut()) -> f64 {
    if let Some(n) = FIXED_ITERS.get().copied().flatten() {
        let t = Instant::now();
        for _ in 0..n {
            f();
        }
        return t.elapsed().as_nanos() as f64 / n.max(1) as f64;
    }
    // Warm up and find a batch size that takes at least BATCH.
    let mut iters: u64 = 1;
    loop {
        let t = Instant::now();
        for _ in 0..iters {
            f();
        }
        let e = t.elapsed();
        if e >= BATCH {
            break;
        }
        let scale = if e.is_zero() {
            16.0
        } else {
            (BATCH.as_secs_f64() / e.as_secs_f64() * 1.2).clamp(1.5, 16.0)
        };
        iters = ((iters as f64) * scale).ceil() as u64;
    }
    let mut samples: Vec<f64> = (0..RUNS)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed().as_nanos() as f64 / iters as f64
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    samples[RUNS / 2]
}

/// Allocations made by one call of `f` (after it has been warmed up by [`time_ns`]);
/// needs the counting allocator installed as the global allocator.
pub fn allocs(f: impl FnOnce()) -> usize {
    alloc_counter::allocations(f).1
}
