//! What a case reports: what was planted, what sonde found, the checks and
//! their verdicts, the files written and the commands to explore them; sent
//! from the case's process to the demo's as one JSON line.

use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::Case;

/// One case's result.
#[derive(Default)]
pub struct Outcome {
    /// What the workload does wrong, on purpose.
    pub planted: String,
    /// What sonde's report shows first (its first row, or the named site).
    pub found: String,
    /// Each check with its verdict.
    pub checks: Vec<(String, bool)>,
    /// Lines to show before the checks (a benchmark table, measured ratios).
    pub table: Vec<String>,
    /// Files written.
    pub files: Vec<String>,
    /// Commands to explore them.
    pub explore: Vec<String>,
}

impl Outcome {
    /// A case that could not run: one failed check saying why.
    pub fn failed(why: String) -> Outcome {
        Outcome {
            checks: vec![(why, false)],
            ..Outcome::default()
        }
    }

    /// Records a check; returns `ok`.
    pub fn check(&mut self, ok: bool, what: impl Into<String>) -> bool {
        self.checks.push((what.into(), ok));
        ok
    }

    /// Records a file written.
    pub fn file(&mut self, path: &Path) {
        self.files.push(path.display().to_string());
    }

    /// Records a command to explore the results.
    pub fn explore(&mut self, command: impl Into<String>) {
        self.explore.push(command.into());
    }

    /// Whether every check passed (a case with no check did not pass).
    pub fn passed(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|(_, ok)| *ok)
    }

    /// The JSON line the case's process prints.
    pub fn to_json(&self) -> String {
        json!({
            "planted": self.planted,
            "found": self.found,
            "checks": self.checks.iter().map(|(w, ok)| json!({"what": w, "ok": ok})).collect::<Vec<_>>(),
            "table": self.table,
            "files": self.files,
            "explore": self.explore,
        })
        .to_string()
    }

    /// Reads [`Outcome::to_json`]'s line.
    pub fn from_json(line: &str) -> Result<Outcome> {
        let v: Value = serde_json::from_str(line).context("reading the case's result")?;
        let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
        let list = |k: &str| -> Vec<String> {
            v[k].as_array()
                .map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect())
                .unwrap_or_default()
        };
        let checks = v["checks"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|c| {
                        (
                            c["what"].as_str().unwrap_or_default().to_string(),
                            c["ok"].as_bool() == Some(true),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Outcome {
            planted: s("planted"),
            found: s("found"),
            checks,
            table: list("table"),
            files: list("files"),
            explore: list("explore"),
        })
    }

    /// The case's report as the demo prints it.
    pub fn render(&self, number: usize, case: &Case, took: Duration) -> String {
        let mut o = String::new();
        let verdict = if self.passed() { "PASS" } else { "FAIL" };
        let _ = writeln!(
            o,
            "{number:>2}. {:<66} {verdict}  {:.1} s",
            case.title,
            took.as_secs_f64()
        );
        let field = |o: &mut String, name: &str, lines: &[String]| {
            for (i, l) in lines.iter().enumerate() {
                let _ = writeln!(o, "    {:<9}{l}", if i == 0 { name } else { "" });
            }
        };
        if !self.planted.is_empty() {
            field(&mut o, "planted:", std::slice::from_ref(&self.planted));
        }
        if !self.found.is_empty() {
            field(&mut o, "found:", std::slice::from_ref(&self.found));
        }
        for l in &self.table {
            let _ = writeln!(o, "      {l}");
        }
        for (what, ok) in &self.checks {
            // A failure's message may carry the case's own error output.
            let what = what.replace('\n', "\n         ");
            let _ = writeln!(o, "    {} {what}", if *ok { "ok  " } else { "FAIL" });
        }
        if !self.files.is_empty() {
            field(&mut o, "files:", std::slice::from_ref(&self.files.join("  ")));
        }
        field(&mut o, "explore:", &self.explore);
        field(&mut o, "Go:", &case.go.lines().map(String::from).collect::<Vec<_>>());
        o.push('\n');
        o
    }
}
