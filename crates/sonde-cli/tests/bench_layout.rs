//! `sonde bench`, the default way to run sonde-bench's benchmarks: the seed
//! article's preallocated variants (Example 5 and string building) come out
//! faster than their twins, as they do less work. In a build whose code
//! layout happened to be unlucky, SliceWithPrealloc once measured slower than
//! SliceWithoutPrealloc; `sonde bench` fixes the layout (functions aligned to
//! 64 bytes). Each pair runs in the same process, interleaved by `--count`,
//! so machine load slows both alike.

mod common;

use std::collections::HashMap;

use common::*;

#[test]
fn preallocated_variants_win_in_sonde_bench() {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_sonde"))
        .current_dir(root())
        .args([
            "bench",
            "-p",
            "sonde-bench",
            "--bench",
            "seed",
            "--",
            "--bench",
            "^Benchmark(Slice|ConcatBuilder)",
            "--benchtime",
            "200ms",
            "--count",
            "5",
        ])
        .output()
        .expect("run sonde bench");
    let out = stdout(&o);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    let mut runs: HashMap<String, Vec<f64>> = HashMap::new();
    for r in sonde_bench::benchfmt::parse(&out).records {
        if let Some(ns) = r.value("ns/op") {
            runs.entry(r.name.clone()).or_default().push(ns);
        }
    }
    // Results are named `SliceWithPrealloc-2`: the name before the -procs suffix.
    let median = |name: &str| -> f64 {
        let mut v = runs
            .iter()
            .find(|(n, _)| n.rsplit_once('-').map_or(n.as_str(), |(base, _)| base) == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no results for {name}: {out}"));
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    for (with, without) in [
        ("SliceWithPrealloc", "SliceWithoutPrealloc"),
        ("ConcatBuilderPrealloc", "ConcatBuilder"),
    ] {
        let (w, wo) = (median(with), median(without));
        assert!(
            w < wo,
            "{with} {w} ns/op is not faster than {without} {wo} ns/op:\n{out}"
        );
    }
}
