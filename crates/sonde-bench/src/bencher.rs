//! What a benchmark function receives: [`B`], Go's `*testing.B` for Rust.

use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::driver::Session;

/// One reading of the clocks and the allocation counters. Allocations are this
/// thread's (run_parallel adds its workers'), so that other threads of the
/// process (a profiler's collector, other tests) do not count.
#[derive(Clone, Copy)]
struct Snapshot {
    wall: Instant,
    cpu_ns: u64,
    stats: sonde::heap::AllocStats,
}

impl Snapshot {
    fn take() -> Snapshot {
        // Wall clock last: the timed region starts right after.
        let stats = sonde::heap::thread_stats();
        let cpu_ns = thread_cpu_ns();
        Snapshot {
            wall: Instant::now(),
            cpu_ns,
            stats,
        }
    }

    fn take_end() -> Snapshot {
        // Wall clock first: the timed region ends right before.
        let wall = Instant::now();
        let cpu_ns = thread_cpu_ns();
        Snapshot {
            wall,
            cpu_ns,
            stats: sonde::heap::thread_stats(),
        }
    }
}

/// CPU time of the calling thread, in nanoseconds.
pub(crate) fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// What one call of a benchmark function measured.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Measured {
    /// Iterations asked for.
    pub n: u64,
    pub wall_ns: u64,
    /// CPU time of the calling thread while the timer ran.
    pub cpu_ns: u64,
    pub allocs: u64,
    pub bytes: u64,
}

/// The benchmark's handle (Go's `*testing.B`): how many iterations to run, the
/// timer, and what to report besides time.
///
/// A benchmark function is called several times: once to probe it, a few times
/// to calibrate [`B::n`], then once per sample. Each call must run the measured
/// code `b.n()` times, either through [`B::iter`] or with its own loop:
///
/// ```
/// use sonde_bench::{B, black_box};
///
/// fn fibonacci(n: u32) -> u64 {
///     if n < 2 { n as u64 } else { fibonacci(n - 1) + fibonacci(n - 2) }
/// }
///
/// fn fibonacci_20(b: &mut B) {
///     b.iter(|| fibonacci(black_box(20)));
/// }
///
/// // The Go way: an explicit loop over b.n(), setup excluded with reset_timer.
/// fn sum_prepared(b: &mut B) {
///     let data: Vec<u64> = (0..1000).collect();
///     b.reset_timer();
///     for _ in 0..b.n() {
///         black_box(data.iter().sum::<u64>());
///     }
/// }
/// # let _ = (fibonacci_20 as fn(&mut B), sum_prepared as fn(&mut B));
/// ```
pub struct B {
    n: u64,
    procs: usize,
    name: String,
    session: Rc<Session>,
    running: Option<Snapshot>,
    acc: Measured,
    bytes_per_op: u64,
    report_allocs: bool,
    metrics: Vec<(String, f64)>,
    has_subs: bool,
    parallel: bool,
}

impl B {
    pub(crate) fn new(name: &str, n: u64, procs: usize, session: Rc<Session>) -> B {
        B {
            n,
            procs,
            name: name.to_string(),
            session,
            running: None,
            acc: Measured {
                n,
                ..Measured::default()
            },
            bytes_per_op: 0,
            report_allocs: false,
            metrics: Vec::new(),
            has_subs: false,
            parallel: false,
        }
    }

    /// How many times this call must run the measured code (Go's `b.N`).
    pub fn n(&self) -> u64 {
        self.n
    }

    /// The full name of this benchmark (`BenchmarkProcessing/Size100`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `f` [`B::n`] times, timing only that loop: whatever the function did
    /// before is setup. `f`'s result goes through [`black_box`](crate::black_box)
    /// so that it is not optimized away.
    #[inline(never)]
    pub fn iter<T>(&mut self, mut f: impl FnMut() -> T) {
        self.reset_timer();
        self.start_timer();
        for _ in 0..self.n {
            std::hint::black_box(f());
        }
        self.stop_timer();
    }

    /// Zeroes the elapsed time and allocation counts (Go's `b.ResetTimer`):
    /// call it after expensive setup. The timer keeps running if it was.
    pub fn reset_timer(&mut self) {
        self.acc = Measured {
            n: self.n,
            ..Measured::default()
        };
        if self.running.is_some() {
            self.running = Some(Snapshot::take());
        }
    }

    /// Starts timing (Go's `b.StartTimer`); a call starts with the timer running.
    pub fn start_timer(&mut self) {
        if self.running.is_none() {
            self.running = Some(Snapshot::take());
        }
    }

    /// Stops timing (Go's `b.StopTimer`), e.g. around per-iteration setup.
    /// Allocations made while stopped are not counted either.
    pub fn stop_timer(&mut self) {
        if let Some(start) = self.running.take() {
            let end = Snapshot::take_end();
            self.acc.wall_ns += end.wall.duration_since(start.wall).as_nanos() as u64;
            self.acc.cpu_ns += end.cpu_ns.saturating_sub(start.cpu_ns);
            let d = end.stats.since(&start.stats);
            self.acc.allocs += d.allocs;
            self.acc.bytes += d.bytes_allocated;
        }
    }

    /// Records that each iteration processes `bytes` bytes: the result gets an
    /// `MB/s` column (Go's `b.SetBytes`).
    pub fn set_bytes(&mut self, bytes: u64) {
        self.bytes_per_op = bytes;
    }

    /// Reports `B/op` and `allocs/op` for this benchmark even without
    /// `--benchmem` (Go's `b.ReportAllocs`).
    pub fn report_allocs(&mut self) {
        self.report_allocs = true;
    }

    /// Adds a custom metric to the result line, e.g.
    /// `b.report_metric(hits as f64 / b.n() as f64, "hits/op")` (Go's
    /// `b.ReportMetric`). Per-iteration metrics must be divided by `b.n()` by the
    /// caller. The unit must not contain spaces.
    pub fn report_metric(&mut self, value: f64, unit: &str) {
        match self.metrics.iter_mut().find(|(u, _)| u == unit) {
            Some(m) => m.1 = value,
            None => self.metrics.push((unit.to_string(), value)),
        }
    }

    /// Runs `f` as a sub-benchmark named `name` (Go's `b.Run`): reported as
    /// `parent/name`, calibrated and sampled on its own. A benchmark that runs
    /// sub-benchmarks is not reported itself. Returns false if the
    /// sub-benchmark failed (panicked).
    ///
    /// ```
    /// use sonde_bench::{B, black_box};
    ///
    /// fn processing(b: &mut B) {
    ///     for size in [10, 100, 1000] {
    ///         b.run(&format!("Size{size}"), |b| {
    ///             let data: Vec<u64> = (0..size).collect();
    ///             b.iter(|| black_box(&data).iter().sum::<u64>());
    ///         });
    ///     }
    /// }
    /// # let _ = processing as fn(&mut B);
    /// ```
    pub fn run(&mut self, name: &str, mut f: impl FnMut(&mut B)) -> bool {
        self.has_subs = true;
        let full = format!("{}/{}", self.name, crate::driver::sub_name(name));
        let session = self.session.clone();
        // The parent's own timing is not reported; keep sub-benchmarks' work out
        // of it anyway.
        let was_running = self.running.is_some();
        self.stop_timer();
        let ok = session.run_benchmark(&full, &mut f);
        if was_running {
            self.start_timer();
        }
        ok
    }

    /// Runs `body` on [`B::procs`] threads at once (Go's `b.RunParallel`),
    /// sharing the [`B::n`] iterations: each thread calls `pb.next()` until it
    /// returns false. Per-thread setup goes before the loop:
    ///
    /// ```
    /// use std::collections::HashMap;
    /// use std::sync::RwLock;
    /// use sonde_bench::{B, black_box};
    ///
    /// fn map_reads(b: &mut B) {
    ///     let map: RwLock<HashMap<u64, u64>> = RwLock::new((0..1000).map(|i| (i, i)).collect());
    ///     b.run_parallel(|pb| {
    ///         let mut i = 0;
    ///         while pb.next() {
    ///             black_box(map.read().unwrap().get(&(i % 1000)).copied());
    ///             i += 1;
    ///         }
    ///     });
    /// }
    /// # let _ = map_reads as fn(&mut B);
    /// ```
    ///
    /// The result is wall-clock time per iteration across all threads, as in Go;
    /// `--cpu 1,2,4` runs it with 1, 2 and 4 threads.
    pub fn run_parallel(&mut self, body: impl Fn(&mut PB) + Sync) {
        self.parallel = true;
        let threads = self.procs.max(1);
        let remaining = AtomicU64::new(self.n);
        // Batches of iterations small enough to balance the threads, large
        // enough that the shared counter is not the benchmark.
        let grain = (self.n / (threads as u64 * 64)).clamp(1, 10_000);
        let barrier = std::sync::Barrier::new(threads);
        let was_running = self.running.is_some();
        self.stop_timer();
        // The workers' allocations, added to the calling thread's.
        let (worker_allocs, worker_bytes) = (AtomicU64::new(0), AtomicU64::new(0));
        let run = |timed: Option<&mut B>| {
            let mut pb = PB {
                remaining: &remaining,
                grain,
                left: 0,
            };
            barrier.wait();
            match timed {
                Some(b) => {
                    b.start_timer();
                    body(&mut pb);
                }
                None => {
                    let before = sonde::heap::thread_stats();
                    body(&mut pb);
                    let d = sonde::heap::thread_stats().since(&before);
                    worker_allocs.fetch_add(d.allocs, Ordering::Relaxed);
                    worker_bytes.fetch_add(d.bytes_allocated, Ordering::Relaxed);
                }
            }
        };
        std::thread::scope(|s| {
            let workers: Vec<_> = (1..threads).map(|_| s.spawn(|| run(None))).collect();
            run(Some(self));
            for w in workers {
                if let Err(p) = w.join() {
                    std::panic::resume_unwind(p);
                }
            }
            self.stop_timer();
        });
        self.acc.allocs += worker_allocs.into_inner();
        self.acc.bytes += worker_bytes.into_inner();
        if was_running {
            self.start_timer();
        }
    }

    /// The thread count [`B::run_parallel`] uses: the current `--cpu` value (Go's
    /// `GOMAXPROCS`).
    pub fn procs(&self) -> usize {
        self.procs
    }

    /// Ends the call: stops the timer and hands over what it measured.
    pub(crate) fn finish(mut self) -> Finished {
        self.stop_timer();
        Finished {
            measured: self.acc,
            bytes_per_op: self.bytes_per_op,
            report_allocs: self.report_allocs,
            metrics: self.metrics,
            has_subs: self.has_subs,
            parallel: self.parallel,
        }
    }
}

/// What a call left behind, for the driver.
pub(crate) struct Finished {
    pub measured: Measured,
    pub bytes_per_op: u64,
    pub report_allocs: bool,
    pub metrics: Vec<(String, f64)>,
    pub has_subs: bool,
    pub parallel: bool,
}

/// A thread's share of a parallel benchmark's iterations (Go's `*testing.PB`).
pub struct PB<'a> {
    remaining: &'a AtomicU64,
    grain: u64,
    left: u64,
}

impl PB<'_> {
    /// Whether there is another iteration to run (Go's `pb.Next()`).
    #[inline]
    #[allow(clippy::should_implement_trait)] // Go's name; a bool, not an item
    pub fn next(&mut self) -> bool {
        if self.left > 0 {
            self.left -= 1;
            return true;
        }
        // Takes a batch of up to `grain` iterations.
        let mut cur = self.remaining.load(Ordering::Relaxed);
        loop {
            if cur == 0 {
                return false;
            }
            let take = cur.min(self.grain);
            match self
                .remaining
                .compare_exchange_weak(cur, cur - take, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => {
                    self.left = take - 1;
                    return true;
                }
                Err(now) => cur = now,
            }
        }
    }
}
