//! `sonde web` in a real browser: headless Chromium driven over WebDriver
//! against `sonde web` serving real profiles. Each browser test saves a
//! screenshot under `target/web-screenshots/`.
//!
//! The checks compare the page with what `sonde top` prints for the same
//! profile and settings, so the page and the command line cannot drift apart.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{Value, json};
use sonde_test_support::http;
use sonde_test_support::webdriver::{Browser, CHROMEDRIVER, CHROMIUM};

use common::{data, root, sonde, stdout};

/// One browser at a time: two Chromiums on a 2-CPU machine only slow both.
static BROWSER: Mutex<()> = Mutex::new(());

/// How long the page may take to show something on a busy machine.
const WAIT: Duration = Duration::from_secs(30);

/// A `sonde web` process serving on a free port, killed when dropped.
struct Server {
    child: Child,
    _stdout: BufReader<std::process::ChildStdout>,
    url: String,
    addr: SocketAddr,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sonde"))
            .arg("web")
            .args(args)
            .args(["--http", "127.0.0.1:0"])
            .env("TZ", "UTC")
            .current_dir(root())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start sonde web");
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
        stdout.read_line(&mut line).expect("sonde web's first line");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in {line:?}"))
            .to_string();
        let addr = url
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .parse()
            .expect("an address");
        Server {
            child,
            _stdout: stdout,
            url,
            addr,
        }
    }

    fn get(&self, path: &str) -> (u16, Value) {
        let r = http::get(self.addr, path, &[], Duration::from_secs(60)).expect("GET");
        (r.status, serde_json::from_slice(&r.body).unwrap_or(Value::Null))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn browsers_available(test: &str) -> bool {
    CHROMIUM.available(test) && CHROMEDRIVER.available(test)
}

fn shot(b: &Browser, name: &str) {
    let path = root().join("target/web-screenshots").join(format!("{name}.png"));
    b.screenshot(&path);
}

/// The first data row of `sonde top ARGS`, split into its columns, and the
/// header line that names the total.
fn top_first_row(args: &[&str]) -> (Vec<String>, String) {
    let mut full = vec!["top"];
    full.extend_from_slice(args);
    let out = stdout(&sonde(&full));
    let mut lines = out.lines();
    let showing = lines
        .clone()
        .find(|l| l.starts_with("Showing nodes"))
        .unwrap_or_else(|| panic!("no header in {out}"))
        .to_string();
    let row = lines
        .by_ref()
        .skip_while(|l| !l.trim_start().starts_with("flat"))
        .nth(1)
        .unwrap_or_else(|| panic!("no rows in {out}"));
    // Five value columns, then the name (with `(inline)` when it has it).
    let words: Vec<&str> = row.split_whitespace().collect();
    let mut cols: Vec<String> = words[..5].iter().map(|w| w.to_string()).collect();
    cols.push(words[5..].join(" "));
    (cols, showing)
}

/// The name column of `sonde top`'s rows, with the cum% of the entry `name`.
fn top_cum_pct(args: &[&str], name: &str) -> f64 {
    let mut full = vec!["top"];
    full.extend_from_slice(args);
    let out = stdout(&sonde(&full));
    let line = out
        .lines()
        .find(|l| l.split_whitespace().nth(5) == Some(name))
        .unwrap_or_else(|| panic!("{name} not in {out}"));
    line.split_whitespace()
        .nth(4)
        .unwrap()
        .trim_end_matches('%')
        .parse()
        .unwrap()
}

fn frame_names(b: &Browser) -> Value {
    b.exec(
        "return [...document.querySelectorAll('#flame .frame')].map(f => f.getAttribute('aria-label'))",
        json!([]),
    )
}

/// Waits until the flame graph shows a frame named `name`.
fn wait_frame(b: &Browser, name: &str) {
    b.wait_for(
        &format!("a frame named {name}"),
        &format!(
            "return [...document.querySelectorAll('#flame .frame')].some(f => f.getAttribute('aria-label') === {})",
            json!(name)
        ),
        WAIT,
    );
}

/// The CSS selector of the frame named `name`.
fn frame(b: &Browser, name: &str) -> String {
    let i = b.exec(
        "const f = [...document.querySelectorAll('#flame .frame')].find(f => f.getAttribute('aria-label') === arguments[0]); return f ? f.dataset.i : null",
        json!([name]),
    );
    format!(
        "#flame .frame[data-i=\"{}\"]",
        i.as_str().unwrap_or_else(|| panic!("no frame {name}"))
    )
}

/// The page's first Top row (its six columns, as `sonde top` prints them),
/// once the table is there.
fn page_top_row(b: &Browser, what: &str) -> Value {
    b.wait_for(
        what,
        "const r = document.querySelector('table.top tbody tr'); return r && [...r.cells].slice(0, 6).map(c => c.textContent)",
        WAIT,
    )
}

/// Asserts that the frame named `name` is drawn red (it grew): its colour's
/// red well above its blue.
fn assert_drawn_red(b: &Browser, name: &str) {
    let color = b.exec(
        "return getComputedStyle(document.querySelector(arguments[0])).backgroundColor",
        json!([frame(b, name)]),
    );
    let rgb: Vec<u32> = color
        .as_str()
        .unwrap()
        .trim_start_matches("rgb(")
        .trim_end_matches(')')
        .split(',')
        .map(|c| c.trim().parse().unwrap())
        .collect();
    assert!(rgb[0] > rgb[2] + 60, "{name} grew but is drawn {color}");
}

#[test]
fn cpu_profile_flame_zoom_search_top_and_url_state() {
    if !browsers_available("cpu_profile_flame_zoom_search_top_and_url_state") {
        return;
    }
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let server = Server::start(&[&data("cpu.pb.gz")]);
    let b = Browser::start(1280, 900);
    b.goto(&server.url);

    // The flame graph (the default view) renders the profile's root frames.
    wait_frame(&b, "main.expensiveOperation");
    let names = frame_names(&b);
    for root in ["all", "runtime.main", "main.main"] {
        assert!(
            names.as_array().unwrap().contains(&json!(root)),
            "{root} not drawn: {names}"
        );
    }
    // Nothing is cut off: the page does not scroll sideways, the graph's
    // boxes end inside it, and the smallest stack (runtime/pprof.WithLabels,
    // 1% of the samples) is drawn.
    let fits = b.exec(
        "const h = document.getElementById('flame'); const right = Math.max(...[...h.querySelectorAll('.frame')].map(f => f.offsetLeft + f.offsetWidth));
         return [document.scrollingElement.scrollWidth <= document.scrollingElement.clientWidth, right <= h.clientWidth + 0.5, document.body.scrollHeight < 2 * innerHeight]",
        json!([]),
    );
    assert_eq!(fits, json!([true, true, true]), "the flame graph does not fit its page");
    assert!(
        names.as_array().unwrap().contains(&json!("runtime/pprof.WithLabels")),
        "{names}"
    );
    shot(&b, "cpu-flame");

    // Hover shows the frame's details at once.
    b.hover(&frame(&b, "main.expensiveOperation"));
    let tip = b.wait_for(
        "the hover details",
        "const t = document.getElementById('tip'); return !t.hidden && t.textContent",
        WAIT,
    );
    assert!(tip.as_str().unwrap().contains("890ms (89.00% of all)"), "{tip}");

    // A click zooms: the clicked frame becomes the widest, the breadcrumb
    // leads back.
    b.click(&frame(&b, "main.main.func2"));
    b.wait_for(
        "the zoom",
        "const c = document.querySelectorAll('#crumbs button'); return c.length > 1 && c[c.length-1].textContent === 'main.main.func2'",
        WAIT,
    );
    assert!(
        !frame_names(&b)
            .as_array()
            .unwrap()
            .contains(&json!("main.expensiveOperation")),
        "a sibling of the zoomed frame is still drawn"
    );
    assert!(b.url().contains("root="), "the zoom is not in the URL: {}", b.url());
    shot(&b, "cpu-zoomed");
    b.click("#crumbs button");
    wait_frame(&b, "main.expensiveOperation");

    // Search highlights the matches and reports their share, as `sonde top`
    // reports the function's cum%.
    b.type_into("#search", "expensive");
    let share = b.wait_for(
        "the search's share",
        "const m = document.getElementById('match').textContent; return m.startsWith('matched') && m",
        WAIT,
    );
    let shown: f64 = share
        .as_str()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .trim_end_matches('%')
        .parse()
        .unwrap();
    let top = top_cum_pct(&[&data("cpu.pb.gz")], "main.expensiveOperation");
    assert!((shown - top).abs() <= 0.1, "search shows {shown}%, sonde top {top}%");
    let highlighted = b.exec(
        "return [...document.querySelectorAll('#flame .frame.match')].map(f => f.getAttribute('aria-label'))",
        json!([]),
    );
    assert_eq!(highlighted, json!(["main.expensiveOperation"]));
    shot(&b, "cpu-search");

    // The Top table's first row is `sonde top`'s first row.
    b.click("#views button[data-view=top]");
    let row = page_top_row(&b, "the Top table");
    let (want, _) = top_first_row(&[&data("cpu.pb.gz")]);
    assert_eq!(row, json!(want), "the page's first row differs from sonde top's");
    shot(&b, "cpu-top");

    // The URL holds the state: a reload shows the same view and settings.
    let before = b.url();
    assert!(
        before.contains("view=top") && before.contains("q=expensive"),
        "{before}"
    );
    b.reload();
    b.wait_for(
        "the Top table after reload",
        "return !!document.querySelector('table.top tbody tr')",
        WAIT,
    );
    assert_eq!(b.url(), before);
    assert_eq!(
        b.exec("return document.getElementById('search').value", json!([])),
        json!("expensive")
    );
    b.click("#views button[data-view=flame]");
    b.wait_for(
        "the match after reload",
        "return document.querySelector('#flame .frame.match') !== null",
        WAIT,
    );

    // A bad regular expression is reported in the page, not a blank screen.
    b.exec("document.getElementById('search').value = ''", json!([]));
    b.type_into("#search", "(unclosed");
    let err = b.wait_for(
        "the regex error",
        "const e = document.getElementById('error'); return !e.hidden && e.textContent",
        WAIT,
    );
    assert!(err.as_str().unwrap().contains("not a regular expression"), "{err}");
    shot(&b, "cpu-bad-regex");
}

#[test]
fn heap_diff_is_red_where_it_grew_and_sample_index_switches_the_total() {
    if !browsers_available("heap_diff_is_red_where_it_grew_and_sample_index_switches_the_total") {
        return;
    }
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let b = Browser::start(1280, 900);

    // The regression of heap_before → heap_after (main.createMemory grew by
    // 5 MB) is drawn red; the legend explains the colours.
    {
        let server = Server::start(&[&data("heap_after.pb.gz"), "--base", &data("heap_before.pb.gz")]);
        b.goto(&server.url);
        wait_frame(&b, "main.createMemory");
        assert_drawn_red(&b, "main.createMemory");
        let legend = b.exec("return document.getElementById('legend').textContent", json!([]));
        assert!(legend.as_str().unwrap().contains("grew"), "{legend}");
        shot(&b, "heap-diff");
        // Its Top is `sonde top --base`'s: the change.
        b.click("#views button[data-view=top]");
        let row = page_top_row(&b, "the Top table of the change");
        let (want, _) = top_first_row(&["--base", &data("heap_before.pb.gz"), &data("heap_after.pb.gz")]);
        assert_eq!(row, json!(want), "the diff's first row differs from sonde top --base's");
    }

    // Switching the sample index changes the total to what `sonde top
    // --sample-index` prints.
    let server = Server::start(&[&data("heap.pb.gz")]);
    b.goto(&format!("{}?view=top", server.url));
    b.wait_for(
        "the Top table",
        "return !!document.querySelector('table.top tbody tr')",
        WAIT,
    );
    for si in ["alloc_space", "inuse_objects"] {
        b.exec(
            "const s = document.getElementById('si'); s.value = arguments[0]; s.dispatchEvent(new Event('change'))",
            json!([si]),
        );
        let (_, showing) = top_first_row(&[&data("heap.pb.gz"), "--sample-index", si]);
        b.wait_for(
            &format!("the {si} total: {showing}"),
            &format!(
                "const l = document.querySelector('pre.labels'); return !!l && l.textContent.split('\\n').includes({})",
                json!(showing)
            ),
            WAIT,
        );
        assert!(b.url().contains(&format!("si={si}")), "{}", b.url());
    }
    shot(&b, "heap-sample-index");

    // An unknown sample index in the URL gets a message naming the types.
    b.goto(&format!("{}?si=bogus", server.url));
    let err = b.wait_for(
        "the sample index error",
        "const e = document.getElementById('error'); return !e.hidden && e.textContent",
        WAIT,
    );
    assert!(err.as_str().unwrap().contains("alloc_space"), "{err}");
}

#[test]
fn a_profile_that_fails_to_decode_shows_the_error_in_the_page() {
    if !browsers_available("a_profile_that_fails_to_decode_shows_the_error_in_the_page") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("sonde-web-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("truncated.pb.gz");
    let good = std::fs::read(data("cpu.pb.gz")).unwrap();
    std::fs::write(&bad, &good[..good.len() / 2]).unwrap();
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let server = Server::start(&[bad.to_str().unwrap()]);
    let b = Browser::start(1280, 700);
    b.goto(&server.url);
    let err = b.wait_for(
        "the decode error",
        "const e = document.getElementById('error'); return !e.hidden && e.textContent",
        WAIT,
    );
    let err = err.as_str().unwrap();
    assert!(
        err.contains("truncated.pb.gz"),
        "the error does not name the file: {err}"
    );
    // The same message `sonde top` gives for the file.
    let cli = common::stderr(&sonde(&["top", bad.to_str().unwrap()]));
    let cli_reason = cli.trim().rsplit(": ").next().unwrap();
    assert!(err.contains(cli_reason), "page: {err}\nsonde top: {cli}");
    shot(&b, "decode-error");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_port_in_use_is_named_with_what_to_do() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let o = sonde(&["web", &data("cpu.pb.gz"), "--http", &addr]);
    assert!(!o.status.success());
    let err = common::stderr(&o);
    assert!(
        err.contains(&addr) && err.contains("in use") && err.contains("--http :0"),
        "{err}"
    );
}

/// A profile whose one function claims a source file outside the directories
/// the server may read.
fn profile_with_source(file: &str, dir: &std::path::Path) -> PathBuf {
    use sonde_profile::model::{Function, Line, Location, Sample};
    use sonde_profile::{Profile, ValueType};
    let mut p = Profile::default();
    p.sample_types.push(ValueType::new("samples", "count"));
    p.functions.push(Function {
        name: "main.secret".into(),
        system_name: "main.secret".into(),
        filename: file.into(),
        start_line: 0,
    });
    p.locations.push(Location {
        lines: vec![Line {
            function: 0,
            line: 1,
            column: 0,
        }],
        ..Location::default()
    });
    p.samples.push(Sample {
        locations: vec![0],
        values: vec![5],
        labels: Default::default(),
    });
    let path = dir.join("secret.pb.gz");
    p.write_file(&path).unwrap();
    path
}

#[test]
fn the_source_view_reads_only_under_its_source_paths() {
    let dir = std::env::temp_dir().join(format!("sonde-web-src-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Outside the current directory (the workspace) and any --source-path.
    let outside = dir.join("outside.rs");
    std::fs::write(&outside, "fn secret() { /* do not serve */ }\n").unwrap();
    for file in [
        outside.to_string_lossy().into_owned(),
        "../../../../../../../../etc/hostname".into(),
    ] {
        let profile = profile_with_source(&file, &dir);
        let server = Server::start(&[profile.to_str().unwrap()]);
        let (status, v) = server.get("/api/source?fn=secret");
        assert_eq!(status, 200, "{v}");
        let text = v.to_string();
        assert!(
            !text.contains("do not serve"),
            "served a file outside the source paths: {text}"
        );
        let missing = v["routines"][0]["missing"]
            .as_str()
            .unwrap_or_else(|| panic!("no message: {v}"));
        assert!(missing.contains("--source-path"), "{missing}");
    }
    // Given as a source path, the same file is shown.
    let profile = profile_with_source(outside.to_str().unwrap(), &dir);
    let server = Server::start(&[profile.to_str().unwrap(), "--source-path", dir.to_str().unwrap()]);
    let (_, v) = server.get("/api/source?fn=secret");
    assert!(v.to_string().contains("do not serve"), "{v}");
    // A FIFO there is not opened (it would block the request for ever).
    let fifo = dir.join("fifo.rs");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let profile = profile_with_source(fifo.to_str().unwrap(), &dir);
    let server = Server::start(&[profile.to_str().unwrap(), "--source-path", dir.to_str().unwrap()]);
    let (status, v) = server.get("/api/source?fn=secret");
    assert_eq!(status, 200, "{v}");
    assert!(v["routines"][0]["missing"].is_string(), "{v}");
    // Another site's page cannot reach the server through DNS rebinding: a
    // Host that is not the server's is refused.
    let status_for_host = |host: &str| {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(server.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        write!(s, "GET /api/meta HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
        let mut reply = String::new();
        let _ = s.read_to_string(&mut reply);
        reply.lines().next().unwrap_or("").to_string()
    };
    assert!(status_for_host("attacker.example").contains(" 403 "));
    assert!(status_for_host(&format!("localhost:{}", server.addr.port())).contains(" 200 "));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A heap snapshot at minute `i` with `leak` bytes at `app::leak` and a
/// steady 4000 at `app::steady`.
fn heap_snapshot(i: i64, leak: i64) -> sonde_profile::Profile {
    use sonde_profile::model::{Function, Line, Location, Sample};
    use sonde_profile::{Profile, ValueType};
    let mut p = Profile {
        sample_types: vec![
            ValueType::new("inuse_objects", "count"),
            ValueType::new("inuse_space", "bytes"),
        ],
        time_nanos: 1_764_500_000_000_000_000 + i * 60_000_000_000,
        ..Default::default()
    };
    for (f, name) in ["app::leak", "app::steady"].into_iter().enumerate() {
        p.functions.push(Function {
            name: name.into(),
            system_name: name.into(),
            filename: "src/main.rs".into(),
            start_line: 0,
        });
        p.locations.push(Location {
            lines: vec![Line {
                function: f as u32,
                line: 1,
                column: 0,
            }],
            ..Location::default()
        });
    }
    for (loc, bytes) in [(0u32, leak), (1, 4000)] {
        p.samples.push(Sample {
            locations: vec![loc],
            values: vec![1, bytes],
            labels: Default::default(),
        });
    }
    p
}

#[test]
fn the_store_timeline_merges_a_brushed_window_and_diffs_two() {
    if !browsers_available("the_store_timeline_merges_a_brushed_window_and_diffs_two") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("sonde-web-store-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut st = sonde_profile::store::Store::open(&dir).expect("store");
    for i in 0..6 {
        st.write(
            "heap",
            &heap_snapshot(i, 1000 * (i + 1)),
            true,
            &Default::default(),
            &sonde_profile::store::Retention::default(),
        )
        .expect("write");
    }
    let _one = BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let server = Server::start(&["--store", dir.to_str().unwrap(), "--kind", "heap"]);
    let b = Browser::start(1280, 900);
    b.goto(&format!("{}?view=top", server.url));
    let bars = b.wait_for(
        "the timeline",
        "const s = document.querySelectorAll('#timeline rect.bar'); return s.length > 0 && s.length",
        WAIT,
    );
    assert_eq!(bars, json!(6));
    // The whole store reads as its last snapshot: app::leak holds 6000 B.
    let first = b.wait_for(
        "the Top table",
        "const r = document.querySelector('table.top tbody tr'); return r && r.cells[5].textContent + ' ' + r.cells[0].textContent",
        WAIT,
    );
    let (cli, _) = top_first_row(&["--store", dir.to_str().unwrap(), "--kind", "heap"]);
    assert_eq!(first, json!(format!("{} {}", cli[5], cli[0])));
    assert_eq!(first, json!("app::leak 5.86kB"));
    // Drag over the first three bars (the first half of the strip): the
    // window's last snapshot is the third, 3000 B at app::leak.
    let brush = |from: f64, to: f64, shift: bool| {
        b.exec(
            "const svg = document.querySelector('#timeline svg'); const r = svg.getBoundingClientRect();
             const at = (f) => ({ clientX: r.left + f * r.width, clientY: r.top + r.height / 2, bubbles: true, shiftKey: arguments[2] });
             svg.dispatchEvent(new MouseEvent('mousedown', at(arguments[0])));
             svg.dispatchEvent(new MouseEvent('mousemove', at(arguments[1])));
             svg.dispatchEvent(new MouseEvent('mouseup', at(arguments[1])));",
            json!([from, to, shift]),
        );
    };
    brush(0.0, 0.5, false);
    b.wait_for(
        "the window's Top",
        "const r = [...document.querySelectorAll('table.top tbody tr')].find(r => r.cells[5].textContent === 'app::leak'); return r && r.cells[0].textContent === '2.93kB'",
        WAIT,
    );
    let url = b.url();
    assert!(url.contains("from=") && url.contains("to="), "{url}");
    shot(&b, "store-window");
    // Shift+drag over the first bar for a base: the view is the change from
    // the first snapshot to the third, which sonde top's flags give too.
    brush(0.0, 0.1, true);
    let row = b.wait_for(
        "the change's Top",
        "const r = document.querySelector('table.top tbody tr'); return r && r.cells.length > 7 && [...r.cells].slice(0, 6).map(c => c.textContent)",
        WAIT,
    );
    assert_eq!(row[5], json!("app::leak"), "{row}");
    assert_eq!(row[0], json!("1.95kB"), "{row}");
    b.click("#views button[data-view=flame]");
    wait_frame(&b, "app::leak");
    assert_drawn_red(&b, "app::leak");
    shot(&b, "store-diff");
    let _ = std::fs::remove_dir_all(&dir);
}
