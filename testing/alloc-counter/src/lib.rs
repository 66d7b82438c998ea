//! A global allocator that counts allocations per thread, for tests and benchmarks that
//! prove code paths allocate nothing.
//!
//! ```
//! use alloc_counter::{CountingAllocator, allocations};
//!
//! #[global_allocator]
//! static GLOBAL: CountingAllocator = CountingAllocator;
//!
//! let (sum, n) = allocations(|| (1..=10).sum::<u32>());
//! assert_eq!((sum, n), (55, 0));
//! ```
//!
//! Counting is per thread, so tests running in parallel do not disturb each other.
//! Without `#[global_allocator]` in the binary, [`allocations`] always reports 0; call
//! [`is_installed`] to guard against that.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

/// Delegates to [`System`] and counts every `alloc`, `alloc_zeroed` and `realloc`.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAllocator;

#[inline]
fn bump() {
    // `try_with` so that allocations during thread teardown are simply not counted.
    let _ = COUNT.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every method forwards to `System` with the caller's arguments unchanged, so
// the allocator contract is `System`'s. The counter is a const-initialised thread-local
// without a destructor: touching it neither allocates nor recurses into the allocator.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump();
        // SAFETY: the caller upholds `GlobalAlloc::alloc_zeroed`'s contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller upholds `GlobalAlloc::dealloc`'s contract.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump();
        // SAFETY: the caller upholds `GlobalAlloc::realloc`'s contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations made so far on this thread.
pub fn count() -> usize {
    COUNT.with(Cell::get)
}

/// Runs `f` and returns its result with the number of allocations it made on this thread.
pub fn allocations<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = count();
    let r = f();
    (r, count() - before)
}

/// Whether [`CountingAllocator`] is the global allocator of this binary.
pub fn is_installed() -> bool {
    let (v, n) = allocations(|| std::hint::black_box(Box::new(1u8)));
    drop(v);
    n == 1
}
