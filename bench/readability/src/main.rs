//! A tokio "service": request handlers that look keys up in a cache behind a
//! `Mutex<HashMap>` and render answers with string formatting, on a
//! multi-threaded runtime, profiled at 1000 Hz. Writes the profile to the path
//! given (default /tmp/service.pb.gz).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The service's cache.
struct Cache {
    entries: Mutex<HashMap<String, u64>>,
}

impl Cache {
    fn get(&self, key: &str) -> Option<u64> {
        self.entries.lock().unwrap().get(key).copied()
    }

    fn put(&self, key: String, value: u64) {
        self.entries.lock().unwrap().insert(key, value);
    }
}

/// What one request costs: a cache lookup, a computation on a miss, a rendered
/// answer.
fn handle_request(cache: &Cache, id: u64) -> String {
    let key = format!("user:{}", id % 5000);
    let value = match cache.get(&key) {
        Some(v) => v,
        None => {
            let v = checksum(id);
            cache.put(key.clone(), v);
            v
        }
    };
    render_page(&key, value)
}

fn checksum(id: u64) -> u64 {
    (0..2000u64).fold(id, |acc, i| acc.rotate_left(5) ^ i.wrapping_mul(0x9e37_79b9))
}

fn render_page(key: &str, value: u64) -> String {
    let mut page = String::new();
    for row in 0..20 {
        page.push_str(&format!("<tr><td>{key}</td><td>{row}</td><td>{:x}</td></tr>\n", value ^ row));
    }
    page
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::args().nth(1).unwrap_or_else(|| "/tmp/service.pb.gz".into());
    let cache = Arc::new(Cache {
        entries: Mutex::new(HashMap::new()),
    });
    let profiler = sonde::cpu::start(sonde::cpu::CpuOptions::default().frequency(1000))?;
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut served = 0u64;
    while Instant::now() < deadline {
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let cache = cache.clone();
                tokio::spawn(async move { handle_request(&cache, served + i).len() })
            })
            .collect();
        for t in tasks {
            std::hint::black_box(t.await?);
        }
        served += 64;
    }
    profiler.stop()?.write_file(&path)?;
    println!("served {served} requests; wrote {path}");
    Ok(())
}
