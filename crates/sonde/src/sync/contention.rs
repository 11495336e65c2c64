//! Contention events and their records, with Go's semantics
//! (`runtime/mprof.go`'s `blockevent` and `mutexevent`):
//!
//! * a **block event** is a waiter's wait: its stack, and how long it waited.
//!   Waits of at least the block profile rate are always recorded; a shorter
//!   wait of `w` ns is recorded with probability `w / rate`, as `rate / w`
//!   contentions and `rate` ns of delay, so the totals stay unbiased.
//! * a **mutex event** is an unlock that made others wait: the unlocker's
//!   stack, valued at the time its waiters spent waiting for it. On average one
//!   event in `fraction` is recorded, as `fraction` contentions and `fraction`
//!   times the delay.
//!
//! [`Contention`] is what each lock keeps to charge its waiters' time to its
//! unlocks: the number of waiters and the waiter-nanoseconds accrued since the
//! last unlock. It is touched only when the lock is contended while a profile
//! is on; an uncontended unlock reads two atomics.

use std::cell::{Cell, UnsafeCell};
use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering, Ordering::Relaxed};

use sonde_profile::hash::FastMap as Map;

use crate::fork::Gate;

/// The block profile rate in ns (Go's `SetBlockProfileRate`): 0 is off.
pub(super) static BLOCK_RATE: AtomicU64 = AtomicU64::new(0);
/// The mutex profile fraction (Go's `SetMutexProfileFraction`): 0 is off.
pub(super) static MUTEX_FRACTION: AtomicU64 = AtomicU64::new(0);

/// How deep a contention event's stack may be.
const MAX_DEPTH: usize = 64;

/// Nanoseconds on the monotonic clock.
pub(crate) fn now_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec into `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

/// A uniform random number (per-thread xorshift, seeded from the clock and the
/// thread's address of its state).
fn random() -> u64 {
    thread_local! {
        static STATE: Cell<u64> = const { Cell::new(0) };
    }
    STATE.with(|s| {
        let mut x = s.get();
        if x == 0 {
            x = now_ns() ^ (s as *const Cell<u64> as u64).rotate_left(32) | 1;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        x
    })
}

/// Who waits: for the exclusive lock (a mutex, a writer), or shared (a reader).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Waiter {
    /// Waits for a mutex or a write lock.
    Exclusive = 0,
    /// Waits for a read lock.
    Shared = 1,
}

/// The waiters of one kind: how many, and their time not charged yet.
struct Accrual {
    /// Threads waiting now (counted only while a profile is on).
    waiters: AtomicU32,
    /// Waiter-nanoseconds accrued that no unlock has been charged yet.
    accrued: AtomicU64,
    /// When `accrued` was last brought up to date (0: never).
    since: AtomicU64,
    /// Waits that ended since the last charge: the contentions charged with it.
    ended: AtomicU64,
}

impl Accrual {
    const fn new() -> Accrual {
        Accrual {
            waiters: AtomicU32::new(0),
            accrued: AtomicU64::new(0),
            since: AtomicU64::new(0),
            ended: AtomicU64::new(0),
        }
    }

    /// Brings the accrued time up to `now`, `waiting` threads having waited
    /// since the last update. Each update takes its interval with a swap, so
    /// every interval is counted once.
    fn accrue(&self, now: u64, waiting: u32) {
        let prev = self.since.swap(now, Relaxed);
        if prev != 0 && now > prev && waiting > 0 {
            self.accrued
                .fetch_add(u64::from(waiting).saturating_mul(now - prev), Relaxed);
        }
    }

    #[inline]
    fn idle(&self) -> bool {
        self.waiters.load(Relaxed) == 0 && self.accrued.load(Relaxed) == 0 && self.ended.load(Relaxed) == 0
    }

    /// The time accrued up to `now` and the waits ended, taken.
    fn take(&self, now: u64) -> Owed {
        self.accrue(now, self.waiters.load(Relaxed));
        Owed {
            delay: self.accrued.swap(0, Relaxed),
            contentions: self.ended.swap(0, Relaxed),
        }
    }
}

/// What a lock keeps to charge its waiters' time to the unlocks that let them
/// go on, as Go charges a waiter's time to the unlock that wakes it: a mutex
/// or write unlock is charged every waiter's time since the previous unlock, a
/// read unlock only the writers' (readers waiting behind a waiting writer wait
/// for that writer). Lock-free, so a forked child can never find it held; the
/// number of waiters an interval is multiplied by may be off by one for the
/// nanoseconds two updates race. An uncontended release reads one atomic.
pub(crate) struct Contention {
    /// Whether anything may be owed: set when a thread begins to wait, cleared
    /// by a release that finds no waiter and nothing accrued.
    owed: AtomicBool,
    kinds: [Accrual; 2],
}

impl Default for Contention {
    fn default() -> Self {
        Contention::new()
    }
}

impl Contention {
    /// A lock nobody waits for.
    pub(crate) const fn new() -> Contention {
        Contention {
            owed: AtomicBool::new(false),
            kinds: [Accrual::new(), Accrual::new()],
        }
    }

    /// A thread is about to wait for the lock. Returns when it started (0 when
    /// no contention profile is on: nothing is recorded then).
    #[inline]
    pub(crate) fn begin_wait(&self, who: Waiter) -> u64 {
        if !super::profiling() {
            return 0;
        }
        let now = now_ns();
        let k = &self.kinds[who as usize];
        k.accrue(now, k.waiters.fetch_add(1, Relaxed));
        self.owed.store(true, Ordering::SeqCst);
        now
    }

    /// The thread that began waiting at `start` has the lock: the others keep
    /// accruing; its own wait is a block event.
    #[inline]
    pub(crate) fn end_wait(&self, who: Waiter, start: u64) {
        if start == 0 {
            return;
        }
        let now = now_ns();
        let k = &self.kinds[who as usize];
        // This thread's own time since the unlock that woke it is no one's.
        let others = k.waiters.fetch_sub(1, Relaxed).saturating_sub(1);
        k.accrue(now, others);
        k.ended.fetch_add(1, Relaxed);
        block_event(now.saturating_sub(start));
    }

    /// The lock is about to be released (a read release when `shared`): the
    /// waiting time it ends and the waits that ended since the last release
    /// (nothing when nobody waited). Record it with [`mutex_event`] once the
    /// lock is released.
    #[inline(always)]
    pub(crate) fn owed(&self, shared: bool) -> Owed {
        if !self.owed.load(Relaxed) {
            return Owed::default();
        }
        self.take(if shared { 1 } else { 2 })
    }

    /// Takes the first `kinds` kinds of waiters' time and ended waits, and
    /// clears `owed` when nothing is left.
    #[cold]
    #[inline(never)]
    fn take(&self, kinds: usize) -> Owed {
        let now = now_ns();
        let delay = self.kinds[..kinds]
            .iter()
            .map(|k| k.take(now))
            .fold(Owed::default(), |a, b| Owed {
                delay: a.delay + b.delay,
                contentions: a.contentions + b.contentions,
            });
        if self.kinds.iter().all(Accrual::idle) {
            self.owed.store(false, Ordering::SeqCst);
            // A thread that began to wait meanwhile sets it again.
            if !self.kinds.iter().all(Accrual::idle) {
                self.owed.store(true, Ordering::SeqCst);
            }
        }
        delay
    }
}

/// What a release owes the mutex profile: the waiting time it ends (ns), and
/// the waits that ended since the previous release (its contentions: a lock
/// that lets other threads barge in is released many times while one thread
/// waits, and only the waits are contentions).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Owed {
    pub delay: u64,
    pub contentions: u64,
}

impl Owed {
    /// Whether there is anything to record.
    #[inline(always)]
    pub(crate) fn any(self) -> bool {
        self.delay > 0 || self.contentions > 0
    }
}

/// A guard of one of sonde's locks: the inner guard, and what its release owes.
/// Dropping it takes the waiting time it ends (before the inner guard lets a
/// waiter in), releases the lock, then records the mutex event (after, so that
/// walking the stack does not lengthen the critical section). `SHARED`: a read
/// release.
pub(crate) struct Release<'a, G, const SHARED: bool> {
    contention: &'a Contention,
    pub(crate) inner: ManuallyDrop<G>,
}

impl<'a, G, const SHARED: bool> Release<'a, G, SHARED> {
    /// Wraps `inner`, a guard of the lock `contention` belongs to.
    #[inline(always)]
    pub(crate) fn new(contention: &'a Contention, inner: G) -> Self {
        Release {
            contention,
            inner: ManuallyDrop::new(inner),
        }
    }

    /// The parts, without releasing anything (a condition variable's wait
    /// releases the inner guard itself).
    pub(crate) fn into_parts(self) -> (&'a Contention, G) {
        let mut this = ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped, so `inner` is taken exactly once.
        (this.contention, unsafe { ManuallyDrop::take(&mut this.inner) })
    }
}

impl<G, const SHARED: bool> Drop for Release<'_, G, SHARED> {
    #[inline(always)]
    fn drop(&mut self) {
        let owed = self.contention.owed(SHARED);
        // SAFETY: dropped once, here; `inner` is not used after.
        unsafe { ManuallyDrop::drop(&mut self.inner) };
        if owed.any() {
            mutex_event(owed);
        }
    }
}

/// Records a wait of `wait_ns` at the calling thread's stack in the block
/// profile, sampled as Go samples it.
#[inline(never)]
pub(crate) fn block_event(wait_ns: u64) {
    let rate = BLOCK_RATE.load(Relaxed);
    if rate == 0 {
        return;
    }
    let wait = wait_ns.max(1);
    let (count, delay) = if wait >= rate {
        (1.0, wait)
    } else if random() % rate < wait {
        (rate as f64 / wait as f64, rate)
    } else {
        return;
    };
    record(&BLOCK, count, delay);
}

/// Records a release that made others wait (`owed`), at the calling thread's
/// stack, in the mutex profile: one in `fraction` on average, weighted by it.
#[cold]
#[inline(never)]
pub(crate) fn mutex_event(owed: Owed) {
    let fraction = MUTEX_FRACTION.load(Relaxed);
    if fraction == 0 || (fraction > 1 && random() % fraction != 0) {
        return;
    }
    record(
        &MUTEX,
        (owed.contentions.saturating_mul(fraction)) as f64,
        owed.delay.saturating_mul(fraction),
    );
}

fn record(table: &Events, count: f64, delay: u64) {
    crate::alloc::quietly(|| {
        crate::alloc::with_local(|l| {
            let mut frames = [0u64; MAX_DEPTH];
            let n = crate::unwind::capture_here(&l.stack_end, &mut frames);
            table.add(&frames[..n], count, delay);
        })
    });
}

/// Per stack: contentions (fractional while sampling is scaled) and delay in ns.
type Records = Map<Box<[u64]>, (f64, u64)>;

/// The events of one profile since the program started.
pub(crate) struct Events {
    gate: Gate,
    inner: UnsafeCell<Option<Records>>,
}

// SAFETY: `inner` is only touched while holding `gate`.
unsafe impl Sync for Events {}

/// The block profile's events.
pub(crate) static BLOCK: Events = Events::new();
/// The mutex profile's events.
pub(crate) static MUTEX: Events = Events::new();

impl Events {
    const fn new() -> Events {
        Events {
            gate: Gate::new(),
            inner: UnsafeCell::new(None),
        }
    }

    /// Runs `f` on the events under the gate. Call quietly: the map is sonde's.
    fn with<T>(&self, f: impl FnOnce(&mut Records) -> T) -> T {
        crate::fork::register();
        self.gate.lock();
        // SAFETY: the gate is held.
        let r = f(unsafe { &mut *self.inner.get() }.get_or_insert_with(Map::default));
        self.gate.unlock();
        r
    }

    fn add(&self, stack: &[u64], count: f64, delay: u64) {
        self.with(|m| match m.get_mut(stack) {
            Some(e) => {
                e.0 += count;
                e.1 = e.1.saturating_add(delay);
            }
            None => {
                m.insert(stack.into(), (count, delay));
            }
        });
    }

    /// A copy of every (stack, contentions, delay). Call quietly.
    pub(crate) fn snapshot(&self) -> Vec<(Box<[u64]>, f64, u64)> {
        self.with(|m| m.iter().map(|(s, &(c, d))| (s.clone(), c, d)).collect())
    }

    /// How many distinct stacks are recorded.
    pub(crate) fn len(&self) -> usize {
        self.with(|m| m.len())
    }

    /// Before `fork()` (see `crate::fork`).
    pub(crate) fn fork_prepare(&self) {
        self.gate.lock();
    }

    /// After `fork()`, in parent and child.
    pub(crate) fn fork_release(&self) {
        self.gate.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiters_time_is_charged_to_the_unlock_that_ends_it() {
        let c = Accrual::new();
        // Two waiters from t=100 and t=150; the unlock at 300 ends both waits
        // so far: 200 + 150 ns.
        c.accrue(100, 0);
        c.accrue(150, 1);
        c.waiters.store(2, Relaxed);
        assert_eq!(c.take(300).delay, 350);
        // The first waiter gets the lock at 310 (the other keeps waiting: 10
        // ns), and the next unlock at 400 ends the other's wait: 90 ns more.
        c.accrue(310, 1);
        c.waiters.store(1, Relaxed);
        c.ended.store(1, Relaxed);
        assert_eq!(
            c.take(400),
            Owed {
                delay: 100,
                contentions: 1
            }
        );
        assert_eq!(c.take(500).delay, 100, "a waiter still waiting accrues");
        c.waiters.store(0, Relaxed);
        assert!(c.take(600) == Owed::default() && c.idle());
    }
}
