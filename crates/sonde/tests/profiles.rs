//! The registry of profile kinds over the real collectors: the heap kinds give
//! what `sonde::heap` gives, the CPU kind profiles for the requested duration
//! and refuses to start while a CPU profile runs.

mod common;

use std::alloc::System;
use std::time::Duration;

use common::*;
use sonde::profiles::{self, Params};

#[global_allocator]
static ALLOC: sonde::heap::Sampled<System> = sonde::heap::Sampled::new(System);

#[test]
fn heap_kinds_are_the_heap_profiles() {
    // Large enough to be recorded exactly: the table has at least one record.
    let kept = std::hint::black_box(vec![1u8; 1 << 20]);
    let heap = profiles::lookup("heap").expect("heap kind");
    let n = heap.count().expect("heap records are counted");
    assert!(n > 0, "the 1 MiB block is recorded");
    let p = heap.take(&Params::default()).expect("heap profile");
    assert_valid(&p);
    assert_eq!(p.sample_types, sonde::heap::profile().sample_types);
    assert_eq!(&*p.default_sample_type, "");
    assert!(p.samples.len() >= n, "one sample per record: {} < {n}", p.samples.len());
    let allocs = profiles::take("allocs", &Params::default()).expect("allocs profile");
    assert_eq!(allocs.sample_types, sonde::heap::allocs_profile().sample_types);
    assert_eq!(&*allocs.default_sample_type, "alloc_space");
    drop(kept);
}

#[test]
fn cpu_kind_profiles_for_the_duration_and_one_at_a_time() {
    let params = Params::default().with_seconds(Duration::from_millis(200));
    let running = sonde::cpu::start(sonde::cpu::CpuOptions::default()).expect("start");
    assert!(matches!(
        profiles::take("profile", &params),
        Err(sonde::Error::AlreadyRunning { kind: "CPU" })
    ));
    running.stop().expect("stop");

    let p = profiles::take("profile", &params).expect("cpu profile");
    assert_valid(&p);
    let types: Vec<(&str, &str)> = p.sample_types.iter().map(|t| (&*t.ty, &*t.unit)).collect();
    assert_eq!(types, [("samples", "count"), ("cpu", "nanoseconds")]);
    assert!(p.duration_nanos >= 200_000_000, "profiled for {} ns", p.duration_nanos);
}
