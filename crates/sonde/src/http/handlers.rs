//! One function per endpoint, after the checks every request passes (token,
//! allow-list). Parameters are read as Go reads them (the first value of
//! each), with Go's status codes and texts where Go has them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{Redirect, Response};
use sonde_profile::Profile;
use sonde_profile::report::Config as ReportConfig;

use super::reply::{self, Reject};
use super::{Config, index};
use crate::Error;
use crate::profiles::{self, Kind, Params};

type Shared = State<Arc<Config>>;

/// `/debug/pprof` → `/debug/pprof/`, as Go's `ServeMux` redirects.
pub(super) async fn to_index() -> Redirect {
    Redirect::permanent("/debug/pprof/")
}

/// `/debug/pprof/`.
pub(super) async fn index(State(config): Shared, headers: HeaderMap) -> Response {
    if let Err(denied) = authorize(&config, &headers) {
        return denied.into();
    }
    reply::typed("text/html; charset=utf-8", index::page(&config))
}

/// `/debug/pprof/{name}`.
pub(super) async fn endpoint(
    State(config): Shared,
    Path(name): Path<String>,
    method: Method,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    if let Err(denied) = authorize(&config, &headers) {
        return denied.into();
    }
    if !config.allows(&name) {
        return Reject::new(
            StatusCode::FORBIDDEN,
            format!("{name} is not served here: this server's allow-list leaves it out"),
        )
        .into();
    }
    let query = query.unwrap_or_default();
    let q = Query::parse(&query);
    let result = match name.as_str() {
        "cmdline" => Ok(cmdline()),
        "symbol" => Ok(symbol(&method, &query, &body).await),
        "trace" => Err(Reject::new(
            StatusCode::NOT_IMPLEMENTED,
            "sonde does not record execution traces (go tool trace); for where time goes see \
             /debug/pprof/profile (CPU) and /debug/pprof/wall (wall clock, waiting included), for \
             waiting on locks /debug/pprof/block and /debug/pprof/mutex",
        )),
        "flamegraph" => flamegraph(&config, &q).await,
        _ => match profiles::lookup(&name) {
            Some(kind) => named(&config, kind, &q).await,
            None => Err(Reject::new(StatusCode::NOT_FOUND, "Unknown profile")),
        },
    };
    result.unwrap_or_else(Response::from)
}

/// 401 unless the request carries the configured bearer token.
fn authorize(config: &Config, headers: &HeaderMap) -> Result<(), Reject> {
    let Some(token) = &config.token else { return Ok(()) };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if constant_time_eq(given.as_bytes(), token.as_bytes()) {
        return Ok(());
    }
    Err(Reject::unauthorized(
        "this server requires a token: send the header 'Authorization: Bearer <token>'",
    ))
}

/// Whether `a` equals `b`, in a time that depends only on their lengths.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |d, (x, y)| d | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// The query parameters, first value of each, as Go's `FormValue`.
struct Query<'a> {
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> Query<'a> {
    fn parse(raw: &'a str) -> Query<'a> {
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| p.split_once('=').unwrap_or((p, "")))
            .collect();
        Query { pairs }
    }

    fn get(&self, key: &str) -> Option<&'a str> {
        self.pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    /// `debug`: 0 when absent; 400 when it is not a small number (Go takes
    /// anything unparsable as 0).
    fn debug(&self) -> Result<u8, Reject> {
        match self.get("debug") {
            None | Some("") => Ok(0),
            Some(v) => v.parse::<u8>().map_err(|_| {
                Reject::new(
                    StatusCode::BAD_REQUEST,
                    format!("invalid value for \"debug\" - must be 0, 1 or 2, not {v:?}"),
                )
            }),
        }
    }

    /// `seconds`, when given: a positive whole number within the limits of
    /// `config`, else Go's 400.
    fn seconds(&self, config: &Config) -> Result<Option<Duration>, Reject> {
        let Some(v) = self.get("seconds") else { return Ok(None) };
        let n = match v.parse::<i64>() {
            Ok(n) if n > 0 => n as u64,
            _ => {
                return Err(Reject::new(
                    StatusCode::BAD_REQUEST,
                    "invalid value for \"seconds\" - must be a positive integer",
                ));
            }
        };
        let d = Duration::from_secs(n);
        if config.write_timeout.is_some_and(|t| d >= t) {
            return Err(Reject::new(
                StatusCode::BAD_REQUEST,
                "profile duration exceeds server's WriteTimeout",
            ));
        }
        if d > config.max_duration {
            return Err(Reject::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "profile duration of {n} seconds exceeds this server's limit of {} seconds",
                    config.max_duration.as_secs()
                ),
            ));
        }
        Ok(Some(d))
    }
}

/// How much lower than the program's the priority of profile work is (a nice
/// value added to the thread's): a scrape must not take the CPU from the
/// program's own requests.
const NICE: libc::c_int = 10;

/// Runs blocking work (collecting, symbolizing, encoding) on a thread of its
/// own at a lower priority ([`NICE`]), off the runtime's threads, so that
/// scrapes yield the CPU to the program's own work on a busy machine.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Reject> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    // What the thread allocates is freed by the caller's (the reply): it is
    // sonde's own memory when the caller's is (sonde's own server), else the
    // program's, so that the two threads count it on the same side.
    let quiet = crate::alloc::with_local(|l| l.quiet());
    let spawned = std::thread::Builder::new().name("sonde-pprof".into()).spawn(move || {
        if quiet {
            crate::alloc::quiet_thread();
        }
        // SAFETY: getpriority and setpriority on the calling thread (a tid is
        // a PRIO_PROCESS id on Linux); failure leaves the priority as it was.
        unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            let nice = libc::getpriority(libc::PRIO_PROCESS, tid);
            libc::setpriority(libc::PRIO_PROCESS, tid, (nice + NICE).min(19));
        }
        let _ = tx.send(f());
    });
    let failed = |e: &dyn std::fmt::Display| {
        Reject::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to collect profile: {e}"),
        )
    };
    match spawned {
        Ok(_) => rx.await.map_err(|e| failed(&e)),
        Err(e) => Err(failed(&e)),
    }
}

/// Sets its flag when dropped: the request it belongs to ended, or its client
/// went away (hyper then drops the request's future), so the collection on a
/// blocking thread stops at its next check.
struct Cancel(Arc<AtomicBool>);

impl Drop for Cancel {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// Takes `kind` with `params` and passes the profile to `then` (encoding,
/// drawing), both on a thread of lower priority ([`blocking`]), stopping the
/// collection if this request is dropped.
async fn take_then<T: Send + 'static>(
    kind: &'static Kind,
    params: Params,
    then: impl FnOnce(Profile) -> T + Send + 'static,
) -> Result<T, Reject> {
    let cancel = Cancel(Arc::new(AtomicBool::new(false)));
    let flag = cancel.0.clone();
    let taken = blocking(move || kind.take_until(&params, &flag).map(then)).await?;
    drop(cancel);
    taken.map_err(|e| match e {
        // Go's text for a second CPU profile.
        Error::AlreadyRunning { .. } => Reject::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Could not enable CPU profiling: cpu profiling already in use",
        ),
        Error::SignalHandlerInUse { .. } | Error::Signal(_) | Error::Timer(_) | Error::Unsupported => Reject::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Could not enable CPU profiling: {e}"),
        ),
        Error::InvalidOption(_) | Error::Parameter { .. } => Reject::new(StatusCode::BAD_REQUEST, e.to_string()),
        Error::Delta(_) => Reject::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to compute delta: {e}"),
        ),
        _ => Reject::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("failed to collect profile: {e}"),
        ),
    })
}

/// The parameters of a kind's request: `seconds` (a delta profile for kinds
/// taken at once; the duration, default 30 s, for the others) and `hz`.
fn params(config: &Config, kind: &Kind, q: &Query<'_>) -> Result<Params, Reject> {
    let seconds = match q.seconds(config)? {
        Some(d) => Some(d),
        None if kind.supports_delta() => None,
        None if config.max_duration < Duration::from_secs(30) => {
            return Err(Reject::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "the default duration of 30 seconds exceeds this server's limit of {} seconds: give seconds=N",
                    config.max_duration.as_secs()
                ),
            ));
        }
        None => Some(Duration::from_secs(30)),
    };
    let mut params = Params {
        seconds,
        ..Params::default()
    };
    if let Some(v) = q.get("hz") {
        params = params.with_hz(v.parse::<u32>().map_err(|_| {
            Reject::new(
                StatusCode::BAD_REQUEST,
                format!("invalid value for \"hz\" - must be 1 to 1000, not {v:?}"),
            )
        })?);
    }
    Ok(params)
}

/// Every kind of the registry: `profile` (CPU), `wall`, `heap`, `allocs`,
/// `goroutine`, `block`, `mutex`, `tasks`.
async fn named(config: &Config, kind: &'static Kind, q: &Query<'_>) -> Result<Response, Reject> {
    let debug = q.debug()?;
    let params = params(config, kind, q)?;
    if !kind.supports_delta() {
        // Go ignores debug on the CPU profile.
        let gz = take_then(kind, params, reply::gzip).await?;
        return Ok(reply::profile(gz, kind.name()));
    }
    match (params.seconds.is_some(), debug) {
        (true, d) if d != 0 => Err(Reject::new(
            StatusCode::BAD_REQUEST,
            "seconds and debug params are incompatible",
        )),
        (true, _) => {
            let gz = take_then(kind, params, reply::gzip).await?;
            Ok(reply::profile(gz, &format!("{}-delta", kind.name())))
        }
        (false, 0) => {
            let gz = take_then(kind, params, reply::gzip).await?;
            Ok(reply::profile(gz, kind.name()))
        }
        (false, d) => match blocking(move || kind.text(d)).await? {
            Some(Ok(text)) => Ok(reply::text(text)),
            Some(Err(e)) => Err(Reject::new(StatusCode::BAD_REQUEST, e.to_string())),
            None => Err(Reject::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "the {} profile has no text form (debug=0 is the protobuf profile)",
                    kind.name()
                ),
            )),
        },
    }
}

/// `flamegraph?seconds=N` (CPU) or `flamegraph?profile=NAME[&si=TYPE]`
/// (`seconds` then makes a delta profile).
async fn flamegraph(config: &Config, q: &Query<'_>) -> Result<Response, Reject> {
    let name = q.get("profile").unwrap_or("profile");
    let Some(kind) = profiles::lookup(name) else {
        return Err(Reject::new(StatusCode::NOT_FOUND, "Unknown profile"));
    };
    let mut cfg = ReportConfig::default();
    if let Some(si) = q.get("si") {
        cfg.sample_index = Some(si.to_string());
    }
    let title = name.to_string();
    let draw = move |p| {
        let mut svg = Vec::new();
        sonde_profile::report::write_flame(p, None, &cfg, &title, &mut svg).map(|_| svg)
    };
    let svg = take_then(kind, params(config, kind, q)?, draw)
        .await?
        .map_err(|e| Reject::new(StatusCode::BAD_REQUEST, format!("cannot draw the flame graph: {e}")))?;
    Ok(reply::typed("image/svg+xml", svg))
}

/// `cmdline`: the arguments joined by NUL bytes, as Go's.
fn cmdline() -> Response {
    reply::text(std::env::args().collect::<Vec<_>>().join("\0"))
}

/// `symbol`: `num_symbols: 1`, then `0xADDR name` for each address of the
/// POST body or GET query (`0x…+0x…`) that names a function (Go's `Symbol`).
async fn symbol(method: &Method, query: &str, body: &[u8]) -> Response {
    let input = if method == Method::POST {
        String::from_utf8_lossy(body).into_owned()
    } else {
        query.to_string()
    };
    let addrs: Vec<u64> = input
        .split(|c: char| c == '+' || c.is_whitespace())
        .filter_map(|w| {
            let w = w.trim();
            match w.strip_prefix("0x").or_else(|| w.strip_prefix("0X")) {
                Some(hex) => u64::from_str_radix(hex, 16).ok(),
                None => w.parse().ok(),
            }
        })
        .collect();
    let names = tokio::task::spawn_blocking(move || {
        let modules = crate::unwind::modules::loaded_modules();
        addrs
            .into_iter()
            .filter_map(|a| crate::profile_builder::function_at(&modules, a).map(|n| (a, n)))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let mut out = String::from("num_symbols: 1\n");
    for (a, name) in names {
        out.push_str(&format!("{a:#x} {name}\n"));
    }
    reply::text(out)
}
