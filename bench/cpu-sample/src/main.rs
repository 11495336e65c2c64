//! CPU profiler benchmarks (run through `bench/cpu.sh`):
//!
//! * `sample`: the cost of one sample's stack walk from a stack about 60 frames
//!   deep, for each of sonde's walks and for pprof-rs 0.15's two unwinders (its
//!   default `backtrace::trace_unsynchronized`, and its frame-pointer loop with
//!   `pprof::validate` on every frame), all called directly, signal delivery aside.
//! * `overhead`: a ~3 s deterministic CPU workload run unprofiled, profiled at
//!   100 Hz and at 1000 Hz, interleaved; prints the median CPU-time ratios.

use std::time::{Duration, Instant};

use sonde::__bench::{SamplePath, Unwinding};

const DEPTH: usize = 60;

#[inline(never)]
fn at_depth(depth: usize, f: &mut dyn FnMut()) {
    if depth == 0 {
        f();
    } else {
        at_depth(std::hint::black_box(depth - 1), f);
    }
    std::hint::black_box(depth);
}

fn getcontext() -> Box<libc::ucontext_t> {
    // SAFETY: getcontext fills the zeroed context with this thread's registers.
    unsafe {
        let mut uc: Box<libc::ucontext_t> = Box::new(std::mem::zeroed());
        assert_eq!(libc::getcontext(&mut *uc), 0);
        uc
    }
}

/// pprof-rs's frame-pointer walk, as its `frame_pointer::Trace` does it: every frame
/// pointer is checked with `pprof::validate` (a write(2) to a pipe) before it is read.
#[inline(never)]
fn pprof_frame_pointer_walk(uc: &libc::ucontext_t, out: &mut [usize]) -> usize {
    #[cfg(target_arch = "x86_64")]
    let mut fp = uc.uc_mcontext.gregs[libc::REG_RBP as usize] as usize;
    #[cfg(target_arch = "aarch64")]
    let mut fp = uc.uc_mcontext.regs[29] as usize;
    let mut last = 0usize;
    let mut n = 0;
    loop {
        if last != 0 && fp < last {
            break;
        }
        if !pprof::validate(fp as *const libc::c_void) {
            break;
        }
        last = fp;
        // SAFETY: validated above, as pprof-rs does.
        let (next, ret) = unsafe { (*(fp as *const usize), *((fp + 8) as *const usize)) };
        if n >= out.len() {
            break;
        }
        out[n] = ret;
        n += 1;
        fp = next;
    }
    n
}

/// pprof-rs's default unwinder: the backtrace crate's unsynchronized trace.
#[inline(never)]
fn pprof_backtrace_walk(out: &mut [usize]) -> usize {
    let mut n = 0;
    // SAFETY: no other thread uses the backtrace crate during the benchmark.
    unsafe {
        backtrace::trace_unsynchronized(|frame| {
            if n < out.len() {
                out[n] = frame.ip() as usize;
                n += 1;
                true
            } else {
                false
            }
        })
    };
    n
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn sample_bench() {
    let tables = SamplePath::new(Unwinding::Tables).expect("tables");
    let fps = SamplePath::new(Unwinding::FramePointers).expect("frame pointers");
    let auto = SamplePath::new(Unwinding::Auto).expect("auto");
    let batches = 9;
    at_depth(DEPTH, &mut || {
        let uc = getcontext();
        let ucp = (&*uc as *const libc::ucontext_t).cast();
        type Case<'a> = (&'a str, u32, Box<dyn FnMut() -> usize + 'a>);
        let mut cases: Vec<Case> = vec![
            // SAFETY (all three): `uc` was filled by getcontext in this frame, which is live.
            (
                "sonde, frame pointers",
                20_000,
                Box::new(|| unsafe { fps.capture(ucp, &mut [0u64; 256]) }),
            ),
            (
                "sonde, unwind tables",
                20_000,
                Box::new(|| unsafe { tables.capture(ucp, &mut [0u64; 256]) }),
            ),
            (
                "sonde, auto",
                20_000,
                Box::new(|| unsafe { auto.capture(ucp, &mut [0u64; 256]) }),
            ),
            (
                "pprof-rs 0.15, default (backtrace)",
                2_000,
                Box::new(|| pprof_backtrace_walk(&mut [0usize; 256])),
            ),
            (
                "pprof-rs 0.15, frame pointers",
                500,
                Box::new(|| pprof_frame_pointer_walk(&uc, &mut [0usize; 256])),
            ),
        ];
        let mut results: Vec<Vec<f64>> = vec![Vec::new(); cases.len()];
        let mut frames = vec![0usize; cases.len()];
        for (i, (_, n, f)) in cases.iter_mut().enumerate() {
            for _ in 0..*n / 10 {
                frames[i] = std::hint::black_box(f());
            }
        }
        for _ in 0..batches {
            for (i, (_, n, f)) in cases.iter_mut().enumerate() {
                let t = Instant::now();
                for _ in 0..*n {
                    std::hint::black_box(f());
                }
                results[i].push(t.elapsed().as_nanos() as f64 / *n as f64);
            }
        }
        println!("sample path from a stack {DEPTH} frames deep (median of {batches} batches, ns per sample):");
        for (i, (name, _, _)) in cases.iter().enumerate() {
            let m = median(results[i].clone());
            println!(
                "  {name:<38} {:>9.0} ns  {:>5.2} µs  ({} frames)",
                m,
                m / 1000.0,
                frames[i]
            );
        }
        println!("  (sonde auto resolved to {})", auto.walk());
    });
}

#[inline(never)]
fn mix(x: u64) -> u64 {
    let mut v = x;
    for _ in 0..400 {
        v = v.rotate_left(5) ^ 0x9e37_79b9_7f4a_7c15;
        v = v.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    }
    v
}

#[inline(never)]
fn descend(depth: u32, x: u64) -> u64 {
    if depth == 0 {
        mix(x)
    } else {
        descend(depth - 1, x ^ depth as u64).wrapping_add(1)
    }
}

#[inline(never)]
fn workload(iters: u64) -> u64 {
    let mut acc = 0u64;
    for i in 0..iters {
        acc = acc.wrapping_add(descend(20 + (i % 10) as u32, i));
        if i % 64 == 0 {
            let v: Vec<u64> = (0..128).map(|j| j ^ acc).collect();
            acc ^= std::hint::black_box(v).iter().sum::<u64>();
        }
    }
    acc
}

fn process_cpu() -> Duration {
    // SAFETY: getrusage writes into the zeroed struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let t = |tv: libc::timeval| Duration::new(tv.tv_sec as u64, tv.tv_usec as u32 * 1000);
    t(ru.ru_utime) + t(ru.ru_stime)
}

fn overhead_bench(runs: usize) {
    // Calibrate: about 3 s of CPU, unprofiled.
    let t = process_cpu();
    std::hint::black_box(workload(2000));
    let per = (process_cpu() - t).as_secs_f64() / 2000.0;
    let iters = (3.0 / per.max(1e-9)) as u64;
    let configs: [(&str, Option<u32>); 3] = [("unprofiled", None), ("100 Hz", Some(100)), ("1000 Hz", Some(1000))];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); configs.len()];
    let mut stops = Vec::new();
    for r in 0..runs {
        for k in 0..configs.len() {
            let i = (k + r) % configs.len();
            let profiler = configs[i]
                .1
                .map(|hz| sonde::cpu::start(sonde::cpu::CpuOptions::default().frequency(hz)).expect("start"));
            let t = process_cpu();
            std::hint::black_box(workload(iters));
            cpu[i].push((process_cpu() - t).as_secs_f64());
            if let Some(p) = profiler {
                let s = Instant::now();
                let profile = p.stop().expect("stop");
                stops.push(s.elapsed().as_secs_f64());
                assert!(!profile.samples.is_empty());
            }
        }
    }
    let base = median(cpu[0].clone());
    println!("end-to-end CPU time of a {base:.2} s workload ({runs} interleaved runs, medians):");
    for (i, (name, _)) in configs.iter().enumerate() {
        let m = median(cpu[i].clone());
        println!(
            "  {name:<11} {m:.3} s  ratio {:.4}  overhead {:+.2}%",
            m / base,
            (m / base - 1.0) * 100.0
        );
    }
    println!(
        "  stop() including symbolization: median {:.0} ms",
        median(stops) * 1000.0
    );
}

/// CPU used by the profiler itself while the program sleeps: the collector's
/// fixed cost.
fn idle_bench() {
    for hz in [100, 1000] {
        let p = sonde::cpu::start(sonde::cpu::CpuOptions::default().frequency(hz)).expect("start");
        let t = process_cpu();
        std::thread::sleep(Duration::from_secs(5));
        let used = process_cpu() - t;
        p.stop().expect("stop");
        println!(
            "idle at {hz} Hz: the profiler used {:.2} ms of CPU per second ({:.3}% of one core)",
            used.as_secs_f64() * 1000.0 / 5.0,
            used.as_secs_f64() / 5.0 * 100.0
        );
    }
}

fn main() {
    let what = std::env::args().nth(1).unwrap_or_else(|| "sample".into());
    let runs = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(5);
    match what.as_str() {
        "sample" => sample_bench(),
        "overhead" => overhead_bench(runs),
        "idle" => idle_bench(),
        _ => eprintln!("usage: sonde-bench-cpu sample | overhead [RUNS]"),
    }
}
