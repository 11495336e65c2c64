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
//! what the allocator rounded them up to. Values are estimates from sampling (see
//! [`set_sample_rate`]), scaled without bias; large allocations are exact.
//!
//! Unlike Go, whose heap profile shows the heap as of the last garbage
//! collection, Rust frees memory immediately, so the profile is the heap at the
//! moment [`profile`] is called.
//!
//! To find a leak, take two profiles some time apart and compare them:
//! `sonde top --base heap1.pb.gz heap2.pb.gz` (Go: `go tool pprof -base ...`).

mod arena;
mod counters;
mod sampler;
mod table;

use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::Ordering::Relaxed;

use sonde_profile::{Label, Labels, Profile, Sample, ValueType};

pub use counters::{AllocStats, process_stats, thread_stats};
pub use sampler::DEFAULT_RATE;

use crate::stacks::StackTables;

/// A global allocator that counts every allocation and samples some of them
/// with their stacks, wrapping any other allocator (`System`, mimalloc,
/// jemalloc, ...).
///
/// ```
/// use std::alloc::System;
///
/// #[global_allocator]
/// static ALLOC: sonde::heap::Sampled<System> = sonde::heap::Sampled::new(System);
/// ```
pub struct Sampled<A> {
    inner: A,
}

impl<A> Sampled<A> {
    /// Wraps `inner`.
    pub const fn new(inner: A) -> Self {
        Sampled { inner }
    }
}

impl<A: GlobalAlloc> Sampled<A> {
    /// Allocates through the sampling decision.
    #[inline(always)]
    unsafe fn allocate(&self, layout: Layout, zeroed: bool) -> *mut u8 {
        let rate = sampler::RATE.load(Relaxed);
        let inner = || {
            // SAFETY: forwarded with the caller's guarantees.
            unsafe {
                if zeroed {
                    self.inner.alloc_zeroed(layout)
                } else {
                    self.inner.alloc(layout)
                }
            }
        };
        // SAFETY: this thread's block, used only during this call (see `local`).
        let l = unsafe { &*counters::local() };
        let decision = if rate == 0 {
            sampler::Decision::Plain
        } else {
            sampler::decide(l, layout.size(), rate)
        };
        let p = match decision {
            sampler::Decision::Plain => inner(),
            sampler::Decision::Sampled => {
                let p = arena::alloc(layout.size(), layout.align(), zeroed);
                if p.is_null() {
                    inner()
                } else {
                    sampler::record(l, p, layout.size() as u64, rate);
                    p
                }
            }
            sampler::Decision::Exact => {
                let p = inner();
                if !p.is_null() {
                    sampler::record(l, p, layout.size() as u64, 0);
                }
                p
            }
        };
        if !p.is_null() {
            l.count_alloc(layout.size(), rate != 0);
        }
        p
    }
}

// SAFETY: requests are served by the inner allocator, except the rare sampled
// small blocks, which the arena serves with the requested size and alignment; a
// block is always returned to whichever served it (the arena's blocks are told
// apart by address). The bookkeeping never recurses into sampling (it marks the
// thread as busy first).
unsafe impl<A: GlobalAlloc> GlobalAlloc for Sampled<A> {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees are passed on.
        unsafe { self.allocate(layout, false) }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's guarantees are passed on.
        unsafe { self.allocate(layout, true) }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let rate_on = sampler::RATE.load(Relaxed) != 0;
        // SAFETY: this thread's block, used only during this call (see `local`).
        let l = unsafe { &*counters::local() };
        l.count_free(layout.size(), rate_on);
        if arena::contains(ptr) {
            sampler::recorded_free(l, ptr);
            // SAFETY: the arena served this block with this layout.
            unsafe { arena::free(ptr, layout.size(), layout.align()) };
            return;
        }
        if layout.size() as u64 >= sampler::LARGE_MIN.load(Relaxed) {
            // Before the block goes back to the allocator, so that its address
            // cannot be recorded again first.
            sampler::recorded_free(l, ptr);
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { self.inner.dealloc(ptr, layout) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let rate = sampler::RATE.load(Relaxed);
        // Recorded blocks, and growth that reaches a sample point or the exact
        // size, go through allocate, copy and free, so that each block is served,
        // recorded and freed by the right party.
        let simple = !arena::contains(ptr)
            && (layout.size() as u64) < sampler::LARGE_MIN.load(Relaxed)
            && (rate == 0
                || counters::with_local(|l| {
                    rate > 1
                        && (new_size as u64) < sampler::exact_threshold(rate)
                        && l.countdown.get() > new_size as i64
                }));
        if simple {
            // SAFETY: forwarded with the caller's guarantees.
            let q = unsafe { self.inner.realloc(ptr, layout, new_size) };
            if !q.is_null() {
                counters::with_local(|l| {
                    if rate != 0 {
                        l.countdown.set(l.countdown.get() - new_size as i64);
                    }
                    l.count_free(layout.size(), rate != 0);
                    l.count_alloc(new_size, rate != 0);
                });
            }
            return q;
        }
        // SAFETY: same alignment; the caller guarantees `new_size` is valid for it.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: the caller's guarantees are passed on.
        let q = unsafe { self.allocate(new_layout, false) };
        if !q.is_null() {
            // SAFETY: both blocks are valid for the copied length and distinct.
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, q, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        q
    }
}

/// Sets the average number of bytes allocated between samples (Go's
/// `runtime.MemProfileRate`): 1 records every allocation, 0 turns sampling off
/// (the counters stay on). Set it once, early: profiles assume one rate.
pub fn set_sample_rate(bytes: u64) {
    sampler::RATE.store(bytes, Relaxed);
}

/// The current sampling rate in bytes.
pub fn sample_rate() -> u64 {
    sampler::RATE.load(Relaxed)
}

/// Scales sampled estimates so that, per size class, they add up to the exact
/// counts. A sampled block of `s` bytes stands for `rate / s` blocks (it
/// contained a sample point with probability `s / rate`); that estimate is
/// unbiased but noisy when few blocks of a site were sampled (ten leaked MB of
/// 100-byte blocks give about 19 samples, ±23%). The exact counters know how many
/// blocks of each size class are allocated and live; the samples tell which sites
/// they belong to. Where one site dominates a class, its estimate becomes nearly
/// exact.
struct Calibration {
    alloc_factor: Vec<f64>,
    live_factor: Vec<f64>,
}

impl Calibration {
    fn new(buckets: &[table::Bucket]) -> Calibration {
        let exact = counters::class_counts();
        let n = counters::CLASSES;
        let (mut est_alloc, mut est_live) = (vec![0.0f64; n], vec![0.0f64; n]);
        let (mut exact_alloc, mut exact_live) = (vec![0u64; n], vec![0u64; n]);
        for b in buckets {
            let c = counters::size_class(b.size as usize);
            let live = b.allocs.saturating_sub(b.frees);
            if b.rate == 0 {
                exact_alloc[c] += b.allocs;
                exact_live[c] += live;
            } else {
                let w = Self::weight(b);
                est_alloc[c] += b.allocs as f64 * w;
                est_live[c] += live as f64 * w;
            }
        }
        let factor = |est: f64, total: u64, recorded: u64| {
            if est > 0.0 {
                total.saturating_sub(recorded) as f64 / est
            } else {
                1.0
            }
        };
        Calibration {
            alloc_factor: (0..n)
                .map(|c| factor(est_alloc[c], exact[c].0, exact_alloc[c]))
                .collect(),
            live_factor: (0..n)
                .map(|c| factor(est_live[c], exact[c].0.saturating_sub(exact[c].1), exact_live[c]))
                .collect(),
        }
    }

    fn weight(b: &table::Bucket) -> f64 {
        if b.rate == 0 || b.size == 0 {
            1.0
        } else {
            b.rate as f64 / b.size as f64
        }
    }

    /// Estimated objects allocated and live for a bucket.
    fn objects(&self, b: &table::Bucket, live: u64) -> (f64, f64) {
        if b.rate == 0 {
            return (b.allocs as f64, live as f64);
        }
        let c = counters::size_class(b.size as usize);
        let w = Self::weight(b);
        (
            b.allocs as f64 * w * self.alloc_factor[c],
            live as f64 * w * self.live_factor[c],
        )
    }
}

/// Allocator frames hidden from the top of heap stacks (as Go hides `runtime.`
/// frames above the first user frame).
const ALLOCATOR_FRAMES: &[&str] = &[
    "sonde::heap::",
    "<sonde::heap::Sampled",
    "__rust_alloc",
    "__rust_realloc",
    "__rust_alloc_zeroed",
    "__rg_alloc",
    "__rg_realloc",
    "__rdl_alloc",
    "__rdl_realloc",
    "alloc::alloc::",
    "<alloc::alloc::Global as core::alloc::Allocator>",
];

/// The heap profile now, in Go's format: default sample type `inuse_space`.
pub fn profile() -> Profile {
    build("")
}

/// The same data as [`profile`], with `alloc_space` as the default sample type
/// (Go's `allocs` profile: everything allocated since the program started).
pub fn allocs_profile() -> Profile {
    build("alloc_space")
}

fn build(default_type: &str) -> Profile {
    {
        // Copying under the table's lock must not sample (which takes the lock).
        let (stacks, buckets) = sampler::busy(|| table::TABLE.with(|t| (t.stacks.clone(), t.buckets.clone())));
        let modules = crate::unwind::modules::loaded_modules();
        let rate = sample_rate();
        let p = Profile {
            sample_types: vec![
                ValueType::new("alloc_objects", "count"),
                ValueType::new("alloc_space", "bytes"),
                ValueType::new("inuse_objects", "count"),
                ValueType::new("inuse_space", "bytes"),
            ],
            default_sample_type: default_type.into(),
            period_type: Some(ValueType::new("space", "bytes")),
            period: rate as i64,
            time_nanos: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as i64),
            ..Default::default()
        };
        let calibration = Calibration::new(&buckets);
        let mut t = StackTables::new(p, &modules, &[], ALLOCATOR_FRAMES);
        for b in &buckets {
            let locations = t.stack(&stacks[b.stack as usize]);
            let live = b.allocs.saturating_sub(b.frees);
            let (alloc_objects, live_objects) = calibration.objects(b, live);
            let space = |objects: f64| (objects * b.size as f64).round() as i64;
            t.p.samples.push(Sample {
                locations,
                values: vec![
                    alloc_objects.round() as i64,
                    space(alloc_objects),
                    live_objects.round() as i64,
                    space(live_objects),
                ],
                labels: Labels::new(vec![Label::num("bytes", b.size as i64, "bytes")]),
            });
        }
        t.p
    }
}
