//! The leak scenarios of the heap profiler's accuracy benchmark, one per run, at
//! the default sampling rate; writes the heap profile to the given path (read
//! back with `go tool pprof`, as bench/heap-accuracy.sh does).
//!
//! * `seed`: the seed article's Example 3, `create_memory` leaking 1 MiB ten
//!   times and `temporary_allocation` dropping 1 MiB ten times;
//! * `small`: `leak_small` leaking 100,000 blocks of 100 bytes among 1 GB of
//!   churn (8 to 512 bytes, freed), one leak per 10 KB of churn;
//! * `mixed`: the same next to 100 MB of 200-byte blocks that `hold_live`
//!   keeps, so that the leak is a tenth of the heap in use.
//!
//! Usage: accuracy seed|small|mixed OUT.pb.gz SEED
use std::alloc::System;

#[global_allocator]
static ALLOC: sonde::heap::Sampled<System> = sonde::heap::Sampled::new(System);

#[inline(never)]
fn create_memory(leak: &mut Vec<Vec<u8>>) {
    leak.push(vec![1u8; 1 << 20]);
}

#[inline(never)]
fn temporary_allocation() {
    std::hint::black_box(vec![1u8; 1 << 20]);
}

#[inline(never)]
fn leak_small(leak: &mut Vec<Vec<u8>>) {
    leak.push(vec![7u8; 100]);
}

#[inline(never)]
fn hold_live(keep: &mut Vec<Vec<u8>>) {
    for _ in 0..500_000 {
        keep.push(vec![3u8; 200]);
    }
}

#[inline(never)]
fn churn(bytes: u64, x: &mut u64, window: &mut Vec<Vec<u8>>) {
    let mut done = 0;
    while done < bytes {
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        let size = 8 + (*x % 505) as usize;
        if window.len() == 64 {
            window.swap_remove((*x % 64) as usize);
        }
        window.push(vec![0u8; size]);
        done += size as u64;
    }
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let (scenario, out) = (args[1].as_str(), &args[2]);
    let mut x = args.get(3).and_then(|s| s.parse::<u64>().ok()).unwrap_or(1) | 1;
    let mut leak = Vec::with_capacity(100_000);
    match scenario {
        "seed" => {
            for _ in 0..10 {
                create_memory(&mut leak);
                temporary_allocation();
            }
        }
        "small" | "mixed" => {
            let mut keep = Vec::new();
            if scenario == "mixed" {
                hold_live(&mut keep);
            }
            std::hint::black_box(&keep);
            let mut window = Vec::with_capacity(64);
            for _ in 0..100_000 {
                leak_small(&mut leak);
                churn(10_000, &mut x, &mut window);
            }
            sonde::heap::profile().write_file(out)?;
            std::hint::black_box(&keep);
        }
        _ => panic!("scenario is seed, small or mixed"),
    }
    if scenario == "seed" {
        sonde::heap::profile().write_file(out)?;
    }
    std::hint::black_box(&leak);
    Ok(())
}
