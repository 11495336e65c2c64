//! `list REGEX`: the source of matching functions, each line with its flat and
//! cumulative values.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io;

use regex::Regex;

use super::Report;
use crate::graph::{Graph, Node};
use crate::model::base_name;
use crate::units::percentage;
use crate::{Error, Result};

/// How `list` reads source files: a reader for paths, and the directory that
/// relative paths are searched from when no source path is configured.
pub struct SourceOpener<'a> {
    /// Reads a whole file; `NotFound` means "try elsewhere".
    pub read: &'a dyn Fn(&str) -> io::Result<String>,
    /// The current directory, searched (with its parents) when no source path is set.
    pub current_dir: String,
}

impl SourceOpener<'_> {
    /// An opener that finds nothing, for callers without a file system.
    pub fn none() -> SourceOpener<'static> {
        SourceOpener {
            read: &|p| Err(io::Error::new(io::ErrorKind::NotFound, p.to_string())),
            current_dir: String::new(),
        }
    }
}

const MARGIN: i64 = 5;

/// Produces the listing and, separately, one message per source file that could
/// not be read.
pub(super) fn list(rpt: &mut Report, rx: &Regex, opener: &SourceOpener) -> Result<(String, Vec<String>)> {
    let table = rpt.node_table();
    let g = rpt.graph(&table, None, false);

    let mut order: Vec<&Node> = Vec::new();
    let mut by_function: HashMap<&str, Vec<&Node>> = HashMap::new();
    for n in &g.nodes {
        if !rx.is_match(&n.info.name) {
            continue;
        }
        let e = by_function.entry(&n.info.name).or_default();
        if e.is_empty() {
            order.push(n);
        }
        e.push(n);
    }
    if order.is_empty() {
        return Err(Error::NoMatches(rx.as_str().to_string()));
    }
    Graph::sort_by_name(&mut order);

    let search_path = if rpt.cfg.source_path.is_empty() {
        opener.current_dir.clone()
    } else {
        rpt.cfg.source_path.clone()
    };
    let mut reader = SourceReader {
        search_path,
        trim_path: rpt.cfg.trim_path.clone(),
        files: HashMap::new(),
        opener,
    };
    let mut out = String::new();
    let mut missing = Vec::new();
    let _ = writeln!(out, "Total: {}", rpt.format_value(rpt.total));
    for f in order {
        let name = &*f.info.name;
        let mut files: Vec<&Node> = Vec::new();
        let mut by_file: HashMap<&str, Vec<&Node>> = HashMap::new();
        for n in &by_function[name] {
            if n.info.file.is_empty() {
                continue;
            }
            let e = by_file.entry(&n.info.file).or_default();
            if e.is_empty() {
                files.push(n);
            }
            e.push(n);
        }
        if files.is_empty() {
            let _ = writeln!(out, "No source information for {name}");
            continue;
        }
        Graph::sort_by_file(&mut files);
        for fl in files {
            let file = &*fl.info.file;
            let nodes = &by_file[file];
            let (flat_sum, cum_sum) = nodes.iter().fold((0, 0), |(f, c), n| (f + n.flat, c + n.cum));
            let _ = writeln!(out, "ROUTINE ======================== {name} in {file}");
            let _ = writeln!(
                out,
                "{:>10} {:>10} (flat, cum) {} of Total",
                rpt.format_value(flat_sum),
                rpt.format_value(cum_sum),
                percentage(cum_sum, rpt.total)
            );
            match source_lines(file, &mut reader, nodes) {
                Ok(lines) => {
                    for (lineno, flat, cum, text) in lines {
                        let _ = writeln!(
                            out,
                            "{:>10} {:>10} {lineno:>6}:{text}",
                            value_or_dot(rpt, flat),
                            value_or_dot(rpt, cum)
                        );
                    }
                }
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
                    for (lineno, flat, cum) in sampled {
                        let _ = writeln!(
                            out,
                            "{:>10} {:>10} {lineno:>6}: (source not available)",
                            value_or_dot(rpt, flat),
                            value_or_dot(rpt, cum)
                        );
                    }
                    missing.push(e);
                }
            }
        }
    }
    Ok((out, missing))
}

fn value_or_dot(rpt: &Report, v: i64) -> String {
    if v == 0 { ".".into() } else { rpt.format_value(v) }
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
        if trimmed.starts_with('/') {
            return read(&trimmed)?.ok_or_else(|| {
                format!("source file {trimmed} not found; if the sources live elsewhere, pass --source-path DIR (and --trim-path PREFIX to drop the recorded prefix)")
            });
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
            "source file {trimmed} not found under {}; pass --source-path DIR (and --trim-path PREFIX to drop the recorded prefix)",
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
