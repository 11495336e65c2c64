//! 100,000 leaked 100-byte blocks from one function among a gigabyte of churn from
//! another (one leak per 10 KB of churn): at the default rate the leaker holds
//! about 10 MB, within 15% in each of several runs (Go's sampler: anywhere from
//! 6.8 to 15.2 MB). The leaks are spread through the allocations; blocks that
//! come in bursts far apart are sampled like independent draws, whatever the
//! sampler (see the heap module's documentation).

mod common;

use std::alloc::System;

use common::*;

#[global_allocator]
static ALLOC: sonde::heap::Sampled<System> = sonde::heap::Sampled::new(System);

#[inline(never)]
fn leak_small(into: &mut Vec<Box<[u8]>>) {
    into.push(vec![7u8; 100].into_boxed_slice());
}

/// Allocates and frees blocks of 8 to 512 bytes until `bytes` have been allocated.
#[inline(never)]
fn churn(bytes: u64, seed: &mut u64) {
    let mut done = 0;
    let mut window: Vec<Vec<u8>> = Vec::with_capacity(64);
    while done < bytes {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        let size = 8 + (*seed % 505) as usize;
        if window.len() == 64 {
            window.swap_remove((*seed % 64) as usize);
        }
        window.push(Vec::with_capacity(size));
        done += size as u64;
    }
}

#[test]
fn small_leak_within_15_percent_each_run() {
    let mut leaked: Vec<Box<[u8]>> = Vec::with_capacity(500_000);
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut previous = sonde::heap::profile();
    let mut results = Vec::new();
    for _run in 0..4 {
        // 100,000 leaks spread through 1 GB of churn.
        for _ in 0..100_000 {
            leak_small(&mut leaked);
            churn(10_000, &mut seed);
        }
        let now = sonde::heap::profile();
        let grew = now.clone().subtract(previous).expect("subtract");
        let bytes = cum_of(&grew, "inuse_space", "heap_small_leak::leak_small") as f64;
        results.push(bytes / 1e7);
        previous = now;
    }
    eprintln!("leaker in use per run (fraction of 10 MB): {results:.3?}");
    for r in &results {
        assert!((r - 1.0).abs() <= 0.15, "a run estimated {r:.3} x 10 MB: {results:.3?}");
    }
    assert!(leaked.len() == 400_000);
}
