//! `go tool pprof` is the oracle: on the same profile and options, sonde must print
//! the same report, and `go tool pprof` must read what sonde writes.
//!
//! Needs the Go toolchain; where `go` is absent each test says so and returns
//! (CI installs it).

mod common;

use common::*;

/// Runs both tools and requires byte-identical standard output.
fn same(go_args: &[&str], sonde_args: &[&str]) {
    let g = go_pprof(go_args);
    assert!(g.status.success(), "go tool pprof {go_args:?} failed: {}", stderr(&g));
    let s = sonde(sonde_args);
    assert!(s.status.success(), "sonde {sonde_args:?} failed: {}", stderr(&s));
    let (gs, ss) = (stdout(&g), stdout(&s));
    if gs != ss {
        let diff: Vec<String> = gs
            .lines()
            .zip(ss.lines())
            .filter(|(a, b)| a != b)
            .take(5)
            .map(|(a, b)| format!("  go:    {a}\n  sonde: {b}"))
            .collect();
        panic!(
            "sonde {sonde_args:?} differs from go tool pprof {go_args:?} ({} vs {} lines):\n{}\n--- go ---\n{gs}\n--- sonde ---\n{ss}",
            gs.lines().count(),
            ss.lines().count(),
            diff.join("\n")
        );
    }
}

const GO_FIXTURES: &[&str] = &[
    "cpu.pb.gz",
    "heap.pb.gz",
    "allocs.pb.gz",
    "goroutine.pb.gz",
    "mutex.pb.gz",
    "block.pb.gz",
    "heap_before.pb.gz",
    "heap_after.pb.gz",
];

const OTHER_PRODUCERS: &[&str] = &[
    "google-pprof/report/sample.cpu",
    "google-pprof/proftest/large.cpu",
    "google-pprof/driver/go.nomappings.crash",
    "google-pprof/driver/cppbench.cpu_no_samples_type",
];

#[test]
fn top_traces_tree_raw_match_go_on_every_fixture() {
    if !go_available("top_traces_tree_raw_match_go_on_every_fixture") {
        return;
    }
    for f in GO_FIXTURES.iter().chain(OTHER_PRODUCERS) {
        let p = data(f);
        for cmd in ["top", "traces", "tree", "raw", "tags"] {
            same(&[&format!("-{cmd}"), &p], &[cmd, &p]);
        }
    }
}

#[test]
fn sample_index_granularity_and_sort_match_go() {
    if !go_available("sample_index_granularity_and_sort_match_go") {
        return;
    }
    let heap = data("heap.pb.gz");
    for si in ["alloc_space", "alloc_objects", "inuse_objects", "inuse_space", "0", "3"] {
        same(
            &[&format!("-sample_index={si}"), "-top", &heap],
            &["top", "--sample-index", si, &heap],
        );
    }
    for f in ["cpu.pb.gz", "heap.pb.gz", "mutex.pb.gz"] {
        let p = data(f);
        for g in ["functions", "filefunctions", "files", "lines", "addresses"] {
            same(&["-top", &format!("-{g}"), &p], &["top", &format!("--{g}"), &p]);
        }
        same(&["-top", "-noinlines", &p], &["top", "--noinlines", &p]);
        same(&["-top", "-cum", &p], &["top", "--cum", &p]);
        same(&["-top", "-nodecount=3", &p], &["top", "--nodecount", "3", &p]);
        same(
            &["-top", "-nodefraction=0.2", &p],
            &["top", "--nodefraction", "0.2", &p],
        );
        same(&["-top", "-unit=ms", &p], &["top", "--unit", "ms", &p]);
    }
    let mutex = data("mutex.pb.gz");
    same(
        &["-top", "-sample_index=contentions", &mutex],
        &["top", "--sample-index=contentions", &mutex],
    );
    same(
        &["-top", "-mean", "-sample_index=delay", &mutex],
        &["top", "--mean", "--sample-index=delay", &mutex],
    );
}

#[test]
fn filters_match_go() {
    if !go_available("filters_match_go") {
        return;
    }
    let cpu = data("cpu.pb.gz");
    let heap = data("heap.pb.gz");
    let goroutine = data("goroutine.pb.gz");
    let cases: &[(&str, &str, &str)] = &[
        ("focus", "fibonacci", "cpu"),
        ("ignore", "fibonacci", "cpu"),
        ("hide", "runtime", "cpu"),
        ("show", "main\\.", "cpu"),
        ("show_from", "main.main", "cpu"),
        ("prune_from", "runtime/pprof.Do", "cpu"),
        ("tagfocus", "phase=fib", "cpu"),
        ("tagignore", "expensive", "cpu"),
        ("tagfocus", "pool=jobs", "goroutine"),
        ("tagfocus", "1kb:", "heap"),
        ("tagfocus", ":200", "heap"),
        ("focus", "createMemory|cacheEntries", "heap"),
        ("focus", "nothing-matches-this", "heap"),
    ];
    for (opt, val, which) in cases {
        let p = match *which {
            "cpu" => &cpu,
            "heap" => &heap,
            _ => &goroutine,
        };
        let sonde_opt = format!("--{}={val}", opt.replace('_', "-"));
        same(&["-top", &format!("-{opt}={val}"), p], &["top", &sonde_opt, p]);
    }
    same(
        &["-top", "-focus=main", "-relative_percentages", &cpu],
        &["top", "--focus=main", "--relative-percentages", &cpu],
    );
    same(
        &["-peek=main.main|fibonacci", &cpu],
        &["peek", "main.main|fibonacci", &cpu],
    );
    same(&["-peek=.", &heap], &["peek", ".", &heap]);
    same(
        &["-traces", "-tagfocus=phase=fib", &cpu],
        &["traces", "--tagfocus=phase=fib", &cpu],
    );
}

#[test]
fn base_diff_base_and_multiple_sources_match_go() {
    if !go_available("base_diff_base_and_multiple_sources_match_go") {
        return;
    }
    let (before, after) = (data("heap_before.pb.gz"), data("heap_after.pb.gz"));
    same(&["-top", "-base", &before, &after], &["top", "--base", &before, &after]);
    same(
        &["-top", "-diff_base", &before, &after],
        &["top", "--diff-base", &before, &after],
    );
    same(&["-top", "-base", &after, &before], &["top", "--base", &after, &before]);
    same(
        &["-top", "-drop_negative", "-base", &after, &before],
        &["top", "--drop-negative", "--base", &after, &before],
    );
    same(
        &["-top", "-normalize", "-base", &before, &after],
        &["top", "--normalize", "--base", &before, &after],
    );
    same(
        &["-top", "-sample_index=alloc_space", "-base", &before, &after],
        &["diff", "--sample-index=alloc_space", "--base", &before, &after],
    );
    same(&["-top", &before, &after], &["top", &before, &after]);
    same(
        &["-traces", "-base", &before, &after],
        &["traces", "--base", &before, &after],
    );
}

#[test]
fn list_matches_go_with_source_path() {
    if !go_available("list_matches_go_with_source_path") {
        return;
    }
    let src = root().join("tests/go").to_string_lossy().into_owned();
    for (f, re) in [
        ("cpu.pb.gz", "main.expensive"),
        ("cpu.pb.gz", "fibonacci"),
        ("heap.pb.gz", "main\\."),
    ] {
        let p = data(f);
        same(
            &[
                &format!("-list={re}"),
                &format!("-source_path={src}"),
                "-trim_path=sonde.dev/fixtures",
                &p,
            ],
            &[
                "list",
                re,
                "--source-path",
                &src,
                "--trim-path",
                "sonde.dev/fixtures",
                &p,
            ],
        );
    }
}

/// The table rows of a `-top` report: (flat, cum, name).
fn rows(text: &str) -> Vec<(String, String, String)> {
    text.lines()
        .skip_while(|l| !l.trim_start().starts_with("flat"))
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() >= 6).then(|| (f[0].to_string(), f[3].to_string(), f[5..].join(" ")))
        })
        .collect()
}

#[test]
fn go_reads_what_sonde_writes() {
    if !go_available("go_reads_what_sonde_writes") {
        return;
    }
    let dir = TempDir::new("interop");
    let (heap, before, after, cpu) = (
        data("heap.pb.gz"),
        data("heap_before.pb.gz"),
        data("heap_after.pb.gz"),
        data("cpu.pb.gz"),
    );

    // merge: the written profile reads like Go's own in-memory merge of the inputs.
    let merged = dir.path("merged.pb.gz");
    let o = sonde(&["merge", "-o", &merged, &heap, &before]);
    assert!(o.status.success(), "{}", stderr(&o));
    let want = stdout(&go_pprof(&["-top", &heap, &before]));
    let got = go_pprof(&["-top", &merged]);
    assert!(got.status.success(), "go cannot read sonde's merge: {}", stderr(&got));
    assert_eq!(stdout(&got), want);

    // diff: the written difference reads like Go's -base.
    let diff = dir.path("diff.pb.gz");
    let o = sonde(&["diff", "--base", &before, "-o", &diff, &after]);
    assert!(o.status.success(), "{}", stderr(&o));
    let want = stdout(&go_pprof(&["-top", "-base", &before, &after]));
    let got = go_pprof(&["-top", &diff]);
    assert!(got.status.success(), "go cannot read sonde's diff: {}", stderr(&got));
    assert_eq!(stdout(&got), want);

    // convert --to pprof after a filter: the same entries as Go's focused report,
    // and totals equal to the focused samples.
    let conv = dir.path("focused.pb.gz");
    let o = sonde(&["convert", "--to", "pprof", "--focus", "fibonacci", "-o", &conv, &cpu]);
    assert!(o.status.success(), "{}", stderr(&o));
    let got = go_pprof(&["-top", &conv]);
    assert!(
        got.status.success(),
        "go cannot read sonde's conversion: {}",
        stderr(&got)
    );
    let focused = stdout(&go_pprof(&["-top", "-focus=fibonacci", &cpu]));
    assert_eq!(rows(&stdout(&got)), rows(&focused));
    assert!(!rows(&focused).is_empty());
    // And sonde reads its own output the same way Go does.
    same(&["-top", &conv], &["top", &conv]);

    // Unfiltered conversion keeps every sample.
    let full = dir.path("full.pb.gz");
    assert!(
        sonde(&["convert", "--to", "pprof", "-o", &full, &heap])
            .status
            .success()
    );
    same(&["-top", &full], &["top", &heap]);
}

#[test]
fn fresh_go_profiles_read_identically() {
    if !go_available("fresh_go_profiles_read_identically") {
        return;
    }
    let dir = TempDir::new("regen");
    let script = root().join("tests/go/regen.sh");
    let o = std::process::Command::new("bash")
        .arg(&script)
        .arg(&dir.0)
        .output()
        .expect("run regen.sh");
    assert!(o.status.success(), "regenerating Go fixtures failed: {}", stderr(&o));
    for f in GO_FIXTURES {
        let p = dir.path(f);
        for cmd in ["top", "traces"] {
            same(&[&format!("-{cmd}"), &p], &[cmd, &p]);
        }
    }
    let cpu = stdout(&sonde(&["top", &dir.path("cpu.pb.gz")]));
    // The expensive operation dominates by cumulative time. Not necessarily by
    // flat time: on a busy machine Go preempts it often, and up to half of
    // its samples land in runtime.asyncPreempt, called from it (seen with Go
    // 1.19 and both cores busy). A reader that lost callers or mixed up the
    // columns gives it a small share.
    let cum_percent = cpu
        .lines()
        .find(|l| l.trim_end().ends_with(" main.expensiveOperation"))
        .and_then(|l| l.split_whitespace().nth(4))
        .and_then(|c| c.trim_end_matches('%').parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no main.expensiveOperation row:\n{cpu}"));
    assert!(
        cum_percent >= 50.0,
        "the expensive operation dominates, {cum_percent}% cumulative:\n{cpu}"
    );
    assert!(
        !cpu.contains("quickOperation"),
        "a sleeping function gets no CPU samples:\n{cpu}"
    );
}
