//! Which allocations are sampled, and capturing their stacks.
//!
//! Like Go's `MemProfileRate`, sampling is by bytes: on average one sample per
//! `rate` bytes allocated. Two refinements make single profiles accurate:
//!
//! * allocations of at least ¾ of the rate are always recorded, with weight 1
//!   (Go samples a 1 MiB block with probability 86% at the default rate, so ten
//!   leaked 1 MiB blocks read anywhere from 7 to 12 MB);
//! * between samples, the distance is drawn uniformly from ¾ to 5⁄4 of the rate
//!   instead of exponentially. Each smaller block of `s` bytes still contains a
//!   sample point with probability exactly `s / rate` (the process is stationary:
//!   the first distance of each thread is drawn from its equilibrium
//!   distribution), so weighting a sampled block by `rate / s` is unbiased, but the
//!   count of samples falling in a given set of blocks varies about 7 times less
//!   than with exponential gaps (coefficient of variation 0.14 instead of 1).
//!
//! The common case, an allocation that is not sampled, is a thread-local
//! subtraction and a comparison.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::AtomicU64;

use super::counters;
use super::table::{self, TABLE};
use crate::unwind::{self, UnwindState, Unwinding};

/// Go's default: one sample per 512 KiB allocated on average.
pub const DEFAULT_RATE: u64 = 512 * 1024;

pub(crate) static RATE: AtomicU64 = AtomicU64::new(DEFAULT_RATE);

/// How deep a heap sample's stack may be.
const MAX_DEPTH: usize = 128;

struct ThreadState {
    /// Inside the profiler: allocations are not sampled, frees not looked up.
    busy: Cell<bool>,
    /// Bytes left until the next sample point.
    countdown: Cell<i64>,
    started: Cell<bool>,
    rng: Cell<u64>,
    stack_end: Cell<u64>,
}

thread_local! {
    static STATE: ThreadState = const {
        ThreadState {
            busy: Cell::new(false),
            countdown: Cell::new(0),
            started: Cell::new(false),
            rng: Cell::new(0),
            stack_end: Cell::new(0),
        }
    };
}

/// The smallest size recorded exactly at `rate`.
#[inline(always)]
pub(crate) fn exact_threshold(rate: u64) -> u64 {
    rate - rate / 4
}

/// Decides whether the allocation of `size` bytes at `addr` is sampled.
#[inline(always)]
pub(crate) fn on_alloc(addr: *mut u8, size: usize, rate: u64) {
    STATE.with(|s| {
        let size = size as u64;
        if rate > 1 && size < exact_threshold(rate) {
            let c = s.countdown.get() - size as i64;
            if c > 0 {
                s.countdown.set(c);
                return;
            }
            sample_point(s, addr, size, rate, c);
        } else if !s.busy.get() {
            record(s, addr, size, 0);
        }
    });
}

#[cold]
#[inline(never)]
fn sample_point(s: &ThreadState, addr: *mut u8, size: u64, rate: u64, mut c: i64) {
    if !s.started.get() {
        s.started.set(true);
        let seed = (s as *const ThreadState as u64)
            ^ (crate::cpu::current_tid() as u64).rotate_left(32)
            ^ 0x2545_f491_4f6c_dd1d;
        s.rng.set(seed | 1);
        c = first_distance(s, rate) as i64 - size as i64;
        if c > 0 {
            s.countdown.set(c);
            return;
        }
    }
    s.countdown.set(c + next_distance(s, rate) as i64);
    if !s.busy.get() {
        record(s, addr, size, rate);
    }
}

fn random(s: &ThreadState) -> u64 {
    // xorshift64*
    let mut x = s.rng.get();
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s.rng.set(x);
    x.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

fn unit(s: &ThreadState) -> f64 {
    (random(s) >> 11) as f64 / (1u64 << 53) as f64
}

/// A distance between samples: uniform on [¾ rate, 5⁄4 rate].
fn next_distance(s: &ThreadState, rate: u64) -> u64 {
    let lo = exact_threshold(rate);
    lo + random(s) % (rate / 2 + 1)
}

/// The distance to the first sample point of a thread, from the equilibrium
/// distribution of the gaps (a length-biased gap, cut at a uniform point), so
/// that sampling is unbiased from the first byte.
fn first_distance(s: &ThreadState, rate: u64) -> u64 {
    let (a, b) = (exact_threshold(rate) as f64, (rate + rate / 4) as f64);
    let gap = (a * a + unit(s) * (b * b - a * a)).sqrt();
    (unit(s) * gap) as u64 + 1
}

/// The unwinder the heap profiler uses, prepared on first use and kept.
fn unwinder() -> Option<&'static UnwindState> {
    static STATE: OnceLock<Option<UnwindState>> = OnceLock::new();
    STATE.get_or_init(|| unwind::prepare(Unwinding::Auto, 16).ok()).as_ref()
}

/// Runs `f` with sampling off on this thread (its allocations are still counted:
/// what it returns is freed by ordinary code later).
pub(crate) fn busy<T>(f: impl FnOnce() -> T) -> T {
    STATE.with(|s| {
        let was = s.busy.replace(true);
        let r = f();
        s.busy.set(was);
        r
    })
}

/// Runs `f` on the profiler's own bookkeeping: not sampled and not counted, since
/// that memory is allocated and freed only inside such sections.
fn internal<T>(f: impl FnOnce() -> T) -> T {
    STATE.with(|s| {
        let was = s.busy.replace(true);
        let saved = counters::save_mine();
        let r = f();
        counters::restore_mine(saved);
        s.busy.set(was);
        r
    })
}

#[cold]
#[inline(never)]
fn record(s: &ThreadState, addr: *mut u8, size: u64, rate: u64) {
    s.busy.set(true);
    let saved = counters::save_mine();
    register_fork_handler();
    let mut frames = [0u64; MAX_DEPTH];
    let mut end = s.stack_end.get();
    if end == 0 {
        end = unwind::current_stack_end().unwrap_or(0);
        s.stack_end.set(end);
    }
    let n = match unwinder() {
        Some(st) if end != 0 => {
            let regs = unwind::current_registers();
            unwind::capture_bounded(st, &regs, end, &mut frames)
        }
        _ => 0,
    };
    TABLE.with(|t| t.insert(addr as usize, &frames[..n], size, rate));
    counters::restore_mine(saved);
    s.busy.set(false);
}

/// Counts the free of the block at `addr` if it was sampled.
#[inline(always)]
pub(crate) fn on_free(addr: *mut u8) {
    if table::maybe_sampled(addr as usize) {
        free_slow(addr as usize);
    }
}

#[cold]
#[inline(never)]
fn free_slow(addr: usize) {
    STATE.with(|s| {
        if s.busy.replace(true) {
            return;
        }
        let saved = counters::save_mine();
        TABLE.with(|t| {
            if let Some(b) = t.take(addr) {
                t.finish_free(b);
            }
        });
        counters::restore_mine(saved);
        s.busy.set(false);
    });
}

/// Removes the record of the block at `addr` before it is reallocated; see
/// [`realloc_done`].
#[inline(always)]
pub(crate) fn realloc_take(addr: *mut u8) -> Option<u32> {
    if !table::maybe_sampled(addr as usize) {
        return None;
    }
    STATE.with(|s| {
        if s.busy.replace(true) {
            return None;
        }
        let saved = counters::save_mine();
        let b = TABLE.with(|t| t.take(addr as usize));
        counters::restore_mine(saved);
        s.busy.set(false);
        b
    })
}

/// Completes a reallocation of a sampled block: counts its free, or puts it
/// back if the reallocation failed.
#[cold]
pub(crate) fn realloc_done(old: *mut u8, bucket: u32, succeeded: bool) {
    internal(|| {
        TABLE.with(|t| {
            if succeeded {
                t.finish_free(bucket);
            } else {
                t.restore(old as usize, bucket);
            }
        })
    });
}

fn register_fork_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    extern "C" fn in_child() {
        TABLE.reset_after_fork();
    }
    ONCE.call_once(|| {
        // SAFETY: registers a child-side fork handler that only stores an atomic.
        unsafe {
            libc::pthread_atfork(None, None, Some(in_child));
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_stay_in_range_and_average_to_the_rate() {
        let s = ThreadState {
            busy: Cell::new(false),
            countdown: Cell::new(0),
            started: Cell::new(true),
            rng: Cell::new(12345),
            stack_end: Cell::new(0),
        };
        let rate = DEFAULT_RATE;
        let n = 100_000;
        let mut sum = 0u64;
        for _ in 0..n {
            let d = next_distance(&s, rate);
            assert!((exact_threshold(rate)..=rate + rate / 4).contains(&d));
            sum += d;
        }
        let mean = sum as f64 / n as f64;
        assert!((mean / rate as f64 - 1.0).abs() < 0.01, "mean {mean}");
        // The equilibrium residual averages E[X^2] / (2 E[X]).
        let mut sum = 0.0;
        for _ in 0..n {
            sum += first_distance(&s, rate) as f64;
        }
        let (a, b) = (0.75 * rate as f64, 1.25 * rate as f64);
        let want = (b.powi(3) - a.powi(3)) / (3.0 * (b - a)) / (2.0 * rate as f64);
        assert!(
            (sum / n as f64 / want - 1.0).abs() < 0.02,
            "{} vs {want}",
            sum / n as f64
        );
    }
}
