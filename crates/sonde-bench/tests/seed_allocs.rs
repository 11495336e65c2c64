//! The seed benchmarks' `B/op` and `allocs/op` equal what the code really
//! allocates, counted exactly around one call; and the harness's other
//! promises: sub-benchmark names, `--benchtime Nx`, failures that do not stop
//! the others, JSON lines, clear errors.

#[path = "../benches/workloads/benchmarks.rs"]
mod benchmarks;
mod common;
#[path = "../benches/workloads/mod.rs"]
mod workloads;

use std::alloc::System;

use benchmarks::*;
use sonde_bench::{B, Benchmark, black_box};

#[global_allocator]
static ALLOC: sonde::heap::Sampled<System> = sonde::heap::Sampled::new(System);

fn run(benches: &[Benchmark], args: &[&str]) -> (i32, String) {
    common::run("seed", benches, args)
}

/// (B/op, allocs/op) of one call, from the exact counters.
fn exact(f: impl FnOnce()) -> (u64, u64) {
    let before = sonde::heap::thread_stats();
    f();
    let d = sonde::heap::thread_stats().since(&before);
    (d.bytes_allocated, d.allocs)
}

/// (B/op, allocs/op) columns of a result line.
fn mem_columns(text: &str, name: &str) -> (u64, u64) {
    let line = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"));
    let fields: Vec<&str> = line.split_whitespace().collect();
    let before = |unit: &str| -> u64 {
        let i = fields
            .iter()
            .position(|f| *f == unit)
            .unwrap_or_else(|| panic!("no {unit}: {line}"));
        fields[i - 1].parse().unwrap()
    };
    (before("B/op"), before("allocs/op"))
}

#[test]
fn allocs_per_op_are_exact() {
    let benches = [
        Benchmark::new("concat_plus", concat_plus),
        Benchmark::new("concat_builder", concat_builder),
        Benchmark::new("concat_builder_prealloc", concat_builder_prealloc),
        Benchmark::new("slice_without_prealloc", slice_without_prealloc),
        Benchmark::new("slice_with_prealloc", slice_with_prealloc),
        Benchmark::new("fibonacci_20", fibonacci_20),
    ];
    let (code, text) = run(&benches, &["--benchmem", "--benchtime", "20x", "--cpu", "1"]);
    assert_eq!(code, 0, "{text}");
    let want = [
        ("BenchmarkConcatPlus", exact(|| drop(workloads::concat_plus(1000)))),
        (
            "BenchmarkConcatBuilder",
            exact(|| drop(workloads::concat_builder(1000))),
        ),
        (
            "BenchmarkConcatBuilderPrealloc",
            exact(|| drop(workloads::concat_builder_prealloc(1000))),
        ),
        (
            "BenchmarkSliceWithoutPrealloc",
            exact(|| drop(workloads::slice_without_prealloc(1000))),
        ),
        (
            "BenchmarkSliceWithPrealloc",
            exact(|| drop(workloads::slice_with_prealloc(1000))),
        ),
        ("BenchmarkFibonacci20", (0, 0)),
    ];
    for (name, counted) in want {
        assert_eq!(mem_columns(&text, name), counted, "{name}\n{text}");
    }
    // The counts themselves, as the article explains them: one allocation with
    // the capacity reserved, ten growth steps (1000 = 4·2^8 … ) without.
    assert_eq!(want[4].1, (8000, 1));
    assert_eq!(want[2].1, (1000, 1));
    assert!(want[3].1.1 > 5, "{:?}", want[3].1);
    // With 20x: the iterations column says 20.
    assert!(
        text.lines()
            .any(|l| l.starts_with("BenchmarkFibonacci20 ") && l.contains("\t      20\t")),
        "{text}"
    );
}

fn panics(b: &mut B) {
    if b.n() > 0 {
        panic!("index out of range");
    }
}

fn with_metrics(b: &mut B) {
    b.set_bytes(1024);
    b.report_allocs();
    let data = vec![1u8; 1024];
    b.iter(|| black_box(&data).iter().map(|&x| x as u64).sum::<u64>());
    b.report_metric(2.5, "widgets/op");
}

#[test]
fn names_failures_metrics_and_json() {
    let benches = [
        Benchmark::new("processing", processing),
        Benchmark::new("panics", panics),
        Benchmark::new("with_metrics", with_metrics),
        Benchmark::new("parallel", parallel),
    ];
    let (code, text) = run(&benches, &["--benchtime", "50ms", "--cpu", "1,2"]);
    assert_eq!(code, 1, "a panic fails the run\n{text}");
    assert!(text.starts_with("goos: "), "{text}");
    for name in [
        "BenchmarkProcessing/Size10 ",
        "BenchmarkProcessing/Size10-2 ",
        "BenchmarkProcessing/Size1000-2 ",
        "BenchmarkWithMetrics ",
        "BenchmarkParallel-2 ",
    ] {
        assert!(text.lines().any(|l| l.starts_with(name)), "{name}\n{text}");
    }
    assert!(
        !text.lines().any(|l| l.starts_with("BenchmarkProcessing ")),
        "a parent with subs is not reported"
    );
    assert!(
        text.contains("--- FAIL: BenchmarkPanics\n    panic: index out of range\n"),
        "{text}"
    );
    let metrics = text.lines().find(|l| l.starts_with("BenchmarkWithMetrics ")).unwrap();
    assert!(
        metrics.contains(" MB/s\t") && metrics.contains(" widgets/op\t") && metrics.contains(" allocs/op"),
        "{metrics}"
    );
    assert!(text.ends_with("s\n") && text.contains("\nFAIL\nFAIL\tseed\t"), "{text}");

    let (code, json) = run(&benches[2..3], &["--json", "--benchtime", "20ms"]);
    assert_eq!(code, 0);
    let line = json.lines().next().unwrap();
    assert!(
        line.starts_with("{\"name\":\"BenchmarkWithMetrics") && line.contains("\"metrics\":{\"widgets/op\":2.5}"),
        "{json}"
    );
    assert_eq!(json.lines().count(), 1, "JSON only: {json}");
    let (code, json) = run(&benches[1..2], &["--json"]);
    assert_eq!(code, 1);
    assert_eq!(
        json,
        "{\"name\":\"BenchmarkPanics\",\"failed\":\"panic: index out of range\"}\n"
    );

    let (code, list) = run(&benches, &["--list", "Proc|Par"]);
    assert_eq!((code, list.as_str()), (0, "BenchmarkProcessing\nBenchmarkParallel\n"));
}

#[test]
fn bad_flags_and_paths_are_refused_before_running() {
    let benches = [Benchmark::new("fibonacci_20", fibonacci_20)];
    let (code, text) = run(&benches, &["--benchtime", "fast"]);
    assert_eq!(code, 2);
    assert!(text.contains("--benchtime \"fast\": want a duration"), "{text}");
    let (code, text) = run(&benches, &["--frobnicate"]);
    assert_eq!(code, 2);
    assert!(
        text.contains("unknown flag \"--frobnicate\"") && text.contains("--benchmem"),
        "{text}"
    );
    let (code, text) = run(&benches, &["--cpuprofile", "/nonexistent-dir/cpu.pb.gz"]);
    assert_eq!(code, 2);
    if cfg!(feature = "profiles") {
        assert!(text.contains("cannot write /nonexistent-dir/cpu.pb.gz"), "{text}");
    } else {
        assert!(
            text.contains("--cpuprofile needs sonde-bench's `profiles` feature"),
            "{text}"
        );
    }
    assert!(!text.contains("BenchmarkFibonacci20"), "nothing ran: {text}");
    // Asking for help is not a failure (cargo would say "bench failed").
    let (code, text) = run(&benches, &["--help"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("--benchtime") && !text.contains("BenchmarkFibonacci20"),
        "{text}"
    );
}

/// `--cpuprofile` and `--memprofile` write pprof files whose samples are the
/// benchmarks', not the harness's.
#[cfg(feature = "profiles")]
#[test]
fn profiles_cover_the_benchmarked_code() {
    let dir = std::env::temp_dir().join(format!("sonde-bench-profiles-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (cpu, mem) = (dir.join("cpu.pb.gz"), dir.join("mem.pb.gz"));
    let benches = [
        Benchmark::new("fibonacci_20", fibonacci_20),
        Benchmark::new("concat_plus", concat_plus),
    ];
    let (code, text) = run(
        &benches,
        &[
            // Long enough that Fibonacci gets CPU samples when the machine is
            // busy: at 100 Hz, signals can come 20-100 ms of CPU apart then.
            "--benchtime",
            "1s",
            "--cpuprofile",
            cpu.to_str().unwrap(),
            "--memprofile",
            mem.to_str().unwrap(),
        ],
    );
    assert_eq!(code, 0, "{text}");
    let read =
        |p: &std::path::Path| sonde_profile::Profile::parse(&std::fs::read(p).unwrap()).expect("a valid profile");
    let names =
        |p: &sonde_profile::Profile| -> Vec<String> { p.functions.iter().map(|f| f.name.to_string()).collect() };
    let c = read(&cpu);
    assert!(!c.samples.is_empty());
    assert!(names(&c).iter().any(|n| n.contains("fibonacci")), "{:?}", names(&c));
    let m = read(&mem);
    assert!(names(&m).iter().any(|n| n.contains("concat_plus")), "{:?}", names(&m));
    // Only samples under the benchmark bodies, each a whole stack from the
    // body down, and nothing of the harness above what the body called.
    for p in [&c, &m] {
        for s in &p.samples {
            let frames: Vec<&str> = s
                .locations
                .iter()
                .flat_map(|&l| &p.locations[l as usize].lines)
                .map(|line| &*p.functions[line.function as usize].name)
                .collect();
            let root = frames.last().copied().unwrap_or_default();
            assert!(
                root.ends_with("benchmark_body"),
                "a stack not rooted at the body: {frames:?}"
            );
            // The harness's frames only where the body called it (`b.iter`,
            // `b.reset_timer`, whose snapshot a sample may catch, as Go's
            // profiles show `testing.(*B).ResetTimer`).
            let to_body_calls: Vec<&str> = frames
                .iter()
                .rev()
                .take_while(|f| !f.contains("bencher::B::"))
                .copied()
                .collect();
            assert!(
                !to_body_calls
                    .iter()
                    .any(|f| f.contains("stats::") || f.contains("Session::measure")),
                "harness frames in a sample: {frames:?}"
            );
        }
    }
    // The allocation sites are named (stacks were not cut before them).
    let sites = m.samples.iter().filter(|s| s.locations.len() > 2).count();
    assert_eq!(sites, m.samples.len(), "samples without the benchmark's frames");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_empty_benchmark_is_under_a_nanosecond() {
    fn empty(b: &mut B) {
        b.iter(|| ());
    }
    // Debug builds run the loop unoptimized: only check in release.
    if cfg!(debug_assertions) {
        return;
    }
    let (_, text) = run(
        &[Benchmark::new("empty", empty)],
        &["--benchtime", "200ms", "--cpu", "1"],
    );
    let line = text.lines().find(|l| l.starts_with("BenchmarkEmpty")).unwrap();
    let ns: f64 = line
        .split('\t')
        .nth(2)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(ns < 1.0, "{line}");
}

static RATE_SEEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(u64::MAX);

fn sees_the_rate(b: &mut B) {
    RATE_SEEN.store(sonde::heap::sample_rate(), std::sync::atomic::Ordering::Relaxed);
    b.iter(|| black_box(1));
}

/// Benchmarks run with heap sampling off (counters only), also when the build
/// turned sonde's profilers on (CI runs this with `--features sonde/profilers`),
/// since a sample costs about a microsecond.
#[test]
fn benchmarks_run_with_heap_sampling_off() {
    let (code, text) = run(
        &[Benchmark::new("BenchmarkRate", sees_the_rate)],
        &["--benchtime", "10x"],
    );
    assert_eq!(code, 0, "{text}");
    assert_eq!(RATE_SEEN.load(std::sync::atomic::Ordering::Relaxed), 0);
}

/// Under `cargo test` (no harness flag) each benchmark runs once and reports
/// like libtest; a panic fails it and the run, the others still run.
#[test]
fn cargo_test_checks_each_benchmark_once() {
    let (code, text) = run(
        &[
            Benchmark::new("BenchmarkFib20", fibonacci_20),
            Benchmark::new("BenchmarkPanics", panics),
            Benchmark::new("BenchmarkSub", processing),
        ],
        &["--nocapture"],
    );
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("test BenchmarkFib20-"), "{text}");
    assert!(text.contains("test BenchmarkPanics ... FAILED\n"), "{text}");
    assert!(text.contains("test BenchmarkSub/"), "{text}");
    assert!(text.contains("test result: FAILED. "), "{text}");
    assert!(!text.contains("ns/op"), "nothing is measured: {text}");
}
