//! Reports as data: the rows of `top`, `tree`/`peek`, `traces` and `list`, with
//! the header lines above them, built from a [`Prepared`] profile. `text.rs`
//! renders them as `go tool pprof` prints them; other views (JSON for the web
//! UI, the demo's checks, `?debug=1` pages) read the same rows. This follows
//! pprof's `report.TextItems`, which both its terminal and its web UI print.
//!
//! Values are kept twice, as numbers in the sample type's unit (before
//! `divide_by`) for computation, and formatted in the report's output unit
//! (`890ms`, `5120kB`) for display, as pprof's `TextItem` keeps them.

use std::collections::{BTreeMap, HashMap};

use super::{Env, Prepared};
use crate::Result;
use crate::graph::{Edge, NodeOptions, NodeTable};
use crate::model::{LabelValue, Str};
use crate::units;

/// One entry of `top` (pprof's `report.TextItem`).
#[derive(Clone, Debug, PartialEq)]
pub struct TopRow {
    /// The entry's name (`main.work`, `main.go:12`, ...).
    pub name: String,
    /// `(inline)` when the entry was only reached inlined, `(partial-inline)`
    /// when both inlined and not, else empty.
    pub inline_label: &'static str,
    /// Value of samples whose leaf is this entry.
    pub flat: i64,
    /// Value of samples with this entry anywhere in the stack.
    pub cum: i64,
    /// `flat` in the report's output unit.
    pub flat_format: String,
    /// `cum` in the report's output unit.
    pub cum_format: String,
}

/// The `top` report.
#[derive(Clone, Debug, PartialEq)]
pub struct Top {
    /// The header lines (profile description, filters, what was shown).
    pub labels: Vec<String>,
    /// The total percentages are relative to.
    pub total: i64,
    /// The entries, sorted by flat (or cum) value.
    pub rows: Vec<TopRow>,
}

/// A caller or callee of a [`TreeEntry`].
#[derive(Clone, Debug, PartialEq)]
pub struct TreeEdge {
    /// The other entry's name.
    pub name: String,
    /// The value that flowed along this edge.
    pub weight: i64,
    /// `weight` in the report's output unit.
    pub weight_format: String,
    /// The call was inlined.
    pub inline: bool,
}

/// One entry of `tree` or `peek`, with its callers and callees.
#[derive(Clone, Debug, PartialEq)]
pub struct TreeEntry {
    /// The entry's name.
    pub name: String,
    /// Flat value (see [`TopRow::flat`]).
    pub flat: i64,
    /// Cumulative value (see [`TopRow::cum`]).
    pub cum: i64,
    /// `flat` in the report's output unit.
    pub flat_format: String,
    /// `cum` in the report's output unit.
    pub cum_format: String,
    /// Callers, heaviest first.
    pub callers: Vec<TreeEdge>,
    /// Callees, heaviest first.
    pub callees: Vec<TreeEdge>,
}

/// The `tree` or `peek` report.
#[derive(Clone, Debug, PartialEq)]
pub struct Tree {
    /// The header lines.
    pub labels: Vec<String>,
    /// The total percentages are relative to.
    pub total: i64,
    /// The entries shown (all of them for `tree`, the matching ones for `peek`).
    pub entries: Vec<TreeEntry>,
}

/// One frame of a trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceFrame {
    /// The frame's name, as an index into [`Traces::names`] (a large profile
    /// has millions of frames and a few thousand names).
    pub name: u32,
    /// The frame was inlined into the next one.
    pub inline: bool,
}

/// One sample of `traces`.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// String labels: each key with its values.
    pub str_labels: Vec<(String, Vec<String>)>,
    /// Numeric labels: each key with its values, formatted with their units.
    pub num_labels: Vec<(String, Vec<String>)>,
    /// The sample's value (per event, with `mean`).
    pub value: i64,
    /// `value` in the report's output unit.
    pub value_format: String,
    /// The stack, leaf first.
    pub frames: Vec<TraceFrame>,
}

/// The `traces` report. Its traces are made one at a time as they are read
/// ([`Traces::iter`]): a large profile has hundreds of thousands of them.
pub struct Traces<'a> {
    /// The header lines.
    pub labels: Vec<String>,
    /// The names frames refer to.
    pub names: Vec<String>,
    rpt: &'a Prepared,
    table: NodeTable,
    num_units: HashMap<Str, Str>,
}

impl std::fmt::Debug for Traces<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Traces")
            .field("labels", &self.labels)
            .field("samples", &self.rpt.prof.samples.len())
            .finish_non_exhaustive()
    }
}

/// One line of a [`Routine`]'s listing.
#[derive(Clone, Debug, PartialEq)]
pub struct SourceLine {
    /// The line number.
    pub lineno: i64,
    /// Flat value on this line.
    pub flat: i64,
    /// Cumulative value on this line.
    pub cum: i64,
    /// `flat` in the output unit, `.` for zero.
    pub flat_format: String,
    /// `cum` in the output unit, `.` for zero.
    pub cum_format: String,
    /// The source text; `None` when the file could not be read.
    pub text: Option<String>,
}

/// One function in one file, as `list` shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Routine {
    /// The function's name.
    pub function: String,
    /// Its source file; `None` when the profile has no source information.
    pub file: Option<String>,
    /// Flat value of the function in this file.
    pub flat: i64,
    /// Cumulative value of the function in this file.
    pub cum: i64,
    /// `flat` in the output unit.
    pub flat_format: String,
    /// `cum` in the output unit.
    pub cum_format: String,
    /// The lines around the sampled ones (only the sampled ones when the file
    /// could not be read).
    pub lines: Vec<SourceLine>,
    /// Why the source file could not be read, and how to point sonde to it.
    pub missing: Option<String>,
}

/// The `list` report.
#[derive(Clone, Debug, PartialEq)]
pub struct Listing {
    /// The total percentages are relative to.
    pub total: i64,
    /// `total` in the output unit.
    pub total_format: String,
    /// The matching functions, by name, then file.
    pub routines: Vec<Routine>,
}

/// One label key of `tags`: each of its values with the total of the
/// samples that carry it.
#[derive(Clone, Debug, PartialEq)]
pub struct TagKey {
    /// The label key (`thread`, `bytes`, a user label).
    pub key: String,
    /// The total of the values below, in the sample type's unit.
    pub total: i64,
    /// Each value (numbers formatted with their unit) and its total, largest
    /// first.
    pub values: Vec<(String, i64)>,
    /// The values are numbers (formatted, so not usable as a tag filter's
    /// exact value), not strings.
    pub numeric: bool,
}

impl Prepared {
    /// `tags`: each label key with its values and their totals, by key.
    pub fn tags(&self) -> Vec<TagKey> {
        let p = &self.prof;
        let num_units = p.num_label_units();
        let mut tag_map: BTreeMap<String, (BTreeMap<String, i64>, bool)> = BTreeMap::new();
        for s in &p.samples {
            let v = self.value(&s.values);
            for l in &s.labels {
                let (val, numeric) = match &l.value {
                    LabelValue::Str(v) => (v.to_string(), false),
                    LabelValue::Num { value, .. } => {
                        let unit = num_units.get(&l.key).map_or("", |u| &**u);
                        (units::scaled_label(*value, unit, &self.output_unit), true)
                    }
                };
                let entry = tag_map.entry(l.key.to_string()).or_default();
                entry.1 |= numeric;
                *entry.0.entry(val).or_default() += v;
            }
        }
        tag_map
            .into_iter()
            .map(|(key, (values, numeric))| {
                let total = values.values().sum();
                let mut values: Vec<(String, i64)> = values.into_iter().collect();
                values.sort_by(|a, b| b.1.abs().cmp(&a.1.abs()).then_with(|| a.0.cmp(&b.0)));
                TagKey {
                    key,
                    total,
                    values,
                    numeric,
                }
            })
            .collect()
    }

    /// `top`: the entries sorted by flat (or cum) value, trimmed as configured.
    pub fn top(&mut self, env: &Env) -> Top {
        let (g, orig_count, dropped_nodes, _) = self.trimmed_graph();
        self.select_output_unit(&g);
        let labels = self.report_labels(&g, orig_count, dropped_nodes, env);
        let rows = g
            .nodes
            .iter()
            .map(|n| {
                let (flat, cum) = (n.flat_value(), n.cum_value());
                TopRow {
                    name: n.name.clone(),
                    inline_label: n.inline_label(),
                    flat,
                    cum,
                    flat_format: self.format_value(flat),
                    cum_format: self.format_value(cum),
                }
            })
            .collect();
        Top {
            labels,
            total: self.total,
            rows,
        }
    }

    /// `tree` (every entry, `peek == None`) and `peek` (the entries matching
    /// the regex): each entry with its callers and callees.
    ///
    /// # Errors
    /// [`Error::Regex`](crate::Error::Regex) for a bad `peek` pattern,
    /// [`Error::NoMatches`](crate::Error::NoMatches) when it matches nothing.
    pub fn tree(&mut self, peek: Option<&str>, env: &Env) -> Result<Tree> {
        let rx = peek.map(|p| crate::filter::compile("peek", p)).transpose()?;
        let (g, orig_count, dropped_nodes, _) = self.trimmed_graph();
        self.select_output_unit(&g);
        let labels = self.report_labels(&g, orig_count, dropped_nodes, env);
        let edge = |e: &Edge, other: u32| TreeEdge {
            name: g.name_of(other).to_string(),
            weight: e.weight,
            weight_format: self.format_value(e.weight),
            inline: e.inline,
        };
        let entries: Vec<TreeEntry> = g
            .nodes
            .iter()
            .filter(|n| rx.as_ref().is_none_or(|rx| rx.is_match(&n.name)))
            .map(|n| {
                let (flat, cum) = (n.flat_value(), n.cum_value());
                TreeEntry {
                    name: n.name.clone(),
                    flat,
                    cum,
                    flat_format: self.format_value(flat),
                    cum_format: self.format_value(cum),
                    callers: g
                        .sorted_edges(&n.in_edges)
                        .into_iter()
                        .map(|e| edge(e, e.src))
                        .collect(),
                    callees: g
                        .sorted_edges(&n.out_edges)
                        .into_iter()
                        .map(|e| edge(e, e.dest))
                        .collect(),
                }
            })
            .collect();
        if let Some(rx) = rx {
            if entries.is_empty() {
                return Err(crate::Error::NoMatches(rx.as_str().to_string()));
            }
        }
        Ok(Tree {
            labels,
            total: self.total,
            entries,
        })
    }

    /// `traces`: every sample with its labels, value and stack.
    pub fn traces(&self, env: &Env) -> Traces<'_> {
        let table = NodeTable::new(&self.prof, NodeOptions::default());
        Traces {
            labels: self.profile_labels(env),
            names: table.infos.iter().map(|i| i.printable_name()).collect(),
            num_units: self.prof.num_label_units(),
            table,
            rpt: self,
        }
    }
}

impl Traces<'_> {
    /// Every sample that has a stack, in the profile's order.
    pub fn iter(&self) -> impl Iterator<Item = Trace> + '_ {
        let rpt = self.rpt;
        rpt.prof
            .samples
            .iter()
            .filter(|s| !s.locations.is_empty())
            .map(move |s| {
                let mut str_labels: BTreeMap<&str, Vec<String>> = BTreeMap::new();
                let mut num_labels: BTreeMap<&str, Vec<String>> = BTreeMap::new();
                for l in &s.labels {
                    match &l.value {
                        LabelValue::Str(v) => str_labels.entry(&l.key).or_default().push(v.to_string()),
                        LabelValue::Num { value, .. } => {
                            let unit = self.num_units.get(&l.key).map_or("", |u| &**u);
                            num_labels.entry(&l.key).or_default().push(units::label(*value, unit));
                        }
                    }
                }
                let mut value = rpt.value(&s.values);
                let d = rpt.mean_div(&s.values);
                if d != 0 {
                    value /= d;
                }
                let mut frames = Vec::with_capacity(s.locations.len());
                for &loc in &s.locations {
                    let nodes = self.table.nodes_of(loc);
                    for (i, &id) in nodes.iter().enumerate() {
                        frames.push(TraceFrame {
                            name: id,
                            inline: i != nodes.len() - 1,
                        });
                    }
                }
                let owned = |m: BTreeMap<&str, Vec<String>>| m.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
                Trace {
                    str_labels: owned(str_labels),
                    num_labels: owned(num_labels),
                    value,
                    value_format: rpt.format_value(value),
                    frames,
                }
            })
    }
}
