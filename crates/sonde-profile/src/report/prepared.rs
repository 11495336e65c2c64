//! The prepared profile: what every report starts from once the filters ran,
//! the profile was aggregated to the granularity asked for, and the sample value
//! was chosen (pprof's `report.Report`). Reports build their rows from it.

use super::{Command, Config, source};
use crate::graph::{Graph, GraphOptions, NodeOptions, NodeTable};
use crate::model::{Profile, ValueType};
use crate::units;
use crate::{Error, Result};

/// A profile prepared for one report: filtered, aggregated, with its sample
/// value, total and output unit chosen. Made by [`prepare`](super::prepare).
pub struct Prepared {
    pub(super) prof: Profile,
    pub(super) total: i64,
    pub(super) value_index: usize,
    pub(super) mean: bool,
    pub(super) sample_type: String,
    pub(super) sample_unit: String,
    pub(super) output_unit: String,
    pub(super) ratio: f64,
    pub(super) cfg: Config,
    pub(super) cmd: Command,
    /// For `top` by function: what the profile holds of the user's code, for
    /// the note that points to `user_code` (taken before aggregation).
    pub(super) user_code: Option<crate::user_code::UserCode>,
}

/// The index of the sample value `cfg` asks for in `p` (by name, `inuse_`-less
/// name, or number; the profile's default when unset): the one place where
/// `sample_index` is resolved, for reports, the shell and flame graphs alike.
///
/// # Errors
/// [`Error::UnknownSampleType`] listing the profile's types; [`Error::NoSampleTypes`].
pub fn resolve_sample_index(p: &Profile, cfg: &Config) -> Result<usize> {
    p.sample_index(cfg.sample_index.as_deref())
}

impl Prepared {
    /// The profile as filtered and aggregated for the report.
    pub fn profile(&self) -> &Profile {
        &self.prof
    }

    /// The index of the reported value among the profile's sample types.
    pub fn value_index(&self) -> usize {
        self.value_index
    }

    /// The reported sample type (`alloc_space`/`bytes`); with `mean`, its name
    /// is the type's own, not `mean_…`.
    pub fn sample_type(&self) -> &ValueType {
        &self.prof.sample_types[self.value_index]
    }

    /// The total that percentages are relative to, in the sample type's unit
    /// (before `divide_by`).
    pub fn total(&self) -> i64 {
        self.total
    }

    /// Folded stacks of the reported value: one `(root;...;leaf, value)` pair
    /// per distinct stack, as [`folded_stacks`](super::folded_stacks) gives them.
    pub fn folded_stacks(&self) -> Vec<(String, i64)> {
        super::folded_stacks(&self.prof, self.value_index)
    }

    pub(super) fn new(prof: Profile, cmd: Command, cfg: Config) -> Result<Prepared> {
        if prof.sample_types.is_empty() {
            return Err(Error::NoSampleTypes);
        }
        if cfg.divide_by == 0.0 {
            return Err(Error::BadOption("divide_by must not be zero".into()));
        }
        let value_index = resolve_sample_index(&prof, &cfg)?;
        let st = &prof.sample_types[value_index];
        let sample_type = if cfg.mean {
            format!("mean_{}", st.ty)
        } else {
            st.ty.to_string()
        };
        let sample_unit = st.unit.to_string();
        let mut rpt = Prepared {
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
            user_code: None,
        };
        rpt.total = rpt.compute_total();
        Ok(rpt)
    }

    pub(super) fn value(&self, values: &[i64]) -> i64 {
        values[self.value_index]
    }

    pub(super) fn mean_div(&self, values: &[i64]) -> i64 {
        if self.mean { values[0] } else { 0 }
    }

    /// Sum of |value| over samples (only the base's, when comparing with a diff base).
    pub(super) fn compute_total(&self) -> i64 {
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
    pub(super) fn format_value(&self, v: i64) -> String {
        let v = if self.ratio > 0.0 && self.ratio != 1.0 {
            (v as f64 * self.ratio) as i64
        } else {
            v
        };
        units::scaled_label(v, &self.sample_unit, &self.output_unit)
    }

    /// The entries of the profile as it is now.
    pub(super) fn node_table(&mut self) -> NodeTable {
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

    pub(super) fn graph(&self, table: &NodeTable, kept: Option<&[bool]>, edges: bool) -> Graph {
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
    pub(super) fn trimmed_graph(&mut self) -> (Graph, usize, usize, usize) {
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
    pub(super) fn select_output_unit(&mut self, g: &Graph) {
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
}
