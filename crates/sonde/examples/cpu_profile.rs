//! The seed article's Example 2 in Rust: an expensive operation that burns CPU and
//! a quick one that only sleeps, called 100 times under the CPU profiler.
//!
//! The loop runs 30 million times per call (as the Go fixture in `tests/go/cpu`
//! does), about 2 s of CPU in all, so that the profile is about the work and not
//! about the cost of sleeping: a sleep is a system call, and entering and
//! leaving it costs a few microseconds of CPU (more on a busy machine, where the
//! wake-up waits for a core). The program measures that cost with the thread's
//! CPU clock and prints it; it is what the profile shows under
//! `clock_nanosleep`, if anything.
//!
//! ```sh
//! cargo run --release -p sonde --example cpu_profile -- cpu.pb.gz
//! sonde top cpu.pb.gz            # or: go tool pprof -top cpu.pb.gz
//! ```

use std::time::Duration;

#[inline(never)]
fn expensive_operation() -> u64 {
    let mut sum = 0u64;
    for i in 0..30_000_000u64 {
        sum = sum.wrapping_add(std::hint::black_box(i * i));
    }
    sum
}

#[inline(never)]
fn quick_operation() {
    std::thread::sleep(Duration::from_millis(10));
}

/// This thread's CPU time.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime only writes into `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "cpu.pb.gz".into());
    let profiler = sonde::cpu::start(sonde::cpu::CpuOptions::default())?;
    let mut total = 0u64;
    let (mut working, mut sleeping) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..100 {
        let t0 = thread_cpu();
        total = total.wrapping_add(expensive_operation()); // This will show up in the profile
        let t1 = thread_cpu();
        quick_operation(); // This won't: sleeping uses no CPU
        working += t1 - t0;
        sleeping += thread_cpu() - t1;
    }
    let profile = profiler.stop()?;
    profile.write_file(&path)?;
    println!(
        "Profiling complete ({total}); wrote {}",
        std::path::absolute(&path)
            .unwrap_or_else(|_| path.clone().into())
            .display()
    );
    println!(
        "CPU time: expensive_operation {:.0} ms; 100 sleeps of 10 ms {:.0} µs ({:.1} µs per sleep)",
        working.as_secs_f64() * 1e3,
        sleeping.as_secs_f64() * 1e6,
        sleeping.as_secs_f64() * 1e6 / 100.0
    );
    Ok(())
}
