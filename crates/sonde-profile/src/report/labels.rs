//! The header lines of reports (`File:`, `Type:`, `Time:`, `Duration:`, active
//! filters, what was shown and dropped) and the shell's greeting, as pprof's
//! `report.ProfileLabels` and `reportLabels` print them.

use super::{Command, Config, Env, Prepared};
use crate::Result;
use crate::graph::Graph;
use crate::model::{Profile, base_name};
use crate::units;

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

impl Prepared {
    /// The header lines describing the profile (file, type, time, duration).
    pub(super) fn profile_labels(&self, env: &Env) -> Vec<String> {
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
    pub(super) fn report_labels(&self, g: &Graph, orig_count: usize, dropped_nodes: usize, env: &Env) -> Vec<String> {
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
    let rpt = Prepared::new(p.clone(), Command::Top, cfg.clone())?;
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
