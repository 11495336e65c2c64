//! The `sonde` command without the Go toolchain: bad input gives one clear error
//! line and a non-zero exit, the shell answers like `go tool pprof`'s, exports are
//! well formed, and profiles from other producers read right.

mod common;

use std::io::Write;

use common::*;
use prost::Message;
use sonde_profile::proto;

/// Asserts a failed run with exactly one error line containing every `needle`.
fn fails_with(o: &std::process::Output, needles: &[&str]) {
    let err = stderr(o);
    assert!(!o.status.success(), "expected failure, got success; stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "expected one error line, got: {err}");
    assert!(lines[0].starts_with("sonde: error: "), "{err}");
    for n in needles {
        assert!(lines[0].contains(n), "error line lacks {n:?}: {err}");
    }
}

fn write(dir: &TempDir, name: &str, bytes: &[u8]) -> String {
    let p = dir.path(name);
    std::fs::write(&p, bytes).expect("write fixture");
    p
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).expect("gzip");
    e.finish().expect("gzip")
}

#[test]
fn truncated_gzip_is_reported_with_offset() {
    let dir = TempDir::new("trunc");
    let full = std::fs::read(data("heap.pb.gz")).expect("fixture");
    let p = write(&dir, "t.pb.gz", &full[..full.len() / 2]);
    fails_with(
        &sonde(&["top", &p]),
        &["truncated", "gzip", "at compressed byte", "t.pb.gz"],
    );
}

#[test]
fn random_bytes_are_not_a_profile() {
    let dir = TempDir::new("random");
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let bytes: Vec<u8> = (0..4096)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let p = write(&dir, "random.bin", &bytes);
    fails_with(&sonde(&["top", &p]), &["not a valid pprof protobuf", "at byte"]);
}

#[test]
fn empty_file_is_named() {
    let dir = TempDir::new("empty");
    let p = write(&dir, "empty.pb.gz", b"");
    fails_with(&sonde(&["top", &p]), &["empty input"]);
    let p = write(&dir, "empty-gz.pb.gz", &gzip(b""));
    fails_with(&sonde(&["top", &p]), &["empty input"]);
}

#[test]
fn broken_invariants_are_named() {
    let dir = TempDir::new("invalid");
    let strings = |s: &[&str]| s.iter().map(|x| x.as_bytes().to_vec()).collect::<Vec<_>>();
    // A sample with two values in a profile with one sample type.
    let p = proto::Profile {
        sample_type: vec![proto::ValueType { r#type: 1, unit: 2 }],
        sample: vec![proto::Sample {
            location_id: vec![],
            value: vec![1, 2],
            label: vec![],
        }],
        string_table: strings(&["", "samples", "count"]),
        ..Default::default()
    };
    let f = write(&dir, "values.pb", &p.encode_to_vec());
    fails_with(
        &sonde(&["top", &f]),
        &["malformed profile", "sample #1 has 2 values", "1 sample types"],
    );

    // A location whose line names a function that does not exist.
    let p = proto::Profile {
        sample_type: vec![proto::ValueType { r#type: 1, unit: 2 }],
        sample: vec![proto::Sample {
            location_id: vec![1],
            value: vec![1],
            label: vec![],
        }],
        location: vec![proto::Location {
            id: 1,
            line: vec![proto::Line {
                function_id: 7,
                line: 1,
                column: 0,
            }],
            ..Default::default()
        }],
        string_table: strings(&["", "samples", "count"]),
        ..Default::default()
    };
    let f = write(&dir, "function.pb", &p.encode_to_vec());
    fails_with(&sonde(&["top", &f]), &["location id 1", "function id 7"]);

    // A string index past the end of the string table.
    let p = proto::Profile {
        sample_type: vec![proto::ValueType { r#type: 1, unit: 99 }],
        string_table: strings(&["", "samples"]),
        ..Default::default()
    };
    let f = write(&dir, "string.pb.gz", &gzip(&p.encode_to_vec()));
    fails_with(&sonde(&["top", &f]), &["string index 99", "2 entries"]);

    // A sample pointing at a location id that is not defined.
    let p = proto::Profile {
        sample_type: vec![proto::ValueType { r#type: 1, unit: 2 }],
        sample: vec![proto::Sample {
            location_id: vec![42],
            value: vec![1],
            label: vec![],
        }],
        string_table: strings(&["", "samples", "count"]),
        ..Default::default()
    };
    let f = write(&dir, "location.pb", &p.encode_to_vec());
    fails_with(&sonde(&["top", &f]), &["location id 42"]);
}

#[test]
fn bad_options_are_named() {
    let heap = data("heap.pb.gz");
    fails_with(
        &sonde(&["top", "--sample-index", "bogus", &heap]),
        &["unknown sample type \"bogus\"", "alloc_objects", "inuse_space"],
    );
    fails_with(
        &sonde(&["top", "--sample-index", "9", &heap]),
        &["sample index 9 is out of range", "0 to 3", "0=alloc_objects"],
    );
    fails_with(
        &sonde(&["top", "--focus", "main.(work", &heap]),
        &["unclosed group at column 6 of \"main.(work\""],
    );
    let dir = TempDir::new("text");
    let notes = write(&dir, "notes.txt", b"# my notes\nnot a profile\n");
    fails_with(&sonde(&["top", &notes]), &["this is a text file", "\"# my notes\""]);
    fails_with(
        &sonde(&["benchstat", &heap]),
        &["is a pprof profile, not benchmark results", "sonde top"],
    );
    fails_with(
        &sonde(&["top", "--focus", "(unclosed", &heap]),
        &["invalid regular expression for focus"],
    );
    fails_with(&sonde(&["list", "[", &heap]), &["invalid regular expression for list"]);
    fails_with(
        &sonde(&["peek", "no_such_function_anywhere", &heap]),
        &["no matches found"],
    );
    fails_with(
        &sonde(&["top", "/nonexistent/profile.pb.gz"]),
        &["cannot read /nonexistent/profile.pb.gz"],
    );
    fails_with(&sonde(&["top", "--nodefraction", "7", &heap]), &["--nodefraction"]);
    fails_with(
        &sonde(&["top", "--base", &heap, "--diff-base", &heap, &heap]),
        &["--base and --diff-base cannot be used together"],
    );
    fails_with(
        &sonde(&["top", "--base", &data("cpu.pb.gz"), &heap]),
        &["cannot be combined", "space/bytes", "cpu/nanoseconds"],
    );
}

#[test]
fn list_without_source_shows_the_lines_and_says_where_to_look() {
    // As go tool pprof: a missing source file is reported, and the listing
    // still succeeds (it exits non-zero only when no function matches).
    let cpu = data("cpu.pb.gz");
    let o = sonde(&["list", "main.expensiveOperation", &cpu]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("ROUTINE ======================== main.expensiveOperation"),
        "{out}"
    );
    assert!(out.contains("(source not available)"), "{out}");
    let err = stderr(&o);
    assert_eq!(err.lines().count(), 1, "one warning: {err}");
    assert!(
        err.contains("source file sonde.dev/fixtures/cpu/main.go not found") && err.contains("--source-path"),
        "{err}"
    );

    let src = root().join("tests/go").to_string_lossy().into_owned();
    let o = sonde(&[
        "list",
        "main.expensiveOperation",
        "--source-path",
        &src,
        "--trim-path",
        "sonde.dev/fixtures",
        &cpu,
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("sum += square(i)"), "{}", stdout(&o));
}

#[test]
fn gzip_bombs_are_refused() {
    let dir = TempDir::new("bomb");
    let zeros = vec![0u8; 8 << 20];
    let p = write(&dir, "bomb.pb.gz", &gzip(&zeros));
    assert!(std::fs::metadata(&p).expect("bomb").len() < 64 << 10);
    fails_with(
        &sonde(&["top", "--max-size", "1M", &p]),
        &["exceeds the limit of 1048576 bytes", "--max-size"],
    );
    // Option syntax errors come from the argument parser, with its usage hint.
    let o = sonde(&["top", "--max-size", "lots", &p]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("invalid value 'lots' for '--max-size <SIZE>'"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn legacy_formats_are_read_and_broken_ones_refused() {
    // Every legacy file of google/pprof's test data reads (tests/go_legacy.rs
    // compares the reports with go tool pprof's); the fuzz input pprof refuses
    // is refused with pprof's reason.
    let dir = root().join("tests/data/google-pprof");
    let mut seen = 0;
    for sub in ["driver", "profile"] {
        for e in std::fs::read_dir(dir.join(sub)).expect("testdata") {
            let path = e.expect("entry").path();
            let name = path.to_string_lossy().into_owned();
            if name.ends_with(".string") || name.ends_with("cpu_no_samples_type") || name.ends_with("nomappings.crash")
            {
                continue;
            }
            let o = sonde(&["top", &name]);
            assert!(o.status.success(), "{name}: {}", stderr(&o));
            assert!(
                stdout(&o).contains("Showing nodes accounting for"),
                "{name}: {}",
                stdout(&o)
            );
            seen += 1;
        }
    }
    assert!(seen >= 18, "only {seen} legacy files checked");
    fails_with(
        &sonde(&["top", &data("google-pprof/fuzz/legacy_heapz_min.txt")]),
        &["malformed legacy Java heapz", "second value", "must not be zero"],
    );
}

#[test]
fn other_producers_read_exactly() {
    // Figures as go tool pprof prints them for google/pprof's own test profiles.
    let o = sonde(&["top", &data("google-pprof/report/sample.cpu")]);
    let out = stdout(&o);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(out.contains("Duration: 2s, Total samples = 1.76s (87.91%)"), "{out}");
    assert!(
        out.contains("     1.28s 72.73% 72.73%      1.37s 77.84%  runtime.mapiternext"),
        "{out}"
    );
    assert!(
        out.contains("     0.11s  6.25% 87.50%      0.11s  6.25%  math.Abs (inline)"),
        "{out}"
    );

    let out = stdout(&sonde(&["top", &data("google-pprof/proftest/large.cpu")]));
    assert!(
        out.contains("Showing nodes accounting for 236.93s, 98.60% of 240.29s total"),
        "{out}"
    );
    assert!(out.contains("Dropped 23033 nodes (cum <= 1.20s)"), "{out}");
    assert!(
        out.contains("   205.17s 85.38% 85.38%    205.17s 85.38%  time.Now"),
        "{out}"
    );

    let out = stdout(&sonde(&["top", &data("google-pprof/driver/go.nomappings.crash")]));
    assert!(
        out.contains("    1.68MB   100%   100%     1.68MB   100%  <unknown>"),
        "{out}"
    );

    let out = stdout(&sonde(&[
        "top",
        &data("google-pprof/driver/cppbench.cpu_no_samples_type"),
    ]));
    assert!(out.contains("Type: cpu"), "{out}");
}

#[test]
fn seed_examples_answer_like_the_article() {
    // Example 2: the expensive operation dominates, the sleeping one is absent.
    let out = stdout(&sonde(&["top", "-n", "10", &data("cpu.pb.gz")]));
    let first = out.lines().skip_while(|l| !l.contains("flat%")).nth(1).expect("a row");
    assert!(first.ends_with("main.expensiveOperation"), "{out}");
    assert!(!out.contains("quickOperation"), "{out}");
    // Example 3: the leak is in createMemory; temporaryAllocation holds nothing.
    let out = stdout(&sonde(&["top", &data("heap.pb.gz")]));
    let first = out.lines().skip_while(|l| !l.contains("flat%")).nth(1).expect("a row");
    assert!(first.contains("main.createMemory"), "{out}");
    assert!(!out.contains("temporaryAllocation"), "{out}");
    // ...but it did allocate, as the allocs view shows.
    let out = stdout(&sonde(&["top", "--sample-index", "alloc_space", &data("allocs.pb.gz")]));
    assert!(out.contains("main.temporaryAllocation"), "{out}");
    // -base shows the growth between snapshots.
    let out = stdout(&sonde(&[
        "top",
        "--base",
        &data("heap_before.pb.gz"),
        &data("heap_after.pb.gz"),
    ]));
    let first = out.lines().skip_while(|l| !l.contains("flat%")).nth(1).expect("a row");
    assert!(first.contains("5120kB") && first.contains("main.createMemory"), "{out}");
}

#[test]
fn shell_answers_like_pprof() {
    let heap = data("heap.pb.gz");
    let o = sonde_with_input(
        &[&heap],
        "top3\nsample_index=alloc_space\ntop 2 -cum\nfocus=cacheEntries\ntop\n:\nbogus\nsample_index=nope\nlist\nhelp\no\ninuse_objects\npeek createMemory\nq\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("Type: inuse_space"), "greeting: {out}");
    assert!(out.contains("Entering interactive mode"), "{out}");
    assert!(out.contains("Showing top 3 nodes out of"), "top3: {out}");
    assert!(out.contains("main.createMemory"), "{out}");
    assert!(out.contains("Showing top 2 nodes out of"), "top 2 -cum: {out}");
    assert!(out.contains("Active filters:\n   focus=cacheEntries"), "focus: {out}");
    assert!(
        out.contains("sample_index              = alloc_space"),
        "options: {out}"
    );
    assert!(out.contains("  Commands:"), "help: {out}");
    assert!(out.contains("| main.createMemory"), "peek: {out}");
    let err = stderr(&o);
    assert!(err.contains("unrecognized command \"bogus\""), "{err}");
    assert!(err.contains("unknown sample type \"nope\""), "{err}");
    assert!(err.contains("list needs a regular expression"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn shell_writes_reports_and_flame_graphs() {
    let dir = TempDir::new("shell");
    let cpu = data("cpu.pb.gz");
    let (top, svg) = (dir.path("top.txt"), dir.path("f.svg"));
    let o = sonde_with_input(&["shell", &cpu], &format!("top5 > {top}\nflame > {svg}\nexit\n"));
    assert!(o.status.success(), "{}", stderr(&o));
    let text = std::fs::read_to_string(&top).expect("report written");
    assert!(text.contains("main.expensiveOperation"), "{text}");
    let svg = std::fs::read_to_string(&svg).expect("svg written");
    assert!(svg.contains("<svg") && svg.contains("main.fibonacci"), "svg");
}

#[test]
fn flame_graphs_and_exports_are_well_formed() {
    let dir = TempDir::new("export");
    let out = dir.path("cpu.svg");
    let o = sonde(&["flame", "-o", &out, &data("cpu.pb.gz")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let svg = std::fs::read_to_string(&out).expect("svg");
    assert!(svg.starts_with("<?xml") && svg.contains("main.expensiveOperation") && svg.trim_end().ends_with("</svg>"));

    let diff = dir.path("diff.svg");
    let o = sonde(&[
        "flame",
        "--base",
        &data("heap_before.pb.gz"),
        "-o",
        &diff,
        &data("heap_after.pb.gz"),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let svg = std::fs::read_to_string(&diff).expect("svg");
    assert!(
        svg.contains("main.createMemory") && svg.contains("differential"),
        "diff svg"
    );

    let o = sonde(&["convert", "--format", "speedscope", &data("heap.pb.gz")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    assert_eq!(v["profiles"].as_array().map(|a| a.len()), Some(4));
    assert_eq!(v["activeProfileIndex"], 3, "inuse_space is the default");
    assert_eq!(v["profiles"][3]["unit"], "bytes");
    let frames = v["shared"]["frames"].as_array().expect("frames");
    assert!(frames.iter().any(|f| f["name"] == "main.createMemory"));
    let (samples, weights) = (&v["profiles"][3]["samples"], &v["profiles"][3]["weights"]);
    assert_eq!(samples.as_array().map(|a| a.len()), weights.as_array().map(|a| a.len()));

    let o = sonde(&[
        "convert",
        "--format",
        "folded",
        "--sample-index",
        "inuse_space",
        &data("heap.pb.gz"),
    ]);
    let text = stdout(&o);
    let leak = text
        .lines()
        .find(|l| l.ends_with_char_digit() && l.contains("main.createMemory"))
        .expect("leak stack");
    assert!(leak.starts_with("runtime.main;main.main;main.createMemory "), "{leak}");
}

trait EndsWithDigit {
    fn ends_with_char_digit(&self) -> bool;
}

impl EndsWithDigit for &str {
    fn ends_with_char_digit(&self) -> bool {
        self.chars().last().is_some_and(|c| c.is_ascii_digit())
    }
}

#[test]
fn merge_and_diff_write_readable_profiles() {
    let dir = TempDir::new("write");
    let out = dir.path("m.pb.gz");
    let o = sonde(&["merge", "-o", &out, &data("heap.pb.gz"), &data("heap_before.pb.gz")]);
    assert!(o.status.success(), "{}", stderr(&o));
    let merged = stdout(&sonde(&["top", &out]));
    let direct = stdout(&sonde(&["top", &data("heap.pb.gz"), &data("heap_before.pb.gz")]));
    assert_eq!(merged, direct);
    let o = sonde(&["merge", "-o", "/nonexistent-dir/x.pb.gz", &data("heap.pb.gz")]);
    fails_with(&o, &["cannot write /nonexistent-dir/x.pb.gz"]);
    let o = sonde(&["diff", &data("heap.pb.gz")]);
    fails_with(&o, &["diff needs a base"]);
}

#[test]
fn plain_file_argument_opens_the_shell() {
    let o = sonde_with_input(&[&data("goroutine.pb.gz")], "top\n");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("Type: goroutine") && out.contains("runtime.gopark"),
        "{out}"
    );
}

#[test]
fn flags_are_the_settings_table() {
    // Every setting of sonde-profile's table is a flag, and so is every choice word.
    let help = stdout(&sonde(&["top", "--help"]));
    for s in sonde_profile::report::SETTINGS {
        assert!(
            help.contains(&format!("--{} ", s.flag())) || help.contains(&format!("--{}[=", s.flag())),
            "--{} missing: {help}",
            s.flag()
        );
        for w in s.choices() {
            assert!(help.contains(&format!("--{w} ")), "--{w} missing: {help}");
        }
    }
    // A choice given by name or by its word, a bool with a value, the `_` spelling.
    let cpu = data("cpu.pb.gz");
    let by_word = sonde(&["top", "--lines", "--cum", &cpu]);
    let by_name = sonde(&["top", "--granularity", "lines", "--sort=cum", &cpu]);
    assert!(by_word.status.success(), "{}", stderr(&by_word));
    assert_eq!(stdout(&by_word), stdout(&by_name));
    assert!(stdout(&by_word).contains("main.go:"), "{}", stdout(&by_word));
    let untrimmed = sonde(&["top", "--trim=false", "--show_from", "main", &cpu]);
    assert!(untrimmed.status.success(), "{}", stderr(&untrimmed));
    assert!(stdout(&untrimmed).contains("show_from=main"), "{}", stdout(&untrimmed));
    fails_with(
        &sonde(&["top", "--granularity", "modules", &cpu]),
        &["--granularity takes"],
    );
    fails_with(
        &sonde(&["top", "--divide-by", "0", &cpu]),
        &["--divide-by takes a non-zero number"],
    );
}

#[test]
fn go_tool_pprof_command_lines_work_as_typed() {
    let (before, after, heap, cpu) = (
        data("heap_before.pb.gz"),
        data("heap_after.pb.gz"),
        data("heap.pb.gz"),
        data("cpu.pb.gz"),
    );
    // The same report through Go's spelling and sonde's.
    let go = sonde(&["-top", "-sample_index=alloc_space", "-base", &before, &after]);
    let ours = sonde(&["top", "--sample-index", "alloc_space", "--base", &before, &after]);
    assert!(go.status.success(), "{}", stderr(&go));
    assert_eq!(stdout(&go), stdout(&ours));
    let go = sonde(&["top", "-sample_index=alloc_space", &heap]);
    assert!(go.status.success(), "{}", stderr(&go));
    assert!(stdout(&go).contains("Type: alloc_space"), "{}", stdout(&go));
    let go = sonde(&["-list", "main.expensiveOperation", &cpu]);
    assert!(stdout(&go).contains("ROUTINE ======================== main.expensiveOperation"));
    let go = sonde(&["-traces", "-alloc_objects", &heap]);
    assert!(stdout(&go).contains("Type: alloc_objects"), "{}", stdout(&go));
    // -proto writes the profile to standard output, readable again.
    let go = sonde(&["-proto", &heap]);
    assert!(go.status.success(), "{}", stderr(&go));
    assert!(sonde_profile::Profile::parse(&go.stdout).is_ok());
    // The seed's interactive forms: a profile alone, and -base with two.
    let o = sonde_with_input(&["-base", &before, &after], "top\nq\n");
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("main.createMemory"), "{}", stdout(&o));
    // A leading binary, as `go tool pprof ./myapp cpu.pb.gz`, is passed over with a note.
    let me = std::env::current_exe()
        .expect("test binary")
        .to_string_lossy()
        .into_owned();
    let o = sonde(&["top", &me, &cpu]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("a program, not a profile"), "{}", stderr(&o));
    fails_with(&sonde(&["top", &me]), &["is a program, not a profile"]);
    // What sonde lacks is named with what to use instead, exit status 2
    // (`-http` starts `sonde web`: tests/web.rs).
    let o = sonde(&["-web", &cpu]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("sonde web"), "{}", stderr(&o));
}

#[test]
fn shell_hints_are_typed_as_the_shell_takes_them() {
    let cpu = data("cpu.pb.gz");
    let o = sonde_with_input(&[&cpu], "list main.expensiveOperation\nweb\nq\n");
    let err = stderr(&o);
    assert!(
        err.contains("source_path=DIR") && err.contains("trim_path=PREFIX"),
        "{err}"
    );
    assert!(!err.contains("--source-path"), "{err}");
    assert!(err.contains("flame > flame.svg"), "{err}");
    // The command line's hint spells the flag.
    let o = sonde(&["list", "main.expensiveOperation", &cpu]);
    assert!(stderr(&o).contains("--source-path DIR"), "{}", stderr(&o));
}
