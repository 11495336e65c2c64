//! The seed article's Example 2: an expensive operation (sums of squares) and a
//! quick one that sleeps 10 ms, 100 times. The expensive one holds at least 95% of
//! the samples; the sleeping one gets nothing for its second of sleep (at most the
//! few microseconds of CPU each `sleep` call really costs, which a sample now and
//! then may land on); `go tool pprof` reads the profile.

mod common;

use common::*;
use sonde::cpu::{self, CpuOptions};

#[test]
fn expensive_dominates_and_sleep_is_absent() {
    let profiler = cpu::start(CpuOptions::default().frequency(1000)).expect("start");
    // A second profile cannot start while this one runs.
    assert!(matches!(
        cpu::start(CpuOptions::default()),
        Err(sonde::Error::AlreadyRunning { kind: "CPU" })
    ));
    let mut quick_cpu = std::time::Duration::ZERO;
    for _ in 0..100 {
        std::hint::black_box(expensive_operation());
        let t = thread_cpu();
        quick_operation();
        quick_cpu += thread_cpu() - t;
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
    // 100 x 10 ms of sleep is 1 s: none of it may appear, only the CPU the calls
    // used. A signal that lands there carries the periods elapsed since the
    // previous one (`weight` on average, a tick's worth), most of them spent
    // in expensive_operation; the calls' share of the CPU time lets `lambda`
    // signals land there on average, and a Poisson count stays under
    // lambda + 4 sqrt(lambda) + 3 (a few in a million runs above it).
    let quick = cum(&p, "quick_operation") as f64;
    let n = signals(&p) as f64;
    let weight = total_of(&p, "samples") as f64 / n;
    let lambda = n * quick_cpu.as_nanos() as f64 / t as f64;
    let allowed = quick_cpu.as_nanos() as f64 + (lambda + 4.0 * lambda.sqrt() + 3.0) * weight * p.period as f64;
    eprintln!(
        "quick_operation: {:.1} ms in the profile, {quick_cpu:?} of CPU used, {:.1} ms allowed ({weight:.1} periods per signal)",
        quick / 1e6,
        allowed / 1e6
    );
    assert!(
        quick <= allowed,
        "quick_operation has {:.1} ms in the profile but used {quick_cpu:?} of CPU (allowed {:.1} ms)",
        quick / 1e6,
        allowed / 1e6
    );
    // A profiler that samples sleeping threads puts about a second there.
    assert!(
        allowed < 100e6,
        "the bound is too loose to judge: {:.1} ms",
        allowed / 1e6
    );
    assert_eq!(&*p.sample_types[0].ty, "samples");
    assert_eq!(&*p.sample_types[1].unit, "nanoseconds");
    assert_eq!(p.period, 1_000_000);
    assert!(p.duration_nanos > 1_000_000_000 && p.time_nanos > 0);
    assert!(!p.mappings[0].build_id.is_empty() || p.mappings[0].filename.contains("cpu_seed"));

    if let Some(top) = go_top(&p) {
        assert!(top.contains("cpu_seed::common::expensive_operation"), "{top}");
        let top_cum = top
            .lines()
            .skip_while(|l| !l.contains("flat%"))
            .skip(1)
            .filter(|l| l.contains("cpu_seed::"))
            .map(|l| l.split_whitespace().nth(4).unwrap_or("").to_string())
            .next();
        assert!(
            top_cum.is_some_and(|c| c.trim_end_matches('%').parse::<f64>().unwrap_or(0.0) >= 95.0),
            "{top}"
        );
    }
    // The profiler can run again after stopping.
    let again = cpu::start(CpuOptions::default()).expect("restart");
    again.stop().expect("stop again");
}
