//! The heap profiler and exact allocation counters: Go's heap profile
//! (`pprof.WriteHeapProfile`, `/debug/pprof/heap`, `/debug/pprof/allocs`) for Rust,
//! over any global allocator.
//!
//! ```no_run
//! use std::alloc::System;
//!
//! #[global_allocator]
//! static ALLOC: sonde::heap::Sampled<System> = sonde::heap::Sampled::new(System);
//!
//! static mut LEAK: Vec<Vec<u8>> = Vec::new();
//!
//! fn create_memory() {
//!     let data = vec![0u8; 1 << 20]; // 1 MiB
//!     # #[allow(static_mut_refs)]
//!     unsafe { LEAK.push(data) }; // leaked: never freed
//! }
//!
//! fn main() -> std::io::Result<()> {
//!     for _ in 0..10 {
//!         create_memory();
//!     }
//!     // Go: pprof.WriteHeapProfile(f)
//!     sonde::heap::profile().write_file("heap.pb.gz")?; // then: sonde top heap.pb.gz
//!     Ok(())
//! }
//! ```
//!
//! What the profile holds, in Go's four sample types: `alloc_objects` and
//! `alloc_space` (everything allocated since the program started) and
//! `inuse_objects` and `inuse_space` (what is still allocated now), per allocation
//! site and size. Sizes are the bytes the program requested (`Layout::size`), not
//! what the allocator rounded them up to. Allocations of at least ¾ of the
//! sampling rate are recorded exactly; smaller ones are sampled (see
//! [`set_sample_rate`]), each sample weighted without bias, and the estimates are
//! scaled to add up to the exact totals that the counters ([`process_stats`])
//! keep. A site that holds most of the heap is therefore nearly exact; a small
//! site keeps the sampling noise of its few samples.
//!
//! The profiler's own memory (its tables, the symbol cache) is neither counted
//! nor sampled.
//!
//! Unlike Go, whose heap profile shows the heap as of the last garbage
//! collection, Rust frees memory immediately, so the profile is the heap at the
//! moment [`profile`] is called.
//!
//! To find a leak, take two profiles some time apart and compare them:
//! `sonde top --base heap1.pb.gz heap2.pb.gz` (Go: `go tool pprof -base ...`).

// Counters-only builds (no `profilers`) compile the sampling paths too, so that
// the wrapper is one piece of code; they just never run.
#![cfg_attr(not(feature = "profilers"), allow(dead_code))]

mod arena;
#[cfg(feature = "profilers")]
mod profile;
#[cfg(feature = "profilers")]
mod record;
mod sampler;
#[cfg(feature = "profilers")]
mod table;
mod wrapper;

pub use crate::alloc::{AllocStats, own_stats, process_stats, thread_stats};
#[cfg(feature = "profilers")]
pub use profile::{allocs_profile, profile};
#[cfg(feature = "profilers")]
pub(crate) use record::{fork_prepare, fork_release, sampling};
pub use sampler::DEFAULT_RATE;
pub use wrapper::Sampled;

/// How many records (allocation site, size and rate) the heap profile holds:
/// the count Go's `/debug/pprof/` index shows for `heap` and `allocs`.
#[cfg(feature = "profilers")]
pub(crate) fn record_count() -> usize {
    crate::alloc::busy(false, || table::TABLE.with(|t| t.buckets.len()))
}

/// Sets the average number of bytes allocated between samples (Go's
/// `runtime.MemProfileRate`, default 512 KiB): 1 records every allocation, 0
/// turns sampling off (the counters stay on).
///
/// Set it once, first thing in `main`: the calling thread switches at once,
/// other threads at their next sample point, and the scaling of estimates to the
/// exact totals (see the module documentation) is only done while one rate has
/// been in effect since the program started.
///
/// Without the `profilers` feature nothing could record a sample: the rate
/// stays 0 whatever is asked ([`sample_rate`] says so).
pub fn set_sample_rate(bytes: u64) {
    sampler::set_rate(if cfg!(feature = "profilers") { bytes } else { 0 });
}

/// The current sampling rate in bytes.
pub fn sample_rate() -> u64 {
    sampler::rate()
}
