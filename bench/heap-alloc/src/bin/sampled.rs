//! sonde's heap profiler at the default rate (512 KiB), with its counters.
use std::alloc::System;

#[global_allocator]
static ALLOC: sonde::heap::Sampled<System> = sonde::heap::Sampled::new(System);

fn main() {
    sonde_bench_heap::measure("sampled", sonde_bench_heap::count());
    let p = sonde::heap::profile();
    assert!(!p.samples.is_empty());
}
