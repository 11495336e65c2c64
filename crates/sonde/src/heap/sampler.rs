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

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::arena;
use super::counters::{self, Local};
use super::table::TABLE;
use crate::unwind::{self, UnwindState, Unwinding};

/// Go's default: one sample per 512 KiB allocated on average.
pub const DEFAULT_RATE: u64 = 512 * 1024;

pub(crate) static RATE: AtomicU64 = AtomicU64::new(DEFAULT_RATE);

/// The smallest block ever recorded exactly: a free of a smaller block outside
/// the arena cannot be of a recorded block.
pub(crate) static LARGE_MIN: AtomicU64 = AtomicU64::new(u64::MAX);

/// How deep a heap sample's stack may be.
const MAX_DEPTH: usize = 128;

/// The smallest size recorded exactly at `rate`.
#[inline(always)]
pub(crate) fn exact_threshold(rate: u64) -> u64 {
    rate - rate / 4
}

/// What the allocator wrapper does with an allocation request.
pub(crate) enum Decision {
    /// Not sampled: the wrapped allocator serves it.
    Plain,
    /// Serve it from the arena and record it with its stack.
    Sampled,
    /// Serve it from the wrapped allocator and record it exactly (weight 1).
    Exact,
}

/// Decides how an allocation of `size` bytes is served and recorded. The common
/// case is a subtraction and a comparison on this thread's countdown.
#[inline(always)]
pub(crate) fn decide(l: &Local, size: usize, rate: u64) -> Decision {
    let s = size as u64;
    if rate > 1 && s < exact_threshold(rate) && size <= arena::MAX_BLOCK {
        let c = l.countdown.get() - s as i64;
        if c > 0 {
            l.countdown.set(c);
            return Decision::Plain;
        }
        sample_point(l, s, rate, c)
    } else if l.busy.get() {
        Decision::Plain
    } else {
        Decision::Exact
    }
}

#[cold]
#[inline(never)]
fn sample_point(l: &Local, size: u64, rate: u64, mut c: i64) -> Decision {
    if !l.started.get() {
        l.started.set(true);
        let seed =
            (l as *const Local as u64) ^ (crate::cpu::current_tid() as u64).rotate_left(32) ^ 0x2545_f491_4f6c_dd1d;
        l.rng.set(seed | 1);
        c = first_distance(l, rate) as i64 - size as i64;
        if c > 0 {
            l.countdown.set(c);
            return Decision::Plain;
        }
    }
    // A sample point inside the profiler's own memory is skipped, not moved.
    l.countdown.set(c + next_distance(l, rate) as i64);
    if l.busy.get() {
        Decision::Plain
    } else {
        Decision::Sampled
    }
}

fn random(s: &Local) -> u64 {
    // xorshift64*
    let mut x = s.rng.get();
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    s.rng.set(x);
    x.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

fn unit(s: &Local) -> f64 {
    (random(s) >> 11) as f64 / (1u64 << 53) as f64
}

/// A distance between samples: uniform on [3/4 rate, 5/4 rate].
fn next_distance(s: &Local, rate: u64) -> u64 {
    exact_threshold(rate) + random(s) % (rate / 2 + 1)
}

/// The distance to the first sample point of a thread, from the equilibrium
/// distribution of the gaps (a length-biased gap, cut at a uniform point), so
/// that sampling is unbiased from the first byte.
fn first_distance(s: &Local, rate: u64) -> u64 {
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
    counters::with_local(|s| {
        let was = s.busy.replace(true);
        let r = f();
        s.busy.set(was);
        r
    })
}

/// Records a block with the stack of the allocation. The profiler's own memory
/// (the table's growth) is neither sampled nor counted.
#[cold]
#[inline(never)]
pub(crate) fn record(l: &Local, addr: *mut u8, size: u64, rate: u64) {
    l.busy.set(true);
    let saved = counters::save_mine();
    register_fork_handler();
    let mut frames = [0u64; MAX_DEPTH];
    let mut end = l.stack_end.get();
    if end == 0 {
        end = unwind::current_stack_end().unwrap_or(0);
        l.stack_end.set(end);
    }
    let n = match unwinder() {
        Some(st) if end != 0 => {
            let regs = unwind::current_registers();
            unwind::capture_bounded(st, &regs, end, &mut frames)
        }
        _ => 0,
    };
    TABLE.with(|t| t.insert(addr as usize, &frames[..n], size, rate));
    if rate == 0 {
        LARGE_MIN.fetch_min(size, Relaxed);
    }
    counters::restore_mine(saved);
    l.busy.set(false);
}

/// Counts the free of a recorded block (if it is one) before it is released.
#[cold]
#[inline(never)]
pub(crate) fn recorded_free(l: &Local, addr: *mut u8) {
    if l.busy.replace(true) {
        return;
    }
    let saved = counters::save_mine();
    TABLE.with(|t| {
        if let Some(b) = t.take(addr as usize) {
            t.finish_free(b);
        }
    });
    counters::restore_mine(saved);
    l.busy.set(false);
}

fn register_fork_handler() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    extern "C" fn in_child() {
        TABLE.reset_after_fork();
        arena::reset_after_fork();
    }
    ONCE.call_once(|| {
        // SAFETY: registers a child-side fork handler that only stores atomics.
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
        counters::with_local(check_distances);
    }

    fn check_distances(s: &Local) {
        s.rng.set(12345);
        let rate = DEFAULT_RATE;
        let n = 100_000;
        let mut sum = 0u64;
        for _ in 0..n {
            let d = next_distance(s, rate);
            assert!((exact_threshold(rate)..=rate + rate / 4).contains(&d));
            sum += d;
        }
        let mean = sum as f64 / n as f64;
        assert!((mean / rate as f64 - 1.0).abs() < 0.01, "mean {mean}");
        // The equilibrium residual averages E[X^2] / (2 E[X]).
        let mut sum = 0.0;
        for _ in 0..n {
            sum += first_distance(s, rate) as f64;
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
