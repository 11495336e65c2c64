//! The agent's fleet sink against a Pyroscope stand-in written in Go
//! (tests/go/pyroscope: Connect's unary Push, its own protobuf wire reader,
//! Pyroscope's label validation and status codes): every profile arrives with
//! Pyroscope's labels, credentials and tenant, survives the server's first
//! failures through retries, and is a profile `go tool pprof` reads. A sink
//! that can never succeed is dropped with a message saying why, and never
//! holds up the program or its stop.

mod common;

use std::alloc::System;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;
use sonde::agent::{self, Delivery, LocalStore, Pyroscope};
use sonde_profile::Profile;

#[global_allocator]
static ALLOC: sonde::heap::Sampled<System> = sonde::heap::Sampled::new(System);

/// Allocates, locks and computes until `stop`.
#[inline(never)]
fn workload(stop: &AtomicBool, lock: &sonde::sync::Mutex<Vec<u64>>) {
    let mut x = 1u64;
    while !stop.load(Ordering::Relaxed) {
        let v: Vec<u64> = (0..1000).map(|i| i ^ x).collect();
        x = x.wrapping_add(v.iter().fold(0u64, |a, b| a.wrapping_add(*b)));
        let mut held = lock.lock().expect("lock");
        if held.len() > 1000 {
            held.clear();
        }
        held.push(x);
        std::hint::black_box(&v);
    }
}

fn fast_retries() -> Delivery {
    Delivery {
        backoff: Duration::from_millis(50),
        max_backoff: Duration::from_millis(200),
        ..Delivery::default()
    }
}

#[test]
fn profiles_reach_pyroscope_with_its_labels_through_failures() {
    if !go_available("profiles_reach_pyroscope_with_its_labels_through_failures") {
        return;
    }
    let dir = TempDir::new("pyroscope");
    let out = dir.path("received");
    std::fs::create_dir_all(&out).expect("out dir");
    // The first two pushes get 503: the agent must retry them.
    let server = GoServer::start(&dir, "pyroscope", &[&out, "2"]);
    sonde::sync::set_mutex_profile_fraction(1);
    let agent = agent::builder("pyro-test")
        .version("2.0.0")
        .tag("env", "test")
        .cpu(Duration::from_millis(500), Duration::from_secs(1))
        .every("heap", Duration::from_secs(1))
        .every("mutex", Duration::from_secs(1))
        .every("goroutine", Duration::from_secs(1))
        .sink(
            Pyroscope::new(format!("http://{}/", server.addr))
                .basic_auth("user", "pass")
                .tenant("team-a"),
        )
        .sink(LocalStore::new(dir.path("store")))
        .delivery(fast_retries())
        .start()
        .expect("start");
    let stop = AtomicBool::new(false);
    let lock = sonde::sync::Mutex::new(Vec::new());
    // Memory in use all along (a block this large is recorded exactly).
    let held = std::hint::black_box(vec![1u8; 4 << 20]);
    let t = Instant::now();
    std::thread::scope(|s| {
        s.spawn(|| workload(&stop, &lock));
        s.spawn(|| workload(&stop, &lock));
        // Three collections of each kind at least, however slowly a busy
        // machine lets the agent work (bounded).
        let t = Instant::now();
        while agent.stats().collected.values().min().copied().unwrap_or(0) < 3 || agent.stats().collected.len() < 4 {
            assert!(
                t.elapsed() < Duration::from_secs(60),
                "the agent does not collect: {:?}",
                agent.stats()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        stop.store(true, Ordering::Relaxed);
    });
    let stats = agent.stop();
    drop(held);
    eprintln!("{:?} {stats:#?}", t.elapsed());
    let pyro = &stats.sinks[0];
    assert!(pyro.name.starts_with("pyroscope http://127.0.0.1:"), "{}", pyro.name);
    assert_eq!(pyro.failures, 2, "the two 503s: {pyro:?}");
    assert_eq!((pyro.dropped, pyro.queued), (0, 0), "retried, then delivered: {pyro:?}");
    let collected: u64 = stats.collected.values().sum();
    assert_eq!(pyro.delivered, collected, "{stats:?}");
    assert_eq!(stats.sinks[1].delivered, collected, "the local store took them too");

    // What the server received.
    let mut names = BTreeMap::<String, Vec<String>>::new();
    let mut ids = BTreeSet::new();
    for entry in std::fs::read_dir(&out).expect("received") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).expect("meta")).expect("json");
        let labels = &meta["labels"];
        assert_eq!(labels["service_name"], "pyro-test");
        assert_eq!(labels["__delta__"], "false", "deltas already");
        assert_eq!(labels["version"], "2.0.0");
        assert_eq!(labels["env"], "test");
        assert!(labels["hostname"].as_str().is_some_and(|h| !h.is_empty()));
        assert_eq!(meta["authorization"], "Basic dXNlcjpwYXNz");
        assert_eq!(meta["tenant"], "team-a");
        let id = meta["id"].as_str().expect("id").to_string();
        assert_eq!(id.len(), 36, "{id}");
        assert!(ids.insert(id), "IDs are unique");
        let name = labels["__name__"].as_str().expect("__name__").to_string();
        names
            .entry(name)
            .or_default()
            .push(path.with_extension("pb").to_string_lossy().into_owned());
    }
    // In the order they were received.
    names.values_mut().for_each(|files| files.sort());
    let kinds: Vec<&str> = names.keys().map(String::as_str).collect();
    assert_eq!(kinds, ["goroutine", "memory", "mutex", "process_cpu"]);

    // Each is a profile Go's pprof reads, with the sample types Pyroscope's
    // profile types expect.
    for (name, want) in [
        ("process_cpu", "samples/count cpu/nanoseconds"),
        (
            "memory",
            "alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes",
        ),
        ("mutex", "contentions/count delay/nanoseconds"),
        ("goroutine", "goroutine/count"),
    ] {
        let file = &names[name][0];
        let raw = go_pprof(&["-raw", file]);
        assert!(raw.status.success(), "go tool pprof -raw {file}: {}", stderr(&raw));
        assert!(stdout(&raw).contains(want), "{name}: {}", stdout(&raw));
    }
    // memory: alloc_* net of the previous push (none in the first), inuse_* as is.
    let memory: Vec<Profile> = names["memory"]
        .iter()
        .map(|f| Profile::parse(&std::fs::read(f).expect("read")).expect("a profile"))
        .collect();
    assert!(
        memory.windows(2).all(|w| w[0].time_nanos < w[1].time_nanos),
        "each timed as its snapshot"
    );
    let sum = |p: &Profile, i: usize| p.samples.iter().map(|s| s.values[i]).sum::<i64>();
    assert_eq!(sum(&memory[0], 1), 0, "the first push has no allocations to report");
    assert!(sum(&memory[0], 3) > 0, "but memory in use");
    assert!(
        memory[1..].iter().all(|p| sum(p, 1) > 0),
        "each later one, what was allocated since"
    );
    // mutex: a delta, the contention of its interval.
    let mutex = Profile::parse(&std::fs::read(&names["mutex"][1]).expect("read")).expect("mutex");
    assert!(sum(&mutex, 0) > 0, "two threads contend in every interval");
    drop(server);
}

#[test]
fn a_sink_that_cannot_succeed_is_dropped_saying_why_and_never_holds_up_stop() {
    let dir = TempDir::new("pyroscope-down");
    // Nothing listens on this port: connection refused, retried, then dropped.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = closed.local_addr().expect("addr");
    drop(closed);
    let agent = agent::builder("down")
        .every("goroutine", Duration::from_millis(200))
        .sink(Pyroscope::new(format!("http://{addr}")).timeout(Duration::from_millis(500)))
        .sink(LocalStore::new(dir.path("store")))
        .delivery(Delivery {
            attempts: 2,
            queue: 3,
            ..fast_retries()
        })
        .flush_timeout(Duration::from_secs(2))
        .start()
        .expect("start");
    // Until a push has failed at least once (bounded), however busy the machine.
    let t = Instant::now();
    while agent.stats().sinks.first().is_none_or(|s| s.failures == 0) {
        assert!(
            t.elapsed() < Duration::from_secs(60),
            "no push was tried: {:?}",
            agent.stats()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let t = Instant::now();
    let stats = agent.stop();
    // The flush timeout (2 s) and a refused connection's retry.
    assert!(t.elapsed() < Duration::from_secs(4), "stop waited {:?}", t.elapsed());
    let down = &stats.sinks[0];
    assert_eq!(down.delivered, 0);
    assert!(down.dropped >= 1 && down.failures >= 2, "{down:?}");
    let error = down.last_error.as_deref().expect("an error");
    assert!(
        error.contains(&format!("pushing to http://{addr}/push.v1.PusherService/Push")),
        "{error}"
    );
    // The other sink is not held up by the failing one.
    assert_eq!(
        stats.sinks[1].delivered,
        stats.collected.get("goroutine").copied().unwrap_or(0),
        "{stats:?}"
    );
}
