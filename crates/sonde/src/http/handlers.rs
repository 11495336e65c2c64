//! One function per endpoint, after the checks every request passes (token,
//! allow-list). Parameters are read as Go reads them (the first value of
//! each), with Go's status codes and texts where Go has them.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use sonde_profile::Profile;
use sonde_profile::report::Config as ReportConfig;

use super::reply::{self, Reject};
use super::{Config, index};
use crate::Error;
use crate::profiles::{self, Kind, Params};

type Shared = State<Arc<Config>>;

/// `/debug/pprof` → `/debug/pprof/` (301, query kept, any method), as Go's
/// `ServeMux` redirects.
pub(super) async fn to_index(RawQuery(query): RawQuery) -> Response {
    let to = match query {
        Some(q) if !q.is_empty() => format!("/debug/pprof/?{q}"),
        _ => "/debug/pprof/".to_string(),
    };
    let mut r = Response::new(axum::body::Body::empty());
    *r.status_mut() = StatusCode::MOVED_PERMANENTLY;
    if let Ok(v) = axum::http::HeaderValue::from_str(&to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// Paths below an endpoint (`/debug/pprof/heap/x`): Go's 404.
pub(super) async fn unknown() -> Response {
    Reject::new(StatusCode::NOT_FOUND, "Unknown profile").into()
}

/// `/debug/pprof/`.
pub(super) async fn index(State(config): Shared, headers: HeaderMap) -> Response {
    if let Err(denied) = authorize(&config, &headers) {
        return denied.into();
    }
    let page = crate::alloc::quietly(|| index::page(&config).into_bytes());
    reply::typed("text/html; charset=utf-8", page)
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

/// The query parameters, decoded (`%31` is `1`, `+` a space), first value
/// of each, as Go's `FormValue`.
struct Query {
    pairs: Vec<(String, String)>,
}

/// Decodes a query component as Go's `url.QueryUnescape` does; a malformed
/// escape is kept as it is.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Query {
    fn parse(raw: &str) -> Query {
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (unescape(k), unescape(v))
            })
            .collect();
        Query { pairs }
    }

    /// The first value of `key`; an empty value is no value, as Go's
    /// handlers take it.
    fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    /// `debug`: 0 when absent; 400 when it is not a small number (Go takes
    /// anything unparsable as 0).
    fn debug(&self) -> Result<u8, Reject> {
        match self.get("debug") {
            None => Ok(0),
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

/// Lowers the calling thread's priority by [`NICE`], so that profile work
/// (building, symbolizing, encoding) yields the CPU to the program's own work
/// on a busy machine. Not for collections over a duration (`profile`,
/// `wall`), whose sampling must keep pace with the program (and whose
/// threads, such as the CPU profile's collector, would inherit it).
fn lower_priority() {
    // SAFETY: getpriority and setpriority on the calling thread (a tid is a
    // PRIO_PROCESS id on Linux); failure leaves the priority as it was.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        let now = libc::getpriority(libc::PRIO_PROCESS, tid);
        libc::setpriority(libc::PRIO_PROCESS, tid, (now + NICE).min(19));
    }
}

/// Runs blocking work (collecting, symbolizing, encoding) on a thread of its
/// own, off the runtime's threads. The thread is quiet: what `f` allocates is
/// sonde's memory, out of the program's heap profiles.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Reject> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new().name("sonde-pprof".into()).spawn(move || {
        // Its work is sonde's, not the program's: the replies it builds are
        // freed quietly too (`reply::quiet`).
        crate::alloc::quiet_thread();
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
    let taken = blocking(move || {
        // A profile taken at once is all building; one over a duration
        // samples first, at the program's priority, then builds.
        let at_once = kind.supports_delta();
        if at_once {
            lower_priority();
        }
        let taken = kind.take_until(&params, &flag);
        if !at_once {
            lower_priority();
        }
        taken.map(then)
    })
    .await?;
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
fn params(config: &Config, kind: &Kind, q: &Query) -> Result<Params, Reject> {
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
    // Only the wall-clock profile takes a rate (Go's endpoints take none).
    if let Some(v) = q.get("hz").filter(|_| kind.name() == "wall") {
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
async fn named(config: &Config, kind: &'static Kind, q: &Query) -> Result<Response, Reject> {
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
        (false, d) => match blocking(move || {
            lower_priority();
            kind.text(d)
        })
        .await?
        {
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
async fn flamegraph(config: &Config, q: &Query) -> Result<Response, Reject> {
    let name = q.get("profile").unwrap_or("profile");
    let Some(kind) = profiles::lookup(name) else {
        return Err(Reject::new(StatusCode::NOT_FOUND, "Unknown profile"));
    };
    // A sample index is checked before anything is collected.
    if let Some(si) = q.get("si") {
        let types = kind.sample_types();
        if !types.contains(&si) && si.parse::<usize>().map_or(true, |i| i >= types.len()) {
            return Err(Reject::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "unknown sample index {si:?}: the {name} profile has {}",
                    types.join(", ")
                ),
            ));
        }
    }
    // Made quietly: the worker that draws frees them quietly.
    let (cfg, title) = crate::alloc::quietly(|| {
        let cfg = ReportConfig {
            sample_index: q.get("si").map(str::to_string),
            ..ReportConfig::default()
        };
        (cfg, name.to_string())
    });
    let draw = move |p: Profile| {
        let mut svg = Vec::new();
        match sonde_profile::report::write_flame(p, None, &cfg, &title, &mut svg) {
            Ok(_) => Ok(svg),
            // Nothing was recorded (no contention yet, nothing in use): an
            // image that says so, not an error.
            Err(sonde_profile::Error::NoMatches(_)) => Ok(empty_svg(&title)),
            Err(e) => Err(e),
        }
    };
    let svg = take_then(kind, params(config, kind, q)?, draw)
        .await?
        .map_err(|e| Reject::new(StatusCode::BAD_REQUEST, format!("cannot draw the flame graph: {e}")))?;
    Ok(reply::typed("image/svg+xml", svg))
}

/// A flame graph of a profile with no samples: its title and a line saying so.
fn empty_svg(title: &str) -> Vec<u8> {
    let title = title.replace('&', "&amp;").replace('<', "&lt;");
    format!(
        "<?xml version=\"1.0\" standalone=\"no\"?>\n<svg version=\"1.1\" width=\"1200\" height=\"60\" \
         xmlns=\"http://www.w3.org/2000/svg\"><text x=\"600\" y=\"24\" text-anchor=\"middle\" \
         font-family=\"Verdana\" font-size=\"17\">{title}</text><text x=\"600\" y=\"48\" \
         text-anchor=\"middle\" font-family=\"Verdana\" font-size=\"12\">no samples: nothing was \
         recorded in this profile</text></svg>\n"
    )
    .into_bytes()
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
    // Words as Go's strconv.ParseUint(word, 0, 64): 0x hex, 0 octal.
    let addrs: Vec<u64> = input
        .split(|c: char| c == '+' || c.is_whitespace())
        .filter_map(|w| {
            let w = w.trim();
            if let Some(hex) = w.strip_prefix("0x").or_else(|| w.strip_prefix("0X")) {
                u64::from_str_radix(hex, 16).ok()
            } else if w.len() > 1 && w.starts_with('0') {
                u64::from_str_radix(&w[1..], 8).ok()
            } else {
                w.parse().ok()
            }
        })
        .collect();
    let answer = blocking(move || {
        lower_priority();
        let modules = crate::unwind::modules::loaded_modules();
        let mut out = String::from("num_symbols: 1\n");
        for &a in &addrs {
            if let Some(name) = crate::profile_builder::function_at(&modules, a) {
                out.push_str(&format!("{a:#x} {name}\n"));
            }
        }
        // The addresses go back to be freed where they were allocated.
        (out, addrs)
    })
    .await
    .map(|(out, addrs)| {
        drop(addrs);
        out
    });
    match answer {
        Ok(text) => reply::text(text),
        Err(r) => r.into(),
    }
}
