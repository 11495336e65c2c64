//! `sonde demo --quick`, case by case: each case must pass its own checks
//! (which read back the profiles sonde wrote) and name the planted cause in
//! its report; `go tool pprof` must read every profile it wrote. The cases run
//! one at a time (a lock), each in a fresh output directory, as the README's
//! `cargo run --release -- demo` runs them.

mod common;

use std::path::Path;
use std::sync::Mutex;

use common::*;

/// One case at a time: their checks measure this machine (throughput ratios,
/// contention), which another case's threads would skew.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs `sonde demo --quick --case NAME` and checks it passed, naming `cause`
/// in its report; returns the report.
fn case(name: &str, cause: &str) -> String {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = TempDir::new(&format!("demo-{name}"));
    let out = dir.path("out");
    let o = sonde(&["demo", "--quick", "--case", name, "--out", &out]);
    let report = stdout(&o);
    assert!(
        o.status.success(),
        "sonde demo --case {name} failed:\n{report}\n{}",
        stderr(&o)
    );
    assert!(report.contains("PASS") && !report.contains("FAIL"), "{report}");
    let found = report
        .lines()
        .find(|l| l.trim_start().starts_with("found:"))
        .unwrap_or_default();
    assert!(
        found.contains(cause),
        "the report does not name {cause} as found:\n{report}"
    );
    // Every profile the case wrote is one `go tool pprof` reads.
    if go_available(&format!("demo_{name}_profiles_read_by_go")) {
        for p in profiles(Path::new(&out)) {
            let g = go_pprof(&["-raw", &p]);
            assert!(g.status.success(), "go tool pprof -raw {p}: {}", stderr(&g));
        }
    }
    report
}

/// The `.pb.gz` files under `dir`.
fn profiles(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            found.extend(profiles(&p));
        } else if p.to_string_lossy().ends_with(".pb.gz") {
            found.push(p.to_string_lossy().into_owned());
        }
    }
    found
}

#[test]
fn bench_shows_the_seeds_directions() {
    let r = case("bench", "ConcatPlus");
    for name in [
        "Fibonacci20",
        "ConcatBuilderPrealloc",
        "SliceWithPrealloc1000",
        "Processing/Size10000",
    ] {
        assert!(r.contains(&format!("Benchmark{name}-")), "{name} missing:\n{r}");
    }
    assert!(r.contains("B/op") && r.contains("allocs/op"), "{r}");
}

#[test]
fn cpu_names_the_expensive_operation_and_the_block_profile_the_sleep() {
    let r = case("cpu", "expensive_operation");
    assert!(r.contains("of wait at quick_operation"), "{r}");
}

#[test]
fn heap_names_the_leak() {
    case("heap", "create_memory");
}

#[test]
fn growth_names_the_leaking_allocation_and_spawn_site() {
    let r = case("growth", "expensive_computation");
    assert!(r.contains("first steady riser is growth::process_event"), "{r}");
}

#[test]
fn leaks_counts_grow_for_unbounded_spawning_only() {
    let r = case("leaks", "process_jobs_unbounded");
    assert!(r.contains("worker pool:    goroutine profile: total 4, 4, 4, 4"), "{r}");
}

#[test]
fn logs_names_the_concatenation() {
    // With --user-code the first row is the batch's loop (process_logs_concat)
    // or the per-entry concatenation it calls (format_log_concat), by how the
    // samples fall: both are the planted path.
    let r = case("logs", "_concat");
    let found = r
        .lines()
        .find(|l| l.trim_start().starts_with("found:"))
        .unwrap_or_default();
    let user = found.split("with --user-code:").nth(1).unwrap_or_default();
    assert!(
        user.contains("logs::process_logs_concat") || user.contains("logs::format_log_concat"),
        "{r}"
    );
}

#[test]
fn mutex_names_the_cache_lock() {
    case("mutex", "Cache::set");
}

#[test]
fn workers_profile_the_hot_loops() {
    case("workers", "workers::");
}

#[test]
fn http_profile_over_debug_pprof_names_the_slow_handler() {
    case("http", "slow_handler");
}

#[test]
fn continuous_agent_fills_the_store() {
    let r = case("continuous", "render_page");
    assert!(r.contains("sonde store ls: cpu"), "{r}");
}

#[test]
fn orders_wall_clock_names_the_per_order_query() {
    case("orders", "get_order_items");
}

#[test]
fn list_names_every_case_and_bad_names_are_explained() {
    let o = sonde(&["demo", "--list"]);
    assert!(o.status.success());
    let list = stdout(&o);
    assert_eq!(list.lines().count(), 11, "{list}");
    assert!(list.lines().next().unwrap_or_default().contains("bench"), "{list}");
    let o = sonde(&["demo", "--case", "nosuch"]);
    assert!(!o.status.success());
    let e = stderr(&o);
    assert!(
        e.contains("no demo case \"nosuch\"") && e.contains("sonde demo --list"),
        "{e}"
    );
    let o = sonde(&["demo", "--case", "12"]);
    assert!(stderr(&o).contains("from 1 to 11"), "{}", stderr(&o));
    // A directory of the user's is never cleared.
    let dir = TempDir::new("demo-foreign");
    std::fs::write(dir.path("notes.txt"), "mine").expect("write");
    let o = sonde(&["demo", "--case", "heap", "--out", &dir.path("")]);
    assert!(
        !o.status.success() && stderr(&o).contains("choose another directory with --out"),
        "{}",
        stderr(&o)
    );
    assert!(std::path::Path::new(&dir.path("notes.txt")).exists());
    // The hidden per-case command is the demo's own.
    let o = sonde(&["__demo-case", "cpu", "--out", "/nonexistent"]);
    assert!(
        !o.status.success() && stderr(&o).contains("sonde demo --case cpu"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn the_summary_ends_with_the_store_to_browse() {
    let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let dir = TempDir::new("demo-summary");
    let out = dir.path("out");
    // With a `sonde` on PATH, the report's commands run as written.
    let bin = dir.path("bin");
    std::fs::create_dir_all(&bin).expect("bin");
    std::fs::copy(env!("CARGO_BIN_EXE_sonde"), format!("{bin}/sonde")).expect("a sonde on PATH");
    let demo = |path: &str, cases: &[&str]| {
        let mut args = vec!["demo", "--quick", "--out", &out];
        for c in cases {
            args.extend(["--case", c]);
        }
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_sonde"))
            .args(&args)
            .env("PATH", path)
            .output()
            .expect("run the demo");
        let report = stdout(&o);
        assert!(o.status.success(), "{report}{}", stderr(&o));
        report
    };
    let report = demo(&bin, &["3", "growth"]);
    assert!(report.contains("2 of 2 cases passed"), "{report}");
    assert!(
        report
            .trim_end()
            .ends_with(&format!("sonde web --store {out}/store --kind heap")),
        "{report}"
    );
    assert!(!report.contains("not on your PATH"), "{report}");
    // Without one (right after `cargo run --release -- demo`), it says how.
    let report = demo(&dir.path("empty"), &["3"]);
    assert!(
        report.contains("`sonde` is not on your PATH; this one is ")
            && report.contains("`cargo install --locked --path crates/sonde-cli`"),
        "{report}"
    );
    assert!(report.trim_end().ends_with("--kind heap"), "{report}");
}
