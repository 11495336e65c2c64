//! `sonde-bench-agent overhead SCHEDULE PAIRS ROUND_SECS`: a busy service (two
//! worker threads, one per core, each serving "requests" that allocate, hash
//! and take a shared lock) in adjacent pairs of rounds without and with an
//! agent on SCHEDULE (`seed` or `aggressive`, both compressed in time, see
//! bench/agent.sh), the order alternating between pairs. Prints each pair's
//! requests/s and the median of the pairs' ratios (with / without), and the
//! CPU time of sonde's own threads as a share of the process's.
//!
//! `sonde-bench-agent side SCHEDULE|none SECS`: one worker for SECS, with an
//! agent on SCHEDULE or none; prints requests/s and CPU ns per request.
//! bench/agent.sh runs two at once, one with and one without.
//!
//! `sonde-bench-agent store DIR N`: writes N profiles into a store at DIR as
//! an agent on the aggressive schedule would over N/4 minutes (cpu, heap,
//! goroutine, allocs each minute, ending now), with profiles of a few hundred
//! stacks. Prints the store's size.

use std::alloc::System;
use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sonde::agent::{self, LocalStore};
use sonde_profile::store::{self, Retention, Store};
use sonde_profile::{Function, Line, Location, Profile, Sample, ValueType};

#[global_allocator]
static ALLOC: sonde::heap::Sampled<System> = sonde::heap::Sampled::new(System);

/// One request: builds 40 small strings, hashes them, and one in 16 updates a
/// shared map.
#[inline(never)]
fn serve_request(i: u64, shared: &sonde::sync::Mutex<BTreeMap<u64, String>>) -> u64 {
    let fields: Vec<String> = (0..40).map(|j| format!("field-{}-{}", i, j)).collect();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for f in &fields {
        f.hash(&mut h);
    }
    let key = h.finish();
    if i % 16 == 0 {
        // A shared cache, updated now and then (mostly uncontended).
        shared.lock().expect("lock").insert(key % 4096, fields[0].clone());
    }
    key
}

fn cpu_seconds_of(stat: &str) -> f64 {
    // Fields after the command's closing parenthesis: utime is the 12th, stime the 13th.
    let rest = stat.rsplit_once(')').map_or("", |r| r.1);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11).and_then(|v| v.parse().ok()).unwrap_or(0.0)
        + f.get(12).and_then(|v| v.parse().ok()).unwrap_or(0.0);
    ticks / 100.0
}

/// CPU seconds of the whole process, exited threads included (the CPU
/// profile's collector thread ends with each window).
fn process_cpu() -> f64 {
    cpu_seconds_of(&std::fs::read_to_string("/proc/self/stat").unwrap_or_default())
}

/// CPU ns of each of sonde's threads (`sonde-agent`, `sonde-cpu`: the
/// agent's and each CPU window's collector), read every 20 ms while `stop` is
/// unset; a thread's last reading counts (a collector that exits between two
/// readings loses at most 20 ms of mostly sleeping). Returns their sum.
fn watch_sonde_threads(stop: &AtomicBool) -> u64 {
    let mut seen: std::collections::HashMap<String, u64> = Default::default();
    while !stop.load(Ordering::Relaxed) {
        if let Ok(dir) = std::fs::read_dir("/proc/self/task") {
            for t in dir.flatten() {
                let p = t.path();
                let name = std::fs::read_to_string(p.join("comm")).unwrap_or_default();
                if matches!(name.trim(), "sonde-agent" | "sonde-cpu") {
                    let ns: u64 = std::fs::read_to_string(p.join("schedstat"))
                        .ok()
                        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
                        .unwrap_or(0);
                    let key = t.file_name().to_string_lossy().into_owned();
                    let e = seen.entry(key).or_default();
                    *e = (*e).max(ns);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    seen.values().sum()
}

fn schedule(name: &str) -> agent::Builder {
    let s = Duration::from_secs;
    let b = agent::builder("bench");
    match name {
        // The seed's (30 s CPU every 5 min, heap every 10 min, goroutine every
        // 5 min) compressed 30x: the same share of time under the CPU
        // profiler, snapshots 30x as often.
        "seed" => b.cpu(s(1), s(10)).every("heap", s(20)).every("goroutine", s(10)),
        // The aggressive one (10 s CPU every 60 s, heap and goroutine every
        // 60 s) compressed 10x.
        "aggressive" => b.cpu(s(1), s(6)).every("heap", s(6)).every("goroutine", s(6)),
        other => panic!("unknown schedule {other}: seed or aggressive"),
    }
}

/// Requests per second over `secs`, with an agent on `sched` if given; the
/// process's CPU ns per request (the agent's threads, its signal handlers in
/// the workers and its collections included); and the CPU ns of sonde's own
/// threads.
fn round(secs: u64, workers: u64, sched: Option<&str>, dir: &std::path::Path) -> (f64, f64, u64) {
    let shared = Arc::new(sonde::sync::Mutex::new(BTreeMap::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let count = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..workers)
        .map(|w| {
            let (shared, stop, count) = (shared.clone(), stop.clone(), count.clone());
            std::thread::Builder::new().name(format!("worker-{w}")).spawn(move || {
                let mut i = w * 1_000_000_000;
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    std::hint::black_box(serve_request(i, &shared));
                    i += 1;
                    n += 1;
                }
                count.fetch_add(n, Ordering::Relaxed);
            })
            .expect("worker")
        })
        .collect();
    let watching = Arc::new(AtomicBool::new(false));
    let watcher = {
        let w = watching.clone();
        std::thread::Builder::new().name("watcher".into()).spawn(move || watch_sonde_threads(&w)).expect("watcher")
    };
    let handle = sched.map(|s| schedule(s).sink(LocalStore::new(dir).max_count(200)).start().expect("agent"));
    let cpu0 = process_cpu();
    let t = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().expect("worker");
    }
    let elapsed = t.elapsed().as_secs_f64();
    // Stopping the agent (a CPU window cut short, the last deliveries) is
    // part of its cost.
    drop(handle);
    let cpu = process_cpu() - cpu0;
    watching.store(true, Ordering::Relaxed);
    let sonde_ns = watcher.join().expect("watcher");
    let n = count.load(Ordering::Relaxed) as f64;
    (n / elapsed, cpu * 1e9 / n, sonde_ns)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn overhead(sched: &str, pairs: usize, secs: u64) {
    let dir = std::env::temp_dir().join(format!("sonde-bench-agent-{}", std::process::id()));
    // The first profiles of a process load the symbolizer's tables (once per
    // process): a round of its own, reported apart.
    let warm = round(secs, 2, Some(sched), &dir);
    println!("{sched}_first_round_sonde_cpu_ms {:.1}", warm.2 as f64 / 1e6);
    let (mut ratios, mut cpu_ratios, mut shares) = (Vec::new(), Vec::new(), Vec::new());
    for p in 0..pairs {
        let (off, on) = if p % 2 == 0 {
            let off = round(secs, 2, None, &dir);
            (off, round(secs, 2, Some(sched), &dir))
        } else {
            let on = round(secs, 2, Some(sched), &dir);
            (round(secs, 2, None, &dir), on)
        };
        ratios.push(on.0 / off.0);
        cpu_ratios.push(on.1 / off.1);
        // sonde's threads' CPU as a share of the two cores the service keeps busy.
        shares.push(on.2 as f64 / (secs as f64 * 2e9));
        eprintln!(
            "pair {p}: req/s off {:.0} on {:.0} ({:.4}); CPU ns/req off {:.0} on {:.0} ({:.4}); sonde threads {:.3}% of 2 cores",
            off.0,
            on.0,
            on.0 / off.0,
            off.1,
            on.1,
            on.1 / off.1,
            100.0 * on.2 as f64 / (secs as f64 * 2e9)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!("{sched}_throughput_ratio {:.4}", median(ratios));
    println!("{sched}_cpu_per_request_ratio {:.4}", median(cpu_ratios));
    println!("{sched}_sonde_threads_pct_of_2_cores {:.4}", 100.0 * median(shares));
}

/// A profile of `n` stacks over a pool of 400 functions, values from `seed`.
fn synthetic(kind: &str, seed: u64, n: usize, time: i64) -> Profile {
    let mut p = Profile::default();
    let types: &[(&str, &str)] = match kind {
        "cpu" => &[("samples", "count"), ("cpu", "nanoseconds")],
        "heap" | "allocs" => &[("alloc_objects", "count"), ("alloc_space", "bytes"), ("inuse_objects", "count"), ("inuse_space", "bytes")],
        _ => &[("goroutine", "count")],
    };
    p.sample_types = types.iter().map(|(t, u)| ValueType::new(t, u)).collect();
    for f in 0..400u32 {
        p.functions.push(Function { name: format!("service::module{}::function_{f}", f % 17).into(), filename: format!("src/module{}.rs", f % 17).into(), ..Default::default() });
        p.locations.push(Location { address: 0x1000 + u64::from(f) * 16, lines: vec![Line { function: f, line: i64::from(f % 300), ..Default::default() }], ..Default::default() });
    }
    let mut x = seed | 1;
    for _ in 0..n {
        let mut stack = Vec::new();
        for _ in 0..12 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            stack.push((x % 400) as u32);
        }
        let values = (0..types.len()).map(|i| ((x >> (i * 8)) % 10_000) as i64 + 1).collect();
        p.samples.push(Sample { locations: stack, values, ..Default::default() });
    }
    p.time_nanos = time;
    if kind == "cpu" || kind == "allocs" {
        p.duration_nanos = 10_000_000_000;
        p.time_nanos = time - p.duration_nanos;
    }
    p
}

fn fill_store(dir: &str, n: usize) {
    let mut s = Store::open(dir).expect("store");
    let labels = BTreeMap::from([("service_name".to_string(), "bench".to_string())]);
    let now = store::now_nanos();
    let minutes = n / 4;
    let mut written = 0;
    for m in 0..minutes {
        let t = now - (minutes - m) as i64 * 60_000_000_000;
        for kind in ["cpu", "heap", "goroutine", "allocs"] {
            let p = synthetic(kind, (m * 4 + written) as u64, 300, t);
            s.write(kind, &p, matches!(kind, "heap" | "goroutine"), &labels, &Retention::default()).expect("write");
            written += 1;
        }
    }
    let bytes: u64 = s.entries().iter().map(|e| e.bytes).sum();
    println!("store_profiles {}", s.entries().len());
    println!("store_bytes {bytes}");
}

/// One process of a side-by-side pair (bench/agent.sh starts two at once,
/// one with the agent, one without, so that both meet the same load from
/// the rest of the machine): one worker for `secs`; prints requests/s and
/// CPU ns per request.
fn side(sched: &str, secs: u64) {
    let dir = std::env::temp_dir().join(format!("sonde-bench-agent-{}", std::process::id()));
    let (rps, ns, _) = round(secs, 1, (sched != "none").then_some(sched), &dir);
    let _ = std::fs::remove_dir_all(&dir);
    println!("{rps:.1} {ns:.1}");
}

/// Reads and decodes every profile in DIR: what listing a store without an
/// index would take. Prints the count and the seconds.
fn decode_all(dir: &str) {
    let t = Instant::now();
    let mut n = 0;
    for e in std::fs::read_dir(dir).expect("dir").flatten() {
        if e.file_name().to_string_lossy().ends_with(".pb.gz") {
            let data = std::fs::read(e.path()).expect("read");
            std::hint::black_box(Profile::parse(&data).expect("profile"));
            n += 1;
        }
    }
    println!("decode_all_files {n}");
    println!("decode_all_secs {:.3}", t.elapsed().as_secs_f64());
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("overhead") => overhead(&args[1], args[2].parse().expect("pairs"), args[3].parse().expect("secs")),
        Some("decode-all") => decode_all(&args[1]),
        Some("side") => side(&args[1], args[2].parse().expect("secs")),
        Some("store") => fill_store(&args[1], args[2].parse().expect("count")),
        _ => eprintln!("usage: sonde-bench-agent overhead seed|aggressive PAIRS ROUND_SECS | store DIR N"),
    }
}
