//! Profiling at 1000 Hz for several seconds while threads start and exit in a
//! loop, others allocate and free heavily, and the process forks: no crash, no
//! hang, and a valid profile.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use sonde::cpu::{self, CpuOptions};

#[inline(never)]
fn allocate_a_lot(stop: &AtomicBool) -> usize {
    let mut kept = Vec::new();
    let mut n = 0;
    while !stop.load(Ordering::Relaxed) {
        let v: Vec<u8> = vec![n as u8; 64 + n % 4096];
        kept.push(v);
        if kept.len() > 1000 {
            kept.clear();
        }
        n += 1;
    }
    n
}

#[inline(never)]
fn short_lived() -> u64 {
    spin!(50_000)
}

#[test]
fn survives_thread_churn_allocation_and_fork() {
    let profiler = cpu::start(CpuOptions::default().frequency(1000).thread_labels(true)).expect("start");
    let stop = Arc::new(AtomicBool::new(false));
    let allocators: Vec<_> = (0..2)
        .map(|_| {
            let stop = stop.clone();
            std::thread::spawn(move || allocate_a_lot(&stop))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut spawned = 0;
    let mut forked = 0;
    // Runs for at least 3 s, and until enough threads and forks happened even
    // on a loaded machine (the assertions below then hold by construction of
    // the loop, and what is tested is that the profile survives them).
    while Instant::now() < deadline || spawned < 400 || forked < 2 {
        let hs: Vec<_> = (0..4).map(|_| std::thread::spawn(short_lived)).collect();
        for h in hs {
            h.join().expect("short-lived thread");
        }
        spawned += 4;
        if spawned % 200 == 4 {
            // SAFETY: the child only spins and exits with _exit, touching no locks.
            let pid = unsafe { libc::fork() };
            assert!(pid >= 0, "fork failed");
            if pid == 0 {
                std::hint::black_box(spin!(2_000_000));
                // SAFETY: ends the child immediately, without running destructors.
                unsafe { libc::_exit(0) };
            }
            let mut status = 0;
            // SAFETY: waits for the child created above.
            assert_eq!(unsafe { libc::waitpid(pid, &mut status, 0) }, pid);
            assert!(
                libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
                "child status {status}"
            );
            forked += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let allocations: usize = allocators.into_iter().map(|h| h.join().expect("allocator")).sum();
    let p = profiler.stop().expect("stop");
    assert_valid(&p);
    assert!(
        allocations > 10_000,
        "only {allocations} allocations in {spawned} spawns"
    );
    assert!(signals(&p) > 1000, "{} signals", signals(&p));
    assert!(cum(&p, "allocate_a_lot") > 0, "allocating threads are sampled");
}
