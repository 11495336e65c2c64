//! Example 2: an expensive operation (a sum of squares) and a quick one that
//! sleeps 10 ms, in a loop. The CPU profile shows only the expensive one (≥
//! 95%); the block profile shows where the sleeper waits, which the seed says
//! a CPU profile cannot.

use std::hint::black_box;
use std::time::Duration;

use anyhow::Result;
use sonde::cpu::{self, CpuOptions};

use crate::demo::analyze::{self, pct, row_text, sh, share, short};
use crate::demo::{Ctx, Outcome};

/// The seed's `expensiveOperation`, five million multiply-adds instead of
/// one: the seed's million takes under a millisecond here, and a hundred of
/// them are too few samples to tell 95% from 99%.
#[inline(never)]
pub fn expensive_operation() -> u64 {
    let mut sum = 0u64;
    for i in 0..5_000_000u64 {
        // black_box: without it the compiler sums the series in closed form.
        sum = sum.wrapping_add(black_box(i) * i);
    }
    sum
}

/// The seed's `quickOperation`: 10 ms of sleep, recorded as a blocking wait.
#[inline(never)]
pub fn quick_operation() {
    sonde::sync::record_block(|| std::thread::sleep(Duration::from_millis(10)));
    // Not a tail call: the frame stays on the stack for the profile to name.
    black_box(());
}

pub fn run(ctx: &Ctx, o: &mut Outcome) -> Result<()> {
    // The seed's hundred rounds in the quick version too: each round may
    // leave a sample in the sleep (a CPU timer expiring as the thread enters
    // the system call is seen at the next kernel tick), which twenty rounds
    // would not dilute.
    let rounds = 100;
    o.planted = format!(
        "{rounds} rounds of expensive_operation (five million multiply-adds) and quick_operation (sleeps 10 ms)"
    );
    sonde::sync::set_block_profile_rate(1);
    let profiler = cpu::start(CpuOptions::default().frequency(1000))?;
    for _ in 0..rounds {
        black_box(expensive_operation());
        quick_operation();
    }
    let profile = profiler.stop()?;
    let cpu_path = ctx.file("cpu.pb.gz");
    analyze::write(&profile, &cpu_path)?;
    let block_path = ctx.file("block.pb.gz");
    analyze::write(&sonde::sync::block_profile(), &block_path)?;
    let svg = ctx.file("cpu.svg");
    analyze::flame(&cpu_path, None, &svg, "CPU: Example 2")?;

    let top = analyze::top(&cpu_path, |c| c.user_code = true)?;
    let first = top.rows.first().map(|r| row_text(&top, r)).unwrap_or_default();
    o.found = format!("sonde top --user-code: {}", short(&first));
    let expensive = share(&top, "expensive_operation", true);
    o.check(
        top.rows.first().is_some_and(|r| r.name.contains("expensive_operation")) && expensive >= 0.95,
        format!(
            "the CPU profile's first row is expensive_operation, with {:.1}% of CPU (≥ 95%)",
            expensive * 100.0
        ),
    );
    // What the CPU profile has of quick_operation is the CPU its calls use
    // (the block profile's recording of each wait among it) and samples whose
    // timer expired as the thread entered the sleep: milliseconds, against
    // the second it slept.
    let quick_ns = analyze::find(&top, "quick_operation").map_or(0, |r| r.cum);
    let slept_ns = Duration::from_millis(10 * rounds as u64).as_nanos() as i64;
    o.check(
        quick_ns * 20 < slept_ns,
        format!(
            "quick_operation has {} ms in the CPU profile ({} of it) for the {} ms it slept (< 5%): sleeping uses no CPU",
            quick_ns / 1_000_000,
            pct(quick_ns, top.total),
            slept_ns / 1_000_000
        ),
    );
    let block = analyze::top(&block_path, |c| c.sample_index = Some("delay".into()))?;
    let waits = analyze::find(&block, "quick_operation");
    o.check(
        waits.is_some_and(|r| r.cum as f64 >= 0.95 * block.total as f64 && r.cum >= slept_ns),
        format!(
            "the block profile puts {} of wait at quick_operation ({} of all; it slept ≥ {} ms)",
            waits.map_or("nothing".into(), |r| r.cum_format.clone()),
            waits.map_or("0%".into(), |r| pct(r.cum, block.total)),
            slept_ns / 1_000_000
        ),
    );
    for p in [&cpu_path, &block_path, &svg] {
        o.file(p);
    }
    o.explore(format!("sonde top --user-code {}", sh(&cpu_path)));
    o.explore(format!("sonde list expensive_operation {}", sh(&cpu_path)));
    o.explore(format!("sonde top {}", sh(&block_path)));
    o.explore(format!("sonde web {}", sh(&cpu_path)));
    Ok(())
}
