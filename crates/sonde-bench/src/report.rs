//! Results as Go prints them (`go test -bench -benchmem`), byte for byte where
//! Go defines the format, or as JSON lines.

use std::fmt::Write;

/// One benchmark result.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Result {
    /// Full name with the `-procs` suffix: `BenchmarkProcessing/Size100-2`.
    pub name: String,
    /// Iterations measured, over all samples used.
    pub iterations: u64,
    /// Median time per iteration, in nanoseconds.
    pub ns_per_op: f64,
    /// The 95% confidence interval of that median.
    pub ns_per_op_ci: (f64, f64),
    /// Samples the median is taken over.
    pub samples: usize,
    /// Throughput when the benchmark called `set_bytes`.
    pub mb_per_s: Option<f64>,
    /// Bytes and allocations per iteration, when reported.
    pub mem: Option<(u64, u64)>,
    /// Custom metrics, in the order reported.
    pub metrics: Vec<(String, f64)>,
}

/// Go's `prettyPrint`: ten places before the decimal point, four significant
/// figures for small values.
fn pretty(out: &mut String, x: f64, unit: &str) {
    let y = x.abs();
    let (width, precision) = match y {
        _ if y == 0.0 || y >= 999.95 => (10, 0),
        _ if y >= 99.995 => (12, 1),
        _ if y >= 9.9995 => (13, 2),
        _ if y >= 0.99995 => (14, 3),
        _ if y >= 0.099995 => (15, 4),
        _ if y >= 0.0099995 => (16, 5),
        _ if y >= 0.00099995 => (17, 6),
        _ => (18, 7),
    };
    let _ = write!(out, "{x:width$.precision$} {unit}");
}

impl Result {
    /// The columns after the name, as Go's `BenchmarkResult.String` (plus
    /// `MemString` when `mem` is set) writes them.
    pub fn columns(&self) -> String {
        let mut out = format!("{:8}", self.iterations);
        if self.ns_per_op != 0.0 {
            out.push('\t');
            pretty(&mut out, self.ns_per_op, "ns/op");
        }
        if let Some(mbs) = self.mb_per_s.filter(|&m| m != 0.0) {
            let _ = write!(out, "\t{mbs:7.2} MB/s");
        }
        // Go sorts the extra metrics by unit.
        let mut extra: Vec<&(String, f64)> = self.metrics.iter().collect();
        extra.sort_by(|a, b| a.0.cmp(&b.0));
        for (unit, v) in extra {
            out.push('\t');
            pretty(&mut out, *v, unit);
        }
        if let Some((bytes, allocs)) = self.mem {
            let _ = write!(out, "\t{bytes:8} B/op\t{allocs:8} allocs/op");
        }
        out
    }

    /// The whole line: the name padded to `width`, a tab, the columns.
    pub fn line(&self, width: usize) -> String {
        format!("{:<width$}\t{}", self.name, self.columns())
    }

    /// The result as one JSON object.
    pub fn json(&self) -> String {
        let mut out = format!(
            "{{\"name\":{},\"iterations\":{},\"ns_per_op\":{},\"ns_per_op_ci\":[{},{}],\"samples\":{}",
            json_str(&self.name),
            self.iterations,
            json_num(self.ns_per_op),
            json_num(self.ns_per_op_ci.0),
            json_num(self.ns_per_op_ci.1),
            self.samples
        );
        if let Some(m) = self.mb_per_s {
            let _ = write!(out, ",\"mb_per_s\":{}", json_num(m));
        }
        if let Some((b, a)) = self.mem {
            let _ = write!(out, ",\"bytes_per_op\":{b},\"allocs_per_op\":{a}");
        }
        if !self.metrics.is_empty() {
            out.push_str(",\"metrics\":{");
            for (i, (unit, v)) in self.metrics.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{}:{}", json_str(unit), json_num(*v));
            }
            out.push('}');
        }
        out.push('}');
        out
    }
}

fn json_num(x: f64) -> String {
    if x.is_finite() { format!("{x}") } else { "null".into() }
}

pub(crate) fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Go's header lines: `goos`, `goarch`, `pkg`, `cpu`.
pub fn header(pkg: &str) -> String {
    let goarch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64",
        other => other,
    };
    let mut out = format!("goos: {}\ngoarch: {goarch}\npkg: {pkg}\n", std::env::consts::OS);
    if let Some(cpu) = cpu_name() {
        let _ = writeln!(out, "cpu: {cpu}");
    }
    out
}

/// The processor's model name, as Go's `cpu:` line shows it.
fn cpu_name() -> Option<String> {
    let info = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    info.lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .and_then(|r| r.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .filter(|s| !s.is_empty())
}

/// Go's `benchmarkName`: the `-procs` suffix unless it is 1.
pub fn with_procs(name: &str, procs: usize) -> String {
    if procs == 1 {
        name.to_string()
    } else {
        format!("{name}-{procs}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_as_go_prints_them() {
        let mut r = Result {
            name: "BenchmarkFibonacci20-2".into(),
            iterations: 48290,
            ns_per_op: 24640.4,
            ..Result::default()
        };
        assert_eq!(r.columns(), "   48290\t     24640 ns/op");
        r.mem = Some((0, 0));
        assert_eq!(
            r.line(30),
            "BenchmarkFibonacci20-2        \t   48290\t     24640 ns/op\t       0 B/op\t       0 allocs/op"
        );
        r.ns_per_op = 0.2513;
        r.mem = None;
        assert_eq!(r.columns(), "   48290\t         0.2513 ns/op");
        r.ns_per_op = 12.5;
        r.mb_per_s = Some(81.92);
        r.metrics = vec![("hits/op".into(), 3.0), ("err/op".into(), 0.5)];
        assert_eq!(
            r.columns(),
            "   48290\t        12.50 ns/op\t  81.92 MB/s\t         0.5000 err/op\t         3.000 hits/op"
        );
    }

    #[test]
    fn json_escapes() {
        let r = Result {
            name: "BenchmarkA/\"q\"".into(),
            iterations: 1,
            ns_per_op: 2.0,
            ..Result::default()
        };
        assert!(
            r.json()
                .starts_with("{\"name\":\"BenchmarkA/\\\"q\\\"\",\"iterations\":1,\"ns_per_op\":2,")
        );
    }
}
