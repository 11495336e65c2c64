//! The CPU profiler: `pprof.StartCPUProfile` / `StopCPUProfile` for Rust.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! fn expensive_operation() -> u64 {
//!     (0..1_000_000u64).map(|i| std::hint::black_box(i * i)).sum()
//! }
//!
//! fn quick_operation() {
//!     std::thread::sleep(Duration::from_millis(10));
//! }
//!
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     // Go: pprof.StartCPUProfile(f); defer pprof.StopCPUProfile()
//!     let profiler = sonde::cpu::start(sonde::cpu::CpuOptions::default())?;
//!     for _ in 0..100 {
//!         expensive_operation(); // shows up in the profile
//!         quick_operation(); // sleeps: no CPU samples
//!     }
//!     let profile = profiler.stop()?;
//!     profile.write_file("cpu.pb.gz")?; // then: sonde top cpu.pb.gz
//!     Ok(())
//! }
//! ```
//!
//! Each thread has a timer on its own CPU clock (as Go does since 1.18), so
//! samples are proportional to each thread's CPU time however many threads are
//! busy, and sleeping threads get none. Threads that start during the profile
//! are sampled by a process-wide CPU timer from their first instant until they
//! have a timer of their own. When the kernel checks timers less often
//! than the sampling period (many kernels check CPU timers at every scheduler tick,
//! 250 Hz), each signal carries the number of periods that elapsed, so the
//! profile's CPU total stays exact at 1000 Hz.

mod profile;
mod ring;
mod signal;
mod threads;
mod timers;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use sonde_profile::Profile;

use crate::Error;
pub use crate::unwind::Unwinding;
use crate::unwind::{self, Walk};
pub use profile::HELD_FRAME;
use profile::{BuildOptions, Collected, StackCount, StackKey};
use ring::Ring;

/// Settings of a CPU profile.
#[derive(Clone, Debug)]
pub struct CpuOptions {
    frequency: u32,
    thread_labels: bool,
    unwinding: Unwinding,
    blocklist: Vec<String>,
}

impl Default for CpuOptions {
    fn default() -> Self {
        CpuOptions {
            frequency: 100,
            thread_labels: false,
            unwinding: Unwinding::Auto,
            blocklist: Vec::new(),
        }
    }
}

impl CpuOptions {
    /// Samples per second of CPU time per thread (default 100, as Go; 1 to 10000).
    pub fn frequency(mut self, hz: u32) -> Self {
        self.frequency = hz;
        self
    }

    /// Labels each sample with its thread's name (`thread`) and id (`thread_id`),
    /// so that `sonde top --tagfocus thread=worker` selects threads.
    pub fn thread_labels(mut self, on: bool) -> Self {
        self.thread_labels = on;
        self
    }

    /// How stacks are walked (default [`Unwinding::Auto`]).
    pub fn unwinding(mut self, u: Unwinding) -> Self {
        self.unwinding = u;
        self
    }

    /// Drops frames whose function name starts with any of these prefixes (for
    /// example a runtime's own scheduling frames).
    pub fn blocklist<I: IntoIterator<Item = S>, S: Into<String>>(mut self, prefixes: I) -> Self {
        self.blocklist = prefixes.into_iter().map(Into::into).collect();
        self
    }
}

/// Whether a CPU profile runs in this process.
static RUNNING: AtomicBool = AtomicBool::new(false);
static NEXT_COOKIE: AtomicU32 = AtomicU32::new(1);

/// A running CPU profile. [`CpuProfiler::stop`] ends it and returns the profile;
/// dropping it ends it and discards the data.
#[must_use = "the profile is collected until stop() is called"]
pub struct CpuProfiler {
    session: Option<Session>,
}

/// A running profile: the program's options, and the collector, which is sonde's
/// own memory (allocated quietly, and only ever touched quietly).
struct Session {
    collector: Collector,
    opts: CpuOptions,
    period_ns: u64,
    wall_start: SystemTime,
    start: Instant,
    pid: u32,
}

/// The collector thread and the channel that stops it.
struct Collector {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<Result<Collected, Error>>,
}

/// Starts profiling every thread of the process.
///
/// Fails with [`Error::AlreadyRunning`] if a profile is running, and with
/// [`Error::SignalHandlerInUse`] if another component owns SIGPROF (whose handler
/// is then left untouched).
pub fn start(opts: CpuOptions) -> Result<CpuProfiler, Error> {
    if !(1..=10_000).contains(&opts.frequency) {
        return Err(Error::InvalidOption(format!(
            "CPU profiling frequency must be between 1 and 10000 Hz, got {}",
            opts.frequency
        )));
    }
    if !cfg!(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )) {
        return Err(Error::Unsupported);
    }
    if RUNNING
        .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
        .is_err()
    {
        return Err(Error::AlreadyRunning { kind: "CPU" });
    }
    let period_ns = 1_000_000_000 / opts.frequency as u64;
    let (wall_start, start) = (SystemTime::now(), Instant::now());
    let (unwinding, thread_labels) = (opts.unwinding, opts.thread_labels);
    match crate::alloc::quietly(|| start_collector(unwinding, period_ns, thread_labels)) {
        Ok(collector) => Ok(CpuProfiler {
            session: Some(Session {
                collector,
                opts,
                period_ns,
                wall_start,
                start,
                pid: std::process::id(),
            }),
        }),
        Err(e) => {
            RUNNING.store(false, Ordering::SeqCst);
            Err(e)
        }
    }
}

/// Profiles for `duration` and returns the profile (Go's
/// `/debug/pprof/profile?seconds=N`).
pub fn profile_for(duration: Duration, opts: CpuOptions) -> Result<Profile, Error> {
    let p = start(opts)?;
    std::thread::sleep(duration);
    p.stop()
}

/// [`profile_for`], ending early (with what it has) once `cancel` is set, within
/// 20 ms: a client of `/debug/pprof/profile` that went away.
pub(crate) fn profile_until(duration: Duration, opts: CpuOptions, cancel: &AtomicBool) -> Result<Profile, Error> {
    let p = start(opts)?;
    crate::os::sleep_unless(duration, cancel);
    p.stop()
}

impl CpuProfiler {
    /// Stops profiling and returns the profile, symbolized. The profile is built
    /// in sonde's own memory and handed over as the program's: it is counted and
    /// sampled here, where the program asked for it.
    pub fn stop(mut self) -> Result<Profile, Error> {
        let s = self.session.take().ok_or(Error::Collector)?;
        let collected = finish(s.collector, s.pid)?;
        let options = BuildOptions {
            period_ns: s.period_ns,
            time_nanos: crate::profile_builder::unix_nanos(s.wall_start),
            duration_nanos: s.start.elapsed().as_nanos() as i64,
            thread_labels: s.opts.thread_labels,
            blocklist: &s.opts.blocklist,
        };
        let p = crate::alloc::quietly(|| {
            let p = profile::build(&collected, &options);
            drop(collected);
            p
        });
        Ok(crate::alloc::hand_over(p))
    }
}

impl Drop for CpuProfiler {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            let result = finish(s.collector, s.pid);
            crate::alloc::quietly(|| drop(result));
        }
    }
}

/// Installs the handler, publishes the unwinder state and starts the collector
/// thread. Call quietly: everything here is sonde's own memory.
fn start_collector(unwinding: Unwinding, period_ns: u64, thread_labels: bool) -> Result<Collector, Error> {
    signal::install()?;
    crate::fork::register();
    let cpus = std::thread::available_parallelism().map_or(4, |n| n.get());
    let state = unwind::prepare(unwinding, cpus * 2)?;
    let walk = match state.walk {
        Walk::FramePointers => "frame pointers",
        Walk::FramePointersTablesLeaf => "frame pointers (unwind tables for the interrupted frame)",
        Walk::Tables => "unwind tables",
    };
    if let Some(old) = unwind::publish(Some(Box::new(state))) {
        // A previous profile's state: nothing can still use it.
        let _ = unwind::retire(old, Duration::from_secs(1)).map(Box::leak);
    }
    let cookie = NEXT_COOKIE.fetch_add(1, Ordering::Relaxed).max(1) ^ (std::process::id() << 16);
    let cookie = if cookie == 0 { 1 } else { cookie };
    let (stop_tx, stop_rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("sonde-cpu".into())
        .spawn(move || {
            // The collector's every allocation is sonde's own, to its exit.
            crate::alloc::quiet_thread();
            collect(period_ns, cookie, thread_labels, walk, stop_rx, ready_tx)
        })
        .map_err(Error::Io)?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(Collector { stop: stop_tx, thread }),
        Ok(Err(e)) => {
            let _ = thread.join();
            cleanup_state();
            Err(e)
        }
        Err(_) => {
            let _ = thread.join();
            cleanup_state();
            Err(Error::Collector)
        }
    }
}

/// Stops the collector and takes what it collected (sonde's own memory: drop
/// it quietly).
fn finish(c: Collector, pid: u32) -> Result<Collected, Error> {
    crate::alloc::quietly(|| {
        if pid != std::process::id() {
            // We are a forked child: the collector thread does not exist here.
            drop(c);
            return Err(Error::Forked);
        }
        let _ = c.stop.send(());
        let result = c.thread.join().map_err(|_| Error::Collector).and_then(|r| r);
        cleanup_state();
        RUNNING.store(false, Ordering::SeqCst);
        result
    })
}

/// Unpublishes the unwinder state and frees it once no handler can use it.
fn cleanup_state() {
    if let Some(old) = unwind::publish(None) {
        if let Some(stuck) = unwind::retire(old, Duration::from_secs(2)) {
            // A handler is still running after two seconds (impossible in
            // practice); leaking is the safe choice.
            Box::leak(stuck);
        }
    }
}

/// After `fork()`, in the child (see `crate::fork`): the parent's profile does
/// not run here, and the child may start its own.
pub(crate) fn fork_child() {
    RUNNING.store(false, Ordering::SeqCst);
    signal::reset_after_fork();
}

/// How often the collector drains the sample ring (and, every other time,
/// adopts and reaps thread timers): rarely enough that an idle profile costs
/// almost nothing.
const DRAIN_INTERVAL: Duration = Duration::from_millis(25);
/// How soon the next drain comes when the ring was filling up.
const BUSY_DRAIN_INTERVAL: Duration = Duration::from_millis(5);
/// Every this many drains, timers that handlers armed are adopted and those of
/// exited threads deleted.
const SCAN_EVERY: u32 = 2;
/// How many threads at once can have timers of their own; more are sampled by
/// the process-wide timer only.
const MAX_TIMED_THREADS: usize = 8192;
/// The longest a kernel goes between two checks of CPU timers: one scheduler
/// tick at `CONFIG_HZ=100`, the lowest Linux offers (250 and 1000 are common).
/// A signal standing for more periods than ticks explain was held back (the
/// thread blocked SIGPROF, or spent that CPU time inside one system call).
const MAX_TICK_NS: u64 = 10_000_000;

/// The most periods one signal's stack is credited with: what a tick can
/// explain, for one thread (a thread timer) or for every CPU at once (the
/// process timer, whose own period is several sampling periods). The rest
/// goes to the `held` frame.
fn weight_bounds(period_ns: u64) -> (u64, u64) {
    let per_tick = MAX_TICK_NS.div_ceil(period_ns.max(1)) + 1;
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get()) as u64;
    (per_tick, per_tick * cpus + timers::process_periods(period_ns))
}

/// The collector thread: arms timers, drains samples, follows threads.
fn collect(
    period_ns: u64,
    cookie: u32,
    thread_labels: bool,
    walk: &'static str,
    stop: mpsc::Receiver<()>,
    ready: mpsc::Sender<Result<(), Error>>,
) -> Result<Collected, Error> {
    let ring: &'static Ring = Box::leak(Box::new(Ring::new(2048)));
    let table: &'static threads::TimedThreads = Box::leak(Box::new(threads::TimedThreads::new(MAX_TIMED_THREADS)));
    let mut timers = timers::ThreadTimers::new(table, period_ns, cookie, crate::os::current_tid());
    signal::activate(cookie, ring, table, period_ns);
    let mut stacks: HashMap<StackKey, StackCount> = HashMap::new();
    let mut truncated = 0u64;
    let mut graveyard = Vec::new();
    let (thread_bound, process_bound) = weight_bounds(period_ns);
    let process_periods = timers::process_periods(period_ns);
    // Threads sampled since the last scan (named then), with the name the
    // latest process timer's sample of each carried (zeros if none): a
    // thread's first samples may predate its name (std names a thread once it
    // runs); and all.
    let mut tids: HashMap<u32, [u8; 16]> = HashMap::new();
    let mut all_tids: HashSet<u32> = HashSet::new();
    let drain = |stacks: &mut HashMap<StackKey, StackCount>, truncated: &mut u64, tids: &mut HashMap<u32, [u8; 16]>| {
        let mut taken = 0usize;
        ring.consume(|s| {
            taken += 1;
            let name = tids.entry(s.tid).or_insert([0; 16]);
            if s.name[0] != 0 {
                *name = s.name;
            }
            let len = (s.len as usize).min(s.frames.len());
            let key = (if thread_labels { s.tid } else { 0 }, s.frames[..len].into());
            let e = stacks.entry(key).or_default();
            let (bound, weight) = if s.process {
                (process_bound, s.weight as u64 * process_periods)
            } else {
                (thread_bound, s.weight as u64)
            };
            e.periods += weight.min(bound);
            e.held += weight.saturating_sub(bound);
            e.signals += 1;
            *truncated += s.truncated as u64;
        });
        taken
    };
    if let Err(e) = timers.start() {
        signal::deactivate();
        timers.delete_all();
        let _ = ready.send(Err(Error::Timer(e)));
        return Err(Error::Collector);
    }
    let _ = ready.send(Ok(()));
    let mut tick = 0u32;
    let mut wait = DRAIN_INTERVAL;
    loop {
        match stop.recv_timeout(wait) {
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        let taken = drain(&mut stacks, &mut truncated, &mut tids);
        wait = if taken > ring.capacity() / 4 {
            BUSY_DRAIN_INTERVAL
        } else {
            DRAIN_INTERVAL
        };
        tick = tick.wrapping_add(1);
        if tick % SCAN_EVERY == 0 {
            let (added, removed) = timers.sync();
            if thread_labels {
                timers.name_threads(&tids);
            }
            all_tids.extend(tids.drain().map(|(tid, _)| tid));
            if added + removed > 0 {
                if let Some(old) = unwind::refresh_regions() {
                    graveyard.push(old);
                }
            }
            if !graveyard.is_empty() && unwind::quiescent() {
                graveyard.clear();
            }
        }
    }
    timers.stop_process_timer();
    signal::deactivate();
    // Wait for handlers that were already running (one may be arming a thread's
    // timer), then delete every timer and take the last samples.
    let deadline = Instant::now() + Duration::from_secs(2);
    while !unwind::quiescent() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(100));
    }
    drain(&mut stacks, &mut truncated, &mut tids);
    if thread_labels {
        timers.name_threads(&tids);
    }
    all_tids.extend(tids.drain().map(|(tid, _)| tid));
    let thread_names = timers.finish();
    all_tids.extend(thread_names.keys());
    let dropped = ring.dropped();
    if unwind::quiescent() {
        graveyard.clear();
        // SAFETY: the ring and the table were leaked from Boxes above; signals
        // are deactivated and no handler is running, so nothing can reach them.
        drop(unsafe { Box::from_raw(ring as *const Ring as *mut Ring) });
        drop(unsafe { Box::from_raw(table as *const threads::TimedThreads as *mut threads::TimedThreads) });
    }
    let modules = unwind::with_state(|s| s.map(|s| s.modules.clone()).unwrap_or_default());
    Ok(Collected {
        stacks,
        threads_seen: all_tids.len(),
        thread_names,
        dropped,
        truncated,
        modules,
        walk,
    })
}
