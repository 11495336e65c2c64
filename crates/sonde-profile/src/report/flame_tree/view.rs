//! Views of a [`FlameTree`]: the frames a width can draw, the narrow ones as
//! stubs, search marks, and runs of runtime frames folded into one box.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::{FlameTree, FlameView, NO_PARENT, NOISE_Z, flags};

/// Frames that are runtime glue rather than anyone's own code, by name
/// prefix: what [`FlameView::fold`] folds when two or more follow each other.
const RUNTIME_FRAMES: &[&str] = &[
    "std::rt::",
    "std::panicking::",
    "std::panic::",
    "std::sys::",
    "std::thread::",
    "core::ops::function::",
    "<core::pin::Pin<",
    "core::future::",
    "<core::future::",
    "<core::panic::",
    "<alloc::boxed::Box<F,A> as core::ops::function::",
    "tokio::runtime::",
    "tokio::task::",
    "tokio::loom::",
    "<tokio::runtime::",
    "<tokio::task::",
    "tokio::coop::",
    "__rust_try",
    "__rust_begin_short_backtrace",
    "start_thread",
    "clone3",
    "__clone",
    "__libc_start_main",
    "__libc_start_call_main",
    "_start",
];

/// Whether `name` is runtime glue (see [`RUNTIME_FRAMES`]).
fn is_runtime_frame(name: &str) -> bool {
    RUNTIME_FRAMES.iter().any(|p| name.starts_with(p)) || name.ends_with("as core::future::future::Future>::poll")
}

/// A folded run's label: whose runtime it is.
fn run_label(names: &[&str]) -> &'static str {
    if names.iter().any(|n| n.contains("tokio::")) {
        "tokio runtime"
    } else if names
        .iter()
        .any(|n| n.contains("Future>::poll") || n.contains("core::future::"))
    {
        "async poll"
    } else {
        "Rust runtime"
    }
}

impl FlameTree {
    /// A view of the tree as JSON for the page: the frames from `view.root`
    /// down that are at least one pixel wide, in depth-first order, each
    /// `[id, name, depth, width, flags, n, change, tip, limit]` (`name`
    /// indexes `names`, null for a stub; `n` counts a stub's frames and its
    /// `id` is its parent's; `limit` is the width below which the parent's
    /// children joined the stub, for [`FlameView::only_below`]; `depth` from
    /// the view's root), the
    /// path from the tree's root to the view's root, the totals, and with a
    /// search its matched value and share.
    ///
    /// # Errors
    /// A root id the tree does not have.
    pub fn view(&self, view: &FlameView) -> Result<Value, String> {
        let root = self
            .nodes
            .get(view.root as usize)
            .ok_or_else(|| format!("no frame {} in this view; reload the page", view.root))?;
        // Search marks: a frame's own match, and a match below it.
        let marks = view.search.map(|re| {
            let hit: Vec<bool> = self.names.iter().map(|n| re.is_match(n)).collect();
            let mut own = vec![false; self.nodes.len()];
            let mut below = vec![false; self.nodes.len()];
            for (i, n) in self.nodes.iter().enumerate().skip(1) {
                own[i] = hit[n.name as usize];
            }
            for i in (1..self.nodes.len()).rev() {
                if own[i] || below[i] {
                    below[self.nodes[i].parent as usize] = true;
                }
            }
            (own, below)
        });
        let mut out_names: Vec<String> = Vec::new();
        let mut out_pkgs: Vec<u32> = Vec::new();
        let mut name_map: HashMap<String, usize> = HashMap::new();
        let mut intern = |name: &str, pkg: u32| -> usize {
            if let Some(&i) = name_map.get(name) {
                return i;
            }
            out_names.push(name.to_string());
            out_pkgs.push(pkg);
            name_map.insert(name.to_string(), out_names.len() - 1);
            out_names.len() - 1
        };
        let root_width = match view.only_below {
            Some(limit) => self
                .children(view.root)
                .iter()
                .map(|&c| self.width(&self.nodes[c as usize], view.widths))
                .filter(|&w| w < limit)
                .sum(),
            None => self.width(root, view.widths),
        };
        let min = root_width as f64 / view.px.max(1) as f64;
        let mut rows: Vec<Value> = Vec::new();
        // Depth-first, children in order, each parent's stub after its
        // children (pushed first, popped last).
        enum Entry {
            Node(u32, u32),
            Stub(Value),
        }
        let mut stack: Vec<Entry> = vec![Entry::Node(view.root, 0)];
        while let Some(entry) = stack.pop() {
            let (id, depth) = match entry {
                Entry::Stub(row) => {
                    rows.push(row);
                    continue;
                }
                Entry::Node(id, depth) => (id, depth),
            };
            let n = &self.nodes[id as usize];
            // A run of runtime frames, each the only child of the one before.
            let mut last = id;
            let mut run: Vec<&str> = Vec::new();
            if view.fold && id != view.root {
                let runtime = |i: u32| is_runtime_frame(&self.names[self.nodes[i as usize].name as usize]);
                // Not inside a run the user unfolded: its first frame is this
                // one, or above it along runtime frames that are only children.
                let mut unfolded = view.unfold.contains(&id);
                let mut a = id;
                while !unfolded && a != view.root {
                    let parent = self.nodes[a as usize].parent;
                    if parent == NO_PARENT || parent == 0 || !runtime(parent) || self.children(parent).len() != 1 {
                        break;
                    }
                    a = parent;
                    unfolded = view.unfold.contains(&a);
                }
                if runtime(id) && !unfolded {
                    run.push(&self.names[n.name as usize]);
                    while let [only] = self.children(last) {
                        if !runtime(*only) {
                            break;
                        }
                        last = *only;
                        run.push(&self.names[self.nodes[last as usize].name as usize]);
                    }
                }
                if run.len() < 2 {
                    last = id;
                    run.clear();
                }
            }
            let mut fl = 0;
            if let Some((own, below)) = &marks {
                let mut at = last;
                loop {
                    if own[at as usize] {
                        fl |= flags::MATCH;
                    }
                    if at == id {
                        break;
                    }
                    at = self.nodes[at as usize].parent;
                }
                if below[last as usize] {
                    fl |= flags::MATCH_BELOW;
                }
            }
            let z = self.noise_z(id);
            fl |= self.diff_flags(n.value, n.base, z);
            let width = if id == view.root {
                root_width
            } else {
                self.width(n, view.widths)
            };
            let (name_index, tip, count) = if run.is_empty() {
                let name = self.names[n.name as usize].as_str();
                (
                    intern(name, self.packages[n.name as usize]),
                    self.tip(name, n.value, n.self_value, n.base, z),
                    0,
                )
            } else {
                fl |= flags::GROUP;
                let label = format!("{} · {} frames", run_label(&run), run.len());
                let what = format!("{label} (click to unfold)\n  {}", run.join("\n  "));
                (
                    intern(&label, self.packages[n.name as usize]),
                    self.tip(&what, n.value, 0, n.base, z),
                    run.len(),
                )
            };
            rows.push(json!([
                id,
                name_index,
                depth,
                width,
                fl,
                count,
                self.change(n.value, n.base),
                tip,
                0,
            ]));
            let id = last;
            // Children wide enough to draw, and one stub for the rest.
            let (mut frames, mut w_sum, mut v_sum, mut b_sum, mut matched) = (0u32, 0i64, 0i64, 0i64, false);
            let mut wide: Vec<u32> = Vec::new();
            for &c in self.children(id) {
                let cn = &self.nodes[c as usize];
                let w = self.width(cn, view.widths);
                if id == view.root && view.only_below.is_some_and(|l| w >= l) {
                    continue;
                }
                if w == 0 || (w as f64) < min {
                    frames += cn.size;
                    w_sum += w;
                    v_sum += cn.value;
                    b_sum += cn.base;
                    if let Some((own, below)) = &marks {
                        matched |= own[c as usize] || below[c as usize];
                    }
                } else {
                    wide.push(c);
                }
            }
            if frames > 0 && (v_sum != 0 || b_sum != 0) {
                let mut fl = flags::STUB;
                if matched {
                    fl |= flags::MATCH_BELOW;
                }
                let s = if frames == 1 { "" } else { "s" };
                let what = if v_sum == 0 {
                    fl |= flags::ONLY_BASE;
                    format!("+{frames} frame{s} only in the base")
                } else {
                    format!("+{frames} frame{s} too narrow to draw (click to draw them)")
                };
                stack.push(Entry::Stub(json!([
                    id,
                    Value::Null,
                    depth + 1,
                    w_sum,
                    fl,
                    frames,
                    self.change(v_sum, b_sum),
                    self.tip(&what, v_sum, 0, b_sum, None),
                    (min.ceil() as i64).max(1),
                ])));
            }
            stack.extend(wide.iter().rev().map(|&c| Entry::Node(c, depth + 1)));
        }
        let path: Vec<Value> = {
            let mut p = Vec::new();
            let mut at = root.parent;
            while at != NO_PARENT {
                let n = &self.nodes[at as usize];
                p.push(json!([at, self.names[n.name as usize]]));
                at = n.parent;
            }
            p.reverse();
            p
        };
        let mut doc = json!({
            "names": out_names,
            "pkgs": out_pkgs,
            "packages": self.package_names,
            "nodes": rows,
            "path": path,
            "total": self.total,
            "total_label": self.label(self.total),
            "shown_label": self.label(root_width),
            "sample_type": self.sample_type,
            "unit": self.unit,
            "frames": self.nodes.len() - 1,
        });
        if let Some(bt) = self.base_total {
            doc["base_total"] = json!(bt);
            doc["base_total_label"] = json!(self.label(bt));
            doc["noise_test"] = json!(self.counts.is_some());
        }
        if let Some((own, _)) = &marks {
            let (mut v, mut b, mut frames) = (0i64, 0i64, 0usize);
            // A sample counts once however many of its frames match: sum the
            // matching frames that have no matching ancestor.
            let mut covered = vec![false; self.nodes.len()];
            for (i, n) in self.nodes.iter().enumerate().skip(1) {
                let parent_covered = covered[n.parent as usize];
                covered[i] = parent_covered || own[i];
                if own[i] {
                    frames += 1;
                    if !parent_covered {
                        v += n.value;
                        b += n.base;
                    }
                }
            }
            doc["matched"] = json!({
                "value": v,
                "label": self.label(v),
                "share": Self::share(v, self.total),
                "frames": frames,
            });
            if let Some(bt) = self.base_total {
                doc["matched"]["base_label"] = json!(self.label(b));
                doc["matched"]["base_share"] = json!(Self::share(b, bt));
            }
        }
        Ok(doc)
    }

    fn diff_flags(&self, value: i64, base: i64, z: Option<f64>) -> u32 {
        if self.base_total.is_none() {
            return 0;
        }
        let mut fl = 0;
        if value == 0 && base != 0 {
            fl |= flags::ONLY_BASE;
        }
        if base == 0 && value != 0 {
            fl |= flags::ONLY_NEW;
        }
        if z.is_some_and(|z| z.abs() < NOISE_Z) {
            fl |= flags::NOISE;
        }
        fl
    }
}
