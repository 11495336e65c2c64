//! The binary's global allocator: the system allocator itself for the
//! analyzer, sonde's sampling allocator ([`sonde::heap::Sampled`]) for a
//! `sonde demo` case.
//!
//! `sonde demo` runs each case in a child process of this binary with
//! [`DEMO_CASE_ENV`] set; the first allocation of a process reads it (with
//! `getenv`, which does not allocate) and fixes the mode for the process's
//! life, so every block is freed by the allocator that served it. The
//! analyzer's cost is one relaxed load and a predictable branch per call;
//! `bench/analyzer-ab.sh` measured it (bench/RESULTS.md).
//!
//! The module lives at the crate's root, `sonde::alloc`, a path the heap
//! profiler hides from the top of its stacks as allocator frames.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

use sonde::heap::Sampled;

/// Set (to the case's name) in the environment of a demo case's process.
pub const DEMO_CASE_ENV: &str = "SONDE_DEMO_CASE";

const UNDECIDED: u8 = 0;
const PLAIN: u8 = 1;
const SAMPLING: u8 = 2;

static MODE: AtomicU8 = AtomicU8::new(UNDECIDED);

/// The switch between the system allocator and sonde's sampling wrapper.
pub struct Allocator {
    sampled: Sampled<System>,
}

impl Allocator {
    /// The allocator, undecided until its first call.
    pub const fn new() -> Allocator {
        Allocator {
            sampled: Sampled::new(System),
        }
    }
}

/// Whether this process samples its heap (a demo case's process).
#[inline(always)]
fn sampling() -> bool {
    match MODE.load(Relaxed) {
        PLAIN => false,
        SAMPLING => true,
        _ => decide(),
    }
}

#[cold]
#[inline(never)]
fn decide() -> bool {
    // SAFETY: the name is NUL-terminated; getenv neither allocates nor keeps
    // the pointer. The first allocation happens before `main` starts other
    // threads, so nothing modifies the environment concurrently.
    let on = unsafe { !libc::getenv(c"SONDE_DEMO_CASE".as_ptr()).is_null() };
    MODE.store(if on { SAMPLING } else { PLAIN }, Relaxed);
    on
}

// SAFETY: every call goes to one of two allocators, the same one for the whole
// life of the process (the mode is fixed at the first call, before any block
// exists), so each block is freed and reallocated by the allocator that served
// it; both uphold GlobalAlloc's contract.
unsafe impl GlobalAlloc for Allocator {
    #[inline(always)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees are passed on.
        unsafe {
            if sampling() {
                self.sampled.alloc(layout)
            } else {
                System.alloc(layout)
            }
        }
    }

    #[inline(always)]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees are passed on.
        unsafe {
            if sampling() {
                self.sampled.alloc_zeroed(layout)
            } else {
                System.alloc_zeroed(layout)
            }
        }
    }

    #[inline(always)]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's guarantees are passed on; the block came from
        // the same allocator (see above).
        unsafe {
            if sampling() {
                self.sampled.dealloc(ptr, layout)
            } else {
                System.dealloc(ptr, layout)
            }
        }
    }

    #[inline(always)]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as in `dealloc`.
        unsafe {
            if sampling() {
                self.sampled.realloc(ptr, layout, new_size)
            } else {
                System.realloc(ptr, layout, new_size)
            }
        }
    }
}
