//! Contention profiles: Go's block and mutex profiles for Rust.
//!
//! `sonde::sync`'s [`Mutex`], [`RwLock`] and [`Condvar`] are std's, with the
//! same API and behavior, and record their contention; [`record_block`] puts any
//! other wait (a channel receive, a join, an I/O wait) in the block profile.
//!
//! | Go | sonde |
//! |---|---|
//! | `runtime.SetBlockProfileRate(rate)` | [`set_block_profile_rate`]`(rate_ns)` |
//! | `runtime.SetMutexProfileFraction(n)` | [`set_mutex_profile_fraction`]`(n)` |
//! | `pprof.Lookup("block")` | [`block_profile`]`()` |
//! | `pprof.Lookup("mutex")` | [`mutex_profile`]`()` |
//! | `sync.Mutex`, `sync.RWMutex`, `sync.Cond` | [`Mutex`], [`RwLock`], [`Condvar`] |
//!
//! ```
//! use sonde::sync::{self, Mutex};
//!
//! sync::set_mutex_profile_fraction(1); // every contention event
//! sync::set_block_profile_rate(1); // every wait
//! let counter = Mutex::new(0u64);
//! *counter.lock().unwrap() += 1;
//! let p = sync::mutex_profile(); // contentions/count, delay/nanoseconds
//! assert_eq!(p.sample_types[1].to_string(), "delay/nanoseconds");
//! ```
//!
//! The map of the module: `contention.rs` (the events, their sampling as Go
//! samples them, their records, and what each lock keeps to charge waits to
//! unlocks), `mutex.rs`, `rwlock.rs`, `condvar.rs` (the locks), and with
//! feature `tokio`, `tokio.rs` (`sonde::sync::tokio`: tokio's `Mutex`, `RwLock` and
//! `Semaphore`, recording the same way for tasks).
//!
//! Both profiles are cumulative since the program started, as Go's: what
//! happened between two moments is the difference of two profiles (`sonde top
//! --base before.pb.gz after.pb.gz`).

/// `Deref` (and with `mut`, `DerefMut`), `Debug` and `Display` for a guard
/// whose `inner` field is a `contention::Release` of std's (or tokio's) guard,
/// as std implements them.
macro_rules! guard_impls {
    ($guard:ident, mut) => {
        guard_impls!($guard);

        impl<T: ?Sized> std::ops::DerefMut for $guard<'_, T> {
            fn deref_mut(&mut self) -> &mut T {
                &mut self.inner.inner
            }
        }
    };
    ($guard:ident) => {
        impl<T: ?Sized> std::ops::Deref for $guard<'_, T> {
            type Target = T;
            fn deref(&self) -> &T {
                &self.inner.inner
            }
        }

        impl<T: ?Sized + std::fmt::Debug> std::fmt::Debug for $guard<'_, T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Debug::fmt(&**self, f)
            }
        }

        impl<T: ?Sized + std::fmt::Display> std::fmt::Display for $guard<'_, T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                std::fmt::Display::fmt(&**self, f)
            }
        }
    };
}

mod condvar;
mod contention;
mod mutex;
mod rwlock;
#[cfg(feature = "tokio")]
pub mod tokio;

use std::sync::atomic::Ordering::Relaxed;

use sonde_profile::{Profile, Sample, ValueType};

pub use condvar::Condvar;
#[cfg(feature = "tokio")]
pub(crate) use contention::now_ns;
pub use mutex::{Mutex, MutexGuard};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use contention::{BLOCK, BLOCK_RATE, Events, MUTEX, MUTEX_FRACTION};

/// Sets the block profile rate (Go's `runtime.SetBlockProfileRate`), in
/// nanoseconds: a wait of at least `rate_ns` is always recorded, a shorter wait
/// of `w` ns with probability `w / rate_ns` (and then weighted so that the
/// profile's totals stay unbiased). 1 records every wait; 0 (the default)
/// turns the block profile off. Waits already recorded stay.
pub fn set_block_profile_rate(rate_ns: u64) {
    BLOCK_RATE.store(rate_ns, Relaxed);
}

/// The block profile rate in ns (0: off).
pub fn block_profile_rate() -> u64 {
    BLOCK_RATE.load(Relaxed)
}

/// Sets the mutex profile fraction (Go's `runtime.SetMutexProfileFraction`):
/// on average one contention event in `n` is recorded, weighted by `n`. 1
/// records every event; 0 (the default) turns the mutex profile off. Returns
/// the previous fraction, as Go's does.
pub fn set_mutex_profile_fraction(n: u64) -> u64 {
    MUTEX_FRACTION.swap(n, Relaxed)
}

/// The mutex profile fraction now (Go: `runtime.SetMutexProfileFraction(-1)`).
pub fn mutex_profile_fraction() -> u64 {
    MUTEX_FRACTION.load(Relaxed)
}

/// Whether either contention profile is on.
pub(crate) fn profiling() -> bool {
    BLOCK_RATE.load(Relaxed) > 0 || MUTEX_FRACTION.load(Relaxed) > 0
}

/// Runs `wait` and records how long it took in the block profile, at the
/// caller's stack: for waits outside sonde's locks (Go's block profile also
/// shows channel operations and `select`).
///
/// ```
/// let (tx, rx) = std::sync::mpsc::channel::<u32>();
/// std::thread::spawn(move || tx.send(7).unwrap());
/// let got = sonde::sync::record_block(|| rx.recv());
/// assert_eq!(got, Ok(7));
/// ```
#[inline(never)]
pub fn record_block<T>(wait: impl FnOnce() -> T) -> T {
    if BLOCK_RATE.load(Relaxed) == 0 {
        return wait();
    }
    let start = contention::now_ns();
    let r = wait();
    contention::block_event(contention::now_ns().saturating_sub(start));
    r
}

/// The block profile (Go's `pprof.Lookup("block")`): where threads waited for
/// a lock, a condition variable or a [`record_block`] wait, and for how long,
/// since the program started. Sample types `contentions/count` and
/// `delay/nanoseconds`; period type `contentions/count`, period 1, as Go writes.
pub fn block_profile() -> Profile {
    build(&BLOCK)
}

/// The mutex profile (Go's `pprof.Lookup("mutex")`): the unlocks that made
/// other threads wait, with how long they waited, since the program started.
/// Sample types `contentions/count` and `delay/nanoseconds`.
pub fn mutex_profile() -> Profile {
    build(&MUTEX)
}

/// How many distinct stacks the block profile holds (its `/debug/pprof` count).
pub(crate) fn block_count() -> usize {
    crate::alloc::quietly(|| BLOCK.len())
}

/// How many distinct stacks the mutex profile holds.
pub(crate) fn mutex_count() -> usize {
    crate::alloc::quietly(|| MUTEX.len())
}

/// Leading frames that are the locks' own: hidden, as Go hides its runtime's.
const LOCK_FRAMES: &[&str] = &[
    concat!(env!("CARGO_MANIFEST_DIR"), "/src/sync/"),
    concat!(env!("CARGO_MANIFEST_DIR"), "/src/alloc/"),
    concat!(env!("CARGO_MANIFEST_DIR"), "/src/unwind/"),
    "sonde::sync::",
    "sonde::alloc::",
    "<sonde::sync::",
];

fn build(events: &Events) -> Profile {
    crate::alloc::hand_over(crate::alloc::quietly(|| {
        let recorded = events.snapshot();
        let modules = crate::unwind::modules::loaded_modules();
        let p = Profile {
            sample_types: vec![
                ValueType::new("contentions", "count"),
                ValueType::new("delay", "nanoseconds"),
            ],
            period_type: Some(ValueType::new("contentions", "count")),
            period: 1,
            time_nanos: crate::profile_builder::unix_nanos(std::time::SystemTime::now()),
            ..Default::default()
        };
        let mut t = crate::profile_builder::ProfileBuilder::new(p, &modules, &[], LOCK_FRAMES);
        for (stack, count, delay) in recorded {
            let locations = t.stack(&stack);
            t.p.samples.push(Sample {
                locations,
                values: vec![count.round() as i64, delay.min(i64::MAX as u64) as i64],
                labels: Default::default(),
            });
        }
        t.p
    }))
}

/// Before `fork()` (see `crate::fork`): both profiles' records.
pub(crate) fn fork_prepare() {
    BLOCK.fork_prepare();
    MUTEX.fork_prepare();
}

/// After `fork()`, in parent and child.
pub(crate) fn fork_release() {
    MUTEX.fork_release();
    BLOCK.fork_release();
}
