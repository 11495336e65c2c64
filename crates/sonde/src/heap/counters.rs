//! Exact allocation counters: every allocation and free, per thread and for the
//! whole process, cheap enough to leave on. Each thread's counters live in its
//! own thread-local storage and are updated with plain (relaxed, non-locked)
//! loads and stores; a registry of the threads' counter blocks lets any thread
//! add them up. A thread folds its counts into a shared total when it exits.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering, Ordering::Relaxed};

/// Allocation totals.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AllocStats {
    /// Number of allocations (reallocations count as one allocation and one free).
    pub allocs: u64,
    /// Number of frees.
    pub frees: u64,
    /// Bytes requested by allocations.
    pub bytes_allocated: u64,
    /// Bytes released by frees.
    pub bytes_freed: u64,
}

impl AllocStats {
    /// Bytes allocated and not freed.
    pub fn live_bytes(&self) -> i64 {
        self.bytes_allocated as i64 - self.bytes_freed as i64
    }

    /// The change from `earlier` to `self` (for measuring a piece of code).
    pub fn since(&self, earlier: &AllocStats) -> AllocStats {
        AllocStats {
            allocs: self.allocs.wrapping_sub(earlier.allocs),
            frees: self.frees.wrapping_sub(earlier.frees),
            bytes_allocated: self.bytes_allocated.wrapping_sub(earlier.bytes_allocated),
            bytes_freed: self.bytes_freed.wrapping_sub(earlier.bytes_freed),
        }
    }
}

/// Allocations counted by size class (while sampling is on): exact sizes in
/// 8-byte steps up to 1 KiB, then powers of two. The heap profile calibrates its
/// sampled per-site estimates against these exact per-class counts.
pub(crate) const CLASSES: usize = 129 + 48;

/// The size class of a `size`-byte block.
#[inline(always)]
pub(crate) fn size_class(size: usize) -> usize {
    if size <= 1024 {
        size.div_ceil(8)
    } else {
        (129 + (usize::BITS - (size - 1).leading_zeros()) as usize - 11).min(CLASSES - 1)
    }
}

/// The counters of one thread (or the shared ones): atomics, written only by
/// their thread with plain loads and stores, readable by all.
pub(crate) struct Totals {
    allocs: AtomicU64,
    frees: AtomicU64,
    bytes_allocated: AtomicU64,
    bytes_freed: AtomicU64,
    class_allocs: [AtomicU64; CLASSES],
    class_frees: [AtomicU64; CLASSES],
}

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicU64 = AtomicU64::new(0);

impl Totals {
    const fn new() -> Totals {
        Totals {
            allocs: ZERO,
            frees: ZERO,
            bytes_allocated: ZERO,
            bytes_freed: ZERO,
            class_allocs: [ZERO; CLASSES],
            class_frees: [ZERO; CLASSES],
        }
    }

    fn stats(&self) -> AllocStats {
        AllocStats {
            allocs: self.allocs.load(Relaxed),
            frees: self.frees.load(Relaxed),
            bytes_allocated: self.bytes_allocated.load(Relaxed),
            bytes_freed: self.bytes_freed.load(Relaxed),
        }
    }
}

/// Everything the allocator wrapper keeps per thread, in one thread-local block
/// so that the common path computes its address once: the counters and the
/// sampler's state.
pub(crate) struct Local {
    totals: Totals,
    /// 0: not registered yet; 1: registered; 2: counting into the shared totals
    /// (registry full, or the thread is exiting).
    state: Cell<u8>,
    /// Inside the profiler: allocations are not sampled, frees not looked up.
    pub(crate) busy: Cell<bool>,
    /// Bytes left until the next sample point.
    pub(crate) countdown: Cell<i64>,
    pub(crate) started: Cell<bool>,
    pub(crate) rng: Cell<u64>,
    pub(crate) stack_end: Cell<u64>,
}

thread_local! {
    static MINE: Local = const {
        Local {
            totals: Totals::new(),
            state: Cell::new(0),
            busy: Cell::new(false),
            countdown: Cell::new(0),
            started: Cell::new(false),
            rng: Cell::new(0),
            stack_end: Cell::new(0),
        }
    };
    static EXIT: ExitGuard = const { ExitGuard };
}

/// Runs `f` with this thread's block.
#[inline(always)]
pub(crate) fn with_local<T>(f: impl FnOnce(&Local) -> T) -> T {
    // SAFETY: see `local`.
    f(unsafe { &*local() })
}

/// This thread's block. Taking only its address keeps the thread-local access
/// (a `LocalKey::with` call) small enough to be inlined into the allocator.
///
/// The pointer is valid on this thread until the thread exits; callers use it
/// only within the current call on this thread.
#[inline(always)]
pub(crate) fn local() -> *const Local {
    MINE.with(|l| l as *const Local)
}

impl Local {
    #[inline(always)]
    fn totals(&self) -> Option<&Totals> {
        match self.state.get() {
            1 => Some(&self.totals),
            0 => {
                register(self);
                (self.state.get() == 1).then_some(&self.totals)
            }
            _ => None,
        }
    }

    /// Counts an allocation of `size` bytes (and its size class when `classes`).
    #[inline(always)]
    pub(crate) fn count_alloc(&self, size: usize, classes: bool) {
        match self.totals() {
            Some(t) => {
                bump(&t.allocs, 1);
                bump(&t.bytes_allocated, size as u64);
                if classes {
                    bump(&t.class_allocs[size_class(size)], 1);
                }
            }
            None => {
                SHARED.allocs.fetch_add(1, Relaxed);
                SHARED.bytes_allocated.fetch_add(size as u64, Relaxed);
                if classes {
                    SHARED.class_allocs[size_class(size)].fetch_add(1, Relaxed);
                }
            }
        }
    }

    /// Counts a free of `size` bytes (and its size class when `classes`).
    #[inline(always)]
    pub(crate) fn count_free(&self, size: usize, classes: bool) {
        match self.totals() {
            Some(t) => {
                bump(&t.frees, 1);
                bump(&t.bytes_freed, size as u64);
                if classes {
                    bump(&t.class_frees[size_class(size)], 1);
                }
            }
            None => {
                SHARED.frees.fetch_add(1, Relaxed);
                SHARED.bytes_freed.fetch_add(size as u64, Relaxed);
                if classes {
                    SHARED.class_frees[size_class(size)].fetch_add(1, Relaxed);
                }
            }
        }
    }
}

/// Counts of exited threads and of threads that found the registry full.
static SHARED: Totals = Totals::new();

const REGISTRY: usize = 1024;
static THREADS: [AtomicPtr<Totals>; REGISTRY] = [const { AtomicPtr::new(std::ptr::null_mut()) }; REGISTRY];
/// Held while reading other threads' blocks and while a thread unregisters.
static READING: AtomicBool = AtomicBool::new(false);

fn lock() {
    while READING
        .compare_exchange_weak(false, true, Ordering::Acquire, Relaxed)
        .is_err()
    {
        std::hint::spin_loop();
    }
}

fn unlock() {
    READING.store(false, Ordering::Release);
}

struct ExitGuard;

impl Drop for ExitGuard {
    fn drop(&mut self) {
        MINE.with(|l| {
            let me = &l.totals as *const Totals as *mut Totals;
            lock();
            if let Some(slot) = THREADS.iter().find(|p| p.load(Relaxed) == me) {
                slot.store(std::ptr::null_mut(), Relaxed);
            }
            fold(&l.totals, &SHARED);
            l.state.set(2);
            unlock();
        });
    }
}

fn fold(from: &Totals, into: &Totals) {
    into.allocs.fetch_add(from.allocs.swap(0, Relaxed), Relaxed);
    into.frees.fetch_add(from.frees.swap(0, Relaxed), Relaxed);
    into.bytes_allocated
        .fetch_add(from.bytes_allocated.swap(0, Relaxed), Relaxed);
    into.bytes_freed.fetch_add(from.bytes_freed.swap(0, Relaxed), Relaxed);
    for c in 0..CLASSES {
        into.class_allocs[c].fetch_add(from.class_allocs[c].swap(0, Relaxed), Relaxed);
        into.class_frees[c].fetch_add(from.class_frees[c].swap(0, Relaxed), Relaxed);
    }
}

/// Registers this thread's block (or, with the registry full, marks the thread
/// as counting into the shared totals).
#[cold]
#[inline(never)]
fn register(l: &Local) {
    let me = &l.totals as *const Totals as *mut Totals;
    let ok = THREADS.iter().any(|p| {
        p.compare_exchange(std::ptr::null_mut(), me, Ordering::AcqRel, Relaxed)
            .is_ok()
    });
    l.state.set(if ok { 1 } else { 2 });
    if ok {
        // Registers the exit hook; it may allocate, which now finds the state set.
        EXIT.with(|_| {});
    }
}

/// Adds `n` to a counter only this thread writes (no locked instruction).
#[inline(always)]
fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Relaxed).wrapping_add(n), Relaxed);
}

/// A copy of this thread's counters.
pub(crate) struct Saved {
    stats: AllocStats,
    classes: [(u64, u64); CLASSES],
}

/// This thread's counters, to be put back with [`restore_mine`] so that the
/// profiler's own allocations are not counted.
pub(crate) fn save_mine() -> Option<Saved> {
    MINE.with(|l| {
        let c = &l.totals;
        (l.state.get() == 1).then(|| {
            let mut classes = [(0, 0); CLASSES];
            for (i, v) in classes.iter_mut().enumerate() {
                *v = (c.class_allocs[i].load(Relaxed), c.class_frees[i].load(Relaxed));
            }
            Saved {
                stats: c.stats(),
                classes,
            }
        })
    })
}

/// Sets this thread's counters back to a value saved by [`save_mine`].
pub(crate) fn restore_mine(saved: Option<Saved>) {
    let Some(v) = saved else { return };
    MINE.with(|l| {
        let c = &l.totals;
        if l.state.get() != 1 {
            return;
        }
        c.allocs.store(v.stats.allocs, Relaxed);
        c.frees.store(v.stats.frees, Relaxed);
        c.bytes_allocated.store(v.stats.bytes_allocated, Relaxed);
        c.bytes_freed.store(v.stats.bytes_freed, Relaxed);
        for (i, &(a, f)) in v.classes.iter().enumerate() {
            c.class_allocs[i].store(a, Relaxed);
            c.class_frees[i].store(f, Relaxed);
        }
    });
}

/// Runs `f` over every live thread's block and the shared one.
fn each_block(mut f: impl FnMut(&Totals)) {
    lock();
    f(&SHARED);
    for p in THREADS.iter() {
        let p = p.load(Relaxed);
        if !p.is_null() {
            // SAFETY: a registered block belongs to a live thread; a thread
            // unregisters (under this lock) before its thread-local storage goes.
            f(unsafe { &*p });
        }
    }
    unlock();
}

/// Allocations and frees per size class over the whole process.
pub(crate) fn class_counts() -> Vec<(u64, u64)> {
    let mut out = vec![(0u64, 0u64); CLASSES];
    each_block(|c| {
        for (i, v) in out.iter_mut().enumerate() {
            v.0 += c.class_allocs[i].load(Relaxed);
            v.1 += c.class_frees[i].load(Relaxed);
        }
    });
    out
}

/// This thread's allocation totals (zero for a thread that found the registry of
/// 1024 threads full).
pub fn thread_stats() -> AllocStats {
    MINE.with(|c| {
        if c.state.get() == 1 {
            c.totals.stats()
        } else {
            AllocStats::default()
        }
    })
}

/// The whole process's allocation totals since it started. Counters of other
/// threads are read as they are at that moment, one after the other.
pub fn process_stats() -> AllocStats {
    let mut t = AllocStats::default();
    each_block(|c| {
        let r = c.stats();
        t.allocs += r.allocs;
        t.frees += r.frees;
        t.bytes_allocated += r.bytes_allocated;
        t.bytes_freed += r.bytes_freed;
    });
    t
}
