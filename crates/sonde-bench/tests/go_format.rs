//! sonde-bench's output against a real `go test -bench . -benchmem` run of the
//! same benchmarks (tests/go/bench): the same header keys, names, name-column
//! widths and units; every column Go printed re-rendered from its numbers
//! byte for byte; and `sonde benchstat`'s reader takes both files.

use std::alloc::System;
use std::process::Command;

mod common;

use sonde_bench::benchfmt::Result as BenchResult;
use sonde_bench::{B, Benchmark, benchfmt, benchstat, black_box};

#[global_allocator]
static ALLOC: sonde::heap::Sampled<System> = sonde::heap::Sampled::new(System);

fn fib(n: u32) -> u64 {
    if n < 2 { n as u64 } else { fib(n - 1) + fib(n - 2) }
}

fn fib10(b: &mut B) {
    b.iter(|| fib(black_box(10)));
}
fn bytes(b: &mut B) {
    let src = vec![1u8; 1024];
    let mut dst = vec![0u8; 1024];
    b.set_bytes(1024);
    b.iter(|| dst.copy_from_slice(black_box(&src)));
}
fn metric(b: &mut B) {
    b.iter(|| fib(black_box(5)));
    b.report_metric(2.5, "widgets/op");
}
fn alloc(b: &mut B) {
    b.iter(|| Box::new([0u8; 64]));
}
fn sub(b: &mut B) {
    b.run("a_rather_long_sub_benchmark_name", |b| b.iter(|| fib(black_box(3))));
    b.run("x", |b| b.iter(|| fib(black_box(12))));
}
fn empty(b: &mut B) {
    b.iter(|| ());
}

fn go_output() -> Option<String> {
    if !sonde_test_support::GO.available("output_matches_go_test_bench") {
        return None;
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/go");
    let o = Command::new("go")
        .args([
            "test",
            "-run",
            "^$",
            "-bench",
            ".",
            "-benchmem",
            "-benchtime",
            "100x",
            "-cpu",
            "1,2",
            "./bench",
        ])
        .current_dir(dir)
        .env("GOFLAGS", "-mod=mod")
        .output()
        .expect("run go test");
    assert!(
        o.status.success(),
        "go test failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(String::from_utf8(o.stdout).expect("utf-8"))
}

/// Result lines as (name, text after the name's padding, padded width).
fn result_lines(text: &str) -> Vec<(String, String, usize)> {
    text.lines()
        .filter(|l| l.starts_with("Benchmark"))
        .map(|l| {
            let tab = l.find('\t').expect("a tab after the name");
            (l[..tab].trim_end().to_string(), l[tab + 1..].to_string(), tab)
        })
        .collect()
}

/// Rebuilds a result from the numbers Go printed.
fn from_go(name: &str, columns: &str) -> BenchResult {
    let fields: Vec<&str> = columns.split_whitespace().collect();
    BenchResult {
        name: name.strip_prefix("Benchmark").expect("a Go name").to_string(),
        iterations: fields[0].parse().unwrap(),
        values: fields[1..]
            .chunks(2)
            .map(|pair| (pair[1].to_string(), pair[0].parse().unwrap()))
            .collect(),
        ..BenchResult::default()
    }
}

fn units(columns: &str) -> Vec<String> {
    let f: Vec<&str> = columns.split_whitespace().collect();
    f[1..].chunks(2).map(|p| p[1].to_string()).collect()
}

#[test]
fn output_matches_go_test_bench() {
    let Some(go) = go_output() else { return };
    let benches = [
        Benchmark::new("BenchmarkFib10", fib10),
        Benchmark::new("BenchmarkBytes", bytes),
        Benchmark::new("BenchmarkMetric", metric),
        Benchmark::new("BenchmarkAlloc", alloc),
        Benchmark::new("BenchmarkSub", sub),
        Benchmark::new("BenchmarkEmpty", empty),
    ];
    let (code, ours) = common::run(
        "sonde.dev/fixtures/bench",
        &benches,
        &["--bench", ".", "--benchmem", "--benchtime", "100x", "--cpu", "1,2"],
    );
    assert_eq!(code, 0, "{ours}");

    // Header: the same keys in the same order, and the same values but pkg.
    let header = |t: &str| -> Vec<String> {
        t.lines()
            .take_while(|l| !l.starts_with("Benchmark"))
            .map(String::from)
            .collect()
    };
    assert_eq!(header(&ours), header(&go), "header\n{ours}\n{go}");

    let (g, o) = (result_lines(&go), result_lines(&ours));
    let names = |v: &[(String, String, usize)]| v.iter().map(|x| x.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&o), names(&g), "names and order");
    for ((name, go_cols, go_width), (_, our_cols, our_width)) in g.iter().zip(&o) {
        assert_eq!(our_width, go_width, "name column width of {name}\n{ours}\n{go}");
        // Go's numbers through sonde's formatting give Go's text exactly.
        assert_eq!(&from_go(name, go_cols).columns(), go_cols, "{name}");
        assert_eq!(units(our_cols), units(go_cols), "units of {name}");
        assert_eq!(
            our_cols.split('\t').next(),
            Some("     100"),
            "iterations column of {name}"
        );
    }
    // The same allocations per operation where Rust and Go allocate alike.
    let alloc_line = |v: &[(String, String, usize)]| v.iter().find(|x| x.0 == "BenchmarkAlloc").unwrap().1.clone();
    assert!(
        alloc_line(&o).ends_with("      64 B/op\t       1 allocs/op"),
        "{}",
        alloc_line(&o)
    );
    assert!(
        ours.ends_with("s\n") && ours.contains("\nPASS\nok  \tsonde.dev/fixtures/bench\t"),
        "{ours}"
    );

    // benchstat reads both, and compares them.
    let (gp, op) = (benchfmt::parse(&go), benchfmt::parse(&ours));
    assert_eq!(gp.records.len(), 14);
    assert_eq!(op.records.len(), 14);
    assert!(gp.skipped.is_empty() && op.skipped.is_empty());
    let c = benchstat::compare(
        &[("go.txt".into(), gp), ("sonde.txt".into(), op)],
        &benchstat::Options::default(),
    )
    .expect("compare");
    assert!(c.text.contains("Sub/a_rather_long_sub_benchmark_name-2"), "{}", c.text);
    assert!(c.text.contains("widgets/op") && c.text.contains("B/s"), "{}", c.text);
}
