//! Reports on a profile: the pipeline from a loaded profile and a [`Config`] to the
//! text `go tool pprof` prints (top, list, peek, traces, tree, raw, tags) and to
//! exports (folded stacks, Speedscope JSON, a filtered pprof profile).
//!
//! The pipeline follows pprof's driver step by step, because users compare the
//! numbers: choose the sample value, compute the total *before* focusing (so
//! percentages stay relative to the whole profile), apply the filters, aggregate to
//! the requested granularity, build the call graph, trim it, pick the output unit.

mod config;
mod export;
mod raw;
mod source;
mod text;

pub use config::{Command, Config};
pub use export::{folded_stacks, speedscope_json};
pub use source::SourceOpener;

use std::fmt;

use crate::aggregate::Granularity;
use crate::filter::{TagFilter, compile_opt};
use crate::graph::{Graph, GraphOptions, NodeOptions, NodeTable};
use crate::model::{Profile, base_name};
use crate::units;
use crate::{Error, Result};

/// Hooks a report needs from its environment.
pub struct Env<'a> {
    /// Formats a timestamp (ns since the epoch) for the `Time:` header line, in
    /// pprof's layout `Jan 2, 2006 at 3:04pm (MST)`.
    pub format_time: &'a dyn Fn(i64) -> String,
    /// Reads source files for `list`.
    pub open_source: &'a SourceOpener<'a>,
}

/// Formats a timestamp in UTC in pprof's layout; the default for [`Env`].
pub fn format_time_utc(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    let (h, min) = (rem / 3600, (rem % 3600) / 60);
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let (h12, ampm) = match h {
        0 => (12, "am"),
        1..=11 => (h, "am"),
        12 => (12, "pm"),
        _ => (h - 12, "pm"),
    };
    format!("{} {d}, {y} at {h12}:{min:02}{ampm} (UTC)", MONTHS[(m - 1) as usize])
}

/// Converts days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar.
pub fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
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
    /// Non-fatal problems, one line each.
    pub warnings: Vec<String>,
}

/// A profile prepared for one report: value selection, total, output unit.
pub(crate) struct Report {
    prof: Profile,
    total: i64,
    value_index: usize,
    mean: bool,
    sample_type: String,
    sample_unit: String,
    output_unit: String,
    ratio: f64,
    cfg: Config,
    cmd: Command,
}

/// Produces `cmd`'s report on `p` (which it consumes: filters change it).
pub fn generate(mut p: Profile, cmd: &Command, cfg: &Config, env: &Env) -> Result<Generated> {
    p.check_valid()?;
    let mut warnings = Vec::new();
    let cfg = command_overrides(cmd, cfg.clone());
    if cfg.relative_percentages {
        apply_filters(&mut p, &cfg, &mut warnings)?;
    }
    let mut rpt = Report::new(p, cmd.clone(), cfg)?;
    if !rpt.cfg.relative_percentages {
        apply_filters(&mut rpt.prof, &rpt.cfg, &mut warnings)?;
    }
    rpt.prof.aggregate(rpt.cfg.granularity, !rpt.cfg.noinlines);
    let output = match cmd {
        Command::Top => Output::Text(text::top(&mut rpt, env)),
        Command::Tree => Output::Text(text::tree(&mut rpt, None, env)?),
        Command::Peek(re) => {
            let re = crate::filter::compile("peek", re)?;
            Output::Text(text::tree(&mut rpt, Some(&re), env)?)
        }
        Command::Traces => Output::Text(text::traces(&rpt, env)),
        Command::Tags => Output::Text(text::tags(&rpt)),
        Command::List(re) => {
            let re = crate::filter::compile("list", re)?;
            let (text, missing) = source::list(&mut rpt, &re, env.open_source)?;
            warnings.extend(missing);
            Output::Text(text)
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

fn warn_no_match(matched: bool, option: &str, warnings: &mut Vec<String>) {
    if !matched {
        warnings.push(format!("{option} expression matched no samples"));
    }
}

/// Applies every filter of `cfg` to `p`.
pub fn apply_filters(p: &mut Profile, cfg: &Config, warnings: &mut Vec<String>) -> Result<()> {
    let focus = compile_opt("focus", &cfg.focus)?;
    let ignore = compile_opt("ignore", &cfg.ignore)?;
    let hide = compile_opt("hide", &cfg.hide)?;
    let show = compile_opt("show", &cfg.show)?;
    let show_from = compile_opt("show_from", &cfg.show_from)?;
    let tagfocus = (!cfg.tagfocus.is_empty())
        .then(|| TagFilter::parse("tagfocus", &cfg.tagfocus, p))
        .transpose()?;
    let tagignore = (!cfg.tagignore.is_empty())
        .then(|| TagFilter::parse("tagignore", &cfg.tagignore, p))
        .transpose()?;
    let prune_from = compile_opt("prune_from", &cfg.prune_from)?;
    let tagshow = compile_opt("tagshow", &cfg.tagshow)?;
    let taghide = compile_opt("taghide", &cfg.taghide)?;

    let m = p.filter_by_name(focus.as_ref(), ignore.as_ref(), hide.as_ref(), show.as_ref());
    warn_no_match(focus.is_none() || m.focus, "Focus", warnings);
    warn_no_match(ignore.is_none() || m.ignore, "Ignore", warnings);
    warn_no_match(hide.is_none() || m.hide, "Hide", warnings);
    warn_no_match(show.is_none() || m.show, "Show", warnings);
    if let Some(re) = &show_from {
        let matched = p.show_from(re);
        warn_no_match(matched, "ShowFrom", warnings);
    }
    for (name, f) in [("tagfocus", &tagfocus), ("tagignore", &tagignore)] {
        if let Some(f) = f.as_ref().filter(|f| f.is_range()) {
            let _ = f;
            let value = if name == "tagfocus" {
                &cfg.tagfocus
            } else {
                &cfg.tagignore
            };
            warnings.push(format!("{name}: interpreted '{value}' as a range, not a regexp"));
        }
    }
    let (tfm, tim) = p.filter_by_tag(tagfocus.as_ref(), tagignore.as_ref());
    warn_no_match(tagfocus.is_none() || tfm, "TagFocus", warnings);
    warn_no_match(tagignore.is_none() || tim, "TagIgnore", warnings);
    if tagshow.is_some() || taghide.is_some() {
        let (sm, hm) = p.filter_labels_by_key(tagshow.as_ref(), taghide.as_ref());
        warn_no_match(tagshow.is_none() || sm, "TagShow", warnings);
        warn_no_match(taghide.is_none() || hm, "TagHide", warnings);
    }
    if let Some(re) = &prune_from {
        p.prune_from(re);
    }
    Ok(())
}

impl Report {
    fn new(prof: Profile, cmd: Command, cfg: Config) -> Result<Report> {
        if prof.sample_types.is_empty() {
            return Err(Error::NoSampleTypes);
        }
        if cfg.divide_by == 0.0 {
            return Err(Error::BadOption("divide_by must not be zero".into()));
        }
        let value_index = prof.sample_index(cfg.sample_index.as_deref())?;
        let st = &prof.sample_types[value_index];
        let sample_type = if cfg.mean {
            format!("mean_{}", st.ty)
        } else {
            st.ty.to_string()
        };
        let sample_unit = st.unit.to_string();
        let mut rpt = Report {
            total: 0,
            value_index,
            mean: cfg.mean,
            sample_type,
            sample_unit,
            output_unit: cfg.unit.clone(),
            ratio: 1.0 / cfg.divide_by,
            prof,
            cfg,
            cmd,
        };
        rpt.total = rpt.compute_total();
        Ok(rpt)
    }

    fn value(&self, values: &[i64]) -> i64 {
        values[self.value_index]
    }

    fn mean_div(&self, values: &[i64]) -> i64 {
        if self.mean { values[0] } else { 0 }
    }

    /// Sum of |value| over samples (only the base's, when comparing with a diff base).
    fn compute_total(&self) -> i64 {
        let (mut total, mut div, mut diff_total, mut diff_div) = (0i64, 0i64, 0i64, 0i64);
        for s in &self.prof.samples {
            let v = self.value(&s.values).wrapping_abs();
            let d = self.mean_div(&s.values);
            total = total.wrapping_add(v);
            div += d;
            if Profile::is_diff_base_sample(s) {
                diff_total = diff_total.wrapping_add(v);
                diff_div += d;
            }
        }
        if diff_total > 0 {
            total = diff_total;
            div = diff_div;
        }
        if div != 0 { total / div } else { total }
    }

    /// Formats a value in the report's output unit.
    pub(crate) fn format_value(&self, v: i64) -> String {
        let v = if self.ratio > 0.0 && self.ratio != 1.0 {
            (v as f64 * self.ratio) as i64
        } else {
            v
        };
        units::scaled_label(v, &self.sample_unit, &self.output_unit)
    }

    /// The entries of the profile as it is now.
    fn node_table(&mut self) -> NodeTable {
        // Source paths are cleaned up before entries are built, as pprof does.
        let (trim, search) = (&self.cfg.trim_path, &self.cfg.source_path);
        if !trim.is_empty()
            || !search.is_empty()
            || self
                .prof
                .functions
                .iter()
                .any(|f| f.filename.starts_with("/proc/self/cwd/"))
        {
            for f in &mut self.prof.functions {
                let t = source::trim_path(&f.filename, trim, search);
                if t != *f.filename {
                    f.filename = t.into();
                }
            }
        }
        self.prof.remove_label(crate::merge::BASE_LABEL);
        let obj_names = matches!(self.cmd, Command::Raw | Command::List(_));
        NodeTable::new(
            &self.prof,
            NodeOptions {
                obj_names,
                orig_fn_names: false,
            },
        )
    }

    fn graph(&self, table: &NodeTable, kept: Option<&[bool]>, edges: bool) -> Graph {
        let value = |v: &[i64]| self.value(v);
        let mean = |v: &[i64]| self.mean_div(v);
        Graph::new(
            &self.prof,
            table,
            &GraphOptions {
                value: &value,
                mean_div: if self.mean { Some(&mean) } else { None },
                drop_negative: self.cfg.drop_negative,
                kept,
                edges,
            },
        )
    }

    /// Builds the graph and trims it by node fraction, node count and edge
    /// fraction. Returns the graph, the node count before the count limit and the
    /// number of nodes and edges dropped.
    fn trimmed_graph(&mut self) -> (Graph, usize, usize, usize) {
        let table = self.node_table();
        // The first pass only needs values; edges are computed once the set of
        // nodes is known, which on large profiles is most of the saving.
        let mut g = self.graph(&table, None, false);
        let total_value = g.flat_sum();
        let node_cutoff = ((total_value as f64 * self.cfg.nodefraction) as i64).abs();
        let edge_cutoff = ((total_value as f64 * self.cfg.edgefraction) as i64).abs();
        let mut dropped_nodes = 0;
        let mut kept = None;
        if node_cutoff > 0 {
            let mut k = vec![false; table.infos.len()];
            let mut count = 0;
            for n in &g.nodes {
                if n.cum.abs() >= node_cutoff {
                    k[n.id as usize] = true;
                    count += 1;
                }
            }
            if count != g.nodes.len() {
                dropped_nodes = g.nodes.len() - count;
                kept = Some(k);
            }
        }
        g = self.graph(&table, kept.as_deref(), true);
        let orig_count = g.nodes.len();
        g.sort(self.cfg.cum);
        let nodecount = self.cfg.nodecount.unwrap_or(0);
        if nodecount > 0 {
            g.trim_edges(edge_cutoff);
            if nodecount < g.nodes.len() {
                let mut kept = vec![false; table.infos.len()];
                for n in &g.nodes[..nodecount] {
                    kept[n.id as usize] = true;
                }
                g = self.graph(&table, Some(&kept), true);
                g.sort(self.cfg.cum);
            }
        }
        let dropped_edges = g.trim_edges(edge_cutoff);
        (g, orig_count, dropped_nodes, dropped_edges)
    }

    /// Picks the unit in which the report's values print best (pprof's `minimum`).
    fn select_output_unit(&mut self, g: &Graph) {
        if self.cfg.unit != "minimum" || g.nodes.is_empty() {
            return;
        }
        let mut min_value = 0i64;
        for n in &g.nodes {
            let mut node_min = n.flat_value().wrapping_abs();
            if node_min == 0 {
                node_min = n.cum_value().wrapping_abs();
            }
            if node_min > 0 && (min_value == 0 || node_min < min_value) {
                min_value = node_min;
            }
        }
        let mut max_value = self.total;
        if min_value == 0 {
            min_value = max_value;
        }
        if self.ratio > 0.0 && self.ratio != 1.0 {
            min_value = (min_value as f64 * self.ratio) as i64;
            max_value = (max_value as f64 * self.ratio) as i64;
        }
        let (_, min_unit) = units::scale(min_value, &self.sample_unit, "minimum");
        let (_, max_unit) = units::scale(max_value, &self.sample_unit, "minimum");
        let mut unit = min_unit.clone();
        if min_unit != max_unit && min_value.saturating_mul(100) < max_value {
            unit = units::scale(min_value.saturating_mul(100), &self.sample_unit, "minimum").1;
        }
        self.output_unit = if unit.is_empty() {
            self.sample_unit.clone()
        } else {
            unit
        };
    }

    /// The header lines describing the profile (file, type, time, duration).
    fn profile_labels(&self, env: &Env) -> Vec<String> {
        let mut label = Vec::new();
        let p = &self.prof;
        if let Some(m) = p.mappings.first() {
            if !m.filename.is_empty() {
                label.push(format!("File: {}", base_name(&m.filename)));
            }
            if !m.build_id.is_empty() {
                label.push(format!("Build ID: {}", m.build_id));
            }
        }
        for c in &p.comments {
            if !c.starts_with('#') {
                label.push(c.to_string());
            }
        }
        if !self.sample_type.is_empty() {
            label.push(format!("Type: {}", self.sample_type));
        }
        if p.time_nanos != 0 {
            label.push(format!("Time: {}", (env.format_time)(p.time_nanos)));
        }
        if p.duration_nanos != 0 {
            let duration = units::label(p.duration_nanos, "nanoseconds");
            let (total_nanos, total_unit) = units::scale(self.total, &self.sample_unit, "nanoseconds");
            let ratio = if total_unit == "ns" && total_nanos != 0.0 {
                format!("({})", units::percentage(total_nanos as i64, p.duration_nanos))
            } else {
                String::new()
            };
            label.push(format!(
                "Duration: {duration}, Total samples = {} {ratio}",
                self.format_value(self.total)
            ));
        }
        label
    }

    /// The header lines of a graph-based report.
    fn report_labels(&self, g: &Graph, orig_count: usize, dropped_nodes: usize, env: &Env) -> Vec<String> {
        let mut label = if self.cfg.compact_labels {
            Vec::new()
        } else {
            self.profile_labels(env)
        };
        let flat_sum: i64 = g.nodes.iter().map(|n| n.flat_value()).sum();
        let filters = self.cfg.active_filters();
        if !filters.is_empty() {
            label.push("Active filters:".into());
            for f in filters {
                let f = match f.char_indices().nth(80) {
                    Some((i, _)) => format!("{}…", &f[..i]),
                    None => f,
                };
                label.push(format!("   {f}"));
            }
        }
        label.push(format!(
            "Showing nodes accounting for {}, {} of {} total",
            self.format_value(flat_sum),
            units::percentage(flat_sum, self.total).trim(),
            self.format_value(self.total)
        ));
        if self.total != 0 {
            if dropped_nodes > 0 {
                let cutoff = ((self.total as f64 * self.cfg.nodefraction) as i64).abs();
                label.push(format!(
                    "Dropped {dropped_nodes} node{} (cum <= {})",
                    if dropped_nodes > 1 { "s" } else { "" },
                    self.format_value(cutoff)
                ));
            }
            let n = g.nodes.len();
            if n > 0 && n < orig_count {
                label.push(format!("Showing top {n} nodes out of {orig_count}"));
            }
        }
        label
    }
}

/// The lines `go tool pprof` prints before entering interactive mode, for a
/// profile and configuration.
pub fn greeting(p: &Profile, cfg: &Config, env: &Env) -> Result<Vec<String>> {
    let rpt = Report::new(p.clone(), Command::Top, cfg.clone())?;
    let mut lines = rpt.profile_labels(env);
    if rpt.total == 0 && p.sample_types.len() > 1 {
        lines.push("No samples were found with the default sample value type.".into());
        lines.push("Try \"sample_index\" command to analyze different sample values.".into());
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_time_layout() {
        // 2017-09-29 20:57:00 UTC
        assert_eq!(
            format_time_utc(1_506_718_620 * 1_000_000_000),
            "Sep 29, 2017 at 8:57pm (UTC)"
        );
        assert_eq!(format_time_utc(0), "Jan 1, 1970 at 12:00am (UTC)");
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
    }
}
