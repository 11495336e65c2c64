//! The harness's command line: Go's `go test -bench` flags, spelled `--flag` (or
//! `-flag`, or `-test.flag` as Go's test binaries take them), usable after
//! `cargo bench --`.

use std::path::PathBuf;
use std::time::Duration;

use regex_lite::Regex;

/// How long each benchmark runs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum BenchTime {
    /// At most this long per benchmark (sampling stops earlier once the median
    /// is known to within 1%).
    Duration(Duration),
    /// Exactly this many iterations (`100x`), as Go does.
    Iterations(u64),
}

/// Parsed flags.
#[derive(Debug)]
pub(crate) struct Options {
    /// `--bench`: one pattern per level of `/`-separated names.
    pub filter: Vec<Regex>,
    pub benchtime: BenchTime,
    pub count: u32,
    pub benchmem: bool,
    pub cpu: Vec<usize>,
    pub cpuprofile: Option<PathBuf>,
    pub memprofile: Option<PathBuf>,
    pub json: bool,
    /// `--list`: print the names matching this (None: all) and exit.
    pub list: Option<Vec<Regex>>,
    /// Started by `cargo test` (no harness flag at all, as `cargo test
    /// --all-targets` or `cargo test --benches` run bench binaries): run each
    /// selected benchmark once to check that it works, as criterion and divan
    /// do, and report like libtest.
    pub test_mode: bool,
}

/// The harness's own flags (any of them means a benchmark run).
const FLAGS: &[&str] = &[
    "bench",
    "benchtime",
    "count",
    "benchmem",
    "cpu",
    "cpuprofile",
    "memprofile",
    "json",
    "list",
    "help",
    "h",
];

/// libtest's flags that `cargo test` may pass on, with whether they take a
/// value; accepted and ignored in test mode.
const LIBTEST_FLAGS: &[(&str, bool)] = &[
    ("nocapture", false),
    ("show-output", false),
    ("quiet", false),
    ("q", false),
    ("exact", false),
    ("ignored", false),
    ("include-ignored", false),
    ("test", false),
    ("force-run-in-process", false),
    ("shuffle", false),
    ("report-time", false),
    ("test-threads", true),
    ("color", true),
    ("format", true),
    ("skip", true),
    ("logfile", true),
    ("shuffle-seed", true),
    ("Z", true),
];

/// A flag's name: without dashes, Go's `test.` prefix and an `=value`.
fn flag_name(arg: &str) -> Option<&str> {
    if !arg.starts_with('-') || arg == "-" {
        return None;
    }
    let flag = arg.trim_start_matches('-');
    let flag = flag.strip_prefix("test.").unwrap_or(flag);
    Some(flag.split_once('=').map_or(flag, |(n, _)| n))
}

const HELP: &str = "\
flags (as `go test -bench`; after `cargo bench --`):
  --bench REGEX       run the benchmarks matching REGEX (per level: Fib/Size1.*)
  --benchtime D|Nx    at most D per benchmark (default 1s; sampling stops once the
                      median is known to within 1%), or exactly N iterations (100x)
  --count N           run the benchmarks N times over (default 1), e.g. for benchstat
  --benchmem          report B/op and allocs/op for every benchmark
  --cpu LIST          thread counts for parallel benchmarks, e.g. 1,2,4 (name suffix -N)
  --cpuprofile FILE   write a CPU profile of the benchmarked code (pprof format)
  --memprofile FILE   write an allocation profile of the benchmarked code
  --json              print one JSON object per result instead of Go's text lines
  --list [REGEX]      list the benchmarks (matching REGEX) and exit
  --help              show this";

/// What is wrong with the command line; every message ends the run (exit code 2).
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// `--help`: the flags' list.
    #[error("{HELP}")]
    Help,
    /// A flag that is not one of the harness's (nor, under `cargo test`, libtest's).
    #[error("unknown flag {arg:?}\n\n{HELP}")]
    UnknownFlag {
        /// The argument as given.
        arg: String,
    },
    /// A flag that takes a value came last, or before another flag.
    #[error("flag --{flag} needs a value\n\n{HELP}")]
    NeedsValue {
        /// The flag's name.
        flag: String,
    },
    /// `--count` is not a positive whole number.
    #[error("--count {value:?}: want a positive whole number")]
    Count {
        /// The value given.
        value: String,
    },
    /// A yes/no flag with a value other than true, false, 1 or 0.
    #[error("--{flag}={value}: want true or false")]
    Bool {
        /// The flag's name.
        flag: String,
        /// The value given.
        value: String,
    },
    /// `--benchtime` is neither a duration nor an iteration count.
    #[error("--benchtime {value:?}: want a duration such as 1s, 500ms or 1m30s, or an iteration count such as 100x")]
    BenchTime {
        /// The value given.
        value: String,
    },
    /// `--cpu` is not a list of positive thread counts.
    #[error("--cpu {value:?}: want a list of positive thread counts such as 1,2,4")]
    Cpu {
        /// The value given.
        value: String,
    },
    /// A `--bench` or `--list` pattern is not a valid regular expression.
    #[error("--bench {pattern:?}: {source}")]
    Pattern {
        /// The pattern given.
        pattern: String,
        /// Why it does not compile.
        source: regex_lite::Error,
    },
    /// The names `cargo test` passed do not make a filter (too long).
    #[error("{0}")]
    Names(regex_lite::Error),
}

impl Options {
    /// Parses the arguments after the program name. Positional arguments (as
    /// `cargo bench -- NAME` passes them) filter like `--bench`. A bare `--bench`
    /// (what `cargo bench` appends) selects everything.
    pub(crate) fn parse(args: &[String]) -> Result<Options, Error> {
        if !args.iter().any(|a| flag_name(a).is_some_and(|n| FLAGS.contains(&n))) {
            return Self::parse_test_mode(args);
        }
        let mut o = Options::defaults();
        let mut patterns: Vec<String> = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            i += 1;
            if !arg.starts_with('-') || arg == "-" {
                patterns.push(arg.clone());
                continue;
            }
            let flag = arg.trim_start_matches('-');
            let flag = flag.strip_prefix("test.").unwrap_or(flag);
            let (name, inline) = match flag.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (flag, None),
            };
            // The next argument as this flag's value, unless it is another flag.
            let mut value = |optional: bool| -> Result<Option<String>, Error> {
                if let Some(v) = inline.clone() {
                    return Ok(Some(v));
                }
                match args.get(i) {
                    Some(v) if !v.starts_with('-') || v == "-" => {
                        i += 1;
                        Ok(Some(v.clone()))
                    }
                    _ if optional => Ok(None),
                    _ => Err(Error::NeedsValue { flag: name.to_string() }),
                }
            };
            match name {
                "bench" => {
                    if let Some(v) = value(true)? {
                        patterns.push(v);
                    }
                }
                "benchtime" => o.benchtime = parse_benchtime(&value(false)?.unwrap_or_default())?,
                "count" => {
                    let v = value(false)?.unwrap_or_default();
                    o.count = v.parse().ok().filter(|&c| c > 0).ok_or(Error::Count { value: v })?;
                }
                "benchmem" => o.benchmem = parse_bool(name, inline.as_deref())?,
                "json" => o.json = parse_bool(name, inline.as_deref())?,
                "cpu" => o.cpu = parse_cpu(&value(false)?.unwrap_or_default())?,
                "cpuprofile" => o.cpuprofile = Some(user_path(value(false)?.unwrap_or_default())),
                "memprofile" => o.memprofile = Some(user_path(value(false)?.unwrap_or_default())),
                "list" => {
                    o.list = Some(match value(true)? {
                        Some(v) => compile_levels(&v)?,
                        None => Vec::new(),
                    })
                }
                "help" | "h" => return Err(Error::Help),
                _ => return Err(Error::UnknownFlag { arg: arg.clone() }),
            }
        }
        if !patterns.is_empty() {
            o.filter = compile_levels(&patterns.join("|"))?;
        }
        Ok(o)
    }

    /// Go's defaults: everything, 1s, once, on all CPUs.
    fn defaults() -> Options {
        Options {
            filter: Vec::new(),
            benchtime: BenchTime::Duration(Duration::from_secs(1)),
            count: 1,
            benchmem: false,
            cpu: vec![std::thread::available_parallelism().map_or(1, |n| n.get())],
            cpuprofile: None,
            memprofile: None,
            json: false,
            list: None,
            test_mode: false,
        }
    }

    /// `cargo test`'s arguments: libtest's flags, ignored, and names, which
    /// select the benchmarks whose names contain one of them.
    fn parse_test_mode(args: &[String]) -> Result<Options, Error> {
        let mut names = Vec::new();
        let mut i = 0;
        while i < args.len() {
            let arg = &args[i];
            i += 1;
            let Some(name) = flag_name(arg) else {
                names.push(regex_lite::escape(arg));
                continue;
            };
            match LIBTEST_FLAGS.iter().find(|(f, _)| *f == name) {
                Some((_, true)) if !arg.contains('=') => i += 1,
                Some(_) => {}
                None => return Err(Error::UnknownFlag { arg: arg.clone() }),
            }
        }
        Ok(Options {
            filter: if names.is_empty() {
                Vec::new()
            } else {
                vec![Regex::new(&names.join("|")).map_err(Error::Names)?]
            },
            benchtime: BenchTime::Iterations(1),
            test_mode: true,
            ..Options::defaults()
        })
    }

    /// Whether a benchmark named by `levels` (`["BenchmarkFib", "Size10"]`) is
    /// selected: each level's pattern must match its name part; levels beyond
    /// the patterns are all selected.
    pub(crate) fn selects(&self, levels: &[&str]) -> bool {
        matches_levels(&self.filter, levels)
    }
}

/// Whether each of `patterns` matches the name part at its level.
pub(crate) fn matches_levels(patterns: &[Regex], levels: &[&str]) -> bool {
    patterns.iter().zip(levels).all(|(re, part)| re.is_match(part))
}

/// Compiles `a/b/c` into one regex per level, as Go splits `-bench`. A `|`
/// joining several top-level patterns keeps them in the first level.
fn compile_levels(pattern: &str) -> Result<Vec<Regex>, Error> {
    split_levels(pattern)
        .iter()
        .map(|p| {
            Regex::new(p).map_err(|source| Error::Pattern {
                pattern: pattern.to_string(),
                source,
            })
        })
        .collect()
}

/// Splits on `/` outside brackets and parentheses.
fn split_levels(pattern: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth) = (Vec::new(), String::new(), 0i32);
    let mut escaped = false;
    for c in pattern.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '[' | '(' => depth += 1,
            ']' | ')' => depth -= 1,
            '/' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out
}

/// A path as the user meant it. `cargo bench` runs a bench binary in its
/// package's directory, not in the directory the user typed the command in,
/// so a relative path is taken relative to the shell's working directory
/// (`$PWD`, which cargo passes on unchanged) when that is known, else to the
/// process's own.
fn user_path(given: String) -> PathBuf {
    let path = PathBuf::from(given);
    if path.is_absolute() {
        return path;
    }
    match std::env::var_os("PWD").map(PathBuf::from) {
        Some(shell_dir) if shell_dir.is_absolute() && shell_dir.is_dir() => shell_dir.join(path),
        _ => std::path::absolute(&path).unwrap_or(path),
    }
}

fn parse_bool(name: &str, v: Option<&str>) -> Result<bool, Error> {
    match v {
        None | Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(v) => Err(Error::Bool {
            flag: name.to_string(),
            value: v.to_string(),
        }),
    }
}

/// `1s`, `500ms`, `1m30s`, `1.5s` (Go's durations) or `100x`.
pub(crate) fn parse_benchtime(v: &str) -> Result<BenchTime, Error> {
    let bad = || Error::BenchTime { value: v.to_string() };
    if let Some(n) = v.strip_suffix('x') {
        return n
            .parse::<u64>()
            .ok()
            .filter(|&n| n > 0)
            .map(BenchTime::Iterations)
            .ok_or_else(bad);
    }
    let mut rest = v;
    let mut total = 0.0f64;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let num: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        rest = &rest[unit_len..];
        total += num * scale;
    }
    if total <= 0.0 {
        return Err(bad());
    }
    Ok(BenchTime::Duration(Duration::from_secs_f64(total)))
}

fn parse_cpu(v: &str) -> Result<Vec<usize>, Error> {
    let list: Option<Vec<usize>> = v
        .split(',')
        .map(|p| p.trim().parse().ok().filter(|&n: &usize| n > 0))
        .collect();
    list.filter(|l| !l.is_empty())
        .ok_or_else(|| Error::Cpu { value: v.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        Options::parse(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>()).map_err(|e| e.to_string())
    }

    #[test]
    fn cargo_test_runs_each_benchmark_once() {
        // `cargo test --all-targets` starts bench binaries with no flag at all,
        // or with libtest's flags and name filters.
        let o = parse(&[]).unwrap();
        assert!(o.test_mode && o.benchtime == BenchTime::Iterations(1) && o.selects(&["BenchmarkX"]));
        let o = parse(&["--nocapture", "--test-threads", "2", "--color=never", "Fib.", "-q"]).unwrap();
        assert!(o.test_mode);
        assert!(
            o.selects(&["BenchmarkFib.20"]) && !o.selects(&["BenchmarkFib20"]),
            "names are literal"
        );
        assert!(
            parse(&["--frobnicate"])
                .unwrap_err()
                .starts_with("unknown flag \"--frobnicate\"")
        );
        // Any harness flag means a benchmark run, where libtest's are unknown.
        assert!(!parse(&["--benchmem"]).unwrap().test_mode);
        assert!(parse(&["--bench", "--nocapture"]).unwrap_err().contains("--nocapture"));
    }

    #[test]
    fn relative_profile_paths_are_the_users() {
        // cargo runs bench binaries in the package directory; the user's shell
        // directory ($PWD) is what a relative path means to them.
        let o = parse(&["--cpuprofile", "/abs/cpu.pb.gz", "--memprofile", "mem.pb.gz"]).unwrap();
        assert_eq!(o.cpuprofile.as_deref(), Some(std::path::Path::new("/abs/cpu.pb.gz")));
        let mem = o.memprofile.expect("memprofile");
        assert!(mem.is_absolute() && mem.ends_with("mem.pb.gz"), "{mem:?}");
        if let Some(pwd) = std::env::var_os("PWD").filter(|p| std::path::Path::new(p).is_dir()) {
            assert_eq!(mem, std::path::Path::new(&pwd).join("mem.pb.gz"));
        }
    }

    #[test]
    fn go_and_cargo_spellings() {
        let o = parse(&[
            "--benchmem",
            "--bench",
            "Fib",
            "-count",
            "3",
            "--cpu=1,2",
            "--benchtime",
            "100x",
        ])
        .unwrap();
        assert!(o.benchmem);
        assert_eq!(o.count, 3);
        assert_eq!(o.cpu, vec![1, 2]);
        assert_eq!(o.benchtime, BenchTime::Iterations(100));
        assert!(o.selects(&["BenchmarkFibonacci20"]));
        assert!(!o.selects(&["BenchmarkStrings"]));
        // What `cargo bench -- --benchmem` passes: a bare --bench at the end.
        let o = parse(&["--benchmem", "--bench"]).unwrap();
        assert!(o.filter.is_empty() && o.selects(&["BenchmarkAnything"]));
        // Go's test binary spelling and a positional filter.
        let o = parse(&["-test.benchtime=1m30s", "Size"]).unwrap();
        assert_eq!(o.benchtime, BenchTime::Duration(Duration::from_secs(90)));
        assert!(o.selects(&["BenchmarkSize10"]));
    }

    #[test]
    fn levels_split_on_slashes() {
        let o = parse(&["--bench", "Processing/Size1[0]{2}$"]).unwrap();
        assert!(o.selects(&["BenchmarkProcessing"]));
        assert!(o.selects(&["BenchmarkProcessing", "Size100"]));
        assert!(!o.selects(&["BenchmarkProcessing", "Size10"]));
        assert_eq!(split_levels("a[/]b/c"), vec!["a[/]b", "c"]);
    }

    #[test]
    fn bad_input_says_what_is_valid() {
        let e = parse(&["--benchmemory"]).unwrap_err();
        assert!(
            e.contains("unknown flag \"--benchmemory\"") && e.contains("--benchmem "),
            "{e}"
        );
        for bad in ["fast", "10", "1y", "0s", "-1s", "x", "1.5x"] {
            let e = parse(&["--benchtime", bad]).unwrap_err();
            assert!(e.contains("--benchtime") || e.contains("needs a value"), "{bad}: {e}");
        }
        assert!(parse(&["--count", "0"]).unwrap_err().contains("positive"));
        assert!(parse(&["--cpu", "1,,2"]).unwrap_err().contains("--cpu"));
        assert!(parse(&["--bench", "(unclosed"]).unwrap_err().contains("--bench"));
        assert!(parse(&["--cpuprofile"]).unwrap_err().contains("needs a value"));
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_benchtime("1.5s").ok(),
            Some(BenchTime::Duration(Duration::from_millis(1500)))
        );
        assert_eq!(
            parse_benchtime("250ms").ok(),
            Some(BenchTime::Duration(Duration::from_millis(250)))
        );
    }
}
