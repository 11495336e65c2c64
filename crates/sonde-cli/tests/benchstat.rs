//! `sonde benchstat` from the command line: what it prints and its exit status
//! with `--fail-on-regression`, on a real change at five runs each and on a
//! noisy run of unchanged code.

mod common;

use common::*;

/// Writes `name value` lines as `ns/op` results into `dir/file`.
fn results(dir: &TempDir, file: &str, name: &str, values: &[f64]) -> String {
    let mut text = String::from("goos: linux\ngoarch: amd64\npkg: example.com/p\n");
    for v in values {
        text.push_str(&format!("Benchmark{name}-2 \t 1000\t {v} ns/op\n"));
    }
    text.push_str("PASS\nok  \texample.com/p\t1.0s\n");
    let path = dir.path(file);
    std::fs::write(&path, text).expect("write results");
    path
}

#[test]
fn five_runs_each_fail_on_a_regression() {
    let dir = TempDir::new("benchstat5");
    let old = results(&dir, "old.txt", "X", &[1000.0, 1001.0, 1002.0, 1003.0, 1004.0]);
    let new = results(&dir, "new.txt", "X", &[1500.0, 1501.0, 1502.0, 1503.0, 1504.0]);

    let o = sonde(&["benchstat", &old, &new]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    let row = out.lines().find(|l| l.starts_with("X-2 ")).unwrap_or_default();
    assert!(
        row.contains("1.002µ ± ∞ ¹") && row.ends_with("1.502µ ± ∞ ¹  +49.90% (p=0.008 n=5)"),
        "{out}"
    );
    // The file names (whole paths here) are wider than their columns: the
    // separators of both header lines still line up.
    let bars = |l: &str| -> Vec<usize> { l.chars().enumerate().filter(|c| c.1 == '│').map(|c| c.0).collect() };
    let head: Vec<&str> = out.lines().filter(|l| l.contains('│')).collect();
    assert_eq!(head.len(), 2, "{out}");
    assert_eq!(bars(head[0]), bars(head[1]), "{out}");
    assert_eq!(bars(head[0]).len(), 3, "{out}");

    let o = sonde(&["benchstat", "--fail-on-regression", "5", &old, &new]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("+49.90% (p=0.008 n=5)"));
    let err = stderr(&o);
    assert!(
        err.contains("regressions beyond 5%") && err.contains("X-2 sec/op +49.90% (p=0.008 n=5)"),
        "{err}"
    );
    // Above the change: no regression.
    let o = sonde(&["benchstat", "--fail-on-regression", "60", &old, &new]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    // Faster is no regression.
    let o = sonde(&["benchstat", "--fail-on-regression", "5", &new, &old]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("-33.29% (p=0.008 n=5)"));
}

#[test]
fn a_noisy_run_of_unchanged_code_passes() {
    let dir = TempDir::new("benchstat-aa");
    let quiet = results(
        &dir,
        "quiet.txt",
        "Parallel",
        &[29.8, 29.9, 29.95, 30.0, 30.0, 30.0, 30.05, 30.1, 30.2, 30.3],
    );
    let busy = results(
        &dir,
        "busy.txt",
        "Parallel",
        &[35.1, 36.0, 38.0, 40.0, 41.5, 41.65, 55.0, 70.0, 82.7, 95.0],
    );
    let o = sonde(&["benchstat", "--fail-on-regression", "5", &quiet, &busy]);
    let out = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{}", stderr(&o));
    let row = out.lines().find(|l| l.starts_with("Parallel-2 ")).unwrap_or_default();
    assert!(
        row.contains("30.00n ± 1%") && row.ends_with("41.57n ± 99%  ~ (p=0.000 n=10) ¹"),
        "{out}"
    );
    assert!(
        out.contains("¹ significant, but a sample's ± is as large as the change"),
        "{out}"
    );
}
