//! # sonde
//!
//! In-process profilers for Rust that write Go's pprof format, readable by
//! `sonde top` and `go tool pprof` alike.
//!
//! The map of the crate, top floor first; each module uses only the floors
//! below it:
//!
//! * `agent` (feature `agent`): continuous profiling, the registry's kinds on
//!   a schedule into sinks (the local store; Pyroscope with feature
//!   `pyroscope`); a sink of the registry.
//! * `http` (feature `http`): Go's `/debug/pprof` endpoints, an axum router
//!   and a server of its own; a sink of the registry (and, for
//!   `/debug/pprof/symbol`, of the symbolizer).
//! * [`profiles`]: the registry, a profile kind's name to how to take it (Go's
//!   `pprof.Lookup` and `pprof.Profiles`), delta profiles and text forms.
//!   Sinks (endpoints, agents) go through it, never through a collector.
//! * The collectors, side by side, none using another:
//!   * [`cpu`]: the CPU profiler (`pprof.StartCPUProfile` for Rust): per-thread
//!     CPU-time timers and a process-wide one for threads too new to have their
//!     own (`cpu/timers.rs`, `cpu/threads.rs`), signal-safe stack capture
//!     (`cpu/signal.rs`, `cpu/ring.rs`); `cpu/profile.rs` builds the profile
//!     (`samples/count`, `cpu/nanoseconds`).
//!   * [`sync`]: the contention profiles (Go's block and mutex profiles):
//!     std's `Mutex`, `RwLock` and `Condvar` that record their waits and the
//!     unlocks that caused them; `record_block` for any other wait.
//!   * [`threads`]: the thread profile (Go's goroutine profile for OS
//!     threads): every thread's stack at one moment, each captured by its own
//!     thread in a signal handler (`threads/capture.rs`); `debug=1`/`2` text.
//!   * `tasks` (feature `tokio`): the async-task profile, live tokio tasks by
//!     spawn site (`tasks/registry.rs` lists them from inside the tasks).
//!   * [`heap`]: the heap profiler (`pprof.WriteHeapProfile`, the `heap` and
//!     `allocs` profiles): a sampling global allocator wrapper over any
//!     allocator; `heap/profile.rs` builds the profile (`alloc_objects/count`,
//!     `alloc_space/bytes`, `inuse_objects/count`, `inuse_space/bytes`).
//! * `fork` (internal): fork safety, the one set of `pthread_atfork` handlers
//!   that takes every lock sonde holds before `fork()` (collectors' and
//!   floor's, in one order) and releases them after, in parent and child.
//! * The shared floor, which knows no collector:
//!   * `profile_builder` (internal): THE profile builder every collector must
//!     use, raw stacks to symbolized locations, functions and mappings.
//!   * `symbolize` (internal): the one symbolizer, addresses to demangled names,
//!     files, lines and inlined frames, cached across profiles
//!     ([`clear_symbol_cache`] frees it).
//!   * `alloc` (internal): the allocator hook's per-thread block with the exact
//!     allocation counters (re-exported as [`heap::AllocStats`],
//!     [`heap::process_stats`], [`heap::thread_stats`]), `quietly`, which
//!     keeps the profilers' own memory out of counts and samples (and counts it
//!     in [`heap::own_stats`]), and `hand_over`, which gives the program a
//!     profile built quietly as memory of its own.
//!   * `unwind` (internal): the one stack unwinder all collectors share, frame
//!     pointers or the binaries' unwind tables, allocation-free and
//!     bounds-checked, usable in signal handlers; the table walk runs on a
//!     stack of sonde's own (`unwind/walkstack.rs`).
//!   * `os` (internal): threads as Linux shows them, the calling thread's id,
//!     `/proc/self/task` listings, thread names and scheduling states.
//!   * [`Error`] (`error.rs`): what can go wrong when a profile is started,
//!     stopped or taken.
//!
//! Every collector produces a [`sonde_profile::Profile`]; write it with
//! [`Profile::write_file`](sonde_profile::Profile::write_file).
//!
//! Feature `profilers` (default): the CPU and heap profilers and the registry.
//! Without it, only the allocation counters remain ([`heap::Sampled`] counting every allocation,
//! [`heap::process_stats`], [`heap::thread_stats`]), with no dependency but
//! `libc`: what a benchmark harness needs for `B/op` and `allocs/op`.

#![deny(missing_docs)]

#[cfg(feature = "agent")]
pub mod agent;
mod alloc;
#[cfg(feature = "profilers")]
pub mod cpu;
#[cfg(feature = "profilers")]
mod error;
mod fork;
pub mod heap;
#[cfg(feature = "http")]
pub mod http;
mod os;
#[cfg(feature = "profilers")]
mod profile_builder;
#[cfg(feature = "profilers")]
pub mod profiles;
#[cfg(feature = "profilers")]
mod symbolize;
#[cfg(feature = "profilers")]
pub mod sync;
#[cfg(feature = "tokio")]
pub mod tasks;
#[cfg(feature = "profilers")]
pub mod threads;
#[cfg(feature = "profilers")]
mod unwind;

#[cfg(feature = "profilers")]
pub use error::Error;
#[cfg(feature = "profilers")]
pub use sonde_profile::Profile;

/// Internals exposed for sonde's own benchmarks (`bench/`); not a stable API.
#[cfg(feature = "profilers")]
#[doc(hidden)]
pub mod __bench {
    pub use crate::unwind::Unwinding;

    /// The sample path of the CPU profiler's signal handler, callable directly.
    pub struct SamplePath(crate::unwind::UnwindState);

    impl SamplePath {
        /// Prepares the unwinder as a profile start would.
        pub fn new(mode: Unwinding) -> std::io::Result<SamplePath> {
            crate::unwind::prepare(mode, 2).map(SamplePath)
        }

        /// Walks the stack saved in `ucontext` into `out`; returns the frame count.
        ///
        /// # Safety
        /// `ucontext` must point to a `ucontext_t` filled by `getcontext` on this
        /// thread, whose stack frames are still live.
        pub unsafe fn capture(&self, ucontext: *const std::ffi::c_void, out: &mut [u64]) -> usize {
            // SAFETY: guaranteed by the caller.
            let regs = unsafe { crate::unwind::Registers::from_ucontext(ucontext.cast()) };
            crate::unwind::capture_with(&self.0, &regs, out)
        }

        /// Which walk `Unwinding::Auto` resolved to.
        pub fn walk(&self) -> String {
            format!("{:?}", self.0.walk)
        }
    }
}
#[cfg(feature = "profilers")]
pub use symbolize::clear_cache as clear_symbol_cache;
