//! The growth report (`sonde growth`): which sites grow steadily over a
//! series of snapshots (heap in use, live threads or tasks), the leak hunt of
//! the seed's Case Study 2 done by the tool instead of a person choosing two
//! files to diff.
//!
//! Each snapshot is prepared as `top` prepares it, with the `user_code` view
//! (so an allocation inside `Vec::with_capacity` is charged to the user's
//! function that called it) at function granularity. A site is such a
//! function, and its value in a snapshot is its flat value there (0 where it
//! is absent). Each site's values are fitted with a least-squares line over
//! time; a site **grows steadily** when the line rises, explains most of the
//! variation (r² ≥ [`STEADY_R2`]), its last value exceeds its first, and its
//! fitted rise is at least [`MIN_SHARE_OF_RISE`] of the total's.
//! Sites are ranked by the growth the fit explains: (fitted rise over the
//! span) × r², most suspicious first.

use serde_json::json;

use super::{Command, Config, prepare};
use crate::Result;
use crate::model::Profile;
use crate::units;

/// The fit quality (r²) from which a rising site counts as steady.
pub const STEADY_R2: f64 = 0.5;

/// The smallest fitted rise listed, as a share of the total's rise: 0.5%.
/// Smaller risers are noise of the sampling (a sampled site's estimate
/// scales with the exact totals it is calibrated to).
pub const MIN_SHARE_OF_RISE: f64 = 0.005;

/// One site's trend.
#[derive(Clone, Debug, PartialEq)]
pub struct GrowthRow {
    /// The site: the function its values are charged to.
    pub name: String,
    /// Its value in the first snapshot (in the sample type's unit).
    pub first: i64,
    /// Its value in the last snapshot.
    pub last: i64,
    /// The fitted slope, in the unit per hour.
    pub rate_per_hour: f64,
    /// How well a line explains its values (0 to 1; 1 when it never changes).
    pub r2: f64,
    /// In how many snapshots it appears.
    pub seen: usize,
    /// The rank's score: fitted rise over the span × r².
    pub score: f64,
}

/// The sites that grow, most suspicious first.
#[derive(Clone, Debug, PartialEq)]
pub struct Growth {
    /// The sample type fitted (`inuse_space`, `goroutine`).
    pub sample_type: String,
    /// Its unit (`bytes`, `count`).
    pub unit: String,
    /// How many snapshots were read.
    pub snapshots: usize,
    /// From the first snapshot to the last, in ns.
    pub span_nanos: i64,
    /// The total of the sample type in the first and last snapshots.
    pub total_first: i64,
    /// See `total_first`.
    pub total_last: i64,
    /// The sites that grow steadily, most suspicious first.
    pub rows: Vec<GrowthRow>,
}

/// Fits every site of `snapshots` (time in ns since the epoch, profile),
/// which need not be sorted. `cfg` chooses the sample type (`sample_index`,
/// defaulting as `top` does: `inuse_space` for a heap) and filters (focus,
/// ignore, …) as for any report; `user_code` is turned on.
///
/// # Errors
/// Fewer than two snapshots ([`crate::Error::BadOption`]); what preparing a
/// snapshot for `top` reports (an unknown sample type, a bad regex).
pub fn growth(mut snapshots: Vec<(i64, Profile)>, cfg: &Config) -> Result<Growth> {
    if snapshots.len() < 2 {
        return Err(crate::Error::BadOption(format!(
            "a trend needs at least two snapshots, and there {}; let the agent take more, or widen --from/--to",
            if snapshots.len() == 1 { "is one" } else { "are none" }
        )));
    }
    snapshots.sort_by_key(|s| s.0);
    let cfg = Config {
        user_code: true,
        ..cfg.clone()
    };
    let t0 = snapshots[0].0;
    let span_nanos = snapshots.last().map_or(0, |s| s.0.saturating_sub(t0));
    let n = snapshots.len();
    let mut sites: std::collections::HashMap<String, Vec<i64>> = Default::default();
    let (mut sample_type, mut unit) = (String::new(), String::new());
    let mut totals = vec![0i64; n];
    let mut hours = Vec::with_capacity(n);
    for (i, (t, p)) in snapshots.into_iter().enumerate() {
        hours.push(t.saturating_sub(t0) as f64 / 3.6e12);
        let (rpt, _) = prepare(p, &Command::Top, &cfg)?;
        if rpt.sample_type.starts_with("alloc_") {
            return Err(crate::Error::BadOption(format!(
                "{} counts every allocation since the program started, so it only ever grows; growth fits what \
                 is in use (inuse_space, the default, or inuse_objects). For where allocations go, read a window \
                 of allocs deltas: sonde top --store DIR --kind allocs --from -1h",
                rpt.sample_type
            )));
        }
        sample_type.clone_from(&rpt.sample_type);
        unit.clone_from(&rpt.sample_unit);
        totals[i] = rpt.total;
        for s in &rpt.prof.samples {
            let Some(leaf) = s.locations.first().map(|&l| &rpt.prof.locations[l as usize]) else {
                continue;
            };
            let Some(line) = leaf.lines.first() else { continue };
            let name = rpt.prof.functions[line.function as usize].name.to_string();
            sites.entry(name).or_insert_with(|| vec![0; n])[i] += rpt.value(&s.values);
        }
    }
    let span_hours = hours[n - 1].max(f64::MIN_POSITIVE);
    // A site whose rise is a sliver of the whole heap's is noise: sampled
    // sites' estimates scale with the totals they are calibrated to.
    let min_rise = MIN_SHARE_OF_RISE * (totals[n - 1] - totals[0]).max(0) as f64;
    let mut rows: Vec<GrowthRow> = sites
        .into_iter()
        .filter_map(|(name, values)| {
            let (slope, r2) = fit(&hours, &values);
            let (first, last) = (values[0], values[n - 1]);
            let steady = slope > 0.0 && r2 >= STEADY_R2 && last > first && slope * span_hours >= min_rise;
            steady.then(|| GrowthRow {
                name,
                first,
                last,
                rate_per_hour: slope,
                r2,
                seen: values.iter().filter(|&&v| v != 0).count(),
                score: slope * span_hours * r2,
            })
        })
        .collect();
    rows.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.name.cmp(&b.name)));
    Ok(Growth {
        sample_type,
        unit,
        snapshots: n,
        span_nanos,
        total_first: totals[0],
        total_last: totals[n - 1],
        rows,
    })
}

/// The least-squares slope of `ys` over `xs`, and r² (1 for a constant series).
fn fit(xs: &[f64], ys: &[i64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mx = xs.iter().sum::<f64>() / n;
    let my = ys.iter().map(|&y| y as f64).sum::<f64>() / n;
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for (&x, &y) in xs.iter().zip(ys) {
        let (dx, dy) = (x - mx, y as f64 - my);
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    if syy == 0.0 {
        return (0.0, 1.0);
    }
    if sxx == 0.0 {
        return (0.0, 0.0);
    }
    let slope = sxy / sxx;
    (slope, (sxy * sxy / (sxx * syy)).clamp(0.0, 1.0))
}

impl Growth {
    /// The report as text: a header, then one row per site.
    pub fn text(&self) -> String {
        let label = |v: i64| units::label(v, &self.unit);
        let hours = self.span_nanos as f64 / 3.6e12;
        let mut out = format!(
            "Type: {}\n{} snapshots over {}; total {} -> {}\n",
            self.sample_type,
            self.snapshots,
            span_text(self.span_nanos),
            label(self.total_first),
            label(self.total_last)
        );
        if self.rows.is_empty() {
            out.push_str(&format!(
                "No site grows steadily (a rising least-squares line with r² >= {STEADY_R2}, rising by at least \
                 {}% of the total's rise).\n",
                MIN_SHARE_OF_RISE * 100.0
            ));
            return out;
        }
        out.push_str(&format!(
            "{:>12} {:>5} {:>10} {:>10} {:>6}  site (most suspicious first)\n",
            "rate", "r²", "first", "last", "seen"
        ));
        for r in &self.rows {
            let rate = (r.rate_per_hour.round() as i64).max(0);
            out.push_str(&format!(
                "{:>12} {:>5.2} {:>10} {:>10} {:>6}  {}\n",
                format!("{}/h", label(rate)),
                r.r2,
                label(r.first),
                label(r.last),
                format!("{}/{}", r.seen, self.snapshots),
                r.name
            ));
        }
        if hours < 1.0 {
            out.push_str("(rates are per hour, extrapolated from a shorter span)\n");
        }
        out
    }

    /// The report as JSON, for scripts: the header fields and one object per row.
    pub fn json(&self) -> String {
        let rows: Vec<_> = self
            .rows
            .iter()
            .map(|r| {
                json!({
                    "site": r.name, "first": r.first, "last": r.last,
                    "rate_per_hour": r.rate_per_hour, "r2": r.r2, "seen": r.seen, "score": r.score,
                })
            })
            .collect();
        json!({
            "sample_type": self.sample_type, "unit": self.unit, "snapshots": self.snapshots,
            "span_nanos": self.span_nanos, "total_first": self.total_first,
            "total_last": self.total_last, "rows": rows,
        })
        .to_string()
    }
}

/// A span as `3h12m`, `4m30s` or `20.5s`.
fn span_text(nanos: i64) -> String {
    let s = nanos as f64 / 1e9;
    if s >= 3600.0 {
        format!("{}h{:02}m", (s / 3600.0) as i64, (s % 3600.0 / 60.0) as i64)
    } else if s >= 60.0 {
        format!("{}m{:02}s", (s / 60.0) as i64, (s % 60.0) as i64)
    } else {
        format!("{s:.1}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Function, Line, Location, Sample, ValueType};

    /// A heap snapshot with `leak` bytes at `leaky` and `flat` at `steady`.
    fn snapshot(leak: i64, noise: i64) -> Profile {
        let mut p = Profile::default();
        p.sample_types.push(ValueType::new("inuse_space", "bytes"));
        for (i, name) in ["leaky", "steady", "main"].into_iter().enumerate() {
            p.functions.push(Function {
                name: name.into(),
                filename: "src/main.rs".into(),
                ..Default::default()
            });
            p.locations.push(Location {
                lines: vec![Line {
                    function: i as u32,
                    line: 1,
                    ..Default::default()
                }],
                ..Default::default()
            });
        }
        p.samples.push(Sample {
            locations: vec![0, 2],
            values: vec![leak],
            ..Default::default()
        });
        p.samples.push(Sample {
            locations: vec![1, 2],
            values: vec![1_000_000 + noise],
            ..Default::default()
        });
        p
    }

    #[test]
    fn names_the_steady_grower_first() {
        let hour = 3_600_000_000_000i64;
        let snaps: Vec<(i64, Profile)> = (0..10)
            .map(|i| {
                (
                    i * hour / 10,
                    snapshot(100_000 * i, [0, 300_000, -200_000][i as usize % 3]),
                )
            })
            .collect();
        let g = growth(snaps, &Config::default()).expect("growth");
        assert_eq!(g.rows.len(), 1, "{}", g.text());
        let r = &g.rows[0];
        assert_eq!(r.name, "leaky");
        assert!((r.rate_per_hour - 1_000_000.0).abs() < 1.0, "{r:?}");
        assert!(r.r2 > 0.999);
        assert_eq!((r.first, r.last, r.seen), (0, 900_000, 9));
        let text = g.text();
        assert!(text.contains("976.56kB/h"), "{text}");
        let json: serde_json::Value = serde_json::from_str(&g.json()).expect("json");
        assert_eq!(json["rows"][0]["site"], "leaky");
    }

    #[test]
    fn cumulative_sample_types_are_refused() {
        let mut snap = snapshot(1, 0);
        snap.sample_types[0] = ValueType::new("alloc_space", "bytes");
        let e = growth(vec![(0, snap.clone()), (1, snap)], &Config::default()).expect_err("alloc_space");
        assert!(e.to_string().contains("inuse_space"), "{e}");
    }

    #[test]
    fn too_few_snapshots_is_an_error_saying_what_to_do() {
        let e = growth(vec![(0, snapshot(1, 0))], &Config::default()).expect_err("one");
        assert!(e.to_string().contains("at least two snapshots"), "{e}");
    }
}
