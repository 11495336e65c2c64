//! The seed article's Example 2 in Rust: an expensive operation that burns CPU and
//! a quick one that only sleeps, called 100 times under the CPU profiler.
//!
//! ```sh
//! cargo run --release -p sonde --example cpu_profile -- cpu.pb.gz
//! sonde top cpu.pb.gz            # or: go tool pprof -top cpu.pb.gz
//! ```

use std::time::Duration;

#[inline(never)]
fn expensive_operation() -> u64 {
    let mut sum = 0u64;
    for i in 0..1_000_000u64 {
        sum = sum.wrapping_add(std::hint::black_box(i * i));
    }
    sum
}

#[inline(never)]
fn quick_operation() {
    std::thread::sleep(Duration::from_millis(10));
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "cpu.pb.gz".into());
    let profiler = sonde::cpu::start(sonde::cpu::CpuOptions::default())?;
    let mut total = 0u64;
    for _ in 0..100 {
        total = total.wrapping_add(expensive_operation()); // This will show up in the profile
        quick_operation(); // This won't: sleeping uses no CPU
    }
    let profile = profiler.stop()?;
    profile.write_file(&path)?;
    println!("Profiling complete ({total}); wrote {path}");
    Ok(())
}
