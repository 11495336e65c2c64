//! The baseline: the system allocator, unwrapped.
fn main() {
    sonde_bench_heap::measure("plain", sonde_bench_heap::count());
}
