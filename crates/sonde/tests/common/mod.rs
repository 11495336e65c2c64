//! Helpers for the profiler scenario tests. Each scenario is its own test binary
//! (its own process), because a CPU profile is process-wide.

#![allow(dead_code)]

use std::time::{Duration, Instant};

use sonde::Profile;

/// Busy work whose cost is proportional to `n`; the compiler cannot remove it.
#[macro_export]
macro_rules! spin {
    ($n:expr) => {{
        let mut acc = 0u64;
        for i in 0..$n {
            acc = acc.wrapping_add(std::hint::black_box(i as u64).wrapping_mul(2654435761));
        }
        std::hint::black_box(acc)
    }};
}

/// The names of a sample's frames, leaf first (inlined frames included).
pub fn frames(p: &Profile, s: &sonde_profile::Sample) -> Vec<String> {
    let mut out = Vec::new();
    for &l in &s.locations {
        for line in &p.locations[l as usize].lines {
            out.push(p.functions[line.function as usize].name.to_string());
        }
    }
    out
}

/// Index of the `cpu/nanoseconds` value.
pub fn cpu_index(p: &Profile) -> usize {
    p.sample_types
        .iter()
        .position(|t| &*t.ty == "cpu")
        .expect("cpu sample type")
}

/// Total CPU nanoseconds in the profile.
pub fn total(p: &Profile) -> i64 {
    let i = cpu_index(p);
    p.samples.iter().map(|s| s.values[i]).sum()
}

/// CPU nanoseconds of samples with a frame whose name ends with `suffix`.
pub fn cum(p: &Profile, suffix: &str) -> i64 {
    let i = cpu_index(p);
    p.samples
        .iter()
        .filter(|s| frames(p, s).iter().any(|f| f.ends_with(suffix)))
        .map(|s| s.values[i])
        .sum()
}

/// CPU nanoseconds of samples whose leaf frame's name ends with `suffix`.
pub fn flat(p: &Profile, suffix: &str) -> i64 {
    let i = cpu_index(p);
    p.samples
        .iter()
        .filter(|s| frames(p, s).first().is_some_and(|f| f.ends_with(suffix)))
        .map(|s| s.values[i])
        .sum()
}

/// Number of signals (observations) behind the profile, from its comment.
pub fn signals(p: &Profile) -> u64 {
    p.comments
        .iter()
        .find_map(|c| c.strip_prefix("# sonde cpu profile: "))
        .and_then(|c| c.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .expect("signal count comment")
}

/// This thread's CPU time.
pub fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The CPU time of the whole process (every thread).
pub fn process_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// This thread's kernel id (what the `thread_id` label holds).
pub fn tid() -> u32 {
    // SAFETY: gettid has no preconditions.
    unsafe { libc::gettid() as u32 }
}

/// CPU nanoseconds of the samples labelled with thread id `tid`.
pub fn thread_total_by_id(p: &Profile, tid: u32) -> i64 {
    let i = cpu_index(p);
    p.samples
        .iter()
        .filter(|s| s.labels.nums("thread_id").any(|(v, _)| v == tid as i64))
        .map(|s| s.values[i])
        .sum()
}

/// How far one thread's CPU total in a profile may be from the CPU time the
/// thread's own clock measured, in nanoseconds, whatever the machine's load.
///
/// The thread's timer fires at every `period` of its CPU time, from a random
/// point of the first period: the periods counted are within one of
/// `cpu / period`. The kernel checks CPU timers at a scheduler tick (1 to 10
/// ms) that finds the thread running, so the periods of the thread's last
/// stretch of CPU before it exits are never signalled: a tick or two for a
/// thread that ends on continuous work (as the tests' threads do), up to 12 ms
/// measured on a busy machine; 25 ms is six ticks at 250 Hz. The 1% covers
/// what only one of the clocks sees (the thread's CPU time before its first
/// reading and after its last). A thread that waits for a CPU uses no CPU time
/// and passes no period, so none of this grows with the load.
pub fn per_thread_slack(period_ns: i64, cpu_ns: f64) -> f64 {
    period_ns as f64 + 25e6 + 0.01 * cpu_ns
}

/// How many calls of `step` use about `d` of this thread's CPU time, measured
/// in batches (the clock is read once per batch, not once per call).
///
/// Profiled loops run a counted number of steps rather than read the thread's
/// CPU clock as they go. Each reading updates the kernel's account of the
/// thread's run time, and on a busy machine two things follow (measured on
/// Linux 6.18): the scheduler finds the time slice used up at a reading and
/// switches away before the tick, and the tick, which is where CPU timers are
/// checked, then rarely finds the thread running (signals come tens of
/// milliseconds of CPU apart instead of a tick apart, and a thread that exits
/// loses the periods since its last one); and the signals that do come land
/// preferentially near the readings (a 70/30 split read as 90/10).
pub fn steps_for(d: Duration, mut step: impl FnMut()) -> u64 {
    let mut batch = 1u64;
    loop {
        let t = thread_cpu();
        for _ in 0..batch {
            step();
        }
        let took = thread_cpu() - t;
        if took >= Duration::from_millis(20) {
            let per_step = took.as_secs_f64() / batch as f64;
            return ((d.as_secs_f64() / per_step).ceil() as u64).max(1);
        }
        batch *= 2;
    }
}

/// The seed article's Example 2, expensive half: sums of squares.
#[inline(never)]
pub fn expensive_operation() -> u64 {
    let mut sum = 0u64;
    for i in 0..3_000_000u64 {
        sum = sum.wrapping_add(std::hint::black_box(i * i));
    }
    sum
}

/// The seed article's Example 2, quick half: a 10 ms sleep.
#[inline(never)]
pub fn quick_operation() {
    std::thread::sleep(Duration::from_millis(10));
}

/// Calls of `spin!(20_000)` per CPU-millisecond, measured once per test binary
/// (see [`work`]).
static STEPS_PER_MS: std::sync::OnceLock<u64> = std::sync::OnceLock::new();

/// About `ms` milliseconds of CPU work, counted in steps: the loop reads no
/// clock (see `steps_for`; under CPU contention a thread that reads its CPU
/// clock often also ends its time slices before the scheduler tick, which then
/// rarely finds it running, and its timer is checked only at those ticks). The
/// first call measures the steps per millisecond.
#[inline(never)]
pub fn work(ms: u64) {
    let per_ms = *STEPS_PER_MS.get_or_init(|| {
        steps_for(Duration::from_millis(100), || {
            std::hint::black_box(spin!(20_000));
        }) / 100
    });
    for _ in 0..per_ms * ms {
        std::hint::black_box(spin!(20_000));
    }
}

/// Measures [`work`]'s steps now (before a profile starts, so the measuring
/// is not in it).
pub fn calibrate_work() {
    work(0);
}

/// Spins for about `d` of CPU time of this thread.
pub fn burn_for(d: Duration, mut step: impl FnMut()) {
    let start = thread_cpu();
    let wall = Instant::now();
    while thread_cpu() - start < d && wall.elapsed() < d * 20 {
        step();
    }
}

/// Checks the profile is self-consistent and survives a pprof round trip.
pub fn assert_valid(p: &Profile) {
    p.check_valid().expect("valid profile");
    let back = Profile::parse(&p.encode_uncompressed()).expect("decodes");
    assert_eq!(back.samples, p.samples, "samples");
    assert_eq!(back.locations, p.locations, "locations");
    assert_eq!(back.functions, p.functions, "functions");
    assert_eq!(back.mappings, p.mappings, "mappings");
    assert_eq!(&back, p);
}

/// Runs `go tool pprof -top` on the profile if Go is installed.
pub fn go_top(p: &Profile) -> Option<String> {
    if !sonde_test_support::GO.available("go tool pprof check") {
        return None;
    }
    let path = std::env::temp_dir().join(format!("sonde-cpu-{}.pb.gz", std::process::id()));
    p.write_file(&path).expect("write profile");
    let o = std::process::Command::new("go")
        .args(["tool", "pprof", "-top"])
        .arg(&path)
        .output()
        .expect("run go tool pprof");
    let _ = std::fs::remove_file(&path);
    assert!(
        o.status.success(),
        "go tool pprof failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(String::from_utf8_lossy(&o.stdout).into_owned())
}

/// The total of sample type `ty` over samples with a frame ending with `suffix`.
pub fn cum_of(p: &Profile, ty: &str, suffix: &str) -> i64 {
    let i = p.sample_types.iter().position(|t| &*t.ty == ty).expect("sample type");
    p.samples
        .iter()
        .filter(|s| frames(p, s).iter().any(|f| f.ends_with(suffix)))
        .map(|s| s.values[i])
        .sum()
}

/// The total of sample type `ty` over all samples.
pub fn total_of(p: &Profile, ty: &str) -> i64 {
    let i = p.sample_types.iter().position(|t| &*t.ty == ty).expect("sample type");
    p.samples.iter().map(|s| s.values[i]).sum()
}

/// Runs `go tool pprof ARGS FILE` on the profile if Go is installed.
pub fn go_pprof(p: &Profile, args: &[&str]) -> Option<String> {
    if !sonde_test_support::GO.available("go tool pprof check") {
        return None;
    }
    let path = std::env::temp_dir().join(format!("sonde-prof-{}-{}.pb.gz", std::process::id(), args.len()));
    p.write_file(&path).expect("write profile");
    let o = std::process::Command::new("go")
        .args(["tool", "pprof"])
        .args(args)
        .arg(&path)
        .output()
        .expect("run go tool pprof");
    let _ = std::fs::remove_file(&path);
    assert!(
        o.status.success(),
        "go tool pprof failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(String::from_utf8_lossy(&o.stdout).into_owned())
}
