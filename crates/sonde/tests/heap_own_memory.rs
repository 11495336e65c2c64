//! sonde's own memory is neither counted nor sampled: a CPU profile's buffers
//! (about 4 MB of sample slots), its tables, the unwinder's state, the symbol
//! cache and a heap profile's working memory never show in the program's
//! counters or heap profiles; `sonde::heap::own_stats()` shows them instead.
//! What a profiler hands the program (the `Profile` that `stop()` or
//! `heap::profile()` returns) is the program's: counted and sampled where it
//! was asked for, and gone from the counters once dropped.
//!
//! (Before: a CPU profile running for 200 ms put 4 MB into the heap profile, at a
//! bare `new (inline)` frame.)

mod common;

use std::alloc::System;
use std::time::Duration;

use common::*;
use sonde::cpu::{self, CpuOptions};
use sonde::heap;

#[global_allocator]
static ALLOC: heap::Sampled<System> = heap::Sampled::new(System);

/// Bytes of sample type `ty` at frames of sonde's own code, except the copies
/// handed over to the program (`hand_over`: the profiles it asked for).
fn sondes(p: &sonde::Profile, ty: &str) -> i64 {
    let i = p.sample_types.iter().position(|t| &*t.ty == ty).expect("sample type");
    p.samples
        .iter()
        .filter(|s| {
            let f = frames(p, s);
            f.iter()
                .any(|f| f.starts_with("sonde::") || f.starts_with("sonde_profile::") || f.contains("<sonde"))
                && !f.iter().any(|f| f.ends_with("hand_over"))
        })
        .map(|s| s.values[i])
        .sum()
}

fn sondes_inuse(p: &sonde::Profile) -> i64 {
    sondes(p, "inuse_space")
}

/// What this program's own threads hold: allocated minus freed, in bytes.
fn live() -> i64 {
    heap::process_stats().live_bytes()
}

/// Starts a CPU profile and burns 100 ms on two threads (joined again).
fn profile_some_work() -> cpu::CpuProfiler {
    let profiler = cpu::start(CpuOptions::default().frequency(1000).thread_labels(true)).expect("start");
    let worker = std::thread::spawn(|| work(100));
    work(100);
    worker.join().expect("worker");
    std::thread::sleep(Duration::from_millis(60));
    profiler
}

#[test]
fn the_profilers_memory_is_their_own() {
    // Every block of 4 KiB or more sampled, smaller ones in proportion: the
    // CPU profile's sample slots (one 4 MiB block) and tables cannot hide.
    heap::set_sample_rate(4096);
    calibrate_work();
    // A first round fills the symbol cache (sonde's own too, and kept), so that
    // the second shows what a profile itself holds and gives back.
    drop(profile_some_work().stop().expect("stop"));
    drop(heap::profile());
    let own_before = heap::own_stats();
    let before = live();

    let profiler = profile_some_work();
    let own_running = heap::own_stats().since(&own_before).live_bytes();
    let during = heap::profile();
    let live_during = live() - before;
    let own_during = heap::own_stats().since(&own_before);
    eprintln!(
        "while the CPU profile runs: sonde's frames hold {} B in the heap profile, the program's counters grew by {live_during} B, sonde's own memory by {} B",
        sondes_inuse(&during),
        own_during.live_bytes()
    );
    assert_eq!(
        sondes_inuse(&during),
        0,
        "no sonde frame holds memory in the heap profile"
    );
    assert!(
        own_running > 4 << 20,
        "the CPU profile's buffers (4 MiB of sample slots) are sonde's own: {own_running} B"
    );
    assert!(
        live_during < 256 << 10,
        "the program's counters grew by {live_during} B while only a heap profile was taken"
    );
    drop(during);

    // The symbol cache grows with the new addresses stop() names, by how much
    // depends on where a busy machine interrupted the work (2.2 MB once under
    // load): both readings around stop() are taken without it, so that what
    // they differ by is what the profile itself held and gave back.
    sonde::clear_symbol_cache();
    let own_before_stop = heap::own_stats().since(&own_before).live_bytes();
    let p = profiler.stop().expect("stop");
    assert!(total(&p) > 0);
    drop(p);
    let after = live() - before;
    sonde::clear_symbol_cache();
    let own_after = heap::own_stats().since(&own_before);
    eprintln!(
        "after stop: the program holds {after} B more; sonde, without its symbol cache, {} B before stop and {} B after",
        own_before_stop,
        own_after.live_bytes()
    );
    assert!(
        after.abs() < 64 << 10,
        "the CPU profile left {after} B in the program's counters"
    );
    // What stop() adds to sonde's memory (the heap profiler's record of the
    // copy handed over) is far less than it frees.
    assert!(
        own_before_stop - own_after.live_bytes() > 3 << 20,
        "the CPU profile's buffers are freed: sonde held {own_before_stop} B before stop, {} B after",
        own_after.live_bytes()
    );
    let later = heap::profile();
    assert_eq!(
        sondes_inuse(&later),
        0,
        "nothing of sonde's is left in the heap profile"
    );
    assert_eq!(
        sondes(&later, "alloc_space"),
        0,
        "nothing sonde ever allocated for itself (collectors, heap profiles' working memory) was sampled"
    );
    let handed = heap::allocs_profile();
    assert!(
        handed
            .samples
            .iter()
            .any(|s| frames(&handed, s).iter().any(|f| f.ends_with("hand_over"))),
        "the profiles handed over are the program's, sampled where it asked for them"
    );
    assert!(
        later.comments.iter().any(|c| c.contains("sonde's own memory")),
        "the heap profile says what sonde holds: {:?}",
        later.comments
    );
}
