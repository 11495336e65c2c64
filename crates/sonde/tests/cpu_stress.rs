//! Profiling at 1000 Hz for seconds while threads start and exit in a loop,
//! others allocate and free heavily, and the process forks: no crash, no hang,
//! a valid profile, and the allocating threads' CPU time all in it.
//!
//! The run lasts until the process used 2.5 CPU-seconds (and enough threads
//! and forks happened), not for a wall-clock time, and
//! what is asserted is measured in the same run: each allocating thread's CPU
//! total in the profile against its own CPU clock, the signal count against the
//! CPU-seconds used, the profile's total against the process's CPU time. A busy
//! machine makes the test slower, not weaker.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use common::*;
use sonde::cpu::{self, CpuOptions};

/// The process's CPU time the run waits for (most of it the allocating
/// threads').
const PROCESS_CPU: Duration = Duration::from_millis(2500);

/// Allocates and frees until told to stop. Returns (allocations, its thread
/// id, its CPU time). It reads its CPU clock only at the start and the end
/// (see `steps_for` on what frequent readings do to a busy thread's samples).
#[inline(never)]
fn allocate_a_lot(stop: &AtomicBool) -> (usize, u32, Duration) {
    let start = thread_cpu();
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
    (n, tid(), thread_cpu() - start)
}

#[inline(never)]
fn short_lived() -> u64 {
    spin!(50_000)
}

#[test]
fn survives_thread_churn_allocation_and_fork() {
    let stop = Arc::new(AtomicBool::new(false));
    let go = Arc::new(Barrier::new(3));
    // The allocating threads exist before the profile starts (so they have
    // timers from their first instruction of work) and start working after.
    let allocators: Vec<_> = (0..2)
        .map(|i| {
            let (stop, go) = (stop.clone(), go.clone());
            std::thread::Builder::new()
                .name(format!("allocator-{i}"))
                .spawn(move || {
                    go.wait();
                    allocate_a_lot(&stop)
                })
                .expect("spawn")
        })
        .collect();
    let process_start = process_cpu();
    let profiler = cpu::start(CpuOptions::default().frequency(1000).thread_labels(true)).expect("start");
    go.wait();
    let mut spawned = 0;
    let mut forked = 0;
    while process_cpu() - process_start < PROCESS_CPU || spawned < 400 || forked < 2 {
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
    let allocators: Vec<_> = allocators.into_iter().map(|h| h.join().expect("allocator")).collect();
    // Read before stop(), whose symbolization is not profiled.
    let process_used = (process_cpu() - process_start).as_nanos() as f64;
    let p = profiler.stop().expect("stop");
    assert_valid(&p);
    let period = p.period;
    let mut allocators_cpu = 0.0;
    for (i, &(allocations, tid, cpu)) in allocators.iter().enumerate() {
        let used = cpu.as_nanos() as f64;
        allocators_cpu += used;
        assert!(
            allocations > 10_000,
            "allocator-{i} made only {allocations} allocations in {cpu:?} of CPU"
        );
        // Each allocating thread's CPU time is in the profile, as its own clock
        // measured it. Signals not delivered, lost, or dropped for a full
        // buffer, or periods counted once per signal (a quarter at a 250 Hz
        // kernel tick), fall far below; a thread sampled twice is far above.
        let profiled = thread_total_by_id(&p, tid) as f64;
        let slack = per_thread_slack(period, used);
        eprintln!(
            "allocator-{i}: profile {:.3}s, thread CPU {:.3}s, {allocations} allocations",
            profiled / 1e9,
            used / 1e9
        );
        assert!(
            (profiled - used).abs() <= slack,
            "allocator-{i} has {:.3}s in the profile but used {:.3}s of CPU (allowed ±{:.3}s)",
            profiled / 1e9,
            used / 1e9,
            slack / 1e9
        );
    }
    // The kernel checks CPU timers at the scheduler ticks (100 to 1000 Hz)
    // that find the thread running, and at 1000 Hz sampling each check finds a
    // period elapsed and sends a signal. A thread that runs until a tick
    // preempts it, as these do, thus gets a signal per tick of its CPU time,
    // at least 100 per CPU-second whatever the load (waiting for a CPU uses no
    // CPU time); half of that is the floor. Signals that are not delivered, or
    // not accepted by the handler, fall below it.
    let floor = (50.0 * allocators_cpu / 1e9) as u64;
    eprintln!(
        "{} signals for {:.3} CPU-seconds of the allocators; profile total {:.3}s of {:.3}s process CPU",
        signals(&p),
        allocators_cpu / 1e9,
        total(&p) as f64 / 1e9,
        process_used / 1e9
    );
    assert!(
        signals(&p) >= floor,
        "{} signals for {:.3} CPU-seconds of the allocating threads (want at least {floor})",
        signals(&p),
        allocators_cpu / 1e9
    );
    // Nothing is counted that the process did not use: at most one period more
    // per thread seen (each timer's random first expiry).
    let seen: f64 = p
        .comments
        .iter()
        .find_map(|c| c.split(" signals from ").nth(1))
        .and_then(|c| c.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("thread count comment");
    assert!(
        total(&p) as f64 <= process_used + seen * period as f64,
        "the profile holds {:.3}s of CPU, the process used {:.3}s",
        total(&p) as f64 / 1e9,
        process_used / 1e9
    );
    assert!(
        cum(&p, "allocate_a_lot") as f64 >= 0.5 * allocators_cpu,
        "the allocating threads' samples are under allocate_a_lot: {} of {:.0} ns",
        cum(&p, "allocate_a_lot"),
        allocators_cpu
    );
}
