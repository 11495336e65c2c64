//! Two functions burning CPU 70/30 (the same loop, 7 and 3 units per round):
//! their shares in the profile are within 3 percentage points of the split
//! their threads' CPU clocks measure in the same run, with enough samples that 3
//! points is at least 4 standard errors.

mod common;

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

/// Rounds of 7 + 3 units. Round lengths vary randomly (0.5 to 1.5 units), as real
/// work does: a strictly periodic workload whose period divides the kernel's timer
/// tick would alias with the tick, in any timer-based profiler.
///
/// Returns the thread CPU seconds spent in each function: the true split of this
/// very run, to hold the profile against.
fn worker(rounds: u64, unit: u64, seed: u64) -> (f64, f64) {
    let mut x = seed | 1;
    let (mut a, mut b) = (0.0, 0.0);
    for _ in 0..rounds {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let u = unit / 2 + x % unit.max(1);
        let t0 = thread_cpu();
        std::hint::black_box(burn_seventy(7 * u));
        let t1 = thread_cpu();
        std::hint::black_box(burn_thirty(3 * u));
        let t2 = thread_cpu();
        a += (t1 - t0).as_secs_f64();
        b += (t2 - t1).as_secs_f64();
    }
    (a, b)
}

/// The unit that makes a round last about 5 ms.
fn calibrate() -> u64 {
    let mut unit = 1_000u64;
    loop {
        let t = thread_cpu();
        worker(4, unit, 1);
        let round = (thread_cpu() - t).as_secs_f64() / 4.0;
        if round > 0.001 {
            return (unit as f64 * 0.005 / round) as u64;
        }
        unit *= 4;
    }
}

#[test]
fn seventy_thirty_split_is_measured() {
    let unit = calibrate();
    // 0.03 >= 4 * sqrt(p(1-p)/n) needs n >= 3734 observations at p = 0.3.
    let need = (16.0 * 0.3 * 0.7 / (0.03f64 * 0.03)).ceil() as u64;
    // About 8 s of CPU per thread: with at least 250 signals per CPU-second per
    // thread (the kernel's tick), two threads give the observations needed.
    let threads = 2;
    let mut rounds = 1600;
    let mut attempt = 0;
    let (p, observed, truth) = loop {
        let profiler = cpu::start(CpuOptions::default().frequency(1000)).expect("start");
        let hs: Vec<_> = (0..threads)
            .map(|t| std::thread::spawn(move || worker(rounds, unit, 0x9e37 + t)))
            .collect();
        let (a, b) = hs
            .into_iter()
            .map(|h| h.join().expect("worker"))
            .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
        let p = profiler.stop().expect("stop");
        let observed = signals(&p);
        attempt += 1;
        if observed >= need || attempt == 3 {
            break (p, observed, a / (a + b));
        }
        rounds *= 2;
    };
    // A sanity check of the workload (the same loop, 7 and 3 units): on a shared
    // virtual machine the split measures a point or two either side of 70%.
    assert!(
        (truth - 0.70).abs() <= 0.05,
        "the workload itself is not 70/30: {:.2}%",
        truth * 100.0
    );
    assert!(observed >= need, "only {observed} signals, {need} needed");
    assert_valid(&p);
    let (a, b) = (cum(&p, "burn_seventy") as f64, cum(&p, "burn_thirty") as f64);
    let share = a / (a + b);
    eprintln!(
        "burn_seventy: profile {:.2}%, measured CPU {:.2}%, over {observed} signals (standard error {:.2} points)",
        share * 100.0,
        truth * 100.0,
        100.0 * (0.21 / observed as f64).sqrt()
    );
    assert!(
        (share - truth).abs() <= 0.03,
        "burn_seventy has {:.1}% in the profile (want its real {:.1} ± 3)",
        share * 100.0,
        truth * 100.0
    );
}
