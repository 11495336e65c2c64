//! The allocation-heavy workload shared by the allocator benchmarks: `n`
//! allocations and frees of 8 to 512 bytes from a fixed seed, keeping a rolling
//! window of 10,000 live objects.

use std::time::Duration;

/// Runs the workload; returns a checksum so it cannot be optimized away.
#[inline(never)]
pub fn workload(n: u64) -> u64 {
    let mut window: Vec<Option<Box<[u8]>>> = (0..10_000).map(|_| None).collect();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut sum = 0u64;
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let size = 8 + (x % 505) as usize;
        let block = vec![(i & 0xff) as u8; size].into_boxed_slice();
        sum = sum.wrapping_add(block[size / 2] as u64);
        window[(x >> 20) as usize % 10_000] = Some(block);
    }
    sum
}

/// CPU time (user + system) of this process so far.
pub fn process_cpu() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000);
    t(ru.ru_utime) + t(ru.ru_stime)
}

/// Runs the workload of `n` allocations and prints `label cpu_seconds n`.
pub fn measure(label: &str, n: u64) {
    let t = process_cpu();
    let sum = workload(n);
    let cpu = (process_cpu() - t).as_secs_f64();
    println!("{label} {cpu:.4} {n} {}", sum % 10);
}

/// The allocation count from the command line (default 100 million).
pub fn count() -> u64 {
    std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000_000)
}
