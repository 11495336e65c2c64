//! Threads with the smallest stacks a program can ask for (16 KiB), sampled at
//! 1000 Hz and asked for their stacks by thread profiles while deep in a
//! recursion that leaves them a few KiB of room: the program lives, and their
//! work is in both profiles.
//!
//! Before the walk got a stack of its own, the signal handler's table walk
//! used about 16 KB of the interrupted thread's stack (41 KB in a debug build
//! of its dependencies), so such a thread overflowed its stack inside the
//! handler and the process died with SIGSEGV.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use sonde::cpu::{self, CpuOptions};

/// The stack each small thread asks for (glibc's `PTHREAD_STACK_MIN`).
const SMALL_STACK: usize = 16 * 1024;

/// Recurses `depth` frames of about 300 bytes each, then burns a little CPU at
/// the bottom.
#[inline(never)]
fn dig(depth: usize) -> u64 {
    let pad = std::hint::black_box([depth as u8; 256]);
    if depth == 0 {
        return spin!(20_000);
    }
    dig(depth - 1).wrapping_add(pad[depth % 256] as u64)
}

#[test]
fn threads_with_16_kib_stacks_survive_both_profilers() {
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..2)
        .map(|i| {
            let stop = stop.clone();
            std::thread::Builder::new()
                .name(format!("small-stack-{i}"))
                .stack_size(SMALL_STACK)
                .spawn(move || {
                    let c0 = thread_cpu();
                    let mut acc = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        acc = acc.wrapping_add(dig(std::hint::black_box(12)));
                    }
                    std::hint::black_box(acc);
                    thread_cpu() - c0
                })
                .expect("spawn a thread with a 16 KiB stack")
        })
        .collect();
    let profiler = cpu::start(CpuOptions::default().frequency(1000).thread_labels(true)).expect("start");
    // Thread profiles while the CPU profile runs: each signals every thread.
    let mut seen_digging = 0;
    let start = Instant::now();
    for _ in 0..20 {
        let p = sonde::threads::profile().expect("thread profile");
        seen_digging += p
            .samples
            .iter()
            .filter(|s| frames(&p, s).iter().any(|f| f.ends_with("dig")))
            .count();
        std::thread::sleep(Duration::from_millis(20));
    }
    // Until the small threads have had some CPU to sample, or 10 s.
    while start.elapsed() < Duration::from_secs(10) && process_cpu() < Duration::from_millis(800) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let p = profiler.stop().expect("stop");
    stop.store(true, Ordering::Relaxed);
    let used: Duration = threads.into_iter().map(|t| t.join().expect("small thread")).sum();
    assert_valid(&p);
    let small: i64 = p
        .samples
        .iter()
        .filter(|s| {
            s.labels.strs("thread").any(|v| v.starts_with("small-stack-"))
                && frames(&p, s).iter().any(|f| f.ends_with("dig"))
        })
        .map(|s| s.values[cpu_index(&p)])
        .sum();
    assert!(
        small > 0,
        "the small threads used {used:?} of CPU, and none of it is in the profile under dig"
    );
    assert!(seen_digging > 0, "no thread profile found a small thread in dig");
}
