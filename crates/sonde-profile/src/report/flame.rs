//! Flame graphs as SVG (feature `flame`), drawn by inferno from folded
//! stacks; with a base, a differential flame graph (red grew, blue shrank).
//! `sonde flame` and the `/debug/pprof/flamegraph` endpoint both draw here.

use std::collections::BTreeMap;
use std::io::Write;

use inferno::flamegraph::{self, Options};

use super::{Command, Config};
use crate::{Error, Profile, Result};

/// Folded stacks with the kind and unit of the value they carry.
struct Folded {
    stacks: Vec<(String, i64)>,
    ty: String,
    unit: String,
    warnings: Vec<String>,
}

/// The folded stacks of `p` after the filters of `cfg`, from the prepared
/// profile every report starts from.
fn folded(p: Profile, cfg: &Config) -> Result<Folded> {
    let (prepared, warnings) = super::prepare(p, &Command::Folded, cfg)?;
    let st = prepared.sample_type();
    Ok(Folded {
        ty: st.ty.to_string(),
        unit: st.unit.to_string(),
        stacks: prepared.folded_stacks(),
        warnings,
    })
}

/// Writes the flame graph of `p` (or, with `base`, of the change from `base` to
/// `p`) as SVG, after the filters and sample index of `cfg`. Returns warnings
/// for the user (stacks left out).
///
/// # Errors
/// What [`prepare`](super::prepare) refuses (a sample index the profile does
/// not have, a bad regular expression), [`Error::NoMatches`] when no sample is
/// left to draw, and [`Error::Io`] when writing fails.
pub fn write_flame(
    p: Profile,
    base: Option<Profile>,
    cfg: &Config,
    title: &str,
    out: impl Write,
) -> Result<Vec<String>> {
    let Folded {
        stacks,
        ty,
        unit,
        mut warnings,
    } = folded(p, cfg)?;
    let mut opts = Options::default();
    opts.title = format!("{title} ({ty})");
    opts.count_name = match unit.as_str() {
        "count" => ty.clone(),
        u => u.to_string(),
    };
    opts.hash = true;
    let mut lines = Vec::new();
    match base {
        None => {
            let negative = stacks.iter().filter(|(_, v)| *v < 0).count();
            if negative > 0 {
                warnings.push(format!(
                    "{negative} stacks with negative values were left out of the flame graph; for a change between two profiles use --base"
                ));
            }
            for (s, v) in stacks.iter().filter(|(_, v)| *v > 0) {
                lines.push(format!("{s} {v}"));
            }
        }
        Some(base) => {
            let base = folded(base, cfg)?;
            warnings.extend(base.warnings);
            let mut both: BTreeMap<String, (i64, i64)> = BTreeMap::new();
            for (s, v) in base.stacks {
                both.entry(s).or_default().0 = v.max(0);
            }
            for (s, v) in stacks {
                both.entry(s).or_default().1 = v.max(0);
            }
            opts.subtitle = Some("differential: red grew, blue shrank (widths are the new profile)".into());
            for (s, (b, n)) in both {
                lines.push(format!("{s} {b} {n}"));
            }
        }
    }
    if lines.is_empty() {
        return Err(Error::NoMatches(
            "no samples left to draw (check focus/ignore and the sample index)".into(),
        ));
    }
    flamegraph::from_lines(&mut opts, lines.iter().map(String::as_str), out).map_err(|error| Error::Write {
        what: "the flame graph",
        error,
    })?;
    Ok(warnings)
}
