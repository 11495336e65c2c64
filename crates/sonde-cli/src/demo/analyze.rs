//! Reading a case's profiles back as `sonde top` does: the same decoder, the
//! same `report::prepare` and the same rows, so the demo's verdicts are what
//! the user sees when they run the printed commands.

use std::path::Path;

use anyhow::{Context, Result};
use sonde_profile::Profile;
use sonde_profile::report::{self, Command, Config, Env, Prepared, Top, TopRow};

use crate::options::with_env;

/// Reads a profile file sonde wrote.
pub fn read(path: &Path) -> Result<Profile> {
    let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Profile::parse(&data).with_context(|| format!("decoding {}", path.display()))
}

/// Writes `p` to `path` (gzip-compressed protobuf, as Go writes).
pub fn write(p: &Profile, path: &Path) -> Result<()> {
    p.write_file(path)
        .with_context(|| format!("writing {}", path.display()))
}

/// `p` prepared for `cmd`'s report with `cfg`, handed to `f` with this
/// process's report environment: the step every report of the demo shares.
fn with_report<T>(
    p: Profile,
    cmd: &Command,
    cfg: &Config,
    f: impl FnOnce(&mut Prepared, &Env) -> Result<T>,
) -> Result<T> {
    with_env(|env| {
        let (mut prepared, _) = report::prepare(p, cmd, cfg)?;
        f(&mut prepared, env)
    })
}

/// `sonde top FILE` with the settings `set` makes (`--sample-index`, `--cum`, …).
pub fn top(path: &Path, set: impl FnOnce(&mut Config)) -> Result<Top> {
    top_of(read(path)?, set)
}

/// `sonde top --base BASE NEW`: `new` with `base` subtracted, as `--base`
/// combines them.
pub fn top_against(new: &Path, base: &Path, set: impl FnOnce(&mut Config)) -> Result<Top> {
    let diff = read(new)?
        .subtract(read(base)?)
        .with_context(|| format!("subtracting {} from {}", base.display(), new.display()))?;
    top_of(crate::load::as_pprof_reads(diff)?, set)
}

/// [`top`] of a profile in memory.
pub fn top_of(p: Profile, set: impl FnOnce(&mut Config)) -> Result<Top> {
    let mut cfg = Config {
        nodecount: Some(500),
        ..Config::default()
    };
    set(&mut cfg);
    with_report(p, &Command::Top, &cfg, |prepared, env| Ok(prepared.top(env)))
}

/// The first row as pprof prints it: `flat flat% cum cum% name`.
pub fn row_text(top: &Top, r: &TopRow) -> String {
    format!(
        "{} {} (flat) {} {} (cum)  {}",
        r.flat_format,
        pct(r.flat, top.total),
        r.cum_format,
        pct(r.cum, top.total),
        r.name
    )
}

/// `value` as a percentage of `total`, as pprof prints it.
pub fn pct(value: i64, total: i64) -> String {
    sonde_profile::units::percentage(value, total).trim().to_string()
}

/// The row of the function `needle` names (`render_page` is
/// `…::render_page`, not `…::render_page::{{closure}}`), else the first row
/// whose name contains it.
pub fn find<'a>(top: &'a Top, needle: &str) -> Option<&'a TopRow> {
    let exact = |r: &&TopRow| r.name == needle || r.name.ends_with(&format!("::{needle}"));
    top.rows
        .iter()
        .find(exact)
        .or_else(|| top.rows.iter().find(|r| r.name.contains(needle)))
}

/// The share of the total (0 to 1) that `needle`'s row holds, flat or cum.
pub fn share(top: &Top, needle: &str, cum: bool) -> f64 {
    find(top, needle).map_or(0.0, |r| {
        if top.total == 0 {
            0.0
        } else {
            (if cum { r.cum } else { r.flat }) as f64 / top.total as f64
        }
    })
}

/// A flame graph of `profile` (against `base`, differential) as SVG, as `sonde flame` draws it.
pub fn flame(profile: &Path, base: Option<&Path>, svg: &Path, title: &str) -> Result<()> {
    let p = read(profile)?;
    let b = base.map(read).transpose()?;
    let f = std::fs::File::create(svg).with_context(|| format!("creating {}", svg.display()))?;
    let mut w = std::io::BufWriter::new(f);
    let drawn = report::write_flame(p, b, &Config::default(), title, &mut w)
        .map_err(anyhow::Error::from)
        .and_then(|_| Ok(w.into_inner().map_err(|e| e.into_error())?.sync_all()?));
    if drawn.is_err() {
        // No half-written picture left behind.
        let _ = std::fs::remove_file(svg);
    }
    drawn.with_context(|| format!("drawing {}", svg.display()))
}

/// The name a profile shows for a function of a case module (`expensive_operation`
/// of `cases/cpu.rs` is `sonde::demo::cases::cpu::expensive_operation`).
pub fn short(name: &str) -> &str {
    name.strip_prefix("sonde::demo::cases::").unwrap_or(name)
}

/// The distinct values of label `key` on the samples of `path` that have a
/// frame matching `focus`: `sonde tags --focus FOCUS FILE`'s values of `key`.
pub fn label_values(path: &Path, focus: &str, key: &str) -> Result<Vec<String>> {
    let cfg = Config {
        focus: focus.into(),
        ..Config::default()
    };
    with_report(read(path)?, &Command::Tags, &cfg, |prepared, _| {
        Ok(prepared
            .tags()
            .into_iter()
            .find(|t| t.key == key)
            .map(|t| t.values.into_iter().map(|(v, _)| v).collect())
            .unwrap_or_default())
    })
}

/// `sonde peek REGEX FILE`: the callers of the first entry matching `regex`,
/// each with its share (0 to 1) of that entry's cumulative value, heaviest first.
pub fn callers(path: &Path, regex: &str, set: impl FnOnce(&mut Config)) -> Result<Vec<(String, f64)>> {
    let mut cfg = Config::default();
    set(&mut cfg);
    let cmd = Command::Peek(regex.to_string());
    with_report(read(path)?, &cmd, &cfg, |prepared, env| {
        let tree = prepared.tree(Some(regex), env)?;
        Ok(tree
            .entries
            .first()
            .map(|e| {
                e.callers
                    .iter()
                    .map(|c| {
                        (
                            c.name.clone(),
                            if e.cum == 0 {
                                0.0
                            } else {
                                c.weight as f64 / e.cum as f64
                            },
                        )
                    })
                    .collect()
            })
            .unwrap_or_default())
    })
}

/// A time (ns since the epoch) as a `--from`/`--to` argument: RFC 3339 to the
/// nanosecond, so that a window holds exactly one run's profiles.
pub fn time_arg(nanos: i64) -> String {
    jiff::Timestamp::from_nanosecond(i128::from(nanos)).map_or_else(|_| nanos.to_string(), |t| t.to_string())
}

/// `path` as a shell word: as it is when it needs no quoting, else in single
/// quotes (the explore commands are meant to be pasted).
pub fn sh(path: &Path) -> String {
    let s = path.display().to_string();
    if !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/._-+=:,@".contains(&b))
    {
        s
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
