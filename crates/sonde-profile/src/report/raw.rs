//! `raw`: the whole profile as text, in the layout of pprof's `-raw` output.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{Env, Prepared, civil_from_days};
use crate::model::{LabelValue, Profile};

/// As pprof's `-raw`: the prepared profile as it is, tables uncompacted (a
/// location that pruning or a filter left unused is still listed).
pub(super) fn raw(rpt: &Prepared, _env: &Env) -> String {
    dump(&rpt.prof)
}

/// The text dump of a profile, as `go tool pprof -raw` prints it.
pub(crate) fn dump(p: &Profile) -> String {
    write_dump(p, false)
}

/// What google/pprof's `Profile.String()` prints for `p` today: the layout of
/// `go tool pprof -raw` (see `sonde raw`) with a `Doc:` line when the profile
/// has a documentation link and each line as `file:line:column`. pprof's own
/// tests compare parsed profiles with this text (its `.string` golden files).
pub fn profile_string(p: &Profile) -> String {
    write_dump(p, true)
}

fn write_dump(p: &Profile, current: bool) -> String {
    let mut out = String::new();
    for c in &p.comments {
        let _ = writeln!(out, "Comment: {c}");
    }
    if current && !p.doc_url.is_empty() {
        let _ = writeln!(out, "Doc: {}", p.doc_url);
    }
    if let Some(pt) = &p.period_type {
        let _ = writeln!(out, "PeriodType: {} {}", pt.ty, pt.unit);
    }
    let _ = writeln!(out, "Period: {}", p.period);
    if p.time_nanos != 0 {
        let _ = writeln!(out, "Time: {}", go_time(p.time_nanos));
    }
    if p.duration_nanos != 0 {
        let d = go_duration(p.duration_nanos);
        let _ = writeln!(out, "Duration: {}", d.chars().take(4).collect::<String>());
    }
    out.push_str("Samples:\n");
    let header: Vec<String> = p
        .sample_types
        .iter()
        .map(|s| {
            format!(
                "{}/{}{}",
                s.ty,
                s.unit,
                if s.ty == p.default_sample_type { "[dflt]" } else { "" }
            )
        })
        .collect();
    let _ = writeln!(out, "{}", header.join(" "));
    for s in &p.samples {
        for v in &s.values {
            let _ = write!(out, " {v:>10}");
        }
        out.push_str(": ");
        for l in &s.locations {
            let _ = write!(out, "{} ", l + 1);
        }
        out.push('\n');
        let mut strs: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut nums: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for l in &s.labels {
            match &l.value {
                LabelValue::Str(v) => strs.entry(&l.key).or_default().push(v),
                LabelValue::Num { value, unit } => nums.entry(&l.key).or_default().push(if unit.is_empty() {
                    value.to_string()
                } else {
                    format!("{value} {unit}")
                }),
            }
        }
        if !strs.is_empty() {
            let v: Vec<String> = strs.iter().map(|(k, v)| format!("{k}:[{}]", v.join(" "))).collect();
            let _ = writeln!(out, "                {}", v.join(" "));
        }
        if !nums.is_empty() {
            let v: Vec<String> = nums.iter().map(|(k, v)| format!("{k}:[{}]", v.join(" "))).collect();
            let _ = writeln!(out, "                {}", v.join(" "));
        }
    }
    out.push_str("Locations\n");
    for (i, l) in p.locations.iter().enumerate() {
        let mut loc = format!("{:>6}: {:#x} ", i + 1, l.address);
        if let Some(m) = l.mapping {
            let _ = write!(loc, "M={} ", m + 1);
        }
        if l.is_folded {
            loc.push_str("[F] ");
        }
        if l.lines.is_empty() {
            let _ = writeln!(out, "{loc}");
        }
        for line in &l.lines {
            let f = &p.functions[line.function as usize];
            let mut s = if current {
                format!(
                    "{} {}:{}:{} s={}",
                    f.name, f.filename, line.line, line.column, f.start_line
                )
            } else {
                format!("{} {}:{} s={}", f.name, f.filename, line.line, f.start_line)
            };
            if f.name != f.system_name {
                let _ = write!(s, "({})", f.system_name);
            }
            let _ = writeln!(out, "{loc}{s}");
            loc = " ".repeat(13);
        }
    }
    out.push_str("Mappings\n");
    for (i, m) in p.mappings.iter().enumerate() {
        let mut bits = String::new();
        for (on, b) in [
            (m.has_functions, "[FN]"),
            (m.has_filenames, "[FL]"),
            (m.has_line_numbers, "[LN]"),
            (m.has_inline_frames, "[IN]"),
        ] {
            if on {
                bits.push_str(b);
            }
        }
        let _ = writeln!(
            out,
            "{}: {:#x}/{:#x}/{:#x} {} {} {}",
            i + 1,
            m.memory_start,
            m.memory_limit,
            m.file_offset,
            m.filename,
            m.build_id,
            bits
        );
    }
    out
}

/// A timestamp as Go prints a `time.Time` in UTC.
fn go_time(nanos: i64) -> String {
    let secs = nanos.div_euclid(1_000_000_000);
    let frac = nanos.rem_euclid(1_000_000_000);
    let (y, mo, d) = civil_from_days(secs.div_euclid(86_400));
    let rem = secs.rem_euclid(86_400);
    let mut s = format!(
        "{y:04}-{mo:02}-{d:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
    if frac != 0 {
        let f = format!("{frac:09}");
        let _ = write!(s, ".{}", f.trim_end_matches('0'));
    }
    s.push_str(" +0000 UTC");
    s
}

/// A duration as Go's `time.Duration.String` writes it: `1.5s`, `1m30s`, `250ms`.
pub(crate) fn go_duration(ns: i64) -> String {
    let neg = ns < 0;
    let u = ns.unsigned_abs();
    let body = if u < 1_000_000_000 {
        let (unit, div) = match u {
            0 => return "0s".into(),
            1..=999 => ("ns", 1u64),
            1_000..=999_999 => ("µs", 1_000),
            _ => ("ms", 1_000_000),
        };
        format!("{}{unit}", frac_str(u, div))
    } else {
        let secs = u / 1_000_000_000;
        let sub = u % 1_000_000_000;
        let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
        let sec = frac_str(s * 1_000_000_000 + sub, 1_000_000_000);
        match (h, m) {
            (0, 0) => format!("{sec}s"),
            (0, m) => format!("{m}m{sec}s"),
            (h, m) => format!("{h}h{m}m{sec}s"),
        }
    };
    if neg { format!("-{body}") } else { body }
}

fn frac_str(v: u64, div: u64) -> String {
    let whole = v / div;
    let frac = v % div;
    if frac == 0 {
        return whole.to_string();
    }
    let width = div.to_string().len() - 1;
    let f = format!("{frac:0width$}");
    format!("{whole}.{}", f.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_like_go() {
        assert_eq!(go_duration(2_000_000_000), "2s");
        assert_eq!(go_duration(1_500_000_000), "1.5s");
        assert_eq!(go_duration(90_500_000_000), "1m30.5s");
        assert_eq!(go_duration(250_000_000), "250ms");
        assert_eq!(go_duration(1_500), "1.5µs");
        assert_eq!(go_time(1_506_718_643_123_000_000), "2017-09-29 20:57:23.123 +0000 UTC");
    }
}
