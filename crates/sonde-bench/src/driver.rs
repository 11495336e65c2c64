//! Running benchmarks: selection, calibration, sampling until the median is
//! known, printing, profiles.

use std::cell::{Cell, RefCell};
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::bencher::{B, Finished};
use crate::benchfmt::{self, Result};
use crate::flags::{BenchTime, Options};
use crate::stats;

/// Samples before the stopping rule is first checked.
const MIN_SAMPLES: usize = 10;
/// Samples after which sampling stops whatever the spread.
const MAX_SAMPLES: usize = 10_000;
/// The median is known well enough when its 95% interval is within ±1%.
const PRECISION: f64 = 0.01;

/// A registered benchmark: its Go name and function.
pub struct Benchmark {
    name: String,
    f: fn(&mut B),
}

impl Benchmark {
    /// A benchmark running `f`, named after `name` the way Go names them: a
    /// Rust function name `fibonacci_20` becomes `BenchmarkFibonacci20`; a name
    /// that already starts with `Benchmark` is kept.
    pub fn new(name: &str, f: fn(&mut B)) -> Benchmark {
        Benchmark { name: go_name(name), f }
    }

    /// The name results are reported under.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// `fibonacci_20` → `BenchmarkFibonacci20`; `module::parse_json` →
/// `BenchmarkParseJson`.
fn go_name(name: &str) -> String {
    let base = name.rsplit("::").next().unwrap_or(name).trim();
    if base.starts_with("Benchmark") {
        return base.to_string();
    }
    let mut out = String::from("Benchmark");
    let mut upper = true;
    for c in base.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A sub-benchmark's name part as Go rewrites it: white space becomes `_`.
pub(crate) fn sub_name(name: &str) -> String {
    name.chars().map(|c| if c.is_whitespace() { '_' } else { c }).collect()
}

/// State shared by every benchmark of one run.
pub(crate) struct Session {
    opts: Options,
    pkg: String,
    out: RefCell<Box<dyn Write>>,
    /// Go's `maxLen`: the width names are padded to.
    width: Cell<usize>,
    /// Length of the widest `-procs` suffix.
    ext_len: usize,
    header_done: Cell<bool>,
    /// Results and failures reported (any failure fails the run).
    passed: Cell<usize>,
    failures: Cell<usize>,
    counting: bool,
    /// State of the layout randomization.
    rng: Cell<u64>,
}

/// Whether the global allocator counts allocations (sonde's `Sampled` wrapper).
fn allocations_counted() -> bool {
    let before = sonde::heap::thread_stats();
    drop(std::hint::black_box(Box::new(0u64)));
    sonde::heap::thread_stats().allocs != before.allocs
}

/// The benchmark body, called through one function that never inlines, so that
/// `--cpuprofile` and `--memprofile` keep only samples under it (see
/// `profiles::BODY_FRAME`).
#[inline(never)]
fn benchmark_body(f: &mut dyn FnMut(&mut B), b: &mut B) {
    f(b);
    std::hint::black_box(());
}

/// Calls `f` with the stack shifted by about `shift` × 64 bytes (`shift` below
/// 64): whole kilobytes through frames of a kilobyte, the rest through frames
/// of 64 bytes, so the deepest shift adds 18 frames rather than 63. Profiles
/// capture a bounded number of frames from the leaf; fewer frames here leave
/// room for the benchmark's own.
fn with_stack_shift(shift: u64, f: &mut dyn FnMut()) {
    shift_by::<1008>(shift / 16, &mut || shift_by::<48>(shift % 16, f));
}

/// Calls `f` `depth` frames of about `FRAME` + 16 bytes deeper into the stack.
#[inline(never)]
fn shift_by<const FRAME: usize>(depth: u64, f: &mut dyn FnMut()) {
    let frame = [0u8; FRAME];
    std::hint::black_box(&frame);
    if depth == 0 {
        f();
    } else {
        shift_by::<FRAME>(depth - 1, f);
    }
    std::hint::black_box(&frame);
}

impl Session {
    fn say(&self, text: &str) {
        let mut out = self.out.borrow_mut();
        let _ = out.write_all(text.as_bytes());
        let _ = out.flush();
    }

    fn print_result(&self, r: &Result) {
        self.passed.set(self.passed.get() + 1);
        if self.opts.test_mode {
            self.say(&format!("test {} ... ok\n", r.full_name()));
            return;
        }
        if self.opts.json {
            self.say(&format!("{}\n", r.json()));
            return;
        }
        if !self.header_done.replace(true) {
            self.say(&benchfmt::header(&self.pkg));
        }
        self.say(&format!("{}\n", r.line(self.width.get())));
    }

    fn fail(&self, name: &str, why: &str) {
        self.failures.set(self.failures.get() + 1);
        if self.opts.json {
            let (name, why) = (benchfmt::json_str(name), benchfmt::json_str(why));
            self.say(&format!("{{\"name\":{name},\"failed\":{why}}}\n"));
            return;
        }
        let indented: String = why.lines().map(|l| format!("    {l}\n")).collect();
        if self.opts.test_mode {
            self.say(&format!("test {name} ... FAILED\n{indented}"));
        } else {
            self.say(&format!("--- FAIL: {name}\n{indented}"));
        }
    }

    /// One call of the benchmark function with `n` iterations.
    fn call(
        self: &Rc<Self>,
        name: &str,
        f: &mut dyn FnMut(&mut B),
        n: u64,
        procs: usize,
    ) -> std::result::Result<Finished, String> {
        // Each call runs with the heap and the stack shifted by a random amount,
        // so that the samples of one run cover many memory layouts instead of
        // the one this process happened to get: code whose speed depends on
        // alignment (4K aliasing, cache sets) then measures the same in every
        // run, instead of differing from run to run.
        let r = self.next_random();
        let pad = vec![0u8; 16 * (r % 256) as usize];
        self.shuffle_heap();
        let mut b = B::new(name, n, procs, self.clone());
        let mut outcome = None;
        with_stack_shift((r >> 8) % 64, &mut || {
            b.start_timer();
            outcome = Some(catch_unwind(AssertUnwindSafe(|| benchmark_body(f, &mut b))));
        });
        let finished = b.finish();
        drop(std::hint::black_box(pad));
        match outcome.expect("the body ran") {
            Ok(()) => Ok(finished),
            Err(p) => Err(panic_message(p)),
        }
    }

    /// Allocates and frees a random set of blocks, so that the allocator's free
    /// lists, and the addresses the benchmark's allocations get, differ from
    /// one sample to the next.
    fn shuffle_heap(&self) {
        let count = self.next_random() % 48;
        let mut blocks: Vec<Vec<u8>> = (0..count)
            .map(|_| Vec::with_capacity(16 + (self.next_random() % 2048) as usize))
            .collect();
        while !blocks.is_empty() {
            let i = (self.next_random() as usize) % blocks.len();
            drop(blocks.swap_remove(i));
        }
    }

    fn next_random(&self) -> u64 {
        // xorshift64*
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 16
    }

    /// Runs a benchmark (top-level or sub-benchmark) if selected: a probe call;
    /// if it ran sub-benchmarks, that was all; else it is measured once for each
    /// `--cpu` value. Returns false if it failed.
    pub(crate) fn run_benchmark(self: &Rc<Self>, name: &str, f: &mut dyn FnMut(&mut B)) -> bool {
        let levels: Vec<&str> = name.split('/').collect();
        if !self.opts.selects(&levels) {
            return true;
        }
        if levels.len() > 1 {
            // Go widens the name column for sub-benchmarks, with slack.
            let n = name.len() + self.ext_len + 1;
            if n > self.width.get() {
                self.width.set(n + 8);
            }
        }
        let probe = match self.call(name, f, 1, self.opts.cpu[0]) {
            Ok(p) => p,
            Err(why) => {
                self.fail(name, &why);
                return false;
            }
        };
        if probe.has_subs {
            return true;
        }
        let mut ok = true;
        for &procs in &self.opts.cpu {
            let full = benchfmt::with_procs(name, procs);
            match self.measure(name, f, procs) {
                Ok(r) => self.print_result(&Result {
                    // Names are Go's (see `go_name`): the prefix is always there.
                    name: full.strip_prefix("Benchmark").unwrap_or(&full).to_string(),
                    ..r
                }),
                Err(why) => {
                    self.fail(&full, &why);
                    ok = false;
                }
            }
        }
        ok
    }

    /// Calibrates the iterations per sample, then samples until the median is
    /// known to within ±1% or the time is up.
    fn measure(
        self: &Rc<Self>,
        name: &str,
        f: &mut dyn FnMut(&mut B),
        procs: usize,
    ) -> std::result::Result<Result, String> {
        let started = Instant::now();
        let mut n = 1u64;
        let mut last = self.call(name, f, n, procs)?;
        let budget = match self.opts.benchtime {
            BenchTime::Iterations(k) => {
                let sample = if k == 1 { last } else { self.call(name, f, k, procs)? };
                return self.result(vec![sample]);
            }
            BenchTime::Duration(d) => d,
        };
        // Short samples: many of them fit between two preemptions on a busy
        // machine. Parallel ones are longer, to amortize starting the threads.
        let target_ns = if last.parallel { 5e6 } else { 1e6 };
        while (last.measured.wall_ns as f64) < target_ns / 2.0 && n < 1_000_000_000 && started.elapsed() < budget {
            let per_op = last.measured.wall_ns.max(1) as f64 / n as f64;
            let want = (target_ns / per_op * 1.2) as u64;
            n = want.clamp(n + 1, n.saturating_mul(100)).min(1_000_000_000);
            last = self.call(name, f, n, procs)?;
        }
        let per_op = last.measured.wall_ns.max(1) as f64 / n as f64;
        let n = ((target_ns / per_op) as u64).max(1);
        // Warm up (caches, branch predictors, page faults, the clock of a CPU
        // that was idle) before the samples count. A few dozen milliseconds
        // suffice: the calibration calls above already ran the code.
        let warmup = (budget / 40).clamp(Duration::from_millis(10), Duration::from_millis(25));
        while started.elapsed() < warmup {
            last = self.call(name, f, n, procs)?;
        }
        let mut samples: Vec<Finished> = Vec::new();
        if started.elapsed() >= budget {
            // One call takes longer than the budget: it is the sample.
            samples.push(last);
        }
        while samples.len() < MAX_SAMPLES && (samples.is_empty() || started.elapsed() < budget) {
            samples.push(self.call(name, f, n, procs)?);
            if samples.len() >= MIN_SAMPLES && summarize(&samples).rel_half_width() <= PRECISION {
                break;
            }
        }
        self.result(samples)
    }

    fn result(&self, samples: Vec<Finished>) -> std::result::Result<Result, String> {
        let used = selected(&samples);
        let summary = summarize(&samples);
        let iterations: u64 = used.iter().map(|s| s.measured.n).sum();
        let total_n: u64 = samples.iter().map(|s| s.measured.n).sum::<u64>().max(1);
        let report_allocs = self.opts.benchmem || samples.iter().any(|s| s.report_allocs);
        if report_allocs && !self.counting {
            return Err(NOT_COUNTING.to_string());
        }
        let mut values = vec![("ns/op".to_string(), summary.center)];
        let last = samples.last().expect("at least one sample");
        if last.bytes_per_op > 0 && summary.center > 0.0 {
            values.push(("MB/s".into(), last.bytes_per_op as f64 * 1e3 / summary.center));
        }
        // Custom metrics: the median of what each sample reported.
        for (unit, _) in &last.metrics {
            let reported: Vec<f64> = used
                .iter()
                .filter_map(|s| s.metrics.iter().find(|(u, _)| u == unit).map(|m| m.1))
                .collect();
            values.push((unit.clone(), stats::median(&reported)));
        }
        if report_allocs {
            let bytes: u64 = samples.iter().map(|s| s.measured.bytes).sum();
            let allocs: u64 = samples.iter().map(|s| s.measured.allocs).sum();
            values.push(("B/op".into(), (bytes / total_n) as f64));
            values.push(("allocs/op".into(), (allocs / total_n) as f64));
        }
        Ok(Result {
            iterations,
            values,
            ns_per_op_ci: Some((summary.lo, summary.hi)),
            samples: Some(used.len()),
            ..Result::default()
        })
    }
}

const NOT_COUNTING: &str = "B/op and allocs/op need sonde's counting allocator: use sonde_bench::main!, which \
                            installs it, or make sonde::heap::Sampled your #[global_allocator]";

/// The samples the statistic is taken over. A single-threaded sample whose
/// thread got less CPU than wall-clock time was interrupted (the machine is
/// busy); when enough samples ran uninterrupted, only they count. Benchmarks
/// that block or sleep, and parallel ones, use every sample.
fn selected(samples: &[Finished]) -> Vec<&Finished> {
    let parallel = samples.iter().any(|s| s.parallel);
    let clean: Vec<&Finished> = samples
        .iter()
        .filter(|s| s.measured.cpu_ns as f64 >= 0.97 * s.measured.wall_ns as f64)
        .collect();
    if !parallel && clean.len() >= (samples.len() / 4).max(5).min(samples.len()) {
        clean
    } else {
        samples.iter().collect()
    }
}

/// The median time per iteration over the selected samples.
fn summarize(samples: &[Finished]) -> stats::Summary {
    let per_op: Vec<f64> = selected(samples)
        .iter()
        .map(|s| s.measured.wall_ns as f64 / s.measured.n.max(1) as f64)
        .collect();
    stats::summarize(&per_op, 0.95)
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    let msg = p
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "the benchmark panicked".to_string());
    format!("panic: {msg}")
}

/// Parses `args` (what follows the program name), runs the selected benchmarks
/// of package `pkg`, writes Go's text format (or JSON lines) to `out`, and
/// returns the exit code: 0 if all passed, 1 if one failed, 2 for bad flags.
pub fn run_with(pkg: &str, benches: &[Benchmark], args: &[String], mut out: Box<dyn Write>) -> i32 {
    let started = Instant::now();
    let opts = match Options::parse(args) {
        Ok(o) => o,
        // Asked for: not a failure (cargo would report "bench failed").
        Err(e @ crate::flags::Error::Help) => {
            let _ = writeln!(out, "{e}");
            return 0;
        }
        Err(e) => {
            let _ = writeln!(out, "{e}");
            return 2;
        }
    };
    if let Some(patterns) = &opts.list {
        for b in benches {
            if crate::flags::matches_levels(patterns, &[b.name.as_str()]) {
                let _ = writeln!(out, "{}", b.name);
            }
        }
        return 0;
    }
    let counting = allocations_counted();
    if opts.benchmem && !counting {
        let _ = writeln!(out, "--benchmem: {NOT_COUNTING}");
        return 2;
    }
    let profiles = match crate::profiles::Profiles::start(&opts) {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(out, "{e}");
            return 2;
        }
    };
    let maxprocs = *opts.cpu.iter().max().unwrap_or(&1);
    let ext_len = benchfmt::with_procs("", maxprocs).len();
    let width = benches
        .iter()
        .filter(|b| opts.selects(&[b.name.as_str()]))
        .map(|b| benchfmt::with_procs(&b.name, maxprocs).len() + ext_len + 1)
        .max()
        .unwrap_or(0);
    let json = opts.json;
    let session = Rc::new(Session {
        opts,
        pkg: pkg.to_string(),
        out: RefCell::new(out),
        width: Cell::new(width),
        ext_len,
        header_done: Cell::new(false),
        passed: Cell::new(0),
        failures: Cell::new(0),
        counting,
        rng: Cell::new(0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id())),
    });
    // `--count N` runs the whole selection N times over, rather than each
    // benchmark N times in a row (as Go does): a spell of interference from
    // the machine then spreads over every benchmark's results instead of
    // shifting all of one benchmark's. A benchmark that failed is not rerun.
    let mut failed = vec![false; benches.len()];
    for _ in 0..session.opts.count {
        for (b, failed) in benches.iter().zip(failed.iter_mut()) {
            let f = b.f;
            if !*failed {
                *failed = !session.run_benchmark(&b.name, &mut |bb: &mut B| f(bb));
            }
        }
    }
    let (written, problems) = profiles.finish();
    // Where the profiles went, on standard error so results files stay clean.
    written.iter().for_each(|w| eprintln!("{w}"));
    for p in &problems {
        session.say(&format!("{p}\n"));
    }
    let failed = session.failures.get() > 0 || !problems.is_empty();
    if session.opts.test_mode {
        session.say(&format!(
            "\ntest result: {}. {} passed; {} failed; finished in {:.2}s (benchmarks run once each; \
             `cargo bench` measures them)\n\n",
            if failed { "FAILED" } else { "ok" },
            session.passed.get(),
            session.failures.get(),
            started.elapsed().as_secs_f64()
        ));
    } else if !json {
        let elapsed = started.elapsed().as_secs_f64();
        session.say(&if failed {
            format!("FAIL\nFAIL\t{pkg}\t{elapsed:.3}s\n")
        } else {
            format!("PASS\nok  \t{pkg}\t{elapsed:.3}s\n")
        });
    }
    i32::from(failed)
}

/// Runs the benchmarks with the process's arguments and exits (what
/// [`main!`](macro@crate::main) calls).
pub fn main(pkg: &str, benches: &[Benchmark]) -> ! {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = run_with(pkg, benches, &args, Box::new(std::io::stdout()));
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_names() {
        assert_eq!(go_name("fibonacci_20"), "BenchmarkFibonacci20");
        assert_eq!(go_name("benches::parse_json"), "BenchmarkParseJson");
        assert_eq!(go_name("BenchmarkKeep"), "BenchmarkKeep");
        assert_eq!(sub_name("size 10"), "size_10");
    }
}
