//! Exports for other tools: folded stacks (inferno, FlameGraph, Pyroscope) and
//! Speedscope's JSON format.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde_json::json;

use super::Prepared;
use crate::graph::{NodeOptions, NodeTable};
use crate::model::Profile;

/// The frames of each sample, root first, named as reports name them.
fn stacks<'a>(p: &'a Profile, table: &'a NodeTable) -> impl Iterator<Item = (Vec<u32>, &'a [i64])> + 'a {
    p.samples.iter().map(move |s| {
        let mut frames = Vec::with_capacity(s.locations.len());
        for &loc in s.locations.iter().rev() {
            frames.extend(table.nodes_of(loc).iter().rev().copied());
        }
        (frames, s.values.as_slice())
    })
}

/// Folded stacks of `p` for value `index`: one `(root;...;leaf, value)` pair per
/// distinct stack, values summed, zero totals dropped, sorted by stack.
pub fn folded_stacks(p: &Profile, index: usize) -> Vec<(String, i64)> {
    let table = NodeTable::new(p, NodeOptions::default());
    let names: Vec<String> = table
        .infos
        .iter()
        .map(|i| i.printable_name().replace(';', ":"))
        .collect();
    let mut sums: HashMap<Vec<u32>, i64> = HashMap::new();
    for (frames, values) in stacks(p, &table) {
        if frames.is_empty() {
            continue;
        }
        *sums.entry(frames).or_default() += values[index];
    }
    let mut out: Vec<(String, i64)> = sums
        .into_iter()
        .filter(|(_, v)| *v != 0)
        .map(|(frames, v)| {
            let stack = frames
                .iter()
                .map(|&f| names[f as usize].as_str())
                .collect::<Vec<_>>()
                .join(";");
            (stack, v)
        })
        .collect();
    out.sort();
    out
}

pub(super) fn folded(rpt: &Prepared) -> String {
    let mut out = String::new();
    for (stack, v) in folded_stacks(&rpt.prof, rpt.value_index) {
        let _ = writeln!(out, "{stack} {v}");
    }
    out
}

/// Speedscope's file format: one sampled profile per sample type, the selected one
/// active.
pub fn speedscope_json(p: &Profile, active: usize, name: &str) -> String {
    let table = NodeTable::new(p, NodeOptions::default());
    let frames: Vec<serde_json::Value> = table
        .infos
        .iter()
        .map(|i| {
            let mut f = json!({ "name": if i.name.is_empty() { i.printable_name() } else { i.name.to_string() } });
            if !i.file.is_empty() {
                f["file"] = json!(&*i.file);
            }
            if i.lineno != 0 {
                f["line"] = json!(i.lineno);
            }
            f
        })
        .collect();
    let all: Vec<(Vec<u32>, &[i64])> = stacks(p, &table).filter(|(f, _)| !f.is_empty()).collect();
    let profiles: Vec<serde_json::Value> = p
        .sample_types
        .iter()
        .enumerate()
        .map(|(i, st)| {
            let unit = match &*st.unit {
                "nanoseconds" | "microseconds" | "milliseconds" | "seconds" | "bytes" => &*st.unit,
                _ => "none",
            };
            let mut samples = Vec::new();
            let mut weights = Vec::new();
            for (frames, values) in &all {
                if values[i] > 0 {
                    samples.push(frames.clone());
                    weights.push(values[i]);
                }
            }
            let total: i64 = weights.iter().sum();
            json!({
                "type": "sampled",
                "name": format!("{} ({})", st.ty, st.unit),
                "unit": unit,
                "startValue": 0,
                "endValue": total,
                "samples": samples,
                "weights": weights,
            })
        })
        .collect();
    let doc = json!({
        "$schema": "https://www.speedscope.app/file-format-schema.json",
        "shared": { "frames": frames },
        "profiles": profiles,
        "name": name,
        "activeProfileIndex": active,
        "exporter": concat!("sonde ", env!("CARGO_PKG_VERSION")),
    });
    doc.to_string()
}

pub(super) fn speedscope(rpt: &Prepared) -> String {
    let name = rpt.prof.main_binary().unwrap_or("profile").to_string();
    speedscope_json(&rpt.prof, rpt.value_index, &name)
}
