//! The service the `/debug/pprof` tests profile: the seed's Pattern 1
//! (`/slow` sums to 10 million, `/fast` answers at once) with sonde's router
//! merged in, on a runtime of its own.

#![allow(dead_code)]

use std::net::SocketAddr;

use sonde_test_support::http::Reply;

/// The seed's `/slow` handler: sums to 10 million.
#[inline(never)]
pub fn slow_handler() -> String {
    let mut sum = 0u64;
    for i in 0..10_000_000u64 {
        sum = sum.wrapping_add(std::hint::black_box(i));
    }
    format!("{sum}")
}

/// Starts the service; returns its address. It lives as long as the test
/// process.
pub fn start_app() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let app = axum::Router::new()
                .route("/slow", axum::routing::get(|| async { slow_handler() }))
                .route("/fast", axum::routing::get(|| async { "ok" }))
                .merge(sonde::http::router());
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            tx.send(listener.local_addr().expect("addr")).expect("send");
            axum::serve(listener, app).await.expect("serve");
        });
    });
    rx.recv().expect("the app's address")
}

/// The reply, or a panic naming the request.
pub fn must(r: std::io::Result<Reply>, what: &str) -> Reply {
    r.unwrap_or_else(|e| panic!("{what}: {e}"))
}
