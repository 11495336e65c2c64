//! A W3C WebDriver client for the browser tests: starts `chromedriver` on a
//! free 127.0.0.1 port, opens one headless Chromium session, and drives it
//! with the handful of commands the tests need (navigate, execute script,
//! find and click, type, hover, screenshot). The session, the driver and its
//! profile directory go away when the [`Browser`] is dropped.
//!
//! WebDriver is JSON over HTTP; this speaks it with [`crate::http`]. A
//! client crate (fantoccini) would bring about forty crates (url, idna, icu,
//! time, cookie, webdriver) into every test build for these ten commands.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::Tool;

/// Debian's Chromium (`/usr/bin/chromium`), which `.ci/run` installs with
/// its driver; `SONDE_REQUIRE_CHROMIUM=1` makes its absence a failure.
pub const CHROMIUM: Tool = Tool {
    program: "chromium",
    probe: &["--version"],
    require_var: "SONDE_REQUIRE_CHROMIUM",
    install: "apt-get install chromium chromium-driver",
};

/// The driver that speaks WebDriver to Chromium.
pub const CHROMEDRIVER: Tool = Tool {
    program: "chromedriver",
    probe: &["--version"],
    require_var: "SONDE_REQUIRE_CHROMIUM",
    install: "apt-get install chromium chromium-driver",
};

/// How long one WebDriver command may take (a page load on a busy machine).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The key WebDriver names element references by.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// One headless Chromium session.
pub struct Browser {
    driver: Child,
    addr: SocketAddr,
    session: String,
    profile_dir: PathBuf,
    timeout: Duration,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Browser").field("driver", &self.addr).finish()
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a window of
    /// `width`×`height` CSS pixels, with the flags this machine needs
    /// (`--no-sandbox` as root, no background networking).
    ///
    /// # Panics
    /// When the driver does not start or answer within 30 s.
    pub fn start(width: u32, height: u32) -> Browser {
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER.program)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting chromedriver");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("an address");
        let profile_dir = std::env::temp_dir().join(format!("sonde-chromium-{}-{port}", std::process::id()));
        let mut b = Browser {
            driver,
            addr,
            session: String::new(),
            profile_dir,
            timeout: COMMAND_TIMEOUT,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = crate::http::get(addr, "/status", &[], Duration::from_secs(2))
                .ok()
                .and_then(|r| serde_json::from_slice::<Value>(&r.body).ok())
                .is_some_and(|v| v["value"]["ready"] == json!(true));
            if ready {
                break;
            }
            assert!(Instant::now() < deadline, "chromedriver did not answer within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        let caps = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        "--disable-dev-shm-usage",
                        format!("--user-data-dir={}", b.profile_dir.display()),
                        format!("--window-size={width},{height}"),
                    ],
                },
            }},
        });
        let v = b.command("POST", "/session", Some(caps));
        b.session = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session from chromedriver: {v}"))
            .to_string();
        b
    }

    /// Sends one WebDriver command; returns its `value`.
    ///
    /// # Panics
    /// On a transport error or a WebDriver error, with its message.
    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let headers: &[&str] = if body.is_empty() {
            &[]
        } else {
            &["Content-Type: application/json"]
        };
        let r = crate::http::request(self.addr, method, path, headers, body.as_bytes(), self.timeout)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"));
        let v: Value = serde_json::from_slice(&r.body)
            .unwrap_or_else(|e| panic!("WebDriver {method} {path}: not JSON ({e}): {}", r.text()));
        if r.status != 200 {
            panic!(
                "WebDriver {method} {path}: {} {}: {}",
                r.status, v["value"]["error"], v["value"]["message"]
            );
        }
        v["value"].clone()
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    /// How long one command may take (60 s unless set): a page that takes
    /// longer to load needs more.
    pub fn set_command_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Navigates to `url` and waits for the load to finish.
    pub fn goto(&self, url: &str) {
        self.command("POST", &self.session_path("/url"), Some(json!({ "url": url })));
    }

    /// The current URL.
    pub fn url(&self) -> String {
        self.command("GET", &self.session_path("/url"), None)
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Reloads the page.
    pub fn reload(&self) {
        self.command("POST", &self.session_path("/refresh"), Some(json!({})));
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`) in the page
    /// and returns what it returns.
    pub fn exec(&self, script: &str, args: Value) -> Value {
        self.command(
            "POST",
            &self.session_path("/execute/sync"),
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// Runs `script` until it returns something other than null or false,
    /// for at most `timeout`; returns that value.
    ///
    /// # Panics
    /// When the time runs out, naming `what`.
    pub fn wait_for(&self, what: &str, script: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let v = self.exec(script, json!([]));
            if !v.is_null() && v != json!(false) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "waited {timeout:?} for {what}; the page shows: {}",
                self.exec("return document.body.innerText.slice(0, 2000)", json!([]))
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The element matching the CSS `selector`.
    ///
    /// # Panics
    /// When none matches.
    fn element(&self, selector: &str) -> String {
        let v = self.command(
            "POST",
            &self.session_path("/element"),
            Some(json!({ "using": "css selector", "value": selector })),
        );
        v[ELEMENT_KEY]
            .as_str()
            .unwrap_or_else(|| panic!("no element {selector}"))
            .to_string()
    }

    /// Clicks the element matching `selector`, as a user does (WebDriver
    /// scrolls it into view and clicks its centre).
    pub fn click(&self, selector: &str) {
        let e = self.element(selector);
        self.command(
            "POST",
            &self.session_path(&format!("/element/{e}/click")),
            Some(json!({})),
        );
    }

    /// Types `text` into the element matching `selector`.
    pub fn type_into(&self, selector: &str, text: &str) {
        let e = self.element(selector);
        self.command(
            "POST",
            &self.session_path(&format!("/element/{e}/value")),
            Some(json!({ "text": text })),
        );
    }

    /// Moves the mouse over the centre of the element matching `selector`.
    pub fn hover(&self, selector: &str) {
        let e = self.element(selector);
        let actions = json!({ "actions": [{
            "type": "pointer", "id": "mouse", "parameters": { "pointerType": "mouse" },
            "actions": [{ "type": "pointerMove", "duration": 0, "origin": { ELEMENT_KEY: e }, "x": 0, "y": 0 }],
        }]});
        self.command("POST", &self.session_path("/actions"), Some(actions));
    }

    /// Saves a screenshot of the window as PNG at `path`.
    pub fn screenshot(&self, path: &Path) {
        use base64::Engine as _;
        let v = self.command("GET", &self.session_path("/screenshot"), None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .expect("a base64 screenshot");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("the screenshot's directory");
        }
        std::fs::write(path, png).expect("writing the screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = crate::http::request(
                self.addr,
                "DELETE",
                &self.session_path(""),
                &[],
                &[],
                Duration::from_secs(10),
            );
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile_dir);
    }
}
