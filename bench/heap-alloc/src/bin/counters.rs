//! sonde's allocator wrapper with sampling off: the exact counters only.
use std::alloc::System;

#[global_allocator]
static ALLOC: sonde::heap::Sampled<System> = sonde::heap::Sampled::new(System);

fn main() {
    sonde::heap::set_sample_rate(0);
    sonde_bench_heap::measure("counters", sonde_bench_heap::count());
    assert!(sonde::heap::process_stats().allocs >= sonde_bench_heap::count());
}
