//! The interactive shell: `go tool pprof`'s `(pprof)` prompt, with the same
//! commands (`top10`, `list foo`, `peek`, `traces`, `sample_index=alloc_space`,
//! `focus=...`), history and tab completion.

use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use rustyline::Editor;
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use sonde_profile::Profile;
use sonde_profile::report::{self, Command, Config, Kind, Output, SETTINGS, SettingSyntax};

use crate::options::{AnalysisArgs, with_env, with_env_for};

mod complete;
use complete::ShellHelper;

/// The shell's own commands, beside the reports of [`report::COMMANDS`].
const SHELL_COMMANDS: &[(&str, &str)] = &[
    ("flame", "Write a flame graph: flame > out.svg (default flame.svg)"),
    ("options", "Show the current settings (also: o)"),
    ("help", "This help, or help on a command or setting"),
    ("quit", "Leave the shell (also: exit, q, Ctrl-D)"),
];

/// Every command the shell knows, with its help: the reports, then its own.
pub(crate) fn commands() -> impl Iterator<Item = (&'static str, &'static str)> {
    report::COMMANDS
        .iter()
        .map(|c| (c.name, c.help))
        .chain(SHELL_COMMANDS.iter().copied())
}

/// Every setting, with its help, from sonde-profile's table.
pub(crate) fn settings() -> impl Iterator<Item = (&'static str, &'static str)> {
    SETTINGS.iter().map(|s| (s.name, s.help))
}

struct Session {
    profile: Profile,
    cfg: Config,
    title: String,
}

enum Flow {
    Continue,
    Quit,
}

/// Runs the shell until `quit` or end of input.
pub fn run(args: AnalysisArgs) -> Result<ExitCode> {
    let mut cfg = args.config()?;
    cfg.compact_labels = true;
    let profile = args.sources().load()?;
    let title = profile.main_binary().unwrap_or("sonde").to_string();
    let mut session = Session { profile, cfg, title };

    let greeting = with_env(|env| report::greeting(&session.profile, &session.cfg, env))?;
    for l in greeting {
        println!("{l}");
    }
    println!("Entering interactive mode (type \"help\" for commands, \"o\" for options)");

    let mut rl: Editor<ShellHelper, FileHistory> = Editor::new().context("starting the line editor")?;
    rl.set_helper(Some(ShellHelper::new(&session.profile)));
    let history = std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".sonde_history"));
    if let Some(h) = &history {
        let _ = rl.load_history(h);
    }
    loop {
        match rl.readline("(pprof) ") {
            Ok(line) => {
                if !line.trim().is_empty() {
                    let _ = rl.add_history_entry(line.as_str());
                }
                match session.execute(&line) {
                    Ok(Flow::Quit) => break,
                    Ok(Flow::Continue) => {}
                    Err(e) => eprintln!("{e:#}"),
                }
            }
            Err(ReadlineError::Interrupted) => continue,
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e).context("reading a command"),
        }
    }
    if let Some(h) = &history {
        let _ = rl.save_history(h);
    }
    Ok(ExitCode::SUCCESS)
}

impl Session {
    fn execute(&mut self, line: &str) -> Result<Flow> {
        let line = line.trim();
        if line.is_empty() {
            return Ok(Flow::Continue);
        }
        if line == ":" {
            for f in [
                &mut self.cfg.focus,
                &mut self.cfg.ignore,
                &mut self.cfg.hide,
                &mut self.cfg.tagfocus,
                &mut self.cfg.tagignore,
            ] {
                f.clear();
            }
            return Ok(Flow::Continue);
        }
        if let Some(flow) = self.assign(line)? {
            return Ok(flow);
        }
        let tokens: Vec<&str> = line.split_whitespace().collect();
        match tokens[0] {
            "o" | "options" => {
                self.print_options();
                return Ok(Flow::Continue);
            }
            "quit" | "exit" | "q" => return Ok(Flow::Quit),
            "help" => {
                print_help(tokens.get(1).copied());
                return Ok(Flow::Continue);
            }
            _ => {}
        }
        self.command(&tokens)?;
        Ok(Flow::Continue)
    }

    /// Handles `name=value` settings and bare shortcuts; `None` if `line` is not one.
    fn assign(&mut self, line: &str) -> Result<Option<Flow>> {
        let (name, value) = match line.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (line, None),
        };
        // Shortcuts: a sample type, a choice word (cum, flat, lines, ...), a bool setting alone.
        let Some(value) = value else {
            if self.profile.sample_types.iter().any(|t| &*t.ty == name) {
                self.set("sample_index", name)?;
                self.cfg.mean = false;
            } else if report::find_choice(name).is_some()
                || report::find_setting(name).is_some_and(|s| s.kind == Kind::Bool)
            {
                self.set(name, "true")?;
            } else {
                return Ok(None);
            }
            return Ok(Some(Flow::Continue));
        };
        if report::find_setting(name).is_none() {
            if line.split_whitespace().count() == 1 {
                bail!("unknown setting {name:?}; type \"help\" for the list");
            }
            return Ok(None);
        }
        self.set(name, value)?;
        Ok(Some(Flow::Continue))
    }

    /// Sets a setting through the table; a sample index is checked against the
    /// profile and kept by its type name.
    fn set(&mut self, name: &str, value: &str) -> Result<()> {
        let mut cfg = self.cfg.clone();
        cfg.set(name, value)?;
        if cfg.sample_index.is_some() && cfg.sample_index != self.cfg.sample_index {
            let i = report::resolve_sample_index(&self.profile, &cfg)?;
            cfg.sample_index = Some(self.profile.sample_types[i].ty.to_string());
        }
        self.cfg = cfg;
        Ok(())
    }

    fn print_options(&self) {
        let c = &self.cfg;
        let mut rows: Vec<String> = SETTINGS
            .iter()
            .map(|s| {
                let mut v = s.get(c);
                if s.name == "sample_index" && v.is_empty() {
                    v = report::resolve_sample_index(&self.profile, c)
                        .map(|i| self.profile.sample_types[i].ty.to_string())
                        .unwrap_or_default();
                }
                let v = if v.is_empty() { "\"\"".to_string() } else { v };
                let comment = if s.name == "sample_index" {
                    format!("//: [{}]", self.profile.sample_type_names().join(" | "))
                } else if !s.choices().is_empty() {
                    let mut choices = s.choices().to_vec();
                    choices.sort();
                    format!("//: [{}]", choices.join(" | "))
                } else if s.name == "nodecount" && c.nodecount.is_none() {
                    "//: default".into()
                } else {
                    String::new()
                };
                format!("  {:<25} = {v:<20} {comment}", s.name).trim_end().to_string()
            })
            .collect();
        rows.sort();
        println!("{}", rows.join("\n"));
    }

    fn command(&mut self, tokens: &[&str]) -> Result<()> {
        let mut name = tokens[0].to_string();
        let mut args: Vec<String> = tokens[1..].iter().map(|s| s.to_string()).collect();
        if name == "web" {
            bail!(
                "the web UI (`sonde web`) is not built yet; `flame > flame.svg` writes a flame graph to open in a browser"
            );
        }
        let known = |n: &str| commands().any(|(c, _)| c == n);
        if !known(&name) {
            // top10 = top 10
            let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
            if digits > 0 && digits < name.len() {
                let d = name.split_off(name.len() - digits);
                args.insert(0, d);
            }
        }
        if !known(&name) || matches!(name.as_str(), "options" | "help" | "quit") {
            if report::find_setting(&name).is_some() {
                bail!("did you mean: {name}={}", args.first().map_or("<val>", |s| s.as_str()));
            }
            bail!("unrecognized command {:?}; type \"help\" for the commands", tokens[0]);
        }
        let mut param = None;
        if report::COMMANDS.iter().any(|c| c.name == name && c.takes_regex) {
            if args.is_empty() {
                bail!("{name} needs a regular expression, e.g. {name} main");
            }
            param = Some(args.remove(0));
        }
        let mut cfg = self.cfg.clone();
        let mut output: Option<String> = None;
        let (mut focus, mut ignore) = (String::new(), String::new());
        let mut i = 0;
        while i < args.len() {
            let t = &args[i];
            if let Ok(n) = t.parse::<i64>() {
                cfg.nodecount = if n < 0 { None } else { Some(n as usize) };
            } else if let Some(rest) = t.strip_prefix('>') {
                if rest.is_empty() {
                    i += 1;
                    output = Some(args.get(i).cloned().context("a file name must follow >")?);
                } else {
                    output = Some(rest.to_string());
                }
            } else if t == "-cum" || t == "--cum" {
                cfg.cum = true;
            } else if let Some(rest) = t.strip_prefix('-') {
                ignore = cat_regex(&ignore, rest);
            } else {
                focus = cat_regex(&focus, t);
            }
            i += 1;
        }
        if name == "tags" {
            if !focus.is_empty() {
                cfg.tagfocus = focus;
            }
            if !ignore.is_empty() {
                cfg.tagignore = ignore;
            }
        } else {
            if !focus.is_empty() {
                cfg.focus = focus;
            }
            if !ignore.is_empty() {
                cfg.ignore = ignore;
            }
        }
        if cfg.nodecount.is_none() && (name == "top" || name == "text") {
            cfg.nodecount = Some(10);
        }
        if name == "flame" {
            let path = output.unwrap_or_else(|| "flame.svg".into());
            let mut svg = Vec::new();
            let warnings = sonde_profile::report::write_flame(self.profile.clone(), None, &cfg, &self.title, &mut svg)?;
            warnings.iter().for_each(|w| eprintln!("{w}"));
            std::fs::write(&path, svg).with_context(|| format!("cannot write {path}"))?;
            println!("Generating report in {path}");
            return Ok(());
        }
        let Some(cmd) = Command::from_name(&name, param.as_deref()) else {
            bail!("unrecognized command {name:?}")
        };
        let generated = with_env_for(SettingSyntax::Assignment, |env| {
            report::generate(self.profile.clone(), &cmd, &cfg, env)
        })?;
        for w in &generated.warnings {
            eprintln!("{w}");
        }
        let Output::Text(text) = generated.output else {
            bail!("internal error: {name} did not produce text")
        };
        match output {
            Some(path) => {
                std::fs::write(&path, &text).with_context(|| format!("cannot write {path}"))?;
                println!("Generating report in {path}");
            }
            None => print!("{text}"),
        }
        Ok(())
    }
}

fn cat_regex(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (false, false) => format!("{a}|{b}"),
        _ => format!("{a}{b}"),
    }
}

fn print_help(topic: Option<&str>) {
    if let Some(t) = topic {
        if let Some((n, h)) = commands().chain(settings()).find(|(n, _)| *n == t) {
            println!("{n}: {h}");
        } else {
            eprintln!("Unknown command or setting: {t}");
        }
        return;
    }
    println!("  Commands:");
    for (n, h) in commands() {
        println!("    {n:<12} {h}");
    }
    println!();
    println!("  Settings (set with name=value, e.g. sample_index=alloc_space, focus=main):");
    for (n, h) in settings() {
        println!("    {n:<21} {h}");
    }
    println!();
    println!("  A sample type, a granularity or cum/flat typed alone selects it;");
    println!("  a true/false setting typed alone turns it on.");
    println!("  Arguments after a command: a number sets how many entries to show,");
    println!("  a regex focuses, -regex ignores, -cum sorts by cum, >FILE writes to FILE.");
    println!("  :   Clear focus/ignore/hide/tagfocus/tagignore");
    println!();
    println!("  type \"help <cmd|option>\" for more information");
}
