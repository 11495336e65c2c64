//! The allocator hook's floor: what every allocation through
//! [`heap::Sampled`](crate::heap::Sampled) reads first, and the switch that keeps
//! the profilers' own memory out of the program's numbers.
//!
//! * `counters`: the per-thread block (one thread-local address for the common
//!   path) with the exact allocation counters, the quiet switch, and room for the
//!   heap sampler's per-thread state; the registry of threads that adds them up.
//! * [`quietly`] and [`busy`]: run code as the profiler's own work on this
//!   thread. The symbolizer's cache, the heap profile's tables and any collector
//!   that allocates while it works use them.
//!
//! This module knows nothing of the collectors: the heap sampler reads and fills
//! the block's sampler fields, never the other way round. Without the
//! `profilers` feature only the counters are here.

// Counters-only builds (no `profilers`) keep the block whole, sampler fields and
// quiet switch included, so that the wrapper is one piece of code.
#![cfg_attr(not(feature = "profilers"), allow(dead_code))]

mod counters;

pub use counters::{AllocStats, own_stats, process_stats, thread_stats};
pub(crate) use counters::{Local, fork_child, fork_parent, fork_prepare, local, with_local};

/// Runs `f` as the profiler's own work on this thread: its allocations are
/// neither sampled nor counted, and neither are its frees, so memory it keeps
/// (the symbol cache) must be freed the same way.
#[cfg(feature = "profilers")]
pub(crate) fn quietly<T>(f: impl FnOnce() -> T) -> T {
    busy(true, f)
}

/// Makes the calling thread sonde's own for the rest of its life: everything
/// it allocates and frees, its exit included, is neither sampled nor counted.
/// For threads sonde starts (the CPU profile's collector), whose handle and
/// channels are allocated quietly by the thread that starts them.
#[cfg(feature = "profilers")]
pub(crate) fn quiet_thread() {
    with_local(|l| {
        l.set_quiet(true);
        l.busy.set(true);
    });
}

/// Hands a profile that sonde built quietly (its working memory is sonde's) to
/// the program: a copy in memory of the caller's own, counted and sampled where
/// the program asked for it, and freed as the program's. The quiet original is
/// freed quietly.
#[cfg(feature = "profilers")]
pub(crate) fn hand_over(p: sonde_profile::Profile) -> sonde_profile::Profile {
    let mine = p.detached();
    quietly(|| drop(p));
    mine
}

/// Runs `f` with sampling off on this thread and, when `quiet`, counting off
/// too (for memory that stays the profiler's: a free of an uncounted block must
/// be quiet as well). Without `quiet`, allocations are counted: what `f` returns
/// is freed by ordinary code later.
#[cfg(feature = "profilers")]
pub(crate) fn busy<T>(quiet: bool, f: impl FnOnce() -> T) -> T {
    struct Restore<'a>(&'a Local, bool, bool);
    impl Drop for Restore<'_> {
        fn drop(&mut self) {
            self.0.set_quiet(self.2);
            self.0.busy.set(self.1);
        }
    }
    with_local(|l| {
        let was_quiet = l.quiet();
        l.set_quiet(quiet || was_quiet);
        let _restore = Restore(l, l.busy.replace(true), was_quiet);
        f()
    })
}
