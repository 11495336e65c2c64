//! `go tool pprof`'s own command line, accepted as it is: Go's single-dash
//! flags (`-top`, `-sample_index=alloc_space`, `-base old.pb.gz`), its output
//! formats as flags instead of sonde's subcommands, and its legacy sample
//! selectors (`-alloc_space`, `-contentions`, ...). [`translate`] rewrites such
//! a command line into sonde's before clap reads it; sonde's own spelling passes
//! through unchanged. Settings are recognised from sonde-profile's one table,
//! so a setting added there is a Go-style flag here too.
//!
//! Go's flag syntax: `-name`, `-name=value`, `-name value` (not for bools), and
//! the same with two dashes.

use sonde_profile::report::{self, Kind};

/// What [`translate`] made of a command line.
#[derive(Debug, PartialEq, Eq)]
pub struct Translated {
    /// sonde's arguments (without the program name).
    pub args: Vec<String>,
    /// Notes for the user (things accepted but without effect in sonde).
    pub notes: Vec<String>,
}

/// `go tool pprof`'s output formats that sonde has as subcommands.
fn format_command(name: &str) -> Option<&'static str> {
    Some(match name {
        "top" | "text" => "top",
        "list" => "list",
        "peek" => "peek",
        "traces" => "traces",
        "tree" => "tree",
        "raw" => "raw",
        "tags" => "tags",
        "proto" => "convert",
        "flame" => "flame",
        _ => return None,
    })
}

/// Output formats of `go tool pprof` that sonde does not have, with what to use.
fn unsupported_format(name: &str) -> Option<String> {
    let graph = "sonde draws flame graphs, not call-graph images: sonde flame PROFILE -o flame.svg";
    Some(match name {
        "web" => format!("-{name}: sonde's call graph is in its web UI: sonde web PROFILE --open (then Graph)"),
        "svg" | "png" | "pdf" | "gif" | "ps" | "dot" | "eog" | "evince" | "gv" => format!("-{name}: {graph}"),
        "callgrind" | "kcachegrind" => {
            format!(
                "-{name}: callgrind output is not supported; sonde convert --format folded|speedscope|pprof exports"
            )
        }
        "disasm" | "weblist" => {
            format!("-{name}: disassembly is not supported; sonde list REGEX shows annotated source")
        }
        "symbolize" => {
            format!("-{name}: sonde symbolizes from the profile itself and needs no binary or symbol server")
        }
        "tls_cert" | "tls_key" | "tls_ca" => {
            format!("-{name}: client certificates are not supported; fetch with curl --cert, then pass the file")
        }
        "tools" | "add_comment" | "call_tree" | "intel_syntax" | "tagroot" | "tagleaf" | "columns" => {
            format!("-{name} is not supported by sonde; `sonde help top` lists the flags it has")
        }
        _ => return None,
    })
}

/// Go's legacy sample-value flags (`-alloc_space` is `-sample_index=alloc_space`).
fn legacy_sample_index(name: &str) -> Option<(&'static str, bool)> {
    Some(match name {
        "inuse_space" => ("inuse_space", false),
        "inuse_objects" => ("inuse_objects", false),
        "alloc_space" => ("alloc_space", false),
        "alloc_objects" => ("alloc_objects", false),
        "total_delay" | "delay" => ("delay", false),
        "contentions" => ("contentions", false),
        "mean_delay" => ("delay", true),
        _ => return None,
    })
}

/// Rewrites `go tool pprof`'s command line (without the program name) into
/// sonde's. A command line already in sonde's form comes back unchanged.
///
/// # Errors
/// A one-line message for a flag sonde does not have, naming what to use instead.
pub fn translate(args: &[String], subcommands: &[String]) -> Result<Translated, String> {
    let mut out = Vec::new();
    let mut notes = Vec::new();
    let mut command: Option<(&'static str, Vec<String>)> = None;
    let mut open_browser = true;
    let has_subcommand = args.first().is_some_and(|a| subcommands.iter().any(|s| s == a));
    let mut rest = args.iter().peekable();
    if has_subcommand {
        out.push(rest.next().cloned().unwrap_or_default());
    }
    let mut output_given = false;
    while let Some(arg) = rest.next() {
        if arg == "--" {
            out.push(arg.clone());
            out.extend(rest.by_ref().cloned());
            break;
        }
        let Some((name, value)) = go_flag(arg) else {
            output_given |= arg == "-o" || arg == "--output";
            out.push(arg.clone());
            continue;
        };
        let mut take_value = |what: &str| -> Result<String, String> {
            match &value {
                Some(v) => Ok(v.clone()),
                None => rest.next().cloned().ok_or_else(|| format!("-{name} needs {what}")),
            }
        };
        if let Some(cmd) = format_command(&name) {
            if has_subcommand || command.is_some() {
                return Err(format!(
                    "-{name}: one report at a time; give either a command (sonde {cmd} ...) or one -FORMAT flag"
                ));
            }
            let regex = matches!(cmd, "list" | "peek")
                .then(|| take_value("a regular expression"))
                .transpose()?;
            command = Some((cmd, regex.into_iter().collect()));
            continue;
        }
        if name == "http" {
            // `go tool pprof -http=:8080 PROFILE`: the web UI, opened in a
            // browser unless -no_browser.
            let addr = take_value("an address such as :8080")?;
            if has_subcommand {
                out.extend(["--http".to_string(), addr]);
                continue;
            }
            if command.is_some() {
                return Err("-http: one report at a time; the web UI has every view".into());
            }
            command = Some(("web", vec!["--http".to_string(), addr]));
            continue;
        }
        if name == "no_browser" {
            open_browser = !bool_value(&name, value.as_deref())?;
            continue;
        }
        if let Some(why) = unsupported_format(&name) {
            return Err(why);
        }
        if let Some((index, mean)) = legacy_sample_index(&name) {
            out.extend(["--sample-index".to_string(), index.to_string()]);
            if mean {
                out.push("--mean".into());
            }
            continue;
        }
        match name.as_str() {
            "base" | "diff_base" => {
                out.push(format!("--{}", name.replace('_', "-")));
                out.push(take_value("a profile")?);
                continue;
            }
            "seconds" | "timeout" => {
                out.push(format!("--{name}"));
                out.push(take_value("a number of seconds")?);
                continue;
            }
            "normalize" => {
                if bool_value(&name, value.as_deref())? {
                    out.push("--normalize".into());
                }
                continue;
            }
            "output" => {
                out.extend(["-o".to_string(), take_value("a file name")?]);
                output_given = true;
                continue;
            }
            "help" | "version" => {
                out.push(format!("--{name}"));
                continue;
            }
            _ => {}
        }
        if let Some(s) = report::find_setting(&name) {
            let v = match s.kind {
                Kind::Bool => bool_value(&name, value.as_deref())?.to_string(),
                _ => take_value("a value")?,
            };
            out.push(format!("--{}={v}", s.flag()));
            continue;
        }
        if report::find_choice(&name).is_some() {
            if bool_value(&name, value.as_deref())? {
                out.push(format!("--{name}"));
            }
            continue;
        }
        // Not a Go flag sonde knows: let clap report it with sonde's spelling.
        out.push(arg.clone());
    }
    if let Some((cmd, extra)) = command {
        let mut head = vec![cmd.to_string()];
        head.extend(extra);
        if cmd == "web" && open_browser {
            head.push("--open".to_string());
        }
        if cmd == "convert" {
            head.extend(["--format".to_string(), "pprof".to_string()]);
            if !output_given {
                head.extend(["-o".to_string(), "-".to_string()]);
            }
        }
        head.append(&mut out);
        out = head;
    } else if !has_subcommand && !out.is_empty() && !is_top_level_flag(&out[0]) {
        // `go tool pprof [flags] PROFILE` is interactive.
        out.insert(0, "shell".into());
    }
    if out.first().is_some_and(|c| c == "shell") && output_given {
        notes.push("-output has no effect in the interactive shell; use `top > FILE` there".into());
    }
    Ok(Translated { args: out, notes })
}

/// sonde's own flags that stand before any command.
fn is_top_level_flag(arg: &str) -> bool {
    matches!(arg, "-h" | "--help" | "-V" | "--version")
}

/// Splits a Go-style long flag (`-name`, `-name=value`, `--name=value`) into
/// its name and value; `None` for anything else (a path, a short flag such as
/// `-n`, sonde's own `--kebab-case` flags).
fn go_flag(arg: &str) -> Option<(String, Option<String>)> {
    let body = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-'))?;
    let (name, value) = match body.split_once('=') {
        Some((n, v)) => (n, Some(v.to_string())),
        None => (body, None),
    };
    let single = !arg.starts_with("--");
    let go_like = name.len() > 1
        && name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    // Two dashes: only Go names sonde does not spell the same (`--sample_index`
    // is a clap alias already; `--top` is a Go output format).
    if !go_like || (!single && (format_command(name).is_none() && unsupported_format(name).is_none())) {
        return None;
    }
    Some((name.to_string(), value))
}

fn bool_value(name: &str, v: Option<&str>) -> Result<bool, String> {
    match v {
        None | Some("true" | "t" | "1" | "T" | "TRUE" | "True") => Ok(true),
        Some("false" | "f" | "0" | "F" | "FALSE" | "False") => Ok(false),
        Some(v) => Err(format!("-{name} takes true or false, not {v:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(line: &str) -> Result<Vec<String>, String> {
        let subs: Vec<String> = ["top", "list", "peek", "shell", "convert", "flame", "diff", "web"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let args: Vec<String> = line.split_whitespace().map(String::from).collect();
        translate(&args, &subs).map(|t| t.args)
    }

    fn s(line: &str) -> Vec<String> {
        line.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn go_command_lines() {
        assert_eq!(t("cpu.prof").unwrap(), s("shell cpu.prof"));
        assert_eq!(
            t("-base old.prof new.prof").unwrap(),
            s("shell --base old.prof new.prof")
        );
        assert_eq!(
            t("-top -sample_index=alloc_space -base old.pb.gz new.pb.gz").unwrap(),
            s("top --sample-index=alloc_space --base old.pb.gz new.pb.gz")
        );
        assert_eq!(t("-list expensive cpu.pb.gz").unwrap(), s("list expensive cpu.pb.gz"));
        assert_eq!(t("-list=expensive cpu.pb.gz").unwrap(), s("list expensive cpu.pb.gz"));
        assert_eq!(t("-raw cpu.pb.gz").unwrap(), s("raw cpu.pb.gz"));
        assert_eq!(
            t("-proto a.pb.gz b.pb.gz").unwrap(),
            s("convert --format pprof -o - a.pb.gz b.pb.gz")
        );
        assert_eq!(
            t("-proto -output m.pb.gz a.pb.gz").unwrap(),
            s("convert --format pprof -o m.pb.gz a.pb.gz")
        );
        assert_eq!(
            t("-top -nodecount 5 -cum -lines -noinlines cpu.pb.gz").unwrap(),
            s("top --nodecount=5 --cum --lines --noinlines=true cpu.pb.gz")
        );
        assert_eq!(
            t("-top -alloc_space heap.pb.gz").unwrap(),
            s("top --sample-index alloc_space heap.pb.gz")
        );
        assert_eq!(
            t("-traces -mean_delay mutex.pb.gz").unwrap(),
            s("traces --sample-index delay --mean mutex.pb.gz")
        );
        assert_eq!(t("--top cpu.pb.gz").unwrap(), s("top cpu.pb.gz"));
    }

    #[test]
    fn sonde_command_lines_pass_through() {
        for line in [
            "top --sample-index alloc_space heap.pb.gz",
            "top -n 5 cpu.pb.gz",
            "list main cpu.pb.gz -o out.txt",
            "diff --base a b",
            "--help",
            "--version",
        ] {
            assert_eq!(t(line).unwrap(), s(line), "{line}");
        }
        // Go-style flags inside a sonde command line.
        assert_eq!(
            t("top -sample_index=alloc_space heap.pb.gz").unwrap(),
            s("top --sample-index=alloc_space heap.pb.gz")
        );
    }

    #[test]
    fn what_sonde_lacks_is_named() {
        assert_eq!(
            t("-http=:8080 cpu.pb.gz").unwrap(),
            ["web", "--http", ":8080", "--open", "cpu.pb.gz"]
        );
        assert_eq!(
            t("-no_browser -http :0 -sample_index=alloc_space heap.pb.gz").unwrap(),
            ["web", "--http", ":0", "--sample-index=alloc_space", "heap.pb.gz"]
        );
        // sonde's own spelling passes through.
        assert_eq!(
            t("web --http :0 cpu.pb.gz").unwrap(),
            ["web", "--http", ":0", "cpu.pb.gz"]
        );
        assert!(t("-web cpu.pb.gz").unwrap_err().contains("sonde web"));
        assert!(t("-svg cpu.pb.gz").unwrap_err().contains("flame"));
        assert_eq!(
            t("-top -seconds 30 http://h/debug/pprof/profile").unwrap(),
            ["top", "--seconds", "30", "http://h/debug/pprof/profile"]
        );
        assert!(t("-tls_cert c.pem http://h/").unwrap_err().contains("curl"));
        assert!(
            t("-top -list x cpu.pb.gz")
                .unwrap_err()
                .contains("one report at a time")
        );
        assert!(t("-list").unwrap_err().contains("needs a regular expression"));
        assert!(t("-top -noinlines=maybe cpu").unwrap_err().contains("true or false"));
    }
}
