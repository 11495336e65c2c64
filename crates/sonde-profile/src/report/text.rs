//! The table reports: `top`, `tree`/`peek`, `traces` and `tags`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use regex::Regex;

use super::{Env, Report};
use crate::graph::{NodeOptions, NodeTable};
use crate::model::LabelValue;
use crate::units::{self, percentage};
use crate::{Error, Result};

/// `top`: entries sorted by flat (or cum) value with their percentages.
pub(super) fn top(rpt: &mut Report, env: &Env) -> String {
    let (g, orig_count, dropped_nodes, _) = rpt.trimmed_graph();
    rpt.select_output_unit(&g);
    let labels = rpt.report_labels(&g, orig_count, dropped_nodes, env);
    let mut out = String::new();
    for l in labels {
        out.push_str(&l);
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{:>10} {:>5}% {:>5}% {:>10} {:>5}%",
        "flat", "flat", "sum", "cum", "cum"
    );
    let mut flat_sum = 0i64;
    for n in &g.nodes {
        let (flat, cum) = (n.flat_value(), n.cum_value());
        flat_sum += flat;
        let inl = n.inline_label();
        let sep = if inl.is_empty() { "" } else { " " };
        let _ = writeln!(out, "{}  {}{sep}{inl}", value_columns(rpt, flat, flat_sum, cum), n.name);
    }
    out
}

/// The `flat flat% sum% cum cum%` columns of a row.
fn value_columns(rpt: &Report, flat: i64, flat_sum: i64, cum: i64) -> String {
    format!(
        "{:>10} {} {} {:>10} {}",
        rpt.format_value(flat),
        percentage(flat, rpt.total),
        percentage(flat_sum, rpt.total),
        rpt.format_value(cum),
        percentage(cum, rpt.total)
    )
}

/// `tree` (all entries) and `peek REGEX` (matching entries): each entry with its
/// callers above and callees below, weighted.
pub(super) fn tree(rpt: &mut Report, rx: Option<&Regex>, env: &Env) -> Result<String> {
    const SEPARATOR: &str = "----------------------------------------------------------+-------------";
    const LEGEND: &str = "      flat  flat%   sum%        cum   cum%   calls calls% + context \t \t ";
    let (g, orig_count, dropped_nodes, _) = rpt.trimmed_graph();
    rpt.select_output_unit(&g);
    let mut out = String::new();
    for l in rpt.report_labels(&g, orig_count, dropped_nodes, env) {
        out.push_str(&l);
        out.push('\n');
    }
    out.push_str(SEPARATOR);
    out.push('\n');
    out.push_str(LEGEND);
    out.push('\n');
    let mut flat_sum = 0i64;
    let mut matched = 0;
    for n in &g.nodes {
        if rx.is_some_and(|rx| !rx.is_match(&n.name)) {
            continue;
        }
        matched += 1;
        let (flat, cum) = (n.flat_value(), n.cum_value());
        out.push_str(SEPARATOR);
        out.push('\n');
        let edge_line = |out: &mut String, e: &crate::graph::Edge, other: u32| {
            let inline = if e.inline { " (inline)" } else { "" };
            let (w, pct) = (rpt.format_value(e.weight), percentage(e.weight, cum));
            let _ = writeln!(out, "{w:>50} {pct} |   {}{inline}", g.name_of(other));
        };
        for e in g.sorted_edges(&n.in_edges) {
            edge_line(&mut out, e, e.src);
        }
        flat_sum += flat;
        let _ = writeln!(
            out,
            "{}                | {}",
            value_columns(rpt, flat, flat_sum, cum),
            n.name
        );
        for e in g.sorted_edges(&n.out_edges) {
            edge_line(&mut out, e, e.dest);
        }
    }
    if !g.nodes.is_empty() {
        out.push_str(SEPARATOR);
        out.push('\n');
    }
    if let Some(rx) = rx {
        if matched == 0 {
            return Err(Error::NoMatches(rx.as_str().to_string()));
        }
    }
    Ok(out)
}

/// `traces`: every sample with its labels, value and stack (leaf first).
pub(super) fn traces(rpt: &Report, env: &Env) -> String {
    const SEPARATOR: &str = "-----------+-------------------------------------------------------";
    let mut out = String::new();
    for l in rpt.profile_labels(env) {
        out.push_str(&l);
        out.push('\n');
    }
    let p = &rpt.prof;
    let table = NodeTable::new(p, NodeOptions::default());
    let names: Vec<String> = table.infos.iter().map(|i| i.printable_name()).collect();
    let num_units = p.num_label_units();
    for s in &p.samples {
        if s.locations.is_empty() {
            continue;
        }
        out.push_str(SEPARATOR);
        out.push('\n');
        // Labels grouped by key, string ones first, each group sorted.
        let mut str_labels: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut num_labels: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for l in &s.labels {
            match &l.value {
                LabelValue::Str(v) => str_labels.entry(&l.key).or_default().push(v),
                LabelValue::Num { value, .. } => {
                    let unit = num_units.get(&l.key).map_or("", |u| &**u);
                    num_labels.entry(&l.key).or_default().push(units::label(*value, unit));
                }
            }
        }
        let mut lines: Vec<String> = str_labels
            .iter()
            .map(|(k, vs)| format!("{k:>10}:  {}\n", vs.join(" ")))
            .collect();
        lines.sort();
        lines.into_iter().for_each(|l| out.push_str(&l));
        let mut lines: Vec<String> = num_labels
            .iter()
            .map(|(k, vs)| format!("{k:>10}:  {}\n", vs.join(" ")))
            .collect();
        lines.sort();
        lines.into_iter().for_each(|l| out.push_str(&l));

        let mut v = rpt.value(&s.values);
        let d = rpt.mean_div(&s.values);
        if d != 0 {
            v /= d;
        }
        let mut first = true;
        for &loc in &s.locations {
            let nodes = table.nodes_of(loc);
            for (i, &id) in nodes.iter().enumerate() {
                let vs = if first { rpt.format_value(v) } else { String::new() };
                first = false;
                let inline = if i != nodes.len() - 1 { " (inline)" } else { "" };
                let _ = writeln!(out, "{vs:>10}   {}{inline}", names[id as usize]);
            }
        }
    }
    out.push_str(SEPARATOR);
    out.push('\n');
    out
}

/// `tags`: for each label key, the values and the share of the total they carry.
pub(super) fn tags(rpt: &Report) -> String {
    let p = &rpt.prof;
    let num_units = p.num_label_units();
    let mut tag_map: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for s in &p.samples {
        let v = rpt.value(&s.values);
        for l in &s.labels {
            let val = match &l.value {
                LabelValue::Str(v) => v.to_string(),
                LabelValue::Num { value, .. } => {
                    let unit = num_units.get(&l.key).map_or("", |u| &**u);
                    units::scaled_label(*value, unit, &rpt.output_unit)
                }
            };
            *tag_map.entry(l.key.to_string()).or_default().entry(val).or_default() += v;
        }
    }
    // Cells as Go's tabwriter sees them: tab-terminated cells, then trailing text.
    let mut lines: Vec<Vec<String>> = Vec::new();
    for (key, values) in &tag_map {
        let total: i64 = values.values().sum();
        let (f, u) = units::scale(total, &rpt.sample_unit, &rpt.output_unit);
        lines.push(vec![format!("{key}:"), format!(" Total {f:.1}{u}")]);
        let mut vals: Vec<(&String, &i64)> = values.iter().collect();
        vals.sort_by(|a, b| b.1.abs().cmp(&a.1.abs()).then(a.0.cmp(b.0)));
        for (name, &v) in vals {
            let (f, u) = units::scale(v, &rpt.sample_unit, &rpt.output_unit);
            let amount = if total > 0 {
                format!("{f:.1}{u} ({}):", percentage(v, total))
            } else {
                format!("{f:.1}{u}:")
            };
            lines.push(vec![" ".into(), amount, format!(" {name}")]);
        }
        lines.push(vec![String::new()]);
    }
    let mut out = String::new();
    let mut widths = Vec::new();
    tab_format(&lines, 0, lines.len(), &mut widths, &mut out);
    out
}

/// Lays out `lines[l0..l1]` like Go's `text/tabwriter` with right alignment and a
/// padding of one: every line's cells but the last are columns, and a column's
/// width is set per block of consecutive lines that have it.
fn tab_format(lines: &[Vec<String>], mut l0: usize, l1: usize, widths: &mut Vec<usize>, out: &mut String) {
    let column = widths.len();
    let mut this = l0;
    while this < l1 {
        if column + 1 >= lines[this].len() {
            this += 1;
            continue;
        }
        tab_write(&lines[l0..this], widths, out);
        l0 = this;
        let mut width = 0;
        while this < l1 && column + 1 < lines[this].len() {
            width = width.max(lines[this][column].chars().count() + 1);
            this += 1;
        }
        widths.push(width);
        tab_format(lines, l0, this, widths, out);
        widths.pop();
        l0 = this;
    }
    tab_write(&lines[l0..l1], widths, out);
}

fn tab_write(lines: &[Vec<String>], widths: &[usize], out: &mut String) {
    for line in lines {
        for (j, cell) in line.iter().enumerate() {
            if j < widths.len() {
                let pad = widths[j].saturating_sub(cell.chars().count());
                out.extend(std::iter::repeat_n(' ', pad));
            }
            out.push_str(cell);
        }
        out.push('\n');
    }
}
