//! The plain system allocator, sonde's wrapper at the default sampling rate, its
//! counters alone, and a bare thread-local counter pair (the floor for any
//! wrapper that counts), compared in one process: the workload runs in short
//! phases that rotate between the four, so that the machine's slow drifts
//! (other tenants, frequency) hit all four alike. The global allocator
//! dispatches on the current mode; that one predictable branch is paid by all.
//!
//! Prints, for each mode, the CPU seconds summed over its phases:
//! `paired plain|sampled|counters|tls SECONDS ALLOCATIONS`.
//!
//! Environment: `PAIRED_ONLY=MODE` runs one mode alone (for perf);
//! `PAIRED_RATE=BYTES` sets the rate of the sampled mode.
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU8, Ordering::Relaxed};

use sonde_bench_heap::Workload;

const MODES: [&str; 4] = ["plain", "sampled", "counters", "tls"];
const PLAIN: u8 = 0;
const SAMPLED: u8 = 1;
const TLS: u8 = 3;

/// Which allocator serves requests now. Blocks never outlive their phase (the
/// window is cleared at each phase's end), so each is freed by whoever served it.
static MODE: AtomicU8 = AtomicU8::new(PLAIN);

thread_local! {
    /// The bare counters: operations and bytes.
    static BARE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

#[inline(always)]
fn bare_count(size: usize) {
    BARE.with(|c| {
        let (n, b) = c.get();
        c.set((n + 1, b + size as u64));
    });
}

struct Switch(sonde::heap::Sampled<System>);

// SAFETY: every request goes to System or to sonde's wrapper of System, both
// allocators; a block is freed under the mode that allocated it (see MODE).
unsafe impl GlobalAlloc for Switch {
    #[inline]
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        // SAFETY (all four methods): forwarded with the caller's guarantees.
        unsafe {
            match MODE.load(Relaxed) {
                PLAIN => System.alloc(l),
                TLS => {
                    bare_count(l.size());
                    System.alloc(l)
                }
                _ => self.0.alloc(l),
            }
        }
    }
    #[inline]
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        unsafe {
            match MODE.load(Relaxed) {
                PLAIN | TLS => System.alloc_zeroed(l),
                _ => self.0.alloc_zeroed(l),
            }
        }
    }
    #[inline]
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe {
            match MODE.load(Relaxed) {
                PLAIN => System.dealloc(p, l),
                TLS => {
                    bare_count(l.size());
                    System.dealloc(p, l)
                }
                _ => self.0.dealloc(p, l),
            }
        }
    }
    #[inline]
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        unsafe {
            match MODE.load(Relaxed) {
                PLAIN | TLS => System.realloc(p, l, n),
                _ => self.0.realloc(p, l, n),
            }
        }
    }
}

#[global_allocator]
static ALLOC: Switch = Switch(sonde::heap::Sampled::new(System));

fn thread_cpu() -> f64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into ts.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn set_mode(mode: u8, rate: u64) {
    sonde::heap::set_sample_rate(if mode == SAMPLED { rate } else { 0 });
    MODE.store(mode, Relaxed);
}

fn main() {
    let n = sonde_bench_heap::count();
    const PHASE: u64 = 1_000_000;
    let rate = std::env::var("PAIRED_RATE").map_or(sonde::heap::DEFAULT_RATE, |r| {
        r.parse().expect("PAIRED_RATE is a number of bytes")
    });
    let only = std::env::var("PAIRED_ONLY").ok().map(|m| {
        MODES
            .iter()
            .position(|&x| x == m)
            .unwrap_or_else(|| panic!("PAIRED_ONLY must be one of {MODES:?}")) as u8
    });
    let mut w = Workload::default();
    let mut cpu = [0.0f64; 4];
    let mut done = [0u64; 4];
    let mut round = 0usize;
    while done.iter().any(|&d| d < n) {
        for k in 0..4 {
            let mode = only.unwrap_or(((round + k) % 4) as u8);
            let m = PHASE.min(n - done[mode as usize]);
            set_mode(mode, rate);
            let t = thread_cpu();
            w.run(m);
            w.clear();
            cpu[mode as usize] += thread_cpu() - t;
            done[mode as usize] += m;
        }
        set_mode(PLAIN, rate);
        round += 1;
        if only.is_some() && done[only.unwrap_or(0) as usize] >= n {
            break;
        }
    }
    set_mode(SAMPLED, rate);
    let samples = sonde::heap::profile().samples.len();
    set_mode(PLAIN, rate);
    for (mode, label) in MODES.iter().enumerate() {
        println!("paired {label} {:.4} {}", cpu[mode], done[mode]);
    }
    eprintln!("checksum {}, {samples} samples in the heap profile", w.sum % 10);
}
