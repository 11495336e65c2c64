//! `list REGEX`: the source of matching functions, each line with its flat and
//! cumulative values, as [`Listing`] rows; and how source files are found.

use std::collections::HashMap;
use std::io;

use super::Prepared;
use super::rows::{Listing, Routine, SourceLine};
use crate::graph::{Graph, Node};
use crate::model::base_name;
use crate::{Error, Result};

/// How `list` reads source files: a reader for paths, and the directory that
/// relative paths are searched from when no source path is configured.
pub struct SourceOpener<'a> {
    /// Reads a whole file; `NotFound` means "try elsewhere".
    pub read: &'a dyn Fn(&str) -> io::Result<String>,
    /// The current directory, searched (with its parents) when no source path is set.
    pub current_dir: String,
    /// How the user sets `source_path` where the listing is shown, for the
    /// hint in a "not found" message.
    pub syntax: SettingSyntax,
}

/// How settings are spelled where a report is shown, so that a hint in a
/// message can be typed as it is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SettingSyntax {
    /// Command-line flags: `--source-path DIR`.
    #[default]
    Flag,
    /// The shell's assignments: `source_path=DIR`.
    Assignment,
}

impl SettingSyntax {
    /// `name` set to `value` in this syntax.
    pub fn spell(self, name: &str, value: &str) -> String {
        match self {
            SettingSyntax::Flag => format!("--{} {value}", name.replace('_', "-")),
            SettingSyntax::Assignment => format!("{name}={value}"),
        }
    }

    /// Boolean setting `name` turned on in this syntax: `--user-code`, `user_code=true`.
    pub fn spell_on(self, name: &str) -> String {
        match self {
            SettingSyntax::Flag => format!("--{}", name.replace('_', "-")),
            SettingSyntax::Assignment => format!("{name}=true"),
        }
    }
}

impl SourceOpener<'_> {
    /// An opener that finds nothing, for callers without a file system.
    pub fn none() -> SourceOpener<'static> {
        SourceOpener {
            read: &|p| Err(io::Error::new(io::ErrorKind::NotFound, p.to_string())),
            current_dir: String::new(),
            syntax: SettingSyntax::Flag,
        }
    }
}

const MARGIN: i64 = 5;

impl Prepared {
    /// `list`: the source of the functions matching `pattern`, each line with
    /// its flat and cumulative values. A file that cannot be read still gets
    /// its sampled lines, and a [`Routine::missing`] message.
    ///
    /// # Errors
    /// [`Error::Regex`](crate::Error::Regex) for a bad pattern,
    /// [`Error::NoMatches`] when no function matches.
    pub fn list(&mut self, pattern: &str, opener: &SourceOpener) -> Result<Listing> {
        let rx = crate::filter::compile("list", pattern)?;
        let table = self.node_table();
        let g = self.graph(&table, None, false);

        let matching = g.nodes.iter().filter(|n| rx.is_match(&n.info.name));
        let (mut order, by_function) = group(matching, |n| &n.info.name);
        if order.is_empty() {
            return Err(Error::NoMatches(rx.as_str().to_string()));
        }
        Graph::sort_by_name(&mut order);

        let search_path = if self.cfg.source_path.is_empty() {
            opener.current_dir.clone()
        } else {
            self.cfg.source_path.clone()
        };
        let mut reader = SourceReader {
            search_path,
            trim_path: self.cfg.trim_path.clone(),
            files: HashMap::new(),
            opener,
        };
        let value_or_dot = |v: i64| if v == 0 { ".".into() } else { self.format_value(v) };
        let mut routines = Vec::new();
        for f in order {
            let name = &*f.info.name;
            let with_file = by_function[name].iter().copied().filter(|n| !n.info.file.is_empty());
            let (mut files, by_file) = group(with_file, |n| &n.info.file);
            if files.is_empty() {
                routines.push(Routine {
                    function: name.to_string(),
                    file: None,
                    flat: 0,
                    cum: 0,
                    flat_format: String::new(),
                    cum_format: String::new(),
                    lines: Vec::new(),
                    missing: None,
                });
                continue;
            }
            Graph::sort_by_file(&mut files);
            for fl in files {
                let file = &*fl.info.file;
                let nodes = &by_file[file];
                let (flat, cum) = nodes.iter().fold((0, 0), |(f, c), n| (f + n.flat, c + n.cum));
                let line = |lineno, flat, cum, text| SourceLine {
                    lineno,
                    flat,
                    cum,
                    flat_format: value_or_dot(flat),
                    cum_format: value_or_dot(cum),
                    text,
                };
                let (lines, missing) = match source_lines(file, &mut reader, nodes) {
                    Ok(lines) => (
                        lines
                            .into_iter()
                            .map(|(lineno, flat, cum, text)| line(lineno, flat, cum, Some(text)))
                            .collect(),
                        None,
                    ),
                    Err(e) => {
                        // Still show what is known: the sampled lines and their values.
                        let mut sampled: Vec<(i64, i64, i64)> = Vec::new();
                        for n in nodes {
                            match sampled.iter_mut().find(|s| s.0 == n.info.lineno) {
                                Some(s) => {
                                    s.1 += n.flat;
                                    s.2 += n.cum;
                                }
                                None => sampled.push((n.info.lineno, n.flat, n.cum)),
                            }
                        }
                        sampled.sort();
                        let lines = sampled
                            .into_iter()
                            .map(|(lineno, flat, cum)| line(lineno, flat, cum, None))
                            .collect();
                        (lines, Some(e))
                    }
                };
                routines.push(Routine {
                    function: name.to_string(),
                    file: Some(file.to_string()),
                    flat,
                    cum,
                    flat_format: self.format_value(flat),
                    cum_format: self.format_value(cum),
                    lines,
                    missing,
                });
            }
        }
        Ok(Listing {
            total: self.total,
            total_format: self.format_value(self.total),
            routines,
        })
    }
}

/// Groups nodes by `key`: the first node of each group in the order met, and
/// each group's nodes.
fn group<'a>(
    nodes: impl Iterator<Item = &'a Node>,
    key: impl Fn(&'a Node) -> &'a str,
) -> (Vec<&'a Node>, HashMap<&'a str, Vec<&'a Node>>) {
    let mut first = Vec::new();
    let mut groups: HashMap<&str, Vec<&Node>> = HashMap::new();
    for n in nodes {
        let g = groups.entry(key(n)).or_default();
        if g.is_empty() {
            first.push(n);
        }
        g.push(n);
    }
    (first, groups)
}

/// The lines of `file` around the sampled ones, with their values.
fn source_lines(
    file: &str,
    reader: &mut SourceReader,
    nodes: &[&Node],
) -> std::result::Result<Vec<(i64, i64, i64, String)>, String> {
    let mut line_values: HashMap<i64, (i64, i64)> = HashMap::new();
    let first = nodes[0];
    let mut start = if first.info.start_line != 0 {
        first.info.start_line
    } else {
        first.info.lineno - MARGIN
    };
    let mut end = first.info.lineno + MARGIN;
    for n in nodes {
        let lineno = n.info.lineno;
        let node_start = if n.info.start_line != 0 {
            n.info.start_line
        } else {
            lineno - MARGIN
        };
        let node_end = lineno + MARGIN;
        if node_start < start {
            start = node_start;
        } else if node_end > end {
            end = node_end;
        }
        let e = line_values.entry(lineno).or_default();
        e.0 += n.flat;
        e.1 += n.cum;
    }
    let start = start.max(1);
    let lines = reader.lines(file)?;
    let mut out = Vec::new();
    for lineno in start..=end {
        let Some(text) = usize::try_from(lineno).ok().and_then(|i| lines.get(i - 1)) else {
            break;
        };
        let (flat, cum) = line_values.get(&lineno).copied().unwrap_or_default();
        out.push((lineno, flat, cum, text.clone()));
    }
    Ok(out)
}

struct SourceReader<'a> {
    search_path: String,
    trim_path: String,
    files: HashMap<String, std::result::Result<Vec<String>, String>>,
    opener: &'a SourceOpener<'a>,
}

impl SourceReader<'_> {
    fn lines(&mut self, path: &str) -> std::result::Result<&Vec<String>, String> {
        if !self.files.contains_key(path) {
            let loaded = self.open(path).map(|text| text.lines().map(str::to_string).collect());
            self.files.insert(path.to_string(), loaded);
        }
        self.files[path].as_ref().map_err(Clone::clone)
    }

    /// Finds `path` as pprof does: trimmed of configured prefixes, absolute paths
    /// as they are, relative ones under each search directory and its parents.
    fn open(&self, path: &str) -> std::result::Result<String, String> {
        let trimmed = trim_path(path, &self.trim_path, &self.search_path);
        let read = |p: &str| -> std::result::Result<Option<String>, String> {
            match (self.opener.read)(p) {
                Ok(t) => Ok(Some(t)),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(format!("cannot read source file {p}: {e}")),
            }
        };
        let syntax = self.opener.syntax;
        let hint = format!(
            "{} (and {} to drop the recorded prefix)",
            syntax.spell("source_path", "DIR"),
            syntax.spell("trim_path", "PREFIX")
        );
        if trimmed.starts_with('/') {
            return read(&trimmed)?
                .ok_or_else(|| format!("source file {trimmed} not found; if the sources live elsewhere, pass {hint}"));
        }
        for dir in self.search_path.split(':').filter(|d| !d.is_empty()) {
            let mut dir = dir.trim_end_matches('/').to_string();
            loop {
                let candidate = if dir.is_empty() {
                    trimmed.clone()
                } else {
                    format!("{dir}/{trimmed}")
                };
                if let Some(t) = read(&candidate)? {
                    return Ok(t);
                }
                match dir.rfind('/') {
                    Some(0) if dir.len() > 1 => dir = "/".into(),
                    Some(i) if i > 0 => dir.truncate(i),
                    _ => break,
                }
            }
        }
        Err(format!(
            "source file {trimmed} not found under {}; pass {hint}",
            if self.search_path.is_empty() {
                "."
            } else {
                &self.search_path
            }
        ))
    }
}

/// Turns a recorded source path into one to look up, as pprof does: with no trim
/// path configured, everything up to the base name of a search directory is
/// dropped (so `/build/proj/src/a.rs` is found under `~/proj`); configured
/// prefixes and `/proc/self/cwd/` are removed.
pub(crate) fn trim_path(path: &str, trim: &str, search: &str) -> String {
    if trim.is_empty() {
        for dir in search.split(':').filter(|d| !d.is_empty()) {
            let want = format!("/{}/", base_name(dir));
            if let Some(found) = path.find(&want) {
                return path[found + want.len()..].to_string();
            }
        }
    }
    let mut prefixes: Vec<String> = trim.split(':').filter(|t| !t.is_empty()).map(str::to_string).collect();
    prefixes.push("/proc/self/cwd/./".into());
    prefixes.push("/proc/self/cwd/".into());
    for mut p in prefixes {
        if !p.ends_with('/') {
            p.push('/');
        }
        if let Some(rest) = path.strip_prefix(p.as_str()) {
            return rest.to_string();
        }
    }
    path.to_string()
}

#[cfg(test)]
mod tests {
    use super::trim_path;

    #[test]
    fn trims_like_pprof() {
        assert_eq!(trim_path("/build/proj/src/a.rs", "", "/home/me/proj"), "src/a.rs");
        assert_eq!(trim_path("/build/x/a.rs", "/build", ""), "x/a.rs");
        assert_eq!(trim_path("/proc/self/cwd/a.rs", "", ""), "a.rs");
        assert_eq!(trim_path("/abs/a.rs", "", ""), "/abs/a.rs");
    }
}
