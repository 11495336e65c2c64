//! The web UI's endpoints: the embedded page, and JSON made from
//! `sonde_profile::report`'s rows (the structs `sonde top`, `peek` and `list`
//! print from). Every JSON endpoint takes the view's state as pprof's URL
//! parameters (`si`, `f`, `i`, `h`, `s`, `sf`, `tf`, `ti`, `g`, ...) and
//! answers a bad one with status 400 and `{"error": "..."}`, which the page
//! shows.

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State as AxState};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use sonde_profile::report::{
    self, Command, Config, Env, FlameTree, FlameView, Prepared, SETTINGS, SettingSyntax, SourceOpener, Widths,
};
use sonde_profile::units;

use super::{Loaded, State};
use crate::options::format_local_time;

type Params = Query<Vec<(String, String)>>;
type Shared = Arc<State>;

/// The page's files, embedded in the binary.
const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_CSS: &str = include_str!("assets/app.css");
const FLAME_JS: &str = include_str!("assets/flame.js");
const VIEWS_JS: &str = include_str!("assets/views.js");
const APP_JS: &str = include_str!("assets/app.js");

/// Refuses a request whose `Host` is not one of `hosts` (a page of another
/// site reaching this server through DNS rebinding), and a `POST` whose
/// `Origin` is another site's. `hosts` empty: any (the user bound a
/// non-loopback address on purpose).
async fn same_site(
    AxState(hosts): AxState<Arc<Vec<String>>>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if !hosts.is_empty() {
        // Owned: a reference to the request must not live across the await.
        let header_of = |name| {
            req.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string()
        };
        let (host, origin) = (header_of(header::HOST), header_of(header::ORIGIN));
        if !hosts.contains(&host) {
            return (
                StatusCode::FORBIDDEN,
                format!("this server answers to {} only, not to Host {host:?}", hosts.join(", ")),
            )
                .into_response();
        }
        if req.method() == axum::http::Method::POST
            && !origin.is_empty()
            && !hosts.iter().any(|h| origin == format!("http://{h}"))
        {
            return (StatusCode::FORBIDDEN, format!("requests from {origin} are refused")).into_response();
        }
    }
    next.run(req).await
}

/// The router of the page and its endpoints; `hosts` are the `Host` values
/// it answers to (empty: any).
pub(super) fn router(state: Shared, hosts: Vec<String>) -> Router {
    let asset = |body: &'static str, ty: &'static str| {
        get(move || async move { ([(header::CONTENT_TYPE, ty), (header::CACHE_CONTROL, "no-cache")], body) })
    };
    Router::new()
        .route("/", asset(INDEX_HTML, "text/html; charset=utf-8"))
        .route("/app.css", asset(APP_CSS, "text/css; charset=utf-8"))
        .route("/flame.js", asset(FLAME_JS, "text/javascript; charset=utf-8"))
        .route("/views.js", asset(VIEWS_JS, "text/javascript; charset=utf-8"))
        .route("/app.js", asset(APP_JS, "text/javascript; charset=utf-8"))
        .route("/api/meta", get(meta))
        .route("/api/flame", get(|s, q| answer(s, q, flame, true)))
        .route("/api/top", get(|s, q| answer(s, q, top, false)))
        .route("/api/peek", get(|s, q| answer(s, q, peek, false)))
        .route("/api/source", get(|s, q| answer(s, q, source, false)))
        .route("/api/graph", get(|s, q| answer(s, q, graph, false)))
        .route("/api/labels", get(|s, q| answer(s, q, labels, false)))
        .route("/api/timeline", get(timeline))
        .route("/api/refresh", post(refresh))
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(Arc::new(hosts), same_site))
}

/// A JSON reply: 200 with the value, or 400 with `{"error": message}`.
fn reply(r: Result<Value, String>) -> Response {
    reply_written(r.map(|v| v.to_string()))
}

/// [`reply`] with the JSON already written (off the server's thread).
fn reply_written(r: Result<String, String>) -> Response {
    let (status, body) = match r {
        Ok(body) => (StatusCode::OK, body),
        Err(e) => (StatusCode::BAD_REQUEST, json!({ "error": e }).to_string()),
    };
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// Runs a report off the server's thread (preparing a large profile takes a
/// while) and answers with its JSON.
///
/// One report is computed at a time (`State::work`): each prepares a copy of
/// the profile, and a page (or a script) asking for many at once must not
/// hold many copies. The flame graph takes the lock only to build a tree it
/// does not have. The JSON is written off the server's thread too.
async fn answer(
    AxState(state): AxState<Shared>,
    Query(params): Params,
    f: fn(&State, &Loaded, &Request) -> Result<Value, String>,
    is_flame: bool,
) -> Response {
    let r = tokio::task::spawn_blocking(move || {
        let req = Request::new(&state, params)?;
        let _one = (!is_flame).then(|| state.work.lock().unwrap_or_else(|e| e.into_inner()));
        let loaded = state.loaded_for(&req.window())?;
        f(&state, &loaded, &req).map(|v| v.to_string())
    })
    .await
    .unwrap_or_else(|e| Err(format!("internal error: {e}")));
    reply_written(r)
}

/// A request's parameters: the analyzer settings, and the view's own.
struct Request {
    cfg: Config,
    params: HashMap<String, String>,
    /// The loaded profile's generation when the request came (a refresh
    /// makes a new one): cached trees are keyed by it.
    generation: u64,
}

impl Request {
    fn new(state: &State, pairs: Vec<(String, String)>) -> Result<Request, String> {
        let mut cfg = state.config.clone();
        cfg.apply_url_params(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .map_err(|e| e.to_string())?;
        Ok(Request {
            cfg,
            params: pairs.into_iter().collect(),
            generation: state.generation.load(std::sync::atomic::Ordering::SeqCst),
        })
    }

    fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    fn number<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.param(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("{name}={v} is not a number in the range it takes; reload the page")),
        }
    }

    /// The store window the URL chose (see [`super::WINDOW_PARAMS`]).
    fn window(&self) -> [Option<String>; 4] {
        super::WINDOW_PARAMS.map(|k| self.param(k).map(str::to_string))
    }

    /// The settings and the window, as a cache key.
    fn key(&self) -> String {
        format!(
            "{} {:?} {:?} {:?}",
            self.generation,
            self.cfg.url_params(),
            self.window(),
            self.param("group")
        )
    }
}

/// Prepares `p` for `cmd` with the request's settings.
fn prepared(p: &sonde_profile::Profile, cmd: &Command, cfg: &Config) -> Result<(Prepared, Vec<String>), String> {
    report::prepare(p.clone(), cmd, cfg).map_err(|e| e.to_string())
}

/// Runs `f` with the report environment of the server: local time, and
/// source files only under the directories it was given.
fn with_env<T>(roots: &[std::path::PathBuf], f: impl FnOnce(&Env) -> T) -> T {
    // Outside the roots, a file is "not found", so that the search goes on
    // to the next directory and says nothing of files it may not read. Only
    // regular files of a bounded size are read (a FIFO would block for ever).
    let read = |path: &str| -> std::io::Result<String> {
        let not_found = || std::io::Error::new(std::io::ErrorKind::NotFound, path.to_string());
        let canonical = std::fs::canonicalize(path)?;
        if !roots.iter().any(|r| canonical.starts_with(r)) {
            return Err(not_found());
        }
        let meta = std::fs::metadata(&canonical)?;
        if !meta.is_file() {
            return Err(not_found());
        }
        if meta.len() > MAX_SOURCE_BYTES {
            return Err(std::io::Error::other(format!(
                "{} bytes, more than the {MAX_SOURCE_BYTES} a source file may have here",
                meta.len()
            )));
        }
        let bytes = std::fs::read(&canonical)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    let opener = SourceOpener {
        read: &read,
        current_dir: std::env::current_dir()
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_default(),
        syntax: SettingSyntax::Flag,
    };
    f(&Env {
        format_time: &format_local_time,
        open_source: &opener,
    })
}

/// `/api/meta`: what was loaded (or why not), its sample types, the settings
/// the command line gave, and whether a refresh can fetch it again.
async fn meta(AxState(state): AxState<Shared>, Query(params): Params) -> Response {
    let r = tokio::task::spawn_blocking(move || {
        let window = Request::new(&state, params)?.window();
        Ok(meta_json(&state, &window))
    })
    .await
    .unwrap_or_else(|e| Err(format!("internal error: {e}")));
    reply(r)
}

fn meta_json(state: &State, window: &[Option<String>; 4]) -> Value {
    let loaded = state.loaded_for(window);
    let urls: Vec<&String> = state
        .sources
        .sources
        .iter()
        .filter(|s| crate::fetch::is_url(s))
        .collect();
    let seconds = urls.iter().find_map(|u| {
        u.split(['?', '&'])
            .find_map(|kv| kv.strip_prefix("seconds="))
            .and_then(|v| v.parse::<u64>().ok())
    });
    let settings: Vec<Value> = SETTINGS
        .iter()
        .filter_map(|s| {
            let param = s.url_param?;
            Some(json!({ "name": s.name, "param": param, "help": s.help, "choices": s.choices() }))
        })
        .collect();
    let mut doc = json!({
        "refreshable": true,
        "store": state.sources.store.store.is_some(),
        "fetches": !urls.is_empty(),
        "refresh_seconds": seconds,
        "settings": settings,
        "config": state.config.url_params().into_iter().collect::<HashMap<_, _>>(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    match loaded {
        Err(e) => doc["error"] = json!(e),
        Ok(l) => {
            let p = &l.profile;
            doc["description"] = json!(l.description);
            doc["title"] = json!(p.main_binary().unwrap_or("profile"));
            doc["sample_types"] = json!(
                p.sample_types
                    .iter()
                    .map(|t| json!({ "type": &*t.ty, "unit": &*t.unit }))
                    .collect::<Vec<_>>()
            );
            doc["default_sample"] = json!(p.sample_index(None).ok().map(|i| p.sample_types[i].ty.to_string()));
            doc["has_base"] = json!(l.base.is_some());
            doc["samples"] = json!(p.samples.len());
            let mut keys: Vec<&str> = p
                .samples
                .iter()
                .flat_map(|s| s.labels.iter().map(|l| &*l.key))
                .collect();
            keys.sort_unstable();
            keys.dedup();
            doc["label_keys"] = json!(keys);
        }
    }
    doc
}

/// Builds the flame tree of the page's first view (the command line's
/// settings), so that the first paint does not wait for it.
pub(super) fn warm(state: &State) {
    let loaded = state.loaded.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if let (Ok(loaded), Ok(req)) = (loaded, Request::new(state, Vec::new())) {
        let _ = flame(state, &loaded, &req);
    }
}

/// `/api/flame`: a view of the flame graph (`root`, `px`, `below`, `w`,
/// `q` for a search), from the cached tree of the request's settings.
fn flame(state: &State, loaded: &Loaded, req: &Request) -> Result<Value, String> {
    let key = req.key();
    let cached = || {
        state
            .flame_cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .filter(|(k, _)| *k == key)
            .map(|(_, t)| Arc::clone(t))
    };
    // Built once: a request that finds no tree waits for the one building,
    // then looks again.
    let mut work = None;
    if cached().is_none() {
        work = Some(state.work.lock().unwrap_or_else(|e| e.into_inner()));
    }
    let (tree, warnings) = match cached() {
        Some(t) => (t, Vec::new()),
        None => {
            let (mut new, mut warnings) = prepared(&loaded.profile, &Command::Folded, &req.cfg)?;
            let mut base = match &loaded.base {
                Some(b) => {
                    let (b, w) = prepared(b, &Command::Folded, &req.cfg).map_err(|e| format!("the base: {e}"))?;
                    warnings.extend(w);
                    Some(b)
                }
                None => None,
            };
            let t = Arc::new(FlameTree::new(&mut new, base.as_mut(), req.param("group")));
            *state.flame_cache.lock().unwrap_or_else(|e| e.into_inner()) = Some((key.clone(), Arc::clone(&t)));
            (t, warnings)
        }
    };
    drop(work);
    let search = match req.param("q") {
        Some(q) => Some(regex::Regex::new(q).map_err(|e| {
            format!(
                "search: '{q}' is not a regular expression: {}",
                e.to_string().lines().last().unwrap_or("")
            )
        })?),
        None => None,
    };
    let unfold: Vec<u32> = match req.param("unfold") {
        Some(list) => list
            .split(',')
            .map(|v| {
                v.parse()
                    .map_err(|_| format!("unfold={list:?}: want frame ids separated by commas"))
            })
            .collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let view = FlameView {
        root: req.number("root", 0u32)?,
        px: req.number("px", 1200u32)?.clamp(1, 20_000),
        only_below: req
            .param("below")
            .map(|v| v.parse::<i64>())
            .transpose()
            .map_err(|_| "below= is not a number")?,
        widths: Widths::parse(req.param("w").unwrap_or("new"))?,
        search: search.as_ref(),
        fold: req.param("fold") != Some("0"),
        unfold: &unfold,
    };
    let mut doc = tree.view(&view)?;
    doc["warnings"] = json!(warnings);
    Ok(doc)
}

/// `/api/top`: `sonde top`'s rows; with a base, `sonde top --base`'s rows
/// (the change), and each entry's cum in the new profile and in the base.
fn top(state: &State, loaded: &Loaded, req: &Request) -> Result<Value, String> {
    let rows_of = |p: &sonde_profile::Profile| -> Result<(report::Top, Vec<String>), String> {
        let (mut rpt, warnings) = prepared(p, &Command::Top, &req.cfg)?;
        Ok((with_env(&state.source_roots, |env| rpt.top(env)), warnings))
    };
    let (top, warnings) = rows_of(loaded.change.as_ref().unwrap_or(&loaded.profile))?;
    let mut sides: Vec<HashMap<String, String>> = Vec::new();
    if let (Some(_), Some(base)) = (&loaded.change, &loaded.base) {
        for p in [&loaded.profile, base] {
            let (t, _) = rows_of(p)?;
            sides.push(t.rows.into_iter().map(|r| (r.name, r.cum_format)).collect());
        }
    }
    let mut sum = 0i64;
    let rows: Vec<Value> = top
        .rows
        .iter()
        .map(|r| {
            sum += r.flat;
            let mut row = json!({
                "name": r.name,
                "inline": r.inline_label,
                "flat": r.flat,
                "cum": r.cum,
                "flat_label": r.flat_format,
                "cum_label": r.cum_format,
                "flat_pct": units::percentage(r.flat, top.total).trim(),
                "sum_pct": units::percentage(sum, top.total).trim(),
                "cum_pct": units::percentage(r.cum, top.total).trim(),
            });
            if let [new, base] = sides.as_slice() {
                let zero = String::from("0");
                row["new_cum_label"] = json!(new.get(&r.name).unwrap_or(&zero));
                row["base_cum_label"] = json!(base.get(&r.name).unwrap_or(&zero));
            }
            row
        })
        .collect();
    Ok(json!({
        "labels": top.labels,
        "total": top.total,
        "rows": rows,
        "warnings": warnings,
        "has_base": !sides.is_empty(),
    }))
}

/// A caller or callee of `peek`, its share of the entry's cum (pprof's
/// `calls%`).
fn edge_json(e: &report::TreeEdge, entry_cum: i64) -> Value {
    json!({ "name": e.name, "weight": e.weight, "label": e.weight_format, "pct": units::percentage(e.weight, entry_cum).trim(), "inline": e.inline })
}

/// The most entries `/api/peek` answers with (`fn=.` matches every function).
const PEEK_ENTRIES: usize = 100;

/// The largest source file the Source view reads.
const MAX_SOURCE_BYTES: u64 = 16 << 20;

/// `/api/peek?fn=REGEX`: `sonde peek`'s entries, callers and callees.
fn peek(state: &State, loaded: &Loaded, req: &Request) -> Result<Value, String> {
    let re = req
        .param("fn")
        .ok_or("peek needs a function: type a regular expression in the box")?;
    let peek_of = |p: &sonde_profile::Profile| -> Result<(report::Tree, Vec<String>), String> {
        let (mut rpt, warnings) = prepared(p, &Command::Peek(re.into()), &req.cfg)?;
        let tree = with_env(&state.source_roots, |env| rpt.tree(Some(re), env)).map_err(|e| e.to_string())?;
        Ok((tree, warnings))
    };
    let (tree, warnings) = peek_of(&loaded.profile)?;
    // With a base: the base's value of each entry and edge, by name (an
    // entry the base lacks has none).
    let base: HashMap<String, report::TreeEntry> = match &loaded.base {
        Some(b) => match peek_of(b) {
            Ok((t, _)) => t.entries.into_iter().map(|e| (e.name.clone(), e)).collect(),
            Err(_) => HashMap::new(),
        },
        None => HashMap::new(),
    };
    let with_base = |edges: &[report::TreeEdge], base_edges: Option<&Vec<report::TreeEdge>>, cum: i64| -> Vec<Value> {
        edges
            .iter()
            .map(|c| {
                let mut v = edge_json(c, cum);
                if loaded.base.is_some() {
                    let b = base_edges.and_then(|es| es.iter().find(|x| x.name == c.name));
                    v["base_label"] = json!(b.map_or("0", |b| b.weight_format.as_str()));
                }
                v
            })
            .collect()
    };
    let total = tree.total;
    let more = tree.entries.len().saturating_sub(PEEK_ENTRIES);
    let entries: Vec<Value> = tree
        .entries
        .iter()
        .take(PEEK_ENTRIES)
        .map(|e| {
            let b = base.get(&e.name);
            let mut v = json!({
                "name": e.name,
                "flat_label": e.flat_format,
                "cum_label": e.cum_format,
                "flat_pct": units::percentage(e.flat, total).trim(),
                "cum_pct": units::percentage(e.cum, total).trim(),
                "callers": with_base(&e.callers, b.map(|b| &b.callers), e.cum),
                "callees": with_base(&e.callees, b.map(|b| &b.callees), e.cum),
            });
            if loaded.base.is_some() {
                v["base_cum_label"] = json!(b.map_or("0", |b| b.cum_format.as_str()));
            }
            v
        })
        .collect();
    let mut warnings = warnings;
    if more > 0 {
        warnings.push(format!(
            "{more} more entries match; the first {PEEK_ENTRIES} are shown: narrow the regular expression"
        ));
    }
    Ok(json!({ "labels": tree.labels, "entries": entries, "warnings": warnings, "has_base": loaded.base.is_some() }))
}

/// `/api/source?fn=REGEX`: `sonde list`'s routines, lines read only under
/// the server's source directories.
fn source(state: &State, loaded: &Loaded, req: &Request) -> Result<Value, String> {
    let re = req
        .param("fn")
        .ok_or("source needs a function: type a regular expression in the box, or pick one in Top")?;
    let list_of = |p: &sonde_profile::Profile| -> Result<(report::Listing, Vec<String>), String> {
        let (mut rpt, warnings) = prepared(p, &Command::List(re.into()), &req.cfg)?;
        let listing = with_env(&state.source_roots, |env| rpt.list(re, env.open_source)).map_err(|e| e.to_string())?;
        Ok((listing, warnings))
    };
    let (listing, warnings) = list_of(&loaded.profile)?;
    // With a base: each line's cum in the base, by function, file and line.
    let mut base_lines: HashMap<(String, Option<String>, i64), String> = HashMap::new();
    if let Some(Ok((b, _))) = loaded.base.as_ref().map(list_of) {
        for r in b.routines {
            for l in r.lines {
                base_lines.insert((r.function.clone(), r.file.clone(), l.lineno), l.cum_format);
            }
        }
    }
    let routines: Vec<Value> = listing
        .routines
        .iter()
        .map(|r| {
            json!({
                "function": r.function,
                "file": r.file,
                "flat_label": r.flat_format,
                "cum_label": r.cum_format,
                "cum_pct": units::percentage(r.cum, listing.total).trim(),
                "missing": r.missing,
                "lines": r.lines.iter().map(|l| {
                    let base = loaded.base.as_ref().map(|_| {
                        base_lines.get(&(r.function.clone(), r.file.clone(), l.lineno)).map_or(".", String::as_str)
                    });
                    json!([l.lineno, l.flat_format, l.cum_format, l.text, l.flat != 0 || l.cum != 0, base])
                }).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(
        json!({ "total_label": listing.total_format, "routines": routines, "warnings": warnings, "has_base": loaded.base.is_some() }),
    )
}

/// `/api/graph`: the call graph's nodes (`sonde tree`'s entries, trimmed to
/// `nodecount`, 30 unless set) and the edges among them, for the page's
/// layered layout.
fn graph(state: &State, loaded: &Loaded, req: &Request) -> Result<Value, String> {
    let mut cfg = req.cfg.clone();
    if cfg.nodecount.is_none() {
        cfg.nodecount = Some(30);
    }
    let (mut rpt, warnings) = prepared(&loaded.profile, &Command::Tree, &cfg)?;
    let tree = with_env(&state.source_roots, |env| rpt.tree(None, env)).map_err(|e| e.to_string())?;
    let total = tree.total;
    let index: HashMap<&str, usize> = tree
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.name.as_str(), i))
        .collect();
    let nodes: Vec<Value> = tree
        .entries
        .iter()
        .map(|e| {
            json!({
                "name": e.name,
                "flat_label": e.flat_format,
                "cum_label": e.cum_format,
                "flat_pct": units::percentage(e.flat, total).trim(),
                "cum_pct": units::percentage(e.cum, total).trim(),
                "flat": e.flat,
                "cum": e.cum,
            })
        })
        .collect();
    let mut edges = Vec::new();
    for (i, e) in tree.entries.iter().enumerate() {
        for c in &e.callees {
            if let Some(&j) = index.get(c.name.as_str()) {
                edges.push(json!([i, j, c.weight, c.weight_format, c.inline]));
            }
        }
    }
    Ok(json!({ "labels": tree.labels, "total": total, "nodes": nodes, "edges": edges, "warnings": warnings }))
}

/// `/api/labels`: each label key's values with their totals (`sonde tags`).
fn labels(_state: &State, loaded: &Loaded, req: &Request) -> Result<Value, String> {
    let (rpt, warnings) = prepared(&loaded.profile, &Command::Tags, &req.cfg)?;
    let unit = rpt.sample_type().unit.to_string();
    let keys: Vec<Value> = rpt
        .tags()
        .into_iter()
        .map(|k| {
            json!({
                "key": k.key,
                "total_label": units::scaled_label(k.total, &unit, "minimum"),
                "numeric": k.numeric,
                "values": k.values.iter().map(|(v, n)| json!([v, units::scaled_label(*n, &unit, "minimum"), units::percentage(*n, k.total).trim()])).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(json!({ "keys": keys, "total_label": units::scaled_label(rpt.total(), &unit, "minimum"), "warnings": warnings }))
}

/// `/api/timeline`: the store's profiles of the kind shown (start, end,
/// total of the first sample type), for the page's timeline, and the window
/// the command line chose. Empty without `--store`.
async fn timeline(AxState(state): AxState<Shared>) -> Response {
    let r = tokio::task::spawn_blocking(move || -> Result<Value, String> {
        let store = &state.sources.store;
        let Some(dir) = &store.store else {
            return Ok(json!({ "entries": [] }));
        };
        let entries = crate::store::list(dir).map_err(|e| format!("{e:#}"))?;
        let kind = store.kind.as_deref().map(crate::store::store_kind);
        let now = sonde_profile::store::now_nanos();
        let time = |s: &Option<String>| s.as_deref().and_then(|s| crate::store::parse_time(s, now).ok());
        let list: Vec<Value> = entries
            .iter()
            .filter(|e| kind.is_none_or(|k| e.kind == k))
            .map(|e| {
                let (ty, unit, total) = e.totals.first().cloned().unwrap_or_default();
                json!({
                    "file": e.file, "kind": e.kind, "start": e.start_nanos, "end": e.end_nanos,
                    "snapshot": e.snapshot, "total": total, "total_label": units::scaled_label(total, &unit, "minimum"),
                    "type": ty,
                })
            })
            .collect();
        Ok(json!({
            "entries": list,
            "window": [time(&store.from), time(&store.to)],
            "base": [time(&store.base_from), time(&store.base_to)],
        }))
    })
    .await
    .unwrap_or_else(|e| Err(format!("internal error: {e}")));
    reply(r)
}

/// `POST /api/refresh`: loads the sources again (a URL is fetched again:
/// `?seconds=N` collects a new CPU profile) and answers with the new meta.
async fn refresh(AxState(state): AxState<Shared>) -> Response {
    {
        let mut busy = state.refreshing.lock().unwrap_or_else(|e| e.into_inner());
        if *busy {
            return reply(Err("a refresh is already running; wait for it".into()));
        }
        *busy = true;
    }
    let s = Arc::clone(&state);
    let r = tokio::task::spawn_blocking(move || {
        let r = super::load(&s.sources);
        *s.refreshing.lock().unwrap_or_else(|e| e.into_inner()) = false;
        r
    })
    .await;
    match r {
        Ok(Ok(l)) => {
            *state.loaded.lock().unwrap_or_else(|e| e.into_inner()) = Ok(Arc::new(l));
            state.generation.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            *state.flame_cache.lock().unwrap_or_else(|e| e.into_inner()) = None;
            *state.window_cache.lock().unwrap_or_else(|e| e.into_inner()) = None;
            reply(Ok(meta_json(&state, &Default::default())))
        }
        Ok(Err(e)) => reply(Err(format!("{e:#}"))),
        Err(e) => {
            *state.refreshing.lock().unwrap_or_else(|e| e.into_inner()) = false;
            reply(Err(format!("internal error: {e}")))
        }
    }
}
