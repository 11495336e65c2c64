//! The flame graph as data, for the web UI (`sonde web`): the call tree of a
//! prepared profile (and of its base, for a differential graph), and views of
//! it cut to what a given width can draw.
//!
//! A view never drops a frame silently: the children of a frame too narrow to
//! draw (narrower than `1/px` of the view's root) are merged into one stub per
//! parent, "+N frames", which keeps their value, their base value and whether
//! a search matched inside them; the page can zoom into a stub to draw them.
//!
//! The map: this file builds the tree (a sorted walk over the stacks) and
//! holds the numbers of one frame (hover text, change, noise test); `view`
//! cuts views of it (stubs, search marks, folded runtime runs); `tests`.
//!
//! Numbers come from here, not from the page: values, shares of the total,
//! the matched share of a search, the change against the base and whether
//! that change is within sampling noise. The page only lays boxes out.

use std::collections::HashMap;

use regex::Regex;

use super::Prepared;
use crate::model::LabelValue;
use crate::units;

/// The stacks of the profile and its base before the tree is built: frame
/// names root first, in one list, and per sample its range, value, sample
/// count and whether it is the base's.
#[derive(Default)]
struct Stacks {
    frames: Vec<u32>,
    samples: Vec<(u32, u32, i64, i64, bool)>,
}

/// Frame names and packages by text, while a tree is built.
struct Interner<'a> {
    names: &'a mut HashMap<String, u32>,
    packages: &'a mut HashMap<String, u32>,
}

/// Sentinel parent of the root.
const NO_PARENT: u32 = u32::MAX;

/// Flag bits of a node in a view (the page reads them).
pub mod flags {
    /// The entry is a stub standing for several narrow frames.
    pub const STUB: u32 = 1;
    /// The frame's name matches the search.
    pub const MATCH: u32 = 2;
    /// A frame inside the stub (or below the frame) matches the search.
    pub const MATCH_BELOW: u32 = 4;
    /// With a base: the change is within sampling noise (see
    /// [`FlameTree::noise_z`](super::FlameTree::noise_z)).
    pub const NOISE: u32 = 8;
    /// With a base: the frame exists only in the base.
    pub const ONLY_BASE: u32 = 16;
    /// With a base: the frame exists only in the new profile.
    pub const ONLY_NEW: u32 = 32;
    /// The entry is a folded run of runtime frames (its `n` counts them).
    pub const GROUP: u32 = 64;
}

/// |z| below which a frame's change counts as sampling noise (two-sided 5%).
pub const NOISE_Z: f64 = 1.96;

#[derive(Clone, Debug, Default)]
struct Node {
    name: u32,
    parent: u32,
    /// Cumulative value (the frame and what it called), new profile.
    value: i64,
    /// Self value, new profile.
    self_value: i64,
    /// Cumulative value in the base.
    base: i64,
    /// Self value in the base.
    base_self: i64,
    /// Cumulative sample counts (new, base) for the noise test.
    count: i64,
    base_count: i64,
    /// Frames in the subtree (the node included).
    size: u32,
}

/// What widths stand for in a differential view.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Widths {
    /// The new profile's values (the default).
    #[default]
    New,
    /// The base's values.
    Base,
    /// The larger of the two, so frames of either profile show.
    Max,
}

impl Widths {
    /// Parses `new`, `base` or `max`.
    ///
    /// # Errors
    /// A message naming the three words.
    pub fn parse(s: &str) -> Result<Widths, String> {
        match s {
            "" | "new" => Ok(Widths::New),
            "base" => Ok(Widths::Base),
            "max" | "both" => Ok(Widths::Max),
            _ => Err(format!("widths takes new, base or max, not {s:?}")),
        }
    }
}

/// How to cut a view of a [`FlameTree`].
#[derive(Clone, Debug)]
pub struct FlameView<'a> {
    /// The node the view starts from (0: all samples).
    pub root: u32,
    /// The width the page draws the root in, in pixels: a frame narrower than
    /// one pixel joins its parent's stub.
    pub px: u32,
    /// Draw only the root's children narrower than this value (in the width
    /// measure): the zoom into a stub.
    pub only_below: Option<i64>,
    /// What widths stand for with a base.
    pub widths: Widths,
    /// Highlight the frames whose names match, and report their share.
    pub search: Option<&'a Regex>,
    /// Fold runs of runtime frames (Rust's start-up and thread glue, closures'
    /// `call_once`, async `poll` layers, tokio's scheduler) into one box each,
    /// so that the user's own functions are what the eye lands on.
    pub fold: bool,
    /// Runs not to fold: the ids of their first frames (the page's "unfold").
    pub unfold: &'a [u32],
}

/// The call tree of a prepared profile, root first, with the base's values
/// alongside when there is a base.
#[derive(Clone, Debug)]
pub struct FlameTree {
    names: Vec<String>,
    packages: Vec<u32>,
    package_names: Vec<String>,
    nodes: Vec<Node>,
    /// Children of node `i`: `child_list[child_start[i]..child_start[i + 1]]`,
    /// widest first (one list for the tree: a large profile has millions of
    /// nodes, and a list each would be an allocation each).
    child_start: Vec<u32>,
    child_list: Vec<u32>,
    total: i64,
    base_total: Option<i64>,
    /// The exposures (new, base) of the noise test when the values come from
    /// sampling (`samples` is a sample type): the profiles' durations when
    /// both have one, else their total sample counts.
    counts: Option<(f64, f64)>,
    unit: String,
    sample_type: String,
}

/// The index of the `samples` count among a prepared profile's sample types.
fn sample_count_index(p: &Prepared) -> Option<usize> {
    p.prof
        .sample_types
        .iter()
        .position(|t| &*t.ty == "samples" && &*t.unit == "count")
}

/// The package of a frame's name, for colouring: Rust's crate (`std`,
/// `tokio`, `myapp`), Go's package path (`net/http`, `main`), C's empty.
pub fn package_of(name: &str) -> &str {
    let name = name.trim_start_matches(['<', '&', '*', '(']);
    let name = name.strip_prefix("impl ").unwrap_or(name);
    if let Some(i) = name.find("::") {
        return &name[..i];
    }
    // Go: the import path up to the last '/', then up to the first '.'.
    let slash = name.rfind('/').map_or(0, |i| i + 1);
    match name[slash..].find('.') {
        Some(dot) => &name[..slash + dot],
        None => "",
    }
}

impl FlameTree {
    /// The call tree of `new`, with `base`'s values alongside (a differential
    /// graph). Both must be prepared with the same configuration. With
    /// `group_by`, a label key, each sample's stack starts with a frame
    /// `key=value` (`key (none)` without the label), as pprof's `tagroot`.
    pub fn new(new: &mut Prepared, base: Option<&mut Prepared>, group_by: Option<&str>) -> FlameTree {
        let mut t = FlameTree {
            names: vec!["all".into()],
            packages: vec![0],
            package_names: vec![String::new()],
            nodes: vec![Node {
                parent: NO_PARENT,
                ..Node::default()
            }],
            child_start: Vec::new(),
            child_list: Vec::new(),
            total: new.total,
            base_total: None,
            counts: None,
            unit: new.sample_unit.clone(),
            sample_type: new.sample_type.clone(),
        };
        let mut name_ids: HashMap<String, u32> = HashMap::new();
        let mut pkg_ids: HashMap<String, u32> = HashMap::from([(String::new(), 0)]);
        let mut stacks = Stacks::default();
        let mut names = Interner {
            names: &mut name_ids,
            packages: &mut pkg_ids,
        };
        let new_count = t.collect(new, false, &mut names, group_by, &mut stacks);
        if let Some(base) = base {
            t.base_total = Some(base.total);
            let base_count = t.collect(base, true, &mut names, group_by, &mut stacks);
            let (da, db) = (new.prof.duration_nanos, base.prof.duration_nanos);
            t.counts = match (new_count, base_count) {
                (Some(_), Some(_)) if da > 0 && db > 0 => Some((da as f64, db as f64)),
                (Some(a), Some(b)) if a > 0 && b > 0 => Some((a as f64, b as f64)),
                _ => None,
            };
        }
        t.build(&stacks);
        // Children by parent (a counting sort), then each list widest first.
        let n = t.nodes.len();
        let mut start = vec![0u32; n + 1];
        for node in &t.nodes[1..] {
            start[node.parent as usize + 1] += 1;
        }
        for i in 0..n {
            start[i + 1] += start[i];
        }
        let mut fill = start.clone();
        let mut list = vec![0u32; n.saturating_sub(1)];
        for (i, node) in t.nodes.iter().enumerate().skip(1) {
            let slot = &mut fill[node.parent as usize];
            list[*slot as usize] = i as u32;
            *slot += 1;
        }
        for i in 0..n {
            let kids = &mut list[start[i] as usize..start[i + 1] as usize];
            if kids.len() > 1 {
                kids.sort_by(|&a, &b| {
                    let (a, b) = (&t.nodes[a as usize], &t.nodes[b as usize]);
                    b.value
                        .max(b.base)
                        .cmp(&a.value.max(a.base))
                        .then_with(|| t.names[a.name as usize].cmp(&t.names[b.name as usize]))
                });
            }
        }
        t.child_start = start;
        t.child_list = list;
        // Children are made after their parents: a backward pass sums sizes.
        for i in (1..t.nodes.len()).rev() {
            let (size, parent) = (t.nodes[i].size + 1, t.nodes[i].parent as usize);
            t.nodes[i].size = size;
            t.nodes[parent].size += size;
        }
        t.nodes[0].size += 1;
        t
    }

    /// Collects the stacks of `p` (as the base when `is_base`) as frame name
    /// paths, root first; returns the total sample count when the profile has
    /// a `samples` value.
    fn collect(
        &mut self,
        p: &mut Prepared,
        is_base: bool,
        names: &mut Interner,
        group_by: Option<&str>,
        stacks: &mut Stacks,
    ) -> Option<i64> {
        let table = p.node_table();
        let local: Vec<u32> = table
            .infos
            .iter()
            .map(|info| self.intern(names, info.printable_name()))
            .collect();
        let num_units = p.prof.num_label_units();
        let count_index = sample_count_index(p);
        let mut total_count = 0i64;
        for s in &p.prof.samples {
            let v = p.value(&s.values);
            let c = count_index.map_or(0, |i| s.values[i]);
            if v == 0 && c == 0 {
                continue;
            }
            total_count += c;
            let start = stacks.frames.len();
            if let Some(key) = group_by {
                let group = match s.labels.iter().find(|l| &*l.key == key).map(|l| &l.value) {
                    Some(LabelValue::Str(v)) => format!("{key}={v}"),
                    Some(LabelValue::Num { value, .. }) => {
                        let unit = num_units.get(key).map_or("", |u| &**u);
                        format!("{key}={}", units::label(*value, unit))
                    }
                    None => format!("{key} (none)"),
                };
                let id = self.intern(names, group);
                stacks.frames.push(id);
            }
            for &loc in s.locations.iter().rev() {
                stacks
                    .frames
                    .extend(table.nodes_of(loc).iter().rev().map(|&n| local[n as usize]));
            }
            stacks
                .samples
                .push((start as u32, stacks.frames.len() as u32, v, c, is_base));
        }
        count_index.map(|_| total_count)
    }

    /// The id of frame name `name`, with its package, made if new.
    fn intern(&mut self, names: &mut Interner, name: String) -> u32 {
        if let Some(&id) = names.names.get(&name) {
            return id;
        }
        let pkg = package_of(&name).to_string();
        let next_pkg = names.packages.len() as u32;
        let pkg_id = *names.packages.entry(pkg.clone()).or_insert_with(|| {
            self.package_names.push(pkg);
            next_pkg
        });
        let id = self.names.len() as u32;
        self.names.push(name.clone());
        self.packages.push(pkg_id);
        names.names.insert(name, id);
        id
    }

    /// Builds the tree from the stacks: sorted by path, stacks that share a
    /// beginning are neighbours, so each sample's nodes are the previous
    /// sample's up to where the paths part, and new ones below (no lookups,
    /// on profiles whose trees have millions of nodes).
    fn build(&mut self, stacks: &Stacks) {
        let path = |i: usize| {
            let (a, b, ..) = stacks.samples[i];
            &stacks.frames[a as usize..b as usize]
        };
        let mut order: Vec<u32> = (0..stacks.samples.len() as u32).collect();
        order.sort_unstable_by(|&a, &b| path(a as usize).cmp(path(b as usize)));
        let mut chain: Vec<u32> = vec![0];
        let mut prev: &[u32] = &[];
        for &i in &order {
            let (.., v, c, is_base) = stacks.samples[i as usize];
            let here = path(i as usize);
            let common = here.iter().zip(prev).take_while(|(a, b)| a == b).count();
            chain.truncate(common + 1);
            for &name in &here[common..] {
                let id = self.nodes.len() as u32;
                self.nodes.push(Node {
                    name,
                    parent: *chain.last().expect("the root"),
                    ..Node::default()
                });
                chain.push(id);
            }
            for &n in &chain {
                self.bump(n, v, c, is_base);
            }
            let leaf = &mut self.nodes[*chain.last().expect("the root") as usize];
            if is_base {
                leaf.base_self += v;
            } else {
                leaf.self_value += v;
            }
            prev = here;
        }
    }

    fn bump(&mut self, at: u32, v: i64, c: i64, is_base: bool) {
        let n = &mut self.nodes[at as usize];
        if is_base {
            n.base += v;
            n.base_count += c;
        } else {
            n.value += v;
            n.count += c;
        }
    }

    /// Frames in the tree, the root included.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Never true: the tree always has its root.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The total that shares are relative to (the prepared profile's, as
    /// `top` uses), in the sample type's unit.
    pub fn total(&self) -> i64 {
        self.total
    }

    /// The noise test of one frame's change, a two-sided test on sample
    /// counts: the frame's samples are Poisson in each profile, so given its
    /// `a + b` samples in both, `a` is binomial with `p` = the new profile's
    /// share of the exposure (the durations when both profiles have one, as
    /// CPU profiles do, else the total sample counts) when its rate did not
    /// change. Returns z; |z| < [`NOISE_Z`] is within noise. `None` without a
    /// base, when the values are not sample counts (a heap profile's are
    /// scaled estimates), or without samples in the frame.
    pub fn noise_z(&self, node: u32) -> Option<f64> {
        let (ta, tb) = self.counts?;
        let n = &self.nodes[node as usize];
        let (a, b) = (n.count as f64, n.base_count as f64);
        if a + b <= 0.0 {
            return None;
        }
        let p = ta / (ta + tb);
        let sd = ((a + b) * p * (1.0 - p)).sqrt();
        Some((a - (a + b) * p) / sd)
    }

    fn children(&self, i: u32) -> &[u32] {
        let i = i as usize;
        &self.child_list[self.child_start[i] as usize..self.child_start[i + 1] as usize]
    }

    fn width(&self, n: &Node, widths: Widths) -> i64 {
        match widths {
            Widths::New => n.value.max(0),
            Widths::Base => n.base.max(0),
            Widths::Max => n.value.max(n.base).max(0),
        }
    }

    fn label(&self, v: i64) -> String {
        units::scaled_label(v, &self.unit, "minimum")
    }

    fn share(v: i64, total: i64) -> String {
        units::percentage(v, total).trim().to_string()
    }

    /// The hover text of a frame (or stub of `n` frames).
    fn tip(&self, name: &str, value: i64, self_value: i64, base: i64, z: Option<f64>) -> String {
        let mut s = format!(
            "{name}\ntotal {} ({} of all), self {} ({})",
            self.label(value),
            Self::share(value, self.total),
            self.label(self_value),
            Self::share(self_value, self.total),
        );
        if let Some(bt) = self.base_total {
            let delta = value - base;
            let sign = if delta > 0 {
                "+"
            } else if delta < 0 {
                "-"
            } else {
                ""
            };
            s.push_str(&format!(
                "\nbase {} ({} of the base), change {sign}{}",
                self.label(base),
                Self::share(base, bt),
                self.label(delta.abs()),
            ));
            match z {
                Some(z) if z.abs() < NOISE_Z => s.push_str(&format!(", within sampling noise (z = {z:.1})")),
                Some(z) => s.push_str(&format!(", beyond sampling noise (z = {z:.1})")),
                None => {}
            }
        }
        s
    }

    /// The change of a frame as a colour value in -1..1: the change against
    /// the larger of its two values (1: new, -1: gone; 0 without a base).
    fn change(&self, value: i64, base: i64) -> f64 {
        if self.base_total.is_none() {
            return 0.0;
        }
        let m = value.abs().max(base.abs());
        if m == 0 { 0.0 } else { (value - base) as f64 / m as f64 }
    }
}

mod view;

#[cfg(test)]
mod tests;
