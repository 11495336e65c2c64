//! The analyzer's settings as one table: each setting's name, help, kind,
//! default, parse and format are written once here, and every face of the
//! analyzer reads them from [`SETTINGS`]: the command-line flags, the shell's
//! `name=value`, `o` and tab completion, and (as they come) the web UI's URL
//! state and the HTTP endpoints' query parameters.
//!
//! This mirrors google/pprof's `internal/driver/config.go`: one `configField`
//! per setting, with its URL parameter (`urlparam`), its choices, and `set`/`get`
//! through text; a choice (`cum`, `lines`, ...) also stands alone as a flag or a
//! shell word meaning "set its setting to this choice".

use crate::aggregate::Granularity;
use crate::{Error, Result};

use super::Config;

/// What values a setting takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `true` or `false`; given alone (a flag, a shell word) it means `true`.
    Bool,
    /// A whole number.
    Int,
    /// A number.
    Float,
    /// A regular expression (or, for the tag filters, pprof's tag filter forms).
    Regex,
    /// Free text (a unit, a sample type, a list of paths).
    Text,
    /// One of a fixed set of words, each also usable alone.
    Choice(&'static [&'static str]),
}

/// Which part of the help a setting is listed under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// Which value is reported and how it is scaled.
    Values,
    /// Which samples, frames and labels are kept.
    Filters,
    /// What one report entry stands for.
    Granularity,
    /// How many entries are shown and in which order.
    Display,
    /// Where `list` finds source files.
    Source,
}

impl Group {
    /// The help heading of this group.
    pub fn heading(self) -> &'static str {
        match self {
            Group::Values => "Values",
            Group::Filters => "Filters",
            Group::Granularity => "Granularity",
            Group::Display => "Display",
            Group::Source => "Source",
        }
    }
}

/// One analyzer setting (a field of [`Config`]), as pprof's `configField`.
pub struct Setting {
    /// pprof's name, used by the shell (`name=value`) and, with `-` for `_`, as
    /// the command-line flag (`--sample-index`).
    pub name: &'static str,
    /// One line of help.
    pub help: &'static str,
    /// What values it takes.
    pub kind: Kind,
    /// Where the help lists it.
    pub group: Group,
    /// The placeholder of its value in help (`REGEX`, `N`, ...).
    pub value_name: &'static str,
    /// pprof's URL parameter for it (`si`, `f`, `h`, ...), `None` if views do
    /// not keep it in their URL (pprof's `urlparam`).
    pub url_param: Option<&'static str>,
    get: fn(&Config) -> String,
    set: fn(&mut Config, &str) -> std::result::Result<(), String>,
}

impl std::fmt::Debug for Setting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Setting")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Setting {
    /// The setting's value in `cfg`, as text (`""` for an unset filter, `-1` for
    /// the report's default node count).
    pub fn get(&self, cfg: &Config) -> String {
        (self.get)(cfg)
    }

    /// Sets the setting in `cfg` from text. An empty value resets a text or
    /// regex setting; a bool takes `true`/`false` (also `1`/`0`, `yes`/`no`,
    /// and empty for `true`).
    ///
    /// # Errors
    /// [`Error::BadSetting`] naming the setting and the values it takes.
    pub fn set(&self, cfg: &mut Config, value: &str) -> Result<()> {
        (self.set)(cfg, value).map_err(|why| Error::BadSetting { name: self.name, why })
    }

    /// The default value, as text.
    pub fn default_value(&self) -> String {
        self.get(&Config::default())
    }

    /// The command-line flag (without dashes): the name with `-` for `_`.
    pub fn flag(&self) -> String {
        self.name.replace('_', "-")
    }

    /// The words of a choice setting (empty for other kinds).
    pub fn choices(&self) -> &'static [&'static str] {
        match self.kind {
            Kind::Choice(c) => c,
            _ => &[],
        }
    }
}

fn parse_bool(v: &str) -> std::result::Result<bool, String> {
    match v {
        "" | "true" | "t" | "1" | "yes" => Ok(true),
        "false" | "f" | "0" | "no" => Ok(false),
        _ => Err(format!("takes true or false, not {v:?}")),
    }
}

fn parse_fraction(v: &str) -> std::result::Result<f64, String> {
    match v.parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!("takes a number between 0 and 1, not {v:?}")),
    }
}

const GRANULARITIES: &[&str] = &["functions", "filefunctions", "files", "lines", "addresses"];
const SORTS: &[&str] = &["flat", "cum"];

macro_rules! text_setting {
    ($name:literal, $field:ident, $kind:expr, $group:expr, $value_name:literal, $url:expr, $help:literal) => {
        Setting {
            name: $name,
            help: $help,
            kind: $kind,
            group: $group,
            value_name: $value_name,
            url_param: $url,
            get: |c| c.$field.clone(),
            set: |c, v| {
                c.$field = v.to_string();
                Ok(())
            },
        }
    };
}

macro_rules! bool_setting {
    ($name:literal, $field:ident, $group:expr, $url:expr, $help:literal) => {
        Setting {
            name: $name,
            help: $help,
            kind: Kind::Bool,
            group: $group,
            value_name: "BOOL",
            url_param: $url,
            get: |c| c.$field.to_string(),
            set: |c, v| {
                c.$field = parse_bool(v)?;
                Ok(())
            },
        }
    };
}

/// Every analyzer setting, in the order help lists them.
pub static SETTINGS: &[Setting] = &[
    Setting {
        name: "sample_index",
        help: "Sample value to report: a type name (alloc_space, inuse_objects, delay, ...) or its index",
        kind: Kind::Text,
        group: Group::Values,
        value_name: "TYPE",
        url_param: Some("si"),
        get: |c| c.sample_index.clone().unwrap_or_default(),
        set: |c, v| {
            c.sample_index = (!v.is_empty()).then(|| v.to_string());
            Ok(())
        },
    },
    bool_setting!(
        "mean",
        mean,
        Group::Values,
        Some("mean"),
        "Report the mean value per event (value divided by the event count)"
    ),
    Setting {
        name: "unit",
        help: "Unit for values: minimum, auto, or a unit such as ms, s, kB, MB",
        kind: Kind::Text,
        group: Group::Values,
        value_name: "UNIT",
        url_param: Some("unit"),
        get: |c| c.unit.clone(),
        set: |c, v| {
            c.unit = if v.is_empty() { "minimum".into() } else { v.into() };
            Ok(())
        },
    },
    Setting {
        name: "divide_by",
        help: "Divide all values by this number",
        kind: Kind::Float,
        group: Group::Values,
        value_name: "N",
        url_param: None,
        get: |c| c.divide_by.to_string(),
        set: |c, v| match v.parse::<f64>() {
            Ok(d) if d != 0.0 && d.is_finite() => {
                c.divide_by = d;
                Ok(())
            }
            _ => Err(format!("takes a non-zero number, not {v:?}")),
        },
    },
    text_setting!(
        "focus",
        focus,
        Kind::Regex,
        Group::Filters,
        "REGEX",
        Some("f"),
        "Keep only samples with a frame matching REGEX"
    ),
    text_setting!(
        "ignore",
        ignore,
        Kind::Regex,
        Group::Filters,
        "REGEX",
        Some("i"),
        "Drop samples with a frame matching REGEX"
    ),
    text_setting!(
        "hide",
        hide,
        Kind::Regex,
        Group::Filters,
        "REGEX",
        Some("h"),
        "Remove frames matching REGEX from stacks"
    ),
    text_setting!(
        "show",
        show,
        Kind::Regex,
        Group::Filters,
        "REGEX",
        Some("s"),
        "Keep only frames matching REGEX"
    ),
    text_setting!(
        "show_from",
        show_from,
        Kind::Regex,
        Group::Filters,
        "REGEX",
        Some("sf"),
        "Drop the callers above the highest frame matching REGEX"
    ),
    text_setting!(
        "prune_from",
        prune_from,
        Kind::Regex,
        Group::Filters,
        "REGEX",
        Some("prunefrom"),
        "Drop the callees below the lowest frame matching REGEX"
    ),
    bool_setting!(
        "user_code",
        user_code,
        Group::Filters,
        Some("uc"),
        "Charge library code (std, crates, libc, Go's runtime) to the function of yours that called it"
    ),
    text_setting!(
        "tagfocus",
        tagfocus,
        Kind::Regex,
        Group::Filters,
        "FILTER",
        Some("tf"),
        "Keep only samples whose labels match: key=REGEX, REGEX (against key:value), or a range like 1kb:64kb"
    ),
    text_setting!(
        "tagignore",
        tagignore,
        Kind::Regex,
        Group::Filters,
        "FILTER",
        Some("ti"),
        "Drop samples whose labels match (same forms as tagfocus)"
    ),
    text_setting!(
        "tagshow",
        tagshow,
        Kind::Regex,
        Group::Filters,
        "REGEX",
        Some("ts"),
        "Keep only labels whose key matches REGEX"
    ),
    text_setting!(
        "taghide",
        taghide,
        Kind::Regex,
        Group::Filters,
        "REGEX",
        Some("th"),
        "Remove labels whose key matches REGEX"
    ),
    Setting {
        name: "granularity",
        help: "What one entry stands for: functions, filefunctions, files, lines or addresses",
        kind: Kind::Choice(GRANULARITIES),
        group: Group::Granularity,
        value_name: "G",
        url_param: Some("g"),
        get: |c| c.granularity.to_string(),
        set: |c, v| {
            c.granularity = v
                .parse::<Granularity>()
                .map_err(|_| format!("takes {}, not {v:?}", GRANULARITIES.join(", ")))?;
            Ok(())
        },
    },
    bool_setting!(
        "noinlines",
        noinlines,
        Group::Granularity,
        Some("noinlines"),
        "Attribute inlined functions to their callers"
    ),
    Setting {
        name: "nodecount",
        help: "Show at most N entries (-1: the report's default)",
        kind: Kind::Int,
        group: Group::Display,
        value_name: "N",
        url_param: Some("n"),
        get: |c| c.nodecount.map_or("-1".into(), |n| n.to_string()),
        set: |c, v| {
            c.nodecount = match v.parse::<i64>() {
                Ok(n) if n < 0 => None,
                Ok(n) => Some(n as usize),
                Err(_) => return Err(format!("takes a whole number, not {v:?}")),
            };
            Ok(())
        },
    },
    Setting {
        name: "nodefraction",
        help: "Hide entries below this fraction of the total",
        kind: Kind::Float,
        group: Group::Display,
        value_name: "F",
        url_param: Some("nf"),
        get: |c| c.nodefraction.to_string(),
        set: |c, v| {
            c.nodefraction = parse_fraction(v)?;
            Ok(())
        },
    },
    Setting {
        name: "edgefraction",
        help: "Hide call edges below this fraction of the total",
        kind: Kind::Float,
        group: Group::Display,
        value_name: "F",
        url_param: Some("ef"),
        get: |c| c.edgefraction.to_string(),
        set: |c, v| {
            c.edgefraction = parse_fraction(v)?;
            Ok(())
        },
    },
    Setting {
        name: "sort",
        help: "Sort entries by flat or cum value",
        kind: Kind::Choice(SORTS),
        group: Group::Display,
        value_name: "ORDER",
        url_param: Some("sort"),
        get: |c| if c.cum { "cum" } else { "flat" }.into(),
        set: |c, v| {
            c.cum = match v {
                "cum" => true,
                "flat" => false,
                _ => return Err(format!("takes cum or flat, not {v:?}")),
            };
            Ok(())
        },
    },
    bool_setting!(
        "trim",
        trim,
        Group::Display,
        Some("trim"),
        "Apply nodecount, nodefraction and edgefraction"
    ),
    bool_setting!(
        "drop_negative",
        drop_negative,
        Group::Display,
        Some("dropneg"),
        "Hide entries with negative values"
    ),
    bool_setting!(
        "relative_percentages",
        relative_percentages,
        Group::Display,
        Some("rel"),
        "Percentages relative to the focused samples, not the whole profile"
    ),
    bool_setting!(
        "compact_labels",
        compact_labels,
        Group::Display,
        Some("compact"),
        "Omit the header lines about the profile"
    ),
    text_setting!(
        "source_path",
        source_path,
        Kind::Text,
        Group::Source,
        "DIRS",
        None,
        "Directories to search for source files (`:`-separated), for list"
    ),
    text_setting!(
        "trim_path",
        trim_path,
        Kind::Text,
        Group::Source,
        "PREFIXES",
        None,
        "Path prefixes to drop from recorded source paths (`:`-separated), for list"
    ),
];

/// The setting called `name` (`sample_index`; `sample-index` too).
pub fn find(name: &str) -> Option<&'static Setting> {
    let name = name.replace('-', "_");
    SETTINGS.iter().find(|s| s.name == name)
}

/// The choice setting one of whose words is `word` (`cum` → `sort`,
/// `lines` → `granularity`).
pub fn find_choice(word: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.choices().contains(&word))
}

impl Config {
    /// Sets the setting `name` from text, as pprof's `configure`: `name` is a
    /// setting (`nodecount`, `focus`) or a choice word (`cum`, `lines`), which
    /// with a true value (or none) selects itself.
    ///
    /// # Errors
    /// [`Error::BadOption`] for an unknown name, [`Error::BadSetting`] for a
    /// value the setting does not take.
    pub fn set(&mut self, name: &str, value: &str) -> Result<()> {
        if let Some(s) = find(name) {
            return s.set(self, value);
        }
        if let Some(s) = find_choice(name) {
            return match parse_bool(value) {
                Ok(true) => s.set(self, name),
                Ok(false) => Ok(()),
                Err(why) => Err(Error::BadSetting { name: s.name, why }),
            };
        }
        Err(Error::BadOption(format!("unknown setting {name:?}")))
    }

    /// The setting `name`'s value as text; `None` for an unknown name.
    pub fn get(&self, name: &str) -> Option<String> {
        find(name).map(|s| s.get(self))
    }

    /// The settings that differ from the defaults, as URL query pairs with
    /// pprof's parameter names (`si=alloc_space`, `f=main`, bools as `t`/`f`),
    /// for views that keep their state in the URL (pprof's `makeURL`).
    pub fn url_params(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        for s in SETTINGS {
            let Some(param) = s.url_param else { continue };
            let v = s.get(self);
            if v == s.default_value() {
                continue;
            }
            let v = if s.kind == Kind::Bool { v[..1].to_string() } else { v };
            out.push((param, v));
        }
        out
    }

    /// Applies URL query pairs with pprof's parameter names (pprof's
    /// `applyURL`); unknown parameters are left to the caller.
    ///
    /// # Errors
    /// [`Error::BadSetting`] for a value a setting does not take.
    pub fn apply_url_params<'a>(&mut self, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<()> {
        for (k, v) in pairs {
            if let Some(s) = SETTINGS.iter().find(|s| s.url_param == Some(k)) {
                s.set(self, v)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_config_field_has_one_setting() {
        let mut names: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
        names.sort();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len(), "a setting is listed twice");
        // Setting every setting to a non-default value changes the config, and
        // reading it back gives the value set.
        for (name, value) in [
            ("sample_index", "alloc_space"),
            ("mean", "true"),
            ("unit", "MB"),
            ("divide_by", "2"),
            ("focus", "a"),
            ("ignore", "b"),
            ("hide", "c"),
            ("show", "d"),
            ("show_from", "e"),
            ("prune_from", "g"),
            ("user_code", "true"),
            ("tagfocus", "k=v"),
            ("tagignore", "k=w"),
            ("tagshow", "k"),
            ("taghide", "j"),
            ("granularity", "lines"),
            ("noinlines", "true"),
            ("nodecount", "7"),
            ("nodefraction", "0.5"),
            ("edgefraction", "0.25"),
            ("sort", "cum"),
            ("trim", "false"),
            ("drop_negative", "true"),
            ("relative_percentages", "true"),
            ("compact_labels", "true"),
            ("source_path", "/src"),
            ("trim_path", "/build"),
        ] {
            let mut c = Config::default();
            c.set(name, value).unwrap();
            assert_ne!(c, Config::default(), "{name}");
            assert_eq!(c.get(name).as_deref(), Some(value), "{name}");
        }
        assert_eq!(SETTINGS.len(), 27, "a setting without a round-trip case above");
    }

    #[test]
    fn choices_and_bad_values() {
        let mut c = Config::default();
        c.set("cum", "").unwrap();
        assert!(c.cum);
        c.set("files", "true").unwrap();
        assert_eq!(c.granularity, Granularity::Files);
        c.set("sample-index", "1").unwrap();
        assert_eq!(c.sample_index.as_deref(), Some("1"));
        let err = c.set("nodefraction", "7").unwrap_err().to_string();
        assert!(err.contains("nodefraction takes a number between 0 and 1"), "{err}");
        assert!(c.set("divide_by", "0").is_err());
        assert!(c.set("granularity", "modules").is_err());
        assert!(c.set("bogus", "1").unwrap_err().to_string().contains("unknown setting"));
    }

    #[test]
    fn url_round_trip() {
        let mut c = Config::default();
        assert!(c.url_params().is_empty());
        c.set("sample_index", "alloc_space").unwrap();
        c.set("focus", "main").unwrap();
        c.set("noinlines", "true").unwrap();
        c.set("cum", "true").unwrap();
        let params = c.url_params();
        assert!(params.contains(&("si", "alloc_space".into())));
        assert!(params.contains(&("noinlines", "t".into())));
        let mut back = Config::default();
        back.apply_url_params(params.iter().map(|(k, v)| (*k, v.as_str())))
            .unwrap();
        assert_eq!(back, c);
    }
}
