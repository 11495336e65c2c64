//! The pull side of continuous profiling: what Grafana Alloy's
//! `pyroscope.scrape` and Parca request of a target, exactly, with the scrape
//! configurations the README shows (`scrape_interval` 5 s), answered by
//! sonde's `/debug/pprof` router as those scrapers require: HTTP 200, a
//! non-empty body that is a pprof profile, the sample types their delta code
//! expects, and cumulative profiles that never go back between two scrapes
//! (Alloy subtracts consecutive scrapes of `allocs`, `block` and `mutex`
//! itself).
//!
//! Alloy (grafana/alloy `internal/component/pyroscope/scrape`): `memory`
//! `/debug/pprof/allocs`, `block`, `goroutine`, `mutex` without parameters,
//! and `process_cpu` `/debug/pprof/profile?seconds=<interval - 1>`. Parca
//! (parca-dev/parca `pkg/config/config.go`): the same paths, and the CPU with
//! `seconds=<interval>`.

mod http_app;

use std::time::Duration;

use http_app::{must, start_app};
use sonde_profile::Profile;
use sonde_test_support::http::get;

const INTERVAL_SECS: u64 = 5;

fn scrape(addr: std::net::SocketAddr, path: &str) -> Profile {
    let r = must(get(addr, path, &[], Duration::from_secs(INTERVAL_SECS + 10)), path);
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    assert!(!r.body.is_empty(), "{path}: Alloy refuses an empty profile");
    Profile::parse(&r.body).unwrap_or_else(|e| panic!("{path}: not a profile: {e}"))
}

fn types(p: &Profile) -> Vec<String> {
    p.sample_types.iter().map(|t| format!("{}/{}", t.ty, t.unit)).collect()
}

/// Each sample's values keyed by its stack of function names.
fn by_stack(p: &Profile) -> std::collections::HashMap<Vec<String>, Vec<i64>> {
    let mut m = std::collections::HashMap::new();
    for s in &p.samples {
        let stack: Vec<String> = s
            .locations
            .iter()
            .flat_map(|&l| p.locations[l as usize].lines.iter())
            .map(|l| p.functions[l.function as usize].name.to_string())
            .collect();
        let e: &mut Vec<i64> = m.entry(stack).or_insert_with(|| vec![0; s.values.len()]);
        for (a, v) in e.iter_mut().zip(&s.values) {
            *a += v;
        }
    }
    m
}

#[test]
fn alloy_and_parca_scrape_every_url_they_request() {
    sonde::sync::set_mutex_profile_fraction(1);
    sonde::sync::set_block_profile_rate(1);
    let addr = start_app();
    let alloy_cpu = format!("/debug/pprof/profile?seconds={}", INTERVAL_SECS - 1);
    let parca_cpu = format!("/debug/pprof/profile?seconds={INTERVAL_SECS}");
    let mut first = std::collections::HashMap::new();
    for round in 0..2 {
        for (path, want) in [
            (
                "/debug/pprof/allocs",
                "alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes",
            ),
            ("/debug/pprof/block", "contentions/count delay/nanoseconds"),
            ("/debug/pprof/goroutine", "goroutine/count"),
            ("/debug/pprof/mutex", "contentions/count delay/nanoseconds"),
        ] {
            let p = scrape(addr, path);
            assert_eq!(types(&p).join(" "), want, "{path}");
            if round == 0 {
                first.insert(path, p);
            } else if path != "/debug/pprof/goroutine" {
                // Cumulative since the start: no stack's count goes back.
                let before = by_stack(&first[path]);
                let after = by_stack(&p);
                for (stack, v) in &before {
                    let now = after
                        .get(stack)
                        .unwrap_or_else(|| panic!("{path}: a stack vanished: {stack:?}"));
                    // inuse_* of allocs is a moment, not cumulative.
                    let n = if path.ends_with("allocs") { 2 } else { v.len() };
                    for i in 0..n {
                        assert!(now[i] >= v[i], "{path}: {stack:?} went from {v:?} to {now:?}");
                    }
                }
            }
        }
        // Something to count between the two rounds.
        let lock = std::sync::Arc::new(sonde::sync::Mutex::new(0u64));
        std::thread::scope(|s| {
            for _ in 0..2 {
                let lock = lock.clone();
                s.spawn(move || {
                    for _ in 0..2000 {
                        *lock.lock().expect("lock") += 1;
                    }
                });
            }
        });
    }
    for (who, path, secs) in [
        ("alloy", &alloy_cpu, INTERVAL_SECS - 1),
        ("parca", &parca_cpu, INTERVAL_SECS),
    ] {
        let p = scrape(addr, path);
        assert_eq!(types(&p), ["samples/count", "cpu/nanoseconds"], "{who}");
        let d = p.duration_nanos as f64 / 1e9;
        assert!(d >= secs as f64 && d < secs as f64 + 2.0, "{who}: {path} lasted {d} s");
    }
}
