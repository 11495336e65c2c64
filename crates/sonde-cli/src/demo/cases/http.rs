//! Pattern 1 and Case Study 1: a web service with `/slow` (ten million
//! additions per request) and `/fast`, with sonde's `/debug/pprof` router
//! merged into it, on 127.0.0.1. While a loopback client loads both, a CPU
//! profile is fetched over `/debug/pprof/profile?seconds=N`, as the seed's
//! `curl`: `/slow`'s handler is on top.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use anyhow::{Context, Result};
use axum::Router;
use axum::routing::get;

use crate::demo::analyze::{self, row_text, sh, short};
use crate::demo::{Ctx, Outcome};

/// The seed's `slowHandler`: ten million additions.
#[inline(never)]
pub async fn slow_handler() -> String {
    let mut sum = 0u64;
    for i in 0..10_000_000u64 {
        sum = sum.wrapping_add(std::hint::black_box(i));
    }
    format!("Sum: {sum}")
}

/// The seed's `fastHandler`.
#[inline(never)]
pub async fn fast_handler() -> &'static str {
    "Quick response"
}

pub fn run(ctx: &Ctx, o: &mut Outcome) -> Result<()> {
    let seconds = ctx.pick(1, 3);
    o.planted = "GET /slow adds ten million numbers per request; GET /fast answers at once".into();
    let rt = super::tokio_runtime()?;
    let app: Router = Router::new()
        .route("/slow", get(slow_handler))
        .route("/fast", get(fast_handler))
        .merge(sonde::http::router());
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .context("binding 127.0.0.1")?;
    let addr = listener.local_addr()?;
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = rt.spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await
    });

    // The load: one client alternating /slow and /fast until the profile is in.
    let done = Arc::new(AtomicBool::new(false));
    let served = Arc::new(AtomicU64::new(0));
    let client = {
        let (done, served) = (done.clone(), served.clone());
        std::thread::Builder::new().name("client".into()).spawn(move || {
            let mut i = 0u64;
            while !done.load(Relaxed) {
                let path = if i % 2 == 0 { "slow" } else { "fast" };
                if crate::fetch::get(&format!("http://{addr}/{path}"), Duration::from_secs(30), None, 1 << 20).is_ok() {
                    served.fetch_add(1, Relaxed);
                }
                i += 1;
            }
        })?
    };
    let url = format!("http://{addr}/debug/pprof/profile?seconds={seconds}");
    let body = crate::fetch::get(&url, Duration::from_secs(seconds + 30), None, 256 << 20);
    done.store(true, Relaxed);
    let _ = client.join();
    let _ = stop_tx.send(());
    let _ = rt.block_on(server);
    let path = ctx.file("cpu.pb.gz");
    std::fs::write(&path, body?).with_context(|| format!("writing {}", path.display()))?;
    let svg = ctx.file("cpu.svg");
    analyze::flame(&path, None, &svg, "CPU: GET /slow and /fast")?;

    o.table.push(format!(
        "{} requests served while {url} profiled for {seconds} s",
        served.load(Relaxed)
    ));
    let top = analyze::top(&path, |c| c.user_code = true)?;
    let first = top.rows.first();
    o.found = format!(
        "sonde top --user-code: {}",
        first.map(|r| short(&row_text(&top, r)).to_string()).unwrap_or_default()
    );
    let slow = analyze::share(&top, "slow_handler", true);
    let fast = analyze::share(&top, "fast_handler", true);
    o.check(
        first.is_some_and(|r| r.name.contains("slow_handler")) && slow >= 0.5,
        format!(
            "the profile fetched over HTTP has slow_handler first, with {:.1}% of the CPU (≥ 50%)",
            slow * 100.0
        ),
    );
    o.check(fast < 0.05, format!("fast_handler has {:.1}% (< 5%)", fast * 100.0));
    o.file(&path);
    o.file(&svg);
    o.explore(format!("sonde top --user-code {}", sh(&path)));
    o.explore(format!("sonde web {}", sh(&path)));
    o.explore(
        "cargo run --release -p sonde --features http --example http_axum   (the same service, to curl yourself)",
    );
    Ok(())
}
