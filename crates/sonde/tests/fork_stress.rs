//! fork() while other threads use every public entry point of sonde's runtime:
//! the allocation counters, heap profiles (which symbolize), and CPU profiles
//! started and stopped in a loop. Each child then does each of those itself and
//! exits; a child that does not finish within its time bound has hung on a
//! lock inherited from a thread that does not exist in it, and fails the test
//! (it is killed, so the test never hangs).

use std::alloc::System;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sonde::cpu::{self, CpuOptions};
use sonde::heap::{self, Sampled};

#[global_allocator]
static ALLOC: Sampled<System> = Sampled::new(System);

/// How long a child may take to allocate, read counters, take a heap profile
/// (symbolizing it, which may load debug info), take a 30 ms CPU profile and
/// exit, however busy the machine. A hang is forever; a slow child on a
/// loaded 2-CPU machine takes a few seconds.
const CHILD_BOUND: Duration = Duration::from_secs(30);

/// What a child does, with its own threads gone: every entry point once.
/// Returns the exit status (0 when everything worked).
fn child_work() -> i32 {
    let kept: Vec<Vec<u8>> = (0..200).map(|i| vec![i as u8; 4096]).collect();
    let stats = heap::process_stats();
    if stats.allocs == 0 || stats.live_bytes() <= 0 {
        return 2;
    }
    let _ = heap::thread_stats();
    let p = heap::profile();
    if p.sample_types.is_empty() {
        return 3;
    }
    let _ = heap::allocs_profile();
    let profiler = match cpu::start(CpuOptions::default().frequency(200)) {
        Ok(p) => p,
        Err(_) => return 4,
    };
    let start = Instant::now();
    let mut x = 0u64;
    while start.elapsed() < Duration::from_millis(30) {
        x = x.wrapping_add(std::hint::black_box(x) | 1);
    }
    std::hint::black_box((x, kept));
    match profiler.stop() {
        Ok(p) if !p.encode_uncompressed().is_empty() => 0,
        _ => 5,
    }
}

/// Forks a child that runs `child_work` and waits for it within `CHILD_BOUND`.
fn fork_and_wait() -> Result<(), String> {
    // SAFETY: the child runs only sonde's fork-safe entry points and leaves
    // with _exit, running no destructors or atexit handlers.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork failed: {}", std::io::Error::last_os_error()));
    }
    if pid == 0 {
        let code = child_work();
        // SAFETY: ends the child at once.
        unsafe { libc::_exit(code) };
    }
    let deadline = Instant::now() + CHILD_BOUND;
    loop {
        let mut status = 0;
        // SAFETY: polls the child created above.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            return if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
                Ok(())
            } else {
                Err(format!(
                    "child failed with status {status:#x} (exit code {})",
                    libc::WEXITSTATUS(status)
                ))
            };
        }
        if Instant::now() > deadline {
            // Where it hangs, when gdb is there to say.
            let stack = std::process::Command::new("gdb")
                .args([
                    "-p",
                    &pid.to_string(),
                    "-batch",
                    "-ex",
                    "thread apply all bt 12",
                    "-ex",
                    "p sonde::symbolize::GENERATION",
                    "-ex",
                    "p sonde::symbolize::USERS",
                    "-ex",
                    "p sonde::symbolize::CACHES[0].inner.futex",
                ])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            eprintln!("hung child {pid}:\n{stack}");
            // SAFETY: kills and reaps the hung child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return Err(format!("child hung for {CHILD_BOUND:?}: a lock held across fork()"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn forks_while_every_entry_point_is_busy() {
    heap::set_sample_rate(4096);
    let stop = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    // Counters read in a tight loop (a metrics exporter, a benchmark harness).
    let (s, r) = (stop.clone(), rounds.clone());
    workers.push(std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            std::hint::black_box(heap::process_stats());
            r.fetch_add(1, Ordering::Relaxed);
        }
    }));
    // Heap profiles, which take the sample table and the symbol cache.
    let s = stop.clone();
    workers.push(std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            std::hint::black_box(heap::profile());
            std::hint::black_box(heap::allocs_profile());
        }
    }));
    // CPU profiles started and stopped in a loop.
    let s = stop.clone();
    workers.push(std::thread::spawn(move || {
        while !s.load(Ordering::Relaxed) {
            if let Ok(p) = cpu::start(CpuOptions::default().frequency(500)) {
                std::thread::sleep(Duration::from_millis(10));
                let _ = std::hint::black_box(p.stop());
            }
        }
    }));
    // Allocation churn on two threads, and threads starting and exiting.
    for _ in 0..2 {
        let s = stop.clone();
        workers.push(std::thread::spawn(move || {
            let mut kept = Vec::new();
            while !s.load(Ordering::Relaxed) {
                kept.push(vec![0u8; 100 + kept.len() % 3000]);
                if kept.len() > 500 {
                    kept.clear();
                }
                if kept.len() % 97 == 0 {
                    std::thread::spawn(|| std::hint::black_box(vec![1u8; 256])).join().ok();
                }
            }
        }));
    }
    let mut failures = Vec::new();
    for _ in 0..24 {
        if let Err(e) = fork_and_wait() {
            failures.push(e);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("worker");
    }
    assert!(rounds.load(Ordering::Relaxed) > 0, "the counter reader ran");
    assert!(
        failures.is_empty(),
        "{} of 24 children failed: {failures:?}",
        failures.len()
    );
}
