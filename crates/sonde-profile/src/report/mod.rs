//! Reports on a profile: the pipeline from a loaded profile and a [`Config`] to
//! the reports `go tool pprof` prints (top, list, peek, traces, tree, raw, tags)
//! and to exports (folded stacks, Speedscope JSON, a filtered pprof profile).
//!
//! The pipeline follows pprof's driver step by step, because users compare the
//! numbers: choose the sample value, compute the total *before* focusing (so
//! percentages stay relative to the whole profile), apply the filters, aggregate to
//! the requested granularity, build the call graph, trim it, pick the output unit.
//!
//! The map of the module:
//!
//! * `settings`: the one table of analyzer settings ([`SETTINGS`]): names, help,
//!   defaults, parsing and formatting for flags, the shell, URLs.
//! * `config`: [`Config`] (the settings' values) and the report [`Command`]s.
//! * `filters`: [`apply_filters`], the filters of a config in pprof's order.
//! * `prepared`: [`prepare`] makes a [`Prepared`] profile (filtered,
//!   aggregated, value chosen), the step every report starts from.
//! * `rows`: reports as data ([`Top`], [`Tree`], [`Traces`], [`Listing`]).
//! * `labels`: the header lines and the shell's [`greeting`].
//! * `text`: the one text renderer of the rows, as pprof prints them.
//! * `source` (for `list`), `raw`, `export` (folded stacks, Speedscope).
//! * `flame_tree`: [`FlameTree`], the call tree of a profile (and its base)
//!   as the web UI draws it, cut to a width with narrow frames kept as stubs.
//! * `growth`: [`growth`], the sites that grow steadily over a series of
//!   snapshots (`sonde growth`), fitted from the same prepared profiles.
//! * `flame` (feature `flame`): [`write_flame`], flame graphs as SVG.

mod config;
mod export;
mod filters;
#[cfg(feature = "flame")]
mod flame;
mod flame_tree;
mod growth;
mod labels;
mod prepared;
mod raw;
mod rows;
mod settings;
mod source;
mod text;

pub use config::{COMMANDS, Command, CommandInfo, Config};
pub use export::{folded_stacks, speedscope_json};
pub use filters::apply_filters;
#[cfg(feature = "flame")]
pub use flame::write_flame;
pub use flame_tree::{FlameTree, FlameView, NOISE_Z, Widths, flags as flame_flags, package_of};
pub use growth::{Growth, GrowthRow, MIN_SHARE_OF_RISE, STEADY_R2, growth};
pub use labels::{civil_from_days, format_time_utc, greeting};
pub use prepared::{Prepared, resolve_sample_index};
pub use raw::profile_string;
pub use rows::{
    Listing, Routine, SourceLine, TagKey, Top, TopRow, Trace, TraceFrame, Traces, Tree, TreeEdge, TreeEntry,
};
pub use settings::{Group, Kind, SETTINGS, Setting, find as find_setting, find_choice};
pub use source::{SettingSyntax, SourceOpener};

use std::fmt;

use crate::Result;
use crate::aggregate::Granularity;
use crate::model::Profile;
use crate::units;

/// Hooks a report needs from its environment.
pub struct Env<'a> {
    /// Formats a timestamp (ns since the epoch) for the `Time:` header line, in
    /// pprof's layout `Jan 2, 2006 at 3:04pm (MST)`.
    pub format_time: &'a dyn Fn(i64) -> String,
    /// Reads source files for `list`.
    pub open_source: &'a SourceOpener<'a>,
}

/// The result of running a command.
pub enum Output {
    /// Text to print.
    Text(String),
    /// A profile to write (for [`Command::Proto`]).
    Profile(Box<Profile>),
}

impl fmt::Debug for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Output::Text(t) => write!(f, "Text({} bytes)", t.len()),
            Output::Profile(p) => write!(f, "Profile({} samples)", p.samples.len()),
        }
    }
}

/// A report's text or profile, plus warnings to show the user (filters that
/// matched nothing, and the like).
#[derive(Debug)]
pub struct Generated {
    /// The report.
    pub output: Output,
    /// Non-fatal problems, one line each, each said once (`list` names a
    /// missing source file once, however many functions it holds).
    pub warnings: Vec<String>,
}

/// Prepares `p` (which it consumes: filters change it) for `cmd`'s report:
/// the configuration adjusted for the command, the sample value chosen, the
/// total taken, the filters applied, the profile aggregated. Returns the
/// prepared profile and warnings for the user (filters that matched nothing).
///
/// # Errors
/// An invalid profile, an unknown sample type, a bad regex or option.
pub fn prepare(mut p: Profile, cmd: &Command, cfg: &Config) -> Result<(Prepared, Vec<String>)> {
    p.check_valid()?;
    let mut warnings = Vec::new();
    let cfg = command_overrides(cmd, cfg.clone());
    if cfg.relative_percentages {
        apply_filters(&mut p, &cfg, &mut warnings)?;
    }
    let mut rpt = Prepared::new(p, cmd.clone(), cfg)?;
    if !rpt.cfg.relative_percentages {
        apply_filters(&mut rpt.prof, &rpt.cfg, &mut warnings)?;
    }
    if *cmd == Command::Top && !rpt.cfg.user_code && rpt.cfg.granularity == Granularity::Functions {
        // Before aggregation forgets the files that tell user code apart.
        rpt.user_code = Some(rpt.prof.user_code_summary(rpt.value_index));
    }
    rpt.prof.aggregate(rpt.cfg.granularity, !rpt.cfg.noinlines);
    Ok((rpt, warnings))
}

/// Produces `cmd`'s report on `p` (which it consumes: filters change it), as
/// text (or, for [`Command::Proto`], a profile).
///
/// # Errors
/// As [`prepare`]; `peek` and `list` also when their regex matches nothing.
pub fn generate(p: Profile, cmd: &Command, cfg: &Config, env: &Env) -> Result<Generated> {
    let (mut rpt, mut warnings) = prepare(p, cmd, cfg)?;
    let output = match cmd {
        Command::Top => {
            let top = rpt.top(env);
            warnings.extend(user_code_hint(&rpt, &top, env));
            Output::Text(text::top(&top))
        }
        Command::Tree => Output::Text(text::tree(&rpt.tree(None, env)?)),
        Command::Peek(re) => Output::Text(text::tree(&rpt.tree(Some(re), env)?)),
        Command::Traces => Output::Text(text::traces(&rpt.traces(env))),
        Command::Tags => Output::Text(text::tags(&rpt)),
        Command::List(re) => {
            let listing = rpt.list(re, env.open_source)?;
            for missing in listing.routines.iter().filter_map(|r| r.missing.as_ref()) {
                if !warnings.contains(missing) {
                    warnings.push(missing.clone());
                }
            }
            Output::Text(text::list(&listing))
        }
        Command::Raw => Output::Text(raw::raw(&rpt, env)),
        Command::Folded => Output::Text(export::folded(&rpt)),
        Command::Speedscope => Output::Text(export::speedscope(&rpt)),
        Command::Proto => {
            let mut p = rpt.prof;
            if rpt.ratio != 1.0 && rpt.ratio > 0.0 {
                for s in &mut p.samples {
                    for v in &mut s.values {
                        *v = (*v as f64 * rpt.ratio) as i64;
                    }
                }
            }
            Output::Profile(Box::new(p.compact()))
        }
    };
    Ok(Generated { output, warnings })
}

/// How many of `top`'s first rows must all be library code for
/// [`user_code_hint`] to speak.
const HINT_ROWS: usize = 3;

/// A note for a `top` whose first rows are all library code (std, crates, libc,
/// Go's runtime) while the profile has code of the user's own: names the user's
/// function that holds the most with the library code it calls, and the
/// `user_code` setting that charges library time to it. The table itself stays pprof's.
fn user_code_hint(rpt: &Prepared, top: &Top, env: &Env) -> Option<String> {
    if top.rows.is_empty() || rpt.total == 0 {
        return None;
    }
    let user = rpt.user_code.as_ref()?;
    let first = &top.rows[..top.rows.len().min(HINT_ROWS)];
    if first.iter().any(|r| user.names.contains(&r.name)) {
        return None;
    }
    let (name, value) = user.top.clone()?;
    Some(format!(
        "note: the first rows are library code that your functions called; of your own code, \
         {name} holds the most: {} with what it calls. {} charges library time to the function of yours \
         that called it.",
        units::percentage(value, rpt.total).trim(),
        env.open_source.syntax.spell_on("user_code"),
    ))
}

/// Adjusts the configuration the way each report needs it (source listings never
/// trim, exports keep addresses, `top` shows all entries by default).
fn command_overrides(cmd: &Command, mut cfg: Config) -> Config {
    let mut trim = cfg.trim;
    match cmd {
        Command::Peek(_) => trim = false,
        Command::List(_) => {
            trim = false;
            cfg.granularity = Granularity::Lines;
        }
        Command::Top => {
            if cfg.nodecount.is_none() {
                cfg.nodecount = Some(0);
            }
        }
        _ => {
            if cfg.nodecount.is_none() {
                cfg.nodecount = Some(80);
            }
        }
    }
    if cmd.is_export() {
        trim = false;
        cfg.granularity = Granularity::Addresses;
        cfg.noinlines = false;
    }
    if !trim {
        cfg.nodecount = Some(0);
        cfg.nodefraction = 0.0;
        cfg.edgefraction = 0.0;
    }
    cfg
}
