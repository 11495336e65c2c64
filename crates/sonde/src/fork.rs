//! Fork safety: one set of `pthread_atfork` handlers for every lock sonde
//! holds. Before `fork()` the forking thread takes each of them, in one order
//! (outermost first), so that no other thread is inside one when the address
//! space is copied; after it, the parent and the child release them. A child
//! therefore never inherits a lock held by a thread that does not exist in it,
//! nor data such a thread was halfway through changing (resetting a lock in the
//! child would leave the second fault: `fork()` copies pages one by one while
//! the other threads run on).
//!
//! Before the locks, what sonde initializes once and may be initializing on
//! another thread (the heap profiler's unwinder, a `OnceLock`) is completed, so
//! a child never inherits it half done. The locks, outermost first: the loaded-module listing (glibc's
//! `dl_iterate_phdr` lock is not fork-safe, so sonde never lets a fork happen
//! while one of its own threads is inside it), the symbol cache, the heap
//! profiler's sample table and arena, the contention profiles' records, the
//! task registry and its spawn stacks, and
//! the allocation counters' registry. (Each `sonde::sync` lock's own
//! bookkeeping is lock-free.)
//! A library outside sonde that calls `dl_iterate_phdr` while another thread
//! forks can still leave that glibc lock held in the child.

#[cfg(feature = "profilers")]
use std::sync::atomic::{AtomicBool, Ordering};

/// A spin lock that `fork()` waits for (see the module documentation).
#[cfg(feature = "profilers")]
pub(crate) struct Gate(AtomicBool);

#[cfg(feature = "profilers")]
impl Gate {
    /// An open gate.
    pub(crate) const fn new() -> Gate {
        Gate(AtomicBool::new(false))
    }

    /// Takes the gate, spinning (then yielding) while another thread has it.
    pub(crate) fn lock(&self) {
        let mut spins = 0u32;
        while self
            .0
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            spins += 1;
            if spins < 64 {
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }

    /// Gives the gate back.
    pub(crate) fn unlock(&self) {
        self.0.store(false, Ordering::Release);
    }

    /// Runs `f` holding the gate.
    pub(crate) fn with<T>(&self, f: impl FnOnce() -> T) -> T {
        register();
        self.lock();
        let r = f();
        self.unlock();
        r
    }
}

/// Held around sonde's calls of `dl_iterate_phdr`.
#[cfg(feature = "profilers")]
pub(crate) static MODULES: Gate = Gate::new();
/// Held around every use of the symbol cache.
#[cfg(feature = "profilers")]
pub(crate) static SYMBOLS: Gate = Gate::new();

/// Installs the handlers (once per process); every lock's first use calls it.
pub(crate) fn register() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: the handlers take and release spin locks and move counts
        // between atomics; they allocate nothing and call nothing else.
        unsafe {
            libc::pthread_atfork(Some(prepare), Some(parent), Some(child));
        }
    });
}

extern "C" fn prepare() {
    #[cfg(feature = "profilers")]
    {
        // First what initializes once and may be under way on another thread
        // (it takes the gates below itself): the synchronous unwinder, while a
        // profiler that uses it is on. Prepared now, or its preparation by
        // another thread waited for, a child never inherits it half-prepared
        // (its `OnceLock` would wait forever for a thread not there). Quiet:
        // its memory is sonde's.
        if crate::heap::sampling() || crate::sync::profiling() {
            crate::alloc::quietly(|| {
                let _ = crate::unwind::synchronous();
            });
        }
        MODULES.lock();
        SYMBOLS.lock();
        crate::heap::fork_prepare();
        crate::sync::fork_prepare();
        #[cfg(feature = "tokio")]
        crate::tasks::fork_prepare();
    }
    crate::alloc::fork_prepare();
}

extern "C" fn parent() {
    crate::alloc::fork_parent();
    release_collectors();
}

/// After `fork()`, in parent and child: the collectors' and floor's locks that
/// `prepare` took, innermost first.
fn release_collectors() {
    #[cfg(feature = "profilers")]
    {
        #[cfg(feature = "tokio")]
        crate::tasks::fork_release();
        crate::sync::fork_release();
        crate::heap::fork_release();
        SYMBOLS.unlock();
        MODULES.unlock();
    }
}

extern "C" fn child() {
    crate::alloc::fork_child();
    release_collectors();
    #[cfg(feature = "profilers")]
    {
        crate::cpu::fork_child();
        crate::threads::fork_child();
    }
}
