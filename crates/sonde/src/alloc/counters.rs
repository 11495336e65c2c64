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

/// One direction (allocations or frees) of a thread's counters: atomics, written
/// only by their thread with plain loads and stores, readable by all.
pub(crate) struct Side {
    count: AtomicU64,
    bytes: AtomicU64,
}

#[allow(clippy::declare_interior_mutable_const)]
const ZERO: AtomicU64 = AtomicU64::new(0);

impl Side {
    const fn new() -> Side {
        Side {
            count: ZERO,
            bytes: ZERO,
        }
    }

    /// Adds `n` blocks of `size` bytes (`n` is -1 as `u64::MAX` to take one back).
    #[inline(always)]
    fn add(&self, size: usize, n: u64) {
        bump(&self.count, n);
        bump(&self.bytes, (size as u64).wrapping_mul(n));
    }

    /// The same, from another thread (the shared totals).
    fn add_shared(&self, size: usize, n: u64) {
        self.count.fetch_add(n, Relaxed);
        self.bytes.fetch_add((size as u64).wrapping_mul(n), Relaxed);
    }

    fn fold_into(&self, into: &Side) {
        into.count.fetch_add(self.count.swap(0, Relaxed), Relaxed);
        into.bytes.fetch_add(self.bytes.swap(0, Relaxed), Relaxed);
    }
}

/// The counters of one thread (or the shared ones).
pub(crate) struct Totals {
    allocs: Side,
    frees: Side,
}

impl Totals {
    const fn new() -> Totals {
        Totals {
            allocs: Side::new(),
            frees: Side::new(),
        }
    }

    fn stats(&self) -> AllocStats {
        AllocStats {
            allocs: self.allocs.count.load(Relaxed),
            frees: self.frees.count.load(Relaxed),
            bytes_allocated: self.allocs.bytes.load(Relaxed),
            bytes_freed: self.frees.bytes.load(Relaxed),
        }
    }

    fn sides(&self) -> [&Side; 2] {
        [&self.allocs, &self.frees]
    }
}

/// Everything the allocator wrapper keeps per thread, in one thread-local block
/// so that the common path computes its address once: the counters, the quiet
/// switch, and the heap sampler's state (whose fields only the sampler reads).
pub(crate) struct Local {
    /// Requests smaller than this take the common path. Nonzero only while the
    /// thread counts into its own block: every change of state lowers it to 0
    /// (everything takes the out-of-line path), and the heap sampler raises it
    /// again there (`heap::sampler::refresh_limit`).
    pub(crate) limit: Cell<usize>,
    /// Bytes left until the next sample point.
    pub(crate) countdown: Cell<i64>,
    /// [`UNREGISTERED`], [`REGISTERED`] or [`SHARED_TOTALS`], plus [`QUIET`]
    /// while the profiler works: the common path counts only in state
    /// `REGISTERED`.
    state: Cell<u8>,
    /// Inside the profiler: allocations are not sampled, frees not looked up.
    pub(crate) busy: Cell<bool>,
    pub(crate) started: Cell<bool>,
    pub(crate) rng: Cell<u64>,
    pub(crate) stack_end: Cell<u64>,
    totals: Totals,
}

/// Not registered yet.
const UNREGISTERED: u8 = 0;
/// Counting into the thread's own block.
const REGISTERED: u8 = 1;
/// Counting into the shared totals (registry full, or the thread is exiting).
const SHARED_TOTALS: u8 = 2;
/// Flag: the profiler's own allocations and frees, not counted.
const QUIET: u8 = 4;

thread_local! {
    static MINE: Local = const {
        Local {
            limit: Cell::new(0),
            countdown: Cell::new(0),
            state: Cell::new(0),
            busy: Cell::new(false),
            started: Cell::new(false),
            rng: Cell::new(0),
            stack_end: Cell::new(0),
            totals: Totals::new(),
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
    fn add(&self, side: fn(&Totals) -> &Side, size: usize, n: u64) {
        match self.state.get() {
            REGISTERED => side(&self.totals).add(size, n),
            _ => self.add_rare(side, size, n),
        }
    }

    #[cold]
    #[inline(never)]
    fn add_rare(&self, side: fn(&Totals) -> &Side, size: usize, n: u64) {
        match self.state.get() {
            s if s & QUIET != 0 => side(&OWN).add_shared(size, n),
            UNREGISTERED => {
                register(self);
                self.add(side, size, n);
            }
            REGISTERED => side(&self.totals).add(size, n),
            _ => side(&SHARED).add_shared(size, n),
        }
    }

    /// Stops (`true`) or resumes counting this thread's allocations and frees
    /// (the profiler's own memory is not counted); returns the previous setting.
    pub(crate) fn set_quiet(&self, quiet: bool) -> bool {
        let s = self.state.get();
        self.set_state(if quiet { s | QUIET } else { s & !QUIET });
        s & QUIET != 0
    }

    /// Changes the state; the common path stays closed (see [`Local::limit`])
    /// until the sampler's out-of-line path, which the next allocation takes,
    /// reopens it.
    fn set_state(&self, state: u8) {
        self.state.set(state);
        self.limit.set(0);
    }

    /// Whether counting is stopped (see [`Local::set_quiet`]).
    pub(crate) fn quiet(&self) -> bool {
        self.state.get() & QUIET != 0
    }

    fn registered(&self) -> bool {
        self.state.get() & !QUIET == REGISTERED
    }

    /// Whether this thread counts into its own block: the common paths count
    /// with [`Local::count_alloc_own`] and [`Local::count_free_own`] then, and
    /// leave everything else to the out-of-line paths.
    #[inline(always)]
    pub(crate) fn own(&self) -> bool {
        self.state.get() == REGISTERED
    }

    /// Counts an allocation of a thread that is [`Local::own`].
    #[inline(always)]
    pub(crate) fn count_alloc_own(&self, size: usize) {
        self.totals.allocs.add(size, 1);
    }

    /// Counts a free of a thread that is [`Local::own`].
    #[inline(always)]
    pub(crate) fn count_free_own(&self, size: usize) {
        self.totals.frees.add(size, 1);
    }

    /// Counts an allocation of `size` bytes.
    #[inline(always)]
    pub(crate) fn count_alloc(&self, size: usize) {
        self.add(|t| &t.allocs, size, 1);
    }

    /// Takes back an allocation counted before the wrapped allocator failed.
    #[cold]
    #[inline(never)]
    pub(crate) fn uncount_alloc(&self, size: usize) {
        self.add(|t| &t.allocs, size, u64::MAX);
    }

    /// Counts a free of `size` bytes.
    #[inline(always)]
    pub(crate) fn count_free(&self, size: usize) {
        self.add(|t| &t.frees, size, 1);
    }
}

/// Counts of exited threads and of threads that found the registry full.
static SHARED: Totals = Totals::new();
/// Counts of sonde's own allocations and frees (made quietly), on every thread.
static OWN: Totals = Totals::new();

/// sonde's own allocations since the program started, on every thread: the
/// profilers' buffers, tables, unwinder state and symbol cache, which
/// [`process_stats`] and heap profiles leave out. `live_bytes()` is sonde's
/// footprint on the heap now.
pub fn own_stats() -> AllocStats {
    OWN.stats()
}

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
            l.set_state(SHARED_TOTALS);
            unlock();
        });
    }
}

fn fold(from: &Totals, into: &Totals) {
    for (f, t) in from.sides().into_iter().zip(into.sides()) {
        f.fold_into(t);
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
    l.set_state(if ok { REGISTERED } else { SHARED_TOTALS });
    crate::fork::register();
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

/// Before `fork()` (see `crate::fork`): no thread reads the registry or
/// unregisters while the address space is copied.
pub(crate) fn fork_prepare() {
    lock();
}

/// After `fork()`, in the parent.
pub(crate) fn fork_parent() {
    unlock();
}

/// After `fork()`, in the child, where only the forking thread runs on: the
/// other threads' blocks are folded into the shared totals and their slots
/// freed, since those threads will never exit there. Their blocks stay mapped
/// in the child (fork copies every thread's memory), so reading them is sound.
pub(crate) fn fork_child() {
    let me = MINE
        .try_with(|l| &l.totals as *const Totals as *mut Totals)
        .unwrap_or(std::ptr::null_mut());
    for slot in THREADS.iter() {
        let p = slot.load(Relaxed);
        if !p.is_null() && p != me {
            // SAFETY: the block is another thread's thread-local storage,
            // copied into the child with the rest of the address space and
            // written by no one here.
            fold(unsafe { &*p }, &SHARED);
            slot.store(std::ptr::null_mut(), Relaxed);
        }
    }
    unlock();
}

/// Runs `f` over every live thread's block and the shared one.
fn each_block(mut f: impl FnMut(&Totals)) {
    crate::fork::register();
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

/// This thread's allocation totals (zero for a thread that found the registry of
/// 1024 threads full).
pub fn thread_stats() -> AllocStats {
    MINE.with(|c| {
        if c.registered() {
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
