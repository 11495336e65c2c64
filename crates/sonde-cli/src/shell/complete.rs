//! Tab completion in the shell: commands, settings, sample types, granularities,
//! and function names for command arguments (prefix, or a unique substring as
//! pprof completes).

use std::borrow::Cow;

use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};
use sonde_profile::Profile;
use sonde_profile::report::{self, Kind, SETTINGS};

use super::{commands, settings};

/// Tab completion of commands, settings, sample types and function names.
pub(crate) struct ShellHelper {
    words: Vec<String>,
    functions: Vec<String>,
    sample_types: Vec<String>,
}

impl ShellHelper {
    pub(crate) fn new(p: &Profile) -> Self {
        let mut words: Vec<String> = commands().chain(settings()).map(|(n, _)| n.to_string()).collect();
        words.extend(p.sample_types.iter().map(|t| t.ty.to_string()));
        words.extend(["o", "exit", "q"].map(String::from));
        words.extend(SETTINGS.iter().flat_map(|s| s.choices()).map(|w| w.to_string()));
        words.sort();
        words.dedup();
        let mut functions: Vec<String> = p
            .functions
            .iter()
            .map(|f| f.name.to_string())
            .filter(|n| !n.is_empty())
            .collect();
        functions.sort();
        functions.dedup();
        let sample_types = p.sample_types.iter().map(|t| t.ty.to_string()).collect();
        ShellHelper {
            words,
            functions,
            sample_types,
        }
    }
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(&self, line: &str, pos: usize, _ctx: &Context<'_>) -> rustyline::Result<(usize, Vec<Pair>)> {
        let before = &line[..pos];
        let start = before
            .rfind(|c: char| c.is_whitespace() || c == '=')
            .map_or(0, |i| i + 1);
        let word = &before[start..];
        let first_word = !before[..start].chars().any(|c| !c.is_whitespace());
        let (start, word, prefix) = match word.strip_prefix('-') {
            Some(w) if !first_word => (start + 1, w, ""),
            _ => (start, word, ""),
        };
        // After `name=`, the values that setting takes.
        let setting = before[..start]
            .trim_start()
            .strip_suffix('=')
            .and_then(|n| report::find_setting(n.trim()));
        let values: Vec<String>;
        let pool = match setting {
            Some(s) if s.name == "sample_index" => &self.sample_types,
            Some(s) if !s.choices().is_empty() => {
                values = s.choices().iter().map(|c| c.to_string()).collect();
                &values
            }
            Some(s) if s.kind == Kind::Bool => {
                values = vec!["false".into(), "true".into()];
                &values
            }
            Some(s) if s.kind == Kind::Regex => &self.functions,
            Some(_) => return Ok((start, Vec::new())),
            None if first_word => &self.words,
            None => &self.functions,
        };
        let mut out: Vec<Pair> = pool
            .iter()
            .filter(|w| w.starts_with(word))
            .map(|w| Pair {
                display: w.clone(),
                replacement: format!("{prefix}{w}"),
            })
            .collect();
        if out.is_empty() && !first_word && !word.is_empty() {
            // As pprof does, a unique substring match completes too.
            let hits: Vec<&String> = pool.iter().filter(|w| w.contains(word)).collect();
            if hits.len() == 1 {
                out.push(Pair {
                    display: hits[0].clone(),
                    replacement: hits[0].clone(),
                });
            }
        }
        Ok((start, out))
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}

impl Highlighter for ShellHelper {
    fn highlight<'l>(&self, line: &'l str, _pos: usize) -> Cow<'l, str> {
        Cow::Borrowed(line)
    }
}

impl Validator for ShellHelper {}

impl Helper for ShellHelper {}

#[cfg(test)]
mod tests {
    use super::*;
    use rustyline::history::DefaultHistory;
    use sonde_profile::{Function, ValueType};

    fn complete(h: &ShellHelper, line: &str) -> (usize, Vec<String>) {
        let history = DefaultHistory::new();
        let ctx = Context::new(&history);
        let (start, pairs) = h.complete(line, line.len(), &ctx).expect("complete");
        (start, pairs.into_iter().map(|p| p.replacement).collect())
    }

    #[test]
    fn completes_commands_settings_and_functions() {
        let p = Profile {
            sample_types: vec![
                ValueType::new("alloc_space", "bytes"),
                ValueType::new("inuse_space", "bytes"),
            ],
            functions: ["main.createMemory", "main.cacheEntries", "runtime.mallocgc"]
                .iter()
                .map(|n| Function {
                    name: (*n).into(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        let h = ShellHelper::new(&p);
        assert_eq!(complete(&h, "tre"), (0, vec!["tree".to_string()]));
        assert_eq!(complete(&h, "tr").1, ["traces", "tree", "trim", "trim_path"]);
        assert_eq!(complete(&h, "sample_i"), (0, vec!["sample_index".to_string()]));
        assert_eq!(complete(&h, "alloc"), (0, vec!["alloc_space".to_string()]));
        assert_eq!(complete(&h, "list main.cr"), (5, vec!["main.createMemory".to_string()]));
        assert_eq!(
            complete(&h, "top -runtime.m"),
            (5, vec!["runtime.mallocgc".to_string()])
        );
        // A unique substring completes, as in pprof.
        assert_eq!(complete(&h, "peek Entries"), (5, vec!["main.cacheEntries".to_string()]));
        assert_eq!(complete(&h, "focus=main.c").1.len(), 2);
        // After name=, the values the setting takes.
        assert_eq!(complete(&h, "sample_index=a"), (13, vec!["alloc_space".to_string()]));
        assert_eq!(complete(&h, "sample_index=").1, ["alloc_space", "inuse_space"]);
        assert_eq!(complete(&h, "granularity=fi").1, ["filefunctions", "files"]);
        assert_eq!(complete(&h, "noinlines=t").1, ["true"]);
    }
}
