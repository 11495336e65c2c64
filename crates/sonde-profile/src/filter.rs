//! Selecting what a report shows, with pprof's meaning for each filter:
//!
//! * `focus` keeps samples with a frame matching; `ignore` drops samples with a
//!   frame matching (a frame matches when its function name, file name or mapping
//!   file matches);
//! * `hide` removes matching frames from stacks; `show` keeps only matching frames;
//! * `show_from` drops the frames above (callers of) the highest matching frame;
//! * `tagfocus` / `tagignore` keep / drop samples by label (`key=regex`, `regex`
//!   against `key:value`, or a numeric range such as `1kb:64kb`);
//! * `tagshow` / `taghide` keep / remove labels by key;
//! * `prune_from` drops the frames below (callees of) the lowest matching frame,
//!   and the profile's own `drop_frames` / `keep_frames` prune uninteresting
//!   frames: both in [`crate::prune`].

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use regex::Regex;

use crate::model::{LabelValue, Location, Profile, Sample, Str};
use crate::units;
use crate::{Error, Result};

/// Compiles a user-supplied regular expression, naming the option on failure.
///
/// The message is one line that says what is wrong and where: `unclosed group
/// at column 1 of "(unclosed"` (regex's own message draws a caret under the
/// pattern, which means nothing once it is one line of an error report).
pub fn compile(option: &str, pattern: &str) -> Result<Regex> {
    Regex::new(pattern).map_err(|e| {
        let located = |kind: &dyn std::fmt::Display, span: &regex_syntax::ast::Span| {
            format!("{kind} at column {} of {pattern:?}", span.start.column)
        };
        let message = match regex_syntax::Parser::new().parse(pattern) {
            Err(regex_syntax::Error::Parse(p)) => located(p.kind(), p.span()),
            Err(regex_syntax::Error::Translate(t)) => located(t.kind(), t.span()),
            _ => e.to_string().lines().map(str::trim).collect::<Vec<_>>().join(" "),
        };
        Error::Regex {
            option: option.to_string(),
            message,
        }
    })
}

/// Compiles an optional option value; empty means "no filter".
pub fn compile_opt(option: &str, pattern: &str) -> Result<Option<Regex>> {
    if pattern.is_empty() {
        Ok(None)
    } else {
        compile(option, pattern).map(Some)
    }
}

impl Location {
    fn matches(&self, re: &Regex, p: &Profile) -> bool {
        self.lines.iter().any(|l| {
            let f = &p.functions[l.function as usize];
            re.is_match(&f.name) || re.is_match(&f.filename)
        }) || self.mapping_matches(re, p)
    }

    fn mapping_matches(&self, re: &Regex, p: &Profile) -> bool {
        self.mapping
            .is_some_and(|m| re.is_match(&p.mappings[m as usize].filename))
    }
}

/// What each name filter matched, so callers can warn about filters that matched
/// nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NameMatches {
    /// `focus` matched at least one location.
    pub focus: bool,
    /// `ignore` matched at least one location.
    pub ignore: bool,
    /// `hide` matched at least one location.
    pub hide: bool,
    /// `show` matched at least one location.
    pub show: bool,
}

impl Profile {
    /// Applies `focus`, `ignore`, `hide` and `show` (see the module docs).
    pub fn filter_by_name(
        &mut self,
        focus: Option<&Regex>,
        ignore: Option<&Regex>,
        hide: Option<&Regex>,
        show: Option<&Regex>,
    ) -> NameMatches {
        let mut m = NameMatches::default();
        if focus.is_none() && ignore.is_none() && hide.is_none() && show.is_none() {
            // Every location is focused; pprof reports an absent focus as
            // matching. A sample without locations has none focused, so pprof
            // drops it here as it does with any filter.
            m.focus = true;
            self.samples.retain(|s| !s.locations.is_empty());
            return m;
        }
        // Per location: Some(true) focused, Some(false) ignored, None neither.
        let mut verdict: Vec<Option<bool>> = vec![None; self.locations.len()];
        let mut hidden = vec![false; self.locations.len()];
        let mut any_hidden = false;
        let mut locations = std::mem::take(&mut self.locations);
        for (i, loc) in locations.iter_mut().enumerate() {
            if ignore.is_some_and(|re| loc.matches(re, self)) {
                m.ignore = true;
                verdict[i] = Some(false);
            } else if focus.is_none_or(|re| loc.matches(re, self)) {
                m.focus = true;
                verdict[i] = Some(true);
            }
            if let Some(re) = hide {
                if loc.matches(re, self) {
                    m.hide = true;
                    if loc.mapping_matches(re, self) {
                        loc.lines.clear();
                    } else {
                        loc.lines.retain(|l| !self.line_matches(l.function, re));
                    }
                    if loc.lines.is_empty() {
                        hidden[i] = true;
                        any_hidden = true;
                    }
                }
            }
            if let Some(re) = show {
                if !loc.mapping_matches(re, self) {
                    loc.lines.retain(|l| self.line_matches(l.function, re));
                }
                if loc.lines.is_empty() {
                    hidden[i] = true;
                    any_hidden = true;
                } else {
                    m.show = true;
                }
            }
        }
        self.locations = locations;
        self.samples.retain_mut(|s| {
            let mut focused = false;
            for &l in &s.locations {
                match verdict[l as usize] {
                    Some(true) => focused = true,
                    Some(false) => return false,
                    None => {}
                }
            }
            if !focused {
                return false;
            }
            if any_hidden {
                s.locations.retain(|&l| !hidden[l as usize]);
                if s.locations.is_empty() {
                    return false;
                }
            }
            true
        });
        m
    }

    fn line_matches(&self, function: u32, re: &Regex) -> bool {
        let f = &self.functions[function as usize];
        re.is_match(&f.name) || re.is_match(&f.filename)
    }

    /// Drops the callers above the highest (closest to the root) frame matching
    /// `re`; samples without a match are dropped. Returns whether anything matched.
    pub fn show_from(&mut self, re: &Regex) -> bool {
        let mut matched_locs = vec![false; self.locations.len()];
        let mut matched = false;
        let mut locations = std::mem::take(&mut self.locations);
        for (i, loc) in locations.iter_mut().enumerate() {
            if loc.mapping_matches(re, self) {
                matched_locs[i] = true;
            } else if let Some(j) = loc.lines.iter().rposition(|l| self.line_matches(l.function, re)) {
                loc.lines.truncate(j + 1);
                matched_locs[i] = true;
            }
            matched |= matched_locs[i];
        }
        self.locations = locations;
        self.samples
            .retain_mut(|s| match s.locations.iter().rposition(|&l| matched_locs[l as usize]) {
                Some(i) => {
                    s.locations.truncate(i + 1);
                    true
                }
                None => false,
            });
        matched
    }

    /// Keeps the samples `focus` accepts (all when `None`) and `ignore` rejects
    /// (none when `None`). Returns whether each matched any sample.
    pub fn filter_by_tag(&mut self, focus: Option<&TagFilter>, ignore: Option<&TagFilter>) -> (bool, bool) {
        let (mut fm, mut im) = (false, false);
        self.samples.retain(|s| {
            let focused = focus.is_none_or(|f| f.matches(s));
            let ignored = ignore.is_some_and(|f| f.matches(s));
            fm |= focused;
            im |= ignored;
            focused && !ignored
        });
        (fm, im)
    }

    /// Keeps only labels whose key matches `show` and does not match `hide`.
    /// Returns whether each matched any label.
    pub fn filter_labels_by_key(&mut self, show: Option<&Regex>, hide: Option<&Regex>) -> (bool, bool) {
        let (mut sm, mut hm) = (false, false);
        for s in &mut self.samples {
            s.labels = s.labels.without(|l| {
                let shown = show.is_none_or(|re| re.is_match(&l.key));
                let hidden = hide.is_some_and(|re| re.is_match(&l.key));
                sm |= shown;
                hm |= hidden;
                !shown || hidden
            });
        }
        (sm, hm)
    }

    /// The unit of each numeric label key: the unit the profile gives, else
    /// `bytes` for `alignment`/`request`, else the key itself.
    pub fn num_label_units(&self) -> HashMap<Str, Str> {
        let mut units: HashMap<Str, Str> = HashMap::new();
        let mut keys: HashSet<Str> = HashSet::new();
        for s in &self.samples {
            for l in &s.labels {
                if let LabelValue::Num { unit, .. } = &l.value {
                    keys.insert(l.key.clone());
                    if !unit.is_empty() {
                        units.entry(l.key.clone()).or_insert_with(|| unit.clone());
                    }
                }
            }
        }
        for k in keys {
            units.entry(k.clone()).or_insert_with(|| match &*k {
                "alignment" | "request" => Str::from("bytes"),
                _ => k.clone(),
            });
        }
        units
    }
}

/// A label filter (`tagfocus`, `tagignore`).
pub struct TagFilter {
    key: Option<String>,
    kind: TagFilterKind,
    units: HashMap<Str, Str>,
}

enum TagFilterKind {
    /// Every regex must match (or, with a key, any regex matches a value).
    Regexes(Vec<Regex>),
    /// A numeric range in a unit.
    Range {
        lo: Option<f64>,
        hi: Option<f64>,
        unit: String,
    },
}

impl TagFilter {
    /// Parses `[key=]regex[,regex...]` or `[key=]range`, where a range is `V`,
    /// `V:`, `:V` or `V1:V2` with an optional unit (`32kb`, `1ms:5ms`).
    pub fn parse(option: &str, value: &str, profile: &Profile) -> Result<TagFilter> {
        let (key, value) = match value.split_once('=') {
            Some((k, v)) => (Some(k.to_string()), v),
            None => (None, value),
        };
        let units = profile.num_label_units();
        if let Some(kind) = parse_range(value) {
            return Ok(TagFilter { key, kind, units });
        }
        let regexes = value
            .split(',')
            .map(|r| compile(option, r))
            .collect::<Result<Vec<_>>>()?;
        Ok(TagFilter {
            key,
            kind: TagFilterKind::Regexes(regexes),
            units,
        })
    }

    /// Whether the filter's range form was used (pprof warns that a value was
    /// read as a range rather than a regex).
    pub fn is_range(&self) -> bool {
        matches!(self.kind, TagFilterKind::Range { .. })
    }

    /// Whether `sample` passes the filter.
    pub fn matches(&self, sample: &Sample) -> bool {
        match &self.kind {
            TagFilterKind::Range { lo, hi, unit } => sample.labels.iter().any(|l| {
                let LabelValue::Num { value, .. } = l.value else {
                    return false;
                };
                if self.key.as_deref().is_some_and(|k| k != &*l.key) {
                    return false;
                }
                let from = self.units.get(&l.key).map_or(&*l.key, |u| &**u);
                let (v, u) = units::scale(value, from, unit);
                u == *unit && lo.is_none_or(|lo| v >= lo) && hi.is_none_or(|hi| v <= hi)
            }),
            TagFilterKind::Regexes(res) => match &self.key {
                None => res.iter().all(|re| {
                    sample.labels.iter().any(|l| match &l.value {
                        LabelValue::Str(v) => re.is_match(&format!("{}:{v}", l.key)),
                        _ => false,
                    })
                }),
                Some(key) => sample.labels.strs(key).any(|v| res.iter().any(|re| re.is_match(v))),
            },
        }
    }
}

/// Parses the numeric range forms of a tag filter, or `None` if it is not one.
fn parse_range(filter: &str) -> Option<TagFilterKind> {
    static RX: OnceLock<Regex> = OnceLock::new();
    let rx = RX.get_or_init(|| Regex::new(r"([+-]?[[:digit:]]+)([[:alpha:]]+)?").expect("static regex"));
    let caps: Vec<_> = rx.captures_iter(filter).take(2).collect();
    let first = caps.first()?;
    let num = |c: &regex::Captures| -> Option<(f64, String)> {
        let v: i64 = c.get(1)?.as_str().parse().ok()?;
        let u = c.get(2).map_or("", |m| m.as_str());
        Some(units::scale(v, u, u))
    };
    let (v1, unit) = num(first)?;
    let m1 = first.get(0)?.as_str();
    if caps.len() == 1 {
        return if filter == m1 {
            Some(TagFilterKind::Range {
                lo: Some(v1),
                hi: Some(v1),
                unit,
            })
        } else if filter == format!("{m1}:") {
            Some(TagFilterKind::Range {
                lo: Some(v1),
                hi: None,
                unit,
            })
        } else if filter == format!(":{m1}") {
            Some(TagFilterKind::Range {
                lo: None,
                hi: Some(v1),
                unit,
            })
        } else {
            None
        };
    }
    let second = &caps[1];
    if filter != format!("{m1}:{}", second.get(0)?.as_str()) {
        return None;
    }
    let v: i64 = second.get(1)?.as_str().parse().ok()?;
    let (v2, unit2) = units::scale(v, second.get(2).map_or("", |m| m.as_str()), &unit);
    if unit2 != unit {
        return None;
    }
    Some(TagFilterKind::Range {
        lo: Some(v1),
        hi: Some(v2),
        unit,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regex_errors_are_one_located_line() {
        let e = compile("focus", "main.(work").unwrap_err().to_string();
        assert_eq!(
            e,
            "invalid regular expression for focus: unclosed group at column 6 of \"main.(work\""
        );
        let e = compile("list", "a{2,1}").unwrap_err().to_string();
        assert!(e.contains("at column") && !e.contains('\n'), "{e}");
    }

    #[test]
    fn ranges_parse_like_pprof() {
        assert!(matches!(
            parse_range("32kb"),
            Some(TagFilterKind::Range {
                lo: Some(_),
                hi: Some(_),
                ..
            })
        ));
        assert!(matches!(
            parse_range(":64kb"),
            Some(TagFilterKind::Range { lo: None, .. })
        ));
        assert!(matches!(
            parse_range("4mb:"),
            Some(TagFilterKind::Range { hi: None, .. })
        ));
        assert!(parse_range("12kb:64mb").is_some());
        assert!(parse_range("worker").is_none());
        assert!(parse_range("thread-1x").is_none());
    }
}
