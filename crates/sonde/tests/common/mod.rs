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
