//! Writing results as Go prints them (`go test -bench -benchmem`), byte for
//! byte where Go defines the format, or as JSON lines.

use std::fmt::Write;

use super::Result;

/// The units Go's `BenchmarkResult.String` and `MemString` place themselves;
/// any other is an extra metric, written between them sorted by unit.
const GO_UNITS: [&str; 4] = ["ns/op", "MB/s", "B/op", "allocs/op"];

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
    /// `MemString` for `B/op` and `allocs/op`) writes them: iterations,
    /// `ns/op` (unless 0), `MB/s` (unless 0), the other units sorted, then
    /// `B/op` and `allocs/op`.
    pub fn columns(&self) -> String {
        let mut out = format!("{:8}", self.iterations);
        if let Some(ns) = self.value("ns/op").filter(|&ns| ns != 0.0) {
            out.push('\t');
            pretty(&mut out, ns, "ns/op");
        }
        if let Some(mbs) = self.value("MB/s").filter(|&m| m != 0.0) {
            let _ = write!(out, "\t{mbs:7.2} MB/s");
        }
        // Go sorts the extra metrics by unit.
        let mut extra: Vec<&(String, f64)> = self.extra().collect();
        extra.sort_by(|a, b| a.0.cmp(&b.0));
        for (unit, v) in extra {
            out.push('\t');
            pretty(&mut out, *v, unit);
        }
        for unit in ["B/op", "allocs/op"] {
            if let Some(v) = self.value(unit) {
                let _ = write!(out, "\t{v:8} {unit}");
            }
        }
        out
    }

    /// The whole line: the full name padded to `width`, a tab, the columns.
    pub fn line(&self, width: usize) -> String {
        format!("{:<width$}\t{}", self.full_name(), self.columns())
    }

    /// The result as one JSON object: `name` (the full name), `iterations`,
    /// `ns_per_op`, `ns_per_op_ci` and `samples` (when measured), `mb_per_s`,
    /// `bytes_per_op`, `allocs_per_op` (when present), and the other units
    /// under `metrics`, in their order.
    pub fn json(&self) -> String {
        let mut out = format!(
            "{{\"name\":{},\"iterations\":{},\"ns_per_op\":{}",
            json_str(&self.full_name()),
            self.iterations,
            json_num(self.value("ns/op").unwrap_or(0.0)),
        );
        if let Some((lo, hi)) = self.ns_per_op_ci {
            let _ = write!(out, ",\"ns_per_op_ci\":[{},{}]", json_num(lo), json_num(hi));
        }
        if let Some(n) = self.samples {
            let _ = write!(out, ",\"samples\":{n}");
        }
        for (unit, key) in [
            ("MB/s", "mb_per_s"),
            ("B/op", "bytes_per_op"),
            ("allocs/op", "allocs_per_op"),
        ] {
            if let Some(v) = self.value(unit) {
                let _ = write!(out, ",\"{key}\":{}", json_num(v));
            }
        }
        let mut extra = self.extra().peekable();
        if extra.peek().is_some() {
            out.push_str(",\"metrics\":{");
            for (i, (unit, v)) in extra.enumerate() {
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

    /// The values in units other than Go's own four, in their order.
    fn extra(&self) -> impl Iterator<Item = &(String, f64)> {
        self.values.iter().filter(|(u, _)| !GO_UNITS.contains(&u.as_str()))
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

    fn values(v: &[(&str, f64)]) -> Vec<(String, f64)> {
        v.iter().map(|&(u, x)| (u.to_string(), x)).collect()
    }

    #[test]
    fn columns_as_go_prints_them() {
        let mut r = Result {
            name: "Fibonacci20-2".into(),
            iterations: 48290,
            values: values(&[("ns/op", 24640.4)]),
            ..Result::default()
        };
        assert_eq!(r.columns(), "   48290\t     24640 ns/op");
        r.values = values(&[("ns/op", 24640.4), ("B/op", 0.0), ("allocs/op", 0.0)]);
        assert_eq!(
            r.line(30),
            "BenchmarkFibonacci20-2        \t   48290\t     24640 ns/op\t       0 B/op\t       0 allocs/op"
        );
        r.values = values(&[("ns/op", 0.2513)]);
        assert_eq!(r.columns(), "   48290\t         0.2513 ns/op");
        // Go's order whatever the order reported: MB/s, extras sorted, memory last.
        r.values = values(&[
            ("allocs/op", 2.0),
            ("hits/op", 3.0),
            ("B/op", 64.0),
            ("ns/op", 12.5),
            ("err/op", 0.5),
            ("MB/s", 81.92),
        ]);
        assert_eq!(
            r.columns(),
            "   48290\t        12.50 ns/op\t  81.92 MB/s\t         0.5000 err/op\t         3.000 hits/op\t      64 B/op\t       2 allocs/op"
        );
    }

    #[test]
    fn json_escapes() {
        let r = Result {
            name: "A/\"q\"".into(),
            iterations: 1,
            values: values(&[("ns/op", 2.0)]),
            ns_per_op_ci: Some((1.5, 2.5)),
            samples: Some(10),
            ..Result::default()
        };
        assert!(
            r.json()
                .starts_with("{\"name\":\"BenchmarkA/\\\"q\\\"\",\"iterations\":1,\"ns_per_op\":2,")
        );
        assert_eq!(
            r.json(),
            "{\"name\":\"BenchmarkA/\\\"q\\\"\",\"iterations\":1,\"ns_per_op\":2,\"ns_per_op_ci\":[1.5,2.5],\"samples\":10}"
        );
    }
}
