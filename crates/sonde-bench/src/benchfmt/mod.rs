//! Go's benchmark results format, read and written (as Go's
//! `golang.org/x/perf/benchfmt` has its Reader and Writer together): `key: value`
//! configuration lines and `BenchmarkName-N  iterations  value unit [value unit
//! ...]` result lines.
//!
//! One [`Result`] is one result line, whether the harness measured it or
//! [`parse`] read it: what the harness prints, `sonde benchstat` reads back the
//! same.
//!
//! * `reader.rs`: [`parse`], which never fails (unreadable lines are listed).
//! * `writer.rs`: a result's line (byte for byte as `go test -bench -benchmem`
//!   prints it) or JSON object, the [`header`] lines, [`with_procs`] names.

mod reader;
mod writer;

pub use reader::parse;
#[cfg(feature = "harness")]
pub(crate) use writer::json_str;
pub use writer::{header, with_procs};

/// One benchmark result: one line of Go's format (x/perf's `benchfmt.Result`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Result {
    /// The name without the `Benchmark` prefix, with its `-N` suffix:
    /// `Fibonacci20-2`, `Processing/Size100-2` (see [`Result::full_name`]).
    pub name: String,
    /// The `pkg:` in effect for this line (empty if none).
    pub pkg: String,
    /// The iterations column: iterations measured, over all samples used.
    pub iterations: u64,
    /// `(unit, value)` pairs: `("ns/op", 24640.0)`, `("B/op", 0.0)`, ..., in
    /// the order read or reported. Lines are written in Go's column order
    /// whatever this order is.
    pub values: Vec<(String, f64)>,
    /// The 95% confidence interval of the median `ns/op`, when sonde-bench
    /// measured it: written in JSON lines only (Go's text has no place for it),
    /// `None` when read from text.
    pub ns_per_op_ci: Option<(f64, f64)>,
    /// How many samples the median is taken over, when sonde-bench measured
    /// it: as [`Result::ns_per_op_ci`].
    pub samples: Option<usize>,
}

/// The reader's name for a result line, before reader and writer shared
/// [`Result`].
pub type Record = Result;

impl Result {
    /// The name as written: `BenchmarkFibonacci20-2`.
    pub fn full_name(&self) -> String {
        format!("Benchmark{}", self.name)
    }

    /// The first value in `unit` (`"ns/op"`, `"B/op"`, `"MB/s"`, ...).
    pub fn value(&self, unit: &str) -> Option<f64> {
        self.values.iter().find(|(u, _)| u == unit).map(|&(_, v)| v)
    }
}

/// A parsed results file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Results {
    /// Configuration lines (`goos`, `goarch`, `pkg`, `cpu`, ...), last value of
    /// each key.
    pub config: Vec<(String, String)>,
    /// The result lines, in order.
    pub records: Vec<Result>,
    /// `Benchmark` lines that could not be read (line number, why).
    pub skipped: Vec<(usize, String)>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_read_are_written_back_as_they_were() {
        let lines = [
            "BenchmarkFib20-8         \t    5000\t    285678 ns/op\t       0 B/op\t       0 allocs/op",
            "BenchmarkSize/Size10-8   \t 1000000\t        12.50 ns/op\t  81.92 MB/s\t         2.500 widgets/op",
        ];
        for line in lines {
            let r = parse(line);
            assert_eq!(r.records.len(), 1, "{line}");
            let width = line.find('\t').expect("a tab");
            assert_eq!(r.records[0].line(width), line);
        }
    }
}
