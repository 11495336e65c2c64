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

#[test]
fn leaf_is_the_running_function() {
    for mode in [Unwinding::FramePointers, Unwinding::Tables] {
        let profiler = cpu::start(CpuOptions::default().frequency(1000).unwinding(mode)).expect("start");
        // Random call lengths, so that the calls do not alias with the timer tick.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        burn_for(std::time::Duration::from_millis(600), || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let n = 50_000 + x % 100_000;
            std::hint::black_box(hot_a(std::hint::black_box(n)));
            std::hint::black_box(hot_b(std::hint::black_box(n)));
        });
        let p = profiler.stop().expect("stop");
        assert_valid(&p);
        let t = total(&p) as f64;
        let (a, b) = (flat(&p, "cpu_leaf::hot_a") as f64, flat(&p, "cpu_leaf::hot_b") as f64);
        assert!(
            a / t > 0.3 && b / t > 0.3,
            "{mode:?}: flat hot_a {a}, hot_b {b} of {t} ns"
        );
        assert!(
            (a + b) / t > 0.9,
            "{mode:?}: hot_a and hot_b are the leaf in only {:.0}%",
            100.0 * (a + b) / t
        );
    }
}
