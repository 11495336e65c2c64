//! Case Study 6 (and Exercise 3): a cache behind one read-write lock, whose
//! `set` renders the value while holding the write lock, hammered by one
//! thread per core (Go's `b.RunParallel`: GOMAXPROCS goroutines); then the same cache in 16 shards. The mutex profile (Go's
//! `/debug/pprof/mutex`, every contention recorded) names the cache's `set`
//! as the unlock that made the others wait; sharding cuts the delay, and the
//! throughput ratio on this machine's cores is measured.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use sonde::sync::RwLock;

use crate::demo::analyze::{self, pct, row_text, sh, short};
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
        for i in 0..200 {
            value.push_str(&format!("{key}:{i};"));
        }
        shard.insert(key, value);
    }
}

/// `threads` threads, `ops` operations each, one `set` in five; the wall time.
fn hammer(cache: &Arc<Cache>, threads: u64, ops: u64) -> f64 {
    let t = Instant::now();
    let threads: Vec<_> = (0..threads)
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

pub fn run(ctx: &Ctx, o: &mut Outcome) -> Result<()> {
    let ops = ctx.pick(50_000, 100_000);
    // One thread per core, at least two: more would add the waits of threads
    // preempted by each other to the contention measured.
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get()).max(2) as u64;
    o.planted = format!(
        "Cache::set renders its value while holding the cache's one write lock; {threads} threads x {ops} operations, one set in five"
    );
    sonde::sync::set_mutex_profile_fraction(1);
    let single_secs = hammer(&Arc::new(Cache::new(1)), threads, ops);
    let single = sonde::sync::mutex_profile();
    let single_path = ctx.file("mutex.pb.gz");
    analyze::write(&single, &single_path)?;
    let sharded_secs = hammer(&Arc::new(Cache::new(16)), threads, ops);
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
    // Shards cut the delay by how often threads collide (6 to 12x on an idle
    // machine). That needs the threads to have run side by side: when other
    // work leaves them one core between them, they barely collide on one lock
    // either, and what waits there is left is a preempted holder's time
    // slice, which no number of shards shortens. So the cut is judged when
    // the one lock made the threads wait at least a tenth of the run.
    let sharded_delay = analyze::top(&sharded_path, delay)?.total;
    let contended = top.total as f64 >= 0.1 * single_secs * 1e9;
    o.check(
        sharded_delay < top.total || !contended,
        format!(
            "16 shards: {:.1} ms of delay instead of {:.1} ms ({}){}",
            sharded_delay as f64 / 1e6,
            top.total as f64 / 1e6,
            if sharded_delay < top.total {
                format!("{:.1}x less", top.total as f64 / sharded_delay.max(1) as f64)
            } else {
                format!("{:.1}x more", sharded_delay as f64 / top.total.max(1) as f64)
            },
            if contended {
                ""
            } else {
                "; not judged: the threads waited under a tenth of the one-lock run, so they hardly ran side by side \
                 (other work had the cores)"
            }
        ),
    );
    let total_ops = (threads * ops) as f64;
    o.table.push(format!(
        "throughput on {} cores: one lock {:.0} ops/s, 16 shards {:.0} ops/s: {:.2}x (the seed: 22.5x on 48 cores)",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        total_ops / single_secs,
        total_ops / sharded_secs,
        single_secs / sharded_secs
    ));
    o.file(&single_path);
    o.file(&sharded_path);
    o.explore(format!("sonde top {}", sh(&single_path)));
    o.explore(format!("sonde peek 'Cache::set' {}", sh(&single_path)));
    o.explore(format!("sonde top {}", sh(&sharded_path)));
    Ok(())
}
