//! Profiles from URLs, as `go tool pprof http://host:port/path` fetches them:
//! the same URL rules (no path means `/debug/pprof/profile`; `--seconds`
//! sets the `seconds` parameter; the timeout is 1.5 times the duration, at
//! least the duration and 10 s, or 60 s without one), the same error texts (`server response: 500 Internal Server Error -
//! Could not enable CPU profiling: …` when the server marks its text with
//! `X-Go-Pprof`), and the same saved copy (`$PPROF_TMPDIR`, else
//! `$HOME/pprof`, as `pprof.<program>.<types>.NNN.pb.gz`, or `--save-dir`).
//! Against sonde's servers and Go's alike.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use sonde_profile::Profile;

/// How profiles are fetched from URLs.
#[derive(Args, Clone, Debug, Default)]
pub struct FetchArgs {
    /// For a URL: how long the server collects (its `seconds` parameter), e.g. 30 for a CPU profile.
    #[arg(long, value_name = "N", help_heading = "Fetching")]
    pub seconds: Option<u64>,
    /// For a URL: give up after this many seconds (default 1.5 times the duration and at least 10 more, or 60).
    #[arg(long, value_name = "N", help_heading = "Fetching")]
    pub timeout: Option<u64>,
    /// Where to save a copy of each fetched profile (default $PPROF_TMPDIR, else $HOME/pprof).
    #[arg(long = "save-dir", value_name = "DIR", help_heading = "Fetching")]
    pub save_dir: Option<PathBuf>,
    /// Send `Authorization: Bearer TOKEN` (servers started with sonde::http's token).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "SONDE_TOKEN",
        hide_env_values = true,
        help_heading = "Fetching"
    )]
    pub token: Option<String>,
}

/// Whether `source` names a profile over HTTP: `http://…`, `https://…`, or
/// `host:port[/path]` (pprof adds `http://`) when no such file exists.
pub fn is_url(source: &str) -> bool {
    if source.starts_with("http://") || source.starts_with("https://") {
        return true;
    }
    if Path::new(source).exists() {
        return false;
    }
    let host_port = source.split(['/', '?', '#']).next().unwrap_or("");
    match host_port.rsplit_once(':') {
        Some((host, port)) => !host.is_empty() && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

/// The longest duration or timeout sonde accepts: a day, in seconds.
const MAX_SECONDS: u64 = 86_400;

/// The URL to fetch and its timeout, by pprof's rules (`adjustURL`).
pub fn adjust(source: &str, args: &FetchArgs) -> Result<(String, Duration, Option<u64>)> {
    let with_scheme = if source.starts_with("http://") || source.starts_with("https://") {
        source.to_string()
    } else {
        format!("http://{source}")
    };
    let (scheme, rest) = with_scheme.split_once("://").unwrap_or(("http", &with_scheme));
    let rest = rest.split('#').next().unwrap_or(rest);
    // The host ends where the path or the query starts.
    let (host, path_query) = match rest.find(['/', '?']) {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let host_only = host.rsplit('@').next().unwrap_or(host);
    if host_only.is_empty() {
        bail!("{source}: no host in the URL");
    }
    let port = match host_only.strip_prefix('[') {
        Some(v6) => v6.split_once("]:").map(|(_, p)| p),
        None => host_only.rsplit_once(':').map(|(_, p)| p),
    };
    if let Some(port) = port.filter(|p| p.parse::<u16>().is_err()) {
        bail!("{source}: {port:?} is not a port (a number from 1 to 65535)");
    }
    let (path, query) = path_query.split_once('?').unwrap_or((path_query, ""));
    let path = if path.is_empty() || path == "/" {
        "/debug/pprof/profile"
    } else {
        path
    };
    let mut params: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), v.to_string())
        })
        .collect();
    let seconds = match args.seconds {
        // As pprof: a duration of 0 leaves the URL's as it is.
        Some(n) if n > 0 => {
            params.retain(|(k, _)| k != "seconds");
            params.push(("seconds".into(), n.to_string()));
            Some(n)
        }
        _ => params
            .iter()
            .find(|(k, _)| k == "seconds")
            .and_then(|(_, v)| v.parse().ok()),
    };
    if let Some(s) = seconds.filter(|&s| s > MAX_SECONDS) {
        bail!("{source}: a profile of {s} seconds is longer than sonde waits for (at most {MAX_SECONDS}, a day)");
    }
    if let Some(t) = args.timeout.filter(|&t| t > MAX_SECONDS) {
        bail!("--timeout {t}: at most {MAX_SECONDS} seconds (a day)");
    }
    let timeout = match (args.timeout.filter(|&t| t > 0), seconds) {
        (Some(t), _) => Duration::from_secs(t),
        // pprof's 1.5 times the duration, but at least 10 s more than it: a
        // 1 s profile from a busy server takes longer than 1.5 s.
        (None, Some(s)) if s > 0 => {
            let d = Duration::from_secs(s);
            d + (d / 2).max(Duration::from_secs(10))
        }
        _ => Duration::from_secs(60),
    };
    // pprof sorts the parameters (Go's url.Values.Encode); so do we.
    params.sort();
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| if v.is_empty() { k.clone() } else { format!("{k}={v}") })
        .collect();
    let url = if query.is_empty() {
        format!("{scheme}://{host}{path}")
    } else {
        format!("{scheme}://{host}{path}?{}", query.join("&"))
    };
    Ok((url, timeout, seconds))
}

/// Fetches the bytes at `source` (a URL, see [`is_url`]), with a countdown on
/// a terminal while the server collects.
pub fn fetch(source: &str, args: &FetchArgs, max_size: u64) -> Result<Vec<u8>> {
    let (url, timeout, seconds) = adjust(source, args)?;
    if let Some(token) = &args.token {
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            bail!("--token: a bearer token is printable ASCII without spaces");
        }
    }
    eprintln!("Fetching profile over HTTP from {url}");
    let countdown = seconds.filter(|&s| s > 0 && std::io::stderr().is_terminal()).map(|s| {
        let bar = indicatif::ProgressBar::new(s);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(250));
        let ticker = bar.clone();
        std::thread::spawn(move || {
            for left in (0..=s).rev() {
                if ticker.is_finished() {
                    return;
                }
                ticker.set_position(s - left);
                ticker.set_message(format!("the server collects for {left}s more"));
                std::thread::sleep(Duration::from_secs(1));
            }
            ticker.set_message("waiting for the profile");
        });
        bar
    });
    let result = get(&url, timeout, args.token.as_deref(), max_size);
    if let Some(bar) = countdown {
        bar.finish_and_clear();
    }
    result
}

/// GETs `url` with sonde's HTTP client (`sonde fetch`, `sonde demo`): the body, or an
/// error naming the URL and what to do (a longer --timeout, http for https).
pub(crate) fn get(url: &str, timeout: Duration, token: Option<&str>, max_size: u64) -> Result<Vec<u8>> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into();
    let mut req = agent.get(url);
    if let Some(token) = token {
        req = req.header("Authorization", &format!("Bearer {token}"));
    }
    let mut resp = req.call().map_err(|e| match e {
        ureq::Error::Timeout(_) => anyhow!(
            "fetching {url}: no complete answer within {}s; for a longer profile raise --timeout",
            timeout.as_secs()
        ),
        e if url.starts_with("https://") && e.to_string().contains("InvalidContentType") => {
            anyhow!("fetching {url}: the server does not speak TLS (https); for a plain HTTP server use http://")
        }
        e => anyhow!("fetching {url}: {e}"),
    })?;
    let status = resp.status();
    let pprof_text = resp.headers().get("x-go-pprof").is_some()
        && resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/plain"));
    let mut body = Vec::new();
    resp.body_mut()
        .as_reader()
        .take(max_size.saturating_add(1))
        .read_to_end(&mut body)
        .with_context(|| format!("fetching {url}: reading the answer"))?;
    if body.len() as u64 > max_size {
        bail!(
            "fetching {url}: the server sent more than {max_size} bytes, the limit; raise it with --max-size if the profile is genuinely this large"
        );
    }
    if !status.is_success() {
        let reason = status.canonical_reason().unwrap_or("");
        let status = format!("{} {reason}", status.as_u16());
        if pprof_text {
            bail!(
                "fetching {url}: server response: {} - {}",
                status.trim_end(),
                String::from_utf8_lossy(&body).trim_end()
            );
        }
        bail!("fetching {url}: server response: {}", status.trim_end());
    }
    if body.is_empty() {
        bail!("fetching {url}: the server answered with no bytes (is this a profile endpoint?)");
    }
    Ok(body)
}

/// Names the functions of a fetched profile whose locations have only
/// addresses (Go's `debug=1` text), by asking the server, as pprof does: the
/// addresses are POSTed to the `symbol` endpoint next to the profile's
/// (`/debug/pprof/symbol`), which answers `0xADDR name` per address it knows.
/// Returns how many locations got a name; a server without the endpoint
/// leaves the profile as it is.
pub fn symbolize_remote(p: &mut Profile, source: &str, args: &FetchArgs) -> Result<usize> {
    let missing: Vec<usize> = (0..p.locations.len())
        .filter(|&i| p.locations[i].lines.is_empty() && p.locations[i].address != 0)
        .collect();
    if missing.is_empty() {
        return Ok(0);
    }
    let (url, _, _) = adjust(source, args)?;
    let base = url.split('?').next().unwrap_or(&url);
    let symbol_url = match base.rfind("/debug/pprof/") {
        Some(i) => format!("{}/debug/pprof/symbol", &base[..i]),
        None => return Ok(0),
    };
    let body: Vec<String> = missing
        .iter()
        .map(|&i| format!("{:#x}", p.locations[i].address))
        .collect();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(args.timeout.unwrap_or(60))))
        .build()
        .into();
    let mut req = agent.post(&symbol_url);
    if let Some(token) = &args.token {
        req = req.header("Authorization", &format!("Bearer {token}"));
    }
    let mut resp = match req.send(body.join("+")) {
        Ok(r) => r,
        Err(_) => return Ok(0),
    };
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    let mut names = std::collections::HashMap::new();
    for line in text.lines().skip(1) {
        let Some((addr, name)) = line.split_once(' ') else {
            continue;
        };
        if let Ok(a) = u64::from_str_radix(addr.trim_start_matches("0x"), 16) {
            names.insert(a, name.trim().to_string());
        }
    }
    let mut functions: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    let mut named = 0;
    for i in missing {
        let Some(name) = names.get(&p.locations[i].address) else {
            continue;
        };
        let f = *functions.entry(name.clone()).or_insert_with(|| {
            p.functions.push(sonde_profile::Function {
                name: name.as_str().into(),
                system_name: name.as_str().into(),
                ..Default::default()
            });
            (p.functions.len() - 1) as u32
        });
        p.locations[i].lines.push(sonde_profile::Line {
            function: f,
            line: 0,
            column: 0,
        });
        named += 1;
    }
    Ok(named)
}

/// Saves a fetched profile as pprof does, returning where.
pub fn save(p: &Profile, dir: Option<&Path>) -> Result<PathBuf> {
    let dir = match dir {
        Some(d) => d.to_path_buf(),
        None => default_dir(),
    };
    if dir.exists() && !dir.is_dir() {
        bail!("--save-dir {}: not a directory", dir.display());
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut prefix = String::from("pprof.");
    if let Some(file) = p.main_binary().filter(|f| !f.is_empty()) {
        let base = Path::new(file).file_name().map_or(file.into(), |b| b.to_string_lossy());
        prefix.push_str(&base);
        prefix.push('.');
    }
    for t in &p.sample_types {
        prefix.push_str(&t.ty);
        prefix.push('.');
    }
    for i in 1..10000 {
        let path = dir.join(format!("{prefix}{i:03}.pb.gz"));
        match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(f) => {
                p.write_to(std::io::BufWriter::new(f))
                    .with_context(|| format!("cannot write {}", path.display()))?;
                return Ok(path);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
        }
    }
    bail!("no free name of the form {prefix}NNN.pb.gz in {}", dir.display())
}

/// `$PPROF_TMPDIR`, else `$HOME/pprof`, else the system's temporary directory.
fn default_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("PPROF_TMPDIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(d);
    }
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return PathBuf::from(h).join("pprof");
    }
    std::env::temp_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_adjusted_as_pprof_does() {
        let none = FetchArgs::default();
        let (url, timeout, seconds) = adjust("http://localhost:6060", &none).unwrap();
        assert_eq!(url, "http://localhost:6060/debug/pprof/profile");
        assert_eq!((timeout, seconds), (Duration::from_secs(60), None));
        let (url, timeout, _) = adjust("localhost:6060/debug/pprof/heap", &none).unwrap();
        assert_eq!(url, "http://localhost:6060/debug/pprof/heap");
        assert_eq!(timeout, Duration::from_secs(60));
        let (url, timeout, seconds) = adjust("https://h:1/debug/pprof/profile?seconds=30", &none).unwrap();
        assert_eq!(url, "https://h:1/debug/pprof/profile?seconds=30");
        assert_eq!((timeout, seconds), (Duration::from_secs(45), Some(30)));
        let (_, timeout, _) = adjust("http://h:1/debug/pprof/profile?seconds=2", &none).unwrap();
        assert_eq!(timeout, Duration::from_secs(12), "at least 10 s more than the duration");
        let five = FetchArgs {
            seconds: Some(5),
            ..FetchArgs::default()
        };
        let (url, timeout, _) = adjust("http://h:1/debug/pprof/profile?seconds=30&debug=0", &five).unwrap();
        assert_eq!(url, "http://h:1/debug/pprof/profile?debug=0&seconds=5");
        assert_eq!(timeout, Duration::from_secs(15));
        // A query without a path; a fragment.
        let (url, _, seconds) = adjust("http://h:1?seconds=2#top", &none).unwrap();
        assert_eq!(
            (url.as_str(), seconds),
            ("http://h:1/debug/pprof/profile?seconds=2", Some(2))
        );
        // As pprof: 0 leaves the URL's duration, and a timeout of 0 is the default.
        let zero = FetchArgs {
            seconds: Some(0),
            timeout: Some(0),
            ..FetchArgs::default()
        };
        let (url, timeout, _) = adjust("h:1/debug/pprof/heap", &zero).unwrap();
        assert_eq!(
            (url.as_str(), timeout),
            ("http://h:1/debug/pprof/heap", Duration::from_secs(60))
        );
        // Refused with one line each.
        let huge = FetchArgs {
            seconds: Some(u64::MAX),
            ..FetchArgs::default()
        };
        assert!(adjust("h:1", &huge).unwrap_err().to_string().contains("a day"));
        assert!(adjust("h:1/debug/pprof/profile?seconds=9223372036854775807", &none).is_err());
        assert!(
            adjust("http://h:abc/x", &none)
                .unwrap_err()
                .to_string()
                .contains("not a port")
        );
        assert!(adjust("http://[::1]:6060/debug/pprof/heap", &none).is_ok());
    }

    #[test]
    fn urls_are_told_from_files() {
        assert!(is_url("http://x/debug/pprof/heap"));
        assert!(is_url("https://x"));
        assert!(is_url("localhost:6060"));
        assert!(is_url("10.0.0.1:8080/debug/pprof/heap"));
        assert!(is_url("127.0.0.1:6060?seconds=5"));
        assert!(!is_url("cpu.pb.gz"));
        assert!(!is_url("dir/cpu.pb.gz"));
        assert!(!is_url("C:profile"));
    }
}
