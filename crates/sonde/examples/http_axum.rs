//! The seed article's Pattern 1 as a Rust service: `/slow` sums to 10 million,
//! `/fast` answers at once, and sonde's `/debug/pprof` endpoints are merged
//! into the app (Go: `import _ "net/http/pprof"`).
//!
//! ```sh
//! cargo run --release -p sonde --features http --example http_axum [ADDR]
//! # then, from another terminal:
//! while true; do curl -s http://127.0.0.1:8080/slow >/dev/null; done &
//! sonde top http://127.0.0.1:8080/debug/pprof/profile?seconds=5
//! go tool pprof -top http://127.0.0.1:8080/debug/pprof/profile?seconds=5
//! ```

#[global_allocator]
static ALLOC: sonde::heap::Sampled<std::alloc::System> = sonde::heap::Sampled::new(std::alloc::System);

/// The slow endpoint: a CPU-bound loop (the seed's `slowHandler`).
#[inline(never)]
fn slow_handler() -> String {
    let mut sum = 0u64;
    for i in 0..10_000_000u64 {
        sum = sum.wrapping_add(std::hint::black_box(i));
    }
    format!("sum: {sum}\n")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8080".into());
    let app = axum::Router::new()
        .route("/slow", axum::routing::get(|| async { slow_handler() }))
        .route("/fast", axum::routing::get(|| async { "fast\n" }))
        .merge(sonde::http::router());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    let addr = listener.local_addr()?;
    println!("serving on http://{addr}: /slow, /fast and /debug/pprof/");
    println!("try: sonde top http://{addr}/debug/pprof/profile?seconds=5 (while loading /slow)");
    axum::serve(listener, app).await?;
    Ok(())
}
