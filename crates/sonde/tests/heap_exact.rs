//! At rate 1 every allocation is recorded: a small known workload gives exact
//! object counts, and a reallocated block stays tracked under its new size.

mod common;

use std::alloc::System;

use common::*;

#[global_allocator]
static ALLOC: sonde::heap::Sampled<System> = sonde::heap::Sampled::new(System);

#[inline(never)]
#[allow(clippy::vec_box)] // one heap block per element is the point
fn boxes(n: usize) -> Vec<Box<[u8; 64]>> {
    // black_box keeps `collect` from being a tail call, which would leave no
    // frame of `boxes` on the stack.
    std::hint::black_box((0..n).map(|_| Box::new([0u8; 64])).collect())
}

#[inline(never)]
fn grow(v: &mut Vec<u64>) {
    v.reserve_exact(1000);
}

#[test]
fn every_allocation_is_counted() {
    sonde::heap::set_sample_rate(1);
    let kept = boxes(1000);
    drop(boxes(500));
    let mut v: Vec<u64> = Vec::with_capacity(10);
    grow(&mut v);
    // Building the profile allocates too; no need to record all of that.
    sonde::heap::set_sample_rate(0);
    let p = sonde::heap::profile();
    assert_valid(&p);
    let objects = |ty, f| cum_of(&p, ty, f);
    assert_eq!(
        objects("alloc_objects", "heap_exact::boxes"),
        1500 + 2,
        "1500 boxes and two vectors of boxes"
    );
    assert_eq!(objects("inuse_objects", "heap_exact::boxes"), 1000 + 1);
    assert_eq!(cum_of(&p, "inuse_space", "heap_exact::boxes"), 1000 * 64 + 1000 * 8);
    // The vector grown by realloc: the old block is freed, the new one in use.
    assert_eq!(cum_of(&p, "inuse_space", "heap_exact::grow"), 1000 * 8);
    assert_eq!(cum_of(&p, "inuse_objects", "heap_exact::grow"), 1);
    drop(kept);
    drop(v);
    let after = sonde::heap::profile();
    assert_eq!(cum_of(&after, "inuse_objects", "heap_exact::boxes"), 0);
    assert_eq!(cum_of(&after, "inuse_space", "heap_exact::grow"), 0);
    // Counters are exact for this thread.
    let t0 = sonde::heap::thread_stats();
    let b = Box::new([0u8; 100]);
    drop(b);
    let d = sonde::heap::thread_stats().since(&t0);
    assert_eq!((d.allocs, d.frees, d.bytes_allocated, d.bytes_freed), (1, 1, 100, 100));
}
