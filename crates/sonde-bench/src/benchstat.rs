//! `sonde benchstat`: compares benchmark results the way Go's `benchstat` does:
//! per benchmark and unit, the median with its 95% confidence interval for each
//! file, and for each file after the first, the change against the first with
//! the Mann-Whitney U test's p-value, plus a geomean row. A change is reported
//! when it is significant at `alpha`, at least `threshold` percent, and the two
//! medians' confidence intervals do not overlap; otherwise `~` (no evidence of
//! a change beyond the noise).

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::benchfmt::Results;
use crate::stats;

/// Why results cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No results file was given.
    #[error("no results files given")]
    NoFiles,
    /// A file holds no benchmark result line.
    #[error(
        "{file}: no benchmark results (lines such as `BenchmarkName-8  1000  123 ns/op`){}",
        first_skipped.as_ref().map(|(line, why)| format!(" (line {line}: {why})")).unwrap_or_default()
    )]
    NoResults {
        /// The file's label.
        file: String,
        /// The first `Benchmark` line that could not be read (line number, why).
        first_skipped: Option<(usize, String)>,
    },
    /// No benchmark appears in every file with the same unit.
    #[error(
        "nothing to compare: no benchmark appears in every file with the same unit ({base} has {base_has}; {other} \
         has {other_has})"
    )]
    NothingInCommon {
        /// The first (base) file's label.
        base: String,
        /// A few of its benchmarks and units: `Fib-2 sec/op, ...`.
        base_has: String,
        /// The second file's label.
        other: String,
        /// A few of its benchmarks and units.
        other_has: String,
    },
}

/// Comparison settings.
#[derive(Clone, Debug)]
pub struct Options {
    /// Significance level (default 0.05).
    pub alpha: f64,
    /// Confidence of the intervals (default 0.95).
    pub confidence: f64,
    /// A significant change for the worse larger than this many percent is a
    /// regression (for `--fail-on-regression`).
    pub fail_on_regression: Option<f64>,
    /// Changes smaller than this many percent are noise (`~`) whatever the
    /// p-value (default 2): on shared machines whole runs drift by a percent or
    /// two, which the test would otherwise call significant.
    pub threshold: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            alpha: 0.05,
            confidence: 0.95,
            fail_on_regression: None,
            threshold: 2.0,
        }
    }
}

/// The comparison: the table text and the regressions beyond the threshold.
#[derive(Clone, Debug, Default)]
pub struct Comparison {
    /// The tables, ready to print.
    pub text: String,
    /// `name unit +x%` for each significant change for the worse beyond
    /// [`Options::fail_on_regression`].
    pub regressions: Vec<String>,
}

/// Units as benchstat shows them: time in seconds, throughput in bytes per
/// second.
fn normalize(unit: &str, v: f64) -> (String, f64) {
    match unit {
        "ns/op" => ("sec/op".into(), v * 1e-9),
        "MB/s" => ("B/s".into(), v * 1e6),
        u => (u.to_string(), v),
    }
}

/// Whether larger is better for this unit (throughputs).
fn higher_is_better(unit: &str) -> bool {
    unit.ends_with("/s")
}

/// `1.234k`, `25.26µ`, `1.429Mi` for bytes: four significant digits with an
/// SI (or binary, for bytes) prefix.
pub fn format_value(v: f64, unit: &str) -> String {
    if v == 0.0 || !v.is_finite() {
        return if v == 0.0 { "0".into() } else { format!("{v}") };
    }
    let binary = unit.starts_with("B/");
    let (base, prefixes): (f64, &[&str]) = if binary {
        (1024.0, &["", "Ki", "Mi", "Gi", "Ti", "Pi"])
    } else {
        (1000.0, &["", "k", "M", "G", "T", "P"])
    };
    let small = ["", "m", "µ", "n", "p"];
    let mut scaled = v;
    let mut prefix = "";
    if v.abs() >= base {
        for p in prefixes.iter().skip(1) {
            scaled /= base;
            prefix = p;
            if scaled.abs() < base {
                break;
            }
        }
    } else if v.abs() < 1.0 && !binary {
        for p in small.iter().skip(1) {
            scaled *= 1000.0;
            prefix = p;
            if scaled.abs() >= 1.0 {
                break;
            }
        }
    }
    let digits = match scaled.abs() {
        a if a >= 100.0 => 1,
        a if a >= 10.0 => 2,
        _ => 3,
    };
    let s = format!("{scaled:.digits$}");
    // Whole numbers of units (allocs/op, B/op) without a prefix need no decimals.
    let s = if prefix.is_empty() && scaled.fract() == 0.0 {
        format!("{scaled}")
    } else {
        s
    };
    format!("{s}{prefix}")
}

/// Compares the results of `files` (label, parsed results), the first being the
/// base.
pub fn compare(files: &[(String, Results)], opts: &Options) -> Result<Comparison, Error> {
    if files.is_empty() {
        return Err(Error::NoFiles);
    }
    for (label, r) in files {
        if r.records.is_empty() {
            return Err(Error::NoResults {
                file: label.clone(),
                first_skipped: r.skipped.first().cloned(),
            });
        }
    }
    // (pkg, name) in order of appearance; per file, per (bench, unit): values.
    let mut benches: Vec<(String, String)> = Vec::new();
    let mut units: Vec<String> = Vec::new();
    let mut data: Vec<BTreeMap<(usize, usize), Vec<f64>>> = vec![BTreeMap::new(); files.len()];
    for (f, (_, r)) in files.iter().enumerate() {
        for rec in &r.records {
            let key = (rec.pkg.clone(), rec.name.clone());
            let b = benches.iter().position(|k| *k == key).unwrap_or_else(|| {
                benches.push(key);
                benches.len() - 1
            });
            for (unit, v) in &rec.values {
                let (unit, v) = normalize(unit, *v);
                let u = units.iter().position(|x| *x == unit).unwrap_or_else(|| {
                    units.push(unit);
                    units.len() - 1
                });
                data[f].entry((b, u)).or_default().push(v);
            }
        }
    }
    if files.len() > 1 {
        let shared = (0..benches.len()).any(|b| (0..units.len()).any(|u| data.iter().all(|d| d.contains_key(&(b, u)))));
        if !shared {
            let names = |d: &BTreeMap<(usize, usize), Vec<f64>>| {
                let mut n: Vec<String> = d
                    .keys()
                    .map(|&(b, u)| format!("{} {}", benches[b].1, units[u]))
                    .collect();
                n.dedup();
                n.truncate(3);
                n.join(", ")
            };
            return Err(Error::NothingInCommon {
                base: files[0].0.clone(),
                base_has: names(&data[0]),
                other: files[1].0.clone(),
                other_has: names(&data[1]),
            });
        }
    }
    let mut out = Comparison::default();
    // Configuration shared by every file.
    for (k, v) in &files[0].1.config {
        if files
            .iter()
            .all(|(_, r)| r.config.iter().any(|(k2, v2)| k2 == k && v2 == v))
        {
            let _ = writeln!(out.text, "{k}: {v}");
        }
    }
    let show_pkg = benches.iter().any(|(p, _)| *p != benches[0].0);
    for (u, unit) in units.iter().enumerate() {
        let rows: Vec<usize> = (0..benches.len())
            .filter(|&b| data.iter().any(|d| d.contains_key(&(b, u))))
            .collect();
        if rows.is_empty() {
            continue;
        }
        let mut table: Vec<Vec<String>> = Vec::new();
        let mut head1 = vec![String::new()];
        let mut head2 = vec![String::new()];
        for (f, (label, _)) in files.iter().enumerate() {
            head1.push(label.clone());
            head2.push(unit.clone());
            if f > 0 {
                head1.push(String::new());
                head2.push("vs base".into());
            }
        }
        let mut centers: Vec<Vec<f64>> = vec![Vec::new(); files.len()];
        let mut complete_rows = 0;
        let mut notes = Vec::new();
        for &b in &rows {
            let name = if show_pkg {
                format!("{}/{}", benches[b].0, benches[b].1)
            } else {
                benches[b].1.clone()
            };
            let mut row = vec![name.clone()];
            let base = data[0].get(&(b, u));
            let base_summary = base.map(|v| stats::summarize(v, opts.confidence));
            let complete = data.iter().all(|d| d.contains_key(&(b, u)));
            if complete {
                complete_rows += 1;
            }
            for (f, d) in data.iter().enumerate() {
                let Some(values) = d.get(&(b, u)) else {
                    row.push("?".into());
                    if f > 0 {
                        row.push(String::new());
                    }
                    notes.push(format!("{name}: no {unit} in {}", files[f].0));
                    continue;
                };
                let s = stats::summarize(values, opts.confidence);
                if complete {
                    centers[f].push(s.center);
                }
                let spread = s.rel_spread();
                let spread = if spread.is_finite() {
                    format!("{:.0}%", spread * 100.0)
                } else {
                    "∞".into()
                };
                row.push(format!("{} ± {spread}", format_value(s.center, unit)));
                if f == 0 {
                    continue;
                }
                let (Some(bs), Some(bv)) = (base_summary, base) else {
                    row.push(String::new());
                    continue;
                };
                let p = stats::mann_whitney_p(bv, values);
                let n = if bv.len() == values.len() {
                    format!("n={}", values.len())
                } else {
                    format!("n={}+{}", bv.len(), values.len())
                };
                let delta = if bs.center != 0.0 {
                    (s.center - bs.center) / bs.center * 100.0
                } else {
                    0.0
                };
                // A change: significant, large enough, and the two medians'
                // intervals apart.
                let apart = s.lo > bs.hi || s.hi < bs.lo;
                if p < opts.alpha && delta.abs() >= opts.threshold && apart {
                    row.push(format!("{delta:+.2}% (p={p:.3} {n})"));
                    let worse = if higher_is_better(unit) { -delta } else { delta };
                    if opts.fail_on_regression.is_some_and(|limit| worse > limit) {
                        out.regressions.push(format!("{name} {unit} {delta:+.2}% (p={p:.3})"));
                    }
                } else {
                    row.push(format!("~ (p={p:.3} {n})"));
                }
            }
            table.push(row);
        }
        if complete_rows > 1 {
            let mut row = vec!["geomean".to_string()];
            let g: Vec<f64> = centers.iter().map(|c| stats::geomean(c)).collect();
            for (f, gm) in g.iter().enumerate() {
                row.push(if gm.is_finite() {
                    format_value(*gm, unit)
                } else {
                    "—".into()
                });
                if f > 0 {
                    row.push(if gm.is_finite() && g[0].is_finite() && g[0] != 0.0 {
                        format!("{:+.2}%", (gm - g[0]) / g[0] * 100.0)
                    } else {
                        String::new()
                    });
                }
            }
            table.push(row);
        }
        out.text.push('\n');
        render(&mut out.text, &head1, &head2, &table);
        for n in notes {
            let _ = writeln!(out.text, "  {n}");
        }
    }
    Ok(out)
}

/// Aligned columns with benchstat's `│` separators between files.
fn render(out: &mut String, head1: &[String], head2: &[String], rows: &[Vec<String>]) {
    let cols = head2.len();
    let width = |c: usize| {
        rows.iter()
            .map(|r| r.get(c).map_or(0, |s| s.chars().count()))
            .chain([head2[c].chars().count()])
            .max()
            .unwrap_or(0)
    };
    let widths: Vec<usize> = (0..cols).map(width).collect();
    // A file's group is its value column plus, after the first, its delta column.
    let groups: Vec<(usize, usize)> = {
        let mut g = vec![(0, 0)];
        let mut c = 1;
        while c < cols {
            let span = if c == 1 { 1 } else { 2 };
            g.push((c, c + span - 1));
            c += span;
        }
        g
    };
    // Header lines separate the files with `│`; rows keep the same columns.
    let line = |cells: &dyn Fn(usize) -> String, sep: &str| -> String {
        let mut s = format!("{:<w$}", cells(0), w = widths[0]);
        for &(a, b) in &groups[1..] {
            s.push_str(sep);
            let parts: Vec<String> = (a..=b).map(|c| format!("{:<w$}", cells(c), w = widths[c])).collect();
            s.push_str(&parts.join("  "));
        }
        if sep != "   " {
            s.push_str(" │");
        }
        s.trim_end().to_string()
    };
    // First header line: the file label over its whole group.
    let mut s = format!("{:<w$}", "", w = widths[0]);
    for &(a, b) in &groups[1..] {
        let span: usize = (a..=b).map(|c| widths[c]).sum::<usize>() + 2 * (b - a);
        s.push_str(" │ ");
        s.push_str(&format!("{:<span$}", head1[a]));
    }
    s.push_str(" │");
    let _ = writeln!(out, "{}", s.trim_end_matches(' '));
    let _ = writeln!(out, "{}", line(&|c| head2[c].clone(), " │ "));
    for r in rows {
        let text = line(&|c| r.get(c).cloned().unwrap_or_default(), "   ");
        let _ = writeln!(out, "{text}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::benchfmt::parse;

    fn results(lines: &[(&str, f64)]) -> Results {
        let mut text = String::from("goos: linux\npkg: p\n");
        for (name, ns) in lines {
            text.push_str(&format!("Benchmark{name}-2\t1000\t{ns} ns/op\t16 B/op\t1 allocs/op\n"));
        }
        parse(&text)
    }

    #[test]
    fn values_as_benchstat_prints_them() {
        assert_eq!(format_value(24640e-9, "sec/op"), "24.64µ");
        assert_eq!(format_value(0.2796e-9, "sec/op"), "279.6p");
        assert_eq!(format_value(1498480.0, "B/op"), "1.429Mi");
        assert_eq!(format_value(1992.0, "allocs/op"), "1.992k");
        assert_eq!(format_value(9.0, "allocs/op"), "9");
        assert_eq!(format_value(0.0, "B/op"), "0");
    }

    #[test]
    fn a_clear_slowdown_and_noise() {
        let old: Vec<(&str, f64)> = (0..10)
            .flat_map(|i| [("Fast", 100.0 + i as f64), ("Same", 50.0 + (i % 3) as f64)])
            .collect();
        let new: Vec<(&str, f64)> = (0..10)
            .flat_map(|i| [("Fast", 120.0 + i as f64), ("Same", 50.0 + ((i + 1) % 3) as f64)])
            .collect();
        let files = vec![
            ("old.txt".to_string(), results(&old)),
            ("new.txt".to_string(), results(&new)),
        ];
        let opts = Options {
            fail_on_regression: Some(10.0),
            ..Options::default()
        };
        let c = compare(&files, &opts).unwrap();
        let fast = c.text.lines().find(|l| l.starts_with("Fast-2")).unwrap();
        assert!(fast.contains("+19.") && fast.contains("(p=0.000 n=10)"), "{}", c.text);
        let same = c
            .text
            .lines()
            .find(|l| l.starts_with("Same-2 ") && l.contains("sec/op") || l.starts_with("Same-2"))
            .unwrap();
        assert!(same.contains("~ (p="), "{}", c.text);
        assert!(c.text.contains("geomean"), "{}", c.text);
        assert!(c.text.starts_with("goos: linux\npkg: p\n"), "{}", c.text);
        assert_eq!(c.regressions.len(), 1, "{:?}", c.regressions);
        assert!(c.regressions[0].starts_with("Fast-2 sec/op +19."));
        // B/op did not change: equal values, p = 1.
        assert!(c.text.contains("B/op"));
    }

    #[test]
    fn bad_files_are_named() {
        let empty = parse("PASS\nok  \tp\t0.1s\n");
        let e = compare(&[("a.txt".into(), empty)], &Options::default()).unwrap_err();
        assert!(matches!(e, Error::NoResults { .. }));
        let e = e.to_string();
        assert!(e.starts_with("a.txt: no benchmark results"), "{e}");
        let bad = parse("BenchmarkA-2 10 5\n");
        let e = compare(&[("bad.txt".into(), bad)], &Options::default()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "bad.txt: no benchmark results (lines such as `BenchmarkName-8  1000  123 ns/op`) (line 1: value 5 has no \
             unit)"
        );
        assert!(matches!(compare(&[], &Options::default()), Err(Error::NoFiles)));
        let a = parse("BenchmarkA-2 10 5 ns/op\n");
        let b = parse("BenchmarkB-2 10 5 widgets/op\n");
        let e = compare(&[("a.txt".into(), a), ("b.txt".into(), b)], &Options::default()).unwrap_err();
        assert!(matches!(e, Error::NothingInCommon { .. }));
        let e = e.to_string();
        assert!(
            e.contains("nothing to compare") && e.contains("A-2 sec/op") && e.contains("B-2 widgets/op"),
            "{e}"
        );
    }
}
