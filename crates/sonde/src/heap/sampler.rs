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

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};

use super::arena;
use crate::alloc::{self, Local};

/// Go's default: one sample per 512 KiB allocated on average.
pub const DEFAULT_RATE: u64 = 512 * 1024;

/// What every allocation and free reads: one cache line.
#[repr(align(64))]
pub(crate) struct Hot {
    /// Average bytes between samples (0: sampling off).
    rate: AtomicU64,
    /// Requests smaller than this only count down to the next sample point
    /// (0 at rate 1, where everything is recorded). Each thread keeps a copy
    /// (`Local::limit`), refreshed on its out-of-line path.
    pub(crate) small_max: AtomicUsize,
    /// The smallest block ever recorded exactly: a free of a smaller block
    /// outside the arena cannot be of a recorded block.
    pub(crate) large_min: AtomicUsize,
    /// Where the arena of sampled blocks starts (see [`arena::contains`]).
    pub(crate) arena: AtomicUsize,
}

/// Sampling starts on at Go's default rate; without the profilers (only the
/// counters), it is off.
const INITIAL_RATE: u64 = if cfg!(feature = "profilers") { DEFAULT_RATE } else { 0 };

pub(crate) static HOT: Hot = Hot {
    rate: AtomicU64::new(INITIAL_RATE),
    small_max: AtomicUsize::new(small_max(INITIAL_RATE)),
    large_min: AtomicUsize::new(usize::MAX),
    arena: AtomicUsize::new(arena::UNSET),
};

const fn small_max(rate: u64) -> usize {
    match rate {
        // Counting only: the countdown runs out now and then to notice a new rate.
        0 => arena::MAX_BLOCK + 1,
        1 => 0,
        _ if exact_threshold(rate) > arena::MAX_BLOCK as u64 => arena::MAX_BLOCK + 1,
        _ => exact_threshold(rate) as usize,
    }
}

/// The sampling rate.
pub(crate) fn rate() -> u64 {
    HOT.rate.load(Relaxed)
}

/// Whether every allocation so far (but for less than one sample's worth of
/// bytes) went through the sampler at the current rate, so that the sampled
/// estimates can be scaled to add up to the exact totals.
static CALIBRATED: AtomicBool = AtomicBool::new(true);

/// Sets the sampling rate.
pub(crate) fn set_rate(rate: u64) {
    if HOT.rate.swap(rate, Relaxed) != rate {
        let allocated = alloc::process_stats().bytes_allocated;
        CALIBRATED.store(rate > 1 && allocated < rate, Relaxed);
    }
    HOT.small_max.store(small_max(rate), Relaxed);
    // This thread switches now (its next allocation draws a distance at the
    // new rate); the others at their next sample point.
    alloc::with_local(|l| {
        refresh_limit(l);
        l.started.set(false);
        l.countdown.set(0);
    });
}

/// Whether the sampled estimates may be scaled to the exact totals (see
/// [`CALIBRATED`]).
pub(crate) fn calibrated() -> bool {
    CALIBRATED.load(Relaxed)
}

/// The smallest size recorded exactly at `rate`.
#[inline(always)]
pub(crate) const fn exact_threshold(rate: u64) -> u64 {
    rate - rate / 4
}

/// What the allocator wrapper does with an allocation request.
pub(crate) enum Decision {
    /// Not sampled: the wrapped allocator serves it.
    Plain,
    /// Serve it from the arena and record it with its stack, sampled at this rate.
    Sampled(u64),
    /// Serve it from the wrapped allocator and record it exactly (weight 1).
    Exact,
}

/// Whether an allocation of `size` bytes stays clear of the next sample point:
/// the common case, a thread-local subtraction and a comparison.
#[inline(always)]
pub(crate) fn unsampled(l: &Local, size: usize) -> bool {
    if size < l.limit.get() {
        let c = l.countdown.get() - size as i64;
        if c > 0 {
            l.countdown.set(c);
            return true;
        }
    }
    false
}

/// Decides how an allocation that [`unsampled`] did not clear is served and
/// recorded.
pub(crate) fn decide(l: &Local, size: usize) -> Decision {
    refresh_limit(l);
    let rate = rate();
    let s = size as u64;
    if rate == 0 {
        l.countdown.set(DEFAULT_RATE as i64);
        Decision::Plain
    } else if rate > 1 && s < exact_threshold(rate) && size <= arena::MAX_BLOCK {
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
            (l as *const Local as u64) ^ (crate::os::current_tid() as u64).rotate_left(32) ^ 0x2545_f491_4f6c_dd1d;
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
        Decision::Sampled(rate)
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

/// Sets the thread's [`Local::limit`] from its state and the current
/// `small_max`: the common path opens only while the thread counts into its own
/// block.
#[inline]
pub(crate) fn refresh_limit(l: &Local) {
    l.limit.set(if l.own() { HOT.small_max.load(Relaxed) } else { 0 });
}

#[cfg(feature = "profilers")]
pub(crate) use super::record::{record, recorded_free};

/// Without the profilers, nothing is ever sampled (the rate is 0), so nothing is
/// recorded.
#[cfg(not(feature = "profilers"))]
pub(crate) fn record(_addr: *mut u8, _size: u64, _rate: u64) {}

/// Without the profilers, no block is recorded.
#[cfg(not(feature = "profilers"))]
pub(crate) fn recorded_free(_l: &Local, _addr: *mut u8) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_stay_in_range_and_average_to_the_rate() {
        alloc::with_local(check_distances);
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
