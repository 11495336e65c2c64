//! Reading Go's benchmark results format (what `go test -bench` and sonde-bench
//! print): `key: value` configuration lines and `BenchmarkName-N  iterations
//! value unit [value unit ...]` result lines; anything else is ignored, as
//! Go's own reader does.

use super::{Result, Results};

/// Parses results text. Never fails: unreadable `Benchmark` lines are listed in
/// [`Results::skipped`], other lines ignored.
pub fn parse(text: &str) -> Results {
    let mut out = Results::default();
    let mut pkg = String::new();
    for (i, line) in text.lines().enumerate() {
        if let Some((key, value)) = config_line(line) {
            if key == "pkg" {
                pkg = value.to_string();
            }
            match out.config.iter_mut().find(|(k, _)| k == key) {
                Some(kv) => kv.1 = value.to_string(),
                None => out.config.push((key.to_string(), value.to_string())),
            }
            continue;
        }
        let Some(rest) = line.strip_prefix("Benchmark") else {
            continue;
        };
        // Go's rule: the name continues with a non-lowercase character.
        if rest.starts_with(|c: char| c.is_lowercase()) {
            continue;
        }
        match result_line(rest) {
            Ok((name, iterations, values)) => out.records.push(Result {
                name,
                pkg: pkg.clone(),
                iterations,
                values,
                ..Result::default()
            }),
            Err(why) => out.skipped.push((i + 1, why)),
        }
    }
    out
}

/// `key: value` with a key starting with a lowercase letter and made of
/// characters other than space and upper case (Go's format).
fn config_line(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.split_once(':')?;
    let ok = key.starts_with(|c: char| c.is_lowercase()) && !key.chars().any(|c| c.is_whitespace() || c.is_uppercase());
    ok.then(|| (key, value.trim()))
}

type Line = (String, u64, Vec<(String, f64)>);

fn result_line(rest: &str) -> std::result::Result<Line, String> {
    let mut fields = rest.split_whitespace();
    let name = fields.next().unwrap_or_default().to_string();
    let iterations = fields
        .next()
        .ok_or("no iterations column")?
        .parse::<u64>()
        .map_err(|_| "the iterations column is not a whole number".to_string())?;
    let mut values = Vec::new();
    while let Some(v) = fields.next() {
        let unit = fields.next().ok_or_else(|| format!("value {v} has no unit"))?;
        let v: f64 = v.parse().map_err(|_| format!("{v:?} is not a number"))?;
        values.push((unit.to_string(), v));
    }
    if values.is_empty() {
        return Err("no values".into());
    }
    Ok((name, iterations, values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_go_and_sonde_output() {
        let text = "goos: linux\ngoarch: amd64\npkg: example.com/x\ncpu: AMD EPYC\n\
            BenchmarkFib20-8   \t    5000\t    285678 ns/op\t       0 B/op\t       0 allocs/op\n\
            BenchmarkSize/Size10-8\t 1000000\t        12.50 ns/op\t  81.92 MB/s\n\
            --- BENCH: BenchmarkX\nBenchmarkbad 1 2 ns/op\nBenchmarkBroken-8 12 3\nPASS\nok  \texample.com/x\t1.2s\n";
        let r = parse(text);
        assert_eq!(r.config[2], ("pkg".into(), "example.com/x".into()));
        assert_eq!(r.records.len(), 2);
        assert_eq!(r.records[0].name, "Fib20-8");
        assert_eq!(r.records[0].iterations, 5000);
        assert_eq!(r.records[0].values[0], ("ns/op".into(), 285678.0));
        assert_eq!(r.records[1].values[1], ("MB/s".into(), 81.92));
        assert_eq!(r.records[1].pkg, "example.com/x");
        assert_eq!(r.skipped, vec![(9, "value 3 has no unit".to_string())]);
    }
}
