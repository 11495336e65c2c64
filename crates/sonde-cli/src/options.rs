//! The options every analysis command shares (the flags of `go tool pprof`), and
//! the environment reports need (local time, source files).

use anyhow::{Result, anyhow};
use clap::Args;
use sonde_profile::report::{Config, Env, Kind, SETTINGS, Setting, SettingSyntax, SourceOpener};

use crate::fetch::FetchArgs;
use crate::load::Sources;
use crate::store::StoreArgs;

/// Options shared by the analysis commands.
#[derive(Args, Clone, Debug, Default)]
pub struct AnalysisArgs {
    /// Profiles to analyse (.pb.gz or raw protobuf files, or URLs such as
    /// http://localhost:6060/debug/pprof/heap); several are merged.
    #[arg(required_unless_present = "store", value_name = "PROFILE")]
    pub profiles: Vec<String>,

    /// A time window of a sonde agent's store instead of files (--store DIR --kind heap --from -1h).
    #[command(flatten)]
    pub store: StoreArgs,

    /// Subtract this profile (e.g. an earlier heap profile) before reporting; repeatable.
    #[arg(long, value_name = "PROFILE", help_heading = "Comparison")]
    pub base: Vec<String>,
    /// Compare against this profile: percentages are relative to it; repeatable.
    #[arg(long = "diff-base", value_name = "PROFILE", help_heading = "Comparison")]
    pub diff_base: Vec<String>,
    /// Scale the profile so its total matches the base's before comparing.
    #[arg(long, help_heading = "Comparison")]
    pub normalize: bool,

    /// The analyzer settings (`--focus`, `--sample-index`, `--lines`, ...), as
    /// flags read from sonde-profile's one table of settings.
    #[command(flatten)]
    pub settings: SettingFlags,

    /// Refuse profiles whose decompressed size exceeds this (bytes; K, M, G suffixes accepted).
    #[arg(long = "max-size", value_name = "SIZE", default_value = "1G", value_parser = parse_size)]
    pub max_size: u64,

    /// How profiles given as URLs are fetched.
    #[command(flatten)]
    pub fetch: FetchArgs,
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
            fetch: self.fetch.clone(),
            store: self.store.clone(),
        }
    }

    /// The report configuration these options describe.
    pub fn config(&self) -> Result<Config> {
        self.settings.config()
    }
}

/// The analyzer settings given on the command line, each as a flag made from
/// its row in [`SETTINGS`]: `--NAME VALUE` (with `-` for `_`; the `_` spelling
/// is accepted too), a bool as `--NAME` or `--NAME=false`, and each word of a
/// choice setting as a flag of its own (`--cum`, `--lines`), as pprof does.
#[derive(Clone, Debug, Default)]
pub struct SettingFlags {
    given: Vec<(&'static Setting, String)>,
}

/// Short flags, the command line's own addition to the table.
const SHORT: &[(&str, char)] = &[("nodecount", 'n')];

impl SettingFlags {
    /// The configuration: the defaults with each given flag applied.
    pub fn config(&self) -> Result<Config> {
        let mut c = Config::default();
        for (s, v) in &self.given {
            s.set(&mut c, v).map_err(|e| match e {
                sonde_profile::Error::BadSetting { why, .. } => anyhow!("--{} {why}", s.flag()),
                e => e.into(),
            })?;
        }
        Ok(c)
    }
}

impl clap::FromArgMatches for SettingFlags {
    fn from_arg_matches(m: &clap::ArgMatches) -> std::result::Result<Self, clap::Error> {
        let mut given = Vec::new();
        for s in SETTINGS {
            if let Some(v) = m.get_one::<String>(s.name) {
                given.push((s, v.clone()));
            }
            for &word in s.choices() {
                if m.get_flag(word) {
                    given.push((s, word.to_string()));
                }
            }
        }
        Ok(SettingFlags { given })
    }

    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> std::result::Result<(), clap::Error> {
        *self = Self::from_arg_matches(m)?;
        Ok(())
    }
}

impl clap::Args for SettingFlags {
    fn augment_args(mut cmd: clap::Command) -> clap::Command {
        use clap::{Arg, ArgAction, ArgGroup};
        for s in SETTINGS {
            let default = s.default_value();
            let help = match s.kind {
                Kind::Bool => s.help.to_string(),
                _ if default.is_empty() || default == "-1" => s.help.to_string(),
                _ => format!("{} [default: {default}]", s.help),
            };
            let mut arg = Arg::new(s.name)
                .long(s.flag())
                .help(help)
                .help_heading(s.group.heading())
                .value_name(s.value_name);
            if s.flag() != s.name {
                arg = arg.alias(s.name);
            }
            if let Some(&(_, c)) = SHORT.iter().find(|(n, _)| *n == s.name) {
                arg = arg.short(c);
            }
            if s.kind == Kind::Bool {
                arg = arg.num_args(0..=1).require_equals(true).default_missing_value("true");
            }
            cmd = cmd.arg(arg);
            if !s.choices().is_empty() {
                let mut group = ArgGroup::new(format!("{}-choice", s.name)).arg(s.name);
                for &word in s.choices() {
                    cmd = cmd.arg(
                        Arg::new(word)
                            .long(word)
                            .action(ArgAction::SetTrue)
                            .help(format!("Same as --{} {word}", s.flag()))
                            .help_heading(s.group.heading()),
                    );
                    group = group.arg(word);
                }
                cmd = cmd.group(group);
            }
        }
        cmd
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
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

/// Runs `f` with the report environment of this process, for the command line.
pub fn with_env<T>(f: impl FnOnce(&Env) -> T) -> T {
    with_env_for(SettingSyntax::Flag, f)
}

/// Runs `f` with the report environment of this process; hints in messages
/// spell settings in `syntax`.
pub fn with_env_for<T>(syntax: SettingSyntax, f: impl FnOnce(&Env) -> T) -> T {
    let opener = SourceOpener {
        read: &read_source,
        current_dir: std::env::current_dir()
            .map(|d| d.to_string_lossy().into_owned())
            .unwrap_or_default(),
        syntax,
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
