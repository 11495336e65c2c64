//! The interactive shell: `go tool pprof`'s `(pprof)` prompt, with the same
//! commands (`top10`, `list foo`, `peek`, `traces`, `sample_index=alloc_space`,
//! `focus=...`), history and tab completion.

use std::process::ExitCode;

use anyhow::{Context as _, Result, bail};
use rustyline::Editor;
use rustyline::error::ReadlineError;
use rustyline::history::FileHistory;
use sonde_profile::report::{self, Command, Config, Output};
use sonde_profile::{Granularity, Profile};

use crate::options::{AnalysisArgs, with_env};

mod complete;
use complete::ShellHelper;

pub(crate) const COMMANDS: &[(&str, &str)] = &[
    (
        "top",
        "Entries with the most samples; top20 shows 20, top -cum sorts by cumulative value",
    ),
    ("text", "Same as top"),
    ("list", "Annotated source of functions matching a regex: list main.work"),
    ("peek", "Callers and callees of entries matching a regex: peek alloc"),
    ("traces", "Every sample's stack"),
    ("tree", "Callers and callees of every entry"),
    ("raw", "The whole profile as text"),
    ("tags", "Label values and their share of the total"),
    ("folded", "Folded stacks (root;...;leaf value)"),
    ("flame", "Write a flame graph: flame > out.svg (default flame.svg)"),
    ("options", "Show the current settings (also: o)"),
    ("help", "This help, or help on a command or setting"),
    ("quit", "Leave the shell (also: exit, q, Ctrl-D)"),
];

pub(crate) const SETTINGS: &[(&str, &str)] = &[
    ("sample_index", "Sample value to report (a type name or index)"),
    ("focus", "Keep samples with a frame matching this regex"),
    ("ignore", "Drop samples with a frame matching this regex"),
    ("hide", "Remove frames matching this regex"),
    ("show", "Keep only frames matching this regex"),
    ("show_from", "Drop callers above the highest frame matching this regex"),
    ("prune_from", "Drop callees below the lowest frame matching this regex"),
    (
        "tagfocus",
        "Keep samples whose labels match (key=regex, regex, or a range like 1kb:64kb)",
    ),
    ("tagignore", "Drop samples whose labels match"),
    ("tagshow", "Keep only labels whose key matches"),
    ("taghide", "Remove labels whose key matches"),
    (
        "granularity",
        "functions, filefunctions, files, lines or addresses (or type the name alone)",
    ),
    ("noinlines", "Attribute inlined functions to their callers (true/false)"),
    ("nodecount", "Maximum number of entries to show"),
    ("nodefraction", "Hide entries below this fraction of the total"),
    ("edgefraction", "Hide edges below this fraction of the total"),
    ("sort", "flat or cum (or type cum / flat alone)"),
    ("unit", "Unit for values: minimum, auto, ms, s, kB, MB, ..."),
    ("drop_negative", "Hide entries with negative values (true/false)"),
    (
        "relative_percentages",
        "Percentages of the focused samples (true/false)",
    ),
    ("compact_labels", "Omit the profile header from reports (true/false)"),
    ("mean", "Report mean values per event (true/false)"),
    ("divide_by", "Divide all values by this number"),
    ("trim", "Apply nodecount/nodefraction/edgefraction (true/false)"),
    ("source_path", "Where to look for source files"),
    ("trim_path", "Path prefixes to drop from source paths"),
];

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
        // Shortcuts: a sample type, a granularity, cum/flat, a bool setting alone.
        if value.is_none() {
            if let Some(st) = self.profile.sample_types.iter().find(|t| &*t.ty == name) {
                self.cfg.sample_index = Some(st.ty.to_string());
                self.cfg.mean = false;
                return Ok(Some(Flow::Continue));
            }
            if let Ok(g) = name.parse::<Granularity>() {
                self.cfg.granularity = g;
                return Ok(Some(Flow::Continue));
            }
            match name {
                "cum" => self.cfg.cum = true,
                "flat" => self.cfg.cum = false,
                "noinlines" | "drop_negative" | "relative_percentages" | "compact_labels" | "mean" | "trim" => {
                    self.set(name, "true")?
                }
                _ => return Ok(None),
            }
            return Ok(Some(Flow::Continue));
        }
        if !SETTINGS.iter().any(|(n, _)| *n == name) {
            if line.split_whitespace().count() == 1 {
                bail!("unknown setting {name:?}; type \"help\" for the list");
            }
            return Ok(None);
        }
        self.set(name, value.unwrap_or_default())?;
        Ok(Some(Flow::Continue))
    }

    fn set(&mut self, name: &str, value: &str) -> Result<()> {
        let c = &mut self.cfg;
        let parse_bool = |v: &str| -> Result<bool> {
            match v {
                "" | "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" => Ok(false),
                _ => bail!("{name} takes true or false, not {v:?}"),
            }
        };
        let parse_fraction = |v: &str| -> Result<f64> {
            match v.parse::<f64>() {
                Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
                _ => bail!("{name} takes a number between 0 and 1, not {v:?}"),
            }
        };
        match name {
            "sample_index" => {
                if value.is_empty() {
                    c.sample_index = None;
                } else {
                    let i = self.profile.sample_index(Some(value))?;
                    c.sample_index = Some(self.profile.sample_types[i].ty.to_string());
                }
            }
            "focus" => c.focus = value.into(),
            "ignore" => c.ignore = value.into(),
            "hide" => c.hide = value.into(),
            "show" => c.show = value.into(),
            "show_from" => c.show_from = value.into(),
            "prune_from" => c.prune_from = value.into(),
            "tagfocus" => c.tagfocus = value.into(),
            "tagignore" => c.tagignore = value.into(),
            "tagshow" => c.tagshow = value.into(),
            "taghide" => c.taghide = value.into(),
            "source_path" => c.source_path = value.into(),
            "trim_path" => c.trim_path = value.into(),
            "unit" => {
                c.unit = if value.is_empty() {
                    "minimum".into()
                } else {
                    value.into()
                }
            }
            "granularity" => c.granularity = value.parse()?,
            "noinlines" => c.noinlines = parse_bool(value)?,
            "drop_negative" => c.drop_negative = parse_bool(value)?,
            "relative_percentages" => c.relative_percentages = parse_bool(value)?,
            "compact_labels" => c.compact_labels = parse_bool(value)?,
            "mean" => c.mean = parse_bool(value)?,
            "trim" => c.trim = parse_bool(value)?,
            "sort" => {
                c.cum = match value {
                    "cum" => true,
                    "flat" => false,
                    _ => bail!("sort takes cum or flat, not {value:?}"),
                }
            }
            "nodecount" => {
                c.nodecount = match value.parse::<i64>() {
                    Ok(n) if n < 0 => None,
                    Ok(n) => Some(n as usize),
                    Err(_) => bail!("nodecount takes a whole number, not {value:?}"),
                }
            }
            "nodefraction" => c.nodefraction = parse_fraction(value)?,
            "edgefraction" => c.edgefraction = parse_fraction(value)?,
            "divide_by" => match value.parse::<f64>() {
                Ok(d) if d != 0.0 && d.is_finite() => c.divide_by = d,
                _ => bail!("divide_by takes a non-zero number, not {value:?}"),
            },
            _ => bail!("unknown setting {name:?}; type \"help\" for the list"),
        }
        Ok(())
    }

    fn print_options(&self) {
        let c = &self.cfg;
        let current = |name: &str| -> String {
            match name {
                "sample_index" => c.sample_index.clone().unwrap_or_else(|| {
                    self.profile
                        .sample_index(None)
                        .map(|i| self.profile.sample_types[i].ty.to_string())
                        .unwrap_or_default()
                }),
                "focus" => c.focus.clone(),
                "ignore" => c.ignore.clone(),
                "hide" => c.hide.clone(),
                "show" => c.show.clone(),
                "show_from" => c.show_from.clone(),
                "prune_from" => c.prune_from.clone(),
                "tagfocus" => c.tagfocus.clone(),
                "tagignore" => c.tagignore.clone(),
                "tagshow" => c.tagshow.clone(),
                "taghide" => c.taghide.clone(),
                "granularity" => c.granularity.to_string(),
                "noinlines" => c.noinlines.to_string(),
                "nodecount" => c.nodecount.map_or("-1".into(), |n| n.to_string()),
                "nodefraction" => c.nodefraction.to_string(),
                "edgefraction" => c.edgefraction.to_string(),
                "sort" => if c.cum { "cum" } else { "flat" }.into(),
                "unit" => c.unit.clone(),
                "drop_negative" => c.drop_negative.to_string(),
                "relative_percentages" => c.relative_percentages.to_string(),
                "compact_labels" => c.compact_labels.to_string(),
                "mean" => c.mean.to_string(),
                "divide_by" => c.divide_by.to_string(),
                "trim" => c.trim.to_string(),
                "source_path" => c.source_path.clone(),
                "trim_path" => c.trim_path.clone(),
                _ => String::new(),
            }
        };
        let mut rows: Vec<String> = SETTINGS
            .iter()
            .map(|(n, _)| {
                let v = current(n);
                let v = if v.is_empty() { "\"\"".to_string() } else { v };
                let comment = match *n {
                    "sample_index" => format!("//: [{}]", self.profile.sample_type_names().join(" | ")),
                    "granularity" => "//: [addresses | filefunctions | files | functions | lines]".into(),
                    "sort" => "//: [cum | flat]".into(),
                    "nodecount" if c.nodecount.is_none() => "//: default".into(),
                    _ => String::new(),
                };
                format!("  {n:<25} = {v:<20} {comment}").trim_end().to_string()
            })
            .collect();
        rows.sort();
        println!("{}", rows.join("\n"));
    }

    fn command(&mut self, tokens: &[&str]) -> Result<()> {
        let mut name = tokens[0].to_string();
        let mut args: Vec<String> = tokens[1..].iter().map(|s| s.to_string()).collect();
        let known = |n: &str| COMMANDS.iter().any(|(c, _)| *c == n);
        if !known(&name) {
            // top10 = top 10
            let digits = name.len() - name.trim_end_matches(|c: char| c.is_ascii_digit()).len();
            if digits > 0 && digits < name.len() {
                let d = name.split_off(name.len() - digits);
                args.insert(0, d);
            }
        }
        if !known(&name) || matches!(name.as_str(), "options" | "help" | "quit") {
            if SETTINGS.iter().any(|(s, _)| *s == name) {
                bail!("did you mean: {name}={}", args.first().map_or("<val>", |s| s.as_str()));
            }
            bail!("unrecognized command {:?}; type \"help\" for the commands", tokens[0]);
        }
        let mut param = None;
        if matches!(name.as_str(), "list" | "peek") {
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
        let cmd = match name.as_str() {
            "top" | "text" => Command::Top,
            "list" => Command::List(param.unwrap_or_default()),
            "peek" => Command::Peek(param.unwrap_or_default()),
            "traces" => Command::Traces,
            "tree" => Command::Tree,
            "raw" => Command::Raw,
            "tags" => Command::Tags,
            "folded" => Command::Folded,
            "flame" => {
                let path = output.unwrap_or_else(|| "flame.svg".into());
                let mut svg = Vec::new();
                let warnings = crate::flame::write_flame(self.profile.clone(), None, &cfg, &self.title, &mut svg)?;
                warnings.iter().for_each(|w| eprintln!("{w}"));
                std::fs::write(&path, svg).with_context(|| format!("cannot write {path}"))?;
                println!("Generating report in {path}");
                return Ok(());
            }
            _ => bail!("unrecognized command {name:?}"),
        };
        let generated = with_env(|env| report::generate(self.profile.clone(), &cmd, &cfg, env))?;
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
        if let Some((n, h)) = COMMANDS.iter().chain(SETTINGS).find(|(n, _)| *n == t) {
            println!("{n}: {h}");
        } else {
            eprintln!("Unknown command or setting: {t}");
        }
        return;
    }
    println!("  Commands:");
    for (n, h) in COMMANDS {
        println!("    {n:<12} {h}");
    }
    println!();
    println!("  Settings (set with name=value, e.g. sample_index=alloc_space, focus=main):");
    for (n, h) in SETTINGS {
        println!("    {n:<21} {h}");
    }
    println!();
    println!("  Arguments after a command: a number sets how many entries to show,");
    println!("  a regex focuses, -regex ignores, -cum sorts by cum, >FILE writes to FILE.");
    println!("  :   Clear focus/ignore/hide/tagfocus/tagignore");
    println!();
    println!("  type \"help <cmd|option>\" for more information");
}
