//! The leaf frame is always the function that was running, in both unwinding
//! modes: two hot leaf functions both appear with their own flat time (pprof-rs's
//! frame-pointer walk starts at the caller and never shows them).

mod common;

use common::*;
use sonde::cpu::{self, CpuOptions, Unwinding};

/// A true leaf: no calls inside, even in a debug build.
#[inline(never)]
fn hot_a(n: u64) -> u64 {
    let (mut x, mut i) = (n | 1, 0);
    while i < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        i += 1;
    }
    x
}

/// The same work under another name.
#[inline(never)]
fn hot_b(n: u64) -> u64 {
    let (mut x, mut i) = (n | 3, 0);
    while i < n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        i += 1;
    }
    x
}

/// One step of the workload: both functions on the same random length, so
/// that each uses half of the CPU time (and the calls do not alias with the
/// kernel's timer tick).
fn step(x: &mut u64) {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    let n = 50_000 + *x % 100_000;
    std::hint::black_box(hot_a(std::hint::black_box(n)));
    std::hint::black_box(hot_b(std::hint::black_box(n)));
}

#[test]
fn leaf_is_the_running_function() {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    // About 800 ms of CPU, counted in steps beforehand: the profiled loop reads
    // no clock (see `steps_for`). That is 80 signals or more even where the
    // kernel checks timers at 100 Hz, enough for the tolerance below.
    let steps = steps_for(std::time::Duration::from_millis(800), || step(&mut x));
    for mode in [Unwinding::FramePointers, Unwinding::Tables] {
        let profiler = cpu::start(CpuOptions::default().frequency(1000).unwinding(mode)).expect("start");
        for _ in 0..steps {
            step(&mut x);
        }
        let p = profiler.stop().expect("stop");
        assert_valid(&p);
        let t = total(&p) as f64;
        let (a, b) = (flat(&p, "cpu_leaf::hot_a") as f64, flat(&p, "cpu_leaf::hot_b") as f64);
        // Nearly every sample has one of the two as its leaf: an unwinder that
        // starts at the caller (pprof-rs) shows neither, one that loses the
        // interrupted frame now and then falls short of 90%.
        assert!(
            (a + b) / t > 0.9,
            "{mode:?}: hot_a and hot_b are the leaf in only {:.0}%",
            100.0 * (a + b) / t
        );
        // And each has its half, within four standard errors of the signals'
        // count (doubled variance: each signal carries a tick's worth of
        // periods) and three points for code placement. A leaf charged to the
        // other function, or to neither, is out.
        let n = signals(&p);
        let tolerance = 4.0 * (2.0 * 0.25 / n as f64).sqrt() + 0.03;
        assert!(
            tolerance <= 0.4,
            "{mode:?}: only {n} signals in {t} ns: too few to judge"
        );
        let share = a / (a + b);
        assert!(
            (share - 0.5).abs() <= tolerance,
            "{mode:?}: flat hot_a {a}, hot_b {b} of {t} ns: hot_a has {:.1}% of the two (want 50 ± {:.1}, from {n} signals)",
            100.0 * share,
            100.0 * tolerance
        );
    }
}
