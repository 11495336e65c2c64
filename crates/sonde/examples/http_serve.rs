//! `/debug/pprof` in a program without tokio: `sonde::http::serve` runs the
//! endpoints on a thread and runtime of their own (Go: `go
//! http.ListenAndServe("localhost:6060", nil)`), while the program works: the
//! seed's Example 2, an expensive operation and a sleeping one, forever.
//!
//! ```sh
//! cargo run --release -p sonde --features http --example http_serve [ADDR]
//! sonde top http://127.0.0.1:6060/debug/pprof/profile?seconds=5   # expensive_operation on top
//! sonde top http://127.0.0.1:6060/debug/pprof/wall?seconds=5      # and where the sleeper waits
//! curl -s http://127.0.0.1:6060/debug/pprof/goroutine?debug=1
//! ```

#[global_allocator]
static ALLOC: sonde::heap::Sampled<std::alloc::System> = sonde::heap::Sampled::new(std::alloc::System);

#[inline(never)]
fn expensive_operation() -> u64 {
    let mut sum = 0u64;
    for i in 0..20_000_000u64 {
        sum = sum.wrapping_add(std::hint::black_box(i).wrapping_mul(i));
    }
    sum
}

#[inline(never)]
fn quick_operation() {
    std::thread::sleep(std::time::Duration::from_millis(10));
}

fn main() -> Result<(), sonde::Error> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| ":6060".into());
    let server = sonde::http::serve(&addr)?;
    println!("/debug/pprof/ on http://{}/debug/pprof/", server.local_addr());
    loop {
        std::hint::black_box(expensive_operation());
        quick_operation();
    }
}
