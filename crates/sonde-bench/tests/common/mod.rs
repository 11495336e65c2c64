//! What the harness tests share: running a benchmark list through the driver
//! with its output captured.

use std::sync::{Arc, Mutex};

use sonde_bench::Benchmark;

/// A writer the test can read afterwards.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `benches` with the command-line `args` as package `pkg`; the exit
/// status and everything printed. One run at a time: runs set the process's
/// heap sampling rate.
pub fn run(pkg: &str, benches: &[Benchmark], args: &[&str]) -> (i32, String) {
    static SERIAL: Mutex<()> = Mutex::new(());
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let out = Captured::default();
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let code = sonde_bench::run_with(pkg, benches, &args, Box::new(out.clone()));
    let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
    (code, text)
}
