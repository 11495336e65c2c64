//! Go's `/debug/pprof` endpoints for Rust services (feature `http`): the same
//! paths, parameters, headers, status codes and error texts as Go's
//! `net/http/pprof`, so that `go tool pprof http://…`, `curl`, Grafana Alloy,
//! Pyroscope and Parca work against a Rust program unchanged.
//!
//! | Go | sonde |
//! |---|---|
//! | `import _ "net/http/pprof"` (on `http.DefaultServeMux`) | `app.merge(sonde::http::router())` (axum) |
//! | `go http.ListenAndServe("localhost:6060", nil)` | `let _server = sonde::http::serve("127.0.0.1:6060")?;` (its own thread and runtime) |
//!
//! Endpoints, under `/debug/pprof/`:
//!
//! * `` (the index): every profile with its count and description, as Go's.
//! * `profile?seconds=N`: a CPU profile over N seconds (default 30).
//! * `heap`, `allocs`, `goroutine` (the thread profile), `block`, `mutex`,
//!   `tasks` (feature `tokio`): the registry's kinds ([`crate::profiles`]),
//!   protobuf by default, `debug=1` (and `debug=2` for `goroutine`) text;
//!   `seconds=N` makes a delta profile, as Go's `serveDeltaProfile`. `gc=1` on
//!   `heap` is accepted and does nothing: Rust frees memory when it is
//!   dropped, so there is no garbage to collect first.
//! * `wall?seconds=N[&hz=H]`: the wall-clock profile (on and off CPU).
//! * `flamegraph?seconds=N` (the CPU) or `flamegraph?profile=heap` (any kind;
//!   `si=` picks the sample type): an SVG flame graph.
//! * `cmdline`, `symbol` (GET: `num_symbols: 1`; POST or GET with a query of
//!   `0x…+0x…`: each address with its function, for pprof's remote
//!   symbolization).
//! * `trace`: 501, naming what sonde offers instead (Go's execution tracer has
//!   no Rust counterpart here).
//!
//! Beyond Go: [`serve`] listens on 127.0.0.1 unless told otherwise (`":6060"`
//! means 127.0.0.1:6060, not every interface); [`Config`] adds a bearer token,
//! an allow-list of endpoints and a bound on `seconds` (300 by default); one
//! CPU profile runs at a time (a second gets Go's 500 `Could not enable CPU
//! profiling: cpu profiling already in use`, also when the program or the
//! agent runs one); a client that disconnects mid-profile stops the
//! collection. Where Go quietly does something surprising, sonde answers 400
//! with the reason: an unparsable `seconds` on `profile` (Go takes 30 s), an
//! unparsable `debug` (Go takes 0).
//!
//! The map of the module: this file (the router, [`Config`], [`serve`]),
//! `handlers.rs` (one function per endpoint), `reply.rs` (Go's responses and
//! errors), `index.rs` (the index page).

mod handlers;
mod index;
mod reply;

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use axum::Router;
use axum::routing::any;

use crate::Error;

/// The endpoints' settings beyond Go's. Build with [`Config::default`] and the
/// methods below.
#[derive(Clone, Debug)]
pub struct Config {
    token: Option<Arc<str>>,
    allow: Option<Arc<[String]>>,
    max_duration: Duration,
    write_timeout: Option<Duration>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            token: None,
            allow: None,
            max_duration: Duration::from_secs(300),
            write_timeout: None,
        }
    }
}

impl Config {
    /// Requires `Authorization: Bearer <token>` on every request (compared in
    /// constant time); others get 401. `go tool pprof` cannot send headers:
    /// fetch with `curl -H` or sonde's CLI.
    pub fn token(mut self, token: &str) -> Config {
        self.token = Some(token.into());
        self
    }

    /// Serves only these endpoints (names as in the URL: `heap`, `profile`,
    /// `goroutine`, `cmdline`, …); others get 403, and the index lists only
    /// these. The index itself is always served.
    pub fn allow<I: IntoIterator<Item = S>, S: Into<String>>(mut self, names: I) -> Config {
        self.allow = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// The longest `seconds` a request may ask for (default 300); longer ones
    /// get 400 with the limit, before anything is collected.
    pub fn max_seconds(mut self, seconds: u64) -> Config {
        self.max_duration = Duration::from_secs(seconds);
        self
    }

    /// The write timeout of the server the router runs in, if it has one:
    /// durations at or beyond it get Go's 400 `profile duration exceeds
    /// server's WriteTimeout`, as Go checks `http.Server.WriteTimeout`.
    pub fn write_timeout(mut self, timeout: Duration) -> Config {
        self.write_timeout = Some(timeout);
        self
    }

    /// Whether `name` (an endpoint, `""` for the index) is served.
    fn allows(&self, name: &str) -> bool {
        name.is_empty() || self.allow.as_ref().is_none_or(|a| a.iter().any(|n| n == name))
    }
}

/// The `/debug/pprof` endpoints with the default [`Config`], as an axum
/// [`Router`] of any state, to `.merge` into an app (Go: `import _
/// "net/http/pprof"`).
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    router_with(Config::default())
}

/// The `/debug/pprof` endpoints with `config`.
pub fn router_with<S: Clone + Send + Sync + 'static>(config: Config) -> Router<S> {
    Router::new()
        .route("/debug/pprof", any(handlers::to_index))
        .route("/debug/pprof/", any(handlers::index))
        .route("/debug/pprof/{name}", any(handlers::endpoint))
        .route("/debug/pprof/{name}/", any(handlers::unknown))
        .route("/debug/pprof/{name}/{*rest}", any(handlers::unknown))
        // Symbolization requests of up to 16 MiB of addresses (axum's default
        // is 2 MiB; Go sets no limit).
        .layer(axum::extract::DefaultBodyLimit::max(16 << 20))
        .with_state(Arc::new(config))
}

/// A `/debug/pprof` server on a thread of its own ([`serve`]). Dropping it, or
/// [`Server::stop`], stops it.
#[must_use = "the server stops when this handle is dropped"]
pub struct Server {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// The address it listens on (with the port the system chose for `:0`).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections, lets requests in progress finish (a CPU
    /// profile being collected ends at once, without its data) and joins the
    /// server's thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).finish()
    }
}

/// Serves the `/debug/pprof` endpoints on `addr` from a thread and a tokio
/// runtime of their own, for programs without tokio (Go: `go
/// http.ListenAndServe("localhost:6060", nil)`). `addr` is `host:port`, or
/// `:port` for 127.0.0.1 (unlike Go, which then listens on every interface);
/// port 0 picks a free one ([`Server::local_addr`] tells which).
///
/// # Errors
/// [`Error::Listen`] when the address is malformed or cannot be bound.
pub fn serve(addr: &str) -> Result<Server, Error> {
    serve_with(addr, Config::default())
}

/// [`serve`] with `config`.
///
/// # Errors
/// As [`serve`].
pub fn serve_with(addr: &str, config: Config) -> Result<Server, Error> {
    let listen_err = |source| Error::Listen {
        addr: addr.to_string(),
        source,
    };
    let full = match addr.strip_prefix(':') {
        Some(port) => format!("127.0.0.1:{port}"),
        None => addr.to_string(),
    };
    let listener = TcpListener::bind(&full).map_err(listen_err)?;
    listener.set_nonblocking(true).map_err(listen_err)?;
    let local = listener.local_addr().map_err(listen_err)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .thread_name("sonde-http")
        // The server's memory is sonde's, not the program's.
        .on_thread_start(crate::alloc::quiet_thread)
        .build()
        .map_err(listen_err)?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("sonde-http".into())
        .spawn(move || {
            crate::alloc::quiet_thread();
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let app: Router = router_with(config);
                let server = tokio::spawn(async move { axum::serve(listener, app).await });
                let _ = stopped.await;
                server.abort();
            });
            // Dropping the runtime's tasks ends the requests in progress (a CPU
            // profile stops with its profiler); work already on a blocking
            // thread (symbolizing) gets a moment to finish.
            runtime.shutdown_timeout(Duration::from_secs(2));
        })
        .map_err(listen_err)?;
    Ok(Server {
        addr: local,
        stop: Some(stop),
        thread: Some(thread),
    })
}
