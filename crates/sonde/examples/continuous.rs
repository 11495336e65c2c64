//! The seed's Pattern 2 (`ContinuousProfiler`) and Case Study 2 (a slow
//! leak) in Rust: a service whose request handler keeps a small buffer per
//! request forever, profiled by a sonde agent into a local store.
//!
//! ```sh
//! cargo run --release -p sonde --features agent --example continuous -- ./profiles 60
//! sonde store ls ./profiles
//! sonde growth --store ./profiles --kind heap
//! sonde top --store ./profiles --kind heap --base-to -50s --from -5s
//! ```
//!
//! Arguments: the store's directory (default `./profiles`) and how many
//! seconds to run (default 60). The agent takes a 2 s CPU profile every 10 s
//! and the heap and threads every 5 s (the seed's 30 s every 5 min,
//! compressed so that a minute shows a trend).

use std::alloc::System;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use sonde::agent::{self, LocalStore};

#[global_allocator]
static ALLOC: sonde::heap::Sampled<System> = sonde::heap::Sampled::new(System);

/// What the leaky handler keeps: one session buffer per request, never removed.
static SESSIONS: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// The leak: every request keeps 32 KiB.
#[inline(never)]
fn handle_request(i: u64) -> u64 {
    let session = vec![(i % 251) as u8; 32 * 1024];
    let sum = session.iter().map(|&b| u64::from(b)).sum();
    SESSIONS.lock().expect("sessions").push(session);
    sum
}

/// Honest work: allocates and frees.
#[inline(never)]
fn render_page(i: u64) -> usize {
    let page: String = (0..200).map(|j| format!("<li>{}</li>", i + j)).collect();
    page.len()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().unwrap_or_else(|| "profiles".into());
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(60);

    let agent = agent::builder("continuous-example")
        .version(env!("CARGO_PKG_VERSION"))
        .cpu(Duration::from_secs(2), Duration::from_secs(10))
        .every("heap", Duration::from_secs(5))
        .every("goroutine", Duration::from_secs(5))
        .sink(LocalStore::new(&dir).max_count(500))
        .start()?;

    let start = Instant::now();
    let mut i = 0u64;
    let mut total = 0usize;
    while start.elapsed() < Duration::from_secs(seconds) {
        total += handle_request(i) as usize + render_page(i);
        i += 1;
        std::thread::sleep(Duration::from_millis(20));
    }
    let stats = agent.stop();
    println!(
        "{i} requests ({total}); profiles written to {dir}: {:?}; next: sonde growth --store {dir} --kind heap",
        stats.collected
    );
    Ok(())
}
