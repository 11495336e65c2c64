//! Case Study 5: a log pipeline that formats each entry by concatenating its
//! fields (a new string per `+`, as Go's immutable strings make it) and
//! appends it to the batch's result the same way, against one preallocated
//! buffer. Both run as benchmarks under `--cpuprofile`, as the seed's `go test
//! -bench=BenchmarkLogProcessing -cpuprofile=cpu.prof`: the CPU profile names
//! the concatenation path; allocs/op and the throughput ratio come from the
//! harness.

use std::hint::black_box;
use std::sync::LazyLock;

use anyhow::Result;
use sonde_bench::{B, Benchmark};

use super::bench::harness;
use crate::demo::analyze::{self, row_text, sh, short};
use crate::demo::{Ctx, Outcome};

/// One parsed log line.
pub struct LogEntry {
    pub timestamp: String,
    pub level: String,
    pub message: String,
    pub source: String,
}

/// The batch of 1,000 entries both benchmarks process. It is built once,
/// before the benchmarks and their CPU profile start: the harness calls a
/// benchmark function once per calibration round, and building and dropping
/// 3,000 strings each time put 10 to 20% of the profile outside the pipeline.
static BATCH: LazyLock<Vec<LogEntry>> = LazyLock::new(|| {
    (0..1000)
        .map(|i| LogEntry {
            timestamp: format!("2024-01-15 10:{:02}:{:02}", i / 60 % 60, i % 60),
            level: ["INFO", "WARN", "ERROR", "DEBUG"][i % 4].to_string(),
            message: format!("request {i} served in {} ms", i % 97),
            source: format!("api-{}", i % 8),
        })
        .collect()
});

/// The seed's `formatLog` with `+`: every step a new string.
#[inline(never)]
pub fn format_log_concat(timestamp: &str, level: &str, message: &str, source: &str) -> String {
    let mut s = String::from("[");
    for part in [timestamp, "]", " ", "[", level, "]", " ", source, ": ", message] {
        s = format!("{s}{part}");
    }
    s
}

/// The seed's `processLogs` with `result += formatLog(...) + "\n"`.
#[inline(never)]
pub fn process_logs_concat(logs: &[LogEntry]) -> String {
    let mut result = String::new();
    for l in logs {
        result = format!(
            "{result}{}\n",
            format_log_concat(&l.timestamp, &l.level, &l.message, &l.source)
        );
    }
    result
}

/// The fix: each field written into the one buffer.
#[inline(never)]
pub fn format_log_into(b: &mut String, l: &LogEntry) {
    for part in ["[", &l.timestamp, "] [", &l.level, "] ", &l.source, ": ", &l.message] {
        b.push_str(part);
    }
}

/// The fix: one buffer, grown once for the batch.
#[inline(never)]
pub fn process_logs_builder(logs: &[LogEntry]) -> String {
    let mut b = String::with_capacity(logs.len() * 100);
    for l in logs {
        format_log_into(&mut b, l);
        b.push('\n');
    }
    b
}

fn log_processing_concat(b: &mut B) {
    b.iter(|| process_logs_concat(black_box(&BATCH)));
}

fn log_processing_builder(b: &mut B) {
    b.iter(|| process_logs_builder(black_box(&BATCH)));
}

pub fn run(ctx: &Ctx, o: &mut Outcome) -> Result<()> {
    o.planted =
        "process_logs_concat: 10 new strings per entry and the whole batch copied per line (1,000 lines)".into();
    let time = ctx.pick("300ms", "1s");
    LazyLock::force(&BATCH);
    let run_one = |name: &str, f: fn(&mut B)| -> Result<(std::path::PathBuf, Option<(f64, f64)>)> {
        let prof = ctx.file(&format!("cpu_{name}.pb.gz"));
        let prof_arg = prof.display().to_string();
        let (code, text, results) = harness(
            &ctx.file(&format!("bench_{name}.txt")),
            &[Benchmark::new(&format!("log_processing_{name}"), f)],
            &["--benchtime", time, "--cpuprofile", &prof_arg],
        )?;
        let tail = crate::demo::last_lines(&text, 3);
        anyhow::ensure!(
            code == 0,
            "the {name} benchmark failed (exit code {code}); its output ends: {}",
            if tail.is_empty() {
                "(nothing)".to_string()
            } else {
                tail.join(" / ")
            }
        );
        let r = results
            .first()
            .and_then(|r| Some((r.value("ns/op")?, r.value("allocs/op")?)));
        Ok((prof, r))
    };
    let (concat_prof, concat) = run_one("concat", log_processing_concat)?;
    let (builder_prof, builder) = run_one("builder", log_processing_builder)?;
    let (Some((ns_c, allocs_c)), Some((ns_b, allocs_b))) = (concat, builder) else {
        o.check(false, "both benchmarks reported ns/op and allocs/op");
        return Ok(());
    };
    o.table.push(format!(
        "BenchmarkLogProcessingConcat    {ns_c:>14.0} ns/op {allocs_c:>8.0} allocs/op"
    ));
    o.table.push(format!(
        "BenchmarkLogProcessingBuilder   {ns_b:>14.0} ns/op {allocs_b:>8.0} allocs/op"
    ));
    o.table.push(format!(
        "throughput: {:.0}x more logs a second with the buffer ({:.0} vs {:.0} logs/s; the seed: 50x)",
        ns_c / ns_b,
        1000.0 * 1e9 / ns_b,
        1000.0 * 1e9 / ns_c
    ));
    o.check(
        allocs_b < allocs_c / 100.0 && ns_b < ns_c,
        format!(
            "the buffer version is {:.0}x faster with {allocs_b:.0} allocs/op instead of {allocs_c:.0}",
            ns_c / ns_b
        ),
    );

    let top = analyze::top(&concat_prof, |_| {})?;
    let first = top.rows.first();
    let user = analyze::top(&concat_prof, |c| c.user_code = true)?;
    let user_first = user.rows.first();
    o.found = format!(
        "sonde top: {}; with --user-code: {}",
        first.map(|r| row_text(&top, r)).unwrap_or_default(),
        user_first
            .map(|r| short(&row_text(&user, r)).to_string())
            .unwrap_or_default()
    );
    let path_share = analyze::share(&top, "process_logs_concat", true);
    o.check(
        path_share >= 0.9,
        format!(
            "the CPU profile has {:.1}% of its time under process_logs_concat (≥ 90%; the rest is the harness)",
            path_share * 100.0
        ),
    );
    o.check(
        user_first.is_some_and(|r| r.name.contains("_concat")),
        format!(
            "--user-code: the first row is the concatenation ({})",
            user_first.map_or("nothing".into(), |r| short(&r.name).to_string())
        ),
    );
    o.file(&concat_prof);
    o.file(&builder_prof);
    o.explore(format!("sonde top {}", sh(&concat_prof)));
    o.explore(format!("sonde top --user-code {}", sh(&concat_prof)));
    o.explore(format!("sonde web {}", sh(&concat_prof)));
    Ok(())
}
