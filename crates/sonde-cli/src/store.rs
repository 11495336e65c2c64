//! The local profile store a sonde agent writes, read from the command line:
//! `sonde store ls DIR`, time windows of it as any command's input (`--store
//! DIR --kind heap --from -1h`, with `--base-from/--base-to` for a base
//! window), and `sonde growth`. The store itself is `sonde_profile::store`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use sonde_profile::store::{self, Entry, Window, rfc3339};
use sonde_profile::{Profile, ReadOptions, units};

use crate::options::SettingFlags;

/// A store and windows of it, as input of an analysis command.
#[derive(Args, Clone, Debug, Default)]
pub struct StoreArgs {
    /// Read profiles from a sonde agent's store (a directory) instead of files.
    #[arg(long, value_name = "DIR", help_heading = "Store")]
    pub store: Option<PathBuf>,
    /// The kind to read from the store: cpu, heap, allocs, goroutine, tasks, mutex, block, wall.
    #[arg(long, value_name = "KIND", requires = "store", help_heading = "Store")]
    pub kind: Option<String>,
    /// The window's start: RFC 3339 (2026-11-30T14:00:00Z), a local time (2026-11-30 14:00), or relative to now (-2h, -90m, -30s, -1d); default: the first.
    #[arg(
        long,
        value_name = "TIME",
        requires = "store",
        allow_hyphen_values = true,
        help_heading = "Store"
    )]
    pub from: Option<String>,
    /// The window's end, as --from; default: the last.
    #[arg(
        long,
        value_name = "TIME",
        requires = "store",
        allow_hyphen_values = true,
        help_heading = "Store"
    )]
    pub to: Option<String>,
    /// A base window's start, subtracted from the window as --base subtracts a profile (e.g. --base-from -24h --base-to -23h).
    #[arg(
        long = "base-from",
        value_name = "TIME",
        requires = "store",
        allow_hyphen_values = true,
        help_heading = "Store"
    )]
    pub base_from: Option<String>,
    /// The base window's end; default: the window's start.
    #[arg(
        long = "base-to",
        value_name = "TIME",
        requires = "store",
        allow_hyphen_values = true,
        help_heading = "Store"
    )]
    pub base_to: Option<String>,
}

/// Parses a time as the store flags take it, into ns since the epoch:
/// `now`, relative (`-2h`, `-1h30m`, `-45s`, `-1d`, `+5m`), RFC 3339, or a
/// civil time (`2026-11-30 14:00`, `2026-11-30T14:00:00`) in the local zone.
pub fn parse_time(s: &str, now: i64) -> Result<i64> {
    let t = s.trim();
    if t == "now" {
        return Ok(now);
    }
    if let Some(rel) = t.strip_prefix('-').or_else(|| t.strip_prefix('+')) {
        let nanos = relative_nanos(rel).ok_or_else(|| {
            anyhow!("{s:?} is not a time (or too far); relative times look like -2h, -90m, -1h30m or -1d")
        })?;
        return Ok(if t.starts_with('-') {
            now.saturating_sub(nanos)
        } else {
            now.saturating_add(nanos)
        });
    }
    if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        return in_range(ts.as_nanosecond(), s);
    }
    if let Ok(dt) = t.parse::<jiff::civil::DateTime>() {
        let z = dt
            .to_zoned_datetime(jiff::tz::TimeZone::system())
            .with_context(|| format!("{s:?} does not exist in the local time zone"))?;
        return in_range(z.timestamp().as_nanosecond(), s);
    }
    bail!(
        "{s:?} is not a time; use RFC 3339 (2026-11-30T14:00:00Z), a local date and time (2026-11-30 14:00), or a \
         time relative to now (-2h, -90m, -30s, -1d)"
    )
}

/// A time in ns since the epoch, if a profile can have it (1677 to 2262).
fn in_range(nanos: i128, s: &str) -> Result<i64> {
    i64::try_from(nanos).map_err(|_| anyhow!("{s:?} is outside the times profiles hold (years 1678 to 2261)"))
}

/// `1h30m`, `90s`, `1d`, `250ms` in ns; `None` when it is not such a span.
fn relative_nanos(s: &str) -> Option<i64> {
    let mut total: i64 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit())?;
        let n: i64 = rest[..digits].parse().ok()?;
        let unit_len = rest[digits..]
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len() - digits);
        let unit: i64 = match &rest[digits..digits + unit_len] {
            "d" => 86_400_000_000_000,
            "h" => 3_600_000_000_000,
            "m" => 60_000_000_000,
            "s" => 1_000_000_000,
            "ms" => 1_000_000,
            _ => return None,
        };
        total = total.checked_add(n.checked_mul(unit)?)?;
        rest = &rest[digits + unit_len..];
    }
    (!s.is_empty()).then_some(total)
}

/// The kind's name in a store: `profile` is stored as `cpu`, as the seed's
/// `cpu_*.prof`.
pub fn store_kind(kind: &str) -> &str {
    match kind {
        "profile" => "cpu",
        k => k,
    }
}

impl StoreArgs {
    /// The window the flags describe (`base`: the base window), or `None`
    /// when no base window was asked for.
    fn window(&self, entries: &[Entry], base: bool) -> Result<Option<Window>> {
        let dir = self.store.as_deref().unwrap_or(Path::new("."));
        let kind = match &self.kind {
            Some(k) => store_kind(k).to_string(),
            None => {
                let mut kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
                kinds.sort_unstable();
                kinds.dedup();
                match kinds.as_slice() {
                    [] => bail!("the store {} holds no profiles yet", dir.display()),
                    [one] => one.to_string(),
                    _ => bail!(
                        "--store {} holds several kinds ({}); choose one with --kind",
                        dir.display(),
                        kinds.join(", ")
                    ),
                }
            }
        };
        let now = store::now_nanos();
        let time = |s: &Option<String>, flag: &str| -> Result<Option<i64>> {
            s.as_deref()
                .map(|s| parse_time(s, now).with_context(|| format!("--{flag}")))
                .transpose()
        };
        let from = time(&self.from, "from")?;
        if base {
            if self.base_from.is_none() && self.base_to.is_none() {
                return Ok(None);
            }
            let base_to = time(&self.base_to, "base-to")?.or(from.map(|f| f - 1));
            let base_from = time(&self.base_from, "base-from")?;
            if base_from.zip(base_to).is_some_and(|(f, t)| f > t) {
                let (f, t) = (base_from.unwrap_or_default(), base_to.unwrap_or_default());
                bail!(
                    "the base window starts ({}) after it ends ({}); check --base-from, --base-to and --from",
                    rfc3339(f),
                    rfc3339(t)
                );
            }
            return Ok(Some(Window {
                kind,
                from: base_from,
                to: base_to,
            }));
        }
        let to = time(&self.to, "to")?;
        if let (Some(f), Some(t)) = (from, to) {
            if f > t {
                bail!("--from ({}) is after --to ({}); swap them", rfc3339(f), rfc3339(t));
            }
        }
        Ok(Some(Window { kind, from, to }))
    }

    /// The window's profile and, when a base window was asked for, the
    /// base's. Notes on what was read go to standard error.
    pub fn load(&self, max_size: u64) -> Result<(Profile, Option<Profile>)> {
        let dir = self.store.as_deref().ok_or_else(|| anyhow!("no --store given"))?;
        let entries = list(dir)?;
        let opts = ReadOptions { max_size };
        let window = self.window(&entries, false)?.expect("a window");
        let (p, note) = store::load_window(dir, &entries, &window, &opts)?;
        eprintln!("sonde: {note}");
        let base = match self.window(&entries, true)? {
            Some(w) => {
                let files = |w: &Window| {
                    let chosen = store::select(&entries, w);
                    match chosen.last() {
                        Some(last) if last.snapshot => vec![last.file.clone()],
                        _ => chosen.iter().map(|e| e.file.clone()).collect(),
                    }
                };
                if files(&w) == files(&window) {
                    bail!(
                        "the base window and the window read the same profile(s) ({}); end the base earlier (--base-to) \
                         or start the window later (--from)",
                        files(&w).join(", ")
                    );
                }
                let (b, note) = store::load_window(dir, &entries, &w, &opts).context(
                    "the base window (--base-from/--base-to; it ends where --from starts unless --base-to is given)",
                )?;
                eprintln!("sonde: base: {note}");
                Some(b)
            }
            None => None,
        };
        Ok((p, base))
    }
}

/// `sonde store ls`'s arguments.
#[derive(Args, Debug)]
pub struct LsArgs {
    /// The store's directory.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Only this kind.
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,
    /// Only profiles that ended at or after this time (as --from elsewhere).
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub from: Option<String>,
    /// Only profiles that ended at or before this time.
    #[arg(long, value_name = "TIME", allow_hyphen_values = true)]
    pub to: Option<String>,
    /// One line per profile (time, kind, size, its last sample type's total, labels) instead of one per kind.
    #[arg(short, long)]
    pub long: bool,
    /// The index entries as JSON, one object per line.
    #[arg(long)]
    pub json: bool,
}

/// The store's entries; what a reader should know about the store (index
/// lines that could not be read, files it does not name) goes to standard
/// error.
pub fn list(dir: &Path) -> Result<Vec<Entry>> {
    let (entries, warnings) = store::list_checked(dir)?;
    for w in warnings {
        eprintln!("sonde: warning: {w}");
    }
    Ok(entries)
}

/// A label's value for a one-line table: control characters (newlines,
/// tabs, bidirectional overrides) escaped.
fn escaped(s: &str) -> String {
    if s.chars()
        .any(|c| c.is_control() || ('\u{202a}'..='\u{202e}').contains(&c) || ('\u{2066}'..='\u{2069}').contains(&c))
    {
        s.escape_default().to_string()
    } else {
        s.to_string()
    }
}

/// `sonde store ls DIR`.
pub fn ls(a: &LsArgs) -> Result<String> {
    let now = store::now_nanos();
    let from = a
        .from
        .as_deref()
        .map(|s| parse_time(s, now))
        .transpose()
        .context("--from")?;
    let to =
        a.to.as_deref()
            .map(|s| parse_time(s, now))
            .transpose()
            .context("--to")?;
    let kind = a.kind.as_deref().map(store_kind);
    let all = list(&a.dir)?;
    let entries: Vec<&Entry> = all
        .iter()
        .filter(|e| kind.is_none_or(|k| e.kind == k))
        .filter(|e| from.is_none_or(|f| e.end_nanos >= f) && to.is_none_or(|t| e.end_nanos <= t))
        .collect();
    let mut out = String::new();
    if a.json {
        for e in &entries {
            let totals: Vec<_> = e.totals.iter().map(|(t, u, v)| serde_json::json!([t, u, v])).collect();
            out.push_str(
                &serde_json::json!({
                    "file": e.file, "kind": e.kind, "start": rfc3339(e.start_nanos), "end": rfc3339(e.end_nanos),
                    "start_nanos": e.start_nanos, "end_nanos": e.end_nanos, "snapshot": e.snapshot,
                    "bytes": e.bytes, "labels": e.labels, "totals": totals,
                })
                .to_string(),
            );
            out.push('\n');
        }
        return Ok(out);
    }
    if entries.is_empty() {
        let mut kinds: Vec<&str> = all.iter().map(|e| e.kind.as_str()).collect();
        kinds.sort_unstable();
        kinds.dedup();
        out.push_str(&match kinds.is_empty() {
            true => format!("{}: no profiles\n", a.dir.display()),
            false => format!(
                "{}: no profiles match; it holds {} profiles of kinds {}, {} to {}\n",
                a.dir.display(),
                all.len(),
                kinds.join(", "),
                rfc3339(all[0].end_nanos),
                rfc3339(all[all.len() - 1].end_nanos)
            ),
        });
        return Ok(out);
    }
    if a.long {
        out.push_str(&format!(
            "{:<20} {:<10} {:>9} {:>24}  {:<32} labels\n",
            "end (UTC)", "kind", "size", "total", "file"
        ));
        for e in &entries {
            let total = e
                .totals
                .last()
                .map_or(String::new(), |(t, u, v)| format!("{} {t}", units::label(*v, u)));
            let labels: Vec<String> = e
                .labels
                .iter()
                .map(|(k, v)| format!("{}={}", escaped(k), escaped(v)))
                .collect();
            out.push_str(&format!(
                "{:<20} {:<10} {:>9} {:>24}  {:<32} {}\n",
                rfc3339(e.end_nanos),
                e.kind,
                units::label(i64::try_from(e.bytes).unwrap_or(i64::MAX), "bytes"),
                total,
                e.file,
                labels.join(",")
            ));
        }
        return Ok(out);
    }
    let mut kinds: Vec<&str> = entries.iter().map(|e| e.kind.as_str()).collect();
    kinds.sort_unstable();
    kinds.dedup();
    out.push_str(&format!(
        "{:<10} {:>8} {:<20}   {:<20} {:>9}\n",
        "kind", "profiles", "first (UTC)", "last (UTC)", "size"
    ));
    let (mut n, mut bytes) = (0, 0u64);
    for k in kinds {
        let of: Vec<&Entry> = entries.iter().copied().filter(|e| e.kind == k).collect();
        let size: u64 = of.iter().map(|e| e.bytes).sum();
        n += of.len();
        bytes += size;
        out.push_str(&format!(
            "{:<10} {:>8} {:<20} - {:<20} {:>9}\n",
            k,
            of.len(),
            rfc3339(of[0].end_nanos),
            rfc3339(of[of.len() - 1].end_nanos),
            units::label(i64::try_from(size).unwrap_or(i64::MAX), "bytes")
        ));
    }
    out.push_str(&format!(
        "{:<10} {:>8} {:<43} {:>9}\n",
        "total",
        n,
        "",
        units::label(i64::try_from(bytes).unwrap_or(i64::MAX), "bytes")
    ));
    Ok(out)
}

/// `sonde growth`'s arguments.
#[derive(Args, Debug)]
pub struct GrowthArgs {
    /// The store and the window to fit (--kind defaults to heap).
    #[command(flatten)]
    pub store: StoreArgs,
    /// The report as JSON.
    #[arg(long)]
    pub json: bool,
    /// The sample type and filters (--sample-index inuse_objects, --focus, ...).
    #[command(flatten)]
    pub settings: SettingFlags,
    /// Refuse profiles whose decompressed size exceeds this (bytes; K, M, G suffixes accepted).
    #[arg(long = "max-size", value_name = "SIZE", default_value = "1G", value_parser = crate::options::parse_size)]
    pub max_size: u64,
}

/// `sonde growth --store DIR --kind heap`.
pub fn growth(a: &GrowthArgs) -> Result<String> {
    let dir = a.store.store.as_deref().ok_or_else(|| {
        anyhow!("growth reads a store: sonde growth --store DIR [--kind heap|goroutine|tasks] [--from -24h]")
    })?;
    if a.store.base_from.is_some() || a.store.base_to.is_some() {
        bail!("growth fits every snapshot of the window; --base-from/--base-to are for top, list, peek and flame");
    }
    let entries = list(dir)?;
    let mut args = a.store.clone();
    args.kind.get_or_insert_with(|| "heap".into());
    let window = args.window(&entries, false)?.expect("a window");
    let chosen = store::select(&entries, &window);
    if chosen.is_empty() {
        // The store's own message: what it has instead.
        store::load_window(dir, &entries, &window, &ReadOptions::default())?;
    }
    if chosen.iter().any(|e| !e.snapshot) {
        bail!(
            "{} profiles are periods (CPU windows, deltas), not snapshots; growth fits snapshots: heap, goroutine, tasks",
            window.kind
        );
    }
    // One run of the program: a restart empties the heap, and a fit across
    // it finds nothing. The agent's store labels each profile with its
    // process; the last run in the window is fitted.
    let mut chosen = chosen;
    if let Some(run) = chosen.last().and_then(|e| e.labels.get("process")).cloned() {
        let all = chosen.len();
        chosen.retain(|e| e.labels.get("process") == Some(&run));
        if chosen.len() < all {
            eprintln!(
                "sonde: growth: the program restarted at {}; fitting its last run ({} snapshots), not the {} before \
                 (--to {} fits an earlier run)",
                rfc3339(chosen[0].end_nanos),
                chosen.len(),
                all - chosen.len(),
                rfc3339(chosen[0].end_nanos - 1_000_000_000)
            );
        }
    }
    let opts = ReadOptions { max_size: a.max_size };
    let snapshots = chosen
        .iter()
        .map(|e| {
            let path = dir.join(&e.file);
            let data = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            let p = Profile::parse_with(&data, &opts).with_context(|| path.display().to_string())?;
            Ok((e.end_nanos, crate::load::as_pprof_reads(p)?))
        })
        .collect::<Result<Vec<_>>>()?;
    let cfg = a.settings.config()?;
    let g = sonde_profile::report::growth(snapshots, &cfg)?;
    Ok(if a.json { g.json() + "\n" } else { g.text() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        let now = 1_764_511_200_000_000_000; // 2025-11-30T14:00:00Z
        let h = 3_600_000_000_000;
        assert_eq!(parse_time("now", now).unwrap(), now);
        assert_eq!(parse_time("-2h", now).unwrap(), now - 2 * h);
        assert_eq!(parse_time("-1h30m", now).unwrap(), now - 3 * h / 2);
        assert_eq!(parse_time("-1d", now).unwrap(), now - 24 * h);
        assert_eq!(parse_time("+5m", now).unwrap(), now + h / 12);
        assert_eq!(parse_time("2025-11-30T14:00:00Z", 0).unwrap(), now);
        assert_eq!(parse_time("2025-11-30T15:00:00+01:00", 0).unwrap(), now);
        assert!(parse_time("2025-11-30 14:00", 0).is_ok());
        let e = parse_time("yesterday", now).unwrap_err().to_string();
        assert!(e.contains("RFC 3339"), "{e}");
        let e = parse_time("-2x", now).unwrap_err().to_string();
        assert!(e.contains("-90m"), "{e}");
    }
}
