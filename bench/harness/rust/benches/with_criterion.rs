//! The reference set under criterion (default settings).
#[path = "../../../../crates/sonde-bench/benches/workloads/mod.rs"]
mod workloads;

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use workloads::*;

fn benches(c: &mut Criterion) {
    c.bench_function("Fibonacci10", |b| b.iter(|| fibonacci(black_box(10))));
    c.bench_function("Fibonacci20", |b| b.iter(|| fibonacci(black_box(20))));
    c.bench_function("ConcatPlus", |b| b.iter(|| concat_plus(black_box(1000))));
    c.bench_function("ConcatBuilder", |b| b.iter(|| concat_builder(black_box(1000))));
    c.bench_function("ConcatBuilderPrealloc", |b| b.iter(|| concat_builder_prealloc(black_box(1000))));
    c.bench_function("SliceWithoutPrealloc", |b| b.iter(|| slice_without_prealloc(black_box(1000))));
    c.bench_function("SliceWithPrealloc", |b| b.iter(|| slice_with_prealloc(black_box(1000))));
    c.bench_function("Processing/Size1000", |b| {
        let mut data = vec![0usize; 1000];
        b.iter(|| process(black_box(&mut data)))
    });
    // Go's RunParallel semantics: wall time per operation, two threads sharing
    // the iterations.
    let map = shared_map(1024);
    c.bench_function("Parallel", |b| {
        b.iter_custom(|iters| {
            let start = Instant::now();
            std::thread::scope(|s| {
                for t in 0..2u64 {
                    let map = &map;
                    s.spawn(move || {
                        for i in (t..iters).step_by(2) {
                            black_box(map_access(map, i));
                        }
                    });
                }
            });
            start.elapsed().max(Duration::from_nanos(1))
        })
    });
    c.bench_function("Empty", |b| b.iter(|| ()));
}

criterion_group!(group, benches);
criterion_main!(group);
