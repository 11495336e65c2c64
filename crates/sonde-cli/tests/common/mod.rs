//! Helpers shared by the integration tests: paths to fixtures, running `sonde`
//! and the reference client `go tool pprof`.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("workspace root")
}

/// The path of a fixture under tests/data.
pub fn data(name: &str) -> String {
    root().join("tests/data").join(name).to_string_lossy().into_owned()
}

/// Runs sonde with `args`, in UTC so that times print the same everywhere.
pub fn sonde(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sonde"))
        .args(args)
        .env("TZ", "UTC")
        .current_dir(root())
        .output()
        .expect("run sonde")
}

/// Runs sonde with `stdin` as its standard input.
pub fn sonde_with_input(args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_sonde"))
        .args(args)
        .env("TZ", "UTC")
        .env("HOME", std::env::temp_dir())
        .current_dir(root())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run sonde");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait for sonde")
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Whether the Go toolchain is installed. Prints why a test is skipped when
/// not; fails when SONDE_REQUIRE_GO is set (see `sonde_test_support::Tool`).
pub fn go_available(test: &str) -> bool {
    sonde_test_support::GO.available(test)
}

/// Runs `go tool pprof` with `args` (in UTC).
pub fn go_pprof(args: &[&str]) -> Output {
    Command::new("go")
        .arg("tool")
        .arg("pprof")
        .args(args)
        .env("TZ", "UTC")
        .env("PPROF_BINARY_PATH", "/nonexistent")
        .current_dir(root())
        .output()
        .expect("run go tool pprof")
}

/// A fresh temporary directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "sonde-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }

    pub fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs both tools and requires byte-identical standard output.
pub fn same(go_args: &[&str], sonde_args: &[&str]) {
    let g = go_pprof(go_args);
    assert!(g.status.success(), "go tool pprof {go_args:?} failed: {}", stderr(&g));
    let s = sonde(sonde_args);
    assert!(s.status.success(), "sonde {sonde_args:?} failed: {}", stderr(&s));
    let (gs, ss) = (stdout(&g), stdout(&s));
    if gs != ss {
        let diff: Vec<String> = gs
            .lines()
            .zip(ss.lines())
            .filter(|(a, b)| a != b)
            .take(5)
            .map(|(a, b)| format!("  go:    {a}\n  sonde: {b}"))
            .collect();
        panic!(
            "sonde {sonde_args:?} differs from go tool pprof {go_args:?} ({} vs {} lines):\n{}\n--- go ---\n{gs}\n--- sonde ---\n{ss}",
            gs.lines().count(),
            ss.lines().count(),
            diff.join("\n")
        );
    }
}

/// A Go program of `tests/go` serving on 127.0.0.1 (it prints `listening on
/// ADDR` first), stopped (its standard input closed, then killed) on drop.
pub struct GoServer {
    child: std::process::Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl GoServer {
    /// Builds `tests/go/PACKAGE` into `dir` and starts it with `args`.
    pub fn start(dir: &TempDir, package: &str, args: &[&str]) -> GoServer {
        use std::io::BufRead;
        use std::process::Stdio;
        let bin = dir.path(package);
        let build = Command::new("go")
            .args(["build", "-trimpath", "-o", &bin, &format!("./{package}")])
            .env("GOFLAGS", "-mod=mod")
            .current_dir(root().join("tests/go"))
            .output()
            .expect("run go build");
        assert!(build.status.success(), "go build: {}", stderr(&build));
        let mut child = Command::new(&bin)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the Go server");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("its address");
        let addr = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        GoServer { child, addr }
    }
}

impl Drop for GoServer {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
