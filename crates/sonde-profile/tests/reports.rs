//! Golden tests of the text reports over the profiles in `tests/data`, so a
//! change to the report rows or their text renderer fails in this crate. (The
//! byte-for-byte comparisons with `go tool pprof` itself live in sonde-cli's
//! `go_oracle` tests; these goldens were written from output that matches it.)
//!
//! `SONDE_BLESS=1 cargo test -p sonde-profile --test reports` rewrites them.

use std::path::{Path, PathBuf};

use sonde_profile::Profile;
use sonde_profile::report::{self, Command, Config, Env, Output, SourceOpener, format_time_utc};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/data")
        .join(name)
}

fn run(file: &str, cmd: Command, settings: &[(&str, &str)]) -> String {
    run_with(file, cmd, settings, &SourceOpener::none())
}

/// A source tree where every file has 70 lines reading `// line N`.
fn numbered_lines(_path: &str) -> std::io::Result<String> {
    Ok((1..=70).map(|i| format!("// line {i}\n")).collect())
}

fn run_with(file: &str, cmd: Command, settings: &[(&str, &str)], opener: &SourceOpener) -> String {
    let bytes = std::fs::read(data(file)).expect("profile file");
    let p = Profile::parse(&bytes).expect("profile");
    let mut cfg = Config::default();
    for (k, v) in settings {
        cfg.set(k, v).expect("setting");
    }
    let env = Env {
        format_time: &format_time_utc,
        open_source: opener,
    };
    let generated = report::generate(p, &cmd, &cfg, &env).expect("report");
    let Output::Text(mut text) = generated.output else {
        panic!("not text")
    };
    for w in generated.warnings {
        text.push_str("warning: ");
        text.push_str(&w);
        text.push('\n');
    }
    text
}

fn golden(name: &str, text: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden").join(name);
    if std::env::var_os("SONDE_BLESS").is_some() {
        std::fs::write(&path, text).expect("write golden");
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if want != text {
        panic!("{name} differs from its golden file\n--- want\n{want}\n--- got\n{text}");
    }
}

#[test]
fn top() {
    golden("cpu.top.txt", &run("cpu.pb.gz", Command::Top, &[]));
    golden(
        "heap.top.alloc_space.cum.txt",
        &run(
            "heap.pb.gz",
            Command::Top,
            &[("sample_index", "alloc_space"), ("cum", "true")],
        ),
    );
    golden(
        "mutex.top.lines.txt",
        &run(
            "mutex.pb.gz",
            Command::Top,
            &[("granularity", "lines"), ("nodecount", "5")],
        ),
    );
    golden(
        "heap.top.focus.txt",
        &run(
            "heap.pb.gz",
            Command::Top,
            &[("focus", "createMemory|cacheEntries"), ("hide", "runtime")],
        ),
    );
}

#[test]
fn tree_and_peek() {
    golden("cpu.tree.txt", &run("cpu.pb.gz", Command::Tree, &[]));
    golden(
        "heap.peek.txt",
        &run(
            "heap.pb.gz",
            Command::Peek("main\\.".into()),
            &[("sample_index", "alloc_objects")],
        ),
    );
    golden("block.tree.txt", &run("block.pb.gz", Command::Tree, &[]));
}

#[test]
fn traces() {
    golden("goroutine.traces.txt", &run("goroutine.pb.gz", Command::Traces, &[]));
    golden("heap.traces.txt", &run("heap.pb.gz", Command::Traces, &[]));
    golden(
        "allocs.traces.mean.txt",
        &run("allocs.pb.gz", Command::Traces, &[("mean", "true")]),
    );
}

#[test]
fn list_and_tags() {
    // No source files are reachable: the listing shows the sampled lines.
    golden("cpu.list.txt", &run("cpu.pb.gz", Command::List("main\\.".into()), &[]));
    let opener = SourceOpener {
        read: &numbered_lines,
        current_dir: "/src".into(),
        syntax: Default::default(),
    };
    golden(
        "cpu.list.source.txt",
        &run_with("cpu.pb.gz", Command::List("fibonacci|func1".into()), &[], &opener),
    );
    golden("heap.tags.txt", &run("heap.pb.gz", Command::Tags, &[]));
}
