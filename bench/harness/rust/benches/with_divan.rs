//! The reference set under divan (default settings).
#[path = "../../../../crates/sonde-bench/benches/workloads/mod.rs"]
mod workloads;

use divan::black_box;
use workloads::*;

fn main() {
    divan::main();
}

#[divan::bench(name = "Fibonacci10")]
fn fibonacci10() -> u64 {
    fibonacci(black_box(10))
}
#[divan::bench(name = "Fibonacci20")]
fn fibonacci20() -> u64 {
    fibonacci(black_box(20))
}
#[divan::bench(name = "ConcatPlus")]
fn concat_plus_() -> String {
    concat_plus(black_box(1000))
}
#[divan::bench(name = "ConcatBuilder")]
fn concat_builder_() -> String {
    concat_builder(black_box(1000))
}
#[divan::bench(name = "ConcatBuilderPrealloc")]
fn concat_builder_prealloc_() -> String {
    concat_builder_prealloc(black_box(1000))
}
#[divan::bench(name = "SliceWithoutPrealloc")]
fn slice_without_prealloc_() -> Vec<usize> {
    slice_without_prealloc(black_box(1000))
}
#[divan::bench(name = "SliceWithPrealloc")]
fn slice_with_prealloc_() -> Vec<usize> {
    slice_with_prealloc(black_box(1000))
}
#[divan::bench(name = "Processing_Size1000")]
fn processing(b: divan::Bencher) {
    let mut data = vec![0usize; 1000];
    b.bench_local(|| process(black_box(&mut data)));
}
/// divan's threads: time per iteration on each of 2 threads (not Go's wall
/// time per operation; halve it to compare).
#[divan::bench(name = "Parallel", threads = [2])]
fn parallel(b: divan::Bencher) {
    let map = shared_map(1024);
    let i = std::sync::atomic::AtomicU64::new(0);
    b.bench(|| black_box(map_access(&map, i.fetch_add(1, std::sync::atomic::Ordering::Relaxed))));
}
#[divan::bench(name = "Empty")]
fn empty() {}
