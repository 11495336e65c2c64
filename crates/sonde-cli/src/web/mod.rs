//! `sonde web`: the profile explorer in the browser (`go tool pprof -http`).
//!
//! One page (embedded in the binary: `assets/`) over JSON from
//! `sonde_profile::report`, the same reports `sonde top`, `peek` and `list`
//! print; the page only lays them out. The map of the module:
//!
//! * this file: the command's flags, loading the profile (and its base for a
//!   differential view), binding the address, serving until interrupted;
//! * `api`: the JSON endpoints (`/api/meta`, `flame`, `top`, `peek`,
//!   `source`, `graph`, `labels`, `refresh`) and the embedded assets;
//! * `assets/`: the page (HTML, CSS, JavaScript; no build step).

mod api;

use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use sonde_profile::Profile;
use sonde_profile::report::Config;

use crate::load::{self, Sources};
use crate::options::AnalysisArgs;

/// `sonde web`'s flags.
#[derive(Args, Debug)]
pub struct WebArgs {
    /// The profile, its base and the analyzer settings the page starts with.
    #[command(flatten)]
    pub analysis: AnalysisArgs,

    /// Where to serve: HOST:PORT, or :PORT for 127.0.0.1 (:0 picks a free port).
    /// The page reads profiles and source files: bind another host only on a
    /// network you trust.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub http: String,

    /// Open the page in the system's browser (xdg-open on Linux, open on macOS, explorer on Windows).
    #[arg(long)]
    pub open: bool,
}

/// What the page shows: the profile, and the base of a differential view.
#[derive(Clone)]
pub(crate) struct Loaded {
    /// The profile, as `go tool pprof` reads it.
    pub profile: Profile,
    /// The base (`--base`, `--diff-base` or a store's base window), kept
    /// apart: the page draws the change.
    pub base: Option<Profile>,
    /// The profile minus the base, as `sonde top --base` reports it (the Top
    /// view's rows with a base).
    pub change: Option<Profile>,
    /// One line naming what was loaded.
    pub description: String,
}

/// The server's state, shared by the handlers.
pub(crate) struct State {
    /// The sources, for a refresh (URLs are fetched again).
    pub sources: Sources,
    /// The settings given on the command line; the page's URL adds its own.
    pub config: Config,
    /// The profile, or why it could not be loaded (shown in the page).
    pub loaded: Mutex<Result<Arc<Loaded>, String>>,
    /// The last flame tree built, by the settings it was built with.
    pub flame_cache: Mutex<Option<(String, Arc<sonde_profile::report::FlameTree>)>>,
    /// The directories the Source view may read files under (canonical).
    pub source_roots: Vec<PathBuf>,
    /// A refresh is running.
    pub refreshing: Mutex<bool>,
    /// The last store window the page chose on its timeline, by its times.
    pub window_cache: Mutex<Option<(String, Arc<Loaded>)>>,
    /// Held while a report is computed: one at a time.
    pub work: Mutex<()>,
    /// Counts the loads of the profile (a refresh adds one).
    pub generation: std::sync::atomic::AtomicU64,
}

/// The store-window parameters of the page's URL (`from`, `to`, `bfrom`,
/// `bto`: times as the store flags take them), in that order.
pub(crate) const WINDOW_PARAMS: [&str; 4] = ["from", "to", "bfrom", "bto"];

impl State {
    /// What the page shows for a request: the profile loaded at start, or,
    /// when the URL chose a window of the store (its timeline), that window.
    pub fn loaded_for(&self, window: &[Option<String>; 4]) -> Result<Arc<Loaded>, String> {
        if window.iter().all(Option::is_none) {
            return self.loaded.lock().unwrap_or_else(|e| e.into_inner()).clone();
        }
        if self.sources.store.store.is_none() {
            return Err("from, to, bfrom and bto choose a window of a store: start sonde web with --store DIR".into());
        }
        let key = format!(
            "{} {window:?}",
            self.generation.load(std::sync::atomic::Ordering::SeqCst)
        );
        if let Some((k, l)) = &*self.window_cache.lock().unwrap_or_else(|e| e.into_inner()) {
            if *k == key {
                return Ok(Arc::clone(l));
            }
        }
        let mut sources = self.sources.clone();
        let [from, to, bfrom, bto] = window.clone();
        sources.store.from = from;
        sources.store.to = to;
        sources.store.base_from = bfrom;
        sources.store.base_to = bto;
        let l = Arc::new(load(&sources).map_err(|e| format!("{e:#}"))?);
        *self.window_cache.lock().unwrap_or_else(|e| e.into_inner()) = Some((key, Arc::clone(&l)));
        Ok(l)
    }
}

/// Loads the profile and its base the way the page shows them: the base is
/// kept apart, not subtracted.
pub(crate) fn load(sources: &Sources) -> Result<Loaded> {
    let base_given = !sources.base.is_empty() || !sources.diff_base.is_empty();
    if sources.store.store.is_some() {
        if base_given {
            bail!("--base/--diff-base with --store: give the base as a window (--base-from/--base-to)");
        }
        let (p, base) = sources.store.load(sources.max_size)?;
        let description = format!(
            "{} {}",
            sources
                .store
                .store
                .as_deref()
                .unwrap_or(std::path::Path::new(""))
                .display(),
            sources.store.kind.as_deref().unwrap_or("")
        );
        return with_change(
            load::as_pprof_reads(p)?,
            base.map(load::as_pprof_reads).transpose()?,
            description,
        );
    }
    let mut new = sources.clone();
    new.base.clear();
    new.diff_base.clear();
    let base = if base_given {
        let mut b = sources.clone();
        b.sources = sources.base.iter().chain(&sources.diff_base).cloned().collect();
        b.base.clear();
        b.diff_base.clear();
        Some(b.load().context("loading the base")?)
    } else {
        None
    };
    let mut description = sources.sources.join(" ");
    if base_given {
        description.push_str(&format!(
            " against {}",
            sources
                .base
                .iter()
                .chain(&sources.diff_base)
                .cloned()
                .collect::<Vec<_>>()
                .join(" ")
        ));
    }
    with_change(new.load()?, base, description)
}

/// A [`Loaded`], with the change from the base computed as `sonde top --base`
/// computes it.
fn with_change(profile: Profile, base: Option<Profile>, description: String) -> Result<Loaded> {
    let change = match &base {
        Some(b) => Some(load::as_pprof_reads(
            profile.clone().subtract(b.clone()).context("subtracting the base")?,
        )?),
        None => None,
    };
    Ok(Loaded {
        profile,
        base,
        change,
        description,
    })
}

/// Sources that cannot be served at all (a file or store directory that does
/// not exist): the command stops. A file that does not decode is served, and
/// the page shows why.
fn check_exist(sources: &Sources) -> Result<()> {
    if let Some(dir) = &sources.store.store {
        if !dir.is_dir() {
            bail!("--store {}: no such directory", dir.display());
        }
        if sources.store.kind.is_none() {
            let entries = crate::store::list(dir)?;
            let mut kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
            kinds.sort_unstable();
            kinds.dedup();
            if kinds.len() > 1 {
                bail!(
                    "--store {} holds several kinds ({}); choose one with --kind",
                    dir.display(),
                    kinds.join(", ")
                );
            }
        }
    }
    for s in sources.sources.iter().chain(&sources.base).chain(&sources.diff_base) {
        if !crate::fetch::is_url(s) && !std::path::Path::new(s).exists() {
            bail!("cannot read {s}: no such file");
        }
    }
    Ok(())
}

/// `HOST:PORT` or `:PORT` (127.0.0.1) as a socket address to bind.
fn parse_addr(addr: &str) -> Result<String> {
    if let Some(port) = addr.strip_prefix(':') {
        if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(format!("127.0.0.1:{port}"));
        }
    }
    if addr.matches(':').count() > 1 && !addr.starts_with('[') {
        bail!("--http {addr}: write an IPv6 address in brackets, such as [::1]:8080");
    }
    if !addr.contains(':') {
        bail!("--http {addr}: want HOST:PORT or :PORT, such as 127.0.0.1:8080 or :0");
    }
    Ok(addr.to_string())
}

/// The `Host` values the server answers to: its loopback names with its
/// port; none (any) when it was bound to another address on purpose.
fn allowed_hosts(local: SocketAddr) -> Vec<String> {
    if !local.ip().is_loopback() {
        return Vec::new();
    }
    let port = local.port();
    vec![
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        format!("[::1]:{port}"),
        local.to_string(),
    ]
}

/// Binds `addr`, with an error that names it and says what to do.
fn bind(addr: &str) -> Result<TcpListener> {
    let full = parse_addr(addr)?;
    TcpListener::bind(&full).map_err(|e| match e.kind() {
        std::io::ErrorKind::AddrInUse => anyhow!(
            "cannot serve on {full}: the port is in use by another program; pick another with --http \
             127.0.0.1:PORT, or --http :0 for a free one"
        ),
        std::io::ErrorKind::PermissionDenied => anyhow!(
            "cannot serve on {full}: permission denied (ports below 1024 need privileges); use a port \
             above 1024, or --http :0"
        ),
        _ => anyhow!("cannot serve on {full}: {e}"),
    })
}

/// The directories the Source view may read: `--source-path`'s entries and
/// the current directory, canonical; not the current directory when it is
/// `/` or the home directory (all the user's files).
fn source_roots(cfg: &Config) -> Vec<PathBuf> {
    let mut roots = Vec::new();
    for s in cfg.source_path.split(':').filter(|s| !s.is_empty()) {
        match std::fs::canonicalize(s) {
            Ok(p) if p.is_dir() => roots.push(p),
            _ => eprintln!("sonde: warning: --source-path {s}: not a directory; left out"),
        }
    }
    if let Ok(cwd) = std::env::current_dir().and_then(std::fs::canonicalize) {
        let home = std::env::var_os("HOME").and_then(|h| std::fs::canonicalize(h).ok());
        if cwd.parent().is_none() || home.as_deref() == Some(cwd.as_path()) {
            eprintln!(
                "sonde: note: the Source view does not read under {} (the whole file system or your home \
                 directory); give the sources' directory with --source-path DIR",
                cwd.display()
            );
        } else {
            roots.push(cwd);
        }
    }
    roots
}

/// `sonde web`.
pub fn run(args: WebArgs) -> Result<std::process::ExitCode> {
    let config = args.analysis.config()?;
    let sources = args.analysis.sources();
    check_exist(&sources)?;
    let listener = bind(&args.http)?;
    let local: SocketAddr = listener.local_addr()?;
    let loaded = match load(&sources) {
        Ok(l) => Ok(Arc::new(l)),
        Err(e) => {
            // The page shows it too; Refresh there reads the file again.
            eprintln!(
                "sonde: error: {e:#}\nsonde: serving anyway: the page shows the error, and its Refresh button reads the profile again once fixed"
            );
            Err(format!("{e:#}"))
        }
    };
    let state = Arc::new(State {
        source_roots: source_roots(&config),
        sources,
        config,
        loaded: Mutex::new(loaded),
        flame_cache: Mutex::new(None),
        refreshing: Mutex::new(false),
        window_cache: Mutex::new(None),
        work: Mutex::new(()),
        generation: std::sync::atomic::AtomicU64::new(0),
    });
    api::warm(&state);
    let hosts = allowed_hosts(local);
    if hosts.is_empty() {
        eprintln!(
            "sonde: warning: serving on {local}, beyond this machine: anyone who can reach it can read the profile \
             and the source files under the Source view's directories"
        );
    }
    let url = format!("http://{local}/");
    {
        // A closed standard output (a script read the URL and went) must not
        // stop the server.
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "Serving the web UI on {url}\n(Ctrl-C stops it)");
        let _ = out.flush();
    }
    if args.open {
        open_browser(&url);
    }
    listener.set_nonblocking(true)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the server's runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::from_std(listener)?;
        axum::serve(listener, api::router(state, hosts)).await
    })?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// Opens `url` in the system's browser; says so when it cannot.
fn open_browser(url: &str) {
    let cmd = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(windows) {
        "explorer"
    } else {
        "xdg-open"
    };
    if let Err(e) = std::process::Command::new(cmd)
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        eprintln!("sonde: could not open a browser ({cmd}: {e}); open {url} yourself");
    }
}
