//! `sonde benchstat`: compares benchmark results as golang.org/x/perf's
//! `benchstat` does, and prints the same tables: one per package (`pkg:`) and
//! unit, a row per benchmark, a column per file with the median ± its 95%
//! confidence interval, and for each file after the first the change against
//! the first with the Mann-Whitney U test's p-value (exact where benchstat's is)
//! and the number of runs, a geomean row, footnotes (`¹`) for what the numbers
//! cannot say.
//!
//! Where sonde differs is when a change is reported. Benchstat reports every
//! change with p ≤ alpha. Comparing two runs of the same code, that flags a few
//! rows in every other comparison on a shared machine: whole runs drift by a
//! percent or two, and a run on a busy machine can be slower throughout, with a
//! spread as wide as the change. So a change is reported only when all of these
//! hold, and otherwise shows `~` with a footnote saying which did not:
//!
//! 1. it is significant: p ≤ `alpha` (benchstat's test);
//! 2. it is at least `threshold` percent (default 2);
//! 3. the two medians' confidence intervals do not overlap;
//! 4. it is larger than either sample's `±` (the farther end of its interval
//!    from its median): a sample whose median is uncertain by more than the
//!    change cannot size it, whatever the ranks say.
//!
//! With too few runs for a 95% interval (fewer than 6) benchstat prints `± ∞`;
//! rules 3 and 4 then take the unbounded end at the sample's extreme value, the
//! widest interval the runs give. So five runs at 1000–1004 ns/op against five
//! at 1500–1504 report `+49.90% (p=0.008 n=5)`, as benchstat does, while a run
//! whose ± is ±99% never reports a +38% change.

use std::collections::HashMap;
use std::fmt::Write;

use crate::benchfmt::Results;
use crate::stats::{self, Summary};

mod layout;

use layout::{Align, Table};

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
    /// `name unit +x% (p=... n=...)` for each reported change for the worse
    /// beyond [`Options::fail_on_regression`].
    pub regressions: Vec<String>,
}

/// The tokens of a unit, as benchstat splits it (`*`, `/`, `-` and blanks
/// separate them; after a `/` and until a `*` they are in the denominator):
/// `(byte offset, token, in the denominator)`.
fn unit_tokens(unit: &str) -> Vec<(usize, &str, bool)> {
    let mut out = Vec::new();
    let mut denominator = false;
    let mut start = None;
    for (i, c) in unit.char_indices().chain([(unit.len(), ' ')]) {
        let separator = c == '*' || c == '/' || c == '-' || c.is_whitespace();
        if separator {
            if let Some(s) = start.take() {
                out.push((s, &unit[s..i], denominator));
            }
            match c {
                '*' => denominator = false,
                '/' => denominator = true,
                _ => {}
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    out
}

/// A value in the unit benchstat shows: nanoseconds as seconds (`ns/op` →
/// `sec/op`), megabytes as bytes (`MB/s` → `B/s`), in the numerator only.
fn tidy(unit: &str, v: f64) -> (String, f64) {
    let mut out = unit.to_string();
    let mut factor = 1.0;
    for (at, token, denominator) in unit_tokens(unit).into_iter().rev() {
        let (with, f) = match (token, denominator) {
            ("ns", false) => ("sec", 1e-9),
            ("MB", false) => ("B", 1e6),
            _ => continue,
        };
        out.replace_range(at..at + token.len(), with);
        factor *= f;
    }
    (out, v * factor)
}

/// Whether a unit counts bytes (scaled by 1024: `Ki`, `Mi`).
fn is_binary(unit: &str) -> bool {
    unit_tokens(unit)
        .iter()
        .any(|&(_, t, denominator)| !denominator && matches!(t, "B" | "MB" | "bytes"))
}

/// Whether larger is better for this unit (throughputs).
fn higher_is_better(unit: &str) -> bool {
    unit.ends_with("/s")
}

/// How a row's values are printed: digits after the point, a factor and its
/// prefix.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Scale {
    digits: usize,
    factor: f64,
    prefix: &'static str,
}

impl Scale {
    fn format(&self, v: f64) -> String {
        format!("{:.*}{}", self.digits, v / self.factor, self.prefix)
    }
}

fn parse_f64(s: &str) -> f64 {
    s.parse().unwrap_or(f64::NAN)
}

/// The scale benchstat gives a row: chosen by its smallest non-zero value, so
/// that every value shows at least four significant digits with one prefix
/// (SI, or binary for bytes, no smaller than none).
fn common_scale(values: &[f64], binary: bool) -> Scale {
    let smallest = values
        .iter()
        .map(|v| v.abs())
        .filter(|&v| v != 0.0)
        .fold(f64::INFINITY, f64::min);
    if !smallest.is_finite() {
        return Scale {
            digits: 3,
            factor: 1.0,
            prefix: "",
        };
    }
    // (factor, prefix, and the values from which it shows 1, 2 or 3 digits
    // after the point: the numbers that round to 100.0, 10.00 and 1.000).
    let factors: Vec<(f64, &'static str, [f64; 3])> = if binary {
        [(40, "Ti"), (30, "Gi"), (20, "Mi"), (10, "Ki"), (0, "")]
            .into_iter()
            .map(|(e, p)| {
                let f = 2f64.powi(e);
                (f, p, [99.995 * f, 9.9995 * f, 0.99995 * f])
            })
            .collect()
    } else {
        [
            (12, "T"),
            (9, "G"),
            (6, "M"),
            (3, "k"),
            (0, ""),
            (-3, "m"),
            (-6, "µ"),
            (-9, "n"),
        ]
        .into_iter()
        .map(|(e, p)| {
            let at = |m: &str| parse_f64(&format!("{m}e{e}"));
            (at("1"), p, [at("99.995"), at("9.9995"), at(".99995")])
        })
        .collect()
    };
    for &(factor, prefix, [d1, d2, d3]) in &factors {
        for (digits, from) in [(1, d1), (2, d2), (3, d3)] {
            if smallest >= from {
                return Scale { digits, factor, prefix };
            }
        }
    }
    // Below the smallest prefix: more digits, up to ten.
    let (factor, prefix, _) = factors[factors.len() - 1];
    let scaled = smallest / factor;
    let digits = (1..=8)
        .position(|e| scaled >= parse_f64(&format!("9.9995e-{e}")))
        .map_or(10, |i| i + 3);
    Scale { digits, factor, prefix }
}

/// `1.234k`, `25.26µ`, `1.429Mi` for bytes, `16.00`: a value as benchstat
/// prints it alone (at least four significant digits, an SI prefix, or a
/// binary one for bytes).
pub fn format_value(v: f64, unit: &str) -> String {
    common_scale(&[v], is_binary(unit)).format(v)
}

/// Benchstat's `± 2%`: the farther end of the interval from the median,
/// relative to it; `∞` without a bound, `?` if an end has the other sign.
fn spread_text(s: &Summary) -> String {
    if s.lo.is_infinite() || s.hi.is_infinite() {
        return "∞".into();
    }
    let sign = |v: f64| {
        if v > 0.0 {
            1
        } else if v < 0.0 {
            -1
        } else {
            0
        }
    };
    if sign(s.center) != sign(s.lo) || sign(s.center) != sign(s.hi) {
        return "?".into();
    }
    if s.center == 0.0 {
        return "0%".into();
    }
    let v = (s.hi / s.center - 1.0).max(1.0 - s.lo / s.center);
    format!("{:.0}%", 100.0 * v)
}

/// `¹`, `²`, ... `¹⁰`.
fn superscript(i: usize) -> String {
    const DIGITS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    i.to_string().bytes().map(|d| DIGITS[usize::from(d - b'0')]).collect()
}

/// One file's values of one benchmark and unit.
struct Cell {
    values: Vec<f64>,
    summary: Summary,
    warnings: Vec<String>,
}

/// A cell against its row's base.
struct Versus {
    /// `+49.90%` or `~` (or `0.00%`, `?`).
    delta: String,
    /// `p=0.008 n=5`.
    test: String,
    warnings: Vec<String>,
    /// The change in percent, when reported.
    reported: Option<f64>,
}

fn cell(values: Vec<f64>, opts: &Options) -> Cell {
    let summary = stats::median_interval(&values, opts.confidence);
    let mut warnings = Vec::new();
    if summary.lo.is_infinite() || summary.hi.is_infinite() {
        let need = match stats::min_values_for_interval(opts.confidence) {
            Ok(n) => format!(">= {n}"),
            Err(n) => format!("> {n}"),
        };
        warnings.push(format!(
            "need {need} samples for confidence interval at level {}",
            opts.confidence
        ));
    }
    Cell {
        values,
        summary,
        warnings,
    }
}

/// The interval of a sample's median with an unbounded end (too few runs)
/// taken at the sample's extreme value.
fn bounded(c: &Cell) -> (f64, f64) {
    let (lo, hi) = (c.summary.lo, c.summary.hi);
    let min = c.values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = c.values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (
        if lo.is_finite() { lo } else { min },
        if hi.is_finite() { hi } else { max },
    )
}

/// Why a significant change of `pct` percent is not reported (rules 2 to 4 of
/// the module's documentation), if it is not.
fn not_reported(base: &Cell, new: &Cell, pct: f64, opts: &Options) -> Option<String> {
    if pct.abs() < opts.threshold {
        return Some(format!(
            "significant, but less than the {}% threshold (--threshold)",
            opts.threshold
        ));
    }
    let (b_lo, b_hi) = bounded(base);
    let (n_lo, n_hi) = bounded(new);
    if !(n_lo > b_hi || n_hi < b_lo) {
        return Some(format!(
            "significant, but the medians' {}% intervals overlap",
            opts.confidence * 100.0
        ));
    }
    // The farther end from the median, in percent of it: the `±`.
    let reach = |c: &Cell, lo: f64, hi: f64| {
        let m = c.summary.center;
        (m - lo).max(hi - m) / m.abs() * 100.0
    };
    if reach(base, b_lo, b_hi) >= pct.abs() || reach(new, n_lo, n_hi) >= pct.abs() {
        return Some(
            "significant, but a sample's ± is as large as the change: too noisy to size it (more runs, a quieter \
             machine)"
                .into(),
        );
    }
    None
}

fn versus(base: &Cell, new: &Cell, opts: &Options) -> Versus {
    let t = stats::mann_whitney(&base.values, &new.values);
    let mut warnings = Vec::new();
    if t.method == stats::UMethod::AllEqual {
        warnings.push("all samples are equal".to_string());
    } else if t.p > opts.alpha {
        let (need, text) = match stats::min_values_for_u_test(opts.alpha) {
            Ok(n) => (n, format!(">= {n}")),
            Err(n) => (n + 1, format!("> {n}")),
        };
        if t.n1 < need && t.n2 < need {
            warnings.push(format!(
                "need {text} samples to detect a difference at alpha level {}",
                opts.alpha
            ));
        }
    }
    let mut test = if t.p != 0.0 {
        format!("p={:.3} ", t.p)
    } else {
        String::new()
    };
    if t.n1 == t.n2 {
        let _ = write!(test, "n={}", t.n1);
    } else {
        let _ = write!(test, "n={}+{}", t.n1, t.n2);
    }
    let (old, new_center) = (base.summary.center, new.summary.center);
    let mut out = Versus {
        delta: "~".into(),
        test,
        warnings,
        reported: None,
    };
    if t.p > opts.alpha {
        return out;
    }
    if old == 0.0 && new_center != 0.0 {
        out.delta = "?".into();
        return out;
    }
    let pct = if old == new_center {
        0.0
    } else {
        (new_center / old - 1.0) * 100.0
    };
    match not_reported(base, new, pct, opts) {
        Some(why) => out.warnings.push(why),
        None => {
            out.delta = if old == new_center {
                "0.00%".into()
            } else {
                format!("{pct:+.2}%")
            };
            out.reported = Some(pct);
        }
    }
    out
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
    // Packages, units and benchmark names in order of first appearance; the
    // values of each (package, unit, name, file).
    let mut pkgs: Vec<&str> = Vec::new();
    let mut units: Vec<String> = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    let mut data: HashMap<(usize, usize, usize, usize), Vec<f64>> = HashMap::new();
    let index = |list: &mut Vec<_>, item| {
        list.iter().position(|x| *x == item).unwrap_or_else(|| {
            list.push(item);
            list.len() - 1
        })
    };
    for (f, (_, r)) in files.iter().enumerate() {
        for rec in &r.records {
            let p = index(&mut pkgs, rec.pkg.as_str());
            let n = index(&mut names, rec.name.as_str());
            for (unit, v) in &rec.values {
                let (unit, v) = tidy(unit, *v);
                let u = units.iter().position(|x| *x == unit).unwrap_or_else(|| {
                    units.push(unit);
                    units.len() - 1
                });
                data.entry((p, u, n, f)).or_default().push(v);
            }
        }
    }
    if files.len() > 1 {
        let shared = data
            .keys()
            .any(|&(p, u, n, _)| (0..files.len()).all(|f| data.contains_key(&(p, u, n, f))));
        if !shared {
            let has = |file: usize| {
                let mut keys: Vec<(usize, usize)> = data
                    .keys()
                    .filter(|k| k.3 == file)
                    .map(|&(_, u, n, _)| (n, u))
                    .collect();
                keys.sort();
                keys.dedup();
                let list: Vec<String> = keys
                    .iter()
                    .take(3)
                    .map(|&(n, u)| format!("{} {}", names[n], units[u]))
                    .collect();
                list.join(", ")
            };
            return Err(Error::NothingInCommon {
                base: files[0].0.clone(),
                base_has: has(0),
                other: files[1].0.clone(),
                other_has: has(1),
            });
        }
    }
    let mut tables: Vec<(usize, usize)> = data.keys().map(|&(p, u, _, _)| (p, u)).collect();
    tables.sort();
    tables.dedup();

    let mut out = Comparison::default();
    let several_pkgs = pkgs.len() > 1;
    for (i, &(p, u)) in tables.iter().enumerate() {
        if i == 0 {
            header(&mut out.text, files, pkgs[p]);
        } else {
            out.text.push('\n');
            let previous = tables[i - 1].0;
            if previous != p {
                let _ = writeln!(out.text, "pkg: {}", pkgs[p]);
            }
        }
        let cols: Vec<usize> = (0..files.len())
            .filter(|&f| data.keys().any(|k| (k.0, k.1, k.3) == (p, u, f)))
            .collect();
        let rows: Vec<usize> = (0..names.len())
            .filter(|&n| cols.iter().any(|&f| data.contains_key(&(p, u, n, f))))
            .collect();
        let mut grid = Grid {
            unit: &units[u],
            labels: cols.iter().map(|&f| files[f].0.as_str()).collect(),
            rows: Vec::new(),
        };
        for &n in &rows {
            let cells: Vec<Option<Cell>> = cols
                .iter()
                .map(|&f| data.get(&(p, u, n, f)).map(|v| cell(v.clone(), opts)))
                .collect();
            let vs: Vec<Option<Versus>> = cells
                .iter()
                .enumerate()
                .map(|(c, x)| match (c, &cells[0], x) {
                    (1.., Some(base), Some(x)) => Some(versus(base, x, opts)),
                    _ => None,
                })
                .collect();
            let name = if several_pkgs && !pkgs[p].is_empty() {
                format!("{}/{}", pkgs[p], names[n])
            } else {
                names[n].to_string()
            };
            for v in vs.iter().flatten() {
                let Some(pct) = v.reported else { continue };
                let worse = if higher_is_better(&units[u]) { -pct } else { pct };
                if opts.fail_on_regression.is_some_and(|limit| worse > limit) {
                    out.regressions
                        .push(format!("{name} {} {} ({})", units[u], v.delta, v.test));
                }
            }
            grid.rows.push(Row {
                name: names[n].to_string(),
                cells,
                vs,
            });
        }
        out.text.push_str(&grid.render());
    }
    Ok(out)
}

/// The configuration lines before the first table: each `key: value` every
/// file has alike, in the first file's order, and the first table's package.
fn header(out: &mut String, files: &[(String, Results)], first_pkg: &str) {
    let mut pkg_done = false;
    for (k, v) in &files[0].1.config {
        if k == "pkg" {
            if !first_pkg.is_empty() {
                let _ = writeln!(out, "pkg: {first_pkg}");
            }
            pkg_done = true;
        } else if files
            .iter()
            .all(|(_, r)| r.config.iter().any(|(k2, v2)| k2 == k && v2 == v))
        {
            let _ = writeln!(out, "{k}: {v}");
        }
    }
    if !pkg_done && !first_pkg.is_empty() {
        let _ = writeln!(out, "pkg: {first_pkg}");
    }
}

/// One table's cells, before layout.
struct Grid<'a> {
    unit: &'a str,
    labels: Vec<&'a str>,
    rows: Vec<Row>,
}

/// A benchmark's row: its name, a cell per column (if the file has it), and
/// each cell against the row's base.
struct Row {
    name: String,
    cells: Vec<Option<Cell>>,
    vs: Vec<Option<Versus>>,
}

impl Grid<'_> {
    /// The table as benchstat lays it out: per file, a group of columns
    /// (value, `± spread`, footnotes) and after the first, (change, `(p=... n=...)`,
    /// footnotes); the file's name centred over its group, the unit over the
    /// values; the geomean row; the footnotes.
    fn render(&self) -> String {
        const VALUE_COLS: usize = 3;
        const DELTA_COLS: usize = 3;
        let start = |file: usize| match file {
            0 => 1,
            f => 1 + VALUE_COLS + (f - 1) * (VALUE_COLS + DELTA_COLS),
        };
        let files = self.labels.len();
        let edge = start(files + 1);
        let mut notes: Vec<String> = Vec::new();
        let mut t = Table::default();
        let mut footnote = |t: &mut Table, warnings: &[&[String]]| {
            let marks: Vec<String> = warnings
                .iter()
                .flat_map(|w| w.iter())
                .map(|w| {
                    let i = notes.iter().position(|n| n == w).unwrap_or_else(|| {
                        notes.push(w.clone());
                        notes.len() - 1
                    });
                    superscript(i + 1)
                })
                .collect();
            t.cell(&marks.join(" "), Align::Left, None);
        };

        t.row();
        for (f, label) in self.labels.iter().enumerate() {
            t.col(start(f))
                .span(start(f + 1) - start(f), label, Align::Center, Some(" │ "));
        }
        t.col(edge).cell("", Align::Left, Some(" │"));
        t.row();
        for f in 0..files {
            let l = start(f);
            t.col(l).span(VALUE_COLS, self.unit, Align::Center, Some(" │ "));
            if f > 0 {
                t.span(DELTA_COLS, "vs base", Align::Left, Some("  "));
            }
            for c in l + 1..t.current_col() {
                t.set_narrow(c);
            }
        }
        t.col(edge).cell("", Align::Left, Some(" │"));

        let binary = is_binary(self.unit);
        for Row { name, cells, vs } in &self.rows {
            t.row();
            t.cell(name, Align::Left, None);
            let centers: Vec<f64> = cells.iter().flatten().map(|c| c.summary.center).collect();
            let scale = common_scale(&centers, binary);
            for (f, c) in cells.iter().enumerate() {
                let Some(c) = c else { continue };
                t.col(start(f));
                t.cell(&scale.format(c.summary.center), Align::Right, None);
                t.cell(&spread_text(&c.summary), Align::Right, Some(" ± "));
                footnote(&mut t, &[&c.warnings]);
                if let Some(v) = &vs[f] {
                    t.cell(&v.delta, Align::Right, None);
                    t.cell(&format!("({})", v.test), Align::Left, None);
                    footnote(&mut t, &[&v.warnings]);
                }
            }
        }

        if self.rows.len() > 1 {
            t.row();
            t.cell("geomean", Align::Left, None);
            let with_base = self.rows.iter().filter(|r| r.cells[0].is_some()).count();
            for f in 0..files {
                let mut warnings = Vec::new();
                let centers: Vec<f64> = self
                    .rows
                    .iter()
                    .filter_map(|r| r.cells[f].as_ref().map(|c| c.summary.center))
                    .collect();
                // Ratios to the base, 0/0 counting as 1.
                let ratios: Vec<Option<f64>> = self
                    .rows
                    .iter()
                    .filter_map(|r| match (&r.cells[0], &r.cells[f]) {
                        (Some(b), Some(c)) if f > 0 => {
                            let (a, b) = (c.summary.center, b.summary.center);
                            Some(if a == b {
                                Some(1.0)
                            } else if b == 0.0 {
                                None
                            } else {
                                Some(a / b)
                            })
                        }
                        _ => None,
                    })
                    .collect();
                if f > 0 && ratios.len() != with_base {
                    warnings.push("benchmark set differs from baseline; geomeans may not be comparable".to_string());
                }
                let gm = stats::geomean(&centers);
                if gm.is_nan() {
                    warnings.push("summaries must be >0 to compute geomean".to_string());
                } else {
                    t.col(start(f)).cell(&format_value(gm, self.unit), Align::Right, None);
                }
                if f > 0 {
                    t.col(start(f) + VALUE_COLS);
                    let ratios: Option<Vec<f64>> = ratios.into_iter().collect();
                    match ratios.map(|r| stats::geomean(&r)) {
                        Some(g) if !g.is_nan() => {
                            t.cell(&format!("{:+.2}%", (g - 1.0) * 100.0), Align::Right, None);
                        }
                        Some(_) => {
                            warnings.push("ratios must be >0 to compute geomean".to_string());
                            t.cell("?", Align::Left, None);
                        }
                        None => {
                            t.cell("?", Align::Left, None);
                        }
                    }
                }
                t.col(start(f + 1) - 1);
                footnote(&mut t, &[&warnings]);
            }
        }

        let mut text = t.render();
        for (i, n) in notes.iter().enumerate() {
            let _ = writeln!(text, "{} {n}", superscript(i + 1));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::benchfmt::parse;

    /// Compares files given as (label, text).
    fn run(files: &[(&str, &str)], opts: &Options) -> Comparison {
        let files: Vec<(String, Results)> = files.iter().map(|(l, t)| (l.to_string(), parse(t))).collect();
        compare(&files, opts).expect("compare")
    }

    /// Results text: a header, then `name value` lines as `ns/op`.
    fn lines(header: &str, runs: &[(&str, f64)]) -> String {
        let mut text = header.to_string();
        for (name, ns) in runs {
            text.push_str(&format!("Benchmark{name} 1000 {ns} ns/op\n"));
        }
        text
    }

    #[test]
    fn values_as_benchstat_prints_them() {
        assert_eq!(format_value(24640e-9, "sec/op"), "24.64µ");
        assert_eq!(format_value(0.2796e-9, "sec/op"), "0.2796n");
        assert_eq!(format_value(1498480.0, "B/op"), "1.429Mi");
        assert_eq!(format_value(1992.0, "allocs/op"), "1.992k");
        assert_eq!(format_value(9.0, "allocs/op"), "9.000");
        assert_eq!(format_value(16.0, "B/op"), "16.00");
        assert_eq!(format_value(0.0, "B/op"), "0.000");
        assert_eq!(format_value(1020.0 * 1024.0, "B/s"), "1020.0Ki");
        // A row shares the scale of its smallest value (benchstat's
        // `237.50n ± 4%   56.75n ± 3%`).
        let s = common_scale(&[237.5e-9, 56.75e-9], false);
        assert_eq!(
            (s.format(237.5e-9), s.format(56.75e-9)),
            ("237.50n".into(), "56.75n".into())
        );
        assert_eq!(tidy("ns/op", 1500.0), ("sec/op".into(), 1500.0 * 1e-9));
        assert_eq!(tidy("MB/s", 2.0), ("B/s".into(), 2e6));
        assert_eq!(tidy("ns/MB", 1.0), ("sec/MB".into(), 1e-9));
        assert!(is_binary("B/op") && is_binary("MB/s") && !is_binary("allocs/op") && !is_binary("ops/B"));
        assert_eq!(superscript(12), "¹²");
    }

    #[test]
    fn five_runs_each_show_a_real_change() {
        // Go's benchstat prints exactly this for these files.
        let old = lines(
            "pkg: p\n",
            &(1000..1005).map(|v| ("X-2", f64::from(v))).collect::<Vec<_>>(),
        );
        let new = lines(
            "pkg: p\n",
            &(1500..1505).map(|v| ("X-2", f64::from(v))).collect::<Vec<_>>(),
        );
        let opts = Options {
            fail_on_regression: Some(5.0),
            ..Options::default()
        };
        let c = run(&[("old.txt", &old), ("new.txt", &new)], &opts);
        assert_eq!(
            c.text,
            "pkg: p\n    │   old.txt    │               new.txt               │\n    │    sec/op    │    sec/op     vs \
             base               │\nX-2   1.002µ ± ∞ ¹   1.502µ ± ∞ ¹  +49.90% (p=0.008 n=5)\n¹ need >= 6 samples \
             for confidence interval at level 0.95\n"
        );
        assert_eq!(c.regressions, ["X-2 sec/op +49.90% (p=0.008 n=5)"]);
        // The same with one tie in the old runs: the exact test still.
        let tied = lines(
            "pkg: p\n",
            &[1000.0, 1001.0, 1002.0, 1003.0, 1003.0].map(|v| ("X-2", v)),
        );
        let c = run(&[("old.txt", &tied), ("new.txt", &new)], &opts);
        assert!(c.text.contains("+49.90% (p=0.008 n=5)"), "{}", c.text);
        assert_eq!(c.regressions.len(), 1);
        // A speedup is no regression; four runs each are still enough.
        let c = run(&[("new.txt", &new), ("old.txt", &old)], &opts);
        assert!(
            c.text.contains("-33.29% (p=0.008 n=5)") && c.regressions.is_empty(),
            "{}",
            c.text
        );
        let four = |from: u32| lines("", &(from..from + 4).map(|v| ("X-2", f64::from(v))).collect::<Vec<_>>());
        let c = run(&[("old.txt", &four(1000)), ("new.txt", &four(1500))], &opts);
        assert!(c.text.contains("+49.93% (p=0.029 n=4)"), "{}", c.text);
    }

    #[test]
    fn a_noisy_run_of_the_same_code_is_not_a_change() {
        // Two runs of identical code, the second on a busy machine: slower
        // throughout (p=0.000) and intervals apart, but its median is uncertain
        // by ±99%. Go's benchstat prints `+38.58% (p=0.000 n=10)`.
        let quiet = [29.8, 29.9, 29.95, 30.0, 30.0, 30.0, 30.05, 30.1, 30.2, 30.3];
        let busy = [35.1, 36.0, 38.0, 40.0, 41.5, 41.65, 55.0, 70.0, 82.7, 95.0];
        let a = lines("pkg: p\n", &quiet.map(|v| ("Parallel-2", v)));
        let b = lines("pkg: p\n", &busy.map(|v| ("Parallel-2", v)));
        let opts = Options {
            fail_on_regression: Some(5.0),
            ..Options::default()
        };
        let c = run(&[("a.txt", &a), ("b.txt", &b)], &opts);
        let row = c.text.lines().find(|l| l.starts_with("Parallel-2")).unwrap();
        assert!(
            row.contains("30.00n ± 1%   41.57n ± 99%  ~ (p=0.000 n=10) ¹"),
            "{}",
            c.text
        );
        assert!(
            c.text
                .contains("¹ significant, but a sample's ± is as large as the change"),
            "{}",
            c.text
        );
        assert!(c.regressions.is_empty());
        // The same spread with a change larger than it is reported.
        let slower = busy.map(|v| ("Parallel-2", v * 3.0));
        let c = run(&[("a.txt", &a), ("b.txt", &lines("pkg: p\n", &slower))], &opts);
        assert!(c.text.contains("+315.75% (p=0.000 n=10)"), "{}", c.text);
        assert_eq!(c.regressions.len(), 1);
    }

    #[test]
    fn drift_between_runs_stays_quiet() {
        // Whole runs 1% apart, every run of one below every run of the other:
        // significant, under the threshold.
        let old: Vec<(&str, f64)> = (0..10).map(|i| ("Fib-2", 100.0 + 0.05 * f64::from(i))).collect();
        let new: Vec<(&str, f64)> = old.iter().map(|&(n, v)| (n, v * 1.01)).collect();
        let c = run(&[("a", &lines("", &old)), ("b", &lines("", &new))], &Options::default());
        assert!(c.text.contains("~ (p=0.000 n=10) ¹"), "{}", c.text);
        assert!(
            c.text
                .contains("¹ significant, but less than the 2% threshold (--threshold)"),
            "{}",
            c.text
        );
        // 5% apart with one sample spread over ±9%: the intervals overlap.
        let wide: Vec<(&str, f64)> = [100.0, 100.5, 101.0, 101.5, 102.0, 108.0, 108.5, 109.0, 109.5, 110.0]
            .iter()
            .map(|&v| ("Fib-2", v))
            .collect();
        let shifted: Vec<(&str, f64)> = (0..10).map(|i| ("Fib-2", 109.0 + 0.1 * f64::from(i))).collect();
        let c = run(
            &[("a", &lines("", &wide)), ("b", &lines("", &shifted))],
            &Options::default(),
        );
        assert!(c.text.contains("~ (p=0.008 n=10) ¹"), "{}", c.text);
        assert!(
            c.text.contains("¹ significant, but the medians' 95% intervals overlap"),
            "{}",
            c.text
        );
        // --threshold 0 and a clear change: reported as benchstat does.
        let far: Vec<(&str, f64)> = old.iter().map(|&(n, v)| (n, v * 1.2)).collect();
        let c = run(&[("a", &lines("", &old)), ("b", &lines("", &far))], &Options::default());
        assert!(c.text.contains("+20.00% (p=0.000 n=10)"), "{}", c.text);
    }

    #[test]
    fn several_packages_and_a_long_file_name_as_benchstat() {
        // Two `pkg:` blocks, three units, a file name wider than its column,
        // equal samples and zero geomeans: Go's benchstat prints exactly this.
        let mut text = String::from("goos: linux\ngoarch: amd64\npkg: example.com/a\ncpu: Intel Xeon\n");
        let mut line = |name: &str, ns: f64, bytes: u32, allocs: u32| {
            text.push_str(&format!(
                "Benchmark{name}-2 100 {ns} ns/op {bytes} B/op {allocs} allocs/op\n"
            ));
        };
        (0..6).for_each(|i| line("Foo", 100.0 + f64::from(i), 16, 1));
        let mut old = text.clone() + "pkg: example.com/b\n";
        for i in 0..6 {
            old.push_str(&format!("BenchmarkBar-2 100 {} ns/op 0 B/op 0 allocs/op\n", 200 + i));
        }
        for _ in 0..6 {
            old.push_str("BenchmarkBaz-2 100 300 ns/op 0 B/op 0 allocs/op\n");
        }
        let new = old.replace(" 10", " 11").replace("100 11", "100 10");
        let c = run(
            &[
                ("m1.txt", &old),
                ("a_rather_long_file_name_for_the_new_results.txt", &new),
            ],
            &Options::default(),
        );
        assert_eq!(c.text, GOLDEN_PACKAGES, "\n{}", c.text);
    }

    const GOLDEN_PACKAGES: &str = "goos: linux
goarch: amd64
pkg: example.com/a
cpu: Intel Xeon
      │   m1.txt    │ a_rather_long_file_name_for_the_new_results.txt │
      │   sec/op    │          sec/op            vs base              │
Foo-2   102.5n ± 2%                 112.5n ± 2%  +9.76% (p=0.002 n=6)

      │   m1.txt   │ a_rather_long_file_name_for_the_new_results.txt │
      │    B/op    │             B/op              vs base           │
Foo-2   16.00 ± 0%                     16.00 ± 0%  ~ (p=1.000 n=6) ¹
¹ all samples are equal

      │   m1.txt   │ a_rather_long_file_name_for_the_new_results.txt │
      │ allocs/op  │          allocs/op            vs base           │
Foo-2   1.000 ± 0%                     1.000 ± 0%  ~ (p=1.000 n=6) ¹
¹ all samples are equal

pkg: example.com/b
        │   m1.txt    │ a_rather_long_file_name_for_the_new_results.txt │
        │   sec/op    │         sec/op           vs base                │
Bar-2     202.5n ± 1%               202.5n ± 1%       ~ (p=1.000 n=6)
Baz-2     300.0n ± 0%               300.0n ± 0%       ~ (p=1.000 n=6) ¹
geomean   246.5n                    246.5n       +0.00%
¹ all samples are equal

        │    m1.txt    │ a_rather_long_file_name_for_the_new_results.txt │
        │     B/op     │          B/op            vs base                │
Bar-2     0.000 ± 0%                  0.000 ± 0%       ~ (p=1.000 n=6) ¹
Baz-2     0.000 ± 0%                  0.000 ± 0%       ~ (p=1.000 n=6) ¹
geomean              ²                            +0.00%               ²
¹ all samples are equal
² summaries must be >0 to compute geomean

        │    m1.txt    │ a_rather_long_file_name_for_the_new_results.txt │
        │  allocs/op   │        allocs/op         vs base                │
Bar-2     0.000 ± 0%                  0.000 ± 0%       ~ (p=1.000 n=6) ¹
Baz-2     0.000 ± 0%                  0.000 ± 0%       ~ (p=1.000 n=6) ¹
geomean              ²                            +0.00%               ²
¹ all samples are equal
² summaries must be >0 to compute geomean
";

    #[test]
    fn the_example_of_benchstats_documentation() {
        let header = "goos: linux\ngoarch: amd64\npkg: golang.org/x/perf/cmd/benchstat/testdata\n";
        let runs = |json: [f64; 10], gob: [f64; 10]| {
            let json = json.map(|v| ("Encode/format=json-48", v));
            let gob = gob.map(|v| ("Encode/format=gob-48", v));
            lines(header, &[&json[..], &gob[..]].concat())
        };
        let old = runs(
            [
                1726.0, 1723.0, 1707.0, 1707.0, 1713.0, 1729.0, 1736.0, 1707.0, 1705.0, 1774.0,
            ],
            [
                3069.0, 3075.0, 3069.0, 3067.0, 3207.0, 3064.0, 3064.0, 3058.0, 3059.0, 3062.0,
            ],
        );
        let new = runs(
            [
                1423.0, 1416.0, 1411.0, 1413.0, 1412.0, 1426.0, 1422.0, 1424.0, 1447.0, 1425.0,
            ],
            [
                3075.0, 3065.0, 3059.0, 3065.0, 3060.0, 3081.0, 3186.0, 3135.0, 3087.0, 3062.0,
            ],
        );
        let c = run(&[("old.txt", &old), ("new.txt", &new)], &Options::default());
        let want = "goos: linux
goarch: amd64
pkg: golang.org/x/perf/cmd/benchstat/testdata
                      │   old.txt   │               new.txt               │
                      │   sec/op    │   sec/op     vs base                │
Encode/format=json-48   1.718µ ± 1%   1.423µ ± 1%  -17.20% (p=0.000 n=10)
Encode/format=gob-48    3.066µ ± 0%   3.070µ ± 2%        ~ (p=0.446 n=10)
geomean                 2.295µ        2.090µ        -8.94%
";
        assert_eq!(c.text, want);
    }

    #[test]
    fn benchmarks_missing_from_a_file() {
        let a = lines(
            "",
            &[("A", 100.0); 6]
                .iter()
                .chain(&[("B", 10000.0); 6])
                .copied()
                .collect::<Vec<_>>(),
        );
        let b = lines(
            "",
            &[("A", 100.0); 6]
                .iter()
                .chain(&[("C", 10000.0); 6])
                .copied()
                .collect::<Vec<_>>(),
        );
        let c = run(&[("issue19565.a", &a), ("issue19565.b", &b)], &Options::default());
        // As Go's benchstat prints it.
        let want = "        │ issue19565.a │            issue19565.b             │
        │    sec/op    │   sec/op     vs base                │
A          100.0n ± 0%   100.0n ± 0%       ~ (p=1.000 n=6) ¹
B          10.00µ ± 0%
C                        10.00µ ± 0%
geomean    1.000µ        1.000µ       +0.00%               ²
¹ all samples are equal
² benchmark set differs from baseline; geomeans may not be comparable
";
        assert_eq!(c.text, want);
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
