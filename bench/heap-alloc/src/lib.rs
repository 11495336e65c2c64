//! The allocation-heavy workload shared by the allocator benchmarks: allocations
//! and frees of 8 to 512 bytes from a fixed seed, keeping a rolling window of
//! 10,000 live objects.

use std::time::Duration;

/// The workload's state: the random sequence and the window of live blocks.
pub struct Workload {
    x: u64,
    i: u64,
    window: Vec<Option<Box<[u8]>>>,
    /// A checksum of the blocks' contents, so that nothing is optimized away.
    pub sum: u64,
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            x: 0x9e37_79b9_7f4a_7c15,
            i: 0,
            window: (0..10_000).map(|_| None).collect(),
            sum: 0,
        }
    }
}

impl Workload {
    /// Makes `n` allocations, each replacing (freeing) a random block of the
    /// window.
    #[inline(never)]
    pub fn run(&mut self, n: u64) {
        for _ in 0..n {
            self.x ^= self.x << 13;
            self.x ^= self.x >> 7;
            self.x ^= self.x << 17;
            let size = 8 + (self.x % 505) as usize;
            let block = vec![(self.i & 0xff) as u8; size].into_boxed_slice();
            self.sum = self.sum.wrapping_add(block[size / 2] as u64);
            self.window[(self.x >> 20) as usize % 10_000] = Some(block);
            self.i += 1;
        }
    }

    /// Frees every block of the window.
    pub fn clear(&mut self) {
        self.window.iter_mut().for_each(|b| *b = None);
    }
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
    let mut w = Workload::default();
    let t = process_cpu();
    w.run(n);
    w.clear();
    let cpu = (process_cpu() - t).as_secs_f64();
    println!("{label} {cpu:.4} {n} {}", w.sum % 10);
}

/// The allocation count from the command line (default 100 million).
pub fn count() -> u64 {
    std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000_000)
}
