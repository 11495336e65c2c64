//! `http <latency|memory|load>`: one measurement per subcommand; prints one
//! line per result, `name value`, for bench/http.sh to take medians of.
//!
//! * latency: `/debug/pprof/` and `/debug/pprof/heap` with 100,000 live
//!   sampled blocks (every allocation sampled) from 100 call sites; median and
//!   p99 ms over 200 requests each, after one warm-up (symbols load).
//! * memory: sonde's own and the process's live heap bytes after requests
//!   10 and 1000 to `heap`, `goroutine?debug=1` and the index.
//! * load: an axum app's `/fast` p99 latency (one client, 4000 requests) with
//!   and without 8 clients fetching the index and the heap profile (1000
//!   requests), in alternating rounds; scraper errors counted.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sonde_test_support::http::get;

#[global_allocator]
static A: sonde::heap::Sampled<std::alloc::System> = sonde::heap::Sampled::new(std::alloc::System);

const T: Duration = Duration::from_secs(60);

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() - 1) as f64 * p).round() as usize]
}

fn time_requests(addr: SocketAddr, path: &str, n: usize) -> Vec<f64> {
    (0..n)
        .map(|_| {
            let t = Instant::now();
            let r = get(addr, path, &[], T).expect("request");
            assert_eq!(r.status, 200, "{path}: {}", r.text());
            t.elapsed().as_secs_f64() * 1e3
        })
        .collect()
}

/// Keeps `n` blocks alive from 100 distinct stacks (recursion depths).
#[inline(never)]
fn hold(depth: usize, n: usize, out: &mut Vec<Vec<u8>>) {
    if depth == 0 {
        for i in 0..n {
            out.push(vec![0u8; 32 + (i % 8) * 16]);
        }
    } else {
        hold(std::hint::black_box(depth - 1), n, out);
    }
}

fn latency() {
    sonde::heap::set_sample_rate(1);
    let mut live = Vec::with_capacity(100_000);
    for site in 0..100 {
        hold(site, 1000, &mut live);
    }
    let server = sonde::http::serve("127.0.0.1:0").expect("serve");
    let addr = server.local_addr();
    time_requests(addr, "/debug/pprof/heap", 1);
    let mut index = time_requests(addr, "/debug/pprof/", 200);
    let mut heap = time_requests(addr, "/debug/pprof/heap", 200);
    println!("index_ms_median {:.3}", pct(&mut index, 0.5));
    println!("index_ms_p99 {:.3}", pct(&mut index, 0.99));
    println!("heap_100k_ms_median {:.3}", pct(&mut heap, 0.5));
    println!("heap_100k_ms_p99 {:.3}", pct(&mut heap, 0.99));
    let r = get(addr, "/debug/pprof/heap", &[], T).expect("heap");
    let p = sonde::Profile::parse(&r.body).expect("profile");
    let i = p
        .sample_types
        .iter()
        .position(|t| &*t.ty == "inuse_objects")
        .expect("inuse_objects");
    let inuse: i64 = p.samples.iter().map(|s| s.values[i]).sum();
    println!("live_blocks_held {}", live.len());
    println!("live_objects_in_profile {inuse}");
    println!("heap_profile_samples {}", p.samples.len());
    std::hint::black_box(&live);
}

fn memory() {
    let server = sonde::http::serve("127.0.0.1:0").expect("serve");
    let addr = server.local_addr();
    let at = |n: usize| {
        for _ in 0..n {
            for path in ["/debug/pprof/heap", "/debug/pprof/goroutine?debug=1", "/debug/pprof/"] {
                assert_eq!(get(addr, path, &[], T).expect("request").status, 200);
            }
        }
        let own = sonde::heap::own_stats().live_bytes();
        // The symbol cache grows with the addresses it has seen; without it:
        sonde::clear_symbol_cache();
        (
            own,
            sonde::heap::own_stats().live_bytes(),
            sonde::heap::process_stats().live_bytes(),
        )
    };
    let (own10, bare10, proc10) = at(10);
    let (own1000, bare1000, proc1000) = at(990);
    println!("own_live_bytes_growth_10_to_1000 {}", own1000 - own10);
    println!("own_live_bytes_growth_without_symbol_cache {}", bare1000 - bare10);
    println!("process_live_bytes_growth_10_to_1000 {}", proc1000 - proc10);
}

fn load() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = axum::Router::new()
                .route("/fast", axum::routing::get(|| async { "ok" }))
                .merge(sonde::http::router());
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            axum::serve(l, app).await.unwrap();
        });
    });
    let addr = rx.recv().unwrap();
    let errors = Arc::new(AtomicU64::new(0));
    let (mut quiet, mut scraped) = (Vec::new(), Vec::new());
    for round in 0..4 {
        for scraping in [round % 2 == 0, round % 2 == 1] {
            let stop = Arc::new(AtomicBool::new(false));
            let scrapers: Vec<_> = (0..if scraping { 8 } else { 0 })
                .map(|c| {
                    let (stop, errors) = (stop.clone(), errors.clone());
                    std::thread::spawn(move || {
                        let mut i = 0;
                        while !stop.load(Ordering::Relaxed) && i < 125 {
                            let path = if (c + i) % 2 == 0 {
                                "/debug/pprof/"
                            } else {
                                "/debug/pprof/heap"
                            };
                            match get(addr, path, &[], T) {
                                Ok(r) if r.status == 200 => {}
                                _ => {
                                    errors.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                            i += 1;
                        }
                    })
                })
                .collect();
            let lat = time_requests(addr, "/fast", 1000);
            stop.store(true, Ordering::Relaxed);
            for s in scrapers {
                s.join().unwrap();
            }
            if scraping {
                scraped.extend(lat)
            } else {
                quiet.extend(lat)
            }
        }
    }
    let (q, s) = (pct(&mut quiet, 0.99), pct(&mut scraped, 0.99));
    println!("app_p99_ms_quiet {q:.3}");
    println!("app_p99_ms_scraped {s:.3}");
    println!("app_p99_ratio {:.3}", s / q);
    println!("app_p50_ms_quiet {:.3}", pct(&mut quiet, 0.5));
    println!("app_p50_ms_scraped {:.3}", pct(&mut scraped, 0.5));
    println!("scrape_errors {}", errors.load(Ordering::Relaxed));
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("latency") => latency(),
        Some("memory") => memory(),
        Some("load") => load(),
        _ => {
            eprintln!("usage: http latency | memory | load");
            std::process::exit(2);
        }
    }
}
