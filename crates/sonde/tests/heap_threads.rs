//! Several threads allocating, reallocating and freeing concurrently for seconds
//! while heap profiles are taken: counters balance, no crash, no deadlock.

mod common;

use std::alloc::System;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;

#[global_allocator]
static ALLOC: sonde::heap::Sampled<System> = sonde::heap::Sampled::new(System);

#[inline(never)]
fn busy_allocator(stop: &AtomicBool, ops: &AtomicU64, seed: u64) -> sonde::heap::AllocStats {
    let start = sonde::heap::thread_stats();
    let mut x = seed | 1;
    let mut held: Vec<Vec<u8>> = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        match x % 4 {
            0 | 1 => held.push(Vec::with_capacity(8 + (x % 4096) as usize)),
            2 if !held.is_empty() => {
                let i = (x as usize / 4) % held.len();
                let v = &mut held[i];
                let more = 1 + (x % 100_000) as usize;
                v.reserve_exact(v.capacity() + more);
            }
            _ => {
                if !held.is_empty() {
                    held.swap_remove((x as usize / 4) % held.len());
                }
            }
        }
        if held.len() > 2000 {
            held.truncate(1000);
        }
        ops.fetch_add(1, Ordering::Relaxed);
    }
    let held_bytes: u64 = held.iter().map(|v| v.capacity() as u64).sum::<u64>()
        + (held.capacity() * std::mem::size_of::<Vec<u8>>()) as u64;
    let stats = sonde::heap::thread_stats().since(&start);
    assert_eq!(
        stats.live_bytes(),
        held_bytes as i64,
        "allocated - freed = what this thread holds"
    );
    drop(held);
    let end = sonde::heap::thread_stats().since(&start);
    assert_eq!(end.live_bytes(), 0, "everything freed: {end:?}");
    end
}

#[test]
fn concurrent_allocation_and_profiles() {
    sonde::heap::set_sample_rate(16 * 1024);
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..4)
        .map(|i| {
            let (stop, ops) = (stop.clone(), ops.clone());
            std::thread::spawn(move || busy_allocator(&stop, &ops, 0x1234_5678 + i))
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut profiles = 0;
    // At least three profiles while the workers run, however slow the first
    // symbolization is (a debug build on a busy machine takes seconds), and
    // 10,000 operations of the workers, however little CPU they get: the run
    // ends on counts of what happened, the three seconds are a floor.
    while Instant::now() < deadline || profiles < 3 || ops.load(Ordering::Relaxed) < 10_000 {
        let p = sonde::heap::profile();
        assert_valid(&p);
        profiles += 1;
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        let stats = w.join().expect("worker");
        assert_eq!(stats.allocs, stats.frees, "{stats:?}");
    }
    let p = sonde::heap::profile();
    assert!(
        cum_of(&p, "alloc_space", "busy_allocator") > 0,
        "the workers were sampled"
    );
    assert_eq!(
        cum_of(&p, "inuse_space", "busy_allocator"),
        0,
        "everything they allocated was freed"
    );
    let all = sonde::heap::process_stats();
    assert!(
        all.allocs >= all.frees && all.bytes_allocated >= all.bytes_freed,
        "{all:?}"
    );
}
