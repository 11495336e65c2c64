//! `sync <uncontended|contended|threads|tasks> [args]`: one measurement per
//! subcommand, modes interleaved in rounds within the process. Prints one line
//! per result, `name value`, for bench/sync.sh to take medians of.

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[global_allocator]
static A: sonde::heap::Sampled<std::alloc::System> = sonde::heap::Sampled::new(std::alloc::System);

fn arg(args: &[String], i: usize, default: u64) -> u64 {
    args.get(i).map(|s| s.parse().expect("number")).unwrap_or(default)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("uncontended") => uncontended(arg(&args, 2, 20_000_000), arg(&args, 3, 5)),
        Some("contended") => contended(arg(&args, 2, 200_000), arg(&args, 3, 5)),
        Some("threads") => threads(arg(&args, 2, 1000) as usize, arg(&args, 3, 10) as usize),
        Some("tasks") => tasks(
            arg(&args, 2, 100_000),
            arg(&args, 3, 20),
            args.get(4).map(String::as_str),
        ),
        _ => {
            eprintln!(
                "usage: sync uncontended [OPS] [ROUNDS] | contended [OPS] [ROUNDS] | threads [N] [CALLS] | tasks [N] [ROUNDS] [outside|worker|current]"
            );
            std::process::exit(2);
        }
    }
}

// 1. Uncontended lock()+increment+unlock, one thread.

#[inline(never)]
fn run_std(m: &std::sync::Mutex<u64>, n: u64) {
    for _ in 0..n {
        *black_box(m).lock().unwrap() += 1;
    }
}

#[inline(never)]
fn run_sonde(m: &sonde::sync::Mutex<u64>, n: u64) {
    for _ in 0..n {
        *black_box(m).lock().unwrap() += 1;
    }
}

#[inline(never)]
fn run_parking_lot(m: &parking_lot::Mutex<u64>, n: u64) {
    for _ in 0..n {
        *black_box(m).lock() += 1;
    }
}

fn uncontended(n: u64, rounds: u64) {
    let s = std::sync::Mutex::new(0u64);
    let o = sonde::sync::Mutex::new(0u64);
    let p = parking_lot::Mutex::new(0u64);
    let names = ["std", "sonde", "parking_lot"];
    let mut t = [0f64; 3];
    for r in 0..rounds as usize {
        for k in 0..3 {
            let which = (r + k) % 3; // rotating order
            let start = Instant::now();
            match which {
                0 => run_std(&s, n),
                1 => run_sonde(&o, n),
                _ => run_parking_lot(&p, n),
            }
            t[which] += start.elapsed().as_secs_f64();
        }
    }
    assert_eq!(*s.lock().unwrap(), n * rounds);
    assert_eq!(*o.lock().unwrap(), n * rounds);
    assert_eq!(*p.lock(), n * rounds);
    for (i, name) in names.iter().enumerate() {
        println!("ns_per_op_{name} {:.4}", t[i] * 1e9 / (n * rounds) as f64);
    }
    println!("ratio_sonde_std {:.4}", t[1] / t[0]);
    println!("ratio_parking_lot_std {:.4}", t[2] / t[0]);
}

// 2. The seed's Case Study 6 cache.

struct Cache {
    shards: Vec<sonde::sync::RwLock<HashMap<u64, String>>>,
}

impl Cache {
    fn new(n: usize) -> Self {
        Cache {
            shards: (0..n).map(|_| sonde::sync::RwLock::new(HashMap::new())).collect(),
        }
    }

    #[inline(never)]
    fn get(&self, key: u64) -> Option<usize> {
        let shard = self.shards[key as usize % self.shards.len()].read().unwrap();
        shard.get(&key).map(String::len)
    }

    /// Renders a ~100-byte value while holding the write lock.
    #[inline(never)]
    fn set(&self, key: u64) {
        let mut shard = self.shards[key as usize % self.shards.len()].write().unwrap();
        let mut value = String::new();
        for i in 0..12 {
            value.push_str(&format!("{key}:{i};"));
        }
        shard.insert(key, value);
    }
}

/// Four threads of `ops` operations each, one `set` in ten; returns ops/s.
fn hammer(shards: usize, ops: u64, seed: u64) -> f64 {
    let cache = Arc::new(Cache::new(shards));
    let start = Instant::now();
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let cache = cache.clone();
            std::thread::spawn(move || {
                let mut x = 0x9e37_79b9_7f4a_7c15u64 ^ (t + 1) ^ (seed << 8);
                for _ in 0..ops {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let key = (x >> 32) % 1024;
                    if x % 10 == 0 {
                        cache.set(key);
                    } else {
                        black_box(cache.get(key));
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    (4 * ops) as f64 / start.elapsed().as_secs_f64()
}

fn contended(ops: u64, rounds: u64) {
    let set = |on: bool| {
        sonde::sync::set_mutex_profile_fraction(on as u64);
        sonde::sync::set_block_profile_rate(on as u64);
    };
    // Modes: 0 one lock, profiling off; 1 one lock, profiling on; 2 16 shards, off.
    let names = ["one_lock_off", "one_lock_on", "sharded_off"];
    let mut v: [Vec<f64>; 3] = Default::default();
    for r in 0..rounds as usize {
        for k in 0..3 {
            let which = (r + k) % 3;
            set(which == 1);
            let shards = if which == 2 { 16 } else { 1 };
            v[which].push(hammer(shards, ops, r as u64));
        }
    }
    set(false);
    let mut m = [0f64; 3];
    for i in 0..3 {
        m[i] = median(&mut v[i]);
        println!("ops_per_s_{} {:.0}", names[i], m[i]);
    }
    println!("ratio_on_off {:.4}", m[1] / m[0]);
    println!("ratio_sharded_one {:.4}", m[2] / m[0]);
    let p = sonde::sync::mutex_profile();
    let events: i64 = p.samples.iter().map(|s| s.values[0]).sum();
    println!("mutex_profile_contentions {events}");
}

// 3. threads::profile() with many parked threads.

fn threads(n: usize, calls: usize) {
    let mut receivers = Vec::new();
    let mut handles = Vec::new();
    for _ in 0..n {
        let (ttx, trx) = std::sync::mpsc::channel::<()>();
        receivers.push(ttx);
        handles.push(
            std::thread::Builder::new()
                .stack_size(64 << 10)
                .spawn(move || {
                    let _ = trx.recv();
                })
                .expect("spawn"),
        );
    }
    std::thread::sleep(Duration::from_millis(200));
    println!("threads_counted {}", sonde::threads::count());
    let mut ms = Vec::new();
    let mut own = Vec::new();
    let mut proc_ = Vec::new();
    let mut samples = 0;
    for _ in 0..calls {
        let start = Instant::now();
        let p = sonde::threads::profile().expect("profile");
        ms.push(start.elapsed().as_secs_f64() * 1e3);
        samples = p.samples.iter().map(|s| s.values[0]).sum::<i64>();
        drop(p);
        own.push(sonde::heap::own_stats().live_bytes());
        proc_.push(sonde::heap::process_stats().live_bytes());
    }
    println!("threads_in_profile {samples}");
    let max = ms.iter().cloned().fold(0.0, f64::max);
    println!("call1_ms {:.3}", ms[0]);
    println!("median_ms {:.3}", median(&mut ms.clone()));
    println!("max_ms {:.3}", max);
    println!("max_ms_calls_2_on {:.3}", ms[1..].iter().cloned().fold(0.0, f64::max));
    println!("own_live_call1 {}", own[0]);
    println!("own_live_delta_1_to_{calls} {}", own[calls - 1] - own[0]);
    println!("own_live_delta_2_to_{calls} {}", own[calls - 1] - own[1]);
    println!("process_live_call1 {}", proc_[0]);
    println!("process_live_delta_1_to_{calls} {}", proc_[calls - 1] - proc_[0]);
    println!("process_live_delta_2_to_{calls} {}", proc_[calls - 1] - proc_[1]);
    drop(receivers);
    for h in handles {
        h.join().unwrap();
    }
}

// 4. tokio::spawn vs sonde::tasks::spawn.

async fn tiny(i: u64) -> u64 {
    black_box(i).wrapping_mul(3)
}

/// Spawns `n` tiny tasks in batches of 10k, awaiting each batch, with
/// `tokio::spawn` (`which == 0`) or `sonde::tasks::spawn`; returns seconds.
async fn spawn_batches(n: u64, which: usize) -> f64 {
    let batch = 10_000u64;
    let start = Instant::now();
    let mut sum = 0u64;
    let mut handles = Vec::with_capacity(batch as usize);
    let mut i = 0;
    while i < n {
        for j in i..(i + batch).min(n) {
            handles.push(if which == 0 {
                tokio::spawn(tiny(j))
            } else {
                sonde::tasks::spawn(tiny(j))
            });
        }
        for h in handles.drain(..) {
            sum = sum.wrapping_add(h.await.unwrap());
        }
        i += batch;
    }
    black_box(sum);
    start.elapsed().as_secs_f64()
}

/// Three shapes of a spawn-heavy program, each with both spawns in adjacent
/// pairs of rounds (rotating order): `outside` spawns from the thread in
/// `block_on` (tasks go through the runtime's shared queue), `worker` from a
/// task on one of the 2 workers (a server's accept loop), `current` on a
/// current-thread runtime. Prints the median ns per task of each spawn and the
/// median of the pairs' ratios (a pair shares the machine's load of its moment).
fn tasks(n: u64, rounds: u64, only: Option<&str>) {
    let mt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let ct = tokio::runtime::Builder::new_current_thread().build().unwrap();
    for shape in ["outside", "worker", "current"] {
        if only.is_some_and(|o| o != shape) {
            continue;
        }
        let (mut ns, mut ratios) = ([Vec::new(), Vec::new()], Vec::new());
        for r in 0..rounds as usize {
            let mut pair = [0f64; 2];
            for k in 0..2 {
                let which = (r + k) % 2;
                pair[which] = match shape {
                    "outside" => mt.block_on(spawn_batches(n, which)),
                    "worker" => mt.block_on(async move { tokio::spawn(spawn_batches(n, which)).await.unwrap() }),
                    _ => ct.block_on(spawn_batches(n, which)),
                };
                ns[which].push(pair[which] * 1e9 / n as f64);
            }
            ratios.push(pair[1] / pair[0]);
        }
        println!("ns_per_task_tokio_{shape} {:.1}", median(&mut ns[0]));
        println!("ns_per_task_sonde_{shape} {:.1}", median(&mut ns[1]));
        println!("ratio_sonde_tokio_{shape} {:.4}", median(&mut ratios));
    }
}
