//! What a report shows ([`Config`], pprof's settings with its defaults; the
//! table in `settings.rs` reads and writes them) and which report to make
//! ([`Command`], [`COMMANDS`]).

use crate::aggregate::Granularity;

/// What to show and how: the settings of `go tool pprof`, with its defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// Which sample type to report (name or number); `None` for the profile's default.
    pub sample_index: Option<String>,
    /// Report the mean value per event (value divided by the first sample type).
    pub mean: bool,
    /// Keep only samples with a frame matching this regex.
    pub focus: String,
    /// Drop samples with a frame matching this regex.
    pub ignore: String,
    /// Remove frames matching this regex from stacks.
    pub hide: String,
    /// Keep only frames matching this regex.
    pub show: String,
    /// Drop callers above the highest frame matching this regex.
    pub show_from: String,
    /// Drop callees below the lowest frame matching this regex.
    pub prune_from: String,
    /// Cut each stack at its innermost frame of the user's own code, charging
    /// the library code it called to it (sonde's; see [`crate::user_code`]).
    pub user_code: bool,
    /// Keep only samples with labels matching (`key=regex`, `regex`, or a range).
    pub tagfocus: String,
    /// Drop samples with labels matching.
    pub tagignore: String,
    /// Keep only labels whose key matches.
    pub tagshow: String,
    /// Remove labels whose key matches.
    pub taghide: String,
    /// What one report entry stands for.
    pub granularity: Granularity,
    /// Attribute inlined functions to their callers.
    pub noinlines: bool,
    /// How many entries to show; `None` for the report's default.
    pub nodecount: Option<usize>,
    /// Hide entries whose cumulative value is below this fraction of the total.
    pub nodefraction: f64,
    /// Hide edges below this fraction of the total.
    pub edgefraction: f64,
    /// Apply nodecount/nodefraction/edgefraction at all.
    pub trim: bool,
    /// Sort by cumulative value instead of flat.
    pub cum: bool,
    /// Unit for values: `minimum` (pprof's default), `auto`, or a unit such as `ms`, `MB`.
    pub unit: String,
    /// Drop entries with negative values (useful with a base).
    pub drop_negative: bool,
    /// Percentages relative to the focused samples rather than the whole profile.
    pub relative_percentages: bool,
    /// Omit the profile header lines (file, type, time) from reports.
    pub compact_labels: bool,
    /// Divide all values by this number.
    pub divide_by: f64,
    /// Where to look for source files (`:`-separated), for `list`.
    pub source_path: String,
    /// Path prefixes to remove from source paths (`:`-separated), for `list`.
    pub trim_path: String,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sample_index: None,
            mean: false,
            focus: String::new(),
            ignore: String::new(),
            hide: String::new(),
            show: String::new(),
            show_from: String::new(),
            prune_from: String::new(),
            user_code: false,
            tagfocus: String::new(),
            tagignore: String::new(),
            tagshow: String::new(),
            taghide: String::new(),
            granularity: Granularity::Functions,
            noinlines: false,
            nodecount: None,
            nodefraction: 0.005,
            edgefraction: 0.001,
            trim: true,
            cum: false,
            unit: "minimum".into(),
            drop_negative: false,
            relative_percentages: false,
            compact_labels: false,
            divide_by: 1.0,
            source_path: String::new(),
            trim_path: String::new(),
        }
    }
}

impl Config {
    /// The active filters as `name=value` pairs, in pprof's order.
    pub fn active_filters(&self) -> Vec<String> {
        let mut active: Vec<String> = [
            ("focus", &self.focus),
            ("ignore", &self.ignore),
            ("hide", &self.hide),
            ("show", &self.show),
            ("show_from", &self.show_from),
            ("tagfocus", &self.tagfocus),
            ("tagignore", &self.tagignore),
            ("tagshow", &self.tagshow),
            ("taghide", &self.taghide),
        ]
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
        if self.user_code {
            active.push("user_code=true".into());
        }
        active
    }
}

/// A report to produce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// The flat/cum table (`top`, `text`).
    Top,
    /// Annotated source of the functions matching the regex.
    List(String),
    /// Callers and callees of the entries matching the regex.
    Peek(String),
    /// Every sample's stack.
    Traces,
    /// Callers and callees of every entry.
    Tree,
    /// A textual dump of the whole profile.
    Raw,
    /// Label values with their share of the total.
    Tags,
    /// Folded stacks (`root;caller;leaf value`), one line per distinct stack.
    Folded,
    /// Speedscope's JSON file format.
    Speedscope,
    /// The filtered profile itself, for writing as pprof.
    Proto,
}

impl Command {
    pub(super) fn is_export(&self) -> bool {
        matches!(self, Command::Raw | Command::Proto)
    }

    /// The text report called `name` (`top`, `text`, `list`, ... as in
    /// [`COMMANDS`]), with its regex argument for `list` and `peek`; `None` for
    /// a name that is not one, or a missing regex.
    pub fn from_name(name: &str, regex: Option<&str>) -> Option<Command> {
        let info = COMMANDS.iter().find(|c| c.name == name)?;
        let regex = if info.takes_regex {
            Some(regex?.to_string())
        } else {
            None
        };
        Some(match name {
            "top" | "text" => Command::Top,
            "list" => Command::List(regex?),
            "peek" => Command::Peek(regex?),
            "traces" => Command::Traces,
            "tree" => Command::Tree,
            "raw" => Command::Raw,
            "tags" => Command::Tags,
            "folded" => Command::Folded,
            _ => return None,
        })
    }
}

/// A text report as the shell and the command line name it (pprof's
/// `internal/driver/commands.go` `pprofCommands`).
#[derive(Clone, Copy, Debug)]
pub struct CommandInfo {
    /// The command's name.
    pub name: &'static str,
    /// One line of help.
    pub help: &'static str,
    /// It needs a regular expression argument (`list main.work`).
    pub takes_regex: bool,
}

/// The text reports, in the order help lists them.
pub static COMMANDS: &[CommandInfo] = &[
    CommandInfo {
        name: "top",
        help: "Entries with the most samples; top20 shows 20, top -cum sorts by cumulative value",
        takes_regex: false,
    },
    CommandInfo {
        name: "text",
        help: "Same as top",
        takes_regex: false,
    },
    CommandInfo {
        name: "list",
        help: "Annotated source of functions matching a regex: list main.work",
        takes_regex: true,
    },
    CommandInfo {
        name: "peek",
        help: "Callers and callees of entries matching a regex: peek alloc",
        takes_regex: true,
    },
    CommandInfo {
        name: "traces",
        help: "Every sample's stack",
        takes_regex: false,
    },
    CommandInfo {
        name: "tree",
        help: "Callers and callees of every entry",
        takes_regex: false,
    },
    CommandInfo {
        name: "raw",
        help: "The whole profile as text",
        takes_regex: false,
    },
    CommandInfo {
        name: "tags",
        help: "Label values and their share of the total",
        takes_regex: false,
    },
    CommandInfo {
        name: "folded",
        help: "Folded stacks (root;...;leaf value)",
        takes_regex: false,
    },
];
