//! `/debug/pprof` against the real clients. The seed's Pattern 1 service
//! (`/slow` sums to 10 million, `/fast` answers at once) with sonde's router
//! merged in, loaded by a loopback client on `/slow`: `go tool pprof -top
//! http://…/debug/pprof/profile?seconds=2` puts the slow handler on top, and
//! reads every other profile from its URL. Go's status codes and texts for
//! bad requests, one CPU profile at a time, a client that disconnects, tokens,
//! allow-lists, delta profiles and the text forms, all over real HTTP.

mod common;
mod http_app;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use http_app::*;
use sonde::http::{self, Config};
use sonde_test_support::http::{Reply, get, post};

#[global_allocator]
static ALLOC: sonde::heap::Sampled<std::alloc::System> = sonde::heap::Sampled::new(std::alloc::System);

/// CPU profiles are process-wide: the tests that take them take turns.
static CPU: Mutex<()> = Mutex::new(());

const T: Duration = Duration::from_secs(30);

/// Asserts a reply is Go's error: `status`, text/plain, `X-Go-Pprof: 1`,
/// `text` and a newline.
fn assert_go_error(r: &Reply, status: u16, text: &str) {
    assert_eq!(r.status, status, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.header("x-go-pprof"), Some("1"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(r.text(), format!("{text}\n"));
}

/// Asserts a reply is a profile attachment named `name`, and returns it.
fn assert_profile(r: &Reply, name: &str) -> sonde::Profile {
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    assert_eq!(
        r.header("content-disposition"),
        Some(format!("attachment; filename=\"{name}\"").as_str())
    );
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    sonde::Profile::parse(&r.body).expect("a pprof profile")
}

/// `go tool pprof ARGS URL`, its profiles saved under a temporary directory;
/// `None` when Go is not installed (and not required).
fn go_pprof_url(args: &[&str], url: &str) -> Option<String> {
    if !sonde_test_support::GO.available("http_pprof with go tool pprof") {
        return None;
    }
    let dir = std::env::temp_dir().join(format!("sonde-http-pprof-{}", std::process::id()));
    let o = std::process::Command::new("go")
        .args(["tool", "pprof"])
        .args(args)
        .arg(url)
        .env("PPROF_TMPDIR", &dir)
        .output()
        .expect("run go tool pprof");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        o.status.success(),
        "go tool pprof {url} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    Some(String::from_utf8_lossy(&o.stdout).into_owned())
}

#[test]
fn go_tool_pprof_finds_the_slow_handler_and_reads_every_profile() {
    let _cpu = CPU.lock().unwrap_or_else(|e| e.into_inner());
    let addr = start_app();
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) && start.elapsed() < Duration::from_secs(120) {
                let r = must(get(addr, "/slow", &[], T), "GET /slow");
                assert_eq!(r.status, 200);
                n += 1;
            }
            n
        })
    };
    let url = |path: &str| format!("http://{addr}/debug/pprof/{path}");
    let top = go_pprof_url(&["-top"], &url("profile?seconds=2"));
    let fetched = must(get(addr, "/debug/pprof/profile?seconds=2", &[], T), "GET profile");
    stop.store(true, Ordering::Relaxed);
    let requests = load.join().expect("load");
    let p = assert_profile(&fetched, "profile");
    assert_valid(&p);
    let cpu = cpu_index(&p);
    let total: i64 = p.samples.iter().map(|s| s.values[cpu]).sum();
    let slow = cum_of(&p, "cpu", "slow_handler");
    assert!(
        slow as f64 >= 0.5 * total as f64,
        "slow_handler has {slow} of {total} ns ({requests} requests to /slow)"
    );
    if let Some(top) = top {
        // The handler's row: flat, flat%, sum%, cum, cum%, name. Its callees
        // (the range iterator, not inlined in a debug build) may have more
        // flat time; its cumulative share is the slow endpoint's.
        let row = top
            .lines()
            .find(|l| l.trim_end().ends_with("http_pprof::http_app::slow_handler"))
            .unwrap_or_else(|| panic!("no row for the slow handler:\n{top}"));
        let cum: f64 = row
            .split_whitespace()
            .nth(4)
            .and_then(|c| c.trim_end_matches('%').parse().ok())
            .unwrap_or_else(|| panic!("no cum% in {row:?}"));
        assert!(cum >= 50.0, "the slow handler has {cum}% of the CPU:\n{top}");
    }
    // The other profiles, from their URLs, as Go's client and the scrapers
    // (Alloy, Parca) ask for them.
    for (path, name) in [
        ("heap", "heap"),
        ("allocs", "allocs"),
        ("goroutine", "goroutine"),
        ("mutex", "mutex"),
        ("block", "block"),
        ("tasks", "tasks"),
        ("profile?seconds=1", "profile"),
    ] {
        let r = must(get(addr, &format!("/debug/pprof/{path}"), &[], T), path);
        assert_valid(&assert_profile(&r, name));
        if path != "profile?seconds=1" {
            if let Some(top) = go_pprof_url(&["-top"], &url(path)) {
                assert!(top.contains("Showing nodes") || top.contains("Type:"), "{path}:\n{top}");
            }
        }
    }
}

#[test]
fn bad_requests_get_go_errors_and_cpu_profiles_take_turns() {
    let _cpu = CPU.lock().unwrap_or_else(|e| e.into_inner());
    let server = http::serve(":0").expect("serve");
    let addr = server.local_addr();
    assert!(addr.ip().is_loopback(), "\":0\" listens on 127.0.0.1, not {addr}");
    let req = |path: &str| must(get(addr, path, &[], T), path);
    let seconds = "invalid value for \"seconds\" - must be a positive integer";
    for path in [
        "profile?seconds=-1",
        "profile?seconds=abc",
        "heap?seconds=0",
        "allocs?seconds=x",
    ] {
        assert_go_error(&req(&format!("/debug/pprof/{path}")), 400, seconds);
    }
    let r = req("/debug/pprof/profile?seconds=100000");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("limit of 300 seconds"), "{}", r.text());
    assert_go_error(
        &req("/debug/pprof/heap?seconds=1&debug=1"),
        400,
        "seconds and debug params are incompatible",
    );
    assert_go_error(&req("/debug/pprof/nosuch"), 404, "Unknown profile");
    assert_go_error(&req("/debug/pprof/threadcreate"), 404, "Unknown profile");
    assert_eq!(req("/debug/pprof/trace").status, 501);
    let r = req("/debug/pprof/heap?debug=x");
    assert_eq!(r.status, 400, "{}", r.text());
    let r = req("/debug/pprof?debug=1");
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("/debug/pprof/?debug=1"));
    for path in ["heap/", "heap/x", "a/b/c"] {
        assert_go_error(&req(&format!("/debug/pprof/{path}")), 404, "Unknown profile");
    }
    // Values are decoded as Go's FormValue decodes them; empty is absent.
    assert!(req("/debug/pprof/heap?debug=%31").text().starts_with("heap profile: "));
    assert_profile(&req("/debug/pprof/heap?seconds="), "heap");
    assert_profile(&req("/debug/pprof/heap?hz=abc"), "heap");
    // A flame graph checks its sample index before collecting, and draws an
    // empty profile as such.
    let start = Instant::now();
    let r = req("/debug/pprof/flamegraph?seconds=20&si=nope");
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("samples, cpu"), "{}", r.text());
    assert!(start.elapsed() < Duration::from_secs(10), "refused before collecting");
    let r = req("/debug/pprof/flamegraph?profile=block");
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("no samples"), "{}", r.text());

    // A wall-clock profile while thread profiles are taken: it skips the
    // periods they hold, and says so, rather than failing.
    let wall = std::thread::spawn(move || must(get(addr, "/debug/pprof/wall?seconds=2", &[], T), "wall"));
    std::thread::sleep(Duration::from_millis(300));
    let goroutines: Vec<_> = (0..5)
        .map(|_| std::thread::spawn(move || must(get(addr, "/debug/pprof/goroutine?debug=1", &[], T), "goroutine")))
        .collect();
    for g in goroutines {
        assert_eq!(g.join().expect("goroutine").status, 200);
    }
    assert_profile(&wall.join().expect("wall"), "wall");

    // A CPU profile the program itself runs: the endpoint gets Go's error.
    {
        let own = sonde::cpu::start(sonde::cpu::CpuOptions::default()).expect("the program's own profile");
        assert_go_error(
            &req("/debug/pprof/profile?seconds=1"),
            500,
            "Could not enable CPU profiling: cpu profiling already in use",
        );
        drop(own);
    }

    // Three CPU profiles at once: one is collected, two get Go's error.
    let replies: Vec<Reply> = (0..3)
        .map(|_| std::thread::spawn(move || must(get(addr, "/debug/pprof/profile?seconds=5", &[], T), "profile")))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| t.join().expect("client"))
        .collect();
    let ok = replies.iter().filter(|r| r.status == 200).count();
    assert_eq!(ok, 1, "exactly one CPU profile at a time");
    for r in replies.iter().filter(|r| r.status != 200) {
        assert_go_error(r, 500, "Could not enable CPU profiling: cpu profiling already in use");
    }

    // A client that goes away mid-profile stops it: the next one is served.
    {
        use std::io::Write;
        let mut s = std::net::TcpStream::connect(addr).expect("connect");
        s.write_all(b"GET /debug/pprof/profile?seconds=60 HTTP/1.1\r\nHost: x\r\n\r\n")
            .expect("send");
        std::thread::sleep(Duration::from_millis(300));
    }
    let start = Instant::now();
    let r = loop {
        let r = req("/debug/pprof/profile?seconds=1");
        if r.status == 200 || start.elapsed() > Duration::from_secs(10) {
            break r;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_profile(&r, "profile");
    server.stop();
}

#[test]
fn tokens_and_allow_lists() {
    let server = http::serve_with(
        "127.0.0.1:0",
        Config::default().token("s3cret").allow(["heap", "goroutine"]),
    )
    .expect("serve");
    let addr = server.local_addr();
    let r = must(get(addr, "/debug/pprof/heap", &[], T), "no token");
    assert_go_error(
        &r,
        401,
        "this server requires a token: send the header 'Authorization: Bearer <token>'",
    );
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    let wrong = must(
        get(addr, "/debug/pprof/heap", &["Authorization: Bearer s3creT"], T),
        "wrong token",
    );
    assert_eq!(wrong.status, 401);
    let auth = ["Authorization: Bearer s3cret"];
    assert_profile(&must(get(addr, "/debug/pprof/heap", &auth, T), "token"), "heap");
    let r = must(get(addr, "/debug/pprof/mutex", &auth, T), "not allowed");
    assert_eq!(r.status, 403, "{}", r.text());
    let index = must(get(addr, "/debug/pprof/", &auth, T), "index").text();
    assert!(index.contains("href='heap?debug=1'") && index.contains("href='goroutine?debug=1'"));
    assert!(!index.contains("mutex"), "{index}");
}

/// Allocates `n` blocks of 64 KiB and frees them.
#[inline(never)]
fn allocate_before(n: usize) {
    for _ in 0..n {
        std::hint::black_box(vec![1u8; 64 << 10]);
    }
}

/// The same, from another site.
#[inline(never)]
fn allocate_during(n: usize) {
    for _ in 0..n {
        std::hint::black_box(vec![2u8; 64 << 10]);
    }
}

#[test]
fn a_delta_profile_holds_only_its_window() {
    let server = http::serve(":0").expect("serve");
    let addr = server.local_addr();
    allocate_before(1024);
    // Allocates from another site for as long as the request is in progress
    // (its window lies inside), however slow a busy machine makes it.
    let stop = Arc::new(AtomicBool::new(false));
    let during = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut blocks = 0;
            while !stop.load(Ordering::Relaxed) {
                allocate_during(16);
                blocks += 16;
                std::thread::sleep(Duration::from_millis(5));
            }
            blocks
        })
    };
    let r = must(get(addr, "/debug/pprof/allocs?seconds=2", &[], T), "allocs delta");
    stop.store(true, Ordering::Relaxed);
    let blocks = during.join().expect("allocating thread");
    let p = assert_profile(&r, "allocs-delta");
    assert!(p.duration_nanos >= 2_000_000_000, "{}", p.duration_nanos);
    let during = cum_of(&p, "alloc_space", "allocate_during");
    let before = cum_of(&p, "alloc_space", "allocate_before");
    assert!(
        during > 0,
        "{blocks} blocks of 64 KiB allocated around the window, {during} B in the delta"
    );
    // sonde calibrates sampled estimates to the exact totals at each snapshot,
    // so a site that did not allocate in the window keeps a residual of that
    // recalibration (tens of KB against the 64 MiB it allocated before).
    assert!(
        before.abs() < (64 << 20) / 20,
        "what was allocated before the window is not in the delta: {before} B (64 MiB before it)"
    );
}

#[test]
fn index_text_forms_cmdline_and_symbols() {
    let server = http::serve(":0").expect("serve");
    let addr = server.local_addr();
    let req = |path: &str| must(get(addr, path, &[], T), path);
    let index = req("/debug/pprof/");
    assert_eq!(index.status, 200);
    assert_eq!(index.header("content-type"), Some("text/html; charset=utf-8"));
    let html = index.text();
    assert!(
        html.starts_with("<html>\n<head>\n<title>/debug/pprof/</title>\n"),
        "{html}"
    );
    for name in [
        "allocs",
        "block",
        "cmdline",
        "flamegraph",
        "goroutine",
        "heap",
        "mutex",
        "profile",
        "tasks",
        "wall",
    ] {
        assert!(
            html.contains(&format!("<a href='{name}?debug=1'>{name}</a>")),
            "{name} in\n{html}"
        );
    }
    assert!(html.contains("<a href=\"goroutine?debug=2\">full goroutine stack dump</a>"));

    let text = |path: &str| {
        let r = req(path);
        assert_eq!(r.status, 200, "{path}: {}", r.text());
        assert_eq!(r.header("content-type"), Some("text/plain; charset=utf-8"));
        r.text()
    };
    assert!(text("/debug/pprof/goroutine?debug=1").starts_with("goroutine profile: total "));
    assert!(text("/debug/pprof/goroutine?debug=2").contains("goroutine "));
    assert!(text("/debug/pprof/heap?debug=1").starts_with("heap profile: "));
    assert!(text("/debug/pprof/heap?gc=1&debug=1").starts_with("heap profile: "));
    assert!(text("/debug/pprof/mutex?debug=1").starts_with("--- mutex:\n"));
    assert!(text("/debug/pprof/block?debug=1").starts_with("--- contention:\n"));
    let args: Vec<String> = std::env::args().collect();
    assert_eq!(text("/debug/pprof/cmdline"), args.join("\0"));

    assert_eq!(text("/debug/pprof/symbol"), "num_symbols: 1\n");
    let pc = slow_handler as fn() -> String as usize as u64;
    let symbols = must(
        post(addr, "/debug/pprof/symbol", format!("{pc:#x}+0x1").as_bytes(), T),
        "symbol",
    )
    .text();
    assert!(
        symbols.starts_with("num_symbols: 1\n")
            && symbols.contains(&format!("{pc:#x} http_pprof::http_app::slow_handler\n")),
        "{symbols}"
    );

    std::hint::black_box(vec![3u8; 8 << 20]);
    let svg = req("/debug/pprof/flamegraph?profile=heap&si=alloc_space");
    assert_eq!(svg.status, 200, "{}", svg.text());
    assert_eq!(svg.header("content-type"), Some("image/svg+xml"));
    assert!(svg.text().contains("<svg"), "an SVG");
}
