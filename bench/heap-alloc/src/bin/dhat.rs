//! dhat (records every allocation with its backtrace), for comparison.
#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    sonde_bench_heap::measure("dhat", sonde_bench_heap::count());
}
