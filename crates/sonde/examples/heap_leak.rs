//! The seed article's Example 3 in Rust: one function leaks 1 MiB into a global
//! ten times, another allocates 1 MiB and drops it ten times. The heap profile
//! shows 10 MiB in use in `create_memory` and nothing in `temporary_allocation`.
//!
//! ```sh
//! cargo run --release -p sonde --example heap_leak -- heap.pb.gz
//! go tool pprof -sample_index=inuse_space -top heap.pb.gz    # or: sonde top heap.pb.gz
//! ```

use std::alloc::System;
use std::sync::Mutex;
use std::time::Duration;

#[global_allocator]
static ALLOC: sonde::heap::Sampled<System> = sonde::heap::Sampled::new(System);

static GLOBAL_LEAK: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

#[inline(never)]
fn create_memory() {
    let data = vec![1u8; 1024 * 1024]; // 1MB
    GLOBAL_LEAK.lock().expect("leak list").push(data); // LEAK: never freed
}

#[inline(never)]
fn temporary_allocation() {
    let data = vec![1u8; 1024 * 1024]; // 1MB
    std::hint::black_box(&data); // dropped at the end of the function
}

fn main() -> std::io::Result<()> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "heap.pb.gz".into());
    for _ in 0..10 {
        create_memory();
        temporary_allocation();
        std::thread::sleep(Duration::from_millis(100));
    }
    // Go: pprof.WriteHeapProfile(f). No GC to run first: Rust frees immediately.
    sonde::heap::profile().write_file(&path)?;
    println!("Heap profile written to {path}");
    println!("Leaked {} MB", GLOBAL_LEAK.lock().expect("leak list").len());
    Ok(())
}
