//! Building the heap profile from the record of samples, scaled and calibrated
//! against the exact counters.

use sonde_profile::{Label, Labels, Profile, Sample, ValueType};

use super::{sample_rate, sampler, table};
use crate::alloc::{self, AllocStats, process_stats};
use crate::profile_builder::ProfileBuilder;

/// Scales sampled estimates so that they add up to the exact totals. A sampled
/// block of `s` bytes stands for `rate / s` blocks (it contained a sample point
/// with probability `s / rate`); that estimate is unbiased but noisy when few
/// blocks were sampled (ten leaked MB of 100-byte blocks give about 19 samples,
/// ±23%). The exact counters know how many bytes are allocated and in use; the
/// samples tell which sites they belong to. The sites that hold most of the heap
/// (a leak, typically) come out nearly exact; small ones keep their sampling
/// noise, in proportion.
struct Calibration {
    alloc_factor: f64,
    live_factor: f64,
}

impl Calibration {
    fn new(buckets: &[table::Bucket], exact: &AllocStats) -> Calibration {
        if !sampler::calibrated() {
            return Calibration {
                alloc_factor: 1.0,
                live_factor: 1.0,
            };
        }
        // Bytes: recorded exactly, and estimated from samples.
        let (mut exact_alloc, mut exact_live, mut est_alloc, mut est_live) = (0u64, 0u64, 0.0f64, 0.0f64);
        for b in buckets {
            let live = b.allocs.saturating_sub(b.frees);
            if b.rate == 0 {
                exact_alloc += b.allocs * b.size;
                exact_live += live * b.size;
            } else {
                let w = Self::weight(b) * b.size as f64;
                est_alloc += b.allocs as f64 * w;
                est_live += live as f64 * w;
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
            alloc_factor: factor(est_alloc, exact.bytes_allocated, exact_alloc),
            live_factor: factor(est_live, exact.live_bytes().max(0) as u64, exact_live),
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
        let w = Self::weight(b);
        (
            b.allocs as f64 * w * self.alloc_factor,
            live as f64 * w * self.live_factor,
        )
    }
}

/// Allocator frames hidden from the top of heap stacks (as Go hides `runtime.`
/// frames above the first user frame): by function name, or by source file (this
/// module's and the allocator hook's, whose inlined functions carry short names).
const ALLOCATOR_FRAMES: &[&str] = &[
    concat!(env!("CARGO_MANIFEST_DIR"), "/src/heap/"),
    concat!(env!("CARGO_MANIFEST_DIR"), "/src/alloc/"),
    "sonde::heap::",
    "sonde::alloc::",
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

/// Builds the profile in sonde's own memory (its working memory is never the
/// program's), then hands the program a copy in its own.
fn build(default_type: &str) -> Profile {
    let exact = process_stats();
    alloc::hand_over(alloc::quietly(|| build_quietly(default_type, &exact)))
}

fn build_quietly(default_type: &str, exact: &AllocStats) -> Profile {
    {
        // Copying under the table's lock must not sample (which takes the lock).
        let (stacks, buckets) = table::TABLE.with(|t| (t.stacks.clone(), t.buckets.clone()));
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
            time_nanos: crate::profile_builder::unix_nanos(std::time::SystemTime::now()),
            ..Default::default()
        };
        let calibration = Calibration::new(&buckets, exact);
        let mut t = ProfileBuilder::new(p, &modules, &[], ALLOCATOR_FRAMES);
        // Buckets differ by size more often than by stack: resolve each stack once.
        let mut resolved: Vec<Option<Vec<u32>>> = vec![None; stacks.len()];
        for b in &buckets {
            let locations = resolved[b.stack as usize]
                .get_or_insert_with(|| t.stack(&stacks[b.stack as usize]))
                .clone();
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
        let own = alloc::own_stats().live_bytes().max(0);
        t.p.comments.push(
            format!(
                "sonde's own memory (not in this profile): {} in use ({own} bytes)",
                sonde_profile::units::scaled_label(own, "bytes", "auto")
            )
            .into(),
        );
        t.p
    }
}
