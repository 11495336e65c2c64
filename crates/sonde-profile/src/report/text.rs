//! The text renderer: the rows of `top`, `tree`/`peek`, `traces` and `list`
//! printed as `go tool pprof` prints them, digit for digit; and `tags`.

use std::fmt::Write as _;

use super::Prepared;
use super::rows::{Listing, TagKey, Top, Traces, Tree, TreeEdge};
use crate::units::{self, percentage};

/// `top`'s rows as pprof prints them.
pub(super) fn top(top: &Top) -> String {
    let mut out = String::new();
    for l in &top.labels {
        out.push_str(l);
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "{:>10} {:>5}% {:>5}% {:>10} {:>5}%",
        "flat", "flat", "sum", "cum", "cum"
    );
    let mut flat_sum = 0i64;
    for r in &top.rows {
        flat_sum += r.flat;
        let sep = if r.inline_label.is_empty() { "" } else { " " };
        let columns = value_columns(top.total, (&r.flat_format, r.flat), flat_sum, (&r.cum_format, r.cum));
        let _ = writeln!(out, "{columns}  {}{sep}{}", r.name, r.inline_label);
    }
    out
}

/// The `flat flat% sum% cum cum%` columns of a row.
fn value_columns(total: i64, flat: (&str, i64), flat_sum: i64, cum: (&str, i64)) -> String {
    format!(
        "{:>10} {} {} {:>10} {}",
        flat.0,
        percentage(flat.1, total),
        percentage(flat_sum, total),
        cum.0,
        percentage(cum.1, total)
    )
}

/// `tree` and `peek`: each entry with its callers above and callees below.
pub(super) fn tree(tree: &Tree) -> String {
    const SEPARATOR: &str = "----------------------------------------------------------+-------------";
    const LEGEND: &str = "      flat  flat%   sum%        cum   cum%   calls calls% + context \t \t ";
    let mut out = String::new();
    for l in &tree.labels {
        out.push_str(l);
        out.push('\n');
    }
    out.push_str(SEPARATOR);
    out.push('\n');
    out.push_str(LEGEND);
    out.push('\n');
    let mut flat_sum = 0i64;
    for n in &tree.entries {
        out.push_str(SEPARATOR);
        out.push('\n');
        let edge_line = |out: &mut String, e: &TreeEdge| {
            let inline = if e.inline { " (inline)" } else { "" };
            let (w, pct) = (&e.weight_format, percentage(e.weight, n.cum));
            let _ = writeln!(out, "{w:>50} {pct} |   {}{inline}", e.name);
        };
        for e in &n.callers {
            edge_line(&mut out, e);
        }
        flat_sum += n.flat;
        let columns = value_columns(tree.total, (&n.flat_format, n.flat), flat_sum, (&n.cum_format, n.cum));
        let _ = writeln!(out, "{columns}                | {}", n.name);
        for e in &n.callees {
            edge_line(&mut out, e);
        }
    }
    if !tree.entries.is_empty() {
        out.push_str(SEPARATOR);
        out.push('\n');
    }
    out
}

/// `traces`: every sample with its labels, value and stack (leaf first).
pub(super) fn traces(traces: &Traces) -> String {
    const SEPARATOR: &str = "-----------+-------------------------------------------------------";
    let mut out = String::new();
    for l in &traces.labels {
        out.push_str(l);
        out.push('\n');
    }
    for t in traces.iter() {
        out.push_str(SEPARATOR);
        out.push('\n');
        // Labels grouped by key, string ones first, each group sorted as printed.
        for group in [&t.str_labels, &t.num_labels] {
            let mut lines: Vec<String> = group
                .iter()
                .map(|(k, vs)| format!("{k:>10}:  {}\n", vs.join(" ")))
                .collect();
            lines.sort();
            lines.into_iter().for_each(|l| out.push_str(&l));
        }
        for (i, f) in t.frames.iter().enumerate() {
            let vs = if i == 0 { t.value_format.as_str() } else { "" };
            let inline = if f.inline { " (inline)" } else { "" };
            let _ = writeln!(out, "{vs:>10}   {}{inline}", traces.names[f.name as usize]);
        }
    }
    out.push_str(SEPARATOR);
    out.push('\n');
    out
}

/// `list`: each routine's header and its lines.
pub(super) fn list(listing: &Listing) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Total: {}", listing.total_format);
    for r in &listing.routines {
        let Some(file) = &r.file else {
            let _ = writeln!(out, "No source information for {}", r.function);
            continue;
        };
        let _ = writeln!(out, "ROUTINE ======================== {} in {file}", r.function);
        let _ = writeln!(
            out,
            "{:>10} {:>10} (flat, cum) {} of Total",
            r.flat_format,
            r.cum_format,
            percentage(r.cum, listing.total)
        );
        for l in &r.lines {
            let text = l.text.as_deref().unwrap_or(" (source not available)");
            let _ = writeln!(out, "{:>10} {:>10} {:>6}:{text}", l.flat_format, l.cum_format, l.lineno);
        }
    }
    out
}

/// `tags`: for each label key, the values and the share of the total they carry.
pub(super) fn tags(rpt: &Prepared) -> String {
    let tags = rpt.tags();
    // Cells as Go's tabwriter sees them: tab-terminated cells, then trailing text.
    let mut lines: Vec<Vec<String>> = Vec::new();
    for TagKey { key, total, values, .. } in &tags {
        let total = *total;
        let (f, u) = units::scale(total, &rpt.sample_unit, &rpt.output_unit);
        lines.push(vec![format!("{key}:"), format!(" Total {f:.1}{u}")]);
        for (name, v) in values {
            let v = *v;
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
