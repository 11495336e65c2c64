//! Threads that start after the profile and live a short while: pairs of
//! threads burning 5 ms, 20 ms and 100 ms of CPU each, many pairs of each size
//! one after the other, at 1000 Hz. Each size's CPU total in the profile is at
//! least 85% of what the threads' own clocks measured (and not inflated), and
//! the burning function is found under each thread's stack, on a sample that
//! carries the thread's name (a thread may exit before the collector's next
//! scan: the name comes with the sample).
//!
//! Before the process-wide timer, a thread existed for the profile only once the
//! collector's 50 ms scan had armed its timer: 5 ms threads were captured at
//! about 4% of their CPU, 20 ms threads at 38%, 100 ms threads at 83%.

mod common;

use std::time::Duration;

use common::*;
use sonde::cpu::{self, CpuOptions};

#[inline(never)]
fn burn_5ms() {
    work(5);
}

#[inline(never)]
fn burn_20ms() {
    work(20);
}

#[inline(never)]
fn burn_100ms() {
    work(100);
}

/// Runs `pairs` pairs of threads named `name` running `f`, one pair after the
/// other; returns the CPU time the threads measured, in ns.
fn run_pairs(pairs: usize, name: &str, f: fn()) -> f64 {
    let mut used = Duration::ZERO;
    for _ in 0..pairs {
        let threads: Vec<_> = (0..2)
            .map(|_| {
                std::thread::Builder::new()
                    .name(name.into())
                    .spawn(move || {
                        let c0 = thread_cpu();
                        f();
                        thread_cpu() - c0
                    })
                    .expect("spawn")
            })
            .collect();
        for t in threads {
            used += t.join().expect("thread");
        }
    }
    used.as_nanos() as f64
}

#[test]
fn short_threads_are_captured_from_their_first_instant() {
    calibrate_work();
    let profiler = cpu::start(CpuOptions::default().frequency(1000).thread_labels(true)).expect("start");
    // Each size's threads use about 400 ms of CPU in all, so that what a
    // size's last threads leave for the next tick to count (a tick or two,
    // which may land on the next size's threads) is a few percent of it.
    let used = [
        ("burn_5ms", run_pairs(40, "burner-5ms", burn_5ms)),
        ("burn_20ms", run_pairs(10, "burner-20ms", burn_20ms)),
        ("burn_100ms", run_pairs(2, "burner-100ms", burn_100ms)),
    ];
    let p = profiler.stop().expect("stop");
    assert_valid(&p);
    let period = p.period as f64;
    let short_stacks: i64 = {
        let i = cpu_index(&p);
        p.samples
            .iter()
            .filter(|s| s.locations.len() <= 2)
            .map(|s| s.values[i])
            .sum()
    };
    eprintln!(
        "profile total {:.1} ms, held {:.1} ms, stacks of at most 2 frames {:.1} ms, {} signals, start_thread {:.1} ms",
        total(&p) as f64 / 1e6,
        cum(&p, "held in a system call]") as f64 / 1e6,
        short_stacks as f64 / 1e6,
        signals(&p),
        flat(&p, "start_thread") as f64 / 1e6
    );
    // What one size may gain or lose at its edges: the periods counted by the
    // tick after its last thread (up to two 10 ms ticks of both CPUs), plus a
    // period per pair for the random phase of the first expiry.
    let edge = 2.0 * 2.0 * 10e6 + period;
    for (name, used) in used {
        // Every sample in a burner's stack is its thread's and says so (the
        // stack and the name are read by the same handler on that thread).
        let thread = name.replace("burn_", "burner-");
        let i = cpu_index(&p);
        let (mut named, mut all) = (0, 0);
        for s in p
            .samples
            .iter()
            .filter(|s| frames(&p, s).iter().any(|f| f.ends_with(name)))
        {
            all += s.values[i];
            if s.labels.has("thread", &thread) {
                named += s.values[i];
            }
        }
        assert_eq!(named, all, "{name}: {named} of {all} ns carry thread={thread}");
        let profiled = cum(&p, name) as f64;
        eprintln!(
            "{name}: profile {:.1} ms of {:.1} ms measured ({:.1}%)",
            profiled / 1e6,
            used / 1e6,
            100.0 * profiled / used
        );
        // 94–106% on an idle machine. Under load a process timer's signal
        // (10 periods) may expire as a thread starts and land in its
        // `start_thread`, before the thread is named: 1 run in 12 under two
        // busy loops had 88% for the 5 ms threads (80 thread starts).
        assert!(
            profiled >= 0.85 * used,
            "{name}: {:.1} ms in the profile, {:.1} ms of CPU used (want at least 85%)",
            profiled / 1e6,
            used / 1e6
        );
        assert!(
            profiled <= used + edge + 0.05 * used,
            "{name}: {:.1} ms in the profile but only {:.1} ms of CPU used",
            profiled / 1e6,
            used / 1e6
        );
    }
}
