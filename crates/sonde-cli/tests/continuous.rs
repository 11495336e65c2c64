//! The seed's `ContinuousProfiler` (Pattern 2) with a short interval: a sonde
//! agent takes 1 s CPU windows every 2 s, and the heap, the threads and the
//! allocations every 2 s, for 20 s, into a local store, while this process
//! runs a small workload with a planted heap leak. Then the CLI reads the
//! store as a user would: `sonde store ls`, `sonde growth` (which must name the
//! leaking function first), `sonde top --store … --base-from … --from …`
//! (which must show the growth at that function), and a CPU window.

mod common;

use std::alloc::System;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use sonde::agent::{self, LocalStore};
use sonde_profile::store;

#[global_allocator]
static ALLOC: sonde::heap::Sampled<System> = sonde::heap::Sampled::new(System);

/// Blocks kept forever: the leak.
static LEAKED: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());
/// A cache that stays the same size: not a leak.
static CACHE: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

const BLOCK: usize = 64 * 1024;

/// The planted leak: every request keeps a 64 KiB block.
#[inline(never)]
fn leaky_handler() {
    LEAKED.lock().expect("leak").push(vec![7u8; BLOCK]);
}

/// Replaces an entry of a bounded cache: allocates, holds a constant amount.
#[inline(never)]
fn bounded_cache(i: usize) {
    let mut c = CACHE.lock().expect("cache");
    if c.len() < 8 {
        c.push(vec![1u8; BLOCK]);
    } else {
        c[i % 8] = vec![2u8; BLOCK];
    }
}

/// CPU work for the CPU windows.
#[inline(never)]
fn busy_work(stop: &AtomicBool) -> u64 {
    let mut x = 1u64;
    while !stop.load(Ordering::Relaxed) {
        for i in 0..100_000u64 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(i);
        }
        std::hint::black_box(x);
    }
    x
}

/// A heap-like profile (sample types `types`, `*_space` in bytes) with one
/// stack, function `name`, holding `values`; snapshot `i` of a series a
/// minute apart.
fn one_site_profile(types: &[&str], name: &str, values: Vec<i64>, i: usize) -> sonde_profile::Profile {
    let unit = |t: &str| if t.ends_with("space") { "bytes" } else { "count" };
    let mut p = sonde_profile::Profile {
        sample_types: types
            .iter()
            .map(|t| sonde_profile::ValueType::new(t, unit(t)))
            .collect(),
        time_nanos: 1_764_500_000_000_000_000 + i as i64 * 60_000_000_000,
        ..Default::default()
    };
    p.functions.push(sonde_profile::Function {
        name: name.into(),
        ..Default::default()
    });
    p.locations.push(sonde_profile::Location {
        lines: vec![sonde_profile::Line {
            function: 0,
            ..Default::default()
        }],
        ..Default::default()
    });
    p.samples.push(sonde_profile::Sample {
        locations: vec![0],
        values,
        ..Default::default()
    });
    p
}

fn rows_of(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[test]
fn the_seed_continuous_profiler_finds_the_planted_leak() {
    // Blocks of 64 KiB and above are recorded exactly at this rate.
    sonde::heap::set_sample_rate(BLOCK as u64);
    let dir = TempDir::new("continuous");
    let store_dir = dir.path("profiles");
    let every = Duration::from_secs(2);
    let started = Instant::now();
    let agent = agent::builder("continuous-test")
        .version("1.2.3")
        .tag("region", "test")
        .cpu(Duration::from_secs(1), every)
        .every("heap", every)
        .every("goroutine", every)
        .every("allocs", every)
        .sink(LocalStore::new(&store_dir).max_count(1000))
        .start()
        .expect("the agent starts");

    let stop = AtomicBool::new(false);
    let leaked_blocks = std::thread::scope(|s| {
        s.spawn(|| busy_work(&stop));
        let mut n = 0;
        while started.elapsed() < Duration::from_secs(20) {
            leaky_handler();
            bounded_cache(n);
            n += 1;
            std::thread::sleep(Duration::from_millis(50));
        }
        stop.store(true, Ordering::Relaxed);
        n
    });
    let stats = agent.stop();
    let elapsed = started.elapsed();
    eprintln!("{stats:#?}");

    // Files appear on schedule, one per tick of each kind, with the right names.
    let entries = store::list(&store_dir).expect("the store");
    let ticks = (elapsed.as_secs_f64() / 2.0).floor() as usize;
    for (kind, file_kind) in [
        ("profile", "cpu"),
        ("heap", "heap"),
        ("goroutine", "goroutine"),
        ("allocs", "allocs"),
    ] {
        let of: Vec<&store::Entry> = entries.iter().filter(|e| e.kind == file_kind).collect();
        let collected = stats.collected.get(kind).copied().unwrap_or(0) as usize;
        assert_eq!(of.len(), collected, "{file_kind}: every collected profile is stored");
        // A tick may be lost to the stop, and a busy machine may delay the
        // agent's thread, but not by a whole interval per tick.
        assert!(
            of.len() + 2 >= ticks && of.len() <= ticks,
            "{file_kind}: {} files in {elapsed:?}",
            of.len()
        );
        for e in &of {
            assert!(
                e.file.starts_with(&format!("{file_kind}_")) && e.file.ends_with(".pb.gz"),
                "{}",
                e.file
            );
            assert_eq!(
                e.labels.get("service_name").map(String::as_str),
                Some("continuous-test")
            );
            assert_eq!(e.labels.get("version").map(String::as_str), Some("1.2.3"));
            assert_eq!(e.labels.get("region").map(String::as_str), Some("test"));
            assert_eq!(e.snapshot, matches!(file_kind, "heap" | "goroutine"), "{}", e.file);
        }
        // On schedule: the median gap between two is the interval.
        let mut gaps: Vec<i64> = of.windows(2).map(|w| w[1].end_nanos - w[0].end_nanos).collect();
        gaps.sort_unstable();
        let median = gaps[gaps.len() / 2] as f64 / 1e9;
        assert!((median - 2.0).abs() < 0.3, "{file_kind}: median gap {median} s");
    }
    let cpu: Vec<&store::Entry> = entries.iter().filter(|e| e.kind == "cpu").collect();
    for e in &cpu[..cpu.len() - 1] {
        let window = (e.end_nanos - e.start_nanos) as f64 / 1e9;
        // A 1 s window; stopping the profiler may add a little on a busy machine.
        assert!(
            (0.95..3.0).contains(&window),
            "{}: a 1 s window, not {window} s",
            e.file
        );
    }
    assert_eq!(stats.sinks[0].dropped, 0);

    // sonde store ls: the kinds, their counts and time ranges.
    let ls = sonde(&["store", "ls", &store_dir]);
    assert!(ls.status.success(), "{}", stderr(&ls));
    let text = stdout(&ls);
    for kind in ["allocs", "cpu", "goroutine", "heap"] {
        assert!(text.lines().any(|l| l.starts_with(kind)), "{text}");
    }

    // sonde growth names the leak first, growing at its real rate.
    let g = sonde(&["growth", "--store", &store_dir, "--kind", "heap"]);
    assert!(g.status.success(), "{}", stderr(&g));
    let text = stdout(&g);
    let first = rows_of(&text)
        .into_iter()
        .find(|l| l.contains("/h "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(first.ends_with("continuous::leaky_handler"), "the leak first:\n{text}");
    assert!(
        !text.contains("bounded_cache"),
        "a bounded cache does not grow steadily:\n{text}"
    );
    let json = sonde(&["growth", "--store", &store_dir, "--kind", "heap", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&json)).expect("json");
    let rate = v["rows"][0]["rate_per_hour"].as_f64().expect("rate");
    let real = (BLOCK * leaked_blocks) as f64 / elapsed.as_secs_f64() * 3600.0;
    assert!((rate / real - 1.0).abs() < 0.2, "fitted {rate} B/h, leaked {real} B/h");

    // Case Study 2 as windows: the heap of the first snapshot as the base, the
    // last as the profile: the growth is at the leak, and it is what the two
    // snapshots hold there.
    let heaps: Vec<&store::Entry> = entries.iter().filter(|e| e.kind == "heap").collect();
    // RFC 3339 to the second, as a user would paste it.
    let rfc = |nanos: i64| {
        jiff::Timestamp::from_nanosecond(i128::from(nanos))
            .expect("a time")
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string()
    };
    let (first, last) = (heaps[0], heaps[heaps.len() - 1]);
    let base_to = rfc(first.end_nanos + 1_000_000_000);
    let from = rfc(last.end_nanos);
    let top = sonde(&[
        "top",
        "--store",
        &store_dir,
        "--kind",
        "heap",
        "--base-to",
        &base_to,
        "--from",
        &from,
        "--unit",
        "B",
    ]);
    assert!(top.status.success(), "{}", stderr(&top));
    let text = stdout(&top);
    let row = text
        .lines()
        .find(|l| l.contains("leaky_handler"))
        .unwrap_or_else(|| panic!("{text}"));
    let grown: i64 = row
        .split_whitespace()
        .next()
        .and_then(|v| v.trim_end_matches('B').parse().ok())
        .expect(row);
    let want = last.total("inuse_space").expect("inuse") - first.total("inuse_space").expect("inuse");
    // The leak's blocks and the growth of the vector that keeps them.
    assert!(
        (grown as f64 / want as f64 - 1.0).abs() < 0.1,
        "{row}: the heap grew {want} B"
    );
    assert!(stderr(&top).contains("base: "), "{}", stderr(&top));

    // The CPU windows merged: the busy loop on top.
    let cpu_top = sonde(&["top", "--store", &store_dir, "--kind", "cpu", "--from", "-1h"]);
    assert!(cpu_top.status.success(), "{}", stderr(&cpu_top));
    let text = stdout(&cpu_top);
    let row = text
        .lines()
        .find(|l| l.ends_with("continuous::busy_work"))
        .unwrap_or_else(|| panic!("{text}"));
    let cum_pct: f64 = row
        .split_whitespace()
        .nth(4)
        .and_then(|p| p.trim_end_matches('%').parse().ok())
        .expect(row);
    assert!(cum_pct > 90.0, "the busy loop holds the CPU windows:\n{text}");

    // A window the stop cuts before its first sample is not stored: agents
    // stopped around the start of their first 50 ms window (due 100 ms after
    // each starts), in this process with nothing left to run.
    let cut_dir = dir.path("cut");
    let mut delivered = 0;
    for k in 0..12 {
        let agent = agent::builder("cut")
            .cpu(Duration::from_millis(50), Duration::from_millis(100))
            .sink(LocalStore::new(&cut_dir))
            .start()
            .expect("the agent starts");
        std::thread::sleep(Duration::from_millis(96 + k));
        delivered += agent.stop().collected.get("profile").copied().unwrap_or(0);
    }
    let cut = if std::path::Path::new(&cut_dir).exists() {
        store::list(&cut_dir).expect("the store")
    } else {
        Vec::new()
    };
    assert_eq!(cut.len() as u64, delivered, "every delivered window is stored");
    for e in &cut {
        let data = std::fs::read(std::path::Path::new(&cut_dir).join(&e.file)).expect("a stored window");
        let p = sonde_profile::Profile::parse(&data).expect("a profile");
        assert!(
            !p.samples.is_empty() || p.duration_nanos >= 50_000_000,
            "{}: a window cut after {} ns with no sample was stored",
            e.file,
            p.duration_nanos
        );
    }
}

#[test]
fn store_errors_say_what_to_do() {
    let dir = TempDir::new("store-errors");
    let o = sonde(&["store", "ls", &dir.0.to_string_lossy()]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("is not a sonde profile store"), "{}", stderr(&o));
    let o = sonde(&["top", "--store", &dir.path("nope"), "--kind", "heap"]);
    assert!(stderr(&o).contains("nope"), "{}", stderr(&o));
    std::fs::write(dir.path("index.jsonl"), "").expect("an empty store");
    let o = sonde(&["top", "--store", &dir.0.to_string_lossy()]);
    assert!(stderr(&o).contains("holds no profiles yet"), "{}", stderr(&o));
    let o = sonde(&[
        "top",
        "--store",
        &dir.0.to_string_lossy(),
        "--kind",
        "heap",
        "--from",
        "yesterday",
    ]);
    assert!(stderr(&o).contains("RFC 3339"), "{}", stderr(&o));

    // A small store of two heap snapshots, then what users get wrong.
    let small = dir.path("small");
    let mut st = store::Store::open(&small).expect("store");
    for (i, bytes) in [1000i64, 5000].into_iter().enumerate() {
        let types = ["alloc_objects", "alloc_space", "inuse_objects", "inuse_space"];
        let p = one_site_profile(&types, "app::grow", vec![1, bytes, 1, bytes], i);
        st.write("heap", &p, true, &Default::default(), &store::Retention::default())
            .expect("write");
    }
    let err = |args: &[&str]| {
        let o = sonde(args);
        assert!(!o.status.success(), "{args:?} succeeded");
        stderr(&o)
    };
    let e = err(&["top", "--store", &small, "--kind", "heap", "--base-from", "-1000d"]);
    assert!(e.contains("read the same profile"), "{e}");
    let e = err(&[
        "top", "--store", &small, "--kind", "heap", "--from", "-1s", "--to", "-1h",
    ]);
    assert!(e.contains("is after --to"), "{e}");
    let e = err(&["growth", "--store", &small, "--sample-index", "alloc_space"]);
    assert!(e.contains("only ever grows"), "{e}");
    let e = err(&[
        "top",
        "--store",
        &small,
        "--kind",
        "heap",
        "--to",
        "1600-01-01T00:00:00Z",
    ]);
    assert!(e.contains("outside the times profiles hold"), "{e}");
    let o = sonde(&["store", "ls", &small, "--kind", "cpu"]);
    assert!(
        stdout(&o).contains("no profiles match; it holds 2 profiles of kinds heap"),
        "{}",
        stdout(&o)
    );
    let o = sonde(&[
        "top",
        "--store",
        &small,
        "--kind",
        "heap",
        "--base-to",
        "2025-11-30T10:54:00Z",
        "--unit",
        "B",
    ]);
    assert!(
        stdout(&o).contains("4000B"),
        "the growth between the two: {}{}",
        stdout(&o),
        stderr(&o)
    );
    // Junk in the index: what is readable is listed, and the reader is told.
    let index = std::path::Path::new(&small).join("index.jsonl");
    let text = std::fs::read_to_string(&index).expect("index");
    std::fs::write(&index, format!("\u{1}junk\n{text}")).expect("junk");
    let o = sonde(&["store", "ls", &small]);
    assert!(stdout(&o).contains("heap"), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("1 line(s) of its index could not be read"),
        "{}",
        stderr(&o)
    );

    // Two runs of a leaking program: growth fits the last run, and says so.
    let runs = dir.path("runs");
    let mut st = store::Store::open(&runs).expect("store");
    for (i, (run, bytes)) in [
        ("1@a", 1_000_000i64),
        ("1@a", 2_000_000),
        ("1@a", 3_000_000),
        ("2@b", 100_000),
        ("2@b", 1_100_000),
        ("2@b", 2_100_000),
    ]
    .into_iter()
    .enumerate()
    {
        let p = one_site_profile(&["inuse_space"], "app::leak", vec![bytes], i);
        let labels = std::collections::BTreeMap::from([("process".to_string(), run.to_string())]);
        st.write("heap", &p, true, &labels, &store::Retention::default())
            .expect("write");
    }
    let o = sonde(&["growth", "--store", &runs]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("the program restarted at"), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("3 snapshots") && stdout(&o).contains("app::leak"),
        "{}",
        stdout(&o)
    );
}
