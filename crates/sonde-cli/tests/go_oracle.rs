//! `go tool pprof` is the oracle: on the same profile and options, sonde must print
//! the same report, and `go tool pprof` must read what sonde writes.
//!
//! Needs the Go toolchain; where `go` is absent each test says so and returns
//! (CI installs it).

mod common;

use common::*;

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
    // sonde's own CPU profile of a tokio service (bench/readability), with
    // libc named from its debug file.
    "rust_tokio_service.pb.gz",
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

    // convert --format pprof after a filter: the same entries as Go's focused report,
    // and totals equal to the focused samples.
    let conv = dir.path("focused.pb.gz");
    let o = sonde(&[
        "convert",
        "--format",
        "pprof",
        "--focus",
        "fibonacci",
        "-o",
        &conv,
        &cpu,
    ]);
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
        sonde(&["convert", "--format", "pprof", "-o", &full, &heap])
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

/// A CPU profile of the given stacks (leaf first), each function in `FILE.go`
/// named after its last word, 10 ms per count.
fn stack_profile(stacks: &[(&[&str], i64)], drop_frames: &str) -> sonde_profile::Profile {
    use sonde_profile::{Function, Line, Location, Profile, Sample, ValueType};
    let mut p = Profile {
        sample_types: vec![ValueType::new("samples", "count"), ValueType::new("cpu", "nanoseconds")],
        period_type: Some(ValueType::new("cpu", "nanoseconds")),
        period: 10_000_000,
        drop_frames: drop_frames.into(),
        ..Default::default()
    };
    p.mappings.push(Default::default());
    let mut ids = std::collections::HashMap::new();
    for (stack, count) in stacks {
        let mut locations = Vec::new();
        for name in stack.iter() {
            let next = ids.len() as u32;
            let id = *ids.entry(name.to_string()).or_insert(next);
            if id == next {
                let file = name.rsplit('.').next().unwrap_or(name);
                p.functions.push(Function {
                    name: (*name).into(),
                    system_name: (*name).into(),
                    filename: format!("{file}.go").into(),
                    start_line: 1,
                });
                p.locations.push(Location {
                    mapping: Some(0),
                    address: 0x1000 + u64::from(id) * 16,
                    lines: vec![Line {
                        function: id,
                        line: 3,
                        column: 0,
                    }],
                    ..Default::default()
                });
            }
            locations.push(id);
        }
        p.samples.push(Sample {
            locations,
            values: vec![*count, count * 10_000_000],
            ..Default::default()
        });
    }
    p
}

#[test]
fn drop_frames_keep_samples_apart_as_go() {
    if !go_available("drop_frames_keep_samples_apart_as_go") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("sonde-drop-frames-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("drop.pb.gz");
    stack_profile(
        &[
            (&["main.drop", "main.a", "main.main"], 3),
            (&["main.a", "main.main"], 5),
        ],
        "main.drop",
    )
    .write_file(&path)
    .unwrap();
    let f = path.to_string_lossy().into_owned();
    same(&["-traces", &f], &["traces", &f]);
    same(&["-top", &f], &["top", &f]);
    // Two traces, 30 ms and 50 ms, as go tool pprof prints.
    let traces = stdout(&sonde(&["traces", &f]));
    assert!(
        traces.contains("      30ms") && traces.contains("      50ms"),
        "{traces}"
    );
    // The pruned location stays in the tables (-raw lists it), also after
    // filters, as in go tool pprof.
    let raw = stdout(&sonde(&["raw", &f]));
    assert!(raw.contains("main.drop"), "{raw}");
    let heap = data("heap.pb.gz");
    for args in [
        vec!["raw", f.as_str()],
        vec!["raw", "--focus=main.a", f.as_str()],
        vec!["raw", "--hide=main.a", f.as_str()],
        vec!["raw", "--focus=createMemory", heap.as_str()],
        vec!["raw", "--ignore=runtime", "--show=main", heap.as_str()],
    ] {
        let go: Vec<String> = args
            .iter()
            .map(|a| match a.strip_prefix("--") {
                Some(opt) => format!("-{opt}"),
                None if *a == "raw" => "-raw".to_string(),
                None => a.to_string(),
            })
            .collect();
        let go: Vec<&str> = go.iter().map(String::as_str).collect();
        same(&go, &args);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn list_goes_on_past_a_missing_file_as_go() {
    if !go_available("list_goes_on_past_a_missing_file_as_go") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("sonde-list-missing-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // main.here's source exists; main.gone's does not.
    std::fs::write(dir.join("here.go"), "package main\n\nfunc here() {\n\twork()\n}\n").unwrap();
    let path = dir.join("two.pb.gz");
    stack_profile(
        &[(&["main.here", "main.main"], 4), (&["main.gone", "main.main"], 2)],
        "",
    )
    .write_file(&path)
    .unwrap();
    let (f, src) = (path.to_string_lossy().into_owned(), dir.to_string_lossy().into_owned());
    let o = sonde(&["list", "main.here|main.gone", "--source-path", &src, &f]);
    assert!(o.status.success(), "one function listed: success; {}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("ROUTINE ======================== main.here"), "{out}");
    assert!(out.contains("ROUTINE ======================== main.gone"), "{out}");
    assert!(stderr(&o).contains("gone.go not found"), "{}", stderr(&o));
    let g = go_pprof(&["-list=main.here|main.gone", &format!("-source_path={src}"), &f]);
    assert!(g.status.success(), "go tool pprof lists it too: {}", stderr(&g));
    // Only a missing file: go tool pprof reports it and exits 0, and so does
    // sonde; no function matching is the error.
    let o = sonde(&["list", "main.gone", "--source-path", &src, &f]);
    let g = go_pprof(&["-list=main.gone", &format!("-source_path={src}"), &f]);
    assert_eq!(o.status.success(), g.status.success(), "{}", stderr(&o));
    assert!(o.status.success(), "{}", stderr(&o));
    let o = sonde(&["list", "main.nowhere", &f]);
    let g = go_pprof(&["-list=main.nowhere", &f]);
    assert!(!o.status.success() && !g.status.success(), "{}", stdout(&o));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_profile_go_rejects_sonde_rejects() {
    use prost::Message;
    use sonde_profile::proto;
    if !go_available("every_profile_go_rejects_sonde_rejects") {
        return;
    }
    let strings = |s: &[&str]| s.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>();
    let st = || vec![proto::ValueType { r#type: 1, unit: 2 }];
    let table = || strings(&["", "samples", "count", "main.f"]);
    let sample = |loc: Vec<u64>, value: Vec<i64>| proto::Sample {
        location_id: loc,
        value,
        label: vec![],
    };
    let function = |id| proto::Function {
        id,
        name: 3,
        ..Default::default()
    };
    let location = |id, mapping_id, function_id| proto::Location {
        id,
        mapping_id,
        line: vec![proto::Line {
            function_id,
            line: 1,
            column: 0,
        }],
        ..Default::default()
    };
    let good = || proto::Profile {
        sample_type: st(),
        sample: vec![sample(vec![1], vec![1])],
        function: vec![function(1)],
        location: vec![location(1, 0, 1)],
        string_table: table(),
        ..Default::default()
    };
    let concatenated = {
        let mut a = good();
        a.time_nanos = 1;
        let mut bytes = a.encode_to_vec();
        bytes.extend(a.encode_to_vec());
        bytes
    };
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "string_table[0] not empty",
            proto::Profile {
                string_table: strings(&["x", "samples", "count", "main.f"]),
                ..good()
            }
            .encode_to_vec(),
            "string_table[0] must be the empty string",
        ),
        ("concatenated profiles", concatenated, "concatenated profiles"),
        (
            "mapping id 0",
            proto::Profile {
                mapping: vec![proto::Mapping::default()],
                ..good()
            }
            .encode_to_vec(),
            "reserved id 0",
        ),
        (
            "two functions with one id",
            proto::Profile {
                function: vec![function(1), function(1)],
                ..good()
            }
            .encode_to_vec(),
            "same id 1",
        ),
        (
            "location id 0",
            proto::Profile {
                location: vec![location(0, 0, 1)],
                sample: vec![],
                ..good()
            }
            .encode_to_vec(),
            "reserved id 0",
        ),
        (
            "a line naming no function",
            proto::Profile {
                location: vec![location(1, 0, 9)],
                ..good()
            }
            .encode_to_vec(),
            "function id 9",
        ),
        (
            "a sample naming no location",
            proto::Profile {
                sample: vec![sample(vec![5], vec![1])],
                ..good()
            }
            .encode_to_vec(),
            "location id 5",
        ),
        (
            "values and sample types disagree",
            proto::Profile {
                sample: vec![sample(vec![1], vec![1, 2])],
                ..good()
            }
            .encode_to_vec(),
            "2 values",
        ),
        (
            "samples without sample types",
            proto::Profile {
                sample_type: vec![],
                ..good()
            }
            .encode_to_vec(),
            "no sample types",
        ),
        (
            "a string index past the table",
            proto::Profile {
                function: vec![proto::Function {
                    id: 1,
                    name: 40,
                    ..Default::default()
                }],
                ..good()
            }
            .encode_to_vec(),
            "string index 40",
        ),
    ];
    let dir = std::env::temp_dir().join(format!("sonde-invalid-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, (what, bytes, rule)) in cases.iter().enumerate() {
        let path = dir.join(format!("case{i}.pb"));
        std::fs::write(&path, bytes).unwrap();
        let f = path.to_string_lossy().into_owned();
        let g = go_pprof(&["-top", &f]);
        assert!(!g.status.success(), "{what}: go tool pprof accepts it, so should sonde");
        let s = sonde(&["top", &f]);
        assert!(
            !s.status.success(),
            "{what}: go tool pprof rejects it, sonde accepts it"
        );
        assert!(
            stderr(&s).contains(rule),
            "{what}: the error names the rule: {}",
            stderr(&s)
        );
    }
    // What pprof accepts, sonde accepts: a location naming an undefined
    // mapping has no mapping.
    let path = dir.join("mapping.pb");
    std::fs::write(
        &path,
        proto::Profile {
            location: vec![location(1, 7, 1)],
            ..good()
        }
        .encode_to_vec(),
    )
    .unwrap();
    let f = path.to_string_lossy().into_owned();
    same(&["-top", &f], &["top", &f]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn names_shortened_and_merged_as_go() {
    use sonde_profile::{Function, Line, Location, Profile, Sample, ValueType};
    if !go_available("names_shortened_and_merged_as_go") {
        return;
    }
    // (name, system name): C++, Rust, Go, Java; mangled and already demangled;
    // names a producer demangled itself (they differ from the system name).
    let names: &[(&str, &str)] = &[
        ("ns::Widget::render()", "ns::Widget::render()"),
        ("eq<u8, u8>", "eq<u8, u8>"),
        ("", "_ZN4core3ptr13drop_in_place17h0123456789abcdefE"),
        ("_ZN2ns6Widget6renderEv", "_ZN2ns6Widget6renderEv"),
        (
            "(anonymous namespace)::helper(int)",
            "(anonymous namespace)::helper(int)",
        ),
        (
            "<alloc::vec::Vec<T> as core::ops::drop::Drop>::drop",
            "<alloc::vec::Vec<T> as core::ops::drop::Drop>::drop",
        ),
        ("main.(*T[...]).M", "main.(*T[...]).M"),
        ("com.example.Foo.bar(int)", "com.example.Foo.bar(int)"),
        ("a::b<T>", "_ZN1a1b17h0123456789abcdefE"),
        ("_RNvCs1234_7mycrate3foo", "_RNvCs1234_7mycrate3foo"),
        ("app::run::{{closure}}", "app::run::{{closure}}"),
        (
            "_ZN3app3run28_$u7b$$u7b$closure$u7d$$u7d$17h0123456789abcdefE",
            "_ZN3app3run28_$u7b$$u7b$closure$u7d$$u7d$17h0123456789abcdefE",
        ),
        ("std::vector<int>::push_back(int const&)", ""),
        ("", "plain_c_function"),
        ("eq<i32, i32>", "eq<i32, i32>"),
        ("main", "main"),
    ];
    let mut p = Profile {
        sample_types: vec![ValueType::new("samples", "count")],
        ..Default::default()
    };
    p.mappings.push(Default::default());
    let main = names.len() as u32 - 1;
    for (i, (n, s)) in names.iter().enumerate() {
        p.functions.push(Function {
            name: (*n).into(),
            system_name: (*s).into(),
            filename: "f.cc".into(),
            start_line: 1,
        });
        p.locations.push(Location {
            mapping: Some(0),
            address: 0x1000 + i as u64 * 16,
            lines: vec![Line {
                function: i as u32,
                line: 1 + i as i64,
                column: 0,
            }],
            ..Default::default()
        });
    }
    // eq<i32, i32> inlined into ns::Widget::render() at one address: after
    // shortening it is the same `eq` as the not-inlined eq<u8, u8>.
    let inlined = p.locations.len() as u32;
    p.locations.push(Location {
        mapping: Some(0),
        address: 0x2000,
        lines: vec![
            Line {
                function: 14,
                line: 7,
                column: 0,
            },
            Line {
                function: 0,
                line: 8,
                column: 0,
            },
        ],
        ..Default::default()
    });
    for i in 0..main {
        p.samples.push(Sample {
            locations: vec![i, main],
            values: vec![i64::from(i) + 1],
            ..Default::default()
        });
    }
    p.samples.push(Sample {
        locations: vec![inlined, main],
        values: vec![30],
        ..Default::default()
    });
    let dir = std::env::temp_dir().join(format!("sonde-names-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("names.pb.gz");
    p.write_file(&path).unwrap();
    let f = path.to_string_lossy().into_owned();
    same(&["-top", &f], &["top", &f]);
    same(&["-traces", &f], &["traces", &f]);
    same(&["-tree", &f], &["tree", &f]);
    same(&["-peek=eq|render", &f], &["peek", "eq|render", &f]);
    same(&["-top", "-focus=^eq$", &f], &["top", "--focus=^eq$", &f]);
    let top = stdout(&sonde(&["top", &f]));
    assert!(top.contains("(partial-inline)"), "{top}");
    let _ = std::fs::remove_dir_all(&dir);
}
