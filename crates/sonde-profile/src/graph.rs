//! The call graph that reports are built from: one node per distinct report entry
//! (function, file, line or address, depending on the granularity the profile was
//! aggregated to), with flat and cumulative values and weighted caller/callee
//! edges. Construction follows pprof's `internal/graph` so that values, ordering and
//! trimming agree with `go tool pprof`.

use std::collections::HashMap;
use std::fmt::Write as _;

use crate::hash::FastMap;
use crate::model::{Profile, Str, base_name, empty_str};

/// What identifies a report entry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct NodeInfo {
    /// Function name (empty when aggregated away).
    pub name: Str,
    /// Mangled name, when kept.
    pub orig_name: Str,
    /// Instruction address (0 unless the granularity is addresses).
    pub address: u64,
    /// Source file (cleaned), when kept.
    pub file: Str,
    /// First line of the function, when kept.
    pub start_line: i64,
    /// Source line (0 unless the granularity is lines or addresses).
    pub lineno: i64,
    /// The binary's path, when kept.
    pub objfile: Str,
}

impl NodeInfo {
    /// The name reports print for this entry, e.g. `main.work`,
    /// `main.work /src/main.go:12`, `0000000000401000 main.work /src/main.go:12`.
    pub fn printable_name(&self) -> String {
        let mut s = String::new();
        if self.address != 0 {
            let _ = write!(s, "{:016x}", self.address);
        }
        let mut push = |part: &str| {
            if !s.is_empty() {
                s.push(' ');
            }
            s.push_str(part);
        };
        if !self.name.is_empty() {
            push(&self.name);
        }
        if self.lineno != 0 {
            push(&format!("{}:{}", self.file, self.lineno));
        } else if !self.file.is_empty() {
            push(&self.file);
        } else if !self.name.is_empty() {
        } else if !self.objfile.is_empty() {
            push(&format!("[{}]", base_name(&self.objfile)));
        } else {
            push("<unknown>");
        }
        s
    }

    /// pprof's tie-breaker between entries that print the same: the text of all
    /// fields in declaration order, as Go's `fmt.Sprint` writes a struct.
    fn tie_key(&self) -> String {
        format!(
            "{{{} {} {} {} {} {} {}}}",
            self.name, self.orig_name, self.address, self.file, self.start_line, self.lineno, self.objfile
        )
    }
}

/// Options for what distinguishes nodes.
#[derive(Clone, Copy, Debug, Default)]
pub struct NodeOptions {
    /// Keep the binary name and start line (for source and disassembly views).
    pub obj_names: bool,
    /// Keep mangled names.
    pub orig_fn_names: bool,
}

/// The report entries of a profile, and which entries each location stands for.
pub struct NodeTable {
    /// Every distinct entry.
    pub infos: Vec<NodeInfo>,
    /// The entries of all locations, one run per location (see [`NodeTable::nodes_of`]).
    nodes: Vec<u32>,
    /// Where each location's run starts in `nodes`; one extra entry at the end.
    starts: Vec<u32>,
}

impl NodeTable {
    /// Finds the entries of every location of `p`.
    pub fn new(p: &Profile, opts: NodeOptions) -> NodeTable {
        let mut ids: FastMap<NodeInfo, u32> = FastMap::with_capacity_and_hasher(p.functions.len(), Default::default());
        let mut infos = Vec::new();
        let mut clean_cache: HashMap<Str, Str> = HashMap::new();
        let empty = empty_str();
        let mut all_nodes = Vec::with_capacity(p.locations.len() * 2);
        let mut starts = Vec::with_capacity(p.locations.len() + 1);
        for loc in &p.locations {
            starts.push(all_nodes.len() as u32);
            let objfile = loc
                .mapping
                .map(|m| p.mappings[m as usize].filename.clone())
                .unwrap_or_else(|| empty.clone());
            let nodes = &mut all_nodes;
            let mut add = |info: NodeInfo| {
                let next = infos.len() as u32;
                let id = *ids.entry(info).or_insert_with_key(|k| {
                    infos.push(k.clone());
                    next
                });
                nodes.push(id);
            };
            if loc.lines.is_empty() {
                add(NodeInfo {
                    address: loc.address,
                    objfile: objfile.clone(),
                    ..Default::default()
                });
            }
            for line in &loc.lines {
                let f = &p.functions[line.function as usize];
                let file = if f.filename.is_empty() {
                    empty.clone()
                } else {
                    clean_cache
                        .entry(f.filename.clone())
                        .or_insert_with(|| Str::from(clean_path(&f.filename)))
                        .clone()
                };
                let mut info = NodeInfo {
                    name: f.name.clone(),
                    address: loc.address,
                    lineno: line.line,
                    file,
                    ..Default::default()
                };
                if opts.orig_fn_names {
                    info.orig_name = f.system_name.clone();
                }
                if opts.obj_names || (info.name.is_empty() && info.orig_name.is_empty()) {
                    info.objfile = objfile.clone();
                    info.start_line = f.start_line;
                }
                add(info);
            }
        }
        starts.push(all_nodes.len() as u32);
        NodeTable {
            infos,
            nodes: all_nodes,
            starts,
        }
    }

    /// The entries of location `loc`, in the order of its lines (innermost first).
    pub fn nodes_of(&self, loc: u32) -> &[u32] {
        &self.nodes[self.starts[loc as usize] as usize..self.starts[loc as usize + 1] as usize]
    }
}

/// A weighted caller → callee edge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Edge {
    /// The caller's node id.
    pub src: u32,
    /// The callee's node id.
    pub dest: u32,
    /// Total value of the samples through this edge.
    pub weight: i64,
    /// Sum of the mean divisors (for `mean` reports).
    pub weight_div: i64,
    /// The edge skips nodes that were trimmed from the graph.
    pub residual: bool,
    /// The callee was inlined into the caller.
    pub inline: bool,
}

impl Edge {
    /// The weight, divided by the mean divisor when there is one.
    pub fn value(&self) -> i64 {
        if self.weight_div == 0 {
            self.weight
        } else {
            self.weight / self.weight_div
        }
    }
}

/// A report entry with its values and edges.
#[derive(Clone, Debug)]
pub struct Node {
    /// Index into [`NodeTable::infos`].
    pub id: u32,
    /// What the entry is.
    pub info: NodeInfo,
    /// The name as printed.
    pub name: String,
    /// Value of samples whose leaf is this entry.
    pub flat: i64,
    /// Divisor for `flat` in mean reports.
    pub flat_div: i64,
    /// Value of samples that have this entry anywhere in their stack (once each).
    pub cum: i64,
    /// Divisor for `cum` in mean reports.
    pub cum_div: i64,
    /// Edges from callers.
    pub in_edges: Vec<Edge>,
    /// Edges to callees.
    pub out_edges: Vec<Edge>,
}

impl Node {
    /// The flat value, divided by its mean divisor when there is one.
    pub fn flat_value(&self) -> i64 {
        if self.flat_div == 0 {
            self.flat
        } else {
            self.flat / self.flat_div
        }
    }

    /// The cumulative value, divided by its mean divisor when there is one.
    pub fn cum_value(&self) -> i64 {
        if self.cum_div == 0 {
            self.cum
        } else {
            self.cum / self.cum_div
        }
    }

    /// `(inline)` if every caller inlined this entry, `(partial-inline)` if some did.
    pub fn inline_label(&self) -> &'static str {
        let inline = self.in_edges.iter().any(|e| e.inline);
        let not_inline = self.in_edges.iter().any(|e| !e.inline);
        match (inline, not_inline) {
            (true, true) => "(partial-inline)",
            (true, false) => "(inline)",
            _ => "",
        }
    }
}

/// Extracts one number from a sample's values.
pub type ValueFn<'a> = &'a dyn Fn(&[i64]) -> i64;

/// How a sample contributes to the graph.
pub struct GraphOptions<'a> {
    /// The value a sample contributes (usually one of its values).
    pub value: ValueFn<'a>,
    /// For mean reports, the divisor a sample contributes.
    pub mean_div: Option<ValueFn<'a>>,
    /// Drop nodes whose values are negative.
    pub drop_negative: bool,
    /// Only these node ids (by [`NodeTable`] index) are kept; others are skipped and
    /// the edges around them become residual.
    pub kept: Option<&'a [bool]>,
    /// Whether to compute edges (most of the cost on large profiles); without them
    /// nodes have only their values.
    pub edges: bool,
}

/// A call graph.
#[derive(Clone, Debug, Default)]
pub struct Graph {
    /// The nodes, in the order set by the last sort.
    pub nodes: Vec<Node>,
    /// Printable names by node id, for every node of the graph.
    names: HashMap<u32, String>,
}

struct EdgeAcc {
    weight: i64,
    weight_div: i64,
    residual: bool,
    inline: bool,
    seen: u32,
}

impl Graph {
    /// Builds the graph of `p`'s samples over the entries of `table`.
    pub fn new(p: &Profile, table: &NodeTable, o: &GraphOptions) -> Graph {
        let n = table.infos.len();
        let (mut flat, mut flat_div, mut cum, mut cum_div) =
            (vec![0i64; n], vec![0i64; n], vec![0i64; n], vec![0i64; n]);
        let mut seen = vec![0u32; n];
        let mut edge_index: FastMap<u64, u32> = FastMap::default();
        let mut edges: Vec<(u32, u32, EdgeAcc)> = Vec::new();
        let kept = |id: u32| o.kept.is_none_or(|k| k[id as usize]);
        for (si, s) in p.samples.iter().enumerate() {
            let w = (o.value)(&s.values);
            let dw = o.mean_div.map_or(0, |f| f(&s.values));
            if w == 0 && dw == 0 {
                continue;
            }
            let stamp = si as u32 + 1;
            let mut parent: Option<u32> = None;
            let mut residual = false;
            for &loc in s.locations.iter().rev() {
                let nodes = table.nodes_of(loc);
                for ni in (0..nodes.len()).rev() {
                    let id = nodes[ni];
                    if !kept(id) {
                        residual = true;
                        continue;
                    }
                    if seen[id as usize] != stamp {
                        seen[id as usize] = stamp;
                        cum[id as usize] += w;
                        cum_div[id as usize] += dw;
                    }
                    if let Some(par) = parent.filter(|&par| o.edges && par != id) {
                        let key = ((par as u64) << 32) | id as u64;
                        let inline = ni != nodes.len() - 1;
                        let next = edges.len() as u32;
                        let idx = *edge_index.entry(key).or_insert(next);
                        if idx == next {
                            edges.push((
                                par,
                                id,
                                EdgeAcc {
                                    weight: 0,
                                    weight_div: 0,
                                    residual: false,
                                    inline: true,
                                    seen: 0,
                                },
                            ));
                        }
                        let e = &mut edges[idx as usize].2;
                        if e.seen != stamp {
                            e.seen = stamp;
                            e.weight += w;
                            e.weight_div += dw;
                            e.residual |= residual;
                            e.inline &= inline;
                        }
                    }
                    parent = Some(id);
                    residual = false;
                }
            }
            if let (Some(leaf), false) = (parent, residual) {
                flat[leaf as usize] += w;
                flat_div[leaf as usize] += dw;
            }
        }
        // Select nodes.
        let mut pos = vec![u32::MAX; n];
        let mut nodes = Vec::new();
        for id in 0..n {
            if flat[id] == 0 && cum[id] == 0 {
                continue;
            }
            if o.drop_negative && (flat[id] < 0 || (flat[id] == 0 && cum[id] < 0)) {
                continue;
            }
            pos[id] = nodes.len() as u32;
            let info = table.infos[id].clone();
            nodes.push(Node {
                id: id as u32,
                name: info.printable_name(),
                info,
                flat: flat[id],
                flat_div: flat_div[id],
                cum: cum[id],
                cum_div: cum_div[id],
                in_edges: Vec::new(),
                out_edges: Vec::new(),
            });
        }
        for (src, dest, e) in edges {
            let (ps, pd) = (pos[src as usize], pos[dest as usize]);
            if ps == u32::MAX || pd == u32::MAX {
                continue;
            }
            let edge = Edge {
                src,
                dest,
                weight: e.weight,
                weight_div: e.weight_div,
                residual: e.residual,
                inline: e.inline,
            };
            nodes[ps as usize].out_edges.push(edge.clone());
            nodes[pd as usize].in_edges.push(edge);
        }
        let names = nodes.iter().map(|n| (n.id, n.name.clone())).collect();
        Graph { nodes, names }
    }

    /// The printable name of node `id`.
    pub fn name_of(&self, id: u32) -> &str {
        self.names.get(&id).map_or("", String::as_str)
    }

    /// Sum of the flat values of all nodes.
    pub fn flat_sum(&self) -> i64 {
        self.nodes.iter().map(|n| n.flat).sum()
    }

    /// Sorts nodes by |flat| (or |cum| with `cum`), then by name, as pprof does.
    pub fn sort(&mut self, cum: bool) {
        if cum {
            self.nodes.sort_by(|l, r| {
                r.cum
                    .abs()
                    .cmp(&l.cum.abs())
                    .then_with(|| l.name.cmp(&r.name))
                    .then_with(|| r.flat.abs().cmp(&l.flat.abs()))
                    .then_with(|| l.info.tie_key().cmp(&r.info.tie_key()))
            });
        } else {
            self.nodes.sort_by(|l, r| {
                r.flat
                    .abs()
                    .cmp(&l.flat.abs())
                    .then_with(|| l.name.cmp(&r.name))
                    .then_with(|| r.cum.abs().cmp(&l.cum.abs()))
                    .then_with(|| l.info.tie_key().cmp(&r.info.tie_key()))
            });
        }
    }

    /// Sorts nodes by name (then by the full entry), for source listings.
    pub fn sort_by_name(nodes: &mut [&Node]) {
        nodes.sort_by(|l, r| {
            l.info
                .name
                .cmp(&r.info.name)
                .then_with(|| l.info.tie_key().cmp(&r.info.tie_key()))
        });
    }

    /// Sorts nodes by file, then start line, then the full entry.
    pub fn sort_by_file(nodes: &mut [&Node]) {
        nodes.sort_by(|l, r| {
            l.info
                .file
                .cmp(&r.info.file)
                .then(l.info.start_line.cmp(&r.info.start_line))
                .then_with(|| l.info.tie_key().cmp(&r.info.tie_key()))
        });
    }

    /// Removes edges lighter than `cutoff`; returns how many were removed.
    pub fn trim_edges(&mut self, cutoff: i64) -> usize {
        let mut dropped = 0;
        let mut removed: Vec<(u32, u32)> = Vec::new();
        for n in &mut self.nodes {
            n.in_edges.retain(|e| {
                let keep = e.weight.abs() >= cutoff;
                if !keep {
                    dropped += 1;
                    removed.push((e.src, e.dest));
                }
                keep
            });
        }
        if !removed.is_empty() {
            removed.sort_unstable();
            for n in &mut self.nodes {
                n.out_edges.retain(|e| removed.binary_search(&(e.src, e.dest)).is_err());
            }
        }
        dropped
    }

    /// Edges sorted by |weight| (heaviest first), then by caller and callee names.
    pub fn sorted_edges<'a>(&self, edges: &'a [Edge]) -> Vec<&'a Edge> {
        let mut v: Vec<&Edge> = edges.iter().collect();
        v.sort_by(|a, b| {
            b.weight
                .abs()
                .cmp(&a.weight.abs())
                .then_with(|| self.name_of(a.src).cmp(self.name_of(b.src)))
                .then_with(|| self.name_of(a.dest).cmp(self.name_of(b.dest)))
        });
        v
    }
}

/// Cleans a path lexically like Go's `filepath.Clean`: removes `.` components,
/// resolves `..` where possible and collapses repeated separators.
pub fn clean_path(path: &str) -> String {
    if path.is_empty() {
        return ".".into();
    }
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for comp in path.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            c => parts.push(c),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_path_like_go() {
        assert_eq!(clean_path("/a/b/../c/./d.go"), "/a/c/d.go");
        assert_eq!(clean_path("a//b"), "a/b");
        assert_eq!(clean_path("../x"), "../x");
        assert_eq!(clean_path("/../x"), "/x");
        assert_eq!(clean_path("./"), ".");
    }

    #[test]
    fn printable_names() {
        let mut i = NodeInfo {
            name: "main.f".into(),
            ..Default::default()
        };
        assert_eq!(i.printable_name(), "main.f");
        i.file = "/x/main.go".into();
        assert_eq!(i.printable_name(), "main.f /x/main.go");
        i.lineno = 7;
        i.address = 0x401000;
        assert_eq!(i.printable_name(), "0000000000401000 main.f /x/main.go:7");
        let j = NodeInfo {
            objfile: "/usr/lib/libc.so.6".into(),
            ..Default::default()
        };
        assert_eq!(j.printable_name(), "[libc.so.6]");
        assert_eq!(NodeInfo::default().printable_name(), "<unknown>");
    }
}
