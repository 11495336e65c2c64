//! A bounded load test of `/debug/pprof` on loopback: 1000 requests to the
//! index and the heap profile from 8 concurrent clients while the app serves
//! its own traffic (`/fast`, one client): no request fails, and the app's
//! latency is reported (bench/http.sh measures it against no scraping).
//! Its own process, so that the heap profile is this test's alone.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use sonde_test_support::http::get;

mod http_app;
use http_app::{must, start_app};

#[global_allocator]
static ALLOC: sonde::heap::Sampled<std::alloc::System> = sonde::heap::Sampled::new(std::alloc::System);

const T: Duration = Duration::from_secs(30);

#[test]
fn a_thousand_scrapes_from_eight_clients_while_the_app_serves() {
    let addr = start_app();
    let stop = Arc::new(AtomicBool::new(false));
    let app_client = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut latencies = Vec::new();
            while !stop.load(Ordering::Relaxed) && latencies.len() < 100_000 {
                let t = Instant::now();
                let r = must(get(addr, "/fast", &[], T), "GET /fast");
                assert_eq!(r.status, 200);
                latencies.push(t.elapsed());
                // A client of the app, not a load generator: leave the CPU to
                // the scrapes under test.
                std::thread::sleep(Duration::from_millis(1));
            }
            latencies
        })
    };
    let scrapers: Vec<_> = (0..8)
        .map(|c| {
            std::thread::spawn(move || {
                let mut errors = Vec::new();
                for i in 0..125 {
                    let path = if (c + i) % 2 == 0 {
                        "/debug/pprof/"
                    } else {
                        "/debug/pprof/heap"
                    };
                    match get(addr, path, &[], T) {
                        Ok(r) if r.status == 200 && !r.body.is_empty() => {}
                        Ok(r) => errors.push(format!("{path}: {} {}", r.status, r.text())),
                        Err(e) => errors.push(format!("{path}: {e}")),
                    }
                }
                errors
            })
        })
        .collect();
    let scrape_start = Instant::now();
    let errors: Vec<String> = scrapers.into_iter().flat_map(|s| s.join().expect("scraper")).collect();
    let scraped_in = scrape_start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let mut app = app_client.join().expect("app client");
    assert!(
        errors.is_empty(),
        "{} of 1000 scrapes failed: {:?}",
        errors.len(),
        &errors[..errors.len().min(5)]
    );
    app.sort();
    eprintln!(
        "the app's /fast during 1000 scrapes ({scraped_in:?}): {} requests, p50 {:?}, p99 {:?} (bench/http.sh measures it against no scraping)",
        app.len(),
        app[app.len() / 2],
        app[app.len() * 99 / 100]
    );
}
