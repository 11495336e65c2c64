//! The seed benchmarks as sonde-bench functions: registered by
//! `benches/seed.rs` and checked by `tests/seed_allocs.rs`, so the test measures
//! the very code the benchmarks run.
#![allow(dead_code)] // each user takes what it needs

use sonde_bench::{B, black_box};

use super::workloads::{self, *};

pub fn fibonacci_10(b: &mut B) {
    b.iter(|| fibonacci(black_box(10)));
}

pub fn fibonacci_20(b: &mut B) {
    b.iter(|| fibonacci(black_box(20)));
}

pub fn concat_plus(b: &mut B) {
    b.iter(|| workloads::concat_plus(black_box(1000)));
}

pub fn concat_builder(b: &mut B) {
    b.iter(|| workloads::concat_builder(black_box(1000)));
}

pub fn concat_builder_prealloc(b: &mut B) {
    b.iter(|| workloads::concat_builder_prealloc(black_box(1000)));
}

pub fn slice_without_prealloc(b: &mut B) {
    b.iter(|| workloads::slice_without_prealloc(black_box(1000)));
}

pub fn slice_with_prealloc(b: &mut B) {
    b.iter(|| workloads::slice_with_prealloc(black_box(1000)));
}

/// Sub-benchmarks per input size (Go's `b.Run(fmt.Sprintf("Size%d", size), ...)`).
pub fn processing(b: &mut B) {
    for size in [10, 100, 1000, 10000] {
        b.run(&format!("Size{size}"), |b| {
            let mut data = vec![0usize; size];
            b.reset_timer(); // the allocation above is setup
            for _ in 0..b.n() {
                process(black_box(&mut data));
            }
        });
    }
}

/// Go's `b.RunParallel`: lookups in a shared `RwLock<HashMap>` from every thread.
pub fn parallel(b: &mut B) {
    let map = shared_map(1024);
    b.run_parallel(|pb| {
        let mut i = 0u64;
        while pb.next() {
            black_box(map_access(&map, i));
            i += 1;
        }
    });
}

/// Nothing at all: the harness must report well under a nanosecond.
pub fn empty(b: &mut B) {
    b.iter(|| ());
}
