//! The options every analysis command shares (the flags of `go tool pprof`), and
//! the environment reports need (local time, source files).

use anyhow::{Result, bail};
use clap::Args;
use sonde_profile::Granularity;
use sonde_profile::report::{Config, Env, SourceOpener};

use crate::load::Sources;

/// Options shared by the analysis commands.
#[derive(Args, Clone, Debug, Default)]
pub struct AnalysisArgs {
    /// Profiles to analyse (.pb.gz or raw protobuf); several are merged.
    #[arg(required = true, value_name = "PROFILE")]
    pub profiles: Vec<String>,

    /// Subtract this profile (e.g. an earlier heap profile) before reporting; repeatable.
    #[arg(long, value_name = "PROFILE", help_heading = "Comparison")]
    pub base: Vec<String>,
    /// Compare against this profile: percentages are relative to it; repeatable.
    #[arg(long = "diff-base", value_name = "PROFILE", help_heading = "Comparison")]
    pub diff_base: Vec<String>,
    /// Scale the profile so its total matches the base's before comparing.
    #[arg(long, help_heading = "Comparison")]
    pub normalize: bool,

    /// Sample value to report: a type name (alloc_space, inuse_objects, delay, ...) or its index.
    #[arg(
        long = "sample-index",
        visible_alias = "sample_index",
        value_name = "TYPE",
        help_heading = "Values"
    )]
    pub sample_index: Option<String>,
    /// Report the mean value per event (value divided by the event count).
    #[arg(long, help_heading = "Values")]
    pub mean: bool,
    /// Unit for values: minimum (default), auto, or a unit such as ms, s, kB, MB.
    #[arg(long, value_name = "UNIT", help_heading = "Values")]
    pub unit: Option<String>,
    /// Divide all values by this number.
    #[arg(long = "divide-by", value_name = "N", help_heading = "Values")]
    pub divide_by: Option<f64>,

    /// Keep only samples with a frame matching REGEX.
    #[arg(long, value_name = "REGEX", help_heading = "Filters")]
    pub focus: Option<String>,
    /// Drop samples with a frame matching REGEX.
    #[arg(long, value_name = "REGEX", help_heading = "Filters")]
    pub ignore: Option<String>,
    /// Remove frames matching REGEX from stacks.
    #[arg(long, value_name = "REGEX", help_heading = "Filters")]
    pub hide: Option<String>,
    /// Keep only frames matching REGEX.
    #[arg(long, value_name = "REGEX", help_heading = "Filters")]
    pub show: Option<String>,
    /// Drop the callers above the highest frame matching REGEX.
    #[arg(long = "show-from", value_name = "REGEX", help_heading = "Filters")]
    pub show_from: Option<String>,
    /// Drop the callees below the lowest frame matching REGEX.
    #[arg(long = "prune-from", value_name = "REGEX", help_heading = "Filters")]
    pub prune_from: Option<String>,
    /// Keep only samples whose labels match: key=REGEX, REGEX (against key:value), or a range like 1kb:64kb.
    #[arg(long, value_name = "FILTER", help_heading = "Filters")]
    pub tagfocus: Option<String>,
    /// Drop samples whose labels match (same forms as --tagfocus).
    #[arg(long, value_name = "FILTER", help_heading = "Filters")]
    pub tagignore: Option<String>,
    /// Keep only labels whose key matches REGEX.
    #[arg(long, value_name = "REGEX", help_heading = "Filters")]
    pub tagshow: Option<String>,
    /// Remove labels whose key matches REGEX.
    #[arg(long, value_name = "REGEX", help_heading = "Filters")]
    pub taghide: Option<String>,

    /// One entry per function (default).
    #[arg(long, group = "gran", help_heading = "Granularity")]
    pub functions: bool,
    /// One entry per function and file.
    #[arg(long, group = "gran", help_heading = "Granularity")]
    pub filefunctions: bool,
    /// One entry per source file.
    #[arg(long, group = "gran", help_heading = "Granularity")]
    pub files: bool,
    /// One entry per source line.
    #[arg(long, group = "gran", help_heading = "Granularity")]
    pub lines: bool,
    /// One entry per instruction address.
    #[arg(long, group = "gran", help_heading = "Granularity")]
    pub addresses: bool,
    /// Attribute inlined functions to their callers.
    #[arg(long, help_heading = "Granularity")]
    pub noinlines: bool,

    /// Show at most N entries.
    #[arg(long, short = 'n', value_name = "N", help_heading = "Display")]
    pub nodecount: Option<usize>,
    /// Hide entries below this fraction of the total (default 0.005).
    #[arg(long, value_name = "F", help_heading = "Display")]
    pub nodefraction: Option<f64>,
    /// Hide call edges below this fraction of the total (default 0.001).
    #[arg(long, value_name = "F", help_heading = "Display")]
    pub edgefraction: Option<f64>,
    /// Sort by cumulative value.
    #[arg(long, help_heading = "Display")]
    pub cum: bool,
    /// Hide entries with negative values.
    #[arg(long = "drop-negative", help_heading = "Display")]
    pub drop_negative: bool,
    /// Percentages relative to the focused samples, not the whole profile.
    #[arg(long = "relative-percentages", help_heading = "Display")]
    pub relative_percentages: bool,
    /// Omit the header lines about the profile.
    #[arg(long = "compact-labels", help_heading = "Display")]
    pub compact_labels: bool,

    /// Directories to search for source files (`:`-separated), for list.
    #[arg(long = "source-path", value_name = "DIRS", help_heading = "Source")]
    pub source_path: Option<String>,
    /// Path prefixes to drop from recorded source paths (`:`-separated), for list.
    #[arg(long = "trim-path", value_name = "PREFIXES", help_heading = "Source")]
    pub trim_path: Option<String>,

    /// Refuse profiles whose decompressed size exceeds this (bytes; K, M, G suffixes accepted).
    #[arg(long = "max-size", value_name = "SIZE", default_value = "1G", value_parser = parse_size)]
    pub max_size: u64,
}

/// Parses a byte size such as `1048576`, `64M` or `1G`.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mult) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        None => (t, 1u64),
        Some((i, _)) => {
            let mult = match t[i..].to_ascii_lowercase().as_str() {
                "k" | "kb" | "kib" => 1 << 10,
                "m" | "mb" | "mib" => 1 << 20,
                "g" | "gb" | "gib" => 1 << 30,
                "t" | "tb" | "tib" => 1 << 40,
                "b" => 1,
                other => return Err(format!("unknown size suffix {other:?}; use K, M or G")),
            };
            (&t[..i], mult)
        }
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size; use e.g. 512M or 2G"))?;
    n.checked_mul(mult).ok_or_else(|| format!("{s} is too large"))
}

impl AnalysisArgs {
    /// Where to read profiles from.
    pub fn sources(&self) -> Sources {
        Sources {
            sources: self.profiles.clone(),
            base: self.base.clone(),
            diff_base: self.diff_base.clone(),
            normalize: self.normalize,
            max_size: self.max_size,
        }
    }

    /// The report configuration these options describe.
    pub fn config(&self) -> Result<Config> {
        let mut c = Config::default();
        let set = |dst: &mut String, v: &Option<String>| {
            if let Some(v) = v {
                *dst = v.clone();
            }
        };
        set(&mut c.focus, &self.focus);
        set(&mut c.ignore, &self.ignore);
        set(&mut c.hide, &self.hide);
        set(&mut c.show, &self.show);
        set(&mut c.show_from, &self.show_from);
        set(&mut c.prune_from, &self.prune_from);
        set(&mut c.tagfocus, &self.tagfocus);
        set(&mut c.tagignore, &self.tagignore);
        set(&mut c.tagshow, &self.tagshow);
        set(&mut c.taghide, &self.taghide);
        set(&mut c.source_path, &self.source_path);
        set(&mut c.trim_path, &self.trim_path);
        if let Some(u) = &self.unit {
            c.unit = u.clone();
        }
        c.sample_index = self.sample_index.clone();
        c.mean = self.mean;
        if let Some(d) = self.divide_by {
            if d == 0.0 || !d.is_finite() {
                bail!("--divide-by must be a non-zero number");
            }
            c.divide_by = d;
        }
        c.granularity = if self.filefunctions {
            Granularity::FileFunctions
        } else if self.files {
            Granularity::Files
        } else if self.lines {
            Granularity::Lines
        } else if self.addresses {
            Granularity::Addresses
        } else {
            Granularity::Functions
        };
        c.noinlines = self.noinlines;
        c.nodecount = self.nodecount;
        if let Some(f) = self.nodefraction {
            if !(0.0..=1.0).contains(&f) {
                bail!("--nodefraction must be between 0 and 1, got {f}");
            }
            c.nodefraction = f;
        }
        if let Some(f) = self.edgefraction {
            if !(0.0..=1.0).contains(&f) {
                bail!("--edgefraction must be between 0 and 1, got {f}");
            }
            c.edgefraction = f;
        }
        c.cum = self.cum;
        c.drop_negative = self.drop_negative;
        c.relative_percentages = self.relative_percentages;
        c.compact_labels = self.compact_labels;
        Ok(c)
    }
}

/// Formats a timestamp in the local time zone in pprof's layout.
pub fn format_local_time(nanos: i64) -> String {
    let zoned = jiff::Timestamp::from_nanosecond(nanos as i128)
        .ok()
        .map(|t| t.to_zoned_datetime(jiff::tz::TimeZone::system()));
    match zoned {
        Some(z) => z.strftime("%b %-d, %Y at %-I:%M%P (%Z)").to_string(),
        None => sonde_profile::report::format_time_utc(nanos),
    }
}

fn read_source(path: &str) -> std::io::Result<String> {
    let bytes = std::fs::read(path)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

/// Runs `f` with the report environment of this process.
pub fn with_env<T>(f: impl FnOnce(&Env) -> T) -> T {
    let opener = SourceOpener {
        read: &read_source,
        current_dir: std::env::current_dir()
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    let env = Env {
        format_time: &format_local_time,
        open_source: &opener,
    };
    f(&env)
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1G"), Ok(1 << 30));
        assert_eq!(parse_size("512m"), Ok(512 << 20));
        assert_eq!(parse_size("100"), Ok(100));
        assert!(parse_size("12x").is_err());
        assert!(parse_size("lots").is_err());
    }
}
