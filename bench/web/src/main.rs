//! One run of the web UI benchmark, in headless Chromium:
//!
//! * `sonde web PROFILE`: from starting the process to the flame graph drawn
//!   (loading included), and from navigation to the flame graph drawn; a zoom
//!   (click to drawn) and a hover (event to details shown); the page's JS heap;
//!   the bytes of the first view's JSON;
//! * `go tool pprof -http`: from starting the process to its flame graph drawn.
//!
//! Usage: sonde-bench-web SONDE GOPPROF PROFILE. Prints `name value` lines.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use sonde_test_support::http;
use sonde_test_support::webdriver::Browser;

const WAIT: Duration = Duration::from_secs(300);

/// How long pprof's flame graph page is given.
const FLAME_CAP: Duration = Duration::from_secs(120);

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, sonde, gopprof, profile] = args.as_slice() else {
        panic!("usage: sonde-bench-web SONDE GOPPROF PROFILE");
    };
    let mut b = Browser::start(1280, 900);
    b.set_command_timeout(WAIT);

    // sonde web: the process prints its URL once the profile is loaded.
    let start = Instant::now();
    let mut child = Command::new(sonde)
        .args(["web", profile, "--http", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("sonde web");
    let mut line = String::new();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    out.read_line(&mut line).unwrap();
    let _server = Killed(child);
    let url = line.split_whitespace().find(|w| w.starts_with("http://")).unwrap().to_string();
    let loaded = start.elapsed();
    b.goto(&url);
    b.wait_for("the flame graph", "return window.sondeDrawn >= 1", WAIT);
    let drawn = start.elapsed();
    let nav_to_paint = b.exec("return window.sondeDrawnAt", json!([])).as_f64().unwrap();
    println!("sonde_load_s {:.3}", loaded.as_secs_f64());
    println!("sonde_start_to_flame_s {:.3}", drawn.as_secs_f64());
    println!("sonde_navigation_to_flame_ms {nav_to_paint:.1}");
    let frames = b.exec("return document.querySelectorAll('#flame .frame').length", json!([]));
    println!("sonde_frames_drawn {frames}");

    // Hover: the event to the details shown, measured in the page.
    let hover = b.exec(
        "const f = [...document.querySelectorAll('#flame .frame')].sort((a, b) => b.offsetWidth - a.offsetWidth)[3];
         const r = f.getBoundingClientRect();
         const t0 = performance.now();
         f.dispatchEvent(new MouseEvent('mousemove', { bubbles: true, clientX: r.left + 5, clientY: r.top + 5 }));
         const shown = !document.getElementById('tip').hidden && document.getElementById('tip').offsetHeight;
         return shown ? performance.now() - t0 : null",
        json!([]),
    );
    println!("sonde_hover_ms {:.2}", hover.as_f64().expect("the hover details"));

    // Zoom: a click on a wide frame to the zoomed graph drawn (a request to
    // the server and the layout), measured in the page.
    // The page draws the zoom at once from what it has, then again with the
    // server's view of the frame (the frames that were too narrow before).
    let zooms: Vec<(f64, f64)> = (0..3)
        .map(|k| {
            let before = b.exec(
                "const fs = [...document.querySelectorAll('#flame .frame')].filter(f => !f.classList.contains('stub') && f.dataset.i !== '0');
                 fs.sort((a, b) => b.offsetWidth - a.offsetWidth);
                 const f = fs[Math.min(arguments[0] * 2 + 1, fs.length - 1)];
                 const n = window.sondeDrawn; const t0 = performance.now(); f.click();
                 return [n, t0, window.sondeDrawn > n ? window.sondeDrawnAt - t0 : null]",
                json!([k]),
            );
            let (n, t0) = (before[0].as_i64().unwrap(), before[1].as_f64().unwrap());
            // The click's handler draws before it returns, from the page's data.
            let local = before[2].as_f64().expect("a zoom drawn by the click's handler");
            b.wait_for("the server's zoom", &format!("return window.sondeDrawn > {}", n + 1), WAIT);
            let server = b.exec("return window.sondeDrawnAt", json!([])).as_f64().unwrap() - t0;
            b.exec("history.back()", json!([]));
            b.wait_for("the zoom back", &format!("return window.sondeDrawn > {}", n + 2), WAIT);
            (local, server)
        })
        .collect();
    for (k, (local, server)) in zooms.iter().enumerate() {
        println!("sonde_zoom_drawn_ms_{k} {local:.1}");
        println!("sonde_zoom_refined_ms_{k} {server:.1}");
    }
    let heap = b.exec(
        "return performance.memory ? performance.memory.usedJSHeapSize : null",
        json!([]),
    );
    println!("sonde_js_heap_mb {:.1}", heap.as_f64().unwrap_or(f64::NAN) / 1048576.0);
    let addr: SocketAddr = url.trim_start_matches("http://").trim_end_matches('/').parse().unwrap();
    let r = http::get(addr, "/api/flame?px=1240", &[], WAIT).unwrap();
    println!("sonde_first_view_json_bytes {}", r.body.len());

    if std::env::var_os("BENCH_WEB_SKIP_GO").is_some() {
        return;
    }
    // go tool pprof -http: from the process's start to its flame graph drawn.
    let addr = free_addr();
    let start = Instant::now();
    let go = Killed(
        Command::new(gopprof)
            .args(["-no_browser", &format!("-http={addr}"), profile])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("go tool pprof"),
    );
    // It listens once the profile is loaded.
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err() {
        assert!(start.elapsed() < WAIT, "go tool pprof did not serve");
        std::thread::sleep(Duration::from_millis(50));
    }
    let listening = start.elapsed();
    println!("go_load_s {:.3}", listening.as_secs_f64());
    // Its Top view first (a table), then its flame graph, given at most
    // FLAME_CAP: on this profile it may not come at all.
    b.goto(&format!("http://{addr}/ui/top"));
    b.wait_for("pprof's top table", "return document.querySelectorAll('#toptable tr, table tr').length > 1", WAIT);
    println!("go_start_to_top_s {:.3}", start.elapsed().as_secs_f64());
    let flame_start = Instant::now();
    b.exec(&format!("location.href = 'http://{addr}/ui/flamegraph'"), json!([]));
    loop {
        let drawn = b
            .exec(
                "return document.readyState === 'complete' && document.querySelectorAll('#chart svg g, #stack-chart .boxbg').length > 0",
                json!([]),
            )
            .as_bool()
            .unwrap_or(false);
        if drawn {
            println!("go_start_to_flame_s {:.3}", start.elapsed().as_secs_f64());
            break;
        }
        if flame_start.elapsed() > FLAME_CAP {
            println!("go_flame_not_drawn_after_s {:.0}", FLAME_CAP.as_secs_f64());
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(go);
}
