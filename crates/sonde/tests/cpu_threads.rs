//! One thread 100% busy and one about 50% busy: each thread's samples follow its
//! own CPU time (ratio within 5% of the measured one) and the profile's CPU total
//! is within 5% of the CPU time they used, at 100, 250 and 1000 Hz. Process-wide
//! timers (setitimer) get ~1.1 instead of 2; a kernel that checks CPU timers at
//! its 250 Hz tick makes 1000 Hz profiles that ignore timer overruns read 1/4 of
//! the real CPU time.

mod common;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use common::*;
use sonde::cpu::{self, CpuOptions};

#[inline(never)]
fn busy_full(until: Instant) {
    while Instant::now() < until {
        std::hint::black_box(spin!(20_000));
    }
}

#[inline(never)]
fn busy_half(until: Instant) {
    while Instant::now() < until {
        let t = thread_cpu();
        while thread_cpu() - t < Duration::from_millis(3) {
            std::hint::black_box(spin!(20_000));
        }
        std::thread::sleep(Duration::from_millis(3));
    }
}

fn thread_total(p: &sonde::Profile, name: &str) -> i64 {
    let i = cpu_index(p);
    p.samples
        .iter()
        .filter(|s| s.labels.has("thread", name))
        .map(|s| s.values[i])
        .sum()
}

fn run(hz: u32) {
    let barrier = Arc::new(Barrier::new(3));
    let spawn = |name: &str, f: fn(Instant)| {
        let b = barrier.clone();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                b.wait();
                let c0 = thread_cpu();
                f(Instant::now() + Duration::from_millis(1500));
                thread_cpu() - c0
            })
            .expect("spawn")
    };
    let full = spawn("busy-full", busy_full);
    let half = spawn("busy-half", busy_half);
    // Both threads exist before start, so both have timers from the beginning.
    let profiler = cpu::start(CpuOptions::default().frequency(hz).thread_labels(true)).expect("start");
    barrier.wait();
    let (cpu_full, cpu_half) = (full.join().expect("full"), half.join().expect("half"));
    let p = profiler.stop().expect("stop");
    assert_valid(&p);
    let (pf, ph) = (
        thread_total(&p, "busy-full") as f64,
        thread_total(&p, "busy-half") as f64,
    );
    let (cf, ch) = (cpu_full.as_nanos() as f64, cpu_half.as_nanos() as f64);
    let measured = pf / ph;
    let truth = cf / ch;
    assert!(
        (measured / truth - 1.0).abs() <= 0.05,
        "{hz} Hz: profile ratio {measured:.3}, CPU-time ratio {truth:.3} ({pf} / {ph} ns vs {cf} / {ch} ns)"
    );
    eprintln!(
        "{hz:>4} Hz: profile ratio {measured:.3} vs CPU-time ratio {truth:.3}; profile total {:.3}s vs CPU {:.3}s",
        (pf + ph) / 1e9,
        (cf + ch) / 1e9
    );
    let profiled = pf + ph;
    let used = cf + ch;
    assert!(
        (profiled / used - 1.0).abs() <= 0.05,
        "{hz} Hz: profile total {:.3}s, CPU time used {:.3}s",
        profiled / 1e9,
        used / 1e9
    );
}

#[test]
fn samples_follow_each_threads_cpu_time() {
    for hz in [100, 250, 1000] {
        run(hz);
    }
}
