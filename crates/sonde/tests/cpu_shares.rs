//! Two functions burning CPU about 70/30 (the same loop, 7 and 3 units per
//! round): burn_seventy's share of the profile is the share of CPU time it
//! used in this very run, within a tolerance derived from the number of
//! signals behind the profile.
//!
//! What a broken profiler gives instead: shares swapped (30%), every function
//! alike (50%), samples charged to a caller or a neighbour (the two functions
//! alternate, so either way the split moves towards 50%). Each is 20 points or
//! more from the truth; the test insists on enough signals that its tolerance
//! stays under 15 points.

mod common;

use std::time::Duration;

use common::*;
use sonde::cpu::{self, CpuOptions};

#[inline(never)]
fn burn_seventy(units: u64) -> u64 {
    spin!(units)
}

#[inline(never)]
fn burn_thirty(units: u64) -> u64 {
    spin!(units)
}

/// A round's length in units: random from 0.5 to 1.5 `unit`s, as real work
/// varies. A strictly periodic workload whose period divides the kernel's timer
/// tick would alias with the tick, in any timer-based profiler.
fn round_units(x: &mut u64, unit: u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    unit / 2 + *x % unit.max(1)
}

/// What a profiled worker did: units of work in each function, and its CPU time.
#[derive(Default)]
struct Done {
    seventy: u64,
    thirty: u64,
    cpu: Duration,
}

/// The profiled work: rounds of 7 + 3 units, with no clock reading between the
/// calls (each reading would skew where the kernel's timers fire, see
/// `steps_for`); the split is computed from the units done and the CPU cost of
/// a unit of each function, measured apart with the same clock.
fn worker(rounds: u64, unit: u64, seed: u64) -> Done {
    let mut x = seed | 1;
    let mut d = Done::default();
    let t = thread_cpu();
    for _ in 0..rounds {
        let u = round_units(&mut x, unit);
        std::hint::black_box(burn_seventy(7 * u));
        std::hint::black_box(burn_thirty(3 * u));
        d.seventy += 7 * u;
        d.thirty += 3 * u;
    }
    d.cpu = thread_cpu() - t;
    d
}

/// CPU seconds per unit of each function, from `rounds` timed rounds.
fn unit_costs(rounds: u64, unit: u64) -> (f64, f64) {
    let mut x = 0x2545_f491_4f6c_dd1d;
    let (mut a, mut b, mut units) = (0.0, 0.0, 0);
    for _ in 0..rounds {
        let u = round_units(&mut x, unit);
        let t0 = thread_cpu();
        std::hint::black_box(burn_seventy(7 * u));
        let t1 = thread_cpu();
        std::hint::black_box(burn_thirty(3 * u));
        let t2 = thread_cpu();
        a += (t1 - t0).as_secs_f64();
        b += (t2 - t1).as_secs_f64();
        units += u;
    }
    (a / (7 * units) as f64, b / (3 * units) as f64)
}

#[test]
fn seventy_thirty_split_is_measured() {
    // A round of about 5 ms, and what a unit of each function costs.
    let unit = steps_for(Duration::from_millis(5), || {
        std::hint::black_box(burn_seventy(700));
        std::hint::black_box(burn_thirty(300));
    }) * 100;
    let (cost_seventy, cost_thirty) = unit_costs(100, unit);
    // About 2 CPU-seconds per thread: some 1000 signals on a 250 Hz kernel.
    let (threads, rounds) = (2, 400);
    let profiler = cpu::start(CpuOptions::default().frequency(1000)).expect("start");
    let done: Vec<Done> = (0..threads)
        .map(|t| std::thread::spawn(move || worker(rounds, unit, 0x9e37 + t)))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().expect("worker"))
        .collect();
    let p = profiler.stop().expect("stop");
    assert_valid(&p);

    let seventy: f64 = done.iter().map(|d| d.seventy as f64 * cost_seventy).sum();
    let thirty: f64 = done.iter().map(|d| d.thirty as f64 * cost_thirty).sum();
    let truth = seventy / (seventy + thirty);
    let cpu: f64 = done.iter().map(|d| d.cpu.as_secs_f64()).sum();
    // The unit costs hold in the profiled run: the CPU time the workers used is
    // what their units cost (the signal handler's own time adds a little). A
    // virtual CPU whose host core is shared, or whose clock changes with the
    // load, runs every unit slower or faster alike between the calibration and
    // the run (by up to a fifth, measured here while other benchmarks ran):
    // that leaves the 70/30 truth as it is, so only a gross mismatch fails.
    assert!(
        ((seventy + thirty) / cpu - 1.0).abs() <= 0.35,
        "the workers used {cpu:.3}s of CPU, their units cost {:.3}s",
        seventy + thirty
    );
    // A sanity check of the workload (the same loop, 7 and 3 units).
    assert!(
        (truth - 0.70).abs() <= 0.05,
        "the workload itself is not 70/30: {:.2}%",
        truth * 100.0
    );

    // Each signal is one observation of which function runs; it carries the
    // periods elapsed since the previous one (a tick's worth), whose variation
    // makes the weighted share vary more than a plain count would: twice the
    // binomial variance covers it (measured: 1.4 binomial standard errors).
    // Four standard errors, and a point for what the unit costs miss.
    let n = signals(&p);
    let se = (2.0 * truth * (1.0 - truth) / n as f64).sqrt();
    let tolerance = 4.0 * se + 0.01;
    assert!(
        tolerance <= 0.15,
        "only {n} signals for {cpu:.3} CPU-seconds: too few to tell a 70/30 split from a wrong one"
    );
    let (a, b) = (cum(&p, "burn_seventy") as f64, cum(&p, "burn_thirty") as f64);
    let share = a / (a + b);
    eprintln!(
        "burn_seventy: profile {:.2}%, measured CPU {:.2}%, over {n} signals (tolerance {:.2} points)",
        share * 100.0,
        truth * 100.0,
        tolerance * 100.0
    );
    assert!(
        (share - truth).abs() <= tolerance,
        "burn_seventy has {:.1}% in the profile (want its real {:.1} ± {:.1}, from {n} signals)",
        share * 100.0,
        truth * 100.0,
        tolerance * 100.0
    );
}
