//! Case Study 6 (and Exercise 3): a cache behind one read-write lock, whose
//! `set` renders the value while holding the write lock, hammered by four
//! threads; then the same cache in 16 shards. The mutex profile (Go's
//! `/debug/pprof/mutex`, every contention recorded) names the cache's `set`
//! as the unlock that made the others wait; sharding cuts the delay, and the
//! throughput ratio on this machine's cores is measured.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use sonde::sync::RwLock;

use crate::demo::analyze::{self, pct, row_text, short};
use crate::demo::{Ctx, Outcome};

/// A string cache in `shards` shards, each behind its own lock (1: the
/// seed's single-lock `Cache`).
pub struct Cache {
    shards: Vec<RwLock<HashMap<u64, String>>>,
}

impl Cache {
    pub fn new(shards: usize) -> Cache {
        Cache {
            shards: (0..shards).map(|_| RwLock::new(HashMap::new())).collect(),
        }
    }

    fn shard(&self, key: u64) -> &RwLock<HashMap<u64, String>> {
        // The seed's fnv32 of the key, masked.
        let mut hash = 2_166_136_261u32;
        for b in key.to_le_bytes() {
            hash = hash.wrapping_mul(16_777_619) ^ u32::from(b);
        }
        &self.shards[hash as usize % self.shards.len()]
    }

    #[inline(never)]
    pub fn get(&self, key: u64) -> Option<usize> {
        self.shard(key)
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
            .map(String::len)
    }

    /// Renders the value while holding the write lock: the planted cause.
    #[inline(never)]
    pub fn set(&self, key: u64) {
        let mut shard = self.shard(key).write().unwrap_or_else(|p| p.into_inner());
        let mut value = String::new();
        for i in 0..100 {
            value.push_str(&format!("{key}:{i};"));
        }
        shard.insert(key, value);
    }
}

/// Four threads, `ops` operations each, one `set` in five; the wall time.
fn hammer(cache: &Arc<Cache>, ops: u64) -> f64 {
    let t = Instant::now();
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let cache = cache.clone();
            std::thread::spawn(move || {
                let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (t + 1);
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
        let _ = t.join();
    }
    t.elapsed().as_secs_f64()
}

pub fn run(ctx: &Ctx) -> Result<Outcome> {
    let ops = ctx.pick(20_000, 100_000);
    let mut o = Outcome {
        planted: format!(
            "Cache::set renders its value while holding the cache's one write lock; 4 threads x {ops} operations, one set in five"
        ),
        ..Outcome::default()
    };
    sonde::sync::set_mutex_profile_fraction(1);
    let single_secs = hammer(&Arc::new(Cache::new(1)), ops);
    let single = sonde::sync::mutex_profile();
    let single_path = ctx.file("mutex.pb.gz");
    analyze::write(&single, &single_path)?;
    let sharded_secs = hammer(&Arc::new(Cache::new(16)), ops);
    // The profile is cumulative (as Go's): the sharded run is what was added.
    let sharded = sonde::sync::mutex_profile()
        .subtract(single)
        .context("the sharded run's delta")?;
    let sharded_path = ctx.file("mutex_sharded.pb.gz");
    analyze::write(&sharded, &sharded_path)?;

    let delay = |c: &mut sonde_profile::report::Config| c.sample_index = Some("delay".into());
    let top = analyze::top(&single_path, delay)?;
    let set = analyze::find(&top, "Cache::set");
    o.found = format!(
        "sonde top (mutex, delay): {}",
        top.rows
            .first()
            .map(|r| short(&row_text(&top, r)).to_string())
            .unwrap_or_default()
    );
    o.check(
        set.is_some_and(|r| r.cum as f64 >= 0.8 * top.total as f64),
        format!(
            "the mutex profile puts {} of the {} ms of delay at Cache::set's unlock (≥ 80%)",
            set.map_or("none".into(), |r| pct(r.cum, top.total)),
            top.total / 1_000_000
        ),
    );
    let sharded_top = analyze::top(&sharded_path, delay)?;
    o.check(
        sharded_top.total * 2 < top.total,
        format!(
            "16 shards: {} ms of delay instead of {} ms",
            sharded_top.total / 1_000_000,
            top.total / 1_000_000
        ),
    );
    let total_ops = 4.0 * ops as f64;
    o.table.push(format!(
        "throughput on {} cores: one lock {:.0} ops/s, 16 shards {:.0} ops/s: {:.2}x (the seed: 22.5x on 48 cores)",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        total_ops / single_secs,
        total_ops / sharded_secs,
        single_secs / sharded_secs
    ));
    o.file(&single_path);
    o.file(&sharded_path);
    o.explore(format!("sonde top {}", single_path.display()));
    o.explore(format!("sonde peek 'Cache::set' {}", single_path.display()));
    o.explore(format!("sonde top {}", sharded_path.display()));
    Ok(o)
}
