//! The seed article's Example 2: an expensive operation (sums of squares) and a
//! quick one that sleeps 10 ms, 100 times. The expensive one holds at least 95% of
//! the samples, the sleeping one none; `go tool pprof` reads the profile.

mod common;

use std::time::Duration;

use common::*;
use sonde::cpu::{self, CpuOptions};

#[inline(never)]
fn expensive_operation() -> u64 {
    let mut sum = 0u64;
    for i in 0..3_000_000u64 {
        sum = sum.wrapping_add(std::hint::black_box(i * i));
    }
    sum
}

#[inline(never)]
fn quick_operation() {
    std::thread::sleep(Duration::from_millis(10));
}

#[test]
fn expensive_dominates_and_sleep_is_absent() {
    let profiler = cpu::start(CpuOptions::default().frequency(1000)).expect("start");
    // A second profile cannot start while this one runs.
    assert!(matches!(
        cpu::start(CpuOptions::default()),
        Err(sonde::Error::AlreadyRunning)
    ));
    for _ in 0..100 {
        std::hint::black_box(expensive_operation());
        quick_operation();
    }
    let p = profiler.stop().expect("stop");
    assert_valid(&p);
    let t = total(&p);
    assert!(signals(&p) >= 20, "too few samples to judge: {}", signals(&p));
    eprintln!(
        "expensive_operation: {} of {} ns over {} signals",
        cum(&p, "expensive_operation"),
        total(&p),
        signals(&p)
    );
    let expensive = cum(&p, "expensive_operation");
    assert!(
        expensive as f64 >= 0.95 * t as f64,
        "expensive_operation has {expensive} of {t} ns"
    );
    assert_eq!(cum(&p, "quick_operation"), 0, "a sleeping function gets no CPU samples");
    assert_eq!(&*p.sample_types[0].ty, "samples");
    assert_eq!(&*p.sample_types[1].unit, "nanoseconds");
    assert_eq!(p.period, 1_000_000);
    assert!(p.duration_nanos > 1_000_000_000 && p.time_nanos > 0);
    assert!(!p.mappings[0].build_id.is_empty() || p.mappings[0].filename.contains("cpu_seed"));

    if let Some(top) = go_top(&p) {
        assert!(top.contains("cpu_seed::expensive_operation"), "{top}");
        assert!(!top.contains("quick_operation"), "{top}");
    }
    // The profiler can run again after stopping.
    let again = cpu::start(CpuOptions::default()).expect("restart");
    again.stop().expect("stop again");
}
